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

#[derive(Debug, Clone, Default)]
pub struct Param {
  pub name: String,
  pub default: Option<String>,
  pub description: Option<String>,
  pub choices: Vec<String>,
  pub pattern: Option<Pattern>,
  pub required: bool,
  pub secret: bool,
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
