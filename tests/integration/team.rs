//! Team operations: the end of a run told on SNS and Slack (what failed,
//! what changed since the previous run, where the transcript is), and a
//! summary for schedulers.

use crate::moto::{aws_env, moto};
use crate::{Test, command};

const RUNBOOK: &str = "---
title: Nightly probe
---
```sh {name=probe on-failure=continue}
test -f ok.flag
```

```rhai {name=verdict}
if steps[\"probe\"].status != \"done\" { fail(\"the probe failed\") }
\"healthy\"
```
";

#[test]
fn the_end_of_a_run_is_told_on_sns_and_slack_with_what_changed() {
  let region = "eu-west-2";
  moto().seed(
    region,
    "sns = boto3.client('sns', endpoint_url=E, region_name=R)
sqs = boto3.client('sqs', endpoint_url=E, region_name=R)
topic = sns.create_topic(Name='ops-alerts')['TopicArn']
queue = sqs.create_queue(QueueName='ops-alerts-copy')['QueueUrl']
arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=['QueueArn'])['Attributes']['QueueArn']
sns.subscribe(TopicArn=topic, Protocol='sqs', Endpoint=arn)",
  );
  let (url, posts) = crate::secrets::recording_server();
  let webhook = format!("{url}/services/T1/B1/t3amHookPath");
  let topic = format!("sns:arn:aws:sns:{region}:123456789012:ops-alerts");
  let test = Test::new().runbook(RUNBOOK).file("ok.flag", "");
  let dir = test.dir.path().to_path_buf();
  let run = |extra: &[&str]| {
    let mut args: Vec<String> = [
      "run", "rb.md", "--yes", "--notify", &topic, "--notify", "slack:",
    ]
    .map(String::from)
    .to_vec();
    args.extend(extra.iter().map(|a| a.to_string()));
    let mut cmd = command(&dir, &args);
    cmd.envs(aws_env(region));
    cmd.env("LITOPS_SLACK_WEBHOOK", &webhook);
    cmd.output().expect("run")
  };
  // Healthy, and --notify-on failure (the default): nobody is told.
  let first = run(&["--summary-json", "first.json"]);
  assert_eq!(first.status.code(), Some(0));
  assert!(posts.try_recv().is_err(), "told about a healthy run");
  let summary: serde_json::Value =
    serde_json::from_str(&std::fs::read_to_string(dir.join("first.json")).expect("summary"))
      .expect("json");
  assert_eq!(summary["exit_code"], 0);
  assert_eq!(summary["runs"][0]["result"], "passed");
  assert_eq!(summary["runs"][0]["steps"][0]["status"], "done");
  // The probe fails: the team hears what failed and what changed.
  std::fs::remove_file(dir.join("ok.flag")).expect("rm");
  let second = run(&["--summary-json", "second.json"]);
  assert_eq!(second.status.code(), Some(1));
  let post = posts.try_recv().expect("told on Slack");
  let body: serde_json::Value =
    serde_json::from_str(post.rsplit("\r\n").next().unwrap_or_default()).expect("JSON");
  let text = body["text"].as_str().unwrap_or_default();
  assert!(
    text.starts_with("litops: Nightly probe: failed (exit 1)\n"),
    "{text}"
  );
  assert!(text.contains("\nverdict: the probe failed"), "{text}");
  assert!(text.contains("failed:\n- probe: exit status 1"), "{text}");
  assert!(
    text.contains("since the previous run (transcripts/rb/"),
    "{text}"
  );
  assert!(
    text.contains("- probe: done → failed (exit_code: 0 → 1)\n- verdict: done → failed"),
    "{text}"
  );
  assert!(text.contains("\ntranscript: transcripts/rb/"), "{text}");
  // The webhook's URL is told to nobody and recorded nowhere.
  let stderr = String::from_utf8_lossy(&second.stderr);
  assert!(stderr.contains("litops: told slack"), "{stderr}");
  for transcript in crate::find_transcripts(&dir) {
    let t = std::fs::read_to_string(transcript).expect("read");
    assert!(!t.contains("t3amHookPath"));
  }
  assert!(!stderr.contains("t3amHookPath"));
  let summary: serde_json::Value =
    serde_json::from_str(&std::fs::read_to_string(dir.join("second.json")).expect("summary"))
      .expect("json");
  assert_eq!(summary["exit_code"], 1);
  assert_eq!(
    summary["runs"][0]["verdict"],
    "the probe failed (at rb.md:9)"
  );
  moto().seed(
    region,
    "import json
sqs = boto3.client('sqs', endpoint_url=E, region_name=R)
queue = sqs.get_queue_url(QueueName='ops-alerts-copy')['QueueUrl']
got = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get('Messages', [])
bodies = [json.loads(m['Body']) for m in got]
assert len(bodies) == 1, bodies
assert bodies[0]['Subject'] == 'litops: Nightly probe: failed (exit 1)', bodies
assert '- probe: done → failed' in bodies[0]['Message'], bodies",
  );
  // --notify-on change: the same failure again changes nothing.
  let third = run(&["--notify-on", "change"]);
  assert_eq!(third.status.code(), Some(1));
  if let Ok(post) = posts.try_recv() {
    panic!("told though nothing changed: {post}");
  }
  // Three runs, each its own transcript.
  assert_eq!(crate::find_transcripts(&dir).len(), 3);
}

#[test]
fn a_webhook_url_on_the_command_line_or_a_missing_one_stops_before_anything_runs() {
  for (channel, message) in [
    ("slack:https://hooks.example/x", "never on the command line"),
    (
      "slack:",
      "the webhook URL is not set in $LITOPS_SLACK_WEBHOOK",
    ),
    ("sns:topic", "expected sns:arn:aws:sns:REGION:ACCOUNT:TOPIC"),
    (
      "pager:x",
      "expected sns:TOPIC-ARN, slack: or slack:env:NAME",
    ),
  ] {
    let ran = Test::new()
      .runbook(RUNBOOK)
      .args(&["run", "rb.md", "--yes", "--notify", channel])
      .run();
    ran.assert(2);
    assert!(ran.stderr.contains(message), "{channel}: {}", ran.stderr);
    assert!(
      crate::find_transcript(ran.dir.path()).is_none(),
      "{channel}: it ran"
    );
  }
}

/// `--store`: the transcript, its sidecars and the runbook copy kept in S3
/// under Object Lock; `verify`, `render`, `diff` and `log` read them there.
#[test]
fn the_evidence_is_kept_in_s3_where_it_cannot_be_deleted() {
  let region = "eu-west-2";
  moto().seed(
    region,
    "s3 = boto3.client('s3', endpoint_url=E, region_name=R)
s3.create_bucket(Bucket='acme-evidence', ObjectLockEnabledForBucket=True,
                 CreateBucketConfiguration={'LocationConstraint': R})",
  );
  let test = Test::new()
    .runbook(&RUNBOOK.replace("test -f ok.flag", "test -f ok.flag && seq 1 3000"))
    .file("ok.flag", "");
  let dir = test.dir.path().to_path_buf();
  let litops = |args: &[&str]| litops_in(&dir, region, args);
  let ran = litops(&[
    "run",
    "rb.md",
    "--yes",
    "--store",
    "s3://acme-evidence/team",
  ]);
  let stderr = String::from_utf8_lossy(&ran.stderr).into_owned();
  assert_eq!(ran.status.code(), Some(0), "{stderr}");
  let stored = stderr
    .lines()
    .find_map(|l| l.strip_prefix("litops: stored "))
    .expect("stored")
    .to_string();
  assert!(
    stored.starts_with("s3://acme-evidence/team/rb/"),
    "{stored}"
  );
  assert!(stored.ends_with(".md"), "{stored}");
  // Intact where it is kept, sidecars and runbook copy included.
  let verified = litops(&["verify", &stored]);
  let report = String::from_utf8_lossy(&verified.stdout);
  assert_eq!(verified.status.code(), Some(0), "{report}");
  assert!(report.contains("sidecars: 1 checked"), "{report}");
  assert!(report.contains("actions found in it"), "{report}");
  // The auditor's report, from where it is kept.
  let rendered = litops(&["render", &stored, "--html", "report.html"]);
  assert_eq!(rendered.status.code(), Some(0));
  let html = std::fs::read_to_string(dir.join("report.html")).expect("report");
  assert!(html.contains("Nightly probe"), "{html}");
  // Locked: the stored version cannot be deleted, nor overwritten.
  let key = stored.trim_start_matches("s3://acme-evidence/");
  moto().seed(
    region,
    &format!(
      "s3 = boto3.client('s3', endpoint_url=E, region_name=R)
head = s3.head_object(Bucket='acme-evidence', Key='{key}')
assert head['ObjectLockMode'] == 'COMPLIANCE', head
assert head['Metadata']['litops-result'] == 'passed', head
version = head['VersionId']
try:
    s3.delete_object(Bucket='acme-evidence', Key='{key}', VersionId=version)
    raise SystemExit('a locked transcript was deleted')
except s3.exceptions.ClientError as e:
    assert e.response['Error']['Code'] == 'AccessDenied', e.response
try:
    s3.put_object(Bucket='acme-evidence', Key='{key}', Body=b'forged', IfNoneMatch='*')
    raise SystemExit('a stored transcript was overwritten')
except s3.exceptions.ClientError as e:
    assert e.response['Error']['Code'] == 'PreconditionFailed', e.response"
    ),
  );
  // A second run; the team's log lists both, `diff` compares them there.
  let second = litops(&[
    "run",
    "rb.md",
    "--yes",
    "--store",
    "s3://acme-evidence/team",
  ]);
  assert_eq!(second.status.code(), Some(0));
  let log = litops(&["log", "s3://acme-evidence/team"]);
  let listed = String::from_utf8_lossy(&log.stdout);
  assert_eq!(log.status.code(), Some(0), "{listed}");
  assert_eq!(
    listed
      .lines()
      .filter(|l| l.contains(" passed ") && l.contains(" s3://acme-evidence/team/rb/"))
      .count(),
    2,
    "{listed}"
  );
  let other = String::from_utf8_lossy(&second.stderr)
    .lines()
    .find_map(|l| l.strip_prefix("litops: stored "))
    .expect("stored")
    .to_string();
  let diff = litops(&["diff", &stored, &other]);
  assert_eq!(
    diff.status.code(),
    Some(0),
    "{}",
    String::from_utf8_lossy(&diff.stdout)
  );
}

/// Digests anchor the store: a transcript deleted, replaced or added after
/// the fact is found, even where nothing is locked.
#[test]
fn digests_find_a_transcript_deleted_replaced_or_added_after_the_fact() {
  let region = "eu-west-2";
  moto().seed(
    region,
    "s3 = boto3.client('s3', endpoint_url=E, region_name=R)
s3.create_bucket(Bucket='plain-evidence', CreateBucketConfiguration={'LocationConstraint': R})",
  );
  let test = Test::new().runbook(RUNBOOK).file("ok.flag", "");
  let dir = test.dir.path().to_path_buf();
  let litops = |args: &[&str]| {
    let out = litops_in(&dir, region, args);
    (
      out.status.code().unwrap_or(-1),
      String::from_utf8_lossy(&out.stdout).into_owned(),
      String::from_utf8_lossy(&out.stderr).into_owned(),
    )
  };
  let store = "s3://plain-evidence/daily";
  let mut stored = Vec::new();
  for _ in 0..3 {
    let (code, _, stderr) = litops(&["run", "rb.md", "--yes", "--store", store]);
    assert_eq!(code, 0, "{stderr}");
    stored.push(
      stderr
        .lines()
        .find_map(|l| l.strip_prefix("litops: stored s3://plain-evidence/"))
        .expect("stored")
        .to_string(),
    );
  }
  assert_eq!(litops(&["keygen", "ops"]).0, 0);
  let (code, out, err) = litops(&["digest", store, "--key", "ops.key"]);
  assert_eq!(code, 0, "{err}");
  assert!(
    out.contains(": 3 transcript(s) stored since the previous digest"),
    "{out}"
  );
  // A period with no runs still gets its digest, chained to the last.
  let (code, out, _) = litops(&["digest", store, "--key", "ops.key"]);
  assert_eq!(code, 0);
  assert!(out.contains(": 0 transcript(s)"), "{out}");
  let (code, out, _) = litops(&["verify", store, "--digests", "--key", "ops.pub"]);
  assert_eq!(code, 0, "{out}");
  assert!(
    out.contains("digests: 2 in a chain, intact; 3 transcript(s) anchored, all as stored"),
    "{out}"
  );
  // Someone with write access to this unlocked bucket deletes one run,
  // replaces another and slips in a third dated before the digests.
  moto().seed(
    region,
    &format!(
      "s3 = boto3.client('s3', endpoint_url=E, region_name=R)
s3.delete_object(Bucket='plain-evidence', Key='{}')
body = s3.get_object(Bucket='plain-evidence', Key='{}')['Body'].read()
s3.put_object(Bucket='plain-evidence', Key='{}', Body=body.replace(b'passed', b'failed'))
s3.put_object(Bucket='plain-evidence', Key='daily/rb/20200101T000000Z-00000000/20200101T000000Z-00000000.md', Body=body)",
      stored[0], stored[1], stored[1]
    ),
  );
  let (code, out, _) = litops(&["verify", store, "--digests", "--key", "ops.pub"]);
  assert_eq!(code, 1, "{out}");
  let rel = |s: &str| s.trim_start_matches("daily/").to_string();
  for expected in [
    format!("{}: listed in _digests/", rel(&stored[0])),
    "and no longer stored: it was deleted".to_string(),
    format!("{}: not the transcript _digests/", rel(&stored[1])),
    "lists: it was replaced".to_string(),
    "rb/20200101T000000Z-00000000/20200101T000000Z-00000000.md: started before the last digest but is in none: it was added after the fact".to_string(),
  ] {
    assert!(out.contains(&expected), "{expected:?} not in {out}");
  }
}

/// The scheduled task reads its targets from the bucket and reaches each
/// account through the role the targets file names.
#[test]
fn targets_read_from_s3_each_reached_through_its_role() {
  let region = "eu-west-2";
  moto().seed(
    region,
    "s3 = boto3.client('s3', endpoint_url=E, region_name=R)
s3.create_bucket(Bucket='fleet-config', CreateBucketConfiguration={'LocationConstraint': R})
s3.put_object(Bucket='fleet-config', Key='targets/daily.yaml', Body=b'''targets:
  - name: acme
    role: arn:aws:iam::111111111111:role/litops-readonly
  - name: globex
    role: arn:aws:iam::222222222222:role/litops-readonly
''')",
  );
  let ran = Test::new()
    .runbook("```cloudwatch {name=alarms}\naction: alarms\n```\n")
    .env(aws_env(region))
    .args(&[
      "run",
      "rb.md",
      "--targets",
      "s3://fleet-config/targets/daily.yaml",
    ])
    .run();
  ran.assert(0);
  let mut accounts: Vec<String> = crate::find_transcripts(ran.dir.path())
    .iter()
    .map(|t| {
      let r = crate::records(&std::fs::read_to_string(t).expect("read"));
      r[0]["aws"]["account"].as_str().unwrap_or("?").to_string()
    })
    .collect();
  accounts.sort();
  assert_eq!(accounts, ["111111111111", "222222222222"]);
}

/// deploy/litops-daily.yaml: valid by cfn-lint, and created in the
/// emulator's CloudFormation (task, bucket with Object Lock, topic, roles,
/// log group), both the single-task and the sharded path.
#[test]
fn the_deploy_template_lints_and_creates_a_stack() {
  let template = format!("{}/deploy/litops-daily.yaml", env!("CARGO_MANIFEST_DIR"));
  let lint = std::process::Command::new(moto().tool("cfn-lint"))
    .arg(&template)
    .output()
    .expect("cfn-lint");
  assert_eq!(
    lint.status.code(),
    Some(0),
    "{}",
    String::from_utf8_lossy(&lint.stdout)
  );
  let region = "eu-west-2";
  moto().seed(
    region,
    &format!(
      "ec2 = boto3.client('ec2', endpoint_url=E, region_name=R)
subnet = [s for s in ec2.describe_subnets()['Subnets'] if s.get('DefaultForAz')][0]['SubnetId']
group = ec2.describe_security_groups(GroupNames=['default'])['SecurityGroups'][0]['GroupId']
cfn = boto3.client('cloudformation', endpoint_url=E, region_name=R)
body = open('{template}').read()
for name, shards in (('litops-daily', 'false'), ('litops-fleet', 'true')):
    cfn.create_stack(StackName=name, TemplateBody=body, Capabilities=['CAPABILITY_IAM'], Parameters=[
        {{'ParameterKey': 'Image', 'ParameterValue': '123456789012.dkr.ecr.eu-west-2.amazonaws.com/litops:1'}},
        {{'ParameterKey': 'Subnets', 'ParameterValue': subnet}},
        {{'ParameterKey': 'SecurityGroup', 'ParameterValue': group}},
        {{'ParameterKey': 'UseShards', 'ParameterValue': shards}}])
    stack = cfn.describe_stacks(StackName=name)['Stacks'][0]
    assert stack['StackStatus'] == 'CREATE_COMPLETE', stack
    outputs = {{o['OutputKey']: o['OutputValue'] for o in stack.get('Outputs', [])}}
    assert outputs['Store'].startswith('s3://') and outputs['Store'].endswith('/daily'), outputs
    kinds = [r.get('ResourceType') for r in cfn.describe_stack_resources(StackName=name)['StackResources']]
    assert 'AWS::ECS::TaskDefinition' in kinds, kinds
# The task runs litops with the store and the topic the stack made. (moto
# completes the schedule and the state machine without modelling them:
# cfn-lint above checks those.)
ecs = boto3.client('ecs', endpoint_url=E, region_name=R)
task = ecs.describe_task_definition(taskDefinition='litops-daily')['taskDefinition']
command = task['containerDefinitions'][0]['command'][0]
assert '--store s3://' in command and '--notify sns:arn:aws:sns:' in command, command
assert task['containerDefinitions'][0]['image'].endswith('/litops:1'), task
s3 = boto3.client('s3', endpoint_url=E, region_name=R)
bucket = cfn.describe_stacks(StackName='litops-daily')['Stacks'][0]['Outputs']
bucket = [o['OutputValue'] for o in bucket if o['OutputKey'] == 'EvidenceBucket'][0]
# (moto's CloudFormation makes the bucket without its Object Lock
# configuration; the store test above locks objects in a bucket made so.)
s3.head_bucket(Bucket=bucket)"
    ),
  );
}

/// docs/deploy.md's read-only policy lists every AWS call the read-only
/// actions make (each named in the code as `"service:Operation"` where it
/// is explained), and no call that changes anything.
#[test]
fn the_documented_read_only_policy_covers_every_read_call() {
  let root = env!("CARGO_MANIFEST_DIR");
  let doc = std::fs::read_to_string(format!("{root}/docs/deploy.md")).expect("deploy.md");
  let policy = doc
    .split("```json")
    .nth(1)
    .and_then(|rest| rest.split("```").next())
    .expect("the policy");
  let mut called = std::collections::BTreeSet::new();
  let mut stack = vec![std::path::PathBuf::from(format!("{root}/src/exec"))];
  while let Some(dir) = stack.pop() {
    for entry in std::fs::read_dir(dir).expect("dir").flatten() {
      let path = entry.path();
      if path.is_dir() {
        stack.push(path);
        continue;
      }
      let text = std::fs::read_to_string(&path).expect("source");
      for piece in text.split('"').skip(1).step_by(2) {
        let Some((service, operation)) = piece.split_once(':') else {
          continue;
        };
        let aws_like = !service.is_empty()
          && service
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
          && operation
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_uppercase())
          && operation.chars().all(|c| c.is_ascii_alphanumeric());
        if aws_like {
          // Messages name ELB calls as the SDK does; IAM calls it this.
          let service = if service == "elbv2" {
            "elasticloadbalancing"
          } else {
            service
          };
          called.insert(format!("{service}:{operation}"));
        }
      }
    }
  }
  let changes = [
    "ecs:UpdateService",
    "ecs:RegisterTaskDefinition",
    "dynamodb:UpdateTable",
    "sns:Publish",
    "sts:GetCallerIdentity",
  ];
  assert!(called.len() > 20, "{called:?}");
  for call in &called {
    let listed = policy.contains(&format!("\"{call}\""));
    if changes.contains(&call.as_str()) {
      assert!(
        !listed,
        "{call} changes something, yet the read-only policy allows it"
      );
    } else {
      assert!(
        listed,
        "{call} is made by a read-only action but not in docs/deploy.md's policy"
      );
    }
  }
}

/// `litops ARGS` in `dir`, against moto in `region`.
fn litops_in(dir: &std::path::Path, region: &str, args: &[&str]) -> std::process::Output {
  let mut cmd = command(dir, &args.iter().map(|a| a.to_string()).collect::<Vec<_>>());
  cmd.envs(aws_env(region));
  cmd.output().expect("litops")
}

/// A team's defaults in a config file: the store and the channels, so the
/// scheduled command stays short; a config file that says something
/// unknown stops the run before anything runs.
#[test]
fn a_config_file_gives_the_store_and_the_channels() {
  let region = "eu-west-2";
  moto().seed(
    region,
    "s3 = boto3.client('s3', endpoint_url=E, region_name=R)
s3.create_bucket(Bucket='config-evidence', CreateBucketConfiguration={'LocationConstraint': R})",
  );
  let (url, posts) = crate::secrets::recording_server();
  let test = Test::new()
    .runbook(RUNBOOK)
    .file(
      "team.yaml",
      "store: s3://config-evidence/daily\nnotify: [\"slack:\"]\n",
    )
    .file(
      "bad.yaml",
      "store: s3://config-evidence/daily\nschedule: daily\n",
    );
  let dir = test.dir.path().to_path_buf();
  let mut cmd = command(&dir, &["run", "rb.md", "--yes"].map(String::from));
  cmd.envs(aws_env(region));
  cmd.env("LITOPS_CONFIG", dir.join("team.yaml"));
  cmd.env("LITOPS_SLACK_WEBHOOK", format!("{url}/hooks/x"));
  let out = cmd.output().expect("run");
  let stderr = String::from_utf8_lossy(&out.stderr);
  // No ok.flag: the probe fails, and the team is told.
  assert_eq!(out.status.code(), Some(1), "{stderr}");
  assert!(
    stderr.contains("litops: stored s3://config-evidence/daily/rb/"),
    "{stderr}"
  );
  let post = posts.try_recv().expect("told on Slack");
  assert!(
    post.contains("litops: Nightly probe: failed (exit 1)"),
    "{post}"
  );
  let mut bad = command(&dir, &["run", "rb.md", "--yes"].map(String::from));
  bad.env("LITOPS_CONFIG", dir.join("bad.yaml"));
  let out = bad.output().expect("run");
  let stderr = String::from_utf8_lossy(&out.stderr);
  assert_eq!(out.status.code(), Some(2), "{stderr}");
  assert!(
    stderr.contains("bad.yaml: unknown field `schedule`"),
    "{stderr}"
  );
}

/// `resume s3://…`: a stored run resumed in a local copy, the resumed
/// transcript kept beside the stored one (which is never overwritten).
#[test]
fn a_stored_run_is_resumed_and_kept_again() {
  let region = "eu-west-2";
  moto().seed(
    region,
    "s3 = boto3.client('s3', endpoint_url=E, region_name=R)
s3.create_bucket(Bucket='resume-evidence', CreateBucketConfiguration={'LocationConstraint': R})",
  );
  let test = Test::new().runbook(RUNBOOK);
  let dir = test.dir.path().to_path_buf();
  let first = litops_in(
    &dir,
    region,
    &[
      "run",
      "rb.md",
      "--yes",
      "--store",
      "s3://resume-evidence/daily",
    ],
  );
  assert_eq!(first.status.code(), Some(1));
  let stored = String::from_utf8_lossy(&first.stderr)
    .lines()
    .find_map(|l| l.strip_prefix("litops: stored "))
    .expect("stored")
    .to_string();
  // The local transcripts are gone (another machine); the store has it.
  std::fs::remove_dir_all(dir.join("transcripts")).expect("rm");
  std::fs::write(dir.join("ok.flag"), "").expect("fixed");
  let resumed = litops_in(
    &dir,
    region,
    &["resume", &stored, "--from", "probe", "--yes"],
  );
  let stderr = String::from_utf8_lossy(&resumed.stderr);
  assert_eq!(resumed.status.code(), Some(0), "{stderr}");
  assert!(
    stderr.contains("litops: resuming a local copy of s3://resume-evidence/daily/rb/"),
    "{stderr}"
  );
  let again = stderr
    .lines()
    .find_map(|l| l.strip_prefix("litops: stored "))
    .expect("stored again");
  assert!(again.starts_with(&format!("{stored}.")), "{again}");
  let verified = litops_in(&dir, region, &["verify", &stored]);
  assert_eq!(
    verified.status.code(),
    Some(0),
    "the first transcript stands"
  );
}

/// A fan-out tells one message for the whole run, failing targets first.
#[test]
fn a_fan_out_is_told_in_one_message_failing_targets_first() {
  let (url, posts) = crate::secrets::recording_server();
  let test = Test::new()
    .runbook(
      "---\ntitle: Fleet probe\nparams:\n  health: {}\n---\n```sh {name=check readonly=true}\ntest \"$health\" = ok\n```\n",
    )
    .file(
      "targets.yaml",
      "targets:\n  - name: alpha\n    params: {health: ok}\n  - name: bravo\n    params: {health: bad}\n",
    )
    .file("render-me", "");
  let dir = test.dir.path().to_path_buf();
  let mut cmd = command(
    &dir,
    &[
      "run",
      "rb.md",
      "--targets",
      "targets.yaml",
      "--notify",
      "slack:",
      "--max-concurrency",
      "1",
    ]
    .map(String::from),
  );
  cmd.env("LITOPS_SLACK_WEBHOOK", format!("{url}/hooks/fleet"));
  let out = cmd.output().expect("run");
  assert_eq!(out.status.code(), Some(1));
  let post = posts.try_recv().expect("one message");
  assert!(posts.try_recv().is_err(), "more than one message");
  let body: serde_json::Value =
    serde_json::from_str(post.rsplit("\r\n").next().unwrap_or_default()).expect("JSON");
  let text = body["text"].as_str().unwrap_or_default();
  assert!(
    text.starts_with("litops: Fleet probe: 1 of 2 targets need attention\n"),
    "{text}"
  );
  let bravo = text
    .find("litops: Fleet probe on bravo: failed")
    .expect("bravo");
  let alpha = text
    .find("litops: Fleet probe on alpha: passed")
    .expect("alpha");
  assert!(bravo < alpha, "failing targets first: {text}");
}

/// On a machine with no earlier transcript (a scheduled task), what
/// changed is found against the previous run kept in the store.
#[test]
fn what_changed_is_found_in_the_store_when_no_earlier_run_is_local() {
  let region = "eu-west-2";
  moto().seed(
    region,
    "s3 = boto3.client('s3', endpoint_url=E, region_name=R)
s3.create_bucket(Bucket='told-evidence', CreateBucketConfiguration={'LocationConstraint': R})",
  );
  let (url, posts) = crate::secrets::recording_server();
  let test = Test::new().runbook(RUNBOOK).file("ok.flag", "");
  let dir = test.dir.path().to_path_buf();
  let run = || {
    let mut cmd = command(
      &dir,
      &[
        "run",
        "rb.md",
        "--yes",
        "--store",
        "s3://told-evidence/daily",
        "--notify",
        "slack:",
      ]
      .map(String::from),
    );
    cmd.envs(aws_env(region));
    cmd.env("LITOPS_SLACK_WEBHOOK", format!("{url}/hooks/x"));
    cmd.output().expect("run")
  };
  assert_eq!(run().status.code(), Some(0));
  // Yesterday's task is gone with its disk; today's starts afresh.
  std::fs::remove_dir_all(dir.join("transcripts")).expect("rm");
  std::fs::remove_file(dir.join("ok.flag")).expect("rm");
  assert_eq!(run().status.code(), Some(1));
  let post = posts.try_recv().expect("told");
  assert!(
    post.contains("since the previous run (s3://told-evidence/daily/rb/"),
    "{post}"
  );
  assert!(post.contains("- probe: done → failed"), "{post}");
}
