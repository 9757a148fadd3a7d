//! Info strings: ```` ```bash {name=errors timeout=30s} ```` and Runme's
//! ```` ```sh {"name":"errors"} ````.

use crate::diagnostic::{Diagnostic, Problem};
use crate::source::Span;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attribute {
  pub key: String,
  pub value: String,
  pub span: Span,
}

#[derive(Debug, Default)]
pub struct Info {
  /// The first word, lowercased: `bash`, `rhai`, `logs-insights`, …
  pub kind: String,
  pub attributes: Vec<Attribute>,
  pub diagnostics: Vec<Diagnostic>,
}

/// Splits an info string into its kind and attributes. `base` is the offset
/// of the info string in the file, so every attribute keeps its own span.
pub fn parse_info(info: &str, base: usize) -> Info {
  let kind_len = info
    .find(|c: char| c.is_whitespace() || c == '{')
    .unwrap_or(info.len());
  let mut out = Info {
    kind: info[..kind_len].to_lowercase(),
    ..Info::default()
  };
  let rest = &info[kind_len..];
  let rest_start = kind_len + (rest.len() - rest.trim_start().len());
  let rest = rest.trim();
  if rest.is_empty() {
    return out;
  }
  let at = |start: usize, end: usize| Span::new(base + rest_start + start, base + rest_start + end);
  let whole = at(0, rest.len());
  let Some(inner) = rest.strip_prefix('{') else {
    out.diagnostics.push(Diagnostic::new(
      Problem::AttributeSyntax(format!(
        "`{rest}` after the kind is not an attribute block; write `{{key=value …}}`"
      )),
      whole,
    ));
    return out;
  };
  let Some(inner) = inner.strip_suffix('}') else {
    out.diagnostics.push(Diagnostic::new(
      Problem::AttributeSyntax("attribute block is missing its closing `}`".into()),
      whole,
    ));
    return out;
  };
  let pairs: Result<Vec<(String, String, Span)>, String> = if inner.trim_start().starts_with('"') {
    json_pairs(inner).map(|pairs| pairs.into_iter().map(|(k, v)| (k, v, whole)).collect())
  } else {
    key_value_pairs(inner).map(|pairs| {
      pairs
        .into_iter()
        .map(|(k, v, s, e)| (k, v, at(s + 1, e + 1)))
        .collect()
    })
  };
  match pairs {
    Ok(pairs) => {
      for (key, value, span) in pairs {
        if out.attributes.iter().any(|a| a.key == key) {
          out
            .diagnostics
            .push(Diagnostic::new(Problem::DuplicateAttribute(key), span));
        } else {
          out.attributes.push(Attribute { key, value, span });
        }
      }
    }
    Err(message) => out
      .diagnostics
      .push(Diagnostic::new(Problem::AttributeSyntax(message), whole)),
  }
  out
}

/// A JSON object's pairs in order, repeated keys kept (a map would keep the
/// last silently, and a repeated key is an error).
struct Pairs(Vec<(String, serde_json::Value)>);

impl<'de> serde::Deserialize<'de> for Pairs {
  fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
    struct Visit;
    impl<'de> serde::de::Visitor<'de> for Visit {
      type Value = Pairs;
      fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON object")
      }
      fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Pairs, A::Error> {
        let mut pairs = Vec::new();
        while let Some(pair) = map.next_entry()? {
          pairs.push(pair);
        }
        Ok(Pairs(pairs))
      }
    }
    deserializer.deserialize_map(Visit)
  }
}

fn json_pairs(inner: &str) -> Result<Vec<(String, String)>, String> {
  let Pairs(pairs) =
    serde_json::from_str(&format!("{{{inner}}}")).map_err(|e| format!("invalid JSON: {e}"))?;
  pairs
    .into_iter()
    .map(|(k, v)| match v {
      serde_json::Value::String(s) if s.is_empty() => Err(format!("`{k}` has no value")),
      serde_json::Value::String(s) => Ok((k, s)),
      serde_json::Value::Bool(_) | serde_json::Value::Number(_) => Ok((k, v.to_string())),
      _ => Err(format!("`{k}` must be a string, number or boolean")),
    })
    .collect()
}

/// `key=value key2="quoted value" flag`, separated by spaces or commas.
/// Returns each pair with the byte range it covers in `inner`.
fn key_value_pairs(inner: &str) -> Result<Vec<(String, String, usize, usize)>, String> {
  let bytes = inner.as_bytes();
  let mut pairs = Vec::new();
  let mut i = 0;
  loop {
    while i < bytes.len() && (bytes[i].is_ascii_whitespace() || bytes[i] == b',') {
      i += 1;
    }
    if i == bytes.len() {
      return Ok(pairs);
    }
    let start = i;
    while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || b"-_.".contains(&bytes[i])) {
      i += 1;
    }
    let key = &inner[start..i];
    if key.is_empty() {
      let c = inner[i..].chars().next().unwrap_or(' ');
      return Err(format!(
        "unexpected `{c}`; attributes look like `key=value`"
      ));
    }
    if i == bytes.len() || bytes[i] != b'=' {
      if i < bytes.len() && !(bytes[i].is_ascii_whitespace() || bytes[i] == b',') {
        let c = inner[i..].chars().next().unwrap_or(' ');
        return Err(format!("unexpected `{c}` after `{key}`"));
      }
      pairs.push((key.to_string(), "true".to_string(), start, i));
      continue;
    }
    i += 1;
    let value = if bytes.get(i) == Some(&b'"') {
      let close = inner[i + 1..]
        .find('"')
        .ok_or_else(|| format!("the quoted value of `{key}` is not closed"))?;
      let value = &inner[i + 1..i + 1 + close];
      i += close + 2;
      value
    } else {
      let s = i;
      while i < bytes.len() && !(bytes[i].is_ascii_whitespace() || bytes[i] == b',') {
        i += 1;
      }
      &inner[s..i]
    };
    if value.is_empty() {
      return Err(format!("`{key}` has no value"));
    }
    pairs.push((key.to_string(), value.to_string(), start, i));
  }
}

#[cfg(test)]
mod tests {
  use super::*;

  type Pairs = Vec<(String, String, usize, usize)>;

  fn attrs(info: &str) -> (String, Pairs, Vec<String>) {
    let parsed = parse_info(info, 100);
    (
      parsed.kind,
      parsed
        .attributes
        .into_iter()
        .map(|a| (a.key, a.value, a.span.start, a.span.end))
        .collect(),
      parsed
        .diagnostics
        .iter()
        .map(|d| d.problem.to_string())
        .collect(),
    )
  }

  #[test]
  fn key_value_form_with_spans() {
    let (kind, pairs, problems) = attrs("bash {name=errors timeout=30s readonly}");
    assert_eq!(kind, "bash");
    assert_eq!(
      pairs,
      vec![
        ("name".into(), "errors".into(), 106, 117),
        ("timeout".into(), "30s".into(), 118, 129),
        ("readonly".into(), "true".into(), 130, 138),
      ]
    );
    assert!(problems.is_empty());
  }

  #[test]
  fn runme_json_form() {
    let (kind, pairs, problems) = attrs(r#"sh {"name":"setup","interactive":false}"#);
    assert_eq!(kind, "sh");
    let kv: Vec<_> = pairs
      .iter()
      .map(|(k, v, _, _)| (k.as_str(), v.as_str()))
      .collect();
    assert_eq!(kv, vec![("name", "setup"), ("interactive", "false")]);
    assert!(problems.is_empty());
  }

  #[test]
  fn glued_and_quoted() {
    let (kind, pairs, _) = attrs(r#"RHAI{ name="a b", confirm=always }"#);
    assert_eq!(kind, "rhai");
    assert_eq!(pairs[0].1, "a b");
    assert_eq!(pairs[1].1, "always");
  }

  #[test]
  fn syntax_errors() {
    let cases = [
      ("sh {name=}", "bad attribute syntax: `name` has no value"),
      (
        "sh {name=a",
        "bad attribute syntax: attribute block is missing its closing `}`",
      ),
      (
        "sh {=a}",
        "bad attribute syntax: unexpected `=`; attributes look like `key=value`",
      ),
      (
        "sh {name=\"a}",
        "bad attribute syntax: the quoted value of `name` is not closed",
      ),
      ("sh {name=a name=b}", "attribute `name` is given twice"),
      (
        "sh {\"name\":\"a\",\"name\":\"b\"}",
        "attribute `name` is given twice",
      ),
      (
        "sh {\"name\":\"\"}",
        "bad attribute syntax: `name` has no value",
      ),
      (
        "sh {name=\"\"}",
        "bad attribute syntax: `name` has no value",
      ),
      (
        "sh {\"name\": [1]}",
        "bad attribute syntax: `name` must be a string, number or boolean",
      ),
      (
        "sh title",
        "bad attribute syntax: `title` after the kind is not an attribute block; write `{key=value …}`",
      ),
    ];
    for (info, want) in cases {
      assert_eq!(attrs(info).2, vec![want.to_string()], "{info}");
    }
  }
}
