//! Placing: every destination rendered, each binary's real file, link folders, and the
//! RUNPATH that finds its needs from every folder it can be opened from.

use std::collections::BTreeMap;

use petgraph::graph::NodeIndex;

use super::proof::ProofInput;
use super::runpath::origins;
use super::{Item, Output, Planner, parent, relative, under};
use crate::farm::FarmGraph;
use crate::layout::{Action, Farm, FarmId, Kind, Strip, Template, Var};
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

    /// Where each item's real file goes (the farm's `reals` for a library of a `symlink`
    /// or `move` unit), and the first real file of each graph node.
    pub(super) fn homes(&self) -> Homes {
        let layout = self.input.layout;
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
        Homes { real_of, home }
    }

    /// The real files, the kept tree links, and the destinations of `symlink` units
    /// pointing at their real files.
    pub(super) fn write_files(&mut self, homes: &Homes, out: &mut Output) {
        let layout = self.input.layout;
        let cache = self.input.cache;
        for (i, item) in self.items.iter().enumerate() {
            let Some(real) = &homes.real_of[i] else {
                continue;
            };
            if self.packs.iter().any(|p| !p.writes_file(i)) {
                continue;
            }
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
                    // The graph's nodes are the ELF objects this machine loads.
                    strip: item.node.is_some() && layout.strip.value == Strip::Debug,
                },
                cache,
                &mut self.problems,
                layout.conflicts.value,
            );
        }
        for pack in &self.packs {
            let unit = layout.unit(pack.unit);
            out.add(
                &pack.archive,
                &unit.name.value,
                pack.span,
                super::pack::archive_content(pack, &self.input.manifest.python.realpath),
                cache,
                &mut self.problems,
                layout.conflicts.value,
            );
        }
        self.write_links(out);
        for (i, item) in self.items.iter().enumerate() {
            let unit = layout.unit(item.unit);
            if unit.action.value == Action::Symlink {
                if let (Some(dest), Some(real)) = (&item.dest, &homes.real_of[i]) {
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
    }

    /// The folder of every unit that takes `python.dynload`, even when it ships no module
    /// (`select imported` of an app that imported none): the interpreter looks for
    /// `lib-dynload` to find its exec prefix, and warns at every start without it
    /// (`Could not find platform dependent libraries`). The folder is the destination
    /// up to its last `/` when only the last part varies by file (`.../lib-dynload/{path}`).
    pub(super) fn dynload_folders(&mut self, out: &mut Output) {
        const PROBE: &str = "shenzi-probe";
        let layout = self.input.layout;
        for unit in &layout.units {
            if !unit.kinds.iter().any(|k| k.value == Kind::Dynload)
                || unit.action.value != Action::Copy
            {
                continue;
            }
            let Some(template) = &unit.destination else {
                continue;
            };
            let mut vars = self.common.clone();
            vars.extend([Var::Path, Var::File, Var::Hash].map(|v| (v, PROBE.to_owned())));
            let Ok(probe) = template.render(&vars) else {
                continue;
            };
            let Some(folder) = probe.strip_suffix(PROBE).and_then(|f| f.strip_suffix('/')) else {
                continue;
            };
            if folder.is_empty() || folder.contains(PROBE) {
                continue;
            }
            out.add(
                folder,
                &unit.name.value,
                unit.span,
                Content::Dir,
                self.input.cache,
                &mut self.problems,
                layout.conflicts.value,
            );
        }
    }

    /// Every entry of the dist, and the record `verify` reads.
    pub(super) fn finish(&mut self, graph: &FarmGraph, policy: Policy) -> Finished {
        let mut out = Output::default();
        let homes = self.homes();
        self.write_files(&homes, &mut out);
        self.dynload_folders(&mut out);
        let mut wiring = self.wire_needs(graph, &homes, &mut out);
        wiring.served = self.serve_callers(graph, &homes, &mut out);
        // Loads by path find their file where the asking module will look for it.
        let path_loads = self.place_path_loads(graph, &homes.home, &homes.real_of, &mut out);
        let name_loads = self.name_loads(graph, &homes.real_of);
        let mut loads = path_loads.record;
        loads.extend(name_loads.record);
        wiring.origins = origins(&wiring.binaries, &out);
        wiring.runpaths = wiring.runpaths(&self.input.layout.farms);
        wiring.edit(&mut out);
        self.prove(&ProofInput {
            graph,
            out: &out,
            wiring: &wiring,
            home: &homes.home,
            loads_by_caller: &name_loads.by_caller,
            path_loads: &path_loads.places,
            policy: policy.clone(),
        });
        let as_is = self.as_is_objects(&homes.real_of);
        self.program_links(&mut out);
        let launched = self.launcher(&mut out);
        self.unclaimed();
        self.folder_clashes(&out);
        let record = self.record(&out, launched, &policy, loads, as_is);
        Finished {
            entries: out.entries,
            record,
        }
    }
}

/// What [`Planner::finish`] makes.
pub(super) struct Finished {
    /// Every entry of the dist, by destination.
    pub(super) entries: BTreeMap<String, PlannedEntry>,
    /// The record `verify` reads.
    pub(super) record: DistRecord,
}

/// Where the items' files go for real.
pub(super) struct Homes {
    /// By item: the path of its real file, `None` when it writes none (`skip`).
    pub(super) real_of: Vec<Option<String>>,
    /// By graph node: the first real file of it.
    pub(super) home: BTreeMap<NodeIndex, String>,
}
