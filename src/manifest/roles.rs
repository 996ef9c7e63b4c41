//! Runs with roles: the manifest as the planner sees it, without what only coverage runs
//! (a test suite) brought from the site dirs, and with the project file's choice of
//! top-level packages to include or exclude.
//!
//! A coverage run contributes its run-time loads, native objects and the app's own
//! modules; a top-level entry of a site dir that no shipping run touched (`pytest`,
//! `_pytest`, `pluggy`) is left out with everything below it, unless it is included.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use super::folders::{app_roots, python_folders};
use super::{Manifest, Module, ModuleKind, RunId, RunRole};

/// Top-level module names the project file names (`[modules] include`, `exclude`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Selection {
    /// Shipped even when only coverage runs imported them, or nothing imported them.
    pub include: BTreeSet<String>,
    /// Never shipped from a site dir or the app's folders, whatever imported them.
    pub exclude: BTreeSet<String>,
}

/// A top-level package the planner does not see, and why.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct LeftOut {
    /// The top-level name below its folder (`pytest`, `_pytest`, `six.py`).
    pub top: String,
    /// The site dir or app folder it is in.
    pub folder: PathBuf,
    pub why: Why,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Why {
    /// Only these coverage runs imported it.
    CoverageOnly(Vec<RunId>),
    /// The project file's `exclude` names it.
    Excluded,
}

/// Where a top-level package came from: the runs that imported something of it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Brought {
    pub top: String,
    pub folder: PathBuf,
    pub runs: Vec<RunId>,
}

/// The manifest the planner plans, and what was taken out of it.
#[derive(Debug, Clone)]
pub struct Shipping {
    pub manifest: Manifest,
    pub left_out: Vec<LeftOut>,
}

/// Which folder (a site dir, or one of the app's folders) holds `path`, and its
/// top-level entry there. A folder of the interpreter nested inside (a venv inside the
/// app's folder) owns what lies in it.
struct Folders {
    /// `(folder, is a site dir)`.
    tops: Vec<(PathBuf, bool)>,
    /// Every other folder of the interpreter: what lies in one is not a package's.
    others: Vec<PathBuf>,
}

impl Folders {
    fn of(manifest: &Manifest) -> Folders {
        let python = &manifest.python;
        let mut tops: Vec<(PathBuf, bool)> = python
            .site_dirs
            .iter()
            .map(|s| (s.path.clone(), true))
            .collect();
        tops.extend(app_roots(manifest).into_iter().map(|p| (p, false)));
        let others = python_folders(manifest)
            .chain([python.prefix.as_path(), python.base_prefix.as_path()])
            .filter(|p| !tops.iter().any(|(t, _)| t == p))
            .map(Path::to_owned)
            .collect();
        Folders { tops, others }
    }

    /// `(folder index, top-level name)` of a file.
    fn top_of(&self, path: &Path) -> Option<(usize, String)> {
        let (index, folder) = self
            .tops
            .iter()
            .enumerate()
            .filter(|(_, (f, _))| path.starts_with(f))
            .max_by_key(|(_, (f, _))| f.components().count())?;
        let depth = folder.0.components().count();
        if self
            .others
            .iter()
            .any(|o| path.starts_with(o) && o.components().count() > depth)
        {
            return None;
        }
        let first = path.strip_prefix(&folder.0).ok()?.components().next()?;
        Some((index, first.as_os_str().to_string_lossy().into_owned()))
    }

    /// A module's top: by its file, or by its name for a namespace package.
    fn module_top(&self, module: &Module) -> Option<(usize, String)> {
        match &module.file {
            Some(file) => self.top_of(file),
            None => {
                let first = module.name.split('.').next().unwrap_or_default();
                self.tops
                    .iter()
                    .position(|(f, _)| f.join(first).is_dir())
                    .map(|i| (i, first.to_owned()))
            }
        }
    }
}

/// The importable name of a top-level entry: `six.py` → `six`, `_cffi_backend.cpython-311-x86_64-linux-gnu.so` → `_cffi_backend`.
fn import_name(top: &str) -> &str {
    top.split('.').next().unwrap_or(top)
}

/// For every top-level package of a site dir or app folder that a module was imported
/// from, the runs that imported it, sorted by folder and name.
pub fn brought_by(manifest: &Manifest) -> Vec<Brought> {
    let folders = Folders::of(manifest);
    let mut by: BTreeMap<(usize, String), BTreeSet<RunId>> = BTreeMap::new();
    for module in &manifest.modules {
        if let Some(key) = folders.module_top(module) {
            by.entry(key)
                .or_default()
                .extend(module.runs.iter().cloned());
        }
    }
    by.into_iter()
        .map(|((i, top), runs)| Brought {
            top,
            folder: folders.tops[i].0.clone(),
            runs: runs.into_iter().collect(),
        })
        .collect()
}

/// The manifest without the site dirs' top-level packages that only coverage runs
/// imported (unless `selection` includes them) and without those it excludes; included
/// packages no run imported are added as imported.
pub fn shipping(manifest: &Manifest, selection: &Selection) -> Shipping {
    let folders = Folders::of(manifest);
    let role: BTreeMap<&str, RunRole> = manifest
        .runs
        .iter()
        .map(|r| (r.id.as_str(), r.role))
        .collect();
    // A record without a known run is the app's (hand-written manifests).
    let ships = |runs: &[RunId]| {
        runs.is_empty()
            || runs.iter().any(|r| {
                role.get(r.as_str())
                    .is_none_or(|&role| role == RunRole::Ship)
            })
    };
    let excluded = |top: &str| selection.exclude.contains(import_name(top));
    let included = |top: &str| selection.include.contains(import_name(top));

    // The tops a shipping run imported, and the coverage runs that imported the others.
    let mut shipped: BTreeSet<(usize, String)> = BTreeSet::new();
    let mut coverage: BTreeMap<(usize, String), BTreeSet<RunId>> = BTreeMap::new();
    for module in &manifest.modules {
        let Some(key) = folders.module_top(module) else {
            continue;
        };
        if ships(&module.runs) || !folders.tops[key.0].1 || included(&key.1) {
            shipped.insert(key);
        } else {
            coverage
                .entry(key)
                .or_default()
                .extend(module.runs.iter().cloned());
        }
    }
    let mut left_out: Vec<LeftOut> = Vec::new();
    for (key, runs) in &coverage {
        if !shipped.contains(key) && !excluded(&key.1) {
            left_out.push(LeftOut {
                top: key.1.clone(),
                folder: folders.tops[key.0].0.clone(),
                why: Why::CoverageOnly(runs.iter().cloned().collect()),
            });
        }
    }
    let mut named: BTreeSet<(usize, String)> =
        shipped.iter().chain(coverage.keys()).cloned().collect();
    named.retain(|(_, top)| excluded(top));
    for (i, top) in &named {
        left_out.push(LeftOut {
            top: top.clone(),
            folder: folders.tops[*i].0.clone(),
            why: Why::Excluded,
        });
    }
    left_out.sort();

    // A record stays unless it lies below an excluded top, or below a site dir's top no
    // shipping run imported and only coverage runs recorded it.
    let keep = |path: Option<&Path>, runs: &[RunId]| -> bool {
        let Some((i, top)) = path.and_then(|p| folders.top_of(p)) else {
            return true;
        };
        if excluded(&top) {
            return false;
        }
        let site = folders.tops[i].1;
        !site || ships(runs) || included(&top) || shipped.contains(&(i, top))
    };
    let mut m = manifest.clone();
    m.modules.retain(|module| match folders.module_top(module) {
        Some((i, top)) if module.file.is_none() => {
            !excluded(&top)
                && (!folders.tops[i].1 || ships(&module.runs) || shipped.contains(&(i, top)))
        }
        _ => keep(module.file.as_deref(), &module.runs),
    });
    m.native.objects.retain(|o| keep(Some(&o.path), &o.runs));
    m.native
        .loads
        .retain(|l| keep(l.resolved.as_deref(), &l.runs));
    m.data_files.retain(|d| keep(Some(&d.path), &d.runs));
    m.native_data.retain(|d| keep(Some(&d.path), &d.runs));

    // Included packages nothing imported: recorded as imported, so that `select imported`
    // takes them.
    for name in &selection.include {
        let seen = m
            .modules
            .iter()
            .any(|module| module.name.split('.').next() == Some(name.as_str()));
        if seen || selection.exclude.contains(name) {
            continue;
        }
        let found = folders.tops.iter().find_map(|(folder, _)| {
            let package = folder.join(name);
            let module = folder.join(format!("{name}.py"));
            if package.join("__init__.py").is_file() {
                Some((package.join("__init__.py"), ModuleKind::Source))
            } else if package.is_dir() {
                Some((package, ModuleKind::Namespace))
            } else if module.is_file() {
                Some((module, ModuleKind::Source))
            } else {
                None
            }
        });
        if let Some((file, kind)) = found {
            m.modules.push(Module {
                name: name.clone(),
                kind,
                file: (kind != ModuleKind::Namespace).then_some(file),
                runs: Vec::new(),
            });
        }
    }
    m.modules.sort();
    Shipping {
        manifest: m,
        left_out,
    }
}
