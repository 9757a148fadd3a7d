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

use crate::aws::Aws;

pub enum Store {
  Dir(PathBuf),
  S3 {
    bucket: String,
    /// Without a trailing `/`; empty for the bucket's root.
    prefix: String,
    aws: Arc<Aws>,
  },
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
    let Some(rest) = location.strip_prefix("s3://") else {
      return Ok(Self::Dir(PathBuf::from(location)));
    };
    let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
    if bucket.is_empty() {
      return Err(format!(
        "{location}: no bucket: expected s3://bucket/prefix"
      ));
    }
    Ok(Self::S3 {
      bucket: bucket.to_string(),
      prefix: prefix.trim_end_matches('/').to_string(),
      aws: aws()?,
    })
  }

  /// A file's location, to show and to pass to `litops approve`.
  pub fn show(&self, name: &str) -> String {
    match self {
      Self::Dir(dir) => dir.join(name).display().to_string(),
      Self::S3 { bucket, prefix, .. } => format!("s3://{bucket}/{}", key(prefix, name)),
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
      Self::S3 {
        bucket,
        prefix,
        aws,
      } => {
        let client = aws.client(aws_sdk_s3::Client::new);
        let request = client
          .put_object()
          .bucket(bucket)
          .key(key(prefix, name))
          .if_none_match("*")
          .content_type("application/json")
          .body(bytes.to_vec().into())
          .send();
        match block(aws, request).map_err(Put::Failed)? {
          Ok(_) => Ok(()),
          Err(e) if e.raw_response().is_some_and(|r| r.status().as_u16() == 412) => {
            Err(Put::Exists)
          }
          Err(e) => Err(Put::Failed(crate::aws::explain("s3:PutObject", &e))),
        }
      }
    }
  }

  pub fn get(&self, name: &str) -> Result<Vec<u8>, String> {
    match self {
      Self::Dir(dir) => {
        let path = dir.join(name);
        std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))
      }
      Self::S3 {
        bucket,
        prefix,
        aws,
      } => {
        let client = aws.client(aws_sdk_s3::Client::new);
        let answer = block(
          aws,
          client
            .get_object()
            .bucket(bucket)
            .key(key(prefix, name))
            .send(),
        )?
        .map_err(|e| crate::aws::explain("s3:GetObject", &e))?;
        let body = aws
          .block_on(&AtomicBool::new(false), Some(CALL), answer.body.collect())
          .map_err(|_| "s3:GetObject: the body did not arrive in time".to_string())?
          .map_err(|e| format!("s3:GetObject: {e}"))?;
        Ok(body.into_bytes().to_vec())
      }
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
      Self::S3 {
        bucket,
        prefix,
        aws,
      } => {
        let client = aws.client(aws_sdk_s3::Client::new);
        let listing = client
          .list_objects_v2()
          .bucket(bucket)
          .prefix(key(prefix, start))
          .into_paginator()
          .send()
          .try_collect();
        let cut = if prefix.is_empty() {
          0
        } else {
          prefix.len() + 1
        };
        match block(aws, listing) {
          Ok(Ok(pages)) => pages
            .iter()
            .flat_map(|page| page.contents())
            .filter_map(|o| o.key().and_then(|k| k.get(cut..)).map(str::to_string))
            .collect(),
          _ => Vec::new(),
        }
      }
    };
    names.sort();
    names
  }
}

fn key(prefix: &str, name: &str) -> String {
  if prefix.is_empty() {
    name.to_string()
  } else {
    format!("{prefix}/{name}")
  }
}

/// One S3 call under its bound.
fn block<F: std::future::Future>(aws: &Aws, future: F) -> Result<F::Output, String> {
  aws
    .block_on(&AtomicBool::new(false), Some(CALL), future)
    .map_err(|_| "S3 did not answer in time".to_string())
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
