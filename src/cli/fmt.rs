use std::process::ExitCode;

use clap::Args;

use crate::layout;

/// Rewrite a layout in canonical form, comments kept.
///
/// With `--check`, writes nothing and exits 1 when the file is not canonical.
#[derive(Debug, Args)]
#[command(after_help = "Examples:\n  shenzi fmt my.shz\n  shenzi fmt --check layouts/*.shz")]
pub struct FmtArgs {
    /// The `.shz` files to format.
    #[arg(value_name = "LAYOUT", required = true)]
    layouts: Vec<String>,
    /// Only report files that are not canonical.
    #[arg(long)]
    check: bool,
}

pub fn run(args: FmtArgs) -> miette::Result<ExitCode> {
    let mut failed = false;
    for spec in &args.layouts {
        let source = layout::load(spec)?;
        let formatted = match layout::format(&source) {
            Ok(text) => text,
            Err(report) => {
                eprintln!("{:?}", miette::Report::new(report));
                failed = true;
                continue;
            }
        };
        if formatted == source.text {
            continue;
        }
        if args.check {
            eprintln!("shenzi: `{spec}` is not formatted; run `shenzi fmt {spec}`");
            failed = true;
        } else if layout::BUILTIN.iter().any(|(n, _)| n == spec) && !spec.ends_with(".shz") {
            eprintln!("shenzi: `{spec}` is a built-in layout; there is no file to rewrite");
            failed = true;
        } else {
            std::fs::write(spec, formatted).map_err(|err| {
                miette::miette!(
                    code = "shenzi::layout::unwritable",
                    "cannot write `{spec}`: {err}"
                )
            })?;
            eprintln!("shenzi: formatted `{spec}`");
        }
    }
    Ok(ExitCode::from(u8::from(failed)))
}
