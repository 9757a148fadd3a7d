//! `kill -9` and Ctrl-C in the middle of a run.

use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill, killpg};
use nix::unistd::Pid;

use crate::{Test, records, shape};

const RUNBOOK: &str = "# Long\n\n```sh {name=one}\necho one\n```\n\n```sh {name=two}\necho two\n```\n\n```sh {name=slow}\necho $$ > slow.pid\nexec sleep 60\n```\n\n```sh {name=after}\ntouch after\n```\n";

pub fn alive(pid: i32) -> bool {
  // Signal 0 checks existence; a zombie has exited, so treat it as dead.
  let status = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
  let zombie = status.split(' ').nth(2) == Some("Z");
  std::path::Path::new(&format!("/proc/{pid}")).exists() && !zombie
}

/// Waits (bounded) until the slow step has started its process.
#[allow(
  clippy::zombie_processes,
  reason = "the caller waits for the child it gets back"
)]
fn start_slow_run(test: &Test) -> (Child, i32) {
  let mut command = test.command();
  command
    .stdin(Stdio::null())
    .stdout(Stdio::null())
    .stderr(Stdio::null());
  let child = command.spawn().expect("spawn");
  let pid_file = test.dir.path().join("slow.pid");
  let deadline = Instant::now() + Duration::from_secs(20);
  loop {
    if let Some(pid) = std::fs::read_to_string(&pid_file)
      .ok()
      .and_then(|s| s.trim().parse::<i32>().ok())
      .filter(|&pid| pid > 1)
    {
      return (child, pid);
    }
    assert!(Instant::now() < deadline, "the slow step never started");
    std::thread::sleep(Duration::from_millis(20));
  }
}

#[test]
fn kill_9_leaves_every_finished_step_and_the_one_in_flight() {
  let test = Test::new()
    .runbook(RUNBOOK)
    .args(&["run", "rb.md", "--yes"]);
  let (mut child, slow_pid) = start_slow_run(&test);
  child.kill().expect("SIGKILL");
  child.wait().expect("reap");
  // The step's own process group outlives litops; clean it up. (Not with
  // the `kill` program: procps-ng 4.0.2 turns `kill -9 -PGID` into kill(-1).)
  let _ = killpg(Pid::from_raw(slow_pid), Signal::SIGKILL);
  let transcript =
    std::fs::read_to_string(crate::find_transcript(test.dir.path()).expect("transcript"))
      .expect("read");
  assert_eq!(
    shape(&transcript),
    [
      "run-started",
      "step-started one",
      "step-finished one done",
      "step-started two",
      "step-finished two done",
      "step-started slow",
    ]
  );
  assert!(
    transcript.contains("end: ~"),
    "no end recorded for a killed run"
  );
  // What was written verifies, and says where the run was killed.
  let path = crate::find_transcript(test.dir.path()).expect("transcript");
  let report = crate::verified(test.dir.path(), &path);
  assert!(
    report.contains("run: unfinished: `slow` started and has no result"),
    "{report}"
  );
  assert!(!test.dir.path().join("after").exists());
}

#[test]
fn ctrl_c_kills_the_step_records_interrupted_and_exits_130() {
  let test = Test::new()
    .runbook(RUNBOOK)
    .args(&["run", "rb.md", "--yes"]);
  let (child, slow_pid) = start_slow_run(&test);
  let litops = Pid::from_raw(i32::try_from(child.id()).expect("pid"));
  kill(litops, Signal::SIGINT).expect("SIGINT");
  let output = child.wait_with_output().expect("wait");
  assert_eq!(output.status.code(), Some(130));
  assert!(
    !alive(slow_pid),
    "the step's process {slow_pid} survived Ctrl-C"
  );
  let transcript =
    std::fs::read_to_string(crate::find_transcript(test.dir.path()).expect("transcript"))
      .expect("read");
  let r = records(&transcript);
  assert_eq!(r[6]["status"], "interrupted");
  assert_eq!(r[6]["error"], "interrupted (Ctrl-C): killed");
  assert_eq!(r[7]["result"], "interrupted");
  assert_eq!(r[7]["exit_code"], 130);
  assert!(!test.dir.path().join("after").exists());
}

#[test]
fn sighup_and_sigterm_kill_the_step_and_are_named_in_the_record() {
  for (signal, named, code) in [
    (
      Signal::SIGHUP,
      "interrupted (SIGHUP: the terminal or SSH session went away)",
      129,
    ),
    (Signal::SIGTERM, "interrupted (SIGTERM)", 143),
  ] {
    let test = Test::new()
      .runbook(RUNBOOK)
      .args(&["run", "rb.md", "--yes"]);
    let (child, slow_pid) = start_slow_run(&test);
    let litops = Pid::from_raw(i32::try_from(child.id()).expect("pid"));
    kill(litops, signal).expect("signal");
    let output = child.wait_with_output().expect("wait");
    assert_eq!(output.status.code(), Some(code), "{signal}");
    assert!(
      !alive(slow_pid),
      "the step's process {slow_pid} survived {signal}"
    );
    let path = crate::find_transcript(test.dir.path()).expect("transcript");
    let r = records(&std::fs::read_to_string(&path).expect("read"));
    assert_eq!(r[6]["status"], "interrupted");
    assert_eq!(r[6]["error"], format!("{named}: killed"));
    assert_eq!(r[7]["reason"], named);
    assert_eq!(r[7]["exit_code"], code);
    assert!(!test.dir.path().join("after").exists());
    crate::verified(test.dir.path(), &path);
  }
}

#[test]
fn ctrl_c_during_the_identity_call_before_step_1_ends_the_run_with_nothing_run() {
  use std::net::TcpListener;
  // An AWS endpoint that accepts and never answers: the identity call
  // before step 1 hangs until Ctrl-C.
  let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
  let url = format!("http://{}", listener.local_addr().expect("addr"));
  let test = Test::new()
    .runbook(
      "```cloudwatch {name=alarms}\naction: alarms\n```\n\n```sh {name=after}\ntouch after\n```\n",
    )
    .env(vec![
      ("AWS_ENDPOINT_URL".into(), url),
      ("AWS_ACCESS_KEY_ID".into(), "test".into()),
      ("AWS_SECRET_ACCESS_KEY".into(), "test".into()),
      ("AWS_REGION".into(), "eu-west-1".into()),
      ("AWS_MAX_ATTEMPTS".into(), "1".into()),
    ])
    .args(&["run", "rb.md", "--yes"]);
  let mut command = test.command();
  command
    .stdin(Stdio::null())
    .stdout(Stdio::null())
    .stderr(Stdio::piped());
  let child = command.spawn().expect("spawn");
  // The call is in flight once the endpoint has its connection.
  let (_held, _) = listener.accept().expect("the identity call connects");
  let litops = Pid::from_raw(i32::try_from(child.id()).expect("pid"));
  kill(litops, Signal::SIGINT).expect("SIGINT");
  let output = child.wait_with_output().expect("wait");
  assert_eq!(output.status.code(), Some(130));
  let path = crate::find_transcript(test.dir.path()).expect("transcript");
  let r = records(&std::fs::read_to_string(&path).expect("read"));
  assert_eq!(
    shape(&std::fs::read_to_string(&path).expect("read")),
    ["run-started", "run-finished interrupted"]
  );
  assert_eq!(r[0]["aws"]["error"], "interrupted (Ctrl-C)");
  assert_eq!(r[1]["stopped_at"], "alarms");
  assert!(!test.dir.path().join("after").exists());
}

/// Ctrl-C during `litops test` ends the case it is in (failed, saying so),
/// runs no case after it, writes no expectations with `--update`, and
/// exits 130.
#[test]
fn ctrl_c_ends_litops_test_and_update_writes_nothing() {
  let cases =
    "cases:\n  - name: spins\n    expect: {exit: 0}\n  - name: never\n    expect: {exit: 0}\n";
  let test = Test::new()
    .runbook("# Spin\n\n```rhai {name=spin}\nlet x = 0;\nloop { x += 1; }\n```\n")
    .file("rb.test.yaml", cases)
    .file("tmp/.keep", "")
    .env(vec![("TMPDIR".into(), "tmp".into())])
    .args(&["test", "rb.md", "--update"]);
  let mut command = test.command();
  command.stdout(Stdio::piped()).stderr(Stdio::piped());
  let child = command.spawn().expect("spawn");
  // The case's transcript exists once its walk has started.
  let deadline = Instant::now() + Duration::from_secs(20);
  while !testing_transcript_started(&test.dir.path().join("tmp")) {
    assert!(Instant::now() < deadline, "the case never started");
    std::thread::sleep(Duration::from_millis(20));
  }
  kill(Pid::from_raw(child.id() as i32), Signal::SIGINT).expect("SIGINT");
  let out = child.wait_with_output().expect("wait");
  assert_eq!(out.status.code(), Some(130));
  assert_eq!(
    String::from_utf8_lossy(&out.stdout),
    "FAIL  rb.test.yaml › spins\n      interrupted (Ctrl-C)\n\n0 passed, 1 failed\n"
  );
  assert_eq!(
    std::fs::read_to_string(test.dir.path().join("rb.test.yaml")).expect("read"),
    cases
  );
}

/// Whether a `litops test` case has started its walk: its transcript is in
/// a temporary directory under `tmp`.
fn testing_transcript_started(tmp: &std::path::Path) -> bool {
  std::fs::read_dir(tmp)
    .into_iter()
    .flatten()
    .flatten()
    .any(|dir| {
      std::fs::read_dir(dir.path())
        .into_iter()
        .flatten()
        .flatten()
        .any(|f| f.path().extension().is_some_and(|e| e == "jsonl"))
    })
}
