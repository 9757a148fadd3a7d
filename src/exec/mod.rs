//! The walk: show each step, ask, run it through its kind's [`Execute`],
//! record it. One file per action kind.

mod action;
mod aws_step;
mod body;
mod cloudwatch;
mod console;
mod dynamodb;
mod dynamodb_insights;
mod dynamodb_scaling;
mod ecr;
mod ecs;
mod ecs_deploy;
mod ecs_evidence;
mod elb;
mod faithful;
mod gate;
mod http;
mod logs_insights;
mod notify;
mod prefetch;
mod quotas;
mod rds;
mod rds_insights;
mod replay;
mod rhai;
mod shell;
mod shown;
mod style;

use std::collections::HashMap;
use std::io;
use std::path::PathBuf;
use std::sync::Arc;

use serde_json::{Map, Value};

pub use crate::transcript::Status;
pub use action::{Execute, Output, StepRun};
pub use console::{Answer, Console, operator};
pub use notify::post_text;
pub use replay::{Answers, Replay};
pub use style::diff as diff_style;

use crate::clock::{self, Instant};
use crate::model::{Action, ActionKind, Confirm, OnFailure, Runbook, Step, StepBody};
use crate::params::Params;
use crate::plan::{action_text, fill};
use crate::source::Source;
use crate::transcript::{self, Choice, Decision, Durability, Event, RunResult, Transcript};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Approval {
  Ask,
  YesReadonly,
  Yes,
  /// A fan-out run without `--yes`: read-only steps run, mutating ones are
  /// recorded as skipped for every target.
  Unattended,
  /// `litops test`: outputs come from a case; nothing is asked or changed.
  Replay,
}

impl Approval {
  fn name(self) -> &'static str {
    match self {
      Self::Ask => "ask for every action",
      Self::YesReadonly => "--yes-readonly",
      Self::Yes => "--yes",
      Self::Unattended => "--targets (read-only steps only)",
      Self::Replay => "litops test (outputs replayed, nothing run)",
    }
  }
}

/// How steps that need approvals get them.
#[derive(Clone, Default)]
pub struct Approvals {
  /// Where requests and approvals live: a shared directory or an
  /// `s3://bucket/prefix`.
  pub location: String,
  /// Who may approve: loaded before anything runs.
  pub keyring: Option<Arc<crate::approval::Keyring>>,
  /// `--break-glass REASON`: run without approvals, recorded and flagged.
  pub break_glass: Option<String>,
  /// A fan-out's requests, made before its targets start, by step id: one
  /// request (its JSON, digest and stored name) covers every target.
  pub shared: Arc<HashMap<String, (Value, String, String)>>,
}

pub struct RunOptions {
  pub approval: Approval,
  pub from: Option<usize>,
  pub only: Option<Vec<String>>,
  pub transcript: PathBuf,
  pub operator: String,
  pub run_id: String,
  pub aws: crate::aws::Settings,
  /// Sign the transcript's end with this key.
  pub sign: Option<ed25519_dalek::SigningKey>,
  /// `--prefetch`: start read-only queries when the run starts.
  pub prefetch: bool,
  /// Where approval requests go and whose approvals count.
  pub approvals: Approvals,
  /// A fan-out's targets, by name: recorded in each target's transcript.
  pub fleet: Vec<String>,
  /// `--stop-on-alarm`: alarms that stop every change once one fires.
  pub tripwire: Option<Arc<crate::tripwire::Tripwire>>,
  /// `litops test`: each step's output from a case (see [`Replay`]).
  pub replay: Option<Arc<Replay>>,
}

impl RunOptions {
  /// `--only a,b` / `--from id` as the transcript records them.
  fn partial(&self, runbook: &Runbook) -> Option<String> {
    let mut parts = Vec::new();
    if let Some(only) = &self.only {
      parts.push(format!("--only {}", only.join(",")));
    }
    if let Some(step) = self.from.and_then(|i| runbook.steps.get(i)) {
      parts.push(format!("--from {}", step.id));
    }
    (!parts.is_empty()).then(|| parts.join(" "))
  }
}

pub struct Summary {
  pub rows: Vec<(String, Status, u64)>,
  pub result: RunResult,
  pub exit_code: i32,
  pub reason: Option<String>,
  /// The `verdict` step's value or error, else the last step's, on one line.
  pub verdict: String,
}

/// The fields a step of `kind` records: what a test case may give it.
pub fn fields(kind: ActionKind) -> &'static [&'static str] {
  executor(kind).fields()
}

/// The fields in `output` a step of `kind` never records.
pub fn unknown_fields(kind: ActionKind, output: &Map<String, Value>) -> Vec<&str> {
  let known = fields(kind);
  output
    .keys()
    .map(String::as_str)
    .filter(|k| !known.contains(k) && !COMMON_FIELDS.contains(k))
    .collect()
}

/// Fields any step may record beside its kind's own.
pub const COMMON_FIELDS: &[&str] = &["status", "error", "shown", "prefetched_at", "prefetch"];

fn executor(kind: ActionKind) -> Box<dyn Execute> {
  match kind {
    ActionKind::Shell(shell) => Box::new(shell::ShellAction(shell)),
    ActionKind::Program(language) => Box::new(shell::ProgramAction(language)),
    ActionKind::Rhai => Box::new(rhai::RhaiAction),
    ActionKind::LogsInsights => Box::new(logs_insights::LogsInsights),
    ActionKind::Ecs => Box::new(ecs::Ecs),
    ActionKind::Ecr => Box::new(ecr::Ecr),
    ActionKind::Rds => Box::new(rds::Rds),
    ActionKind::CloudWatch => Box::new(cloudwatch::CloudWatch),
    ActionKind::DynamoDb => Box::new(dynamodb::DynamoDb),
    ActionKind::Elb => Box::new(elb::Elb),
    ActionKind::Http => Box::new(http::Http),
    ActionKind::Notify => Box::new(notify::Notify),
    ActionKind::Quotas => Box::new(quotas::Quotas),
  }
}

/// Why a body cannot run, by the parse its kind runs with (`check` calls
/// this with templates replaced by a placeholder).
pub fn check_body(
  kind: ActionKind,
  text: &str,
  options: &[(String, String)],
) -> Result<(), String> {
  executor(kind).check(text, options)
}

/// Exit code of a run that needs a person: nothing failed, but a checklist
/// item stayed unconfirmed or a question could not be asked — so a
/// scheduler can tell "found a problem" (1) from "nobody ticked the box".
pub const NEEDS_A_PERSON: i32 = 3;

/// How a run ends: the transcript's `result`, the exit code and why.
struct Ending {
  result: RunResult,
  exit_code: i32,
  reason: Option<String>,
}

/// How one step ended, as the walk decides what comes next.
enum Next {
  Continue,
  Goto(String),
  Stop(Ending),
}

struct Walk<'a> {
  source: &'a Source,
  runbook: &'a Runbook,
  params: &'a Params,
  console: Arc<Console>,
  options: &'a RunOptions,
  transcript: Transcript,
  /// Shared with rhai steps, which read only the outputs they index.
  outputs: Arc<Map<String, Value>>,
  vars: Map<String, Value>,
  /// The variables as last recorded, so a step records them when it
  /// changes them.
  recorded_vars: Map<String, Value>,
  last: Option<Value>,
  rows: Vec<(String, Status, u64)>,
  aws: crate::aws::Session,
  start: usize,
  ask_again: Option<String>,
  /// Fetches `--prefetch` started, by step id, until their step uses them.
  prefetched: HashMap<String, Box<dyn prefetch::Pending>>,
  /// Whether a `verdict` step has finished, and the verdict so far.
  verdict: (bool, String),
  /// A resumed run's statuses from before the resume.
  earlier: Vec<(String, Status)>,
  /// The step the operator asked to run again after it failed.
  retry: Option<String>,
  /// A required checklist item that was not done: later changes wait.
  blocked_by: Option<String>,
  in_flight: Option<InFlight>,
  /// Background cells still running, by step id, in the order started.
  background: Vec<(String, shell::Background)>,
}

/// Why a run could not go on: its transcript could not be started (nothing
/// ran), or could not be written to later.
#[derive(Debug)]
pub enum RunError {
  Create(io::Error),
  Write(io::Error),
}

impl From<io::Error> for RunError {
  fn from(error: io::Error) -> Self {
    Self::Write(error)
  }
}

impl std::fmt::Display for RunError {
  fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
    match self {
      Self::Create(e) => write!(f, "cannot create the transcript: {e}"),
      Self::Write(e) => write!(f, "cannot write the transcript: {e}"),
    }
  }
}

pub fn run(
  source: &Source,
  runbook: &Runbook,
  params: &Params,
  console: Arc<Console>,
  options: &RunOptions,
) -> Result<Summary, RunError> {
  let started = clock::now();
  console.mask(&params.redactor);
  // Who and where, before the first AWS step, so the header names them.
  let (aws, aws_context) = connect(runbook, options, &console);
  // The copy kept beside the transcript must not hold a secret default.
  let copy = params.redactor.text(&source.text);
  let transcript = Transcript::create(
    &options.transcript,
    Event::RunStarted {
      run_id: options.run_id.clone(),
      runbook: source.path.display().to_string(),
      runbook_sha256: transcript::sha256_hex(source.text.as_bytes()),
      copy_sha256: (copy != source.text).then(|| transcript::sha256_hex(copy.as_bytes())),
      title: runbook.title().to_string(),
      kind: runbook.meta.kind.name().to_string(),
      litops_version: env!("CARGO_PKG_VERSION").to_string(),
      operator: options.operator.clone(),
      params: params.shown(&runbook.meta),
      approval: options.approval.name().to_string(),
      started_at: started.rfc3339(),
      aws: aws_context,
      partial: options.partial(runbook),
      fleet: options.fleet.clone(),
    },
    &source.text,
    durability(&console),
    &params.redactor,
  )
  .map_err(RunError::Create)?;
  console.say(&format!(
    "litops: running {} ({} step{})\nlitops: transcript {}\n",
    source.path.display(),
    runbook.steps.len(),
    if runbook.steps.len() == 1 { "" } else { "s" },
    options.transcript.display()
  ));
  let start = options.from.unwrap_or(0);
  Ok(
    Walk::new(
      source, runbook, params, console, options, transcript, aws, start,
    )
    .walk_to_the_end(started)?,
  )
}

/// The state a run's transcript recorded, for `litops resume`.
pub struct Resumed {
  /// Reopened for appending, the chain continuing.
  pub transcript: Transcript,
  pub outputs: Map<String, Value>,
  pub vars: Map<String, Value>,
  pub last: Option<Value>,
  /// Index of the step to continue at.
  pub start: usize,
  /// A mutating step that was in flight when the run stopped: asked again
  /// before it runs, whatever the approval mode.
  pub ask_again: Option<String>,
  /// The copy of a changed runbook (`--force`), named in `run-resumed`,
  /// and its SHA-256 when redacting secrets changed it.
  pub runbook_copy: Option<String>,
  pub copy_sha256: Option<String>,
  /// Each step's latest status before the resume: the verdict covers them.
  pub earlier: Vec<(String, Status)>,
  /// `--in-flight`: what to do, without asking, with the mutating step
  /// that was in flight when the run stopped.
  pub in_flight: Option<InFlight>,
}

/// `resume --in-flight`: a mutating step that was running when the run
/// stopped may have made its change already.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InFlight {
  Rerun,
  Skip,
}

/// Continues a run in its own transcript.
pub fn resume(
  source: &Source,
  runbook: &Runbook,
  params: &Params,
  console: Arc<Console>,
  options: &RunOptions,
  mut state: Resumed,
) -> io::Result<Summary> {
  let started = clock::now();
  console.mask(&params.redactor);
  let (aws, _) = connect(runbook, options, &console);
  let from = runbook
    .steps
    .get(state.start)
    .map_or_else(|| "the end".to_string(), |s| s.id.clone());
  state.transcript.append(Event::RunResumed {
    resumed_at: started.rfc3339(),
    operator: options.operator.clone(),
    approval: options.approval.name().to_string(),
    from_step: from.clone(),
    runbook_sha256: transcript::sha256_hex(source.text.as_bytes()),
    runbook_copy: state.runbook_copy.clone(),
    copy_sha256: state.copy_sha256.clone(),
  })?;
  console.say(&format!(
    "litops: resuming {} at `{from}`\nlitops: transcript {}\n",
    source.path.display(),
    state.transcript.path.display()
  ));
  let walk = Walk::new(
    source,
    runbook,
    params,
    console,
    options,
    state.transcript,
    aws,
    state.start,
  );
  Walk {
    outputs: Arc::new(state.outputs),
    recorded_vars: state.vars.clone(),
    vars: state.vars,
    last: state.last,
    ask_again: state.ask_again,
    // A required item left not done before the resume still holds changes.
    blocked_by: state
      .earlier
      .iter()
      .find(|(id, status)| {
        matches!(status, Status::NotDone | Status::Unconfirmed)
          && runbook.step_index(id).is_some_and(|i| {
            matches!(
              runbook.steps[i].body,
              StepBody::Manual { required: true, .. }
            )
          })
      })
      .map(|(id, _)| id.clone()),
    earlier: state.earlier,
    in_flight: state.in_flight,
    ..walk
  }
  .walk_to_the_end(started)
}

pub fn durability(console: &Console) -> Durability {
  if console.interactive {
    Durability::EveryRecord
  } else {
    Durability::GroupCommit
  }
}

/// The AWS session, and the account and region for the transcript (said on
/// the terminal too), when the runbook has AWS steps.
fn connect(
  runbook: &Runbook,
  options: &RunOptions,
  console: &Console,
) -> (crate::aws::Session, Option<transcript::AwsContext>) {
  let aws = crate::aws::Session::new(options.aws.clone()).interruptible(console.interrupt_flag());
  let uses_aws = runbook
    .steps
    .iter()
    .any(|s| s.action().is_some_and(|a| a.kind.is_aws()));
  // A test reaches no account: every AWS step's output is replayed.
  if !uses_aws || options.replay.is_some() {
    return (aws, None);
  }
  let context = match aws.get() {
    Ok(a) => transcript::AwsContext {
      account: a.identity.account.clone(),
      arn: a.identity.arn.clone(),
      region: a.identity.region.clone(),
      error: None,
    },
    Err(e) => transcript::AwsContext {
      error: Some(e),
      ..Default::default()
    },
  };
  console.say(&match &context.error {
    None => format!(
      "litops: AWS account {} ({}) in {}\n",
      context.account, context.arn, context.region
    ),
    Some(e) => format!("litops: no AWS access: {e}\n"),
  });
  (aws, Some(context))
}

impl<'a> Walk<'a> {
  /// A walk from step `start` with nothing run yet.
  #[allow(
    clippy::too_many_arguments,
    reason = "the walk's parts, each given once"
  )]
  fn new(
    source: &'a Source,
    runbook: &'a Runbook,
    params: &'a Params,
    console: Arc<Console>,
    options: &'a RunOptions,
    transcript: Transcript,
    aws: crate::aws::Session,
    start: usize,
  ) -> Self {
    Self {
      source,
      runbook,
      params,
      console,
      options,
      transcript,
      outputs: Arc::default(),
      vars: Map::new(),
      recorded_vars: Map::new(),
      last: None,
      rows: Vec::new(),
      aws,
      start,
      ask_again: None,
      prefetched: HashMap::new(),
      verdict: (false, String::new()),
      earlier: Vec::new(),
      in_flight: None,
      retry: None,
      blocked_by: None,
      background: Vec::new(),
    }
  }

  /// Walks to the end, records how the run ended, signs if asked.
  fn walk_to_the_end(mut self, started: Instant) -> io::Result<Summary> {
    self.prefetch();
    let (ending, stopped_at) = self.steps()?;
    let prefetch_stopped = self.stop_prefetched();
    let background = self.stop_background();
    let finished = clock::now();
    self.transcript.finish(Event::RunFinished {
      result: ending.result,
      exit_code: ending.exit_code,
      finished_at: finished.rfc3339(),
      duration_ms: finished.millis_since(started),
      reason: ending.reason.clone(),
      stopped_at,
      prefetch_stopped,
      background,
    })?;
    if let Some(key) = &self.options.sign {
      self.transcript.sign(key)?;
    }
    // The summary is shown: masked like everything else on the terminal.
    let mask = &self.params.redactor;
    Ok(Summary {
      rows: self
        .rows
        .into_iter()
        .map(|(id, status, ms)| (mask.text(&id), status, ms))
        .collect(),
      result: ending.result,
      exit_code: ending.exit_code,
      reason: ending.reason.map(|r| mask.text(&r)),
      verdict: mask.text(&self.verdict.1),
    })
  }

  fn selected(&self, step: &Step) -> bool {
    match &self.options.only {
      Some(only) => only.contains(&step.id),
      None => !step.policy.excluded_from_run_all,
    }
  }

  /// Starts, in the background, each fetch whose inputs are parameters
  /// alone, when `--prefetch` or the front matter asks for it.
  fn prefetch(&mut self) {
    if !(self.options.prefetch || self.runbook.meta.prefetch) || self.options.replay.is_some() {
      return;
    }
    let steps = &self.runbook.steps[self.start.min(self.runbook.steps.len())..];
    let eligible: Vec<&Step> = steps
      .iter()
      .filter(|s| self.selected(s) && prefetch::eligible(s, self.params))
      .collect();
    // No AWS session for a run with nothing to prefetch.
    if eligible.is_empty() {
      return;
    }
    let Ok(aws) = self.aws.shared() else {
      return;
    };
    let mut started = Vec::new();
    for step in eligible {
      let Some(action) = step.action() else {
        continue;
      };
      let text = action_text(step, self.params, &self.vars);
      if let Some(pending) = executor(action.kind).prefetch(step, &text, &aws) {
        self.prefetched.insert(step.id.clone(), pending);
        started.push(format!("`{}`", step.id));
      }
    }
    if !started.is_empty() {
      self.console.say(&format!(
        "litops: prefetching {} (results wait until you run the step)\n",
        started.join(", ")
      ));
    }
  }

  /// Stops what was prefetched for steps the run never reached; their ids.
  fn stop_prefetched(&mut self) -> Vec<String> {
    let mut stopped: Vec<String> = Vec::new();
    // Only a run that prefetched has an AWS session to stop anything with;
    // asking for one otherwise would connect a run that has no AWS steps.
    if self.prefetched.is_empty() {
      return stopped;
    }
    let Ok(aws) = self.aws.get() else {
      return stopped;
    };
    let mut left: Vec<_> = self.prefetched.drain().collect();
    left.sort_by(|a, b| a.0.cmp(&b.0));
    for (id, pending) in left {
      let how = pending.stop(aws);
      self
        .console
        .say(&format!("litops: prefetched `{id}` not used: {how}\n"));
      stopped.push(id);
    }
    stopped
  }

  /// Stops the background cells still running; how each ended.
  fn stop_background(&mut self) -> Vec<transcript::BackgroundEnd> {
    let mut ends = Vec::new();
    for (step, background) in self.background.drain(..) {
      let (ended, stdout, stderr) = background.end();
      self
        .console
        .say(&format!("litops: background `{step}` {ended}\n"));
      ends.push(transcript::BackgroundEnd {
        step,
        ended,
        stdout,
        stderr,
      });
    }
    ends
  }

  /// Walks the steps; returns how the run ended and the step it stopped at.
  fn steps(&mut self) -> io::Result<(Ending, Option<String>)> {
    let steps = &self.runbook.steps;
    // A playbook may loop back with goto; bound it so `--yes` cannot spin.
    let max_visits = self
      .runbook
      .meta
      .max_visits
      .unwrap_or(crate::model::DEFAULT_MAX_VISITS);
    let mut visits = vec![0usize; steps.len()];
    let mut i = self.start;
    while i < steps.len() {
      let step = &steps[i];
      if !self.selected(step) {
        i += 1;
        continue;
      }
      // Nothing starts after an interrupt, wherever it arrived.
      if self.console.interrupted() {
        return Ok((interrupted_ending(), Some(step.id.clone())));
      }
      visits[i] += 1;
      if visits[i] > max_visits {
        let reason = Some(format!(
          "goto loop: step `{}` has run {max_visits} times, the limit (`max-visits: N` in the \
           front matter raises it)",
          step.id
        ));
        return Ok((
          Ending {
            result: RunResult::Stopped,
            exit_code: 1,
            reason,
          },
          Some(step.id.clone()),
        ));
      }
      let next = match &step.body {
        StepBody::Manual { .. } => self.manual(i, step)?,
        StepBody::Action(action) => self.action(i, step, action)?,
      };
      match next {
        Next::Continue => i += 1,
        // Checked when the step finished: the target exists.
        Next::Goto(target) => i = self.runbook.step_index(&target).unwrap_or(steps.len()),
        Next::Stop(ending) => return Ok((ending, Some(step.id.clone()))),
      }
    }
    // A resumed run's verdict covers the whole run: a step that failed
    // under on-failure=continue, or an item not done, before the resume
    // still counts unless it ran again since (or a forced resume's changed
    // runbook no longer has it).
    let earlier = self
      .earlier
      .iter()
      .filter(|(id, _)| {
        !self.rows.iter().any(|(r, _, _)| r == id) && self.runbook.step_index(id).is_some()
      })
      .map(|(_, s)| *s);
    // A step run again (retried, or revisited by a jump) counts as it
    // ended last.
    let mut latest: Vec<(&str, Status)> = Vec::new();
    for (id, status, _) in &self.rows {
      latest.retain(|(i, _)| i != id);
      latest.push((id, *status));
    }
    let statuses: Vec<Status> = earlier.chain(latest.into_iter().map(|(_, s)| s)).collect();
    let result = RunResult::of(statuses.iter().copied());
    let waiting = statuses
      .iter()
      .all(|s| s.is_ok() || *s == Status::Unconfirmed);
    let exit_code = match result {
      RunResult::Passed => 0,
      // Nothing failed and nobody said "not done": a person is needed.
      RunResult::Incomplete if waiting => NEEDS_A_PERSON,
      _ => 1,
    };
    Ok((
      Ending {
        result,
        exit_code,
        reason: None,
      },
      None,
    ))
  }

  /// Shows a step before it is asked about; `foldable` when a prompt follows
  /// where `[v]iew` can unfold a long action.
  fn show(&self, index: usize, step: &Step, text: &str, foldable: bool) {
    let total = self.runbook.steps.len();
    self
      .console
      .at(format!("[{}/{total}] {}", index + 1, step.id));
    let effect = match &step.body {
      StepBody::Manual { .. } => style::paint(style::CHECKLIST, "checklist"),
      StepBody::Action(a) if a.mutating => style::paint(style::MUTATING, "mutating"),
      StepBody::Action(_) => style::paint(style::READ_ONLY, "read-only"),
    };
    let mut out = format!(
      "\n{} · {} · {effect} · {}:{}\n",
      style::paint(
        style::HEADER,
        &format!("━━ [{}/{total}] {}", index + 1, step.id)
      ),
      step.kind_name(),
      self.source.path.display(),
      step.line
    );
    if !step.headings.is_empty() {
      out.push_str(&format!("   {}\n", step.heading_path()));
    }
    if let Some(prose) = &step.prose {
      let prose = fill(prose, self.params, &self.vars);
      out.push_str(&console::wrap(&prose, self.console.width(), "   "));
    }
    if foldable && self.folds(text) {
      let first: String = text
        .lines()
        .take(FOLDED_LINES)
        .collect::<Vec<_>>()
        .join("\n");
      out.push_str(&action_lines(&first));
      out.push_str(&format!(
        "   {}\n",
        style::paint(
          style::DIM,
          &format!(
            "… {} more lines ([v]iew)",
            text.lines().count() - FOLDED_LINES
          )
        )
      ));
    } else {
      out.push_str(&action_lines(text));
    }
    if let Some(pending) = self.prefetched.get(&step.id) {
      let state = if pending.is_ready() {
        "result ready"
      } else {
        "still running"
      };
      out.push_str(&format!(
        "   ⟳ prefetched at {}: {state}; shown once you run the step\n",
        pending.started_at().rfc3339()
      ));
    }
    let aws_change = step.is_mutating() && step.action().is_some_and(|a| a.kind.is_aws());
    if let Some(identity) = self.aws.identity().filter(|_| aws_change) {
      out.push_str(&format!(
        "   ⚠ changes AWS account {} in {}\n",
        identity.account, identity.region
      ));
    }
    self.console.say(&out);
  }

  /// Whether an action is folded before its prompt: long, and someone at
  /// a terminal who can ask to view it whole.
  fn folds(&self, text: &str) -> bool {
    self.console.interactive && self.console.width().is_some() && text.lines().count() > FOLD_OVER
  }

  fn decision(&self, answer: Choice, how: &str, reason: Option<String>) -> Decision {
    Decision {
      answer,
      by: self.options.operator.clone(),
      how: how.into(),
      at: clock::now().rfc3339(),
      reason: reason.filter(|r| !r.is_empty()),
    }
  }

  /// Asks until one of `choices` (by first letter or whole word) is typed.
  fn choose(&self, prompt: &str, choices: &[&'static str]) -> Result<&'static str, Next> {
    loop {
      match self.console.ask(prompt, false) {
        Answer::Line(line) => {
          let line = line.trim().to_lowercase();
          let pick = choices
            .iter()
            .find(|c| **c == line || (!line.is_empty() && c.starts_with(&line) && line.len() == 1));
          if let Some(pick) = pick {
            return Ok(pick);
          }
        }
        // Ctrl-D at a terminal is the operator's way out.
        Answer::Unavailable if self.console.interactive => {
          return Err(Next::Stop(Ending {
            reason: Some("the operator quit (Ctrl-D)".into()),
            ..quit_ending()
          }));
        }
        Answer::Unavailable => {
          return Err(Next::Stop(Ending {
            result: RunResult::Stopped,
            exit_code: NEEDS_A_PERSON,
            reason: Some(
              "no terminal to ask whether to run this step: run in a terminal, or pass \
             --yes-readonly or --yes"
                .into(),
            ),
          }));
        }
        Answer::Interrupted => return Err(interrupted()),
      }
    }
  }

  fn note(&self, prompt: &str) -> Result<Option<String>, Next> {
    match self.console.ask(prompt, false) {
      Answer::Line(line) => Ok(Some(line.trim().to_string()).filter(|l| !l.is_empty())),
      Answer::Unavailable => Ok(None),
      Answer::Interrupted => Err(interrupted()),
    }
  }

  fn manual(&mut self, index: usize, step: &Step) -> io::Result<Next> {
    let text = action_text(step, self.params, &self.vars);
    self.show(index, step, &format!("[ ] {text}"), false);
    let started = clock::now();
    let (status, decision) = if let Some(replay) = &self.options.replay {
      let status = replay.checklist(step);
      let choice = match status {
        Status::Done => Choice::Done,
        Status::NotDone => Choice::NotDone,
        Status::NotApplicable => Choice::NotApplicable,
        _ => Choice::Unconfirmed,
      };
      (status, self.decision(choice, "litops test", None))
    } else if !self.console.interactive {
      // A checklist item needs a person; nobody answered, so it is not done.
      (
        Status::Unconfirmed,
        self.decision(Choice::Unconfirmed, "none", None),
      )
    } else {
      let answer = match self.choose(
        "[d]one / [n]ot done / n/a / [q]uit › ",
        &["done", "not-done", "n/a", "quit"],
      ) {
        Ok(a) => a,
        Err(stop) => return Ok(stop),
      };
      if answer == "quit" {
        return Ok(quit());
      }
      let note = match self.note("note (optional) › ") {
        Ok(n) => n,
        Err(stop) => return Ok(stop),
      };
      let (status, choice) = match answer {
        "done" => (Status::Done, Choice::Done),
        "not-done" => (Status::NotDone, Choice::NotDone),
        _ => (Status::NotApplicable, Choice::NotApplicable),
      };
      (status, self.decision(choice, self.console.how(), note))
    };
    // A required item not done holds back every later change.
    if matches!(step.body, StepBody::Manual { required: true, .. })
      && matches!(status, Status::NotDone | Status::Unconfirmed)
    {
      self.blocked_by = Some(step.id.clone());
    }
    let mut output = Output::new(status);
    output.fields.insert("text".into(), Value::String(text));
    output.fields.insert(
      "note".into(),
      decision.reason.clone().map_or(Value::Null, Value::String),
    );
    self.finish(index, step, output, started, Some(decision))?;
    Ok(Next::Continue)
  }

  /// A change after a required item that was not done: only the operator,
  /// at a terminal, can override that (recorded); otherwise it is skipped.
  /// The decision to run it anyway, or how the walk goes on without it.
  fn held_back(
    &mut self,
    index: usize,
    step: &Step,
    item: &str,
  ) -> io::Result<Result<Decision, Next>> {
    let why = format!("required checklist item `{item}` was not done");
    if !(self.console.interactive && self.options.approval == Approval::Ask) {
      let reason = Some(format!("{why}: changes wait until it is"));
      return self.skip(index, step, "required item", reason).map(Err);
    }
    self.console.say(&format!(
      "   {}\n",
      style::paint(style::ERROR, &format!("⚠ {why}"))
    ));
    let answer = match self.choose(
      "run this change anyway? [o]verride / [s]kip / [q]uit › ",
      &["override", "skip", "quit"],
    ) {
      Ok(answer) => answer,
      Err(stop) => return Ok(Err(stop)),
    };
    Ok(match answer {
      "override" => Ok(self.decision(
        Choice::Run,
        self.console.how(),
        Some(format!("overrides: {why}")),
      )),
      "skip" => Err(self.skip(index, step, self.console.how(), Some(why))?),
      _ => Err(quit()),
    })
  }

  fn action(&mut self, index: usize, step: &Step, action: &Action) -> io::Result<Next> {
    let text = action_text(step, self.params, &self.vars);
    // A script that cannot ask anything is glue between steps: sandboxed,
    // it changes nothing, so asking to run it is noise.
    let glue = action.kind == ActionKind::Rhai && !crate::script::asks(&action.code);
    let asked =
      self.options.approval == Approval::Ask && (!glue || step.policy.confirm == Confirm::Always);
    self.show(index, step, &text, asked);
    // `notify` fills values inside its parsed body itself.
    if action.kind.is_declarative()
      && action.kind != ActionKind::Notify
      && let Err(error) = faithful::check(action.kind, &action.code, &text, |name| {
        crate::plan::value_of(name, self.params, &self.vars)
      })
    {
      // Nothing is asked or run: the step is not what was written.
      return self.refuse(index, step, error);
    }
    let executor = executor(action.kind);
    let mut preview = None;
    // A test shows no diff: it would read the current state from AWS.
    if step.is_mutating() && self.options.replay.is_none() {
      let mut vars = self.vars.clone();
      preview = executor.preview(&self.step_run(step, &text, &mut vars));
      if let Some(preview) = &preview {
        self.console.say(&style::diff(preview));
      }
    }
    let in_flight = self.ask_again.as_ref() == Some(&step.id);
    if in_flight {
      self.console.say(
        "   this step was running when the run stopped; it may have made its change already\n",
      );
    }
    if self.options.approval == Approval::Unattended && step.is_mutating() {
      let reason = Some("fan-out runs change nothing without --yes".to_string());
      return self.skip(index, step, "--targets", reason);
    }
    match self.in_flight.filter(|_| in_flight) {
      Some(InFlight::Skip) => {
        let reason = Some("in flight when the run stopped; it may have made its change".into());
        return self.skip(index, step, "--in-flight skip", reason);
      }
      Some(InFlight::Rerun) | None => {}
    }
    let overridden = match self.blocked_by.clone().filter(|_| step.is_mutating()) {
      Some(item) => match self.held_back(index, step, &item)? {
        Ok(decision) => Some(decision),
        Err(next) => return Ok(next),
      },
      None => None,
    };
    let retried = self.retry.take().is_some_and(|id| id == step.id);
    let auto = match (step.policy.confirm, self.options.approval) {
      _ if retried => Some("retry after it failed"),
      _ if in_flight && self.in_flight == Some(InFlight::Rerun) => Some("--in-flight rerun"),
      _ if in_flight => None,
      // A test asks nobody, whatever the step says.
      (_, Approval::Replay) => Some("litops test"),
      (Confirm::Always, _) => None,
      (_, Approval::Ask) if glue => Some("auto: sandboxed script"),
      (_, Approval::Ask) => None,
      (_, Approval::Yes) => Some("--yes"),
      (_, Approval::YesReadonly) => (!step.is_mutating()).then_some("--yes-readonly"),
      (_, Approval::Unattended) => Some("--targets"),
    };
    let decision = match (overridden, auto) {
      (Some(decision), _) => decision,
      (None, Some(how)) => self.decision(Choice::Run, how, None),
      (None, None) => {
        let folded = self.folds(&text);
        let answer = loop {
          let answer = if folded {
            self.choose(
              "run this step? [r]un / [s]kip / [v]iew / [q]uit › ",
              &["run", "skip", "view", "quit"],
            )
          } else {
            self.choose(
              "run this step? [r]un / [s]kip / [q]uit › ",
              &["run", "skip", "quit"],
            )
          };
          match answer {
            Ok("view") => self.console.say(&action_lines(&text)),
            Ok(a) => break a,
            Err(stop) => return Ok(stop),
          }
        };
        match answer {
          "quit" => return Ok(quit()),
          "skip" => {
            let reason = match self.note("reason for skipping (optional) › ") {
              Ok(r) => r,
              Err(stop) => return Ok(stop),
            };
            return self.skip(index, step, self.console.how(), reason);
          }
          _ => self.decision(Choice::Run, self.console.how(), None),
        }
      }
    };
    // A stop-on alarm in ALARM: no change runs, here or anywhere.
    if step.is_mutating()
      && let Some(why) = self.options.tripwire.as_ref().and_then(|t| t.check())
    {
      self.console.say(&format!("   not run: {why}\n"));
      return Ok(Next::Stop(Ending {
        result: RunResult::Stopped,
        exit_code: 1,
        reason: Some(why),
      }));
    }
    // A test changes nothing, so no approval is needed for it.
    if self.options.replay.is_none()
      && let Err(next) = self.gate(index, step, &text, preview.as_deref())?
    {
      return Ok(next);
    }
    let started = clock::now();
    self.transcript.append(Event::StepStarted {
      step: step.id.clone(),
      index: index + 1,
      total: self.runbook.steps.len(),
      line: step.line,
      headings: step.headings.to_vec(),
      kind: step.kind(),
      mutating: step.is_mutating(),
      action: text.clone(),
      decision,
      started_at: started.rfc3339(),
    })?;
    // The step works on a copy of the variables (rhai sets them), so the
    // walk's own state is only borrowed immutably meanwhile.
    let mut vars = self.vars.clone();
    let prefetched = self.prefetched.remove(&step.id);
    let mut run = self.step_run(step, &text, &mut vars);
    run.prefetched = prefetched;
    // The last line of defence: a panic inside a step (a bug in litops or
    // a crate it uses) fails that step; the transcript is still finished.
    // Shell and HTTP steps show they are alive; the AWS kinds show their
    // own progress, and rhai asks questions.
    // A cell that asks for its variables first shows no spinner over the
    // question.
    // Nor does one that reads the terminal itself.
    let asks_first = action.cell.interactive || action.cell.prompts_env;
    let alive = matches!(action.kind, ActionKind::Shell(_) | ActionKind::Http)
      .then_some(())
      .filter(|()| !asks_first)
      .map(|()| self.console.alive(step.policy.timeout));
    let replayed = self
      .options
      .replay
      .as_ref()
      .filter(|_| action.kind != ActionKind::Rhai);
    let output = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| match replayed {
      Some(replay) => replay.output(step),
      None => executor.execute(&mut run),
    }))
    .unwrap_or_else(|payload| {
      let what = payload
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| payload.downcast_ref::<&str>().copied())
        .unwrap_or("no message");
      Output::failed(
        Status::Failed,
        format!("internal error in litops (a bug; please report it): {what}"),
      )
    });
    drop(alive);
    self.vars = vars;
    let mut output = output;
    if let Some(background) = output.background.take() {
      self.background.push((step.id.clone(), background));
    }
    if let Some(target) = output.goto.take() {
      // A computed goto to a step that does not exist fails the step that
      // asked for it, so its on-failure policy decides what happens next.
      if self.runbook.step_index(&target).is_some() {
        output.goto = Some(target);
      } else {
        let close = crate::diagnostic::close_matches(
          &target,
          self.runbook.steps.iter().map(|s| s.id.as_str()),
        );
        output.status = Status::Failed;
        output.error = Some(format!(
          "goto(\"{target}\") names no step in this runbook{}",
          crate::diagnostic::did_you_mean(&close)
        ));
      }
    }
    let (status, goto, unanswered) = (output.status, output.goto.clone(), output.unanswered);
    self.finish(index, step, output, started, None)?;
    if status == Status::Interrupted {
      return Ok(interrupted());
    }
    if unanswered {
      return Ok(Next::Stop(Ending {
        result: RunResult::Stopped,
        exit_code: NEEDS_A_PERSON,
        reason: Some("a question could not be asked: no terminal".into()),
      }));
    }
    // At a terminal, the operator decides what a failure means now; with
    // --yes or --yes-readonly, and unattended, the step's policy does.
    if status.is_failure() && self.options.approval == Approval::Ask && self.console.interactive {
      return self.after_failure(index, step);
    }
    if status.is_failure() && step.policy.on_failure == OnFailure::Stop {
      return Ok(Next::Stop(Ending {
        result: RunResult::Failed,
        exit_code: 1,
        reason: Some(format!("step `{}` {status} (on-failure=stop)", step.id)),
      }));
    }
    Ok(goto.map_or(Next::Continue, Next::Goto))
  }

  /// Asks what to do about a step that just failed, records the answer,
  /// and does it: run it again, go on (the failure still counts), skip it
  /// (the operator overrides the failure) or quit.
  fn after_failure(&mut self, index: usize, step: &Step) -> io::Result<Next> {
    let answer = match self.choose(
      "step failed: [r]etry / [c]ontinue / [s]kip / [q]uit › ",
      &["retry", "continue", "skip", "quit"],
    ) {
      Ok(answer) => answer,
      Err(stop) => return Ok(stop),
    };
    let choice = match answer {
      "retry" => Choice::Retry,
      "continue" => Choice::Continue,
      "skip" => Choice::Skip,
      _ => Choice::Quit,
    };
    self.transcript.append(Event::AfterFailure {
      step: step.id.clone(),
      decision: self.decision(choice, self.console.how(), None),
    })?;
    match choice {
      Choice::Retry => {
        self.retry = Some(step.id.clone());
        Ok(Next::Goto(step.id.clone()))
      }
      Choice::Skip => {
        let reason = Some("skipped after it failed".to_string());
        self.skip(index, step, self.console.how(), reason)
      }
      Choice::Continue => Ok(Next::Continue),
      _ => Ok(quit()),
    }
  }

  /// Records a step that cannot run as written as failed, before anything
  /// is asked or run; its failure policy decides what comes next.
  fn refuse(&mut self, index: usize, step: &Step, error: String) -> io::Result<Next> {
    self.finish(
      index,
      step,
      Output::failed(Status::Failed, error),
      clock::now(),
      None,
    )?;
    Ok(match step.policy.on_failure {
      OnFailure::Stop => Next::Stop(Ending {
        result: RunResult::Failed,
        exit_code: 1,
        reason: Some(format!("step `{}` failed (on-failure=stop)", step.id)),
      }),
      OnFailure::Continue => Next::Continue,
    })
  }

  /// Records a step as skipped, with who decided and why, and moves on.
  fn skip(
    &mut self,
    index: usize,
    step: &Step,
    how: &str,
    reason: Option<String>,
  ) -> io::Result<Next> {
    let decision = self.decision(Choice::Skip, how, reason);
    let mut output = Output::new(Status::Skipped);
    // A skipped step's prefetched query must cost nothing more.
    if let Some(pending) = self.prefetched.remove(&step.id) {
      let at = pending.started_at().rfc3339();
      output
        .fields
        .insert("prefetched_at".into(), Value::String(at));
      // Something was prefetched, so the session exists already.
      if let Ok(aws) = self.aws.get() {
        output
          .fields
          .insert("prefetch".into(), Value::String(pending.stop(aws)));
      }
    }
    self.finish(index, step, output, clock::now(), Some(decision))?;
    Ok(Next::Continue)
  }

  fn step_run<'s>(
    &'s self,
    step: &'s Step,
    text: &'s str,
    vars: &'s mut Map<String, Value>,
  ) -> StepRun<'s> {
    StepRun {
      step,
      text,
      source: self.source,
      params: self.params,
      outputs: &self.outputs,
      last: self.last.as_ref(),
      vars,
      console: &self.console,
      timeout: step.policy.timeout,
      aws: &self.aws,
      prefetched: None,
      replay: self.options.replay.as_deref(),
      asks: self.console.interactive
        && matches!(self.options.approval, Approval::Ask | Approval::YesReadonly),
    }
  }

  fn finish(
    &mut self,
    index: usize,
    step: &Step,
    output: Output,
    started: Instant,
    decision: Option<Decision>,
  ) -> io::Result<()> {
    let finished = clock::now();
    let duration_ms = finished.millis_since(started);
    let mut fields = output.fields;
    // The lists `litops test` checks cases against must cover what runs.
    debug_assert!(
      self.options.replay.is_some()
        || step
          .action()
          .is_none_or(|a| unknown_fields(a.kind, &fields).is_empty()),
      "a {} step recorded a field its kind does not list: {:?}",
      step.kind_name(),
      fields.keys().collect::<Vec<_>>()
    );
    fields.insert("status".into(), Value::String(output.status.name().into()));
    let value = Value::Object(fields);
    // What the step was given in secret is masked before anything of it
    // is written, sidecars included.
    for (name, secret) in &output.secrets {
      self.transcript.mask_also(name, secret);
    }
    let mut recorded = value.clone();
    let sidecars = self.transcript.cut_long_fields(&step.id, &mut recorded)?;
    let error = output.error;
    if let Some(error) = &error {
      self.console.say(&format!(
        "   {}\n",
        style::paint(style::ERROR, &format!("✗ {error}"))
      ));
    }
    if step.id == "verdict" || !self.verdict.0 {
      self.verdict = (step.id == "verdict", verdict(&recorded, error.as_deref()));
    }
    // A script's value is what it found: shown, on one line.
    if let Some(shown) = value.get("value").filter(|v| !v.is_null()).map(one_line) {
      self.console.say(&format!("   = {shown}\n"));
    }
    self.console.say(&format!(
      "   → {} ({})\n",
      style::status(output.status),
      transcript::seconds(duration_ms)
    ));
    if let Some(target) = &output.goto {
      let why = match value.get("goto_reason") {
        Some(Value::String(reason)) => format!(" — {reason}"),
        _ => String::new(),
      };
      self.console.say(&format!("   → goto `{target}`{why}\n"));
    }
    self.transcript.append(Event::StepFinished {
      step: step.id.clone(),
      index: index + 1,
      total: self.runbook.steps.len(),
      line: step.line,
      kind: step.kind(),
      status: output.status,
      finished_at: finished.rfc3339(),
      duration_ms,
      output: recorded,
      sidecars,
      error: error.clone(),
      decision,
      goto: output.goto,
      vars: (self.vars != self.recorded_vars).then(|| {
        self.recorded_vars = self.vars.clone();
        self.vars.clone()
      }),
    })?;
    // Later rhai steps also see why a step failed.
    let value = transcript::output_seen(&value, error.as_deref());
    // The step's own view of the outputs is gone by now: no copy is made.
    Arc::make_mut(&mut self.outputs).insert(step.id.clone(), value.clone());
    self.last = Some(value);
    self
      .rows
      .push((step.id.clone(), output.status, duration_ms));
    Ok(())
  }
}

/// An action longer than this many lines is folded before its prompt…
const FOLD_OVER: usize = 15;
/// …to its first lines.
const FOLDED_LINES: usize = 10;

/// An action's lines as the walk shows them, under a rule.
fn action_lines(text: &str) -> String {
  text.lines().map(|line| format!("   │ {line}\n")).collect()
}

/// The longest a value is shown on its one line.
const SHOWN_VALUE: usize = 200;

/// A value on one line, cut: what a script found, shown.
fn one_line(value: &Value) -> String {
  let text = flat(value);
  match text.char_indices().nth(SHOWN_VALUE) {
    Some((cut, _)) => format!("{}…", &text[..cut]),
    None => text,
  }
}

/// A step's result on one line, as recorded: its error, else its value.
pub fn verdict(output: &Value, error: Option<&str>) -> String {
  error.map_or_else(
    || output.get("value").map(flat).unwrap_or_default(),
    collapse,
  )
}

/// A string as it is, anything else as JSON; on one line.
fn flat(value: &Value) -> String {
  match value {
    Value::String(s) => collapse(s),
    other => collapse(&other.to_string()),
  }
}

fn collapse(text: &str) -> String {
  text.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn quit() -> Next {
  Next::Stop(quit_ending())
}

fn quit_ending() -> Ending {
  Ending {
    result: RunResult::Quit,
    exit_code: 1,
    reason: Some("the operator quit".into()),
  }
}

fn interrupted() -> Next {
  Next::Stop(interrupted_ending())
}

/// A run a signal ended: exit 128 + the signal, the signal named.
fn interrupted_ending() -> Ending {
  Ending {
    result: RunResult::Interrupted,
    exit_code: crate::cancel::interrupted_exit_code(),
    reason: Some(crate::cancel::interruption()),
  }
}
