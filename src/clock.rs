//! The only place litops reads the wall clock (clippy.toml forbids it
//! elsewhere), so every timestamp in a transcript has one format.

use chrono::{DateTime, SecondsFormat, Utc};

#[derive(Clone, Copy, Debug)]
pub struct Instant(DateTime<Utc>);

#[allow(clippy::disallowed_methods)]
pub fn now() -> Instant {
  Instant(Utc::now())
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

  pub fn nanos(self) -> i64 {
    self.0.timestamp_nanos_opt().unwrap_or_default()
  }
}
