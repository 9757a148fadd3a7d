//! Futures that give way to Ctrl-C and to a step's timeout, for every action
//! that waits on the network (AWS calls, HTTP probes).

use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::time::Duration;

/// The first signal that interrupted the run (SIGINT, SIGTERM or SIGHUP);
/// 0 while none has. Signals are the process's, so this is too.
static SIGNAL: AtomicI32 = AtomicI32::new(0);

/// Records that `signal` arrived; the first one is the one reported.
pub fn note_signal(signal: i32) {
  let _ = SIGNAL.compare_exchange(0, signal, Ordering::SeqCst, Ordering::SeqCst);
}

/// Whether a signal has interrupted the process.
pub fn signalled() -> bool {
  SIGNAL.load(Ordering::SeqCst) != 0
}

/// `interrupted (…)` naming the signal that arrived, for records and errors.
pub fn interruption() -> String {
  let why = match SIGNAL.load(Ordering::SeqCst) {
    signal_hook::consts::SIGTERM => "SIGTERM",
    signal_hook::consts::SIGHUP => "SIGHUP: the terminal or SSH session went away",
    _ => "Ctrl-C",
  };
  format!("interrupted ({why})")
}

/// 128 + the signal, as a shell reports a process a signal ended.
pub fn interrupted_exit_code() -> i32 {
  128
    + match SIGNAL.load(Ordering::SeqCst) {
      0 => signal_hook::consts::SIGINT,
      signal => signal,
    }
}

/// Why an awaited call did not finish.
pub enum Cut {
  Interrupted,
  TimedOut,
}

/// Runs `future` to completion on `runtime` unless the operator presses
/// Ctrl-C (the signal thread sets `interrupted`) or `timeout` passes first.
pub fn run<F: Future>(
  runtime: &tokio::runtime::Runtime,
  interrupted: &AtomicBool,
  timeout: Option<Duration>,
  future: F,
) -> Result<F::Output, Cut> {
  // On the heap, not the calling thread's stack: an SDK call's future is
  // hundreds of KB deep, and a stack page once touched stays resident for
  // the thread's life — a fan-out of 1,000 threads kept ~1 MB each.
  let future = Box::pin(future);
  runtime.block_on(async {
    let watch = async {
      // A 50 ms check costs nothing next to a network call.
      while !interrupted.load(Ordering::SeqCst) {
        tokio::time::sleep(Duration::from_millis(50)).await;
      }
    };
    let deadline = async {
      match timeout {
        Some(t) => tokio::time::sleep(t).await,
        None => std::future::pending().await,
      }
    };
    tokio::select! {
      output = future => Ok(output),
      () = watch => Err(Cut::Interrupted),
      () = deadline => Err(Cut::TimedOut),
    }
  })
}
