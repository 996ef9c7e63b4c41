//! Checks that need a manifest: a unit taking a kind the manifest has nothing of, a
//! launcher replaying an entry it cannot.

use std::path::Path;

use super::diagnostics::{Diagnostic, ErrorKind};
use super::model::{LauncherEntry, Layout};
use super::vars::Kind;
use crate::manifest::{EntryKind, Manifest, ModuleKind, ObjectKind};

/// Pushes the diagnostics that `manifest` reveals about `layout`.
pub fn check(layout: &Layout, manifest: &Manifest, diagnostics: &mut Vec<Diagnostic>) {
    for unit in &layout.units {
        for kind in &unit.kinds {
            if !has_kind(manifest, kind.value) {
                diagnostics.push(Diagnostic::new(
                    kind.span,
                    ErrorKind::KindNotInManifest { kind: kind.value },
                ));
            }
        }
    }
    if let Some(launcher) = &layout.launcher
        && launcher.entry.value == LauncherEntry::Traced
        && manifest.entry.kind == EntryKind::Code
    {
        diagnostics.push(Diagnostic::new(
            launcher.entry.span,
            ErrorKind::TracedEntryIsCode,
        ));
    }
}

/// Whether the manifest records anything a unit taking `kind` would select.
pub fn has_kind(manifest: &Manifest, kind: Kind) -> bool {
    let py = &manifest.python;
    let under = |file: &Option<std::path::PathBuf>, dir: &Path| {
        file.as_ref().is_some_and(|f| f.starts_with(dir))
    };
    let in_site = |file: &Option<std::path::PathBuf>| {
        py.site_dirs
            .iter()
            .filter(|s| s.on_path)
            .any(|s| under(file, &s.path))
    };
    let dynload = py.dynload.as_deref();
    match kind {
        Kind::Interpreter => true,
        Kind::Stdlib => manifest.modules.iter().any(|m| {
            under(&m.file, &py.stdlib)
                && !in_site(&m.file)
                && !dynload.is_some_and(|d| under(&m.file, d))
        }),
        Kind::Dynload => {
            dynload.is_some_and(|d| manifest.modules.iter().any(|m| under(&m.file, d)))
        }
        Kind::SiteDirs => py.site_dirs.iter().any(|s| s.on_path),
        Kind::Packages => manifest.modules.iter().any(|m| in_site(&m.file)),
        Kind::Extensions => manifest
            .modules_of(ModuleKind::Extension)
            .any(|m| !dynload.is_some_and(|d| under(&m.file, d))),
        Kind::RuntimeLoads => !manifest.native.loads.is_empty(),
        Kind::Needed => manifest
            .native
            .objects
            .iter()
            .any(|o| o.kind == ObjectKind::Library),
        Kind::Executables => !manifest.executables.is_empty(),
        Kind::Entry => matches!(
            manifest.entry.kind,
            EntryKind::Script | EntryKind::ConsoleScript
        ),
        Kind::AppModules => crate::manifest::folders::app_roots(manifest)
            .iter()
            .any(|root| !crate::manifest::folders::imported_tops(manifest, root).is_empty()),
        Kind::Scripts => !manifest.scripts.is_empty(),
        Kind::Data => !manifest.data_files.is_empty(),
        Kind::NativeData => !manifest.native_data.is_empty(),
    }
}
