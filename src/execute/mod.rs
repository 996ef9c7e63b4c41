//! Writing a [`crate::plan::Plan`] to disk: copies, patches, links, generated files, all
//! built beside the target and renamed into place.

mod archive;
mod dests;
mod diagnostics;
mod hook;
mod patch;
mod rebuild;
mod record;
mod scratch;
mod summary;
mod write;
pub mod zip;

pub use diagnostics::{ApplyError, CheckFailure};
pub use patch::{PatchError, Patchelf, Patcher};
pub use record::Difference;
pub use scratch::StaleFolder;
/// Scratch folders named for their writer, for another output beside a target (a onefile).
pub(crate) use scratch::{create as create_scratch, remove_stale as remove_stale_scratch};
pub use write::{ApplyOptions, ApplySummary, CheckFn, Notice, Redone, write_dist};
