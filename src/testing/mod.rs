//! `litops test`: runbooks tested the way code is. A case file beside a
//! runbook (`NAME.test.yaml`) lists cases: parameters, each step's output,
//! the answers, and what to expect. The walk replays the outputs at the step
//! boundary (only rhai runs, nothing reaches AWS or starts a process, no
//! change is made) and what happened is compared with what was expected.
//! The format is in docs/testing.md.
//!
//! The pipeline, one file each: `cases` reads a case file against its
//! runbook, `run` walks each case and compares, `update` writes what a case
//! did back as its expectations, `report` prints and writes JUnit.

mod cases;
mod report;
mod run;
mod update;

use std::path::{Path, PathBuf};

use crate::diagnostic::Diagnostic;
use crate::error::Error;
use crate::exec::{Replay, Status};
use crate::model::Runbook;
use crate::source::{Source, Span};
use crate::transcript::RunResult;

pub use report::{Report, junit};
pub use run::run_suite;
pub use update::{updated, write};

/// A case file's name ends so: `NAME.test.yaml` tests `NAME.md`.
pub const SUFFIX: &str = ".test.yaml";

/// One case: what it gives the runbook and what it expects back.
#[derive(Debug)]
pub struct Case {
  pub name: String,
  /// Where the case starts in its file: `--update` rewrites from here.
  span: Span,
  params: Vec<(String, String)>,
  replay: Replay,
  expect: Expect,
  /// The moment the case runs at: `at:`, else when the recorded run started.
  at: Option<crate::clock::Instant>,
}

#[derive(Debug, Default, Clone, PartialEq)]
pub struct Expect {
  pub exit: Option<i32>,
  pub result: Option<RunResult>,
  /// Each named step's status, in the order the file gives them.
  pub steps: Vec<(String, Status)>,
  pub verdict: Option<String>,
  pub verdict_contains: Vec<String>,
  /// What named steps found: each one's value, or its failure, on one line.
  pub values: Vec<(String, String)>,
  /// Steps the run never reached (a `goto` jumped over them, or it stopped).
  pub not_run: Vec<String>,
}

impl Expect {
  fn is_empty(&self) -> bool {
    *self == Self::default()
  }
}

/// A case file and the runbook it tests, both checked.
pub struct Suite {
  pub file: Source,
  pub runbook_source: Source,
  pub runbook: Runbook,
  pub cases: Vec<Case>,
}

/// Why a case file cannot be used: printed with its position.
pub enum Unusable {
  /// The case file or its runbook cannot be read.
  Load(Error),
  /// The problems of the runbook (its source) or of the case file.
  Problems(Source, Vec<Diagnostic>),
}

impl Unusable {
  pub fn render(&self) -> String {
    match self {
      Self::Load(error) => format!("{error}\n"),
      Self::Problems(source, diagnostics) => diagnostics.iter().map(|d| d.render(source)).collect(),
    }
  }
}

/// The case files `paths` name: files ending in `.test.yaml`, the case file
/// beside a runbook `.md`, and every case file under a directory. A path
/// that names no case file is reported as such.
pub fn discover(paths: &[PathBuf]) -> (Vec<PathBuf>, Vec<(PathBuf, Error)>) {
  let mut files = Vec::new();
  let mut missing = Vec::new();
  for path in paths {
    if !path.exists() {
      let error = crate::source::LoadError::Missing;
      let path = path.clone();
      missing.push((path.clone(), Error::Load { path, error }));
    } else if path.is_dir() {
      let before = files.len();
      files.extend(crate::source::files_under(path, &|p| {
        p.to_string_lossy().ends_with(SUFFIX)
      }));
      if files.len() == before {
        let path = path.clone();
        missing.push((path.clone(), Error::NoCases { path, beside: None }));
      }
    } else if path.to_string_lossy().ends_with(SUFFIX) {
      files.push(path.clone());
    } else {
      let beside = case_file_of(path);
      if beside.is_file() {
        files.push(beside);
      } else {
        let error = Error::NoCases {
          path: path.clone(),
          beside: Some(beside),
        };
        missing.push((path.clone(), error));
      }
    }
  }
  // A file named twice (a runbook and its directory) runs once.
  let mut seen = std::collections::HashSet::new();
  files.retain(|f| seen.insert(std::fs::canonicalize(f).unwrap_or_else(|_| f.clone())));
  (files, missing)
}

/// `NAME.test.yaml` beside `NAME.md`.
pub fn case_file_of(runbook: &Path) -> PathBuf {
  let stem = runbook.file_stem().unwrap_or_default().to_string_lossy();
  runbook.with_file_name(format!("{stem}{SUFFIX}"))
}

/// The runbook a case file tests: `NAME.md` beside it.
fn runbook_of(file: &Path) -> PathBuf {
  let name = file.file_name().unwrap_or_default().to_string_lossy();
  file.with_file_name(format!("{}.md", name.trim_end_matches(SUFFIX)))
}

/// Reads and checks a case file and its runbook: every problem at its line.
/// With `update`, a case may expect nothing yet: its expectations are
/// about to be written.
pub fn load(path: &Path, update: bool) -> Result<Suite, Unusable> {
  let runbook_path = runbook_of(path);
  let runbook_source = Source::load(&runbook_path).map_err(|error| {
    Unusable::Load(Error::CaseRunbook {
      cases: path.to_path_buf(),
      runbook: runbook_path.clone(),
      error,
    })
  })?;
  let checked = crate::check::check(&runbook_source);
  if checked.has_errors() {
    let errors = checked
      .diagnostics
      .into_iter()
      .filter(|d| d.is_error())
      .collect();
    return Err(Unusable::Problems(runbook_source, errors));
  }
  // What a run says about the runbook (a failure's `at NAME.md:LINE`)
  // reads the same wherever the tests are run from.
  let mut runbook_source = runbook_source;
  runbook_source.path = PathBuf::from(runbook_path.file_name().unwrap_or_default());
  let file = Source::load(path).map_err(|error| {
    Unusable::Load(match error {
      crate::source::LoadError::Empty => Error::EmptyCases(path.to_path_buf()),
      error => Error::Load {
        path: path.to_path_buf(),
        error,
      },
    })
  })?;
  let cases = match cases::read(&file, &checked.runbook, update) {
    Ok(cases) => cases,
    Err(problems) => return Err(Unusable::Problems(file, problems)),
  };
  Ok(Suite {
    file,
    runbook_source,
    runbook: checked.runbook,
    cases,
  })
}
