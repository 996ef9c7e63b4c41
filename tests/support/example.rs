//! The stdlib example, copied into a scratch folder and traced, for the tests that
//! package it.

use std::path::{Path, PathBuf};

use super::{output_ok, python311, repo_root, trace_command};

/// A traced copy of `examples/stdlib_app`.
pub struct TracedExample {
    /// Holds the copy, the manifest and whatever the test writes beside them.
    pub scratch: tempfile::TempDir,
    /// The copied app folder (its name has a space: paths must be quoted everywhere).
    pub app: PathBuf,
    pub manifest: PathBuf,
}

/// Copies the stdlib example (without bytecode caches) and traces it with pyenv's
/// CPython 3.11 from its own folder.
pub fn traced_example() -> TracedExample {
    let scratch = tempfile::tempdir().unwrap();
    let app = scratch.path().join("app src");
    copy_tree(&repo_root().join("examples/stdlib_app"), &app);
    let manifest = scratch.path().join("shenzi.json");
    output_ok(
        trace_command(&manifest, [python311().as_os_str(), "app.py".as_ref()]).current_dir(&app),
    );
    TracedExample {
        scratch,
        app,
        manifest,
    }
}

/// Copies a folder's files, leaving `__pycache__` out.
pub fn copy_tree(from: &Path, to: &Path) {
    for entry in walkdir::WalkDir::new(from) {
        let entry = entry.unwrap();
        let rel = entry.path().strip_prefix(from).unwrap();
        if rel.components().any(|c| c.as_os_str() == "__pycache__") {
            continue;
        }
        let dest = to.join(rel);
        if entry.file_type().is_dir() {
            std::fs::create_dir_all(&dest).unwrap();
        } else {
            std::fs::copy(entry.path(), &dest).unwrap();
        }
    }
}
