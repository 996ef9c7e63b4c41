//! Writing a [`crate::plan::Plan`] to disk: copies, patches, links, generated files, all
//! built beside the target and renamed into place.

mod hook;
mod patch;
mod record;
mod scratch;
mod write;

pub use patch::{PatchError, Patchelf, Patcher};
pub use record::Difference;
pub use scratch::StaleFolder;
pub use write::{
    ApplyError, ApplyOptions, ApplySummary, CheckFailure, CheckFn, Notice, write_dist,
};
