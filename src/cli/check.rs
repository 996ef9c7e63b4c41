use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use crate::layout;
use crate::manifest::read_manifest;

/// Check a layout, and with a manifest everything that needs one; writes nothing.
///
/// Reports every diagnostic of the run. Exits 1 on any error; warnings fail only with
/// `--deny-warnings`.
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  shenzi check layouts/default.shz\n  shenzi check default shenzi.json\n  shenzi check my.shz shenzi.json --deny-warnings"
)]
pub struct CheckArgs {
    /// A `.shz` file, or a built-in layout's name (`default`, `flat`, `farm-per-unit`, `minimal`).
    #[arg(value_name = "LAYOUT")]
    layout: String,
    /// A manifest written by `shenzi trace`.
    #[arg(value_name = "MANIFEST")]
    manifest: Option<PathBuf>,
    /// Fail on warnings too.
    #[arg(long)]
    deny_warnings: bool,
}

pub fn run(args: CheckArgs) -> miette::Result<ExitCode> {
    let source = layout::load(&args.layout)?;
    let checked = match &args.manifest {
        Some(path) => {
            let manifest = read_manifest(path).map_err(|e| *e)?;
            layout::check_with_manifest(&source, &manifest)
        }
        None => layout::check(&source),
    };
    let report = checked.report;
    let failed = report.errors() > 0 || (args.deny_warnings && report.warnings() > 0);
    if report.diagnostics.is_empty() {
        eprintln!("shenzi: layout `{}` is fine", source.name);
    } else {
        eprintln!("{:?}", miette::Report::new(report));
    }
    Ok(ExitCode::from(u8::from(failed)))
}
