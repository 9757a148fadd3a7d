//! Runbook + parameters → the ordered steps with their actions as they
//! would run. `litops plan` prints this; `run` shows one entry per step.

use serde::Serialize;

use crate::check::Block;
use crate::model::{Runbook, Step, StepBody, StepKind};
use crate::params::Params;
use crate::source::Source;
use crate::template;

#[derive(Debug, Serialize)]
pub struct PlannedStep {
  pub index: usize,
  pub id: String,
  pub kind: StepKind,
  pub mutating: bool,
  /// Signed approvals the step needs before it runs (`approvals:`).
  pub approvals: usize,
  pub file: String,
  pub line: usize,
  pub headings: Vec<String>,
  /// The action after `{{ }}` substitution (secrets masked), or the
  /// checklist text of a manual step.
  pub action: String,
  /// Steps this one can jump to (`goto("id")` written as a literal).
  pub jumps_to: Vec<String>,
  /// Steps that can jump here.
  pub reached_from: Vec<String>,
}

#[derive(Debug, Serialize)]
pub struct Plan<'a> {
  pub runbook: String,
  pub title: &'a str,
  pub kind: &'static str,
  pub params: Vec<(String, String)>,
  pub steps: Vec<PlannedStep>,
  pub blocks: &'a [Block],
}

/// The text a step runs: declarative bodies and checklist items get
/// parameter and variable values; shell and rhai run exactly as written.
/// Secrets are real here: mask what is shown or recorded, never this.
pub fn action_text(
  step: &Step,
  params: &Params,
  vars: &serde_json::Map<String, serde_json::Value>,
) -> String {
  match &step.body {
    StepBody::Manual { text, .. } => fill(text, params, vars),
    StepBody::Action(action) if action.kind.is_declarative() => fill(&action.code, params, vars),
    StepBody::Action(action) => action.code.clone(),
  }
}

/// `{{ name }}` replaced by a parameter's or variable's value where there is
/// one (other `{{ }}` in prose is left as written), secrets included.
pub fn fill(
  text: &str,
  params: &Params,
  vars: &serde_json::Map<String, serde_json::Value>,
) -> String {
  template::render(text, |name| value_of(name, params, vars))
}

/// What `{{ name }}` stands for: a parameter, else a variable a rhai step set.
pub fn value_of(
  name: &str,
  params: &Params,
  vars: &serde_json::Map<String, serde_json::Value>,
) -> Option<String> {
  params.get(name).map(str::to_string).or_else(|| {
    vars.get(name).map(|v| match v {
      serde_json::Value::String(s) => s.clone(),
      other => other.to_string(),
    })
  })
}

pub fn plan<'a>(
  source: &Source,
  runbook: &'a Runbook,
  params: &Params,
  blocks: &'a [Block],
) -> Plan<'a> {
  let vars = serde_json::Map::new();
  Plan {
    runbook: source.path.display().to_string(),
    title: runbook.title(),
    kind: runbook.meta.kind.name(),
    params: params.shown(&runbook.meta),
    steps: runbook
      .steps
      .iter()
      .enumerate()
      .map(|(i, step)| PlannedStep {
        index: i + 1,
        id: step.id.clone(),
        kind: step.kind(),
        mutating: step.is_mutating(),
        approvals: step.approvals_needed(runbook.meta.approvals.as_ref()),
        file: source.path.display().to_string(),
        line: step.line,
        headings: step.headings.to_vec(),
        action: params.redactor.text(&action_text(step, params, &vars)),
        jumps_to: jumps(runbook, step),
        reached_from: runbook
          .steps
          .iter()
          .filter(|s| jumps(runbook, s).contains(&step.id))
          .map(|s| s.id.clone())
          .collect(),
      })
      .collect(),
    blocks,
  }
}

/// The steps a step's script can jump to, each once: those it names in
/// `goto("id")`, and for `goto("fix-" + cause + "-1")` every step whose id
/// starts with `fix-` and ends with `-1`.
fn jumps(runbook: &Runbook, step: &Step) -> Vec<String> {
  let mut out: Vec<String> = Vec::new();
  let Some(action) = step
    .action()
    .filter(|a| a.kind == crate::model::ActionKind::Rhai)
  else {
    return out;
  };
  let literal = crate::script::goto_targets(&action.code)
    .into_iter()
    .map(|(_, target)| target.to_string());
  let computed = crate::script::goto_patterns(&action.code)
    .into_iter()
    .flat_map(|(start, end)| {
      runbook
        .steps
        .iter()
        .filter(move |s| s.id.starts_with(start) && s.id.ends_with(end))
        .map(|s| s.id.clone())
    });
  for target in literal.chain(computed) {
    if !out.contains(&target) {
      out.push(target);
    }
  }
  out
}

/// `a`, `b` as the plan names steps.
fn quoted(ids: &[String]) -> String {
  ids
    .iter()
    .map(|id| format!("`{id}`"))
    .collect::<Vec<_>>()
    .join(", ")
}

impl Plan<'_> {
  pub fn render(&self) -> String {
    use std::fmt::Write as _;
    let mut out = format!(
      "{} ({}) — {}, {} step{}\n",
      self.title,
      self.kind,
      self.runbook,
      self.steps.len(),
      if self.steps.len() == 1 { "" } else { "s" }
    );
    for (name, value) in &self.params {
      let _ = writeln!(out, "  param {name} = {value}");
    }
    for step in &self.steps {
      let effect = match (step.kind, step.mutating, step.approvals) {
        (StepKind::Manual, _, _) => "person".to_string(),
        (_, true, 0) => "mutating".to_string(),
        (_, false, 0) => "read-only".to_string(),
        (_, mutating, n) => format!(
          "{} · needs {n} approval{}",
          if mutating { "mutating" } else { "read-only" },
          if n == 1 { "" } else { "s" }
        ),
      };
      let _ = writeln!(
        out,
        "\n[{}/{}] {}  {} · {} · {}:{}",
        step.index,
        self.steps.len(),
        step.id,
        step.kind,
        effect,
        step.file,
        step.line
      );
      if !step.headings.is_empty() {
        let _ = writeln!(out, "      {}", step.headings.join(" › "));
      }
      if !step.reached_from.is_empty() {
        let _ = writeln!(
          out,
          "      ← reached by a jump from {}",
          quoted(&step.reached_from)
        );
      }
      for line in step.action.lines() {
        let _ = writeln!(out, "      │ {line}");
      }
      if !step.jumps_to.is_empty() {
        let _ = writeln!(out, "      → can jump to {}", quoted(&step.jumps_to));
      }
    }
    out
  }
}
