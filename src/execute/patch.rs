//! Writing ELF edits: in process where [`crate::binary::edit`] can (every shared object
//! and executable of a usual x86_64 or aarch64 dist), through `patchelf` where it
//! declines (ELF32, big-endian, malformed objects): one process per such file, all edits
//! of a file in one call.
//!
//! This departs from DESIGN.md's "Writing ELF" (patchelf for every file) for speed, see
//! `binary::edit`; patchelf stays the fallback, so it is needed only when a binary is
//! declined, and apply says which one before anything is written.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::os::find_program;

pub use super::diagnostics::PatchError;
use crate::binary::edit::ElfEdits;

/// Writes [`ElfEdits`] into binaries.
pub trait Patcher: Sync {
    /// Edits `file` in place.
    fn patch(&self, file: &Path, edits: &ElfEdits) -> Result<(), PatchError>;

    /// Writes `source` with `edits` applied to `dest` (a new file), leaving `source`
    /// alone. The default copies, then patches the copy.
    fn patch_into(&self, source: &Path, dest: &Path, edits: &ElfEdits) -> Result<(), PatchError> {
        std::fs::copy(source, dest).map_err(|e| PatchError::Failed {
            file: dest.to_owned(),
            message: e.to_string(),
        })?;
        self.patch(dest, edits)
    }
}

const MIN_VERSION: (u32, u32) = (0, 12);

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
            None => find_program("patchelf".as_ref()).ok_or(PatchError::Missing)?,
        };
        let out = Command::new(&program)
            .arg("--version")
            .output()
            .map_err(|e| match explicit {
                Some(_) => PatchError::NotRunnable {
                    program: program.clone(),
                    reason: match e.kind() {
                        std::io::ErrorKind::NotFound => "it does not exist".to_owned(),
                        std::io::ErrorKind::PermissionDenied => "it is not executable".to_owned(),
                        _ => e.to_string(),
                    },
                },
                None => PatchError::Missing,
            })?;
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
    /// existing `DT_RPATH` into `DT_RUNPATH` unless told `--force-rpath`). One call per
    /// kind of edit: patchelf 0.14 writes a wrong RUNPATH (the added or new need's name)
    /// when one call grows the RUNPATH and adds or renames a need, so needs are added,
    /// then renamed, then the RUNPATH is set, each by a call of its own.
    /// With `output`, the first call reads `file` and writes `output` (`--output`), and
    /// later calls edit `output` in place: the binary is written once, not copied and
    /// then rewritten.
    fn calls(file: &Path, output: Option<&Path>, edits: &ElfEdits) -> Vec<Vec<OsString>> {
        let mut calls = Vec::new();
        if !edits.add_needed.is_empty() {
            let mut add: Vec<OsString> = Vec::new();
            for name in &edits.add_needed {
                add.extend(["--add-needed".into(), name.into()]);
            }
            add.push(file.into());
            calls.push(add);
        }
        if !edits.replace_needed.is_empty() {
            calls.push(Self::arguments(
                file,
                &ElfEdits {
                    replace_needed: edits.replace_needed.clone(),
                    ..ElfEdits::default()
                },
            ));
        }
        if edits.runpath.is_some() {
            calls.push(Self::arguments(
                file,
                &ElfEdits {
                    runpath: edits.runpath.clone(),
                    ..ElfEdits::default()
                },
            ));
        }
        if let Some(output) = output {
            for (i, call) in calls.iter_mut().enumerate() {
                let target = call.pop();
                if i == 0 {
                    call.extend(["--output".into(), output.into()]);
                    call.extend(target);
                } else {
                    call.push(output.into());
                }
            }
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

impl Patchelf {
    fn run(&self, file: &Path, output: Option<&Path>, edits: &ElfEdits) -> Result<(), PatchError> {
        let shown = output.unwrap_or(file);
        for args in Self::calls(file, output, edits) {
            let out = Command::new(&self.program)
                .args(args)
                .output()
                .map_err(|e| PatchError::Failed {
                    file: shown.to_owned(),
                    message: e.to_string(),
                })?;
            if !out.status.success() {
                return Err(PatchError::Failed {
                    file: shown.to_owned(),
                    message: String::from_utf8_lossy(&out.stderr).trim().to_owned(),
                });
            }
        }
        Ok(())
    }
}

impl Patcher for Patchelf {
    fn patch(&self, file: &Path, edits: &ElfEdits) -> Result<(), PatchError> {
        if edits.is_empty() {
            return Ok(());
        }
        self.run(file, None, edits)
    }

    fn patch_into(&self, source: &Path, dest: &Path, edits: &ElfEdits) -> Result<(), PatchError> {
        if edits.is_empty() {
            return std::fs::copy(source, dest)
                .map(drop)
                .map_err(|e| PatchError::Failed {
                    file: dest.to_owned(),
                    message: e.to_string(),
                });
        }
        self.run(source, Some(dest), edits)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_kind_of_edit_gets_a_call_of_its_own() {
        let edits = ElfEdits {
            runpath: Some(vec!["$ORIGIN/../lib".into(), "$ORIGIN".into()]),
            replace_needed: vec![("libfoo.so.1".into(), "libfoo-1a2b.so.1".into())],
            add_needed: vec!["libgcc_s.so.1".into()],
        };
        let calls = Patchelf::calls(Path::new("x.so"), None, &edits);
        assert_eq!(
            calls,
            [
                vec!["--add-needed", "libgcc_s.so.1", "x.so"],
                vec![
                    "--replace-needed",
                    "libfoo.so.1",
                    "libfoo-1a2b.so.1",
                    "x.so"
                ],
                vec!["--set-rpath", "$ORIGIN/../lib:$ORIGIN", "x.so"],
            ]
            .map(|call| call.into_iter().map(OsString::from).collect::<Vec<_>>())
        );
        // Written once: the first call reads the source and writes the dist's file.
        let into = Patchelf::calls(Path::new("src.so"), Some(Path::new("dist.so")), &edits);
        assert_eq!(
            into[0][..3],
            ["--add-needed", "libgcc_s.so.1", "--output"].map(OsString::from)
        );
        assert_eq!(into[0][3..], ["dist.so", "src.so"].map(OsString::from));
        assert_eq!(into[1].last(), Some(&OsString::from("dist.so")));
        assert_eq!(into[2].last(), Some(&OsString::from("dist.so")));
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
