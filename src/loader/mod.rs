//! The glibc loader's library search, as a pure function over an injectable file system.
//!
//! [`resolve`] answers "which file does the loader load for need N of object O, opened
//! through path P", following `elf/dl-load.c` (DESIGN.md, "Loader facts"):
//!
//! 1. an already-loaded object whose path, requested name or SONAME equals N is reused;
//! 2. a name containing `/` is opened as a path (`$ORIGIN` etc. expanded);
//! 3. otherwise, in order: `DT_RPATH` of O and of its loader chain, then of the main
//!    executable (only while O has no `DT_RUNPATH`; an object with `DT_RUNPATH` has no
//!    effective `DT_RPATH`); `LD_LIBRARY_PATH`; `DT_RUNPATH` of O; `ld.so.cache`; the
//!    default directories. Every directory is tried with the `glibc-hwcaps` (and, before
//!    glibc 2.37, legacy hwcap) subfolders first. Candidates of another class or
//!    machine are skipped; a file that exists but is not a loadable ELF stops the search,
//!    as it makes the real loader fail.
//!
//! The system part (cache entries, default directories, platform strings, an optional
//! policy that hides non-policy system libraries) is a [`SearchConfig`], and files are
//! looked at through a [`FileSystem`], so `verify` can simulate a target machine.

pub mod ldcache;
pub mod process;
pub mod proof;

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub use ldcache::{CacheEntry, LdCache, LdCacheError};
pub use process::{Event, Object, Process, Start, split_preload};

use crate::binary::elf::{EM_AARCH64, EM_X86_64};
use crate::binary::{
    Binary, BinaryCache, Contents, FileId, FileKind, FormatId, NotAFile, ObjectInfo, Probe,
};
use crate::policy::Policy;

/// How the resolver looks at files. [`BinaryCache`] is the host's file system; a
/// `verify` of a dist for another machine can wrap it.
pub trait FileSystem: Sync {
    /// What is at `path`, symlinks followed, as the loader's `open` sees it.
    fn probe(&self, path: &Path) -> Probe;
}

impl FileSystem for BinaryCache {
    fn probe(&self, path: &Path) -> Probe {
        BinaryCache::probe(self, path)
    }
}

/// The system half of the search: everything that is a property of the machine the
/// objects run on rather than of the objects.
///
/// - The machine shenzi runs on: [`SearchConfig::host`].
/// - A target that has nothing but the system policy's libraries (what `verify` checks a
///   dist against): `SearchConfig::host().0.with_only_system(Policy::from_preset(p))` —
///   cache and default-directory hits outside the policy count as absent
///   ([`Miss::NotInPolicy`]).
/// - Any other machine: build the struct, e.g. `SearchConfig { ld_cache:
///   LdCache::read(root.join("etc/ld.so.cache"))?, default_dirs: vec![...], ..host }`,
///   and give [`resolve`] a [`FileSystem`] that shows that machine's files.
#[derive(Debug, Clone)]
pub struct SearchConfig {
    /// The class the process runs as (ELFCLASS64); other candidates are skipped.
    pub is_64: bool,
    /// The `e_machine` the process runs as; other candidates are skipped.
    pub machine: u16,
    /// The cache flags a usable entry has (`FLAG_ELF_LIBC6 | FLAG_X8664_LIB64`).
    pub cache_flags: i32,
    /// `/etc/ld.so.cache`.
    pub ld_cache: LdCache,
    /// The loader's built-in directories, in order.
    pub default_dirs: Vec<PathBuf>,
    /// Supported `glibc-hwcaps` subfolder names, best first (`x86-64-v3`, `x86-64-v2`).
    pub hwcaps: Vec<String>,
    /// Legacy hwcap subfolders tried after the `glibc-hwcaps` ones (glibc < 2.37),
    /// in order (`tls/x86_64/x86_64`, `tls/x86_64`, `tls`, `x86_64/x86_64`, `x86_64`).
    pub legacy_subdirs: Vec<String>,
    /// What `$LIB` expands to (`lib/x86_64-linux-gnu` on Debian, `lib64` on RHEL).
    pub lib: String,
    /// What `$PLATFORM` expands to (`x86_64`).
    pub platform: String,
    /// When set, a library found through `ld.so.cache` or a default directory counts
    /// only if this policy says the target provides it: the view of a target machine
    /// that has nothing but the policy libraries.
    pub system_only: Option<Policy>,
}

impl SearchConfig {
    /// The machine shenzi runs on: its `/etc/ld.so.cache`, its default directories (the
    /// multiarch layout when `/lib/<triplet>/libc.so.6` exists, else `lib64`), the
    /// `glibc-hwcaps` levels its CPU supports, and legacy subfolders when its glibc is
    /// older than 2.37. An unreadable cache is an empty one, with the error returned.
    pub fn host() -> (SearchConfig, Option<LdCacheError>) {
        let (ld_cache, error) = match LdCache::read(Path::new("/etc/ld.so.cache")) {
            Ok(c) => (c, None),
            Err(e) => (LdCache::default(), Some(e)),
        };
        let (machine, triplet, platform, flags) = if cfg!(target_arch = "aarch64") {
            (
                EM_AARCH64,
                "aarch64-linux-gnu",
                "aarch64",
                ldcache::FLAG_ELF_LIBC6 | ldcache::FLAG_AARCH64_LIB64,
            )
        } else {
            (
                EM_X86_64,
                "x86_64-linux-gnu",
                "x86_64",
                ldcache::FLAG_ELF_LIBC6 | ldcache::FLAG_X8664_LIB64,
            )
        };
        let multiarch = Path::new("/lib").join(triplet).join("libc.so.6").exists();
        let (default_dirs, lib): (Vec<PathBuf>, String) = if multiarch {
            (
                vec![
                    format!("/lib/{triplet}").into(),
                    format!("/usr/lib/{triplet}").into(),
                    "/lib".into(),
                    "/usr/lib".into(),
                ],
                format!("lib/{triplet}"),
            )
        } else {
            (vec!["/lib64".into(), "/usr/lib64".into()], "lib64".into())
        };
        let legacy = if glibc_older_than_2_37() && machine == EM_X86_64 {
            [
                "tls/x86_64/x86_64",
                "tls/x86_64",
                "tls",
                "x86_64/x86_64",
                "x86_64",
            ]
            .map(String::from)
            .to_vec()
        } else {
            Vec::new()
        };
        let config = SearchConfig {
            is_64: true,
            machine,
            cache_flags: flags,
            ld_cache,
            default_dirs,
            hwcaps: host_hwcaps(),
            legacy_subdirs: legacy,
            lib,
            platform: platform.into(),
            system_only: None,
        };
        (config, error)
    }

    /// This configuration, seen from a target that provides only the libraries
    /// `policy` names: other libraries in the cache or default directories are hidden.
    pub fn with_only_system(mut self, policy: Policy) -> SearchConfig {
        self.system_only = Some(policy);
        self
    }

    /// Whether an object of this class and machine can be loaded.
    pub fn accepts(&self, info: &ObjectInfo) -> bool {
        info.is_64 == self.is_64 && info.machine == self.machine
    }

    /// The subfolders tried inside each search directory, best first; the directory
    /// itself (`""`) last.
    pub fn subdirs(&self) -> Vec<String> {
        let mut out: Vec<String> = self
            .hwcaps
            .iter()
            .map(|h| format!("glibc-hwcaps/{h}"))
            .collect();
        out.extend(self.legacy_subdirs.iter().cloned());
        out.push(String::new());
        out
    }

    /// The readable name of the target's class and machine.
    pub fn arch_name(&self) -> String {
        crate::binary::arch_name(self.is_64, self.machine)
    }
}

/// Whether the running glibc still searches legacy hwcap subfolders (removed in 2.37).
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn glibc_older_than_2_37() -> bool {
    // SAFETY: gnu_get_libc_version returns a pointer to a static NUL-terminated string.
    let version = unsafe { std::ffi::CStr::from_ptr(libc::gnu_get_libc_version()) };
    let mut parts = version.to_str().unwrap_or("2.37").split('.');
    let major: u32 = parts.next().and_then(|p| p.parse().ok()).unwrap_or(2);
    let minor: u32 = parts.next().and_then(|p| p.parse().ok()).unwrap_or(37);
    (major, minor) < (2, 37)
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn glibc_older_than_2_37() -> bool {
    false
}

/// The x86-64 micro-architecture levels this CPU supports, best first, as glibc names
/// its `glibc-hwcaps` folders.
fn host_hwcaps() -> Vec<String> {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::is_x86_feature_detected as has;
        let v2 = has!("cmpxchg16b")
            && has!("popcnt")
            && has!("sse3")
            && has!("sse4.1")
            && has!("sse4.2")
            && has!("ssse3");
        let v3 = v2
            && has!("avx")
            && has!("avx2")
            && has!("bmi1")
            && has!("bmi2")
            && has!("f16c")
            && has!("fma")
            && has!("lzcnt")
            && has!("movbe")
            && has!("xsave");
        let v4 = v3
            && has!("avx512f")
            && has!("avx512bw")
            && has!("avx512cd")
            && has!("avx512dq")
            && has!("avx512vl");
        let mut out = Vec::new();
        for (ok, name) in [(v4, "x86-64-v4"), (v3, "x86-64-v3"), (v2, "x86-64-v2")] {
            if ok {
                out.push(name.to_owned());
            }
        }
        out
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        Vec::new()
    }
}

/// An object as the loader holds it: the path it was opened by (which gives its
/// `$ORIGIN`; for the main executable, its real path, as `/proc/self/exe` gives) and
/// its parsed headers.
#[derive(Debug, Clone)]
pub struct Opened {
    /// The path the loader opened it by.
    pub path: PathBuf,
    /// Its parsed headers.
    pub info: Arc<ObjectInfo>,
}

impl Opened {
    /// The directory `$ORIGIN` stands for.
    pub fn origin(&self) -> &Path {
        self.path.parent().unwrap_or(Path::new("/"))
    }
}

/// An object already in the process, for the reuse-by-name and reuse-by-file checks.
#[derive(Debug, Clone)]
pub struct Loaded {
    /// The path it was opened by (`l_name`).
    pub path: PathBuf,
    /// Names it was requested by (`l_libname`).
    pub names: Vec<String>,
    /// Its `DT_SONAME`.
    pub soname: Option<String>,
    /// Its file identity, when known.
    pub id: Option<FileId>,
}

/// One question to the resolver.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    /// The needed name (`DT_NEEDED` entry or `dlopen` argument).
    pub name: &'a str,
    /// The object whose need it is, or the caller of `dlopen`.
    pub object: &'a Opened,
    /// The objects that loaded `object`, nearest first (`l_loader` chain); their
    /// `DT_RPATH` is searched after `object`'s.
    pub chain: &'a [&'a Opened],
    /// The main executable: its `DT_RPATH` is searched after the chain's, and its
    /// `$ORIGIN` serves `LD_LIBRARY_PATH`.
    pub main: Option<&'a Opened>,
    /// `LD_LIBRARY_PATH` entries, in order (see [`split_library_path`]).
    pub library_path: &'a [String],
    /// Objects already loaded in the process.
    pub loaded: &'a [Loaded],
}

/// Which search rule found a library.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Rule {
    /// Reused: an already-loaded object has this path, requested name or SONAME.
    AlreadyLoaded { path: PathBuf },
    /// The need contains `/` and names the file.
    Path,
    /// A `DT_RPATH` entry (as written) of `owner` (the object itself or a loader).
    Rpath { owner: PathBuf, entry: String },
    /// An `LD_LIBRARY_PATH` entry.
    LdLibraryPath { entry: String },
    /// A `DT_RUNPATH` entry (as written) of the object.
    Runpath { entry: String },
    /// `/etc/ld.so.cache`.
    LdCache,
    /// A default directory of the loader.
    DefaultDir { dir: PathBuf },
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Rule::AlreadyLoaded { .. } => write!(f, "already loaded"),
            Rule::Path => write!(f, "path"),
            Rule::Rpath { entry, .. } => write!(f, "DT_RPATH {entry}"),
            Rule::LdLibraryPath { entry } => write!(f, "LD_LIBRARY_PATH {entry}"),
            Rule::Runpath { entry } => write!(f, "DT_RUNPATH {entry}"),
            Rule::LdCache => write!(f, "ld.so.cache"),
            Rule::DefaultDir { dir } => write!(f, "default dir {}", dir.display()),
        }
    }
}

/// Why a place searched did not give the library.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Miss {
    /// No file there.
    Absent,
    /// A file of another class or machine (named).
    OtherArch(String),
    /// The cache has no usable entry for the name.
    NotInCache,
    /// A system library the target's policy does not provide.
    NotInPolicy,
    /// A `$TOKEN` that cannot be expanded made the entry unusable.
    BadToken,
}

/// One place the search looked at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attempt {
    /// The rule whose entry was tried.
    pub rule: Rule,
    /// The candidate file (none for a cache miss or a bad entry).
    pub path: Option<PathBuf>,
    /// Why it did not give the library.
    pub miss: Miss,
}

impl fmt::Display for Attempt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let why = match &self.miss {
            Miss::Absent => "absent".to_owned(),
            Miss::OtherArch(a) => format!("skipped: {a}"),
            Miss::NotInCache => "no entry".to_owned(),
            Miss::NotInPolicy => "not provided by the target's policy".to_owned(),
            Miss::BadToken => "unexpandable token".to_owned(),
        };
        match &self.path {
            Some(p) => write!(f, "{} ({}): {why}", p.display(), self.rule),
            None => write!(f, "{}: {why}", self.rule),
        }
    }
}

/// The file the loader would load.
#[derive(Debug, Clone)]
pub struct Found {
    /// The path it is opened by (which becomes its `$ORIGIN`), or for a reused object
    /// the path it was first opened by.
    pub path: PathBuf,
    /// The rule that found it.
    pub rule: Rule,
    /// Its contents (`None` for a reused object whose file was not looked at again).
    pub binary: Option<Arc<Binary>>,
    /// Index into [`Request::loaded`] when the loader reuses an object (by name, or
    /// because the file found is one already loaded: same device and inode).
    pub reused: Option<usize>,
}

/// The answer to a [`Request`].
#[derive(Debug, Clone)]
pub struct Resolution {
    /// What the loader loads; `None` when the need cannot be satisfied.
    pub found: Option<Found>,
    /// A file that stopped the search because the loader cannot load it (not ELF, damaged);
    /// the real loader fails with an error there.
    pub unusable: Option<(PathBuf, String)>,
    /// Every place looked at before the answer, in order.
    pub searched: Vec<Attempt>,
}

/// Splits an `LD_LIBRARY_PATH` value as glibc does (on `:` and `;`; an empty entry
/// means the working directory).
pub fn split_library_path(value: &str) -> Vec<String> {
    if value.is_empty() {
        return Vec::new();
    }
    value
        .split([':', ';'])
        .map(|s| {
            if s.is_empty() {
                ".".to_owned()
            } else {
                s.to_owned()
            }
        })
        .collect()
}

/// Expands `$ORIGIN`, `$LIB` and `$PLATFORM` (also `${...}`) in a search entry or a
/// need with `/`. Unknown `$` sequences stay as written, as in glibc.
pub fn expand_tokens(entry: &str, origin: &Path, config: &SearchConfig) -> String {
    let origin = origin.to_string_lossy();
    let mut out = String::with_capacity(entry.len());
    let mut rest = entry;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        let mut matched = None;
        for (token, value) in [
            ("ORIGIN", origin.as_ref()),
            ("LIB", config.lib.as_str()),
            ("PLATFORM", config.platform.as_str()),
        ] {
            let braced = format!("{{{token}}}");
            if let Some(tail) = after.strip_prefix(braced.as_str()) {
                matched = Some((value, tail));
                break;
            }
            if let Some(tail) = after.strip_prefix(token)
                && !tail.starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_')
            {
                matched = Some((value, tail));
                break;
            }
        }
        match matched {
            Some((value, tail)) => {
                out.push_str(value);
                rest = tail;
            }
            None => {
                out.push('$');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

enum Step {
    Found(PathBuf, Arc<Binary>),
    Stop(PathBuf, String),
    Next,
}

struct Search<'c, F: ?Sized> {
    fs: &'c F,
    config: &'c SearchConfig,
    subdirs: Vec<String>,
    searched: Vec<Attempt>,
}

impl<F: FileSystem + ?Sized> Search<'_, F> {
    /// Looks at one candidate file.
    fn try_file(&mut self, rule: &Rule, path: PathBuf, system: bool) -> Step {
        match self.fs.probe(&path) {
            Probe::Missing => {
                self.searched.push(Attempt {
                    rule: rule.clone(),
                    path: Some(path),
                    miss: Miss::Absent,
                });
                Step::Next
            }
            Probe::NotAFile(why) => {
                let blocks = matches!(why, NotAFile::Special(FileKind::Fifo));
                let reason = format!(
                    "it {why}{}",
                    if blocks {
                        ": the real loader would wait on it forever"
                    } else {
                        ""
                    }
                );
                Step::Stop(path, reason)
            }
            Probe::File(binary) => match &binary.contents {
                Contents::Elf(info) if !self.config.accepts(info) => {
                    self.searched.push(Attempt {
                        rule: rule.clone(),
                        path: Some(path),
                        miss: Miss::OtherArch(info.arch_name()),
                    });
                    Step::Next
                }
                // Checked after class and machine, as `open_verify` does.
                Contents::Elf(info) if !info.is_loadable_type() => Step::Stop(
                    path,
                    format!(
                        "it is an ELF file of type {}, and only executables and shared objects (`ET_EXEC`, `ET_DYN`) can be loaded",
                        info.elf_type
                    ),
                ),
                Contents::Elf(info) => {
                    if system && !self.allowed_system(info, &path) {
                        self.searched.push(Attempt {
                            rule: rule.clone(),
                            path: Some(path),
                            miss: Miss::NotInPolicy,
                        });
                        return Step::Next;
                    }
                    Step::Found(path, binary.clone())
                }
                Contents::NotElf => Step::Stop(path, "not an ELF file".into()),
                Contents::Corrupt(reason) => Step::Stop(path, reason.clone()),
            },
        }
    }

    fn allowed_system(&self, info: &ObjectInfo, path: &Path) -> bool {
        let Some(policy) = &self.config.system_only else {
            return true;
        };
        let file = path.file_name().map(|f| f.to_string_lossy());
        info.soname
            .as_deref()
            .is_some_and(|s| policy.excludes(s).is_some())
            || file.is_some_and(|f| policy.excludes(&f).is_some())
    }

    /// Tries `name` in one search directory, glibc-hwcaps subfolders first.
    fn try_dir(&mut self, rule: &Rule, dir: &Path, name: &str, system: bool) -> Step {
        for sub in self.subdirs.clone() {
            let candidate = if sub.is_empty() {
                dir.join(name)
            } else {
                dir.join(&sub).join(name)
            };
            match self.try_file(rule, candidate, system) {
                Step::Next => continue,
                done => return done,
            }
        }
        Step::Next
    }
}

/// Resolves one need the way glibc's loader does. Deterministic: the same request,
/// configuration and files give the same answer and the same list of places searched.
pub fn resolve<F: FileSystem + ?Sized>(
    fs: &F,
    config: &SearchConfig,
    request: &Request<'_>,
) -> Resolution {
    let name = request.name;
    // 1. Reuse by name: path opened by, names requested by, SONAME.
    for (i, loaded) in request.loaded.iter().enumerate() {
        let by_name = loaded.path.as_os_str() == name
            || loaded.names.iter().any(|n| n == name)
            || loaded.soname.as_deref() == Some(name);
        if by_name {
            return Resolution {
                found: Some(Found {
                    path: loaded.path.clone(),
                    rule: Rule::AlreadyLoaded {
                        path: loaded.path.clone(),
                    },
                    binary: None,
                    reused: Some(i),
                }),
                unusable: None,
                searched: Vec::new(),
            };
        }
    }
    let mut search = Search {
        fs,
        config,
        subdirs: config.subdirs(),
        searched: Vec::new(),
    };
    let step = search_by_format(&mut search, request);
    let mut resolution = Resolution {
        found: None,
        unusable: None,
        searched: search.searched,
    };
    match step {
        (Step::Found(path, binary), rule) => {
            // 2. Reuse by file: the loader dedups by device and inode.
            let reused = request.loaded.iter().position(|l| l.id == Some(binary.id));
            resolution.found = Some(Found {
                path,
                rule,
                binary: Some(binary),
                reused,
            });
        }
        (Step::Stop(path, reason), _) => resolution.unusable = Some((path, reason)),
        (Step::Next, _) => {}
    }
    resolution
}

/// The loader's search rules for each binary format: the hook `binary::BinaryFormat`
/// leaves to the loader, which lies above `binary`. ELF's are glibc's `ld.so`
/// ([`ld_so_search`]); Mach-O's (dyld: `@rpath`, `@loader_path`) would be a second arm.
fn search_by_format<F: FileSystem + ?Sized>(
    s: &mut Search<'_, F>,
    req: &Request<'_>,
) -> (Step, Rule) {
    match req.object.info.format {
        FormatId::Elf => ld_so_search(s, req),
    }
}

/// glibc's search for a need of an ELF object (`elf/dl-load.c`, see the module's doc).
fn ld_so_search<F: FileSystem + ?Sized>(s: &mut Search<'_, F>, req: &Request<'_>) -> (Step, Rule) {
    let name = req.name;
    let object = req.object;
    if name.contains('/') {
        let path = PathBuf::from(expand_tokens(name, object.origin(), s.config));
        let rule = Rule::Path;
        return (s.try_file(&rule, path, false), rule);
    }
    // DT_RPATH of the object and its loaders, then of the executable, unless the
    // object has DT_RUNPATH.
    if object.info.runpath.is_empty() {
        let mut owners: Vec<&Opened> = vec![object];
        owners.extend(req.chain.iter().copied());
        if let Some(main) = req.main
            && !owners
                .iter()
                .any(|o| std::ptr::eq(*o, main) || o.path == main.path)
        {
            owners.push(main);
        }
        for owner in owners {
            for entry in owner.info.effective_rpath() {
                let rule = Rule::Rpath {
                    owner: owner.path.clone(),
                    entry: entry.clone(),
                };
                let dir = expand_tokens(entry, owner.origin(), s.config);
                match s.try_dir(&rule, Path::new(&dir), name, false) {
                    Step::Next => {}
                    done => return (done, rule),
                }
            }
        }
    }
    let main_origin = req.main.map_or(Path::new("/"), |m| m.origin());
    for entry in req.library_path {
        let rule = Rule::LdLibraryPath {
            entry: entry.clone(),
        };
        let dir = expand_tokens(entry, main_origin, s.config);
        match s.try_dir(&rule, Path::new(&dir), name, false) {
            Step::Next => {}
            done => return (done, rule),
        }
    }
    for entry in &object.info.runpath {
        let rule = Rule::Runpath {
            entry: entry.clone(),
        };
        let dir = expand_tokens(entry, object.origin(), s.config);
        match s.try_dir(&rule, Path::new(&dir), name, false) {
            Step::Next => {}
            done => return (done, rule),
        }
    }
    if object.info.nodeflib {
        return (Step::Next, Rule::LdCache);
    }
    let rule = Rule::LdCache;
    match s
        .config
        .ld_cache
        .lookup(name, s.config.cache_flags, &s.config.hwcaps)
    {
        Some(entry) => {
            let path = entry.path.clone();
            match s.try_file(&rule, path, true) {
                Step::Next => {}
                done => return (done, rule),
            }
        }
        None => s.searched.push(Attempt {
            rule: rule.clone(),
            path: None,
            miss: Miss::NotInCache,
        }),
    }
    for dir in s.config.default_dirs.clone() {
        let rule = Rule::DefaultDir { dir: dir.clone() };
        match s.try_dir(&rule, &dir, name, true) {
            Step::Next => {}
            done => return (done, rule),
        }
    }
    (Step::Next, Rule::LdCache)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> SearchConfig {
        SearchConfig {
            is_64: true,
            machine: EM_X86_64,
            cache_flags: ldcache::FLAG_ELF_LIBC6 | ldcache::FLAG_X8664_LIB64,
            ld_cache: LdCache::default(),
            default_dirs: vec![],
            hwcaps: vec!["x86-64-v3".into(), "x86-64-v2".into()],
            legacy_subdirs: vec!["tls".into()],
            lib: "lib/x86_64-linux-gnu".into(),
            platform: "x86_64".into(),
            system_only: None,
        }
    }

    #[test]
    fn tokens_expand_like_glibc() {
        let c = config();
        let o = Path::new("/opt/app/lib");
        assert_eq!(expand_tokens("$ORIGIN/../x", o, &c), "/opt/app/lib/../x");
        assert_eq!(expand_tokens("${ORIGIN}x", o, &c), "/opt/app/libx");
        assert_eq!(
            expand_tokens("/usr/$LIB/$PLATFORM", o, &c),
            "/usr/lib/x86_64-linux-gnu/x86_64"
        );
        assert_eq!(expand_tokens("${LIB}", o, &c), "lib/x86_64-linux-gnu");
        // Not a token: a longer identifier, or an unknown one, stays as written.
        assert_eq!(expand_tokens("$ORIGINAL/$HOME", o, &c), "$ORIGINAL/$HOME");
        assert_eq!(expand_tokens("a$", o, &c), "a$");
    }

    #[test]
    fn library_path_splits_on_colon_and_semicolon_with_empty_as_cwd() {
        assert_eq!(split_library_path(""), Vec::<String>::new());
        assert_eq!(split_library_path("/a:/b;/c"), vec!["/a", "/b", "/c"]);
        assert_eq!(split_library_path("/a::/b"), vec!["/a", ".", "/b"]);
    }

    #[test]
    fn subdirs_put_hwcaps_first_and_the_directory_last() {
        assert_eq!(
            config().subdirs(),
            vec![
                "glibc-hwcaps/x86-64-v3",
                "glibc-hwcaps/x86-64-v2",
                "tls",
                ""
            ]
        );
    }
}
