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

/// The tree below `root`, without the root itself (its mode is checked apart).
fn tree(root: &Path, with_hashes: bool) -> Vec<String> {
    let mut tree = support::dist::tree(root, with_hashes);
    tree.retain(|l| !l.starts_with("./ "));
    tree
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

    // Nothing changed: the dist is left as it is.
    let out = apply("default", &manifest, &dist, &["--force"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("is up to date: nothing changed"),
        "{stderr}"
    );
    assert_eq!(app_py.metadata().unwrap().ino(), before, "{stderr}");
    assert_eq!(tree(&dist, true), tree(&cold, true));

    // An edited source is copied again, and the dist matches a cold apply of it.
    let source = app.join("greeter/__init__.py");
    let mut text = std::fs::read_to_string(&source).unwrap();
    text.push_str("# edited\n");
    std::fs::write(&source, &text).unwrap();
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
    assert!(stderr.contains("re-apply: "), "{stderr}");
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
    // shenzi writes RUNPATH itself: the message says the named program does not run.
    assert!(
        stderr.contains("`/nonexistent/patchelf`, cannot be run")
            && !stderr.contains("writes RUNPATH with patchelf"),
        "{stderr}"
    );
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

/// The variable of the writer's test hook (`src/execute/hook.rs`).
const HOOK: &str = "SHENZI_TEST_HOOK";

fn stderr_of(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The dist file whose path ends with `suffix`.
fn find_in(dist: &Path, suffix: &str) -> PathBuf {
    walkdir::WalkDir::new(dist)
        .into_iter()
        .map(|e| e.unwrap().into_path())
        .find(|p| p.ends_with(suffix))
        .unwrap_or_else(|| panic!("no {suffix} in {}", dist.display()))
}

/// `--force` replaces a folder only when its record checks out, and only when it holds
/// nothing but what the record lists; `--discard-changes` accepts the loss and says so.
#[test]
fn force_replaces_only_what_shenzi_wrote() {
    let (scratch, _app, manifest) = traced_example();
    let cold = scratch.path().join("cold");
    let dist = scratch.path().join("dist");
    for d in [&cold, &dist] {
        let out = apply("minimal", &manifest, d, &[]);
        assert!(out.status.success(), "{}", stderr_of(&out));
    }
    let record = dist.join(".shenzi/dist.json");
    let good = std::fs::read(&record).unwrap();
    let mut older: serde_json::Value = serde_json::from_slice(&good).unwrap();
    older["version"] = 1.into();
    let older = older.as_object_mut().unwrap();
    older.remove("files");
    older.remove("digest");
    let older = serde_json::to_vec_pretty(&older).unwrap();
    let edited = String::from_utf8(good.clone())
        .unwrap()
        .replace("\"layout\": \"minimal\"", "\"layout\": \"mine\"");

    // Records that do not check out: not a dist, whatever the flags say.
    std::fs::write(dist.join("NOTES.txt"), "mine").unwrap();
    let cases: &[(&str, &[u8], &str)] = &[
        (
            "hand-written",
            b"{\"version\":1}\n",
            "its `.shenzi/dist.json` is not a dist record",
        ),
        ("older", &older, "its record was written by an older shenzi"),
        (
            "edited",
            edited.as_bytes(),
            "its `.shenzi/dist.json` was not written as shenzi writes it (its digest does not match)",
        ),
    ];
    for (what, bytes, says) in cases {
        std::fs::write(&record, bytes).unwrap();
        let before = tree(&dist, true);
        for flags in [&[][..], &["--force"], &["--force", "--discard-changes"]] {
            let out = apply("minimal", &manifest, &dist, flags);
            let err = stderr_of(&out).replace("\n  | ", " ");
            assert_eq!(out.status.code(), Some(1), "{what}: {err}");
            assert!(
                err.contains("`") && err.contains("is not a shenzi dist"),
                "{what}: {err}"
            );
            assert!(err.contains(says), "{what}: {err}");
            assert_eq!(tree(&dist, true), before, "{what}");
        }
    }
    std::fs::write(&record, &good).unwrap();

    // A file the user added, a folder of theirs, a file they edited: listed, kept.
    std::fs::create_dir(dist.join("mine")).unwrap();
    std::fs::write(dist.join("mine/data.csv"), "1,2\n").unwrap();
    let app_py = find_in(&dist, "greeter/__init__.py");
    let original = std::fs::read(&app_py).unwrap();
    let mut changed = original.clone();
    changed.extend(b"# debugging\n");
    std::fs::write(&app_py, &changed).unwrap();
    let before = tree(&dist, true);
    let out = apply("minimal", &manifest, &dist, &["--force"]);
    let err = stderr_of(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("shenzi::apply::target_changed"), "{err}");
    let rel = app_py.strip_prefix(&dist).unwrap().display().to_string();
    assert!(
        err.contains("holds 3 paths that shenzi did not write there"),
        "{err}"
    );
    assert!(
        err.contains(&format!(
            "  NOTES.txt (added)\n  |   {rel} (changed)\n  |   mine/ (added)\n"
        )),
        "{err}"
    );
    assert!(err.contains("`--discard-changes`"), "{err}");
    assert_eq!(tree(&dist, true), before);

    // What loses nothing is no reason to refuse: a file deleted, a mode changed, an
    // edit undone (its time is not the dist's any more).
    std::fs::remove_file(dist.join("NOTES.txt")).unwrap();
    std::fs::remove_dir_all(dist.join("mine")).unwrap();
    std::fs::write(&app_py, &original).unwrap();
    std::fs::remove_file(find_in(&dist, "greeter/greeting.txt")).unwrap();
    std::fs::set_permissions(
        dist.join("bin/app"),
        std::os::unix::fs::PermissionsExt::from_mode(0o700),
    )
    .unwrap();
    let out = apply("minimal", &manifest, &dist, &["--force"]);
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert_eq!(tree(&dist, true), tree(&cold, true));

    // `--discard-changes` replaces it and names what it deleted.
    std::fs::write(dist.join("NOTES.txt"), "mine").unwrap();
    let out = apply(
        "minimal",
        &manifest,
        &dist,
        &["--force", "--discard-changes"],
    );
    let err = stderr_of(&out);
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains("shenzi: deleted 1 path you added to or changed in the previous dist (`--discard-changes`): NOTES.txt (added)\n"),
        "{err}"
    );
    assert_eq!(tree(&dist, true), tree(&cold, true));
    assert!(support::dist::scratch_names(scratch.path()).is_empty());

    // `--discard-changes` alone is a usage error.
    let out = apply("minimal", &manifest, &dist, &["--discard-changes"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr_of(&out));
}

/// Folders get mode 0755 like files get their planned mode: the umask changes nothing.
#[test]
fn the_umask_changes_nothing_in_the_dist() {
    let (scratch, _app, manifest) = traced_example();
    let mut trees = Vec::new();
    for umask in ["000", "022", "077"] {
        let dist = scratch.path().join(format!("umask-{umask}"));
        let out = Command::new("/bin/sh")
            .args(["-c", "umask \"$0\"; exec \"$@\"", umask])
            .arg(env!("CARGO_BIN_EXE_shenzi"))
            .args(["apply", "default"])
            .arg(&manifest)
            .arg("-o")
            .arg(&dist)
            .output()
            .unwrap();
        assert!(out.status.success(), "umask {umask}: {}", stderr_of(&out));
        let tree = support::dist::tree(&dist, true);
        let folders: Vec<&String> = tree.iter().filter(|l| l.contains("/ ")).collect();
        assert!(folders.len() > 10, "{folders:?}");
        assert!(
            folders.iter().all(|l| l.ends_with("/ 755")),
            "umask {umask}: {:?}",
            folders
                .iter()
                .filter(|l| !l.ends_with("/ 755"))
                .collect::<Vec<_>>()
        );
        trees.push(tree);
    }
    assert_eq!(trees[0], trees[1], "umask 000 and 022");
    assert_eq!(trees[1], trees[2], "umask 022 and 077");
}

/// A second apply into the folder of a running one waits for it and says so; both
/// finish, one after the other, and leave a whole dist and no scratch folder.
#[test]
fn a_second_apply_waits_for_the_first() {
    use std::io::BufRead;
    use std::process::Stdio;
    let (scratch, _app, manifest) = traced_example();
    let dist = scratch.path().join("dist");
    // Another layout first: the forced applies below have work to do.
    assert!(apply("default", &manifest, &dist, &[]).status.success());
    let forced = |hook: Option<&str>| {
        let mut cmd = shenzi();
        cmd.args(["apply", "minimal"])
            .arg(&manifest)
            .arg("-o")
            .arg(&dist)
            .arg("--force")
            .env("NO_COLOR", "1")
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        if let Some(hook) = hook {
            cmd.env(HOOK, hook);
        }
        cmd.spawn().unwrap()
    };
    // The first stops with the lock held, half-way through its copies.
    let first = forced(Some("stop@file:10"));
    support::dist::wait_stopped(first.id());
    let mut second = forced(None);
    let mut lines = std::io::BufReader::new(second.stderr.take().unwrap()).lines();
    let line = lines
        .next()
        .expect("the second apply says something")
        .unwrap();
    assert!(
        line.starts_with("shenzi: waiting for another `shenzi apply` writing in `")
            && line.ends_with("` to finish (one apply at a time per folder)"),
        "{line}"
    );
    // Only the first apply's scratch folder exists: the second has not started.
    assert_eq!(support::dist::scratch_names(scratch.path()).len(), 1);
    // A third one, waiting too, stops on Ctrl-C, having written nothing.
    let mut third = forced(None);
    let mut third_err = std::io::BufReader::new(third.stderr.take().unwrap()).lines();
    let waiting = third_err.next().unwrap().unwrap();
    assert!(
        waiting.starts_with("shenzi: waiting for another"),
        "{waiting}"
    );
    support::dist::signal(third.id(), libc::SIGINT);
    let rest: Vec<String> = third_err.map(Result::unwrap).collect();
    assert_eq!(third.wait().unwrap().code(), Some(1), "{rest:?}");
    assert!(
        rest.iter()
            .any(|l| l.contains("interrupted while waiting for another apply in `")),
        "{rest:?}"
    );
    assert_eq!(support::dist::scratch_names(scratch.path()).len(), 1);
    support::dist::signal(first.id(), libc::SIGCONT);
    let first = first.wait_with_output().unwrap();
    assert!(first.status.success(), "{}", stderr_of(&first));
    let rest: Vec<String> = lines.map(Result::unwrap).collect();
    assert!(second.wait().unwrap().success(), "{rest:?}");
    // The first wrote the same dist: the second finds nothing to do.
    assert!(rest.iter().any(|l| l.contains("is up to date")), "{rest:?}");
    let verified = shenzi().arg("verify").arg(&dist).output().unwrap();
    assert!(verified.status.success(), "{}", stderr_of(&verified));
    assert!(support::dist::scratch_names(scratch.path()).is_empty());
}

/// Before it writes, an apply removes the scratch folders of its target whose writer is
/// gone — one a killed apply left, one whose pid was reused — and says so in one line;
/// it keeps a live writer's, another target's, and folders not named by this shenzi.
#[test]
fn scratch_folders_of_killed_applies_are_removed_and_no_others() {
    use std::process::Stdio;
    let (scratch, _app, manifest) = traced_example();
    let dir = scratch.path();
    let killed = shenzi()
        .args(["apply", "minimal"])
        .arg(&manifest)
        .arg("-o")
        .arg(dir.join("dist"))
        .env(HOOK, "kill@file:50")
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let killed_pid = killed.id();
    let status = killed.wait_with_output().unwrap().status;
    assert_eq!(
        std::os::unix::process::ExitStatusExt::signal(&status),
        Some(libc::SIGKILL)
    );
    let left = support::dist::scratch_names(dir);
    assert_eq!(left.len(), 1, "{left:?}");
    assert!(
        left[0].starts_with(&format!(".dist.shenzi-{killed_pid}-")),
        "{left:?}"
    );

    let mut live = Command::new("cat").stdin(Stdio::piped()).spawn().unwrap();
    let (live_pid, live_start) = (live.id(), support::dist::start_time(live.id()));
    let mut gone = Command::new("cat").stdin(Stdio::piped()).spawn().unwrap();
    let (gone_pid, gone_start) = (gone.id(), support::dist::start_time(gone.id()));
    drop(gone.stdin.take());
    gone.wait().unwrap();
    let made = [
        (format!(".dist.shenzi-{gone_pid}-{gone_start}-aaaaaa"), true),
        (
            format!(".dist.shenzi-{live_pid}-{}-bbbbbb", live_start + 1),
            true,
        ),
        (
            format!(".dist.shenzi-{live_pid}-{live_start}-cccccc"),
            false,
        ),
        (
            format!(".other.shenzi-{gone_pid}-{gone_start}-dddddd"),
            false,
        ),
        (".dist.shenzi-eeeeee".to_owned(), false),
    ];
    for (name, _) in &made {
        std::fs::create_dir(dir.join(name)).unwrap();
        std::fs::write(dir.join(name).join("part"), "x").unwrap();
    }
    let not_a_folder = format!(".dist.shenzi-{gone_pid}-{gone_start}-ffffff");
    std::fs::write(dir.join(&not_a_folder), "x").unwrap();

    let out = apply("minimal", &manifest, &dir.join("dist"), &[]);
    let err = stderr_of(&out);
    assert!(out.status.success(), "{err}");
    let line = err
        .lines()
        .find(|l| l.starts_with("shenzi: removed "))
        .unwrap_or_else(|| panic!("no cleanup line: {err}"));
    assert!(
        line.starts_with("shenzi: removed 3 scratch folders left by killed applies ("),
        "{line}"
    );
    let mut removed: Vec<&str> = vec![&left[0]];
    removed.extend(made.iter().filter(|m| m.1).map(|m| m.0.as_str()));
    for name in &removed {
        assert!(line.contains(&format!("`{name}`")), "{name}: {line}");
    }
    let mut kept: Vec<String> = made.iter().filter(|m| !m.1).map(|m| m.0.clone()).collect();
    kept.push(not_a_folder);
    kept.sort();
    assert_eq!(support::dist::scratch_names(dir), kept);
    drop(live.stdin.take());
    live.wait().unwrap();
}

/// Regular files and symlinks below `root` (not following links).
fn count_on_disk(root: &Path) -> (u64, u64) {
    let (mut files, mut links) = (0, 0);
    for entry in std::fs::read_dir(root).unwrap() {
        let path = entry.unwrap().path();
        let meta = std::fs::symlink_metadata(&path).unwrap();
        if meta.file_type().is_symlink() {
            links += 1;
        } else if meta.is_dir() {
            let (f, l) = count_on_disk(&path);
            files += f;
            links += l;
        } else {
            files += 1;
        }
    }
    (files, links)
}

#[test]
fn apply_and_build_json_summaries_match_the_dist_written() {
    let (scratch, _app, manifest) = traced_example();
    let dist = scratch.path().join("dist");
    let out = apply("default", &manifest, &dist, &["--format", "json"]);
    assert!(out.status.success(), "{}", support::describe(&out));
    // The human summary stays on stderr; stdout is only the document.
    assert!(
        stderr_of(&out).contains("shenzi: wrote "),
        "{}",
        stderr_of(&out)
    );
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {}", support::describe(&out)));
    assert_eq!(doc["version"], 2);
    assert_eq!(doc["layout"], "default");
    assert_eq!(doc["unchanged"], false);
    assert_eq!(doc["redone"], serde_json::json!([]));
    assert_eq!(doc["onefile"], serde_json::Value::Null);
    let (files, links) = count_on_disk(&dist);
    // Every file of the plan, and the record `.shenzi/dist.json` besides.
    assert_eq!(doc["files"].as_u64().unwrap() + 1, files, "{doc}");
    assert_eq!(doc["symlinks"].as_u64().unwrap(), links, "{doc}");
    let units = doc["units"].as_array().unwrap();
    assert!(units.iter().any(|u| u["name"] == "stdlib"), "{:?}", units);
    // The units' bytes are the plan's (the sources'); the summary's are what was written,
    // the same with nothing stripped.
    assert_eq!(doc["stripped"], 0);
    let unit_bytes: u64 = units.iter().map(|u| u["bytes"].as_u64().unwrap()).sum();
    assert!(unit_bytes <= doc["bytes"].as_u64().unwrap(), "{doc}");
    assert!(doc["binaries"].as_u64().unwrap() > 10, "{doc}");
    assert_eq!(doc["patched"], doc["binaries"], "{doc}");
    let libraries = doc["libraries"].as_array().unwrap();
    assert!(
        libraries
            .iter()
            .any(|l| l["name"] == "libpython3.11.so.1.0"),
        "{doc}"
    );
    let largest = doc["largest"].as_array().unwrap();
    assert_eq!(largest.len(), 10, "{doc}");
    assert!(dist.join(largest[0]["path"].as_str().unwrap()).is_file());
    // The verify that ran on the way, in `verify --format json`'s shape.
    let verified = &doc["verified"];
    assert_eq!(verified["passed"], true, "{doc}");
    assert_eq!(verified["files"].as_u64().unwrap(), files, "{doc}");
    assert_eq!(
        doc["glibc_floor"], verified["glibc_floor"]["glibc"]["name"],
        "{doc}"
    );
    insta::assert_snapshot!("apply_json_shape", support::json_shape(&doc));

    // A forced reapply reuses every file, and says so.
    let again = apply(
        "default",
        &manifest,
        &dist,
        &["--format", "json", "--force"],
    );
    assert!(again.status.success(), "{}", support::describe(&again));
    let doc2: serde_json::Value = serde_json::from_slice(&again.stdout).unwrap();
    assert!(doc2["reused"].as_u64().unwrap() > 0, "{doc2}");
    assert_eq!(doc2["unchanged"], true, "{doc2}");
    assert_eq!(doc2["files"], doc["files"]);

    // `build` ends with the same document (a quiet app: its own stdout comes first).
    std::fs::write(scratch.path().join("quiet.py"), "import json\n").unwrap();
    let built = scratch.path().join("built");
    let out = shenzi()
        .arg("build")
        .arg("--python")
        .arg(python311())
        .arg("-o")
        .arg(&built)
        .args(["--format", "json", "quiet.py"])
        .current_dir(scratch.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", support::describe(&out));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {}", support::describe(&out)));
    assert_eq!(doc["verified"]["passed"], true, "{doc}");
    let (files, _) = count_on_disk(&built);
    assert_eq!(doc["files"].as_u64().unwrap() + 1, files, "{doc}");
}
