//! `dynamodb`: a table's capacity and status.
//!
//! ````markdown
//! ```dynamodb
//! action: describe
//! table: {{ customer }}-orders
//! ```
//! ````

use serde_json::{Value, json};

use super::action::{Execute, Output, StepRun};
use super::aws_step::{Failure, Fields, Reach, Shown, call, change_preview, finish, table, wait};
use super::body::Body;
use super::prefetch::Read;
use crate::model::ActionKind;

pub struct DynamoDb;

impl Execute for DynamoDb {
  fn fields(&self) -> &'static [&'static str] {
    &[
      "active",
      "after",
      "autoscaling",
      "before",
      "billing_mode",
      "enabled",
      "index",
      "indexes",
      "insights_status",
      "item_count",
      "read",
      "rules",
      "table",
      "table_status",
      "targets",
      "top",
      "wait_ms",
      "write",
    ]
  }

  fn check(&self, text: &str, _options: &[(String, String)]) -> Result<(), String> {
    check(text)
  }

  fn preview(&self, run: &StepRun) -> Option<String> {
    let body = Body::parse(ActionKind::DynamoDb, run.text).ok()?;
    let request = Capacity::from_body(&body).ok()?;
    let aws = run.aws.get().ok()?;
    let client = aws.client(aws_sdk_dynamodb::Client::new);
    let (read, write, _) = match request.current(&run.reach(), aws, &client) {
      Ok(now) => now,
      Err(Failure::Message(e)) => return Some(format!("   cannot show the change: {e}\n")),
      Err(Failure::Cut(_)) => return None,
    };
    let (new_read, new_write) = (request.read.unwrap_or(read), request.write.unwrap_or(write));
    let before = request.describe(read, write);
    let after = request.describe(new_read, new_write);
    Some(change_preview(aws, &before, &after))
  }

  fn read(&self) -> Option<Read> {
    Some(dispatch)
  }

  fn execute(&self, run: &mut StepRun) -> Output {
    let result = super::prefetch::read(run, dispatch);
    finish(run, result)
  }
}

/// New provisioned capacity for a table or one of its global indexes.
struct Capacity {
  table: String,
  index: Option<String>,
  read: Option<i64>,
  write: Option<i64>,
  wait: bool,
  timeout: std::time::Duration,
}

impl Capacity {
  fn from_body(body: &Body) -> Result<Self, String> {
    let units = |key: &str| -> Result<Option<i64>, String> {
      body
        .text(key)
        .map(|v| {
          v.parse::<i64>().ok().filter(|n| *n > 0).ok_or(format!(
            "`dynamodb`: `{key}: {v}`: expected a positive number of units"
          ))
        })
        .transpose()
    };
    let (read, write) = (units("read")?, units("write")?);
    if read.is_none() && write.is_none() {
      return Err("`dynamodb`: `capacity` needs `read`, `write` or both".into());
    }
    let timeout = match body.text("timeout") {
      Some(t) => crate::check::parse_duration(&t)
        .ok_or_else(|| format!("`dynamodb`: `timeout: {t}`: expected a duration such as 5m"))?,
      None => std::time::Duration::from_secs(600),
    };
    Ok(Self {
      table: body.required("table")?,
      index: body.text("index"),
      read,
      write,
      wait: body.text("wait").as_deref() != Some("false"),
      timeout,
    })
  }

  fn describe(&self, read: i64, write: i64) -> String {
    let target = match &self.index {
      Some(index) => format!("table: {}\nindex: {index}\n", self.table),
      None => format!("table: {}\n", self.table),
    };
    format!("{target}read: {read} RCU\nwrite: {write} WCU\n")
  }

  /// Current (read, write) of the table or index, and whether it is ACTIVE.
  fn current(
    &self,
    run: &Reach,
    aws: &crate::aws::Aws,
    client: &aws_sdk_dynamodb::Client,
  ) -> Result<(i64, i64, bool), Failure> {
    let answer = call(
      run,
      aws,
      "dynamodb:DescribeTable",
      client.describe_table().table_name(&self.table).send(),
    )?;
    let t = answer
      .table()
      .ok_or_else(|| format!("dynamodb:DescribeTable: no description for {}", self.table))?;
    let table_active = t.table_status().is_some_and(|s| s.as_str() == "ACTIVE");
    let throughput = match &self.index {
      None => (t.provisioned_throughput(), table_active),
      Some(name) => {
        let index = t
          .global_secondary_indexes()
          .iter()
          .find(|g| g.index_name() == Some(name.as_str()))
          .ok_or_else(|| format!("dynamodb: table {} has no global index {name}", self.table))?;
        let active = table_active && index.index_status().is_some_and(|s| s.as_str() == "ACTIVE");
        (index.provisioned_throughput(), active)
      }
    };
    let (p, active) = throughput;
    let read = p.and_then(|p| p.read_capacity_units()).unwrap_or(0);
    let write = p.and_then(|p| p.write_capacity_units()).unwrap_or(0);
    Ok((read, write, active))
  }
}

fn capacity(run: &Reach, body: &Body) -> Result<(Fields, Shown), Failure> {
  use aws_sdk_dynamodb::types::{
    GlobalSecondaryIndexUpdate, ProvisionedThroughput, UpdateGlobalSecondaryIndexAction,
  };
  let request = Capacity::from_body(body)?;
  let aws = run.aws.get()?;
  let client = aws.client(aws_sdk_dynamodb::Client::new);
  let (read, write, _) = request.current(run, aws, &client)?;
  let (new_read, new_write) = (request.read.unwrap_or(read), request.write.unwrap_or(write));
  let throughput = ProvisionedThroughput::builder()
    .read_capacity_units(new_read)
    .write_capacity_units(new_write)
    .build()
    .map_err(|e| format!("dynamodb: {e}"))?;
  let mut update = client.update_table().table_name(&request.table);
  update = match &request.index {
    None => update.provisioned_throughput(throughput),
    Some(index) => update.global_secondary_index_updates(
      GlobalSecondaryIndexUpdate::builder()
        .update(
          UpdateGlobalSecondaryIndexAction::builder()
            .index_name(index)
            .provisioned_throughput(throughput)
            .build()
            .map_err(|e| format!("dynamodb: {e}"))?,
        )
        .build(),
    ),
  };
  call(run, aws, "dynamodb:UpdateTable", update.send())?;
  let started = std::time::Instant::now();
  let (mut now_read, mut now_write, mut active) = request.current(run, aws, &client)?;
  while request.wait && !active {
    if started.elapsed() > request.timeout {
      return Err(
        format!(
          "{} did not become ACTIVE within {}",
          request.table,
          humantime::format_duration(request.timeout)
        )
        .into(),
      );
    }
    wait(run, aws, async {
      tokio::time::sleep(std::time::Duration::from_secs(2)).await
    })?;
    (now_read, now_write, active) = request.current(run, aws, &client)?;
  }
  let target = request.index.clone().map_or_else(
    || request.table.clone(),
    |i| format!("{}/{i}", request.table),
  );
  let shown = Shown::from(format!(
    "   {target}: read {read} → {now_read} RCU, write {write} → {now_write} WCU{}\n",
    if active { ", ACTIVE" } else { "" }
  ));
  let mut fields = Fields::new();
  fields.insert("table".into(), Value::String(request.table));
  fields.insert(
    "index".into(),
    request.index.map_or(Value::Null, Value::String),
  );
  fields.insert("before".into(), json!({"read": read, "write": write}));
  fields.insert(
    "after".into(),
    json!({"read": now_read, "write": now_write}),
  );
  fields.insert("active".into(), Value::Bool(active));
  fields.insert(
    "wait_ms".into(),
    json!(started.elapsed().as_millis() as u64),
  );
  Ok((fields, shown))
}

/// What `check` validates: the same parse `dispatch` runs with.
fn check(text: &str) -> Result<(), String> {
  let body = Body::parse(ActionKind::DynamoDb, text)?;
  match body.required("action")?.as_str() {
    "describe" | "contributor-insights" | "autoscaling" => body.required("table").map(|_| ()),
    "capacity" => Capacity::from_body(&body).map(|_| ()),
    other => Err(body.unknown_action(other)),
  }
}

fn dispatch(run: &Reach) -> Result<(Fields, Shown), Failure> {
  let body = Body::parse(ActionKind::DynamoDb, run.text)?;
  match body.required("action")?.as_str() {
    "describe" => describe(run, &body.required("table")?),
    "contributor-insights" => super::dynamodb_insights::contributor_insights(
      run,
      &body.required("table")?,
      body.text("index").as_deref(),
    ),
    "autoscaling" => super::dynamodb_scaling::autoscaling(run, &body.required("table")?),
    "capacity" => capacity(run, &body),
    other => Err(body.unknown_action(other).into()),
  }
}

fn describe(run: &Reach, name: &str) -> Result<(Fields, Shown), Failure> {
  let aws = run.aws.get()?;
  let client = aws.client(aws_sdk_dynamodb::Client::new);
  let answer = call(
    run,
    aws,
    "dynamodb:DescribeTable",
    client.describe_table().table_name(name).send(),
  )?;
  let Some(t) = answer.table() else {
    return Err(format!("dynamodb:DescribeTable: no description for {name}").into());
  };
  let billing = t
    .billing_mode_summary()
    .and_then(|b| b.billing_mode())
    .map_or("PROVISIONED", |m| m.as_str())
    .to_string();
  let capacity = |p: Option<&aws_sdk_dynamodb::types::ProvisionedThroughputDescription>| {
    (
      p.and_then(|p| p.read_capacity_units()),
      p.and_then(|p| p.write_capacity_units()),
    )
  };
  let mut table = table(["table / index", "status", "read (RCU)", "write (WCU)"]);
  let show = |n: Option<i64>| n.map_or("-".to_string(), |n| n.to_string());
  let (read, write) = capacity(t.provisioned_throughput());
  let status = t.table_status().map_or("", |s| s.as_str()).to_string();
  table.add_row([name.to_string(), status.clone(), show(read), show(write)]);
  let indexes: Vec<Value> = t
    .global_secondary_indexes()
    .iter()
    .map(|g| {
      let (r, w) = capacity(g.provisioned_throughput());
      let index_status = g.index_status().map_or("", |s| s.as_str());
      table.add_row([
        format!("  {}", g.index_name().unwrap_or("?")),
        index_status.to_string(),
        show(r),
        show(w),
      ]);
      json!({"name": g.index_name(), "status": index_status, "read": r, "write": w})
    })
    .collect();
  // Auto scaling targets live in Application Auto Scaling, keyed by resource id.
  let autoscaling: Vec<Value> = super::dynamodb_scaling::table_targets(run, aws, name)?
    .iter()
    .map(|s| {
      json!({
        "resource": s.resource_id(),
        "dimension": s.scalable_dimension().as_str(),
        "min": s.min_capacity(),
        "max": s.max_capacity(),
      })
    })
    .collect();
  let shown = Shown::default().table(table).text(format!(
    "{billing} · {} items · {} auto scaling target(s)\n",
    t.item_count().unwrap_or(0),
    autoscaling.len()
  ));
  let mut fields = Fields::new();
  fields.insert("table".into(), Value::String(name.to_string()));
  fields.insert("table_status".into(), Value::String(status));
  fields.insert("billing_mode".into(), Value::String(billing));
  fields.insert("read".into(), json!(read));
  fields.insert("write".into(), json!(write));
  fields.insert("item_count".into(), json!(t.item_count()));
  fields.insert("indexes".into(), Value::Array(indexes));
  fields.insert("autoscaling".into(), Value::Array(autoscaling));
  Ok((fields, shown))
}
