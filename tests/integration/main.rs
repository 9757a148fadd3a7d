//! One integration-test binary: every test drives the real `litops`
//! executable through the [`Test`] builder.

mod approvals;
mod aws_kinds;
mod bad_input;
mod check_plan;
mod corpus;
mod docs;
mod ecs;
mod fanout;
mod fleet;
mod fuzz;
mod history;
mod http;
mod limits;
mod logs_insights;
mod moto;
mod prefetch;
mod pty;
mod report;
mod resume;
mod run;
mod runme;
mod scripted;
mod secrets;
mod shipped;
mod signals;
mod team;
mod testing;
mod verify;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

pub const BIN: &str = env!("CARGO_BIN_EXE_litops");

pub struct Test {
  pub dir: tempfile::TempDir,
  args: Vec<String>,
  stdin: Option<String>,
  env: Vec<(String, String)>,
}

pub struct Ran {
  pub dir: tempfile::TempDir,
  pub status: i32,
  pub stdout: String,
  pub stderr: String,
}

impl Default for Test {
  fn default() -> Self {
    Self {
      dir: tempfile::tempdir().expect("temp dir"),
      args: Vec::new(),
      stdin: None,
      env: Vec::new(),
    }
  }
}

impl Test {
  pub fn new() -> Self {
    Self::default()
  }

  pub fn file(self, path: &str, contents: impl AsRef<[u8]>) -> Self {
    let full = self.dir.path().join(path);
    if let Some(parent) = full.parent() {
      std::fs::create_dir_all(parent).expect("mkdir");
    }
    std::fs::write(full, contents).expect("write fixture");
    self
  }

  pub fn runbook(self, text: &str) -> Self {
    self.file("rb.md", text)
  }

  pub fn args(mut self, args: &[&str]) -> Self {
    self.args.extend(args.iter().map(|a| a.to_string()));
    self
  }

  pub fn env(mut self, vars: Vec<(String, String)>) -> Self {
    self.env.extend(vars);
    self
  }

  pub fn stdin(mut self, text: &str) -> Self {
    self.stdin = Some(text.to_string());
    self
  }

  /// The command with a clean environment: nothing from the developer's
  /// shell (AWS profiles, NO_COLOR, …) leaks into a test.
  pub fn command(&self) -> Command {
    let mut command = command(self.dir.path(), &self.args);
    command.envs(self.env.iter().map(|(k, v)| (k, v)));
    command
  }

  pub fn run(self) -> Ran {
    let mut command = self.command();
    command.stdin(if self.stdin.is_some() {
      Stdio::piped()
    } else {
      Stdio::null()
    });
    command.stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = command.spawn().expect("spawn litops");
    if let Some(input) = &self.stdin {
      use std::io::Write;
      let mut stdin = child.stdin.take().expect("stdin");
      // The run may stop reading early; a broken pipe is part of the test.
      let _ = stdin.write_all(input.as_bytes());
    }
    let Output {
      status,
      stdout,
      stderr,
    } = child.wait_with_output().expect("wait");
    let ran = Ran {
      dir: self.dir,
      status: status.code().unwrap_or(-1),
      stdout: String::from_utf8_lossy(&stdout).into_owned(),
      stderr: String::from_utf8_lossy(&stderr).into_owned(),
    };
    assert!(
      !ran.stderr.contains("panicked"),
      "litops panicked:\n{}",
      ran.stderr
    );
    ran
  }
}

pub fn command(dir: &Path, args: &[String]) -> Command {
  let mut command = Command::new(BIN);
  command
    .args(args)
    .current_dir(dir)
    .env_clear()
    .env("PATH", std::env::var_os("PATH").unwrap_or_default())
    // $USER is not who runs litops: the OS account is (see `account`).
    .env("USER", "not-the-operator")
    .env("HOME", dir);
  command
}

/// `litops run rb.md --yes` on `runbook`: the commonest case.
pub fn run_yes(runbook: &str) -> Ran {
  Test::new()
    .runbook(runbook)
    .args(&["run", "rb.md", "--yes"])
    .run()
}

/// The OS account the tests run as: the operator litops records.
pub fn account() -> String {
  nix::unistd::User::from_uid(nix::unistd::getuid())
    .ok()
    .flatten()
    .map(|u| u.name)
    .expect("the test's OS account")
}

impl Ran {
  #[track_caller]
  pub fn assert(&self, status: i32) -> &Self {
    assert_eq!(
      self.status, status,
      "exit status\n--- stdout\n{}\n--- stderr\n{}",
      self.stdout, self.stderr
    );
    self
  }

  /// Asserts each text was on stderr before the first "run this step?" prompt.
  pub fn shown_before_prompt(&self, texts: &[&str]) {
    let before = self
      .stderr
      .split("run this step?")
      .next()
      .unwrap_or_default();
    for text in texts {
      assert!(
        before.contains(text),
        "{text:?} not shown before the prompt:\n{}",
        self.stderr
      );
    }
  }

  pub fn transcript_path(&self) -> PathBuf {
    find_transcript(self.dir.path()).expect("a transcript was written")
  }

  pub fn transcript(&self) -> String {
    std::fs::read_to_string(self.transcript_path()).expect("read transcript")
  }
}

/// `litops verify TRANSCRIPT` in `dir`, which must find it intact; its report.
pub fn verified(dir: &Path, transcript: &Path) -> String {
  let out = command(dir, &["verify".into(), transcript.display().to_string()])
    .output()
    .expect("verify");
  let report = String::from_utf8_lossy(&out.stdout).into_owned();
  assert_eq!(out.status.code(), Some(0), "{report}");
  report
}

/// Where a transcript's sidecars and runbook copy are.
pub fn sidecar_dir(transcript: &Path) -> PathBuf {
  litops::transcript::sidecar_dir(transcript)
}

pub fn find_transcript(dir: &Path) -> Option<PathBuf> {
  find_transcripts(dir).pop()
}

/// Every transcript under `dir/transcripts`, oldest name first.
pub fn find_transcripts(dir: &Path) -> Vec<PathBuf> {
  let mut found = Vec::new();
  collect(&dir.join("transcripts"), &mut found);
  found.sort();
  found
}

fn collect(dir: &Path, out: &mut Vec<PathBuf>) {
  for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
    let path = entry.path();
    // `<name>.d/` holds a transcript's sidecars and runbook copy.
    if path.is_dir() && path.extension().is_none_or(|e| e != "d") {
      collect(&path, out);
    } else if path.is_file() && path.extension().is_some_and(|e| e == "md") {
      out.push(path);
    }
  }
}

/// Times and durations replaced, so transcripts compare across runs.
pub fn normalise(text: &str) -> String {
  let time = regex::Regex::new(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z").expect("regex");
  let stamp = regex::Regex::new(r"\d{8}T\d{6}Z-[0-9a-f]{8}").expect("regex");
  let duration = regex::Regex::new(r"\d+\.\d{3} s").expect("regex");
  let text = time.replace_all(text, "[TIME]");
  let text = stamp.replace_all(&text, "[RUN]");
  duration.replace_all(&text, "[DUR]").into_owned()
}

/// The records of a transcript as JSON values, checking the hash chain on
/// the way: each record's hash is the SHA-256 of its JSON and the next
/// record names it as `prev`.
pub fn records(transcript: &str) -> Vec<serde_json::Value> {
  let mut prev = litops::transcript::GENESIS.to_string();
  let mut out = Vec::new();
  for line in transcript.lines() {
    let Some(rest) = line.strip_prefix(litops::transcript::MARKER) else {
      continue;
    };
    let (hash, json) = rest.split_once(' ').expect("hash then JSON");
    let json = json.strip_suffix(" -->").expect("closed comment");
    assert_eq!(
      litops::transcript::sha256_hex(json.as_bytes()),
      hash,
      "record hash"
    );
    let value: serde_json::Value = serde_json::from_str(json).expect("record JSON");
    assert_eq!(value["prev"], prev.as_str(), "chain broken at {value}");
    prev = hash.to_string();
    out.push(value);
  }
  out
}

/// `(type, step, status)` of each record, the shape tests usually assert.
pub fn shape(transcript: &str) -> Vec<String> {
  records(transcript)
    .iter()
    .map(|r| {
      let mut s = r["type"].as_str().unwrap_or("?").to_string();
      for key in ["step", "status", "result"] {
        if let Some(v) = r[key].as_str() {
          s.push(' ');
          s.push_str(v);
        }
      }
      s
    })
    .collect()
}

/// Rewrites the transcript at `path` as a forger would: its events changed
/// by `change`, then every record sealed again and the Markdown rebuilt, so
/// the chain and the text are consistent. Only what the records say can
/// give it away.
pub fn forge(path: &Path, change: impl FnOnce(&mut Vec<litops::transcript::Event>)) {
  use litops::transcript::{Event, GENESIS, Record, front_matter, render};
  let text = std::fs::read_to_string(path).expect("read");
  let mut events: Vec<Event> = text
    .lines()
    .filter_map(|l| l.strip_prefix("<!-- litops:record sha256="))
    .filter_map(|l| {
      l.split_once(' ')
        .map(|(_, json)| json.trim_end_matches(" -->"))
    })
    .map(|json| serde_json::from_str::<Record>(json).expect("record").event)
    .collect();
  change(&mut events);
  let last = events
    .last()
    .filter(|e| matches!(e, Event::RunFinished { .. }));
  let mut forged = front_matter(&events[0], last);
  let mut prev = GENESIS.to_string();
  for (i, event) in events.iter().enumerate() {
    let record = Record {
      seq: i as u64 + 1,
      prev,
      event: event.clone(),
    };
    let (line, hash) = record.seal().expect("seal");
    forged.push_str(&render(event));
    forged.push_str(&line);
    forged.push('\n');
    prev = hash;
  }
  std::fs::write(path, forged).expect("write");
}
