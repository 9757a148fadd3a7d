//! `cloudwatch alarm-history`: the alarms that went to ALARM in a window —
//! overnight, say — with when each fired and whether and when it recovered,
//! though nothing is in ALARM now.
//!
//! ````markdown
//! ```cloudwatch {name=overnight}
//! action: alarm-history
//! prefix: {{ customer }}-{{ environment }}-
//! since: 12h
//! ```
//! ````

use std::time::Duration;

use aws_sdk_cloudwatch::primitives::DateTime;
use aws_sdk_cloudwatch::types::HistoryItemType;
use serde_json::{Value, json};

use crate::check::parse_duration;
use crate::clock;
use crate::exec::aws_step::{Failure, Fields, Reach, Shown, call, table, time};
use crate::exec::body::Body;

pub struct Request {
  prefix: Option<String>,
  since: Duration,
}

impl Request {
  pub fn from_body(body: &Body) -> Result<Self, String> {
    let since = match body.text("since") {
      None => Duration::from_secs(12 * 3600),
      Some(text) => parse_duration(&text).ok_or_else(|| {
        format!("`cloudwatch`: `since: {text}`: expected a duration such as 12h or 1d")
      })?,
    };
    Ok(Self {
      prefix: body.text("prefix"),
      since,
    })
  }
}

/// One alarm's time in ALARM.
struct Episode {
  alarm: String,
  fired: DateTime,
  reason: String,
  recovered: Option<DateTime>,
}

pub fn alarm_history(run: &Reach, body: &Body) -> Result<(Fields, Shown), Failure> {
  let request = Request::from_body(body)?;
  let aws = run.aws.get()?;
  let client = aws.client(aws_sdk_cloudwatch::Client::new);
  let end = clock::now().seconds();
  let start = end - i64::try_from(request.since.as_secs()).unwrap_or(i64::MAX / 2);
  // (alarm, time, new state, summary), oldest first.
  let mut items: Vec<(String, DateTime, String, String)> = Vec::new();
  let mut next: Option<String> = None;
  loop {
    let page = call(
      run,
      aws,
      "cloudwatch:DescribeAlarmHistory",
      client
        .describe_alarm_history()
        .history_item_type(HistoryItemType::StateUpdate)
        .start_date(DateTime::from_secs(start))
        .end_date(DateTime::from_secs(end))
        .set_next_token(next.take())
        .send(),
    )?;
    for item in page.alarm_history_items() {
      let name = item.alarm_name().unwrap_or_default().to_string();
      if request
        .prefix
        .as_ref()
        .is_some_and(|p| !name.starts_with(p.as_str()))
      {
        continue;
      }
      let Some(at) = item.timestamp() else { continue };
      let summary = item.history_summary().unwrap_or_default().to_string();
      let (state, reason) = new_state(item.history_data(), &summary);
      items.push((name, *at, state, reason.unwrap_or(summary)));
    }
    next = page.next_token().map(str::to_string);
    if next.is_none() {
      break;
    }
  }
  items.sort_by_key(|(_, at, _, _)| at.secs());
  let mut episodes: Vec<Episode> = Vec::new();
  for (alarm, at, state, summary) in items {
    let open = episodes
      .iter_mut()
      .rev()
      .find(|e| e.alarm == alarm && e.recovered.is_none());
    match (state.as_str(), open) {
      ("ALARM", None) => episodes.push(Episode {
        alarm,
        fired: at,
        reason: summary,
        recovered: None,
      }),
      ("ALARM", Some(_)) => {}
      (_, Some(open)) => open.recovered = Some(at),
      (_, None) => {}
    }
  }
  let mut table = table(["alarm", "fired (UTC)", "recovered (UTC)"]);
  let rows: Vec<Value> = episodes
    .iter()
    .map(|e| {
      table.add_row([
        e.alarm.clone(),
        time(Some(&e.fired)).as_str().unwrap_or("-").to_string(),
        e.recovered
          .as_ref()
          .and_then(|r| time(Some(r)).as_str().map(str::to_string))
          .unwrap_or_else(|| "still in ALARM".into()),
      ]);
      json!({
        "alarm": e.alarm,
        "fired_at": time(Some(&e.fired)),
        "recovered_at": time(e.recovered.as_ref()),
        "reason": e.reason,
      })
    })
    .collect();
  let still = episodes.iter().filter(|e| e.recovered.is_none()).count();
  let window = humantime::format_duration(request.since);
  let shown = if rows.is_empty() {
    Shown::from(format!("no alarm went to ALARM in the last {window}\n"))
  } else {
    Shown::default().table(table).text(format!(
      "{} time(s) in ALARM in the last {window}; {still} not recovered\n",
      rows.len()
    ))
  };
  let mut fields = Fields::new();
  fields.insert("since".into(), Value::String(window.to_string()));
  fields.insert(
    "prefix".into(),
    request.prefix.map_or(Value::Null, Value::String),
  );
  fields.insert("fired".into(), rows.len().into());
  fields.insert("not_recovered".into(), still.into());
  fields.insert("episodes".into(), Value::Array(rows));
  Ok((fields, shown))
}

/// The state an update moved to, from its JSON data or else its summary
/// ("Alarm updated from OK to ALARM").
/// The state an update moved to and, when the data gives it, why
/// (`Threshold Crossed: …`).
fn new_state(data: Option<&str>, summary: &str) -> (String, Option<String>) {
  let data = data.and_then(|d| serde_json::from_str::<Value>(d).ok());
  let field = |name: &str| {
    data
      .as_ref()
      .and_then(|d| d["newState"][name].as_str().map(str::to_string))
  };
  let state = field("stateValue")
    .or_else(|| summary.rsplit(" to ").next().map(|s| s.trim().to_string()))
    .unwrap_or_default();
  (state, field("stateReason"))
}

#[cfg(test)]
mod tests {
  use super::*;

  #[test]
  fn the_new_state_comes_from_the_data_or_the_summary() {
    let data =
      r#"{"version":"1.0","oldState":{"stateValue":"OK"},"newState":{"stateValue":"ALARM"}}"#;
    assert_eq!(new_state(Some(data), ""), ("ALARM".to_string(), None));
    assert_eq!(
      new_state(None, "Alarm updated from ALARM to OK"),
      ("OK".to_string(), None)
    );
    let data =
      r#"{"newState":{"stateValue":"ALARM","stateReason":"Threshold Crossed: 3 datapoints"}}"#;
    assert_eq!(
      new_state(Some(data), "").1.as_deref(),
      Some("Threshold Crossed: 3 datapoints")
    );
  }
}
