//! Reading a manifest back, with diagnostics that point into the file.

use std::path::Path;

use miette::{Diagnostic, NamedSource, SourceSpan};
use thiserror::Error;

use super::{MANIFEST_VERSION, Manifest};

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
}

/// Reads and checks the manifest at `path`. The error is boxed: it owns the file's text.
pub fn read_manifest(path: &Path) -> Result<Manifest, Box<ManifestError>> {
    let shown = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| {
        Box::new(ManifestError::Unreadable {
            path: shown.clone(),
            source,
        })
    })?;
    parse_manifest(&shown, text)
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
                at: key_value_span(&text, "version"),
                src: src(),
            }));
        }
        Some(_) => {}
    }
    serde_json::from_str::<Manifest>(&text).map_err(|err| {
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
    })
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

/// The span of the value of the first `"key":` in the text. shenzi writes `version`
/// first, so the first occurrence is the top-level one in every manifest it wrote.
fn key_value_span(text: &str, key: &str) -> SourceSpan {
    let needle = format!("\"{key}\"");
    let Some(at) = text.find(&needle) else {
        return first_token(text);
    };
    let after = &text[at + needle.len()..];
    let colon = after.find(':').map_or(0, |c| c + 1);
    let value = &after[colon..];
    let skip = value.len() - value.trim_start().len();
    let start = at + needle.len() + colon + skip;
    let len = text[start..]
        .find([',', '}', '\n'])
        .unwrap_or(text.len() - start);
    (start, len.max(1)).into()
}
