//! The real-world pattern suite (issue 11): app patterns that broke dists, each built by the
//! test itself from real parts (gcc-built libraries and programs, real interpreters, apt's
//! packages), traced once and checked with every shipped layout in the hidden world
//! (tests/support/e2e.rs): same stdout and exit status as the untraced run, nothing mapped
//! from outside the dist but the layout's policy.
//!
//! Needs root (mount namespaces), gcc and `scripts/setup`.

mod support;

use std::path::Path;

use support::e2e::{self, AppRun, LAYOUTS};

/// The app's folder `app src` in `scratch` (a path with a space), with `app.py` (which
/// imports the hidden-world hook first) and the hook.
fn app_with(scratch: &Path, script: &str) -> std::path::PathBuf {
    let app = scratch.join("app src");
    write_files(
        &app,
        &[("app.py", &format!("import _shenzi_maps\n{script}"))],
    );
    e2e::write_maps_hook(&app);
    app
}

/// Writes `files` (path relative to `dir`, content) below `dir`, making folders.
fn write_files(dir: &Path, files: &[(&str, &str)]) {
    for (rel, content) in files {
        let path = dir.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, content).unwrap();
    }
}

/// A venv of pyenv's CPython 3.11 without pip, in `scratch`: the fixtures' own site dir,
/// empty, so that `select all` layouts do not copy whatever the base interpreter has.
fn bare_venv(scratch: &Path) -> std::path::PathBuf {
    let venv = scratch.join("venv");
    support::output_ok(
        std::process::Command::new(support::python311())
            .args(["-m", "venv", "--without-pip"])
            .arg(&venv),
    );
    venv
}

/// `python app.py` in `app` with a fresh [`bare_venv`].
fn in_bare_venv(name: &str, scratch: &Path, app: &Path) -> AppRun {
    let venv = bare_venv(scratch);
    let mut run = AppRun::new(name, &venv.join("bin/python"), app, "app.py");
    run.venv = Some(venv);
    run
}

#[test]
fn a_data_file_beside_the_entry_script() {
    // Pattern 3: the entry script opens `x.txt` from its own folder.
    let scratch = e2e::scratch();
    let app = app_with(
        scratch.path(),
        "import os\n\
         here = os.path.dirname(os.path.abspath(__file__))\n\
         with open(os.path.join(here, 'x.txt')) as f:\n    print('data:', f.read().strip())\n",
    );
    write_files(&app, &[("x.txt", "beside the script\n")]);
    let run = in_bare_venv("data beside the entry", scratch.path(), &app);
    e2e::check_layouts(&e2e::trace(run, scratch), LAYOUTS);
}

/// The `--system-site-packages` venv of Debian's python3 that `scripts/setup` makes; apt's
/// `python3-numpy` is in `/usr/lib/python3/dist-packages`.
fn debian_system_site_venv() -> std::path::PathBuf {
    let venv = support::repo_root().join(".cache/venvs/debian-system-site");
    assert!(
        venv.join(".complete").exists(),
        "{} is missing: run scripts/setup",
        venv.display()
    );
    venv
}

#[test]
fn debian_venv_with_system_site_packages_imports_an_apt_package() {
    // Pattern 1: numpy comes from apt, through the venv's `include-system-site-packages`.
    let venv = debian_system_site_venv();
    let python = venv.join("bin/python");
    let origin = std::process::Command::new(&python)
        .args(["-c", "import numpy; print(numpy.__file__)"])
        .output()
        .unwrap();
    assert!(
        support::text(&origin.stdout).starts_with("/usr/lib/python3/dist-packages/numpy/"),
        "the fixture needs apt's python3-numpy seen through the venv (run scripts/setup): {}",
        support::describe(&origin)
    );
    let scratch = e2e::scratch();
    let app = app_with(
        scratch.path(),
        "import numpy\n\
             a = numpy.arange(12, dtype=float).reshape(3, 4)\n\
             print(numpy.__version__, a.sum(axis=0).tolist())\n\
             print('det', round(float(numpy.linalg.det([[2.0, 1.0], [1.0, 3.0]])), 6))\n",
    );
    let mut run = AppRun::new("debian system-site venv", &python, &app, "app.py");
    run.venv = Some(venv);
    e2e::check_layouts(&e2e::trace(run, scratch), LAYOUTS);
}

#[test]
fn an_imported_module_a_builtin_exclude_matches() {
    // Pattern 6: `default` and `minimal` exclude `tkinter/**`, `idlelib/**`,
    // `turtledemo/**` (and `minimal` `pydoc_data/**`) from the stdlib; the app imports
    // them and reads a data file of one. (Creating a Tk window also needs Tcl's script
    // library, opened by native code: not this pattern.)
    let scratch = e2e::scratch();
    let app = app_with(
        scratch.path(),
        "import importlib.resources\nimport tkinter\nimport idlelib\n\
             import turtledemo\nfrom pydoc_data import topics\n\
             print('tk', tkinter.TkVersion, tkinter.TclVersion)\n\
             print('idlelib', idlelib.__name__, 'turtledemo', turtledemo.__name__)\n\
             print('topics', 'if' in topics.topics)\n\
             icon = importlib.resources.files('idlelib').joinpath('Icons/idle_16.png').read_bytes()\n\
             print('icon', len(icon), icon[:4])\n",
    );
    let run = in_bare_venv("imported but excluded", scratch.path(), &app);
    e2e::check_layouts(&e2e::trace(run, scratch), LAYOUTS);
}

/// Writes a pure-Python wheel `NAME-1.0-py3-none-any.whl` into `dir` (with Python's
/// `zipfile`, RECORD hashes and all): `files` below the package, `entry_points` as the
/// text of its `entry_points.txt`.
fn write_wheel(python: &Path, dir: &Path, name: &str, files: &[(&str, &str)], entry_points: &str) {
    let script = r#"
import base64, hashlib, json, sys, zipfile
out, name, files, entry_points = sys.argv[1], sys.argv[2], json.loads(sys.argv[3]), sys.argv[4]
info = name + "-1.0.dist-info/"
files = {name + "/" + rel: text for rel, text in files}
files[info + "METADATA"] = "Metadata-Version: 2.1\nName: %s\nVersion: 1.0\n" % name
files[info + "WHEEL"] = "Wheel-Version: 1.0\nGenerator: shenzi-tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
files[info + "entry_points.txt"] = entry_points
files[info + "top_level.txt"] = name + "\n"
record = []
with zipfile.ZipFile(out, "w") as z:
    for path, text in sorted(files.items()):
        data = text.encode()
        z.writestr(path, data)
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record.append("%s,sha256=%s,%d" % (path, digest, len(data)))
    record.append(info + "RECORD,,")
    z.writestr(info + "RECORD", "\n".join(record) + "\n")
"#;
    let files: Vec<[&str; 2]> = files.iter().map(|(a, b)| [*a, *b]).collect();
    support::output_ok(
        std::process::Command::new(python)
            .args(["-c", script])
            .arg(dir.join(format!("{name}-1.0-py3-none-any.whl")))
            .arg(name)
            .arg(serde_json::to_string(&files).unwrap())
            .arg(entry_points),
    );
}

#[test]
fn an_app_reading_every_entry_point() {
    // Pattern 8: a plugin system lists every installed distribution's entry points (its
    // `entry_points.txt`, imported or not) and loads one; `shenzi_tool` is never imported.
    let scratch = e2e::scratch();
    let wheels = scratch.path().join("wheels");
    std::fs::create_dir(&wheels).unwrap();
    let venv = bare_venv(scratch.path());
    let python = venv.join("bin/python");
    write_wheel(
        &python,
        &wheels,
        "shenzi_hello",
        &[(
            "__init__.py",
            "def hello():\n    return 'hello from the plugin'\n",
        )],
        "[shenzi_demo.plugins]\nhello = shenzi_hello:hello\n",
    );
    write_wheel(
        &python,
        &wheels,
        "shenzi_tool",
        &[("__init__.py", "raise SystemExit('never imported')\n")],
        "[console_scripts]\nshenzi-tool = shenzi_tool:main\n\n[shenzi_demo.plugins]\nother = shenzi_tool:other\n",
    );
    // The wheel venv's pip installs into the bare venv (`--python`): no pip of its own.
    let mut pip = std::process::Command::new(support::wheel_venv().join("bin/python"));
    pip.args(["-m", "pip", "--python"])
        .arg(&python)
        .args([
            "install",
            "--quiet",
            "--no-index",
            "--no-deps",
            "--disable-pip-version-check",
        ])
        .arg(wheels.join("shenzi_hello-1.0-py3-none-any.whl"))
        .arg(wheels.join("shenzi_tool-1.0-py3-none-any.whl"));
    support::output_ok(&mut pip);
    let app = app_with(
        scratch.path(),
        "import importlib.metadata as metadata\n\
             eps = metadata.entry_points()\n\
             for group in sorted(eps.groups):\n    print(group, sorted(ep.name for ep in eps.select(group=group)))\n\
             print(sorted(d.metadata['Name'] for d in metadata.distributions()))\n\
             (plugin,) = eps.select(group='shenzi_demo.plugins', name='hello')\n\
             print(plugin.load()(), 'from', plugin.dist.name, plugin.dist.version)\n",
    );
    let mut run = AppRun::new("reads every entry point", &python, &app, "app.py");
    run.venv = Some(venv);
    let traced = e2e::trace(run, scratch);
    assert!(
        support::text(&traced.untraced.stdout).contains("console_scripts ['shenzi-tool']"),
        "the fixture lists the entry points of a distribution it never imports:\n{}",
        support::describe(&traced.untraced)
    );
    e2e::check_layouts(&traced, LAYOUTS);
}
