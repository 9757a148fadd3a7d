//! A team's defaults for `run`, so a scheduled job's command line stays
//! short: `$LITOPS_CONFIG`, else `$XDG_CONFIG_HOME/litops/config.yaml`, else
//! `~/.config/litops/config.yaml`. Flags and environment variables win.
//!
//! ```yaml
//! store: s3://acme-ops-evidence/daily
//! notify: [sns:arn:aws:sns:eu-west-1:123456789012:ops-alerts, "slack:"]
//! ```

use std::path::PathBuf;

use serde::Deserialize;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
  /// As `--store`.
  pub store: Option<String>,
  /// As `--notify`, added to the runbook's and the flags'.
  #[serde(default)]
  pub notify: Vec<String>,
}

impl Config {
  /// The config file in use, if there is one.
  fn path() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("LITOPS_CONFIG") {
      return Some(PathBuf::from(path));
    }
    let base = std::env::var_os("XDG_CONFIG_HOME")
      .map(PathBuf::from)
      .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")))?;
    let path = base.join("litops/config.yaml");
    path.exists().then_some(path)
  }

  /// The team's defaults; none without a config file. A config file that
  /// cannot be read, or says something unknown, is an error naming it.
  pub fn load() -> Result<Self, String> {
    let Some(path) = Self::path() else {
      return Ok(Self::default());
    };
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    serde_yaml::from_str(&text).map_err(|e| {
      format!(
        "{}: {e} (expected `store: s3://…` and `notify: [CHANNEL, …]`)",
        path.display()
      )
    })
  }
}
