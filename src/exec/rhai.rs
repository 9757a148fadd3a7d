//! rhai blocks: the glue between steps. A script sees `params`, earlier
//! outputs as `steps["id"]` and `last`, sets `vars.x`, and can `fail`,
//! `assert`, `goto` and ask the operator. See `script` for the sandbox.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rhai::{Array, Dynamic, EvalAltResult, Map as RhaiMap, Position, Scope};
use serde_json::{Map, Value};

use super::action::{Execute, Output, StepRun};
use super::console::{Answer, Console};
use crate::script::{self, GOTO, GOTO_REASON};
use crate::transcript::Status;

/// Wall-time budget of a script when its step sets no `timeout=`; time
/// spent waiting for the operator does not count.
const DEFAULT_LIMIT: Duration = Duration::from_secs(10);

const INTERRUPTED: &str = "litops:interrupted";
const TIMED_OUT: &str = "litops:timed-out";
const UNANSWERED: &str = "litops:unanswered";
const OUT_OF_MEMORY: &str = "litops:out-of-memory";

#[derive(Default)]
struct State {
  printed: String,
  answers: Vec<Value>,
  waited: Duration,
}

pub struct RhaiAction;

impl Execute for RhaiAction {
  fn fields(&self) -> &'static [&'static str] {
    &["value", "printed", "answers", "goto_reason"]
  }

  fn execute(&self, run: &mut StepRun) -> Output {
    let state = Arc::new(Mutex::new(State::default()));
    let mut engine = script::sandbox();
    register_steps(&mut engine);
    {
      let state = state.clone();
      let console = run.console.clone();
      engine.on_print(move |text| {
        console.say(&format!("{text}\n"));
        if let Ok(mut s) = state.lock() {
          s.printed.push_str(text);
          s.printed.push('\n');
        }
      });
      // debug() is shown like print(), masked by the console, never on
      // rhai's own unmasked stderr writer.
      let console = run.console.clone();
      engine.on_debug(move |text, _, position| {
        let at = position
          .line()
          .map_or_else(String::new, |l| format!("line {l}: "));
        console.say(&format!("   debug {at}{text}\n"));
      });
    }
    engine.register_fn("fail", |why: &str| -> Result<(), Box<EvalAltResult>> {
      Err(why.into())
    });
    engine.register_fn(
      "assert",
      |ok: bool, why: &str| -> Result<(), Box<EvalAltResult>> {
        if ok {
          Ok(())
        } else {
          Err(format!("assertion failed: {why}").into())
        }
      },
    );
    // `utc_ago("1h")`: a moment as a query writes it (`@timestamp > "…"`).
    engine.register_fn(
      "utc_ago",
      |ago: &str| -> Result<String, Box<EvalAltResult>> {
        let secs = crate::check::parse_duration(ago)
          .and_then(|d| i64::try_from(d.as_secs()).ok())
          .ok_or_else(|| format!("utc_ago(\"{ago}\"): expected a duration such as 1h or 30m"))?;
        crate::clock::Instant::from_seconds(crate::clock::now().seconds() - secs)
          .map(crate::clock::Instant::iso_seconds)
          .ok_or_else(|| format!("utc_ago(\"{ago}\"): before any date").into())
      },
    );
    let asker = Asker {
      console: run.console.clone(),
      state: state.clone(),
      answers: run.replay.map(|r| r.answers.clone()),
    };
    let a = asker.clone();
    engine.register_fn("ask", move |q: &str| a.ask(q, None).map(Dynamic::from));
    let a = asker.clone();
    engine.register_fn("choose", move |q: &str, options: Array| {
      let options: Vec<String> = options.iter().map(|o| o.to_string()).collect();
      a.ask(q, Some(&options)).map(Dynamic::from)
    });
    let a = asker;
    engine.register_fn("confirm", move |q: &str| {
      let yes_no = ["yes".to_string(), "no".to_string()];
      a.ask(q, Some(&yes_no)).map(|answer| answer == "yes")
    });

    let started = Instant::now();
    let limit = run.timeout.unwrap_or(DEFAULT_LIMIT);
    let interrupted = run.console.interrupt_flag();
    let progress_state = state.clone();
    let memory = script::MemoryBudget::start();
    engine.on_progress(move |operations| {
      if interrupted.load(std::sync::atomic::Ordering::SeqCst) {
        return Some(INTERRUPTED.into());
      }
      if memory.exceeded(operations) {
        return Some(OUT_OF_MEMORY.into());
      }
      let waited = progress_state.lock().map(|s| s.waited).unwrap_or_default();
      (started.elapsed().saturating_sub(waited) > limit).then(|| TIMED_OUT.into())
    });

    let mut scope = Scope::new();
    let params: RhaiMap = run
      .params
      .values
      .iter()
      .map(|(k, v)| (k.as_str().into(), Dynamic::from(v.clone())))
      .collect();
    scope.push_constant("params", params);
    scope.push_constant("steps", Steps(run.outputs.clone()));
    scope.push_constant("last", run.last.map_or(Dynamic::UNIT, to_dynamic));
    scope.push("vars", to_dynamic(&Value::Object(run.vars.clone())));

    let result = engine.eval_with_scope::<Dynamic>(&mut scope, run.text);
    if let Some(Value::Object(vars)) = scope.get_value::<Dynamic>("vars").map(|v| to_json(&v)) {
      *run.vars = vars;
    }
    let mut output = match result {
      Ok(value) => {
        let mut output = Output::new(Status::Done);
        output.fields.insert("value".into(), to_json(&value));
        output
      }
      Err(error) => outcome_of(*error, run, limit),
    };
    if let Ok(state) = state.lock() {
      output
        .fields
        .insert("printed".into(), Value::String(state.printed.clone()));
      if !state.answers.is_empty() {
        output
          .fields
          .insert("answers".into(), Value::Array(state.answers.clone()));
      }
    }
    output
  }
}

fn outcome_of(error: EvalAltResult, run: &StepRun, limit: Duration) -> Output {
  match error {
    EvalAltResult::ErrorTerminated(token, _) => {
      let jump = token.read_lock::<RhaiMap>().map(|m| {
        (
          m.get(GOTO).map(ToString::to_string),
          m.get(GOTO_REASON).map(ToString::to_string),
        )
      });
      if let Some((Some(target), reason)) = jump {
        let mut output = Output::new(Status::Done);
        output.goto = Some(target);
        if let Some(reason) = reason {
          output
            .fields
            .insert("goto_reason".into(), Value::String(reason));
        }
        return output;
      }
      match token.to_string().as_str() {
        INTERRUPTED => Output::failed(Status::Interrupted, crate::cancel::interruption()),
        OUT_OF_MEMORY => Output::failed(
          Status::Failed,
          format!(
            "script used more than {} MB of memory: stopped",
            script::MEMORY_LIMIT >> 20
          ),
        ),
        TIMED_OUT => Output::failed(
          Status::TimedOut,
          format!(
            "script ran longer than {}",
            humantime::format_duration(limit)
          ),
        ),
        other => {
          let question = other
            .strip_prefix(UNANSWERED)
            .unwrap_or(other)
            .trim_start_matches(':');
          let why = if run.replay.is_some() {
            format!("the case gives no answer to “{question}”: add it under `answers`")
          } else {
            format!("cannot ask “{question}”: no terminal; run interactively to answer it")
          };
          let mut output = Output::failed(Status::Failed, why);
          output.unanswered = true;
          output
        }
      }
    }
    EvalAltResult::ErrorRuntime(why, position) => {
      Output::failed(Status::Failed, format!("{}{}", why, at(run, position)))
    }
    other => {
      let position = other.position();
      let mut message = other.to_string();
      if let Some(i) = message.find(" (line ") {
        message.truncate(i);
      }
      Output::failed(Status::Failed, format!("{message}{}", at(run, position)))
    }
  }
}

/// ` (at runbook.md:LINE)` for a position inside the script.
fn at(run: &StepRun, position: Position) -> String {
  match position.line() {
    Some(line) => {
      let first = run
        .source
        .line(run.step.action().map_or(0, |a| a.code_start));
      format!(" (at {}:{})", run.source.path.display(), first + line - 1)
    }
    None => String::new(),
  }
}

#[derive(Clone)]
struct Asker {
  console: Arc<Console>,
  state: Arc<Mutex<State>>,
  /// `litops test`: the case's answers, by question; nobody is asked.
  answers: Option<Arc<super::replay::Answers>>,
}

impl Asker {
  fn ask(&self, question: &str, options: Option<&[String]>) -> Result<String, Box<EvalAltResult>> {
    let mut prompt = format!("\n? {question}\n");
    if let Some(options) = options {
      for (i, option) in options.iter().enumerate() {
        prompt.push_str(&format!("  {}) {option}\n", i + 1));
      }
    }
    prompt.push_str("› ");
    let waiting = Instant::now();
    let answer = loop {
      let typed = match &self.answers {
        Some(answers) => answers
          .next(question)
          .map_or(Answer::Unavailable, Answer::Line),
        None => self.console.ask(&prompt, false),
      };
      match typed {
        Answer::Line(line) => {
          let line = line.trim().to_string();
          match options {
            None => break line,
            Some(options) => {
              let pick = line
                .parse::<usize>()
                .ok()
                .and_then(|n| options.get(n.wrapping_sub(1)))
                .or_else(|| options.iter().find(|o| o.eq_ignore_ascii_case(&line)))
                .or_else(|| {
                  // `y`/`n` for confirm, or any unambiguous prefix.
                  let matching: Vec<_> = options
                    .iter()
                    .filter(|o| {
                      !line.is_empty() && o.to_lowercase().starts_with(&line.to_lowercase())
                    })
                    .collect();
                  (matching.len() == 1).then(|| matching[0])
                });
              match pick {
                Some(choice) => break choice.clone(),
                // A case's answer is given once: asking again loops.
                None if self.answers.is_some() => {
                  return Err(
                    format!(
                      "the case answers “{question}” with `{line}`, not one of: {}",
                      options.join(", ")
                    )
                    .into(),
                  );
                }
                None => self
                  .console
                  .say(&format!("  please answer one of: {}\n", options.join(", "))),
              }
            }
          }
        }
        Answer::Unavailable => {
          return Err(Box::new(EvalAltResult::ErrorTerminated(
            format!("{UNANSWERED}:{question}").into(),
            Position::NONE,
          )));
        }
        Answer::Interrupted => {
          return Err(Box::new(EvalAltResult::ErrorTerminated(
            INTERRUPTED.into(),
            Position::NONE,
          )));
        }
      }
    };
    if let Ok(mut state) = self.state.lock() {
      state.waited += waiting.elapsed();
      let mut record = Map::new();
      record.insert("question".into(), Value::String(question.into()));
      record.insert("answer".into(), Value::String(answer.clone()));
      record.insert("how".into(), Value::String(self.console.how().into()));
      state.answers.push(Value::Object(record));
    }
    Ok(answer)
  }
}

/// `steps`: earlier outputs, converted for the script only when it reads
/// one, so a step's cost does not grow with the number of steps before it.
#[derive(Clone)]
struct Steps(Arc<Map<String, Value>>);

fn register_steps(engine: &mut rhai::Engine) {
  engine
    .register_type_with_name::<Steps>("Steps")
    .register_indexer_get(|steps: &mut Steps, id: &str| {
      steps.0.get(id).map_or(Dynamic::UNIT, to_dynamic)
    })
    .register_fn("contains", |steps: &mut Steps, id: &str| {
      steps.0.contains_key(id)
    })
    .register_fn("keys", |steps: &mut Steps| -> Array {
      steps.0.keys().map(|k| Dynamic::from(k.clone())).collect()
    })
    .register_fn("len", |steps: &mut Steps| steps.0.len() as i64)
    .register_fn("to_string", |steps: &mut Steps| {
      format!(
        "steps: {}",
        steps.0.keys().cloned().collect::<Vec<_>>().join(", ")
      )
    });
}

fn to_dynamic(value: &Value) -> Dynamic {
  rhai::serde::to_dynamic(value).unwrap_or(Dynamic::UNIT)
}

fn to_json(value: &Dynamic) -> Value {
  rhai::serde::from_dynamic::<Value>(value).unwrap_or_else(|_| Value::String(value.to_string()))
}
