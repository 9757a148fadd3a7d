//! The rhai sandbox, shared by `check` (syntax) and the walk (execution).
//!
//! rhai has no file, process or network access unless a host registers it;
//! litops registers none, blocks `import` and `eval`, and bounds work.

use rhai::module_resolvers::DummyModuleResolver;
use rhai::{Dynamic, Engine, EvalAltResult, Map, OptimizationLevel, Position};

/// How much a script may grow the process's memory. rhai's size limits
/// bound strings, arrays and maps but not everything (curried function
/// pointers grow without them), so the process itself is measured.
pub const MEMORY_LIMIT: u64 = 512 << 20;
/// Operations between two looks at the process's memory.
const MEMORY_EVERY: u64 = 4096;
/// Time between two looks, for scripts whose few operations are huge (each
/// doubling a value).
const MEMORY_EVERY_MS: u64 = 10;

/// The process's resident memory when a script starts, to bound its growth.
pub struct MemoryBudget {
  start: u64,
  clock: std::time::Instant,
  /// Milliseconds since `clock` at the last look.
  looked: std::sync::atomic::AtomicU64,
}

impl MemoryBudget {
  pub fn start() -> Self {
    Self {
      start: resident_bytes().unwrap_or(0),
      clock: std::time::Instant::now(),
      looked: std::sync::atomic::AtomicU64::new(0),
    }
  }

  /// Whether the script has grown the process past [`MEMORY_LIMIT`];
  /// looked at every few thousand operations or milliseconds.
  pub fn exceeded(&self, operations: u64) -> bool {
    use std::sync::atomic::Ordering;
    let now = self.clock.elapsed().as_millis() as u64;
    let due = operations.is_multiple_of(MEMORY_EVERY)
      || now.saturating_sub(self.looked.load(Ordering::Relaxed)) >= MEMORY_EVERY_MS;
    if !due {
      return false;
    }
    self.looked.store(now, Ordering::Relaxed);
    resident_bytes().is_some_and(|rss| rss.saturating_sub(self.start) > MEMORY_LIMIT)
  }
}

/// Resident set size, from /proc (Linux); None elsewhere.
fn resident_bytes() -> Option<u64> {
  let status = std::fs::read_to_string("/proc/self/status").ok()?;
  let kb: u64 = status
    .lines()
    .find_map(|l| l.strip_prefix("VmRSS:"))?
    .trim()
    .trim_end_matches("kB")
    .trim()
    .parse()
    .ok()?;
  Some(kb << 10)
}

/// The key of the map a `goto` carries out of a script.
pub const GOTO: &str = "litops_goto";
/// …and of the reason the script gave for it.
pub const GOTO_REASON: &str = "litops_goto_reason";

pub fn sandbox() -> Engine {
  let mut engine = Engine::new();
  engine.set_module_resolver(DummyModuleResolver::new());
  engine.disable_symbol("eval");
  // Constant folding would inline `params.x` into a literal, and assigning
  // to that literal is a rhai internal panic (`unreachable!`) instead of
  // its "cannot assign to a constant" error.
  engine.set_optimization_level(OptimizationLevel::None);
  engine.set_max_operations(5_000_000);
  engine.set_max_call_levels(32);
  engine.set_max_expr_depths(64, 32);
  engine.set_max_string_size(1 << 20);
  engine.set_max_array_size(100_000);
  engine.set_max_map_size(100_000);
  // `goto` is reserved in rhai, so it is custom syntax: it ends the script
  // (termination cannot be caught by `try`) and carries the target out,
  // with the script's reason when it gives one: `goto("fix", "image pull")`.
  // The plain registration reserves the keyword; the raw one replaces its
  // parser with one that takes the optional second argument.
  let registered = engine
    .register_custom_syntax(["goto", "(", "$expr$", ")"], false, |_, _| {
      Ok(Dynamic::UNIT)
    })
    .map(|_| ());
  engine.register_custom_syntax_with_state_raw(
    "goto",
    |symbols, look_ahead, _| {
      Ok(match symbols.len() {
        1 => Some("(".into()),
        2 => Some("$expr$".into()),
        3 if look_ahead == "," => Some(",".into()),
        3 => Some(")".into()),
        4 if symbols[3] == "," => Some("$expr$".into()),
        5 => Some(")".into()),
        _ => None,
      })
    },
    false,
    |context, inputs, _| {
      let target = context.eval_expression_tree(&inputs[0])?;
      let mut jump = Map::new();
      jump.insert(GOTO.into(), Dynamic::from(target.to_string()));
      if let Some(reason) = inputs.get(1) {
        let reason = context.eval_expression_tree(reason)?;
        jump.insert(GOTO_REASON.into(), Dynamic::from(reason.to_string()));
      }
      Err(Box::new(EvalAltResult::ErrorTerminated(
        jump.into(),
        Position::NONE,
      )))
    },
  );
  debug_assert!(registered.is_ok(), "goto syntax is valid");
  engine
}

/// Whether a script may ask the operator something (`ask`, `choose`,
/// `confirm`, or a function pointer, which could be any of them). One that
/// cannot is glue: sandboxed, it changes nothing, so it runs unasked.
pub fn asks(code: &str) -> bool {
  ["ask", "choose", "confirm", "Fn", "call"].iter().any(|f| {
    code.match_indices(f).any(|(i, _)| {
      let before = code[..i].chars().next_back();
      let after = code[i + f.len()..].trim_start();
      !before.is_some_and(|c| c.is_alphanumeric() || c == '_')
        && (after.starts_with('(') || *f == "Fn")
    })
  })
}

/// The literal start and end of computed targets: `goto("fix-" + cause +
/// "-1")` → (`fix-`, `-1`); the steps such a jump can reach are those whose
/// ids start and end so.
pub fn goto_patterns(code: &str) -> Vec<(&str, &str)> {
  let mut out = Vec::new();
  for (i, _) in code.match_indices("goto") {
    if code[..i]
      .chars()
      .next_back()
      .is_some_and(|c| c.is_alphanumeric() || c == '_')
    {
      continue;
    }
    let Some(rest) = code[i + 4..].trim_start().strip_prefix('(') else {
      continue;
    };
    // The target runs to the line's last `)`, or to a `,` before a reason.
    let line = rest.lines().next().unwrap_or_default();
    let Some(arg) = line.rfind(')').map(|end| first_argument(&line[..end])) else {
      continue;
    };
    let parts: Vec<&str> = arg.split('+').map(str::trim).collect();
    if parts.len() < 2 {
      continue;
    }
    let (start, end) = (literal(parts[0]), literal(parts[parts.len() - 1]));
    if start.is_some() || end.is_some() {
      out.push((start.unwrap_or(""), end.unwrap_or("")));
    }
  }
  out
}

/// The first of comma-separated arguments (commas in strings aside).
fn first_argument(args: &str) -> &str {
  let mut quoted = false;
  for (i, c) in args.char_indices() {
    match c {
      '"' => quoted = !quoted,
      ',' if !quoted => return args[..i].trim(),
      _ => {}
    }
  }
  args.trim()
}

/// The text of a string literal `"…"`, if `part` is one.
fn literal(part: &str) -> Option<&str> {
  part.strip_prefix('"').and_then(|p| p.strip_suffix('"'))
}

/// Literal `goto("id")` targets in a script, with their byte offsets.
pub fn goto_targets(code: &str) -> Vec<(usize, &str)> {
  string_calls(code, "goto")
}

/// Names a script assigns under `root` with `root.NAME = …` or
/// `root["NAME"] = …`, with the offset of `root`.
pub fn assignments<'a>(code: &'a str, root: &str) -> Vec<(usize, &'a str)> {
  let mut out = Vec::new();
  for (i, name, after) in members(code, root) {
    let after = after.trim_start();
    if after.starts_with('=') && !after.starts_with("==") {
      out.push((i, name));
    }
  }
  out
}

/// Literal ids a script reads as `steps["id"]`, with their offsets.
pub fn step_refs(code: &str) -> Vec<(usize, &str)> {
  members(code, "steps")
    .into_iter()
    .filter(|(i, _, _)| code[i + 5..].starts_with('['))
    .map(|(i, name, _)| (i, name))
    .collect()
}

/// `root.NAME` and `root["NAME"]` in `code`: the offset of `root`, the
/// name and the text after it.
fn members<'a>(code: &'a str, root: &str) -> Vec<(usize, &'a str, &'a str)> {
  let mut out = Vec::new();
  for (i, _) in code.match_indices(root) {
    if code[..i]
      .chars()
      .next_back()
      .is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '.')
    {
      continue;
    }
    let rest = &code[i + root.len()..];
    let (name, after) = if let Some(r) = rest.strip_prefix('.') {
      let n = r
        .find(|c: char| !(c.is_alphanumeric() || c == '_'))
        .unwrap_or(r.len());
      (&r[..n], &r[n..])
    } else if let Some(r) = rest.strip_prefix("[\"") {
      match r.find('"') {
        Some(n) => (&r[..n], r[n + 1..].strip_prefix(']').unwrap_or("")),
        None => continue,
      }
    } else {
      continue;
    };
    if !name.is_empty() {
      out.push((i, name, after));
    }
  }
  out
}

/// The questions a script asks (`ask`, `choose`, `confirm`), by their
/// literal text; None when one is built as the script runs, so which
/// questions it asks cannot be known before.
pub fn questions(code: &str) -> Option<Vec<String>> {
  let mut questions = Vec::new();
  for function in ["ask", "choose", "confirm"] {
    let literal = string_calls(code, function);
    if literal.len() != calls(code, function) {
      return None;
    }
    questions.extend(literal.into_iter().map(|(_, q)| q.to_string()));
  }
  Some(questions)
}

/// How often `function(` is called in `code`.
fn calls(code: &str, function: &str) -> usize {
  code
    .match_indices(function)
    .filter(|(i, _)| {
      !code[..*i]
        .chars()
        .next_back()
        .is_some_and(|c| c.is_alphanumeric() || c == '_')
        && code[i + function.len()..].trim_start().starts_with('(')
    })
    .count()
}

fn string_calls<'a>(code: &'a str, function: &str) -> Vec<(usize, &'a str)> {
  let mut out = Vec::new();
  for (i, _) in code.match_indices(function) {
    if code[..i]
      .chars()
      .next_back()
      .is_some_and(|c| c.is_alphanumeric() || c == '_')
    {
      continue;
    }
    let rest = code[i + function.len()..].trim_start();
    let Some(rest) = rest.strip_prefix('(') else {
      continue;
    };
    let rest = rest.trim_start();
    let Some(arg) = rest.strip_prefix('"') else {
      continue;
    };
    // Only a whole literal can be checked; `goto("fix-" + cause)` is
    // resolved when it runs.
    let Some(end) = arg.find('"') else { continue };
    // `goto("id")`, or `goto("id", "reason")`.
    let after = arg[end + 1..].trim_start();
    if after.starts_with(')') || after.starts_with(',') {
      out.push((i, &arg[..end]));
    }
  }
  out
}

#[cfg(test)]
mod tests {
  use super::*;

  #[test]
  fn scripts_that_can_ask_are_told_apart() {
    assert!(!asks(
      "let x = steps[\"a\"].value; if x > 1 { goto(\"b\") }"
    ));
    assert!(!asks("let asked = 1; vars.confirmed = true;"));
    assert!(asks("if confirm(\"go?\") { 1 }"));
    assert!(asks("let c = choose (\"which\", [\"a\"]);"));
    assert!(asks("let f = Fn(\"ask\"); f.call(\"q\")"));
  }

  #[test]
  fn finds_goto_targets_and_vars() {
    let code = "if x { goto(\"fix-image\") } else { goto( \"b\" ) }\nnogoto(\"c\"); goto(\"fix-\" + cause);\nvars.verdict = 1; vars[\"n\"] = 2; if vars.a == 1 {}";
    let targets: Vec<_> = goto_targets(code).into_iter().map(|(_, t)| t).collect();
    assert_eq!(targets, ["fix-image", "b"]);
    assert_eq!(goto_patterns(code), [("fix-", "")]);
    assert_eq!(
      goto_patterns("goto(\"fix-\" + cause + \"-1\", `cause: ${cause}`);"),
      [("fix-", "-1")]
    );
    let with_reason: Vec<_> = goto_targets("goto(\"done\", \"nothing, found\")")
      .into_iter()
      .map(|(_, t)| t)
      .collect();
    assert_eq!(with_reason, ["done"]);
    let vars: Vec<_> = assignments(code, "vars")
      .into_iter()
      .map(|(_, n)| n)
      .collect();
    assert_eq!(vars, ["verdict", "n"]);
    let code = "params.token = 1; params[\"x\"] = 2; if params.y == 3 {} let a = steps[\"errors\"].rows; steps.len()";
    let params: Vec<_> = assignments(code, "params")
      .into_iter()
      .map(|(_, n)| n)
      .collect();
    assert_eq!(params, ["token", "x"]);
    let refs: Vec<_> = step_refs(code).into_iter().map(|(_, n)| n).collect();
    assert_eq!(refs, ["errors"]);
  }
}
