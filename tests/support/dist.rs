//! Looking at dists on disk from the tests that write them: their tree, their scratch
//! folders, and the processes that write them.

use std::os::unix::fs::MetadataExt;
use std::path::Path;

/// Path, kind, link target and mode of every entry below `root` (the root itself as
/// `./`, with its mode); content hashes and mtimes of files when `with_hashes`.
pub fn tree(root: &Path, with_hashes: bool) -> Vec<String> {
    let mut out: Vec<String> = walkdir::WalkDir::new(root)
        .into_iter()
        .map(|e| {
            let e = e.unwrap();
            let meta = e.path().symlink_metadata().unwrap();
            let rel = e.path().strip_prefix(root).unwrap().display().to_string();
            let rel = if rel.is_empty() { ".".into() } else { rel };
            if meta.file_type().is_symlink() {
                format!(
                    "{rel} -> {}",
                    std::fs::read_link(e.path()).unwrap().display()
                )
            } else if meta.is_dir() {
                format!("{rel}/ {:o}", meta.mode() & 0o7777)
            } else if with_hashes {
                let hash = blake3::hash(&std::fs::read(e.path()).unwrap());
                format!(
                    "{rel} {:o} {} mtime={}",
                    meta.mode() & 0o7777,
                    hash.to_hex(),
                    meta.mtime()
                )
            } else {
                format!("{rel} {:o}", meta.mode() & 0o7777)
            }
        })
        .collect();
    out.sort();
    out
}

/// Every file and folder name below `root` (names only: what a dist holds, wherever).
pub fn names(root: &Path) -> Vec<String> {
    walkdir::WalkDir::new(root)
        .min_depth(1)
        .into_iter()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect()
}

/// Names in `folder` that look like shenzi's scratch folders (`.NAME.shenzi-…`) or the
/// rest of a replaced dist it kept (`NAME.shenzi-kept-…`).
pub fn scratch_names(folder: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(folder)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".shenzi-"))
        .collect();
    names.sort();
    names
}

/// A live process's start time, field 22 of `/proc/PID/stat`.
pub fn start_time(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let after = stat.rsplit_once(')').unwrap().1;
    after
        .split_whitespace()
        .nth(22 - 3)
        .unwrap()
        .parse()
        .unwrap()
}

/// Waits until the child `pid` has stopped (`SIGSTOP`); panics if it exits instead.
pub fn wait_stopped(pid: u32) {
    let mut status = 0;
    // SAFETY: waits for our own child; `status` is a valid out-pointer.
    let rc = unsafe { libc::waitpid(pid as libc::pid_t, &mut status, libc::WUNTRACED) };
    assert_eq!(rc, pid as libc::pid_t, "waitpid failed");
    assert!(
        libc::WIFSTOPPED(status),
        "the child did not stop: status {status:#x}"
    );
}

/// Sends `signal` to `pid`.
pub fn signal(pid: u32, signal: libc::c_int) {
    // SAFETY: a plain syscall on our own child.
    assert_eq!(unsafe { libc::kill(pid as libc::pid_t, signal) }, 0);
}
