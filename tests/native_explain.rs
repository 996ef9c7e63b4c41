//! `shenzi explain` on a real numpy trace: the chain from `import` through the
//! extension module to OpenBLAS and libgfortran, with the rule that picked each file.

#[path = "fixtures/native/kit.rs"]
mod kit;
#[path = "support/mod.rs"]
mod support;

use std::path::Path;

fn explain(manifest: &Path, name: &str) -> String {
    let (code, text) = explain_status(manifest, name);
    assert_eq!(code, Some(0), "{text}");
    text
}

/// `shenzi explain`'s exit code and stdout: 1 for a name found nowhere.
fn explain_status(manifest: &Path, name: &str) -> (Option<i32>, String) {
    let out = support::shenzi()
        .arg("explain")
        .arg(manifest)
        .arg(name)
        .output()
        .expect("shenzi runs");
    (out.status.code(), String::from_utf8(out.stdout).unwrap())
}

/// Traces `python -c CODE` into `manifest`.
fn trace(python: &Path, manifest: &Path, code: &str) {
    let status = support::shenzi()
        .args(["trace", "-o"])
        .arg(manifest)
        .arg("--")
        .arg(python)
        .args(["-c", code])
        .status()
        .unwrap();
    assert!(status.success());
}

/// Machine-specific prefixes replaced by stable names: the venv by its real path and by
/// the path it was run from (they differ when `.cache` is a symlink, as in a worktree).
fn redact(text: &str, venv: &Path) -> String {
    let mut text = text.to_owned();
    for venv in [std::fs::canonicalize(venv).unwrap(), venv.to_path_buf()] {
        let site = venv.join("lib/python3.11/site-packages");
        text = text
            .replace(&site.display().to_string(), "[site-packages]")
            .replace(&venv.display().to_string(), "[venv]");
    }
    // A run's id hashes its command, which names the venv's path.
    text.lines()
        .map(|line| match line.strip_prefix("brought by: ship run ") {
            Some(rest) => format!(
                "brought by: ship run [id]:{}",
                rest.split_once(':').map_or("", |(_, command)| command)
            ),
            None => line.to_owned(),
        })
        .collect::<Vec<_>>()
        .join("\n")
        + "\n"
}

#[test]
fn explain_shows_the_numpy_chain_to_libgfortran() {
    let venv = support::wheel_venv();
    let dir = tempfile::tempdir().unwrap();
    let manifest = dir.path().join("numpy.json");
    trace(&venv.join("bin/python"), &manifest, "import numpy");
    // The current numpy wheel bundles OpenBLAS as `libscipy_openblas64_` and, next to
    // it, libgfortran and libquadmath (auditwheel-renamed): `numpy.libs/`.
    let text = explain(&manifest, "libgfortran.so.5");
    assert!(text.contains("libscipy_openblas64_"), "{text}");
    insta::assert_snapshot!("numpy_libgfortran", redact(&text, &venv));

    let text = explain(&manifest, "libquadmath.so.0");
    assert!(text.contains("needs libquadmath"), "{text}");

    let text = explain(&manifest, "libc.so.6");
    assert!(text.starts_with("libc.so.6 is out: the system preset `glibc` says the target provides it (entry `libc.so.6`)"), "{text}");
    // Names found nowhere: said so, and exit 1.
    let (code, text) = explain_status(&manifest, "libnothere.so.3");
    assert_eq!(
        text,
        "libnothere.so.3 is out: not reached. No traced root (the interpreter, an import, a run-time load) loads it, and no module, package or file of the plan has that name.\n"
    );
    assert_eq!(code, Some(1));
    let (code, text) = explain_status(&manifest, "libGL.so.1");
    assert!(text.contains("is out: not reached"), "{text}");
    assert_eq!(code, Some(1));
}

/// A need nothing provides: `explain` says it is missing, who needs it, and where the
/// loader looked.
#[test]
fn explain_says_why_a_missing_library_is_missing() {
    let kit = kit::Kit::new();
    let user = kit.needs_gone("m/libmissing_user.so", "$ORIGIN/deps");
    let manifest = kit.path("m.json");
    trace(
        &support::python311(),
        &manifest,
        &format!(
            "import ctypes\ntry:\n    ctypes.CDLL({:?})\nexcept OSError:\n    pass\n",
            user.display().to_string()
        ),
    );
    let text = explain(&manifest, "libgone.so.7");
    let head = format!(
        "libgone.so.7 is missing: needed, but the loader finds no usable file.\n\nneeded by {}; searched, in order:\n",
        user.display()
    );
    assert!(text.starts_with(&head), "{text}");
    assert!(
        text.contains(&format!(
            "{}/m/deps/libgone.so.7 (DT_RUNPATH $ORIGIN/deps): absent",
            kit.dir.path().display()
        )),
        "{text}"
    );
    assert!(text.contains("ld.so.cache: no entry"), "{text}");
}
