//! Documents written for Runme: cells named as Runme names them, so the
//! names a team uses with `runme run NAME` work with `litops run --only`.

use crate::{Test, records};

/// A Runme document (its front matter's `runme:` key marks it): unnamed
/// cells take the first two words of their first command that is not a
/// comment, repeats numbered from 2, every fenced block counted; a written
/// name wins, `:` and all.
const DOCUMENT: &str = "---
runme:
  id: 01HF7B0KJPF469EG9ZWDNKKACQ
  version: v3
---

# Setup

```sh
echo hello
```

```sh
echo hello world
```

```json
{\"echo\": \"hello\"}
```

```sh {\"name\":\"deploy:prod\"}
echo deploying
```

```bash
# greet whoever reads
export GREETING=hi
```

```sh
echo hello again
```
";

#[test]
fn cells_are_named_as_runme_names_them() {
  let ran = Test::new().runbook(DOCUMENT).args(&["plan", "rb.md"]).run();
  ran.assert(0);
  let names: Vec<&str> = ran
    .stdout
    .lines()
    .filter(|l| l.starts_with('['))
    .filter_map(|l| l.split_whitespace().nth(1))
    .collect();
  assert_eq!(
    names,
    // The JSON block is no cell but is named too (`echo-hello-3`).
    [
      "echo-hello",
      "echo-hello-2",
      "deploy:prod",
      "export-greeting",
      "echo-hello-4"
    ],
    "{}",
    ran.stdout
  );
}

#[test]
fn a_cell_runs_by_its_runme_name() {
  let ran = Test::new()
    .runbook(DOCUMENT)
    .args(&["run", "rb.md", "--yes", "--only", "echo-hello-2"])
    .run();
  ran.assert(0);
  assert!(ran.stdout.contains("hello world"), "{}", ran.stdout);
  assert!(!ran.stdout.contains("deploying"), "{}", ran.stdout);
  let ran = Test::new()
    .runbook(DOCUMENT)
    .args(&["run", "rb.md", "--yes", "--only", "deploy:prod"])
    .run();
  ran.assert(0);
  assert!(ran.stdout.contains("deploying"), "{}", ran.stdout);
}

/// Without the `runme:` key, Runme's JSON attributes mark the document;
/// a litops document keeps its heading-based ids.
#[test]
fn json_attributes_mark_a_runme_document_and_litops_ids_stay() {
  let runme = Test::new()
    .runbook("# Setup\n\n```sh {\"background\":\"false\"}\nls -la\n```\n")
    .args(&["plan", "rb.md"])
    .run();
  runme.assert(0);
  assert!(runme.stdout.contains("[1/1] ls-la "), "{}", runme.stdout);
  let litops = Test::new()
    .runbook("# Setup\n\n```sh\nls -la\n```\n")
    .args(&["plan", "rb.md"])
    .run();
  litops.assert(0);
  assert!(
    litops.stdout.contains("[1/1] setup-1 "),
    "{}",
    litops.stdout
  );
}

/// A fenced block with no language is a shell cell in a Runme document,
/// and commands copied with their `$ ` prompt run without it.
#[test]
fn a_block_without_a_language_runs_as_shell_without_its_prompts() {
  let ran = Test::new()
    .runbook(
      "---\nrunme:\n  version: v3\n---\n\n```\n$ echo from-a-prompt\n$ echo \"$((6 * 7))\"\n```\n",
    )
    .args(&["run", "rb.md", "--yes"])
    .run();
  ran.assert(0);
  assert!(ran.stdout.contains("from-a-prompt"), "{}", ran.stdout);
  assert!(ran.stdout.contains("42"), "{}", ran.stdout);
  assert!(ran.stdout.contains("echo-fromaprompt"), "{}", ran.stdout);
  // In a litops document the same block is prose.
  let prose = Test::new()
    .runbook("# Notes\n\n```\n$ echo from-a-prompt\n```\n\n```sh\ntrue\n```\n")
    .args(&["plan", "rb.md"])
    .run();
  assert!(prose.stdout.contains("1 step"), "{}", prose.stdout);
}

/// Runme runs shell cells fail-fast: the first failing command fails the
/// cell, inside a pipeline too where the shell has pipefail. A litops
/// document's shell steps run as the shell runs them.
#[test]
fn shell_cells_stop_at_the_first_failing_command() {
  for (block, hidden) in [
    ("```sh\nfalse\necho after-false\n```\n", "after-false"),
    (
      "```bash\nfalse | true\necho after-pipe\n```\n",
      "after-pipe",
    ),
  ] {
    let runme = Test::new()
      .runbook(&format!("---\nrunme:\n  version: v3\n---\n\n{block}"))
      .args(&["run", "rb.md", "--yes"])
      .run();
    runme.assert(1);
    assert!(!runme.stdout.contains(hidden), "{}", runme.stdout);
    let litops = Test::new()
      .runbook(&format!("# Steps\n\n{block}"))
      .args(&["run", "rb.md", "--yes"])
      .run();
    litops.assert(0);
    assert!(litops.stdout.contains(hidden), "{}", litops.stdout);
  }
}

/// What litops does not follow of Runme is said, naming it; what only
/// Runme's notebook uses is not. A session output is a record, not a
/// runbook: `check` says so and `run` refuses.
#[test]
fn what_is_not_followed_is_named_and_a_session_output_is_refused() {
  let ran = Test::new()
    .runbook("# Setup\n\n```sh {\"interactive\":\"true\",\"terminalRows\":\"20\",\"background\":\"true\",\"id\":\"01HF7B0KJPF469EG9ZWDNKKACQ\"}\necho hi\n```\n")
    .args(&["check", "rb.md"])
    .run();
  ran.assert(0);
  // `background` and `interactive` are followed now; `terminalRows` is not.
  for followed in ["`background`", "`interactive`"] {
    assert!(!ran.stderr.contains(followed), "{}", ran.stderr);
  }
  assert!(
    ran
      .stderr
      .contains("warning: Runme's `terminalRows` is not followed by litops yet"),
    "{}",
    ran.stderr
  );
  assert!(!ran.stderr.contains("`id`"), "{}", ran.stderr);
  let session = "---\nrunme:\n  id: 01HF7B0KJPF469EG9ZWDNKKACQ\n  version: v3\n  session:\n    id: 01HF7BT3HEQBTBM9SSSM7QJ6V9\n    updated: 2024-01-01 10:00:00-05:00\n---\n\n```sh\necho hi\n```\n";
  for command in ["check", "run"] {
    let ran = Test::new()
      .runbook(session)
      .args(&[command, "rb.md", "--yes"][..if command == "run" { 3 } else { 2 }])
      .run();
    assert_ne!(ran.status, 0, "{}", ran.stdout);
    assert!(
      ran.stderr.contains("this is a Runme session output"),
      "{}",
      ran.stderr
    );
    assert!(!ran.stdout.contains("\nhi\n"), "{}", ran.stdout);
  }
}

/// `excludeFromRunAll`: a whole-document run leaves the cell out; named,
/// it runs. The run's transcript still verifies.
#[test]
fn a_cell_excluded_from_run_all_runs_only_when_named() {
  let document = "---\nrunme:\n  version: v3\n---\n\n```sh\necho first-cell\n```\n\n```sh {\"name\":\"cleanup\",\"excludeFromRunAll\":\"true\"}\necho cleanup-ran\n```\n\n```sh\necho last-cell\n```\n";
  let all = Test::new()
    .runbook(document)
    .args(&["run", "rb.md", "--yes"])
    .run();
  all.assert(0);
  assert!(all.stdout.contains("last-cell"), "{}", all.stdout);
  assert!(!all.stdout.contains("cleanup-ran"), "{}", all.stdout);
  let transcript = crate::find_transcript(all.dir.path()).expect("transcript");
  let verified = crate::command(
    all.dir.path(),
    &["verify".to_string(), transcript.display().to_string()],
  )
  .output()
  .expect("verify");
  assert_eq!(verified.status.code(), Some(0));
  let named = Test::new()
    .runbook(document)
    .args(&["run", "rb.md", "--yes", "--only", "cleanup"])
    .run();
  named.assert(0);
  assert!(named.stdout.contains("cleanup-ran"), "{}", named.stdout);
}

/// `cwd` (a cell's, else the front matter's) is where the cell runs,
/// relative to the document; a directory that is not there fails the cell
/// saying so.
#[test]
fn cells_run_in_their_cwd() {
  let cell = Test::new()
    .file("docs/work/marker-in-work", "")
    .file(
      "docs/rb.md",
      "---\nrunme:\n  version: v3\n---\n\n```sh {\"cwd\":\"work\"}\nls\n```\n\n```sh\nls\n```\n",
    )
    .args(&["run", "docs/rb.md", "--yes"])
    .run();
  cell.assert(0);
  assert_eq!(
    cell.stdout.matches("marker-in-work").count(),
    1,
    "{}",
    cell.stdout
  );
  let document = Test::new()
    .file("docs/work/marker-in-work", "")
    .file(
      "docs/rb.md",
      "---\nrunme:\n  version: v3\ncwd: work\n---\n\n```sh\nls\n```\n",
    )
    .args(&["run", "docs/rb.md", "--yes"])
    .run();
  document.assert(0);
  assert!(
    document.stdout.contains("marker-in-work"),
    "{}",
    document.stdout
  );
  let missing = Test::new()
    .runbook("---\nrunme:\n  version: v3\n---\n\n```sh {\"cwd\":\"nowhere\"}\necho ran\n```\n")
    .args(&["run", "rb.md", "--yes"])
    .run();
  missing.assert(1);
  // Where the walk's failures are shown.
  let said = format!("{}{}", missing.stdout, missing.stderr);
  assert!(
    said.contains("cannot run in nowhere: no such directory"),
    "{said}"
  );
}

/// `run --tag T` runs the cells whose `category` or `tag` carries T, as a
/// named selection; a tag no cell has is refused with the tags there are.
#[test]
fn cells_are_picked_by_tag() {
  let document = "---\nrunme:\n  version: v3\n---\n\n```sh {\"category\":\"build\"}\necho compile-step\n```\n\n```sh {\"tag\":\"deploy, build\"}\necho ship-step\n```\n\n```sh\necho other-step\n```\n";
  let build = Test::new()
    .runbook(document)
    .args(&["run", "rb.md", "--yes", "--tag", "build"])
    .run();
  build.assert(0);
  for (text, ran) in [
    ("compile-step", true),
    ("ship-step", true),
    ("other-step", false),
  ] {
    assert_eq!(build.stdout.contains(text), ran, "{text}: {}", build.stdout);
  }
  let unknown = Test::new()
    .runbook(document)
    .args(&["run", "rb.md", "--yes", "--tag", "test"])
    .run();
  assert_ne!(unknown.status, 0);
  assert!(
    unknown
      .stderr
      .contains("`--tag test`: no cell has this tag; the document's tags: build, deploy"),
    "{}",
    unknown.stderr
  );
  assert!(!unknown.stdout.contains("-step"), "{}", unknown.stdout);
}

/// A variable a cell exports is set in the cells after it, and recorded as
/// the run's `vars`; one it only assigns is not. In a litops document each
/// shell step starts afresh.
#[test]
fn exported_variables_reach_later_cells() {
  let cells = "```sh\nexport GREETING=hello-from-one\nLOCAL=kept-inside\n```\n\n```sh\necho \"seen:${GREETING:-unset}/${LOCAL:-unset}\"\n```\n";
  let runme = Test::new()
    .runbook(&format!("---\nrunme:\n  version: v3\n---\n\n{cells}"))
    .args(&["run", "rb.md", "--yes"])
    .run();
  runme.assert(0);
  assert!(
    runme.stdout.contains("seen:hello-from-one/unset"),
    "{}",
    runme.stdout
  );
  let transcript = crate::find_transcript(runme.dir.path()).expect("transcript");
  let records = crate::records(&std::fs::read_to_string(transcript).expect("read"));
  assert!(
    records
      .iter()
      .any(|r| r["vars"]["GREETING"] == "hello-from-one"),
    "{records:?}"
  );
  let litops = Test::new()
    .runbook(&format!("# Steps\n\n{cells}"))
    .args(&["run", "rb.md", "--yes"])
    .run();
  litops.assert(0);
  assert!(
    litops.stdout.contains("seen:unset/unset"),
    "{}",
    litops.stdout
  );
}

/// Diagrams and blocks marked `ignore` or `transform=false` stay Markdown:
/// no cell, no name taken.
#[test]
fn diagrams_and_ignored_blocks_are_not_cells() {
  let ran = Test::new()
    .runbook(
      "---\nrunme:\n  version: v3\n---\n\n```mermaid\ngraph TD; A-->B\n```\n\n\
       ```sh {\"ignore\":\"true\"}\necho hello\n```\n\n\
       ```sh {\"transform\":\"false\"}\necho hello\n```\n\n\
       ```sh {\"ignore\":\"false\"}\necho hello\n```\n",
    )
    .args(&["plan", "rb.md"])
    .run();
  ran.assert(0);
  let steps: Vec<&str> = ran.stdout.lines().filter(|l| l.starts_with('[')).collect();
  assert_eq!(steps.len(), 1, "{}", ran.stdout);
  assert!(steps[0].starts_with("[1/1] echo-hello "), "{}", ran.stdout);
  assert!(ran.stderr.is_empty(), "{}", ran.stderr);
}

/// Python runs through its interpreter, with what earlier cells exported;
/// a language with no interpreter installed fails naming what to install.
#[test]
fn other_languages_run_through_their_interpreter() {
  let document = "---\nrunme:\n  version: v3\n---\n\n\
    ```sh\nexport GREETING=hi\n```\n\n\
    ```python\nimport os\nprint('python says', os.environ['GREETING'])\n```\n\n\
    ```ruby\nputs 'ruby'\n```\n";
  let ran = Test::new()
    .runbook(document)
    .args(&["run", "rb.md", "--yes"])
    .run();
  ran.assert(1);
  assert!(ran.stdout.contains("python says hi"), "{}", ran.stdout);
  let empty = tempfile::tempdir().expect("dir");
  let ran = Test::new()
    .runbook(document)
    .env(vec![("PATH".into(), empty.path().display().to_string())])
    .args(&["run", "rb.md", "--yes", "--only", "puts-ruby"])
    .run();
  ran.assert(1);
  assert!(
    ran.stderr.contains(
      "ruby cells run with ruby, and none is installed here: install it, or name the program \
       with the cell's `interpreter` attribute"
    ),
    "{}",
    ran.stderr
  );
}

/// `interpreter` names the program of one cell, the front matter's `shell`
/// that of every shell cell: bash's pipefail stops a failing pipeline that
/// dash would let through.
#[test]
fn interpreter_and_shell_choose_the_program() {
  let cell = "```sh\nfalse | true\necho after-the-pipe\n```\n";
  let dash = Test::new()
    .runbook(&format!("---\nrunme:\n  version: v3\n---\n\n{cell}"))
    .args(&["run", "rb.md", "--yes"])
    .run();
  dash.assert(0);
  assert!(dash.stdout.contains("after-the-pipe"), "{}", dash.stdout);
  let bash = Test::new()
    .runbook(&format!(
      "---\nrunme:\n  version: v3\nshell: bash\n---\n\n{cell}"
    ))
    .args(&["run", "rb.md", "--yes"])
    .run();
  bash.assert(1);
  assert!(!bash.stdout.contains("after-the-pipe"), "{}", bash.stdout);
  let missing = Test::new()
    .runbook("```sh {\"interpreter\":\"no-such-shell -x\"}\necho hi\n```\n")
    .args(&["run", "rb.md", "--yes"])
    .run();
  missing.assert(1);
  assert!(
    missing
      .stderr
      .contains("cannot start `no-such-shell`: it is not installed (not on the PATH)"),
    "{}",
    missing.stderr
  );
}

/// `--dialect` overrides the guess both ways.
#[test]
fn dialect_overrides_the_guess() {
  let runme =
    "---\nrunme:\n  version: v3\n---\n\n# Setup\n\n```\necho hi\n```\n\n```sh\nls -la\n```\n";
  let names = |args: &[&str], text: &str| {
    let ran = Test::new().runbook(text).args(args).run();
    ran.assert(0);
    ran
      .stdout
      .lines()
      .filter(|l| l.starts_with('['))
      .filter_map(|l| l.split_whitespace().nth(1).map(String::from))
      .collect::<Vec<_>>()
  };
  assert_eq!(names(&["plan", "rb.md"], runme), ["echo-hi", "ls-la"]);
  // As a litops document: the language-less block is prose.
  assert_eq!(
    names(&["plan", "rb.md", "--dialect", "litops"], runme),
    ["setup-1"]
  );
  let plain = "# Setup\n\n```sh\nls -la\n```\n";
  assert_eq!(names(&["plan", "rb.md"], plain), ["setup-1"]);
  assert_eq!(
    names(&["--dialect", "runme", "plan", "rb.md"], plain),
    ["ls-la"]
  );
}

/// `export NAME="default"` takes its default when nobody is asked;
/// `export NAME=[Enter value]` has none, so the cell fails rather than run
/// with the prompt's text, unless NAME is already set. `promptEnv=false`
/// and the front matter's `skipPrompts` run the lines as written.
#[test]
fn placeholders_take_defaults_or_values_already_set_when_nobody_is_asked() {
  let cell = "```sh\nexport REGION=\"eu-west-1\"\nexport NAME=[Enter your name]\necho \"hello $NAME in $REGION\"\n```\n";
  let document = format!("---\nrunme:\n  version: v3\n---\n\n{cell}");
  let ran = Test::new()
    .runbook(&document)
    .args(&["run", "rb.md", "--yes"])
    .run();
  ran.assert(1);
  assert!(
    ran.stderr.contains(
      "`export NAME=[Enter your name]` asks for a value and nobody can be asked: run at a \
       terminal without --yes, or set NAME in the environment"
    ),
    "{}",
    ran.stderr
  );
  assert!(!ran.stdout.contains("hello"), "{}", ran.stdout);
  let ran = Test::new()
    .runbook(&document)
    .env(vec![("NAME".into(), "ann".into())])
    .args(&["run", "rb.md", "--yes"])
    .run();
  ran.assert(0);
  assert!(
    ran.stdout.contains("hello ann in eu-west-1"),
    "{}",
    ran.stdout
  );
  let cell = cell.replace("=[Enter your name]", "=zoe");
  for as_written in [
    format!("---\nrunme:\n  version: v3\nskipPrompts: true\n---\n\n{cell}"),
    format!(
      "---\nrunme:\n  version: v3\n---\n\n{}",
      cell.replace("```sh\n", "```sh {\"promptEnv\":\"false\"}\n")
    ),
  ] {
    let ran = Test::new()
      .runbook(&as_written)
      .env(vec![("NAME".into(), "ann".into())])
      .args(&["run", "rb.md", "--yes"])
      .run();
    ran.assert(0);
    // As written: the value already set is not used.
    assert!(
      ran.stdout.contains("hello zoe in eu-west-1"),
      "{}",
      ran.stdout
    );
  }
}

/// A `background` cell is started and not waited for; the run's end stops
/// it (SIGTERM) and records how it ended with the end of its output, and
/// nothing it started is left running.
#[test]
fn background_cells_are_stopped_at_the_end_and_recorded() {
  let document = "---\nrunme:\n  version: v3\n---\n\n\
    ```sh {\"background\":\"true\",\"name\":\"server\"}\n\
    echo serving; trap 'echo got-term; exit 0' TERM; while true; do sleep 0.1; done\n```\n\n\
    ```sh {\"background\":\"true\",\"name\":\"quick\"}\necho quick-done\n```\n\n\
    ```sh\nsleep 1; echo main-step\n```\n";
  let ran = Test::new()
    .runbook(document)
    .args(&["run", "rb.md", "--yes"])
    .run();
  ran.assert(0);
  assert!(ran.stdout.contains("main-step"), "{}", ran.stdout);
  assert!(
    !ran.stdout.contains("serving"),
    "shown live: {}",
    ran.stdout
  );
  let r = records(&ran.transcript());
  let end = r.last().expect("records");
  assert_eq!(end["type"], "run-finished");
  let background = end["background"].as_array().expect("background ends");
  assert_eq!(background[0]["step"], "server");
  assert_eq!(
    background[0]["ended"],
    "stopped at the end of the run (SIGTERM)"
  );
  assert_eq!(background[0]["stdout"], "serving\ngot-term\n");
  assert_eq!(background[1]["step"], "quick");
  assert_eq!(background[1]["ended"], "had ended by itself: exit status 0");
  let server = r
    .iter()
    .find(|x| x["type"] == "step-finished" && x["step"] == "server")
    .expect("server started");
  let pid = server["output"]["pid"].as_i64().expect("pid");
  assert!(
    !std::path::Path::new(&format!("/proc/{pid}")).exists(),
    "process group {pid} still running"
  );
  crate::verified(ran.dir.path(), &ran.transcript_path());
}

/// In a litops document another language is prose unless the block
/// carries a step's attributes.
#[test]
fn in_a_litops_document_other_languages_run_only_as_named_steps() {
  let ran = Test::new()
    .runbook("# T\n\n```python\nprint(0)\n```\n\n```python {linenos=table}\nprint(1)\n```\n\n```python {name=report}\nprint('from python', 6 * 7)\n```\n")
    .args(&["run", "rb.md", "--yes"])
    .run();
  ran.assert(0);
  assert!(ran.stderr.contains("(1 step)"), "{}", ran.stderr);
  assert!(ran.stdout.contains("from python 42"), "{}", ran.stdout);
}
