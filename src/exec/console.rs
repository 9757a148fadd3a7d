//! Where the walk meets the operator and the operating system: prompts on
//! stderr, answers from stdin, Ctrl-C, and child processes ending — all as
//! events on one channel, so a step can wait for "the child exited, the
//! timeout passed, or the operator pressed Ctrl-C" without polling.

use std::io::{BufRead, IsTerminal, Write};
use std::process::ExitStatus;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex, OnceLock, RwLock};
use std::time::Instant;

use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
use signal_hook::iterator::Signals;

use crate::redact::{Redactor, Stream};

pub enum Event {
  Line(Option<String>),
  Exited(std::io::Result<ExitStatus>),
  Interrupt,
}

/// An answer read from the operator.
pub enum Answer {
  Line(String),
  /// Nothing to read from: no terminal, stdin closed.
  Unavailable,
  Interrupted,
}

enum Read {
  Line,
  Hidden,
}

pub struct Console {
  tx: Sender<Event>,
  rx: Mutex<Receiver<Event>>,
  reader: OnceLock<Sender<Read>>,
  interrupted: Arc<AtomicBool>,
  /// stdin is a terminal: a person is there to ask.
  pub interactive: bool,
  /// One of many targets of a fan-out run: nothing is printed (the
  /// transcript has it all) and nothing is asked.
  quiet: bool,
  /// A fan-out target's line in the live display: where its walk is.
  line: Option<indicatif::ProgressBar>,
  /// Every byte shown passes through it: secrets are masked here, never
  /// in what runs.
  mask: RwLock<Redactor>,
  /// Columns of the terminal stderr is, if it is one: nothing shown is
  /// wider.
  width: Option<usize>,
  /// The spinner of the step running now, if it shows one: what is shown
  /// meanwhile is printed above it.
  alive: Mutex<Option<indicatif::ProgressBar>>,
  /// Ends the signal thread when the console goes: a fan-out makes one
  /// console per target, and 1,000 targets must not leave 1,000 threads and
  /// 2,000 sockets behind.
  signals: signal_hook::iterator::Handle,
}

impl Drop for Console {
  fn drop(&mut self) {
    self.signals.close();
  }
}

/// While it lives, a running step's spinner shows elapsed time and timeout.
pub struct Alive<'a>(&'a Console);

impl Drop for Alive<'_> {
  fn drop(&mut self) {
    if let Ok(mut alive) = self.0.alive.lock()
      && let Some(spinner) = alive.take()
    {
      spinner.finish_and_clear();
    }
  }
}

pub enum Wait {
  Exited(std::io::Result<ExitStatus>),
  TimedOut,
  Interrupted,
}

impl Console {
  pub fn new() -> std::io::Result<Self> {
    Self::with(std::io::stdin().is_terminal(), false)
  }

  /// A console for one target of a fan-out run, with its line in the live
  /// display when there is one.
  pub fn unattended(line: Option<indicatif::ProgressBar>) -> std::io::Result<Self> {
    let mut console = Self::with(false, true)?;
    console.line = line;
    Ok(console)
  }

  fn with(interactive: bool, quiet: bool) -> std::io::Result<Self> {
    let (tx, rx) = mpsc::channel();
    let interrupted = Arc::new(AtomicBool::new(false));
    // SIGHUP (an SSH session dropping) and SIGTERM are handled like
    // Ctrl-C: the step's process group is killed and the run recorded,
    // never left running unsupervised.
    let mut signals = Signals::new([SIGINT, SIGTERM, SIGHUP])?;
    let flag = interrupted.clone();
    let signal_tx = tx.clone();
    let handle = signals.handle();
    std::thread::spawn(move || {
      for signal in signals.forever() {
        crate::cancel::note_signal(signal);
        flag.store(true, Ordering::SeqCst);
        if signal_tx.send(Event::Interrupt).is_err() {
          break;
        }
      }
    });
    Ok(Self {
      tx,
      rx: Mutex::new(rx),
      reader: OnceLock::new(),
      interrupted,
      interactive,
      quiet,
      line: None,
      mask: RwLock::default(),
      alive: Mutex::new(None),
      signals: handle,
      width: if quiet {
        None
      } else {
        ::console::Term::stderr()
          .size_checked()
          .map(|(_, columns)| usize::from(columns))
          .filter(|&c| c > 0)
      },
    })
  }

  pub fn sender(&self) -> Sender<Event> {
    self.tx.clone()
  }

  pub fn interrupted(&self) -> bool {
    self.interrupted.load(Ordering::SeqCst)
  }

  pub fn interrupt_flag(&self) -> Arc<AtomicBool> {
    self.interrupted.clone()
  }

  /// How an answer typed now would be recorded.
  pub fn how(&self) -> &'static str {
    if self.interactive { "typed" } else { "piped" }
  }

  /// The terminal's width, when stderr is a terminal.
  pub fn width(&self) -> Option<usize> {
    self.width
  }

  /// Masks the secrets in `redactor` in everything shown from now on.
  pub fn mask(&self, redactor: &Redactor) {
    if let Ok(mut mask) = self.mask.write() {
      *mask = redactor.clone();
    }
    redactor.guard_panics();
  }

  /// Masks one more secret in everything shown from now on: a value the
  /// operator typed for a variable whose name says it is one.
  pub fn mask_also(&self, name: &str, value: &str) {
    if let Ok(mut mask) = self.mask.write() {
      mask.add(name, value);
      mask.guard_panics();
    }
  }

  /// A masker for a live stream shown piece by piece (see [`Console::show`]).
  pub fn stream(&self) -> Stream {
    self
      .mask
      .read()
      .map(|m| m.stream())
      .unwrap_or_else(|e| e.get_ref().stream())
  }

  /// Says `text` on stderr, secrets masked; on a terminal no line is wider
  /// than it (a longer one is cut with `…`: the transcript has it whole).
  pub fn say(&self, text: &str) {
    let masked = match self.mask.read() {
      Ok(mask) => mask.visible(text),
      Err(poisoned) => poisoned.get_ref().visible(text),
    };
    match self.width {
      Some(width) => self.show(&fit(&masked, width), false),
      None => self.show(&masked, false),
    }
  }

  /// Shows text that is already masked (by a [`Stream`]): a step's live
  /// output, on stdout or stderr as the step wrote it.
  pub fn show(&self, masked: &str, stdout: bool) {
    if self.quiet {
      return;
    }
    // anstream drops colour for a non-terminal, NO_COLOR and --color never.
    let write = || {
      let _ = if stdout {
        let mut out = anstream::stdout().lock();
        out.write_all(masked.as_bytes()).and_then(|()| out.flush())
      } else {
        let mut err = anstream::stderr().lock();
        err.write_all(masked.as_bytes()).and_then(|()| err.flush())
      };
    };
    // Above a running step's spinner, not through it.
    let spinner = self.alive.lock().ok().and_then(|a| a.clone());
    match spinner {
      Some(spinner) => spinner.suspend(write),
      None => write(),
    }
  }

  /// Says where the walk is on a fan-out target's line.
  pub fn at(&self, text: String) {
    if let Some(line) = &self.line {
      line.set_message(text);
    }
  }

  /// A progress bar (`None`: a spinner) for a long wait; drawn only for the
  /// operator's own walk, never over a fan-out display.
  pub fn progress(&self, length: Option<u64>) -> indicatif::ProgressBar {
    match length {
      _ if self.quiet => indicatif::ProgressBar::hidden(),
      Some(length) => indicatif::ProgressBar::new(length),
      None => {
        let spinner = indicatif::ProgressBar::new_spinner();
        spinner.enable_steady_tick(std::time::Duration::from_millis(120));
        spinner
      }
    }
  }

  /// A spinner under a running step, with its elapsed time and timeout,
  /// until the guard is dropped; live output is printed above it. Only on
  /// a terminal, never over a fan-out display.
  pub fn alive(&self, timeout: Option<std::time::Duration>) -> Alive<'_> {
    if !self.quiet && self.width.is_some() {
      let limit = timeout.map_or_else(
        || "no timeout".to_string(),
        |t| format!("timeout {}", humantime::format_duration(t)),
      );
      let spinner = indicatif::ProgressBar::new_spinner();
      spinner.set_style(
        indicatif::ProgressStyle::with_template("   {spinner} running {elapsed} · {msg}")
          .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
      );
      spinner.set_message(limit);
      spinner.enable_steady_tick(std::time::Duration::from_millis(120));
      if let Ok(mut alive) = self.alive.lock() {
        *alive = Some(spinner);
      }
    }
    Alive(self)
  }

  /// Prints `prompt` on stderr and reads one line. Reads happen on one
  /// thread, only when asked, so hidden input never races a line read.
  pub fn ask(&self, prompt: &str, hidden: bool) -> Answer {
    if self.interrupted() {
      return Answer::Interrupted;
    }
    if self.interactive {
      // Only a deliberate answer approves a step: keys typed while the last
      // step ran (a stray `r`) are discarded, not read as this answer.
      let _ = nix::sys::termios::tcflush(std::io::stdin(), nix::sys::termios::FlushArg::TCIFLUSH);
    }
    self.say(&super::style::paint(super::style::PROMPT, prompt));
    let reader = self.reader.get_or_init(|| spawn_reader(self.tx.clone()));
    if reader
      .send(if hidden { Read::Hidden } else { Read::Line })
      .is_err()
    {
      return Answer::Unavailable;
    }
    let Ok(rx) = self.rx.lock() else {
      return Answer::Unavailable;
    };
    loop {
      match rx.recv() {
        Ok(Event::Line(Some(line))) => return Answer::Line(line),
        Ok(Event::Line(None)) | Err(_) => return Answer::Unavailable,
        Ok(Event::Interrupt) => return Answer::Interrupted,
        Ok(Event::Exited(_)) => {}
      }
    }
  }

  /// Waits for a child started with [`Console::sender`] to report its exit.
  pub fn wait(&self, deadline: Option<Instant>) -> Wait {
    let Ok(rx) = self.rx.lock() else {
      return Wait::Interrupted;
    };
    loop {
      let event = match deadline {
        Some(deadline) => match rx.recv_timeout(deadline.saturating_duration_since(Instant::now()))
        {
          Ok(e) => e,
          Err(RecvTimeoutError::Timeout) => return Wait::TimedOut,
          Err(RecvTimeoutError::Disconnected) => return Wait::Interrupted,
        },
        None => match rx.recv() {
          Ok(e) => e,
          Err(_) => return Wait::Interrupted,
        },
      };
      match event {
        Event::Exited(status) => return Wait::Exited(status),
        Event::Interrupt => return Wait::Interrupted,
        Event::Line(_) => {}
      }
    }
  }
}

/// `text` with every line cut to `width` columns (escapes do not count).
fn fit(text: &str, width: usize) -> String {
  text
    .split_inclusive('\n')
    .map(|line| {
      let body = line.trim_end_matches('\n');
      if ::console::measure_text_width(body) <= width {
        return line.to_string();
      }
      let newline = &line[body.len()..];
      format!("{}{newline}", ::console::truncate_str(body, width, "…"))
    })
    .collect()
}

/// `text` wrapped at spaces to lines of at most `width` columns, each
/// starting with `indent`.
pub fn wrap(text: &str, width: Option<usize>, indent: &str) -> String {
  let Some(width) = width.map(|w| w.saturating_sub(indent.len()).max(20)) else {
    return format!("{indent}{text}\n");
  };
  let mut out = String::new();
  let mut line = String::new();
  for word in text.split_whitespace() {
    if !line.is_empty() && line.chars().count() + 1 + word.chars().count() > width {
      out.push_str(&format!("{indent}{line}\n"));
      line.clear();
    }
    if !line.is_empty() {
      line.push(' ');
    }
    line.push_str(word);
  }
  if !line.is_empty() {
    out.push_str(&format!("{indent}{line}\n"));
  }
  out
}

fn spawn_reader(tx: Sender<Event>) -> Sender<Read> {
  let (req_tx, req_rx) = mpsc::channel::<Read>();
  std::thread::spawn(move || {
    let stdin = std::io::stdin();
    for request in req_rx {
      let line = match request {
        Read::Hidden if stdin.is_terminal() => rpassword::read_password().ok(),
        _ => {
          let mut line = String::new();
          match stdin.lock().read_line(&mut line) {
            Ok(0) | Err(_) => None,
            Ok(_) => Some(line.trim_end_matches(['\n', '\r']).to_string()),
          }
        }
      };
      if tx.send(Event::Line(line)).is_err() {
        break;
      }
    }
  });
  req_tx
}

/// Who is running litops, as `user@host`: the OS account of the process
/// (not `$USER`, which anyone can set), or under sudo the account that ran
/// sudo, marked so (`alice@host (sudo as root)`).
pub fn operator() -> String {
  let uid = nix::unistd::getuid();
  let account = nix::unistd::User::from_uid(uid)
    .ok()
    .flatten()
    .map_or_else(|| format!("uid{uid}"), |u| u.name);
  let host = nix::unistd::gethostname()
    .ok()
    .and_then(|h| h.into_string().ok())
    .unwrap_or_else(|| "unknown-host".into());
  // sudo sets SUDO_USER; only a process running as root can have come
  // through it, so elsewhere the variable is not trusted.
  match std::env::var("SUDO_USER") {
    Ok(user) if uid.is_root() && !user.is_empty() && user != account => {
      format!("{user}@{host} (sudo as {account})")
    }
    _ => format!("{account}@{host}"),
  }
}
