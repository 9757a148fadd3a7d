//! What a checked runbook is: metadata, parameters and steps.

mod action;
mod param;

use std::sync::Arc;
use std::time::Duration;

pub use action::{ActionKind, Language, Shell};
pub use param::{Origin, Param, Pattern};

use crate::source::Span;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DocKind {
  #[default]
  Runbook,
  Playbook,
}

impl DocKind {
  pub fn name(self) -> &'static str {
    match self {
      Self::Runbook => "runbook",
      Self::Playbook => "playbook",
    }
  }
}

/// Whose rules name and pick the steps: litops's, or Runme's for a
/// document written for Runme (a `runme:` key in the front matter, or
/// blocks with Runme's JSON attributes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Dialect {
  #[default]
  Litops,
  Runme,
}

#[derive(Debug, Default)]
pub struct Meta {
  pub dialect: Dialect,
  pub title: Option<String>,
  pub kind: DocKind,
  pub description: Option<String>,
  pub owner: Option<String>,
  pub tags: Vec<String>,
  pub params: Vec<Param>,
  /// `aws: {region, profile}`: where the AWS steps act unless flags say otherwise.
  pub aws_region: Option<String>,
  pub aws_profile: Option<String>,
  /// `prefetch: true`: as `run --prefetch`.
  pub prefetch: bool,
  /// `max-visits: N`: how often one step may run in a run (a `goto` loop
  /// revisits steps); [`DEFAULT_MAX_VISITS`] when not set.
  pub max_visits: Option<usize>,
  /// `approvals:`: who must approve what before it runs.
  pub approvals: Option<crate::approval::Policy>,
  /// `notify:`: where the end of every run is told (`sns:ARN`, `slack:`).
  pub notify: Vec<String>,
  /// `cwd:` of a Runme document: where its shell cells run, relative to
  /// the document.
  pub cwd: Option<String>,
  /// A Runme document's `shell:`: what runs its shell cells.
  pub shell: Option<String>,
  /// A Runme document's `skipPrompts: true`: its placeholders take their
  /// defaults, nobody is asked.
  pub skip_prompts: bool,
}

/// How often a step may run in one run unless `max-visits` says otherwise.
pub const DEFAULT_MAX_VISITS: usize = 100;

impl Meta {
  pub fn param(&self, name: &str) -> Option<&Param> {
    self.params.iter().find(|p| p.name == name)
  }
}

#[derive(Debug)]
pub struct Runbook {
  pub meta: Meta,
  pub steps: Vec<Step>,
  /// Names that rhai steps assign with `vars.NAME = …`: usable as
  /// `{{ NAME }}` and `$NAME` in later steps.
  pub vars: Vec<String>,
}

impl Runbook {
  pub fn step_index(&self, id: &str) -> Option<usize> {
    self.steps.iter().position(|s| s.id == id)
  }

  pub fn title(&self) -> &str {
    self.meta.title.as_deref().unwrap_or("untitled runbook")
  }
}

#[derive(Debug)]
pub struct Step {
  pub id: String,
  pub span: Span,
  pub line: usize,
  pub headings: Arc<[String]>,
  pub prose: Option<Arc<str>>,
  pub body: StepBody,
  pub policy: Policy,
}

#[derive(Debug)]
pub enum StepBody {
  /// A checklist item; `required` (`{required}`): answered "not done" (or
  /// left unconfirmed), no later change runs unless the operator overrides.
  Manual {
    text: String,
    checked: bool,
    required: bool,
  },
  Action(Action),
}

#[derive(Debug)]
pub struct Action {
  pub kind: ActionKind,
  pub code: String,
  pub code_start: usize,
  /// Whether the action can change anything, as decided at check time.
  pub mutating: bool,
  /// Kind-specific attributes, such as `log-groups=` on `logs-insights`.
  pub options: Vec<(String, String)>,
  /// How Runme runs it, in a Runme document; all off in a litops one.
  pub cell: Cell,
}

/// How a cell of a Runme document runs (see `runme::cell`).
#[derive(Debug, Clone, Default)]
pub struct Cell {
  /// A shell cell: the first failing command fails it (`-e`, and
  /// `-o pipefail` where the shell has it), as Runme runs it.
  pub fail_fast: bool,
  /// A shell cell: variables it exports are set in later cells of the run
  /// (and recorded like `vars`).
  pub carries_exports: bool,
  /// Where it runs (its `cwd`, else the document's), resolved against the
  /// document's directory.
  pub cwd: Option<std::path::PathBuf>,
  /// The program that runs it instead of its kind's own (`interpreter`, or
  /// the document's `shell` for shell cells), split into words.
  pub interpreter: Option<Vec<String>>,
  /// A shell cell with `export NAME=[…]`/`export NAME="default"` lines
  /// that ask for their value (`promptEnv`, on unless the cell or the
  /// document's `skipPrompts` turns it off).
  pub prompts_env: bool,
  /// A shell cell started and not waited for (`background`): it is stopped
  /// at the end of the run, and how it ended is recorded.
  pub background: bool,
  /// `interactive`: at a terminal, it reads what the operator types.
  pub interactive: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OnFailure {
  #[default]
  Stop,
  Continue,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Confirm {
  /// Ask unless `--yes` or `--yes-readonly` already approves the step.
  #[default]
  Auto,
  /// Ask a person even under `--yes`.
  Always,
}

#[derive(Debug, Clone, Default)]
pub struct Policy {
  pub timeout: Option<Duration>,
  pub on_failure: OnFailure,
  pub confirm: Confirm,
  /// `approvers=N`: approvals this step needs, whatever the front matter says.
  pub approvers: Option<usize>,
  /// Runme's `excludeFromRunAll`: runs only when named (`--only`).
  pub excluded_from_run_all: bool,
  /// Runme's `category` and `tag` (comma-separated): `run --tag` picks by them.
  pub tags: Vec<String>,
}

/// What a step is, as transcripts record it (`manual`, `sh`, `rhai`, …):
/// one word in the JSON, an enum for every reader.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepKind {
  Manual,
  Action(ActionKind),
}

impl StepKind {
  pub fn name(self) -> &'static str {
    match self {
      Self::Manual => "manual",
      Self::Action(kind) => kind.name(),
    }
  }
}

impl serde::Serialize for StepKind {
  fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(self.name())
  }
}

impl<'de> serde::Deserialize<'de> for StepKind {
  fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
    let word = String::deserialize(deserializer)?;
    match word.as_str() {
      "manual" => Ok(Self::Manual),
      other => ActionKind::from_word(other)
        .map(Self::Action)
        .ok_or_else(|| serde::de::Error::custom(format!("unknown step kind `{other}`"))),
    }
  }
}

impl std::fmt::Display for StepKind {
  fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
    f.write_str(self.name())
  }
}

impl Step {
  pub fn kind(&self) -> StepKind {
    match &self.body {
      StepBody::Manual { .. } => StepKind::Manual,
      StepBody::Action(a) => StepKind::Action(a.kind),
    }
  }

  pub fn kind_name(&self) -> &'static str {
    self.kind().name()
  }

  pub fn action(&self) -> Option<&Action> {
    match &self.body {
      StepBody::Action(a) => Some(a),
      StepBody::Manual { .. } => None,
    }
  }

  pub fn is_mutating(&self) -> bool {
    self.action().is_some_and(|a| a.mutating)
  }

  /// Approvals this action needs before it runs: its own `approvers=N`,
  /// else the policy's count for a step that changes something. Checklist
  /// items and runbooks without a policy need none.
  pub fn approvals_needed(&self, policy: Option<&crate::approval::Policy>) -> usize {
    match (policy, self.action()) {
      (Some(policy), Some(action)) => {
        self
          .policy
          .approvers
          .unwrap_or(if action.mutating { policy.mutating } else { 0 })
      }
      _ => 0,
    }
  }

  /// `Heading › Sub-heading`, or the empty string above the first heading.
  pub fn heading_path(&self) -> String {
    self.headings.join(" › ")
  }
}
