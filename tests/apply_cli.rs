//! `shenzi apply` through the real binary, on the stdlib example traced with pyenv's
//! CPython 3.11: every shipped layout makes a dist that runs from elsewhere, through a
//! symlink, with the same output; the same inputs give the same bytes; failures write
//! nothing.

mod support;

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use support::{python311, repo_root, shenzi};

const LAYOUTS: &[&str] = &["default", "flat", "farm-per-unit", "minimal"];

/// A copy of the stdlib example in a scratch folder, traced: (scratch, app dir, manifest).
fn traced_example() -> (tempfile::TempDir, PathBuf, PathBuf) {
    let scratch = tempfile::tempdir().unwrap();
    let app = scratch.path().join("app src");
    copy_tree(&repo_root().join("examples/stdlib_app"), &app);
    let manifest = scratch.path().join("shenzi.json");
    let out = shenzi()
        .args(["trace", "-o"])
        .arg(&manifest)
        .arg("--")
        .arg(python311())
        .arg("app.py")
        .current_dir(&app)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    (scratch, app, manifest)
}

fn copy_tree(from: &Path, to: &Path) {
    for entry in walkdir::WalkDir::new(from) {
        let entry = entry.unwrap();
        let rel = entry.path().strip_prefix(from).unwrap();
        if rel.components().any(|c| c.as_os_str() == "__pycache__") {
            continue;
        }
        let dest = to.join(rel);
        if entry.file_type().is_dir() {
            std::fs::create_dir_all(&dest).unwrap();
        } else {
            std::fs::copy(entry.path(), &dest).unwrap();
        }
    }
}

fn apply(layout: &str, manifest: &Path, dist: &Path, extra: &[&str]) -> Output {
    shenzi()
        .arg("apply")
        .arg(layout)
        .arg(manifest)
        .arg("-o")
        .arg(dist)
        .args(extra)
        .env("NO_COLOR", "1")
        .output()
        .unwrap()
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

#[test]
fn a_missing_patchelf_fails_before_anything_is_written() {
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
