//! Scenario tests of the shipped runbooks and playbooks: moto seeded with
//! the demo's incident (demo/seed.py), each document run through the
//! binary, and what an engineer would conclude from the transcript checked.

use crate::moto::{aws_env, moto};
use crate::{Ran, Test, records};

/// Seeds `region` with the demo incident, as scripts/demo does.
fn seed_incident(region: &str) {
  moto().seed(region, include_str!("../../demo/seed.py"));
}

fn run(region: &str, document: &str, params: &[&str], extra: &[&str]) -> Ran {
  let path = format!("{}/{document}", env!("CARGO_MANIFEST_DIR"));
  let mut args = vec!["run".to_string(), path];
  for p in params {
    args.push("--param".into());
    args.push((*p).into());
  }
  args.extend(extra.iter().map(|s| s.to_string()));
  let args: Vec<&str> = args.iter().map(String::as_str).collect();
  Test::new().env(aws_env(region)).args(&args).run()
}

/// The record of a step's result, by id.
fn finished<'a>(records: &'a [serde_json::Value], step: &str) -> &'a serde_json::Value {
  records
    .iter()
    .rev()
    .find(|r| r["type"] == "step-finished" && r["step"] == step)
    .unwrap_or_else(|| panic!("no result for step {step}"))
}

const MORNING: &[&str] = &[
  "customer=acme",
  "environment=production",
  "cluster=acme-production",
  "log_group=/ecs/acme-production-api",
  "db_instance=acme-production-db",
  "load_balancer=app/acme-production/50dc6c495c0c9188",
];

#[test]
fn morning_health_check_names_what_needs_attention() {
  let region = "sa-east-1";
  seed_incident(region);
  let ran = run(
    region,
    "runbooks/morning-health-check.md",
    MORNING,
    &["--yes-readonly"],
  );
  // The verdict fails: attention needed.
  ran.assert(1);
  let transcript = ran.transcript();
  let r = records(&transcript);
  let verdict = finished(&r, "verdict");
  assert_eq!(verdict["status"], "failed");
  let error = verdict["error"].as_str().unwrap_or_default();
  for reason in [
    "1 alarm(s) in ALARM: acme-production-api-cpu-high",
    "ECS service api: 2 of 3 tasks running",
    "ERROR log line(s) in the last 12 h",
  ] {
    assert!(error.contains(reason), "{reason:?} not in {error}");
  }
  // The healthy service, the database and the load balancer are not named.
  for absent in ["worker", "database", "response time", "5XX"] {
    assert!(!error.contains(absent), "{absent:?} in {error}");
  }
  // The dashboard checklist names this customer's dashboard.
  let item = finished(&r, "review-the-cloudwatch-dashboard-1");
  assert_eq!(item["status"], "unconfirmed");
  assert!(transcript.contains("acme-production-technical-dashboard"));
  let latency = finished(&r, "db-read-latency");
  assert_eq!(latency["output"]["breaches"], 0);
  assert!(
    latency["output"]["count"]
      .as_u64()
      .is_some_and(|n| n >= 143)
  );
}
