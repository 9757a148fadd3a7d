//! Scenario tests of the shipped runbooks and playbooks: moto seeded with
//! the demo's incident (demo/seed.py), each document run through the
//! binary, and what an engineer would conclude from the transcript checked.

use crate::moto::{aws_env, moto};
use crate::{Ran, Test, records};

/// Seeds `region` with the demo incident, as scripts/demo does.
fn seed_incident(region: &str) {
  moto().seed(region, include_str!("../../demo/seed.py"));
}

/// `litops run` of a shipped document with a `--param` for each of `params`.
fn shipped(document: &str, params: &[&str]) -> Test {
  let path = format!("{}/{document}", env!("CARGO_MANIFEST_DIR"));
  let mut test = Test::new().args(&["run", &path]);
  for p in params {
    test = test.args(&["--param", p]);
  }
  test
}

/// Runs against moto seeded with the incident, CloudWatch, DynamoDB,
/// Application Auto Scaling and Performance Insights through demo/peer.py
/// (which knows the night's alarm history, the hot partition, the week's
/// scaling activity and the database's load), as scripts/demo does.
fn run(region: &str, document: &str, params: &[&str], extra: &[&str]) -> Ran {
  shipped(document, params)
    .env(incident_env(region))
    .args(extra)
    .run()
}

fn incident_env(region: &str) -> Vec<(String, String)> {
  let mut env = aws_env(region);
  for service in ["CLOUDWATCH", "DYNAMODB", "APPLICATION_AUTO_SCALING", "PI"] {
    env.push((
      format!("AWS_ENDPOINT_URL_{service}"),
      crate::moto::peer().to_string(),
    ));
  }
  env
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
    "dashboard widget(s) with no data: Job queue depth",
    // Fired at night and recovered: nothing in ALARM shows it now.
    "overnight: acme-production-db-connections was in ALARM from ",
    "(Threshold Crossed: 1 datapoint [186.0] was greater than the threshold (180.0).)",
  ] {
    assert!(error.contains(reason), "{reason:?} not in {error}");
  }
  // The healthy service, the database and the load balancer are not named.
  for absent in ["worker", "database", "response time", "5XX", "API CPU"] {
    assert!(!error.contains(absent), "{absent:?} in {error}");
  }
  // The dashboard's trends stay a checklist item naming its dashboard.
  let item = finished(&r, "review-the-cloudwatch-dashboard-1");
  assert_eq!(item["status"], "unconfirmed");
  assert!(transcript.contains("acme-production-technical-dashboard"));
  let latency = finished(&r, "db-read-latency");
  assert_eq!(latency["output"]["breaches"], 0);
  // Dozens of metric averages and a verdict: the transcript verifies.
  crate::verified(ran.dir.path(), &ran.transcript_path());
  assert!(
    latency["output"]["count"]
      .as_u64()
      .is_some_and(|n| n >= 143)
  );
}

const ACME: &[&str] = &["customer=acme", "environment=production"];

fn with<'a>(extra: &[&'a str]) -> Vec<&'a str> {
  ACME.iter().copied().chain(extra.iter().copied()).collect()
}

/// Seeds `region` with the incident and runs `document` for acme with
/// `--yes` and `params`; the run ends 1 (what it found, or checklist items
/// left unconfirmed without a terminal). Its records.
/// Seeds the incident, runs `document` with `--yes` and returns its records;
/// the run exits 1 when a step failed, 3 when only a person is missing.
fn incident(region: &str, document: &str, params: &[&str]) -> Vec<serde_json::Value> {
  seed_incident(region);
  let ran = run(region, document, &with(params), &["--yes"]);
  let r = records(&ran.transcript());
  let failed = r
    .iter()
    .any(|x| x["type"] == "step-finished" && x["status"] == "failed");
  ran.assert(if failed { 1 } else { 3 });
  r
}

fn value(records: &[serde_json::Value], step: &str) -> String {
  let out = &finished(records, step)["output"]["value"];
  out.as_str().map_or_else(|| out.to_string(), str::to_string)
}

#[test]
fn dynamodb_throttling_raises_read_capacity_and_verifies_it() {
  let region = "eu-south-1";
  // Checklist items stay unconfirmed without a terminal.
  let r = incident(
    region,
    "playbooks/dynamodb-throttling.md",
    &["table=acme-production-orders"],
  );
  // Peak consumption is at the 50 RCU provisioned: twice the peak; writes
  // are not throttled and keep their 20 WCU.
  assert_eq!(value(&r, "assess"), "100 RCU, 20 WCU");
  let change = &finished(&r, "raise-capacity")["output"];
  assert_eq!(change["before"]["read"], 50);
  assert_eq!(change["after"]["read"], 100);
  assert_eq!(change["after"]["write"], 20);
  assert_eq!(finished(&r, "after")["output"]["read"], 100);
  assert_eq!(finished(&r, "verdict")["status"], "done");
  // Contributor Insights names the hot partition.
  assert_eq!(
    value(&r, "hot-partition"),
    "hot partition: customer#4411 takes 80 % of the traffic"
  );
}

#[test]
fn dynamodb_throttling_on_an_on_demand_table_goes_to_the_query_pattern_review() {
  let region = "eu-central-1";
  moto().seed(
    region,
    "ddb = boto3.client('dynamodb', endpoint_url=E, region_name=R)
ddb.create_table(TableName='calm-sessions', BillingMode='PAY_PER_REQUEST',
  AttributeDefinitions=[{'AttributeName': 'id', 'AttributeType': 'S'}],
  KeySchema=[{'AttributeName': 'id', 'KeyType': 'HASH'}])",
  );
  let ran = run(
    region,
    "playbooks/dynamodb-throttling.md",
    &["customer=calm", "table=calm-sessions"],
    &["--yes"],
  );
  ran.assert(1);
  let r = records(&ran.transcript());
  for skipped in ["raise-capacity", "after", "verdict"] {
    assert!(
      !r.iter()
        .any(|x| x["type"] == "step-finished" && x["step"] == skipped),
      "{skipped} ran on an on-demand table"
    );
  }
  // The review is reached, and says what it cannot see.
  assert!(
    finished(&r, "hot-partition")["error"]
      .as_str()
      .is_some_and(|e| e.starts_with(
        "Contributor Insights is DISABLED on calm-sessions: enable it to see hot partitions (at "
      )),
    "{}",
    finished(&r, "hot-partition")
  );
  assert_eq!(
    finished(&r, "query-pattern-review-1")["status"],
    "unconfirmed"
  );
}

#[test]
fn alb_issues_names_a_failing_health_endpoint_and_an_expiring_certificate() {
  let region = "eu-west-3";
  let url = crate::http::server();
  let r = incident(
    region,
    "playbooks/alb-issues.md",
    &[
      "target_group=acme-production-api",
      "load_balancer=app/acme-production/50dc6c495c0c9188",
      &format!("health_url={url}/down"),
    ],
  );
  assert_eq!(finished(&r, "targets")["output"]["total"], 2);
  assert_eq!(finished(&r, "health-probe")["status"], "failed");
  assert_eq!(
    finished(&r, "health-check")["output"]["health_check"]["path"],
    "/health"
  );
  let findings = finished(&r, "findings")["error"]
    .as_str()
    .unwrap_or_default()
    .to_string();
  for finding in [
    "findings: 1 of 2 targets not healthy: [\"i-",
    "unused (Target.InvalidState)\"]; health endpoint: status 503, expected 200; ",
    &format!("the load balancer checks /health but the health endpoint is {url}/down; "),
    "certificate api.acme.example on HTTPS 443 expires in ",
  ] {
    assert!(findings.contains(finding), "{finding:?} not in {findings}");
  }
  assert!(!findings.contains("no listener routes"), "{findings}");
}

#[test]
fn database_performance_compares_with_last_week() {
  let region = "ap-northeast-2";
  let r = incident(
    region,
    "playbooks/database-performance.md",
    &["db_instance=acme-production-db"],
  );
  assert!(finished(&r, "cpu")["output"]["change_percent"].is_number());
  // Performance Insights (through demo/peer.py) names the statement.
  assert_eq!(
    value(&r, "assessment"),
    "within thresholds; top SQL (70 % of the load): \
     SELECT * FROM orders WHERE customer_id = ? ORDER BY created_at DESC; \
     top wait IO:DataFileRead (53 %)"
  );
  assert_eq!(
    finished(&r, "top-sql")["output"]["wait_events"][0]["type"],
    "IO"
  );
}

#[test]
fn critical_alert_confirms_cpu_scales_out_and_escalates() {
  let region = "ap-southeast-1";
  seed_incident(region);
  let params = with(&[
    "cluster=acme-production",
    "service=api",
    "load_balancer=app/acme-production/50dc6c495c0c9188",
    "target_group=acme-production-api",
    "log_group=/ecs/acme-production-api",
    "db_instance=acme-production-db",
  ]);
  let (url, posts) = crate::secrets::recording_server();
  // Not resolved within 15 minutes.
  let ran = shipped("playbooks/critical-alert-response.md", &params)
    .env(incident_env(region))
    .env(vec![(
      "LITOPS_SLACK_WEBHOOK".into(),
      format!("{url}/hooks/alerts"),
    )])
    .args(&["--yes"])
    .stdin("n\n")
    .run();
  ran.assert(3);
  let r = records(&ran.transcript());
  // CPU, and the target whose health check fails; connections are far
  // from exhausted.
  let triggers = value(&r, "triggers");
  assert!(triggers.starts_with("CPU "), "{triggers}");
  assert!(
    triggers.contains("; health checks failing on 1 of 2 targets"),
    "{triggers}"
  );
  assert!(!triggers.contains("database"), "{triggers}");
  // The source's query, bounded by this run's time.
  assert!(
    finished(&r, "error-log")["output"]["query"]
      .as_str()
      .is_some_and(|q| q.contains("| filter @level = \"ERROR\" and @timestamp > \"20")),
    "{}",
    finished(&r, "error-log")["output"]
  );
  assert_eq!(
    finished(&r, "slow-queries")["output"]["wait_events"][0]["name"],
    "IO:DataFileRead"
  );
  let post = posts.recv().expect("the status was posted");
  assert!(post.contains("INCIDENT ALERT - Severity 2"), "{post}");
  // Auto scaling has a target but no policy: two tasks added by hand.
  assert_eq!(value(&r, "scaling-decision"), "manual scale-out");
  assert_eq!(finished(&r, "scale-out")["output"]["after"]["desired"], 5);
  // Two of three tasks still run: a degradation, not a complete outage.
  assert!(value(&r, "notification").contains("Severity 2\nService: api (acme-production)"));
  assert_eq!(
    value(&r, "escalation"),
    "senior engineer and customer success manager"
  );
}

#[test]
fn warning_alert_correlates_cpu_with_last_week_and_throttling() {
  let region = "eu-central-2";
  let r = incident(
    region,
    "playbooks/warning-alert-response.md",
    &[
      "cluster=acme-production",
      "service=api",
      "db_instance=acme-production-db",
      "load_balancer=app/acme-production/50dc6c495c0c9188",
      "table=acme-production-orders",
      "log_group=/ecs/acme-production-api",
    ],
  );
  let signals = value(&r, "correlation");
  assert!(signals.contains("CPU above 70 %"), "{signals}");
  assert!(signals.contains("against last week"), "{signals}");
  assert!(signals.contains("DynamoDB throttling"), "{signals}");
  assert!(!signals.contains("4XX"), "{signals}");
  // The week's failed scale-out and the database's top statement are read.
  assert_eq!(finished(&r, "scaling-events")["output"]["failed"], 1);
  assert_eq!(
    finished(&r, "query-performance")["output"]["top_sql"][0]["share_percent"],
    70.0
  );
}

#[test]
fn performance_alert_finds_the_regression_against_the_previous_week() {
  let region = "il-central-1";
  let r = incident(
    region,
    "playbooks/performance-alert-response.md",
    &[
      "db_instance=acme-production-db",
      "load_balancer=app/acme-production/50dc6c495c0c9188",
      "log_group=/ecs/acme-production-api",
    ],
  );
  let found = value(&r, "regressions");
  assert!(
    found.starts_with("target-response-time: ") && found.ends_with("slower than the previous week"),
    "{found}"
  );
}

#[test]
fn weekly_capacity_review_flags_a_service_sustained_near_70_percent() {
  let region = "ap-southeast-7";
  // CPU at 68 % in most hours of the week (a few quiet nights at 20 %).
  moto().seed(
    region,
    "import datetime
ddb = boto3.client('dynamodb', endpoint_url=E, region_name=R)
ddb.create_table(TableName='calm-orders', BillingMode='PROVISIONED',
  AttributeDefinitions=[{'AttributeName': 'id', 'AttributeType': 'S'}],
  KeySchema=[{'AttributeName': 'id', 'KeyType': 'HASH'}],
  ProvisionedThroughput={'ReadCapacityUnits': 10, 'WriteCapacityUnits': 10})
cw = boto3.client('cloudwatch', endpoint_url=E, region_name=R)
now = datetime.datetime.now(datetime.timezone.utc)
data = [{'MetricName': 'CPUUtilization', 'Value': 20.0 if h % 24 < 6 else 68.0,
         'Timestamp': now - datetime.timedelta(hours=h, minutes=30),
         'Dimensions': [{'Name': 'ClusterName', 'Value': 'calm'}, {'Name': 'ServiceName', 'Value': 'api'}]}
        for h in range(1, 7 * 24)]
for i in range(0, len(data), 500):
    cw.put_metric_data(Namespace='AWS/ECS', MetricData=data[i:i + 500])",
  );
  let ran = run(
    region,
    "runbooks/weekly-capacity-review.md",
    &[
      "customer=calm",
      "cluster=calm",
      "service=api",
      "db_instance=calm-db",
      "load_balancer=app/calm/0",
      "table=calm-orders",
    ],
    &["--yes"],
  );
  ran.assert(3);
  let notes = value(&records(&ran.transcript()), "recommendations");
  assert!(
    notes.starts_with(
      "api cpu sustained at 68 % (50 % of hours at or above it): approaching 70 %, raise capacity or scaling limits; memory: no data this week"
    ),
    "{notes}"
  );
}

#[test]
fn weekly_capacity_review_flags_what_approaches_70_percent_sustained() {
  let region = "ap-south-2";
  let r = incident(
    region,
    "runbooks/weekly-capacity-review.md",
    &[
      "cluster=acme-production",
      "service=api",
      "db_instance=acme-production-db",
      "load_balancer=app/acme-production/50dc6c495c0c9188",
      "table=acme-production-orders",
    ],
  );
  let notes = value(&r, "recommendations");
  // The last hour's 5-minute periods consume ~49 of the 50 RCU: a peak.
  assert!(
    notes.contains("acme-production-orders reads peaked at"),
    "{notes}"
  );
  assert!(
    notes.contains("auto scaling failed 1 time(s) this week: Failed to set desired count to 6"),
    "{notes}"
  );
  // CPU climbs past 85 % only in the last half hour: not sustained.
  assert!(!notes.contains("api cpu"), "{notes}");
  let printed = finished(&r, "recommendations")["output"].to_string();
  assert!(printed.contains("week on week: cpu "), "{printed}");
  assert!(printed.contains("; response time "), "{printed}");
}

#[test]
fn security_patching_stops_before_the_change_while_an_alarm_fires_and_backups_are_stale() {
  let region = "mx-central-1";
  let r = incident(
    region,
    "runbooks/monthly-security-patching.md",
    &[
      "cluster=acme-production",
      "services=api, worker",
      "patched_tag=2026-12-05-patched",
    ],
  );
  assert_eq!(
    finished(&r, "backups")["output"]["stale"],
    serde_json::json!(["acme-production-db"])
  );
  let error = finished(&r, "go-no-go")["error"].clone();
  let error = error.as_str().unwrap_or_default();
  assert!(
    error.starts_with(
      "1 alarm(s) firing: fix or accept them before patching; \
       no backup in the last 24 hours: acme-production-db; api runs 2 of 3 tasks (at "
    ),
    "{error}"
  );
  assert!(
    !r.iter().any(|x| x["step"] == "deploy"),
    "the deployment was reached"
  );
}

#[test]
fn security_patching_ships_a_new_revision_to_every_service_and_validates_them_all() {
  let region = "eu-south-2";
  moto().seed(
    region,
    "import json
rds = boto3.client('rds', endpoint_url=E, region_name=R)
rds.create_db_instance(DBInstanceIdentifier='calm-db', DBInstanceClass='db.t3.micro', Engine='postgres',
                       MasterUsername='u', MasterUserPassword='password1', AllocatedStorage=20)
ecr = boto3.client('ecr', endpoint_url=E, region_name=R)
manifest = json.dumps({'schemaVersion': 2, 'mediaType': 'application/vnd.docker.distribution.manifest.v2+json',
  'config': {'mediaType': 'application/vnd.docker.container.image.v1+json', 'size': 7, 'digest': 'sha256:' + 'c' * 64},
  'layers': []})
ecs = boto3.client('ecs', endpoint_url=E, region_name=R)
ecs.create_cluster(clusterName='calm')
for service in ('api', 'worker'):
    ecr.create_repository(repositoryName='calm/' + service)
    for tag in ('v1', '2026-12-05-patched'):
        ecr.put_image(repositoryName='calm/' + service, imageManifest=manifest, imageTag=tag)
    uri = '123456789012.dkr.ecr.' + R + '.amazonaws.com/calm/' + service + ':v1'
    td = ecs.register_task_definition(family='calm-' + service, containerDefinitions=[
        {'name': service, 'image': uri, 'memory': 512}])['taskDefinition']['taskDefinitionArn']
    ecs.create_service(cluster='calm', serviceName=service, taskDefinition=td, desiredCount=2)",
  );
  let ran = run(
    region,
    "runbooks/monthly-security-patching.md",
    &[
      "customer=calm",
      "cluster=calm",
      "services=api,worker",
      "patched_tag=2026-12-05-patched",
    ],
    &["--yes"],
  );
  // Only the checklist items wait for a person.
  ran.assert(3);
  let r = records(&ran.transcript());
  let deployed = &finished(&r, "deploy")["output"]["services"];
  assert_eq!(deployed[0]["task_definition"], "calm-api:2");
  assert_eq!(deployed[1]["task_definition"], "calm-worker:2");
  assert_eq!(
    deployed[1]["images"][0]["after"],
    format!("123456789012.dkr.ecr.{region}.amazonaws.com/calm/worker:2026-12-05-patched")
  );
  assert_eq!(
    value(&r, "validation"),
    "before: api 2/2 on calm-api:1, worker 2/2 on calm-worker:1; \
     after: api 2/2 on calm-api:2, worker 2/2 on calm-worker:2"
  );
}

#[test]
fn dr_test_records_restoration_time_and_both_regions() {
  let url = crate::http::server();
  let ran = shipped(
    "runbooks/quarterly-dr-test.md",
    &[
      "customer=acme",
      &format!("primary_health_url={url}/health"),
      &format!("backup_health_url={url}/health"),
      "rto_minutes=60",
    ],
  )
  .args(&["--yes"])
  .stdin("45\n")
  .run();
  ran.assert(3);
  let r = records(&ran.transcript());
  assert_eq!(value(&r, "restoration"), "45 minutes (RTO 60)");
  let summary = value(&r, "summary");
  assert!(summary.contains("backup-during: 200 in"), "{summary}");
}

#[test]
fn event_readiness_records_answers_scorecard_and_action_items() {
  let region = "af-south-1";
  seed_incident(region);
  moto().seed(region, FARGATE_USAGE);
  let quotas = fargate_quota();
  let url = crate::http::server();
  let answers = ["checkout p99 < 800 ms at 22x", "bridge 555-0100"]
    .into_iter()
    // The workbook's pre-warming fields, in its order.
    .chain([
      "1234567890",
      "Black Friday sale",
      "ap-southeast-1",
      "acme-production",
      "ap-southeast-1a, ap-southeast-1b",
      "n",
      "2026-11-25",
      "y",
      "100",
      "24 hours",
      "n/a",
      "n/a",
      "1000",
      "22000",
      "2",
      "40",
    ])
    // 28 well-operated questions, 2 plans of 5 questions.
    .chain(std::iter::repeat_n("answered", 28 + 10))
    .chain([
      "GREEN", "GREEN", "GREEN", "YELLOW", "GREEN", "GREEN", "GREEN",
    ])
    .chain([
      "quota at 92 %",
      "Sam (platform)",
      "raise by 2026-11-13",
      "not requested yet",
      "Dana (SRE)",
      "by 2026-11-20",
    ])
    .map(|a| format!("{a}\n"))
    .collect::<String>();
  let ran = shipped(
    "runbooks/event-readiness.md",
    &[
      "customer=acme",
      "event=Black Friday",
      "start=2026-11-27 08:00 GMT+8",
      "end=2026-11-28 08:00 GMT+8",
      &format!("endpoint={url}/health"),
      "load_balancer_group=acme-production-api",
      "quota_services=fargate",
    ],
  )
  .env(aws_env(region))
  .env(quotas_at(&quotas))
  .args(&["--yes"])
  .stdin(&answers)
  .run();
  // The timeline checklist stays unconfirmed without a terminal.
  ran.assert(3);
  let r = records(&ran.transcript());
  assert!(value(&r, "prewarm").contains("1000 → 22000 rps (22x normal)"));
  assert_eq!(value(&r, "scorecard"), "YELLOW");
  let items = &finished(&r, "action-items")["output"]["value"];
  // Capacity was answered GREEN, but a quota is at 92 %: not GREEN.
  assert_eq!(
    finished(&r, "limits")["output"]["flagged"],
    serde_json::json!(["fargate Fargate On-Demand vCPU resource count: 92 % (5.50 of 6)"])
  );
  assert_eq!(
    items[0]["area"],
    "Scalability: EC2 and critical services capacity"
  );
  assert_eq!(items[0]["owner"], "Sam (platform)");
  assert_eq!(items[0]["reason"], "quota at 92 %");
  assert_eq!(items[0]["remarks"], "raise by 2026-11-13");
  assert_eq!(items[1]["area"], "Scalability: load balancer pre-warm");
  assert_eq!(items[1]["owner"], "Dana (SRE)");
  // The workbook's pre-warming fields are asked and their answers recorded.
  let transcript = ran.transcript();
  for question in [
    "The load balancer's availability zones",
    "Backend instances: when will they be scaled?",
    "Backend instances: do they keep persistent connections (keep-alive)?",
    "Average size of each GET response, in KB",
  ] {
    assert!(transcript.contains(question), "{question:?} not asked");
  }
  // The rollback plan's question is the workbook's, not the primary's.
  assert!(
    transcript
      .contains("Secondary or rollback plan: what events will trigger a complete rollback?")
  );
  let answered = &finished(&r, "well-operated")["output"]["value"];
  assert_eq!(answered["security"][0]["answer"], "answered");
}

/// moto has no Service Quotas: a scripted peer answers that service only,
/// with Fargate's on-demand vCPU quota at its default of 6 and its usage
/// metric (which moto's CloudWatch serves).
fn fargate_quota() -> crate::scripted::Scripted {
  use crate::scripted::{Reply, Scripted};
  Scripted::start(|op, _| match op {
    "ListAWSDefaultServiceQuotas" => Reply::ok(
      r#"{"Quotas":[{"ServiceCode":"fargate","QuotaCode":"L-3032A538","QuotaName":"Fargate On-Demand vCPU resource count","Value":6.0,"Unit":"None","Adjustable":true,"UsageMetric":{"MetricNamespace":"AWS/Usage","MetricName":"ResourceCount","MetricDimensions":{"Service":"Fargate","Resource":"vCPU","Type":"Resource","Class":"Standard/OnDemand"},"MetricStatisticRecommendation":"Maximum"}}]}"#,
    ),
    "ListServiceQuotas" => Reply::ok(r#"{"Quotas":[]}"#),
    _ => Reply::error("UnknownOperation", op),
  })
}

/// Service Quotas at `peer`, every other service where `aws_env` points.
fn quotas_at(peer: &crate::scripted::Scripted) -> Vec<(String, String)> {
  vec![(
    "AWS_ENDPOINT_URL_SERVICE_QUOTAS".to_string(),
    peer.url.clone(),
  )]
}

/// Fargate's on-demand vCPU at 5.5 of the 6 two hours ago.
const FARGATE_USAGE: &str = "import datetime
cw = boto3.client('cloudwatch', endpoint_url=E, region_name=R)
cw.put_metric_data(Namespace='AWS/Usage', MetricData=[{'MetricName': 'ResourceCount', 'Value': 5.5,
  'Timestamp': datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(hours=2),
  'Dimensions': [{'Name': n, 'Value': v} for n, v in (('Service', 'Fargate'), ('Resource', 'vCPU'),
                 ('Type', 'Resource'), ('Class', 'Standard/OnDemand'))]}])";

#[test]
fn pre_deployment_readiness_finds_the_single_zone_and_a_quota_auto_scaling_would_hit() {
  let region = "ap-east-1";
  seed_incident(region);
  moto().seed(region, FARGATE_USAGE);
  let quotas = fargate_quota();
  let answers = "answered\n".repeat(21);
  let ran = shipped(
    "runbooks/pre-deployment-readiness.md",
    &[
      "customer=acme",
      "cluster=acme-production",
      "service=api",
      "quota_services=fargate",
    ],
  )
  .env(aws_env(region))
  .env(quotas_at(&quotas))
  .args(&["--yes"])
  .stdin(&answers)
  .run();
  ran.assert(1);
  let r = records(&ran.transcript());
  let evidence = &finished(&r, "evidence")["output"]["value"];
  assert_eq!(evidence["multi_az"], false);
  assert_eq!(evidence["alarms"], 3);
  assert_eq!(evidence["autoscaling"], true);
  // api scales to 6 tasks of 0.5 vCPU from the 2 running: 2 more vCPU.
  assert_eq!(
    evidence["scaling_ceiling"],
    "auto scaling api to 6 tasks needs 2.0 more vCPU; the Fargate On-Demand vCPU quota (6.0) leaves 0.5"
  );
  let error = finished(&r, "readiness")["error"]
    .as_str()
    .unwrap_or_default()
    .to_string();
  assert!(error.contains("single point of failure"), "{error}");
  assert!(
    error.contains("quota fargate Fargate On-Demand vCPU resource count: 92 % (5.50 of 6)"),
    "{error}"
  );
}

#[test]
fn incident_response_acknowledges_first_then_posts_both_notifications_by_email_and_slack() {
  let region = "ap-east-2";
  moto().seed(
    region,
    "sns = boto3.client('sns', endpoint_url=E, region_name=R)
sqs = boto3.client('sqs', endpoint_url=E, region_name=R)
topic = sns.create_topic(Name='incidents')['TopicArn']
queue = sqs.create_queue(QueueName='incident-mail')['QueueUrl']
arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=['QueueArn'])['Attributes']['QueueArn']
sns.subscribe(TopicArn=topic, Protocol='sqs', Endpoint=arn)",
  );
  let (url, posts) = crate::secrets::recording_server();
  let webhook = format!("{url}/services/T0/B0/inc1dentHook");
  let answers = [
    "2",
    "checkout fails for 30% of users",
    "10:30 UTC",
    "y",
    "n",
    "n",
    "n",
    "n",
    "09:40-10:25 UTC",
    "a bad deployment",
    "canary added",
  ]
  .map(|a| format!("{a}\n"))
  .concat();
  let ran = shipped(
    "playbooks/incident-response.md",
    &[
      "customer=acme",
      "service=checkout",
      &format!("email_topic=arn:aws:sns:{region}:123456789012:incidents"),
    ],
  )
  .env(aws_env(region))
  .env(vec![("LITOPS_SLACK_WEBHOOK".into(), webhook)])
  .args(&["--yes"])
  .stdin(&answers)
  .run();
  ran.assert(3);
  let r = records(&ran.transcript());
  // The source's order: the alert is acknowledged before anything is sent.
  let order: Vec<&str> = r
    .iter()
    .filter(|x| x["type"] == "step-finished")
    .filter_map(|x| x["step"].as_str())
    .collect();
  let at = |id: &str| order.iter().position(|s| *s == id).unwrap_or(usize::MAX);
  assert!(
    at("detection-and-acknowledgment-1") < at("classify"),
    "{order:?}"
  );
  assert!(value(&r, "classify") == "2");
  let initial = value(&r, "initial-notification");
  assert!(initial.starts_with("🚨 INCIDENT ALERT - Severity 2\nService: checkout"));
  assert!(
    finished(&r, "classify")["output"].to_string().contains(
      "Proactive customer communication required: Severity 2 affecting more than 25% of users."
    ),
    "{}",
    finished(&r, "classify")
  );
  assert_eq!(
    value(&r, "escalation"),
    "Level 2 (senior SRE): not resolved within the SLA; in Slack and by email"
  );
  assert_eq!(value(&r, "vendor-escalation"), "Production System Impaired");
  assert!(value(&r, "resolution-notification").contains("Root Cause: a bad deployment"));
  // Slack got both messages, as sent; the webhook's URL is nowhere recorded.
  let slack: Vec<serde_json::Value> = (0..2)
    .map(|_| {
      let post = posts.recv().expect("a Slack post");
      serde_json::from_str(post.rsplit("\r\n").next().unwrap_or_default()).expect("JSON")
    })
    .collect();
  assert_eq!(slack[0]["text"], initial.as_str());
  assert!(
    slack[1]["text"]
      .as_str()
      .is_some_and(|t| t.starts_with("✅ INCIDENT RESOLVED - Severity 2")),
    "{}",
    slack[1]
  );
  assert!(!ran.transcript().contains("inc1dentHook"));
  // Email: both messages reached the topic's subscribers.
  moto().seed(
    region,
    "import json
sqs = boto3.client('sqs', endpoint_url=E, region_name=R)
queue = sqs.get_queue_url(QueueName='incident-mail')['QueueUrl']
got = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get('Messages', [])
subjects = sorted(json.loads(m['Body'])['Subject'] for m in got)
assert subjects == ['INCIDENT ALERT - Severity 2 - checkout', 'INCIDENT RESOLVED - Severity 2 - checkout'], subjects",
  );
}

#[test]
fn diff_of_two_morning_checks_reads_at_a_glance() {
  let region = "us-west-2";
  seed_incident(region);
  let first = run(
    region,
    "runbooks/morning-health-check.md",
    MORNING,
    &["--yes-readonly", "--transcript", "yesterday.md"],
  );
  first.assert(1);
  // Overnight the alarm cleared and more errors were logged.
  moto().seed(
    region,
    "cw = boto3.client('cloudwatch', endpoint_url=E, region_name=R)
cw.set_alarm_state(AlarmName='acme-production-api-cpu-high', StateValue='OK', StateReason='recovered')
logs = boto3.client('logs', endpoint_url=E, region_name=R)
logs.put_log_events(logGroupName='/ecs/acme-production-api', logStreamName='api/api/4f2a',
  logEvents=[{'timestamp': int(time.time() * 1000) - 5000, 'message': 'ERROR checkout: card declined storm'}])",
  );
  let dir = first.dir.path();
  let path = format!(
    "{}/runbooks/morning-health-check.md",
    env!("CARGO_MANIFEST_DIR")
  );
  let mut args: Vec<String> = vec!["run".into(), path, "--yes-readonly".into()];
  for p in MORNING {
    args.extend(["--param".to_string(), (*p).to_string()]);
  }
  args.extend(["--transcript".to_string(), "today.md".to_string()]);
  let second = crate::command(dir, &args)
    .envs(incident_env(region))
    .output()
    .expect("second run");
  assert_eq!(second.status.code(), Some(1));
  let out = crate::command(
    dir,
    &["diff".into(), "yesterday.md".into(), "today.md".into()],
  )
  .output()
  .expect("diff");
  let text = String::from_utf8_lossy(&out.stdout);
  assert_eq!(out.status.code(), Some(1), "{text}");
  assert!(text.contains("runbook: the same in both runs"), "{text}");
  assert!(text.contains("  count: 1 → 0\n"), "{text}");
  assert!(
    text.contains("  alarms[acme-production-api-cpu-high]: removed\n"),
    "{text}"
  );
  assert!(
    text.contains("  error:\n    - 1 alarm(s) in ALARM: acme-production-api-cpu-high\n"),
    "{text}"
  );
  assert!(
    text.contains("rows: 19 → 20 (1 added, 0 removed)"),
    "{text}"
  );
  // Unchanged services are not listed.
  assert!(!text.contains("services:"), "{text}");
  assert!(
    text.contains("step(s) with the same status and outputs"),
    "{text}"
  );
}

#[test]
fn startup_playbook_names_the_image_tag_missing_from_the_registry() {
  let region = "ap-northeast-3";
  let r = incident(
    region,
    "playbooks/ecs-startup-failure.md",
    &[
      "customer=acme",
      "environment=production",
      "cluster=acme-production",
      "service=api",
      "log_group=/ecs/acme-production-api",
    ],
  );
  let image = finished(&r, "images");
  let missing = format!("123456789012.dkr.ecr.{region}.amazonaws.com/acme/api:v143");
  assert_eq!(image["output"]["missing"], serde_json::json!([missing]));
  let verdict = finished(&r, "verdict");
  assert!(
    verdict["error"]
      .as_str()
      .is_some_and(|e| e.contains(&format!("image not in the registry: {missing}"))),
    "{verdict}"
  );
  // The secrets were checked too, though the image was the first finding.
  assert_eq!(finished(&r, "secrets")["status"], "done");
}

/// The README's table of shipped documents counts, per document, the steps
/// litops runs and the checklist items left to a person: the same counts
/// `litops plan --json` gives, so the table cannot drift from the documents.
#[test]
fn readme_counts_of_automated_steps_and_checklist_items_match_the_documents() {
  let root = env!("CARGO_MANIFEST_DIR");
  let readme = std::fs::read_to_string(format!("{root}/README.md")).expect("README");
  let rows: Vec<(&str, &str)> = readme
    .lines()
    .filter_map(|line| {
      let document = line.strip_prefix("| [`")?.split('`').next()?;
      let counts = line.trim_end_matches(" |").rsplit("| ").next()?;
      Some((document, counts))
    })
    .collect();
  let mut shipped: Vec<String> = ["runbooks", "playbooks"]
    .iter()
    .flat_map(|dir| {
      std::fs::read_dir(format!("{root}/{dir}"))
        .expect("dir")
        .filter_map(|e| e.ok())
        .map(move |e| format!("{dir}/{}", e.file_name().to_string_lossy()))
    })
    .filter(|p| p.ends_with(".md"))
    .collect();
  shipped.sort();
  let mut listed: Vec<String> = rows.iter().map(|(d, _)| d.to_string()).collect();
  listed.sort();
  assert_eq!(listed, shipped, "every shipped document has one README row");
  for (document, counts) in rows {
    let ran = Test::new()
      .args(&["plan", "--json", &format!("{root}/{document}")])
      .run();
    ran.assert(0);
    let plan: serde_json::Value = serde_json::from_str(&ran.stdout).expect("plan --json");
    let steps = plan["steps"].as_array().expect("steps");
    let manual = steps.iter().filter(|s| s["kind"] == "manual").count();
    assert_eq!(
      counts,
      format!("{} / {manual}", steps.len() - manual),
      "{document}"
    );
  }
}

/// The 9:00 check run unattended for the team: its evidence kept in S3
/// under Object Lock and anchored by a digest, the findings and what
/// changed since yesterday told on SNS.
#[test]
fn the_morning_check_runs_unattended_keeps_its_evidence_and_tells_the_team() {
  let region = "ap-east-2";
  seed_incident(region);
  moto().seed(
    region,
    "s3 = boto3.client('s3', endpoint_url=E, region_name=R)
s3.create_bucket(Bucket='acme-morning-evidence', ObjectLockEnabledForBucket=True,
                 CreateBucketConfiguration={'LocationConstraint': R})
sns = boto3.client('sns', endpoint_url=E, region_name=R)
sqs = boto3.client('sqs', endpoint_url=E, region_name=R)
topic = sns.create_topic(Name='team-alerts')['TopicArn']
queue = sqs.create_queue(QueueName='team-alerts-copy')['QueueUrl']
arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=['QueueArn'])['Attributes']['QueueArn']
sns.subscribe(TopicArn=topic, Protocol='sqs', Endpoint=arn)",
  );
  let test = Test::new();
  let dir = test.dir.path().to_path_buf();
  let topic = format!("sns:arn:aws:sns:{region}:123456789012:team-alerts");
  let store = "s3://acme-morning-evidence/daily";
  let run = || {
    let mut args: Vec<String> = vec![
      "run".into(),
      format!(
        "{}/runbooks/morning-health-check.md",
        env!("CARGO_MANIFEST_DIR")
      ),
      "--yes".into(),
      "--store".into(),
      store.into(),
      "--notify".into(),
      topic.clone(),
      "--summary-json".into(),
      "summary.json".into(),
    ];
    for p in MORNING {
      args.extend(["--param".to_string(), (*p).to_string()]);
    }
    let mut cmd = crate::command(&dir, &args);
    cmd.envs(incident_env(region));
    cmd
      .stdin(std::process::Stdio::null())
      .output()
      .expect("run")
  };
  let first = run();
  assert_eq!(first.status.code(), Some(1));
  // Overnight the alarm cleared.
  moto().seed(
    region,
    "cw = boto3.client('cloudwatch', endpoint_url=E, region_name=R)
cw.set_alarm_state(AlarmName='acme-production-api-cpu-high', StateValue='OK', StateReason='recovered')",
  );
  let second = run();
  let stderr = String::from_utf8_lossy(&second.stderr).into_owned();
  assert_eq!(second.status.code(), Some(1), "{stderr}");
  let stored = stderr
    .lines()
    .find_map(|l| l.strip_prefix("litops: stored "))
    .expect("stored")
    .to_string();
  let summary: serde_json::Value =
    serde_json::from_str(&std::fs::read_to_string(dir.join("summary.json")).expect("summary"))
      .expect("json");
  assert_eq!(summary["runs"][0]["transcript"], stored.as_str());
  // Intact where it is kept; locked there; anchored by a digest.
  let litops = |args: &[&str]| {
    let mut cmd = crate::command(
      &dir,
      &args.iter().map(|a| a.to_string()).collect::<Vec<_>>(),
    );
    cmd.envs(incident_env(region));
    let out = cmd.output().expect("litops");
    (
      out.status.code(),
      String::from_utf8_lossy(&out.stdout).into_owned(),
    )
  };
  let (code, report) = litops(&["verify", &stored]);
  assert_eq!(code, Some(0), "{report}");
  assert_eq!(litops(&["keygen", "ops"]).0, Some(0));
  let (code, out) = litops(&["digest", store, "--key", "ops.key"]);
  assert_eq!(code, Some(0), "{out}");
  assert!(out.contains(": 2 transcript(s)"), "{out}");
  let (code, out) = litops(&["verify", store, "--digests", "--key", "ops.pub"]);
  assert_eq!(code, Some(0), "{out}");
  let key = stored.trim_start_matches("s3://acme-morning-evidence/");
  moto().seed(
    region,
    &format!(
      "import json
s3 = boto3.client('s3', endpoint_url=E, region_name=R)
head = s3.head_object(Bucket='acme-morning-evidence', Key='{key}')
assert head['ObjectLockMode'] == 'COMPLIANCE', head
try:
    s3.delete_object(Bucket='acme-morning-evidence', Key='{key}', VersionId=head['VersionId'])
    raise SystemExit('deleted')
except s3.exceptions.ClientError as e:
    assert e.response['Error']['Code'] == 'AccessDenied', e.response
sqs = boto3.client('sqs', endpoint_url=E, region_name=R)
queue = sqs.get_queue_url(QueueName='team-alerts-copy')['QueueUrl']
got = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get('Messages', [])
bodies = [json.loads(m['Body'])['Message'] for m in got]
assert len(bodies) == 2, bodies
today = bodies[-1] if 'since the previous run (' in bodies[-1] else bodies[0]
assert 'verdict: attention needed:' in today, today
assert 'ECS service api: 2 of 3 tasks running' in today, today
assert 'since the previous run (' in today, today
assert '- alarms: done' in today, today
assert 'transcript: {stored}' in today, today"
    ),
  );
}
