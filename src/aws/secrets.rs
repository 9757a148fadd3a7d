//! Parameter values read from AWS secret stores (`from: ssm:…`,
//! `from: secretsmanager:…`) before step 1.

use super::{Aws, explain};
use crate::model::Origin;

/// The value `origin` names, through the run's AWS session.
pub fn fetch(aws: &Aws, origin: &Origin) -> Result<String, String> {
  let never = std::sync::atomic::AtomicBool::new(false);
  let cut = |_| format!("{origin}: no answer from AWS");
  match origin {
    Origin::Ssm(name) => {
      let ssm = aws.client(aws_sdk_ssm::Client::new);
      let call = ssm.get_parameter().name(name).with_decryption(true).send();
      let answer = aws
        .block_on(&never, None, call)
        .map_err(cut)?
        .map_err(|e| explain(&format!("ssm:GetParameter {name}"), &e))?;
      answer
        .parameter()
        .and_then(|p| p.value())
        .map(str::to_string)
        .ok_or_else(|| format!("{origin}: the parameter has no value"))
    }
    Origin::SecretsManager(id) => {
      let sm = aws.client(aws_sdk_secretsmanager::Client::new);
      let call = sm.get_secret_value().secret_id(id).send();
      let answer = aws
        .block_on(&never, None, call)
        .map_err(cut)?
        .map_err(|e| explain(&format!("secretsmanager:GetSecretValue {id}"), &e))?;
      match (answer.secret_string(), answer.secret_binary()) {
        (Some(text), _) => Ok(text.to_string()),
        (None, Some(blob)) => String::from_utf8(blob.clone().into_inner())
          .map_err(|_| format!("{origin}: the secret is binary, not text")),
        (None, None) => Err(format!("{origin}: the secret has no value")),
      }
    }
    Origin::Env(name) => std::env::var(name).map_err(|_| format!("{origin}: not set")),
  }
}
