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
}

/// The point to continue at, or `None` when the run passed and there is
/// nothing left.
pub fn point(runbook: &Runbook, records: &[Record]) -> Option<Point> {
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
  let (start, ask_again) = match at {
    None => (0, None),
    // Started, never finished: killed in the middle of it.
    // A step no longer in the (forced, changed) runbook: from the top.
    Some((step, None, mutating, _)) => {
      let index = runbook.step_index(&step).unwrap_or(0);
      (index, mutating.then_some(step))
    }
    Some((step, Some(status), _, goto)) => {
      let index = runbook.step_index(&step).unwrap_or(0);
      if !status.moved_on() {
        (index, None)
      } else if let Some(target) = goto {
        (runbook.step_index(&target).unwrap_or(0), None)
      } else {
        (index + 1, None)
      }
    }
  };
  let passed = matches!(
    run_end(records.iter().map(|r| &r.event)),
    Some(Event::RunFinished { result, .. }) if *result == RunResult::Passed
  );
  if passed && start >= runbook.steps.len() {
    return None;
  }
  Some(Point {
    start,
    ask_again,
    outputs,
    vars,
    last,
  })
}
