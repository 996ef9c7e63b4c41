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
}

/// Runs the command line and returns the process exit code.
pub fn main() -> ExitCode {
    render::install();
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => {
            // clap prints help and version to stdout with code 0, usage errors with 2.
            let _ = err.print();
            return ExitCode::from(u8::try_from(err.exit_code()).unwrap_or(2));
        }
    };
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
    };
    match result {
        Ok(code) => code,
        Err(report) => {
            eprintln!("{report:?}");
            ExitCode::from(1)
        }
    }
}
