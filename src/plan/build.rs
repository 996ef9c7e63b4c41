//! Evaluating a layout against a manifest: which files each unit takes, where each goes,
//! where every binary's libraries live and what RUNPATH finds them, all proven with the
//! resolver before anything is written.
//!
//! Native placement, for each shipped binary B (its real file at R):
//! - B's needs are the farm graph's edges (resolved on the machine that traced, as the
//!   loader did). A need the system policy provides is left to the target.
//! - In a farm, B gets its own link folder (the farm's `links` template), holding one
//!   symlink per need, named as needed, pointing at the needed library's real file.
//!   Without a farm, each needed library's folder is used directly (with a symlink named
//!   as needed beside the file when the names differ).
//! - B can be opened from R's folder and from the folder of every symlink to it; for each
//!   such folder O, B's RUNPATH gets `$ORIGIN/<O to its link folder>`. A farm whose
//!   folders sit at one level needs one entry; any other shape is caught by the proof.
//! - Run-time loads of units that `serve callers` are served without `LD_LIBRARY_PATH`:
//!   the objects that asked (`_ctypes` for ctypes, `_cffi_backend` for cffi; for loads
//!   the trace derived from the mappings, `_cffi_backend` when imported, else the
//!   interpreter's libpython) get a RUNPATH entry to the folder holding them, and that
//!   folder gets a symlink for every name they were asked by.
//! - Proof: every binary, from every folder it can be opened from, has each need
//!   resolved by [`crate::loader::resolve`] over a virtual view of the planned dist and a
//!   target that has only the policy's libraries. Anything but the intended file is a
//!   diagnostic pointing at the farm.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use petgraph::graph::NodeIndex;
use petgraph::visit::EdgeRef;
use rayon::prelude::*;

mod native;
mod programs;

pub use programs::Carried;

use super::diagnostics::{PlanDiagnostic, PlanReport, Problem};
use super::launcher::{LaunchEntry, LauncherSpec, render as render_launcher};
use super::select::{
    Found, LinkTarget, app_data, app_roots, imported_tops, read_tops, resolve_link,
    select_imported, shadowed_tops, tree_root, walk, walk_tops,
};
use super::{Content, DistRecord, Plan, PlannedEntry};
use crate::binary::cache::hex;
use crate::binary::edit::ElfEdits;
use crate::binary::{BinaryCache, Probe};
use crate::farm::{self, FarmGraph, FarmInput, GlibcFloor};
use crate::layout::{
    Action, ConflictPolicy, Farm, FarmId, Kind, LauncherEntry, LauncherForm, Layout, Select,
    Source, Symlinks, Template, Unclaimed, UnitId, Var,
};
use crate::loader::SearchConfig;
use crate::loader::proof::{self, Subject, VirtualEntry, VirtualFs};
use crate::manifest::{EntryKind, LoadVia, Manifest, ModuleKind, SiteKind, SysPathKind};
use crate::policy::Policy;

/// What the planner needs.
pub struct PlanInput<'a> {
    pub layout: &'a Layout,
    pub source: &'a Source,
    pub manifest: &'a Manifest,
    pub cache: &'a BinaryCache,
    /// The machine that traced: how the farm graph is resolved.
    pub host: &'a SearchConfig,
}

/// A plan, every problem found making it, and what a summary shows.
pub struct Planned {
    pub plan: Plan,
    pub report: PlanReport,
    pub graph: FarmGraph,
    pub floor: GlibcFloor,
    /// Files and bytes each unit writes, in layout order.
    pub by_unit: Vec<(String, u64, u64)>,
    /// Files and bytes by top-level package of the site dirs, largest first.
    pub by_package: Vec<(String, u64, u64)>,
    /// The programs and native data the trace saw: what the dist carries, what not.
    pub carried: Carried,
}

/// One file a unit takes.
#[derive(Debug, Clone)]
struct Item {
    unit: UnitId,
    source: PathBuf,
    vars: BTreeMap<Var, String>,
    mode: u32,
    size: u64,
    /// `(st_dev, st_ino)`, from the same `stat` as mode and size.
    id: (u64, u64),
    /// The top-level package of a site dir file, for the summary.
    package: Option<String>,
    /// Where it goes; `None` for `move` (farm only) and `skip`.
    dest: Option<String>,
    /// The farm graph node of a binary.
    node: Option<NodeIndex>,
    /// A timestamp-based `.pyc` to stamp with the dist's mtime.
    stamp_pyc: bool,
}

/// Where the dist's files come from and where they go, while planning.
struct Planner<'a> {
    input: &'a PlanInput<'a>,
    problems: Vec<Problem>,
    common: BTreeMap<Var, String>,
    items: Vec<Item>,
    /// The files of the imported extension modules.
    extension_files: BTreeSet<&'a Path>,
    /// Every file the trace imported or read: an `exclude` never drops one of these.
    traced: BTreeSet<&'a Path>,
    /// Traced files a unit's `exclude` matched, taken after every unit has chosen only
    /// when no unit took them ([`Planner::keep_excluded_traces`]).
    excluded: Vec<Excluded>,
    /// Symlinks inside source trees, written as symlinks ([`Planner::resolve_links`]).
    links: Vec<TreeLink>,
    /// Symlinks left out, by unit: the link, where it leads, why.
    links_left_out: BTreeMap<UnitId, Vec<(PathBuf, String)>>,
    /// The real folders being copied through folder links now (a loop guard).
    expanding: Vec<PathBuf>,
    /// Shipped objects the build machine could not load either.
    as_is: Vec<native::AsIs>,
    /// What the dist carries of the programs and native data (set by the launcher).
    carried: Carried,
}

/// A symlink of a source tree whose target lies inside the same tree.
#[derive(Debug, Clone)]
struct TreeLink {
    unit: UnitId,
    /// The link, as walked, and its path below its tree's root.
    source: PathBuf,
    rel: String,
    root: PathBuf,
    vars: BTreeMap<Var, String>,
    package: Option<String>,
    /// Its target: a file of the tree (its walked path), or a folder (its path below the
    /// tree's root, and its real path).
    target: LinkEnd,
    /// Where the link and its target go, once placed.
    placed: Option<(String, String)>,
}

#[derive(Debug, Clone)]
enum LinkEnd {
    File(PathBuf),
    Dir { rel: String, real: PathBuf },
}

/// A traced file a unit's `exclude` matched, and everything needed to take it anyway.
#[derive(Debug, Clone)]
struct Excluded {
    unit: UnitId,
    subject: String,
    source: PathBuf,
    vars: BTreeMap<Var, String>,
    package: Option<String>,
    /// Mode, size and identity when the walk knew them.
    stat: Option<(u32, u64, (u64, u64))>,
}

/// The folder of a relative path (`""` for the root).
fn parent(rel: &str) -> &str {
    rel.rsplit_once('/').map_or("", |(p, _)| p)
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// `to` relative to the folder `from` (both relative to the dist root).
pub fn relative(from: &str, to: &str) -> String {
    let a: Vec<&str> = from.split('/').filter(|s| !s.is_empty()).collect();
    let b: Vec<&str> = to.split('/').filter(|s| !s.is_empty()).collect();
    let common = a.iter().zip(&b).take_while(|(x, y)| x == y).count();
    let mut parts: Vec<&str> = vec![".."; a.len() - common];
    parts.extend(&b[common..]);
    if parts.is_empty() {
        ".".into()
    } else {
        parts.join("/")
    }
}

/// A RUNPATH entry reaching the folder `to` from the folder `from`.
fn origin_entry(from: &str, to: &str) -> String {
    match relative(from, to).as_str() {
        "." => "$ORIGIN".into(),
        rel => format!("$ORIGIN/{rel}"),
    }
}

/// Joins a farm root and a path below it.
fn under(root: &str, rel: &str) -> String {
    let root = root.trim_matches('/');
    if root.is_empty() || root == "." {
        rel.to_owned()
    } else {
        format!("{root}/{rel}")
    }
}

pub fn plan(input: &PlanInput<'_>) -> Planned {
    let mut planner = Planner::new(input);
    planner.take_files();
    planner.resolve_links();
    planner.keep_excluded_traces();
    planner.settle_bytecode();
    let policy = policy_of(input.layout);
    let shipped = planner.shipped_objects();
    let graph = farm::build(
        FarmInput {
            manifest: input.manifest,
            shipped: Some(&shipped.roots),
            policy: Some(&policy),
            config: input.host,
        },
        input.cache,
    );
    planner.native_problems(&graph, shipped);
    planner.take_libraries(&graph);
    planner.place();
    planner.place_links();
    let floor = graph.glibc_floor();
    let (entries, record) = planner.finish(&graph, policy);
    planner.summarize(entries, record, graph, floor)
}

/// The layout's system policy as the native model's [`Policy`].
pub fn policy_of(layout: &Layout) -> Policy {
    Policy::new(layout.system.provided.iter().map(|e| e.pattern.clone()))
        .with_exceptions(layout.system.bundled.iter().map(|e| e.pattern.clone()))
}

/// The variables every template may use (`{app.name}`, `{py.major}`, ...), for a manifest.
pub fn common_vars(m: &Manifest) -> BTreeMap<Var, String> {
    let v = &m.python.version;
    let app_name = match m.entry.kind {
        EntryKind::Module => m
            .entry
            .target
            .rsplit('.')
            .next()
            .unwrap_or("app")
            .to_owned(),
        EntryKind::Code => "app".to_owned(),
        EntryKind::Script | EntryKind::ConsoleScript => Path::new(&m.entry.target)
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "app".into()),
    };
    BTreeMap::from([
        (Var::AppName, app_name),
        (Var::PyMajor, v.major.to_string()),
        (Var::PyMinor, v.minor.to_string()),
        (Var::PyMicro, v.micro.to_string()),
        (Var::PyAbiflags, v.abiflags.clone()),
        (Var::Machine, m.platform.machine.clone()),
    ])
}

impl<'a> Planner<'a> {
    fn new(input: &'a PlanInput<'a>) -> Self {
        let m = input.manifest;
        let common = common_vars(m);
        Planner {
            input,
            problems: Vec::new(),
            common,
            items: Vec::new(),
            extension_files: m
                .modules_of(ModuleKind::Extension)
                .filter_map(|module| module.file.as_deref())
                .collect(),
            traced: m
                .modules
                .iter()
                .filter_map(|module| module.file.as_deref())
                .chain(m.data_files.iter().map(|d| d.path.as_path()))
                .collect(),
            excluded: Vec::new(),
            links: Vec::new(),
            links_left_out: BTreeMap::new(),
            expanding: Vec::new(),
            as_is: Vec::new(),
            carried: Carried::default(),
        }
    }

    fn is_extension(&self, path: &Path) -> bool {
        self.extension_files.contains(path)
            || self
                .input
                .manifest
                .python
                .dynload
                .as_deref()
                .is_some_and(|d| path.starts_with(d))
    }

    /// The on-path site dirs in `sys.path` order, with their index and kind (a site dir
    /// `site.getsitepackages()` did not name is the system's).
    fn site_dirs(&self) -> Vec<(usize, PathBuf, SiteKind)> {
        let python = &self.input.manifest.python;
        python
            .sys_path
            .iter()
            .filter(|e| e.kind == SysPathKind::Site)
            .enumerate()
            .map(|(i, e)| {
                let kind = python
                    .site_dirs
                    .iter()
                    .find(|s| s.path == e.path)
                    .map_or(SiteKind::System, |s| s.kind);
                (i, e.path.clone(), kind)
            })
            .collect()
    }

    /// `file` below the `sys.path` folder it was imported from (the longest that holds
    /// it), or its file name when no folder holds it.
    fn import_rel(&self, file: &Path) -> String {
        self.input
            .manifest
            .python
            .sys_path
            .iter()
            .map(|e| &e.path)
            .filter(|p| file.starts_with(p))
            .max_by_key(|p| p.as_os_str().len())
            .and_then(|root| file.strip_prefix(root).ok())
            .map_or_else(|| file_name(file), |r| r.to_string_lossy().into_owned())
    }

    fn push(
        &mut self,
        unit: UnitId,
        subject: &str,
        source: PathBuf,
        vars: BTreeMap<Var, String>,
        package: Option<String>,
    ) {
        if !self.chooses(unit, subject, &source, &vars, &package, None) {
            return;
        }
        self.push_unchecked(unit, source, vars, package);
    }

    /// Whether `unit`'s globs choose a file; a traced file only its `exclude` refuses is
    /// put aside for [`Planner::keep_excluded_traces`].
    fn chooses(
        &mut self,
        unit: UnitId,
        subject: &str,
        source: &Path,
        vars: &BTreeMap<Var, String>,
        package: &Option<String>,
        stat: Option<(u32, u64, (u64, u64))>,
    ) -> bool {
        let layout_unit = self.input.layout.unit(unit);
        if layout_unit.selects(subject) {
            return true;
        }
        let only = layout_unit.only.is_empty() || layout_unit.only.is_match(subject);
        if only && self.traced.contains(source) {
            self.excluded.push(Excluded {
                unit,
                subject: subject.to_owned(),
                source: source.to_owned(),
                vars: vars.clone(),
                package: package.clone(),
                stat,
            });
        }
        false
    }

    /// [`Planner::push`] without the unit's globs.
    fn push_unchecked(
        &mut self,
        unit: UnitId,
        source: PathBuf,
        vars: BTreeMap<Var, String>,
        package: Option<String>,
    ) {
        let meta = match std::fs::metadata(&source) {
            Ok(meta) if meta.is_file() => meta,
            Ok(_) => return,
            Err(err) => {
                self.problems.push(Problem::Unreadable {
                    path: source,
                    reason: err.to_string(),
                });
                return;
            }
        };
        self.push_item(unit, source, vars, package, identity(&meta));
    }

    /// [`Planner::push`] of a file a manifest entry names (`what`, e.g. "a data file, in
    /// `data_files`"): a path that is not a regular file is a problem that says what is
    /// there (a folder, a FIFO, a device, a link loop), as the farm says it of native
    /// objects; it is never opened, and never silently left out. A unit that skips its
    /// files reads none of them: nothing to say.
    fn push_entry(
        &mut self,
        unit: UnitId,
        subject: &str,
        source: PathBuf,
        vars: BTreeMap<Var, String>,
        what: &str,
    ) {
        let layout_unit = self.input.layout.unit(unit);
        if layout_unit.action.value == Action::Skip {
            return self.push(unit, subject, source, vars, None);
        }
        if !layout_unit.selects(subject) {
            return;
        }
        match crate::binary::check_regular(&source) {
            Ok(meta) => self.push_item(unit, source, vars, None, identity(&meta)),
            Err(why) => self.problems.push(Problem::EntryFile {
                path: source,
                what: what.to_owned(),
                why,
            }),
        }
    }

    /// [`Planner::push_entry`] of one file, selected by and with only its file name.
    fn push_named(&mut self, unit: UnitId, path: &Path, what: &str) {
        let file = file_name(path);
        self.push_entry(
            unit,
            &file.clone(),
            path.to_path_buf(),
            vars([(Var::File, file)]),
            what,
        );
    }

    /// [`Planner::push`] of a file whose mode, size and identity are known already.
    fn push_item(
        &mut self,
        unit: UnitId,
        source: PathBuf,
        mut vars: BTreeMap<Var, String>,
        package: Option<String>,
        (mode, size, id): (u32, u64, (u64, u64)),
    ) {
        vars.extend(self.common.iter().map(|(k, v)| (*k, v.clone())));
        self.items.push(Item {
            unit,
            source,
            vars,
            mode,
            size,
            id,
            package,
            dest: None,
            node: None,
            stamp_pyc: false,
        });
    }

    /// Files of every unit, except the libraries the farm graph brings.
    fn take_files(&mut self) {
        let layout = self.input.layout;
        let manifest = self.input.manifest;
        let python = &manifest.python;
        for (index, unit) in layout.units.iter().enumerate() {
            let id = UnitId(index);
            for kind in unit.kinds.iter().map(|k| k.value) {
                match kind {
                    Kind::Interpreter => {
                        self.push_named(id, &python.realpath, "the interpreter, `python.realpath`")
                    }
                    Kind::Stdlib => {
                        // Site folders are other units' business, including the base
                        // interpreter's own when a venv hides it from the manifest.
                        let mut prune: Vec<PathBuf> =
                            python.site_dirs.iter().map(|s| s.path.clone()).collect();
                        prune.extend(python.dynload.clone());
                        prune.extend(
                            ["site-packages", "dist-packages"].map(|d| python.stdlib.join(d)),
                        );
                        self.take_tree(id, &python.stdlib, &prune, |_| BTreeMap::new(), None);
                    }
                    Kind::Dynload => {
                        if let Some(dynload) = &python.dynload {
                            self.take_tree(id, dynload, &[], |_| BTreeMap::new(), None);
                        }
                    }
                    Kind::SiteDirs | Kind::Packages => {
                        let imported =
                            kind == Kind::Packages || unit.select.value == Select::Imported;
                        let mut sites = Vec::new();
                        for (site_index, site, site_kind) in self.site_dirs() {
                            if !unit.takes_site(site_kind) {
                                continue;
                            }
                            let site_vars = BTreeMap::from([
                                (Var::SiteIndex, site_index.to_string()),
                                (Var::SiteKind, site_kind_name(site_kind).to_owned()),
                            ]);
                            let (files, errors) = walk(&site, &[]);
                            self.unreadable(errors);
                            let files = if imported {
                                let mut tops = imported_tops(manifest, &site);
                                tops.extend(read_tops(manifest, &site));
                                select_imported(&site, &files, &tops)
                            } else {
                                files
                            };
                            // Site dirs this unit writes to one folder merge there.
                            let folder = unit.destination.as_ref().and_then(|t| {
                                let mut probe = site_vars.clone();
                                probe.extend(self.common.clone());
                                probe.insert(Var::Path, "p".into());
                                probe.insert(Var::File, "p".into());
                                probe.insert(Var::Package, "p".into());
                                t.render(&probe).ok()
                            });
                            sites.push((site_vars, folder, files));
                        }
                        let merged: Vec<(Option<String>, &[Found])> = sites
                            .iter()
                            .map(|(_, folder, files)| (folder.clone(), files.as_slice()))
                            .collect();
                        let shadowed = shadowed_tops(&merged);
                        for ((site_vars, _, files), shadowed) in sites.into_iter().zip(shadowed) {
                            for f in files {
                                if shadowed.contains(f.rel.split('/').next().unwrap_or_default()) {
                                    continue;
                                }
                                let package = f.rel.split('/').next().map(package_name);
                                let mut v = site_vars.clone();
                                v.extend(path_vars(&f));
                                if kind == Kind::Packages {
                                    v.insert(Var::Package, package.clone().unwrap_or_default());
                                }
                                self.push_found(id, &f, v, package);
                            }
                        }
                    }
                    Kind::Extensions => {
                        let inside_stdlib = |f: &Path| {
                            f.starts_with(&python.stdlib)
                                && !python.site_dirs.iter().any(|s| f.starts_with(&s.path))
                                || python.dynload.as_deref().is_some_and(|d| f.starts_with(d))
                        };
                        let modules: Vec<(String, PathBuf)> = manifest
                            .modules_of(ModuleKind::Extension)
                            .filter_map(|m| Some((m.name.clone(), m.file.clone()?)))
                            .filter(|(_, f)| !inside_stdlib(f))
                            .collect();
                        for (name, file) in modules {
                            let what = format!("the extension module `{name}`, in `modules`");
                            let rel = self.import_rel(&file);
                            let v = vars([
                                (Var::Path, rel.clone()),
                                (Var::File, file_name(&file)),
                                (Var::Module, name),
                            ]);
                            self.push_entry(id, &rel, file, v, &what);
                        }
                    }
                    Kind::Entry => {
                        if matches!(
                            manifest.entry.kind,
                            EntryKind::Script | EntryKind::ConsoleScript
                        ) {
                            self.push_named(
                                id,
                                Path::new(&manifest.entry.target),
                                "the entry script, `entry.target`",
                            );
                        }
                    }
                    Kind::AppModules => {
                        for root in app_roots(manifest) {
                            let tops = imported_tops(manifest, &root);
                            let (files, errors) = walk_tops(&root, &tops);
                            self.unreadable(errors);
                            for f in files {
                                let package = f.rel.split('/').next().map(package_name);
                                let mut v = path_vars(&f);
                                v.insert(Var::Package, package.clone().unwrap_or_default());
                                self.push_found(id, &f, v, package);
                            }
                        }
                    }
                    Kind::Scripts => {
                        for script in &manifest.scripts {
                            self.push_named(id, &script.path, "a script, in `scripts`");
                        }
                    }
                    Kind::Data => {
                        for (root, path) in app_data(manifest) {
                            let rel = path.strip_prefix(&root).map_or_else(
                                |_| file_name(&path),
                                |r| r.to_string_lossy().into_owned(),
                            );
                            let v = vars([(Var::Path, rel.clone()), (Var::File, file_name(&path))]);
                            self.push_entry(id, &rel, path, v, "a data file, in `data_files`");
                        }
                    }
                    Kind::Executables => self.take_programs(id),
                    Kind::NativeData => self.take_native_data(id),
                    // Libraries come from the farm graph, once it is built.
                    Kind::Needed | Kind::RuntimeLoads => {}
                }
            }
        }
    }

    /// Imports win over excludes: a file the trace imported or read that a unit's
    /// `exclude` matched, and that no unit took, is taken by the first unit (in layout
    /// order) that excluded it, with a warning naming the glob. An exclude is a
    /// convenience to drop what the app does not use; it never breaks what the app ran.
    /// (`only`, `site` and `action skip` say what a unit is, and are never overridden.)
    fn keep_excluded_traces(&mut self) {
        let taken: BTreeSet<PathBuf> = self.items.iter().map(|i| i.source.clone()).collect();
        let mut kept: BTreeMap<UnitId, Vec<(String, PathBuf)>> = BTreeMap::new();
        let mut done: BTreeSet<PathBuf> = BTreeSet::new();
        for e in std::mem::take(&mut self.excluded) {
            if taken.contains(&e.source) || !done.insert(e.source.clone()) {
                continue;
            }
            kept.entry(e.unit)
                .or_default()
                .push((e.subject.clone(), e.source.clone()));
            match e.stat {
                Some(stat) => self.push_item(e.unit, e.source, e.vars, e.package, stat),
                None => self.push_unchecked(e.unit, e.source, e.vars, e.package),
            }
        }
        let layout = self.input.layout;
        for (unit, files) in kept {
            let mut globs: Vec<(String, crate::layout::Span)> = Vec::new();
            for (subject, _) in &files {
                if let Some(g) = layout.unit(unit).exclude.first_match(subject) {
                    if !globs.iter().any(|(_, span)| *span == g.span) {
                        globs.push((g.value.clone(), g.span));
                    }
                }
            }
            self.problems.push(Problem::ExcludedTrace {
                unit: layout.unit(unit).name.value.clone(),
                globs,
                files: files.into_iter().map(|(_, f)| f).collect(),
            });
        }
    }

    /// Keeps the `.pyc` files the dist's interpreter will use and stamps them; drops the
    /// rest. A pyc is kept when it is this interpreter's (`__pycache__/NAME.<cache
    /// tag>.pyc`, not an `-O` variant), its source is shipped by the same unit, and it
    /// is current: hash-based, or timestamp-based with the source's mtime and size.
    /// Stale or foreign pycs would make the interpreter recompile at every start.
    fn settle_bytecode(&mut self) {
        let Some(tag) = self.input.manifest.python.cache_tag.clone() else {
            self.items.retain(|i| !is_pyc(&i.source));
            return;
        };
        let suffix = format!(".{tag}.pyc");
        let sources: BTreeSet<(UnitId, &Path)> = self
            .items
            .iter()
            .map(|i| (i.unit, i.source.as_path()))
            .collect();
        // Each verdict opens a `.pyc` and stats its source: thousands of small reads,
        // in parallel.
        let verdicts: Vec<Option<bool>> = self
            .items
            .par_iter()
            .map(|item| {
                if !is_pyc(&item.source) {
                    return Some(false);
                }
                let name = file_name(&item.source);
                let module = name.strip_suffix(&suffix)?;
                let folder = item.source.parent()?.parent()?;
                let source = folder.join(format!("{module}.py"));
                if !sources.contains(&(item.unit, source.as_path())) {
                    return None;
                }
                pyc_stamp(&item.source, &source)
            })
            .collect();
        let mut keep = verdicts.into_iter();
        self.items.retain_mut(|item| match keep.next().flatten() {
            Some(stamp) => {
                item.stamp_pyc = stamp;
                true
            }
            None => false,
        });
    }

    fn unreadable(&mut self, errors: Vec<(PathBuf, std::io::Error)>) {
        self.problems
            .extend(errors.into_iter().map(|(path, err)| Problem::Unreadable {
                path,
                reason: err.to_string(),
            }));
    }

    fn take_tree(
        &mut self,
        unit: UnitId,
        root: &Path,
        prune: &[PathBuf],
        extra: impl Fn(&Found) -> BTreeMap<Var, String>,
        package: Option<String>,
    ) {
        let (files, errors) = walk(root, prune);
        self.unreadable(errors);
        for f in files {
            let mut v = extra(&f);
            v.extend(path_vars(&f));
            self.push_found(unit, &f, v, package.clone());
        }
    }

    fn push_found(
        &mut self,
        unit: UnitId,
        f: &Found,
        vars: BTreeMap<Var, String>,
        package: Option<String>,
    ) {
        if f.link.is_some() {
            // Only a link's own path decides whether the unit takes it: what it leads to
            // is never taken for being traced ([`Planner::keep_excluded_traces`]).
            if self.input.layout.unit(unit).selects(&f.rel) {
                self.take_link(unit, f, vars, package);
            }
            return;
        }
        // The walk's `lstat` of a regular file is its `stat`: no second look. (Sockets
        // and pipes are not shipped.)
        const S_IFMT: u32 = 0o170_000;
        const S_IFREG: u32 = 0o100_000;
        let stat = (f.mode, f.size, f.id);
        if f.mode & S_IFMT == S_IFREG
            && self.chooses(unit, &f.rel, &f.path, &vars, &package, Some(stat))
        {
            self.push_item(unit, f.path.clone(), vars, package, stat);
        }
    }

    /// A symlink of a source tree. One leading inside the tree is written as a relative
    /// symlink (`symlinks keep`, decided once every unit has chosen) or as a copy of what
    /// it names (`symlinks copy`); one leading outside the tree, dangling or looping is
    /// never followed: it is left out with a warning naming it and its target, since
    /// following it could ship any file of this machine (`evil.py -> /etc/passwd`).
    fn take_link(
        &mut self,
        unit: UnitId,
        f: &Found,
        vars: BTreeMap<Var, String>,
        package: Option<String>,
    ) {
        let root = tree_root(f);
        let written = || {
            f.link
                .as_deref()
                .map_or_else(|| "?".to_owned(), |l| l.display().to_string())
        };
        let copy = self.input.layout.unit(unit).symlinks.value == Symlinks::Copy;
        match resolve_link(&root, f) {
            LinkTarget::Outside(real) => {
                let shown = match written() {
                    w if Path::new(&w) == real => format!("`{w}`"),
                    w => format!("`{w}` (`{}`)", real.display()),
                };
                let why = format!("{shown}, outside `{}`", root.display());
                self.left_out(unit, f, why);
            }
            LinkTarget::Broken => {
                let why = format!("`{}`, which does not exist (or loops)", written());
                self.left_out(unit, f, why);
            }
            LinkTarget::File(_) if copy => self.push_unchecked(unit, f.path.clone(), vars, package),
            LinkTarget::File(rel) => self.links.push(TreeLink {
                unit,
                source: f.path.clone(),
                rel: f.rel.clone(),
                target: LinkEnd::File(root.join(rel)),
                root,
                vars,
                package,
                placed: None,
            }),
            LinkTarget::Dir(_, real) if copy => {
                self.copy_folder_link(unit, f, &real, vars, package)
            }
            LinkTarget::Dir(rel, real) => self.links.push(TreeLink {
                unit,
                source: f.path.clone(),
                rel: f.rel.clone(),
                root,
                vars,
                package,
                target: LinkEnd::Dir { rel, real },
                placed: None,
            }),
        }
    }

    fn left_out(&mut self, unit: UnitId, f: &Found, why: String) {
        self.links_left_out
            .entry(unit)
            .or_default()
            .push((f.path.clone(), why));
    }

    /// A folder link taken as a folder: the files below its target, each at its path
    /// through the link. A folder already being copied through a link (a loop) is left
    /// out.
    fn copy_folder_link(
        &mut self,
        unit: UnitId,
        f: &Found,
        real: &Path,
        vars: BTreeMap<Var, String>,
        package: Option<String>,
    ) {
        let parent_real = f.path.parent().and_then(|p| std::fs::canonicalize(p).ok());
        if self.expanding.iter().any(|e| e == real)
            || parent_real.is_some_and(|p| p.starts_with(real))
        {
            let written = f.link.as_deref().unwrap_or(Path::new("?")).display();
            self.left_out(
                unit,
                f,
                format!("`{written}`, a folder holding the link (a loop)"),
            );
            return;
        }
        self.expanding.push(real.to_owned());
        let (files, errors) = walk(&f.path, &[]);
        self.unreadable(errors);
        for sub in files {
            let found = Found {
                rel: format!("{}/{}", f.rel, sub.rel),
                ..sub
            };
            let mut v = vars.clone();
            v.extend(path_vars(&found));
            self.push_found(unit, &found, v, package.clone());
        }
        self.expanding.pop();
    }

    /// Decides the symlinks kept inside their trees, now that every unit has chosen: a
    /// link to a file the same unit ships, or to a folder it ships files of with its
    /// tree's shape kept (`to` ending in `{path}`), stays a link; any other is copied
    /// (the content is the tree's own). Links of units that write nothing are claimed.
    fn resolve_links(&mut self) {
        let layout = self.input.layout;
        let taken: BTreeSet<(UnitId, PathBuf)> = self
            .items
            .iter()
            .map(|i| (i.unit, i.source.clone()))
            .collect();
        let mut kept = Vec::new();
        for link in std::mem::take(&mut self.links) {
            let unit = layout.unit(link.unit);
            let Some(template) = unit.destination.as_ref() else {
                kept.push(link);
                continue;
            };
            let shaped = |rel: &str| {
                let mut v = link.vars.clone();
                v.extend(self.common.clone());
                v.insert(Var::Path, rel.to_owned());
                template.render(&v).ok()
            };
            let keeps_shape = matches!(
                (shaped("shenzi"), shaped("shenzi/probe")),
                (Some(a), Some(b)) if b == format!("{a}/probe")
            );
            let keep = match &link.target {
                LinkEnd::File(target) => taken.contains(&(link.unit, target.clone())),
                LinkEnd::Dir { rel, .. } => {
                    let folder = link.root.join(rel);
                    keeps_shape
                        && taken
                            .iter()
                            .any(|(u, s)| *u == link.unit && s.starts_with(&folder))
                }
            };
            if keep {
                kept.push(link);
                continue;
            }
            match &link.target {
                LinkEnd::File(_) => {
                    self.push_unchecked(link.unit, link.source, link.vars, link.package)
                }
                LinkEnd::Dir { real, .. } => {
                    let found = Found {
                        rel: link.rel.clone(),
                        path: link.source.clone(),
                        link: None,
                        mode: 0,
                        size: 0,
                        id: (0, 0),
                    };
                    let real = real.clone();
                    self.copy_folder_link(link.unit, &found, &real, link.vars, link.package);
                }
            }
        }
        self.links = kept;
        for (unit, links) in std::mem::take(&mut self.links_left_out) {
            self.problems.push(Problem::SymlinkLeftOut {
                unit: layout.unit(unit).name.value.clone(),
                links,
            });
        }
    }

    /// Renders where each kept link and its target go (after [`Planner::place`]).
    fn place_links(&mut self) {
        let layout = self.input.layout;
        let dests: BTreeMap<(UnitId, &Path), &str> = self
            .items
            .iter()
            .filter_map(|i| Some(((i.unit, i.source.as_path()), i.dest.as_deref()?)))
            .collect();
        let mut placed = Vec::new();
        for link in &self.links {
            let Some(template) = layout.unit(link.unit).destination.as_ref() else {
                placed.push(None);
                continue;
            };
            let render = |v: &BTreeMap<Var, String>| {
                let mut v = v.clone();
                v.extend(self.common.clone());
                template.render(&v).ok()
            };
            let dest = render(&link.vars);
            let target = match &link.target {
                LinkEnd::File(target) => dests
                    .get(&(link.unit, target.as_path()))
                    .map(|d| (*d).to_owned()),
                LinkEnd::Dir { rel, .. } => {
                    // The folder's own destination: that of a file in it, less its name
                    // (the tree's root is a folder too, and has no `{path}` of its own).
                    const PROBE: &str = "shenzi-probe";
                    let mut v = link.vars.clone();
                    let inside = if rel.is_empty() {
                        PROBE.to_owned()
                    } else {
                        format!("{rel}/{PROBE}")
                    };
                    v.insert(Var::Path, inside);
                    v.insert(Var::File, PROBE.to_owned());
                    render(&v).and_then(|d| {
                        d.strip_suffix(PROBE)
                            .map(|f| f.trim_end_matches('/').to_owned())
                    })
                }
            };
            placed.push(Some(dest.zip(target)));
        }
        let mut unplaced = Vec::new();
        for (link, placed) in self.links.iter_mut().zip(placed) {
            match placed {
                Some(None) => unplaced.push((link.unit, link.source.clone())),
                Some(Some(p)) => link.placed = Some(p),
                None => {}
            }
        }
        let mut by_unit: BTreeMap<UnitId, Vec<(PathBuf, String)>> = BTreeMap::new();
        for (unit, source) in unplaced {
            by_unit.entry(unit).or_default().push((
                source,
                "a place the unit's `to` cannot express as a link".to_owned(),
            ));
        }
        for (unit, links) in by_unit {
            self.problems.push(Problem::SymlinkLeftOut {
                unit: layout.unit(unit).name.value.clone(),
                links,
            });
        }
    }

    /// The kept links, as relative symlinks of the dist.
    fn write_links(&mut self, out: &mut Output) {
        let layout = self.input.layout;
        for link in &self.links {
            let Some((dest, target)) = &link.placed else {
                continue;
            };
            let unit = layout.unit(link.unit);
            out.link(
                dest,
                &unit.name.value,
                unit.span,
                &relative(parent(dest), target),
                &mut self.problems,
            );
        }
    }

    /// Libraries from the farm graph: the `native.needed` and `native.runtime_loads` units
    /// take the bundled nodes no file of another unit already ships.
    fn take_libraries(&mut self, graph: &FarmGraph) {
        // Attach graph nodes to the files already taken, by file identity: the graph saw
        // each binary at the path the loader mapped, a site dir reached through a symlink
        // lists it under another. The graph's files are in the cache already; no file is
        // opened or hashed again here.
        let by_id: std::collections::HashMap<(u64, u64), NodeIndex> = graph
            .graph
            .node_indices()
            .flat_map(|i| graph.graph[i].aliases.iter().map(move |p| (p, i)))
            .filter_map(|(path, i)| {
                let id = self.input.cache.get(path)?.id;
                Some(((id.dev, id.ino), i))
            })
            .collect();
        for item in &mut self.items {
            item.node = by_id.get(&item.id).copied();
        }
        let shipped: BTreeSet<NodeIndex> = self
            .items
            .iter()
            .filter(|i| self.input.layout.unit(i.unit).action.value != Action::Skip)
            .filter_map(|i| i.node)
            .collect();
        let layout = self.input.layout;
        let manifest = self.input.manifest;
        // Runtime loads first: a library loaded at run time goes where its unit says.
        let mut runtime_nodes: BTreeMap<NodeIndex, Vec<String>> = BTreeMap::new();
        for load in &manifest.native.loads {
            if let Some(node) = load.resolved.as_deref().and_then(|p| graph.node_by_path(p)) {
                runtime_nodes
                    .entry(node)
                    .or_default()
                    .push(load.name.clone());
            }
        }
        let mut taken: BTreeSet<NodeIndex> = shipped.clone();
        // Whatever the units' order, a run-time load goes where its unit says, not
        // (also) where the needed libraries go.
        let passes = [Kind::RuntimeLoads, Kind::Needed];
        for (index, unit, kind) in passes.into_iter().flat_map(|pass| {
            layout
                .units
                .iter()
                .enumerate()
                .filter(move |(_, u)| u.takes(pass))
                .map(move |(i, u)| (i, u, pass))
        }) {
            let id = UnitId(index);
            let nodes: Vec<NodeIndex> = match kind {
                Kind::RuntimeLoads => runtime_nodes.keys().copied().collect(),
                Kind::Needed => graph.bundled().collect(),
                // The passes are only these two kinds.
                _ => continue,
            };
            for node in nodes {
                let n = &graph.graph[node];
                if n.system.is_some() || (kind == Kind::Needed && taken.contains(&node)) {
                    continue;
                }
                // A runtime load already shipped as a file still gets served.
                if kind == Kind::RuntimeLoads && shipped.contains(&node) {
                    continue;
                }
                let name = n.name();
                if !unit.selects(&name) {
                    continue;
                }
                let mut v = vars([
                    (Var::Name, name.clone()),
                    (Var::File, file_name(&n.path)),
                    (Var::Hash, hex(&n.hash)),
                ]);
                if let Some(soname) = &n.info.soname {
                    v.insert(Var::Soname, soname.clone());
                }
                if let Some(request) = runtime_nodes.get(&node).and_then(|r| r.first()) {
                    v.insert(Var::Request, request.clone());
                }
                let before = self.items.len();
                self.push(id, &name, n.path.clone(), v, None);
                if let Some(item) = self.items.get_mut(before) {
                    item.node = Some(node);
                    taken.insert(node);
                }
            }
        }
        // A library the application needs that nothing ships breaks the dist.
        for node in graph.bundled() {
            if !taken.contains(&node)
                && !graph
                    .roots
                    .iter()
                    .any(|r| r.node == node && matches!(r.kind, crate::farm::RootKind::Executable))
            {
                let n = &graph.graph[node];
                if !self.is_extension(&n.path) {
                    self.problems.push(Problem::LibraryNotTaken {
                        name: n.name(),
                        path: n.path.clone(),
                    });
                }
            }
        }
    }

    /// Renders every destination.
    fn place(&mut self) {
        let layout = self.input.layout;
        let cache = self.input.cache;
        for item in &mut self.items {
            let unit = layout.unit(item.unit);
            let Some(template) = &unit.destination else {
                continue;
            };
            if matches!(unit.action.value, Action::Move | Action::Skip) {
                continue;
            }
            if template.uses(Var::Hash) && !item.vars.contains_key(&Var::Hash) {
                if let Some(binary) = cache.get(&item.source) {
                    item.vars.insert(Var::Hash, binary.hash_hex());
                }
            }
            match template.render(&item.vars) {
                Ok(dest) => item.dest = Some(dest),
                Err(err) => self.problems.push(Problem::Render {
                    unit: unit.name.value.clone(),
                    span: template.span,
                    file: item.source.clone(),
                    reason: err.to_string(),
                }),
            }
        }
    }

    /// The farm reals path of a library item, rendered.
    fn real_in_farm(&self, item: &Item, farm: FarmId) -> Option<String> {
        self.farm_path(item, farm, |f| &f.reals)
    }

    fn link_folder(&self, item: &Item, farm: FarmId) -> Option<String> {
        self.farm_path(item, farm, |f| &f.links)
    }

    /// One of a farm's path templates rendered for a library item, below the farm's root;
    /// `{name}` falls back to the file name.
    fn farm_path(
        &self,
        item: &Item,
        farm: FarmId,
        template: fn(&Farm) -> &Template,
    ) -> Option<String> {
        let farm = self.input.layout.farm(farm);
        let template = template(farm);
        let mut v = item.vars.clone();
        if !v.contains_key(&Var::Hash) && template.uses(Var::Hash) {
            v.insert(Var::Hash, self.input.cache.get(&item.source)?.hash_hex());
        }
        if !v.contains_key(&Var::Name) {
            v.insert(Var::Name, v.get(&Var::File).cloned().unwrap_or_default());
        }
        template
            .render(&v)
            .ok()
            .map(|r| under(&farm.root.value, &r))
    }

    /// Every entry of the dist, and the record `verify` reads.
    fn finish(
        &mut self,
        graph: &FarmGraph,
        policy: Policy,
    ) -> (BTreeMap<String, PlannedEntry>, DistRecord) {
        let layout = self.input.layout;
        let cache = self.input.cache;
        let mut out = Output::default();

        // Where each binary's real file is, and the symlink placed for `symlink` units.
        let mut home: BTreeMap<NodeIndex, String> = BTreeMap::new();
        let mut real_of: Vec<Option<String>> = vec![None; self.items.len()];
        for (i, item) in self.items.iter().enumerate() {
            let unit = layout.unit(item.unit);
            let farm = unit.farm.as_ref().map(|f| f.value);
            let real = match (unit.action.value, farm, item.node) {
                (Action::Skip, _, _) => None,
                (Action::Copy, _, _) => item.dest.clone(),
                (Action::Symlink | Action::Move, Some(farm), Some(_)) => {
                    self.real_in_farm(item, farm)
                }
                // Without a farm, `move` and `symlink` have nowhere else to put the file.
                (Action::Symlink | Action::Move, _, _) => item.dest.clone(),
            };
            if let (Some(real), Some(node)) = (&real, item.node) {
                home.entry(node).or_insert_with(|| real.clone());
            }
            real_of[i] = real;
        }

        // Real files.
        for (i, item) in self.items.iter().enumerate() {
            let Some(real) = &real_of[i] else { continue };
            out.add(
                real,
                &layout.unit(item.unit).name.value,
                layout.unit(item.unit).span,
                Content::Copy {
                    source: item.source.clone(),
                    mode: item.mode,
                    size: item.size,
                    edits: None,
                    stamp_pyc: item.stamp_pyc,
                },
                cache,
                &mut self.problems,
                layout.conflicts.value,
            );
        }
        self.write_links(&mut out);
        // Destinations of `symlink` units point at the real file.
        for (i, item) in self.items.iter().enumerate() {
            let unit = layout.unit(item.unit);
            if unit.action.value == Action::Symlink {
                if let (Some(dest), Some(real)) = (&item.dest, &real_of[i]) {
                    if dest != real {
                        out.link(
                            dest,
                            &unit.name.value,
                            unit.span,
                            &relative(parent(dest), real),
                            &mut self.problems,
                        );
                    }
                }
            }
        }

        // Link folders and RUNPATH.
        let mut runpaths: BTreeMap<String, Vec<String>> = BTreeMap::new();
        let mut binaries: BTreeMap<String, (usize, Arc<crate::binary::ObjectInfo>)> =
            BTreeMap::new();
        let mut farm_of: BTreeMap<String, FarmId> = BTreeMap::new();
        let mut needs_dirs: BTreeMap<String, Vec<String>> = BTreeMap::new();
        // Loads the trace could only derive from the mappings have no caller whose
        // RUNPATH could serve them, and one may be glibc itself (libc dlopens
        // `libgcc_s.so.1` to unwind `pthread_exit`). The interpreter loads them at
        // start-up instead, as `DT_NEEDED`: later requests reuse them by SONAME.
        let interpreter_source = &self.input.manifest.python.realpath;
        let mut preloads: Vec<(String, String)> = Vec::new();
        for load in &self.input.manifest.native.loads {
            if load.via != LoadVia::Dlopen {
                continue;
            }
            let Some(node) = load.resolved.as_deref().and_then(|p| graph.node_by_path(p)) else {
                continue;
            };
            if let (None, Some(at)) = (&graph.graph[node].system, home.get(&node)) {
                let name = graph.graph[node].name();
                if !preloads.iter().any(|(n, _)| *n == name) {
                    preloads.push((name, at.clone()));
                }
            }
        }
        let mut added_needs: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (i, item) in self.items.iter().enumerate() {
            let (Some(real), Some(node)) = (&real_of[i], item.node) else {
                continue;
            };
            if binaries.contains_key(real) {
                continue;
            }
            let info = graph.graph[node].info.clone();
            binaries.insert(real.clone(), (i, info));
            let unit = layout.unit(item.unit);
            let mut needs: Vec<(String, String)> = graph
                .graph
                .edges(node)
                .filter(|e| graph.graph[e.target()].system.is_none())
                .filter_map(|e| Some((e.weight().name.clone(), home.get(&e.target())?.clone())))
                .collect();
            if item.source == *interpreter_source {
                for (name, at) in &preloads {
                    if !needs.iter().any(|(n, _)| n == name)
                        && !info_needs(&graph.graph[node].info, name)
                    {
                        needs.push((name.clone(), at.clone()));
                        added_needs
                            .entry(real.clone())
                            .or_default()
                            .push(name.clone());
                    }
                }
            }
            match unit.farm.as_ref().map(|f| f.value) {
                Some(farm) => {
                    farm_of.insert(real.clone(), farm);
                    if needs.is_empty() {
                        continue;
                    }
                    let Some(folder) = self.link_folder(item, farm) else {
                        continue;
                    };
                    for (name, target) in &needs {
                        let link = format!("{folder}/{name}");
                        out.link(
                            &link,
                            &layout.farm(farm).name.value,
                            layout.farm(farm).span,
                            &relative(&folder, target),
                            &mut self.problems,
                        );
                    }
                    needs_dirs.insert(real.clone(), vec![folder]);
                }
                None => {
                    let mut dirs = Vec::new();
                    for (name, target) in &needs {
                        let dir = parent(target).to_owned();
                        if file_name(Path::new(target)) != *name {
                            let alias = under(&dir, name);
                            out.link(
                                &alias,
                                &unit.name.value,
                                unit.span,
                                &file_name(Path::new(target)),
                                &mut self.problems,
                            );
                        }
                        if !dirs.contains(&dir) {
                            dirs.push(dir);
                        }
                    }
                    needs_dirs.insert(real.clone(), dirs);
                }
            }
        }

        // Run-time loads served to their callers.
        let mut served: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (unit_index, unit) in layout.units.iter().enumerate() {
            if unit.serve_callers.is_none() || !unit.takes(Kind::RuntimeLoads) {
                continue;
            }
            for load in &self.input.manifest.native.loads {
                let Some(node) = load.resolved.as_deref().and_then(|p| graph.node_by_path(p))
                else {
                    continue;
                };
                if graph.graph[node].system.is_some() {
                    continue;
                }
                // The folder serving it: this unit's destination, or where it is shipped.
                let spot = self
                    .items
                    .iter()
                    .find(|i| i.unit == UnitId(unit_index) && i.node == Some(node))
                    .and_then(|i| i.dest.clone())
                    .or_else(|| home.get(&node).cloned());
                let Some(spot) = spot else { continue };
                let dir = parent(&spot).to_owned();
                let asked = Path::new(&load.name);
                if !load.name.contains('/') && file_name(asked) != file_name(Path::new(&spot)) {
                    let alias = under(&dir, &load.name);
                    out.link(
                        &alias,
                        &unit.name.value,
                        unit.span,
                        &relative(&dir, &spot),
                        &mut self.problems,
                    );
                }
                for caller in self.callers(load.via, graph, &real_of) {
                    let dirs = served.entry(caller).or_default();
                    if !dirs.contains(&dir) {
                        dirs.push(dir.clone());
                    }
                }
            }
        }

        // Loads by path find their file where the asking module will look for it.
        let (mut loads, path_loads) = self.place_path_loads(graph, &home, &real_of, &mut out);
        let (name_loads, loads_by_caller) = self.name_loads(graph, &real_of);
        loads.extend(name_loads);

        // Every folder each binary can be opened from: its own, and every symlink's to it.
        let mut origins: BTreeMap<String, BTreeSet<String>> = binaries
            .keys()
            .map(|real| (real.clone(), BTreeSet::from([parent(real).to_owned()])))
            .collect();
        for (path, entry) in &out.entries {
            if let Content::Symlink { target } = &entry.content {
                let resolved = proof::normalize(&Path::new("/").join(parent(path)).join(target));
                let resolved = resolved
                    .to_string_lossy()
                    .trim_start_matches('/')
                    .to_owned();
                if let Some(set) = origins.get_mut(&resolved) {
                    set.insert(parent(path).to_owned());
                }
            }
        }
        for (real, (_, info)) in &binaries {
            let mut entries: Vec<String> = Vec::new();
            let from = &origins[real];
            for dir in needs_dirs
                .get(real)
                .into_iter()
                .flatten()
                .chain(served.get(real).into_iter().flatten())
            {
                for origin in from {
                    let entry = origin_entry(origin, dir);
                    if !entries.contains(&entry) {
                        entries.push(entry);
                    }
                }
            }
            let had = !info.runpath.is_empty() || !info.rpath.is_empty();
            if !entries.is_empty() || had {
                runpaths.insert(real.clone(), entries);
            }
        }
        for (real, entries) in &runpaths {
            if let Some(PlannedEntry {
                content: Content::Copy { edits, .. },
                ..
            }) = out.entries.get_mut(real)
            {
                *edits = Some(ElfEdits {
                    runpath: Some(entries.clone()),
                    add_needed: added_needs.get(real).cloned().unwrap_or_default(),
                    ..ElfEdits::default()
                });
            }
        }

        self.prove(
            graph,
            &out,
            &binaries,
            &origins,
            &runpaths,
            &home,
            &farm_of,
            &added_needs,
            &loads_by_caller,
            &path_loads,
            policy.clone(),
        );
        let as_is = self.as_is_objects(&real_of);
        self.program_links(&mut out);
        let (launcher, interpreter) = self.launcher(&mut out);
        self.unclaimed();
        self.folder_clashes(&out);

        let record = DistRecord {
            version: 1,
            shenzi: env!("CARGO_PKG_VERSION").to_owned(),
            layout: layout
                .name
                .as_ref()
                .map_or_else(|| self.input.source.name.clone(), |n| n.value.clone()),
            interpreter,
            launcher,
            python: format!(
                "{}.{}",
                self.input.manifest.python.version.major, self.input.manifest.python.version.minor
            ),
            system_libraries: policy.entries().map(str::to_owned).collect(),
            // What the `sh` launcher starts, as `launcher` decided it.
            entry: layout
                .launcher
                .as_ref()
                .filter(|l| l.form.value == LauncherForm::Sh)
                .and_then(|l| {
                    let manifest = self.input.manifest;
                    match (&l.entry.value, manifest.entry.kind) {
                        (LauncherEntry::Module(m), _) => Some(super::DistEntry::Module(m.clone())),
                        (LauncherEntry::Traced, EntryKind::Module) => {
                            Some(super::DistEntry::Module(manifest.entry.target.clone()))
                        }
                        (LauncherEntry::Traced, EntryKind::Script | EntryKind::ConsoleScript) => {
                            self.items
                                .iter()
                                .find(|i| {
                                    i.source == Path::new(&manifest.entry.target)
                                        && i.dest.is_some()
                                })
                                .and_then(|i| i.dest.clone())
                                .map(super::DistEntry::Script)
                        }
                        (LauncherEntry::Traced, EntryKind::Code) => None,
                    }
                }),
            pth: out
                .entries
                .iter()
                .find(|(dest, e)| {
                    e.unit == "launcher"
                        && dest.ends_with("/00-shenzi.pth")
                        && matches!(e.content, Content::Bytes { .. })
                })
                .map(|(dest, _)| dest.clone()),
            loads,
            as_is,
        };
        (out.entries, record)
    }

    /// The shipped binaries that ask for run-time loads made `via`.
    fn callers(&self, via: LoadVia, graph: &FarmGraph, real_of: &[Option<String>]) -> Vec<String> {
        let by_module = |module: &str| -> Option<String> {
            let file = self
                .input
                .manifest
                .modules
                .iter()
                .find(|m| m.name == module && m.kind == ModuleKind::Extension)?
                .file
                .clone()?;
            let i = self.items.iter().position(|i| i.source == file)?;
            real_of[i].clone()
        };
        let libpython = || -> Option<String> {
            let node = graph.node_by_path(self.input.manifest.python.libpython.path.as_ref()?)?;
            let i = self.items.iter().position(|i| i.node == Some(node))?;
            real_of[i].clone()
        };
        let interpreter = || -> Option<String> {
            let i = self
                .items
                .iter()
                .position(|i| i.source == self.input.manifest.python.realpath)?;
            real_of[i].clone()
        };
        match via {
            LoadVia::Ctypes => by_module("_ctypes").into_iter().collect(),
            LoadVia::Cffi => by_module("_cffi_backend").into_iter().collect(),
            LoadVia::Dlopen => by_module("_cffi_backend")
                .into_iter()
                .chain(libpython())
                .chain(interpreter())
                .collect(),
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn prove(
        &mut self,
        graph: &FarmGraph,
        out: &Output,
        binaries: &BTreeMap<String, (usize, Arc<crate::binary::ObjectInfo>)>,
        origins: &BTreeMap<String, BTreeSet<String>>,
        runpaths: &BTreeMap<String, Vec<String>>,
        home: &BTreeMap<NodeIndex, String>,
        farm_of: &BTreeMap<String, FarmId>,
        added_needs: &BTreeMap<String, Vec<String>>,
        loads_by_caller: &native::LoadsByCaller,
        path_loads: &[(String, NodeIndex)],
        policy: Policy,
    ) {
        const ROOT: &str = "/.shenzi-plan";
        let cache = self.input.cache;
        let mut fs = VirtualFs::new(ROOT, cache);
        let mut subjects = Vec::new();
        for (real, (i, info)) in binaries {
            let item = &self.items[*i];
            let Some(source) = cache.get(&item.source) else {
                continue;
            };
            let shipped = proof::shipped(
                &source,
                info,
                runpaths.get(real).map(Vec::as_slice),
                added_needs.get(real).map(Vec::as_slice).unwrap_or_default(),
            );
            let Some(shipped_info) = shipped.elf().cloned() else {
                continue;
            };
            fs.insert(real, VirtualEntry::File(shipped));
            subjects.push((
                real.clone(),
                Subject {
                    label: real.clone(),
                    file_name: file_name(Path::new(real)),
                    info: shipped_info,
                    origins: origins[real]
                        .iter()
                        .map(|o| Path::new(ROOT).join(o))
                        .collect(),
                    loads: loads_by_caller
                        .get(real)
                        .into_iter()
                        .flatten()
                        .map(|(name, _)| name.clone())
                        .collect(),
                },
            ));
        }
        for (path, entry) in &out.entries {
            if let Content::Symlink { target } = &entry.content {
                fs.insert(path, VirtualEntry::Link(PathBuf::from(target)));
            }
        }
        let config = self.input.host.clone().with_only_system(policy);
        let list: Vec<Subject> = subjects.iter().map(|(_, s)| s.clone()).collect();
        let outcomes = proof::prove(&fs, &config, &list);
        let by_real: BTreeMap<&String, NodeIndex> = binaries
            .iter()
            .filter_map(|(real, (i, _))| Some((real, self.items[*i].node?)))
            .collect();
        let shown = |p: &Path| {
            p.strip_prefix(ROOT)
                .map_or_else(|_| p.display().to_string(), |r| r.display().to_string())
        };
        // A library loaded by path is the file planned there.
        for (place, node) in path_loads {
            let want = home.get(node).map(|h| Path::new(ROOT).join(h));
            let found = fs.real(&Path::new(ROOT).join(place));
            let is_file = found.as_deref().is_some_and(|f| {
                matches!(
                    crate::loader::FileSystem::probe(&fs, f),
                    crate::binary::Probe::File(_)
                )
            });
            if want.is_some() && (found != want || !is_file) {
                self.problems.push(Problem::UnservedLoad {
                    caller: "the app (by path)".into(),
                    origin: place.clone(),
                    name: place.clone(),
                    expected: want.as_deref().map(shown).unwrap_or_default(),
                    found: found.as_deref().map(shown),
                });
            }
        }
        let mut reported = BTreeSet::new();
        for outcome in outcomes {
            let (real, subject) = &subjects[outcome.subject];
            let Some(&node) = by_real.get(real) else {
                continue;
            };
            let target = if outcome.load {
                let Some(&(_, target)) = loads_by_caller
                    .get(real)
                    .and_then(|names| names.iter().find(|(n, _)| *n == outcome.need))
                else {
                    continue;
                };
                target
            } else {
                let Some(edge) = graph
                    .graph
                    .edges(node)
                    .find(|e| e.weight().name == outcome.need)
                else {
                    // The graph could not resolve it on the tracing machine either:
                    // reported there.
                    continue;
                };
                edge.target()
            };
            let system = graph.graph[target].system.is_some();
            let expected = if system {
                None
            } else {
                home.get(&target).map(|h| Path::new(ROOT).join(h))
            };
            let ok = match (&expected, &outcome.real) {
                (None, Some(found)) => !found.starts_with(ROOT),
                (Some(want), Some(found)) => found == want,
                (_, None) => false,
            };
            if ok || !reported.insert((real.clone(), outcome.need.clone(), outcome.load)) {
                continue;
            }
            let origin = outcome.origin.strip_prefix(ROOT).map_or_else(
                |_| outcome.origin.display().to_string(),
                |o| o.display().to_string(),
            );
            let origin = if origin.is_empty() {
                ".".into()
            } else {
                origin
            };
            let expected = expected
                .as_deref()
                .map_or_else(|| "a system library".to_owned(), shown);
            if outcome.load {
                self.problems.push(Problem::UnservedLoad {
                    caller: subject.label.clone(),
                    origin,
                    name: outcome.need.clone(),
                    expected,
                    found: outcome.real.as_deref().map(shown),
                });
                continue;
            }
            self.problems.push(Problem::Unproven {
                span: farm_of.get(real).map(|f| self.input.layout.farm(*f).span),
                binary: subject.label.clone(),
                origin,
                need: outcome.need.clone(),
                expected,
                found: outcome.real.as_deref().map(shown),
                searched: outcome
                    .resolution
                    .searched
                    .iter()
                    .map(ToString::to_string)
                    .collect(),
            });
        }
    }

    /// The launcher, and the `.pth` that puts the layout's folders on `sys.path` of the
    /// dist's interpreter (for the launcher's process and for every child started with
    /// `sys.executable`). Returns the launcher's and the interpreter's paths.
    fn launcher(&mut self, out: &mut Output) -> (String, String) {
        let layout = self.input.layout;
        let manifest = self.input.manifest;
        let env = self.launcher_env();
        self.carried = self.carried(&env);
        let Some(launcher) = &layout.launcher else {
            return (String::new(), String::new());
        };
        let interpreter_unit = launcher.python.value;
        let interpreter = self
            .items
            .iter()
            .find(|i| i.unit == interpreter_unit && i.source == manifest.python.realpath)
            .and_then(|i| i.dest.clone());
        let Some(interpreter) = interpreter else {
            self.problems.push(Problem::Launcher {
                span: launcher.python.span,
                reason: format!(
                    "unit `{}` does not place the interpreter `{}`",
                    layout.unit(interpreter_unit).name.value,
                    manifest.python.realpath.display()
                ),
            });
            return (String::new(), String::new());
        };
        // The interpreter finds its prefix by looking for `lib/pythonX.Y/os.py` above it.
        let prefix = parent(parent(&interpreter)).to_owned();
        let version = format!(
            "{}.{}",
            manifest.python.version.major, manifest.python.version.minor
        );
        let landmark = under(&prefix, &format!("lib/python{version}/os.py"));
        if !out.entries.contains_key(&landmark) {
            let span = layout
                .units_taking(Kind::Stdlib)
                .next()
                .and_then(|u| layout.unit(u).destination.as_ref().map(|d| d.span))
                .unwrap_or(launcher.span);
            self.problems.push(Problem::NoLandmark {
                span,
                interpreter: interpreter.clone(),
                expected: under(&prefix, &format!("lib/python{version}")),
            });
        }

        // Folders on sys.path: each file's destination without its `{path}` tail.
        let mut folders: Vec<String> = Vec::new();
        for unit in &launcher.sys_path {
            for item in self.items.iter().filter(|i| i.unit == unit.value) {
                let Some(dest) = &item.dest else { continue };
                let tail = item.vars.get(&Var::Path).or(item.vars.get(&Var::File));
                let folder = match tail {
                    Some(tail) if dest.ends_with(tail.as_str()) => dest[..dest.len() - tail.len()]
                        .trim_end_matches('/')
                        .to_owned(),
                    _ => parent(dest).to_owned(),
                };
                if !folders.contains(&folder) {
                    folders.push(folder);
                }
            }
        }
        let site = site_dir_below_prefix(manifest);
        let pth_dir = under(&prefix, &site);
        let mut pth =
            String::from("# Generated by shenzi: the dist's folders on sys.path, in order.\n");
        for folder in &folders {
            pth.push_str(&relative(&pth_dir, folder));
            pth.push('\n');
        }
        out.add_generated(
            &under(&pth_dir, "00-shenzi.pth"),
            "launcher",
            launcher.span,
            pth.into_bytes(),
            0o644,
            &mut self.problems,
        );

        let path = match launcher.path.render(&self.common) {
            Ok(p) => p,
            Err(err) => {
                self.problems.push(Problem::Launcher {
                    span: launcher.path.span,
                    reason: err.to_string(),
                });
                return (String::new(), interpreter);
            }
        };
        match launcher.form.value {
            LauncherForm::Symlink => {
                out.link(
                    &path,
                    "launcher",
                    launcher.span,
                    &relative(parent(&path), &interpreter),
                    &mut self.problems,
                );
            }
            LauncherForm::Sh => {
                let entry = match (&launcher.entry.value, manifest.entry.kind) {
                    (LauncherEntry::Module(m), _) => Some(LaunchEntry::Module(m.clone())),
                    (LauncherEntry::Traced, EntryKind::Module) => {
                        Some(LaunchEntry::Module(manifest.entry.target.clone()))
                    }
                    (LauncherEntry::Traced, EntryKind::Script | EntryKind::ConsoleScript) => self
                        .items
                        .iter()
                        .find(|i| i.source == Path::new(&manifest.entry.target) && i.dest.is_some())
                        .and_then(|i| i.dest.clone())
                        .map(LaunchEntry::Script),
                    (LauncherEntry::Traced, EntryKind::Code) => None,
                };
                let Some(entry) = entry else {
                    self.problems.push(Problem::Launcher {
                        span: launcher.entry.span,
                        reason: match manifest.entry.kind {
                            EntryKind::Code => "the trace ran `python -c`, which has no entry to start: use `entry module NAME`".into(),
                            _ => format!("no unit places the entry script `{}` (add one that takes `app.entry`)", manifest.entry.target),
                        },
                    });
                    return (path, interpreter);
                };
                let text = render_launcher(&LauncherSpec {
                    path: path.clone(),
                    interpreter: interpreter.clone(),
                    entry,
                    app_name: self.common[&Var::AppName].clone(),
                    flags: launcher
                        .flags
                        .iter()
                        .map(|f| f.value.option().to_owned())
                        .collect(),
                    path_first: self.program_folders(),
                    env,
                });
                out.add_generated(
                    &path,
                    "launcher",
                    launcher.path.span,
                    text.into_bytes(),
                    0o755,
                    &mut self.problems,
                );
            }
        }
        (path, interpreter)
    }

    /// A file planned where another entry needs a folder (`app` the launcher and
    /// `app/app.py`) cannot be written; report it with both writers.
    fn folder_clashes(&mut self, out: &Output) {
        let mut reported = BTreeSet::new();
        for dest in out.entries.keys() {
            let mut at = dest.as_str();
            while let Some((folder, _)) = at.rsplit_once('/') {
                if let Some(entry) = out.entries.get(folder) {
                    if !matches!(entry.content, Content::Dir) && reported.insert(folder.to_owned())
                    {
                        let writer = |d: &str| {
                            out.writers.get(d).cloned().unwrap_or((
                                entry.unit.clone(),
                                crate::layout::Span::default(),
                                PathBuf::new(),
                            ))
                        };
                        self.problems.push(Problem::Conflict {
                            dest: folder.to_owned(),
                            first: writer(folder),
                            second: writer(dest),
                        });
                        break;
                    }
                }
                at = folder;
            }
        }
    }

    /// Traced files no unit takes.
    fn unclaimed(&mut self) {
        let layout = self.input.layout;
        if layout.unclaimed.value == Unclaimed::Ignore {
            return;
        }
        let manifest = self.input.manifest;
        let mut taken: BTreeSet<&Path> = self.items.iter().map(|i| i.source.as_path()).collect();
        // A file already reported as not a file is not also "unclaimed".
        taken.extend(self.problems.iter().filter_map(|p| match p {
            Problem::EntryFile { path, .. } => Some(path.as_path()),
            _ => None,
        }));
        let mut traced: BTreeSet<&Path> = manifest
            .modules
            .iter()
            .filter_map(|m| m.file.as_deref())
            .collect();
        traced.extend(manifest.data_files.iter().map(|d| d.path.as_path()));
        traced.extend(manifest.scripts.iter().map(|d| d.path.as_path()));
        // `ignore` globs match the file's real path (Debian's stdlib `sitecustomize.py`
        // is a link into `/etc`), and the path it was traced at.
        let ignored = |p: &Path| {
            layout.ignore.is_match(&p.to_string_lossy())
                || std::fs::canonicalize(p)
                    .is_ok_and(|real| layout.ignore.is_match(&real.to_string_lossy()))
        };
        // A file reached through a link kept as a link is shipped with it.
        let links: Vec<&Path> = self.links.iter().map(|l| l.source.as_path()).collect();
        let files: Vec<PathBuf> = traced
            .into_iter()
            .filter(|p| !taken.contains(p))
            .filter(|p| !links.iter().any(|l| p.starts_with(l)))
            .filter(|p| !ignored(p))
            .map(Path::to_owned)
            .collect();
        // A distribution's metadata the app only read (`entry_points()` reads every
        // one) changes what `importlib.metadata` lists, never what imports: a warning
        // even under `unclaimed error`.
        let sites: Vec<&Path> = manifest
            .python
            .site_dirs
            .iter()
            .map(|s| s.path.as_path())
            .collect();
        let is_metadata = |p: &Path| {
            sites.iter().any(|site| {
                p.strip_prefix(site)
                    .ok()
                    .and_then(|rel| rel.components().next())
                    .is_some_and(|first| {
                        super::select::is_metadata(&first.as_os_str().to_string_lossy())
                    })
            })
        };
        let (metadata, files): (Vec<PathBuf>, Vec<PathBuf>) =
            files.into_iter().partition(|p| is_metadata(p));
        for (files, error) in [
            (files, layout.unclaimed.value == Unclaimed::Error),
            (metadata, false),
        ] {
            if !files.is_empty() {
                self.problems.push(Problem::Unclaimed {
                    files,
                    span: layout.unclaimed.span,
                    error,
                });
            }
        }
    }

    fn summarize(
        self,
        entries: BTreeMap<String, PlannedEntry>,
        record: DistRecord,
        graph: FarmGraph,
        floor: GlibcFloor,
    ) -> Planned {
        let layout = self.input.layout;
        let mut by_unit: Vec<(String, u64, u64)> = layout
            .units
            .iter()
            .map(|u| (u.name.value.clone(), 0, 0))
            .collect();
        let mut by_package: BTreeMap<String, (u64, u64)> = BTreeMap::new();
        let unit_index: BTreeMap<&str, usize> = layout
            .units
            .iter()
            .enumerate()
            .map(|(i, u)| (u.name.value.as_str(), i))
            .collect();
        let package_of: BTreeMap<&Path, &str> = self
            .items
            .iter()
            .filter_map(|i| Some((i.source.as_path(), i.package.as_deref()?)))
            .collect();
        for entry in entries.values() {
            if let Content::Copy { size, source, .. } = &entry.content {
                if let Some(&i) = unit_index.get(entry.unit.as_str()) {
                    by_unit[i].1 += 1;
                    by_unit[i].2 += size;
                }
                if let Some(package) = package_of.get(source.as_path()) {
                    let slot = by_package.entry((*package).to_owned()).or_default();
                    slot.0 += 1;
                    slot.1 += size;
                }
            }
        }
        let mut by_package: Vec<(String, u64, u64)> = by_package
            .into_iter()
            .map(|(k, (f, b))| (k, f, b))
            .collect();
        by_package.sort_by(|a, b| b.2.cmp(&a.2).then_with(|| a.0.cmp(&b.0)));
        let mut problems = self.problems;
        problems.sort_by_key(|p| (!p.is_error(), p.code()));
        Planned {
            plan: Plan {
                entries: entries.into_values().collect(),
                record,
            },
            report: PlanReport {
                src: self.input.source.named(),
                diagnostics: problems
                    .into_iter()
                    .map(|problem| PlanDiagnostic { problem })
                    .collect(),
            },
            graph,
            floor,
            by_unit,
            by_package,
            carried: self.carried,
        }
    }
}

/// The interpreter's own site folder, relative to its prefix: where its `site` module
/// looks at start-up outside a venv, as the dist's copy runs. The tracer asked the
/// interpreter's own `site.py` (`prefix_site_dirs`: `lib/python3.11/site-packages`;
/// Debian's `local/lib/python3.11/dist-packages` first of three); the first is used.
/// Manifests of older tracers lack it: then the `site.py` the dist ships decides
/// (Debian's reads only `dist-packages` folders), then the base interpreter's system
/// site dir.
fn site_dir_below_prefix(manifest: &Manifest) -> String {
    let python = &manifest.python;
    let version = format!("{}.{}", python.version.major, python.version.minor);
    let below_base = |p: &Path| {
        p.strip_prefix(&python.base_prefix)
            .or_else(|_| p.strip_prefix(&python.base_exec_prefix))
            .ok()
            .filter(|rel| !rel.as_os_str().is_empty())
            .map(|rel| rel.to_string_lossy().into_owned())
    };
    if let Some(rel) = python.prefix_site_dirs.iter().find_map(|p| below_base(p)) {
        return rel;
    }
    let debian = std::fs::read_to_string(python.stdlib.join("site.py"))
        .is_ok_and(|text| text.contains("dist-packages"));
    if debian {
        return format!("local/lib/python{version}/dist-packages");
    }
    python
        .site_dirs
        .iter()
        .filter(|s| s.kind == crate::manifest::SiteKind::System)
        .find_map(|s| below_base(&s.path))
        .unwrap_or_else(|| format!("lib/python{version}/site-packages"))
}

fn info_needs(info: &crate::binary::ObjectInfo, name: &str) -> bool {
    info.needed.iter().any(|n| n == name)
}

fn is_pyc(path: &Path) -> bool {
    path.extension().is_some_and(|e| e == "pyc")
        && path
            .parent()
            .and_then(Path::file_name)
            .is_some_and(|d| d == "__pycache__")
}

/// Whether a pyc is current for `source`: `Some(true)` timestamp-based and matching (to
/// be stamped), `Some(false)` hash-based, `None` stale or unreadable.
fn pyc_stamp(pyc: &Path, source: &Path) -> Option<bool> {
    use std::io::Read;
    use std::os::unix::fs::MetadataExt;
    let mut header = [0u8; 16];
    std::fs::File::open(pyc)
        .ok()?
        .read_exact(&mut header)
        .ok()?;
    let word = |at: usize| {
        u32::from_le_bytes([header[at], header[at + 1], header[at + 2], header[at + 3]])
    };
    if word(4) & 1 == 1 {
        return Some(false);
    }
    let meta = std::fs::metadata(source).ok()?;
    (word(4) == 0 && word(8) == meta.mtime() as u32 && word(12) == meta.size() as u32)
        .then_some(true)
}

/// The package a site dir's top-level entry belongs to, for the summary: a module's or
/// package's name without suffix, a metadata folder's distribution name.
fn package_name(top: &str) -> String {
    match top
        .strip_suffix(".dist-info")
        .or_else(|| top.strip_suffix(".egg-info"))
    {
        Some(dist) => dist.split('-').next().unwrap_or(dist).to_owned(),
        None => top.split('.').next().unwrap_or(top).to_owned(),
    }
}

/// How `{site.kind}` and `site` write a site dir's kind.
fn site_kind_name(kind: SiteKind) -> &'static str {
    match kind {
        SiteKind::Venv => "venv",
        SiteKind::System => "system",
        SiteKind::User => "user",
    }
}

/// Mode, size and identity (device, inode) of a file, as [`Planner::push_item`] takes them.
fn identity(meta: &std::fs::Metadata) -> (u32, u64, (u64, u64)) {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    (
        meta.permissions().mode(),
        meta.len(),
        (meta.dev(), meta.ino()),
    )
}

fn vars<const N: usize>(pairs: [(Var, String); N]) -> BTreeMap<Var, String> {
    BTreeMap::from(pairs)
}

fn path_vars(f: &Found) -> BTreeMap<Var, String> {
    vars([(Var::Path, f.rel.clone()), (Var::File, file_name(&f.path))])
}

/// The entries being planned, by destination, with conflicts detected as they come.
#[derive(Default)]
struct Output {
    entries: BTreeMap<String, PlannedEntry>,
    /// Who wrote each destination: unit name, span, source.
    writers: BTreeMap<String, (String, crate::layout::Span, PathBuf)>,
}

impl Output {
    #[allow(clippy::too_many_arguments)]
    fn add(
        &mut self,
        dest: &str,
        unit: &str,
        span: crate::layout::Span,
        content: Content,
        cache: &BinaryCache,
        problems: &mut Vec<Problem>,
        policy: ConflictPolicy,
    ) {
        let source = match &content {
            Content::Copy { source, .. } => source.clone(),
            _ => PathBuf::new(),
        };
        if let Some((first_unit, first_span, first_source)) = self.writers.get(dest) {
            let same_file = *first_source == source;
            let identical = same_file
                || (policy == ConflictPolicy::AllowIdentical
                    && same_content(cache, first_source, &source));
            if !identical || (policy == ConflictPolicy::Deny && first_unit != unit) {
                problems.push(Problem::Conflict {
                    dest: dest.to_owned(),
                    first: (first_unit.clone(), *first_span, first_source.clone()),
                    second: (unit.to_owned(), span, source),
                });
            }
            return;
        }
        self.writers
            .insert(dest.to_owned(), (unit.to_owned(), span, source));
        self.entries.insert(
            dest.to_owned(),
            PlannedEntry {
                dest: dest.to_owned(),
                unit: unit.to_owned(),
                content,
            },
        );
    }

    fn link(
        &mut self,
        dest: &str,
        unit: &str,
        span: crate::layout::Span,
        target: &str,
        problems: &mut Vec<Problem>,
    ) {
        match self.entries.get(dest) {
            Some(PlannedEntry {
                content: Content::Symlink { target: existing },
                ..
            }) if existing == target => {}
            Some(_) => problems.push(Problem::Conflict {
                dest: dest.to_owned(),
                first: self.writers.get(dest).cloned().unwrap_or((
                    String::new(),
                    span,
                    PathBuf::new(),
                )),
                second: (unit.to_owned(), span, PathBuf::from(target)),
            }),
            None => {
                self.writers.insert(
                    dest.to_owned(),
                    (unit.to_owned(), span, PathBuf::from(target)),
                );
                self.entries.insert(
                    dest.to_owned(),
                    PlannedEntry {
                        dest: dest.to_owned(),
                        unit: unit.to_owned(),
                        content: Content::Symlink {
                            target: target.to_owned(),
                        },
                    },
                );
            }
        }
    }

    fn add_generated(
        &mut self,
        dest: &str,
        unit: &str,
        span: crate::layout::Span,
        data: Vec<u8>,
        mode: u32,
        problems: &mut Vec<Problem>,
    ) {
        if self.entries.contains_key(dest) {
            problems.push(Problem::Conflict {
                dest: dest.to_owned(),
                first: self.writers.get(dest).cloned().unwrap_or((
                    String::new(),
                    crate::layout::Span::default(),
                    PathBuf::new(),
                )),
                second: (
                    unit.to_owned(),
                    crate::layout::Span::default(),
                    PathBuf::from("(generated)"),
                ),
            });
            return;
        }
        self.writers.insert(
            dest.to_owned(),
            (unit.to_owned(), span, PathBuf::from("(generated)")),
        );
        self.entries.insert(
            dest.to_owned(),
            PlannedEntry {
                dest: dest.to_owned(),
                unit: unit.to_owned(),
                content: Content::Bytes { data, mode },
            },
        );
    }
}

fn same_content(cache: &BinaryCache, a: &Path, b: &Path) -> bool {
    match (cache.probe(a), cache.probe(b)) {
        (Probe::File(x), Probe::File(y)) => x.hash() == y.hash(),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_paths_between_dist_folders() {
        assert_eq!(
            relative("lib/links/libz.so.1", "lib/reals/ab/libz.so.1.2"),
            "../../reals/ab/libz.so.1.2"
        );
        assert_eq!(relative("a/b", "a/b"), ".");
        assert_eq!(relative("", "lib/x"), "lib/x");
        assert_eq!(relative("python/bin", ""), "../..");
        assert_eq!(
            origin_entry("python/bin", "lib/links/python3.11"),
            "$ORIGIN/../../lib/links/python3.11"
        );
        assert_eq!(origin_entry("lib", "lib"), "$ORIGIN");
    }
}
