//! Proving that a dist's binaries find their libraries: the loader simulated, with the
//! native model's resolver, for every binary from every folder it can be opened from.
//!
//! The planner runs the proof on a plan before anything is written, through
//! [`VirtualFs`] (the planned tree, binaries with their planned RUNPATH); `verify` runs
//! the same proof over a finished dist on disk. It lives here, below both.

use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use super::{FileSystem, Opened, Request, Resolution, SearchConfig, resolve};
use crate::binary::{Binary, BinaryCache, Contents, ObjectInfo, Probe};

/// A file-system view of a planned dist below `root`, over the host's files elsewhere
/// (where the system libraries are).
pub struct VirtualFs<'a> {
    root: PathBuf,
    entries: BTreeMap<PathBuf, VirtualEntry>,
    host: &'a BinaryCache,
}

/// One path of the planned dist the loader may open.
#[derive(Debug, Clone)]
pub enum VirtualEntry {
    /// A binary as it will be shipped (its headers with the planned edits).
    File(Arc<Binary>),
    /// A symlink, its target as it will be written.
    Link(PathBuf),
}

impl<'a> VirtualFs<'a> {
    pub fn new(root: impl Into<PathBuf>, host: &'a BinaryCache) -> Self {
        VirtualFs {
            root: root.into(),
            entries: BTreeMap::new(),
            host,
        }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Adds `rel` (relative to the root).
    pub fn insert(&mut self, rel: &str, entry: VirtualEntry) {
        self.entries.insert(self.root.join(rel), entry);
    }

    /// The path `path` finally names, symlinks inside the dist followed; `None` for a
    /// dangling or looping link.
    pub fn real(&self, path: &Path) -> Option<PathBuf> {
        let mut at = normalize(path);
        for _ in 0..40 {
            match self.entries.get(&at) {
                Some(VirtualEntry::Link(target)) => {
                    let base = at.parent().unwrap_or(Path::new("/"));
                    at = normalize(&base.join(target));
                }
                Some(VirtualEntry::File(_)) => return Some(at),
                None if at.starts_with(&self.root) => return None,
                None => return Some(at),
            }
        }
        None
    }
}

impl FileSystem for VirtualFs<'_> {
    fn probe(&self, path: &Path) -> Probe {
        match self.real(path) {
            Some(real) if real.starts_with(&self.root) => match self.entries.get(&real) {
                Some(VirtualEntry::File(binary)) => Probe::File(binary.clone()),
                _ => Probe::Missing,
            },
            Some(outside) => self.host.probe(&outside),
            None => Probe::Missing,
        }
    }
}

/// `a/./b/../c` → `a/c`, lexically (the dist's symlinks are relative and stay inside).
pub fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            other => out.push(other.as_os_str()),
        }
    }
    out
}

/// One binary and the folders it can be opened from.
#[derive(Debug, Clone)]
pub struct Subject {
    /// A name for reports (its path in the dist, relative).
    pub label: String,
    /// Its file name as it is opened (the name of the symlink or file).
    pub file_name: String,
    pub info: Arc<ObjectInfo>,
    /// Absolute folders (in the file-system view) it can be opened from.
    pub origins: Vec<PathBuf>,
    /// Names it `dlopen`s at run time for the app (`_ctypes` for `ctypes.CDLL`): searched
    /// as its needs are, with its RUNPATH.
    pub loads: Vec<String>,
}

/// What the loader does with one need of one binary opened from one folder.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub subject: usize,
    pub origin: PathBuf,
    pub need: String,
    /// `need` is one of the subject's run-time [`Subject::loads`], not a `DT_NEEDED`.
    pub load: bool,
    pub resolution: Resolution,
    /// The real file the need resolved to, symlinks followed.
    pub real: Option<PathBuf>,
}

/// Resolves every need and run-time load of every subject from each of its origins, as
/// a freshly started process would: no `LD_LIBRARY_PATH` (shenzi's launcher sets none), nothing loaded
/// before (a need must resolve on its own, not by luck of load order).
pub fn prove<F: FileSystem + RealPath>(
    fs: &F,
    config: &SearchConfig,
    subjects: &[Subject],
) -> Vec<Outcome> {
    use rayon::prelude::*;
    subjects
        .par_iter()
        .enumerate()
        .flat_map_iter(|(i, subject)| {
            subject.origins.iter().flat_map(move |origin| {
                let opened = Opened {
                    path: origin.join(&subject.file_name),
                    info: subject.info.clone(),
                };
                let needs = subject.info.needed.iter().map(|n| (n, false));
                needs
                    .chain(subject.loads.iter().map(|n| (n, true)))
                    .map(|(need, load)| {
                        let resolution = resolve(
                            fs,
                            config,
                            &Request {
                                name: need,
                                object: &opened,
                                chain: &[],
                                main: None,
                                library_path: &[],
                                loaded: &[],
                            },
                        );
                        let real = resolution
                            .found
                            .as_ref()
                            .and_then(|f| fs.real_path(&f.path));
                        Outcome {
                            subject: i,
                            origin: origin.clone(),
                            need: need.clone(),
                            load,
                            resolution,
                            real,
                        }
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect()
}

/// Following symlinks to the file a path names.
pub trait RealPath {
    fn real_path(&self, path: &Path) -> Option<PathBuf>;
}

impl RealPath for VirtualFs<'_> {
    fn real_path(&self, path: &Path) -> Option<PathBuf> {
        self.real(path)
    }
}

impl RealPath for BinaryCache {
    fn real_path(&self, path: &Path) -> Option<PathBuf> {
        std::fs::canonicalize(path).ok()
    }
}

/// The binary `source` as it will be shipped: its content identity, with `runpath`
/// replacing its RUNPATH (and its RPATH removed, as `patchelf --set-rpath` does) and
/// `add_needed` appended to its needs.
pub fn shipped(
    source: &Binary,
    info: &ObjectInfo,
    runpath: Option<&[String]>,
    add_needed: &[String],
) -> Arc<Binary> {
    let mut info = info.clone();
    info.needed.extend(add_needed.iter().cloned());
    if let Some(entries) = runpath {
        info.runpath = entries.to_vec();
        info.rpath.clear();
    }
    Arc::new(source.with_contents(Contents::Elf(Arc::new(info))))
}
