//! The plan: every file, folder and link a dist will hold, decided before anything is
//! written. The planner fills it from a layout and a manifest; `execute` writes it.

use std::path::PathBuf;

mod build;
mod diagnostics;
pub mod launcher;
pub mod select;
pub mod show;

pub use build::{
    Carried, CarriedProgram, Kept, KeptWhy, LARGEST_SHOWN, Largest, LeftData, LeftProgram, Packed,
    PlanInput, Planned, Total, common_vars, plan, policy_of, relative,
};
pub use diagnostics::{AsIsWhy, PlanDiagnostic, PlanReport, Problem};
// The record moved below the phases that share it; the names stay reachable here.
pub use crate::record::{
    AsIsObject, DistEntry, DistLoad, DistRecord, RECORD_PATH, RECORD_VERSION, RecordedKind,
    RecordedPath, WrittenRecord,
};

use crate::binary::edit::ElfEdits;

/// Everything `apply` will write, sorted by destination.
#[derive(Debug, Clone, Default)]
pub struct Plan {
    pub entries: Vec<PlannedEntry>,
    /// Written to `.shenzi/dist.json` in the dist: how it was made, for `verify`.
    pub record: DistRecord,
}

/// One path of the dist.
#[derive(Debug, Clone)]
pub struct PlannedEntry {
    /// Relative to the dist root, `/`-separated, no `.` or `..` segments.
    pub dest: String,
    /// The unit that put it there (`launcher` and `shenzi` for generated files).
    pub unit: String,
    pub content: Content,
}

#[derive(Debug, Clone)]
pub enum Content {
    Dir,
    /// A copy of a source file, patched afterwards when `edits` say so.
    Copy {
        source: PathBuf,
        /// Permission bits to give the copy.
        mode: u32,
        size: u64,
        edits: Option<ElfEdits>,
        /// A timestamp-based `.pyc` whose recorded source mtime must become the dist's
        /// fixed mtime, so that the interpreter keeps using it.
        stamp_pyc: bool,
        /// An ELF object written without its debug sections and symbol table
        /// (`strip debug`; `binary::strip`), before any of its `edits`.
        strip: bool,
    },
    /// A relative symlink.
    Symlink {
        target: String,
    },
    /// A file shenzi generates (the launcher, `.pth` files).
    Bytes {
        data: Vec<u8>,
        mode: u32,
    },
    /// A zip archive of source files (`pack zip`), by member name; written at apply time
    /// by `execute` (stored members, fixed times, name order).
    Archive {
        members: Vec<ArchiveMember>,
        /// The traced interpreter, which compiles the `.py` members that have no `.pyc`
        /// member into unchecked-hash `.pyc` members at apply time (one process).
        compile_with: Option<std::path::PathBuf>,
    },
}

/// One file of an archive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArchiveMember {
    /// `/`-separated, below the archive's root (as imported: `pkg/mod.py`).
    pub name: String,
    pub source: std::path::PathBuf,
    pub size: u64,
    /// A current `__pycache__` file of a packed source, written as an unchecked-hash
    /// `.pyc` (`zipimport` checks no timestamp then).
    pub bytecode: bool,
}
