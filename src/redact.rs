//! Secret values never leave litops in plain text: every string bound for
//! the terminal, the transcript, a sidecar or a report passes through a
//! [`Redactor`]. What runs or is sent is never masked: masking happens only
//! where text is shown or recorded (issue 11).
//!
//! Besides the value itself, a redactor masks its common encodings: base64
//! (standard and URL-safe, at each of the three byte alignments, so
//! `Basic base64(user:secret)` is caught too) and URL percent-encoding.
//! Arbitrary transformations (hashing, reversing, splitting) cannot be
//! caught; docs/format.md says so.

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD_NO_PAD, URL_SAFE_NO_PAD};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use serde_json::Value;

/// Encoded forms shorter than this are not masked on their own: a short
/// base64 fragment would mask ordinary words.
const MIN_ENCODED: usize = 6;

/// What `encodeURIComponent` and most URL encoders leave as it is.
const UNRESERVED: &AsciiSet = &NON_ALPHANUMERIC
  .remove(b'-')
  .remove(b'.')
  .remove(b'_')
  .remove(b'~');

/// The secrets of the run in progress, for the panic hook: a panic's text
/// can quote a value (rhai's did), and it is printed like everything else.
static PANIC_MASK: std::sync::RwLock<Redactor> = std::sync::RwLock::new(Redactor {
  secrets: Vec::new(),
  matcher: None,
});

/// Prints panics masked and as what they are: a bug in litops.
pub fn install_panic_hook() {
  std::panic::set_hook(Box::new(|info| {
    eprintln!(
      "litops: internal error (a bug in litops; please report it): {}",
      mask_panic(&info.to_string())
    );
  }));
}

/// `text` with the current run's secrets masked.
pub fn mask_panic(text: &str) -> String {
  match PANIC_MASK.read() {
    Ok(mask) => mask.text(text),
    Err(poisoned) => poisoned.get_ref().text(text),
  }
}

#[derive(Debug, Default, Clone)]
pub struct Redactor {
  /// (name, text to mask), longest first so a secret containing another is
  /// replaced whole.
  secrets: Vec<(String, String)>,
  /// All of them at once, leftmost-longest: one pass, and a mask already
  /// written (`[redacted:token]`) is never masked again.
  matcher: Option<aho_corasick::AhoCorasick>,
}

impl Redactor {
  pub fn add(&mut self, name: &str, value: &str) {
    if value.is_empty() {
      return;
    }
    let mut forms = vec![value.to_string()];
    forms.extend(encodings(value));
    for form in forms {
      if !self.secrets.iter().any(|(_, v)| *v == form) {
        self.secrets.push((name.to_string(), form));
      }
    }
    self
      .secrets
      .sort_by_key(|(_, v)| std::cmp::Reverse(v.len()));
    self.matcher = aho_corasick::AhoCorasick::builder()
      .match_kind(aho_corasick::MatchKind::LeftmostLongest)
      .build(self.secrets.iter().map(|(_, v)| v))
      .ok();
  }

  pub fn is_empty(&self) -> bool {
    self.secrets.is_empty()
  }

  /// Makes these the secrets masked in panic messages.
  pub fn guard_panics(&self) {
    if let Ok(mut mask) = PANIC_MASK.write() {
      *mask = self.clone();
    }
  }

  pub fn text(&self, text: &str) -> String {
    let Some(matcher) = &self.matcher else {
      return text.to_string();
    };
    let masks: Vec<String> = self
      .secrets
      .iter()
      .map(|(name, _)| format!("[redacted:{name}]"))
      .collect();
    matcher.replace_all(text, &masks)
  }

  /// `text` as shown on a terminal: secrets masked in what is visible,
  /// never inside the colour escapes litops writes around it (a one-letter
  /// secret must not break `\x1b[1m`).
  pub fn visible(&self, text: &str) -> String {
    if self.matcher.is_none() || !text.contains('\x1b') {
      return self.text(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find('\x1b') {
      out.push_str(&self.text(&rest[..start]));
      // An SGR escape: ESC `[` digits and `;`, ended by `m`.
      let escape = rest[start..]
        .char_indices()
        .skip(1)
        .find(|(i, c)| !(c.is_ascii_digit() || *c == ';' || (*i == 1 && *c == '[')))
        .map_or(rest.len() - start, |(i, c)| i + c.len_utf8());
      out.push_str(&rest[start..start + escape]);
      rest = &rest[start + escape..];
    }
    out.push_str(&self.text(rest));
    out
  }

  pub fn value(&self, value: &Value) -> Value {
    if self.is_empty() {
      return value.clone();
    }
    match value {
      Value::String(s) => Value::String(self.text(s)),
      Value::Array(items) => Value::Array(items.iter().map(|v| self.value(v)).collect()),
      Value::Object(map) => Value::Object(
        map
          .iter()
          .map(|(k, v)| (self.text(k), self.value(v)))
          .collect(),
      ),
      other => other.clone(),
    }
  }

  /// A masker for a stream shown as it arrives (a step's live output).
  pub fn stream(&self) -> Stream {
    Stream {
      redactor: self.clone(),
      held: String::new(),
    }
  }

  /// The length of the longest suffix of `text` that could be the start of
  /// a secret continuing in text not yet seen.
  fn open_suffix(&self, text: &str) -> usize {
    let mut longest = 0;
    for (_, secret) in &self.secrets {
      let max = secret.len().saturating_sub(1).min(text.len());
      let first = secret.as_bytes()[0];
      let bytes = text.as_bytes();
      for len in (longest + 1..=max).rev() {
        let start = text.len() - len;
        if bytes[start] == first
          && text.is_char_boundary(start)
          && secret.starts_with(&text[start..])
        {
          longest = len;
          break;
        }
      }
    }
    longest
  }
}

/// Masks a stream that arrives in pieces (lines), holding back only what
/// could be the start of a secret spanning pieces, so a multi-line secret
/// (a PEM key) is masked whole while other output is shown at once.
pub struct Stream {
  redactor: Redactor,
  held: String,
}

impl Stream {
  /// Adds a piece; returns what can be shown now, masked.
  pub fn push(&mut self, piece: &str) -> String {
    self.held.push_str(piece);
    let mut cut = self.held.len() - self.redactor.open_suffix(&self.held);
    // A whole secret that starts before the cut and ends after it must not
    // be split between what is shown now and what is held.
    loop {
      let crossing = self
        .redactor
        .secrets
        .iter()
        .flat_map(|(_, s)| {
          self
            .held
            .match_indices(s.as_str())
            .map(|(i, m)| (i, i + m.len()))
            .collect::<Vec<_>>()
        })
        .filter(|(start, end)| *start < cut && *end > cut)
        .map(|(start, _)| start)
        .min();
      match crossing {
        Some(start) => cut = start,
        None => break,
      }
    }
    let rest = self.held.split_off(cut);
    let shown = self.redactor.text(&self.held);
    self.held = rest;
    shown
  }

  /// What is still held, masked: the stream has ended.
  pub fn finish(&mut self) -> String {
    self.redactor.text(&std::mem::take(&mut self.held))
  }
}

/// The forms of `value` an output commonly carries it in, other than itself.
fn encodings(value: &str) -> Vec<String> {
  let mut out = Vec::new();
  for set in [NON_ALPHANUMERIC, UNRESERVED] {
    let url = utf8_percent_encode(value, set).to_string();
    if url != value && !out.contains(&url) {
      out.push(url);
    }
  }
  let bytes = value.as_bytes();
  for engine in [STANDARD_NO_PAD, URL_SAFE_NO_PAD] {
    for shift in 0..3 {
      // Encoded after `shift` other bytes, the secret's characters start
      // `shift` bytes into a 3-byte group: keep only the characters that
      // depend on the secret's bytes alone.
      let mut padded = vec![0u8; shift];
      padded.extend_from_slice(bytes);
      let encoded = engine.encode(&padded);
      let skip = [0, 2, 3][shift];
      let whole = (shift + bytes.len()) / 3 * 4;
      // The last, partial group depends on the bytes after the secret.
      if let Some(core) = encoded.get(skip..whole)
        && core.len() >= MIN_ENCODED
        && !out.iter().any(|o| o == core)
      {
        out.push(core.to_string());
      }
      if shift == 0 && encoded.len() >= MIN_ENCODED && !out.contains(&encoded) {
        // The whole encoding of the value alone, its last partial group included.
        out.push(encoded);
      }
    }
  }
  out
}

#[cfg(test)]
mod tests {
  use super::*;

  fn redactor(value: &str) -> Redactor {
    let mut r = Redactor::default();
    r.add("s", value);
    r
  }

  #[test]
  fn replaces_every_occurrence_longest_first() {
    let mut r = Redactor::default();
    r.add("short", "abc");
    r.add("long", "abcdef");
    assert_eq!(
      r.text("x abcdef y abc"),
      "x [redacted:long] y [redacted:short]"
    );
    let v = serde_json::json!({"out": ["abc", 1], "abc": true});
    assert_eq!(
      r.value(&v),
      serde_json::json!({"out": ["[redacted:short]", 1], "[redacted:short]": true})
    );
  }

  #[test]
  fn a_short_secret_masks_what_is_visible_once_and_never_escapes() {
    let r = redactor("e");
    assert_eq!(r.text("here"), "h[redacted:s]r[redacted:s]");
    assert_eq!(r.visible("\x1b[1mhe\x1b[0m"), "\x1b[1mh[redacted:s]\x1b[0m");
  }

  #[test]
  fn masks_base64_at_every_alignment_and_url_encoding() {
    let secret = "s3cr3t/p@ss+word";
    let r = redactor(secret);
    for prefix in ["", "a", "ab", "user:", "admin:", "x"] {
      for suffix in ["", "!", "tail"] {
        let plain = format!("{prefix}{secret}{suffix}");
        for encoded in [
          STANDARD_NO_PAD.encode(&plain),
          URL_SAFE_NO_PAD.encode(&plain),
        ] {
          let shown = r.text(&encoded);
          assert!(
            shown.contains("[redacted:s]"),
            "{plain} as {encoded} → {shown}"
          );
        }
      }
    }
    let url = utf8_percent_encode(secret, NON_ALPHANUMERIC).to_string();
    assert_eq!(r.text(&format!("?token={url}")), "?token=[redacted:s]");
    // Short secrets do not turn base64 fragments into masks of common text.
    assert_eq!(redactor("ab").text("YWJj data"), "YWJj data");
  }

  #[test]
  fn stream_masks_a_secret_spanning_lines_and_holds_nothing_else() {
    let pem = "-----BEGIN KEY-----\nAAAA\nBBBB\n-----END KEY-----";
    let r = redactor(pem);
    let mut stream = r.stream();
    let mut shown = String::new();
    for line in ["hello\n", "-----BEGIN KEY-----\n", "AAAA\n", "BBBB\n"] {
      shown.push_str(&stream.push(line));
    }
    assert_eq!(shown, "hello\n", "the key's first lines are held back");
    shown.push_str(&stream.push("-----END KEY-----\n"));
    shown.push_str(&stream.push("bye\n"));
    shown.push_str(&stream.finish());
    assert_eq!(shown, "hello\n[redacted:s]\nbye\n");
    // A line that only starts like the key is shown once it diverges.
    let mut stream = r.stream();
    assert_eq!(stream.push("-----BEGIN KEY-----\n"), "");
    assert_eq!(stream.push("other\n"), "-----BEGIN KEY-----\nother\n");
  }
}
