//! From the system-call log (`seccomp`) and the Python records to the manifest's
//! `native_data`, `native_env` and one-entry-per-program `executables`.
//!
//! Decisions:
//! - **Whose calls count.** The app is the traced Python process tree: an image (a process
//!   between two execs) belongs to it when it is a traced Python (a record with its pid
//!   and program) or descends from one. A wrapper that starts Python (a pyenv shim, a
//!   shell script) is not the app: what it opens and runs before Python starts is left
//!   out. A process whose parent had already ended when shenzi first saw it (a daemon
//!   that double-forked) is counted in: every filtered process descends from the command.
//! - **Which opens are data.** An existing regular file, not written during the run (its
//!   modification time is before the trace started: the app's own output and caches are
//!   not its input), not an ELF object (the libraries a program loads are found from its
//!   needs), and not already in another record: imported modules of any traced Python and
//!   their bytecode caches (`__pycache__/*.pyc`), mapped objects, `data_files`, `scripts`,
//!   the entry script, `sys.path` entries, and what CPython's start-up reads of its own
//!   (`pyvenv.cfg`, `*.pth` in a `sys.path` folder). `/proc`, `/sys`, `/dev` and shenzi's
//!   scratch folder never are. Files every target has (`/etc`, the locale archive) are
//!   recorded like the rest: which of them stay the target's is the layout policy's call.
//! - **Environment.** For each image that opened data, the variables of its start-up
//!   environment and, for a traced Python, of `os.environ` at exit, whose value (or one
//!   `:`-separated part of it) is a folder above such a file. Only the name and the value
//!   are kept; `SHENZI_TRACE_DIR` and shenzi's own `PYTHONPATH` entry are not the app's.
//! - **Programs.** One entry per real path. A program run by a process of the traced
//!   interpreter that also reported it through an audit event was started by Python; by a
//!   traced Python's process otherwise, by native code; by a shell (by its program name);
//!   or by another program. An exec attempt counts when its path is an executable regular
//!   file (a `PATH` search tries folders that do not have it). The `#!` interpreter of a
//!   script is a program the kernel ran, and is recorded as such.

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::{Component, Path, PathBuf};
use std::time::SystemTime;

use rayon::prelude::*;

use super::record::ProcessRecord;
use super::seccomp::{SyscallLog, has_path_part};
use crate::manifest::{EntryKind, ExecVia, Executable, Manifest, NativeData, NativeEnv, RunId};

/// Programs whose processes are shells: what they run was started `by a shell`.
const SHELLS: &[&str] = &[
    "sh", "dash", "bash", "zsh", "ksh", "ksh93", "mksh", "ash", "busybox", "fish", "tcsh", "csh",
    "yash", "posh",
];

/// What the assembly needs of one Python record, taken before the records are assembled.
pub struct RecordFacts {
    pid: u32,
    python: PathBuf,
    module_files: Vec<PathBuf>,
    /// Audit-level execs with the real path they resolved to.
    execs: Vec<(ExecVia, PathBuf)>,
    opens: Vec<PathBuf>,
    env_paths: BTreeMap<String, String>,
    /// `sys.path` entries and site folders.
    roots: Vec<PathBuf>,
}

pub fn facts(records: &[ProcessRecord]) -> Vec<RecordFacts> {
    records
        .iter()
        .map(|r| RecordFacts {
            pid: r.pid,
            python: r.python.realpath.clone(),
            module_files: r.modules.iter().filter_map(|m| m.2.clone()).collect(),
            execs: r
                .execs
                .iter()
                .filter_map(|(via, _, path)| Some((*via, path.clone()?)))
                .collect(),
            opens: r.opens.clone(),
            env_paths: r.env_paths.clone(),
            roots: r
                .python
                .sys_path
                .iter()
                .filter(|p| !p.is_empty())
                .map(|p| r.main.cwd.join(p))
                .chain(r.python.site_dirs.iter().map(|(p, _)| p.clone()))
                .collect(),
        })
        .collect()
}

/// Where the trace ran.
pub struct Context<'a> {
    /// shenzi's private `PYTHONPATH` entry, taken out of recorded values.
    pub tracer_dir: &'a Path,
    /// Files modified after this were written by the run.
    pub started: SystemTime,
}

/// What the CLI reports about the system-call level.
#[derive(Debug, Default)]
pub struct Report {
    /// Set-user-ID, set-group-ID or file-capability programs the app ran under
    /// `no_new_privs`: they ran without those privileges.
    pub lost_privileges: Vec<PathBuf>,
    /// App processes still running when recording stopped, other than Python processes
    /// that wrote their record.
    pub still_running: Vec<u32>,
}

/// Fills `native_data`, `native_env` and `runs[0].syscalls` from the log, and makes
/// `executables` one entry per program (with or without a log).
pub fn complete(
    manifest: &mut Manifest,
    facts: &[RecordFacts],
    log: Option<&SyscallLog>,
    cx: &Context<'_>,
) -> Report {
    let run_id = manifest.runs[0].id.clone();
    let mut programs: Vec<Executable> = std::mem::take(&mut manifest.executables)
        .into_iter()
        .map(|mut e| {
            if e.names.is_empty() {
                e.names = vec![e.name.clone()];
            }
            if e.started_by.is_empty() {
                e.started_by = vec![e.via];
            }
            e
        })
        .collect();
    let mut report = Report::default();
    if let Some(log) = log {
        manifest.runs[0].syscalls = true;
        let app = app_images(log, facts);
        let kept = native_data(manifest, facts, log, &app, cx, &run_id);
        manifest.native_env = native_env(log, facts, &kept, cx, &run_id);
        let execs = syscall_execs(log, facts, &app, &run_id);
        if log.no_new_privs {
            report.lost_privileges = execs
                .iter()
                .filter_map(|e| e.path.clone())
                .filter(|p| privileged(p))
                .collect::<BTreeSet<_>>()
                .into_iter()
                .collect();
        }
        programs.extend(execs);
        // A Python process that wrote its record is only finishing its exit.
        report.still_running = log
            .running
            .iter()
            .filter(|(pid, image)| app[*image] && !facts.iter().any(|f| f.pid == *pid))
            .map(|(pid, _)| *pid)
            .collect();
    }
    let mut merged: BTreeMap<_, Executable> = BTreeMap::new();
    for program in programs {
        add_program(&mut merged, program);
    }
    add_interpreters(&mut merged, &run_id);
    let interpreter = manifest.python.realpath.clone();
    manifest.executables = merged
        .into_values()
        .map(|mut e| {
            e.is_python = e.path.as_deref() == Some(interpreter.as_path());
            e
        })
        .collect();
    report
}

/// Which images are the app's (see the module docs). Parents come before children in the
/// log, so one pass decides.
fn app_images(log: &SyscallLog, facts: &[RecordFacts]) -> Vec<bool> {
    let traced: BTreeMap<u32, Vec<&Path>> = facts.iter().fold(BTreeMap::new(), |mut map, f| {
        map.entry(f.pid).or_insert_with(Vec::new).push(&f.python);
        map
    });
    let mut app = Vec::with_capacity(log.images.len());
    for image in &log.images {
        let is_traced = traced
            .get(&image.tgid)
            .is_some_and(|pythons| pythons.contains(&image.exe.as_path()));
        let from_app = image.parent.is_none_or(|p| app[p]);
        app.push(!image.launcher && (is_traced || from_app));
    }
    app
}

/// A kept native open: the path as opened, and its real path.
struct Kept {
    path: PathBuf,
    real: PathBuf,
}

/// Fills `manifest.native_data`; returns what each image opened of it.
fn native_data(
    manifest: &mut Manifest,
    facts: &[RecordFacts],
    log: &SyscallLog,
    app: &[bool],
    cx: &Context<'_>,
    run_id: &RunId,
) -> BTreeMap<usize, Vec<Kept>> {
    let candidates: BTreeSet<&PathBuf> = log
        .opens
        .iter()
        .filter(|(image, _)| app[*image])
        .map(|(_, path)| path)
        .collect();
    let examined: BTreeMap<&PathBuf, PathBuf> = candidates
        .into_par_iter()
        .filter_map(|path| Some((path, examine(path, cx.started)?)))
        .collect::<Vec<_>>()
        .into_iter()
        .collect();

    let roots: BTreeSet<PathBuf> = facts.iter().flat_map(|f| f.roots.iter().cloned()).collect();
    let mut recorded: Vec<PathBuf> = facts
        .iter()
        .flat_map(|f| f.module_files.iter().cloned())
        .chain(manifest.data_files.iter().map(|d| d.path.clone()))
        .chain(manifest.scripts.iter().map(|d| d.path.clone()))
        .chain(roots.iter().cloned())
        .collect();
    if manifest.entry.kind == EntryKind::Script {
        recorded.push(PathBuf::from(&manifest.entry.target));
    }
    let mut excluded: BTreeSet<PathBuf> = real_paths(recorded);
    excluded.extend(manifest.native.objects.iter().map(|o| o.path.clone()));
    let audited = real_paths(facts.iter().flat_map(|f| f.opens.iter().cloned()).collect());

    let is_data = |path: &Path, real: &Path| {
        !excluded.contains(real) && !startup_file(path, &roots) && !startup_file(real, &roots)
    };
    let mut data: BTreeMap<PathBuf, NativeData> = BTreeMap::new();
    let mut kept: BTreeMap<usize, Vec<Kept>> = BTreeMap::new();
    for (image, path) in &log.opens {
        if !app[*image] {
            continue;
        }
        let Some(real) = examined.get(path) else {
            continue;
        };
        if !is_data(path, real) {
            continue;
        }
        // A `..` may cross a symlink: such a path is recorded as its real path.
        let shown = match path.components().any(|c| c == Component::ParentDir) {
            true => real.clone(),
            false => path.clone(),
        };
        let entry = data.entry(shown.clone()).or_insert_with(|| NativeData {
            path: shown.clone(),
            opened_by: Vec::new(),
            audit: audited.contains(real),
            runs: vec![run_id.clone()],
        });
        let program = &log.images[*image].exe;
        if !entry.opened_by.contains(program) {
            entry.opened_by.push(program.clone());
            entry.opened_by.sort();
        }
        kept.entry(*image).or_default().push(Kept {
            path: shown,
            real: real.clone(),
        });
    }
    manifest.native_data = data.into_values().collect();
    kept
}

/// The real path of an existing regular file that the run did not write and that is not
/// an ELF object.
fn examine(path: &Path, started: SystemTime) -> Option<PathBuf> {
    let meta = std::fs::metadata(path).ok()?;
    if !meta.is_file() || meta.modified().is_ok_and(|m| m >= started) {
        return None;
    }
    let real = std::fs::canonicalize(path).ok()?;
    let mut magic = [0u8; 4];
    let is_elf = std::fs::File::open(&real)
        .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut magic))
        .is_ok()
        && magic == *b"\x7fELF";
    (!is_elf).then_some(real)
}

/// Real paths of existing files, in parallel.
fn real_paths(paths: Vec<PathBuf>) -> BTreeSet<PathBuf> {
    paths
        .into_par_iter()
        .filter_map(|p| std::fs::canonicalize(p).ok())
        .collect::<Vec<_>>()
        .into_iter()
        .collect()
}

/// What CPython reads of its own at start-up: bytecode caches, `pyvenv.cfg`, and `.pth`
/// files of a `sys.path` folder.
fn startup_file(path: &Path, roots: &BTreeSet<PathBuf>) -> bool {
    let name = path.file_name().map(OsStr::as_bytes).unwrap_or_default();
    let parent = path.parent();
    (name.ends_with(b".pyc") && parent.and_then(Path::file_name) == Some(OsStr::new("__pycache__")))
        || name == b"pyvenv.cfg"
        || (name.ends_with(b".pth") && parent.is_some_and(|p| roots.contains(p)))
}

fn native_env(
    log: &SyscallLog,
    facts: &[RecordFacts],
    kept: &BTreeMap<usize, Vec<Kept>>,
    cx: &Context<'_>,
    run_id: &RunId,
) -> Vec<NativeEnv> {
    let mut found: BTreeSet<(PathBuf, String, String)> = BTreeSet::new();
    for (image, files) in kept {
        let image = &log.images[*image];
        let mut env: BTreeSet<(String, String)> = image
            .env
            .iter()
            .map(|(k, v)| {
                (
                    k.to_string_lossy().into_owned(),
                    v.to_string_lossy().into_owned(),
                )
            })
            .collect();
        for f in facts
            .iter()
            .filter(|f| f.pid == image.tgid && f.python == image.exe)
        {
            env.extend(f.env_paths.iter().map(|(k, v)| (k.clone(), v.clone())));
        }
        for (name, value) in env {
            // The tracer's records folder is shenzi's, not the app's.
            if name == "SHENZI_TRACE_DIR" {
                continue;
            }
            // shenzi's own folder at the front of `PYTHONPATH` is not the app's.
            let value = value
                .split(':')
                .filter(|part| Path::new(part) != cx.tracer_dir)
                .collect::<Vec<_>>()
                .join(":");
            if !has_path_part(value.as_bytes()) {
                continue;
            }
            let points_at_data = value
                .split(':')
                .filter(|part| part.len() > 1 && part.starts_with('/'))
                .any(|part| {
                    files
                        .iter()
                        .any(|f| f.path.starts_with(part) || f.real.starts_with(part))
                });
            if points_at_data {
                found.insert((image.exe.clone(), name, value));
            }
        }
    }
    found
        .into_iter()
        .map(|(program, name, value)| NativeEnv {
            program,
            name,
            value,
            runs: vec![run_id.clone()],
        })
        .collect()
}

/// The programs the app's processes executed, one record per attempt that names an
/// executable file.
fn syscall_execs(
    log: &SyscallLog,
    facts: &[RecordFacts],
    app: &[bool],
    run_id: &RunId,
) -> Vec<Executable> {
    let pythons: BTreeSet<&Path> = facts.iter().map(|f| f.python.as_path()).collect();
    let attempts: BTreeSet<&PathBuf> = log
        .execs
        .iter()
        .filter(|e| app[e.image])
        .map(|e| &e.path)
        .collect();
    let found: BTreeMap<&PathBuf, PathBuf> = attempts
        .into_par_iter()
        .filter_map(|path| {
            let meta = std::fs::metadata(path).ok()?;
            let executable = meta.is_file() && meta.permissions().mode() & 0o111 != 0;
            executable
                .then(|| std::fs::canonicalize(path).ok())
                .flatten()
                .map(|real| (path, real))
        })
        .collect::<Vec<_>>()
        .into_iter()
        .collect();
    let mut out = Vec::new();
    for exec in log.execs.iter().filter(|e| app[e.image]) {
        let Some(real) = found.get(&exec.path) else {
            continue;
        };
        let image = &log.images[exec.image];
        // The processes whose Python code may have asked: this one (`os.exec*`) and its
        // parent (`subprocess`, `posix_spawn` and `os.system` run the exec in a child).
        let askers = std::iter::once(image.tgid)
            .chain(image.parent.map(|p| log.images[p].tgid))
            .collect::<Vec<_>>();
        let python_asked = facts
            .iter()
            .filter(|f| askers.contains(&f.pid))
            .flat_map(|f| &f.execs)
            .find(|(_, path)| path == real)
            .map(|(via, _)| *via);
        let program_name = image.exe.file_name().map(OsStr::as_bytes);
        let via = python_asked.unwrap_or(if pythons.contains(image.exe.as_path()) {
            ExecVia::Native
        } else if program_name.is_some_and(|n| SHELLS.iter().any(|s| s.as_bytes() == n)) {
            ExecVia::Shell
        } else {
            ExecVia::Program
        });
        let names: BTreeSet<String> = exec
            .argv0
            .iter()
            .chain(std::iter::once(&exec.given))
            .filter(|n| !n.is_empty())
            .map(|n| n.to_string_lossy().into_owned())
            .collect();
        let name = names
            .iter()
            .find(|n| !n.contains('/'))
            .or(names.first())
            .cloned()
            .unwrap_or_else(|| real.to_string_lossy().into_owned());
        out.push(Executable {
            name,
            path: Some(real.clone()),
            via,
            is_python: false,
            names: names.into_iter().collect(),
            started_by: vec![via],
            parents: vec![image.exe.clone()],
            interpreter: None,
            runs: vec![run_id.clone()],
        });
    }
    out
}

fn add_program(merged: &mut BTreeMap<ProgramKey, Executable>, program: Executable) {
    match merged.entry(program.key()) {
        std::collections::btree_map::Entry::Occupied(mut slot) => slot.get_mut().absorb(program),
        std::collections::btree_map::Entry::Vacant(slot) => {
            slot.insert(program);
        }
    }
}

type ProgramKey = (bool, Option<PathBuf>, String);

/// Gives each script its `#!` line, and records its interpreter as a program the kernel
/// ran (an interpreter may be a script in turn).
fn add_interpreters(merged: &mut BTreeMap<ProgramKey, Executable>, run_id: &RunId) {
    let mut queue: Vec<PathBuf> = merged.values().filter_map(|e| e.path.clone()).collect();
    let mut seen: BTreeSet<PathBuf> = BTreeSet::new();
    while let Some(script) = queue.pop() {
        if !seen.insert(script.clone()) {
            continue;
        }
        let Some(line) = shebang(&script) else {
            continue;
        };
        let key = (false, Some(script.clone()), String::new());
        if let Some(entry) = merged.get_mut(&key) {
            entry.interpreter = Some(line.clone());
        }
        let Some(word) = line.split_whitespace().next() else {
            continue;
        };
        let Ok(real) = std::fs::canonicalize(word) else {
            continue;
        };
        queue.push(real.clone());
        add_program(
            merged,
            Executable {
                name: word.to_owned(),
                path: Some(real),
                via: ExecVia::Interpreter,
                is_python: false,
                names: vec![word.to_owned()],
                started_by: vec![ExecVia::Interpreter],
                parents: vec![script],
                interpreter: None,
                runs: vec![run_id.clone()],
            },
        );
    }
}

/// The `#!` line of a file, without `#!`, trimmed; None for anything else.
fn shebang(path: &Path) -> Option<String> {
    let mut head = [0u8; 256];
    let n = std::fs::File::open(path)
        .and_then(|mut f| std::io::Read::read(&mut f, &mut head))
        .ok()?;
    let line = head[..n].strip_prefix(b"#!")?;
    let line = line.split(|&b| b == b'\n').next().unwrap_or_default();
    let line = String::from_utf8_lossy(line).trim().to_owned();
    (!line.is_empty()).then_some(line)
}

/// Set-user-ID, set-group-ID, or with file capabilities.
fn privileged(path: &Path) -> bool {
    let Ok(meta) = std::fs::metadata(path) else {
        return false;
    };
    if meta.permissions().mode() & (libc::S_ISUID | libc::S_ISGID) != 0 {
        return true;
    }
    let Ok(c_path) = std::ffi::CString::new(path.as_os_str().as_bytes()) else {
        return false;
    };
    // SAFETY: both strings are NUL-terminated; a null buffer of size 0 asks for the size.
    unsafe {
        libc::getxattr(
            c_path.as_ptr(),
            c"security.capability".as_ptr(),
            std::ptr::null_mut(),
            0,
        ) >= 0
    }
}
