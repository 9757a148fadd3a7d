//! At the end of a run, one message to the people who need it: an SNS
//! topic and/or a Slack-compatible incoming webhook. The runbook, the
//! target, the result, the verdict and the failed steps, what changed since
//! the previous run of the same runbook and target, and where the
//! transcript is. `--notify-on` decides when: on failure (the default),
//! always, or when something changed.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::diff;
use crate::transcript::RunResult;

/// Where a message goes.
#[derive(Clone, Debug, PartialEq)]
pub enum Channel {
  Sns(String),
  /// The webhook's URL: a secret, never shown or recorded.
  Slack(String),
}

#[derive(Clone, Copy, Debug, PartialEq, Default, clap::ValueEnum)]
pub enum When {
  #[default]
  Failure,
  Always,
  Change,
}

/// The environment variable `--notify slack:` reads the webhook URL from.
pub const SLACK_ENV: &str = "LITOPS_SLACK_WEBHOOK";

impl Channel {
  /// `sns:ARN`, `slack:` (the URL in `LITOPS_SLACK_WEBHOOK`) or
  /// `slack:env:NAME`; a URL itself is refused, since it would be in the
  /// shell history and the process list.
  pub fn parse(text: &str) -> Result<Self, String> {
    if let Some(arn) = text.strip_prefix("sns:") {
      if !arn.starts_with("arn:") || arn.split(':').count() < 6 {
        return Err(format!(
          "--notify {text}: expected sns:arn:aws:sns:REGION:ACCOUNT:TOPIC"
        ));
      }
      return Ok(Self::Sns(arn.to_string()));
    }
    let Some(rest) = text.strip_prefix("slack:") else {
      return Err(format!(
        "--notify {text}: expected sns:TOPIC-ARN, slack: or slack:env:NAME"
      ));
    };
    let variable = match rest {
      "" => SLACK_ENV,
      rest => rest.strip_prefix("env:").ok_or_else(|| {
        format!(
          "--notify slack:…: give the webhook URL in the environment ({SLACK_ENV}, or slack:env:NAME), never on the command line"
        )
      })?,
    };
    let url = std::env::var(variable)
      .map_err(|_| format!("--notify slack: the webhook URL is not set in ${variable}"))?;
    if !(url.starts_with("https://") || url.starts_with("http://")) {
      return Err(format!("--notify slack: ${variable} is not an http(s) URL"));
    }
    Ok(Self::Slack(url))
  }

  /// How the channel is named in messages and errors (never the URL).
  pub fn name(&self) -> String {
    match self {
      Self::Sns(arn) => format!("sns:{arn}"),
      Self::Slack(_) => "slack".to_string(),
    }
  }
}

/// One finished run, as the message tells it.
pub struct Outcome<'a> {
  pub title: &'a str,
  pub target: Option<&'a str>,
  pub result: RunResult,
  pub exit_code: i32,
  pub verdict: &'a str,
  /// The steps that failed, each with its error's first line.
  pub failed: Vec<(String, String)>,
  /// Where the transcript is (a path, or its stored location).
  pub transcript: String,
}

/// What changed since the previous run of the same runbook and target: the
/// previous transcript and a line per changed step; None without one.
pub fn changes(
  local: &Path,
  target: Option<&str>,
  store: Option<&crate::evidence::Store>,
) -> Option<(String, Vec<String>)> {
  // Beside the transcript, else (a fresh machine, a scheduled task) where
  // the team keeps its runs.
  // A stored run is compared from a temporary copy, removed when this returns.
  let mut _copy = None;
  let (previous, shown) = match previous(local, target) {
    Some(path) => {
      let shown = path.display().to_string();
      (path, shown)
    }
    None => {
      let (dir, path, location) = store?.previous(local, target).ok()??;
      _copy = Some(dir);
      (path, location)
    }
  };
  let (a, b) = (diff::load(&previous).ok()?, diff::load(local).ok()?);
  let compared = diff::compare(&a, &b);
  let mut lines: Vec<String> = compared
    .steps
    .iter()
    .map(|(id, left, right, changes)| {
      // The first change that says something on its own line.
      let first = changes
        .iter()
        .flat_map(|c| c.lines())
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.ends_with(':'))
        .map(|c| format!(" ({c})"))
        .unwrap_or_default();
      // A cell is `done 0.012 s`, or `not run`.
      let status = |cell: &str| match cell.rsplit_once(' ') {
        Some((head, "s")) => head.rsplit_once(' ').map_or(head, |(s, _)| s).to_string(),
        _ => cell.to_string(),
      };
      if status(left) == status(right) {
        format!("{id}: {}{first}", status(right))
      } else {
        format!("{id}: {} → {}{first}", status(left), status(right))
      }
    })
    .collect();
  if a.digest != b.digest {
    lines.insert(0, "the runbook itself changed".to_string());
  }
  Some((shown, lines))
}

/// The newest earlier transcript beside `local` of the same runbook and,
/// for a fan-out, the same target.
fn previous(local: &Path, target: Option<&str>) -> Option<PathBuf> {
  let dir = local.parent()?;
  let ours = crate::history::runs(dir, None).ok()?;
  let me = ours.iter().find(|r| r.transcript == local)?;
  ours
    .iter()
    .filter(|r| r.transcript != local && r.runbook == me.runbook)
    .filter(|r| {
      let stem = r.transcript.file_stem().and_then(|s| s.to_str());
      r.started_at < me.started_at && stem.is_some_and(|s| same_target(s, target))
    })
    .max_by(|a, b| a.started_at.cmp(&b.started_at))
    .map(|r| r.transcript.clone())
}

/// Whether a transcript named `stem` is a run of `target` (for a fan-out),
/// or a single run (`<time>-<8 hex>`).
pub fn same_target(stem: &str, target: Option<&str>) -> bool {
  match target {
    Some(target) => stem.ends_with(&format!("-{target}")),
    None => stem.split('-').count() == 2,
  }
}

/// Whether `when` asks for a message about this run.
pub fn wanted(when: When, exit_code: i32, changed: Option<&(String, Vec<String>)>) -> bool {
  match when {
    When::Always => true,
    When::Failure => exit_code != 0,
    // The first run of a runbook is a change from nothing.
    When::Change => changed.is_none_or(|(_, lines)| !lines.is_empty()),
  }
}

/// The subject and the text of the message.
pub fn message(outcome: &Outcome, changed: Option<&(String, Vec<String>)>) -> (String, String) {
  let on = outcome
    .target
    .map(|t| format!(" on {t}"))
    .unwrap_or_default();
  let subject = format!(
    "litops: {}{on}: {} (exit {})",
    outcome.title, outcome.result, outcome.exit_code
  );
  let mut text = format!("{subject}\n\nverdict: {}\n", outcome.verdict);
  if !outcome.failed.is_empty() {
    text.push_str("failed:\n");
    for (step, error) in &outcome.failed {
      text.push_str(&format!("- {step}: {error}\n"));
    }
  }
  match changed {
    Some((previous, lines)) if lines.is_empty() => text.push_str(&format!(
      "since the previous run ({previous}): nothing changed\n"
    )),
    Some((previous, lines)) => {
      text.push_str(&format!("since the previous run ({previous}):\n"));
      for line in lines.iter().take(12) {
        text.push_str(&format!("- {line}\n"));
      }
      if lines.len() > 12 {
        text.push_str(&format!("- … and {} more\n", lines.len() - 12));
      }
    }
    None => text.push_str("no previous run of this runbook to compare with\n"),
  }
  text.push_str(&format!("transcript: {}\n", outcome.transcript));
  (subject, text)
}

/// Sends one message to `channel`. A failure is reported, never fatal:
/// the run and its transcript stand.
pub fn send(
  channel: &Channel,
  subject: &str,
  text: &str,
  aws: &crate::aws::Settings,
) -> Result<(), String> {
  let flag = std::sync::atomic::AtomicBool::new(false);
  match channel {
    Channel::Sns(topic) => {
      let aws = crate::aws::Session::new(aws.clone()).shared()?;
      let publish = aws
        .client(aws_sdk_sns::Client::new)
        .publish()
        .topic_arn(topic)
        .subject(subject.chars().take(100).collect::<String>())
        .message(text)
        .send();
      aws
        .block_on(&flag, Some(Duration::from_secs(60)), publish)
        .map_err(|_| "sns:Publish: no answer in time".to_string())?
        .map(|_| ())
        .map_err(|e| crate::aws::explain("sns:Publish", &e))
    }
    Channel::Slack(url) => {
      crate::exec::post_text(url, text, Duration::from_secs(30), &flag).map(|_| ())
    }
  }
}
