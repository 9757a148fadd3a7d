//! Separation of duties without a server: a step that changes something
//! waits for signed approvals by people other than the operator.
//!
//! The walk writes a *request* (the exact action as it will run, secrets
//! masked; the change preview; the step, run, runbook digest, account and
//! region; who asked; an expiry) into a shared directory. An approver runs
//! `litops approve REQUEST --key KEY`, sees all of it, and on yes writes an
//! *approval*: an ed25519 signature over the request's digest. The request's
//! digest is the SHA-256 of its canonical JSON (keys sorted), so a changed
//! action, parameter, account or region is a different request that needs
//! its own approvals. The transcript records the request and the approvals
//! inside the step's records; `verify --keyring` checks them again.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::clock::{self, Instant};
use crate::signing;
pub use crate::store::{Put, Store};

/// `approvals:` in the front matter.
#[derive(Debug, Clone, PartialEq)]
pub struct Policy {
  /// Approvals a mutating step needs unless it says `approvers=N`.
  pub mutating: usize,
  /// The keyring file, relative to the runbook.
  pub keyring: Option<PathBuf>,
  /// How long a request stays open.
  pub expires: Duration,
  /// Whether an approver may share the operator's OS account (a team's
  /// shared jump host); keys must differ either way.
  pub shared_os_identity: bool,
  /// An SNS topic told of every request, so approvers hear of it.
  pub notify: Option<String>,
}

impl Default for Policy {
  fn default() -> Self {
    Self {
      mutating: 1,
      keyring: None,
      expires: Duration::from_secs(30 * 60),
      shared_os_identity: false,
      notify: None,
    }
  }
}

/// The approvers: names and their ed25519 public keys (hex).
#[derive(Debug, Clone, Default)]
pub struct Keyring {
  pub path: PathBuf,
  pub members: Vec<(String, String)>,
}

#[derive(Debug)]
pub enum KeyringError {
  Io(PathBuf, std::io::Error),
  Format(PathBuf, String),
}

impl fmt::Display for KeyringError {
  fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
    match self {
      Self::Io(path, e) => write!(f, "keyring {}: {e}", path.display()),
      Self::Format(path, why) => write!(
        f,
        "keyring {}: {why}; expected `approvers:` mapping each name to a public key line \
         from `litops keygen` (`alice: litops-ed25519-public-key <64 hex>`)",
        path.display()
      ),
    }
  }
}

impl Keyring {
  pub fn load(path: &Path) -> Result<Self, KeyringError> {
    let text =
      std::fs::read_to_string(path).map_err(|e| KeyringError::Io(path.to_path_buf(), e))?;
    let bad = |why: String| KeyringError::Format(path.to_path_buf(), why);
    let value: serde_yaml::Value =
      serde_yaml::from_str(&text).map_err(|e| bad(format!("not YAML ({e})")))?;
    let Some(serde_yaml::Value::Mapping(approvers)) = value.get("approvers") else {
      return Err(bad("no `approvers:` mapping".into()));
    };
    let mut members: Vec<(String, String)> = Vec::new();
    for (name, key) in approvers {
      let (Some(name), Some(key)) = (name.as_str(), key.as_str()) else {
        return Err(bad("every approver is `name: key`".into()));
      };
      let public = signing::parse_public(key)
        .ok_or_else(|| bad(format!("`{name}`: not a litops public key")))?;
      if let Some((other, _)) = members.iter().find(|(_, k)| *k == public) {
        return Err(bad(format!("`{name}` and `{other}` have the same key")));
      }
      members.push((name.to_string(), public));
    }
    if members.is_empty() {
      return Err(bad("no approvers".into()));
    }
    Ok(Self {
      path: path.to_path_buf(),
      members,
    })
  }

  /// The name the keyring gives `public` (hex).
  pub fn name_of(&self, public: &str) -> Option<&str> {
    self
      .members
      .iter()
      .find(|(_, key)| key == public)
      .map(|(name, _)| name.as_str())
  }
}

/// What a request says; [`Parts::request`] adds when it was made, when it
/// expires and a nonce that makes it this moment's only.
pub struct Parts<'a> {
  pub run_id: &'a str,
  pub runbook: String,
  pub runbook_sha256: String,
  pub step: &'a str,
  pub kind: &'a str,
  /// The action exactly as it will run, secrets masked.
  pub action: String,
  /// The run's parameters, secrets masked (a shell step reads them from
  /// its environment, so they are part of what is approved).
  pub params: Vec<(String, String)>,
  pub preview: Option<String>,
  pub account: Option<String>,
  pub region: Option<String>,
  /// A fan-out's targets: each `{name, action, region, profile}`.
  pub targets: Vec<Value>,
  pub operator: &'a str,
  pub operator_key: Option<String>,
  pub required: usize,
  pub policy: &'a Policy,
}

impl Parts<'_> {
  pub fn request(self) -> Value {
    let now = clock::now();
    let expires = Instant::from_seconds(
      now.seconds() + i64::try_from(self.policy.expires.as_secs()).unwrap_or(i64::MAX / 4),
    )
    .unwrap_or(now);
    let mut nonce = [0u8; 16];
    // Without randomness the run id and the time still make it unique.
    let _ = getrandom::getrandom(&mut nonce);
    serde_json::json!({
      "litops_approval_request": 1,
      "run_id": self.run_id,
      "runbook": self.runbook,
      "runbook_sha256": self.runbook_sha256,
      "step": self.step,
      "kind": self.kind,
      "action": self.action,
      "params": self.params,
      "preview": self.preview,
      "account": self.account,
      "region": self.region,
      "targets": self.targets,
      "operator": self.operator,
      "operator_key": self.operator_key,
      "required": self.required,
      "shared_os_identity": self.policy.shared_os_identity,
      "requested_at": now.rfc3339(),
      "expires_at": expires.rfc3339(),
      "nonce": hex::encode(nonce),
    })
  }
}

/// Tells the approvers on `topic` (SNS) that `request`, stored at
/// `location`, waits for them.
pub fn announce(
  aws: &crate::aws::Aws,
  topic: &str,
  request: &Value,
  location: &str,
) -> Result<(), String> {
  let text = |key: &str| request[key].as_str().unwrap_or("-").to_string();
  let subject = format!("litops: approval needed for `{}`", text("step"));
  let message = format!(
    "{} asks for {} approval(s) of step `{}` of {} (run {}), until {}.\n\nSee it all and approve:\n  litops approve {location} --key KEY\n\nAction:\n{}\n",
    text("operator"),
    request["required"],
    text("step"),
    text("runbook"),
    text("run_id"),
    text("expires_at"),
    text("action")
  );
  let sns = aws.client(aws_sdk_sns::Client::new);
  let publish = sns
    .publish()
    .topic_arn(topic)
    .subject(subject.chars().take(100).collect::<String>())
    .message(message)
    .send();
  aws
    .block_on(
      &std::sync::atomic::AtomicBool::new(false),
      Some(Duration::from_secs(60)),
      publish,
    )
    .map_err(|_| "sns:Publish: no answer in time".to_string())?
    .map(|_| ())
    .map_err(|e| crate::aws::explain("sns:Publish", &e))
}

/// Whether `request` approves running `action` with `params` (both as
/// recorded, secrets masked): its own, or one of a fan-out's targets'.
pub fn covers(request: &Value, action: &str, params: &[(String, String)]) -> bool {
  let params = serde_json::json!(params);
  let same = |entry: &Value| entry["action"].as_str() == Some(action) && entry["params"] == params;
  same(request)
    || request["targets"]
      .as_array()
      .is_some_and(|targets| targets.iter().any(same))
}

/// A short, stable name for a public key: the first 16 hex digits of its
/// SHA-256.
pub fn fingerprint(public_hex: &str) -> String {
  let mut digest = crate::transcript::sha256_hex(public_hex.as_bytes());
  digest.truncate(16);
  digest
}

/// The digest a request is known by: the SHA-256 of its canonical JSON.
pub fn digest(request: &Value) -> String {
  // serde_json's map keeps keys sorted: one text for one request.
  crate::transcript::sha256_hex(request.to_string().as_bytes())
}

/// What an approval signs: the request's digest and the time of approval.
fn signed_text(request_digest: &str, approved_at: &str) -> String {
  format!("litops-approval v1 {request_digest} {approved_at}")
}

/// An approval as written beside its request.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Approval {
  pub request_sha256: String,
  pub approver: String,
  pub key: String,
  pub fingerprint: String,
  pub approved_at: String,
  /// `user@host` of whoever ran `litops approve`.
  pub os_identity: String,
  pub signature: String,
}

impl Approval {
  pub fn sign(
    request_digest: &str,
    approver: &str,
    key: &ed25519_dalek::SigningKey,
    os_identity: &str,
  ) -> Self {
    let public = signing::public_hex(&key.verifying_key());
    let approved_at = clock::now().rfc3339();
    Self {
      request_sha256: request_digest.to_string(),
      approver: approver.to_string(),
      fingerprint: fingerprint(&public),
      signature: signing::sign(key, &signed_text(request_digest, &approved_at)),
      key: public,
      approved_at,
      os_identity: os_identity.to_string(),
    }
  }
}

/// Why an approval does not count.
#[derive(Debug, PartialEq)]
pub enum Refusal {
  OtherRequest,
  NotInKeyring,
  BadSignature,
  AfterExpiry,
  OperatorKey,
  OperatorAccount,
  SameKeyTwice,
}

impl fmt::Display for Refusal {
  fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
    f.write_str(match self {
      Self::OtherRequest => {
        "it approves another request (a different action, step, run, account or region)"
      }
      Self::NotInKeyring => "its key is not in the keyring",
      Self::BadSignature => "its signature does not match the request",
      Self::AfterExpiry => "it was given after the request expired",
      Self::OperatorKey => "it is signed with the operator's own key",
      Self::OperatorAccount => "it was given from the operator's own OS account",
      Self::SameKeyTwice => "that key approved already",
    })
  }
}

/// The parts of a request the rules read.
pub struct Terms<'a> {
  pub digest: &'a str,
  pub operator: &'a str,
  pub operator_key: Option<&'a str>,
  pub expires_at: &'a str,
  pub shared_os_identity: bool,
}

impl<'a> Terms<'a> {
  pub fn of(request: &'a Value, digest: &'a str) -> Self {
    let text = |key: &str| request.get(key).and_then(Value::as_str);
    Self {
      digest,
      operator: text("operator").unwrap_or_default(),
      operator_key: text("operator_key"),
      expires_at: text("expires_at").unwrap_or_default(),
      shared_os_identity: request
        .get("shared_os_identity")
        .and_then(Value::as_bool)
        .unwrap_or(false),
    }
  }

  /// Whether `approval` counts towards this request, given the keys that
  /// counted already; the approver's keyring name if it does.
  pub fn judge<'k>(
    &self,
    approval: &Approval,
    keyring: &'k Keyring,
    counted: &[String],
  ) -> Result<&'k str, Refusal> {
    if approval.request_sha256 != self.digest {
      return Err(Refusal::OtherRequest);
    }
    let name = keyring
      .name_of(&approval.key)
      .ok_or(Refusal::NotInKeyring)?;
    if !signing::valid(
      &approval.key,
      &signed_text(self.digest, &approval.approved_at),
      &approval.signature,
    ) {
      return Err(Refusal::BadSignature);
    }
    let (Some(at), Some(expires)) = (
      Instant::parse(&approval.approved_at),
      Instant::parse(self.expires_at),
    ) else {
      return Err(Refusal::AfterExpiry);
    };
    if at.seconds() > expires.seconds() {
      return Err(Refusal::AfterExpiry);
    }
    if self.operator_key == Some(approval.key.as_str()) {
      return Err(Refusal::OperatorKey);
    }
    if !self.shared_os_identity && approval.os_identity == self.operator {
      return Err(Refusal::OperatorAccount);
    }
    if counted.contains(&approval.key) {
      return Err(Refusal::SameKeyTwice);
    }
    Ok(name)
  }
}

/// The name a request with `digest` is stored under; its approvals are
/// stored beside it as `<stem>.approval.<fingerprint>.json`.
pub fn request_name(digest: &str) -> String {
  format!("{}.request.json", &digest[..16.min(digest.len())])
}

/// The name of `approval` of the request stored as `request`.
pub fn approval_name(request: &str, approval: &Approval) -> String {
  format!(
    "{}.approval.{}.json",
    request.strip_suffix(".request.json").unwrap_or(request),
    approval.fingerprint
  )
}

/// The approvals stored beside the request `request`, by name.
pub fn approvals_for(store: &Store, request: &str) -> Vec<(String, Result<Approval, String>)> {
  let stem = request.strip_suffix(".request.json").unwrap_or(request);
  store
    .list(&format!("{stem}.approval."))
    .into_iter()
    .filter(|n| n.ends_with(".json"))
    .map(|name| {
      let parsed = store
        .get(&name)
        .and_then(|b| serde_json::from_slice(&b).map_err(|e| e.to_string()));
      (name, parsed)
    })
    .collect()
}

/// Reads a stored request and its digest.
pub fn read_request(store: &Store, name: &str) -> Result<(Value, String), String> {
  let shown = store.show(name);
  let bytes = store.get(name)?;
  let value: Value = serde_json::from_slice(&bytes)
    .map_err(|e| format!("{shown}: not an approval request ({e})"))?;
  if value.get("litops_approval_request").is_none() {
    return Err(format!("{shown}: not an approval request"));
  }
  let digest = digest(&value);
  Ok((value, digest))
}

/// Stores `value` as `name`, whole, never over something already there.
pub fn put(store: &Store, name: &str, value: &impl Serialize) -> Result<(), Put> {
  let mut text = serde_json::to_string_pretty(value).map_err(|e| Put::Failed(e.to_string()))?;
  text.push('\n');
  store.put_new(name, text.as_bytes())
}

/// `litops approvals LOCATION`: the requests still open (not expired),
/// each with the approvals stored beside it so far (counted when the walk
/// checks them against its keyring).
pub fn pending(store: &Store) -> String {
  let mut out = String::new();
  for name in store.list("") {
    if !name.ends_with(".request.json") || name.starts_with('.') {
      continue;
    }
    let Ok((request, _)) = read_request(store, &name) else {
      continue;
    };
    let text = |key: &str| request[key].as_str().unwrap_or("-").to_string();
    let Some(left) = left(&text("expires_at")) else {
      continue;
    };
    let given = approvals_for(store, &name)
      .iter()
      .filter(|(_, a)| a.is_ok())
      .count();
    let location = store.show(&name);
    out.push_str(&format!(
      "{location}\n  step `{}` of {} · asked by {} · {} of {} approval(s) written · expires in {}\n  litops approve {location} --key KEY\n",
      text("step"),
      text("runbook"),
      text("operator"),
      given,
      request["required"],
      humantime::format_duration(left),
    ));
  }
  if out.is_empty() {
    out = "no open approval requests\n".to_string();
  }
  out
}

/// Time left until `expires_at`, or None once it has passed.
pub fn left(expires_at: &str) -> Option<Duration> {
  let expires = Instant::parse(expires_at)?;
  let left = expires.seconds() - clock::now().seconds();
  (left > 0).then(|| Duration::from_secs(left as u64))
}

#[cfg(test)]
mod tests {
  use super::*;
  use ed25519_dalek::SigningKey;

  fn keyring(keys: &[(&str, &SigningKey)]) -> Keyring {
    Keyring {
      path: PathBuf::from("k.yaml"),
      members: keys
        .iter()
        .map(|(n, k)| (n.to_string(), signing::public_hex(&k.verifying_key())))
        .collect(),
    }
  }

  #[test]
  fn an_approval_counts_only_for_its_request_its_keyring_and_its_time() {
    let (alice, bob, mallory) = (
      SigningKey::from_bytes(&[1; 32]),
      SigningKey::from_bytes(&[2; 32]),
      SigningKey::from_bytes(&[3; 32]),
    );
    let ring = keyring(&[("alice", &alice), ("bob", &bob)]);
    let request = serde_json::json!({
      "litops_approval_request": 1,
      "operator": "op@host",
      "operator_key": signing::public_hex(&bob.verifying_key()),
      "expires_at": "2999-01-01T00:00:00.000Z",
      "action": "action: scale",
    });
    let digest = digest(&request);
    let terms = Terms::of(&request, &digest);
    let good = Approval::sign(&digest, "alice", &alice, "alice@host");
    assert_eq!(terms.judge(&good, &ring, &[]), Ok("alice"));
    // The same key cannot count twice.
    assert_eq!(
      terms.judge(&good, &ring, std::slice::from_ref(&good.key)),
      Err(Refusal::SameKeyTwice)
    );
    // Not the operator's key, not a stranger's.
    let own = Approval::sign(&digest, "bob", &bob, "bob@host");
    assert_eq!(terms.judge(&own, &ring, &[]), Err(Refusal::OperatorKey));
    let stranger = Approval::sign(&digest, "mallory", &mallory, "m@host");
    assert_eq!(
      terms.judge(&stranger, &ring, &[]),
      Err(Refusal::NotInKeyring)
    );
    // Not from the operator's account (unless the policy shares one).
    let same_account = Approval::sign(&digest, "alice", &alice, "op@host");
    assert_eq!(
      terms.judge(&same_account, &ring, &[]),
      Err(Refusal::OperatorAccount)
    );
    // Any change to the request is another request.
    let mut changed = request.clone();
    changed["action"] = Value::String("action: scale\ndesired: 50".into());
    let other_digest = super::digest(&changed);
    assert_ne!(other_digest, digest);
    assert_eq!(
      Terms::of(&changed, &other_digest).judge(&good, &ring, &[]),
      Err(Refusal::OtherRequest)
    );
    // A signature moved onto another request's digest does not verify.
    let mut forged = good.clone();
    forged.request_sha256 = other_digest.clone();
    assert_eq!(
      Terms::of(&changed, &other_digest).judge(&forged, &ring, &[]),
      Err(Refusal::BadSignature)
    );
    // Given after the request expired.
    let mut expired = request.clone();
    expired["expires_at"] = Value::String("2000-01-01T00:00:00.000Z".into());
    let expired_digest = super::digest(&expired);
    let late = Approval::sign(&expired_digest, "alice", &alice, "alice@host");
    assert_eq!(
      Terms::of(&expired, &expired_digest).judge(&late, &ring, &[]),
      Err(Refusal::AfterExpiry)
    );
  }
}
