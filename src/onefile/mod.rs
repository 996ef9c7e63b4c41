//! One runnable file: a dist packed behind a small native stub (docs/onefile.md).
//!
//! [`pack`] writes `[stub][zstd payload][launcher][trailer]`; the stub (`stub/`, built
//! and embedded by `build.rs`) extracts the payload once into a cache folder named by
//! its hash and `exec`s the launcher. [`unpack`] extracts a onefile for `verify`;
//! [`cache_entries`] and [`clear_cache`] list and remove what stubs extracted.

mod diagnostics;
#[path = "../../stub/src/format.rs"]
mod format;

use std::fs;
use std::io::{self, BufWriter, Read, Write};
use std::os::unix::fs::FileExt;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

pub use diagnostics::OnefileError;
pub use format::{CACHE_VARIABLE, MARKER, Trailer, hex};

/// The stub's binary, built from `stub/` by `build.rs`.
pub static STUB: &[u8] = include_bytes!(env!("SHENZI_STUB"));

/// zstd's level for the payload by default: 19 is the highest of the normal levels;
/// within a chunk, long-distance matching with up to a 128 MiB window (27, what every
/// decoder accepts by default). On the stdlib example's 85 MB dist, as one frame: 23.8
/// MB in 47 s at 19, 27.5 MB in 5 s at 9 (two loaded cores); docs/performance.md.
pub const DEFAULT_LEVEL: i32 = 19;
/// The variable choosing another level (1 to 19), trading size for build time.
pub const LEVEL_VARIABLE: &str = "SHENZI_ONEFILE_LEVEL";

/// The level [`LEVEL_VARIABLE`] asks for, or the default.
pub fn level_from_env() -> i32 {
    std::env::var(LEVEL_VARIABLE)
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .filter(|l| (1..=19).contains(l))
        .unwrap_or(DEFAULT_LEVEL)
}
const WINDOW_LOG: u32 = 27;
/// The uncompressed bytes of a chunk (an independent zstd frame, decompressed by one
/// thread of the stub): small enough that a first start's threads share the work,
/// large enough that files still compress against their neighbours. On the stdlib
/// example (83.7 MB): 25.4 MB with 4 MiB chunks, 25.0 MB with 16 MiB.
const CHUNK_BYTES: u64 = 16 << 20;

/// What [`pack`] wrote.
#[derive(Debug, Clone)]
pub struct Packed {
    pub path: PathBuf,
    pub bytes: u64,
    /// The dist's files and their bytes before compression.
    pub files: u64,
    pub dist_bytes: u64,
    pub key: String,
}

/// Counts and hashes the compressed bytes on their way to the file.
struct Counting<W> {
    inner: W,
    hasher: blake3::Hasher,
    written: u64,
}

impl<W: Write> Write for Counting<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.written += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// Whether `path` ends with a onefile trailer.
pub fn is_onefile(path: &Path) -> bool {
    let Ok(file) = fs::File::open(path) else {
        return false;
    };
    let Ok(meta) = file.metadata() else {
        return false;
    };
    meta.is_file() && format::read_trailer(&file, meta.len()).is_ok()
}

/// Packs the dist at `dist` (whose launcher is `launcher`, relative) into the onefile
/// `output`: written beside it and renamed into place, so a failure leaves what was
/// there. An existing `output` is replaced only when it is a onefile, or with `force`
/// when it is a file.
pub fn pack(
    dist: &Path,
    launcher: &str,
    output: &Path,
    force: bool,
    level: i32,
) -> Result<Packed, OnefileError> {
    let pack_err = |reason: String| OnefileError::Pack {
        dist: dist.to_owned(),
        reason,
    };
    if !format::plain_path(launcher) {
        return Err(pack_err(format!(
            "the launcher path `{launcher}` is not plain"
        )));
    }
    if let Ok(meta) = fs::symlink_metadata(output)
        && !(meta.is_file() && (force || is_onefile(output)))
    {
        return Err(OnefileError::WouldReplace {
            path: output.to_owned(),
        });
    }
    let folder = match output.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
        _ => PathBuf::from("."),
    };
    let write_err = |source: io::Error| OnefileError::Write {
        path: output.to_owned(),
        source,
    };
    let tmp = tempfile::Builder::new()
        .prefix(".shenzi-onefile-")
        .tempfile_in(&folder)
        .map_err(write_err)?;
    let mut out = BufWriter::with_capacity(1 << 20, tmp.as_file().try_clone().map_err(write_err)?);
    out.write_all(STUB).map_err(write_err)?;
    let payload_offset = STUB.len() as u64;
    let mut counting = Counting {
        inner: out,
        hasher: blake3::Hasher::new(),
        written: 0,
    };
    let (files, dist_bytes) = write_archive(dist, &mut counting, level).map_err(|e| match e {
        ArchiveError::Io(e) => write_err(e),
        ArchiveError::Dist(reason) => pack_err(reason),
    })?;
    let hash = *counting.hasher.finalize().as_bytes();
    let payload_len = counting.written;
    let mut out = counting.inner;
    let trailer = Trailer {
        payload_offset,
        payload_len,
        hash,
        launcher: launcher.to_owned(),
    };
    out.write_all(&trailer.encode()).map_err(write_err)?;
    out.flush().map_err(write_err)?;
    drop(out);
    let file = tmp.as_file();
    file.set_permissions(fs::Permissions::from_mode(0o755))
        .map_err(write_err)?;
    file.sync_all().map_err(write_err)?;
    let bytes = file.metadata().map_err(write_err)?.len();
    tmp.persist(output).map_err(|e| write_err(e.error))?;
    Ok(Packed {
        path: output.to_owned(),
        bytes,
        files,
        dist_bytes,
        key: trailer.key(),
    })
}

enum ArchiveError {
    Io(io::Error),
    Dist(String),
}

impl From<io::Error> for ArchiveError {
    fn from(e: io::Error) -> Self {
        ArchiveError::Io(e)
    }
}

/// A file of the dist, to be read into its chunk.
struct DistFile {
    source: PathBuf,
    path: String,
    mode: u32,
    mtime: i64,
    size: u64,
}

/// Writes the dist as the payload (`format.rs`): sorted by name, folders before their
/// contents, the dist's modes and mtimes (apply fixed them), so the same dist gives the
/// same bytes. The files are cut into chunks of about [`CHUNK_BYTES`] in walk order and
/// the chunks compressed in parallel, each on its own (a frame's bytes depend on its
/// input and the parameters only). Returns the files and their bytes.
fn write_archive(
    dist: &Path,
    out: &mut impl Write,
    level: i32,
) -> Result<(u64, u64), ArchiveError> {
    let mut index = Vec::new();
    let mut files = Vec::new();
    let walk = walkdir::WalkDir::new(dist)
        .min_depth(1)
        .follow_links(false)
        .sort_by_file_name();
    for entry in walk {
        let entry = entry.map_err(|e| ArchiveError::Dist(e.to_string()))?;
        let rel = entry
            .path()
            .strip_prefix(dist)
            .map_err(|e| ArchiveError::Dist(e.to_string()))?;
        let Some(path) = rel.to_str() else {
            return Err(ArchiveError::Dist(format!(
                "`{}` is not a UTF-8 path",
                rel.display()
            )));
        };
        if !format::plain_path(path) {
            return Err(ArchiveError::Dist(format!("`{path}` is not a plain path")));
        }
        let meta = entry
            .path()
            .symlink_metadata()
            .map_err(|e| ArchiveError::Dist(format!("`{path}`: {e}")))?;
        let kind = meta.file_type();
        if kind.is_dir() {
            format::write_entry(
                &mut index,
                &format::Entry::Dir {
                    path,
                    mode: meta.mode() & 0o777,
                },
            )?;
        } else if kind.is_symlink() {
            let target = fs::read_link(entry.path())
                .map_err(|e| ArchiveError::Dist(format!("`{path}`: {e}")))?;
            let target = target.to_str().unwrap_or_default();
            if !format::link_stays_inside(path, target) {
                return Err(ArchiveError::Dist(format!(
                    "the symlink `{path}` -> `{target}` does not stay inside the dist"
                )));
            }
            format::write_entry(&mut index, &format::Entry::Link { path, target })?;
        } else if kind.is_file() {
            files.push(DistFile {
                source: entry.path().to_owned(),
                path: path.to_owned(),
                mode: meta.mode() & 0o777,
                mtime: meta.mtime(),
                size: meta.len(),
            });
        } else {
            return Err(ArchiveError::Dist(format!(
                "`{path}` is neither a file, a folder nor a symlink"
            )));
        }
    }
    let mut chunks: Vec<&[DistFile]> = Vec::new();
    let (mut start, mut filled) = (0, 0);
    for (i, file) in files.iter().enumerate() {
        if filled > 0 && filled + file.size > CHUNK_BYTES {
            chunks.push(&files[start..i]);
            (start, filled) = (i, 0);
        }
        filled += file.size;
    }
    if start < files.len() {
        chunks.push(&files[start..]);
    }
    use rayon::prelude::*;
    let frames = chunks
        .par_iter()
        .map(|chunk| compress(&read_chunk(chunk)?, level).map_err(ArchiveError::Io))
        .collect::<Result<Vec<_>, _>>()?;
    format::write_payload(out, &index, &frames, &|bytes| compress(bytes, level))?;
    Ok((files.len() as u64, files.iter().map(|f| f.size).sum()))
}

/// A chunk's uncompressed stream: its files' entries and bytes, then the end.
fn read_chunk(chunk: &[DistFile]) -> Result<Vec<u8>, ArchiveError> {
    let mut out = Vec::with_capacity(chunk.iter().map(|f| f.size as usize + 64).sum());
    for file in chunk {
        format::write_entry(
            &mut out,
            &format::Entry::File {
                path: &file.path,
                mode: file.mode,
                mtime: file.mtime,
                size: file.size,
            },
        )?;
        let copied = io::copy(&mut fs::File::open(&file.source)?.take(file.size), &mut out)?;
        if copied != file.size {
            return Err(ArchiveError::Dist(format!(
                "`{}` changed while it was packed",
                file.path
            )));
        }
    }
    format::write_end(&mut out)?;
    Ok(out)
}

/// One zstd frame of `bytes`, with its checksum and size.
fn compress(bytes: &[u8], level: i32) -> io::Result<Vec<u8>> {
    use zstd::stream::raw::CParameter;
    let mut c = zstd::bulk::Compressor::new(level)?;
    c.set_parameter(CParameter::ChecksumFlag(true))?;
    c.set_parameter(CParameter::WindowLog(WINDOW_LOG))?;
    c.set_parameter(CParameter::EnableLongDistanceMatching(true))?;
    c.compress(bytes)
}

/// Reads a onefile's trailer.
pub fn trailer(path: &Path) -> Result<Trailer, OnefileError> {
    let file = fs::File::open(path).map_err(|source| OnefileError::Read {
        path: path.to_owned(),
        source,
    })?;
    let len = file
        .metadata()
        .map_err(|source| OnefileError::Read {
            path: path.to_owned(),
            source,
        })?
        .len();
    format::read_trailer(&file, len).map_err(|e| OnefileError::NotAOnefile {
        path: path.to_owned(),
        reason: e.to_string(),
    })
}

/// Extracts the onefile `path` into `into` (an empty folder), with the checks the stub
/// makes (every path, the zstd checksum, the payload's hash). Returns the trailer.
pub fn unpack(path: &Path, into: &Path) -> Result<Trailer, OnefileError> {
    let trailer = trailer(path)?;
    let read_err = |source: io::Error| OnefileError::Read {
        path: path.to_owned(),
        source,
    };
    let damaged = |reason: String| OnefileError::Damaged {
        path: path.to_owned(),
        reason,
    };
    let file = fs::File::open(path).map_err(read_err)?;
    let len = usize::try_from(trailer.payload_len)
        .map_err(|_| damaged("its payload does not fit in memory".into()))?;
    let mut payload = vec![0u8; len];
    file.read_exact_at(&mut payload, trailer.payload_offset)
        .map_err(read_err)?;
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get().clamp(2, 8));
    format::extract_payload(&payload, &trailer.hash, into, threads, &|_| {})
        .map_err(|e| damaged(e.to_string()))?;
    Ok(trailer)
}

/// One extraction in a cache folder.
#[derive(Debug, Clone)]
pub struct CacheEntry {
    pub path: PathBuf,
    /// Complete (its marker is there) or left by an interrupted start.
    pub complete: bool,
    pub bytes: u64,
    /// The launcher's name, from the dist's record, when it can be read.
    pub app: Option<String>,
}

/// The cache folders a stub of this user would use, in its order.
pub fn cache_roots() -> Vec<PathBuf> {
    // SAFETY: getuid has no preconditions and cannot fail.
    let uid = unsafe { libc::getuid() };
    format::cache_roots(&|name| std::env::var_os(name), uid)
}

fn tree_bytes(path: &Path) -> u64 {
    walkdir::WalkDir::new(path)
        .follow_links(false)
        .into_iter()
        .flatten()
        .filter_map(|e| e.metadata().ok())
        .filter(|m| m.is_file())
        .map(|m| m.len())
        .sum()
}

/// Every extraction (and unfinished one) in the cache folders, sorted by path.
pub fn cache_entries() -> Vec<CacheEntry> {
    let mut out = Vec::new();
    for root in cache_roots() {
        let Ok(entries) = fs::read_dir(&root) else {
            continue;
        };
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let (key, complete) = if format::is_key(&name) {
                (name.clone(), entry.path().join(MARKER).exists())
            } else if let Some(rest) = name.strip_prefix('.')
                && let Some((key, _)) = rest.split_once('.')
                && format::is_key(key)
            {
                (key.to_owned(), false)
            } else {
                continue;
            };
            let _ = key;
            let path = entry.path();
            if !path.symlink_metadata().is_ok_and(|m| m.is_dir()) {
                continue;
            }
            let app = fs::read_to_string(path.join(".shenzi/dist.json"))
                .ok()
                .and_then(|text| serde_json::from_str::<serde_json::Value>(&text).ok())
                .and_then(|v| v.get("launcher")?.as_str().map(str::to_owned))
                .map(|l| l.rsplit('/').next().unwrap_or(&l).to_owned());
            out.push(CacheEntry {
                bytes: tree_bytes(&path),
                path,
                complete,
                app,
            });
        }
    }
    out.sort_by(|a, b| a.path.cmp(&b.path));
    out
}

/// Removes every extraction and lock of the cache folders, each under its lock so that
/// a first start in progress finishes first. Returns what was removed.
pub fn clear_cache() -> Result<Vec<CacheEntry>, OnefileError> {
    let entries = cache_entries();
    for entry in &entries {
        let name = entry
            .path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let key = name.trim_start_matches('.').split('.').next().unwrap_or("");
        let root = entry.path.parent().unwrap_or(Path::new("/"));
        let lock = fs::OpenOptions::new()
            .write(true)
            .open(root.join(format!("{key}.lock")))
            .ok();
        if let Some(lock) = &lock {
            use std::os::fd::AsRawFd;
            // SAFETY: flock on a descriptor this function owns; released when it closes.
            unsafe {
                libc::flock(lock.as_raw_fd(), libc::LOCK_EX);
            }
        }
        match fs::remove_dir_all(&entry.path) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(source) => {
                return Err(OnefileError::Clear {
                    path: entry.path.clone(),
                    source,
                });
            }
        }
    }
    for root in cache_roots() {
        let Ok(dir) = fs::read_dir(&root) else {
            continue;
        };
        for entry in dir.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if let Some(key) = name.strip_suffix(".lock")
                && format::is_key(key)
            {
                let _ = fs::remove_file(entry.path());
            }
        }
    }
    Ok(entries)
}
