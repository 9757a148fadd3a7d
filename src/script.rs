//! The rhai sandbox, shared by `check` (syntax) and the walk (execution).
//!
//! rhai has no file, process or network access unless a host registers it;
//! litops registers none, blocks `import` and `eval`, and bounds work.

use rhai::module_resolvers::DummyModuleResolver;
use rhai::{Dynamic, Engine, EvalAltResult, Map, Position};

/// The key of the map a `goto` carries out of a script.
pub const GOTO: &str = "litops_goto";

pub fn sandbox() -> Engine {
  let mut engine = Engine::new();
  engine.set_module_resolver(DummyModuleResolver::new());
  engine.disable_symbol("eval");
  engine.set_max_operations(5_000_000);
  engine.set_max_call_levels(32);
  engine.set_max_expr_depths(64, 32);
  engine.set_max_string_size(1 << 20);
  engine.set_max_array_size(100_000);
  engine.set_max_map_size(100_000);
  // `goto` is reserved in rhai, so it is custom syntax: it ends the script
  // (termination cannot be caught by `try`) and carries the target out.
  let registered =
    engine.register_custom_syntax(["goto", "(", "$expr$", ")"], false, |context, inputs| {
      let target = context.eval_expression_tree(&inputs[0])?;
      let mut jump = Map::new();
      jump.insert(GOTO.into(), Dynamic::from(target.to_string()));
      Err(Box::new(EvalAltResult::ErrorTerminated(
        jump.into(),
        Position::NONE,
      )))
    });
  debug_assert!(registered.is_ok(), "goto syntax is valid");
  engine
}

/// Literal `goto("id")` targets in a script, with their byte offsets.
pub fn goto_targets(code: &str) -> Vec<(usize, &str)> {
  string_calls(code, "goto")
}

/// Names a script assigns with `vars.NAME = …` or `vars["NAME"] = …`.
pub fn assigned_vars(code: &str) -> Vec<&str> {
  let mut out = Vec::new();
  for (i, _) in code.match_indices("vars") {
    if code[..i]
      .chars()
      .next_back()
      .is_some_and(|c| c.is_alphanumeric() || c == '_')
    {
      continue;
    }
    let rest = &code[i + 4..];
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
    let after = after.trim_start();
    if !name.is_empty() && after.starts_with('=') && !after.starts_with("==") {
      out.push(name);
    }
  }
  out
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
    if arg[end + 1..].trim_start().starts_with(')') {
      out.push((i, &arg[..end]));
    }
  }
  out
}

#[cfg(test)]
mod tests {
  use super::*;

  #[test]
  fn finds_goto_targets_and_vars() {
    let code = "if x { goto(\"fix-image\") } else { goto( \"b\" ) }\nnogoto(\"c\"); goto(\"fix-\" + cause);\nvars.verdict = 1; vars[\"n\"] = 2; if vars.a == 1 {}";
    let targets: Vec<_> = goto_targets(code).into_iter().map(|(_, t)| t).collect();
    assert_eq!(targets, ["fix-image", "b"]);
    assert_eq!(assigned_vars(code), ["verdict", "n"]);
  }
}
