//! `litops resume`: where an interrupted or failed run picks up, from what
//! its transcript recorded, and the flow that continues it in place.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde_json::{Map, Value};

use crate::error::Error;
use crate::exec::{self, Console, InFlight, RunOptions, Summary};
use crate::model::Runbook;
use crate::params::Params;
use crate::source::Source;
use crate::transcript::{
  self, Event, Locked, Record, RunResult, Status, Transcript, output_seen, run_end,
};

/// A transcript opened to be resumed: locked (a second resume, or a resume
/// of a live run, is refused instead of running steps twice), intact, and
/// read.
pub(crate) struct Opened {
  path: PathBuf,
  locked: Locked,
  records: Vec<Record>,
  /// The runbook path the run recorded.
  pub(crate) runbook: String,
  runbook_sha256: String,
  run_id: String,
  params: Vec<(String, String)>,
}

impl Opened {
  pub(crate) fn open(path: &Path) -> Result<Self, Error> {
    let refuse = |why: String| not_resumable(path, why);
    // Locked before anything is read.
    let locked = Locked::open(path).map_err(|e| refuse(e.to_string()))?;
    let verified =
      // A break-glass step is the auditor's concern, not a reason to refuse
      // to go on; the chain and the records must be intact.
      crate::verify::verify_with(
        path,
        None,
        None,
        &crate::verify::Approvals {
          keyring: None,
          allow_break_glass: true,
        },
      )
      .map_err(|error| Error::Unverifiable {
        path: path.to_path_buf(),
        error,
      })?;
    if !verified.intact() {
      return Err(refuse(format!(
        "it is not intact ({}); see `litops verify`",
        verified
          .broken
          .first()
          .map(ToString::to_string)
          .unwrap_or_default()
      )));
    }
    let text = std::fs::read_to_string(path).map_err(|e| refuse(e.to_string()))?;
    let records = transcript::records(&text);
    let Some(Event::RunStarted {
      runbook,
      runbook_sha256,
      run_id,
      params,
      ..
    }) = records.first().map(|r| r.event.clone())
    else {
      return Err(refuse("it has no run-started record".into()));
    };
    Ok(Self {
      path: path.to_path_buf(),
      locked,
      records,
      runbook,
      runbook_sha256,
      run_id,
      params,
    })
  }

  /// Where to continue in `source` (the runbook today): refused when it
  /// changed without `force`, when the run passed, or when the step it
  /// stopped at is gone; `from` chooses the step instead.
  pub(crate) fn at(
    self,
    source: &Source,
    runbook: &Runbook,
    force: bool,
    from: Option<usize>,
  ) -> Result<Resumable, Error> {
    let changed = transcript::sha256_hex(source.text.as_bytes()) != self.runbook_sha256;
    if changed && !force {
      return Err(not_resumable(
        &self.path,
        format!(
          "{} changed since the run started (`litops verify {}` shows how); \
           --force resumes with it and records that",
          self.runbook,
          self.path.display()
        ),
      ));
    }
    let point = point(runbook, &self.records, from).map_err(|why| {
      not_resumable(
        &self.path,
        match why {
          NoPoint::Passed => "the run passed: nothing to resume".into(),
          NoPoint::Gone(step) => format!(
            "it stopped at step `{step}`, which {} no longer has; \
             pass --from ID to choose where to continue",
            self.runbook
          ),
        },
      )
    })?;
    Ok(Resumable {
      run_id: self.run_id.clone(),
      opened: self,
      changed,
      point,
    })
  }
}

/// A run ready to continue at its point.
pub(crate) struct Resumable {
  opened: Opened,
  pub(crate) run_id: String,
  changed: bool,
  point: Point,
}

impl Resumable {
  /// The parameters the run recorded, as `--param` would give them; secrets
  /// were recorded masked, so they are given or asked for again.
  pub(crate) fn recorded_params(&self) -> Vec<String> {
    self
      .opened
      .params
      .iter()
      .filter(|(_, v)| !v.starts_with("[redacted:"))
      .map(|(k, v)| format!("{k}={v}"))
      .collect()
  }

  /// Continues the run in its transcript: a changed runbook's copy kept
  /// beside it (`--force`), the chain reopened under the lock it holds.
  pub(crate) fn resume(
    self,
    source: &Source,
    runbook: &Runbook,
    params: &Params,
    console: Arc<Console>,
    options: &RunOptions,
    in_flight: Option<InFlight>,
  ) -> Result<Summary, Error> {
    let Self {
      opened,
      changed,
      point,
      ..
    } = self;
    let path = opened.path.clone();
    let written = |error| Error::Transcript {
      path: path.clone(),
      error,
    };
    let (runbook_copy, copy_sha256) = if changed {
      let name = format!("runbook-{}.md", opened.records.len() + 1);
      let copy = params.redactor.text(&source.text);
      std::fs::write(transcript::sidecar_dir(&path).join(&name), &copy).map_err(written)?;
      let digest = (copy != source.text).then(|| transcript::sha256_hex(copy.as_bytes()));
      (Some(name), digest)
    } else {
      (None, None)
    };
    let (reopened, _) = Transcript::reopen(
      &path,
      opened.locked,
      exec::durability(&console),
      &params.redactor,
    )
    .map_err(written)?;
    let state = exec::Resumed {
      transcript: reopened,
      outputs: point.outputs,
      vars: point.vars,
      last: point.last,
      start: point.start,
      ask_again: point.ask_again,
      runbook_copy,
      copy_sha256,
      earlier: point.statuses,
      in_flight,
    };
    exec::resume(source, runbook, params, console, options, state).map_err(written)
  }
}

fn not_resumable(path: &Path, why: String) -> Error {
  Error::NotResumable {
    path: path.to_path_buf(),
    why,
  }
}

/// Where to continue and with what state.
#[derive(Debug, PartialEq)]
pub struct Point {
  /// Index of the step to continue at.
  pub start: usize,
  /// A mutating step that started and never finished: it may have made its
  /// change, so it is asked again.
  pub ask_again: Option<String>,
  pub outputs: Map<String, Value>,
  pub vars: Map<String, Value>,
  pub last: Option<Value>,
  /// Each step's latest status before the resume, in the order they
  /// finished: the resumed run's verdict covers them too.
  pub statuses: Vec<(String, Status)>,
}

/// Why a run cannot be resumed from its records.
#[derive(Debug, PartialEq)]
pub enum NoPoint {
  /// The run passed: nothing to resume.
  Passed,
  /// The step it stopped at is not in the (changed) runbook.
  Gone(String),
}

/// The point to continue at: `from` (a step index `resume --from` chose),
/// else where the records say the run stopped.
pub fn point(runbook: &Runbook, records: &[Record], from: Option<usize>) -> Result<Point, NoPoint> {
  let mut statuses: Vec<(String, Status)> = Vec::new();
  let mut outputs = Map::new();
  let mut vars = Map::new();
  let mut last = None;
  // The last step event decides where to continue.
  let mut at: Option<(String, Option<Status>, bool, Option<String>)> = None;
  for record in records {
    match &record.event {
      Event::StepStarted { step, mutating, .. } => {
        at = Some((step.clone(), None, *mutating, None));
      }
      Event::StepFinished {
        step,
        status,
        output,
        error,
        goto,
        vars: recorded,
        ..
      } => {
        statuses.retain(|(id, _)| id != step);
        statuses.push((step.clone(), *status));
        let value = output_seen(output, error.as_deref());
        outputs.insert(step.clone(), value.clone());
        last = Some(value);
        if let Some(v) = recorded {
          vars = v.clone();
        }
        at = Some((step.clone(), Some(*status), false, goto.clone()));
      }
      _ => {}
    }
  }
  let (start, ask_again) = match (from, at) {
    (Some(chosen), _) => (chosen, None),
    (None, None) => (0, None),
    // Started, never finished: killed in the middle of it.
    (None, Some((step, None, mutating, _))) => {
      let index = runbook
        .step_index(&step)
        .ok_or(NoPoint::Gone(step.clone()))?;
      (index, mutating.then_some(step))
    }
    (None, Some((step, Some(status), _, goto))) => {
      let index = runbook
        .step_index(&step)
        .ok_or(NoPoint::Gone(step.clone()))?;
      if !status.moved_on() {
        (index, None)
      } else if let Some(target) = goto {
        (
          runbook.step_index(&target).ok_or(NoPoint::Gone(target))?,
          None,
        )
      } else {
        (index + 1, None)
      }
    }
  };
  let passed = matches!(
    run_end(records.iter().map(|r| &r.event)),
    Some(Event::RunFinished { result, .. }) if *result == RunResult::Passed
  );
  if passed && from.is_none() && start >= runbook.steps.len() {
    return Err(NoPoint::Passed);
  }
  Ok(Point {
    start,
    ask_again,
    outputs,
    vars,
    last,
    statuses,
  })
}
