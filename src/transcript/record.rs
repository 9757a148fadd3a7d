//! Transcript records and their hash chain.
//!
//! Each record is stored as one line, `<!-- litops:record sha256=H {JSON} -->`.
//! `H` is the SHA-256 of the JSON text exactly as stored, and the JSON holds
//! `prev`, the previous record's `H` (64 zeros for the first), so changing,
//! removing or reordering any record breaks every hash after it.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::vocabulary::{Choice, RunResult, Status};
use crate::model::StepKind;
use crate::redact::Redactor;

pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";
pub const MARKER: &str = "<!-- litops:record sha256=";

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Decision {
  pub answer: Choice,
  /// `user@host` of the operator.
  pub by: String,
  /// `typed` (a terminal), `piped` (stdin not a terminal), `--yes`,
  /// `--yes-readonly`, or `none` (nobody could be asked).
  pub how: String,
  pub at: String,
  #[serde(skip_serializing_if = "Option::is_none", default)]
  pub reason: Option<String>,
}

/// The AWS account and region a run acted in, from STS before step 1.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct AwsContext {
  pub account: String,
  pub arn: String,
  pub region: String,
  #[serde(skip_serializing_if = "Option::is_none", default)]
  pub error: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Sidecar {
  pub field: String,
  pub file: String,
  pub sha256: String,
  pub bytes: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum Event {
  RunStarted {
    run_id: String,
    runbook: String,
    runbook_sha256: String,
    /// The runbook copy beside the transcript has secret values redacted;
    /// when that changed it, this is the copy's SHA-256.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    copy_sha256: Option<String>,
    title: String,
    kind: String,
    litops_version: String,
    operator: String,
    params: Vec<(String, String)>,
    approval: String,
    started_at: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    aws: Option<AwsContext>,
    /// `--only a,b` or `--from id`: a partial run, never "last passed".
    #[serde(skip_serializing_if = "Option::is_none", default)]
    partial: Option<String>,
    /// A fan-out's resolved targets, this one among them.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    fleet: Vec<String>,
  },
  StepStarted {
    step: String,
    index: usize,
    total: usize,
    line: usize,
    headings: Vec<String>,
    kind: StepKind,
    mutating: bool,
    action: String,
    decision: Decision,
    started_at: String,
  },
  StepFinished {
    step: String,
    index: usize,
    total: usize,
    line: usize,
    kind: StepKind,
    status: Status,
    finished_at: String,
    duration_ms: u64,
    output: Value,
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    sidecars: Vec<Sidecar>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    error: Option<String>,
    /// For steps that never started: skipped actions and manual items.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    decision: Option<Decision>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    goto: Option<String>,
    /// The run's variables after this step, when it changed them (secrets
    /// redacted): what `resume` restores.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    vars: Option<serde_json::Map<String, Value>>,
  },
  /// What the operator chose after a step failed in an interactive walk:
  /// `retry`, `continue`, `skip` or `quit`.
  AfterFailure { step: String, decision: Decision },
  /// Before a step that needed approvals: the request it ran under and
  /// the approvals that counted, so the chain covers them.
  Approved {
    step: String,
    request_sha256: String,
    request: Value,
    approvals: Vec<crate::approval::Approval>,
  },
  /// A step that needed approvals ran without them (`--break-glass`).
  BreakGlass {
    step: String,
    needed: usize,
    reason: String,
    by: String,
    at: String,
  },
  /// `litops resume` continues the run in the same transcript.
  RunResumed {
    resumed_at: String,
    operator: String,
    approval: String,
    /// The step the walk continues at.
    from_step: String,
    /// The runbook's digest now; differs from `run-started`'s only with
    /// `--force`, and its copy is then `runbook_copy`.
    runbook_sha256: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    runbook_copy: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    copy_sha256: Option<String>,
  },
  RunFinished {
    result: RunResult,
    exit_code: i32,
    finished_at: String,
    duration_ms: u64,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    stopped_at: Option<String>,
    /// Steps whose prefetched query was stopped because the run never
    /// reached them.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    prefetch_stopped: Vec<String>,
    /// Background cells (Runme's `background`) as the run's end found
    /// them: stopped then, or ended by themselves.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    background: Vec<BackgroundEnd>,
  },
  /// After `run-finished` with `run --sign`: an ed25519 signature of the
  /// `run-finished` record's hash (which this record's `prev` repeats).
  Signed {
    public_key: String,
    signature: String,
  },
}

/// How a background cell ended, and the last of its output.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct BackgroundEnd {
  pub step: String,
  /// `stopped at the end of the run (SIGTERM)`, `exit status 0`, …
  pub ended: String,
  pub stdout: String,
  pub stderr: String,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct Record {
  pub seq: u64,
  pub prev: String,
  #[serde(flatten)]
  pub event: Event,
}

pub fn sha256_hex(bytes: &[u8]) -> String {
  hex::encode(Sha256::digest(bytes))
}

/// A record line's hash and JSON, from `<!-- litops:record sha256=H {json} -->`
/// (without its newline).
pub fn record_line(line: &str) -> Option<(&str, &str)> {
  let (hash, rest) = line.strip_prefix(MARKER)?.split_once(' ')?;
  Some((hash, rest.strip_suffix(" -->")?))
}

/// The records of a transcript's text, in order, skipping lines that do not
/// parse (`verify` is the command that reports those).
pub fn records(text: &str) -> Vec<Record> {
  parsed_records(text).collect()
}

/// As `records`, parsed only as far as they are read (from either end).
pub fn parsed_records(text: &str) -> impl DoubleEndedIterator<Item = Record> + '_ {
  text
    .lines()
    .filter_map(|line| serde_json::from_str::<Record>(record_line(line)?.1).ok())
}

/// How the run ended: its last `run-finished`, unless a resume came after
/// it (then the run is unfinished). Reads the events from the end only as
/// far as it must.
pub fn run_end<E: std::borrow::Borrow<Event>>(
  events: impl DoubleEndedIterator<Item = E>,
) -> Option<E> {
  events
    .rev()
    .find(|e| {
      matches!(
        e.borrow(),
        Event::RunFinished { .. } | Event::RunResumed { .. }
      )
    })
    .filter(|e| matches!(e.borrow(), Event::RunFinished { .. }))
}

/// A step's output as later steps and comparisons see it: with the step's
/// error, which the record keeps beside the output.
pub fn output_seen(output: &Value, error: Option<&str>) -> Value {
  let mut seen = output.clone();
  if let (Value::Object(fields), Some(error)) = (&mut seen, error) {
    fields.insert("error".into(), Value::String(error.to_string()));
  }
  seen
}

/// The deepest nesting a step's output keeps as JSON: readers parse records
/// with serde_json, which refuses nesting past 128 levels.
const MAX_DEPTH: usize = 100;

/// `value` with what is nested deeper than [`MAX_DEPTH`] kept as its JSON
/// text, so an honest record of a deep rhai value still reads back.
fn bounded(value: Value, depth: usize) -> Value {
  match value {
    Value::Array(_) | Value::Object(_) if depth >= MAX_DEPTH => Value::String(value.to_string()),
    Value::Array(items) => Value::Array(items.into_iter().map(|v| bounded(v, depth + 1)).collect()),
    Value::Object(map) => Value::Object(
      map
        .into_iter()
        .map(|(k, v)| (k, bounded(v, depth + 1)))
        .collect(),
    ),
    other => other,
  }
}

impl Event {
  /// The event with its step output and variables nested no deeper than
  /// readers can parse.
  pub fn bounded(mut self) -> Self {
    if let Self::StepFinished { output, vars, .. } = &mut self {
      *output = bounded(std::mem::take(output), 0);
      if let Some(vars) = vars {
        for value in vars.values_mut() {
          *value = bounded(std::mem::take(value), 0);
        }
      }
    }
    self
  }

  /// The event as recorded: secrets masked in every field that carries
  /// text from the runbook, the operator or a step. Fields whose values
  /// litops chooses (types, statuses, digests, times) are left alone, so a
  /// secret that happens to equal `passed` cannot unmake a record.
  pub fn masked(mut self, mask: &Redactor) -> Self {
    if mask.is_empty() {
      return self;
    }
    let text = |s: &mut String| *s = mask.text(s);
    let opt = |s: &mut Option<String>| {
      if let Some(s) = s {
        *s = mask.text(s);
      }
    };
    match &mut self {
      Self::RunStarted {
        runbook,
        title,
        params,
        aws,
        ..
      } => {
        text(runbook);
        text(title);
        params.iter_mut().for_each(|(_, v)| text(v));
        if let Some(aws) = aws {
          opt(&mut aws.error);
        }
      }
      Self::StepStarted {
        step,
        headings,
        action,
        decision,
        ..
      } => {
        text(step);
        headings.iter_mut().for_each(text);
        text(action);
        opt(&mut decision.reason);
      }
      Self::StepFinished {
        step,
        output,
        error,
        decision,
        goto,
        vars,
        ..
      } => {
        text(step);
        *output = mask.value(output);
        opt(error);
        if let Some(decision) = decision {
          opt(&mut decision.reason);
        }
        opt(goto);
        if let Some(vars) = vars {
          *vars = vars
            .iter()
            .map(|(k, v)| (mask.text(k), mask.value(v)))
            .collect();
        }
      }
      Self::RunResumed { from_step, .. } => text(from_step),
      // The request was masked when it was made: its digest is over that.
      Self::Approved { step, .. } => text(step),
      Self::BreakGlass { step, reason, .. } => {
        text(step);
        text(reason);
      }
      Self::AfterFailure { step, decision } => {
        text(step);
        opt(&mut decision.reason);
      }
      Self::RunFinished {
        reason,
        stopped_at,
        prefetch_stopped,
        background,
        ..
      } => {
        opt(reason);
        opt(stopped_at);
        prefetch_stopped.iter_mut().for_each(text);
        for end in background {
          text(&mut end.step);
          text(&mut end.stdout);
          text(&mut end.stderr);
        }
      }
      Self::Signed { .. } => {}
    }
    self
  }
}

impl Record {
  /// The stored line and its hash. `>` is written as `\u003e` so no JSON
  /// string can close the HTML comment.
  pub fn seal(&self) -> Result<(String, String), serde_json::Error> {
    let json = serde_json::to_string(self)?.replace('>', "\\u003e");
    let hash = sha256_hex(json.as_bytes());
    Ok((format!("{MARKER}{hash} {json} -->\n"), hash))
  }
}

#[cfg(test)]
mod tests {
  use super::*;

  #[test]
  fn sealed_line_hashes_its_json_and_hides_comment_closers() {
    let record = Record {
      seq: 1,
      prev: GENESIS.into(),
      event: Event::RunFinished {
        result: RunResult::Passed,
        exit_code: 0,
        finished_at: "t".into(),
        duration_ms: 5,
        reason: None,
        prefetch_stopped: Vec::new(),
        background: Vec::new(),
        stopped_at: None,
      },
    };
    let (line, hash) = record.seal().expect("serialises");
    let json = line
      .strip_prefix(&format!("{MARKER}{hash} "))
      .and_then(|l| l.strip_suffix(" -->\n"))
      .expect("framed");
    assert!(!json.contains("-->"));
    assert_eq!(sha256_hex(json.as_bytes()), hash);
    let back: Record = serde_json::from_str(json).expect("parses back");
    assert_eq!(back.event, record.event);
  }
}
