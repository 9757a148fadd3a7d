//! One case walked with its outputs replayed, and compared with what it
//! expects.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::{Case, Expect, Suite};
use crate::exec::{self, Approval, Replay, RunOptions, Status};
use crate::model::ActionKind;
use crate::params::{Given, ParamError, Sources, Unanswered};
use crate::transcript::RunResult;

/// Values for a test: what the case gives, else the defaults; nothing is
/// read or asked.
struct CaseParams;

impl Sources for CaseParams {
  fn fetch(
    &mut self,
    param: &crate::model::Param,
    _: &crate::model::Origin,
  ) -> Result<String, String> {
    Err(format!(
      "the case gives no value for it and a test reads nothing: add `{}:` under `params`",
      param.name
    ))
  }

  fn ask(&mut self, _: &crate::model::Param, _: Option<&str>) -> Result<String, Unanswered> {
    Err(Unanswered::NoTerminal)
  }
}

/// Why a case's parameters cannot be used, in a test's terms.
fn param_problem(error: &ParamError) -> String {
  match error {
    ParamError::Missing(name) => {
      format!("parameter `{name}` has no default: add `{name}:` under the case's `params`")
    }
    ParamError::Several(all) => all.iter().map(param_problem).collect::<Vec<_>>().join("; "),
    other => other.to_string(),
  }
}

/// What a case's run did, as its expectations are written.
#[derive(Debug)]
pub struct Outcome {
  pub exit: i32,
  pub result: RunResult,
  /// Each step that ran, as it ended last, in the order they first ran.
  pub steps: Vec<(String, Status)>,
  pub verdict: String,
  pub not_run: Vec<String>,
  /// What each script step found last (its value or failure, on one line).
  pub values: Vec<(String, String)>,
}

/// Runs one case: the walk with its outputs replayed, its transcript in
/// `dir`.
pub fn run(suite: &Suite, case: &Case, dir: &Path) -> Result<Outcome, String> {
  let given = Given {
    pairs: case.params.clone(),
  };
  let params = crate::params::resolve(&suite.runbook.meta, &given, &mut CaseParams)
    .map_err(|e| param_problem(&e))?;
  let console = Arc::new(exec::Console::unattended(None).map_err(|e| e.to_string())?);
  let options = RunOptions {
    approval: Approval::Replay,
    from: None,
    only: None,
    transcript: dir.join(format!(
      "{}.jsonl",
      crate::transcript::sha256_hex(case.name.as_bytes())
    )),
    operator: "litops test".into(),
    run_id: crate::transcript::run_id(crate::clock::now()),
    aws: crate::aws::Settings::default(),
    sign: None,
    prefetch: false,
    approvals: exec::Approvals::default(),
    fleet: Vec::new(),
    tripwire: None,
    replay: Some(Arc::new(Replay {
      outputs: case.replay.outputs.clone(),
      answers: Arc::new(case.replay.answers.fresh()),
    })),
  };
  crate::clock::freeze(case.at);
  let summary = exec::run(
    &suite.runbook_source,
    &suite.runbook,
    &params,
    console,
    &options,
  );
  crate::clock::freeze(None);
  let summary = summary.map_err(|e| e.to_string())?;
  let text = std::fs::read_to_string(&options.transcript)
    .map_err(|e| format!("cannot read its transcript: {e}"))?;
  let mut values: Vec<(String, String)> = Vec::new();
  for record in crate::transcript::records(&text) {
    if let crate::transcript::Event::StepFinished {
      step,
      output,
      error,
      ..
    } = record.event
    {
      let script = suite
        .runbook
        .step_index(&step)
        .and_then(|i| suite.runbook.steps[i].action())
        .is_some_and(|a| a.kind == ActionKind::Rhai);
      if script {
        let value = exec::verdict(&output, error.as_deref());
        values.retain(|(id, _)| *id != step);
        values.push((step, value));
      }
    }
  }
  let mut steps: Vec<(String, Status)> = Vec::new();
  for (id, status, _) in &summary.rows {
    match steps.iter_mut().find(|(s, _)| s == id) {
      Some(seen) => seen.1 = *status,
      None => steps.push((id.clone(), *status)),
    }
  }
  let not_run = suite
    .runbook
    .steps
    .iter()
    .filter(|s| !steps.iter().any(|(id, _)| *id == s.id))
    .map(|s| s.id.clone())
    .collect();
  Ok(Outcome {
    exit: summary.exit_code,
    result: summary.result,
    steps,
    verdict: summary.verdict,
    not_run,
    values,
  })
}

/// Where the outcome differs from what the case expects, one line each.
pub fn compare(expect: &Expect, outcome: &Outcome) -> Vec<String> {
  let mut failures = Vec::new();
  if let Some(exit) = expect.exit.filter(|e| *e != outcome.exit) {
    failures.push(format!("exit: expected {exit}, got {}", outcome.exit));
  }
  if let Some(result) = expect.result.filter(|r| *r != outcome.result) {
    failures.push(format!("result: expected {result}, got {}", outcome.result));
  }
  for (id, status) in &expect.steps {
    match outcome.steps.iter().find(|(s, _)| s == id) {
      Some((_, got)) if got == status => {}
      Some((_, got)) => failures.push(format!("step `{id}`: expected {status}, got {got}")),
      None => failures.push(format!("step `{id}`: expected {status}, but it never ran")),
    }
  }
  if let Some(verdict) = expect.verdict.as_ref().filter(|v| **v != outcome.verdict) {
    failures.push(format!(
      "verdict: expected “{verdict}”, got “{}”",
      outcome.verdict
    ));
  }
  for part in &expect.verdict_contains {
    if !outcome.verdict.contains(part.as_str()) {
      failures.push(format!(
        "verdict: expected it to contain “{part}”, got “{}”",
        outcome.verdict
      ));
    }
  }
  for (id, value) in &expect.values {
    match outcome.values.iter().find(|(s, _)| s == id) {
      Some((_, got)) if got == value => {}
      Some((_, got)) => failures.push(format!("`{id}`: expected “{value}”, got “{got}”")),
      None => failures.push(format!("`{id}`: expected “{value}”, but it never ran")),
    }
  }
  for id in &expect.not_run {
    if let Some((_, status)) = outcome.steps.iter().find(|(s, _)| s == id) {
      failures.push(format!(
        "step `{id}`: expected it not to run, but it ran ({status})"
      ));
    }
  }
  failures
}

/// A case's result: passed, or why not.
pub struct Verdict {
  pub file: PathBuf,
  pub case: String,
  pub failures: Vec<String>,
  pub seconds: f64,
}

/// Every case of a suite, run and compared; with `update`, the outcomes
/// too, for writing expectations.
pub fn run_suite(suite: &Suite, update: bool) -> (Vec<Verdict>, Vec<(usize, Outcome)>) {
  let mut verdicts = Vec::new();
  let mut outcomes = Vec::new();
  let dir = tempfile::tempdir();
  for (i, case) in suite.cases.iter().enumerate() {
    // Ctrl-C ends the cases, not only the one it arrived in.
    if crate::cancel::signalled() {
      break;
    }
    let started = std::time::Instant::now();
    let failures = match &dir {
      Err(e) => vec![format!("cannot make a directory for its transcript: {e}")],
      Ok(dir) => match run(suite, case, dir.path()) {
        Err(why) => vec![why],
        // A case a signal cut short says so, whatever it expected.
        Ok(_) if crate::cancel::signalled() => vec![crate::cancel::interruption()],
        Ok(outcome) => {
          let failures = if update {
            Vec::new()
          } else {
            compare(&case.expect, &outcome)
          };
          outcomes.push((i, outcome));
          failures
        }
      },
    };
    verdicts.push(Verdict {
      file: suite.file.path.clone(),
      case: case.name.clone(),
      failures,
      seconds: started.elapsed().as_secs_f64(),
    });
  }
  (verdicts, outcomes)
}
