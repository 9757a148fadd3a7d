//! `notify`: tells people — an SNS topic, or a Slack-compatible incoming
//! webhook (its URL from a secret parameter). It reaches people, so it is a
//! change: shown and asked for like one.
//!
//! ````markdown
//! ```notify {name=post}
//! webhook: "{{ slack_webhook }}"       # or topic: arn:aws:sns:…
//! message: |
//!   {{ notification }}
//! ```
//! ````
//!
//! Values fill the body as whole values (a multi-line message stays one
//! message), never as YAML: the body is parsed with its placeholders and
//! each is replaced inside the parsed strings.

use serde_json::{Value, json};

use super::action::{Execute, Output, StepRun};
use super::aws_step::{Failure, Fields, Shown, call, finish};
use super::body::Body;
use crate::model::ActionKind;
use crate::template;

pub struct Notify;

impl Execute for Notify {
  fn fields(&self) -> &'static [&'static str] {
    &["http_status", "message", "message_id", "topic", "webhook"]
  }

  fn check(&self, text: &str, _options: &[(String, String)]) -> Result<(), String> {
    Message::parse(&Body::parse(ActionKind::Notify, text)?).map(|_| ())
  }

  fn execute(&self, run: &mut StepRun) -> Output {
    finish(run, send(run))
  }
}

enum Target {
  Topic(String),
  Webhook(String),
}

struct Message {
  target: Target,
  subject: Option<String>,
  text: String,
}

impl Message {
  fn parse(body: &Body) -> Result<Self, String> {
    let target = match (body.text("topic"), body.text("webhook")) {
      (Some(topic), None) => Target::Topic(topic),
      (None, Some(url)) => {
        if !(url.starts_with("https://") || url.starts_with("http://")) {
          return Err(format!(
            "`notify`: `webhook: {url}`: expected an http:// or https:// URL"
          ));
        }
        Target::Webhook(url)
      }
      _ => return Err("`notify`: give one of `topic` (an SNS topic ARN) or `webhook`".into()),
    };
    Ok(Self {
      target,
      subject: body.text("subject"),
      text: body.required("message")?,
    })
  }
}

/// The body with each `{{ name }}` replaced inside the parsed values.
fn filled(run: &StepRun) -> Result<Body, String> {
  let code = run.step.action().map_or(run.text, |a| a.code.as_str());
  // Placeholders become words YAML keeps whole, then values go in.
  let marked = template::render(code, |name| Some(format!("litopsvalue-{name}-x")));
  let body = Body::parse(ActionKind::Notify, &marked)?;
  Ok(body.map_strings(|s| {
    let Ok(found) = template::placeholders(code) else {
      return s.to_string();
    };
    let mut out = s.to_string();
    for p in found {
      let value = crate::plan::value_of(p.name, run.params, run.vars).unwrap_or_default();
      out = out.replace(&format!("litopsvalue-{}-x", p.name), &value);
    }
    out
  }))
}

fn send(run: &StepRun) -> Result<(Fields, Shown), Failure> {
  let message = Message::parse(&filled(run)?)?;
  let mut fields = Fields::new();
  let shown = match &message.target {
    Target::Topic(topic) => {
      let aws = run.aws.get()?;
      let sns = aws.client(aws_sdk_sns::Client::new);
      let answer = call(
        &run.reach(),
        aws,
        "sns:Publish",
        sns
          .publish()
          .topic_arn(topic)
          .message(&message.text)
          .set_subject(message.subject.clone())
          .send(),
      )?;
      fields.insert("topic".into(), Value::String(topic.clone()));
      fields.insert(
        "message_id".into(),
        answer
          .message_id()
          .map_or(Value::Null, |id| Value::String(id.into())),
      );
      format!("published to {topic}\n")
    }
    Target::Webhook(url) => {
      let status = post(run, url, &message)?;
      fields.insert("webhook".into(), Value::String(url.clone()));
      fields.insert("http_status".into(), json!(status));
      format!("posted to the webhook ({status})\n")
    }
  };
  fields.insert("message".into(), Value::String(message.text));
  Ok((fields, shown.into()))
}

/// POSTs the message to the webhook; a status other than 2xx fails the step.
fn post(run: &StepRun, url: &str, message: &Message) -> Result<u16, Failure> {
  let timeout = run.timeout.unwrap_or(std::time::Duration::from_secs(30));
  let interrupted = run.console.interrupt_flag();
  post_text(url, &message.text, timeout, &interrupted).map_err(|e| {
    if interrupted.load(std::sync::atomic::Ordering::SeqCst) {
      Failure::Cut(crate::aws::Cut::Interrupted)
    } else {
      Failure::Message(e)
    }
  })
}

/// POSTs `{"text": text}` as Slack's incoming webhooks take it: the status,
/// or why there is none (a status other than 2xx included). The URL is a
/// secret and never appears in the error.
pub fn post_text(
  url: &str,
  text: &str,
  timeout: std::time::Duration,
  interrupted: &std::sync::atomic::AtomicBool,
) -> Result<u16, String> {
  let runtime = tokio::runtime::Builder::new_current_thread()
    .enable_all()
    .build()
    .map_err(|e| format!("cannot start the HTTP runtime: {e}"))?;
  let client = reqwest::Client::builder()
    .timeout(timeout)
    .build()
    .map_err(|e| format!("cannot build the HTTP client: {e}"))?;
  let payload = json!({ "text": text }).to_string();
  // Sent inside the runtime: the client's timer needs its reactor.
  let request = async move {
    client
      .post(url)
      .header("content-type", "application/json")
      .body(payload)
      .send()
      .await
  };
  let answer = crate::cancel::run(&runtime, interrupted, None, request)
    .map_err(|_| crate::cancel::interruption())?
    .map_err(|e| format!("the webhook did not answer: {}", e.without_url()))?;
  let status = answer.status().as_u16();
  if !answer.status().is_success() {
    return Err(format!("the webhook answered {status}"));
  }
  Ok(status)
}
