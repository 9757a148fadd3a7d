//! AWS's request quotas per account and region, kept across every run in
//! the process: a fan-out of 100 targets in one account must never be why
//! that account's own dashboards and consoles get throttled.

use std::collections::BTreeMap;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use super::Identity;

/// Calls a second per account and region, as AWS documents them, for the
/// calls a run makes many of (a query's polls, a service watched settling).
const QUOTAS: &[(&str, u32)] = &[("logs:GetQueryResults", 5), ("ecs:DescribeServices", 20)];

/// When the next call of each paced operation may go out, per account and
/// region.
static NEXT: Mutex<BTreeMap<(String, String, &'static str), Instant>> = Mutex::new(BTreeMap::new());

/// Reserves the next free slot for `operation` (`"ecs:DescribeServices"`)
/// in this account and region and says how long after `now` it is; zero for
/// operations without a quota here.
pub fn slot(identity: &Identity, operation: &str, now: Instant) -> Duration {
  let Some(&(operation, rate)) = QUOTAS.iter().find(|(name, _)| *name == operation) else {
    return Duration::ZERO;
  };
  let mut next = NEXT.lock().unwrap_or_else(PoisonError::into_inner);
  let at = next
    .entry((identity.account.clone(), identity.region.clone(), operation))
    .or_insert(now);
  let start = (*at).max(now);
  *at = start + Duration::from_secs(1) / rate;
  start - now
}

#[cfg(test)]
mod tests {
  use super::*;

  fn identity(account: &str, region: &str) -> Identity {
    Identity {
      account: account.into(),
      arn: String::new(),
      region: region.into(),
    }
  }

  #[test]
  fn calls_share_their_quota_per_account_and_region() {
    let here = identity("111", "eu-west-1");
    let now = Instant::now();
    let waits: Vec<Duration> = (0..4)
      .map(|_| slot(&here, "logs:GetQueryResults", now))
      .collect();
    assert_eq!(waits, [0, 200, 400, 600].map(Duration::from_millis));
    let services: Vec<Duration> = (0..3)
      .map(|_| slot(&here, "ecs:DescribeServices", now))
      .collect();
    assert_eq!(services, [0, 50, 100].map(Duration::from_millis));
    // A second later the slots have passed: no wait.
    let later = now + Duration::from_secs(1);
    assert_eq!(slot(&here, "logs:GetQueryResults", later), Duration::ZERO);
    // Other accounts and regions have their own; other calls are not paced.
    for (account, region) in [("111", "us-east-1"), ("222", "eu-west-1")] {
      let there = identity(account, region);
      assert_eq!(slot(&there, "logs:GetQueryResults", now), Duration::ZERO);
    }
    for _ in 0..100 {
      assert_eq!(slot(&here, "ecs:ListServices", now), Duration::ZERO);
    }
  }
}
