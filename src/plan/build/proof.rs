//! The proof: every planned binary resolved from every folder it can be opened from
//! over a virtual view of the dist, before anything is written.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use petgraph::graph::NodeIndex;
use petgraph::visit::EdgeRef;

use super::runpath::Wiring;
use super::{Output, Planner, file_name, native};
use crate::farm::FarmGraph;
use crate::loader::proof::{self, Outcome, Subject, VirtualEntry, VirtualFs};
use crate::plan::Content;
use crate::plan::diagnostics::Problem;
use crate::policy::Policy;

/// Where the virtual dist is mounted.
const ROOT: &str = "/.shenzi-plan";

/// What the proof checks: the planned entries and how their binaries are wired.
pub(super) struct ProofInput<'p> {
    pub(super) graph: &'p FarmGraph,
    pub(super) out: &'p Output,
    pub(super) wiring: &'p Wiring,
    /// The real file of each graph node: what each need must resolve to.
    pub(super) home: &'p BTreeMap<NodeIndex, String>,
    pub(super) loads_by_caller: &'p native::LoadsByCaller,
    pub(super) path_loads: &'p [native::PathLoad],
    /// What the target system provides.
    pub(super) policy: Policy,
}

/// A binary as the proof sees it, with its real path in the dist.
struct Proven {
    real: String,
    subject: Subject,
}

/// The planned dist as the loader would see it, and the binaries to resolve in it.
struct VirtualDist<'a> {
    fs: VirtualFs<'a>,
    proven: Vec<Proven>,
}

/// A path of the virtual dist as a report shows it: relative to the dist root.
fn shown(p: &Path) -> String {
    p.strip_prefix(ROOT)
        .map_or_else(|_| p.display().to_string(), |r| r.display().to_string())
}

impl<'a> Planner<'a> {
    /// Proves the plan, pushing a problem for every need or load that does not resolve
    /// to the file planned for it.
    pub(super) fn prove(&mut self, input: &ProofInput<'_>) {
        let VirtualDist { fs, proven } = self.virtual_dist(input);
        let config = self
            .input
            .host
            .clone()
            .with_only_system(input.policy.clone());
        let list: Vec<Subject> = proven.iter().map(|p| p.subject.clone()).collect();
        let outcomes = proof::prove(&fs, &config, &list);
        self.check_path_loads(input, &fs);
        let by_real: BTreeMap<&String, NodeIndex> = input
            .wiring
            .binaries
            .iter()
            .filter_map(|(real, b)| Some((real, self.items[b.item].node?)))
            .collect();
        let mut reported = BTreeSet::new();
        for outcome in outcomes {
            let p = &proven[outcome.subject];
            let Some(&node) = by_real.get(&p.real) else {
                continue;
            };
            if reported.contains(&(p.real.clone(), outcome.need.clone(), outcome.load)) {
                continue;
            }
            if self.report(input, node, p, &outcome) {
                reported.insert((p.real.clone(), outcome.need.clone(), outcome.load));
            }
        }
    }

    /// The planned dist as the loader would see it: every binary as it will be written
    /// (its RUNPATH and added needs), every symlink.
    fn virtual_dist(&self, input: &ProofInput<'_>) -> VirtualDist<'a> {
        let cache = self.input.cache;
        let wiring = input.wiring;
        let mut fs = VirtualFs::new(ROOT, cache);
        let mut proven = Vec::new();
        for (real, binary) in &wiring.binaries {
            let item = &self.items[binary.item];
            let Some(source) = cache.get(&item.source) else {
                continue;
            };
            let shipped = proof::shipped(
                &source,
                &binary.info,
                wiring.runpaths.get(real).map(Vec::as_slice),
                wiring
                    .added_needs
                    .get(real)
                    .map(Vec::as_slice)
                    .unwrap_or_default(),
            );
            let Some(shipped_info) = shipped.elf().cloned() else {
                continue;
            };
            fs.insert(real, VirtualEntry::File(shipped));
            proven.push(Proven {
                real: real.clone(),
                subject: Subject {
                    label: real.clone(),
                    file_name: file_name(Path::new(real)),
                    info: shipped_info,
                    origins: wiring.origins[real]
                        .iter()
                        .map(|o| Path::new(ROOT).join(o))
                        .collect(),
                    loads: input
                        .loads_by_caller
                        .get(real)
                        .into_iter()
                        .flatten()
                        .map(|load| load.name.clone())
                        .collect(),
                },
            });
        }
        for (path, entry) in &input.out.entries {
            if let Content::Symlink { target } = &entry.content {
                fs.insert(path, VirtualEntry::Link(PathBuf::from(target)));
            }
        }
        VirtualDist { fs, proven }
    }

    /// A library loaded by path is the file planned there.
    fn check_path_loads(&mut self, input: &ProofInput<'_>, fs: &VirtualFs<'_>) {
        for native::PathLoad { place, node } in input.path_loads {
            let want = input.home.get(node).map(|h| Path::new(ROOT).join(h));
            let found = fs.real(&Path::new(ROOT).join(place));
            let is_file = found.as_deref().is_some_and(|f| {
                matches!(
                    crate::loader::FileSystem::probe(fs, f),
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
    }

    /// One outcome of the proof: a problem when the need or load of `p` (graph node
    /// `node`) did not resolve to the file planned for it. Returns whether it was one.
    fn report(
        &mut self,
        input: &ProofInput<'_>,
        node: NodeIndex,
        p: &Proven,
        outcome: &Outcome,
    ) -> bool {
        let (graph, real, subject) = (input.graph, &p.real, &p.subject);
        let target = if outcome.load {
            let Some(load) = input
                .loads_by_caller
                .get(real)
                .and_then(|names| names.iter().find(|n| n.name == outcome.need))
            else {
                return false;
            };
            load.node
        } else {
            let Some(edge) = graph
                .graph
                .edges(node)
                .find(|e| e.weight().name == outcome.need)
            else {
                // The graph could not resolve it on the tracing machine either:
                // reported there.
                return false;
            };
            edge.target()
        };
        let system = graph.graph[target].system.is_some();
        let expected = if system {
            None
        } else {
            input.home.get(&target).map(|h| Path::new(ROOT).join(h))
        };
        let ok = match (&expected, &outcome.real) {
            (None, Some(found)) => !found.starts_with(ROOT),
            (Some(want), Some(found)) => found == want,
            (_, None) => false,
        };
        if ok {
            return false;
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
            return true;
        }
        self.problems.push(Problem::Unproven {
            span: input
                .wiring
                .farm_of
                .get(real)
                .map(|f| self.input.layout.farm(*f).span),
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
        true
    }
}
