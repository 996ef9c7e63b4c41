//! Symlinks inside source trees: kept as relative links of the dist or copied, and
//! left out when they lead outside their tree.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use super::{Output, Planner, parent, path_vars, relative};
use crate::layout::{Symlinks, UnitId, Var};
use crate::plan::diagnostics::Problem;
use crate::plan::select::{Found, Inode, LinkTarget, Walked, resolve_link, tree_root, walk};

/// A symlink of a source tree whose target lies inside the same tree.
#[derive(Debug, Clone)]
pub(super) struct TreeLink {
    pub(super) unit: UnitId,
    /// The link, as walked, and its path below its tree's root.
    pub(super) source: PathBuf,
    pub(super) rel: String,
    pub(super) root: PathBuf,
    pub(super) vars: BTreeMap<Var, String>,
    pub(super) package: Option<String>,
    /// Its target: a file of the tree (its walked path), or a folder (its path below the
    /// tree's root, and its real path).
    pub(super) target: LinkEnd,
    /// Where the link and its target go, once placed.
    pub(super) placed: Option<(String, String)>,
}

#[derive(Debug, Clone)]
pub(super) enum LinkEnd {
    File(PathBuf),
    Dir { rel: String, real: PathBuf },
}

impl Planner<'_> {
    /// A symlink of a source tree. One leading inside the tree is written as a relative
    /// symlink (`symlinks keep`, decided once every unit has chosen) or as a copy of what
    /// it names (`symlinks copy`); one leading outside the tree, dangling or looping is
    /// never followed: it is left out with a warning naming it and its target, since
    /// following it could ship any file of this machine (`evil.py -> /etc/passwd`).
    pub(super) fn take_link(
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

    pub(super) fn left_out(&mut self, unit: UnitId, f: &Found, why: String) {
        self.links_left_out
            .entry(unit)
            .or_default()
            .push((f.path.clone(), why));
    }

    /// A folder link taken as a folder: the files below its target, each at its path
    /// through the link. A folder already being copied through a link (a loop) is left
    /// out.
    pub(super) fn copy_folder_link(
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
        let Walked { files, unreadable } = walk(&f.path, &[]);
        self.unreadable(unreadable);
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
    pub(super) fn resolve_links(&mut self) {
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
                        id: Inode { dev: 0, ino: 0 },
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
    pub(super) fn place_links(&mut self) {
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
    pub(super) fn write_links(&mut self, out: &mut Output) {
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
}
