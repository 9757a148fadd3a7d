//! `--stop-on-alarm NAME`: CloudWatch alarms that stop a run. They are
//! read before each target starts and before each step that changes
//! something; once one is in ALARM, no target starts, no change runs
//! anywhere, and every walk still going ends naming the alarm.

use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_sdk_cloudwatch::types::StateValue;

use crate::aws::Aws;

pub struct Tripwire {
  alarms: Vec<String>,
  aws: Arc<Aws>,
  /// Once an alarm fired, why: it stays tripped.
  tripped: Mutex<Option<String>>,
}

impl Tripwire {
  pub fn new(alarms: Vec<String>, aws: Arc<Aws>) -> Self {
    Self {
      alarms,
      aws,
      tripped: Mutex::new(None),
    }
  }

  /// Why the run must stop, if it must: an alarm in ALARM now or before.
  /// An alarm that cannot be read stops the run too: its guard is gone.
  pub fn check(&self) -> Option<String> {
    let mut tripped = self.tripped.lock().ok()?;
    if tripped.is_some() {
      return tripped.clone();
    }
    let request = self
      .aws
      .client(aws_sdk_cloudwatch::Client::new)
      .describe_alarms()
      .set_alarm_names(Some(self.alarms.clone()))
      .send();
    let answer = self.aws.block_on(
      &AtomicBool::new(false),
      Some(Duration::from_secs(30)),
      request,
    );
    let why = match answer {
      Err(_) => Some("the stop-on alarms could not be read in time".to_string()),
      Ok(Err(e)) => Some(format!(
        "the stop-on alarms could not be read: {}",
        crate::aws::explain("cloudwatch:DescribeAlarms", &e)
      )),
      Ok(Ok(found)) => {
        let alarms = found.metric_alarms();
        let missing: Vec<&String> = self
          .alarms
          .iter()
          .filter(|name| !alarms.iter().any(|a| a.alarm_name() == Some(name.as_str())))
          .collect();
        if let Some(name) = missing.first() {
          Some(format!("stop-on alarm {name} does not exist"))
        } else {
          alarms
            .iter()
            .find(|a| a.state_value() == Some(&StateValue::Alarm))
            .map(|a| {
              format!(
                "alarm {} went to ALARM: {}",
                a.alarm_name().unwrap_or("?"),
                a.state_reason().unwrap_or("no reason given")
              )
            })
        }
      }
    };
    tripped.clone_from(&why);
    why
  }
}
