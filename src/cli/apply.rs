use super::render::say;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Args;

use crate::execute::{self, ApplyError, ApplyOptions, Notice, Patchelf, Patcher, StaleFolder};
use crate::manifest::roles::Selection;
use crate::onefile::{self, OnefileError};
use crate::plan::{Content, Planned};
use crate::project::{self, Applied, Project, ProjectPlan};

/// Write the dist a layout makes of a manifest.
///
/// Everything is checked first (layout, manifest, patchelf, the plan with every library
/// proven reachable); the dist is built beside its target and renamed into place.
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  shenzi apply default shenzi.json -o dist\n  shenzi apply layouts/flat.shz shenzi.json -o dist --force"
)]
pub struct ApplyArgs {
    /// A `.shz` file, or a built-in layout's name (`default`, `flat`, `farm-per-unit`, `minimal`).
    #[arg(value_name = "LAYOUT")]
    pub layout: String,
    /// A manifest written by `shenzi trace`.
    #[arg(value_name = "MANIFEST")]
    pub manifest: PathBuf,
    /// The dist folder to write.
    #[arg(short, long, default_value = "dist")]
    pub output: PathBuf,
    /// Replace the output when it is a previous shenzi dist whose record checks out and
    /// that holds only what shenzi wrote (its unchanged, unpatched files are hard-linked
    /// into the new dist instead of copied).
    #[arg(long)]
    pub force: bool,
    /// With `--force`: replace the dist even when files were added to it or changed in
    /// it since shenzi wrote it; they are deleted with it (and listed).
    #[arg(long, requires = "force")]
    pub discard_changes: bool,
    /// The patchelf to use for binaries shenzi does not edit itself (default: `patchelf`
    /// on `PATH`).
    #[arg(long, value_name = "PATH")]
    pub patchelf: Option<PathBuf>,
    /// Who writes RUNPATH and needs: `shenzi` (in process; patchelf only for what it
    /// declines) or `patchelf` (every binary, one process each: slower; a cross-check).
    #[arg(long, value_enum, default_value_t = ElfWriter::Shenzi)]
    pub elf_writer: ElfWriter,
    /// Skip `shenzi verify` on the built dist (by default a dist that fails it is
    /// removed and nothing is written).
    #[arg(long)]
    pub no_verify: bool,
    /// Write the dist as one executable file, `OUTPUT/NAME` (NAME: the layout's `output
    /// onefile "NAME"`, or the launcher's file name), whatever the layout's `output` says.
    #[arg(long)]
    pub onefile: bool,
    /// `text`: the summary on stderr; `json`: also the summary as the document of
    /// docs/plan.md on stdout.
    #[arg(long, value_enum, default_value = "text")]
    pub format: super::verify::Format,
    /// With `--force`: list every file written again, with the first reason it could not
    /// be reused from the previous dist.
    #[arg(long)]
    pub explain_rebuild: bool,
}

/// A plan, and the onefile's name when the layout asks for `output onefile` (its
/// template rendered; `None` inside when it names none).
pub struct Prepared {
    pub planned: Planned,
    pub onefile: Option<Option<String>>,
    /// The runs, and the packages they brought and left out.
    pub roles: super::roles::Roles,
}

/// Loads, checks and plans through [`Project`], with the project file's packages
/// included and excluded; prints the layout's warnings. `Err` carries the exit code of
/// a failure already shown.
pub fn planned_with(
    layout_spec: &str,
    manifest_path: &Path,
    selection: &Selection,
) -> miette::Result<Result<Prepared, ExitCode>> {
    let project = Project::open_with(layout_spec, manifest_path, selection)?;
    let roles = super::roles::Roles::of(&project);
    roles.print_left_out();
    let ProjectPlan {
        planned,
        layout_warnings,
        cache_error,
        onefile,
    } = match project.plan() {
        Ok(planned) => planned,
        Err(report) => {
            eprintln!("{:?}", miette::Report::new(report));
            eprintln!("shenzi: nothing was written");
            return Ok(Err(ExitCode::from(1)));
        }
    };
    if let Some(warnings) = layout_warnings {
        say!("{:?}", miette::Report::new(warnings));
    }
    if let Some(err) = cache_error {
        say!("shenzi: warning: cannot read `/etc/ld.so.cache` ({err}); resolving without it");
    }
    let onefile = match onefile {
        None => None,
        Some(Ok(name)) => Some(name),
        Some(Err(err)) => {
            return Err(miette::miette!(
                help = "name the onefile with a literal, or with variables every app has",
                "cannot name the onefile for this app: {err}"
            ));
        }
    };
    Ok(Ok(Prepared {
        planned,
        onefile,
        roles,
    }))
}

/// `SOURCE_DATE_EPOCH`, or 1980-01-01 (the earliest time zip files can hold).
fn mtime() -> i64 {
    std::env::var("SOURCE_DATE_EPOCH")
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(315_532_800)
}

pub fn run(args: ApplyArgs) -> miette::Result<ExitCode> {
    apply_with(
        &args.layout,
        &args.manifest,
        &args.output,
        Replace {
            force: args.force,
            discard_changes: args.discard_changes,
        },
        args.patchelf.as_deref(),
        args.elf_writer,
        Finish {
            verify: !args.no_verify,
            onefile: args.onefile,
            selection: Selection::default(),
            json: args.format == super::verify::Format::Json,
            explain_rebuild: args.explain_rebuild,
        },
    )
}

/// Whether an apply may replace a previous dist, and one the user changed.
#[derive(Debug, Clone, Copy, Default)]
pub struct Replace {
    pub force: bool,
    pub discard_changes: bool,
}

/// What happens to the written dist.
#[derive(Debug, Clone)]
pub struct Finish {
    /// `shenzi verify` before it is moved into place.
    pub verify: bool,
    /// Packed into a onefile whatever the layout's `output` says.
    pub onefile: bool,
    /// Top-level packages included or excluded by the project file.
    pub selection: Selection,
    /// The summary as JSON on stdout too.
    pub json: bool,
    /// List each file re-apply wrote again, with its reason.
    pub explain_rebuild: bool,
}

/// Who writes ELF edits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ElfWriter {
    Shenzi,
    Patchelf,
}

/// Plans and writes a dist, with `shenzi verify` of the built dist (before it is renamed
/// into place) or without; shared by `apply` and `build`.
pub fn apply_with(
    layout: &str,
    manifest: &Path,
    output: &Path,
    replace: Replace,
    patchelf: Option<&Path>,
    writer: ElfWriter,
    finish: Finish,
) -> miette::Result<ExitCode> {
    let Finish {
        verify,
        onefile,
        selection,
        json,
        explain_rebuild,
    } = finish;
    // A named patchelf must work; otherwise one on `PATH` is used for the binaries shenzi
    // does not edit itself, and its absence is an error only when there is such a binary
    // (found before anything is written).
    let patcher = match (patchelf, writer) {
        (Some(explicit), _) => Some(Patchelf::find(Some(explicit))?),
        (None, ElfWriter::Patchelf) => Some(Patchelf::find(None)?),
        (None, ElfWriter::Shenzi) => Patchelf::find(None).ok(),
    };
    let Prepared {
        planned,
        onefile: layout_onefile,
        ..
    } = match planned_with(layout, manifest, &selection)? {
        Ok(p) => p,
        Err(code) => return Ok(code),
    };
    // A onefile: the dist is written to a scratch folder inside OUTPUT, packed into
    // OUTPUT/NAME, and removed.
    let onefile = match (layout_onefile, onefile) {
        (Some(name), _) => Some(name),
        (None, true) => Some(None),
        (None, false) => None,
    }
    .map(|name| {
        name.unwrap_or_else(|| {
            let launcher = &planned.plan.record.launcher;
            launcher.rsplit('/').next().unwrap_or(launcher).to_owned()
        })
    });
    let onefile_scratch = match &onefile {
        Some(file) => {
            let (scratch, stale) = onefile_scratch(output, file)?;
            if !stale.is_empty() {
                say!("{}", notice_line(&Notice::RemovedStale(stale)));
            }
            Some(scratch)
        }
        None => None,
    };
    let dist_target = match &onefile_scratch {
        Some(scratch) => scratch.path().join("dist"),
        None => output.to_owned(),
    };
    let folder = output;
    let output = dist_target.as_path();
    // Verify's messages call the dist by what the user asked for.
    let name = match &onefile {
        Some(file) => folder.join(file).display().to_string(),
        None => output.display().to_string(),
    };
    // Where the bytes are, told after the dist is written.
    let sizes = size_lines(&planned);
    let report = planned.report;
    if report.errors() > 0 {
        eprintln!("{:?}", miette::Report::new(report));
        eprintln!("shenzi: nothing was written");
        return Ok(ExitCode::from(1));
    }
    if !report.diagnostics.is_empty() {
        say!("{:?}", miette::Report::new(report));
    }
    if super::render::verbose() {
        for line in decisions(&planned.plan) {
            eprintln!("shenzi: {line}");
        }
    }
    let bar = progress_bar();
    let progress = |done: u64, total: u64| {
        if let Some(bar) = &bar {
            bar.set_length(total);
            bar.set_position(done);
        }
    };
    let notice = |notice: Notice| {
        let line = notice_line(&notice);
        match &bar {
            Some(bar) => bar.suspend(|| say!("{line}")),
            None => say!("{line}"),
        }
    };
    let applied = project::apply_named(
        &planned.plan,
        ApplyOptions {
            target: output.to_owned(),
            force: replace.force,
            discard_changes: replace.discard_changes,
            notice: Some(&notice),
            patcher: patcher.as_ref().map(|p| p as &dyn Patcher),
            native_edits: writer == ElfWriter::Shenzi,
            mtime: mtime(),
            progress: Some(&progress),
            check: None,
        },
        verify,
        name,
    );
    if let Some(bar) = &bar {
        bar.finish_and_clear();
    }
    if let Err(ApplyError::CheckFailed(_)) = &applied {
        eprintln!(
            "shenzi: the built dist failed `shenzi verify` and was removed; nothing was written"
        );
    }
    let Applied { summary, verified } = applied?;
    if let Some(file) = &onefile {
        let path = folder.join(file);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|source| OnefileError::Write {
                path: path.clone(),
                source,
            })?;
        }
        let packed = onefile::pack(
            output,
            &planned.plan.record.launcher,
            &path,
            replace.force,
            onefile::level_from_env(),
        )?;
        say!(
            "shenzi: wrote the onefile `{}`: {} ({} files, {} unpacked), extracted on its first start into `{}/{}`",
            path.display(),
            megabytes(packed.bytes),
            grouped(packed.files),
            megabytes(packed.dist_bytes),
            onefile::cache_roots()
                .first()
                .map_or_else(|| "the cache".to_owned(), |r| r.display().to_string()),
            &packed.key[..16],
        );
    }
    let libraries = planned
        .plan
        .entries
        .iter()
        .filter(|e| matches!(&e.content, Content::Copy { edits: Some(_), .. }))
        .count();
    let by_patchelf = match summary.patched_by_patchelf {
        0 => String::new(),
        n => format!(", {n} by `patchelf`"),
    };
    let reused = if summary.reused > 0 {
        format!(
            ", {} files reused from the previous dist",
            grouped(summary.reused)
        )
    } else {
        String::new()
    };
    let stripped = if summary.stripped > 0 {
        format!(
            ", {} stripped ({} saved)",
            grouped(summary.stripped),
            megabytes(summary.stripped_bytes)
        )
    } else {
        String::new()
    };
    let output_name = output.display().to_string();
    let what = if onefile.is_some() {
        "the dist".to_owned()
    } else {
        format!("`{}`", output.display())
    };
    if summary.unchanged {
        say!(
            "shenzi: {what} is up to date: nothing changed since it was written ({} files, {} symlinks, {} all reused; nothing written, not verified again), in {:.2} s",
            summary.files,
            summary.symlinks,
            megabytes(summary.bytes),
            summary.elapsed.as_secs_f64()
        );
    } else {
        say!(
            "shenzi: wrote {what}: {} files, {} symlinks, {}, {} binaries ({} patched{by_patchelf}{stripped}){reused}, in {:.2} s",
            summary.files,
            summary.symlinks,
            megabytes(summary.bytes),
            libraries,
            summary.patched,
            summary.elapsed.as_secs_f64()
        );
    }
    if replace.force && !summary.unchanged {
        say!("shenzi: {}", rebuild_line(&summary));
    }
    if explain_rebuild {
        for redone in &summary.redone {
            say!("shenzi: redone `{}`: {}", redone.path, redone.reason);
        }
    }
    if !summary.discarded.is_empty() {
        const SHOWN: usize = 10;
        let mut shown: Vec<String> = summary
            .discarded
            .iter()
            .take(SHOWN)
            .map(ToString::to_string)
            .collect();
        if summary.discarded.len() > SHOWN {
            shown.push(format!("and {} more", summary.discarded.len() - SHOWN));
        }
        say!(
            "shenzi: deleted {} you added to or changed in the previous dist (`--discard-changes`): {}",
            count(summary.discarded.len() as u64, "path"),
            shown.join(", ")
        );
    }
    if let Some(kept) = &summary.kept {
        say!(
            "shenzi: warning: paths appeared in the previous dist while it was being replaced; what is left of it is in `{}`",
            kept.display()
        );
    }
    if json {
        let doc = JsonSummary {
            version: APPLY_JSON_VERSION,
            output: output_name.clone(),
            onefile: onefile
                .as_ref()
                .map(|f| folder.join(f).display().to_string()),
            layout: &planned.plan.record.layout,
            files: summary.files,
            dirs: summary.dirs,
            symlinks: summary.symlinks,
            bytes: summary.bytes,
            binaries: libraries,
            patched: summary.patched,
            patched_by_patchelf: summary.patched_by_patchelf,
            stripped: summary.stripped,
            stripped_bytes: summary.stripped_bytes,
            reused: summary.reused,
            unchanged: summary.unchanged,
            redone: summary
                .redone
                .iter()
                .map(|r| JsonRedone {
                    path: &r.path,
                    reason: &r.reason,
                })
                .collect(),
            removed: summary.removed,
            discarded: summary.discarded.iter().map(ToString::to_string).collect(),
            kept: summary.kept.as_ref().map(|k| k.display().to_string()),
            units: &planned.by_unit,
            packages: &planned.by_package,
            libraries: &planned.by_library,
            largest: &planned.largest,
            glibc_floor: planned.floor.glibc.as_ref().map(|g| g.name.clone()),
            verified: verified.as_ref().map(crate::verify::json_value),
        };
        // Plain strings, numbers and vectors: serializing cannot fail.
        println!("{}", serde_json::to_string_pretty(&doc).unwrap_or_default());
    }
    match verified {
        Some(check) => {
            say!("shenzi: {}", check.summary());
            say!("shenzi: {}", check.floor);
        }
        None => say!("shenzi: {}", planned.floor),
    }
    for line in carried_lines(&planned.carried) {
        say!("shenzi: {line}");
    }
    for line in sizes {
        say!("shenzi: {line}");
    }
    Ok(ExitCode::SUCCESS)
}

/// Changes when the shape of `apply --format json` does.
const APPLY_JSON_VERSION: u32 = 2;

/// `apply --format json` (docs/plan.md). No timings: the same inputs, the same bytes.
#[derive(serde::Serialize)]
struct JsonSummary<'a> {
    version: u32,
    output: String,
    onefile: Option<String>,
    layout: &'a str,
    files: u64,
    dirs: u64,
    symlinks: u64,
    bytes: u64,
    binaries: usize,
    patched: u64,
    patched_by_patchelf: u64,
    stripped: u64,
    stripped_bytes: u64,
    reused: u64,
    unchanged: bool,
    redone: Vec<JsonRedone<'a>>,
    removed: u64,
    discarded: Vec<String>,
    kept: Option<String>,
    units: &'a [crate::plan::Total],
    packages: &'a [crate::plan::Total],
    libraries: &'a [crate::plan::Total],
    largest: &'a [crate::plan::Largest],
    glibc_floor: Option<String>,
    verified: Option<serde_json::Value>,
}

/// A file re-apply wrote again, in `apply --format json`.
#[derive(serde::Serialize)]
struct JsonRedone<'a> {
    path: &'a str,
    reason: &'a str,
}

/// Re-apply's line: how much was reused and redone, and the commonest reasons.
fn rebuild_line(summary: &execute::ApplySummary) -> String {
    let mut reasons: Vec<(&str, u64)> = Vec::new();
    for r in &summary.redone {
        match reasons.iter_mut().find(|(why, _)| *why == r.reason) {
            Some((_, n)) => *n += 1,
            None => reasons.push((&r.reason, 1)),
        }
    }
    reasons.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    let why: Vec<String> = reasons
        .iter()
        .take(3)
        .map(|(why, n)| format!("{n}: {why}"))
        .collect();
    let why = if why.is_empty() {
        String::new()
    } else {
        format!(" ({}; `--explain-rebuild` lists them)", why.join("; "))
    };
    format!(
        "re-apply: {} reused from the previous dist, {} redone{why}, {} removed",
        count(summary.reused, "file"),
        count(summary.redone.len() as u64, "path"),
        count(summary.removed, "path"),
    )
}

/// Where the bytes are: the units that write anything (in layout order), the five
/// largest packages and libraries, the ten largest files. Sizes are the sources'.
pub fn size_lines(planned: &crate::plan::Planned) -> Vec<String> {
    const SHOWN: usize = 5;
    let totals = |totals: &[crate::plan::Total], shown: usize| -> String {
        totals
            .iter()
            .filter(|t| t.files > 0)
            .take(shown)
            .map(|t| {
                format!(
                    "{} {} ({})",
                    t.name,
                    megabytes(t.bytes),
                    count(t.files, "file")
                )
            })
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut lines = vec![format!("by unit: {}", totals(&planned.by_unit, usize::MAX))];
    if !planned.by_package.is_empty() {
        lines.push(format!(
            "largest packages: {}",
            totals(&planned.by_package, SHOWN)
        ));
    }
    if !planned.by_library.is_empty() {
        lines.push(format!(
            "largest libraries: {}",
            totals(&planned.by_library, SHOWN)
        ));
    }
    if !planned.largest.is_empty() {
        let files: Vec<String> = planned
            .largest
            .iter()
            .map(|f| format!("`{}` {}", f.path, megabytes(f.bytes)))
            .collect();
        lines.push(format!("largest files: {}", files.join(", ")));
    }
    lines
}

/// What the trace saw that the dist carries, and what it leaves to the target: one line
/// each for programs bundled, programs left, native data shipped and native data left.
pub fn carried_lines(carried: &crate::plan::Carried) -> Vec<String> {
    const SHOWN: usize = 8;
    fn listed(items: Vec<String>) -> String {
        let more = items.len().saturating_sub(SHOWN);
        let mut shown: Vec<String> = items.into_iter().take(SHOWN).collect();
        if more > 0 {
            shown.push(format!("and {more} more"));
        }
        shown.join(", ")
    }
    let mut lines = Vec::new();
    if !carried.programs.is_empty() {
        let items = carried
            .programs
            .iter()
            .map(|p| match &p.interpreter {
                Some(line) => format!("`{}` (a script for `{line}`)", p.dest),
                None => format!("`{}`", p.dest),
            })
            .collect();
        lines.push(format!(
            "programs bundled, first on the app's `PATH`: {}",
            listed(items)
        ));
    }
    if !carried.programs_left.is_empty() {
        let items = carried
            .programs_left
            .iter()
            .map(|p| format!("`{}` ({})", p.name, p.why))
            .collect();
        lines.push(format!("programs left to the target: {}", listed(items)));
    }
    if carried.data_shipped > 0 {
        let env = if carried.env.is_empty() {
            String::new()
        } else {
            let names: Vec<String> = carried.env.iter().map(|n| format!("`{n}`")).collect();
            format!("; the launcher points {} at it", names.join(", "))
        };
        lines.push(format!(
            "native data shipped: {}{env}",
            count(carried.data_shipped as u64, "file")
        ));
    }
    let (named, fixed): (Vec<_>, Vec<_>) = carried.data_left.iter().partition(|d| d.named);
    if carried.data_trusted > 0 || !carried.data_left.is_empty() {
        let mut parts = Vec::new();
        if carried.data_trusted > 0 {
            parts.push(format!(
                "{} the system policy trusts the target with",
                count(carried.data_trusted as u64, "file")
            ));
        }
        if !named.is_empty() {
            parts.push(format!(
                "{} no unit takes (`native.data`): {}",
                count(named.len() as u64, "file"),
                listed(
                    named
                        .iter()
                        .map(|d| format!("`{}`", d.path.display()))
                        .collect()
                )
            ));
        }
        lines.push(format!(
            "native data left to the target: {}",
            parts.join("; ")
        ));
        if !fixed.is_empty() {
            lines.push(format!(
                "warning: native code opened {} by a path compiled in or computed, which no environment variable names: the dist cannot re-point it, so the target must have it: {}",
                count(fixed.len() as u64, "file"),
                listed(
                    fixed
                        .iter()
                        .map(|d| format!("`{}`", d.path.display()))
                        .collect()
                )
            ));
        }
    }
    lines
}

/// One line for what an apply tells as it happens.
fn notice_line(notice: &Notice) -> String {
    match notice {
        Notice::Waiting { folder } => format!(
            "shenzi: waiting for another `shenzi apply` writing in `{}` to finish (one apply at a time per folder)",
            folder.display()
        ),
        Notice::NoLock { folder, error } => format!(
            "shenzi: warning: cannot lock `{}` ({error}); an apply running there at the same time is not kept out",
            folder.display()
        ),
        Notice::RemovedStale(stale) => {
            let name = |s: &StaleFolder| {
                s.path.file_name().map_or_else(
                    || s.path.display().to_string(),
                    |n| n.to_string_lossy().into_owned(),
                )
            };
            let removed: Vec<&StaleFolder> = stale.iter().filter(|s| s.error.is_none()).collect();
            let mut parts = Vec::new();
            if !removed.is_empty() {
                let by = if removed.len() == 1 {
                    "a killed apply"
                } else {
                    "killed applies"
                };
                parts.push(format!(
                    "removed {} left by {by} ({}): {}",
                    count(removed.len() as u64, "scratch folder"),
                    megabytes(removed.iter().map(|s| s.bytes).sum()),
                    removed
                        .iter()
                        .map(|s| format!("`{}`", name(s)))
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
            }
            for failed in stale.iter().filter(|s| s.error.is_some()) {
                parts.push(format!(
                    "cannot remove `{}`, left by a killed apply ({})",
                    name(failed),
                    failed.error.as_deref().unwrap_or_default()
                ));
            }
            format!("shenzi: {}", parts.join("; "))
        }
    }
}

/// `n` and the noun, plural when it is.
fn count(n: u64, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{} {noun}s", grouped(n))
    }
}

/// `3700` as `3,700`.
fn grouped(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn megabytes(bytes: u64) -> String {
    format!("{:.1} MB", bytes as f64 / 1e6)
}

/// A bar on a terminal; nothing otherwise (logs and pipes stay clean).
fn progress_bar() -> Option<indicatif::ProgressBar> {
    use std::io::IsTerminal;
    if !std::io::stderr().is_terminal() || super::render::quiet() {
        return None;
    }
    let bar = indicatif::ProgressBar::new(0);
    if let Ok(style) = indicatif::ProgressStyle::with_template(
        "{spinner} writing {pos}/{len} {wide_bar} {elapsed}",
    ) {
        bar.set_style(style);
    }
    Some(bar)
}

/// The scratch folder a onefile's dist is written to: inside OUTPUT (made when
/// missing), so the dist is on the onefile's filesystem and nothing is written elsewhere.
/// It is named for its writer like a dist's scratch folder (`.NAME.shenzi-PID-START-*`
/// beside the onefile `NAME`), so the next apply removes what a killed one left; the
/// removed folders are returned to be said. OUTPUT must not be a dist: a onefile
/// written into one would be a change to it.
fn onefile_scratch(
    output: &Path,
    file: &str,
) -> miette::Result<(tempfile::TempDir, Vec<StaleFolder>)> {
    if output.join(".shenzi/dist.json").exists() {
        return Err(OnefileError::IntoDist {
            folder: output.to_owned(),
        }
        .into());
    }
    std::fs::create_dir_all(output).map_err(|source| OnefileError::Write {
        path: output.to_owned(),
        source,
    })?;
    let target = output.join(file);
    let stale = execute::remove_stale_scratch(output, &target);
    let scratch = execute::create_scratch(output, &target)?;
    Ok((scratch, stale))
}

/// `-v`: what the plan does with each path, in destination order.
fn decisions(plan: &crate::plan::Plan) -> Vec<String> {
    plan.entries
        .iter()
        .map(|e| match &e.content {
            Content::Copy { source, edits, .. } => format!(
                "{}: {} ← {}{}",
                e.unit,
                e.dest,
                source.display(),
                if edits.is_some() { " (patched)" } else { "" }
            ),
            Content::Symlink { target } => format!("{}: {} → {target}", e.unit, e.dest),
            Content::Bytes { data, .. } => {
                format!("{}: {} (generated, {} bytes)", e.unit, e.dest, data.len())
            }
            Content::Dir => format!("{}: {}/", e.unit, e.dest),
            Content::Archive { members, .. } => format!(
                "{}: {} (zip archive, {} members)",
                e.unit,
                e.dest,
                members.len()
            ),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::grouped;

    #[test]
    fn counts_are_grouped_by_thousands() {
        assert_eq!(grouped(0), "0");
        assert_eq!(grouped(999), "999");
        assert_eq!(grouped(3_700), "3,700");
        assert_eq!(grouped(1_234_567), "1,234,567");
    }
}
