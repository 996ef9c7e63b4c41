//! The farm graph: every native object an application loads, by content, with the needs
//! between them as the loader resolves them.
//!
//! Nodes are binaries by content identity (two paths with the same bytes are one node
//! with both paths kept as aliases); edges are needs, labelled with the name asked and
//! the search rule that found the file. Roots are what the trace saw start a load: the
//! interpreter, the extension modules of the selected units, run-time loads (`ctypes`,
//! `cffi`), and mapped objects nothing else explains; and every other ELF object the
//! dist ships, which the traced run never loaded (a library kept inside a package, a
//! helper program under `<pkg>/data/bin`): it must reach its needs in the dist all the
//! same. Cycles are allowed.
//!
//! Each root's closure is resolved as the loader would, in a process holding the
//! interpreter and what it loads at start-up (a shipped program: in a process of its
//! own), so a library is resolved with what its own root would give it; two different
//! files under one SONAME across the closures of what the trace loaded is reported,
//! since one process can hold only one. All problems are collected; a run-time load
//! that failed in the traced run and fails here too is not a need
//! ([`NativeProblem::FailedLoad`], a warning).

mod diagnostics;
mod floor;

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use petgraph::Direction;
use petgraph::graph::{DiGraph, EdgeIndex, NodeIndex};
use petgraph::visit::EdgeRef;

pub use diagnostics::NativeProblem;
pub use floor::{GlibcFloor, VersionFloor, glibc_floor};

use crate::binary::{Binary, BinaryCache, ContentHash, Contents, NotAFile, ObjectInfo, Probe};
use crate::loader::{self, Found, Opened, Process, Rule, SearchConfig};
use crate::manifest::{LoadVia, Manifest, ModuleKind, ObjectKind};
use crate::policy::Policy;

/// One binary, by content.
#[derive(Debug, Clone)]
pub struct Node {
    /// The blake3 hash of its bytes: its identity.
    pub hash: ContentHash,
    /// Its parsed headers.
    pub info: Arc<ObjectInfo>,
    /// Its real path (the first one seen, in sorted order of discovery).
    pub path: PathBuf,
    /// Every path it is opened by or lives at, sorted; includes `path`.
    pub aliases: BTreeSet<PathBuf>,
    /// When the system policy says the target provides it: the entry that says so. Its
    /// own needs are not followed.
    pub system: Option<String>,
}

impl Node {
    /// Its SONAME, or its file name when it has none.
    pub fn name(&self) -> String {
        self.info
            .soname
            .clone()
            .unwrap_or_else(|| file_name(&self.path))
    }
}

/// A need: `from` asks for `name`, and the loader opens the target through `opened_as`
/// because of `rule`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Need {
    /// The name asked (`DT_NEEDED` entry).
    pub name: String,
    /// The search rule that found the file.
    pub rule: Rule,
    /// The path the target was opened by (the first closure that found it this way).
    pub opened_as: PathBuf,
}

/// What started a load in the traced process.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum RootKind {
    /// The interpreter executable.
    Executable,
    /// An extension module, by module name.
    Import { module: String },
    /// A run-time load (`ctypes.CDLL(name)` / `ffi.dlopen(name)`), by the Python module
    /// that asked.
    RuntimeLoad {
        name: String,
        via: LoadVia,
        caller: Option<String>,
    },
    /// Loaded at start-up because `LD_PRELOAD` names it.
    Preload { name: String },
    /// Shipped by the dist but not loaded by the traced run: a library or extension
    /// module (resolved as a `dlopen` from the interpreter), or a program (resolved as a
    /// process of its own).
    Shipped { program: bool },
    /// Mapped in the traced process, but nothing traced explains how.
    Mapped,
}

/// A root of the graph.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Root {
    /// What started the load.
    pub kind: RootKind,
    /// The root object.
    pub node: NodeIndex,
    /// The path it was opened by.
    pub path: PathBuf,
    /// The search rule that found it (`Path` for a file opened by path; `None` for the
    /// interpreter, which the kernel starts).
    pub rule: Option<Rule>,
}

impl Root {
    /// How a user reads this root (`import numpy._core._multiarray_umath`).
    pub fn label(&self) -> String {
        self.kind.label()
    }
}

impl RootKind {
    /// How a user reads a root of this kind (`import numpy._core._multiarray_umath`).
    pub fn label(&self) -> String {
        match self {
            RootKind::Executable => "the interpreter".into(),
            RootKind::Import { module } => format!("import {module}"),
            RootKind::RuntimeLoad { name, via, caller } => {
                let call = match via {
                    LoadVia::Ctypes => format!("ctypes.CDLL({name:?})"),
                    LoadVia::Cffi => format!("ffi.dlopen({name:?})"),
                    LoadVia::Dlopen => format!("dlopen({name:?}) by native code"),
                };
                match caller {
                    Some(c) => format!("{call} in {c}"),
                    None => call,
                }
            }
            RootKind::Preload { name } => format!("LD_PRELOAD={name}"),
            RootKind::Mapped => "mapped by the traced process (no traced cause)".into(),
            RootKind::Shipped { program: false } => {
                "shipped in the dist (the traced run did not load it)".into()
            }
            RootKind::Shipped { program: true } => {
                "a program shipped in the dist (the traced run did not start it)".into()
            }
        }
    }
}

/// What to build the graph from.
#[derive(Debug, Clone, Copy)]
pub struct FarmInput<'a> {
    /// The trace.
    pub manifest: &'a Manifest,
    /// The binaries the dist ships, to root the graph at: the extension modules of the
    /// selected units and every other loadable ELF object they ship (an executable, by
    /// its `PT_INTERP` or `ET_EXEC`, is resolved as a process of its own); `None` for
    /// every extension module the trace imported.
    pub shipped: Option<&'a [PathBuf]>,
    /// The libraries the target provides: found, but not followed and not bundled.
    pub policy: Option<&'a Policy>,
    /// The machine to resolve on (normally [`SearchConfig::host`]).
    pub config: &'a SearchConfig,
}

/// The graph, its roots and everything wrong with it.
#[derive(Debug, Clone, Default)]
pub struct FarmGraph {
    /// Binaries by content, needs as edges.
    pub graph: DiGraph<Node, Need>,
    /// What started each load, in the order resolved.
    pub roots: Vec<Root>,
    /// Every problem found, in a stable order.
    pub problems: Vec<NativeProblem>,
    by_hash: HashMap<ContentHash, NodeIndex>,
}

impl FarmGraph {
    /// The node holding these bytes.
    pub fn node_by_hash(&self, hash: &ContentHash) -> Option<NodeIndex> {
        self.by_hash.get(hash).copied()
    }

    /// The node that has `path` among its aliases.
    pub fn node_by_path(&self, path: &Path) -> Option<NodeIndex> {
        self.graph
            .node_indices()
            .find(|&i| self.graph[i].aliases.contains(path))
    }

    /// Nodes the dist bundles: every node the policy does not leave to the system.
    pub fn bundled(&self) -> impl Iterator<Item = NodeIndex> + '_ {
        self.graph
            .node_indices()
            .filter(|&i| self.graph[i].system.is_none())
    }

    /// The glibc floor of the bundled objects. The `GLIBCXX_`/`CXXABI_` floors are
    /// kept only when the C++ runtime is left to the target: a bundled `libstdc++`
    /// provides its own versions.
    pub fn glibc_floor(&self) -> GlibcFloor {
        let mut floor = glibc_floor(self.bundled().map(|i| {
            let n = &self.graph[i];
            (n.path.as_path(), n.info.as_ref())
        }));
        let cxx_bundled = self
            .bundled()
            .any(|i| self.graph[i].info.soname.as_deref() == Some("libstdc++.so.6"));
        if cxx_bundled {
            floor.glibcxx = None;
            floor.cxxabi = None;
        }
        floor
    }

    /// Every chain from a root to `target`: the root's index in [`FarmGraph::roots`] and
    /// the need edges followed, each chain a simple path (no node twice). Shortest
    /// first, then by root; at most `limit`.
    pub fn chains_to(&self, target: NodeIndex, limit: usize) -> Vec<(usize, Vec<EdgeIndex>)> {
        // Only nodes from which `target` can be reached are worth walking through.
        let mut can_reach = vec![false; self.graph.node_count()];
        let mut todo = vec![target];
        can_reach[target.index()] = true;
        while let Some(n) = todo.pop() {
            for m in self.graph.neighbors_directed(n, Direction::Incoming) {
                if !can_reach[m.index()] {
                    can_reach[m.index()] = true;
                    todo.push(m);
                }
            }
        }
        let mut out = Vec::new();
        for (r, root) in self.roots.iter().enumerate() {
            if !can_reach[root.node.index()] {
                continue;
            }
            // Breadth-first, so each root's chains come shortest first.
            let mut queue = VecDeque::from([(root.node, Vec::<EdgeIndex>::new())]);
            let mut found = 0usize;
            while let Some((at, path)) = queue.pop_front() {
                if at == target {
                    out.push((r, path));
                    found += 1;
                    if found >= limit {
                        break;
                    }
                    continue;
                }
                let mut next: Vec<_> = self.graph.edges(at).collect();
                next.sort_by_key(|e| e.id());
                for e in next {
                    let to = e.target();
                    let on_path = to == root.node
                        || path
                            .iter()
                            .any(|&p| self.graph.edge_endpoints(p).is_some_and(|(_, t)| t == to));
                    if can_reach[to.index()] && !on_path {
                        let mut p = path.clone();
                        p.push(e.id());
                        queue.push_back((to, p));
                    }
                }
            }
        }
        out.sort_by_key(|(r, p)| (p.len(), *r));
        out.truncate(limit);
        out
    }
}

/// A simulated process and the graph node of each of its objects.
#[derive(Clone)]
struct Sim {
    process: Process,
    nodes: Vec<Option<NodeIndex>>,
}

struct Builder<'a> {
    input: FarmInput<'a>,
    cache: &'a BinaryCache,
    farm: FarmGraph,
    /// (from, name) pairs already reported, so one failing need is reported once.
    reported: BTreeSet<(PathBuf, String)>,
}

/// Builds the farm graph of a manifest. Reads every mapped object and extension module
/// in parallel first (each file once, through `cache`), then resolves.
pub fn build(input: FarmInput<'_>, cache: &BinaryCache) -> FarmGraph {
    let manifest = input.manifest;
    let mut prefetch: Vec<PathBuf> = manifest
        .native
        .objects
        .iter()
        .map(|o| o.path.clone())
        .collect();
    prefetch.extend(input.shipped.into_iter().flatten().cloned());
    cache.read_all(&prefetch);

    let library_path = manifest
        .env
        .get("LD_LIBRARY_PATH")
        .map(|v| loader::split_library_path(v))
        .unwrap_or_default();
    let mut b = Builder {
        input,
        cache,
        farm: FarmGraph::default(),
        reported: BTreeSet::new(),
    };
    let policy = input.policy;
    let follow = move |o: &Opened| !is_system(policy, &o.info, &o.path);
    let exe = manifest.python.realpath.clone();
    if b.root_object(&exe, "the interpreter, `python.realpath`")
        .is_none()
    {
        b.check_sonames();
        return b.farm;
    }
    let preload = manifest
        .env
        .get("LD_PRELOAD")
        .map(|v| loader::split_preload(v))
        .unwrap_or_default();
    let start = loader::Start {
        exe: &exe,
        interp: None,
        library_path,
        preload,
    };
    let (process, events) = Process::launch(cache, input.config, &start, &follow);
    let mut startup = Sim {
        nodes: Vec::new(),
        process,
    };
    b.absorb(&mut startup, &events, Some(RootKind::Executable));
    let main = startup.process.main;
    // The dlopen caller for imports: libpython when shared, else the executable.
    let importer = manifest
        .python
        .libpython
        .path
        .as_ref()
        .and_then(|p| startup.process.find(p))
        .or(main);
    let Some(importer) = importer else {
        b.check_sonames();
        return b.farm;
    };

    let dlopen = |b: &mut Builder<'_>, caller: usize, name: &str, kind: RootKind| {
        let what = match &kind {
            RootKind::Import { module } => format!("the extension module `{module}`, in `modules`"),
            _ => "a mapped object, in `native.objects`".to_owned(),
        };
        if name.contains('/') && b.root_object(Path::new(name), &what).is_none() {
            return;
        }
        let mut sim = startup.clone();
        let events = sim
            .process
            .dlopen_where(cache, input.config, caller, name, &follow);
        b.absorb(&mut sim, &events, Some(kind));
    };
    for (kind, path) in shipped_roots(&input, cache) {
        if let RootKind::Shipped { program: true } = kind {
            // A program starts a process of its own: its `$ORIGIN` is its real folder,
            // nothing of the interpreter's is loaded before it.
            let real = std::fs::canonicalize(&path).unwrap_or(path);
            let start = loader::Start {
                exe: &real,
                interp: None,
                library_path: startup.process.library_path.clone(),
                preload: Vec::new(),
            };
            let (process, events) = Process::launch(cache, input.config, &start, &follow);
            let mut sim = Sim {
                nodes: Vec::new(),
                process,
            };
            b.absorb(&mut sim, &events, Some(kind));
        } else {
            dlopen(&mut b, importer, &path.to_string_lossy(), kind);
        }
    }
    let mut loads = manifest.native.loads.clone();
    loads.sort();
    for load in loads {
        // A load the trace derived from the mappings has no known caller: it is loaded
        // by its real path from the interpreter, as the process did load that file.
        let caller_module = match load.via {
            LoadVia::Ctypes => Some("_ctypes"),
            LoadVia::Cffi => Some("_cffi_backend"),
            LoadVia::Dlopen => None,
        };
        let asked = match (load.via, &load.resolved) {
            (LoadVia::Dlopen, Some(path)) => path.to_string_lossy().into_owned(),
            _ => load.name.clone(),
        };
        // The caller is not loaded at start-up: load it first, in a process of its own.
        let caller_path = caller_module.and_then(|m| extension_file(manifest, m));
        let kind = RootKind::RuntimeLoad {
            name: load.name.clone(),
            via: load.via,
            caller: load.caller.clone(),
        };
        // A load the trace saw succeed names a file that was there: say what is there now.
        // (One that failed in the traced run fails here too, as a missing need.)
        let what = format!("the run-time load `{}`, in `native.loads`", load.name);
        if load.resolved.is_some()
            && asked.contains('/')
            && b.root_object(Path::new(&asked), &what).is_none()
        {
            continue;
        }
        let mut sim = startup.clone();
        let caller = match &caller_path {
            Some(p) => {
                let ev = sim.process.dlopen_where(
                    cache,
                    input.config,
                    importer,
                    &p.to_string_lossy(),
                    &follow,
                );
                b.absorb(&mut sim, &ev, None);
                ev.first().and_then(|e| e.index).unwrap_or(importer)
            }
            None => importer,
        };
        let events = sim
            .process
            .dlopen_where(cache, input.config, caller, &asked, &follow);
        // A load the traced run could not make that fails here too (the file, or a
        // need of its closure, is found nowhere): the app went on without it, so it is
        // not a need and brings nothing into the graph (a need its closure lacks is
        // still reported, for `explain`). One that resolves fully here was made, and
        // its mapping missed (a library unloaded again): a root.
        if load.resolved.is_none() {
            let failure = events
                .iter()
                .enumerate()
                .find(|(_, e)| e.index.is_none() && !e.preload);
            if let Some((k, failed)) = failure {
                let from = failed
                    .from
                    .map(|f| sim.process.objects[f].loaded.path.clone());
                let missing = match &failed.resolution.unusable {
                    Some((path, reason)) => format!("`{}`: {reason}", path.display()),
                    None => "found nowhere".into(),
                };
                b.farm.problems.push(NativeProblem::FailedLoad {
                    call: kind.label(),
                    name: load.name.clone(),
                    reason: match (k, from) {
                        (0, _) | (_, None) => missing,
                        (_, Some(from)) => {
                            format!("`{}` needs `{}`, {missing}", from.display(), failed.name)
                        }
                    },
                });
                for event in events.iter().skip(1) {
                    if event.index.is_none() && !event.preload {
                        let from = event
                            .from
                            .map(|f| sim.process.objects[f].loaded.path.clone())
                            .unwrap_or_default();
                        b.report(&from, &event.name, &event.resolution);
                    }
                }
                continue;
            }
        }
        b.absorb(&mut sim, &events, Some(kind));
    }
    // Mapped objects nothing explains become roots of their own.
    for object in &manifest.native.objects {
        if matches!(object.kind, ObjectKind::Loader) {
            continue;
        }
        let known = cache
            .get(&object.path)
            .and_then(|bin| b.farm.node_by_hash(&bin.hash()));
        if known.is_none() {
            dlopen(
                &mut b,
                importer,
                &object.path.to_string_lossy(),
                RootKind::Mapped,
            );
        }
    }
    b.check_sonames();
    b.farm
}

fn is_system(policy: Option<&Policy>, info: &ObjectInfo, path: &Path) -> bool {
    system_entry(policy, info, path).is_some()
}

fn system_entry(policy: Option<&Policy>, info: &ObjectInfo, path: &Path) -> Option<String> {
    let p = policy?;
    info.soname
        .as_deref()
        .and_then(|s| p.excludes(s))
        .or_else(|| p.excludes(&file_name(path)))
        .map(str::to_owned)
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|f| f.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.to_string_lossy().into_owned())
}

/// The shipped objects to root at, sorted by path: imported extension modules by module
/// name, the rest as [`RootKind::Shipped`] (a program when it has a `PT_INTERP` or is
/// `ET_EXEC`). Without a selection, every extension module the trace imported.
fn shipped_roots(input: &FarmInput<'_>, cache: &BinaryCache) -> Vec<(RootKind, PathBuf)> {
    const ET_EXEC: u16 = 2;
    let mut out: Vec<(RootKind, PathBuf)> = input
        .manifest
        .modules_of(ModuleKind::Extension)
        .filter_map(|m| Some((m.name.clone(), m.file.clone()?)))
        .filter(|(_, f)| input.shipped.is_none_or(|sel| sel.contains(f)))
        .map(|(module, f)| (RootKind::Import { module }, f))
        .collect();
    if let Some(sel) = input.shipped {
        for f in sel {
            if !out.iter().any(|(_, p)| p == f) {
                let program = cache
                    .get(f)
                    .and_then(|b| b.elf().cloned())
                    .is_some_and(|e| e.interp.is_some() || e.elf_type == ET_EXEC);
                out.push((RootKind::Shipped { program }, f.clone()));
            }
        }
    }
    out.sort_by(|a, b| a.1.cmp(&b.1).then(a.0.cmp(&b.0)));
    out.dedup_by(|a, b| a.1 == b.1);
    out
}

fn extension_file(manifest: &Manifest, module: &str) -> Option<PathBuf> {
    manifest
        .modules_of(ModuleKind::Extension)
        .find(|m| m.name == module)
        .and_then(|m| m.file.clone())
}

impl Builder<'_> {
    /// The node of the file at `path` with these bytes, made on first sight.
    fn node_for(&mut self, path: &Path, binary: &Binary, info: &Arc<ObjectInfo>) -> NodeIndex {
        let real = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_owned());
        if let Some(i) = self.farm.node_by_hash(&binary.hash()) {
            let node = &mut self.farm.graph[i];
            node.aliases.insert(path.to_owned());
            node.aliases.insert(real);
            return i;
        }
        let system = system_entry(self.input.policy, info, &real);
        let mut aliases = BTreeSet::new();
        aliases.insert(path.to_owned());
        aliases.insert(real.clone());
        let i = self.farm.graph.add_node(Node {
            hash: binary.hash(),
            info: info.clone(),
            path: real,
            aliases,
            system,
        });
        self.farm.by_hash.insert(binary.hash(), i);
        i
    }

    /// The node of object `i` of a simulated process.
    fn node_of(&mut self, sim: &mut Sim, i: usize) -> Option<NodeIndex> {
        if sim.nodes.len() < sim.process.objects.len() {
            sim.nodes.resize(sim.process.objects.len(), None);
        }
        if let Some(n) = sim.nodes[i] {
            return Some(n);
        }
        let path = sim.process.objects[i].loaded.path.clone();
        let binary = self.cache.get(&path)?;
        let info = binary.elf()?.clone();
        let n = self.node_for(&path, &binary, &info);
        sim.nodes[i] = Some(n);
        Some(n)
    }

    /// Turns the events of one load into nodes, edges, a root and problems.
    fn absorb(&mut self, sim: &mut Sim, events: &[loader::Event], root: Option<RootKind>) {
        // The program interpreter, loaded before anything asks for it.
        if sim.nodes.is_empty() {
            for i in 0..sim.process.objects.len() {
                self.node_of(sim, i);
            }
        }
        for (k, event) in events.iter().enumerate() {
            let Some(target) = event.index else {
                if event.preload {
                    // glibc ignores a preload it cannot load (with a warning).
                    continue;
                }
                let from = event
                    .from
                    .map(|f| sim.process.objects[f].loaded.path.clone())
                    .unwrap_or_default();
                self.report(&from, &event.name, &event.resolution);
                continue;
            };
            let Some(to) = self.node_of(sim, target) else {
                continue;
            };
            let root_kind = if event.preload {
                Some(RootKind::Preload {
                    name: event.name.clone(),
                })
            } else if k == 0 {
                root.clone()
            } else {
                None
            };
            if k == 0 || event.preload {
                if let Some(kind) = root_kind {
                    let path = sim.process.objects[target].loaded.path.clone();
                    let rule = match (&kind, &event.resolution.found) {
                        (RootKind::Executable, _) | (_, None) => None,
                        (_, Some(found)) => Some(found.rule.clone()),
                    };
                    if !self
                        .farm
                        .roots
                        .iter()
                        .any(|r| r.node == to && r.kind == kind)
                    {
                        self.farm.roots.push(Root {
                            kind,
                            node: to,
                            path,
                            rule,
                        });
                    }
                }
                continue;
            }
            let Some(from) = event.from.and_then(|f| self.node_of(sim, f)) else {
                continue;
            };
            if let Some(found) = &event.resolution.found {
                self.add_edge(from, to, &event.name, found);
            }
        }
    }

    /// Reads a root file and checks that it is a loadable object; reports it otherwise.
    fn root_object(&mut self, path: &Path, what: &str) -> Option<Arc<ObjectInfo>> {
        // A path is said once, by the first root that names it (a run-time load, then the
        // mapped object it is).
        let said = self.farm.problems.iter().any(|p| {
            matches!(p, NativeProblem::MissingRoot { path: p, .. } | NativeProblem::NotAFileRoot { path: p, .. } if p == path)
        });
        let mut not_a_file = |why: NotAFile| {
            if said {
                return;
            }
            let (path, what) = (path.to_owned(), what.to_owned());
            self.farm.problems.push(if why.is_absent() {
                NativeProblem::MissingRoot { path, what, why }
            } else {
                NativeProblem::NotAFileRoot { path, what, why }
            });
        };
        match self.cache.probe(path) {
            Probe::Missing => {
                // Absent, a link to nothing, or unreadable: one more look says which.
                let why = crate::binary::check_regular(path)
                    .err()
                    .unwrap_or(NotAFile::Absent);
                not_a_file(why);
                None
            }
            Probe::NotAFile(why) => {
                not_a_file(why);
                None
            }
            Probe::File(bin) => match &bin.contents {
                Contents::Elf(info) if self.input.config.accepts(info) => Some(info.clone()),
                Contents::Elf(info) => {
                    self.farm.problems.push(NativeProblem::OtherArch {
                        path: path.to_owned(),
                        arch: info.arch_name(),
                        expected: self.input.config.arch_name(),
                    });
                    None
                }
                Contents::NotElf => {
                    self.farm.problems.push(NativeProblem::NotElf {
                        path: path.to_owned(),
                        what: what.to_owned(),
                    });
                    None
                }
                Contents::Corrupt(reason) => {
                    self.farm.problems.push(NativeProblem::Corrupt {
                        path: path.to_owned(),
                        reason: reason.clone(),
                    });
                    None
                }
            },
        }
    }

    /// Reports a need the loader cannot satisfy, once per object and name.
    fn report(&mut self, from: &Path, name: &str, res: &loader::Resolution) {
        if !self.reported.insert((from.to_owned(), name.to_owned())) {
            return;
        }
        if let Some((path, reason)) = &res.unusable {
            self.farm.problems.push(NativeProblem::UnusableNeed {
                object: from.to_owned(),
                need: name.to_owned(),
                path: path.clone(),
                reason: reason.clone(),
            });
        } else {
            self.farm.problems.push(NativeProblem::MissingNeed {
                object: from.to_owned(),
                need: name.to_owned(),
                searched: res.searched.iter().map(ToString::to_string).collect(),
            });
        }
    }

    /// Adds a need edge once per (from, to, name); a search rule replaces "already
    /// loaded", so the graph says which rule picks each file.
    fn add_edge(&mut self, from: NodeIndex, to: NodeIndex, name: &str, found: &Found) {
        let existing = self
            .farm
            .graph
            .edges_connecting(from, to)
            .find(|e| e.weight().name == name)
            .map(|e| e.id());
        let need = Need {
            name: name.to_owned(),
            rule: found.rule.clone(),
            opened_as: found.path.clone(),
        };
        match existing {
            Some(e) => {
                if matches!(self.farm.graph[e].rule, Rule::AlreadyLoaded { .. })
                    && !matches!(found.rule, Rule::AlreadyLoaded { .. })
                {
                    self.farm.graph[e] = need;
                }
            }
            None => {
                self.farm.graph.add_edge(from, to, need);
            }
        }
    }

    /// Two different bundled files under one SONAME: one process can hold only one.
    /// Only what the traced run's roots reach counts: objects shipped but never loaded
    /// (two builds of one library a package keeps for different targets) share no
    /// process that the trace knows of.
    fn check_sonames(&mut self) {
        let mut traced = vec![false; self.farm.graph.node_count()];
        let mut todo: Vec<NodeIndex> = self
            .farm
            .roots
            .iter()
            .filter(|r| !matches!(r.kind, RootKind::Shipped { .. }))
            .map(|r| r.node)
            .collect();
        while let Some(n) = todo.pop() {
            if std::mem::replace(&mut traced[n.index()], true) {
                continue;
            }
            todo.extend(self.farm.graph.neighbors(n));
        }
        let mut by_soname: BTreeMap<String, Vec<NodeIndex>> = BTreeMap::new();
        for i in self.farm.graph.node_indices().filter(|i| traced[i.index()]) {
            let n = &self.farm.graph[i];
            if let Some(s) = &n.info.soname {
                by_soname.entry(s.clone()).or_default().push(i);
            }
        }
        for (soname, nodes) in by_soname {
            if nodes.len() > 1 {
                let mut paths: Vec<PathBuf> = nodes
                    .iter()
                    .map(|&i| self.farm.graph[i].path.clone())
                    .collect();
                paths.sort();
                self.farm
                    .problems
                    .push(NativeProblem::SonameClash { soname, paths });
            }
        }
    }
}
