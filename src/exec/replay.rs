//! `litops test`: a step's output comes from a case instead of the network
//! or a process. Only rhai runs, so verdicts, branches and templates are
//! tested for real without AWS, and no change is ever made.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use serde_json::{Map, Value};

use super::action::Output;
use crate::model::Step;
use crate::transcript::Status;

#[derive(Debug)]
pub struct Replay {
  /// Each step's output as a run records it: its fields, `status` (done
  /// when not given) and `error`.
  pub outputs: HashMap<String, Map<String, Value>>,
  /// Checklist items by step id (`done`, `not-done`, `n/a`), and questions
  /// a script asks by their text.
  pub answers: Arc<Answers>,
}

/// A case's answers: each question's in the order it is asked, the last
/// one again when it is asked more often.
#[derive(Debug)]
pub struct Answers {
  given: HashMap<String, Vec<String>>,
  asked: Mutex<HashMap<String, usize>>,
}

impl Answers {
  pub fn new(given: HashMap<String, Vec<String>>) -> Self {
    Self {
      given,
      asked: Mutex::default(),
    }
  }

  /// The same answers, none asked yet: each run of a case starts afresh.
  pub fn fresh(&self) -> Self {
    Self::new(self.given.clone())
  }

  /// The answer to `question` this time it is asked, if the case has one.
  pub fn next(&self, question: &str) -> Option<String> {
    let answers = self.given.get(question)?;
    let mut asked = self.asked.lock().ok()?;
    let n = asked.entry(question.to_string()).or_insert(0);
    let answer = answers.get(*n).or_else(|| answers.last()).cloned();
    *n += 1;
    answer
  }
}

impl Replay {
  /// The step's output as the case gives it; a step the case says nothing
  /// about fails, naming what to add.
  pub(super) fn output(&self, step: &Step) -> Output {
    let Some(given) = self.outputs.get(&step.id) else {
      return Output::failed(
        Status::Failed,
        format!(
          "the case gives no output for `{}`: litops test runs only rhai steps; add `{}:` under \
           `outputs`",
          step.id, step.id
        ),
      );
    };
    let mut fields = given.clone();
    let status = match fields.remove("status") {
      Some(name) => serde_json::from_value(name).unwrap_or(Status::Failed),
      None => Status::Done,
    };
    let mut output = Output::new(status);
    output.error = match fields.remove("error") {
      Some(Value::String(error)) => Some(error),
      Some(Value::Null) | None => None,
      Some(other) => Some(other.to_string()),
    };
    output.fields = fields;
    output
  }

  /// A checklist item's answer, as the walk records it.
  pub(super) fn checklist(&self, step: &Step) -> Status {
    // Answers are status names (`done`, `not-done`, `n/a`); the case file
    // was checked for them.
    self
      .answers
      .next(&step.id)
      .and_then(|answer| serde_json::from_value(Value::String(answer)).ok())
      .unwrap_or(Status::Unconfirmed)
  }
}
