//! `shenzi explain`: why a library, module, package or file is in the dist a layout makes
//! of a manifest, or why it is out. It plans as `plan` does (so the two agree), then says
//! which run brought the thing and which layout statement placed or dropped it.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Args;
use miette::{IntoDiagnostic, WrapErr};
use petgraph::graph::NodeIndex;
use serde::Serialize;

use crate::binary::BinaryCache;
use crate::farm::{self, FarmGraph, FarmInput, NativeProblem, Node};
use crate::layout::{Layout, Origin, Source, Span};
use crate::loader::{Rule, SearchConfig};
use crate::manifest::roles::{Brought, LeftOut, Why};
use crate::manifest::{Manifest, RunId, read_manifest};
use crate::plan::{Content, Planned};
use crate::project::Project;

/// Say why a library, module, package or file is in the dist or out of it: the plan's
/// answer for the layout, the runs that brought it, the layout statement that placed or
/// dropped it, and for a library every chain from a traced root to it.
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  shenzi explain shenzi.json libgfortran.so.5\n  shenzi explain shenzi.json openblas\n  shenzi explain shenzi.json numpy --layout minimal\n  shenzi explain shenzi.json json.decoder --format json"
)]
pub struct ExplainArgs {
    /// The manifest `shenzi trace` wrote.
    manifest: PathBuf,
    /// A library (SONAME, file name or path), a module (`json.decoder`), a top-level
    /// package (`numpy`), or a file (its path in the dist or its source path); or part of
    /// one's name.
    name: String,
    /// A `.shz` file, or a built-in layout's name.
    #[arg(long, default_value = "default", value_name = "LAYOUT")]
    layout: String,
    /// Show at most this many chains per library.
    #[arg(long, default_value_t = 20)]
    max_chains: usize,
    /// `text`, or `json`: the document of docs/plan.md.
    #[arg(long, value_enum, default_value = "text")]
    format: super::verify::Format,
    #[command(flatten)]
    project: super::roles::ProjectArg,
}

/// The version of `explain --format json`'s document.
const EXPLAIN_JSON_VERSION: u32 = 1;

/// `explain`'s answer; the JSON document of docs/plan.md.
#[derive(Debug, Serialize)]
pub struct Answer {
    version: u32,
    query: String,
    layout: String,
    /// Whether the query named something: false for a name found nowhere, or one that is
    /// part of several names (`candidates`).
    found: bool,
    /// How the query matched: `exact`, `partial` (the one thing whose name contains it),
    /// `candidates` (several), `none`.
    matched: &'static str,
    things: Vec<Thing>,
    candidates: Vec<Candidate>,
}

/// One library, module, package or file and what the plan does with it.
#[derive(Debug, Serialize)]
struct Thing {
    /// `library`, `module`, `package`, `file`.
    kind: &'static str,
    name: String,
    /// `in`, `out`, `missing` (a need no file satisfies).
    status: &'static str,
    /// Why, in words.
    why: String,
    /// The real file (a package's folder), when there is one.
    source: Option<String>,
    /// Where it goes in the dist (for a package, its folder there), sorted.
    dist: Vec<String>,
    /// The units that write it.
    units: Vec<String>,
    /// The layout statement that placed or dropped it.
    statement: Option<Statement>,
    /// The runs that brought it.
    runs: Vec<RunRef>,
    /// A library's chains from traced roots, as the plan (or, for a library the plan
    /// does not reach, the whole trace) sees them.
    chains: Vec<Chain>,
    /// More chains than shown.
    more_chains: bool,
    /// The native problems that concern it.
    problems: Vec<String>,
}

/// A span of the layout file.
#[derive(Debug, Serialize)]
struct Statement {
    /// The first line of the statement.
    text: String,
    /// 1-based; the column counts bytes from the line's start.
    line: usize,
    column: usize,
    /// Byte offsets into the layout file.
    start: usize,
    end: usize,
}

#[derive(Debug, Serialize)]
struct RunRef {
    id: RunId,
    role: &'static str,
    command: String,
}

#[derive(Debug, Serialize)]
struct Chain {
    /// What started the load (`import numpy._core._multiarray_umath`).
    root: String,
    path: String,
    steps: Vec<ChainStep>,
}

#[derive(Debug, Serialize)]
struct ChainStep {
    need: String,
    path: String,
    rule: String,
}

#[derive(Debug, Serialize, PartialEq, Eq)]
struct Candidate {
    kind: &'static str,
    name: String,
}

/// What `explain` looks at.
struct Inputs<'a> {
    /// The manifest as traced (with what only coverage runs brought).
    traced: &'a Manifest,
    source: &'a Source,
    layout: &'a Layout,
    planned: &'a Planned,
    /// The whole trace's graph, with the layout's system policy.
    full: &'a FarmGraph,
    left_out: &'a [LeftOut],
    brought: &'a [Brought],
}

pub fn run(args: ExplainArgs) -> miette::Result<ExitCode> {
    let traced = read_manifest(&args.manifest).map_err(|e| *e)?;
    let project = Project::open_with(&args.layout, &args.manifest, &args.project.selection()?)?;
    let checked = project.check();
    let layout = match checked.layout {
        Some(layout) if checked.report.errors() == 0 => layout,
        _ => {
            eprintln!("{:?}", miette::Report::new(checked.report));
            return Ok(ExitCode::from(1));
        }
    };
    let planned = match project.plan() {
        Ok(p) => p.planned,
        Err(report) => {
            eprintln!("{:?}", miette::Report::new(report));
            return Ok(ExitCode::from(1));
        }
    };
    let policy = crate::plan::policy_of(&layout);
    let (config, cache_error) = SearchConfig::host();
    if let Some(e) = cache_error {
        return Err(e)
            .into_diagnostic()
            .wrap_err("cannot read `/etc/ld.so.cache`");
    }
    let cache = BinaryCache::new();
    let full = farm::build(
        FarmInput {
            manifest: &traced,
            shipped: None,
            policy: Some(&policy),
            config: &config,
        },
        &cache,
    );
    let answer = explain(
        &Inputs {
            traced: &traced,
            source: &project.source,
            layout: &layout,
            planned: &planned,
            full: &full,
            left_out: &project.left_out,
            brought: &project.brought,
        },
        &args.name,
        args.max_chains,
    );
    match args.format {
        super::verify::Format::Text => print!("{}", text(&answer)),
        super::verify::Format::Json => {
            // Plain structs of strings and numbers always serialise.
            let mut doc = serde_json::to_string_pretty(&answer).expect("answer serialises");
            doc.push('\n');
            print!("{doc}");
        }
    }
    Ok(ExitCode::from(u8::from(!answer.found)))
}

/// What one query designates, before it is explained.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Target {
    /// A library, by its node's path: a node of the plan's graph, of the whole trace's,
    /// or of both.
    Library(PathBuf),
    /// An index into the traced manifest's modules.
    Module(usize),
    /// An index into `brought`.
    Package(usize),
    /// A plan entry's destination.
    File(String),
    /// A source path the plan does not write.
    Path(PathBuf),
}

fn explain(inputs: &Inputs<'_>, name: &str, limit: usize) -> Answer {
    let mut answer = Answer {
        version: EXPLAIN_JSON_VERSION,
        query: name.to_owned(),
        layout: inputs.source.name.clone(),
        found: true,
        matched: "exact",
        things: Vec::new(),
        candidates: Vec::new(),
    };
    let mut targets = exact(inputs, name);
    if targets.is_empty() && !name.contains('/') && !name.is_empty() {
        let partial = containing(inputs, name);
        match partial.len() {
            0 => {}
            1 => {
                answer.matched = "partial";
                targets = partial;
            }
            _ => {
                answer.matched = "candidates";
                answer.found = false;
                let mut candidates: Vec<Candidate> =
                    partial.iter().map(|t| candidate(inputs, t)).collect();
                candidates.sort_by_key(|c| {
                    let rank = ["library", "module", "package", "file"]
                        .iter()
                        .position(|k| *k == c.kind);
                    (rank, c.name.clone())
                });
                candidates.dedup();
                answer.candidates = candidates;
                return answer;
            }
        }
    }
    if targets.is_empty() {
        answer.matched = "none";
        if let Some(missing) = missing(inputs, name) {
            answer.things.push(missing);
        } else {
            answer.found = false;
            answer.things.push(not_found(inputs, name));
        }
        return answer;
    }
    for target in &targets {
        answer.things.push(thing(inputs, target, limit));
    }
    answer
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map_or_else(String::new, |f| f.to_string_lossy().into_owned())
}

/// The plan's copies: (destination, unit, source).
fn copies(planned: &Planned) -> impl Iterator<Item = (&str, &str, &Path)> {
    planned
        .plan
        .entries
        .iter()
        .filter_map(|e| match &e.content {
            Content::Copy { source, .. } => {
                Some((e.dest.as_str(), e.unit.as_str(), source.as_path()))
            }
            _ => None,
        })
}

/// Sources that are a library's or a module's: a file query does not list them twice.
fn owned_sources(inputs: &Inputs<'_>) -> BTreeSet<PathBuf> {
    let mut owned: BTreeSet<PathBuf> = libraries(inputs)
        .iter()
        .flat_map(|n| n.aliases.iter().cloned())
        .collect();
    owned.extend(inputs.traced.modules.iter().filter_map(|m| m.file.clone()));
    owned
}

/// Every library of the plan's graph and of the whole trace's, once, with its node.
fn libraries<'a>(inputs: &Inputs<'a>) -> Vec<&'a Node> {
    let mut seen: BTreeSet<&Path> = BTreeSet::new();
    let mut nodes = Vec::new();
    for graph in [&inputs.planned.graph, inputs.full] {
        for i in graph.graph.node_indices() {
            let node = &graph.graph[i];
            if node.aliases.iter().any(|a| seen.contains(a.as_path())) {
                continue;
            }
            seen.extend(node.aliases.iter().map(PathBuf::as_path));
            nodes.push(node);
        }
    }
    nodes
}

/// The node at `path` in `graph`.
fn node_at(graph: &FarmGraph, path: &Path) -> Option<NodeIndex> {
    graph
        .graph
        .node_indices()
        .find(|&i| graph.graph[i].aliases.contains(path))
}

/// The import name of a top-level entry (`six.py` → `six`).
fn import_name(top: &str) -> &str {
    top.split('.').next().unwrap_or(top)
}

/// Everything `name` names exactly: a library by path, SONAME, file name or requested
/// name (failing that, by stem: `libgfortran.so.5` finds auditwheel's
/// `libgfortran-<hash>.so.5.0.0`), a module, a top-level package, a file of the plan by
/// its destination or source.
fn exact(inputs: &Inputs<'_>, name: &str) -> Vec<Target> {
    let libraries = libraries(inputs);
    let full = &inputs.full.graph;
    let planned = &inputs.planned.graph.graph;
    let mut found = Vec::new();
    if name.contains('/') {
        let path = Path::new(name);
        let real = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_owned());
        found.extend(
            libraries
                .iter()
                .filter(|n| n.aliases.contains(path) || n.aliases.contains(&real))
                .map(|n| Target::Library(n.path.clone())),
        );
        if found.is_empty() {
            let mut files: Vec<String> = copies(inputs.planned)
                .filter(|(dest, _, source)| {
                    *dest == name
                        || dest.ends_with(&format!("/{}", name.trim_start_matches('/')))
                        || *source == path
                        || *source == real
                })
                .map(|(dest, _, _)| dest.to_owned())
                .collect();
            files.dedup();
            found.extend(files.into_iter().map(Target::File));
        }
        // A traced file the plan does not write (a file found nowhere is no answer).
        if found.is_empty() && !runs_of_path(inputs, &[&real]).is_empty() {
            found.push(Target::Path(real));
        }
        return found;
    }
    // Asked for by that name: the name of an edge into it, in either graph.
    let requested = |g: &petgraph::graph::DiGraph<Node, farm::Need>, n: &Node| {
        g.node_indices()
            .filter(|&i| g[i].aliases.contains(&n.path))
            .any(|i| {
                g.edges_directed(i, petgraph::Direction::Incoming)
                    .any(|e| e.weight().name == name)
            })
    };
    found.extend(
        libraries
            .iter()
            .filter(|n| {
                n.info.soname.as_deref() == Some(name)
                    || n.aliases
                        .iter()
                        .any(|a| a.file_name().is_some_and(|f| f == name))
                    || requested(full, n)
                    || requested(planned, n)
            })
            .map(|n| Target::Library(n.path.clone())),
    );
    found.extend(
        inputs
            .traced
            .modules
            .iter()
            .enumerate()
            .filter(|(_, m)| m.name == name)
            .map(|(i, _)| Target::Module(i)),
    );
    found.extend(
        inputs
            .brought
            .iter()
            .enumerate()
            // A package named like a module of it (`numpy`) is both: listed once each.
            .filter(|(_, b)| b.top == name || import_name(&b.top) == name)
            .map(|(i, _)| Target::Package(i)),
    );
    if found.is_empty() {
        let owned = owned_sources(inputs);
        let mut files: Vec<String> = copies(inputs.planned)
            .filter(|(dest, _, source)| {
                (dest.rsplit('/').next() == Some(name)) && !owned.contains(*source)
            })
            .map(|(dest, _, _)| dest.to_owned())
            .collect();
        files.dedup();
        found.extend(files.into_iter().map(Target::File));
    }
    if found.is_empty() {
        let stem = name.split(".so").next().unwrap_or(name);
        if !stem.is_empty() && name.contains(".so") {
            found.extend(
                libraries
                    .iter()
                    .filter(|n| {
                        let n = n.name();
                        n.starts_with(&format!("{stem}-")) || n.starts_with(&format!("{stem}.so"))
                    })
                    .map(|n| Target::Library(n.path.clone())),
            );
        }
    }
    found
}

/// Everything whose name contains `name`, case-insensitively: what a user types for
/// `libscipy_openblas64_-….so` is `openblas`.
fn containing(inputs: &Inputs<'_>, name: &str) -> Vec<Target> {
    let wanted = name.to_lowercase();
    let has = |s: &str| s.to_lowercase().contains(&wanted);
    let mut found: Vec<Target> = libraries(inputs)
        .iter()
        .filter(|n| has(&n.name()) || n.aliases.iter().any(|a| has(&file_name(a))))
        .map(|n| Target::Library(n.path.clone()))
        .collect();
    found.extend(
        inputs
            .traced
            .modules
            .iter()
            .enumerate()
            .filter(|(_, m)| has(&m.name))
            .map(|(i, _)| Target::Module(i)),
    );
    found.extend(
        inputs
            .brought
            .iter()
            .enumerate()
            .filter(|(_, b)| has(&b.top))
            .map(|(i, _)| Target::Package(i)),
    );
    // A package's own module of the same name is the package: counted once.
    let packages: BTreeSet<&str> = inputs
        .brought
        .iter()
        .filter(|b| has(&b.top))
        .map(|b| import_name(&b.top))
        .collect();
    found.retain(|t| match t {
        Target::Module(i) => !packages.contains(inputs.traced.modules[*i].name.as_str()),
        _ => true,
    });
    if !found.is_empty() {
        // Files only when nothing with a name of its own matches: a module's bytecode
        // and a package's files are theirs.
        return found;
    }
    let owned = owned_sources(inputs);
    let mut files: Vec<String> = copies(inputs.planned)
        .filter(|(dest, _, source)| {
            has(dest.rsplit('/').next().unwrap_or(dest)) && !owned.contains(*source)
        })
        .map(|(dest, _, _)| dest.to_owned())
        .collect();
    files.dedup();
    found.extend(files.into_iter().map(Target::File));
    found
}

fn candidate(inputs: &Inputs<'_>, target: &Target) -> Candidate {
    match target {
        Target::Library(path) => {
            let name = libraries(inputs)
                .iter()
                .find(|n| &n.path == path)
                .map_or_else(|| file_name(path), |n| n.name());
            Candidate {
                kind: "library",
                name: format!("{name}  ({})", path.display()),
            }
        }
        Target::Module(i) => Candidate {
            kind: "module",
            name: inputs.traced.modules[*i].name.clone(),
        },
        Target::Package(i) => Candidate {
            kind: "package",
            name: import_name(&inputs.brought[*i].top).to_owned(),
        },
        Target::File(dest) => Candidate {
            kind: "file",
            name: dest.clone(),
        },
        Target::Path(path) => Candidate {
            kind: "file",
            name: path.display().to_string(),
        },
    }
}

/// The layout text at `span`: its first line, and where it is.
fn statement(source: &Source, span: Span) -> Statement {
    let text = &source.text;
    let start = span.start.min(text.len());
    let before = &text.as_bytes()[..start];
    let line_start = before
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |p| p + 1);
    let end = span.end.clamp(start, text.len());
    let first = text
        .get(start..end)
        .unwrap_or_default()
        .lines()
        .next()
        .unwrap_or_default();
    Statement {
        text: first.trim_end().to_owned(),
        line: before.iter().filter(|&&b| b == b'\n').count() + 1,
        column: start - line_start + 1,
        start,
        end,
    }
}

fn unit_statement(inputs: &Inputs<'_>, unit: &str) -> Option<Statement> {
    let id = inputs.layout.unit_named(unit)?;
    Some(statement(inputs.source, inputs.layout.unit(id).span))
}

fn runs_of(inputs: &Inputs<'_>, ids: &[RunId]) -> Vec<RunRef> {
    let mut ids: Vec<&RunId> = ids.iter().collect();
    ids.sort();
    ids.dedup();
    ids.into_iter()
        .map(|id| {
            let run = inputs.traced.runs.iter().find(|r| &r.id == id);
            RunRef {
                id: id.clone(),
                role: run.map_or("ship", |r| r.role.name()),
                command: run.map_or_else(String::new, |r| r.command.join(" ")),
            }
        })
        .collect()
}

/// The runs that recorded `path`: as a module's file, a mapped object or a data file.
fn runs_of_path(inputs: &Inputs<'_>, paths: &[&Path]) -> Vec<RunId> {
    let m = inputs.traced;
    let mut runs: Vec<RunId> = Vec::new();
    for path in paths {
        for module in m.modules.iter().filter(|x| x.file.as_deref() == Some(path)) {
            runs.extend(module.runs.iter().cloned());
        }
        for object in m.native.objects.iter().filter(|o| o.path == *path) {
            runs.extend(object.runs.iter().cloned());
        }
        for data in m.data_files.iter().filter(|d| d.path == *path) {
            runs.extend(data.runs.iter().cloned());
        }
    }
    runs
}

/// Why a file the plan does not write is out, and the statement that says so: the
/// project's selection (coverage-only packages), the layout's `ignore`, a unit's
/// `exclude`.
fn dropped(inputs: &Inputs<'_>, path: &Path) -> (String, Option<Statement>) {
    if let Some(l) = inputs
        .left_out
        .iter()
        .find(|l| path.starts_with(l.folder.join(&l.top)))
    {
        let why = match &l.why {
            Why::CoverageOnly(runs) => format!(
                "only coverage runs ({}) imported `{}`, and a coverage run's own packages are not shipped; name it in `include` of shenzi.toml's `[modules]` to ship it",
                runs_of(inputs, runs)
                    .iter()
                    .map(|r| format!("`{}`", r.command))
                    .collect::<Vec<_>>()
                    .join(", "),
                import_name(&l.top)
            ),
            Why::Excluded => format!(
                "shenzi.toml's `[modules]` excludes `{}`",
                import_name(&l.top)
            ),
        };
        return (why, None);
    }
    let shown = path.to_string_lossy();
    if let Some(pattern) = inputs.layout.ignore.first_match(&shown) {
        return (
            format!(
                "the layout's `ignore \"{}\"` says it needs no unit",
                pattern.value
            ),
            Some(statement(inputs.source, pattern.span)),
        );
    }
    // A unit's `exclude` matches the file's path below the folder the unit walks: try
    // each tail of the path.
    let parts: Vec<String> = path
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    for unit in &inputs.layout.units {
        for from in (1..parts.len()).rev() {
            let tail = parts[from..].join("/");
            if let Some(pattern) = unit.exclude.first_match(&tail) {
                return (
                    format!(
                        "unit `{}` excludes it (`exclude \"{}\"` matches `{tail}`)",
                        unit.name.value, pattern.value
                    ),
                    Some(statement(inputs.source, pattern.span)),
                );
            }
        }
    }
    (
        "the plan writes no file of it: no unit of the layout takes it (or the unit that takes it skips it)".to_owned(),
        None,
    )
}

/// The plan's destinations and units of `sources`.
fn placed(inputs: &Inputs<'_>, sources: &dyn Fn(&Path) -> bool) -> (Vec<String>, Vec<String>) {
    let mut dist = Vec::new();
    let mut units = Vec::new();
    for (dest, unit, source) in copies(inputs.planned) {
        if sources(source) {
            dist.push(dest.to_owned());
            if !units.iter().any(|u| u == unit) {
                units.push(unit.to_owned());
            }
        }
    }
    dist.sort();
    (dist, units)
}

fn empty(kind: &'static str, name: String) -> Thing {
    Thing {
        kind,
        name,
        status: "out",
        why: String::new(),
        source: None,
        dist: Vec::new(),
        units: Vec::new(),
        statement: None,
        runs: Vec::new(),
        chains: Vec::new(),
        more_chains: false,
        problems: Vec::new(),
    }
}

fn thing(inputs: &Inputs<'_>, target: &Target, limit: usize) -> Thing {
    match target {
        Target::Library(path) => library(inputs, path, limit),
        Target::Module(i) => {
            let module = &inputs.traced.modules[*i];
            let mut t = empty("module", module.name.clone());
            t.runs = runs_of(inputs, &module.runs);
            let Some(file) = &module.file else {
                t.status = "in";
                t.why = format!(
                    "a {} module: nothing of its own to copy",
                    serde_json::to_value(module.kind)
                        .ok()
                        .and_then(|v| v.as_str().map(str::to_owned))
                        .unwrap_or_default()
                );
                return t;
            };
            t.source = Some(file.display().to_string());
            // Its source, or its bytecode in `__pycache__` (`name.cpython-311.pyc`).
            let stem = file
                .file_stem()
                .map(|s| format!("{}.", s.to_string_lossy()));
            let cache = file.parent().map(|p| p.join("__pycache__"));
            let (dist, units) = placed(inputs, &|s: &Path| {
                s == file
                    || (s.parent() == cache.as_deref()
                        && stem
                            .as_deref()
                            .is_some_and(|stem| file_name(s).starts_with(stem)))
            });
            settle(inputs, &mut t, dist, units, file);
            t
        }
        Target::Package(i) => {
            let b = &inputs.brought[*i];
            let root = b.folder.join(&b.top);
            let mut t = empty("package", import_name(&b.top).to_owned());
            t.runs = runs_of(inputs, &b.runs);
            t.source = Some(root.display().to_string());
            let (dist, units) = placed(inputs, &|s: &Path| s.starts_with(&root));
            // A package's place in the dist is its folder there: the destination of a
            // file less the file's path below the package.
            let folders: BTreeSet<String> = copies(inputs.planned)
                .filter(|(_, _, s)| s.starts_with(&root))
                .filter_map(|(dest, _, s)| {
                    let below = s.strip_prefix(&root).ok()?.to_string_lossy().into_owned();
                    if below.is_empty() {
                        return Some(dest.to_owned());
                    }
                    dest.strip_suffix(&format!("/{below}")).map(str::to_owned)
                })
                .collect();
            let files = dist.len();
            settle(inputs, &mut t, folders.into_iter().collect(), units, &root);
            if t.status == "in" {
                t.why = format!("{files} file(s) in the dist");
            }
            t
        }
        Target::File(dest) => {
            let mut t = empty("file", dest.clone());
            if let Some((_, unit, source)) = copies(inputs.planned).find(|(d, _, _)| d == dest) {
                t.status = "in";
                t.why = format!("written by unit `{unit}`");
                t.source = Some(source.display().to_string());
                t.units = vec![unit.to_owned()];
                t.statement = unit_statement(inputs, unit);
                t.runs = runs_of(inputs, &runs_of_path(inputs, &[source]));
            }
            t.dist = vec![dest.clone()];
            t
        }
        Target::Path(path) => {
            let mut t = empty("file", path.display().to_string());
            t.source = Some(path.display().to_string());
            t.runs = runs_of(inputs, &runs_of_path(inputs, &[path]));
            let (dist, units) = placed(inputs, &|s: &Path| s == path);
            settle(inputs, &mut t, dist, units, path);
            t
        }
    }
}

/// In when the plan writes something of it (the first unit's statement), else out with
/// the reason [`dropped`] finds.
fn settle(inputs: &Inputs<'_>, t: &mut Thing, dist: Vec<String>, units: Vec<String>, path: &Path) {
    if dist.is_empty() {
        t.status = "out";
        let (why, statement) = dropped(inputs, path);
        t.why = why;
        t.statement = statement;
    } else {
        t.status = "in";
        t.why = format!("written by unit `{}`", units.join("`, `"));
        t.statement = units.first().and_then(|u| unit_statement(inputs, u));
        t.dist = dist;
        t.units = units;
    }
}

fn rule_text(rule: &Rule, from: &Node) -> String {
    match rule {
        Rule::Rpath { owner, entry } if !from.aliases.contains(owner) => {
            format!("DT_RPATH {entry} inherited from {}", file_name(owner))
        }
        Rule::AlreadyLoaded { path } => format!("already loaded as {}", path.display()),
        other => other.to_string(),
    }
}

fn chains(graph: &FarmGraph, target: NodeIndex, limit: usize) -> (Vec<Chain>, bool) {
    let g = &graph.graph;
    let found = graph.chains_to(target, limit + 1);
    let more = found.len() > limit;
    let chains = found
        .iter()
        .take(limit)
        .map(|(root, edges)| {
            let root = &graph.roots[*root];
            let path = match &root.rule {
                Some(rule) if *rule != Rule::Path => {
                    format!("{}  [{rule}]", root.path.display())
                }
                _ => root.path.display().to_string(),
            };
            Chain {
                root: root.label(),
                path,
                steps: edges
                    .iter()
                    .filter_map(|&e| {
                        let (from, to) = g.edge_endpoints(e)?;
                        Some(ChainStep {
                            need: g[e].name.clone(),
                            path: g[to].path.display().to_string(),
                            rule: rule_text(&g[e].rule, &g[from]),
                        })
                    })
                    .collect(),
            }
        })
        .collect();
    (chains, more)
}

/// The layout's `preset NAME`.
fn preset_statement(inputs: &Inputs<'_>, preset: &str) -> Option<Statement> {
    let p = inputs
        .layout
        .system
        .presets
        .iter()
        .find(|p| p.value == preset)?;
    let mut s = statement(inputs.source, p.span);
    s.text = format!("preset {preset}");
    Some(s)
}

/// Why the target provides a library, and the layout statement that says so.
fn provided(inputs: &Inputs<'_>, node: &Node, entry: &str) -> (String, Option<Statement>) {
    let system = &inputs.layout.system;
    let origin = system
        .provided
        .iter()
        .find(|e| e.pattern == entry)
        .map(|e| &e.origin);
    match origin {
        Some(&Origin::Preset(preset)) => (
            format!("the system preset `{preset}` says the target provides it (entry `{entry}`)"),
            preset_statement(inputs, preset),
        ),
        Some(&Origin::Written(span)) => (
            format!("the layout's `system` says the target provides it (entry `{entry}`)"),
            Some(statement(inputs.source, span)),
        ),
        Some(&Origin::Cxx(span)) => (
            format!(
                "`cxx-runtime system` says the target provides the C++ runtime (entry `{entry}`)"
            ),
            Some(statement(inputs.source, span)),
        ),
        None => (
            format!(
                "the layout's system policy says the target provides {} (entry `{entry}`)",
                node.name()
            ),
            None,
        ),
    }
}

fn library(inputs: &Inputs<'_>, path: &Path, limit: usize) -> Thing {
    let full = inputs.full;
    let planned = node_at(&inputs.planned.graph, path);
    // The plan's chains when the plan reaches it; the whole trace's when only roots the
    // plan leaves out do.
    let (graph, at) = match (planned, node_at(full, path)) {
        (Some(i), _) => (&inputs.planned.graph, i),
        (None, Some(i)) => (full, i),
        // Targets are made from the graphs' nodes: not reached.
        (None, None) => return not_found(inputs, &file_name(path)),
    };
    let node = &graph.graph[at];
    let mut t = empty("library", node.name());
    t.source = Some(node.path.display().to_string());
    (t.chains, t.more_chains) = chains(graph, at, limit);
    let aliases: Vec<&Path> = node.aliases.iter().map(PathBuf::as_path).collect();
    let mut runs = runs_of_path(inputs, &aliases);
    if runs.is_empty() {
        // Needed, not mapped by name: the runs of the roots that reach it.
        let roots: Vec<&Path> = graph
            .chains_to(at, limit + 1)
            .iter()
            .map(|(root, _)| graph.roots[*root].path.as_path())
            .collect();
        runs = runs_of_path(inputs, &roots);
    }
    t.runs = runs_of(inputs, &runs);
    if let Some(entry) = &graph.graph[at].system {
        t.status = "out";
        (t.why, t.statement) = provided(inputs, node, entry);
    } else if planned.is_some() {
        let (dist, units) = placed(inputs, &|s: &Path| node.aliases.contains(s));
        if dist.is_empty() {
            t.status = "out";
            (t.why, t.statement) = dropped(inputs, &node.path);
        } else {
            t.status = "in";
            t.why = "bundled".to_owned();
            t.statement = units.first().and_then(|u| unit_statement(inputs, u));
            t.dist = dist;
            t.units = units;
        }
    } else {
        t.status = "out";
        let (why, statement) = dropped(inputs, &node.path);
        t.why = format!(
            "no root the plan ships reaches it (the chains below start at what the plan leaves out); {why}"
        );
        t.statement = statement;
    }
    for problem in &graph.problems {
        let concerns = match problem {
            NativeProblem::SonameClash { paths, .. } => {
                paths.iter().any(|p| node.aliases.contains(p))
            }
            NativeProblem::MissingNeed { object, .. }
            | NativeProblem::UnusableNeed { object, .. } => node.aliases.contains(object),
            _ => false,
        };
        if concerns {
            t.problems.push(problem.to_string());
        }
    }
    t
}

/// A need no file satisfies: who needs it and where the loader looked.
fn missing(inputs: &Inputs<'_>, name: &str) -> Option<Thing> {
    let mut t = empty("library", name.to_owned());
    t.status = "missing";
    t.why = "needed, but the loader finds no usable file".to_owned();
    for problem in &inputs.full.problems {
        match problem {
            NativeProblem::MissingNeed {
                object,
                searched,
                need,
                ..
            } if need == name => {
                let mut text = format!("needed by {}; searched, in order:", object.display());
                for s in searched {
                    let _ = write!(text, "\n  {s}");
                }
                t.problems.push(text);
            }
            NativeProblem::UnusableNeed {
                object,
                path,
                reason,
                need,
                ..
            } if need == name => t.problems.push(format!(
                "needed by {}; the search stops at {}: {reason}",
                object.display(),
                path.display()
            )),
            _ => {}
        }
    }
    (!t.problems.is_empty()).then_some(t)
}

fn not_found(inputs: &Inputs<'_>, name: &str) -> Thing {
    let mut t = empty("library", name.to_owned());
    match inputs.layout.system.provided_by(name) {
        Some(entry) => {
            let node_name = name.to_owned();
            let (why, statement) = match entry.origin {
                Origin::Preset(preset) => (
                    format!(
                        "the system preset `{preset}` says the target provides it (entry `{}`), and no traced root reaches it",
                        entry.pattern
                    ),
                    preset_statement(inputs, preset),
                ),
                Origin::Written(span) | Origin::Cxx(span) => (
                    format!(
                        "the layout's `system` says the target provides {node_name} (entry `{}`), and no traced root reaches it",
                        entry.pattern
                    ),
                    Some(statement(inputs.source, span)),
                ),
            };
            t.why = why;
            t.statement = statement;
        }
        None => {
            t.kind = "name";
            t.why = "not reached. No traced root (the interpreter, an import, a run-time load) loads it, and no module, package or file of the plan has that name".to_owned();
        }
    }
    t
}

/// How many candidates the text lists.
const CANDIDATES_SHOWN: usize = 40;

/// The text `shenzi explain` prints.
fn text(answer: &Answer) -> String {
    let mut out = String::new();
    let layout = &answer.layout;
    let q = &answer.query;
    if answer.matched == "candidates" {
        let _ = writeln!(
            out,
            "`{q}` is part of the names of {} things; name one of them:",
            answer.candidates.len()
        );
        for c in answer.candidates.iter().take(CANDIDATES_SHOWN) {
            let _ = writeln!(out, "  {:<7}  {}", c.kind, c.name);
        }
        if answer.candidates.len() > CANDIDATES_SHOWN {
            let _ = writeln!(
                out,
                "  … and {} more (`--format json` lists them all)",
                answer.candidates.len() - CANDIDATES_SHOWN
            );
        }
        return out;
    }
    if answer.matched == "partial" {
        if let Some(t) = answer.things.first() {
            let _ = writeln!(out, "`{q}`: the one {} whose name contains it\n", t.kind);
        }
    }
    for (n, t) in answer.things.iter().enumerate() {
        if n > 0 {
            out.push('\n');
        }
        let what = if t.kind == "library" || t.kind == "name" {
            String::new()
        } else {
            format!(" ({})", t.kind)
        };
        match t.status {
            "in" if t.kind == "library" => {
                let _ = writeln!(out, "{} is in (bundled)", t.name);
            }
            "in" => {
                let _ = writeln!(out, "{}{what} is in: {}", t.name, t.why);
            }
            "missing" => {
                let _ = writeln!(out, "{} is missing: {}.", t.name, t.why);
            }
            _ => {
                let _ = writeln!(out, "{}{what} is out: {}.", t.name, t.why);
            }
        }
        if t.status == "missing" {
            for p in &t.problems {
                let _ = writeln!(out, "\n{p}");
            }
            continue;
        }
        if let Some(source) = &t.source {
            let _ = writeln!(out, "file: {source}");
        }
        for d in t.dist.iter().take(5) {
            let _ = writeln!(out, "in the dist: {d}");
        }
        if t.dist.len() > 5 {
            let _ = writeln!(out, "in the dist: … and {} more", t.dist.len() - 5);
        }
        if let Some(s) = &t.statement {
            let verb = if t.status == "in" {
                "placed by"
            } else {
                "decided by"
            };
            let _ = writeln!(
                out,
                "{verb}: `{}`  ({layout}:{}:{})",
                s.text, s.line, s.column
            );
        }
        for r in &t.runs {
            let _ = writeln!(out, "brought by: {} run {}: {}", r.role, r.id, r.command);
        }
        if t.kind != "library" {
            continue;
        }
        let _ = writeln!(
            out,
            "reached by {}{} chain(s) from traced roots",
            t.chains.len(),
            if t.more_chains { "+" } else { "" }
        );
        for (c, chain) in t.chains.iter().enumerate() {
            let _ = writeln!(out, "\nchain {}: {}", c + 1, chain.root);
            let _ = writeln!(out, "  {}", chain.path);
            for (depth, step) in chain.steps.iter().enumerate() {
                let indent = "  ".repeat(depth + 1);
                let _ = writeln!(
                    out,
                    "{indent}└ needs {} → {}  [{}]",
                    step.need, step.path, step.rule
                );
            }
        }
        if t.more_chains {
            let _ = writeln!(out, "\n(more chains not shown; raise --max-chains)");
        }
        for p in &t.problems {
            let _ = writeln!(out, "\nproblem: {p}");
        }
    }
    out
}
