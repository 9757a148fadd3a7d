//! `ecs deployments` and `ecs secrets`: evidence for correlation and for a
//! task definition's references.
//!
//! ````markdown
//! ```ecs {name=deployments}
//! action: deployments        # or: secrets
//! cluster: {{ cluster }}
//! service: {{ service }}
//! ```
//! ````
//!
//! `deployments` lists the service's deployments (what changed when) and
//! its recent events; `secrets` checks that every secret and parameter the
//! task definition references exists (Secrets Manager `DescribeSecret`,
//! SSM `DescribeParameters`): values are never fetched or shown.

use aws_sdk_ssm::types::ParameterStringFilter;
use serde_json::{Value, json};

use super::aws_step::{Failure, Fields, Reach, Shown, call, table, time, wait};
use crate::aws::{Aws, explain};

/// The one service `name` of `cluster`, described.
fn service(
  run: &Reach,
  aws: &Aws,
  cluster: &str,
  name: &str,
) -> Result<aws_sdk_ecs::types::Service, Failure> {
  let ecs = aws.client(aws_sdk_ecs::Client::new);
  let described = call(
    run,
    aws,
    "ecs:DescribeServices",
    ecs
      .describe_services()
      .cluster(cluster)
      .services(name)
      .send(),
  )?;
  described
    .services()
    .first()
    .cloned()
    .ok_or_else(|| format!("ecs:DescribeServices: no service {name} in cluster {cluster}").into())
}

/// Events shown and kept, newest first.
const EVENTS: usize = 20;

pub fn deployments(run: &Reach, cluster: &str, name: &str) -> Result<(Fields, Shown), Failure> {
  let aws = run.aws.get()?;
  let svc = service(run, aws, cluster, name)?;
  let mut table = table([
    "deployment",
    "status",
    "task definition",
    "desired",
    "running",
    "rollout",
    "created (UTC)",
  ]);
  let deployments: Vec<Value> = svc
    .deployments()
    .iter()
    .map(|d| {
      let definition = d
        .task_definition()
        .map(|t| t.rsplit('/').next().unwrap_or(t));
      table.add_row([
        d.id().unwrap_or("-").to_string(),
        d.status().unwrap_or("-").to_string(),
        definition.unwrap_or("-").to_string(),
        d.desired_count().to_string(),
        d.running_count().to_string(),
        d.rollout_state().map_or("-", |r| r.as_str()).to_string(),
        time(d.created_at()).as_str().unwrap_or("-").to_string(),
      ]);
      json!({
        "id": d.id(),
        "status": d.status(),
        "task_definition": definition,
        "desired": d.desired_count(),
        "running": d.running_count(),
        "pending": d.pending_count(),
        "failed_tasks": d.failed_tasks(),
        "rollout_state": d.rollout_state().map(|r| r.as_str()),
        "created_at": time(d.created_at()),
        "updated_at": time(d.updated_at()),
      })
    })
    .collect();
  let events: Vec<Value> = svc
    .events()
    .iter()
    .take(EVENTS)
    .map(|e| json!({"at": time(e.created_at()), "message": e.message()}))
    .collect();
  let mut text = String::new();
  for event in &events {
    text.push_str(&format!(
      "  {} {}\n",
      event["at"].as_str().unwrap_or("-"),
      event["message"].as_str().unwrap_or("")
    ));
  }
  let summary = format!(
    "{} deployment(s); {} recent event(s)\n",
    deployments.len(),
    events.len()
  );
  let mut fields = Fields::new();
  fields.insert("service".into(), Value::String(name.to_string()));
  fields.insert("in_progress".into(), Value::Bool(deployments.len() > 1));
  fields.insert("deployments".into(), Value::Array(deployments));
  fields.insert("events".into(), Value::Array(events));
  Ok((
    fields,
    Shown::default().table(table).text(summary).text(text),
  ))
}

/// The task definition the service `name` of `cluster` runs now, and its ARN.
pub(super) fn current_definition(
  run: &Reach,
  aws: &Aws,
  cluster: &str,
  name: &str,
) -> Result<(String, Option<aws_sdk_ecs::types::TaskDefinition>), Failure> {
  let definition = service(run, aws, cluster, name)?
    .task_definition()
    .unwrap_or_default()
    .to_string();
  let ecs = aws.client(aws_sdk_ecs::Client::new);
  let described = call(
    run,
    aws,
    "ecs:DescribeTaskDefinition",
    ecs
      .describe_task_definition()
      .task_definition(&definition)
      .send(),
  )?;
  Ok((definition, described.task_definition().cloned()))
}

pub fn secrets(run: &Reach, cluster: &str, name: &str) -> Result<(Fields, Shown), Failure> {
  let aws = run.aws.get()?;
  let (definition, described) = current_definition(run, aws, cluster, name)?;
  let references: Vec<(String, String, String)> = described
    .as_ref()
    .map(|d| {
      d.container_definitions()
        .iter()
        .flat_map(|c| {
          c.secrets().iter().map(|s| {
            (
              c.name().unwrap_or("?").to_string(),
              s.name().to_string(),
              s.value_from().to_string(),
            )
          })
        })
        .collect()
    })
    .unwrap_or_default();
  let secrets_manager = aws.client(aws_sdk_secretsmanager::Client::new);
  let ssm = aws.client(aws_sdk_ssm::Client::new);
  let mut table = table(["container", "variable", "from", "exists"]);
  let mut rows = Vec::new();
  let mut missing = Vec::new();
  for (container, variable, from) in references {
    // An SSM parameter is an `…:ssm:…:parameter/…` ARN or a `/path`;
    // anything else is a Secrets Manager ARN or name.
    let in_ssm = from.contains(":ssm:") || from.starts_with('/');
    let (store, exists, reason) = if !in_ssm {
      // `arn:…:secret:NAME-abc123[:json-key:version-stage:version-id]`.
      let id: String = from.split(':').take(7).collect::<Vec<_>>().join(":");
      let id = if from.starts_with("arn:") {
        id
      } else {
        from.clone()
      };
      match wait(
        run,
        aws,
        secrets_manager.describe_secret().secret_id(&id).send(),
      )? {
        Ok(_) => ("secretsmanager", true, None),
        Err(e)
          if e
            .as_service_error()
            .is_some_and(|s| s.is_resource_not_found_exception()) =>
        {
          ("secretsmanager", false, Some("no such secret".to_string()))
        }
        Err(e) => return Err(explain("secretsmanager:DescribeSecret", &e).into()),
      }
    } else {
      // `arn:…:parameter/NAME` or `/NAME`.
      let parameter = from
        .split_once(":parameter")
        .map_or(from.as_str(), |(_, p)| p)
        .to_string();
      let filter = ParameterStringFilter::builder()
        .key("Name")
        .option("Equals")
        .values(&parameter)
        .build()
        .map_err(|e| format!("ssm:DescribeParameters: {e}"))?;
      let found = call(
        run,
        aws,
        "ssm:DescribeParameters",
        ssm.describe_parameters().parameter_filters(filter).send(),
      )?;
      let exists = !found.parameters().is_empty();
      (
        "ssm",
        exists,
        (!exists).then(|| "no such parameter".to_string()),
      )
    };
    if !exists {
      missing.push(Value::String(from.clone()));
    }
    table.add_row([
      container.clone(),
      variable.clone(),
      from.clone(),
      if exists { "yes" } else { "NO" }.to_string(),
    ]);
    rows.push(json!({
      "container": container,
      "variable": variable,
      "from": from,
      "store": store,
      "exists": exists,
      "reason": reason,
    }));
  }
  let summary = if rows.is_empty() {
    "the task definition references no secrets\n".to_string()
  } else if missing.is_empty() {
    format!("{} reference(s), all exist\n", rows.len())
  } else {
    format!("{} reference(s) to nothing\n", missing.len())
  };
  let mut fields = Fields::new();
  fields.insert("service".into(), Value::String(name.to_string()));
  fields.insert(
    "task_definition".into(),
    Value::String(
      definition
        .rsplit('/')
        .next()
        .unwrap_or_default()
        .to_string(),
    ),
  );
  fields.insert("all_exist".into(), Value::Bool(missing.is_empty()));
  fields.insert("missing".into(), Value::Array(missing));
  fields.insert("references".into(), Value::Array(rows));
  Ok((fields, Shown::default().table(table).text(summary)))
}

/// Scaling activities shown and kept, newest first.
const ACTIVITIES: i32 = 20;

/// `ecs scaling-activities`: what Application Auto Scaling did to the
/// service lately, and why — "recent scaling events reviewed" as a read.
pub fn scaling_activities(
  run: &Reach,
  cluster: &str,
  name: &str,
) -> Result<(Fields, Shown), Failure> {
  let aws = run.aws.get()?;
  let scaling = aws.client(aws_sdk_applicationautoscaling::Client::new);
  let answer = call(
    run,
    aws,
    "application-autoscaling:DescribeScalingActivities",
    scaling
      .describe_scaling_activities()
      .service_namespace(aws_sdk_applicationautoscaling::types::ServiceNamespace::Ecs)
      .resource_id(format!("service/{cluster}/{name}"))
      .max_results(ACTIVITIES)
      .send(),
  )?;
  let mut table = table(["started (UTC)", "status", "description"]);
  let activities: Vec<Value> = answer
    .scaling_activities()
    .iter()
    .map(|a| {
      table.add_row([
        time(Some(a.start_time()))
          .as_str()
          .unwrap_or("-")
          .to_string(),
        a.status_code().as_str().to_string(),
        a.description().to_string(),
      ]);
      json!({
        "started_at": time(Some(a.start_time())),
        "ended_at": time(a.end_time()),
        "status": a.status_code().as_str(),
        "description": a.description(),
        "cause": a.cause(),
        "message": a.status_message(),
      })
    })
    .collect();
  let failed = activities
    .iter()
    .filter(|a| a["status"] == "Failed")
    .count();
  let summary = if activities.is_empty() {
    "no scaling activity\n".to_string()
  } else {
    format!("{} activity(ies), {failed} failed\n", activities.len())
  };
  let mut fields = Fields::new();
  fields.insert("service".into(), Value::String(name.to_string()));
  fields.insert("failed".into(), failed.into());
  fields.insert("activities".into(), Value::Array(activities));
  Ok((fields, Shown::default().rows(table).text(summary)))
}
