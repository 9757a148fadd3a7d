//! The fleet: targets from an AWS Organization (nested OUs, include and
//! exclude by id, name or tag, regions), each reached through its role.

use crate::moto::{aws_env, moto};
use crate::{Test, records};

const ROLE: &str = "arn:aws:iam::{account}:role/litops-readonly";

/// An organization: root → prod (acme-prod tagged team=payments,
/// globex-prod) → prod-eu (initech-eu); root → dev (acme-dev). Writes
/// `org.json` (the OU ids and account ids by name) into `dir`.
fn organization(dir: &std::path::Path) -> serde_json::Value {
  let out = dir.join("org.json");
  moto().seed(
    "us-east-1",
    &format!(
      "import json
org = boto3.client('organizations', endpoint_url=E, region_name=R)
org.create_organization(FeatureSet='ALL')
root = org.list_roots()['Roots'][0]['Id']
ids = {{'root': root}}
def unit(name, parent):
    ids[name] = org.create_organizational_unit(ParentId=parent, Name=name)['OrganizationalUnit']['Id']
    return ids[name]
def account(name, parent, tags=()):
    status = org.create_account(Email=name + '@example.com', AccountName=name, Tags=list(tags))['CreateAccountStatus']
    ids[name] = status['AccountId']
    org.move_account(AccountId=status['AccountId'], SourceParentId=root, DestinationParentId=parent)
prod = unit('prod', root)
eu = unit('prod-eu', prod)
dev = unit('dev', root)
account('acme-prod', prod, [{{'Key': 'team', 'Value': 'payments'}}])
account('globex-prod', prod)
account('initech-eu', eu)
account('acme-dev', dev)
ids['management'] = org.describe_organization()['Organization']['MasterAccountId']
open('{}', 'w').write(json.dumps(ids))",
      out.display()
    ),
  );
  serde_json::from_str(&std::fs::read_to_string(out).expect("org.json")).expect("json")
}

fn plan(test: &Test, targets: &str, extra: &[&str]) -> (i32, String, String) {
  let mut args: Vec<String> = ["plan", "rb.md", "--targets", targets, "--target-role", ROLE]
    .map(String::from)
    .to_vec();
  args.extend(extra.iter().map(|a| a.to_string()));
  let mut cmd = crate::command(test.dir.path(), &args);
  cmd.envs(aws_env("us-east-1"));
  let out = cmd.output().expect("plan");
  (
    out.status.code().unwrap_or(-1),
    String::from_utf8_lossy(&out.stdout).into_owned(),
    String::from_utf8_lossy(&out.stderr).into_owned(),
  )
}

fn names(listed: &str) -> Vec<&str> {
  listed
    .lines()
    .filter(|l| l.contains("  role "))
    .filter_map(|l| l.split("  ").next())
    .collect()
}

#[test]
fn the_organization_s_accounts_become_targets_reached_through_their_roles() {
  let test = Test::new().runbook("```cloudwatch {name=alarms}\naction: alarms\n```\n");
  let ids = organization(test.dir.path());
  let management = ids["management"].as_str().expect("management").to_string();
  // Every account under the root, nested units included.
  let (code, listed, err) = plan(&test, "org:root", &["--exclude", &management]);
  assert_eq!(code, 0, "{err}");
  assert_eq!(
    names(&listed),
    ["acme-dev", "acme-prod", "globex-prod", "initech-eu"],
    "{listed}"
  );
  let acme = ids["acme-prod"].as_str().expect("acme");
  assert!(
    listed.contains(&format!(
      "acme-prod  role arn:aws:iam::{acme}:role/litops-readonly"
    )),
    "{listed}"
  );
  // One unit and the one below it.
  let prod = ids["prod"].as_str().expect("prod");
  let (_, listed, _) = plan(&test, &format!("org:{prod}"), &[]);
  assert_eq!(names(&listed), ["acme-prod", "globex-prod", "initech-eu"]);
  // By tag, by name pattern, by id; and in two regions.
  let (_, listed, _) = plan(&test, "org:root", &["--include", "tag:team=payments"]);
  assert_eq!(names(&listed), ["acme-prod"]);
  let (_, listed, _) = plan(
    &test,
    "org:root",
    &["--include", "*-prod", "--exclude", acme],
  );
  assert_eq!(names(&listed), ["globex-prod"]);
  let (_, listed, _) = plan(
    &test,
    &format!("org:{prod}"),
    &[
      "--exclude",
      "initech-*,globex-*",
      "--regions",
      "eu-west-1,us-east-1",
    ],
  );
  assert_eq!(
    names(&listed),
    ["acme-prod-eu-west-1", "acme-prod-us-east-1"]
  );
  assert!(listed.contains("region eu-west-1"), "{listed}");
  // A role template without {account}, or none, is refused.
  let (code, _, err) = plan(
    &test,
    "org:root",
    &["--target-role", "arn:aws:iam::1:role/x"],
  );
  assert_eq!(code, 2, "{err}");
  // Run: each target acts in its own account, and every transcript
  // records the whole fleet.
  let ran = Test::new()
    .runbook("```cloudwatch {name=alarms}\naction: alarms\n```\n")
    .env(aws_env("us-east-1"))
    .args(&[
      "run",
      "rb.md",
      "--targets",
      &format!("org:{prod}"),
      "--target-role",
      ROLE,
    ])
    .run();
  ran.assert(0);
  let mut seen: Vec<(String, String)> = crate::find_transcripts(ran.dir.path())
    .iter()
    .map(|t| {
      let r = records(&std::fs::read_to_string(t).expect("read"));
      assert_eq!(
        r[0]["fleet"],
        serde_json::json!(["acme-prod", "globex-prod", "initech-eu"])
      );
      (
        r[0]["run_id"]
          .as_str()
          .unwrap_or("?")
          .rsplit_once('-')
          .map_or("?", |p| p.1)
          .to_string(),
        r[0]["aws"]["account"].as_str().unwrap_or("?").to_string(),
      )
    })
    .collect();
  seen.sort();
  let expected: Vec<(String, String)> = ["acme-prod", "globex-prod", "initech-eu"]
    .iter()
    .map(|n| {
      (
        n.rsplit('-').next().unwrap_or(n).to_string(),
        ids[*n].as_str().unwrap_or("?").to_string(),
      )
    })
    .collect();
  let mut expected = expected;
  expected.sort();
  assert_eq!(seen, expected);
}

/// `--stop-on-alarm`: the alarm flipped mid-run stops every change and
/// every target not yet started; the walks still going end naming it.
#[test]
fn an_alarm_going_off_mid_run_stops_changes_and_new_targets() {
  let region = "us-east-1";
  moto().seed(
    region,
    "cw = boto3.client('cloudwatch', endpoint_url=E, region_name=R)
cw.put_metric_alarm(AlarmName='deploy-guard', Namespace='AWS/ECS', MetricName='CPUUtilization',
  Statistic='Average', Period=60, EvaluationPeriods=1, Threshold=90, ComparisonOperator='GreaterThanThreshold')",
  );
  let runbook = "---\nparams:\n  name: {}\n---\n```sh {name=wait readonly=true}\ntouch \"started-$name\"\nwhile [ ! -f go ]; do sleep 0.05; done\n```\n\n```sh {name=change}\ntouch \"changed-$name\"\n```\n";
  let test = Test::new().runbook(runbook).file(
    "targets.yaml",
    "targets:\n  - name: a\n    params: {name: a}\n  - name: b\n    params: {name: b}\n",
  );
  let dir = test.dir.path().to_path_buf();
  let mut cmd = crate::command(
    &dir,
    &[
      "run",
      "rb.md",
      "--targets",
      "targets.yaml",
      "--yes",
      "--max-concurrency",
      "1",
      "--stop-on-alarm",
      "deploy-guard",
    ]
    .map(String::from),
  );
  cmd.envs(aws_env(region));
  let child = cmd
    .stdin(std::process::Stdio::null())
    .stdout(std::process::Stdio::piped())
    .stderr(std::process::Stdio::piped())
    .spawn()
    .expect("run");
  let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
  while !dir.join("started-a").exists() {
    assert!(
      std::time::Instant::now() < deadline,
      "target a never started"
    );
    std::thread::sleep(std::time::Duration::from_millis(20));
  }
  moto().seed(
    region,
    "cw = boto3.client('cloudwatch', endpoint_url=E, region_name=R)
cw.set_alarm_state(AlarmName='deploy-guard', StateValue='ALARM', StateReason='error rate up after the change')",
  );
  std::fs::write(dir.join("go"), "").expect("go");
  let out = child.wait_with_output().expect("run");
  let stdout = String::from_utf8_lossy(&out.stdout);
  assert_eq!(out.status.code(), Some(1), "{stdout}");
  assert!(
    !dir.join("changed-a").exists(),
    "a change ran after the alarm"
  );
  assert!(
    !dir.join("started-b").exists(),
    "a target started after the alarm"
  );
  assert!(
    stdout.contains(
      "0 of 2 targets passed; 1 not started (alarm deploy-guard went to ALARM: error rate up after the change)"
    ),
    "{stdout}"
  );
  let transcript = crate::find_transcript(&dir).expect("a's transcript");
  let r = records(&std::fs::read_to_string(transcript).expect("read"));
  let end = r.iter().find(|x| x["type"] == "run-finished").expect("end");
  assert_eq!(
    end["reason"],
    "alarm deploy-guard went to ALARM: error rate up after the change"
  );
  // An alarm that does not exist stops the run before anything runs.
  let missing = Test::new()
    .runbook(runbook)
    .file(
      "targets.yaml",
      "targets:\n  - name: a\n    params: {name: a}\n",
    )
    .env(aws_env(region))
    .args(&[
      "run",
      "rb.md",
      "--targets",
      "targets.yaml",
      "--stop-on-alarm",
      "no-such-alarm",
    ])
    .run();
  missing.assert(2);
  assert!(
    missing
      .stderr
      .contains("stop-on alarm no-such-alarm does not exist; nothing was run"),
    "{}",
    missing.stderr
  );
}

/// The peer's counters (`GET /peer/stats` of bench/aws_peer.py).
fn peer_stats(url: &str) -> serde_json::Value {
  use std::io::{Read, Write};
  let address = url.trim_start_matches("http://");
  let mut stream = std::net::TcpStream::connect(address).expect("connect to the peer");
  write!(
    stream,
    "GET /peer/stats HTTP/1.1\r\nhost: {address}\r\nconnection: close\r\ncontent-length: 0\r\n\r\n"
  )
  .expect("ask the peer");
  let mut answer = String::new();
  // The peer keeps the connection open: read exactly the announced body.
  let mut reader = std::io::BufReader::new(stream);
  let mut length = 0;
  loop {
    let mut line = String::new();
    std::io::BufRead::read_line(&mut reader, &mut line).expect("header");
    if line == "\r\n" {
      break;
    }
    if let Some(n) = line.to_lowercase().strip_prefix("content-length:") {
      length = n.trim().parse().expect("length");
    }
  }
  reader
    .take(length)
    .read_to_string(&mut answer)
    .expect("body");
  serde_json::from_str(&answer).expect("stats")
}

/// A fan-out of many targets in one account and region keeps to the
/// account's quotas across every target: the peer, which throttles as AWS
/// does, refuses nothing. Unpaced, 12 targets' 36 DescribeServices and
/// their queries' polls would all go out within a second.
#[test]
fn a_fan_out_in_one_account_keeps_to_its_quotas() {
  let url = crate::moto::fleet_peer();
  let describe = "```ecs\naction: describe\ncluster: acme-production\n```\n\n";
  let runbook = format!(
    "# Quotas\n\n{}```logs-insights {{name=errors}}\nlog-groups: [\"/ecs/api\"]\nsince: 1h\n---\nstats count() by @service\n```\n",
    describe.repeat(3)
  );
  let targets: String = (0..12).map(|i| format!("  - name: t{i:02}\n")).collect();
  let ran = Test::new()
    .runbook(&runbook)
    .file("targets.yaml", format!("targets:\n{targets}"))
    .env(vec![
      ("AWS_ENDPOINT_URL".into(), url.into()),
      ("AWS_ACCESS_KEY_ID".into(), "test".into()),
      ("AWS_SECRET_ACCESS_KEY".into(), "test".into()),
      ("AWS_REGION".into(), "eu-west-1".into()),
    ])
    .args(&[
      "run",
      "rb.md",
      "--targets",
      "targets.yaml",
      "--max-concurrency",
      "12",
    ])
    .run();
  assert_eq!(ran.status, 0, "{}\n{}", ran.stdout, ran.stderr);
  let stats = peer_stats(url);
  assert_eq!(stats["refused"], serde_json::json!({}), "{stats}");
  assert_eq!(stats["calls"]["ecs:DescribeServices"], 36, "{stats}");
  assert_eq!(stats["calls"]["logs:StartQuery"], 12, "{stats}");
}

/// A fan-out leaves nothing behind per finished target: 80 targets run
/// under a limit of 48 open files. Each target's console once kept a
/// signal thread and its two sockets for the rest of the run.
#[test]
fn finished_targets_leave_no_files_open() {
  let targets: String = (0..80).map(|i| format!("  - name: t{i:02}\n")).collect();
  let test = Test::new()
    .runbook("```rhai {name=probe}\n1\n```\n")
    .file("targets.yaml", format!("targets:\n{targets}"));
  // The limit is set by a shell that then becomes litops.
  let mut sh = std::process::Command::new("sh");
  sh.args([
    "-c",
    "ulimit -n 48 && exec \"$0\" \"$@\"",
    crate::BIN,
    "run",
    "rb.md",
    "--targets",
    "targets.yaml",
    "--max-concurrency",
    "2",
  ])
  .current_dir(test.dir.path())
  .env_clear()
  .env("PATH", std::env::var_os("PATH").unwrap_or_default())
  .env("HOME", test.dir.path());
  let ran = sh.output().expect("run");
  let stdout = String::from_utf8_lossy(&ran.stdout);
  let stderr = String::from_utf8_lossy(&ran.stderr);
  assert_eq!(ran.status.code(), Some(0), "{stdout}\n{stderr}");
  assert!(stdout.contains("80 of 80 targets passed"), "{stdout}");
}
