//! The durable, tamper-evident record of a run. See docs/transcript.md.
//!
//! Every record is appended before the walk moves on, so `kill -9` at any
//! moment leaves every finished step on disk and the step in flight visible
//! as started-but-not-finished; fsync (see `Durability`) makes that hold
//! through power loss.

mod markdown;
mod record;
mod vocabulary;

use std::fs::{self, File, OpenOptions};
use std::io::{self, Seek, SeekFrom, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value;

use crate::redact::Redactor;

pub use markdown::{fenced, render, seconds};
pub use record::{
  AwsContext, BackgroundEnd, Decision, Event, GENESIS, MARKER, Record, Sidecar, output_seen,
  parsed_records, record_line, records, run_end, sha256_hex,
};
pub use vocabulary::{Choice, RunResult, Status};

/// Outputs longer than this are cut in the Markdown and kept whole in a sidecar.
const INLINE_BYTES: usize = 8 * 1024;
const INLINE_LINES: usize = 200;
/// Room for `end: 2026-11-23T09:00:01.123Z # interrupted`.
const END_WIDTH: usize = 48;
/// In unattended runs, how long a read-only step's result may wait in the
/// page cache before an fsync (see `Durability`).
const GROUP_COMMIT: Duration = Duration::from_millis(200);

/// When records are fsync'd. Written records always survive `kill -9`;
/// fsync is for power loss and kernel crashes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Durability {
  /// Every record at once: a person is answering, so it costs nothing.
  EveryRecord,
  /// Unattended runs: a mutating step's start (the intent) and result at
  /// once, like the run's first and last records; read-only records at
  /// most `GROUP_COMMIT` later, with the next record.
  GroupCommit,
}

/// A transcript file opened for writing and locked (flock) for as long as
/// it is held: a second run or resume of it is refused rather than running
/// steps twice. The kernel drops the lock when the process dies, `kill -9`
/// included.
pub struct Locked(nix::fcntl::Flock<File>);

impl Locked {
  /// Opens and locks an existing transcript; `WouldBlock` when a run or
  /// resume is writing it now.
  pub fn open(path: &Path) -> io::Result<Self> {
    let file = OpenOptions::new().read(true).write(true).open(path)?;
    Self::lock(file)
  }

  fn lock(file: File) -> io::Result<Self> {
    nix::fcntl::Flock::lock(file, nix::fcntl::FlockArg::LockExclusiveNonblock)
      .map(Self)
      .map_err(|(_, errno)| match errno {
        nix::errno::Errno::EWOULDBLOCK => io::Error::new(
          io::ErrorKind::WouldBlock,
          "another litops is writing it now (a run or a resume in progress)",
        ),
        other => io::Error::from(other),
      })
  }
}

pub struct Transcript {
  file: Locked,
  pub path: PathBuf,
  prev: String,
  seq: u64,
  /// Where the `end:` line of the front matter sits, rewritten in place
  /// (same length) when the run finishes.
  end_offset: u64,
  durability: Durability,
  /// Whether the step in flight can change anything.
  mutating: bool,
  last_sync: std::time::Instant,
  /// Every record and sidecar is masked with it before it is written.
  mask: Redactor,
}

impl Transcript {
  /// Starts the transcript at `path`, keeping a copy of the runbook as run
  /// beside it (`<name>.d/runbook.md`), so `verify` can show what changed.
  pub fn create(
    path: &Path,
    start: Event,
    runbook: &str,
    durability: Durability,
    mask: &Redactor,
  ) -> io::Result<Self> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
      fs::create_dir_all(dir)?;
    }
    let mut file = Locked::lock(OpenOptions::new().write(true).create_new(true).open(path)?)?;
    let dir = sidecar_dir(path);
    fs::create_dir_all(&dir)?;
    let mut copy = File::create(dir.join(RUNBOOK_COPY))?;
    copy.write_all(mask.text(runbook).as_bytes())?;
    copy.sync_all()?;
    let start = start.masked(mask);
    let front = front_matter(&start, None);
    let end_offset = front.find("\nend: ").map_or(0, |i| i + 1) as u64;
    file.0.write_all(front.as_bytes())?;
    file.0.sync_all()?;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
      // The file's directory entry must survive a crash too.
      File::open(dir)?.sync_all()?;
    }
    let mut transcript = Self {
      file,
      path: path.to_path_buf(),
      prev: GENESIS.to_string(),
      seq: 0,
      end_offset,
      durability,
      mutating: false,
      last_sync: std::time::Instant::now(),
      mask: mask.clone(),
    };
    transcript.append(start)?;
    Ok(transcript)
  }

  /// Opens an existing transcript to continue its chain (`litops resume`);
  /// returns it with the records it holds.
  pub fn reopen(
    path: &Path,
    mut file: Locked,
    durability: Durability,
    mask: &Redactor,
  ) -> io::Result<(Self, Vec<Record>)> {
    let mut text = String::new();
    file.0.seek(SeekFrom::Start(0))?;
    io::Read::read_to_string(&mut *file.0, &mut text)?;
    let records = records(&text);
    let prev = text
      .lines()
      .rev()
      .find_map(record_line)
      .map_or_else(|| GENESIS.to_string(), |(hash, _)| hash.to_string());
    let end_offset = text.find("\nend: ").map_or(0, |i| i + 1) as u64;
    // Not O_APPEND: on Linux that would also move the in-place `end:` rewrite.
    file.0.seek(SeekFrom::End(0))?;
    let transcript = Self {
      file,
      path: path.to_path_buf(),
      prev,
      seq: records.len() as u64,
      end_offset,
      durability,
      mutating: false,
      last_sync: std::time::Instant::now(),
      mask: mask.clone(),
    };
    Ok((transcript, records))
  }

  /// Masks one more secret in every record and sidecar written from now on.
  pub fn mask_also(&mut self, name: &str, value: &str) {
    self.mask.add(name, value);
  }

  pub fn append(&mut self, event: Event) -> io::Result<()> {
    self.seq += 1;
    let record = Record {
      seq: self.seq,
      prev: std::mem::take(&mut self.prev),
      event: event.masked(&self.mask).bounded(),
    };
    let (line, hash) = record.seal().map_err(io::Error::other)?;
    let mut chunk = markdown::render(&record.event);
    chunk.push_str(&line);
    chunk.push('\n');
    self.file.0.write_all(chunk.as_bytes())?;
    let at_once = match &record.event {
      Event::StepStarted { mutating, .. } => {
        self.mutating = *mutating;
        *mutating
      }
      Event::StepFinished { .. } => self.mutating,
      Event::RunStarted { .. }
      | Event::RunResumed { .. }
      | Event::RunFinished { .. }
      | Event::AfterFailure { .. }
      | Event::Approved { .. }
      | Event::BreakGlass { .. }
      | Event::Signed { .. } => true,
    };
    if self.durability == Durability::EveryRecord
      || at_once
      || self.last_sync.elapsed() >= GROUP_COMMIT
    {
      self.file.0.sync_data()?;
      self.last_sync = std::time::Instant::now();
    }
    self.prev = hash;
    Ok(())
  }

  /// Appends the last record and fills in the front matter's `end` and `result`.
  pub fn finish(&mut self, event: Event) -> io::Result<()> {
    let line = end_line(Some(&event));
    self.append(event)?;
    if self.end_offset > 0 {
      self.file.0.write_all_at(line.as_bytes(), self.end_offset)?;
      self.file.0.sync_data()?;
    }
    Ok(())
  }

  /// Signs the hash of the last record (`run-finished`) and appends the
  /// signature as the final record.
  pub fn sign(&mut self, key: &ed25519_dalek::SigningKey) -> io::Result<()> {
    let signature = crate::signing::sign(key, &self.prev);
    self.append(Event::Signed {
      public_key: crate::signing::public_hex(&key.verifying_key()),
      signature,
    })
  }

  /// Masks a step's output and cuts its long string fields, keeping each
  /// whole in a sidecar file beside the transcript. Returns the sidecars
  /// written.
  pub fn cut_long_fields(&mut self, step: &str, output: &mut Value) -> io::Result<Vec<Sidecar>> {
    *output = self.mask.value(output);
    let mut sidecars = Vec::new();
    let Value::Object(fields) = output else {
      return Ok(sidecars);
    };
    for (name, value) in fields.iter_mut() {
      let Value::String(text) = value else { continue };
      if text.len() <= INLINE_BYTES && text.lines().count() <= INLINE_LINES {
        continue;
      }
      let dir = sidecar_dir(&self.path);
      let file_name = format!("{:03}-{}.{name}.txt", self.seq + 1, self.mask.text(step));
      let full = dir.join(&file_name);
      let mut side = File::create(&full)?;
      side.write_all(text.as_bytes())?;
      side.sync_all()?;
      let relative = format!(
        "{}/{file_name}",
        dir
          .file_name()
          .map_or_else(String::new, |d| d.to_string_lossy().into_owned())
      );
      sidecars.push(Sidecar {
        field: name.clone(),
        file: relative,
        sha256: sha256_hex(text.as_bytes()),
        bytes: text.len() as u64,
      });
      *text = cut(text);
    }
    Ok(sidecars)
  }
}

fn cut(text: &str) -> String {
  let mut end = 0;
  for (n, line) in text.split_inclusive('\n').enumerate() {
    if n == INLINE_LINES || end + line.len() > INLINE_BYTES {
      break;
    }
    end += line.len();
  }
  if end == 0 {
    end = text.floor_char_boundary(INLINE_BYTES);
  }
  format!(
    "{}\n… [cut: {} more bytes]\n",
    &text[..end],
    text.len() - end
  )
}

/// A new run's id: its start time, and 8 hex digits that tell apart runs
/// started in the same second.
pub fn run_id(started: crate::clock::Instant) -> String {
  let salt = format!("{}:{}", std::process::id(), started.nanos());
  format!(
    "{}-{}",
    started.compact(),
    &sha256_hex(salt.as_bytes())[..8]
  )
}

/// Where a run's transcript goes unless `--transcript` says:
/// `<dir or transcripts>/<runbook stem>/<run id>.md`.
pub fn default_path(runbook: &Path, dir: Option<&Path>, run_id: &str) -> PathBuf {
  let stem = runbook
    .file_stem()
    .map_or_else(|| "runbook".into(), |s| s.to_string_lossy().into_owned());
  dir
    .unwrap_or(Path::new("transcripts"))
    .join(stem)
    .join(format!("{run_id}.md"))
}

/// The runbook as it was run, beside the transcript.
pub const RUNBOOK_COPY: &str = "runbook.md";

/// Where a transcript's sidecars and runbook copy live: `x.md` → `x.d/`.
/// Whether a Markdown file's text is a transcript (a record of a run, not
/// a runbook): a directory's runbooks leave them out.
pub fn is_transcript(text: &str) -> bool {
  text.starts_with("---\nlitops_transcript:")
}

pub fn sidecar_dir(transcript: &Path) -> PathBuf {
  transcript.with_extension("d")
}

/// The front matter, from the first record and (once the run finished)
/// the last: `verify` rebuilds it the same way.
pub fn front_matter(start: &Event, end: Option<&Event>) -> String {
  let Event::RunStarted {
    run_id,
    runbook,
    runbook_sha256,
    title,
    litops_version,
    operator,
    params,
    started_at,
    aws,
    ..
  } = start
  else {
    return String::new();
  };
  let mut map = serde_yaml::Mapping::new();
  let mut put = |k: &str, v: serde_yaml::Value| {
    map.insert(k.into(), v);
  };
  put("litops_transcript", 1.into());
  put("run_id", run_id.as_str().into());
  put("runbook", runbook.as_str().into());
  put("runbook_sha256", runbook_sha256.as_str().into());
  put("title", title.as_str().into());
  put("litops_version", litops_version.as_str().into());
  put("operator", operator.as_str().into());
  let mut p = serde_yaml::Mapping::new();
  for (k, v) in params {
    p.insert(k.as_str().into(), v.as_str().into());
  }
  put("params", p.into());
  if let Some(aws) = aws {
    put("aws_account", aws.account.as_str().into());
    put("aws_region", aws.region.as_str().into());
  }
  put("start", started_at.as_str().into());
  let yaml = serde_yaml::to_string(&map).unwrap_or_default();
  // `end` is last and padded so finishing can rewrite it in place.
  format!("---\n{yaml}{}\n---\n\n", end_line(end))
}

/// The front matter's `end:` line, padded to a fixed width: `~` until the
/// run finishes, then its time and result.
fn end_line(end: Option<&Event>) -> String {
  let line = match end {
    Some(Event::RunFinished {
      result,
      finished_at,
      ..
    }) => format!("end: {finished_at} # {result}"),
    _ => String::new(),
  };
  let line = if line.is_empty() || line.len() > END_WIDTH {
    "end: ~".to_string()
  } else {
    line
  };
  format!("{line:END_WIDTH$}")
}

#[cfg(test)]
mod tests {
  use super::*;

  #[test]
  fn cut_keeps_whole_lines_and_says_how_much_is_missing() {
    let text = "line\n".repeat(300);
    let out = cut(&text);
    assert!(out.starts_with(&"line\n".repeat(200)));
    assert!(out.ends_with("… [cut: 500 more bytes]\n"), "{out}");
  }
}
