//! What an apply did, for the CLI's summary and JSON.

use std::path::PathBuf;
use std::time::Duration;

use super::record::Difference;

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
    /// ELF objects written stripped (`strip debug`), and the bytes that saved.
    pub stripped: u64,
    pub stripped_bytes: u64,
    /// Files hard-linked from the previous dist because they were already exactly what
    /// this apply writes (see the module docs).
    pub reused: u64,
    /// With a previous dist: the files and symlinks written again, each with the first
    /// reason it could not be reused, sorted by path.
    pub redone: Vec<Redone>,
    /// With a previous dist: its paths the new one does not hold.
    pub removed: u64,
    /// Nothing had changed: the previous dist was left as it was, nothing written.
    pub unchanged: bool,
    /// Paths added to or changed in the previous dist, deleted with it
    /// (`discard_changes`).
    pub discarded: Vec<Difference>,
    /// Where the rest of the previous dist was kept: paths that appeared in it while it
    /// was being replaced, which its record does not list.
    pub kept: Option<PathBuf>,
    pub elapsed: Duration,
}

/// A path of the dist written again on re-apply, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Redone {
    pub path: String,
    pub reason: String,
}
