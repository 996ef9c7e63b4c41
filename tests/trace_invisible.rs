//! The tracer must not change the app: traced and untraced runs give the same stdout,
//! stderr and exit status, and a trace leaves nothing behind but the manifest.

mod support;

use std::io::{BufRead, BufReader, Write};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use support::{python311, repo_root, trace_command};

/// One app run: script and arguments, stdin, and extra `PYTHONPATH`.
struct Case {
    name: &'static str,
    script: &'static str,
    args: &'static [&'static str],
    stdin: &'static str,
    pythonpath: Option<&'static str>,
    expected_status: i32,
}

const CASES: &[Case] = &[
    Case {
        name: "prints",
        script: "prints.py",
        args: &["a", "b c"],
        stdin: "",
        pythonpath: None,
        expected_status: 0,
    },
    Case {
        name: "raises",
        script: "raises.py",
        args: &[],
        stdin: "",
        pythonpath: None,
        expected_status: 1,
    },
    Case {
        name: "exit 3",
        script: "exit3.py",
        args: &[],
        stdin: "",
        pythonpath: None,
        expected_status: 3,
    },
    Case {
        name: "reads stdin",
        script: "stdin.py",
        args: &[],
        stdin: "some input\nmore\n",
        pythonpath: None,
        expected_status: 0,
    },
    Case {
        name: "own sitecustomize",
        script: "site_app.py",
        args: &[],
        stdin: "",
        pythonpath: Some("custom_site"),
        expected_status: 0,
    },
    Case {
        name: "broken sitecustomize",
        script: "prints.py",
        args: &[],
        stdin: "",
        pythonpath: Some("broken_site"),
        expected_status: 0,
    },
];

fn apps() -> PathBuf {
    repo_root().join("tests/fixtures/apps")
}

fn run(mut cmd: Command, case: &Case) -> Output {
    cmd.current_dir(apps())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    match case.pythonpath {
        Some(dir) => cmd.env("PYTHONPATH", apps().join(dir)),
        None => cmd.env_remove("PYTHONPATH"),
    };
    let mut child = cmd.spawn().expect("spawn");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(case.stdin.as_bytes())
        .unwrap();
    child.wait_with_output().expect("wait")
}

fn files_below(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = walkdir::WalkDir::new(dir)
        .into_iter()
        .filter_map(Result::ok)
        .map(|e| e.path().to_owned())
        .collect();
    files.sort();
    files
}

#[test]
fn traced_runs_are_identical_to_untraced_runs() {
    let python = python311();
    for case in CASES {
        let mut plain = Command::new(&python);
        plain.arg(case.script).args(case.args);
        let untraced = run(plain, case);

        let scratch = tempfile::tempdir().unwrap();
        let tmp = scratch.path().join("tmp");
        std::fs::create_dir(&tmp).unwrap();
        let manifest = scratch.path().join("m.json");
        let before = files_below(&apps());
        let mut traced_cmd = trace_command(&manifest, [python.as_os_str(), case.script.as_ref()]);
        traced_cmd.args(case.args).env("TMPDIR", &tmp);
        let traced = run(traced_cmd, case);

        assert_eq!(
            String::from_utf8_lossy(&traced.stdout),
            String::from_utf8_lossy(&untraced.stdout),
            "{}: stdout",
            case.name
        );
        // shenzi adds one summary line of its own at the end of stderr.
        let traced_err = String::from_utf8_lossy(&traced.stderr);
        let (app_err, summary) = traced_err
            .trim_end_matches('\n')
            .rsplit_once('\n')
            .unwrap_or(("", traced_err.trim_end_matches('\n')));
        let app_err = if app_err.is_empty() {
            String::new()
        } else {
            format!("{app_err}\n")
        };
        assert!(
            summary.starts_with("shenzi: wrote"),
            "{}: {traced_err}",
            case.name
        );
        assert_eq!(
            app_err,
            String::from_utf8_lossy(&untraced.stderr),
            "{}: stderr",
            case.name
        );
        assert_eq!(
            untraced.status.code(),
            Some(case.expected_status),
            "{}",
            case.name
        );
        assert_eq!(
            traced.status.code(),
            untraced.status.code(),
            "{}: status",
            case.name
        );

        assert!(manifest.is_file(), "{}: manifest written", case.name);
        assert_eq!(
            files_below(&tmp),
            vec![tmp.clone()],
            "{}: scratch left behind",
            case.name
        );
        assert_eq!(
            files_below(&apps()),
            before,
            "{}: files left beside the app",
            case.name
        );
        assert_eq!(
            files_below(scratch.path()).len(),
            3,
            "{}: only the manifest is written beside it",
            case.name
        );
    }
}

#[test]
fn the_app_s_own_sitecustomize_runs_once_and_is_the_module_it_imports() {
    let case = &CASES[4];
    let dir = tempfile::tempdir().unwrap();
    let out = run(
        trace_command(
            &dir.path().join("m.json"),
            [python311().as_os_str(), case.script.as_ref()],
        ),
        case,
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("app sitecustomize ran: yes"), "{stdout}");
    assert!(stdout.contains("module: sitecustomize True"), "{stdout}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        stderr.matches("custom sitecustomize speaking").count(),
        1,
        "{stderr}"
    );
}

/// Ctrl-C reaches the whole foreground process group: the app dies of SIGINT as it would
/// untraced, shenzi stays, writes the manifest and reports 128 + 2.
#[test]
fn interrupted_app_still_gets_its_manifest() {
    let python = python311();
    let scratch = tempfile::tempdir().unwrap();
    let manifest = scratch.path().join("m.json");

    let interrupt = |mut cmd: Command| -> (Output, i32) {
        cmd.current_dir(apps())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0);
        let mut child = cmd.spawn().unwrap();
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        stdout.read_line(&mut line).unwrap();
        assert_eq!(line, "ready\n");
        let group = i32::try_from(child.id()).unwrap();
        // SAFETY: sends a signal to the process group this test created.
        assert_eq!(unsafe { libc::kill(-group, libc::SIGINT) }, 0);
        let out = child.wait_with_output().unwrap();
        let status = out
            .status
            .code()
            .unwrap_or_else(|| 128 + out.status.signal().unwrap());
        (out, status)
    };
    let mut plain = Command::new(&python);
    plain.arg("sigint.py");
    let (untraced, untraced_status) = interrupt(plain);
    let (traced, traced_status) =
        interrupt(trace_command(&manifest, [&*python, "sigint.py".as_ref()]));

    assert_eq!(untraced_status, 130);
    assert_eq!(traced_status, 130);
    assert_eq!(traced.status.code(), Some(130), "shenzi exits 128 + SIGINT");
    // Both die in a KeyboardInterrupt traceback (its line depends on where the signal
    // landed, so only the shape is compared); shenzi's summary line follows.
    let untraced_err = String::from_utf8_lossy(&untraced.stderr);
    let traced_err = String::from_utf8_lossy(&traced.stderr);
    assert!(untraced_err.starts_with("Traceback") && untraced_err.ends_with("KeyboardInterrupt\n"));
    let (app_err, summary) = traced_err.trim_end().rsplit_once('\n').unwrap();
    assert!(
        app_err.starts_with("Traceback") && app_err.ends_with("KeyboardInterrupt"),
        "{traced_err}"
    );
    assert!(summary.starts_with("shenzi: wrote"), "{traced_err}");
    let m: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&manifest).unwrap()).unwrap();
    assert_eq!(m["runs"][0]["exit_status"], 130);
    assert!(
        m["modules"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["name"] == "time")
    );
}
