//! Real-world native patterns that broke dists (issue 11 items 2 and 5, issue 12 items 3
//! and 10), each built by its test with gcc/g++ and checked end to end with every shipped
//! layout in the hidden world (tests/support/e2e.rs): traced once, applied per layout,
//! moved, run through a symlink to its launcher where the sources, the venv and every
//! library the layout's policy does not trust are gone; same stdout and exit status as
//! the untraced run, nothing mapped from outside the dist but the policy.
//!
//! - Binaries a package ships that the traced run never loads (a C++ library with
//!   RUNPATH `$ORIGIN` needing a sibling library and the C++ runtime; C++ programs under
//!   `<pkg>/data/bin/`, in a venv and on `PYTHONPATH`): the dist passes `shenzi verify`,
//!   the programs run and the library loads inside the world.
//! - Optional native dependencies absent on the build machine (an extension needing a
//!   missing `libtbb.so.12`, probed with `ctypes.CDLL` and the failure handled), with an
//!   unused other-machine build and a truncated object in the same package: shipped as
//!   they are, one warning each, naming the `exclude` that drops them.
//! - Libraries loaded by path from beside the entry script, from a folder beside an app
//!   package, and from a site dir's `<pkg>.libs`: each is in the dist where its module
//!   looks, and a dist whose by-path load misses fails `shenzi verify`.
//!
//! Needs root (mount namespaces), gcc, g++ and pyenv's CPython 3.11.

#[path = "fixtures/native/kit.rs"]
mod kit;
mod support;

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Output;

use kit::{Kit, Lib};
use support::e2e::{self, AppRun, LAYOUTS, app, write};
use support::hidden::{HiddenWorld, disallowed_paths};
use support::{describe, python311, shenzi, text};

/// A venv of pyenv's CPython 3.11 in `dir/venv`, without pip (nothing but what the test
/// puts in it); returns (venv, its site-packages).
fn venv(dir: &Path) -> (PathBuf, PathBuf) {
    let venv = dir.join("venv");
    support::output_ok(
        std::process::Command::new(python311())
            .args(["-m", "venv", "--without-pip"])
            .arg(&venv),
    );
    let site = venv.join("lib/python3.11/site-packages");
    assert!(site.is_dir(), "{}", site.display());
    (venv, site)
}

/// The one file of the dist whose path ends with `tail` (`pkg/data/bin/tool`), not a
/// symlink: a unit's copy, wherever the layout puts the package.
fn find(dist: &Path, tail: &str) -> Result<PathBuf, String> {
    let found: Vec<PathBuf> = walkdir::WalkDir::new(dist)
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| !e.file_type().is_dir() && e.path().ends_with(tail))
        .map(|e| e.into_path())
        .collect();
    match found.as_slice() {
        [one] => Ok(one.clone()),
        _ => Err(format!(
            "{} files of the dist end with `{tail}`: {found:?}",
            found.len()
        )),
    }
}

/// `shenzi verify DIST`.
fn verify(dist: &Path) -> Output {
    shenzi()
        .arg("verify")
        .arg(dist)
        .env("NO_COLOR", "1")
        .output()
        .unwrap()
}

fn verified(dist: &Path) -> Result<(), String> {
    let out = verify(dist);
    if out.status.success() {
        Ok(())
    } else {
        Err(format!("`shenzi verify` fails: {}", describe(&out)))
    }
}

/// Runs `argv` in the world from the dist's folder; `Ok(stdout)` when it exits 0.
fn run_in(world: &HiddenWorld, dist: &Path, argv: &[&Path]) -> Result<String, String> {
    let argv: Vec<OsString> = argv.iter().map(|p| p.as_os_str().to_owned()).collect();
    let out = world
        .run(&argv, dist, &[], b"")
        .map_err(|e| format!("{argv:?} in the world: {e}"))?;
    if out.status.success() {
        Ok(text(&out.stdout))
    } else {
        Err(format!("{argv:?} fails in the world: {}", describe(&out)))
    }
}

/// Shared libraries and C++ programs inside packages that the traced run never maps
/// reach their needs in every layout's dist: the closure (the C++ runtime where the
/// layout bundles it, the package's sibling library) is bundled and their RUNPATH made.
#[test]
fn binaries_a_package_ships_but_the_run_never_loads_work_in_the_dist() {
    let scratch = e2e::scratch();
    let kit = Kit::new();
    let (venv, site) = venv(scratch.path());
    let pkg = site.join("cxxpkg");
    let helper = kit.lib_at(
        &pkg.join("libcxxhelper.so.1"),
        Lib {
            soname: "libcxxhelper.so.1",
            ..Lib::default()
        },
    );
    kit.cxx_lib(
        &pkg.join("libcxxextra.so.2"),
        "libcxxextra.so.2",
        &[&helper],
        &["$ORIGIN"],
    );
    kit.cxx_program(&pkg.join("data/bin/cxxtool"), "cxxtool ok");
    write(&pkg.join("__init__.py"), "NAME = 'cxxpkg'\n");
    // The same on `PYTHONPATH`: an app package, which the layouts ship without a farm.
    let pythonpath = scratch.path().join("pythonpath");
    let toolpkg = pythonpath.join("toolpkg");
    kit.cxx_program(&toolpkg.join("data/bin/pathtool"), "pathtool ok");
    write(&toolpkg.join("__init__.py"), "NAME = 'toolpkg'\n");
    let src = app(
        scratch.path(),
        "import cxxpkg, toolpkg\nprint(cxxpkg.NAME, toolpkg.NAME)\n",
    );

    let mut run = AppRun::new(
        "unloaded package binaries",
        &venv.join("bin/python"),
        &src,
        "app.py",
    );
    run.venv = Some(venv.clone());
    run.env = vec![("PYTHONPATH".into(), pythonpath.clone().into())];
    run.hide = vec![pythonpath.clone()];
    let t = e2e::trace(run, scratch);
    assert_eq!(text(&t.untraced.stdout), "cxxpkg toolpkg\n");
    let manifest = std::fs::read_to_string(&t.manifest).unwrap();
    for name in ["libcxxextra", "libcxxhelper", "cxxtool", "pathtool"] {
        assert!(!manifest.contains(name), "the traced run used {name}");
    }

    e2e::check_layouts_with(&t, LAYOUTS, &|dist, world| {
        verified(dist)?;
        for (tail, line) in [
            ("cxxpkg/data/bin/cxxtool", "cxxtool ok\n"),
            ("toolpkg/data/bin/pathtool", "pathtool ok\n"),
        ] {
            let program = find(dist, tail)?;
            let out = run_in(world, dist, &[&program])?;
            if out != line {
                return Err(format!("{tail} printed {out:?}"));
            }
        }
        // The library as a `dlopen` of its path in the package loads it: every object
        // the loader opens is the dist's or the policy's.
        let library = find(dist, "cxxpkg/libcxxextra.so.2")?;
        let out = run_in(world, dist, &[&kit.probe, &library])?;
        let opened: Vec<PathBuf> = out
            .lines()
            .filter(|l| l.starts_with('/'))
            .map(PathBuf::from)
            .collect();
        if !opened.iter().any(|p| p.ends_with("libcxxhelper.so.1"))
            || !opened.iter().any(|p| {
                p.file_name()
                    .is_some_and(|f| f.to_string_lossy().starts_with("libstdc++.so.6"))
            })
        {
            return Err(format!("the probe opened {opened:?}"));
        }
        let outside = disallowed_paths(&opened, Some(dist), world.policy_names());
        if !outside.is_empty() {
            return Err(format!(
                "loading the library opens {outside:?}, outside the dist and the policy"
            ));
        }
        Ok(())
    });
}

/// What the build machine cannot load is shipped as it is: an extension that needs an
/// absent library (the app probes for that library with `ctypes`, which fails, and goes
/// on), another machine's build and a truncated object. Each is one warning whose help
/// names the `exclude` that drops it; the failed probe is one warning, not a need.
#[test]
fn optional_native_dependencies_absent_here_are_shipped_as_they_are() {
    let scratch = e2e::scratch();
    let kit = Kit::new();
    let (venv, site) = venv(scratch.path());
    let pkg = site.join("optpkg");
    let tbb = kit.plain("gone/libtbb.so.12", "libtbb.so.12");
    let backend = kit.extension(
        &pkg.join("_tbb_backend.cpython-311-x86_64-linux-gnu.so"),
        "_tbb_backend",
        &python311(),
        &[&tbb],
    );
    std::fs::remove_file(&tbb).unwrap();
    let helper = kit.plain("libneon.so", "libneon.so");
    let arm = pkg.join("_neon.cpython-311-aarch64-linux-gnu.so");
    kit::other_machine(&helper, &arm);
    let truncated = pkg.join("libtruncated.so.1");
    kit::truncated(&helper, &truncated, 200);
    write(
        &pkg.join("__init__.py"),
        "import ctypes\ntry:\n    ctypes.CDLL('libtbb.so.12')\nexcept OSError:\n    BACKEND = 'serial'\nelse:\n    from . import _tbb_backend\n    BACKEND = 'tbb'\n",
    );
    let src = app(
        scratch.path(),
        "import optpkg\nprint('backend', optpkg.BACKEND)\n",
    );
    let mut run = AppRun::new(
        "optional native dependencies",
        &venv.join("bin/python"),
        &src,
        "app.py",
    );
    run.venv = Some(venv.clone());
    let t = e2e::trace(run, scratch);
    assert_eq!(text(&t.untraced.stdout), "backend serial\n");

    // The warnings, once (they are the same for every layout but the unit's name).
    let dist = t.scratch.path().join("warned");
    let out = support::apply("default", &t.manifest, &dist, &[]);
    let err = text(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("0 error(s), 4 warning(s)"), "{err}");
    // miette wraps long lines (at spaces and hyphens): compare without the gutter and
    // without any whitespace.
    let squash = |s: &str| -> String { s.chars().filter(|c| !c.is_whitespace()).collect() };
    let flat: String = err
        .lines()
        .map(|l| {
            let l = l.trim_start();
            ["! ", "| ", "x "]
                .iter()
                .find_map(|g| l.strip_prefix(g))
                .unwrap_or(l)
        })
        .map(squash)
        .collect();
    assert_eq!(
        flat.matches("shenzi::plan::shipped_as_is").count(),
        3,
        "{err}"
    );
    for (file, why) in [
        (
            &backend,
            "needs `libtbb.so.12`, which this machine does not have",
        ),
        (&arm, "is built for aarch64"),
        (&truncated, "is a damaged ELF file"),
    ] {
        let name = file.file_name().unwrap().to_string_lossy().into_owned();
        assert!(
            flat.contains(&squash(&format!("/optpkg/{name}` {why}")))
                && flat.contains(&squash(&format!(
                    "`exclude \"optpkg/{name}\"` in unit `site`"
                ))),
            "{name}: {err}"
        );
    }
    assert!(
        flat.contains(&squash(
            "ctypes.CDLL(\"libtbb.so.12\") in optpkg failed in the traced run"
        )),
        "{err}"
    );
    assert!(err.contains("verified:"), "{err}");
    // Written as they are: the same bytes.
    for file in [&arm, &truncated] {
        let shipped = find(
            &dist,
            &format!("optpkg/{}", file.file_name().unwrap().to_string_lossy()),
        )
        .unwrap();
        assert_eq!(
            std::fs::read(&shipped).unwrap(),
            std::fs::read(file).unwrap()
        );
    }
    verified(&dist).unwrap();
    std::fs::remove_dir_all(&dist).unwrap();

    e2e::check_layouts_with(&t, LAYOUTS, &|dist, _| verified(dist));
}

/// A library the app loads by path, computed from its module's `__file__`, is in the dist
/// at the same place relative to that module, whatever the layout does with libraries:
/// beside the entry script, in a folder beside an app package, in a site dir's
/// `<pkg>.libs` (which `select imported` does not take). One of them needs a library of
/// its folder through RUNPATH `$ORIGIN`, from where it is opened in the dist.
#[test]
fn libraries_loaded_by_path_are_where_their_module_looks() {
    let scratch = e2e::scratch();
    let kit = Kit::new();
    let (venv, site) = venv(scratch.path());
    let src = app(
        scratch.path(),
        "import ctypes, os\nhere = os.path.dirname(os.path.abspath(__file__))\nbeside = ctypes.CDLL(os.path.join(here, 'libbeside.so'))\nimport plainmods, sitemod\nprint('by path', plainmods.DEEP is not None, sitemod.LIB is not None)\n",
    );
    kit.lib_at(
        &src.join("libbeside.so"),
        Lib {
            soname: "libbeside.so",
            ..Lib::default()
        },
    );
    let dep = kit.lib_at(
        &src.join("native/libdeepdep.so.1"),
        Lib {
            soname: "libdeepdep.so.1",
            ..Lib::default()
        },
    );
    kit.lib_at(
        &src.join("native/libdeep.so"),
        Lib {
            soname: "libdeep.so",
            needs: &[&dep],
            runpath: &["$ORIGIN"],
            ..Lib::default()
        },
    );
    write(
        &src.join("plainmods/__init__.py"),
        "import ctypes, os\nDEEP = ctypes.CDLL(os.path.join(os.path.dirname(__file__), '..', 'native', 'libdeep.so'))\n",
    );
    kit.lib_at(
        &site.join("sitemod.libs/libsite.so"),
        Lib {
            soname: "libsite.so",
            ..Lib::default()
        },
    );
    write(
        &site.join("sitemod/__init__.py"),
        "import ctypes, os\nLIB = ctypes.CDLL(os.path.join(os.path.dirname(__file__), os.pardir, 'sitemod.libs', 'libsite.so'))\n",
    );
    let mut run = AppRun::new("loads by path", &venv.join("bin/python"), &src, "app.py");
    run.venv = Some(venv.clone());
    let t = e2e::trace(run, scratch);
    assert_eq!(text(&t.untraced.stdout), "by path True True\n");

    e2e::check_layouts_with(&t, LAYOUTS, &|dist, _| {
        verified(dist)?;
        // Stored once, where the run-time load unit puts it, whatever the units' order
        // (`farm-per-unit` lists the needed libraries' unit first).
        for soname in ["libbeside.so", "libdeep.so", "libsite.so"] {
            let copies = walkdir::WalkDir::new(dist)
                .into_iter()
                .filter_map(Result::ok)
                .filter(|e| e.file_type().is_file())
                .filter(|e| {
                    shenzi::binary::read_object(e.path())
                        .ok()
                        .flatten()
                        .is_some_and(|o| o.soname.as_deref() == Some(soname))
                })
                .count();
            if copies != 1 {
                return Err(format!("{copies} copies of {soname} in the dist"));
            }
        }
        Ok(())
    });

    // `verify` checks loads by path: with the library beside the entry gone, or not a
    // library any more, the dist fails it.
    let dist = t.scratch.path().join("dist");
    let out = support::apply("default", &t.manifest, &dist, &[]);
    assert!(out.status.success(), "{}", describe(&out));
    verified(&dist).unwrap();
    let record: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dist.join(".shenzi/dist.json")).unwrap())
            .unwrap();
    let by_path: Vec<&str> = record["loads"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|l| l["path"].as_str())
        .collect();
    assert_eq!(
        by_path,
        [
            "app/libbeside.so",
            "app/native/libdeep.so",
            "site-packages/0/sitemod.libs/libsite.so"
        ]
    );
    for (mutation, reason) in [
        ("gone", "nothing is there"),
        ("not a library", "is not a loadable ELF object"),
    ] {
        let beside = dist.join("app/libbeside.so");
        if std::fs::symlink_metadata(&beside).is_ok() {
            std::fs::remove_file(&beside).unwrap();
        }
        if mutation == "not a library" {
            std::fs::write(&beside, "not ELF").unwrap();
        }
        let out = verify(&dist);
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{mutation}: {err}");
        assert!(
            err.contains("shenzi::verify::path_load_missing")
                && err.contains("module `__main__` loads the library `app/libbeside.so` by path")
                && err.contains(reason),
            "{mutation}: {err}"
        );
    }
}
