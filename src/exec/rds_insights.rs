//! `rds performance-insights`: what the database spends its time on — the
//! top SQL statements by load and the wait events — through the Performance
//! Insights API (`pi:DescribeDimensionKeys`), so "top SQL identified" is a
//! read rather than a trip to the console.
//!
//! ````markdown
//! ```rds {name=top-sql}
//! action: performance-insights
//! instance: {{ db_instance }}
//! since: 1h
//! ```
//! ````

use std::time::Duration;

use aws_sdk_pi::primitives::DateTime;
use aws_sdk_pi::types::{DimensionGroup, ServiceType};
use serde_json::{Value, json};

use super::aws_step::{Failure, Fields, Reach, Shown, call, table};
use crate::aws::Aws;
use crate::clock;

/// Statements and wait events kept, by load.
const TOP: i32 = 10;

/// One key's dimensions (`db.sql_tokenized.statement`, …) and its load.
type Keys = Vec<(serde_json::Map<String, Value>, f64)>;

pub fn performance_insights(
  run: &Reach,
  aws: &Aws,
  instance: &str,
  since: Duration,
) -> Result<(Fields, Shown), Failure> {
  let rds = aws.client(aws_sdk_rds::Client::new);
  let described = call(
    run,
    aws,
    "rds:DescribeDBInstances",
    rds
      .describe_db_instances()
      .db_instance_identifier(instance)
      .send(),
  )?;
  let db = described
    .db_instances()
    .first()
    .ok_or_else(|| format!("rds:DescribeDBInstances: no instance {instance}"))?;
  let mut fields = Fields::new();
  fields.insert("instance".into(), Value::String(instance.to_string()));
  // AWS always says whether it is on; an emulator that does not say is asked.
  let enabled = db.performance_insights_enabled() != Some(false);
  fields.insert("enabled".into(), Value::Bool(enabled));
  let resource = db.dbi_resource_id().unwrap_or_default();
  if !enabled || resource.is_empty() {
    fields.insert("top_sql".into(), Value::Array(Vec::new()));
    fields.insert("wait_events".into(), Value::Array(Vec::new()));
    let shown = format!(
      "Performance Insights is off for {instance}: enable it to see the top SQL and wait events\n"
    );
    return Ok((fields, shown.into()));
  }
  let end = clock::now().seconds();
  let start = end - i64::try_from(since.as_secs()).unwrap_or(i64::MAX / 2);
  let keys = |group: &str| -> Result<Keys, Failure> {
    let answer = call(
      run,
      aws,
      "pi:DescribeDimensionKeys",
      aws
        .client(aws_sdk_pi::Client::new)
        .describe_dimension_keys()
        .service_type(ServiceType::Rds)
        .identifier(resource)
        .start_time(DateTime::from_secs(start))
        .end_time(DateTime::from_secs(end))
        .metric("db.load.avg")
        .group_by(
          DimensionGroup::builder()
            .group(group)
            .limit(TOP)
            .build()
            .map_err(|e| format!("pi:DescribeDimensionKeys: {e}"))?,
        )
        .send(),
    )?;
    Ok(
      answer
        .keys()
        .iter()
        .map(|k| {
          let dimensions = k
            .dimensions()
            .map(|d| {
              d.iter()
                .map(|(name, value)| (name.clone(), Value::String(value.clone())))
                .collect()
            })
            .unwrap_or_default();
          (dimensions, k.total().unwrap_or(0.0))
        })
        .collect(),
    )
  };
  let sql = keys("db.sql_tokenized")?;
  let waits = keys("db.wait_event")?;
  let share = |load: f64, all: &Keys| {
    let total: f64 = all.iter().map(|(_, l)| l).sum();
    if total > 0.0 {
      load / total * 100.0
    } else {
      0.0
    }
  };
  let text = |d: &serde_json::Map<String, Value>, key: &str| {
    d.get(key)
      .and_then(Value::as_str)
      .unwrap_or("-")
      .to_string()
  };
  let mut sql_table = table(["statement", "load (avg active sessions)", "share"]);
  let top_sql: Vec<Value> = sql
    .iter()
    .map(|(d, load)| {
      let statement = text(d, "db.sql_tokenized.statement");
      let part = share(*load, &sql);
      sql_table.add_row([statement.clone(), format!("{load:.2}"), format!("{part:.0} %")]);
      json!({"statement": statement, "id": d.get("db.sql_tokenized.id"), "load": load, "share_percent": part})
    })
    .collect();
  let mut wait_table = table(["wait event", "type", "load", "share"]);
  let wait_events: Vec<Value> = waits
    .iter()
    .map(|(d, load)| {
      let (name, kind) = (text(d, "db.wait_event.name"), text(d, "db.wait_event.type"));
      let part = share(*load, &waits);
      wait_table.add_row([
        name.clone(),
        kind.clone(),
        format!("{load:.2}"),
        format!("{part:.0} %"),
      ]);
      json!({"name": name, "type": kind, "load": load, "share_percent": part})
    })
    .collect();
  let summary = match (top_sql.first(), wait_events.first()) {
    (Some(sql), Some(wait)) => format!(
      "top statement: {:.0} % of the load; top wait: {} ({:.0} %)\n",
      sql["share_percent"].as_f64().unwrap_or(0.0),
      wait["name"].as_str().unwrap_or("-"),
      wait["share_percent"].as_f64().unwrap_or(0.0)
    ),
    _ => format!(
      "no database load in the last {}\n",
      humantime::format_duration(since)
    ),
  };
  fields.insert("top_sql".into(), Value::Array(top_sql));
  fields.insert("wait_events".into(), Value::Array(wait_events));
  Ok((
    fields,
    Shown::default()
      .rows(sql_table)
      .rows(wait_table)
      .text(summary),
  ))
}
