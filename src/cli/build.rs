use std::ffi::OsString;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use crate::trace::{TraceRequest, trace};

/// Trace an app and write its dist in one step, with the built-in default layout.
///
/// `shenzi build -- app.py ARGS` runs `python3 app.py ARGS` under the tracer, then
/// applies the layout to what it used. The app must exit 0 for the dist to be written.
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  shenzi build -- app.py\n  shenzi build --python .venv/bin/python -o dist -- -m mypkg --help\n  shenzi build --layout minimal --manifest shenzi.json -- app.py"
)]
pub struct BuildArgs {
    /// The interpreter to run the app with.
    #[arg(long, value_name = "PY", default_value = "python3")]
    python: PathBuf,
    /// The dist folder to write.
    #[arg(short, long, default_value = "dist")]
    output: PathBuf,
    /// A `.shz` file, or a built-in layout's name.
    #[arg(long, default_value = "default")]
    layout: String,
    /// Keep the manifest here (by default it lives only while the build runs).
    #[arg(long, value_name = "PATH")]
    manifest: Option<PathBuf>,
    /// Replace the output when it is a previous shenzi dist (its unchanged, unpatched
    /// files are hard-linked into the new dist instead of copied).
    #[arg(long)]
    force: bool,
    /// Write the dist as one executable file, `OUTPUT/NAME` (the launcher's file name),
    /// that extracts itself into a cache on its first start (docs/onefile.md).
    #[arg(long)]
    onefile: bool,
    /// The patchelf to use (default: `patchelf` on `PATH`).
    #[arg(long, value_name = "PATH")]
    patchelf: Option<PathBuf>,
    /// The script and its arguments, or `-m MODULE` and its arguments.
    #[arg(last = true, required = true, value_name = "SCRIPT_OR_-m_MODULE")]
    app: Vec<OsString>,
}

pub fn run(args: BuildArgs) -> miette::Result<ExitCode> {
    // A named patchelf that does not work fails before the app runs.
    if let Some(explicit) = args.patchelf.as_deref() {
        crate::execute::Patchelf::find(Some(explicit))?;
    }
    let scratch = tempfile::Builder::new()
        .prefix("shenzi-build-")
        .tempdir()
        .map_err(|e| miette::miette!("cannot create a temporary folder: {e}"))?;
    let manifest = args
        .manifest
        .clone()
        .unwrap_or_else(|| scratch.path().join("shenzi.json"));
    let outcome = trace(&TraceRequest {
        python: Some(args.python.clone()),
        command: args.app.clone(),
        output: manifest.clone(),
        append: false,
        role: crate::trace::RunRole::Ship,
    })?;
    if outcome.exit_status != 0 {
        eprintln!(
            "shenzi: the app exited with status {}; no dist was written (the manifest is in `{}` if you kept it with `--manifest`)",
            outcome.exit_status,
            manifest.display()
        );
        return Ok(ExitCode::from(1));
    }
    eprintln!(
        "shenzi: traced {} process(es), {} modules, {} native objects",
        outcome.processes, outcome.modules, outcome.objects
    );
    super::apply::apply(
        &args.layout,
        &manifest,
        &args.output,
        args.force,
        args.patchelf.as_deref(),
        args.onefile,
    )
}
