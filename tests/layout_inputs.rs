//! Hostile layout input through the real binary (issue 12): globs the regex engine
//! cannot compile, files that are not regular or are too large, text that is not UTF-8
//! or holds control characters, output that must stay bounded, and paths that `check`
//! must refuse because apply would fail on them. Each case is a diagnostic (snapshot),
//! exit 1, never a panic (101), never a hang.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use support::{describe, output_ok, python311, shenzi, text, trace_command};

/// A frozen copy of the built-in `minimal` layout as it was when these cases were
/// written: the snapshots point at its lines, so they must not move whenever the
/// shipped layout gains a line.
fn minimal() -> String {
    std::fs::read_to_string(support::repo_root().join("tests/fixtures/layout_inputs/base.shz"))
        .unwrap()
}

fn fixture_manifest() -> PathBuf {
    support::repo_root().join("tests/fixtures/layout/manifest.json")
}

/// `shenzi ARGS` in `dir`, with the layout's name as given (relative: snapshots are
/// the same wherever the test runs), under a 2 GiB address-space limit so that a
/// regression that reads without bound fails instead of eating the machine.
fn run_in(dir: &Path, args: &[&str]) -> Output {
    let mut cmd = shenzi();
    cmd.args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .stdin(Stdio::null());
    limit_memory(&mut cmd);
    bounded(cmd)
}

fn limit_memory(cmd: &mut Command) {
    use std::os::unix::process::CommandExt;
    // SAFETY: setrlimit is async-signal-safe; nothing else runs between fork and exec.
    unsafe {
        cmd.pre_exec(|| {
            let limit = libc::rlimit {
                rlim_cur: 2 << 30,
                rlim_max: 2 << 30,
            };
            if libc::setrlimit(libc::RLIMIT_AS, &limit) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

/// Runs `cmd`; a command still running after a minute is killed and fails the test
/// (a layout read must never block). Its output is read as it comes, so a full pipe
/// never stalls it.
fn bounded(mut cmd: Command) -> Output {
    use std::io::Read;
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let drain = |mut pipe: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            let _ = pipe.read_to_end(&mut bytes);
            bytes
        })
    };
    let stdout = drain(Box::new(child.stdout.take().unwrap()));
    let stderr = drain(Box::new(child.stderr.take().unwrap()));
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "still running after a minute; stderr:\n{}",
                text(&stderr.join().unwrap())
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Output {
        status,
        stdout: stdout.join().unwrap(),
        stderr: stderr.join().unwrap(),
    }
}

fn unit_with(statement: &str) -> String {
    format!(
        "{}\nunit extra {{\n  take python.stdlib\n  {statement}\n  to \"extra/{{path}}\"\n}}\n",
        minimal()
    )
}

fn nested_glob(depth: usize) -> String {
    format!("{}b{}", "{a,".repeat(depth), "}".repeat(depth))
}

/// Item 1: every statement that takes globs, with a glob nested 125 deep and a 400 KB
/// one. `check`, `plan` and `apply` each report the glob and write nothing.
#[test]
fn globs_past_the_limits_are_diagnostics_everywhere() {
    let deep = nested_glob(125);
    let long = "a".repeat(400_000);
    let with_system = |statement: &str| {
        minimal().replacen(
            "  cxx-runtime bundle",
            &format!("  {statement}\n  cxx-runtime bundle"),
            1,
        )
    };
    let cases: Vec<(&str, String)> = vec![
        ("exclude_deep", unit_with(&format!("exclude \"{deep}\""))),
        ("only_long", unit_with(&format!("only \"{long}\""))),
        ("ignore_deep", format!("{}\nignore \"{deep}\"\n", minimal())),
        ("add_deep", with_system(&format!("add \"{deep}\""))),
        ("remove_long", with_system(&format!("remove \"{long}\""))),
    ];
    let dir = tempfile::tempdir().unwrap();
    let manifest = fixture_manifest();
    let manifest = manifest.to_str().unwrap();
    for (name, layout) in cases {
        let file = format!("{name}.shz");
        std::fs::write(dir.path().join(&file), &layout).unwrap();
        let check = run_in(dir.path(), &["check", &file]);
        assert_eq!(check.status.code(), Some(1), "{name}: {}", describe(&check));
        insta::assert_snapshot!(format!("glob__{name}"), text(&check.stderr));
        for args in [
            vec!["plan", &file, manifest],
            vec!["apply", &file, manifest, "-o", "dist"],
        ] {
            let out = run_in(dir.path(), &args);
            assert_eq!(
                out.status.code(),
                Some(1),
                "{name} {args:?}: {}",
                describe(&out)
            );
            assert!(
                text(&out.stderr).contains("shenzi::layout::glob_too_complex"),
                "{name} {args:?}: {}",
                describe(&out)
            );
            assert!(
                !dir.path().join("dist").exists(),
                "{name}: nothing is written"
            );
        }
    }
    // Within the limits, deep and long globs still work.
    let layout = unit_with(&format!(
        "exclude \"{}\", \"{}\"",
        nested_glob(16),
        "a".repeat(4096)
    ));
    std::fs::write(dir.path().join("fine.shz"), layout).unwrap();
    let out = run_in(dir.path(), &["check", "fine.shz"]);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
}

/// Item 7 (layout part): a FIFO, a device, a folder and an oversized file are refused
/// by type and size, without blocking and without reading past the limit.
#[test]
fn a_layout_must_be_a_regular_file_below_the_limit() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("fifo.shz");
    let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    // SAFETY: a valid C string; mkfifo only creates the node.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0);
    std::fs::create_dir(dir.path().join("folder.shz")).unwrap();
    // One byte over the limit, and far over it: both refused by size.
    let mut over = minimal().into_bytes();
    over.resize(1024 * 1024 + 1, b'\n');
    std::fs::write(dir.path().join("over.shz"), &over).unwrap();
    let mut at_limit = minimal().into_bytes();
    at_limit.resize(1024 * 1024, b'\n');
    std::fs::write(dir.path().join("at_limit.shz"), &at_limit).unwrap();

    for (name, spec) in [
        ("fifo", "fifo.shz"),
        ("dev_zero", "/dev/zero"),
        ("folder", "folder.shz"),
        ("over", "over.shz"),
    ] {
        for command in ["check", "fmt"] {
            let out = run_in(dir.path(), &[command, spec]);
            assert_eq!(out.status.code(), Some(1), "{name}: {}", describe(&out));
            let stderr = text(&out.stderr);
            assert!(
                stderr.contains("shenzi::layout::unreadable"),
                "{name}: {stderr}"
            );
            if command == "check" {
                insta::assert_snapshot!(format!("unreadable__{name}"), stderr);
            }
        }
    }
    let out = run_in(dir.path(), &["check", "at_limit.shz"]);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
}

/// Item 8: text that is not UTF-8, a byte order mark, control characters and escape
/// sequences, and a line of 200 KB of `}`.
#[test]
fn text_problems_are_located_escaped_and_bounded() {
    let dir = tempfile::tempdir().unwrap();
    let base = minimal().into_bytes();
    let replace = |from: &[u8], to: &[u8]| -> Vec<u8> {
        let at = base
            .windows(from.len())
            .position(|w| w == from)
            .expect("text to replace");
        [&base[..at], to, &base[at + from.len()..]].concat()
    };
    let cases: Vec<(&str, Vec<u8>, i32)> = vec![
        // Not UTF-8 in a comment and in a string: each stretch located.
        (
            "invalid_utf8",
            replace(b"# Choose it", b"# Cho\xffose \xe2\x82 it"),
            1,
        ),
        (
            "invalid_utf8_in_string",
            replace(b"\"app/{file}\"", b"\"app/\xc3{file}\""),
            1,
        ),
        // A BOM is accepted; a mistake on the first line is placed as without it.
        ("bom_fine", [b"\xef\xbb\xbf".as_slice(), &base].concat(), 0),
        (
            "bom_mistake",
            [b"\xef\xbb\xbfunit x {\n".as_slice(), &base].concat(),
            1,
        ),
        // Escape sequences in a comment, outside strings and inside one.
        (
            "escapes",
            replace(
                b"layout minimal",
                b"layout minimal\n# \x1b[31mred\x1b[0m\x07 \xe2\x80\xae comment\nunit \x1b[2J { }",
            ),
            1,
        ),
        (
            "escape_in_string",
            replace(b"\"app/{file}\"", b"\"app/\x1b]0;title\x07{file}\""),
            1,
        ),
    ];
    for (name, bytes, code) in cases {
        let file = format!("{name}.shz");
        std::fs::write(dir.path().join(&file), &bytes).unwrap();
        let out = run_in(dir.path(), &["check", &file]);
        assert_eq!(out.status.code(), Some(code), "{name}: {}", describe(&out));
        for raw in [0x1b, 0x07, 0x00] {
            assert!(
                !out.stderr.contains(&raw),
                "{name}: raw byte {raw:#x} printed"
            );
        }
        assert!(
            !text(&out.stderr).contains('\u{202e}') && !text(&out.stderr).contains('\u{feff}'),
            "{name}: invisible characters printed raw"
        );
        insta::assert_snapshot!(format!("text__{name}"), text(&out.stderr));
    }

    // `fmt` refuses text that is not UTF-8 too, and writes nothing.
    let out = run_in(dir.path(), &["fmt", "invalid_utf8.shz"]);
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    assert!(text(&out.stderr).contains("shenzi::layout::invalid_utf8"));

    // 200 KB of `}` on one line: 100 diagnostics and a note, each showing a window of
    // the line. Before, each printed the whole line: 20 MB.
    std::fs::write(dir.path().join("braces.shz"), "}".repeat(200_000)).unwrap();
    let out = run_in(dir.path(), &["check", "braces.shz"]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert_eq!(
        stderr.matches("shenzi::layout::unmatched_close").count(),
        100
    );
    assert!(stderr.contains("shenzi::layout::too_many_diagnostics"));
    assert!(
        out.stderr.len() < 64 * 1024,
        "{} bytes of diagnostics",
        out.stderr.len()
    );
    // A megabyte that is not UTF-8, on one line: 100 diagnostics, each a window.
    std::fs::write(dir.path().join("ff.shz"), vec![0xff; 1024 * 1024]).unwrap();
    let out = run_in(dir.path(), &["check", "ff.shz"]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert_eq!(stderr.matches("shenzi::layout::invalid_utf8").count(), 100);
    assert!(stderr.contains("shenzi::layout::too_many_diagnostics"));
    assert!(out.stderr.len() < 96 * 1024, "{} bytes", out.stderr.len());
    // And 200 KB of `}` on 200,000 lines: the same bound.
    std::fs::write(dir.path().join("lines.shz"), "}\n".repeat(100_000)).unwrap();
    let out = run_in(dir.path(), &["check", "lines.shz"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stderr.len() < 64 * 1024, "{} bytes", out.stderr.len());
}

/// Item 10 (layout part): what only failed at apply is refused by `check`, with a span.
#[test]
fn paths_apply_cannot_write_are_refused_by_check() {
    let dir = tempfile::tempdir().unwrap();
    let base = minimal();
    let entry = "to \"app/{file}\"";
    let cases: Vec<(&str, String)> = vec![
        ("nul_in_to", base.replacen(entry, "to \"app/\0{file}\"", 1)),
        (
            "nul_in_glob",
            base.replacen("\"**/*.pyi\"", "\"**/*.p\0yi\"", 1),
        ),
        (
            "long_segment",
            base.replacen(
                entry,
                &format!("to \"app/{}/{{file}}\"", "x".repeat(256)),
                1,
            ),
        ),
        (
            "long_segment_around_variable",
            base.replacen(
                entry,
                &format!("to \"app/{}{{file}}{}\"", "x".repeat(200), "y".repeat(56)),
                1,
            ),
        ),
        (
            "reserved_destination",
            base.replacen(entry, "to \".shenzi/{file}\"", 1),
        ),
        (
            "reserved_farm_root",
            base.replacen("root \"lib\"", "root \".shenzi/lib\"", 1),
        ),
        (
            "reserved_launcher",
            base.replacen("at \"bin/{app.name}\"", "at \".shenzi/dist.json\"", 1),
        ),
    ];
    for (name, layout) in cases {
        let file = format!("{name}.shz");
        std::fs::write(dir.path().join(&file), &layout).unwrap();
        let out = run_in(dir.path(), &["check", &file]);
        assert_eq!(out.status.code(), Some(1), "{name}: {}", describe(&out));
        assert!(!out.stderr.contains(&0), "{name}: a raw NUL printed");
        insta::assert_snapshot!(format!("path__{name}"), text(&out.stderr));
    }
    // 255 bytes is a file name; `.shenzi` below the root is an ordinary folder.
    let fine = base
        .replacen(
            entry,
            &format!("to \"app/{}/{{file}}\"", "x".repeat(255)),
            1,
        )
        .replacen("to \"app/{path}\"", "to \"app/.shenzi/{path}\"", 1);
    std::fs::write(dir.path().join("fine.shz"), fine).unwrap();
    let out = run_in(dir.path(), &["check", "fine.shz"]);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
}

/// Item 10 (layout part): a value that makes a rendered segment longer than a file name
/// is the planner's render error (with the template's span), not a failure at apply.
#[test]
fn a_rendered_segment_over_255_bytes_is_a_plan_error() {
    let dir = tempfile::tempdir().unwrap();
    let app = dir.path().join("app");
    std::fs::create_dir(&app).unwrap();
    // 252 bytes: a file name, but not once the layout adds `.bak`.
    let script = format!("{}.py", "s".repeat(249));
    std::fs::write(app.join(&script), "print('hello')\n").unwrap();
    let manifest = dir.path().join("shenzi.json");
    output_ok(
        trace_command(&manifest, [python311().as_os_str(), script.as_ref()]).current_dir(&app),
    );
    let layout = minimal()
        .replacen("to \"app/{file}\"", "to \"app/{file}.bak\"", 1)
        .replacen("path entry, app,", "path app,", 1);
    std::fs::write(dir.path().join("bak.shz"), layout).unwrap();
    let check = run_in(dir.path(), &["check", "bak.shz"]);
    assert_eq!(check.status.code(), Some(0), "{}", describe(&check));
    let out = run_in(dir.path(), &["plan", "bak.shz", "shenzi.json"]);
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("shenzi::plan::render"), "{stderr}");
    assert!(stderr.contains("256 bytes long"), "{stderr}");
    assert!(
        stderr.contains("to \"app/{file}.bak\""),
        "the template's span: {stderr}"
    );
    let apply = run_in(
        dir.path(),
        &["apply", "bak.shz", "shenzi.json", "-o", "dist"],
    );
    assert_eq!(apply.status.code(), Some(1), "{}", describe(&apply));
    assert!(!dir.path().join("dist").exists());
}
