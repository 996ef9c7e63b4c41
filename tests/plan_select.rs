//! Selecting only what the trace imported from a real venv of PyPI wheels.

mod support;

use shenzi::manifest::{Manifest, read_manifest};
use shenzi::plan::select::{Walked, imported_tops, select_imported, walk};
use support::{output_ok, trace_command};

/// Traces `python -c CODE` with the wheel venv's python into `dir/m.json`.
fn trace_wheel_venv(dir: &std::path::Path, code: &str) -> (std::path::PathBuf, Manifest) {
    let venv = support::wheel_venv();
    let manifest_path = dir.join("m.json");
    output_ok(&mut trace_command(
        &manifest_path,
        [
            venv.join("bin/python").as_os_str(),
            "-c".as_ref(),
            code.as_ref(),
        ],
    ));
    let manifest = read_manifest(&manifest_path).unwrap();
    (manifest_path, manifest)
}

#[test]
fn select_imported_keeps_imported_packages_and_their_metadata_only() {
    let venv = support::wheel_venv();
    let dir = tempfile::tempdir().unwrap();
    let (_, manifest) = trace_wheel_venv(dir.path(), "import numpy, PIL.Image");
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

    let Walked { files, unreadable } = walk(&site, &[]);
    assert!(unreadable.is_empty());
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

/// `shenzi plan LAYOUT MANIFEST --format json`, parsed; the plan must have no error.
fn plan_json(layout: &str, manifest: &std::path::Path) -> serde_json::Value {
    let out = support::shenzi()
        .args(["plan", layout])
        .arg(manifest)
        .args(["--format", "json"])
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", support::describe(&out));
    serde_json::from_slice(&out.stdout).unwrap()
}

/// The plan's entries whose source starts with `prefix`.
fn entries_from<'a>(
    plan: &'a serde_json::Value,
    prefix: &'a str,
) -> impl Iterator<Item = &'a serde_json::Value> + 'a {
    plan["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(move |e| e["source"].as_str().is_some_and(|s| s.starts_with(prefix)))
}

/// Debian's python3 in a `--system-site-packages` venv (`scripts/setup`) with apt's numpy:
/// the `.pth` goes where Debian's `site.py` reads it, `site` kinds choose the units, and
/// `flat`, merging four site dirs into one folder, keeps the venv's setuptools over
/// dist-packages' (it wrote nothing before: a conflict).
#[test]
fn debian_site_dirs_of_a_system_site_packages_venv() {
    let venv = support::repo_root().join(".cache/venvs/debian-system-site");
    assert!(venv.join(".complete").exists(), "run scripts/setup");
    let dir = tempfile::tempdir().unwrap();
    let manifest = dir.path().join("m.json");
    std::fs::write(dir.path().join("app.py"), "import numpy\n").unwrap();
    output_ok(
        trace_command(
            &manifest,
            [venv.join("bin/python").as_os_str(), "app.py".as_ref()],
        )
        .current_dir(dir.path()),
    );
    let m = read_manifest(&manifest).unwrap();
    let rels: Vec<String> = m
        .python
        .prefix_site_dirs
        .iter()
        .map(|p| p.strip_prefix("/usr").unwrap().display().to_string())
        .collect();
    assert_eq!(
        rels,
        [
            "local/lib/python3.11/dist-packages",
            "lib/python3/dist-packages",
            "lib/python3.11/dist-packages"
        ]
    );
    let apt = "/usr/lib/python3/dist-packages/numpy/";
    let venv_site = venv.join("lib/python3.11/site-packages");
    let venv_site = venv_site.to_str().unwrap();

    let default = plan_json("default", &manifest);
    assert!(
        default["entries"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["path"] == "python/local/lib/python3.11/dist-packages/00-shenzi.pth"),
        "the .pth is not where Debian's site.py reads it"
    );
    assert!(entries_from(&default, apt).count() > 100);

    let farms = plan_json("farm-per-unit", &manifest);
    let units = |prefix: &str| -> std::collections::BTreeSet<String> {
        entries_from(&farms, prefix)
            .map(|e| e["unit"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(units(apt).into_iter().collect::<Vec<_>>(), ["system-site"]);
    assert_eq!(
        units(venv_site).into_iter().collect::<Vec<_>>(),
        ["venv-site"]
    );
    assert!(
        farms["entries"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["path"]
                .as_str()
                .unwrap()
                .starts_with("site-libs/system/links/_multiarray_umath.")),
        "numpy's extensions do not find their needs through the system site dirs' farm"
    );

    let flat = plan_json("flat", &manifest);
    let setuptools: Vec<&str> = flat["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["path"] == "lib/python3.11/site-packages/setuptools/__init__.py")
        .map(|e| e["source"].as_str().unwrap())
        .collect();
    assert_eq!(setuptools.len(), 1);
    assert!(setuptools[0].starts_with(venv_site), "{setuptools:?}");
    assert!(entries_from(&flat, apt).count() > 100);
}

/// An app that lists entry points reads every distribution's `entry_points.txt`:
/// `select imported` keeps those metadata folders (not the packages), and an unclaimed one
/// is a warning even under `unclaimed error`.
#[test]
fn metadata_read_for_entry_points() {
    let venv = support::wheel_venv();
    let dir = tempfile::tempdir().unwrap();
    let (manifest_path, manifest) = trace_wheel_venv(
        dir.path(),
        "import importlib.metadata as m; print(len(m.entry_points()))",
    );
    let site = venv.join("lib/python3.11/site-packages");
    let mut tops = imported_tops(&manifest, &site);
    tops.extend(shenzi::plan::select::read_tops(&manifest, &site));
    let files = walk(&site, &[]).files;
    let chosen = select_imported(&site, &files, &tops);
    let firsts: std::collections::BTreeSet<&str> = chosen
        .iter()
        .map(|f| f.rel.split('/').next().unwrap())
        .collect();
    assert!(
        firsts
            .iter()
            .any(|f| f.starts_with("pip-") && f.ends_with(".dist-info")),
        "{firsts:?}"
    );
    assert!(
        !firsts.contains("pip") && !firsts.contains("numpy"),
        "{firsts:?}"
    );

    // A layout that takes only numpy's files, with unclaimed files an error.
    let layout = dir.path().join("only-numpy.shz");
    std::fs::write(
        &layout,
        "system { preset glibc\n cxx-runtime bundle }\n\
         unit python { take python.interpreter  to \"python/bin/{file}\" }\n\
         unit stdlib { take python.stdlib  to \"python/lib/python{py.major}.{py.minor}/{path}\" }\n\
         unit dynload { take python.dynload  to \"python/lib/python{py.major}.{py.minor}/lib-dynload/{path}\" }\n\
         unit site { take python.site_dirs  only \"{numpy,_distutils_hack}/**\"  to \"site/{path}\" }\n\
         unit libs { take native.needed  to \"lib/{name}\" }\n\
         unclaimed error\n",
    )
    .unwrap();
    let out = support::shenzi()
        .args(["plan"])
        .arg(&layout)
        .arg(&manifest_path)
        .args(["--format", "json"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", support::describe(&out));
    let plan: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let unclaimed: Vec<&serde_json::Value> = plan["problems"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["code"] == "shenzi::plan::unclaimed")
        .collect();
    assert_eq!(unclaimed.len(), 1, "{unclaimed:?}");
    assert_eq!(unclaimed[0]["severity"], "warning");
    assert!(
        unclaimed[0]["message"]
            .as_str()
            .unwrap()
            .contains(".dist-info/entry_points.txt"),
        "{unclaimed:?}"
    );
}
