//! `litops list [DIR]`: every runbook and playbook under a directory
//! (`.gitignore` honoured), with its title, kind, tags and parameters, and
//! the result and date of its last run from the transcript directory.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::history::Run;
use crate::source::Source;

#[derive(Debug, Serialize)]
pub struct Entry {
  pub path: String,
  pub title: String,
  pub kind: &'static str,
  pub tags: Vec<String>,
  pub params: Vec<String>,
  pub steps: usize,
  /// The newest run's result (`unfinished` without an end), if it ran.
  pub last_result: Option<String>,
  pub last_run: Option<String>,
}

/// Every document under `dir` with front matter and steps, sorted by path.
pub fn list(dir: &Path, transcripts: &Path) -> Vec<Entry> {
  let mut files: Vec<PathBuf> = ignore::WalkBuilder::new(dir)
    .build()
    .filter_map(Result::ok)
    .filter(|e| e.file_type().is_some_and(|t| t.is_file()))
    .map(ignore::DirEntry::into_path)
    .filter(|p| p.extension().is_some_and(|e| e.eq_ignore_ascii_case("md")))
    .collect();
  files.sort();
  let runs = crate::history::runs(transcripts, None).unwrap_or_default();
  files.iter().filter_map(|path| entry(path, &runs)).collect()
}

fn entry(path: &Path, runs: &[Run]) -> Option<Entry> {
  let source = Source::load(path).ok()?;
  // A runbook says what it is in its front matter; a README with shell
  // examples is not one.
  // A transcript (and the runbook copy beside it) is a record, not one.
  let copy = path
    .parent()
    .is_some_and(|d| d.extension().is_some_and(|e| e == "d"));
  if !source.text.starts_with("---") || crate::transcript::is_transcript(&source.text) || copy {
    return None;
  }
  let checked = crate::check::check(&source);
  let runbook = &checked.runbook;
  if runbook.steps.is_empty() {
    return None;
  }
  let shown = path.display().to_string();
  let bare = shown.trim_start_matches("./");
  // `runs` is newest first.
  let last = runs
    .iter()
    .find(|r| r.runbook.trim_start_matches("./") == bare);
  Some(Entry {
    path: bare.to_string(),
    title: runbook.title().to_string(),
    kind: runbook.meta.kind.name(),
    tags: runbook.meta.tags.clone(),
    params: runbook.meta.params.iter().map(|p| p.name.clone()).collect(),
    steps: runbook.steps.len(),
    last_result: last.map(|r| {
      r.result
        .map_or("unfinished".to_string(), |result| result.to_string())
    }),
    last_run: last.map(|r| r.started_at.clone()),
  })
}

/// The entries as a table.
pub struct Listing<'a>(pub &'a [Entry]);

impl fmt::Display for Listing<'_> {
  fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
    if self.0.is_empty() {
      return writeln!(f, "no runbooks here");
    }
    let mut table = comfy_table::Table::new();
    table.load_preset(comfy_table::presets::NOTHING);
    table.set_header(["path", "title", "kind", "tags", "params", "last run"]);
    for e in self.0 {
      table.add_row([
        e.path.clone(),
        e.title.clone(),
        e.kind.to_string(),
        e.tags.join(", "),
        e.params.join(", "),
        match (&e.last_result, &e.last_run) {
          (Some(result), Some(at)) => format!("{result} {}", at.replace('T', " ")),
          _ => "never".to_string(),
        },
      ]);
    }
    for line in table.to_string().lines() {
      writeln!(f, "{}", line.trim_end())?;
    }
    Ok(())
  }
}
