//! Reading and hashing binaries once per run: every file is read, parsed and hashed at
//! most once, keyed by its identity on disk, and the answers are shared by every phase.
//! The hash is taken when first asked for (the planner asks for all of them, in
//! parallel, in [`BinaryCache::read_all`]; `verify` never asks), so proving that needs
//! resolve costs header reads, not a pass over every byte.

use std::collections::HashMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use rayon::prelude::*;

use super::elf::ObjectInfo;
use super::file::{FileKind, NotAFile, not_a_file};

/// A file's identity on disk: the loader dedups objects by device and inode; size and
/// modification time make a cached answer safe against a file rewritten in place.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FileId {
    /// `st_dev`.
    pub dev: u64,
    /// `st_ino`.
    pub ino: u64,
    /// Size in bytes.
    pub size: u64,
    /// Modification time, nanoseconds since the epoch.
    pub mtime_ns: i128,
}

impl FileId {
    fn of(meta: &std::fs::Metadata) -> FileId {
        FileId {
            dev: meta.dev(),
            ino: meta.ino(),
            size: meta.size(),
            mtime_ns: i128::from(meta.mtime()) * 1_000_000_000 + i128::from(meta.mtime_nsec()),
        }
    }
}

/// The blake3 hash of a file's bytes: its content identity.
pub type ContentHash = [u8; 32];

/// A content hash as lowercase hex.
pub fn hex(hash: &ContentHash) -> String {
    hash.iter().map(|b| format!("{b:02x}")).collect()
}

/// What a file turned out to be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Contents {
    /// A parsable object of a format in [`super::FORMATS`] (named for the one format
    /// there is so far).
    Elf(Arc<ObjectInfo>),
    /// No format claims it (a script, a linker script such as `libc.so`, data).
    NotElf,
    /// Claimed by a format but truncated or damaged; the reason says how.
    Corrupt(String),
}

/// One file read from disk: its identity, content hash and parsed contents.
#[derive(Debug, Clone)]
pub struct Binary {
    /// Where it is on disk (the identity the loader dedups by).
    pub id: FileId,
    /// What the bytes turned out to be.
    pub contents: Contents,
    /// A path it was read from, to hash it when asked.
    path: PathBuf,
    /// The blake3 hash of its bytes, once asked for.
    hash: OnceLock<ContentHash>,
}

/// Equal when the same file on disk gave the same contents (the hash follows from them).
impl PartialEq for Binary {
    fn eq(&self, other: &Binary) -> bool {
        self.id == other.id && self.contents == other.contents
    }
}

impl Eq for Binary {}

impl Binary {
    /// The parsed ELF, when the file is one.
    pub fn elf(&self) -> Option<&Arc<ObjectInfo>> {
        match &self.contents {
            Contents::Elf(info) => Some(info),
            _ => None,
        }
    }

    /// A binary that stands for `self` with other contents (a patched view of it): same
    /// file, same content identity.
    pub fn with_contents(&self, contents: Contents) -> Binary {
        Binary {
            contents,
            ..self.clone()
        }
    }

    /// What it is: the blake3 hash of its bytes (the farm's node identity), read on
    /// first use. A file that can no longer be read (removed while shenzi runs) gets a
    /// hash of its path instead, unique to it; copying it fails later with the reason.
    pub fn hash(&self) -> ContentHash {
        *self
            .hash
            .get_or_init(|| match super::file::map_file(&self.path) {
                Ok(bytes) => *blake3::hash(&bytes).as_bytes(),
                Err(_) => {
                    let mut hasher = blake3::Hasher::new();
                    hasher.update(b"unreadable:");
                    hasher.update(self.path.as_os_str().as_encoded_bytes());
                    *hasher.finalize().as_bytes()
                }
            })
    }

    /// The content hash as lowercase hex (the layout's `{hash}`).
    pub fn hash_hex(&self) -> String {
        hex(&self.hash())
    }
}

/// What is at a path, as the loader's `open` would see it (glibc 2.36, measured).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Probe {
    /// Nothing there (`ENOENT`: absent, or a link to nothing), not readable (`EACCES`),
    /// or a path through a file (`ENOTDIR`: the loader marks such a search folder as
    /// absent the first time, normally while looking for libc): the loader moves on.
    Missing,
    /// A readable file.
    File(Arc<Binary>),
    /// Something the loader stops at: a folder ("cannot read file data"), a device
    /// (`/dev/null`: "file too short"), a FIFO (it blocks on it forever), a link loop
    /// (`ELOOP` ends the search list it is in; shenzi stops there, erring towards a
    /// reported failure).
    NotAFile(NotAFile),
}

/// What a failed `stat` or `open` of `path` means to the loader.
fn failed(path: &Path, err: &std::io::Error) -> Probe {
    match err.kind() {
        std::io::ErrorKind::NotFound
        | std::io::ErrorKind::PermissionDenied
        | std::io::ErrorKind::NotADirectory => Probe::Missing,
        _ => Probe::NotAFile(not_a_file(path, err)),
    }
}

/// Reads, parses and hashes each file once per run, in parallel when asked for many.
/// Answers are cached by [`FileId`] (so two paths to one file share one read) and by
/// path (so repeated probes of absent files cost one `stat`). Thread-safe.
#[derive(Debug, Default)]
pub struct BinaryCache {
    by_id: Mutex<HashMap<FileId, Arc<Binary>>>,
    by_path: Mutex<HashMap<PathBuf, Probe>>,
}

impl BinaryCache {
    pub fn new() -> BinaryCache {
        BinaryCache::default()
    }

    /// What is at `path` (symlinks followed), reading and hashing it on first sight.
    pub fn probe(&self, path: &Path) -> Probe {
        if let Some(hit) = lock(&self.by_path).get(path) {
            return hit.clone();
        }
        let probe = self.probe_uncached(path);
        lock(&self.by_path).insert(path.to_owned(), probe.clone());
        probe
    }

    fn probe_uncached(&self, path: &Path) -> Probe {
        let meta = match std::fs::metadata(path) {
            Ok(meta) => meta,
            Err(err) => return failed(path, &err),
        };
        if !meta.is_file() {
            return Probe::NotAFile(NotAFile::Special(FileKind::of(&meta.file_type())));
        }
        let id = FileId::of(&meta);
        if let Some(hit) = lock(&self.by_id).get(&id) {
            return Probe::File(hit.clone());
        }
        // Mapped, not read: parsing touches the headers only, and hashing a 25 MB
        // library touches the page cache directly, with no copy.
        let bytes = match super::file::map_file(path) {
            Ok(bytes) => bytes,
            Err(err) => return failed(path, &err),
        };
        let contents = match super::format::read(&bytes) {
            Ok(Some(info)) => Contents::Elf(Arc::new(info)),
            Ok(None) => Contents::NotElf,
            Err(reason) => Contents::Corrupt(reason),
        };
        let binary = Arc::new(Binary {
            id,
            contents,
            path: path.to_owned(),
            hash: OnceLock::new(),
        });
        // Two threads may read one file at once; the first answer wins, both are equal.
        let mut by_id = lock(&self.by_id);
        Probe::File(by_id.entry(id).or_insert(binary).clone())
    }

    /// Reads and hashes every path in parallel (rayon), so that later probes and
    /// hashes are cache hits. Returns the probes in the order of `paths`.
    pub fn read_all(&self, paths: &[PathBuf]) -> Vec<Probe> {
        paths
            .par_iter()
            .map(|p| {
                let probe = self.probe(p);
                if let Probe::File(binary) = &probe {
                    binary.hash();
                }
                probe
            })
            .collect()
    }

    /// The file at `path`, when it is one.
    pub fn get(&self, path: &Path) -> Option<Arc<Binary>> {
        match self.probe(path) {
            Probe::File(b) => Some(b),
            Probe::Missing | Probe::NotAFile(_) => None,
        }
    }

    /// How many distinct files were read so far.
    pub fn files_read(&self) -> usize {
        lock(&self.by_id).len()
    }
}

/// A poisoned lock only means another thread panicked mid-insert of a complete value;
/// the map is still consistent, so keep using it.
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}
