use std::process::ExitCode;

use super::render::say;
use clap::Args;

use crate::layout;

/// Rewrite a layout in canonical form, comments kept; a built-in layout's name prints
/// it, to read or copy.
///
/// With `--check`, writes nothing and exits 1 when the file is not canonical.
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  shenzi fmt my.shz\n  shenzi fmt --check layouts/*.shz\n  shenzi fmt minimal > my.shz"
)]
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
        let builtin = layout::BUILTIN.iter().any(|(n, _)| n == spec)
            && !spec.contains('/')
            && !spec.ends_with(".shz");
        // A built-in has no file to rewrite: its canonical text goes to stdout.
        if builtin && !args.check {
            print!("{formatted}");
            continue;
        }
        if formatted == source.text {
            continue;
        }
        if args.check {
            eprintln!("shenzi: `{spec}` is not formatted; run `shenzi fmt {spec}`");
            failed = true;
        } else {
            std::fs::write(spec, formatted).map_err(|err| {
                miette::miette!(
                    code = "shenzi::layout::unwritable",
                    "cannot write `{spec}`: {err}"
                )
            })?;
            say!("shenzi: formatted `{spec}`");
        }
    }
    Ok(ExitCode::from(u8::from(failed)))
}
