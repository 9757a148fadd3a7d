//! `ecr`: does an image exist in the registry? Its digest, push time and
//! scan findings when it does — "image tag exists in the registry" as a
//! fact rather than a ticked box.
//!
//! ````markdown
//! ```ecr {name=image}
//! action: image
//! cluster: {{ cluster }}     # the images of the service's task definition
//! service: {{ service }}
//! ```
//! ````
//!
//! or `image: acme/api:v143` (a repository and tag or `@digest`, or a whole
//! ECR image URI; a list checks several).

use aws_sdk_ecr::types::ImageIdentifier;
use serde_json::{Value, json};

use super::action::{Execute, Output, StepRun};
use super::aws_step::{Failure, Fields, Reach, Shown, finish, table, time, wait};
use super::body::Body;
use super::prefetch::Read;
use crate::aws::{Aws, explain};
use crate::model::ActionKind;

pub struct Ecr;

impl Execute for Ecr {
  fn fields(&self) -> &'static [&'static str] {
    &["all_exist", "images", "missing"]
  }

  fn check(&self, text: &str, _options: &[(String, String)]) -> Result<(), String> {
    Spec::parse(&Body::parse(ActionKind::Ecr, text)?).map(|_| ())
  }

  fn read(&self) -> Option<Read> {
    Some(image)
  }

  fn execute(&self, run: &mut StepRun) -> Output {
    let result = super::prefetch::read(run, image);
    finish(run, result)
  }
}

/// Which images to look for.
enum Spec {
  Images(Vec<String>),
  /// Those the service's current task definition names.
  Service {
    cluster: String,
    service: String,
  },
}

impl Spec {
  fn parse(body: &Body) -> Result<Self, String> {
    match body.required("action")?.as_str() {
      "image" => {}
      other => return Err(body.unknown_action(other)),
    }
    let images = body.list("image");
    match (
      images.is_empty(),
      body.text("cluster"),
      body.text("service"),
    ) {
      (false, None, None) => Ok(Self::Images(images)),
      (true, Some(cluster), Some(service)) => Ok(Self::Service { cluster, service }),
      _ => {
        Err("`ecr`: `image` needs either `image: repository:tag` or `cluster` and `service`".into())
      }
    }
  }
}

/// An image reference split into what ECR is asked: the repository and a
/// tag or digest. `None` for a registry that is not ECR.
struct Reference {
  repository: String,
  id: ImageIdentifier,
  in_ecr: bool,
}

impl Reference {
  fn parse(image: &str) -> Self {
    // `host/path:tag`, `path:tag`, `path@sha256:…`; a host has a dot or a port.
    let (host, path) = match image.split_once('/') {
      Some((first, rest)) if first.contains('.') || first.contains(':') => (Some(first), rest),
      _ => (None, image),
    };
    let in_ecr = host.is_none_or(|h| h.contains(".dkr.ecr."));
    let (repository, id) = if let Some((repo, digest)) = path.split_once('@') {
      (
        repo,
        ImageIdentifier::builder().image_digest(digest).build(),
      )
    } else {
      let (repo, tag) = path.rsplit_once(':').unwrap_or((path, "latest"));
      (repo, ImageIdentifier::builder().image_tag(tag).build())
    };
    Self {
      repository: repository.to_string(),
      id,
      in_ecr,
    }
  }
}

fn image(run: &Reach) -> Result<(Fields, Shown), Failure> {
  let spec = Spec::parse(&Body::parse(ActionKind::Ecr, run.text)?)?;
  let aws = run.aws.get()?;
  let images = match spec {
    Spec::Images(images) => images,
    Spec::Service { cluster, service } => service_images(run, aws, &cluster, &service)?,
  };
  let ecr = aws.client(aws_sdk_ecr::Client::new);
  let mut table = table(["image", "in registry", "digest", "pushed", "scan findings"]);
  let mut rows = Vec::new();
  let mut missing = Vec::new();
  for image in &images {
    let row = lookup(run, aws, &ecr, image)?;
    if row["exists"] == false {
      missing.push(Value::String(image.clone()));
    }
    table.add_row([
      image.clone(),
      match row["exists"].as_bool() {
        Some(true) => "yes".to_string(),
        Some(false) => "NO".to_string(),
        None => "not checked".to_string(),
      },
      row["digest"].as_str().unwrap_or("-").to_string(),
      row["pushed_at"].as_str().unwrap_or("-").to_string(),
      row["scan_findings"]
        .as_object()
        .filter(|f| !f.is_empty())
        .map_or("-".to_string(), |f| {
          f.iter()
            .map(|(k, v)| format!("{k} {v}"))
            .collect::<Vec<_>>()
            .join(", ")
        }),
    ]);
    rows.push(row);
  }
  let summary = if missing.is_empty() {
    format!("{} image(s), all in the registry\n", rows.len())
  } else {
    format!(
      "NOT in the registry: {}\n",
      missing
        .iter()
        .filter_map(Value::as_str)
        .collect::<Vec<_>>()
        .join(", ")
    )
  };
  let mut fields = Fields::new();
  fields.insert("all_exist".into(), Value::Bool(missing.is_empty()));
  fields.insert("missing".into(), Value::Array(missing));
  fields.insert("images".into(), Value::Array(rows));
  Ok((fields, Shown::default().table(table).text(summary)))
}

/// What ECR says about one image: a row with `exists` true, false, or null
/// for a registry that is not ECR. A missing image is an answer, not an error.
pub(super) fn lookup(
  run: &Reach,
  aws: &Aws,
  ecr: &aws_sdk_ecr::Client,
  image: &str,
) -> Result<Value, Failure> {
  let reference = Reference::parse(image);
  Ok(if !reference.in_ecr {
    json!({"image": image, "exists": Value::Null, "reason": "not an ECR registry: not checked"})
  } else {
    let call = ecr
      .describe_images()
      .repository_name(&reference.repository)
      .image_ids(reference.id.clone())
      .send();
    match wait(run, aws, call)? {
      Ok(answer) => match answer.image_details().first() {
        Some(detail) => {
          let findings = detail
            .image_scan_findings_summary()
            .and_then(|s| s.finding_severity_counts())
            .map(|counts| {
              counts
                .iter()
                .map(|(severity, n)| (severity.as_str().to_string(), json!(n)))
                .collect::<serde_json::Map<_, _>>()
            });
          json!({
            "image": image,
            "exists": true,
            "repository": reference.repository,
            "digest": detail.image_digest(),
            "pushed_at": time(detail.image_pushed_at()),
            "tags": detail.image_tags(),
            "scan_findings": findings,
          })
        }
        None => json!({"image": image, "exists": false, "reason": "no such image"}),
      },
      Err(e) => {
        let gone = e.as_service_error().is_some_and(|s| {
          s.is_image_not_found_exception() || s.is_repository_not_found_exception()
        });
        if !gone {
          return Err(explain("ecr:DescribeImages", &e).into());
        }
        let reason = e
          .as_service_error()
          .and_then(|s| s.meta().message())
          .unwrap_or("not found")
          .to_string();
        json!({"image": image, "exists": false, "repository": reference.repository, "reason": reason})
      }
    }
  })
}

/// The container images of a service's current task definition.
fn service_images(
  run: &Reach,
  aws: &Aws,
  cluster: &str,
  service: &str,
) -> Result<Vec<String>, Failure> {
  let (_, definition) = super::ecs_evidence::current_definition(run, aws, cluster, service)?;
  Ok(
    definition
      .map(|d| {
        d.container_definitions()
          .iter()
          .filter_map(|c| c.image().map(str::to_string))
          .collect()
      })
      .unwrap_or_default(),
  )
}

#[cfg(test)]
mod tests {
  use super::*;

  #[test]
  fn references_split_into_repository_and_tag_or_digest() {
    let r = Reference::parse("123456789012.dkr.ecr.eu-west-1.amazonaws.com/acme/api:v143");
    assert!(r.in_ecr);
    assert_eq!(r.repository, "acme/api");
    assert_eq!(r.id.image_tag(), Some("v143"));
    let r = Reference::parse("acme/api@sha256:abc");
    assert_eq!(r.repository, "acme/api");
    assert_eq!(r.id.image_digest(), Some("sha256:abc"));
    let r = Reference::parse("localhost:5000/api");
    assert!(!r.in_ecr);
    assert_eq!(r.id.image_tag(), Some("latest"));
    assert!(!Reference::parse("registry.example/acme/api:v1").in_ecr);
  }
}
