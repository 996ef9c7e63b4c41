use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, ValueEnum};

use super::apply::planned_with;
use crate::plan::show;

/// Show what `apply` would write, without writing anything.
///
/// A plan with errors shows all of them (and the tree of what could be planned).
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  shenzi plan default shenzi.json\n  shenzi plan default shenzi.json --format json > plan.json\n  shenzi plan default shenzi.json --format dot | dot -Tsvg > farm.svg"
)]
pub struct PlanArgs {
    /// A `.shz` file, or a built-in layout's name (`default`, `flat`, `farm-per-unit`, `minimal`).
    #[arg(value_name = "LAYOUT")]
    layout: String,
    /// A manifest written by `shenzi trace`.
    #[arg(value_name = "MANIFEST")]
    manifest: PathBuf,
    /// `tree`: paths with sizes and totals; `json`: the stable JSON of docs/plan.md;
    /// `dot`: the farm graph for Graphviz.
    #[arg(long, value_enum, default_value = "tree")]
    format: Format,
    #[command(flatten)]
    project: super::roles::ProjectArg,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Format {
    Tree,
    Json,
    Dot,
}

pub fn run(args: PlanArgs) -> miette::Result<ExitCode> {
    let (planned, roles) =
        match planned_with(&args.layout, &args.manifest, &args.project.selection()?)? {
            Ok(p) => (p.planned, p.roles),
            Err(code) => return Ok(code),
        };
    let text = match args.format {
        Format::Tree => show::tree(&planned, "dist") + &roles.table(),
        Format::Json => show::json(&planned, &roles.attribution()),
        Format::Dot => show::dot(&planned),
    };
    print!("{text}");
    let failed = planned.report.errors() > 0;
    if !planned.report.diagnostics.is_empty() && (failed || !super::render::quiet()) {
        eprintln!("{:?}", miette::Report::new(planned.report));
    }
    Ok(ExitCode::from(u8::from(failed)))
}
