//! `shenzi verify` through the real binary, on dists of the stdlib example (traced with
//! pyenv's CPython 3.11, applied with the default layout): a fresh dist passes; every
//! mutation (a bundled library deleted, a wrong RUNPATH, the Python side broken, links
//! out of the dist) fails it with a diagnostic that names the object, the need and the
//! folder; `apply` refuses a dist that fails it and writes nothing.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use support::{python311, shenzi};

/// The stdlib example traced and applied with the default layout, in a scratch folder:
/// (scratch, dist). `apply` verifies it on the way.
fn fresh_dist() -> (tempfile::TempDir, PathBuf) {
    let support::example::TracedExample {
        scratch, manifest, ..
    } = support::example::traced_example();
    let dist = scratch.path().join("dist");
    let out = apply(&manifest, &dist, &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("`") && err.contains("verified:"), "{err}");
    assert!(err.contains("runs on glibc ≥"), "{err}");
    (scratch, dist)
}

fn apply(manifest: &Path, dist: &Path, extra: &[&str]) -> Output {
    support::apply("default", manifest, dist, extra)
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// `shenzi verify NAME`, run from the folder that holds the dist (so messages name it
/// by its short name).
fn verify(dist: &Path) -> Output {
    shenzi()
        .arg("verify")
        .arg(dist.file_name().unwrap())
        .current_dir(dist.parent().unwrap())
        .env("NO_COLOR", "1")
        .output()
        .unwrap()
}

/// A copy of the dist beside it, symlinks kept as symlinks.
fn mutant(dist: &Path, name: &str) -> PathBuf {
    let copy = dist.with_file_name(name);
    let status = Command::new("cp")
        .arg("-a")
        .arg(dist)
        .arg(&copy)
        .status()
        .unwrap();
    assert!(status.success());
    copy
}

/// Machine-independent text: content-hash folder names and the scratch path replaced.
fn redact(text: &str, scratch: &Path) -> String {
    let text = text.replace(&scratch.display().to_string(), "[scratch]");
    let mut out = String::new();
    let mut word = String::new();
    let flush = |word: &mut String, out: &mut String| {
        if word.len() == 16 && word.chars().all(|c| c.is_ascii_hexdigit()) {
            out.push_str("[hash]");
        } else {
            out.push_str(word);
        }
        word.clear();
    };
    for c in text.chars() {
        if c.is_ascii_alphanumeric() {
            word.push(c);
        } else {
            flush(&mut word, &mut out);
            out.push(c);
        }
    }
    flush(&mut word, &mut out);
    out
}

/// The real file of the bundled `name` (`lib/reals/<hash>/<name>`).
fn real_library(dist: &Path, name: &str) -> PathBuf {
    for entry in std::fs::read_dir(dist.join("lib/reals")).unwrap() {
        let candidate = entry.unwrap().path().join(name);
        if candidate.is_file() {
            return candidate;
        }
    }
    panic!("`{name}` is not bundled in {}", dist.display());
}

fn codes(text: &str) -> Vec<&str> {
    let mut codes: Vec<&str> = text
        .lines()
        .filter_map(|l| l.trim().strip_prefix("Error: "))
        .collect();
    codes.sort();
    codes
}

#[test]
fn a_fresh_dist_passes_and_every_mutation_fails_with_a_precise_diagnostic() {
    let (scratch, dist) = fresh_dist();

    let out = verify(&dist);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(err.contains("shenzi: `dist` verified: "), "{err}");
    assert!(err.contains("runs on glibc ≥ 2."), "{err}");

    // A bundled library deleted: the interpreter cannot find libpython any more, and
    // the farm link to it dangles.
    let deleted = mutant(&dist, "deleted");
    std::fs::remove_file(real_library(&deleted, "libpython3.11.so.1.0")).unwrap();
    let out = verify(&deleted);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert_eq!(
        codes(&err),
        [
            "shenzi::verify::dangling_link",
            "shenzi::verify::unresolved_need"
        ],
        "{err}"
    );
    insta::assert_snapshot!("deleted_library", redact(&err, scratch.path()));

    // A wrong RUNPATH on the interpreter.
    let wrong = mutant(&dist, "wrong-runpath");
    let status = Command::new("patchelf")
        .args(["--set-rpath", "$ORIGIN/../nowhere"])
        .arg(wrong.join("python/bin/python3.11"))
        .status()
        .unwrap();
    assert!(status.success());
    let out = verify(&wrong);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("`python/bin/python3.11` needs `libpython3.11.so.1.0`")
            && err.contains("`python/nowhere/libpython3.11.so.1.0` absent"),
        "{err}"
    );
    insta::assert_snapshot!("wrong_runpath", redact(&err, scratch.path()));

    // The Python side: no stdlib landmark, the app folder (entry and a `.pth` folder)
    // gone.
    let python = mutant(&dist, "python-side");
    std::fs::remove_file(python.join("python/lib/python3.11/os.py")).unwrap();
    std::fs::remove_dir_all(python.join("app")).unwrap();
    let out = verify(&python);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert_eq!(
        codes(&err),
        [
            "shenzi::verify::entry_missing",
            "shenzi::verify::stdlib_not_found",
            "shenzi::verify::sys_path_missing"
        ],
        "{err}"
    );
    insta::assert_snapshot!("python_side", redact(&err, scratch.path()));

    // A run-time load's library gone: the app's `ctypes.CDLL("libz.so.1")` (the record
    // lists it, with `_ctypes` as its caller) would not find it, though no `DT_NEEDED`
    // names the served link.
    let record = std::fs::read_to_string(dist.join(".shenzi/dist.json")).unwrap();
    let parsed: serde_json::Value = serde_json::from_str(&record).unwrap();
    assert!(
        parsed["loads"]
            .as_array()
            .is_some_and(|l| l.iter().any(|load| load["name"] == "libz.so.1")),
        "{record}"
    );
    let unserved = mutant(&dist, "unserved");
    std::fs::remove_file(unserved.join("lib/runtime/libz.so.1")).unwrap();
    let out = verify(&unserved);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert_eq!(codes(&err), ["shenzi::verify::unserved_load"], "{err}");
    assert!(
        err.contains(
            "the app loads `libz.so.1` at run time through `python/lib/python3.11/lib-dynload/"
        ),
        "{err}"
    );

    // Relocation breakers: a link out of the dist, and an absolute RUNPATH that finds
    // libpython only while the dist sits where it is now.
    let moved = mutant(&dist, "absolute");
    let link = moved.join("lib/links/python3.11/libpython3.11.so.1.0");
    let real = std::fs::canonicalize(&link).unwrap();
    std::fs::remove_file(&link).unwrap();
    std::os::unix::fs::symlink(python311(), &link).unwrap();
    let status = Command::new("patchelf")
        .arg("--set-rpath")
        .arg(real.parent().unwrap())
        .arg(moved.join("python/bin/python3.11"))
        .status()
        .unwrap();
    assert!(status.success());
    let out = verify(&moved);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert_eq!(
        codes(&err),
        [
            "shenzi::verify::absolute_path",
            "shenzi::verify::link_outside"
        ],
        "{err}"
    );
    // Absolute paths wrap differently per machine: no snapshot, the key facts instead.
    assert!(
        err.contains(
            "`python/bin/python3.11` finds `libpython3.11.so.1.0` only through the absolute path"
        ),
        "{err}"
    );
    assert!(
        err.contains("symlink `lib/links/python3.11/libpython3.11.so.1.0` points to"),
        "{err}"
    );
}

#[test]
fn folders_that_are_not_dists_are_refused_with_a_clear_error() {
    let scratch = tempfile::tempdir().unwrap();
    let empty = scratch.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let file = scratch.path().join("file");
    std::fs::write(&file, "x").unwrap();
    let broken = scratch.path().join("broken");
    std::fs::create_dir_all(broken.join(".shenzi")).unwrap();
    std::fs::write(broken.join(".shenzi/dist.json"), "{ not json").unwrap();

    let mut shown = String::new();
    for name in ["empty", "file", "missing", "broken"] {
        let out = shenzi()
            .args(["verify", name])
            .current_dir(scratch.path())
            .env("NO_COLOR", "1")
            .output()
            .unwrap();
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(1), "{err}");
        let code = if name == "broken" {
            "shenzi::verify::bad_record"
        } else {
            "shenzi::verify::not_a_dist"
        };
        assert!(err.contains(code), "{name}: {err}");
        assert!(!err.contains("panicked"), "{err}");
        shown.push_str(&format!("$ shenzi verify {name}\n{err}\n"));
    }
    insta::assert_snapshot!("not_a_dist", shown);
}

#[test]
fn apply_refuses_a_dist_that_fails_verification_and_writes_nothing() {
    let support::example::TracedExample {
        scratch, manifest, ..
    } = support::example::traced_example();

    // A patchelf that gives the interpreter a wrong RUNPATH, made to write every edit:
    // the plan is right, the written dist is not, and only `verify` can tell.
    let bad = scratch.path().join("bad-patchelf");
    std::fs::write(
        &bad,
        // The file patchelf writes: the one after `--output`, else the last argument.
        "#!/bin/sh\nout=\nprev=\nfor a in \"$@\"; do\n  [ \"$prev\" = --output ] && out=$a\n  prev=$a\ndone\n[ -n \"$out\" ] || out=$prev\npatchelf \"$@\" || exit $?\ncase $out in\n  */python/bin/python3.11) exec patchelf --set-rpath '$ORIGIN/../nowhere' \"$out\" ;;\nesac\n",
    )
    .unwrap();
    let mut perms = std::fs::metadata(&bad).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o755);
    std::fs::set_permissions(&bad, perms).unwrap();

    let out_dir = scratch.path().join("out");
    std::fs::create_dir(&out_dir).unwrap();
    let dist = out_dir.join("dist");
    // patchelf writes every edit, so the bad one is used for the interpreter.
    let with_bad = [
        "--patchelf",
        bad.to_str().unwrap(),
        "--elf-writer",
        "patchelf",
    ];
    let out = apply(&manifest, &dist, &with_bad);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("shenzi::verify::unresolved_need"), "{err}");
    assert!(
        err.contains("dist `") && err.contains("fails verification"),
        "{err}"
    );
    assert!(err.contains("nothing was written"), "{err}");
    // No dist, and no half-built folder beside it.
    let left: Vec<_> = std::fs::read_dir(&out_dir).unwrap().collect();
    assert!(left.is_empty(), "{left:?}");

    // With --no-verify the same dist is written, and `shenzi verify` finds the fault.
    let out = apply(
        &manifest,
        &dist,
        &[&with_bad[..], &["--no-verify"]].concat(),
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(!stderr(&out).contains("verified:"));
    let out = verify(&dist);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("`python/bin/python3.11` needs `libpython3.11.so.1.0`"),
        "{err}"
    );
}

/// `shenzi verify --format json NAME`, as [`verify`].
fn verify_json(dist: &Path) -> (Output, serde_json::Value) {
    let out = shenzi()
        .args(["verify", "--format", "json"])
        .arg(dist.file_name().unwrap())
        .current_dir(dist.parent().unwrap())
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    let doc = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {}", support::describe(&out)));
    (out, doc)
}

#[test]
fn verify_json_reports_the_check_on_stdout_and_keeps_the_text_on_stderr() {
    let (_scratch, dist) = fresh_dist();

    let (out, doc) = verify_json(&dist);
    assert_eq!(out.status.code(), Some(0), "{}", support::describe(&out));
    // The human summary stays on stderr.
    assert!(
        stderr(&out).contains("`dist` verified: "),
        "{}",
        stderr(&out)
    );
    assert_eq!(doc["version"], 1);
    assert_eq!(doc["dist"], "dist");
    assert_eq!(doc["passed"], true);
    assert_eq!(doc["layout"], "default");
    assert!(doc["files"].as_u64().unwrap() > 100, "{doc}");
    assert!(doc["symlinks"].as_u64().unwrap() > 0, "{doc}");
    // The interpreter, libpython and the stdlib's extension modules at least.
    assert!(doc["binaries"].as_u64().unwrap() > 10, "{doc}");
    assert!(
        doc["needs_checked"].as_u64().unwrap() >= doc["binaries"].as_u64().unwrap(),
        "{doc}"
    );
    assert_eq!(doc["problems"], serde_json::json!([]));
    let glibc = &doc["glibc_floor"]["glibc"];
    let name = glibc["name"].as_str().unwrap();
    assert_eq!(
        name,
        format!("GLIBC_{}", glibc["version"].as_str().unwrap())
    );
    assert!(name.starts_with("GLIBC_2."), "{doc}");
    // The object it names is in the dist.
    assert!(
        dist.join(glibc["needed_by"].as_str().unwrap()).exists(),
        "{doc}"
    );
    // The same dist, the same bytes (no timings in it).
    let (again, _) = verify_json(&dist);
    assert_eq!(out.stdout, again.stdout);

    // A failing dist: the document still comes, each problem with its code and message,
    // and the diagnostics are on stderr.
    let deleted = mutant(&dist, "deleted");
    std::fs::remove_file(real_library(&deleted, "libpython3.11.so.1.0")).unwrap();
    let (out, doc) = verify_json(&deleted);
    assert_eq!(out.status.code(), Some(1), "{}", support::describe(&out));
    assert_eq!(doc["passed"], false);
    let problems = doc["problems"].as_array().unwrap();
    let mut codes: Vec<&str> = problems
        .iter()
        .map(|p| p["code"].as_str().unwrap())
        .collect();
    codes.sort();
    codes.dedup();
    assert_eq!(
        codes,
        [
            "shenzi::verify::dangling_link",
            "shenzi::verify::unresolved_need"
        ]
    );
    for p in problems {
        assert_eq!(p["severity"], "error", "{p}");
        assert!(!p["message"].as_str().unwrap().is_empty(), "{p}");
        assert!(!p["help"].as_str().unwrap().is_empty(), "{p}");
    }
    assert!(
        problems.iter().any(|p| p["message"]
            .as_str()
            .unwrap()
            .contains("libpython3.11.so.1.0")),
        "{doc}"
    );
    assert_eq!(codes_of(&stderr(&out)), codes);
    insta::assert_snapshot!("verify_json_shape", support::json_shape(&doc));
}

/// The distinct codes of `text`'s diagnostics.
fn codes_of(text: &str) -> Vec<&str> {
    let mut all = codes(text);
    all.dedup();
    all
}
