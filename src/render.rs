//! `litops render --html`: one self-contained HTML file from a transcript —
//! no external assets, readable offline — for people who do not read
//! Markdown: the run's header and verification, a timeline of steps, and
//! each step's action and output, query rows as tables.

use std::fmt::Write as _;
use std::path::Path;

use serde_json::Value;

use crate::transcript::{Decision, Event, Record, seconds};
use crate::verify::Verified;

const STYLE: &str = "
body { font: 15px/1.45 system-ui, sans-serif; margin: 2rem auto; max-width: 72rem; padding: 0 1rem; color: #1d1d1f; }
h1 { margin-bottom: .2rem; } h2 { border-bottom: 1px solid #ddd; padding-bottom: .2rem; }
dl.meta { display: grid; grid-template-columns: max-content 1fr; gap: .15rem 1rem; }
dl.meta dt { color: #555; } dl.meta dd { margin: 0; }
code, pre { font: 13px/1.4 ui-monospace, monospace; }
pre { background: #f6f6f6; padding: .6rem; overflow-x: auto; white-space: pre-wrap; }
table { border-collapse: collapse; margin: .5rem 0; } td, th { border: 1px solid #ddd; padding: .2rem .5rem; text-align: left; vertical-align: top; }
ol.timeline { list-style: none; padding: 0; }
ol.timeline li { display: grid; grid-template-columns: 16rem 7rem 6rem 1fr; gap: .5rem; align-items: center; padding: .1rem 0; }
.bar { height: .6rem; background: #999; min-width: 2px; }
.status { font-weight: 600; border-radius: 3px; padding: 0 .4rem; color: #fff; background: #777; }
.st-done .status { background: #2e7d32; } .st-done .bar { background: #2e7d32; }
.st-failed .status, .st-timed-out .status, .st-interrupted .status { background: #c62828; }
.st-failed .bar, .st-timed-out .bar, .st-interrupted .bar { background: #c62828; }
.st-unconfirmed .status, .st-not-done .status { background: #ef6c00; }
.st-skipped .status, .st-n\\/a .status { background: #757575; }
.verified-ok { color: #2e7d32; font-weight: 600; } .verified-bad { color: #c62828; font-weight: 600; }
article.step { border-left: 4px solid #ddd; padding-left: 1rem; margin: 1.5rem 0; }
article.st-done { border-color: #2e7d32; } article.st-failed, article.st-timed-out, article.st-interrupted { border-color: #c62828; }
article.st-unconfirmed { border-color: #ef6c00; }
.error { color: #c62828; font-weight: 600; }
";

/// HTML text with `&`, `<`, `>` and quotes escaped.
pub fn escape(text: &str) -> String {
  let mut out = String::with_capacity(text.len());
  for c in text.chars() {
    match c {
      '&' => out.push_str("&amp;"),
      '<' => out.push_str("&lt;"),
      '>' => out.push_str("&gt;"),
      '"' => out.push_str("&quot;"),
      '\'' => out.push_str("&#39;"),
      c => out.push(c),
    }
  }
  out
}

/// One step as rendered: its start (if it started) and its result.
struct Step<'a> {
  id: &'a str,
  index: usize,
  total: usize,
  kind: &'a str,
  action: Option<&'a str>,
  started: Option<&'a Decision>,
  finished: Option<&'a Event>,
  /// The `approved` or `break-glass` record the step ran under.
  gate: Option<&'a Event>,
}

pub fn html(path: &Path, records: &[Record], verified: &Verified) -> String {
  let mut out = String::new();
  let events: Vec<&Event> = records.iter().map(|r| &r.event).collect();
  let title = events.iter().find_map(|e| match e {
    Event::RunStarted { title, .. } => Some(title.as_str()),
    _ => None,
  });
  let _ = write!(
    out,
    "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
     <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
     <title>{} — litops run</title><style>{STYLE}</style></head><body>\n",
    escape(title.unwrap_or("litops run"))
  );
  header(&mut out, path, &events, verified);
  let steps = steps(&events);
  timeline(&mut out, &steps);
  out.push_str("<section id=\"steps\"><h2>Steps</h2>\n");
  for (n, step) in steps.iter().enumerate() {
    detail(&mut out, n, step);
  }
  out.push_str("</section>\n</body></html>\n");
  out
}

fn header(out: &mut String, path: &Path, events: &[&Event], verified: &Verified) {
  let mut rows: Vec<(&str, String)> = Vec::new();
  let mut params = Vec::new();
  for event in events {
    match event {
      Event::RunStarted {
        title,
        runbook,
        runbook_sha256,
        operator,
        approval,
        started_at,
        aws,
        params: given,
        run_id,
        ..
      } => {
        let _ = writeln!(out, "<header><h1>{}</h1>", escape(title));
        rows.push(("run", run_id.clone()));
        rows.push(("runbook", format!("{runbook} (sha256 {runbook_sha256})")));
        rows.push(("operator", operator.clone()));
        rows.push(("approval", approval.clone()));
        rows.push(("started", started_at.clone()));
        if let Some(aws) = aws {
          rows.push((
            "AWS",
            aws.error.clone().unwrap_or_else(|| {
              format!("account {} ({}) in {}", aws.account, aws.arn, aws.region)
            }),
          ));
        }
        params.clone_from(given);
      }
      // The verdict step's findings, at the top where a reader looks.
      Event::StepFinished {
        step,
        output,
        error,
        ..
      } if step == "verdict" => {
        let found = error.clone().or_else(|| match output.get("value") {
          Some(Value::String(s)) => Some(s.clone()),
          Some(Value::Null) | None => None,
          Some(other) => Some(other.to_string()),
        });
        if let Some(found) = found {
          rows.retain(|(name, _)| *name != "verdict");
          rows.push(("verdict", found));
        }
      }
      Event::RunResumed {
        resumed_at,
        operator,
        from_step,
        ..
      } => rows.push((
        "resumed",
        format!("{resumed_at} by {operator}, at `{from_step}`"),
      )),
      Event::RunFinished {
        result,
        exit_code,
        finished_at,
        duration_ms,
        reason,
        prefetch_stopped,
        background,
        ..
      } => {
        rows.push((
          "result",
          format!(
            "{result} (exit {exit_code}) at {finished_at}, {}{}",
            seconds(*duration_ms),
            reason
              .as_ref()
              .map(|r| format!(": {r}"))
              .unwrap_or_default()
          ),
        ));
        if !prefetch_stopped.is_empty() {
          rows.push((
            "prefetch stopped",
            format!("never reached: {}", prefetch_stopped.join(", ")),
          ));
        }
        for end in background {
          rows.push(("background", format!("{}: {}", end.step, end.ended)));
        }
      }
      _ => {}
    }
  }
  out.push_str("<dl class=\"meta\">\n");
  for (name, value) in rows {
    let _ = writeln!(out, "<dt>{name}</dt><dd>{}</dd>", escape(&value));
  }
  let (class, text) = if verified.intact() {
    (
      "verified-ok",
      format!("intact ({} records)", verified.records),
    )
  } else {
    let problems: Vec<String> = verified.broken.iter().map(ToString::to_string).collect();
    (
      "verified-bad",
      format!("NOT INTACT: {}", problems.join("; ")),
    )
  };
  let _ = writeln!(
    out,
    "<dt>verification</dt><dd id=\"verification\" class=\"{class}\">{}{}</dd>",
    escape(&text),
    verified
      .signed_by
      .as_ref()
      .map(|k| format!("; signed by ed25519 key {}", escape(k)))
      .unwrap_or_default()
  );
  out.push_str("</dl>\n");
  if !params.is_empty() {
    out.push_str("<table class=\"params\"><tr><th>parameter</th><th>value</th></tr>\n");
    for (k, v) in params {
      let _ = writeln!(
        out,
        "<tr><td><code>{}</code></td><td><code>{}</code></td></tr>",
        escape(&k),
        escape(&v)
      );
    }
    out.push_str("</table>\n");
  }
  let _ = writeln!(
    out,
    "<p>From <code>{}</code>.</p></header>",
    escape(&path.display().to_string())
  );
}

fn steps<'a>(events: &[&'a Event]) -> Vec<Step<'a>> {
  let mut steps: Vec<Step<'a>> = Vec::new();
  let mut gate = None;
  for event in events {
    match event {
      Event::Approved { .. } | Event::BreakGlass { .. } => gate = Some(*event),
      Event::StepStarted {
        step,
        index,
        total,
        kind,
        action,
        decision,
        ..
      } => steps.push(Step {
        id: step,
        index: *index,
        total: *total,
        kind: kind.name(),
        action: Some(action),
        started: Some(decision),
        finished: None,
        gate: gate.take(),
      }),
      Event::StepFinished {
        step,
        index,
        total,
        kind,
        ..
      } => match steps.last_mut() {
        Some(last) if last.id == step.as_str() && last.finished.is_none() => {
          last.finished = Some(event);
        }
        _ => steps.push(Step {
          id: step,
          index: *index,
          total: *total,
          kind: kind.name(),
          action: None,
          started: None,
          finished: Some(event),
          gate: None,
        }),
      },
      _ => {}
    }
  }
  steps
}

fn status_and_duration(step: &Step) -> (&'static str, u64) {
  match step.finished {
    Some(Event::StepFinished {
      status,
      duration_ms,
      ..
    }) => (status.name(), *duration_ms),
    _ => ("in flight", 0),
  }
}

/// The status's CSS class, escaped like every value written into an
/// attribute.
fn class(status: &str) -> String {
  escape(&format!("st-{}", status.replace(' ', "-")))
}

fn timeline(out: &mut String, steps: &[Step]) {
  let longest = steps
    .iter()
    .map(|s| status_and_duration(s).1)
    .max()
    .unwrap_or(0)
    .max(1);
  out.push_str("<section id=\"timeline\"><h2>Timeline</h2><ol class=\"timeline\">\n");
  for (n, step) in steps.iter().enumerate() {
    let (status, ms) = status_and_duration(step);
    let _ = writeln!(
      out,
      "<li class=\"{}\"><a href=\"#s{n}\">{}</a><span class=\"status\">{}</span><span>{}</span>\
       <span class=\"bar\" style=\"width:{:.1}%\"></span></li>",
      class(status),
      escape(step.id),
      escape(status),
      seconds(ms),
      ms as f64 * 100.0 / longest as f64
    );
  }
  out.push_str("</ol></section>\n");
}

/// Step `n` of the walk (anchors follow the walk: a step run twice appears
/// twice).
fn detail(out: &mut String, n: usize, step: &Step) {
  let (status, ms) = status_and_duration(step);
  let _ = writeln!(
    out,
    "<article id=\"s{n}\" class=\"step {}\"><h3>[{}/{}] <code>{}</code> · {} · <span class=\"status\">{}</span> · {}</h3>",
    class(status),
    step.index,
    step.total,
    escape(step.id),
    escape(step.kind),
    escape(status),
    seconds(ms)
  );
  let decision = step.started.or(match step.finished {
    Some(Event::StepFinished { decision, .. }) => decision.as_ref(),
    _ => None,
  });
  if let Some(d) = decision {
    let _ = writeln!(
      out,
      "<p>Decision: <b>{}</b> by {} via {} at {}{}</p>",
      escape(d.answer.name()),
      escape(&d.by),
      escape(&d.how),
      escape(&d.at),
      d.reason
        .as_ref()
        .map(|r| format!(" — {}", escape(r)))
        .unwrap_or_default()
    );
  }
  match step.gate {
    Some(Event::Approved { approvals, .. }) => {
      let who: Vec<String> = approvals
        .iter()
        .map(|a| {
          format!(
            "{} (key {}, from {}) at {}",
            escape(&a.approver),
            escape(&a.fingerprint),
            escape(&a.os_identity),
            escape(&a.approved_at)
          )
        })
        .collect();
      let _ = writeln!(
        out,
        "<p class=\"approved\">Approved by {}</p>",
        who.join("; ")
      );
    }
    Some(Event::BreakGlass { reason, by, at, .. }) => {
      let _ = writeln!(
        out,
        "<p class=\"error\">BREAK GLASS: run without its approvals by {} at {}: {}</p>",
        escape(by),
        escape(at),
        escape(reason)
      );
    }
    _ => {}
  }
  if let Some(action) = step.action {
    let _ = writeln!(out, "<pre class=\"action\">{}</pre>", escape(action));
  }
  if let Some(Event::StepFinished { output, error, .. }) = step.finished {
    if let Some(error) = error {
      let _ = writeln!(out, "<p class=\"error\">{}</p>", escape(error));
    }
    output_html(out, output);
  }
  out.push_str("</article>\n");
}

fn output_html(out: &mut String, output: &Value) {
  let Value::Object(fields) = output else {
    return;
  };
  let rows = match fields.get("rows") {
    Some(Value::Array(rows)) => Some(rows),
    _ => None,
  };
  if let Some(rows) = rows {
    rows_table(out, rows);
  }
  // Rows are shown once: as the table above, not again as its text.
  let shown = fields
    .get("shown")
    .and_then(Value::as_str)
    .filter(|_| rows.is_none());
  if let Some(shown) = shown {
    let _ = writeln!(out, "<pre class=\"shown\">{}</pre>", escape(shown));
  }
  for (name, value) in fields {
    if matches!(name.as_str(), "status" | "shown" | "rows")
      || (shown.is_some() && (value.is_array() || value.is_object()))
    {
      continue;
    }
    let text = match value {
      Value::Null => continue,
      Value::String(s) if s.is_empty() => continue,
      Value::String(s) => s.clone(),
      other => serde_json::to_string_pretty(other).unwrap_or_default(),
    };
    let _ = writeln!(
      out,
      "<p><b>{}</b></p><pre>{}</pre>",
      escape(name),
      escape(&text)
    );
  }
}

fn rows_table(out: &mut String, rows: &[Value]) {
  let mut columns: Vec<&str> = Vec::new();
  for row in rows {
    if let Value::Object(map) = row {
      for key in map.keys() {
        if !columns.contains(&key.as_str()) {
          columns.push(key);
        }
      }
    }
  }
  out.push_str("<table class=\"rows\"><tr>");
  for c in &columns {
    let _ = write!(out, "<th>{}</th>", escape(c));
  }
  out.push_str("</tr>\n");
  for row in rows {
    out.push_str("<tr>");
    for c in &columns {
      let cell = match row.get(*c) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Null) | None => String::new(),
        Some(other) => other.to_string(),
      };
      let _ = write!(out, "<td>{}</td>", escape(&cell));
    }
    out.push_str("</tr>\n");
  }
  out.push_str("</table>\n");
}

#[cfg(test)]
mod tests {
  use super::*;

  #[test]
  fn escapes_markup() {
    assert_eq!(
      escape(r#"<script>alert("x") & 'y'</script>"#),
      "&lt;script&gt;alert(&quot;x&quot;) &amp; &#39;y&#39;&lt;/script&gt;"
    );
  }
}
