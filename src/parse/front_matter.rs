//! YAML front matter → [`Meta`], with a diagnostic for every field that is
//! wrong rather than only the first.

use serde_yaml::Value;

use crate::diagnostic::{Diagnostic, Problem};
use crate::model::{DocKind, Meta, Origin, Param, Pattern};
use crate::parse::FrontMatter;
use crate::source::Span;

const KEYS: &[&str] = &[
  "title",
  "kind",
  "description",
  "owner",
  "tags",
  "params",
  "aws",
  "prefetch",
  "max-visits",
  "approvals",
  "notify",
  "runme",
];

/// `approvals: {mutating: 1, keyring: approvers.yaml, expires: 30m,
/// os-identity: distinct}`.
fn approvals(value: &Value) -> Result<crate::approval::Policy, &'static str> {
  const EXPECTED: &str = "a mapping: `mutating` (a whole number), `keyring` (a file), \
    `expires` (a duration such as 30m), `os-identity` (`distinct` or `shared`) and `notify` \
    (an SNS topic ARN)";
  let Value::Mapping(map) = value else {
    return Err(EXPECTED);
  };
  let mut policy = crate::approval::Policy::default();
  for (key, value) in map {
    match (key.as_str(), value) {
      (Some("mutating"), v) => {
        policy.mutating = v
          .as_u64()
          .and_then(|n| usize::try_from(n).ok())
          .ok_or(EXPECTED)?;
      }
      (Some("keyring"), Value::String(path)) if !path.is_empty() => {
        policy.keyring = Some(path.into());
      }
      (Some("expires"), v) => {
        policy.expires = scalar(v)
          .and_then(|t| crate::check::parse_duration(&t))
          .ok_or(EXPECTED)?;
      }
      (Some("os-identity"), Value::String(s)) if s == "distinct" || s == "shared" => {
        policy.shared_os_identity = s == "shared";
      }
      (Some("notify"), Value::String(topic)) if topic.starts_with("arn:") => {
        policy.notify = Some(topic.clone());
      }
      _ => return Err(EXPECTED),
    }
  }
  Ok(policy)
}

pub fn parse_front_matter(fm: &FrontMatter, diagnostics: &mut Vec<Diagnostic>) -> Meta {
  let mut meta = Meta::default();
  if fm.text.trim().is_empty() {
    return meta;
  }
  let value = match super::yaml::value(&fm.text) {
    Ok(v) => v,
    Err(e) => {
      let span = e.at.map_or(fm.span, |at| {
        let at = fm.span.start + at;
        Span::new(at, at + 1)
      });
      diagnostics.push(Diagnostic::new(Problem::FrontMatterYaml(e.message), span));
      return meta;
    }
  };
  let Value::Mapping(map) = value else {
    diagnostics.push(Diagnostic::new(Problem::FrontMatterNotMapping, fm.span));
    return meta;
  };
  let locate = |path: &[&str]| key_span(fm, path);
  let wrong = |diagnostics: &mut Vec<Diagnostic>, field: &str, expected: &'static str| {
    diagnostics.push(Diagnostic::new(
      Problem::FrontMatterType {
        field: field.to_string(),
        expected,
      },
      key_span(fm, &[field]),
    ));
  };
  let mut params = None;
  for (key, value) in &map {
    let Some(key) = key.as_str() else { continue };
    match key {
      "title" | "description" | "owner" => match scalar(value) {
        Some(s) => {
          let slot = match key {
            "title" => &mut meta.title,
            "description" => &mut meta.description,
            _ => &mut meta.owner,
          };
          *slot = Some(s);
        }
        None => wrong(diagnostics, key, "a string"),
      },
      "kind" => match value.as_str() {
        Some("runbook") => meta.kind = DocKind::Runbook,
        Some("playbook") => meta.kind = DocKind::Playbook,
        _ => {
          let shown = scalar(value).unwrap_or_else(|| "…".into());
          diagnostics.push(Diagnostic::new(
            Problem::BadDocKind(shown),
            locate(&["kind"]),
          ));
        }
      },
      "tags" => match value {
        Value::Sequence(items) => meta.tags = items.iter().filter_map(scalar).collect(),
        Value::String(s) => meta.tags = s.split(',').map(|t| t.trim().to_string()).collect(),
        _ => wrong(diagnostics, "tags", "a list of strings"),
      },
      "params" => params = Some(value),
      // Runme's own settings (its document id, version): read by Runme,
      // and what marks the document as written for it.
      // Runme's working directory for every cell; litops's own documents
      // have no such key.
      "cwd" if map.contains_key("runme") => match scalar(value) {
        Some(dir) => meta.cwd = Some(dir),
        None => wrong(diagnostics, "cwd", "a directory"),
      },
      "skipPrompts" if map.contains_key("runme") => match value {
        Value::Bool(skip) => meta.skip_prompts = *skip,
        _ => wrong(diagnostics, "skipPrompts", "true or false"),
      },
      "shell" if map.contains_key("runme") => match scalar(value) {
        Some(shell) => meta.shell = Some(shell),
        None => wrong(diagnostics, "shell", "a program such as zsh"),
      },
      "runme" => {
        meta.dialect = crate::model::Dialect::Runme;
        if value.get("session").is_some() {
          diagnostics.push(Diagnostic::new(
            Problem::RunmeSession,
            locate(&["runme", "session"]),
          ));
        }
      }
      "prefetch" => match value {
        Value::Bool(on) => meta.prefetch = *on,
        _ => wrong(diagnostics, "prefetch", "true or false"),
      },
      "max-visits" => match value.as_u64() {
        Some(n) if n > 0 => meta.max_visits = Some(n as usize),
        _ => wrong(diagnostics, "max-visits", "a whole number of at least 1"),
      },
      "notify" => match value {
        Value::Sequence(items) => meta.notify = items.iter().filter_map(scalar).collect(),
        Value::String(s) => meta.notify = vec![s.clone()],
        _ => wrong(
          diagnostics,
          "notify",
          "a channel or a list: sns:TOPIC-ARN, slack:",
        ),
      },
      "approvals" => match approvals(value) {
        Ok(policy) => meta.approvals = Some(policy),
        Err(expected) => wrong(diagnostics, "approvals", expected),
      },
      "aws" => match value {
        Value::Mapping(aws) => {
          for (k, v) in aws {
            match (k.as_str(), scalar(v)) {
              (Some("region"), Some(r)) => meta.aws_region = Some(r),
              (Some("profile"), Some(p)) => meta.aws_profile = Some(p),
              _ => wrong(diagnostics, "aws", "a mapping with `region` and `profile`"),
            }
          }
        }
        _ => wrong(diagnostics, "aws", "a mapping with `region` and `profile`"),
      },
      _ => {}
    }
  }
  for key in map.keys().filter_map(Value::as_str) {
    let runme_cwd = ["cwd", "shell", "skipPrompts"].contains(&key) && map.contains_key("runme");
    if !(KEYS.contains(&key) || runme_cwd) {
      diagnostics.push(Diagnostic::new(
        Problem::UnknownFrontMatterKey(key.to_string()),
        locate(&[key]),
      ));
    }
  }
  match params {
    None | Some(Value::Null) => {}
    Some(Value::Mapping(specs)) => {
      for (name, spec) in specs {
        let Some(name) = name.as_str() else { continue };
        if let Some(param) = parse_param(fm, name, spec, diagnostics) {
          meta.params.push(param);
        }
      }
    }
    Some(_) => diagnostics.push(Diagnostic::new(
      Problem::FrontMatterType {
        field: "params".into(),
        expected: "a mapping of parameter names to their specs",
      },
      locate(&["params"]),
    )),
  }
  meta
}

fn parse_param(
  fm: &FrontMatter,
  name: &str,
  spec: &Value,
  diagnostics: &mut Vec<Diagnostic>,
) -> Option<Param> {
  let span = key_span(fm, &["params", name]);
  let valid_name = name
    .chars()
    .next()
    .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
    && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
  if !valid_name {
    diagnostics.push(Diagnostic::new(Problem::BadParamName(name.into()), span));
    return None;
  }
  let mut param = Param {
    name: name.to_string(),
    required: true,
    ..Param::default()
  };
  let problem = |diagnostics: &mut Vec<Diagnostic>, field: &str, message: String| {
    diagnostics.push(Diagnostic::new(
      Problem::ParamSpec {
        name: name.to_string(),
        message,
      },
      key_span(fm, &["params", name, field]),
    ));
  };
  let spec = match spec {
    Value::Null => return Some(param),
    Value::Mapping(m) => m,
    // `customer: acme` is shorthand for a default.
    other => match scalar(other) {
      Some(default) => {
        param.default = Some(default);
        param.required = false;
        return Some(param);
      }
      None => {
        problem(
          diagnostics,
          name,
          "expected a mapping with `default`, `description`, …".into(),
        );
        return None;
      }
    },
  };
  let mut explicit_required = None;
  let mut explicit_secret = None;
  for (key, value) in spec {
    let Some(key) = key.as_str() else { continue };
    match key {
      "default" => match scalar(value) {
        Some(v) => param.default = Some(v),
        None => problem(diagnostics, key, "`default` must be a single value".into()),
      },
      "description" => param.description = scalar(value),
      "choices" => match value {
        Value::Sequence(items) => param.choices = items.iter().filter_map(scalar).collect(),
        _ => problem(diagnostics, key, "`choices` must be a list".into()),
      },
      "pattern" => match value.as_str().map(Pattern::new) {
        Some(Ok(p)) => param.pattern = Some(p),
        Some(Err(e)) => diagnostics.push(Diagnostic::new(
          Problem::BadPattern {
            name: name.into(),
            message: e
              .to_string()
              .lines()
              .last()
              .unwrap_or("")
              .trim()
              .to_string(),
          },
          key_span(fm, &["params", name, key]),
        )),
        None => problem(diagnostics, key, "`pattern` must be a string".into()),
      },
      "required" => match value.as_bool() {
        Some(b) => explicit_required = Some(b),
        None => problem(diagnostics, key, "`required` must be true or false".into()),
      },
      "secret" => match value.as_bool() {
        Some(b) => explicit_secret = Some(b),
        None => problem(diagnostics, key, "`secret` must be true or false".into()),
      },
      "from" => match value.as_str().map(Origin::parse) {
        Some(Ok(origin)) => param.from = Some(origin),
        Some(Err(message)) => problem(diagnostics, key, message),
        None => problem(
          diagnostics,
          key,
          "`from` must be a string such as `env:NAME`".into(),
        ),
      },
      _ => diagnostics.push(Diagnostic::new(
        Problem::UnknownFrontMatterKey(format!("params.{name}.{key}")),
        key_span(fm, &["params", name, key]),
      )),
    }
  }
  // A parameter with a default never needs asking for; without one it
  // must be given unless the author says otherwise.
  param.required = explicit_required.unwrap_or(param.default.is_none());
  // A value read from a secret store is a secret unless the author says not.
  param.secret = explicit_secret.unwrap_or(param.from.is_some());
  if let Some(default) = &param.default {
    if !param.choices.is_empty() && !param.choices.contains(default) {
      diagnostics.push(Diagnostic::new(
        Problem::DefaultOutsideChoices {
          name: name.into(),
          value: default.clone(),
        },
        key_span(fm, &["params", name, "default"]),
      ));
    } else if param.pattern.as_ref().is_some_and(|p| !p.matches(default)) {
      diagnostics.push(Diagnostic::new(
        Problem::DefaultMismatchesPattern {
          name: name.into(),
          value: default.clone(),
        },
        key_span(fm, &["params", name, "default"]),
      ));
    }
  }
  Some(param)
}

fn scalar(value: &Value) -> Option<String> {
  match value {
    Value::String(s) => Some(s.clone()),
    Value::Bool(b) => Some(b.to_string()),
    Value::Number(n) => Some(n.to_string()),
    _ => None,
  }
}

/// The span of `key:` for a path of nested keys; the front matter's start
/// when the first is not there.
fn key_span(fm: &FrontMatter, path: &[&str]) -> Span {
  let (start, end) = super::yaml::key_span(&fm.text, 0, path).unwrap_or((0, 0));
  Span::new(fm.span.start + start, fm.span.start + end)
}

#[cfg(test)]
mod tests {
  use super::*;
  use crate::parse::parse;

  fn meta(text: &str) -> (Meta, Vec<(usize, String)>) {
    let doc = parse(text);
    let fm = doc.front_matter.expect("front matter");
    let mut diagnostics = Vec::new();
    let meta = parse_front_matter(&fm, &mut diagnostics);
    let problems = diagnostics
      .iter()
      .map(|d| (d.span.map_or(0, |s| s.start), d.problem.to_string()))
      .collect();
    (meta, problems)
  }

  #[test]
  fn full_front_matter() {
    let (meta, problems) = meta(
      "---\ntitle: Check\nkind: playbook\nprefetch: true\ntags: [a, b]\nparams:\n  customer:\n    choices: [acme, globex]\n  env: prod\n  token:\n    secret: true\n    required: false\n---\n",
    );
    assert!(problems.is_empty(), "{problems:?}");
    assert_eq!(meta.title.as_deref(), Some("Check"));
    assert_eq!(meta.kind, DocKind::Playbook);
    assert!(meta.prefetch);
    assert_eq!(meta.tags, ["a", "b"]);
    let names: Vec<_> = meta
      .params
      .iter()
      .map(|p| (p.name.as_str(), p.required, p.secret))
      .collect();
    assert_eq!(
      names,
      [
        ("customer", true, false),
        ("env", false, false),
        ("token", false, true)
      ]
    );
    assert_eq!(meta.params[1].default.as_deref(), Some("prod"));
  }

  #[test]
  fn problems_point_at_their_keys() {
    let text = "---\nkind: notebook\nweight: 3\nprefetch: soon\nparams:\n  env:\n    default: dev\n    choices: [prod]\n  bad-name: x\n  r:\n    pattern: '('\n---\n";
    let (_, problems) = meta(text);
    let at = |needle: &str| text.find(needle).expect(needle);
    assert_eq!(
      problems,
      vec![
        (at("kind"), "`kind: notebook` is not known: use `runbook` or `playbook`".into()),
        (at("prefetch"), "`prefetch` must be true or false".into()),
        (at("weight"), "unknown front matter key `weight` is ignored".into()),
        (at("default"), "parameter `env`: default `dev` is not one of its `choices`".into()),
        (
          at("bad-name"),
          "parameter name `bad-name` must be letters, digits and `_`, not starting with a digit (it becomes a shell variable)".into()
        ),
        (at("pattern"), "parameter `r`: `pattern` is not a valid regular expression: error: unclosed group".into()),
      ]
    );
  }

  #[test]
  fn invalid_yaml_points_into_the_file() {
    let text = "---\ntitle: [unclosed\n---\n";
    let (_, problems) = meta(text);
    assert_eq!(problems.len(), 1);
    assert!(
      problems[0].1.starts_with("invalid YAML in front matter"),
      "{problems:?}"
    );
    assert!(problems[0].0 >= 4, "{problems:?}");
  }
}
