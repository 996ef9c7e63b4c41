//! The layout language (`.shz`): how a dist is arranged, as data.
//!
//! Phases, each with a typed input and output:
//! 1. [`lexer`]: comments, strings and braces (nesting is rejected here, so the grammar
//!    never recurses);
//! 2. [`parse`]: pest (`grammar/shenzi.pest`) to the typed [`syntax`] tree, every name,
//!    value and block with its span, recovering at the next item after a mistake;
//! 3. [`analyze`]: names resolved, templates parsed ([`Template`]), globs compiled, static
//!    conflicts found, farm levels checked, giving a [`Layout`];
//! 4. optionally [`check_with_manifest`]: what needs the trace.
//!
//! Every mistake of a run is collected in one [`LayoutReport`] (a miette diagnostic with
//! the others as `related`). [`format()`] is `shenzi fmt`.
//!
//! The planner's entry points: [`load`] a layout by path or built-in name, [`check`] it
//! (or [`check_with_manifest`]), then read [`Layout`]: [`Layout::units`] (kinds, globs
//! with [`Unit::selects`], [`Select`], [`Unit::destination`] rendered with
//! [`Template::render`] and a [`Vars`] implementation, [`Action`], farm, served
//! run-time loads), [`Layout::farms`] (root, reals, links, level, members),
//! [`SystemPolicy::provides`], [`Layout::launcher`], [`ConflictPolicy`], [`Unclaimed`], [`Strip`]
//! and [`Layout::ignore`]. Template variables per kind are data: [`KINDS`], [`COMMON`],
//! [`FARM`].

mod analyze;
mod diagnostics;
mod flags;
mod format;
pub mod lexer;
mod limits;
mod model;
mod parser;
pub(crate) mod report;
pub mod shown;
mod span;
mod suggest;
pub mod syntax;
mod template;
mod vars;
mod with_manifest;

use std::io::Read;
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};

use miette::NamedSource;

pub use analyze::analyze;
pub use diagnostics::{Diagnostic, ErrorKind, LayoutReport, LoadError};
pub use model::*;
pub use parser::{DIAGNOSTIC_LIMIT, parse};
pub use span::{Span, Spanned};
pub use template::{Part, RenderError, Template, VarRef, Vars};
pub use vars::{COMMON, Context, FARM, KINDS, Kind, KindInfo, Var};
pub use with_manifest::has_kind;

use crate::manifest::Manifest;

/// The built-in layouts, by name: usable wherever a layout path is accepted.
pub const BUILTIN: &[(&str, &str)] = &[
    ("default", include_str!("../../layouts/default.shz")),
    ("flat", include_str!("../../layouts/flat.shz")),
    (
        "farm-per-unit",
        include_str!("../../layouts/farm-per-unit.shz"),
    ),
    ("minimal", include_str!("../../layouts/minimal.shz")),
];

pub use limits::MAX_LAYOUT_BYTES;

/// A leading UTF-8 byte order mark, which some editors write: dropped when a layout is
/// read (so `shenzi fmt` writes the file without it).
const BOM: &str = "\u{feff}";

/// A layout's text and the name diagnostics show for it.
#[derive(Debug, Clone)]
pub struct Source {
    /// The path as given, or `default` (built-in) for a built-in layout.
    pub name: String,
    /// The text; where the file is not UTF-8, with each invalid byte replaced by U+FFFD
    /// (and `raw` holds the bytes).
    pub text: String,
    /// The file's bytes when they are not UTF-8: checking it reports where.
    raw: Option<Vec<u8>>,
}

impl Source {
    pub fn new(name: impl Into<String>, text: impl Into<String>) -> Self {
        Source {
            name: name.into(),
            text: text.into(),
            raw: None,
        }
    }

    /// A layout from a file's bytes: a leading byte order mark is dropped; bytes that
    /// are not UTF-8 are kept for [`check`] to point at.
    pub fn from_bytes(name: impl Into<String>, mut bytes: Vec<u8>) -> Self {
        if bytes.starts_with(BOM.as_bytes()) {
            bytes.drain(..BOM.len());
        }
        match String::from_utf8(bytes) {
            Ok(text) => Source::new(name, text),
            Err(err) => {
                let bytes = err.into_bytes();
                Source {
                    name: name.into(),
                    text: String::from_utf8_lossy(&bytes).into_owned(),
                    raw: Some(bytes),
                }
            }
        }
    }

    /// The text under its name, as the reports over it show it.
    pub fn named(&self) -> NamedSource<String> {
        NamedSource::new(self.name.clone(), self.text.clone())
    }

    /// The bytes as read, for the layout's own report.
    fn bytes(&self) -> NamedSource<Vec<u8>> {
        let bytes = match &self.raw {
            Some(raw) => raw.clone(),
            None => self.text.clone().into_bytes(),
        };
        NamedSource::new(self.name.clone(), bytes)
    }

    /// A diagnostic for each stretch of bytes that is not UTF-8 (none for valid text).
    fn invalid_utf8(&self) -> Vec<Diagnostic> {
        let Some(raw) = &self.raw else {
            return Vec::new();
        };
        let mut out = Vec::new();
        let mut at = 0;
        for chunk in raw.utf8_chunks() {
            // One past the limit is enough for the report to say there are more.
            if out.len() > DIAGNOSTIC_LIMIT {
                break;
            }
            at += chunk.valid().len();
            let bad = chunk.invalid();
            if !bad.is_empty() {
                out.push(Diagnostic::new(
                    Span::new(at, at + bad.len()),
                    ErrorKind::InvalidUtf8 {
                        bytes: bad.to_vec(),
                    },
                ));
            }
            at += bad.len();
        }
        out
    }
}

/// Loads a layout: a built-in name (`default`, `flat`, ...) when `spec` is one and has
/// no `/` or `.shz`, otherwise the file at that path, which must be a regular file of
/// at most [`MAX_LAYOUT_BYTES`].
pub fn load(spec: &str) -> Result<Source, LoadError> {
    let looks_like_path = spec.contains('/') || spec.ends_with(".shz");
    if !looks_like_path && let Some((name, text)) = BUILTIN.iter().find(|(n, _)| *n == spec) {
        return Ok(Source::new(format!("{name} (built-in)"), *text));
    }
    let unreadable = |source| LoadError::Unreadable {
        path: spec.to_owned(),
        builtins: BUILTIN
            .iter()
            .map(|(n, _)| format!("`{n}`"))
            .collect::<Vec<_>>()
            .join(", "),
        source,
    };
    // Non-blocking, so that opening a FIFO returns at once instead of waiting for a
    // writer; the type is then checked on the opened file, not on the path.
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(spec)
        .map_err(unreadable)?;
    let meta = file.metadata().map_err(unreadable)?;
    let kind = meta.file_type();
    if !kind.is_file() {
        let what = if kind.is_dir() {
            "a folder"
        } else if kind.is_fifo() {
            "a named pipe"
        } else if kind.is_char_device() {
            "a character device"
        } else if kind.is_block_device() {
            "a block device"
        } else if kind.is_socket() {
            "a socket"
        } else {
            "a special file"
        };
        return Err(LoadError::NotAFile {
            path: spec.to_owned(),
            what,
        });
    }
    if meta.len() > MAX_LAYOUT_BYTES {
        return Err(LoadError::TooLarge {
            path: spec.to_owned(),
            size: meta.len(),
        });
    }
    // The size can change after the check: read at most one byte more than allowed.
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    file.take(MAX_LAYOUT_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(unreadable)?;
    if bytes.len() as u64 > MAX_LAYOUT_BYTES {
        return Err(LoadError::TooLarge {
            path: spec.to_owned(),
            size: bytes.len() as u64,
        });
    }
    Ok(Source::from_bytes(spec, bytes))
}

/// The outcome of checking a layout: the layout when it has no errors, and every
/// diagnostic of the run (warnings included), sorted by place.
#[derive(Debug)]
pub struct Checked {
    pub layout: Option<Layout>,
    pub report: LayoutReport,
}

impl Checked {
    pub fn has_errors(&self) -> bool {
        self.report.errors() > 0
    }
}

/// Parses and analyzes a layout.
pub fn check(source: &Source) -> Checked {
    let invalid = source.invalid_utf8();
    if !invalid.is_empty() {
        return finish(source, None, invalid);
    }
    let (ast, mut diagnostics) = parse(&source.text);
    if diagnostics.is_empty() {
        let layout = analyze(&ast, &mut diagnostics);
        return finish(source, layout, diagnostics);
    }
    // Items that parsed are still analyzed, so one run reports every mistake; what may
    // only follow from an item that did not parse (a missing definition) is left out.
    let mut more = Vec::new();
    analyze::analyze_with(&ast, &mut more, false);
    diagnostics.extend(more.into_iter().filter(|d| !d.kind.may_cascade()));
    finish(source, None, diagnostics)
}

/// Parses and analyzes a layout, then checks it against a manifest.
pub fn check_with_manifest(source: &Source, manifest: &Manifest) -> Checked {
    let checked = check(source);
    let Some(layout) = checked.layout else {
        return checked;
    };
    let mut diagnostics = checked.report.diagnostics;
    with_manifest::check(&layout, manifest, &mut diagnostics);
    finish(source, Some(layout), diagnostics)
}

fn finish(source: &Source, layout: Option<Layout>, mut diagnostics: Vec<Diagnostic>) -> Checked {
    diagnostics.sort_by_key(|d| (d.span.start, d.span.end));
    diagnostics.dedup();
    let limited = diagnostics
        .iter()
        .any(|d| matches!(d.kind, ErrorKind::TooManyDiagnostics { .. }));
    if !limited && diagnostics.len() > DIAGNOSTIC_LIMIT {
        let next = diagnostics[DIAGNOSTIC_LIMIT].span;
        diagnostics.truncate(DIAGNOSTIC_LIMIT);
        diagnostics.push(Diagnostic::new(
            next,
            ErrorKind::TooManyDiagnostics {
                shown: DIAGNOSTIC_LIMIT,
            },
        ));
    }
    Checked {
        layout,
        report: LayoutReport {
            src: source.bytes(),
            diagnostics,
        },
    }
}

/// The canonical text of a layout (`shenzi fmt`), or its syntax errors.
pub fn format(source: &Source) -> Result<String, LayoutReport> {
    let invalid = source.invalid_utf8();
    let (ast, diagnostics) = if invalid.is_empty() {
        parse(&source.text)
    } else {
        (syntax::Ast::default(), invalid)
    };
    if diagnostics.iter().any(Diagnostic::is_error) {
        return Err(LayoutReport {
            src: source.bytes(),
            diagnostics,
        });
    }
    Ok(format::format(&source.text, &ast))
}
