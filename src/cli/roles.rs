//! What the runs of a manifest brought: the note on packages left out, and the table
//! `plan` shows when a manifest has a coverage run.

use super::render::say;
use std::fmt::Write as _;

use std::path::PathBuf;

use crate::manifest::roles::{Brought, LeftOut, Selection, Why};
use crate::manifest::{Run, RunRole};
use crate::plan::show::{AttributedPackage, AttributedRun, Attribution};
use crate::project::Project;

pub struct Roles {
    runs: Vec<Run>,
    brought: Vec<Brought>,
    left_out: Vec<LeftOut>,
}

impl Roles {
    pub fn of(project: &Project) -> Roles {
        Roles {
            runs: project.manifest.runs.clone(),
            brought: project.brought.clone(),
            left_out: project.left_out.clone(),
        }
    }

    fn command(&self, id: &str) -> String {
        self.runs
            .iter()
            .find(|r| r.id == id)
            .map_or_else(|| id.to_owned(), |r| r.command.join(" "))
    }

    /// One note per reason: the packages the plan does not see.
    pub fn print_left_out(&self) {
        let coverage: Vec<&LeftOut> = self
            .left_out
            .iter()
            .filter(|l| matches!(l.why, Why::CoverageOnly(_)))
            .collect();
        if !coverage.is_empty() {
            let mut runs: Vec<&str> = coverage
                .iter()
                .flat_map(|l| match &l.why {
                    Why::CoverageOnly(runs) => runs.iter().map(String::as_str).collect(),
                    Why::Excluded => Vec::new(),
                })
                .collect();
            runs.sort();
            runs.dedup();
            let runs: Vec<String> = runs
                .iter()
                .map(|r| format!("`{}`", self.command(r)))
                .collect();
            say!(
                "shenzi: note: not shipped, imported only by coverage runs ({}): {}; name them in `include` of shenzi.toml's `[modules]` to ship them",
                runs.join(", "),
                names(&coverage)
            );
        }
        let excluded: Vec<&LeftOut> = self
            .left_out
            .iter()
            .filter(|l| l.why == Why::Excluded)
            .collect();
        if !excluded.is_empty() {
            say!(
                "shenzi: note: not shipped, excluded by shenzi.toml's `[modules]`: {}",
                names(&excluded)
            );
        }
    }

    /// The roles of `runs`, each once, sorted.
    fn roles(&self, runs: &[String]) -> Vec<&'static str> {
        let mut roles: Vec<&'static str> = runs
            .iter()
            .filter_map(|id| self.runs.iter().find(|r| &r.id == id))
            .map(|r| r.role.name())
            .collect();
        roles.sort();
        roles.dedup();
        roles
    }

    fn left_out_of(&self, b: &Brought) -> Option<&'static str> {
        self.left_out
            .iter()
            .find(|l| l.top == b.top && l.folder == b.folder)
            .map(|l| match l.why {
                Why::CoverageOnly(_) => "coverage",
                Why::Excluded => "excluded",
            })
    }

    /// The runs and the packages they brought, for `plan --format json`.
    pub fn attribution(&self) -> Attribution {
        Attribution {
            runs: self
                .runs
                .iter()
                .map(|r| AttributedRun {
                    id: r.id.clone(),
                    role: r.role.name(),
                    command: r.command.join(" "),
                })
                .collect(),
            brought: self
                .brought
                .iter()
                .map(|b| AttributedPackage {
                    name: b.top.clone(),
                    folder: b.folder.display().to_string(),
                    runs: b.runs.clone(),
                    roles: self.roles(&b.runs),
                    left_out: self.left_out_of(b),
                })
                .collect(),
        }
    }

    /// The runs and, for each top-level package, the runs that imported it (with their
    /// roles); empty when there is one run that ships (nothing to tell apart).
    pub fn table(&self) -> String {
        if self.runs.len() < 2 && self.runs.iter().all(|r| r.role == RunRole::Ship) {
            return String::new();
        }
        let mut out = String::from("\nruns:\n");
        for run in &self.runs {
            let _ = writeln!(
                out,
                "  {:<8}  {}  {}",
                run.role.name(),
                run.id,
                run.command.join(" ")
            );
        }
        out.push_str("packages, by the runs that imported them:\n");
        let width = self.brought.iter().map(|b| b.top.len()).max().unwrap_or(0);
        for b in &self.brought {
            let left = self.left_out_of(b).map_or("", |why| match why {
                "coverage" => "  (left out: coverage only)",
                _ => "  (left out: excluded)",
            });
            let _ = writeln!(
                out,
                "  {:<width$}  {}{left}  runs {}  [{}]",
                b.top,
                self.roles(&b.runs).join(", "),
                b.runs.join(", "),
                b.folder.display()
            );
        }
        out
    }
}

/// `` `a`, `b` ``: each name once (a name may be in two site dirs).
fn names(left: &[&LeftOut]) -> String {
    let mut names: Vec<String> = left.iter().map(|l| format!("`{}`", l.top)).collect();
    names.dedup();
    names.join(", ")
}

/// `--project PATH` of `plan` and `explain`: the project file whose `[modules]` include and
/// exclude apply, as `build` applies them.
#[derive(Debug, Clone, clap::Args)]
pub struct ProjectArg {
    /// A `shenzi.toml` whose `[modules]` include and exclude apply, as in `build`.
    #[arg(long, value_name = "PATH")]
    pub project: Option<PathBuf>,
}

impl ProjectArg {
    pub fn selection(&self) -> miette::Result<Selection> {
        match &self.project {
            None => Ok(Selection::default()),
            Some(path) => Ok(crate::project_file::read(path)
                .map_err(|e| miette::Report::new(*e))?
                .selection),
        }
    }
}
