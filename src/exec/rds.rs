//! `rds`: the database's state as evidence — instances and their read
//! replicas, the latest backups against a maximum age, recent events.
//!
//! ````markdown
//! ```rds {name=database}
//! action: instances          # instances | snapshots | events | performance-insights
//! instance: {{ db_instance }} # one instance and its replicas (default: all)
//! ```
//! ````
//!
//! `snapshots` takes `max-age: 24h` (the latest backup must be younger);
//! `events` takes `since: 24h`.

use std::time::Duration;

use aws_sdk_cloudwatch::types::{Dimension, Statistic};
use aws_sdk_rds::primitives::DateTime;
use aws_sdk_rds::types::{DbInstance, SourceType};
use serde_json::{Value, json};

use super::action::{Execute, Output, StepRun};
use super::aws_step::{Failure, Fields, Reach, Shown, call, finish, table, time};
use super::body::Body;
use super::prefetch::Read;
use crate::aws::Aws;
use crate::check::parse_duration;
use crate::clock;
use crate::model::ActionKind;

pub struct Rds;

impl Execute for Rds {
  fn fields(&self) -> &'static [&'static str] {
    &[
      "all_available",
      "all_fresh",
      "count",
      "enabled",
      "events",
      "instance",
      "instances",
      "max_age",
      "stale",
      "top_sql",
      "wait_events",
    ]
  }

  fn check(&self, text: &str, _options: &[(String, String)]) -> Result<(), String> {
    Spec::parse(&Body::parse(ActionKind::Rds, text)?).map(|_| ())
  }

  fn read(&self) -> Option<Read> {
    Some(dispatch)
  }

  fn execute(&self, run: &mut StepRun) -> Output {
    let result = super::prefetch::read(run, dispatch);
    finish(run, result)
  }
}

enum Action {
  Instances,
  Snapshots { max_age: Option<Duration> },
  Events { since: Duration },
  PerformanceInsights { since: Duration },
}

struct Spec {
  action: Action,
  instance: Option<String>,
}

impl Spec {
  fn parse(body: &Body) -> Result<Self, String> {
    let duration = |key: &str| -> Result<Option<Duration>, String> {
      body
        .text(key)
        .map(|text| {
          parse_duration(&text)
            .ok_or_else(|| format!("`rds`: `{key}: {text}`: expected a duration such as 24h"))
        })
        .transpose()
    };
    let action = match body.required("action")?.as_str() {
      "instances" => Action::Instances,
      "snapshots" => Action::Snapshots {
        max_age: duration("max-age")?,
      },
      "events" => Action::Events {
        since: duration("since")?.unwrap_or(Duration::from_secs(24 * 3600)),
      },
      "performance-insights" => {
        body.required("instance")?;
        Action::PerformanceInsights {
          since: duration("since")?.unwrap_or(Duration::from_secs(3600)),
        }
      }
      other => return Err(body.unknown_action(other)),
    };
    Ok(Self {
      action,
      instance: body.text("instance"),
    })
  }
}

fn dispatch(run: &Reach) -> Result<(Fields, Shown), Failure> {
  let spec = Spec::parse(&Body::parse(ActionKind::Rds, run.text)?)?;
  let aws = run.aws.get()?;
  match spec.action {
    Action::Instances => instances(run, aws, spec.instance.as_deref()),
    Action::Snapshots { max_age } => snapshots(run, aws, spec.instance.as_deref(), max_age),
    Action::Events { since } => events(run, aws, spec.instance.as_deref(), since),
    Action::PerformanceInsights { since } => super::rds_insights::performance_insights(
      run,
      aws,
      spec.instance.as_deref().unwrap_or_default(),
      since,
    ),
  }
}

/// The named instance and its read replicas, or every instance.
fn describe(run: &Reach, aws: &Aws, instance: Option<&str>) -> Result<Vec<DbInstance>, Failure> {
  let rds = aws.client(aws_sdk_rds::Client::new);
  let all = call(
    run,
    aws,
    "rds:DescribeDBInstances",
    rds.describe_db_instances().send(),
  )?;
  let instances = all.db_instances().to_vec();
  let Some(name) = instance else {
    return Ok(instances);
  };
  let chosen: Vec<DbInstance> = instances
    .into_iter()
    .filter(|i| {
      i.db_instance_identifier() == Some(name)
        || i.read_replica_source_db_instance_identifier() == Some(name)
    })
    .collect();
  if chosen.is_empty() {
    return Err(format!("rds:DescribeDBInstances: no instance {name}").into());
  }
  Ok(chosen)
}

fn instances(run: &Reach, aws: &Aws, instance: Option<&str>) -> Result<(Fields, Shown), Failure> {
  let described = describe(run, aws, instance)?;
  let mut table = table([
    "instance",
    "status",
    "class",
    "multi-AZ",
    "storage",
    "engine",
    "replica of",
    "lag",
  ]);
  let mut rows = Vec::new();
  for db in &described {
    let id = db.db_instance_identifier().unwrap_or_default();
    let source = db.read_replica_source_db_instance_identifier();
    let lag = match source {
      Some(_) => replica_lag(run, aws, id)?,
      None => None,
    };
    table.add_row([
      id.to_string(),
      db.db_instance_status().unwrap_or("-").to_string(),
      db.db_instance_class().unwrap_or("-").to_string(),
      if db.multi_az().unwrap_or(false) {
        "yes"
      } else {
        "no"
      }
      .to_string(),
      db.allocated_storage()
        .map_or("-".into(), |s| format!("{s} GiB")),
      format!(
        "{} {}",
        db.engine().unwrap_or("-"),
        db.engine_version().unwrap_or("")
      ),
      source.unwrap_or("-").to_string(),
      lag.map_or("-".into(), |l| format!("{l:.0} s")),
    ]);
    rows.push(json!({
      "instance": id,
      "status": db.db_instance_status(),
      "available": db.db_instance_status() == Some("available"),
      "class": db.db_instance_class(),
      "multi_az": db.multi_az(),
      "storage_gb": db.allocated_storage(),
      "engine": db.engine(),
      "engine_version": db.engine_version(),
      "replica_of": source,
      "replicas": db.read_replica_db_instance_identifiers(),
      "replica_lag_seconds": lag,
    }));
  }
  let unavailable: Vec<&str> = rows
    .iter()
    .filter(|r| r["available"] == false)
    .filter_map(|r| r["instance"].as_str())
    .collect();
  let summary = if unavailable.is_empty() {
    format!("{} instance(s), all available\n", rows.len())
  } else {
    format!("not available: {}\n", unavailable.join(", "))
  };
  let mut fields = Fields::new();
  fields.insert("all_available".into(), Value::Bool(unavailable.is_empty()));
  fields.insert("instances".into(), Value::Array(rows));
  Ok((fields, Shown::default().table(table).text(summary)))
}

/// A replica's lag: the highest `ReplicaLag` of the last 15 minutes, if
/// CloudWatch has any.
fn replica_lag(run: &Reach, aws: &Aws, id: &str) -> Result<Option<f64>, Failure> {
  let cloudwatch = aws.client(aws_sdk_cloudwatch::Client::new);
  let end = clock::now().seconds();
  let answer = call(
    run,
    aws,
    "cloudwatch:GetMetricStatistics",
    cloudwatch
      .get_metric_statistics()
      .namespace("AWS/RDS")
      .metric_name("ReplicaLag")
      .dimensions(
        Dimension::builder()
          .name("DBInstanceIdentifier")
          .value(id)
          .build(),
      )
      .start_time(DateTime::from_secs(end - 900))
      .end_time(DateTime::from_secs(end))
      .period(60)
      .statistics(Statistic::Maximum)
      .send(),
  )?;
  Ok(
    answer
      .datapoints()
      .iter()
      .filter_map(|d| d.maximum())
      .reduce(f64::max),
  )
}

fn snapshots(
  run: &Reach,
  aws: &Aws,
  instance: Option<&str>,
  max_age: Option<Duration>,
) -> Result<(Fields, Shown), Failure> {
  let rds = aws.client(aws_sdk_rds::Client::new);
  let primaries: Vec<String> = describe(run, aws, instance)?
    .iter()
    .filter(|db| db.read_replica_source_db_instance_identifier().is_none())
    .filter_map(|db| db.db_instance_identifier().map(str::to_string))
    .collect();
  let now = clock::now().seconds();
  let mut table = table(["instance", "latest automated", "latest manual", "age"]);
  let mut rows = Vec::new();
  let mut stale = Vec::new();
  for id in &primaries {
    let answer = call(
      run,
      aws,
      "rds:DescribeDBSnapshots",
      rds
        .describe_db_snapshots()
        .db_instance_identifier(id)
        .send(),
    )?;
    let latest = |kind: &str| {
      answer
        .db_snapshots()
        .iter()
        .filter(|s| s.snapshot_type() == Some(kind))
        .filter_map(|s| s.snapshot_create_time().map(|t| (t.secs(), s)))
        .max_by_key(|(t, _)| *t)
    };
    let automated = latest("automated");
    let manual = latest("manual");
    let newest = automated.iter().chain(manual.iter()).map(|(t, _)| *t).max();
    let age = newest.map(|t| u64::try_from(now - t).unwrap_or(0));
    let fresh = match (max_age, age) {
      (Some(max), Some(age)) => age <= max.as_secs(),
      (Some(_), None) => false,
      (None, _) => true,
    };
    if !fresh {
      stale.push(Value::String(id.clone()));
    }
    let when = |s: Option<&(i64, &aws_sdk_rds::types::DbSnapshot)>| {
      s.and_then(|(_, s)| time(s.snapshot_create_time()).as_str().map(str::to_string))
    };
    table.add_row([
      id.clone(),
      when(automated.as_ref()).unwrap_or_else(|| "none".into()),
      when(manual.as_ref()).unwrap_or_else(|| "none".into()),
      age.map_or("no backup".into(), |a| {
        humantime::format_duration(Duration::from_secs(a / 60 * 60)).to_string()
      }),
    ]);
    rows.push(json!({
      "instance": id,
      "latest_automated": when(automated.as_ref()),
      "latest_manual": when(manual.as_ref()),
      "age_seconds": age,
      "fresh": fresh,
    }));
  }
  let summary = match (max_age, stale.is_empty()) {
    (Some(max), true) => format!(
      "every instance has a backup younger than {}\n",
      humantime::format_duration(max)
    ),
    (Some(max), false) => format!(
      "no backup younger than {}: {}\n",
      humantime::format_duration(max),
      stale
        .iter()
        .filter_map(Value::as_str)
        .collect::<Vec<_>>()
        .join(", ")
    ),
    (None, _) => format!("{} instance(s)\n", rows.len()),
  };
  let mut fields = Fields::new();
  fields.insert(
    "max_age".into(),
    max_age.map_or(Value::Null, |m| {
      Value::String(humantime::format_duration(m).to_string())
    }),
  );
  fields.insert("all_fresh".into(), Value::Bool(stale.is_empty()));
  fields.insert("stale".into(), Value::Array(stale));
  fields.insert("instances".into(), Value::Array(rows));
  Ok((fields, Shown::default().table(table).text(summary)))
}

fn events(
  run: &Reach,
  aws: &Aws,
  instance: Option<&str>,
  since: Duration,
) -> Result<(Fields, Shown), Failure> {
  let rds = aws.client(aws_sdk_rds::Client::new);
  let minutes = i32::try_from(since.as_secs() / 60).unwrap_or(i32::MAX);
  let mut request = rds
    .describe_events()
    .source_type(SourceType::DbInstance)
    .duration(minutes);
  if let Some(id) = instance {
    request = request.source_identifier(id);
  }
  let answer = call(run, aws, "rds:DescribeEvents", request.send())?;
  let mut table = table(["time (UTC)", "instance", "message"]);
  let rows: Vec<Value> = answer
    .events()
    .iter()
    .map(|e| {
      table.add_row([
        time(e.date()).as_str().unwrap_or("-").to_string(),
        e.source_identifier().unwrap_or("-").to_string(),
        e.message().unwrap_or("-").to_string(),
      ]);
      json!({
        "at": time(e.date()),
        "instance": e.source_identifier(),
        "message": e.message(),
        "categories": e.event_categories(),
      })
    })
    .collect();
  let window = humantime::format_duration(since);
  let shown = if rows.is_empty() {
    Shown::from(format!("no events in the last {window}\n"))
  } else {
    Shown::default()
      .table(table)
      .text(format!("{} event(s) in the last {window}\n", rows.len()))
  };
  let mut fields = Fields::new();
  fields.insert("count".into(), rows.len().into());
  fields.insert("events".into(), Value::Array(rows));
  Ok((fields, shown))
}
