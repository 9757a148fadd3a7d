//! `litops test --update`: each case's `expect:` written from what it did,
//! the rest of the case file (comments included) kept as it was.

use std::fmt::Write as _;
use std::path::Path;

use serde_yaml::Value as Yaml;

use super::Suite;
use super::run::Outcome;

/// The case file with each case's `expect:` written from its outcome; the
/// rest of the file (comments included) as it was.
pub fn updated(suite: &Suite, outcomes: &[(usize, Outcome)]) -> String {
  let text = &suite.file.text;
  let mut edits: Vec<(usize, usize, String)> = Vec::new();
  for (i, outcome) in outcomes {
    let case = &suite.cases[*i];
    let end = suite
      .cases
      .get(i + 1)
      .map_or(text.len(), |next| line_start(text, next.span.start));
    let from = case.span.start;
    // The indentation of the case's keys: its `- ` and the column after.
    let key_indent = from - line_start(text, from) + 2;
    let block = expect_yaml(outcome, key_indent);
    match crate::parse::yaml::key_span(text, from, &["expect"]).filter(|(s, _)| *s < end) {
      Some((start, _)) => {
        let start = line_start(text, start);
        let stop = block_end(text, start, end);
        edits.push((start, stop, block));
      }
      None => {
        let at = trimmed_end(text, from, end);
        edits.push((at, at, block));
      }
    }
  }
  let mut out = text.clone();
  for (start, stop, block) in edits.into_iter().rev() {
    out.replace_range(start..stop, &block);
  }
  out
}

/// Writes an updated case file back as it was saved: with its Windows line
/// endings and byte-order mark, if it had them (its text was read as LF).
pub fn write(path: &Path, text: &str) -> std::io::Result<()> {
  let before = std::fs::read(path)?;
  let mut out = String::new();
  if before.starts_with("\u{feff}".as_bytes()) {
    out.push('\u{feff}');
  }
  if before.windows(2).any(|w| w == b"\r\n") {
    out.push_str(&text.replace('\n', "\r\n"));
  } else {
    out.push_str(text);
  }
  std::fs::write(path, out)
}

fn line_start(text: &str, at: usize) -> usize {
  text[..at].rfind('\n').map_or(0, |i| i + 1)
}

/// Where the block of lines starting at `start` ends: the next line (before
/// `limit`) indented no deeper than its first, blank lines and comments aside.
fn block_end(text: &str, start: usize, limit: usize) -> usize {
  let first = &text[start..];
  let indent = first.len() - first.trim_start_matches(' ').len();
  let mut offset = start;
  let mut end = start;
  for (n, line) in text[start..limit].split_inclusive('\n').enumerate() {
    let body = line.trim_start_matches(' ');
    let here = line.len() - body.len();
    let blank = body.trim().is_empty() || body.starts_with('#');
    if n > 0 && !blank && here <= indent {
      break;
    }
    offset += line.len();
    if !blank {
      end = offset;
    }
  }
  end
}

/// The end of the last line between `from` and `limit` that is neither
/// blank nor a comment (a comment before the next case belongs to it).
fn trimmed_end(text: &str, from: usize, limit: usize) -> usize {
  let mut offset = from;
  let mut end = from;
  for line in text[from..limit].split_inclusive('\n') {
    offset += line.len();
    let body = line.trim();
    if !body.is_empty() && !body.starts_with('#') {
      end = offset;
    }
  }
  end
}

/// `expect:` written from an outcome, its keys at `indent` spaces.
fn expect_yaml(outcome: &Outcome, indent: usize) -> String {
  let pad = " ".repeat(indent);
  let mut out = format!("{pad}expect:\n");
  let _ = writeln!(out, "{pad}  exit: {}", outcome.exit);
  let _ = writeln!(out, "{pad}  result: {}", outcome.result);
  let _ = writeln!(out, "{pad}  verdict: {}", quoted(&outcome.verdict));
  if !outcome.steps.is_empty() {
    let _ = writeln!(out, "{pad}  steps:");
    for (id, status) in &outcome.steps {
      let _ = writeln!(out, "{pad}    {}: {}", quoted(id), quoted(status.name()));
    }
  }
  if !outcome.values.is_empty() {
    let _ = writeln!(out, "{pad}  values:");
    for (id, value) in &outcome.values {
      let _ = writeln!(out, "{pad}    {}: {}", quoted(id), quoted(value));
    }
  }
  if !outcome.not_run.is_empty() {
    let list: Vec<String> = outcome.not_run.iter().map(|s| quoted(s)).collect();
    let _ = writeln!(out, "{pad}  not-run: [{}]", list.join(", "));
  }
  out
}

/// A string as a YAML scalar that reads back as itself.
fn quoted(text: &str) -> String {
  let plain = !text.is_empty()
    && text
      .chars()
      .all(|c| c.is_ascii_alphanumeric() || "-_./".contains(c))
    && serde_yaml::from_str::<Yaml>(text).ok() == Some(Yaml::String(text.into()));
  if plain {
    text.to_string()
  } else {
    serde_json::to_string(text).unwrap_or_default()
  }
}

#[cfg(test)]
mod tests {
  use super::*;

  #[test]
  fn quoted_strings_read_back_as_themselves() {
    for text in [
      "ok",
      "yes",
      "1",
      "null",
      "a: b",
      "",
      "“x” — y",
      "~",
      "-1.5",
      "#x",
    ] {
      let yaml = quoted(text);
      let back: Yaml = serde_yaml::from_str(&yaml).expect("parses");
      assert_eq!(back, Yaml::String(text.into()), "{yaml}");
    }
  }
}
