//! The baseline for `scripts/bench`: the SDK calls a runbook of N
//! `cloudwatch alarms` steps makes (STS GetCallerIdentity, then N
//! DescribeAlarms, every page), with nothing else. litops's cost per AWS
//! step is measured against this program in the same run.
//!
//! `cargo run --release --example bare_sdk -- 200` (region, endpoint and
//! credentials from the environment, as for litops).

use aws_config::BehaviorVersion;
use aws_sdk_cloudwatch::types::StateValue;

fn main() -> Result<(), Box<dyn std::error::Error>> {
  let steps: usize = std::env::args().nth(1).map_or(Ok(200), |n| n.parse())?;
  let runtime = tokio::runtime::Builder::new_current_thread()
    .enable_all()
    .build()?;
  runtime.block_on(async {
    let config = aws_config::defaults(BehaviorVersion::latest()).load().await;
    aws_sdk_sts::Client::new(&config)
      .get_caller_identity()
      .send()
      .await?;
    let client = aws_sdk_cloudwatch::Client::new(&config);
    let mut alarms = 0;
    for _ in 0..steps {
      let mut next = None;
      loop {
        let page = client
          .describe_alarms()
          .state_value(StateValue::Alarm)
          .alarm_name_prefix("acme-prod-")
          .set_next_token(next.take())
          .send()
          .await?;
        alarms += page.metric_alarms().len();
        next = page.next_token().map(str::to_string);
        if next.is_none() {
          break;
        }
      }
    }
    println!("{alarms}");
    Ok(())
  })
}
