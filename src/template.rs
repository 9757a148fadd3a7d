//! `{{ name }}` templates in declarative blocks. Shell and rhai bodies are
//! never passed through here: `{{ }}` in a real command (a Go template, say)
//! is the command's business.

use std::ops::Range;

#[derive(Debug, PartialEq, Eq)]
pub struct Placeholder<'a> {
  /// Byte range of `{{ … }}` in the text.
  pub range: Range<usize>,
  pub name: &'a str,
}

/// Every placeholder in `text`, or the offset of a `{{` that is never closed.
pub fn placeholders(text: &str) -> Result<Vec<Placeholder<'_>>, usize> {
  let mut out = Vec::new();
  let mut from = 0;
  while let Some(open) = text[from..].find("{{").map(|i| from + i) {
    let Some(close) = text[open + 2..].find("}}").map(|i| open + 2 + i) else {
      return Err(open);
    };
    out.push(Placeholder {
      range: open..close + 2,
      name: text[open + 2..close].trim(),
    });
    from = close + 2;
  }
  Ok(out)
}

/// Replaces each placeholder with `value(name)`, leaving unknown ones as written.
pub fn render(text: &str, value: impl Fn(&str) -> Option<String>) -> String {
  let Ok(found) = placeholders(text) else {
    return text.to_string();
  };
  let mut out = String::with_capacity(text.len());
  let mut last = 0;
  for p in found {
    out.push_str(&text[last..p.range.start]);
    match value(p.name) {
      Some(v) => out.push_str(&v),
      None => out.push_str(&text[p.range.clone()]),
    }
    last = p.range.end;
  }
  out.push_str(&text[last..]);
  out
}

#[cfg(test)]
mod tests {
  use super::*;

  #[test]
  fn finds_placeholders_with_ranges() {
    let found = placeholders("a {{x}} b {{  long_name }}").expect("closed");
    assert_eq!(
      found,
      vec![
        Placeholder {
          range: 2..7,
          name: "x"
        },
        Placeholder {
          range: 10..26,
          name: "long_name"
        },
      ]
    );
    assert_eq!(placeholders("ok {{ x }} then {{ y"), Err(16));
  }

  #[test]
  fn renders_known_names_only() {
    let out = render("{{ a }}-{{b}}-{{ c }}", |n| {
      (n != "c").then(|| n.to_uppercase())
    });
    assert_eq!(out, "A-B-{{ c }}");
  }
}
