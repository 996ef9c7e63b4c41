//! `shenzi apply` through the real binary, on the stdlib example traced with pyenv's
//! CPython 3.11: every shipped layout makes a dist that runs from elsewhere, through a
//! symlink, with the same output; the same inputs give the same bytes; failures write
//! nothing.

mod support;

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use support::example::copy_tree;
use support::{apply, output_ok, python311, repo_root, shenzi, trace_command};

const LAYOUTS: &[&str] = &["default", "flat", "farm-per-unit", "minimal"];

/// (scratch, app dir, manifest) of a traced copy of the stdlib example.
fn traced_example() -> (tempfile::TempDir, PathBuf, PathBuf) {
    let t = support::example::traced_example();
    (t.scratch, t.app, t.manifest)
}

fn run_app(launcher: &Path, cwd: &Path) -> Output {
    Command::new(launcher)
        .args(["first", "second arg"])
        .current_dir(cwd)
        .env("PYTHONPATH", "/nonexistent")
        .env("PYTHONHOME", "/nonexistent")
        .output()
        .unwrap()
}

/// Path, kind, link target and mode of every entry; content hashes of files.
fn tree(root: &Path, with_hashes: bool) -> Vec<String> {
    let mut out: Vec<String> = walkdir::WalkDir::new(root)
        .min_depth(1)
        .into_iter()
        .map(|e| {
            let e = e.unwrap();
            let meta = e.path().symlink_metadata().unwrap();
            let rel = e.path().strip_prefix(root).unwrap().display().to_string();
            if meta.file_type().is_symlink() {
                format!(
                    "{rel} -> {}",
                    std::fs::read_link(e.path()).unwrap().display()
                )
            } else if meta.is_dir() {
                format!("{rel}/ {:o}", meta.mode() & 0o777)
            } else if with_hashes {
                let hash = blake3::hash(&std::fs::read(e.path()).unwrap());
                format!(
                    "{rel} {:o} {} mtime={}",
                    meta.mode() & 0o777,
                    hash.to_hex(),
                    meta.mtime()
                )
            } else {
                format!("{rel} {:o}", meta.mode() & 0o777)
            }
        })
        .collect();
    out.sort();
    out
}

#[test]
fn every_shipped_layout_makes_a_dist_that_runs_elsewhere() {
    let (scratch, app, manifest) = traced_example();
    let expected = Command::new(python311())
        .args(["app.py", "first", "second arg"])
        .current_dir(&app)
        .output()
        .unwrap();
    assert!(expected.status.success());
    for layout in LAYOUTS {
        let dist = scratch.path().join(format!("built {layout}"));
        let out = apply(layout, &manifest, &dist, &[]);
        assert!(
            out.status.success(),
            "{layout}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        // Moved, and started through a symlink from another folder.
        let moved = scratch.path().join(format!("moved {layout}"));
        std::fs::rename(&dist, &moved).unwrap();
        let link = scratch.path().join(format!("run-{layout}"));
        std::os::unix::fs::symlink(moved.join("bin/app"), &link).unwrap();
        let got = run_app(&link, Path::new("/"));
        assert_eq!(
            String::from_utf8_lossy(&got.stdout),
            String::from_utf8_lossy(&expected.stdout),
            "{layout}: {}",
            String::from_utf8_lossy(&got.stderr)
        );
        assert_eq!(got.status.code(), Some(0), "{layout}");
    }
}

#[test]
fn the_same_inputs_give_the_same_dist_and_the_tree_is_stable() {
    let (scratch, _app, manifest) = traced_example();
    let one = scratch.path().join("one");
    let two = scratch.path().join("two");
    for dist in [&one, &two] {
        let out = apply("default", &manifest, dist, &[]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    assert_eq!(tree(&one, true), tree(&two, true));
    // SOURCE_DATE_EPOCH sets every time.
    let three = scratch.path().join("three");
    let out = shenzi()
        .args(["apply", "default"])
        .arg(&manifest)
        .arg("-o")
        .arg(&three)
        .env("SOURCE_DATE_EPOCH", "1700000000")
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(
        std::fs::symlink_metadata(three.join("bin/app"))
            .unwrap()
            .mtime(),
        1_700_000_000
    );

    // The shape of the default dist, without machine-specific content hashes.
    let hex16 = regex_lite_hex();
    let shape: Vec<String> = tree(&one, false)
        .into_iter()
        .filter(|l| {
            !l.starts_with("python/lib/python3.11/")
                || l.starts_with("python/lib/python3.11/site-packages")
        })
        .map(|l| hex16(&l))
        .collect();
    insta::assert_snapshot!("default_dist_tree", shape.join("\n"));
}

/// Replaces runs of 16 hex digits (content-hash folder names) with `<hash>`.
fn regex_lite_hex() -> impl Fn(&str) -> String {
    |line: &str| {
        let mut out = String::new();
        let chars: Vec<char> = line.chars().collect();
        let mut i = 0;
        while i < chars.len() {
            let run = chars[i..]
                .iter()
                .take_while(|c| c.is_ascii_hexdigit())
                .count();
            if run >= 16 {
                out.push_str("<hash>");
                i += run;
            } else {
                out.push(chars[i]);
                i += 1;
            }
        }
        out
    }
}

#[test]
fn a_forced_reapply_reuses_the_previous_dist_and_gives_the_same_dist() {
    let (scratch, app, manifest) = traced_example();
    let cold = scratch.path().join("cold");
    let dist = scratch.path().join("dist");
    for dist in [&cold, &dist] {
        let out = apply("default", &manifest, dist, &[]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{stderr}");
        assert!(!stderr.contains("reused"), "{stderr}");
    }
    let app_py = walkdir::WalkDir::new(&dist)
        .into_iter()
        .map(|e| e.unwrap().into_path())
        .find(|p| p.ends_with("greeter/__init__.py"))
        .expect("the app's package is in the dist");
    let before = app_py.metadata().unwrap().ino();

    let out = apply("default", &manifest, &dist, &["--force"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let reused: u64 = stderr
        .split(" files reused from the previous dist")
        .next()
        .and_then(|s| s.rsplit(", ").next())
        .and_then(|n| n.replace(',', "").parse().ok())
        .unwrap_or_else(|| panic!("no reuse count in: {stderr}"));
    assert!(reused > 100, "{stderr}");
    assert_eq!(app_py.metadata().unwrap().ino(), before, "{stderr}");
    assert_eq!(tree(&dist, true), tree(&cold, true));

    // An edited source is copied again, and the dist matches a cold apply of it.
    let source = app.join("greeter/__init__.py");
    let mut text = std::fs::read_to_string(&source).unwrap();
    text.push_str("# edited\n");
    std::fs::write(&source, &text).unwrap();
    let out = apply("default", &manifest, &dist, &["--force"]);
    assert!(out.status.success());
    assert_eq!(std::fs::read_to_string(&app_py).unwrap(), text);
    assert_ne!(app_py.metadata().unwrap().ino(), before);
}

#[test]
fn an_existing_folder_that_is_not_a_dist_is_refused() {
    let (scratch, _app, manifest) = traced_example();
    let target = scratch.path().join("mine");
    std::fs::create_dir(&target).unwrap();
    std::fs::write(target.join("notes.txt"), "keep me").unwrap();
    let out = apply("default", &manifest, &target, &["--force"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("is not a shenzi dist"));
    assert_eq!(
        std::fs::read_to_string(target.join("notes.txt")).unwrap(),
        "keep me"
    );
    // A previous dist needs --force.
    let dist = scratch.path().join("dist");
    assert!(apply("minimal", &manifest, &dist, &[]).status.success());
    let again = apply("minimal", &manifest, &dist, &[]);
    assert_eq!(again.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&again.stderr).contains("--force"));
    assert!(
        apply("minimal", &manifest, &dist, &["--force"])
            .status
            .success()
    );
}

#[test]
fn a_layout_whose_level_cannot_work_is_a_diagnostic_and_writes_nothing() {
    let (scratch, _app, manifest) = traced_example();
    // The default farm opens libraries from folders two below its root; `level 3`
    // would make every RUNPATH climb one folder too many.
    let layout = scratch.path().join("level.shz");
    let text = std::fs::read_to_string(repo_root().join("layouts/default.shz"))
        .unwrap()
        .replace("level 2", "level 3");
    std::fs::write(&layout, text).unwrap();
    let dist = scratch.path().join("dist");
    let out = apply(layout.to_str().unwrap(), &manifest, &dist, &[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("shenzi::layout::level_mismatch"),
        "{stderr}"
    );
    assert!(stderr.contains("nothing was written"), "{stderr}");
    assert!(!dist.exists());
    assert!(no_scratch_left(scratch.path()));
}

/// shenzi writes every edit of this dist itself (interpreter, libpython, lib-dynload):
/// no patchelf on `PATH`, and the dist runs. (A binary shenzi declines and no patchelf
/// is `execute_write::a_declined_binary_without_patchelf_fails_before_anything_is_written`.)
#[test]
fn apply_without_patchelf_writes_every_edit_itself() {
    let (scratch, _app, manifest) = traced_example();
    let dist = scratch.path().join("dist");
    let out = shenzi()
        .args(["apply", "default"])
        .arg(&manifest)
        .arg("-o")
        .arg(&dist)
        .env("PATH", "/nonexistent")
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains(" patched), in "), "{stderr}");
    assert!(!stderr.contains("patchelf"), "{stderr}");
    let ran = run_app(&dist.join("bin/app"), scratch.path());
    assert!(
        ran.status.success(),
        "{}",
        String::from_utf8_lossy(&ran.stderr)
    );
}

/// A named patchelf that does not exist is refused before anything is done.
#[test]
fn a_named_patchelf_that_is_missing_fails_before_anything_is_written() {
    let (scratch, _app, manifest) = traced_example();
    let dist = scratch.path().join("dist");
    let out = apply(
        "default",
        &manifest,
        &dist,
        &["--patchelf", "/nonexistent/patchelf"],
    );
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("shenzi::patch::patchelf_missing"),
        "{stderr}"
    );
    assert!(stderr.contains("apt-get install patchelf"), "{stderr}");
    assert!(!dist.exists());
}

#[test]
fn a_source_that_fails_to_read_mid_way_leaves_no_dist() {
    let (scratch, app, manifest) = traced_example();
    // Root reads everything, but not a write-only /proc/sys file: the plan sees a file,
    // the copy fails.
    let data = app.join("greeter/greeting.txt");
    std::fs::remove_file(&data).unwrap();
    std::os::unix::fs::symlink("/proc/sys/vm/compact_memory", &data).unwrap();
    let dist = scratch.path().join("dist");
    let out = apply("default", &manifest, &dist, &[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("greeting.txt"), "{stderr}");
    assert!(!dist.exists());
    assert!(no_scratch_left(scratch.path()));
}

fn no_scratch_left(dir: &Path) -> bool {
    std::fs::read_dir(dir).unwrap().all(|e| {
        !e.unwrap()
            .file_name()
            .to_string_lossy()
            .contains(".shenzi-")
    })
}

#[test]
fn build_traces_and_applies_in_one_step() {
    let scratch = tempfile::tempdir().unwrap();
    let app = scratch.path().join("app");
    copy_tree(&repo_root().join("examples/stdlib_app"), &app);
    let dist = scratch.path().join("dist");
    let manifest = scratch.path().join("kept.json");
    let out = shenzi()
        .arg("build")
        .arg("--python")
        .arg(python311())
        .arg("-o")
        .arg(&dist)
        .arg("--manifest")
        .arg(&manifest)
        .arg("--")
        .arg(app.join("app.py"))
        .arg("traced-arg")
        .current_dir(scratch.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("runs on glibc ≥"), "{stderr}");
    assert!(manifest.is_file());
    let got = run_app(&dist.join("bin/app"), Path::new("/"));
    assert!(
        got.status.success(),
        "{}",
        String::from_utf8_lossy(&got.stderr)
    );
    assert!(String::from_utf8_lossy(&got.stdout).contains("\"argv\": [\"first\", \"second arg\"]"));

    // An app that fails writes no dist.
    std::fs::write(scratch.path().join("fails.py"), "raise SystemExit(4)\n").unwrap();
    let failed = scratch.path().join("failed-dist");
    let out = shenzi()
        .arg("build")
        .arg("--python")
        .arg(python311())
        .arg("-o")
        .arg(&failed)
        .args(["--", "fails.py"])
        .current_dir(scratch.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(!failed.exists());
}

/// numpy (with its bundled OpenBLAS and libgfortran, found by DT_RPATH), pillow, lxml and
/// cryptography from PyPI wheels: every shipped layout makes a dist that gives the same
/// output from another folder.
/// A venv reached through a symlinked folder (`/home` on another disk, say): the site
/// dir is walked under the symlink, the loader mapped numpy's bundled libraries under
/// their real path. Both are the same files, and every layout must treat them so (they
/// were shipped unpatched, and `flat` failed verify).
#[test]
fn a_venv_reached_through_a_symlink_packages_like_the_venv_itself() {
    let venv = support::wheel_venv();
    let scratch = tempfile::tempdir().unwrap();
    let linked = scratch.path().join("linked");
    std::os::unix::fs::symlink(venv.parent().unwrap(), &linked).unwrap();
    let app = scratch.path().join("invert.py");
    std::fs::write(
        &app,
        "import numpy\nprint(numpy.linalg.inv(numpy.eye(2)).sum())\n",
    )
    .unwrap();
    let python = linked.join(venv.file_name().unwrap()).join("bin/python");
    let manifest = scratch.path().join("m.json");
    output_ok(&mut trace_command(&manifest, [&python, &app]));
    for layout in LAYOUTS {
        let dist = scratch.path().join(layout);
        let out = apply(layout, &manifest, &dist, &[]);
        assert!(
            out.status.success(),
            "{layout}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let got = output_ok(&mut Command::new(dist.join("bin/invert")));
        assert_eq!(String::from_utf8_lossy(&got.stdout), "2.0\n", "{layout}");
    }
}

#[test]
fn wheels_from_pypi_with_every_layout() {
    let venv = support::wheel_venv();
    let scratch = tempfile::tempdir().unwrap();
    let app = scratch.path().join("wheels.py");
    std::fs::write(
        &app,
        "import numpy, PIL.Image, lxml.etree\n\
         from cryptography.hazmat.primitives import hashes\n\
         print('numpy', numpy.dot(numpy.arange(4), numpy.arange(4)), numpy.linalg.inv(numpy.eye(2)).sum())\n\
         print('pil', PIL.Image.new('RGB', (4, 4), (10, 20, 30)).getpixel((1, 1)))\n\
         print('lxml', lxml.etree.fromstring('<a><b>x</b></a>').findtext('b'))\n\
         d = hashes.Hash(hashes.SHA256()); d.update(b'shenzi'); print('crypto', d.finalize().hex()[:16])\n",
    )
    .unwrap();
    let python = venv.join("bin/python");
    let expected = Command::new(&python).arg(&app).output().unwrap();
    assert!(expected.status.success());
    let manifest = scratch.path().join("m.json");
    output_ok(&mut trace_command(&manifest, [&python, &app]));
    for layout in LAYOUTS {
        let dist = scratch.path().join(layout);
        let out = apply(layout, &manifest, &dist, &[]);
        assert!(
            out.status.success(),
            "{layout}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let got = Command::new(dist.join("bin/wheels"))
            .current_dir("/")
            .output()
            .unwrap();
        assert_eq!(
            String::from_utf8_lossy(&got.stdout),
            String::from_utf8_lossy(&expected.stdout),
            "{layout}: {}",
            String::from_utf8_lossy(&got.stderr)
        );
        // The dist's interpreter writes no bytecode caches into it: they were shipped.
        let caches_before = count_pycs(&dist);
        let _ = Command::new(dist.join("bin/wheels")).output().unwrap();
        assert_eq!(count_pycs(&dist), caches_before, "{layout}");
    }
}

fn count_pycs(dir: &Path) -> usize {
    walkdir::WalkDir::new(dir)
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.path().extension().is_some_and(|x| x == "pyc"))
        .count()
}
