//! `dynamodb contributor-insights`: are hot partitions being watched, and
//! which keys take the most traffic — "hot partitions checked with
//! Contributor Insights" as a read rather than a tick.
//!
//! ````markdown
//! ```dynamodb {name=hot-keys}
//! action: contributor-insights
//! table: {{ table }}
//! index: by-customer          # optional: a global secondary index
//! ```
//! ````

use aws_sdk_cloudwatch::primitives::DateTime;
use serde_json::{Value, json};

use super::aws_step::{Failure, Fields, Reach, Shown, call, table};
use crate::clock;

/// How far back the top keys are read, and how many are kept.
const WINDOW_SECS: i64 = 3600;
const TOP: i32 = 10;

pub fn contributor_insights(
  run: &Reach,
  name: &str,
  index: Option<&str>,
) -> Result<(Fields, Shown), Failure> {
  let aws = run.aws.get()?;
  let dynamodb = aws.client(aws_sdk_dynamodb::Client::new);
  let described = call(
    run,
    aws,
    "dynamodb:DescribeContributorInsights",
    dynamodb
      .describe_contributor_insights()
      .table_name(name)
      .set_index_name(index.map(str::to_string))
      .send(),
  )?;
  let status = described
    .contributor_insights_status()
    .map_or("DISABLED", |s| s.as_str())
    .to_string();
  let rules: Vec<String> = described.contributor_insights_rule_list().to_vec();
  let cloudwatch = aws.client(aws_sdk_cloudwatch::Client::new);
  let end = clock::now().seconds();
  let mut table = table(["rule", "key", "share of the traffic"]);
  let mut top = Vec::new();
  if status == "ENABLED" {
    for rule in &rules {
      let report = call(
        run,
        aws,
        "cloudwatch:GetInsightRuleReport",
        cloudwatch
          .get_insight_rule_report()
          .rule_name(rule)
          .start_time(DateTime::from_secs(end - WINDOW_SECS))
          .end_time(DateTime::from_secs(end))
          .period(300)
          .max_contributor_count(TOP)
          .send(),
      )?;
      let total: f64 = report
        .contributors()
        .iter()
        .filter_map(|c| c.approximate_aggregate_value())
        .sum();
      for contributor in report.contributors() {
        let key = contributor.keys().join(" · ");
        let value = contributor.approximate_aggregate_value().unwrap_or(0.0);
        let share = if total > 0.0 {
          value / total * 100.0
        } else {
          0.0
        };
        table.add_row([rule.clone(), key.clone(), format!("{share:.0} %")]);
        top.push(json!({"rule": rule, "key": key, "value": value, "share_percent": share}));
      }
    }
  }
  let summary = match status.as_str() {
    "ENABLED" if top.is_empty() => {
      "Contributor Insights on; no traffic in the last hour\n".to_string()
    }
    "ENABLED" => format!(
      "Contributor Insights on; the top key takes {:.0} % of the traffic\n",
      top
        .first()
        .and_then(|t| t["share_percent"].as_f64())
        .unwrap_or(0.0)
    ),
    other => format!("Contributor Insights is {other}: hot partitions are not being watched\n"),
  };
  let mut fields = Fields::new();
  fields.insert("table".into(), Value::String(name.to_string()));
  fields.insert(
    "index".into(),
    index.map_or(Value::Null, |i| Value::String(i.into())),
  );
  // `status` is the step's own.
  fields.insert("insights_status".into(), Value::String(status));
  fields.insert("rules".into(), json!(rules));
  fields.insert("top".into(), Value::Array(top));
  Ok((fields, Shown::default().rows(table).text(summary)))
}
