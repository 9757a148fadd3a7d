//! `dynamodb autoscaling`: is auto scaling on for the table's (and its
//! indexes') read and write capacity, between what bounds, aiming at what.
//!
//! ````markdown
//! ```dynamodb {name=scaling}
//! action: autoscaling
//! table: {{ table }}
//! ```
//! ````

use aws_sdk_applicationautoscaling::types::{ScalableTarget, ServiceNamespace};
use serde_json::{Value, json};

use super::aws_step::{Failure, Fields, Reach, Shown, call, table};
use crate::aws::Aws;

/// The auto scaling targets of table `name` and its indexes.
pub(super) fn table_targets(
  run: &Reach,
  aws: &Aws,
  name: &str,
) -> Result<Vec<ScalableTarget>, Failure> {
  let scaling = aws.client(aws_sdk_applicationautoscaling::Client::new);
  let targets = call(
    run,
    aws,
    "application-autoscaling:DescribeScalableTargets",
    scaling
      .describe_scalable_targets()
      .service_namespace(ServiceNamespace::Dynamodb)
      .send(),
  )?;
  let prefix = format!("table/{name}");
  Ok(
    targets
      .scalable_targets()
      .iter()
      .filter(|t| t.resource_id() == prefix || t.resource_id().starts_with(&format!("{prefix}/")))
      .cloned()
      .collect(),
  )
}

pub fn autoscaling(run: &Reach, name: &str) -> Result<(Fields, Shown), Failure> {
  let aws = run.aws.get()?;
  let scaling = aws.client(aws_sdk_applicationautoscaling::Client::new);
  let targets = table_targets(run, aws, name)?;
  let policies = call(
    run,
    aws,
    "application-autoscaling:DescribeScalingPolicies",
    scaling
      .describe_scaling_policies()
      .service_namespace(ServiceNamespace::Dynamodb)
      .send(),
  )?;
  let prefix = format!("table/{name}");
  let mut table = table(["resource", "dimension", "min", "max", "target utilisation"]);
  let rows: Vec<Value> = targets
    .iter()
    .map(|t| {
      let dimension = t.scalable_dimension().as_str();
      let target_value = policies
        .scaling_policies()
        .iter()
        .find(|p| {
          p.resource_id() == t.resource_id() && p.scalable_dimension().as_str() == dimension
        })
        .and_then(|p| p.target_tracking_scaling_policy_configuration())
        .map(|c| c.target_value());
      table.add_row([
        t.resource_id().to_string(),
        dimension.to_string(),
        t.min_capacity().to_string(),
        t.max_capacity().to_string(),
        target_value.map_or("-".into(), |v| format!("{v:.0} %")),
      ]);
      json!({
        "resource": t.resource_id(),
        "dimension": dimension,
        "min": t.min_capacity(),
        "max": t.max_capacity(),
        "target_utilisation": target_value,
      })
    })
    .collect();
  let covers = |unit: &str| {
    rows.iter().any(|r| {
      r["resource"] == prefix.as_str()
        && r["dimension"]
          .as_str()
          .is_some_and(|d| d.ends_with(&format!("table:{unit}CapacityUnits")))
    })
  };
  let (read, write) = (covers("Read"), covers("Write"));
  let summary = match (read, write) {
    (true, true) => "auto scaling on for the table's read and write capacity\n".to_string(),
    (false, false) => "auto scaling is off for the table\n".to_string(),
    (true, false) => "auto scaling on for reads only\n".to_string(),
    (false, true) => "auto scaling on for writes only\n".to_string(),
  };
  let mut fields = Fields::new();
  fields.insert("table".into(), Value::String(name.to_string()));
  fields.insert("read".into(), Value::Bool(read));
  fields.insert("write".into(), Value::Bool(write));
  fields.insert("enabled".into(), Value::Bool(read && write));
  fields.insert("targets".into(), Value::Array(rows));
  Ok((fields, Shown::default().rows(table).text(summary)))
}
