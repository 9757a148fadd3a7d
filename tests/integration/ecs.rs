//! `ecs` read-only actions through the binary against moto.

use crate::moto::{aws_env, moto};
use crate::{Test, records};

/// A cluster with service `api` (3 desired, none running: moto never
/// starts tasks) and one task stopped because its image could not be pulled.
pub fn seed_cluster(region: &str) {
  moto().seed(
    region,
    "ec2 = boto3.client('ec2', endpoint_url=E, region_name=R)
# moto's awsvpc RunTask works on the default VPC's subnets only.
sub = [s for s in ec2.describe_subnets()['Subnets'] if s.get('DefaultForAz')][0]['SubnetId']
sg = ec2.describe_security_groups(GroupNames=['default'])['SecurityGroups'][0]['GroupId']
net = {'awsvpcConfiguration': {'subnets': [sub], 'securityGroups': [sg]}}
ecs = boto3.client('ecs', endpoint_url=E, region_name=R)
ecs.create_cluster(clusterName='acme-prod')
td = ecs.register_task_definition(family='api', networkMode='awsvpc', requiresCompatibilities=['FARGATE'],
  cpu='256', memory='512', containerDefinitions=[{'name': 'web', 'image': 'registry.example/api:v142',
  'memory': 512, 'essential': True, 'portMappings': [{'containerPort': 8080}],
  'environment': [{'name': 'DB_PASSWORD', 'value': 'ecs-CANARY-7'}],
  'logConfiguration': {'logDriver': 'awslogs', 'options': {'awslogs-group': '/ecs/acme-api'}}}])['taskDefinition']['taskDefinitionArn']
ecs.create_service(cluster='acme-prod', serviceName='api', taskDefinition=td, desiredCount=3,
  launchType='FARGATE', networkConfiguration=net)
t = ecs.run_task(cluster='acme-prod', taskDefinition=td, launchType='FARGATE', group='service:api',
  networkConfiguration=net)['tasks'][0]['taskArn']
ecs.stop_task(cluster='acme-prod', task=t, reason='CannotPullContainerError: pull access denied for api:v142')",
  );
}

const RUNBOOK: &str = "---
params:
  cluster:
    default: acme-prod
---
# Tasks fail to start

```ecs {name=svc}
action: describe
cluster: {{ cluster }}
service: api
```

```ecs {name=stopped}
action: tasks
cluster: {{ cluster }}
service: api
status: stopped
```

```ecs {name=def}
action: task-definition
cluster: {{ cluster }}
service: api
```

```rhai {name=classify}
let reason = steps[\"stopped\"].tasks[0].stopped_reason;
vars.cause = if reason.contains(\"CannotPull\") { \"image\" } else { \"other\" };
let svc = steps[\"svc\"].services[0];
`${svc.running}/${svc.desired} running; cause ${vars.cause}`
```
";

#[test]
fn describe_tasks_and_task_definition() {
  let region = "ap-southeast-2";
  seed_cluster(region);
  let ran = Test::new()
    .runbook(RUNBOOK)
    .env(aws_env(region))
    .args(&["run", "rb.md", "--yes"])
    .run();
  ran.assert(0);
  let transcript = ran.transcript();
  let r = records(&transcript);
  let svc = &r[2]["output"]["services"][0];
  assert_eq!(svc["desired"], 3);
  assert_eq!(svc["running"], 2);
  assert_eq!(svc["task_definition"], "api:1");
  assert_eq!(svc["cpu"], "256");
  assert_eq!(r[2]["output"]["steady"], false);
  let task = &r[4]["output"]["tasks"][0];
  assert_eq!(task["last_status"], "STOPPED");
  assert_eq!(
    task["stopped_reason"],
    "CannotPullContainerError: pull access denied for api:v142"
  );
  let container = &r[6]["output"]["containers"][0];
  assert_eq!(container["image"], "registry.example/api:v142");
  assert_eq!(container["environment_names"][0], "DB_PASSWORD");
  assert_eq!(container["port_mappings"][0]["container_port"], 8080);
  assert_eq!(r[8]["output"]["value"], "2/3 running; cause image");
  assert!(
    !transcript.contains("ecs-CANARY-7"),
    "an environment value reached the transcript"
  );
  assert!(!ran.stderr.contains("ecs-CANARY-7"));
}

#[test]
fn missing_service_is_named() {
  let region = "ap-northeast-1";
  seed_cluster(region);
  let text = "```ecs\naction: describe\ncluster: acme-prod\nservice: nope\n```\n";
  let ran = Test::new()
    .runbook(text)
    .env(aws_env(region))
    .args(&["run", "rb.md", "--yes"])
    .run();
  ran.assert(1);
  let error = records(&ran.transcript())[2]["error"]
    .as_str()
    .unwrap_or_default()
    .to_string();
  assert!(
    error.starts_with("ecs:DescribeServices: service nope in cluster acme-prod: MISSING"),
    "{error}"
  );
}

#[test]
fn startup_failure_playbook_runs_every_diagnostic_and_names_the_cause() {
  let region = "ca-central-1";
  seed_cluster(region);
  moto().seed(
    region,
    "logs = boto3.client('logs', endpoint_url=E, region_name=R)
logs.create_log_group(logGroupName='/ecs/acme-api')
logs.create_log_stream(logGroupName='/ecs/acme-api', logStreamName='web')
logs.put_log_events(logGroupName='/ecs/acme-api', logStreamName='web',
  logEvents=[{'timestamp': int(time.time() * 1000), 'message': 'starting api v142'}])",
  );
  let playbook = format!(
    "{}/playbooks/ecs-startup-failure.md",
    env!("CARGO_MANIFEST_DIR")
  );
  let ran = Test::new()
    .env(aws_env(region))
    .args(&[
      "run",
      &playbook,
      "--yes",
      "--param",
      "customer=acme",
      "--param",
      "cluster=acme-prod",
    ])
    .args(&[
      "--param",
      "service=api",
      "--param",
      "log_group=/ecs/acme-api",
    ])
    .run();
  // The service is still down after the (unconfirmed) fix: the verdict fails.
  ran.assert(1);
  let r = records(&ran.transcript());
  let steps: Vec<_> = r
    .iter()
    .filter(|x| x["type"] == "step-finished")
    .map(|x| {
      format!(
        "{} {}",
        x["step"].as_str().unwrap_or("?"),
        x["status"].as_str().unwrap_or("?")
      )
    })
    .collect();
  // Every diagnostic runs, whatever the first finding: no branch skips one.
  assert_eq!(
    steps,
    [
      "service-state done",
      "stopped-tasks done",
      "task-definition done",
      "images done",
      "secrets done",
      "startup-logs done",
      "findings done",
      "resolution-actions-1 unconfirmed",
      "resolution-actions-2 unconfirmed",
      "resolution-actions-3 unconfirmed",
      "resolution-actions-4 unconfirmed",
      "resolution-actions-5 unconfirmed",
      "verify-recovery done",
      "verdict failed",
    ]
  );
  let verdict = r
    .iter()
    .rev()
    .find(|x| x["step"] == "verdict")
    .expect("verdict");
  assert!(
    verdict["error"].as_str().is_some_and(|e| e.starts_with(
      "still 2/3 running (image pull failed: see the stopped reasons): escalate to Level 2"
    )),
    "{verdict}"
  );
}

#[test]
fn scale_shows_the_diff_and_account_before_asking() {
  let region = "eu-central-1";
  seed_cluster(region);
  let text = "```ecs {name=scale-out}\naction: scale\ncluster: acme-prod\nservice: api\ndesired: +2\nwait: false\n```\n";
  let ran = Test::new()
    .runbook(text)
    .env(aws_env(region))
    .args(&["run", "rb.md", "--yes-readonly"])
    .stdin("r\n")
    .run();
  ran.assert(0);
  ran.shown_before_prompt(&[
    "account 123456789012 · region eu-central-1",
    "--- before",
    "+++ after",
    "-desired: 3",
    "+desired: 5",
  ]);
  let r = records(&ran.transcript());
  assert_eq!(r[1]["mutating"], true);
  assert_eq!(r[1]["decision"]["how"], "piped");
  let out = &r[2]["output"];
  assert_eq!(out["before"]["desired"], 3);
  assert_eq!(out["requested_desired"], 5);
  assert_eq!(out["after"]["desired"], 5);
}

mod scripted {
  use crate::scripted::{Reply, Scripted};
  use crate::{Test, records};

  fn service(desired: i32, running: i32, deployments: &[(&str, &str)]) -> String {
    let deployments: Vec<String> = deployments
      .iter()
      .map(|(status, rollout)| format!(r#"{{"id":"d","status":"{status}","rolloutState":"{rollout}","desiredCount":{desired},"runningCount":{running}}}"#))
      .collect();
    format!(
      r#"{{"services":[{{"serviceName":"api","desiredCount":{desired},"runningCount":{running},"pendingCount":{},"taskDefinition":"arn:aws:ecs:eu-north-1:111122223333:task-definition/api:7","deployments":[{}]}}],"failures":[]}}"#,
      desired - running,
      deployments.join(",")
    )
  }

  #[test]
  fn redeploy_waits_until_the_new_deployment_completes() {
    let server = Scripted::start(|op, n| match (op, n) {
      // preview, then the state before the change
      ("DescribeServices", 0 | 1) => Reply::ok(&service(3, 3, &[("PRIMARY", "COMPLETED")])),
      ("UpdateService", _) => Reply::ok(&service(
        3,
        3,
        &[("PRIMARY", "IN_PROGRESS"), ("ACTIVE", "COMPLETED")],
      )),
      ("DescribeServices", 2) => Reply::ok(&service(
        3,
        1,
        &[("PRIMARY", "IN_PROGRESS"), ("ACTIVE", "COMPLETED")],
      )),
      ("DescribeServices", _) => Reply::ok(&service(3, 3, &[("PRIMARY", "COMPLETED")])),
      _ => Reply::error("UnknownOperationException", op),
    });
    let text = "```ecs {name=redeploy}\naction: redeploy\ncluster: acme-prod\nservice: api\n```\n";
    let ran = Test::new()
      .runbook(text)
      .env(server.env())
      .args(&["run", "rb.md", "--yes"])
      .run();
    ran.assert(0);
    assert!(
      ran.stderr.contains("+deployment: new, forced (api:7)"),
      "{}",
      ran.stderr
    );
    assert_eq!(server.times("UpdateService").len(), 1);
    let r = records(&ran.transcript());
    let out = &r[2]["output"];
    assert_eq!(out["forced_deployment"], true);
    assert_eq!(out["steady"], true);
    assert_eq!(out["after"]["rollout_state"], "COMPLETED");
    assert!(
      out["wait_ms"].as_u64().is_some_and(|ms| ms >= 1900),
      "waited for the rollout: {}",
      out["wait_ms"]
    );
  }
}

#[test]
fn startup_failure_playbook_reads_exit_code_137_as_memory_and_no_other_137() {
  use crate::scripted::{Reply, Scripted};
  // moto's exit codes are always 0: the scripted peer stops one task's
  // container with 137 and another task whose reason merely contains 137.
  let server = Scripted::start(|op, _| match op {
    "DescribeServices" => Reply::ok(
      r#"{"services":[{"serviceName":"api","desiredCount":2,"runningCount":0,"pendingCount":0,"taskDefinition":"arn:aws:ecs:eu-north-1:111122223333:task-definition/api:7","deployments":[],"events":[]}],"failures":[]}"#,
    ),
    "ListTasks" => Reply::ok(
      r#"{"taskArns":["arn:aws:ecs:eu-north-1:111122223333:task/acme/t1","arn:aws:ecs:eu-north-1:111122223333:task/acme/t2"]}"#,
    ),
    "DescribeTasks" => Reply::ok(
      r#"{"tasks":[{"taskArn":"arn:aws:ecs:eu-north-1:111122223333:task/acme/t1","lastStatus":"STOPPED","stoppedReason":"Essential container in task exited","containers":[{"name":"web","exitCode":137}]},{"taskArn":"arn:aws:ecs:eu-north-1:111122223333:task/acme/t2","lastStatus":"STOPPED","stoppedReason":"Batch 1370 stopped by the scheduler","containers":[{"name":"sidecar","exitCode":1,"reason":"exit 137 was expected"}]}],"failures":[]}"#,
    ),
    "DescribeTaskDefinition" => Reply::ok(
      r#"{"taskDefinition":{"taskDefinitionArn":"arn:aws:ecs:eu-north-1:111122223333:task-definition/api:7","family":"api","containerDefinitions":[{"name":"web","image":"registry.example/api:v1","memory":512}]}}"#,
    ),
    "StartQuery" => Reply::ok(r#"{"queryId":"q-1"}"#),
    "GetQueryResults" => Reply::ok(r#"{"status":"Complete","results":[]}"#),
    _ => Reply::error("UnknownOperation", op),
  });
  let playbook = format!(
    "{}/playbooks/ecs-startup-failure.md",
    env!("CARGO_MANIFEST_DIR")
  );
  let ran = Test::new()
    .env(server.env())
    .args(&["run", &playbook, "--yes"])
    .args(&["--param", "customer=acme", "--param", "cluster=acme"])
    .args(&["--param", "service=api", "--param", "log_group=/ecs/api"])
    .run();
  ran.assert(1);
  let r = records(&ran.transcript());
  let findings = r
    .iter()
    .find(|x| x["type"] == "step-finished" && x["step"] == "findings")
    .expect("findings");
  assert_eq!(
    findings["output"]["value"], "killed for memory: web (exit 137)",
    "{findings}"
  );
}
