//! An anchor outside each transcript: `litops digest s3://bucket/prefix
//! --key ops.key` writes a signed digest of every transcript stored since
//! the previous digest (each one's final record hash), chained to the
//! previous digest's signature, as CloudTrail's digest files chain. A
//! period with no runs still gets a digest, so a gap shows. `litops verify
//! s3://bucket/prefix --digests` then finds a transcript deleted, replaced
//! or added after the fact, signed or not.

use std::collections::HashMap;

use ed25519_dalek::SigningKey;
use serde_json::{Value, json};

use crate::clock;
use crate::evidence::Store;
use crate::transcript::MARKER;

/// Where digests live under the store's prefix.
const DIR: &str = "_digests/";

/// A stored transcript: not a sidecar, not a digest.
fn is_transcript(key: &str) -> bool {
  let name = key.rsplit('/').next().unwrap_or(key);
  !key.starts_with(DIR)
    && !key.split('/').any(|part| part.ends_with(".d"))
    && (name.ends_with(".md") || name.contains(".md."))
}

/// A transcript's last record hash and its number of records.
fn seal(text: &str) -> Option<(String, usize)> {
  let hashes: Vec<&str> = text
    .lines()
    .filter_map(|l| l.strip_prefix(MARKER))
    .filter_map(|l| l.split(' ').next())
    .collect();
  hashes.last().map(|h| (h.to_string(), hashes.len()))
}

/// The digests stored so far, oldest first: (key, JSON).
fn digests(store: &Store) -> Result<Vec<(String, Value)>, String> {
  let mut keys = store.keys(DIR)?;
  keys.sort();
  keys
    .into_iter()
    .map(|key| {
      let bytes = store.get(&key)?;
      let value = serde_json::from_slice(&bytes).map_err(|e| format!("{key}: {e}"))?;
      Ok((key, value))
    })
    .collect()
}

/// The text a digest's signature covers: the digest without it.
fn signed_text(digest: &Value) -> String {
  let mut unsigned = digest.clone();
  if let Some(map) = unsigned.as_object_mut() {
    map.remove("signature");
  }
  unsigned.to_string()
}

/// Writes the next digest; its location and how many transcripts it covers.
pub fn write(store: &Store, key: &SigningKey) -> Result<(String, usize), String> {
  let earlier = digests(store)?;
  let covered: Vec<String> = earlier
    .iter()
    .flat_map(|(_, d)| d["transcripts"].as_array().cloned().unwrap_or_default())
    .filter_map(|t| t["key"].as_str().map(str::to_string))
    .collect();
  let mut transcripts = Vec::new();
  let mut keys = store.keys("")?;
  keys.sort();
  for name in keys.into_iter().filter(|k| is_transcript(k)) {
    if covered.contains(&name) {
      continue;
    }
    let bytes = store.get(&name)?;
    let Some((last, records)) = seal(&String::from_utf8_lossy(&bytes)) else {
      continue;
    };
    transcripts.push(json!({
      "key": name,
      "last_sha256": last,
      "records": records,
      // The whole file: an edit that keeps the record hashes shows too.
      "sha256": crate::transcript::sha256_hex(&bytes),
    }));
  }
  let now = clock::now();
  let previous = earlier.last().map(
    |(key, d)| json!({"key": key, "created_at": d["created_at"], "signature": d["signature"]}),
  );
  let count = transcripts.len();
  let mut digest = json!({
    "litops_digest": 1,
    "created_at": now.rfc3339(),
    "previous": previous,
    "transcripts": transcripts,
    "public_key": crate::signing::public_hex(&key.verifying_key()),
  });
  let signature = crate::signing::sign(key, &signed_text(&digest));
  digest["signature"] = Value::String(signature);
  let name = format!("{DIR}{}.json", now.compact());
  let bytes = serde_json::to_vec_pretty(&digest).map_err(|e| e.to_string())?;
  let stored = store.put_new(&name, &bytes)?;
  Ok((store.s3.show(&stored), count))
}

/// What `verify --digests` found.
pub struct Checked {
  pub digests: usize,
  pub transcripts: usize,
  /// Transcripts stored after the last digest: not yet anchored.
  pub uncovered: Vec<String>,
  pub problems: Vec<String>,
}

/// Checks every digest's signature (by `trusted` when given) and chain,
/// and every stored transcript against them.
pub fn check(store: &Store, trusted: Option<&str>) -> Result<Checked, String> {
  let all = digests(store)?;
  let mut problems = Vec::new();
  let mut listed: HashMap<String, (Value, String)> = HashMap::new();
  let mut before: Option<&(String, Value)> = None;
  for entry in &all {
    let (key, digest) = entry;
    let public = digest["public_key"].as_str().unwrap_or_default();
    let signature = digest["signature"].as_str().unwrap_or_default();
    if trusted.is_some_and(|t| t != public) {
      problems.push(format!("{key}: signed by another key than the one given"));
    }
    if !crate::signing::valid(public, &signed_text(digest), signature) {
      problems.push(format!(
        "{key}: its signature does not match it: it was edited"
      ));
    }
    let chained = match (before, digest["previous"].as_object()) {
      (None, None) => true,
      (Some((prev_key, prev)), Some(link)) => {
        link.get("key").and_then(Value::as_str) == Some(prev_key)
          && link.get("signature") == prev.get("signature")
      }
      _ => false,
    };
    if !chained {
      problems.push(format!(
        "{key}: does not follow the digest before it: a digest was removed, replaced or inserted"
      ));
    }
    for t in digest["transcripts"].as_array().into_iter().flatten() {
      if let Some(name) = t["key"].as_str() {
        listed.insert(name.to_string(), (t.clone(), key.clone()));
      }
    }
    before = Some(entry);
  }
  let last_at = all
    .last()
    .and_then(|(_, d)| d["created_at"].as_str())
    .and_then(clock::Instant::parse);
  let mut keys = store.keys("")?;
  keys.sort();
  let stored: Vec<String> = keys.into_iter().filter(|k| is_transcript(k)).collect();
  let mut names: Vec<&String> = listed.keys().collect();
  names.sort();
  for name in names {
    let (entry, digest) = &listed[name];
    if !stored.contains(name) {
      problems.push(format!(
        "{name}: listed in {digest} and no longer stored: it was deleted"
      ));
      continue;
    }
    let bytes = store.get(name)?;
    let sealed = seal(&String::from_utf8_lossy(&bytes)).map(|(h, _)| h);
    if sealed.as_deref() != entry["last_sha256"].as_str()
      || Some(crate::transcript::sha256_hex(&bytes).as_str()) != entry["sha256"].as_str()
    {
      problems.push(format!(
        "{name}: not the transcript {digest} lists: it was replaced"
      ));
    }
  }
  let mut uncovered = Vec::new();
  for name in stored.iter().filter(|n| !listed.contains_key(*n)) {
    // A run that started before the last digest was made, yet is in no
    // digest, was put there after the fact.
    let text = String::from_utf8_lossy(&store.get(name)?).into_owned();
    let started = crate::transcript::records(&text)
      .first()
      .and_then(|r| match &r.event {
        crate::transcript::Event::RunStarted { started_at, .. } => {
          clock::Instant::parse(started_at)
        }
        _ => None,
      });
    match (started, last_at) {
      (Some(started), Some(last)) if started.nanos() < last.nanos() => problems.push(format!(
        "{name}: started before the last digest but is in none: it was added after the fact"
      )),
      _ => uncovered.push(name.clone()),
    }
  }
  Ok(Checked {
    digests: all.len(),
    transcripts: listed.len(),
    uncovered,
    problems,
  })
}
