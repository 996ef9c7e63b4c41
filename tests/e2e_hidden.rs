//! The hidden-world suite (DESIGN.md, "What works means"): every example app, under every
//! real interpreter of the machine, packaged with every shipped layout, runs where its
//! source world does not exist.
//!
//! One test per (app, interpreter) traces the app once, then for each layout
//! (tests/support/e2e.rs): applies it, moves the dist to another path, and runs it through
//! a symlink to its launcher inside a [`HiddenWorld`] (tests/support/hidden.rs) where the source interpreter, its venv, the
//! app's sources, the repo's `.cache` and every non-policy system library are gone. It
//! asserts the same stdout and exit status as the untraced run on the host, no
//! `LD_LIBRARY_PATH` in any dumped process environment, and that every object mapped by
//! the app and its children (dumped by the apps' `_shenzi_maps.py` test hook) lies inside
//! the dist or is in the glibc policy set. All four layouts are checked even when one
//! fails, and the failures are reported together.
//!
//! The mutation tests prove the suite can fail: a dist with one bundled library deleted,
//! or with a wrong RUNPATH on one extension, fails inside the world (and, to show why the
//! world is needed, still "works" on the host, where the system's copy stands in).
//!
//! Apps: `examples/stdlib_app` (run with the bare interpreter) and `examples/wheels_app`
//! (numpy, Pillow, lxml, cryptography; run with the venv `scripts/setup` makes per
//! interpreter, `.cache/venvs/e2e-<label>`). A missing interpreter is reported as
//! `SKIPPED: <case>` on stderr, and `hidden_world_matrix_summary` prints the whole matrix
//! (run vs skipped; nextest shows its output, see `.config/nextest.toml`). With
//! `SHENZI_REQUIRE_ALL_PYTHONS=1` a missing interpreter fails instead.
//!
//! Needs root (mount namespaces), patchelf, and `scripts/setup`.

mod support;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Instant;

use support::e2e::{self, AppRun, LAYOUTS, Traced, build, run_hidden, world_for};
use support::hidden::PY_DUMP_SNIPPET;
use support::{Interpreter, describe, interpreters, repo_root, text};
const ARGS: &[&str] = &["first", "second arg"];
const LABELS: &[&str] = &[
    "pyenv-3.8",
    "pyenv-3.9",
    "pyenv-3.10",
    "pyenv-3.11",
    "pyenv-3.12",
    "pyenv-3.13",
    "debian",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum App {
    Stdlib,
    Wheels,
}

impl App {
    fn name(self) -> &'static str {
        match self {
            App::Stdlib => "stdlib_app",
            App::Wheels => "wheels_app",
        }
    }

    fn source(self) -> PathBuf {
        repo_root().join("examples").join(self.name())
    }

    /// How many processes must have dumped their maps, by tag: the app's Python processes
    /// at exit, a pool worker, a shell. Fewer means a child escaped the check.
    fn expected_dumps(self) -> &'static [(&'static str, usize)] {
        match self {
            // The app and its `sys.executable -m greeter.child`; the spawn pool worker;
            // the `sh -c` child.
            App::Stdlib => &[("exit", 2), ("worker", 1), ("sh", 1)],
            // The app and its `sys.executable -m wheels_child`.
            App::Wheels => &[("exit", 2)],
        }
    }
}

/// One (app, interpreter) cell of the matrix that can run here.
struct Case {
    app: App,
    label: String,
    /// The Python that runs the app: the interpreter, or its wheel venv's python.
    python: PathBuf,
    venv: Option<PathBuf>,
}

impl Case {
    fn name(&self) -> String {
        format!("{} × {}", self.app.name(), self.label)
    }
}

/// The wheel venv `scripts/setup` makes for the interpreter labelled `label`.
fn e2e_venv(label: &str) -> PathBuf {
    repo_root()
        .join(".cache/venvs")
        .join(format!("e2e-{label}"))
}

/// The case, or `None` (reported on stderr as `SKIPPED: <case>`) when the interpreter is
/// not on this machine. A missing venv for a present interpreter is a failure: run
/// `scripts/setup`.
fn case(app: App, label: &str, found: &[Interpreter]) -> Option<Case> {
    let Some(interp) = found.iter().find(|i| i.label == label) else {
        eprintln!(
            "SKIPPED: {} × {label} ({} layouts): the interpreter is not installed here",
            app.name(),
            LAYOUTS.len()
        );
        return None;
    };
    let (python, venv) = match app {
        App::Stdlib => (interp.path.clone(), None),
        App::Wheels => {
            let venv = e2e_venv(label);
            assert!(
                venv.join(".complete").exists(),
                "{} is missing: run scripts/setup",
                venv.display()
            );
            (venv.join("bin/python"), Some(venv))
        }
    };
    Some(Case {
        app,
        label: label.to_string(),
        python,
        venv,
    })
}

/// Copies the app into a scratch folder (a path with a space) and traces it there.
fn trace(case: &Case) -> Traced {
    let scratch = e2e::scratch();
    let app_dir = scratch.path().join("app src");
    support::example::copy_tree(&case.app.source(), &app_dir);
    let mut run = AppRun::new(case.name(), &case.python, &app_dir, "app.py");
    run.venv = case.venv.clone();
    run.args = ARGS.iter().map(|a| a.to_string()).collect();
    run.expected_dumps = case
        .app
        .expected_dumps()
        .iter()
        .map(|(tag, n)| (tag.to_string(), *n))
        .collect();
    let t = e2e::trace(run, scratch);
    assert_eq!(
        t.untraced.status.code(),
        Some(0),
        "{}: the untraced run fails: {}",
        case.name(),
        describe(&t.untraced)
    );
    t
}

/// The whole (app, interpreter) cell: trace once, every layout, one report.
fn check_case(app: App, label: &str) {
    let Some(case) = case(app, label, &interpreters()) else {
        return;
    };
    let start = Instant::now();
    let t = trace(&case);
    eprintln!(
        "{}: traced in {:.1}s",
        case.name(),
        start.elapsed().as_secs_f64()
    );
    e2e::check_layouts(&t, LAYOUTS);
}

macro_rules! matrix {
    ($($test:ident: $app:expr, $label:expr;)*) => {
        $(
            #[test]
            fn $test() {
                check_case($app, $label);
            }
        )*
    };
}

matrix! {
    stdlib_app_pyenv_3_8: App::Stdlib, "pyenv-3.8";
    stdlib_app_pyenv_3_9: App::Stdlib, "pyenv-3.9";
    stdlib_app_pyenv_3_10: App::Stdlib, "pyenv-3.10";
    stdlib_app_pyenv_3_11: App::Stdlib, "pyenv-3.11";
    stdlib_app_pyenv_3_12: App::Stdlib, "pyenv-3.12";
    stdlib_app_pyenv_3_13: App::Stdlib, "pyenv-3.13";
    stdlib_app_debian: App::Stdlib, "debian";
    wheels_app_pyenv_3_8: App::Wheels, "pyenv-3.8";
    wheels_app_pyenv_3_9: App::Wheels, "pyenv-3.9";
    wheels_app_pyenv_3_10: App::Wheels, "pyenv-3.10";
    wheels_app_pyenv_3_11: App::Wheels, "pyenv-3.11";
    wheels_app_pyenv_3_12: App::Wheels, "pyenv-3.12";
    wheels_app_pyenv_3_13: App::Wheels, "pyenv-3.13";
    wheels_app_debian: App::Wheels, "debian";
}

#[test]
fn hidden_world_matrix_summary() {
    // Proves: the matrix above covers every app × interpreter × layout, and names each
    // case that cannot run here (missing interpreter) instead of passing it silently.
    let found = interpreters();
    let mut table = String::new();
    let (mut ran, mut skipped) = (0, 0);
    let _ = writeln!(
        table,
        "hidden-world matrix (apps × interpreters × layouts):"
    );
    for app in [App::Stdlib, App::Wheels] {
        for label in LABELS {
            let present = found.iter().any(|i| i.label == *label);
            let state = if present { "RUN" } else { "SKIPPED" };
            let _ = writeln!(
                table,
                "  {state:7} {} × {label} × {{{}}}",
                app.name(),
                LAYOUTS.join(", ")
            );
            if present {
                ran += LAYOUTS.len();
            } else {
                skipped += LAYOUTS.len();
            }
        }
    }
    let _ = writeln!(
        table,
        "  {ran} cases run, {skipped} skipped, of {} = 2 apps × {} interpreters × {} layouts",
        ran + skipped,
        LABELS.len(),
        LAYOUTS.len()
    );
    eprint!("{table}");
    assert_eq!(ran + skipped, 2 * LABELS.len() * LAYOUTS.len());
    assert_eq!(LABELS.len(), support::PYENV_MINORS.count() + 1);
    for i in &found {
        assert!(
            LABELS.contains(&i.label.as_str()),
            "{} is not in the matrix",
            i.label
        );
    }
    if skipped > 0 {
        eprintln!("SKIPPED: {skipped} hidden-world cases (see the table above)");
    }
}

#[test]
fn the_example_test_hooks_are_the_harness_dump_snippet() {
    // Proves: the apps' `_shenzi_maps.py` writes the format tests/support/hidden.rs reads
    // (it holds PY_DUMP_SNIPPET verbatim), and both apps import it first.
    for app in [App::Stdlib, App::Wheels] {
        let hook = std::fs::read_to_string(app.source().join("_shenzi_maps.py")).unwrap();
        assert!(
            hook.contains(PY_DUMP_SNIPPET.trim()),
            "{}: _shenzi_maps.py drifted from PY_DUMP_SNIPPET",
            app.name()
        );
        let main = std::fs::read_to_string(app.source().join("app.py")).unwrap();
        let first_import = main
            .lines()
            .find(|l| l.starts_with("import ") || l.starts_with("from "))
            .unwrap();
        assert!(
            first_import.starts_with("import _shenzi_maps"),
            "{}",
            app.name()
        );
    }
}

// ---- mutations: the suite can fail ----

/// The first interpreter of the matrix that is here, preferring pyenv's 3.11.
fn mutation_case(app: App) -> Option<Case> {
    let found = interpreters();
    let label = ["pyenv-3.11"]
        .into_iter()
        .chain(LABELS.iter().copied())
        .find(|l| found.iter().any(|i| i.label == *l))?;
    case(app, label, &found)
}

/// Builds the default-layout dist of `app`, lets `mutate` break it, and asserts that the
/// hidden-world run fails (other output or exit status) while it did pass before.
/// Returns the host run of the mutated dist and the traced case, for further checks.
fn mutated_run(app: App, mutate: impl Fn(&Path) -> String) -> Option<(Output, Traced)> {
    let case = mutation_case(app).or_else(|| {
        eprintln!("SKIPPED: mutation check of {}: no interpreter", app.name());
        None
    })?;
    let t = trace(&case);
    let world = world_for(&t, "default");
    let (dist, link) = build(&t, &world, "default").unwrap();
    let (good, _) = run_hidden(&t, &world, &link).unwrap();
    assert_eq!(
        text(&good.stdout),
        text(&t.untraced.stdout),
        "precondition: the unmutated dist runs: {}",
        describe(&good)
    );
    let what = mutate(&dist);
    let (bad, _) = run_hidden(&t, &world, &link).unwrap();
    assert!(
        !(bad.status.success() && bad.stdout == t.untraced.stdout),
        "{}: the dist with {what} still passed in the hidden world:\n{}",
        case.name(),
        describe(&bad)
    );
    eprintln!(
        "{}: with {what} the hidden-world run fails as it must:\n{}",
        case.name(),
        describe(&bad)
    );
    let host = Command::new(&link)
        .args(ARGS)
        .current_dir(t.scratch.path())
        .output()
        .unwrap();
    Some((host, t))
}

/// On the host the mutated dist still prints what the untraced run printed: the system's
/// copy of `lib` stands in, which is why the hidden world is needed.
fn assert_host_run_passes(host: &Output, t: &Traced, lib: &str) {
    assert_eq!(
        text(&host.stdout),
        text(&t.untraced.stdout),
        "on the host the system's {lib} stands in: {}",
        describe(host)
    );
}

/// The one regular file under `root` whose name starts with `prefix`.
fn only_file(root: &Path, prefix: &str) -> PathBuf {
    let files: Vec<PathBuf> = walkdir::WalkDir::new(root)
        .into_iter()
        .map(Result::unwrap)
        .filter(|e| e.file_type().is_file())
        .filter(|e| e.file_name().to_string_lossy().starts_with(prefix))
        .map(|e| e.into_path())
        .collect();
    assert_eq!(files.len(), 1, "one {prefix}* file expected: {files:?}");
    files.into_iter().next().unwrap()
}

#[test]
fn mutation_a_deleted_bundled_library_fails_in_the_hidden_world() {
    // Proves: with the dist's libz deleted (binascii and zlib need it; the stdlib app also
    // loads it by name with ctypes), the hidden-world run fails, while on the host the system's libz silently stands in
    // and only the maps check would notice.
    let Some((host, t)) = mutated_run(App::Stdlib, |dist| {
        let libz = only_file(dist, "libz.so");
        std::fs::remove_file(&libz).unwrap();
        format!("{} deleted", libz.strip_prefix(dist).unwrap().display())
    }) else {
        return;
    };
    assert_host_run_passes(&host, &t, "libz");
}

#[test]
fn mutation_a_wrong_runpath_fails_in_the_hidden_world() {
    // Proves: with `_ssl`'s RUNPATH pointing nowhere, the hidden-world run fails (libssl is
    // only in the dist there), while on the host the system's libssl stands in.
    let Some((host, t)) = mutated_run(App::Stdlib, |dist| {
        let ssl = only_file(&dist.join("python"), "_ssl.");
        let out = Command::new("patchelf")
            .args(["--set-rpath", "$ORIGIN/nowhere"])
            .arg(&ssl)
            .output()
            .expect("patchelf runs (scripts/setup installs it)");
        assert!(out.status.success(), "{}", describe(&out));
        format!(
            "RUNPATH $ORIGIN/nowhere on {}",
            ssl.strip_prefix(dist).unwrap().display()
        )
    }) else {
        return;
    };
    assert_host_run_passes(&host, &t, "libssl");
}

#[test]
fn mutation_a_deleted_wheel_library_fails_in_the_hidden_world() {
    // Proves: with numpy's bundled OpenBLAS deleted from the dist of the wheels app, the
    // hidden-world run fails.
    let Some((host, _t)) = mutated_run(App::Wheels, |dist| {
        let blas = only_file(dist, "libscipy_openblas");
        std::fs::remove_file(&blas).unwrap();
        format!("{} deleted", blas.strip_prefix(dist).unwrap().display())
    }) else {
        return;
    };
    // Nothing on the host provides it either.
    assert!(!host.status.success(), "{}", describe(&host));
}

// ---- minimal ships what the app used ----

/// The regular files and links below `root` whose name starts with one of `prefixes`.
fn files_named(root: &Path, prefixes: &[&str]) -> Vec<PathBuf> {
    walkdir::WalkDir::new(root)
        .into_iter()
        .map(Result::unwrap)
        .filter(|e| !e.file_type().is_dir())
        .filter(|e| {
            let name = e.file_name().to_string_lossy();
            prefixes.iter().any(|p| name.starts_with(p))
        })
        .map(|e| e.into_path())
        .collect()
}

/// The member names of a zip archive, read by the zip's central directory (Python's
/// `zipfile`, the reader the interpreter itself trusts), empty when it cannot be read.
fn zip_members(archive: &Path) -> Vec<String> {
    let Ok(out) = Command::new("python3")
        .args([
            "-I",
            "-c",
            "import sys, zipfile; print(*zipfile.ZipFile(sys.argv[1]).namelist(), sep='\\n')",
        ])
        .arg(archive)
        .output()
    else {
        return Vec::new();
    };
    text(&out.stdout).lines().map(str::to_owned).collect()
}

/// Extension modules the stdlib app never imports, and the libraries only they need.
const UNIMPORTED: &[&str] = &["_tkinter.", "_curses.", "_curses_panel.", "readline."];
const THEIR_LIBRARIES: &[&str] = &["libtk", "libtcl", "libX11", "libncursesw", "libpanelw"];

/// The stdlib app under `label` with `minimal`, in the hidden world, and the same
/// trace with `default` on the host for contrast.
fn check_minimal_selects_imported(label: &str) {
    let Some(case) = case(App::Stdlib, label, &interpreters()) else {
        return;
    };
    let t = trace(&case);
    // The layout that ships lib-dynload whole has them: the assertions below can fail.
    let whole = t.scratch.path().join("whole default");
    let out = support::apply("default", &t.manifest, &whole, &[]);
    assert!(out.status.success(), "{}", describe(&out));
    assert!(
        !files_named(&whole, &["_tkinter."]).is_empty()
            && !files_named(&whole, &["libtk"]).is_empty(),
        "{}: precondition: default ships `_tkinter` and Tcl/Tk",
        case.name()
    );
    let check = |dist: &Path, _: &support::hidden::HiddenWorld| -> Result<(), String> {
        let mut problems = Vec::new();
        let shipped = files_named(dist, UNIMPORTED);
        if !shipped.is_empty() {
            problems.push(format!("unimported extension modules shipped: {shipped:?}"));
        }
        let libraries = files_named(dist, THEIR_LIBRARIES);
        if !libraries.is_empty() {
            problems.push(format!("their libraries shipped: {libraries:?}"));
        }
        // What the app imported is there: `_ssl` and `_sqlite3` (and their libraries).
        for used in ["_ssl.", "_sqlite3.", "libssl", "libsqlite3"] {
            if files_named(dist, &[used]).is_empty() {
                problems.push(format!("`{used}*` is missing"));
            }
        }
        let lib = dist
            .join("python/lib")
            .join(format!("python{}", label.trim_start_matches("pyenv-")));
        // `minimal` packs the stdlib into `pythonXY.zip`; `os.py` stays a file.
        let version = label.trim_start_matches("pyenv-").replace('.', "");
        let archive = dist.join(format!("python/lib/python{version}.zip"));
        let members = zip_members(&archive);
        if members.is_empty() {
            problems.push(format!("`{}` holds nothing", archive.display()));
        }
        for kept in ["os.py", "lib-dynload"] {
            if !lib.join(kept).exists() {
                problems.push(format!("`{kept}` is missing from the stdlib"));
            }
        }
        if !members.iter().any(|m| m == "encodings/__init__.py") {
            problems.push("`encodings` is missing from the stdlib's archive".into());
        }
        // Modules the app never imported are not shipped.
        for unused in ["tkinter", "curses", "xmlrpc", "email"] {
            if lib.join(unused).exists()
                || members.iter().any(|m| m.starts_with(&format!("{unused}/")))
            {
                problems.push(format!("the unimported `{unused}` package is shipped"));
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems.join("\n"))
        }
    };
    match e2e::check_layout_with(&t, "minimal", &check) {
        Ok(summary) => eprintln!("PASS {} × minimal: {summary}", case.name()),
        Err(why) => panic!("{} × minimal: {why}", case.name()),
    }
}

#[test]
fn minimal_ships_only_imported_stdlib_modules_pyenv_3_9() {
    // Proves: on an interpreter that imports its startup modules from disk, `minimal`
    // (`select imported` on the stdlib and lib-dynload) ships the imported modules only,
    // leaves out `_tkinter`, `_curses`, `readline` and Tcl/Tk, X11 and ncurses with them,
    // keeps `os.py`, `encodings` and `lib-dynload`, and the app runs moved and hidden.
    check_minimal_selects_imported("pyenv-3.9");
}

#[test]
fn minimal_ships_only_imported_stdlib_modules_pyenv_3_11() {
    // Proves: the same on an interpreter whose startup modules are frozen (`os` is never
    // imported from disk, and is still shipped as the prefix landmark).
    check_minimal_selects_imported("pyenv-3.11");
}

#[test]
fn minimal_ships_only_imported_stdlib_modules_pyenv_3_13() {
    // Proves: the same where a stdlib module replaces itself in `sys.modules`
    // (`collections/abc.py` leaves the frozen `_collections_abc` under its name, and
    // `_decimal` imports it): the source its name gives is shipped.
    check_minimal_selects_imported("pyenv-3.13");
}
