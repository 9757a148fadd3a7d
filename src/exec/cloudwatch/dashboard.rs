//! `cloudwatch dashboard`: does every widget of a dashboard show current
//! data? Each metric widget's metrics are fetched for the window; those
//! with no data points are named — "no 'No data available'" as a fact.
//!
//! ````markdown
//! ```cloudwatch {name=dashboard}
//! action: dashboard
//! dashboard: {{ customer }}-{{ environment }}-technical-dashboard
//! since: 3h
//! ```
//! ````

use std::time::Duration;

use aws_sdk_cloudwatch::primitives::DateTime;
use aws_sdk_cloudwatch::types::{Dimension, Statistic};
use serde_json::{Value, json};

use crate::check::parse_duration;
use crate::clock;
use crate::exec::aws_step::{Failure, Fields, Reach, Shown, call, table};
use crate::exec::body::Body;

pub struct Request {
  dashboard: String,
  since: Duration,
}

impl Request {
  pub fn from_body(body: &Body) -> Result<Self, String> {
    let since = match body.text("since") {
      None => Duration::from_secs(3 * 3600),
      Some(text) => parse_duration(&text)
        .ok_or_else(|| format!("`cloudwatch`: `since: {text}`: expected a duration such as 3h"))?,
    };
    Ok(Self {
      dashboard: body.required("dashboard")?,
      since,
    })
  }
}

/// One metric a widget plots: namespace, name and dimensions.
#[derive(Debug, PartialEq)]
struct Plotted {
  namespace: String,
  name: String,
  dimensions: Vec<(String, String)>,
}

/// The metrics of a widget's `properties.metrics`, in CloudWatch's array
/// form (`[namespace, name, dim, value, …, {options}]`, where `.` repeats
/// the previous line's entry); math expressions are left out.
fn plotted(metrics: &[Value]) -> Vec<Plotted> {
  let mut out = Vec::new();
  let mut previous: Vec<String> = Vec::new();
  for line in metrics {
    let Some(items) = line.as_array() else {
      continue;
    };
    let words: Vec<String> = items
      .iter()
      .enumerate()
      .filter_map(|(i, v)| match v.as_str() {
        Some(".") => previous.get(i).cloned(),
        Some(s) => Some(s.to_string()),
        None => None,
      })
      .collect();
    previous.clone_from(&words);
    if words.len() < 2 || words[0] == "..." {
      continue;
    }
    let dimensions = words[2..]
      .chunks(2)
      .filter(|pair| pair.len() == 2)
      .map(|pair| (pair[0].clone(), pair[1].clone()))
      .collect();
    out.push(Plotted {
      namespace: words[0].clone(),
      name: words[1].clone(),
      dimensions,
    });
  }
  out
}

pub fn dashboard(run: &Reach, body: &Body) -> Result<(Fields, Shown), Failure> {
  let request = Request::from_body(body)?;
  let aws = run.aws.get()?;
  let client = aws.client(aws_sdk_cloudwatch::Client::new);
  let found = call(
    run,
    aws,
    "cloudwatch:GetDashboard",
    client
      .get_dashboard()
      .dashboard_name(&request.dashboard)
      .send(),
  )?;
  let definition: Value = found
    .dashboard_body()
    .and_then(|b| serde_json::from_str(b).ok())
    .ok_or_else(|| {
      format!(
        "cloudwatch:GetDashboard: {} has no readable body",
        request.dashboard
      )
    })?;
  let end = clock::now().seconds();
  let start = end - i64::try_from(request.since.as_secs()).unwrap_or(i64::MAX / 2);
  let mut table = table(["widget", "metric", "points"]);
  let mut widgets = Vec::new();
  let mut empty = Vec::new();
  for (n, widget) in definition["widgets"]
    .as_array()
    .into_iter()
    .flatten()
    .enumerate()
  {
    if widget["type"] != "metric" {
      continue;
    }
    let title = widget["properties"]["title"]
      .as_str()
      .map_or_else(|| format!("widget {}", n + 1), str::to_string);
    let metrics = widget["properties"]["metrics"]
      .as_array()
      .cloned()
      .unwrap_or_default();
    let mut rows = Vec::new();
    let mut any = false;
    for metric in plotted(&metrics) {
      let request = client
        .get_metric_statistics()
        .namespace(&metric.namespace)
        .metric_name(&metric.name)
        .set_dimensions(Some(
          metric
            .dimensions
            .iter()
            .map(|(k, v)| Dimension::builder().name(k).value(v).build())
            .collect(),
        ))
        .start_time(DateTime::from_secs(start))
        .end_time(DateTime::from_secs(end))
        .period(300)
        .statistics(Statistic::SampleCount)
        .send();
      let points = call(run, aws, "cloudwatch:GetMetricStatistics", request)?
        .datapoints()
        .len();
      any |= points > 0;
      let label = format!("{} {}", metric.namespace, metric.name);
      table.add_row([title.clone(), label.clone(), points.to_string()]);
      rows.push(json!({"metric": label, "dimensions": metric.dimensions, "points": points}));
    }
    if !any {
      empty.push(Value::String(title.clone()));
    }
    widgets.push(json!({"widget": title, "has_data": any, "metrics": rows}));
  }
  let window = humantime::format_duration(request.since);
  let summary = if empty.is_empty() {
    format!("every metric widget has data in the last {window}\n")
  } else {
    format!(
      "no data in the last {window}: {}\n",
      empty
        .iter()
        .filter_map(Value::as_str)
        .collect::<Vec<_>>()
        .join(", ")
    )
  };
  let mut fields = Fields::new();
  fields.insert("dashboard".into(), Value::String(request.dashboard));
  fields.insert("all_have_data".into(), Value::Bool(empty.is_empty()));
  fields.insert("no_data".into(), Value::Array(empty));
  fields.insert("widgets".into(), Value::Array(widgets));
  Ok((fields, Shown::default().table(table).text(summary)))
}

#[cfg(test)]
mod tests {
  use super::*;

  #[test]
  fn widget_metrics_in_array_form_with_repeats() {
    let metrics = serde_json::json!([
      ["AWS/ECS", "CPUUtilization", "ClusterName", "prod", "ServiceName", "api", {"stat": "Average"}],
      [".", "MemoryUtilization", ".", ".", ".", "."],
      [{"expression": "m1 + m2"}],
    ]);
    let found = plotted(metrics.as_array().expect("array"));
    assert_eq!(found.len(), 2);
    assert_eq!(found[1].namespace, "AWS/ECS");
    assert_eq!(found[1].name, "MemoryUtilization");
    assert_eq!(
      found[1].dimensions,
      [
        ("ClusterName".into(), "prod".into()),
        ("ServiceName".into(), "api".into())
      ]
    );
  }
}
