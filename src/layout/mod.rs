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
//! [`SystemPolicy::provides`], [`Layout::launcher`], [`ConflictPolicy`], [`Unclaimed`]
//! and [`Layout::ignore`]. Template variables per kind are data: [`KINDS`], [`COMMON`],
//! [`FARM`].

mod analyze;
mod diagnostic;
mod format;
pub mod lexer;
mod model;
mod parser;
pub(crate) mod report;
mod span;
mod suggest;
pub mod syntax;
mod template;
mod vars;
mod with_manifest;

use std::path::Path;

use miette::NamedSource;
use thiserror::Error;

pub use analyze::analyze;
pub use diagnostic::{Diagnostic, ErrorKind, LayoutReport};
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

/// A layout's text and the name diagnostics show for it.
#[derive(Debug, Clone)]
pub struct Source {
    /// The path as given, or `default` (built-in) for a built-in layout.
    pub name: String,
    pub text: String,
}

impl Source {
    pub fn new(name: impl Into<String>, text: impl Into<String>) -> Self {
        Source {
            name: name.into(),
            text: text.into(),
        }
    }

    /// The text under its name, as the reports over it show it.
    pub fn named(&self) -> NamedSource<String> {
        NamedSource::new(self.name.clone(), self.text.clone())
    }
}

/// A layout that could not be read.
#[derive(Debug, Error, miette::Diagnostic)]
pub enum LoadError {
    #[error("cannot read layout `{path}`")]
    #[diagnostic(
        code(shenzi::layout::unreadable),
        help("check the path, or name a built-in layout: {builtins}")
    )]
    Unreadable {
        path: String,
        builtins: String,
        #[source]
        source: std::io::Error,
    },
}

/// Loads a layout: a built-in name (`default`, `flat`, ...) when `spec` is one and has
/// no `/` or `.shz`, otherwise the file at that path.
pub fn load(spec: &str) -> Result<Source, LoadError> {
    let looks_like_path = spec.contains('/') || spec.ends_with(".shz");
    if !looks_like_path && let Some((name, text)) = BUILTIN.iter().find(|(n, _)| *n == spec) {
        return Ok(Source::new(format!("{name} (built-in)"), *text));
    }
    std::fs::read_to_string(Path::new(spec))
        .map(|text| Source::new(spec, text))
        .map_err(|source| LoadError::Unreadable {
            path: spec.to_owned(),
            builtins: BUILTIN
                .iter()
                .map(|(n, _)| format!("`{n}`"))
                .collect::<Vec<_>>()
                .join(", "),
            source,
        })
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
            src: source.named(),
            diagnostics,
        },
    }
}

/// The canonical text of a layout (`shenzi fmt`), or its syntax errors.
pub fn format(source: &Source) -> Result<String, LayoutReport> {
    let (ast, diagnostics) = parse(&source.text);
    if diagnostics.iter().any(Diagnostic::is_error) {
        return Err(LayoutReport {
            src: source.named(),
            diagnostics,
        });
    }
    Ok(format::format(&source.text, &ast))
}
