//! `litops resume`: a failed or killed run continues in its own transcript,
//! finished steps are not run again, and a mutating step that was in flight
//! is never run again without asking.

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::{Test, records};

fn litops(dir: &Path, args: &[&str]) -> std::process::Output {
  let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
  crate::command(dir, &args)
    .stdin(Stdio::null())
    .output()
    .expect("litops")
}

/// Asserts litops exited 0, showing what it said otherwise.
#[track_caller]
fn succeeded(output: &std::process::Output) {
  assert_eq!(
    output.status.code(),
    Some(0),
    "{}",
    String::from_utf8_lossy(&output.stdout)
  );
}

const FLAKY: &str = "# R\n\n```sh {name=one}\necho one >> log\n```\n\n```sh {name=two}\ntest -f fixed\n```\n\n```sh {name=three}\necho three >> log\n```\n";

/// FLAKY run into `t.md`, failed at `two`.
fn flaky_run_failed() -> crate::Ran {
  let ran = Test::new()
    .runbook(FLAKY)
    .args(&["run", "rb.md", "--yes", "--transcript", "t.md"])
    .run();
  ran.assert(1);
  ran
}

#[test]
fn a_failed_run_continues_at_the_failed_step() {
  let ran = flaky_run_failed();
  let dir = ran.dir.path();
  std::fs::write(dir.join("fixed"), "").expect("fix");
  let resumed = litops(dir, &["resume", "t.md", "--yes"]);
  assert_eq!(resumed.status.code(), Some(0));
  assert_eq!(
    std::fs::read_to_string(dir.join("log")).expect("log"),
    "one\nthree\n"
  );
  let r = records(&std::fs::read_to_string(dir.join("t.md")).expect("read"));
  let resumed_at = r
    .iter()
    .position(|x| x["type"] == "run-resumed")
    .expect("run-resumed");
  assert_eq!(r[resumed_at]["from_step"], "two");
  assert_eq!(r.last().expect("last")["result"], "passed");
  let verified = litops(dir, &["verify", "t.md"]);
  assert_eq!(verified.status.code(), Some(0));
  assert!(String::from_utf8_lossy(&verified.stdout).contains("run: passed (exit 0)"));
  // Nothing left to do.
  let again = litops(dir, &["resume", "t.md", "--yes"]);
  assert_eq!(again.status.code(), Some(2));
  assert!(String::from_utf8_lossy(&again.stderr).contains("the run passed: nothing to resume"));
}

#[test]
fn a_changed_runbook_needs_force_and_is_recorded() {
  let ran = flaky_run_failed();
  let dir = ran.dir.path();
  std::fs::write(dir.join("rb.md"), FLAKY.replace("test -f fixed", "true")).expect("edit");
  let refused = litops(dir, &["resume", "t.md", "--yes"]);
  assert_eq!(refused.status.code(), Some(2));
  assert!(
    String::from_utf8_lossy(&refused.stderr).contains("rb.md changed since the run started"),
    "{}",
    String::from_utf8_lossy(&refused.stderr)
  );
  let forced = litops(dir, &["resume", "t.md", "--yes", "--force"]);
  assert_eq!(forced.status.code(), Some(0));
  let r = records(&std::fs::read_to_string(dir.join("t.md")).expect("read"));
  let resumed = r
    .iter()
    .find(|x| x["type"] == "run-resumed")
    .expect("run-resumed");
  assert!(
    resumed["runbook_copy"]
      .as_str()
      .is_some_and(|c| c.starts_with("runbook-"))
  );
  // The resumed part is checked against the changed runbook's copy.
  let verified = litops(dir, &["verify", "t.md"]);
  succeeded(&verified);
}

/// Steps that each append their name to `log`, then wait for `go-<name>`;
/// step `mutating` is a change (not `readonly`).
fn blocking_runbook(steps: usize, mutating: usize) -> String {
  let mut text = String::from("# Blocking\n\n");
  for i in 1..=steps {
    let attrs = if i == mutating { "" } else { " readonly=true" };
    text.push_str(&format!(
      "```sh {{name=s{i}{attrs}}}\necho s{i} >> log\nuntil test -f go-s{i}; do sleep 0.02; done\n```\n\n"
    ));
  }
  text
}

/// `blocking_runbook(steps, mutating)` run into `t.md` in the background,
/// once steps up to `released` may go on: the test and its litops.
#[allow(
  clippy::zombie_processes,
  reason = "every caller waits for or kills the child it gets back"
)]
fn start_blocking(steps: usize, mutating: usize, released: usize) -> (Test, std::process::Child) {
  let test = Test::new()
    .runbook(&blocking_runbook(steps, mutating))
    .args(&["run", "rb.md", "--yes", "--transcript", "t.md"]);
  release(test.dir.path(), released);
  let child = test
    .command()
    .stdin(Stdio::null())
    .stdout(Stdio::null())
    .stderr(Stdio::null())
    .spawn()
    .expect("spawn");
  (test, child)
}

/// Lets steps s1 to s`upto` of a blocking runbook finish.
fn release(dir: &Path, upto: usize) {
  for i in 1..=upto {
    std::fs::write(dir.join(format!("go-s{i}")), "").expect("go");
  }
}

fn wait_for(path: &Path, line: &str) {
  let deadline = Instant::now() + Duration::from_secs(20);
  while !std::fs::read_to_string(path).is_ok_and(|t| t.lines().any(|l| l == line)) {
    assert!(Instant::now() < deadline, "{line} never started");
    std::thread::sleep(Duration::from_millis(10));
  }
}

#[test]
fn kill_9_at_every_step_then_resume_finishes_without_running_a_change_twice() {
  let steps = 10;
  let mutating = 4;
  // Killed in each of the ten steps, and between steps (right after a
  // step's line is logged the next may already be starting): 20 kills.
  for kill_at in 1..=steps {
    for between in [false, true] {
      // Steps before `kill_at` go straight through; in `between` mode so
      // does `kill_at` itself, and the kill lands after it, wherever the
      // walk is then (between steps, or starting the next).
      let released = if between { kill_at } else { kill_at - 1 };
      let (test, mut child) = start_blocking(steps, mutating, released);
      let dir = test.dir.path().to_path_buf();
      wait_for(&dir.join("log"), &format!("s{kill_at}"));
      child.kill().expect("SIGKILL");
      child.wait().expect("reap");
      // The killed step's shell outlives litops; releasing all ends it.
      release(&dir, steps);
      let verified = litops(&dir, &["verify", "t.md"]);
      assert_eq!(
        verified.status.code(),
        Some(0),
        "kill at s{kill_at}: {}",
        String::from_utf8_lossy(&verified.stdout)
      );
      let resumed = litops(&dir, &["resume", "t.md", "--yes"]);
      let log = std::fs::read_to_string(dir.join("log")).expect("log");
      let count = |name: &str| log.lines().filter(|l| *l == name).count();
      let text = std::fs::read_to_string(dir.join("t.md")).expect("read");
      let r = records(&text);
      let in_flight_change = r
        .iter()
        .rev()
        .find(|x| x["type"] == "step-started" || x["type"] == "step-finished")
        .is_some_and(|x| x["type"] == "step-started" && x["mutating"] == true);
      // The mutating step ran once, at most: resumed without a terminal,
      // an in-flight change is asked about, and nobody can answer.
      assert!(
        count(&format!("s{mutating}")) <= 1,
        "kill at s{kill_at}: {log}"
      );
      if resumed.status.code() == Some(0) {
        for i in 1..=steps {
          assert!(
            count(&format!("s{i}")) >= 1,
            "kill at s{kill_at}: s{i} never ran: {log}"
          );
        }
        for i in 1..kill_at {
          assert_eq!(
            count(&format!("s{i}")),
            1,
            "kill at s{kill_at}: s{i} ran twice: {log}"
          );
        }
      } else if resumed.status.code() == Some(2) {
        // Released to the end, the run finished before the kill.
        assert!(
          String::from_utf8_lossy(&resumed.stderr).contains("nothing to resume"),
          "kill at s{kill_at}"
        );
        assert_eq!(r.last().map(|x| x["result"].clone()), Some("passed".into()));
      } else {
        assert_eq!(resumed.status.code(), Some(3), "kill at s{kill_at}");
        assert!(
          String::from_utf8_lossy(&resumed.stdout).contains("a question could not be asked")
            || in_flight_change,
          "kill at s{kill_at}: {}",
          String::from_utf8_lossy(&resumed.stdout)
        );
      }
      let verified = litops(&dir, &["verify", "t.md"]);
      assert_eq!(
        verified.status.code(),
        Some(0),
        "after resume, kill at s{kill_at}"
      );
    }
  }
}

#[test]
fn kill_9_during_an_aws_call_then_resume_finishes_it() {
  use std::sync::Arc;
  use std::sync::atomic::{AtomicBool, Ordering};

  use crate::scripted::{Reply, Scripted};

  let done = Arc::new(AtomicBool::new(false));
  let flag = done.clone();
  let server = Scripted::start(move |op, _| match op {
    "StartQuery" => Reply::ok(r#"{"queryId":"q-1"}"#),
    "GetQueryResults" if flag.load(Ordering::SeqCst) => Reply::ok(
      r#"{"status":"Complete","results":[[{"field":"@message","value":"ERROR after resume"}]],"statistics":{"recordsMatched":1.0,"recordsScanned":9.0,"bytesScanned":99.0}}"#,
    ),
    "GetQueryResults" => Reply::ok(
      r#"{"status":"Running","results":[],"statistics":{"recordsMatched":0.0,"recordsScanned":1.0,"bytesScanned":1.0}}"#,
    ),
    _ => Reply::ok(r#"{"success":true}"#),
  });
  let test = Test::new()
    .runbook("```sh {name=before readonly=true}\necho before >> log\n```\n\n```logs-insights {name=q log-groups=/ecs/api}\nfields @message\n```\n")
    .env(server.env())
    .args(&["run", "rb.md", "--yes", "--transcript", "t.md"]);
  let dir = test.dir.path().to_path_buf();
  let mut child = test
    .command()
    .stdin(Stdio::null())
    .stdout(Stdio::null())
    .stderr(Stdio::null())
    .spawn()
    .expect("spawn");
  server.wait_for("GetQueryResults", 1);
  child.kill().expect("SIGKILL");
  child.wait().expect("reap");
  assert_eq!(litops(&dir, &["verify", "t.md"]).status.code(), Some(0));
  done.store(true, Ordering::SeqCst);
  let mut resume = crate::command(&dir, &["resume".into(), "t.md".into(), "--yes".into()]);
  let resumed = resume
    .envs(server.env())
    .stdin(Stdio::null())
    .output()
    .expect("resume");
  succeeded(&resumed);
  assert_eq!(
    std::fs::read_to_string(dir.join("log")).expect("log"),
    "before\n"
  );
  let r = records(&std::fs::read_to_string(dir.join("t.md")).expect("read"));
  let q = r
    .iter()
    .rev()
    .find(|x| x["type"] == "step-finished" && x["step"] == "q")
    .expect("q finished");
  assert_eq!(q["output"]["rows"][0]["@message"], "ERROR after resume");
  assert_eq!(litops(&dir, &["verify", "t.md"]).status.code(), Some(0));
}

#[test]
fn a_live_run_and_a_second_resume_are_refused_by_the_lock() {
  let (test, mut child) = start_blocking(2, 2, 0);
  let dir = test.dir.path().to_path_buf();
  wait_for(&dir.join("log"), "s1");
  // The run is live, in s1: a resume must not start s1 (or s2) again.
  let refused = litops(&dir, &["resume", "t.md", "--yes"]);
  assert_eq!(refused.status.code(), Some(2));
  assert_eq!(
    String::from_utf8_lossy(&refused.stderr),
    "t.md: error: cannot resume: another litops is writing it now (a run or a resume in progress)\n"
  );
  release(&dir, 2);
  assert_eq!(child.wait().expect("wait").code(), Some(0));
  assert_eq!(
    std::fs::read_to_string(dir.join("log")).expect("log"),
    "s1\ns2\n"
  );
  assert_eq!(litops(&dir, &["verify", "t.md"]).status.code(), Some(0));
}

/// Runs `text` (which stops at `three` until `fixed` exists), fixes it and
/// resumes: the resumed run's exit code and result.
fn fixed_and_resumed(text: &str) -> (Option<i32>, serde_json::Value) {
  let ran = Test::new()
    .runbook(text)
    .args(&["run", "rb.md", "--yes", "--transcript", "t.md"])
    .run();
  ran.assert(1);
  let dir = ran.dir.path();
  std::fs::write(dir.join("fixed"), "").expect("fix");
  let resumed = litops(dir, &["resume", "t.md", "--yes"]);
  let r = records(&std::fs::read_to_string(dir.join("t.md")).expect("read"));
  let end = r.last().expect("end")["result"].clone();
  (resumed.status.code(), end)
}

#[test]
fn a_resumed_run_still_fails_for_what_failed_before_the_resume() {
  // `one` fails under on-failure=continue and `three` stops the run; after
  // the fix the resume runs only `three`, and `one` still fails the run.
  let text = "# R\n\n```sh {name=one on-failure=continue}\nfalse\n```\n\n```sh {name=three}\ntest -f fixed\n```\n";
  assert_eq!(fixed_and_resumed(text), (Some(1), "failed".into()));
}

#[test]
fn a_forced_resume_whose_step_is_gone_refuses_naming_it_and_from_chooses() {
  let ran = flaky_run_failed();
  let dir = ran.dir.path();
  std::fs::write(dir.join("rb.md"), FLAKY.replace("name=two", "name=second")).expect("edit");
  let refused = litops(dir, &["resume", "t.md", "--yes", "--force"]);
  assert_eq!(refused.status.code(), Some(2));
  assert_eq!(
    String::from_utf8_lossy(&refused.stderr),
    "t.md: error: cannot resume: it stopped at step `two`, which rb.md no longer has; pass --from ID to choose where to continue\n"
  );
  assert_eq!(
    std::fs::read_to_string(dir.join("log")).expect("log"),
    "one\n",
    "nothing ran again"
  );
  let typo = litops(
    dir,
    &["resume", "t.md", "--yes", "--force", "--from", "secnd"],
  );
  assert_eq!(typo.status.code(), Some(2));
  assert_eq!(
    String::from_utf8_lossy(&typo.stderr),
    "error: `--from secnd`: no step has this id; did you mean `second`? (see `litops plan`)\n"
  );
  std::fs::write(dir.join("fixed"), "").expect("fix");
  let chosen = litops(
    dir,
    &["resume", "t.md", "--yes", "--force", "--from", "second"],
  );
  succeeded(&chosen);
  assert_eq!(
    std::fs::read_to_string(dir.join("log")).expect("log"),
    "one\nthree\n"
  );
}

#[test]
fn an_unattended_resume_is_told_what_to_do_with_a_change_in_flight() {
  for (what, ran_again) in [("rerun", true), ("skip", false)] {
    let (test, mut child) = start_blocking(2, 1, 0);
    let dir = test.dir.path().to_path_buf();
    wait_for(&dir.join("log"), "s1");
    child.kill().expect("SIGKILL");
    child.wait().expect("reap");
    release(&dir, 2);
    // Without --in-flight it stops and says so, as before.
    let asked = litops(&dir, &["resume", "t.md", "--yes"]);
    assert_eq!(asked.status.code(), Some(3), "{what}");
    let told = litops(&dir, &["resume", "t.md", "--yes", "--in-flight", what]);
    assert_eq!(told.status.code(), Some(0), "{what}");
    let log = std::fs::read_to_string(dir.join("log")).expect("log");
    assert_eq!(
      log.lines().filter(|l| *l == "s1").count(),
      if ran_again { 2 } else { 1 },
      "{what}: {log}"
    );
    let r = records(&std::fs::read_to_string(dir.join("t.md")).expect("read"));
    let decided = r
      .iter()
      .rev()
      .find(|x| x["step"] == "s1" && x.get("decision").is_some_and(|d| !d.is_null()))
      .expect("s1 decided");
    assert_eq!(decided["decision"]["how"], format!("--in-flight {what}"));
  }
}

#[test]
fn an_item_left_unconfirmed_before_a_resume_still_leaves_the_run_incomplete() {
  let text = "# R\n\n- [ ] Dashboard looks normal\n\n```sh {name=three}\ntest -f fixed\n```\n";
  assert_eq!(fixed_and_resumed(text), (Some(3), "incomplete".into()));
}
