//! The examples in the docs run as written: every ````markdown block of
//! docs/format.md is checked, and run when it needs no AWS.

use crate::{Test, records};

/// The bodies of the 4-backtick `markdown` blocks of a doc.
fn examples(doc: &str) -> Vec<String> {
  blocks(doc, "markdown")
}

/// The bodies of a doc's 4-backtick blocks of `language`.
fn blocks(doc: &str, language: &str) -> Vec<String> {
  let text = std::fs::read_to_string(format!("{}/docs/{doc}", env!("CARGO_MANIFEST_DIR")))
    .expect("read the doc");
  let fence = format!("````{language}");
  let mut out = Vec::new();
  let mut current: Option<String> = None;
  for line in text.lines() {
    match (&mut current, line) {
      (None, open) if open == fence => current = Some(String::new()),
      (Some(body), "````") => {
        out.push(std::mem::take(body));
        current = None;
      }
      (Some(body), line) => {
        body.push_str(line);
        body.push('\n');
      }
      (None, _) => {}
    }
  }
  out
}

#[test]
fn format_examples_check_and_run_as_written() {
  let found = examples("format.md");
  assert!(found.len() >= 2, "examples found: {}", found.len());
  for example in found {
    let ran = Test::new()
      .runbook(&example)
      .args(&["check", "rb.md"])
      .run();
    ran.assert(0);
    if !example.starts_with("---") {
      continue;
    }
    // What nobody would type: a value for every parameter without a default.
    let plan = Test::new()
      .runbook(&example)
      .args(&["plan", "rb.md", "--json"])
      .run();
    let plan: serde_json::Value = serde_json::from_str(&plan.stdout).expect("plan JSON");
    let mut args = vec!["run".to_string(), "rb.md".into(), "--yes".into()];
    for pair in plan["params"].as_array().into_iter().flatten() {
      if pair[1].as_str().is_some_and(|v| v.starts_with("{{")) {
        args.push("--param".into());
        args.push(format!("{}=acme", pair[0].as_str().unwrap_or_default()));
      }
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let ran = Test::new().runbook(&example).args(&args).run();
    let r = records(&ran.transcript());
    for step in r.iter().filter(|x| x["type"] == "step-finished") {
      assert!(
        matches!(step["status"].as_str(), Some("done" | "unconfirmed")),
        "{step}\n{}",
        ran.stderr
      );
    }
    // The checklist item needs a person: unconfirmed under --yes: exit 3, a person is needed.
    ran.assert(3);
    assert_eq!(r.last().expect("end")["result"], "incomplete");
  }
}

#[test]
fn testing_example_passes_as_written() {
  let runbook = blocks("testing.md", "markdown");
  let cases = blocks("testing.md", "yaml");
  assert_eq!((runbook.len(), cases.len()), (1, 1));
  let ran = Test::new()
    .runbook(&runbook[0])
    .file("rb.test.yaml", &cases[0])
    .args(&["test", "rb.md"])
    .run();
  ran.assert(0);
  assert_eq!(
    ran.stdout,
    "ok    rb.test.yaml › full disk\nok    rb.test.yaml › quiet\nok    rb.test.yaml › cleanup fails\n\n3 passed, 0 failed\n"
  );
}
