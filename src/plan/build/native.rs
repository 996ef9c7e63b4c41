//! The native side of the planner that the trace alone does not give: which shipped files
//! are ELF objects (each must reach its needs in the dist, loaded by the traced run or
//! not), what the build machine could not load either (shipped as it is, with a warning,
//! never a need), and where a library the app loads by path must be (where its module
//! will compute that path in the dist).
//!
//! Decisions:
//! - Every file a unit ships (not `skip`) is looked at, except Python code (`.py`,
//!   `.pyc`, `.pyi`: the interpreter reads them, the loader never does) and the objects
//!   the traced processes mapped (the graph has them already, reached the way the process
//!   reached them). The look is the 4-byte ELF magic, read in parallel; only files that
//!   have it are parsed (once, by the binary cache).
//! - An object of this machine's kind (`ET_DYN`, `ET_EXEC`) roots the farm graph: its
//!   closure is bundled and its RUNPATH made and proven like any other. Another
//!   machine's build or a damaged file is shipped as it is, with a warning whose help
//!   names the `exclude` glob that would drop it.
//! - A need the loader finds nowhere is an error only for an object the traced run
//!   mapped. For any other object the build machine could not load it either: it is
//!   shipped as it is (its other needs served), one warning per object, and the dist
//!   record lists what it lacks so that `verify` does not hold it against the dist.
//! - A library the app loads by path (`ctypes.CDLL(os.path.join(os.path.dirname(__file__),
//!   "libx.so"))`) must be in the dist at the same place relative to the shipped module
//!   that asks (its `caller`; failing that, a shipped file of the same folder or the
//!   nearest one above it, within the same `sys.path` folder). When no unit puts it
//!   there, a symlink to where its unit does is planned, and its RUNPATH is made from
//!   that folder too. A path outside every `sys.path` folder the dist reproduces cannot
//!   be served: a warning says so.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::path::{Path, PathBuf};

use petgraph::graph::NodeIndex;
use rayon::prelude::*;

use super::{Item, Output, Planner, file_name, parent, relative};
use crate::binary::format::{self, format_of_file};
use crate::binary::{Contents, Probe};
use crate::farm::{FarmGraph, NativeProblem, RootKind};
use crate::layout::{Action, Kind, Var};
use crate::manifest::{EntryKind, LoadVia, RuntimeLoad};
use crate::plan::diagnostics::{AsIsWhy, Problem};
use crate::plan::select::Inode;
use crate::plan::{AsIsObject, Content, DistLoad};

/// Run-time loads by name each caller's RUNPATH must serve, by the caller's dist path.
pub(super) type LoadsByCaller = BTreeMap<String, Vec<NamedLoad>>;

/// A run-time load by name: the name asked for and the node it must find.
pub(super) struct NamedLoad {
    pub(super) name: String,
    pub(super) node: NodeIndex,
}

/// A library loaded by path: where in the dist, and the node that must be there.
pub(super) struct PathLoad {
    pub(super) place: String,
    pub(super) node: NodeIndex,
}

/// The run-time loads by name the dist serves ([`Planner::name_loads`]).
pub(super) struct NameLoads {
    /// For the dist record: each name with its callers.
    pub(super) record: Vec<DistLoad>,
    /// For the proof: what each caller must find.
    pub(super) by_caller: LoadsByCaller,
}

/// The libraries loaded by path, as placed ([`Planner::place_path_loads`]).
pub(super) struct PathLoads {
    /// For the dist record.
    pub(super) record: Vec<DistLoad>,
    /// For the proof: each place with the node that must be found there.
    pub(super) places: Vec<PathLoad>,
}

/// The ELF objects among the shipped files, each looked at once.
pub(super) struct ShippedObjects {
    /// What the farm graph is rooted at besides the trace: the imported extension modules
    /// and every other loadable object the traced run did not map.
    pub roots: Vec<PathBuf>,
    /// Every object the traced processes mapped.
    mapped: HashSet<Inode>,
}

/// A shipped object the build machine could not load either, written as it is.
#[derive(Debug, Clone)]
pub(super) struct AsIs {
    /// The path the graph or a unit knows it by.
    path: PathBuf,
    /// To find the items that ship it.
    id: Option<Inode>,
    why: AsIsWhy,
}

/// The identity of the file at `path`, symlinks followed.
fn identity(path: &Path) -> Option<Inode> {
    std::fs::metadata(path).ok().map(|m| Inode::of(&m))
}

/// Python code: read by the interpreter, never by the loader.
fn is_python_code(path: &Path) -> bool {
    path.extension()
        .is_some_and(|e| e == "py" || e == "pyc" || e == "pyi")
}

impl Planner<'_> {
    /// The shipped files that are ELF objects: the roots of the farm graph, and the
    /// objects this machine cannot load at all (noted for [`Planner::as_is_objects`]).
    pub(super) fn shipped_objects(&mut self) -> ShippedObjects {
        let input = self.input;
        let mapped: HashSet<Inode> = input
            .manifest
            .native
            .objects
            .par_iter()
            .filter_map(|o| identity(&o.path))
            .collect();
        let shipping: Vec<&Item> = self
            .items
            .iter()
            .filter(|i| input.layout.unit(i.unit).action.value != Action::Skip)
            .collect();
        let mut roots: Vec<PathBuf> = shipping
            .iter()
            .filter(|i| self.extension_files.contains(i.source.as_path()))
            .map(|i| i.source.clone())
            .collect();
        let mut seen: HashSet<Inode> = HashSet::new();
        let candidates: Vec<&Path> = shipping
            .iter()
            .filter(|i| i.size >= 4 && !mapped.contains(&i.id) && !is_python_code(&i.source))
            .filter(|i| !self.extension_files.contains(i.source.as_path()))
            .filter(|i| seen.insert(i.id))
            .map(|i| i.source.as_path())
            .collect();
        // An unreadable file is not looked into here: copying it fails with the reason.
        let elves: Vec<PathBuf> = candidates
            .par_iter()
            .filter(|p| format_of_file(p).is_ok_and(|f| f.is_some()))
            .map(|p| p.to_path_buf())
            .collect();
        for (path, probe) in elves.iter().zip(input.cache.read_all(&elves)) {
            let Probe::File(binary) = probe else { continue };
            let why = match &binary.contents {
                Contents::Elf(info) if input.host.accepts(info) => {
                    if format::of(info).is_loadable(info) {
                        roots.push(path.clone());
                    }
                    // A relocatable object or a core file is never loaded.
                    continue;
                }
                Contents::Elf(info) => AsIsWhy::OtherMachine(info.arch_name()),
                Contents::Corrupt(reason) => AsIsWhy::Damaged(reason.clone()),
                Contents::NotElf => continue,
            };
            self.as_is.push(AsIs {
                path: path.clone(),
                id: Some(Inode {
                    dev: binary.id.dev,
                    ino: binary.id.ino,
                }),
                why,
            });
        }
        roots.sort();
        roots.dedup();
        ShippedObjects { roots, mapped }
    }

    /// The farm graph's problems, as the plan's: a need missing for an object the traced
    /// run never mapped makes that object one shipped as it is; a failed run-time load
    /// the traced run could not make either is a warning; everything else is an error.
    pub(super) fn native_problems(&mut self, graph: &FarmGraph, shipped: ShippedObjects) {
        // A path the planner already said is not a file (the interpreter's) is said once.
        let said: BTreeSet<PathBuf> = self
            .problems
            .iter()
            .filter_map(|p| match p {
                Problem::EntryFile { path, .. } => Some(path.clone()),
                _ => None,
            })
            .collect();
        let mut lacking: BTreeMap<PathBuf, Vec<String>> = BTreeMap::new();
        for problem in &graph.problems {
            match problem {
                NativeProblem::MissingRoot { path, .. }
                | NativeProblem::NotAFileRoot { path, .. }
                    if said.contains(path) => {}
                NativeProblem::MissingNeed { object, need, .. }
                | NativeProblem::UnusableNeed { object, need, .. }
                    if !identity(object).is_some_and(|id| shipped.mapped.contains(&id)) =>
                {
                    let needs = lacking.entry(object.clone()).or_default();
                    if !needs.contains(need) {
                        needs.push(need.clone());
                    }
                }
                other => self.problems.push(Problem::Native(other.clone())),
            }
        }
        for (path, needs) in lacking {
            self.as_is.push(AsIs {
                id: identity(&path),
                path,
                why: AsIsWhy::Lacks(needs),
            });
        }
    }

    /// The objects shipped as they are: one warning each, and what the dist record
    /// says of them (by the path each is written to).
    pub(super) fn as_is_objects(&mut self, real_of: &[Option<String>]) -> Vec<AsIsObject> {
        let layout = self.input.layout;
        let mut record: Vec<AsIsObject> = Vec::new();
        for object in std::mem::take(&mut self.as_is) {
            let shipping: Vec<usize> = (0..self.items.len())
                .filter(|&i| object.id.is_some_and(|id| self.items[i].id == id))
                .filter(|&i| real_of[i].is_some())
                .collect();
            // Written by no unit (skipped, or not taken): nothing to say about the dist.
            let Some(&first) = shipping.first() else {
                continue;
            };
            let item = &self.items[first];
            let unit = layout.unit(item.unit);
            // The subject the unit's globs match: the path below the unit's source
            // folder, a library's name, or the file name.
            let subject = item
                .vars
                .get(&Var::Path)
                .or_else(|| {
                    if unit.takes(Kind::Needed) || unit.takes(Kind::RuntimeLoads) {
                        item.vars.get(&Var::Name)
                    } else {
                        None
                    }
                })
                .or_else(|| item.vars.get(&Var::File))
                .cloned()
                .unwrap_or_else(|| file_name(&item.source));
            for &i in &shipping {
                if let Some(real) = &real_of[i] {
                    if record.iter().any(|r| r.path == *real) {
                        continue;
                    }
                    record.push(AsIsObject {
                        path: real.clone(),
                        missing: match &object.why {
                            AsIsWhy::Lacks(needs) => needs.clone(),
                            _ => Vec::new(),
                        },
                        unloadable: match &object.why {
                            AsIsWhy::OtherMachine(arch) => Some(format!("built for {arch}")),
                            AsIsWhy::Damaged(reason) => Some(format!("damaged: {reason}")),
                            AsIsWhy::Lacks(_) => None,
                        },
                    });
                }
            }
            self.problems.push(Problem::ShippedAsIs {
                object: object.path.clone(),
                why: object.why.clone(),
                unit: unit.name.value.clone(),
                span: unit.name.span,
                glob: subject,
            });
        }
        record.sort_by(|a, b| a.path.cmp(&b.path));
        record
    }

    /// The run-time loads by name the dist serves from its callers' RUNPATH (`ctypes`,
    /// `cffi`; a load the trace derived from the mappings is a need of the interpreter
    /// instead): for the record, and per caller for the proof.
    pub(super) fn name_loads(&self, graph: &FarmGraph, real_of: &[Option<String>]) -> NameLoads {
        let mut record: Vec<DistLoad> = Vec::new();
        let mut by_caller: LoadsByCaller = BTreeMap::new();
        for load in &self.input.manifest.native.loads {
            if load.via == LoadVia::Dlopen || load.name.contains('/') {
                continue;
            }
            let Some(node) = load.resolved.as_deref().and_then(|p| graph.node_by_path(p)) else {
                continue;
            };
            let mut callers = self.callers(load.via, graph, real_of);
            callers.sort();
            callers.dedup();
            if callers.is_empty() {
                continue;
            }
            for caller in &callers {
                let names = by_caller.entry(caller.clone()).or_default();
                if !names.iter().any(|n| n.name == load.name) {
                    names.push(NamedLoad {
                        name: load.name.clone(),
                        node,
                    });
                }
            }
            let entry = DistLoad::ByName {
                name: load.name.clone(),
                callers,
            };
            if !record.contains(&entry) {
                record.push(entry);
            }
        }
        NameLoads { record, by_caller }
    }

    /// Puts every library the app loads by path where its module will look for it in
    /// the dist (a symlink to where its unit writes it, unless a unit ships it there
    /// already). Returns the record's loads by path and, for the proof, each place with
    /// the node that must be found there.
    pub(super) fn place_path_loads(
        &mut self,
        graph: &FarmGraph,
        home: &BTreeMap<NodeIndex, String>,
        real_of: &[Option<String>],
        out: &mut Output,
    ) -> PathLoads {
        let mut record = Vec::new();
        let mut places: Vec<PathLoad> = Vec::new();
        for load in &self.input.manifest.native.loads {
            if !load.name.starts_with('/') {
                continue;
            }
            let Some(node) = load.resolved.as_deref().and_then(|p| graph.node_by_path(p)) else {
                continue;
            };
            // A library the target provides is the target's, at its own path.
            if graph.graph[node].system.is_some() {
                continue;
            }
            let Some(target) = home.get(&node) else {
                continue;
            };
            let call = RootKind::RuntimeLoad {
                name: load.name.clone(),
                via: load.via,
                caller: load.caller.clone(),
            }
            .label();
            let Some(place) = self.path_load_place(load) else {
                self.problems.push(Problem::PathLoadOutside {
                    call,
                    path: PathBuf::from(&load.name),
                    shipped: target.clone(),
                });
                continue;
            };
            if places.iter().any(|p| p.place == place) {
                continue;
            }
            match planned_file(out, &place) {
                Some(found) => {
                    let same = found == *target
                        || self
                            .items
                            .iter()
                            .zip(real_of)
                            .any(|(i, r)| i.node == Some(node) && r.as_deref() == Some(&found));
                    if !same {
                        self.problems.push(Problem::PathLoadTaken {
                            call,
                            place: place.clone(),
                            found,
                            library: graph.graph[node].path.clone(),
                        });
                        continue;
                    }
                }
                None => {
                    let unit = self
                        .items
                        .iter()
                        .find(|i| i.node == Some(node))
                        .map(|i| self.input.layout.unit(i.unit));
                    let (name, span) = unit.map_or_else(
                        || ("shenzi".to_owned(), crate::layout::Span::default()),
                        |u| (u.name.value.clone(), u.span),
                    );
                    out.link(
                        &place,
                        &name,
                        span,
                        &relative(parent(&place), target),
                        &mut self.problems,
                    );
                }
            }
            record.push(DistLoad::ByPath {
                path: place.clone(),
                caller: load.caller.clone(),
            });
            places.push(PathLoad { place, node });
        }
        PathLoads { record, places }
    }

    /// Where in the dist the app will open the path `load` names: the same place
    /// relative to a shipped file of the asking module's folder as on the build
    /// machine, within one `sys.path` folder. `None` when no shipped file anchors it.
    fn path_load_place(&self, load: &RuntimeLoad) -> Option<String> {
        let manifest = self.input.manifest;
        let asked = Path::new(&load.name);
        // The module that asks, by its file.
        let caller_file: Option<PathBuf> = match load.caller.as_deref() {
            Some("__main__")
                if matches!(
                    manifest.entry.kind,
                    EntryKind::Script | EntryKind::ConsoleScript
                ) =>
            {
                Some(PathBuf::from(&manifest.entry.target))
            }
            Some(caller) => {
                let module = match (caller, manifest.entry.kind) {
                    ("__main__", EntryKind::Module) => manifest.entry.target.as_str(),
                    _ => caller,
                };
                manifest
                    .modules
                    .iter()
                    .find(|m| m.name == module)
                    .and_then(|m| m.file.clone())
            }
            None => None,
        };
        let root_of = |file: &Path| -> Option<&Path> {
            manifest
                .python
                .sys_path
                .iter()
                .map(|e| e.path.as_path())
                .filter(|p| file.starts_with(p))
                .max_by_key(|p| p.as_os_str().len())
        };
        let shown = |i: &Item| i.dest.is_some();
        // The caller's own file first; else the shipped file nearest to the library.
        let anchor = caller_file
            .as_deref()
            .and_then(|f| self.items.iter().find(|i| shown(i) && i.source == f))
            .filter(|i| root_of(&i.source).is_some_and(|r| asked.starts_with(r)))
            .or_else(|| {
                let root = root_of(asked)?;
                self.items
                    .iter()
                    .filter(|i| shown(i) && i.source.starts_with(root))
                    .filter_map(|i| {
                        let folder = i.source.parent()?;
                        asked
                            .starts_with(folder)
                            .then_some((folder.components().count(), i))
                    })
                    .max_by_key(|(depth, _)| *depth)
                    .map(|(_, i)| i)
            })?;
        let dest = anchor.dest.as_deref()?;
        let from = anchor.source.parent()?.to_string_lossy().into_owned();
        let rel = relative(&from, &load.name);
        join_inside(parent(dest), &rel)
    }
}

/// `folder/rel` (both relative to the dist root), lexically; `None` when it leaves the
/// dist.
fn join_inside(folder: &str, rel: &str) -> Option<String> {
    let mut parts: Vec<&str> = folder.split('/').filter(|s| !s.is_empty()).collect();
    for segment in rel.split('/') {
        match segment {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            s => parts.push(s),
        }
    }
    Some(parts.join("/"))
}

/// The planned file `place` names, the plan's symlinks followed; `None` when nothing is
/// planned there.
fn planned_file(out: &Output, place: &str) -> Option<String> {
    let mut at = place.to_owned();
    for _ in 0..40 {
        match &out.entries.get(&at)?.content {
            Content::Symlink { target } => {
                let dir = parent(&at).to_owned();
                at = join_inside(&dir, target)?;
            }
            _ => return Some(at),
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::join_inside;

    #[test]
    fn joins_stay_inside_the_dist() {
        assert_eq!(
            join_inside("app", "libx.so").as_deref(),
            Some("app/libx.so")
        );
        assert_eq!(
            join_inside("site-packages/0/pkg", "../pkg.libs/libx.so").as_deref(),
            Some("site-packages/0/pkg.libs/libx.so")
        );
        assert_eq!(join_inside("app", "../../etc/libx.so"), None);
        assert_eq!(join_inside("", "libx.so").as_deref(), Some("libx.so"));
    }
}
