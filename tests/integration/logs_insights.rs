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
