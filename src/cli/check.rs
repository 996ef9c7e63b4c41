use super::render::say;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use miette::Severity;
use serde::Serialize;

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
    /// `text`: the diagnostics on stderr; `json`: also the document of docs/plan.md on
    /// stdout.
    #[arg(long, value_enum, default_value = "text")]
    format: super::verify::Format,
}

pub fn run(args: CheckArgs) -> miette::Result<ExitCode> {
    let Some(path) = &args.manifest else {
        let source = layout::load(&args.layout)?;
        let report = layout::check(&source).report;
        if args.format == super::verify::Format::Json {
            print!("{}", json(&source.name, &report, None));
        }
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
    if args.format == super::verify::Format::Json {
        print!("{}", json(&project.source.name, &report, planned.as_ref()));
    }
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
        say!("shenzi: layout `{name}` is fine");
    }
    // `-q`: a report of warnings only is not shown, unless they fail the check.
    let shown = |errors: usize| errors > 0 || deny || !super::render::quiet();
    if !report.diagnostics.is_empty() && shown(report.errors()) {
        eprintln!("{:?}", miette::Report::new(report));
    }
    if let Some(plan) = plan.filter(|p| shown(p.errors())) {
        eprintln!("{:?}", miette::Report::new(plan));
    }
    ExitCode::from(u8::from(errors > 0 || (deny && warnings > 0)))
}

/// Changes when the shape of `check --format json` does.
const CHECK_JSON_VERSION: u32 = 1;

#[derive(Serialize)]
struct JsonCheck<'a> {
    version: u32,
    layout: &'a str,
    errors: usize,
    warnings: usize,
    diagnostics: Vec<JsonDiagnostic>,
}

#[derive(Serialize)]
struct JsonDiagnostic {
    code: &'static str,
    severity: &'static str,
    message: String,
    /// Where in the layout file; absent for the planner's (they are about the manifest).
    #[serde(skip_serializing_if = "Option::is_none")]
    span: Option<JsonSpan>,
}

#[derive(Serialize)]
struct JsonSpan {
    /// Byte offsets into the file, `end` exclusive.
    start: usize,
    end: usize,
    /// 1-based; the column counts bytes from the line's start.
    line: usize,
    column: usize,
    label: String,
}

fn severity(s: Severity) -> &'static str {
    match s {
        Severity::Error => "error",
        Severity::Warning | Severity::Advice => "warning",
    }
}

/// The layout's diagnostics, then the planner's, as stable JSON (docs/plan.md).
fn json(name: &str, report: &LayoutReport, plan: Option<&PlanReport>) -> String {
    let text = report.src.inner();
    let mut diagnostics: Vec<JsonDiagnostic> = report
        .diagnostics
        .iter()
        .map(|d| {
            let before = &text[..d.span.start.min(text.len())];
            let line_start = before
                .iter()
                .rposition(|&b| b == b'\n')
                .map_or(0, |i| i + 1);
            JsonDiagnostic {
                code: d.code(),
                severity: severity(d.severity()),
                message: d.message(),
                span: Some(JsonSpan {
                    start: d.span.start,
                    end: d.span.end,
                    line: before.iter().filter(|&&b| b == b'\n').count() + 1,
                    column: before.len() - line_start + 1,
                    label: d.label(),
                }),
            }
        })
        .collect();
    if let Some(plan) = plan {
        diagnostics.extend(plan.diagnostics.iter().map(|d| JsonDiagnostic {
            code: d.problem.code(),
            severity: d.problem.severity_name(),
            message: d.to_string(),
            span: None,
        }));
    }
    let doc = JsonCheck {
        version: CHECK_JSON_VERSION,
        layout: name,
        errors: diagnostics.iter().filter(|d| d.severity == "error").count(),
        warnings: diagnostics
            .iter()
            .filter(|d| d.severity == "warning")
            .count(),
        diagnostics,
    };
    // Plain strings and numbers: serializing cannot fail.
    let mut out = serde_json::to_string_pretty(&doc).unwrap_or_default();
    out.push('\n');
    out
}
