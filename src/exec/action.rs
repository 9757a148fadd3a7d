//! The one interface every action kind implements. A kind gets the step,
//! its substituted text and the run's state; it returns the step's output.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Map, Value};

use super::console::Console;
use super::prefetch::{Pending, Read};
use crate::aws::{Aws, Session};
use crate::model::Step;
use crate::params::Params;
use crate::source::Source;
use crate::transcript::Status;

pub struct StepRun<'a> {
  pub step: &'a Step,
  /// The action as it runs: substituted for declarative kinds.
  pub text: &'a str,
  pub source: &'a Source,
  pub params: &'a Params,
  /// Outputs of earlier steps, by id.
  pub outputs: &'a Arc<Map<String, Value>>,
  pub last: Option<&'a Value>,
  pub vars: &'a mut Map<String, Value>,
  pub console: &'a Arc<Console>,
  pub timeout: Option<Duration>,
  pub aws: &'a Session,
  /// What `--prefetch` started for this step, if anything.
  pub prefetched: Option<Box<dyn Pending>>,
  /// `litops test`: answers to a script's questions come from the case.
  pub replay: Option<&'a super::Replay>,
  /// Whether the operator may be asked something as the step runs: at a
  /// terminal, without `--yes`.
  pub asks: bool,
}

impl StepRun<'_> {
  /// Parameters and variables as environment variables for processes.
  pub fn environment(&self) -> Vec<(String, String)> {
    let mut env: Vec<(String, String)> = self.params.values.clone();
    for (name, value) in self.vars.iter() {
      let text = match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
      };
      env.push((name.clone(), text));
    }
    env
  }
}

#[derive(Debug)]
pub struct Output {
  pub status: Status,
  /// Kind-specific fields: `stdout`, `exit_code`, `value`, …
  pub fields: Map<String, Value>,
  pub error: Option<String>,
  pub goto: Option<String>,
  /// A question the step needed could not be asked: the run stops here.
  pub unanswered: bool,
  /// Secrets the step was given as it ran (by name): masked in the record.
  pub secrets: Vec<(String, String)>,
  /// A background cell still running: the walk stops it at the end.
  pub background: Option<super::shell::Background>,
}

impl Output {
  pub fn new(status: Status) -> Self {
    Self {
      status,
      fields: Map::new(),
      error: None,
      goto: None,
      unanswered: false,
      secrets: Vec::new(),
      background: None,
    }
  }

  pub fn failed(status: Status, error: impl Into<String>) -> Self {
    Self {
      error: Some(error.into()),
      ..Self::new(status)
    }
  }
}

pub trait Execute {
  /// Why this body (templates replaced by a placeholder) cannot run, found
  /// by the same parse the kind runs with: `check` reports it before any
  /// step runs.
  fn check(&self, _text: &str, _options: &[(String, String)]) -> Result<(), String> {
    Ok(())
  }

  /// What a mutating step would change, shown before the operator is asked
  /// (a diff of the current state against the requested one).
  fn preview(&self, _run: &StepRun) -> Option<String> {
    None
  }

  /// The kind's read, for a kind whose read-only actions are made one call
  /// after another: `--prefetch` starts it on its own thread.
  fn read(&self) -> Option<Read> {
    None
  }

  /// Starts the step's read-only fetch in the background for `--prefetch`;
  /// None when the kind (or this body) has nothing worth starting early.
  fn prefetch(&self, step: &Step, text: &str, aws: &Arc<Aws>) -> Option<Box<dyn Pending>> {
    let read = self.read()?;
    Some(super::prefetch::background(
      text,
      aws.clone(),
      step.policy.timeout,
      read,
    ))
  }

  /// The fields this kind's steps record (besides [`super::COMMON_FIELDS`]):
  /// what a test case may give a step of this kind.
  fn fields(&self) -> &'static [&'static str];

  fn execute(&self, run: &mut StepRun) -> Output;
}
