//! The stub at the start of every shenzi onefile (docs/onefile.md).
//!
//! It reads the trailer at the end of its own file (`/proc/self/exe`, so a symlink or a
//! move changes nothing), and `exec`s the dist's launcher from the cache folder named by
//! the payload's hash. Later starts cost one `stat` of the folder's completion marker;
//! the first extracts the payload into a temporary folder beside it, checks the hash and
//! the zstd checksum, writes the marker last and renames the folder into place.
//!
//! It never panics on a damaged file: every failure is a message on stderr and exit
//! status 127, before anything runs.

mod format;

use std::ffi::OsString;
use std::fs;
use std::io;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use format::{ExtractError, Trailer, TrailerError};

/// The status of a onefile that could not start its app.
const FAILED: u8 = 127;

fn main() -> ExitCode {
    match run() {
        Ok(never) => match never {},
        Err(message) => {
            let name = std::env::args_os()
                .next()
                .map(|a| a.to_string_lossy().into_owned())
                .unwrap_or_else(|| "shenzi onefile".into());
            eprintln!("{name}: {message}");
            ExitCode::from(FAILED)
        }
    }
}

enum Never {}

fn run() -> Result<Never, String> {
    let exe = fs::File::open("/proc/self/exe")
        .map_err(|e| format!("cannot open its own file (/proc/self/exe): {e}"))?;
    let len = exe
        .metadata()
        .map_err(|e| format!("cannot read its own file: {e}"))?
        .len();
    let trailer = format::read_trailer(&exe, len).map_err(|e| match e {
        TrailerError::Io(e) => format!("cannot read its own file: {e}"),
        other => format!("this shenzi onefile cannot start: {other}; download or build it again"),
    })?;
    let key = trailer.key();
    // SAFETY: getuid has no preconditions and cannot fail.
    let uid = unsafe { getuid() };
    let roots = format::cache_roots(&|name| std::env::var_os(name), uid);
    // Later starts: one stat per cache folder, the first hit runs. The temporary folder's
    // one (last) is trusted only when it is the user's alone: anyone may have created it.
    for (i, root) in roots.iter().enumerate() {
        let dist = root.join(&key);
        if dist.join(format::MARKER).exists() && (i + 1 < roots.len() || private(root, uid)) {
            return Err(exec(&dist, &trailer));
        }
    }
    let mut failures = Vec::new();
    for (i, root) in roots.iter().enumerate() {
        match prepare_root(root, i + 1 == roots.len(), uid) {
            Ok(()) => {}
            Err(e) => {
                failures.push(format!("`{}`: {e}", root.display()));
                continue;
            }
        }
        match extract_into(root, &exe, &trailer) {
            Ok(dist) => return Err(exec(&dist, &trailer)),
            Err(Failure::Damaged(message)) => {
                return Err(format!(
                    "this shenzi onefile cannot start: {message}; download or build it again"
                ));
            }
            Err(Failure::Folder(message)) => failures.push(message),
        }
    }
    Err(format!(
        "cannot extract the app into a cache folder ({}); set {} to a folder you can write",
        failures.join("; "),
        format::CACHE_VARIABLE
    ))
}

// Two calls of the C library the stub links anyway (the libc crate would be a
// dependency for two lines).
unsafe extern "C" {
    fn getuid() -> u32;
    fn getpid() -> i32;
    fn kill(pid: i32, signal: i32) -> i32;
}

/// Makes the cache folder (0700) and checks it is the user's alone. The temporary
/// folder's one (`last`) must not be a symlink and must be owned by the user: anyone can
/// create names in `/tmp`.
fn prepare_root(root: &Path, last: bool, uid: u32) -> io::Result<()> {
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(root)?;
    let meta = if last {
        fs::symlink_metadata(root)?
    } else {
        fs::metadata(root)?
    };
    if !meta.is_dir() || meta.uid() != uid {
        return Err(io::Error::other("it is not a folder of this user"));
    }
    if meta.mode() & 0o077 != 0 {
        fs::set_permissions(root, fs::Permissions::from_mode(0o700))?;
    }
    Ok(())
}

/// A real folder (not a symlink) of this user that nobody else may enter.
fn private(root: &Path, uid: u32) -> bool {
    fs::symlink_metadata(root).is_ok_and(|m| m.is_dir() && m.uid() == uid && m.mode() & 0o077 == 0)
}

enum Failure {
    /// The onefile is damaged: no other folder would help.
    Damaged(String),
    /// This cache folder cannot be used; the next may.
    Folder(String),
}

/// The first start: extracts into `root/.KEY.tmp-PID`, under a lock on `root/KEY.lock`
/// so that a second first start waits and then finds the finished folder.
fn extract_into(root: &Path, exe: &fs::File, trailer: &Trailer) -> Result<PathBuf, Failure> {
    let key = trailer.key();
    let folder = |e: io::Error, what: &str| Failure::Folder(format!("{what}: {e}"));
    let dist = root.join(&key);
    let lock = fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(root.join(format!("{key}.lock")))
        .map_err(|e| folder(e, &format!("cannot create a lock in `{}`", root.display())))?;
    // Without locks (some network filesystems) the rename below still keeps one folder.
    let _ = lock.lock();
    if dist.join(format::MARKER).exists() {
        return Ok(dist);
    }
    // Under the lock nobody else is extracting this key: what is left is stale.
    clean_stale(root, &key);
    if fs::symlink_metadata(&dist).is_ok() {
        let old = root.join(format!(".{key}.old-{}", std::process::id()));
        fs::rename(&dist, &old)
            .map_err(|e| folder(e, "cannot move an unfinished extraction away"))?;
        let _ = fs::remove_dir_all(&old);
    }
    let tmp = root.join(format!(".{key}.tmp-{}", std::process::id()));
    fs::DirBuilder::new()
        .mode(0o700)
        .create(&tmp)
        .map_err(|e| folder(e, &format!("cannot create `{}`", tmp.display())))?;
    let outcome = unpack(exe, trailer, &tmp);
    if let Err(e) = outcome {
        let _ = fs::remove_dir_all(&tmp);
        return Err(e);
    }
    match fs::rename(&tmp, &dist) {
        Ok(()) => Ok(dist),
        // Another start without a working lock finished first: use its folder.
        Err(_) if dist.join(format::MARKER).exists() => {
            let _ = fs::remove_dir_all(&tmp);
            Ok(dist)
        }
        Err(e) => {
            let _ = fs::remove_dir_all(&tmp);
            Err(folder(
                e,
                &format!("cannot rename the extraction to `{}`", dist.display()),
            ))
        }
    }
}

/// Removes what killed first starts of this key left.
fn clean_stale(root: &Path, key: &str) {
    let Ok(entries) = fs::read_dir(root) else {
        return;
    };
    let tmp = format!(".{key}.tmp-");
    let old = format!(".{key}.old-");
    for entry in entries.flatten() {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with(&tmp) || name.starts_with(&old) {
            let _ = fs::remove_dir_all(entry.path());
        }
    }
}

fn unpack(exe: &fs::File, trailer: &Trailer, into: &Path) -> Result<(), Failure> {
    use std::os::unix::fs::FileExt;
    // The whole payload in memory (it is what the file is made of, tens of MB at most):
    // the threads decompress their chunks from it while this one hashes it.
    let len = usize::try_from(trailer.payload_len)
        .map_err(|_| Failure::Damaged("its payload does not fit in memory".into()))?;
    let mut payload = vec![0u8; len];
    exe.read_exact_at(&mut payload, trailer.payload_offset)
        .map_err(|e| Failure::Folder(format!("cannot read its own file: {e}")))?;
    let hook = test_hook();
    match format::extract_payload(&payload, &trailer.hash, into, threads(), &hook) {
        Ok(_) => Ok(()),
        Err(ExtractError::Damaged(what)) => {
            Err(Failure::Damaged(format!("its archive is damaged: {what}")))
        }
        Err(e @ ExtractError::Write(..)) => Err(Failure::Folder(e.to_string())),
    }
}

/// Threads that create the files of a first start: file creation is most of its cost
/// and the kernel runs it in parallel, more so than there are cores when the filesystem
/// waits (docs/performance.md, section 8). `SHENZI_ONEFILE_THREADS` (1 to 64) overrides.
fn threads() -> usize {
    std::env::var("SHENZI_ONEFILE_THREADS")
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .filter(|n| (1..=64).contains(n))
        .unwrap_or(DEFAULT_THREADS)
}

const DEFAULT_THREADS: usize = 4;

/// `SHENZI_TEST_HOOK=kill@extract:N` kills this process after its Nth extracted file,
/// so tests can show what an interrupted first start leaves. Not a feature.
fn test_hook() -> impl Fn(u64) + Sync {
    let at: Option<u64> = std::env::var("SHENZI_TEST_HOOK")
        .ok()
        .and_then(|v| v.strip_prefix("kill@extract:").and_then(|n| n.parse().ok()));
    move |n| {
        if Some(n) == at {
            const SIGKILL: i32 = 9;
            // SAFETY: signalling this process, as `kill -9` would.
            unsafe {
                kill(getpid(), SIGKILL);
            }
        }
    }
}

/// `exec`s the launcher; returns only the message of a failure.
fn exec(dist: &Path, trailer: &Trailer) -> String {
    let launcher = dist.join(&trailer.launcher);
    let args: Vec<OsString> = std::env::args_os().skip(1).collect();
    let err = Command::new(&launcher).arg0(&launcher).args(args).exec();
    format!(
        "cannot start `{}`: {err}; `shenzi cache clear` removes the cached extraction",
        launcher.display()
    )
}
