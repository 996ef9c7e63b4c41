//! Values a manifest cannot hold, though their JSON type is right: a Python version no
//! CPython has, a machine other than this one, a relative or empty path where the
//! tracer writes absolute ones, an entry listed twice, a run no `runs` entry names.
//! Each is a diagnostic that points at the value in the file.
//!
//! **Another machine's manifest is an error.** A manifest traced on `aarch64` names
//! `aarch64` libraries: `apply` on an `x86_64` machine would have to prove every
//! library with a loader it does not have and write a dist it cannot verify. Apply it
//! on a machine of the architecture it was traced on.

use std::collections::{BTreeSet, HashMap};
use std::fmt;
use std::path::Path;

use miette::{LabeledSpan, SourceSpan};

use super::locate::{Seg, display, locate};
use super::{EntryKind, Manifest, RunId};

/// Whether `name` can be the app's name: one file name (the launcher's).
pub fn is_app_name(name: &str) -> bool {
    !name.is_empty() && name != "." && name != ".." && !name.contains(['/', '\0'])
}

/// The oldest CPython shenzi traces (audit hooks arrived in 3.8).
const OLDEST_MINOR: u32 = 8;

/// One impossible value, pointing into the manifest.
#[derive(Debug, Clone)]
pub struct ValueProblem {
    pub code: &'static str,
    pub message: String,
    pub help: String,
    /// The value, and what to say there.
    pub at: (SourceSpan, String),
}

impl fmt::Display for ValueProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ValueProblem {}

impl miette::Diagnostic for ValueProblem {
    fn code<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        Some(Box::new(self.code))
    }

    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        Some(Box::new(&self.help))
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        let (span, text) = &self.at;
        Some(Box::new(std::iter::once(LabeledSpan::new_with_span(
            Some(text.clone()),
            *span,
        ))))
    }
}

const EDITED: &str =
    "the file was edited by hand or is damaged; trace the app again with `shenzi trace`";

struct Checker<'t> {
    text: &'t str,
    problems: Vec<ValueProblem>,
}

impl Checker<'_> {
    fn push(&mut self, code: &'static str, path: &[Seg<'_>], message: String, label: &str) {
        self.problems.push(ValueProblem {
            code,
            message,
            help: EDITED.into(),
            at: (locate(self.text, path), label.into()),
        });
    }

    /// The 1-based line of a span.
    fn line(&self, span: SourceSpan) -> usize {
        self.text
            .get(..span.offset())
            .map_or(0, |before| before.matches('\n').count())
            + 1
    }

    /// A path the tracer writes absolute: not empty, absolute, no NUL byte.
    fn path(&mut self, at: &[Seg<'_>], path: &Path) {
        let bytes = path.as_os_str().as_encoded_bytes();
        let (why, label) = if bytes.is_empty() {
            ("is empty", "an empty path")
        } else if bytes.contains(&0) {
            ("holds a NUL byte", "no file name holds one")
        } else if !path.is_absolute() {
            (
                "is not an absolute path",
                "the tracer writes absolute paths",
            )
        } else {
            return;
        };
        self.push(
            "shenzi::manifest::bad_path",
            at,
            format!("`{}` {why}", display(at)),
            label,
        );
    }

    /// Each key of the list at `list` once: a second occurrence names the first. `field`
    /// is the member that identifies an entry (`path`), pointed at.
    fn unique<K: std::hash::Hash + Eq>(
        &mut self,
        list: &[Seg<'_>],
        field: Option<&str>,
        keys: impl IntoIterator<Item = (K, String)>,
    ) {
        let mut seen: HashMap<K, usize> = HashMap::new();
        let item = |i| {
            let mut at = list.to_vec();
            at.push(Seg::Index(i));
            at.extend(field.map(Seg::Key));
            locate(self.text, &at)
        };
        for (i, (key, shown)) in keys.into_iter().enumerate() {
            if let Some(&first) = seen.get(&key) {
                let first_line = self.line(item(first));
                self.problems.push(ValueProblem {
                    code: "shenzi::manifest::duplicate",
                    message: format!("`{}` lists {shown} twice", display(list)),
                    help: EDITED.into(),
                    at: (item(i), format!("listed before, at line {first_line}")),
                });
            } else {
                seen.insert(key, i);
            }
        }
    }
}

/// Every impossible value of `manifest`, read from `text`, in the order of the file.
pub fn check(manifest: &Manifest, text: &str) -> Vec<ValueProblem> {
    let mut c = Checker {
        text,
        problems: Vec::new(),
    };
    platform(&mut c, manifest);
    version(&mut c, manifest);
    paths(&mut c, manifest);
    duplicates(&mut c, manifest);
    runs(&mut c, manifest);
    let libpython = &manifest.python.libpython;
    if libpython.shared != libpython.path.is_some() {
        c.push(
            "shenzi::manifest::inconsistent",
            &[Seg::Key("python"), Seg::Key("libpython")],
            format!(
                "`python.libpython` says `shared: {}` with {} `path`",
                libpython.shared,
                if libpython.path.is_some() { "a" } else { "no" }
            ),
            "a shared libpython has a path, a static one none",
        );
    }
    let mut problems = c.problems;
    problems.sort_by_key(|p| p.at.0.offset());
    problems
}

fn platform(c: &mut Checker<'_>, m: &Manifest) {
    if m.platform.os != "linux" {
        c.problems.push(ValueProblem {
            code: "shenzi::manifest::other_os",
            message: format!(
                "the manifest was traced on `{}`; this shenzi packages Linux applications",
                m.platform.os
            ),
            help: "trace and apply on Linux".into(),
            at: (
                locate(c.text, &[Seg::Key("platform"), Seg::Key("os")]),
                "traced here".into(),
            ),
        });
    }
    let host = std::env::consts::ARCH;
    if m.platform.machine != host {
        c.problems.push(ValueProblem {
            code: "shenzi::manifest::other_machine",
            message: format!(
                "the manifest was traced on `{}`; this machine is `{host}`",
                m.platform.machine
            ),
            help: format!(
                "apply it on a machine of that architecture (`{}`): shenzi proves every library with this machine's loader, and a dist runs only on the architecture it was traced on",
                m.platform.machine
            ),
            at: (
                locate(c.text, &[Seg::Key("platform"), Seg::Key("machine")]),
                "traced here".into(),
            ),
        });
    }
}

fn version(c: &mut Checker<'_>, m: &Manifest) {
    let v = &m.python.version;
    let at = |field| [Seg::Key("python"), Seg::Key("version"), Seg::Key(field)];
    let bad = |c: &mut Checker<'_>, field: &'static str, message: String, label: &str| {
        c.problems.push(ValueProblem {
            code: "shenzi::manifest::impossible_version",
            message,
            help: format!(
                "shenzi packages CPython 3.{OLDEST_MINOR} and later, as `shenzi trace` records it; {EDITED}"
            ),
            at: (locate(c.text, &at(field)), label.into()),
        });
    };
    let before = c.problems.len();
    if v.major != 3 {
        bad(
            c,
            "major",
            format!("Python {}.{} is not a Python 3", v.major, v.minor),
            "major version",
        );
    } else if !(OLDEST_MINOR..100).contains(&v.minor) {
        bad(
            c,
            "minor",
            format!(
                "Python 3.{} does not exist, or is too old to trace",
                v.minor
            ),
            "minor version",
        );
    }
    if v.micro > 999 {
        bad(
            c,
            "micro",
            format!("no Python has a micro version {}", v.micro),
            "micro version",
        );
    }
    if v.serial > 99 {
        bad(
            c,
            "serial",
            format!("no Python has a release serial {}", v.serial),
            "serial",
        );
    }
    if !["alpha", "beta", "candidate", "final"].contains(&v.releaselevel.as_str()) {
        bad(
            c,
            "releaselevel",
            format!(
                "`{}` is not a release level (`alpha`, `beta`, `candidate`, `final`)",
                v.releaselevel
            ),
            "release level",
        );
    }
    // CPython's cache tag is `cpython-<major><minor>`: a plausible version edited alone
    // disagrees with it.
    let expected = format!("cpython-{}{}", v.major, v.minor);
    if c.problems.len() == before
        && m.python.implementation == "cpython"
        && let Some(tag) = &m.python.cache_tag
        && *tag != expected
    {
        let tag_line = c.line(locate(c.text, &[Seg::Key("python"), Seg::Key("cache_tag")]));
        c.problems.push(ValueProblem {
            code: "shenzi::manifest::impossible_version",
            message: format!(
                "the version says Python {}.{}, but the cache tag is `{tag}`",
                v.major, v.minor
            ),
            help: EDITED.into(),
            at: (
                locate(c.text, &at("minor")),
                format!("`cache_tag` at line {tag_line} is `{tag}`, not `{expected}`"),
            ),
        });
    }
}

fn paths(c: &mut Checker<'_>, m: &Manifest) {
    let py = &m.python;
    let key = |k| [Seg::Key("python"), Seg::Key(k)];
    for (k, p) in [
        ("executable", &py.executable),
        ("realpath", &py.realpath),
        ("prefix", &py.prefix),
        ("exec_prefix", &py.exec_prefix),
        ("base_prefix", &py.base_prefix),
        ("base_exec_prefix", &py.base_exec_prefix),
        ("stdlib", &py.stdlib),
        ("platstdlib", &py.platstdlib),
    ] {
        c.path(&key(k), p);
    }
    if let Some(p) = &py.dynload {
        c.path(&key("dynload"), p);
    }
    if let Some(p) = &py.libpython.path {
        c.path(
            &[Seg::Key("python"), Seg::Key("libpython"), Seg::Key("path")],
            p,
        );
    }
    for (i, e) in py.sys_path.iter().enumerate() {
        c.path(
            &[
                Seg::Key("python"),
                Seg::Key("sys_path"),
                Seg::Index(i),
                Seg::Key("path"),
            ],
            &e.path,
        );
    }
    for (i, s) in py.site_dirs.iter().enumerate() {
        c.path(
            &[
                Seg::Key("python"),
                Seg::Key("site_dirs"),
                Seg::Index(i),
                Seg::Key("path"),
            ],
            &s.path,
        );
    }
    if matches!(m.entry.kind, EntryKind::Script | EntryKind::ConsoleScript) {
        c.path(
            &[Seg::Key("entry"), Seg::Key("target")],
            Path::new(&m.entry.target),
        );
    } else if m.entry.target.is_empty() {
        c.push(
            "shenzi::manifest::bad_value",
            &[Seg::Key("entry"), Seg::Key("target")],
            "`entry.target` is empty".into(),
            "a module name, or `-c`",
        );
    }
    if let Some(name) = &m.entry.name {
        if !is_app_name(name) {
            c.push(
                "shenzi::manifest::bad_value",
                &[Seg::Key("entry"), Seg::Key("name")],
                format!("`entry.name` `{name}` is not a file name"),
                "a launcher's file name: no `/`, not empty, `.` or `..`",
            );
        }
    }
    for (i, module) in m.modules.iter().enumerate() {
        if let Some(file) = &module.file {
            c.path(
                &[Seg::Key("modules"), Seg::Index(i), Seg::Key("file")],
                file,
            );
        }
    }
    for (i, o) in m.native.objects.iter().enumerate() {
        c.path(
            &[
                Seg::Key("native"),
                Seg::Key("objects"),
                Seg::Index(i),
                Seg::Key("path"),
            ],
            &o.path,
        );
    }
    for (i, l) in m.native.loads.iter().enumerate() {
        if let Some(p) = &l.resolved {
            c.path(
                &[
                    Seg::Key("native"),
                    Seg::Key("loads"),
                    Seg::Index(i),
                    Seg::Key("resolved"),
                ],
                p,
            );
        }
    }
    for (i, e) in m.executables.iter().enumerate() {
        if let Some(p) = &e.path {
            c.path(
                &[Seg::Key("executables"), Seg::Index(i), Seg::Key("path")],
                p,
            );
        }
    }
    for (list, files) in [("data_files", &m.data_files), ("scripts", &m.scripts)] {
        for (i, f) in files.iter().enumerate() {
            c.path(&[Seg::Key(list), Seg::Index(i), Seg::Key("path")], &f.path);
        }
    }
}

fn duplicates(c: &mut Checker<'_>, m: &Manifest) {
    let shown = |p: &Path| format!("`{}`", p.display());
    c.unique(
        &[Seg::Key("runs")],
        Some("id"),
        m.runs.iter().map(|r| (&r.id, format!("run `{}`", r.id))),
    );
    // Not `site_dirs`: a user site that is also a system one (`PYTHONUSERBASE` set to
    // the prefix) is listed twice by `site` itself.
    c.unique(
        &[Seg::Key("modules")],
        Some("name"),
        m.modules.iter().map(|md| {
            (
                (&md.name, md.kind, &md.file),
                format!("module `{}`", md.name),
            )
        }),
    );
    c.unique(
        &[Seg::Key("native"), Seg::Key("objects")],
        Some("path"),
        m.native.objects.iter().map(|o| (&o.path, shown(&o.path))),
    );
    c.unique(
        &[Seg::Key("native"), Seg::Key("loads")],
        Some("name"),
        m.native.loads.iter().map(|l| {
            (
                (&l.name, l.via, &l.resolved, &l.caller),
                format!("the load of `{}`", l.name),
            )
        }),
    );
    c.unique(
        &[Seg::Key("executables")],
        Some("name"),
        m.executables
            .iter()
            .map(|e| ((&e.name, &e.path, e.via), format!("program `{}`", e.name))),
    );
    for (list, files) in [("data_files", &m.data_files), ("scripts", &m.scripts)] {
        c.unique(
            &[Seg::Key(list)],
            Some("path"),
            files.iter().map(|f| (&f.path, shown(&f.path))),
        );
    }
}

/// Every record's `runs` names runs of the manifest.
fn runs(c: &mut Checker<'_>, m: &Manifest) {
    if m.runs.is_empty() {
        c.push(
            "shenzi::manifest::inconsistent",
            &[Seg::Key("runs")],
            "`runs` is empty: no traced run made this manifest".into(),
            "no runs",
        );
        return;
    }
    let known: BTreeSet<&str> = m.runs.iter().map(|r| r.id.as_str()).collect();
    let check = |c: &mut Checker<'_>, at: Vec<Seg<'_>>, runs: &[RunId]| {
        for (j, run) in runs.iter().enumerate() {
            if !known.contains(run.as_str()) {
                let mut at = at.clone();
                at.extend([Seg::Key("runs"), Seg::Index(j)]);
                c.push(
                    "shenzi::manifest::unknown_run",
                    &at,
                    format!(
                        "`{}` names run `{run}`, which `runs` does not list",
                        display(&at)
                    ),
                    "no such run",
                );
            }
        }
    };
    for (i, r) in m.modules.iter().enumerate() {
        check(c, vec![Seg::Key("modules"), Seg::Index(i)], &r.runs);
    }
    for (i, r) in m.native.objects.iter().enumerate() {
        check(
            c,
            vec![Seg::Key("native"), Seg::Key("objects"), Seg::Index(i)],
            &r.runs,
        );
    }
    for (i, r) in m.native.loads.iter().enumerate() {
        check(
            c,
            vec![Seg::Key("native"), Seg::Key("loads"), Seg::Index(i)],
            &r.runs,
        );
    }
    for (i, r) in m.executables.iter().enumerate() {
        check(c, vec![Seg::Key("executables"), Seg::Index(i)], &r.runs);
    }
    for (list, files) in [("data_files", &m.data_files), ("scripts", &m.scripts)] {
        for (i, f) in files.iter().enumerate() {
            check(c, vec![Seg::Key(list), Seg::Index(i)], &f.runs);
        }
    }
}
