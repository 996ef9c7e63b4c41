//! `shenzi trace` through the real binary: bad input fails early and clearly, `--append`
//! merges as a set union, and the manifest is deterministic.

mod support;

use std::path::Path;
use std::process::Output;

use serde_json::Value;
use support::{interpreters, output_ok, python311, repo_root, shenzi, trace_command};

/// Runs shenzi in `dir` with plain (non-terminal) diagnostics.
fn shenzi_in(dir: &Path, args: &[&str]) -> Output {
    shenzi()
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .output()
        .expect("run shenzi")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Exit 1, with `needle` in stderr.
fn assert_fails_with(out: &Output, needle: &str) {
    assert_eq!(out.status.code(), Some(1), "{}", stderr(out));
    assert!(stderr(out).contains(needle), "{}", stderr(out));
}

/// A script that leaves `ran` in the working folder, to prove whether the app ran.
fn marker_app(dir: &Path) -> String {
    std::fs::write(dir.join("app.py"), "open('ran', 'w').close()\n").unwrap();
    "app.py".into()
}

#[test]
fn a_command_that_does_not_exist_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let out = shenzi_in(dir.path(), &["trace", "--", "no-such-program-shenzi"]);
    assert_fails_with(&out, "command `no-such-program-shenzi` not found");
    assert!(!dir.path().join("shenzi.json").exists());
}

#[test]
fn a_native_program_that_is_not_python_is_refused_before_it_runs() {
    let dir = tempfile::tempdir().unwrap();
    let out = shenzi_in(dir.path(), &["trace", "--", "/bin/ls", "-la"]);
    assert_fails_with(&out, "`/bin/ls` is not a Python program");
    assert!(out.stdout.is_empty(), "`ls` must not run");
    assert!(stderr(&out).contains("shenzi::trace::not_python"));
}

#[test]
fn a_script_that_never_starts_python_is_reported_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("wrapper.sh");
    std::fs::write(&script, "#!/bin/sh\necho from the shell\n").unwrap();
    std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let out = shenzi_in(dir.path(), &["trace", "--", "./wrapper.sh"]);
    assert_fails_with(&out, "no Python process was traced");
    assert!(!dir.path().join("shenzi.json").exists());
}

#[test]
fn an_unwritable_output_fails_before_the_app_runs() {
    let dir = tempfile::tempdir().unwrap();
    let app = marker_app(dir.path());
    let python = python311();
    let python = python.to_str().unwrap();
    for output in ["missing-folder/m.json", "."] {
        let out = shenzi_in(dir.path(), &["trace", "-o", output, "--", python, &app]);
        assert_fails_with(&out, "cannot write the manifest");
        assert!(!dir.path().join("ran").exists(), "{output}: the app ran");
    }
}

#[test]
fn usage_errors_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(shenzi_in(dir.path(), &["trace"]).status.code(), Some(2));
    assert_eq!(
        shenzi_in(dir.path(), &["no-such-subcommand"]).status.code(),
        Some(2)
    );
}

/// A broken manifest given to `--append`: a diagnostic that points into it, exit 1, the
/// file untouched and the app not run.
#[test]
fn append_to_a_bad_manifest_is_a_diagnostic_and_changes_nothing() {
    let cases = [
        (
            "invalid_json",
            "{\n  \"version\": 1,\n  \"python\": {\"executable\": \"/usr/bin/python3\",,}\n}\n",
        ),
        ("no_version", "{\n  \"platform\": {}\n}\n"),
        (
            "wrong_version",
            "{\n  \"version\": 7,\n  \"platform\": {}\n}\n",
        ),
        (
            "missing_field",
            "{\n  \"version\": 1,\n  \"platform\": {\"os\": \"linux\", \"machine\": \"x86_64\", \"libc\": null}\n}\n",
        ),
        (
            "bad_value",
            "{\n  \"version\": 1,\n  \"platform\": {\"os\": 3, \"machine\": \"x86_64\", \"libc\": null}\n}\n",
        ),
    ];
    let python = python311();
    for (name, text) in cases {
        let dir = tempfile::tempdir().unwrap();
        let app = marker_app(dir.path());
        std::fs::write(dir.path().join("m.json"), text).unwrap();
        let out = shenzi_in(
            dir.path(),
            &[
                "trace",
                "--append",
                "-o",
                "m.json",
                "--",
                python.to_str().unwrap(),
                &app,
            ],
        );
        assert_eq!(out.status.code(), Some(1), "{name}");
        assert_eq!(
            std::fs::read_to_string(dir.path().join("m.json")).unwrap(),
            text,
            "{name}"
        );
        assert!(!dir.path().join("ran").exists(), "{name}: the app ran");
        insta::assert_snapshot!(format!("append_{name}"), stderr(&out));
    }
}

fn trace(dir: &Path, output: &str, append: bool, command: &[&str]) -> Output {
    let mut args = vec!["trace", "-o", output];
    if append {
        args.push("--append");
    }
    args.push("--");
    args.extend(command);
    let out = shenzi_in(dir, &args);
    assert!(out.status.success(), "{command:?}: {}", stderr(&out));
    out
}

fn read(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn names(m: &Value) -> Vec<String> {
    m["modules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["name"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn append_is_an_order_independent_union_and_keeps_the_first_entry() {
    let dir = tempfile::tempdir().unwrap();
    let python = python311();
    let py = python.to_str().unwrap();
    std::fs::write(
        dir.path().join("app.py"),
        "import json\nprint(json.dumps(1))\n",
    )
    .unwrap();
    std::fs::write(dir.path().join("suite.py"), "import difflib, sqlite3\n").unwrap();

    trace(dir.path(), "ab.json", false, &[py, "app.py"]);
    trace(dir.path(), "ab.json", true, &[py, "suite.py"]);
    trace(dir.path(), "ba.json", false, &[py, "suite.py"]);
    trace(dir.path(), "ba.json", true, &[py, "app.py"]);
    let ab = read(&dir.path().join("ab.json"));
    let ba = read(&dir.path().join("ba.json"));

    assert_eq!(ab["runs"].as_array().unwrap().len(), 2);
    for key in [
        "runs",
        "modules",
        "native",
        "executables",
        "data_files",
        "scripts",
        "native_data",
        "native_env",
    ] {
        assert_eq!(ab[key], ba[key], "`{key}` depends on merge order");
    }
    assert!(ab["entry"]["target"].as_str().unwrap().ends_with("app.py"));
    assert!(
        ba["entry"]["target"]
            .as_str()
            .unwrap()
            .ends_with("suite.py")
    );
    let modules = names(&ab);
    assert!(modules.contains(&"json".into()) && modules.contains(&"difflib".into()));
    // Each record says which runs used it.
    let run_of = |script: &str| {
        ab["runs"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["command"][1] == script)
            .unwrap()["id"]
            .clone()
    };
    let difflib = ab["modules"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["name"] == "difflib")
        .unwrap();
    assert_eq!(difflib["runs"], serde_json::json!([run_of("suite.py")]));
    let sys = ab["modules"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["name"] == "sys")
        .unwrap();
    assert_eq!(sys["runs"].as_array().unwrap().len(), 2);

    // Appending the same run again changes nothing.
    let before = std::fs::read(dir.path().join("ab.json")).unwrap();
    trace(dir.path(), "ab.json", true, &[py, "suite.py"]);
    assert_eq!(std::fs::read(dir.path().join("ab.json")).unwrap(), before);
}

#[test]
fn runs_of_different_interpreters_do_not_merge() {
    let pythons = interpreters();
    let (Some(a), Some(b)) = (pythons.first(), pythons.get(1)) else {
        eprintln!("SKIPPED: needs two interpreters");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    trace(
        dir.path(),
        "m.json",
        false,
        &[a.path.to_str().unwrap(), "-c", "pass"],
    );
    let before = std::fs::read(dir.path().join("m.json")).unwrap();
    let out = shenzi_in(
        dir.path(),
        &[
            "trace",
            "--append",
            "-o",
            "m.json",
            "--",
            b.path.to_str().unwrap(),
            "-c",
            "pass",
        ],
    );
    assert_fails_with(&out, "shenzi::manifest::different_interpreter");
    assert_eq!(std::fs::read(dir.path().join("m.json")).unwrap(), before);
}

#[test]
fn the_same_run_gives_the_same_bytes() {
    let app_dir = repo_root().join("examples/stdlib_app");
    let out = tempfile::tempdir().unwrap();
    let python = python311();
    let mut manifests = Vec::new();
    for name in ["one.json", "two.json"] {
        let path = out.path().join(name);
        output_ok(
            trace_command(&path, [python.as_os_str(), "app.py".as_ref()]).current_dir(&app_dir),
        );
        manifests.push(std::fs::read(&path).unwrap());
    }
    assert_eq!(manifests[0], manifests[1]);
}

#[test]
fn python_module_and_console_script_entries() {
    let dir = tempfile::tempdir().unwrap();
    let venv = support::wheel_venv();
    let python = venv.join("bin/python");
    trace(
        dir.path(),
        "mod.json",
        false,
        &[python.to_str().unwrap(), "-m", "json.tool", "--help"],
    );
    let m = read(&dir.path().join("mod.json"));
    assert_eq!(m["entry"]["kind"], "module");
    assert_eq!(m["entry"]["target"], "json.tool");
    assert_eq!(m["python"]["is_venv"], true);
    assert!(
        m["python"]["site_dirs"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["kind"] == "venv")
    );

    // pip's console script: a `#!` line naming the venv's python.
    let pip = venv.join("bin/pip");
    trace(
        dir.path(),
        "script.json",
        false,
        &[pip.to_str().unwrap(), "--version"],
    );
    let m = read(&dir.path().join("script.json"));
    assert_eq!(m["entry"]["kind"], "console_script");
    assert!(m["entry"]["target"].as_str().unwrap().ends_with("/bin/pip"));
    assert!(names(&m).contains(&"pip".into()));
}
