//! `litops resume`: where an interrupted or failed run picks up, from what
//! its transcript recorded.

use serde_json::{Map, Value};

use crate::model::Runbook;
use crate::transcript::{Event, Record, RunResult, Status, output_seen, run_end};

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
