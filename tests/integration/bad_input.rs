//! Bad input: one clear message with file:line, exit 2 (`check`: 1), and
//! nothing runs — each runbook here would create `ran` if a step executed.

use crate::Test;

const RAN: &str = "```sh\ntouch ran\n```\n";

fn refused(text: &[u8], args: &[&str], message: &str) {
  let ran = Test::new()
    .file("rb.md", text)
    .args(&["run", "rb.md", "--yes"])
    .args(args)
    .run();
  ran.assert(2);
  assert!(
    ran.stderr.contains(message),
    "expected {message:?} in:\n{}",
    ran.stderr
  );
  assert!(!ran.dir.path().join("ran").exists(), "a step ran");
  assert!(
    crate::find_transcript(ran.dir.path()).is_none(),
    "a transcript was started"
  );
}

fn checked(text: &[u8], message: &str) {
  let ran = Test::new()
    .file("rb.md", text)
    .args(&["check", "rb.md"])
    .run();
  ran.assert(1);
  assert!(
    ran.stderr.contains(message),
    "expected {message:?} in:\n{}",
    ran.stderr
  );
}

#[test]
fn invalid_yaml_front_matter() {
  let text = format!("---\ntitle: [oops\nkind: runbook\n---\n{RAN}");
  let message = "rb.md:3:5: error: invalid YAML in front matter";
  refused(text.as_bytes(), &[], message);
  checked(text.as_bytes(), message);
}

#[test]
fn unknown_param_in_template() {
  let text = format!(
    "---\nparams:\n  env: prod\n---\n{RAN}```ecs\naction: describe\ncluster: {{{{ clutser }}}}\n```\n"
  );
  let message = "rb.md:10:10: error: `{{ clutser }}` names no parameter or variable; known: env";
  refused(text.as_bytes(), &[], message);
  checked(text.as_bytes(), message);
}

#[test]
fn bad_attribute_syntax() {
  let text = format!("{RAN}```bash {{name=a timeout=}}\nls\n```\n");
  let message = "rb.md:4:9: error: bad attribute syntax: `timeout` has no value";
  refused(text.as_bytes(), &[], message);
  checked(text.as_bytes(), message);
}

#[test]
fn unclosed_fence_warns_and_still_runs_to_eof() {
  let ran = crate::run_yes("# A\n```sh\ntouch ran\n");
  ran.assert(0);
  assert!(
    ran
      .stderr
      .contains("rb.md:2:1: warning: code fence is never closed"),
    "{}",
    ran.stderr
  );
  assert!(ran.dir.path().join("ran").exists());
}

#[test]
fn rhai_syntax_error_at_its_markdown_line() {
  let text = format!("# A\n\n{RAN}\n```rhai\nlet a = 1;\nlet b = (a + ;\n```\n");
  let message = "rb.md:9:14: error: rhai syntax error";
  refused(text.as_bytes(), &[], message);
  checked(text.as_bytes(), message);
}

#[test]
fn duplicate_step_names() {
  let text = "```sh {name=x}
touch ran
```
```rhai {name=x}
1
```
";
  let message = "rb.md:4:1: error: step id `x` is already used by the step at line 1";
  refused(text.as_bytes(), &[], message);
  checked(text.as_bytes(), message);
}

#[test]
fn goto_unknown_step() {
  let text = format!("{RAN}```rhai\ngoto(\"fix-it\")\n```\n");
  let message = "rb.md:5:1: error: `goto(\"fix-it\")` names no step in this runbook";
  refused(text.as_bytes(), &[], message);
  checked(text.as_bytes(), message);
}

#[test]
fn param_value_outside_choices() {
  let text = format!("---\nparams:\n  env:\n    choices: [prod, staging]\n---\n{RAN}");
  refused(
    text.as_bytes(),
    &["--param", "env=qa"],
    "error: parameter `env`: `qa` must be one of: prod, staging; nothing was run",
  );
}

#[test]
fn missing_required_param_without_terminal() {
  let text = format!("---\nparams:\n  customer:\n    description: who\n---\n{RAN}");
  refused(
    text.as_bytes(),
    &[],
    "error: parameter `customer` is required and has no default: pass `--param customer=VALUE`",
  );
}

#[test]
fn not_utf8() {
  let text = b"# A\n\ncaf\xe9\n```sh\ntouch ran\n```\n";
  refused(
    text,
    &[],
    "rb.md: error: not valid UTF-8 at line 3, column 4",
  );
  checked(text, "rb.md: error: not valid UTF-8 at line 3, column 4");
}

#[test]
fn empty_file() {
  refused(b"", &[], "rb.md: error: empty file");
  checked(b"\n\n", "rb.md: error: empty file");
}

#[test]
fn binary_file() {
  let text = b"\x7fELF\x02\x01\x01\0\0\0";
  refused(
    text,
    &[],
    "rb.md: error: binary file (NUL byte at offset 7)",
  );
  checked(text, "rb.md: error: binary file");
}

#[test]
fn missing_file() {
  let ran = Test::new().args(&["run", "nope.md"]).run();
  ran.assert(2);
  assert_eq!(ran.stderr, "nope.md: error: no such file\n");
  let ran = Test::new().args(&["check", "nope.md"]).run();
  ran.assert(1);
  assert!(ran.stderr.contains("nope.md: error: no such file"));
}

#[test]
fn directory_without_runbooks() {
  let ran = Test::new()
    .file("empty/notes.txt", "x")
    .args(&["check", "empty"])
    .run();
  ran.assert(1);
  assert!(
    ran
      .stderr
      .contains("empty: error: no runbooks (.md files) here"),
    "{}",
    ran.stderr
  );
  let ran = Test::new()
    .file("empty/notes.txt", "x")
    .args(&["run", "empty"])
    .run();
  ran.assert(2);
  assert!(
    ran.stderr.contains("empty: error: is a directory"),
    "{}",
    ran.stderr
  );
}

#[test]
fn every_problem_is_reported_not_only_the_first() {
  let text = "---\nkind: notebook\n---\n```sh {colour=red}\nls\n```\n```rhai\nlet = 1\n```\n```rhai {name=a}\ngoto(\"b\")\n```\n";
  let ran = Test::new().runbook(text).args(&["check", "rb.md"]).run();
  ran.assert(1);
  let lines: Vec<_> = ran
    .stderr
    .lines()
    .filter(|l| l.starts_with("rb.md:"))
    .collect();
  assert_eq!(
    lines,
    [
      "rb.md:2:1: error: `kind: notebook` is not known: use `runbook` or `playbook`",
      "rb.md:4:8: warning: unknown attribute `colour` is ignored",
      "rb.md:8:5: error: rhai syntax error: Expecting name of a variable",
      "rb.md:11:1: error: `goto(\"b\")` names no step in this runbook",
    ]
  );
  assert_eq!(ran.stdout, "checked 1 file, 3 steps: 3 errors, 1 warning\n");
}

#[test]
fn unknown_from_step_is_a_usage_error() {
  refused(
    RAN.as_bytes(),
    &["--from", "nope"],
    "error: `--from nope`: no step has this id",
  );
}

#[test]
fn declarative_fields_and_actions_are_checked_before_anything_runs() {
  // Line 5 is the `cloudwatch` body's first line.
  for (body, message) in [
    (
      "action: metric\nnamespace: AWS/ECS\nmetirc: CPUUtilization\n",
      "rb.md:7:1: error: `cloudwatch` has no field `metirc`; known: action, state,",
    ),
    (
      "action: alarm\n",
      "rb.md:5:1: error: `cloudwatch` has no `action: alarm`; use alarms, metric",
    ),
    (
      "state: ALARM\n",
      "rb.md:5:1: error: `cloudwatch` block needs `action:`, one of alarms, metric",
    ),
  ] {
    let text = format!("{RAN}```cloudwatch\n{body}```\n");
    refused(text.as_bytes(), &[], message);
    checked(text.as_bytes(), message);
  }
}
