//! Command-line flags → validated settings → the library. Only this module
//! prints results; messages come from the error and diagnostic types.

use std::io::{IsTerminal as _, Write as _};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use clap::{Args, Parser, Subcommand};
use serde_json::Value;

use crate::check::{Checked, check};
use crate::error::Error;
use crate::exec::{self, Approval, Console, RunOptions};
use crate::params::{Given, Live, Params, Placeholders, resolve};
use crate::source::Source;
use crate::{clock, plan, transcript};

/// The exit codes of a walk, in `run --help` and `resume --help`.
const EXIT_CODES: &str = "Exit codes:
  0    every step done or deliberately skipped
  1    something was found: a step failed, an item was answered \"not done\", or the operator quit
  2    invalid input or usage; nothing ran
  3    a person is needed: nothing failed, but a checklist item stayed unconfirmed or a
       question could not be asked
  70   a bug in litops (a panic that escaped a step)
  128+ interrupted by a signal: 130 Ctrl-C, 143 SIGTERM, 129 SIGHUP";

#[derive(Parser)]
#[command(
  name = "litops",
  version,
  about = "Walk Markdown runbooks step by step, with a transcript auditors can trust"
)]
struct Cli {
  #[command(subcommand)]
  command: Command,
  /// Colour: auto (a terminal, unless NO_COLOR is set), always or never
  #[arg(long, global = true, value_enum, default_value_t = Color::Auto)]
  color: Color,
  /// Whose rules a document is read by: runme, litops, or (by default) the
  /// document's own say (a `runme:` front matter key, Runme's JSON attributes)
  #[arg(long, global = true, value_enum)]
  dialect: Option<DialectArg>,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum DialectArg {
  Runme,
  Litops,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum Color {
  Auto,
  Always,
  Never,
}

#[derive(Subcommand)]
enum Command {
  /// Walk a runbook step by step, asking before each action
  #[command(after_help = EXIT_CODES)]
  Run(Box<RunArgs>),
  /// Continue an interrupted or failed run, in its transcript
  #[command(after_help = EXIT_CODES)]
  Resume(ResumeArgs),
  /// Report every problem in runbooks (files or directories of .md files)
  Check {
    #[arg(required = true, value_name = "PATH")]
    paths: Vec<PathBuf>,
  },
  /// Run runbook tests: each case in NAME.test.yaml walks NAME.md with
  /// its outputs replayed (only rhai runs; nothing reaches AWS or changes)
  Test {
    /// Case files, runbooks (their NAME.test.yaml) or directories
    #[arg(required = true, value_name = "PATH")]
    paths: Vec<PathBuf>,
    /// Also write the results as JUnit XML here, for CI systems
    #[arg(long, value_name = "PATH")]
    junit: Option<PathBuf>,
    /// Write each case's `expect:` from what its run did, for review
    #[arg(long)]
    update: bool,
  },
  /// Print every step and exactly what it would run; runs nothing
  Plan {
    file: PathBuf,
    #[command(flatten)]
    params: ParamArgs,
    /// Print the plan as JSON
    #[arg(long)]
    json: bool,
    /// Print the targets a fan-out would run for (a file, s3://, or
    /// org:…), resolving them without running anything
    #[arg(long, value_name = "TARGETS")]
    targets: Option<String>,
    #[command(flatten)]
    fleet: FleetArgs,
  },
  /// List the runs in the transcript directory, newest first, and when each
  /// runbook last passed
  Log {
    /// Only the runs of this runbook (a path, or its end such as `morning-health-check.md`)
    runbook: Option<String>,
    /// Where the transcripts are (default: transcripts)
    #[arg(long, value_name = "DIR", default_value = "transcripts")]
    transcript_dir: PathBuf,
  },
  /// List the runbooks and playbooks under a directory (.gitignore
  /// honoured): title, kind, tags, parameters, and their last run
  List {
    /// Where to look (default: the current directory)
    #[arg(default_value = ".")]
    dir: PathBuf,
    /// Where the transcripts are (default: transcripts)
    #[arg(long, value_name = "DIR", default_value = "transcripts")]
    transcript_dir: PathBuf,
    /// Print the list as JSON
    #[arg(long)]
    json: bool,
  },
  /// Check a transcript: its hash chain, every byte of it and its sidecars,
  /// and that every action that ran is in the runbook that ran
  Verify {
    transcript: PathBuf,
    /// The runbook to compare with (default: the path the transcript records)
    #[arg(long, value_name = "FILE")]
    runbook: Option<PathBuf>,
    /// Require a signature by this public key (from `litops keygen`)
    #[arg(long, value_name = "PUBKEY")]
    key: Option<PathBuf>,
    /// Check every approval's signature against this keyring of approvers
    #[arg(long, value_name = "FILE")]
    keyring: Option<PathBuf>,
    /// Accept steps run with --break-glass (they are still listed)
    #[arg(long)]
    allow_break_glass: bool,
    /// For an s3://bucket/prefix: check its digests, and every transcript
    /// stored there against them (--key: the digests' signer)
    #[arg(long)]
    digests: bool,
  },
  /// Write a signed digest of every transcript stored in s3://bucket/prefix
  /// since the previous digest, chained to it
  Digest {
    location: String,
    /// The ed25519 secret key that signs the digest
    #[arg(long, value_name = "KEY")]
    key: PathBuf,
  },
  /// Render a transcript as one self-contained HTML file (works offline)
  Render {
    transcript: PathBuf,
    /// Where to write the HTML report
    #[arg(long, value_name = "OUT")]
    html: PathBuf,
  },
  /// Compare two runs step by step: status, duration, changed outputs
  /// (times and ids aside), query rows added and removed, runbook changes
  Diff { a: PathBuf, b: PathBuf },
  /// Print a shell completion script: `litops completions bash > /etc/bash_completion.d/litops`
  Completions {
    #[arg(value_enum)]
    shell: clap_complete::Shell,
  },
  /// Show an approval request in full and, on yes, sign an approval of
  /// exactly it (`litops run` prints the command when a step waits)
  Approve {
    /// The request: a file, or s3://bucket/prefix/NAME.request.json
    request: String,
    /// Your ed25519 secret key (from `litops keygen`)
    #[arg(long, value_name = "KEY")]
    key: PathBuf,
    /// The approvers' keyring, to check your key is in it before you sign
    #[arg(long, value_name = "FILE")]
    keyring: Option<PathBuf>,
  },
  /// List the approval requests in a directory (or s3://bucket/prefix)
  /// that still wait for approvals and have not expired
  Approvals {
    #[arg(default_value = "approvals")]
    location: String,
  },
  /// Make an ed25519 key pair for signing transcripts: PREFIX.key (keep it
  /// secret) and PREFIX.pub (give it to auditors)
  Keygen {
    #[arg(default_value = "litops-signing")]
    prefix: PathBuf,
  },
}

/// Which accounts of an organization a fan-out reaches, and how.
#[derive(Args)]
struct FleetArgs {
  /// With --targets org:…: the role to assume in each account, {account}
  /// filled in (arn:aws:iam::{account}:role/litops-readonly)
  #[arg(long, value_name = "ARN-TEMPLATE")]
  target_role: Option<String>,
  /// With --targets org:…: only accounts matching one of these (an
  /// account id, a name pattern with *, or tag:KEY=VALUE)
  #[arg(long, value_name = "FILTER", value_delimiter = ',')]
  include: Vec<String>,
  /// With --targets org:…: leave out accounts matching one of these
  #[arg(long, value_name = "FILTER", value_delimiter = ',')]
  exclude: Vec<String>,
  /// With --targets org:…: every account in each of these regions
  #[arg(long, value_name = "REGION,…", value_delimiter = ',')]
  regions: Vec<String>,
}

/// The targets `spec` names: a YAML file, an s3:// object, or `org:…`
/// accounts of the organization; a local copy's guard comes with them.
fn resolve_targets(
  spec: &str,
  fleet: &FleetArgs,
  aws: &crate::aws::Settings,
) -> Result<(Option<tempfile::TempDir>, Vec<crate::fanout::Target>), Error> {
  if spec.starts_with("org:") {
    let role = fleet.target_role.as_deref().ok_or_else(|| {
      Error::Approval(
        "--targets org:…: give --target-role arn:aws:iam::{account}:role/NAME, the role to assume in each account"
          .into(),
      )
    })?;
    let aws = crate::aws::Session::new(aws.clone())
      .shared()
      .map_err(Error::Approval)?;
    let targets = crate::org::targets(
      &aws,
      &crate::org::Selection {
        spec,
        role,
        include: &fleet.include,
        exclude: &fleet.exclude,
        regions: &fleet.regions,
      },
    )
    .map_err(Error::Approval)?;
    if targets.is_empty() {
      return Err(Error::Approval(format!(
        "--targets {spec}: no account matches"
      )));
    }
    return Ok((None, targets));
  }
  // A scheduled task reads its targets from the bucket beside the evidence.
  let (copy, file) = match spec.strip_prefix("s3://").map(|_| spec) {
    Some(url) => {
      let (dir, path) = connect()
        .and_then(|aws| crate::evidence::local_file(url, aws))
        .map_err(Error::Approval)?;
      (Some(dir), path)
    }
    None => (None, PathBuf::from(spec)),
  };
  let targets = crate::fanout::load(&file).map_err(Error::Targets)?;
  Ok((copy, targets))
}

#[derive(Args)]
struct ParamArgs {
  /// Set a parameter (repeatable)
  #[arg(long = "param", value_name = "NAME=VALUE")]
  param: Vec<String>,
  /// Read parameters from a YAML mapping
  #[arg(long = "params", value_name = "FILE")]
  params_file: Option<PathBuf>,
}

#[derive(Args)]
struct RunArgs {
  file: PathBuf,
  #[command(flatten)]
  walk: WalkArgs,
  /// Start at this step
  #[arg(long, value_name = "ID")]
  from: Option<String>,
  /// Run only these steps
  #[arg(long, value_name = "ID,…", value_delimiter = ',')]
  only: Option<Vec<String>>,
  /// Run only the cells with one of these tags (Runme's `category` or `tag`)
  #[arg(
    long,
    value_name = "TAG,…",
    value_delimiter = ',',
    conflicts_with = "only"
  )]
  tag: Option<Vec<String>>,
  /// Write the transcript to this file
  #[arg(long, value_name = "PATH", conflicts_with = "transcript_dir")]
  transcript: Option<PathBuf>,
  /// Write the transcript under this directory (default: transcripts)
  #[arg(long, value_name = "DIR")]
  transcript_dir: Option<PathBuf>,
  /// Run for every target in this YAML file or s3:// object (`targets:`
  /// with name, params, profile, region, role), or every account of
  /// org:root / org:ou-… (with --target-role), concurrently; read-only
  /// steps only unless --yes
  #[arg(long, value_name = "FILE|org:…", conflicts_with = "transcript")]
  targets: Option<String>,
  #[command(flatten)]
  fleet: FleetArgs,
  /// With --targets: how many targets run at once
  #[arg(long, value_name = "N", default_value_t = 100, requires = "targets")]
  max_concurrency: usize,
  /// With --targets: stop starting targets after this many failed, a count
  /// or a share of the targets (10%)
  #[arg(long, value_name = "N|N%", requires = "targets")]
  max_errors: Option<String>,
  /// A CloudWatch alarm that stops the run when it goes to ALARM: no target
  /// starts and no step that changes something runs after it (repeatable)
  #[arg(long, value_name = "ALARM")]
  stop_on_alarm: Vec<String>,
  /// With --targets: run this many targets first, and start the rest only
  /// if every one of them passed (a staged rollout)
  #[arg(long, value_name = "N", default_value_t = 0, requires = "targets")]
  canary: usize,
  /// Tell people at the end of the run: sns:TOPIC-ARN, or slack: (the
  /// webhook URL in LITOPS_SLACK_WEBHOOK) or slack:env:NAME (repeatable;
  /// adds to the front matter's `notify:`)
  #[arg(long, value_name = "CHANNEL")]
  notify: Vec<String>,
  /// When to tell them
  #[arg(long, value_enum, value_name = "WHEN", default_value_t = crate::tell::When::Failure)]
  notify_on: crate::tell::When,
  /// Write the run's result as JSON here, for schedulers: result, exit
  /// code, verdict, each step's status (each target's, for --targets)
  #[arg(long, value_name = "PATH")]
  summary_json: Option<PathBuf>,
  /// Keep the transcript, its sidecars and the runbook copy in this S3
  /// prefix, never overwritten, under Object Lock when the bucket has it
  #[arg(long, value_name = "s3://BUCKET/PREFIX", env = "LITOPS_STORE")]
  store: Option<String>,
  /// The stored objects' lock: compliance, governance or none (default:
  /// compliance when the bucket has Object Lock)
  #[arg(long, value_name = "MODE", requires = "store")]
  store_retention: Option<String>,
  /// How many days the stored objects stay locked
  #[arg(long, value_name = "DAYS", default_value_t = 365, requires = "store")]
  store_days: u32,
}

impl RunArgs {
  /// The stop-on alarms, read once now: one missing, or already in ALARM,
  /// stops the run before anything runs.
  fn tripwire(
    &self,
    aws: &crate::aws::Settings,
  ) -> Result<Option<Arc<crate::tripwire::Tripwire>>, Error> {
    if self.stop_on_alarm.is_empty() {
      return Ok(None);
    }
    let aws = crate::aws::Session::new(aws.clone())
      .shared()
      .map_err(Error::Approval)?;
    let tripwire = crate::tripwire::Tripwire::new(self.stop_on_alarm.clone(), aws);
    if let Some(why) = tripwire.check() {
      return Err(Error::Approval(format!("{why}; nothing was run")));
    }
    Ok(Some(Arc::new(tripwire)))
  }

  /// The evidence store and its retention, checked before anything runs.
  fn store(
    &self,
    aws: &crate::aws::Settings,
  ) -> Result<Option<(crate::evidence::Store, crate::evidence::Retention)>, Error> {
    let Some(url) = &self.store else {
      return Ok(None);
    };
    let mode = self
      .store_retention
      .as_deref()
      .map(crate::evidence::parse_mode)
      .transpose()
      .map_err(Error::Approval)?;
    let aws = crate::aws::Session::new(aws.clone())
      .shared()
      .map_err(|e| Error::Approval(format!("--store {url}: {e}")))?;
    let store = crate::evidence::Store::open(url, aws).map_err(Error::Approval)?;
    Ok(Some((
      store,
      crate::evidence::Retention {
        mode,
        days: self.store_days,
      },
    )))
  }
}

/// Keeps a finished run in the store; where it is now (the local path when
/// there is no store, or the upload failed: it is reported, and the local
/// transcript is untouched).
fn keep(
  store: Option<&(crate::evidence::Store, crate::evidence::Retention)>,
  local: &Path,
  runbook: &str,
  result: &str,
) -> String {
  let Some((store, retention)) = store else {
    return local.display().to_string();
  };
  match store.keep(local, runbook, result, retention) {
    Ok(location) => {
      eprintln!("litops: stored {location}");
      location
    }
    Err(e) => {
      eprintln!(
        "litops: could not store the transcript: {e}; it is intact at {}",
        local.display()
      );
      local.display().to_string()
    }
  }
}

/// How a walk is approved, where it acts, and how its end is signed: the
/// same for `run` and `resume`.
#[derive(Args)]
struct WalkArgs {
  #[command(flatten)]
  params: ParamArgs,
  /// Approve every step without asking (manual checklist items still need a person)
  #[arg(long, conflicts_with = "yes_readonly")]
  yes: bool,
  /// Approve read-only steps without asking; still ask before anything that changes state
  #[arg(long)]
  yes_readonly: bool,
  /// AWS region for AWS steps (overrides the front matter and AWS_REGION)
  #[arg(long)]
  region: Option<String>,
  /// AWS profile for AWS steps (overrides the front matter and AWS_PROFILE)
  #[arg(long)]
  profile: Option<String>,
  /// Sign the transcript's end with this ed25519 key (from `litops keygen`)
  #[arg(long, value_name = "KEY")]
  sign: Option<PathBuf>,
  /// Start read-only AWS reads that need only parameters when the run
  /// starts; each step still asks before showing its result
  #[arg(long)]
  prefetch: bool,
  /// Where approval requests are written and approvals looked for: a
  /// directory the approvers share, or s3://bucket/prefix (default: approvals)
  #[arg(long, value_name = "DIR|S3", default_value = "approvals")]
  approvals_dir: String,
  /// The approvers' keyring, instead of the runbook's `approvals: keyring:`
  #[arg(long, value_name = "FILE")]
  approvals_keyring: Option<PathBuf>,
  /// Run steps that need approvals without them, for this reason (recorded,
  /// and flagged by `verify`)
  #[arg(long, value_name = "REASON")]
  break_glass: Option<String>,
}

impl WalkArgs {
  /// The walk's options from these flags (AWS settings: flags first, then
  /// the runbook's `aws:` front matter), for every step from the first.
  fn options(
    &self,
    file: &Path,
    runbook: &crate::model::Runbook,
    approval: Approval,
    transcript: PathBuf,
    run_id: String,
  ) -> Result<RunOptions, Error> {
    let sign = self
      .sign
      .as_deref()
      .map(crate::signing::signing_key)
      .transpose()
      .map_err(Error::Key)?;
    Ok(RunOptions {
      sign,
      approval,
      from: None,
      only: None,
      transcript,
      operator: exec::operator(),
      run_id,
      aws: self.aws_settings(runbook),
      prefetch: self.prefetch,
      approvals: self.approvals(file, runbook)?,
      fleet: Vec::new(),
      tripwire: None,
      replay: None,
    })
  }

  /// Where AWS steps act: flags first, then the runbook's `aws:`.
  fn aws_settings(&self, runbook: &crate::model::Runbook) -> crate::aws::Settings {
    crate::aws::Settings {
      region: self
        .region
        .clone()
        .or_else(|| runbook.meta.aws_region.clone()),
      profile: self
        .profile
        .clone()
        .or_else(|| runbook.meta.aws_profile.clone()),
      ..crate::aws::Settings::default()
    }
  }

  /// The approval settings, the keyring loaded now so a bad one stops the
  /// run before anything is asked.
  fn approvals(
    &self,
    file: &Path,
    runbook: &crate::model::Runbook,
  ) -> Result<exec::Approvals, Error> {
    let keyring = match (&self.approvals_keyring, &runbook.meta.approvals) {
      (Some(path), _) => Some(path.clone()),
      (None, Some(policy)) => policy
        .keyring
        .as_ref()
        .map(|k| file.parent().map_or_else(|| k.clone(), |dir| dir.join(k))),
      (None, None) => None,
    };
    let keyring = match keyring {
      Some(path) if runbook.meta.approvals.is_some() => Some(Arc::new(
        crate::approval::Keyring::load(&path).map_err(|e| Error::Approval(e.to_string()))?,
      )),
      _ => None,
    };
    if let Some(reason) = &self.break_glass
      && reason.trim().is_empty()
    {
      return Err(Error::Approval(
        "--break-glass needs a reason: it is recorded for the auditor".into(),
      ));
    }
    Ok(exec::Approvals {
      location: self.approvals_dir.clone(),
      keyring,
      break_glass: self.break_glass.clone(),
      shared: Arc::default(),
    })
  }
}

#[derive(Args)]
struct ResumeArgs {
  transcript: PathBuf,
  #[command(flatten)]
  walk: WalkArgs,
  /// Resume even though the runbook changed since the run started (recorded)
  #[arg(long)]
  force: bool,
  /// Continue at this step instead of where the run stopped
  #[arg(long, value_name = "ID")]
  from: Option<String>,
  /// What to do, without asking, with a mutating step that was running when
  /// the run stopped (it may have made its change): run it again, or skip it
  #[arg(long, value_name = "WHAT")]
  in_flight: Option<InFlightArg>,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum InFlightArg {
  Rerun,
  Skip,
}

/// Exit code of a panic that escaped every step: the hook has said it is a
/// bug in litops (EX_SOFTWARE, not Rust's 101).
const INTERNAL_ERROR: i32 = 70;

pub fn main() -> i32 {
  crate::redact::install_panic_hook();
  let cli = Cli::parse();
  match cli.color {
    Color::Auto => {}
    Color::Always => anstream::ColorChoice::Always.write_global(),
    Color::Never => anstream::ColorChoice::Never.write_global(),
  }
  if let Some(dialect) = cli.dialect {
    crate::check::read_as(match dialect {
      DialectArg::Runme => crate::model::Dialect::Runme,
      DialectArg::Litops => crate::model::Dialect::Litops,
    });
  }
  std::panic::catch_unwind(move || command(cli)).unwrap_or(INTERNAL_ERROR)
}

fn command(cli: Cli) -> i32 {
  let result = match cli.command {
    Command::Run(args) => run(*args),
    Command::Resume(args) => resume(args),
    Command::Check { paths } => Ok(check_paths(&paths)),
    Command::Plan {
      targets: Some(targets),
      fleet,
      ..
    } => resolve_targets(&targets, &fleet, &crate::aws::Settings::default()).map(|(_, list)| {
      for target in &list {
        out(&format!(
          "{}{}{}\n",
          target.name,
          target
            .role
            .as_ref()
            .map(|r| format!("  role {r}"))
            .unwrap_or_default(),
          target
            .region
            .as_ref()
            .map(|r| format!("  region {r}"))
            .unwrap_or_default()
        ));
      }
      out(&format!("{} target(s)\n", list.len()));
      0
    }),
    Command::Plan {
      file, params, json, ..
    } => plan_file(&file, &params, json),
    Command::Verify {
      transcript,
      key,
      digests: true,
      ..
    } => verify_digests(&transcript.to_string_lossy(), key.as_deref()),
    Command::Digest { location, key } => digest(&location, &key),
    Command::Verify {
      transcript,
      runbook,
      key,
      keyring,
      allow_break_glass,
      ..
    } => local_copy(&transcript).and_then(|(_copy, transcript)| {
      verify(
        &transcript,
        runbook.as_deref(),
        key.as_deref(),
        keyring.as_deref(),
        allow_break_glass,
      )
    }),
    Command::Keygen { prefix } => keygen(&prefix),
    Command::Approve {
      request,
      key,
      keyring,
    } => approve(&request, &key, keyring.as_deref()),
    Command::Approvals { location } => crate::approval::Store::at(&location, connect)
      .map_err(Error::Approval)
      .map(|store| {
        out(&crate::approval::pending(&store));
        0
      }),
    Command::Completions { shell } => {
      let mut command = <Cli as clap::CommandFactory>::command();
      let mut script = Vec::new();
      clap_complete::generate(shell, &mut command, "litops", &mut script);
      out(&String::from_utf8_lossy(&script));
      Ok(0)
    }
    Command::Diff { a, b } => {
      local_copy(&a).and_then(|(_a, a)| local_copy(&b).and_then(|(_b, b)| diff(&a, &b)))
    }
    Command::Render { transcript, html } => {
      local_copy(&transcript).and_then(|(_copy, transcript)| render(&transcript, &html))
    }
    // `log s3://bucket/prefix`: every run the team stored there.
    Command::Log {
      runbook: Some(store),
      ..
    } if store.starts_with("s3://") => {
      local_copy(Path::new(&store)).and_then(|(_copy, dir)| {
        let runs = crate::history::runs(&dir, None).map_err(|error| Error::History {
          dir: dir.clone(),
          error,
        })?;
        // Each run by where it is kept, not by the copy read here.
        let text = crate::history::Log(&runs).to_string();
        out(&text.replace(&dir.display().to_string(), store.trim_end_matches('/')));
        Ok(0)
      })
    }
    Command::Test {
      paths,
      junit,
      update,
    } => test(&paths, junit.as_deref(), update),
    Command::Log {
      runbook,
      transcript_dir,
    } => local_copy(&transcript_dir).and_then(|(_copy, dir)| log(&dir, runbook.as_deref())),
    Command::List {
      dir,
      transcript_dir,
      json,
    } => {
      let entries = crate::list::list(&dir, &transcript_dir);
      out(&if json {
        format!(
          "{}\n",
          serde_json::to_string_pretty(&entries).unwrap_or_default()
        )
      } else {
        crate::list::Listing(&entries).to_string()
      });
      Ok(0)
    }
  };
  result.unwrap_or_else(|error| {
    eprintln!("{}", error.to_string().trim_end());
    error.exit_code()
  })
}

fn out(text: &str) {
  // A closed pipe (`litops plan x | head`) is not an error worth a panic.
  let _ = std::io::stdout().lock().write_all(text.as_bytes());
}

fn load(path: &Path) -> Result<(Source, Checked), Error> {
  let source = Source::load(path).map_err(|error| Error::Load {
    path: path.to_path_buf(),
    error,
  })?;
  let checked = check(&source);
  for diagnostic in &checked.diagnostics {
    eprint!("{}", diagnostic.render(&source));
  }
  if checked.has_errors() {
    let errors = checked.diagnostics.iter().filter(|d| d.is_error()).count();
    return Err(Error::Invalid {
      path: path.to_path_buf(),
      errors,
    });
  }
  Ok((source, checked))
}

fn check_paths(paths: &[PathBuf]) -> i32 {
  let mut files = Vec::new();
  let mut problems = 0;
  for path in paths {
    if path.is_dir() {
      let before = files.len();
      markdown_files(path, &mut files);
      if files.len() == before {
        eprintln!("{}", Error::NoRunbooks(path.clone()));
        problems += 1;
      }
    } else {
      files.push(path.clone());
    }
  }
  let (mut errors, mut warnings, mut steps) = (0, 0, 0);
  for file in &files {
    match Source::load(file) {
      Err(error) => {
        eprintln!(
          "{}",
          Error::Load {
            path: file.clone(),
            error
          }
        );
        errors += 1;
      }
      Ok(source) => {
        let checked = check(&source);
        for d in &checked.diagnostics {
          eprint!("{}", d.render(&source));
          if d.is_error() {
            errors += 1
          } else {
            warnings += 1
          }
        }
        steps += checked.runbook.steps.len();
      }
    }
  }
  problems += errors;
  out(&format!(
    "checked {} file{}, {steps} step{}: {errors} error{}, {warnings} warning{}\n",
    files.len(),
    if files.len() == 1 { "" } else { "s" },
    if steps == 1 { "" } else { "s" },
    if errors == 1 { "" } else { "s" },
    if warnings == 1 { "" } else { "s" },
  ));
  i32::from(problems > 0)
}

/// `litops test`: every case of every case file; a line per case, then
/// the summary. Exit 0 when every case passed, else 1.
fn test(paths: &[PathBuf], junit: Option<&Path>, update: bool) -> Result<i32, Error> {
  use crate::testing;
  let (files, missing) = testing::discover(paths);
  let mut unusable: Vec<(PathBuf, String)> = Vec::new();
  for (path, error) in missing {
    let shown = error.to_string();
    eprintln!("{shown}");
    unusable.push((path, shown));
  }
  let mut verdicts = Vec::new();
  for file in &files {
    if crate::cancel::signalled() {
      break;
    }
    let suite = match testing::load(file, update) {
      Ok(suite) => suite,
      Err(why) => {
        let shown = why.render();
        eprint!("{shown}");
        unusable.push((file.clone(), shown));
        continue;
      }
    };
    let (mut ran, outcomes) = testing::run_suite(&suite, update);
    // An interrupted case's outcome is not what the runbook does.
    if update && !crate::cancel::signalled() {
      let text = testing::updated(&suite, &outcomes);
      testing::write(file, &text).map_err(|error| Error::UpdateCases {
        path: file.clone(),
        error,
      })?;
      eprintln!(
        "litops: wrote the expectations of {} case(s) to {}",
        outcomes.len(),
        file.display()
      );
    }
    verdicts.append(&mut ran);
  }
  out(
    &testing::Report {
      verdicts: &verdicts,
      unusable: unusable.len(),
    }
    .to_string(),
  );
  if let Some(path) = junit {
    std::fs::write(path, testing::junit(&verdicts, &unusable)).map_err(|error| Error::Report {
      path: path.to_path_buf(),
      error,
    })?;
  }
  if crate::cancel::signalled() {
    eprintln!(
      "litops: {}: the cases after it did not run",
      crate::cancel::interruption()
    );
    return Ok(crate::cancel::interrupted_exit_code());
  }
  let passed = unusable.is_empty() && verdicts.iter().all(|v| v.failures.is_empty());
  Ok(i32::from(!passed))
}

fn markdown_files(dir: &Path, files: &mut Vec<PathBuf>) {
  files.extend(crate::source::files_under(dir, &|path| {
    path
      .extension()
      .is_some_and(|e| e.eq_ignore_ascii_case("md"))
      && path.is_file()
      // A recorded run kept beside its runbook (a test case's) is a record.
      && !std::fs::read_to_string(path).is_ok_and(|t| crate::transcript::is_transcript(&t))
  }));
}

fn plan_file(file: &Path, args: &ParamArgs, json: bool) -> Result<i32, Error> {
  let (source, checked) = load(file)?;
  let given = Given::new(&args.param, args.params_file.as_deref()).map_err(Error::Params)?;
  // Planning never prompts or reads a secret store: what nobody gave stays
  // visible as `{{ name }}`.
  let mut placeholders = Placeholders::default();
  let params = resolve(&checked.runbook.meta, &given, &mut placeholders).map_err(Error::Params)?;
  let missing = placeholders.missing;
  let plan = plan::plan(&source, &checked.runbook, &params, &checked.blocks);
  if json {
    out(&format!(
      "{}\n",
      serde_json::to_string_pretty(&plan).unwrap_or_default()
    ));
  } else {
    for name in missing {
      eprintln!(
        "note: parameter `{name}` has no value; pass --param {name}=VALUE to see it substituted"
      );
    }
    out(&plan.render());
  }
  Ok(0)
}

fn run(args: RunArgs) -> Result<i32, Error> {
  let (source, checked) = load(&args.file)?;
  let runbook = &checked.runbook;
  let from = match &args.from {
    Some(id) => Some(step_index(runbook, "--from", id)?),
    None => None,
  };
  for id in args.only.iter().flatten() {
    step_index(runbook, "--only", id)?;
  }
  // A tag picks its cells as `--only` would name them.
  let args = match &args.tag {
    Some(tags) => RunArgs {
      only: Some(tagged(runbook, tags)?),
      ..args
    },
    None => args,
  };
  let run_id = transcript::run_id(clock::now());
  let path = match &args.transcript {
    Some(path) => path.clone(),
    None => transcript::default_path(&args.file, args.transcript_dir.as_deref(), &run_id),
  };
  // The team's defaults fill what the flags and environment left out.
  let config = crate::config::Config::load().map_err(Error::Approval)?;
  let args = RunArgs {
    store: args.store.or(config.store),
    ..args
  };
  // Where to tell people, checked before anything runs.
  let channels = runbook
    .meta
    .notify
    .iter()
    .chain(&config.notify)
    .chain(&args.notify)
    .map(|c| crate::tell::Channel::parse(c))
    .collect::<Result<Vec<_>, _>>()
    .map_err(Error::Approval)?;
  if args.targets.is_some() {
    return fan_out(&args, &source, runbook, path, run_id, from, &channels);
  }
  let (options, console, params) =
    walk_setup(&args.walk, &args.file, runbook, path.clone(), run_id, &[])?;
  let store = args.store(&options.aws)?;
  let tripwire = args.tripwire(&options.aws)?;
  let options = RunOptions {
    from,
    only: args.only.clone(),
    tripwire,
    ..options
  };
  let summary = exec::run(&source, runbook, &params, console, &options).map_err(|e| match e {
    exec::RunError::Create(error) => Error::NewTranscript {
      path: path.clone(),
      error,
    },
    exec::RunError::Write(error) => Error::Transcript {
      path: path.clone(),
      error,
    },
  })?;
  let aws = options.aws.clone();
  let exit = report(&summary, &path);
  let location = keep(
    store.as_ref(),
    &path,
    &args.file.display().to_string(),
    summary.result.name(),
  );
  let finished = Finished {
    title: runbook.title(),
    target: None,
    summary: &summary,
    local: &path,
    location,
  };
  if let Some(out) = &args.summary_json {
    write_summary(out, std::slice::from_ref(&finished))?;
  }
  tell_team(
    &channels,
    args.notify_on,
    &aws,
    std::slice::from_ref(&finished),
    store.as_ref().map(|(s, _)| s),
  );
  Ok(exit)
}

/// One walk's end, for the team and for schedulers.
struct Finished<'a> {
  title: &'a str,
  target: Option<&'a str>,
  summary: &'a exec::Summary,
  local: &'a Path,
  /// Where the transcript is kept: the store's location, else `local`.
  location: String,
}

impl Finished<'_> {
  fn outcome(&self) -> crate::tell::Outcome<'_> {
    let failed = crate::diff::load(self.local)
      .map(|run| {
        run
          .steps
          .iter()
          .filter(|s| s.1 == transcript::Status::Failed)
          .map(|s| {
            let error = s.3["error"].as_str().unwrap_or("failed");
            // On one line: a verdict's reasons are a list.
            let line: Vec<&str> = error
              .lines()
              .map(str::trim)
              .filter(|l| !l.is_empty())
              .collect();
            (s.0.clone(), line.join(" "))
          })
          .collect()
      })
      .unwrap_or_default();
    crate::tell::Outcome {
      title: self.title,
      target: self.target,
      result: self.summary.result,
      exit_code: self.summary.exit_code,
      verdict: &self.summary.verdict,
      failed,
      transcript: self.location.clone(),
    }
  }
}

/// `--summary-json`: the run's (or each target's) result for a scheduler.
fn write_summary(path: &Path, runs: &[Finished]) -> Result<(), Error> {
  let runs: Vec<Value> = runs
    .iter()
    .map(|f| {
      serde_json::json!({
        "runbook": f.title,
        "target": f.target,
        "result": f.summary.result.name(),
        "exit_code": f.summary.exit_code,
        "verdict": f.summary.verdict,
        "reason": f.summary.reason,
        "transcript": f.location,
        "steps": f.summary.rows.iter().map(|(id, status, ms)| serde_json::json!({"step": id, "status": status.name(), "duration_ms": ms})).collect::<Vec<_>>(),
      })
    })
    .collect();
  let exit_code = runs
    .iter()
    .map(|r| r["exit_code"].as_i64().unwrap_or(1))
    .max()
    .unwrap_or(0);
  let text =
    serde_json::to_string_pretty(&serde_json::json!({"exit_code": exit_code, "runs": runs}))
      .unwrap_or_default();
  std::fs::write(path, text + "\n").map_err(|error| Error::Report {
    path: path.to_path_buf(),
    error,
  })
}

/// The end-of-run message on every channel, when `when` asks for one.
/// For a fan-out, one message for the whole run, failing targets first.
fn tell_team(
  channels: &[crate::tell::Channel],
  when: crate::tell::When,
  aws: &crate::aws::Settings,
  runs: &[Finished],
  store: Option<&crate::evidence::Store>,
) {
  if channels.is_empty() {
    return;
  }
  let mut parts: Vec<(i32, bool, String, String)> = Vec::new();
  for finished in runs {
    let outcome = finished.outcome();
    let changed = crate::tell::changes(finished.local, finished.target, store);
    let wanted = crate::tell::wanted(when, outcome.exit_code, changed.as_ref());
    let (subject, text) = crate::tell::message(&outcome, changed.as_ref());
    parts.push((outcome.exit_code, wanted, subject, text));
  }
  if !parts.iter().any(|p| p.1) {
    return;
  }
  // Failing targets first.
  parts.sort_by_key(|p| std::cmp::Reverse(i32::from(p.0 != 0)));
  let (subject, text) = if parts.len() == 1 {
    (parts[0].2.clone(), parts[0].3.clone())
  } else {
    let failing = parts.iter().filter(|p| p.0 != 0).count();
    let subject = format!(
      "litops: {}: {failing} of {} targets need attention",
      runs.first().map_or("", |r| r.title),
      parts.len()
    );
    let body: Vec<&str> = parts.iter().map(|p| p.3.as_str()).collect();
    (subject.clone(), format!("{subject}\n\n{}", body.join("\n")))
  };
  for channel in channels {
    if let Err(e) = crate::tell::send(channel, &subject, &text, aws) {
      eprintln!("litops: could not tell {}: {e}", channel.name());
    } else {
      eprintln!("litops: told {}", channel.name());
    }
  }
}

/// The index of the step `id` named by `flag`, or an error naming the
/// closest ids.
/// The ids of the steps carrying any of `tags`; each tag must be on one.
fn tagged(runbook: &crate::model::Runbook, tags: &[String]) -> Result<Vec<String>, Error> {
  for tag in tags {
    if !runbook.steps.iter().any(|s| s.policy.tags.contains(tag)) {
      let mut known: Vec<String> = runbook
        .steps
        .iter()
        .flat_map(|s| s.policy.tags.iter().cloned())
        .collect();
      known.sort();
      known.dedup();
      return Err(Error::UnknownTag {
        tag: tag.clone(),
        known,
      });
    }
  }
  Ok(
    runbook
      .steps
      .iter()
      .filter(|s| s.policy.tags.iter().any(|t| tags.contains(t)))
      .map(|s| s.id.clone())
      .collect(),
  )
}

fn step_index(
  runbook: &crate::model::Runbook,
  flag: &'static str,
  id: &str,
) -> Result<usize, Error> {
  runbook.step_index(id).ok_or_else(|| Error::UnknownStep {
    flag,
    id: id.to_string(),
    close: crate::diagnostic::close_matches(id, runbook.steps.iter().map(|s| s.id.as_str())),
  })
}

/// The options, console and parameters of a walk; a bad key is found before
/// anything is asked or run. `recorded` parameters come first, so flags win.
fn walk_setup(
  args: &WalkArgs,
  file: &Path,
  runbook: &crate::model::Runbook,
  transcript: PathBuf,
  run_id: String,
  recorded: &[String],
) -> Result<(RunOptions, Arc<Console>, Params), Error> {
  let approval = match (args.yes, args.yes_readonly) {
    (true, _) => Approval::Yes,
    (_, true) => Approval::YesReadonly,
    _ => Approval::Ask,
  };
  // The key first: a bad one is reported before anything is asked.
  let options = args.options(file, runbook, approval, transcript, run_id)?;
  let console = Arc::new(Console::new().map_err(Error::Console)?);
  let mut given = recorded.to_vec();
  given.extend(args.params.param.iter().cloned());
  let params = resolve_params(
    &ParamArgs {
      param: given,
      params_file: args.params.params_file.clone(),
    },
    runbook,
    &console,
    &options.aws,
  )?;
  Ok((options, console, params))
}

/// The steps' table and how the run ended; the exit code.
fn report(summary: &exec::Summary, path: &Path) -> i32 {
  let mut table = comfy_table::Table::new();
  table.load_preset(comfy_table::presets::ASCII_MARKDOWN);
  table.set_header(["step", "status", "duration"]);
  for (id, status, ms) in &summary.rows {
    table.add_row([id.clone(), status.to_string(), transcript::seconds(*ms)]);
  }
  let reason = summary
    .reason
    .as_ref()
    .map(|r| format!(": {r}"))
    .unwrap_or_default();
  out(&format!(
    "\n{table}\n\nrun {}{reason} (exit {})\ntranscript: {}\n",
    summary.result,
    summary.exit_code,
    path.display()
  ));
  summary.exit_code
}

fn resume(args: ResumeArgs) -> Result<i32, Error> {
  // A stored run is resumed in a local copy, kept again when it ends.
  let stored = args
    .transcript
    .to_str()
    .filter(|t| t.starts_with("s3://"))
    .map(str::to_string);
  let local;
  let path = match &stored {
    Some(url) => {
      local = fetch_for_resume(url)?;
      &local
    }
    None => &args.transcript,
  };
  let opened = crate::resume::Opened::open(path)?;
  let runbook_path = PathBuf::from(&opened.runbook);
  let (source, checked) = load(&runbook_path)?;
  let from = match &args.from {
    Some(id) => Some(step_index(&checked.runbook, "--from", id)?),
    None => None,
  };
  let resumable = opened.at(&source, &checked.runbook, args.force, from)?;
  let (options, console, params) = walk_setup(
    &args.walk,
    &runbook_path,
    &checked.runbook,
    path.clone(),
    resumable.run_id.clone(),
    &resumable.recorded_params(),
  )?;
  let in_flight = args.in_flight.map(|a| match a {
    InFlightArg::Rerun => exec::InFlight::Rerun,
    InFlightArg::Skip => exec::InFlight::Skip,
  });
  let summary = resumable.resume(
    &source,
    &checked.runbook,
    &params,
    console,
    &options,
    in_flight,
  )?;
  let exit = report(&summary, path);
  if let Some(url) = &stored {
    // s3://bucket/prefix/<runbook>/<run>/<run>.md: the store is the prefix.
    let root: Vec<&str> = url.rsplitn(4, '/').collect();
    let store = connect()
      .and_then(|aws| crate::evidence::Store::open(root.last().copied().unwrap_or(url), aws))
      .map_err(Error::Approval)?;
    let retention = crate::evidence::Retention::default();
    keep(
      Some(&(store, retention)),
      path,
      &source.path.display().to_string(),
      summary.result.name(),
    );
  }
  Ok(exit)
}

/// A stored transcript copied to `transcripts/<runbook>/<file>` (with its
/// sidecars), to resume there; an existing local copy is never replaced.
fn fetch_for_resume(url: &str) -> Result<PathBuf, Error> {
  let (tmp, fetched) = connect()
    .and_then(|aws| crate::evidence::local(url, aws))
    .map_err(Error::Approval)?;
  let parts: Vec<&str> = url.rsplitn(4, '/').collect();
  let (file, book) = (parts[0], parts.get(2).copied().unwrap_or("runbook"));
  let local = Path::new("transcripts").join(book).join(file);
  if local.exists() {
    return Err(Error::Approval(format!(
      "{} exists: resume that local copy (then --store keeps it), or move it away",
      local.display()
    )));
  }
  let copy = |from: &Path, to: &Path| -> std::io::Result<()> {
    if let Some(parent) = to.parent() {
      std::fs::create_dir_all(parent)?;
    }
    std::fs::copy(from, to).map(|_| ())
  };
  copy(&fetched, &local).map_err(|e| Error::Approval(e.to_string()))?;
  let sidecars = transcript::sidecar_dir(&fetched);
  if let Ok(entries) = std::fs::read_dir(&sidecars) {
    for entry in entries.flatten() {
      let to = transcript::sidecar_dir(&local).join(entry.file_name());
      copy(&entry.path(), &to).map_err(|e| Error::Approval(e.to_string()))?;
    }
  }
  drop(tmp);
  eprintln!(
    "litops: resuming a local copy of {url}: {}",
    local.display()
  );
  Ok(local)
}

fn resolve_params(
  args: &ParamArgs,
  runbook: &crate::model::Runbook,
  console: &Console,
  aws: &crate::aws::Settings,
) -> Result<Params, Error> {
  let given = Given::new(&args.param, args.params_file.as_deref()).map_err(Error::Params)?;
  let mut live = Live {
    console: Some(console),
    aws: crate::aws::Session::new(aws.clone()).interruptible(console.interrupt_flag()),
  };
  resolve(&runbook.meta, &given, &mut live).map_err(Error::Params)
}

fn verify(
  path: &Path,
  runbook: Option<&Path>,
  key: Option<&Path>,
  keyring: Option<&Path>,
  allow_break_glass: bool,
) -> Result<i32, Error> {
  let key = key
    .map(crate::signing::verifying_key)
    .transpose()
    .map_err(Error::Key)?
    .map(|k| crate::signing::public_hex(&k));
  let keyring = keyring
    .map(crate::approval::Keyring::load)
    .transpose()
    .map_err(|e| Error::Approval(e.to_string()))?;
  let trust = crate::verify::Approvals {
    keyring: keyring.as_ref(),
    allow_break_glass,
  };
  let verified =
    crate::verify::verify_with(path, runbook, key.as_deref(), &trust).map_err(|error| {
      Error::Unverifiable {
        path: path.to_path_buf(),
        error,
      }
    })?;
  out(&verified.to_string());
  Ok(if verified.intact() { 0 } else { 1 })
}

fn log(dir: &Path, runbook: Option<&str>) -> Result<i32, Error> {
  let runs = crate::history::runs(dir, runbook).map_err(|error| Error::History {
    dir: dir.to_path_buf(),
    error,
  })?;
  out(&crate::history::Log(&runs).to_string());
  Ok(0)
}

/// `path` itself, or for an `s3://` location a local copy (with the
/// directory that holds it, gone when dropped).
fn local_copy(path: &Path) -> Result<(Option<tempfile::TempDir>, PathBuf), Error> {
  let text = path.to_string_lossy();
  if !text.starts_with("s3://") {
    return Ok((None, path.to_path_buf()));
  }
  let (dir, local) = connect()
    .and_then(|aws| crate::evidence::local(&text, aws))
    .map_err(Error::Approval)?;
  Ok((Some(dir), local))
}

/// `litops digest s3://…`: the next signed digest of the store.
fn digest(location: &str, key: &Path) -> Result<i32, Error> {
  let secret = crate::signing::signing_key(key).map_err(Error::Key)?;
  let store = connect()
    .and_then(|aws| crate::evidence::Store::open(location, aws))
    .map_err(Error::Approval)?;
  let (written, count) = crate::digest::write(&store, &secret).map_err(Error::Approval)?;
  out(&format!(
    "digest {written}: {count} transcript(s) stored since the previous digest\n"
  ));
  Ok(0)
}

/// `litops verify s3://… --digests`: nothing deleted, replaced or added
/// after the fact.
fn verify_digests(location: &str, key: Option<&Path>) -> Result<i32, Error> {
  let trusted = key
    .map(crate::signing::verifying_key)
    .transpose()
    .map_err(Error::Key)?
    .map(|k| crate::signing::public_hex(&k));
  let store = connect()
    .and_then(|aws| crate::evidence::Store::open(location, aws))
    .map_err(Error::Approval)?;
  let checked = crate::digest::check(&store, trusted.as_deref()).map_err(Error::Approval)?;
  let mut text = format!("store: {location}\n");
  if checked.problems.is_empty() {
    text.push_str(&format!(
      "digests: {} in a chain, intact; {} transcript(s) anchored, all as stored\n",
      checked.digests, checked.transcripts
    ));
  } else {
    text.push_str("NOT INTACT:\n");
    for problem in &checked.problems {
      text.push_str(&format!("  {problem}\n"));
    }
  }
  if !checked.uncovered.is_empty() {
    text.push_str(&format!(
      "not yet in a digest ({}): {}\n",
      checked.uncovered.len(),
      checked.uncovered.join(", ")
    ));
  }
  if trusted.is_none() {
    text.push_str("signer: not checked against a key you trust (pass --key)\n");
  }
  out(&text);
  Ok(i32::from(!checked.problems.is_empty()))
}

/// An AWS connection from the environment (for `s3://` locations).
fn connect() -> Result<Arc<crate::aws::Aws>, String> {
  crate::aws::Session::new(crate::aws::Settings::default()).shared()
}

/// `litops approve`: the whole request, a deliberate yes, a signed approval.
fn approve(request: &str, key: &Path, keyring: Option<&Path>) -> Result<i32, Error> {
  use crate::approval::{self, Approval};
  let (location, name) = match request.rsplit_once('/') {
    Some((location, name)) => (location, name),
    None => (".", request),
  };
  let store = approval::Store::at(location, connect).map_err(Error::Approval)?;
  let (value, digest) = approval::read_request(&store, name).map_err(Error::Approval)?;
  let secret = crate::signing::signing_key(key).map_err(Error::Key)?;
  let public = crate::signing::public_hex(&secret.verifying_key());
  let me = exec::operator();
  let text = |field: &str| value[field].as_str().unwrap_or("-").to_string();
  let who = match keyring {
    Some(path) => {
      let keyring = approval::Keyring::load(path).map_err(|e| Error::Approval(e.to_string()))?;
      keyring
        .name_of(&public)
        .map(str::to_string)
        .ok_or_else(|| {
          Error::Approval(format!(
            "your key {} is not in the keyring {}: your approval would not count",
            approval::fingerprint(&public),
            path.display()
          ))
        })?
    }
    None => me.split('@').next().unwrap_or("approver").to_string(),
  };
  if value["operator_key"].as_str() == Some(public.as_str())
    || (value["shared_os_identity"] != true && text("operator") == me)
  {
    return Err(Error::Approval(format!(
      "you made this request ({}): an approval must come from someone else",
      text("operator")
    )));
  }
  if approval::left(&text("expires_at")).is_none() {
    return Err(Error::Approval(format!(
      "the request expired at {}: the operator must make a new one",
      text("expires_at")
    )));
  }
  let mut shown = format!(
    "approval request {} ({} approval(s) needed)\n  runbook  {} (sha256 {})\n  step     {} · {}\n  run      {}\n  where    account {} · region {}\n  asked by {} at {}\n  expires  {}\n",
    &digest[..16],
    value["required"],
    text("runbook"),
    &text("runbook_sha256")[..16.min(text("runbook_sha256").len())],
    text("step"),
    text("kind"),
    text("run_id"),
    text("account"),
    text("region"),
    text("operator"),
    text("requested_at"),
    text("expires_at"),
  );
  let pairs = |params: &Value| -> String {
    params
      .as_array()
      .into_iter()
      .flatten()
      .filter_map(|p| Some(format!("{}={}", p[0].as_str()?, p[1].as_str()?)))
      .collect::<Vec<_>>()
      .join(", ")
  };
  match value["targets"].as_array().filter(|t| !t.is_empty()) {
    Some(targets) => {
      let names: Vec<&str> = targets.iter().filter_map(|t| t["name"].as_str()).collect();
      shown.push_str(&format!("  targets  {}\n", names.join(", ")));
      for target in targets {
        shown.push_str(&format!(
          "    {}: {}\n",
          target["name"].as_str().unwrap_or("?"),
          pairs(&target["params"])
        ));
      }
    }
    None => shown.push_str(&format!("  params   {}\n", pairs(&value["params"]))),
  }
  shown.push_str("  action, exactly as it will run:\n");
  for line in text("action").lines() {
    shown.push_str(&format!("    │ {line}\n"));
  }
  if let Some(preview) = value["preview"].as_str() {
    shown.push_str("  the change:\n");
    shown.push_str(&crate::exec::diff_style(preview));
  }
  eprint!("{shown}");
  let console = Console::new().map_err(Error::Console)?;
  let answer = console.ask(&format!("approve this as {who}? [y]es / [n]o › "), false);
  let yes = matches!(&answer, exec::Answer::Line(line) if matches!(line.trim(), "y" | "yes"));
  if !yes {
    eprintln!("not approved");
    return Ok(1);
  }
  let approval = Approval::sign(&digest, &who, &secret, &me);
  let file = approval::approval_name(name, &approval);
  approval::put(&store, &file, &approval).map_err(|e| {
    Error::Approval(match e {
      approval::Put::Exists => format!("{}: you approved this request already", store.show(&file)),
      failed => format!("cannot store {}: {failed}", store.show(&file)),
    })
  })?;
  eprintln!("approved as {who}: {}", store.show(&file));
  Ok(0)
}

fn keygen(prefix: &Path) -> Result<i32, Error> {
  let (secret, public) = crate::signing::keygen(prefix).map_err(Error::Key)?;
  out(&format!(
    "secret key: {} (keep it private; `litops run --sign {}`)\npublic key: {} (for `litops verify --key`)\n",
    secret.display(),
    secret.display(),
    public.display()
  ));
  Ok(0)
}

/// Exit 0 when the runs match, 1 when they differ, as diff(1) does.
fn diff(a: &Path, b: &Path) -> Result<i32, Error> {
  let a = crate::diff::load(a).map_err(Error::Diff)?;
  let b = crate::diff::load(b).map_err(Error::Diff)?;
  let diff = crate::diff::compare(&a, &b);
  out(&diff.to_string());
  Ok(i32::from(diff.differs()))
}

fn render(path: &Path, html: &Path) -> Result<i32, Error> {
  let verified = crate::verify::verify(path, None, None).map_err(|error| Error::Unverifiable {
    path: path.to_path_buf(),
    error,
  })?;
  let text = std::fs::read_to_string(path).map_err(|error| Error::Unverifiable {
    path: path.to_path_buf(),
    error: crate::verify::Unreadable::Io(error),
  })?;
  let report = crate::render::html(path, &transcript::records(&text), &verified);
  std::fs::write(html, report).map_err(|error| Error::Report {
    path: html.to_path_buf(),
    error,
  })?;
  out(&format!(
    "{}: {} ({})\n",
    html.display(),
    if verified.intact() {
      "report of an intact transcript"
    } else {
      "report of a transcript that is NOT INTACT"
    },
    path.display()
  ));
  Ok(0)
}

/// `run --targets`: every target at once, a line as each finishes, then the
/// matrix. Exit 0 when every target passed.
fn fan_out(
  args: &RunArgs,
  source: &Source,
  runbook: &crate::model::Runbook,
  path: PathBuf,
  run_id: String,
  from: Option<usize>,
  channels: &[crate::tell::Channel],
) -> Result<i32, Error> {
  let spec = args.targets.as_deref().unwrap_or("targets.yaml");
  let base = args.walk.aws_settings(runbook);
  let (_copy, targets) = resolve_targets(spec, &args.fleet, &base)?;
  let total = targets.len();
  let walk = &args.walk;
  let given =
    Given::new(&walk.params.param, walk.params.params_file.as_deref()).map_err(Error::Params)?;
  let approval = if walk.yes {
    Approval::Yes
  } else {
    Approval::Unattended
  };
  let plan = crate::fanout::Plan {
    source,
    runbook,
    given: given.pairs,
    options: RunOptions {
      from,
      only: args.only.clone(),
      fleet: targets.iter().map(|t| t.name.clone()).collect(),
      ..walk.options(&args.file, runbook, approval, path, run_id)?
    },
    max_concurrency: args.max_concurrency,
    max_errors: args
      .max_errors
      .as_deref()
      .map(|m| crate::fanout::error_budget(m, total))
      .transpose()
      .map_err(Error::Approval)?,
    canary: args.canary,
    // On a terminal: the count of finished targets, then a line per
    // running target; otherwise plain lines as targets finish.
    display: std::io::stderr()
      .is_terminal()
      .then(indicatif::MultiProgress::new),
  };
  let bar = match &plan.display {
    Some(display) => {
      let bar = display.add(indicatif::ProgressBar::new(total as u64));
      bar.set_style(
        indicatif::ProgressStyle::with_template("{bar:30} {pos}/{len} targets done · {elapsed}")
          .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
      );
      bar.enable_steady_tick(std::time::Duration::from_millis(500));
      bar
    }
    None => indicatif::ProgressBar::hidden(),
  };
  let line = |o: &crate::fanout::Outcome| {
    let text = match &o.run {
      Ok(s) => format!(
        "{}: {} (exit {}) · {}",
        o.target,
        s.result,
        s.exit_code,
        o.transcript.display()
      ),
      Err(e) => format!("{}: error: {e}", o.target),
    };
    if bar.is_hidden() {
      eprintln!("{text}");
    } else {
      bar.println(text);
      bar.inc(1);
    }
  };
  let store = args.store(&plan.options.aws)?;
  let mut plan = plan;
  plan.options.tripwire = args.tripwire(&plan.options.aws)?;
  plan.options.approvals.shared =
    Arc::new(crate::fanout::shared_requests(&plan, &targets).map_err(Error::Approval)?);
  let outcomes = crate::fanout::run(&plan, targets, &line);
  bar.finish_and_clear();
  out(&crate::fanout::Matrix(&outcomes).to_string());
  let finished: Vec<Finished> = outcomes
    .iter()
    .filter_map(|o| {
      o.run.as_ref().ok().map(|summary| Finished {
        title: runbook.title(),
        target: Some(&o.target),
        summary,
        local: &o.transcript,
        location: keep(
          store.as_ref(),
          &o.transcript,
          &args.file.display().to_string(),
          summary.result.name(),
        ),
      })
    })
    .collect();
  if let Some(out) = &args.summary_json {
    write_summary(out, &finished)?;
  }
  tell_team(
    channels,
    args.notify_on,
    &plan.options.aws,
    &finished,
    store.as_ref().map(|(s, _)| s),
  );
  let passed = outcomes
    .iter()
    .filter(|o| o.run.as_ref().is_ok_and(|s| s.exit_code == 0))
    .count();
  let not_started = total - outcomes.len();
  out(&format!(
    "{passed} of {total} targets passed{}\n",
    if not_started > 0 {
      let alarm = plan.options.tripwire.as_ref().and_then(|t| t.check());
      let why = match alarm {
        Some(alarm) => alarm,
        None if args.canary > 0 && outcomes.len() <= args.canary => "a canary failed".into(),
        None => "--max-errors".into(),
      };
      format!("; {not_started} not started ({why})")
    } else {
      String::new()
    }
  ));
  Ok(i32::from(passed < total))
}
