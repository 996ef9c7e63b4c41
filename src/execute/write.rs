//! Building a dist on disk, atomically.
//!
//! The dist is built in a hidden folder beside the target and renamed into place at the
//! end (swapped atomically with `renameat2(RENAME_EXCHANGE)` when `--force` replaces a
//! previous dist), so a failure or an interrupt leaves no half dist. Nothing is written
//! outside that folder and the target; sources are only read.
//!
//! # Re-apply reuses unchanged files
//!
//! With `--force` onto a previous dist, a copy the previous dist already holds exactly is
//! hard-linked from it into the new folder instead of copied: creating an inode is the
//! expensive part of writing a dist (on ext4 right after deletions, very), and `link(2)`
//! creates none. The output is the same, byte for byte, as a cold apply's. A file
//! `OLD/dest` is reused only when all of these hold:
//!
//! - the entry is a copy **without ELF edits** (patched binaries are always rewritten by
//!   the patcher; proving an old patched file equal would mean patching anyway);
//! - `OLD/dest` is a regular file reached without following any symlink, inside the old
//!   dist (`openat2` with `RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS`; before Linux 5.6,
//!   which lacks it, nothing is reused);
//! - it has one link (`nlink == 1`), so the new dist never shares an inode with anything
//!   outside the old dist, and the same owner as the files this apply creates;
//! - its permission bits are the planned mode, its mtime is the fixed mtime (whole
//!   seconds), and its size is the source's;
//! - its bytes equal the source's, read and compared in full (a user may have edited a
//!   dist file and restored its time); for a stamped `.pyc`, bytes 8..12 equal the stamp.
//!
//! Anything else, and any link that fails (another filesystem, too many links, no
//! permission), falls back to the normal copy. Linking changes nothing in the old dist
//! but its inodes' link counts and change times, so it stays whole until the exchange;
//! after it, deleting the old dist only drops the second name of each reused file.
//! Only access times may differ from a cold apply's (the old file's, as last read).

use std::collections::HashMap;
use std::ffi::CString;
use std::fs::{File, OpenOptions};
use std::os::fd::{AsRawFd, FromRawFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use miette::Diagnostic;
use rayon::prelude::*;
use thiserror::Error;

use super::patch::{PatchError, Patcher};
use crate::binary::edit::{self, Declined, ElfPatch};
use crate::plan::{Content, Plan, PlannedEntry, RECORD_PATH};

/// How to write a dist.
pub struct ApplyOptions<'a> {
    pub target: PathBuf,
    /// Replace the target when it is a previous shenzi dist.
    pub force: bool,
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
    /// Run on the finished folder before it is renamed into place (`verify`); an error
    /// discards the dist.
    pub check: Option<&'a CheckFn>,
}

/// A check of a finished dist folder; its error is the diagnostic to show.
pub type CheckFn = dyn Fn(&Path) -> Result<(), CheckFailure> + Sync;

/// Why a built dist failed its check: any diagnostic, shown as it is.
#[derive(Debug)]
pub struct CheckFailure(pub Box<dyn Diagnostic + Send + Sync>);

impl std::fmt::Display for CheckFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for CheckFailure {}

impl Diagnostic for CheckFailure {
    fn code<'a>(&'a self) -> Option<Box<dyn std::fmt::Display + 'a>> {
        self.0.code()
    }
    fn severity(&self) -> Option<miette::Severity> {
        self.0.severity()
    }
    fn help<'a>(&'a self) -> Option<Box<dyn std::fmt::Display + 'a>> {
        self.0.help()
    }
    fn source_code(&self) -> Option<&dyn miette::SourceCode> {
        self.0.source_code()
    }
    fn labels(&self) -> Option<Box<dyn Iterator<Item = miette::LabeledSpan> + '_>> {
        self.0.labels()
    }
    fn related<'a>(&'a self) -> Option<Box<dyn Iterator<Item = &'a dyn Diagnostic> + 'a>> {
        self.0.related()
    }
}

/// What was written.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ApplySummary {
    pub files: u64,
    pub dirs: u64,
    pub symlinks: u64,
    pub bytes: u64,
    /// Binaries whose RUNPATH or needs were rewritten.
    pub patched: u64,
    /// Of those, the ones `patchelf` wrote (shenzi declined them).
    pub patched_by_patchelf: u64,
    /// Copies the filesystem made by reflink (no bytes copied).
    pub reflinked: u64,
    /// Files hard-linked from the previous dist because they were already exactly what
    /// this apply writes (see the module docs).
    pub reused: u64,
    pub elapsed: Duration,
}

#[derive(Debug, Error, Diagnostic)]
pub enum ApplyError {
    #[error("`{path}` exists and is not a shenzi dist; refusing to replace it")]
    #[diagnostic(
        code(shenzi::apply::target_not_a_dist),
        help("choose another output folder with `-o`, or remove it yourself")
    )]
    TargetNotADist { path: PathBuf },

    #[error("`{path}` is a previous shenzi dist")]
    #[diagnostic(
        code(shenzi::apply::target_exists),
        help("pass `--force` to replace it")
    )]
    TargetExists { path: PathBuf },

    #[error("the folder `{path}` that should hold the dist does not exist")]
    #[diagnostic(
        code(shenzi::apply::no_parent),
        help("create it first, or choose another output with `-o`")
    )]
    NoParent { path: PathBuf },

    #[error("cannot {action} `{path}`")]
    #[diagnostic(
        code(shenzi::apply::io),
        help("nothing was left behind: the half-built dist was removed")
    )]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error(transparent)]
    #[diagnostic(transparent)]
    Patch(#[from] PatchError),

    #[error("interrupted; the half-built dist was removed")]
    #[diagnostic(code(shenzi::apply::interrupted))]
    Interrupted,

    /// The check's own diagnostic; the dist was removed.
    #[error(transparent)]
    #[diagnostic(transparent)]
    CheckFailed(CheckFailure),
}

fn io<'p>(action: &'static str, path: &'p Path) -> impl FnOnce(std::io::Error) -> ApplyError + 'p {
    move |source| ApplyError::Io {
        action,
        path: path.to_owned(),
        source,
    }
}

/// Writes `plan` to `options.target`.
pub fn write_dist(plan: &Plan, options: &ApplyOptions<'_>) -> Result<ApplySummary, ApplyError> {
    let started = Instant::now();
    let target = &options.target;
    let replacing = check_target(target, options.force)?;
    let parent = match target.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
        _ => PathBuf::from("."),
    };
    if !parent.is_dir() {
        return Err(ApplyError::NoParent { path: parent });
    }
    // Every ELF edit is worked out before anything is written, so a binary that needs
    // a missing patchelf costs nothing.
    let patches = prepare_patches(plan, options.native_edits)?;
    if options.patcher.is_none() {
        if let Some((dest, why)) = patches.iter().find_map(|(dest, p)| match p {
            Prepared::Patchelf(why) => Some((dest, why)),
            Prepared::Native(_) => None,
        }) {
            return Err(PatchError::Needed {
                file: PathBuf::from(dest),
                why: why.to_string(),
            }
            .into());
        }
    }
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "dist".into());
    // Dropping `scratch` removes the half-built dist on every early return.
    let scratch = tempfile::Builder::new()
        .prefix(&format!(".{name}.shenzi-"))
        .tempdir_in(&parent)
        .map_err(io("create a folder beside", target))?;
    let root = scratch.path();

    let _interrupts = InterruptFlag::install();
    let previous = if replacing {
        Previous::open(target, root)
    } else {
        None
    };
    let summary = build(plan, &patches, root, options, previous.as_ref())?;
    set_mtimes(plan, &patches, root, options.mtime)?;
    if interrupted() {
        return Err(ApplyError::Interrupted);
    }
    if let Some(check) = options.check {
        check(root).map_err(ApplyError::CheckFailed)?;
    }

    if replacing {
        exchange(root, target)?;
        // `scratch` now holds the previous dist. Removed here, so that the time reported
        // includes it; a file it cannot remove is left, as a drop would.
        drop(previous);
        let _ = scratch.close();
    } else {
        let built = scratch.keep();
        std::fs::rename(&built, target).map_err(|e| {
            let _ = std::fs::remove_dir_all(&built);
            io("move the new dist to", target)(e)
        })?;
    }
    Ok(ApplySummary {
        elapsed: started.elapsed(),
        ..summary
    })
}

/// Whether an existing target will be replaced; refuses what may not be.
fn check_target(target: &Path, force: bool) -> Result<bool, ApplyError> {
    match std::fs::symlink_metadata(target) {
        Err(_) => Ok(false),
        Ok(meta) if meta.is_dir() && target.join(RECORD_PATH).is_file() => {
            if force {
                Ok(true)
            } else {
                Err(ApplyError::TargetExists {
                    path: target.to_owned(),
                })
            }
        }
        Ok(_) => Err(ApplyError::TargetNotADist {
            path: target.to_owned(),
        }),
    }
}

/// How one binary's edits get written.
enum Prepared {
    /// By shenzi: these bytes over a copy.
    Native(ElfPatch),
    /// By `patchelf`, for this reason.
    Patchelf(Declined),
}

type Patches<'p> = HashMap<&'p str, Prepared>;

/// The edits of every patched copy, by destination, read from the sources in parallel.
fn prepare_patches(plan: &Plan, native: bool) -> Result<Patches<'_>, ApplyError> {
    plan.entries
        .par_iter()
        .filter_map(|entry| match &entry.content {
            Content::Copy {
                source,
                edits: Some(edits),
                ..
            } if !edits.is_empty() => Some((entry.dest.as_str(), source, edits)),
            _ => None,
        })
        .map(|(dest, source, edits)| {
            if !native {
                return Ok((dest, Prepared::Patchelf(Declined("asked for".into()))));
            }
            let bytes = crate::binary::map_file(source).map_err(io("read", source))?;
            let prepared = match edit::prepare(&bytes, edits) {
                Ok(patch) => Prepared::Native(patch),
                Err(why) => Prepared::Patchelf(why),
            };
            Ok((dest, prepared))
        })
        .collect()
}

fn build(
    plan: &Plan,
    patches: &Patches<'_>,
    root: &Path,
    options: &ApplyOptions<'_>,
    previous: Option<&Previous>,
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

    // Every folder once, parents before children (sorted paths put a folder before
    // what is inside it).
    let mut folders: std::collections::BTreeSet<&str> = std::collections::BTreeSet::new();
    for entry in &plan.entries {
        let dest = checked(&entry.dest).to_str().unwrap_or_default();
        if matches!(entry.content, Content::Dir) {
            folders.insert(dest);
            summary.dirs += 1;
            tick();
        }
        let mut at = dest;
        while let Some((parent, _)) = at.rsplit_once('/') {
            if !folders.insert(parent) {
                break;
            }
            at = parent;
        }
    }
    for folder in &folders {
        let path = root.join(folder);
        match std::fs::create_dir(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && path.is_dir() => {}
            Err(e) => return Err(io("create", &path)(e)),
        }
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
    copies.par_iter().try_for_each(|entry| {
        if interrupted() {
            return Err(ApplyError::Interrupted);
        }
        let Content::Copy {
            source,
            mode,
            edits,
            stamp_pyc,
            ..
        } = &entry.content
        else {
            unreachable!("filtered to copies above");
        };
        let rel = checked(&entry.dest);
        let dest = root.join(rel);
        let edits = edits.as_ref().filter(|e| !e.is_empty());
        let prepared = edits.and_then(|_| patches.get(entry.dest.as_str()));
        if edits.is_none()
            && previous
                .is_some_and(|p| p.reuse(rel, source, *mode, *stamp_pyc, options.mtime, &dest))
        {
            reused.fetch_add(1, Ordering::Relaxed);
        } else if let (Some(edits), Some(Prepared::Patchelf(why))) = (edits, prepared) {
            // Written once, by patchelf, from the source (never a copy patched after).
            let patcher = options.patcher.ok_or_else(|| PatchError::Needed {
                file: PathBuf::from(&entry.dest),
                why: why.to_string(),
            })?;
            patcher.patch_into(source, &dest, edits)?;
            patched.fetch_add(1, Ordering::Relaxed);
            by_patchelf.fetch_add(1, Ordering::Relaxed);
            std::fs::set_permissions(&dest, std::fs::Permissions::from_mode(mode & 0o777))
                .map_err(io("set the mode of", &dest))?;
        } else {
            let (file, was_reflinked) = copy_file(source, &dest)?;
            if was_reflinked {
                reflinked.fetch_add(1, Ordering::Relaxed);
            }
            if let Some(Prepared::Native(patch)) = prepared {
                write_patch(&file, patch).map_err(io("patch", &dest))?;
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
        }
        tick();
        Ok(())
    })?;
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

    for entry in &plan.entries {
        let path = root.join(checked(&entry.dest));
        match &entry.content {
            Content::Symlink { target } => {
                std::os::unix::fs::symlink(target, &path).map_err(io("link", &path))?;
                summary.symlinks += 1;
                tick();
            }
            Content::Bytes { data, mode } => {
                write_new(&path, data, *mode)?;
                summary.files += 1;
                summary.bytes += data.len() as u64;
                tick();
            }
            Content::Dir | Content::Copy { .. } => {}
        }
    }

    let record = root.join(RECORD_PATH);
    if let Some(parent) = record.parent() {
        std::fs::create_dir_all(parent).map_err(io("create", parent))?;
    }
    // Serialising plain structs of strings cannot fail.
    let mut text = serde_json::to_string_pretty(&plan.record).expect("record serialises");
    text.push('\n');
    write_new(&record, text.as_bytes(), 0o644)?;
    tick();
    Ok(summary)
}

/// A planned destination as a relative path; the planner guarantees the shape, this
/// keeps a planner bug from ever writing outside the dist.
fn checked(dest: &str) -> &Path {
    assert!(
        !dest.starts_with('/')
            && dest
                .split('/')
                .all(|s| !s.is_empty() && s != "." && s != ".."),
        "planner produced an unsafe destination `{dest}`"
    );
    Path::new(dest)
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
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode & 0o777))
        .map_err(io("set the mode of", path))
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
fn copy_file(source: &Path, dest: &Path) -> Result<(File, bool), ApplyError> {
    let mut from = File::open(source).map_err(io("read", source))?;
    let mut to = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(dest)
        .map_err(io("create", dest))?;
    // SAFETY: both descriptors are open files owned by this function.
    if unsafe { libc::ioctl(to.as_raw_fd(), FICLONE as _, from.as_raw_fd()) } == 0 {
        return Ok((to, true));
    }
    std::io::copy(&mut from, &mut to).map_err(io("copy", source))?;
    Ok((to, false))
}

/// Writes a prepared edit over a fresh copy: the length first (a longer file reads as
/// zeros, and the hole costs no blocks), then each range.
fn write_patch(file: &File, patch: &ElfPatch) -> std::io::Result<()> {
    use std::os::unix::fs::FileExt;
    file.set_len(patch.len)?;
    for (at, bytes) in &patch.writes {
        file.write_all_at(bytes, *at)?;
    }
    Ok(())
}

/// The dist being replaced, as a source of files this apply would write unchanged.
struct Previous {
    /// The old dist's root, as given.
    root: PathBuf,
    /// The same folder, open: old files are opened beneath it, never through a symlink.
    dir: File,
    /// Owner and group of the files this apply creates (those of its scratch folder).
    owner: (u32, u32),
}

/// Bytes compared at a time.
const CHUNK: usize = 128 * 1024;

impl Previous {
    /// None when the old dist cannot be opened: then nothing is reused.
    fn open(root: &Path, scratch: &Path) -> Option<Self> {
        let dir = File::open(root).ok()?;
        let meta = std::fs::metadata(scratch).ok()?;
        Some(Self {
            root: root.to_owned(),
            dir,
            owner: (meta.uid(), meta.gid()),
        })
    }

    /// Hard-links `OLD/rel` to `dest` when it is exactly what copying `source` would
    /// write there (the rule in the module docs). False, with nothing left at `dest`,
    /// when it is not or when anything fails: the caller copies instead.
    fn reuse(
        &self,
        rel: &Path,
        source: &Path,
        mode: u32,
        stamp_pyc: bool,
        mtime: i64,
        dest: &Path,
    ) -> bool {
        let Ok(old) = self.open_beneath(rel) else {
            return false;
        };
        let Ok(meta) = old.metadata() else {
            return false;
        };
        // As the copy writes them: the time clamped, the stamp the low 32 bits.
        let stamp = stamp_pyc.then(|| (mtime as u32).to_le_bytes());
        let mtime = mtime.max(0);
        if !meta.file_type().is_file()
            || meta.nlink() != 1
            || (meta.uid(), meta.gid()) != self.owner
            || meta.mode() & 0o7777 != mode & 0o777
            || meta.mtime() != mtime
            || meta.mtime_nsec() != 0
        {
            return false;
        }
        let Ok(new) = File::open(source) else {
            return false;
        };
        if !new.metadata().is_ok_and(|m| m.len() == meta.len()) {
            return false;
        }
        if !same_bytes(&old, &new, stamp).unwrap_or(false) {
            return false;
        }
        if std::fs::hard_link(self.root.join(rel), dest).is_err() {
            return false;
        }
        // The path was checked through the open file; make sure the name linked is that
        // same file, still linked nowhere else.
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

    /// Opens a file of the old dist for reading, refusing any symlink on the way and
    /// anything outside the old dist; without changing its access time when allowed
    /// (a file this apply may not open so is not its own anyway).
    fn open_beneath(&self, rel: &Path) -> std::io::Result<File> {
        let path = c_path(rel)?;
        // SAFETY: `open_how` is plain integers; all-zero is its documented default.
        let mut how: libc::open_how = unsafe { std::mem::zeroed() };
        // Non-blocking so that a FIFO put where a file was is not waited on.
        how.flags = (libc::O_RDONLY | libc::O_CLOEXEC | libc::O_NONBLOCK | libc::O_NOATIME) as u64;
        how.resolve = libc::RESOLVE_BENEATH | libc::RESOLVE_NO_SYMLINKS;
        // SAFETY: a valid folder descriptor, NUL-terminated path and `open_how` of the
        // size passed.
        let fd = unsafe {
            libc::syscall(
                libc::SYS_openat2,
                self.dir.as_raw_fd(),
                path.as_ptr(),
                &how as *const libc::open_how,
                std::mem::size_of::<libc::open_how>(),
            )
        };
        if fd < 0 {
            return Err(std::io::Error::last_os_error());
        }
        // SAFETY: a descriptor just opened and owned by nothing else.
        Ok(unsafe { File::from_raw_fd(fd as libc::c_int) })
    }
}

/// Whether two files of the same length hold the same bytes, `new`'s bytes 8..12 taken
/// as `stamp` when given (a `.pyc` as `stamp` would write it).
fn same_bytes(old: &File, new: &File, stamp: Option<[u8; 4]>) -> std::io::Result<bool> {
    let mut a = vec![0u8; CHUNK];
    let mut b = vec![0u8; CHUNK];
    let mut at = 0usize;
    loop {
        let n = read_full(old, &mut a)?;
        if read_full(new, &mut b)? != n {
            return Ok(false);
        }
        if n == 0 {
            return Ok(true);
        }
        if let Some(stamp) = stamp
            && at == 0
        {
            if n < 12 {
                return Ok(false);
            }
            b[8..12].copy_from_slice(&stamp);
        }
        if a[..n] != b[..n] {
            return Ok(false);
        }
        at += n;
    }
}

/// Reads until `buf` is full or the file ends; the count read.
fn read_full(mut file: &File, buf: &mut [u8]) -> std::io::Result<usize> {
    use std::io::Read;
    let mut n = 0;
    while n < buf.len() {
        match file.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
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
    paths.push(root.join(".shenzi"));
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

/// `path` for a libc call; a path with a NUL byte (none from the OS has one) is
/// `InvalidInput`.
fn c_path(path: &Path) -> std::io::Result<CString> {
    CString::new(path.as_os_str().as_bytes())
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::InvalidInput, "NUL in path"))
}

/// Swaps the new dist with the previous one in one step.
fn exchange(new: &Path, target: &Path) -> Result<(), ApplyError> {
    let a = c_path(new).map_err(io("replace", target))?;
    let b = c_path(target).map_err(io("replace", target))?;
    // SAFETY: two valid NUL-terminated paths; RENAME_EXCHANGE swaps them atomically.
    let rc = unsafe {
        libc::renameat2(
            libc::AT_FDCWD,
            a.as_ptr(),
            libc::AT_FDCWD,
            b.as_ptr(),
            libc::RENAME_EXCHANGE,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io("replace", target)(std::io::Error::last_os_error()))
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
