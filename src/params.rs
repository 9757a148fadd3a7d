//! Parameter values: defaults, then `--params FILE`, then `--param k=v`,
//! then a prompt for what is still missing. All validated before step 1.

use std::fmt;
use std::path::{Path, PathBuf};

use crate::model::Meta;
use crate::redact::Redactor;

#[derive(Debug, Clone, Default)]
pub struct Params {
  /// In declaration order.
  pub values: Vec<(String, String)>,
  pub redactor: Redactor,
}

impl Params {
  pub fn get(&self, name: &str) -> Option<&str> {
    self
      .values
      .iter()
      .find(|(n, _)| n == name)
      .map(|(_, v)| v.as_str())
  }

  /// Values as the transcript shows them: secrets replaced.
  pub fn shown(&self, meta: &Meta) -> Vec<(String, String)> {
    self
      .values
      .iter()
      .map(|(n, v)| {
        let secret = meta.param(n).is_some_and(|p| p.secret);
        (
          n.clone(),
          if secret {
            format!("[redacted:{n}]")
          } else {
            v.clone()
          },
        )
      })
      .collect()
  }
}

#[derive(Debug)]
pub enum ParamError {
  Syntax(String),
  Unknown {
    name: String,
    known: Vec<String>,
  },
  File {
    path: PathBuf,
    message: String,
  },
  Missing(String),
  Invalid {
    name: String,
    value: String,
    reason: String,
  },
}

impl fmt::Display for ParamError {
  fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
    match self {
      Self::Syntax(arg) => write!(f, "`--param {arg}`: expected NAME=VALUE"),
      Self::Unknown { name, known } if known.is_empty() => {
        write!(
          f,
          "unknown parameter `{name}`: this runbook declares no parameters"
        )
      }
      Self::Unknown { name, known } => {
        write!(
          f,
          "unknown parameter `{name}`; declared: {}",
          known.join(", ")
        )
      }
      Self::File { path, message } => write!(f, "{}: {message}", path.display()),
      Self::Missing(name) => write!(
        f,
        "parameter `{name}` is required and has no default: pass `--param {name}=VALUE`"
      ),
      Self::Invalid {
        name,
        value,
        reason,
      } => {
        write!(f, "parameter `{name}`: `{value}` {reason}")
      }
    }
  }
}

/// The values given on the command line and in a params file, before
/// defaults and prompts.
#[derive(Debug, Default, Clone)]
pub struct Given {
  pub pairs: Vec<(String, String)>,
}

impl Given {
  pub fn new(args: &[String], file: Option<&Path>) -> Result<Self, ParamError> {
    let mut pairs = Vec::new();
    if let Some(path) = file {
      let file_error = |message: String| ParamError::File {
        path: path.to_path_buf(),
        message,
      };
      let text = std::fs::read_to_string(path).map_err(|e| file_error(e.to_string()))?;
      let map: serde_yaml::Mapping =
        serde_yaml::from_str(&text).map_err(|e| file_error(format!("invalid YAML: {e}")))?;
      for (k, v) in map {
        let key = k
          .as_str()
          .ok_or_else(|| file_error("keys must be strings".into()))?;
        let value = match v {
          serde_yaml::Value::String(s) => s,
          serde_yaml::Value::Number(n) => n.to_string(),
          serde_yaml::Value::Bool(b) => b.to_string(),
          _ => return Err(file_error(format!("`{key}` must be a single value"))),
        };
        pairs.push((key.to_string(), value));
      }
    }
    for arg in args {
      let (k, v) = arg
        .split_once('=')
        .ok_or_else(|| ParamError::Syntax(arg.clone()))?;
      if k.is_empty() {
        return Err(ParamError::Syntax(arg.clone()));
      }
      pairs.push((k.to_string(), v.to_string()));
    }
    Ok(Self { pairs })
  }
}

/// Resolves every declared parameter. `ask` is called for a required
/// parameter nobody gave (with whether it is secret); `None` means it
/// could not be asked.
pub fn resolve(
  meta: &Meta,
  given: &Given,
  mut ask: impl FnMut(&crate::model::Param) -> Option<String>,
) -> Result<Params, ParamError> {
  for (name, _) in &given.pairs {
    if meta.param(name).is_none() {
      return Err(ParamError::Unknown {
        name: name.clone(),
        known: meta.params.iter().map(|p| p.name.clone()).collect(),
      });
    }
  }
  let mut params = Params::default();
  for param in &meta.params {
    let given_value = given.pairs.iter().rev().find(|(n, _)| *n == param.name);
    let value = match (given_value, &param.default) {
      (Some((_, v)), _) => v.clone(),
      (None, Some(d)) => d.clone(),
      (None, None) if param.required => {
        ask(param).ok_or_else(|| ParamError::Missing(param.name.clone()))?
      }
      (None, None) => String::new(),
    };
    if (param.required || !value.is_empty())
      && let Some(reason) = param.reject(&value)
    {
      let shown = if param.secret {
        "[redacted]".into()
      } else {
        value
      };
      return Err(ParamError::Invalid {
        name: param.name.clone(),
        value: shown,
        reason,
      });
    }
    if param.secret {
      params.redactor.add(&param.name, &value);
    }
    params.values.push((param.name.clone(), value));
  }
  Ok(params)
}

#[cfg(test)]
mod tests {
  use super::*;
  use crate::model::{Param, Pattern};

  fn meta() -> Meta {
    Meta {
      params: vec![
        Param {
          name: "env".into(),
          default: Some("prod".into()),
          choices: vec!["prod".into(), "dev".into()],
          ..Param::default()
        },
        Param {
          name: "customer".into(),
          required: true,
          pattern: Pattern::new("[a-z]+").ok(),
          ..Param::default()
        },
        Param {
          name: "token".into(),
          secret: true,
          ..Param::default()
        },
      ],
      ..Meta::default()
    }
  }

  #[test]
  fn precedence_and_validation() {
    let given = Given::new(&["customer=acme".into(), "env=dev".into()], None).expect("given");
    let p = resolve(&meta(), &given, |_| None).expect("resolves");
    assert_eq!(p.get("env"), Some("dev"));
    assert_eq!(p.get("customer"), Some("acme"));
    assert_eq!(p.get("token"), Some(""));

    let bad = Given::new(&["customer=acme".into(), "env=qa".into()], None).expect("given");
    let err = resolve(&meta(), &bad, |_| None).expect_err("choices");
    assert_eq!(
      err.to_string(),
      "parameter `env`: `qa` must be one of: prod, dev"
    );

    let err = resolve(&meta(), &Given::default(), |_| None).expect_err("missing");
    assert_eq!(
      err.to_string(),
      "parameter `customer` is required and has no default: pass `--param customer=VALUE`"
    );
    let asked = resolve(&meta(), &Given::default(), |p| {
      Some(format!("{}x", p.name.len()))
    })
    .expect_err("pattern");
    assert_eq!(
      asked.to_string(),
      "parameter `customer`: `8x` must match the pattern `[a-z]+`"
    );

    let err = Given::new(&["nope".into()], None).expect_err("syntax");
    assert_eq!(err.to_string(), "`--param nope`: expected NAME=VALUE");
    let unknown = Given::new(&["colour=red".into()], None).expect("given");
    let err = resolve(&meta(), &unknown, |_| None).expect_err("unknown");
    assert_eq!(
      err.to_string(),
      "unknown parameter `colour`; declared: env, customer, token"
    );
  }
}
