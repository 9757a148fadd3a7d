//! The words a transcript is written in, shared by the walk that writes it
//! and every reader (`verify`, `diff`, `log`, `resume`, `render`, fan-out):
//! serialised as before (`done`, `timed-out`, `n/a`, …), matched as enums.

use std::fmt;

use serde::{Deserialize, Serialize};

/// How a step ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
  Done,
  Failed,
  TimedOut,
  Interrupted,
  Skipped,
  NotDone,
  #[serde(rename = "n/a")]
  NotApplicable,
  Unconfirmed,
}

impl Status {
  pub fn name(self) -> &'static str {
    match self {
      Self::Done => "done",
      Self::Failed => "failed",
      Self::TimedOut => "timed-out",
      Self::Interrupted => "interrupted",
      Self::Skipped => "skipped",
      Self::NotDone => "not-done",
      Self::NotApplicable => "n/a",
      Self::Unconfirmed => "unconfirmed",
    }
  }

  /// Done, or deliberately not done: the run can still exit 0.
  pub fn is_ok(self) -> bool {
    matches!(self, Self::Done | Self::Skipped | Self::NotApplicable)
  }

  /// The step's action went wrong: the failure policy applies.
  pub fn is_failure(self) -> bool {
    matches!(self, Self::Failed | Self::TimedOut)
  }

  /// The walk went past the step (a resume continues after it).
  pub fn moved_on(self) -> bool {
    matches!(
      self,
      Self::Done | Self::Skipped | Self::NotApplicable | Self::NotDone
    )
  }
}

impl fmt::Display for Status {
  fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
    f.write_str(self.name())
  }
}

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RunResult {
  /// Every step done or deliberately skipped.
  Passed,
  /// A step failed.
  Failed,
  /// A checklist item was not done or stayed unconfirmed.
  Incomplete,
  /// The walk stopped before the end: a question that could not be asked,
  /// a `goto` loop.
  Stopped,
  /// The operator quit.
  Quit,
  /// A signal (Ctrl-C, SIGTERM, SIGHUP).
  Interrupted,
}

impl RunResult {
  pub fn name(self) -> &'static str {
    match self {
      Self::Passed => "passed",
      Self::Failed => "failed",
      Self::Incomplete => "incomplete",
      Self::Stopped => "stopped",
      Self::Quit => "quit",
      Self::Interrupted => "interrupted",
    }
  }

  /// The result of a walk that reached the end with these statuses.
  pub fn of(statuses: impl Iterator<Item = Status> + Clone) -> Self {
    if statuses.clone().all(Status::is_ok) {
      Self::Passed
    } else if statuses.clone().any(Status::is_failure) {
      Self::Failed
    } else {
      Self::Incomplete
    }
  }
}

impl fmt::Display for RunResult {
  fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
    f.write_str(self.name())
  }
}

/// What was decided about a step, by a person or a flag.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Choice {
  Run,
  Skip,
  Done,
  NotDone,
  #[serde(rename = "n/a")]
  NotApplicable,
  /// Nobody could be asked (a checklist item in an unattended run).
  Unconfirmed,
  /// After a failure: run the step again.
  Retry,
  /// After a failure: go on; the failure still counts.
  Continue,
  /// After a failure: the operator quit.
  Quit,
}

impl Choice {
  pub fn name(self) -> &'static str {
    match self {
      Self::Run => "run",
      Self::Skip => "skip",
      Self::Done => "done",
      Self::NotDone => "not-done",
      Self::NotApplicable => "n/a",
      Self::Unconfirmed => "unconfirmed",
      Self::Retry => "retry",
      Self::Continue => "continue",
      Self::Quit => "quit",
    }
  }
}

impl fmt::Display for Choice {
  fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
    f.write_str(self.name())
  }
}

#[cfg(test)]
mod tests {
  use super::*;

  #[test]
  fn serialised_as_the_words_transcripts_always_used() {
    let all = [
      Status::Done,
      Status::Failed,
      Status::TimedOut,
      Status::Interrupted,
      Status::Skipped,
      Status::NotDone,
      Status::NotApplicable,
      Status::Unconfirmed,
    ];
    for status in all {
      let json = serde_json::to_string(&status).expect("serialises");
      assert_eq!(json, format!("\"{status}\""));
      assert_eq!(serde_json::from_str::<Status>(&json).ok(), Some(status));
    }
    assert_eq!(
      serde_json::to_string(&Choice::NotApplicable)
        .ok()
        .as_deref(),
      Some("\"n/a\"")
    );
    assert!(serde_json::from_str::<RunResult>("\"passed \"").is_err());
  }
}
