//! rhai cannot crash, exhaust or stall a run; a goto loop is bounded; a
//! transcript that cannot be created means nothing ran (issue 11).

use crate::{Test, records};

#[test]
fn a_goto_loop_stops_at_max_visits_naming_the_step() {
  let text =
    "---\nkind: playbook\nmax-visits: 3\n---\n```rhai {name=again}\ngoto(\"again\")\n```\n";
  let ran = crate::run_yes(text);
  ran.assert(1);
  let r = records(&ran.transcript());
  let finished: Vec<_> = r.iter().filter(|e| e["type"] == "step-finished").collect();
  assert_eq!(finished.len(), 3);
  let end = r.last().expect("end");
  assert_eq!(end["result"], "stopped");
  assert_eq!(
    end["reason"],
    "goto loop: step `again` has run 3 times, the limit (`max-visits: N` in the front matter raises it)"
  );
}

/// Runs `text` with `--yes`: its first step must fail and stop the run;
/// that step's record.
fn first_step_fails(text: &str) -> serde_json::Value {
  let ran = crate::run_yes(text);
  ran.assert(1);
  let r = records(&ran.transcript());
  assert_eq!(r[2]["status"], "failed");
  assert_eq!(r[3]["type"], "run-finished");
  r[2].clone()
}

#[test]
fn a_computed_goto_to_no_step_fails_the_step_that_made_it() {
  let text = "```rhai {name=route}\nlet cause = \"imagepull\";\ngoto(\"fix-\" + cause)\n```\n\n```rhai {name=fix-image-pull}\n1\n```\n";
  let step = first_step_fails(text);
  assert_eq!(
    step["error"],
    "goto(\"fix-imagepull\") names no step in this runbook; did you mean `fix-image-pull`?"
  );
  assert!(step.get("goto").is_none_or(|g| g.is_null()));
}

#[test]
fn a_script_that_grows_memory_without_bound_is_stopped() {
  // Each curry doubles the value: rhai's size limits do not see it. The
  // timeout is long so only the memory bound can end the step.
  let text = "```rhai {name=grow timeout=10m}\nlet f = Fn(\"x\");\nfor i in 0..64 { f = f.curry(f); }\nf\n```\n\n```sh {name=after}\necho after\n```\n";
  assert_eq!(
    first_step_fails(text)["error"],
    "script used more than 512 MB of memory: stopped"
  );
}

#[test]
fn a_transcript_that_cannot_be_created_is_exit_2_and_nothing_ran() {
  let text = "```sh {name=change}\ntouch changed\n```\n";
  let ran = Test::new()
    .runbook(text)
    .file("taken.md", "already here\n")
    .args(&["run", "rb.md", "--yes", "--transcript", "taken.md"])
    .run();
  ran.assert(2);
  assert!(
    ran.stderr.contains(
      "error: cannot create the transcript taken.md: File exists (os error 17); nothing was run \
       (a transcript is never overwritten: choose another --transcript)"
    ),
    "{}",
    ran.stderr
  );
  assert!(!ran.dir.path().join("changed").exists());
  assert_eq!(
    std::fs::read_to_string(ran.dir.path().join("taken.md")).expect("kept"),
    "already here\n"
  );
  // A directory that cannot hold it: a file stands where the directory
  // would be (read-only modes do not stop root, which CI runs as).
  let ran = Test::new()
    .runbook(text)
    .file("blocked", "a file, not a directory\n")
    .args(&["run", "rb.md", "--yes", "--transcript", "blocked/t.md"])
    .run();
  ran.assert(2);
  assert!(
    ran
      .stderr
      .contains("error: cannot create the transcript blocked/t.md"),
    "{}",
    ran.stderr
  );
  assert!(!ran.dir.path().join("changed").exists());
}

#[test]
fn durations_are_bounded_where_they_are_read() {
  // A timeout past what a clock can add once panicked the step.
  for (attr, ok) in [
    ("timeout=18446744073709551615s", false),
    ("timeout=584942417355y", false),
    ("timeout=0", false),
    ("timeout=3650d", true),
  ] {
    let ran = Test::new()
      .runbook(&format!("```sh {{name=s {attr}}}\necho hi\n```\n"))
      .args(&["check", "rb.md"])
      .run();
    ran.assert(if ok { 0 } else { 1 });
  }
  let ran = Test::new()
    .runbook(
      "```ecs\naction: scale\ncluster: c\nservice: s\ndesired: 2\ntimeout: 99999999999999h\n```\n",
    )
    .args(&["check", "rb.md"])
    .run();
  ran.assert(1);
  assert!(
    ran
      .stderr
      .contains("`ecs`: `timeout: 99999999999999h`: expected a duration"),
    "{}",
    ran.stderr
  );
}
