//! litops: literate runbooks. The modules read as the pipeline:
//! source → parse → model → check → plan → exec → transcript → verify/diff.

pub mod aws;
pub mod cancel;
pub mod check;
pub mod cli;
pub mod clock;
pub mod diagnostic;
pub mod diff;
pub mod error;
pub mod exec;
pub mod fanout;
pub mod history;
pub mod model;
pub mod params;
pub mod parse;
pub mod plan;
pub mod redact;
pub mod render;
pub mod resume;
pub mod script;
pub mod signing;
pub mod source;
pub mod template;
pub mod transcript;
pub mod verify;
