//! From per-process records to one manifest.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use rayon::prelude::*;

use super::record::{ProcessRecord, PythonFacts};
use crate::binary::{ObjectInfo, read_object};
use crate::manifest::{
    DataFile, Entry, EntryKind, Executable, LibPython, LoadVia, MANIFEST_VERSION, Manifest, Module,
    ModuleKind, Native, NativeObject, ObjectKind, Platform, PyVersion, Python, Run, RunId, RunRole,
    RuntimeLoad, SiteDir, SysPathEntry, SysPathKind,
};

/// One traced command and what came of it.
pub struct RunFacts<'a> {
    pub command: &'a [String],
    pub exit_status: i32,
    /// The pid shenzi started; the record with this pid is the main process.
    pub child_pid: u32,
    /// True when the command is a script run through its shebang (`pytest`).
    pub console_script: bool,
    pub role: RunRole,
    /// The app's name, when given.
    pub name: Option<String>,
}

/// A manifest and what the trace could not use.
pub struct Assembled {
    pub manifest: Manifest,
    /// Processes of another interpreter, left out: `(pid, interpreter)`.
    pub foreign: Vec<(u32, PathBuf)>,
}

/// Assembles the records of one run. `records` must not be empty.
pub fn assemble(mut records: Vec<ProcessRecord>, run: &RunFacts<'_>) -> Assembled {
    records.sort_by_key(|r| (r.started, r.pid));
    let pids: BTreeSet<u32> = records.iter().map(|r| r.pid).collect();
    // The main process is the one shenzi started (wrappers that exec keep its pid); when
    // a wrapper forked instead, the earliest process whose parent was not traced.
    let root_index = records
        .iter()
        .position(|r| r.pid == run.child_pid)
        .or_else(|| records.iter().position(|r| !pids.contains(&r.ppid)))
        .unwrap_or(0);
    let root = records.swap_remove(root_index);
    let interpreter = root.python.realpath.clone();
    let (same, other): (Vec<_>, Vec<_>) = records
        .into_iter()
        .partition(|r| r.python.realpath == interpreter);
    let foreign = other
        .into_iter()
        .map(|r| (r.pid, r.python.realpath))
        .collect();

    let run_id = run_id(run.command, &interpreter);
    let all: Vec<&ProcessRecord> = std::iter::once(&root).chain(same.iter()).collect();

    let python = python_facts(&root);
    let modules = modules(&all, &run_id);
    let extension_files: BTreeSet<PathBuf> = modules
        .iter()
        .filter(|m| m.kind == ModuleKind::Extension)
        .filter_map(|m| m.file.as_deref().map(realpath))
        .collect();
    let native = native(&all, &python, &extension_files, &run_id);
    let python = Python {
        // Whether a libpython was mapped, not `Py_ENABLE_SHARED`: Debian's python3 reports
        // 1 there (it ships libpython for embedders) but links the interpreter statically.
        libpython: {
            let path = find_libpython(&native);
            LibPython {
                shared: path.is_some(),
                path,
            }
        },
        ..python
    };
    let data_files = data_files(&all, &python, &modules, &run_id);
    let executables = executables(&all, &interpreter, &run_id);
    let entry_script = (root.main.kind == "script").then(|| PathBuf::from(&root.main.target));
    let scripts: BTreeSet<PathBuf> = same
        .iter()
        .filter(|r| r.main.kind == "script")
        .map(|r| PathBuf::from(&r.main.target))
        .filter(|p| Some(p) != entry_script.as_ref())
        .collect();

    let entry = Entry {
        kind: if run.console_script && root.main.kind == "script" {
            EntryKind::ConsoleScript
        } else {
            match root.main.kind.as_str() {
                "module" => EntryKind::Module,
                "script" => EntryKind::Script,
                _ => EntryKind::Code,
            }
        },
        target: root.main.target.clone(),
        argv: root.main.argv.clone(),
        name: run.name.clone(),
    };
    let manifest = Manifest {
        version: MANIFEST_VERSION,
        platform: Platform {
            os: root.python.os.clone(),
            machine: root.python.machine.clone(),
            libc: root.python.libc.clone(),
        },
        python,
        entry,
        runs: vec![Run {
            id: run_id.clone(),
            command: run.command.to_vec(),
            exit_status: run.exit_status,
            processes: u32::try_from(all.len()).unwrap_or(u32::MAX),
            // Set by `native_io` when the run recorded system calls.
            syscalls: false,
            role: run.role,
        }],
        modules,
        native,
        executables,
        data_files,
        scripts: scripts
            .into_iter()
            .map(|path| DataFile {
                path,
                runs: vec![run_id.clone()],
            })
            .collect(),
        env: root.env.clone(),
        // Filled by `native_io` from the system-call log.
        native_data: Vec::new(),
        native_env: Vec::new(),
    };
    Assembled { manifest, foreign }
}

/// A short content id: the same command with the same interpreter gets the same id
/// whenever and in whatever order it is traced.
fn run_id(command: &[String], interpreter: &Path) -> RunId {
    let mut hasher = blake3::Hasher::new();
    hasher.update(interpreter.as_os_str().as_encoded_bytes());
    for arg in command {
        hasher.update(b"\0");
        hasher.update(arg.as_bytes());
    }
    hasher.finalize().to_hex()[..12].to_owned()
}

fn realpath(path: &Path) -> PathBuf {
    std::fs::canonicalize(path).unwrap_or_else(|_| path.to_owned())
}

fn python_facts(root: &ProcessRecord) -> Python {
    let p: &PythonFacts = &root.python;
    let (major, minor, micro, releaselevel, serial, abiflags) = p.version.clone();
    let app_dir = match root.main.kind.as_str() {
        "script" => Path::new(&root.main.target)
            .parent()
            .map(Path::to_owned)
            .unwrap_or_default(),
        _ => root.main.cwd.clone(),
    };
    let site_paths: BTreeSet<&PathBuf> = p.site_dirs.iter().map(|(path, _)| path).collect();
    let pythonpath: BTreeSet<PathBuf> = p
        .pythonpath
        .iter()
        .map(|e| absolute(&root.main.cwd, e))
        .collect();
    let sys_path = p
        .sys_path
        .iter()
        .enumerate()
        .map(|(i, raw)| {
            let path = absolute(&root.main.cwd, raw);
            let kind = if i == 0 && path == app_dir {
                SysPathKind::App
            } else if path == p.stdlib {
                SysPathKind::Stdlib
            } else if Some(&path) == p.dynload.as_ref() {
                SysPathKind::Dynload
            } else if site_paths.contains(&path) {
                SysPathKind::Site
            } else if pythonpath.contains(&path) {
                SysPathKind::Pythonpath
            } else if path.extension().is_some_and(|e| e == "zip")
                && path.starts_with(&p.base_prefix)
            {
                SysPathKind::StdlibZip
            } else {
                SysPathKind::Other
            };
            SysPathEntry { path, kind }
        })
        .collect::<Vec<_>>();
    let on_path: BTreeSet<&PathBuf> = sys_path.iter().map(|e| &e.path).collect();
    Python {
        executable: p.executable.clone(),
        realpath: p.realpath.clone(),
        implementation: p.implementation.clone(),
        version: PyVersion {
            major,
            minor,
            micro,
            releaselevel,
            serial,
            abiflags,
        },
        cache_tag: p.cache_tag.clone(),
        soabi: p.soabi.clone(),
        ext_suffix: p.ext_suffix.clone(),
        multiarch: p.multiarch.clone(),
        prefix: p.prefix.clone(),
        exec_prefix: p.exec_prefix.clone(),
        base_prefix: p.base_prefix.clone(),
        base_exec_prefix: p.base_exec_prefix.clone(),
        platlibdir: p.platlibdir.clone(),
        is_venv: p.prefix != p.base_prefix,
        site_dirs: p
            .site_dirs
            .iter()
            .map(|(path, kind)| SiteDir {
                path: path.clone(),
                kind: *kind,
                on_path: on_path.contains(path),
            })
            .collect(),
        prefix_site_dirs: p.prefix_site_dirs.clone(),
        sys_path,
        stdlib: p.stdlib.clone(),
        platstdlib: p.platstdlib.clone(),
        dynload: p.dynload.clone(),
        // Filled in from the mapped objects.
        libpython: LibPython {
            shared: false,
            path: None,
        },
    }
}

/// `sys.path` holds `''` for the working folder under `-c` and the REPL.
fn absolute(cwd: &Path, entry: &str) -> PathBuf {
    if entry.is_empty() {
        cwd.to_owned()
    } else {
        cwd.join(entry)
    }
}

fn modules(records: &[&ProcessRecord], run_id: &RunId) -> Vec<Module> {
    let mut seen: BTreeSet<(String, ModuleKind, Option<PathBuf>)> = BTreeSet::new();
    for record in records {
        for (name, kind, file) in &record.modules {
            // `__main__` of a child is multiprocessing's bootstrap, not the app's entry.
            if name == "__main__" || name == "__mp_main__" {
                continue;
            }
            seen.insert((name.clone(), *kind, file.clone()));
        }
    }
    seen.into_iter()
        .map(|(name, kind, file)| Module {
            name,
            kind,
            file,
            runs: vec![run_id.clone()],
        })
        .collect()
}

fn native(
    records: &[&ProcessRecord],
    python: &Python,
    extension_files: &BTreeSet<PathBuf>,
    run_id: &RunId,
) -> Native {
    let mapped: BTreeSet<&PathBuf> = records.iter().flat_map(|r| &r.maps).collect();
    // Each mapped file is read once, in parallel; files that are not ELF (locale
    // archives, mapped data) drop out here. A file that vanished or is damaged is not an
    // object the app can have used through the loader either, so it is left out too.
    let infos: BTreeMap<&PathBuf, ObjectInfo> = mapped
        .into_par_iter()
        .filter_map(|path| match read_object(path) {
            Ok(Some(info)) => Some((path, info)),
            _ => None,
        })
        .collect::<Vec<_>>()
        .into_iter()
        .collect();
    let loader = infos
        .get(&python.realpath)
        .and_then(|info| info.interp.as_deref())
        .map(|interp| realpath(Path::new(interp)));

    let mut names: BTreeMap<&PathBuf, BTreeSet<String>> = BTreeMap::new();
    // `DT_NEEDED` names of every mapped object point at the object with that SONAME (or
    // that file name) — glibc reuses a loaded object whose SONAME matches.
    let by_name: HashMap<&str, &PathBuf> = infos
        .iter()
        .flat_map(|(path, info)| {
            let file = path.file_name().and_then(|n| n.to_str());
            info.soname
                .as_deref()
                .into_iter()
                .chain(file)
                .map(move |n| (n, *path))
        })
        .collect();
    for info in infos.values() {
        for need in &info.needed {
            if let Some(path) = by_name.get(need.as_str()) {
                names.entry(path).or_default().insert(need.clone());
            }
        }
    }

    // The loader's own default folders on this machine (multiarch or lib64).
    let default_dirs = crate::loader::SearchConfig::host().0.default_dirs;
    let env_dirs: Vec<PathBuf> = records
        .first()
        .and_then(|r| r.env.get("LD_LIBRARY_PATH"))
        .map(|v| {
            v.split(':')
                .filter(|s| !s.is_empty())
                .map(PathBuf::from)
                .collect()
        })
        .unwrap_or_default();
    let mut loads = BTreeSet::new();
    for record in records {
        for (via, name, caller) in &record.loads {
            let resolved = resolve_load(name, &infos, &by_name, &env_dirs, &default_dirs);
            if let Some((key, _)) = resolved.as_ref().and_then(|p| infos.get_key_value(p)) {
                names.entry(key).or_default().insert(name.clone());
            }
            loads.insert(RuntimeLoad {
                name: name.clone(),
                via: *via,
                resolved,
                caller: caller.clone(),
                runs: vec![run_id.clone()],
            });
        }
    }

    // What no needs chain explains was loaded at run time by native code.
    let mut reached: BTreeSet<&PathBuf> = infos
        .keys()
        .copied()
        .filter(|p| {
            **p == python.realpath || loader.as_ref() == Some(*p) || extension_files.contains(*p)
        })
        .chain(
            loads
                .iter()
                .filter_map(|l: &RuntimeLoad| l.resolved.as_ref())
                .filter_map(|p| infos.get_key_value(p).map(|(k, _)| *k)),
        )
        .collect();
    let mut queue: Vec<&PathBuf> = reached.iter().copied().collect();
    while let Some(path) = queue.pop() {
        for need in infos
            .get(path)
            .map(|i| i.needed.as_slice())
            .unwrap_or_default()
        {
            if let Some(next) = by_name.get(need.as_str()) {
                if reached.insert(next) {
                    queue.push(next);
                }
            }
        }
    }
    for (path, info) in &infos {
        if !reached.contains(path) {
            let name = info.soname.clone().unwrap_or_else(|| {
                path.file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default()
            });
            names.entry(path).or_default().insert(name.clone());
            loads.insert(RuntimeLoad {
                name,
                via: LoadVia::Dlopen,
                resolved: Some((*path).clone()),
                caller: None,
                runs: vec![run_id.clone()],
            });
        }
    }

    let objects = infos
        .iter()
        .map(|(path, info)| {
            let kind = if **path == python.realpath {
                ObjectKind::Executable
            } else if loader.as_ref() == Some(*path) {
                ObjectKind::Loader
            } else if extension_files.contains(*path) {
                ObjectKind::Extension
            } else {
                ObjectKind::Library
            };
            NativeObject {
                path: (*path).clone(),
                kind,
                soname: info.soname.clone(),
                names: names
                    .get(path)
                    .map(|n| n.iter().cloned().collect())
                    .unwrap_or_default(),
                runs: vec![run_id.clone()],
            }
        })
        .collect();
    Native {
        objects,
        loads: loads.into_iter().collect(),
    }
}

/// Which mapped object a run-time load name refers to. A path is its real path; a bare
/// name is the mapped object with that SONAME or file name, or the one a same-named file
/// in `LD_LIBRARY_PATH`, a folder of a mapped object, or a default folder resolves to.
fn resolve_load(
    name: &str,
    infos: &BTreeMap<&PathBuf, ObjectInfo>,
    by_name: &HashMap<&str, &PathBuf>,
    env_dirs: &[PathBuf],
    default_dirs: &[PathBuf],
) -> Option<PathBuf> {
    let mapped = |candidate: PathBuf| {
        let real = realpath(&candidate);
        infos.contains_key(&real).then_some(real)
    };
    if name.contains('/') {
        return mapped(PathBuf::from(name));
    }
    if let Some(path) = by_name.get(name) {
        return Some((*path).clone());
    }
    let object_dirs: BTreeSet<&Path> = infos.keys().filter_map(|p| p.parent()).collect();
    env_dirs
        .iter()
        .map(PathBuf::as_path)
        .chain(object_dirs)
        .chain(default_dirs.iter().map(PathBuf::as_path))
        .find_map(|dir| mapped(dir.join(name)))
}

fn find_libpython(native: &Native) -> Option<PathBuf> {
    native
        .objects
        .iter()
        .find(|o| {
            o.path
                .file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("libpython"))
        })
        .map(|o| o.path.clone())
}

fn data_files(
    records: &[&ProcessRecord],
    python: &Python,
    modules: &[Module],
    run_id: &RunId,
) -> Vec<DataFile> {
    let roots: Vec<&Path> = python.sys_path.iter().map(|e| e.path.as_path()).collect();
    let module_files: BTreeSet<&Path> = modules.iter().filter_map(|m| m.file.as_deref()).collect();
    let opened: BTreeSet<&PathBuf> = records.iter().flat_map(|r| &r.opens).collect();
    opened
        .into_iter()
        .filter(|path| roots.iter().any(|root| path.starts_with(root)))
        .filter(|path| !module_files.contains(path.as_path()) && path.is_file())
        .map(|path| DataFile {
            path: path.clone(),
            runs: vec![run_id.clone()],
        })
        .collect()
}

fn executables(records: &[&ProcessRecord], interpreter: &Path, run_id: &RunId) -> Vec<Executable> {
    let mut seen = BTreeSet::new();
    for record in records {
        for (via, name, path) in &record.execs {
            let Some(name) = name else { continue };
            let is_python = path.as_deref() == Some(interpreter);
            seen.insert((name.clone(), path.clone(), *via, is_python));
        }
    }
    seen.into_iter()
        .map(|(name, path, via, is_python)| Executable {
            name,
            path,
            via,
            is_python,
            // Filled by `native_io`, which makes one entry per program.
            names: Vec::new(),
            started_by: Vec::new(),
            parents: Vec::new(),
            interpreter: None,
            runs: vec![run_id.clone()],
        })
        .collect()
}
