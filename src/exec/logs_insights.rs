//! `logs-insights`: run a CloudWatch Logs Insights query, poll it with
//! backoff under a spinner, show the rows as a table, keep them all.
//!
//! ````markdown
//! ```logs-insights {name=errors}
//! log-groups: [/ecs/{{ customer }}-api]
//! since: 12h
//! limit: 100
//! ---
//! fields @timestamp, @message | filter @message like /ERROR/ | sort @timestamp desc
//! ```
//! ````

use std::any::Any;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::Duration;

use aws_sdk_cloudwatchlogs::error::ProvideErrorMetadata;
use aws_sdk_cloudwatchlogs::operation::get_query_results::GetQueryResultsOutput;
use aws_sdk_cloudwatchlogs::operation::start_query::builders::StartQueryFluentBuilder;
use aws_sdk_cloudwatchlogs::types::QueryStatus;
use serde_json::{Map, Value};
use tokio::sync::Semaphore;
use tokio::task::JoinHandle;

use super::action::{Execute, Output, StepRun};
use super::prefetch::{self, Pending, Waited};
use super::shown::Shown;
use crate::aws::{Aws, Cut, Identity, explain};
use crate::clock::{self, Instant};
use crate::model::Step;
use crate::transcript::Status;

/// GetQueryResults is limited to 5 calls per second per account and region:
/// one query is never polled faster than this.
const MIN_POLL: Duration = Duration::from_millis(200);
/// A finished query's rows are on screen at most this long (plus one round
/// trip) after AWS completes it: a responder is waiting on them. Polls are
/// paced to the account's quota besides (`aws::pace`).
const MAX_POLL: Duration = Duration::from_millis(250);

/// Logs Insights runs at most 30 queries at once per account and region,
/// dashboards included; litops keeps to 20 so the team's dashboards and an
/// engineer's console still get theirs.
const MAX_QUERIES: usize = 20;
static QUERY_SLOTS: Mutex<BTreeMap<(String, String), Arc<Semaphore>>> = Mutex::new(BTreeMap::new());

/// The account and region's query slots, shared by every run in the process.
fn query_slots(identity: &Identity) -> Arc<Semaphore> {
  let mut slots = QUERY_SLOTS.lock().unwrap_or_else(PoisonError::into_inner);
  Arc::clone(
    slots
      .entry((identity.account.clone(), identity.region.clone()))
      .or_insert_with(|| Arc::new(Semaphore::new(MAX_QUERIES))),
  )
}

/// Someone else's queries may fill the account's slots: StartQuery answers
/// LimitExceededException, and litops waits 1, 2, 4, 8 and 16 s for one.
const LIMIT_RETRIES: u32 = 5;

/// Rows shown on the terminal; the transcript keeps every row.
const PAGE: usize = 50;

#[derive(Debug)]
pub struct Query {
  pub log_groups: Vec<String>,
  pub since: Duration,
  pub start: Option<Instant>,
  pub end: Option<Instant>,
  pub limit: Option<i32>,
  pub text: String,
}

impl Query {
  /// The body's optional YAML header (before a `---` line), then the
  /// attributes, give the settings; the rest is the query.
  pub fn parse(body: &str, options: &[(String, String)]) -> Result<Self, String> {
    let (header, text) = match body.split_once("\n---\n") {
      Some((h, q)) => (Some(h), q),
      None => match body.strip_prefix("---\n") {
        Some(rest) => (None, rest),
        None => (None, body),
      },
    };
    let mut fields: Vec<(String, serde_yaml::Value)> = Vec::new();
    if let Some(header) = header {
      if crate::parse::yaml::too_deep(header).is_some() {
        return Err(format!(
          "the header before `---`: {}",
          crate::parse::yaml::depth_message()
        ));
      }
      let map: serde_yaml::Mapping = serde_yaml::from_str(header)
        .map_err(|e| format!("the header before `---` is not a YAML mapping: {e}"))?;
      for (k, v) in map {
        fields.push((k.as_str().unwrap_or_default().to_string(), v));
      }
    }
    for (k, v) in options {
      fields.push((k.clone(), serde_yaml::Value::String(v.clone())));
    }
    let mut query = Query {
      log_groups: Vec::new(),
      since: Duration::from_secs(3600),
      start: None,
      end: None,
      limit: None,
      text: text.trim().to_string(),
    };
    for (key, value) in fields {
      let scalar = match &value {
        serde_yaml::Value::String(s) => s.clone(),
        serde_yaml::Value::Number(n) => n.to_string(),
        _ => String::new(),
      };
      match key.as_str() {
        "log-groups" => {
          query.log_groups = match value {
            serde_yaml::Value::Sequence(items) => items
              .iter()
              .filter_map(|i| i.as_str().map(str::to_string))
              .collect(),
            _ => scalar
              .split(',')
              .map(|g| g.trim().to_string())
              .filter(|g| !g.is_empty())
              .collect(),
          }
        }
        "since" => {
          query.since = crate::check::parse_duration(&scalar).ok_or_else(|| {
            format!("`since: {scalar}`: expected a duration such as 15m, 12h or 7d")
          })?
        }
        "start" | "end" => {
          let at = clock::Instant::parse(&scalar).ok_or_else(|| {
            format!("`{key}: {scalar}`: expected a UTC time such as 2026-11-23T09:00:00Z")
          })?;
          if key == "start" {
            query.start = Some(at)
          } else {
            query.end = Some(at)
          }
        }
        "limit" => {
          let limit = scalar
            .parse::<i32>()
            .ok()
            .filter(|l| (1..=10_000).contains(l));
          query.limit =
            Some(limit.ok_or_else(|| format!("`limit: {scalar}`: expected 1 to 10000"))?);
        }
        other => {
          return Err(format!(
            "unknown field `{other}`; known: log-groups, since, start, end, limit"
          ));
        }
      }
    }
    if query.log_groups.is_empty() {
      return Err("no log groups: give `log-groups` in the header or as an attribute".into());
    }
    if query.log_groups.len() > 50 {
      return Err(format!(
        "{} log groups: a query can search at most 50",
        query.log_groups.len()
      ));
    }
    if query.text.is_empty() {
      return Err("the query is empty".into());
    }
    Ok(query)
  }
}

pub struct LogsInsights;

impl Execute for LogsInsights {
  fn fields(&self) -> &'static [&'static str] {
    &[
      "end",
      "log_groups",
      "query",
      "query_id",
      "row_count",
      "rows",
      "start",
      "statistics",
      "status_aws",
      "stop_query",
    ]
  }

  fn check(&self, text: &str, options: &[(String, String)]) -> Result<(), String> {
    Query::parse(text, options).map(|_| ())
  }

  fn prefetch(
    &self,
    step: &Step,
    text: &str,
    aws: &std::sync::Arc<Aws>,
  ) -> Option<Box<dyn Pending>> {
    let options = step.action().map(|a| a.options.clone()).unwrap_or_default();
    let query = Query::parse(text, &options).ok()?;
    Some(Box::new(Running::start(aws, &query, Some(clock::now()))))
  }

  fn execute(&self, run: &mut StepRun) -> Output {
    let options = run
      .step
      .action()
      .map(|a| a.options.clone())
      .unwrap_or_default();
    let query = match Query::parse(run.text, &options) {
      Ok(q) => q,
      Err(e) => return Output::failed(Status::Failed, e),
    };
    let aws = match run.aws.get() {
      Ok(aws) => aws,
      Err(e) => return Output::failed(Status::Failed, e),
    };
    let (running, results) = prefetch::take_or_start(
      run,
      || Running::start(aws, &query, None),
      |running, run| running.wait(run, aws),
    );
    let mut output = Output::new(Status::Done);
    output.fields = running.fields(&query);
    let results = match results {
      Ok(Ok(results)) => results,
      Ok(Err(e)) => return failed(output, e),
      Err(cut) => {
        let stopped = running.stop(aws);
        return cut_short(output, cut, stopped);
      }
    };
    present(run, output, &results)
  }
}

/// A query started now or when the run started, polled by a task on the
/// run's runtime until it ends.
struct Running {
  start: Instant,
  end: Instant,
  prefetched_at: Option<Instant>,
  /// Set once StartQuery answers: what StopQuery needs.
  id: Arc<OnceLock<String>>,
  progress: Arc<Mutex<String>>,
  task: JoinHandle<Result<GetQueryResultsOutput, String>>,
}

impl Running {
  fn start(aws: &Aws, query: &Query, prefetched_at: Option<Instant>) -> Self {
    let end = query.end.unwrap_or_else(clock::now);
    let start = query
      .start
      .or_else(|| Instant::from_seconds(end.seconds() - query.since.as_secs() as i64))
      .unwrap_or(end);
    let client = aws.client(aws_sdk_cloudwatchlogs::Client::new);
    let request = client
      .start_query()
      .set_log_group_names(Some(query.log_groups.clone()))
      .start_time(start.seconds())
      .end_time(end.seconds())
      .query_string(&query.text)
      .set_limit(query.limit);
    let id = Arc::new(OnceLock::new());
    let progress = Arc::new(Mutex::new("starting the query".to_string()));
    let task = aws.spawn(poll(
      client,
      aws.identity.clone(),
      request,
      Arc::clone(&id),
      Arc::clone(&progress),
    ));
    Self {
      start,
      end,
      prefetched_at,
      id,
      progress,
      task,
    }
  }

  /// Waits for the query under a spinner, Ctrl-C and the step's timeout.
  fn wait(&mut self, run: &StepRun, aws: &Aws) -> Waited<GetQueryResultsOutput> {
    let spinner = run.console.progress(None);
    let (task, progress) = (&mut self.task, &self.progress);
    let waited = aws.block_on(&run.console.interrupt_flag(), run.timeout, async {
      loop {
        spinner.set_message(
          progress
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone(),
        );
        tokio::select! {
          joined = &mut *task => {
            break joined.unwrap_or_else(|e| Err(format!("the query's task ended: {e}")));
          }
          () = tokio::time::sleep(Duration::from_millis(100)) => {}
        }
      }
    });
    spinner.finish_and_clear();
    waited
  }

  fn fields(&self, query: &Query) -> Map<String, Value> {
    let mut fields = Map::new();
    fields.insert("query".into(), Value::String(query.text.clone()));
    fields.insert("log_groups".into(), query.log_groups.clone().into());
    fields.insert("start".into(), Value::String(self.start.rfc3339()));
    fields.insert("end".into(), Value::String(self.end.rfc3339()));
    if let Some(id) = self.id.get() {
      fields.insert("query_id".into(), Value::String(id.clone()));
    }
    if let Some(at) = self.prefetched_at {
      fields.insert("prefetched_at".into(), Value::String(at.rfc3339()));
    }
    fields
  }

  /// Stops polling and, when AWS may still be running the query, the
  /// query: says how that went, or None when it never started.
  fn stop(self, aws: &Aws) -> Option<String> {
    let finished = self.task.is_finished();
    self.task.abort();
    let id = self.id.get()?;
    if finished {
      return Some("complete already".into());
    }
    let client = aws.client(aws_sdk_cloudwatchlogs::Client::new);
    let stop = aws.block_on(
      &interrupted_never(),
      Some(Duration::from_secs(5)),
      client.stop_query().query_id(id).send(),
    );
    Some(match stop {
      Ok(Ok(_)) => "stopped".to_string(),
      Ok(Err(e)) => format!("StopQuery failed: {}", explain("logs:StopQuery", &e)),
      Err(_) => "StopQuery got no answer".to_string(),
    })
  }
}

impl Pending for Running {
  fn started_at(&self) -> Instant {
    self.prefetched_at.unwrap_or(self.start)
  }

  fn is_ready(&self) -> bool {
    self.task.is_finished()
  }

  fn stop(self: Box<Self>, aws: &Aws) -> String {
    Running::stop(*self, aws).unwrap_or_else(|| "not started yet".into())
  }

  fn into_any(self: Box<Self>) -> Box<dyn Any> {
    self
  }
}

/// StartQuery (within the account's concurrent-query budget, waiting out
/// LimitExceededException), then polls:
/// at once (a short query may be done), then every MIN_POLL to MAX_POLL,
/// never sooner than this account and region's next free slot.
async fn poll(
  client: aws_sdk_cloudwatchlogs::Client,
  identity: Identity,
  request: StartQueryFluentBuilder,
  id: Arc<OnceLock<String>>,
  progress: Arc<Mutex<String>>,
) -> Result<GetQueryResultsOutput, String> {
  let say = |message: String| *progress.lock().unwrap_or_else(PoisonError::into_inner) = message;
  let slots = query_slots(&identity);
  if slots.available_permits() == 0 {
    say(format!(
      "waiting: this run has {MAX_QUERIES} queries running in account {} {}",
      identity.account, identity.region
    ));
  }
  // Held until the query ends or is stopped (the task is dropped).
  let _slot = slots.acquire_owned().await;
  let mut retries = 0;
  let started = loop {
    // Each call boxed: this task lives as long as the query, and an SDK
    // call's future inlined would keep hundreds of KB per query the whole
    // time (a fan-out runs a query per target at once).
    match Box::pin(request.clone().send()).await {
      Ok(started) => break started,
      Err(e) if e.code() == Some("LimitExceededException") && retries < LIMIT_RETRIES => {
        let backoff = Duration::from_secs(1 << retries);
        retries += 1;
        say(format!(
          "the account's concurrent queries are all in use; trying again in {}s",
          backoff.as_secs()
        ));
        tokio::time::sleep(backoff).await;
      }
      Err(e) => return Err(explain("logs:StartQuery", &e)),
    }
  };
  let query_id = started.query_id().unwrap_or_default().to_string();
  let _ = id.set(query_id.clone());
  say(format!("query {query_id}: waiting"));
  let mut delay = Duration::ZERO;
  loop {
    tokio::time::sleep(delay).await;
    tokio::time::sleep(crate::aws::pace::slot(
      &identity,
      "logs:GetQueryResults",
      std::time::Instant::now(),
    ))
    .await;
    let results = Box::pin(client.get_query_results().query_id(&query_id).send())
      .await
      .map_err(|e| explain("logs:GetQueryResults", &e))?;
    let stats = results.statistics();
    say(format!(
      "query {query_id}: {} · {} matched / {} scanned",
      results.status().map_or("?", |s| s.as_str()),
      stats.map_or(0.0, |s| s.records_matched()),
      stats.map_or(0.0, |s| s.records_scanned()),
    ));
    let done = !matches!(
      results.status(),
      Some(QueryStatus::Running | QueryStatus::Scheduled) | None
    );
    if done {
      return Ok(results);
    }
    delay = (delay * 2).clamp(MIN_POLL, MAX_POLL);
  }
}

/// The rows as a table on the terminal and every row in the output.
fn present(run: &StepRun, mut output: Output, results: &GetQueryResultsOutput) -> Output {
  let status = results
    .status()
    .map_or("Unknown", |s| s.as_str())
    .to_string();
  let statistics = results.statistics().map_or(Value::Null, |s| {
    serde_json::json!({
      "records_matched": s.records_matched(),
      "records_scanned": s.records_scanned(),
      "bytes_scanned": s.bytes_scanned(),
    })
  });
  let rows: Vec<Value> = results
    .results()
    .iter()
    .map(|row| {
      let mut map = Map::new();
      for field in row {
        let (Some(name), Some(value)) = (field.field(), field.value()) else {
          continue;
        };
        if name == "@ptr" {
          continue;
        }
        map.insert(name.to_string(), Value::String(timestamp(name, value)));
      }
      Value::Object(map)
    })
    .collect();
  let shown = table(&rows);
  run.console.say(&shown.fitted(run.console.width()));
  output
    .fields
    .insert("shown".into(), Value::String(shown.whole()));
  output
    .fields
    .insert("status_aws".into(), Value::String(status.clone()));
  output.fields.insert("statistics".into(), statistics);
  output.fields.insert("row_count".into(), rows.len().into());
  output.fields.insert("rows".into(), Value::Array(rows));
  if status != "Complete" {
    output.status = Status::Failed;
    output.error = Some(format!("the query ended {status}"));
  }
  output
}

fn interrupted_never() -> std::sync::atomic::AtomicBool {
  std::sync::atomic::AtomicBool::new(false)
}

fn failed(mut output: Output, error: String) -> Output {
  output.status = Status::Failed;
  output.error = Some(error);
  output
}

fn cut_short(mut output: Output, cut: Cut, stopped: Option<String>) -> Output {
  let (status, why) = match cut {
    Cut::Interrupted => (Status::Interrupted, crate::cancel::interruption()),
    Cut::TimedOut => (Status::TimedOut, "timed out".to_string()),
  };
  output.status = status;
  output.error = Some(match &stopped {
    Some(s) => format!("{why}; query {s}"),
    None => why.to_string(),
  });
  if let Some(s) = stopped {
    output.fields.insert("stop_query".into(), Value::String(s));
  }
  output
}

/// AWS returns `@timestamp` as `YYYY-MM-DD HH:MM:SS.mmm`; some emulators
/// give epoch milliseconds. Both become the AWS form.
fn timestamp(field: &str, value: &str) -> String {
  let epoch_millis =
    field == "@timestamp" && value.len() >= 12 && value.bytes().all(|b| b.is_ascii_digit());
  match value.parse().ok().and_then(Instant::from_millis) {
    Some(at) if epoch_millis => at.logs_format(),
    _ => value.to_string(),
  }
}

fn table(rows: &[Value]) -> Shown {
  let mut columns: Vec<String> = Vec::new();
  for row in rows.iter().take(PAGE) {
    if let Value::Object(map) = row {
      for key in map.keys() {
        if !columns.contains(key) {
          columns.push(key.clone());
        }
      }
    }
  }
  // @timestamp first, as every console shows it.
  columns.sort_by_key(|c| (c != "@timestamp", c.clone()));
  let mut table = comfy_table::Table::new();
  table.load_preset(comfy_table::presets::UTF8_BORDERS_ONLY);
  table.set_header(columns.clone());
  for row in rows.iter().take(PAGE) {
    table.add_row(
      columns
        .iter()
        .map(|c| row.get(c).and_then(Value::as_str).unwrap_or("").to_string()),
    );
  }
  let mut out = String::new();
  if rows.len() > PAGE {
    out.push_str(&format!(
      "… {} more rows in the transcript\n",
      rows.len() - PAGE
    ));
  }
  out.push_str(&format!(
    "{} row{}\n",
    rows.len(),
    if rows.len() == 1 { "" } else { "s" }
  ));
  Shown::default().table(table).text(out)
}

#[cfg(test)]
mod tests {
  use super::*;

  #[test]
  fn header_and_attributes() {
    let q = Query::parse(
      "log-groups: [/ecs/a, /ecs/b]\nsince: 12h\nlimit: 20\n---\nfields @message\n",
      &[],
    )
    .expect("parses");
    assert_eq!(q.log_groups, ["/ecs/a", "/ecs/b"]);
    assert_eq!(q.since, Duration::from_secs(12 * 3600));
    assert_eq!(q.limit, Some(20));
    assert_eq!(q.text, "fields @message");
    let q = Query::parse(
      "fields @message\n",
      &[("log-groups".into(), "/a,/b".into())],
    )
    .expect("parses");
    assert_eq!(q.log_groups, ["/a", "/b"]);
  }

  #[test]
  fn errors_say_what_to_write() {
    let cases = [
      (
        "fields @m\n",
        "no log groups: give `log-groups` in the header or as an attribute",
      ),
      (
        "log-groups: a\nsince: soon\n---\nx\n",
        "`since: soon`: expected a duration such as 15m, 12h or 7d",
      ),
      (
        "log-groups: a\nlimit: 0\n---\nx\n",
        "`limit: 0`: expected 1 to 10000",
      ),
      ("log-groups: a\n---\n\n", "the query is empty"),
      (
        "log-groups: a\ncolour: red\n---\nx\n",
        "unknown field `colour`; known: log-groups, since, start, end, limit",
      ),
    ];
    for (body, want) in cases {
      assert_eq!(Query::parse(body, &[]).expect_err(body), want);
    }
  }

  #[test]
  fn timestamps_in_both_forms() {
    assert_eq!(
      timestamp("@timestamp", "1763888401123"),
      "2025-11-23 09:00:01.123"
    );
    assert_eq!(
      timestamp("@timestamp", "2025-11-23 09:00:01.123"),
      "2025-11-23 09:00:01.123"
    );
    assert_eq!(timestamp("count", "1763888401123"), "1763888401123");
  }
}
