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
