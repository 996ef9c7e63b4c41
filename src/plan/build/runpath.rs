//! Native placement: each shipped binary's link folder (in a farm) or its needs' own
//! folders (without one), the folders serving run-time loads to their callers, every
//! folder a binary can be opened from, and the RUNPATH reaching its folders from each.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::Arc;

use petgraph::visit::EdgeRef;

use super::place::Homes;
use super::{Output, Planner, file_name, origin_entry, parent, relative, under};
use crate::binary::edit::ElfEdits;
use crate::binary::{ObjectInfo, format};
use crate::farm::FarmGraph;
use crate::layout::{Farm, FarmId, Kind, Unit, UnitId};
use crate::loader::proof;
use crate::manifest::LoadVia;
use crate::plan::diagnostics::Problem;
use crate::plan::{Content, PlannedEntry};

/// A binary of the dist, by its real path.
pub(super) struct ShippedBinary {
    /// The item that ships it.
    pub(super) item: usize,
    pub(super) info: Arc<ObjectInfo>,
}

/// A library a binary needs, by the name it is needed as, and its real file.
struct Need {
    name: String,
    at: String,
}

/// How the dist's binaries find their libraries; each map by the binary's real path.
#[derive(Default)]
pub(super) struct Wiring {
    pub(super) binaries: BTreeMap<String, ShippedBinary>,
    /// The farm of a binary whose unit has one: where an unproven need points.
    pub(super) farm_of: BTreeMap<String, FarmId>,
    /// The folders holding (links to) its needs.
    needs_dirs: BTreeMap<String, Vec<String>>,
    /// `DT_NEEDED` entries added (the interpreter's preloads).
    pub(super) added_needs: BTreeMap<String, Vec<String>>,
    /// The folders serving the run-time loads it asks for.
    pub(super) served: BTreeMap<String, Vec<String>>,
    /// Every folder it can be opened from.
    pub(super) origins: BTreeMap<String, BTreeSet<String>>,
    /// Its RUNPATH, for a binary that gets one (or had one, now emptied).
    pub(super) runpaths: BTreeMap<String, Vec<String>>,
}

impl Planner<'_> {
    /// Loads the trace could only derive from the mappings have no caller whose RUNPATH
    /// could serve them, and one may be glibc itself (libc dlopens `libgcc_s.so.1` to
    /// unwind `pthread_exit`). The interpreter loads them at start-up instead, as
    /// `DT_NEEDED`: later requests reuse them by SONAME.
    fn preloads(&self, graph: &FarmGraph, homes: &Homes) -> Vec<Need> {
        let mut preloads: Vec<Need> = Vec::new();
        for load in &self.input.manifest.native.loads {
            if load.via != LoadVia::Dlopen {
                continue;
            }
            let Some(node) = load.resolved.as_deref().and_then(|p| graph.node_by_path(p)) else {
                continue;
            };
            if let (None, Some(at)) = (&graph.graph[node].system, homes.home.get(&node)) {
                let name = graph.graph[node].name();
                if !preloads.iter().any(|p| p.name == name) {
                    preloads.push(Need {
                        name,
                        at: at.clone(),
                    });
                }
            }
        }
        preloads
    }

    /// Every shipped binary, its needs, and the links that make them reachable: one
    /// link folder per binary in a farm, the needs' own folders (with a symlink named
    /// as needed where the file's name differs) without one.
    pub(super) fn wire_needs(
        &mut self,
        graph: &FarmGraph,
        homes: &Homes,
        out: &mut Output,
    ) -> Wiring {
        let mut wiring = Wiring::default();
        let preloads = self.preloads(graph, homes);
        let interpreter_source = &self.input.manifest.python.realpath;
        for (i, item) in self.items.iter().enumerate() {
            let (Some(real), Some(node)) = (&homes.real_of[i], item.node) else {
                continue;
            };
            if wiring.binaries.contains_key(real) {
                continue;
            }
            let info = graph.graph[node].info.clone();
            wiring.binaries.insert(
                real.clone(),
                ShippedBinary {
                    item: i,
                    info: info.clone(),
                },
            );
            let mut needs: Vec<Need> = graph
                .graph
                .edges(node)
                .filter(|e| graph.graph[e.target()].system.is_none())
                .filter_map(|e| {
                    Some(Need {
                        name: e.weight().name.clone(),
                        at: homes.home.get(&e.target())?.clone(),
                    })
                })
                .collect();
            if item.source == *interpreter_source {
                for preload in &preloads {
                    if !needs.iter().any(|n| n.name == preload.name)
                        && !info.needed.contains(&preload.name)
                    {
                        needs.push(Need {
                            name: preload.name.clone(),
                            at: preload.at.clone(),
                        });
                        wiring
                            .added_needs
                            .entry(real.clone())
                            .or_default()
                            .push(preload.name.clone());
                    }
                }
            }
            let unit = item.unit;
            match self.input.layout.unit(unit).farm.as_ref().map(|f| f.value) {
                Some(farm) => {
                    wiring.farm_of.insert(real.clone(), farm);
                    if needs.is_empty() {
                        continue;
                    }
                    let Some(folder) = self.link_folder(item, farm) else {
                        continue;
                    };
                    farm_links(
                        self.input.layout.farm(farm),
                        &folder,
                        &needs,
                        out,
                        &mut self.problems,
                    );
                    wiring.needs_dirs.insert(real.clone(), vec![folder]);
                }
                None => {
                    let unit = self.input.layout.unit(unit);
                    let dirs = beside_links(unit, &needs, out, &mut self.problems);
                    wiring.needs_dirs.insert(real.clone(), dirs);
                }
            }
        }
        wiring
    }

    /// Run-time loads served to their callers by the units that `serve callers`: the
    /// folder holding each load (with a symlink named as asked), by caller.
    pub(super) fn serve_callers(
        &mut self,
        graph: &FarmGraph,
        homes: &Homes,
        out: &mut Output,
    ) -> BTreeMap<String, Vec<String>> {
        let layout = self.input.layout;
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
                    .or_else(|| homes.home.get(&node).cloned());
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
                for caller in self.callers(load.via, graph, &homes.real_of) {
                    let dirs = served.entry(caller).or_default();
                    if !dirs.contains(&dir) {
                        dirs.push(dir.clone());
                    }
                }
            }
        }
        served
    }
}

/// A binary's link folder in a farm: one symlink per need, named as needed.
fn farm_links(
    farm: &Farm,
    folder: &str,
    needs: &[Need],
    out: &mut Output,
    problems: &mut Vec<Problem>,
) {
    for need in needs {
        out.link(
            &format!("{folder}/{}", need.name),
            &farm.name.value,
            farm.span,
            &relative(folder, &need.at),
            problems,
        );
    }
}

/// Without a farm, the needs' own folders, with a symlink named as needed beside a file
/// of another name. Returns the folders.
fn beside_links(
    unit: &Unit,
    needs: &[Need],
    out: &mut Output,
    problems: &mut Vec<Problem>,
) -> Vec<String> {
    let mut dirs = Vec::new();
    for need in needs {
        let dir = parent(&need.at).to_owned();
        if file_name(Path::new(&need.at)) != need.name {
            out.link(
                &under(&dir, &need.name),
                &unit.name.value,
                unit.span,
                &file_name(Path::new(&need.at)),
                problems,
            );
        }
        if !dirs.contains(&dir) {
            dirs.push(dir);
        }
    }
    dirs
}

/// Every folder each binary can be opened from: its own, and every symlink's to it.
pub(super) fn origins(
    binaries: &BTreeMap<String, ShippedBinary>,
    out: &Output,
) -> BTreeMap<String, BTreeSet<String>> {
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
    origins
}

/// The farm's one RUNPATH entry reaching `dir` from `origin` (`$ORIGIN/../../links/<name>`
/// at level 2): `$ORIGIN` climbs the farm's level to its root, then goes down to `dir`.
/// `None` unless both lie in one farm and `origin` lies at its level.
fn farm_entry(farms: &[Farm], origin: &str, dir: &str) -> Option<String> {
    farms.iter().find_map(|farm| {
        let root = farm.root.value.trim_matches('/');
        let below = |path: &str| -> Option<String> {
            if root.is_empty() || root == "." {
                return Some(path.to_owned());
            }
            match path.strip_prefix(root)? {
                "" => Some(String::new()),
                rest => rest.strip_prefix('/').map(str::to_owned),
            }
        };
        let from = below(origin)?;
        let to = below(dir)?;
        let depth = from.split('/').filter(|s| !s.is_empty()).count();
        (depth == farm.level.value).then(|| match to.as_str() {
            "" => farm.runpath_up(),
            to => format!("{}/{to}", farm.runpath_up()),
        })
    })
}

impl Wiring {
    /// Each binary's RUNPATH: from every folder it can be opened from, an entry to each
    /// folder of its needs and its served loads. A binary that had a RUNPATH and needs
    /// nothing of the dist gets an empty one (the build machine's paths removed).
    /// Inside a farm, every folder libraries are opened from lies at the farm's level,
    /// so one entry ([`farm_entry`]) serves them all.
    pub(super) fn runpaths(&self, farms: &[Farm]) -> BTreeMap<String, Vec<String>> {
        let mut runpaths = BTreeMap::new();
        for (real, binary) in &self.binaries {
            let mut entries: Vec<String> = Vec::new();
            let from = &self.origins[real];
            for dir in self
                .needs_dirs
                .get(real)
                .into_iter()
                .flatten()
                .chain(self.served.get(real).into_iter().flatten())
            {
                for origin in from {
                    let entry =
                        farm_entry(farms, origin, dir).unwrap_or_else(|| origin_entry(origin, dir));
                    if !entries.contains(&entry) {
                        entries.push(entry);
                    }
                }
            }
            let had = format::of(&binary.info).has_search_paths(&binary.info);
            if !entries.is_empty() || had {
                runpaths.insert(real.clone(), entries);
            }
        }
        runpaths
    }

    /// The ELF edits of every binary with a RUNPATH, on its planned entry.
    pub(super) fn edit(&self, out: &mut Output) {
        for (real, entries) in &self.runpaths {
            if let Some(PlannedEntry {
                content: Content::Copy { edits, .. },
                ..
            }) = out.entries.get_mut(real)
            {
                *edits = Some(ElfEdits {
                    runpath: Some(entries.clone()),
                    add_needed: self.added_needs.get(real).cloned().unwrap_or_default(),
                    ..ElfEdits::default()
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::farm_entry;
    use crate::layout::{Farm, Source, check};

    /// The farms of a layout, as the analyzer makes them from its text.
    fn farms(text: &str) -> Vec<Farm> {
        let checked = check(&Source::new("test.shz", text));
        let codes = checked.report.codes();
        assert!(codes.is_empty(), "{codes:?}");
        checked.layout.expect("the layout checks").farms
    }

    const LAYOUT: &str = r#"
layout farms

farm two {
  root "lib"
  reals "reals/{hash:16}/{file}"
  links "links/{name}"
  level 2
}

farm one {
  root "opt/one"
  reals "reals/{hash}"
  links "{name}.d"
  level 1
}

unit interpreter {
  take python.interpreter
  to "python/bin/{file}"
  farm two
}

unit libraries {
  take native.needed
  action move
  farm two
}

unit programs {
  take app.executables
  to "tools/{file}"
  farm one
}

system {
  preset glibc
  cxx-runtime bundle
}

unit entry {
  take app.entry
  to "app/{file}"
}

launcher {
  at "bin/{app.name}"
  python interpreter
  path entry
}
"#;

    /// A farm three folders deep (a root is never the dist's root: `.` is refused).
    const DEEP: &str = r#"
layout deep

farm three {
  root "vendor"
  reals "deep/reals/{hash:16}/{file}"
  links "deep/links/{name}"
  level 3
}

unit interpreter {
  take python.interpreter
  to "python/bin/{file}"
  farm three
}

unit libraries {
  take native.needed
  action move
  farm three
}

system {
  preset glibc
  cxx-runtime bundle
}

unit entry {
  take app.entry
  to "app/{file}"
}

launcher {
  at "bin/{app.name}"
  python interpreter
  path entry
}
"#;

    #[test]
    fn a_farm_level_climbs_that_many_folders_then_goes_down_to_the_link_folder() {
        let farms = farms(LAYOUT);
        let levels: Vec<(&str, usize)> = farms
            .iter()
            .map(|f| (f.name.value.as_str(), f.level.value))
            .collect();
        assert_eq!(levels, [("two", 2), ("one", 1)]);
        let entry = |origin: &str, dir: &str| farm_entry(&farms, origin, dir);
        // Level 2: from a real file's folder and from a link folder alike.
        assert_eq!(
            entry("lib/reals/0123456789abcdef", "lib/links/libz.so.1").as_deref(),
            Some("$ORIGIN/../../links/libz.so.1")
        );
        assert_eq!(
            entry("lib/links/libpng16.so.16", "lib/links/libz.so.1").as_deref(),
            Some("$ORIGIN/../../links/libz.so.1")
        );
        // Level 1, a root two folders deep.
        assert_eq!(
            entry("opt/one/reals", "opt/one/libz.so.1.d").as_deref(),
            Some("$ORIGIN/../libz.so.1.d")
        );
        // The root itself as the target: only the climb.
        assert_eq!(
            entry("lib/links/libz.so.1", "lib").as_deref(),
            Some("$ORIGIN/../..")
        );
    }

    #[test]
    fn no_farm_entry_from_another_depth_or_outside_the_farm() {
        let farms = farms(LAYOUT);
        let entry = |origin: &str, dir: &str| farm_entry(&farms, origin, dir);
        // Not at the farm's level: one folder short, one too deep, the root.
        assert_eq!(entry("lib/reals", "lib/links/libz.so.1"), None);
        assert_eq!(entry("lib/reals/ab/extra", "lib/links/libz.so.1"), None);
        assert_eq!(entry("lib", "lib/links/libz.so.1"), None);
        assert_eq!(entry("opt/one/reals/x", "opt/one/libz.so.1.d"), None);
        // An opening folder outside every farm (the interpreter's `bin`) has none, and
        // a root is a folder, not a prefix: `library/...` is not below `lib`.
        assert_eq!(entry("python/bin", "lib/links/libz.so.1"), None);
        assert_eq!(entry("library/reals/ab", "library/links/libz.so.1"), None);
        // Origin and target in different farms: no one entry joins them.
        assert_eq!(entry("opt/one/reals", "lib/links/libz.so.1"), None);
        assert_eq!(entry("lib/reals/ab", "opt/one/libz.so.1.d"), None);
    }

    #[test]
    fn a_deeper_level_climbs_further() {
        let farms = farms(DEEP);
        assert_eq!(farms[0].level.value, 3);
        let entry = |origin: &str, dir: &str| farm_entry(&farms, origin, dir);
        assert_eq!(
            entry(
                "vendor/deep/reals/0123456789abcdef",
                "vendor/deep/links/libz.so.1"
            )
            .as_deref(),
            Some("$ORIGIN/../../../deep/links/libz.so.1")
        );
        assert_eq!(
            entry(
                "vendor/deep/links/libpng16.so.16",
                "vendor/deep/links/libz.so.1"
            )
            .as_deref(),
            Some("$ORIGIN/../../../deep/links/libz.so.1")
        );
        // Level 2 inside this farm is not its level.
        assert_eq!(
            entry("vendor/deep/reals", "vendor/deep/links/libz.so.1"),
            None
        );
        assert_eq!(entry("python/bin", "vendor/deep/links/libz.so.1"), None);
    }
}
