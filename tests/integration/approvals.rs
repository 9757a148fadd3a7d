//! Separation of duties: a step that changes something waits for signed
//! approvals by others, bound to the exact action; `verify --keyring`
//! checks them again. Three key pairs: alice and bob approve, carol runs.

use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use crate::{Test, command, find_transcript, records};

/// A directory with three key pairs and a keyring of alice and bob.
fn team() -> Test {
  let test = Test::new();
  for name in ["alice", "bob", "carol"] {
    let out = command(test.dir.path(), &["keygen".into(), name.into()])
      .output()
      .expect("keygen");
    assert_eq!(out.status.code(), Some(0));
  }
  let public = |name: &str| {
    std::fs::read_to_string(test.dir.path().join(format!("{name}.pub")))
      .expect("public key")
      .trim()
      .to_string()
  };
  let keyring = format!(
    "approvers:\n  alice: {}\n  bob: {}\n",
    public("alice"),
    public("bob")
  );
  test.file("approvers.yaml", keyring)
}

/// A runbook whose `change` step needs `approvers` approvals (`policy`
/// adds to the front matter's `approvals:`), and a harmless step.
fn runbook(policy: &str, approvers: usize, message: &str) -> String {
  format!(
    "---\nparams:\n  message: {{default: {message}}}\napprovals: {{mutating: 1, keyring: approvers.yaml{policy}}}\n---\n```sh {{name=change approvers={approvers}}}\necho \"$message\" > changed.txt\n```\n\n```sh {{name=harmless approvers=0}}\necho ok\n```\n"
  )
}

/// `litops run` started in the background; its request, once written.
fn start(test: &Test, extra: &[&str]) -> (Child, PathBuf) {
  let mut args = vec!["run", "rb.md", "--yes", "--sign", "carol.key"];
  args.extend(extra);
  let mut cmd = command(
    test.dir.path(),
    &args.iter().map(|a| a.to_string()).collect::<Vec<_>>(),
  );
  let child = cmd
    .stdin(Stdio::null())
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .spawn()
    .expect("run");
  let request = wait_for_request(test.dir.path(), &[]);
  (child, request)
}

/// Waits (bounded) for a request file not in `known`.
fn wait_for_request(dir: &Path, known: &[PathBuf]) -> PathBuf {
  let deadline = Instant::now() + Duration::from_secs(30);
  loop {
    let found = std::fs::read_dir(dir.join("approvals"))
      .into_iter()
      .flatten()
      .flatten()
      .map(|e| e.path())
      .find(|p| p.to_string_lossy().ends_with(".request.json") && !known.contains(p));
    if let Some(path) = found {
      return path;
    }
    assert!(Instant::now() < deadline, "no approval request was written");
    std::thread::sleep(Duration::from_millis(20));
  }
}

/// `litops approve REQUEST --key NAME.key` answering `answer`; exit code and stderr.
fn approve(
  dir: &Path,
  request: &Path,
  name: &str,
  answer: &str,
  env: &[(&str, &str)],
) -> (i32, String) {
  let mut cmd = command(
    dir,
    &[
      "approve".into(),
      request.display().to_string(),
      "--key".into(),
      format!("{name}.key"),
      "--keyring".into(),
      "approvers.yaml".into(),
    ],
  );
  cmd.envs(env.iter().copied());
  let mut child = cmd
    .stdin(Stdio::piped())
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .spawn()
    .expect("approve");
  if let Some(mut stdin) = child.stdin.take() {
    use std::io::Write as _;
    let _ = stdin.write_all(answer.as_bytes());
  }
  let out = child.wait_with_output().expect("approve");
  (
    out.status.code().unwrap_or(-1),
    String::from_utf8_lossy(&out.stderr).into_owned(),
  )
}

fn finish(child: Child) -> (i32, String) {
  let out = child.wait_with_output().expect("run");
  (
    out.status.code().unwrap_or(-1),
    String::from_utf8_lossy(&out.stderr).into_owned(),
  )
}

fn verify(dir: &Path, extra: &[&str]) -> (i32, String) {
  verify_file(dir, &find_transcript(dir).expect("transcript"), extra)
}

fn verify_file(dir: &Path, transcript: &Path, extra: &[&str]) -> (i32, String) {
  let mut args = vec!["verify".to_string(), transcript.display().to_string()];
  args.extend(extra.iter().map(|a| a.to_string()));
  let out = command(dir, &args).output().expect("verify");
  (
    out.status.code().unwrap_or(-1),
    String::from_utf8_lossy(&out.stdout).into_owned(),
  )
}

/// One approver, all on one shared account (`os-identity: shared`).
#[test]
fn one_approval_then_the_step_runs_and_verify_checks_the_signature() {
  let test = team().runbook(&runbook(", os-identity: shared", 1, "hello"));
  let (run, request) = start(&test, &[]);
  let request_text = std::fs::read_to_string(&request).expect("request");
  assert!(
    request_text.contains("echo \\\"$message\\\" > changed.txt"),
    "{request_text}"
  );
  let (code, shown) = approve(test.dir.path(), &request, "alice", "y\n", &[]);
  assert_eq!(code, 0, "{shown}");
  // The approver saw the whole action before saying yes.
  assert!(
    shown.contains("│ echo \"$message\" > changed.txt"),
    "{shown}"
  );
  assert!(shown.contains("step     change · sh"), "{shown}");
  let (code, stderr) = finish(run);
  assert_eq!(code, 0, "{stderr}");
  assert!(stderr.contains("approved by alice"), "{stderr}");
  assert_eq!(
    std::fs::read_to_string(test.dir.path().join("changed.txt")).expect("ran"),
    "hello\n"
  );
  let transcript =
    std::fs::read_to_string(find_transcript(test.dir.path()).expect("t")).expect("read");
  let r = records(&transcript);
  let approved = r
    .iter()
    .find(|x| x["type"] == "approved")
    .expect("an approved record");
  assert_eq!(approved["step"], "change");
  assert_eq!(approved["approvals"][0]["approver"], "alice");
  // Recorded before the step started: the chain covers it.
  let started = r
    .iter()
    .position(|x| x["type"] == "step-started" && x["step"] == "change");
  let at = r.iter().position(|x| x["type"] == "approved");
  assert!(at < started, "approval recorded after the step started");
  // The harmless step needed none.
  assert_eq!(r.iter().filter(|x| x["type"] == "approved").count(), 1);
  let (code, report) = verify(test.dir.path(), &["--keyring", "approvers.yaml"]);
  assert_eq!(code, 0, "{report}");
  assert!(report.contains("approved: `change`: alice ("), "{report}");

  let path = find_transcript(test.dir.path()).expect("t");
  // The auditor's report says who approved it.
  let html = test.dir.path().join("report.html");
  let rendered = command(
    test.dir.path(),
    &[
      "render".into(),
      path.display().to_string(),
      "--html".into(),
      html.display().to_string(),
    ],
  )
  .output()
  .expect("render");
  assert_eq!(rendered.status.code(), Some(0));
  let report = std::fs::read_to_string(&html).expect("report");
  assert!(
    report.contains("<p class=\"approved\">Approved by alice (key "),
    "{report}"
  );
  // The next run breaks the glass: `diff` shows who approved what changed.
  let next = command(
    test.dir.path(),
    &[
      "run",
      "rb.md",
      "--yes",
      "--transcript",
      "next.md",
      "--break-glass",
      "urgent",
    ]
    .map(String::from),
  )
  .output()
  .expect("run");
  assert_eq!(next.status.code(), Some(0));
  let diff = command(
    test.dir.path(),
    &["diff".into(), path.display().to_string(), "next.md".into()],
  )
  .output()
  .expect("diff");
  let diff = String::from_utf8_lossy(&diff.stdout);
  assert!(
    diff.contains("  approved_by: alice → break glass: urgent\n"),
    "{diff}"
  );
  // A forger who removes the approval, or swaps in a signature of their
  // own, and seals the chain again, is caught by what the records say.
  let honest = std::fs::read_to_string(&path).expect("read");
  crate::forge(&path, |events| {
    events.retain(|e| !matches!(e, litops::transcript::Event::Approved { .. }))
  });
  let (code, report) = verify_file(test.dir.path(), &path, &["--keyring", "approvers.yaml"]);
  assert_eq!(code, 1, "{report}");
  assert!(
    report.contains("step `change`: needed 1 approval(s) and none are recorded"),
    "{report}"
  );
  std::fs::write(&path, &honest).expect("restore");
  crate::forge(&path, |events| {
    for event in events.iter_mut() {
      if let litops::transcript::Event::Approved { approvals, .. } = event {
        approvals[0].signature = "00".repeat(64);
      }
    }
  });
  let (code, report) = verify_file(test.dir.path(), &path, &["--keyring", "approvers.yaml"]);
  assert_eq!(code, 1, "{report}");
  assert!(
    report.contains("alice's approval does not count: its signature does not match the request"),
    "{report}"
  );
}

#[test]
fn two_required_and_one_given_waits_then_fails_when_the_request_expires() {
  let test = team().runbook(&runbook(", os-identity: shared, expires: 15s", 2, "hi"));
  let (run, request) = start(&test, &[]);
  let (code, shown) = approve(test.dir.path(), &request, "alice", "yes\n", &[]);
  assert_eq!(code, 0, "{shown}");
  // alice cannot count twice.
  let (code, shown) = approve(test.dir.path(), &request, "alice", "y\n", &[]);
  assert_eq!(code, 2, "{shown}");
  assert!(
    shown.contains("you approved this request already"),
    "{shown}"
  );
  let (code, stderr) = finish(run);
  assert_eq!(code, 1, "{stderr}");
  assert!(
    stderr.contains("not approved: 1 of 2 approval(s) before the request expired at ")
      && stderr.contains(" (alice); request approvals/"),
    "{stderr}"
  );
  assert!(
    !test.dir.path().join("changed.txt").exists(),
    "the change ran"
  );
  // Too late now.
  let (code, shown) = approve(test.dir.path(), &request, "bob", "y\n", &[]);
  assert_eq!(code, 2, "{shown}");
  assert!(shown.contains("the request expired at "), "{shown}");
}

#[test]
fn the_operator_cannot_approve_their_own_request() {
  // carol runs and signs with her key; the default policy also refuses
  // anyone on the operator's OS account.
  let test = team().runbook(&runbook(", expires: 5s", 1, "x"));
  let keyring = std::fs::read_to_string(test.dir.path().join("approvers.yaml")).expect("keyring");
  let carol = std::fs::read_to_string(test.dir.path().join("carol.pub")).expect("carol");
  std::fs::write(
    test.dir.path().join("approvers.yaml"),
    format!("{keyring}  carol: {}\n", carol.trim()),
  )
  .expect("keyring with carol");
  let (run, request) = start(&test, &[]);
  let (code, shown) = approve(test.dir.path(), &request, "carol", "y\n", &[]);
  assert_eq!(code, 2, "{shown}");
  assert!(
    shown.contains("you made this request")
      && shown.contains("an approval must come from someone else"),
    "{shown}"
  );
  // bob's key, but from the operator's own account: refused too.
  let (code, shown) = approve(test.dir.path(), &request, "bob", "y\n", &[]);
  assert_eq!(code, 2, "{shown}");
  assert!(shown.contains("you made this request"), "{shown}");
  let (code, stderr) = finish(run);
  assert_eq!(code, 1, "{stderr}");
  assert!(
    stderr.contains("not approved: 0 of 1 approval(s)"),
    "{stderr}"
  );
}

#[test]
fn an_approval_of_another_request_never_counts() {
  let test = team().runbook(&runbook(", os-identity: shared, expires: 6s", 1, "first"));
  let (run, first) = start(&test, &[]);
  let (code, shown) = approve(test.dir.path(), &first, "alice", "y\n", &[]);
  assert_eq!(code, 0, "{shown}");
  assert_eq!(finish(run).0, 0);
  let approval = approval_of(&first);
  // The same runbook again (a new run: a new request), and with another
  // parameter (a different action): alice's approval is copied beside each.
  for param in ["message=first", "message=rm -rf /"] {
    let known: Vec<PathBuf> = std::fs::read_dir(test.dir.path().join("approvals"))
      .expect("dir")
      .flatten()
      .map(|e| e.path())
      .collect();
    let mut cmd = command(
      test.dir.path(),
      &[
        "run",
        "rb.md",
        "--yes",
        "--sign",
        "carol.key",
        "--param",
        param,
      ]
      .map(String::from),
    );
    let child = cmd
      .stdin(Stdio::null())
      .stdout(Stdio::piped())
      .stderr(Stdio::piped())
      .spawn()
      .expect("run");
    let second = wait_for_request(test.dir.path(), &known);
    let stem = second
      .file_name()
      .and_then(|n| n.to_str())
      .and_then(|n| n.strip_suffix(".request.json"))
      .expect("stem")
      .to_string();
    std::fs::copy(
      &approval,
      second.with_file_name(format!("{stem}.approval.copied.json")),
    )
    .expect("copy the old approval");
    let (code, stderr) = finish(child);
    assert_eq!(code, 1, "{param}: {stderr}");
    assert!(
      stderr.contains("does not count: it approves another request"),
      "{param}: {stderr}"
    );
    assert!(stderr.contains("not approved: 0 of 1"), "{param}: {stderr}");
  }
}

/// The approval file `litops approve` wrote for `request`.
fn approval_of(request: &Path) -> PathBuf {
  let stem = request
    .file_name()
    .and_then(|n| n.to_str())
    .and_then(|n| n.strip_suffix(".request.json"))
    .expect("stem")
    .to_string();
  std::fs::read_dir(request.parent().expect("dir"))
    .expect("dir")
    .flatten()
    .map(|e| e.path())
    .find(|p| {
      p.file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.starts_with(&format!("{stem}.approval.")))
    })
    .expect("an approval")
}

#[test]
fn break_glass_runs_without_approvals_and_verify_flags_it() {
  let test = team().runbook(&runbook("", 1, "urgent")).args(&[
    "run",
    "rb.md",
    "--yes",
    "--break-glass",
    "checkout down, approvers asleep",
  ]);
  let ran = test.run();
  ran.assert(0);
  assert!(
    ran.stderr.contains("BREAK GLASS: running without the 1 approval(s) this step needs: checkout down, approvers asleep"),
    "{}",
    ran.stderr
  );
  let r = records(&ran.transcript());
  let glass = r
    .iter()
    .find(|x| x["type"] == "break-glass")
    .expect("recorded");
  assert_eq!(glass["reason"], "checkout down, approvers asleep");
  assert!(!test_dir_has_requests(ran.dir.path()));
  let (code, report) = verify(ran.dir.path(), &["--keyring", "approvers.yaml"]);
  assert_eq!(code, 1, "{report}");
  assert!(
    report.contains(
      "step `change`: ran without its approvals (break glass: checkout down, approvers asleep)"
    ),
    "{report}"
  );
  let (code, report) = verify(
    ran.dir.path(),
    &["--keyring", "approvers.yaml", "--allow-break-glass"],
  );
  assert_eq!(code, 0, "{report}");
  assert!(report.contains("BREAK GLASS: `change` by "), "{report}");
  // A reason is required.
  let empty = team()
    .runbook(&runbook("", 1, "x"))
    .args(&["run", "rb.md", "--yes", "--break-glass", " "])
    .run();
  empty.assert(2);
  assert!(
    empty.stderr.contains("--break-glass needs a reason"),
    "{}",
    empty.stderr
  );
}

fn test_dir_has_requests(dir: &Path) -> bool {
  dir.join("approvals").exists()
}

#[test]
fn check_holds_the_policy_and_keyring_and_plan_shows_what_needs_approval() {
  let test = team().runbook(&runbook("", 1, "x"));
  let ran = Test::new()
    .file(
      "approvers.yaml",
      std::fs::read(test.dir.path().join("approvers.yaml")).expect("k"),
    )
    .runbook(&runbook("", 1, "x"))
    .args(&["plan", "rb.md"])
    .run();
  ran.assert(0);
  assert!(
    ran
      .stdout
      .contains("change  sh · mutating · needs 1 approval · rb.md:"),
    "{}",
    ran.stdout
  );
  assert!(
    ran.stdout.contains("harmless  sh · mutating · rb.md:"),
    "{}",
    ran.stdout
  );
  for (keyring, runbook_text, message) in [
    (
      None,
      runbook("", 1, "x"),
      "keyring approvers.yaml: No such file",
    ),
    (
      Some("approvers: {alice: nonsense}\n"),
      runbook("", 1, "x"),
      "`alice`: not a litops public key",
    ),
    (
      None,
      runbook("", 3, "x").replace("keyring: approvers.yaml", "keyring: k.yaml"),
      "keyring k.yaml",
    ),
    (
      Some(&*std::fs::read_to_string(test.dir.path().join("approvers.yaml")).expect("k")),
      runbook("", 3, "x"),
      "step `change` needs 3 approvals; the keyring has 2 approver(s)",
    ),
    (
      None,
      "```sh {approvers=1}\necho\n```\n".to_string(),
      "`approvers=` needs `approvals:` in the front matter",
    ),
    (
      None,
      "---\napprovals: {mutating: many}\n---\n```sh\necho\n```\n".to_string(),
      "`approvals` must be a mapping",
    ),
  ] {
    let mut t = Test::new().runbook(&runbook_text);
    if let Some(k) = keyring {
      t = t.file("approvers.yaml", k);
    }
    let ran = t.args(&["check", "rb.md"]).run();
    ran.assert(1);
    assert!(ran.stderr.contains(message), "{message}: {}", ran.stderr);
  }
}

/// One request covers every target of a fan-out: the approver signs once.
#[test]
fn a_fan_out_needs_one_approval_for_all_its_targets() {
  let test = team()
    .runbook(&runbook(", os-identity: shared, expires: 1m", 1, "x"))
    .file(
      "targets.yaml",
      "targets:\n  - name: acme\n    params: {message: acme-change}\n  - name: globex\n    params: {message: globex-change}\n",
    );
  let mut cmd = command(
    test.dir.path(),
    &[
      "run",
      "rb.md",
      "--targets",
      "targets.yaml",
      "--yes",
      "--sign",
      "carol.key",
    ]
    .map(String::from),
  );
  let run = cmd
    .stdin(Stdio::null())
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .spawn()
    .expect("fan-out");
  let request = wait_for_request(test.dir.path(), &[]);
  let value: serde_json::Value =
    serde_json::from_str(&std::fs::read_to_string(&request).expect("request")).expect("json");
  let targets: Vec<(String, String)> = value["targets"]
    .as_array()
    .expect("targets")
    .iter()
    .map(|t| {
      (
        t["name"].as_str().unwrap_or("?").to_string(),
        t["params"][0][1].as_str().unwrap_or("?").to_string(),
      )
    })
    .collect();
  assert_eq!(
    targets,
    [
      ("acme".to_string(), "acme-change".to_string()),
      ("globex".into(), "globex-change".into())
    ]
  );
  let (code, shown) = approve(test.dir.path(), &request, "bob", "y\n", &[]);
  assert_eq!(code, 0, "{shown}");
  assert!(shown.contains("targets  acme, globex"), "{shown}");
  let out = run.wait_with_output().expect("fan-out");
  let stdout = String::from_utf8_lossy(&out.stdout);
  assert_eq!(out.status.code(), Some(0), "{stdout}");
  assert!(stdout.contains("2 of 2 targets passed"), "{stdout}");
  // Only one request was made, and each target ran under it.
  let requests = std::fs::read_dir(test.dir.path().join("approvals"))
    .expect("dir")
    .flatten()
    .filter(|e| e.file_name().to_string_lossy().ends_with(".request.json"))
    .count();
  assert_eq!(requests, 1);
  let transcripts = crate::find_transcripts(test.dir.path());
  assert_eq!(transcripts.len(), 2);
  let mut digests = Vec::new();
  for path in &transcripts {
    let r = records(&std::fs::read_to_string(path).expect("read"));
    let approved = r
      .iter()
      .find(|x| x["type"] == "approved")
      .expect("approved");
    digests.push(approved["request_sha256"].clone());
    let (code, report) = verify_file(test.dir.path(), path, &["--keyring", "approvers.yaml"]);
    assert_eq!(code, 0, "{report}");
  }
  assert_eq!(digests[0], digests[1]);
  // The approval's signature appears in both: one approval, two targets.
}

/// Requests and approvals in an S3 prefix, approvers told on SNS: no
/// shared disk, no server of our own. Against moto.
#[test]
fn requests_and_approvals_can_live_in_s3_and_approvers_are_told_on_sns() {
  use crate::moto::{aws_env, moto};
  let region = "us-west-1";
  moto().seed(
    region,
    "s3 = boto3.client('s3', endpoint_url=E, region_name=R)
s3.create_bucket(Bucket='litops-approvals', CreateBucketConfiguration={'LocationConstraint': R})
sns = boto3.client('sns', endpoint_url=E, region_name=R)
sqs = boto3.client('sqs', endpoint_url=E, region_name=R)
topic = sns.create_topic(Name='approvers')['TopicArn']
queue = sqs.create_queue(QueueName='approvers-inbox')['QueueUrl']
arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=['QueueArn'])['Attributes']['QueueArn']
sns.subscribe(TopicArn=topic, Protocol='sqs', Endpoint=arn)",
  );
  let policy =
    format!(", os-identity: shared, notify: arn:aws:sns:{region}:123456789012:approvers");
  let test = team().runbook(&runbook(&policy, 1, "s3"));
  let env = aws_env(region);
  let location = "s3://litops-approvals/requests";
  let mut cmd = command(
    test.dir.path(),
    &[
      "run",
      "rb.md",
      "--yes",
      "--sign",
      "carol.key",
      "--approvals-dir",
      location,
    ]
    .map(String::from),
  );
  cmd.envs(env.iter().map(|(k, v)| (k, v)));
  let run = cmd
    .stdin(Stdio::null())
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .spawn()
    .expect("run");
  // The approver finds it with `litops approvals`.
  let deadline = Instant::now() + Duration::from_secs(30);
  let request = loop {
    let mut list = command(test.dir.path(), &["approvals".into(), location.into()]);
    list.envs(env.iter().map(|(k, v)| (k, v)));
    let out = list.output().expect("approvals");
    let listed = String::from_utf8_lossy(&out.stdout).into_owned();
    if let Some(line) = listed.lines().find(|l| l.ends_with(".request.json")) {
      break line.to_string();
    }
    assert!(Instant::now() < deadline, "no request listed: {listed}");
    std::thread::sleep(Duration::from_millis(50));
  };
  assert!(
    request.starts_with("s3://litops-approvals/requests/"),
    "{request}"
  );
  let env_pairs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
  let (code, shown) = approve(
    test.dir.path(),
    Path::new(&request),
    "alice",
    "y\n",
    &env_pairs,
  );
  assert_eq!(code, 0, "{shown}");
  // An approval object is never overwritten.
  let (code, shown) = approve(
    test.dir.path(),
    Path::new(&request),
    "alice",
    "y\n",
    &env_pairs,
  );
  assert_eq!(code, 2, "{shown}");
  assert!(
    shown.contains("you approved this request already"),
    "{shown}"
  );
  let (code, stderr) = finish(run);
  assert_eq!(code, 0, "{stderr}");
  assert!(stderr.contains("approved by alice"), "{stderr}");
  // The approvers were told where it waited.
  moto().seed(
    region,
    &format!(
      "import json
sqs = boto3.client('sqs', endpoint_url=E, region_name=R)
queue = sqs.get_queue_url(QueueName='approvers-inbox')['QueueUrl']
got = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get('Messages', [])
bodies = [json.loads(m['Body']) for m in got]
assert len(bodies) == 1, bodies
assert bodies[0]['Subject'] == 'litops: approval needed for `change`', bodies
assert 'litops approve {request} --key KEY' in bodies[0]['Message'], bodies"
    ),
  );
}

/// Ctrl-C while the walk waits ends the run as interrupted; nothing ran.
#[test]
fn ctrl_c_while_waiting_for_approvals_stops_the_run() {
  let test = team().runbook(&runbook(", os-identity: shared", 1, "x"));
  let (run, _request) = start(&test, &[]);
  let pid = nix::unistd::Pid::from_raw(i32::try_from(run.id()).expect("pid"));
  nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGINT).expect("signal");
  let (code, stderr) = finish(run);
  assert_eq!(code, 130, "{stderr}");
  assert!(
    !test.dir.path().join("changed.txt").exists(),
    "the change ran"
  );
  let r =
    records(&std::fs::read_to_string(find_transcript(test.dir.path()).expect("t")).expect("read"));
  let end = r
    .iter()
    .find(|x| x["type"] == "run-finished")
    .expect("run-finished");
  assert_eq!(end["result"], "interrupted");
  assert!(!r.iter().any(|x| x["type"] == "step-started"));
}
