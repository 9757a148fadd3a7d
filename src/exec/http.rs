//! `http`: a synthetic probe of an endpoint, as a canary would make.
//!
//! ````markdown
//! ```http {name=health}
//! GET https://{{ customer }}.example.com/health
//! headers:
//!   accept: application/json
//! expect-status: 200
//! max-latency: 500ms
//! expect-body: '"status":"ok"'
//! ```
//! ````

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::action::{Execute, Output, StepRun};
use super::body::Body;
use crate::model::ActionKind;
use crate::transcript::Status;

/// Response headers worth keeping: they say what answered and how.
const KEPT_HEADERS: &[&str] = &[
  "content-type",
  "content-length",
  "server",
  "cache-control",
  "location",
  "x-request-id",
  "x-amzn-requestid",
  "x-amz-cf-id",
  "retry-after",
];
const EXCERPT: usize = 512;

pub struct Http;

impl Execute for Http {
  fn execute(&self, run: &mut StepRun) -> Output {
    match probe(run) {
      Ok(output) => output,
      Err(error) => Output::failed(Status::Failed, error),
    }
  }
}

fn probe(run: &StepRun) -> Result<Output, String> {
  let (method, url, rest) = ActionKind::http_request_line(run.text);
  if url.is_empty() {
    return Err(
      "`http`: the first line must be `METHOD URL`, e.g. `GET https://example.com/health`".into(),
    );
  }
  let body = if rest.trim().is_empty() {
    None
  } else {
    Some(Body::parse(ActionKind::Http, rest)?)
  };
  let field = |name: &str| body.as_ref().and_then(|b| b.text(name));
  let expected: Vec<u16> = match body.as_ref() {
    Some(b) => b
      .list("expect-status")
      .iter()
      .filter_map(|s| s.parse().ok())
      .collect(),
    None => Vec::new(),
  };
  let max_latency = match field("max-latency") {
    Some(text) => Some(
      humantime::parse_duration(&text)
        .map_err(|_| format!("`http`: `max-latency: {text}`: expected a duration such as 500ms"))?,
    ),
    None => None,
  };
  let method = reqwest::Method::from_bytes(method.as_bytes())
    .map_err(|_| format!("`http`: `{method}` is not an HTTP method"))?;
  let runtime = tokio::runtime::Builder::new_current_thread()
    .enable_all()
    .build()
    .map_err(|e| format!("cannot start the HTTP runtime: {e}"))?;
  let client = reqwest::Client::builder()
    .timeout(run.timeout.unwrap_or(Duration::from_secs(30)))
    .redirect(reqwest::redirect::Policy::none())
    .build()
    .map_err(|e| format!("cannot build the HTTP client: {e}"))?;
  let mut request = client.request(method.clone(), url);
  if let Some(Value::Object(headers)) = body.as_ref().map(|b| b.json("headers")) {
    for (name, value) in headers {
      request = request.header(
        name,
        value
          .as_str()
          .map_or_else(|| value.to_string(), str::to_string),
      );
    }
  }
  if let Some(payload) = field("body") {
    request = request.body(payload);
  }
  let started = Instant::now();
  let exchange = async {
    let response = request.send().await?;
    let latency = started.elapsed();
    let status = response.status().as_u16();
    let headers: serde_json::Map<String, Value> = response
      .headers()
      .iter()
      .filter(|(name, _)| KEPT_HEADERS.contains(&name.as_str()))
      .map(|(name, value)| {
        (
          name.to_string(),
          Value::String(value.to_str().unwrap_or("").to_string()),
        )
      })
      .collect();
    let text = response.text().await?;
    Ok::<_, reqwest::Error>((status, latency, headers, text))
  };
  // The client's own timeout bounds the exchange; Ctrl-C can cut it short.
  let Ok(answer) = crate::cancel::run(&runtime, &run.console.interrupt_flag(), None, exchange)
  else {
    return Ok(Output::failed(
      Status::Interrupted,
      crate::cancel::interruption(),
    ));
  };
  let (status, latency, headers, text) = answer.map_err(|e| describe(url, &e))?;
  let excerpt: String = text.chars().take(EXCERPT).collect();
  let mut problems = Vec::new();
  let status_ok = if expected.is_empty() {
    (200..400).contains(&status)
  } else {
    expected.contains(&status)
  };
  if !status_ok {
    let wanted = if expected.is_empty() {
      "2xx or 3xx".to_string()
    } else {
      expected
        .iter()
        .map(u16::to_string)
        .collect::<Vec<_>>()
        .join(" or ")
    };
    problems.push(format!("status {status}, expected {wanted}"));
  }
  if let Some(max) = max_latency.filter(|max| latency > *max) {
    problems.push(format!(
      "took {} ms, more than {} ms",
      latency.as_millis(),
      max.as_millis()
    ));
  }
  if let Some(needle) = field("expect-body").filter(|n| !text.contains(n.as_str())) {
    problems.push(format!("body does not contain `{needle}`"));
  }
  // What failed is printed once, by the walk, from the step's error.
  run.console.say(&format!(
    "   {method} {url} → {status} in {} ms\n",
    latency.as_millis(),
  ));
  let mut output = Output::new(if problems.is_empty() {
    Status::Done
  } else {
    Status::Failed
  });
  if !problems.is_empty() {
    output.error = Some(problems.join("; "));
  }
  output.fields.extend(
    json!({
      "method": method.as_str(),
      "url": url,
      "http_status": status,
      "latency_ms": latency.as_millis() as u64,
      "headers": headers,
      "body_excerpt": excerpt,
      "body_bytes": text.len(),
    })
    .as_object()
    .cloned()
    .unwrap_or_default(),
  );
  Ok(output)
}

fn describe(url: &str, error: &reqwest::Error) -> String {
  if error.is_timeout() {
    format!("{url}: no answer before the step's timeout")
  } else if error.is_connect() {
    format!(
      "{url}: cannot connect: check the address, DNS, security groups and that the service is up"
    )
  } else {
    let mut message = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(s) = source {
      message = format!("{message}: {s}");
      source = s.source();
    }
    format!("{url}: {message}")
  }
}
