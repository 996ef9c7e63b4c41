//! Paths inside the dist: relative, `/`-separated, the root `""`.

use std::path::Path;

/// The folder of a relative path (`""` for the root).
pub(super) fn parent(rel: &str) -> &str {
    rel.rsplit_once('/').map_or("", |(p, _)| p)
}

pub(super) fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// `to` relative to the folder `from` (both relative to the dist root).
pub fn relative(from: &str, to: &str) -> String {
    let a: Vec<&str> = from.split('/').filter(|s| !s.is_empty()).collect();
    let b: Vec<&str> = to.split('/').filter(|s| !s.is_empty()).collect();
    let common = a.iter().zip(&b).take_while(|(x, y)| x == y).count();
    let mut parts: Vec<&str> = vec![".."; a.len() - common];
    parts.extend(&b[common..]);
    if parts.is_empty() {
        ".".into()
    } else {
        parts.join("/")
    }
}

/// A RUNPATH entry reaching the folder `to` from the folder `from`.
pub(super) fn origin_entry(from: &str, to: &str) -> String {
    match relative(from, to).as_str() {
        "." => "$ORIGIN".into(),
        rel => format!("$ORIGIN/{rel}"),
    }
}

/// Joins a farm root and a path below it.
pub(super) fn under(root: &str, rel: &str) -> String {
    let root = root.trim_matches('/');
    if root.is_empty() || root == "." {
        rel.to_owned()
    } else {
        format!("{root}/{rel}")
    }
}

#[cfg(test)]
mod tests {
    use super::{origin_entry, relative};

    #[test]
    fn relative_paths_between_dist_folders() {
        assert_eq!(
            relative("lib/links/libz.so.1", "lib/reals/ab/libz.so.1.2"),
            "../../reals/ab/libz.so.1.2"
        );
        assert_eq!(relative("a/b", "a/b"), ".");
        assert_eq!(relative("", "lib/x"), "lib/x");
        assert_eq!(relative("python/bin", ""), "../..");
        assert_eq!(
            origin_entry("python/bin", "lib/links/python3.11"),
            "$ORIGIN/../../lib/links/python3.11"
        );
        assert_eq!(origin_entry("lib", "lib"), "$ORIGIN");
    }
}
