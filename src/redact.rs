//! Secret values never leave litops in plain text: every string bound for
//! the terminal, the transcript or a sidecar passes through a [`Redactor`].

use serde_json::Value;

#[derive(Debug, Default, Clone)]
pub struct Redactor {
  /// (name, value), longest value first so a secret containing another is
  /// replaced whole.
  secrets: Vec<(String, String)>,
}

impl Redactor {
  pub fn add(&mut self, name: &str, value: &str) {
    if value.is_empty() || self.secrets.iter().any(|(_, v)| v == value) {
      return;
    }
    self.secrets.push((name.to_string(), value.to_string()));
    self
      .secrets
      .sort_by_key(|(_, v)| std::cmp::Reverse(v.len()));
  }

  pub fn is_empty(&self) -> bool {
    self.secrets.is_empty()
  }

  pub fn text(&self, text: &str) -> String {
    let mut out = text.to_string();
    for (name, value) in &self.secrets {
      if out.contains(value.as_str()) {
        out = out.replace(value.as_str(), &format!("[redacted:{name}]"));
      }
    }
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
}

#[cfg(test)]
mod tests {
  use super::*;

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
}
