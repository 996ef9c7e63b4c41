use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use crate::layout::{self, LayoutReport};
use crate::plan::PlanReport;
use crate::project::Project;

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
    let Some(path) = &args.manifest else {
        let source = layout::load(&args.layout)?;
        let report = layout::check(&source).report;
        return Ok(finish(&source.name, report, None, args.deny_warnings));
    };
    let project = Project::open(&args.layout, path)?;
    let report = project.check().report;
    // With a manifest, the planner's checks too (a stdlib the interpreter would not find,
    // libraries no unit takes, conflicts): what `plan` would refuse, `check` refuses.
    let planned = match report.errors() {
        0 => project.plan().ok().map(|p| p.planned.report),
        _ => None,
    };
    Ok(finish(
        &project.source.name,
        report,
        planned,
        args.deny_warnings,
    ))
}

/// Prints the reports; the exit code.
fn finish(name: &str, report: LayoutReport, plan: Option<PlanReport>, deny: bool) -> ExitCode {
    let plan = plan.filter(|p| !p.diagnostics.is_empty());
    let (plan_errors, plan_warnings) = plan.as_ref().map_or((0, 0), |p| (p.errors(), p.warnings()));
    let errors = report.errors() + plan_errors;
    let warnings = report.warnings() + plan_warnings;
    if report.diagnostics.is_empty() && plan.is_none() {
        eprintln!("shenzi: layout `{name}` is fine");
    }
    if !report.diagnostics.is_empty() {
        eprintln!("{:?}", miette::Report::new(report));
    }
    if let Some(plan) = plan {
        eprintln!("{:?}", miette::Report::new(plan));
    }
    ExitCode::from(u8::from(errors > 0 || (deny && warnings > 0)))
}
