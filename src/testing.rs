//! `litops test`: runbooks tested the way code is. A case file beside a
//! runbook (`NAME.test.yaml`) lists cases: parameters, each step's output,
//! the answers, and what to expect. The walk replays the outputs at the step
//! boundary (only rhai runs, nothing reaches AWS or starts a process, no
//! change is made) and what happened is compared with what was expected.
//! The format is in docs/testing.md.

use std::collections::HashMap;
use std::fmt::{self, Write as _};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde_json::{Map, Value};
use serde_yaml::Value as Yaml;

use crate::diagnostic::{Diagnostic, Problem};
use crate::exec::{self, Answers, Approval, Replay, RunOptions, Status};
use crate::model::{ActionKind, Runbook, StepBody};
use crate::params::{Given, ParamError, Sources, Unanswered};
use crate::source::{Source, Span};
use crate::transcript::RunResult;

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
  /// The file or its runbook cannot be read or has errors (printed).
  Load(String),
  Cases(Source, Vec<Diagnostic>),
}

impl Unusable {
  pub fn render(&self) -> String {
    match self {
      Self::Load(why) => format!("{why}\n"),
      Self::Cases(source, diagnostics) => diagnostics.iter().map(|d| d.render(source)).collect(),
    }
  }
}

/// The case files `paths` name: files ending in `.test.yaml`, the case file
/// beside a runbook `.md`, and every case file under a directory. A path
/// that names no case file is reported as such.
pub fn discover(paths: &[PathBuf]) -> (Vec<PathBuf>, Vec<(PathBuf, String)>) {
  let mut files = Vec::new();
  let mut missing = Vec::new();
  for path in paths {
    if !path.exists() {
      missing.push((
        path.clone(),
        format!("{}: no such file or directory", path.display()),
      ));
    } else if path.is_dir() {
      let before = files.len();
      walk(path, &mut files);
      if files.len() == before {
        missing.push((
          path.clone(),
          format!(
            "{}: no test cases here (files named NAME{SUFFIX} beside NAME.md)",
            path.display()
          ),
        ));
      }
    } else if path.to_string_lossy().ends_with(SUFFIX) {
      files.push(path.clone());
    } else {
      let beside = case_file_of(path);
      if beside.is_file() {
        files.push(beside);
      } else {
        missing.push((
          path.clone(),
          format!(
            "{}: no test cases: write them in {}",
            path.display(),
            beside.display()
          ),
        ));
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

fn walk(dir: &Path, files: &mut Vec<PathBuf>) {
  let Ok(entries) = std::fs::read_dir(dir) else {
    return;
  };
  let mut entries: Vec<_> = entries.filter_map(Result::ok).collect();
  entries.sort_by_key(std::fs::DirEntry::path);
  for entry in entries {
    let path = entry.path();
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    // Symlinked directories are not followed (a link back up the tree
    // would never end), as `check` does.
    let Ok(kind) = entry.file_type() else {
      continue;
    };
    if name.starts_with('.') {
      continue;
    }
    if kind.is_dir() {
      walk(&path, files);
    } else if name.ends_with(SUFFIX) {
      files.push(path);
    }
  }
}

/// Reads and checks a case file and its runbook: every problem at its line.
/// With `update`, a case may expect nothing yet: its expectations are
/// about to be written.
pub fn load(path: &Path, update: bool) -> Result<Suite, Unusable> {
  let runbook_path = runbook_of(path);
  let runbook_source = Source::load(&runbook_path).map_err(|e| {
    Unusable::Load(format!(
      "{}: error: the runbook it tests, {}: {e}",
      path.display(),
      runbook_path.display()
    ))
  })?;
  let checked = crate::check::check(&runbook_source);
  if checked.has_errors() {
    let shown: String = checked
      .diagnostics
      .iter()
      .filter(|d| d.is_error())
      .map(|d| d.render(&runbook_source))
      .collect();
    return Err(Unusable::Load(shown.trim_end().to_string()));
  }
  // What a run says about the runbook (a failure's `at NAME.md:LINE`)
  // reads the same wherever the tests are run from.
  let mut runbook_source = runbook_source;
  runbook_source.path = PathBuf::from(runbook_path.file_name().unwrap_or_default());
  let file = Source::load(path).map_err(|e| {
    Unusable::Load(match e {
      crate::source::LoadError::Empty => format!(
        "{}: error: the case file is empty: list the cases under `cases:` (docs/testing.md)",
        path.display()
      ),
      e => format!("{}: error: {e}", path.display()),
    })
  })?;
  let mut reader = Reader {
    file: &file,
    runbook: &checked.runbook,
    problems: Vec::new(),
    update,
  };
  let cases = reader.cases();
  if !reader.problems.is_empty() {
    let problems = reader.problems;
    return Err(Unusable::Cases(file, problems));
  }
  Ok(Suite {
    file,
    runbook_source,
    runbook: checked.runbook,
    cases,
  })
}

/// Reads the cases, collecting every problem with its span.
struct Reader<'a> {
  file: &'a Source,
  runbook: &'a Runbook,
  problems: Vec<Diagnostic>,
  update: bool,
}

const CASE_KEYS: &[&str] = &[
  "name",
  "at",
  "params",
  "outputs",
  "transcript",
  "answers",
  "expect",
];
const EXPECT_KEYS: &[&str] = &[
  "exit",
  "result",
  "steps",
  "values",
  "verdict",
  "verdict-contains",
  "not-run",
];

impl Reader<'_> {
  fn problem(&mut self, span: Span, message: String) {
    self
      .problems
      .push(Diagnostic::new(Problem::TestCase(message), span));
  }

  /// The span of a key path inside the case starting at `from`.
  fn at(&self, from: usize, path: &[&str]) -> Span {
    let text = &self.file.text;
    match crate::parse::yaml::key_span(text, from, path) {
      Some((start, end)) => Span::new(start, end),
      None => Span::new(from, from),
    }
  }

  fn cases(&mut self) -> Vec<Case> {
    let text = &self.file.text;
    if let Some(at) = crate::parse::yaml::too_deep(text) {
      self.problem(Span::new(at, at + 1), crate::parse::yaml::depth_message());
      return Vec::new();
    }
    let value: Yaml = match serde_yaml::from_str(text) {
      Ok(value) => value,
      Err(e) => {
        let at = e.location().map_or(0, |l| l.index());
        let message = format!("invalid YAML: {}", crate::diagnostic::yaml_message(&e));
        self.problem(Span::new(at, at), message);
        return Vec::new();
      }
    };
    let Some(Yaml::Sequence(list)) = value.get("cases") else {
      let message = "a case file is `cases:`, a list of cases (see docs/testing.md)".to_string();
      self.problem(self.at(0, &["cases"]), message);
      return Vec::new();
    };
    if let Yaml::Mapping(top) = &value {
      for key in top
        .keys()
        .filter_map(Yaml::as_str)
        .filter(|k| *k != "cases")
      {
        let span = self.at(0, &[key]);
        self.problem(
          span,
          format!("unknown key `{key}`; a case file has `cases:`"),
        );
      }
    }
    let starts = case_starts(text, list.len());
    let mut names: HashMap<String, usize> = HashMap::new();
    let mut cases = Vec::new();
    for (i, item) in list.iter().enumerate() {
      let from = starts.get(i).copied().unwrap_or(0);
      let Some(case) = self.case(item, from, i) else {
        continue;
      };
      if let Some(first) = names.insert(case.name.clone(), i) {
        let span = self.at(from, &["name"]);
        let message = format!(
          "case `{}` is also case {}: names must differ",
          case.name,
          first + 1
        );
        self.problem(span, message);
      }
      cases.push(case);
    }
    if list.is_empty() {
      self.problem(self.at(0, &["cases"]), "no cases under `cases:`".into());
    }
    cases
  }

  fn case(&mut self, item: &Yaml, from: usize, index: usize) -> Option<Case> {
    let Yaml::Mapping(map) = item else {
      self.problem(
        Span::new(from, from),
        "a case is a mapping with `name:`".into(),
      );
      return None;
    };
    for key in map.keys() {
      let key = key.as_str().unwrap_or("?");
      if !CASE_KEYS.contains(&key) {
        let span = self.at(from, &[key]);
        let close = crate::diagnostic::close_matches(key, CASE_KEYS.iter().copied());
        let message = format!(
          "unknown key `{key}` in a case{}",
          crate::diagnostic::did_you_mean(&close)
        );
        self.problem(span, message);
      }
    }
    let name = match item.get("name").and_then(scalar) {
      Some(name) => name,
      None => {
        let message = format!("case {} has no `name:`", index + 1);
        self.problem(Span::new(from, from), message);
        format!("case {}", index + 1)
      }
    };
    let Recorded {
      params: recorded,
      mut outputs,
      mut answers,
      started,
    } = self.transcript(item.get("transcript"), from);
    let at = match item.get("at") {
      None => started,
      Some(at) => {
        let parsed = scalar(at).and_then(|t| crate::clock::Instant::parse(&t));
        if parsed.is_none() {
          let span = self.at(from, &["at"]);
          let message = "`at` is the moment the case runs at: 2026-12-01T09:00:00Z".to_string();
          self.problem(span, message);
        }
        parsed
      }
    };
    // The recorded run's parameters, unless the case gives them.
    let mut params = self.params(item.get("params"), from);
    for (name, value) in recorded {
      if !params.iter().any(|(n, _)| *n == name) && self.runbook.meta.param(&name).is_some() {
        params.push((name, value));
      }
    }
    for (step, output) in self.outputs(item.get("outputs"), from) {
      outputs.insert(step, output);
    }
    // The recorded run's answers, unless the case gives them.
    answers.extend(self.answers(item.get("answers"), from));
    let expect = self.expect(item.get("expect"), from);
    Some(Case {
      name,
      span: Span::new(from, from),
      params,
      replay: Replay {
        outputs,
        answers: Arc::new(Answers::new(answers)),
      },
      expect,
      at,
    })
  }

  fn mapping<'y>(
    &mut self,
    value: Option<&'y Yaml>,
    from: usize,
    key: &str,
  ) -> Vec<(String, &'y Yaml)> {
    match value {
      None | Some(Yaml::Null) => Vec::new(),
      Some(Yaml::Mapping(map)) => map
        .iter()
        .map(|(k, v)| (scalar(k).unwrap_or_default(), v))
        .collect(),
      Some(_) => {
        let span = self.at(from, &[key]);
        self.problem(span, format!("`{key}` must be a mapping"));
        Vec::new()
      }
    }
  }

  fn params(&mut self, value: Option<&Yaml>, from: usize) -> Vec<(String, String)> {
    let mut params = Vec::new();
    for (name, value) in self.mapping(value, from, "params") {
      let span = self.at(from, &["params", &name]);
      if self.runbook.meta.param(&name).is_none() {
        let known: Vec<&str> = self
          .runbook
          .meta
          .params
          .iter()
          .map(|p| p.name.as_str())
          .collect();
        let close = crate::diagnostic::close_matches(&name, known.iter().copied());
        let message = format!(
          "the runbook has no parameter `{name}`{}",
          crate::diagnostic::did_you_mean(&close)
        );
        self.problem(span, message);
        continue;
      }
      match scalar(value) {
        Some(value) => params.push((name, value)),
        None => self.problem(span, format!("parameter `{name}` must be a single value")),
      }
    }
    params
  }

  /// The step named `id`, or a problem at `span` naming the close ones.
  fn step(&mut self, id: &str, span: Span) -> Option<&StepBody> {
    let runbook = self.runbook;
    match runbook.step_index(id) {
      Some(i) => Some(&runbook.steps[i].body),
      None => {
        let close =
          crate::diagnostic::close_matches(id, runbook.steps.iter().map(|s| s.id.as_str()));
        let message = format!(
          "the runbook has no step `{id}`{}",
          crate::diagnostic::did_you_mean(&close)
        );
        self.problem(span, message);
        None
      }
    }
  }

  fn outputs(&mut self, value: Option<&Yaml>, from: usize) -> Vec<(String, Map<String, Value>)> {
    let mut outputs = Vec::new();
    for (id, given) in self.mapping(value, from, "outputs") {
      let span = self.at(from, &["outputs", &id]);
      let kind = match self.step(&id, span) {
        None => continue,
        Some(StepBody::Manual { .. }) => {
          let message =
            format!("`{id}` is a checklist item: give its answer under `answers`, not an output");
          self.problem(span, message);
          continue;
        }
        Some(StepBody::Action(action)) => action.kind,
      };
      if kind == ActionKind::Rhai {
        let message = format!(
          "`{id}` is a rhai step: it runs in a test; give the outputs of the steps it reads"
        );
        self.problem(span, message);
        continue;
      }
      let fields = match serde_json::to_value(given) {
        Ok(Value::Object(fields)) => fields,
        Ok(Value::Null) => Map::new(),
        _ => {
          self.problem(
            span,
            format!("the output of `{id}` must be a mapping of its fields"),
          );
          continue;
        }
      };
      for field in exec::unknown_fields(kind, &fields) {
        let at = self.at(from, &["outputs", &id, field]);
        let known = exec::fields(kind);
        let close = crate::diagnostic::close_matches(field, known.iter().copied());
        let hint = if close.is_empty() {
          format!("; it records {}", known.join(", "))
        } else {
          crate::diagnostic::did_you_mean(&close)
        };
        let message = format!("a {} step records no field `{field}`{hint}", kind.name());
        self.problem(at, message);
      }
      if let Some(status) = fields.get("status")
        && serde_json::from_value::<Status>(status.clone()).is_err()
      {
        let at = self.at(from, &["outputs", &id, "status"]);
        self.problem(at, format!("`{status}` is not a step status; {STATUSES}"));
      }
      outputs.push((id, fields));
    }
    outputs
  }

  /// The parameters and outputs a recorded run's transcript holds,
  /// replayed as given.
  fn transcript(&mut self, value: Option<&Yaml>, from: usize) -> Recorded {
    let mut recorded = Recorded::default();
    let Some(value) = value else {
      return recorded;
    };
    let span = self.at(from, &["transcript"]);
    let Some(name) = scalar(value) else {
      self.problem(
        span,
        "`transcript` is the path of a recorded run's transcript".into(),
      );
      return recorded;
    };
    let path = self.file.path.with_file_name(&name);
    let text = match std::fs::read_to_string(&path) {
      Ok(text) => text,
      Err(e) => {
        self.problem(span, format!("cannot read {}: {e}", path.display()));
        return recorded;
      }
    };
    let records = crate::transcript::records(&text);
    if records.is_empty() {
      let message = format!("{} is not a transcript: it has no records", path.display());
      self.problem(span, message);
    }
    for record in records {
      if let crate::transcript::Event::RunStarted {
        params, started_at, ..
      } = record.event
      {
        recorded.params = params;
        recorded.started = crate::clock::Instant::parse(&started_at);
      } else if let crate::transcript::Event::StepFinished {
        step,
        output,
        error,
        status,
        ..
      } = record.event
      {
        let Recorded {
          outputs, answers, ..
        } = &mut recorded;
        match self
          .runbook
          .step_index(&step)
          .map(|i| &self.runbook.steps[i].body)
        {
          None => {
            let message =
              format!("the transcript ran step `{step}`, which the runbook no longer has");
            self.problem(span, message);
          }
          // Rhai steps run again, asking what they asked then.
          Some(StepBody::Action(a)) if a.kind == ActionKind::Rhai => {
            let asked = output.get("answers").and_then(Value::as_array);
            for asked in asked.into_iter().flatten() {
              if let (Some(q), Some(a)) = (asked["question"].as_str(), asked["answer"].as_str()) {
                answers
                  .entry(q.to_string())
                  .or_default()
                  .push(a.to_string());
              }
            }
          }
          // Checklist items are answered as they were.
          Some(StepBody::Manual { .. }) => {
            answers.insert(step, vec![status.name().to_string()]);
          }
          Some(StepBody::Action(_)) => {
            let mut fields = match output {
              Value::Object(fields) => fields,
              _ => Map::new(),
            };
            if let Some(error) = error {
              fields.insert("error".into(), Value::String(error));
            }
            outputs.insert(step, fields);
          }
        }
      }
    }
    recorded
  }

  fn answers(&mut self, value: Option<&Yaml>, from: usize) -> HashMap<String, Vec<String>> {
    let mut answers = HashMap::new();
    let questions = questions(self.runbook);
    for (key, answer) in self.mapping(value, from, "answers") {
      let span = self.at(from, &["answers", &key]);
      // A list answers a question asked more than once, in order.
      let given: Option<Vec<String>> = match answer {
        Yaml::Sequence(list) => list.iter().map(scalar).collect(),
        other => scalar(other).map(|a| vec![a]),
      };
      let Some(given) = given.filter(|g| !g.is_empty()) else {
        let message = format!("the answer to `{key}` must be a value, or a list of values");
        self.problem(span, message);
        continue;
      };
      match self
        .runbook
        .step_index(&key)
        .map(|i| &self.runbook.steps[i].body)
      {
        Some(StepBody::Manual { .. }) => {
          if let Some(answer) = given
            .iter()
            .find(|a| !["done", "not-done", "n/a"].contains(&a.as_str()))
          {
            let message =
              format!("`{key}` is a checklist item: answer done, not-done or n/a, not `{answer}`");
            self.problem(span, message);
          }
        }
        Some(StepBody::Action(_)) => {
          let message = format!(
            "`{key}` is a step, not a checklist item or a question: give its output under `outputs`"
          );
          self.problem(span, message);
        }
        // A question built as the script runs cannot be checked here.
        None if questions.as_ref().is_none_or(|q| q.contains(&key)) => {}
        None => {
          let close = crate::diagnostic::close_matches(
            &key,
            self
              .runbook
              .steps
              .iter()
              .map(|s| s.id.as_str())
              .chain(questions.iter().flatten().map(String::as_str)),
          );
          let message = format!(
            "`{key}` is neither a checklist item nor a question a step asks{}",
            crate::diagnostic::did_you_mean(&close)
          );
          self.problem(span, message);
        }
      }
      answers.insert(key, given);
    }
    answers
  }

  fn expect(&mut self, value: Option<&Yaml>, from: usize) -> Expect {
    let mut expect = Expect::default();
    let span = self.at(from, &["expect"]);
    let Some(value) = value else {
      if !self.update {
        self.problem(span, EXPECTS_NOTHING.into());
      }
      return expect;
    };
    for (key, value) in self.mapping(Some(value), from, "expect") {
      let at = self.at(from, &["expect", &key]);
      match key.as_str() {
        "exit" => match value.as_i64().and_then(|n| i32::try_from(n).ok()) {
          Some(code) => expect.exit = Some(code),
          None => self.problem(at, "`exit` is the exit code, a number".into()),
        },
        "result" => match scalar(value).and_then(|r| serde_json::from_value(Value::String(r)).ok())
        {
          Some(result) => expect.result = Some(result),
          None => self.problem(
            at,
            "`result` is one of passed, failed, incomplete, stopped, quit, interrupted".into(),
          ),
        },
        "steps" => {
          for (id, status) in self.mapping(Some(value), from, "steps") {
            let at = self.at(from, &["expect", "steps", &id]);
            if self.step(&id, at).is_none() {
              continue;
            }
            match scalar(status).and_then(|s| serde_json::from_value(Value::String(s)).ok()) {
              Some(status) => expect.steps.push((id, status)),
              None => self.problem(at, format!("the status of `{id}`: {STATUSES}")),
            }
          }
        }
        "values" => {
          for (id, text) in self.mapping(Some(value), from, "values") {
            let at = self.at(from, &["expect", "values", &id]);
            if self.step(&id, at).is_none() {
              continue;
            }
            match scalar(text) {
              Some(text) => expect.values.push((id, text)),
              None => self.problem(at, format!("the value of `{id}` is its text on one line")),
            }
          }
        }
        "verdict" => match scalar(value) {
          Some(verdict) => expect.verdict = Some(verdict),
          None => self.problem(at, "`verdict` is the verdict's text on one line".into()),
        },
        "verdict-contains" | "not-run" => {
          let items: Vec<String> = match value {
            Yaml::Sequence(items) => items.iter().filter_map(scalar).collect(),
            other => scalar(other).into_iter().collect(),
          };
          if key == "not-run" {
            for id in &items {
              let at = self.at(from, &["expect", "not-run"]);
              self.step(id, at);
            }
            expect.not_run = items;
          } else {
            expect.verdict_contains = items;
          }
        }
        other => {
          let close = crate::diagnostic::close_matches(other, EXPECT_KEYS.iter().copied());
          let message = format!(
            "unknown expectation `{other}`{}; expect has {}",
            crate::diagnostic::did_you_mean(&close),
            EXPECT_KEYS.join(", ")
          );
          self.problem(at, message);
        }
      }
    }
    let reported = self
      .problems
      .iter()
      .any(|d| d.span.is_some_and(|s| s.start >= span.start));
    if expect.is_empty() && !reported && !self.update {
      self.problem(span, EXPECTS_NOTHING.into());
    }
    expect
  }
}

const EXPECTS_NOTHING: &str = "the case expects nothing: say what it expects under `expect:` \
  (`litops test --update` writes what it does now)";

/// What a recorded run's transcript gives a case.
#[derive(Default)]
struct Recorded {
  params: Vec<(String, String)>,
  outputs: HashMap<String, Map<String, Value>>,
  answers: HashMap<String, Vec<String>>,
  started: Option<crate::clock::Instant>,
}

const STATUSES: &str =
  "a status is done, failed, timed-out, interrupted, skipped, not-done, n/a or unconfirmed";

/// A YAML scalar as text.
fn scalar(value: &Yaml) -> Option<String> {
  match value {
    Yaml::String(s) => Some(s.clone()),
    Yaml::Bool(b) => Some(b.to_string()),
    Yaml::Number(n) => Some(n.to_string()),
    _ => None,
  }
}

/// The questions the runbook's scripts ask, by their literal text; None
/// when a script builds one as it runs.
fn questions(runbook: &Runbook) -> Option<Vec<String>> {
  let mut all = Vec::new();
  for action in runbook.steps.iter().filter_map(|s| s.action()) {
    if action.kind == ActionKind::Rhai {
      all.extend(crate::script::questions(&action.code)?);
    }
  }
  Some(all)
}

/// Where each of the `count` items of the top-level `cases:` list starts.
fn case_starts(text: &str, count: usize) -> Vec<usize> {
  let Some((list_at, _)) = crate::parse::yaml::key_span(text, 0, &["cases"]) else {
    return Vec::new();
  };
  let mut starts = Vec::new();
  let mut indent = None;
  let mut offset = list_at;
  for line in text[list_at..].split_inclusive('\n') {
    let trimmed = line.trim_start();
    let here = line.len() - trimmed.len();
    let item = trimmed.starts_with("- ") || trimmed.trim_end() == "-";
    if item && indent.is_none_or(|i| i == here) {
      indent = Some(here);
      starts.push(offset + here);
    }
    offset += line.len();
    if starts.len() == count {
      break;
    }
  }
  starts
}

/// Values for a test: what the case gives, else the defaults; nothing is
/// read or asked.
struct CaseParams;

impl Sources for CaseParams {
  fn fetch(
    &mut self,
    param: &crate::model::Param,
    _: &crate::model::Origin,
  ) -> Result<String, String> {
    Err(format!(
      "the case gives no value for it and a test reads nothing: add `{}:` under `params`",
      param.name
    ))
  }

  fn ask(&mut self, _: &crate::model::Param, _: Option<&str>) -> Result<String, Unanswered> {
    Err(Unanswered::NoTerminal)
  }
}

/// Why a case's parameters cannot be used, in a test's terms.
fn param_problem(error: &ParamError) -> String {
  match error {
    ParamError::Missing(name) => {
      format!("parameter `{name}` has no default: add `{name}:` under the case's `params`")
    }
    ParamError::Several(all) => all.iter().map(param_problem).collect::<Vec<_>>().join("; "),
    other => other.to_string(),
  }
}

/// What a case's run did, as its expectations are written.
#[derive(Debug)]
pub struct Outcome {
  pub exit: i32,
  pub result: RunResult,
  /// Each step that ran, as it ended last, in the order they first ran.
  pub steps: Vec<(String, Status)>,
  pub verdict: String,
  pub not_run: Vec<String>,
  /// What each script step found last (its value or failure, on one line).
  pub values: Vec<(String, String)>,
}

/// Runs one case: the walk with its outputs replayed, its transcript in
/// `dir`.
pub fn run(suite: &Suite, case: &Case, dir: &Path) -> Result<Outcome, String> {
  let given = Given {
    pairs: case.params.clone(),
  };
  let params = crate::params::resolve(&suite.runbook.meta, &given, &mut CaseParams)
    .map_err(|e| param_problem(&e))?;
  let console = Arc::new(exec::Console::unattended(None).map_err(|e| e.to_string())?);
  let options = RunOptions {
    approval: Approval::Replay,
    from: None,
    only: None,
    transcript: dir.join(format!(
      "{}.jsonl",
      crate::transcript::sha256_hex(case.name.as_bytes())
    )),
    operator: "litops test".into(),
    run_id: crate::transcript::run_id(crate::clock::now()),
    aws: crate::aws::Settings::default(),
    sign: None,
    prefetch: false,
    approvals: exec::Approvals::default(),
    fleet: Vec::new(),
    tripwire: None,
    replay: Some(Arc::new(Replay {
      outputs: case.replay.outputs.clone(),
      answers: Arc::new(case.replay.answers.fresh()),
    })),
  };
  crate::clock::freeze(case.at);
  let summary = exec::run(
    &suite.runbook_source,
    &suite.runbook,
    &params,
    console,
    &options,
  );
  crate::clock::freeze(None);
  let summary = summary.map_err(|e| e.to_string())?;
  let text = std::fs::read_to_string(&options.transcript)
    .map_err(|e| format!("cannot read its transcript: {e}"))?;
  let mut values: Vec<(String, String)> = Vec::new();
  for record in crate::transcript::records(&text) {
    if let crate::transcript::Event::StepFinished {
      step,
      output,
      error,
      ..
    } = record.event
    {
      let script = suite
        .runbook
        .step_index(&step)
        .and_then(|i| suite.runbook.steps[i].action())
        .is_some_and(|a| a.kind == ActionKind::Rhai);
      if script {
        let value = exec::verdict(&output, error.as_deref());
        values.retain(|(id, _)| *id != step);
        values.push((step, value));
      }
    }
  }
  let mut steps: Vec<(String, Status)> = Vec::new();
  for (id, status, _) in &summary.rows {
    match steps.iter_mut().find(|(s, _)| s == id) {
      Some(seen) => seen.1 = *status,
      None => steps.push((id.clone(), *status)),
    }
  }
  let not_run = suite
    .runbook
    .steps
    .iter()
    .filter(|s| !steps.iter().any(|(id, _)| *id == s.id))
    .map(|s| s.id.clone())
    .collect();
  Ok(Outcome {
    exit: summary.exit_code,
    result: summary.result,
    steps,
    verdict: summary.verdict,
    not_run,
    values,
  })
}

/// Where the outcome differs from what the case expects, one line each.
pub fn compare(expect: &Expect, outcome: &Outcome) -> Vec<String> {
  let mut failures = Vec::new();
  if let Some(exit) = expect.exit.filter(|e| *e != outcome.exit) {
    failures.push(format!("exit: expected {exit}, got {}", outcome.exit));
  }
  if let Some(result) = expect.result.filter(|r| *r != outcome.result) {
    failures.push(format!("result: expected {result}, got {}", outcome.result));
  }
  for (id, status) in &expect.steps {
    match outcome.steps.iter().find(|(s, _)| s == id) {
      Some((_, got)) if got == status => {}
      Some((_, got)) => failures.push(format!("step `{id}`: expected {status}, got {got}")),
      None => failures.push(format!("step `{id}`: expected {status}, but it never ran")),
    }
  }
  if let Some(verdict) = expect.verdict.as_ref().filter(|v| **v != outcome.verdict) {
    failures.push(format!(
      "verdict: expected “{verdict}”, got “{}”",
      outcome.verdict
    ));
  }
  for part in &expect.verdict_contains {
    if !outcome.verdict.contains(part.as_str()) {
      failures.push(format!(
        "verdict: expected it to contain “{part}”, got “{}”",
        outcome.verdict
      ));
    }
  }
  for (id, value) in &expect.values {
    match outcome.values.iter().find(|(s, _)| s == id) {
      Some((_, got)) if got == value => {}
      Some((_, got)) => failures.push(format!("`{id}`: expected “{value}”, got “{got}”")),
      None => failures.push(format!("`{id}`: expected “{value}”, but it never ran")),
    }
  }
  for id in &expect.not_run {
    if let Some((_, status)) = outcome.steps.iter().find(|(s, _)| s == id) {
      failures.push(format!(
        "step `{id}`: expected it not to run, but it ran ({status})"
      ));
    }
  }
  failures
}

/// A case's result: passed, or why not.
pub struct Verdict {
  pub file: PathBuf,
  pub case: String,
  pub failures: Vec<String>,
  pub seconds: f64,
}

/// Every case of a suite, run and compared; with `update`, the outcomes
/// too, for writing expectations.
pub fn run_suite(suite: &Suite, update: bool) -> (Vec<Verdict>, Vec<(usize, Outcome)>) {
  let mut verdicts = Vec::new();
  let mut outcomes = Vec::new();
  let dir = tempfile::tempdir();
  for (i, case) in suite.cases.iter().enumerate() {
    let started = std::time::Instant::now();
    let failures = match &dir {
      Err(e) => vec![format!("cannot make a directory for its transcript: {e}")],
      Ok(dir) => match run(suite, case, dir.path()) {
        Err(why) => vec![why],
        Ok(outcome) => {
          let failures = if update {
            Vec::new()
          } else {
            compare(&case.expect, &outcome)
          };
          outcomes.push((i, outcome));
          failures
        }
      },
    };
    verdicts.push(Verdict {
      file: suite.file.path.clone(),
      case: case.name.clone(),
      failures,
      seconds: started.elapsed().as_secs_f64(),
    });
  }
  (verdicts, outcomes)
}

/// The case file with each case's `expect:` written from its outcome; the
/// rest of the file (comments included) as it was.
pub fn updated(suite: &Suite, outcomes: &[(usize, Outcome)]) -> String {
  let text = &suite.file.text;
  let mut edits: Vec<(usize, usize, String)> = Vec::new();
  for (i, outcome) in outcomes {
    let case = &suite.cases[*i];
    let end = suite
      .cases
      .get(i + 1)
      .map_or(text.len(), |next| line_start(text, next.span.start));
    let from = case.span.start;
    // The indentation of the case's keys: its `- ` and the column after.
    let key_indent = from - line_start(text, from) + 2;
    let block = expect_yaml(outcome, key_indent);
    match crate::parse::yaml::key_span(text, from, &["expect"]).filter(|(s, _)| *s < end) {
      Some((start, _)) => {
        let start = line_start(text, start);
        let stop = block_end(text, start, end);
        edits.push((start, stop, block));
      }
      None => {
        let at = trimmed_end(text, from, end);
        edits.push((at, at, block));
      }
    }
  }
  let mut out = text.clone();
  for (start, stop, block) in edits.into_iter().rev() {
    out.replace_range(start..stop, &block);
  }
  out
}

fn line_start(text: &str, at: usize) -> usize {
  text[..at].rfind('\n').map_or(0, |i| i + 1)
}

/// Where the block of lines starting at `start` ends: the next line (before
/// `limit`) indented no deeper than its first, blank lines and comments aside.
fn block_end(text: &str, start: usize, limit: usize) -> usize {
  let first = &text[start..];
  let indent = first.len() - first.trim_start_matches(' ').len();
  let mut offset = start;
  let mut end = start;
  for (n, line) in text[start..limit].split_inclusive('\n').enumerate() {
    let body = line.trim_start_matches(' ');
    let here = line.len() - body.len();
    let blank = body.trim().is_empty() || body.starts_with('#');
    if n > 0 && !blank && here <= indent {
      break;
    }
    offset += line.len();
    if !blank {
      end = offset;
    }
  }
  end
}

/// The end of the last line between `from` and `limit` that is neither
/// blank nor a comment (a comment before the next case belongs to it).
fn trimmed_end(text: &str, from: usize, limit: usize) -> usize {
  let mut offset = from;
  let mut end = from;
  for line in text[from..limit].split_inclusive('\n') {
    offset += line.len();
    let body = line.trim();
    if !body.is_empty() && !body.starts_with('#') {
      end = offset;
    }
  }
  end
}

/// `expect:` written from an outcome, its keys at `indent` spaces.
fn expect_yaml(outcome: &Outcome, indent: usize) -> String {
  let pad = " ".repeat(indent);
  let mut out = format!("{pad}expect:\n");
  let _ = writeln!(out, "{pad}  exit: {}", outcome.exit);
  let _ = writeln!(out, "{pad}  result: {}", outcome.result);
  let _ = writeln!(out, "{pad}  verdict: {}", quoted(&outcome.verdict));
  if !outcome.steps.is_empty() {
    let _ = writeln!(out, "{pad}  steps:");
    for (id, status) in &outcome.steps {
      let _ = writeln!(out, "{pad}    {}: {}", quoted(id), quoted(status.name()));
    }
  }
  if !outcome.values.is_empty() {
    let _ = writeln!(out, "{pad}  values:");
    for (id, value) in &outcome.values {
      let _ = writeln!(out, "{pad}    {}: {}", quoted(id), quoted(value));
    }
  }
  if !outcome.not_run.is_empty() {
    let list: Vec<String> = outcome.not_run.iter().map(|s| quoted(s)).collect();
    let _ = writeln!(out, "{pad}  not-run: [{}]", list.join(", "));
  }
  out
}

/// A string as a YAML scalar that reads back as itself.
fn quoted(text: &str) -> String {
  let plain = !text.is_empty()
    && text
      .chars()
      .all(|c| c.is_ascii_alphanumeric() || "-_./".contains(c))
    && serde_yaml::from_str::<Yaml>(text).ok() == Some(Yaml::String(text.into()));
  if plain {
    text.to_string()
  } else {
    serde_json::to_string(text).unwrap_or_default()
  }
}

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
  fn quoted_strings_read_back_as_themselves() {
    for text in [
      "ok",
      "yes",
      "1",
      "null",
      "a: b",
      "",
      "“x” — y",
      "~",
      "-1.5",
      "#x",
    ] {
      let yaml = quoted(text);
      let back: Yaml = serde_yaml::from_str(&yaml).expect("parses");
      assert_eq!(back, Yaml::String(text.into()), "{yaml}");
    }
  }

  #[test]
  fn xml_escapes_markup_and_control_characters() {
    assert_eq!(
      xml("<a href=\"x\">&'\u{1b}"),
      "&lt;a href=&quot;x&quot;&gt;&amp;&#39;\u{fffd}"
    );
  }
}
