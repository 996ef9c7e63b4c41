//! Symlinks inside source trees, through the real binary (issue 12.4): a link inside its
//! tree is a relative symlink in the dist (`symlinks keep`, the default) or a copy
//! (`symlinks copy`); a link leading outside its tree, dangling or looping is left out
//! with a warning naming it and its target, and the dist never holds what it points to.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

use support::{apply, output_ok, python311, text, trace_command};

const LAYOUTS: &[&str] = &["default", "flat", "farm-per-unit", "minimal"];

/// A bare venv whose site dir holds `pkg` (with a file link, a folder link, a link to its
/// parent, one to `/etc` and a dangling one), `mirror -> pkg`, and `evil_link.py ->
/// /etc/passwd`; an app importing `pkg` and `mirror` and reading through the links.
/// Returns (scratch, app folder, manifest).
fn traced_links() -> (tempfile::TempDir, PathBuf, PathBuf) {
    let scratch = tempfile::tempdir().unwrap();
    let venv = scratch.path().join("venv");
    output_ok(
        Command::new(python311())
            .args(["-m", "venv", "--without-pip"])
            .arg(&venv),
    );
    let site = venv.join("lib/python3.11/site-packages");
    std::fs::create_dir_all(site.join("pkg/data")).unwrap();
    std::fs::write(site.join("pkg/__init__.py"), "X = 'pkg'\n").unwrap();
    std::fs::write(site.join("pkg/data/a.txt"), "a inside\n").unwrap();
    let link = |target: &str, at: &str| std::os::unix::fs::symlink(target, site.join(at)).unwrap();
    link("data/a.txt", "pkg/alias.txt");
    link("data", "pkg/datalink");
    link("..", "pkg/up");
    link("/etc", "pkg/etcdir");
    link("nowhere", "pkg/dangling");
    link("pkg", "mirror");
    link("/etc/passwd", "evil_link.py");
    let app = scratch.path().join("app");
    std::fs::create_dir(&app).unwrap();
    std::fs::write(
        app.join("app.py"),
        "import os, pkg, mirror\n\
         here = os.path.dirname(pkg.__file__)\n\
         for rel in ('alias.txt', 'datalink/a.txt'):\n\
         \x20   with open(os.path.join(here, rel)) as f:\n\
         \x20       print(rel, f.read().strip())\n\
         print(mirror.X, os.path.basename(os.path.dirname(mirror.__file__)))\n",
    )
    .unwrap();
    let manifest = scratch.path().join("m.json");
    output_ok(
        trace_command(
            &manifest,
            [venv.join("bin/python").as_os_str(), "app.py".as_ref()],
        )
        .current_dir(&app),
    );
    (scratch, app, manifest)
}

/// Every entry below `root`: (path relative to it, link target if a symlink).
fn entries(root: &Path) -> Vec<(String, Option<PathBuf>)> {
    walkdir::WalkDir::new(root)
        .min_depth(1)
        .into_iter()
        .map(|e| {
            let e = e.unwrap();
            let rel = e.path().strip_prefix(root).unwrap().display().to_string();
            let link = e
                .path_is_symlink()
                .then(|| std::fs::read_link(e.path()).unwrap());
            (rel, link)
        })
        .collect()
}

/// The one entry of the dist whose path ends with `tail`.
fn find<'a>(all: &'a [(String, Option<PathBuf>)], tail: &str) -> &'a (String, Option<PathBuf>) {
    let hits: Vec<_> = all
        .iter()
        .filter(|(rel, _)| rel == tail || rel.ends_with(&format!("/{tail}")))
        .collect();
    assert_eq!(hits.len(), 1, "{tail}: {hits:?}");
    hits[0]
}

fn assert_no_leak(dist: &Path) {
    let passwd = std::fs::read("/etc/passwd").unwrap();
    for (rel, link) in entries(dist) {
        let path = dist.join(&rel);
        if let Some(target) = link {
            assert!(
                !target.is_absolute(),
                "`{rel}` is an absolute link to {}",
                target.display()
            );
        } else if path.is_file() {
            assert_ne!(
                std::fs::read(&path).unwrap(),
                passwd,
                "`{rel}` is /etc/passwd"
            );
        }
        assert!(
            !rel.ends_with("evil_link.py") && !rel.contains("etcdir"),
            "{rel}"
        );
    }
}

#[test]
fn links_inside_a_tree_stay_links_and_links_out_of_it_are_left_out() {
    let (scratch, app, manifest) = traced_links();
    let expected = output_ok(
        Command::new(scratch.path().join("venv/bin/python"))
            .arg("app.py")
            .current_dir(&app),
    );
    for layout in LAYOUTS {
        let dist = scratch.path().join(format!("dist-{layout}"));
        let out = apply(layout, &manifest, &dist, &[]);
        assert!(
            out.status.success(),
            "{layout}: {}",
            support::describe(&out)
        );
        let stderr = text(&out.stderr);
        assert_no_leak(&dist);
        let all = entries(&dist);
        assert_eq!(
            find(&all, "pkg/alias.txt").1.as_deref(),
            Some(Path::new("data/a.txt"))
        );
        assert_eq!(
            find(&all, "pkg/datalink").1.as_deref(),
            Some(Path::new("data"))
        );
        assert_eq!(find(&all, "mirror").1.as_deref(), Some(Path::new("pkg")));
        // `etcdir` and `dangling` in every layout (pkg is imported); `evil_link.py` where
        // the whole site dir is taken.
        assert!(
            stderr.contains("shenzi::plan::symlink_left_out"),
            "{layout}: {stderr}"
        );
        let flat_stderr = stderr.replace(['\n', '|', ' '], "");
        for named in ["pkg/etcdir", "/etc", "pkg/dangling", "nowhere"] {
            assert!(
                flat_stderr.contains(named),
                "{layout}: {named} not named: {stderr}"
            );
        }
        if ["flat", "farm-per-unit"].contains(layout) {
            assert!(
                flat_stderr.contains("evil_link.py`pointsto`/etc/passwd`"),
                "{layout}: {stderr}"
            );
        }
        let ran = output_ok(&mut Command::new(dist.join("bin/app")));
        assert_eq!(text(&ran.stdout), text(&expected.stdout), "{layout}");
    }
}

#[test]
fn symlinks_copy_writes_what_links_inside_the_tree_name() {
    let (scratch, app, manifest) = traced_links();
    let flat = std::fs::read_to_string(support::repo_root().join("layouts/flat.shz")).unwrap();
    let layout = scratch.path().join("flat-copy.shz");
    std::fs::write(
        &layout,
        flat.replace(
            "  take python.site_dirs\n",
            "  take python.site_dirs\n  symlinks copy\n",
        ),
    )
    .unwrap();
    let dist = scratch.path().join("dist");
    let out = apply(layout.to_str().unwrap(), &manifest, &dist, &[]);
    assert!(out.status.success(), "{}", support::describe(&out));
    assert_no_leak(&dist);
    let all = entries(&dist);
    for file in [
        "pkg/alias.txt",
        "pkg/datalink/a.txt",
        "mirror/__init__.py",
        "mirror/data/a.txt",
    ] {
        let (rel, link) = find(&all, file);
        assert!(link.is_none(), "{rel} is a link");
    }
    // `pkg/up -> ..` would copy the site dir into itself: a loop, left out and named.
    assert!(!all.iter().any(|(rel, _)| rel.ends_with("pkg/up")));
    let stderr = text(&out.stderr).replace(['\n', '|', ' '], "");
    assert!(stderr.contains("pkg/up`pointsto`..`"), "{stderr}");
    let expected = output_ok(
        Command::new(scratch.path().join("venv/bin/python"))
            .arg("app.py")
            .current_dir(&app),
    );
    let ran = output_ok(&mut Command::new(dist.join("bin/app")));
    assert_eq!(text(&ran.stdout), text(&expected.stdout));
}

#[test]
fn a_bad_symlinks_choice_is_a_diagnostic() {
    let dir = tempfile::tempdir().unwrap();
    let layout = dir.path().join("bad.shz");
    std::fs::write(
        &layout,
        "system { preset glibc\n cxx-runtime bundle }\n\
         unit site { take python.site_dirs  to \"site/{path}\"  symlinks follow }\n",
    )
    .unwrap();
    let out = support::shenzi()
        .arg("check")
        .arg(&layout)
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", support::describe(&out));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("shenzi::layout::unknown_choice") && stderr.contains("follow"),
        "{stderr}"
    );
}
