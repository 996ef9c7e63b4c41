//! The summary: files and bytes by unit, package and library, the largest files, the
//! problems in order, the [`Planned`] handed back.

use std::collections::BTreeMap;
use std::path::Path;

use super::launch::Launched;
use super::{
    LARGEST_SHOWN, Largest, Output, Plan, PlanDiagnostic, PlanReport, Planned, Planner, Total,
};
use crate::farm::{FarmGraph, GlibcFloor};
use crate::plan::{AsIsObject, DistLoad};
use crate::plan::{Content, DistRecord, PlannedEntry};
use crate::policy::Policy;

impl Planner<'_> {
    /// The record `verify` reads.
    pub(super) fn record(
        &self,
        out: &Output,
        launched: Launched,
        policy: &Policy,
        loads: Vec<DistLoad>,
        as_is: Vec<AsIsObject>,
    ) -> DistRecord {
        let layout = self.input.layout;
        let version = &self.input.manifest.python.version;
        DistRecord {
            version: 1,
            shenzi: env!("CARGO_PKG_VERSION").to_owned(),
            layout: layout
                .name
                .as_ref()
                .map_or_else(|| self.input.source.name.clone(), |n| n.value.clone()),
            interpreter: launched.interpreter,
            launcher: launched.launcher,
            python: format!("{}.{}", version.major, version.minor),
            system_libraries: policy.entries().map(str::to_owned).collect(),
            entry: launched.entry,
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
        }
    }

    pub(super) fn summarize(
        self,
        entries: BTreeMap<String, PlannedEntry>,
        record: DistRecord,
        graph: FarmGraph,
        floor: GlibcFloor,
    ) -> Planned {
        let layout = self.input.layout;
        let total = |name: &str| Total {
            name: name.to_owned(),
            files: 0,
            bytes: 0,
        };
        let mut by_unit: Vec<Total> = layout.units.iter().map(|u| total(&u.name.value)).collect();
        let mut by_package: BTreeMap<&str, Total> = BTreeMap::new();
        let mut by_library: BTreeMap<String, Total> = BTreeMap::new();
        let unit_index: BTreeMap<&str, usize> = layout
            .units
            .iter()
            .enumerate()
            .map(|(i, u)| (u.name.value.as_str(), i))
            .collect();
        let package_of: BTreeMap<&Path, &str> = self
            .items
            .iter()
            .filter_map(|i| Some((i.source.as_path(), i.package.as_deref()?)))
            .collect();
        let library_of: BTreeMap<&Path, String> = self
            .items
            .iter()
            .filter_map(|i| Some((i.source.as_path(), graph.graph[i.node?].name())))
            .collect();
        let add = |slot: &mut Total, size: u64| {
            slot.files += 1;
            slot.bytes += size;
        };
        let mut sizes: Vec<(u64, &str, &str)> = Vec::new();
        for entry in entries.values() {
            let size = match &entry.content {
                Content::Copy { size, source, .. } => {
                    if let Some(&i) = unit_index.get(entry.unit.as_str()) {
                        add(&mut by_unit[i], *size);
                    }
                    if let Some(package) = package_of.get(source.as_path()) {
                        add(
                            by_package.entry(package).or_insert_with(|| total(package)),
                            *size,
                        );
                    }
                    if let Some(library) = library_of.get(source.as_path()) {
                        add(
                            by_library
                                .entry(library.clone())
                                .or_insert_with(|| total(library)),
                            *size,
                        );
                    }
                    *size
                }
                Content::Bytes { data, .. } => data.len() as u64,
                Content::Archive { members, .. } => {
                    let size = members.iter().map(|m| m.size).sum();
                    if let Some(&i) = unit_index.get(entry.unit.as_str()) {
                        add(&mut by_unit[i], size);
                    }
                    for member in members {
                        if let Some(package) = package_of.get(member.source.as_path()) {
                            add(
                                by_package.entry(package).or_insert_with(|| total(package)),
                                member.size,
                            );
                        }
                    }
                    size
                }
                Content::Dir | Content::Symlink { .. } => continue,
            };
            sizes.push((size, &entry.dest, &entry.unit));
        }
        let largest_first = |mut totals: Vec<Total>| {
            totals.sort_by(|a, b| b.bytes.cmp(&a.bytes).then_with(|| a.name.cmp(&b.name)));
            totals
        };
        let by_package = largest_first(by_package.into_values().collect());
        let by_library = largest_first(by_library.into_values().collect());
        sizes.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(b.1)));
        let largest: Vec<Largest> = sizes
            .into_iter()
            .take(LARGEST_SHOWN)
            .map(|(bytes, path, unit)| Largest {
                path: path.to_owned(),
                unit: unit.to_owned(),
                bytes,
            })
            .collect();
        let mut problems = self.problems;
        problems.sort_by_key(|p| (!p.is_error(), p.code()));
        Planned {
            plan: Plan {
                entries: entries.into_values().collect(),
                record,
            },
            report: PlanReport {
                src: self.input.source.named(),
                diagnostics: problems
                    .into_iter()
                    .map(|problem| PlanDiagnostic { problem })
                    .collect(),
            },
            graph,
            floor,
            by_unit,
            by_package,
            by_library,
            largest,
            carried: self.carried,
            packed: self.packed,
        }
    }
}
