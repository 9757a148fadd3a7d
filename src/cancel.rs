//! Futures that give way to Ctrl-C and to a step's timeout, for every action
//! that waits on the network (AWS calls, HTTP probes).

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

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
