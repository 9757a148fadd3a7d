//! The AWS peer for tests: a real moto server on 127.0.0.1, started once per
//! test binary from the venv `scripts/test` installs. Tests isolate
//! themselves by region (moto keeps state per account and region).

use std::net::{TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

pub struct Moto {
  pub url: String,
  venv: PathBuf,
}

static MOTO: OnceLock<Moto> = OnceLock::new();

pub fn moto() -> &'static Moto {
  MOTO.get_or_init(|| {
    let venv = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(".venv/bin");
    assert!(
      venv.join("moto_server").exists(),
      "moto is not installed: run scripts/test, which installs it into .venv"
    );
    let port = TcpListener::bind("127.0.0.1:0")
      .and_then(|l| l.local_addr())
      .expect("a free port")
      .port();
    let server = venv.join("moto_server");
    let mut command = Command::new(server);
    command
      .args(["-H", "127.0.0.1", "-p", &port.to_string()])
      // Every ECS service reports two running tasks, as in scripts/demo.
      .env("MOTO_ECS_SERVICE_RUNNING", "2");
    serve(command);
    let deadline = Instant::now() + Duration::from_secs(30);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
      assert!(
        Instant::now() < deadline,
        "moto_server did not start on port {port}"
      );
      std::thread::sleep(Duration::from_millis(50));
    }
    Moto {
      url: format!("http://127.0.0.1:{port}"),
      venv,
    }
  })
}

impl Moto {
  /// A program installed beside moto in the venv (`cfn-lint`, …).
  pub fn tool(&self, name: &str) -> PathBuf {
    self.venv.join(name)
  }

  /// Seeds state with boto3 (moto's own dependency) in `region`.
  pub fn seed(&self, region: &str, python: &str) {
    let status = Command::new(self.venv.join("python"))
      .arg("-c")
      .arg(format!(
        "import boto3, time, json\nE = '{}'\nR = '{region}'\n{python}",
        self.url
      ))
      .env_clear()
      .env("AWS_ACCESS_KEY_ID", "test")
      .env("AWS_SECRET_ACCESS_KEY", "test")
      .status()
      .expect("run the seed script");
    assert!(status.success(), "seeding failed");
  }
}

/// Environment for litops to talk to moto in `region`, with retries off
/// (moto answers unimplemented calls with 500s the SDK would retry).
pub fn aws_env(region: &str) -> Vec<(String, String)> {
  [
    ("AWS_ENDPOINT_URL", moto().url.as_str()),
    ("AWS_ACCESS_KEY_ID", "test"),
    ("AWS_SECRET_ACCESS_KEY", "test"),
    ("AWS_REGION", region),
    ("AWS_MAX_ATTEMPTS", "1"),
  ]
  .iter()
  .map(|(k, v)| (k.to_string(), v.to_string()))
  .collect()
}

static PEER: OnceLock<String> = OnceLock::new();

/// demo/peer.py in front of moto, as scripts/demo runs it: it answers what
/// moto cannot (CloudWatch alarm history of the demo's night) and passes
/// every other request on. Its URL.
pub fn peer() -> &'static str {
  PEER.get_or_init(|| {
    let upstream = moto().url.clone();
    start("demo/peer.py", &[upstream.as_str()], &[])
  })
}

static FLEET_PEER: OnceLock<String> = OnceLock::new();

/// bench/aws_peer.py, the benchmarks' latency-bound AWS, answering at once
/// and finishing Logs Insights queries after half a second; it enforces
/// AWS's quotas per account and region and counts what it refused
/// (`GET /peer/stats`). Its URL.
pub fn fleet_peer() -> &'static str {
  FLEET_PEER.get_or_init(|| {
    start(
      "bench/aws_peer.py",
      &[],
      &[
        "--latency",
        "0",
        "--query-time",
        "0.5",
        "--burst-slack",
        "5",
      ],
    )
  })
}

/// Starts a Python server of this repository that writes its port into
/// the file named after `before`, and waits for it. Its URL.
fn start(script: &str, before: &[&str], after: &[&str]) -> String {
  let dir = tempfile::tempdir().expect("tempdir").keep();
  let port_file = dir.join("port");
  let mut command = Command::new(moto().venv.join("python"));
  command
    .arg(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(script))
    .args(before)
    .arg(&port_file)
    .args(after);
  serve(command);
  let deadline = Instant::now() + Duration::from_secs(30);
  loop {
    if let Ok(port) = std::fs::read_to_string(&port_file) {
      return format!("http://127.0.0.1:{}", port.trim());
    }
    assert!(Instant::now() < deadline, "{script} did not start");
    std::thread::sleep(Duration::from_millis(20));
  }
}

/// Starts a server for the whole test run. PR_SET_PDEATHSIG fires when the
/// spawning *thread* ends, so it is spawned from a thread that lives as long
/// as the test process: the server then dies with the tests and never holds
/// CI's output open.
fn serve(mut command: Command) {
  std::thread::spawn(move || {
    command
      .stdin(Stdio::null())
      .stdout(Stdio::null())
      .stderr(Stdio::null());
    // SAFETY: prctl is async-signal-safe; nothing else runs between fork and exec.
    unsafe {
      command.pre_exec(|| {
        nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGKILL)
          .map_err(std::io::Error::from)
      });
    }
    let mut child = command.spawn().expect("start a test server");
    // Reaps the server if it ever exits; keeps this thread alive otherwise.
    let _ = child.wait();
    loop {
      std::thread::park();
    }
  });
}
