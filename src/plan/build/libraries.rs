//! Libraries from the farm graph: which unit takes each bundled library, and which
//! shipped binaries ask for a run-time load.

use std::collections::{BTreeMap, BTreeSet};

use petgraph::graph::NodeIndex;

use super::{Planner, file_name, vars};
use crate::binary::cache::hex;
use crate::farm::FarmGraph;
use crate::layout::{Action, Kind, UnitId, Var};
use crate::manifest::{LoadVia, ModuleKind};
use crate::plan::diagnostics::Problem;
use crate::plan::select::Inode;

impl Planner<'_> {
    /// Libraries from the farm graph: the `native.needed` and `native.runtime_loads` units
    /// take the bundled nodes no file of another unit already ships.
    pub(super) fn take_libraries(&mut self, graph: &FarmGraph) {
        self.attach_nodes(graph);
        let shipped: BTreeSet<NodeIndex> = self
            .items
            .iter()
            .filter(|i| self.input.layout.unit(i.unit).action.value != Action::Skip)
            .filter_map(|i| i.node)
            .collect();
        let taken = self.take_nodes(graph, &shipped);
        self.not_taken(graph, &taken);
    }

    /// Attaches graph nodes to the files already taken, by file identity: the graph saw
    /// each binary at the path the loader mapped, a site dir reached through a symlink
    /// lists it under another. The graph's files are in the cache already; no file is
    /// opened or hashed again here.
    fn attach_nodes(&mut self, graph: &FarmGraph) {
        let by_id: std::collections::HashMap<Inode, NodeIndex> = graph
            .graph
            .node_indices()
            .flat_map(|i| graph.graph[i].aliases.iter().map(move |p| (p, i)))
            .filter_map(|(path, i)| {
                let id = self.input.cache.get(path)?.id;
                Some((
                    Inode {
                        dev: id.dev,
                        ino: id.ino,
                    },
                    i,
                ))
            })
            .collect();
        for item in &mut self.items {
            item.node = by_id.get(&item.id).copied();
        }
    }

    /// The units taking run-time loads, then those taking needed libraries, take the
    /// nodes they select. Returns every node shipped or taken.
    fn take_nodes(
        &mut self,
        graph: &FarmGraph,
        shipped: &BTreeSet<NodeIndex>,
    ) -> BTreeSet<NodeIndex> {
        let layout = self.input.layout;
        let manifest = self.input.manifest;
        // Runtime loads first: a library loaded at run time goes where its unit says.
        let mut runtime_nodes: BTreeMap<NodeIndex, Vec<String>> = BTreeMap::new();
        for load in &manifest.native.loads {
            if let Some(node) = load.resolved.as_deref().and_then(|p| graph.node_by_path(p)) {
                runtime_nodes
                    .entry(node)
                    .or_default()
                    .push(load.name.clone());
            }
        }
        let mut taken: BTreeSet<NodeIndex> = shipped.clone();
        // Whatever the units' order, a run-time load goes where its unit says, not
        // (also) where the needed libraries go.
        let passes = [Kind::RuntimeLoads, Kind::Needed];
        for (index, unit, kind) in passes.into_iter().flat_map(|pass| {
            layout
                .units
                .iter()
                .enumerate()
                .filter(move |(_, u)| u.takes(pass))
                .map(move |(i, u)| (i, u, pass))
        }) {
            let id = UnitId(index);
            let nodes: Vec<NodeIndex> = match kind {
                Kind::RuntimeLoads => runtime_nodes.keys().copied().collect(),
                Kind::Needed => graph.bundled().collect(),
                // The passes are only these two kinds.
                _ => continue,
            };
            for node in nodes {
                let n = &graph.graph[node];
                if n.system.is_some() || (kind == Kind::Needed && taken.contains(&node)) {
                    continue;
                }
                // A runtime load already shipped as a file still gets served.
                if kind == Kind::RuntimeLoads && shipped.contains(&node) {
                    continue;
                }
                let name = n.name();
                if !unit.selects(&name) {
                    continue;
                }
                let mut v = vars([
                    (Var::Name, name.clone()),
                    (Var::File, file_name(&n.path)),
                    (Var::Hash, hex(&n.hash)),
                ]);
                if let Some(soname) = &n.info.soname {
                    v.insert(Var::Soname, soname.clone());
                }
                if let Some(request) = runtime_nodes.get(&node).and_then(|r| r.first()) {
                    v.insert(Var::Request, request.clone());
                }
                let before = self.items.len();
                self.push(id, &name, n.path.clone(), v, None);
                if let Some(item) = self.items.get_mut(before) {
                    item.node = Some(node);
                    taken.insert(node);
                }
            }
        }
        taken
    }

    /// A library the application needs that nothing ships breaks the dist.
    fn not_taken(&mut self, graph: &FarmGraph, taken: &BTreeSet<NodeIndex>) {
        for node in graph.bundled() {
            if !taken.contains(&node)
                && !graph
                    .roots
                    .iter()
                    .any(|r| r.node == node && matches!(r.kind, crate::farm::RootKind::Executable))
            {
                let n = &graph.graph[node];
                if !self.is_extension(&n.path) {
                    self.problems.push(Problem::LibraryNotTaken {
                        name: n.name(),
                        path: n.path.clone(),
                    });
                }
            }
        }
    }

    /// The shipped binaries that ask for run-time loads made `via`.
    pub(super) fn callers(
        &self,
        via: LoadVia,
        graph: &FarmGraph,
        real_of: &[Option<String>],
    ) -> Vec<String> {
        let by_module = |module: &str| -> Option<String> {
            let file = self
                .input
                .manifest
                .modules
                .iter()
                .find(|m| m.name == module && m.kind == ModuleKind::Extension)?
                .file
                .clone()?;
            let i = self.items.iter().position(|i| i.source == file)?;
            real_of[i].clone()
        };
        let libpython = || -> Option<String> {
            let node = graph.node_by_path(self.input.manifest.python.libpython.path.as_ref()?)?;
            let i = self.items.iter().position(|i| i.node == Some(node))?;
            real_of[i].clone()
        };
        let interpreter = || -> Option<String> {
            let i = self
                .items
                .iter()
                .position(|i| i.source == self.input.manifest.python.realpath)?;
            real_of[i].clone()
        };
        match via {
            LoadVia::Ctypes => by_module("_ctypes").into_iter().collect(),
            LoadVia::Cffi => by_module("_cffi_backend").into_iter().collect(),
            LoadVia::Dlopen => by_module("_cffi_backend")
                .into_iter()
                .chain(libpython())
                .chain(interpreter())
                .collect(),
        }
    }
}
