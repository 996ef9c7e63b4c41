//! Re-apply (`--force` onto a previous dist) redoes only what changed: a small app of
//! its own (a pure module and a gcc-built extension module), traced with pyenv's CPython
//! 3.11, is applied, changed one input at a time, and re-applied. Each time the files
//! re-apply says it redid (`--format json`'s `redone`) are exactly those whose bytes
//! differ from the previous dist or are new, and the result is byte for byte a cold
//! apply of the same inputs into a fresh folder.

mod support;

use std::collections::BTreeSet;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use support::dist::tree;
use support::{apply, describe, output_ok, python311, trace_command};

/// The app: a pure module, an extension module built with gcc, and a script using both.
fn write_app(dir: &Path, answer: u32) {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join("puremod.py"), "GREETING = 'hello'\n").unwrap();
    std::fs::write(
        dir.join("app.py"),
        "import puremod\nimport fastext\nprint(puremod.GREETING, fastext.answer())\n",
    )
    .unwrap();
    build_extension(dir, answer);
}

/// `fastext`, whose `answer()` returns `answer`.
fn build_extension(dir: &Path, answer: u32) {
    let c = dir.join("fastext.c");
    std::fs::write(
        &c,
        format!(
            "#include <Python.h>\n\
             static PyObject *answer(PyObject *s, PyObject *a) {{ return PyLong_FromLong({answer}); }}\n\
             static PyMethodDef m[] = {{{{\"answer\", answer, METH_NOARGS, 0}}, {{0}}}};\n\
             static struct PyModuleDef d = {{PyModuleDef_HEAD_INIT, \"fastext\", 0, -1, m}};\n\
             PyMODINIT_FUNC PyInit_fastext(void) {{ return PyModule_Create(&d); }}\n"
        ),
    )
    .unwrap();
    let include = Command::new(python311())
        .args([
            "-c",
            "import sysconfig; print(sysconfig.get_paths()['include'])",
        ])
        .output()
        .unwrap();
    let include = String::from_utf8(include.stdout).unwrap();
    output_ok(
        Command::new("gcc")
            .args(["-shared", "-fPIC", "-O1", "-o"])
            .arg(dir.join("fastext.so"))
            .arg(&c)
            .arg(format!("-I{}", include.trim())),
    );
}

fn trace(app: &Path, manifest: &Path, extra: &[&str], script: &[&str]) {
    let mut cmd = trace_command(manifest, [python311().as_os_str()]);
    // `trace -o M [--append] -- python SCRIPT`: the flags go before `--`.
    let mut args: Vec<std::ffi::OsString> = cmd.get_args().map(ToOwned::to_owned).collect();
    let at = args.iter().position(|a| a == "--").unwrap();
    for (i, flag) in extra.iter().enumerate() {
        args.insert(at + i, flag.into());
    }
    args.extend(script.iter().map(Into::into));
    cmd = support::shenzi();
    cmd.args(args).current_dir(app);
    output_ok(&mut cmd);
}

/// Re-applies with `--format json --explain-rebuild`: the document and stderr.
fn reapply(layout: &str, manifest: &Path, dist: &Path) -> (serde_json::Value, String) {
    let out = apply(
        layout,
        manifest,
        dist,
        &["--force", "--format", "json", "--explain-rebuild"],
    );
    assert!(out.status.success(), "{}", describe(&out));
    let doc = serde_json::from_slice(&out.stdout).unwrap();
    (doc, String::from_utf8_lossy(&out.stderr).into_owned())
}

fn redone(doc: &serde_json::Value) -> BTreeSet<String> {
    doc["redone"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["path"].as_str().unwrap().to_owned())
        .collect()
}

/// Files and symlinks of `new` whose bytes, mode or target are not those of `old` at
/// the same path (the record aside).
fn differing(old: &[String], new: &[String]) -> BTreeSet<String> {
    let old: BTreeSet<&String> = old.iter().collect();
    new.iter()
        .filter(|line| !old.contains(line) && !line.contains("/ "))
        .map(|line| {
            line.split(" -> ")
                .next()
                .unwrap()
                .split(' ')
                .next()
                .unwrap()
                .to_owned()
        })
        .filter(|p| p != ".shenzi/dist.json")
        .collect()
}

/// A cold apply into a fresh folder, its tree.
fn cold(layout: &str, manifest: &Path, at: PathBuf) -> Vec<String> {
    let out = apply(layout, manifest, &at, &[]);
    assert!(out.status.success(), "{}", describe(&out));
    let t = tree(&at, true);
    std::fs::remove_dir_all(&at).unwrap();
    t
}

#[test]
fn a_reapply_redoes_exactly_what_changed_and_matches_a_cold_apply() {
    let scratch = tempfile::tempdir().unwrap();
    let app = scratch.path().join("app");
    write_app(&app, 41);
    let manifest = scratch.path().join("shenzi.json");
    trace(&app, &manifest, &[], &["app.py"]);
    let dist = scratch.path().join("dist");
    let out = apply("default", &manifest, &dist, &[]);
    assert!(out.status.success(), "{}", describe(&out));

    // Unchanged: nothing is written, not even the record.
    let record = dist.join(".shenzi/dist.json");
    let before = (tree(&dist, true), record.metadata().unwrap().ctime_nsec());
    let record_ctime = record.metadata().unwrap().ctime();
    let (doc, err) = reapply("default", &manifest, &dist);
    assert_eq!(doc["unchanged"], true, "{doc}");
    assert_eq!(redone(&doc), BTreeSet::new(), "{doc}");
    assert!(err.contains("is up to date"), "{err}");
    assert_eq!(
        doc["reused"],
        doc["files"].as_u64().unwrap() + doc["symlinks"].as_u64().unwrap()
    );
    let m = record.metadata().unwrap();
    assert_eq!((tree(&dist, true), m.ctime_nsec()), before);
    assert_eq!(m.ctime(), record_ctime);

    let find = |name: &str| -> String {
        tree(&dist, false)
            .into_iter()
            .map(|l| l.split(' ').next().unwrap().to_owned())
            .find(|p| p.ends_with(name))
            .unwrap_or_else(|| panic!("{name} is in the dist"))
    };
    let pure = find("/puremod.py");
    let ext = find("/fastext.so");

    // Each change redoes exactly the files it changes, listed with a reason.
    let step = |what: &str, layout: &str, expect: Option<&[&str]>| {
        let old = tree(&dist, true);
        let (doc, err) = reapply(layout, &manifest, &dist);
        let new = tree(&dist, true);
        assert_eq!(doc["unchanged"], false, "{what}: {doc}");
        let mut said = redone(&doc);
        // The record is listed when the plan's part of it changed (another layout).
        said.remove(".shenzi/dist.json");
        assert_eq!(said, differing(&old, &new), "{what}: {err}");
        if let Some(expect) = expect {
            let expect: BTreeSet<String> = expect.iter().map(|s| s.to_string()).collect();
            assert_eq!(said, expect, "{what}: {err}");
        }
        for path in &said {
            assert!(
                err.contains(&format!("shenzi: redone `{path}`: ")),
                "{what}: {err}"
            );
        }
        assert!(err.contains("re-apply: "), "{what}: {err}");
        let fresh = scratch.path().join("fresh");
        assert_eq!(new, cold(layout, &manifest, fresh), "{what}");
        doc
    };

    // A pure module edited.
    std::fs::write(app.join("puremod.py"), "GREETING = 'hi there'\n").unwrap();
    let doc = step("pure module", "default", Some(&[pure.as_str()]));
    assert!(
        doc["redone"][0]["reason"]
            .as_str()
            .unwrap()
            .starts_with("source changed"),
        "{doc}"
    );

    // The same size, the mtime put back: the change time still shows it.
    let path = app.join("puremod.py");
    let mtime = path.metadata().unwrap().modified().unwrap();
    std::fs::write(&path, "GREETING = 'hi THERE'\n").unwrap();
    std::fs::File::options()
        .write(true)
        .open(&path)
        .unwrap()
        .set_modified(mtime)
        .unwrap();
    assert_eq!(path.metadata().unwrap().modified().unwrap(), mtime);
    let doc = step("same size and mtime", "default", Some(&[pure.as_str()]));
    assert!(
        doc["redone"][0]["reason"]
            .as_str()
            .unwrap()
            .contains("ctime"),
        "{doc}"
    );

    // The extension rebuilt: only it is written again.
    build_extension(&app, 42);
    step("extension", "default", Some(&[ext.as_str()]));

    // Another run added to the manifest: only what it brought is new.
    std::fs::write(app.join("extra.py"), "VALUE = 1\n").unwrap();
    std::fs::write(app.join("more.py"), "import puremod, extra\n").unwrap();
    trace(&app, &manifest, &["--append"], &["more.py"]);
    let doc = step("appended run", "default", None);
    for r in doc["redone"].as_array().unwrap() {
        assert_eq!(r["reason"], "new in the plan", "{doc}");
    }
    assert!(
        redone(&doc).iter().any(|p| p.ends_with("/extra.py")),
        "{doc}"
    );

    // Another layout: what it places elsewhere or writes differently is redone, and
    // what it removes is counted.
    let doc = step("layout", "minimal", None);
    assert!(doc["removed"].as_u64().unwrap() > 0, "{doc}");
    assert!(doc["reused"].as_u64().unwrap() > 0, "{doc}");
}
