//! `elb`: the health of a target group's targets.
//!
//! ````markdown
//! ```elb
//! action: targets
//! target-group: {{ customer }}-api     # name or ARN
//! ```
//! ````

use serde_json::{Value, json};

use super::action::{Execute, Output, StepRun};
use super::aws_step::{Failure, Fields, Shown, finish, table, wait};
use super::body::Body;
use crate::aws::explain;
use crate::model::ActionKind;

pub struct Elb;

impl Execute for Elb {
  fn check(&self, text: &str, _options: &[(String, String)]) -> Result<(), String> {
    target_group(&Body::parse(ActionKind::Elb, text)?).map(|_| ())
  }

  fn execute(&self, run: &mut StepRun) -> Output {
    finish(run, targets(run))
  }
}

/// The target group of `action: targets`, the one action.
fn target_group(body: &Body) -> Result<String, String> {
  match body.required("action")?.as_str() {
    "targets" => body.required("target-group"),
    other => Err(body.unknown_action(other)),
  }
}

fn targets(run: &StepRun) -> Result<(Fields, Shown), Failure> {
  let group = target_group(&Body::parse(ActionKind::Elb, run.text)?)?;
  let aws = run.aws.get()?;
  let client = aws.client(aws_sdk_elasticloadbalancingv2::Client::new);
  let arn = if group.starts_with("arn:") {
    group.clone()
  } else {
    let found = wait(
      run,
      aws,
      client.describe_target_groups().names(&group).send(),
    )?
    .map_err(|e| explain("elbv2:DescribeTargetGroups", &e))?;
    found
      .target_groups()
      .first()
      .and_then(|g| g.target_group_arn())
      .ok_or_else(|| format!("elbv2:DescribeTargetGroups: no target group named {group}"))?
      .to_string()
  };
  let health = wait(
    run,
    aws,
    client
      .describe_target_health()
      .target_group_arn(&arn)
      .send(),
  )?
  .map_err(|e| explain("elbv2:DescribeTargetHealth", &e))?;
  let mut table = table(["target", "port", "state", "reason", "description"]);
  let mut healthy = 0;
  let rows: Vec<Value> = health
    .target_health_descriptions()
    .iter()
    .map(|d| {
      let target = d.target();
      let state = d
        .target_health()
        .and_then(|h| h.state())
        .map_or("unknown", |s| s.as_str());
      let reason = d
        .target_health()
        .and_then(|h| h.reason())
        .map(|r| r.as_str());
      let description = d.target_health().and_then(|h| h.description());
      healthy += usize::from(state == "healthy");
      table.add_row([
        target.and_then(|t| t.id()).unwrap_or("?").to_string(),
        target
          .and_then(|t| t.port())
          .map_or("-".into(), |p| p.to_string()),
        state.to_string(),
        reason.unwrap_or("-").to_string(),
        description.unwrap_or("-").to_string(),
      ]);
      json!({
        "id": target.and_then(|t| t.id()),
        "port": target.and_then(|t| t.port()),
        "state": state,
        "reason": reason,
        "description": description,
      })
    })
    .collect();
  let shown = Shown::default()
    .table(table)
    .text(format!("{healthy}/{} targets healthy\n", rows.len()));
  let mut fields = Fields::new();
  fields.insert("target_group".into(), Value::String(arn));
  fields.insert("healthy".into(), healthy.into());
  fields.insert("total".into(), rows.len().into());
  fields.insert("targets".into(), Value::Array(rows));
  Ok((fields, shown))
}
