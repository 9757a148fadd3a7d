//! `quotas`: the Service Quotas of the services a workload uses, each with
//! its usage where AWS publishes a usage metric, flagged above a share —
//! "service limits checked" as numbers rather than a ticked box.
//!
//! ````markdown
//! ```quotas {name=limits}
//! services: [ecs, fargate, elasticloadbalancing, dynamodb]
//! quotas: [L-3032A538]   # only these quota codes (default: every quota)
//! max-percent: 80        # flagged at or above this share of the quota
//! since: 1h              # the usage window (its peak counts)
//! ```
//! ````

use std::collections::BTreeMap;
use std::time::Duration;

use aws_sdk_cloudwatch::types::{Dimension, Statistic};
use aws_sdk_servicequotas::types::{PeriodUnit, ServiceQuota};
use serde_json::{Value, json};

use super::action::{Execute, Output, StepRun};
use super::aws_step::{Failure, Fields, Reach, Shown, call, finish, table};
use super::body::Body;
use super::prefetch::Read;
use crate::aws::Aws;
use crate::check::parse_duration;
use crate::clock;
use crate::model::ActionKind;

pub struct Quotas;

impl Execute for Quotas {
  fn fields(&self) -> &'static [&'static str] {
    &["all_below", "flagged", "max_percent", "quotas"]
  }

  fn check(&self, text: &str, _options: &[(String, String)]) -> Result<(), String> {
    Spec::parse(&Body::parse(ActionKind::Quotas, text)?).map(|_| ())
  }

  fn read(&self) -> Option<Read> {
    Some(read)
  }

  fn execute(&self, run: &mut StepRun) -> Output {
    let result = super::prefetch::read(run, read);
    finish(run, result)
  }
}

struct Spec {
  services: Vec<String>,
  codes: Vec<String>,
  max_percent: f64,
  since: Duration,
}

impl Spec {
  fn parse(body: &Body) -> Result<Self, String> {
    let services = body.list("services");
    if services.is_empty() {
      return Err(
        "`quotas`: `services` is required: service codes such as ecs, fargate, dynamodb".into(),
      );
    }
    let max_percent = match body.text("max-percent") {
      None => 80.0,
      Some(text) => text
        .trim_end_matches('%')
        .parse::<f64>()
        .ok()
        .filter(|p| *p > 0.0 && *p <= 100.0)
        .ok_or_else(|| {
          format!("`quotas`: `max-percent: {text}`: expected a share above 0 and up to 100")
        })?,
    };
    let since = match body.text("since") {
      None => Duration::from_secs(3600),
      Some(text) => parse_duration(&text)
        .filter(|d| d.as_secs() >= 60)
        .ok_or_else(|| {
          format!("`quotas`: `since: {text}`: expected a duration of a minute or more, such as 1h")
        })?,
    };
    Ok(Self {
      services,
      codes: body.list("quotas"),
      max_percent,
      since,
    })
  }
}

/// One quota as read: its value and, where AWS publishes one, its usage.
struct Measured {
  quota: ServiceQuota,
  /// Whether the value is the account's applied one (else AWS's default).
  applied: bool,
  usage: Option<f64>,
}

impl Measured {
  fn percent(&self) -> Option<f64> {
    let value = self.quota.value()?;
    (value > 0.0).then(|| self.usage.map(|u| u / value * 100.0))?
  }
}

fn read(run: &Reach) -> Result<(Fields, Shown), Failure> {
  let spec = Spec::parse(&Body::parse(ActionKind::Quotas, run.text)?)?;
  let aws = run.aws.get()?;
  let mut reads = Vec::new();
  for service in &spec.services {
    for (quota, applied) in service_quotas(run, aws, service)? {
      if spec.codes.is_empty()
        || spec
          .codes
          .iter()
          .any(|c| Some(c.as_str()) == quota.quota_code())
      {
        let usage = usage(run, aws, &quota, spec.since)?;
        reads.push(Measured {
          quota,
          applied,
          usage,
        });
      }
    }
  }
  if let Some(code) = spec.codes.iter().find(|c| {
    !reads
      .iter()
      .any(|r| r.quota.quota_code() == Some(c.as_str()))
  }) {
    return Err(
      format!(
        "servicequotas: no quota {code} in {}",
        spec.services.join(", ")
      )
      .into(),
    );
  }
  let mut table = table(["service", "quota", "value", "peak usage", "share"]);
  let mut rows = Vec::new();
  let mut flagged = Vec::new();
  let mut with_usage = 0;
  for read in &reads {
    let q = &read.quota;
    let name = q.quota_name().unwrap_or_default();
    let percent = read.percent();
    let over = percent.is_some_and(|p| p >= spec.max_percent);
    let value = q.value().map_or("-".to_string(), number);
    if over {
      flagged.push(Value::String(format!(
        "{} {name}: {:.0} % ({} of {value})",
        q.service_code().unwrap_or_default(),
        percent.unwrap_or_default(),
        read.usage.map_or("-".into(), number)
      )));
    }
    with_usage += usize::from(read.usage.is_some());
    // Quotas named one by one are shown whether or not AWS measures them.
    if read.usage.is_some() || !spec.codes.is_empty() {
      table.add_row([
        q.service_code().unwrap_or_default().to_string(),
        name.to_string(),
        value,
        read.usage.map_or("-".into(), number),
        match percent {
          Some(p) if over => format!("{p:.0} % ≥ {}", spec.max_percent),
          Some(p) => format!("{p:.0} %"),
          None => "-".into(),
        },
      ]);
    }
    rows.push(json!({
      "service": q.service_code(),
      "code": q.quota_code(),
      "name": name,
      "value": q.value(),
      "unit": q.unit(),
      "adjustable": q.adjustable(),
      "applied": read.applied,
      "usage": read.usage,
      "percent": percent,
      "flagged": over,
    }));
  }
  let summary = format!(
    "{} quota(s) of {}, {with_usage} with a usage metric; {}\n",
    rows.len(),
    spec.services.join(", "),
    if flagged.is_empty() {
      format!("none at or above {} %", spec.max_percent)
    } else {
      format!(
        "at or above {} %: {}",
        spec.max_percent,
        flagged
          .iter()
          .filter_map(Value::as_str)
          .collect::<Vec<_>>()
          .join("; ")
      )
    }
  );
  let mut fields = Fields::new();
  fields.insert("all_below".into(), Value::Bool(flagged.is_empty()));
  fields.insert("flagged".into(), Value::Array(flagged));
  fields.insert("max_percent".into(), json!(spec.max_percent));
  fields.insert("quotas".into(), Value::Array(rows));
  Ok((fields, Shown::default().rows(table).text(summary)))
}

/// 1 for 1.0, 0.5 for 0.5: a quota's numbers as people write them.
fn number(n: f64) -> String {
  if n.fract() == 0.0 && n.abs() < 1e15 {
    format!("{}", n as i64)
  } else {
    format!("{n:.2}")
  }
}

/// Every quota of `service`: the account's applied values, and AWS's
/// defaults for the quotas with no applied value (AWS lists only some of a
/// service's quotas as applied). In quota-code order.
fn service_quotas(
  run: &Reach,
  aws: &Aws,
  service: &str,
) -> Result<Vec<(ServiceQuota, bool)>, Failure> {
  let client = aws.client(aws_sdk_servicequotas::Client::new);
  let defaults = call(
    run,
    aws,
    "servicequotas:ListAWSDefaultServiceQuotas",
    client
      .list_aws_default_service_quotas()
      .service_code(service)
      .into_paginator()
      .items()
      .send()
      .try_collect(),
  )?;
  let applied = call(
    run,
    aws,
    "servicequotas:ListServiceQuotas",
    client
      .list_service_quotas()
      .service_code(service)
      .into_paginator()
      .items()
      .send()
      .try_collect(),
  )?;
  // An applied value replaces its default.
  let quotas: BTreeMap<String, (ServiceQuota, bool)> = defaults
    .into_iter()
    .map(|q| (q, false))
    .chain(applied.into_iter().map(|q| (q, true)))
    .map(|(q, applied)| (q.quota_code().unwrap_or_default().to_string(), (q, applied)))
    .collect();
  Ok(quotas.into_values().collect())
}

/// The quota's peak usage over `since` from the CloudWatch metric Service
/// Quotas names for it; a rate quota's usage is counted per its own period.
fn usage(
  run: &Reach,
  aws: &Aws,
  quota: &ServiceQuota,
  since: Duration,
) -> Result<Option<f64>, Failure> {
  let Some(metric) = quota.usage_metric() else {
    return Ok(None);
  };
  let (Some(namespace), Some(name)) = (metric.metric_namespace(), metric.metric_name()) else {
    return Ok(None);
  };
  let statistic = Statistic::from(
    metric
      .metric_statistic_recommendation()
      .unwrap_or("Maximum"),
  );
  let dimensions: Vec<Dimension> = metric
    .metric_dimensions()
    .map(|d| {
      d.iter()
        .map(|(k, v)| Dimension::builder().name(k).value(v).build())
        .collect()
    })
    .unwrap_or_default();
  let end = clock::now().seconds();
  let window = i64::try_from(since.as_secs()).unwrap_or(i64::MAX / 2);
  // One-minute periods, fewer and longer for a long window (at most 1,440).
  let period = (window / 1440).max(60) / 60 * 60;
  let answer = call(
    run,
    aws,
    "cloudwatch:GetMetricStatistics",
    aws
      .client(aws_sdk_cloudwatch::Client::new)
      .get_metric_statistics()
      .namespace(namespace)
      .metric_name(name)
      .set_dimensions(Some(dimensions))
      .start_time(aws_sdk_cloudwatch::primitives::DateTime::from_secs(
        end - window,
      ))
      .end_time(aws_sdk_cloudwatch::primitives::DateTime::from_secs(end))
      .period(i32::try_from(period).unwrap_or(i32::MAX))
      .statistics(statistic.clone())
      .send(),
  )?;
  let peak = answer
    .datapoints()
    .iter()
    .filter_map(|d| match statistic {
      Statistic::Sum => d.sum(),
      Statistic::Average => d.average(),
      Statistic::Minimum => d.minimum(),
      Statistic::SampleCount => d.sample_count(),
      _ => d.maximum(),
    })
    .reduce(f64::max);
  // A rate quota (calls per second) against a usage summed per period.
  let per = quota.period().and_then(|p| {
    let unit = match p.period_unit()? {
      PeriodUnit::Microsecond => 1e-6,
      PeriodUnit::Millisecond => 1e-3,
      PeriodUnit::Second => 1.0,
      PeriodUnit::Minute => 60.0,
      PeriodUnit::Hour => 3600.0,
      PeriodUnit::Day => 86400.0,
      PeriodUnit::Week => 604_800.0,
      _ => return None,
    };
    Some(f64::from(p.period_value()?) * unit)
  });
  Ok(match (peak, per) {
    (Some(peak), Some(per)) if statistic == Statistic::Sum => Some(peak * per / period as f64),
    (peak, _) => peak,
  })
}

#[cfg(test)]
mod tests {
  use super::number;

  #[test]
  fn numbers_read_as_written() {
    assert_eq!(number(200.0), "200");
    assert_eq!(number(0.5), "0.50");
    assert_eq!(number(1e20), "100000000000000000000.00");
  }
}
