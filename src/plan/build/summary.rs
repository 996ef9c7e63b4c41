//! The summary: files and bytes by unit and package, the problems in order, the
//! [`Planned`] handed back.

use std::collections::BTreeMap;
use std::path::Path;

use super::launch::Launched;
use super::{Output, Plan, PlanDiagnostic, PlanReport, Planned, Planner};
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
        let mut by_unit: Vec<(String, u64, u64)> = layout
            .units
            .iter()
            .map(|u| (u.name.value.clone(), 0, 0))
            .collect();
        let mut by_package: BTreeMap<String, (u64, u64)> = BTreeMap::new();
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
        for entry in entries.values() {
            if let Content::Copy { size, source, .. } = &entry.content {
                if let Some(&i) = unit_index.get(entry.unit.as_str()) {
                    by_unit[i].1 += 1;
                    by_unit[i].2 += size;
                }
                if let Some(package) = package_of.get(source.as_path()) {
                    let slot = by_package.entry((*package).to_owned()).or_default();
                    slot.0 += 1;
                    slot.1 += size;
                }
            }
        }
        let mut by_package: Vec<(String, u64, u64)> = by_package
            .into_iter()
            .map(|(k, (f, b))| (k, f, b))
            .collect();
        by_package.sort_by(|a, b| b.2.cmp(&a.2).then_with(|| a.0.cmp(&b.0)));
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
            carried: self.carried,
        }
    }
}
