//! The YAML body of a declarative action, after `{{ }}` substitution.

use serde_yaml::{Mapping, Value};

use crate::model::ActionKind;

pub struct Body {
  kind: ActionKind,
  map: Mapping,
  raw: String,
}

impl Body {
  /// Parses `text`, rejecting fields the kind does not know. `check` has
  /// already done so for the written body; this catches what templates made.
  pub fn parse(action: ActionKind, text: &str) -> Result<Self, String> {
    let (kind, known) = (action.name(), action.fields());
    if crate::parse::yaml::too_deep(text).is_some() {
      return Err(format!(
        "`{kind}` body: {}",
        crate::parse::yaml::depth_message()
      ));
    }
    let map: Mapping = match serde_yaml::from_str(text) {
      Ok(Value::Mapping(map)) => map,
      Ok(_) => {
        return Err(format!(
          "`{kind}` body must be a YAML mapping such as `action: describe`"
        ));
      }
      Err(e) => return Err(format!("`{kind}` body is not valid YAML: {e}")),
    };
    for key in map.keys() {
      let key = key.as_str().unwrap_or_default();
      if !known.contains(&key) {
        return Err(format!(
          "`{kind}`: unknown field `{key}`; known: {}",
          known.join(", ")
        ));
      }
    }
    Ok(Self {
      kind: action,
      map,
      raw: text.to_string(),
    })
  }

  /// The body with every string in it passed through `f` (values filled in
  /// after the YAML was read, so no value can change its structure).
  pub fn map_strings(self, f: impl Fn(&str) -> String) -> Self {
    fn map(value: Value, f: &dyn Fn(&str) -> String) -> Value {
      match value {
        Value::String(s) => Value::String(f(&s)),
        Value::Sequence(items) => Value::Sequence(items.into_iter().map(|v| map(v, f)).collect()),
        Value::Mapping(m) => Value::Mapping(m.into_iter().map(|(k, v)| (k, map(v, f))).collect()),
        other => other,
      }
    }
    Self {
      map: self.map.into_iter().map(|(k, v)| (k, map(v, &f))).collect(),
      raw: f(&self.raw),
      kind: self.kind,
    }
  }

  /// A top-level scalar exactly as written: YAML reads `desired: +2` as the
  /// number 2, but `+2` means "two more".
  pub fn written(&self, key: &str) -> Option<String> {
    self.raw.lines().find_map(|line| {
      let value = line.strip_prefix(key)?.strip_prefix(':')?.trim();
      let value = value
        .split(" #")
        .next()
        .unwrap_or(value)
        .trim()
        .trim_matches(['"', '\'']);
      (!value.is_empty()).then(|| value.to_string())
    })
  }

  pub fn text(&self, key: &str) -> Option<String> {
    match self.map.get(key)? {
      Value::String(s) => Some(s.clone()),
      Value::Number(n) => Some(n.to_string()),
      Value::Bool(b) => Some(b.to_string()),
      _ => None,
    }
  }

  pub fn required(&self, key: &str) -> Result<String, String> {
    self
      .text(key)
      .ok_or_else(|| format!("`{}`: `{key}` is required", self.kind.name()))
  }

  /// Why `action: {action}` cannot run (a template made a value `check`
  /// could not see), naming the kind's actions.
  pub fn unknown_action(&self, action: &str) -> String {
    format!(
      "`{}`: `action: {action}` is not known: use {}",
      self.kind.name(),
      self.kind.actions().join(", ")
    )
  }

  /// A field as JSON (for nested maps such as `headers`), `null` if absent.
  pub fn json(&self, key: &str) -> serde_json::Value {
    self
      .map
      .get(key)
      .and_then(|v| serde_json::to_value(v).ok())
      .unwrap_or(serde_json::Value::Null)
  }

  /// A list field, also accepting one value or a comma-separated string.
  pub fn list(&self, key: &str) -> Vec<String> {
    match self.map.get(key) {
      Some(Value::Sequence(items)) => items
        .iter()
        .filter_map(|i| match i {
          Value::String(s) => Some(s.clone()),
          Value::Number(n) => Some(n.to_string()),
          _ => None,
        })
        .collect(),
      Some(_) => self
        .text(key)
        .map(|s| {
          s.split(',')
            .map(|p| p.trim().to_string())
            .filter(|p| !p.is_empty())
            .collect()
        })
        .unwrap_or_default(),
      None => Vec::new(),
    }
  }
}
