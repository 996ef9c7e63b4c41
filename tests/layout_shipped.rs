//! The shipped layouts: each checks with no diagnostic at all, is a fixed point of
//! `shenzi fmt`, and is reachable by name.

use shenzi::layout::{self, BUILTIN, Source};

#[test]
fn every_shipped_layout_checks_clean() {
    for (name, text) in BUILTIN {
        let checked = layout::check(&Source::new(*name, *text));
        assert!(
            checked.report.diagnostics.is_empty(),
            "{name}: {:?}",
            checked.report.codes()
        );
        let layout = checked.layout.expect("a clean layout resolves");
        assert!(layout.launcher.is_some(), "{name} has a launcher");
        assert!(!layout.units.is_empty());
    }
}

#[test]
fn every_shipped_layout_is_formatted() {
    for (name, text) in BUILTIN {
        let formatted = layout::format(&Source::new(*name, *text)).expect("parses");
        assert_eq!(&formatted, text, "{name} is not a fixed point of fmt");
    }
}

#[test]
fn shipped_files_are_the_built_in_ones() {
    for (name, text) in BUILTIN {
        let path = format!("{}/layouts/{name}.shz", env!("CARGO_MANIFEST_DIR"));
        let on_disk = std::fs::read_to_string(&path).expect("shipped layout file");
        assert_eq!(&on_disk, text, "{path}");
        assert_eq!(layout::load(name).expect("built in").text, *text);
        let header = text.lines().next().unwrap_or("");
        assert!(
            header.starts_with("# "),
            "{name} starts with a comment saying when to choose it"
        );
    }
}

#[test]
fn default_layout_resolves_as_designed() {
    let layout = layout::check(&layout::load("default").unwrap())
        .layout
        .unwrap();
    assert_eq!(layout.farms.len(), 1);
    let farm = &layout.farms[0];
    assert_eq!(farm.root.value, "lib");
    assert_eq!(farm.level.value, 2);
    assert!(layout.system.provides("libc.so.6"));
    assert!(layout.system.provides("libnss_files.so.2"));
    assert!(
        !layout.system.provides("libstdc++.so.6"),
        "cxx-runtime bundle"
    );
    assert!(!layout.system.provides("libz.so.1"));
    let site = layout.unit(layout.unit_named("site").unwrap());
    assert_eq!(site.select.value, layout::Select::Imported);
    // Bytecode is taken; the planner keeps only current pycs of the traced interpreter.
    assert!(site.selects("numpy/__pycache__/x.pyc"));
    assert!(site.selects("numpy/core/_multiarray_umath.so"));
    let vars: std::collections::HashMap<layout::Var, String> = [
        (layout::Var::SiteIndex, "0".to_owned()),
        (layout::Var::Path, "numpy/__init__.py".to_owned()),
    ]
    .into();
    assert_eq!(
        site.destination.as_ref().unwrap().render(&vars).unwrap(),
        "site-packages/0/numpy/__init__.py"
    );
    let runtime = layout.unit(layout.unit_named("runtime").unwrap());
    assert!(runtime.serve_callers.is_some());
    assert_eq!(runtime.action.value, layout::Action::Symlink);
    let launcher = layout.launcher.as_ref().unwrap();
    assert_eq!(layout.unit(launcher.python.value).name.value, "interpreter");
    let path: Vec<&str> = launcher
        .sys_path
        .iter()
        .map(|u| layout.unit(u.value).name.value.as_str())
        .collect();
    assert_eq!(path, ["entry", "app", "stdlib", "dynload", "site"]);
    let programs: Vec<&str> = launcher
        .programs
        .iter()
        .map(|u| layout.unit(u.value).name.value.as_str())
        .collect();
    assert_eq!(programs, ["programs"]);
    assert!(matches!(
        launcher.env.as_slice(),
        [e] if matches!(e.value, layout::EnvSetting::Traced)
    ));
    // interpreter, dynload, site, libraries, runtime, programs.
    assert_eq!(farm.members.len(), 6);
}
