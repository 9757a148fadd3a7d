//! `cloudwatch`: alarms by state, and metrics (in `metric`).
//!
//! ````markdown
//! ```cloudwatch
//! action: alarms
//! state: ALARM            # ALARM (default), OK, INSUFFICIENT_DATA or any
//! prefix: "{{ customer }}-{{ environment }}-"
//! ```
//! ````

mod dashboard;
mod history;
mod metric;

use aws_sdk_cloudwatch::types::StateValue;
use serde_json::{Value, json};

use crate::aws::Aws;
use crate::exec::action::{Execute, Output, StepRun};
use crate::exec::aws_step::{Failure, Fields, Reach, Shown, call, finish, table};
use crate::exec::body::Body;
use crate::exec::prefetch::Pending;
use crate::model::{ActionKind, Step};

pub struct CloudWatch;

impl Execute for CloudWatch {
  fn fields(&self) -> &'static [&'static str] {
    &[
      "alarms",
      "all_have_data",
      "average",
      "baseline",
      "breaches",
      "change_percent",
      "count",
      "dashboard",
      "dimensions",
      "end",
      "episodes",
      "fired",
      "latest",
      "max",
      "metric",
      "min",
      "namespace",
      "no_data",
      "not_recovered",
      "period",
      "points",
      "prefix",
      "since",
      "start",
      "stat",
      "state",
      "threshold",
      "values",
      "widgets",
    ]
  }

  fn check(&self, text: &str, _options: &[(String, String)]) -> Result<(), String> {
    let body = Body::parse(ActionKind::CloudWatch, text)?;
    match body.required("action")?.as_str() {
      "alarms" => alarm_state(&body).map(|_| ()),
      "metric" => metric::check(&body),
      "alarm-history" => history::Request::from_body(&body).map(|_| ()),
      "dashboard" => dashboard::Request::from_body(&body).map(|_| ()),
      other => Err(body.unknown_action(other)),
    }
  }

  fn prefetch(
    &self,
    step: &Step,
    text: &str,
    aws: &std::sync::Arc<Aws>,
  ) -> Option<Box<dyn Pending>> {
    let body = Body::parse(ActionKind::CloudWatch, text).ok()?;
    match body.text("action")?.as_str() {
      // A metric fetch is one future on the run's runtime.
      "metric" => metric::prefetch(&body, aws),
      _ => Some(crate::exec::prefetch::background(
        text,
        aws.clone(),
        step.policy.timeout,
        read,
      )),
    }
  }

  fn execute(&self, run: &mut StepRun) -> Output {
    let result = match Body::parse(ActionKind::CloudWatch, run.text) {
      Ok(body) if body.text("action").as_deref() == Some("metric") => metric::metric(run, &body),
      _ => crate::exec::prefetch::read(run, read),
    };
    finish(run, result)
  }
}

/// Every action but `metric`: calls made one after another.
fn read(run: &Reach) -> Result<(Fields, Shown), Failure> {
  let body = Body::parse(ActionKind::CloudWatch, run.text)?;
  match body.required("action")?.as_str() {
    "alarms" => alarms(run, &body),
    "alarm-history" => history::alarm_history(run, &body),
    "dashboard" => dashboard::dashboard(run, &body),
    other => Err(body.unknown_action(other).into()),
  }
}

/// The alarm state `action: alarms` lists (`None`: any), ALARM by default.
fn alarm_state(body: &Body) -> Result<(String, Option<StateValue>), String> {
  let state = body
    .text("state")
    .unwrap_or_else(|| "ALARM".into())
    .to_uppercase();
  let filter = match state.as_str() {
    "ANY" => None,
    "ALARM" | "OK" | "INSUFFICIENT_DATA" => Some(StateValue::from(state.as_str())),
    other => {
      return Err(format!(
        "`cloudwatch`: `state: {other}`: expected ALARM, OK, INSUFFICIENT_DATA or any"
      ));
    }
  };
  Ok((state, filter))
}

fn alarms(run: &Reach, body: &Body) -> Result<(Fields, Shown), Failure> {
  let (state, state_filter) = alarm_state(body)?;
  let prefix = body.text("prefix");
  let aws = run.aws.get()?;
  let client = aws.client(aws_sdk_cloudwatch::Client::new);
  let mut alarms = Vec::new();
  let mut next = None;
  loop {
    let page = call(
      run,
      aws,
      "cloudwatch:DescribeAlarms",
      client
        .describe_alarms()
        .set_state_value(state_filter.clone())
        .set_alarm_name_prefix(prefix.clone())
        .set_next_token(next.take())
        .send(),
    )?;
    // AWS applies the prefix and the state together; moto 5.2.5 only the
    // prefix when both are given. Filtering here too is right either way.
    alarms.extend(
      page
        .metric_alarms()
        .iter()
        .filter(|a| {
          state_filter
            .as_ref()
            .is_none_or(|s| a.state_value() == Some(s))
        })
        .cloned(),
    );
    next = page.next_token().map(str::to_string);
    if next.is_none() {
      break;
    }
  }
  let mut table = table(["alarm", "state", "since", "reason"]);
  let rows: Vec<Value> = alarms
    .iter()
    .map(|a| {
      let updated = crate::exec::aws_step::time(a.state_updated_timestamp());
      table.add_row([
        a.alarm_name().unwrap_or_default().to_string(),
        a.state_value().map_or("", |s| s.as_str()).to_string(),
        updated.as_str().unwrap_or("-").to_string(),
        a.state_reason().unwrap_or_default().to_string(),
      ]);
      json!({
        "name": a.alarm_name(),
        "state": a.state_value().map(|s| s.as_str()),
        "reason": a.state_reason(),
        "updated_at": updated,
        "namespace": a.namespace(),
        "metric": a.metric_name(),
        "threshold": a.threshold(),
        "comparison": a.comparison_operator().map(|c| c.as_str()),
      })
    })
    .collect();
  let shown = if rows.is_empty() {
    Shown::from(format!("no alarms in state {state}\n"))
  } else {
    Shown::default()
      .table(table)
      .text(format!("{} alarm(s) in state {state}\n", rows.len()))
  };
  let mut fields = Fields::new();
  fields.insert("state".into(), Value::String(state));
  fields.insert("prefix".into(), prefix.map_or(Value::Null, Value::String));
  fields.insert("count".into(), rows.len().into());
  fields.insert("alarms".into(), Value::Array(rows));
  Ok((fields, shown))
}
