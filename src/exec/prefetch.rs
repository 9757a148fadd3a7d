//! `--prefetch`: when a run starts, every read-only AWS step whose inputs
//! are parameters alone starts in the background, so its result
//! is there when the operator reaches the step. The step still asks before it
//! shows anything, and a step that is skipped or never reached has its query
//! stopped so it costs nothing more.

use std::any::Any;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::Duration;

use serde_json::Value;

use super::action::StepRun;
use super::aws_step::{Failure, Fields, Reach, Shown};
use crate::aws::{Aws, Cut, Session};
use crate::clock;
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

/// How work that nobody will use ended, for the transcript.
pub fn how_stopped(finished: bool) -> String {
  if finished {
    "complete already"
  } else {
    "stopped"
  }
  .into()
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

/// A whole read-only AWS action, its calls made one after another.
pub type Read = fn(&Reach) -> Result<(Fields, Shown), Failure>;

/// A read started beside the walk on its own thread, for kinds whose calls
/// are made one after another rather than as one future.
struct Background {
  started_at: Instant,
  /// Ends the read's calls when its step is skipped or never reached.
  stop: Arc<AtomicBool>,
  done: Receiver<Result<(Fields, Shown), Failure>>,
  ready: Arc<AtomicBool>,
}

/// Starts `read` of `text` in the background with the run's connection.
pub fn background(
  text: &str,
  aws: Arc<Aws>,
  timeout: Option<Duration>,
  read: Read,
) -> Box<dyn Pending> {
  let (tx, done) = mpsc::channel();
  let stop = Arc::new(AtomicBool::new(false));
  let ready = Arc::new(AtomicBool::new(false));
  let (text, flag, finished) = (text.to_string(), stop.clone(), ready.clone());
  std::thread::spawn(move || {
    let session = Session::connected(aws);
    let result = read(&Reach::new(&text, &session, flag, timeout));
    finished.store(true, Ordering::SeqCst);
    // The step may be gone by now; then nobody wants the result.
    let _ = tx.send(result);
  });
  Box::new(Background {
    started_at: clock::now(),
    stop,
    done,
    ready,
  })
}

impl Pending for Background {
  fn started_at(&self) -> Instant {
    self.started_at
  }

  fn is_ready(&self) -> bool {
    self.ready.load(Ordering::SeqCst)
  }

  fn stop(self: Box<Self>, _aws: &Aws) -> String {
    self.stop.store(true, Ordering::SeqCst);
    how_stopped(self.is_ready())
  }

  fn into_any(self: Box<Self>) -> Box<dyn Any> {
    self
  }
}

/// The step's read: what was prefetched for it if anything (waited for
/// under Ctrl-C), else made now. As for a query, a prefetched read that
/// failed is made once more rather than show a stale error.
pub fn read(run: &mut StepRun, make: Read) -> Result<(Fields, Shown), Failure> {
  let prefetched = run
    .prefetched
    .take()
    .and_then(|p| p.into_any().downcast::<Background>().ok());
  let Some(background) = prefetched else {
    return make(&run.reach());
  };
  let interrupted = run.console.interrupt_flag();
  let result = loop {
    match background.done.recv_timeout(Duration::from_millis(50)) {
      Ok(result) => break result,
      Err(RecvTimeoutError::Timeout) if interrupted.load(Ordering::SeqCst) => {
        background.stop.store(true, Ordering::SeqCst);
        return Err(Failure::Cut(Cut::Interrupted));
      }
      Err(RecvTimeoutError::Timeout) => {}
      Err(RecvTimeoutError::Disconnected) => {
        break Err(Failure::Message(
          "the prefetched read ended without a result".into(),
        ));
      }
    }
  };
  match result {
    Ok((mut fields, shown)) => {
      fields.insert(
        "prefetched_at".into(),
        Value::String(background.started_at.rfc3339()),
      );
      Ok((fields, shown))
    }
    Err(Failure::Message(e)) => {
      run.console.say(&format!(
        "   the prefetched result failed ({e}); running it again\n"
      ));
      make(&run.reach())
    }
    Err(Failure::Cut(_)) => make(&run.reach()),
  }
}
