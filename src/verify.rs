//! `litops verify`: is this transcript exactly what litops wrote, and did the
//! run do only what its runbook says?
//!
//! The checks, in order: every record's hash and its link to the one before;
//! the whole file rebuilt from the records (front matter, Markdown, record
//! lines) and compared byte for byte, so an edit to the visible text is found
//! too; every sidecar's size and SHA-256; the runbook copy kept beside the
//! transcript against the recorded digest; every action that ran found in
//! that runbook (templates matching any value); and the runbook file today
//! against the copy.

use std::fmt;
use std::path::{Path, PathBuf};

use crate::check::check;
use crate::model::StepBody;
use crate::model::StepKind;
use crate::source::Source;
use crate::template;
use crate::transcript::{
  Event, GENESIS, MARKER, RUNBOOK_COPY, Record, RunResult, Status, front_matter, record_line,
  render, run_end, sha256_hex, sidecar_dir,
};

/// Something that shows the transcript is not what litops wrote.
#[derive(Debug, PartialEq, Eq)]
pub enum Broken {
  /// A record line that is not `<!-- litops:record sha256=H {json} -->`.
  Malformed {
    line: usize,
  },
  /// The JSON does not hash to the recorded hash: the record was edited.
  Hash {
    line: usize,
    step: String,
  },
  /// The record does not follow the one before it: removed, inserted or
  /// reordered records.
  Chain {
    line: usize,
    step: String,
  },
  /// The text outside the record lines differs from what the records say.
  Edited {
    line: usize,
    near: String,
  },
  Sidecar {
    file: String,
    why: String,
  },
  /// The runbook copy beside the transcript is not the runbook that ran.
  RunbookCopy,
  /// A step ran an action that its runbook does not contain.
  AdHoc {
    step: String,
    why: &'static str,
  },
  Signature(&'static str),
  /// A step that needed approvals ran without enough that count.
  Approval {
    step: String,
    why: String,
  },
}

impl fmt::Display for Broken {
  fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
    match self {
      Self::Malformed { line } => write!(f, "line {line}: a damaged record line"),
      Self::Hash { line, step } => write!(
        f,
        "line {line}: the record of {step} does not match its hash: it was edited"
      ),
      Self::Chain { line, step } => write!(
        f,
        "line {line}: the record of {step} does not follow the record before it: records were removed, inserted or reordered"
      ),
      Self::Edited { line, near } => write!(
        f,
        "line {line}: the text ({near}) differs from what its records say: it was edited"
      ),
      Self::Sidecar { file, why } => write!(f, "sidecar {file}: {why}"),
      Self::RunbookCopy => write!(
        f,
        "{RUNBOOK_COPY} beside the transcript is not the runbook that ran (its SHA-256 differs)"
      ),
      Self::AdHoc { step, why } => write!(f, "step `{step}`: {why}"),
      Self::Signature(why) => write!(f, "signature: {why}"),
      Self::Approval { step, why } => write!(f, "step `{step}`: {why}"),
    }
  }
}

/// The runbook file today, against the runbook that ran.
#[derive(Debug)]
pub enum RunbookToday {
  Same(PathBuf),
  Changed {
    path: PathBuf,
    diff: String,
  },
  Missing(PathBuf),
  /// No copy was kept (a transcript from before copies were kept).
  Unknown,
}

#[derive(Debug)]
pub struct Verified {
  pub path: PathBuf,
  pub records: usize,
  pub last_hash: String,
  pub broken: Vec<Broken>,
  /// `result` and exit code of `run-finished`, if the run finished.
  pub finished: Option<(RunResult, i64)>,
  /// A step that started and has no result: the run was killed there.
  pub in_flight: Option<String>,
  /// Each step's id and status, in the order they finished.
  pub steps: Vec<(String, Status)>,
  pub actions_checked: usize,
  pub sidecars: usize,
  pub runbook: RunbookToday,
  /// The public key (hex) of a valid signature over the run's end.
  pub signed_by: Option<String>,
  /// Whether the signature was checked against a key the caller trusts.
  pub key_checked: bool,
  /// Each approved step: who approved it (and whether their signatures
  /// were checked against a keyring).
  pub approved: Vec<String>,
  /// Steps that ran without their approvals (`--break-glass`), and why.
  pub break_glass: Vec<String>,
}

/// What `verify` holds approvals to.
#[derive(Default)]
pub struct Approvals<'a> {
  /// The approvers' keyring: only their valid signatures count.
  pub keyring: Option<&'a crate::approval::Keyring>,
  /// Accept steps run with `--break-glass` (they are still listed).
  pub allow_break_glass: bool,
}

impl Verified {
  pub fn intact(&self) -> bool {
    self.broken.is_empty()
  }
}

/// Why a file cannot be verified at all.
#[derive(Debug)]
pub enum Unreadable {
  Io(std::io::Error),
  NotUtf8,
  NoRecords,
}

impl fmt::Display for Unreadable {
  fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
    match self {
      Self::Io(e) => write!(f, "cannot read it: {e}"),
      Self::NotUtf8 => write!(f, "not UTF-8 text, so not a litops transcript"),
      Self::NoRecords => write!(f, "no litops records: not a litops transcript"),
    }
  }
}

/// One record line as stored.
struct Stored {
  line: usize,
  text: String,
  hash: String,
  /// The record, if its JSON parses (even when its hash does not match,
  /// to name the step in the report).
  record: Option<Record>,
  hash_ok: bool,
}

pub fn verify(
  path: &Path,
  runbook: Option<&Path>,
  key: Option<&str>,
) -> Result<Verified, Unreadable> {
  verify_with(path, runbook, key, &Approvals::default())
}

pub fn verify_with(
  path: &Path,
  runbook: Option<&Path>,
  key: Option<&str>,
  trust: &Approvals,
) -> Result<Verified, Unreadable> {
  let bytes = std::fs::read(path).map_err(Unreadable::Io)?;
  let text = String::from_utf8(bytes).map_err(|_| Unreadable::NotUtf8)?;
  let mut broken = Vec::new();
  let stored = stored_records(&text, &mut broken);
  if stored.is_empty() {
    return Err(Unreadable::NoRecords);
  }
  chain(&stored, &mut broken);
  let events: Vec<&Event> = stored
    .iter()
    .filter(|s| s.hash_ok)
    .filter_map(|s| s.record.as_ref().map(|r| &r.event))
    .collect();
  rebuild(&text, &stored, &events, &mut broken);

  let dir = path.parent().unwrap_or(Path::new(""));
  let mut sidecars = 0;
  let mut steps = Vec::new();
  let mut open: Option<String> = None;
  for event in &events {
    match event {
      Event::StepStarted { step, .. } => open = Some(step.clone()),
      Event::StepFinished {
        step,
        status,
        sidecars: files,
        ..
      } => {
        open = None;
        steps.push((step.clone(), *status));
        for side in files {
          sidecars += 1;
          if let Some(why) = sidecar_problem(&dir.join(&side.file), &side.sha256, side.bytes) {
            broken.push(Broken::Sidecar {
              file: side.file.clone(),
              why,
            });
          }
        }
      }
      _ => {}
    }
  }
  let finished = match run_end(events.iter().copied()) {
    Some(Event::RunFinished {
      result, exit_code, ..
    }) => Some((*result, i64::from(*exit_code))),
    _ => None,
  };

  let (recorded_path, digest, copy_digest) = match events.first() {
    Some(Event::RunStarted {
      runbook,
      runbook_sha256,
      copy_sha256,
      ..
    }) => (
      PathBuf::from(runbook),
      runbook_sha256.clone(),
      copy_sha256
        .clone()
        .unwrap_or_else(|| runbook_sha256.clone()),
    ),
    _ => (PathBuf::new(), String::new(), String::new()),
  };
  let copy_path = sidecar_dir(path).join(RUNBOOK_COPY);
  let copy = std::fs::read_to_string(&copy_path).ok();
  let mut actions_checked = 0;
  let (mut approved, mut break_glass) = (Vec::new(), Vec::new());
  if let Some(copy) = &copy {
    (approved, break_glass) = approvals(path, copy, &events, trust, &mut broken);
  }
  let today = match &copy {
    None => RunbookToday::Unknown,
    Some(copy) => {
      if sha256_hex(copy.as_bytes()) != copy_digest {
        broken.push(Broken::RunbookCopy);
      } else if broken.is_empty() {
        // Records that are already shown to be edited say nothing reliable
        // about what ran; only an intact chain is checked against the runbook.
        actions_checked = actions(&sidecar_dir(path), copy, &events, &mut broken);
      }
      let current = runbook.map_or(recorded_path, Path::to_path_buf);
      // Read as a run reads it (a CRLF file as LF), so its digest compares.
      match Source::load(&current).map(|s| s.text) {
        Err(_) => RunbookToday::Missing(current),
        Ok(now) if sha256_hex(now.as_bytes()) == digest => RunbookToday::Same(current),
        Ok(now) => RunbookToday::Changed {
          // The copy has secret defaults redacted; so has what is shown of
          // the runbook today.
          diff: similar::TextDiff::from_lines(
            copy.as_str(),
            redact_defaults(&current, &now).as_str(),
          )
          .unified_diff()
          .context_radius(2)
          .header("as run", &current.display().to_string())
          .to_string(),
          path: current,
        },
      }
    }
  };
  let signed_by = signature(&stored, key, &mut broken);
  let last_hash = stored.last().map(|s| s.hash.clone()).unwrap_or_default();
  Ok(Verified {
    path: path.to_path_buf(),
    records: stored.len(),
    last_hash,
    broken,
    finished,
    in_flight: open,
    steps,
    actions_checked,
    sidecars,
    runbook: today,
    signed_by,
    key_checked: key.is_some(),
    approved,
    break_glass,
  })
}

/// Every step the runbook that ran required approvals for ran with them:
/// the request recorded before it is the one its digest names, for the
/// action that ran, not expired when it ran, with enough approvals that
/// count (checked against `trust.keyring`), none used twice. Lines for the
/// report: who approved what, and what ran breaking the glass.
fn approvals(
  path: &Path,
  copy: &str,
  events: &[&Event],
  trust: &Approvals,
  broken: &mut Vec<Broken>,
) -> (Vec<String>, Vec<String>) {
  use crate::approval::{Terms, covers, digest};
  let checked = check(&Source::new(
    &sidecar_dir(path).join(RUNBOOK_COPY),
    copy.to_string(),
  ));
  let policy = checked.runbook.meta.approvals.as_ref();
  let (mut approved, mut glass) = (Vec::new(), Vec::new());
  let mut seen_signatures: Vec<&str> = Vec::new();
  let mut before: Option<&Event> = None;
  let params: &[(String, String)] = match events.first() {
    Some(Event::RunStarted { params, .. }) => params,
    _ => &[],
  };
  for event in events {
    let Event::StepStarted {
      step,
      action,
      started_at,
      ..
    } = event
    else {
      if matches!(event, Event::Approved { .. } | Event::BreakGlass { .. }) {
        before = Some(event);
      }
      continue;
    };
    let gate = before.take();
    let needed = checked
      .runbook
      .steps
      .iter()
      .find(|s| &s.id == step)
      .map_or(0, |s| s.approvals_needed(policy));
    let mut fail = |why: String| {
      broken.push(Broken::Approval {
        step: step.clone(),
        why,
      });
    };
    match gate {
      Some(Event::BreakGlass {
        step: s,
        reason,
        by,
        at,
        ..
      }) if s == step => {
        glass.push(format!("`{step}` by {by} at {at}: {reason}"));
        if !trust.allow_break_glass {
          fail(format!(
            "ran without its approvals (break glass: {reason}); pass --allow-break-glass to accept it"
          ));
        }
      }
      Some(Event::Approved {
        step: s,
        request_sha256,
        request,
        approvals,
      }) if s == step => {
        if digest(request) != *request_sha256 {
          fail("its approval request was changed after it was approved".into());
          continue;
        }
        if request["step"].as_str() != Some(step) || !covers(request, action, params) {
          fail("what ran is not the action (and parameters) its approvals approved".into());
        }
        let expires = request["expires_at"].as_str().unwrap_or_default();
        let late = match (
          crate::clock::Instant::parse(started_at),
          crate::clock::Instant::parse(expires),
        ) {
          (Some(ran), Some(until)) => ran.seconds() > until.seconds(),
          _ => true,
        };
        if late {
          fail(format!(
            "it ran after its approval request expired at {expires}"
          ));
        }
        for a in approvals {
          if seen_signatures.contains(&a.signature.as_str()) {
            fail(format!(
              "{}'s approval was used for another step too",
              a.approver
            ));
          }
          seen_signatures.push(&a.signature);
        }
        let names: Vec<String> = approvals
          .iter()
          .map(|a| format!("{} ({})", a.approver, a.fingerprint))
          .collect();
        match trust.keyring {
          Some(keyring) => {
            let terms = Terms::of(request, request_sha256);
            let mut counted: Vec<String> = Vec::new();
            for a in approvals {
              match terms.judge(a, keyring, &counted) {
                Ok(_) => counted.push(a.key.clone()),
                Err(why) => fail(format!("{}'s approval does not count: {why}", a.approver)),
              }
            }
            if counted.len() < needed {
              fail(format!(
                "{} of the {needed} approval(s) it needs count",
                counted.len()
              ));
            }
            approved.push(format!("`{step}`: {}", names.join(", ")));
          }
          None => approved.push(format!(
            "`{step}`: {} (signatures not checked: pass --keyring)",
            names.join(", ")
          )),
        }
      }
      _ if needed > 0 => fail(format!("needed {needed} approval(s) and none are recorded")),
      _ => {}
    }
  }
  (approved, glass)
}

/// The signing key of a valid signature over the run's end; with `key`
/// (hex), the transcript must end with a signature by that key. Every
/// signature (a resumed run has one per end) must directly follow a
/// `run-finished` and match it.
fn signature(stored: &[Stored], key: Option<&str>, broken: &mut Vec<Broken>) -> Option<String> {
  let mut last = None;
  for (i, s) in stored.iter().enumerate() {
    let Some(Record {
      event: Event::Signed {
        public_key,
        signature,
      },
      ..
    }) = &s.record
    else {
      continue;
    };
    let follows_end = i > 0
      && matches!(
        stored[i - 1].record.as_ref().map(|r| &r.event),
        Some(Event::RunFinished { .. })
      );
    if !follows_end {
      broken.push(Broken::Signature("not directly after the run's end"));
      return None;
    }
    if !crate::signing::valid(public_key, &stored[i - 1].hash, signature) {
      broken.push(Broken::Signature(
        "does not match the run's end: it was edited",
      ));
      return None;
    }
    last = (i + 1 == stored.len()).then(|| public_key.clone());
  }
  match (key, &last) {
    (Some(_), None) => {
      broken.push(Broken::Signature(
        "none at the end: the run was not signed, or its end was cut off",
      ));
      None
    }
    (Some(k), Some(public)) if k != public => {
      broken.push(Broken::Signature("made with another key than --key"));
      None
    }
    _ => last,
  }
}

/// `text` with its secret parameters' defaults redacted, as litops redacts
/// them in the copy it keeps.
fn redact_defaults(path: &Path, text: &str) -> String {
  let checked = check(&Source::new(path, text.to_string()));
  let mut out = text.to_string();
  for param in checked.runbook.meta.params.iter().filter(|p| p.secret) {
    if let Some(value) = param.default.as_deref().filter(|v| !v.is_empty()) {
      out = out.replace(value, &format!("[redacted:{}]", param.name));
    }
  }
  out
}

fn stored_records(text: &str, broken: &mut Vec<Broken>) -> Vec<Stored> {
  let mut stored = Vec::new();
  for (index, line) in text.split_inclusive('\n').enumerate() {
    if !line.starts_with(MARKER) {
      continue;
    }
    // A record line without its newline was cut short.
    let framed = line
      .strip_suffix('\n')
      .and_then(record_line)
      .filter(|(hash, _)| hash.len() == 64);
    let Some((hash, json)) = framed else {
      broken.push(Broken::Malformed { line: index + 1 });
      continue;
    };
    stored.push(Stored {
      line: index + 1,
      text: line.to_string(),
      hash: hash.to_string(),
      record: serde_json::from_str(json).ok(),
      hash_ok: sha256_hex(json.as_bytes()) == hash,
    });
  }
  stored
}

fn step_name(record: Option<&Record>) -> String {
  match record.map(|r| &r.event) {
    Some(
      Event::StepStarted { step, .. }
      | Event::StepFinished { step, .. }
      | Event::AfterFailure { step, .. }
      | Event::Approved { step, .. }
      | Event::BreakGlass { step, .. },
    ) => {
      format!("step `{step}`")
    }
    Some(Event::RunStarted { .. }) => "the run's start".into(),
    Some(Event::RunFinished { .. }) => "the run's end".into(),
    Some(Event::Signed { .. }) => "the signature".into(),
    Some(Event::RunResumed { .. }) => "the resume".into(),
    None => "a record".into(),
  }
}

fn chain(stored: &[Stored], broken: &mut Vec<Broken>) {
  let mut prev = GENESIS.to_string();
  for (i, s) in stored.iter().enumerate() {
    match &s.record {
      _ if !s.hash_ok => broken.push(Broken::Hash {
        line: s.line,
        step: step_name(s.record.as_ref()),
      }),
      None => broken.push(Broken::Malformed { line: s.line }),
      Some(r) if r.prev != prev || r.seq != i as u64 + 1 => broken.push(Broken::Chain {
        line: s.line,
        step: step_name(Some(r)),
      }),
      Some(_) => {}
    }
    prev = s.hash.clone();
  }
}

/// The file as litops would have written these records, compared with the
/// file as it is.
fn rebuild(text: &str, stored: &[Stored], events: &[&Event], broken: &mut Vec<Broken>) {
  if events.len() != stored.len() {
    // A record that is edited or does not parse cannot be rendered; it is
    // reported already.
    return;
  }
  let Some(first) = events.first() else { return };
  let last = events
    .iter()
    .rev()
    .find(|e| matches!(e, Event::RunFinished { .. }));
  let mut expected = front_matter(first, last.copied());
  let front = expected.len();
  let mut ends = Vec::new();
  for (s, event) in stored.iter().zip(events) {
    expected.push_str(&render(event));
    expected.push_str(&s.text);
    // `Transcript::append` leaves a blank line after each record line.
    expected.push('\n');
    ends.push(expected.len());
  }
  let Some(at) = text
    .bytes()
    .zip(expected.bytes())
    .position(|(a, b)| a != b)
    .or_else(|| (text.len() != expected.len()).then(|| text.len().min(expected.len())))
  else {
    return;
  };
  // The `end:` line is rewritten just after `run-finished` is appended: a
  // run killed between the two has the end line it had before. Honest.
  let ended_last = matches!(events.last(), Some(Event::RunFinished { .. }));
  if ended_last && at < front {
    let before = events[..events.len() - 1]
      .iter()
      .rev()
      .find(|e| matches!(e, Event::RunFinished { .. }));
    let earlier_front = front_matter(first, before.copied());
    if text.starts_with(&earlier_front) && text[earlier_front.len()..] == expected[front..] {
      return;
    }
  }
  let line = text.as_bytes()[..at.min(text.len())]
    .iter()
    .filter(|&&b| b == b'\n')
    .count()
    + 1;
  let near = match ends.iter().position(|&end| at < end) {
    _ if at < front => "the front matter".to_string(),
    Some(i) => step_name(stored[i].record.as_ref()),
    None => "after the last record".to_string(),
  };
  broken.push(Broken::Edited { line, near });
}

fn sidecar_problem(path: &Path, sha256: &str, bytes: u64) -> Option<String> {
  match std::fs::read(path) {
    Err(e) => Some(format!("cannot read it: {e}")),
    Ok(data) if data.len() as u64 != bytes => Some(format!(
      "{} bytes, the record says {bytes}: it was changed",
      data.len()
    )),
    Ok(data) if sha256_hex(&data) != sha256 => {
      Some("its SHA-256 differs from the record: it was changed".into())
    }
    Ok(_) => None,
  }
}

/// Checks that every action that ran is in the runbook that ran (after a
/// forced resume, the changed runbook's copy); returns how many were checked.
fn actions(dir: &Path, copy: &str, events: &[&Event], broken: &mut Vec<Broken>) -> usize {
  let parse = |name: &str, text: String| check(&Source::new(&dir.join(name), text));
  let mut checked = parse(RUNBOOK_COPY, copy.to_string());
  let mut count = 0;
  for event in events {
    // Actions are in `step-started`; a checklist item is answered in one
    // `step-finished` record, with its text in the output.
    let (step, index, kind, action) = match event {
      Event::RunResumed {
        runbook_copy: Some(name),
        runbook_sha256,
        copy_sha256,
        ..
      } => {
        let digest = copy_sha256.as_ref().unwrap_or(runbook_sha256);
        match std::fs::read_to_string(dir.join(name)) {
          Ok(text) if sha256_hex(text.as_bytes()) == *digest => {
            checked = parse(name, text);
          }
          _ => broken.push(Broken::RunbookCopy),
        }
        continue;
      }
      Event::StepStarted {
        step,
        index,
        kind,
        action,
        ..
      } => (step, *index, kind, action.as_str()),
      Event::StepFinished {
        step,
        index,
        kind,
        output,
        ..
      } if *kind == StepKind::Manual => (
        step,
        *index,
        kind,
        output
          .get("text")
          .and_then(|t| t.as_str())
          .unwrap_or_default(),
      ),
      _ => continue,
    };
    count += 1;
    // A step whose name holds a secret is recorded masked, and its name in
    // the masked copy may not parse as written: it is found by position.
    let by_position = || {
      step
        .contains("[redacted:")
        .then(|| checked.runbook.steps.get(index.wrapping_sub(1)))
        .flatten()
    };
    let Some(planned) = checked
      .runbook
      .steps
      .iter()
      .find(|s| &s.id == step)
      .or_else(by_position)
    else {
      broken.push(Broken::AdHoc {
        step: step.clone(),
        why: "no step has this id in the runbook that ran",
      });
      continue;
    };
    let (written, templated) = match &planned.body {
      StepBody::Manual { text, .. } => (text.as_str(), true),
      StepBody::Action(a) => (a.code.as_str(), a.kind.is_declarative()),
    };
    let matches = planned.kind() == *kind
      && if templated {
        matches_template(written, action)
      } else {
        written == action
      };
    if !matches {
      broken.push(Broken::AdHoc {
        step: step.clone(),
        why: "what ran is not the runbook's text for this step",
      });
    }
  }
  count
}

/// Whether `ran` is `written` with each `{{ name }}` replaced by some value
/// (parameters and rhai variables; secrets appear redacted).
fn matches_template(written: &str, ran: &str) -> bool {
  let Ok(found) = template::placeholders(written) else {
    return written == ran;
  };
  let mut pattern = String::from("^");
  let mut last = 0;
  for p in found {
    pattern.push_str(&regex::escape(&written[last..p.range.start]));
    pattern.push_str("(?s:.*?)");
    last = p.range.end;
  }
  pattern.push_str(&regex::escape(&written[last..]));
  pattern.push('$');
  regex::Regex::new(&pattern).is_ok_and(|re| re.is_match(ran))
}

impl fmt::Display for Verified {
  fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
    writeln!(f, "transcript: {}", self.path.display())?;
    let tail = self.last_hash.get(..12).unwrap_or(&self.last_hash);
    if self.intact() {
      writeln!(
        f,
        "chain: intact, {} records, last sha256 {tail}…",
        self.records
      )?;
    } else {
      writeln!(f, "NOT INTACT:")?;
      for b in &self.broken {
        writeln!(f, "  {b}")?;
      }
    }
    match (&self.finished, &self.in_flight) {
      (Some((result, code)), _) => writeln!(f, "run: {result} (exit {code})")?,
      (None, Some(step)) => writeln!(
        f,
        "run: unfinished: `{step}` started and has no result (killed, or the file was cut after it)"
      )?,
      (None, None) => writeln!(f, "run: unfinished: no run-finished record")?,
    }
    let mut counts: Vec<(Status, usize)> = Vec::new();
    for (_, status) in &self.steps {
      match counts.iter_mut().find(|(s, _)| s == status) {
        Some(c) => c.1 += 1,
        None => counts.push((*status, 1)),
      }
    }
    let summary: Vec<String> = counts.iter().map(|(s, n)| format!("{n} {s}")).collect();
    writeln!(f, "steps: {}", summary.join(", "))?;
    for (id, status) in &self.steps {
      if *status != Status::Done {
        writeln!(f, "  {:<12} {id}", status.name())?;
      }
    }
    if self.sidecars > 0 {
      writeln!(f, "sidecars: {} checked", self.sidecars)?;
    }
    match (&self.signed_by, self.key_checked) {
      (Some(public), true) => writeln!(f, "signature: valid, by the given key {public}")?,
      (Some(public), false) => writeln!(
        f,
        "signature: valid, by key {public} (pass --key to check it is a key you trust)"
      )?,
      (None, _) if self.intact() => writeln!(f, "signature: none")?,
      (None, _) => {}
    }
    for line in &self.approved {
      writeln!(f, "approved: {line}")?;
    }
    for line in &self.break_glass {
      writeln!(f, "BREAK GLASS: {line}")?;
    }
    match &self.runbook {
      RunbookToday::Unknown => writeln!(
        f,
        "runbook: no copy beside the transcript; actions not checked"
      )?,
      RunbookToday::Same(p) => writeln!(
        f,
        "runbook: {} is the runbook that ran; {} actions found in it",
        p.display(),
        self.actions_checked
      )?,
      RunbookToday::Missing(p) => writeln!(
        f,
        "runbook: {} is gone; {} actions found in the copy that ran",
        p.display(),
        self.actions_checked
      )?,
      RunbookToday::Changed { path, diff } => {
        writeln!(
          f,
          "runbook: {} changed since the run ({} actions found in the copy that ran):",
          path.display(),
          self.actions_checked
        )?;
        for line in diff.lines() {
          writeln!(f, "  {line}")?;
        }
      }
    }
    Ok(())
  }
}
