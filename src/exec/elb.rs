//! `elb`: the health of a target group's targets, its health check and
//! stickiness settings, and a load balancer's listeners with their rules
//! and certificates.
//!
//! ````markdown
//! ```elb
//! action: targets                      # targets | target-group | listeners
//! target-group: {{ customer }}-api     # name or ARN
//! ```
//! ````
//!
//! `listeners` takes `load-balancer:` (a name or ARN) and `min-days:` (30):
//! a certificate expiring sooner is flagged.

use serde_json::{Value, json};

use super::action::{Execute, Output, StepRun};
use super::aws_step::{Failure, Fields, Reach, Shown, call, finish, table, time};
use super::body::Body;
use super::prefetch::Read;
use crate::aws::Aws;
use crate::model::ActionKind;

pub struct Elb;

impl Execute for Elb {
  fn fields(&self) -> &'static [&'static str] {
    &[
      "expiring",
      "health_check",
      "healthy",
      "listeners",
      "load_balancer",
      "min_days",
      "stickiness",
      "target_group",
      "targets",
      "total",
    ]
  }

  fn check(&self, text: &str, _options: &[(String, String)]) -> Result<(), String> {
    Spec::parse(&Body::parse(ActionKind::Elb, text)?).map(|_| ())
  }

  fn read(&self) -> Option<Read> {
    Some(dispatch)
  }

  fn execute(&self, run: &mut StepRun) -> Output {
    let result = super::prefetch::read(run, dispatch);
    finish(run, result)
  }
}

enum Spec {
  Targets(String),
  TargetGroup(String),
  Listeners {
    load_balancer: String,
    min_days: i64,
  },
}

impl Spec {
  fn parse(body: &Body) -> Result<Self, String> {
    match body.required("action")?.as_str() {
      "targets" => Ok(Self::Targets(body.required("target-group")?)),
      "target-group" => Ok(Self::TargetGroup(body.required("target-group")?)),
      "listeners" => {
        let min_days = match body.text("min-days") {
          None => 30,
          Some(text) => text
            .parse()
            .ok()
            .filter(|d| *d >= 0)
            .ok_or_else(|| format!("`elb`: `min-days: {text}`: expected a number of days"))?,
        };
        Ok(Self::Listeners {
          load_balancer: body.required("load-balancer")?,
          min_days,
        })
      }
      other => Err(body.unknown_action(other)),
    }
  }
}

fn dispatch(run: &Reach) -> Result<(Fields, Shown), Failure> {
  match Spec::parse(&Body::parse(ActionKind::Elb, run.text)?)? {
    Spec::Targets(group) => targets(run, &group),
    Spec::TargetGroup(group) => settings(run, &group),
    Spec::Listeners {
      load_balancer,
      min_days,
    } => listeners(run, &load_balancer, min_days),
  }
}

/// A target group's ARN, from a name or an ARN.
fn group_arn(run: &Reach, aws: &Aws, group: &str) -> Result<String, Failure> {
  let client = aws.client(aws_sdk_elasticloadbalancingv2::Client::new);
  if group.starts_with("arn:") {
    return Ok(group.to_string());
  }
  let found = call(
    run,
    aws,
    "elbv2:DescribeTargetGroups",
    client.describe_target_groups().names(group).send(),
  )?;
  Ok(
    found
      .target_groups()
      .first()
      .and_then(|g| g.target_group_arn())
      .ok_or_else(|| format!("elbv2:DescribeTargetGroups: no target group named {group}"))?
      .to_string(),
  )
}

fn targets(run: &Reach, group: &str) -> Result<(Fields, Shown), Failure> {
  let aws = run.aws.get()?;
  let client = aws.client(aws_sdk_elasticloadbalancingv2::Client::new);
  let arn = group_arn(run, aws, group)?;
  let health = call(
    run,
    aws,
    "elbv2:DescribeTargetHealth",
    client
      .describe_target_health()
      .target_group_arn(&arn)
      .send(),
  )?;
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

/// A target group's health check and stickiness: "health check path,
/// interval and expected codes" as read, not recalled.
fn settings(run: &Reach, group: &str) -> Result<(Fields, Shown), Failure> {
  let aws = run.aws.get()?;
  let client = aws.client(aws_sdk_elasticloadbalancingv2::Client::new);
  let arn = group_arn(run, aws, group)?;
  let found = call(
    run,
    aws,
    "elbv2:DescribeTargetGroups",
    client
      .describe_target_groups()
      .target_group_arns(&arn)
      .send(),
  )?;
  let Some(g) = found.target_groups().first() else {
    return Err(format!("elbv2:DescribeTargetGroups: no target group {arn}").into());
  };
  let attributes = call(
    run,
    aws,
    "elbv2:DescribeTargetGroupAttributes",
    client
      .describe_target_group_attributes()
      .target_group_arn(&arn)
      .send(),
  )?;
  let attribute = |key: &str| {
    attributes
      .attributes()
      .iter()
      .find(|a| a.key() == Some(key))
      .and_then(|a| a.value())
      .map(str::to_string)
  };
  let health_check = json!({
    "protocol": g.health_check_protocol().map(|p| p.as_str()),
    "path": g.health_check_path(),
    "port": g.health_check_port(),
    "interval_seconds": g.health_check_interval_seconds(),
    "timeout_seconds": g.health_check_timeout_seconds(),
    "healthy_threshold": g.healthy_threshold_count(),
    "unhealthy_threshold": g.unhealthy_threshold_count(),
    "matcher": g.matcher().and_then(|m| m.http_code()),
  });
  let stickiness = json!({
    "enabled": attribute("stickiness.enabled").as_deref() == Some("true"),
    "type": attribute("stickiness.type"),
  });
  let shown = format!(
    "{} · {} {} on port {} every {} s (timeout {} s) · healthy after {}, unhealthy after {} · expects {} · stickiness {}\n",
    g.target_group_name().unwrap_or("?"),
    health_check["protocol"].as_str().unwrap_or("-"),
    health_check["path"].as_str().unwrap_or("-"),
    health_check["port"].as_str().unwrap_or("-"),
    health_check["interval_seconds"],
    health_check["timeout_seconds"],
    health_check["healthy_threshold"],
    health_check["unhealthy_threshold"],
    health_check["matcher"].as_str().unwrap_or("-"),
    if stickiness["enabled"] == true {
      "on"
    } else {
      "off"
    },
  );
  let mut fields = Fields::new();
  fields.insert("target_group".into(), Value::String(arn));
  fields.insert("health_check".into(), health_check);
  fields.insert("stickiness".into(), stickiness);
  Ok((fields, shown.into()))
}

/// A load balancer's listeners, the target groups their rules route to, and
/// their certificates with days left (flagged under `min_days`).
fn listeners(run: &Reach, load_balancer: &str, min_days: i64) -> Result<(Fields, Shown), Failure> {
  let aws = run.aws.get()?;
  let client = aws.client(aws_sdk_elasticloadbalancingv2::Client::new);
  let arn = if load_balancer.starts_with("arn:") {
    load_balancer.to_string()
  } else {
    // `app/NAME/ID` as CloudWatch names it, or the bare name.
    let name = load_balancer.split('/').nth(1).unwrap_or(load_balancer);
    let found = call(
      run,
      aws,
      "elbv2:DescribeLoadBalancers",
      client.describe_load_balancers().names(name).send(),
    )?;
    found
      .load_balancers()
      .first()
      .and_then(|b| b.load_balancer_arn())
      .ok_or_else(|| format!("elbv2:DescribeLoadBalancers: no load balancer named {name}"))?
      .to_string()
  };
  let listed = call(
    run,
    aws,
    "elbv2:DescribeListeners",
    client.describe_listeners().load_balancer_arn(&arn).send(),
  )?;
  let acm = aws.client(aws_sdk_acm::Client::new);
  let now = crate::clock::now().seconds();
  let mut table = table([
    "listener",
    "routes to",
    "certificate",
    "expires",
    "days left",
  ]);
  let mut rows = Vec::new();
  let mut expiring = Vec::new();
  for listener in listed.listeners() {
    let listener_arn = listener.listener_arn().unwrap_or_default();
    let rules = call(
      run,
      aws,
      "elbv2:DescribeRules",
      client.describe_rules().listener_arn(listener_arn).send(),
    )?;
    let mut groups: Vec<String> = Vec::new();
    for action in rules.rules().iter().flat_map(|r| r.actions()) {
      if let Some(g) = action
        .target_group_arn()
        .map(|g| g.rsplit('/').nth(1).unwrap_or(g))
        && !groups.iter().any(|x| x == g)
      {
        groups.push(g.to_string());
      }
    }
    let mut certificates = Vec::new();
    for certificate in listener.certificates() {
      let Some(cert_arn) = certificate.certificate_arn() else {
        continue;
      };
      let described = call(
        run,
        aws,
        "acm:DescribeCertificate",
        acm.describe_certificate().certificate_arn(cert_arn).send(),
      )?;
      let detail = described.certificate();
      let not_after = detail.and_then(|d| d.not_after());
      let days = not_after.map(|t| (t.secs() - now).div_euclid(86_400));
      let soon = days.is_none_or(|d| d < min_days);
      if soon {
        expiring.push(Value::String(cert_arn.to_string()));
      }
      certificates.push(json!({
        "arn": cert_arn,
        "domain": detail.and_then(|d| d.domain_name()),
        "status": detail.and_then(|d| d.status()).map(|s| s.as_str()),
        "not_after": time(not_after),
        "days_left": days,
        "expiring": soon,
      }));
    }
    let name = format!(
      "{} {}",
      listener.protocol().map_or("?", |p| p.as_str()),
      listener.port().map_or("?".into(), |p| p.to_string())
    );
    let first_cert = certificates.first();
    table.add_row([
      name.clone(),
      if groups.is_empty() {
        "-".into()
      } else {
        groups.join(", ")
      },
      first_cert
        .and_then(|c| c["domain"].as_str())
        .unwrap_or("-")
        .to_string(),
      first_cert
        .and_then(|c| c["not_after"].as_str())
        .unwrap_or("-")
        .to_string(),
      first_cert.map_or("-".into(), |c| c["days_left"].to_string()),
    ]);
    rows.push(json!({
      "listener": name,
      "protocol": listener.protocol().map(|p| p.as_str()),
      "port": listener.port(),
      "target_groups": groups,
      "certificates": certificates,
    }));
  }
  let summary = if expiring.is_empty() {
    format!(
      "{} listener(s); no certificate expires within {min_days} days\n",
      rows.len()
    )
  } else {
    format!(
      "{} certificate(s) expire within {min_days} days\n",
      expiring.len()
    )
  };
  let mut fields = Fields::new();
  fields.insert("load_balancer".into(), Value::String(arn));
  fields.insert("min_days".into(), json!(min_days));
  fields.insert("expiring".into(), Value::Array(expiring));
  fields.insert("listeners".into(), Value::Array(rows));
  Ok((fields, Shown::default().table(table).text(summary)))
}
