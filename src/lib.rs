//! shenzi packages a traced Python application into a self-contained, relocatable folder.
//!
//! One module per phase, each with typed input and output; nothing below [`cli`] prints.
//! docs/architecture.md has the phases, their order and where things go.

// No `unwrap` outside tests: an `expect` names the invariant (Cargo.toml, `[lints]`).
#![deny(clippy::unwrap_used)]

pub mod binary;
pub mod cli;
pub mod execute;
pub mod farm;
pub mod layout;
pub mod loader;
pub mod manifest;
pub mod onefile;
pub mod os;
pub mod plan;
pub mod policy;
pub mod project;
pub mod project_file;
pub mod record;
pub mod trace;
pub mod verify;
