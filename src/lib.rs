//! shenzi packages a traced Python application into a self-contained, relocatable folder.
//!
//! One module per phase, each with typed input and output; nothing below [`cli`] prints.

pub mod binary;
pub mod cli;
pub mod execute;
pub mod farm;
pub mod layout;
pub mod loader;
pub mod manifest;
pub mod os;
pub mod plan;
pub mod policy;
pub mod project;
pub mod record;
pub mod trace;
pub mod verify;
