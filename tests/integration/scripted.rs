//! A scripted AWS peer for what moto cannot do: queries that stay Running,
//! StopQuery, throttling, access denied, alarm history. It speaks the real
//! wire protocols (awsJson 1.1 for Logs, awsQuery for STS and CloudWatch)
//! over HTTP/1.1 on 127.0.0.1, so litops's SDK clients are the real ones.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Instant;

pub struct Reply {
  pub status: u16,
  pub body: String,
}

impl Reply {
  pub fn ok(body: &str) -> Self {
    Self {
      status: 200,
      body: body.into(),
    }
  }

  pub fn error(kind: &str, message: &str) -> Self {
    Self {
      status: 400,
      body: format!(r#"{{"__type":"{kind}","message":"{message}"}}"#),
    }
  }
}

type Handler = dyn Fn(&str, usize, &str) -> Reply + Send + Sync;

pub struct Scripted {
  pub url: String,
  calls: Arc<Mutex<Vec<(String, Instant)>>>,
}

impl Scripted {
  /// `handler(operation, n)` answers the n-th call (from 0) of `operation`
  /// (`StartQuery`, `GetQueryResults`, …). STS is answered here.
  pub fn start(handler: impl Fn(&str, usize) -> Reply + Send + Sync + 'static) -> Self {
    Self::start_with(move |op, n, _| handler(op, n))
  }

  /// As `start`, with the request's JSON body too.
  pub fn start_with(handler: impl Fn(&str, usize, &str) -> Reply + Send + Sync + 'static) -> Self {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    let calls = Arc::new(Mutex::new(Vec::new()));
    let handler: Arc<Handler> = Arc::new(handler);
    let log = calls.clone();
    std::thread::spawn(move || {
      for stream in listener.incoming().flatten() {
        let (handler, log) = (handler.clone(), log.clone());
        std::thread::spawn(move || serve(stream, &*handler, &log));
      }
    });
    Self { url, calls }
  }

  /// Waits (bounded) until the server has answered `op` `count` times.
  pub fn wait_for(&self, op: &str, count: usize) {
    let deadline = Instant::now() + std::time::Duration::from_secs(20);
    while self.times(op).len() < count {
      assert!(
        Instant::now() < deadline,
        "{op} called fewer than {count} times"
      );
      std::thread::sleep(std::time::Duration::from_millis(10));
    }
  }

  /// When each call of `op` arrived.
  pub fn times(&self, op: &str) -> Vec<Instant> {
    let calls = self.calls.lock().map(|c| c.clone()).unwrap_or_default();
    calls
      .into_iter()
      .filter(|(o, _)| o == op)
      .map(|(_, at)| at)
      .collect()
  }

  pub fn env(&self) -> Vec<(String, String)> {
    [
      ("AWS_ENDPOINT_URL", self.url.as_str()),
      ("AWS_ACCESS_KEY_ID", "test"),
      ("AWS_SECRET_ACCESS_KEY", "test"),
      ("AWS_REGION", "eu-north-1"),
      ("AWS_MAX_ATTEMPTS", "1"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
  }
}

const STS: &str = r#"<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><GetCallerIdentityResult><Arn>arn:aws:iam::111122223333:user/scripted</Arn><UserId>AIDASCRIPTED</UserId><Account>111122223333</Account></GetCallerIdentityResult><ResponseMetadata><RequestId>r-1</RequestId></ResponseMetadata></GetCallerIdentityResponse>"#;

fn serve(stream: TcpStream, handler: &Handler, log: &Mutex<Vec<(String, Instant)>>) {
  let mut reader = BufReader::new(stream.try_clone().expect("clone"));
  let mut writer = stream;
  loop {
    let mut length = 0;
    let mut target = String::new();
    let mut line = String::new();
    if reader.read_line(&mut line).unwrap_or(0) == 0 {
      return;
    }
    loop {
      line.clear();
      if reader.read_line(&mut line).unwrap_or(0) == 0 {
        return;
      }
      let header = line.trim_end();
      if header.is_empty() {
        break;
      }
      if let Some((name, value)) = header.split_once(':') {
        match name.to_ascii_lowercase().as_str() {
          "content-length" => length = value.trim().parse().unwrap_or(0),
          "x-amz-target" => target = value.trim().to_string(),
          _ => {}
        }
      }
    }
    let mut body = vec![0; length];
    if reader.read_exact(&mut body).is_err() {
      return;
    }
    let body = String::from_utf8_lossy(&body).into_owned();
    // awsJson names the operation in a header, awsQuery (STS, CloudWatch)
    // as the form's Action.
    let query_action = target.is_empty().then(|| {
      body
        .split('&')
        .find_map(|pair| pair.strip_prefix("Action="))
        .unwrap_or("GetCallerIdentity")
        .to_string()
    });
    let operation = match &query_action {
      Some(action) => action.clone(),
      None => target.rsplit('.').next().unwrap_or_default().to_string(),
    };
    let n = {
      let mut calls = log.lock().expect("log");
      calls.push((operation.clone(), Instant::now()));
      calls.iter().filter(|(op, _)| *op == operation).count() - 1
    };
    let (reply, content_type) = match query_action.as_deref() {
      Some("GetCallerIdentity") => (Reply::ok(STS), "text/xml"),
      Some(_) => (handler(&operation, n, &body), "text/xml"),
      None => (handler(&operation, n, &body), "application/x-amz-json-1.1"),
    };
    let response = format!(
      "HTTP/1.1 {} X\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\nx-amzn-requestid: r-1\r\n\r\n{}",
      reply.status,
      reply.body.len(),
      reply.body
    );
    if writer.write_all(response.as_bytes()).is_err() {
      return;
    }
  }
}
