//! The manifest as input, through the real binary: it must be a regular file of at most
//! 64 MiB (a FIFO, a device, a folder, a link loop or a huge file is a clear error, with
//! no blocking and no read past the limit), and the values the tracer never writes
//! (a Python 3.4294967295, another machine, relative or empty paths, an entry listed
//! twice, a run that does not exist) are diagnostics that point into the file.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::shenzi;

/// Runs `cmd`, killing it if it has not ended after a minute: a read that blocks must
/// fail the test, not hang it. (A guard, not a timing: a healthy run takes milliseconds.)
fn run_guarded(cmd: &mut Command) -> Output {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .env("NO_COLOR", "1")
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            child.kill().unwrap();
            let out = child.wait_with_output().unwrap();
            panic!("shenzi blocked: {}", support::describe(&out));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

/// `shenzi check default MANIFEST` in `dir`: exit 1, and its message.
fn check_fails(dir: &Path, manifest: &str) -> String {
    let out = run_guarded(
        shenzi()
            .args(["check", "default", manifest])
            .current_dir(dir),
    );
    assert_eq!(out.status.code(), Some(1), "{}", support::describe(&out));
    support::text(&out.stderr)
}

fn mkfifo(path: &Path) {
    let c = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).unwrap();
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
}

#[test]
fn a_manifest_that_is_not_a_regular_file_is_refused_without_reading_it() {
    let dir = tempfile::tempdir().unwrap();
    mkfifo(&dir.path().join("fifo.json"));
    std::fs::create_dir(dir.path().join("folder.json")).unwrap();
    std::os::unix::fs::symlink("loop-b.json", dir.path().join("loop-a.json")).unwrap();
    std::os::unix::fs::symlink("loop-a.json", dir.path().join("loop-b.json")).unwrap();
    // Sparse: a byte past the limit costs no disk, and shenzi must not read it.
    let huge = std::fs::File::create(dir.path().join("huge.json")).unwrap();
    huge.set_len(shenzi::manifest::MAX_MANIFEST_BYTES + 1)
        .unwrap();
    let mut latin1 = b"{\n  \"version\": 1,\n  \"platform\": {\"os\": \"linux\"".to_vec();
    latin1.extend(b" /* caf\xe9 */ }\n}\n");
    std::fs::write(dir.path().join("latin1.json"), latin1).unwrap();

    for (case, path) in [
        ("fifo", "fifo.json"),
        ("zero", "/dev/zero"),
        ("null", "/dev/null"),
        ("folder", "folder.json"),
        ("loop", "loop-a.json"),
        ("huge", "huge.json"),
        ("latin1", "latin1.json"),
    ] {
        let text = check_fails(dir.path(), path);
        insta::assert_snapshot!(format!("input_{case}"), text);
    }
}

/// The committed fixture manifest (x86_64, pyenv 3.11), as JSON to mutate.
fn fixture() -> Value {
    let path = support::repo_root().join("tests/fixtures/layout/manifest.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// Writes `m` as shenzi writes manifests (pretty, newline-terminated) into `dir/name`.
fn write(dir: &Path, name: &str, m: &Value) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, serde_json::to_string_pretty(m).unwrap() + "\n").unwrap();
    path
}

#[test]
fn the_unmodified_fixture_passes_the_manifest_checks() {
    if std::env::consts::ARCH != "x86_64" {
        return; // the fixture was traced on x86_64: elsewhere it is another machine's
    }
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "m.json", &fixture());
    let out = run_guarded(
        shenzi()
            .args(["check", "default", "m.json"])
            .current_dir(dir.path()),
    );
    // Nothing of the manifest's values or the layout is wrong; `check` runs the planner
    // too, and the fixture's run was `python -c`, which the default launcher (`entry
    // traced`) cannot replay: the plan's one error.
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !stderr.contains("shenzi::manifest::") && !stderr.contains("Error: shenzi::layout::"),
        "{}",
        support::describe(&out)
    );
    assert!(
        stderr.contains("1 error(s)") && stderr.contains("Error: shenzi::plan::launcher"),
        "{}",
        support::describe(&out)
    );
    assert_eq!(out.status.code(), Some(1), "{}", support::describe(&out));
}

/// One impossible value each, and one manifest with many: each is a diagnostic with its
/// own code, pointing at the value.
#[test]
fn impossible_values_are_diagnostics_that_point_into_the_manifest() {
    if std::env::consts::ARCH != "x86_64" {
        return; // the fixture was traced on x86_64
    }
    type Mutation = fn(&mut Value);
    let cases: &[(&str, Mutation)] = &[
        ("minor", |m| {
            m["python"]["version"]["minor"] = json!(4_294_967_295u32)
        }),
        ("major", |m| m["python"]["version"]["major"] = json!(2)),
        ("releaselevel", |m| {
            m["python"]["version"]["releaselevel"] = json!("nightly")
        }),
        ("minor_vs_cache_tag", |m| {
            m["python"]["version"]["minor"] = json!(12)
        }),
        ("machine", |m| m["platform"]["machine"] = json!("aarch64")),
        ("os", |m| m["platform"]["os"] = json!("darwin")),
        ("empty_realpath", |m| m["python"]["realpath"] = json!("")),
        ("relative_module", |m| {
            let modules = m["modules"].as_array_mut().unwrap();
            let with_file = modules.iter_mut().find(|x| x["file"].is_string()).unwrap();
            with_file["file"] = json!("lib/python3.11/os.py");
        }),
        ("nul_in_path", |m| {
            m["python"]["stdlib"] = json!("/usr/lib\u{0}/python3.11")
        }),
        ("duplicate_object", |m| {
            let objects = m["native"]["objects"].as_array_mut().unwrap();
            let first = objects[0].clone();
            objects.push(first);
        }),
        ("unknown_run", |m| {
            m["modules"][0]["runs"] = json!(["000000000000"]);
        }),
        ("libpython", |m| {
            m["python"]["libpython"]["path"] = Value::Null;
            m["python"]["libpython"]["shared"] = json!(true);
        }),
        ("many", |m| {
            m["python"]["version"]["minor"] = json!(4_294_967_295u32);
            m["platform"]["machine"] = json!("aarch64");
            m["python"]["realpath"] = json!("python3");
        }),
    ];
    let dir = tempfile::tempdir().unwrap();
    for (case, mutate) in cases {
        let mut m = fixture();
        mutate(&mut m);
        write(dir.path(), "m.json", &m);
        let text = check_fails(dir.path(), "m.json");
        insta::assert_snapshot!(format!("value_{case}"), text);
    }

    // `apply` reads it the same way: nothing is written.
    let mut m = fixture();
    m["platform"]["machine"] = json!("aarch64");
    let manifest = write(dir.path(), "arm.json", &m);
    let dist = dir.path().join("dist");
    let out = support::apply("default", &manifest, &dist, &[]);
    assert_eq!(out.status.code(), Some(1), "{}", support::describe(&out));
    assert!(
        support::text(&out.stderr).contains("shenzi::manifest::other_machine"),
        "{}",
        support::describe(&out)
    );
    assert!(!dist.exists());
}

/// More impossible values than are shown: the first twenty, and the count.
#[test]
fn many_impossible_values_are_capped() {
    if std::env::consts::ARCH != "x86_64" {
        return;
    }
    let mut m = fixture();
    let modules = m["modules"].as_array_mut().unwrap();
    let first = modules[0].clone();
    modules.extend(std::iter::repeat_n(first, 30));
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "m.json", &m);
    let text = check_fails(dir.path(), "m.json");
    assert!(
        text.contains("holds 30 impossible value(s); the first 20 are shown"),
        "{text}"
    );
    assert_eq!(
        text.matches("shenzi::manifest::duplicate").count(),
        20,
        "{text}"
    );
}

/// The default layout (whose `app` unit takes data files and `programs` unit the
/// programs), taking scripts too.
const EVERYTHING: &str = r#"
unit scripts {
  take app.scripts
  to "app/{file}"
}
"#;

const APP: &str = r#"
import ctypes, os, subprocess, sys
here = os.path.dirname(os.path.abspath(__file__))
print(open(os.path.join(here, "data.txt")).read().strip())
ctypes.CDLL(os.path.join(here, "libplain.so"))
subprocess.run(["mytool"], check=True)
subprocess.run([sys.executable, os.path.join(here, "child.py")], check=True)
"#;

/// Files a manifest names (a data file, a script, a program, a native object) replaced
/// after the trace by a FIFO, a folder, `/dev/null` and a link loop: `apply` says of each
/// what it is and which entry names it, never blocks on the FIFO nor reads the device,
/// and writes nothing.
#[test]
fn manifest_entries_that_are_not_files_say_what_they_are() {
    let scratch = tempfile::tempdir().unwrap();
    let root = std::fs::canonicalize(scratch.path()).unwrap();
    let app = root.join("app");
    std::fs::create_dir_all(app.join("bin")).unwrap();
    std::fs::write(app.join("app.py"), APP).unwrap();
    std::fs::write(app.join("data.txt"), "data\n").unwrap();
    std::fs::write(app.join("child.py"), "print('child')\n").unwrap();
    std::fs::write(app.join("bin/mytool"), "#!/bin/sh\necho tool\n").unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(
        app.join("bin/mytool"),
        std::fs::Permissions::from_mode(0o755),
    )
    .unwrap();
    std::fs::write(root.join("plain.c"), "int plain(void) { return 7; }\n").unwrap();
    let built = Command::new("gcc")
        .args(["-shared", "-fPIC", "-o"])
        .arg(app.join("libplain.so"))
        .arg(root.join("plain.c"))
        .output()
        .unwrap();
    assert!(built.status.success(), "{}", support::describe(&built));

    let manifest = root.join("shenzi.json");
    let path = format!("{}:/usr/bin:/bin", app.join("bin").display());
    support::output_ok(
        support::trace_command(
            &manifest,
            [support::python311().as_os_str(), "app.py".as_ref()],
        )
        .current_dir(&app)
        .env("PATH", &path),
    );
    let layout = root.join("everything.shz");
    let default =
        std::fs::read_to_string(support::repo_root().join("layouts/default.shz")).unwrap();
    std::fs::write(&layout, default + EVERYTHING).unwrap();
    // Intact, it applies.
    let dist = root.join("dist");
    let out = support::apply(layout.to_str().unwrap(), &manifest, &dist, &[]);
    assert!(out.status.success(), "{}", support::describe(&out));
    std::fs::remove_dir_all(&dist).unwrap();

    std::fs::remove_file(app.join("data.txt")).unwrap();
    mkfifo(&app.join("data.txt"));
    std::fs::remove_file(app.join("child.py")).unwrap();
    std::fs::create_dir(app.join("child.py")).unwrap();
    std::fs::remove_file(app.join("bin/mytool")).unwrap();
    std::os::unix::fs::symlink("/dev/null", app.join("bin/mytool")).unwrap();
    std::fs::remove_file(app.join("libplain.so")).unwrap();
    std::os::unix::fs::symlink("libplain-again.so", app.join("libplain.so")).unwrap();
    std::os::unix::fs::symlink("libplain.so", app.join("libplain-again.so")).unwrap();

    let out = run_guarded(
        shenzi()
            .arg("apply")
            .arg(&layout)
            .arg(&manifest)
            .arg("-o")
            .arg(&dist),
    );
    assert_eq!(out.status.code(), Some(1), "{}", support::describe(&out));
    assert!(!dist.exists());
    // One line per message, however the terminal width wrapped it.
    let words = |t: &str| -> String {
        t.split_whitespace()
            .filter(|w| *w != "|")
            .collect::<Vec<_>>()
            .join(" ")
    };
    let text = words(&support::text(&out.stderr).replace(&root.display().to_string(), "[tmp]"));
    for expected in [
        "`[tmp]/app/data.txt` (a data file, in `data_files`) is a named pipe (FIFO), not a file",
        "`[tmp]/app/child.py` (a script, in `scripts`) is a folder, not a file",
        "`[tmp]/app/bin/mytool` (the program `mytool`, in `executables`) is a character device, not a file",
        "`[tmp]/app/libplain.so` (the run-time load `[tmp]/app/libplain.so`, in `native.loads`) is a symbolic link that loops back on itself",
    ] {
        assert_eq!(
            text.matches(&words(expected)).count(),
            1,
            "{expected}\n{text}"
        );
    }
    assert!(!text.contains("no longer exists"), "{text}");
    assert!(
        !text.contains("shenzi::plan::unclaimed"),
        "said once: {text}"
    );
}
