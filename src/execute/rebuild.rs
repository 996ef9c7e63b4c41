//! Re-apply: which paths of a previous dist are already what this apply writes.
//!
//! # What the record trusts
//!
//! Every copy's record entry holds its source's identity (device, inode, size, mtime
//! and ctime in nanoseconds, `stat`ed before it was read) and the edits written over it
//! (strip, RUNPATH, needs, the `.pyc` stamp). Re-apply takes a copy as unchanged when its
//! source's identity, its edits and its mode are the recorded ones, the dist was written
//! by this shenzi when there are edits (another shenzi may patch differently; plain
//! copies are copies whatever wrote them), and the previous dist's file is still the one
//! its record lists (see [`super::record`]). Such a file is hard-linked into the new dist,
//! patched binaries included, without reading its source. The source's identity is
//! trusted, not its bytes: a user cannot set a change time, so a rewrite that keeps the
//! size and restores the mtime is still seen (by `ctime`); only a clock set back or a
//! filesystem without change times would hide one. A copy whose source's identity
//! changed but whose bytes did not (a `touch`) is found by hashing the source, as before
//! (plain copies only). Generated files are compared by their bytes, symlinks by target.
//!
//! The layout is not trusted by a hash of its text: a layout change redoes exactly the
//! files whose inputs (source, destination, edits, mode) it changes.
//!
//! When nothing changed (same paths, same inputs, the same dist record) the dist is left
//! as it is and nothing is written at all; `verify` is not run again either (nothing it
//! checks changed).

use std::collections::{HashMap, HashSet};

use super::dests::folders;
use super::record::{OldFile, PreviousDist, edits_text};
use super::summary::{ApplySummary, Redone};
use crate::plan::{Content, Plan};
use crate::record::{RECORD_PATH, RECORD_VERSION, RecordedKind, SourceIdentity};

/// What of a previous dist a plan can keep.
pub(super) struct Rebuild<'p> {
    /// Copies whose inputs are unchanged, with the proven old file.
    unchanged: HashMap<&'p str, OldFile>,
    /// The first reason each other path of the plan is written again.
    reasons: HashMap<&'p str, String>,
    /// Paths of the previous dist the plan does not hold.
    pub removed: u64,
    /// The dist record the plan writes is not the previous one (beyond its file list).
    record_changed: bool,
}

impl<'p> Rebuild<'p> {
    /// The proven old file of an unchanged copy.
    pub fn unchanged(&self, dest: &str) -> Option<&OldFile> {
        self.unchanged.get(dest)
    }

    pub fn nothing_changed(&self) -> bool {
        self.reasons.is_empty() && self.removed == 0 && !self.record_changed
    }

    /// The summary of an apply that found nothing to do: what the dist holds.
    pub fn unchanged_summary(&self, plan: &Plan) -> ApplySummary {
        let mut summary = ApplySummary {
            unchanged: true,
            ..ApplySummary::default()
        };
        for entry in &plan.entries {
            match &entry.content {
                Content::Dir => summary.dirs += 1,
                Content::Symlink { .. } => summary.symlinks += 1,
                // The source's size, as a cold apply counts it (stripped copies aside).
                Content::Copy { size, .. } => {
                    summary.files += 1;
                    summary.bytes += size;
                }
                Content::Bytes { data, .. } => {
                    summary.files += 1;
                    summary.bytes += data.len() as u64;
                }
                // `write_dist` turns archives into generated files before comparing; an
                // archive still here is one file whose size is not known yet.
                Content::Archive { .. } => summary.files += 1,
            }
        }
        summary.reused = summary.files + summary.symlinks;
        summary
    }

    /// The files and symlinks written again, with their first reason: `fresh` are the
    /// copies the writer did not link (an unchanged one whose link failed among them).
    pub fn redone(&self, plan: &Plan, fresh: &[&str]) -> Vec<Redone> {
        let fresh: HashSet<&str> = fresh.iter().copied().collect();
        let mut out: Vec<Redone> = plan
            .entries
            .iter()
            .filter_map(|e| {
                let reason = self.reasons.get(e.dest.as_str());
                let redone = match e.content {
                    Content::Dir => return None,
                    Content::Copy { .. } => fresh.contains(e.dest.as_str()),
                    _ => reason.is_some(),
                };
                redone.then(|| Redone {
                    path: e.dest.clone(),
                    reason: reason.cloned().unwrap_or_else(|| {
                        "its file in the previous dist could not be linked".to_owned()
                    }),
                })
            })
            .collect();
        if self.record_changed {
            out.push(Redone {
                path: RECORD_PATH.to_owned(),
                reason: "the plan's dist record changed (loads, libraries or entry)".to_owned(),
            });
        }
        out.sort_by(|a, b| a.path.cmp(&b.path));
        out
    }
}

/// Compares `plan`, whose copies' sources are `sources`, with the previous dist `old`.
pub(super) fn compare<'p>(
    plan: &'p Plan,
    old: &PreviousDist,
    sources: &HashMap<&str, SourceIdentity>,
    mtime: i64,
) -> Rebuild<'p> {
    let recorded: HashMap<&str, &RecordedKind> = old
        .record
        .files
        .iter()
        .map(|f| (f.path.as_str(), &f.kind))
        .collect();
    let same_shenzi = old.record.record.shenzi == plan.record.shenzi;
    // As written: its time, its mode (a `chmod` is undone), and linked nowhere else (a
    // dist never shares an inode with a path outside).
    let on_time = |f: &OldFile, mode: u32| {
        f.mtime == (mtime.max(0), 0) && f.nlink == 1 && f.mode & 0o7777 == mode & 0o777
    };
    let mut unchanged = HashMap::new();
    let mut reasons = HashMap::new();
    for entry in &plan.entries {
        let dest = entry.dest.as_str();
        let was = recorded.get(dest).copied();
        let proven = old.files.get(dest);
        let reason: Option<String> = match (&entry.content, was) {
            (Content::Dir, Some(RecordedKind::Dir { .. })) => None,
            (_, None) => Some("new in the plan".to_owned()),
            (Content::Dir, Some(_)) => Some("was not a folder".to_owned()),
            (
                Content::Copy {
                    mode,
                    edits,
                    stamp_pyc,
                    strip,
                    ..
                },
                Some(RecordedKind::File {
                    mode: old_mode,
                    source,
                    edits: old_edits,
                    ..
                }),
            ) => {
                let edits = edits_text(edits.as_ref(), *strip, *stamp_pyc);
                let now = sources.get(dest);
                match (source, now) {
                    (None, _) => Some("its record holds no source identity".to_owned()),
                    (Some(_), None) => Some("its source cannot be read".to_owned()),
                    (Some(was), Some(now)) => source_change(was, now)
                        .or_else(|| (edits != *old_edits).then(|| "its edits changed".to_owned()))
                        .or_else(|| {
                            (*old_mode != super::record::mode_text(mode & 0o777))
                                .then(|| "its mode changed".to_owned())
                        })
                        .or_else(|| {
                            (edits.is_some() && !same_shenzi).then(|| {
                                format!(
                                    "it was edited by another shenzi ({})",
                                    old.record.record.shenzi
                                )
                            })
                        })
                        .or_else(|| match proven {
                            None => {
                                Some("its file in the previous dist is not as recorded".to_owned())
                            }
                            Some(f) if !on_time(f, *mode) => {
                                Some("the dist's fixed time changed".to_owned())
                            }
                            Some(f) => {
                                unchanged.insert(dest, f.clone());
                                None
                            }
                        }),
                }
            }
            (
                Content::Bytes { data, mode },
                Some(RecordedKind::File {
                    mode: old_mode,
                    blake3,
                    ..
                }),
            ) => {
                if blake3::hash(data).to_hex().as_str() != blake3 {
                    Some("its generated bytes changed".to_owned())
                } else if *old_mode != super::record::mode_text(mode & 0o777) {
                    Some("its mode changed".to_owned())
                } else if !proven.is_some_and(|f| on_time(f, *mode)) {
                    Some("its file in the previous dist is not as recorded".to_owned())
                } else {
                    None
                }
            }
            (Content::Symlink { target }, Some(RecordedKind::Symlink { target: was })) => {
                (target != was).then(|| "its target changed".to_owned())
            }
            (_, Some(_)) => Some("it was another kind of path".to_owned()),
        };
        if let Some(reason) = reason {
            reasons.insert(dest, reason);
        }
    }
    let (folders, _) = folders(plan);
    let planned: HashSet<&str> = plan
        .entries
        .iter()
        .map(|e| e.dest.as_str())
        .chain(folders.iter().copied())
        .collect();
    let removed = recorded.keys().filter(|p| !planned.contains(*p)).count() as u64;
    // Implicit folders the old dist lacks are new too.
    for folder in folders {
        if !recorded.contains_key(folder) && !reasons.contains_key(folder) {
            reasons.insert(folder, "new in the plan".to_owned());
        }
    }
    let mut record = plan.record.clone();
    record.version = RECORD_VERSION;
    Rebuild {
        unchanged,
        reasons,
        removed,
        record_changed: record != old.record.record,
    }
}

/// The first way a source differs from its recorded identity.
fn source_change(was: &SourceIdentity, now: &SourceIdentity) -> Option<String> {
    let what = if (was.dev, was.ino) != (now.dev, now.ino) {
        "it is another file (inode)"
    } else if was.size != now.size {
        "its size changed"
    } else if was.mtime_ns != now.mtime_ns {
        "its mtime changed"
    } else if was.ctime_ns != now.ctime_ns {
        "its ctime changed (rewritten in place)"
    } else {
        return None;
    };
    Some(format!("source changed: {what}"))
}
