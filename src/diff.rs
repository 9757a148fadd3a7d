//! `litops diff A B`: two runs of the same runbook, step by step — status,
//! duration and what changed in the outputs, with times and ids that differ
//! on every run normalised away; query rows added and removed; and whether
//! the runbook itself changed between the runs.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::transcript::{
  Event, RUNBOOK_COPY, RunResult, Status, output_seen, records, run_end, seconds, sidecar_dir,
};

/// Output fields that differ on every run and say nothing about the system.
const VOLATILE: &[&str] = &[
  "query_id",
  "start",
  "end",
  "shown",
  "printed",
  "updated_at",
  "started_at",
  "stopped_at",
  "at",
  "wait_ms",
  "latency_ms",
  "@ptr",
  "@timestamp",
  "status",
];

/// Fields that name an element of a list, so lists compare by name.
const NAMES: &[&str] = &["service", "name", "id", "task", "table", "area"];

/// Changes listed per step before the rest is summarised.
const SHOWN: usize = 12;

#[derive(Debug)]
pub struct Run {
  pub path: PathBuf,
  pub runbook: String,
  pub digest: String,
  pub started_at: String,
  /// None when the run has no end (killed, or resumed and not finished).
  pub result: Option<RunResult>,
  /// Each step's status, duration and output, in the order they finished.
  pub steps: Vec<Step>,
}

/// A step's id, status, duration in ms and output.
pub type Step = (String, Status, u64, Value);

#[derive(Debug)]
pub enum DiffError {
  Read(PathBuf, std::io::Error),
  NotTranscript(PathBuf),
}

impl fmt::Display for DiffError {
  fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
    match self {
      Self::Read(p, e) => write!(f, "{}: error: cannot read it: {e}", p.display()),
      Self::NotTranscript(p) => write!(f, "{}: error: not a litops transcript", p.display()),
    }
  }
}

pub fn load(path: &Path) -> Result<Run, DiffError> {
  let text = std::fs::read_to_string(path).map_err(|e| DiffError::Read(path.to_path_buf(), e))?;
  let records = records(&text);
  let Some(Event::RunStarted {
    runbook,
    runbook_sha256,
    started_at,
    ..
  }) = records.first().map(|r| &r.event)
  else {
    return Err(DiffError::NotTranscript(path.to_path_buf()));
  };
  let mut run = Run {
    path: path.to_path_buf(),
    runbook: runbook.clone(),
    digest: runbook_sha256.clone(),
    started_at: started_at.clone(),
    result: None,
    steps: Vec::new(),
  };
  // Who approved a step (or that it broke the glass) is compared like its
  // outputs: one run approved by alice, the next by nobody, is a change.
  let mut gate: Option<(String, serde_json::Value)> = None;
  for record in &records {
    match &record.event {
      Event::Approved {
        step, approvals, ..
      } => {
        let names: Vec<&str> = approvals.iter().map(|a| a.approver.as_str()).collect();
        gate = Some((step.clone(), serde_json::json!(names.join(", "))));
      }
      Event::BreakGlass { step, reason, .. } => {
        gate = Some((
          step.clone(),
          serde_json::json!(format!("break glass: {reason}")),
        ));
      }
      _ => {}
    }
    if let Event::StepFinished {
      step,
      status,
      duration_ms,
      output,
      error,
      ..
    } = &record.event
    {
      // Why a step failed is compared like its outputs.
      let mut output = output_seen(output, error.as_deref());
      if let (Some((id, approved)), serde_json::Value::Object(fields)) = (&gate, &mut output)
        && id == step
      {
        fields.insert("approved_by".into(), approved.clone());
        gate = None;
      }
      run.steps.retain(|s| &s.0 != step);
      run
        .steps
        .push((step.clone(), *status, *duration_ms, output));
    }
  }
  if let Some(Event::RunFinished { result, .. }) = run_end(records.iter().map(|r| &r.event)) {
    run.result = Some(*result);
  }
  Ok(run)
}

/// Two runs side by side.
pub struct Diff<'a> {
  pub a: &'a Run,
  pub b: &'a Run,
  /// Steps whose status or outputs differ: id, A, B, the changes.
  pub steps: Vec<(String, String, String, Vec<String>)>,
  pub same: usize,
}

pub fn compare<'a>(a: &'a Run, b: &'a Run) -> Diff<'a> {
  let mut ids: Vec<&str> = a.steps.iter().map(|s| s.0.as_str()).collect();
  for s in &b.steps {
    if !ids.contains(&s.0.as_str()) {
      ids.push(&s.0);
    }
  }
  let find =
    |run: &Run, id: &str| -> Option<Step> { run.steps.iter().find(|s| s.0 == id).cloned() };
  let cell = |s: &Option<Step>| {
    s.as_ref().map_or("not run".to_string(), |s| {
      format!("{} {}", s.1, seconds(s.2))
    })
  };
  let mut steps = Vec::new();
  let mut same = 0;
  for id in ids {
    let (left, right) = (find(a, id), find(b, id));
    let changes = match (&left, &right) {
      (Some(l), Some(r)) => changes(&l.3, &r.3),
      _ => Vec::new(),
    };
    let status_same = left.as_ref().map(|s| &s.1) == right.as_ref().map(|s| &s.1);
    if status_same && changes.is_empty() {
      same += 1;
    } else {
      steps.push((id.to_string(), cell(&left), cell(&right), changes));
    }
  }
  Diff { a, b, steps, same }
}

impl Diff<'_> {
  pub fn differs(&self) -> bool {
    self.a.digest != self.b.digest || !self.steps.is_empty()
  }
}

impl fmt::Display for Diff<'_> {
  fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
    let (a, b) = (self.a, self.b);
    for (tag, run) in [("A", a), ("B", b)] {
      writeln!(
        f,
        "{tag}: {} ({}, {})",
        run.path.display(),
        run.started_at,
        run.result.map_or("unfinished", RunResult::name)
      )?;
    }
    if a.digest == b.digest {
      writeln!(f, "runbook: the same in both runs ({})", a.runbook)?;
    } else {
      writeln!(f, "runbook: changed between the runs")?;
      let copy = |run: &Run| std::fs::read_to_string(sidecar_dir(&run.path).join(RUNBOOK_COPY));
      if let (Ok(old), Ok(new)) = (copy(a), copy(b)) {
        let diff = similar::TextDiff::from_lines(&old, &new)
          .unified_diff()
          .context_radius(1)
          .header("A", "B")
          .to_string();
        for line in diff.lines() {
          writeln!(f, "  {line}")?;
        }
      }
    }
    writeln!(f)?;
    for (id, left, right, changes) in &self.steps {
      writeln!(f, "{id}: {left} → {right}")?;
      for change in changes.iter().take(SHOWN) {
        writeln!(f, "  {change}")?;
      }
      if changes.len() > SHOWN {
        writeln!(f, "  … and {} more changes", changes.len() - SHOWN)?;
      }
    }
    writeln!(
      f,
      "{} step(s) with the same status and outputs (times and ids aside)",
      self.same
    )
  }
}

/// Rows added or removed that a diff names, each way, before a count.
const ROWS_NAMED: usize = 3;

/// A query row on one line: its values, times and ids aside.
fn row_text(row: &Value) -> String {
  match row {
    Value::Object(map) => map
      .values()
      .map(|v| match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
      })
      .collect::<Vec<_>>()
      .join(" · "),
    other => other.to_string(),
  }
}

/// What changed from `a` to `b`, one line each.
fn changes(a: &Value, b: &Value) -> Vec<String> {
  let mut out = Vec::new();
  if let (Some(Value::Array(ra)), Some(Value::Array(rb))) = (a.get("rows"), b.get("rows")) {
    let key = |r: &Value| normalise(r).to_string();
    let before: Vec<String> = ra.iter().map(key).collect();
    let after: Vec<String> = rb.iter().map(key).collect();
    let added: Vec<&Value> = rb
      .iter()
      .zip(&after)
      .filter(|(_, k)| !before.contains(k))
      .map(|(r, _)| r)
      .collect();
    let removed: Vec<&Value> = ra
      .iter()
      .zip(&before)
      .filter(|(_, k)| !after.contains(k))
      .map(|(r, _)| r)
      .collect();
    if !added.is_empty() || !removed.is_empty() {
      out.push(format!(
        "rows: {} → {} ({} added, {} removed)",
        ra.len(),
        rb.len(),
        added.len(),
        removed.len()
      ));
      // Which rows, not only how many: the first few of each.
      for (mark, rows) in [("+", &added), ("-", &removed)] {
        for row in rows.iter().take(ROWS_NAMED) {
          out.push(format!("  {mark} {}", row_text(&normalise(row))));
        }
        if rows.len() > ROWS_NAMED {
          out.push(format!("  {mark} … and {} more", rows.len() - ROWS_NAMED));
        }
      }
    }
  }
  let (mut fa, mut fb) = (BTreeMap::new(), BTreeMap::new());
  flatten("", &normalise(a), &mut fa);
  flatten("", &normalise(b), &mut fb);
  let series = |path: &str| {
    ["rows", "values", "points"]
      .iter()
      .any(|p| path.starts_with(p))
  };
  // A list element present on one side only is one line, not one per field.
  let element = |path: &str, other: &BTreeMap<String, String>| {
    path
      .match_indices('[')
      .filter_map(|(i, _)| path[i..].find(']').map(|j| &path[..i + j + 1]))
      .find(|prefix| !other.contains_key(&format!("{prefix}{ELEMENT}")))
      .map(str::to_string)
  };
  let mut whole = Vec::new();
  for (path, old) in &fa {
    if series(path) || path.ends_with(ELEMENT) {
      continue;
    }
    if let Some(gone) = element(path, &fb) {
      if !whole.contains(&gone) {
        out.push(format!("{gone}: removed"));
        whole.push(gone);
      }
      continue;
    }
    match fb.get(path) {
      Some(new) if new != old => out.extend(changed(path, old, new)),
      None => out.push(format!("{path}: {old} → (gone)")),
      _ => {}
    }
  }
  for (path, new) in &fb {
    if series(path) || path.ends_with(ELEMENT) || fa.contains_key(path) {
      continue;
    }
    match element(path, &fa) {
      Some(added) if !whole.contains(&added) => {
        out.push(format!("{added}: added"));
        whole.push(added);
      }
      Some(_) => {}
      None => out.push(format!("{path}: (new) {new}")),
    }
  }
  out
}

/// Marks a list element's existence in a flattened value.
const ELEMENT: &str = "#";

/// One change; multi-line text (a failed step's reasons) as lines removed
/// and added.
fn changed(path: &str, old: &str, new: &str) -> Vec<String> {
  if !old.contains('\n') && !new.contains('\n') {
    return vec![format!("{path}: {old} → {new}")];
  }
  let mut lines = vec![format!("{path}:")];
  let (before, after): (Vec<&str>, Vec<&str>) = (old.lines().collect(), new.lines().collect());
  lines.extend(
    before
      .iter()
      .filter(|l| !after.contains(l))
      .map(|l| format!("  - {}", l.trim_start_matches("- "))),
  );
  lines.extend(
    after
      .iter()
      .filter(|l| !before.contains(l))
      .map(|l| format!("  + {}", l.trim_start_matches("- "))),
  );
  lines
}

/// The value without the fields that change on every run.
fn normalise(value: &Value) -> Value {
  match value {
    Value::Object(map) => Value::Object(
      map
        .iter()
        .filter(|(k, _)| !VOLATILE.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), normalise(v)))
        .collect(),
    ),
    Value::Array(items) => Value::Array(items.iter().map(normalise).collect()),
    other => other.clone(),
  }
}

/// `path → scalar` for every leaf; list elements by their name field when
/// they have one (`services[api].running`), else by position.
fn flatten(prefix: &str, value: &Value, out: &mut BTreeMap<String, String>) {
  match value {
    Value::Object(map) => {
      for (k, v) in map {
        let path = if prefix.is_empty() {
          k.clone()
        } else {
          format!("{prefix}.{k}")
        };
        flatten(&path, v, out);
      }
    }
    Value::Array(items) => {
      for (i, item) in items.iter().enumerate() {
        let name = NAMES
          .iter()
          .find_map(|n| item.get(n).and_then(Value::as_str))
          .map_or_else(|| i.to_string(), str::to_string);
        let path = format!("{prefix}[{name}]");
        out.insert(format!("{path}{ELEMENT}"), String::new());
        flatten(&path, item, out);
      }
    }
    Value::String(s) => {
      out.insert(prefix.to_string(), s.clone());
    }
    other => {
      out.insert(prefix.to_string(), other.to_string());
    }
  }
}

#[cfg(test)]
mod tests {
  use super::*;
  use serde_json::json;

  #[test]
  fn changes_by_name_with_volatile_fields_ignored() {
    let a = json!({
      "query_id": "q-1",
      "services": [{"service": "api", "running": 3, "desired": 3}, {"service": "worker", "running": 2}],
      "rows": [{"@message": "ERROR a", "@timestamp": "t1"}, {"@message": "ERROR b", "@timestamp": "t2"}],
    });
    let b = json!({
      "query_id": "q-2",
      "services": [{"service": "worker", "running": 2}, {"service": "api", "running": 2, "desired": 3}],
      "rows": [{"@message": "ERROR b", "@timestamp": "t9"}, {"@message": "ERROR c", "@timestamp": "t9"}, {"@message": "ERROR d", "@timestamp": "t9"}],
    });
    assert_eq!(
      changes(&a, &b),
      [
        "rows: 2 → 3 (2 added, 1 removed)",
        "  + ERROR c",
        "  + ERROR d",
        "  - ERROR a",
        "services[api].running: 3 → 2",
      ]
    );
    assert!(changes(&a, &a).is_empty());
  }
}
