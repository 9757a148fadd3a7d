//! `litops log`: the runs in a transcript directory, newest first, and when
//! each runbook last passed.

use std::fmt;
use std::path::{Path, PathBuf};

use crate::transcript::{Event, RunResult, parsed_records, run_end};

/// One run, from its first and last records.
#[derive(Debug)]
pub struct Run {
  pub transcript: PathBuf,
  pub runbook: String,
  pub operator: String,
  pub started_at: String,
  /// None without a `run-finished` record: unfinished.
  pub result: Option<RunResult>,
  pub duration_ms: Option<u64>,
}

/// Every transcript under `dir` (sidecar directories skipped), newest first;
/// with `runbook`, only the runs of runbooks whose path ends with it.
pub fn runs(dir: &Path, runbook: Option<&str>) -> std::io::Result<Vec<Run>> {
  let mut files = Vec::new();
  collect(dir, &mut files)?;
  let mut runs: Vec<Run> = files.iter().filter_map(|f| read(f)).collect();
  if let Some(wanted) = runbook {
    let wanted = wanted.trim_start_matches("./");
    runs.retain(|r| r.runbook.trim_start_matches("./").ends_with(wanted));
  }
  runs.sort_by(|a, b| b.started_at.cmp(&a.started_at));
  Ok(runs)
}

fn collect(dir: &Path, files: &mut Vec<PathBuf>) -> std::io::Result<()> {
  for entry in std::fs::read_dir(dir)? {
    let entry = entry?;
    let path = entry.path();
    // Symlinked directories are not followed: a loop would never end.
    if entry.file_type()?.is_dir() {
      if path.extension().is_none_or(|e| e != "d") {
        collect(&path, files)?;
      }
    } else if path.extension().is_some_and(|e| e == "md") && path.is_file() {
      files.push(path);
    }
  }
  Ok(())
}

/// A run from its transcript's first and last records (the step records
/// between, which may hold thousands of rows, are not parsed); `None` for
/// files that are not transcripts.
fn read(path: &Path) -> Option<Run> {
  let text = std::fs::read_to_string(path).ok()?;
  let Some(Event::RunStarted {
    runbook,
    operator,
    started_at,
    ..
  }) = parsed_records(&text).next().map(|r| r.event)
  else {
    return None;
  };
  let (result, duration_ms) = match run_end(parsed_records(&text).map(|r| r.event)) {
    Some(Event::RunFinished {
      result,
      duration_ms,
      ..
    }) => (Some(result), Some(duration_ms)),
    _ => (None, None),
  };
  Some(Run {
    transcript: path.to_path_buf(),
    runbook,
    operator,
    started_at,
    result,
    duration_ms,
  })
}

/// The runs as a table, then when each runbook last passed.
pub struct Log<'a>(pub &'a [Run]);

impl fmt::Display for Log<'_> {
  fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
    let runs = self.0;
    if runs.is_empty() {
      return writeln!(f, "no runs");
    }
    let mut table = comfy_table::Table::new();
    table.load_preset(comfy_table::presets::NOTHING);
    table.set_header([
      "started (UTC)",
      "runbook",
      "operator",
      "result",
      "duration",
      "transcript",
    ]);
    for run in runs {
      table.add_row([
        run
          .started_at
          .replace('T', " ")
          .trim_end_matches('Z')
          .to_string(),
        run.runbook.clone(),
        run.operator.clone(),
        run.result.map_or("unfinished", RunResult::name).to_string(),
        run
          .duration_ms
          .map_or("-".into(), crate::transcript::seconds),
        run.transcript.display().to_string(),
      ]);
    }
    for line in table.to_string().lines() {
      writeln!(f, "{}", line.trim_end())?;
    }
    writeln!(f, "\nlast passed:")?;
    let mut runbooks: Vec<&str> = runs.iter().map(|r| r.runbook.as_str()).collect();
    runbooks.sort_unstable();
    runbooks.dedup();
    for runbook in runbooks {
      // `runs` is newest first.
      let last = runs
        .iter()
        .find(|r| r.runbook == runbook && r.result == Some(RunResult::Passed))
        .map_or("never", |r| r.started_at.as_str());
      writeln!(f, "  {runbook}: {last}")?;
    }
    Ok(())
  }
}
