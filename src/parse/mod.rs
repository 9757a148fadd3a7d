//! Syntax only: Markdown → [`Document`], info strings → attributes, front
//! matter → typed metadata. Nothing here decides what a block means.

mod attributes;
mod front_matter;
mod markdown;
pub mod yaml;

pub use attributes::{Attribute, Info, parse_info};
pub use front_matter::parse_front_matter;
pub use markdown::{Context, FrontMatter, Item, Task, parse};
