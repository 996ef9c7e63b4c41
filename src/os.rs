//! What shenzi asks of the operating system that more than one phase needs: finding a
//! program on `PATH` (the traced command, `patchelf`).

use std::ffi::OsStr;
use std::path::{Path, PathBuf};

/// A name with a `/` is a path; otherwise the first executable file of that name on `PATH`
/// (the one search of `PATH` in shenzi: the traced command, `patchelf`).
pub fn find_program(name: &OsStr) -> Option<PathBuf> {
    let is_executable = |p: &Path| {
        use std::os::unix::fs::PermissionsExt;
        std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    };
    if name.is_empty() {
        return None;
    }
    if name.as_encoded_bytes().contains(&b'/') {
        let path = PathBuf::from(name);
        return is_executable(&path).then_some(path);
    }
    let path_var = std::env::var_os("PATH")?;
    std::env::split_paths(&path_var)
        .map(|dir| dir.join(name))
        .find(|p| is_executable(p))
}
