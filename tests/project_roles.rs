//! Runs with roles (issue 14): an app traced as it runs, then its pytest suite traced as a
//! coverage run (`trace --append --coverage`). The suite's run-time load ships; pytest,
//! pluggy and the rest of the test runner do not; the dist runs the app in the hidden
//! world (tests/support/e2e.rs).
//!
//! Needs root (mount namespaces) and `scripts/setup` (pytest's wheels in
//! `.cache/wheels/pytest`).

mod support;

use support::dist::names;
use support::e2e::{self, AppRun};
use support::{describe, repo_root, shenzi, text};

/// The app: totals stock counts; `checksum` (reached only by the test suite in the
/// traces) loads zlib with ctypes at run time.
const APP: &str = r#"
import sys

def total(counts):
    return sum(counts)

def checksum(data):
    import ctypes
    zlib = ctypes.CDLL("libz.so.1")
    zlib.crc32.restype = ctypes.c_ulong
    return zlib.crc32(0, data, len(data))

if __name__ == "__main__":
    if sys.argv[1:] == ["checksum"]:
        print(checksum(b"inventory"))
    else:
        print("total", total([2, 3, 5]))
"#;

const TESTS: &str = r#"
import app

def test_total():
    assert app.total([1, 2]) == 3

def test_checksum():
    import zlib
    assert app.checksum(b"inventory") == zlib.crc32(b"inventory")
"#;

#[test]
fn a_coverage_run_ships_its_loads_but_not_the_test_runner() {
    let scratch = e2e::scratch();
    let src = e2e::app(scratch.path(), APP);
    e2e::write(&src.join("test_app.py"), TESTS);
    let venv = e2e::pytest_venv(scratch.path());
    let mut run = AppRun::new("coverage", &venv.join("bin/python"), &src, "app.py");
    run.venv = Some(venv.clone());
    // The hidden run takes the path only the suite traced.
    run.args = vec!["checksum".into()];
    // The untraced run and the trace of the app itself: `checksum` here too, so the
    // untraced output is what the hidden run must print; the trace of the app is done
    // again below without it, so that only the suite reaches `checksum`.
    let t = e2e::trace(run, scratch);
    let out = shenzi()
        .args(["trace", "-o"])
        .arg(&t.manifest)
        .arg("--")
        .arg(venv.join("bin/python"))
        .arg("app.py")
        .current_dir(&src)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", describe(&out));
    let out = shenzi()
        .args(["trace", "--append", "--coverage", "-o"])
        .arg(&t.manifest)
        .arg("--")
        .arg(venv.join("bin/python"))
        .args(["-m", "pytest", "-q", "-p", "no:cacheprovider"])
        .current_dir(&src)
        .output()
        .unwrap();
    assert!(out.status.success(), "the suite fails: {}", describe(&out));

    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&t.manifest).unwrap()).unwrap();
    let mut roles: Vec<&str> = manifest["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["role"].as_str().unwrap())
        .collect();
    roles.sort();
    assert_eq!(roles, ["coverage", "ship"]);

    // `plan` says what the suite brought and what it left out.
    let plan = shenzi()
        .args(["plan", "default"])
        .arg(&t.manifest)
        .output()
        .unwrap();
    assert!(plan.status.success(), "{}", describe(&plan));
    let stdout = text(&plan.stdout);
    let stderr = text(&plan.stderr);
    assert!(stdout.contains("runs:\n"), "{stdout}");
    let table = stdout
        .split("packages, by the runs that imported them:\n")
        .nth(1)
        .unwrap_or_else(|| panic!("no packages table in:\n{stdout}"));
    let line = |name: &str| {
        table
            .lines()
            .find(|l| l.trim_start().starts_with(&format!("{name} ")))
            .unwrap_or_else(|| panic!("no line for `{name}` in:\n{table}"))
            .to_owned()
    };
    assert!(line("pytest").contains("coverage  (left out: coverage only)"));
    assert!(line("pluggy").contains("(left out: coverage only)"));
    // The app's own modules ship whichever run imported them (`app` only as the suite's
    // import: the traced app ran it as `__main__`).
    assert!(line("_shenzi_maps.py").contains("coverage, ship"));
    assert!(!line("app.py").contains("left out"), "{}", line("app.py"));
    assert!(
        stderr.contains("not shipped, imported only by coverage runs")
            && stderr.contains("`pytest`")
            && stderr.contains("`pluggy`"),
        "{stderr}"
    );

    // Each package's runs and roles in the plan's JSON, and the runs themselves.
    let plan = shenzi()
        .args(["plan", "default", "--format", "json"])
        .arg(&t.manifest)
        .output()
        .unwrap();
    let doc: serde_json::Value = serde_json::from_slice(&plan.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", describe(&plan)));
    let runs = doc["runs"].as_array().unwrap();
    let coverage = runs
        .iter()
        .find(|r| r["role"] == "coverage")
        .unwrap_or_else(|| panic!("no coverage run in {runs:?}"));
    assert!(coverage["command"].as_str().unwrap().contains("-m pytest"));
    let brought = |name: &str| {
        doc["brought"]
            .as_array()
            .unwrap()
            .iter()
            .find(|b| b["name"] == name)
            .unwrap_or_else(|| panic!("`{name}` not in {}", doc["brought"]))
            .clone()
    };
    let pytest = brought("pytest");
    assert_eq!(pytest["left_out"], "coverage", "{pytest}");
    assert_eq!(pytest["roles"], serde_json::json!(["coverage"]), "{pytest}");
    assert_eq!(
        pytest["runs"],
        serde_json::json!([coverage["id"]]),
        "{pytest}"
    );
    assert!(brought("app.py")["left_out"].is_null());

    // `explain` says the same of pytest: out, brought by the coverage run only.
    let out = shenzi()
        .arg("explain")
        .arg(&t.manifest)
        .args(["pytest", "--format", "json"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", describe(&out));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let package = doc["things"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["kind"] == "package")
        .unwrap_or_else(|| panic!("no package in {doc}"))
        .clone();
    assert_eq!(package["status"], "out", "{package}");
    assert!(
        package["why"]
            .as_str()
            .unwrap()
            .contains("only coverage runs"),
        "{package}"
    );
    assert_eq!(package["runs"][0]["role"], "coverage", "{package}");
    assert!(package["dist"].as_array().unwrap().is_empty());
    // With a project file that includes pytest, `plan` and `explain` ship it, as `build`.
    let project = src.join("includes.toml");
    e2e::write(
        &project,
        "[app]\nscript = \"app.py\"\n\n[modules]\ninclude = [\"pytest\"]\n",
    );
    let out = shenzi()
        .args(["plan", "default", "--format", "json", "--project"])
        .arg(&project)
        .arg(&t.manifest)
        .output()
        .unwrap();
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", describe(&out)));
    let pytest = doc["brought"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["name"] == "pytest")
        .unwrap()
        .clone();
    assert!(pytest["left_out"].is_null(), "{pytest}");
    let out = shenzi()
        .arg("explain")
        .arg(&t.manifest)
        .args(["pytest", "--format", "json", "--project"])
        .arg(&project)
        .output()
        .unwrap();
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let package = doc["things"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["kind"] == "package")
        .unwrap()
        .clone();
    assert_eq!(package["status"], "in", "{package}");

    // The dist runs `checksum` (the suite's run-time load of libz) with the venv, the
    // sources and every library but the glibc preset's hidden.
    e2e::check_layout_with(&t, "default", &|dist, _| {
        let names = names(dist);
        let test_runner: Vec<&String> = names
            .iter()
            .filter(|n| {
                ["pytest", "_pytest", "pluggy", "iniconfig", "pygments"]
                    .iter()
                    .any(|p| n.as_str() == *p || n.starts_with(&format!("{p}-")))
            })
            .collect();
        if !test_runner.is_empty() {
            return Err(format!("the dist holds the test runner: {test_runner:?}"));
        }
        if !names.iter().any(|n| n.starts_with("libz.so")) {
            return Err("the dist has no libz, the suite's run-time load".into());
        }
        Ok(())
    })
    .unwrap();
}

#[test]
fn a_coverage_run_needs_the_apps_manifest_first() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("ran.py"), "open('ran', 'w').close()\n").unwrap();
    let out = shenzi()
        .args(["trace", "--append", "--coverage", "-o", "m.json", "--"])
        .arg(support::python311())
        .arg("ran.py")
        .current_dir(dir.path())
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    assert!(!dir.path().join("ran").exists(), "the suite ran");
    assert!(!dir.path().join("m.json").exists());
    insta::assert_snapshot!("coverage_first", text(&out.stderr));

    // `--coverage` alone is a usage error: a coverage run is always appended.
    let out = shenzi()
        .args(["trace", "--coverage", "--", "python3", "ran.py"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
}

#[test]
fn runs_of_manifests_written_before_roles_ship() {
    let path = repo_root().join("tests/fixtures/layout/manifest.json");
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(!text.contains("\"role\""), "the fixture predates roles");
    let manifest = shenzi::manifest::parse_manifest("manifest.json", text).unwrap();
    assert!(!manifest.runs.is_empty());
    for run in &manifest.runs {
        assert_eq!(run.role, shenzi::manifest::RunRole::Ship, "{}", run.id);
    }
    // Nothing of it is left out: every run ships.
    let shipping = shenzi::manifest::roles::shipping(
        &manifest,
        &shenzi::manifest::roles::Selection::default(),
    );
    assert!(shipping.left_out.is_empty());
    assert_eq!(shipping.manifest, manifest);
}
