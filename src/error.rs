//! Errors that end a command before or around the walk, each with its exit code.

use std::fmt;
use std::path::PathBuf;

use crate::params::ParamError;
use crate::source::LoadError;

#[derive(Debug)]
pub enum Error {
  Load {
    path: PathBuf,
    error: LoadError,
  },
  /// The runbook has errors; they were printed with their positions.
  Invalid {
    path: PathBuf,
    errors: usize,
  },
  Params(ParamError),
  /// The transcript could not be started: nothing ran.
  NewTranscript {
    path: PathBuf,
    error: std::io::Error,
  },
  UnknownStep {
    flag: &'static str,
    id: String,
    /// Step ids close to `id`.
    close: Vec<String>,
  },
  /// `--tag TAG` that no cell carries; the tags the document has.
  UnknownTag {
    tag: String,
    known: Vec<String>,
  },
  NoRunbooks(PathBuf),
  /// `litops test PATH`: no case file there (or beside the runbook).
  NoCases {
    path: PathBuf,
    beside: Option<PathBuf>,
  },
  /// An empty case file.
  EmptyCases(PathBuf),
  /// A case file's runbook (`NAME.md` beside it) cannot be read.
  CaseRunbook {
    cases: PathBuf,
    runbook: PathBuf,
    error: LoadError,
  },
  /// `litops test --update` could not write the case file back.
  UpdateCases {
    path: PathBuf,
    error: std::io::Error,
  },
  Key(crate::signing::KeyError),
  /// The approval settings cannot be used, or an approval cannot be given.
  Approval(String),
  Targets(crate::fanout::TargetsError),
  Report {
    path: PathBuf,
    error: std::io::Error,
  },
  NotResumable {
    path: PathBuf,
    why: String,
  },
  Diff(crate::diff::DiffError),
  History {
    dir: PathBuf,
    error: std::io::Error,
  },
  Unverifiable {
    path: PathBuf,
    error: crate::verify::Unreadable,
  },
  Transcript {
    path: PathBuf,
    error: std::io::Error,
  },
  Console(std::io::Error),
}

impl Error {
  pub fn exit_code(&self) -> i32 {
    match self {
      Self::Params(ParamError::Quit(_)) => 1,
      Self::Params(ParamError::Interrupted(_)) => 130,
      Self::Transcript { .. } | Self::Console(_) => 1,
      _ => 2,
    }
  }
}

impl fmt::Display for Error {
  fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
    match self {
      Self::Load { path, error } => write!(f, "{}: error: {error}", path.display()),
      Self::Invalid { path, errors } => write!(
        f,
        "{}: {errors} error{} found; nothing was run",
        path.display(),
        if *errors == 1 { "" } else { "s" }
      ),
      Self::Params(e) => write!(f, "error: {e}; nothing was run"),
      Self::NewTranscript { path, error } => write!(
        f,
        "error: cannot create the transcript {}: {error}; nothing was run{}",
        path.display(),
        if error.kind() == std::io::ErrorKind::AlreadyExists {
          " (a transcript is never overwritten: choose another --transcript)"
        } else {
          ""
        }
      ),
      Self::UnknownStep { flag, id, close } => {
        write!(
          f,
          "error: `{flag} {id}`: no step has this id{} (see `litops plan`)",
          crate::diagnostic::did_you_mean(close)
        )
      }
      Self::UnknownTag { tag, known } if known.is_empty() => write!(
        f,
        "error: `--tag {tag}`: no cell has a tag (Runme's `category` or `tag` attribute)"
      ),
      Self::UnknownTag { tag, known } => write!(
        f,
        "error: `--tag {tag}`: no cell has this tag; the document's tags: {}",
        known.join(", ")
      ),
      Self::Key(e) => write!(f, "error: {e}"),
      Self::Approval(e) => write!(f, "error: {e}"),
      Self::Targets(e) => write!(f, "{e}"),
      Self::Report { path, error } => {
        write!(
          f,
          "{}: error: cannot write the report: {error}",
          path.display()
        )
      }
      Self::NotResumable { path, why } => {
        write!(f, "{}: error: cannot resume: {why}", path.display())
      }
      Self::Diff(e) => write!(f, "{e}"),
      Self::History { dir, error } => {
        write!(
          f,
          "{}: error: cannot list transcripts: {error}",
          dir.display()
        )
      }
      Self::Unverifiable { path, error } => write!(f, "{}: error: {error}", path.display()),
      Self::NoRunbooks(dir) => write!(f, "{}: error: no runbooks (.md files) here", dir.display()),
      Self::NoCases { path, beside: None } => write!(
        f,
        "{}: error: no test cases here (files named NAME.test.yaml beside NAME.md)",
        path.display()
      ),
      Self::NoCases {
        path,
        beside: Some(file),
      } => write!(
        f,
        "{}: error: no test cases: write them in {}",
        path.display(),
        file.display()
      ),
      Self::EmptyCases(path) => write!(
        f,
        "{}: error: the case file is empty: list the cases under `cases:` (docs/testing.md)",
        path.display()
      ),
      Self::CaseRunbook {
        cases,
        runbook,
        error,
      } => write!(
        f,
        "{}: error: the runbook it tests, {}: {error}",
        cases.display(),
        runbook.display()
      ),
      Self::UpdateCases { path, error } => write!(
        f,
        "{}: error: cannot write the expectations back: {error}",
        path.display()
      ),
      Self::Transcript { path, error } => {
        write!(
          f,
          "{}: error: cannot write the transcript: {error}",
          path.display()
        )
      }
      Self::Console(e) => write!(f, "error: cannot set up the terminal: {e}"),
    }
  }
}
