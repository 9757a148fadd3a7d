//! The approval gate: a step that needs approvals writes its request and
//! waits, with a live line, until enough approvals that count are beside
//! it, the request expires, or Ctrl-C. `--break-glass` passes the gate,
//! recorded.

use std::collections::HashSet;
use std::io;
use std::time::Duration;

use serde_json::Value;

use super::{Next, Walk, interrupted};
use crate::approval::{self, Approval, Terms};
use crate::clock;
use crate::model::Step;
use crate::transcript::{self, Event};

/// How often the shared directory is looked at while waiting.
const POLL: Duration = Duration::from_millis(250);

impl Walk<'_> {
  /// Whether `step` may run now: it needs no approvals, or has them, or
  /// breaks the glass. Otherwise how the walk goes on (the step failed for
  /// want of approvals, or Ctrl-C).
  pub(super) fn gate(
    &mut self,
    index: usize,
    step: &Step,
    text: &str,
    preview: Option<&str>,
  ) -> io::Result<Result<(), Next>> {
    let policy = self.runbook.meta.approvals.as_ref();
    let needed = step.approvals_needed(policy);
    let Some(policy) = policy.filter(|_| needed > 0) else {
      return Ok(Ok(()));
    };
    if let Some(reason) = &self.options.approvals.break_glass {
      self.console.say(&format!(
        "   BREAK GLASS: running without the {needed} approval(s) this step needs: {reason}\n"
      ));
      self.transcript.append(Event::BreakGlass {
        step: step.id.clone(),
        needed,
        reason: reason.clone(),
        by: self.options.operator.clone(),
        at: clock::now().rfc3339(),
      })?;
      return Ok(Ok(()));
    }
    let Some(keyring) = self.options.approvals.keyring.clone() else {
      return self
        .refuse(
          index,
          step,
          "this step needs approvals but no keyring was given".into(),
        )
        .map(Err);
    };
    let params = self.params.shown(&self.runbook.meta);
    let masked = self.params.redactor.text(text);
    // A fan-out's request, made for every target at once, serves when it
    // covers exactly this target's action and parameters.
    let shared = self
      .options
      .approvals
      .shared
      .get(&step.id)
      .filter(|(request, _, _)| approval::covers(request, &masked, &params))
      .cloned();
    let store = match approval::Store::at(&self.options.approvals.location, || self.aws.shared()) {
      Ok(store) => store,
      Err(e) => return self.refuse(index, step, e).map(Err),
    };
    let (request, digest, name) = match shared {
      Some(shared) => shared,
      None => {
        let request = self.request(step, text, preview, needed, policy);
        let digest = approval::digest(&request);
        let name = approval::request_name(&digest);
        if let Err(e) = approval::put(&store, &name, &request) {
          let error = format!(
            "cannot store the approval request {}: {e}",
            store.show(&name)
          );
          return self.refuse(index, step, error).map(Err);
        }
        if let Some(topic) = &policy.notify {
          // The request stands whether or not the approvers could be told.
          let told = self
            .aws
            .shared()
            .and_then(|aws| approval::announce(&aws, topic, &request, &store.show(&name)));
          if let Err(e) = told {
            self.console.say(&format!(
              "   the approvers could not be told on {topic}: {e}\n"
            ));
          }
        }
        (request, digest, name)
      }
    };
    let location = store.show(&name);
    self.console.say(&format!(
      "   needs {needed} approval{} from {}: request {location}\n   an approver runs: litops approve {location} --key KEY\n",
      if needed == 1 { "" } else { "s" },
      keyring.path.display(),
    ));
    let expires_at = request["expires_at"]
      .as_str()
      .unwrap_or_default()
      .to_string();
    let terms = Terms::of(&request, &digest);
    let line = self.console.progress(None);
    // Each reason a file does not count is said once; a file being written
    // may read as unreadable first and count (or not) a moment later.
    let mut reported: HashSet<(String, String)> = HashSet::new();
    let approvals = loop {
      let mut counted: Vec<String> = Vec::new();
      let mut given: Vec<Approval> = Vec::new();
      for (file, parsed) in approval::approvals_for(&store, &name) {
        let verdict = match &parsed {
          Ok(a) => terms
            .judge(a, &keyring, &counted)
            .map_err(|why| why.to_string()),
          Err(e) => Err(format!("unreadable ({e})")),
        };
        match (verdict, parsed) {
          (Ok(name), Ok(mut a)) => {
            counted.push(a.key.clone());
            // The keyring names the approver, whatever the file says.
            a.approver = name.to_string();
            given.push(a);
          }
          (Err(why), _) => {
            if reported.insert((file.clone(), why.clone())) {
              line.suspend(|| {
                self
                  .console
                  .say(&format!("   {} does not count: {why}\n", store.show(&file)));
              });
            }
          }
          (Ok(_), Err(_)) => {}
        }
      }
      if given.len() >= needed {
        break given;
      }
      let Some(left) = approval::left(&expires_at) else {
        line.finish_and_clear();
        let names: Vec<&str> = given.iter().map(|a| a.approver.as_str()).collect();
        let error = format!(
          "not approved: {} of {needed} approval(s) before the request expired at {expires_at}{}; request {}",
          given.len(),
          if names.is_empty() {
            String::new()
          } else {
            format!(" ({})", names.join(", "))
          },
          location
        );
        return self.refuse(index, step, error).map(Err);
      };
      line.set_message(format!(
        "waiting for {} approval{} of {needed} · expires in {}",
        needed - given.len(),
        if needed - given.len() == 1 { "" } else { "s" },
        humantime::format_duration(Duration::from_secs(left.as_secs()))
      ));
      if self.console.interrupted() {
        line.finish_and_clear();
        return Ok(Err(interrupted()));
      }
      std::thread::sleep(POLL);
    };
    line.finish_and_clear();
    let names: Vec<&str> = approvals.iter().map(|a| a.approver.as_str()).collect();
    self
      .console
      .say(&format!("   approved by {}\n", names.join(", ")));
    self.transcript.append(Event::Approved {
      step: step.id.clone(),
      request_sha256: digest,
      request,
      approvals,
    })?;
    Ok(Ok(()))
  }

  /// The request for `step`: everything an approver must see to know what
  /// they approve, secrets masked, and what makes it this run's only.
  fn request(
    &self,
    step: &Step,
    text: &str,
    preview: Option<&str>,
    needed: usize,
    policy: &approval::Policy,
  ) -> Value {
    let mask = &self.params.redactor;
    let identity = step
      .action()
      .filter(|a| a.kind.is_aws())
      .and_then(|_| self.aws.identity());
    approval::Parts {
      run_id: &self.options.run_id,
      runbook: self.source.path.display().to_string(),
      runbook_sha256: transcript::sha256_hex(self.source.text.as_bytes()),
      step: &step.id,
      kind: step.kind().name(),
      action: mask.text(text),
      params: self.params.shown(&self.runbook.meta),
      preview: preview.map(|p| mask.text(p)),
      account: identity.map(|i| i.account.clone()),
      region: identity.map(|i| i.region.clone()),
      targets: Vec::new(),
      operator: &self.options.operator,
      operator_key: self
        .options
        .sign
        .as_ref()
        .map(|k| crate::signing::public_hex(&k.verifying_key())),
      required: needed,
      policy,
    }
    .request()
  }
}
