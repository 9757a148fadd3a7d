//! 252 real runbooks from other projects (../shared/corpus): litops must
//! read all of them without panicking and see the same code blocks as the
//! CommonMark reference in blocks.tsv.

use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::Test;

fn corpus() -> PathBuf {
  let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus");
  assert!(
    dir.join("blocks.tsv").exists(),
    "the corpus is missing at {}",
    dir.display()
  );
  dir
}

#[test]
fn check_and_plan_never_panic_on_the_corpus() {
  let dir = corpus();
  let ran = Test::new()
    .args(&["check", dir.to_str().expect("utf-8 path")])
    .run();
  assert!(matches!(ran.status, 0 | 1), "{}", ran.stderr);
  let sources = std::fs::read_to_string(dir.join("SOURCES.tsv")).expect("SOURCES.tsv");
  let mut planned = 0;
  for file in sources.lines().skip(1).filter_map(|l| l.split('\t').nth(4)) {
    let path = dir.join(file);
    let ran = Test::new()
      .args(&["plan", "--json", path.to_str().expect("utf-8 path")])
      .run();
    assert!(
      matches!(ran.status, 0 | 2),
      "{file}: exit {}\n{}",
      ran.status,
      ran.stderr
    );
    planned += 1;
  }
  assert_eq!(planned, 252);
}

#[test]
fn fenced_blocks_match_the_commonmark_reference() {
  let dir = corpus();
  let tsv = std::fs::read_to_string(dir.join("blocks.tsv")).expect("blocks.tsv");
  let mut expected: BTreeMap<String, Vec<String>> = BTreeMap::new();
  for line in tsv.lines().skip(1) {
    let cols: Vec<_> = line.split('\t').collect();
    expected
      .entry(cols[0].to_string())
      .or_default()
      .push(cols[1..].join("\t"));
  }
  let sources = std::fs::read_to_string(dir.join("SOURCES.tsv")).expect("SOURCES.tsv");
  let mut compared = 0;
  for file in sources.lines().skip(1).filter_map(|l| l.split('\t').nth(4)) {
    let bytes = std::fs::read(dir.join(file)).expect("corpus file");
    // The reference read files as UTF-8 with invalid bytes replaced.
    let text = String::from_utf8_lossy(&bytes).into_owned();
    let source = litops::source::Source::new(std::path::Path::new(file), text);
    let checked = litops::check::check(&source);
    let got: Vec<String> = checked
      .blocks
      .iter()
      .map(|b| {
        format!(
          "{}\t{}\t{}\t{}\t{}\t{}",
          b.kind, b.info, b.line, b.lines, b.list_depth, b.blockquote
        )
      })
      .collect();
    let want = expected.remove(file).unwrap_or_default();
    assert_eq!(got, want, "{file}");
    compared += got.len();
  }
  assert!(
    expected.is_empty(),
    "blocks for files not in SOURCES.tsv: {:?}",
    expected.keys()
  );
  assert_eq!(compared, 1797);
}
