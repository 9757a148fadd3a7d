//! The only place litops reads the wall clock (clippy.toml forbids it
//! elsewhere), so every timestamp in a transcript has one format.

use std::sync::atomic::{AtomicI64, Ordering};

use chrono::{DateTime, SecondsFormat, Utc};

#[derive(Clone, Copy, Debug)]
pub struct Instant(DateTime<Utc>);

/// `litops test`: the moment a case runs at, in milliseconds since the
/// epoch, so what a script computes from the time (`utc_ago`) is the same
/// on every run. `i64::MIN` when the clock runs.
static FROZEN: AtomicI64 = AtomicI64::new(i64::MIN);

#[allow(clippy::disallowed_methods)]
pub fn now() -> Instant {
  match FROZEN.load(Ordering::SeqCst) {
    i64::MIN => Instant(Utc::now()),
    millis => Instant::from_millis(millis).unwrap_or(Instant(Utc::now())),
  }
}

/// Stops the clock at `at` (every `now()` answers it), or lets it run.
pub fn freeze(at: Option<Instant>) {
  let millis = at.map_or(i64::MIN, |at| at.0.timestamp_millis());
  FROZEN.store(millis, Ordering::SeqCst);
}

impl Instant {
  /// `2026-11-23T09:00:01.123Z`: UTC with milliseconds, as auditors read it.
  pub fn rfc3339(self) -> String {
    self.0.to_rfc3339_opts(SecondsFormat::Millis, true)
  }

  /// `20261123T090001Z`, for file names that sort by time.
  pub fn compact(self) -> String {
    self.0.format("%Y%m%dT%H%M%SZ").to_string()
  }

  pub fn millis_since(self, earlier: Instant) -> u64 {
    u64::try_from((self.0 - earlier.0).num_milliseconds()).unwrap_or(0)
  }

  pub fn seconds(self) -> i64 {
    self.0.timestamp()
  }

  pub fn from_seconds(seconds: i64) -> Option<Self> {
    DateTime::from_timestamp(seconds, 0).map(Self)
  }

  pub fn from_millis(millis: i64) -> Option<Self> {
    DateTime::from_timestamp_millis(millis).map(Self)
  }

  /// `2026-11-23 09:00:01.123`, the form Logs Insights gives `@timestamp` in.
  pub fn logs_format(self) -> String {
    self.0.format("%Y-%m-%d %H:%M:%S%.3f").to_string()
  }

  /// `2026-11-23T09:00:01`, UTC to the second, as queries compare times.
  pub fn iso_seconds(self) -> String {
    self.0.format("%Y-%m-%dT%H:%M:%S").to_string()
  }

  /// `2026-11-23 09:00`, for metric periods.
  pub fn minutes(self) -> String {
    self.0.format("%Y-%m-%d %H:%M").to_string()
  }

  /// Parses RFC 3339 or `YYYY-MM-DD HH:MM[:SS]` (taken as UTC).
  pub fn parse(text: &str) -> Option<Self> {
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
      return Some(Self(t.with_timezone(&Utc)));
    }
    ["%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S"]
      .iter()
      .find_map(|f| chrono::NaiveDateTime::parse_from_str(text, f).ok())
      .map(|t| Self(t.and_utc()))
  }

  pub fn nanos(self) -> i64 {
    self.0.timestamp_nanos_opt().unwrap_or_default()
  }
}
