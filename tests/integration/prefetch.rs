//! `run --prefetch` against a scripted Logs peer: queries start with the
//! run, results wait for the operator, skipped and unreached steps' queries
//! are stopped.

use rexpect::session::spawn_command;

use crate::scripted::{Reply, Scripted};
use crate::{Test, records, verified};

const RUNNING: &str = r#"{"status":"Running","results":[]}"#;

fn complete(message: &str) -> String {
  format!(
    r#"{{"status":"Complete","results":[[{{"field":"@timestamp","value":"2026-11-24 09:00:01.123"}},{{"field":"@message","value":"{message}"}}]]}}"#
  )
}

/// Queries on `/ecs/<name>` get id `q-<name>`; `q-api` completes at once,
/// every other query stays Running until stopped.
fn peer() -> Scripted {
  Scripted::start_with(|op, _, body| {
    let group = body
      .split("/ecs/")
      .nth(1)
      .and_then(|rest| rest.split('"').next())
      .unwrap_or("none");
    let id = body
      .split("\"queryId\":\"")
      .nth(1)
      .and_then(|rest| rest.split('"').next())
      .unwrap_or("none");
    match op {
      "StartQuery" => Reply::ok(&format!(r#"{{"queryId":"q-{group}"}}"#)),
      "GetQueryResults" if id == "q-api" => Reply::ok(&complete("ERROR from api")),
      "GetQueryResults" => Reply::ok(RUNNING),
      "StopQuery" => Reply::ok(r#"{"success":true}"#),
      _ => Reply::error("UnknownOperationException", op),
    }
  })
}

fn stopped(server: &Scripted) -> usize {
  server.times("StopQuery").len()
}

const INTERACTIVE: &str = "---
params:
  service:
    default: api
---
```logs-insights {name=api-errors}
log-groups: [/ecs/{{ service }}]
---
fields @timestamp, @message
```

```logs-insights {name=worker-errors}
log-groups: [/ecs/{{ service }}-worker]
---
fields @timestamp, @message
```
";

#[test]
fn queries_start_with_the_run_and_wait_for_the_operator() {
  let server = peer();
  let test =
    Test::new()
      .runbook(INTERACTIVE)
      .env(server.env())
      .args(&["run", "rb.md", "--prefetch"]);
  let mut session = spawn_command(test.command(), Some(20_000)).expect("pty");
  let run = "run this step? [r]un / [s]kip / [q]uit ";
  session
    .exp_string("prefetching `api-errors`, `worker-errors`")
    .expect("announced");
  let before = session.exp_string(run).expect("first prompt");
  // Both queries were started before anyone approved anything, and the
  // first one's rows are not on the screen yet.
  server.wait_for("StartQuery", 2);
  assert!(before.contains("prefetched at"), "{before}");
  assert!(!before.contains("ERROR from api"), "{before}");
  session.send_line("r").expect("run");
  session.exp_string("ERROR from api").expect("rows shown");
  session.exp_string(run).expect("second prompt");
  assert_eq!(stopped(&server), 0, "nothing stopped before the skip");
  session.send_line("s").expect("skip");
  session
    .exp_string("reason for skipping (optional) ")
    .expect("reason");
  session.send_line("not today").expect("reason");
  session.exp_eof().expect("exits");
  assert_eq!(stopped(&server), 1, "the skipped step's query is stopped");

  let path = crate::find_transcript(test.dir.path()).expect("transcript");
  verified(test.dir.path(), &path);
  let r = records(&std::fs::read_to_string(&path).expect("read"));
  let first = &r[2]["output"];
  let prefetched_at = first["prefetched_at"].as_str().expect("prefetched_at");
  assert!(prefetched_at <= r[1]["started_at"].as_str().expect("started"));
  assert_eq!(first["query_id"], "q-api");
  assert_eq!(first["rows"][0]["@message"], "ERROR from api");
  assert_eq!(r[3]["status"], "skipped");
  assert_eq!(r[3]["output"]["prefetch"], "stopped");
  assert!(r[3]["output"]["prefetched_at"].is_string());
}

#[test]
fn unreached_steps_are_stopped_and_variable_inputs_wait() {
  let server = peer();
  // The front matter turns prefetch on. `late` depends on a variable a
  // step sets, so it cannot start early; `never` is jumped over.
  let text = "---
prefetch: true
params:
  service:
    default: api
---
```rhai {name=pick}
vars.worker = \"api\";
goto(\"late\")
```

```logs-insights {name=never}
log-groups: [/ecs/{{ service }}-batch]
---
fields @message
```

```logs-insights {name=late}
log-groups: [/ecs/{{ worker }}]
---
fields @message
```
";
  let ran = Test::new()
    .runbook(text)
    .env(server.env())
    .args(&["run", "rb.md", "--yes-readonly"])
    .run();
  ran.assert(0);
  assert!(ran.stderr.contains("prefetching `never`"), "{}", ran.stderr);
  assert_eq!(stopped(&server), 1, "the unreached step's query is stopped");
  verified(ran.dir.path(), &ran.transcript_path());
  let transcript = ran.transcript();
  assert!(transcript.contains("- prefetched, never reached, stopped: `never`"));
  let r = records(&transcript);
  let late = &r[4]["output"];
  assert_eq!(r[4]["step"], "late");
  assert_eq!(late["rows"][0]["@message"], "ERROR from api");
  assert!(late.get("prefetched_at").is_none(), "{late}");
  let end = r.last().expect("records");
  assert_eq!(end["prefetch_stopped"][0], "never");
  // The auditor's HTML report says so too.
  let rendered = crate::command(
    ran.dir.path(),
    &[
      "render".into(),
      ran.transcript_path().display().to_string(),
      "--html".into(),
      "report.html".into(),
    ],
  )
  .output()
  .expect("render");
  assert_eq!(rendered.status.code(), Some(0));
  let html = std::fs::read_to_string(ran.dir.path().join("report.html")).expect("report");
  assert!(html.contains("<dt>prefetch stopped</dt><dd>never reached: never</dd>"));
}

#[test]
fn a_prefetched_query_that_failed_runs_again() {
  let server = Scripted::start(|op, n| match (op, n) {
    ("StartQuery", 0) => Reply::error("ServiceUnavailableException", "try later"),
    ("StartQuery", _) => Reply::ok(r#"{"queryId":"q-api"}"#),
    ("GetQueryResults", _) => Reply::ok(&complete("ERROR second try")),
    _ => Reply::error("UnknownOperationException", op),
  });
  let ran = Test::new()
    .runbook("```logs-insights {name=q}\nlog-groups: [/ecs/api]\n---\nfields @message\n```\n")
    .env(server.env())
    .args(&["run", "rb.md", "--yes", "--prefetch"])
    .run();
  ran.assert(0);
  assert!(
    ran
      .stderr
      .contains("the prefetched result failed (logs:StartQuery: ServiceUnavailableException"),
    "{}",
    ran.stderr
  );
  let r = records(&ran.transcript());
  assert_eq!(r[2]["output"]["rows"][0]["@message"], "ERROR second try");
  // The rows come from the query run after the failure, not the prefetch.
  assert!(r[2]["output"].get("prefetched_at").is_none());
}

/// Prefetching, skipping a step and ending a run each look for prefetched
/// work; a run with no AWS steps must not connect to AWS to find none.
#[test]
fn a_run_without_aws_steps_never_calls_aws() {
  let server = peer();
  let ran = Test::new()
    .runbook(
      "---\nprefetch: true\n---\n```sh {name=change}\ntouch x\n```\n\n```rhai {name=b}\n2\n```\n",
    )
    .file("targets.yaml", "targets:\n  - name: only\n")
    .env(server.env())
    .args(&["run", "rb.md", "--targets", "targets.yaml"])
    .run();
  ran.assert(0);
  let r = records(&ran.transcript());
  assert_eq!(r[1]["status"], "skipped", "{}", r[1]);
  assert_eq!(server.times("GetCallerIdentity").len(), 0);
}

/// The read-only kinds whose calls are made one after another (ECR, RDS,
/// ECS, ELB, CloudWatch alarms, Service Quotas, …) are prefetched on their
/// own thread: their result waits for the step, a failed one is read
/// again, and one whose step is jumped over is stopped.
#[test]
fn sequential_reads_are_prefetched_too() {
  let server = Scripted::start(|op, n| match (op, n) {
    ("DescribeImages", _) => Reply::ok(
      r#"{"imageDetails":[{"registryId":"111122223333","repositoryName":"acme/api","imageDigest":"sha256:ab","imageTags":["v1"]}]}"#,
    ),
    ("DescribeDBInstances", 0) => Reply::error("Throttling", "slow down"),
    ("DescribeDBInstances", _) => Reply::ok(
      "<DescribeDBInstancesResponse xmlns=\"http://rds.amazonaws.com/doc/2014-10-31/\"><DescribeDBInstancesResult><DBInstances><DBInstance><DBInstanceIdentifier>acme-db</DBInstanceIdentifier><DBInstanceStatus>available</DBInstanceStatus></DBInstance></DBInstances></DescribeDBInstancesResult><ResponseMetadata><RequestId>r</RequestId></ResponseMetadata></DescribeDBInstancesResponse>",
    ),
    _ => Reply::error("UnknownOperation", op),
  });
  let text = "---
prefetch: true
---
```ecr {name=image}
action: image
image: acme/api:v1
```

```rds {name=database}
action: instances
```

```rhai {name=jump}
goto(\"end\")
```

```elb {name=skipped-targets}
action: targets
target-group: api
```

```rhai {name=end}
\"done\"
```
";
  let ran = Test::new()
    .runbook(text)
    .env(server.env())
    .args(&["run", "rb.md", "--yes-readonly"])
    .run();
  ran.assert(0);
  assert!(
    ran
      .stderr
      .contains("prefetching `image`, `database`, `skipped-targets`"),
    "{}",
    ran.stderr
  );
  let r = records(&ran.transcript());
  let image = &r[2]["output"];
  assert_eq!(image["all_exist"], true, "{image}");
  assert!(image["prefetched_at"].is_string(), "{image}");
  // Read once, by the prefetch: the step used its result.
  assert_eq!(server.times("DescribeImages").len(), 1);
  // The prefetched read failed; the step read again and kept its own result.
  assert!(
    ran
      .stderr
      .contains("the prefetched result failed (rds:DescribeDBInstances: "),
    "{}",
    ran.stderr
  );
  let database = &r[4]["output"];
  assert_eq!(database["all_available"], true, "{database}");
  assert!(database.get("prefetched_at").is_none(), "{database}");
  let end = r.last().expect("records");
  assert_eq!(end["prefetch_stopped"][0], "skipped-targets");
}
