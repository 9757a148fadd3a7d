//! What `litops test` prints, and the JUnit XML CI systems read.

use std::fmt::{self, Write as _};
use std::path::{Path, PathBuf};

use super::run::Verdict;

/// The per-case lines and the summary, as `litops test` prints them.
pub struct Report<'a> {
  pub verdicts: &'a [Verdict],
  pub unusable: usize,
}

impl fmt::Display for Report<'_> {
  fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
    for v in self.verdicts {
      let mark = if v.failures.is_empty() {
        "ok  "
      } else {
        "FAIL"
      };
      writeln!(f, "{mark}  {} › {}", v.file.display(), v.case)?;
      for failure in &v.failures {
        writeln!(f, "      {failure}")?;
      }
    }
    let failed = self
      .verdicts
      .iter()
      .filter(|v| !v.failures.is_empty())
      .count();
    write!(
      f,
      "\n{} passed, {failed} failed",
      self.verdicts.len() - failed
    )?;
    if self.unusable > 0 {
      let s = if self.unusable == 1 { "" } else { "s" };
      write!(f, ", {} case file{s} with errors", self.unusable)?;
    }
    writeln!(f)
  }
}

/// The verdicts as JUnit XML, which CI systems read.
pub fn junit(verdicts: &[Verdict], unusable: &[(PathBuf, String)]) -> String {
  let failures = verdicts.iter().filter(|v| !v.failures.is_empty()).count() + unusable.len();
  let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
  let _ = writeln!(
    out,
    "<testsuites name=\"litops test\" tests=\"{}\" failures=\"{failures}\">",
    verdicts.len() + unusable.len()
  );
  let mut files: Vec<&Path> = verdicts.iter().map(|v| v.file.as_path()).collect();
  files.dedup();
  for file in files {
    let cases: Vec<&Verdict> = verdicts.iter().filter(|v| v.file == file).collect();
    let failed = cases.iter().filter(|v| !v.failures.is_empty()).count();
    let name = xml(&file.display().to_string());
    let _ = writeln!(
      out,
      "  <testsuite name=\"{name}\" tests=\"{}\" failures=\"{failed}\">",
      cases.len()
    );
    for case in cases {
      let _ = write!(
        out,
        "    <testcase classname=\"{name}\" name=\"{}\" time=\"{:.3}\"",
        xml(&case.case),
        case.seconds
      );
      match case.failures.first() {
        None => out.push_str("/>\n"),
        Some(first) => {
          let _ = writeln!(
            out,
            ">\n      <failure message=\"{}\">{}</failure>\n    </testcase>",
            xml(first),
            xml(&case.failures.join("\n"))
          );
        }
      }
    }
    out.push_str("  </testsuite>\n");
  }
  for (file, why) in unusable {
    let name = xml(&file.display().to_string());
    let _ = writeln!(
      out,
      "  <testsuite name=\"{name}\" tests=\"1\" failures=\"1\">\n    <testcase classname=\"{name}\" name=\"(case file)\">\n      <failure message=\"the case file has errors\">{}</failure>\n    </testcase>\n  </testsuite>",
      xml(why)
    );
  }
  out.push_str("</testsuites>\n");
  out
}

/// Text safe inside an XML attribute or element: HTML's escaping, and
/// control characters other than tab and newline (not XML at all) replaced.
fn xml(text: &str) -> String {
  let text: String = text
    .chars()
    .map(|c| {
      if c.is_control() && c != '\n' && c != '\t' {
        '\u{fffd}'
      } else {
        c
      }
    })
    .collect();
  crate::render::escape(&text)
}

#[cfg(test)]
mod tests {
  use super::*;

  #[test]
  fn xml_escapes_markup_and_control_characters() {
    assert_eq!(
      xml("<a href=\"x\">&'\u{1b}"),
      "&lt;a href=&quot;x&quot;&gt;&amp;&#39;\u{fffd}"
    );
  }
}
