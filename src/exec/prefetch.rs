//! `--prefetch`: when a run starts, every read-only query and metric fetch
//! whose inputs are parameters alone starts in the background, so its result
//! is there when the operator reaches the step. The step still asks before it
//! shows anything, and a step that is skipped or never reached has its query
//! stopped so it costs nothing more.

use std::any::Any;

use super::action::StepRun;
use crate::aws::{Aws, Cut};
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

/// What a fetch waited for: its result or error, unless Ctrl-C or the
/// step's timeout came first.
pub type Waited<T> = Result<Result<T, String>, Cut>;

/// The step's fetch: the prefetched one if there is one, else one started
/// now; it returns that fetch (to stop or describe) and what came of it.
/// What failed minutes ago may work now: when the prefetched fetch failed,
/// the operator asked for the result, so it runs once more rather than
/// show a stale error.
pub fn take_or_start<P: Pending + 'static, T>(
  run: &mut StepRun,
  start: impl Fn() -> P,
  wait: impl Fn(&mut P, &StepRun) -> Waited<T>,
) -> (P, Waited<T>) {
  let prefetched = run
    .prefetched
    .take()
    .and_then(|p| p.into_any().downcast::<P>().ok());
  let Some(mut fetch) = prefetched.map(|p| *p) else {
    let mut fetch = start();
    let waited = wait(&mut fetch, run);
    return (fetch, waited);
  };
  match wait(&mut fetch, run) {
    Ok(Err(e)) => {
      run.console.say(&format!(
        "   the prefetched result failed ({e}); running it again\n"
      ));
      let mut again = start();
      let waited = wait(&mut again, run);
      (again, waited)
    }
    waited => (fetch, waited),
  }
}
