//! The text of a runbook and positions in it.
//!
//! Everything downstream refers to the file through byte [`Span`]s; only
//! diagnostics turn them into `line:col`, so line numbers always match the
//! `.md` file the author wrote.

use std::fmt;
use std::path::{Path, PathBuf};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Span {
  pub start: usize,
  pub end: usize,
}

impl Span {
  pub fn new(start: usize, end: usize) -> Self {
    Self { start, end }
  }
}

#[derive(Debug)]
pub struct Source {
  pub path: PathBuf,
  pub text: String,
  line_starts: Vec<usize>,
}

/// Why a file could not be read as a runbook at all.
#[derive(Debug)]
pub enum LoadError {
  Missing,
  Io(std::io::Error),
  IsDirectory,
  Empty,
  Binary {
    offset: usize,
  },
  NotUtf8 {
    line: usize,
    col: usize,
  },
  /// Larger than any runbook, or endless (`/dev/zero`).
  TooLarge,
}

/// The most litops reads of any input file: a runbook, a params or targets
/// file. A file past it (or a device that never ends) is refused, not read
/// until memory runs out.
pub const MAX_INPUT: u64 = 64 << 20;

/// Reads a whole input file, at most [`MAX_INPUT`] bytes.
/// The files under `dir` that `keep` accepts, in path order. Hidden
/// entries are left out, and symlinked directories are not followed (as
/// ripgrep does): a link back up the tree would never end.
pub fn files_under(dir: &Path, keep: &dyn Fn(&Path) -> bool) -> Vec<PathBuf> {
  let mut found = Vec::new();
  let Ok(entries) = std::fs::read_dir(dir) else {
    return found;
  };
  let mut entries: Vec<_> = entries.filter_map(Result::ok).collect();
  entries.sort_by_key(std::fs::DirEntry::path);
  for entry in entries {
    let path = entry.path();
    let hidden = path
      .file_name()
      .is_some_and(|n| n.to_string_lossy().starts_with('.'));
    let Ok(kind) = entry.file_type() else {
      continue;
    };
    if hidden {
      continue;
    }
    if kind.is_dir() {
      found.extend(files_under(&path, keep));
    } else if keep(&path) {
      found.push(path);
    }
  }
  found
}

pub fn read_input(path: &Path) -> std::io::Result<Vec<u8>> {
  use std::io::Read as _;
  let mut bytes = Vec::new();
  std::fs::File::open(path)?
    .take(MAX_INPUT + 1)
    .read_to_end(&mut bytes)?;
  if bytes.len() as u64 > MAX_INPUT {
    return Err(std::io::Error::new(
      std::io::ErrorKind::FileTooLarge,
      format!("larger than {} MiB", MAX_INPUT >> 20),
    ));
  }
  Ok(bytes)
}

/// [`read_input`] as UTF-8 text.
pub fn read_input_text(path: &Path) -> std::io::Result<String> {
  String::from_utf8(read_input(path)?)
    .map_err(|_| std::io::Error::new(std::io::ErrorKind::InvalidData, "not valid UTF-8"))
}

impl fmt::Display for LoadError {
  fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
    match self {
      Self::Missing => write!(f, "no such file"),
      Self::Io(e) => write!(f, "cannot read: {e}"),
      Self::IsDirectory => write!(f, "is a directory, expected a Markdown file"),
      Self::Empty => write!(f, "empty file: a runbook needs at least a title or a step"),
      Self::Binary { offset } => {
        write!(
          f,
          "binary file (NUL byte at offset {offset}), not a Markdown runbook"
        )
      }
      Self::TooLarge => write!(f, "larger than {} MiB: not a runbook", MAX_INPUT >> 20),
      Self::NotUtf8 { line, col } => {
        write!(
          f,
          "not valid UTF-8 at line {line}, column {col}: save the file as UTF-8"
        )
      }
    }
  }
}

impl Source {
  pub fn load(path: &Path) -> Result<Self, LoadError> {
    if path.is_dir() {
      return Err(LoadError::IsDirectory);
    }
    let bytes = read_input(path).map_err(|e| match e.kind() {
      std::io::ErrorKind::NotFound => LoadError::Missing,
      std::io::ErrorKind::FileTooLarge => LoadError::TooLarge,
      _ => LoadError::Io(e),
    })?;
    Self::from_bytes(path, bytes)
  }

  pub fn from_bytes(path: &Path, bytes: Vec<u8>) -> Result<Self, LoadError> {
    if let Some(offset) = bytes.iter().take(8192).position(|&b| b == 0) {
      return Err(LoadError::Binary { offset });
    }
    let text = match String::from_utf8(bytes) {
      Ok(text) => text,
      Err(e) => {
        let valid = &e.as_bytes()[..e.utf8_error().valid_up_to()];
        // The valid prefix is UTF-8 by definition, so this cannot fail.
        let prefix = std::str::from_utf8(valid).unwrap_or_default();
        let line = prefix.matches('\n').count() + 1;
        let col = prefix.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
        return Err(LoadError::NotUtf8 { line, col });
      }
    };
    if text.trim().is_empty() {
      return Err(LoadError::Empty);
    }
    Ok(Self::new(path, text))
  }

  pub fn new(path: &Path, text: String) -> Self {
    // A byte-order mark is invisible to authors; drop it so column 1 is column 1.
    let text = match text.strip_prefix('\u{feff}') {
      Some(rest) => rest.to_string(),
      None => text,
    };
    // A file saved with Windows line endings is the same runbook: read as
    // LF throughout (front matter included), so it behaves identically.
    // Digests and the copy kept beside a transcript are of this text.
    let text = if text.contains("\r\n") {
      text.replace("\r\n", "\n")
    } else {
      text
    };
    let mut line_starts = vec![0];
    line_starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
    Self {
      path: path.to_path_buf(),
      text,
      line_starts,
    }
  }

  /// 1-based line and column (in characters) of a byte offset.
  pub fn line_col(&self, offset: usize) -> (usize, usize) {
    let offset = offset.min(self.text.len());
    let line = self.line_starts.partition_point(|&s| s <= offset);
    let start = self.line_starts[line - 1];
    let col = self
      .text
      .get(start..offset)
      .map_or(offset - start, |s| s.chars().count());
    (line, col + 1)
  }

  pub fn line(&self, offset: usize) -> usize {
    self.line_col(offset).0
  }

  /// The text of a 1-based line, without its line ending.
  pub fn line_text(&self, line: usize) -> &str {
    let Some(&start) = self.line_starts.get(line.wrapping_sub(1)) else {
      return "";
    };
    let end = self.line_starts.get(line).map_or(self.text.len(), |&e| e);
    self.text[start..end].trim_end_matches(['\n', '\r'])
  }

  /// Byte offset of a 1-based line and character column, clamped to the file.
  pub fn offset_of(&self, line: usize, col: usize) -> usize {
    let Some(&start) = self.line_starts.get(line.wrapping_sub(1)) else {
      return self.text.len();
    };
    let text = self.line_text(line);
    start
      + text
        .char_indices()
        .nth(col.saturating_sub(1))
        .map_or(text.len(), |(i, _)| i)
  }

  /// `path:line` of an offset, the form every step and diagnostic uses.
  pub fn location(&self, offset: usize) -> String {
    format!("{}:{}", self.path.display(), self.line(offset))
  }
}

#[cfg(test)]
mod tests {
  use super::*;

  #[test]
  fn line_col_table() {
    // CRLF is read as LF: the same runbook whichever way it was saved.
    let src = Source::new(Path::new("t.md"), "ab\r\nçd\n\nx".into());
    assert_eq!(src.text, "ab\nçd\n\nx");
    let cases = [
      (0, (1, 1)),
      (1, (1, 2)),
      (3, (2, 1)),
      (5, (2, 2)),
      (7, (3, 1)),
      (8, (4, 1)),
      (99, (4, 2)),
    ];
    for (offset, want) in cases {
      assert_eq!(src.line_col(offset), want, "offset {offset}");
    }
    assert_eq!(src.line_text(1), "ab");
    assert_eq!(src.line_text(2), "çd");
    assert_eq!(src.offset_of(2, 2), 5);
  }

  #[test]
  fn rejects_unreadable_input() {
    let p = Path::new("t.md");
    assert!(matches!(
      Source::from_bytes(p, b"".to_vec()),
      Err(LoadError::Empty)
    ));
    assert!(matches!(
      Source::from_bytes(p, b" \n\n".to_vec()),
      Err(LoadError::Empty)
    ));
    assert!(matches!(
      Source::from_bytes(p, b"ab\0cd".to_vec()),
      Err(LoadError::Binary { offset: 2 })
    ));
    assert!(matches!(
      Source::from_bytes(p, b"ok\nab\xffc".to_vec()),
      Err(LoadError::NotUtf8 { line: 2, col: 3 })
    ));
  }

  #[test]
  fn bom_is_dropped() {
    let src = Source::new(Path::new("t.md"), "\u{feff}# T".into());
    assert_eq!(src.text, "# T");
  }
}
