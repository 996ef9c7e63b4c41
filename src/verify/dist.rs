//! `shenzi verify`: a finished dist on disk, checked the way a target machine that has
//! nothing but the dist's system policy would load it.
//!
//! Every ELF object in the dist is proven ([`super::prove`]) from every folder it can be
//! opened from: its own, and the folder of every symlink to it (or to a folder above
//! it). Executables are proven from their real folder only, as their `$ORIGIN` comes
//! from `/proc/self/exe`. Each need must resolve to a file inside the dist, or through
//! the system search to a library the policy recorded in the dist names. The run-time
//! loads the record lists are checked too: a load by name is searched from each caller
//! the record names as its needs are (with its RUNPATH), a load by path must find a
//! loadable object at that path in the dist. Objects the record lists as shipped as they
//! are (the build machine could not load them either) are not held against the dist for
//! what it says they lack, or for being damaged. The Python
//! side is checked too: the interpreter finds its standard library from where it sits,
//! every folder the generated `.pth` puts on `sys.path` exists, the entry and the
//! launcher exist.

use std::collections::{BTreeMap, BTreeSet};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rayon::prelude::*;

use crate::binary::{BinaryError, ObjectInfo, read_object};
use crate::farm::{GlibcFloor, glibc_floor};
use crate::loader::{Attempt, LdCacheError, Miss, Rule, SearchConfig};
use crate::policy::Policy;
/// The newest record format this shenzi reads (the one it writes).
pub use crate::record::RECORD_VERSION;
use crate::record::{DistEntry, DistLoad, DistRecord, RECORD_PATH};

use super::diagnostics::{VerifyError, VerifyProblem, VerifyReport};
use crate::loader::proof::{Subject, normalize, prove};

const ET_EXEC: u16 = 2;
const ET_DYN: u16 = 3;

/// What `verify` found in one dist.
#[derive(Debug)]
pub struct DistCheck {
    /// The dist as the user named it (used in messages).
    pub name: String,
    pub record: DistRecord,
    /// Regular files, symlinks and ELF objects looked at.
    pub files: usize,
    pub links: usize,
    pub binaries: usize,
    /// (object, folder, need) triples resolved.
    pub resolutions: usize,
    /// The oldest glibc (and C++ runtime) the dist's objects run on.
    pub floor: GlibcFloor,
    /// Every problem, in a stable order.
    pub problems: Vec<VerifyProblem>,
    /// `/etc/ld.so.cache` could not be read (resolved without it).
    pub cache_error: Option<LdCacheError>,
    pub elapsed: Duration,
}

impl DistCheck {
    pub fn passed(&self) -> bool {
        self.problems.is_empty()
    }

    /// The failure as one diagnostic with every problem related; `None` when it passed.
    pub fn into_report(self) -> Option<VerifyReport> {
        (!self.problems.is_empty()).then(|| VerifyReport::new(self.name, self.problems))
    }

    /// One line: what was checked.
    pub fn summary(&self) -> String {
        let as_is = match self.record.as_is.len() {
            0 => String::new(),
            1 => "; 1 object shipped as it is (the record says what it lacks)".into(),
            n => format!("; {n} objects shipped as they are (the record says what they lack)"),
        };
        format!(
            "`{}` verified: {} binaries, {} needs checked from every folder each is opened from, all found in the dist or the system policy{as_is}; {} files, {} symlinks, in {:.2} s",
            self.name,
            self.binaries,
            self.resolutions,
            self.files,
            self.links,
            self.elapsed.as_secs_f64()
        )
    }
}

/// Reads a dist's record: `Err` when `root` is not a shenzi dist a reader of this
/// version understands.
pub fn read_record(root: &Path) -> Result<DistRecord, VerifyError> {
    let not_a_dist = |reason: &str| VerifyError::NotADist {
        path: root.to_owned(),
        reason: reason.to_owned(),
    };
    match std::fs::metadata(root) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(not_a_dist("it does not exist"));
        }
        Err(e) => return Err(not_a_dist(&format!("it cannot be read ({e})"))),
        Ok(meta) if !meta.is_dir() => return Err(not_a_dist("it is not a folder")),
        Ok(_) => {}
    }
    let path = root.join(RECORD_PATH);
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(not_a_dist(&format!("it has no `{RECORD_PATH}`")));
        }
        Err(e) => {
            return Err(VerifyError::BadRecord {
                path,
                reason: e.to_string(),
            });
        }
    };
    let record: DistRecord = serde_json::from_str(&text).map_err(|e| VerifyError::BadRecord {
        path: path.clone(),
        reason: e.to_string(),
    })?;
    if record.version > RECORD_VERSION {
        return Err(VerifyError::BadRecord {
            path,
            reason: format!(
                "record version {} is newer than this shenzi reads ({RECORD_VERSION}); use the shenzi that wrote it ({})",
                record.version, record.shenzi
            ),
        });
    }
    Ok(record)
}

/// Verifies the dist at `root`, naming it `name` in messages (`apply` checks a scratch
/// folder that becomes the target).
pub fn verify_dist(root: &Path, name: &str) -> Result<DistCheck, VerifyError> {
    let started = Instant::now();
    let record = read_record(root)?;
    let root = std::fs::canonicalize(root).map_err(|e| VerifyError::NotADist {
        path: root.to_owned(),
        reason: format!("it cannot be read ({e})"),
    })?;
    let mut problems = Vec::new();
    let walked = walk(&root, &mut problems);

    // Each file is opened once; only those that start like ELF are parsed, through a
    // map of their headers: verify needs no content hashes, so the dist's 100+ MB of
    // libraries are not read whole.
    let elves: Vec<(PathBuf, Result<Option<ObjectInfo>, BinaryError>)> = walked
        .files
        .par_iter()
        .map(|p| (p.clone(), read_object(p)))
        .filter(|(_, read)| !matches!(read, Ok(None)))
        .collect();
    let mut objects: BTreeMap<PathBuf, std::sync::Arc<ObjectInfo>> = BTreeMap::new();
    for (path, read) in elves {
        match read {
            Ok(Some(info)) if matches!(info.elf_type, ET_EXEC | ET_DYN) => {
                objects.insert(path, std::sync::Arc::new(info));
            }
            Ok(_) => {}
            // Damaged on the build machine already, and never loaded there: the record
            // says it was shipped as it is.
            Err(BinaryError::Corrupt { .. })
                if record
                    .as_is
                    .iter()
                    .any(|a| a.unloadable.is_some() && root.join(&a.path) == path) => {}
            Err(BinaryError::Corrupt { reason, .. }) => problems.push(VerifyProblem::Corrupt {
                object: rel(&root, &path),
                reason,
            }),
            // Unreadable now, though the walk saw it: nothing to check it with.
            Err(BinaryError::Unreadable { .. }) => {}
        }
    }

    // Folders each object can be opened from.
    let mut origins: BTreeMap<PathBuf, BTreeSet<PathBuf>> = objects
        .keys()
        .map(|p| (p.clone(), BTreeSet::from([parent(p).to_owned()])))
        .collect();
    for link in &walked.links {
        let target = std::fs::read_link(link).unwrap_or_default();
        let Ok(real) = std::fs::canonicalize(link) else {
            problems.push(VerifyProblem::DanglingLink {
                link: rel(&root, link),
                target: target.display().to_string(),
            });
            continue;
        };
        if !real.starts_with(&root) {
            problems.push(VerifyProblem::LinkOutside {
                link: rel(&root, link),
                target: target.display().to_string(),
            });
            continue;
        }
        if real.is_dir() {
            // A folder link: everything below it can be opened through it.
            for (object, from) in origins.range_mut(real.clone()..) {
                let Ok(below) = object.strip_prefix(&real) else {
                    break;
                };
                from.insert(parent(&link.join(below)).to_owned());
            }
        } else if let Some(from) = origins.get_mut(&real) {
            from.insert(parent(link).to_owned());
        }
    }

    let policy = Policy::new(record.system_libraries.iter().cloned());
    let (host, cache_error) = SearchConfig::host();
    let config = host.with_only_system(policy.clone());
    // Run-time loads by name, searched from their callers as the callers' needs are.
    let mut loads_of: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for load in &record.loads {
        match load {
            DistLoad::ByName { name, callers } => {
                for caller in callers {
                    loads_of
                        .entry(caller.clone())
                        .or_default()
                        .push(name.clone());
                }
            }
            DistLoad::ByPath { path, caller } => {
                if let Some(reason) = path_load_miss(&root, path, &objects, &config) {
                    problems.push(VerifyProblem::PathLoadMissing {
                        path: path.clone(),
                        caller: caller.clone(),
                        reason,
                    });
                }
            }
        }
    }
    // An object of another class or machine is never loaded by this platform's loader
    // (a 32-bit helper in a package): nothing to prove.
    let subjects: Vec<Subject> = objects
        .iter()
        .filter(|(_, info)| config.accepts(info))
        .map(|(path, info)| {
            let executable = info.interp.is_some();
            let label = rel(&root, path);
            Subject {
                loads: loads_of.remove(&label).unwrap_or_default(),
                label,
                file_name: path
                    .file_name()
                    .map(|f| f.to_string_lossy().into_owned())
                    .unwrap_or_default(),
                info: info.clone(),
                origins: if executable {
                    vec![parent(path).to_owned()]
                } else {
                    origins[path].iter().cloned().collect()
                },
            }
        })
        .collect();
    // A caller the record names that is not a loadable object of the dist.
    for (caller, names) in loads_of {
        for name in names {
            problems.push(VerifyProblem::UnservedLoad {
                object: caller.clone(),
                name,
                from: Vec::new(),
                detail: vec![format!(
                    "`{caller}`, which the record names as its caller, is not a loadable object of the dist"
                )],
            });
        }
    }
    // What the record says the build machine could not load either.
    let lacking: BTreeSet<(&str, &str)> = record
        .as_is
        .iter()
        .flat_map(|a| a.missing.iter().map(|m| (a.path.as_str(), m.as_str())))
        .collect();
    let cache = crate::binary::BinaryCache::new();
    let outcomes = prove(&cache, &config, &subjects);
    let resolutions = outcomes.len();

    // Problems per (object, need, what went wrong), with every folder it went wrong from.
    // Keyed by (object, need or load name, is a run-time load, failure rank).
    type Key = (String, String, bool, u8);
    let mut needs: BTreeMap<Key, (Vec<String>, NeedFailure)> = BTreeMap::new();
    for outcome in &outcomes {
        let subject = &subjects[outcome.subject];
        if !outcome.load && lacking.contains(&(subject.label.as_str(), outcome.need.as_str())) {
            continue;
        }
        let failure = if let Some((path, reason)) = &outcome.resolution.unusable {
            Some(NeedFailure::Unusable {
                file: shown(&root, path),
                reason: reason.clone(),
            })
        } else {
            match (&outcome.resolution.found, &outcome.real) {
                (None, _) | (Some(_), None) => Some(NeedFailure::Unresolved {
                    searched: places(&root, &outcome.need, &outcome.resolution.searched, &policy),
                }),
                (Some(found), Some(real)) => {
                    let system = matches!(found.rule, Rule::LdCache | Rule::DefaultDir { .. });
                    if real.starts_with(&root) {
                        (!relocatable(&found.rule, &outcome.need)).then(|| {
                            NeedFailure::AbsoluteInside {
                                path: found.path.display().to_string(),
                                rule: found.rule.to_string(),
                            }
                        })
                    } else if system || policy_names(&policy, &outcome.need, real) {
                        None
                    } else {
                        Some(NeedFailure::Outside {
                            path: found.path.display().to_string(),
                            rule: found.rule.to_string(),
                        })
                    }
                }
            }
        };
        if let Some(failure) = failure {
            // The details shown are those of the first folder (in path order).
            let slot = needs
                .entry((
                    subject.label.clone(),
                    outcome.need.clone(),
                    outcome.load,
                    failure.rank(),
                ))
                .or_insert_with(|| (Vec::new(), failure.clone()));
            let origin = rel(&root, &outcome.origin);
            if slot.0.first().is_some_and(|first| origin < *first) {
                slot.1 = failure;
            }
            slot.0.push(origin);
        }
    }
    for ((object, need, load, _), (mut from, failure)) in needs {
        from.sort();
        from.dedup();
        if load {
            problems.push(VerifyProblem::UnservedLoad {
                object,
                name: need,
                from,
                detail: failure.detail(),
            });
            continue;
        }
        problems.push(match failure {
            NeedFailure::Unresolved { searched } => VerifyProblem::UnresolvedNeed {
                object,
                need,
                from,
                searched,
            },
            NeedFailure::Unusable { file, reason } => VerifyProblem::UnusableNeed {
                object,
                need,
                from,
                file,
                reason,
            },
            NeedFailure::Outside { path, rule } => VerifyProblem::OutsideDist {
                object,
                need,
                from,
                path,
                rule,
            },
            NeedFailure::AbsoluteInside { path, rule } => VerifyProblem::AbsolutePath {
                object,
                need,
                from,
                path,
                rule,
            },
        });
    }

    python_side(&root, &record, &mut problems);
    problems.sort_by_key(VerifyProblem::sort_key);

    let floor = glibc_floor(
        subjects
            .iter()
            .map(|s| (Path::new(s.label.as_str()), s.info.as_ref())),
    );
    Ok(DistCheck {
        name: name.to_owned(),
        record,
        files: walked.files.len(),
        links: walked.links.len(),
        binaries: subjects.len(),
        resolutions,
        floor,
        problems,
        cache_error,
        elapsed: started.elapsed(),
    })
}

/// One way a need can fail.
#[derive(Debug, Clone)]
enum NeedFailure {
    Unresolved { searched: Vec<String> },
    Unusable { file: String, reason: String },
    Outside { path: String, rule: String },
    AbsoluteInside { path: String, rule: String },
}

impl NeedFailure {
    /// What went wrong, as lines for a run-time load's report.
    fn detail(&self) -> Vec<String> {
        match self {
            NeedFailure::Unresolved { searched } => searched.clone(),
            NeedFailure::Unusable { file, reason } => {
                vec![format!("the loader stops at `{file}`: {reason}")]
            }
            NeedFailure::Outside { path, rule } => vec![format!(
                "found at `{path}` ({rule}), outside the dist and not in its system policy"
            )],
            NeedFailure::AbsoluteInside { path, rule } => vec![format!(
                "found only through the absolute path `{path}` ({rule})"
            )],
        }
    }

    fn rank(&self) -> u8 {
        match self {
            NeedFailure::Unresolved { .. } => 0,
            NeedFailure::Unusable { .. } => 1,
            NeedFailure::Outside { .. } => 2,
            NeedFailure::AbsoluteInside { .. } => 3,
        }
    }
}

/// Why the app's load of `path` (relative to the dist root) would fail in the dist, as
/// `dlopen` of that path would: `None` when it finds a loadable object there.
fn path_load_miss(
    root: &Path,
    path: &str,
    objects: &BTreeMap<PathBuf, std::sync::Arc<ObjectInfo>>,
    config: &SearchConfig,
) -> Option<String> {
    let real = match std::fs::canonicalize(root.join(path)) {
        Ok(real) => real,
        Err(_) => return Some("nothing is there".into()),
    };
    if !real.starts_with(root) {
        return Some(format!(
            "it leads outside the dist, to `{}`",
            real.display()
        ));
    }
    match objects.get(&real) {
        Some(info) if config.accepts(info) => None,
        Some(info) => Some(format!(
            "`{}` is built for {}",
            rel(root, &real),
            info.arch_name()
        )),
        None => Some(format!(
            "`{}` is not a loadable ELF object",
            rel(root, &real)
        )),
    }
}

#[derive(Default)]
struct Walked {
    files: Vec<PathBuf>,
    links: Vec<PathBuf>,
}

fn walk(root: &Path, problems: &mut Vec<VerifyProblem>) -> Walked {
    let mut out = Walked::default();
    for entry in walkdir::WalkDir::new(root)
        .follow_links(false)
        .sort_by_file_name()
    {
        match entry {
            Ok(e) if e.file_type().is_symlink() => out.links.push(e.into_path()),
            Ok(e) if e.file_type().is_file() => out.files.push(e.into_path()),
            Ok(_) => {}
            Err(e) => problems.push(VerifyProblem::Unreadable {
                path: e.path().map_or_else(|| ".".into(), |p| rel(root, p)),
                reason: e
                    .io_error()
                    .map_or_else(|| e.to_string(), ToString::to_string),
            }),
        }
    }
    out
}

fn parent(path: &Path) -> &Path {
    path.parent().unwrap_or(Path::new("/"))
}

/// `path` relative to the dist root (`.` for the root itself).
fn rel(root: &Path, path: &Path) -> String {
    match path.strip_prefix(root) {
        Ok(r) if r.as_os_str().is_empty() => ".".into(),
        Ok(r) => r.display().to_string(),
        Err(_) => path.display().to_string(),
    }
}

/// A path for messages: relative when inside the dist, absolute elsewhere.
fn shown(root: &Path, path: &Path) -> String {
    rel(root, &normalize(path))
}

/// Whether the policy names the library `need` resolved to (by the need, the file's
/// name, or the name it resolves to).
fn policy_names(policy: &Policy, need: &str, real: &Path) -> bool {
    let file = real
        .file_name()
        .map(|f| f.to_string_lossy().into_owned())
        .unwrap_or_default();
    policy.excludes(need).is_some() || policy.excludes(&file).is_some()
}

/// The places a failed search looked at, one line per search folder (the `glibc-hwcaps`
/// candidates inside one folder are one line), and one line for the system search,
/// which on the target holds only the policy's libraries.
fn places(root: &Path, need: &str, searched: &[Attempt], policy: &Policy) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut last: Option<&Rule> = None;
    let mut system = false;
    for attempt in searched {
        if matches!(attempt.rule, Rule::LdCache | Rule::DefaultDir { .. }) {
            system = true;
            continue;
        }
        let why = match &attempt.miss {
            Miss::Absent => "absent".to_owned(),
            Miss::OtherArch(arch) => format!("built for {arch}"),
            Miss::NotInCache => "no entry".to_owned(),
            Miss::NotInPolicy => "not provided by the policy".to_owned(),
            Miss::BadToken => "cannot be expanded".to_owned(),
        };
        let line = match &attempt.path {
            Some(path) => format!("{}: `{}` {why}", describe(&attempt.rule), shown(root, path)),
            None => format!("{}: {why}", describe(&attempt.rule)),
        };
        // One entry's candidates are its `glibc-hwcaps` subfolders, then the folder
        // itself (tried last): keep only the folder's line.
        if last == Some(&attempt.rule) {
            out.pop();
        }
        last = Some(&attempt.rule);
        out.push(line);
    }
    if system {
        out.push(if policy.excludes(need).is_some() {
            format!("the system: `{need}` is in the policy, and the system search finds no usable file")
        } else {
            format!("the system: on the target it provides only the policy's libraries, and `{need}` is not one of them")
        });
    }
    out
}

/// Whether the way a need was found still works when the dist moves: search entries
/// relative to `$ORIGIN`, not absolute paths.
fn relocatable(rule: &Rule, need: &str) -> bool {
    let relative = |entry: &str| entry.starts_with("$ORIGIN") || entry.starts_with("${ORIGIN}");
    match rule {
        Rule::Rpath { entry, .. } | Rule::Runpath { entry } | Rule::LdLibraryPath { entry } => {
            relative(entry)
        }
        Rule::Path => !need.starts_with('/'),
        _ => true,
    }
}

fn describe(rule: &Rule) -> String {
    match rule {
        Rule::Rpath { entry, .. } => format!("DT_RPATH `{entry}`"),
        Rule::Runpath { entry } => format!("DT_RUNPATH `{entry}`"),
        Rule::LdLibraryPath { entry } => format!("LD_LIBRARY_PATH `{entry}`"),
        other => other.to_string(),
    }
}

/// The interpreter finds its standard library; the `.pth` folders, the entry and the
/// launcher exist.
fn python_side(root: &Path, record: &DistRecord, problems: &mut Vec<VerifyProblem>) {
    let version = &record.python;
    let mut prefix: Option<PathBuf> = None;
    if record.interpreter.is_empty() {
        problems.push(VerifyProblem::InterpreterMissing {
            path: "(none recorded)".into(),
        });
    } else {
        let interpreter = root.join(&record.interpreter);
        match std::fs::canonicalize(&interpreter) {
            Ok(real) if real.is_file() => {
                // getpath: the prefix is the nearest `<dir>/..` above the executable's
                // real folder that holds the landmark; shenzi puts it at `bin/..`.
                let at = parent(parent(&real)).to_owned();
                let stdlib = at.join(format!("lib/python{version}"));
                let zip = at.join(format!("lib/python{}.zip", version.replace('.', "")));
                let found = stdlib.join("os.py").is_file()
                    || stdlib.join("os.pyc").is_file()
                    || zip.is_file();
                if !found {
                    problems.push(VerifyProblem::StdlibNotFound {
                        interpreter: record.interpreter.clone(),
                        expected: rel(root, &stdlib),
                    });
                }
                prefix = Some(at);
            }
            _ => problems.push(VerifyProblem::InterpreterMissing {
                path: record.interpreter.clone(),
            }),
        }
    }

    let mut sys_path: Vec<PathBuf> = Vec::new();
    if let Some(pth) = &record.pth {
        let path = root.join(pth);
        match std::fs::read_to_string(&path) {
            Ok(text) => {
                let dir = parent(&path).to_owned();
                if let Some(prefix) = &prefix
                    && !normalize(&dir).starts_with(prefix)
                {
                    problems.push(VerifyProblem::PthOutsidePrefix {
                        pth: pth.clone(),
                        prefix: rel(root, prefix),
                    });
                }
                for (n, line) in text.lines().enumerate() {
                    let line = line.trim_end();
                    if line.is_empty()
                        || line.starts_with('#')
                        || line.starts_with("import ")
                        || line.starts_with("import\t")
                    {
                        continue;
                    }
                    let folder = normalize(&dir.join(line));
                    if folder.is_dir() || is_zip(&folder) {
                        sys_path.push(folder);
                    } else {
                        problems.push(VerifyProblem::SysPathMissing {
                            pth: pth.clone(),
                            line: n + 1,
                            entry: line.to_owned(),
                            folder: rel(root, &folder),
                        });
                    }
                }
            }
            Err(_) => problems.push(VerifyProblem::PthMissing { pth: pth.clone() }),
        }
    }

    match &record.entry {
        Some(DistEntry::Script(script)) if !root.join(script).is_file() => {
            problems.push(VerifyProblem::EntryMissing {
                entry: format!("script `{script}`"),
                searched: vec![script.clone()],
            });
        }
        Some(DistEntry::Script(_)) => {}
        Some(DistEntry::Module(module)) => {
            if let Some(prefix) = &prefix {
                let stdlib = prefix.join(format!("lib/python{version}"));
                sys_path.push(stdlib.join("lib-dynload"));
                sys_path.push(stdlib);
            }
            if !sys_path.iter().any(|dir| module_in(dir, module)) {
                problems.push(VerifyProblem::EntryMissing {
                    entry: format!("module `{module}`"),
                    searched: sys_path.iter().map(|d| rel(root, d)).collect(),
                });
            }
        }
        None => {}
    }

    if !record.launcher.is_empty() {
        let launcher = root.join(&record.launcher);
        match std::fs::metadata(&launcher) {
            Ok(meta) if meta.is_file() && meta.permissions().mode() & 0o111 != 0 => {}
            Ok(meta) if meta.is_file() => problems.push(VerifyProblem::Launcher {
                path: record.launcher.clone(),
                reason: "it is not executable".into(),
            }),
            Ok(_) => problems.push(VerifyProblem::Launcher {
                path: record.launcher.clone(),
                reason: "it is not a file".into(),
            }),
            Err(_) => problems.push(VerifyProblem::Launcher {
                path: record.launcher.clone(),
                reason: "it does not exist".into(),
            }),
        }
    }
}

/// Whether `python -m module` finds `module` in `dir`: a module file, a package (with
/// `__main__`, or a namespace folder), or an extension module.
fn module_in(dir: &Path, module: &str) -> bool {
    let mut parts: Vec<&str> = module.split('.').collect();
    let Some(last) = parts.pop() else {
        return false;
    };
    let mut at = dir.to_owned();
    for part in parts {
        at.push(part);
    }
    if at.join(format!("{last}.py")).is_file()
        || at.join(format!("{last}.pyc")).is_file()
        || at.join(last).is_dir()
    {
        return true;
    }
    std::fs::read_dir(&at).is_ok_and(|entries| {
        entries.filter_map(Result::ok).any(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            name.strip_prefix(last)
                .is_some_and(|rest| rest.starts_with('.') && rest.ends_with(".so"))
        })
    })
}

/// Whether `path` is a zip archive (`pack zip`): `zipimport` imports from it on `sys.path`.
fn is_zip(path: &Path) -> bool {
    use std::io::Read;
    let mut magic = [0u8; 4];
    std::fs::File::open(path)
        .and_then(|mut f| f.read_exact(&mut magic))
        .is_ok()
        && (magic == *b"PK\x03\x04" || magic == *b"PK\x05\x06")
}
