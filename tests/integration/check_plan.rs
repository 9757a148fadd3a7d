use crate::Test;

const RUNBOOK: &str = "---
title: Plan me
params:
  cluster:
    default: prod-cluster
  token:
    secret: true
    default: hunter2hunter2
---
# Daily

Check the service.

```ecs {name=svc}
action: describe
cluster: {{ cluster }}
service: {{ token }}
```

```bash {readonly=true}
echo {{ .Values.kept }} $cluster
```

- [ ] Look at the dashboard
";

#[test]
fn plan_prints_substituted_actions_and_masks_secrets() {
  let ran = Test::new().runbook(RUNBOOK).args(&["plan", "rb.md"]).run();
  ran.assert(0);
  assert_eq!(
    ran.stdout,
    "Plan me (runbook) — rb.md, 3 steps
  param cluster = prod-cluster
  param token = [redacted:token]

[1/3] svc  ecs · read-only · rb.md:14
      Daily
      │ action: describe
      │ cluster: prod-cluster
      │ service: [redacted:token]

[2/3] daily-1  bash · read-only · rb.md:20
      Daily
      │ echo {{ .Values.kept }} $cluster

[3/3] daily-2  manual · person · rb.md:24
      Daily
      │ Look at the dashboard
"
  );
  assert!(!ran.stdout.contains("hunter2"));
}

#[test]
fn plan_json_for_machines() {
  let ran = Test::new()
    .runbook(RUNBOOK)
    .args(&["plan", "rb.md", "--json", "--param", "cluster=blue"])
    .run();
  ran.assert(0);
  let plan: serde_json::Value = serde_json::from_str(&ran.stdout).expect("JSON");
  assert_eq!(plan["steps"][0]["id"], "svc");
  assert_eq!(plan["steps"][0]["mutating"], false);
  assert_eq!(plan["steps"][0]["line"], 14);
  assert_eq!(
    plan["steps"][0]["action"],
    "action: describe\ncluster: blue\nservice: [redacted:token]\n"
  );
  assert_eq!(plan["steps"][2]["kind"], "manual");
  assert_eq!(plan["blocks"].as_array().map(Vec::len), Some(2));
  assert!(!ran.stdout.contains("hunter2"));
}

#[test]
fn check_clean_directory_recurses() {
  let ran = Test::new()
    .file("books/a.md", RUNBOOK)
    .file("books/sub/b.md", "```sh\nls\n```\n")
    .file("books/notes.txt", "not a runbook")
    .args(&["check", "books"])
    .run();
  ran.assert(0);
  assert_eq!(
    ran.stdout,
    "checked 2 files, 4 steps: 0 errors, 0 warnings\n"
  );
}

#[test]
fn shipped_runbooks_check_clean() {
  let root = env!("CARGO_MANIFEST_DIR");
  let ran = Test::new()
    .args(&[
      "check",
      &format!("{root}/runbooks"),
      &format!("{root}/playbooks"),
    ])
    .run();
  ran.assert(0);
  assert!(
    ran.stdout.contains(": 0 errors, 0 warnings"),
    "{}{}",
    ran.stdout,
    ran.stderr
  );
}

#[test]
fn check_rejects_what_run_would_reject_at_its_line() {
  let text = "# C\n\n```logs-insights {name=a}\nfields @message\n```\n\n```logs-insights {name=b log-groups=/x}\nlimit: abc\n---\nfields @message\n```\n\n```http {name=c}\nGETT http://127.0.0.1/x\n```\n\n```http {name=d}\nGET http://127.0.0.1/x\nexpect-status: twohundred\n```\n\n```http {name=e}\nGET\n```\n\n```ecs {name=g}\naction: scale\ncluster: c\nservice: s\ndesired: lots\n```\n";
  let ran = Test::new().runbook(text).args(&["check", "rb.md"]).run();
  ran.assert(1);
  assert_eq!(
    ran.stderr,
    "rb.md:4:1: error: no log groups: give `log-groups` in the header or as an attribute
  |
4 | fields @message
  | ^
rb.md:8:1: error: `limit: abc`: expected 1 to 10000
  |
8 | limit: abc
  | ^^^^^
rb.md:14:1: error: `http`: `GETT` is not an HTTP method; use GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS, TRACE
   |
14 | GETT http://127.0.0.1/x
   | ^
rb.md:19:1: error: `http`: `expect-status: twohundred`: expected status codes such as 200 or [200, 204]
   |
19 | expect-status: twohundred
   | ^^^^^^^^^^^^^
rb.md:23:1: error: `http`: the first line must be `METHOD URL`, e.g. `GET https://example.com/health`
   |
23 | GET
   | ^
rb.md:30:1: error: `ecs`: `desired: lots`: expected a count, `+N` or `-N`
   |
30 | desired: lots
   | ^^^^^^^
"
  );
  // Templated values are judged when they run, not now.
  let templated = "---\nparams:\n  host: h\n  code: '200'\n---\n```http\nGET http://{{ host }}/x\nexpect-status: {{ code }}\n```\n";
  Test::new()
    .runbook(templated)
    .args(&["check", "rb.md"])
    .run()
    .assert(0);
}

#[test]
fn near_misses_names_and_checklist_templates_are_checked() {
  let text = "# Checks\n\n```cloudwach {name=alarms}\naction: alarms\n```\n\n```sh\necho a\n```\n\n```sh {name=checks-1}\necho b\n```\n\n```sh {\"name\":\"x\",\"name\":\"y\"}\necho c\n```\n\n```sh {name=\"\"}\necho d\n```\n\n- [ ] told {{ customr }}\n";
  let ran = Test::new().runbook(text).args(&["check", "rb.md"]).run();
  ran.assert(1);
  assert_eq!(
    ran.stderr,
    "rb.md:3:4: error: `cloudwach` is not a kind of action, so this block would be prose and never run; did you mean `cloudwatch`?
  |
3 | ```cloudwach {name=alarms}
  |    ^^^^^^^^^
rb.md:15:7: error: attribute `name` is given twice
   |
15 | ```sh {\"name\":\"x\",\"name\":\"y\"}
   |       ^^^^^^^^^^^^^^^^^^^^^^^
rb.md:19:7: error: bad attribute syntax: `name` has no value
   |
19 | ```sh {name=\"\"}
   |       ^^^^^^^^^
rb.md:23:12: error: `{{ customr }}` names no parameter or variable (this runbook declares none)
   |
23 | - [ ] told {{ customr }}
   |            ^^^^^^^^^^^^^
"
  );
  // A generated id steps aside for a name the author wrote.
  let ran = Test::new()
    .runbook("# Checks\n\n```sh\necho a\n```\n\n```sh {name=checks-1}\necho b\n```\n")
    .args(&["plan", "rb.md", "--json"])
    .run();
  ran.assert(0);
  let plan: serde_json::Value = serde_json::from_str(&ran.stdout).expect("json");
  assert_eq!(plan["steps"][0]["id"], "checks-2");
  assert_eq!(plan["steps"][1]["id"], "checks-1");
}

#[test]
fn a_crlf_runbook_behaves_exactly_like_its_lf_twin() {
  let lf = "---\ntitle: Windows\nparams:\n  env: {default: prod, choices: [prod, dev]}\n---\n# T\n\n```sh {name=a}\necho \"env=$env\"\n```\n\n- [ ] told {{ env }}\n";
  let crlf = lf.replace('\n', "\r\n");
  let plans: Vec<String> = [lf.to_string(), crlf]
    .iter()
    .map(|text| {
      let ran = Test::new().runbook(text).args(&["plan", "rb.md"]).run();
      ran.assert(0);
      ran.stdout
    })
    .collect();
  assert_eq!(plans[0], plans[1]);
  assert!(plans[1].starts_with("Windows (runbook)"), "{}", plans[1]);
  let ran = crate::run_yes(&lf.replace('\n', "\r\n"));
  assert_eq!(
    crate::records(&ran.transcript())[2]["output"]["stdout"],
    "env=prod\n"
  );
  crate::verified(ran.dir.path(), &ran.transcript_path());
}

#[test]
fn front_matter_not_understood_and_deep_nesting_are_errors_at_once() {
  let ran = Test::new()
    .runbook("---\ntitle: x\n\n# T\n\n```sh\ntrue\n```\n")
    .args(&["check", "rb.md"])
    .run();
  ran.assert(1);
  assert!(
    ran.stderr.starts_with(
      "rb.md:1:1: error: the file starts with `---` but its front matter is not closed"
    ),
    "{}",
    ran.stderr
  );
  // 60 KB of `[` is refused by a linear scan, not after libyaml's seconds;
  // the snippet shows the line around the caret only.
  let deep = format!(
    "---\ntitle: {}\n---\n```sh\ntrue\n```\n",
    "[".repeat(60_000)
  );
  let ran = Test::new().runbook(&deep).args(&["check", "rb.md"]).run();
  ran.assert(1);
  assert!(
    ran.stderr.starts_with(
      "rb.md:2:72: error: invalid YAML in front matter: collections nest more than 64 levels deep"
    ),
    "{}",
    ran.stderr
  );
  assert!(ran.stderr.len() < 1000, "{} bytes", ran.stderr.len());
}

#[test]
fn plan_needs_no_values_even_for_choices_and_patterns() {
  let text = "---\nparams:\n  env: {choices: [prod, dev]}\n  ticket: {pattern: 'INC-[0-9]+'}\n---\n```http\nGET https://{{ env }}.example.com/{{ ticket }}\n```\n";
  let ran = Test::new().runbook(text).args(&["plan", "rb.md"]).run();
  ran.assert(0);
  assert!(
    ran
      .stdout
      .contains("│ GET https://{{ env }}.example.com/{{ ticket }}"),
    "{}",
    ran.stdout
  );
  // Every missing parameter at once when running.
  let ran = crate::run_yes(text);
  ran.assert(2);
  assert_eq!(
    ran.stderr,
    "parameter `env` [prod|dev] › parameter `ticket` › error: parameter `env` is required and has no default: pass `--param env=VALUE`\nerror: parameter `ticket` is required and has no default: pass `--param ticket=VALUE`; nothing was run\n"
  );
}

#[test]
fn a_value_that_would_change_a_declarative_body_fails_the_step_before_it_runs() {
  let text = "---\nparams:\n  env: prod\n---\n```http {name=probe}\nGET http://127.0.0.1:9/health\nheaders:\n  x-env: {{ env }}\n```\n";
  for value in ["prod\nexpect-status: 500", "prod # cut", "[a, b]"] {
    let ran = Test::new()
      .runbook(text)
      .args(&["run", "rb.md", "--yes", "--param", &format!("env={value}")])
      .run();
    ran.assert(1);
    let r = crate::records(&ran.transcript());
    assert_eq!(r[1]["type"], "step-finished", "nothing started: {value:?}");
    assert!(
      r[1]["error"]
        .as_str()
        .is_some_and(|e| e.starts_with("`http`: a parameter or variable's value changes its YAML")),
      "{value:?}: {}",
      r[1]
    );
  }
  // An honest value with spaces and quotes runs as written.
  let ran = Test::new()
    .runbook(text)
    .args(&["run", "rb.md", "--yes", "--param", "env=it's prod"])
    .run();
  let r = crate::records(&ran.transcript());
  assert_eq!(r[1]["type"], "step-started");
}

#[test]
fn plan_shows_the_branches_in_text_and_json() {
  let text = "# T\n\n```rhai {name=route}\nlet cause = \"image\";\nif cause == \"none\" { goto(\"done\") }\ngoto(\"fix-\" + cause + \"-1\")\n```\n\n## Fix image\n\n- [ ] Pull it again\n\n```sh {name=fix-image-2}\necho again\n```\n\n## Fix config\n\n```sh {name=fix-config-1}\necho config\n```\n\n```sh {name=done}\necho done\n```\n";
  let ran = Test::new().runbook(text).args(&["plan", "rb.md"]).run();
  ran.assert(0);
  assert!(
    ran
      .stdout
      .contains("      → can jump to `done`, `fix-image-1`, `fix-config-1`\n"),
    "{}",
    ran.stdout
  );
  assert!(
    ran
      .stdout
      .contains("[4/5] fix-config-1  sh · mutating · rb.md:19\n      T › Fix config\n      ← reached by a jump from `route`\n"),
    "{}",
    ran.stdout
  );
  let json = Test::new()
    .runbook(text)
    .args(&["plan", "rb.md", "--json"])
    .run();
  let plan: serde_json::Value = serde_json::from_str(&json.stdout).expect("json");
  assert_eq!(
    plan["steps"][0]["jumps_to"],
    serde_json::json!(["done", "fix-image-1", "fix-config-1"])
  );
  assert_eq!(
    plan["steps"][4]["reached_from"],
    serde_json::json!(["route"])
  );
}
