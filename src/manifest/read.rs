//! Reading a manifest back, with diagnostics that point into the file.
//!
//! The file must be a regular file of at most [`MAX_MANIFEST_BYTES`]: it is opened
//! without blocking, checked with `fstat`, and read no further than the limit, so a FIFO,
//! `/dev/zero` or a runaway file is a clear error, not a hang or an exhausted memory.

use std::io::Read;
use std::path::Path;

use miette::{NamedSource, SourceSpan};

use super::check::check;
use super::diagnostics::{MAX_SHOWN, ManifestError};
use super::locate::{Seg, locate};
use super::{MANIFEST_VERSION, MAX_MANIFEST_BYTES, Manifest};
use crate::binary::{NotAFile, open_file};

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
