//! Building a dist on disk, atomically.
//!
//! The dist is built in a hidden folder beside the target and renamed into place at the
//! end (swapped atomically with `renameat2(RENAME_EXCHANGE)` when `--force` replaces a
//! previous dist; `RENAME_NOREPLACE` otherwise), so a failure, an interrupt or a
//! `kill -9` leaves no half dist: the target is the previous dist or the new one, whole.
//! Nothing is written outside that folder and the target; sources are only read. An
//! apply holds a lock on the folder of the target while it works and removes the
//! scratch folders killed applies left there ([`super::scratch`]); `--force` replaces
//! only a dist whose record checks out ([`super::record`]).
//!
//! Every path gets a fixed mode, whatever the umask: files the planned mode, folders
//! (the dist's root too) `0755`, the record `0644`; and one fixed time.
//!
//! # Re-apply reuses unchanged files
//!
//! With `--force` onto a previous dist, a copy the previous dist already holds exactly is
//! hard-linked from it into the new folder instead of copied: creating an inode is the
//! expensive part of writing a dist (on ext4 right after deletions, very), and `link(2)`
//! creates none. The output is the same, byte for byte, as a cold apply's. Which copies
//! are unchanged is decided first, from the record ([`super::rebuild`]); when nothing is,
//! nothing is written. A file `OLD/dest` is reused only when all of these hold:
//!
//! - its inputs are unchanged ([`super::rebuild`]: source identity, edits, mode; such a
//!   file is linked whether patched or not, its source not read), **or** it is a copy
//!   without ELF edits or strip whose source's blake3, read in full, is the old file's
//!   (for a stamped `.pyc`, with bytes 8..12 taken as the stamp);
//! - `OLD/dest` is a regular file reached without following any symlink, inside the old
//!   dist (`openat2` with `RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS`, or one
//!   `openat(O_NOFOLLOW)` per segment before Linux 5.6);
//! - the check of the old dist proved it holds the bytes its record lists (hashed in
//!   full, or trusted by its change time: [`super::record`]), and it is still that
//!   inode with that change time (not written since);
//! - it has one link (`nlink == 1`), so the new dist never shares an inode with anything
//!   outside the old dist, and the same owner as the files this apply creates;
//! - its permission bits are the planned mode, its mtime is the fixed mtime (whole
//!   seconds), and its size is the recorded one.
//!
//! Anything else, and any link that fails (another filesystem, too many links, no
//! permission), falls back to the normal copy. Linking changes nothing in the old dist
//! but its inodes' link counts and change times, so it stays whole until the exchange;
//! after it, deleting the old dist only drops the second name of each reused file.
//! Only access times may differ from a cold apply's (the old file's, as last read).

use std::collections::{BTreeMap, HashMap};
use std::fs::{File, OpenOptions};
use std::os::fd::AsRawFd;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use rayon::prelude::*;

use super::dests::{checked, folders};
use super::diagnostics::{ApplyError, CheckFailure, io};
use super::hook;
use super::patch::{PatchError, Patcher};
use super::record::{self, OldFile, PreviousDist, c_path, edits_text};
use super::scratch::{self, Locking, StaleFolder};
pub use super::summary::{ApplySummary, Redone};
use crate::binary::edit::{Declined, ElfPatch};
use crate::binary::format::{self, BinaryFormat};
use crate::binary::strip::Stripped;
use crate::plan::{Content, Plan, PlannedEntry};
use crate::record::{
    RECORD_PATH, RECORD_VERSION, RecordedKind, RecordedPath, SourceIdentity, WrittenRecord,
};

/// The mode of every folder of a dist, its root included.
const FOLDER_MODE: u32 = 0o755;

/// The mode of the dist record.
const RECORD_MODE: u32 = 0o644;

/// How to write a dist.
pub struct ApplyOptions<'a> {
    pub target: PathBuf,
    /// Replace the target when it is a previous shenzi dist whose record checks out.
    pub force: bool,
    /// With `force`, replace it even when paths were added to it or changed in it
    /// (they are deleted with it, and listed in the summary).
    pub discard_changes: bool,
    /// Writes the ELF edits shenzi declines to write itself (`patchelf`); `None` when
    /// there is none, which is an error only if some binary needs it.
    pub patcher: Option<&'a dyn Patcher>,
    /// Whether shenzi writes the ELF edits it can (else the patcher writes them all).
    pub native_edits: bool,
    /// The modification time every path gets, in seconds since the epoch
    /// (`SOURCE_DATE_EPOCH`, or a fixed default): the same inputs give the same bytes.
    pub mtime: i64,
    /// Called with (entries done, entries in all) as the work goes.
    pub progress: Option<&'a (dyn Fn(u64, u64) + Sync)>,
    /// Hears what the user should know as it happens (a wait, a cleanup).
    pub notice: Option<&'a (dyn Fn(Notice) + Sync)>,
    /// Run on the finished folder before it is renamed into place (`verify`); an error
    /// discards the dist.
    pub check: Option<&'a CheckFn>,
}

/// Something an apply tells as it happens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notice {
    /// Another apply holds the lock on the folder of the target; this one waits for it.
    Waiting { folder: PathBuf },
    /// The folder's filesystem has no `flock`: two applies there are not kept apart.
    NoLock { folder: PathBuf, error: String },
    /// Scratch folders left by applies that were killed, removed before writing (or not
    /// removable: see each one's `error`).
    RemovedStale(Vec<StaleFolder>),
}

/// A check of a finished dist folder; its error is the diagnostic to show.
pub type CheckFn = dyn Fn(&Path) -> Result<(), CheckFailure> + Sync;

/// Writes `plan` to `options.target`.
pub fn write_dist(plan: &Plan, options: &ApplyOptions<'_>) -> Result<ApplySummary, ApplyError> {
    let started = Instant::now();
    let target = &options.target;
    let parent = match target.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
        _ => PathBuf::from("."),
    };
    if !parent.is_dir() {
        return Err(ApplyError::NoParent { path: parent });
    }
    let tell = |notice: Notice| {
        if let Some(notice_fn) = options.notice {
            notice_fn(notice);
        }
    };
    let _interrupts = InterruptFlag::install();
    // Held until this function returns: the dist is in place, or nothing was changed.
    let _lock = scratch::lock(
        &parent,
        |locking| match locking {
            Locking::Waiting => tell(Notice::Waiting {
                folder: parent.clone(),
            }),
            Locking::Unsupported(e) => tell(Notice::NoLock {
                folder: parent.clone(),
                error: e.to_string(),
            }),
        },
        interrupted,
    )?;
    let stale = scratch::remove_stale(&parent, target);
    if !stale.is_empty() {
        tell(Notice::RemovedStale(stale));
    }
    let previous_dist = check_target(target, options)?;
    hook::point("locked");
    // Archives become generated files before anything is written (a source that cannot
    // be read costs nothing).
    let archived = super::archive::with_archives(plan)?;
    let plan: &Plan = &archived;
    let sources = source_identities(plan)?;
    let rebuild = previous_dist
        .as_ref()
        .map(|p| super::rebuild::compare(plan, p, &sources, options.mtime));
    if let (Some(rebuild), Some(old)) = (&rebuild, &previous_dist)
        && rebuild.nothing_changed()
        && old.discarded.is_empty()
    {
        // Every path is what this apply would write: the dist stays as it is.
        hook::point("unchanged");
        return Ok(ApplySummary {
            elapsed: started.elapsed(),
            ..rebuild.unchanged_summary(plan)
        });
    }
    // Every ELF edit is worked out before anything is written, so a binary that needs
    // a missing patchelf costs nothing. Unchanged binaries are linked, not patched.
    let patches = prepare_patches(plan, options.native_edits, rebuild.as_ref())?;
    if options.patcher.is_none() {
        if let Some((dest, why)) = patches.iter().find_map(|(dest, p)| match p {
            Prepared::Patchelf(why) => Some((dest, why)),
            Prepared::Native(..) => None,
        }) {
            return Err(PatchError::Needed {
                file: PathBuf::from(dest),
                why: why.to_string(),
            }
            .into());
        }
    }
    // Dropping `scratch` removes the half-built dist on every early return.
    let scratch = scratch::create(&parent, target)?;
    let root = scratch.path();
    set_mode(root, FOLDER_MODE)?;
    hook::point("scratch");

    let previous = previous_dist
        .as_ref()
        .and_then(|p| Previous::open(target, root, &p.files));
    let mut summary = build(
        plan,
        &patches,
        root,
        options,
        previous.as_ref(),
        &sources,
        rebuild.as_ref(),
    )?;
    drop(previous);
    hook::point("written");
    set_mtimes(plan, &patches, root, options.mtime)?;
    if interrupted() {
        return Err(ApplyError::Interrupted);
    }
    if let Some(check) = options.check {
        check(root).map_err(ApplyError::CheckFailed)?;
    }
    hook::point("checked");

    if let Some(old) = previous_dist {
        exchange(root, target)?;
        // The scratch folder now holds the previous dist, which is removed by its
        // record, not whole.
        let swapped = scratch.keep();
        hook::point("exchanged");
        let left = record::remove_previous(&swapped, &old.record, options.discard_changes, || {
            hook::point("removed")
        });
        if !left.is_empty() {
            summary.kept = Some(keep_aside(&swapped, target));
        }
        summary.discarded = old.discarded;
    } else {
        let built = scratch.keep();
        rename_new(&built, target).map_err(|e| {
            let _ = std::fs::remove_dir_all(&built);
            io("move the new dist to", target)(e)
        })?;
    }
    // Unlinking the old names changed the reused files' change times: the record is
    // touched after, so that the next re-apply trusts them unread. A failure costs only
    // that trust (the next check hashes them).
    let _ = record::stamp(target, options.mtime);
    hook::point("done");
    Ok(ApplySummary {
        elapsed: started.elapsed(),
        ..summary
    })
}

/// The previous dist `--force` replaces, checked; `None` when there is no target.
/// Refuses what may not be replaced.
fn check_target(
    target: &Path,
    options: &ApplyOptions<'_>,
) -> Result<Option<PreviousDist>, ApplyError> {
    match std::fs::symlink_metadata(target) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io("read", target)(e)),
        Ok(meta) if meta.is_dir() => {
            if options.force {
                record::check_previous(target, options.discard_changes, &interrupted).map(Some)
            } else {
                // Its record must check out for `--force` to be the advice.
                record::check_record(target)?;
                Err(ApplyError::TargetExists {
                    path: target.to_owned(),
                })
            }
        }
        Ok(_) => Err(ApplyError::TargetNotADist {
            path: target.to_owned(),
            reason: "it is not a folder".into(),
            help: "choose another output folder with `-o`, or remove it yourself".into(),
        }),
    }
}

/// Moves what is left of a replaced dist to a name the scratch cleanup never takes
/// (`NAME.shenzi-kept-PID`, visible); where it is now.
fn keep_aside(old: &Path, target: &Path) -> PathBuf {
    let kept = old.with_file_name(format!(
        "{}kept-{}",
        scratch::prefix(target).trim_start_matches('.'),
        std::process::id()
    ));
    match rename_new(old, &kept) {
        Ok(()) => kept,
        Err(_) => old.to_owned(),
    }
}

/// How one binary's edits get written.
enum Prepared {
    /// By shenzi, with the source's format: these bytes over a copy.
    Native(&'static dyn BinaryFormat, ElfPatch),
    /// By `patchelf`, for this reason.
    Patchelf(Declined),
}

type Patches<'p> = HashMap<&'p str, Prepared>;

/// The edits of every patched copy, by destination, read from the sources in parallel.
fn prepare_patches<'p>(
    plan: &'p Plan,
    native: bool,
    rebuild: Option<&super::rebuild::Rebuild<'_>>,
) -> Result<Patches<'p>, ApplyError> {
    plan.entries
        .par_iter()
        .filter_map(|entry| match &entry.content {
            Content::Copy {
                source,
                edits: Some(edits),
                strip,
                ..
            } if !edits.is_empty()
                && rebuild.is_none_or(|r| r.unchanged(&entry.dest).is_none()) =>
            {
                Some((entry.dest.as_str(), source, edits, *strip))
            }
            _ => None,
        })
        .map(|(dest, source, edits, strip)| Ok((dest, prepare_one(source, edits, strip, native)?)))
        .collect()
}

/// How one binary's edits get written, worked out from its source.
fn prepare_one(
    source: &Path,
    edits: &crate::binary::edit::ElfEdits,
    strip: bool,
    native: bool,
) -> Result<Prepared, ApplyError> {
    if !native {
        return Ok(Prepared::Patchelf(Declined("asked for".into())));
    }
    let bytes = crate::binary::map_file(source).map_err(io("read", source))?;
    // The edits are worked out on the bytes that will be written: stripped first.
    let stripped = stripped_bytes(&bytes, strip);
    let bytes: &[u8] = stripped.as_deref().unwrap_or(&bytes);
    let Some(format) = format::claiming(bytes) else {
        let why = Declined("no binary format shenzi reads claims it".into());
        return Ok(Prepared::Patchelf(why));
    };
    Ok(match format.prepare(bytes, edits) {
        Ok(patch) => Prepared::Native(format, patch),
        Err(why) => Prepared::Patchelf(why),
    })
}

/// Every copy's source as `stat` sees it before anything is read, by destination.
fn source_identities(plan: &Plan) -> Result<HashMap<&str, SourceIdentity>, ApplyError> {
    plan.entries
        .par_iter()
        .filter_map(|e| match &e.content {
            Content::Copy { source, .. } => Some((e.dest.as_str(), source)),
            _ => None,
        })
        .map(|(dest, source)| {
            let m = std::fs::metadata(source).map_err(io("read", source))?;
            Ok((
                dest,
                SourceIdentity {
                    dev: m.dev(),
                    ino: m.ino(),
                    size: m.len(),
                    mtime_ns: m.mtime() * 1_000_000_000 + m.mtime_nsec(),
                    ctime_ns: m.ctime() * 1_000_000_000 + m.ctime_nsec(),
                },
            ))
        })
        .collect()
}

/// `bytes` stripped (`strip debug`), or `None` when the object is left whole (nothing
/// to drop, or a layout `binary::strip` does not cover) or `strip` is off.
fn stripped_bytes(bytes: &[u8], strip: bool) -> Option<Vec<u8>> {
    let format = strip.then(|| format::claiming(bytes)).flatten()?;
    match format.strip(bytes) {
        Stripped::Bytes { bytes, .. } => Some(bytes),
        Stripped::Whole(_) => None,
    }
}

/// The stripped bytes of `source` when its entry asks for them and there is anything
/// to drop.
fn stripped_source(source: &Path, strip: bool) -> Result<Option<Vec<u8>>, ApplyError> {
    if !strip {
        return Ok(None);
    }
    let bytes = crate::binary::map_file(source).map_err(io("read", source))?;
    Ok(stripped_bytes(&bytes, true))
}

/// Creates `dest`, which must not exist yet, private until its mode is set, open for
/// reading too (to be hashed).
fn create_new(dest: &Path) -> Result<File, ApplyError> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(dest)
        .map_err(io("create", dest))
}

/// Writes `bytes` to the new file `dest`, open for reading too (to be hashed).
fn write_bytes(dest: &Path, bytes: &[u8]) -> Result<File, ApplyError> {
    use std::io::Write;
    let mut to = create_new(dest)?;
    to.write_all(bytes).map_err(io("write", dest))?;
    Ok(to)
}

/// A written file as the record lists it.
fn recorded_file(mode: u32, (hash, size): (blake3::Hash, u64)) -> RecordedKind {
    RecordedKind::File {
        mode: record::mode_text(mode & 0o777),
        size,
        blake3: hash.to_hex().to_string(),
        source: None,
        edits: None,
    }
}

#[allow(clippy::too_many_arguments)]
fn build(
    plan: &Plan,
    patches: &Patches<'_>,
    root: &Path,
    options: &ApplyOptions<'_>,
    previous: Option<&Previous<'_>>,
    sources: &HashMap<&str, SourceIdentity>,
    rebuild: Option<&super::rebuild::Rebuild<'_>>,
) -> Result<ApplySummary, ApplyError> {
    let total = plan.entries.len() as u64 + 1;
    let done = AtomicU64::new(0);
    let tick = || {
        let now = done.fetch_add(1, Ordering::Relaxed) + 1;
        if let Some(progress) = options.progress {
            progress(now, total);
        }
    };
    let mut summary = ApplySummary::default();
    // Every path written, for the record.
    let mut written: BTreeMap<&str, RecordedKind> = BTreeMap::new();

    let (folders, named) = folders(plan);
    summary.dirs = named;
    for _ in 0..named {
        tick();
    }
    for folder in &folders {
        let path = root.join(folder);
        match std::fs::create_dir(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && path.is_dir() => {}
            Err(e) => return Err(io("create", &path)(e)),
        }
        // Set, not asked of `mkdir`: the umask must not change the dist.
        set_mode(&path, FOLDER_MODE)?;
        written.insert(folder, record::dir(folder, FOLDER_MODE).kind);
        hook::point("folder");
    }

    let copies: Vec<&PlannedEntry> = plan
        .entries
        .iter()
        .filter(|e| matches!(e.content, Content::Copy { .. }))
        .collect();
    let reflinked = AtomicU64::new(0);
    let patched = AtomicU64::new(0);
    let by_patchelf = AtomicU64::new(0);
    let reused = AtomicU64::new(0);
    let stripped = AtomicU64::new(0);
    let stripped_saved = AtomicU64::new(0);
    let hashed: Vec<(&str, RecordedKind, bool)> = copies
        .par_iter()
        .map(|entry| {
            if interrupted() {
                return Err(ApplyError::Interrupted);
            }
            let Content::Copy {
                source,
                mode,
                edits,
                stamp_pyc,
                strip,
                size,
                ..
            } = &entry.content
            else {
                unreachable!("filtered to copies above");
            };
            let rel = checked(&entry.dest);
            let dest = root.join(rel);
            let edits = edits.as_ref().filter(|e| !e.is_empty());
            let made = edits_text(edits, *strip, *stamp_pyc);
            let record_it = |content: (blake3::Hash, u64)| match recorded_file(*mode, content) {
                RecordedKind::File {
                    mode, size, blake3, ..
                } => RecordedKind::File {
                    mode,
                    size,
                    blake3,
                    source: sources.get(entry.dest.as_str()).copied(),
                    edits: made.clone(),
                },
                other => other,
            };
            // Inputs unchanged since the previous dist wrote it (patched or not): linked,
            // not read.
            if let Some(old) = rebuild.and_then(|r| r.unchanged(&entry.dest))
                && let Some(content) = previous
                    .and_then(|p| p.link_unchanged(&entry.dest, old, *mode, options.mtime, &dest))
            {
                reused.fetch_add(1, Ordering::Relaxed);
                hook::point("file");
                tick();
                return Ok((entry.dest.as_str(), record_it(content), false));
            }
            let prepared_here;
            let prepared = match edits {
                None => None,
                Some(edits) => match patches.get(entry.dest.as_str()) {
                    Some(p) => Some(p),
                    None => {
                        prepared_here = prepare_one(source, edits, *strip, options.native_edits)?;
                        Some(&prepared_here)
                    }
                },
            };
            // A stripped copy is never the source's bytes: it is written again.
            let reuse = (edits.is_none() && !strip)
                .then(|| {
                    previous.and_then(|p| {
                        p.reuse(&entry.dest, source, *mode, *stamp_pyc, options.mtime, &dest)
                    })
                })
                .flatten();
            let content = if let Some(content) = reuse {
                reused.fetch_add(1, Ordering::Relaxed);
                content
            } else if let (Some(edits), Some(Prepared::Patchelf(why))) = (edits, prepared) {
                // Written once, by patchelf, from the source (never a copy patched after),
                // or from the stripped bytes written first.
                let patcher = options.patcher.ok_or_else(|| PatchError::Needed {
                    file: PathBuf::from(&entry.dest),
                    why: why.to_string(),
                })?;
                match stripped_source(source, *strip)? {
                    Some(bytes) => {
                        drop(write_bytes(&dest, &bytes)?);
                        stripped.fetch_add(1, Ordering::Relaxed);
                        stripped_saved
                            .fetch_add(size.saturating_sub(bytes.len() as u64), Ordering::Relaxed);
                        patcher.patch(&dest, edits)?;
                    }
                    None => patcher.patch_into(source, &dest, edits)?,
                }
                patched.fetch_add(1, Ordering::Relaxed);
                by_patchelf.fetch_add(1, Ordering::Relaxed);
                set_mode(&dest, *mode)?;
                if !patches.contains_key(entry.dest.as_str()) {
                    // Not among the copies `set_mtimes` times: timed here.
                    set_mtime(&dest, options.mtime)?;
                }
                let file = File::open(&dest).map_err(io("read", &dest))?;
                record::hash_file(&file, None).map_err(io("read", &dest))?
            } else {
                let file = match stripped_source(source, *strip)? {
                    Some(bytes) => {
                        stripped.fetch_add(1, Ordering::Relaxed);
                        stripped_saved
                            .fetch_add(size.saturating_sub(bytes.len() as u64), Ordering::Relaxed);
                        write_bytes(&dest, &bytes)?
                    }
                    None => {
                        let (file, was_reflinked) = copy_file(source, &dest)?;
                        if was_reflinked {
                            reflinked.fetch_add(1, Ordering::Relaxed);
                        }
                        file
                    }
                };
                if let Some(Prepared::Native(format, patch)) = prepared {
                    format.apply(&file, patch).map_err(io("patch", &dest))?;
                    patched.fetch_add(1, Ordering::Relaxed);
                }
                if *stamp_pyc {
                    stamp(&file, &dest, options.mtime)?;
                }
                // Mode and time through the open file: no more path lookups.
                file.set_permissions(std::fs::Permissions::from_mode(mode & 0o777))
                    .map_err(io("set the mode of", &dest))?;
                let time = std::time::UNIX_EPOCH + Duration::from_secs(options.mtime.max(0) as u64);
                file.set_times(
                    std::fs::FileTimes::new()
                        .set_accessed(time)
                        .set_modified(time),
                )
                .map_err(io("set the time of", &dest))?;
                record::hash_file(&file, None).map_err(io("read", &dest))?
            };
            hook::point("file");
            tick();
            Ok((entry.dest.as_str(), record_it(content), reuse.is_none()))
        })
        .collect::<Result<_, ApplyError>>()?;
    let fresh: Vec<&str> = hashed
        .iter()
        .filter(|(_, _, fresh)| *fresh)
        .map(|(dest, _, _)| *dest)
        .collect();
    written.extend(hashed.into_iter().map(|(dest, kind, _)| (dest, kind)));
    for entry in &copies {
        if let Content::Copy { size, .. } = entry.content {
            summary.files += 1;
            summary.bytes += size;
        }
    }
    summary.reflinked = reflinked.into_inner();
    summary.patched = patched.into_inner();
    summary.patched_by_patchelf = by_patchelf.into_inner();
    summary.reused = reused.into_inner();
    summary.stripped = stripped.into_inner();
    summary.stripped_bytes = stripped_saved.into_inner();
    summary.bytes = summary.bytes.saturating_sub(summary.stripped_bytes);

    for entry in &plan.entries {
        let path = root.join(checked(&entry.dest));
        match &entry.content {
            Content::Symlink { target } => {
                std::os::unix::fs::symlink(target, &path).map_err(io("link", &path))?;
                written.insert(
                    &entry.dest,
                    RecordedKind::Symlink {
                        target: target.clone(),
                    },
                );
                summary.symlinks += 1;
                tick();
            }
            Content::Bytes { data, mode } => {
                write_new(&path, data, *mode)?;
                written.insert(
                    &entry.dest,
                    recorded_file(*mode, (blake3::hash(data), data.len() as u64)),
                );
                summary.files += 1;
                summary.bytes += data.len() as u64;
                tick();
            }
            // None left: `with_archives` made them generated files.
            Content::Dir | Content::Copy { .. } | Content::Archive { .. } => {}
        }
    }

    let mut dist_record = WrittenRecord {
        record: plan.record.clone(),
        files: written
            .into_iter()
            .map(|(path, kind)| RecordedPath {
                path: path.to_owned(),
                kind,
            })
            .collect(),
        digest: String::new(),
    };
    dist_record.record.version = RECORD_VERSION;
    write_new(
        &root.join(RECORD_PATH),
        &record::render(&dist_record),
        RECORD_MODE,
    )?;
    tick();
    if let Some(rebuild) = rebuild {
        summary.redone = rebuild.redone(plan, &fresh);
        summary.removed = rebuild.removed;
    }
    Ok(summary)
}

fn set_mode(path: &Path, mode: u32) -> Result<(), ApplyError> {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode & 0o777))
        .map_err(io("set the mode of", path))
}

fn write_new(path: &Path, data: &[u8], mode: u32) -> Result<(), ApplyError> {
    use std::io::Write;
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode & 0o777)
        .open(path)
        .map_err(io("create", path))?;
    file.write_all(data).map_err(io("write", path))?;
    set_mode(path, mode)
}

/// Writes `mtime` into a timestamp-based `.pyc` header (bytes 8..12, little endian),
/// where CPython compares it with its source's mtime.
fn stamp(mut file: &File, pyc: &Path, mtime: i64) -> Result<(), ApplyError> {
    use std::io::{Seek, SeekFrom, Write};
    file.seek(SeekFrom::Start(8)).map_err(io("update", pyc))?;
    // The header holds the low 32 bits, as CPython writes them.
    file.write_all(&(mtime as u32).to_le_bytes())
        .map_err(io("update", pyc))
}

/// `FICLONE`: share the source's blocks (btrfs, XFS); fails cheaply elsewhere.
const FICLONE: libc::c_ulong = 0x4004_9409;

/// Copies with the cheapest means the filesystem offers: a reflink, else
/// `copy_file_range` (what `std::io::copy` uses between files on Linux). Never a hard
/// link: the copy may be patched and gets its own mode and mtime. True when reflinked.
/// The copy is open for reading too, to be hashed.
fn copy_file(source: &Path, dest: &Path) -> Result<(File, bool), ApplyError> {
    let mut from = File::open(source).map_err(io("read", source))?;
    let mut to = create_new(dest)?;
    // SAFETY: both descriptors are open files owned by this function.
    if unsafe { libc::ioctl(to.as_raw_fd(), FICLONE as _, from.as_raw_fd()) } == 0 {
        return Ok((to, true));
    }
    std::io::copy(&mut from, &mut to).map_err(io("copy", source))?;
    Ok((to, false))
}

/// The dist being replaced, as a source of files this apply would write unchanged.
struct Previous<'a> {
    /// The old dist's root, as given.
    root: PathBuf,
    /// The same folder, open: old files are opened beneath it, never through a symlink.
    dir: File,
    /// Owner and group of the files this apply creates (those of its scratch folder).
    owner: (u32, u32),
    /// The old dist's files its check proved to hold what its record lists.
    files: &'a HashMap<String, OldFile>,
}

impl<'a> Previous<'a> {
    /// None when the old dist cannot be opened: then nothing is reused.
    fn open(root: &Path, scratch: &Path, files: &'a HashMap<String, OldFile>) -> Option<Self> {
        let dir = File::open(root).ok()?;
        let meta = std::fs::metadata(scratch).ok()?;
        Some(Self {
            root: root.to_owned(),
            dir,
            owner: (meta.uid(), meta.gid()),
            files,
        })
    }

    /// Hard-links `OLD/rel` to `dest` when re-apply found its inputs unchanged
    /// ([`super::rebuild`]) and it is still the file the check proved (the rule in the
    /// module docs, but for reading the source): its hash and size then.
    fn link_unchanged(
        &self,
        rel: &str,
        proven: &OldFile,
        mode: u32,
        mtime: i64,
        dest: &Path,
    ) -> Option<(blake3::Hash, u64)> {
        let old = record::open_for_reading(&self.dir, Path::new(rel)).ok()?;
        let meta = old.metadata().ok()?;
        if !self.fits(&meta, proven, mode, mtime) {
            return None;
        }
        self.link(rel, &old, &meta, dest)
            .then_some((proven.hash, proven.size))
    }

    /// Whether the old file, open, is the one proven, as this apply would write it.
    fn fits(&self, meta: &std::fs::Metadata, proven: &OldFile, mode: u32, mtime: i64) -> bool {
        meta.file_type().is_file()
            && (meta.dev(), meta.ino()) == (proven.dev, proven.ino)
            && (meta.ctime(), meta.ctime_nsec()) == proven.ctime
            && meta.len() == proven.size
            && meta.nlink() == 1
            && (meta.uid(), meta.gid()) == self.owner
            && meta.mode() & 0o7777 == mode & 0o777
            && meta.mtime() == mtime.max(0)
            && meta.mtime_nsec() == 0
    }

    /// Links the old file `rel`, open as `old`, to `dest`; false, with nothing left at
    /// `dest`, when the name linked is not that file or it is linked elsewhere too.
    fn link(&self, rel: &str, old: &File, meta: &std::fs::Metadata, dest: &Path) -> bool {
        if std::fs::hard_link(self.root.join(rel), dest).is_err() {
            return false;
        }
        let linked = std::fs::symlink_metadata(dest);
        let again = old.metadata();
        match (linked, again) {
            (Ok(l), Ok(a)) if (l.dev(), l.ino()) == (meta.dev(), meta.ino()) && a.nlink() == 2 => {
                true
            }
            _ => {
                let _ = std::fs::remove_file(dest);
                false
            }
        }
    }

    /// Hard-links `OLD/rel` to `dest` when it is exactly what copying `source` would
    /// write there (the rule in the module docs): its hash and size then. `None`, with
    /// nothing left at `dest`, when it is not or when anything fails: the caller copies
    /// instead.
    fn reuse(
        &self,
        rel: &str,
        source: &Path,
        mode: u32,
        stamp_pyc: bool,
        mtime: i64,
        dest: &Path,
    ) -> Option<(blake3::Hash, u64)> {
        let proven = self.files.get(rel)?;
        let old = record::open_for_reading(&self.dir, Path::new(rel)).ok()?;
        let meta = old.metadata().ok()?;
        // As the copy writes them: the time clamped, the stamp the low 32 bits.
        let stamp = stamp_pyc.then(|| (mtime as u32).to_le_bytes());
        if !self.fits(&meta, proven, mode, mtime) {
            return None;
        }
        let new = File::open(source).ok()?;
        if !new.metadata().is_ok_and(|m| m.len() == proven.size) {
            return None;
        }
        match record::hash_file(&new, stamp) {
            Ok((hash, len)) if hash == proven.hash && len == proven.size => {}
            _ => return None,
        }
        // The path was checked through the open file; the name linked must be that
        // same file, still linked nowhere else.
        self.link(rel, &old, &meta, dest)
            .then_some((proven.hash, proven.size))
    }
}

/// Gives every path the same modification time, children before their folders.
fn set_mtimes(
    plan: &Plan,
    patches: &Patches<'_>,
    root: &Path,
    mtime: i64,
) -> Result<(), ApplyError> {
    // Copies got their time through their open file already, except those patchelf wrote.
    let mut paths: Vec<PathBuf> = plan
        .entries
        .iter()
        .filter(|e| match &e.content {
            Content::Copy { .. } => {
                matches!(patches.get(e.dest.as_str()), Some(Prepared::Patchelf(_)))
            }
            _ => true,
        })
        .map(|e| root.join(checked(&e.dest)))
        .collect();
    paths.push(root.join(RECORD_PATH));
    // Every folder needs its time too, set after everything inside it.
    let mut dirs: Vec<PathBuf> = plan
        .entries
        .iter()
        .map(|e| root.join(checked(&e.dest)))
        .chain([root.join(RECORD_PATH)])
        .collect::<Vec<_>>()
        .iter()
        .flat_map(|p| p.ancestors().skip(1).take_while(|a| a.starts_with(root)))
        .map(Path::to_owned)
        .collect();
    dirs.sort();
    dirs.dedup();
    paths.extend(dirs);
    // Deepest first, so that setting a folder's time is the last change inside it.
    paths.sort_by_key(|p| std::cmp::Reverse(p.components().count()));
    paths.dedup();
    paths.par_iter().try_for_each(|path| set_mtime(path, mtime))
}

fn set_mtime(path: &Path, mtime: i64) -> Result<(), ApplyError> {
    let c_path = c_path(path).map_err(io("set the time of", path))?;
    let time = libc::timespec {
        tv_sec: mtime as libc::time_t,
        tv_nsec: 0,
    };
    let times = [time, time];
    // SAFETY: a valid NUL-terminated path and two timespecs; the symlink itself is
    // changed, not its target.
    let rc = unsafe {
        libc::utimensat(
            libc::AT_FDCWD,
            c_path.as_ptr(),
            times.as_ptr(),
            libc::AT_SYMLINK_NOFOLLOW,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io("set the time of", path)(std::io::Error::last_os_error()))
    }
}

/// `renameat2` of `from` to `to` with `flags`.
fn rename2(from: &Path, to: &Path, flags: libc::c_uint) -> std::io::Result<()> {
    let a = c_path(from)?;
    let b = c_path(to)?;
    // SAFETY: two valid NUL-terminated paths.
    let rc = unsafe {
        libc::renameat2(
            libc::AT_FDCWD,
            a.as_ptr(),
            libc::AT_FDCWD,
            b.as_ptr(),
            flags,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// Swaps the new dist with the previous one in one step.
fn exchange(new: &Path, target: &Path) -> Result<(), ApplyError> {
    rename2(new, target, libc::RENAME_EXCHANGE).map_err(io("replace", target))
}

/// Renames `from` to `to`, which must not exist (not even as an empty folder).
fn rename_new(from: &Path, to: &Path) -> std::io::Result<()> {
    match rename2(from, to, libc::RENAME_NOREPLACE) {
        // A filesystem without the flag: the plain rename still never replaces a
        // non-empty folder.
        Err(e) if e.raw_os_error() == Some(libc::EINVAL) => std::fs::rename(from, to),
        other => other,
    }
}

static INTERRUPTED: AtomicBool = AtomicBool::new(false);

fn interrupted() -> bool {
    INTERRUPTED.load(Ordering::Relaxed)
}

extern "C" fn on_interrupt(_: libc::c_int) {
    INTERRUPTED.store(true, Ordering::Relaxed);
}

/// While alive, SIGINT and SIGTERM set a flag the workers check, so an interrupted apply
/// stops at the next file and removes its half-built dist instead of dying mid-way.
struct InterruptFlag {
    saved: [libc::sighandler_t; 2],
}

impl InterruptFlag {
    fn install() -> Self {
        INTERRUPTED.store(false, Ordering::Relaxed);
        let handler = on_interrupt as extern "C" fn(libc::c_int) as libc::sighandler_t;
        // SAFETY: the handler only stores to an atomic, which is async-signal-safe.
        unsafe {
            Self {
                saved: [
                    libc::signal(libc::SIGINT, handler),
                    libc::signal(libc::SIGTERM, handler),
                ],
            }
        }
    }
}

impl Drop for InterruptFlag {
    fn drop(&mut self) {
        // SAFETY: restores the dispositions saved by `install`.
        unsafe {
            libc::signal(libc::SIGINT, self.saved[0]);
            libc::signal(libc::SIGTERM, self.saved[1]);
        }
    }
}
