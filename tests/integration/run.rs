use crate::{Test, normalise, records, shape};

const RUNBOOK: &str = r#"---
title: Walk
params:
  customer:
    default: acme
  token:
    secret: true
    default: canary-S3CRET-42
---
# Checks

```bash {name=count readonly=true}
echo "customer=$customer token=$token"
seq 1 3
```

```rhai {name=verdict}
let lines = steps["count"].stdout.split("\n").len();
vars.verdict = if lines > 2 { "healthy" } else { "attention" };
assert(last.exit_code == 0, "count failed");
lines
```

- [ ] Look at the dashboard

```sh {name=report}
echo "verdict=$verdict"
```
"#;

#[test]
fn yes_runs_every_action_and_records_it() {
  let ran = crate::run_yes(RUNBOOK);
  // The checklist item cannot be confirmed without a person: exit 3.
  ran.assert(3);
  assert!(ran.stdout.contains("verdict=healthy"), "{}", ran.stdout);
  assert!(
    ran.stdout.contains("| checks-1 | unconfirmed |"),
    "{}",
    ran.stdout
  );
  assert!(
    ran.stdout.contains("run incomplete (exit 3)"),
    "{}",
    ran.stdout
  );
  let transcript = ran.transcript();
  assert_eq!(
    shape(&transcript),
    [
      "run-started",
      "step-started count",
      "step-finished count done",
      "step-started verdict",
      "step-finished verdict done",
      "step-finished checks-1 unconfirmed",
      "step-started report",
      "step-finished report done",
      "run-finished incomplete",
    ]
  );
  let r = records(&transcript);
  assert_eq!(r[2]["output"]["exit_code"], 0);
  assert_eq!(r[4]["output"]["value"], 5);
  assert_eq!(r[1]["decision"]["how"], "--yes");
  assert_eq!(
    r[1]["decision"]["by"]
      .as_str()
      .map(|b| b.starts_with(&format!("{}@", crate::account()))),
    Some(true)
  );
  assert_eq!(r[5]["decision"]["how"], "none");
  assert_eq!(
    r[0]["runbook_sha256"],
    litops::transcript::sha256_hex(RUNBOOK.as_bytes())
  );
}

#[test]
fn secrets_never_reach_terminal_or_transcript() {
  let ran = crate::run_yes(RUNBOOK);
  let transcript = ran.transcript();
  for (name, text) in [
    ("stdout", &ran.stdout),
    ("stderr", &ran.stderr),
    ("transcript", &transcript),
  ] {
    assert!(
      !text.contains("canary-S3CRET-42"),
      "secret in {name}:\n{text}"
    );
  }
  assert!(transcript.contains("token=[redacted:token]"));
  // Nor any file beside it: sidecars and the runbook copy.
  let dir = crate::sidecar_dir(&ran.transcript_path());
  let files: Vec<_> = std::fs::read_dir(&dir)
    .expect("sidecar dir")
    .filter_map(|e| e.ok().map(|e| e.path()))
    .collect();
  assert!(!files.is_empty());
  for file in files {
    let text = std::fs::read_to_string(&file).expect("read");
    assert!(
      !text.contains("canary-S3CRET-42"),
      "secret in {}",
      file.display()
    );
  }
  // The redacted copy still verifies.
  crate::verified(ran.dir.path(), &ran.transcript_path());
}

#[test]
fn transcript_front_matter_and_markdown() {
  let ran = Test::new()
    .runbook(RUNBOOK)
    .args(&[
      "run",
      "rb.md",
      "--yes",
      "--only",
      "count",
      "--transcript",
      "out/t.md",
    ])
    .run();
  ran.assert(0);
  let text = std::fs::read_to_string(ran.dir.path().join("out/t.md")).expect("transcript");
  let normal = normalise(&text);
  let visible: String = normal
    .lines()
    .filter(|l| !l.starts_with("<!-- litops:record"))
    .map(|l| format!("{}\n", l.trim_end()))
    .collect();
  let sha = litops::transcript::sha256_hex(RUNBOOK.as_bytes());
  assert_eq!(
    visible,
    format!(
      "---
litops_transcript: 1
run_id: [RUN]
runbook: rb.md
runbook_sha256: {sha}
title: Walk
litops_version: {version}
operator: {account}@{host}
params:
  customer: acme
  token: '[redacted:token]'
start: [TIME]
end: [TIME] # passed
---

# Run of Walk

- runbook: `rb.md`
- operator: {account}@{host}
- started: [TIME]
- approval: --yes
- partial: `--only count`
- param `customer` = `acme`
- param `token` = `[redacted:token]`


## [1/4] `count`

*Checks* · line 12 · `bash` · read-only

```bash
echo \"customer=$customer token=$token\"
seq 1 3
```

**Decision:** run — by {account}@{host} via --yes at [TIME]

**Started** [TIME]


**Result:** done · [DUR]

stdout:

```text
customer=acme token=[redacted:token]
1
2
3
```


## Run passed

- finished: [TIME] · [DUR] · exit 0


",
      version = env!("CARGO_PKG_VERSION"),
      host = nix_host(),
      account = crate::account(),
    )
  );
}

fn nix_host() -> String {
  std::fs::read_to_string("/proc/sys/kernel/hostname")
    .map(|h| h.trim().to_string())
    .unwrap_or_default()
}

#[test]
fn failure_stops_unless_continue() {
  let text = "```sh {name=a}\nexit 3\n```\n```sh {name=b}\ntouch b-ran\n```\n";
  let ran = crate::run_yes(text);
  ran.assert(1);
  assert!(!ran.dir.path().join("b-ran").exists());
  let r = records(&ran.transcript());
  assert_eq!(r[2]["error"], "exit status 3");
  assert_eq!(r[2]["output"]["exit_code"], 3);
  assert_eq!(r[3]["result"], "failed");
  assert_eq!(r[3]["stopped_at"], "a");

  let text = text.replace("{name=a}", "{name=a on-failure=continue}");
  let ran = crate::run_yes(&text);
  ran.assert(1);
  assert!(ran.dir.path().join("b-ran").exists());
  assert_eq!(
    shape(&ran.transcript()).last().map(String::as_str),
    Some("run-finished failed")
  );
}

#[test]
fn timeout_kills_the_step_and_its_children() {
  let text =
    "```sh {name=slow timeout=1s}\n(sleep 30; touch late) &\necho $! > child.pid\nsleep 30\n```\n";
  let ran = crate::run_yes(text);
  ran.assert(1);
  let r = records(&ran.transcript());
  assert_eq!(r[2]["status"], "timed-out");
  assert_eq!(r[2]["error"], "timed out after 1s: killed");
  let pid: i32 = std::fs::read_to_string(ran.dir.path().join("child.pid"))
    .expect("pid")
    .trim()
    .parse()
    .expect("number");
  assert!(
    !crate::signals::alive(pid),
    "background child {pid} survived the timeout"
  );
}

#[test]
fn yes_readonly_asks_before_mutating_steps() {
  let text = "```sh {readonly=true}\necho look\n```\n```sh {name=change}\ntouch changed\n```\n";
  // No terminal and nobody to answer: the mutating step stops the run.
  let ran = Test::new()
    .runbook(text)
    .args(&["run", "rb.md", "--yes-readonly"])
    .run();
  ran.assert(3);
  assert!(!ran.dir.path().join("changed").exists());
  let r = records(&ran.transcript());
  assert_eq!(r[1]["decision"]["how"], "--yes-readonly");
  assert_eq!(r[3]["result"], "stopped");
  assert_eq!(r[3]["stopped_at"], "change");
  assert!(
    ran
      .stderr
      .contains("run this step? [r]un / [s]kip / [q]uit")
  );
  assert!(
    ran
      .stdout
      .contains("no terminal to ask whether to run this step"),
    "{}",
    ran.stdout
  );

  // Answers piped on stdin are taken, and recorded as piped.
  let ran = Test::new()
    .runbook(text)
    .args(&["run", "rb.md", "--yes-readonly"])
    .stdin("s\nnot today\n")
    .run();
  ran.assert(0);
  let r = records(&ran.transcript());
  assert_eq!(r[3]["status"], "skipped");
  assert_eq!(r[3]["decision"]["how"], "piped");
  assert_eq!(r[3]["decision"]["reason"], "not today");
}

#[test]
fn confirm_always_asks_even_under_yes() {
  let text = "```sh {name=danger confirm=always}\ntouch done\n```\n";
  let ran = Test::new()
    .runbook(text)
    .args(&["run", "rb.md", "--yes"])
    .stdin("run\n")
    .run();
  ran.assert(0);
  assert!(ran.dir.path().join("done").exists());
  assert_eq!(records(&ran.transcript())[1]["decision"]["how"], "piped");
}

#[test]
fn rhai_goto_vars_fail_and_questions() {
  let text = r#"---
kind: playbook
---
# Classify

```rhai {name=classify}
let reason = "CannotPullContainerError: pull access denied";
vars.cause = if reason.contains("Pull") { "image" } else { "other" };
goto("fix-" + vars.cause)
```

## Other

```sh {name=fix-other}
touch other
```

## Image

```sh {name=fix-image}
echo "cause=$cause"
```

```rhai {name=severity}
let s = choose("Severity?", ["SEV1", "SEV2", "SEV3"]);
let ok = confirm("Notify the customer?");
vars.message = `${s} notify=${ok}`;
```

```rhai {name=check}
if !steps["severity"].answers[0].answer.starts_with("SEV") { fail("no severity") }
fail("stopping here: " + vars.message);
```
"#;
  let ran = Test::new()
    .runbook(text)
    .args(&["run", "rb.md", "--yes"])
    .stdin("2\ny\n")
    .run();
  ran.assert(1);
  assert!(
    !ran.dir.path().join("other").exists(),
    "goto skipped the other branch"
  );
  assert!(ran.stdout.contains("cause=image"));
  let r = records(&ran.transcript());
  assert_eq!(r[2]["goto"], "fix-image");
  assert_eq!(r[3]["step"], "fix-image");
  let answers = &r[6]["output"]["answers"];
  assert_eq!(answers[0]["question"], "Severity?");
  assert_eq!(answers[0]["answer"], "SEV2");
  assert_eq!(answers[1]["answer"], "yes");
  assert_eq!(
    r[8]["error"],
    "stopping here: SEV2 notify=true (at rb.md:32)"
  );
}

#[test]
fn rhai_is_sandboxed_and_bounded() {
  let cases = [
    ("1s", "import \"fs\" as fs;", "module"),
    ("1s", "eval(\"1\")", "eval"),
    // A long budget: only the operation limit can end it, however slow
    // the machine.
    ("1h", "loop {}", "Too many operations"),
    (
      "1ms",
      "let n = 0; while n < 4000000 { n += 1; }",
      "script ran longer than 1ms",
    ),
    ("1s", "let s = \"x\"; loop { s += s; }", "Length of string"),
    ("1s", "fn f(n) { f(n + 1) } f(0)", "Stack overflow"),
  ];
  for (timeout, code, expected) in cases {
    let text = format!("```rhai {{name=s timeout={timeout}}}\n{code}\n```\n");
    let ran = crate::run_yes(&text);
    // Refused by `check` before anything runs, or stopped while running.
    let error = match ran.status {
      2 => ran.stderr.clone(),
      _ => records(&ran.transcript())[2]["error"]
        .as_str()
        .unwrap_or_default()
        .to_string(),
    };
    assert!(
      error.to_lowercase().contains(&expected.to_lowercase()),
      "{code}: expected {expected:?}, got {error:?}"
    );
  }
}

#[test]
fn long_output_goes_to_a_sidecar() {
  let text = "```sh {name=big}\nseq 1 5000\n```\n";
  let ran = crate::run_yes(text);
  ran.assert(0);
  let transcript = ran.transcript();
  let r = records(&transcript);
  let sidecar = &r[2]["sidecars"][0];
  assert_eq!(sidecar["field"], "stdout");
  let path = ran
    .transcript_path()
    .parent()
    .expect("dir")
    .join(sidecar["file"].as_str().expect("file"));
  let whole = std::fs::read_to_string(path).expect("sidecar");
  let expected: String = (1..=5000).map(|n| format!("{n}\n")).collect();
  assert_eq!(whole, expected);
  assert_eq!(
    sidecar["sha256"],
    litops::transcript::sha256_hex(expected.as_bytes())
  );
  assert!(transcript.contains("more bytes]"));
  assert!(!transcript.contains("\n4999\n"));
}

#[test]
fn from_starts_mid_runbook() {
  let text = "```sh {name=a}\ntouch a\n```\n```sh {name=b}\ntouch b\n```\n";
  let ran = Test::new()
    .runbook(text)
    .args(&["run", "rb.md", "--yes", "--from", "b"])
    .run();
  ran.assert(0);
  assert!(!ran.dir.path().join("a").exists());
  assert!(ran.dir.path().join("b").exists());
}

#[test]
fn params_file_and_flags() {
  let text = "---\nparams:\n  a:\n  b:\n---\n```sh\necho \"$a-$b\"\n```\n";
  let ran = Test::new()
    .runbook(text)
    .file("p.yaml", "a: one\nb: two\n")
    .args(&[
      "run", "rb.md", "--yes", "--params", "p.yaml", "--param", "b=three",
    ])
    .run();
  ran.assert(0);
  assert!(ran.stdout.contains("one-three"), "{}", ran.stdout);
}

#[test]
fn the_operator_is_the_os_account_not_user_and_sudo_names_who_ran_it() {
  let account = crate::account();
  let host = nix_host();
  let by = |env: Vec<(String, String)>| {
    let ran = Test::new()
      .runbook("```sh {name=a}\ntrue\n```\n")
      .env(env)
      .args(&["run", "rb.md", "--yes"])
      .run();
    records(&ran.transcript())[0]["operator"].clone()
  };
  // $USER is set to something else by the builder; it is not believed.
  assert_eq!(by(Vec::new()), format!("{account}@{host}"));
  let sudo = by(vec![("SUDO_USER".into(), "alice".into())]);
  if nix::unistd::getuid().is_root() {
    assert_eq!(sudo, format!("alice@{host} (sudo as {account})"));
  } else {
    // Only root can have come through sudo: the variable is not trusted.
    assert_eq!(sudo, format!("{account}@{host}"));
  }
}

#[test]
fn run_help_prints_the_exit_codes() {
  let ran = Test::new().args(&["run", "--help"]).run();
  ran.assert(0);
  for line in [
    "  3    a person is needed: nothing failed, but a checklist item stayed unconfirmed or a",
    "  128+ interrupted by a signal: 130 Ctrl-C, 143 SIGTERM, 129 SIGHUP",
  ] {
    assert!(ran.stdout.contains(line), "{}", ran.stdout);
  }
}

#[test]
fn completions_for_bash_zsh_and_fish() {
  let ran = Test::new().args(&["completions", "bash"]).run();
  ran.assert(0);
  assert!(ran.stdout.contains("resume") && ran.stdout.contains("--yes-readonly"));
  // The script is valid bash.
  let path = ran.dir.path().join("litops.bash");
  std::fs::write(&path, &ran.stdout).expect("write");
  let syntax = std::process::Command::new("bash")
    .arg("-n")
    .arg(&path)
    .status()
    .expect("bash");
  assert!(syntax.success());
  for shell in ["zsh", "fish"] {
    let ran = Test::new().args(&["completions", shell]).run();
    ran.assert(0);
    assert!(ran.stdout.contains("verify"), "{shell}");
  }
  Test::new().args(&["completions", "tcsh"]).run().assert(2);
}

#[test]
fn a_required_item_not_done_holds_back_later_changes() {
  let text = "# Patch\n\n- [ ] Backups verified {name=backups required}\n\n```sh {name=look readonly=true}\necho looked\n```\n\n```sh {name=patch}\ntouch patched\n```\n";
  let ran = crate::run_yes(text);
  // Nothing failed: the item waits for a person, the change waits for it.
  ran.assert(3);
  assert!(!ran.dir.path().join("patched").exists());
  let r = records(&ran.transcript());
  assert_eq!(r[1]["step"], "backups");
  assert_eq!(r[1]["output"]["text"], "Backups verified");
  let patch = r.iter().find(|x| x["step"] == "patch").expect("patch");
  assert_eq!(patch["status"], "skipped");
  assert_eq!(
    patch["decision"]["reason"],
    "required checklist item `backups` was not done: changes wait until it is"
  );
  assert!(ran.stdout.contains("looked"));
  // A named item is a step id like any other.
  let only = Test::new()
    .runbook(text)
    .args(&["plan", "rb.md", "--json"])
    .run();
  let plan: serde_json::Value = serde_json::from_str(&only.stdout).expect("json");
  assert_eq!(plan["steps"][0]["id"], "backups");
}
