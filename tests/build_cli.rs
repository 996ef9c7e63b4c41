//! `shenzi build` as a new user types it (issue 14): the app without `--`, `-m MODULE`,
//! a console script of the venv by name, the launcher's name, accepted exit codes, and
//! the output folder checked before anything is traced. Through the real binary; the
//! dists run in the hidden world (tests/support/e2e.rs).
//!
//! Needs root (mount namespaces).

mod support;

use std::path::Path;

use support::e2e;
use support::{build_in, describe, output_ok, python311, text};

/// A venv of pyenv's 3.11 without pip, with a package `greet` in its site dir and the
/// console script `bin/greet` for `greet.cli:main`, written as pip writes one.
fn greet_venv(scratch: &Path) -> std::path::PathBuf {
    let venv = scratch.join("venv");
    output_ok(
        std::process::Command::new(python311())
            .args(["-m", "venv", "--without-pip"])
            .arg(&venv),
    );
    let site = venv.join("lib/python3.11/site-packages");
    e2e::write(&site.join("greet/__init__.py"), "");
    e2e::write(
        &site.join("greet/cli.py"),
        "import sys, json\n\ndef main():\n    print(json.dumps({'greet': sys.argv[1:]}))\n    return 0\n\nif __name__ == '__main__':\n    sys.exit(main())\n",
    );
    let script = venv.join("bin/greet");
    e2e::write(
        &script,
        &format!(
            "#!{}\nimport sys\nfrom greet.cli import main\nif __name__ == '__main__':\n    sys.exit(main())\n",
            venv.join("bin/python").display()
        ),
    );
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    venv
}

#[test]
fn a_console_script_by_name_and_a_module_without_double_dash() {
    let scratch = e2e::scratch();
    let venv = greet_venv(scratch.path());
    let py = venv.join("bin/python");
    let py = py.to_str().unwrap();
    let work = scratch.path().join("work");
    std::fs::create_dir(&work).unwrap();
    let hidden = |dist: &str, launcher: &str| {
        e2e::run_dist_hidden(
            &work.join(format!("{dist}.json")),
            Some(&venv),
            &[],
            &work.join(dist).join("bin").join(launcher),
            &["hello"],
            &scratch.path().join("cwd"),
        )
    };
    let expected = "{\"greet\": [\"hello\"]}\n";

    // `greet` is no file here: the venv's console script, named after it.
    let out = build_in(
        &work,
        &[
            "--python",
            py,
            "-o",
            "a",
            "--manifest",
            "a.json",
            "greet",
            "hello",
        ],
    );
    assert!(out.status.success(), "{}", describe(&out));
    let m: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(work.join("a.json")).unwrap()).unwrap();
    assert_eq!(m["entry"]["kind"], "console_script");
    let run = hidden("a", "greet");
    assert!(run.status.success(), "{}", describe(&run));
    assert_eq!(text(&run.stdout), expected);

    // `-m greet.cli` is the app `greet` (its top-level package), `--name` names it.
    let out = build_in(
        &work,
        &[
            "--python",
            py,
            "-o",
            "b",
            "--manifest",
            "b.json",
            "-m",
            "greet.cli",
            "hello",
        ],
    );
    assert!(out.status.success(), "{}", describe(&out));
    let run = hidden("b", "greet");
    assert!(run.status.success(), "{}", describe(&run));
    assert_eq!(text(&run.stdout), expected);
    let out = build_in(
        &work,
        &[
            "--python",
            py,
            "-o",
            "c",
            "--manifest",
            "c.json",
            "--name",
            "hi",
            "-m",
            "greet.cli",
            "hello",
        ],
    );
    assert!(out.status.success(), "{}", describe(&out));
    assert!(!work.join("c/bin/greet").exists());
    let run = hidden("c", "hi");
    assert!(run.status.success(), "{}", describe(&run));
    assert_eq!(text(&run.stdout), expected);
}

#[test]
fn an_accepted_exit_status_builds() {
    let dir = tempfile::tempdir().unwrap();
    e2e::write(
        &dir.path().join("usage.py"),
        "import sys\nprint('usage: usage.py FILE')\nsys.exit(2)\n",
    );
    let py = python311();
    let py = py.to_str().unwrap();
    let refused = build_in(dir.path(), &["--python", py, "usage.py"]);
    assert_eq!(refused.status.code(), Some(1), "{}", describe(&refused));
    assert!(!dir.path().join("dist").exists());
    let out = build_in(
        dir.path(),
        &[
            "--python",
            py,
            "--exit-code",
            "2",
            "--manifest",
            "m.json",
            "usage.py",
        ],
    );
    assert!(out.status.success(), "{}", describe(&out));
    let run = e2e::run_dist_hidden(
        &dir.path().join("m.json"),
        None,
        &[],
        &dir.path().join("dist/bin/usage"),
        &[],
        &dir.path().join("cwd"),
    );
    assert_eq!(run.status.code(), Some(2));
    assert_eq!(text(&run.stdout), "usage: usage.py FILE\n");

    // `--format json`: stdout is the document alone; what the app printed is on stderr.
    let out = build_in(
        dir.path(),
        &[
            "--python",
            py,
            "--exit-code",
            "2",
            "--format",
            "json",
            "-o",
            "dist-json",
            "usage.py",
        ],
    );
    assert!(out.status.success(), "{}", describe(&out));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("stdout is not one JSON document ({e}): {}", describe(&out)));
    assert_eq!(doc["output"], "dist-json", "{doc}");
    assert!(doc["files"].as_u64().unwrap() > 0, "{doc}");
    assert!(
        text(&out.stderr).contains("usage: usage.py FILE\n"),
        "{}",
        describe(&out)
    );
}

#[test]
fn the_output_folder_is_checked_before_the_app_runs() {
    let dir = tempfile::tempdir().unwrap();
    let app = dir.path().join("app");
    e2e::write(&app.join("app.py"), "open('ran', 'w').close()\n");
    let py = python311();
    let py = py.to_str().unwrap();
    for (name, output) in [
        ("root", "/"),
        ("sources", "."),
        ("above_sources", ".."),
        ("no_parent", "missing/dist"),
    ] {
        let out = build_in(&app, &["--python", py, "-o", output, "app.py"]);
        assert_eq!(out.status.code(), Some(1), "{name}: {}", describe(&out));
        assert!(!app.join("ran").exists(), "{name}: the app ran");
        let stderr = text(&out.stderr).replace(&app.display().to_string(), "APP");
        insta::assert_snapshot!(format!("output_{name}"), stderr);
    }
    // Inside the interpreter's folder (a venv: the dist is made from it).
    let venv = dir.path().join("venv");
    output_ok(
        std::process::Command::new(python311())
            .args(["-m", "venv", "--without-pip"])
            .arg(&venv),
    );
    let inside = venv.join("dist");
    let out = build_in(
        &app,
        &[
            "--python",
            venv.join("bin/python").to_str().unwrap(),
            "-o",
            inside.to_str().unwrap(),
            "app.py",
        ],
    );
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    assert!(!app.join("ran").exists());
    assert!(
        text(&out.stderr).contains("shenzi::build::output_in_interpreter"),
        "{}",
        describe(&out)
    );
}
