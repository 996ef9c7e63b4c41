//! Taking files: which files each unit chooses from the manifest and its source trees,
//! with imports winning over excludes, current bytecode kept, unclaimed files reported.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use rayon::prelude::*;

use super::{Item, Planner, SiteDir, file_name};
use crate::layout::{Action, Kind, Select, Unclaimed, Unit, UnitId, Var};
use crate::manifest::{EntryKind, ModuleKind, SiteKind};
use crate::plan::diagnostics::Problem;
use crate::plan::select::{
    AppData, Found, Inode, Unreadable, Walked, app_data, app_roots, imported_tops, read_tops,
    select_imported, select_used, shadowed_tops, walk, walk_tops,
};

/// What `select imported` keeps of the stdlib whatever the trace imported: the prefix
/// landmark `os.py` (frozen on 3.11 and later, so never imported from disk there) and the
/// codecs (the target's locale may ask for another one than the traced run's).
const STDLIB_KEEP: &[&str] = &["os.py", "encodings"];

impl Planner<'_> {
    pub(super) fn push(
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
    pub(super) fn chooses(
        &mut self,
        unit: UnitId,
        subject: &str,
        source: &Path,
        vars: &BTreeMap<Var, String>,
        package: &Option<String>,
        stat: Option<Stat>,
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
    pub(super) fn push_unchecked(
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
    pub(super) fn push_entry(
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
    pub(super) fn push_named(&mut self, unit: UnitId, path: &Path, what: &str) {
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
    pub(super) fn push_item(
        &mut self,
        unit: UnitId,
        source: PathBuf,
        mut vars: BTreeMap<Var, String>,
        package: Option<String>,
        Stat { mode, size, id }: Stat,
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
    pub(super) fn take_files(&mut self) {
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
                        self.take_python_tree(id, unit, &python.stdlib, &prune, STDLIB_KEEP);
                    }
                    Kind::Dynload => {
                        if let Some(dynload) = &python.dynload {
                            self.take_python_tree(id, unit, dynload, &[], &[]);
                        }
                    }
                    Kind::SiteDirs | Kind::Packages => self.take_sites(id, unit, kind),
                    Kind::Extensions => self.take_extensions(id),
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
                    Kind::AppModules => self.take_app_modules(id),
                    Kind::Scripts => {
                        for script in &manifest.scripts {
                            self.push_named(id, &script.path, "a script, in `scripts`");
                        }
                    }
                    Kind::Data => self.take_data(id),
                    Kind::Executables => self.take_programs(id),
                    Kind::NativeData => self.take_native_data(id),
                    // Libraries come from the farm graph, once it is built.
                    Kind::Needed | Kind::RuntimeLoads => {}
                }
            }
        }
    }

    /// The stdlib folder or lib-dynload: whole, or with `select imported` only what the
    /// trace used ([`select_used`]) and the entries of `keep`.
    fn take_python_tree(
        &mut self,
        id: UnitId,
        unit: &Unit,
        root: &Path,
        prune: &[PathBuf],
        keep: &[&str],
    ) {
        let Walked { files, unreadable } = walk(root, prune);
        self.unreadable(unreadable);
        let files = if unit.select.value == Select::Imported {
            select_used(self.input.manifest, root, &files, keep)
        } else {
            files
        };
        for f in files {
            self.push_found(id, &f, path_vars(&f), None);
        }
    }

    /// `python.site_dirs` (whole, or only what was imported or read) and
    /// `python.packages` (by package) of the site dirs the unit takes.
    fn take_sites(&mut self, id: UnitId, unit: &Unit, kind: Kind) {
        let manifest = self.input.manifest;
        let imported = kind == Kind::Packages || unit.select.value == Select::Imported;
        let mut sites = Vec::new();
        for SiteDir {
            index: site_index,
            path: site,
            kind: site_kind,
        } in self.site_dirs()
        {
            if !unit.takes_site(site_kind) {
                continue;
            }
            let site_vars = BTreeMap::from([
                (Var::SiteIndex, site_index.to_string()),
                (Var::SiteKind, site_kind_name(site_kind).to_owned()),
            ]);
            let Walked { files, unreadable } = walk(&site, &[]);
            self.unreadable(unreadable);
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
            sites.push(SiteFiles {
                vars: site_vars,
                folder,
                files,
            });
        }
        let merged: Vec<(Option<String>, &[Found])> = sites
            .iter()
            .map(|s| (s.folder.clone(), s.files.as_slice()))
            .collect();
        let shadowed = shadowed_tops(&merged);
        for (site, shadowed) in sites.into_iter().zip(shadowed) {
            for f in site.files {
                if shadowed.contains(f.rel.split('/').next().unwrap_or_default()) {
                    continue;
                }
                let package = f.rel.split('/').next().map(package_name);
                let mut v = site.vars.clone();
                v.extend(path_vars(&f));
                if kind == Kind::Packages {
                    v.insert(Var::Package, package.clone().unwrap_or_default());
                }
                self.push_found(id, &f, v, package);
            }
        }
    }

    /// `python.extensions`: the imported extension modules outside the stdlib.
    fn take_extensions(&mut self, id: UnitId) {
        let python = &self.input.manifest.python;
        let inside_stdlib = |f: &Path| {
            f.starts_with(&python.stdlib)
                && !python.site_dirs.iter().any(|s| f.starts_with(&s.path))
                || python.dynload.as_deref().is_some_and(|d| f.starts_with(d))
        };
        let modules: Vec<(String, PathBuf)> = self
            .input
            .manifest
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

    /// `app.modules`: the imported top-level names of the app's own folders.
    fn take_app_modules(&mut self, id: UnitId) {
        let manifest = self.input.manifest;
        for root in app_roots(manifest) {
            let tops = imported_tops(manifest, &root);
            let Walked { files, unreadable } = walk_tops(&root, &tops);
            self.unreadable(unreadable);
            for f in files {
                let package = f.rel.split('/').next().map(package_name);
                let mut v = path_vars(&f);
                v.insert(Var::Package, package.clone().unwrap_or_default());
                self.push_found(id, &f, v, package);
            }
        }
    }

    /// `app.data`: the data files the app read, below its folders.
    fn take_data(&mut self, id: UnitId) {
        for AppData { root, path } in app_data(self.input.manifest) {
            let rel = path
                .strip_prefix(&root)
                .map_or_else(|_| file_name(&path), |r| r.to_string_lossy().into_owned());
            let v = vars([(Var::Path, rel.clone()), (Var::File, file_name(&path))]);
            self.push_entry(id, &rel, path, v, "a data file, in `data_files`");
        }
    }

    /// Imports win over excludes: a file the trace imported or read that a unit's
    /// `exclude` matched, and that no unit took, is taken by the first unit (in layout
    /// order) that excluded it, with a warning naming the glob. An exclude is a
    /// convenience to drop what the app does not use; it never breaks what the app ran.
    /// (`only`, `site` and `action skip` say what a unit is, and are never overridden.)
    pub(super) fn keep_excluded_traces(&mut self) {
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
    pub(super) fn settle_bytecode(&mut self) {
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

    pub(super) fn unreadable(&mut self, entries: Vec<Unreadable>) {
        self.problems
            .extend(entries.into_iter().map(|u| Problem::Unreadable {
                path: u.path,
                reason: u.error.to_string(),
            }));
    }

    pub(super) fn push_found(
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
        let stat = Stat {
            mode: f.mode,
            size: f.size,
            id: f.id,
        };
        if f.mode & S_IFMT == S_IFREG
            && self.chooses(unit, &f.rel, &f.path, &vars, &package, Some(stat))
        {
            self.push_item(unit, f.path.clone(), vars, package, stat);
        }
    }

    /// Traced files no unit takes.
    pub(super) fn unclaimed(&mut self) {
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
                        crate::plan::select::is_metadata(&first.as_os_str().to_string_lossy())
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
}

/// The files of one site dir a unit takes, before shadowed names are dropped.
struct SiteFiles {
    /// `{site.index}`, `{site.kind}`.
    vars: BTreeMap<Var, String>,
    /// The folder the unit writes the site dir to, when it can be told.
    folder: Option<String>,
    files: Vec<Found>,
}

/// A traced file a unit's `exclude` matched, and everything needed to take it anyway.
#[derive(Debug, Clone)]
pub(super) struct Excluded {
    pub(super) unit: UnitId,
    pub(super) subject: String,
    pub(super) source: PathBuf,
    pub(super) vars: BTreeMap<Var, String>,
    pub(super) package: Option<String>,
    /// Mode, size and identity when the walk knew them.
    pub(super) stat: Option<Stat>,
}

pub(super) fn is_pyc(path: &Path) -> bool {
    path.extension().is_some_and(|e| e == "pyc")
        && path
            .parent()
            .and_then(Path::file_name)
            .is_some_and(|d| d == "__pycache__")
}

/// Whether a pyc is current for `source`: `Some(true)` timestamp-based and matching (to
/// be stamped), `Some(false)` hash-based, `None` stale or unreadable.
pub(super) fn pyc_stamp(pyc: &Path, source: &Path) -> Option<bool> {
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
pub(super) fn package_name(top: &str) -> String {
    match top
        .strip_suffix(".dist-info")
        .or_else(|| top.strip_suffix(".egg-info"))
    {
        Some(dist) => dist.split('-').next().unwrap_or(dist).to_owned(),
        None => top.split('.').next().unwrap_or(top).to_owned(),
    }
}

/// How `{site.kind}` and `site` write a site dir's kind.
pub(super) fn site_kind_name(kind: SiteKind) -> &'static str {
    match kind {
        SiteKind::Venv => "venv",
        SiteKind::System => "system",
        SiteKind::User => "user",
    }
}

/// Mode, size and identity of a file, from one `stat`, as [`Planner::push_item`] takes them.
#[derive(Debug, Clone, Copy)]
pub(super) struct Stat {
    mode: u32,
    size: u64,
    id: Inode,
}

pub(super) fn identity(meta: &std::fs::Metadata) -> Stat {
    use std::os::unix::fs::PermissionsExt;
    Stat {
        mode: meta.permissions().mode(),
        size: meta.len(),
        id: Inode::of(meta),
    }
}

pub(super) fn vars<const N: usize>(pairs: [(Var, String); N]) -> BTreeMap<Var, String> {
    BTreeMap::from(pairs)
}

pub(super) fn path_vars(f: &Found) -> BTreeMap<Var, String> {
    vars([(Var::Path, f.rel.clone()), (Var::File, file_name(&f.path))])
}
