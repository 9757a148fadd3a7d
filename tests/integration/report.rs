//! `litops render --html`: one self-contained file, checked in a real
//! headless Chromium (installed by scripts/test), with no secret in it.

use std::path::Path;
use std::process::Command;

use crate::Test;

const RUNBOOK: &str = "---
title: Report me
params:
  token:
    secret: true
    default: canary-S3CRET-42
---
# Report

```sh {name=greet}
echo \"hello <b>world</b> token=$token\"
```

```sh {name=broken on-failure=continue}
seq 1 300
echo \"leaked: $token\"
exit 3
```

- [ ] Dashboard looks normal
";

/// The DOM after Chromium loaded the file, with the network off.
fn dump_dom(file: &Path) -> String {
  let chromium = Path::new("/usr/bin/chromium");
  assert!(
    chromium.exists(),
    "Chromium is not installed: run scripts/test, which installs Debian's chromium"
  );
  let profile = tempfile::tempdir().expect("profile dir");
  let out = Command::new(chromium)
    .args([
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      &format!("--user-data-dir={}", profile.path().display()),
      "--dump-dom",
      &format!("file://{}", file.display()),
    ])
    .output()
    .expect("run chromium");
  assert!(
    out.status.success(),
    "{}",
    String::from_utf8_lossy(&out.stderr)
  );
  String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `litops render t.md --html OUT` in `dir`, which must succeed; the HTML.
fn render(dir: &Path, out: &str) -> String {
  let rendered = crate::command(
    dir,
    &["render".into(), "t.md".into(), "--html".into(), out.into()],
  )
  .output()
  .expect("render");
  assert_eq!(rendered.status.code(), Some(0));
  std::fs::read_to_string(dir.join(out)).expect("report")
}

#[test]
fn html_report_renders_offline_without_secrets() {
  let ran = Test::new()
    .runbook(RUNBOOK)
    .args(&["run", "rb.md", "--yes", "--transcript", "t.md"])
    .run();
  ran.assert(1);
  let dir = ran.dir.path();
  let html = render(dir, "report.html");
  assert!(!html.contains("canary-S3CRET-42"), "secret in the report");
  // The long output went to a sidecar, redacted too.
  let sidecars: Vec<_> = std::fs::read_dir(dir.join("t.d"))
    .expect("sidecars")
    .filter_map(|e| e.ok().map(|e| e.path()))
    .collect();
  assert!(
    sidecars
      .iter()
      .any(|p| p.to_string_lossy().contains("broken.stdout"))
  );
  for file in sidecars {
    let text = std::fs::read_to_string(&file).expect("read");
    assert!(
      !text.contains("canary-S3CRET-42"),
      "secret in {}",
      file.display()
    );
  }
  for (name, text) in [("stdout", &ran.stdout), ("stderr", &ran.stderr)] {
    assert!(!text.contains("canary-S3CRET-42"), "secret on {name}");
  }
  // Self-contained: nothing fetched from anywhere.
  for external in ["src=", "<link", "@import", "url("] {
    assert!(!html.contains(external), "{external} in the report");
  }
  let dom = dump_dom(&dir.join("report.html"));
  assert!(
    dom.contains("<title>Report me — litops run</title>"),
    "{dom}"
  );
  assert!(
    dom.contains("id=\"verification\" class=\"verified-ok\""),
    "{dom}"
  );
  // Three steps on the timeline, with their status classes.
  assert_eq!(dom.matches("<li class=\"st-").count(), 3, "{dom}");
  assert!(dom.contains("<li class=\"st-failed\">"), "{dom}");
  assert!(dom.contains("<li class=\"st-unconfirmed\">"), "{dom}");
  // Output is text, never markup: the step's <b> arrives escaped.
  assert!(
    dom.contains("hello &lt;b&gt;world&lt;/b&gt; token=[redacted:token]"),
    "{dom}"
  );
  assert!(!dom.contains("<b>world</b>"), "{dom}");
}

#[test]
fn report_shows_rows_once_and_the_verdict_in_its_header() {
  use crate::scripted::{Reply, Scripted};
  let server = Scripted::start(|op, _| match op {
    "StartQuery" => Reply::ok(r#"{"queryId":"q-1"}"#),
    _ => Reply::ok(
      r#"{"status":"Complete","results":[[{"field":"@message","value":"ERROR one-of-a-kind-row"}]],"statistics":{"recordsMatched":1.0,"recordsScanned":9.0,"bytesScanned":99.0}}"#,
    ),
  });
  let text = "```logs-insights {name=errors log-groups=/ecs/api}\nfields @message\n```\n\n```rhai {name=verdict}\n`attention: ${steps[\"errors\"].rows.len()} error(s)`\n```\n";
  let ran = Test::new()
    .runbook(text)
    .env(server.env())
    .args(&["run", "rb.md", "--yes", "--transcript", "t.md"])
    .run();
  ran.assert(0);
  let html = render(ran.dir.path(), "r.html");
  assert_eq!(html.matches("one-of-a-kind-row").count(), 1, "{html}");
  assert!(
    html.contains("<dt>verdict</dt><dd>attention: 1 error(s)</dd>"),
    "{html}"
  );
}
