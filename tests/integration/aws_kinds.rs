//! `cloudwatch alarms`, `elb targets` and `dynamodb describe` through the
//! binary against seeded moto state.

use crate::moto::{aws_env, moto};
use crate::{Test, records};

fn run(region: &str, runbook: &str) -> Vec<serde_json::Value> {
  records(&run_with(aws_env(region), runbook).transcript())
}

/// `litops run rb.md --yes` with `env` (a scripted peer's), which must pass.
fn run_with(env: Vec<(String, String)>, runbook: &str) -> crate::Ran {
  let ran = Test::new()
    .runbook(runbook)
    .env(env)
    .args(&["run", "rb.md", "--yes"])
    .run();
  ran.assert(0);
  ran
}

#[test]
fn alarms_in_alarm_state_by_prefix() {
  let region = "us-west-1";
  moto().seed(
    region,
    "cw = boto3.client('cloudwatch', endpoint_url=E, region_name=R)
for name in ['acme-prod-cpu-high', 'acme-prod-5xx', 'globex-prod-cpu-high']:
    cw.put_metric_alarm(AlarmName=name, MetricName='CPUUtilization', Namespace='AWS/ECS', Statistic='Average',
        Period=60, EvaluationPeriods=1, Threshold=85.0, ComparisonOperator='GreaterThanThreshold')
cw.set_alarm_state(AlarmName='acme-prod-cpu-high', StateValue='ALARM', StateReason='CPU 93% > 85% for 5 minutes')
cw.set_alarm_state(AlarmName='globex-prod-cpu-high', StateValue='ALARM', StateReason='other customer')",
  );
  let r = run(
    region,
    "```cloudwatch {name=alarms}\naction: alarms\nprefix: acme-prod-\n```\n",
  );
  let out = &r[2]["output"];
  assert_eq!(out["state"], "ALARM");
  assert_eq!(out["count"], 1);
  assert_eq!(out["alarms"][0]["name"], "acme-prod-cpu-high");
  assert_eq!(out["alarms"][0]["reason"], "CPU 93% > 85% for 5 minutes");
  assert_eq!(out["alarms"][0]["threshold"], 85.0);
}

#[test]
fn target_health_by_group_name() {
  let region = "us-east-2";
  moto().seed(
    region,
    "ec2 = boto3.client('ec2', endpoint_url=E, region_name=R)
vpc = ec2.describe_vpcs()['Vpcs'][0]['VpcId']
ids = [i['InstanceId'] for i in ec2.run_instances(ImageId='ami-12c6146b', MinCount=2, MaxCount=2)['Instances']]
elb = boto3.client('elbv2', endpoint_url=E, region_name=R)
tg = elb.create_target_group(Name='acme-api', Protocol='HTTP', Port=8080, VpcId=vpc, TargetType='instance')['TargetGroups'][0]['TargetGroupArn']
elb.register_targets(TargetGroupArn=tg, Targets=[{'Id': i, 'Port': 8080} for i in ids])",
  );
  let r = run(
    region,
    "```elb {name=targets}\naction: targets\ntarget-group: acme-api\n```\n",
  );
  let out = &r[2]["output"];
  assert_eq!(out["total"], 2);
  assert!(
    out["target_group"]
      .as_str()
      .is_some_and(|a| a.starts_with("arn:aws:elasticloadbalancing:us-east-2:"))
  );
  assert_eq!(out["targets"][0]["port"], 8080);
  assert!(out["targets"][0]["state"].is_string());
}

fn seed_table(region: &str) {
  moto().seed(
    region,
    "ddb = boto3.client('dynamodb', endpoint_url=E, region_name=R)
ddb.create_table(TableName='acme-orders', BillingMode='PROVISIONED',
  AttributeDefinitions=[{'AttributeName': 'id', 'AttributeType': 'S'}, {'AttributeName': 'customer', 'AttributeType': 'S'}],
  KeySchema=[{'AttributeName': 'id', 'KeyType': 'HASH'}],
  ProvisionedThroughput={'ReadCapacityUnits': 50, 'WriteCapacityUnits': 20},
  GlobalSecondaryIndexes=[{'IndexName': 'by-customer', 'KeySchema': [{'AttributeName': 'customer', 'KeyType': 'HASH'}],
    'Projection': {'ProjectionType': 'ALL'}, 'ProvisionedThroughput': {'ReadCapacityUnits': 10, 'WriteCapacityUnits': 5}}])
ddb.put_item(TableName='acme-orders', Item={'id': {'S': '1'}, 'customer': {'S': 'a'}})
aas = boto3.client('application-autoscaling', endpoint_url=E, region_name=R)
aas.register_scalable_target(ServiceNamespace='dynamodb', ResourceId='table/acme-orders',
  ScalableDimension='dynamodb:table:ReadCapacityUnits', MinCapacity=50, MaxCapacity=500)",
  );
  let r = run(
    region,
    "```dynamodb {name=orders}\naction: describe\ntable: acme-orders\n```\n",
  );
  let out = &r[2]["output"];
  assert_eq!(out["billing_mode"], "PROVISIONED");
  assert_eq!(out["read"], 50);
  assert_eq!(out["write"], 20);
  assert_eq!(out["indexes"][0]["name"], "by-customer");
  assert_eq!(out["indexes"][0]["read"], 10);
  assert_eq!(out["table_status"], "ACTIVE");
  assert_eq!(
    out["autoscaling"][0]["dimension"],
    "dynamodb:table:ReadCapacityUnits"
  );
  assert_eq!(out["autoscaling"][0]["max"], 500);
}

#[test]
fn raise_index_capacity_shows_the_diff_then_waits_for_active() {
  let region = "me-south-1";
  seed_table(region);
  let text = "```dynamodb {name=raise}\naction: capacity\ntable: acme-orders\nindex: by-customer\nread: 40\n```\n";
  let ran = Test::new()
    .runbook(text)
    .env(aws_env(region))
    .args(&["run", "rb.md", "--yes-readonly"])
    .stdin("run\n")
    .run();
  ran.assert(0);
  ran.shown_before_prompt(&[
    "index: by-customer",
    "-read: 10 RCU",
    "+read: 40 RCU",
    " write: 5 WCU",
    "region me-south-1",
  ]);
  let r = records(&ran.transcript());
  let out = &r[2]["output"];
  assert_eq!(out["before"]["read"], 10);
  assert_eq!(out["after"]["read"], 40);
  assert_eq!(out["after"]["write"], 5);
  assert_eq!(out["active"], true);
}

#[test]
fn service_scaling_target_and_policy() {
  let region = "af-south-1";
  crate::ecs::seed_cluster(region);
  moto().seed(
    region,
    "aas = boto3.client('application-autoscaling', endpoint_url=E, region_name=R)
aas.register_scalable_target(ServiceNamespace='ecs', ResourceId='service/acme-prod/api',
  ScalableDimension='ecs:service:DesiredCount', MinCapacity=2, MaxCapacity=10)
aas.put_scaling_policy(PolicyName='cpu70', ServiceNamespace='ecs', ResourceId='service/acme-prod/api',
  ScalableDimension='ecs:service:DesiredCount', PolicyType='TargetTrackingScaling',
  TargetTrackingScalingPolicyConfiguration={'TargetValue': 70.0,
    'PredefinedMetricSpecification': {'PredefinedMetricType': 'ECSServiceAverageCPUUtilization'}})",
  );
  let r = run(
    region,
    "```ecs {name=scaling}\naction: scaling\ncluster: acme-prod\nservice: api\n```\n",
  );
  let out = &r[2]["output"];
  assert_eq!(out["configured"], true);
  assert_eq!(out["targets"][0]["min"], 2);
  assert_eq!(out["targets"][0]["max"], 10);
  assert_eq!(out["policies"][0]["name"], "cpu70");
  assert_eq!(
    out["policies"][0]["metric"],
    "ECSServiceAverageCPUUtilization"
  );
  assert_eq!(out["policies"][0]["target_value"], 70.0);
}

const METRIC_RUNBOOK: &str = "```cloudwatch {name=cpu}
action: metric
namespace: AWS/ECS
metric: CPUUtilization
dimensions: {ClusterName: acme-prod, ServiceName: api}
stat: average
period: 5m
since: 3h
threshold: \"> 85\"
baseline: 7d
```

```rhai {name=verdict}
let cpu = steps[\"cpu\"];
if cpu.breaches > 0 && cpu.change_percent > 20.0 { \"hot\" } else { \"calm\" }
```
";

#[test]
fn metric_with_threshold_and_last_weeks_baseline() {
  let region = "ap-south-1";
  // A point in every 5-minute period from two periods ahead back past the
  // 3-hour window, so the window is full whichever period the run lands in;
  // the same window a week earlier at 40; another service's data must not
  // leak in.
  moto().seed(
    region,
    "import datetime
cw = boto3.client('cloudwatch', endpoint_url=E, region_name=R)
end = int(time.time()) // 300 * 300
def put(service, at, value):
    cw.put_metric_data(Namespace='AWS/ECS', MetricData=[{'MetricName': 'CPUUtilization',
        'Dimensions': [{'Name': 'ClusterName', 'Value': 'acme-prod'}, {'Name': 'ServiceName', 'Value': service}],
        'Timestamp': datetime.datetime.fromtimestamp(at, datetime.timezone.utc), 'Value': value}])
for k in range(-2, 40):
    at = end - k * 300 + 30
    put('api', at, 90.0 if k in (10, 11, 12) else 50.0)
    put('api', at - 7 * 86400, 40.0)
    put('worker', at, 99.0)",
  );
  // Once as the step runs, once prefetched when the run starts.
  for (flags, prefetch) in [(&[] as &[&str], false), (&["--prefetch"], true)] {
    let ran = Test::new()
      .runbook(METRIC_RUNBOOK)
      .env(aws_env(region))
      .args(&[["run", "rb.md", "--yes"].as_slice(), flags].concat())
      .run();
    ran.assert(0);
    // The terminal and the transcript's Markdown show the summary; the
    // points themselves are only in the record.
    let summary = "3 of 36 point(s) breach > 85";
    assert!(ran.stderr.contains(summary), "{}", ran.stderr);
    let transcript = ran.transcript();
    let markdown: String = transcript
      .lines()
      .filter(|l| !l.starts_with("<!-- litops:record"))
      .collect();
    assert!(markdown.contains(summary));
    assert!(!markdown.contains("\"points\""));
    // Averages such as 53.333… render from the parsed record with the same
    // digits they were written with: the transcript verifies.
    crate::verified(ran.dir.path(), &ran.transcript_path());
    let r = records(&transcript);
    let out = &r[2]["output"];
    // Prefetched or not, the same points; prefetched says when.
    assert_eq!(out.get("prefetched_at").is_some(), prefetch, "{out}");
    assert_eq!(out["stat"], "Average");
    assert_eq!(out["period"], 300);
    assert_eq!(out["count"], 36);
    assert_eq!(out["breaches"], 3);
    assert_eq!(out["max"], 90.0);
    assert_eq!(out["latest"], 50.0);
    assert_eq!(out["threshold"], "> 85");
    let points = out["points"].as_array().expect("points");
    assert_eq!(points.iter().filter(|p| p["breach"] == true).count(), 3);
    assert_eq!(out["baseline"]["shift"], "7d");
    assert_eq!(out["baseline"]["count"], 36);
    assert_eq!(out["baseline"]["average"], 40.0);
    // (3 × 90 + 33 × 50) / 36 = 53.33 against 40.
    let change = out["change_percent"].as_f64().expect("change");
    assert!((change - 33.33).abs() < 0.01, "{change}");
    assert_eq!(r[4]["output"]["value"], "hot");
  }
}

#[test]
fn ecr_image_says_which_images_are_not_in_the_registry() {
  let region = "me-central-1";
  moto().seed(
    region,
    "import json
ecr = boto3.client('ecr', endpoint_url=E, region_name=R)
ecr.create_repository(repositoryName='acme/api')
manifest = json.dumps({'schemaVersion': 2, 'mediaType': 'application/vnd.docker.distribution.manifest.v2+json',
  'config': {'mediaType': 'application/vnd.docker.container.image.v1+json', 'size': 7, 'digest': 'sha256:' + 'a' * 64},
  'layers': []})
ecr.put_image(repositoryName='acme/api', imageManifest=manifest, imageTag='v142')
ecs = boto3.client('ecs', endpoint_url=E, region_name=R)
ecs.create_cluster(clusterName='acme-prod')
uri = '123456789012.dkr.ecr.' + R + '.amazonaws.com/acme/api:v143'
td = ecs.register_task_definition(family='api', containerDefinitions=[{'name': 'web', 'image': uri, 'memory': 512}])['taskDefinition']['taskDefinitionArn']
ecs.create_service(cluster='acme-prod', serviceName='api', taskDefinition=td, desiredCount=1)",
  );
  let r = run(
    region,
    "```ecr {name=named}\naction: image\nimage: [acme/api:v142, acme/api:v143, registry.example/other:v1]\n```\n\n```ecr {name=service}\naction: image\ncluster: acme-prod\nservice: api\n```\n",
  );
  let named = &r[2]["output"];
  assert_eq!(named["all_exist"], false);
  assert_eq!(named["missing"], serde_json::json!(["acme/api:v143"]));
  assert_eq!(named["images"][0]["exists"], true);
  assert!(
    named["images"][0]["digest"]
      .as_str()
      .is_some_and(|d| d.starts_with("sha256:")),
    "{named}"
  );
  assert_eq!(named["images"][2]["exists"], serde_json::Value::Null);
  let service = &r[4]["output"];
  assert_eq!(
    service["missing"],
    serde_json::json!([format!(
      "123456789012.dkr.ecr.{region}.amazonaws.com/acme/api:v143"
    )])
  );
  // check holds the body to its schema.
  let ran = Test::new()
    .runbook("```ecr\naction: image\ncluster: acme-prod\n```\n")
    .args(&["check", "rb.md"])
    .run();
  ran.assert(1);
  assert!(
    ran.stderr.contains("`ecr`: `image` needs either"),
    "{}",
    ran.stderr
  );
}

#[test]
fn alarm_history_names_what_fired_overnight_and_recovered() {
  use crate::scripted::{Reply, Scripted};
  // moto answers DescribeAlarmHistory with 500: the scripted peer speaks
  // CloudWatch's query protocol instead.
  // The peer answers relative to the window the step asks for, so the
  // test reads no clock: minutes before the request's EndDate.
  let server = Scripted::start_with(move |op, _, body| {
    if op != "DescribeAlarmHistory" {
      return Reply::error("UnknownOperation", op);
    }
    let end = body
      .split('&')
      .find_map(|p| p.strip_prefix("EndDate="))
      .map(|v| {
        percent_encoding::percent_decode_str(v)
          .decode_utf8_lossy()
          .into_owned()
      })
      .and_then(|v| chrono::DateTime::parse_from_rfc3339(&v).ok())
      .expect("EndDate in the request");
    let item = |name: &str, minutes_ago: i64, from: &str, to: &str| {
      format!(
        "<member><AlarmName>{name}</AlarmName><Timestamp>{}</Timestamp><HistoryItemType>StateUpdate</HistoryItemType><HistorySummary>Alarm updated from {from} to {to}</HistorySummary><HistoryData>{{&quot;newState&quot;:{{&quot;stateValue&quot;:&quot;{to}&quot;}}}}</HistoryData></member>",
        (end - chrono::Duration::minutes(minutes_ago)).format("%Y-%m-%dT%H:%M:%SZ")
      )
    };
    let items = [
      item("acme-prod-cpu-high", 300, "OK", "ALARM"),
      item("acme-prod-cpu-high", 270, "ALARM", "OK"),
      item("acme-prod-5xx", 30, "OK", "ALARM"),
      item("globex-prod-cpu-high", 200, "OK", "ALARM"),
    ]
    .concat();
    Reply::ok(&format!(
      "<DescribeAlarmHistoryResponse xmlns=\"http://monitoring.amazonaws.com/doc/2010-08-01/\"><DescribeAlarmHistoryResult><AlarmHistoryItems>{items}</AlarmHistoryItems></DescribeAlarmHistoryResult><ResponseMetadata><RequestId>r</RequestId></ResponseMetadata></DescribeAlarmHistoryResponse>"
    ))
  });
  let ran = run_with(
    server.env(),
    "```cloudwatch {name=overnight}\naction: alarm-history\nprefix: acme-prod-\nsince: 12h\n```\n",
  );
  let r = records(&ran.transcript());
  let out = &r[2]["output"];
  assert_eq!(out["fired"], 2, "{out}");
  assert_eq!(out["not_recovered"], 1);
  assert_eq!(out["episodes"][0]["alarm"], "acme-prod-cpu-high");
  assert!(out["episodes"][0]["recovered_at"].is_string(), "{out}");
  assert_eq!(out["episodes"][1]["alarm"], "acme-prod-5xx");
  assert!(out["episodes"][1]["recovered_at"].is_null());
}

#[test]
fn rds_instances_replicas_snapshots_and_events() {
  let region = "eu-north-1";
  moto().seed(
    region,
    "rds = boto3.client('rds', endpoint_url=E, region_name=R)
rds.create_db_instance(DBInstanceIdentifier='acme-prod-db', DBInstanceClass='db.r6g.large', Engine='postgres',
  AllocatedStorage=100, MasterUsername='admin', MasterUserPassword='not-for-transcripts', MultiAZ=True)
rds.create_db_instance_read_replica(DBInstanceIdentifier='acme-prod-db-replica', SourceDBInstanceIdentifier='acme-prod-db')
rds.create_db_snapshot(DBSnapshotIdentifier='acme-prod-db-manual', DBInstanceIdentifier='acme-prod-db')
rds.create_db_instance(DBInstanceIdentifier='other-db', DBInstanceClass='db.t3.micro', Engine='mysql',
  AllocatedStorage=20, MasterUsername='admin', MasterUserPassword='not-for-transcripts')",
  );
  let r = run(
    region,
    "```rds {name=instances}\naction: instances\ninstance: acme-prod-db\n```\n\n```rds {name=backups}\naction: snapshots\ninstance: acme-prod-db\nmax-age: 24h\n```\n\n```rds {name=events}\naction: events\ninstance: acme-prod-db\nsince: 1h\n```\n",
  );
  let instances = &r[2]["output"];
  let ids: Vec<&str> = instances["instances"]
    .as_array()
    .expect("instances")
    .iter()
    .filter_map(|i| i["instance"].as_str())
    .collect();
  assert_eq!(ids, ["acme-prod-db", "acme-prod-db-replica"], "{instances}");
  assert_eq!(instances["instances"][0]["multi_az"], true);
  assert_eq!(instances["instances"][0]["storage_gb"], 100);
  assert_eq!(instances["instances"][1]["replica_of"], "acme-prod-db");
  assert_eq!(instances["all_available"], true);
  let backups = &r[4]["output"];
  assert_eq!(backups["all_fresh"], true, "{backups}");
  assert!(
    backups["instances"][0]["latest_manual"].is_string(),
    "{backups}"
  );
  assert_eq!(
    backups["instances"].as_array().map(Vec::len),
    Some(1),
    "replicas are not backed up"
  );
  assert!(r[6]["output"]["count"].as_u64().is_some(), "{}", r[6]);
}

#[test]
fn notify_posts_a_multi_line_message_to_a_secret_webhook_and_publishes_to_sns() {
  let (url, requests) = crate::secrets::recording_server();
  let webhook = format!("{url}/services/T000/B000/s3cretHookPath");
  let text = "---\nparams:\n  slack_webhook: {secret: true}\n---\n```rhai {name=compose}\nvars.notification = \"INCIDENT ALERT - Severity 2\\nService: api: checkout\\nStatus: Investigating\";\n```\n\n```notify {name=post}\nwebhook: \"{{ slack_webhook }}\"\nmessage: \"{{ notification }}\"\n```\n";
  let ran = Test::new()
    .runbook(text)
    .args(&[
      "run",
      "rb.md",
      "--yes",
      "--param",
      &format!("slack_webhook={webhook}"),
    ])
    .run();
  ran.assert(0);
  let request = requests.recv().expect("the webhook was called");
  assert!(
    request.starts_with("POST /services/T000/B000/s3cretHookPath "),
    "{request}"
  );
  let body: serde_json::Value =
    serde_json::from_str(request.rsplit("\r\n").next().unwrap_or_default()).expect("JSON body");
  assert_eq!(
    body["text"],
    "INCIDENT ALERT - Severity 2\nService: api: checkout\nStatus: Investigating"
  );
  assert!(!ran.transcript().contains("s3cretHookPath"));
  assert!(!ran.stderr.contains("s3cretHookPath"));

  // SNS, asserted through an SQS queue subscribed to the topic.
  let region = "ap-south-2";
  moto().seed(
    region,
    "sns = boto3.client('sns', endpoint_url=E, region_name=R)
sqs = boto3.client('sqs', endpoint_url=E, region_name=R)
topic = sns.create_topic(Name='alerts')['TopicArn']
queue = sqs.create_queue(QueueName='alerts-copy')['QueueUrl']
arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=['QueueArn'])['Attributes']['QueueArn']
sns.subscribe(TopicArn=topic, Protocol='sqs', Endpoint=arn)",
  );
  let topic = format!("arn:aws:sns:{region}:123456789012:alerts");
  let r = run(
    region,
    &format!(
      "```notify {{name=page}}\ntopic: {topic}\nsubject: litops\nmessage: |\n  api below desired\n  second line\n```\n"
    ),
  );
  assert!(r[2]["output"]["message_id"].is_string(), "{}", r[2]);
  moto().seed(
    region,
    "import json
sqs = boto3.client('sqs', endpoint_url=E, region_name=R)
queue = sqs.get_queue_url(QueueName='alerts-copy')['QueueUrl']
messages = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=1).get('Messages', [])
assert messages, 'nothing delivered'
assert json.loads(messages[0]['Body'])['Message'] == 'api below desired\\nsecond line\\n', messages[0]['Body']",
  );
}

#[test]
fn elb_health_check_settings_and_listener_certificates_near_expiry() {
  let region = "sa-east-1";
  moto().seed(
    region,
    "ec2 = boto3.client('ec2', endpoint_url=E, region_name=R)
vpc = ec2.describe_vpcs()['Vpcs'][0]['VpcId']
subnets = [s['SubnetId'] for s in ec2.describe_subnets()['Subnets']][:2]
elb = boto3.client('elbv2', endpoint_url=E, region_name=R)
tg = elb.create_target_group(Name='acme-api', Protocol='HTTP', Port=8080, VpcId=vpc, TargetType='instance',
  HealthCheckPath='/health', HealthCheckIntervalSeconds=15, Matcher={'HttpCode': '200-299'})['TargetGroups'][0]['TargetGroupArn']
lb = elb.create_load_balancer(Name='acme-prod', Subnets=subnets)['LoadBalancers'][0]['LoadBalancerArn']
acm = boto3.client('acm', endpoint_url=E, region_name=R)
cert = acm.request_certificate(DomainName='api.acme.example')['CertificateArn']
elb.create_listener(LoadBalancerArn=lb, Protocol='HTTPS', Port=443, Certificates=[{'CertificateArn': cert}],
  DefaultActions=[{'Type': 'forward', 'TargetGroupArn': tg}])",
  );
  // A certificate moto issues for a year is expiring under `min-days: 400`.
  let r = run(
    region,
    "```elb {name=settings}\naction: target-group\ntarget-group: acme-api\n```\n\n```elb {name=listeners}\naction: listeners\nload-balancer: acme-prod\nmin-days: 400\n```\n",
  );
  let settings = &r[2]["output"];
  assert_eq!(settings["health_check"]["path"], "/health");
  assert_eq!(settings["health_check"]["interval_seconds"], 15);
  assert_eq!(settings["health_check"]["matcher"], "200-299");
  let listeners = &r[4]["output"];
  assert_eq!(listeners["listeners"][0]["port"], 443, "{listeners}");
  assert_eq!(
    listeners["listeners"][0]["target_groups"],
    serde_json::json!(["acme-api"])
  );
  let cert = &listeners["listeners"][0]["certificates"][0];
  assert_eq!(cert["domain"], "api.acme.example", "{listeners}");
  assert!(
    cert["days_left"].as_i64().is_some_and(|d| d < 400),
    "{cert}"
  );
  assert_eq!(listeners["expiring"].as_array().map(Vec::len), Some(1));
}

#[test]
fn ecs_deployments_and_secrets_the_task_definition_references() {
  let region = "us-gov-east-1";
  moto().seed(
    region,
    "sm = boto3.client('secretsmanager', endpoint_url=E, region_name=R)
db = sm.create_secret(Name='acme/db-password', SecretString='value-never-read')['ARN']
ssm = boto3.client('ssm', endpoint_url=E, region_name=R)
ssm.put_parameter(Name='/acme/api-key', Value='value-never-read', Type='SecureString')
ecs = boto3.client('ecs', endpoint_url=E, region_name=R)
ecs.create_cluster(clusterName='acme-prod')
td = ecs.register_task_definition(family='api', containerDefinitions=[{'name': 'web', 'image': 'api:v1', 'memory': 512,
  'secrets': [{'name': 'DB_PASSWORD', 'valueFrom': db},
              {'name': 'API_KEY', 'valueFrom': 'arn:aws:ssm:' + R + ':123456789012:parameter/acme/api-key'},
              {'name': 'OLD_TOKEN', 'valueFrom': 'arn:aws:secretsmanager:' + R + ':123456789012:secret:acme/gone-AbCdEf'}]}])['taskDefinition']['taskDefinitionArn']
ecs.create_service(cluster='acme-prod', serviceName='api', taskDefinition=td, desiredCount=1)",
  );
  let r = run(
    region,
    "```ecs {name=deployments}\naction: deployments\ncluster: acme-prod\nservice: api\n```\n\n```ecs {name=secrets}\naction: secrets\ncluster: acme-prod\nservice: api\n```\n",
  );
  let deployments = &r[2]["output"];
  assert!(
    deployments["deployments"]
      .as_array()
      .is_some_and(|d| !d.is_empty()),
    "{deployments}"
  );
  assert_eq!(deployments["deployments"][0]["task_definition"], "api:1");
  let secrets = &r[4]["output"];
  assert_eq!(secrets["all_exist"], false, "{secrets}");
  let exists: Vec<(String, bool)> = secrets["references"]
    .as_array()
    .expect("references")
    .iter()
    .map(|x| {
      (
        x["variable"].as_str().unwrap_or("?").to_string(),
        x["exists"] == true,
      )
    })
    .collect();
  assert_eq!(
    exists,
    [
      ("DB_PASSWORD".to_string(), true),
      ("API_KEY".into(), true),
      ("OLD_TOKEN".into(), false)
    ]
  );
  assert!(!r.iter().any(|x| x.to_string().contains("value-never-read")));
}

#[test]
fn dynamodb_contributor_insights_names_the_hot_key() {
  use crate::scripted::{Reply, Scripted};
  // moto answers DescribeContributorInsights with 500: the scripted peer
  // speaks DynamoDB's JSON and CloudWatch's query protocol.
  let server = Scripted::start(|op, _| match op {
    "DescribeContributorInsights" => Reply::ok(
      r#"{"TableName":"acme-orders","ContributorInsightsStatus":"ENABLED","ContributorInsightsRuleList":["DynamoDBContributorInsights-PKC-acme-orders-1"]}"#,
    ),
    "GetInsightRuleReport" => Reply::ok(
      "<GetInsightRuleReportResponse xmlns=\"http://monitoring.amazonaws.com/doc/2010-08-01/\"><GetInsightRuleReportResult><KeyLabels><member>pk</member></KeyLabels><AggregationStatistic>Sum</AggregationStatistic><Contributors><member><Keys><member>customer#4711</member></Keys><ApproximateAggregateValue>900</ApproximateAggregateValue><Datapoints/></member><member><Keys><member>customer#12</member></Keys><ApproximateAggregateValue>100</ApproximateAggregateValue><Datapoints/></member></Contributors></GetInsightRuleReportResult><ResponseMetadata><RequestId>r</RequestId></ResponseMetadata></GetInsightRuleReportResponse>",
    ),
    _ => Reply::error("UnknownOperation", op),
  });
  let ran = run_with(
    server.env(),
    "```dynamodb {name=hot-keys}\naction: contributor-insights\ntable: acme-orders\n```\n",
  );
  let r = records(&ran.transcript());
  let out = &r[2]["output"];
  assert_eq!(out["insights_status"], "ENABLED", "{out}");
  assert_eq!(out["top"][0]["key"], "customer#4711");
  assert_eq!(out["top"][0]["share_percent"], 90.0);
}

#[test]
fn ecs_scaling_activities_counts_failures_for_the_named_service() {
  use crate::scripted::{Reply, Scripted};
  // moto keeps no scaling history: the scripted peer speaks Application
  // Auto Scaling's JSON and answers only for the service asked about.
  let server = Scripted::start_with(|op, _, body| match op {
    "DescribeScalingActivities" if body.contains("service/acme-prod/orders-api") => Reply::ok(
      r#"{"ScalingActivities":[{"ActivityId":"a2","ServiceNamespace":"ecs","ResourceId":"service/acme-prod/orders-api","ScalableDimension":"ecs:service:DesiredCount","Description":"Setting desired count to 12.","Cause":"monitor alarm CPU-high","StartTime":1764590400,"StatusCode":"Failed","StatusMessage":"capacity unavailable"},{"ActivityId":"a1","ServiceNamespace":"ecs","ResourceId":"service/acme-prod/orders-api","ScalableDimension":"ecs:service:DesiredCount","Description":"Setting desired count to 8.","Cause":"monitor alarm CPU-high","StartTime":1764586800,"EndTime":1764586860,"StatusCode":"Successful"}]}"#,
    ),
    "DescribeScalingActivities" => Reply::ok(r#"{"ScalingActivities":[]}"#),
    _ => Reply::error("UnknownOperation", op),
  });
  let ran = run_with(
    server.env(),
    "```ecs {name=scaling-history}\naction: scaling-activities\ncluster: acme-prod\nservice: orders-api\n```\n",
  );
  let r = records(&ran.transcript());
  let out = &r[2]["output"];
  assert_eq!(out["service"], "orders-api", "{out}");
  assert_eq!(out["failed"], 1);
  assert_eq!(out["activities"].as_array().map(Vec::len), Some(2));
  assert_eq!(out["activities"][0]["status"], "Failed");
  assert_eq!(out["activities"][0]["message"], "capacity unavailable");
  assert_eq!(out["activities"][1]["ended_at"], "2025-12-01T11:01:00Z");
  let shown = format!("{}{}", ran.stdout, ran.stderr);
  assert!(shown.contains("2 activity(ies), 1 failed"), "{shown}");
  assert!(shown.contains("Setting desired count to 12."), "{shown}");
}

#[test]
fn dynamodb_autoscaling_says_reads_only_and_the_target_utilisation() {
  let region = "ap-southeast-5";
  moto().seed(
    region,
    "ddb = boto3.client('dynamodb', endpoint_url=E, region_name=R)
ddb.create_table(TableName='acme-orders', BillingMode='PROVISIONED',
  AttributeDefinitions=[{'AttributeName': 'id', 'AttributeType': 'S'}],
  KeySchema=[{'AttributeName': 'id', 'KeyType': 'HASH'}],
  ProvisionedThroughput={'ReadCapacityUnits': 50, 'WriteCapacityUnits': 20})
aas = boto3.client('application-autoscaling', endpoint_url=E, region_name=R)
aas.register_scalable_target(ServiceNamespace='dynamodb', ResourceId='table/acme-orders',
  ScalableDimension='dynamodb:table:ReadCapacityUnits', MinCapacity=50, MaxCapacity=500)
aas.put_scaling_policy(PolicyName='reads', ServiceNamespace='dynamodb', ResourceId='table/acme-orders',
  ScalableDimension='dynamodb:table:ReadCapacityUnits', PolicyType='TargetTrackingScaling',
  TargetTrackingScalingPolicyConfiguration={'TargetValue': 70.0,
    'PredefinedMetricSpecification': {'PredefinedMetricType': 'DynamoDBReadCapacityUtilization'}})",
  );
  let r = run(
    region,
    "```dynamodb {name=scaling}\naction: autoscaling\ntable: acme-orders\n```\n",
  );
  let out = &r[2]["output"];
  assert_eq!(out["read"], true, "{out}");
  assert_eq!(out["write"], false);
  assert_eq!(out["enabled"], false);
  assert_eq!(out["targets"][0]["max"], 500);
  assert_eq!(out["targets"][0]["target_utilisation"], 70.0);
}

#[test]
fn ecs_deploy_image_registers_a_revision_per_service_and_refuses_a_missing_tag() {
  let region = "ca-west-1";
  moto().seed(
    region,
    "import json
ecr = boto3.client('ecr', endpoint_url=E, region_name=R)
manifest = json.dumps({'schemaVersion': 2, 'mediaType': 'application/vnd.docker.distribution.manifest.v2+json',
  'config': {'mediaType': 'application/vnd.docker.container.image.v1+json', 'size': 7, 'digest': 'sha256:' + 'b' * 64},
  'layers': []})
ecs = boto3.client('ecs', endpoint_url=E, region_name=R)
ecs.create_cluster(clusterName='acme-prod')
for service, tags in (('api', ['v142', 'p1']), ('worker', ['v88', 'p1'])):
    ecr.create_repository(repositoryName='acme/' + service)
    for tag in tags:
        ecr.put_image(repositoryName='acme/' + service, imageManifest=manifest, imageTag=tag)
    uri = '123456789012.dkr.ecr.' + R + '.amazonaws.com/acme/' + service + ':' + tags[0]
    td = ecs.register_task_definition(family=service, cpu='256', memory='512', containerDefinitions=[
        {'name': 'app', 'image': uri, 'memory': 512, 'environment': [{'name': 'MODE', 'value': 'prod'}]},
        {'name': 'log-router', 'image': 'public.ecr.aws/aws-observability/aws-for-fluent-bit:2', 'memory': 64}])['taskDefinition']['taskDefinitionArn']
    ecs.create_service(cluster='acme-prod', serviceName=service, taskDefinition=td, desiredCount=2)",
  );
  let registry = format!("123456789012.dkr.ecr.{region}.amazonaws.com");
  // Two containers and none named: which image to move is not guessed.
  let unnamed = Test::new()
    .runbook(
      "```ecs {name=ship}\naction: deploy-image\ncluster: acme-prod\nservice: api\ntag: p1\n```\n",
    )
    .env(aws_env(region))
    .args(&["run", "rb.md", "--yes"])
    .run();
  unnamed.assert(1);
  assert_eq!(
    records(&unnamed.transcript())[2]["error"],
    "api: api:1 has 2 containers (app, log-router); name the one to change with `container:`"
  );
  let missing = Test::new()
    .runbook("```ecs {name=ship}\naction: deploy-image\ncluster: acme-prod\nservices: [api, worker]\ncontainer: app\ntag: p2\n```\n")
    .env(aws_env(region))
    .args(&["run", "rb.md", "--yes"])
    .run();
  missing.assert(1);
  let r = records(&missing.transcript());
  assert_eq!(
    r[2]["error"],
    format!(
      "not in the registry: {registry}/acme/api:p2, {registry}/acme/worker:p2; nothing was registered or deployed"
    )
  );
  let shipped = Test::new()
    .runbook("```ecs {name=ship}\naction: deploy-image\ncluster: acme-prod\nservices: [api, worker]\ncontainer: app\ntag: p1\n```\n\n```ecs {name=after}\naction: task-definition\ncluster: acme-prod\nservice: api\n```\n")
    .env(aws_env(region))
    .args(&["run", "rb.md", "--yes"])
    .run();
  shipped.assert(0);
  // The change is shown before it is made: the image, old → new.
  assert!(
    shipped
      .stderr
      .contains(&format!("-  container app: {registry}/acme/api:v142")),
    "{}",
    shipped.stderr
  );
  assert!(
    shipped
      .stderr
      .contains(&format!("+  container app: {registry}/acme/api:p1")),
    "{}",
    shipped.stderr
  );
  let r = records(&shipped.transcript());
  let out = &r[2]["output"];
  assert_eq!(out["steady"], true, "{out}");
  // The refused attempt registered nothing: the next revision is 2.
  let moved: Vec<(String, String, String)> = out["services"]
    .as_array()
    .expect("services")
    .iter()
    .map(|s| {
      (
        s["service"].as_str().unwrap_or("?").to_string(),
        s["task_definition"].as_str().unwrap_or("?").to_string(),
        s["images"][0]["after"].as_str().unwrap_or("?").to_string(),
      )
    })
    .collect();
  assert_eq!(
    moved,
    [
      (
        "api".to_string(),
        "api:2".to_string(),
        format!("{registry}/acme/api:p1")
      ),
      (
        "worker".into(),
        "worker:2".into(),
        format!("{registry}/acme/worker:p1")
      ),
    ]
  );
  // The new revision is the old one with one image changed.
  let after = &r[4]["output"];
  assert_eq!(after["task_definition"], "api:2");
  assert_eq!(after["cpu"], "256");
  assert_eq!(
    after["containers"][0]["environment_names"],
    serde_json::json!(["MODE"])
  );
  assert_eq!(
    after["containers"][1]["image"],
    "public.ecr.aws/aws-observability/aws-for-fluent-bit:2"
  );
}

#[test]
fn ecs_deploy_image_bodies_are_checked_before_anything_runs() {
  for (body, message) in [
    (
      "services: [api, worker]\nimage: acme/api:v2",
      "`image:` names one image for one service",
    ),
    ("service: api\ntag: v1:latest", "`tag: v1:latest`: a tag is"),
    ("service: api\ntag: -v1", "`tag: -v1`: a tag is"),
    (
      "service: api",
      "needs one of `image: repository:tag` or `tag: NEW-TAG`",
    ),
    (
      "service: api\nimage: a:1\ntag: b",
      "needs one of `image: repository:tag` or `tag: NEW-TAG`",
    ),
    ("tag: v2", "needs `service:` or `services:`"),
  ] {
    let ran = Test::new()
      .runbook(&format!(
        "```ecs\naction: deploy-image\ncluster: c\n{body}\n```\n"
      ))
      .args(&["check", "rb.md"])
      .run();
    ran.assert(1);
    assert!(ran.stderr.contains(message), "{body}: {}", ran.stderr);
  }
  // A templated tag is checked when it is known.
  Test::new()
    .runbook("---\nparams:\n  tag: {}\n---\n```ecs\naction: deploy-image\ncluster: c\nservice: api\ntag: \"{{ tag }}\"\n```\n")
    .args(&["check", "rb.md"])
    .run()
    .assert(0);
}

#[test]
fn quotas_compare_peak_usage_with_applied_values_and_flag_the_high_ones() {
  use crate::scripted::{Reply, Scripted};
  // moto implements no ListServiceQuotas: the scripted peer speaks Service
  // Quotas' awsJson 1.1 and CloudWatch's query protocol.
  let usage = |dimension: &str| {
    format!(
      r#"{{"MetricNamespace":"AWS/Usage","MetricName":"{}","MetricDimensions":{{"Service":"x","Class":"{dimension}"}},"MetricStatisticRecommendation":"{}"}}"#,
      if dimension == "Api" {
        "CallCount"
      } else {
        "ResourceCount"
      },
      if dimension == "Api" { "Sum" } else { "Maximum" }
    )
  };
  let quota = |service: &str, code: &str, name: &str, value: u32, extra: &str| {
    format!(
      r#"{{"ServiceCode":"{service}","QuotaCode":"{code}","QuotaName":"{name}","Value":{value}.0,"Unit":"None","Adjustable":true{extra}}}"#
    )
  };
  let defaults = [
    quota(
      "fargate",
      "L-3032A538",
      "Fargate On-Demand vCPU resource count",
      6,
      &format!(r#","UsageMetric":{}"#, usage("OnDemand")),
    ),
    quota(
      "fargate",
      "L-36FBB829",
      "Fargate Spot vCPU resource count",
      6,
      &format!(r#","UsageMetric":{}"#, usage("Spot")),
    ),
    quota("ecs", "L-9EF96962", "Services per cluster", 5000, ""),
    quota(
      "ecs",
      "L-1234ABCD",
      "RunTask API rate",
      20,
      &format!(
        r#","UsageMetric":{},"Period":{{"PeriodValue":1,"PeriodUnit":"SECOND"}}"#,
        usage("Api")
      ),
    ),
  ];
  let server = Scripted::start_with(move |op, _, body| {
    let of = |service: &str| {
      defaults
        .iter()
        .filter(|q| q.contains(&format!(r#""ServiceCode":"{service}""#)))
        .cloned()
        .collect::<Vec<_>>()
        .join(",")
    };
    let service = ["fargate", "ecs"]
      .into_iter()
      .find(|s| body.contains(&format!(r#""ServiceCode":"{s}""#)));
    let peak = |stat: &str, value: u32| {
      Reply::ok(&format!(
        "<GetMetricStatisticsResponse xmlns=\"http://monitoring.amazonaws.com/doc/2010-08-01/\"><GetMetricStatisticsResult><Label>x</Label><Datapoints><member><Timestamp>2026-12-01T09:00:00Z</Timestamp><{stat}>{value}</{stat}><Unit>None</Unit></member><member><Timestamp>2026-12-01T09:01:00Z</Timestamp><{stat}>1</{stat}><Unit>None</Unit></member></Datapoints></GetMetricStatisticsResult><ResponseMetadata><RequestId>r</RequestId></ResponseMetadata></GetMetricStatisticsResponse>"
      ))
    };
    match (op, service) {
      ("ListAWSDefaultServiceQuotas", Some(s)) => {
        Reply::ok(&format!(r#"{{"Quotas":[{}]}}"#, of(s)))
      }
      // The account's raised on-demand vCPU quota; nothing else applied.
      ("ListServiceQuotas", Some("fargate")) => Reply::ok(&format!(
        r#"{{"Quotas":[{}]}}"#,
        quota(
          "fargate",
          "L-3032A538",
          "Fargate On-Demand vCPU resource count",
          200,
          &format!(r#","UsageMetric":{}"#, usage("OnDemand"))
        )
      )),
      ("ListServiceQuotas", Some(_)) => Reply::ok(r#"{"Quotas":[]}"#),
      ("ListAWSDefaultServiceQuotas" | "ListServiceQuotas", None) => Reply::error(
        "NoSuchResourceException",
        "The request failed because the specified service does not exist.",
      ),
      ("GetMetricStatistics", _) if body.contains("OnDemand") => peak("Maximum", 184),
      ("GetMetricStatistics", _) if body.contains("Spot") => peak("Maximum", 2),
      // 600 calls in the busiest minute: 10 a second against 20.
      ("GetMetricStatistics", _) => peak("Sum", 600),
      _ => Reply::error("UnknownOperation", op),
    }
  });
  let ran = run_with(
    server.env(),
    "```quotas {name=limits}\nservices: [fargate, ecs]\nmax-percent: 90\n```\n",
  );
  assert!(
    ran.stderr.contains(
      "at or above 90 %: fargate Fargate On-Demand vCPU resource count: 92 % (184 of 200)"
    ),
    "{}",
    ran.stderr
  );
  let r = records(&ran.transcript());
  let out = &r[2]["output"];
  assert_eq!(out["all_below"], false);
  let quotas: Vec<(String, bool, serde_json::Value, serde_json::Value)> = out["quotas"]
    .as_array()
    .expect("quotas")
    .iter()
    .map(|q| {
      (
        q["code"].as_str().unwrap_or("?").to_string(),
        q["applied"] == true,
        q["percent"].clone(),
        q["flagged"].clone(),
      )
    })
    .collect();
  assert_eq!(
    quotas,
    [
      (
        "L-3032A538".to_string(),
        true,
        serde_json::json!(92.0),
        serde_json::json!(true)
      ),
      (
        "L-36FBB829".into(),
        false,
        serde_json::json!(2.0 / 6.0 * 100.0),
        serde_json::json!(false)
      ),
      (
        "L-1234ABCD".into(),
        false,
        serde_json::json!(50.0),
        serde_json::json!(false)
      ),
      (
        "L-9EF96962".into(),
        false,
        serde_json::Value::Null,
        serde_json::json!(false)
      ),
    ]
  );
  // A quota code nobody has, and a service code AWS does not know.
  for (body, error) in [
    (
      "services: fargate\nquotas: [L-NOPE]",
      "servicequotas: no quota L-NOPE in fargate",
    ),
    ("services: [fargat]", "NoSuchResourceException"),
  ] {
    let ran = Test::new()
      .runbook(&format!("```quotas\n{body}\n```\n"))
      .env(server.env())
      .args(&["run", "rb.md", "--yes"])
      .run();
    ran.assert(1);
    let failed = records(&ran.transcript())[2]["error"].to_string();
    assert!(failed.contains(error), "{body}: {failed}");
  }
  for (body, message) in [
    ("max-percent: 80", "`quotas`: `services` is required"),
    (
      "services: ecs\nmax-percent: 0",
      "`max-percent: 0`: expected a share",
    ),
    ("services: ecs\nmax-percent: 150", "`max-percent: 150`"),
    (
      "services: ecs\nsince: 10s",
      "`since: 10s`: expected a duration of a minute or more",
    ),
    ("services: ecs\nlimit: 3", "`quotas` has no field `limit`"),
  ] {
    let ran = Test::new()
      .runbook(&format!("```quotas\n{body}\n```\n"))
      .args(&["check", "rb.md"])
      .run();
    ran.assert(1);
    assert!(ran.stderr.contains(message), "{body}: {}", ran.stderr);
  }
}

#[test]
fn an_endpoint_answering_500_without_an_aws_error_is_said_in_one_line() {
  use crate::scripted::{Reply, Scripted};
  let server = Scripted::start(|_, _| Reply {
    status: 500,
    body: "<!doctype html><title>500 Internal Server Error</title>".into(),
  });
  let ran = Test::new()
    .runbook("```cloudwatch\naction: alarm-history\n```\n")
    .env(server.env())
    .args(&["run", "rb.md", "--yes"])
    .run();
  ran.assert(1);
  assert_eq!(
    records(&ran.transcript())[2]["error"],
    "cloudwatch:DescribeAlarmHistory: the endpoint answered HTTP 500 with no AWS error: \
     the service failed, or does not implement this call (an emulator?); run the step again later"
  );
}

#[test]
fn rds_performance_insights_names_the_top_statement_and_wait_or_says_it_is_off() {
  use crate::scripted::{Reply, Scripted};
  // moto implements no Performance Insights: the scripted peer speaks RDS's
  // query protocol and PI's JSON.
  let server = Scripted::start_with(|op, _, body| match op {
    "DescribeDBInstances" => {
      let (id, on) = if body.contains("DBInstanceIdentifier=off-db") {
        ("off-db", "false")
      } else {
        ("busy-db", "true")
      };
      Reply::ok(&format!(
        "<DescribeDBInstancesResponse xmlns=\"http://rds.amazonaws.com/doc/2014-10-31/\"><DescribeDBInstancesResult><DBInstances><DBInstance><DBInstanceIdentifier>{id}</DBInstanceIdentifier><DbiResourceId>db-ABC</DbiResourceId><PerformanceInsightsEnabled>{on}</PerformanceInsightsEnabled></DBInstance></DBInstances></DescribeDBInstancesResult><ResponseMetadata><RequestId>r</RequestId></ResponseMetadata></DescribeDBInstancesResponse>"
      ))
    }
    "DescribeDimensionKeys" if body.contains(r#""Identifier":"db-ABC""#) => {
      if body.contains("db.sql_tokenized") {
        Reply::ok(
          r#"{"Keys":[{"Dimensions":{"db.sql_tokenized.statement":"SELECT * FROM t WHERE id = ?"},"Total":3.0},{"Dimensions":{"db.sql_tokenized.statement":"COMMIT"},"Total":1.0}]}"#,
        )
      } else {
        Reply::ok(
          r#"{"Keys":[{"Dimensions":{"db.wait_event.name":"Lock:tuple","db.wait_event.type":"Lock"},"Total":2.0}]}"#,
        )
      }
    }
    _ => Reply::error("UnknownOperation", op),
  });
  let ran = run_with(
    server.env(),
    "```rds {name=busy}\naction: performance-insights\ninstance: busy-db\n```\n\n```rds {name=off}\naction: performance-insights\ninstance: off-db\n```\n",
  );
  let r = records(&ran.transcript());
  let busy = &r[2]["output"];
  assert_eq!(
    busy["top_sql"][0]["statement"],
    "SELECT * FROM t WHERE id = ?"
  );
  assert_eq!(busy["top_sql"][0]["share_percent"], 75.0);
  assert_eq!(busy["wait_events"][0]["name"], "Lock:tuple");
  assert!(
    ran
      .stderr
      .contains("top statement: 75 % of the load; top wait: Lock:tuple (100 %)"),
    "{}",
    ran.stderr
  );
  let off = &r[4]["output"];
  assert_eq!(off["enabled"], false);
  assert_eq!(server.times("DescribeDimensionKeys").len(), 2);
  // `instance` is required: the API reads one instance.
  let ran = Test::new()
    .runbook("```rds\naction: performance-insights\n```\n")
    .args(&["check", "rb.md"])
    .run();
  ran.assert(1);
  assert!(
    ran.stderr.contains("`rds`: `instance` is required"),
    "{}",
    ran.stderr
  );
}
