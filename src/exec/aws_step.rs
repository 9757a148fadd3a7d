//! What every AWS action shares: waiting on a call under Ctrl-C and the
//! step's timeout, turning failures into the step's output, tables, times.

use aws_sdk_ecs::primitives::{DateTime, DateTimeFormat};
use aws_sdk_sts::error::{ProvideErrorMetadata, SdkError};
use serde_json::Value;

use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use super::action::{Output, StepRun};
pub use super::shown::Shown;
use crate::aws::{Aws, Cut, Session, explain};
use crate::transcript::Status;

pub enum Failure {
  Message(String),
  Cut(Cut),
}

impl From<String> for Failure {
  fn from(message: String) -> Self {
    Self::Message(message)
  }
}

impl From<Cut> for Failure {
  fn from(cut: Cut) -> Self {
    Self::Cut(cut)
  }
}

pub type Fields = serde_json::Map<String, Value>;

/// The step's output from an action's result: its fields and what it
/// showed, or the failure.
pub fn finish(run: &StepRun, result: Result<(Fields, Shown), Failure>) -> Output {
  match result {
    Ok((fields, shown)) => {
      run.console.say(&shown.fitted(run.console.width()));
      let mut output = Output::new(Status::Done);
      output.fields = fields;
      output
        .fields
        .insert("shown".into(), Value::String(shown.whole()));
      output
    }
    Err(Failure::Message(e)) => Output::failed(Status::Failed, e),
    Err(Failure::Cut(Cut::Interrupted)) => {
      Output::failed(Status::Interrupted, crate::cancel::interruption())
    }
    Err(Failure::Cut(Cut::TimedOut)) => Output::failed(Status::TimedOut, "timed out"),
  }
}

/// What an AWS read needs of its step, and nothing more, so that it can
/// also run beside the walk for `--prefetch`: the substituted body, the
/// session, and what bounds each call (Ctrl-C, the step's timeout).
pub struct Reach<'a> {
  pub text: &'a str,
  pub aws: &'a Session,
  interrupted: Arc<AtomicBool>,
  timeout: Option<Duration>,
}

impl<'a> Reach<'a> {
  pub fn new(
    text: &'a str,
    aws: &'a Session,
    interrupted: Arc<AtomicBool>,
    timeout: Option<Duration>,
  ) -> Self {
    Self {
      text,
      aws,
      interrupted,
      timeout,
    }
  }
}

impl StepRun<'_> {
  pub fn reach(&self) -> Reach<'_> {
    Reach::new(
      self.text,
      self.aws,
      self.console.interrupt_flag(),
      self.timeout,
    )
  }
}

/// An AWS call bounded by Ctrl-C and the step's timeout.
pub fn wait<F: std::future::Future>(run: &Reach, aws: &Aws, future: F) -> Result<F::Output, Cut> {
  aws.block_on(&run.interrupted, run.timeout, future)
}

/// An SDK request under `wait`, a failure explained as `operation`'s
/// (`"ecs:DescribeServices"`), sent when the account's quota for it allows.
pub fn call<T, E>(
  run: &Reach,
  aws: &Aws,
  operation: &str,
  request: impl std::future::Future<
    Output = Result<T, SdkError<E, aws_sdk_sts::config::http::HttpResponse>>,
  >,
) -> Result<T, Failure>
where
  E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
  let delay = crate::aws::pace::slot(&aws.identity, operation, std::time::Instant::now());
  let paced = async {
    tokio::time::sleep(delay).await;
    request.await
  };
  wait(run, aws, paced)?.map_err(|e| explain(operation, &e).into())
}

pub fn table(header: impl Into<comfy_table::Row>) -> comfy_table::Table {
  let mut table = comfy_table::Table::new();
  table.load_preset(comfy_table::presets::UTF8_BORDERS_ONLY);
  table.set_header(header);
  table
}

pub fn time(at: Option<&DateTime>) -> Value {
  at.and_then(|t| t.fmt(DateTimeFormat::DateTime).ok())
    .map_or(Value::Null, Value::String)
}

/// A mutating step's change as a unified diff, under the account and region
/// it will be made in.
pub fn change_preview(aws: &Aws, before: &str, after: &str) -> String {
  let diff = similar::TextDiff::from_lines(before, after)
    .unified_diff()
    .context_radius(3)
    .header("before", "after")
    .to_string();
  let mut out = format!(
    "   account {} · region {}\n",
    aws.identity.account, aws.identity.region
  );
  for line in diff.lines() {
    out.push_str(&format!("   {line}\n"));
  }
  out
}
