use super::render::say;
use std::ffi::OsString;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use crate::trace::{RunRole, SYSCALLS_VAR, TraceOutcome, TraceRequest, trace};

/// Run a Python program under the tracer and write the manifest of what it used.
///
/// The program's output and exit status pass through unchanged. Files opened and programs
/// started by native code and by every descendant are recorded at the system-call level
/// (a seccomp filter; `SHENZI_TRACE_SYSCALLS=0` turns it off).
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  shenzi trace -- python3 app.py --flag\n  shenzi trace -- python3 -m mypkg\n  shenzi trace --append --coverage -- python3 -m pytest tests/"
)]
pub struct TraceArgs {
    /// The interpreter to run COMMAND with (`PY COMMAND...`).
    #[arg(long, value_name = "PY")]
    python: Option<PathBuf>,
    /// Where to write the manifest.
    #[arg(short, long, default_value = "shenzi.json")]
    output: PathBuf,
    /// Merge this run into the manifest at `--output` (the app, then its test suite).
    #[arg(long)]
    append: bool,
    /// Record this run as a coverage run (a test suite): its run-time loads, native
    /// objects and the app's own modules ship, the packages only it imported (the test
    /// runner) do not. Needs `--append` and the app's manifest.
    #[arg(long, requires = "append")]
    coverage: bool,
    /// The app's name, `{app.name}` in layouts: the launcher's file name (default: the
    /// script's stem, the `-m` module's top-level package, the console script's name).
    #[arg(long, value_name = "NAME", value_parser = app_name, conflicts_with = "append")]
    name: Option<String>,
    /// The program and its arguments: `python app.py`, `python -m module`, or a console script.
    #[arg(last = true, required = true, value_name = "COMMAND")]
    command: Vec<OsString>,
}

pub fn run(args: TraceArgs) -> miette::Result<ExitCode> {
    let outcome = trace(&TraceRequest {
        python: args.python,
        command: args.command,
        output: args.output,
        append: args.append,
        name: args.name,
        role: if args.coverage {
            RunRole::Coverage
        } else {
            RunRole::Ship
        },
        stdout_to_stderr: false,
    })?;
    print_notes(&outcome);
    let native = match &outcome.syscalls {
        Ok(counts) => format!(
            ", {} native data files, {} programs",
            counts.native_data, counts.programs
        ),
        Err(_) => String::new(),
    };
    say!(
        "shenzi: wrote `{}`: {} process(es), {} modules, {} native objects{native}",
        outcome.output.display(),
        outcome.processes,
        outcome.modules,
        outcome.objects
    );
    Ok(ExitCode::from((outcome.exit_status & 0xff) as u8))
}

/// The trace's warnings and notes, one line each.
pub fn print_notes(outcome: &TraceOutcome) {
    if let Err(reason) = &outcome.syscalls {
        say!("shenzi: note: native opens and execs were not recorded ({reason})");
    }
    for program in &outcome.lost_privileges {
        say!(
            "shenzi: warning: `{}` is set-user-ID, set-group-ID or has file capabilities: under the trace it ran without them (`no_new_privs`); trace with `{SYSCALLS_VAR}=0` if the app needs them",
            program.display()
        );
    }
    for (pid, interpreter) in &outcome.foreign {
        say!(
            "shenzi: warning: process {pid} ran another interpreter (`{}`); its imports are not in the manifest",
            interpreter.display()
        );
    }
    if !outcome.still_running.is_empty() {
        say!(
            "shenzi: warning: traced processes {:?} were still running after the app ended; what they do next is not in the manifest",
            outcome.still_running
        );
    }
}

/// `--name`: one file name, the launcher's.
pub fn app_name(name: &str) -> Result<String, String> {
    match crate::manifest::is_app_name(name) {
        true => Ok(name.to_owned()),
        false => Err("a launcher's file name: no `/`, not empty, `.` or `..`".to_owned()),
    }
}
