//! The glibc floor: the oldest C library (and C++ runtime) the bundled objects run on.

use std::fmt;
use std::path::{Path, PathBuf};

use crate::binary::ObjectInfo;

/// The highest version of one family (`GLIBC_`, `GLIBCXX_`, `CXXABI_`) any object needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionFloor {
    /// The version as numbers (`[2, 28]`).
    pub version: Vec<u32>,
    /// The version name as written (`GLIBC_2.28`).
    pub name: String,
    /// The object that needs it (the first in path order).
    pub needed_by: PathBuf,
}

/// The floors of the bundled objects.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GlibcFloor {
    pub glibc: Option<VersionFloor>,
    pub glibcxx: Option<VersionFloor>,
    pub cxxabi: Option<VersionFloor>,
}

/// Computes the floors over `(path, object)` pairs.
pub fn glibc_floor<'a>(
    objects: impl IntoIterator<Item = (&'a Path, &'a ObjectInfo)>,
) -> GlibcFloor {
    let mut objects: Vec<_> = objects.into_iter().collect();
    objects.sort_by(|a, b| a.0.cmp(b.0));
    let mut floor = GlibcFloor::default();
    for (path, info) in objects {
        for need in &info.version_needs {
            for (prefix, slot) in [
                ("GLIBCXX_", &mut floor.glibcxx),
                ("CXXABI_", &mut floor.cxxabi),
                ("GLIBC_", &mut floor.glibc),
            ] {
                let Some(rest) = need.version.strip_prefix(prefix) else {
                    continue;
                };
                let Some(version) = parse_version(rest) else {
                    break; // GLIBC_PRIVATE and the like
                };
                if slot.as_ref().is_none_or(|f| version > f.version) {
                    *slot = Some(VersionFloor {
                        version,
                        name: need.version.clone(),
                        needed_by: path.to_owned(),
                    });
                }
                break;
            }
        }
    }
    floor
}

fn parse_version(s: &str) -> Option<Vec<u32>> {
    s.split('.').map(|p| p.parse().ok()).collect()
}

/// The first release of each distribution with at least this glibc (`[2, 28]`):
/// "Debian 10+, Ubuntu 18.10+, RHEL 8+".
pub fn distributions(version: &[u32]) -> String {
    const DEBIAN: &[(&str, [u32; 2])] = &[
        ("8", [2, 19]),
        ("9", [2, 24]),
        ("10", [2, 28]),
        ("11", [2, 31]),
        ("12", [2, 36]),
        ("13", [2, 41]),
    ];
    const UBUNTU: &[(&str, [u32; 2])] = &[
        ("14.04", [2, 19]),
        ("16.04", [2, 23]),
        ("18.04", [2, 27]),
        ("18.10", [2, 28]),
        ("19.04", [2, 29]),
        ("19.10", [2, 30]),
        ("20.04", [2, 31]),
        ("20.10", [2, 32]),
        ("21.04", [2, 33]),
        ("21.10", [2, 34]),
        ("22.04", [2, 35]),
        ("22.10", [2, 36]),
        ("23.04", [2, 37]),
        ("23.10", [2, 38]),
        ("24.04", [2, 39]),
        ("24.10", [2, 40]),
        ("25.04", [2, 41]),
    ];
    const RHEL: &[(&str, [u32; 2])] = &[
        ("7", [2, 17]),
        ("8", [2, 28]),
        ("9", [2, 34]),
        ("10", [2, 39]),
    ];
    let mut parts = Vec::new();
    for (distro, table) in [("Debian", DEBIAN), ("Ubuntu", UBUNTU), ("RHEL", RHEL)] {
        let first = table.iter().find(|(_, v)| v.as_slice() >= version);
        if let Some((release, _)) = first {
            parts.push(format!("{distro} {release}+"));
        }
    }
    if parts.is_empty() {
        "newer than any release shenzi knows".into()
    } else {
        parts.join(", ")
    }
}

impl fmt::Display for GlibcFloor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.glibc {
            Some(g) => {
                let v: Vec<String> = g.version.iter().map(ToString::to_string).collect();
                write!(
                    f,
                    "runs on glibc ≥ {}: {} (`{}` needs {})",
                    v.join("."),
                    distributions(&g.version),
                    g.needed_by.display(),
                    g.name
                )?;
            }
            None => write!(f, "needs no versioned glibc symbols")?,
        }
        if let Some(x) = &self.glibcxx {
            write!(
                f,
                "\nneeds a libstdc++ with {} (`{}`)",
                x.name,
                x.needed_by.display()
            )?;
        }
        if let Some(x) = &self.cxxabi {
            write!(
                f,
                "\nneeds a libstdc++ with {} (`{}`)",
                x.name,
                x.needed_by.display()
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distributions_of_a_floor_read_like_a_release_note() {
        assert_eq!(
            distributions(&[2, 28]),
            "Debian 10+, Ubuntu 18.10+, RHEL 8+"
        );
        assert_eq!(distributions(&[2, 17]), "Debian 8+, Ubuntu 14.04+, RHEL 7+");
        assert_eq!(
            distributions(&[2, 99]),
            "newer than any release shenzi knows"
        );
    }

    #[test]
    fn the_highest_version_wins_and_private_is_ignored() {
        let mk = |versions: &[&str]| ObjectInfo {
            is_64: true,
            machine: 62,
            elf_type: 3,
            soname: None,
            needed: vec![],
            rpath: vec![],
            runpath: vec![],
            interp: None,
            nodeflib: false,
            format: crate::binary::FormatId::Elf,
            version_needs: versions
                .iter()
                .map(|v| crate::binary::VersionNeed {
                    file: "libc.so.6".into(),
                    version: (*v).into(),
                })
                .collect(),
            defines_py_main: false,
        };
        let a = mk(&["GLIBC_2.2.5", "GLIBC_2.14", "GLIBC_PRIVATE"]);
        let b = mk(&["GLIBC_2.3.4", "GLIBCXX_3.4.29", "CXXABI_1.3.9"]);
        let floor = glibc_floor([(Path::new("/b"), &b), (Path::new("/a"), &a)]);
        let g = floor.glibc.unwrap();
        assert_eq!(
            (g.name.as_str(), g.needed_by.as_path()),
            ("GLIBC_2.14", Path::new("/a"))
        );
        assert_eq!(floor.glibcxx.unwrap().name, "GLIBCXX_3.4.29");
        assert_eq!(floor.cxxabi.unwrap().name, "CXXABI_1.3.9");
    }
}
