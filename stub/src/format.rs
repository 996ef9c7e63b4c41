//! The onefile format, shared by the stub (`stub/src/main.rs`) and shenzi
//! (`src/onefile/`, which includes this file with `#[path]`): one definition of the
//! trailer, the archive stream, the cache folders and the checked extraction, so the
//! writer and the reader cannot drift apart. Only `std`, `zstd` and `blake3`: the stub
//! must stay small.
//!
//! A onefile is `[stub][payload][launcher][trailer]`:
//! - the payload is `[index length: u64][index frame][chunk frames]`, each frame an
//!   independent zstd frame with its content checksum, so chunks are decompressed and
//!   written by several threads at once;
//! - the launcher is the launcher's path in the dist (`bin/app`), UTF-8;
//! - the trailer is [`TRAILER_LEN`] bytes: [`MAGIC`], the version, the launcher's length,
//!   the payload's offset and length, and the BLAKE3 hash of the payload's bytes, which
//!   names the cache folder.
//!
//! The index is a header ([`ARCHIVE_MAGIC`]), the dist's folders and symlinks in the
//! order the writer walked the dist (sorted, folders before what they hold), a zero
//! byte, then the chunk count (`u32`) and each chunk frame's length (`u64`). A chunk is
//! file entries in walk order, ended by a zero byte:
//! - `1` folder: path, mode (index only);
//! - `2` file: path, mode, mtime (seconds), size, the bytes (chunks only);
//! - `3` symlink: path, target (index only).
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
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, SystemTime};

/// The first bytes of the trailer.
pub const MAGIC: [u8; 16] = *b"shenzi-onefile\0\0";
/// The format version; a stub refuses any other.
pub const VERSION: u32 = 2;
/// magic, version, launcher length, payload offset, payload length, hash.
pub const TRAILER_LEN: usize = 16 + 4 + 4 + 8 + 8 + 32;
/// The first bytes of the archive stream.
pub const ARCHIVE_MAGIC: [u8; 8] = *b"shzarc2\n";
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

fn get<const N: usize>(r: &mut (impl Read + ?Sized)) -> Result<[u8; N], ExtractError> {
    let mut b = [0u8; N];
    r.read_exact(&mut b).map_err(read_err)?;
    Ok(b)
}

fn get_str<R: Read + ?Sized>(r: &mut R, what: &str) -> Result<String, ExtractError> {
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

/// The index's entries and chunk lengths, checked: every path plain, every parent a
/// folder listed before it, every link inside.
struct Index {
    /// Folders by depth (`dirs[0]` at the top): a level is made only once the one
    /// above it is, so the levels' folders can be made in parallel.
    dirs: Vec<Vec<(String, u32)>>,
    known: HashSet<String>,
    links: Vec<(String, String)>,
    /// Each chunk's byte range in the payload.
    chunks: Vec<(usize, usize)>,
}

fn parent_known(path: &str, known: &HashSet<String>) -> Result<(), ExtractError> {
    match path.rsplit_once('/') {
        Some((parent, _)) if !known.contains(parent) => Err(damaged(format!(
            "`{path}` is not inside a folder the archive made"
        ))),
        _ => Ok(()),
    }
}

fn read_path<R: Read + ?Sized>(r: &mut R) -> Result<String, ExtractError> {
    let path = get_str(r, "path")?;
    if !plain_path(&path) {
        return Err(damaged(format!("the path `{path}` could leave its folder")));
    }
    Ok(path)
}

/// Reads on to the end of a frame, which makes the decoder check its checksum.
fn frame_end<R: Read + ?Sized>(r: &mut R) -> Result<(), ExtractError> {
    let mut rest = [0u8; 1];
    match r.read(&mut rest) {
        Ok(0) => Ok(()),
        Ok(_) => Err(damaged("bytes follow its last entry")),
        Err(e) => Err(read_err(e)),
    }
}

/// Decodes the one zstd frame that `bytes` must be, exactly, through `body`.
fn in_frame<T>(
    bytes: &[u8],
    body: impl FnOnce(&mut dyn Read) -> Result<T, ExtractError>,
) -> Result<T, ExtractError> {
    let mut input = bytes;
    let out = {
        let mut decoder = zstd::stream::read::Decoder::with_buffer(&mut input)
            .map_err(|e| damaged(e.to_string()))?
            .single_frame();
        let out = body(&mut decoder)?;
        frame_end(&mut decoder)?;
        out
    };
    if !input.is_empty() {
        return Err(damaged("a frame is followed by bytes it does not count"));
    }
    Ok(out)
}

fn read_index(payload: &[u8]) -> Result<Index, ExtractError> {
    let (len, rest) = payload
        .split_first_chunk::<8>()
        .ok_or_else(|| damaged("it ends early"))?;
    let len = usize::try_from(u64::from_le_bytes(*len)).unwrap_or(usize::MAX);
    if len > rest.len() {
        return Err(damaged("its index is longer than the payload"));
    }
    let (mut index, chunk_lens) = in_frame(&rest[..len], |r| {
        if get::<8>(r)? != ARCHIVE_MAGIC {
            return Err(damaged("it does not start with the archive header"));
        }
        let mut index = Index {
            dirs: Vec::new(),
            known: HashSet::new(),
            links: Vec::new(),
            chunks: Vec::new(),
        };
        loop {
            let [kind] = get::<1>(r)?;
            if kind == KIND_END {
                break;
            }
            let path = read_path(r)?;
            parent_known(&path, &index.known)?;
            match kind {
                KIND_DIR => {
                    let mode = u32::from_le_bytes(get::<4>(r)?);
                    let depth = path.matches('/').count();
                    if index.dirs.len() <= depth {
                        index.dirs.resize_with(depth + 1, Vec::new);
                    }
                    index.dirs[depth].push((path.clone(), mode));
                    if !index.known.insert(path.clone()) {
                        return Err(damaged(format!("the folder `{path}` is listed twice")));
                    }
                }
                KIND_LINK => {
                    let target = get_str(r, "symlink target")?;
                    if !link_stays_inside(&path, &target) {
                        return Err(damaged(format!(
                            "the symlink `{path}` -> `{target}` could point outside its folder"
                        )));
                    }
                    index.links.push((path, target));
                }
                other => return Err(damaged(format!("an index entry of unknown kind {other}"))),
            }
        }
        let count = u32::from_le_bytes(get::<4>(r)?);
        let mut lens = Vec::new();
        for _ in 0..count {
            lens.push(u64::from_le_bytes(get::<8>(r)?));
        }
        Ok((index, lens))
    })?;
    let mut at = 8 + len;
    for chunk_len in chunk_lens {
        let end = usize::try_from(chunk_len)
            .ok()
            .and_then(|l| at.checked_add(l))
            .filter(|&end| end <= payload.len())
            .ok_or_else(|| damaged("a chunk is longer than the payload"))?;
        index.chunks.push((at, end));
        at = end;
    }
    if at != payload.len() {
        return Err(damaged("its chunks do not fill the payload"));
    }
    Ok(index)
}

/// One chunk: file entries, each created new (`O_EXCL`, `O_NOFOLLOW`) in a folder the
/// index made.
fn extract_chunk(
    bytes: &[u8],
    into: &Path,
    known: &HashSet<String>,
    stop: &AtomicBool,
    after_file: &(dyn Fn() + Sync),
) -> Result<Extracted, ExtractError> {
    in_frame(bytes, |r| {
        let mut done = Extracted::default();
        let mut buf = vec![0u8; 256 * 1024];
        loop {
            let [kind] = get::<1>(r)?;
            if kind == KIND_END {
                return Ok(done);
            }
            if kind != KIND_FILE {
                return Err(damaged(format!("a chunk entry of unknown kind {kind}")));
            }
            if stop.load(Ordering::Relaxed) {
                // Another chunk failed: this extraction is removed anyway.
                return Ok(done);
            }
            let path = read_path(r)?;
            parent_known(&path, known)?;
            let dest = into.join(&path);
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
            after_file();
        }
    })
}

/// Runs `job(i)` for `i` in `0..count` on `threads` threads (the caller's among them);
/// the first error stops the others and is returned.
fn parallel(
    count: usize,
    threads: usize,
    stop: &AtomicBool,
    job: &(dyn Fn(usize) -> Result<(), ExtractError> + Sync),
) -> Result<(), ExtractError> {
    let next = AtomicUsize::new(0);
    let first: Mutex<Option<ExtractError>> = Mutex::new(None);
    let work = || {
        loop {
            let i = next.fetch_add(1, Ordering::Relaxed);
            if i >= count || stop.load(Ordering::Relaxed) {
                return;
            }
            if let Err(e) = job(i) {
                stop.store(true, Ordering::Relaxed);
                let mut first = first.lock().unwrap_or_else(|p| p.into_inner());
                // Damage explains a write error that follows from it, not the reverse.
                if first.is_none()
                    || matches!(
                        (&*first, &e),
                        (Some(ExtractError::Write(..)), ExtractError::Damaged(_))
                    )
                {
                    *first = Some(e);
                }
            }
        }
    };
    std::thread::scope(|s| {
        for _ in 1..threads.min(count).max(1) {
            s.spawn(work);
        }
        work();
    });
    match first.into_inner().unwrap_or_else(|p| p.into_inner()) {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// Extracts a payload (docs/onefile.md, "The file") into `into`, an empty folder the
/// caller made, on `threads` threads: the index's folders level by level, then its
/// symlinks and the chunks, each chunk an independent zstd frame decompressed and
/// written by one thread. Creating files is most of a first start and the kernel creates
/// them in parallel; decompressing the frames in parallel keeps the threads fed. Every
/// path is checked before anything is written to it and nothing is written outside
/// `into`. The payload's BLAKE3 hash is computed meanwhile and must equal `hash`; only
/// then is the marker written. `after_file` is called after each file (the stub's test
/// hook).
pub fn extract_payload(
    payload: &[u8],
    hash: &[u8; 32],
    into: &Path,
    threads: usize,
    after_file: &(dyn Fn(u64) + Sync),
) -> Result<Extracted, ExtractError> {
    let stop = AtomicBool::new(false);
    let files = AtomicU64::new(0);
    let bytes = AtomicU64::new(0);
    let (hashed, extracted) = std::thread::scope(|s| {
        let hasher = s.spawn(|| blake3::hash(payload));
        let extracted = (|| {
            let index = read_index(payload)?;
            for level in &index.dirs {
                parallel(level.len(), threads, &stop, &|i| {
                    let (path, mode) = &level[i];
                    let dest = into.join(path);
                    // Always writable by its owner while extracting, so its files can follow.
                    fs::DirBuilder::new()
                        .mode((mode & 0o777) | 0o700)
                        .create(&dest)
                        .map_err(|e| ExtractError::Write(dest.clone(), e))
                })?;
            }
            // The largest chunks first, so that no thread is left with a big one at the end.
            let mut order: Vec<usize> = (0..index.chunks.len()).collect();
            order.sort_by_key(|&i| std::cmp::Reverse(index.chunks[i].1 - index.chunks[i].0));
            let after = || after_file(files.fetch_add(1, Ordering::Relaxed) + 1);
            // Job 0 makes the symlinks (few), the others one chunk each.
            parallel(order.len() + 1, threads, &stop, &|job| {
                if job == 0 {
                    for (path, target) in &index.links {
                        let dest = into.join(path);
                        std::os::unix::fs::symlink(target, &dest)
                            .map_err(|e| ExtractError::Write(dest.clone(), e))?;
                    }
                    return Ok(());
                }
                let (from, to) = index.chunks[order[job - 1]];
                let done = extract_chunk(&payload[from..to], into, &index.known, &stop, &after)?;
                bytes.fetch_add(done.bytes, Ordering::Relaxed);
                Ok(())
            })
        })();
        (hasher.join(), extracted)
    });
    // A damaged payload is reported as that, whatever else failed because of it.
    if hashed.map_or(true, |h| h.as_bytes() != hash) {
        return Err(damaged(
            "its payload does not match its hash (the file is damaged)",
        ));
    }
    extracted?;
    let marker = into.join(MARKER);
    if let Some(parent) = marker.parent() {
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(parent)
            .map_err(|e| ExtractError::Write(parent.to_owned(), e))?;
    }
    fs::write(&marker, b"").map_err(|e| ExtractError::Write(marker.clone(), e))?;
    Ok(Extracted {
        files: files.into_inner(),
        bytes: bytes.into_inner(),
    })
}

/// Writes a payload: the index (folders and symlinks, then the chunks' compressed
/// lengths) as one zstd frame behind its length, then the chunks' frames. `compress`
/// makes one frame of one uncompressed stream.
pub fn write_payload(
    out: &mut impl Write,
    index_entries: &[u8],
    chunks: &[Vec<u8>],
    compress: &dyn Fn(&[u8]) -> io::Result<Vec<u8>>,
) -> io::Result<()> {
    let mut index = Vec::with_capacity(index_entries.len() + 16 + 8 * chunks.len());
    write_header(&mut index)?;
    index.extend_from_slice(index_entries);
    write_end(&mut index)?;
    index.extend_from_slice(&(chunks.len() as u32).to_le_bytes());
    for chunk in chunks {
        index.extend_from_slice(&(chunk.len() as u64).to_le_bytes());
    }
    let index = compress(&index)?;
    out.write_all(&(index.len() as u64).to_le_bytes())?;
    out.write_all(&index)?;
    for chunk in chunks {
        out.write_all(chunk)?;
    }
    Ok(())
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
