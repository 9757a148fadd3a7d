//! `logs-insights` through the binary against moto.

use crate::moto::{aws_env, moto};
use crate::{Test, records};

const RUNBOOK: &str = "---
title: Errors
params:
  customer:
    default: acme
---
# Log analysis

```logs-insights {name=errors}
log-groups: [/ecs/{{ customer }}-api]
since: 12h
limit: 10
---
fields @timestamp, @message | sort @timestamp desc
```

```rhai {name=count}
let rows = steps[\"errors\"].rows;
assert(rows.len() == 3, `expected 3 rows, got ${rows.len()}`);
rows[0][\"@message\"]
```
";

fn seed_logs(region: &str) {
  moto().seed(
    region,
    "logs = boto3.client('logs', endpoint_url=E, region_name=R)
logs.create_log_group(logGroupName='/ecs/acme-api')
logs.create_log_stream(logGroupName='/ecs/acme-api', logStreamName='web-1')
now = int(time.time() * 1000)
logs.put_log_events(logGroupName='/ecs/acme-api', logStreamName='web-1', logEvents=[
  {'timestamp': now - 60000 + i, 'message': f'ERROR payment declined {i}'} for i in range(3)])",
  );
}

#[test]
fn query_rows_reach_rhai_terminal_and_transcript() {
  let region = "eu-west-1";
  seed_logs(region);
  let ran = Test::new()
    .runbook(RUNBOOK)
    .env(aws_env(region))
    .args(&["run", "rb.md", "--yes"])
    .run();
  ran.assert(0);
  assert!(
    ran.stderr.contains("AWS account 123456789012"),
    "{}",
    ran.stderr
  );
  assert!(
    ran.stderr.contains("ERROR payment declined 2"),
    "table shown:\n{}",
    ran.stderr
  );
  let transcript = ran.transcript();
  assert!(transcript.contains("aws_account: '123456789012'\naws_region: eu-west-1\n"));
  let r = records(&transcript);
  assert_eq!(r[0]["aws"]["region"], region);
  let out = &r[2]["output"];
  assert_eq!(out["status_aws"], "Complete");
  assert_eq!(out["log_groups"][0], "/ecs/acme-api");
  assert_eq!(
    out["query"],
    "fields @timestamp, @message | sort @timestamp desc"
  );
  assert_eq!(out["row_count"], 3);
  assert!(out["query_id"].as_str().is_some_and(|q| !q.is_empty()));
  assert!(
    !out["rows"][0]
      .as_object()
      .expect("row")
      .contains_key("@ptr")
  );
  // moto gives epoch milliseconds; the transcript has the AWS form.
  let ts = out["rows"][0]["@timestamp"].as_str().expect("timestamp");
  assert_eq!(ts.len(), "2026-11-23 09:00:01.123".len(), "{ts}");
  let (start, end) = (
    out["start"].as_str().expect("start"),
    out["end"].as_str().expect("end"),
  );
  assert!(start.ends_with('Z') && end.ends_with('Z') && start < end);
  assert_eq!(r[4]["output"]["value"], "ERROR payment declined 2");
}

#[test]
fn unknown_log_group_is_one_clear_line() {
  let region = "eu-west-2";
  let ran = Test::new()
    .runbook(RUNBOOK)
    .env(aws_env(region))
    .args(&["run", "rb.md", "--yes"])
    .run();
  ran.assert(1);
  let r = records(&ran.transcript());
  let error = r[2]["error"].as_str().expect("error");
  assert!(
    error.starts_with("logs:StartQuery: ResourceNotFoundException"),
    "{error}"
  );
  assert!(!error.contains("Error {"), "no Debug dumps: {error}");
}

#[test]
fn unreachable_endpoint_fails_the_step_with_advice() {
  let mut env = aws_env("eu-west-3");
  env.retain(|(k, _)| k != "AWS_ENDPOINT_URL");
  env.push(("AWS_ENDPOINT_URL".into(), "http://127.0.0.1:9".into()));
  let ran = Test::new()
    .runbook(RUNBOOK)
    .env(env)
    .args(&["run", "rb.md", "--yes"])
    .run();
  ran.assert(1);
  let r = records(&ran.transcript());
  assert!(
    r[0]["aws"]["error"]
      .as_str()
      .is_some_and(|e| e.contains("cannot reach the AWS endpoint")),
    "{}",
    r[0]
  );
  assert!(
    r[2]["error"]
      .as_str()
      .is_some_and(|e| e.contains("check the network, VPN or AWS_ENDPOINT_URL"))
  );
}

mod scripted {
  use std::time::Duration;

  use crate::scripted::{Reply, Scripted};
  use crate::{Test, records};

  const QUERY: &str =
    "```logs-insights {name=q log-groups=/ecs/api TIMEOUT}\nfields @timestamp, @message\n```\n";

  fn runbook(timeout: &str) -> String {
    QUERY.replace("TIMEOUT", timeout)
  }

  /// The one-query runbook with `--yes` against `server`.
  fn run(server: &Scripted, timeout: &str) -> crate::Ran {
    Test::new()
      .runbook(&runbook(timeout))
      .env(server.env())
      .args(&["run", "rb.md", "--yes"])
      .run()
  }

  const RUNNING: &str = r#"{"status":"Running","results":[],"statistics":{"recordsMatched":0.0,"recordsScanned":120.0,"bytesScanned":4096.0}}"#;
  const COMPLETE: &str = r#"{"status":"Complete","results":[[{"field":"@timestamp","value":"2026-11-23 09:00:01.123"},{"field":"@message","value":"ERROR timeout talking to payments"},{"field":"@ptr","value":"CmAKJw"}]],"statistics":{"recordsMatched":1.0,"recordsScanned":500.0,"bytesScanned":65536.0}}"#;

  #[test]
  fn polls_running_until_complete_at_most_five_calls_a_second() {
    let server = Scripted::start(|op, n| match (op, n) {
      ("StartQuery", _) => Reply::ok(r#"{"queryId":"q-42"}"#),
      ("GetQueryResults", 0..=3) => Reply::ok(RUNNING),
      ("GetQueryResults", _) => Reply::ok(COMPLETE),
      _ => Reply::error("UnknownOperationException", op),
    });
    let ran = run(&server, "");
    ran.assert(0);
    let polls = server.times("GetQueryResults");
    assert_eq!(polls.len(), 5);
    for pair in polls.windows(2) {
      let gap = pair[1] - pair[0];
      assert!(
        gap >= Duration::from_millis(190),
        "GetQueryResults {gap:?} apart: over 5 calls/s"
      );
    }
    let r = records(&ran.transcript());
    let out = &r[2]["output"];
    assert_eq!(out["query_id"], "q-42");
    assert_eq!(out["statistics"]["records_scanned"], 500.0);
    assert_eq!(
      out["rows"][0]["@message"],
      "ERROR timeout talking to payments"
    );
    assert!(out["rows"][0].get("@ptr").is_none());
    assert_eq!(r[0]["aws"]["account"], "111122223333");
  }

  #[test]
  fn a_full_account_is_waited_out_not_failed() {
    let server = Scripted::start(|op, n| match (op, n) {
      ("StartQuery", 0) => Reply::error(
        "LimitExceededException",
        "The maximum number of concurrent queries has been reached",
      ),
      ("StartQuery", _) => Reply::ok(r#"{"queryId":"q-later"}"#),
      ("GetQueryResults", _) => Reply::ok(COMPLETE),
      _ => Reply::error("UnknownOperationException", op),
    });
    let ran = run(&server, "");
    ran.assert(0);
    let starts = server.times("StartQuery");
    assert_eq!(starts.len(), 2);
    assert!(starts[1] - starts[0] >= Duration::from_millis(950));
    assert_eq!(
      records(&ran.transcript())[2]["output"]["query_id"],
      "q-later"
    );
  }

  #[test]
  fn timeout_stops_the_query() {
    let server = Scripted::start(|op, _| match op {
      "StartQuery" => Reply::ok(r#"{"queryId":"q-slow"}"#),
      "GetQueryResults" => Reply::ok(RUNNING),
      "StopQuery" => Reply::ok(r#"{"success":true}"#),
      _ => Reply::error("UnknownOperationException", op),
    });
    let ran = run(&server, "timeout=1s");
    ran.assert(1);
    assert!(
      !server.times("StopQuery").is_empty(),
      "StopQuery was not called"
    );
    let r = records(&ran.transcript());
    assert_eq!(r[2]["status"], "timed-out");
    assert_eq!(r[2]["error"], "timed out; query stopped");
    assert_eq!(r[2]["output"]["query_id"], "q-slow");
  }

  #[test]
  fn ctrl_c_stops_the_query_and_exits_130() {
    let server = Scripted::start(|op, _| match op {
      "StartQuery" => Reply::ok(r#"{"queryId":"q-cut"}"#),
      "GetQueryResults" => Reply::ok(RUNNING),
      "StopQuery" => Reply::ok(r#"{"success":true}"#),
      _ => Reply::error("UnknownOperationException", op),
    });
    let test = Test::new()
      .runbook(&runbook(""))
      .env(server.env())
      .args(&["run", "rb.md", "--yes"]);
    let mut command = test.command();
    command
      .stdin(std::process::Stdio::null())
      .stdout(std::process::Stdio::null())
      .stderr(std::process::Stdio::null());
    let child = command.spawn().expect("spawn");
    // Interrupt once the query is being polled, not after a guessed delay.
    server.wait_for("GetQueryResults", 1);
    let pid = nix::unistd::Pid::from_raw(i32::try_from(child.id()).expect("pid"));
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGINT).expect("SIGINT");
    let output = child.wait_with_output().expect("wait");
    assert_eq!(output.status.code(), Some(130));
    assert!(
      !server.times("StopQuery").is_empty(),
      "StopQuery was not called"
    );
    let transcript =
      std::fs::read_to_string(crate::find_transcript(test.dir.path()).expect("transcript"))
        .expect("read");
    let r = records(&transcript);
    assert_eq!(r[2]["status"], "interrupted");
    assert_eq!(r[2]["error"], "interrupted (Ctrl-C); query stopped");
    assert_eq!(r[2]["output"]["stop_query"], "stopped");
  }

  #[test]
  fn access_denied_and_throttling_are_one_line_each() {
    let cases = [
      (
        Reply::error as fn(&str, &str) -> Reply,
        (
          "AccessDeniedException",
          "User: arn:aws:iam::111122223333:user/scripted is not authorized to perform: logs:StartQuery",
        ),
        "logs:StartQuery: AccessDeniedException: User: arn:aws:iam::111122223333:user/scripted is not authorized to perform: logs:StartQuery — the role in use lacks this permission",
      ),
      (
        Reply::error,
        ("ThrottlingException", "Rate exceeded"),
        "logs:StartQuery: ThrottlingException: Rate exceeded — AWS throttled the request even after retries: wait and run the step again",
      ),
    ];
    for (reply, (kind, message), expected) in cases {
      let (kind, message) = (kind.to_string(), message.to_string());
      let server = Scripted::start(move |_, _| reply(&kind, &message));
      let ran = run(&server, "");
      ran.assert(1);
      assert_eq!(records(&ran.transcript())[2]["error"], expected);
    }
  }
}
