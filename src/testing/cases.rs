//! A case file read against its runbook: every case's parameters, outputs
//! (given, or replayed from a recorded transcript), answers and
//! expectations, and every mistake in it at its line.

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::{Map, Value};
use serde_yaml::Value as Yaml;

use super::{Case, Expect};
use crate::diagnostic::{Diagnostic, Problem};
use crate::exec::{self, Answers, Replay, Status};
use crate::model::{ActionKind, Runbook, StepBody};
use crate::source::{Source, Span};

/// The cases of a case file, or every problem in it at its line. With
/// `update`, a case may expect nothing yet.
pub(super) fn read(
  file: &Source,
  runbook: &Runbook,
  update: bool,
) -> Result<Vec<Case>, Vec<Diagnostic>> {
  let mut reader = Reader {
    file,
    runbook,
    problems: Vec::new(),
    update,
  };
  let cases = reader.cases();
  if reader.problems.is_empty() {
    Ok(cases)
  } else {
    Err(reader.problems)
  }
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
    let value = match crate::parse::yaml::value(text) {
      Ok(value) => value,
      Err(e) => {
        let at = e.at.unwrap_or(0);
        self.problem(
          Span::new(at, at + 1),
          format!("invalid YAML: {}", e.message),
        );
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
