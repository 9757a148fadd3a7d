//! The floor for `bench/side-by-side` and `bench/fleet`: the AWS calls the
//! morning health check makes, sequentially, with nothing else — STS
//! GetCallerIdentity, the technical dashboard and each widget's metric
//! statistics, DescribeAlarms, DescribeAlarmHistory, ListServices,
//! DescribeServices and each service's task definition, six GetMetricData
//! over 12 hours, and a Logs Insights query polled to completion.
//! bench/morning-aws-cli.sh and bench/morning.ipynb make the same calls.
//!
//! With targets as arguments, the same calls for each target's account,
//! `BARE_CONCURRENCY` (16) at a time: the floor for `litops run --targets`.
//! A target is a profile name, or a role ARN assumed with the environment's
//! credentials (as a targets file's `role:`).
//!
//! `cargo run --release --example bare_morning [PROFILE|ROLE-ARN…]`
//! (endpoint, region and credentials from the environment).

use aws_config::BehaviorVersion;
use aws_sdk_cloudwatch::primitives::DateTime;
use aws_sdk_cloudwatch::types::{
  Dimension, HistoryItemType, Metric, MetricDataQuery, MetricStat, StateValue, Statistic,
};
use aws_sdk_cloudwatchlogs::types::QueryStatus;

const CLUSTER: &str = "acme-production";
const PREFIX: &str = "acme-production-";
const DASHBOARD: &str = "acme-production-technical-dashboard";
const LOG_GROUP: &str = "/ecs/acme-production-api";
const DB: &str = "acme-production-db";
const LB: &str = "app/acme-production/50dc6c495c0c9188";

type Error = Box<dyn std::error::Error + Send + Sync>;

fn main() -> Result<(), Error> {
  let targets: Vec<String> = std::env::args().skip(1).collect();
  let concurrency = std::env::var("BARE_CONCURRENCY").map_or(Ok(16), |n| n.parse())?;
  let runtime = tokio::runtime::Builder::new_multi_thread()
    .enable_all()
    .build()?;
  runtime.block_on(async {
    let base = aws_config::defaults(BehaviorVersion::latest()).load().await;
    if targets.is_empty() {
      println!("{}", morning(&base).await?);
      return Ok(());
    }
    let slots = std::sync::Arc::new(tokio::sync::Semaphore::new(concurrency));
    let mut running = tokio::task::JoinSet::new();
    for target in targets {
      let (slots, base) = (slots.clone(), base.clone());
      running.spawn(async move {
        let _slot = slots.acquire_owned().await?;
        let config = if target.starts_with("arn:") {
          let role = aws_config::sts::AssumeRoleProvider::builder(&target)
            .session_name("bare")
            .configure(&base)
            .build()
            .await;
          base
            .into_builder()
            .credentials_provider(aws_sdk_sts::config::SharedCredentialsProvider::new(role))
            .build()
        } else {
          aws_config::defaults(BehaviorVersion::latest())
            .profile_name(&target)
            .load()
            .await
        };
        morning(&config).await
      });
    }
    while let Some(done) = running.join_next().await {
      println!("{}", done??);
    }
    Ok(())
  })
}

#[allow(
  clippy::disallowed_methods,
  reason = "a benchmark baseline outside litops, which reads the clock in one place"
)]
async fn morning(config: &aws_config::SdkConfig) -> Result<String, Error> {
  aws_sdk_sts::Client::new(config)
    .get_caller_identity()
    .send()
    .await?;
  let cw = aws_sdk_cloudwatch::Client::new(config);
  let now = std::time::SystemTime::now()
    .duration_since(std::time::UNIX_EPOCH)?
    .as_secs() as i64;
  let dashboard = cw.get_dashboard().dashboard_name(DASHBOARD).send().await?;
  let body: serde_json::Value = serde_json::from_str(dashboard.dashboard_body().unwrap_or("{}"))?;
  let widgets = body["widgets"].as_array().cloned().unwrap_or_default();
  for widget in &widgets {
    for line in widget["properties"]["metrics"]
      .as_array()
      .into_iter()
      .flatten()
    {
      let words: Vec<&str> = line
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|w| w.as_str())
        .collect();
      let [namespace, name, dimensions @ ..] = words.as_slice() else {
        continue;
      };
      cw.get_metric_statistics()
        .namespace(*namespace)
        .metric_name(*name)
        .set_dimensions(Some(
          dimensions
            .chunks_exact(2)
            .map(|pair| Dimension::builder().name(pair[0]).value(pair[1]).build())
            .collect(),
        ))
        .statistics(Statistic::Average)
        .period(300)
        .start_time(DateTime::from_secs(now - 3 * 3600))
        .end_time(DateTime::from_secs(now))
        .send()
        .await?;
    }
  }
  let alarms = cw
    .describe_alarms()
    .state_value(StateValue::Alarm)
    .alarm_name_prefix(PREFIX)
    .send()
    .await?;
  // moto answers DescribeAlarmHistory with 500 (bench/side-by-side): the
  // floor makes the call, retries included, as litops does, and goes on.
  let _ = cw
    .describe_alarm_history()
    .history_item_type(HistoryItemType::StateUpdate)
    .start_date(DateTime::from_secs(now - 12 * 3600))
    .end_date(DateTime::from_secs(now))
    .send()
    .await;
  let ecs = aws_sdk_ecs::Client::new(config);
  let arns = ecs.list_services().cluster(CLUSTER).send().await?;
  let services = ecs
    .describe_services()
    .cluster(CLUSTER)
    .set_services(Some(arns.service_arns().to_vec()))
    .send()
    .await?;
  for service in services.services() {
    ecs
      .describe_task_definition()
      .task_definition(service.task_definition().unwrap_or_default())
      .send()
      .await?;
  }
  let (end, start) = (now / 300 * 300, now / 300 * 300 - 12 * 3600);
  let metrics = [
    (
      "AWS/RDS",
      "DatabaseConnections",
      "DBInstanceIdentifier",
      DB,
      "Maximum",
      300,
    ),
    (
      "AWS/RDS",
      "ReadLatency",
      "DBInstanceIdentifier",
      DB,
      "Average",
      300,
    ),
    (
      "AWS/ApplicationELB",
      "TargetResponseTime",
      "LoadBalancer",
      LB,
      "Average",
      300,
    ),
    (
      "AWS/ApplicationELB",
      "RequestCount",
      "LoadBalancer",
      LB,
      "Sum",
      3600,
    ),
    (
      "AWS/ApplicationELB",
      "HTTPCode_Target_5XX_Count",
      "LoadBalancer",
      LB,
      "Sum",
      3600,
    ),
  ];
  let mut points = 0;
  for (namespace, name, dimension, value, stat, period) in metrics {
    let query = MetricDataQuery::builder()
      .id("m0")
      .metric_stat(
        MetricStat::builder()
          .metric(
            Metric::builder()
              .namespace(namespace)
              .metric_name(name)
              .dimensions(Dimension::builder().name(dimension).value(value).build())
              .build(),
          )
          .period(period)
          .stat(stat)
          .build(),
      )
      .build();
    let data = cw
      .get_metric_data()
      .metric_data_queries(query)
      .start_time(DateTime::from_secs(start))
      .end_time(DateTime::from_secs(end))
      .send()
      .await?;
    points += data
      .metric_data_results()
      .iter()
      .map(|r| r.values().len())
      .sum::<usize>();
  }
  let logs = aws_sdk_cloudwatchlogs::Client::new(config);
  let id = logs
    .start_query()
    .log_group_names(LOG_GROUP)
    .start_time(now - 12 * 3600)
    .end_time(now)
    .query_string("fields @timestamp, @message, @requestId | filter @level = \"ERROR\" | stats count() by @service | sort count desc")
    .limit(100)
    .send()
    .await?
    .query_id()
    .unwrap_or_default()
    .to_string();
  let rows = loop {
    let results = logs.get_query_results().query_id(&id).send().await?;
    if !matches!(
      results.status(),
      Some(QueryStatus::Running | QueryStatus::Scheduled)
    ) {
      break results.results().len();
    }
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
  };
  Ok(format!(
    "{} alarms, {} services, {points} metric points, {rows} rows",
    alarms.metric_alarms().len(),
    services.services().len()
  ))
}
