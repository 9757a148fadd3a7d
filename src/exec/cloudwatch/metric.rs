//! `cloudwatch` `action: metric`: one metric over a window through
//! GetMetricData, optionally against the same window some time earlier.
//!
//! ````markdown
//! ```cloudwatch
//! action: metric
//! namespace: AWS/ECS
//! metric: CPUUtilization
//! dimensions: {ClusterName: "{{ cluster }}", ServiceName: api}
//! stat: Average          # Average (default), Sum, Minimum, Maximum, SampleCount, p99, …
//! period: 5m             # seconds or a duration; 1, 5, 10, 30 s or whole minutes
//! since: 3h
//! threshold: "> 85"      # marks the points that breach it
//! baseline: 7d           # also fetch the window shifted back, compare averages
//! ```
//! ````

use std::any::Any;
use std::time::Duration;

use aws_sdk_cloudwatch::primitives::DateTime;
use aws_sdk_cloudwatch::types::{Dimension, Metric, MetricDataQuery, MetricStat, ScanBy};
use serde_json::{Map, Value, json};
use tokio::task::JoinHandle;

use crate::aws::{Aws, explain};
use crate::check::parse_duration;
use crate::clock::{self, Instant};
use crate::exec::action::StepRun;
use crate::exec::aws_step::{Failure, Fields, Shown, table, wait};
use crate::exec::body::Body;
use crate::exec::prefetch::{self, Pending, Waited};

/// Rows the terminal shows; the transcript keeps every point.
const PAGE: usize = 12;
/// Widest sparkline; longer series are bucketed, keeping each bucket's peak.
const SPARK_WIDTH: usize = 60;
const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];

/// What `check` validates: the request `metric` would make.
pub fn check(body: &Body) -> Result<(), String> {
  Request::from_body(body).map(|_| ())
}

pub fn metric(run: &mut StepRun, body: &Body) -> Result<(Fields, Shown), Failure> {
  let request = Request::from_body(body)?;
  let aws = run.aws.get()?;
  let (fetching, fetched) = prefetch::take_or_start(
    run,
    || Fetching::start(aws, &request, None),
    |fetching, run| fetching.wait(run, aws),
  );
  let (points, baseline) = fetched??;
  let series = Series {
    request: &request,
    start: fetching.start,
    end: fetching.end,
    points,
    baseline,
  };
  let mut fields = series.fields();
  if let Some(at) = fetching.prefetched_at {
    fields.insert("prefetched_at".into(), Value::String(at.rfc3339()));
  }
  Ok((fields, series.shown()))
}

pub fn prefetch(body: &Body, aws: &Aws) -> Option<Box<dyn Pending>> {
  let request = Request::from_body(body).ok()?;
  Some(Box::new(Fetching::start(aws, &request, Some(clock::now()))))
}

/// (epoch seconds, value), oldest first.
type Points = Vec<(i64, f64)>;
/// The window's points and, with a baseline, its shift and points.
type Window = (Points, Option<(i64, Points)>);

/// A fetch running on the run's runtime, started now or with the run.
struct Fetching {
  start: i64,
  end: i64,
  prefetched_at: Option<Instant>,
  task: JoinHandle<Result<Window, String>>,
}

impl Fetching {
  fn start(aws: &Aws, request: &Request, prefetched_at: Option<Instant>) -> Self {
    let client = aws.client(aws_sdk_cloudwatch::Client::new);
    let period = request.period.as_secs() as i64;
    // Whole periods only, aligned as CloudWatch aligns them, so a half-filled
    // last period never reads as a dip and the baseline lines up point for point.
    let end = clock::now().seconds().div_euclid(period) * period;
    let start = (end - request.since.as_secs() as i64).div_euclid(period) * period;
    let query = request.query();
    let shift = request.baseline.map(|b| b.as_secs() as i64);
    let task = aws.spawn(async move {
      let now = window(&client, &query, start, end).await?;
      let baseline = match shift {
        Some(shift) => Some((
          shift,
          window(&client, &query, start - shift, end - shift).await?,
        )),
        None => None,
      };
      Ok((now, baseline))
    });
    Self {
      start,
      end,
      prefetched_at,
      task,
    }
  }

  /// The fetch's outcome, unless Ctrl-C or the step's timeout comes first
  /// (then the fetch is dropped).
  fn wait(&mut self, run: &StepRun, aws: &Aws) -> Waited<Window> {
    let waited = wait(&run.reach(), aws, &mut self.task)
      .map(|joined| joined.unwrap_or_else(|e| Err(format!("the fetch's task ended: {e}"))));
    if waited.is_err() {
      self.task.abort();
    }
    waited
  }
}

impl Pending for Fetching {
  fn started_at(&self) -> Instant {
    self.prefetched_at.unwrap_or_else(clock::now)
  }

  fn is_ready(&self) -> bool {
    self.task.is_finished()
  }

  fn stop(self: Box<Self>, _aws: &Aws) -> String {
    let finished = self.task.is_finished();
    self.task.abort();
    crate::exec::prefetch::how_stopped(finished)
  }

  fn into_any(self: Box<Self>) -> Box<dyn Any> {
    self
  }
}

/// Every page of one window, oldest first.
async fn window(
  client: &aws_sdk_cloudwatch::Client,
  query: &MetricDataQuery,
  from: i64,
  to: i64,
) -> Result<Points, String> {
  let mut points = Vec::new();
  let mut next = None;
  loop {
    let page = client
      .get_metric_data()
      .metric_data_queries(query.clone())
      .start_time(DateTime::from_secs(from))
      .end_time(DateTime::from_secs(to))
      .scan_by(ScanBy::TimestampAscending)
      .set_next_token(next.take())
      .send()
      .await
      .map_err(|e| explain("cloudwatch:GetMetricData", &e))?;
    for result in page.metric_data_results() {
      points.extend(
        result
          .timestamps()
          .iter()
          .map(|t| t.secs())
          .zip(result.values().iter().copied()),
      );
    }
    next = page.next_token().map(str::to_string);
    if next.is_none() {
      break;
    }
  }
  points.sort_by_key(|p| p.0);
  Ok(points)
}

struct Request {
  namespace: String,
  metric: String,
  dimensions: Vec<(String, String)>,
  stat: String,
  period: Duration,
  since: Duration,
  threshold: Option<Threshold>,
  baseline: Option<Duration>,
  baseline_text: Option<String>,
}

impl Request {
  fn from_body(body: &Body) -> Result<Self, String> {
    let duration = |key: &str, default: u64| -> Result<Duration, String> {
      match body.text(key) {
        None => Ok(Duration::from_secs(default)),
        Some(text) => parse_duration(&text).ok_or_else(|| {
          format!("`cloudwatch`: `{key}: {text}`: expected a duration such as 5m, 3h or 7d")
        }),
      }
    };
    let period = duration("period", 300)?;
    let secs = period.as_secs();
    if !(matches!(secs, 1 | 5 | 10 | 30) || (secs > 0 && secs % 60 == 0))
      || period.subsec_nanos() != 0
    {
      return Err(format!(
        "`cloudwatch`: `period: {}`: CloudWatch takes 1, 5, 10 or 30 seconds or whole minutes",
        body.text("period").unwrap_or_default()
      ));
    }
    let since = duration("since", 3 * 3600)?;
    if since < period {
      return Err("`cloudwatch`: `since` is shorter than one `period`".into());
    }
    let dimensions = match body.json("dimensions") {
      Value::Null => Vec::new(),
      Value::Object(map) => map
        .into_iter()
        .map(|(name, value)| {
          let value = match value {
            Value::String(s) => s,
            other => other.to_string(),
          };
          (name, value)
        })
        .collect(),
      _ => {
        return Err(
          "`cloudwatch`: `dimensions` must be a map such as {ClusterName: prod, ServiceName: api}"
            .into(),
        );
      }
    };
    let threshold = body
      .text("threshold")
      .map(|t| Threshold::parse(&t))
      .transpose()?;
    let baseline_text = body.text("baseline");
    let baseline = baseline_text
      .as_deref()
      .map(|text| {
        parse_duration(text).ok_or_else(|| {
          format!("`cloudwatch`: `baseline: {text}`: expected how far back, such as 1d or 7d")
        })
      })
      .transpose()?;
    Ok(Self {
      namespace: body.required("namespace")?,
      metric: body.required("metric")?,
      dimensions,
      stat: stat_name(&body.text("stat").unwrap_or_else(|| "Average".into())),
      period,
      since,
      threshold,
      baseline,
      baseline_text,
    })
  }

  fn query(&self) -> MetricDataQuery {
    let metric = Metric::builder()
      .namespace(&self.namespace)
      .metric_name(&self.metric)
      .set_dimensions(Some(
        self
          .dimensions
          .iter()
          .map(|(name, value)| Dimension::builder().name(name).value(value).build())
          .collect(),
      ))
      .build();
    MetricDataQuery::builder()
      .id("m0")
      .metric_stat(
        MetricStat::builder()
          .metric(metric)
          .period(self.period.as_secs() as i32)
          .stat(&self.stat)
          .build(),
      )
      .return_data(true)
      .build()
  }

  fn title(&self) -> String {
    let mut title = format!(
      "{} {} ({}, {} periods)",
      self.namespace,
      self.metric,
      self.stat,
      humantime::format_duration(self.period)
    );
    for (name, value) in &self.dimensions {
      title.push_str(&format!(" · {name}={value}"));
    }
    title
  }
}

/// CloudWatch's statistic names are case-sensitive; runbooks are written by
/// people, so `average` and `max` mean what they say.
fn stat_name(text: &str) -> String {
  match text.to_lowercase().as_str() {
    "average" | "avg" | "mean" => "Average".into(),
    "sum" => "Sum".into(),
    "minimum" | "min" => "Minimum".into(),
    "maximum" | "max" => "Maximum".into(),
    "samplecount" | "count" => "SampleCount".into(),
    _ => text.to_string(),
  }
}

#[derive(Debug, Clone, Copy, PartialEq)]
struct Threshold {
  operator: &'static str,
  value: f64,
}

impl Threshold {
  fn parse(text: &str) -> Result<Self, String> {
    let trimmed = text.trim();
    let operator = [">=", "<=", ">", "<"]
      .into_iter()
      .find(|op| trimmed.starts_with(op));
    let value = operator.and_then(|op| {
      trimmed[op.len()..]
        .trim()
        .trim_end_matches('%')
        .trim()
        .parse::<f64>()
        .ok()
        .filter(|v| v.is_finite())
    });
    match (operator, value) {
      (Some(operator), Some(value)) => Ok(Self { operator, value }),
      _ => Err(format!(
        "`cloudwatch`: `threshold: {text}`: expected a comparison such as \"> 85\" or \"<= 0.5\""
      )),
    }
  }

  fn breached_by(self, value: f64) -> bool {
    match self.operator {
      ">=" => value >= self.value,
      "<=" => value <= self.value,
      ">" => value > self.value,
      _ => value < self.value,
    }
  }
}

impl std::fmt::Display for Threshold {
  fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
    write!(f, "{} {}", self.operator, number(self.value))
  }
}

struct Series<'a> {
  request: &'a Request,
  start: i64,
  end: i64,
  points: Vec<(i64, f64)>,
  /// How far back, and the earlier points at their own times.
  baseline: Option<(i64, Vec<(i64, f64)>)>,
}

impl Series<'_> {
  fn breaches(&self) -> usize {
    self.request.threshold.map_or(0, |t| {
      self.points.iter().filter(|p| t.breached_by(p.1)).count()
    })
  }

  fn baseline_at(&self, at: i64) -> Option<f64> {
    let (shift, points) = self.baseline.as_ref()?;
    points.iter().find(|p| p.0 + shift == at).map(|p| p.1)
  }

  fn change_percent(&self) -> Option<f64> {
    let now = average(&self.points)?;
    let before = average(&self.baseline.as_ref()?.1)?;
    (before != 0.0).then(|| (now - before) / before.abs() * 100.0)
  }

  fn fields(&self) -> Fields {
    let request = self.request;
    let threshold = request.threshold;
    let points: Vec<Value> = self
      .points
      .iter()
      .map(|&(at, value)| {
        let mut point = json!({"at": rfc3339(at), "value": value});
        if let Some(t) = threshold {
          point["breach"] = t.breached_by(value).into();
        }
        point
      })
      .collect();
    let values: Vec<f64> = self.points.iter().map(|p| p.1).collect();
    let stat =
      |f: fn(&[(i64, f64)]) -> Option<f64>| f(&self.points).map_or(Value::Null, Value::from);
    let mut fields = Fields::new();
    fields.insert("namespace".into(), request.namespace.clone().into());
    fields.insert("metric".into(), request.metric.clone().into());
    fields.insert(
      "dimensions".into(),
      Value::Object(
        request
          .dimensions
          .iter()
          .map(|(k, v)| (k.clone(), Value::String(v.clone())))
          .collect::<Map<_, _>>(),
      ),
    );
    fields.insert("stat".into(), request.stat.clone().into());
    fields.insert("period".into(), request.period.as_secs().into());
    fields.insert("start".into(), rfc3339(self.start).into());
    fields.insert("end".into(), rfc3339(self.end).into());
    fields.insert("count".into(), points.len().into());
    fields.insert("min".into(), stat(|p| fold(p, f64::min)));
    fields.insert("max".into(), stat(|p| fold(p, f64::max)));
    fields.insert("average".into(), stat(average));
    fields.insert("latest".into(), stat(|p| p.last().map(|l| l.1)));
    fields.insert(
      "threshold".into(),
      threshold.map_or(Value::Null, |t| t.to_string().into()),
    );
    fields.insert("breaches".into(), self.breaches().into());
    fields.insert("values".into(), values.into());
    fields.insert("points".into(), points.into());
    let baseline = self.baseline.as_ref().map_or(Value::Null, |(shift, earlier)| {
      json!({
        "shift": request.baseline_text,
        "start": rfc3339(self.start - shift),
        "end": rfc3339(self.end - shift),
        "count": earlier.len(),
        "average": average(earlier),
        "values": earlier.iter().map(|p| p.1).collect::<Vec<_>>(),
        "points": earlier.iter().map(|&(at, value)| json!({"at": rfc3339(at), "value": value})).collect::<Vec<_>>(),
      })
    });
    fields.insert("baseline".into(), baseline);
    fields.insert(
      "change_percent".into(),
      self.change_percent().map_or(Value::Null, Value::from),
    );
    fields
  }

  fn shown(&self) -> Shown {
    let request = self.request;
    let mut out = format!(
      "{}\n{} → {} UTC · {} point(s)\n",
      request.title(),
      minutes(self.start),
      minutes(self.end),
      self.points.len()
    );
    if self.points.is_empty() && self.baseline.as_ref().is_none_or(|b| b.1.is_empty()) {
      out.push_str("no data points in this window\n");
      return out.into();
    }
    let earlier = self.baseline.as_ref().map(|(shift, points)| {
      let moved: Vec<(i64, f64)> = points.iter().map(|&(at, v)| (at + shift, v)).collect();
      moved
    });
    let all = self
      .points
      .iter()
      .chain(earlier.iter().flatten())
      .map(|p| p.1);
    let (low, high) = all.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
      (lo.min(v), hi.max(v))
    });
    let line = |points: &[(i64, f64)]| {
      sparkline(
        points,
        self.start,
        request.period.as_secs() as i64,
        self.end,
        (low, high),
      )
    };
    let label = request.baseline_text.as_deref().map(|b| format!("-{b}"));
    let width = label.as_ref().map_or(3, |l| l.len().max(3));
    out.push_str(&format!(
      "  {:width$}  {}  {}\n",
      "now",
      line(&self.points),
      summary(&self.points)
    ));
    if let (Some(earlier), Some(label)) = (&earlier, &label) {
      let change = self
        .change_percent()
        .map_or(String::new(), |c| format!(" · change {}", percent(c)));
      out.push_str(&format!(
        "  {label:width$}  {}  {}{change}\n",
        line(earlier),
        summary(earlier)
      ));
    }
    if let Some(t) = request.threshold {
      out.push_str(&format!(
        "  {} of {} point(s) breach {t}\n",
        self.breaches(),
        self.points.len()
      ));
    }
    let mut header = vec!["time (UTC)".to_string(), request.stat.clone()];
    if let Some(label) = &label {
      header.push(label.clone());
      header.push("change".into());
    }
    let mut rows = table(header);
    let first = self.points.len().saturating_sub(PAGE);
    for &(at, value) in &self.points[first..] {
      let mark = match request.threshold {
        Some(t) if t.breached_by(value) => format!("{} ▲", number(value)),
        _ => number(value),
      };
      let mut row = vec![minutes(at), mark];
      if self.baseline.is_some() {
        let before = self.baseline_at(at);
        row.push(before.map_or("-".into(), number));
        row.push(match before {
          Some(b) if b != 0.0 => percent((value - b) / b.abs() * 100.0),
          _ => "-".into(),
        });
      }
      rows.add_row(row);
    }
    let mut shown = Shown::from(out);
    if !self.points.is_empty() {
      shown = shown.table(rows);
    }
    if first > 0 {
      shown = shown.text(format!(
        "the last {PAGE} of {} points are shown; the transcript has them all\n",
        self.points.len()
      ));
    }
    shown
  }
}

fn fold(points: &[(i64, f64)], f: fn(f64, f64) -> f64) -> Option<f64> {
  points.iter().map(|p| p.1).reduce(f)
}

fn average(points: &[(i64, f64)]) -> Option<f64> {
  (!points.is_empty()).then(|| points.iter().map(|p| p.1).sum::<f64>() / points.len() as f64)
}

fn summary(points: &[(i64, f64)]) -> String {
  match (
    fold(points, f64::min),
    average(points),
    fold(points, f64::max),
    points.last(),
  ) {
    (Some(min), Some(avg), Some(max), Some(latest)) => format!(
      "min {} · avg {} · max {} · latest {}",
      number(min),
      number(avg),
      number(max),
      number(latest.1)
    ),
    _ => "no data".into(),
  }
}

/// One bar per period from `start` to `end`, blank where CloudWatch had no
/// data; longer windows are bucketed, each bucket showing its peak so a
/// short spike stays visible.
fn sparkline(
  points: &[(i64, f64)],
  start: i64,
  period: i64,
  end: i64,
  (low, high): (f64, f64),
) -> String {
  let slots = usize::try_from((end - start) / period.max(1))
    .unwrap_or(0)
    .max(1);
  let per_bar = slots.div_ceil(SPARK_WIDTH);
  let mut bars: Vec<Option<f64>> = vec![None; slots.div_ceil(per_bar)];
  for &(at, value) in points {
    let Ok(slot) = usize::try_from((at - start) / period.max(1)) else {
      continue;
    };
    if let Some(bar) = bars.get_mut(slot / per_bar) {
      *bar = Some(bar.map_or(value, |b: f64| b.max(value)));
    }
  }
  bars
    .into_iter()
    .map(|bar| match bar {
      None => ' ',
      Some(_) if high <= low => BARS[3],
      Some(v) => {
        let level = ((v - low) / (high - low) * (BARS.len() - 1) as f64).round();
        BARS[(level as usize).min(BARS.len() - 1)]
      }
    })
    .collect()
}

/// Up to two decimals, without trailing zeros: `85`, `85.5`, `0.04`.
fn number(value: f64) -> String {
  let text = format!("{value:.2}");
  let text = text.trim_end_matches('0').trim_end_matches('.');
  if text == "-0" {
    "0".into()
  } else {
    text.into()
  }
}

fn percent(change: f64) -> String {
  format!("{}{:.1} %", if change >= 0.0 { "+" } else { "" }, change)
}

fn rfc3339(secs: i64) -> String {
  Instant::from_seconds(secs).map_or_else(|| secs.to_string(), Instant::rfc3339)
}

fn minutes(secs: i64) -> String {
  Instant::from_seconds(secs).map_or_else(|| secs.to_string(), Instant::minutes)
}

#[cfg(test)]
mod tests {
  use super::*;

  #[test]
  fn thresholds() {
    for (text, value, breached) in [
      ("> 85", 85.0, false),
      ("> 85", 85.1, true),
      (">=85", 85.0, true),
      ("< 10 %", 9.0, true),
      ("<= 0.5", 0.6, false),
    ] {
      let t = Threshold::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"));
      assert_eq!(t.breached_by(value), breached, "{text} on {value}");
    }
    for bad in ["85", "> lots", "=> 3", "> inf"] {
      let error = Threshold::parse(bad).err().unwrap_or_default();
      assert!(error.contains("expected a comparison"), "{bad}: {error}");
    }
  }

  #[test]
  fn sparkline_scales_buckets_and_leaves_gaps() {
    let points = [(0, 0.0), (60, 50.0), (180, 100.0)];
    assert_eq!(sparkline(&points, 0, 60, 240, (0.0, 100.0)), "▁▅ █");
    // 120 periods into 60 bars: each bar keeps the higher of its two.
    let many: Vec<(i64, f64)> = (0..120)
      .map(|i| (i * 60, if i == 7 { 9.0 } else { 1.0 }))
      .collect();
    let line = sparkline(&many, 0, 60, 120 * 60, (1.0, 9.0));
    assert_eq!(line.chars().count(), 60);
    assert_eq!(line.chars().position(|c| c == '█'), Some(3));
  }

  #[test]
  fn numbers_and_stats() {
    assert_eq!(number(85.0), "85");
    assert_eq!(number(85.456), "85.46");
    assert_eq!(number(-0.001), "0");
    assert_eq!(percent(57.14), "+57.1 %");
    assert_eq!(percent(-3.0), "-3.0 %");
    assert_eq!(stat_name("max"), "Maximum");
    assert_eq!(stat_name("p99"), "p99");
  }
}
