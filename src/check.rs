//! Document → [`Runbook`], with every problem found, not only the first.

use std::collections::HashMap;
use std::time::Duration;

use crate::diagnostic::{Diagnostic, Problem, close_matches};
use crate::model::{
  Action, ActionKind, Cell, Confirm, Dialect, Meta, OnFailure, Policy, Runbook, Step, StepBody,
};
use crate::parse::{self, Attribute, Item, parse_front_matter, parse_info};
use crate::source::{Source, Span};
use crate::{runme, script, template};

/// Attributes Runme writes for its notebook's own use: nothing for a
/// terminal walk to follow.
const RUNME_NOTEBOOK_ATTRIBUTES: &[&str] = &["closeTerminalOnSuccess", "id", "mimeType"];

/// Attributes that make a block a step: a block of another language in a
/// litops document with one of them runs.
const STEP_ATTRIBUTES: &[&str] = &[
  "name",
  "timeout",
  "on-failure",
  "confirm",
  "approvers",
  "readonly",
];

/// Runme attributes that change how Runme runs a cell, which litops does
/// not follow yet: each is a warning naming it.
const RUNME_ATTRIBUTES: &[&str] = &[
  "background",
  // Followed in a Runme document; warnings in a litops one.
  "category",
  "cwd",
  "excludeFromRunAll",
  "interactive",
  "interpreter",
  "promptEnv",
  "skipPrompts",
  "tag",
  "terminalRows",
];

#[derive(Debug)]
pub struct Checked {
  pub runbook: Runbook,
  pub diagnostics: Vec<Diagnostic>,
  /// Every code block, action or prose, as CommonMark sees it.
  pub blocks: Vec<Block>,
}

impl Checked {
  pub fn has_errors(&self) -> bool {
    self.diagnostics.iter().any(Diagnostic::is_error)
  }
}

#[derive(Debug, serde::Serialize)]
pub struct Block {
  pub kind: &'static str,
  pub info: String,
  pub line: usize,
  pub lines: usize,
  pub list_depth: usize,
  pub blockquote: usize,
  /// The step this block became, if its kind is one litops runs.
  pub step: Option<String>,
}

/// `--dialect`: every document a command reads is read by these rules,
/// whatever it says about itself.
static DIALECT: std::sync::OnceLock<Dialect> = std::sync::OnceLock::new();

/// Reads every document from now on as `dialect` (`--dialect`).
pub fn read_as(dialect: Dialect) {
  let _ = DIALECT.set(dialect);
}

pub fn check(source: &Source) -> Checked {
  let doc = parse::parse(&source.text);
  let mut diagnostics = Vec::new();
  let meta = doc
    .front_matter
    .as_ref()
    .map(|fm| parse_front_matter(fm, &mut diagnostics))
    .unwrap_or_default();
  // Front matter that is there but not read would run with empty values:
  // a file starting with a `---` line must be read as front matter.
  let opens = source
    .text
    .lines()
    .next()
    .is_some_and(|l| l.trim_end() == "---");
  if opens && doc.front_matter.is_none() {
    diagnostics.push(Diagnostic::new(
      Problem::FrontMatterUnclosed,
      Span::new(0, 3),
    ));
  }

  let mut meta = meta;
  if doc.items.iter().any(|item| match item {
    Item::Code(code) => code
      .fence
      .as_ref()
      .is_some_and(|f| runme::json_attributes(&f.info)),
    Item::Task(_) => false,
  }) {
    meta.dialect = Dialect::Runme;
  }
  if let Some(dialect) = DIALECT.get() {
    meta.dialect = *dialect;
  }
  let runme = meta.dialect == Dialect::Runme;
  let mut runme_names = RunmeNames::default();

  let mut steps = Vec::new();
  let mut blocks = Vec::new();
  let mut ids = Ids::default();
  // Where the last step ends: a step's paragraph must come after it.
  let mut last_end = 0;
  for item in &doc.items {
    let info = match item {
      Item::Code(code) => code
        .fence
        .as_ref()
        .map(|fence| parse_info(&fence.info, fence.info_span.start)),
      Item::Task(task) => item_attributes(source, task).1,
    };
    ids.authored.extend(
      info
        .into_iter()
        .flat_map(|i| i.attributes)
        .filter(|a| a.key == "name")
        .map(|a| a.value),
    );
  }
  for item in &doc.items {
    match item {
      Item::Task(task) => {
        let (text, info) = item_attributes(source, task);
        let mut name = None;
        let mut required = false;
        for attr in info.iter().flat_map(|i| &i.attributes) {
          match attr.key.as_str() {
            "name" if valid_name(&attr.value, false) => name = Some(attr.value.clone()),
            "name" => diagnostics.push(Diagnostic::new(
              Problem::BadStepName(attr.value.clone()),
              attr.span,
            )),
            "required" => required = attr.value != "false",
            _ => diagnostics.push(Diagnostic::new(
              Problem::UnknownAttribute(attr.key.clone()),
              attr.span,
            )),
          }
        }
        diagnostics.extend(info.into_iter().flat_map(|i| i.diagnostics));
        let id = name.unwrap_or_else(|| ids.generated(&task.context.headings));
        let prose = prose_since(&task.context, last_end);
        last_end = task.span.end;
        steps.push(Step {
          id,
          span: task.span,
          line: source.line(task.span.start),
          headings: task.context.headings.clone(),
          prose,
          body: StepBody::Manual {
            text,
            checked: task.checked,
            required,
          },
          policy: Policy::default(),
        });
      }
      Item::Code(code) => {
        let mut block = Block {
          kind: if code.fence.is_some() {
            "fenced"
          } else {
            "indented"
          },
          info: code
            .fence
            .as_ref()
            .map(|f| f.info.clone())
            .unwrap_or_default(),
          line: source.line(code.span.start),
          lines: code.body.lines().count(),
          list_depth: code.list_depth,
          blockquote: code.blockquote_depth,
          step: None,
        };
        let Some(fence) = &code.fence else {
          blocks.push(block);
          continue;
        };
        if !fence.closed {
          diagnostics.push(Diagnostic::new(
            Problem::UnclosedFence,
            Span::new(code.span.start, fence.info_span.end),
          ));
        }
        let info = parse_info(&fence.info, fence.info_span.start);
        // Blocks Runme keeps as Markdown: `ignore`, `transform=false`, and
        // diagrams.
        if runme && runme::not_a_cell(&info.kind, &info.attributes) {
          blocks.push(block);
          continue;
        }
        // Runme names every fenced block, cell or not, in document order:
        // a repeat of a name is numbered across all of them.
        let runme_name = runme.then(|| {
          let written = info
            .attributes
            .iter()
            .find(|a| a.key == "name" && !a.value.is_empty());
          runme_names.get(written.map_or_else(|| runme::name(&code.body), |a| a.value.clone()))
        });
        // In Runme a fenced block with no language is a shell cell.
        let word = match info.kind.as_str() {
          "" if runme => "sh",
          word => word,
        };
        // Other languages run through their interpreter in a Runme
        // document; in a litops one only a block with a step's attributes
        // (`python {name=report}`): `python {linenos=table}` stays prose.
        let step_attributes = info
          .attributes
          .iter()
          .any(|a| STEP_ATTRIBUTES.contains(&a.key.as_str()));
        let program = (runme || step_attributes)
          .then(|| crate::model::Language::from_word(word))
          .flatten()
          .map(ActionKind::Program);
        let Some(kind) = ActionKind::from_word(word).or(program) else {
          // A typo of a kind (`cloudwach`) with step attributes was meant
          // to run: silently keeping it as prose would skip the step.
          let close = close_matches(&info.kind, ActionKind::WORDS.iter().copied());
          if !info.attributes.is_empty() && !close.is_empty() {
            let start = fence.info_span.start;
            diagnostics.push(Diagnostic::new(
              Problem::UnknownKind {
                kind: info.kind.clone(),
                close,
              },
              Span::new(start, start + info.kind.len()),
            ));
          }
          blocks.push(block);
          continue;
        };
        diagnostics.extend(info.diagnostics);
        let (name, policy, readonly, options) =
          attributes(kind, &info.attributes, &mut diagnostics, runme);
        let id = match (runme_name, name) {
          // Runme's name, as `runme run NAME` knows the cell; one with
          // nothing usable in it (a block of punctuation) gets litops's.
          (Some(runme), _) if valid_name(&runme, true) => runme,
          (_, Some(name)) => name,
          _ => ids.generated(&code.context.headings),
        };
        let mutating = mutating(
          kind,
          &code.body,
          readonly,
          code.body_start,
          &mut diagnostics,
        );
        block.step = Some(id.clone());
        blocks.push(block);
        let prose = prose_since(&code.context, last_end);
        last_end = code.span.end;
        steps.push(Step {
          id,
          span: code.span,
          line: source.line(code.span.start),
          headings: code.context.headings.clone(),
          prose,
          body: StepBody::Action(Action {
            kind,
            code: match kind {
              ActionKind::Shell(_) if runme => runme::without_prompts(&code.body),
              _ => code.body.clone(),
            },
            code_start: code.body_start,
            mutating,
            options,
            cell: if runme {
              runme::cell(kind, &info.attributes, &meta, &source.path, &code.body)
            } else {
              Cell::default()
            },
          }),
          policy,
        });
      }
    }
  }

  let vars = collect_vars(&steps);
  let mut seen: HashMap<&str, usize> = HashMap::new();
  for step in &steps {
    if let Some(&first_line) = seen.get(step.id.as_str()) {
      diagnostics.push(Diagnostic::new(
        Problem::DuplicateStep {
          id: step.id.clone(),
          first_line,
        },
        step.span,
      ));
    } else {
      seen.insert(&step.id, step.line);
    }
  }
  // One engine for every script: building one registers rhai's whole
  // standard library, which costs more than compiling a typical block.
  let engine = script::sandbox();
  for step in &steps {
    if let StepBody::Manual { text, .. } = &step.body {
      // Checklist items are filled in like declarative blocks: a name
      // nobody declares would be shown to the operator as written.
      // The item's span is its marker; its text follows on the line.
      let rest = source.text.get(step.span.start..).unwrap_or_default();
      let at = rest
        .find(text.as_str())
        .map_or(step.span.start, |i| step.span.start + i);
      templates(text, at, &meta, &vars, &mut diagnostics);
    }
    if let Some(action) = step.action() {
      check_action(
        source,
        &engine,
        &meta,
        &vars,
        &seen,
        action,
        &mut diagnostics,
      );
    }
  }
  if steps.is_empty() {
    diagnostics.push(Diagnostic::whole_file(Problem::NoSteps));
  }
  approvals(source, &meta, &steps, &mut diagnostics);
  diagnostics.sort_by_key(|d| d.span.map_or(0, |s| s.start));
  Checked {
    runbook: Runbook { meta, steps, vars },
    diagnostics,
    blocks,
  }
}

/// The approval policy can be met: a keyring that loads, with as many
/// approvers as the most demanding step needs.
fn approvals(source: &Source, meta: &Meta, steps: &[Step], diagnostics: &mut Vec<Diagnostic>) {
  let Some(policy) = &meta.approvals else {
    for step in steps
      .iter()
      .filter(|s| s.policy.approvers.is_some_and(|n| n > 0))
    {
      diagnostics.push(Diagnostic::new(
        Problem::Approvals(
          "`approvers=` needs `approvals:` in the front matter, with the keyring of who may approve"
            .into(),
        ),
        step.span,
      ));
    }
    return;
  };
  let at = source
    .text
    .find("\napprovals:")
    .map_or(Span::new(0, 3), |i| Span::new(i + 1, i + 10));
  let Some(keyring) = &policy.keyring else {
    diagnostics.push(Diagnostic::new(
      Problem::Approvals(
        "`approvals:` needs `keyring:`, the file listing who may approve (or run with --approvals-keyring)"
          .into(),
      ),
      at,
    ));
    return;
  };
  let path = source
    .path
    .parent()
    .map_or_else(|| keyring.clone(), |dir| dir.join(keyring));
  match crate::approval::Keyring::load(&path) {
    Err(e) => diagnostics.push(Diagnostic::new(Problem::Approvals(e.to_string()), at)),
    Ok(keyring) => {
      for step in steps {
        let needed = step.approvals_needed(Some(policy));
        if needed > keyring.members.len() {
          diagnostics.push(Diagnostic::new(
            Problem::Approvals(format!(
              "step `{}` needs {needed} approvals; the keyring has {} approver(s)",
              step.id,
              keyring.members.len()
            )),
            step.span,
          ));
        }
      }
    }
  }
}

fn collect_vars(steps: &[Step]) -> Vec<String> {
  let mut vars: Vec<String> = Vec::new();
  for action in steps.iter().filter_map(Step::action) {
    if action.kind == ActionKind::Rhai {
      for (_, name) in script::assignments(&action.code, "vars") {
        if !vars.iter().any(|v| v == name) {
          vars.push(name.to_string());
        }
      }
    }
  }
  vars
}

fn check_action(
  source: &Source,
  engine: &rhai::Engine,
  meta: &Meta,
  vars: &[String],
  ids: &HashMap<&str, usize>,
  action: &Action,
  diagnostics: &mut Vec<Diagnostic>,
) {
  let at = |offset: usize, len: usize| {
    Span::new(action.code_start + offset, action.code_start + offset + len)
  };
  if action.kind.is_declarative() {
    templates(&action.code, action.code_start, meta, vars, diagnostics);
  }
  let body_end = action.code_start + action.code.len();
  let reported = diagnostics.iter().any(|d| {
    d.span
      .is_some_and(|s| (action.code_start..=body_end).contains(&s.start))
  });
  if action.kind.is_declarative() && !reported {
    spec(action, diagnostics);
  }
  if action.kind == ActionKind::Rhai {
    if let Err(e) = engine.compile(&action.code) {
      let (line, col) = (e.1.line().unwrap_or(1), e.1.position().unwrap_or(1));
      let first = source.line(action.code_start);
      let offset = source.offset_of(first + line - 1, col);
      diagnostics.push(Diagnostic::new(
        Problem::RhaiSyntax(e.0.to_string()),
        Span::new(offset, offset + 1),
      ));
    }
    for (offset, target) in script::goto_targets(&action.code) {
      if !ids.contains_key(target) {
        diagnostics.push(Diagnostic::new(
          Problem::UnknownGoto {
            id: target.to_string(),
            close: close_matches(target, ids.keys().copied()),
          },
          at(offset, 4),
        ));
      }
    }
    for (offset, id) in script::step_refs(&action.code) {
      if !ids.contains_key(id) {
        diagnostics.push(Diagnostic::new(
          Problem::UnknownStepRef {
            id: id.to_string(),
            close: close_matches(id, ids.keys().copied()),
          },
          at(offset, 5),
        ));
      }
    }
    for root in ["params", "steps", "last"] {
      for (offset, name) in script::assignments(&action.code, root) {
        diagnostics.push(Diagnostic::new(
          Problem::ConstantAssignment {
            root,
            name: name.to_string(),
          },
          at(offset, root.len()),
        ));
      }
    }
  }
}

/// Whether `name` can be a step id: letters, digits, `-`, `_`, `.`; and `:`
/// in a Runme document, whose names it accepts (`deploy:prod`).
fn valid_name(name: &str, runme: bool) -> bool {
  !name.is_empty()
    && name
      .chars()
      .all(|c| c.is_alphanumeric() || "-_.".contains(c) || (runme && c == ':'))
}

/// A checklist item's text without its trailing attribute block
/// (`- [ ] Backups verified {name=backups required}`), and that block.
fn item_attributes(source: &Source, task: &parse::Task) -> (String, Option<parse::Info>) {
  let text = task.text.trim();
  // A trailing `{{ name }}` is a template, not attributes.
  let block = text
    .strip_suffix('}')
    .and_then(|t| t.rfind(" {").map(|i| (i, &text[i + 1..])))
    .filter(|(_, block)| !block.starts_with("{{"));
  let Some((cut, block)) = block else {
    return (text.to_string(), None);
  };
  // Where the block sits in the file, so its attributes keep their spans.
  let rest = source.text.get(task.span.start..).unwrap_or_default();
  let at = rest
    .find(block)
    .map_or(task.span.start, |i| task.span.start + i);
  // parse_info reads `KIND {…}`: a one-letter stand-in kind and a space.
  let info = parse_info(&format!("x {block}"), at.saturating_sub(2));
  (text[..cut].trim_end().to_string(), Some(info))
}

/// The paragraph before a step, unless it belongs before the step before
/// (a step with no prose of its own shows none).
fn prose_since(context: &parse::Context, last_end: usize) -> Option<std::sync::Arc<str>> {
  context
    .prose
    .clone()
    .filter(|_| last_end == 0 || context.prose_at >= last_end)
}

/// Every `{{ name }}` in `text` (which starts at `start` in the file) must
/// name a parameter or a variable a rhai step sets.
fn templates(
  text: &str,
  start: usize,
  meta: &Meta,
  vars: &[String],
  diagnostics: &mut Vec<Diagnostic>,
) {
  let at = |offset: usize, len: usize| Span::new(start + offset, start + offset + len);
  match template::placeholders(text) {
    Err(offset) => diagnostics.push(Diagnostic::new(Problem::UnclosedTemplate, at(offset, 2))),
    Ok(found) => {
      for p in found {
        let known = meta.param(p.name).is_some() || vars.iter().any(|v| v == p.name);
        if !known {
          let mut names: Vec<String> = meta.params.iter().map(|p| p.name.clone()).collect();
          names.extend(vars.iter().cloned());
          diagnostics.push(Diagnostic::new(
            Problem::UnknownTemplateName {
              name: p.name.to_string(),
              known: names,
            },
            at(p.range.start, p.range.len()),
          ));
        }
      }
    }
  }
}

/// Parses a declarative body as its kind runs it, templates standing for a
/// neutral word: what `run` would reject is an error now, at its field's
/// line. A message about a templated value is left for the run to judge.
fn spec(action: &Action, diagnostics: &mut Vec<Diagnostic>) {
  let neutral = |text: &str| template::render(text, |_| Some(PLACEHOLDER.into()));
  let options: Vec<(String, String)> = action
    .options
    .iter()
    .map(|(k, v)| (k.clone(), neutral(v)))
    .collect();
  let Err(message) = crate::exec::check_body(action.kind, &neutral(&action.code), &options) else {
    return;
  };
  if message.contains(PLACEHOLDER) {
    return;
  }
  // The field the message names (`limit: abc`, `expect-status`), where the
  // body writes it; else the body's first line.
  let field = message
    .split('`')
    .skip(1)
    .step_by(2)
    .filter_map(|quoted| quoted.split(':').next())
    .find(|name| action.kind.fields().contains(name) || action.kind.options().contains(name));
  let mut offset = 0;
  let mut span = Span::new(action.code_start, action.code_start + 1);
  for line in action.code.split_inclusive('\n') {
    let key = line.trim_start();
    if let Some(name) = field.filter(|f| key.strip_prefix(f).is_some_and(|r| r.starts_with(':'))) {
      let start = action.code_start + offset + (line.len() - key.len());
      span = Span::new(start, start + name.len());
      break;
    }
    offset += line.len();
  }
  diagnostics.push(Diagnostic::new(Problem::Spec(message), span));
}

/// Whether a step can change anything. Shell can, unless its author marks
/// it `readonly=true`; declarative kinds say so in their body; rhai cannot
/// reach outside litops. `readonly=false` can always make a step stricter.
fn mutating(
  kind: ActionKind,
  body: &str,
  readonly: Option<(bool, Span)>,
  body_start: usize,
  diagnostics: &mut Vec<Diagnostic>,
) -> bool {
  let by_kind = match kind {
    ActionKind::Shell(_) => true,
    ActionKind::Rhai => false,
    ActionKind::LogsInsights => false,
    ActionKind::Http => {
      let (method, _, rest) = ActionKind::http_request_line(body);
      let rest_start = body_start + (body.len() - rest.len());
      if let Some(value) = yaml_body(kind, rest, rest_start, diagnostics) {
        body_fields(kind, &value, rest, rest_start, diagnostics);
      }
      !matches!(method.as_str(), "GET" | "HEAD")
    }
    _ => yaml_body(kind, body, body_start, diagnostics).is_none_or(|value| {
      body_fields(kind, &value, body, body_start, diagnostics);
      kind.body_mutates(&value)
    }),
  };
  match readonly {
    Some((true, _)) if matches!(kind, ActionKind::Shell(_)) => false,
    Some((true, span)) if by_kind => {
      diagnostics.push(Diagnostic::new(
        Problem::AttributeValue {
          attribute: "readonly".into(),
          value: "true".into(),
          expected: "`readonly=true` only on shell blocks; this action changes state",
        },
        span,
      ));
      true
    }
    Some((false, _)) => true,
    _ => by_kind,
  }
}

type Attributes = (
  Option<String>,
  Policy,
  Option<(bool, Span)>,
  Vec<(String, String)>,
);

/// What a `{{ template }}` stands for while a body is checked.
const PLACEHOLDER: &str = "litops-placeholder";

/// The YAML of a declarative body, or `None` with a diagnostic. Templates
/// stand for scalars, so a neutral word keeps the YAML parseable.
fn yaml_body(
  kind: ActionKind,
  body: &str,
  body_start: usize,
  diagnostics: &mut Vec<Diagnostic>,
) -> Option<serde_yaml::Value> {
  let neutral = template::render(body, |_| Some(PLACEHOLDER.into()));
  if let Some(at) = crate::parse::yaml::too_deep(body) {
    diagnostics.push(Diagnostic::new(
      Problem::BodyYaml {
        kind: kind.name(),
        message: crate::parse::yaml::depth_message(),
      },
      Span::new(body_start + at, body_start + at + 1),
    ));
    return None;
  }
  match serde_yaml::from_str::<serde_yaml::Value>(&neutral) {
    Ok(value) => Some(value),
    Err(e) => {
      let offset = e.location().map_or(0, |l| l.index().min(body.len()));
      let message = crate::diagnostic::yaml_message(&e);
      diagnostics.push(Diagnostic::new(
        Problem::BodyYaml {
          kind: kind.name(),
          message,
        },
        Span::new(body_start + offset, body_start + offset + 1),
      ));
      None
    }
  }
}

/// Holds a declarative body to its kind's fields and actions. A templated
/// `action:` is taken on trust; it is checked again when it runs.
fn body_fields(
  kind: ActionKind,
  value: &serde_yaml::Value,
  body: &str,
  body_start: usize,
  diagnostics: &mut Vec<Diagnostic>,
) {
  let Some(map) = value.as_mapping() else {
    return;
  };
  // Where a top-level `key:` is written, for the diagnostic's position.
  let at = |key: &str| {
    let mut offset = 0;
    for line in body.split_inclusive('\n') {
      if line.strip_prefix(key).is_some_and(|r| r.starts_with(':')) {
        return Span::new(body_start + offset, body_start + offset + key.len());
      }
      offset += line.len();
    }
    Span::new(body_start, body_start + 1)
  };
  for key in map.keys().filter_map(|k| k.as_str()) {
    if !kind.fields().contains(&key) {
      diagnostics.push(Diagnostic::new(
        Problem::UnknownField {
          kind,
          field: key.to_string(),
        },
        at(key),
      ));
    }
  }
  if kind.actions().is_empty() {
    return;
  }
  match map.get("action").and_then(|a| a.as_str()) {
    None => diagnostics.push(Diagnostic::new(
      Problem::MissingAction(kind),
      Span::new(body_start, body_start + 1),
    )),
    Some(action) if action.contains(PLACEHOLDER) => {}
    Some(action) if !kind.actions().contains(&action) => diagnostics.push(Diagnostic::new(
      Problem::UnknownAction {
        kind,
        action: action.to_string(),
      },
      at("action"),
    )),
    Some(_) => {}
  }
}

fn attributes(
  kind: ActionKind,
  attributes: &[Attribute],
  diagnostics: &mut Vec<Diagnostic>,
  runme: bool,
) -> Attributes {
  let mut options = Vec::new();
  let mut name = None;
  let mut policy = Policy::default();
  let mut readonly = None;
  for attr in attributes {
    let mut bad = |expected: &'static str| {
      diagnostics.push(Diagnostic::new(
        Problem::AttributeValue {
          attribute: attr.key.clone(),
          value: attr.value.clone(),
          expected,
        },
        attr.span,
      ));
    };
    match attr.key.as_str() {
      "name" => {
        if valid_name(&attr.value, runme) {
          name = Some(attr.value.clone());
        } else {
          diagnostics.push(Diagnostic::new(
            Problem::BadStepName(attr.value.clone()),
            attr.span,
          ));
        }
      }
      "timeout" => match parse_duration(&attr.value) {
        Some(d) => policy.timeout = Some(d),
        None => bad("a duration such as `30s`, `5m` or `1h30m`"),
      },
      "on-failure" => match attr.value.as_str() {
        "stop" => policy.on_failure = OnFailure::Stop,
        "continue" => policy.on_failure = OnFailure::Continue,
        _ => bad("`stop` or `continue`"),
      },
      "confirm" => match attr.value.as_str() {
        "auto" => policy.confirm = Confirm::Auto,
        "always" => policy.confirm = Confirm::Always,
        _ => bad("`auto` or `always`"),
      },
      "approvers" => match attr.value.parse::<usize>() {
        Ok(n) if n <= 9 => policy.approvers = Some(n),
        _ => bad("a whole number of approvals from 0 to 9"),
      },
      "readonly" => match attr.value.as_str() {
        "true" => readonly = Some((true, attr.span)),
        "false" => readonly = Some((false, attr.span)),
        _ => bad("`true` or `false`"),
      },
      key if kind.options().contains(&key) => options.push((attr.key.clone(), attr.value.clone())),
      // `ignore`/`transform` that keep the block a cell say nothing more.
      "cwd" | "ignore" | "transform" | "interpreter" | "promptEnv" if runme => {}
      "category" | "tag" if runme => policy.tags.extend(
        attr
          .value
          .split(',')
          .map(str::trim)
          .filter(|t| !t.is_empty())
          .map(String::from),
      ),
      // Runme reads them as Go's ParseBool does.
      "excludeFromRunAll" | "background" | "interactive"
        if runme && !runme::go_true(&attr.value) && !runme::go_false(&attr.value) =>
      {
        bad("`true` or `false`")
      }
      "excludeFromRunAll" if runme && runme::go_true(&attr.value) => {
        policy.excluded_from_run_all = true;
      }
      "excludeFromRunAll" | "background" | "interactive" if runme => {}
      key if RUNME_NOTEBOOK_ATTRIBUTES.contains(&key) => {}
      key if RUNME_ATTRIBUTES.contains(&key) => diagnostics.push(Diagnostic::new(
        Problem::RunmeNotFollowed(key.into()),
        attr.span,
      )),
      key => diagnostics.push(Diagnostic::new(
        Problem::UnknownAttribute(key.into()),
        attr.span,
      )),
    }
  }
  (name, policy, readonly, options)
}

/// The longest duration any field or attribute takes: past it, adding it
/// to a clock overflows (a `timeout` of 584942417355y panicked).
const LONGEST: Duration = Duration::from_secs(3650 * 24 * 3600);

/// `30s`, `5m`, `1h30m`, `250ms`; a bare number means seconds. More than
/// zero and at most ten years: every duration litops reads goes through here.
pub fn parse_duration(text: &str) -> Option<Duration> {
  let duration = match text.parse::<u64>() {
    Ok(secs) => Duration::from_secs(secs),
    Err(_) => humantime::parse_duration(text).ok()?,
  };
  (!duration.is_zero() && duration <= LONGEST).then_some(duration)
}

/// Ids for steps without a `name=`: `<heading-slug>-<n>`, numbered per slug
/// across the document so two "Verify" sections still get distinct ids.
#[derive(Default)]
struct Ids {
  counts: HashMap<String, usize>,
  /// Names the author wrote: a generated id steps aside for them.
  authored: std::collections::HashSet<String>,
}

impl Ids {
  fn generated(&mut self, headings: &[String]) -> String {
    let slug = headings
      .last()
      .map_or_else(|| "step".to_string(), |h| slug(h));
    let n = self.counts.entry(slug.clone()).or_insert(0);
    loop {
      *n += 1;
      let id = format!("{slug}-{n}");
      if !self.authored.contains(&id) {
        return id;
      }
    }
  }
}

/// Runme's names: the first of a name is the name, its repeats are
/// numbered from 2 (`echo-hello`, `echo-hello-2`), written names and
/// derived ones alike.
#[derive(Default)]
struct RunmeNames {
  counts: HashMap<String, usize>,
}

impl RunmeNames {
  fn get(&mut self, name: String) -> String {
    let n = self.counts.entry(name.clone()).or_insert(0);
    *n += 1;
    if *n == 1 { name } else { format!("{name}-{n}") }
  }
}

/// GitHub-style heading slug: lowercase, words joined by `-`, punctuation dropped.
pub fn slug(heading: &str) -> String {
  let mut out = String::new();
  for c in heading.chars() {
    if c.is_alphanumeric() || c == '_' {
      out.extend(c.to_lowercase());
    } else if (c.is_whitespace() || c == '-') && !out.ends_with('-') && !out.is_empty() {
      out.push('-');
    }
  }
  let out = out.trim_end_matches('-').to_string();
  if out.is_empty() { "step".into() } else { out }
}

#[cfg(test)]
mod tests {
  use super::*;
  use std::path::Path;

  fn checked(text: &str) -> (Checked, Source) {
    let src = Source::new(Path::new("rb.md"), text.into());
    (check(&src), src)
  }

  fn problems(text: &str) -> Vec<String> {
    let (c, src) = checked(text);
    c.diagnostics
      .iter()
      .map(|d| {
        let (l, col) = d.span.map_or((0, 0), |s| src.line_col(s.start));
        format!("{l}:{col} {}", d.problem)
      })
      .collect()
  }

  #[test]
  fn slugs() {
    let cases = [
      (
        "Morning Health Check (Daily 9:00 AM)",
        "morning-health-check-daily-900-am",
      ),
      ("  Logs -- errors ", "logs-errors"),
      ("Überprüfung", "überprüfung"),
      ("!!!", "step"),
    ];
    for (heading, want) in cases {
      assert_eq!(slug(heading), want);
    }
  }

  #[test]
  fn step_ids_lines_and_kinds() {
    let (c, _) = checked(
      "# Checks\n\n- [ ] look\n\n```bash {name=errors}\nls\n```\n\n```rhai\n1\n```\n\n## Checks\n```sh\nx\n```\n```console\n$ ls\n```\n",
    );
    let steps: Vec<_> = c
      .runbook
      .steps
      .iter()
      .map(|s| (s.id.as_str(), s.line, s.kind_name(), s.is_mutating()))
      .collect();
    assert_eq!(
      steps,
      [
        ("checks-1", 3, "manual", false),
        ("errors", 5, "bash", true),
        ("checks-2", 9, "rhai", false),
        ("checks-3", 14, "sh", true),
      ]
    );
    assert_eq!(c.blocks.len(), 4);
    assert_eq!(c.blocks[3].step, None);
  }

  #[test]
  fn problems_with_positions() {
    let text = "---\nparams:\n  env:\n    default: prod\n---\n# A\n```ecs {name=a}\naction: describe\ncluster: {{ cluster }}\n```\n```rhai {name=a}\nlet x = ;\n```\n```rhai {timeout=soon color=red}\ngoto(\"nowhere\")\n```\n```sh {name=\"x y\"}\n```\n";
    assert_eq!(
      problems(text),
      [
        "9:10 `{{ cluster }}` names no parameter or variable; known: env",
        "11:1 step id `a` is already used by the step at line 7",
        "12:9 rhai syntax error: Unexpected ';'",
        "14:10 attribute `timeout=soon`: expected a duration such as `30s`, `5m` or `1h30m`",
        "14:23 unknown attribute `color` is ignored",
        "15:1 `goto(\"nowhere\")` names no step in this runbook",
        "17:8 step name `x y` must be letters, digits, `-`, `_` or `.`",
      ]
    );
  }

  #[test]
  fn mutating_is_decided_by_body_and_readonly() {
    let (c, _) = checked(
      "```ecs\naction: describe\n```\n```ecs\naction: scale\ndesired: {{ n }}\n```\n```sh {readonly=true}\nls\n```\n```http\nGET http://127.0.0.1/\nexpect-status: 200\n```\n```http\nPOST http://127.0.0.1/\n```\n",
    );
    let mutating: Vec<_> = c.runbook.steps.iter().map(Step::is_mutating).collect();
    assert_eq!(mutating, [false, true, false, false, true]);
  }

  #[test]
  fn vars_from_rhai_satisfy_templates_and_unclosed_fence_warns() {
    let text = "```rhai\nvars.cluster = \"c\";\n```\n```ecs\naction: describe\ncluster: {{cluster}}\n```\n```sh\nno end\n";
    assert_eq!(
      problems(text),
      ["8:1 code fence is never closed, so it runs to the end of the file"]
    );
  }
}
