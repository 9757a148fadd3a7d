//! litops: literate runbooks. The modules read as the pipeline:
//! source → parse → model → check → plan → exec → transcript.

pub mod check;
pub mod diagnostic;
pub mod model;
pub mod parse;
pub mod script;
pub mod source;
pub mod template;
