//! End-to-end checks of one traced app against the shipped layouts: trace it once, then for
//! each layout apply, move the dist away from where it was built, run it through a symlink
//! to its launcher inside a [`HiddenWorld`] where the source interpreter, its venv, the
//! app's sources, the repo's `.cache` and every library the layout's policy does not trust
//! are gone (a trusted library the run used keeps what it needs: [`trusted_closure`]), and
//! compare with the untraced run on the host.
//!
//! A layout passes when the hidden run prints the same stdout and exits with the same
//! status as the untraced run, no dumped process has `LD_LIBRARY_PATH`, each expected
//! process dumped its maps (the apps' `_shenzi_maps.py` hook), every Python process maps
//! something inside the dist, and every object mapped lies inside the dist or is in the
//! world's policy set. Used by the interpreter matrix (tests/e2e_hidden.rs) and the real-world
//! pattern suite (tests/e2e_patterns.rs).

use std::ffi::OsString;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::hidden::*;
use super::{describe, repo_root, shenzi, text};

/// Every layout shipped in `layouts/`.
pub const LAYOUTS: &[&str] = &["default", "flat", "farm-per-unit", "minimal"];

/// How to run one app: the same command, folder and environment for the untraced run, the
/// trace and (with the dist's launcher in place of `python SCRIPT`) the hidden run.
#[derive(Debug, Clone)]
pub struct AppRun {
    /// For messages: `stdlib_app × pyenv-3.11`.
    pub name: String,
    /// The Python that runs the app: an interpreter, or a venv's `bin/python`.
    pub python: PathBuf,
    /// The venv `python` belongs to, hidden in the world.
    pub venv: Option<PathBuf>,
    /// The working folder of the untraced and traced runs (the app's sources).
    pub cwd: PathBuf,
    /// What follows `python`: the script (relative to `cwd`) and its arguments.
    pub script: String,
    pub args: Vec<String>,
    /// Environment given to every run (host and world), on top of a clean one in the world.
    pub env: Vec<(OsString, OsString)>,
    /// More to hide in the world, besides the Python, `cwd`, `.cache` and `examples/`.
    pub hide: Vec<PathBuf>,
    /// How many processes must have dumped their maps, by tag (`exit`, `worker`, `sh`).
    pub expected_dumps: Vec<(String, usize)>,
}

impl AppRun {
    /// `python SCRIPT` in `cwd`, one Python process expected to dump at exit.
    pub fn new(name: impl Into<String>, python: &Path, cwd: &Path, script: &str) -> Self {
        AppRun {
            name: name.into(),
            python: python.to_path_buf(),
            venv: None,
            cwd: cwd.to_path_buf(),
            script: script.to_owned(),
            args: Vec::new(),
            env: Vec::new(),
            hide: Vec::new(),
            expected_dumps: vec![("exit".into(), 1)],
        }
    }
}

/// What one traced app leaves for the layouts.
pub struct Traced {
    pub run: AppRun,
    /// Where dists are built, moved and linked from (in `/tmp`, outside the hidden paths).
    pub scratch: tempfile::TempDir,
    pub manifest: PathBuf,
    pub untraced: Output,
    /// What the world hides.
    pub hidden: Vec<PathBuf>,
}

/// Writes the hidden-world test hook `_shenzi_maps.py` into `dir`; an app imports it first.
pub fn write_maps_hook(dir: &Path) {
    let hook = repo_root().join("examples/stdlib_app/_shenzi_maps.py");
    std::fs::copy(&hook, dir.join("_shenzi_maps.py")).expect("the example's maps hook copies");
}

/// A scratch folder in `/tmp` for one app: its sources (when the test writes or copies
/// them there), the manifest, and the dists.
pub fn scratch() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("shenzi-e2e-")
        .tempdir()
        .unwrap()
}

/// Runs the app untraced on the host, then traced into `scratch`; the trace must pass the
/// exit status through and print the same stdout.
pub fn trace(run: AppRun, scratch: tempfile::TempDir) -> Traced {
    let name = run.name.clone();
    let untraced = Command::new(&run.python)
        .arg(&run.script)
        .args(&run.args)
        .current_dir(&run.cwd)
        .envs(run.env.iter().map(|(k, v)| (k, v)))
        .env_remove(DUMP_DIR_ENV)
        .output()
        .unwrap();

    let manifest = scratch.path().join("shenzi.json");
    let traced = shenzi()
        .args(["trace", "-o"])
        .arg(&manifest)
        .arg("--")
        .arg(&run.python)
        .arg(&run.script)
        .args(&run.args)
        .current_dir(&run.cwd)
        .envs(run.env.iter().map(|(k, v)| (k, v)))
        .env_remove(DUMP_DIR_ENV)
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    assert_eq!(
        traced.status.code(),
        untraced.status.code(),
        "{name}: the trace does not pass the exit status through: {}\nuntraced: {}",
        describe(&traced),
        describe(&untraced)
    );
    assert_eq!(
        text(&traced.stdout),
        text(&untraced.stdout),
        "{name}: the traced run prints something else"
    );

    let m: Value = serde_json::from_str(&std::fs::read_to_string(&manifest).unwrap()).unwrap();
    let path = |key: &str| PathBuf::from(m["python"][key].as_str().expect(key));
    let mut hidden =
        hide_paths_for_python(&path("prefix"), &path("base_prefix"), run.venv.as_deref());
    hidden.extend([
        repo_root().join(".cache"),
        repo_root().join("examples"),
        run.cwd.clone(),
    ]);
    hidden.extend(run.hide.iter().cloned());
    Traced {
        run,
        scratch,
        manifest,
        untraced,
        hidden,
    }
}

/// The SONAME globs the layout trusts the target to provide (its `system` block: presets,
/// `add`, `cxx-runtime system`), less what it bundles anyway. The world keeps exactly
/// these system libraries, and the maps check allows exactly these.
pub fn layout_policy(layout: &str) -> Vec<String> {
    let source = shenzi::layout::load(layout).expect("a shipped layout");
    let checked = shenzi::layout::check(&source);
    let system = checked.layout.expect("a shipped layout checks").system;
    system
        .provided
        .iter()
        .filter(|p| !system.bundled.iter().any(|b| b.pattern == p.pattern))
        .map(|p| p.pattern.clone())
        .collect()
}

/// What a target that provides the trusted libraries the traced run used provides with
/// them: the libraries those need in turn (`DT_NEEDED`, transitively), by SONAME, that the
/// policy does not list itself. A system's `libxcb.so.1` comes with its `libXau.so.6`, and
/// the dist leaves both to the target. Only the trusted objects the run mapped count, so
/// the world is no larger than the app's use of the system (for the glibc preset: none).
pub fn trusted_closure(manifest: &Path, policy: &[String]) -> Vec<String> {
    let m: Value = serde_json::from_str(&std::fs::read_to_string(manifest).unwrap()).unwrap();
    let mut set = globset::GlobSetBuilder::new();
    for p in policy {
        set.add(globset::Glob::new(p).expect("a policy glob"));
    }
    let set = set.build().expect("the policy globs compile");
    // Every mapped object by each name it answers to.
    let mut by_name: std::collections::BTreeMap<String, PathBuf> = Default::default();
    let mut trusted = Vec::new();
    for o in m["native"]["objects"].as_array().into_iter().flatten() {
        let Some(path) = o["path"].as_str().map(PathBuf::from) else {
            continue;
        };
        let file = path.file_name().unwrap().to_string_lossy().into_owned();
        let name = o["soname"].as_str().map_or(file.clone(), str::to_owned);
        if set.is_match(&name) {
            trusted.push(path.clone());
        }
        by_name.insert(name, path.clone());
        by_name.insert(file, path);
    }
    let mut seen: std::collections::BTreeSet<PathBuf> = trusted.iter().cloned().collect();
    let mut extra = std::collections::BTreeSet::new();
    while let Some(path) = trusted.pop() {
        let Ok(bytes) = std::fs::read(&path) else {
            continue;
        };
        let Ok(elf) = goblin::elf::Elf::parse(&bytes) else {
            continue;
        };
        for need in elf.libraries {
            if let Some(dep) = by_name.get(need) {
                if !set.is_match(need) {
                    extra.insert(need.to_owned());
                }
                if seen.insert(dep.clone()) {
                    trusted.push(dep.clone());
                }
            }
        }
    }
    extra.into_iter().collect()
}

/// The world a dist of `layout` runs in: everything of `t.hidden` gone, and only the
/// layout's policy libraries (and what the trusted ones the run used need,
/// [`trusted_closure`]) left in the system folders.
pub fn world_for(t: &Traced, layout: &str) -> HiddenWorld {
    let mut policy = layout_policy(layout);
    policy.extend(trusted_closure(&t.manifest, &policy));
    HiddenWorld::new(
        HiddenSpec::new()
            .hide_all(t.hidden.iter().cloned())
            .policy(policy)
            // A healthy run takes seconds; a crashed app's orphaned pool workers would
            // otherwise hold its output pipe open for the default 300 s.
            .timeout(Duration::from_secs(60)),
    )
    .expect("the hidden world can be prepared")
}

/// Applies `layout`, moves the dist away from where it was built, and links its launcher
/// from a third folder. Returns (dist root after the move, launcher link).
pub fn build(t: &Traced, world: &HiddenWorld, layout: &str) -> Result<(PathBuf, PathBuf), String> {
    let built = t.scratch.path().join(format!("built {layout}"));
    let out = super::apply(layout, &t.manifest, &built, &[]);
    if !out.status.success() {
        return Err(format!("apply failed: {}", describe(&out)));
    }
    let moved = t.scratch.path().join(format!("moved {layout}/dist"));
    std::fs::create_dir_all(moved.parent().unwrap()).unwrap();
    std::fs::rename(&built, &moved).unwrap();
    let links = t.scratch.path().join(format!("links {layout}"));
    std::fs::create_dir_all(&links).unwrap();
    let link = links.join("app");
    std::os::unix::fs::symlink(moved.join("bin/app"), &link).unwrap();
    world.assert_visible(&moved);
    Ok((moved, link))
}

/// Runs the dist through `link` inside the world, from an empty working folder, with the
/// app's arguments and environment.
pub fn run_hidden(
    t: &Traced,
    world: &HiddenWorld,
    link: &Path,
) -> std::io::Result<(Output, Vec<ProcessDump>)> {
    let cwd = t.scratch.path().join("cwd");
    std::fs::create_dir_all(&cwd).unwrap();
    let mut argv: Vec<OsString> = vec![link.into()];
    argv.extend(t.run.args.iter().map(OsString::from));
    world.run_collecting(&argv, &cwd, &t.run.env, b"")
}

/// More checks of one layout's dist inside its world (run a shipped program, load a
/// shipped library), after the app's run: `Err` says what failed.
pub type ExtraCheck<'a> = &'a dyn Fn(&Path, &HiddenWorld) -> Result<(), String>;

/// Every check of one layout; `Err` lists what failed, with the app's output.
pub fn check_layout(t: &Traced, layout: &str) -> Result<String, String> {
    check_layout_with(t, layout, &|_, _| Ok(()))
}

/// [`check_layout`], then `extra` on the moved dist in the same world.
pub fn check_layout_with(
    t: &Traced,
    layout: &str,
    extra: ExtraCheck<'_>,
) -> Result<String, String> {
    let start = Instant::now();
    let world = world_for(t, layout);
    let (dist, link) = build(t, &world, layout)?;
    let applied = start.elapsed();
    let (out, dumps) =
        run_hidden(t, &world, &link).map_err(|e| format!("hidden-world run: {e}"))?;
    let ran = start.elapsed() - applied;

    let mut problems = Vec::new();
    if out.stdout != t.untraced.stdout {
        problems.push(format!(
            "stdout differs from the untraced run\n--- expected\n{}",
            text(&t.untraced.stdout)
        ));
    }
    if out.status.code() != t.untraced.status.code() {
        problems.push(format!(
            "exit status {:?}, untraced {:?}",
            out.status, t.untraced.status
        ));
    }
    for d in &dumps {
        if let Some((_, v)) = d.environ.iter().find(|(k, _)| k == "LD_LIBRARY_PATH") {
            problems.push(format!(
                "process {} ({}) has LD_LIBRARY_PATH={}",
                d.pid,
                d.tag,
                v.to_string_lossy()
            ));
        }
    }
    for (tag, min) in &t.run.expected_dumps {
        let n = dumps
            .iter()
            .filter(|d| d.tag == *tag && !d.maps.is_empty())
            .count();
        if n < *min {
            problems.push(format!(
                "{n} process(es) dumped maps with tag {tag}, expected at least {min}"
            ));
        }
    }
    // Every Python process runs the dist's interpreter: its maps reach into the dist.
    for d in dumps.iter().filter(|d| d.tag != "sh" && !d.maps.is_empty()) {
        if !d.mapped_files().iter().any(|p| p.starts_with(&dist)) {
            problems.push(format!(
                "process {} ({}) maps nothing inside the dist",
                d.pid, d.tag
            ));
        }
    }
    for v in check_maps_within(&dumps, &dist, world.policy_names()) {
        problems.push(v.to_string());
    }
    if let Err(why) = extra(&dist, &world) {
        problems.push(why);
    }
    let mapped: usize = dumps.iter().map(|d| d.mapped_files().len()).sum();
    let _ = std::fs::remove_dir_all(dist.parent().unwrap());
    if problems.is_empty() {
        Ok(format!(
            "apply {:.1}s, run {:.1}s, {} process dumps, {mapped} mapped files checked",
            applied.as_secs_f64(),
            ran.as_secs_f64(),
            dumps.len()
        ))
    } else {
        Err(format!("{}\n{}", problems.join("\n"), describe(&out)))
    }
}

/// Checks every layout of `layouts` (all of them even when one fails), prints one line per
/// layout, and fails with the whole report when any failed.
pub fn check_layouts(t: &Traced, layouts: &[&str]) {
    check_layouts_with(t, layouts, &|_, _| Ok(()));
}

/// [`check_layouts`], with `extra` checks of each dist in its world.
pub fn check_layouts_with(t: &Traced, layouts: &[&str], extra: ExtraCheck<'_>) {
    let start = Instant::now();
    let mut report = String::new();
    let mut failed = Vec::new();
    for layout in layouts {
        match check_layout_with(t, layout, extra) {
            Ok(summary) => {
                let _ = writeln!(report, "PASS {} × {layout}: {summary}", t.run.name);
            }
            Err(why) => {
                let _ = writeln!(report, "FAIL {} × {layout}: {why}", t.run.name);
                failed.push(*layout);
            }
        }
    }
    eprint!("{report}");
    eprintln!(
        "{}: {} layouts in {:.1}s",
        t.run.name,
        layouts.len(),
        start.elapsed().as_secs_f64()
    );
    assert!(
        failed.is_empty(),
        "{}: layouts {failed:?} failed in the hidden world:\n{report}",
        t.run.name
    );
}

/// Writes `text` to `path`, making its folder.
pub fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

/// The app's folder `dir/app src` with the maps hook and an `app.py` that imports it
/// before `code`.
pub fn app(dir: &Path, code: &str) -> PathBuf {
    let src = dir.join("app src");
    std::fs::create_dir_all(&src).unwrap();
    write_maps_hook(&src);
    write(&src.join("app.py"), &format!("import _shenzi_maps\n{code}"));
    src
}

/// A venv of pyenv's CPython 3.11 without pip in `scratch`, with pytest installed from its
/// real wheels (`scripts/setup` downloads them into `.cache/wheels/pytest`) into its site
/// dir.
pub fn pytest_venv(scratch: &Path) -> PathBuf {
    let venv = scratch.join("venv");
    super::output_ok(
        Command::new(super::python311())
            .args(["-m", "venv", "--without-pip"])
            .arg(&venv),
    );
    let wheels = repo_root().join(".cache/wheels/pytest");
    assert!(
        wheels.join(".complete").is_file(),
        "pytest's wheels are missing: run scripts/setup"
    );
    super::output_ok(
        Command::new(super::python311())
            .args([
                "-m",
                "pip",
                "install",
                "--quiet",
                "--no-index",
                "--find-links",
            ])
            .arg(&wheels)
            .arg("--target")
            .arg(venv.join("lib/python3.11/site-packages"))
            .arg("pytest"),
    );
    venv
}

/// Runs `launcher ARGS` of a dist built from `manifest` in a world that hides `hide`, the
/// Python of the manifest (and `venv`), the repo's `.cache` and `examples/`, and every
/// library the default layout's policy does not trust; from an empty folder in `cwd`.
pub fn run_dist_hidden(
    manifest: &Path,
    venv: Option<&Path>,
    hide: &[PathBuf],
    launcher: &Path,
    args: &[&str],
    cwd: &Path,
) -> Output {
    let m: Value = serde_json::from_str(&std::fs::read_to_string(manifest).unwrap()).unwrap();
    let path = |key: &str| PathBuf::from(m["python"][key].as_str().expect(key));
    let mut hidden = hide_paths_for_python(&path("prefix"), &path("base_prefix"), venv);
    hidden.extend([repo_root().join(".cache"), repo_root().join("examples")]);
    hidden.extend(hide.iter().cloned());
    let mut policy = layout_policy("default");
    policy.extend(trusted_closure(manifest, &policy));
    let world = HiddenWorld::new(
        HiddenSpec::new()
            .hide_all(hidden)
            .policy(policy)
            .timeout(Duration::from_secs(60)),
    )
    .expect("the hidden world can be prepared");
    world.assert_visible(launcher);
    std::fs::create_dir_all(cwd).unwrap();
    let mut argv: Vec<OsString> = vec![launcher.into()];
    argv.extend(args.iter().map(OsString::from));
    world.run(&argv, cwd, &[], b"").unwrap()
}
