//! `--prefetch`: when a run starts, every read-only query and metric fetch
//! whose inputs are parameters alone starts in the background, so its result
//! is there when the operator reaches the step. The step still asks before it
//! shows anything, and a step that is skipped or never reached has its query
//! stopped so it costs nothing more.

use std::any::Any;

use crate::aws::Aws;
use crate::clock::Instant;
use crate::model::{Step, StepBody};
use crate::params::Params;
use crate::template;

/// Work a kind started early for one step.
pub trait Pending: Send {
  fn started_at(&self) -> Instant;
  fn is_ready(&self) -> bool;
  /// Ends work nobody will use; says how it ended, for the transcript.
  fn stop(self: Box<Self>, aws: &Aws) -> String;
  /// For the kind that started it, to take it back.
  fn into_any(self: Box<Self>) -> Box<dyn Any>;
}

/// A read-only AWS action whose every `{{ }}` names a parameter: nothing
/// the walk does before the step can change what it asks AWS.
pub fn eligible(step: &Step, params: &Params) -> bool {
  let StepBody::Action(action) = &step.body else {
    return false;
  };
  if action.mutating || !action.kind.is_aws() {
    return false;
  }
  template::placeholders(&action.code)
    .is_ok_and(|found| found.iter().all(|p| params.get(p.name).is_some()))
}
