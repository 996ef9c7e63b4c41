//! The dist's destinations as paths: checked, and the folders they need.

use std::collections::BTreeSet;
use std::path::Path;

use crate::plan::{Content, Plan};
use crate::record::RECORD_PATH;

/// A planned destination as a relative path; the planner guarantees the shape, this
/// keeps a planner bug from ever writing outside the dist.
pub(super) fn checked(dest: &str) -> &Path {
    assert!(
        dest.split('/')
            .all(|s| !s.is_empty() && s != "." && s != ".."),
        "planner produced an unsafe destination `{dest}`"
    );
    Path::new(dest)
}

/// Every folder a plan's dist holds once, parents before children (sorted paths put a
/// folder before what is inside it), and the count of those the plan names.
pub(super) fn folders(plan: &Plan) -> (BTreeSet<&str>, u64) {
    let mut folders: BTreeSet<&str> = BTreeSet::new();
    let mut named = 0;
    for entry in &plan.entries {
        let dest = checked(&entry.dest).to_str().unwrap_or_default();
        if matches!(entry.content, Content::Dir) {
            folders.insert(dest);
            named += 1;
        }
        let mut at = dest;
        while let Some((parent, _)) = at.rsplit_once('/') {
            if !folders.insert(parent) {
                break;
            }
            at = parent;
        }
    }
    let record_folder = Path::new(RECORD_PATH)
        .parent()
        .and_then(Path::to_str)
        .unwrap_or_default();
    folders.insert(record_folder);
    (folders, named)
}
