//! Programs the app runs and data its native code reads, as units of the dist.
//!
//! Decisions:
//! - **Which programs a dist carries.** A program matters to the dist only when the app
//!   finds it by searching `PATH` (a name without `/`): the launcher puts the folders of
//!   the `programs` units first on `PATH`, and that changes nothing for a program run by
//!   its absolute path (`/usr/bin/perl` of a `#!` line), which stays the target's. The
//!   programs the system policy's presets name (`sh`, `uname`, `ldconfig`, ...: data in
//!   `crate::policy`) stay the target's too, so do those a unit skips or excludes. Every
//!   other program is taken like any shipped binary: its closure is bundled and its
//!   RUNPATH made and proven from where it is written.
//! - **Names.** A program is written by its real file's name; each other bare name the
//!   app ran it by (`cc` for `gcc-12`) is a symlink to it in the same folder, so a `PATH`
//!   search by that name (and a program that looks at its `argv[0]`) finds it.
//! - **Scripts** (`#!` line) are bundled as files; the summary notes the interpreter each
//!   needs, which is a program like any other (the target's when named by absolute path).
//! - **Native data.** A file native code opened below a folder that one of the app's
//!   environment variables names (`native_env`) can be shipped and found again: the
//!   launcher (`env traced`) sets the variable to the folder's place in the dist. A file
//!   opened by a path compiled into the program, or computed by it, cannot be re-pointed:
//!   it is left to the target, and the summary says so. Files the presets' `data` name
//!   (`/etc`, locales, certificates) stay the target's. Variables that describe the
//!   user's session (`HOME`, `PWD`, `TMPDIR`, ...) are never re-pointed: a library's data
//!   below them is the app's cwd or home, not a data folder.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use super::{Output, Planner, file_name, parent, vars};
use crate::layout::{EnvSetting, Kind, UnitId, Var};
use crate::manifest::Executable;
use crate::plan::launcher::{EnvPart, EnvVar};
use crate::policy::TargetFiles;

/// Variables of the user's session: a folder they name is never a library's data folder.
const SESSION_VARIABLES: &[&str] = &[
    "HOME",
    "PWD",
    "OLDPWD",
    "TMPDIR",
    "TMP",
    "TEMP",
    "SHELL",
    "USER",
    "LOGNAME",
    "VIRTUAL_ENV",
    "XDG_RUNTIME_DIR",
];

/// What the dist carries of what the trace saw run and read, for the summary.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Carried {
    /// Programs written to the dist: their path in it, and the `#!` line of a script.
    pub programs: Vec<(String, Option<String>)>,
    /// Programs left to the target: the name the app ran it by, and why.
    pub programs_left: Vec<(String, String)>,
    /// Files of `native_data` the dist ships.
    pub data_shipped: usize,
    /// Files of `native_data` the presets trust the target with.
    pub data_trusted: usize,
    /// Files of `native_data` left to the target, each with whether a variable names its
    /// folder (so a `native.data` unit could ship it); the others were opened by a path
    /// compiled into the program or computed by it, which the dist cannot re-point.
    pub data_left: Vec<(PathBuf, bool)>,
    /// Variables the launcher sets, by name.
    pub env: Vec<String>,
}

/// A variable of `native_env` native data can be re-pointed by: each part a folder (or
/// file) that holds a file of `native_data`.
struct DataFolder<'a> {
    name: &'a str,
    parts: Vec<&'a str>,
}

/// A file a unit writes: the unit, and the file's destination.
struct Written<'a> {
    unit: UnitId,
    dest: &'a str,
}

/// The names without `/` a program was run by: those a `PATH` search found.
fn bare_names(exe: &Executable) -> Vec<&str> {
    let mut out: Vec<&str> = std::iter::once(exe.name.as_str())
        .chain(exe.names.iter().map(String::as_str))
        .filter(|n| !n.is_empty() && !n.contains('/'))
        .collect();
    out.sort_unstable();
    out.dedup();
    out
}

/// Whether a native_env variable may be re-pointed.
fn repointable(name: &str) -> bool {
    !EnvSetting::reserved(name) && !SESSION_VARIABLES.contains(&name)
}

impl Planner<'_> {
    fn target_files(&self) -> TargetFiles {
        TargetFiles::of(self.input.layout.system.presets.iter().map(|p| p.value))
    }

    /// The programs the app ran that a dist can carry, for the unit `id`.
    pub(super) fn take_programs(&mut self, id: UnitId) {
        let target = self.target_files();
        let manifest = self.input.manifest;
        for exe in manifest.executables.iter().filter(|e| !e.is_python) {
            let Some(path) = &exe.path else { continue };
            let names = bare_names(exe);
            let file = file_name(path);
            if names.is_empty()
                || target
                    .program(names.iter().copied().chain([file.as_str()]))
                    .is_some()
            {
                continue;
            }
            let v = vars([(Var::Name, names[0].to_owned()), (Var::File, file.clone())]);
            let what = format!("the program `{}`, in `executables`", exe.name);
            self.push_entry(id, &file, path.clone(), v, &what);
        }
    }

    /// The folders native data can be re-pointed in, one variable each.
    fn data_folders(&self) -> Vec<DataFolder<'_>> {
        let manifest = self.input.manifest;
        let mut out: Vec<DataFolder<'_>> = Vec::new();
        for env in manifest.native_env.iter().filter(|e| repointable(&e.name)) {
            if out.iter().any(|f| f.name == env.name) {
                continue;
            }
            out.push(DataFolder {
                name: env.name.as_str(),
                parts: env.value.split(':').collect(),
            });
        }
        out
    }

    /// Whether native code could find `path` again in the dist: it lies below a folder a
    /// re-pointable variable names.
    fn reachable_data(&self, path: &Path) -> bool {
        self.data_folders().iter().any(|folder| {
            folder
                .parts
                .iter()
                .any(|p| p.starts_with('/') && path.starts_with(p))
        })
    }

    /// Whether `path` lies below the interpreter's prefixes or a site dir: the Python
    /// units' files, whatever opened them.
    fn python_owns(&self, path: &Path) -> bool {
        let python = &self.input.manifest.python;
        [
            &python.prefix,
            &python.exec_prefix,
            &python.base_prefix,
            &python.base_exec_prefix,
            &python.stdlib,
        ]
        .into_iter()
        .chain(python.site_dirs.iter().map(|s| &s.path))
        .any(|root| path.starts_with(root))
    }

    /// The files of `native_data` the unit `id` takes.
    pub(super) fn take_native_data(&mut self, id: UnitId) {
        let target = self.target_files();
        let manifest = self.input.manifest;
        for data in &manifest.native_data {
            if target.data(&data.path).is_some()
                || self.python_owns(&data.path)
                || !self.reachable_data(&data.path)
            {
                continue;
            }
            let rel = data
                .path
                .to_string_lossy()
                .trim_start_matches('/')
                .to_owned();
            let v = vars([(Var::Path, rel.clone()), (Var::File, file_name(&data.path))]);
            self.push_entry(id, &rel, data.path.clone(), v, "a file, in `native_data`");
        }
    }

    /// Where a unit taking `kind` writes the file `source`, if one does.
    fn dest_of(&self, kind: Kind, source: &Path) -> Option<Written<'_>> {
        let layout = self.input.layout;
        self.items
            .iter()
            .filter(|i| i.source == source && layout.unit(i.unit).takes(kind))
            .find_map(|i| {
                Some(Written {
                    unit: i.unit,
                    dest: i.dest.as_deref()?,
                })
            })
    }

    /// A symlink beside each written program for every other bare name it was run by.
    pub(super) fn program_links(&mut self, out: &mut Output) {
        let layout = self.input.layout;
        let mut links = Vec::new();
        for exe in self
            .input
            .manifest
            .executables
            .iter()
            .filter(|e| !e.is_python)
        {
            let Some(path) = &exe.path else { continue };
            let Some(Written { unit, dest }) = self.dest_of(Kind::Executables, path) else {
                continue;
            };
            let file = dest.rsplit('/').next().unwrap_or(dest).to_owned();
            for name in bare_names(exe).into_iter().filter(|n| *n != file) {
                let at = match parent(dest) {
                    "" => name.to_owned(),
                    folder => format!("{folder}/{name}"),
                };
                links.push((at, unit, file.clone()));
            }
        }
        for (at, unit, target) in links {
            let unit = layout.unit(unit);
            out.link(
                &at,
                &unit.name.value,
                unit.span,
                &target,
                &mut self.problems,
            );
        }
    }

    /// The folders of the launcher's `programs` units, in order: first on `PATH`.
    pub(super) fn program_folders(&self) -> Vec<String> {
        let Some(launcher) = &self.input.layout.launcher else {
            return Vec::new();
        };
        let programs: BTreeSet<&Path> = self
            .input
            .manifest
            .executables
            .iter()
            .filter_map(|e| e.path.as_deref())
            .collect();
        let mut out: Vec<String> = Vec::new();
        for unit in &launcher.programs {
            for item in self.items.iter().filter(|i| i.unit == unit.value) {
                let Some(dest) = &item.dest else { continue };
                let folder = parent(dest).to_owned();
                if programs.contains(item.source.as_path()) && !out.contains(&folder) {
                    out.push(folder);
                }
            }
        }
        out
    }

    /// The variables the launcher sets: `env traced` re-points each variable of
    /// `native_env` whose folders the dist ships; `env NAME "path"` sets NAME to a dist
    /// path. A later statement for a name wins over `env traced`.
    pub(super) fn launcher_env(&mut self) -> Vec<EnvVar> {
        let Some(launcher) = &self.input.layout.launcher else {
            return Vec::new();
        };
        let mut out: Vec<EnvVar> = Vec::new();
        for setting in &launcher.env {
            match &setting.value {
                EnvSetting::Traced => {
                    for DataFolder { name, parts } in self.data_folders() {
                        let parts: Vec<EnvPart> = parts
                            .iter()
                            .map(|part| match self.shipped_folder(part) {
                                Some(rel) => EnvPart::Dist(rel),
                                None => EnvPart::Text((*part).to_owned()),
                            })
                            .collect();
                        if parts.iter().any(|p| matches!(p, EnvPart::Dist(_))) {
                            out.retain(|v| v.name != name);
                            out.push(EnvVar {
                                name: name.to_owned(),
                                parts,
                            });
                        }
                    }
                }
                EnvSetting::Set { name, value } => match value.render(&self.common) {
                    Ok(rel) => {
                        out.retain(|v| v.name != *name);
                        out.push(EnvVar {
                            name: name.clone(),
                            parts: vec![EnvPart::Dist(rel)],
                        });
                    }
                    Err(err) => self.problems.push(super::Problem::Launcher {
                        span: value.span,
                        reason: err.to_string(),
                    }),
                },
            }
        }
        out
    }

    /// Where the dist has the folder (or file) `part` of a variable: the destination of
    /// a shipped native data file below it, less that file's path below it.
    fn shipped_folder(&self, part: &str) -> Option<String> {
        if !part.starts_with('/') {
            return None;
        }
        let folder = Path::new(part);
        let layout = self.input.layout;
        self.items
            .iter()
            .filter(|i| layout.unit(i.unit).takes(Kind::NativeData))
            .filter(|i| i.source.starts_with(folder))
            .find_map(|i| {
                let dest = i.dest.as_deref()?;
                let below = i.source.strip_prefix(folder).ok()?.to_string_lossy();
                if below.is_empty() {
                    return Some(dest.to_owned());
                }
                let base = dest.strip_suffix(below.as_ref())?.trim_end_matches('/');
                (!base.is_empty()).then(|| base.to_owned())
            })
    }

    /// What the dist carries and what it leaves to the target.
    pub(super) fn carried(&self, env: &[EnvVar]) -> Carried {
        let layout = self.input.layout;
        let manifest = self.input.manifest;
        let target = self.target_files();
        let mut carried = Carried {
            env: env.iter().map(|v| v.name.clone()).collect(),
            ..Carried::default()
        };
        let taking: Vec<UnitId> = layout.units_taking(Kind::Executables).collect();
        for exe in manifest.executables.iter().filter(|e| !e.is_python) {
            let names = bare_names(exe);
            let shown = names.first().map_or(exe.name.as_str(), |n| n);
            let Some(path) = &exe.path else {
                carried
                    .programs_left
                    .push((shown.to_owned(), "not found when traced".into()));
                continue;
            };
            if let Some(Written { dest, .. }) = self.dest_of(Kind::Executables, path) {
                carried
                    .programs
                    .push((dest.to_owned(), exe.interpreter.clone()));
                continue;
            }
            let file = file_name(path);
            let why = if let Some(preset) =
                target.program(names.iter().copied().chain([file.as_str()]))
            {
                format!("preset `{preset}`")
            } else if names.is_empty() {
                format!("run by its path `{}` only", exe.name)
            } else if let Some(unit) = self
                .items
                .iter()
                .find(|i| i.source == *path && taking.contains(&i.unit))
                .map(|i| layout.unit(i.unit))
            {
                format!("unit `{}` skips it", unit.name.value)
            } else if let Some(&unit) = taking.first() {
                format!("unit `{}` excludes it", layout.unit(unit).name.value)
            } else {
                "no unit takes `app.executables`".into()
            };
            carried.programs_left.push((shown.to_owned(), why));
        }
        let shipped: BTreeSet<&Path> = self
            .items
            .iter()
            .filter(|i| layout.unit(i.unit).action.value != crate::layout::Action::Skip)
            .map(|i| i.source.as_path())
            .collect();
        for data in &manifest.native_data {
            if self.dest_of(Kind::NativeData, &data.path).is_some() {
                carried.data_shipped += 1;
            } else if self.python_owns(&data.path) {
                // The Python units' business: shipped by them or unclaimed.
            } else if target.data(&data.path).is_some() {
                carried.data_trusted += 1;
            } else if !shipped.contains(data.path.as_path()) {
                let reachable = self.reachable_data(&data.path);
                carried.data_left.push((data.path.clone(), reachable));
            }
        }
        carried.programs.sort();
        carried.programs_left.sort();
        carried
    }
}
