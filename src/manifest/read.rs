//! Reading a manifest back, with diagnostics that point into the file.
//!
//! The file must be a regular file of at most [`MAX_MANIFEST_BYTES`]: it is opened
//! without blocking, checked with `fstat`, and read no further than the limit, so a FIFO,
//! `/dev/zero` or a runaway file is a clear error, not a hang or an exhausted memory.

use std::io::Read;
use std::path::Path;

use miette::{Diagnostic, NamedSource, SourceSpan};
use thiserror::Error;

use super::check::{ValueProblem, check};
use super::locate::{Seg, locate};
use super::{MANIFEST_VERSION, Manifest};
use crate::binary::{NotAFile, open_file};

/// The largest manifest shenzi reads: 64 MiB. A trace of numpy, pillow, lxml and
/// cryptography with a good part of the stdlib (307 modules, 54 native objects) writes
/// 79 KB, about 250 bytes a module: the limit holds some 250,000 modules, far more than
/// any application imports, while keeping the parse (twice the text, as JSON values and
/// as the typed manifest) well inside the memory of a build machine.
pub const MAX_MANIFEST_BYTES: u64 = 64 << 20;

/// At most this many impossible values are shown; the rest are counted.
const MAX_SHOWN: usize = 20;

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

/// Reads and checks the manifest at `path`. The error is boxed: it owns the file's text.
pub fn read_manifest(path: &Path) -> Result<Manifest, Box<ManifestError>> {
    let shown = path.display().to_string();
    let text = read_text(path, &shown)?;
    parse_manifest(&shown, text)
}

/// The text of the regular file at `path`, of at most [`MAX_MANIFEST_BYTES`].
fn read_text(path: &Path, shown: &str) -> Result<String, Box<ManifestError>> {
    let unreadable = |source| {
        Box::new(ManifestError::Unreadable {
            path: shown.to_owned(),
            source,
        })
    };
    let (file, meta) = match open_file(path) {
        Ok(opened) => opened,
        Err(err) => {
            return Err(match (err.not_a_file(path), err) {
                (what @ (NotAFile::Special(_) | NotAFile::SymlinkLoop), _) => {
                    Box::new(ManifestError::NotAFile {
                        path: shown.to_owned(),
                        what,
                    })
                }
                (_, err) => unreadable(err.into()),
            });
        }
    };
    let too_large = |size| {
        Box::new(ManifestError::TooLarge {
            path: shown.to_owned(),
            size,
        })
    };
    if meta.len() > MAX_MANIFEST_BYTES {
        return Err(too_large(meta.len()));
    }
    // Never more than the limit, though the file may grow while it is read.
    let mut bytes = Vec::with_capacity(usize::try_from(meta.len()).unwrap_or(0));
    file.take(MAX_MANIFEST_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(unreadable)?;
    if bytes.len() as u64 > MAX_MANIFEST_BYTES {
        return Err(too_large(bytes.len() as u64));
    }
    String::from_utf8(bytes).map_err(|err| {
        let valid = err.utf8_error().valid_up_to();
        let text = String::from_utf8_lossy(err.as_bytes()).into_owned();
        // The lossy text has one replacement character where the bad bytes start.
        Box::new(ManifestError::NotUtf8 {
            path: shown.to_owned(),
            at: (valid, '\u{fffd}'.len_utf8()).into(),
            src: NamedSource::new(shown, text),
        })
    })
}

/// Parses manifest text; `name` is how the file is shown in diagnostics.
pub fn parse_manifest(name: &str, text: String) -> Result<Manifest, Box<ManifestError>> {
    let src = || NamedSource::new(name, text.clone());
    // The version is checked before the shape, so that a manifest from another shenzi
    // says so instead of listing the fields that changed.
    let value: serde_json::Value = match serde_json::from_str(&text) {
        Ok(value) => value,
        Err(err) => {
            return Err(Box::new(ManifestError::InvalidJson {
                path: name.to_owned(),
                message: strip_position(&err),
                at: point(&text, err.line(), err.column()),
                src: src(),
            }));
        }
    };
    match value.get("version") {
        None => {
            return Err(Box::new(ManifestError::NoVersion {
                path: name.to_owned(),
                at: first_token(&text),
                src: src(),
            }));
        }
        Some(v) if v.as_u64() != Some(u64::from(MANIFEST_VERSION)) => {
            return Err(Box::new(ManifestError::WrongVersion {
                path: name.to_owned(),
                found: v.to_string(),
                at: locate(&text, &[Seg::Key("version")]),
                src: src(),
            }));
        }
        Some(_) => {}
    }
    drop(value);
    let manifest = serde_json::from_str::<Manifest>(&text).map_err(|err| {
        let at = point(&text, err.line(), err.column());
        let message = strip_position(&err);
        Box::new(match missing_field(&message) {
            Some(field) => ManifestError::MissingField {
                path: name.to_owned(),
                field,
                at,
                src: src(),
            },
            None => ManifestError::BadValue {
                path: name.to_owned(),
                message,
                at,
                src: src(),
            },
        })
    })?;
    let mut problems = check(&manifest, &text);
    if problems.is_empty() {
        return Ok(manifest);
    }
    let more = problems.len().saturating_sub(MAX_SHOWN);
    problems.truncate(MAX_SHOWN);
    Err(Box::new(ManifestError::Invalid {
        path: name.to_owned(),
        src: NamedSource::new(name, text),
        problems,
        more,
    }))
}

/// serde_json appends " at line L column C"; the label shows the place instead.
fn strip_position(err: &serde_json::Error) -> String {
    let text = err.to_string();
    match text.rfind(" at line ") {
        Some(cut) => text[..cut].to_owned(),
        None => text,
    }
}

fn missing_field(message: &str) -> Option<String> {
    let rest = message.strip_prefix("missing field `")?;
    Some(rest.split('`').next()?.to_owned())
}

/// The byte offset of a 1-based line and column (serde_json's column is the byte after
/// the offending one, or 0 at the end of input).
fn point(text: &str, line: usize, column: usize) -> SourceSpan {
    let line_start: usize = text
        .split_inclusive('\n')
        .take(line.saturating_sub(1))
        .map(str::len)
        .sum();
    let offset = (line_start + column.saturating_sub(1)).min(text.len());
    let len = usize::from(offset < text.len());
    (offset, len).into()
}

fn first_token(text: &str) -> SourceSpan {
    let start = text.len() - text.trim_start().len();
    (start, usize::from(start < text.len())).into()
}
