//! Runme's rules, for documents written for Runme: how it names a cell that
//! has no `name`, and how it marks a document as its own. Following
//! runmedev/runme (`document/block.go`, `internal/shell`), so `litops run
//! --only NAME` takes the names `runme run NAME` does.

use std::path::Path;

use crate::model::{ActionKind, Cell, Meta};
use crate::parse::Attribute;

/// A fence's attributes in Runme's JSON form (```` ```sh {"name":"x"} ````).
pub fn json_attributes(info: &str) -> bool {
  info
    .find('{')
    .is_some_and(|at| info[at + 1..].trim_start().starts_with('"'))
}

/// Whether Runme keeps a fenced block as Markdown rather than a cell: a
/// diagram, or a block marked `ignore` or `transform=false`.
pub fn not_a_cell(language: &str, attributes: &[Attribute]) -> bool {
  let set = |key: &str, value: &str| {
    attributes
      .iter()
      .any(|a| a.key == key && a.value.eq_ignore_ascii_case(value))
  };
  language == "mermaid" || set("ignore", "true") || set("transform", "false")
}

/// A top-level `export NAME=VALUE` of a shell cell that Runme asks the
/// operator about (`promptEnv`): a quoted value is the answer's default,
/// an unquoted one only says what to type (and is kept as written when
/// nobody is asked), a bracketed one (`[Enter value]`) has no value at all.
#[derive(Debug, PartialEq, Eq)]
pub struct Placeholder {
  /// Index of the line it is on.
  pub line: usize,
  pub name: String,
  pub default: Option<String>,
  pub message: String,
  /// `[…]`: there is nothing to run with unless someone answers.
  pub bracketed: bool,
}

/// The placeholders of a cell's code, in order. A value that expands
/// anything (`$HOME`, `$(date)`, a backtick) is code, not a placeholder.
pub fn placeholders(code: &str) -> Vec<Placeholder> {
  let mut found = Vec::new();
  for (line, text) in code.lines().enumerate() {
    let Some(rest) = text.trim().strip_prefix("export ") else {
      continue;
    };
    let Some((name, value)) = rest.trim_start().split_once('=') else {
      continue;
    };
    let identifier = name
      .chars()
      .next()
      .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
      && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !identifier || value.contains('$') || value.contains('`') {
      continue;
    }
    let quoted = ['"', '\''].into_iter().find_map(|q| {
      value
        .strip_prefix(q)
        .and_then(|v| v.strip_suffix(q))
        .filter(|inner| !inner.contains(q))
    });
    let placeholder = match quoted {
      Some(default) => Placeholder {
        line,
        name: name.to_string(),
        default: Some(default.to_string()),
        message: String::new(),
        bracketed: false,
      },
      // Quotes elsewhere (`a"b"c`) are shell syntax litops will not guess at.
      None if value.contains(['"', '\'']) => continue,
      None => {
        let value = value.trim();
        let bracketed = value.starts_with('[') && value.ends_with(']');
        Placeholder {
          line,
          name: name.to_string(),
          default: None,
          message: value
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_string(),
          bracketed,
        }
      }
    };
    found.push(placeholder);
  }
  found
}

/// `code` with each placeholder's line replaced by an export of its
/// answer, quoted for the shell.
pub fn answered(code: &str, answers: &[(&Placeholder, String)]) -> String {
  let mut lines: Vec<String> = code.lines().map(String::from).collect();
  for (placeholder, answer) in answers {
    if let Some(line) = lines.get_mut(placeholder.line) {
      let indent = &line[..line.len() - line.trim_start().len()];
      *line = format!(
        "{indent}export {}='{}'",
        placeholder.name,
        answer.replace('\'', "'\\''")
      );
    }
  }
  let mut out = lines.join("\n");
  if code.ends_with('\n') {
    out.push('\n');
  }
  out
}

/// Whether a variable's name says it holds a secret: its answer is typed
/// unseen and masked wherever it is shown or recorded.
pub fn secret_name(name: &str) -> bool {
  let upper = name.to_ascii_uppercase();
  [
    "PASSWORD",
    "PASSWD",
    "SECRET",
    "TOKEN",
    "KEY",
    "CREDENTIAL",
    "PASS",
  ]
  .iter()
  .any(|word| upper.contains(word))
}

/// How Runme runs a cell of kind `kind` with these attributes in a
/// document with this front matter (at `document`), its code `body`.
pub fn cell(
  kind: ActionKind,
  attributes: &[Attribute],
  meta: &Meta,
  document: &Path,
  body: &str,
) -> Cell {
  let attribute = |key: &str| {
    attributes
      .iter()
      .find(|a| a.key == key)
      .map(|a| a.value.as_str())
  };
  let shell = matches!(kind, ActionKind::Shell(_));
  let interpreter = attribute("interpreter")
    .map(str::to_string)
    .or(meta.shell.clone().filter(|_| shell))
    .map(|program| {
      program
        .split_whitespace()
        .map(String::from)
        .collect::<Vec<_>>()
    })
    .filter(|words| !words.is_empty());
  // Runme asks unless the cell says false, no or 0.
  let prompts = attribute("promptEnv")
    .is_none_or(|v| !["false", "no", "0"].contains(&v.to_lowercase().as_str()));
  let background = shell && attribute("background").is_some_and(go_true);
  Cell {
    fail_fast: shell,
    // A background cell ends after the run's last step: nothing to carry.
    carries_exports: shell && !background,
    cwd: attribute("cwd")
      .or(meta.cwd.as_deref())
      .map(|cwd| document.parent().unwrap_or(Path::new("")).join(cwd)),
    interpreter,
    prompts_env: shell
      && prompts
      && !meta.skip_prompts
      && !placeholders(&without_prompts(body)).is_empty(),
    background,
    interactive: attribute("interactive").is_some_and(go_true),
  }
}

/// True as Go's `strconv.ParseBool` reads it (Runme's attributes).
pub fn go_true(value: &str) -> bool {
  ["true", "True", "TRUE", "t", "T", "1"].contains(&value)
}

/// False as Go's `strconv.ParseBool` reads it.
pub fn go_false(value: &str) -> bool {
  ["false", "False", "FALSE", "f", "F", "0"].contains(&value)
}

/// A shell cell's commands as copied from a terminal: `$ ` prompts dropped
/// (`$ kubectl get pods` runs `kubectl get pods`); other lines, `$HOME/bin`
/// among them, as written.
pub fn without_prompts(body: &str) -> String {
  body
    .split_inclusive('\n')
    .map(|line| line.strip_prefix("$ ").unwrap_or(line))
    .collect()
}

/// The name Runme gives a cell without one: from its first line that is
/// not a comment (prompts `$` dropped), the part before a `=` when it sets
/// a variable, at most 32 bytes, its first two words, lowercased, words
/// joined by `-`, anything but ASCII letters and digits dropped.
pub fn name(body: &str) -> String {
  let lines: Vec<&str> = body
    .lines()
    .map(|l| l.trim_start_matches('$').trim_end())
    .collect();
  let first = lines
    .iter()
    .map(|l| l.trim())
    .filter_map(|l| l.split('#').next())
    .find(|code| !code.is_empty())
    .map(str::trim_end)
    .or_else(|| lines.first().copied())
    .unwrap_or_default();
  sanitize(first)
}

fn sanitize(line: &str) -> String {
  if let Some(at) = line.find('=').filter(|&at| at > 0) {
    return sanitize(&line[..at]);
  }
  // 32 bytes, as Runme slices; a character cut in two is dropped below.
  let bytes = &line.as_bytes()[..line.len().min(32)];
  let cut = String::from_utf8_lossy(bytes);
  let words: Vec<&str> = cut.split(' ').collect();
  let kept = words[..words.len().min(2)].join(" ");
  let mut out = String::new();
  for c in kept.chars().flat_map(char::to_lowercase) {
    if c == ' ' && !out.is_empty() {
      out.push('-');
    } else if c.is_ascii_lowercase() || c.is_ascii_digit() {
      out.push(c);
    }
  }
  out
}

#[cfg(test)]
mod tests {
  use super::*;

  #[test]
  fn names_as_runme_gives_them() {
    for (body, want) in [
      ("echo hello\n", "echo-hello"),
      ("echo hello world\n", "echo-hello"),
      ("$ echo hello\n", "echo-hello"),
      ("# set it up\nexport NAME=world\n", "export-name"),
      ("#!/bin/bash\nset -e\nls\n", "set-e"),
      ("FOO=bar\n", "foo"),
      ("docker compose -f x.yml up\n", "docker-compose"),
      ("Deploy_To:Prod now\n", "deploytoprod-now"),
      (
        "kubectl get pods --all-namespaces-and-more-text\n",
        "kubectl-get",
      ),
      (
        "averyveryverylongcommandnamethatgoesonandon --flag\n",
        "averyveryverylongcommandnamethat",
      ),
      ("# only a comment\n", "only"),
      ("echo 'a#b'\n", "echo-a"),
      ("", ""),
      ("  \n", ""),
      ("éclair ok\n", "clair-ok"),
    ] {
      assert_eq!(name(body), want, "{body:?}");
    }
  }

  #[test]
  fn prompts_are_dropped_and_nothing_else() {
    assert_eq!(
      without_prompts("$ echo a\n$HOME/bin/x\n  $ indented\n$ \necho $ b\n"),
      "echo a\n$HOME/bin/x\n  $ indented\n\necho $ b\n"
    );
  }

  #[test]
  fn placeholders_are_exports_of_literal_values() {
    let code = "export NAME=[Enter your name]\n  export REGION=\"eu-west-1\"\nexport HOME_DIR=$HOME\nexport WHEN=$(date)\nexport TOKEN='s3cr3t'\nexport A=b\"c\"\nNOT=exported\n";
    let found = placeholders(code);
    let summary: Vec<(usize, &str, Option<&str>, &str)> = found
      .iter()
      .map(|p| {
        (
          p.line,
          p.name.as_str(),
          p.default.as_deref(),
          p.message.as_str(),
        )
      })
      .collect();
    assert_eq!(
      summary,
      [
        (0, "NAME", None, "Enter your name"),
        (1, "REGION", Some("eu-west-1"), ""),
        (4, "TOKEN", Some("s3cr3t"), ""),
      ]
    );
    let answers = [
      (&found[0], "O'Brien".to_string()),
      (&found[1], "us-east-1".to_string()),
    ];
    assert_eq!(
      answered(code, &answers).lines().take(2).collect::<Vec<_>>(),
      ["export NAME='O'\\''Brien'", "  export REGION='us-east-1'"]
    );
    assert!(secret_name("GITHUB_TOKEN") && secret_name("db_password") && !secret_name("REGION"));
  }

  #[test]
  fn json_attributes_are_runme_s() {
    assert!(json_attributes(r#"sh {"name":"x"}"#));
    assert!(json_attributes(r#"{ "name": "x" }"#));
    assert!(!json_attributes("sh {name=x}"));
    assert!(!json_attributes("sh"));
  }
}
