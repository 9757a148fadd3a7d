//! `dynamodb`: a table's capacity and status.
//!
//! ````markdown
//! ```dynamodb
//! action: describe
//! table: {{ customer }}-orders
//! ```
//! ````

use aws_sdk_applicationautoscaling::types::ServiceNamespace;
use serde_json::{Value, json};

use super::action::{Execute, Output, StepRun};
use super::aws_step::{Failure, Fields, finish, table, wait};
use super::body::Body;
use crate::aws::explain;

pub struct DynamoDb;

impl Execute for DynamoDb {
  fn execute(&self, run: &mut StepRun) -> Output {
    finish(run, dispatch(run))
  }
}

fn dispatch(run: &StepRun) -> Result<(Fields, String), Failure> {
  let body = Body::parse(
    "dynamodb",
    run.text,
    &[
      "action", "table", "index", "read", "write", "wait", "timeout",
    ],
  )?;
  match body.required("dynamodb", "action")?.as_str() {
    "describe" => describe(run, &body.required("dynamodb", "table")?),
    other => {
      Err(format!("`dynamodb`: `action: {other}` cannot run in this version; use describe").into())
    }
  }
}

fn describe(run: &StepRun, name: &str) -> Result<(Fields, String), Failure> {
  let aws = run.aws.get()?;
  let client = aws_sdk_dynamodb::Client::new(&aws.config);
  let answer = wait(run, aws, client.describe_table().table_name(name).send())?
    .map_err(|e| explain("dynamodb:DescribeTable", &e))?;
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
  let scaling = aws_sdk_applicationautoscaling::Client::new(&aws.config);
  let targets = wait(
    run,
    aws,
    scaling
      .describe_scalable_targets()
      .service_namespace(ServiceNamespace::Dynamodb)
      .send(),
  )?
  .map_err(|e| explain("application-autoscaling:DescribeScalableTargets", &e))?;
  let prefix = format!("table/{name}");
  let autoscaling: Vec<Value> = targets
    .scalable_targets()
    .iter()
    .filter(|s| s.resource_id() == prefix || s.resource_id().starts_with(&format!("{prefix}/")))
    .map(|s| {
      json!({
        "resource": s.resource_id(),
        "dimension": s.scalable_dimension().as_str(),
        "min": s.min_capacity(),
        "max": s.max_capacity(),
      })
    })
    .collect();
  let shown = format!(
    "{table}\n{billing} · {} items · {} auto scaling target(s)\n",
    t.item_count().unwrap_or(0),
    autoscaling.len()
  );
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
