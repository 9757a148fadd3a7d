//! Parameter values: defaults, then `--params FILE`, then `--param k=v`,
//! then a prompt for what is still missing. All validated before step 1.

use std::fmt;
use std::path::{Path, PathBuf};

use crate::model::{Meta, Origin, Param};
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
        // `plan`'s placeholder for a secret nobody gave is shown as such.
        let secret = meta.param(n).is_some_and(|p| p.secret) && *v != format!("{{{{ {n} }}}}");
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
  /// `from:` could not be read.
  Source {
    name: String,
    message: String,
  },
  /// The operator ended the run at a parameter prompt.
  Quit(String),
  /// Ctrl-C at a parameter prompt.
  Interrupted(String),
  /// More than one of the above: every problem, not the first only.
  Several(Vec<ParamError>),
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
      Self::Source { name, message } => write!(f, "parameter `{name}`: cannot read {message}"),
      Self::Quit(name) => write!(f, "quit at the prompt for parameter `{name}` (Ctrl-D)"),
      Self::Interrupted(name) => {
        write!(
          f,
          "interrupted at the prompt for parameter `{name}` (Ctrl-C)"
        )
      }
      Self::Several(all) => {
        let lines: Vec<String> = all.iter().map(ToString::to_string).collect();
        write!(f, "{}", lines.join("\nerror: "))
      }
    }
  }
}

/// Why a prompt gave no value.
pub enum Unanswered {
  /// Nobody to ask: no terminal, or planning.
  NoTerminal,
  /// Ctrl-D (end of input) at a terminal.
  Quit,
  Interrupted,
}

/// How values nobody gave are found: read from their `from:` source, or
/// asked for (with why the previous answer was refused, if it was).
pub trait Sources {
  fn fetch(&mut self, param: &Param, origin: &Origin) -> Result<String, String>;
  fn ask(&mut self, param: &Param, refused: Option<&str>) -> Result<String, Unanswered>;
  /// Planning: what is fetched or asked is a placeholder, not validated.
  fn planning(&self) -> bool {
    false
  }
}

/// Values for a run: `from:` read for real (AWS through `aws`), and the
/// operator asked on `console` when there is one.
pub struct Live<'a> {
  pub console: Option<&'a crate::exec::Console>,
  pub aws: crate::aws::Session,
}

impl Sources for Live<'_> {
  fn fetch(&mut self, _: &Param, origin: &Origin) -> Result<String, String> {
    if origin.is_aws() {
      let aws = self.aws.get().map_err(|e| format!("{origin}: {e}"))?;
      crate::aws::secrets::fetch(aws, origin)
    } else {
      // No AWS session for an environment variable.
      std::env::var(match origin {
        Origin::Env(name) => name,
        _ => "",
      })
      .map_err(|_| format!("{origin}: not set"))
    }
  }

  fn ask(&mut self, param: &Param, refused: Option<&str>) -> Result<String, Unanswered> {
    use crate::exec::Answer;
    let Some(console) = self.console else {
      return Err(Unanswered::NoTerminal);
    };
    let mut prompt = String::new();
    if let Some(why) = refused {
      prompt.push_str(&format!("  {why}; try again\n"));
    }
    prompt.push_str(&format!("parameter `{}`", param.name));
    if let Some(d) = &param.description {
      prompt.push_str(&format!(" — {d}"));
    }
    if !param.choices.is_empty() {
      prompt.push_str(&format!(" [{}]", param.choices.join("|")));
    }
    prompt.push_str(" › ");
    match console.ask(&prompt, param.secret) {
      Answer::Line(value) => Ok(value),
      // End of input at a terminal is Ctrl-D: the operator's way out.
      Answer::Unavailable if console.interactive => Err(Unanswered::Quit),
      Answer::Unavailable => Err(Unanswered::NoTerminal),
      Answer::Interrupted => Err(Unanswered::Interrupted),
    }
  }
}

/// Values for `plan`: nothing is read or asked; what nobody gave stays
/// visible as `{{ name }}`, and is listed in `missing`.
#[derive(Default)]
pub struct Placeholders {
  pub missing: Vec<String>,
}

impl Sources for Placeholders {
  fn fetch(&mut self, param: &Param, _: &Origin) -> Result<String, String> {
    self.ask(param, None).map_err(|_| String::new())
  }

  fn ask(&mut self, param: &Param, _: Option<&str>) -> Result<String, Unanswered> {
    self.missing.push(param.name.clone());
    Ok(format!("{{{{ {} }}}}", param.name))
  }

  fn planning(&self) -> bool {
    true
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
      let text = crate::source::read_input_text(path).map_err(|e| file_error(e.to_string()))?;
      // Parsed as a plain value first: a typed parse's error would quote
      // the file's contents, and a params file holds secrets.
      if crate::parse::yaml::too_deep(&text).is_some() {
        return Err(file_error(crate::parse::yaml::depth_message()));
      }
      let value: serde_yaml::Value =
        serde_yaml::from_str(&text).map_err(|e| file_error(format!("invalid YAML: {e}")))?;
      let serde_yaml::Value::Mapping(map) = value else {
        return Err(file_error(format!(
          "must be a YAML mapping of NAME: VALUE lines, not {}",
          yaml_kind(&value)
        )));
      };
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

/// What a YAML value is, in words, without its contents.
fn yaml_kind(value: &serde_yaml::Value) -> &'static str {
  match value {
    serde_yaml::Value::Null => "an empty document",
    serde_yaml::Value::Bool(_) => "true or false",
    serde_yaml::Value::Number(_) => "a number",
    serde_yaml::Value::String(_) => "a string",
    serde_yaml::Value::Sequence(_) => "a list",
    serde_yaml::Value::Mapping(_) => "a mapping",
    serde_yaml::Value::Tagged(_) => "a tagged value",
  }
}

/// Resolves every declared parameter: given, else read from `from:`, else
/// the default, else asked (again while the answer is refused). Every
/// problem is reported, not the first only.
pub fn resolve(
  meta: &Meta,
  given: &Given,
  sources: &mut dyn Sources,
) -> Result<Params, ParamError> {
  let mut errors = Vec::new();
  for (name, _) in &given.pairs {
    if meta.param(name).is_none() {
      errors.push(ParamError::Unknown {
        name: name.clone(),
        known: meta.params.iter().map(|p| p.name.clone()).collect(),
      });
    }
  }
  let mut params = Params::default();
  for param in &meta.params {
    let given_value = given.pairs.iter().rev().find(|(n, _)| *n == param.name);
    // A placeholder stands for a value nobody gave: there is nothing to check.
    let placeholder = sources.planning()
      && given_value.is_none()
      && param.default.is_none()
      && (param.required || param.from.is_some());
    let value = match (given_value, &param.from, &param.default) {
      (Some((_, v)), _, _) => Ok(v.clone()),
      (None, _, _) if placeholder => Ok(sources.ask(param, None).unwrap_or_default()),
      (None, Some(origin), _) => {
        sources
          .fetch(param, origin)
          .map_err(|message| ParamError::Source {
            name: param.name.clone(),
            message,
          })
      }
      (None, None, Some(d)) => Ok(d.clone()),
      (None, None, None) if param.required => ask(param, sources),
      (None, None, None) => Ok(String::new()),
    };
    let value = match value {
      Ok(value) => value,
      Err(stop @ (ParamError::Quit(_) | ParamError::Interrupted(_))) => return Err(stop),
      Err(e) => {
        errors.push(e);
        continue;
      }
    };
    if (param.required || !value.is_empty())
      && !placeholder
      && let Some(reason) = param.reject(&value)
    {
      errors.push(invalid(param, value, reason));
      continue;
    }
    // A placeholder is no secret: `plan` shows `{{ token }}` as such.
    if param.secret && !placeholder {
      params.redactor.add(&param.name, &value);
    }
    params.values.push((param.name.clone(), value));
  }
  match errors.len() {
    0 => Ok(params),
    1 => Err(errors.remove(0)),
    _ => Err(ParamError::Several(errors)),
  }
}

/// Asks for `param` until an acceptable value is typed.
fn ask(param: &Param, sources: &mut dyn Sources) -> Result<String, ParamError> {
  let mut refused: Option<String> = None;
  loop {
    match sources.ask(param, refused.as_deref()) {
      Ok(value) => match param.reject(&value) {
        Some(reason) => refused = Some(invalid(param, value, reason).to_string()),
        None => return Ok(value),
      },
      Err(Unanswered::NoTerminal) => return Err(ParamError::Missing(param.name.clone())),
      Err(Unanswered::Quit) => return Err(ParamError::Quit(param.name.clone())),
      Err(Unanswered::Interrupted) => return Err(ParamError::Interrupted(param.name.clone())),
    }
  }
}

fn invalid(param: &Param, value: String, reason: String) -> ParamError {
  ParamError::Invalid {
    name: param.name.clone(),
    value: if param.secret {
      "[redacted]".into()
    } else {
      value
    },
    reason,
  }
}

#[cfg(test)]
mod tests {
  use super::*;
  use crate::model::Pattern;

  /// Answers prompts from a list; no `from:` source can be read.
  struct Answers(Vec<String>);

  impl Sources for Answers {
    fn fetch(&mut self, _: &Param, origin: &Origin) -> Result<String, String> {
      Err(format!("{origin}: not here"))
    }
    fn ask(&mut self, _: &Param, _: Option<&str>) -> Result<String, Unanswered> {
      if self.0.is_empty() {
        Err(Unanswered::NoTerminal)
      } else {
        Ok(self.0.remove(0))
      }
    }
  }

  fn none() -> Answers {
    Answers(Vec::new())
  }

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
    let p = resolve(&meta(), &given, &mut none()).expect("resolves");
    assert_eq!(p.get("env"), Some("dev"));
    assert_eq!(p.get("customer"), Some("acme"));
    assert_eq!(p.get("token"), Some(""));

    let bad = Given::new(&["customer=acme".into(), "env=qa".into()], None).expect("given");
    let err = resolve(&meta(), &bad, &mut none()).expect_err("choices");
    assert_eq!(
      err.to_string(),
      "parameter `env`: `qa` must be one of: prod, dev"
    );

    let err = resolve(&meta(), &Given::default(), &mut none()).expect_err("missing");
    assert_eq!(
      err.to_string(),
      "parameter `customer` is required and has no default: pass `--param customer=VALUE`"
    );
    // A refused answer is asked again; the next acceptable one is taken.
    let asked = resolve(
      &meta(),
      &Given::default(),
      &mut Answers(vec!["8x".into(), "acme".into()]),
    )
    .expect("asked again");
    assert_eq!(asked.get("customer"), Some("acme"));

    let err = Given::new(&["nope".into()], None).expect_err("syntax");
    assert_eq!(err.to_string(), "`--param nope`: expected NAME=VALUE");
    let unknown = Given::new(&["colour=red".into()], None).expect("given");
    let err = resolve(&meta(), &unknown, &mut none()).expect_err("unknown");
    assert_eq!(
      err.to_string(),
      "unknown parameter `colour`; declared: env, customer, token\nerror: parameter `customer` \
       is required and has no default: pass `--param customer=VALUE`"
    );
  }
}
