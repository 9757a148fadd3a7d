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
  fn fields(&self) -> &'static [&'static str] {
    &[
      "method",
      "url",
      "http_status",
      "latency_ms",
      "headers",
      "body_excerpt",
      "body_bytes",
    ]
  }

  fn check(&self, text: &str, _options: &[(String, String)]) -> Result<(), String> {
    Request::parse(text).map(|_| ())
  }

  fn execute(&self, run: &mut StepRun) -> Output {
    match probe(run) {
      Ok(output) => output,
      Err(error) => Output::failed(Status::Failed, error),
    }
  }
}

/// The methods a probe may use: any other word (`GETT`) is a typo, though
/// HTTP would send it.
const METHODS: &[&str] = &[
  "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE",
];

/// An `http` block, parsed: what `check` validates and the probe sends.
struct Request {
  method: reqwest::Method,
  url: String,
  headers: Vec<(String, String)>,
  body: Option<String>,
  expected: Vec<u16>,
  max_latency: Option<Duration>,
  expect_body: Option<String>,
}

impl Request {
  fn parse(text: &str) -> Result<Self, String> {
    let (method, url, rest) = ActionKind::http_request_line(text);
    if method.is_empty() || url.is_empty() {
      return Err(
        "`http`: the first line must be `METHOD URL`, e.g. `GET https://example.com/health`".into(),
      );
    }
    if !METHODS.contains(&method.as_str()) {
      return Err(format!(
        "`http`: `{method}` is not an HTTP method; use {}",
        METHODS.join(", ")
      ));
    }
    if !(url.starts_with("http://") || url.starts_with("https://")) {
      return Err(format!("`http`: `{url}` is not an http:// or https:// URL"));
    }
    let body = if rest.trim().is_empty() {
      None
    } else {
      Some(Body::parse(ActionKind::Http, rest)?)
    };
    let field = |name: &str| body.as_ref().and_then(|b| b.text(name));
    let expected = match body.as_ref() {
      Some(b) => b
        .list("expect-status")
        .iter()
        .map(|s| {
          s.parse::<u16>()
            .ok()
            .filter(|n| (100..=599).contains(n))
            .ok_or_else(|| {
              format!(
                "`http`: `expect-status: {s}`: expected status codes such as 200 or [200, 204]"
              )
            })
        })
        .collect::<Result<Vec<u16>, String>>()?,
      None => Vec::new(),
    };
    let max_latency = match field("max-latency") {
      Some(text) => Some(crate::check::parse_duration(&text).ok_or_else(|| {
        format!("`http`: `max-latency: {text}`: expected a duration such as 500ms")
      })?),
      None => None,
    };
    let headers = match body.as_ref().map(|b| b.json("headers")) {
      None | Some(Value::Null) => Vec::new(),
      Some(Value::Object(headers)) => headers
        .into_iter()
        .map(|(name, value)| {
          let value = value
            .as_str()
            .map_or_else(|| value.to_string(), str::to_string);
          (name, value)
        })
        .collect(),
      Some(_) => {
        return Err("`http`: `headers` must be a map such as {accept: application/json}".into());
      }
    };
    Ok(Self {
      method: reqwest::Method::from_bytes(method.as_bytes())
        .map_err(|_| format!("`http`: `{method}` is not an HTTP method"))?,
      url: url.to_string(),
      headers,
      body: field("body"),
      expected,
      max_latency,
      expect_body: field("expect-body"),
    })
  }
}

fn probe(run: &StepRun) -> Result<Output, String> {
  let Request {
    method,
    url,
    headers,
    body,
    expected,
    max_latency,
    expect_body,
  } = Request::parse(run.text)?;
  let url = url.as_str();
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
  for (name, value) in headers {
    request = request.header(name, value);
  }
  if let Some(payload) = body {
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
  if let Some(needle) = expect_body.filter(|n| !text.contains(n.as_str())) {
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
