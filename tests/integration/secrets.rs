//! Secrets are masked where shown or recorded, never in what runs or is
//! sent (issue 11, section 1).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::sync::mpsc;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use crate::{Test, records, verified};

const TOKEN: &str = "s3cr3t-Tok3n/with+chars";
const PEM: &str = "-----BEGIN PRIVATE KEY-----\nMIIBVAIBADANBgkqhkiG9w0BAQEFAASCAT4w\nggE6AgEAAkEAq7BFUpkGp3+XQaPBAgMBAAEC\n-----END PRIVATE KEY-----";

/// A server that sends every request it receives (line, headers, body) to
/// the test and answers with the request echoed in its body.
pub fn recording_server() -> (String, mpsc::Receiver<String>) {
  let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
  let url = format!("http://{}", listener.local_addr().expect("addr"));
  let (tx, rx) = mpsc::channel();
  std::thread::spawn(move || {
    for stream in listener.incoming().flatten() {
      let mut reader = BufReader::new(stream.try_clone().expect("clone"));
      let mut request = String::new();
      let mut length = 0;
      loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
          break;
        }
        if let Some(n) = line.to_lowercase().strip_prefix("content-length:") {
          length = n.trim().parse().unwrap_or(0);
        }
        request.push_str(&line);
      }
      let mut body = vec![0; length];
      let _ = reader.read_exact(&mut body);
      request.push_str(&String::from_utf8_lossy(&body));
      let _ = tx.send(request.clone());
      let mut stream = stream;
      let _ = write!(
        stream,
        "HTTP/1.1 200 OK\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{request}",
        request.len()
      );
    }
  });
  (url, rx)
}

/// Every file under `dir` but the inputs in `except`, as bytes.
fn files(dir: &Path, except: &[&str], out: &mut Vec<(String, Vec<u8>)>) {
  for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
    let path = entry.path();
    if path.is_dir() {
      files(&path, except, out);
    } else if !except
      .iter()
      .any(|e| path.ends_with(e) && path.parent() == Some(dir))
    {
      out.push((
        path.display().to_string(),
        std::fs::read(&path).unwrap_or_default(),
      ));
    }
  }
}

/// Neither `secret` nor its encodings are in any file written (the inputs
/// in `except` aside), on stdout or on stderr.
fn assert_nowhere(secret: &str, ran: &crate::Ran, except: &[&str]) {
  let forms = [
    secret.to_string(),
    STANDARD.encode(secret),
    STANDARD.encode(format!("admin:{secret}")),
    percent_encoding::utf8_percent_encode(secret, percent_encoding::NON_ALPHANUMERIC).to_string(),
  ];
  let mut found = Vec::new();
  files(ran.dir.path(), except, &mut found);
  for form in &forms {
    let needle = form.trim_end_matches('=');
    for (path, bytes) in &found {
      assert!(
        !String::from_utf8_lossy(bytes).contains(needle),
        "{path} holds the secret as {needle:?}"
      );
    }
    assert!(!ran.stdout.contains(needle), "stdout holds {needle:?}");
    assert!(!ran.stderr.contains(needle), "stderr holds {needle:?}");
  }
  // The first line of a multi-line secret alone is not masked (a PEM
  // header is not secret); its body lines are.
  for line in secret.lines().filter(|l| !l.starts_with("-----")) {
    assert!(!ran.stderr.contains(line), "stderr holds {line:?}");
    assert!(!ran.stdout.contains(line), "stdout holds {line:?}");
  }
}

#[test]
fn real_values_are_sent_and_run_and_no_shown_or_recorded_byte_holds_them() {
  let (url, requests) = recording_server();
  let basic = STANDARD.encode(format!("admin:{TOKEN}"));
  let runbook = format!(
    "---
title: secrets
params:
  token: {{secret: true}}
  pem: {{secret: true}}
  basic: {{secret: false}}
---
# Secrets

```http {{name=probe}}
POST {url}/probe?token={{{{ token }}}}
headers:
  authorization: Bearer {{{{ token }}}}
  x-basic: Basic {{{{ basic }}}}
body: 'key={{{{ token }}}}'
```

```sh {{name=literal}}
test \"$token\" = \"{TOKEN}\" && echo literal-kept
printf '%s\\n' \"$token\"
printf '%s' \"$token\" | base64
printf '%s\\n' \"$pem\"
echo done >&2
```

```rhai {{name=script}}
debug(params.token);
print(`token is ${{params.token}}`);
if params.token.len() > 100 {{ fail(params.token) }}
vars.copy = params.token;
params.token
```
"
  );
  let params = format!("token: {TOKEN}\npem: |\n  {}\n", PEM.replace('\n', "\n  "));
  let ran = Test::new()
    .runbook(&runbook)
    .file("secrets.yaml", &params)
    .args(&[
      "run",
      "rb.md",
      "--yes",
      "--params",
      "secrets.yaml",
      "--param",
      &format!("basic={basic}"),
    ])
    .run();
  ran.assert(0);
  let request = requests.recv().expect("the probe reached the server");
  assert!(
    request.contains(&format!("/probe?token={TOKEN} ")),
    "{request}"
  );
  assert!(
    request.contains(&format!("authorization: Bearer {TOKEN}\r\n")),
    "{request}"
  );
  assert!(request.ends_with(&format!("key={TOKEN}")), "{request}");
  assert!(
    ran.stdout.contains("literal-kept"),
    "a literal equal to the secret runs as written:\n{}",
    ran.stdout
  );
  let inputs = ["rb.md", "secrets.yaml"];
  assert_nowhere(TOKEN, &ran, &inputs);
  assert_nowhere(PEM, &ran, &inputs);
  let r = records(&ran.transcript());
  assert_eq!(r[2]["output"]["http_status"], 200);
  let stdout = r[4]["output"]["stdout"].as_str().unwrap_or_default();
  assert!(
    stdout.contains("[redacted:token]\n") && stdout.contains("[redacted:pem]\n"),
    "{stdout}"
  );
  assert!(
    ran.stderr.contains("debug line 1: \"[redacted:token]\""),
    "{}",
    ran.stderr
  );
  assert_eq!(r[6]["output"]["value"], "[redacted:token]");
  verified(ran.dir.path(), &ran.transcript_path());
}

#[test]
fn a_secret_default_in_a_step_name_keeps_the_copy_masked_and_verify_intact() {
  let ran = crate::run_yes(
    "---\nparams:\n  token: {secret: true, default: hunter2x}\n---\n# T\n\n```sh {name=check-hunter2x}\necho ok\n```\n",
  );
  ran.assert(0);
  assert_nowhere("hunter2x", &ran, &["rb.md"]);
  let report = verified(ran.dir.path(), &ran.transcript_path());
  assert!(report.contains("1 actions found"), "{report}");
}

#[test]
fn a_params_file_that_is_not_a_mapping_is_not_echoed() {
  for contents in ["hunter2secretvalue\n", "- hunter2secretvalue\n", "42\n"] {
    let ran = Test::new()
      .runbook("---\nparams:\n  token: {secret: true}\n---\n```sh\ntrue\n```\n")
      .file("p.yaml", contents)
      .args(&["run", "rb.md", "--params", "p.yaml"])
      .run();
    ran.assert(2);
    assert!(
      ran
        .stderr
        .contains("must be a YAML mapping of NAME: VALUE lines"),
      "{}",
      ran.stderr
    );
    assert!(!ran.stderr.contains("hunter2"), "{}", ran.stderr);
  }
}

#[test]
fn assigning_to_params_is_a_check_error_and_a_computed_one_fails_the_step() {
  let ran = Test::new()
    .runbook("```rhai {name=a}\nparams.token = \"x\";\n```\n")
    .args(&["check", "rb.md"])
    .run();
  ran.assert(1);
  assert_eq!(
    ran.stderr,
    "rb.md:2:1: error: `params.token` cannot be assigned: `params` is read-only; set `vars.token` instead\n  |\n2 | params.token = \"x\";\n  | ^^^^^^\n"
  );
  // A name computed at run time cannot be checked; rhai refuses it then,
  // without the internal panic it used to raise.
  let ran = crate::run_yes(
    "---\nparams:\n  token: {secret: true, default: hunter2x}\n---\n```rhai {name=a}\nlet k = \"token\";\nparams[k] = \"x\";\n```\n",
  );
  ran.assert(1);
  let r = records(&ran.transcript());
  assert_eq!(r[2]["status"], "failed");
  assert!(
    r[2]["error"]
      .as_str()
      .is_some_and(|e| e.contains("Cannot modify constant params")),
    "{}",
    r[2]
  );
  assert_eq!(r[3]["type"], "run-finished");
  assert!(!ran.stderr.contains("hunter2x"));
}

#[test]
fn values_from_env_ssm_and_secrets_manager_are_read_before_step_1_and_masked() {
  let region = "ap-southeast-4";
  crate::moto::moto().seed(
    region,
    "ssm = boto3.client('ssm', endpoint_url=E, region_name=R)
ssm.put_parameter(Name='/acme/db/password', Value='ssm-S3cret-value', Type='SecureString')
sm = boto3.client('secretsmanager', endpoint_url=E, region_name=R)
sm.create_secret(Name='acme/api-token', SecretString='sm-S3cret-value')",
  );
  let runbook = "---
params:
  db_password: {from: 'ssm:/acme/db/password'}
  api_token: {from: 'secretsmanager:acme/api-token'}
  deploy_key: {from: 'env:DEPLOY_KEY'}
---
```sh {name=use}
echo \"$db_password $api_token $deploy_key\" | tr - _
```
";
  let mut env = crate::moto::aws_env(region);
  env.push(("DEPLOY_KEY".into(), "env-S3cret-value".into()));
  let ran = Test::new()
    .runbook(runbook)
    .env(env.clone())
    .args(&["run", "rb.md", "--yes"])
    .run();
  ran.assert(0);
  // The step got the real values: `tr` turned them into text no mask knows.
  let r = records(&ran.transcript());
  assert_eq!(
    r[2]["output"]["stdout"],
    "ssm_S3cret_value sm_S3cret_value env_S3cret_value\n"
  );
  for secret in ["ssm-S3cret-value", "sm-S3cret-value", "env-S3cret-value"] {
    assert_nowhere(secret, &ran, &["rb.md"]);
  }
  let params = &r[0]["params"];
  assert_eq!(params[0][1], "[redacted:db_password]", "{params}");

  // A source that cannot be read stops the run before step 1, naming it.
  let missing = runbook.replace("acme/api-token", "acme/nope");
  let ran = Test::new()
    .runbook(&missing)
    .env(crate::moto::aws_env(region))
    .args(&["run", "rb.md", "--yes"])
    .run();
  ran.assert(2);
  assert!(
    ran.stderr.contains("parameter `api_token`: cannot read secretsmanager:GetSecretValue acme/nope: ResourceNotFoundException")
      && ran.stderr.contains("parameter `deploy_key`: cannot read env:DEPLOY_KEY: not set"),
    "{}",
    ran.stderr
  );
  assert!(crate::find_transcript(ran.dir.path()).is_none());
  // plan reads nothing: the values stay placeholders.
  let ran = Test::new().runbook(runbook).args(&["plan", "rb.md"]).run();
  ran.assert(0);
  assert!(
    ran
      .stdout
      .contains("  param db_password = {{ db_password }}\n"),
    "{}",
    ran.stdout
  );
}
