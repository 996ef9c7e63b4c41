//! The folder beside the target: its lock, and the scratch folders a dist is built in.
//!
//! # One apply at a time per folder
//!
//! An apply holds an exclusive `flock(2)` on the folder that holds its target (opened
//! read-only; nothing is created, so nothing is left behind) from before it looks at the
//! target until the dist is in place. A second apply writing into the same folder — to
//! the same target, or by another path to it — waits, says so once, and goes on when the
//! first is done (Ctrl-C stops the wait). Applies to different targets in one folder wait
//! for each other too: the lock is the folder's, as the scratch folders are.
//!
//! # Scratch folders carry their writer
//!
//! A dist is built in `.NAME.shenzi-PID-START-XXXXXX` beside the target `NAME`: PID and
//! START are the writer's process id and start time (field 22 of `/proc/PID/stat`, in
//! clock ticks since boot), so that a recycled pid is not taken for the writer. With the
//! lock held, an apply removes every such folder of its target whose writer is gone (no
//! such process, or one started at another time, or a zombie) and that the user owns:
//! what a killed apply left. A folder whose writer cannot be told apart (`/proc`
//! unreadable) is kept, and so is anything not named so. Two applies in different pid
//! namespaces sharing the folder still exclude each other by the lock, which is what
//! keeps one from removing the other's scratch folder.

use std::fs::File;
use std::os::fd::AsRawFd;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::diagnostics::{ApplyError, io};

/// The exclusive lock on the folder that holds a target; released when dropped.
pub(super) struct FolderLock {
    _folder: File,
}

/// What taking the lock found.
pub(super) enum Locking {
    /// Another apply holds the folder; this one waits.
    Waiting,
    /// The filesystem has no `flock` (some network filesystems): no lock.
    Unsupported(std::io::Error),
}

/// How often a waiting apply tries the lock again (and looks for an interrupt).
const RETRY: Duration = Duration::from_millis(100);

/// Locks `folder` exclusively, waiting for another apply's lock; `tell` hears of the
/// wait or of a filesystem without locks. Stops with `InterruptedWaiting` when
/// `interrupted` becomes true while it waits.
pub(super) fn lock(
    folder: &Path,
    tell: impl Fn(Locking),
    interrupted: impl Fn() -> bool,
) -> Result<Option<FolderLock>, ApplyError> {
    let dir = File::open(folder).map_err(io("open", folder))?;
    let mut told = false;
    loop {
        // SAFETY: a descriptor this function owns.
        if unsafe { libc::flock(dir.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } == 0 {
            return Ok(Some(FolderLock { _folder: dir }));
        }
        let err = std::io::Error::last_os_error();
        match err.raw_os_error() {
            Some(libc::EWOULDBLOCK) => {
                if !told {
                    tell(Locking::Waiting);
                    told = true;
                }
                if interrupted() {
                    return Err(ApplyError::InterruptedWaiting {
                        folder: folder.to_owned(),
                    });
                }
                std::thread::sleep(RETRY);
            }
            Some(libc::EINTR) => {}
            Some(libc::ENOLCK | libc::EOPNOTSUPP) => {
                tell(Locking::Unsupported(err));
                return Ok(None);
            }
            _ => return Err(io("lock", folder)(err)),
        }
    }
}

/// `/proc/PID/stat`'s start time (clock ticks since boot) and whether the process is a
/// zombie; `None` when it cannot be read.
fn process_start(pid: u32) -> std::io::Result<(u64, bool)> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // The command name (field 2) is in parentheses and may hold anything; the fields
    // after its last `)` start at field 3 (the state).
    let bad = || std::io::Error::new(std::io::ErrorKind::InvalidData, "unexpected stat");
    let (_, rest) = text.rsplit_once(')').ok_or_else(bad)?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let state = fields.first().ok_or_else(bad)?;
    let start = fields
        .get(22 - 3)
        .and_then(|s| s.parse().ok())
        .ok_or_else(bad)?;
    Ok((start, matches!(*state, "Z" | "X")))
}

/// This process's id and start time, for the names of its scratch folders; `None` when
/// `/proc` cannot be read (then nothing is ever taken for stale, either).
pub(super) fn this_writer() -> Option<(u32, u64)> {
    let pid = std::process::id();
    process_start(pid).ok().map(|(start, _)| (pid, start))
}

/// The start of the names of `target`'s scratch folders (`.NAME.shenzi-`). A long name
/// is cut so that the scratch folder's name still fits in 255 bytes.
pub(super) fn prefix(target: &Path) -> String {
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "dist".into());
    let mut cut = name.len().min(200);
    while !name.is_char_boundary(cut) {
        cut -= 1;
    }
    format!(".{}.shenzi-", &name[..cut])
}

/// Makes a new scratch folder beside `target`, named for its writer.
pub(crate) fn create(parent: &Path, target: &Path) -> Result<tempfile::TempDir, ApplyError> {
    let (pid, start) = this_writer().unwrap_or((std::process::id(), 0));
    tempfile::Builder::new()
        .prefix(&format!("{}{pid}-{start}-", prefix(target)))
        .tempdir_in(parent)
        .map_err(io("create a folder beside", target))
}

/// A scratch folder a killed apply left, and what removing it freed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaleFolder {
    pub path: PathBuf,
    pub bytes: u64,
    /// Why it could not be removed, if it could not.
    pub error: Option<String>,
}

/// Removes the scratch folders of `target` in `parent` whose writer is gone (the rule in
/// the module docs). Call it with the lock held, or where a concurrent writer's folder
/// is told apart by its live pid (the onefile's scratch).
pub(crate) fn remove_stale(parent: &Path, target: &Path) -> Vec<StaleFolder> {
    let Some(_) = this_writer() else {
        return Vec::new();
    };
    let prefix = prefix(target);
    // SAFETY: `geteuid` has no preconditions.
    let uid = unsafe { libc::geteuid() };
    let Ok(entries) = std::fs::read_dir(parent) else {
        return Vec::new();
    };
    let mut stale: Vec<StaleFolder> = entries
        .filter_map(Result::ok)
        .filter(|e| {
            let name = e.file_name();
            let Some(writer) = name.to_str().and_then(|n| n.strip_prefix(&prefix)) else {
                return false;
            };
            let Some((pid, start)) = parse_writer(writer) else {
                return false;
            };
            let owned = e
                .path()
                .symlink_metadata()
                .is_ok_and(|m| m.is_dir() && m.uid() == uid);
            owned && gone(pid, start)
        })
        .map(|e| {
            let path = e.path();
            let bytes = size_of_tree(&path);
            let error = std::fs::remove_dir_all(&path).err().map(|e| e.to_string());
            StaleFolder { path, bytes, error }
        })
        .collect();
    stale.sort_by(|a, b| a.path.cmp(&b.path));
    stale
}

/// `PID-START-XXXXXX` as (pid, start).
fn parse_writer(rest: &str) -> Option<(u32, u64)> {
    let mut parts = rest.splitn(3, '-');
    let pid = parts.next()?.parse().ok()?;
    let start = parts.next()?.parse().ok()?;
    let random = parts.next()?;
    (!random.is_empty() && random.bytes().all(|b| b.is_ascii_alphanumeric()))
        .then_some((pid, start))
}

/// Whether the writer `pid`, started at `start`, is certainly gone.
fn gone(pid: u32, start: u64) -> bool {
    match process_start(pid) {
        Err(e) => e.kind() == std::io::ErrorKind::NotFound,
        Ok((now, zombie)) => now != start || zombie,
    }
}

/// Bytes of the regular files below `path` (for the message; errors count nothing).
fn size_of_tree(path: &Path) -> u64 {
    walkdir::WalkDir::new(path)
        .into_iter()
        .filter_map(Result::ok)
        .filter_map(|e| e.metadata().ok())
        .filter(|m| m.is_file())
        .map(|m| m.len())
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writer_parts_are_parsed_strictly() {
        assert_eq!(parse_writer("12-3456-aB3xYz"), Some((12, 3456)));
        for bad in [
            "12-3456", "12-3456-", "x-1-abc", "12-x-abc", "12-1-a/b", "12-1-a-b",
        ] {
            assert_eq!(parse_writer(bad), None, "{bad}");
        }
    }

    #[test]
    fn this_process_is_alive_and_a_changed_start_is_not_it() {
        let (pid, start) = this_writer().unwrap();
        assert!(!gone(pid, start));
        assert!(gone(pid, start + 1));
    }

    #[test]
    fn long_names_are_cut_to_fit() {
        let long = "é".repeat(200);
        let p = prefix(Path::new(&long));
        assert!(p.len() <= 210, "{}", p.len());
        assert!(prefix(Path::new("/x/dist")) == ".dist.shenzi-");
    }
}
