//! Selecting only what the trace imported from a real venv of PyPI wheels.

mod support;

use shenzi::manifest::read_manifest;
use shenzi::plan::select::{imported_tops, select_imported, walk};
use support::{output_ok, trace_command};

#[test]
fn select_imported_keeps_imported_packages_and_their_metadata_only() {
    let venv = support::wheel_venv();
    let dir = tempfile::tempdir().unwrap();
    let manifest_path = dir.path().join("m.json");
    output_ok(&mut trace_command(
        &manifest_path,
        [
            venv.join("bin/python").as_os_str(),
            "-c".as_ref(),
            "import numpy, PIL.Image".as_ref(),
        ],
    ));
    let manifest = read_manifest(&manifest_path).unwrap();
    let site = manifest
        .python
        .site_dirs
        .iter()
        .find(|s| s.on_path && s.path.starts_with(&venv))
        .expect("the venv's site dir")
        .path
        .clone();

    let tops = imported_tops(&manifest, &site);
    assert!(tops.contains("numpy") && tops.contains("PIL"), "{tops:?}");
    assert!(!tops.contains("lxml") && !tops.contains("pip"), "{tops:?}");

    let (files, errors) = walk(&site, &[]);
    assert!(errors.is_empty());
    let chosen = select_imported(&site, &files, &tops);
    let firsts: std::collections::BTreeSet<&str> = chosen
        .iter()
        .map(|f| f.rel.split('/').next().unwrap())
        .collect();
    assert!(firsts.contains("numpy") && firsts.contains("PIL"));
    assert!(
        firsts
            .iter()
            .any(|f| f.starts_with("numpy-") && f.ends_with(".dist-info")),
        "{firsts:?}"
    );
    assert!(
        firsts
            .iter()
            .any(|f| f.starts_with("pillow-") && f.ends_with(".dist-info")),
        "{firsts:?}"
    );
    // `distutils-precedence.pth` imports `_distutils_hack` at startup: it, its `.pth` and
    // the metadata of setuptools (which installed it) are in; setuptools itself is not.
    assert!(firsts.contains("_distutils_hack") && firsts.contains("distutils-precedence.pth"));
    assert!(
        firsts
            .iter()
            .any(|f| f.starts_with("setuptools-") && f.ends_with(".dist-info"))
    );
    assert!(!firsts.contains("setuptools") && !firsts.contains("pkg_resources"));
    for absent in ["lxml", "pip", "cryptography", "cffi"] {
        assert!(
            !firsts.iter().any(|f| f.to_lowercase().starts_with(absent)),
            "{absent} selected: {firsts:?}"
        );
    }
    // Every imported module file of this site dir is among the chosen files.
    for module in &manifest.modules {
        if let Some(file) = module.file.as_ref().filter(|f| f.starts_with(&site)) {
            assert!(
                chosen.iter().any(|f| &f.path == file),
                "{} not chosen",
                file.display()
            );
        }
    }
    assert!(
        chosen.len() < files.len() / 2,
        "{} of {}",
        chosen.len(),
        files.len()
    );
}

/// A venv inside the app's folder (`project/.venv`) holds the venv's modules, not the
/// app's: only the app's own module is its code.
#[test]
fn a_venv_inside_the_app_folder_is_not_app_code() {
    let project = tempfile::tempdir().unwrap();
    let venv = project.path().join(".venv");
    let made = std::process::Command::new(support::python311())
        .args(["-m", "venv", "--without-pip"])
        .arg(&venv)
        .status()
        .unwrap();
    assert!(made.success());
    std::fs::write(
        project.path().join("app.py"),
        "import json, mymod\nprint(mymod.X)\n",
    )
    .unwrap();
    std::fs::write(project.path().join("mymod.py"), "X = 42\n").unwrap();
    let manifest_path = project.path().join("m.json");
    output_ok(
        trace_command(
            &manifest_path,
            [venv.join("bin/python").as_os_str(), "app.py".as_ref()],
        )
        .current_dir(project.path()),
    );
    let manifest = read_manifest(&manifest_path).unwrap();
    let roots = shenzi::plan::select::app_roots(&manifest);
    let root = roots
        .iter()
        .find(|r| r.ends_with(project.path().file_name().unwrap()))
        .expect("the app folder");
    let tops = imported_tops(&manifest, root);
    assert_eq!(tops.into_iter().collect::<Vec<_>>(), ["mymod.py"]);
}
