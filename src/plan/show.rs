//! Showing a plan: as a tree with sizes, as JSON (documented in `docs/plan.md`), and the
//! farm graph as Graphviz DOT. Each returns text; the CLI prints it.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use petgraph::visit::EdgeRef;
use serde::Serialize;

use super::build::Planned;
use super::{Content, Largest, Packed, PlannedEntry, Total};

/// The version of the JSON `shenzi plan --format json` prints.
pub const PLAN_JSON_VERSION: u32 = 1;

fn size_text(bytes: u64) -> String {
    match bytes {
        b if b >= 1_000_000 => format!("{:.1} MB", b as f64 / 1e6),
        b if b >= 1_000 => format!("{:.1} kB", b as f64 / 1e3),
        b => format!("{b} B"),
    }
}

fn entry_size(entry: &PlannedEntry) -> u64 {
    match &entry.content {
        Content::Copy { size, .. } => *size,
        Content::Bytes { data, .. } => data.len() as u64,
        Content::Archive { members, .. } => members.iter().map(|m| m.size).sum(),
        _ => 0,
    }
}

/// The tree of what would be written: folders with the size of what is below them,
/// files with their size and unit, symlinks with their target; then totals.
pub fn tree(planned: &Planned, root_name: &str) -> String {
    let entries = &planned.plan.entries;
    // Total bytes below each folder.
    let mut below: BTreeMap<&str, u64> = BTreeMap::new();
    for e in entries {
        let size = entry_size(e);
        let mut at = e.dest.as_str();
        while let Some((folder, _)) = at.rsplit_once('/') {
            *below.entry(folder).or_default() += size;
            at = folder;
        }
    }
    let total: u64 = entries.iter().map(entry_size).sum();
    let mut out = format!("{root_name}/ ({})\n", size_text(total));
    let mut shown: Vec<&str> = Vec::new();
    for e in entries {
        let parts: Vec<&str> = e.dest.split('/').collect();
        // Folders not shown yet, then the entry.
        for depth in 0..parts.len() - 1 {
            let folder = parts[..=depth].join("/");
            if !shown.iter().any(|s| *s == folder) {
                let key = below
                    .get_key_value(folder.as_str())
                    .map(|(k, _)| *k)
                    .unwrap_or("");
                let _ = writeln!(
                    out,
                    "{}{}/ ({})",
                    "  ".repeat(depth + 1),
                    parts[depth],
                    size_text(below.get(folder.as_str()).copied().unwrap_or(0))
                );
                shown.push(key);
            }
        }
        let indent = "  ".repeat(parts.len());
        let name = parts[parts.len() - 1];
        let _ = match &e.content {
            Content::Dir => writeln!(out, "{indent}{name}/"),
            Content::Copy { size, edits, .. } => writeln!(
                out,
                "{indent}{name}  {}  [{}]{}",
                size_text(*size),
                e.unit,
                match edits.as_ref().and_then(|ed| ed.runpath.as_ref()) {
                    Some(rp) if rp.is_empty() => "  RUNPATH removed".to_owned(),
                    Some(rp) => format!("  RUNPATH {}", rp.join(":")),
                    None => String::new(),
                }
            ),
            Content::Symlink { target } => {
                writeln!(out, "{indent}{name} -> {target}  [{}]", e.unit)
            }
            Content::Bytes { data, .. } => writeln!(
                out,
                "{indent}{name}  {}  [{}, generated]",
                size_text(data.len() as u64),
                e.unit
            ),
            Content::Archive { members, .. } => writeln!(
                out,
                "{indent}{name}  {}  [{}, archive of {} files]",
                size_text(entry_size(e)),
                e.unit,
                members.len()
            ),
        };
    }
    let _ = writeln!(out, "\nby unit:");
    totals_text(&mut out, &planned.by_unit);
    if !planned.by_package.is_empty() {
        let _ = writeln!(out, "by top-level package:");
        totals_text(&mut out, &planned.by_package);
    }
    if !planned.by_library.is_empty() {
        let _ = writeln!(out, "by library:");
        totals_text(&mut out, &planned.by_library);
    }
    if !planned.largest.is_empty() {
        let _ = writeln!(out, "largest files:");
        for f in &planned.largest {
            let _ = writeln!(
                out,
                "  {:>10}  {}  [{}]",
                size_text(f.bytes),
                f.path,
                f.unit
            );
        }
    }
    for packed in &planned.packed {
        let _ = writeln!(
            out,
            "packed: unit `{}` into {} ({} files, {}); kept as files beside it:",
            packed.unit,
            packed.archive,
            packed.members,
            size_text(packed.bytes)
        );
        if packed.kept.is_empty() {
            let _ = writeln!(out, "  nothing");
        }
        for kept in &packed.kept {
            let _ = writeln!(out, "  {} ({} files): {}", kept.name, kept.files, kept.why);
        }
    }
    let _ = writeln!(out, "{}", planned.floor);
    out
}

#[derive(Serialize)]
struct JsonPlan<'a> {
    version: u32,
    layout: &'a str,
    files: usize,
    bytes: u64,
    entries: Vec<JsonEntry<'a>>,
    units: &'a [Total],
    packages: &'a [Total],
    libraries: &'a [Total],
    largest: &'a [Largest],
    /// Each packed unit's archive and what stays files beside it (absent: none packed).
    #[serde(skip_serializing_if = "<[Packed]>::is_empty")]
    packed: &'a [Packed],
    glibc_floor: Option<String>,
    problems: Vec<JsonProblem>,
    runs: &'a [AttributedRun],
    brought: &'a [AttributedPackage],
}

/// Which runs brought what, for the plan's JSON: the manifest's runs, and each top-level
/// package a run imported (the planner sees only what ships; the CLI knows the rest).
#[derive(Debug, Clone, Default)]
pub struct Attribution {
    pub runs: Vec<AttributedRun>,
    pub brought: Vec<AttributedPackage>,
}

#[derive(Debug, Clone, Serialize)]
pub struct AttributedRun {
    pub id: String,
    /// `ship` or `coverage`.
    pub role: &'static str,
    pub command: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct AttributedPackage {
    /// The top-level entry below its folder (`numpy`, `six.py`).
    pub name: String,
    /// The site dir or app folder it is in.
    pub folder: String,
    /// The runs that imported something of it, and their roles.
    pub runs: Vec<String>,
    pub roles: Vec<&'static str>,
    /// `coverage` (only coverage runs imported it), `excluded` (the project file
    /// excludes it), or null: the plan sees it.
    pub left_out: Option<&'static str>,
}

#[derive(Serialize)]
struct JsonEntry<'a> {
    path: &'a str,
    /// `file`, `symlink`, `generated` or `dir`.
    kind: &'static str,
    unit: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    source: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    target: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    size: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    mode: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    runpath: Option<&'a [String]>,
    /// Written without debug sections and symbol table (`strip debug`).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    strip: bool,
}

#[derive(Serialize)]
struct JsonProblem {
    code: &'static str,
    severity: &'static str,
    message: String,
}

/// One line per total: name, files, size.
fn totals_text(out: &mut String, totals: &[Total]) {
    for t in totals {
        let _ = writeln!(
            out,
            "  {:<16} {:>7} files {:>10}",
            t.name,
            t.files,
            size_text(t.bytes)
        );
    }
}

/// The plan as stable JSON (`docs/plan.md`), with the runs that brought its packages.
pub fn json(planned: &Planned, attribution: &Attribution) -> String {
    let entries: Vec<JsonEntry<'_>> = planned
        .plan
        .entries
        .iter()
        .map(|e| {
            let mut j = JsonEntry {
                path: &e.dest,
                kind: "dir",
                unit: &e.unit,
                source: None,
                target: None,
                size: None,
                mode: None,
                runpath: None,
                strip: false,
            };
            match &e.content {
                Content::Dir => {}
                Content::Copy {
                    source,
                    mode,
                    size,
                    edits,
                    strip,
                    ..
                } => {
                    j.kind = "file";
                    j.strip = *strip;
                    j.source = Some(source.display().to_string());
                    j.size = Some(*size);
                    j.mode = Some(format!("{:o}", mode & 0o777));
                    j.runpath = edits.as_ref().and_then(|ed| ed.runpath.as_deref());
                }
                Content::Symlink { target } => {
                    j.kind = "symlink";
                    j.target = Some(target);
                }
                Content::Bytes { data, mode } => {
                    j.kind = "generated";
                    j.size = Some(data.len() as u64);
                    j.mode = Some(format!("{:o}", mode & 0o777));
                }
                Content::Archive { .. } => {
                    j.kind = "archive";
                    j.size = Some(entry_size(e));
                    j.mode = Some("644".into());
                }
            }
            j
        })
        .collect();
    let plan = JsonPlan {
        version: PLAN_JSON_VERSION,
        layout: &planned.plan.record.layout,
        files: planned
            .plan
            .entries
            .iter()
            .filter(|e| {
                matches!(
                    e.content,
                    Content::Copy { .. } | Content::Bytes { .. } | Content::Archive { .. }
                )
            })
            .count(),
        bytes: planned.plan.entries.iter().map(entry_size).sum(),
        entries,
        units: &planned.by_unit,
        packages: &planned.by_package,
        libraries: &planned.by_library,
        largest: &planned.largest,
        packed: &planned.packed,
        glibc_floor: planned.floor.glibc.as_ref().map(|f| f.name.clone()),
        problems: planned
            .report
            .diagnostics
            .iter()
            .map(|d| JsonProblem {
                code: d.problem.code(),
                severity: d.problem.severity_name(),
                message: d.to_string(),
            })
            .collect(),
        runs: &attribution.runs,
        brought: &attribution.brought,
    };
    // Plain structs of strings and numbers always serialise.
    let mut text = serde_json::to_string_pretty(&plan).expect("plan serialises");
    text.push('\n');
    text
}

/// The farm graph as Graphviz DOT: binaries by name, needs as labelled edges, libraries
/// the system provides dashed, roots boxed.
pub fn dot(planned: &Planned) -> String {
    let graph = &planned.graph.graph;
    let quote = |s: &str| format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""));
    let mut out = String::from(
        "digraph farm {\n  rankdir=LR;\n  node [shape=ellipse, fontname=\"monospace\"];\n",
    );
    for i in graph.node_indices() {
        let node = &graph[i];
        let root = planned.graph.roots.iter().any(|r| r.node == i);
        let style = match (&node.system, root) {
            (Some(_), _) => ", style=dashed",
            (None, true) => ", shape=box",
            _ => "",
        };
        let _ = writeln!(
            out,
            "  n{} [label={}{style}];",
            i.index(),
            quote(&node.name())
        );
    }
    for e in graph.edge_references() {
        let _ = writeln!(
            out,
            "  n{} -> n{} [label={}];",
            e.source().index(),
            e.target().index(),
            quote(&e.weight().name)
        );
    }
    out.push_str("}\n");
    out
}
