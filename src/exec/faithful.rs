//! A parameter's value fills its `{{ }}` in a declarative body as text, so
//! a value with a line break or YAML syntax could add a field (`3\nwait:
//! false`), split a list (`a, b`) or cut a value short (`acme #`). What the
//! operator approves must be what runs: the body filled in is compared
//! with the body as written, each placeholder standing for one whole value.

use std::collections::BTreeMap;

use serde_yaml::Value;

use crate::model::ActionKind;
use crate::template;

/// Why the filled-in `text` of a `kind` body is not `template` with each
/// placeholder replaced by its value, if it is not.
pub fn check(
  kind: ActionKind,
  template: &str,
  filled: &str,
  value: impl Fn(&str) -> Option<String>,
) -> Result<(), String> {
  let (template, filled) = match kind {
    // The request line is two words; the rest is YAML.
    ActionKind::Http => {
      let (line, rest) = template.split_once('\n').unwrap_or((template, ""));
      let (filled_line, filled_rest) = filled.split_once('\n').unwrap_or((filled, ""));
      let marked = template::render(line, |_| Some("litopsvalue".into()));
      if marked.split_whitespace().count() != filled_line.split_whitespace().count() {
        return Err(broken(kind, "its first line"));
      }
      (rest, filled_rest)
    }
    // The header before `---` is YAML; the query after it is text.
    ActionKind::LogsInsights => match (split_header(template), split_header(filled)) {
      (Some(t), Some(f)) => (t, f),
      (None, None) => return Ok(()),
      _ => return Err(broken(kind, "its header")),
    },
    _ => (template, filled),
  };
  let Ok(found) = template::placeholders(template) else {
    return Ok(());
  };
  if found.is_empty() {
    return Ok(());
  }
  // Each placeholder becomes a word YAML reads as a plain string.
  let mut marked = String::with_capacity(template.len());
  let mut last = 0;
  for (i, p) in found.iter().enumerate() {
    marked.push_str(&template[last..p.range.start]);
    marked.push_str(&format!("litopsvalue{i}x"));
    last = p.range.end;
  }
  marked.push_str(&template[last..]);
  let names: Vec<&str> = found.iter().map(|p| p.name).collect();
  let (Ok(written), Ok(ran)) = (
    serde_yaml::from_str::<Value>(&marked),
    serde_yaml::from_str::<Value>(filled),
  ) else {
    // Invalid YAML either way is reported by the kind's own parse.
    return Ok(());
  };
  let values: Vec<String> = names.iter().map(|n| value(n).unwrap_or_default()).collect();
  if same(&fill(&written, &values), &ran) {
    Ok(())
  } else {
    Err(broken(kind, "its YAML"))
  }
}

fn broken(kind: ActionKind, part: &str) -> String {
  format!(
    "`{}`: a parameter or variable's value changes {part} (a line break, `#`, `,`, `:` or brackets \
     in a value would add, split or cut fields): what would run is not the block as written",
    kind.name()
  )
}

fn split_header(text: &str) -> Option<&str> {
  let end = text.lines().position(|l| l.trim() == "---")?;
  let bytes: usize = text.lines().take(end).map(|l| l.len() + 1).sum();
  text.get(..bytes)
}

/// `written` with each marker replaced by its value, as a string.
fn fill(written: &Value, values: &[String]) -> Value {
  let text = |s: &str| {
    let mut out = s.to_string();
    for (i, v) in values.iter().enumerate().rev() {
      out = out.replace(&format!("litopsvalue{i}x"), v);
    }
    out
  };
  match written {
    Value::String(s) => Value::String(text(s)),
    Value::Sequence(items) => Value::Sequence(items.iter().map(|v| fill(v, values)).collect()),
    Value::Mapping(map) => Value::Mapping(
      map
        .iter()
        .map(|(k, v)| (fill(k, values), fill(v, values)))
        .collect(),
    ),
    other => other.clone(),
  }
}

/// The same YAML, a value filled in as a string matching what YAML made of
/// it (`3` a number, `true` a bool).
fn same(expected: &Value, ran: &Value) -> bool {
  match (expected, ran) {
    (Value::String(e), Value::String(r)) => e == r,
    (Value::String(e), Value::Number(n)) => {
      e.trim().parse::<f64>().ok() == n.as_f64() || *e == n.to_string()
    }
    (Value::String(e), Value::Bool(b)) => e.eq_ignore_ascii_case(&b.to_string()),
    (Value::String(e), Value::Null) => matches!(e.as_str(), "" | "~" | "null" | "Null" | "NULL"),
    (Value::Sequence(e), Value::Sequence(r)) => {
      e.len() == r.len() && e.iter().zip(r).all(|(a, b)| same(a, b))
    }
    (Value::Mapping(e), Value::Mapping(r)) => {
      let key = |v: &Value| match v {
        Value::String(s) => s.clone(),
        other => serde_yaml::to_string(other).unwrap_or_default(),
      };
      let e: BTreeMap<String, &Value> = e.iter().map(|(k, v)| (key(k), v)).collect();
      let r: BTreeMap<String, &Value> = r.iter().map(|(k, v)| (key(k), v)).collect();
      e.len() == r.len()
        && e
          .iter()
          .all(|(k, v)| r.get(k).is_some_and(|rv| same(v, rv)))
    }
    (Value::Tagged(e), Value::Tagged(r)) => e.tag == r.tag && same(&e.value, &r.value),
    (e, r) => e == r,
  }
}

#[cfg(test)]
mod tests {
  use super::*;

  fn check_with(kind: ActionKind, template: &str, value: &str) -> Result<(), String> {
    let filled = template::render(template, |_| Some(value.to_string()));
    check(kind, template, &filled, |_| Some(value.to_string()))
  }

  #[test]
  fn values_that_change_the_yaml_are_caught_and_honest_ones_pass() {
    let ecs = "action: scale\ncluster: c\nservice: s\ndesired: {{ n }}\n";
    for honest in ["3", "03", "-1", "true", "a b", "x-y", "acme's"] {
      assert_eq!(check_with(ActionKind::Ecs, ecs, honest), Ok(()), "{honest}");
    }
    for injected in ["3\nwait: false", "3 # comment", "[1, 2]", "{a: 1}"] {
      assert!(
        check_with(ActionKind::Ecs, ecs, injected).is_err(),
        "{injected:?}"
      );
    }
    let list = "action: describe\ncluster: c\nservices: [{{ s }}]\n";
    assert!(check_with(ActionKind::Ecs, list, "api, admin").is_err());
    assert_eq!(check_with(ActionKind::Ecs, list, "api"), Ok(()));
    let prefix = "action: alarms\nprefix: acme-{{ env }}-\n";
    assert_eq!(check_with(ActionKind::CloudWatch, prefix, "prod"), Ok(()));
    assert!(check_with(ActionKind::CloudWatch, prefix, "prod #").is_err());
    let http = "GET https://{{ host }}/health\nexpect-status: 200\n";
    assert_eq!(check_with(ActionKind::Http, http, "example.com"), Ok(()));
    assert!(check_with(ActionKind::Http, http, "a.com/x b.com").is_err());
    let logs =
      "log-groups: [/ecs/{{ c }}]\n---\nfields @message | filter @message like /{{ c }}/\n";
    assert_eq!(check_with(ActionKind::LogsInsights, logs, "api"), Ok(()));
    assert!(check_with(ActionKind::LogsInsights, logs, "api, /secret/group").is_err());
  }
}
