//! The human half of each record: Markdown that renders on GitHub. It is
//! derived only from the record's own fields, so a reader of the JSON can
//! render it again and compare.

use std::fmt::Write as _;

use serde_json::Value;

use super::record::{AwsContext, Decision, Event};

/// The Markdown shown above an event's record line. A line of it that would
/// start like a record line (a step printed one) is indented by a space, so
/// no reader takes output for a record; the record keeps the text exactly.
pub fn render(event: &Event) -> String {
  let out = body(event);
  if !out.contains(RECORD_LIKE) {
    return out;
  }
  out
    .split_inclusive('\n')
    .map(|line| {
      if line.starts_with(RECORD_LIKE) {
        format!(" {line}")
      } else {
        line.to_string()
      }
    })
    .collect()
}

/// What every litops comment line starts with, the record marker included.
const RECORD_LIKE: &str = "<!-- litops:";

fn body(event: &Event) -> String {
  let mut out = String::new();
  match event {
    Event::RunStarted {
      title,
      runbook,
      operator,
      started_at,
      approval,
      params,
      aws,
      partial,
      ..
    } => {
      let _ = writeln!(out, "# Run of {title}\n");
      let _ = writeln!(out, "- runbook: `{runbook}`");
      let _ = writeln!(out, "- operator: {operator}");
      let _ = writeln!(out, "- started: {started_at}");
      let _ = writeln!(out, "- approval: {approval}");
      if let Some(partial) = partial {
        let _ = writeln!(out, "- partial: `{partial}`");
      }
      match aws {
        Some(AwsContext { error: Some(e), .. }) => {
          let _ = writeln!(out, "- AWS: no access: {e}");
        }
        Some(a) => {
          let _ = writeln!(
            out,
            "- AWS account: {} (`{}`) in {}",
            a.account, a.arn, a.region
          );
        }
        None => {}
      }
      for (name, value) in params {
        let _ = writeln!(out, "- param `{name}` = `{value}`");
      }
      out.push('\n');
    }
    Event::StepStarted {
      step,
      index,
      total,
      line,
      headings,
      kind,
      mutating,
      action,
      decision,
      started_at,
    } => {
      let _ = writeln!(out, "## [{index}/{total}] `{step}`\n");
      if !headings.is_empty() {
        let _ = write!(out, "*{}* · ", headings.join(" › "));
      }
      let effect = if *mutating { "mutating" } else { "read-only" };
      let _ = writeln!(out, "line {line} · `{kind}` · {effect}\n");
      out.push_str(&fenced(kind.name(), action));
      let _ = writeln!(out, "\n{}", decision_line(decision));
      let _ = writeln!(out, "\n**Started** {started_at}\n");
    }
    Event::StepFinished {
      step,
      index,
      total,
      line,
      kind,
      status,
      duration_ms,
      output,
      sidecars,
      error,
      decision,
      goto,
      ..
    } => {
      if let Some(decision) = decision {
        let _ = writeln!(out, "## [{index}/{total}] `{step}`\n");
        let _ = writeln!(out, "line {line} · `{kind}`\n");
        if let Some(text) = output.get("text").and_then(Value::as_str) {
          let _ = writeln!(out, "> {}\n", text.replace('\n', " "));
        }
        let _ = writeln!(out, "{}\n", decision_line(decision));
      }
      let _ = writeln!(out, "**Result:** {status} · {}\n", seconds(*duration_ms));
      if let Some(error) = error {
        let _ = writeln!(out, "**Error:** {}\n", error.replace('\n', " "));
      }
      if let Some(target) = goto {
        let _ = writeln!(out, "**Next:** goto `{target}`\n");
      }
      // What an AWS step showed the operator is what an auditor reads; its
      // structured fields stay in the record, where `verify` checks them.
      let shown = output.get("shown").filter(|v| v.is_string());
      let Value::Object(fields) = output else {
        return out;
      };
      let rest = fields.iter().filter(|(name, value)| {
        !matches!(name.as_str(), "status" | "text" | "exit_code" | "shown")
          && !(shown.is_some() && (value.is_array() || value.is_object()))
      });
      for (name, value) in shown
        .map(|v| ("shown", v))
        .into_iter()
        .chain(rest.map(|(n, v)| (n.as_str(), v)))
      {
        let text = match value {
          Value::String(s) if s.is_empty() => continue,
          Value::String(s) => s.clone(),
          Value::Null => continue,
          Value::Array(a) if a.is_empty() => continue,
          other => serde_json::to_string_pretty(other).unwrap_or_default(),
        };
        let _ = writeln!(out, "{name}:\n");
        out.push_str(&fenced("text", &text));
        if let Some(sidecar) = sidecars.iter().find(|s| s.field == name) {
          let _ = writeln!(
            out,
            "\n*Cut here: all {} bytes are in [`{}`]({}).*",
            sidecar.bytes, sidecar.file, sidecar.file
          );
        }
        out.push('\n');
      }
    }
    Event::RunFinished {
      result,
      exit_code,
      finished_at,
      duration_ms,
      reason,
      stopped_at,
      prefetch_stopped,
      background,
    } => {
      let _ = writeln!(out, "## Run {result}\n");
      let _ = writeln!(
        out,
        "- finished: {finished_at} · {} · exit {exit_code}",
        seconds(*duration_ms)
      );
      if let Some(step) = stopped_at {
        let _ = writeln!(out, "- stopped at: `{step}`");
      }
      if let Some(reason) = reason {
        let _ = writeln!(out, "- reason: {reason}");
      }
      if !prefetch_stopped.is_empty() {
        let steps: Vec<String> = prefetch_stopped.iter().map(|s| format!("`{s}`")).collect();
        let _ = writeln!(
          out,
          "- prefetched, never reached, stopped: {}",
          steps.join(", ")
        );
      }
      for end in background {
        let _ = writeln!(out, "- background `{}`: {}", end.step, end.ended);
        for (name, text) in [("stdout", &end.stdout), ("stderr", &end.stderr)] {
          if !text.is_empty() {
            let _ = writeln!(out, "\n  {name}:\n\n{}", fenced("text", text));
          }
        }
      }
      out.push('\n');
    }
    Event::RunResumed {
      resumed_at,
      operator,
      approval,
      from_step,
      runbook_copy,
      ..
    } => {
      let _ = writeln!(out, "## Resumed\n");
      let _ = writeln!(
        out,
        "- by {operator} at {resumed_at} via {approval}, continuing at `{from_step}`"
      );
      if let Some(copy) = runbook_copy {
        let _ = writeln!(
          out,
          "- **forced:** the runbook changed since the run started; it is now [`{copy}`]({copy})"
        );
      }
      out.push('\n');
    }
    Event::AfterFailure { step, decision } => {
      let _ = writeln!(out, "After `{step}` failed: {}\n", decision_line(decision));
    }
    Event::Approved {
      step,
      request_sha256,
      approvals,
      ..
    } => {
      let _ = writeln!(
        out,
        "**Approved** `{step}` (request `{}`):",
        &request_sha256[..16.min(request_sha256.len())]
      );
      for a in approvals {
        let _ = writeln!(
          out,
          "- {} (key `{}`, from {}) at {}",
          a.approver, a.fingerprint, a.os_identity, a.approved_at
        );
      }
      out.push('\n');
    }
    Event::BreakGlass {
      step,
      needed,
      reason,
      by,
      at,
    } => {
      let _ = writeln!(
        out,
        "**BREAK GLASS:** `{step}` ran without the {needed} approval(s) it needs, by {by} at {at}: {reason}\n"
      );
    }
    Event::Signed { public_key, .. } => {
      let _ = writeln!(
        out,
        "**Signed** with ed25519 key `{public_key}` over the hash of the record above.\n"
      );
    }
  }
  out
}

fn decision_line(d: &Decision) -> String {
  let mut line = format!(
    "**Decision:** {} — by {} via {} at {}",
    d.answer, d.by, d.how, d.at
  );
  if let Some(reason) = &d.reason {
    let _ = write!(line, " — “{}”", reason.replace('\n', " "));
  }
  line
}

pub fn seconds(ms: u64) -> String {
  format!("{}.{:03} s", ms / 1000, ms % 1000)
}

/// A fenced block whose fence is longer than any backtick run inside.
pub fn fenced(info: &str, text: &str) -> String {
  let mut longest = 0;
  let mut run = 0;
  for c in text.chars() {
    run = if c == '`' { run + 1 } else { 0 };
    longest = longest.max(run);
  }
  let fence = "`".repeat((longest + 1).max(3));
  let newline = if text.ends_with('\n') { "" } else { "\n" };
  format!("{fence}{info}\n{text}{newline}{fence}\n")
}

#[cfg(test)]
mod tests {
  use super::*;

  #[test]
  fn output_that_looks_like_a_record_is_indented() {
    let event = Event::RunFinished {
      result: super::super::RunResult::Failed,
      exit_code: 1,
      finished_at: "t".into(),
      duration_ms: 1,
      reason: Some(format!(
        "x\n{}{} {{}} -->",
        super::super::MARKER,
        "0".repeat(64)
      )),
      stopped_at: None,
      prefetch_stopped: Vec::new(),
      background: Vec::new(),
    };
    let shown = render(&event);
    assert!(
      shown.contains("\n <!-- litops:record sha256=000"),
      "{shown}"
    );
    assert!(!shown.lines().any(|l| l.starts_with(super::super::MARKER)));
  }

  #[test]
  fn fence_outgrows_content() {
    assert_eq!(fenced("sh", "ls"), "```sh\nls\n```\n");
    assert_eq!(fenced("text", "a ```` b\n"), "`````text\na ```` b\n`````\n");
  }
}
