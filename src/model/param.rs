use regex::Regex;

#[derive(Debug, Clone)]
pub struct Pattern {
  pub source: String,
  pub regex: Regex,
}

impl Pattern {
  /// A pattern must match the whole value, as a form validator would.
  pub fn new(source: &str) -> Result<Self, regex::Error> {
    Ok(Self {
      source: source.to_string(),
      regex: Regex::new(&format!("^(?:{source})$"))?,
    })
  }

  pub fn matches(&self, value: &str) -> bool {
    self.regex.is_match(value)
  }
}

/// Where a parameter's value is read from when nobody gives it, so a
/// secret need not be typed or put on a command line (where `ps` shows it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
  /// `env:NAME`: an environment variable of litops's own process.
  Env(String),
  /// `ssm:/path`: an SSM Parameter Store parameter, SecureString decrypted.
  Ssm(String),
  /// `secretsmanager:NAME-or-ARN`: a Secrets Manager secret's current value.
  SecretsManager(String),
}

impl Origin {
  pub fn parse(text: &str) -> Result<Self, String> {
    let (scheme, name) = text.split_once(':').unwrap_or((text, ""));
    let name = name.trim();
    if name.is_empty() {
      return Err(format!(
        "`from: {text}`: expected env:NAME, ssm:/path/to/parameter or secretsmanager:NAME"
      ));
    }
    match scheme.trim() {
      "env" => Ok(Self::Env(name.into())),
      "ssm" => Ok(Self::Ssm(name.into())),
      "secretsmanager" => Ok(Self::SecretsManager(name.into())),
      other => Err(format!(
        "`from: {text}`: `{other}` is not a source; use env:, ssm: or secretsmanager:"
      )),
    }
  }

  pub fn is_aws(&self) -> bool {
    !matches!(self, Self::Env(_))
  }
}

impl std::fmt::Display for Origin {
  fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
    match self {
      Self::Env(n) => write!(f, "env:{n}"),
      Self::Ssm(n) => write!(f, "ssm:{n}"),
      Self::SecretsManager(n) => write!(f, "secretsmanager:{n}"),
    }
  }
}

#[derive(Debug, Clone, Default)]
pub struct Param {
  pub name: String,
  pub default: Option<String>,
  pub description: Option<String>,
  pub choices: Vec<String>,
  pub pattern: Option<Pattern>,
  pub required: bool,
  pub secret: bool,
  /// `from:`: where the value is read when it is not given.
  pub from: Option<Origin>,
}

impl Param {
  /// Why `value` is not acceptable, if it is not.
  pub fn reject(&self, value: &str) -> Option<String> {
    if !self.choices.is_empty() && !self.choices.iter().any(|c| c == value) {
      return Some(format!("must be one of: {}", self.choices.join(", ")));
    }
    match &self.pattern {
      Some(p) if !p.matches(value) => Some(format!("must match the pattern `{}`", p.source)),
      _ => None,
    }
  }
}
