//! Placing: every destination rendered, each binary's real file, link folders, and the
//! RUNPATH that finds its needs from every folder it can be opened from.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::Arc;

use petgraph::graph::NodeIndex;
use petgraph::visit::EdgeRef;

use super::*;
use crate::binary::edit::ElfEdits;
use crate::farm::FarmGraph;
use crate::layout::{
    Action, Farm, FarmId, Kind, LauncherEntry, LauncherForm, Template, UnitId, Var,
};
use crate::loader::proof::{self};
use crate::manifest::{EntryKind, LoadVia};
use crate::plan::diagnostics::Problem;
use crate::plan::{Content, DistRecord, PlannedEntry};
use crate::policy::Policy;

impl Planner<'_> {
    /// Renders every destination.
    pub(super) fn place(&mut self) {
        let layout = self.input.layout;
        let cache = self.input.cache;
        for item in &mut self.items {
            let unit = layout.unit(item.unit);
            let Some(template) = &unit.destination else {
                continue;
            };
            if matches!(unit.action.value, Action::Move | Action::Skip) {
                continue;
            }
            if template.uses(Var::Hash) && !item.vars.contains_key(&Var::Hash) {
                if let Some(binary) = cache.get(&item.source) {
                    item.vars.insert(Var::Hash, binary.hash_hex());
                }
            }
            match template.render(&item.vars) {
                Ok(dest) => item.dest = Some(dest),
                Err(err) => self.problems.push(Problem::Render {
                    unit: unit.name.value.clone(),
                    span: template.span,
                    file: item.source.clone(),
                    reason: err.to_string(),
                }),
            }
        }
    }

    /// The farm reals path of a library item, rendered.
    pub(super) fn real_in_farm(&self, item: &Item, farm: FarmId) -> Option<String> {
        self.farm_path(item, farm, |f| &f.reals)
    }

    pub(super) fn link_folder(&self, item: &Item, farm: FarmId) -> Option<String> {
        self.farm_path(item, farm, |f| &f.links)
    }

    /// One of a farm's path templates rendered for a library item, below the farm's root;
    /// `{name}` falls back to the file name.
    pub(super) fn farm_path(
        &self,
        item: &Item,
        farm: FarmId,
        template: fn(&Farm) -> &Template,
    ) -> Option<String> {
        let farm = self.input.layout.farm(farm);
        let template = template(farm);
        let mut v = item.vars.clone();
        if !v.contains_key(&Var::Hash) && template.uses(Var::Hash) {
            v.insert(Var::Hash, self.input.cache.get(&item.source)?.hash_hex());
        }
        if !v.contains_key(&Var::Name) {
            v.insert(Var::Name, v.get(&Var::File).cloned().unwrap_or_default());
        }
        template
            .render(&v)
            .ok()
            .map(|r| under(&farm.root.value, &r))
    }

    /// Every entry of the dist, and the record `verify` reads.
    pub(super) fn finish(
        &mut self,
        graph: &FarmGraph,
        policy: Policy,
    ) -> (BTreeMap<String, PlannedEntry>, DistRecord) {
        let layout = self.input.layout;
        let cache = self.input.cache;
        let mut out = Output::default();

        // Where each binary's real file is, and the symlink placed for `symlink` units.
        let mut home: BTreeMap<NodeIndex, String> = BTreeMap::new();
        let mut real_of: Vec<Option<String>> = vec![None; self.items.len()];
        for (i, item) in self.items.iter().enumerate() {
            let unit = layout.unit(item.unit);
            let farm = unit.farm.as_ref().map(|f| f.value);
            let real = match (unit.action.value, farm, item.node) {
                (Action::Skip, _, _) => None,
                (Action::Copy, _, _) => item.dest.clone(),
                (Action::Symlink | Action::Move, Some(farm), Some(_)) => {
                    self.real_in_farm(item, farm)
                }
                // Without a farm, `move` and `symlink` have nowhere else to put the file.
                (Action::Symlink | Action::Move, _, _) => item.dest.clone(),
            };
            if let (Some(real), Some(node)) = (&real, item.node) {
                home.entry(node).or_insert_with(|| real.clone());
            }
            real_of[i] = real;
        }

        // Real files.
        for (i, item) in self.items.iter().enumerate() {
            let Some(real) = &real_of[i] else { continue };
            out.add(
                real,
                &layout.unit(item.unit).name.value,
                layout.unit(item.unit).span,
                Content::Copy {
                    source: item.source.clone(),
                    mode: item.mode,
                    size: item.size,
                    edits: None,
                    stamp_pyc: item.stamp_pyc,
                },
                cache,
                &mut self.problems,
                layout.conflicts.value,
            );
        }
        self.write_links(&mut out);
        // Destinations of `symlink` units point at the real file.
        for (i, item) in self.items.iter().enumerate() {
            let unit = layout.unit(item.unit);
            if unit.action.value == Action::Symlink {
                if let (Some(dest), Some(real)) = (&item.dest, &real_of[i]) {
                    if dest != real {
                        out.link(
                            dest,
                            &unit.name.value,
                            unit.span,
                            &relative(parent(dest), real),
                            &mut self.problems,
                        );
                    }
                }
            }
        }

        // Link folders and RUNPATH.
        let mut runpaths: BTreeMap<String, Vec<String>> = BTreeMap::new();
        let mut binaries: BTreeMap<String, (usize, Arc<crate::binary::ObjectInfo>)> =
            BTreeMap::new();
        let mut farm_of: BTreeMap<String, FarmId> = BTreeMap::new();
        let mut needs_dirs: BTreeMap<String, Vec<String>> = BTreeMap::new();
        // Loads the trace could only derive from the mappings have no caller whose
        // RUNPATH could serve them, and one may be glibc itself (libc dlopens
        // `libgcc_s.so.1` to unwind `pthread_exit`). The interpreter loads them at
        // start-up instead, as `DT_NEEDED`: later requests reuse them by SONAME.
        let interpreter_source = &self.input.manifest.python.realpath;
        let mut preloads: Vec<(String, String)> = Vec::new();
        for load in &self.input.manifest.native.loads {
            if load.via != LoadVia::Dlopen {
                continue;
            }
            let Some(node) = load.resolved.as_deref().and_then(|p| graph.node_by_path(p)) else {
                continue;
            };
            if let (None, Some(at)) = (&graph.graph[node].system, home.get(&node)) {
                let name = graph.graph[node].name();
                if !preloads.iter().any(|(n, _)| *n == name) {
                    preloads.push((name, at.clone()));
                }
            }
        }
        let mut added_needs: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (i, item) in self.items.iter().enumerate() {
            let (Some(real), Some(node)) = (&real_of[i], item.node) else {
                continue;
            };
            if binaries.contains_key(real) {
                continue;
            }
            let info = graph.graph[node].info.clone();
            binaries.insert(real.clone(), (i, info));
            let unit = layout.unit(item.unit);
            let mut needs: Vec<(String, String)> = graph
                .graph
                .edges(node)
                .filter(|e| graph.graph[e.target()].system.is_none())
                .filter_map(|e| Some((e.weight().name.clone(), home.get(&e.target())?.clone())))
                .collect();
            if item.source == *interpreter_source {
                for (name, at) in &preloads {
                    if !needs.iter().any(|(n, _)| n == name)
                        && !info_needs(&graph.graph[node].info, name)
                    {
                        needs.push((name.clone(), at.clone()));
                        added_needs
                            .entry(real.clone())
                            .or_default()
                            .push(name.clone());
                    }
                }
            }
            match unit.farm.as_ref().map(|f| f.value) {
                Some(farm) => {
                    farm_of.insert(real.clone(), farm);
                    if needs.is_empty() {
                        continue;
                    }
                    let Some(folder) = self.link_folder(item, farm) else {
                        continue;
                    };
                    for (name, target) in &needs {
                        let link = format!("{folder}/{name}");
                        out.link(
                            &link,
                            &layout.farm(farm).name.value,
                            layout.farm(farm).span,
                            &relative(&folder, target),
                            &mut self.problems,
                        );
                    }
                    needs_dirs.insert(real.clone(), vec![folder]);
                }
                None => {
                    let mut dirs = Vec::new();
                    for (name, target) in &needs {
                        let dir = parent(target).to_owned();
                        if file_name(Path::new(target)) != *name {
                            let alias = under(&dir, name);
                            out.link(
                                &alias,
                                &unit.name.value,
                                unit.span,
                                &file_name(Path::new(target)),
                                &mut self.problems,
                            );
                        }
                        if !dirs.contains(&dir) {
                            dirs.push(dir);
                        }
                    }
                    needs_dirs.insert(real.clone(), dirs);
                }
            }
        }

        // Run-time loads served to their callers.
        let mut served: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (unit_index, unit) in layout.units.iter().enumerate() {
            if unit.serve_callers.is_none() || !unit.takes(Kind::RuntimeLoads) {
                continue;
            }
            for load in &self.input.manifest.native.loads {
                let Some(node) = load.resolved.as_deref().and_then(|p| graph.node_by_path(p))
                else {
                    continue;
                };
                if graph.graph[node].system.is_some() {
                    continue;
                }
                // The folder serving it: this unit's destination, or where it is shipped.
                let spot = self
                    .items
                    .iter()
                    .find(|i| i.unit == UnitId(unit_index) && i.node == Some(node))
                    .and_then(|i| i.dest.clone())
                    .or_else(|| home.get(&node).cloned());
                let Some(spot) = spot else { continue };
                let dir = parent(&spot).to_owned();
                let asked = Path::new(&load.name);
                if !load.name.contains('/') && file_name(asked) != file_name(Path::new(&spot)) {
                    let alias = under(&dir, &load.name);
                    out.link(
                        &alias,
                        &unit.name.value,
                        unit.span,
                        &relative(&dir, &spot),
                        &mut self.problems,
                    );
                }
                for caller in self.callers(load.via, graph, &real_of) {
                    let dirs = served.entry(caller).or_default();
                    if !dirs.contains(&dir) {
                        dirs.push(dir.clone());
                    }
                }
            }
        }

        // Loads by path find their file where the asking module will look for it.
        let (mut loads, path_loads) = self.place_path_loads(graph, &home, &real_of, &mut out);
        let (name_loads, loads_by_caller) = self.name_loads(graph, &real_of);
        loads.extend(name_loads);

        // Every folder each binary can be opened from: its own, and every symlink's to it.
        let mut origins: BTreeMap<String, BTreeSet<String>> = binaries
            .keys()
            .map(|real| (real.clone(), BTreeSet::from([parent(real).to_owned()])))
            .collect();
        for (path, entry) in &out.entries {
            if let Content::Symlink { target } = &entry.content {
                let resolved = proof::normalize(&Path::new("/").join(parent(path)).join(target));
                let resolved = resolved
                    .to_string_lossy()
                    .trim_start_matches('/')
                    .to_owned();
                if let Some(set) = origins.get_mut(&resolved) {
                    set.insert(parent(path).to_owned());
                }
            }
        }
        for (real, (_, info)) in &binaries {
            let mut entries: Vec<String> = Vec::new();
            let from = &origins[real];
            for dir in needs_dirs
                .get(real)
                .into_iter()
                .flatten()
                .chain(served.get(real).into_iter().flatten())
            {
                for origin in from {
                    let entry = origin_entry(origin, dir);
                    if !entries.contains(&entry) {
                        entries.push(entry);
                    }
                }
            }
            let had = !info.runpath.is_empty() || !info.rpath.is_empty();
            if !entries.is_empty() || had {
                runpaths.insert(real.clone(), entries);
            }
        }
        for (real, entries) in &runpaths {
            if let Some(PlannedEntry {
                content: Content::Copy { edits, .. },
                ..
            }) = out.entries.get_mut(real)
            {
                *edits = Some(ElfEdits {
                    runpath: Some(entries.clone()),
                    add_needed: added_needs.get(real).cloned().unwrap_or_default(),
                    ..ElfEdits::default()
                });
            }
        }

        self.prove(
            graph,
            &out,
            &binaries,
            &origins,
            &runpaths,
            &home,
            &farm_of,
            &added_needs,
            &loads_by_caller,
            &path_loads,
            policy.clone(),
        );
        let as_is = self.as_is_objects(&real_of);
        self.program_links(&mut out);
        let (launcher, interpreter) = self.launcher(&mut out);
        self.unclaimed();
        self.folder_clashes(&out);

        let record = DistRecord {
            version: 1,
            shenzi: env!("CARGO_PKG_VERSION").to_owned(),
            layout: layout
                .name
                .as_ref()
                .map_or_else(|| self.input.source.name.clone(), |n| n.value.clone()),
            interpreter,
            launcher,
            python: format!(
                "{}.{}",
                self.input.manifest.python.version.major, self.input.manifest.python.version.minor
            ),
            system_libraries: policy.entries().map(str::to_owned).collect(),
            // What the `sh` launcher starts, as `launcher` decided it.
            entry: layout
                .launcher
                .as_ref()
                .filter(|l| l.form.value == LauncherForm::Sh)
                .and_then(|l| {
                    let manifest = self.input.manifest;
                    match (&l.entry.value, manifest.entry.kind) {
                        (LauncherEntry::Module(m), _) => {
                            Some(crate::plan::DistEntry::Module(m.clone()))
                        }
                        (LauncherEntry::Traced, EntryKind::Module) => Some(
                            crate::plan::DistEntry::Module(manifest.entry.target.clone()),
                        ),
                        (LauncherEntry::Traced, EntryKind::Script | EntryKind::ConsoleScript) => {
                            self.items
                                .iter()
                                .find(|i| {
                                    i.source == Path::new(&manifest.entry.target)
                                        && i.dest.is_some()
                                })
                                .and_then(|i| i.dest.clone())
                                .map(crate::plan::DistEntry::Script)
                        }
                        (LauncherEntry::Traced, EntryKind::Code) => None,
                    }
                }),
            pth: out
                .entries
                .iter()
                .find(|(dest, e)| {
                    e.unit == "launcher"
                        && dest.ends_with("/00-shenzi.pth")
                        && matches!(e.content, Content::Bytes { .. })
                })
                .map(|(dest, _)| dest.clone()),
            loads,
            as_is,
        };
        (out.entries, record)
    }
}

pub(super) fn info_needs(info: &crate::binary::ObjectInfo, name: &str) -> bool {
    info.needed.iter().any(|n| n == name)
}
