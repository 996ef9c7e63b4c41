use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Args;
use miette::{IntoDiagnostic, WrapErr};
use petgraph::graph::NodeIndex;

use crate::binary::BinaryCache;
use crate::farm::{self, FarmGraph, FarmInput, NativeProblem, Node};
use crate::loader::{Rule, SearchConfig};
use crate::manifest::read_manifest;
use crate::policy::{self, Policy};

/// Say why a native library is in the dist (every chain from a traced root to it, with
/// the search rule that picked each file), or why it is out.
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  shenzi explain shenzi.json libgfortran.so.5\n  shenzi explain shenzi.json /usr/lib/x86_64-linux-gnu/libz.so.1"
)]
pub struct ExplainArgs {
    /// The manifest `shenzi trace` wrote.
    manifest: PathBuf,
    /// A SONAME, a file name or a path.
    name: String,
    /// The system policy preset the target provides.
    #[arg(long, default_value = "glibc", value_name = "PRESET")]
    system: String,
    /// Show at most this many chains.
    #[arg(long, default_value_t = 20)]
    max_chains: usize,
}

pub fn run(args: ExplainArgs) -> miette::Result<ExitCode> {
    let manifest = read_manifest(&args.manifest).map_err(|e| *e)?;
    let Some(preset) = policy::preset(&args.system) else {
        let known: Vec<&str> = policy::PRESETS.iter().map(|p| p.name).collect();
        return Err(miette::miette!(
            code = "shenzi::explain::unknown_preset",
            help = format!("known presets: {}", known.join(", ")),
            "no system preset is named `{}`",
            args.system
        ));
    };
    let policy = Policy::from_preset(preset);
    let (config, cache_error) = SearchConfig::host();
    if let Some(e) = cache_error {
        return Err(e)
            .into_diagnostic()
            .wrap_err("cannot read `/etc/ld.so.cache`");
    }
    let cache = BinaryCache::new();
    let graph = farm::build(
        FarmInput {
            manifest: &manifest,
            shipped: None,
            policy: Some(&policy),
            config: &config,
        },
        &cache,
    );
    let (text, found) = explain(&graph, &args.name, preset.name, &policy, args.max_chains);
    print!("{text}");
    // A name found nowhere (or found in several libraries) is no answer: exit 1.
    Ok(ExitCode::from(u8::from(!found)))
}

/// The nodes whose file name or SONAME contains `name` (case-insensitively): what a user
/// types for `libscipy_openblas64_-….so` is `openblas`.
fn containing(graph: &FarmGraph, name: &str) -> Vec<NodeIndex> {
    let g = &graph.graph;
    let wanted = name.to_lowercase();
    let mut found: Vec<NodeIndex> = g
        .node_indices()
        .filter(|&i| {
            let n = &g[i];
            // The SONAME is `name()` when there is one; the file names are the aliases'.
            n.name().to_lowercase().contains(&wanted)
                || n.aliases.iter().any(|a| {
                    a.file_name()
                        .is_some_and(|f| f.to_string_lossy().to_lowercase().contains(&wanted))
                })
        })
        .collect();
    found.sort_by_key(|&i| (g[i].name(), g[i].path.clone()));
    found
}

/// The nodes `name` designates: by path, SONAME, file name or requested name; failing
/// that, by stem (`libgfortran.so.5` finds auditwheel's `libgfortran-<hash>.so.5.0.0`).
fn matches(graph: &FarmGraph, name: &str) -> Vec<NodeIndex> {
    let g = &graph.graph;
    if name.contains('/') {
        let path = Path::new(name);
        let real = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_owned());
        return g
            .node_indices()
            .filter(|&i| g[i].aliases.contains(path) || g[i].aliases.contains(&real))
            .collect();
    }
    let exact: Vec<NodeIndex> = g
        .node_indices()
        .filter(|&i| {
            let n = &g[i];
            n.info.soname.as_deref() == Some(name)
                || n.aliases
                    .iter()
                    .any(|a| a.file_name().is_some_and(|f| f == name))
                || g.edges_directed(i, petgraph::Direction::Incoming)
                    .any(|e| e.weight().name == name)
        })
        .collect();
    if !exact.is_empty() {
        return exact;
    }
    let stem = name.split(".so").next().unwrap_or(name);
    if stem.is_empty() {
        return Vec::new();
    }
    g.node_indices()
        .filter(|&i| {
            let n = g[i].name();
            n.starts_with(&format!("{stem}-")) || n.starts_with(&format!("{stem}.so"))
        })
        .collect()
}

fn rule_text(rule: &Rule, from: &Node) -> String {
    match rule {
        Rule::Rpath { owner, entry } if !from.aliases.contains(owner) => format!(
            "DT_RPATH {entry} inherited from {}",
            owner.file_name().map_or_else(
                || owner.display().to_string(),
                |f| f.to_string_lossy().into_owned()
            )
        ),
        Rule::AlreadyLoaded { path } => format!("already loaded as {}", path.display()),
        other => other.to_string(),
    }
}

/// The text `shenzi explain` prints, and whether it names what was asked (false for a
/// name found nowhere, or in several libraries by part of their names).
pub fn explain(
    graph: &FarmGraph,
    name: &str,
    preset: &str,
    policy: &Policy,
    limit: usize,
) -> (String, bool) {
    let g = &graph.graph;
    let mut out = String::new();
    let mut targets = matches(graph, name);
    if targets.is_empty() && !name.contains('/') && !name.is_empty() {
        let partial = containing(graph, name);
        match partial.as_slice() {
            [] => {}
            [one] => {
                let _ = writeln!(out, "`{name}`: the one library whose name contains it\n");
                targets.push(*one);
            }
            several => {
                let _ = writeln!(
                    out,
                    "`{name}` is part of the names of {} libraries; name one of them:",
                    several.len()
                );
                for &i in several {
                    let _ = writeln!(out, "  {}  ({})", g[i].name(), g[i].path.display());
                }
                return (out, false);
            }
        }
    }
    if targets.is_empty() {
        let wanted: Vec<&NativeProblem> = graph
            .problems
            .iter()
            .filter(|p| matches!(p, NativeProblem::MissingNeed { need, .. } | NativeProblem::UnusableNeed { need, .. } if need == name))
            .collect();
        if !wanted.is_empty() {
            let _ = writeln!(
                out,
                "{name} is missing: needed, but the loader finds no usable file."
            );
            for problem in wanted {
                match problem {
                    NativeProblem::MissingNeed {
                        object, searched, ..
                    } => {
                        let _ =
                            writeln!(out, "\nneeded by {}; searched, in order:", object.display());
                        for s in searched {
                            let _ = writeln!(out, "  {s}");
                        }
                    }
                    NativeProblem::UnusableNeed {
                        object,
                        path,
                        reason,
                        ..
                    } => {
                        let _ = writeln!(
                            out,
                            "\nneeded by {}; the search stops at {}: {reason}",
                            object.display(),
                            path.display()
                        );
                    }
                    _ => {}
                }
            }
            return (out, true);
        }
        match policy.excludes(name) {
            Some(entry) => {
                let _ = writeln!(
                    out,
                    "{name} is out: the system preset `{preset}` says the target provides it (entry `{entry}`), and no traced root reaches it."
                );
            }
            None => {
                let _ = writeln!(
                    out,
                    "{name} is out: not reached. No traced root (the interpreter, an import, a run-time load) loads it."
                );
            }
        }
        return (out, false);
    }
    for (t, &target) in targets.iter().enumerate() {
        if t > 0 {
            out.push('\n');
        }
        let node = &g[target];
        let chains = graph.chains_to(target, limit + 1);
        let more = chains.len() > limit;
        let status = match &node.system {
            Some(entry) => format!(
                "is out: the system preset `{preset}` says the target provides it (entry `{entry}`)"
            ),
            None => "is in (bundled)".to_owned(),
        };
        let _ = writeln!(out, "{} {status}", node.name());
        let _ = writeln!(out, "file: {}", node.path.display());
        let _ = writeln!(
            out,
            "reached by {}{} chain(s) from traced roots",
            chains.len().min(limit),
            if more { "+" } else { "" }
        );
        for (c, (root, edges)) in chains.iter().take(limit).enumerate() {
            let root = &graph.roots[*root];
            let _ = writeln!(out, "\nchain {}: {}", c + 1, root.label());
            match &root.rule {
                Some(rule) if *rule != Rule::Path => {
                    let _ = writeln!(out, "  {}  [{rule}]", root.path.display());
                }
                _ => {
                    let _ = writeln!(out, "  {}", root.path.display());
                }
            }
            for (depth, &e) in edges.iter().enumerate() {
                let need = &g[e];
                let Some((from, to)) = g.edge_endpoints(e) else {
                    continue;
                };
                let indent = "  ".repeat(depth + 1);
                let _ = writeln!(
                    out,
                    "{indent}└ needs {} → {}  [{}]",
                    need.name,
                    g[to].path.display(),
                    rule_text(&need.rule, &g[from])
                );
            }
        }
        if more {
            let _ = writeln!(out, "\n(more chains not shown; raise --max-chains)");
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
                let _ = writeln!(out, "\nproblem: {problem}");
            }
        }
    }
    (out, true)
}
