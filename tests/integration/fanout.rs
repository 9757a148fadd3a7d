//! `run --targets`: one runbook over several environments at once, one
//! transcript each, mutating steps skipped without --yes, a matrix.

use crate::moto::{aws_env, moto};
use crate::{Test, records};

const RUNBOOK: &str = "---
title: Fleet check
params:
  customer:
    description: Customer
---
# Fleet

```cloudwatch {name=alarms}
action: alarms
prefix: \"{{ customer }}-\"
```

```ecs {name=scale-out}
action: scale
cluster: \"{{ customer }}-production\"
service: api
desired: +1
```

```rhai {name=verdict}
let n = steps[\"alarms\"].count;
if n > 0 { fail(`${n} alarm(s) firing`) }
\"quiet\"
```
";

fn targets(regions: &[(&str, &str)]) -> String {
  let mut text = String::from("targets:\n");
  for (name, region) in regions {
    text.push_str(&format!(
      "  - name: {name}\n    region: {region}\n    params: {{customer: acme}}\n"
    ));
  }
  text
}

/// One alarm firing in `region` for customer acme.
fn seed_alarm(region: &str) {
  moto().seed(
    region,
    "cw = boto3.client('cloudwatch', endpoint_url=E, region_name=R)
cw.put_metric_alarm(AlarmName='acme-cpu', MetricName='CPUUtilization', Namespace='AWS/ECS', Statistic='Average',
  Period=60, EvaluationPeriods=1, Threshold=85.0, ComparisonOperator='GreaterThanThreshold')
cw.set_alarm_state(AlarmName='acme-cpu', StateValue='ALARM', StateReason='hot')",
  );
}

#[test]
fn every_target_runs_read_only_with_a_matrix() {
  seed_alarm("us-gov-west-1");
  let ran = Test::new()
    .runbook(RUNBOOK)
    .file(
      "targets.yaml",
      targets(&[
        ("hot", "us-gov-west-1"),
        ("calm-1", "ap-southeast-3"),
        ("calm-2", "ap-southeast-4"),
      ]),
    )
    .env(aws_env("us-east-1"))
    .args(&["run", "rb.md", "--targets", "targets.yaml"])
    .run();
  ran.assert(1);
  assert!(
    ran.stdout.contains("2 of 3 targets passed"),
    "{}",
    ran.stdout
  );
  let row = |name: &str| {
    ran
      .stdout
      .lines()
      .find(|l| l.starts_with(&format!("| {name} ")))
      .unwrap_or_default()
      .to_string()
  };
  // alarms done, scale-out skipped, verdict failed or done.
  assert!(
    row("hot").contains("failed") && row("hot").contains("✓~✗"),
    "{}",
    ran.stdout
  );
  assert!(row("hot").contains("1 alarm(s) firing"), "{}", ran.stdout);
  assert!(
    row("calm-1").contains("passed") && row("calm-1").contains("✓~✓"),
    "{}",
    ran.stdout
  );
  assert!(row("calm-2").contains("quiet"), "{}", ran.stdout);
  // One transcript per target, each in its own region, the change skipped.
  let files = crate::find_transcripts(ran.dir.path());
  assert_eq!(files.len(), 3);
  let hot = files
    .iter()
    .find(|p| p.to_string_lossy().ends_with("-hot.md"))
    .expect("hot transcript");
  let r = records(&std::fs::read_to_string(hot).expect("read"));
  assert_eq!(r[0]["aws"]["region"], "us-gov-west-1");
  let skipped = r
    .iter()
    .find(|x| x["step"] == "scale-out")
    .expect("scale-out");
  assert_eq!(skipped["status"], "skipped");
  assert_eq!(skipped["decision"]["how"], "--targets");
}

#[test]
fn max_errors_stops_starting_targets() {
  seed_alarm("us-gov-east-1");
  let ran = Test::new()
    .runbook(RUNBOOK)
    .file(
      "targets.yaml",
      targets(&[
        ("first", "us-gov-east-1"),
        ("second", "ap-southeast-5"),
        ("third", "ap-southeast-6"),
      ]),
    )
    .env(aws_env("us-east-1"))
    .args(&[
      "run",
      "rb.md",
      "--targets",
      "targets.yaml",
      "--max-concurrency",
      "1",
      "--max-errors",
      "1",
    ])
    .run();
  ran.assert(1);
  assert!(
    ran
      .stdout
      .contains("0 of 3 targets passed; 2 not started (--max-errors)"),
    "{}",
    ran.stdout
  );
}

#[test]
fn a_bad_targets_file_is_refused_before_anything_runs() {
  let ran = Test::new()
    .runbook(RUNBOOK)
    .file("targets.yaml", "targets:\n  - name: a b\n")
    .args(&["run", "rb.md", "--targets", "targets.yaml"])
    .run();
  ran.assert(2);
  assert!(ran.stderr.contains("target name `a b`"), "{}", ran.stderr);
}

/// `n` targets, all at once, each running one Logs Insights query.
fn query_targets(env: Vec<(String, String)>, n: usize) -> crate::Ran {
  let mut file = String::from("targets:\n");
  for i in 1..=n {
    file.push_str(&format!("  - name: t{i}\n"));
  }
  Test::new()
    .runbook("```logs-insights {name=q log-groups=/ecs/api}\nfields @message\n```\n")
    .file("targets.yaml", file)
    .env(env)
    .args(&[
      "run",
      "rb.md",
      "--targets",
      "targets.yaml",
      "--max-concurrency",
      &n.to_string(),
    ])
    .run()
}

/// Four targets in one account and region polling Logs Insights at once:
/// GetQueryResults stays within 5 calls a second at the wire.
#[test]
fn concurrent_targets_share_the_get_query_results_quota() {
  use crate::scripted::{Reply, Scripted};
  use std::time::Duration;

  let server = Scripted::start(|op, n| match (op, n) {
    ("StartQuery", _) => Reply::ok(r#"{"queryId":"q"}"#),
    ("GetQueryResults", 0..=11) => Reply::ok(
      r#"{"status":"Running","results":[],"statistics":{"recordsMatched":0.0,"recordsScanned":1.0,"bytesScanned":1.0}}"#,
    ),
    ("GetQueryResults", _) => Reply::ok(
      r#"{"status":"Complete","results":[],"statistics":{"recordsMatched":0.0,"recordsScanned":1.0,"bytesScanned":1.0}}"#,
    ),
    _ => Reply::ok("{}"),
  });
  let ran = query_targets(server.env(), 4);
  ran.assert(0);
  let polls = server.times("GetQueryResults");
  assert!(polls.len() >= 12, "{} polls", polls.len());
  // Any window shorter than a second holds at most five calls (a few ms
  // allowed for the network between the client's slot and the wire).
  for (i, start) in polls.iter().enumerate() {
    let in_window = polls[i..]
      .iter()
      .take_while(|at| at.duration_since(*start) < Duration::from_millis(950))
      .count();
    assert!(
      in_window <= 5,
      "{in_window} GetQueryResults within a second"
    );
  }
}

/// 25 targets in one account and region, all at once: no more than 20
/// queries are ever running there, counted at the wire from StartQuery to
/// the poll that answers Complete.
#[test]
fn concurrent_targets_keep_within_the_accounts_query_slots() {
  use std::sync::{Arc, Mutex};

  use crate::scripted::{Reply, Scripted};

  // (running now, most ever running, started in all). Queries stay Running
  // until 20 have started (or 10 s pass, not to hang if fewer ever do), so
  // the limit is reached however slowly the targets start.
  let running = Arc::new(Mutex::new((0usize, 0usize, 0usize)));
  let seen = Arc::clone(&running);
  let began = std::time::Instant::now();
  let server = Scripted::start(move |op, _| {
    let mut r = seen.lock().expect("count");
    match op {
      "StartQuery" => {
        r.0 += 1;
        r.1 = r.1.max(r.0);
        r.2 += 1;
        Reply::ok(r#"{"queryId":"q"}"#)
      }
      "GetQueryResults" if r.2 < 20 && began.elapsed().as_secs() < 10 => {
        Reply::ok(r#"{"status":"Running","results":[]}"#)
      }
      "GetQueryResults" => {
        r.0 -= 1;
        Reply::ok(r#"{"status":"Complete","results":[]}"#)
      }
      _ => Reply::ok("{}"),
    }
  });
  let ran = query_targets(server.env(), 25);
  ran.assert(0);
  let (now, most, started) = *running.lock().expect("count");
  assert_eq!((now, started), (0, 25), "every query started and ended");
  assert_eq!(
    most, 20,
    "at most 20 queries at once, and the limit was reached"
  );
}

/// On a terminal, each running target has its own line saying which step
/// it is at; the queries are held Running until both lines were seen.
#[test]
fn a_terminal_shows_a_line_per_running_target() {
  use std::sync::Arc;
  use std::sync::atomic::{AtomicBool, Ordering};

  use crate::scripted::{Reply, Scripted};

  let release = Arc::new(AtomicBool::new(false));
  let released = Arc::clone(&release);
  let server = Scripted::start(move |op, _| match op {
    "StartQuery" => Reply::ok(r#"{"queryId":"q"}"#),
    "GetQueryResults" if !released.load(Ordering::SeqCst) => {
      Reply::ok(r#"{"status":"Running","results":[]}"#)
    }
    "GetQueryResults" => Reply::ok(r#"{"status":"Complete","results":[]}"#),
    _ => Reply::ok("{}"),
  });
  let test = Test::new()
    .runbook("```logs-insights {name=errors log-groups=/ecs/api}\nfields @message\n```\n")
    .file("targets.yaml", "targets:\n  - name: east\n  - name: west\n")
    .env(server.env())
    // indicatif draws nothing for a terminal it cannot name.
    .env(vec![("TERM".into(), "xterm".into())])
    .args(&["run", "rb.md", "--targets", "targets.yaml"]);
  let mut session = rexpect::session::spawn_command(test.command(), Some(20_000)).expect("pty");
  for line in [
    "east: [1/1] errors",
    "west: [1/1] errors",
    "0/2 targets done",
  ] {
    session
      .exp_string(line)
      .unwrap_or_else(|e| panic!("waiting for {line:?}: {e}"));
  }
  release.store(true, Ordering::SeqCst);
  session
    .exp_string("2 of 2 targets passed")
    .expect("the summary");
  session.exp_eof().expect("exits");
}

/// A fan-out run expects throttling: three throttled polls in a row (more
/// than a single run's three attempts survive) slow a target down but do
/// not fail it.
#[test]
fn throttled_targets_back_off_and_finish() {
  use crate::scripted::{Reply, Scripted};

  let server = Scripted::start(|op, n| match (op, n) {
    ("StartQuery", _) => Reply::ok(r#"{"queryId":"q"}"#),
    ("GetQueryResults", 0..=2) => Reply::error("ThrottlingException", "Rate exceeded"),
    ("GetQueryResults", _) => Reply::ok(r#"{"status":"Complete","results":[]}"#),
    _ => Reply::ok("{}"),
  });
  let mut env = server.env();
  env.retain(|(k, _)| k != "AWS_MAX_ATTEMPTS");
  let ran = query_targets(env, 1);
  ran.assert(0);
  assert_eq!(
    server.times("GetQueryResults").len(),
    4,
    "three throttled, then the answer"
  );
}

/// Each target's profile assumes a role in its own account (moto keeps
/// accounts apart by the assumed role's credentials). Credentials exported
/// in the environment do not win over a profile a target names.
#[test]
fn each_targets_profile_acts_in_its_own_account() {
  let region = "ca-central-1";
  moto().seed(
    region,
    "sts = boto3.client('sts', endpoint_url=E, region_name=R)
for account in ('210000000001', '210000000002'):
    c = sts.assume_role(RoleArn=f'arn:aws:iam::{account}:role/ops', RoleSessionName='seed')['Credentials']
    cw = boto3.client('cloudwatch', endpoint_url=E, region_name=R, aws_access_key_id=c['AccessKeyId'],
        aws_secret_access_key=c['SecretAccessKey'], aws_session_token=c['SessionToken'])
    if account.endswith('1'):
        cw.put_metric_alarm(AlarmName='acme-cpu', MetricName='CPUUtilization', Namespace='AWS/ECS',
            Statistic='Average', Period=60, EvaluationPeriods=1, Threshold=85.0,
            ComparisonOperator='GreaterThanThreshold')
        cw.set_alarm_state(AlarmName='acme-cpu', StateValue='ALARM', StateReason='hot')",
  );
  let config = "[profile base]\naws_access_key_id = test\naws_secret_access_key = test\n\
[profile one]\nrole_arn = arn:aws:iam::210000000001:role/ops\nsource_profile = base\n\
[profile two]\nrole_arn = arn:aws:iam::210000000002:role/ops\nsource_profile = base\n";
  let test = Test::new()
    .runbook(RUNBOOK)
    .file("aws-config", config)
    .file(
      "targets.yaml",
      "targets:\n  - name: one\n    profile: one\n    params: {customer: acme}\n  - name: two\n    profile: two\n    params: {customer: acme}\n",
    );
  let config_path = test.dir.path().join("aws-config").display().to_string();
  let ran = test
    .env(aws_env(region))
    .env(vec![("AWS_CONFIG_FILE".into(), config_path)])
    .args(&["run", "rb.md", "--targets", "targets.yaml"])
    .run();
  ran.assert(1);
  for (target, account, alarms) in [("one", "210000000001", 1), ("two", "210000000002", 0)] {
    let path = crate::find_transcripts(ran.dir.path())
      .into_iter()
      .find(|p| p.display().to_string().ends_with(&format!("-{target}.md")))
      .expect("transcript");
    let r = records(&std::fs::read_to_string(path).expect("read"));
    assert_eq!(r[0]["aws"]["account"], account, "{target}");
    assert_eq!(r[2]["output"]["count"], alarms, "{target}");
  }
}

/// Targets whose `health` parameter says whether their one step passes.
fn health_targets(healths: &[(&str, &str)]) -> String {
  let mut text = "targets:\n".to_string();
  for (name, health) in healths {
    text.push_str(&format!(
      "  - name: {name}\n    params: {{health: {health}}}\n"
    ));
  }
  text
}

const HEALTH: &str =
  "---\nparams:\n  health: {}\n---\n```sh {name=check readonly=true}\ntest \"$health\" = ok\n```\n";

#[test]
fn a_canary_that_fails_keeps_the_rest_from_starting() {
  let run = |healths: &[(&str, &str)]| {
    Test::new()
      .runbook(HEALTH)
      .file("targets.yaml", health_targets(healths))
      .args(&["run", "rb.md", "--targets", "targets.yaml", "--canary", "2"])
      .run()
  };
  let stopped = run(&[("a", "ok"), ("b", "bad"), ("c", "ok"), ("d", "ok")]);
  stopped.assert(1);
  assert!(
    stopped
      .stdout
      .contains("1 of 4 targets passed; 2 not started (a canary failed)"),
    "{}",
    stopped.stdout
  );
  assert_eq!(crate::find_transcripts(stopped.dir.path()).len(), 2);
  // Canaries that pass let the rest run, failures and all.
  let went_on = run(&[("a", "ok"), ("b", "ok"), ("c", "bad"), ("d", "ok")]);
  went_on.assert(1);
  assert!(
    went_on.stdout.contains("3 of 4 targets passed\n"),
    "{}",
    went_on.stdout
  );
}

#[test]
fn an_error_budget_can_be_a_share_of_the_targets() {
  let healths: Vec<(String, &str)> = (0..10)
    .map(|i| (format!("t{i}"), if i < 3 { "bad" } else { "ok" }))
    .collect();
  let healths: Vec<(&str, &str)> = healths.iter().map(|(n, h)| (n.as_str(), *h)).collect();
  let ran = Test::new()
    .runbook(HEALTH)
    .file("targets.yaml", health_targets(&healths))
    .args(&[
      "run",
      "rb.md",
      "--targets",
      "targets.yaml",
      "--max-concurrency",
      "1",
      "--max-errors",
      "20%",
    ])
    .run();
  ran.assert(1);
  // 20 % of 10 targets: the second failure stops the run.
  assert!(
    ran
      .stdout
      .contains("0 of 10 targets passed; 8 not started (--max-errors)"),
    "{}",
    ran.stdout
  );
  for bad in ["0%", "101%", "x%", "0", "1.5"] {
    let refused = Test::new()
      .runbook(HEALTH)
      .file("targets.yaml", health_targets(&healths))
      .args(&[
        "run",
        "rb.md",
        "--targets",
        "targets.yaml",
        "--max-errors",
        bad,
      ])
      .run();
    refused.assert(2);
    assert!(
      refused.stderr.contains("--max-errors"),
      "{bad}: {}",
      refused.stderr
    );
  }
}
