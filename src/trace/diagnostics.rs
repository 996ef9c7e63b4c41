//! What `trace` can fail with, as miette diagnostics (`shenzi::trace::*`); a manifest
//! that cannot be read or merged (`--append`) fails with the manifest's own.

use std::path::PathBuf;

use miette::Diagnostic;
use thiserror::Error;

use crate::manifest::{ManifestError, MergeError};

/// Why a trace did not write its manifest.
#[derive(Debug, Error, Diagnostic)]
pub enum TraceError {
    #[error("command `{name}` not found")]
    #[diagnostic(
        code(shenzi::trace::command_not_found),
        help("give a path, or a program on `PATH`, e.g. `shenzi trace -- python3 app.py`")
    )]
    CommandNotFound { name: String },

    #[error("`{path}` is not a Python program: {reason}")]
    #[diagnostic(
        code(shenzi::trace::not_python),
        help(
            "trace a Python interpreter or a script run by one, e.g. `shenzi trace -- python3 app.py`"
        )
    )]
    NotPython { path: PathBuf, reason: String },

    #[error("cannot write the manifest to `{path}`")]
    #[diagnostic(
        code(shenzi::trace::output_not_writable),
        help("choose a writable place with `-o`; nothing was run")
    )]
    OutputNotWritable {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("cannot start `{program}`")]
    #[diagnostic(
        code(shenzi::trace::spawn_failed),
        help("check that the program exists and you may run it; nothing was traced")
    )]
    Spawn {
        program: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("a coverage run needs the app's manifest first: `{output}` does not exist")]
    #[diagnostic(
        code(shenzi::trace::coverage_first),
        help(
            "trace the app itself first (`shenzi trace -o {} -- python app.py`), then its tests with `shenzi trace --append --coverage -o {} -- python -m pytest`", output.display(), output.display()
        )
    )]
    CoverageFirst { output: PathBuf },

    #[error("`{program}` ran, but no Python process was traced")]
    #[diagnostic(
        code(shenzi::trace::nothing_traced),
        help(
            "the command is not a Python program, or it runs Python with `-I`, `-E` or `-S`, which ignore the tracer; the manifest was not written"
        )
    )]
    NothingTraced { program: PathBuf, exit_status: i32 },

    #[error("the tracer wrote a record shenzi cannot read: `{path}`: {message}")]
    #[diagnostic(
        code(shenzi::trace::bad_record),
        help("this is a bug in shenzi; please report it with the command you traced")
    )]
    BadRecord { path: PathBuf, message: String },

    #[error("trace scratch folder: {message}")]
    #[diagnostic(
        code(shenzi::trace::scratch),
        help(
            "the trace keeps its records in a temporary folder: check that `TMPDIR` (or `/tmp`) is writable and has space"
        )
    )]
    Scratch {
        message: String,
        #[source]
        source: std::io::Error,
    },

    #[error(transparent)]
    #[diagnostic(transparent)]
    Manifest(#[from] Box<ManifestError>),

    #[error(transparent)]
    #[diagnostic(transparent)]
    Merge(#[from] MergeError),
}
