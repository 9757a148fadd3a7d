//! Where files are kept beyond one machine: a shared directory, or an S3
//! prefix (`s3://bucket/prefix`, through the SDK). Approval requests and
//! approvals live there, and `--store` keeps transcripts there under Object
//! Lock. Either way a file is written whole and never overwritten: a
//! directory links a finished file into place, S3 puts with
//! `If-None-Match: *`.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use aws_sdk_s3::types::ObjectLockMode;

use crate::aws::Aws;

pub enum Store {
  Dir(PathBuf),
  S3(S3),
}

/// An S3 bucket and a prefix in it, through the SDK.
pub struct S3 {
  pub bucket: String,
  /// Without a leading or trailing `/`; empty for the bucket's root.
  pub prefix: String,
  pub aws: Arc<Aws>,
}

/// What a put asks beyond never overwriting.
#[derive(Default)]
pub struct Extra<'a> {
  /// An Object Lock mode and the time (epoch seconds) it holds until.
  pub lock: Option<(&'a ObjectLockMode, i64)>,
  pub metadata: &'a [(&'a str, &'a str)],
}

/// Why a write did not happen.
pub enum Put {
  /// Something is there already: nothing was overwritten.
  Exists,
  Failed(String),
}

impl std::fmt::Display for Put {
  fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
    match self {
      Self::Exists => {
        f.write_str("something is stored under that name already; nothing was overwritten")
      }
      Self::Failed(e) => f.write_str(e),
    }
  }
}

/// Each S3 call's bound.
const CALL: Duration = Duration::from_secs(60);

impl Store {
  /// `location` as a store: an `s3://` URL (connecting through `aws`) or a
  /// directory.
  pub fn at(
    location: &str,
    aws: impl FnOnce() -> Result<Arc<Aws>, String>,
  ) -> Result<Self, String> {
    if location.starts_with("s3://") {
      return S3::open(location, aws()?).map(Self::S3);
    }
    Ok(Self::Dir(PathBuf::from(location)))
  }

  /// A file's location, to show and to pass to `litops approve`.
  pub fn show(&self, name: &str) -> String {
    match self {
      Self::Dir(dir) => dir.join(name).display().to_string(),
      Self::S3(s3) => s3.show(name),
    }
  }

  pub fn put_new(&self, name: &str, bytes: &[u8]) -> Result<(), Put> {
    match self {
      Self::Dir(dir) => {
        std::fs::create_dir_all(dir).map_err(|e| Put::Failed(e.to_string()))?;
        write_whole(&dir.join(name), bytes).map_err(|e| {
          if e.kind() == std::io::ErrorKind::AlreadyExists {
            Put::Exists
          } else {
            Put::Failed(e.to_string())
          }
        })
      }
      Self::S3(s3) => s3.put(name, bytes, &Extra::default()),
    }
  }

  pub fn get(&self, name: &str) -> Result<Vec<u8>, String> {
    match self {
      Self::Dir(dir) => {
        let path = dir.join(name);
        std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))
      }
      Self::S3(s3) => s3.get(name),
    }
  }

  /// The names in the store that start with `start`, sorted.
  pub fn list(&self, start: &str) -> Vec<String> {
    let mut names: Vec<String> = match self {
      Self::Dir(dir) => std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.file_name().to_str().map(str::to_string))
        .filter(|n| n.starts_with(start))
        .collect(),
      Self::S3(s3) => s3.keys(start).unwrap_or_default(),
    };
    names.sort();
    names
  }
}

impl S3 {
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
  pub fn key(&self, name: &str) -> String {
    if self.prefix.is_empty() {
      name.to_string()
    } else {
      format!("{}/{name}", self.prefix)
    }
  }

  pub fn show(&self, name: &str) -> String {
    format!("s3://{}/{}", self.bucket, self.key(name))
  }

  /// One S3 call under its bound.
  pub fn block<F: std::future::Future>(&self, future: F) -> Result<F::Output, String> {
    self
      .aws
      .block_on(&AtomicBool::new(false), Some(CALL), future)
      .map_err(|_| "S3 did not answer in time".to_string())
  }

  /// Puts `bytes` as `name` with `If-None-Match: *`.
  pub fn put(&self, name: &str, bytes: &[u8], extra: &Extra) -> Result<(), Put> {
    let mut request = self
      .aws
      .client(aws_sdk_s3::Client::new)
      .put_object()
      .bucket(&self.bucket)
      .key(self.key(name))
      .if_none_match("*")
      .set_object_lock_mode(extra.lock.map(|(mode, _)| mode.clone()))
      .set_object_lock_retain_until_date(
        extra
          .lock
          .map(|(_, until)| aws_sdk_s3::primitives::DateTime::from_secs(until)),
      )
      .body(bytes.to_vec().into());
    for (k, v) in extra.metadata {
      request = request.metadata(*k, *v);
    }
    match self.block(request.send()).map_err(Put::Failed)? {
      Ok(_) => Ok(()),
      Err(e) if e.raw_response().is_some_and(|r| r.status().as_u16() == 412) => Err(Put::Exists),
      Err(e) => Err(Put::Failed(crate::aws::explain("s3:PutObject", &e))),
    }
  }

  pub fn get(&self, name: &str) -> Result<Vec<u8>, String> {
    let answer = self
      .block(
        self
          .aws
          .client(aws_sdk_s3::Client::new)
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

  /// Every key under `start` (relative to the prefix).
  pub fn keys(&self, start: &str) -> Result<Vec<String>, String> {
    let pages = self
      .block(
        self
          .aws
          .client(aws_sdk_s3::Client::new)
          .list_objects_v2()
          .bucket(&self.bucket)
          .prefix(self.key(start))
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
        .flat_map(|page| page.contents())
        .filter_map(|o| o.key().and_then(|k| k.get(cut..)).map(str::to_string))
        .collect(),
    )
  }
}

/// Writes `bytes` to `path` only if nothing is there, and whole: under a
/// hidden name first, then linked into place (a link never overwrites), so
/// a walk polling the directory never reads half a file.
fn write_whole(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
  use std::io::Write as _;
  let name = path
    .file_name()
    .and_then(|n| n.to_str())
    .unwrap_or("approval");
  let hidden = path.with_file_name(format!(".{name}.{}.tmp", std::process::id()));
  let written = (|| {
    let mut file = std::fs::OpenOptions::new()
      .write(true)
      .create_new(true)
      .open(&hidden)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    std::fs::hard_link(&hidden, path)
  })();
  let _ = std::fs::remove_file(&hidden);
  written
}
