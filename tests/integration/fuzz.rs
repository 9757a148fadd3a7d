//! A bounded, seeded mutation fuzz of `check` and `plan` over the shipped
//! runbooks and the corpus: no input may panic, and the binary exits 0, 1
//! or 2 only.

use std::path::{Path, PathBuf};

use litops::params::{Given, Placeholders, resolve};
use litops::source::Source;

use crate::Test;

/// In-process cases (fast), and how many of them also go through the binary.
const CASES: usize = 3000;
const THROUGH_THE_BINARY: usize = 150;

/// Fragments that have broken parsers before: fences, templates,
/// attributes, front matter, line endings, deep nesting, odd characters.
const FRAGMENTS: &[&str] = &[
  "```",
  "````",
  "~~~",
  "```sh {name=",
  "```rhai\n",
  "```http\nGET ",
  "```logs-insights {log-groups=",
  "```ecs\naction: scale\n",
  "{{",
  "}}",
  "{{ x }}",
  "---\n",
  "params:\n  a: {secret: true, from: 'env:",
  "- [ ] ",
  "- [x] {{ ",
  "\r\n",
  "\r",
  "\t",
  "\u{feff}",
  "é",
  "🙂",
  "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[",
  "{\"name\":\"a\",\"name\":\"b\"}",
  "name=\"\"",
  "goto(\"",
  "steps[\"",
  "params.x = 1;",
  "> ",
  "    ",
  "<!-- litops:record sha256=",
];

fn inputs() -> Vec<(PathBuf, String)> {
  let root = Path::new(env!("CARGO_MANIFEST_DIR"));
  let mut files = Vec::new();
  for dir in ["runbooks", "playbooks"] {
    for entry in std::fs::read_dir(root.join(dir))
      .expect("shipped dir")
      .flatten()
    {
      files.push(entry.path());
    }
  }
  let corpus = root.join("../shared/corpus");
  let sources = std::fs::read_to_string(corpus.join("SOURCES.tsv")).expect("SOURCES.tsv");
  files.extend(
    sources
      .lines()
      .skip(1)
      .filter_map(|l| l.split('\t').nth(4))
      .map(|f| corpus.join(f)),
  );
  files
    .into_iter()
    .filter_map(|p| Some((p.clone(), std::fs::read_to_string(&p).ok()?)))
    .collect()
}

fn boundary(text: &str, mut at: usize) -> usize {
  at = at.min(text.len());
  while !text.is_char_boundary(at) {
    at -= 1;
  }
  at
}

/// One to three random edits of `text`.
fn mutate(rng: &mut fastrand::Rng, text: &str) -> String {
  let mut out = text.to_string();
  for _ in 0..rng.usize(1..=3) {
    let at = boundary(&out, rng.usize(0..=out.len()));
    match rng.u8(0..5) {
      0 => out.insert_str(at, FRAGMENTS[rng.usize(0..FRAGMENTS.len())]),
      1 => {
        let end = boundary(&out, at + rng.usize(0..200));
        out.replace_range(at..end, "");
      }
      2 => out.truncate(at),
      3 => {
        let end = boundary(&out, at + rng.usize(0..400));
        let copy = out[at..end].to_string();
        out.insert_str(at, &copy);
      }
      _ => {
        let end = boundary(&out, at + rng.usize(0..80));
        let swapped = out[at..end].to_uppercase();
        out.replace_range(at..end, &swapped);
      }
    }
  }
  out
}

/// `check`, then `plan` with placeholders when the runbook is clean.
fn check_and_plan(path: &Path, text: String) {
  let source = Source::new(path, text);
  let checked = litops::check::check(&source);
  if checked.has_errors() {
    return;
  }
  if let Ok(params) = resolve(
    &checked.runbook.meta,
    &Given::default(),
    &mut Placeholders::default(),
  ) {
    let plan = litops::plan::plan(&source, &checked.runbook, &params, &checked.blocks);
    let _ = plan.render();
  }
}

#[test]
fn mutated_runbooks_never_panic_check_or_plan() {
  let inputs = inputs();
  assert!(inputs.len() > 200, "inputs: {}", inputs.len());
  let mut rng = fastrand::Rng::with_seed(0x5eed_0011);
  for case in 0..CASES {
    let (path, text) = &inputs[rng.usize(0..inputs.len())];
    let mutated = mutate(&mut rng, text);
    let outcome = std::panic::catch_unwind(|| check_and_plan(path, mutated.clone()));
    if outcome.is_err() {
      let saved = std::env::temp_dir().join(format!("litops-fuzz-{case}.md"));
      let _ = std::fs::write(&saved, &mutated);
      panic!(
        "case {case} from {} panicked; input saved to {}",
        path.display(),
        saved.display()
      );
    }
    if case < THROUGH_THE_BINARY {
      for command in ["check", "plan"] {
        let ran = Test::new()
          .runbook(&mutated)
          .args(&[command, "rb.md"])
          .run();
        assert!(
          matches!(ran.status, 0..=2),
          "case {case} from {}: `{command}` exit {}\n{}",
          path.display(),
          ran.status,
          ran.stderr
        );
      }
    }
  }
}
