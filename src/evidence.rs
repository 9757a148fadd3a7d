//! `--store s3://bucket/prefix`: where a run's evidence is kept beyond the
//! machine that ran it, and where nobody can edit or delete it. The
//! finished transcript, its sidecars and the runbook copy are put under
//! `prefix/<runbook>/<run id>[-<target>]/`, each with `If-None-Match: *`
//! (never over anything) and, on a bucket with Object Lock, a retention
//! (compliance mode unless told otherwise). The local transcript stays the
//! write-ahead copy: an upload that fails is retried and reported, and the
//! local file is never touched.
//!
//! `verify`, `render`, `diff` and `log` read `s3://` locations by fetching
//! them into a temporary directory first.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use aws_sdk_s3::types::ObjectLockMode;

use crate::aws::Aws;
use crate::clock;
use crate::store::{Extra, Put, S3};
use crate::transcript::sidecar_dir;

/// How long stored evidence is locked, and how.
#[derive(Clone, Debug, PartialEq)]
pub struct Retention {
  /// `None`: no lock; absent: compliance when the bucket has Object Lock.
  pub mode: Option<Option<ObjectLockMode>>,
  pub days: u32,
}

impl Default for Retention {
  fn default() -> Self {
    Self {
      mode: None,
      days: 365,
    }
  }
}

/// `compliance`, `governance` or `none`.
pub fn parse_mode(text: &str) -> Result<Option<ObjectLockMode>, String> {
  match text {
    "compliance" => Ok(Some(ObjectLockMode::Compliance)),
    "governance" => Ok(Some(ObjectLockMode::Governance)),
    "none" => Ok(None),
    other => Err(format!(
      "--store-retention {other}: expected compliance, governance or none"
    )),
  }
}

/// An `s3://bucket/prefix` evidence store.
pub struct Store {
  pub s3: S3,
}

/// Attempts per file before the upload is reported as failed.
const ATTEMPTS: usize = 3;

impl Store {
  pub fn open(url: &str, aws: Arc<Aws>) -> Result<Self, String> {
    S3::open(url, aws).map(|s3| Self { s3 })
  }

  /// The lock to put objects under: the retention asked for, or when none
  /// was, compliance if the bucket has Object Lock.
  fn lock(&self, retention: &Retention) -> Result<Option<ObjectLockMode>, String> {
    if let Some(mode) = &retention.mode {
      return Ok(mode.clone());
    }
    let answer = self.s3.block(
      self
        .s3
        .aws
        .client(aws_sdk_s3::Client::new)
        .get_object_lock_configuration()
        .bucket(&self.s3.bucket)
        .send(),
    )?;
    Ok(match answer {
      Ok(config) => config
        .object_lock_configuration()
        .and_then(|c| c.object_lock_enabled())
        .is_some_and(|e| e.as_str() == "Enabled")
        .then_some(ObjectLockMode::Compliance),
      // No Object Lock configuration on the bucket: nothing to lock with.
      Err(_) => None,
    })
  }

  /// Keeps the run whose transcript is `transcript` (of `runbook`), with
  /// its sidecars; its stored location.
  pub fn keep(
    &self,
    transcript: &Path,
    runbook: &str,
    result: &str,
    retention: &Retention,
  ) -> Result<String, String> {
    let stem = transcript
      .file_stem()
      .and_then(|s| s.to_str())
      .unwrap_or("run");
    let book = Path::new(runbook)
      .file_stem()
      .and_then(|s| s.to_str())
      .unwrap_or("runbook");
    let base = format!("{book}/{stem}");
    let mut files = vec![(transcript.to_path_buf(), format!("{base}/{stem}.md"))];
    let sidecars = sidecar_dir(transcript);
    collect(
      &sidecars,
      &sidecars,
      &format!("{base}/{stem}.d"),
      &mut files,
    );
    let mut location = String::new();
    for (i, (path, name)) in files.iter().enumerate() {
      let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
      let stored = self.put(name, &bytes, retention, result)?;
      if i == 0 {
        location = self.s3.show(&stored);
      }
    }
    Ok(location)
  }

  /// Stores `bytes` as `name` under the bucket's default lock (a digest);
  /// the name it was stored under.
  pub fn put_new(&self, name: &str, bytes: &[u8]) -> Result<String, String> {
    self.put(name, bytes, &Retention::default(), "digest")
  }

  /// Puts one file, locked as `retention` says, retried; the name it was
  /// stored under. Something there already is left alone: the same bytes
  /// count as stored, other bytes (a resumed run's transcript) go beside it
  /// with the time in the name.
  fn put(
    &self,
    name: &str,
    bytes: &[u8],
    retention: &Retention,
    result: &str,
  ) -> Result<String, String> {
    let mode = self.lock(retention)?;
    let until = clock::now().seconds() + i64::from(retention.days) * 86_400;
    let extra = Extra {
      lock: mode.as_ref().map(|m| (m, until)),
      metadata: &[("litops-result", result)],
    };
    let mut last = String::new();
    let mut name = name.to_string();
    for _ in 0..ATTEMPTS {
      match self.s3.put(&name, bytes, &extra) {
        Ok(()) => return Ok(name),
        Err(Put::Exists) => {
          if self.s3.get(&name).is_ok_and(|there| there == bytes) {
            return Ok(name);
          }
          name = format!("{name}.{}", clock::now().compact());
        }
        Err(Put::Failed(e)) => last = e,
      }
    }
    Err(format!("{}: {last}", self.s3.key(&name)))
  }

  pub fn get(&self, name: &str) -> Result<Vec<u8>, String> {
    self.s3.get(name)
  }

  /// The newest run stored before `local`'s, of the same runbook and
  /// target: a local copy (with the directory holding it) and where it is
  /// kept. `local` is `…/<runbook>/<run>.md`, as `keep` names it.
  pub fn previous(
    &self,
    local: &Path,
    target: Option<&str>,
  ) -> Result<Option<(tempfile::TempDir, PathBuf, String)>, String> {
    let book = local
      .parent()
      .and_then(|p| p.file_name())
      .and_then(|n| n.to_str())
      .unwrap_or("runbook");
    let mine = local
      .file_stem()
      .and_then(|s| s.to_str())
      .unwrap_or_default();
    // Names start with the second a run started: newest first, and among
    // runs of the same second the one that started before this one.
    let second = |stem: &str| stem.get(..16).unwrap_or(stem).to_string();
    let mut candidates: Vec<String> = self
      .keys(&format!("{book}/"))?
      .into_iter()
      .filter(|key| key.ends_with(".md") && !key.contains(".d/"))
      .filter(|key| {
        let stem = key
          .rsplit('/')
          .next()
          .unwrap_or(key)
          .trim_end_matches(".md");
        stem != mine && second(stem) <= second(mine) && crate::tell::same_target(stem, target)
      })
      .collect();
    candidates.sort_by(|a, b| b.cmp(a));
    let started = |path: &Path| {
      std::fs::read_to_string(path)
        .ok()
        .and_then(|text| crate::history::started_at(&text))
    };
    let Some(mine_started) = started(local) else {
      return Ok(None);
    };
    for key in candidates {
      let location = self.s3.show(&key);
      let (dir, path) = self::local(&location, self.s3.aws.clone())?;
      if started(&path).is_some_and(|at| at < mine_started) {
        return Ok(Some((dir, path, location)));
      }
    }
    Ok(None)
  }

  pub fn keys(&self, under: &str) -> Result<Vec<String>, String> {
    self.s3.keys(under)
  }
}

/// Copies every object under `under` of `s3` into `dir`, keeping their
/// names; how many.
fn fetch(s3: &S3, under: &str, dir: &Path) -> Result<usize, String> {
  let keys = s3.keys(under)?;
  for key in &keys {
    let path = dir.join(key);
    if let Some(parent) = path.parent() {
      std::fs::create_dir_all(parent).map_err(|e| e.to_string())?;
    }
    std::fs::write(&path, s3.get(key)?).map_err(|e| e.to_string())?;
  }
  Ok(keys.len())
}

/// Every file under `dir`, named `base/<path below root>`.
fn collect(root: &Path, dir: &Path, base: &str, out: &mut Vec<(PathBuf, String)>) {
  let Ok(entries) = std::fs::read_dir(dir) else {
    return;
  };
  let mut entries: Vec<_> = entries.flatten().collect();
  entries.sort_by_key(std::fs::DirEntry::path);
  for entry in entries {
    let path = entry.path();
    if path.is_dir() {
      collect(root, &path, base, out);
    } else if let Ok(rel) = path.strip_prefix(root) {
      out.push((path.clone(), format!("{base}/{}", rel.display())));
    }
  }
}

/// A local copy of one object (a targets file kept beside the evidence).
pub fn local_file(url: &str, aws: Arc<Aws>) -> Result<(tempfile::TempDir, PathBuf), String> {
  let (parent, file) = split(&S3::open(url, aws)?);
  let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
  let path = dir.path().join(&file);
  std::fs::write(&path, parent.get(&file)?).map_err(|e| e.to_string())?;
  Ok((dir, path))
}

/// `s3://b/p/x.md` as the folder `s3://b/p` and the name `x.md`.
fn split(s3: &S3) -> (S3, String) {
  let (parent, file) = s3.prefix.rsplit_once('/').unwrap_or(("", &s3.prefix));
  let folder = S3 {
    bucket: s3.bucket.clone(),
    prefix: parent.to_string(),
    aws: s3.aws.clone(),
  };
  (folder, file.to_string())
}

/// A local copy of an `s3://` location: a transcript (`…/x.md`, with its
/// sidecars) or a whole prefix (for `log`). The directory lives as long as
/// the returned guard; the path is the transcript (or the directory).
pub fn local(url: &str, aws: Arc<Aws>) -> Result<(tempfile::TempDir, PathBuf), String> {
  let s3 = S3::open(url, aws)?;
  let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
  if s3.prefix.ends_with(".md") {
    let (folder, file) = split(&s3);
    let stem = file.trim_end_matches(".md");
    fetch(&folder, &file, dir.path())?;
    fetch(&folder, &format!("{stem}.d/"), dir.path())?;
    let path = dir.path().join(&file);
    if !path.exists() {
      return Err(format!("{url}: no such transcript"));
    }
    return Ok((dir, path));
  }
  if fetch(&s3, "", dir.path())? == 0 {
    return Err(format!("{url}: nothing stored there"));
  }
  let path = dir.path().to_path_buf();
  Ok((dir, path))
}
