//! The pipeline as a library: a layout and a manifest in; a checked plan, a written dist
//! and its verification out. Each step returns typed values, its diagnostics among
//! them; nothing here prints or exits (the CLI renders what it gets).
//!
//! ```text
//! Project::open(layout, manifest) ─ check() ─► layout::Checked
//!                                 └ plan()  ─► ProjectPlan (Planned + warnings)
//! apply(&plan, options, verify)            ─► Applied (ApplySummary + DistCheck)
//! verify(dist, name)                       ─► DistCheck
//! ```

mod diagnostics;

use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};

pub use diagnostics::OpenError;

use crate::binary::BinaryCache;
use crate::execute::{ApplyError, ApplyOptions, ApplySummary, CheckFailure, write_dist};
use crate::layout::{self, LayoutReport, Source};
use crate::loader::{LdCacheError, SearchConfig};
use crate::manifest::roles::{self, Brought, LeftOut, Selection, Shipping};
use crate::manifest::{Manifest, read_manifest};
use crate::plan::{Plan, PlanInput, Planned, common_vars, plan};
use crate::verify::{DistCheck, VerifyError, verify_dist};

/// A layout and the manifest it is applied to.
#[derive(Debug)]
pub struct Project {
    pub source: Source,
    /// The manifest as planned: without what only coverage runs brought and what the
    /// selection excludes ([`roles::shipping`]).
    pub manifest: Manifest,
    /// The top-level packages taken out of the traced manifest, and why.
    pub left_out: Vec<LeftOut>,
    /// Every top-level package the traced runs imported, with the runs that did.
    pub brought: Vec<Brought>,
}

/// A plan, and what planning it has to say besides the plan's own report.
pub struct ProjectPlan {
    pub planned: Planned,
    /// The layout's warnings that concern this app; `None` when there are none.
    pub layout_warnings: Option<LayoutReport>,
    /// `/etc/ld.so.cache` could not be read: libraries were resolved without it.
    pub cache_error: Option<LdCacheError>,
    /// The layout's `output onefile`: `Some(Ok(None))` names no file (the launcher's
    /// name is used), `Some(Ok(Some(name)))` is its template rendered for this app.
    pub onefile: Option<Result<Option<String>, layout::RenderError>>,
}

impl Project {
    /// Loads the layout (a `.shz` path or a built-in name) and reads the manifest.
    pub fn open(layout: &str, manifest: &Path) -> Result<Project, OpenError> {
        Project::open_with(layout, manifest, &Selection::default())
    }

    /// [`Project::open`], with top-level packages included or excluded by name.
    pub fn open_with(
        layout: &str,
        manifest: &Path,
        selection: &Selection,
    ) -> Result<Project, OpenError> {
        let source = layout::load(layout)?;
        let traced = read_manifest(manifest)?;
        let brought = roles::brought_by(&traced);
        let Shipping { manifest, left_out } = roles::shipping(&traced, selection);
        Ok(Project {
            source,
            manifest,
            left_out,
            brought,
        })
    }

    /// The layout checked on its own and against the manifest: every diagnostic.
    pub fn check(&self) -> layout::Checked {
        layout::check_with_manifest(&self.source, &self.manifest)
    }

    /// Checks the layout against the manifest, then plans. `Err` is the layout's report
    /// when it has errors: nothing was planned. The plan's own problems are in
    /// [`Planned::report`].
    pub fn plan(&self) -> Result<ProjectPlan, LayoutReport> {
        let checked = self.check();
        if checked.has_errors() {
            return Err(checked.report);
        }
        let Some(layout) = checked.layout else {
            return Err(checked.report);
        };
        // A general layout has units a given app does not use; `shenzi check` says so,
        // a plan need not.
        let warnings = checked.report.for_apply();
        let cache = BinaryCache::new();
        let (host, cache_error) = SearchConfig::host();
        let onefile = match &layout.output.value {
            layout::Output::Folder => None,
            layout::Output::Onefile(None) => Some(Ok(None)),
            layout::Output::Onefile(Some(template)) => {
                Some(template.render(&common_vars(&self.manifest)).map(Some))
            }
        };
        let planned = plan(&PlanInput {
            layout: &layout,
            source: &self.source,
            manifest: &self.manifest,
            cache: &cache,
            host: &host,
        });
        Ok(ProjectPlan {
            planned,
            layout_warnings: (!warnings.diagnostics.is_empty()).then_some(warnings),
            cache_error,
            onefile,
        })
    }
}

/// What [`apply`] wrote, and the verification of it when one was asked for.
#[derive(Debug)]
pub struct Applied {
    pub summary: ApplySummary,
    /// The passed check of the built dist (run before it was renamed into place).
    pub verified: Option<DistCheck>,
}

/// Writes `plan` as `options` say. With `verify`, the finished folder is verified
/// before it is renamed into place, and a dist that fails is removed
/// ([`ApplyError::CheckFailed`]); `options.check` is replaced by that check.
pub fn apply(plan: &Plan, options: ApplyOptions<'_>, verify: bool) -> Result<Applied, ApplyError> {
    let name = options.target.display().to_string();
    apply_named(plan, options, verify, name)
}

/// [`apply`], with verify's messages calling the dist `name` (a onefile's dist is
/// written to a scratch folder, and is called by the onefile's path).
pub fn apply_named(
    plan: &Plan,
    options: ApplyOptions<'_>,
    verify: bool,
    name: String,
) -> Result<Applied, ApplyError> {
    // The check is a `'static` closure (`CheckFn`): it owns the name and a handle on
    // where it leaves the passed check.
    let passed: Arc<Mutex<Option<DistCheck>>> = Arc::default();
    let slot = passed.clone();
    let check = move |root: &Path| -> Result<(), CheckFailure> {
        let check = verify_dist(root, &name).map_err(|e| CheckFailure(Box::new(e)))?;
        if check.passed() {
            *slot.lock().unwrap_or_else(PoisonError::into_inner) = Some(check);
            return Ok(());
        }
        check
            .into_report()
            .map_or(Ok(()), |report| Err(CheckFailure(Box::new(report))))
    };
    let options = ApplyOptions {
        check: if verify { Some(&check) } else { None },
        ..options
    };
    let summary = write_dist(plan, &options)?;
    let verified = passed.lock().unwrap_or_else(PoisonError::into_inner).take();
    Ok(Applied { summary, verified })
}

/// Verifies a dist on disk; `name` is how messages call it.
pub fn verify(dist: &Path, name: &str) -> Result<DistCheck, VerifyError> {
    verify_dist(dist, name)
}
