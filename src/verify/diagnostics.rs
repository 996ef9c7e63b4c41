//! What `verify` can find wrong with a dist, as miette diagnostics. Paths inside the
//! dist are shown relative to its root.

use std::fmt;
use std::path::PathBuf;

use miette::{Diagnostic, Severity};

/// A folder `verify` cannot check at all.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum VerifyError {
    #[error("`{}` is not a shenzi dist: {reason}", path.display())]
    #[diagnostic(
        code(shenzi::verify::not_a_dist),
        help("give the folder `shenzi apply -o DIST` wrote; every dist holds `.shenzi/dist.json`")
    )]
    NotADist { path: PathBuf, reason: String },

    #[error("cannot read the dist record `{}`: {reason}", path.display())]
    #[diagnostic(
        code(shenzi::verify::bad_record),
        help(
            "the record is written by `shenzi apply`; apply the layout again to rewrite the dist"
        )
    )]
    BadRecord { path: PathBuf, reason: String },
}

/// One problem of a dist. Needs are grouped: one problem per object, need and outcome,
/// with every folder the object is opened from where it happens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VerifyProblem {
    /// A need the loader finds nowhere; `searched` is the search from the first folder.
    UnresolvedNeed {
        object: String,
        need: String,
        from: Vec<String>,
        searched: Vec<String>,
    },
    /// The search stops at a file the loader cannot load.
    UnusableNeed {
        object: String,
        need: String,
        from: Vec<String>,
        file: String,
        reason: String,
    },
    /// A need resolves to a file outside the dist the policy does not name.
    OutsideDist {
        object: String,
        need: String,
        from: Vec<String>,
        path: String,
        rule: String,
    },
    /// A need resolves inside the dist, but through an absolute path to where the dist
    /// is now.
    AbsolutePath {
        object: String,
        need: String,
        from: Vec<String>,
        path: String,
        rule: String,
    },
    /// A run-time load by name (`ctypes.CDLL("libz.so.1")`) its caller would not find in
    /// the dist or the system policy.
    UnservedLoad {
        object: String,
        name: String,
        from: Vec<String>,
        detail: Vec<String>,
    },
    /// A library the app loads by path is not where the app will look for it.
    PathLoadMissing {
        path: String,
        caller: Option<String>,
        reason: String,
    },
    /// A file that starts like ELF but cannot be parsed.
    Corrupt {
        object: String,
        reason: String,
    },
    DanglingLink {
        link: String,
        target: String,
    },
    LinkOutside {
        link: String,
        target: String,
    },
    InterpreterMissing {
        path: String,
    },
    StdlibNotFound {
        interpreter: String,
        expected: String,
    },
    PthMissing {
        pth: String,
    },
    PthOutsidePrefix {
        pth: String,
        prefix: String,
    },
    SysPathMissing {
        pth: String,
        line: usize,
        entry: String,
        folder: String,
    },
    EntryMissing {
        entry: String,
        searched: Vec<String>,
    },
    Launcher {
        path: String,
        reason: String,
    },
    Unreadable {
        path: String,
        reason: String,
    },
}

impl VerifyProblem {
    pub fn code(&self) -> &'static str {
        self.describe().code
    }

    /// The headline as the diagnostic shows it (for `verify --format json`).
    pub fn message(&self) -> String {
        self.describe().message
    }

    /// What to do next, as the diagnostic shows it.
    pub fn help(&self) -> String {
        self.describe().help
    }

    /// `error` or `warning`.
    pub fn severity_name(&self) -> &'static str {
        match self.describe().severity {
            Severity::Warning | Severity::Advice => "warning",
            Severity::Error => "error",
        }
    }

    /// Order of reports: native problems by object, then links, then the Python side.
    pub(super) fn sort_key(&self) -> (u8, String, String) {
        let (rank, a, b) = match self {
            VerifyProblem::UnresolvedNeed { object, need, .. }
            | VerifyProblem::UnusableNeed { object, need, .. }
            | VerifyProblem::OutsideDist { object, need, .. }
            | VerifyProblem::AbsolutePath { object, need, .. } => (0, object, need),
            VerifyProblem::Corrupt { object, reason } => (0, object, reason),
            VerifyProblem::UnservedLoad { object, name, .. } => (0, object, name),
            VerifyProblem::PathLoadMissing { path, reason, .. } => (0, path, reason),
            VerifyProblem::DanglingLink { link, target }
            | VerifyProblem::LinkOutside { link, target } => (1, link, target),
            VerifyProblem::InterpreterMissing { path } => (2, path, path),
            VerifyProblem::StdlibNotFound {
                interpreter,
                expected,
            } => (2, interpreter, expected),
            VerifyProblem::PthMissing { pth } => (3, pth, pth),
            VerifyProblem::PthOutsidePrefix { pth, prefix } => (3, pth, prefix),
            VerifyProblem::SysPathMissing { pth, folder, .. } => (3, pth, folder),
            VerifyProblem::EntryMissing { entry, .. } => (4, entry, entry),
            VerifyProblem::Launcher { path, reason } => (5, path, reason),
            VerifyProblem::Unreadable { path, reason } => (6, path, reason),
        };
        (rank, a.clone(), b.clone())
    }

    /// One arm per kind, with everything the user sees of it. A dist problem has no
    /// source text to label.
    fn describe(&self) -> Described {
        let searched = |title: &str, lines: &[String]| {
            if lines.is_empty() {
                String::new()
            } else {
                format!("\n{title}:\n  {}", lines.join("\n  "))
            }
        };
        match self {
            VerifyProblem::UnresolvedNeed {
                object,
                need,
                from,
                searched: s,
            } => Described {
                code: "shenzi::verify::unresolved_need",
                severity: Severity::Error,
                message: format!(
                    "`{object}` needs `{need}`, which the loader finds nowhere when it is opened from {}",
                    folders(from)
                ),
                help: format!(
                    "bundle the library in the dist and give the object a RUNPATH entry (`$ORIGIN/...`) to it from every folder it is opened from, or add it to the layout's `system` policy if every target provides it; apply again{}",
                    searched("searched from the first folder, in order", s)
                ),
            },
            VerifyProblem::UnusableNeed {
                object,
                need,
                from,
                file,
                reason,
            } => Described {
                code: "shenzi::verify::unusable_need",
                severity: Severity::Error,
                message: format!(
                    "`{object}` needs `{need}`, and the loader stops at `{file}` ({reason}) when it is opened from {}",
                    folders(from)
                ),
                help: format!(
                    "the real loader fails there too; replace or remove `{file}`, then apply again"
                ),
            },
            VerifyProblem::OutsideDist {
                object,
                need,
                from,
                path,
                rule,
            } => Described {
                code: "shenzi::verify::outside_dist",
                severity: Severity::Error,
                message: format!(
                    "`{object}` loads `{need}` from `{path}` ({rule}), outside the dist and not in its system policy, when it is opened from {}",
                    folders(from)
                ),
                help: "the target machine will not have this file: bundle the library (a unit with `take native.needed` and a farm), or add it to the layout's `system` policy if every target provides it".into(),
            },
            VerifyProblem::AbsolutePath {
                object,
                need,
                from,
                path,
                rule,
            } => Described {
                code: "shenzi::verify::absolute_path",
                severity: Severity::Error,
                message: format!(
                    "`{object}` finds `{need}` only through the absolute path `{path}` ({rule}) when it is opened from {}",
                    folders(from)
                ),
                help: "an absolute RUNPATH breaks when the dist moves: use `$ORIGIN`-relative entries (apply again instead of editing the dist)".into(),
            },
            VerifyProblem::UnservedLoad {
                object,
                name,
                from,
                detail,
            } => Described {
                code: "shenzi::verify::unserved_load",
                severity: Severity::Error,
                message: format!(
                    "the app loads `{name}` at run time through `{object}`, which would not find it when it is opened from {}",
                    folders(from)
                ),
                help: format!(
                    "the caller's RUNPATH must reach the library in the dist (a unit that takes `native.runtime_loads` with `serve callers` gives it that entry), or the system policy must name it; apply again{}",
                    searched("from the first folder", detail)
                ),
            },
            VerifyProblem::PathLoadMissing {
                path,
                caller,
                reason,
            } => Described {
                code: "shenzi::verify::path_load_missing",
                severity: Severity::Error,
                message: format!(
                    "{} loads the library `{path}` by path, and the dist has none there: {reason}",
                    caller
                        .as_deref()
                        .map_or_else(|| "the app".to_owned(), |c| format!("module `{c}`"))
                ),
                help: "the app computes the path from where its module is; apply again, which puts the library there (the record lists it under `loads`)".into(),
            },
            VerifyProblem::Corrupt { object, reason } => Described {
                code: "shenzi::verify::corrupt_binary",
                severity: Severity::Error,
                message: format!("`{object}` starts like an ELF object but cannot be read: {reason}"),
                help: "the file is damaged or truncated: apply again from an intact source".into(),
            },
            VerifyProblem::DanglingLink { link, target } => Described {
                code: "shenzi::verify::dangling_link",
                severity: Severity::Error,
                message: format!("symlink `{link}` points to `{target}`, which does not exist"),
                help: "something the link needs was removed from the dist after it was written: apply again".into(),
            },
            VerifyProblem::LinkOutside { link, target } => Described {
                code: "shenzi::verify::link_outside",
                severity: Severity::Error,
                message: format!("symlink `{link}` points to `{target}`, outside the dist"),
                help: "a relocatable dist links only inside itself: apply again instead of editing the dist".into(),
            },
            VerifyProblem::InterpreterMissing { path } => Described {
                code: "shenzi::verify::interpreter_missing",
                severity: Severity::Error,
                message: format!("the interpreter `{path}` the record names is not in the dist"),
                help: "apply again; the dist is incomplete".into(),
            },
            VerifyProblem::StdlibNotFound {
                interpreter,
                expected,
            } => Described {
                code: "shenzi::verify::stdlib_not_found",
                severity: Severity::Error,
                message: format!(
                    "the interpreter `{interpreter}` looks for its standard library at `{expected}` (landmark `os.py`), and it is not there"
                ),
                help: "put the stdlib at `<interpreter folder>/../lib/pythonX.Y`, as every layout in `layouts/` does, and apply again".into(),
            },
            VerifyProblem::PthMissing { pth } => Described {
                code: "shenzi::verify::pth_missing",
                severity: Severity::Error,
                message: format!(
                    "the `.pth` file `{pth}` that puts the dist's folders on `sys.path` is missing"
                ),
                help: "apply again; without it the app's packages are not importable".into(),
            },
            VerifyProblem::PthOutsidePrefix { pth, prefix } => Described {
                code: "shenzi::verify::pth_outside_prefix",
                severity: Severity::Error,
                message: format!(
                    "the `.pth` file `{pth}` is outside the interpreter's prefix `{prefix}`, so `site` never reads it"
                ),
                help: "put the interpreter and the stdlib where `site` finds the `site-packages` folder holding it".into(),
            },
            VerifyProblem::SysPathMissing {
                pth,
                line,
                entry,
                folder,
            } => Described {
                code: "shenzi::verify::sys_path_missing",
                severity: Severity::Error,
                message: format!(
                    "`{pth}` line {line} puts `{entry}` on `sys.path`, and the folder `{folder}` does not exist"
                ),
                help: "the folder was removed from the dist, or the layout's launcher `path` names a unit that writes nothing there; apply again".into(),
            },
            VerifyProblem::EntryMissing { entry, searched: s } => Described {
                code: "shenzi::verify::entry_missing",
                severity: Severity::Error,
                message: format!("the launcher starts {entry}, which is not in the dist"),
                help: format!(
                    "the layout must ship the entry (a unit that takes `app.entry`, or the module's package); apply again{}",
                    searched("looked in", s)
                ),
            },
            VerifyProblem::Launcher { path, reason } => Described {
                code: "shenzi::verify::launcher",
                severity: Severity::Error,
                message: format!("the launcher `{path}` cannot be run: {reason}"),
                help: "apply again; the launcher is generated from the layout's `launcher` block".into(),
            },
            VerifyProblem::Unreadable { path, reason } => Described {
                code: "shenzi::verify::unreadable",
                severity: Severity::Error,
                message: format!("cannot read `{path}`: {reason}"),
                help: "check the file's permissions".into(),
            },
        }
    }
}

/// One kind of problem as it is shown, written together in [`VerifyProblem::describe`].
struct Described {
    /// `shenzi::verify::...`
    code: &'static str,
    severity: Severity,
    /// The headline: lowercase, names in backticks.
    message: String,
    /// What to do next.
    help: String,
}

/// "`a`" / "`a` and `b`" / "`a`, `b` and 3 more folders".
fn folders(from: &[String]) -> String {
    let quoted: Vec<String> = from.iter().map(|f| format!("`{f}`")).collect();
    match quoted.as_slice() {
        [] => "anywhere".into(),
        [one] => one.clone(),
        [a, b] => format!("{a} and {b}"),
        [a, b, rest @ ..] => format!("{a}, {b} and {} more folders", rest.len()),
    }
}

/// One problem as a diagnostic.
#[derive(Debug)]
pub struct ProblemDiagnostic(pub VerifyProblem);

impl fmt::Display for ProblemDiagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.describe().message)
    }
}

impl std::error::Error for ProblemDiagnostic {}

impl Diagnostic for ProblemDiagnostic {
    fn code<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        Some(Box::new(self.0.code()))
    }
    fn severity(&self) -> Option<Severity> {
        Some(self.0.describe().severity)
    }
    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        Some(Box::new(self.0.describe().help))
    }
}

/// Every problem of one dist: one report whose `related` entries are the problems.
#[derive(Debug)]
pub struct VerifyReport {
    /// The dist as the user named it.
    pub dist: String,
    pub diagnostics: Vec<ProblemDiagnostic>,
}

impl VerifyReport {
    pub fn new(dist: String, problems: Vec<VerifyProblem>) -> VerifyReport {
        VerifyReport {
            dist,
            diagnostics: problems.into_iter().map(ProblemDiagnostic).collect(),
        }
    }

    pub fn problems(&self) -> impl Iterator<Item = &VerifyProblem> {
        self.diagnostics.iter().map(|d| &d.0)
    }

    pub fn codes(&self) -> Vec<&'static str> {
        self.problems().map(VerifyProblem::code).collect()
    }
}

impl fmt::Display for VerifyReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.diagnostics.len();
        write!(
            f,
            "dist `{}` fails verification: {n} problem{}",
            self.dist,
            if n == 1 { "" } else { "s" }
        )
    }
}

impl std::error::Error for VerifyReport {}

impl Diagnostic for VerifyReport {
    fn code<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        Some(Box::new("shenzi::verify::failed"))
    }
    fn severity(&self) -> Option<Severity> {
        Some(Severity::Error)
    }
    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        Some(Box::new(
            "a machine that has only the system policy's libraries could not run this dist as it is; each problem below names what breaks and where (for a library: the object, the need, the folders it is opened from)",
        ))
    }
    fn related<'a>(&'a self) -> Option<Box<dyn Iterator<Item = &'a dyn Diagnostic> + 'a>> {
        Some(Box::new(
            self.diagnostics.iter().map(|d| d as &dyn Diagnostic),
        ))
    }
}
