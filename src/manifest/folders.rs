//! Where the traced app's code is, as the manifest tells it: the app's own folders on
//! `sys.path`, the interpreter's folders, and the top-level names imported from a folder.
//! The planner selects files with these; the layout's manifest checks ask them too.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use super::{Manifest, SysPathKind};

/// The folders on `sys.path` that hold the application's own code: the entry script's
/// folder, `PYTHONPATH` entries and other folders, but not the stdlib, lib-dynload, a
/// site dir or a zip, and not a folder inside one of those.
pub fn app_roots(manifest: &Manifest) -> Vec<PathBuf> {
    let python = &manifest.python;
    let mut owned: Vec<&Path> = python.site_dirs.iter().map(|s| s.path.as_path()).collect();
    owned.push(&python.stdlib);
    owned.push(&python.platstdlib);
    owned.extend(python.dynload.as_deref());
    let mut roots: Vec<PathBuf> = python
        .sys_path
        .iter()
        .filter(|e| {
            matches!(
                e.kind,
                SysPathKind::App | SysPathKind::Pythonpath | SysPathKind::Other
            )
        })
        .map(|e| e.path.clone())
        .filter(|p| p.is_dir() && !owned.iter().any(|o| p.starts_with(o)))
        .collect();
    let mut seen = BTreeSet::new();
    roots.retain(|p| seen.insert(p.clone()));
    roots
}

/// Every folder of the traced interpreter a file can belong to: the `sys.path` entries,
/// the site dirs, the stdlib folders and lib-dynload.
pub fn python_folders(manifest: &Manifest) -> impl Iterator<Item = &Path> {
    let python = &manifest.python;
    python
        .sys_path
        .iter()
        .map(|e| e.path.as_path())
        .chain(python.site_dirs.iter().map(|s| s.path.as_path()))
        .chain([python.stdlib.as_path(), python.platstdlib.as_path()])
        .chain(python.dynload.as_deref())
}

/// The top-level names below `site` that the trace imported: the first path component
/// of every imported module file below it (unless a more specific `sys.path` folder,
/// site dir, stdlib or prefix inside `site` holds the file), and the first dotted part
/// of every imported module name (namespace packages have no file).
pub fn imported_tops(manifest: &Manifest, site: &Path) -> BTreeSet<String> {
    // A module belongs to the most specific folder it lies in: a venv inside the app's
    // folder (`project/.venv`) is the venv's, not the app's.
    let python = &manifest.python;
    let nested: Vec<&Path> = python_folders(manifest)
        .chain([python.prefix.as_path(), python.base_prefix.as_path()])
        .filter(|p| *p != site && p.starts_with(site))
        .collect();
    let mut tops = BTreeSet::new();
    for module in &manifest.modules {
        match &module.file {
            Some(file) if nested.iter().any(|n| file.starts_with(n)) => {}
            Some(file) => {
                if let Ok(rel) = file.strip_prefix(site) {
                    if let Some(first) = rel.components().next() {
                        tops.insert(first.as_os_str().to_string_lossy().into_owned());
                    }
                }
            }
            None => {
                let first = module.name.split('.').next().unwrap_or_default();
                if site.join(first).is_dir() {
                    tops.insert(first.to_owned());
                }
            }
        }
    }
    tops
}
