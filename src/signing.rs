//! ed25519 signatures over a transcript's final hash: `litops keygen` makes
//! a key pair, `run --sign KEY` signs, `verify --key PUB` checks. A signed
//! transcript cannot lose its end unnoticed, which the chain alone cannot
//! show.
//!
//! Key files are one line of text: `litops-ed25519-secret-key <64 hex>` and
//! `litops-ed25519-public-key <64 hex>`.

use std::fmt;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};

const SECRET_TAG: &str = "litops-ed25519-secret-key";
const PUBLIC_TAG: &str = "litops-ed25519-public-key";

#[derive(Debug)]
pub enum KeyError {
  Io(PathBuf, std::io::Error),
  Format(PathBuf, &'static str),
  Exists(PathBuf),
  NoRandomness,
}

impl fmt::Display for KeyError {
  fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
    match self {
      Self::Io(path, e) => write!(f, "{}: {e}", path.display()),
      Self::Format(path, expected) => write!(
        f,
        "{}: not a litops key: expected one line `{expected} <64 hex digits>` (see `litops keygen`)",
        path.display()
      ),
      Self::Exists(path) => write!(f, "{}: exists; not overwriting a key", path.display()),
      Self::NoRandomness => write!(f, "the system gave no randomness for a key"),
    }
  }
}

fn unhex<const N: usize>(text: &str) -> Option<[u8; N]> {
  let mut out = [0u8; N];
  hex::decode_to_slice(text, &mut out).ok()?;
  Some(out)
}

fn read_tagged<const N: usize>(path: &Path, tag: &'static str) -> Result<[u8; N], KeyError> {
  let text = std::fs::read_to_string(path).map_err(|e| KeyError::Io(path.to_path_buf(), e))?;
  text
    .trim()
    .strip_prefix(tag)
    .and_then(|rest| unhex(rest.trim()))
    .ok_or(KeyError::Format(path.to_path_buf(), tag))
}

pub fn signing_key(path: &Path) -> Result<SigningKey, KeyError> {
  read_tagged(path, SECRET_TAG).map(|bytes| SigningKey::from_bytes(&bytes))
}

pub fn verifying_key(path: &Path) -> Result<VerifyingKey, KeyError> {
  read_tagged(path, PUBLIC_TAG).and_then(|bytes| {
    VerifyingKey::from_bytes(&bytes).map_err(|_| KeyError::Format(path.to_path_buf(), PUBLIC_TAG))
  })
}

/// Writes `PREFIX.key` (owner-only) and `PREFIX.pub`; returns their paths.
pub fn keygen(prefix: &Path) -> Result<(PathBuf, PathBuf), KeyError> {
  let secret_path = prefix.with_extension("key");
  let public_path = prefix.with_extension("pub");
  for path in [&secret_path, &public_path] {
    if path.exists() {
      return Err(KeyError::Exists(path.clone()));
    }
  }
  let mut seed = [0u8; 32];
  getrandom::getrandom(&mut seed).map_err(|_| KeyError::NoRandomness)?;
  let key = SigningKey::from_bytes(&seed);
  let io = |path: &Path| {
    let path = path.to_path_buf();
    move |e| KeyError::Io(path, e)
  };
  {
    use std::os::unix::fs::OpenOptionsExt as _;
    let mut file = std::fs::OpenOptions::new()
      .write(true)
      .create_new(true)
      .mode(0o600)
      .open(&secret_path)
      .map_err(io(&secret_path))?;
    writeln!(file, "{SECRET_TAG} {}", hex::encode(seed)).map_err(io(&secret_path))?;
  }
  std::fs::write(
    &public_path,
    format!("{PUBLIC_TAG} {}\n", public_hex(&key.verifying_key())),
  )
  .map_err(io(&public_path))?;
  Ok((secret_path, public_path))
}

/// The hex of a public key line as `litops keygen` writes it (the keyring
/// holds these lines).
pub fn parse_public(line: &str) -> Option<String> {
  let bytes = unhex::<32>(line.trim().strip_prefix(PUBLIC_TAG)?.trim())?;
  VerifyingKey::from_bytes(&bytes).ok()?;
  Some(hex::encode(bytes))
}

pub fn public_hex(key: &VerifyingKey) -> String {
  hex::encode(key.as_bytes())
}

/// The signature (hex) of a transcript's final hash.
pub fn sign(key: &SigningKey, hash: &str) -> String {
  hex::encode(key.sign(hash.as_bytes()).to_bytes())
}

/// Whether `signature` (hex) is `public`'s (hex) signature of `hash`.
pub fn valid(public: &str, hash: &str, signature: &str) -> bool {
  let (Some(public), Some(signature)) = (unhex::<32>(public), unhex::<64>(signature)) else {
    return false;
  };
  VerifyingKey::from_bytes(&public).is_ok_and(|key| {
    key
      .verify(hash.as_bytes(), &Signature::from_bytes(&signature))
      .is_ok()
  })
}

#[cfg(test)]
mod tests {
  use super::*;

  #[test]
  fn signs_and_checks_and_rejects_any_change() {
    let key = SigningKey::from_bytes(&[7; 32]);
    let public = public_hex(&key.verifying_key());
    let hash = "ab".repeat(32);
    let signature = sign(&key, &hash);
    assert!(valid(&public, &hash, &signature));
    assert!(!valid(&public, &"ac".repeat(32), &signature));
    let other = public_hex(&SigningKey::from_bytes(&[8; 32]).verifying_key());
    assert!(!valid(&other, &hash, &signature));
    assert!(!valid(&public, &hash, "00"));
  }

  #[test]
  fn keygen_writes_a_pair_that_loads_and_refuses_to_overwrite() {
    let dir = tempfile::tempdir().expect("tempdir");
    let prefix = dir.path().join("ops");
    let (secret, public) = keygen(&prefix).expect("keygen");
    let key = signing_key(&secret).expect("secret loads");
    let verifying = verifying_key(&public).expect("public loads");
    assert_eq!(key.verifying_key(), verifying);
    assert!(matches!(keygen(&prefix), Err(KeyError::Exists(_))));
    std::fs::write(&public, "nonsense").expect("write");
    assert!(matches!(verifying_key(&public), Err(KeyError::Format(..))));
  }
}
