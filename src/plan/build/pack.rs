//! Packing (`pack zip "..."`): which files of a unit go into its archive and which stay
//! files beside it, decided from facts, each kept file with its reason.
//!
//! The unit of decision is the top-level name below the unit's `sys.path` folder (a
//! package, a module, a `*.dist-info` folder): a regular package is imported from one
//! `sys.path` entry only, so a package with one file that must stay a file (an extension
//! module, a data file its code opened) stays a folder whole. Bytecode caches of packed
//! sources become `mod.pyc` members beside `mod.py` (where `zipimport` looks), written as
//! unchecked-hash `.pyc` at apply time; other `__pycache__` files are not packed.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use super::{Item, Planner, file_name};
use crate::layout::{Kind, UnitId, Var};
use crate::plan::{ArchiveMember, Content};

/// Why a top-level name of a packed unit stays files.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum KeptWhy {
    /// It holds an extension module or shared library (`file`): the loader maps files.
    Native { file: String },
    /// Its code loads the library `file` by a path (`ctypes.CDLL(os.path.join(
    /// os.path.dirname(__file__), ...))`): from an archive that path would not exist.
    LoadsByPath { file: String },
    /// Package metadata, read by `importlib.metadata` and tools from a folder.
    Metadata,
    /// The trace saw its code open `file` (through `__file__`, `importlib.resources`
    /// from a folder, ...): it is kept where that code looks.
    ReadsItsFiles { file: String },
    /// It holds the symlink `file`, written as a link beside the archive: its target must
    /// be a file beside it too.
    Symlink { file: String },
    /// A `.pth` file: `site` reads them from site dirs only.
    Pth,
    /// The interpreter finds its prefix by `os.py` in its stdlib folder.
    Landmark,
    /// The layout's `unpacked` matched `file`.
    Unpacked { file: String },
    /// Its destination does not end in its path below a `sys.path` folder.
    NoMemberName,
}

impl std::fmt::Display for KeptWhy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            KeptWhy::Native { file } => write!(f, "native code `{file}` is loaded from a file"),
            KeptWhy::LoadsByPath { file } => {
                write!(f, "its code loads `{file}` by a path beside its files")
            }
            KeptWhy::Symlink { file } => write!(f, "it holds the symlink `{file}`"),
            KeptWhy::ReadsItsFiles { file } => {
                write!(f, "the trace saw it open `{file}` beside its code")
            }
            KeptWhy::Pth => f.write_str("`site` reads `.pth` files from site dirs only"),
            KeptWhy::Metadata => f.write_str("package metadata stays a folder"),
            KeptWhy::Landmark => f.write_str("the interpreter finds its prefix by it"),
            KeptWhy::Unpacked { file } => write!(f, "`unpacked` matches `{file}`"),
            KeptWhy::NoMemberName => f.write_str("its destination has no path below the unit"),
        }
    }
}

/// What a packed unit writes, for the plan's output.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Packed {
    pub unit: String,
    /// The archive's path in the dist.
    pub archive: String,
    pub members: u64,
    /// Of the members' sources.
    pub bytes: u64,
    /// The top-level names kept as files beside the archive, by name.
    pub kept: Vec<Kept>,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Kept {
    pub name: String,
    pub files: u64,
    pub why: KeptWhy,
}

/// The packing decided for one unit: which items become which members.
pub(super) struct UnitPack {
    pub(super) unit: UnitId,
    pub(super) archive: String,
    /// The `pack` statement.
    pub(super) span: crate::layout::Span,
    /// By item index: the member it becomes.
    pub(super) members: BTreeMap<usize, ArchiveMember>,
    /// Items written neither as files nor as members (bytecode of no packed source).
    pub(super) dropped: BTreeSet<usize>,
}

impl UnitPack {
    /// Whether item `i` is written as a file.
    pub(super) fn writes_file(&self, i: usize) -> bool {
        !self.members.contains_key(&i) && !self.dropped.contains(&i)
    }
}

impl Planner<'_> {
    /// Every packed unit's archive; the items it takes become members (the rest stay
    /// files), in [`Planner::packs`] and [`Planner::packed`].
    pub(super) fn pack(&mut self) {
        let layout = self.input.layout;
        let read: BTreeSet<&Path> = self
            .input
            .manifest
            .data_files
            .iter()
            .map(|d| d.path.as_path())
            .collect();
        let mut packs = Vec::new();
        let mut report = Vec::new();
        for (u, unit) in layout.units.iter().enumerate() {
            let Some(pack) = &unit.pack else { continue };
            let unit_id = UnitId(u);
            let archive = match pack.archive.render(&self.common) {
                Ok(a) => a,
                Err(err) => {
                    self.problems
                        .push(crate::plan::diagnostics::Problem::Render {
                            unit: unit.name.value.clone(),
                            span: pack.archive.span,
                            file: Default::default(),
                            reason: err.to_string(),
                        });
                    continue;
                }
            };
            let stdlib = unit.takes(Kind::Stdlib);
            // Top-level names whose code loads a library by path, with the path asked.
            let loads_by_path: BTreeMap<&str, &str> = self
                .input
                .manifest
                .native
                .loads
                .iter()
                .filter(|l| l.name.contains('/'))
                .filter_map(|l| {
                    let caller = l.caller.as_deref()?;
                    Some((caller.split('.').next().unwrap_or(caller), l.name.as_str()))
                })
                .collect();
            // Member name and top-level name of every item of the unit.
            let mut named: Vec<(usize, String)> = Vec::new();
            let mut kept: BTreeMap<String, (KeptWhy, u64)> = BTreeMap::new();
            let mut keep = |top: &str, why: KeptWhy| {
                let entry = kept.entry(top.to_owned()).or_insert((why.clone(), 0));
                // The strongest reason wins: native code, metadata, read files, then the rest.
                if why < entry.0 {
                    entry.0 = why;
                }
            };
            for link in self.links.iter().filter(|l| l.unit == unit_id) {
                keep(
                    &top_name(&link.rel),
                    KeptWhy::Symlink {
                        file: link.rel.clone(),
                    },
                );
            }
            for (i, item) in self.items.iter().enumerate() {
                if item.unit != unit_id {
                    continue;
                }
                let Some(dest) = &item.dest else { continue };
                let Some(name) = member_name(item, dest) else {
                    keep(&file_name(Path::new(dest)), KeptWhy::NoMemberName);
                    continue;
                };
                let top = &top_name(&name);
                let file = || name.clone();
                if item.node.is_some()
                    || self.is_extension(&item.source)
                    || name.ends_with(".so")
                    || name.contains(".so.")
                {
                    keep(top, KeptWhy::Native { file: file() });
                } else if let Some(path) = loads_by_path.get(top.strip_suffix(".py").unwrap_or(top))
                {
                    keep(
                        top,
                        KeptWhy::LoadsByPath {
                            file: (*path).to_owned(),
                        },
                    );
                } else if top.ends_with(".dist-info") || top.ends_with(".egg-info") {
                    keep(top, KeptWhy::Metadata);
                } else if read.contains(item.source.as_path()) {
                    keep(top, KeptWhy::ReadsItsFiles { file: file() });
                } else if !unit.unpacked.is_empty() && unit.unpacked.is_match(&name) {
                    keep(top, KeptWhy::Unpacked { file: file() });
                } else if !name.contains('/') && name.ends_with(".pth") {
                    keep(top, KeptWhy::Pth);
                } else if stdlib && name == "os.py" {
                    keep(top, KeptWhy::Landmark);
                }
                named.push((i, name));
            }
            // Sources packed, for their bytecode.
            let packed_sources: BTreeSet<&str> = named
                .iter()
                .filter(|(_, n)| !kept.contains_key(&top_name(n)) && n.ends_with(".py"))
                .map(|(_, n)| n.as_str())
                .collect();
            let mut members = BTreeMap::new();
            // Items written neither as files nor as members (stale bytecode caches).
            let mut dropped = BTreeSet::new();
            let mut bytes = 0;
            for (i, name) in &named {
                if let Some(k) = kept.get_mut(&top_name(name)) {
                    k.1 += 1;
                    continue;
                }
                dropped.insert(*i);
                let item = &self.items[*i];
                let member = if name.split('/').any(|p| p == "__pycache__") {
                    // `dir/__pycache__/mod.<tag>.pyc` is `dir/mod.pyc` in an archive.
                    let Some(pyc) = pyc_member(name) else {
                        continue;
                    };
                    if !packed_sources.contains(format!("{}y", &pyc[..pyc.len() - 1]).as_str()) {
                        continue;
                    }
                    ArchiveMember {
                        name: pyc,
                        source: item.source.clone(),
                        size: item.size,
                        bytecode: true,
                    }
                } else {
                    ArchiveMember {
                        name: name.clone(),
                        source: item.source.clone(),
                        size: item.size,
                        bytecode: false,
                    }
                };
                bytes += member.size;
                dropped.remove(i);
                members.insert(*i, member);
            }
            report.push(Packed {
                unit: unit.name.value.clone(),
                archive: archive.clone(),
                members: members.len() as u64,
                bytes,
                kept: kept
                    .into_iter()
                    .map(|(name, (why, files))| Kept { name, files, why })
                    .collect(),
            });
            packs.push(UnitPack {
                unit: unit_id,
                archive,
                span: pack.span,
                members,
                dropped,
            });
        }
        self.packs = packs;
        self.packed = report;
    }
}

/// The archive entry of one unit's members, in name order.
pub(super) fn archive_content(pack: &UnitPack, python: &Path) -> Content {
    let mut members: Vec<ArchiveMember> = pack.members.values().cloned().collect();
    members.sort_by(|a, b| a.name.cmp(&b.name));
    Content::Archive {
        members,
        compile_with: Some(python.to_owned()),
    }
}

/// An item's path below its unit's `sys.path` folder: the `{path}` (or `{file}`) its
/// destination ends with.
pub(super) fn member_name(item: &Item, dest: &str) -> Option<String> {
    let tail = item.vars.get(&Var::Path).or(item.vars.get(&Var::File))?;
    (dest.ends_with(tail.as_str()) && !tail.is_empty()).then(|| tail.clone())
}

/// The top-level name a member belongs to: its first segment, and for the bytecode of
/// a top-level module (`__pycache__/os.cpython-311.pyc`) that module (`os.py`).
fn top_name(name: &str) -> String {
    match name.strip_prefix("__pycache__/") {
        Some(file) => format!("{}.py", file.split('.').next().unwrap_or(file)),
        None => name.split('/').next().unwrap_or(name).to_owned(),
    }
}

/// `a/__pycache__/m.cpython-311.pyc` → `a/m.pyc`.
fn pyc_member(name: &str) -> Option<String> {
    let (folder, file) = name.rsplit_once("__pycache__/")?;
    if file.contains('/') || !file.ends_with(".pyc") {
        return None;
    }
    let module = file.split('.').next()?;
    // `m.cpython-311.opt-1.pyc` is optimised bytecode the interpreter does not read.
    if file.matches('.').count() != 2 {
        return None;
    }
    Some(format!("{folder}{module}.pyc"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytecode_caches_become_members_beside_their_source() {
        assert_eq!(
            pyc_member("pkg/__pycache__/mod.cpython-311.pyc").as_deref(),
            Some("pkg/mod.pyc")
        );
        assert_eq!(
            pyc_member("__pycache__/os.cpython-38.pyc").as_deref(),
            Some("os.pyc")
        );
        assert_eq!(
            pyc_member("pkg/__pycache__/mod.cpython-311.opt-1.pyc"),
            None
        );
        assert_eq!(pyc_member("pkg/mod.py"), None);
    }
}
