use super::render::say;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use crate::project_file::{self, FILE_NAME};

/// Write a commented `shenzi.toml` for the current folder (docs/project-file.md).
///
/// The entry is guessed from the folder's files: a package with `__main__.py` named
/// like the folder, a script named like the folder, `main.py`, `app.py`, or the one
/// script with a `__main__` block. Then `shenzi build` builds the app.
#[derive(Debug, Args)]
#[command(after_help = "Examples:\n  shenzi init && shenzi build")]
pub struct InitArgs {
    /// Replace an existing `shenzi.toml`.
    #[arg(long)]
    force: bool,
}

pub fn run(args: InitArgs) -> miette::Result<ExitCode> {
    let path = PathBuf::from(FILE_NAME);
    if path.exists() && !args.force {
        return Err(miette::miette!(
            code = "shenzi::init::exists",
            help = "edit it, or replace it with `shenzi init --force`",
            "`{FILE_NAME}` already exists here"
        ));
    }
    let Some(init) = project_file::init(&PathBuf::from(".")) else {
        return Err(miette::miette!(
            code = "shenzi::init::no_entry",
            help = "run `shenzi init` in the app's folder, or write `{FILE_NAME}` by hand (docs/project-file.md) with `script = \"...\"` or `module = \"...\"` in `[app]`",
            "cannot tell how the app in this folder starts: no `__main__.py` package, `main.py`, `app.py` or single script with a `__main__` block"
        ));
    };
    std::fs::write(&path, &init.text)
        .map_err(|e| miette::miette!("cannot write `{FILE_NAME}`: {e}"))?;
    say!(
        "shenzi: wrote `{FILE_NAME}` ({}); `shenzi build` builds the app",
        init.entry
    );
    Ok(ExitCode::SUCCESS)
}
