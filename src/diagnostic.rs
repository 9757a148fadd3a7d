//! Problems found in a runbook, each tied to a span of the file.
//!
//! The messages live here, next to the types, so every user-facing sentence
//! about a bad runbook can be read (and reviewed) in one place.

use std::fmt::{self, Write as _};

use crate::model::ActionKind;
use crate::source::{Source, Span};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Severity {
  Error,
  Warning,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
  FrontMatterYaml(String),
  FrontMatterNotMapping,
  FrontMatterUnclosed,
  FrontMatterType {
    field: String,
    expected: &'static str,
  },
  UnknownFrontMatterKey(String),
  /// The approval policy or its keyring cannot be used.
  Approvals(String),
  BadDocKind(String),
  BadParamName(String),
  ParamSpec {
    name: String,
    message: String,
  },
  BadPattern {
    name: String,
    message: String,
  },
  DefaultOutsideChoices {
    name: String,
    value: String,
  },
  DefaultMismatchesPattern {
    name: String,
    value: String,
  },
  AttributeSyntax(String),
  AttributeValue {
    attribute: String,
    value: String,
    expected: &'static str,
  },
  DuplicateAttribute(String),
  UnknownAttribute(String),
  /// A Runme attribute whose behaviour litops does not follow yet.
  RunmeNotFollowed(String),
  /// A Runme session output (`runme.session` in the front matter).
  RunmeSession,
  BadStepName(String),
  DuplicateStep {
    id: String,
    first_line: usize,
  },
  UnknownTemplateName {
    name: String,
    known: Vec<String>,
  },
  UnclosedTemplate,
  RhaiSyntax(String),
  UnknownGoto {
    id: String,
    close: Vec<String>,
  },
  UnknownStepRef {
    id: String,
    close: Vec<String>,
  },
  ConstantAssignment {
    root: &'static str,
    name: String,
  },
  BodyYaml {
    kind: &'static str,
    message: String,
  },
  UnknownField {
    kind: ActionKind,
    field: String,
  },
  UnknownAction {
    kind: ActionKind,
    action: String,
  },
  MissingAction(ActionKind),
  /// A near miss of a kind, on a block with step attributes.
  UnknownKind {
    kind: String,
    close: Vec<String>,
  },
  /// What the kind's own parse rejects (a bad value, a missing field).
  Spec(String),
  UnclosedFence,
  NoSteps,
  /// A `litops test` case that cannot be run as written.
  TestCase(String),
}

/// The known names closest to `name`, best first: what a typo meant.
pub fn close_matches<'a>(name: &str, known: impl IntoIterator<Item = &'a str>) -> Vec<String> {
  let mut scored: Vec<(f64, &str)> = known
    .into_iter()
    .map(|k| (strsim::jaro_winkler(name, k), k))
    .filter(|(score, _)| *score >= 0.8)
    .collect();
  scored.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(b.1)));
  scored
    .into_iter()
    .take(3)
    .map(|(_, k)| k.to_string())
    .collect()
}

/// `; did you mean `a` or `b`?` for close matches, else nothing.
pub fn did_you_mean(close: &[String]) -> String {
  match close {
    [] => String::new(),
    [one] => format!("; did you mean `{one}`?"),
    many => format!(
      "; did you mean {}?",
      many
        .iter()
        .map(|c| format!("`{c}`"))
        .collect::<Vec<_>>()
        .join(" or ")
    ),
  }
}

impl Problem {
  pub fn severity(&self) -> Severity {
    match self {
      Self::UnknownFrontMatterKey(_)
      | Self::UnknownAttribute(_)
      | Self::RunmeNotFollowed(_)
      | Self::UnclosedFence
      | Self::NoSteps => Severity::Warning,
      _ => Severity::Error,
    }
  }
}

impl fmt::Display for Problem {
  fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
    match self {
      Self::FrontMatterYaml(m) => write!(f, "invalid YAML in front matter: {m}"),
      Self::FrontMatterNotMapping => {
        write!(
          f,
          "front matter must be a YAML mapping (`title: …`, `params: …`)"
        )
      }
      Self::FrontMatterUnclosed => write!(
        f,
        "the file starts with `---` but its front matter is not closed by a `---` line \
         (with nothing else on it): nothing in it would be read"
      ),
      Self::FrontMatterType { field, expected } => write!(f, "`{field}` must be {expected}"),
      Self::UnknownFrontMatterKey(k) => write!(f, "unknown front matter key `{k}` is ignored"),
      Self::Approvals(m) | Self::TestCase(m) => f.write_str(m),
      Self::BadDocKind(k) => write!(f, "`kind: {k}` is not known: use `runbook` or `playbook`"),
      Self::BadParamName(n) => write!(
        f,
        "parameter name `{n}` must be letters, digits and `_`, not starting with a digit \
         (it becomes a shell variable)"
      ),
      Self::ParamSpec { name, message } => write!(f, "parameter `{name}`: {message}"),
      Self::BadPattern { name, message } => {
        write!(
          f,
          "parameter `{name}`: `pattern` is not a valid regular expression: {message}"
        )
      }
      Self::DefaultOutsideChoices { name, value } => {
        write!(
          f,
          "parameter `{name}`: default `{value}` is not one of its `choices`"
        )
      }
      Self::DefaultMismatchesPattern { name, value } => {
        write!(
          f,
          "parameter `{name}`: default `{value}` does not match its `pattern`"
        )
      }
      Self::AttributeSyntax(m) => write!(f, "bad attribute syntax: {m}"),
      Self::AttributeValue {
        attribute,
        value,
        expected,
      } => {
        write!(f, "attribute `{attribute}={value}`: expected {expected}")
      }
      Self::DuplicateAttribute(a) => write!(f, "attribute `{a}` is given twice"),
      Self::UnknownAttribute(a) => write!(f, "unknown attribute `{a}` is ignored"),
      Self::RunmeNotFollowed(a) => write!(
        f,
        "Runme's `{a}` is not followed by litops yet: the cell runs as if it were not there"
      ),
      Self::RunmeSession => write!(
        f,
        "this is a Runme session output (`runme.session` in the front matter): \
         a record of a run, not a runbook; run the document it came from"
      ),
      Self::BadStepName(n) => {
        write!(
          f,
          "step name `{n}` must be letters, digits, `-`, `_` or `.`"
        )
      }
      Self::DuplicateStep { id, first_line } => {
        write!(
          f,
          "step id `{id}` is already used by the step at line {first_line}"
        )
      }
      Self::UnknownTemplateName { name, known } => {
        write!(f, "`{{{{ {name} }}}}` names no parameter or variable")?;
        if known.is_empty() {
          write!(f, " (this runbook declares none)")
        } else {
          write!(f, "; known: {}", known.join(", "))
        }
      }
      Self::UnclosedTemplate => write!(f, "`{{{{` is not closed by `}}}}`"),
      Self::RhaiSyntax(m) => write!(f, "rhai syntax error: {m}"),
      Self::Spec(message) => write!(f, "{message}"),
      Self::UnknownKind { kind, close } => write!(
        f,
        "`{kind}` is not a kind of action, so this block would be prose and never run{}",
        did_you_mean(close)
      ),
      Self::UnknownGoto { id, close } => write!(
        f,
        "`goto(\"{id}\")` names no step in this runbook{}",
        did_you_mean(close)
      ),
      Self::UnknownStepRef { id, close } => write!(
        f,
        "`steps[\"{id}\"]` names no step in this runbook{}",
        did_you_mean(close)
      ),
      Self::ConstantAssignment { root, name } => write!(
        f,
        "`{root}.{name}` cannot be assigned: `{root}` is read-only; set `vars.{name}` instead"
      ),
      Self::BodyYaml { kind, message } => write!(f, "`{kind}` block is not valid YAML: {message}"),
      Self::UnknownField { kind, field } => write!(
        f,
        "`{}` has no field `{field}`; known: {}",
        kind.name(),
        kind.fields().join(", ")
      ),
      Self::UnknownAction { kind, action } => write!(
        f,
        "`{}` has no `action: {action}`; use {}",
        kind.name(),
        kind.actions().join(", ")
      ),
      Self::MissingAction(kind) => write!(
        f,
        "`{}` block needs `action:`, one of {}",
        kind.name(),
        kind.actions().join(", ")
      ),
      Self::UnclosedFence => write!(
        f,
        "code fence is never closed, so it runs to the end of the file"
      ),
      Self::NoSteps => write!(
        f,
        "no steps: no action blocks and no `- [ ]` checklist items"
      ),
    }
  }
}

/// serde_yaml's message without its "at line L column C", which counts from
/// the start of the YAML; the diagnostic says where in file terms.
pub fn yaml_message(error: &serde_yaml::Error) -> String {
  let message = error.to_string();
  message
    .split(" at line ")
    .next()
    .unwrap_or(&message)
    .to_string()
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
  pub problem: Problem,
  pub span: Option<Span>,
}

impl Diagnostic {
  pub fn new(problem: Problem, span: Span) -> Self {
    Self {
      problem,
      span: Some(span),
    }
  }

  pub fn whole_file(problem: Problem) -> Self {
    Self {
      problem,
      span: None,
    }
  }

  pub fn is_error(&self) -> bool {
    self.problem.severity() == Severity::Error
  }

  /// `path:line:col: error: message`, then the source line with a caret
  /// under the span.
  pub fn render(&self, source: &Source) -> String {
    let label = match self.problem.severity() {
      Severity::Error => "error",
      Severity::Warning => "warning",
    };
    let path = source.path.display();
    let Some(span) = self.span else {
      return format!("{path}: {label}: {}\n", self.problem);
    };
    let (line, col) = source.line_col(span.start);
    let mut out = format!("{path}:{line}:{col}: {label}: {}\n", self.problem);
    let text = source.line_text(line);
    let (end_line, end_col) = source.line_col(span.end);
    let width = if end_line == line && end_col > col {
      end_col - col
    } else {
      text.chars().count().saturating_sub(col - 1).max(1)
    };
    // A huge line (60 KB of `[`) is shown around the caret, not whole.
    let (text, col, width) = window(text, col, width);
    let gutter = line.to_string().len();
    let _ = writeln!(out, "{:gutter$} |", "");
    let _ = writeln!(out, "{line} | {text}");
    let _ = writeln!(
      out,
      "{:gutter$} | {}{}",
      "",
      " ".repeat(col - 1),
      "^".repeat(width)
    );
    out
  }
}

/// Characters of a snippet line shown on each side of the caret at most.
const SNIPPET: usize = 60;

/// The part of `text` around column `col` (1-based) that a snippet shows,
/// with `…` where it is cut, and the caret's column and width in it.
fn window(text: &str, col: usize, width: usize) -> (String, usize, usize) {
  let chars: Vec<char> = text.chars().collect();
  if chars.len() <= 2 * SNIPPET + width.min(SNIPPET) {
    return (text.to_string(), col, width);
  }
  let width = width.min(SNIPPET);
  let from = col.saturating_sub(1).saturating_sub(SNIPPET);
  let to = (col - 1 + width + SNIPPET).min(chars.len());
  let mut shown: String = chars[from..to].iter().collect();
  let mut col = col - from;
  if from > 0 {
    shown.insert(0, '…');
    col += 1;
  }
  if to < chars.len() {
    shown.push('…');
  }
  (shown, col, width)
}

#[cfg(test)]
mod tests {
  use super::*;
  use std::path::Path;

  #[test]
  fn a_long_line_is_shown_around_the_caret() {
    let line = format!("title: {}x{}", "[".repeat(500), "]".repeat(500));
    let src = Source::new(Path::new("rb.md"), format!("{line}\n"));
    let at = line.find('x').expect("x");
    let d = Diagnostic::new(Problem::FrontMatterNotMapping, Span::new(at, at + 1));
    let shown = d.render(&src);
    let snippet = shown.lines().nth(2).expect("snippet");
    assert_eq!(
      snippet,
      format!("1 | …{}x{}…", "[".repeat(60), "]".repeat(60))
    );
    assert_eq!(
      shown.lines().nth(3),
      Some(format!("  | {}^", " ".repeat(61)).as_str())
    );
  }

  #[test]
  fn renders_path_line_col_and_caret() {
    let src = Source::new(Path::new("rb.md"), "# T\n```sh {name=}\n```\n".into());
    let d = Diagnostic::new(
      Problem::AttributeSyntax("`name` has no value".into()),
      Span::new(8, 14),
    );
    assert_eq!(
      d.render(&src),
      "rb.md:2:5: error: bad attribute syntax: `name` has no value\n  |\n2 | ```sh {name=}\n  |     ^^^^^^\n"
    );
  }
}
