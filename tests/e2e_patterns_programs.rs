//! Programs the app runs and data its native code reads (issue 11 items 4 and 7), built by
//! each test with gcc and checked end to end with every shipped layout in the hidden world
//! (tests/support/e2e.rs): traced once, applied per layout, moved, run through a symlink to
//! its launcher where the sources, the venv and every library the layout's policy does not
//! trust are gone; same stdout and exit status as the untraced run, nothing mapped from
//! outside the dist but the policy.
//!
//! - A gcc-built program the app runs by name (`subprocess.run(["greet"])`), needing a
//!   gcc-built library beside it, a `#!/bin/sh` script that runs it in turn, the real
//!   `file` (libmagic and its compression libraries are hidden in the world) and the base
//!   program `uname`: the dist bundles the first three in `tools/`, first on the app's
//!   `PATH`, and leaves `uname` to the target; `verify` passes.
//! - A gcc-built library that reads its data file from the folder an environment
//!   variable names, that folder hidden in the world: the dist ships the file and the
//!   launcher re-points the variable.
//! - A layout that keeps a program to the target (`exclude` in its `programs` unit): the
//!   summary says so and the dist does not carry it.
//!
//! Regression note (the tests run on main's code at ed81a8a, before this change): all
//! three failed. With their summary assertions taken out (main has no such lines), the two
//! hidden-world tests still failed (`programs_the_app_runs_*`: the built-in layouts skipped
//! every program, so the world, which hides `tools src` and libmagic, could not run them;
//! `native_data_*`: the data folder is hidden and nothing re-pointed `READER_DATA`).
//!
//! Needs root (mount namespaces), gcc, `/usr/bin/file` and pyenv's CPython 3.11.

#[path = "fixtures/native/kit.rs"]
mod kit;
mod support;

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use support::e2e::{self, AppRun, LAYOUTS, app, write};
use support::{describe, python311, shenzi, text};

fn verified(dist: &Path) -> Result<(), String> {
    let out = shenzi()
        .arg("verify")
        .arg(dist)
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    if out.status.success() {
        Ok(())
    } else {
        Err(format!("`shenzi verify` fails: {}", describe(&out)))
    }
}

/// `bin/greet` needing `lib/libgreet.so.1` (RUNPATH `$ORIGIN/../lib`), and `bin/greet-twice`,
/// a `#!/bin/sh` script running `greet` twice; returns the `bin` folder.
fn greet_tools(dir: &Path) -> PathBuf {
    let lib = dir.join("lib/libgreet.so.1");
    write(
        &dir.join("lib/greet.c"),
        "const char *greeting(void) { return \"hello from libgreet\"; }\n",
    );
    kit::gcc(&[
        "-shared",
        "-fPIC",
        dir.join("lib/greet.c").to_str().unwrap(),
        "-o",
        lib.to_str().unwrap(),
        "-Wl,-soname,libgreet.so.1",
    ]);
    let bin = dir.join("bin");
    write(
        &bin.join("greet.c"),
        "#include <stdio.h>\nconst char *greeting(void);\nint main(void) { puts(greeting()); return 0; }\n",
    );
    kit::gcc(&[
        bin.join("greet.c").to_str().unwrap(),
        "-o",
        bin.join("greet").to_str().unwrap(),
        lib.to_str().unwrap(),
        "-Wl,--enable-new-dtags,-rpath,$ORIGIN/../lib",
    ]);
    std::fs::remove_file(bin.join("greet.c")).unwrap();
    let script = bin.join("greet-twice");
    write(&script, "#!/bin/sh\ngreet\ngreet\n");
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    bin
}

const RUN_PROGRAMS: &str = r##"import os, subprocess, tempfile
def run(*argv):
    out = subprocess.run(argv, capture_output=True, text=True)
    print(argv[0], out.returncode, out.stdout.strip().replace("\n", " | "))
run("greet")
run("greet-twice")
with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as f:
    f.write("#!/bin/sh\necho hi\n")
run("file", "-b", f.name)
os.unlink(f.name)
run("uname", "-s")
"##;

/// The app's `PATH`: the tools folder first, then the system's.
fn path_env(bin: &Path) -> (OsString, OsString) {
    (
        "PATH".into(),
        format!("{}:/usr/local/bin:/usr/bin:/bin", bin.display()).into(),
    )
}

/// Programs the app runs by name are bundled with their libraries in `tools/`, first on
/// the app's `PATH`: a gcc-built program needing a gcc-built library, a `#!` script that
/// runs it, and the real `file`, whose libraries the world hides. `uname` is the target's.
#[test]
fn programs_the_app_runs_are_bundled_with_their_libraries() {
    let scratch = e2e::scratch();
    let tools = scratch.path().join("tools src");
    let bin = greet_tools(&tools);
    let src = app(scratch.path(), RUN_PROGRAMS);
    let mut run = AppRun::new("programs the app runs", &python311(), &src, "app.py");
    run.env = vec![path_env(&bin)];
    run.hide = vec![tools.clone()];
    let t = e2e::trace(run, scratch);
    let expected = "greet 0 hello from libgreet\ngreet-twice 0 hello from libgreet | hello from libgreet\nfile 0 POSIX shell script, ASCII text executable\nuname 0 Linux\n";
    assert_eq!(text(&t.untraced.stdout), expected);

    // The summary: what was bundled and what was left to the target.
    let dist = t.scratch.path().join("summary");
    let out = support::apply("default", &t.manifest, &dist, &[]);
    let err = text(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains("programs bundled, first on the app's `PATH`: `tools/file`, `tools/greet`, `tools/greet-twice` (a script for `/bin/sh`)"),
        "{err}"
    );
    assert!(err.contains("programs left to the target: "), "{err}");
    assert!(err.contains("`uname` (preset `glibc`)"), "{err}");
    assert!(err.contains("`/bin/sh` (preset `glibc`)"), "{err}");
    // libmagic reads its database by a path compiled in: left to the target, said so.
    assert!(
        err.contains("the dist cannot re-point it") && err.contains("magic.mgc"),
        "{err}"
    );
    let launcher = std::fs::read_to_string(dist.join("bin/app")).unwrap();
    assert!(
        launcher.contains("PATH=\"$dist\"/'tools':\"${PATH-/bin:/usr/bin}\""),
        "{launcher}"
    );
    std::fs::remove_dir_all(&dist).unwrap();

    e2e::check_layouts_with(&t, LAYOUTS, &|dist, _| {
        verified(dist)?;
        for program in ["greet", "greet-twice", "file"] {
            if !dist.join("tools").join(program).is_file() {
                return Err(format!("no `tools/{program}` in the dist"));
            }
        }
        if dist.join("tools/uname").exists() {
            return Err("the dist bundles `uname`, which the target has".into());
        }
        Ok(())
    });
}

/// A library that reads its data from the folder an environment variable names finds it
/// in the dist: the launcher re-points the variable to the shipped folder.
#[test]
fn native_data_named_by_an_environment_variable_is_shipped_and_re_pointed() {
    let scratch = e2e::scratch();
    let data = scratch.path().join("reader data");
    write(&data.join("greeting.txt"), "hello from the data folder\n");
    let src = app(
        scratch.path(),
        "import ctypes, os\nhere = os.path.dirname(os.path.abspath(__file__))\nlib = ctypes.CDLL(os.path.join(here, 'libreader.so'))\nlib.read_greeting.restype = ctypes.c_char_p\nprint(lib.read_greeting())\n",
    );
    write(
        &src.join("reader.c"),
        "#include <stdio.h>\n#include <stdlib.h>\n#include <string.h>\nstatic char line[256];\nconst char *read_greeting(void) {\n  const char *dir = getenv(\"READER_DATA\");\n  char path[4096];\n  if (!dir) return \"no READER_DATA\";\n  snprintf(path, sizeof path, \"%s/greeting.txt\", dir);\n  FILE *f = fopen(path, \"r\");\n  if (!f) return \"cannot open\";\n  if (!fgets(line, sizeof line, f)) line[0] = 0;\n  fclose(f);\n  line[strcspn(line, \"\\n\")] = 0;\n  return line;\n}\n",
    );
    kit::gcc(&[
        "-shared",
        "-fPIC",
        src.join("reader.c").to_str().unwrap(),
        "-o",
        src.join("libreader.so").to_str().unwrap(),
        "-Wl,-soname,libreader.so",
    ]);
    std::fs::remove_file(src.join("reader.c")).unwrap();
    let mut run = AppRun::new("native data by variable", &python311(), &src, "app.py");
    run.env = vec![("READER_DATA".into(), data.clone().into())];
    run.hide = vec![data.clone()];
    let t = e2e::trace(run, scratch);
    assert_eq!(text(&t.untraced.stdout), "b'hello from the data folder'\n");

    let dist = t.scratch.path().join("summary");
    let out = support::apply("default", &t.manifest, &dist, &[]);
    let err = text(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains("native data shipped: 1 file; the launcher points `READER_DATA` at it"),
        "{err}"
    );
    std::fs::remove_dir_all(&dist).unwrap();

    e2e::check_layouts_with(&t, LAYOUTS, &|dist, _| verified(dist));
}

/// A layout keeps a program to the target by excluding it from its `programs` unit: the
/// dist does not carry it, the summary says which unit left it, and the dist runs it from
/// the target's `PATH`.
#[test]
fn a_program_the_layout_keeps_to_the_target_is_not_bundled() {
    let scratch = e2e::scratch();
    let tools = scratch.path().join("tools src");
    let bin = greet_tools(&tools);
    let src = app(scratch.path(), RUN_PROGRAMS);
    let mut run = AppRun::new("a program kept", &python311(), &src, "app.py");
    run.env = vec![path_env(&bin)];
    let t = e2e::trace(run, scratch);

    let default =
        std::fs::read_to_string(support::repo_root().join("layouts/default.shz")).unwrap();
    let layout = default.replace(
        "  to \"tools/{file}\"\n  farm libs\n",
        "  to \"tools/{file}\"\n  exclude \"file\"\n  farm libs\n",
    );
    assert_ne!(layout, default);
    let layout_path = t.scratch.path().join("keep.shz");
    std::fs::write(&layout_path, layout).unwrap();
    let dist = t.scratch.path().join("dist");
    let out = support::apply(layout_path.to_str().unwrap(), &t.manifest, &dist, &[]);
    let err = text(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains("`file` (unit `programs` excludes it)"),
        "{err}"
    );
    assert!(!dist.join("tools/file").exists());
    assert!(dist.join("tools/greet").is_file());
    // On this machine the target's `file` is there: the dist prints what the app did.
    let ran = std::process::Command::new(dist.join("bin/app"))
        .env(
            "PATH",
            format!("{}:/usr/local/bin:/usr/bin:/bin", bin.display()),
        )
        .output()
        .unwrap();
    assert_eq!(
        text(&ran.stdout),
        text(&t.untraced.stdout),
        "{}",
        describe(&ran)
    );
}
