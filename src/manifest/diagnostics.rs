//! What reading a manifest can fail with, as miette diagnostics pointing into the file
//! (`shenzi::manifest::*`). The impossible values `check.rs` finds are each a
//! [`ValueProblem`] with its own code and help, shown under [`ManifestError::Invalid`].

use std::path::PathBuf;

use miette::{Diagnostic, NamedSource, SourceSpan};
use thiserror::Error;

use super::check::ValueProblem;
use super::{MANIFEST_VERSION, MAX_MANIFEST_BYTES};
use crate::binary::NotAFile;

/// At most this many impossible values are shown; the rest are counted.
pub(super) const MAX_SHOWN: usize = 20;

/// A manifest that cannot be used, with the place in the file that says why.
#[derive(Debug, Error, Diagnostic)]
pub enum ManifestError {
    #[error("cannot read manifest `{path}`")]
    #[diagnostic(
        code(shenzi::manifest::unreadable),
        help("check the path; `shenzi trace -- python app.py` writes `shenzi.json`")
    )]
    Unreadable {
        path: String,
        #[source]
        source: std::io::Error,
    },

    #[error("manifest `{path}` {what}")]
    #[diagnostic(code(shenzi::manifest::not_a_file), help("{}", not_a_file_help(what)))]
    NotAFile { path: String, what: NotAFile },

    #[error(
        "manifest `{path}` is {size} bytes, more than the {} MiB a manifest may have",
        MAX_MANIFEST_BYTES >> 20
    )]
    #[diagnostic(
        code(shenzi::manifest::too_large),
        help(
            "this is not a manifest `shenzi trace` wrote (a trace of a large application is a few MB); check the path"
        )
    )]
    TooLarge { path: String, size: u64 },

    #[error("manifest `{path}` is not UTF-8 text")]
    #[diagnostic(
        code(shenzi::manifest::not_utf8),
        help("the file is damaged, or not a manifest; trace the app again with `shenzi trace`")
    )]
    NotUtf8 {
        path: String,
        #[source_code]
        src: NamedSource<String>,
        #[label("the first byte that is not UTF-8")]
        at: SourceSpan,
    },

    #[error("manifest `{path}` is not valid JSON: {message}")]
    #[diagnostic(
        code(shenzi::manifest::invalid_json),
        help("the file is damaged; trace the app again with `shenzi trace`")
    )]
    InvalidJson {
        path: String,
        message: String,
        #[source_code]
        src: NamedSource<String>,
        #[label("here")]
        at: SourceSpan,
    },

    #[error("manifest `{path}` has no `version`")]
    #[diagnostic(
        code(shenzi::manifest::no_version),
        help(
            "this is not a shenzi manifest, or it is damaged; trace the app again with `shenzi trace`"
        )
    )]
    NoVersion {
        path: String,
        #[source_code]
        src: NamedSource<String>,
        #[label("expected an object with `\"version\": {MANIFEST_VERSION}`")]
        at: SourceSpan,
    },

    #[error("manifest `{path}` is version {found}; this shenzi reads version {MANIFEST_VERSION}")]
    #[diagnostic(
        code(shenzi::manifest::wrong_version),
        help("trace the app again with this shenzi, or use the shenzi that wrote it")
    )]
    WrongVersion {
        path: String,
        found: String,
        #[source_code]
        src: NamedSource<String>,
        #[label("version {found}")]
        at: SourceSpan,
    },

    #[error("manifest `{path}` is missing `{field}`")]
    #[diagnostic(
        code(shenzi::manifest::missing_field),
        help(
            "the file is incomplete or was edited by hand; trace the app again with `shenzi trace`"
        )
    )]
    MissingField {
        path: String,
        field: String,
        #[source_code]
        src: NamedSource<String>,
        #[label("this object has no `{field}`")]
        at: SourceSpan,
    },

    #[error("manifest `{path}` has a bad value: {message}")]
    #[diagnostic(
        code(shenzi::manifest::bad_value),
        help("the file was edited by hand or is damaged; trace the app again with `shenzi trace`")
    )]
    BadValue {
        path: String,
        message: String,
        #[source_code]
        src: NamedSource<String>,
        #[label("here")]
        at: SourceSpan,
    },

    #[error(
        "manifest `{path}` holds {} impossible value(s){}",
        problems.len() + more,
        if *more > 0 { format!("; the first {MAX_SHOWN} are shown") } else { String::new() }
    )]
    #[diagnostic(code(shenzi::manifest::invalid))]
    Invalid {
        path: String,
        #[source_code]
        src: NamedSource<String>,
        #[related]
        problems: Vec<ValueProblem>,
        /// How many more there are than are shown.
        more: usize,
    },
}

fn not_a_file_help(what: &NotAFile) -> &'static str {
    match what {
        NotAFile::Special(crate::binary::FileKind::Directory) => {
            "give the manifest file in it (`shenzi trace` writes `shenzi.json`)"
        }
        NotAFile::Special(_) => {
            "shenzi reads a manifest only from a regular file (a pipe could block it, a device never end): write it to a file first"
        }
        _ => "give the manifest file's own path, or fix the link",
    }
}

/// Why `trace --append` cannot add a run to a manifest (`merge.rs`).
#[derive(Debug, Error, Diagnostic)]
pub enum MergeError {
    #[error(
        "cannot merge runs of different interpreters: `{existing}` (Python {existing_version}) and `{new}` (Python {new_version})"
    )]
    #[diagnostic(
        code(shenzi::manifest::different_interpreter),
        help(
            "a dist holds one interpreter: trace every run with the same Python, or write a separate manifest with `-o`"
        )
    )]
    DifferentInterpreter {
        existing: PathBuf,
        existing_version: String,
        new: PathBuf,
        new_version: String,
    },
}
