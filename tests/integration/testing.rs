//! `litops test`: cases beside a runbook replay each step's output, run
//! only the scripts, and compare what happened with what they expect.

use crate::Test;

/// A disk check: a read-only probe, a checklist item, a branch, a change
/// and a verdict that asks a question. The probe and the change leave a
/// file behind when they really run.
const RUNBOOK: &str = r#"---
title: Disk check
params:
  host:
    default: web-1
---
# Disk check

```sh {name=usage readonly=true}
touch probed
echo 95
```

- [ ] The on-call engineer knows a check is running

```rhai {name=decide}
let used = steps["usage"].stdout;
used.trim();
let used = used.parse_int();
if used <= 90 { goto("verdict", "nothing to clean") }
`cleanup needed on ${params.host}`
```

```sh {name=clean}
touch cleaned
```

```rhai {name=verdict}
let used = steps["usage"].stdout;
used.trim();
let used = used.parse_int();
if used > 90 && steps["clean"].exit_code != 0 {
  fail(`disk at ${used} % on ${params.host} and the cleanup failed`);
}
let told = confirm("Was the customer told?");
`disk at ${used} % on ${params.host}${if told { ", customer told" } else { "" }}`
```
"#;

const CASES: &str = r#"cases:
  - name: full
    params: {host: db-2}
    outputs:
      usage: {stdout: "95\n", exit_code: 0}
      clean: {stdout: "", exit_code: 0}
    answers:
      disk-check-1: done
      "Was the customer told?": "yes"
    expect:
      exit: 0
      result: passed
      steps: {usage: done, clean: done, verdict: done}
      values: {decide: cleanup needed on db-2}
      verdict: "disk at 95 % on db-2, customer told"

  - name: quiet
    outputs:
      usage: {stdout: "40\n"}
    answers:
      disk-check-1: done
      "Was the customer told?": "no"
    expect:
      exit: 0
      not-run: [clean]
      verdict: "disk at 40 % on web-1"
"#;

fn suite(cases: &str) -> Test {
  Test::new().runbook(RUNBOOK).file("rb.test.yaml", cases)
}

#[test]
fn cases_replay_outputs_and_run_only_the_scripts() {
  let ran = suite(CASES).args(&["test", "rb.md"]).run();
  ran.assert(0);
  assert_eq!(
    ran.stdout,
    "ok    rb.test.yaml › full\nok    rb.test.yaml › quiet\n\n2 passed, 0 failed\n"
  );
  // Neither the probe nor the change ran: their outputs were replayed.
  for left in ["probed", "cleaned"] {
    assert!(!ran.dir.path().join(left).exists(), "{left} ran");
  }
}

#[test]
fn a_case_that_is_not_met_names_every_difference() {
  let cases = r#"cases:
  - name: wrong
    outputs:
      usage: {stdout: "95\n"}
      clean: {status: failed, error: "exit status 1", exit_code: 1}
    answers:
      "Was the customer told?": "yes"
    expect:
      exit: 0
      result: passed
      steps: {clean: done, disk-check-1: done}
      values: {decide: "cleanup needed on db-2"}
      verdict-contains: ["customer told"]
      not-run: [decide]
"#;
  let ran = suite(cases).args(&["test", "."]).run();
  ran.assert(1);
  assert_eq!(
    ran.stdout,
    "FAIL  ./rb.test.yaml › wrong
      exit: expected 0, got 1
      result: expected passed, got failed
      step `clean`: expected done, got failed
      step `disk-check-1`: expected done, got unconfirmed
      verdict: expected it to contain “customer told”, got “exit status 1”
      `decide`: expected “cleanup needed on db-2”, got “cleanup needed on web-1”
      step `decide`: expected it not to run, but it ran (done)

0 passed, 1 failed
"
  );
}

#[test]
fn a_step_the_case_gives_no_output_fails_saying_what_to_add() {
  let cases = r#"cases:
  - name: forgot
    expect:
      exit: 1
      verdict: "the case gives no output for `usage`: litops test runs only rhai steps; add `usage:` under `outputs`"
      not-run: [decide, clean, verdict]
"#;
  let ran = suite(cases).args(&["test", "rb.test.yaml"]).run();
  ran.assert(0);
  assert!(!ran.dir.path().join("probed").exists());
}

#[test]
fn what_a_case_gets_wrong_is_reported_at_its_line_before_anything_runs() {
  let cases = r#"cases:
  - name: typos
    params: {hots: db-2}
    outputs:
      usge: {stdout: "95\n"}
      clean: {stdot: ""}
      decide: {value: 1}
      disk-check-1: {}
    answers:
      disk-check-1: "yes"
      "Was the customer tld?": "yes"
    expect:
      exitt: 0
"#;
  let ran = suite(cases).args(&["test", "rb.md"]).run();
  ran.assert(1);
  let errors: Vec<&str> = ran
    .stderr
    .lines()
    .filter(|l| l.starts_with("rb.test.yaml:"))
    .collect();
  assert_eq!(
    errors,
    [
      "rb.test.yaml:3:5: error: the runbook has no parameter `hots`; did you mean `host`?",
      "rb.test.yaml:5:7: error: the runbook has no step `usge`; did you mean `usage`?",
      "rb.test.yaml:6:7: error: a sh step records no field `stdot`; did you mean `stdout`?",
      "rb.test.yaml:7:7: error: `decide` is a rhai step: it runs in a test; give the outputs of the steps it reads",
      "rb.test.yaml:8:7: error: `disk-check-1` is a checklist item: give its answer under `answers`, not an output",
      "rb.test.yaml:10:7: error: `disk-check-1` is a checklist item: answer done, not-done or n/a, not `yes`",
      "rb.test.yaml:11:8: error: `Was the customer tld?` is neither a checklist item nor a question a step asks; did you mean `Was the customer told?`?",
      "rb.test.yaml:13:7: error: unknown expectation `exitt`; did you mean `exit`?; expect has exit, result, steps, values, verdict, verdict-contains, not-run",
    ]
  );
  assert_eq!(
    ran.stdout,
    "\n0 passed, 0 failed, 1 case file with errors\n"
  );
  assert!(!ran.dir.path().join("probed").exists());
}

#[test]
fn a_recorded_run_is_replayed_with_its_answers_and_parameters() {
  // The run for real: the probe says 95, the cleanup runs, the customer
  // was told.
  let recorded = Test::new()
    .runbook(RUNBOOK)
    .args(&[
      "run",
      "rb.md",
      "--yes",
      "--param",
      "host=db-9",
      "--transcript",
      "cases/run.md",
    ])
    .stdin("y\n")
    .run();
  recorded.assert(3);
  assert!(recorded.dir.path().join("cleaned").exists());
  std::fs::remove_file(recorded.dir.path().join("cleaned")).expect("rm");
  std::fs::write(
    recorded.dir.path().join("rb.test.yaml"),
    r#"cases:
  - name: as recorded
    transcript: cases/run.md
    expect:
      exit: 3
      steps: {disk-check-1: unconfirmed}
      verdict: "disk at 95 % on db-9, customer told"
"#,
  )
  .expect("write cases");
  let replayed = crate::command(
    recorded.dir.path(),
    &[
      "test".into(),
      "rb.md".into(),
      "--junit".into(),
      "junit.xml".into(),
    ],
  )
  .output()
  .expect("litops test");
  let stdout = String::from_utf8_lossy(&replayed.stdout);
  assert_eq!(replayed.status.code(), Some(0), "{stdout}");
  assert!(!recorded.dir.path().join("cleaned").exists());
  let junit = std::fs::read_to_string(recorded.dir.path().join("junit.xml")).expect("junit");
  assert!(
    junit.contains(r#"<testsuites name="litops test" tests="1" failures="0">"#),
    "{junit}"
  );
  assert!(
    junit.contains(r#"<testcase classname="rb.test.yaml" name="as recorded" time=""#),
    "{junit}"
  );
}

#[test]
fn junit_names_each_failure_with_its_differences() {
  let cases = CASES.replace("exit: 0\n      not-run", "exit: 2\n      not-run");
  let ran = suite(&cases)
    .args(&["test", "rb.md", "--junit", "out/junit.xml"])
    .run();
  ran.assert(2);
  let junit = std::fs::read_to_string(ran.dir.path().join("out/junit.xml"));
  // The directory is not made for the report: saying so beats guessing.
  assert!(junit.is_err());
  assert!(ran.stderr.contains("out/junit.xml"), "{}", ran.stderr);
  let ran = suite(&cases)
    .args(&["test", "rb.md", "--junit", "junit.xml"])
    .run();
  ran.assert(1);
  let junit = std::fs::read_to_string(ran.dir.path().join("junit.xml")).expect("junit");
  assert!(junit.contains(r#"tests="2" failures="1""#), "{junit}");
  assert!(
    junit
      .contains(r#"<failure message="exit: expected 2, got 0">exit: expected 2, got 0</failure>"#),
    "{junit}"
  );
}

#[test]
fn update_writes_what_each_case_did_and_keeps_the_rest_of_the_file() {
  let cases = r#"# Disk check cases: keep this comment.
cases:
  - name: new
    outputs:
      usage: {stdout: "40\n"}   # a quiet disk
    answers:
      "Was the customer told?": "no"

  # The second case keeps its comment too.
  - name: old
    outputs:
      usage: {stdout: "40\n"}
    expect:
      exit: 9
"#;
  let ran = suite(cases).args(&["test", "--update", "rb.md"]).run();
  ran.assert(0);
  let written = std::fs::read_to_string(ran.dir.path().join("rb.test.yaml")).expect("read");
  assert_eq!(
    written,
    r#"# Disk check cases: keep this comment.
cases:
  - name: new
    outputs:
      usage: {stdout: "40\n"}   # a quiet disk
    answers:
      "Was the customer told?": "no"
    expect:
      exit: 3
      result: incomplete
      verdict: "disk at 40 % on web-1"
      steps:
        usage: done
        disk-check-1: unconfirmed
        decide: done
        verdict: done
      values:
        decide: ""
        verdict: "disk at 40 % on web-1"
      not-run: [clean]

  # The second case keeps its comment too.
  - name: old
    outputs:
      usage: {stdout: "40\n"}
    expect:
      exit: 3
      result: stopped
      verdict: "the case gives no answer to “Was the customer told?”: add it under `answers`"
      steps:
        usage: done
        disk-check-1: unconfirmed
        decide: done
        verdict: failed
      values:
        decide: ""
        verdict: "the case gives no answer to “Was the customer told?”: add it under `answers`"
      not-run: [clean]
"#
  );
  let again = crate::command(ran.dir.path(), &["test".into(), "rb.md".into()])
    .output()
    .expect("litops test");
  assert_eq!(again.status.code(), Some(0));
}

#[test]
fn paths_without_cases_are_errors() {
  let ran = Test::new()
    .runbook(RUNBOOK)
    .file("empty/README.txt", "nothing")
    .args(&["test", "rb.md", "empty", "missing.test.yaml"])
    .run();
  ran.assert(1);
  assert_eq!(
    ran.stderr,
    "rb.md: error: no test cases: write them in rb.test.yaml\n\
     empty: error: no test cases here (files named NAME.test.yaml beside NAME.md)\n\
     missing.test.yaml: error: no such file\n"
  );
  assert_eq!(
    ran.stdout,
    "\n0 passed, 0 failed, 3 case files with errors\n"
  );
}

#[test]
fn every_shipped_runbook_and_playbook_passes_its_cases() {
  let root = env!("CARGO_MANIFEST_DIR");
  let out = crate::command(
    std::path::Path::new(root),
    &["test".into(), "runbooks".into(), "playbooks".into()],
  )
  .output()
  .expect("litops test");
  let stdout = String::from_utf8_lossy(&out.stdout);
  assert_eq!(out.status.code(), Some(0), "{stdout}");
  // A healthy case and the seeded incident's, at least, for each of them.
  for dir in ["runbooks", "playbooks"] {
    for entry in std::fs::read_dir(format!("{root}/{dir}")).expect("read dir") {
      let path = entry.expect("entry").path();
      if path.extension().is_some_and(|e| e == "md") {
        let name = path
          .file_stem()
          .expect("stem")
          .to_string_lossy()
          .into_owned();
        let cases = stdout
          .lines()
          .filter(|l| l.starts_with(&format!("ok    {dir}/{name}.test.yaml › ")))
          .count();
        assert!(cases >= 2, "{name}: {cases} case(s)\n{stdout}");
        assert!(
          stdout.contains(&format!("ok    {dir}/{name}.test.yaml › incident\n")),
          "{name}: no incident case"
        );
      }
    }
  }
}

/// A directory is walked without following symlinked directories (a link
/// back up the tree would never end), and a file named twice runs once.
#[test]
fn a_case_file_named_twice_runs_once_and_links_are_not_followed() {
  let test = suite(CASES);
  std::os::unix::fs::symlink(test.dir.path(), test.dir.path().join("up")).expect("symlink");
  let ran = test.args(&["test", "rb.md", ".", "rb.test.yaml"]).run();
  ran.assert(0);
  assert_eq!(
    ran.stdout,
    "ok    rb.test.yaml › full\nok    rb.test.yaml › quiet\n\n2 passed, 0 failed\n"
  );
}

/// A case file saved with Windows line endings and a byte-order mark keeps
/// them when `--update` writes it back.
#[test]
fn update_keeps_windows_line_endings() {
  let cases = "\u{feff}cases:\r\n  - name: quiet\r\n    outputs:\r\n      usage: {stdout: \"40\"}\r\n    answers:\r\n      \"Was the customer told?\": \"no\"\r\n";
  let ran = suite(cases).args(&["test", "--update", "rb.md"]).run();
  ran.assert(0);
  let written = std::fs::read_to_string(ran.dir.path().join("rb.test.yaml")).expect("read");
  assert!(
    written.starts_with("\u{feff}cases:\r\n  - name: quiet\r\n"),
    "{written:?}"
  );
  assert!(
    written.contains("    expect:\r\n      exit: 3\r\n"),
    "{written:?}"
  );
  assert!(!written.replace("\r\n", "").contains('\n'), "{written:?}");
}
