//! `ecs`: the state of services and their tasks.
//!
//! ````markdown
//! ```ecs
//! action: describe          # describe | tasks | task-definition
//! cluster: {{ cluster }}
//! services: [api, worker]   # or `service: api`
//! ```
//! ````

use aws_sdk_ecs::types::DesiredStatus;
use serde_json::{Value, json};

use super::action::{Execute, Output, StepRun};
use super::aws_step::{Failure, Fields, finish, table, time, wait};
use super::body::Body;
use crate::aws::{Aws, Cut, explain};

const FIELDS: &[&str] = &[
  "action", "cluster", "service", "services", "status", "desired", "wait", "timeout",
];

pub struct Ecs;

impl Execute for Ecs {
  fn execute(&self, run: &mut StepRun) -> Output {
    finish(run, dispatch(run))
  }
}

struct Call<'a> {
  aws: &'a Aws,
  client: aws_sdk_ecs::Client,
  run: &'a StepRun<'a>,
}

impl Call<'_> {
  fn wait<F: std::future::Future>(&self, future: F) -> Result<F::Output, Cut> {
    wait(self.run, self.aws, future)
  }
}

fn dispatch(run: &StepRun) -> Result<(Fields, String), Failure> {
  let body = Body::parse("ecs", run.text, FIELDS)?;
  let action = body.required("ecs", "action")?;
  let cluster = body.required("ecs", "cluster")?;
  let mut services = body.list("services");
  services.extend(body.text("service"));
  let aws = run.aws.get()?;
  let call = Call {
    aws,
    client: aws_sdk_ecs::Client::new(&aws.config),
    run,
  };
  let (mut fields, shown) = match action.as_str() {
    "describe" => describe(&call, &cluster, &services)?,
    "tasks" => {
      let status = match body.text("status").as_deref() {
        None | Some("stopped") => DesiredStatus::Stopped,
        Some("running") => DesiredStatus::Running,
        Some(other) => {
          return Err(format!("`ecs`: `status: {other}`: expected running or stopped").into());
        }
      };
      tasks(&call, &cluster, &services, status)?
    }
    "task-definition" => task_definition(&call, &cluster, &services)?,
    other => {
      return Err(
        format!("`ecs`: `action: {other}` is not known: use describe, tasks or task-definition")
          .into(),
      );
    }
  };
  fields.insert("cluster".into(), Value::String(cluster));
  Ok((fields, shown))
}

/// `family:revision` from a task definition ARN.
fn revision(arn: &str) -> String {
  arn.rsplit('/').next().unwrap_or(arn).to_string()
}

fn one_service(services: &[String]) -> Result<&String, String> {
  match services {
    [one] => Ok(one),
    _ => Err("`ecs`: this action needs exactly one `service`".into()),
  }
}

fn describe(call: &Call, cluster: &str, services: &[String]) -> Result<(Fields, String), Failure> {
  if services.is_empty() {
    return Err(
      "`ecs`: `describe` needs `service` or `services`"
        .to_string()
        .into(),
    );
  }
  let answer = call
    .wait(
      call
        .client
        .describe_services()
        .cluster(cluster)
        .set_services(Some(services.to_vec()))
        .send(),
    )?
    .map_err(|e| explain("ecs:DescribeServices", &e))?;
  if let Some(missing) = answer.failures().first() {
    return Err(
      format!(
        "ecs:DescribeServices: service {} in cluster {cluster}: {}",
        missing.arn().map(revision).unwrap_or_default(),
        missing.reason().unwrap_or("not found")
      )
      .into(),
    );
  }
  let mut table = table([
    "service",
    "desired",
    "running",
    "pending",
    "rollout",
    "task definition",
    "cpu/memory",
  ]);
  let mut rows = Vec::new();
  let mut steady = true;
  for service in answer.services() {
    let task_def = service.task_definition().unwrap_or_default();
    let (cpu, memory) = match call.wait(
      call
        .client
        .describe_task_definition()
        .task_definition(task_def)
        .send(),
    )? {
      Ok(d) => d
        .task_definition()
        .map(|t| {
          (
            t.cpu().unwrap_or("").to_string(),
            t.memory().unwrap_or("").to_string(),
          )
        })
        .unwrap_or_default(),
      Err(_) => (String::new(), String::new()),
    };
    let deployments: Vec<Value> = service
      .deployments()
      .iter()
      .map(|d| {
        json!({
          "id": d.id(),
          "status": d.status(),
          "rollout_state": d.rollout_state().map(|s| s.as_str()),
          "rollout_reason": d.rollout_state_reason(),
          "desired": d.desired_count(),
          "running": d.running_count(),
          "pending": d.pending_count(),
          "failed_tasks": d.failed_tasks(),
          "task_definition": d.task_definition().map(revision),
          "updated_at": time(d.updated_at()),
        })
      })
      .collect();
    let events: Vec<Value> = service
      .events()
      .iter()
      .take(5)
      .map(|e| json!({"at": time(e.created_at()), "message": e.message()}))
      .collect();
    let rollout = service
      .deployments()
      .iter()
      .find(|d| d.status() == Some("PRIMARY"))
      .and_then(|d| d.rollout_state())
      .map_or("-".to_string(), |s| s.as_str().to_string());
    steady &=
      service.running_count() == service.desired_count() && service.deployments().len() <= 1;
    table.add_row([
      service.service_name().unwrap_or_default().to_string(),
      service.desired_count().to_string(),
      service.running_count().to_string(),
      service.pending_count().to_string(),
      rollout.clone(),
      revision(task_def),
      format!("{cpu}/{memory}"),
    ]);
    rows.push(json!({
      "service": service.service_name(),
      "status": service.status(),
      "desired": service.desired_count(),
      "running": service.running_count(),
      "pending": service.pending_count(),
      "rollout_state": rollout,
      "task_definition": revision(task_def),
      "cpu": cpu,
      "memory": memory,
      "launch_type": service.launch_type().map(|l| l.as_str()),
      "deployments": deployments,
      "events": events,
    }));
  }
  let mut fields = Fields::new();
  fields.insert("services".into(), Value::Array(rows));
  fields.insert("steady".into(), Value::Bool(steady));
  Ok((fields, format!("{table}\n")))
}

fn tasks(
  call: &Call,
  cluster: &str,
  services: &[String],
  status: DesiredStatus,
) -> Result<(Fields, String), Failure> {
  let service = one_service(services)?;
  let listed = call
    .wait(
      call
        .client
        .list_tasks()
        .cluster(cluster)
        .service_name(service)
        .desired_status(status.clone())
        .send(),
    )?
    .map_err(|e| explain("ecs:ListTasks", &e))?;
  let arns = listed.task_arns().to_vec();
  let mut rows = Vec::new();
  let mut table = table([
    "task",
    "last status",
    "stopped reason",
    "stop code",
    "containers (exit code, reason)",
  ]);
  if !arns.is_empty() {
    let described = call
      .wait(
        call
          .client
          .describe_tasks()
          .cluster(cluster)
          .set_tasks(Some(arns))
          .send(),
      )?
      .map_err(|e| explain("ecs:DescribeTasks", &e))?;
    for task in described.tasks() {
      let containers: Vec<Value> = task
        .containers()
        .iter()
        .map(|c| json!({"name": c.name(), "last_status": c.last_status(), "exit_code": c.exit_code(), "reason": c.reason()}))
        .collect();
      let summary: Vec<String> = task
        .containers()
        .iter()
        .map(|c| {
          format!(
            "{} ({}, {})",
            c.name().unwrap_or("?"),
            c.exit_code().map_or("-".into(), |e| e.to_string()),
            c.reason().unwrap_or("-")
          )
        })
        .collect();
      let id = task.task_arn().map(revision).unwrap_or_default();
      table.add_row([
        id.clone(),
        task.last_status().unwrap_or_default().to_string(),
        task.stopped_reason().unwrap_or("-").to_string(),
        task.stop_code().map_or("-", |c| c.as_str()).to_string(),
        summary.join("; "),
      ]);
      rows.push(json!({
        "task": id,
        "last_status": task.last_status(),
        "desired_status": task.desired_status(),
        "stopped_reason": task.stopped_reason(),
        "stop_code": task.stop_code().map(|c| c.as_str()),
        "started_at": time(task.started_at()),
        "stopped_at": time(task.stopped_at()),
        "task_definition": task.task_definition_arn().map(revision),
        "containers": containers,
      }));
    }
  }
  let mut fields = Fields::new();
  fields.insert("service".into(), Value::String(service.clone()));
  fields.insert(
    "desired_status".into(),
    Value::String(status.as_str().to_lowercase()),
  );
  fields.insert("tasks".into(), Value::Array(rows));
  let shown = format!(
    "{table}\n{} {} task(s)\n",
    fields["tasks"].as_array().map_or(0, Vec::len),
    status.as_str().to_lowercase()
  );
  Ok((fields, shown))
}

fn task_definition(
  call: &Call,
  cluster: &str,
  services: &[String],
) -> Result<(Fields, String), Failure> {
  let service = one_service(services)?;
  let answer = call
    .wait(
      call
        .client
        .describe_services()
        .cluster(cluster)
        .services(service)
        .send(),
    )?
    .map_err(|e| explain("ecs:DescribeServices", &e))?;
  let arn = answer
    .services()
    .first()
    .and_then(|s| s.task_definition())
    .ok_or_else(|| {
      format!("ecs:DescribeServices: service {service} not found in cluster {cluster}")
    })?
    .to_string();
  let def = call
    .wait(
      call
        .client
        .describe_task_definition()
        .task_definition(&arn)
        .send(),
    )?
    .map_err(|e| explain("ecs:DescribeTaskDefinition", &e))?;
  let Some(def) = def.task_definition() else {
    return Err(format!("ecs:DescribeTaskDefinition: {arn} has no definition").into());
  };
  let mut shown = format!(
    "{} · cpu {} · memory {}\n",
    revision(&arn),
    def.cpu().unwrap_or("-"),
    def.memory().unwrap_or("-")
  );
  let containers: Vec<Value> = def
    .container_definitions()
    .iter()
    .map(|c| {
      // Environment values can be secrets; only names are recorded.
      let env: Vec<&str> = c.environment().iter().filter_map(|e| e.name()).collect();
      let ports: Vec<Value> = c
        .port_mappings()
        .iter()
        .map(|p| json!({"container_port": p.container_port(), "host_port": p.host_port(), "protocol": p.protocol().map(|p| p.as_str())}))
        .collect();
      let logs = c.log_configuration().map(|l| {
        json!({"driver": l.log_driver().as_str(), "options": l.options().cloned().unwrap_or_default()})
      });
      shown.push_str(&format!(
        "  {}: {} · cpu {} · memory {} · env {}\n",
        c.name().unwrap_or("?"),
        c.image().unwrap_or("?"),
        c.cpu(),
        c.memory().map_or("-".into(), |m| m.to_string()),
        if env.is_empty() { "-".to_string() } else { env.join(", ") }
      ));
      json!({
        "name": c.name(),
        "image": c.image(),
        "cpu": c.cpu(),
        "memory": c.memory(),
        "essential": c.essential(),
        "port_mappings": ports,
        "log_configuration": logs,
        "environment_names": env,
      })
    })
    .collect();
  let mut fields = Fields::new();
  fields.insert("service".into(), Value::String(service.clone()));
  fields.insert("task_definition".into(), Value::String(revision(&arn)));
  fields.insert("cpu".into(), json!(def.cpu()));
  fields.insert("memory".into(), json!(def.memory()));
  fields.insert("containers".into(), Value::Array(containers));
  Ok((fields, shown))
}
