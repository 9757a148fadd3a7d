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
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use aws_sdk_s3::primitives::DateTime;
use aws_sdk_s3::types::ObjectLockMode;

use crate::aws::Aws;
use crate::clock;
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
  pub bucket: String,
  pub prefix: String,
  aws: Arc<Aws>,
}

const CALL: Duration = Duration::from_secs(120);
/// Attempts per file before the upload is reported as failed.
const ATTEMPTS: usize = 3;

impl Store {
  pub fn open(url: &str, aws: Arc<Aws>) -> Result<Self, String> {
    let rest = url
      .strip_prefix("s3://")
      .ok_or_else(|| format!("{url}: expected s3://bucket/prefix"))?;
    let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
    if bucket.is_empty() {
      return Err(format!("{url}: no bucket: expected s3://bucket/prefix"));
    }
    Ok(Self {
      bucket: bucket.to_string(),
      prefix: prefix.trim_matches('/').to_string(),
      aws,
    })
  }

  /// The object key of `name`.
  pub fn full_key(&self, name: &str) -> String {
    self.key(name)
  }

  /// Stores `bytes` as `name` under the bucket's default lock (a digest);
  /// the name it was stored under.
  pub fn put_new(&self, name: &str, bytes: &[u8]) -> Result<String, String> {
    let retention = Retention::default();
    let lock = self.lock(&retention)?;
    let until = clock::now().seconds() + i64::from(retention.days) * 86_400;
    self.put(name, bytes, lock.as_ref(), until, "digest")
  }

  fn key(&self, name: &str) -> String {
    if self.prefix.is_empty() {
      name.to_string()
    } else {
      format!("{}/{name}", self.prefix)
    }
  }

  fn block<F: std::future::Future>(&self, future: F) -> Result<F::Output, String> {
    self
      .aws
      .block_on(&AtomicBool::new(false), Some(CALL), future)
      .map_err(|_| "S3 did not answer in time".to_string())
  }

  /// The lock to put objects under: the retention asked for, or when none
  /// was, compliance if the bucket has Object Lock.
  fn lock(&self, retention: &Retention) -> Result<Option<ObjectLockMode>, String> {
    if let Some(mode) = &retention.mode {
      return Ok(mode.clone());
    }
    let client = self.aws.client(aws_sdk_s3::Client::new);
    let answer = self.block(
      client
        .get_object_lock_configuration()
        .bucket(&self.bucket)
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
    let lock = self.lock(retention)?;
    let until = clock::now().seconds() + i64::from(retention.days) * 86_400;
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
      let stored = self.put(name, &bytes, lock.as_ref(), until, result)?;
      if i == 0 {
        location = format!("s3://{}/{}", self.bucket, self.key(&stored));
      }
    }
    Ok(location)
  }

  /// Puts one file, retried; the name it was stored under. Something there
  /// already is left alone: the same bytes count as stored, other bytes
  /// (a resumed run's transcript) go beside it with the time in the name.
  fn put(
    &self,
    name: &str,
    bytes: &[u8],
    lock: Option<&ObjectLockMode>,
    until: i64,
    result: &str,
  ) -> Result<String, String> {
    let client = self.aws.client(aws_sdk_s3::Client::new);
    let mut last = String::new();
    let mut name = name.to_string();
    for _ in 0..ATTEMPTS {
      let request = client
        .put_object()
        .bucket(&self.bucket)
        .key(self.key(&name))
        .if_none_match("*")
        .metadata("litops-result", result)
        .set_object_lock_mode(lock.cloned())
        .set_object_lock_retain_until_date(lock.map(|_| DateTime::from_secs(until)))
        .body(bytes.to_vec().into())
        .send();
      match self.block(request) {
        Ok(Ok(_)) => return Ok(name),
        Ok(Err(e)) if e.raw_response().is_some_and(|r| r.status().as_u16() == 412) => {
          if self.get(&name).is_ok_and(|there| there == bytes) {
            return Ok(name);
          }
          name = format!("{name}.{}", clock::now().compact());
        }
        Ok(Err(e)) => last = crate::aws::explain("s3:PutObject", &e),
        Err(e) => last = e,
      }
    }
    Err(format!("{}: {last}", self.key(&name)))
  }

  pub fn get(&self, name: &str) -> Result<Vec<u8>, String> {
    let client = self.aws.client(aws_sdk_s3::Client::new);
    let answer = self
      .block(
        client
          .get_object()
          .bucket(&self.bucket)
          .key(self.key(name))
          .send(),
      )?
      .map_err(|e| crate::aws::explain("s3:GetObject", &e))?;
    let body = self
      .block(answer.body.collect())?
      .map_err(|e| format!("s3:GetObject: {e}"))?;
    Ok(body.into_bytes().to_vec())
  }

  /// Every key under `under` (relative to the store's prefix).
  pub fn keys(&self, under: &str) -> Result<Vec<String>, String> {
    let client = self.aws.client(aws_sdk_s3::Client::new);
    let pages = self
      .block(
        client
          .list_objects_v2()
          .bucket(&self.bucket)
          .prefix(self.key(under))
          .into_paginator()
          .send()
          .try_collect(),
      )?
      .map_err(|e| crate::aws::explain("s3:ListObjectsV2", &e))?;
    let cut = if self.prefix.is_empty() {
      0
    } else {
      self.prefix.len() + 1
    };
    Ok(
      pages
        .iter()
        .flat_map(|p| p.contents())
        .filter_map(|o| o.key().and_then(|k| k.get(cut..)).map(str::to_string))
        .collect(),
    )
  }

  /// Copies every object under `under` into `dir`, keeping their names.
  pub fn fetch(&self, under: &str, dir: &Path) -> Result<usize, String> {
    let keys = self.keys(under)?;
    for key in &keys {
      let path = dir.join(key);
      if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|e| e.to_string())?;
      }
      std::fs::write(&path, self.get(key)?).map_err(|e| e.to_string())?;
    }
    Ok(keys.len())
  }
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
  let store = Store::open(url, aws)?;
  let (parent, file) = store
    .prefix
    .rsplit_once('/')
    .unwrap_or(("", store.prefix.as_str()));
  let folder = Store {
    bucket: store.bucket.clone(),
    prefix: parent.to_string(),
    aws: store.aws.clone(),
  };
  let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
  let path = dir.path().join(file);
  std::fs::write(&path, folder.get(file)?).map_err(|e| e.to_string())?;
  Ok((dir, path))
}

/// A local copy of an `s3://` location: a transcript (`…/x.md`, with its
/// sidecars) or a whole prefix (for `log`). The directory lives as long as
/// the returned guard; the path is the transcript (or the directory).
pub fn local(url: &str, aws: Arc<Aws>) -> Result<(tempfile::TempDir, PathBuf), String> {
  let store = Store::open(url, aws)?;
  let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
  if store.prefix.ends_with(".md") {
    let (parent, file) = store
      .prefix
      .rsplit_once('/')
      .unwrap_or(("", store.prefix.as_str()));
    let folder = Store {
      bucket: store.bucket.clone(),
      prefix: parent.to_string(),
      aws: store.aws.clone(),
    };
    let stem = file.trim_end_matches(".md");
    folder.fetch(file, dir.path())?;
    folder.fetch(&format!("{stem}.d/"), dir.path())?;
    let path = dir.path().join(file);
    if !path.exists() {
      return Err(format!("{url}: no such transcript"));
    }
    return Ok((dir, path));
  }
  if store.fetch("", dir.path())? == 0 {
    return Err(format!("{url}: nothing stored there"));
  }
  let path = dir.path().to_path_buf();
  Ok((dir, path))
}
