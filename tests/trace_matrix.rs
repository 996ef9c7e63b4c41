//! `shenzi trace` on the stdlib example under every real interpreter of the machine:
//! pyenv's CPython 3.8–3.13 (shared libpython) and Debian's python3 (static libpython).

mod support;

use std::path::Path;
use std::process::Output;

use serde_json::Value;
use support::{Interpreter, interpreters, repo_root, trace_command};

fn run_untraced(python: &Path, app_dir: &Path) -> Output {
    std::process::Command::new(python)
        .arg("app.py")
        .args(["first", "second arg"])
        .current_dir(app_dir)
        .output()
        .expect("run the example")
}

fn trace_example(interp: &Interpreter) -> (Output, Value) {
    let app_dir = repo_root().join("examples/stdlib_app");
    let out_dir = tempfile::tempdir().unwrap();
    let manifest = out_dir.path().join("shenzi.json");
    let output = trace_command(&manifest, [&*interp.path, "app.py".as_ref()])
        .args(["first", "second arg"])
        .current_dir(&app_dir)
        .output()
        .expect("run shenzi");
    let text = std::fs::read_to_string(&manifest).unwrap_or_else(|e| {
        panic!(
            "{}: no manifest ({e}); stderr:\n{}",
            interp.label,
            String::from_utf8_lossy(&output.stderr)
        )
    });
    (
        output,
        serde_json::from_str(&text).expect("manifest is JSON"),
    )
}

fn module<'a>(manifest: &'a Value, name: &str) -> Option<&'a Value> {
    manifest["modules"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["name"] == name)
}

fn check(minor: Option<u32>) {
    let Some(interp) = interpreters().into_iter().find(|i| match minor {
        Some(m) => i.label == format!("pyenv-3.{m}"),
        None => i.label == "debian",
    }) else {
        eprintln!("SKIPPED: interpreter {minor:?} not on this machine");
        return;
    };
    let label = &interp.label;
    let (traced, m) = trace_example(&interp);
    let untraced = run_untraced(&interp.path, &repo_root().join("examples/stdlib_app"));

    // The tracer is invisible: same output, same status.
    assert_eq!(
        String::from_utf8_lossy(&traced.stdout),
        String::from_utf8_lossy(&untraced.stdout),
        "{label}: stdout differs"
    );
    assert_eq!(
        traced.status.code(),
        Some(0),
        "{label}: {}",
        String::from_utf8_lossy(&traced.stderr)
    );
    assert_eq!(untraced.status.code(), Some(0));

    assert_eq!(m["version"], 1);
    assert_eq!(m["python"]["version"]["minor"], interp.minor, "{label}");
    assert_eq!(m["entry"]["kind"], "script");
    assert!(
        m["entry"]["target"]
            .as_str()
            .unwrap()
            .ends_with("examples/stdlib_app/app.py")
    );
    assert_eq!(m["entry"]["argv"][1], "first");
    assert_eq!(m["entry"]["argv"][2], "second arg");
    assert_eq!(m["python"]["sys_path"][0]["kind"], "app", "{label}");

    for name in [
        "json", "sqlite3", "decimal", "ssl", "lzma", "bz2", "greeter",
    ] {
        assert!(module(&m, name).is_some(), "{label}: `{name}` not recorded");
    }
    for name in ["_sqlite3", "_ctypes"] {
        let record = module(&m, name).unwrap_or_else(|| panic!("{label}: no `{name}`"));
        assert_eq!(record["kind"], "extension", "{label}: {name}");
        let file = record["file"].as_str().unwrap();
        assert!(Path::new(file).is_file(), "{label}: {file}");
        assert!(
            Path::new(file)
                .file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with(name),
            "{label}: {file}"
        );
    }
    // Imported only in the multiprocessing spawn child (which Pool ends with SIGTERM).
    assert!(
        module(&m, "colorsys").is_some(),
        "{label}: spawn child not traced"
    );
    // Imported only in the `python -m greeter.child` subprocess.
    assert!(
        module(&m, "difflib").is_some(),
        "{label}: subprocess child not traced"
    );
    assert_eq!(module(&m, "greeter.child").unwrap()["kind"], "source");
    assert!(m["runs"][0]["processes"].as_u64().unwrap() >= 3, "{label}");

    let loads = m["native"]["loads"].as_array().unwrap();
    let libz = loads
        .iter()
        .find(|l| l["name"] == "libz.so.1" && l["via"] == "ctypes")
        .unwrap_or_else(|| panic!("{label}: no ctypes load of libz: {loads:?}"));
    assert!(
        libz["resolved"].as_str().unwrap().contains("libz.so.1"),
        "{label}"
    );
    assert_eq!(libz["caller"], "__main__");

    let objects = m["native"]["objects"].as_array().unwrap();
    let sqlite = objects
        .iter()
        .find(|o| o["soname"] == "libsqlite3.so.0")
        .unwrap_or_else(|| panic!("{label}: libsqlite3 not among mapped objects"));
    assert!(
        sqlite["names"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n == "libsqlite3.so.0")
    );
    assert!(objects.iter().any(|o| o["kind"] == "executable"), "{label}");
    let libz_object = objects.iter().find(|o| o["soname"] == "libz.so.1").unwrap();
    assert!(
        libz_object["names"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n == "libz.so.1")
    );

    let shared = m["python"]["libpython"]["shared"].as_bool().unwrap();
    assert_eq!(
        shared,
        interp.label != "debian",
        "{label}: libpython shared"
    );
    if shared {
        let lib = m["python"]["libpython"]["path"].as_str().unwrap();
        assert!(lib.contains("libpython3."), "{label}: {lib}");
    }

    let execs = m["executables"].as_array().unwrap();
    assert!(
        execs
            .iter()
            .any(|e| e["is_python"] == true && e["via"] == "subprocess"),
        "{label}: subprocess of sys.executable not recorded: {execs:?}"
    );
    assert!(
        execs
            .iter()
            .any(|e| e["name"] == "sh" && e["path"].is_string()),
        "{label}: `sh` child not recorded: {execs:?}"
    );
    let data = m["data_files"].as_array().unwrap();
    assert!(
        data.iter().any(|d| d["path"]
            .as_str()
            .unwrap()
            .ends_with("greeter/greeting.txt")),
        "{label}: data file not recorded: {data:?}"
    );
    // Only the allowlisted environment.
    for key in m["env"].as_object().unwrap().keys() {
        assert!(
            key == "PATH"
                || key == "LD_LIBRARY_PATH"
                || key == "LD_PRELOAD"
                || key.starts_with("PYTHON")
                || key.starts_with("DYLD_"),
            "{label}: env has `{key}`"
        );
    }
}

#[test]
fn cpython_3_8() {
    check(Some(8));
}
#[test]
fn cpython_3_9() {
    check(Some(9));
}
#[test]
fn cpython_3_10() {
    check(Some(10));
}
#[test]
fn cpython_3_11() {
    check(Some(11));
}
#[test]
fn cpython_3_12() {
    check(Some(12));
}
#[test]
fn cpython_3_13() {
    check(Some(13));
}
#[test]
fn debian_python3() {
    check(None);
}
