//! The launcher and the `.pth` that puts the layout's folders on `sys.path`.

use std::path::Path;

use super::{Output, Planner, parent, relative, under};
use crate::layout::{Kind, Launcher, LauncherEntry, LauncherForm, Var};
use crate::manifest::{EntryKind, Manifest};
use crate::plan::diagnostics::Problem;
use crate::plan::launcher::{LauncherSpec, render as render_launcher};
use crate::record::DistEntry;

/// What the launcher step decided, for the record (empty paths when it could not).
#[derive(Default)]
pub(super) struct Launched {
    pub(super) launcher: String,
    pub(super) interpreter: String,
    /// What an `sh` launcher starts.
    pub(super) entry: Option<DistEntry>,
}

impl Planner<'_> {
    /// The launcher, and the `.pth` that puts the layout's folders on `sys.path` of the
    /// dist's interpreter (for the launcher's process and for every child started with
    /// `sys.executable`).
    pub(super) fn launcher(&mut self, out: &mut Output) -> Launched {
        let layout = self.input.layout;
        let manifest = self.input.manifest;
        let env = self.launcher_env();
        self.carried = self.carried(&env);
        let Some(launcher) = &layout.launcher else {
            return Launched::default();
        };
        let entry = match launcher.form.value {
            LauncherForm::Sh => self.launch_entry(launcher),
            LauncherForm::Symlink => None,
        };
        let interpreter_unit = launcher.python.value;
        let interpreter = self
            .items
            .iter()
            .find(|i| i.unit == interpreter_unit && i.source == manifest.python.realpath)
            .and_then(|i| i.dest.clone());
        let Some(interpreter) = interpreter else {
            self.problems.push(Problem::Launcher {
                span: launcher.python.span,
                reason: format!(
                    "unit `{}` does not place the interpreter `{}`",
                    layout.unit(interpreter_unit).name.value,
                    manifest.python.realpath.display()
                ),
            });
            return Launched {
                entry,
                ..Launched::default()
            };
        };
        self.write_pth(launcher, &interpreter, out);
        let path = match launcher.path.render(&self.common) {
            Ok(p) => p,
            Err(err) => {
                self.problems.push(Problem::Launcher {
                    span: launcher.path.span,
                    reason: err.to_string(),
                });
                return Launched {
                    launcher: String::new(),
                    interpreter,
                    entry,
                };
            }
        };
        match launcher.form.value {
            LauncherForm::Symlink => {
                out.link(
                    &path,
                    "launcher",
                    launcher.span,
                    &relative(parent(&path), &interpreter),
                    &mut self.problems,
                );
            }
            LauncherForm::Sh => self.write_sh(launcher, &path, &interpreter, &entry, env, out),
        }
        Launched {
            launcher: path,
            interpreter,
            entry,
        }
    }

    /// What an `sh` launcher starts: the layout's module, or what the trace ran (its
    /// script where a unit places it).
    fn launch_entry(&self, launcher: &Launcher) -> Option<DistEntry> {
        let manifest = self.input.manifest;
        match (&launcher.entry.value, manifest.entry.kind) {
            (LauncherEntry::Module(m), _) => Some(DistEntry::Module(m.clone())),
            (LauncherEntry::Traced, EntryKind::Module) => {
                Some(DistEntry::Module(manifest.entry.target.clone()))
            }
            (LauncherEntry::Traced, EntryKind::Script | EntryKind::ConsoleScript) => self
                .items
                .iter()
                .find(|i| i.source == Path::new(&manifest.entry.target) && i.dest.is_some())
                .and_then(|i| i.dest.clone())
                .map(DistEntry::Script),
            (LauncherEntry::Traced, EntryKind::Code) => None,
        }
    }

    /// The `.pth` in the interpreter's own site folder, after checking that the
    /// interpreter finds its prefix.
    fn write_pth(&mut self, launcher: &Launcher, interpreter: &str, out: &mut Output) {
        let layout = self.input.layout;
        let manifest = self.input.manifest;
        // The interpreter finds its prefix by looking for `lib/pythonX.Y/os.py` above it.
        let prefix = parent(parent(interpreter)).to_owned();
        let version = format!(
            "{}.{}",
            manifest.python.version.major, manifest.python.version.minor
        );
        let landmark = under(&prefix, &format!("lib/python{version}/os.py"));
        if !out.entries.contains_key(&landmark) {
            let span = layout
                .units_taking(Kind::Stdlib)
                .next()
                .and_then(|u| layout.unit(u).destination.as_ref().map(|d| d.span))
                .unwrap_or(launcher.span);
            self.problems.push(Problem::NoLandmark {
                span,
                interpreter: interpreter.to_owned(),
                expected: under(&prefix, &format!("lib/python{version}")),
            });
        }

        // `site` itself comes from the stdlib: a packed stdlib must be where the
        // interpreter looks before any `.pth` is read.
        let zip = under(
            &prefix,
            &format!(
                "lib/python{}{}.zip",
                manifest.python.version.major, manifest.python.version.minor
            ),
        );
        for pack in &self.packs {
            if layout.unit(pack.unit).takes(Kind::Stdlib) && pack.archive != zip {
                self.problems.push(Problem::Launcher {
                    span: pack.span,
                    reason: format!(
                        "the interpreter at `{interpreter}` imports its packed stdlib only from `{zip}`, not `{}`",
                        pack.archive
                    ),
                });
            }
        }

        // Folders on sys.path: each file's destination without its `{path}` tail.
        let mut folders: Vec<String> = Vec::new();
        for unit in &launcher.sys_path {
            // A packed unit's archive comes before its folder, as CPython puts
            // `pythonXY.zip` before `pythonX.Y`; its folder only when files stay there.
            let pack = self.packs.iter().find(|p| p.unit == unit.value);
            if let Some(pack) = pack {
                folders.push(pack.archive.clone());
            }
            for (i, item) in self.items.iter().enumerate() {
                if item.unit != unit.value || pack.is_some_and(|p| !p.writes_file(i)) {
                    continue;
                }
                let Some(dest) = &item.dest else { continue };
                let tail = item.vars.get(&Var::Path).or(item.vars.get(&Var::File));
                let folder = match tail {
                    Some(tail) if dest.ends_with(tail.as_str()) => dest[..dest.len() - tail.len()]
                        .trim_end_matches('/')
                        .to_owned(),
                    _ => parent(dest).to_owned(),
                };
                if !folders.contains(&folder) {
                    folders.push(folder);
                }
            }
        }
        let site = site_dir_below_prefix(manifest);
        let pth_dir = under(&prefix, &site);
        let mut pth =
            String::from("# Generated by shenzi: the dist's folders on sys.path, in order.\n");
        for folder in &folders {
            pth.push_str(&relative(&pth_dir, folder));
            pth.push('\n');
        }
        out.add_generated(
            &under(&pth_dir, "00-shenzi.pth"),
            "launcher",
            launcher.span,
            pth.into_bytes(),
            0o644,
            &mut self.problems,
        );
    }

    /// The `sh` launcher at `path`, starting `entry` with `interpreter`.
    fn write_sh(
        &mut self,
        launcher: &Launcher,
        path: &str,
        interpreter: &str,
        entry: &Option<DistEntry>,
        env: Vec<crate::plan::launcher::EnvVar>,
        out: &mut Output,
    ) {
        let manifest = self.input.manifest;
        let Some(entry) = entry.clone() else {
            self.problems.push(Problem::Launcher {
                span: launcher.entry.span,
                reason: match manifest.entry.kind {
                    EntryKind::Code => "the trace ran `python -c`, which has no entry to start: use `entry module NAME`".into(),
                    _ => format!("no unit places the entry script `{}` (add one that takes `app.entry`)", manifest.entry.target),
                },
            });
            return;
        };
        let text = render_launcher(&LauncherSpec {
            path: path.to_owned(),
            interpreter: interpreter.to_owned(),
            entry,
            app_name: self.common[&Var::AppName].clone(),
            flags: launcher
                .flags
                .iter()
                .map(|f| f.value.option().to_owned())
                .collect(),
            path_first: self.program_folders(),
            env,
        });
        out.add_generated(
            path,
            "launcher",
            launcher.path.span,
            text.into_bytes(),
            0o755,
            &mut self.problems,
        );
    }
}

/// The interpreter's own site folder, relative to its prefix: where its `site` module
/// looks at start-up outside a venv, as the dist's copy runs. The tracer asked the
/// interpreter's own `site.py` (`prefix_site_dirs`: `lib/python3.11/site-packages`;
/// Debian's `local/lib/python3.11/dist-packages` first of three); the first is used.
/// Manifests of older tracers lack it: then the `site.py` the dist ships decides
/// (Debian's reads only `dist-packages` folders), then the base interpreter's system
/// site dir.
pub(super) fn site_dir_below_prefix(manifest: &Manifest) -> String {
    let python = &manifest.python;
    let version = format!("{}.{}", python.version.major, python.version.minor);
    let below_base = |p: &Path| {
        p.strip_prefix(&python.base_prefix)
            .or_else(|_| p.strip_prefix(&python.base_exec_prefix))
            .ok()
            .filter(|rel| !rel.as_os_str().is_empty())
            .map(|rel| rel.to_string_lossy().into_owned())
    };
    if let Some(rel) = python.prefix_site_dirs.iter().find_map(|p| below_base(p)) {
        return rel;
    }
    let debian = std::fs::read_to_string(python.stdlib.join("site.py"))
        .is_ok_and(|text| text.contains("dist-packages"));
    if debian {
        return format!("local/lib/python{version}/dist-packages");
    }
    python
        .site_dirs
        .iter()
        .filter(|s| s.kind == crate::manifest::SiteKind::System)
        .find_map(|s| below_base(&s.path))
        .unwrap_or_else(|| format!("lib/python{version}/site-packages"))
}
