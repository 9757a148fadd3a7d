//! litops: literate runbooks. The modules read as the pipeline:
//! source → parse → model → check → plan → exec (with approval) → transcript
//! → verify/diff; `testing` walks runbooks with outputs replayed from cases.

pub(crate) mod approval;
pub(crate) mod aws;
pub(crate) mod cancel;
pub mod check;
pub mod cli;
pub(crate) mod clock;
pub(crate) mod config;
pub(crate) mod diagnostic;
pub(crate) mod diff;
pub(crate) mod digest;
pub(crate) mod error;
pub(crate) mod evidence;
pub(crate) mod exec;
pub(crate) mod fanout;
pub(crate) mod history;
pub(crate) mod list;
pub(crate) mod model;
pub(crate) mod org;
pub mod params;
pub(crate) mod parse;
pub mod plan;
pub(crate) mod redact;
pub(crate) mod render;
pub(crate) mod resume;
pub(crate) mod runme;
pub(crate) mod script;
pub(crate) mod signing;
pub mod source;
pub(crate) mod store;
pub(crate) mod tell;
pub(crate) mod template;
pub(crate) mod testing;
pub mod transcript;
pub(crate) mod tripwire;
pub mod verify;
