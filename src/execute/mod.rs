//! Writing a [`crate::plan::Plan`] to disk: copies, patches, links, the launcher, all
//! built beside the target and renamed into place.

pub mod launcher;
mod patch;
mod write;

pub use patch::{ElfEdits, PatchError, Patchelf, Patcher};
pub use write::{ApplyError, ApplyOptions, ApplySummary, CheckFailure, CheckFn, write_dist};
