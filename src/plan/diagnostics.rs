//! What can be wrong with a plan, as diagnostics that point into the layout.

use std::fmt;
use std::path::PathBuf;

use miette::{LabeledSpan, NamedSource, Severity};

use crate::binary::NotAFile;
use crate::farm::NativeProblem;
use crate::layout::Span;

/// One problem the planner found. All are collected before anything is written.
#[derive(Debug, Clone)]
pub enum Problem {
    /// Two units write different content to one destination.
    Conflict {
        dest: String,
        first: Writer,
        second: Writer,
    },
    /// Traced files no unit claims.
    Unclaimed {
        files: Vec<PathBuf>,
        span: Span,
        error: bool,
    },
    /// Files the trace imported or read that a unit's `exclude` matched: taken anyway.
    ExcludedTrace {
        unit: String,
        /// The exclude globs that matched them, with their spans.
        globs: Vec<(String, Span)>,
        files: Vec<PathBuf>,
    },
    /// Symlinks of a unit's source trees that lead outside them, dangle or loop: left
    /// out, never followed. Each with what it leads to.
    SymlinkLeftOut {
        unit: String,
        links: Vec<(PathBuf, String)>,
    },
    /// A library the application needs that no unit of the layout takes.
    LibraryNotTaken { name: String, path: PathBuf },
    /// A destination template cannot be rendered for one file.
    Render {
        unit: String,
        span: Span,
        file: PathBuf,
        reason: String,
    },
    /// From some folder a binary can be opened from, one of its needs does not resolve
    /// to the file the plan intends.
    Unproven {
        span: Option<Span>,
        binary: String,
        origin: String,
        need: String,
        expected: String,
        found: Option<String>,
        searched: Vec<String>,
    },
    /// The interpreter would not find its standard library where the layout puts it.
    NoLandmark {
        span: Span,
        interpreter: String,
        expected: String,
    },
    /// The layout's launcher needs something the plan does not have.
    Launcher { span: Span, reason: String },
    /// A folder or file that cannot be read.
    Unreadable { path: PathBuf, reason: String },
    /// A file a manifest entry (`what`) names is not there, or is not a regular file.
    EntryFile {
        path: PathBuf,
        what: String,
        why: NotAFile,
    },
    /// A shipped object the build machine cannot load either (the traced run did not):
    /// written as it is.
    ShippedAsIs {
        object: PathBuf,
        why: AsIsWhy,
        /// The unit that ships it, and the glob its `exclude` would take to drop it.
        unit: String,
        span: Span,
        glob: String,
    },
    /// A library the app loads by a path the dist cannot reproduce (outside every
    /// folder it ships).
    PathLoadOutside {
        call: String,
        path: PathBuf,
        /// Where the dist has the library.
        shipped: String,
    },
    /// The place a library loaded by path must be holds another file.
    PathLoadTaken {
        call: String,
        place: String,
        found: String,
        library: PathBuf,
    },
    /// From a caller, a run-time load by name would not find the file the plan intends.
    UnservedLoad {
        caller: String,
        origin: String,
        name: String,
        expected: String,
        found: Option<String>,
    },
    /// From the farm graph.
    Native(NativeProblem),
}

/// Who writes a destination: the unit, its span, and the file it writes there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Writer {
    pub unit: String,
    pub span: Span,
    pub source: PathBuf,
}

impl Writer {
    pub fn new(unit: &str, span: Span, source: impl Into<PathBuf>) -> Writer {
        Writer {
            unit: unit.to_owned(),
            span,
            source: source.into(),
        }
    }
}

/// Why a shipped object cannot be loaded on the build machine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AsIsWhy {
    /// Needs the loader finds nowhere here.
    Lacks(Vec<String>),
    /// Built for another machine (`aarch64`, 32-bit).
    OtherMachine(String),
    /// Starts like ELF but cannot be read.
    Damaged(String),
}

/// One kind of problem as it is shown: its code, severity, message, labels and help,
/// written together in [`Problem::describe`].
struct Described {
    /// `shenzi::plan::...`
    code: &'static str,
    severity: Severity,
    /// The headline: lowercase, names in backticks.
    message: String,
    /// Places in the layout the problem involves.
    labels: Vec<(Span, String)>,
    /// What to do next.
    help: Option<String>,
}

impl Problem {
    pub fn is_error(&self) -> bool {
        self.describe().severity == Severity::Error
    }

    /// `error` or `warning`, as the JSON outputs name it.
    pub fn severity_name(&self) -> &'static str {
        if self.is_error() { "error" } else { "warning" }
    }

    pub fn code(&self) -> &'static str {
        self.describe().code
    }

    /// One arm per kind, with everything the user sees of it.
    fn describe(&self) -> Described {
        use Severity::{Error, Warning};
        let severity = |error: bool| if error { Error } else { Warning };
        match self {
            Problem::Conflict {
                dest,
                first,
                second,
            } => Described {
                code: "shenzi::plan::conflict",
                severity: Error,
                message: format!(
                    "units `{}` and `{}` both write `{dest}`, with different content",
                    first.unit, second.unit
                ),
                labels: vec![
                    (first.span, format!("writes `{}`", first.source.display())),
                    (second.span, format!("writes `{}`", second.source.display())),
                ],
                help: Some(
                    "give one of the units another `to`, or narrow it with `exclude` so only one unit takes the file".into(),
                ),
            },
            Problem::Unclaimed { files, span, error } => Described {
                code: "shenzi::plan::unclaimed",
                severity: severity(*error),
                message: format!(
                    "{} traced file{} no unit takes: {}",
                    files.len(),
                    if files.len() == 1 { "" } else { "s" },
                    file_list(files)
                ),
                labels: vec![(*span, "completeness policy".into())],
                help: Some(format!(
                    "add a unit that takes them, or list them under `ignore`{}",
                    if *error { "" } else { "; `unclaimed error` makes this an error" }
                )),
            },
            Problem::ExcludedTrace { unit, globs, files } => Described {
                code: "shenzi::plan::excluded_trace",
                severity: Warning,
                message: format!(
                    "unit `{unit}` excludes {} file{} the trace imported or read, and ships {} anyway: {}",
                    files.len(),
                    if files.len() == 1 { "" } else { "s" },
                    if files.len() == 1 { "it" } else { "them" },
                    file_list(files)
                ),
                labels: globs
                    .iter()
                    .map(|(glob, span)| (*span, format!("`{glob}` matches traced files")))
                    .collect(),
                help: Some(
                    "an `exclude` never drops what the app imported or read; narrow the glob so it does not match these, or take them in another unit".into(),
                ),
            },
            Problem::SymlinkLeftOut { unit, links } => Described {
                code: "shenzi::plan::symlink_left_out",
                severity: Warning,
                message: format!(
                    "unit `{unit}` leaves out {} symlink{} it does not follow: {}",
                    links.len(),
                    if links.len() == 1 { "" } else { "s" },
                    links
                        .iter()
                        .take(10)
                        .map(|(link, why)| format!("`{}` points to {why}", link.display()))
                        .collect::<Vec<_>>()
                        .join("; ")
                        + &if links.len() > 10 {
                            format!("; and {} more", links.len() - 10)
                        } else {
                            String::new()
                        }
                ),
                labels: Vec::new(),
                help: Some(
                    "a link leaving its source tree could ship any file of this machine: copy the file into the tree, or take it with a unit of its own; `exclude` the link to silence this".into(),
                ),
            },
            Problem::LibraryNotTaken { name, path } => Described {
                code: "shenzi::plan::library_not_taken",
                severity: Error,
                message: format!(
                    "the application needs `{name}` (`{}`), and no unit takes it",
                    path.display()
                ),
                labels: Vec::new(),
                help: Some(
                    "add a unit with `take native.needed` (and a farm), or add the library to the `system` policy if the target provides it".into(),
                ),
            },
            Problem::Render {
                unit,
                span,
                file,
                reason,
            } => Described {
                code: "shenzi::plan::render",
                severity: Error,
                message: format!("unit `{unit}` cannot place `{}`: {reason}", file.display()),
                labels: vec![(*span, "this destination".into())],
                help: Some("use a variable this file has, e.g. `{file}` or `{hash:16}`".into()),
            },
            Problem::Unproven {
                span,
                binary,
                origin,
                need,
                expected,
                found,
                searched,
            } => Described {
                code: "shenzi::plan::unproven_need",
                severity: Error,
                message: match found {
                    Some(found) => format!(
                        "`{binary}` opened from `{origin}` would load `{need}` from `{found}`, not `{expected}`"
                    ),
                    None => format!(
                        "`{binary}` opened from `{origin}` would not find `{need}` (intended: `{expected}`)"
                    ),
                },
                labels: span
                    .iter()
                    .map(|span| (*span, "this farm's folders".into()))
                    .collect(),
                help: Some(format!(
                    "every folder a library is opened from must sit at the farm's `level` below its root, so one `$ORIGIN` entry serves them all; check `reals`, `links` and `level`{}",
                    if searched.is_empty() {
                        String::new()
                    } else {
                        format!("\nsearched, in order:\n  {}", searched.join("\n  "))
                    }
                )),
            },
            Problem::NoLandmark {
                span,
                interpreter,
                expected,
            } => Described {
                code: "shenzi::plan::stdlib_not_found",
                severity: Error,
                message: format!(
                    "the interpreter at `{interpreter}` looks for its standard library at `{expected}`, and the layout puts none there"
                ),
                labels: vec![(*span, "the stdlib goes here".into())],
                help: Some(
                    "put the stdlib at `<interpreter folder>/../lib/pythonX.Y`, as every layout in `layouts/` does".into(),
                ),
            },
            Problem::Launcher { span, reason } => Described {
                code: "shenzi::plan::launcher",
                severity: Error,
                message: format!("the launcher cannot be made: {reason}"),
                labels: vec![(*span, "this launcher".into())],
                help: Some("check the launcher's `python`, `path` and `entry`".into()),
            },
            Problem::Unreadable { path, reason } => Described {
                code: "shenzi::plan::unreadable",
                severity: Error,
                message: format!("cannot read `{}`: {reason}", path.display()),
                labels: Vec::new(),
                help: Some("check the file's permissions; the trace saw it".into()),
            },
            Problem::EntryFile { path, what, why } => Described {
                code: if why.is_absent() {
                    "shenzi::plan::missing_file"
                } else {
                    "shenzi::plan::not_a_file"
                },
                severity: Error,
                message: why.about(path, what),
                labels: Vec::new(),
                help: Some(why.help().into()),
            },
            Problem::ShippedAsIs {
                object,
                why,
                unit,
                span,
                glob,
            } => {
                let what = match why {
                    AsIsWhy::Lacks(needs) => format!(
                        "needs {}, which this machine does not have",
                        needs
                            .iter()
                            .map(|n| format!("`{n}`"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                    AsIsWhy::OtherMachine(arch) => format!("is built for {arch}"),
                    AsIsWhy::Damaged(reason) => format!("is a damaged ELF file ({reason})"),
                };
                Described {
                    code: "shenzi::plan::shipped_as_is",
                    severity: Warning,
                    message: format!(
                        "`{}` {what}: it could not load on the build machine either (the traced run never loaded it); shipped as it is",
                        object.display()
                    ),
                    labels: vec![(*span, "this unit ships it".into())],
                    help: Some(match why {
                        AsIsWhy::Lacks(_) => format!(
                            "the app does not need it to run as traced; `exclude \"{glob}\"` in unit `{unit}` leaves it out of the dist, or install what it lacks and trace again to bundle it"
                        ),
                        _ => format!(
                            "no process here can load it; `exclude \"{glob}\"` in unit `{unit}` leaves it out of the dist"
                        ),
                    }),
                }
            }
            Problem::PathLoadOutside {
                call,
                path,
                shipped,
            } => Described {
                code: "shenzi::plan::path_load_outside",
                severity: Warning,
                message: format!(
                    "{call} loads `{}` by a path outside every folder the dist ships: on the target it will look there, not in the dist",
                    path.display()
                ),
                labels: Vec::new(),
                help: Some(format!(
                    "the dist carries the library at `{shipped}`; load it by name (the dist serves it), or keep it inside a folder on `sys.path`"
                )),
            },
            Problem::PathLoadTaken {
                call,
                place,
                found,
                library,
            } => Described {
                code: "shenzi::plan::path_load_taken",
                severity: Error,
                message: format!(
                    "{call} loads a library by path, and in the dist that path `{place}` holds another file (`{found}`)"
                ),
                labels: Vec::new(),
                help: Some(format!(
                    "the app expects `{}` there; give the unit that writes that path another `to`, or `exclude` the other file",
                    library.display()
                )),
            },
            Problem::UnservedLoad {
                caller,
                origin,
                name,
                expected,
                found,
            } => Described {
                code: "shenzi::plan::unserved_load",
                severity: Error,
                message: match found {
                    Some(found) => format!(
                        "`{caller}` opened from `{origin}` would load `{name}` at run time from `{found}`, not `{expected}`"
                    ),
                    None => format!(
                        "`{caller}` opened from `{origin}` would not find `{name}`, which the app loads at run time (intended: `{expected}`)"
                    ),
                },
                labels: Vec::new(),
                help: Some(
                    "the caller's RUNPATH must reach the folder holding the run-time loads: give the unit that takes `native.runtime_loads` `serve callers`".into(),
                ),
            },
            // The farm's problems keep their own text; the plan gives them one code.
            Problem::Native(p) => Described {
                code: "shenzi::plan::native",
                severity: severity(p.is_error()),
                message: p.to_string(),
                labels: Vec::new(),
                help: miette::Diagnostic::help(p).map(|h| h.to_string()),
            },
        }
    }
}

/// The first five files, in backticks, then `...`.
fn file_list(files: &[PathBuf]) -> String {
    files
        .iter()
        .take(5)
        .map(|f| format!("`{}`", f.display()))
        .collect::<Vec<_>>()
        .join(", ")
        + if files.len() > 5 { ", ..." } else { "" }
}

/// One problem with the layout's text, as a miette diagnostic.
#[derive(Debug)]
pub struct PlanDiagnostic {
    pub problem: Problem,
}

impl fmt::Display for PlanDiagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.problem.describe().message)
    }
}

impl std::error::Error for PlanDiagnostic {}

impl miette::Diagnostic for PlanDiagnostic {
    fn code<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        Some(Box::new(self.problem.code()))
    }

    fn severity(&self) -> Option<Severity> {
        Some(self.problem.describe().severity)
    }

    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.problem
            .describe()
            .help
            .map(|h| Box::new(h) as Box<dyn fmt::Display>)
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        let labels = self.problem.describe().labels;
        (!labels.is_empty()).then(|| {
            Box::new(
                labels
                    .into_iter()
                    .map(|(span, text)| LabeledSpan::new_with_span(Some(text), span)),
            ) as _
        })
    }
}

/// Every problem of one plan, with the layout's text: one miette report whose `related`
/// entries are the problems.
#[derive(Debug)]
pub struct PlanReport {
    pub src: NamedSource<String>,
    pub diagnostics: Vec<PlanDiagnostic>,
}

impl PlanReport {
    pub fn errors(&self) -> usize {
        self.diagnostics
            .iter()
            .filter(|d| d.problem.is_error())
            .count()
    }

    pub fn warnings(&self) -> usize {
        self.diagnostics.len() - self.errors()
    }

    pub fn codes(&self) -> Vec<&'static str> {
        self.diagnostics.iter().map(|d| d.problem.code()).collect()
    }
}

impl fmt::Display for PlanReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "plan for layout `{}`: {} error(s), {} warning(s)",
            self.src.name(),
            self.errors(),
            self.warnings()
        )
    }
}

crate::layout::report::report_diagnostic!(PlanReport, "shenzi::plan::check");
