//! What reading a binary can fail with, as miette diagnostics (`shenzi::binary::*`).

use std::path::PathBuf;

use miette::Diagnostic;
use thiserror::Error;

/// Why an object cannot be read.
#[derive(Debug, Error, Diagnostic)]
pub enum BinaryError {
    #[error("cannot read `{path}`")]
    #[diagnostic(
        code(shenzi::binary::unreadable),
        help("check that the file is there and readable (its permissions, its folders')")
    )]
    Unreadable {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("`{path}` looks like ELF but cannot be parsed: {reason}")]
    #[diagnostic(
        code(shenzi::binary::corrupt),
        help("the file is truncated or damaged; reinstall the package that owns it")
    )]
    Corrupt { path: PathBuf, reason: String },
}
