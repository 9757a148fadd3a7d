//! A real pseudo-terminal walk: the operator answers run, skip, a
//! checklist item with a note, and quit.

use rexpect::session::spawn_command;

use crate::{Test, records};

#[test]
fn operator_walks_a_runbook_in_a_terminal() {
  let text = "# Walk\n\n```sh {name=first}\necho first-ran\n```\n\n```sh {name=second}\ntouch second-ran\n```\n\n- [ ] Dashboard looks normal\n\n```sh {name=third}\ntouch third-ran\n```\n\n```sh {name=fourth}\ntouch fourth-ran\n```\n";
  let test = Test::new().runbook(text).args(&["run", "rb.md"]);
  let mut session = spawn_command(test.command(), Some(20_000)).expect("pty");
  // rexpect reads bytes as Latin-1, so prompts are matched up to the `›`.
  let run = "run this step? [r]un / [s]kip / [q]uit ";
  let dialogue = [
    ("[1/5] first", None),
    (run, Some("r")),
    ("first-ran", None),
    ("[2/5] second", None),
    (run, Some("s")),
    ("reason for skipping (optional) ", Some("change freeze")),
    ("[ ] Dashboard looks normal", None),
    ("[d]one / [n]ot done / n/a / [q]uit ", Some("d")),
    ("note (optional) ", Some("p99 at 180 ms")),
    ("[4/5] third", None),
    (run, Some("q")),
  ];
  for (shown, answer) in dialogue {
    session
      .exp_string(shown)
      .unwrap_or_else(|e| panic!("waiting for {shown:?}: {e}"));
    if let Some(answer) = answer {
      session.send_line(answer).expect("typed");
    }
  }
  session
    .exp_string("run quit: the operator quit (exit 1)")
    .expect("summary");
  session.exp_eof().expect("exits");

  let dir = test.dir.path();
  assert!(!dir.join("second-ran").exists() && !dir.join("third-ran").exists());
  let r = records(
    &std::fs::read_to_string(crate::find_transcript(dir).expect("transcript")).expect("read"),
  );
  assert_eq!(r[1]["decision"]["how"], "typed");
  assert_eq!(r[3]["status"], "skipped");
  assert_eq!(r[3]["decision"]["reason"], "change freeze");
  assert_eq!(r[4]["status"], "done");
  assert_eq!(r[4]["output"]["note"], "p99 at 180 ms");
  assert_eq!(r[5]["result"], "quit");
  assert_eq!(r[5]["stopped_at"], "third");
}

#[test]
fn secret_parameter_is_read_hidden_and_redacted() {
  let text = "---\nparams:\n  token:\n    secret: true\n---\n```sh {name=use}\necho \"token is $token\"\n```\n";
  let test = Test::new().runbook(text).args(&["run", "rb.md", "--yes"]);
  let mut session = spawn_command(test.command(), Some(20_000)).expect("pty");
  session.exp_string("parameter `token` ").expect("asked");
  session.send_line("pty-CANARY-99").expect("typed");
  let before = session.exp_string("run passed").expect("finished");
  session.exp_eof().expect("exits");
  assert!(
    !before.contains("pty-CANARY-99"),
    "secret echoed:\n{before}"
  );
  assert!(before.contains("token is [redacted:token]"), "{before}");
  let path = crate::find_transcript(test.dir.path()).expect("transcript");
  let transcript = std::fs::read_to_string(&path).expect("read");
  assert!(!transcript.contains("pty-CANARY-99"));
  // Nor beside it, nor in the HTML report.
  let rendered = crate::command(
    test.dir.path(),
    &[
      "render".into(),
      path.display().to_string(),
      "--html".into(),
      "report.html".into(),
    ],
  )
  .output()
  .expect("render");
  assert_eq!(rendered.status.code(), Some(0));
  let mut files = vec![test.dir.path().join("report.html")];
  files.extend(
    std::fs::read_dir(crate::sidecar_dir(&path))
      .expect("sidecar dir")
      .filter_map(|e| e.ok().map(|e| e.path())),
  );
  for file in files {
    let text = std::fs::read_to_string(&file).expect("read");
    assert!(
      !text.contains("pty-CANARY-99"),
      "secret in {}",
      file.display()
    );
  }
}

#[test]
fn keys_typed_while_a_step_runs_never_answer_the_next_prompt() {
  // The first step waits for the test's `go` file, so the stray keys are
  // typed while it runs, whatever the machine's speed.
  let text = "```sh {name=slow}\necho slow-started\nwhile [ ! -e go ]; do sleep 0.05; done\necho slow-done\n```\n\n```sh {name=change}\ntouch changed\n```\n";
  let test = Test::new().runbook(text).args(&["run", "rb.md"]);
  let mut session = spawn_command(test.command(), Some(20_000)).expect("pty");
  let run = "run this step? [r]un / [s]kip / [q]uit ";
  session.exp_string(run).expect("first prompt");
  session.send_line("r").expect("typed");
  session.exp_string("slow-started").expect("running");
  session.send_line("r").expect("a stray key during the step");
  std::fs::write(test.dir.path().join("go"), "").expect("go");
  session.exp_string("slow-done").expect("finished");
  session.exp_string("[2/2] change").expect("next step shown");
  session.exp_string(run).expect("asked, not answered");
  session.send_line("q").expect("typed");
  session
    .exp_string("run quit: the operator quit (exit 1)")
    .expect("summary");
  session.exp_eof().expect("exits");
  assert!(!test.dir.path().join("changed").exists());
  let path = crate::find_transcript(test.dir.path()).expect("transcript");
  let r = records(&std::fs::read_to_string(path).expect("read"));
  assert_eq!(r.last().expect("end")["stopped_at"], "change");
}

#[test]
fn a_refused_parameter_is_asked_again_and_ctrl_d_quits() {
  let text = "---\nparams:\n  env: {choices: [prod, dev]}\n  region:\n---\n```sh {name=use}\necho \"env=$env\"\n```\n";
  let test = Test::new().runbook(text).args(&["run", "rb.md", "--yes"]);
  let mut session = spawn_command(test.command(), Some(20_000)).expect("pty");
  session
    .exp_string("parameter `env` [prod|dev] ")
    .expect("asked");
  session.send_line("qa").expect("typed");
  session
    .exp_string("parameter `env`: `qa` must be one of: prod, dev; try again")
    .expect("refused");
  session
    .exp_string("parameter `env` [prod|dev] ")
    .expect("asked again");
  session.send_line("dev").expect("typed");
  session.exp_string("parameter `region` ").expect("asked");
  session.send_control('d').expect("Ctrl-D");
  session
    .exp_string("error: quit at the prompt for parameter `region` (Ctrl-D); nothing was run")
    .expect("says it quit");
  session.exp_eof().expect("exits");
  assert!(crate::find_transcript(test.dir.path()).is_none());
}

#[test]
fn glue_scripts_run_unasked_announce_their_value_and_jump_and_prose_is_their_own() {
  let text = "# Triage\n\nLook at the service first.\n\n```sh {name=look}\necho looked\n```\n\n```rhai {name=route}\nlet cause = \"image\";\ngoto(\"fix-\" + cause, `the ${cause} cannot be pulled`)\n```\n\n```sh {name=other}\ntouch other\n```\n\nPull the image again.\n\n```sh {name=fix-image}\necho fixed\n```\n";
  let test = Test::new().runbook(text).args(&["run", "rb.md"]);
  let mut session = spawn_command(test.command(), Some(20_000)).expect("pty");
  let run = "run this step? [r]un / [s]kip / [q]uit ";
  session
    .exp_string("Look at the service first.")
    .expect("its prose");
  session.exp_string(run).expect("asked");
  session.send_line("r").expect("typed");
  session
    .exp_string("[2/4] route")
    .expect("the script is shown");
  // No prompt for it: the next thing is its jump, then the target step.
  let between = session
    .exp_string(" goto `fix-image`")
    .expect("jump announced");
  assert!(!between.contains("run this step?"), "{between}");
  let shown = session.exp_string("[4/4] fix-image").expect("target shown");
  assert!(!shown.contains("Look at the service"), "{shown}");
  session
    .exp_string("Pull the image again.")
    .expect("its own prose");
  session.exp_string(run).expect("asked");
  session.send_line("r").expect("typed");
  session.exp_string("run passed").expect("summary");
  session.exp_eof().expect("exits");
  let path = crate::find_transcript(test.dir.path()).expect("transcript");
  let r = records(&std::fs::read_to_string(path).expect("read"));
  let route = r
    .iter()
    .find(|x| x["type"] == "step-started" && x["step"] == "route")
    .expect("route started");
  assert_eq!(route["decision"]["how"], "auto: sandboxed script");
  assert!(!test.dir.path().join("other").exists());
}

#[test]
fn a_failed_step_can_be_retried_skipped_or_continued_in_place() {
  let text = "# F\n\n```sh {name=flaky}\nif [ -e tried ]; then echo ok; else touch tried; exit 1; fi\n```\n\n```sh {name=broken}\nexit 3\n```\n\n```sh {name=also-broken}\nexit 4\n```\n\n```sh {name=last}\necho last-ran\n```\n";
  let test = Test::new().runbook(text).args(&["run", "rb.md"]);
  let mut session = spawn_command(test.command(), Some(20_000)).expect("pty");
  let run = "run this step? [r]un / [s]kip / [q]uit ";
  let failed = "step failed: [r]etry / [c]ontinue / [s]kip / [q]uit ";
  let dialogue = [
    (run, "r"),
    (failed, "r"),
    // The retry runs without asking again.
    ("[2/4] broken", ""),
    (run, "r"),
    (failed, "s"),
    ("[3/4] also-broken", ""),
    (run, "r"),
    (failed, "c"),
    (run, "r"),
  ];
  for (shown, answer) in dialogue {
    session
      .exp_string(shown)
      .unwrap_or_else(|e| panic!("waiting for {shown:?}: {e}"));
    if !answer.is_empty() {
      session.send_line(answer).expect("typed");
    }
  }
  session.exp_string("last-ran").expect("the walk went on");
  session
    .exp_string("run failed (exit 1)")
    .expect("the continued failure still counts");
  session.exp_eof().expect("exits");
  let path = crate::find_transcript(test.dir.path()).expect("transcript");
  let r = records(&std::fs::read_to_string(path).expect("read"));
  let answers: Vec<(String, String)> = r
    .iter()
    .filter(|x| x["type"] == "after-failure")
    .map(|x| {
      (
        x["step"].as_str().unwrap_or_default().to_string(),
        x["decision"]["answer"]
          .as_str()
          .unwrap_or_default()
          .to_string(),
      )
    })
    .collect();
  assert_eq!(
    answers,
    [
      ("flaky".to_string(), "retry".to_string()),
      ("broken".into(), "skip".into()),
      ("also-broken".into(), "continue".into()),
    ]
  );
  let flaky: Vec<&str> = r
    .iter()
    .filter(|x| x["type"] == "step-finished" && x["step"] == "flaky")
    .filter_map(|x| x["status"].as_str())
    .collect();
  assert_eq!(flaky, ["failed", "done"]);
  crate::verified(
    test.dir.path(),
    &crate::find_transcript(test.dir.path()).expect("t"),
  );
}

#[test]
fn ctrl_d_at_a_step_prompt_quits_and_says_so() {
  let test = Test::new()
    .runbook("```sh {name=change}\ntouch changed\n```\n")
    .args(&["run", "rb.md"]);
  let mut session = spawn_command(test.command(), Some(20_000)).expect("pty");
  session
    .exp_string("run this step? [r]un / [s]kip / [q]uit ")
    .expect("asked");
  session.send_control('d').expect("Ctrl-D");
  session
    .exp_string("run quit: the operator quit (Ctrl-D) (exit 1)")
    .expect("says it quit");
  session.exp_eof().expect("exits");
  assert!(!test.dir.path().join("changed").exists());
}

#[test]
fn colour_in_a_terminal_unless_no_color_or_never_and_forced_by_always() {
  let text = "```sh {name=a readonly=true}\necho a\n```\n\n```sh {name=b}\nexit 1\n```\n";
  let walk = |args: &[&str], mut env: Vec<(String, String)>| {
    // A terminal says what it is, as a real one does.
    env.push(("TERM".into(), "xterm-256color".into()));
    let mut all = vec!["run", "rb.md", "--yes"];
    all.extend_from_slice(args);
    let test = Test::new().runbook(text).env(env).args(&all);
    let mut session = spawn_command(test.command(), Some(20_000)).expect("pty");
    let screen = session.exp_eof().expect("exits");
    screen.contains("\u{1b}[")
  };
  assert!(walk(&[], Vec::new()), "a terminal gets colour");
  assert!(
    !walk(&[], vec![("NO_COLOR".into(), "1".into())]),
    "NO_COLOR"
  );
  assert!(!walk(&["--color", "never"], Vec::new()), "--color never");
  // Without a terminal: plain, unless forced.
  let plain = crate::run_yes(text);
  assert!(!plain.stderr.contains('\u{1b}'), "{}", plain.stderr);
  let forced = Test::new()
    .runbook(text)
    .args(&["run", "rb.md", "--yes", "--color", "always"])
    .run();
  assert!(
    forced.stderr.contains("\u{1b}[1m━━ [1/2] a"),
    "{}",
    forced.stderr
  );
  assert!(
    forced.stderr.contains("\u{1b}[32mread-only"),
    "{}",
    forced.stderr
  );
}

/// `litops ARGS` in `dir` in a pseudo-terminal `columns` wide (its size set
/// inside it, as a resized window would be), with a clean environment.
fn sized(
  dir: &std::path::Path,
  columns: u16,
  env: Vec<(String, String)>,
  args: &str,
) -> std::process::Command {
  let mut sh = std::process::Command::new("sh");
  sh.arg("-c")
    .arg(format!("stty cols {columns} rows 60; exec \"$0\" {args}"))
    .arg(crate::BIN)
    .current_dir(dir)
    .env_clear()
    .env("PATH", std::env::var_os("PATH").unwrap_or_default())
    .env("HOME", dir)
    .env("TERM", "xterm-256color")
    .envs(env);
  sh
}

/// The screen of a walk of `text` in a pseudo-terminal `columns` wide,
/// answering every prompt with `answers` in turn, as UTF-8.
fn screen(text: &str, columns: u16, env: Vec<(String, String)>, answers: &[&str]) -> String {
  let test = Test::new().runbook(text);
  let sh = sized(test.dir.path(), columns, env, "run rb.md");
  let mut session = spawn_command(sh, Some(20_000)).expect("pty");
  let mut seen = String::new();
  for answer in answers {
    // `› ` as rexpect reads its UTF-8 bytes, one char a byte.
    let prompt = "[q]uit \u{e2}\u{80}\u{ba} ";
    seen.push_str(&session.exp_string(prompt).expect("a prompt"));
    // What a terminal echoes (this pseudo-terminal does not).
    seen.push_str(&format!("{prompt}{answer}\n"));
    session.send_line(answer).expect("typed");
  }
  seen.push_str(&session.exp_eof().expect("exits"));
  // rexpect reads bytes as Latin-1: back to bytes, then UTF-8.
  let bytes: Vec<u8> = seen.chars().map(|c| c as u32 as u8).collect();
  String::from_utf8_lossy(&bytes).into_owned()
}

#[test]
fn screens_fit_80_and_160_columns_and_long_actions_fold() {
  use crate::scripted::{Reply, Scripted};
  let long = "ERROR payment declined for order 7f3a9c1d-4b2e-4f8a-9c3d-2e1f0a9b8c7d: upstream gateway answered 502 after 3 retries";
  let rows: Vec<String> = (0..3)
    .map(|i| format!(r#"[{{"field":"@timestamp","value":"2026-11-23 09:0{i}:00.000"}},{{"field":"@message","value":"{long} {i}"}}]"#))
    .collect();
  let results = format!(
    r#"{{"status":"Complete","results":[{}],"statistics":{{"recordsMatched":3.0,"recordsScanned":9.0,"bytesScanned":99.0}}}}"#,
    rows.join(",")
  );
  let server = Scripted::start(move |op, _| match op {
    "StartQuery" => Reply::ok(r#"{"queryId":"q-1"}"#),
    _ => Reply::ok(&results),
  });
  let script: String = (0..30).map(|i| format!("let v{i} = {i};\n")).collect();
  let text = format!(
    "# Errors\n\n{prose}\n\n```logs-insights {{name=errors log-groups=/ecs/acme-api}}\nfields @timestamp, @message\n```\n\n```rhai {{name=long confirm=always}}\n{script}v29\n```\n",
    prose = "A paragraph long enough to need wrapping on any terminal, because responders read it at 3 a.m. on a laptop with a narrow window and a second one for the console. ".repeat(2),
  );
  for columns in [80usize, 160] {
    let shown = screen(&text, columns as u16, server.env(), &["r", "v", "r"]);
    let plain = console::strip_ansi_codes(&shown);
    // A carriage return starts the line again (spinners redraw so).
    for line in plain.split(['\r', '\n']) {
      assert!(
        console::measure_text_width(line) <= columns,
        "{columns} columns: {} wide: {line}",
        console::measure_text_width(line)
      );
    }
    assert!(plain.contains("… 21 more lines ([v]iew)"), "{plain}");
    assert!(
      plain.contains("│ let v29 = 29;"),
      "v shows it whole: {plain}"
    );
    assert!(plain.contains('…'), "cells cut: {plain}");
  }
  // The transcript keeps every value whole.
  let ran = Test::new()
    .runbook(&text)
    .env(server.env())
    .args(&["run", "rb.md", "--yes"])
    .run();
  assert!(ran.transcript().contains(long));
}

#[test]
fn a_required_item_answered_not_done_needs_an_explicit_override() {
  let text = "# Patch\n\n- [ ] Backups verified {name=backups required}\n\n```sh {name=patch}\ntouch patched\n```\n";
  let test = Test::new().runbook(text).args(&["run", "rb.md"]);
  let mut session = spawn_command(test.command(), Some(20_000)).expect("pty");
  session
    .exp_string("[d]one / [n]ot done / n/a / [q]uit ")
    .expect("asked");
  session.send_line("n").expect("typed");
  session.exp_string("note (optional) ").expect("note");
  session.send_line("snapshot failed").expect("typed");
  session
    .exp_string("run this change anyway? [o]verride / [s]kip / [q]uit ")
    .expect("held back");
  session.send_line("o").expect("typed");
  session.exp_string("run incomplete").expect("summary");
  session.exp_eof().expect("exits");
  assert!(test.dir.path().join("patched").exists());
  let path = crate::find_transcript(test.dir.path()).expect("transcript");
  let r = records(&std::fs::read_to_string(path).expect("read"));
  let started = r
    .iter()
    .find(|x| x["type"] == "step-started" && x["step"] == "patch")
    .expect("patch started");
  assert_eq!(
    started["decision"]["reason"],
    "overrides: required checklist item `backups` was not done"
  );
}

#[test]
fn a_running_shell_step_shows_it_is_alive_under_its_output() {
  let text = "```sh {name=slow timeout=30s}\necho started\nwhile [ ! -e go ]; do sleep 0.05; done\necho finished\n```\n";
  let test = Test::new().runbook(text);
  let command = sized(test.dir.path(), 100, Vec::new(), "run rb.md --yes");
  let mut session = spawn_command(command, Some(20_000)).expect("pty");
  session.exp_string("started").expect("output streams");
  session
    .exp_string("timeout 30s")
    .expect("a spinner with the step's timeout");
  std::fs::write(test.dir.path().join("go"), "").expect("go");
  session.exp_string("finished").expect("more output");
  session.exp_string("run passed").expect("summary");
  session.exp_eof().expect("exits");
}

/// A Runme placeholder is asked for at a terminal: unseen and masked when
/// its name says it is a secret, the default offered otherwise.
#[test]
fn runme_placeholders_are_asked_and_a_secret_one_is_masked() {
  let text = "---\nrunme:\n  version: v3\n---\n\n```sh\nexport REGION=\"eu-west-1\"\nexport API_TOKEN=[Enter the token]\necho \"using $API_TOKEN in $REGION\"\n```\n";
  let test = Test::new().runbook(text).args(&["run", "rb.md"]);
  let mut session = spawn_command(test.command(), Some(20_000)).expect("pty");
  session.exp_string("run this step?").expect("asked to run");
  session.send_line("r").expect("typed");
  session
    .exp_string("? REGION [eu-west-1] ")
    .expect("region asked");
  session.send_line("").expect("default taken");
  session
    .exp_string("? API_TOKEN (Enter the token) ")
    .expect("token asked");
  session.send_line("pty-PLACEHOLDER-77").expect("typed");
  let before = session.exp_string("run passed").expect("finished");
  session.exp_eof().expect("exits");
  assert!(!before.contains("pty-PLACEHOLDER-77"), "echoed:\n{before}");
  assert!(
    before.contains("using [redacted:API_TOKEN] in eu-west-1"),
    "{before}"
  );
  let path = crate::find_transcript(test.dir.path()).expect("transcript");
  let transcript = std::fs::read_to_string(&path).expect("read");
  assert!(!transcript.contains("pty-PLACEHOLDER-77"), "{transcript}");
}

/// An `interactive` Runme cell reads what the operator types at the
/// terminal; without the attribute a cell's input is closed.
#[test]
fn an_interactive_runme_cell_reads_the_terminal() {
  let text = "---\nrunme:\n  version: v3\n---\n\n```sh {\"interactive\":\"true\"}\nprintf 'colour? '; read -r colour; echo \"got $colour\"\n```\n\n```sh\nread -r x || echo no-input\n```\n";
  let test = Test::new().runbook(text).args(&["run", "rb.md", "--yes"]);
  let mut session = spawn_command(test.command(), Some(20_000)).expect("pty");
  session.exp_string("colour? ").expect("the cell asks");
  session.send_line("blue").expect("typed");
  session.exp_string("got blue").expect("the cell read it");
  session
    .exp_string("no-input")
    .expect("the other cell's input is closed");
  session.exp_string("run passed").expect("finished");
  session.exp_eof().expect("exits");
}
