//! The project file `shenzi.toml` (issue 14), through the real binary: a bare `shenzi
//! build` does the whole job from it (the app's run, its pytest suite as a coverage run,
//! accepted exit codes), `shenzi init` writes one that builds, and its mistakes are
//! diagnostics pointing into it. The dists run in the hidden world (tests/support/e2e.rs).
//!
//! Needs root (mount namespaces) and `scripts/setup` (pytest's wheels).

mod support;

use support::dist::names;
use support::e2e;
use support::{build_in, describe, python311, shenzi, text};

/// Prints usage and exits 2 with `--usage`; `checksum` (which only the test suite runs in
/// the traces) loads zlib with ctypes; imports `iniconfig` when it can.
const APP: &str = r#"
import sys

try:  # optional: the project file excludes it, and the dist runs without it
    import iniconfig
except ImportError:
    iniconfig = None

def total(counts):
    return sum(counts)

def checksum(data):
    import ctypes
    zlib = ctypes.CDLL("libz.so.1")
    zlib.crc32.restype = ctypes.c_ulong
    return zlib.crc32(0, data, len(data))

if __name__ == "__main__":
    if sys.argv[1:] == ["--usage"]:
        print("usage: inventory [checksum]")
        sys.exit(2)
    if sys.argv[1:] == ["checksum"]:
        print(checksum(b"inventory"))
    else:
        print("total", total([2, 3, 5]))
"#;

const TESTS: &str = r#"
import inventory

def test_checksum():
    import zlib
    assert inventory.checksum(b"inventory") == zlib.crc32(b"inventory")
"#;

/// The project file of docs/project-file.md's example, for this test's folders.
const PROJECT: &str = r#"
[app]
script = "inventory.py"
args = ["--usage"]
python = "../venv/bin/python"
name = "inventory"
exit-codes = [0, 2]

[build]
layout = "default"
output = "../out/dist"
manifest = "shenzi.json"
onefile = false

[[run]]
command = ["-m", "pytest", "-q", "-p", "no:cacheprovider"]
role = "coverage"
exit-codes = [0]

[modules]
include = ["pluggy"]
exclude = ["iniconfig"]
"#;

#[test]
fn a_bare_build_does_the_whole_job_from_the_project_file() {
    let scratch = e2e::scratch();
    let src = scratch.path().join("inventory");
    e2e::write(&src.join("inventory.py"), APP);
    e2e::write(&src.join("test_inventory.py"), TESTS);
    e2e::write(&src.join("shenzi.toml"), PROJECT);
    let venv = e2e::pytest_venv(scratch.path());
    std::fs::create_dir(scratch.path().join("out")).unwrap();

    let out = build_in(&src, &[]);
    assert!(out.status.success(), "{}", describe(&out));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("traced 2 run(s)"), "{stderr}");
    assert!(
        stderr.contains("imported only by coverage runs") && stderr.contains("`pytest`"),
        "{stderr}"
    );
    let manifest = src.join("shenzi.json");
    let m: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&manifest).unwrap()).unwrap();
    let statuses: Vec<(String, i64)> = m["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["role"].as_str().unwrap().to_owned(),
                r["exit_status"].as_i64().unwrap(),
            )
        })
        .collect();
    assert!(statuses.contains(&("ship".into(), 2)), "{statuses:?}");
    assert!(statuses.contains(&("coverage".into(), 0)), "{statuses:?}");

    let dist = scratch.path().join("out/dist");
    let shipped = names(&dist);
    for runner in ["pytest", "_pytest", "iniconfig"] {
        assert!(
            !shipped.iter().any(|n| n == runner),
            "the dist holds `{runner}`"
        );
    }
    // Only the suite imported pluggy, but `include` ships it; the app imported
    // iniconfig, but `exclude` leaves it out.
    assert!(
        shipped.iter().any(|n| n == "pluggy"),
        "no pluggy in the dist"
    );
    assert!(
        stderr.contains("excluded by shenzi.toml's `[modules]`: `iniconfig`"),
        "{stderr}"
    );
    let expected = support::output_ok(
        std::process::Command::new(venv.join("bin/python"))
            .args(["inventory.py", "checksum"])
            .current_dir(&src),
    );
    let hidden = e2e::run_dist_hidden(
        &manifest,
        Some(&venv),
        std::slice::from_ref(&src),
        &dist.join("bin/inventory"),
        &["checksum"],
        &scratch.path().join("cwd"),
    );
    assert!(hidden.status.success(), "{}", describe(&hidden));
    assert_eq!(text(&hidden.stdout), text(&expected.stdout));
}

#[test]
fn init_writes_a_project_file_that_builds() {
    let scratch = e2e::scratch();
    let src = scratch.path().join("greeter");
    e2e::write(
        &src.join("greeter.py"),
        "import json, sys\nprint(json.dumps({'hello': sys.argv[1:]}))\n",
    );
    let init = shenzi()
        .arg("init")
        .current_dir(&src)
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    assert!(init.status.success(), "{}", describe(&init));
    let written = std::fs::read_to_string(src.join("shenzi.toml")).unwrap();
    assert!(written.contains("script = \"greeter.py\""), "{written}");

    // A second `init` keeps the file.
    let again = shenzi()
        .arg("init")
        .current_dir(&src)
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    assert_eq!(again.status.code(), Some(1));
    insta::assert_snapshot!("init_exists", text(&again.stderr));
    assert_eq!(
        std::fs::read_to_string(src.join("shenzi.toml")).unwrap(),
        written
    );

    // Flags override the file: the interpreter, the output, a kept manifest.
    let py = python311();
    std::fs::create_dir(scratch.path().join("out")).unwrap();
    let out = build_in(
        &src,
        &[
            "--python",
            py.to_str().unwrap(),
            "-o",
            "../out/dist",
            "--manifest",
            "../m.json",
        ],
    );
    assert!(out.status.success(), "{}", describe(&out));
    let hidden = e2e::run_dist_hidden(
        &scratch.path().join("m.json"),
        None,
        std::slice::from_ref(&src),
        &scratch.path().join("out/dist/bin/greeter"),
        &["a"],
        &scratch.path().join("cwd"),
    );
    assert!(hidden.status.success(), "{}", describe(&hidden));
    assert_eq!(text(&hidden.stdout), "{\"hello\": [\"a\"]}\n");
}

#[test]
fn an_exit_status_the_project_does_not_accept_writes_no_dist() {
    let dir = tempfile::tempdir().unwrap();
    e2e::write(&dir.path().join("inventory.py"), APP);
    let py = python311();
    e2e::write(
        &dir.path().join("shenzi.toml"),
        &format!(
            "[app]\nscript = \"inventory.py\"\nargs = [\"--usage\"]\npython = \"{}\"\n",
            py.display()
        ),
    );
    let out = build_in(dir.path(), &[]);
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    assert!(!dir.path().join("dist").exists());
    let stderr = text(&out.stderr).replace(&py.display().to_string(), "PYTHON");
    // The message names no manifest: none was kept, and the scratch one is gone.
    assert!(!stderr.contains("shenzi-build-"), "{stderr}");
    insta::assert_snapshot!("exit_status_refused", stderr);
}

#[test]
fn project_file_mistakes_are_diagnostics_pointing_into_it() {
    let cases: &[(&str, &str)] = &[
        (
            "unknown_key",
            "[app]\nscript = \"app.py\"\npythn = \"python3\"\n",
        ),
        ("unknown_table", "[app]\nscript = \"app.py\"\n\n[modul]\n"),
        (
            "wrong_type",
            "[app]\nscript = \"app.py\"\nargs = \"--help\"\n",
        ),
        (
            "two_entries",
            "[app]\nscript = \"app.py\"\nmodule = \"app\"\n",
        ),
        ("no_entry", "[app]\nargs = []\n"),
        (
            "bad_role",
            "[app]\nscript = \"app.py\"\n\n[[run]]\ncommand = [\"-m\", \"pytest\"]\nrole = \"tests\"\n",
        ),
        (
            "bad_exit_code",
            "[app]\nscript = \"app.py\"\nexit-codes = [0, 300]\n",
        ),
        (
            "dotted_module",
            "[app]\nscript = \"app.py\"\n\n[modules]\ninclude = [\"yaml.cyaml\"]\n",
        ),
        ("not_toml", "[app\nscript = \"app.py\"\n"),
        (
            "console_script_missing",
            "[app]\nconsole-script = \"no-such-tool\"\n",
        ),
    ];
    for (name, toml) in cases {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("app.py"), "open('ran', 'w').close()\n").unwrap();
        std::fs::write(dir.path().join("shenzi.toml"), toml).unwrap();
        let out = build_in(dir.path(), &[]);
        assert_eq!(out.status.code(), Some(1), "{name}: {}", describe(&out));
        assert!(!dir.path().join("ran").exists(), "{name}: the app ran");
        insta::assert_snapshot!(format!("invalid_{name}"), text(&out.stderr));
    }
    // No project file and no app.
    let dir = tempfile::tempdir().unwrap();
    let out = build_in(dir.path(), &[]);
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    insta::assert_snapshot!("no_app", text(&out.stderr));
}
