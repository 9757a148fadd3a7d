//! `http` probes against a local server on 127.0.0.1.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;

use crate::{Test, records};

/// `/health` answers 200 with JSON, `/down` 503.
pub fn server() -> String {
  let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
  let url = format!("http://{}", listener.local_addr().expect("addr"));
  std::thread::spawn(move || {
    for stream in listener.incoming().flatten() {
      let mut reader = BufReader::new(stream.try_clone().expect("clone"));
      let mut request = String::new();
      let _ = reader.read_line(&mut request);
      let mut line = String::new();
      while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
        line.clear();
      }
      let (status, body) = if request.contains(" /health ") {
        ("200 OK", r#"{"status":"ok","version":"v142"}"#)
      } else {
        ("503 Service Unavailable", "upstream down")
      };
      let mut stream = stream;
      let _ = write!(
        stream,
        "HTTP/1.1 {status}\r\ncontent-type: application/json\r\nserver: probe-test\r\nx-secret-header: hidden\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
      );
    }
  });
  url
}

#[test]
fn probe_passes_and_records_the_response() {
  let url = server();
  let text = format!(
    "```http {{name=health}}\nGET {url}/health\nheaders:\n  accept: application/json\nexpect-status: 200\nmax-latency: 5s\nexpect-body: '\"status\":\"ok\"'\n```\n"
  );
  let ran = Test::new()
    .runbook(&text)
    .args(&["run", "rb.md", "--yes-readonly"])
    .run();
  ran.assert(0);
  let r = records(&ran.transcript());
  // An HTTP probe is not AWS: no identity check, no account in the header.
  assert!(r[0].get("aws").is_none_or(|a| a.is_null()), "{}", r[0]);
  assert!(!ran.stderr.contains("AWS"), "{}", ran.stderr);
  let out = &r[2]["output"];
  assert_eq!(out["http_status"], 200);
  assert_eq!(out["method"], "GET");
  assert_eq!(out["headers"]["server"], "probe-test");
  assert!(
    out["headers"].get("x-secret-header").is_none(),
    "only selected headers are kept"
  );
  assert_eq!(out["body_excerpt"], r#"{"status":"ok","version":"v142"}"#);
  assert!(out["latency_ms"].as_u64().is_some());
  assert_eq!(
    r[1]["decision"]["how"], "--yes-readonly",
    "GET is read-only"
  );
}

#[test]
fn failed_expectations_and_unreachable_hosts() {
  let url = server();
  let cases = [
    (
      format!("GET {url}/down\nexpect-status: 200"),
      "status 503, expected 200",
    ),
    (
      format!("GET {url}/health\nexpect-body: degraded"),
      "body does not contain `degraded`",
    ),
    (
      "GET http://127.0.0.1:9/health".to_string(),
      "cannot connect",
    ),
  ];
  for (body, expected) in cases {
    let text = format!("```http {{name=probe}}\n{body}\n```\n");
    let ran = crate::run_yes(&text);
    ran.assert(1);
    let error = records(&ran.transcript())[2]["error"]
      .as_str()
      .unwrap_or_default()
      .to_string();
    assert!(error.contains(expected), "{body}: {error}");
  }
}

#[test]
fn post_is_a_change() {
  let text = "```http\nPOST http://127.0.0.1:9/deploy\n```\n";
  let ran = Test::new()
    .runbook(text)
    .args(&["plan", "rb.md", "--json"])
    .run();
  ran.assert(0);
  let plan: serde_json::Value = serde_json::from_str(&ran.stdout).expect("json");
  assert_eq!(plan["steps"][0]["mutating"], true);
}
