//! The dist record: what a dist says about itself in `.shenzi/dist.json`. The planner
//! fills it, `execute` writes it, `verify` reads it back; it lives below all three.

use serde::{Deserialize, Serialize};

/// What `verify` needs to know about a dist, stored inside it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DistRecord {
    /// Format of this record.
    pub version: u32,
    /// The shenzi that wrote the dist.
    pub shenzi: String,
    /// The layout's name.
    pub layout: String,
    /// The interpreter, relative to the dist root.
    pub interpreter: String,
    /// The launcher, relative to the dist root.
    pub launcher: String,
    /// `major.minor` of the bundled Python.
    pub python: String,
    /// SONAME globs of the libraries the target system provides.
    pub system_libraries: Vec<String>,
    /// What the launcher starts (absent for a `symlink` launcher and in older records).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entry: Option<DistEntry>,
    /// The generated `.pth` that puts the layout's folders on `sys.path`, relative to the
    /// dist root (absent in older records).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pth: Option<String>,
    /// The run-time loads the dist must serve, for `verify` to check (absent in older
    /// records).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub loads: Vec<DistLoad>,
    /// Objects written as they are, the build machine could not load them either: what
    /// `verify` must not hold against the dist (absent in older records).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub as_is: Vec<AsIsObject>,
}

/// A run-time load of the app, as the dist serves it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum DistLoad {
    /// `dlopen` of a path: the app computes it from where its module is, so the file must
    /// be at `path` (relative to the dist root) in the dist.
    ByPath {
        path: String,
        /// The Python module that asks (for messages).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        caller: Option<String>,
    },
    /// `dlopen` of a bare name from `callers` (relative to the dist root): their RUNPATH
    /// must find it, in the dist or the system policy.
    ByName { name: String, callers: Vec<String> },
}

/// An object written as it is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AsIsObject {
    /// Relative to the dist root.
    pub path: String,
    /// Needs the build machine could not satisfy either.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub missing: Vec<String>,
    /// Why this machine cannot load it at all (another machine's build, damage).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unloadable: Option<String>,
}

/// The record as `apply` writes it: the plan's, every path written, and its own digest.
/// (`verify` reads the [`DistRecord`] part of it.)
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WrittenRecord {
    #[serde(flatten)]
    pub record: DistRecord,
    /// Every path `apply` wrote but this record, sorted: what `--force` may remove.
    #[serde(default)]
    pub files: Vec<RecordedPath>,
    /// The record's own blake3, over its bytes with these 64 hex digits written as
    /// zeros: a record written or edited by hand does not check out. The last field
    /// (the last line of the file).
    #[serde(default)]
    pub digest: String,
}

/// One path of a dist as `apply` wrote it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordedPath {
    /// Relative to the dist root, `/`-separated.
    pub path: String,
    #[serde(flatten)]
    pub kind: RecordedKind,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum RecordedKind {
    /// `mode`: permission bits in octal, as `plan --format json` writes them.
    Dir {
        mode: String,
    },
    File {
        mode: String,
        size: u64,
        /// blake3 of the bytes, in hex.
        blake3: String,
        /// What a copy was made from, for re-apply to tell it unchanged (absent for
        /// generated files and in older records).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        source: Option<SourceIdentity>,
        /// The edits written over the copy (`strip`, `runpath=…`, `needed a>b`,
        /// `add c`, `stamp`), `;`-separated; absent when it is the source's bytes.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        edits: Option<String>,
    },
    Symlink {
        target: String,
    },
}

/// A source file as `stat` saw it just before apply read it. Re-apply trusts it: a file
/// with all five unchanged is taken to hold the same bytes (the change time cannot be
/// set by a user, so a rewrite that restores size and mtime still shows).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceIdentity {
    pub dev: u64,
    pub ino: u64,
    pub size: u64,
    /// Modification and change times, in nanoseconds since the epoch.
    pub mtime_ns: i64,
    pub ctime_ns: i64,
}

/// What a dist's launcher starts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DistEntry {
    /// A script, relative to the dist root.
    Script(String),
    /// A module run with `-m`.
    Module(String),
}

/// Where a dist keeps its own record; its presence marks a folder as a shenzi dist.
pub const RECORD_PATH: &str = ".shenzi/dist.json";

/// The record format `execute` writes: 2 added `files` and `digest`.
pub const RECORD_VERSION: u32 = 2;
