//! Colour and marks for the walk's screen: read-only and mutating steps,
//! each status, and the lines of a change preview, distinct at a glance.
//! Escapes are written always; the console's stream (anstream) drops them
//! for a non-terminal, `NO_COLOR` and `--color never`.

use anstyle::{AnsiColor, Style};

use crate::transcript::Status;

pub const HEADER: Style = Style::new().bold();
pub const MUTATING: Style = AnsiColor::Yellow.on_default().bold();
pub const READ_ONLY: Style = AnsiColor::Green.on_default();
pub const CHECKLIST: Style = AnsiColor::Cyan.on_default();
pub const ERROR: Style = AnsiColor::Red.on_default().bold();
pub const DIM: Style = Style::new().dimmed();
pub const PROMPT: Style = Style::new().bold();

/// `text` in `style`.
pub fn paint(style: Style, text: &str) -> String {
  format!("{style}{text}{style:#}")
}

/// A status with its mark: `✓ done`, `✗ failed`, `~ skipped`, …
pub fn status(status: Status) -> String {
  let (style, mark) = match status {
    Status::Done => (AnsiColor::Green.on_default().bold(), '✓'),
    Status::Failed | Status::TimedOut | Status::Interrupted => (ERROR, '✗'),
    Status::Skipped | Status::NotApplicable => (DIM, '~'),
    Status::NotDone => (AnsiColor::Red.on_default(), '✗'),
    Status::Unconfirmed => (AnsiColor::Yellow.on_default(), '?'),
  };
  paint(style, &format!("{mark} {status}"))
}

/// A unified diff with removed lines red and added lines green.
pub fn diff(text: &str) -> String {
  text
    .split_inclusive('\n')
    .map(|line| {
      let body = line.trim_end_matches('\n');
      let newline = &line[body.len()..];
      let style = match body.trim_start().chars().next() {
        Some('+') if !body.trim_start().starts_with("+++") => AnsiColor::Green.on_default(),
        Some('-') if !body.trim_start().starts_with("---") => AnsiColor::Red.on_default(),
        Some('@') => AnsiColor::Cyan.on_default(),
        _ => return line.to_string(),
      };
      format!("{}{newline}", paint(style, body))
    })
    .collect()
}
