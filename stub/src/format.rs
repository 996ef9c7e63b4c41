//! The onefile format, shared by the stub (`stub/src/main.rs`) and shenzi
//! (`src/onefile/`, which includes this file with `#[path]`): one definition of the
//! trailer, the archive stream, the cache folders and the checked extraction, so the
//! writer and the reader cannot drift apart. Only `std`: the stub must stay small.
//!
//! A onefile is `[stub][payload][launcher][trailer]`:
//! - the payload is one zstd frame (with its content checksum) of the archive stream;
//! - the launcher is the launcher's path in the dist (`bin/app`), UTF-8;
//! - the trailer is [`TRAILER_LEN`] bytes: [`MAGIC`], the version, the launcher's length,
//!   the payload's offset and length, and the BLAKE3 hash of the payload's bytes, which
//!   names the cache folder.
//!
//! The archive stream is a header ([`ARCHIVE_MAGIC`]) and entries in the order the
//! writer walked the dist (sorted, folders before what they hold), ended by a zero byte:
//! - `1` folder: path, mode;
//! - `2` file: path, mode, mtime (seconds), size, the bytes;
//! - `3` symlink: path, target.
//!
//! Paths are `u32` length-prefixed UTF-8, relative, `/`-separated, with no empty, `.` or
//! `..` segment. A symlink's target is relative, some `..` segments and then plain ones,
//! never climbing above the dist: every link then resolves inside the dist (`..` only
//! ever steps up from a real folder, and every name below resolves inside by the same
//! rule), so the farms' relative links are kept and nothing can point outside.

#![allow(dead_code)] // each of the two crates uses its own half

use std::collections::HashSet;
use std::fs;
use std::io::{self, Read, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

/// The first bytes of the trailer.
pub const MAGIC: [u8; 16] = *b"shenzi-onefile\0\0";
/// The format version; a stub refuses any other.
pub const VERSION: u32 = 1;
/// magic, version, launcher length, payload offset, payload length, hash.
pub const TRAILER_LEN: usize = 16 + 4 + 4 + 8 + 8 + 32;
/// The first bytes of the archive stream.
pub const ARCHIVE_MAGIC: [u8; 8] = *b"shzarc1\n";
/// The longest path (or symlink target) an entry may hold: `PATH_MAX`.
pub const MAX_PATH: usize = 4096;
/// In an extracted dist: written last, so its presence means the extraction is whole.
pub const MARKER: &str = ".shenzi/onefile-complete";
/// The variable naming the cache folder (instead of `$XDG_CACHE_HOME/shenzi`).
pub const CACHE_VARIABLE: &str = "SHENZI_CACHE_DIR";

const KIND_END: u8 = 0;
const KIND_DIR: u8 = 1;
const KIND_FILE: u8 = 2;
const KIND_LINK: u8 = 3;

/// What the trailer says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Trailer {
    pub payload_offset: u64,
    pub payload_len: u64,
    pub hash: [u8; 32],
    pub launcher: String,
}

impl Trailer {
    /// The cache folder's name: the payload's hash in hex.
    pub fn key(&self) -> String {
        hex(&self.hash)
    }

    /// The trailer's bytes, launcher first (they end the file).
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.launcher.len() + TRAILER_LEN);
        out.extend_from_slice(self.launcher.as_bytes());
        out.extend_from_slice(&MAGIC);
        out.extend_from_slice(&VERSION.to_le_bytes());
        out.extend_from_slice(&(self.launcher.len() as u32).to_le_bytes());
        out.extend_from_slice(&self.payload_offset.to_le_bytes());
        out.extend_from_slice(&self.payload_len.to_le_bytes());
        out.extend_from_slice(&self.hash);
        out
    }
}

pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(DIGITS[usize::from(b >> 4)] as char);
        out.push(DIGITS[usize::from(b & 15)] as char);
    }
    out
}

/// Why a file is not a onefile this build can start.
#[derive(Debug)]
pub enum TrailerError {
    /// No trailer: not a onefile, or cut short.
    NoTrailer,
    /// A trailer of another format version.
    Version(u32),
    /// The trailer's numbers do not fit the file: truncated or damaged.
    Inconsistent,
    Io(io::Error),
}

impl std::fmt::Display for TrailerError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TrailerError::NoTrailer => write!(
                f,
                "it does not end with a shenzi onefile trailer (it is truncated, or not a onefile)"
            ),
            TrailerError::Version(v) => write!(
                f,
                "its trailer is of format version {v}; this build reads version {VERSION}"
            ),
            TrailerError::Inconsistent => write!(
                f,
                "its trailer does not match its size (it is truncated or damaged)"
            ),
            TrailerError::Io(e) => write!(f, "it cannot be read: {e}"),
        }
    }
}

/// Reads the trailer of an open onefile (of `len` bytes) with two positioned reads.
pub fn read_trailer(file: &fs::File, len: u64) -> Result<Trailer, TrailerError> {
    use std::os::unix::fs::FileExt;
    if len < TRAILER_LEN as u64 {
        return Err(TrailerError::NoTrailer);
    }
    let mut t = [0u8; TRAILER_LEN];
    file.read_exact_at(&mut t, len - TRAILER_LEN as u64)
        .map_err(TrailerError::Io)?;
    if t[..16] != MAGIC {
        return Err(TrailerError::NoTrailer);
    }
    let u32_at = |i: usize| u32::from_le_bytes([t[i], t[i + 1], t[i + 2], t[i + 3]]);
    let u64_at = |i: usize| {
        let mut b = [0u8; 8];
        b.copy_from_slice(&t[i..i + 8]);
        u64::from_le_bytes(b)
    };
    let version = u32_at(16);
    if version != VERSION {
        return Err(TrailerError::Version(version));
    }
    let launcher_len = u64::from(u32_at(20));
    let payload_offset = u64_at(24);
    let payload_len = u64_at(32);
    let mut hash = [0u8; 32];
    hash.copy_from_slice(&t[40..72]);
    let end = payload_offset
        .checked_add(payload_len)
        .and_then(|n| n.checked_add(launcher_len))
        .and_then(|n| n.checked_add(TRAILER_LEN as u64));
    if end != Some(len) || launcher_len == 0 || launcher_len > MAX_PATH as u64 {
        return Err(TrailerError::Inconsistent);
    }
    let mut launcher = vec![0u8; launcher_len as usize];
    file.read_exact_at(&mut launcher, payload_offset + payload_len)
        .map_err(TrailerError::Io)?;
    let launcher = String::from_utf8(launcher).map_err(|_| TrailerError::Inconsistent)?;
    if !plain_path(&launcher) {
        return Err(TrailerError::Inconsistent);
    }
    Ok(Trailer {
        payload_offset,
        payload_len,
        hash,
        launcher,
    })
}

/// A relative path of plain segments: no empty, `.` or `..` segment, no NUL.
pub fn plain_path(path: &str) -> bool {
    !path.is_empty()
        && path.len() <= MAX_PATH
        && !path.contains('\0')
        && path
            .split('/')
            .all(|s| !s.is_empty() && s != "." && s != "..")
}

/// Whether a symlink at `link` (a plain path) with `target` resolves inside the dist:
/// the target is relative, its `..` segments all come first and climb no higher than
/// the link's folder, the rest are plain.
pub fn link_stays_inside(link: &str, target: &str) -> bool {
    if target.is_empty() || target.len() > MAX_PATH || target.contains('\0') {
        return false;
    }
    if target.starts_with('/') {
        return false;
    }
    let depth = link.split('/').count() - 1;
    let segments: Vec<&str> = target.split('/').collect();
    let ups = segments.iter().take_while(|s| **s == "..").count();
    ups <= depth
        && ups < segments.len()
        && segments[ups..]
            .iter()
            .all(|s| !s.is_empty() && *s != "." && *s != "..")
}

/// One entry of the archive stream, as the writer emits it.
pub enum Entry<'a> {
    Dir {
        path: &'a str,
        mode: u32,
    },
    File {
        path: &'a str,
        mode: u32,
        mtime: i64,
        size: u64,
    },
    Link {
        path: &'a str,
        target: &'a str,
    },
}

fn put_str(out: &mut impl Write, s: &str) -> io::Result<()> {
    out.write_all(&(s.len() as u32).to_le_bytes())?;
    out.write_all(s.as_bytes())
}

/// Writes the stream's header.
pub fn write_header(out: &mut impl Write) -> io::Result<()> {
    out.write_all(&ARCHIVE_MAGIC)
}

/// Writes an entry's header; a file's `size` bytes must follow.
pub fn write_entry(out: &mut impl Write, entry: &Entry<'_>) -> io::Result<()> {
    match *entry {
        Entry::Dir { path, mode } => {
            out.write_all(&[KIND_DIR])?;
            put_str(out, path)?;
            out.write_all(&mode.to_le_bytes())
        }
        Entry::File {
            path,
            mode,
            mtime,
            size,
        } => {
            out.write_all(&[KIND_FILE])?;
            put_str(out, path)?;
            out.write_all(&mode.to_le_bytes())?;
            out.write_all(&mtime.to_le_bytes())?;
            out.write_all(&size.to_le_bytes())
        }
        Entry::Link { path, target } => {
            out.write_all(&[KIND_LINK])?;
            put_str(out, path)?;
            put_str(out, target)
        }
    }
}

/// Ends the stream.
pub fn write_end(out: &mut impl Write) -> io::Result<()> {
    out.write_all(&[KIND_END])
}

/// Why an extraction stopped.
#[derive(Debug)]
pub enum ExtractError {
    /// The archive is damaged: bad header, a path that could leave the folder, a
    /// duplicate, a short read. `what` says which.
    Damaged(String),
    /// Writing the extraction failed (disk full, permissions).
    Write(PathBuf, io::Error),
}

impl std::fmt::Display for ExtractError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ExtractError::Damaged(what) => write!(f, "its archive is damaged: {what}"),
            ExtractError::Write(path, e) => write!(f, "cannot write `{}`: {e}", path.display()),
        }
    }
}

fn damaged(what: impl Into<String>) -> ExtractError {
    ExtractError::Damaged(what.into())
}

/// A read error of the decoder is damage (zstd reports a bad frame or checksum as one).
fn read_err(e: io::Error) -> ExtractError {
    if e.kind() == io::ErrorKind::UnexpectedEof {
        damaged("it ends early")
    } else {
        damaged(e.to_string())
    }
}

fn get<const N: usize>(r: &mut impl Read) -> Result<[u8; N], ExtractError> {
    let mut b = [0u8; N];
    r.read_exact(&mut b).map_err(read_err)?;
    Ok(b)
}

fn get_str(r: &mut impl Read, what: &str) -> Result<String, ExtractError> {
    let len = u32::from_le_bytes(get::<4>(r)?) as usize;
    if len > MAX_PATH {
        return Err(damaged(format!("a {what} of {len} bytes")));
    }
    let mut b = vec![0u8; len];
    r.read_exact(&mut b).map_err(read_err)?;
    String::from_utf8(b).map_err(|_| damaged(format!("a {what} that is not UTF-8")))
}

/// What an extraction wrote.
#[derive(Debug, Default, Clone, Copy)]
pub struct Extracted {
    pub files: u64,
    pub bytes: u64,
}

/// Extracts an archive stream into `into`, an empty folder the caller made: every path
/// checked before anything is written, files created new (`O_EXCL`, `O_NOFOLLOW`) in
/// folders this extraction made, so nothing is written outside `into`. `after_file` is
/// called after each file (the stub's test hook).
pub fn extract(
    r: &mut impl Read,
    into: &Path,
    after_file: &mut dyn FnMut(u64),
) -> Result<Extracted, ExtractError> {
    if get::<8>(r)? != ARCHIVE_MAGIC {
        return Err(damaged("it does not start with the archive header"));
    }
    let mut dirs: HashSet<String> = HashSet::new();
    let mut done = Extracted::default();
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        let [kind] = get::<1>(r)?;
        if kind == KIND_END {
            break;
        }
        let path = get_str(r, "path")?;
        if !plain_path(&path) {
            return Err(damaged(format!("the path `{path}` could leave its folder")));
        }
        let parent = path.rsplit_once('/').map(|(p, _)| p);
        if let Some(parent) = parent
            && !dirs.contains(parent)
        {
            return Err(damaged(format!(
                "`{path}` is not inside a folder the archive made"
            )));
        }
        let dest = into.join(&path);
        match kind {
            KIND_DIR => {
                let mode = u32::from_le_bytes(get::<4>(r)?);
                // Always writable by its owner while extracting, so its files can follow.
                fs::DirBuilder::new()
                    .mode((mode & 0o777) | 0o700)
                    .create(&dest)
                    .map_err(|e| ExtractError::Write(dest.clone(), e))?;
                dirs.insert(path);
            }
            KIND_FILE => {
                let mode = u32::from_le_bytes(get::<4>(r)?);
                let mtime = i64::from_le_bytes(get::<8>(r)?);
                let size = u64::from_le_bytes(get::<8>(r)?);
                let mut file = fs::OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .mode(mode & 0o777)
                    .custom_flags(libc_o_nofollow())
                    .open(&dest)
                    .map_err(|e| ExtractError::Write(dest.clone(), e))?;
                let mut left = size;
                while left > 0 {
                    let n = buf.len().min(usize::try_from(left).unwrap_or(usize::MAX));
                    r.read_exact(&mut buf[..n]).map_err(read_err)?;
                    file.write_all(&buf[..n])
                        .map_err(|e| ExtractError::Write(dest.clone(), e))?;
                    left -= n as u64;
                }
                // The dist's fixed times, so `.pyc` checks see what they saw in the dist.
                if let Ok(secs) = u64::try_from(mtime) {
                    let time = SystemTime::UNIX_EPOCH + Duration::from_secs(secs);
                    file.set_times(fs::FileTimes::new().set_modified(time))
                        .map_err(|e| ExtractError::Write(dest.clone(), e))?;
                }
                done.files += 1;
                done.bytes += size;
                after_file(done.files);
            }
            KIND_LINK => {
                let target = get_str(r, "symlink target")?;
                if !link_stays_inside(&path, &target) {
                    return Err(damaged(format!(
                        "the symlink `{path}` -> `{target}` could point outside its folder"
                    )));
                }
                std::os::unix::fs::symlink(&target, &dest)
                    .map_err(|e| ExtractError::Write(dest.clone(), e))?;
            }
            other => return Err(damaged(format!("an entry of unknown kind {other}"))),
        }
    }
    // Reading on to the end makes the decoder check the frame's checksum.
    let mut rest = [0u8; 1];
    match r.read(&mut rest) {
        Ok(0) => {}
        Ok(_) => return Err(damaged("bytes follow its last entry")),
        Err(e) => return Err(read_err(e)),
    }
    let marker = into.join(MARKER);
    if let Some(parent) = marker.parent() {
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(parent)
            .map_err(|e| ExtractError::Write(parent.to_owned(), e))?;
    }
    fs::write(&marker, b"").map_err(|e| ExtractError::Write(marker.clone(), e))?;
    Ok(done)
}

/// `O_NOFOLLOW` without the libc crate (the stub has none): its value on Linux.
const fn libc_o_nofollow() -> i32 {
    if cfg!(any(target_arch = "aarch64", target_arch = "arm")) {
        0o100000
    } else {
        0o400000
    }
}

/// The cache folders a onefile may extract into, in order: the user's, then a private
/// one below the temporary folder for when the user's cannot be written.
pub fn cache_roots(var: &dyn Fn(&str) -> Option<std::ffi::OsString>, uid: u32) -> Vec<PathBuf> {
    let absolute = |name: &str| var(name).map(PathBuf::from).filter(|p| p.is_absolute());
    let mut roots = Vec::new();
    if let Some(dir) = absolute(CACHE_VARIABLE) {
        roots.push(dir);
    } else if let Some(xdg) = absolute("XDG_CACHE_HOME") {
        roots.push(xdg.join("shenzi"));
    } else if let Some(home) = absolute("HOME") {
        roots.push(home.join(".cache").join("shenzi"));
    }
    let tmp = absolute("TMPDIR").unwrap_or_else(|| PathBuf::from("/tmp"));
    roots.push(tmp.join(format!("shenzi-{uid}")));
    roots
}

/// Whether `name` in a cache folder is an extraction's name (64 hex digits).
pub fn is_key(name: &str) -> bool {
    name.len() == 64
        && name
            .bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
}

/// Hashes what it reads: the payload as it is decompressed (the stub) or read back
/// (`shenzi verify`), so the archive is checked in the one pass that uses it.
pub struct Hashing<R> {
    pub inner: R,
    pub hasher: blake3::Hasher,
}

impl<R: Read> Read for Hashing<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_resolve_inside_only() {
        assert!(link_stays_inside(
            "lib/links/a/libz.so.1",
            "../../reals/x/libz.so.1"
        ));
        assert!(link_stays_inside("a", "b"));
        assert!(!link_stays_inside("a", "../b"));
        assert!(!link_stays_inside("lib/a", "/etc/passwd"));
        assert!(!link_stays_inside("lib/a", "x/../../.."));
        assert!(!link_stays_inside("lib/a", ".."));
        assert!(!link_stays_inside("lib/a", "./b"));
        assert!(!link_stays_inside("lib/a", "b//c"));
    }

    #[test]
    fn paths_are_plain() {
        assert!(plain_path("bin/app"));
        for bad in ["", "/bin", "a/../b", "a//b", "./a", "a/", "a\0b"] {
            assert!(!plain_path(bad), "{bad:?}");
        }
    }
}
