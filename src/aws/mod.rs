//! AWS access for the actions: one SDK configuration per run from the
//! standard credential chain, the account context, and a tokio runtime that
//! exists only once a run reaches an AWS step.

pub mod pace;
pub mod secrets;

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::AtomicBool;
use std::sync::{Mutex, OnceLock, PoisonError};
use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_sts::config::SharedHttpClient;
use aws_sdk_sts::config::http::HttpResponse;
use aws_sdk_sts::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};

#[derive(Debug, Clone)]
pub struct Settings {
  pub region: Option<String>,
  pub profile: Option<String>,
  /// A role to assume (a fan-out target's `role:`): its account is where
  /// the steps act.
  pub role: Option<String>,
  pub max_attempts: u32,
  pub connect_timeout: Duration,
  pub operation_timeout: Duration,
}

impl Settings {
  /// Many targets share an account's quotas, so throttling is expected:
  /// calls retry more (8 attempts unless AWS_MAX_ATTEMPTS says otherwise,
  /// with the SDK's exponential backoff) rather than fail the target. The
  /// SDK's adaptive mode was tried: after three throttles it held one call
  /// back for 50 s.
  pub fn patient(self) -> Self {
    let max_attempts = if std::env::var_os("AWS_MAX_ATTEMPTS").is_some() {
      self.max_attempts
    } else {
      8
    };
    Self {
      max_attempts,
      ..self
    }
  }
}

impl Default for Settings {
  fn default() -> Self {
    Self {
      region: None,
      profile: None,
      role: None,
      // AWS_MAX_ATTEMPTS is honoured, as the CLI and SDKs do.
      max_attempts: std::env::var("AWS_MAX_ATTEMPTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|&n| n > 0)
        .unwrap_or(3),
      connect_timeout: Duration::from_secs(3),
      operation_timeout: Duration::from_secs(60),
    }
  }
}

#[derive(Debug, Clone)]
pub struct Identity {
  pub account: String,
  pub arn: String,
  pub region: String,
}

pub struct Aws {
  pub config: SdkConfig,
  runtime: &'static tokio::runtime::Runtime,
  pub identity: Identity,
  /// Tasks started for this session (prefetched queries): stopped with it,
  /// as the runtime outlives it.
  tasks: Mutex<Vec<tokio::task::AbortHandle>>,
  /// One client per service for the whole run: each owns its connection
  /// pool, so a client per step would open a TCP (and TLS) connection per step.
  clients: Mutex<HashMap<TypeId, Box<dyn Any + Send>>>,
}

pub use crate::cancel::Cut;

impl Aws {
  /// Loads the configuration and asks STS who we are, so every transcript
  /// and mutating prompt names the account and region.
  pub fn connect(settings: &Settings, interrupted: &AtomicBool) -> Result<Self, String> {
    let runtime = shared_runtime()?;
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
      .retry_config(RetryConfig::standard().with_max_attempts(settings.max_attempts))
      .timeout_config(
        TimeoutConfig::builder()
          .connect_timeout(settings.connect_timeout)
          .operation_timeout(settings.operation_timeout)
          .build(),
      );
    // Resolved here once when a profile is named: its credentials provider
    // needs it too (for STS when the profile assumes a role).
    let region = match (&settings.region, &settings.profile) {
      (Some(region), _) => Some(Region::new(region.clone())),
      (None, Some(profile)) => runtime.block_on(
        aws_config::default_provider::region::DefaultRegionChain::builder()
          .profile_name(profile)
          .build()
          .region(),
      ),
      (None, None) => None,
    };
    if let Some(region) = &region {
      loader = loader.region(region.clone());
    }
    if let Some(profile) = &settings.profile {
      // A profile named on purpose (a flag, the front matter, a target) is
      // the one to use, as with `aws --profile`: credentials exported in
      // the environment must not quietly win and act in another account.
      loader = loader.profile_name(profile).credentials_provider(
        aws_config::profile::ProfileFileCredentialsProvider::builder()
          .configure(
            &aws_config::provider_config::ProviderConfig::default()
              .with_region(region)
              .with_http_client(shared_http()),
          )
          .profile_name(profile)
          .build(),
      );
    }
    loader = loader.http_client(shared_http());
    let mut config = crate::cancel::run(runtime, interrupted, None, loader.load())
      .map_err(|_| crate::cancel::interruption())?;
    if let Some(role) = &settings.role {
      // The base credentials (a task role, a profile) assume the target's
      // role; STS is asked below, so a role that cannot be assumed fails
      // here, before step 1.
      let provider = crate::cancel::run(
        runtime,
        interrupted,
        None,
        aws_config::sts::AssumeRoleProvider::builder(role)
          .session_name("litops")
          .configure(&config)
          .build(),
      )
      .map_err(|_| crate::cancel::interruption())?;
      config = config
        .into_builder()
        .credentials_provider(aws_sdk_sts::config::SharedCredentialsProvider::new(
          provider,
        ))
        .build();
    }
    let region = config.region().map(ToString::to_string).ok_or(
      "no AWS region: set one with --region, `aws: {region: …}` in the front matter, or AWS_REGION",
    )?;
    let sts = aws_sdk_sts::Client::new(&config);
    // Ctrl-C is honoured here too: with no network this call can take a
    // minute of retries before step 1.
    let who = crate::cancel::run(runtime, interrupted, None, sts.get_caller_identity().send())
      .map_err(|_| crate::cancel::interruption())?
      .map_err(|e| explain("sts:GetCallerIdentity", &e))?;
    let identity = Identity {
      account: who.account().unwrap_or("unknown").to_string(),
      arn: who.arn().unwrap_or("unknown").to_string(),
      region,
    };
    Ok(Self {
      config,
      runtime,
      identity,
      clients: Mutex::new(HashMap::new()),
      tasks: Mutex::new(Vec::new()),
    })
  }

  /// The run's client for one service, e.g. `aws.client(aws_sdk_ecs::Client::new)`.
  pub fn client<C: Clone + Send + 'static>(&self, make: fn(&SdkConfig) -> C) -> C {
    let mut clients = self.clients.lock().unwrap_or_else(PoisonError::into_inner);
    let client = clients
      .entry(TypeId::of::<C>())
      .or_insert_with(|| Box::new(make(&self.config)));
    match client.downcast_ref::<C>() {
      Some(client) => client.clone(),
      None => make(&self.config),
    }
  }

  /// Starts `future` in the background, e.g. a prefetched query.
  pub fn spawn<F>(&self, future: F) -> tokio::task::JoinHandle<F::Output>
  where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
  {
    let task = self.runtime.spawn(future);
    self
      .tasks
      .lock()
      .unwrap_or_else(PoisonError::into_inner)
      .push(task.abort_handle());
    task
  }

  /// Runs an AWS call to completion unless the operator presses Ctrl-C or
  /// the step's timeout passes first.
  pub fn block_on<F: Future>(
    &self,
    interrupted: &AtomicBool,
    timeout: Option<Duration>,
    future: F,
  ) -> Result<F::Output, Cut> {
    crate::cancel::run(self.runtime, interrupted, timeout, future)
  }
}

impl Drop for Aws {
  fn drop(&mut self) {
    for task in self.tasks.get_mut().unwrap_or_else(PoisonError::into_inner) {
      task.abort();
    }
  }
}

/// The process's one AWS runtime and HTTP client, shared by every session:
/// a fan-out's targets use the same few threads and connection pool rather
/// than a runtime, a pool and a parsed certificate store each (the floor's
/// CPU and memory per target; `bench/fleet`).
static RUNTIME: OnceLock<Result<tokio::runtime::Runtime, String>> = OnceLock::new();
static HTTP: OnceLock<SharedHttpClient> = OnceLock::new();

/// The SDK's default HTTP client (rustls with aws-lc, proxies from the
/// environment), made once: left to the SDK, every client of every session
/// makes its own and parses the certificate store again — a fan-out of
/// 1,000 targets held 4,000 of them.
fn shared_http() -> SharedHttpClient {
  use aws_smithy_http_client::proxy::ProxyConfig;
  use aws_smithy_http_client::tls::{Provider, rustls_provider::CryptoMode};
  HTTP
    .get_or_init(|| {
      aws_smithy_http_client::Builder::new().build_with_connector_fn(|settings, components| {
        let mut connector = aws_smithy_http_client::ConnectorBuilder::default()
          .tls_provider(Provider::Rustls(CryptoMode::AwsLc));
        connector.set_connector_settings(settings.cloned());
        if let Some(components) = components {
          connector.set_sleep_impl(components.sleep_impl());
        }
        connector.set_proxy_config(Some(ProxyConfig::from_env()));
        connector.build()
      })
    })
    .clone()
}

fn shared_runtime() -> Result<&'static tokio::runtime::Runtime, String> {
  RUNTIME
    .get_or_init(|| {
      // Two workers: prefetched queries poll on them while the main thread
      // waits for the operator, and connections are driven while every
      // fan-out thread blocks on its own call.
      tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the AWS runtime: {e}"))
    })
    .as_ref()
    .map_err(Clone::clone)
}

/// One line saying what failed and what to do about it.
pub fn explain<E>(operation: &str, error: &SdkError<E, HttpResponse>) -> String
where
  E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
  match error {
    SdkError::DispatchFailure(_) => format!(
      "{operation}: cannot reach the AWS endpoint ({}): check the network, VPN or AWS_ENDPOINT_URL",
      DisplayErrorContext(error)
    ),
    SdkError::TimeoutError(_) => {
      format!("{operation}: no answer from AWS before the operation timeout")
    }
    SdkError::ConstructionFailure(_) => format!(
      "{operation}: cannot build the request ({}): are AWS credentials configured? \
       Set AWS_PROFILE or run `aws sso login`",
      DisplayErrorContext(error)
    ),
    _ => {
      let code = error.code().unwrap_or("");
      let message = error.message().unwrap_or("");
      let advice = match code {
        c if c.contains("AccessDenied") || c == "UnauthorizedOperation" => {
          " — the role in use lacks this permission"
        }
        "ExpiredToken" | "ExpiredTokenException" | "RequestExpired" => {
          " — credentials expired: refresh them (e.g. `aws sso login`)"
        }
        "InvalidClientTokenId" | "UnrecognizedClientException" | "InvalidSignatureException" => {
          " — the credentials are not valid for this account"
        }
        "LimitExceededException" => {
          " — the account's limit for this is used up (for Logs Insights: queries running at once); \
           wait for some to finish"
        }
        c if c.contains("Throttl") || c == "TooManyRequestsException" => {
          " — AWS throttled the request even after retries: wait and run the step again"
        }
        _ => "",
      };
      let status = error.raw_response().map(|r| r.status().as_u16());
      match (code.is_empty(), message.is_empty()) {
        // No AWS error in the answer: what the endpoint said, not a dump of it.
        (true, true) if status.is_some_and(|s| s >= 500) => format!(
          "{operation}: the endpoint answered HTTP {} with no AWS error: the service failed, \
           or does not implement this call (an emulator?); run the step again later",
          status.unwrap_or_default()
        ),
        (true, true) if status.is_some() => format!(
          "{operation}: the endpoint answered HTTP {} with no AWS error in it: is AWS_ENDPOINT_URL an AWS endpoint?",
          status.unwrap_or_default()
        ),
        (true, true) => format!("{operation}: {}", DisplayErrorContext(error)),
        (false, true) => format!("{operation}: {code}{advice}"),
        (true, false) => format!("{operation}: {message}{advice}"),
        (false, false) => format!("{operation}: {code}: {message}{advice}"),
      }
    }
  }
}

/// Connects on first use and remembers the outcome, so a run asks STS once
/// and a missing credential fails every AWS step with the same message.
pub struct Session {
  settings: Settings,
  cell: std::sync::OnceLock<Result<std::sync::Arc<Aws>, String>>,
  /// Set by the signal thread: connecting gives way to Ctrl-C.
  interrupted: std::sync::Arc<AtomicBool>,
}

impl Session {
  pub fn new(settings: Settings) -> Self {
    Self {
      settings,
      cell: std::sync::OnceLock::new(),
      interrupted: std::sync::Arc::default(),
    }
  }

  /// The session, connecting only until `interrupted` is set.
  pub fn interruptible(self, interrupted: std::sync::Arc<AtomicBool>) -> Self {
    Self {
      interrupted,
      ..self
    }
  }

  pub fn get(&self) -> Result<&Aws, String> {
    self.shared_ref().map(|aws| &**aws)
  }

  /// The connection, to share with work running beside the walk.
  pub fn shared(&self) -> Result<std::sync::Arc<Aws>, String> {
    self.shared_ref().cloned()
  }

  fn shared_ref(&self) -> Result<&std::sync::Arc<Aws>, String> {
    self
      .cell
      .get_or_init(|| Aws::connect(&self.settings, &self.interrupted).map(std::sync::Arc::new))
      .as_ref()
      .map_err(Clone::clone)
  }

  /// A session over a connection made already (for `--prefetch`'s reads).
  pub fn connected(aws: std::sync::Arc<Aws>) -> Self {
    let cell = std::sync::OnceLock::new();
    let _ = cell.set(Ok(aws));
    Self {
      settings: Settings::default(),
      cell,
      interrupted: std::sync::Arc::default(),
    }
  }

  /// The identity, if a connection was made (or attempted) already.
  pub fn identity(&self) -> Option<&Identity> {
    self
      .cell
      .get()
      .and_then(|r| r.as_ref().ok())
      .map(|a| &a.identity)
  }
}
