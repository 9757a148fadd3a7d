//! Shell blocks: run by the named shell in their own process group, with
//! parameters and variables as environment variables. Output is shown live
//! (redacted) and captured; a timeout or Ctrl-C kills the whole group.

use std::io::{BufRead, BufReader, Read};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use serde_json::Value;

use super::action::{Execute, Output, StepRun};
use super::console::{Answer, Console, Event, Wait};
use crate::model::{Language, Shell};
use crate::transcript::Status;

/// More than this per stream is counted but not kept.
const CAPTURE_LIMIT: usize = 16 << 20;
/// How long to keep reading after the shell exits, for output still held by
/// background processes it started.
const DRAIN: Duration = Duration::from_secs(2);

pub struct ShellAction(pub Shell);

impl Execute for ShellAction {
  fn fields(&self) -> &'static [&'static str] {
    &["stdout", "stderr", "exit_code", "pid"]
  }

  fn execute(&self, run: &mut StepRun) -> Output {
    let own = match self.0 {
      Shell::Sh => "sh",
      Shell::Bash => "bash",
      Shell::Zsh => "zsh",
    };
    // Runme's `interpreter`, or the document's `shell`, replaces it.
    let program = run
      .step
      .action()
      .and_then(|a| a.cell.interpreter.clone())
      .unwrap_or_else(|| vec![own.to_string()]);
    let mut command = Command::new(&program[0]);
    command.args(&program[1..]);
    if run.step.action().is_some_and(|a| a.cell.fail_fast) {
      command.arg("-e");
      // dash, Debian's sh, has no pipefail.
      let name = std::path::Path::new(&program[0]).file_name();
      if name.is_some_and(|n| ["bash", "zsh", "ksh"].iter().any(|s| n == *s)) {
        command.args(["-o", "pipefail"]);
      }
    }
    // A Runme cell's exported variables are read back when it exits, by a
    // trap set on its first line (its line numbers stay as written).
    let exports = match run.step.action().is_some_and(|a| a.cell.carries_exports) {
      true => match tempfile::NamedTempFile::new() {
        Ok(file) => Some(file),
        Err(e) => return Output::failed(Status::Failed, format!("cannot read its exports: {e}")),
      },
      false => None,
    };
    let given = run.environment();
    let mut secrets = Vec::new();
    let code = match run.step.action().filter(|a| a.cell.prompts_env) {
      Some(_) => match placeholders(run, &given, &mut secrets) {
        Ok(code) => code,
        Err(output) => return *output,
      },
      None => run.text.to_string(),
    };
    let script = match &exports {
      Some(_) => format!("trap 'env -0 > \"$LITOPS_EXPORTS\"' EXIT; {code}"),
      None => code,
    };
    if let Some(file) = &exports {
      command.env("LITOPS_EXPORTS", file.path());
    }
    command.arg("-c").arg(&script);
    if run.step.action().is_some_and(|a| a.cell.background) {
      return background(run, command, &program[0], &given, secrets);
    }
    let mut output = supervise(run, command, &program[0], &given);
    if let Some(file) = &exports {
      carry(file.path(), &given, run.vars);
    }
    output.secrets = secrets;
    output
  }
}

/// The cell's code with each Runme placeholder (`export NAME=[Enter
/// value]`, `export NAME="default"`) given its value: one it already has
/// in the run or the environment, else what the operator types (unseen for
/// a secret's name), else its default. A placeholder with no default that
/// nobody can be asked about fails the cell: it would run with the prompt's
/// text as the value.
fn placeholders(
  run: &StepRun,
  given: &[(String, String)],
  secrets: &mut Vec<(String, String)>,
) -> Result<String, Box<Output>> {
  let found = crate::runme::placeholders(run.text);
  let mut answers = Vec::new();
  for placeholder in &found {
    let name = &placeholder.name;
    let answer = match (value_of(given, name), &placeholder.default) {
      (Some(value), _) => value,
      (None, default) if run.asks => {
        let mut prompt = format!("\n? {name}");
        if !placeholder.message.is_empty() {
          prompt.push_str(&format!(" ({})", placeholder.message));
        }
        if let Some(default) = default
          .as_ref()
          .filter(|_| !crate::runme::secret_name(name))
        {
          prompt.push_str(&format!(" [{default}]"));
        }
        prompt.push_str(" › ");
        match run.console.ask(&prompt, crate::runme::secret_name(name)) {
          Answer::Line(line) if line.is_empty() => default.clone().unwrap_or_default(),
          Answer::Line(line) => line,
          Answer::Unavailable | Answer::Interrupted => {
            let mut output =
              Output::failed(Status::Failed, format!("no value was typed for `{name}`"));
            output.unanswered = true;
            return Err(Box::new(output));
          }
        }
      }
      (None, Some(default)) => default.clone(),
      // Nobody asked: `export GREETING=hi` runs as written.
      (None, None) if !placeholder.bracketed => continue,
      (None, None) => {
        return Err(Box::new(Output::failed(
          Status::Failed,
          format!(
            "`export {name}=[{}]` asks for a value and nobody can be asked: run at a terminal \
             without --yes, or set {name} in the environment",
            placeholder.message
          ),
        )));
      }
    };
    if crate::runme::secret_name(name) {
      run.console.mask_also(name, &answer);
      secrets.push((name.clone(), answer.clone()));
    }
    answers.push((placeholder, answer));
  }
  Ok(crate::runme::answered(run.text, &answers))
}

/// A background cell, started and not waited for: the walk keeps it and
/// stops it at the end of the run.
#[derive(Debug)]
pub struct Background {
  pgid: Pid,
  exited: mpsc::Receiver<std::io::Result<std::process::ExitStatus>>,
  output: mpsc::Receiver<(&'static str, String)>,
  ended: bool,
}

/// How much of a background cell's output its record keeps: the end.
const BACKGROUND_TAIL: usize = 4096;

impl Background {
  /// Stops it unless it has ended by itself (SIGTERM, then SIGKILL after a
  /// grace period); how it ended, and the end of its stdout and stderr.
  pub fn end(mut self) -> (String, String, String) {
    let ended = match self.exited.try_recv() {
      Ok(Ok(exit)) => format!("had ended by itself: {}", describe(exit)),
      Ok(Err(e)) => format!("lost: {e}"),
      Err(_) => {
        let _ = killpg(self.pgid, Signal::SIGTERM);
        match self.exited.recv_timeout(GRACE) {
          Ok(_) => "stopped at the end of the run (SIGTERM)".to_string(),
          Err(_) => {
            let _ = killpg(self.pgid, Signal::SIGKILL);
            let _ = self.exited.recv_timeout(GRACE);
            format!(
              "killed at the end of the run (SIGKILL: still running {} after SIGTERM)",
              humantime::format_duration(GRACE)
            )
          }
        }
      }
    };
    self.ended = true;
    let mut streams = (String::new(), String::new());
    for _ in 0..2 {
      match self.output.recv_timeout(DRAIN) {
        Ok(("stdout", text)) => streams.0 = tail(&text),
        Ok((_, text)) => streams.1 = tail(&text),
        Err(_) => break,
      }
    }
    (ended, streams.0, streams.1)
  }
}

impl Drop for Background {
  /// A run that ends any other way (an error, a panic) leaves nothing
  /// running either.
  fn drop(&mut self) {
    if !self.ended {
      let _ = killpg(self.pgid, Signal::SIGKILL);
    }
  }
}

/// How long a background cell has to end after SIGTERM.
const GRACE: Duration = Duration::from_secs(3);

/// The last [`BACKGROUND_TAIL`] bytes of `text`, at a character boundary.
fn tail(text: &str) -> String {
  match text.len().checked_sub(BACKGROUND_TAIL) {
    Some(cut) if cut > 0 => format!("…{}", &text[text.ceil_char_boundary(cut)..]),
    _ => text.to_string(),
  }
}

/// Starts a background cell: its output is kept for the record, not shown
/// over the steps that follow.
fn background(
  run: &StepRun,
  command: Command,
  program: &str,
  given: &[(String, String)],
  secrets: Vec<(String, String)>,
) -> Output {
  let Started {
    pgid,
    mut child,
    output,
    ..
  } = match start(run, command, program, given, false) {
    Ok(started) => started,
    Err(output) => return *output,
  };
  let (exit_tx, exited) = mpsc::channel();
  std::thread::spawn(move || {
    let _ = exit_tx.send(child.wait());
  });
  run.console.say(&format!(
    "   started in the background (process group {pgid}); stopped at the end of the run\n"
  ));
  let mut started = Output::new(Status::Done);
  started
    .fields
    .insert("pid".into(), Value::from(pgid.as_raw()));
  started.secrets = secrets;
  started.background = Some(Background {
    pgid,
    exited,
    output,
    ended: false,
  });
  started
}

/// A cell in another language: its code in a file, run by the first of
/// its interpreters that is installed (or the one `interpreter` names).
pub struct ProgramAction(pub Language);

impl Execute for ProgramAction {
  fn fields(&self) -> &'static [&'static str] {
    &["stdout", "stderr", "exit_code"]
  }

  fn execute(&self, run: &mut StepRun) -> Output {
    let language = self.0;
    let program = match run.step.action().and_then(|a| a.cell.interpreter.clone()) {
      Some(program) => program,
      None => {
        let found = language
          .programs()
          .iter()
          .find(|p| installed(p[0]))
          .map(|p| p.iter().map(|w| w.to_string()).collect::<Vec<_>>());
        let Some(program) = found else {
          let names: Vec<String> = language.programs().iter().map(|p| p.join(" ")).collect();
          return Output::failed(
            Status::Failed,
            format!(
              "{} cells run with {}, and none is installed here: install it, or name the \
               program with the cell's `interpreter` attribute",
              language.name(),
              names.join(" or ")
            ),
          );
        };
        program
      }
    };
    let file = tempfile::Builder::new()
      .prefix("litops-cell-")
      .suffix(&format!(".{}", language.extension()))
      .tempfile()
      .and_then(|mut file| {
        std::io::Write::write_all(&mut file, run.text.as_bytes())?;
        Ok(file)
      });
    let file = match file {
      Ok(file) => file,
      Err(e) => {
        return Output::failed(Status::Failed, format!("cannot write the cell's code: {e}"));
      }
    };
    let mut command = Command::new(&program[0]);
    command.args(&program[1..]).arg(file.path());
    let given = run.environment();
    supervise(run, command, &program[0], &given)
  }
}

/// Whether `program` is an executable file on the PATH (or a path to one).
fn installed(program: &str) -> bool {
  use std::os::unix::fs::PermissionsExt;
  let executable = |path: &std::path::Path| {
    path
      .metadata()
      .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
  };
  if program.contains('/') {
    return executable(std::path::Path::new(program));
  }
  std::env::var_os("PATH")
    .is_some_and(|path| std::env::split_paths(&path).any(|dir| executable(&dir.join(program))))
}

/// A started process: its group, its exit (the child moved to a waiting
/// thread), and its captured streams.
struct Started {
  pgid: Pid,
  /// Whether `pgid` names a group of its own (see [`start`]).
  group: bool,
  child: std::process::Child,
  output: mpsc::Receiver<(&'static str, String)>,
}

/// Starts `command` in the step's directory and its own process group, with
/// the parameters and variables in its environment, capturing its output
/// (and showing it as it comes when `live`).
fn start(
  run: &StepRun,
  mut command: Command,
  program: &str,
  given: &[(String, String)],
  live: bool,
) -> Result<Started, Box<Output>> {
  if let Some(dir) = run.step.action().and_then(|a| a.cell.cwd.as_ref()) {
    if !dir.is_dir() {
      return Err(Box::new(Output::failed(
        Status::Failed,
        format!("cannot run in {}: no such directory", dir.display()),
      )));
    }
    command.current_dir(dir);
  }
  // An interactive cell at a terminal reads what the operator types; any
  // other gets no input (a prompt in it would wait for nobody).
  let typed = run.console.interactive
    && !run.console.interrupted()
    && run
      .step
      .action()
      .is_some_and(|a| a.cell.interactive && !a.cell.background);
  command
    .envs(given.iter().cloned())
    .env("LITOPS_STEP", &run.step.id)
    .stdin(if typed {
      Stdio::inherit()
    } else {
      Stdio::null()
    })
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
  // Its own group, so Ctrl-C reaches litops only and a kill reaches every
  // process the step started. An interactive cell stays in litops's group,
  // the terminal's foreground one: only it may read the terminal (another
  // group would be stopped by SIGTTIN), and Ctrl-C reaches it too.
  if !typed {
    command.process_group(0);
  }
  let mut child = match command.spawn() {
    Ok(child) => child,
    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
      return Err(Box::new(Output::failed(
        Status::Failed,
        format!("cannot start `{program}`: it is not installed (not on the PATH)"),
      )));
    }
    Err(e) => {
      return Err(Box::new(Output::failed(
        Status::Failed,
        format!("cannot start `{program}`: {e}"),
      )));
    }
  };
  let pgid = Pid::from_raw(child.id() as i32);
  let (out_tx, output) = mpsc::channel();
  let console = live.then(|| run.console.clone());
  if let Some(stdout) = child.stdout.take() {
    spawn_capture(stdout, "stdout", out_tx.clone(), console.clone(), true);
  }
  if let Some(stderr) = child.stderr.take() {
    spawn_capture(stderr, "stderr", out_tx, console, false);
  }
  Ok(Started {
    pgid,
    group: !typed,
    child,
    output,
  })
}

/// Runs `command` (see [`start`]), showing its output live; kills the
/// whole group on a timeout or Ctrl-C.
fn supervise(
  run: &mut StepRun,
  command: Command,
  program: &str,
  given: &[(String, String)],
) -> Output {
  let Started {
    pgid,
    group,
    mut child,
    output: out_rx,
  } = match start(run, command, program, given, true) {
    Ok(started) => started,
    Err(output) => return *output,
  };
  let exit_tx = run.console.sender();
  std::thread::spawn(move || {
    let _ = exit_tx.send(Event::Exited(child.wait()));
  });

  let deadline = run.timeout.map(|t| Instant::now() + t);
  let (status, error, exit) = match run.console.wait(deadline) {
    Wait::Exited(Ok(exit)) => {
      let (status, error) = if exit.success() {
        (Status::Done, None)
      } else {
        (Status::Failed, Some(describe(exit)))
      };
      (status, error, Some(exit))
    }
    Wait::Exited(Err(e)) => (Status::Failed, Some(format!("lost the child: {e}")), None),
    Wait::TimedOut => {
      kill_all(pgid, group);
      let timeout = run.timeout.unwrap_or_default();
      let exit = reap(run);
      (
        Status::TimedOut,
        Some(format!(
          "timed out after {}: killed",
          humantime::format_duration(timeout)
        )),
        exit,
      )
    }
    Wait::Interrupted => {
      kill_all(pgid, group);
      let exit = reap(run);
      (
        Status::Interrupted,
        Some(format!("{}: killed", crate::cancel::interruption())),
        exit,
      )
    }
  };

  let mut output = Output::new(status);
  output.error = error;
  let drain_until = Instant::now() + DRAIN;
  let mut streams = Vec::new();
  for _ in 0..2 {
    match out_rx.recv_timeout(drain_until.saturating_duration_since(Instant::now())) {
      Ok(captured) => streams.push(captured),
      Err(_) => break,
    }
  }
  for name in ["stdout", "stderr"] {
    let text = streams
      .iter()
      .find(|(n, _)| *n == name)
      .map_or_else(String::new, |(_, t)| t.clone());
    output.fields.insert(name.into(), Value::String(text));
  }
  let code = exit.map(|e| e.code().unwrap_or_else(|| 128 + e.signal().unwrap_or(0)));
  output
    .fields
    .insert("exit_code".into(), code.map_or(Value::Null, Value::from));
  output
}

/// Kills what a step started: its whole group, or an interactive cell's
/// process alone (it shares litops's group).
fn kill_all(pid: Pid, group: bool) {
  let _ = if group {
    killpg(pid, Signal::SIGKILL)
  } else {
    nix::sys::signal::kill(pid, Signal::SIGKILL)
  };
}

/// After a kill, wait for the exit event so no zombie is left behind.
fn reap(run: &StepRun) -> Option<std::process::ExitStatus> {
  match run
    .console
    .wait(Some(Instant::now() + Duration::from_secs(5)))
  {
    Wait::Exited(Ok(exit)) => Some(exit),
    _ => None,
  }
}

fn describe(exit: std::process::ExitStatus) -> String {
  match (exit.code(), exit.signal()) {
    (Some(code), _) => format!("exit status {code}"),
    (None, Some(sig)) => format!("killed by signal {sig}"),
    _ => "failed".into(),
  }
}

/// Shows a stream live, masked across lines (a multi-line secret is held
/// back until it can be masked whole), and captures it for the record.
fn spawn_capture(
  stream: impl Read + Send + 'static,
  name: &'static str,
  tx: mpsc::Sender<(&'static str, String)>,
  console: Option<Arc<Console>>,
  stdout: bool,
) {
  std::thread::spawn(move || {
    let mut reader = BufReader::new(stream);
    let mut mask = console.as_ref().map(|c| c.stream());
    let mut captured = Vec::new();
    let mut line = Vec::new();
    loop {
      line.clear();
      match reader.read_until(b'\n', &mut line) {
        Ok(0) | Err(_) => break,
        Ok(_) => {}
      }
      if let (Some(console), Some(mask)) = (&console, &mut mask) {
        console.show(&mask.push(&String::from_utf8_lossy(&line)), stdout);
      }
      if captured.len() + line.len() <= CAPTURE_LIMIT {
        captured.extend_from_slice(&line);
      }
    }
    if let (Some(console), Some(mask)) = (&console, &mut mask) {
      console.show(&mask.finish(), stdout);
    }
    let _ = tx.send((name, String::from_utf8_lossy(&captured).into_owned()));
  });
}

/// The value `name` has for a cell before it runs: given by the run (the
/// last one wins), else inherited from litops's environment.
fn value_of(given: &[(String, String)], name: &str) -> Option<String> {
  given
    .iter()
    .rev()
    .find(|(n, _)| n == name)
    .map(|(_, v)| v.clone())
    .or_else(|| std::env::var(name).ok())
}

/// Sets in `vars` what a cell exported that it was not given: variables it
/// added or changed, for the cells after it. The shell's own (`PWD`,
/// `SHLVL`, `_`, …) and litops's are left out.
fn carry(
  dump: &std::path::Path,
  given: &[(String, String)],
  vars: &mut serde_json::Map<String, Value>,
) {
  let Ok(bytes) = std::fs::read(dump) else {
    return;
  };
  for entry in bytes.split(|&b| b == 0) {
    let entry = String::from_utf8_lossy(entry);
    let Some((name, value)) = entry.split_once('=') else {
      continue;
    };
    if ["PWD", "OLDPWD", "SHLVL", "_"].contains(&name) || name.starts_with("LITOPS_") {
      continue;
    }
    if value_of(given, name).as_deref() != Some(value) {
      vars.insert(name.to_string(), Value::String(value.to_string()));
    }
  }
}

#[cfg(test)]
mod tests {
  use super::*;

  #[test]
  fn a_background_cell_keeps_the_end_of_its_output_on_a_character() {
    assert_eq!(tail("short\n"), "short\n");
    let long = "é".repeat(BACKGROUND_TAIL);
    let kept = tail(&long);
    assert!(kept.starts_with("…é"));
    assert!(kept.len() <= BACKGROUND_TAIL + "…".len());
    assert!(long.ends_with(kept.trim_start_matches('…')));
  }
}
