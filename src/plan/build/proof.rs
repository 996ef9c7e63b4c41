//! The proof: every planned binary resolved from every folder it can be opened from
//! over a virtual view of the dist, before anything is written.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use petgraph::graph::NodeIndex;
use petgraph::visit::EdgeRef;

use super::*;
use crate::farm::FarmGraph;
use crate::layout::FarmId;
use crate::loader::proof::{self, Subject, VirtualEntry, VirtualFs};
use crate::plan::Content;
use crate::plan::diagnostics::Problem;
use crate::policy::Policy;

impl Planner<'_> {
    #[allow(clippy::too_many_arguments)]
    pub(super) fn prove(
        &mut self,
        graph: &FarmGraph,
        out: &Output,
        binaries: &BTreeMap<String, (usize, Arc<crate::binary::ObjectInfo>)>,
        origins: &BTreeMap<String, BTreeSet<String>>,
        runpaths: &BTreeMap<String, Vec<String>>,
        home: &BTreeMap<NodeIndex, String>,
        farm_of: &BTreeMap<String, FarmId>,
        added_needs: &BTreeMap<String, Vec<String>>,
        loads_by_caller: &native::LoadsByCaller,
        path_loads: &[(String, NodeIndex)],
        policy: Policy,
    ) {
        const ROOT: &str = "/.shenzi-plan";
        let cache = self.input.cache;
        let mut fs = VirtualFs::new(ROOT, cache);
        let mut subjects = Vec::new();
        for (real, (i, info)) in binaries {
            let item = &self.items[*i];
            let Some(source) = cache.get(&item.source) else {
                continue;
            };
            let shipped = proof::shipped(
                &source,
                info,
                runpaths.get(real).map(Vec::as_slice),
                added_needs.get(real).map(Vec::as_slice).unwrap_or_default(),
            );
            let Some(shipped_info) = shipped.elf().cloned() else {
                continue;
            };
            fs.insert(real, VirtualEntry::File(shipped));
            subjects.push((
                real.clone(),
                Subject {
                    label: real.clone(),
                    file_name: file_name(Path::new(real)),
                    info: shipped_info,
                    origins: origins[real]
                        .iter()
                        .map(|o| Path::new(ROOT).join(o))
                        .collect(),
                    loads: loads_by_caller
                        .get(real)
                        .into_iter()
                        .flatten()
                        .map(|(name, _)| name.clone())
                        .collect(),
                },
            ));
        }
        for (path, entry) in &out.entries {
            if let Content::Symlink { target } = &entry.content {
                fs.insert(path, VirtualEntry::Link(PathBuf::from(target)));
            }
        }
        let config = self.input.host.clone().with_only_system(policy);
        let list: Vec<Subject> = subjects.iter().map(|(_, s)| s.clone()).collect();
        let outcomes = proof::prove(&fs, &config, &list);
        let by_real: BTreeMap<&String, NodeIndex> = binaries
            .iter()
            .filter_map(|(real, (i, _))| Some((real, self.items[*i].node?)))
            .collect();
        let shown = |p: &Path| {
            p.strip_prefix(ROOT)
                .map_or_else(|_| p.display().to_string(), |r| r.display().to_string())
        };
        // A library loaded by path is the file planned there.
        for (place, node) in path_loads {
            let want = home.get(node).map(|h| Path::new(ROOT).join(h));
            let found = fs.real(&Path::new(ROOT).join(place));
            let is_file = found.as_deref().is_some_and(|f| {
                matches!(
                    crate::loader::FileSystem::probe(&fs, f),
                    crate::binary::Probe::File(_)
                )
            });
            if want.is_some() && (found != want || !is_file) {
                self.problems.push(Problem::UnservedLoad {
                    caller: "the app (by path)".into(),
                    origin: place.clone(),
                    name: place.clone(),
                    expected: want.as_deref().map(shown).unwrap_or_default(),
                    found: found.as_deref().map(shown),
                });
            }
        }
        let mut reported = BTreeSet::new();
        for outcome in outcomes {
            let (real, subject) = &subjects[outcome.subject];
            let Some(&node) = by_real.get(real) else {
                continue;
            };
            let target = if outcome.load {
                let Some(&(_, target)) = loads_by_caller
                    .get(real)
                    .and_then(|names| names.iter().find(|(n, _)| *n == outcome.need))
                else {
                    continue;
                };
                target
            } else {
                let Some(edge) = graph
                    .graph
                    .edges(node)
                    .find(|e| e.weight().name == outcome.need)
                else {
                    // The graph could not resolve it on the tracing machine either:
                    // reported there.
                    continue;
                };
                edge.target()
            };
            let system = graph.graph[target].system.is_some();
            let expected = if system {
                None
            } else {
                home.get(&target).map(|h| Path::new(ROOT).join(h))
            };
            let ok = match (&expected, &outcome.real) {
                (None, Some(found)) => !found.starts_with(ROOT),
                (Some(want), Some(found)) => found == want,
                (_, None) => false,
            };
            if ok || !reported.insert((real.clone(), outcome.need.clone(), outcome.load)) {
                continue;
            }
            let origin = outcome.origin.strip_prefix(ROOT).map_or_else(
                |_| outcome.origin.display().to_string(),
                |o| o.display().to_string(),
            );
            let origin = if origin.is_empty() {
                ".".into()
            } else {
                origin
            };
            let expected = expected
                .as_deref()
                .map_or_else(|| "a system library".to_owned(), shown);
            if outcome.load {
                self.problems.push(Problem::UnservedLoad {
                    caller: subject.label.clone(),
                    origin,
                    name: outcome.need.clone(),
                    expected,
                    found: outcome.real.as_deref().map(shown),
                });
                continue;
            }
            self.problems.push(Problem::Unproven {
                span: farm_of.get(real).map(|f| self.input.layout.farm(*f).span),
                binary: subject.label.clone(),
                origin,
                need: outcome.need.clone(),
                expected,
                found: outcome.real.as_deref().map(shown),
                searched: outcome
                    .resolution
                    .searched
                    .iter()
                    .map(ToString::to_string)
                    .collect(),
            });
        }
    }
}
