use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
  Done,
  Failed,
  TimedOut,
  Interrupted,
  Skipped,
  NotDone,
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
}

impl fmt::Display for Status {
  fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
    f.write_str(self.name())
  }
}
