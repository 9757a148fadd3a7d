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
  let prompt = "run this step? [r]un / [s]kip / [q]uit ";
  session.exp_string("[1/5] first").expect("step 1 shown");
  session.exp_string(prompt).expect("asked");
  session.send_line("r").expect("run");
  session.exp_string("first-ran").expect("output shown");
  session.exp_string("[2/5] second").expect("step 2 shown");
  session.exp_string(prompt).expect("asked");
  session.send_line("s").expect("skip");
  session
    .exp_string("reason for skipping (optional) ")
    .expect("reason asked");
  session.send_line("change freeze").expect("reason");
  session
    .exp_string("[ ] Dashboard looks normal")
    .expect("item shown");
  session
    .exp_string("[d]one / [n]ot done / n/a / [q]uit ")
    .expect("asked");
  session.send_line("d").expect("done");
  session.exp_string("note (optional) ").expect("note asked");
  session.send_line("p99 at 180 ms").expect("note");
  session.exp_string("[4/5] third").expect("step 4 shown");
  session.exp_string(prompt).expect("asked");
  session.send_line("q").expect("quit");
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
  let transcript =
    std::fs::read_to_string(crate::find_transcript(test.dir.path()).expect("transcript"))
      .expect("read");
  assert!(!transcript.contains("pty-CANARY-99"));
}
