//! The dist record as `apply` writes it, and the check of a previous dist before
//! `--force` replaces it.
//!
//! # What `--force` replaces
//!
//! `.shenzi/dist.json` lists every path `apply` wrote (folders with their mode, files
//! with mode, size and blake3, symlinks with their target) and ends with its own blake3
//! (`digest`, over the file with those 64 digits written as zeros). `--force` replaces
//! a folder only when all of this holds, checked before anything is written:
//!
//! - its record is a regular file, is this shenzi's format (version
//!   [`RECORD_VERSION`]; older records list no files) and its digest checks out, so a
//!   record written or edited by hand is not taken for one;
//! - every path in the folder is in the record, of the recorded kind; each file has the
//!   recorded size and bytes, each symlink the recorded target. A file whose change
//!   time is earlier than the record's (strictly: a change in the same clock tick as
//!   the record's last touch is not ruled out) is taken to hold the recorded bytes unread (an
//!   apply touches its record last, so any change since would be newer); others are
//!   hashed in full. A path
//!   the record lists that is gone is fine (nothing is lost by not removing it); a mode
//!   changed by `chmod` is fine too (the bytes are still what shenzi wrote).
//!
//! A folder without a record, or whose record does not check out, is never replaced.
//! A dist holding paths that were added or changed is not replaced either: apply stops
//! and lists them. With `--discard-changes` it replaces the dist anyway and names what
//! it deleted. Keeping such files by carrying them into the new dist was not chosen: the
//! new dist would then hold files no layout describes, differ from a cold apply's and
//! escape `verify`, and a stale copy of an edited file would shadow the one the layout
//! now writes.
//!
//! Once the new dist has taken the old one's place, the old one is removed path by path
//! from its record (children first, each opened beneath the old root, never through a
//! symlink); with `--discard-changes`, whatever is left goes too.

use std::collections::HashMap;
use std::ffi::CString;
use std::fs::File;
use std::io::Read;
use std::os::fd::{AsRawFd, FromRawFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::{Path, PathBuf};

use rayon::prelude::*;

use super::diagnostics::{ApplyError, io};
use crate::record::{RECORD_PATH, RECORD_VERSION, RecordedKind, RecordedPath, WrittenRecord};

/// The digest's hex digits as the digest is computed over them.
const ZEROS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// The record's bytes, with its digest. Two levels are laid out as `serde_json`'s
/// pretty printer does; each entry of `files` is one line.
pub(super) fn render(record: &WrittenRecord) -> Vec<u8> {
    let mut record = record.clone();
    record.digest = ZEROS.to_owned();
    let mut text = Vec::new();
    let mut ser = serde_json::Serializer::with_formatter(&mut text, Lines::default());
    // Plain structs of strings and numbers serialise without fail into a Vec.
    serde::Serialize::serialize(&record, &mut ser).expect("the record serialises");
    text.push(b'\n');
    let digest = blake3::hash(&text).to_hex();
    let at = digest_at(&text).expect("the digest is the record's last field");
    text[at..at + ZEROS.len()].copy_from_slice(digest.as_bytes());
    text
}

/// Where the 64 hex digits of the digest start, when the text ends with the digest
/// field as [`render`] writes it.
fn digest_at(text: &[u8]) -> Option<usize> {
    const HEAD: &[u8] = b",\n  \"digest\": \"";
    const TAIL: &[u8] = b"\"\n}\n";
    let end = text.len().checked_sub(TAIL.len())?;
    let at = end.checked_sub(ZEROS.len())?;
    (text[end..] == *TAIL && text[..at].ends_with(HEAD)).then_some(at)
}

/// Whether a record's text carries its own correct digest.
fn digest_ok(text: &[u8]) -> bool {
    let Some(at) = digest_at(text) else {
        return false;
    };
    let claimed = &text[at..at + ZEROS.len()];
    let mut zeroed = text.to_vec();
    zeroed[at..at + ZEROS.len()].copy_from_slice(ZEROS.as_bytes());
    blake3::hash(&zeroed).to_hex().as_bytes() == claimed
}

/// `serde_json`'s pretty layout down to `BREAK_DEPTH`, compact below it.
#[derive(Default)]
struct Lines {
    depth: usize,
    has_value: bool,
}

const BREAK_DEPTH: usize = 2;

impl Lines {
    fn breaks(&self) -> bool {
        self.depth <= BREAK_DEPTH
    }

    fn newline<W: ?Sized + std::io::Write>(w: &mut W, depth: usize) -> std::io::Result<()> {
        w.write_all(b"\n")?;
        for _ in 0..depth {
            w.write_all(b"  ")?;
        }
        Ok(())
    }

    fn open<W: ?Sized + std::io::Write>(&mut self, w: &mut W, c: &[u8]) -> std::io::Result<()> {
        self.depth += 1;
        self.has_value = false;
        w.write_all(c)
    }

    fn close<W: ?Sized + std::io::Write>(&mut self, w: &mut W, c: &[u8]) -> std::io::Result<()> {
        let broke = self.breaks();
        self.depth -= 1;
        if broke && self.has_value {
            Self::newline(w, self.depth)?;
        }
        w.write_all(c)
    }

    fn item<W: ?Sized + std::io::Write>(&mut self, w: &mut W, first: bool) -> std::io::Result<()> {
        if !first {
            w.write_all(b",")?;
        }
        if self.breaks() {
            Self::newline(w, self.depth)?;
        }
        Ok(())
    }
}

impl serde_json::ser::Formatter for Lines {
    fn begin_array<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.open(w, b"[")
    }
    fn end_array<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.close(w, b"]")
    }
    fn begin_array_value<W: ?Sized + std::io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> std::io::Result<()> {
        self.item(w, first)
    }
    fn end_array_value<W: ?Sized + std::io::Write>(&mut self, _: &mut W) -> std::io::Result<()> {
        self.has_value = true;
        Ok(())
    }
    fn begin_object<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.open(w, b"{")
    }
    fn end_object<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.close(w, b"}")
    }
    fn begin_object_key<W: ?Sized + std::io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> std::io::Result<()> {
        self.item(w, first)
    }
    fn begin_object_value<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        w.write_all(if self.breaks() { b": " } else { b":" })
    }
    fn end_object_value<W: ?Sized + std::io::Write>(&mut self, _: &mut W) -> std::io::Result<()> {
        self.has_value = true;
        Ok(())
    }
}

/// A mode as the record writes it.
pub(super) fn mode_text(mode: u32) -> String {
    format!("{:o}", mode & 0o7777)
}

/// A file of the previous dist proven to hold what its record says.
#[derive(Debug, Clone)]
pub(super) struct OldFile {
    pub dev: u64,
    pub ino: u64,
    /// Change time when it was proven: unchanged, the file was not written since.
    pub ctime: (i64, i64),
    pub size: u64,
    pub hash: blake3::Hash,
    pub mtime: (i64, i64),
    pub nlink: u64,
    pub mode: u32,
}

/// A path of the previous dist that its record does not account for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Difference {
    pub path: String,
    /// Not in the record at all (else: in it, with other bytes, kind or target).
    pub added: bool,
}

impl std::fmt::Display for Difference {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let what = if self.added { "added" } else { "changed" };
        write!(f, "{} ({what})", self.path)
    }
}

/// A previous dist `--force` may replace: its record, and the files proven to be as
/// recorded (which re-apply may hard-link).
pub(super) struct PreviousDist {
    pub record: WrittenRecord,
    pub files: HashMap<String, OldFile>,
    /// What was added or changed (empty unless `--discard-changes` let it through).
    pub discarded: Vec<Difference>,
}

/// The largest record read (a 50,000-file dist's is about 8 MB).
const RECORD_LIMIT: u64 = 256 << 20;

/// Reads the record of `target`, an existing folder, and checks that it is one this
/// shenzi wrote (the first rule in the module docs): the record, and the folder open.
pub(super) fn check_record(target: &Path) -> Result<(WrittenRecord, File), ApplyError> {
    check_record_stamped(target).map(|(record, root, _)| (record, root))
}

/// [`check_record`], with the record's change time: files of the dist changed no later
/// were last written by the apply that wrote the record (it touches the record last).
fn check_record_stamped(target: &Path) -> Result<(WrittenRecord, File, (i64, i64)), ApplyError> {
    let not_a_dist = |reason: String, help: &str| ApplyError::TargetNotADist {
        path: target.to_owned(),
        reason,
        help: help.to_owned(),
    };
    let remove_it = "choose another output folder with `-o`, or remove it yourself";
    let root = File::open(target).map_err(io("open", target))?;
    let (text, stamp) = match read_record(&root) {
        Ok(read) => read,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(not_a_dist(format!("it has no `{RECORD_PATH}`"), remove_it));
        }
        Err(e) => {
            return Err(not_a_dist(
                format!("its `{RECORD_PATH}` cannot be read as a file ({e})"),
                remove_it,
            ));
        }
    };
    let record: WrittenRecord = serde_json::from_slice(&text).map_err(|e| {
        not_a_dist(
            format!("its `{RECORD_PATH}` is not a dist record ({e})"),
            remove_it,
        )
    })?;
    let version = record.record.version;
    if version < RECORD_VERSION {
        return Err(not_a_dist(
            format!(
                "its record was written by an older shenzi ({}) and does not list the files it wrote",
                record.record.shenzi
            ),
            "remove it yourself (`rm -r`) and apply again; dists written by this shenzi are replaced with `--force`",
        ));
    }
    if version > RECORD_VERSION {
        return Err(not_a_dist(
            format!(
                "its record is version {version}, newer than this shenzi writes ({RECORD_VERSION})"
            ),
            "replace it with the shenzi that wrote it, or choose another output folder with `-o`",
        ));
    }
    if !digest_ok(&text) {
        return Err(not_a_dist(
            format!(
                "its `{RECORD_PATH}` was not written as shenzi writes it (its digest does not match)"
            ),
            remove_it,
        ));
    }
    if let Some(bad) = record.files.iter().find(|f| !safe(&f.path)) {
        return Err(not_a_dist(
            format!("its record lists the unsafe path `{}`", bad.path),
            remove_it,
        ));
    }
    Ok((record, root, stamp))
}

/// Checks that `target`, an existing folder, is a shenzi dist `--force` may replace
/// (the rules in the module docs).
pub(super) fn check_previous(
    target: &Path,
    discard: bool,
    interrupted: &(dyn Fn() -> bool + Sync),
) -> Result<PreviousDist, ApplyError> {
    let (record, root, stamp) = check_record_stamped(target)?;
    let recorded: HashMap<&str, &RecordedKind> = record
        .files
        .iter()
        .map(|f| (f.path.as_str(), &f.kind))
        .collect();
    let mut differences = Vec::new();
    // (path, recorded size, recorded hash) of files to hash.
    let mut to_hash: Vec<(String, u64, &str)> = Vec::new();
    // Files trusted by their change time, not read.
    let mut trusted: Vec<(String, OldFile)> = Vec::new();
    let mut walk = walkdir::WalkDir::new(target)
        .min_depth(1)
        .sort_by_file_name()
        .into_iter();
    while let Some(entry) = walk.next() {
        let entry = entry.map_err(|e| {
            let path = e.path().unwrap_or(target).to_owned();
            ApplyError::Io {
                action: "read",
                path,
                source: e.into(),
            }
        })?;
        let ft = entry.file_type();
        let rel = entry
            .path()
            .strip_prefix(target)
            .unwrap_or(entry.path())
            .to_str()
            .map(str::to_owned);
        let differ = |rel: Option<String>, added| Difference {
            path: rel.unwrap_or_else(|| {
                let lossy = entry.path().strip_prefix(target).unwrap_or(entry.path());
                lossy.to_string_lossy().into_owned()
            }) + if ft.is_dir() { "/" } else { "" },
            added,
        };
        if rel.as_deref() == Some(RECORD_PATH) {
            continue;
        }
        let same = match rel.as_deref().and_then(|r| recorded.get(r)) {
            None => {
                differences.push(differ(rel, true));
                if ft.is_dir() {
                    walk.skip_current_dir();
                }
                continue;
            }
            Some(RecordedKind::Dir { .. }) => ft.is_dir(),
            Some(RecordedKind::Symlink { target: to }) => {
                ft.is_symlink()
                    && std::fs::read_link(entry.path())
                        .is_ok_and(|t| t.as_os_str().as_bytes() == to.as_bytes())
            }
            Some(RecordedKind::File { size, blake3, .. }) => {
                let meta = entry
                    .metadata()
                    .ok()
                    .filter(|m| ft.is_file() && m.len() == *size);
                let hash = blake3::Hash::from_hex(blake3).ok();
                match (meta, hash) {
                    (Some(m), Some(hash)) if (m.ctime(), m.ctime_nsec()) < stamp => {
                        trusted.push((rel.clone().unwrap_or_default(), old_file(&m, hash)));
                        true
                    }
                    (Some(_), _) => {
                        to_hash.push((rel.clone().unwrap_or_default(), *size, blake3));
                        true
                    }
                    (None, _) => false,
                }
            }
        };
        if !same {
            if ft.is_dir() {
                walk.skip_current_dir();
            }
            differences.push(differ(rel, false));
        }
    }

    let hashed: Vec<(String, Option<OldFile>)> = to_hash
        .into_par_iter()
        .map(|(rel, size, claimed)| {
            if interrupted() {
                return Err(ApplyError::Interrupted);
            }
            let old =
                prove_file(&root, &rel, size, claimed).map_err(io("read", &target.join(&rel)))?;
            Ok((rel, old))
        })
        .collect::<Result<_, ApplyError>>()?;
    let mut files: HashMap<String, OldFile> = trusted.into_iter().collect();
    for (rel, old) in hashed {
        match old {
            Some(old) => {
                files.insert(rel, old);
            }
            None => differences.push(Difference {
                path: rel,
                added: false,
            }),
        }
    }
    differences.sort_by(|a, b| a.path.cmp(&b.path));
    if !differences.is_empty() && !discard {
        return Err(ApplyError::TargetChanged {
            path: target.to_owned(),
            count: plural(differences.len(), "path"),
            listing: listing(&differences),
        });
    }
    Ok(PreviousDist {
        record,
        files,
        discarded: differences,
    })
}

/// `n` and the noun, plural when it is.
fn plural(n: usize, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

/// How many differences a message lists before it counts the rest.
const LISTED: usize = 20;

/// The differences, one indented line each, the first [`LISTED`].
pub fn listing(differences: &[Difference]) -> String {
    let mut lines: Vec<String> = differences
        .iter()
        .take(LISTED)
        .map(|d| format!("  {d}"))
        .collect();
    if differences.len() > LISTED {
        lines.push(format!("  … and {} more", differences.len() - LISTED));
    }
    lines.join("\n")
}

/// A clean relative path: no `/` at either end, no empty, `.` or `..` segment.
pub(super) fn safe(path: &str) -> bool {
    !path.is_empty()
        && !path.contains('\0')
        && path
            .split('/')
            .all(|s| !s.is_empty() && s != "." && s != "..")
}

/// Reads the record of the dist whose root is open as `root`: a regular file reached
/// without a symlink, below the size limit.
fn read_record(root: &File) -> std::io::Result<(Vec<u8>, (i64, i64))> {
    let file = open_in(
        root,
        Path::new(RECORD_PATH),
        libc::O_RDONLY | libc::O_NONBLOCK,
    )?;
    let meta = file.metadata()?;
    if !meta.is_file() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "not a regular file",
        ));
    }
    if meta.len() > RECORD_LIMIT {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("larger than {} MB", RECORD_LIMIT >> 20),
        ));
    }
    let mut text = Vec::with_capacity(meta.len() as usize);
    file.take(RECORD_LIMIT + 1).read_to_end(&mut text)?;
    Ok((text, (meta.ctime(), meta.ctime_nsec())))
}

/// Hashes the previous dist's `rel`, opened beneath `root`: `Some` when it is a regular
/// file of the recorded size and hash.
fn prove_file(
    root: &File,
    rel: &str,
    size: u64,
    claimed: &str,
) -> std::io::Result<Option<OldFile>> {
    let file = open_for_reading(root, Path::new(rel))?;
    let meta = file.metadata()?;
    if !meta.is_file() || meta.len() != size {
        return Ok(None);
    }
    let (hash, len) = hash_file(&file, None)?;
    if len != size || hash.to_hex().as_str() != claimed {
        return Ok(None);
    }
    Ok(Some(old_file(&meta, hash)))
}

/// A proven file as `stat` shows it.
fn old_file(meta: &std::fs::Metadata, hash: blake3::Hash) -> OldFile {
    OldFile {
        dev: meta.dev(),
        ino: meta.ino(),
        ctime: (meta.ctime(), meta.ctime_nsec()),
        size: meta.len(),
        hash,
        mtime: (meta.mtime(), meta.mtime_nsec()),
        nlink: meta.nlink(),
        mode: meta.mode(),
    }
}

/// Touches the record of the dist at `root` (its times set again to `mtime`): its change
/// time is then the latest in the dist, and the next `--force` trusts every file changed
/// no later without reading it. The last write of an apply.
pub(super) fn stamp(root: &Path, mtime: i64) -> std::io::Result<()> {
    let file = File::open(root.join(RECORD_PATH))?;
    let time = std::time::UNIX_EPOCH + std::time::Duration::from_secs(mtime.max(0) as u64);
    file.set_times(
        std::fs::FileTimes::new()
            .set_accessed(time)
            .set_modified(time),
    )
}

/// Opens `rel` beneath `root` for reading, without following a symlink, without
/// updating its access time where the kernel allows it (only a file's owner may ask).
pub(super) fn open_for_reading(root: &File, rel: &Path) -> std::io::Result<File> {
    let flags = libc::O_RDONLY | libc::O_NONBLOCK;
    match open_in(root, rel, flags | libc::O_NOATIME) {
        Err(e) if e.raw_os_error() == Some(libc::EPERM) => open_in(root, rel, flags),
        other => other,
    }
}

/// Bytes hashed at a time.
const CHUNK: usize = 128 * 1024;

/// blake3 and length of a file's bytes from its start, its bytes 8..12 taken as `stamp`
/// when given (a `.pyc` as `stamp` writes it; a file shorter than 12 bytes is an
/// `InvalidData` error then).
pub(super) fn hash_file(
    file: &File,
    stamp: Option<[u8; 4]>,
) -> std::io::Result<(blake3::Hash, u64)> {
    let mut hasher = blake3::Hasher::new();
    let mut buf = vec![0u8; CHUNK];
    let mut at = 0u64;
    loop {
        let n = read_full_at(file, &mut buf, at)?;
        if n == 0 {
            break;
        }
        if let Some(stamp) = stamp
            && at == 0
        {
            if n < 12 {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    "too short for a .pyc",
                ));
            }
            buf[8..12].copy_from_slice(&stamp);
        }
        hasher.update(&buf[..n]);
        at += n as u64;
    }
    Ok((hasher.finalize(), at))
}

/// Reads at `at` until `buf` is full or the file ends; the count read.
fn read_full_at(file: &File, buf: &mut [u8], at: u64) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match file.read_at(&mut buf[n..], at + n as u64) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// `path` for a libc call; a path with a NUL byte (none from the OS has one) is
/// `InvalidInput`.
pub(super) fn c_path(path: &Path) -> std::io::Result<CString> {
    CString::new(path.as_os_str().as_bytes())
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::InvalidInput, "NUL in path"))
}

/// Opens `rel` beneath the folder `root` with `flags` (plus `O_CLOEXEC`), refusing any
/// symlink on the way and anything outside `root`: `openat2` with `RESOLVE_BENEATH |
/// RESOLVE_NO_SYMLINKS`, or before Linux 5.6 one `openat(O_NOFOLLOW)` per segment.
pub(super) fn open_in(root: &File, rel: &Path, flags: libc::c_int) -> std::io::Result<File> {
    let path = c_path(rel)?;
    // SAFETY: `open_how` is plain integers; all-zero is its documented default.
    let mut how: libc::open_how = unsafe { std::mem::zeroed() };
    how.flags = (flags | libc::O_CLOEXEC) as u64;
    how.resolve = libc::RESOLVE_BENEATH | libc::RESOLVE_NO_SYMLINKS;
    // SAFETY: a valid folder descriptor, NUL-terminated path and `open_how` of the size
    // passed.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_openat2,
            root.as_raw_fd(),
            path.as_ptr(),
            &how as *const libc::open_how,
            std::mem::size_of::<libc::open_how>(),
        )
    };
    if fd >= 0 {
        // SAFETY: a descriptor just opened and owned by nothing else.
        return Ok(unsafe { File::from_raw_fd(fd as libc::c_int) });
    }
    let err = std::io::Error::last_os_error();
    if err.raw_os_error() != Some(libc::ENOSYS) {
        return Err(err);
    }
    open_by_segments(root, rel, flags)
}

/// [`open_in`] without `openat2`.
fn open_by_segments(root: &File, rel: &Path, flags: libc::c_int) -> std::io::Result<File> {
    let segments: Vec<&std::ffi::OsStr> = rel.iter().collect();
    let invalid = || std::io::Error::new(std::io::ErrorKind::InvalidInput, "not beneath");
    let (last, folders) = segments.split_last().ok_or_else(invalid)?;
    let mut at: Option<File> = None;
    let open = |dir: &File, name: &std::ffi::OsStr, flags: libc::c_int| -> std::io::Result<File> {
        if name == ".." || name == "." || name.as_bytes().contains(&b'/') {
            return Err(invalid());
        }
        let name = c_path(Path::new(name))?;
        // SAFETY: a valid folder descriptor and NUL-terminated name.
        let fd = unsafe {
            libc::openat(
                dir.as_raw_fd(),
                name.as_ptr(),
                flags | libc::O_NOFOLLOW | libc::O_CLOEXEC,
            )
        };
        if fd < 0 {
            return Err(std::io::Error::last_os_error());
        }
        // SAFETY: a descriptor just opened and owned by nothing else.
        Ok(unsafe { File::from_raw_fd(fd) })
    };
    for folder in folders {
        let next = open(
            at.as_ref().unwrap_or(root),
            folder,
            libc::O_RDONLY | libc::O_DIRECTORY,
        )?;
        at = Some(next);
    }
    open(at.as_ref().unwrap_or(root), last, flags)
}

/// Removes the old dist now at `old` (swapped out of the target) path by path from its
/// record, children first; with `discard`, whatever is left after. `step` is called
/// after each path. The paths left (nothing unless a path appeared in the old dist while
/// this apply ran, or `discard` failed) are returned.
pub(super) fn remove_previous(
    old: &Path,
    record: &WrittenRecord,
    discard: bool,
    step: impl Fn(),
) -> Vec<PathBuf> {
    if let Ok(root) = File::open(old) {
        let mut paths: Vec<(&str, bool)> = vec![(RECORD_PATH, false)];
        let mut listed: Vec<(&str, bool)> = record
            .files
            .iter()
            .map(|f| (f.path.as_str(), matches!(f.kind, RecordedKind::Dir { .. })))
            .collect();
        listed.sort_by(|a, b| b.0.cmp(a.0));
        paths.extend(listed);
        for (rel, dir) in paths {
            let _ = remove_in(&root, Path::new(rel), dir);
            step();
        }
    }
    if std::fs::remove_dir(old).is_ok() {
        return Vec::new();
    }
    if discard {
        let _ = std::fs::remove_dir_all(old);
    }
    if std::fs::symlink_metadata(old).is_err() {
        return Vec::new();
    }
    walkdir::WalkDir::new(old)
        .min_depth(1)
        .sort_by_file_name()
        .into_iter()
        .filter_map(Result::ok)
        .map(|e| e.into_path())
        .collect()
}

/// Unlinks `rel` (a folder when `dir`: only when empty) beneath `root`, from its parent
/// opened without following symlinks.
fn remove_in(root: &File, rel: &Path, dir: bool) -> std::io::Result<()> {
    let name = rel
        .file_name()
        .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::InvalidInput, "no file name"))?;
    let parent = match rel.parent().filter(|p| !p.as_os_str().is_empty()) {
        Some(p) => open_in(root, p, libc::O_RDONLY | libc::O_DIRECTORY)?,
        None => root.try_clone()?,
    };
    let name = c_path(Path::new(name))?;
    let flags = if dir { libc::AT_REMOVEDIR } else { 0 };
    // SAFETY: a valid folder descriptor and NUL-terminated name.
    if unsafe { libc::unlinkat(parent.as_raw_fd(), name.as_ptr(), flags) } == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// The record's entry for a folder apply made.
pub(super) fn dir(path: &str, mode: u32) -> RecordedPath {
    RecordedPath {
        path: path.to_owned(),
        kind: RecordedKind::Dir {
            mode: mode_text(mode),
        },
    }
}

/// The edits written over a copy, as the record lists them; `None` for the source's
/// bytes.
pub(super) fn edits_text(
    edits: Option<&crate::binary::edit::ElfEdits>,
    strip: bool,
    stamp_pyc: bool,
) -> Option<String> {
    let mut parts = Vec::new();
    if strip {
        parts.push("strip".to_owned());
    }
    if let Some(edits) = edits.filter(|e| !e.is_empty()) {
        if let Some(runpath) = &edits.runpath {
            parts.push(format!("runpath={}", runpath.join(":")));
        }
        for (old, new) in &edits.replace_needed {
            parts.push(format!("needed {old}>{new}"));
        }
        for add in &edits.add_needed {
            parts.push(format!("add {add}"));
        }
    }
    if stamp_pyc {
        parts.push("stamp".to_owned());
    }
    (!parts.is_empty()).then(|| parts.join(";"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::DistRecord;

    fn sample() -> WrittenRecord {
        WrittenRecord {
            record: DistRecord {
                version: RECORD_VERSION,
                shenzi: "test".into(),
                system_libraries: vec!["libc.so.6".into()],
                ..DistRecord::default()
            },
            files: vec![
                dir("bin", 0o755),
                RecordedPath {
                    path: "bin/app".into(),
                    kind: RecordedKind::File {
                        mode: "755".into(),
                        size: 3,
                        blake3: "ab".into(),
                        source: None,
                        edits: None,
                    },
                },
            ],
            digest: String::new(),
        }
    }

    #[test]
    fn the_record_carries_its_own_digest_and_one_line_per_path() {
        let text = render(&sample());
        assert!(digest_ok(&text));
        let s = String::from_utf8(text.clone()).unwrap();
        assert!(
            s.contains("  \"files\": [\n    {\"path\":\"bin\",\"kind\":\"dir\",\"mode\":\"755\"},\n    {\"path\":\"bin/app\",\"kind\":\"file\",\"mode\":\"755\",\"size\":3,\"blake3\":\"ab\"}\n  ],\n"),
            "{s}"
        );
        assert!(
            s.contains("  \"system_libraries\": [\n    \"libc.so.6\"\n  ],\n"),
            "{s}"
        );
        let back: WrittenRecord = serde_json::from_slice(&text).unwrap();
        assert_eq!(back.files, sample().files);
        // `verify` reads the plan's part.
        let plain: DistRecord = serde_json::from_slice(&text).unwrap();
        assert_eq!(plain, sample().record);
        // Any change to the bytes, or a hand-made record, does not check out.
        let edited = s.replace("\"size\":3", "\"size\":4");
        assert!(!digest_ok(edited.as_bytes()));
        assert!(!digest_ok(b"{\"version\":2}\n"));
        assert!(!digest_ok(&text[..text.len() - 1]));
    }

    #[test]
    fn only_clean_relative_paths_are_safe() {
        for good in ["a", "a/b", ".shenzi", "a/.b"] {
            assert!(safe(good), "{good}");
        }
        for bad in ["", "/a", "a/", "a//b", "./a", "a/../b", "..", "a\0b"] {
            assert!(!safe(bad), "{bad}");
        }
    }
}
