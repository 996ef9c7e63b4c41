//! Writing a [`crate::plan::Plan`] to disk: copies, patches, links, generated files, all
//! built beside the target and renamed into place.

mod diagnostics;
mod hook;
mod patch;
mod record;
mod scratch;
mod write;

pub use diagnostics::{ApplyError, CheckFailure};
pub use patch::{PatchError, Patchelf, Patcher};
pub use record::Difference;
pub use scratch::StaleFolder;
pub use write::{ApplyOptions, ApplySummary, CheckFn, Notice, write_dist};
