use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Args;

use crate::binary::BinaryCache;
use crate::execute::{ApplyOptions, Patchelf, write_dist};
use crate::layout;
use crate::loader::SearchConfig;
use crate::manifest::read_manifest;
use crate::plan::{PlanInput, Planned, plan};

/// Write the dist a layout makes of a manifest.
///
/// Everything is checked first (layout, manifest, patchelf, the plan with every library
/// proven reachable); the dist is built beside its target and renamed into place.
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  shenzi apply default shenzi.json -o dist\n  shenzi apply layouts/flat.shz shenzi.json -o dist --force"
)]
pub struct ApplyArgs {
    /// A `.shz` file, or a built-in layout's name (`default`, `flat`, `farm-per-unit`, `minimal`).
    #[arg(value_name = "LAYOUT")]
    pub layout: String,
    /// A manifest written by `shenzi trace`.
    #[arg(value_name = "MANIFEST")]
    pub manifest: PathBuf,
    /// The dist folder to write.
    #[arg(short, long, default_value = "dist")]
    pub output: PathBuf,
    /// Replace the output when it is a previous shenzi dist.
    #[arg(long)]
    pub force: bool,
    /// The patchelf to use (default: `patchelf` on `PATH`).
    #[arg(long, value_name = "PATH")]
    pub patchelf: Option<PathBuf>,
}

/// Loads, checks and plans; prints warnings. `Err` carries the rendered failure.
pub fn planned(
    layout_spec: &str,
    manifest_path: &Path,
) -> miette::Result<Result<(Planned, layout::Source), ExitCode>> {
    let source = layout::load(layout_spec)?;
    let manifest = read_manifest(manifest_path).map_err(|e| *e)?;
    let checked = layout::check_with_manifest(&source, &manifest);
    let Some(layout) = checked.layout.filter(|_| checked.report.errors() == 0) else {
        eprintln!("{:?}", miette::Report::new(checked.report));
        eprintln!("shenzi: nothing was written");
        return Ok(Err(ExitCode::from(1)));
    };
    // A general layout has units a given app does not use; `shenzi check` says so, an
    // apply need not.
    let mut report = checked.report;
    report
        .diagnostics
        .retain(|d| d.code() != "shenzi::layout::kind_not_in_manifest");
    if !report.diagnostics.is_empty() {
        eprintln!("{:?}", miette::Report::new(report));
    }
    let cache = BinaryCache::new();
    let (host, cache_error) = SearchConfig::host();
    if let Some(err) = cache_error {
        eprintln!("shenzi: warning: cannot read `/etc/ld.so.cache` ({err}); resolving without it");
    }
    let planned = plan(&PlanInput {
        layout: &layout,
        source: &source,
        manifest: &manifest,
        cache: &cache,
        host: &host,
    });
    Ok(Ok((planned, source)))
}

/// `SOURCE_DATE_EPOCH`, or 1980-01-01 (the earliest time zip files can hold).
fn mtime() -> i64 {
    std::env::var("SOURCE_DATE_EPOCH")
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(315_532_800)
}

pub fn run(args: ApplyArgs) -> miette::Result<ExitCode> {
    // patchelf is checked before anything else is done, so a missing one costs nothing.
    let patcher = Patchelf::find(args.patchelf.as_deref())?;
    let (planned, _source) = match planned(&args.layout, &args.manifest)? {
        Ok(p) => p,
        Err(code) => return Ok(code),
    };
    let report = planned.report;
    if report.errors() > 0 {
        eprintln!("{:?}", miette::Report::new(report));
        eprintln!("shenzi: nothing was written");
        return Ok(ExitCode::from(1));
    }
    if !report.diagnostics.is_empty() {
        eprintln!("{:?}", miette::Report::new(report));
    }
    let summary = write_dist(
        &planned.plan,
        &ApplyOptions {
            target: args.output.clone(),
            force: args.force,
            patcher: &patcher,
            mtime: mtime(),
            progress: None,
            check: None,
        },
    )?;
    eprintln!(
        "shenzi: wrote `{}`: {} files, {} symlinks, {:.1} MB, {} binaries patched, in {:.2} s",
        args.output.display(),
        summary.files,
        summary.symlinks,
        summary.bytes as f64 / 1e6,
        summary.patched,
        summary.elapsed.as_secs_f64()
    );
    eprintln!("shenzi: {}", planned.floor);
    Ok(ExitCode::SUCCESS)
}
