//! `litops run FILE --targets TARGETS.yaml`: the same runbook for many
//! environments at once, each with its own parameters, profile and region
//! and its own transcript, then one matrix of targets × steps.
//!
//! ```yaml
//! targets:
//!   - name: acme-prod
//!     params: {customer: acme, cluster: acme-production}
//!     region: eu-west-1
//!     profile: acme                                  # or:
//!     role: arn:aws:iam::111122223333:role/litops-readonly
//! ```

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use serde::Deserialize;

use crate::exec::{self, Console, RunOptions, Summary};
use crate::model::Runbook;
use crate::params::{Given, Live, resolve};
use crate::source::Source;
use crate::transcript::{Status, seconds};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Target {
  pub name: String,
  #[serde(default)]
  pub params: serde_yaml::Mapping,
  pub profile: Option<String>,
  pub region: Option<String>,
  /// A role to assume for this target: `arn:aws:iam::ACCOUNT:role/NAME`.
  pub role: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
  targets: Vec<Target>,
}

#[derive(Debug)]
pub enum TargetsError {
  Read(PathBuf, std::io::Error),
  Yaml(PathBuf, String),
  Empty(PathBuf),
  BadName(PathBuf, String),
}

impl fmt::Display for TargetsError {
  fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
    match self {
      Self::Read(p, e) => write!(f, "{}: error: cannot read it: {e}", p.display()),
      Self::Yaml(p, m) => write!(
        f,
        "{}: error: {m} (expected `targets:`, a list of {{name, params, profile, region, role}})",
        p.display()
      ),
      Self::Empty(p) => write!(f, "{}: error: no targets", p.display()),
      Self::BadName(p, n) => write!(
        f,
        "{}: error: target name `{n}` must be letters, digits, `-`, `_` or `.`, and unique (it names the transcript)",
        p.display()
      ),
    }
  }
}

pub fn load(path: &Path) -> Result<Vec<Target>, TargetsError> {
  let text =
    crate::source::read_input_text(path).map_err(|e| TargetsError::Read(path.into(), e))?;
  if crate::parse::yaml::too_deep(&text).is_some() {
    return Err(TargetsError::Yaml(
      path.into(),
      crate::parse::yaml::depth_message(),
    ));
  }
  let file: File = serde_yaml::from_str(&text)
    .map_err(|e| TargetsError::Yaml(path.into(), crate::diagnostic::yaml_message(&e)))?;
  if file.targets.is_empty() {
    return Err(TargetsError::Empty(path.into()));
  }
  for (i, t) in file.targets.iter().enumerate() {
    let valid = !t.name.is_empty()
      && t
        .name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
      && !file.targets[..i].iter().any(|o| o.name == t.name);
    if !valid {
      return Err(TargetsError::BadName(path.into(), t.name.clone()));
    }
  }
  Ok(file.targets)
}

/// How one target's run ended.
pub struct Outcome {
  pub target: String,
  pub transcript: PathBuf,
  /// The walk's summary, or why the target could not run at all.
  pub run: Result<Summary, String>,
}

pub struct Plan<'a> {
  pub source: &'a Source,
  pub runbook: &'a Runbook,
  /// `--param` values given for every target (a target's own win).
  pub given: Vec<(String, String)>,
  /// Settings shared by every target; each gets its own transcript, run id,
  /// region and profile.
  pub options: RunOptions,
  pub max_concurrency: usize,
  /// Stop starting targets once this many failed.
  pub max_errors: Option<usize>,
  /// Run this many targets first; start the rest only if they all pass.
  pub canary: usize,
  /// The live display on a terminal: a line per running target.
  pub display: Option<indicatif::MultiProgress>,
}

/// Runs every target, at most `max_concurrency` at once; prints one line per
/// finished target through `progress`. Targets not started because of
/// `max_errors` are not in the result.
pub fn run(
  plan: &Plan,
  mut targets: Vec<Target>,
  progress: &(dyn Fn(&Outcome) + Sync),
) -> Vec<Outcome> {
  let failed = AtomicUsize::new(0);
  let outcomes = Mutex::new(Vec::new());
  // A staged rollout: the canaries first, the rest only if they all passed.
  if plan.canary > 0 {
    let rest = targets.split_off(plan.canary.min(targets.len()));
    phase(plan, targets, progress, &failed, &outcomes);
    if failed.load(Ordering::SeqCst) > 0 {
      return outcomes.into_inner().unwrap_or_default();
    }
    targets = rest;
  }
  phase(plan, targets, progress, &failed, &outcomes);
  outcomes.into_inner().unwrap_or_default()
}

/// Runs `targets`, at most `max_concurrency` at once, until they are done
/// or `max_errors` have failed (counting earlier phases').
fn phase(
  plan: &Plan,
  targets: Vec<Target>,
  progress: &(dyn Fn(&Outcome) + Sync),
  failed: &AtomicUsize,
  outcomes: &Mutex<Vec<Outcome>>,
) {
  let queue = Mutex::new(targets.into_iter().collect::<VecDeque<_>>());
  std::thread::scope(|scope| {
    for _ in 0..plan.max_concurrency.max(1) {
      scope.spawn(|| {
        loop {
          if plan
            .max_errors
            .is_some_and(|m| failed.load(Ordering::SeqCst) >= m)
          {
            return;
          }
          // A stop-on alarm in ALARM: no new target starts.
          if plan
            .options
            .tripwire
            .as_ref()
            .is_some_and(|t| t.check().is_some())
          {
            return;
          }
          let next = queue.lock().ok().and_then(|mut q| q.pop_front());
          let Some(target) = next else { return };
          let outcome = one(plan, target);
          let ok = outcome.run.as_ref().is_ok_and(|s| s.exit_code == 0);
          if !ok {
            failed.fetch_add(1, Ordering::SeqCst);
          }
          progress(&outcome);
          if let Ok(mut all) = outcomes.lock() {
            all.push(outcome);
          }
        }
      });
    }
  });
}

/// `--max-errors N` or `N%` (of the targets, at least one) as a count.
pub fn error_budget(text: &str, targets: usize) -> Result<usize, String> {
  let bad = || format!("--max-errors {text}: expected a count (3) or a share of the targets (10%)");
  match text.strip_suffix('%') {
    Some(percent) => {
      let percent: f64 = percent.trim().parse().map_err(|_| bad())?;
      if !(percent > 0.0 && percent <= 100.0) {
        return Err(bad());
      }
      Ok(((targets as f64 * percent / 100.0).ceil() as usize).max(1))
    }
    None => text
      .trim()
      .parse::<usize>()
      .ok()
      .filter(|n| *n > 0)
      .ok_or_else(bad),
  }
}

/// The `--param` values for every target, then the target's own (which win
/// when read last to first).
fn given(plan: &Plan, target: &Target) -> Vec<(String, String)> {
  let mut pairs = plan.given.clone();
  for (k, v) in &target.params {
    let value = match v {
      serde_yaml::Value::String(s) => s.clone(),
      serde_yaml::Value::Number(n) => n.to_string(),
      serde_yaml::Value::Bool(b) => b.to_string(),
      _ => continue,
    };
    pairs.push((k.as_str().unwrap_or_default().to_string(), value));
  }
  pairs
}

fn one(plan: &Plan, target: Target) -> Outcome {
  let base = &plan.options;
  let transcript = base
    .transcript
    .with_file_name(format!("{}-{}.md", base.run_id, target.name));
  let pairs = given(plan, &target);
  let failed = |why: String| Outcome {
    target: target.name.clone(),
    transcript: transcript.clone(),
    run: Err(why),
  };
  let aws = crate::aws::Settings {
    region: target.region.clone().or_else(|| base.aws.region.clone()),
    profile: target.profile.clone().or_else(|| base.aws.profile.clone()),
    role: target.role.clone().or_else(|| base.aws.role.clone()),
    ..base.aws.clone()
  }
  .patient();
  // Nobody can be asked: a missing parameter fails this target only.
  let mut sources = Live {
    console: None,
    aws: crate::aws::Session::new(aws.clone()),
  };
  let params = match resolve(&plan.runbook.meta, &Given { pairs }, &mut sources) {
    Ok(p) => p,
    Err(e) => return failed(e.to_string()),
  };
  let line = plan.display.as_ref().map(|display| {
    let line = display.add(indicatif::ProgressBar::new_spinner());
    line.set_style(
      indicatif::ProgressStyle::with_template("{spinner} {prefix}: {msg}")
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
    );
    line.set_prefix(target.name.clone());
    line.set_message("connecting");
    line.enable_steady_tick(std::time::Duration::from_millis(120));
    line
  });
  let console = match Console::unattended(line.clone()) {
    Ok(c) => std::sync::Arc::new(c),
    Err(e) => return failed(e.to_string()),
  };
  let options = RunOptions {
    transcript: transcript.clone(),
    run_id: format!("{}-{}", base.run_id, target.name),
    aws,
    sign: base.sign.clone(),
    only: base.only.clone(),
    approval: base.approval,
    from: base.from,
    operator: base.operator.clone(),
    prefetch: base.prefetch,
    approvals: base.approvals.clone(),
    fleet: base.fleet.clone(),
    tripwire: base.tripwire.clone(),
    replay: None,
  };
  let run =
    exec::run(plan.source, plan.runbook, &params, console, &options).map_err(|e| e.to_string());
  if let Some(line) = line {
    line.finish_and_clear();
  }
  Outcome {
    target: target.name,
    transcript,
    run,
  }
}

/// The matrix of targets × steps, one line per target.
pub struct Matrix<'a>(pub &'a [Outcome]);

impl fmt::Display for Matrix<'_> {
  fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
    let mut table = comfy_table::Table::new();
    table.load_preset(comfy_table::presets::ASCII_MARKDOWN);
    table.set_header(["target", "result", "steps", "time", "verdict"]);
    let mut outcomes: Vec<&Outcome> = self.0.iter().collect();
    outcomes.sort_by(|a, b| a.target.cmp(&b.target));
    for o in outcomes {
      let (result, steps, time, mut verdict) = match &o.run {
        Ok(s) => (
          s.result.to_string(),
          s.rows
            .iter()
            .map(|(_, status, _)| mark(*status))
            .collect::<String>(),
          seconds(s.rows.iter().map(|r| r.2).sum()),
          s.verdict.clone(),
        ),
        Err(e) => (
          format!("error: {e}"),
          String::new(),
          String::new(),
          String::new(),
        ),
      };
      if verdict.chars().count() > 100 {
        verdict = verdict.chars().take(99).collect::<String>() + "…";
      }
      table.add_row([o.target.clone(), result, steps, time, verdict]);
    }
    writeln!(f, "{table}")?;
    writeln!(
      f,
      "steps: ✓ done · ✗ failed · ~ skipped · ? unconfirmed · - not done or n/a"
    )
  }
}

fn mark(status: Status) -> char {
  match status {
    Status::Done => '✓',
    Status::Failed | Status::TimedOut | Status::Interrupted => '✗',
    Status::Skipped => '~',
    Status::Unconfirmed => '?',
    Status::NotDone | Status::NotApplicable => '-',
  }
}

/// With `--yes` and an approval policy: one request per step that needs
/// approvals, made before any target starts and listing every target's
/// action and parameters (secrets masked), so an approver signs once for
/// the fan-out. By step id: the request, its digest and its file.
pub fn shared_requests(
  plan: &Plan,
  targets: &[Target],
) -> Result<HashMap<String, (serde_json::Value, String, String)>, String> {
  let mut shared = HashMap::new();
  let mut store = None;
  let options = &plan.options;
  let policy = match &plan.runbook.meta.approvals {
    Some(policy) if options.approval == exec::Approval::Yes => policy,
    _ => return Ok(shared),
  };
  if options.approvals.break_glass.is_some() {
    return Ok(shared);
  }
  for step in &plan.runbook.steps {
    let needed = step.approvals_needed(Some(policy));
    let Some(action) = step.action().filter(|_| needed > 0) else {
      continue;
    };
    let entries: Vec<serde_json::Value> = targets
      .iter()
      .map(|target| {
        let (params, mask) = target_params(plan, target);
        let value = |name: &str| {
          params
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
        };
        let ran = if action.kind.is_declarative() {
          crate::template::render(&action.code, value)
        } else {
          action.code.clone()
        };
        let shown: Vec<(String, String)> = params
          .iter()
          .map(|(name, v)| {
            let secret = plan.runbook.meta.param(name).is_some_and(|p| p.secret);
            let v = if secret {
              format!("[redacted:{name}]")
            } else {
              v.clone()
            };
            (name.clone(), v)
          })
          .collect();
        serde_json::json!({
          "name": target.name,
          "action": mask.text(&ran),
          "params": shown,
          "region": target.region,
          "profile": target.profile,
        })
      })
      .collect();
    let request = crate::approval::Parts {
      run_id: &options.run_id,
      runbook: plan.source.path.display().to_string(),
      runbook_sha256: crate::transcript::sha256_hex(plan.source.text.as_bytes()),
      step: &step.id,
      kind: step.kind().name(),
      action: action.code.clone(),
      params: Vec::new(),
      preview: None,
      account: None,
      region: None,
      targets: entries,
      operator: &options.operator,
      operator_key: options
        .sign
        .as_ref()
        .map(|k| crate::signing::public_hex(&k.verifying_key())),
      required: needed,
      policy,
    }
    .request();
    let digest = crate::approval::digest(&request);
    let name = crate::approval::request_name(&digest);
    let store = store.get_or_insert_with(|| {
      crate::approval::Store::at(&options.approvals.location, || {
        crate::aws::Session::new(options.aws.clone()).shared()
      })
    });
    let store = store.as_ref().map_err(Clone::clone)?;
    crate::approval::put(store, &name, &request).map_err(|e| {
      format!(
        "cannot store the approval request {}: {e}",
        store.show(&name)
      )
    })?;
    if let Some(topic) = &policy.notify {
      let told = crate::aws::Session::new(options.aws.clone())
        .shared()
        .and_then(|aws| crate::approval::announce(&aws, topic, &request, &store.show(&name)));
      if let Err(e) = told {
        eprintln!("litops: the approvers could not be told on {topic}: {e}");
      }
    }
    eprintln!(
      "litops: step `{}` needs {needed} approval(s) for all {} targets: litops approve {} --key KEY",
      step.id,
      targets.len(),
      store.show(&name)
    );
    shared.insert(step.id.clone(), (request, digest, name));
  }
  Ok(shared)
}

/// A target's parameter values as its walk will have them, in declaration
/// order (given, then the target's own, then defaults; one read from a
/// secret source stands as its redaction), and a mask for its secrets.
fn target_params(plan: &Plan, target: &Target) -> (Vec<(String, String)>, crate::redact::Redactor) {
  let given = given(plan, target);
  let mut mask = crate::redact::Redactor::default();
  let mut values = Vec::new();
  for param in &plan.runbook.meta.params {
    let value = given
      .iter()
      .rev()
      .find(|(n, _)| *n == param.name)
      .map(|(_, v)| v.clone())
      .or_else(|| param.default.clone())
      .or_else(|| {
        param
          .from
          .as_ref()
          .map(|_| format!("[redacted:{}]", param.name))
      });
    let Some(value) = value else { continue };
    if param.secret {
      mask.add(&param.name, &value);
    }
    values.push((param.name.clone(), value));
  }
  (values, mask)
}
