//! `litops log`: runs newest first, and when each runbook last passed.

use crate::Test;

#[test]
fn log_lists_runs_newest_first_with_the_last_pass() {
  let test = Test::new()
    .file("ok.md", "```sh {name=fine}\ntrue\n```\n")
    .file("bad.md", "```sh {name=broken}\nexit 3\n```\n");
  let dir = test.dir.path().to_path_buf();
  let run = |file: &str| {
    let out = crate::command(&dir, &["run".into(), file.into(), "--yes".into()])
      .output()
      .expect("run");
    out.status.code()
  };
  assert_eq!(run("ok.md"), Some(0));
  assert_eq!(run("bad.md"), Some(1));
  let ran = test.args(&["log"]).run();
  ran.assert(0);
  let lines: Vec<&str> = ran.stdout.lines().collect();
  assert!(lines[0].starts_with(" started (UTC)"), "{}", ran.stdout);
  // Newest first: bad.md ran second.
  assert!(
    lines[1].contains("bad.md") && lines[1].contains("failed"),
    "{}",
    ran.stdout
  );
  assert!(
    lines[2].contains("ok.md") && lines[2].contains("passed"),
    "{}",
    ran.stdout
  );
  assert!(
    ran
      .stdout
      .contains("last passed:\n  bad.md: never\n  ok.md: 20"),
    "{}",
    ran.stdout
  );

  let only = Test::new().args(&["log", "ok.md", "--transcript-dir"]);
  let dir_arg = ran.dir.path().join("transcripts");
  let only = only.args(&[dir_arg.to_str().expect("utf-8 path")]).run();
  only.assert(0);
  assert!(!only.stdout.contains("bad.md"), "{}", only.stdout);
}

#[test]
fn check_and_log_do_not_follow_symlink_loops() {
  let test = Test::new()
    .file("docs/rb.md", "```sh\ntrue\n```\n")
    .file("transcripts/x/keep.txt", "");
  let dir = test.dir.path();
  std::os::unix::fs::symlink(dir.join("docs"), dir.join("docs/loop")).expect("loop");
  std::os::unix::fs::symlink(dir.join("transcripts"), dir.join("transcripts/x/up")).expect("loop");
  let ran = test.args(&["check", "docs"]).run();
  ran.assert(0);
  assert_eq!(ran.stdout, "checked 1 file, 1 step: 0 errors, 0 warnings\n");
  let log = crate::command(ran.dir.path(), &["log".into()])
    .output()
    .expect("log");
  assert_eq!(log.status.code(), Some(0));
}

#[test]
fn a_partial_run_never_counts_as_the_last_pass_and_names_need_no_md() {
  let test = Test::new().file(
    "checks.md",
    "```sh {name=fine}\ntrue\n```\n\n```sh {name=broken}\nexit 3\n```\n",
  );
  let dir = test.dir.path().to_path_buf();
  let out = crate::command(
    &dir,
    &[
      "run".into(),
      "checks.md".into(),
      "--yes".into(),
      "--only".into(),
      "fine".into(),
    ],
  )
  .output()
  .expect("run");
  assert_eq!(out.status.code(), Some(0));
  let ran = test.args(&["log", "checks"]).run();
  ran.assert(0);
  assert!(
    ran.stdout.contains("passed (partial: --only fine)"),
    "{}",
    ran.stdout
  );
  assert!(
    ran.stdout.contains("last passed:\n  checks.md: never\n"),
    "{}",
    ran.stdout
  );
}

#[test]
fn list_shows_runbooks_with_their_last_run_and_honours_gitignore() {
  let test = Test::new()
    .file(
      "runbooks/check.md",
      "---\ntitle: Morning check\nkind: runbook\ntags: [daily]\nparams:\n  env: prod\n---\n```sh {name=fine}\ntrue\n```\n",
    )
    .file("README.md", "# Tool\n\n```sh\nmake\n```\n")
    .file("scratch/old.md", "---\ntitle: Old\n---\n```sh\ntrue\n```\n")
    .file(".gitignore", "scratch/\n");
  let dir = test.dir.path().to_path_buf();
  // .gitignore is honoured inside a git work tree.
  std::fs::create_dir(dir.join(".git")).expect("git dir");
  let out = crate::command(
    &dir,
    &["run".into(), "runbooks/check.md".into(), "--yes".into()],
  )
  .output()
  .expect("run");
  assert_eq!(out.status.code(), Some(0));
  let ran = test.args(&["list", "--json"]).run();
  ran.assert(0);
  let list: serde_json::Value = serde_json::from_str(&ran.stdout).expect("json");
  let entries = list.as_array().expect("array");
  assert_eq!(entries.len(), 1, "{}", ran.stdout);
  assert_eq!(entries[0]["path"], "runbooks/check.md");
  assert_eq!(entries[0]["title"], "Morning check");
  assert_eq!(entries[0]["tags"], serde_json::json!(["daily"]));
  assert_eq!(entries[0]["params"], serde_json::json!(["env"]));
  assert_eq!(entries[0]["last_result"], "passed");
  let text = crate::command(&dir, &["list".into()])
    .output()
    .expect("list");
  let text = String::from_utf8_lossy(&text.stdout);
  assert!(
    text.contains("runbooks/check.md") && text.contains("passed 20"),
    "{text}"
  );
}
