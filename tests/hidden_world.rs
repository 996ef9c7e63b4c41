//! The hidden-world harness (tests/support/hidden.rs) proved on real parts: the world
//! passes a command's I/O through unchanged, really hides the source Pythons and every
//! non-policy library, runs what needs only glibc or its own `$ORIGIN` libraries, lets the
//! maps and environment checks fail when they must, and leaves the host untouched.
//!
//! Needs root (mount namespaces), gcc and zlib's headers (`scripts/setup`).

mod support;

use std::ffi::OsString;
use std::os::unix::fs::symlink;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use support::hidden::*;
use support::{describe, text};

fn world() -> HiddenWorld {
    HiddenWorld::new(HiddenSpec::new().hide(support::repo_root().join(".cache")))
        .expect("the hidden world can be prepared")
}

fn argv(args: &[&str]) -> Vec<OsString> {
    args.iter().map(OsString::from).collect()
}

/// Compiles `source` with gcc into `out`, with extra linker `args`.
fn cc(source: &str, out: &Path, args: &[&str]) {
    let src = out.with_extension("c");
    std::fs::write(&src, source).unwrap();
    let status = Command::new("gcc")
        .arg("-o")
        .arg(out)
        .arg(&src)
        .args(args)
        .output()
        .expect("gcc runs (scripts/setup installs it)");
    assert!(
        status.status.success(),
        "gcc {out:?}: {}",
        text(&status.stderr)
    );
}

/// A glibc-only program in `dir` that prints `hello` and exits with `status`.
fn hello(dir: &Path, status: i32) -> PathBuf {
    let hello = dir.join("hello");
    cc(
        &format!("#include <stdio.h>\nint main(void) {{ puts(\"hello\"); return {status}; }}\n"),
        &hello,
        &[],
    );
    hello
}

/// C that copies this process's maps/environ/cmdline into $HIDDEN_WORLD_DUMP_DIR, the same
/// format PY_DUMP_SNIPPET writes.
const C_DUMP: &str = r#"
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
static void dump_part(const char *part) {
    const char *dir = getenv("HIDDEN_WORLD_DUMP_DIR");
    if (!dir) return;
    char src[64], dst[4096], buf[4096];
    snprintf(src, sizeof src, "/proc/self/%s", part);
    snprintf(dst, sizeof dst, "%s/%d.exit.%s", dir, (int)getpid(), part);
    FILE *in = fopen(src, "rb"), *out = fopen(dst, "wb");
    if (!in || !out) exit(90);
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, in)) > 0) fwrite(buf, 1, n, out);
    fclose(in);
    fclose(out);
}
static void dump(void) { dump_part("maps"); dump_part("environ"); dump_part("cmdline"); }
"#;

/// A fake dist: `dist/lib/libfixture.so.1` and `dist/bin/app` (RUNPATH `$ORIGIN/../lib`)
/// that prints `fixture 42` and dumps its maps; plus `dist/bin/app-z`, the same app also
/// linked to the host's libz (the mutation: a dependency that was not bundled).
fn fake_dist(root: &Path) -> PathBuf {
    let dist = root.join("dist");
    std::fs::create_dir_all(dist.join("lib")).unwrap();
    std::fs::create_dir_all(dist.join("bin")).unwrap();
    let lib = dist.join("lib/libfixture.so.1");
    cc(
        "int fixture_value(void) { return 42; }\n",
        &lib,
        &["-shared", "-fPIC", "-Wl,-soname,libfixture.so.1"],
    );
    let app = format!(
        "{C_DUMP}\nint fixture_value(void);\nint main(void) {{ printf(\"fixture %d\\n\", fixture_value()); dump(); return 0; }}\n"
    );
    let runpath = ["-Wl,-rpath,$ORIGIN/../lib", "-Wl,--enable-new-dtags"];
    let lib_arg = lib.to_str().unwrap();
    cc(
        &app,
        &dist.join("bin/app"),
        &[&[lib_arg][..], &runpath[..]].concat(),
    );
    let app_z = format!(
        "{C_DUMP}\n#include <zlib.h>\nint fixture_value(void);\nint main(void) {{ printf(\"fixture %d zlib %s\\n\", fixture_value(), zlibVersion()); dump(); return 0; }}\n"
    );
    cc(
        &app_z,
        &dist.join("bin/app-z"),
        &[&[lib_arg, "-lz"][..], &runpath[..]].concat(),
    );
    dist
}

#[test]
fn sh_runs_inside_and_passes_stdin_stdout_stderr_and_exit_status_through() {
    // Proves: the world runs /bin/sh, and `run` returns the command's own bytes and status.
    let world = world();
    let out = world
        .run(
            &argv(&[
                "/bin/sh",
                "-c",
                "read line; echo \"got $line\"; echo oops >&2; exit 7",
            ]),
            Path::new("/"),
            &[],
            b"hello world\n",
        )
        .unwrap();
    assert_eq!(out.status.code(), Some(7), "{}", describe(&out));
    assert_eq!(text(&out.stdout), "got hello world\n");
    assert_eq!(text(&out.stderr), "oops\n");

    let ok = world.sh("echo ok").unwrap();
    assert!(ok.status.success(), "{}", describe(&ok));
    assert_eq!(text(&ok.stdout), "ok\n");

    // A signal is the command's too, not a wrapper's exit code.
    let killed = world.sh("kill -TERM $$").unwrap();
    assert_eq!(
        killed.status.signal(),
        Some(libc::SIGTERM),
        "{}",
        describe(&killed)
    );
}

#[test]
fn the_environment_inside_is_clean_and_the_env_check_can_fail() {
    // Proves: the host's environment does not leak in (cargo sets CARGO_* for this
    // process), given variables do, and assert_env_lacks fails on a present variable.
    let world = world();
    let out = world
        .run(
            &argv(&["/bin/sh", "-c", "export -p"]),
            Path::new("/"),
            &[("EXTRA".into(), "1".into())],
            b"",
        )
        .unwrap();
    let exported = text(&out.stdout);
    assert!(
        std::env::vars().any(|(k, _)| k.starts_with("CARGO")),
        "precondition: cargo set CARGO_*"
    );
    assert!(!exported.contains("CARGO"), "{exported}");
    assert!(!exported.contains("LD_LIBRARY_PATH"), "{exported}");
    assert!(exported.contains("EXTRA"), "{exported}");
    assert!(exported.contains(DUMP_DIR_ENV), "{exported}");

    let tmp = tempfile::tempdir().unwrap();
    let dist = fake_dist(tmp.path());
    let app = dist.join("bin/app");
    let (clean, dumps) = world
        .run_collecting(&[app.clone().into()], tmp.path(), &[], b"")
        .unwrap();
    assert!(clean.status.success(), "{}", describe(&clean));
    assert_env_lacks(&dumps, "LD_LIBRARY_PATH");

    let leak = [("LD_LIBRARY_PATH".into(), "/somewhere".into())];
    let (_, dumps) = world
        .run_collecting(&[app.into()], tmp.path(), &leak, b"")
        .unwrap();
    let caught = std::panic::catch_unwind(|| assert_env_lacks(&dumps, "LD_LIBRARY_PATH"));
    assert!(
        caught.is_err(),
        "assert_env_lacks must fail when LD_LIBRARY_PATH is set"
    );
}

#[test]
fn the_probe_sees_only_policy_libraries_an_empty_cache_and_nothing_hidden() {
    // Proves, from inside and without ldd: each replaced library folder holds exactly the
    // staged glibc policy libraries (the loader among them), nothing under a hidden path
    // is visible, the loader cache is empty, and /bin/sh maps only allowed files.
    let world = world();
    let probe = world
        .sanity_check()
        .unwrap_or_else(|e| panic!("sanity check: {e}"));
    for soname in ["libc.so.6", "libm.so.6", "ld-linux-x86-64.so.2"] {
        assert!(
            world.staged_libs().iter().any(|s| s == soname),
            "{soname} staged: {:?}",
            world.staged_libs()
        );
    }
    assert!(!world.staged_libs().iter().any(|s| s.starts_with("libz")));
    assert!(probe.interpreter_present);
    assert!(probe.lib_entries.iter().any(|p| p.ends_with("libc.so.6")));
    assert!(
        !probe.lib_entries.iter().any(|p| p.ends_with("libz.so.1")),
        "{:?}",
        probe.lib_entries
    );
    assert!(
        probe.sh_mapped.iter().any(|p| p.ends_with("libc.so.6")),
        "{:?}",
        probe.sh_mapped
    );
    assert!(
        world
            .hidden_files()
            .iter()
            .any(|f| f == Path::new("/etc/ld.so.cache"))
    );
    let cache = world
        .sh("if [ -s /etc/ld.so.cache ]; then echo full; else echo empty; fi")
        .unwrap();
    assert_eq!(text(&cache.stdout), "empty\n");
    // The cache and libz are still there on the host.
    assert!(std::fs::metadata("/etc/ld.so.cache").unwrap().len() > 0);
}

#[test]
fn source_pythons_and_non_policy_programs_fail_inside_but_work_outside() {
    // Proves: every pyenv interpreter, the wheel venv's python and Debian's python3 start
    // on the host and fail to start inside; a program needing a non-policy library
    // (sqlite3, and a gcc fixture linked with -lz) runs outside and cannot load it inside.
    let world = world();
    let venv_python = support::wheel_venv().join("bin/python");
    let mut pythons = pyenv_pythons();
    assert!(
        pythons.len() >= 6,
        "pyenv interpreters expected, found {pythons:?}"
    );
    pythons.push(venv_python);
    pythons.push(PathBuf::from("/usr/bin/python3"));
    for python in &pythons {
        let code = "print('alive')";
        let outside = Command::new(python).args(["-c", code]).output().unwrap();
        assert_eq!(
            text(&outside.stdout),
            "alive\n",
            "{python:?} outside: {}",
            describe(&outside)
        );
        match world.run(
            &[python.into(), "-c".into(), code.into()],
            Path::new("/"),
            &[],
            b"",
        ) {
            Ok(out) => {
                assert!(
                    !out.status.success(),
                    "{python:?} started inside: {}",
                    describe(&out)
                );
                assert!(!text(&out.stdout).contains("alive"));
            }
            // The file itself is hidden: exec finds nothing.
            Err(e) => assert_eq!(e.kind(), std::io::ErrorKind::NotFound, "{python:?}: {e}"),
        }
    }

    let sqlite = Path::new("/usr/bin/sqlite3");
    if sqlite.exists() {
        assert!(
            Command::new(sqlite)
                .arg("-version")
                .output()
                .unwrap()
                .status
                .success()
        );
        let out = world
            .run(
                &[sqlite.into(), "-version".into()],
                Path::new("/"),
                &[],
                b"",
            )
            .unwrap();
        assert!(!out.status.success(), "{}", describe(&out));
        assert!(
            text(&out.stderr).contains("error while loading shared libraries"),
            "{}",
            describe(&out)
        );
    } else {
        eprintln!("SKIPPED: /usr/bin/sqlite3 is not installed (the -lz fixture covers the case)");
    }

    let tmp = tempfile::tempdir().unwrap();
    let needs_z = tmp.path().join("needs-z");
    cc(
        "#include <stdio.h>\n#include <zlib.h>\nint main(void) { printf(\"zlib %s\\n\", zlibVersion()); return 0; }\n",
        &needs_z,
        &["-lz"],
    );
    let outside = Command::new(&needs_z).output().unwrap();
    assert!(outside.status.success(), "{}", describe(&outside));
    let inside = world.run(&[needs_z.into()], tmp.path(), &[], b"").unwrap();
    assert_eq!(inside.status.code(), Some(127), "{}", describe(&inside));
    assert!(
        text(&inside.stderr).contains("libz.so.1: cannot open shared object file"),
        "{}",
        describe(&inside)
    );
}

#[test]
fn glibc_only_programs_and_an_origin_dist_run_inside_and_the_maps_check_can_fail() {
    // Proves: a glibc-only program runs inside; a fake dist whose app finds its library
    // through RUNPATH $ORIGIN/../lib runs inside through a symlink, and its maps pass the
    // check; the check fails for the same app linked to the host's libz (run outside,
    // where libz exists; inside it cannot even load), and for a library outside the dist
    // that is reachable inside (an absolute RUNPATH into a visible temp folder).
    let world = world();
    let tmp = tempfile::tempdir().unwrap();

    let hello = hello(tmp.path(), 3);
    let out = world.run(&[hello.into()], tmp.path(), &[], b"").unwrap();
    assert_eq!(
        (out.status.code(), text(&out.stdout).as_str()),
        (Some(3), "hello\n"),
        "{}",
        describe(&out)
    );

    let dist = fake_dist(tmp.path());
    world.assert_visible(&dist);
    let links = tmp.path().join("elsewhere");
    std::fs::create_dir(&links).unwrap();
    symlink(dist.join("bin/app"), links.join("app")).unwrap();
    let (out, dumps) = world
        .run_collecting(&[links.join("app").into()], &links, &[], b"")
        .unwrap();
    assert_eq!(text(&out.stdout), "fixture 42\n", "{}", describe(&out));
    assert!(out.status.success());
    let mapped: Vec<PathBuf> = dumps.iter().flat_map(ProcessDump::mapped_files).collect();
    assert!(
        mapped.contains(&dist.join("lib/libfixture.so.1")),
        "{mapped:?}"
    );
    assert_maps_within(&dumps, &dist, world.policy_names());

    // Mutation 1: an unbundled host library. Inside it cannot load at all...
    let inside = world
        .run(&[dist.join("bin/app-z").into()], tmp.path(), &[], b"")
        .unwrap();
    assert!(!inside.status.success(), "{}", describe(&inside));
    assert!(
        text(&inside.stderr).contains("libz.so.1"),
        "{}",
        describe(&inside)
    );
    // ...and outside, where it loads, the maps check names it.
    let host_dumps = tmp.path().join("host-dumps");
    std::fs::create_dir(&host_dumps).unwrap();
    let outside = Command::new(dist.join("bin/app-z"))
        .env(DUMP_DIR_ENV, &host_dumps)
        .output()
        .unwrap();
    assert!(outside.status.success(), "{}", describe(&outside));
    let dumps = collect_dumps(&host_dumps).unwrap();
    let violations = check_maps_within(&dumps, &dist, world.policy_names());
    assert!(
        violations.iter().any(|v| file_starts(&v.path, "libz.so.1")),
        "libz must be flagged: {violations:?}"
    );
    assert!(
        violations.iter().all(|v| !v.path.starts_with(&dist)),
        "{violations:?}"
    );
    assert!(
        std::panic::catch_unwind(|| assert_maps_within(&dumps, &dist, world.policy_names()))
            .is_err()
    );

    // Mutation 2: inside the world, a library found outside the dist.
    let outside_lib = tmp.path().join("not-dist");
    std::fs::create_dir(&outside_lib).unwrap();
    std::fs::copy(
        dist.join("lib/libfixture.so.1"),
        outside_lib.join("libfixture.so.1"),
    )
    .unwrap();
    let stray = dist.join("bin/stray");
    let source = format!(
        "{C_DUMP}\nint fixture_value(void);\nint main(void) {{ printf(\"fixture %d\\n\", fixture_value()); dump(); return 0; }}\n"
    );
    let runpath = format!("-Wl,-rpath,{}", outside_lib.display());
    cc(
        &source,
        &stray,
        &[
            outside_lib.join("libfixture.so.1").to_str().unwrap(),
            &runpath,
            "-Wl,--enable-new-dtags",
        ],
    );
    let (out, dumps) = world
        .run_collecting(&[stray.into()], tmp.path(), &[], b"")
        .unwrap();
    assert_eq!(text(&out.stdout), "fixture 42\n", "{}", describe(&out));
    let violations = check_maps_within(&dumps, &dist, world.policy_names());
    assert_eq!(
        violations
            .iter()
            .map(|v| v.path.clone())
            .collect::<Vec<_>>(),
        vec![outside_lib.join("libfixture.so.1")],
        "exactly the stray library is flagged"
    );
}

fn file_starts(path: &Path, prefix: &str) -> bool {
    path.file_name()
        .is_some_and(|n| n.to_string_lossy().starts_with(prefix))
}

#[test]
fn nothing_leaks_to_the_host_during_or_after_a_run() {
    // Proves: the world's mounts are invisible to the host while a command runs inside
    // and afterwards (mount table byte-identical), and pyenv's Python works after it.
    let mountinfo = || std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    let before = mountinfo();
    let world = world();
    let tmp = tempfile::tempdir().unwrap();
    let started = tmp.path().join("started");
    let go = tmp.path().join("go");
    let script = format!(
        ": > '{}'; while [ ! -e '{}' ]; do /usr/bin/sleep 0.01; done; grep -c . /proc/self/mountinfo >/dev/null 2>&1; echo done",
        started.display(),
        go.display()
    );
    std::thread::scope(|s| {
        let inside = s.spawn(|| world.sh(&script).unwrap());
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        while !started.exists() {
            assert!(
                std::time::Instant::now() < deadline,
                "the command never started"
            );
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        assert_eq!(
            mountinfo(),
            before,
            "mounts visible on the host while the world runs"
        );
        std::fs::write(&go, b"").unwrap();
        let out = inside.join().unwrap();
        assert_eq!(text(&out.stdout), "done\n", "{}", describe(&out));
    });
    let out = world.sh("exit 0").unwrap();
    assert!(out.status.success());
    drop(world);
    assert_eq!(mountinfo(), before);
    let python = support::python311();
    let out = Command::new(&python)
        .args(["-c", "import zlib, ssl; print('host fine')"])
        .output()
        .unwrap();
    assert_eq!(text(&out.stdout), "host fine\n", "{}", describe(&out));
}

#[test]
fn the_dist_must_live_outside_hidden_paths() {
    // Proves the documented constraint is enforced, not assumed: a working directory
    // under a hidden path is refused with an error naming it, assert_visible rejects a
    // hidden dist root and accepts /tmp, and a spec hiding what the world needs (/, the
    // system library folder's parent) is refused.
    let venv = support::wheel_venv();
    let world = HiddenWorld::new(HiddenSpec::new().hide(&venv)).unwrap();
    let err = world
        .run(&argv(&["/bin/sh", "-c", "true"]), &venv, &[], b"")
        .unwrap_err();
    assert!(err.to_string().contains("hidden"), "{err}");
    let tmp = tempfile::tempdir().unwrap();
    world.assert_visible(tmp.path());
    assert!(std::panic::catch_unwind(|| world.assert_visible(&venv.join("lib"))).is_err());
    assert!(world.hidden_ancestor(&venv.join("bin/python")).is_some());

    assert!(HiddenWorld::new(HiddenSpec::new().hide("/")).is_err());
    let err = HiddenWorld::new(HiddenSpec::new().hide("/usr/lib")).unwrap_err();
    assert!(err.to_string().contains("would hide"), "{err}");
}

#[test]
fn hide_paths_for_python_covers_venvs_pyenv_and_debian() {
    // Proves: for a venv on pyenv both the venv and the pyenv prefix are listed; for
    // Debian's /usr prefix only its python3* lib folders, never /usr itself.
    let venv = support::wheel_venv();
    let base = support::python311()
        .parent()
        .unwrap()
        .parent()
        .unwrap()
        .to_path_buf();
    let paths = hide_paths_for_python(&venv, &base, Some(&venv));
    assert_eq!(paths, {
        let mut v = vec![venv.clone(), base.clone()];
        v.sort();
        v
    });
    let debian = hide_paths_for_python(Path::new("/usr"), Path::new("/usr"), None);
    assert!(!debian.is_empty());
    assert!(
        debian
            .iter()
            .all(|p| p.starts_with("/usr/lib") && file_starts(p, "python3")),
        "{debian:?}"
    );
    // And a world built from them hides them.
    let world = HiddenWorld::new(HiddenSpec::new().hide_all(paths)).unwrap();
    assert!(world.hidden_ancestor(&venv.join("pyvenv.cfg")).is_some());
}

#[test]
fn the_python_dump_snippet_records_the_app_and_its_child() {
    // Proves: PY_DUMP_SNIPPET dumps maps, environ and cmdline of a Python app and of a
    // Python child it starts (run on the host with pyenv's 3.11, as inside a dist), and
    // the maps check flags that interpreter when it is not the dist.
    let tmp = tempfile::tempdir().unwrap();
    let dumps_dir = tmp.path().join("dumps");
    std::fs::create_dir(&dumps_dir).unwrap();
    let child = tmp.path().join("child.py");
    std::fs::write(&child, format!("{PY_DUMP_SNIPPET}\nprint('child')\n")).unwrap();
    let app = tmp.path().join("app.py");
    std::fs::write(
        &app,
        format!(
            "{PY_DUMP_SNIPPET}\nimport subprocess, sys\nsubprocess.run([sys.executable, {:?}], check=True)\nprint('parent')\n",
            child.to_str().unwrap()
        ),
    )
    .unwrap();
    let python = support::python311();
    let out = Command::new(&python)
        .arg(&app)
        .env(DUMP_DIR_ENV, &dumps_dir)
        .output()
        .unwrap();
    assert_eq!(text(&out.stdout), "child\nparent\n", "{}", describe(&out));
    let dumps = collect_dumps(&dumps_dir).unwrap();
    assert_eq!(dumps.len(), 2, "{dumps:?}");
    for d in &dumps {
        assert_eq!(d.tag, "exit");
        assert!(d.maps.contains("libc.so.6"), "{}", d.maps);
        assert!(d.environ.iter().any(|(k, _)| k == DUMP_DIR_ENV));
        assert!(
            d.cmdline
                .iter()
                .any(|a| a.to_string_lossy().ends_with(".py")),
            "{:?}",
            d.cmdline
        );
    }
    let prefix = python.parent().unwrap().parent().unwrap();
    let within_prefix = check_maps_within(&dumps, prefix, &glibc_policy());
    assert!(
        within_prefix.iter().all(|v| !v.path.starts_with(prefix)),
        "{within_prefix:?}"
    );
    let flagged = check_maps_within(&dumps, Path::new("/nonexistent-dist"), &glibc_policy());
    let real_python = std::fs::canonicalize(&python).unwrap();
    assert!(flagged.iter().any(|v| v.path == real_python), "{flagged:?}");
}

#[test]
fn strict_mode_leaves_only_sh_among_the_system_programs() {
    // Proves: with only_sh, /bin/sh still runs and is the only program in /usr/bin (the
    // probe sees nothing else); a glibc-only coreutil that runs in the default world
    // (cat) is gone; a glibc-only program from a visible folder still runs.
    let default = world();
    let out = default.sh("/usr/bin/cat /proc/self/maps").unwrap();
    assert!(
        text(&out.stdout).contains("libc.so.6"),
        "{}",
        describe(&out)
    );

    let strict = HiddenWorld::new(HiddenSpec::new().only_sh(true)).unwrap();
    let probe = strict
        .sanity_check()
        .unwrap_or_else(|e| panic!("sanity check: {e}"));
    let bin = std::fs::canonicalize("/bin").unwrap();
    assert_eq!(probe.bin_entries, vec![bin.join("sh")]);
    let out = strict
        .sh("/usr/bin/cat /proc/self/maps; echo status=$?")
        .unwrap();
    assert_eq!(text(&out.stdout), "status=127\n", "{}", describe(&out));
    let out = strict
        .run(
            &argv(&["/bin/sh", "-c", "echo via /bin/sh"]),
            Path::new("/"),
            &[],
            b"",
        )
        .unwrap();
    assert_eq!(text(&out.stdout), "via /bin/sh\n", "{}", describe(&out));

    let tmp = tempfile::tempdir().unwrap();
    let hello = hello(tmp.path(), 0);
    let out = strict.run(&[hello.into()], tmp.path(), &[], b"").unwrap();
    assert_eq!(text(&out.stdout), "hello\n", "{}", describe(&out));
}

#[test]
fn a_hanging_command_is_killed_with_its_children_at_the_timeout() {
    // Proves: a run that outlives its timeout returns TimedOut promptly instead of hanging
    // the suite, and the command's children (same process group) are killed too.
    let world =
        HiddenWorld::new(HiddenSpec::new().timeout(std::time::Duration::from_millis(300))).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let pidfile = tmp.path().join("pid");
    let script = format!(
        "/usr/bin/sleep 30 & echo $! > '{}'; wait",
        pidfile.display()
    );
    let start = std::time::Instant::now();
    let err = world.sh(&script).unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::TimedOut, "{err}");
    assert!(
        start.elapsed() < std::time::Duration::from_secs(10),
        "{:?}",
        start.elapsed()
    );
    let pid = std::fs::read_to_string(&pidfile).unwrap();
    let proc_dir = PathBuf::from(format!("/proc/{}", pid.trim()));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    let gone = || match std::fs::read_to_string(proc_dir.join("stat")) {
        Err(_) => true,
        // A zombie waiting for its new parent to reap it is dead too.
        Ok(stat) => stat
            .rsplit(')')
            .next()
            .is_some_and(|rest| rest.trim_start().starts_with('Z')),
    };
    while !gone() {
        assert!(
            std::time::Instant::now() < deadline,
            "the sleep child {pid} survived"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

#[test]
fn the_sh_dump_snippet_records_a_shell_inside_the_world() {
    // Proves: SH_DUMP_SNIPPET works with builtins only inside the (strict) world, so a
    // launcher script's own mappings can be checked too: dash and glibc pass the maps
    // check, and a dump with the maps of a python is flagged.
    let world = HiddenWorld::new(HiddenSpec::new().only_sh(true)).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let script = format!("{SH_DUMP_SNIPPET}\necho dumped");
    let (out, dumps) = world
        .run_collecting(&argv(&["/bin/sh", "-c", &script]), tmp.path(), &[], b"")
        .unwrap();
    assert_eq!(text(&out.stdout), "dumped\n", "{}", describe(&out));
    assert_eq!(dumps.len(), 1, "{dumps:?}");
    assert_eq!(dumps[0].tag, "sh");
    let mapped = dumps[0].mapped_files();
    assert!(
        mapped.iter().any(|p| file_starts(p, "libc.so.6")),
        "{mapped:?}"
    );
    assert_maps_within(&dumps, tmp.path(), world.policy_names());

    let mut foreign = dumps[0].clone();
    foreign.maps += "7f0000000000-7f0000001000 r-xp 00000000 fe:00 1 /usr/bin/python3.11\n";
    let flagged = check_maps_within(&[foreign], tmp.path(), world.policy_names());
    assert_eq!(flagged.len(), 1, "{flagged:?}");
    assert_eq!(flagged[0].path, Path::new("/usr/bin/python3.11"));
}
