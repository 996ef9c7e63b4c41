use super::render::say;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, ValueEnum};

use crate::verify::{DistCheck, verify_dist};

/// Check a dist statically: every ELF object finds every library it needs, from every
/// folder it can be opened from, inside the dist or among the system libraries its
/// policy trusts the target to provide; the interpreter finds its standard library;
/// the `sys.path` folders, the entry and the launcher exist. Reports the glibc floor.
///
/// Runs nothing from the dist. Exit status 1 when anything is wrong, with one
/// diagnostic per problem. A onefile is extracted to a temporary folder (with every check
/// its stub makes on a first start) and the dist inside it is verified.
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  shenzi verify dist\n  shenzi verify dist --format json > verify.json\n  shenzi apply default shenzi.json -o dist   # verifies too, unless --no-verify"
)]
pub struct VerifyArgs {
    /// The dist folder (`shenzi apply -o DIST`), or a onefile.
    #[arg(value_name = "DIST")]
    pub dist: PathBuf,
    /// `text`: a summary line and the glibc floor, or the diagnostics, on stderr;
    /// `json`: the document of docs/plan.md on stdout (the diagnostics still on stderr).
    #[arg(long, value_enum, default_value = "text")]
    pub format: Format,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Text,
    Json,
}

pub fn run(args: VerifyArgs) -> miette::Result<ExitCode> {
    let name = args.dist.display().to_string();
    // A file without a onefile trailer is refused as not a dist, as before.
    if args.dist.is_file() && crate::onefile::is_onefile(&args.dist) {
        let scratch = tempfile::Builder::new()
            .prefix("shenzi-verify-")
            .tempdir()
            .map_err(|e| miette::miette!("cannot create a temporary folder: {e}"))?;
        let into = scratch.path().join("dist");
        std::fs::create_dir(&into)
            .map_err(|e| miette::miette!("cannot create a temporary folder: {e}"))?;
        let trailer = crate::onefile::unpack(&args.dist, &into)?;
        say!(
            "shenzi: `{name}` is a onefile (payload {}, launcher `{}`); verifying the dist inside it",
            &trailer.key()[..16],
            trailer.launcher
        );
        let check = verify_dist(&into, &name)?;
        return Ok(report_as(check, args.format));
    }
    let check = verify_dist(&args.dist, &name)?;
    Ok(report_as(check, args.format))
}

/// [`report`], with the JSON document on stdout first when asked for.
pub fn report_as(check: DistCheck, format: Format) -> ExitCode {
    if format == Format::Json {
        print!("{}", crate::verify::json(&check));
    }
    report(check)
}

/// Prints a check's outcome to stderr; the exit code it calls for.
pub fn report(check: DistCheck) -> ExitCode {
    if let Some(err) = &check.cache_error {
        say!("shenzi: warning: cannot read `/etc/ld.so.cache` ({err}); resolved without it");
    }
    let summary = check.summary();
    let floor = check.floor.to_string();
    match check.into_report() {
        None => {
            say!("shenzi: {summary}");
            say!("shenzi: {floor}");
            ExitCode::SUCCESS
        }
        Some(report) => {
            eprintln!("{:?}", miette::Report::new(report));
            ExitCode::from(1)
        }
    }
}
