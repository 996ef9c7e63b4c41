//! Choosing files from source folders: walking a tree, and narrowing a site dir to the
//! top-level packages the trace imported, with their metadata.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use rayon::prelude::*;

use crate::manifest::Manifest;
use crate::manifest::folders::python_folders;
// What the manifest says about the app's folders lives with the manifest (the layout
// checks use it too); the planner's callers still find it here.
pub use crate::manifest::folders::{app_roots, imported_tops};

/// A regular file or symlink below a walked folder.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Found {
    /// Relative to the walked folder, `/`-separated.
    pub rel: String,
    pub path: PathBuf,
    /// For a symlink, its target as written.
    pub link: Option<PathBuf>,
    pub mode: u32,
    pub size: u64,
    pub id: Inode,
}

/// `(st_dev, st_ino)`: a file's identity whatever path reaches it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Inode {
    pub dev: u64,
    pub ino: u64,
}

impl Inode {
    pub fn of(meta: &std::fs::Metadata) -> Inode {
        use std::os::unix::fs::MetadataExt;
        Inode {
            dev: meta.dev(),
            ino: meta.ino(),
        }
    }
}

/// What a walk found: the files, and the entries it could not read.
pub struct Walked {
    pub files: Vec<Found>,
    pub unreadable: Vec<Unreadable>,
}

/// An entry a walk could not read, and why.
pub struct Unreadable {
    pub path: PathBuf,
    pub error: std::io::Error,
}

/// Every file below `root`, sorted by relative path, without descending into `prune`
/// (nested folders that belong to other units, such as `site-packages` inside the
/// stdlib). Symlinks are reported as links, never followed. Unreadable entries are
/// returned in `unreadable` rather than dropped silently.
pub fn walk(root: &Path, prune: &[PathBuf]) -> Walked {
    use rayon::prelude::*;
    use std::os::unix::fs::PermissionsExt;
    // The folders are read in order (cheap: `getdents` gives each entry's type); the
    // `lstat` of every file, the expensive part, runs in parallel, in the same order.
    let mut entries: Vec<(PathBuf, String, bool)> = Vec::new();
    let mut errors = Vec::new();
    let mut walker = walkdir::WalkDir::new(root)
        .follow_links(false)
        .sort_by_file_name()
        .into_iter();
    while let Some(entry) = walker.next() {
        let entry = match entry {
            Ok(entry) => entry,
            Err(err) => {
                let path = err.path().map(Path::to_owned).unwrap_or_default();
                errors.push(Unreadable {
                    path,
                    error: err.into(),
                });
                continue;
            }
        };
        if entry.depth() > 0
            && entry.file_type().is_dir()
            && prune.iter().any(|p| p == entry.path())
        {
            walker.skip_current_dir();
            continue;
        }
        // The root itself is no file of the tree, even when it is a link to a folder
        // (walked through).
        if entry.depth() == 0 || entry.file_type().is_dir() {
            continue;
        }
        let Ok(rel) = entry.path().strip_prefix(root) else {
            continue;
        };
        let rel = rel.to_string_lossy().into_owned();
        let is_link = entry.file_type().is_symlink();
        entries.push((entry.into_path(), rel, is_link));
    }
    let stats: Vec<Result<Found, Unreadable>> = entries
        .into_par_iter()
        .map(
            |(path, rel, is_link)| match std::fs::symlink_metadata(&path) {
                Ok(meta) => Ok(Found {
                    rel,
                    link: is_link.then(|| std::fs::read_link(&path).ok()).flatten(),
                    mode: meta.permissions().mode(),
                    size: meta.len(),
                    id: Inode::of(&meta),
                    path,
                }),
                Err(error) => Err(Unreadable { path, error }),
            },
        )
        .collect();
    let mut found = Vec::with_capacity(stats.len());
    for stat in stats {
        match stat {
            Ok(f) => found.push(f),
            Err(e) => errors.push(e),
        }
    }
    Walked {
        files: found,
        unreadable: errors,
    }
}

/// The files of the top-level entries `tops` of `folder` (a package folder whole, or a
/// module file), without walking anything else: the folder may be a large working
/// folder of which the app imported one package.
pub fn walk_tops(folder: &Path, tops: &BTreeSet<String>) -> Walked {
    let mut found = Vec::new();
    let mut errors = Vec::new();
    for top in tops {
        let path = folder.join(top);
        // One `lstat` decides: a top the folder does not have is another folder's; a
        // link is reported as a link, as [`walk`] does.
        let Ok(meta) = std::fs::symlink_metadata(&path) else {
            continue;
        };
        use std::os::unix::fs::PermissionsExt;
        if meta.file_type().is_symlink() {
            found.push(Found {
                rel: top.clone(),
                link: std::fs::read_link(&path).ok(),
                mode: meta.permissions().mode(),
                size: meta.len(),
                id: Inode::of(&meta),
                path,
            });
        } else if meta.is_dir() {
            let Walked { files, unreadable } = walk(&path, &[]);
            errors.extend(unreadable);
            found.extend(files.into_iter().map(|f| Found {
                rel: format!("{top}/{}", f.rel),
                ..f
            }));
        } else if meta.is_file() {
            found.push(Found {
                rel: top.clone(),
                path,
                link: None,
                mode: meta.permissions().mode(),
                size: meta.len(),
                id: Inode::of(&meta),
            });
        }
    }
    found.sort();
    Walked {
        files: found,
        unreadable: errors,
    }
}

/// The folder a walked file's `rel` is relative to: its tree's root.
pub fn tree_root(f: &Found) -> PathBuf {
    let depth = f.rel.split('/').count();
    f.path
        .ancestors()
        .nth(depth)
        .map_or_else(PathBuf::new, Path::to_owned)
}

/// Where a symlink found in a source tree leads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkTarget {
    /// A file of the same tree, by its path below the root.
    File(String),
    /// A folder of the same tree (`""` for the root itself), and its real path.
    Dir(String, PathBuf),
    /// Something outside the tree, by its real path.
    Outside(PathBuf),
    /// Nothing: a dangling link or a loop of links.
    Broken,
}

/// Resolves the symlink `f` of the tree at `root`, through every link in the chain, and
/// says whether it stays inside the tree (compared as real paths: the tree's own path may
/// run through links, such as a `.cache` link to another disk).
pub fn resolve_link(root: &Path, f: &Found) -> LinkTarget {
    let (Ok(real_root), Ok(real)) = (std::fs::canonicalize(root), std::fs::canonicalize(&f.path))
    else {
        return LinkTarget::Broken;
    };
    let Ok(rel) = real.strip_prefix(&real_root) else {
        return LinkTarget::Outside(real);
    };
    let rel = rel.to_string_lossy().into_owned();
    match std::fs::metadata(&real) {
        Ok(meta) if meta.is_dir() => LinkTarget::Dir(rel, real),
        Ok(meta) if meta.is_file() => LinkTarget::File(rel),
        // A socket or a pipe is no file to ship.
        Ok(_) => LinkTarget::Outside(real),
        Err(_) => LinkTarget::Broken,
    }
}

/// Narrows the files of one site dir to the imported top-level entries, the
/// `*.dist-info` / `*.egg-info` folders whose `RECORD` (or `top_level.txt`) names one,
/// and the site dir's `*.pth` files (site.py ran them during the trace, so what they
/// import was imported and is selected too). `files` are the site dir's walked files.
pub fn select_imported(site: &Path, files: &[Found], tops: &BTreeSet<String>) -> Vec<Found> {
    // Metadata folders, and the top-level entries each one installed.
    let mut meta: BTreeMap<String, Vec<&Found>> = BTreeMap::new();
    for f in files {
        let first = f.rel.split('/').next().unwrap_or_default();
        if is_metadata(first) {
            meta.entry(first.to_owned()).or_default().push(f);
        }
    }
    let owners: BTreeSet<String> = meta
        .par_iter()
        .filter(|(folder, _)| {
            installed_tops(&site.join(folder))
                .iter()
                .any(|t| tops.contains(t))
        })
        .map(|(folder, _)| folder.clone())
        .collect();
    files
        .iter()
        .filter(|f| {
            let first = f.rel.split('/').next().unwrap_or_default();
            tops.contains(first)
                || owners.contains(first)
                || (!f.rel.contains('/') && f.rel.ends_with(".pth"))
        })
        .cloned()
        .collect()
}

/// Narrows the files of the stdlib folder or lib-dynload (`root`) to what the trace
/// used, for `select imported`: every module file it imported from below `root` (a
/// `.py`, a `.pyc` without source, an extension module), the `__init__` of every package
/// above one, the `__pycache__` bytecode of each kept source (the planner keeps only
/// this interpreter's current ones), and every file the trace read below `root` (data).
/// `keep` names what startup needs whatever the trace saw: top-level entries kept whole.
/// The interpreter finds its prefix by the stdlib's `os.py` (on 3.11 and later `os` is
/// frozen, so the trace never imports it from disk), and the stdio codec of the target's
/// locale may differ from the traced one, so the stdlib keeps `os.py` and `encodings/`.
/// Every imported module's name also keeps the source its name gives (`a/b.py`,
/// `a/b/__init__.py`) when the folder has it: a module may replace itself in
/// `sys.modules` (3.13's `collections/abc.py` leaves `_collections_abc` there, so the
/// trace sees a frozen module under its name), and a frozen module's source is what
/// the interpreter imports when frozen modules are off. Built-in modules have no file.
pub fn select_used(manifest: &Manifest, root: &Path, files: &[Found], keep: &[&str]) -> Vec<Found> {
    let mut used: BTreeSet<String> = BTreeSet::new();
    let below = |path: &Path| {
        path.strip_prefix(root)
            .ok()
            .map(|rel| rel.to_string_lossy().into_owned())
    };
    for module in &manifest.modules {
        let Some(rel) = module.file.as_deref().and_then(below) else {
            continue;
        };
        // The packages above it: their `__init__` ran first.
        let mut at = rel.as_str();
        while let Some((folder, _)) = at.rsplit_once('/') {
            used.insert(format!("{folder}/__init__.py"));
            at = folder;
        }
        used.insert(rel);
    }
    used.extend(manifest.data_files.iter().filter_map(|d| below(&d.path)));
    let present: BTreeSet<&str> = files.iter().map(|f| f.rel.as_str()).collect();
    for module in &manifest.modules {
        let path = module.name.replace('.', "/");
        for candidate in [format!("{path}.py"), format!("{path}/__init__.py")] {
            if present.contains(candidate.as_str()) {
                let mut at = candidate.as_str();
                while let Some((folder, _)) = at.rsplit_once('/') {
                    used.insert(format!("{folder}/__init__.py"));
                    at = folder;
                }
                used.insert(candidate);
            }
        }
    }
    // `dir/__pycache__/name.TAG.pyc` belongs to `dir/name.py`.
    let source_of = |rel: &str| -> Option<String> {
        let (folder, file) = rel.rsplit_once('/').unwrap_or(("", rel));
        let folder = match folder.rsplit_once('/') {
            Some((up, "__pycache__")) => format!("{up}/"),
            None if folder == "__pycache__" => String::new(),
            _ => return None,
        };
        let module = file.strip_suffix(".pyc")?.split('.').next()?;
        Some(format!("{folder}{module}.py"))
    };
    files
        .iter()
        .filter(|f| {
            let first = f.rel.split('/').next().unwrap_or_default();
            used.contains(&f.rel)
                || keep.contains(&first)
                || keep.contains(&f.rel.as_str())
                || source_of(&f.rel)
                    .is_some_and(|s| used.contains(&s) || keep.contains(&s.as_str()))
        })
        .cloned()
        .collect()
}

/// The top-level entries directly below `site` that the trace read a data file from,
/// imported or not: the metadata folders (`*.dist-info`, `*.egg-info`, Debian's
/// single-file `*.egg-info`) of every distribution an app that looks up entry points
/// (`importlib.metadata.entry_points()`) saw, and the folders of package data it read.
/// They are small, and what the app used.
pub fn read_tops(manifest: &Manifest, site: &Path) -> BTreeSet<String> {
    manifest
        .data_files
        .iter()
        .filter_map(|d| d.path.strip_prefix(site).ok())
        .filter_map(|rel| rel.components().next())
        .map(|first| first.as_os_str().to_string_lossy().into_owned())
        .collect()
}

/// A data file of the app ([`app_data`]), with the app folder it lies in.
pub struct AppData {
    pub root: PathBuf,
    pub path: PathBuf,
}

/// The data files the trace read below the application's own folders ([`app_roots`]),
/// each with the root it lies in: not below a site dir, the stdlib or any more specific
/// `sys.path` folder inside the root (those are other units' files).
pub fn app_data(manifest: &Manifest) -> Vec<AppData> {
    let roots = app_roots(manifest);
    let folders: Vec<&Path> = python_folders(manifest)
        .chain(roots.iter().map(PathBuf::as_path))
        .collect();
    manifest
        .data_files
        .iter()
        .filter_map(|d| {
            let owner = folders
                .iter()
                .filter(|f| d.path.starts_with(f))
                .max_by_key(|f| f.as_os_str().len())?;
            roots.iter().any(|r| r == owner).then(|| AppData {
                root: owner.to_path_buf(),
                path: d.path.clone(),
            })
        })
        .collect()
}

/// A distribution's metadata entry of a site dir.
pub fn is_metadata(top: &str) -> bool {
    top.ends_with(".dist-info") || top.ends_with(".egg-info")
}

/// For site dirs one unit writes into folders given by `sites` (the unit's destination
/// rendered for each, `None` when it writes nothing), in `sys.path` order: the top-level
/// entries of each that an earlier site dir merged into the same folder shadows. Python
/// imports a name from the first `sys.path` folder that has it, so a merged folder keeps
/// that one: a later package, module or metadata folder of the same name is left out
/// whole (never mixed file by file with the earlier one's), except namespace package
/// portions (folders without `__init__`), which Python merges across folders too.
pub fn shadowed_tops(sites: &[(Option<String>, &[Found])]) -> Vec<BTreeSet<String>> {
    // (merged folder, name as imported) -> whether its provider is a namespace portion.
    let mut provided: BTreeMap<(&str, String), bool> = BTreeMap::new();
    let mut result = Vec::with_capacity(sites.len());
    for (folder, files) in sites {
        let mut dropped = BTreeSet::new();
        let Some(folder) = folder.as_deref() else {
            result.push(dropped);
            continue;
        };
        // This site dir's top-level entries: is a folder, has an `__init__`.
        let mut tops: BTreeMap<&str, (bool, bool)> = BTreeMap::new();
        for f in files.iter() {
            match f.rel.split_once('/') {
                Some((top, rest)) => {
                    let entry = tops.entry(top).or_default();
                    entry.0 = true;
                    entry.1 |= rest.starts_with("__init__.") && !rest.contains('/');
                }
                None => {
                    tops.entry(f.rel.as_str()).or_default();
                }
            }
        }
        let mut mine = Vec::new();
        for (top, (is_dir, has_init)) in tops {
            let (name, namespace) = if is_dir && !top.contains('.') {
                (top.to_owned(), !has_init)
            } else if !is_dir && [".py", ".pyc", ".so"].iter().any(|e| top.ends_with(e)) {
                // `six.py`, `_cffi_backend.cpython-311-x86_64-linux-gnu.so`: by module name.
                (top.split('.').next().unwrap_or(top).to_owned(), false)
            } else {
                (top.to_owned(), false)
            };
            match provided.get(&(folder, name.clone())) {
                Some(&earlier_namespace) if !(earlier_namespace && namespace) => {
                    dropped.insert(top.to_owned());
                }
                Some(_) => {}
                None => mine.push((name, namespace)),
            }
        }
        for (name, namespace) in mine {
            provided.insert((folder, name), namespace);
        }
        result.push(dropped);
    }
    result
}

/// The top-level entries a distribution installed, from its `RECORD` (every path's
/// first component) or, for eggs, `top_level.txt`.
fn installed_tops(meta_dir: &Path) -> BTreeSet<String> {
    let mut tops = BTreeSet::new();
    if let Ok(record) = std::fs::read_to_string(meta_dir.join("RECORD")) {
        for line in record.lines() {
            // RECORD is CSV; a path with a comma is quoted. Only the first component of
            // the path matters here.
            let path = line.trim_start_matches('"');
            let first = path.split(['/', ',']).next().unwrap_or_default();
            if !first.is_empty() && !first.starts_with("..") {
                tops.insert(first.to_owned());
            }
        }
    }
    if let Ok(text) = std::fs::read_to_string(meta_dir.join("top_level.txt")) {
        tops.extend(
            text.lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .map(str::to_owned),
        );
    }
    // A bare module installs `name.py` or `name.cpython-311-....so`: compare by stem.
    let stems: Vec<String> = tops
        .iter()
        .filter_map(|t| t.split('.').next().map(str::to_owned))
        .collect();
    tops.extend(stems);
    tops
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn walking_prunes_nested_units_and_keeps_links_as_links() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("pkg/sub")).unwrap();
        std::fs::create_dir_all(root.join("site-packages/other")).unwrap();
        std::fs::write(root.join("pkg/a.py"), "a").unwrap();
        std::fs::write(root.join("pkg/sub/b.py"), "bb").unwrap();
        std::fs::write(root.join("site-packages/other/c.py"), "c").unwrap();
        std::os::unix::fs::symlink("pkg/a.py", root.join("link.py")).unwrap();
        let Walked {
            files: found,
            unreadable,
        } = walk(root, &[root.join("site-packages")]);
        assert!(unreadable.is_empty());
        let rels: Vec<&str> = found.iter().map(|f| f.rel.as_str()).collect();
        assert_eq!(rels, ["link.py", "pkg/a.py", "pkg/sub/b.py"]);
        assert_eq!(found[0].link.as_deref(), Some(Path::new("pkg/a.py")));
        assert_eq!(found[2].size, 2);
    }

    fn found(rel: &str) -> Found {
        Found {
            rel: rel.into(),
            path: PathBuf::from("/site").join(rel),
            link: None,
            mode: 0o100644,
            size: 0,
            id: Inode { dev: 0, ino: 0 },
        }
    }

    #[test]
    fn merged_site_dirs_shadow_like_sys_path() {
        let first = [
            found("six.py"),
            found("pkg/__init__.py"),
            found("ns/a.py"),
            found("tool-1.0.dist-info/RECORD"),
        ];
        let second = [
            found("six/__init__.py"),
            found("pkg/__init__.py"),
            found("pkg/extra.py"),
            found("ns/b.py"),
            found("tool-1.0.dist-info/RECORD"),
            found("tool-2.0.dist-info/RECORD"),
            found("other.py"),
        ];
        let one = Some("lib/site-packages/p".to_owned());
        let merged = shadowed_tops(&[(one.clone(), &first), (one, &second)]);
        assert!(merged[0].is_empty());
        let dropped: Vec<&str> = merged[1].iter().map(String::as_str).collect();
        assert_eq!(dropped, ["pkg", "six", "tool-1.0.dist-info"]);
        // Site dirs written to different folders shadow nothing.
        let apart = shadowed_tops(&[
            (Some("site/0/p".into()), &first),
            (Some("site/1/p".into()), &second),
        ]);
        assert!(apart.iter().all(BTreeSet::is_empty));
    }

    #[test]
    fn links_resolve_inside_or_outside_their_tree() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("tree");
        std::fs::create_dir_all(root.join("pkg/data")).unwrap();
        std::fs::write(root.join("pkg/data/a.txt"), "a").unwrap();
        std::fs::write(dir.path().join("secret"), "s").unwrap();
        let link = |target: &str, at: &str| {
            std::os::unix::fs::symlink(target, root.join(at)).unwrap();
        };
        link("data/a.txt", "pkg/a.txt");
        link("data", "pkg/d");
        link("../../secret", "pkg/s");
        link("s", "pkg/chain");
        link("nowhere", "pkg/x");
        let files = walk(&root, &[]).files;
        let by_rel = |rel: &str| {
            let f = files.iter().find(|f| f.rel == rel).unwrap();
            assert_eq!(tree_root(f), root);
            resolve_link(&root, f)
        };
        assert_eq!(
            by_rel("pkg/a.txt"),
            LinkTarget::File("pkg/data/a.txt".into())
        );
        assert!(matches!(by_rel("pkg/d"), LinkTarget::Dir(rel, _) if rel == "pkg/data"));
        let secret = std::fs::canonicalize(dir.path().join("secret")).unwrap();
        assert_eq!(by_rel("pkg/s"), LinkTarget::Outside(secret.clone()));
        assert_eq!(by_rel("pkg/chain"), LinkTarget::Outside(secret));
        assert_eq!(by_rel("pkg/x"), LinkTarget::Broken);
    }
}
