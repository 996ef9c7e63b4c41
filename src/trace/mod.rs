//! `shenzi trace`: run a Python program under the embedded tracer and write the manifest.
//!
//! The tracer is `sitecustomize.py` in this folder, compiled into the binary. shenzi
//! writes it into a private temporary folder and puts that folder first on `PYTHONPATH`,
//! so the traced program and every Python process it starts load it; each process writes
//! one record when it ends, and this module assembles the records into a manifest.
//!
//! Decisions:
//! - `PYTHONPATH` (with the private folder first) and `SHENZI_TRACE_DIR` stay in the
//!   environment of the traced processes: that is how child processes are traced. The
//!   tracer takes its folder off `sys.path`, so imports see the app's own path.
//! - A Python started with `-I`, `-E` or `-S` ignores `PYTHONPATH` or `sitecustomize` and
//!   cannot be traced; when no process was traced, `trace` says so.
//! - The traced program's exit status is passed through; a signal that ended it
//!   becomes 128 + its number, as a shell reports it.

mod assemble;
mod command;
mod diagnostics;
mod native_io;
mod record;
mod seccomp;

use std::ffi::OsString;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitStatus;

pub use command::{CommandKind, PreparedCommand, prepare_command};
pub use diagnostics::TraceError;
pub use seccomp::DISABLE_VAR as SYSCALLS_VAR;

pub use crate::manifest::RunRole;
use crate::manifest::{Manifest, read_manifest};
use record::ProcessRecord;

const TRACER: &str = include_str!("sitecustomize.py");

/// What to trace and where to write it.
#[derive(Debug, Clone)]
pub struct TraceRequest {
    /// Run the command with this interpreter (`PY COMMAND...`).
    pub python: Option<PathBuf>,
    pub command: Vec<OsString>,
    pub output: PathBuf,
    /// Merge into an existing manifest at `output`.
    pub append: bool,
    /// What the run is for; a coverage run is merged into the app's manifest.
    pub role: RunRole,
    /// The app's name (`{app.name}`), recorded in the entry; a run appended to a
    /// manifest keeps the manifest's.
    pub name: Option<String>,
    /// The traced program's standard output goes to shenzi's standard error (`build
    /// --format json` keeps stdout for its document).
    pub stdout_to_stderr: bool,
}

/// What a trace did.
#[derive(Debug)]
pub struct TraceOutcome {
    pub output: PathBuf,
    /// The traced program's exit status, to pass through.
    pub exit_status: i32,
    pub processes: u32,
    pub modules: usize,
    pub objects: usize,
    /// Processes of another interpreter, left out of the manifest.
    pub foreign: Vec<(u32, PathBuf)>,
    /// Traced processes still running when shenzi stopped waiting for them; what they
    /// did after the main process ended is not in the manifest.
    pub still_running: Vec<u32>,
    /// What the system-call level recorded, or why it recorded nothing.
    pub syscalls: Result<SyscallCounts, String>,
    /// Set-user-ID (or set-group-ID, or file-capability) programs the app ran under
    /// `no_new_privs`, which they ran without.
    pub lost_privileges: Vec<PathBuf>,
}

/// What the system-call level added to the manifest.
#[derive(Debug, Clone, Copy)]
pub struct SyscallCounts {
    pub native_data: usize,
    pub programs: usize,
}

/// How long traced processes that outlive the main one get to finish.
const DESCENDANT_GRACE: std::time::Duration = std::time::Duration::from_secs(10);

/// Runs the request's command under the tracer and writes the manifest.
///
/// Everything that can fail before the program runs is checked first: the command is
/// found and is Python (or a script that may start Python), the output is writable, and
/// with `append` the existing manifest reads. A failure after the run leaves the old
/// output untouched.
pub fn trace(request: &TraceRequest) -> Result<TraceOutcome, TraceError> {
    let prepared = prepare_command(request.python.as_deref(), &request.command)?;
    let existing = match request.append && request.output.exists() {
        true => Some(read_manifest(&request.output)?),
        false => None,
    };
    // The manifest's entry is its first run's: a test runner is never the app.
    if request.role == RunRole::Coverage && existing.is_none() {
        return Err(TraceError::CoverageFirst {
            output: request.output.clone(),
        });
    }
    let pending = reserve_output(&request.output)?;

    let scratch = tempfile::Builder::new()
        .prefix("shenzi-trace-")
        .tempdir()
        .map_err(|source| TraceError::Scratch {
            message: "cannot create a temporary folder".into(),
            source,
        })?;
    // Absolute: the supervisor compares the paths processes open against these.
    let scratch_dir =
        std::path::absolute(scratch.path()).map_err(|source| TraceError::Scratch {
            message: "cannot name the temporary folder".into(),
            source,
        })?;
    let tracer_dir = scratch_dir.join("tracer");
    let records_dir = scratch_dir.join("records");
    for dir in [&tracer_dir, &records_dir] {
        std::fs::create_dir(dir).map_err(|source| TraceError::Scratch {
            message: format!("cannot create `{}`", dir.display()),
            source,
        })?;
    }
    std::fs::write(tracer_dir.join("sitecustomize.py"), TRACER).map_err(|source| {
        TraceError::Scratch {
            message: "cannot write the tracer".into(),
            source,
        }
    })?;

    let started = std::time::SystemTime::now();
    let armed = seccomp::arm();
    let settings = seccomp::Settings {
        scratch: scratch_dir.clone(),
        quiet_marker: records_dir.join(".quiet"),
    };
    let (status, child_pid, supervisor) = run_traced(
        &prepared,
        &tracer_dir,
        &records_dir,
        armed,
        settings,
        request.stdout_to_stderr,
    )?;
    let exit_status = exit_code(status);
    let mut still_running = wait_for_descendants(&records_dir);
    let log = supervisor.and_then(seccomp::Supervisor::finish);
    let records = read_records(&records_dir)?;
    if records.is_empty() {
        return Err(TraceError::NothingTraced {
            program: prepared.program.clone(),
            exit_status,
        });
    }
    let command: Vec<String> = request
        .command
        .iter()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let facts = native_io::facts(&records);
    let mut assembled = assemble::assemble(
        records,
        &assemble::RunFacts {
            command: &command,
            exit_status,
            child_pid,
            console_script: prepared.kind == CommandKind::Script,
            role: request.role,
            name: request.name.clone(),
        },
    );
    let report = native_io::complete(
        &mut assembled.manifest,
        &facts,
        log.as_ref().ok(),
        &native_io::Context {
            tracer_dir: &tracer_dir,
            started,
        },
    );
    still_running.extend(report.still_running);
    still_running.sort();
    still_running.dedup();
    let syscalls = log.map(|_| SyscallCounts {
        native_data: assembled.manifest.native_data.len(),
        programs: assembled.manifest.executables.len(),
    });
    let processes = assembled.manifest.runs[0].processes;
    let manifest = match existing {
        Some(existing) => existing.merge(assembled.manifest)?,
        None => assembled.manifest,
    };
    write_output(pending, &request.output, &manifest)?;
    Ok(TraceOutcome {
        output: request.output.clone(),
        exit_status,
        processes,
        modules: manifest.modules.len(),
        objects: manifest.native.objects.len(),
        foreign: assembled.foreign,
        still_running,
        syscalls,
        lost_privileges: report.lost_privileges,
    })
}

/// Creates the temporary file the manifest is written to and renamed from, beside the
/// output: proves the place is writable before anything runs.
fn reserve_output(output: &Path) -> Result<tempfile::NamedTempFile, TraceError> {
    let not_writable = |source| TraceError::OutputNotWritable {
        path: output.to_owned(),
        source,
    };
    if output.is_dir() {
        return Err(not_writable(std::io::Error::new(
            std::io::ErrorKind::IsADirectory,
            "it is a folder",
        )));
    }
    if let Ok(meta) = std::fs::metadata(output) {
        if meta.permissions().readonly() {
            return Err(not_writable(std::io::Error::new(
                std::io::ErrorKind::PermissionDenied,
                "the file is read-only",
            )));
        }
    }
    let parent = match output.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    tempfile::Builder::new()
        .prefix(".shenzi-manifest-")
        .tempfile_in(parent)
        .map_err(not_writable)
}

fn write_output(
    mut pending: tempfile::NamedTempFile,
    output: &Path,
    manifest: &Manifest,
) -> Result<(), TraceError> {
    let not_writable = |source| TraceError::OutputNotWritable {
        path: output.to_owned(),
        source,
    };
    pending
        .write_all(manifest.to_json().as_bytes())
        .map_err(not_writable)?;
    pending
        .as_file()
        .set_permissions(std::os::unix::fs::PermissionsExt::from_mode(0o644))
        .map_err(not_writable)?;
    pending.persist(output).map_err(|e| not_writable(e.error))?;
    Ok(())
}

/// Runs the command; with an armed filter, under the system-call supervisor (whose
/// failure to start only costs the system-call records, never the run).
fn run_traced(
    prepared: &PreparedCommand,
    tracer_dir: &Path,
    records_dir: &Path,
    armed: Result<seccomp::Armed, String>,
    settings: seccomp::Settings,
    stdout_to_stderr: bool,
) -> Result<(ExitStatus, u32, Result<seccomp::Supervisor, String>), TraceError> {
    let mut pythonpath = tracer_dir.as_os_str().to_owned();
    if let Some(existing) = std::env::var_os("PYTHONPATH").filter(|v| !v.is_empty()) {
        pythonpath.push(":");
        pythonpath.push(existing);
    }
    let mut cmd = std::process::Command::new(&prepared.program);
    cmd.args(&prepared.args)
        .env("PYTHONPATH", pythonpath)
        .env("SHENZI_TRACE_DIR", records_dir);
    if let Some(arg0) = &prepared.arg0 {
        std::os::unix::process::CommandExt::arg0(&mut cmd, arg0);
    }
    if stdout_to_stderr {
        // A copy of shenzi's own stderr: the app writes where a terminal user sees it.
        let err = std::os::fd::AsFd::as_fd(&std::io::stderr())
            .try_clone_to_owned()
            .map_err(|source| TraceError::Spawn {
                program: prepared.program.clone(),
                source,
            })?;
        cmd.stdout(std::process::Stdio::from(err));
    }
    let supervisor = armed.and_then(|mut armed| {
        armed.prepare(&mut cmd);
        armed.start(settings)
    });
    let spawned = cmd.spawn();
    // The command holds the child's end of the listener socket: dropped here, so the
    // supervisor hears of a child that never sent the listener.
    drop(cmd);
    let mut child = spawned.map_err(|source| TraceError::Spawn {
        program: prepared.program.clone(),
        source,
    })?;
    let child_pid = child.id();
    // Ctrl-C reaches the whole foreground process group: the app handles it (or dies of
    // it) and shenzi stays to write the manifest, as `time` and shells do.
    let _guard = IgnoreInterrupts::new();
    let status = child.wait().map_err(|source| TraceError::Spawn {
        program: prepared.program.clone(),
        source,
    })?;
    Ok((status, child_pid, supervisor))
}

/// Waits until every traced process that marked itself live (`<pid>.live`) has written
/// its record or died, for at most [`DESCENDANT_GRACE`]; returns the pids still running.
fn wait_for_descendants(records_dir: &Path) -> Vec<u32> {
    let deadline = std::time::Instant::now() + DESCENDANT_GRACE;
    loop {
        let alive: Vec<u32> = std::fs::read_dir(records_dir)
            .into_iter()
            .flatten()
            .filter_map(Result::ok)
            .filter_map(|e| {
                let name = e.file_name();
                name.to_str()?.strip_suffix(".live")?.parse().ok()
            })
            .filter(|pid| process_alive(*pid))
            .collect();
        if alive.is_empty() || std::time::Instant::now() >= deadline {
            return alive;
        }
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
}

/// A process that exists and is not a zombie.
fn process_alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => stat
            .rsplit_once(") ")
            .is_some_and(|(_, rest)| !rest.starts_with('Z')),
        Err(_) => false,
    }
}

fn exit_code(status: ExitStatus) -> i32 {
    use std::os::unix::process::ExitStatusExt;
    status
        .code()
        .or_else(|| status.signal().map(|s| 128 + s))
        .unwrap_or(1)
}

fn read_records(dir: &Path) -> Result<Vec<ProcessRecord>, TraceError> {
    let scratch = |source| TraceError::Scratch {
        message: format!("cannot list `{}`", dir.display()),
        source,
    };
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(scratch)?
        .filter_map(Result::ok)
        .map(|e| e.path())
        // Dot files are records still being written by a process that did not finish.
        .filter(|p| {
            p.extension().is_some_and(|e| e == "json")
                && !p
                    .file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with('.'))
        })
        .collect();
    paths.sort();
    paths
        .into_iter()
        .map(|path| {
            let text = std::fs::read_to_string(&path).map_err(|e| TraceError::BadRecord {
                path: path.clone(),
                message: e.to_string(),
            })?;
            serde_json::from_str(&text).map_err(|e| TraceError::BadRecord {
                path: path.clone(),
                message: e.to_string(),
            })
        })
        .collect()
}

/// Ignores SIGINT and SIGQUIT in shenzi while it lives; restores them after.
struct IgnoreInterrupts {
    saved: [libc::sighandler_t; 2],
}

impl IgnoreInterrupts {
    fn new() -> Self {
        // SAFETY: `signal` with SIG_IGN installs no handler code; the previous
        // dispositions are restored on drop.
        unsafe {
            Self {
                saved: [
                    libc::signal(libc::SIGINT, libc::SIG_IGN),
                    libc::signal(libc::SIGQUIT, libc::SIG_IGN),
                ],
            }
        }
    }
}

impl Drop for IgnoreInterrupts {
    fn drop(&mut self) {
        // SAFETY: restores the dispositions `new` saved.
        unsafe {
            libc::signal(libc::SIGINT, self.saved[0]);
            libc::signal(libc::SIGQUIT, self.saved[1]);
        }
    }
}
