//! `ecs deploy-image`: ship a new image. For each service, register a new
//! revision of its task definition with the container's image replaced,
//! point the service at it and wait until every service has settled.
//!
//! ````markdown
//! ```ecs {name=ship}
//! action: deploy-image
//! cluster: {{ cluster }}
//! services: [api, worker]    # or `service: api`
//! tag: {{ patched_tag }}     # the container's image, same repository, new tag
//! timeout: 30m
//! ```
//! ````
//!
//! or `image: acme/api:v144` (a whole image, for one service). A task
//! definition with several containers (a log router beside the application)
//! needs `container:` (a name or a list): only those images move. An ECR
//! image that is not in the registry stops the step before anything changes.

use std::time::Duration;

use aws_sdk_ecs::types::{ContainerDefinition, TaskDefinition};
use serde_json::{Value, json};

use super::aws_step::{Failure, Fields, Shown, table};
use super::body::Body;
use super::console::Console;
use super::ecs::{Call, State, current, revision, settle, settling};

pub(super) struct Deploy {
  cluster: String,
  services: Vec<String>,
  /// The containers whose image moves; none named means the only one.
  containers: Vec<String>,
  image: Image,
  wait: bool,
  timeout: Duration,
}

enum Image {
  /// The chosen containers' images, same repository, this tag.
  Tag(String),
  /// This whole image reference.
  Whole(String),
}

impl Deploy {
  pub(super) fn parse(body: &Body) -> Result<Self, String> {
    let cluster = body.required("cluster")?;
    let mut services = body.list("services");
    services.extend(body.text("service"));
    if services.is_empty() {
      return Err("`ecs`: `deploy-image` needs `service:` or `services:`".into());
    }
    let image = match (body.text("image"), body.text("tag")) {
      (Some(image), None) if services.len() == 1 => Image::Whole(image),
      (Some(_), None) => {
        return Err(
          "`ecs`: `image:` names one image for one service; to move several services to a new tag, use `tag:`"
            .into(),
        );
      }
      (None, Some(tag)) if is_tag(&tag) => Image::Tag(tag),
      (None, Some(tag)) => {
        return Err(format!(
          "`ecs`: `tag: {tag}`: a tag is 1 to 128 letters, digits, `_`, `.` and `-`, not starting with `.` or `-`"
        ));
      }
      _ => {
        return Err(
          "`ecs`: `deploy-image` needs one of `image: repository:tag` or `tag: NEW-TAG`".into(),
        );
      }
    };
    let (wait, timeout) = settling(body)?;
    Ok(Self {
      cluster,
      services,
      containers: body.list("container"),
      image,
      wait,
      timeout,
    })
  }

  /// The image a container moves to, or `None` if this step leaves it.
  fn new_image(&self, container: &ContainerDefinition, only: bool) -> Option<String> {
    let chosen = match container.name() {
      _ if self.containers.is_empty() => only,
      Some(name) => self.containers.iter().any(|c| c == name),
      None => false,
    };
    if !chosen {
      return None;
    }
    Some(match &self.image {
      Image::Whole(image) => image.clone(),
      Image::Tag(tag) => with_tag(container.image().unwrap_or_default(), tag),
    })
  }
}

/// Docker's tag grammar: `[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`.
fn is_tag(tag: &str) -> bool {
  tag.len() <= 128
    && tag
      .chars()
      .enumerate()
      .all(|(i, c)| c.is_ascii_alphanumeric() || c == '_' || (i > 0 && (c == '.' || c == '-')))
    && !tag.is_empty()
}

/// `image` with its tag (or digest) replaced by `tag`.
fn with_tag(image: &str, tag: &str) -> String {
  let base = image.split_once('@').map_or(image, |(base, _)| base);
  // A colon after the last slash starts the tag; one before it is a port.
  let name = base.rfind('/').map_or(0, |slash| slash + 1);
  let base = match base[name..].rfind(':') {
    Some(colon) => &base[..name + colon],
    None => base,
  };
  format!("{base}:{tag}")
}

/// One service's part of the deployment, worked out before anything changes.
pub(super) struct Rollout {
  before: State,
  definition: TaskDefinition,
  /// (container, image now, image after) for every container that moves.
  moves: Vec<(String, String, String)>,
}

impl Rollout {
  fn describe(&self, after: bool) -> String {
    let mut text = format!(
      "service: {}\n  task definition: {}\n",
      self.before.service,
      if after {
        format!(
          "{}:(new revision)",
          self.definition.family().unwrap_or_default()
        )
      } else {
        self.before.task_definition.clone()
      }
    );
    for (container, now, next) in &self.moves {
      let image = if after { next } else { now };
      text.push_str(&format!("  container {container}: {image}\n"));
    }
    text
  }
}

/// What each service runs now and what it will run: the preview's before and
/// after, and the plan `deploy` carries out.
pub(super) fn prepare(call: &Call, deploy: &Deploy) -> Result<Vec<Rollout>, Failure> {
  let mut rollouts = Vec::new();
  for service in &deploy.services {
    let before = current(call, &deploy.cluster, service)?;
    let described = call.sdk(
      "ecs:DescribeTaskDefinition",
      call
        .client
        .describe_task_definition()
        .task_definition(&before.task_definition)
        .send(),
    )?;
    let definition = described.task_definition().cloned().ok_or_else(|| {
      format!(
        "ecs:DescribeTaskDefinition: {} has no definition",
        before.task_definition
      )
    })?;
    let containers = definition.container_definitions();
    let moves: Vec<(String, String, String)> = containers
      .iter()
      .filter_map(|c| {
        let next = deploy.new_image(c, containers.len() == 1)?;
        Some((
          c.name().unwrap_or("?").to_string(),
          c.image().unwrap_or_default().to_string(),
          next,
        ))
      })
      .collect();
    if moves.is_empty() {
      let names: Vec<&str> = containers.iter().filter_map(|c| c.name()).collect();
      return Err(
        if deploy.containers.is_empty() {
          format!(
            "{service}: {} has {} containers ({}); name the one to change with `container:`",
            before.task_definition,
            names.len(),
            names.join(", ")
          )
        } else {
          format!(
            "{service}: no container {} in {}; it has {}",
            deploy.containers.join(" or "),
            before.task_definition,
            names.join(", ")
          )
        }
        .into(),
      );
    }
    rollouts.push(Rollout {
      before,
      definition,
      moves,
    });
  }
  Ok(rollouts)
}

/// The preview: every service's task definition and images, before → after.
pub(super) fn preview(call: &Call, deploy: &Deploy) -> Result<(String, String), Failure> {
  let rollouts = prepare(call, deploy)?;
  let side = |after| rollouts.iter().map(|r| r.describe(after)).collect();
  Ok((side(false), side(true)))
}

pub(super) fn deploy(
  call: &Call,
  console: &Console,
  body: &Body,
) -> Result<(Fields, Shown), Failure> {
  let deploy = Deploy::parse(body)?;
  let rollouts = prepare(call, &deploy)?;
  // Nothing changes until every new image is known to exist.
  let ecr = call.aws.client(aws_sdk_ecr::Client::new);
  let mut missing = Vec::new();
  for (_, _, image) in rollouts.iter().flat_map(|r| &r.moves) {
    let found = super::ecr::lookup(call.run, call.aws, &ecr, image)?;
    if found["exists"] == false && !missing.contains(image) {
      missing.push(image.clone());
    }
  }
  if !missing.is_empty() {
    return Err(
      format!(
        "not in the registry: {}; nothing was registered or deployed",
        missing.join(", ")
      )
      .into(),
    );
  }
  let started = std::time::Instant::now();
  let mut registered = Vec::new();
  for rollout in &rollouts {
    let arn = register(call, rollout)?;
    call.sdk(
      "ecs:UpdateService",
      call
        .client
        .update_service()
        .cluster(&deploy.cluster)
        .service(&rollout.before.service)
        .task_definition(&arn)
        // A re-pushed tag is a new image under an old name: start new tasks.
        .force_new_deployment(true)
        .send(),
    )?;
    registered.push(revision(&arn));
  }
  let after = if deploy.wait {
    settle(
      call,
      console,
      &deploy.cluster,
      &deploy.services,
      deploy.timeout,
    )
    .map_err(|e| match e {
      Failure::Message(m) => Failure::Message(format!(
        "{m}; the services were on {} before",
        rollouts
          .iter()
          .map(|r| r.before.task_definition.as_str())
          .collect::<Vec<_>>()
          .join(", ")
      )),
      cut => cut,
    })?
  } else {
    deploy
      .services
      .iter()
      .map(|s| current(call, &deploy.cluster, s))
      .collect::<Result<_, _>>()?
  };
  let mut table = table([
    "service",
    "task definition",
    "container",
    "image",
    "running",
  ]);
  let mut rows = Vec::new();
  for ((rollout, revision), now) in rollouts.iter().zip(&registered).zip(&after) {
    for (container, from, to) in &rollout.moves {
      table.add_row([
        rollout.before.service.clone(),
        format!("{} → {revision}", rollout.before.task_definition),
        container.clone(),
        format!("{from} → {to}"),
        format!("{}/{}", now.running, now.desired),
      ]);
    }
    rows.push(json!({
      "service": rollout.before.service,
      "before": rollout.before.json(),
      "after": now.json(),
      "task_definition": revision,
      "previous_task_definition": rollout.before.task_definition,
      "images": rollout.moves.iter().map(|(c, from, to)| json!({"container": c, "before": from, "after": to})).collect::<Vec<_>>(),
      "steady": now.steady(),
    }));
  }
  let steady = after.iter().all(State::steady);
  let summary = format!(
    "{} service(s) on the new image{}\n",
    rows.len(),
    if deploy.wait {
      format!(", steady after {} s", started.elapsed().as_secs())
    } else {
      " (not waited for)".to_string()
    }
  );
  let mut fields = Fields::new();
  fields.insert("services".into(), Value::Array(rows));
  fields.insert("steady".into(), steady.into());
  fields.insert("waited".into(), deploy.wait.into());
  fields.insert(
    "wait_ms".into(),
    json!(started.elapsed().as_millis() as u64),
  );
  Ok((fields, Shown::default().table(table).text(summary)))
}

/// Registers the next revision of the rollout's task definition: the same
/// definition, the moved containers' images replaced. Its ARN.
fn register(call: &Call, rollout: &Rollout) -> Result<String, Failure> {
  let def = &rollout.definition;
  let containers: Vec<ContainerDefinition> = def
    .container_definitions()
    .iter()
    .map(|c| {
      match rollout
        .moves
        .iter()
        .find(|(name, _, _)| Some(name.as_str()) == c.name())
      {
        Some((_, _, image)) => {
          let mut c = c.clone();
          c.image = Some(image.clone());
          c
        }
        None => c.clone(),
      }
    })
    .collect();
  let request = call
    .client
    .register_task_definition()
    .family(def.family().unwrap_or_default())
    .set_task_role_arn(def.task_role_arn().map(str::to_string))
    .set_execution_role_arn(def.execution_role_arn().map(str::to_string))
    .set_network_mode(def.network_mode().cloned())
    .set_container_definitions(Some(containers))
    .set_volumes(Some(def.volumes().to_vec()))
    .set_placement_constraints(Some(def.placement_constraints().to_vec()))
    .set_requires_compatibilities(Some(def.requires_compatibilities().to_vec()))
    .set_cpu(def.cpu().map(str::to_string))
    .set_memory(def.memory().map(str::to_string))
    .set_pid_mode(def.pid_mode().cloned())
    .set_ipc_mode(def.ipc_mode().cloned())
    .set_proxy_configuration(def.proxy_configuration().cloned())
    .set_ephemeral_storage(def.ephemeral_storage().cloned())
    .set_runtime_platform(def.runtime_platform().cloned());
  let registered = call.sdk("ecs:RegisterTaskDefinition", request.send())?;
  registered
    .task_definition()
    .and_then(|d| d.task_definition_arn())
    .map(str::to_string)
    .ok_or_else(|| {
      "ecs:RegisterTaskDefinition: the answer names no revision"
        .to_string()
        .into()
    })
}

#[cfg(test)]
mod tests {
  use super::*;

  #[test]
  fn a_new_tag_keeps_the_registry_port_and_repository() {
    assert_eq!(with_tag("acme/api:v143", "v144"), "acme/api:v144");
    assert_eq!(with_tag("acme/api", "v1"), "acme/api:v1");
    assert_eq!(
      with_tag("localhost:5000/acme/api", "p1"),
      "localhost:5000/acme/api:p1"
    );
    assert_eq!(
      with_tag("localhost:5000/api:old@sha256:ab", "p1"),
      "localhost:5000/api:p1"
    );
    assert_eq!(
      with_tag("1.dkr.ecr.eu-west-1.amazonaws.com/acme/api:v1", "v2"),
      "1.dkr.ecr.eu-west-1.amazonaws.com/acme/api:v2"
    );
  }

  #[test]
  fn tags_follow_the_registry_grammar() {
    for good in ["v144", "2026-12-patched", "_x", "a.b-c_d", &"x".repeat(128)] {
      assert!(is_tag(good), "{good}");
    }
    for bad in [
      "",
      "-v1",
      ".v1",
      "v1:x",
      "a/b",
      "v 1",
      "v1@sha",
      &"x".repeat(129),
      "é",
    ] {
      assert!(!is_tag(bad), "{bad}");
    }
  }
}
