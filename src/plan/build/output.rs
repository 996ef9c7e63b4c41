//! The output set: the entries being planned, by destination, with conflicts detected
//! as they come.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use super::Planner;
use crate::binary::{BinaryCache, Probe};
use crate::layout::ConflictPolicy;
use crate::layout::Span;
use crate::plan::diagnostics::{Problem, Writer};
use crate::plan::{Content, PlannedEntry};

impl Planner<'_> {
    /// A file planned where another entry needs a folder (`app` the launcher and
    /// `app/app.py`) cannot be written; report it with both writers.
    pub(super) fn folder_clashes(&mut self, out: &Output) {
        let mut reported = BTreeSet::new();
        for dest in out.entries.keys() {
            let mut at = dest.as_str();
            while let Some((folder, _)) = at.rsplit_once('/') {
                if let Some(entry) = out.entries.get(folder) {
                    if !matches!(entry.content, Content::Dir) && reported.insert(folder.to_owned())
                    {
                        let writer = |d: &str| {
                            out.writers.get(d).cloned().unwrap_or_else(|| {
                                Writer::new(&entry.unit, Span::default(), PathBuf::new())
                            })
                        };
                        self.problems.push(Problem::Conflict {
                            dest: folder.to_owned(),
                            first: writer(folder),
                            second: writer(dest),
                        });
                        break;
                    }
                }
                at = folder;
            }
        }
    }
}

/// The entries being planned, by destination, with conflicts detected as they come.
#[derive(Default)]
pub(super) struct Output {
    pub(super) entries: BTreeMap<String, PlannedEntry>,
    /// Who wrote each destination.
    pub(super) writers: BTreeMap<String, Writer>,
}

impl Output {
    #[allow(clippy::too_many_arguments)]
    pub(super) fn add(
        &mut self,
        dest: &str,
        unit: &str,
        span: crate::layout::Span,
        content: Content,
        cache: &BinaryCache,
        problems: &mut Vec<Problem>,
        policy: ConflictPolicy,
    ) {
        let source = match &content {
            Content::Copy { source, .. } => source.clone(),
            _ => PathBuf::new(),
        };
        if let Some(first) = self.writers.get(dest) {
            let same_file = first.source == source;
            let identical = same_file
                || (policy == ConflictPolicy::AllowIdentical
                    && same_content(cache, &first.source, &source));
            if !identical || (policy == ConflictPolicy::Deny && first.unit != unit) {
                problems.push(Problem::Conflict {
                    dest: dest.to_owned(),
                    first: first.clone(),
                    second: Writer::new(unit, span, source),
                });
            }
            return;
        }
        self.writers
            .insert(dest.to_owned(), Writer::new(unit, span, source));
        self.entries.insert(
            dest.to_owned(),
            PlannedEntry {
                dest: dest.to_owned(),
                unit: unit.to_owned(),
                content,
            },
        );
    }

    pub(super) fn link(
        &mut self,
        dest: &str,
        unit: &str,
        span: crate::layout::Span,
        target: &str,
        problems: &mut Vec<Problem>,
    ) {
        match self.entries.get(dest) {
            Some(PlannedEntry {
                content: Content::Symlink { target: existing },
                ..
            }) if existing == target => {}
            Some(_) => problems.push(Problem::Conflict {
                dest: dest.to_owned(),
                first: self
                    .writers
                    .get(dest)
                    .cloned()
                    .unwrap_or_else(|| Writer::new("", span, PathBuf::new())),
                second: Writer::new(unit, span, target),
            }),
            None => {
                self.writers
                    .insert(dest.to_owned(), Writer::new(unit, span, target));
                self.entries.insert(
                    dest.to_owned(),
                    PlannedEntry {
                        dest: dest.to_owned(),
                        unit: unit.to_owned(),
                        content: Content::Symlink {
                            target: target.to_owned(),
                        },
                    },
                );
            }
        }
    }

    pub(super) fn add_generated(
        &mut self,
        dest: &str,
        unit: &str,
        span: crate::layout::Span,
        data: Vec<u8>,
        mode: u32,
        problems: &mut Vec<Problem>,
    ) {
        if self.entries.contains_key(dest) {
            problems.push(Problem::Conflict {
                dest: dest.to_owned(),
                first: self
                    .writers
                    .get(dest)
                    .cloned()
                    .unwrap_or_else(|| Writer::new("", Span::default(), PathBuf::new())),
                second: Writer::new(unit, Span::default(), "(generated)"),
            });
            return;
        }
        self.writers
            .insert(dest.to_owned(), Writer::new(unit, span, "(generated)"));
        self.entries.insert(
            dest.to_owned(),
            PlannedEntry {
                dest: dest.to_owned(),
                unit: unit.to_owned(),
                content: Content::Bytes { data, mode },
            },
        );
    }
}

pub(super) fn same_content(cache: &BinaryCache, a: &Path, b: &Path) -> bool {
    match (cache.probe(a), cache.probe(b)) {
        (Probe::File(x), Probe::File(y)) => x.hash() == y.hash(),
        _ => false,
    }
}
