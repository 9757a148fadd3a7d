//! A guard in front of every YAML parse of text litops did not write.
//!
//! libyaml takes seconds on deeply nested flow collections (60 KB of `[`
//! in front matter took 37 s) before serde_yaml's own recursion limit
//! refuses them, so nesting is measured first, in one linear pass.

/// Flow collections (`[…]`, `{…}`) nested deeper than this are refused.
pub const MAX_DEPTH: usize = 64;

/// The byte offset where flow collections nest deeper than [`MAX_DEPTH`],
/// if they do. Quoted scalars and comments are skipped.
pub fn too_deep(text: &str) -> Option<usize> {
  let mut depth = 0usize;
  let mut quote: Option<u8> = None;
  let mut comment = false;
  let mut previous = b'\n';
  for (i, &b) in text.as_bytes().iter().enumerate() {
    match (quote, b) {
      (_, b'\n') => {
        comment = false;
        // A single-quoted or double-quoted scalar may span lines; keep it.
      }
      _ if comment => {}
      (Some(q), c) if c == q => quote = None,
      (Some(_), _) => {}
      (None, b'#') if previous == b' ' || previous == b'\n' || previous == b'\t' => comment = true,
      (None, b'"' | b'\'') => quote = Some(b),
      (None, b'[' | b'{') => {
        depth += 1;
        if depth > MAX_DEPTH {
          return Some(i);
        }
      }
      (None, b']' | b'}') => depth = depth.saturating_sub(1),
      _ => {}
    }
    previous = b;
  }
  None
}

/// The message for text [`too_deep`] refused.
pub fn depth_message() -> String {
  format!("collections nest more than {MAX_DEPTH} levels deep")
}

/// Why text is not YAML litops reads: the byte offset where (when known)
/// and the message, without serde_yaml's own position.
pub struct Unreadable {
  pub at: Option<usize>,
  pub message: String,
}

/// `text` parsed as a YAML value, nesting measured first (see
/// [`too_deep`]).
pub fn value(text: &str) -> Result<serde_yaml::Value, Unreadable> {
  if let Some(at) = too_deep(text) {
    return Err(Unreadable {
      at: Some(at),
      message: depth_message(),
    });
  }
  serde_yaml::from_str(text).map_err(|e| Unreadable {
    at: e.location().map(|l| l.index().min(text.len())),
    message: crate::diagnostic::yaml_message(&e),
  })
}

/// Where `key:` is for a path of nested keys, searched line by line from
/// byte `from` (serde_yaml values carry no positions): the span of the
/// deepest key found, None when not even the first is there.
pub fn key_span(text: &str, from: usize, path: &[&str]) -> Option<(usize, usize)> {
  let mut offset = from.min(text.len());
  let mut found = None;
  for key in path {
    let mut line_start = offset;
    let mut hit = None;
    for line in text[offset..].split_inclusive('\n') {
      let trimmed = line.trim_start().trim_start_matches("- ");
      let indent = line.len() - trimmed.len();
      let bare = trimmed.trim_start_matches(['"', '\'']);
      if bare.starts_with(key)
        && bare[key.len()..]
          .trim_start_matches(['"', '\''])
          .starts_with(':')
      {
        let quote = trimmed.len() - bare.len();
        hit = Some((line_start + indent + quote, line_start + line.len()));
        break;
      }
      line_start += line.len();
    }
    let Some((start, next)) = hit else { break };
    found = Some((start, start + key.len()));
    offset = next;
  }
  found
}

#[cfg(test)]
mod tests {
  use super::*;

  #[test]
  fn measures_flow_nesting_outside_quotes_and_comments() {
    assert_eq!(too_deep("a: [1, {b: [2]}]\n"), None);
    let deep = format!("a: {}", "[".repeat(MAX_DEPTH + 1));
    assert_eq!(too_deep(&deep), Some(3 + MAX_DEPTH));
    let quoted = format!(
      "a: '{}'\nb: \"{}\" # {}\n",
      "[".repeat(100),
      "{".repeat(100),
      "[".repeat(100)
    );
    assert_eq!(too_deep(&quoted), None);
    // 60 KB is measured in one pass.
    assert!(too_deep(&"[".repeat(60_000)).is_some());
  }
}
