//! `ecs`: the state of services and their tasks.
//!
//! ````markdown
//! ```ecs
//! action: describe          # describe | tasks | task-definition (and see ecs_evidence, ecs_deploy)
//! cluster: {{ cluster }}
//! services: [api, worker]   # or `service: api`
//! ```
//! ````

use std::time::Duration;

use aws_sdk_ecs::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_ecs::types::DesiredStatus;
use serde_json::{Value, json};

use super::action::{Execute, Output, StepRun};
use super::aws_step::{
  Failure, Fields, Reach, Shown, call, change_preview, finish, table, time, wait,
};
use super::body::Body;
use super::console::Console;
use super::ecs_deploy::Deploy;
use super::prefetch::Read;
use crate::aws::{Aws, Cut};
use crate::model::ActionKind;

pub struct Ecs;

impl Execute for Ecs {
  fn fields(&self) -> &'static [&'static str] {
    &[
      "activities",
      "after",
      "all_exist",
      "before",
      "cluster",
      "configured",
      "containers",
      "cpu",
      "deployments",
      "desired_status",
      "events",
      "failed",
      "forced_deployment",
      "in_progress",
      "memory",
      "missing",
      "policies",
      "references",
      "requested_desired",
      "resource",
      "service",
      "services",
      "steady",
      "targets",
      "task_definition",
      "tasks",
      "wait_ms",
      "waited",
    ]
  }

  fn preview(&self, run: &StepRun) -> Option<String> {
    let body = Body::parse(ActionKind::Ecs, run.text).ok()?;
    let action = body.text("action")?;
    let aws = run.aws.get().ok()?;
    let reach = run.reach();
    let call = Call {
      aws,
      client: aws.client(aws_sdk_ecs::Client::new),
      run: &reach,
    };
    if action == "deploy-image" {
      let deploy = Deploy::parse(&body).ok()?;
      return match super::ecs_deploy::preview(&call, &deploy) {
        Ok((before, after)) => Some(change_preview(aws, &before, &after)),
        Err(Failure::Message(e)) => Some(format!("   cannot show the change: {e}\n")),
        Err(Failure::Cut(_)) => None,
      };
    }
    let change = Change::from_body(&body).ok()?;
    let current = match current(&call, &change.cluster, &change.service) {
      Ok(state) => state,
      Err(Failure::Message(e)) => return Some(format!("   cannot show the change: {e}\n")),
      Err(Failure::Cut(_)) => return None,
    };
    let before = current.describe();
    let after = match action.as_str() {
      "scale" => State {
        desired: change.target(current.desired).ok()?,
        ..current.clone()
      }
      .describe(),
      "redeploy" => format!(
        "{before}deployment: new, forced ({})\n",
        current.task_definition
      ),
      _ => return None,
    };
    Some(change_preview(aws, &before, &after))
  }

  fn check(&self, text: &str, _options: &[(String, String)]) -> Result<(), String> {
    let body = Body::parse(ActionKind::Ecs, text)?;
    let action = body.required("action")?;
    body.required("cluster")?;
    let mut services = body.list("services");
    services.extend(body.text("service"));
    match action.as_str() {
      "describe" => Ok(()),
      "tasks" => tasks_status(&body).map(|_| ()),
      "task-definition" | "scaling" | "redeploy" | "deployments" | "secrets"
      | "scaling-activities" => one_service(&services).map(|_| ()),
      "deploy-image" => Deploy::parse(&body).map(|_| ()),
      "scale" => {
        let change = Change::from_body(&body)?;
        // The count is relative to what runs then; its form is checked now.
        change.target(i32::MAX / 2).map(|_| ())
      }
      other => Err(body.unknown_action(other)),
    }
  }

  fn read(&self) -> Option<Read> {
    Some(read)
  }

  fn execute(&self, run: &mut StepRun) -> Output {
    let changes = Body::parse(ActionKind::Ecs, run.text)
      .ok()
      .and_then(|body| body.text("action"))
      .is_some_and(|action| ActionKind::Ecs.changes().contains(&action.as_str()));
    let result = if changes {
      let console = run.console.clone();
      dispatch(&run.reach(), Some(&console))
    } else {
      super::prefetch::read(run, read)
    };
    finish(run, result)
  }
}

/// Whether a change waits for its services to settle (`wait:`), and for how
/// long (`timeout:`, 10 minutes unless given).
pub(super) fn settling(body: &Body) -> Result<(bool, Duration), String> {
  let timeout = match body.text("timeout") {
    Some(t) => crate::check::parse_duration(&t)
      .ok_or_else(|| format!("`ecs`: `timeout: {t}`: expected a duration such as 10m"))?,
    None => Duration::from_secs(600),
  };
  let wait = match body.text("wait").as_deref() {
    None | Some("true") => true,
    Some("false") => false,
    Some(other) => return Err(format!("`ecs`: `wait: {other}`: expected true or false")),
  };
  Ok((wait, timeout))
}

/// The service a `scale` or `redeploy` acts on, and the requested count.
struct Change {
  cluster: String,
  service: String,
  desired: Option<String>,
  wait: bool,
  timeout: Duration,
}

impl Change {
  fn from_body(body: &Body) -> Result<Self, String> {
    let cluster = body.required("cluster")?;
    let service = body.required("service")?;
    let (wait, timeout) = settling(body)?;
    Ok(Self {
      cluster,
      service,
      desired: body.written("desired"),
      wait,
      timeout,
    })
  }

  /// `desired: 5`, `+2` or `-1` applied to the current count.
  fn target(&self, current: i32) -> Result<i32, String> {
    let text = self
      .desired
      .as_deref()
      .ok_or("`ecs`: `scale` needs `desired: N`, `+N` or `-N`")?;
    let bad = || format!("`ecs`: `desired: {text}`: expected a count, `+N` or `-N`");
    let target = if let Some(n) = text.strip_prefix('+') {
      current + n.parse::<i32>().map_err(|_| bad())?
    } else if let Some(n) = text.strip_prefix('-') {
      current - n.parse::<i32>().map_err(|_| bad())?
    } else {
      text.parse::<i32>().map_err(|_| bad())?
    };
    if target < 0 {
      return Err(format!(
        "`ecs`: `desired: {text}` would leave {target} tasks"
      ));
    }
    Ok(target)
  }
}

#[derive(Clone)]
pub(super) struct State {
  cluster: String,
  pub(super) service: String,
  pub(super) desired: i32,
  pub(super) running: i32,
  pending: i32,
  deployments: usize,
  rollout: String,
  pub(super) task_definition: String,
}

impl State {
  fn describe(&self) -> String {
    format!(
      "cluster: {}\nservice: {}\ndesired: {}\ntask definition: {}\n",
      self.cluster, self.service, self.desired, self.task_definition
    )
  }

  /// Running as many tasks as desired, with one deployment that finished.
  pub(super) fn steady(&self) -> bool {
    self.running == self.desired
      && self.deployments == 1
      && matches!(self.rollout.as_str(), "COMPLETED" | "-")
  }

  pub(super) fn json(&self) -> Value {
    json!({
      "desired": self.desired,
      "running": self.running,
      "pending": self.pending,
      "deployments": self.deployments,
      "rollout_state": self.rollout,
      "task_definition": self.task_definition,
    })
  }
}

pub(super) fn current(call: &Call, cluster: &str, service: &str) -> Result<State, Failure> {
  let answer = call.sdk(
    "ecs:DescribeServices",
    call
      .client
      .describe_services()
      .cluster(cluster)
      .services(service)
      .send(),
  )?;
  let svc = answer.services().first().ok_or_else(|| {
    format!("ecs:DescribeServices: service {service} in cluster {cluster}: MISSING")
  })?;
  Ok(State {
    cluster: cluster.to_string(),
    service: service.to_string(),
    desired: svc.desired_count(),
    running: svc.running_count(),
    pending: svc.pending_count(),
    deployments: svc.deployments().len(),
    rollout: svc
      .deployments()
      .iter()
      .find(|d| d.status() == Some("PRIMARY"))
      .and_then(|d| d.rollout_state())
      .map_or("-".to_string(), |r| r.as_str().to_string()),
    task_definition: svc.task_definition().map(revision).unwrap_or_default(),
  })
}

/// Applies a `scale` or `redeploy`, then waits for the service to settle
/// (unless `wait: false`), showing running/desired as a progress bar.
fn change(
  call: &Call,
  console: &Console,
  body: &Body,
  redeploy: bool,
) -> Result<(Fields, Shown), Failure> {
  let change = Change::from_body(body)?;
  let before = current(call, &change.cluster, &change.service)?;
  let mut update = call
    .client
    .update_service()
    .cluster(&change.cluster)
    .service(&change.service);
  let target = if redeploy {
    update = update.force_new_deployment(true);
    before.desired
  } else {
    let target = change.target(before.desired)?;
    update = update.desired_count(target);
    target
  };
  call.sdk("ecs:UpdateService", update.send())?;
  let started = std::time::Instant::now();
  let services = [change.service.clone()];
  let after = if change.wait {
    settle(call, console, &change.cluster, &services, change.timeout)?
  } else {
    vec![current(call, &change.cluster, &change.service)?]
  };
  let after = after
    .into_iter()
    .next()
    .ok_or_else(|| format!("ecs:DescribeServices: service {} is gone", change.service))?;
  let shown: Shown = format!(
    "   {}: desired {} → {}; now {}/{} running{}\n",
    change.service,
    before.desired,
    target,
    after.running,
    after.desired,
    if change.wait {
      format!(", steady after {} s", started.elapsed().as_secs())
    } else {
      String::new()
    }
  )
  .into();
  let mut fields = Fields::new();
  fields.insert("service".into(), Value::String(change.service));
  fields.insert("before".into(), before.json());
  fields.insert("after".into(), after.json());
  fields.insert("requested_desired".into(), target.into());
  fields.insert("forced_deployment".into(), redeploy.into());
  fields.insert("waited".into(), change.wait.into());
  fields.insert("steady".into(), after.steady().into());
  fields.insert(
    "wait_ms".into(),
    json!(started.elapsed().as_millis() as u64),
  );
  Ok((fields, shown))
}

/// Waits until every one of `services` is steady, showing their running
/// and desired tasks summed as a progress bar; their states once steady.
pub(super) fn settle(
  call: &Call,
  console: &Console,
  cluster: &str,
  services: &[String],
  timeout: Duration,
) -> Result<Vec<State>, Failure> {
  let started = std::time::Instant::now();
  let states = || {
    services
      .iter()
      .map(|s| current(call, cluster, s))
      .collect::<Result<Vec<_>, _>>()
  };
  let mut after = states()?;
  let bar = console.progress(None);
  bar.set_style(
    indicatif::ProgressStyle::with_template("   {bar:30} {pos}/{len} running · {msg}")
      .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
  );
  loop {
    let unsettled: Vec<String> = after
      .iter()
      .filter(|s| !s.steady())
      .map(|s| {
        format!(
          "{} {}/{} running, {} pending, rollout {}",
          s.service, s.running, s.desired, s.pending, s.rollout
        )
      })
      .collect();
    if unsettled.is_empty() {
      bar.finish_and_clear();
      return Ok(after);
    }
    let count = |f: fn(&State) -> i32| u64::try_from(after.iter().map(f).sum::<i32>()).unwrap_or(0);
    bar.set_length(count(|s| s.desired));
    bar.set_position(count(|s| s.running));
    bar.set_message(unsettled.join(" · "));
    if started.elapsed() > timeout {
      bar.finish_and_clear();
      return Err(
        format!(
          "did not settle within {}: {}",
          humantime::format_duration(timeout),
          unsettled.join("; ")
        )
        .into(),
      );
    }
    call.wait(async { tokio::time::sleep(Duration::from_secs(2)).await })?;
    after = states()?;
  }
}

pub(super) struct Call<'a> {
  pub(super) aws: &'a Aws,
  pub(super) client: aws_sdk_ecs::Client,
  pub(super) run: &'a Reach<'a>,
}

impl Call<'_> {
  pub(super) fn wait<F: std::future::Future>(&self, future: F) -> Result<F::Output, Cut> {
    wait(self.run, self.aws, future)
  }

  pub(super) fn sdk<T, E>(
    &self,
    operation: &str,
    request: impl std::future::Future<
      Output = Result<T, SdkError<E, aws_sdk_sts::config::http::HttpResponse>>,
    >,
  ) -> Result<T, Failure>
  where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
  {
    call(self.run, self.aws, operation, request)
  }
}

/// A read-only action, for `--prefetch` and the walk alike.
fn read(run: &Reach) -> Result<(Fields, Shown), Failure> {
  dispatch(run, None)
}

/// Runs the step's action; a change shows its progress on `console`.
fn dispatch(run: &Reach, console: Option<&Console>) -> Result<(Fields, Shown), Failure> {
  let body = Body::parse(ActionKind::Ecs, run.text)?;
  let action = body.required("action")?;
  let cluster = body.required("cluster")?;
  let mut services = body.list("services");
  services.extend(body.text("service"));
  let aws = run.aws.get()?;
  let call = Call {
    aws,
    client: aws.client(aws_sdk_ecs::Client::new),
    run,
  };
  let (mut fields, shown) = match action.as_str() {
    "describe" => describe(&call, &cluster, &services)?,
    "tasks" => tasks(&call, &cluster, &services, tasks_status(&body)?)?,
    "task-definition" => task_definition(&call, &cluster, &services)?,
    "scaling" => scaling(&call, &cluster, &services)?,
    "deployments" => super::ecs_evidence::deployments(run, &cluster, one_service(&services)?)?,
    "secrets" => super::ecs_evidence::secrets(run, &cluster, one_service(&services)?)?,
    "scaling-activities" => {
      super::ecs_evidence::scaling_activities(run, &cluster, one_service(&services)?)?
    }
    "scale" | "redeploy" | "deploy-image" => {
      let console =
        console.ok_or_else(|| "`ecs`: a change runs only as its own step".to_string())?;
      match action.as_str() {
        "deploy-image" => super::ecs_deploy::deploy(&call, console, &body)?,
        change_kind => change(&call, console, &body, change_kind == "redeploy")?,
      }
    }
    other => return Err(body.unknown_action(other).into()),
  };
  fields.insert("cluster".into(), Value::String(cluster));
  Ok((fields, shown))
}

/// Which tasks `action: tasks` lists: `status: stopped` (the default) or `running`.
fn tasks_status(body: &Body) -> Result<DesiredStatus, String> {
  match body.text("status").as_deref() {
    None | Some("stopped") => Ok(DesiredStatus::Stopped),
    Some("running") => Ok(DesiredStatus::Running),
    Some(other) => Err(format!(
      "`ecs`: `status: {other}`: expected running or stopped"
    )),
  }
}

/// `family:revision` from a task definition ARN.
pub(super) fn revision(arn: &str) -> String {
  arn.rsplit('/').next().unwrap_or(arn).to_string()
}

fn one_service(services: &[String]) -> Result<&String, String> {
  match services {
    [one] => Ok(one),
    _ => Err("`ecs`: this action needs exactly one `service`".into()),
  }
}

/// Every service of the cluster, for a `describe` that names none.
fn all_services(call: &Call, cluster: &str) -> Result<Vec<String>, Failure> {
  let mut services = Vec::new();
  let mut next = None;
  loop {
    let page = call.sdk(
      "ecs:ListServices",
      call
        .client
        .list_services()
        .cluster(cluster)
        .set_next_token(next.take())
        .send(),
    )?;
    services.extend(page.service_arns().iter().cloned());
    next = page.next_token().map(str::to_string);
    if next.is_none() {
      return Ok(services);
    }
  }
}

fn describe(call: &Call, cluster: &str, services: &[String]) -> Result<(Fields, Shown), Failure> {
  let services = if services.is_empty() {
    all_services(call, cluster)?
  } else {
    services.to_vec()
  };
  let mut described = Vec::new();
  // DescribeServices takes at most ten services a call.
  for chunk in services.chunks(10) {
    let answer = call.sdk(
      "ecs:DescribeServices",
      call
        .client
        .describe_services()
        .cluster(cluster)
        .set_services(Some(chunk.to_vec()))
        .send(),
    )?;
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
    described.extend(answer.services().iter().cloned());
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
  for service in &described {
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
  Ok((fields, Shown::default().table(table)))
}

fn tasks(
  call: &Call,
  cluster: &str,
  services: &[String],
  status: DesiredStatus,
) -> Result<(Fields, Shown), Failure> {
  let service = one_service(services)?;
  let listed = call.sdk(
    "ecs:ListTasks",
    call
      .client
      .list_tasks()
      .cluster(cluster)
      .service_name(service)
      .desired_status(status.clone())
      .send(),
  )?;
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
    let described = call.sdk(
      "ecs:DescribeTasks",
      call
        .client
        .describe_tasks()
        .cluster(cluster)
        .set_tasks(Some(arns))
        .send(),
    )?;
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
        "availability_zone": task.availability_zone(),
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
  let shown = Shown::default().table(table).text(format!(
    "{} {} task(s)\n",
    fields["tasks"].as_array().map_or(0, Vec::len),
    status.as_str().to_lowercase()
  ));
  Ok((fields, shown))
}

fn task_definition(
  call: &Call,
  cluster: &str,
  services: &[String],
) -> Result<(Fields, Shown), Failure> {
  let service = one_service(services)?;
  // DescribeTaskDefinition takes `family:revision` as well as an ARN.
  let arn = current(call, cluster, service)?.task_definition;
  let def = call.sdk(
    "ecs:DescribeTaskDefinition",
    call
      .client
      .describe_task_definition()
      .task_definition(&arn)
      .send(),
  )?;
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
  Ok((fields, shown.into()))
}

/// The service's Application Auto Scaling target and policies.
fn scaling(call: &Call, cluster: &str, services: &[String]) -> Result<(Fields, Shown), Failure> {
  use aws_sdk_applicationautoscaling::types::ServiceNamespace;
  let service = one_service(services)?;
  let resource = format!("service/{cluster}/{service}");
  let client = call.aws.client(aws_sdk_applicationautoscaling::Client::new);
  let targets = call.sdk(
    "application-autoscaling:DescribeScalableTargets",
    client
      .describe_scalable_targets()
      .service_namespace(ServiceNamespace::Ecs)
      .resource_ids(&resource)
      .send(),
  )?;
  let policies = call.sdk(
    "application-autoscaling:DescribeScalingPolicies",
    client
      .describe_scaling_policies()
      .service_namespace(ServiceNamespace::Ecs)
      .resource_id(&resource)
      .send(),
  )?;
  let targets: Vec<Value> = targets
    .scalable_targets()
    .iter()
    .map(|t| json!({"dimension": t.scalable_dimension().as_str(), "min": t.min_capacity(), "max": t.max_capacity()}))
    .collect();
  let mut table = table(["policy", "type", "metric", "target value"]);
  let policies: Vec<Value> = policies
    .scaling_policies()
    .iter()
    .map(|p| {
      let tracking = p.target_tracking_scaling_policy_configuration();
      let metric = tracking
        .and_then(|t| t.predefined_metric_specification())
        .map(|m| m.predefined_metric_type().as_str().to_string());
      let target = tracking.map(|t| t.target_value());
      table.add_row([
        p.policy_name().to_string(),
        p.policy_type().as_str().to_string(),
        metric.clone().unwrap_or_else(|| "-".into()),
        target.map_or("-".into(), |t| t.to_string()),
      ]);
      json!({"name": p.policy_name(), "type": p.policy_type().as_str(), "metric": metric, "target_value": target})
    })
    .collect();
  let shown = match targets.first() {
    Some(t) => {
      Shown::from(format!("{resource}: {} to {} tasks\n", t["min"], t["max"])).table(table)
    }
    None => Shown::from(format!(
      "{resource}: no auto scaling target: the service does not scale by itself\n"
    )),
  };
  let mut fields = Fields::new();
  fields.insert("service".into(), Value::String(service.clone()));
  fields.insert("resource".into(), Value::String(resource));
  fields.insert("configured".into(), Value::Bool(!targets.is_empty()));
  fields.insert("targets".into(), Value::Array(targets));
  fields.insert("policies".into(), Value::Array(policies));
  Ok((fields, shown))
}
