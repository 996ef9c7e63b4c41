//! The command line: parses arguments, calls the phases, renders what they return.
//!
//! Exit codes: 0 success, 1 a failure the user can fix, 2 a usage error; `trace` passes
//! the traced program's own status through.

mod apply;
mod build;
mod cache;
mod check;
mod explain;
mod fmt;
mod init;
mod plan;
mod render;
mod roles;
mod trace;
mod verify;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Package a Python application, traced as it really runs, into a self-contained folder.
#[derive(Debug, Parser)]
#[command(name = "shenzi", version, about, propagate_version = true)]
pub struct Cli {
    /// Colour in diagnostics: `auto` on a terminal unless `NO_COLOR` is set (or when
    /// `CLICOLOR_FORCE` is set and not `0`), `always`, `never`.
    #[arg(long, global = true, value_enum, default_value_t = render::Color::Auto)]
    color: render::Color,
    /// Print only errors (no summaries, notes or warnings on stderr).
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    quiet: bool,
    /// Print more: what the plan does with each file (`apply`, `build`).
    #[arg(short, long, global = true)]
    verbose: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    Trace(trace::TraceArgs),
    Apply(apply::ApplyArgs),
    Build(build::BuildArgs),
    Init(init::InitArgs),
    Check(check::CheckArgs),
    Fmt(fmt::FmtArgs),
    Plan(plan::PlanArgs),
    Explain(explain::ExplainArgs),
    Verify(verify::VerifyArgs),
    Cache(cache::CacheArgs),
    Completions(CompletionsArgs),
}

/// Print a shell's completion script for shenzi.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  source <(shenzi completions bash)\n  shenzi completions zsh > ~/.zfunc/_shenzi\n  shenzi completions fish > ~/.config/fish/completions/shenzi.fish"
)]
struct CompletionsArgs {
    #[arg(value_enum)]
    shell: clap_complete::Shell,
}

/// Runs the command line and returns the process exit code.
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => {
            // clap prints help and version to stdout with code 0, usage errors with 2.
            let _ = err.print();
            return ExitCode::from(u8::try_from(err.exit_code()).unwrap_or(2));
        }
    };
    render::install(cli.color);
    render::set_verbosity(match (cli.quiet, cli.verbose) {
        (true, _) => render::Verbosity::Quiet,
        (_, true) => render::Verbosity::Verbose,
        _ => render::Verbosity::Normal,
    });
    let result = match cli.command {
        Command::Trace(args) => trace::run(args),
        Command::Apply(args) => apply::run(args),
        Command::Build(args) => build::run(args),
        Command::Init(args) => init::run(args),
        Command::Check(args) => check::run(args),
        Command::Fmt(args) => fmt::run(args),
        Command::Plan(args) => plan::run(args),
        Command::Explain(args) => explain::run(args),
        Command::Verify(args) => verify::run(args),
        Command::Cache(args) => cache::run(args),
        Command::Completions(args) => {
            use clap::CommandFactory;
            use std::io::Write;
            // Into memory first: the generator panics on a write error (a closed pipe).
            let mut script = Vec::new();
            clap_complete::generate(args.shell, &mut Cli::command(), "shenzi", &mut script);
            match std::io::stdout().write_all(&script) {
                Ok(()) => Ok(ExitCode::SUCCESS),
                Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(ExitCode::SUCCESS),
                Err(e) => Err(miette::miette!("cannot write the completion script: {e}")),
            }
        }
    };
    match result {
        Ok(code) => code,
        Err(report) => {
            eprintln!("{report:?}");
            ExitCode::from(1)
        }
    }
}
