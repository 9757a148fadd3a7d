//! What an action shows: text and tables, kept apart so the terminal gets
//! each table fitted to its width (columns shrink, cells cut with `…`)
//! while the transcript keeps every value whole.

use comfy_table::{ContentArrangement, Table};

#[derive(Default)]
pub struct Shown(Vec<Part>);

enum Part {
  Text(String),
  Table(Table),
}

impl Shown {
  pub fn text(mut self, text: impl Into<String>) -> Self {
    self.0.push(Part::Text(text.into()));
    self
  }

  pub fn table(mut self, table: Table) -> Self {
    self.0.push(Part::Table(table));
    self
  }

  /// The table when it has rows: a header over nothing says less than the
  /// summary beside it.
  pub fn rows(self, table: Table) -> Self {
    if table.row_iter().next().is_some() {
      self.table(table)
    } else {
      self
    }
  }

  /// Every value whole, tables as wide as they need: for the transcript,
  /// and for a screen that is not a terminal.
  pub fn whole(&self) -> String {
    self
      .0
      .iter()
      .map(|part| match part {
        Part::Text(text) => text.clone(),
        Part::Table(table) => format!("{table}\n"),
      })
      .collect()
  }

  /// As a terminal `width` columns wide shows it: each table fits, its
  /// cells cut to one line with `…`.
  pub fn fitted(&self, width: Option<usize>) -> String {
    let Some(width) = width else {
      return self.whole();
    };
    self
      .0
      .iter()
      .map(|part| match part {
        Part::Text(text) => text.clone(),
        Part::Table(table) => {
          let mut table = table.clone();
          table
            .set_content_arrangement(ContentArrangement::Dynamic)
            .set_width(u16::try_from(width).unwrap_or(u16::MAX))
            .set_truncation_indicator("…");
          for row in table.row_iter_mut() {
            row.max_height(1);
          }
          format!("{table}\n")
        }
      })
      .collect()
  }
}

impl From<String> for Shown {
  fn from(text: String) -> Self {
    Self::default().text(text)
  }
}

#[cfg(test)]
mod tests {
  use super::*;

  #[test]
  fn a_fitted_table_is_no_wider_than_the_screen_and_whole_keeps_every_value() {
    let mut table = Table::new();
    table.load_preset(comfy_table::presets::UTF8_BORDERS_ONLY);
    table.set_header(["target", "reason"]);
    let long = "Health checks failed with these codes: [502] after 5 consecutive attempts";
    table.add_row(["10.0.1.17:8080", long]);
    let shown = Shown::default().text("2 targets\n").table(table);
    assert!(shown.whole().contains(long));
    for width in [40, 80] {
      let fitted = shown.fitted(Some(width));
      assert!(fitted.starts_with("2 targets\n"));
      for line in fitted.lines() {
        assert!(line.chars().count() <= width, "{width}: {line}");
      }
      assert!(fitted.contains('…'), "{fitted}");
    }
    assert_eq!(shown.fitted(None), shown.whole());
  }
}
