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
  /// `--only …`/`--from …`: a partial run, which never counts as passed.
  pub partial: Option<String>,
  pub duration_ms: Option<u64>,
}

/// Every transcript under `dir` (sidecar directories skipped), newest first;
/// with `runbook`, only the runs of runbooks whose path ends with it.
pub fn runs(dir: &Path, runbook: Option<&str>) -> std::io::Result<Vec<Run>> {
  let mut files = Vec::new();
  collect(dir, &mut files)?;
  let mut runs: Vec<Run> = files.iter().filter_map(|f| read(f)).collect();
  if let Some(wanted) = runbook {
    // With or without `.md`, as people type it.
    let wanted = wanted.trim_start_matches("./").trim_end_matches(".md");
    runs.retain(|r| {
      r.runbook
        .trim_start_matches("./")
        .trim_end_matches(".md")
        .ends_with(wanted)
    });
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

/// When the run in a transcript's text started; `None` for text that is
/// not a transcript.
pub fn started_at(text: &str) -> Option<String> {
  match parsed_records(text).next()?.event {
    Event::RunStarted { started_at, .. } => Some(started_at),
    _ => None,
  }
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
    partial,
    ..
  }) = parsed_records(&text).next().map(|r| r.event)
  else {
    return None;
  };
  // A resumed run lasts from its start to its last end, pauses included.
  let (result, duration_ms) = match run_end(parsed_records(&text).map(|r| r.event)) {
    Some(Event::RunFinished {
      result,
      finished_at,
      duration_ms,
      ..
    }) => {
      let whole = crate::clock::Instant::parse(&started_at)
        .zip(crate::clock::Instant::parse(&finished_at))
        .map_or(duration_ms, |(start, end)| end.millis_since(start));
      (Some(result), Some(whole))
    }
    _ => (None, None),
  };
  Some(Run {
    transcript: path.to_path_buf(),
    runbook,
    operator,
    started_at,
    result,
    partial,
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
        match (&run.result, &run.partial) {
          (None, _) => "unfinished".to_string(),
          (Some(result), None) => result.to_string(),
          (Some(result), Some(partial)) => format!("{result} (partial: {partial})"),
        },
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
        .find(|r| {
          r.runbook == runbook && r.result == Some(RunResult::Passed) && r.partial.is_none()
        })
        .map_or("never", |r| r.started_at.as_str());
      writeln!(f, "  {runbook}: {last}")?;
    }
    Ok(())
  }
}
