//! One runnable file (docs/onefile.md), through the real binary: `shenzi apply --onefile`
//! of the examples, run moved and through a symlink inside a hidden world (the source
//! interpreter, venv, sources and non-policy libraries gone), first and later starts,
//! and every way a first start can go wrong: two at once, a truncated or corrupted file,
//! a read-only cache folder, a start killed mid-extraction, a missing marker, an archive
//! that would write outside its folder. Also: the stub needs only glibc, the file is
//! byte-identical run to run, `verify` reads it, `cache list|clear` see its extraction.
//!
//! Needs root (mount namespaces), patchelf, and `scripts/setup` (the wheels venv).

mod support;

use std::ffi::OsString;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use support::e2e::{self, AppRun, Traced, world_for};
use support::hidden::{HiddenWorld, check_maps_within};
use support::{describe, interpreters, repo_root, shenzi, text};

const ARGS: &[&str] = &["first", "second arg"];

/// The trace of an example app with pyenv's 3.11 (the wheels app with its venv).
fn traced(app: &str) -> Traced {
    let python = interpreters()
        .into_iter()
        .find(|i| i.label == "pyenv-3.11")
        .expect("pyenv's CPython 3.11 is installed (scripts/setup)");
    let scratch = e2e::scratch();
    let app_dir = scratch.path().join("app src");
    support::example::copy_tree(&repo_root().join("examples").join(app), &app_dir);
    let (python, venv) = if app == "wheels_app" {
        let venv = repo_root().join(".cache/venvs/e2e-pyenv-3.11");
        assert!(venv.join(".complete").exists(), "run scripts/setup");
        (venv.join("bin/python"), Some(venv))
    } else {
        (python.path, None)
    };
    let mut run = AppRun::new(format!("{app} onefile"), &python, &app_dir, "app.py");
    run.venv = venv;
    run.args = ARGS.iter().map(|a| a.to_string()).collect();
    let t = e2e::trace(run, scratch);
    assert_eq!(
        t.untraced.status.code(),
        Some(0),
        "{}",
        describe(&t.untraced)
    );
    t
}

/// The stdlib example's trace, shared by the tests of this file.
static STDLIB: OnceLock<Traced> = OnceLock::new();

fn stdlib() -> &'static Traced {
    STDLIB.get_or_init(|| {
        // SAFETY: registers a plain `extern "C"` function with no arguments, as `atexit`
        // takes it.
        unsafe { libc::atexit(remove_stdlib_scratch) };
        traced("stdlib_app")
    })
}

/// A static is never dropped, so the shared trace's scratch folder (its dists, caches
/// and onefiles, ~100 MB) is removed when the process exits: nextest runs every test in
/// a process of its own, and each one left its folder in `/tmp` before.
extern "C" fn remove_stdlib_scratch() {
    if let Some(t) = STDLIB.get() {
        let _ = std::fs::remove_dir_all(t.scratch.path());
    }
}

/// `shenzi apply default MANIFEST --onefile -o OUT`; the onefile `OUT/app`. zstd level 3
/// for speed (the level changes the bytes, not the format), the default level 19 for the
/// wheels app.
fn onefile_at(t: &Traced, out: &Path, level: &str) -> PathBuf {
    let o = shenzi()
        .args(["apply", "default"])
        .arg(&t.manifest)
        .arg("-o")
        .arg(out)
        .arg("--onefile")
        .env("NO_COLOR", "1")
        .env("SHENZI_ONEFILE_LEVEL", level)
        .output()
        .unwrap();
    assert!(o.status.success(), "apply --onefile: {}", describe(&o));
    let file = out.join("app");
    assert!(file.is_file(), "{}", describe(&o));
    file
}

fn onefile(t: &Traced, out: &Path) -> PathBuf {
    onefile_at(t, out, "3")
}

/// A fresh folder in the trace's scratch.
fn folder(t: &Traced, name: &str) -> PathBuf {
    let dir = t.scratch.path().join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Moves the onefile to another folder and links it from a third; returns the link.
fn moved_and_linked(t: &Traced, file: &Path, tag: &str) -> PathBuf {
    let moved = folder(t, &format!("moved {tag}")).join("app");
    std::fs::rename(file, &moved).unwrap();
    let link = folder(t, &format!("links {tag}")).join("app-link");
    std::os::unix::fs::symlink(&moved, &link).unwrap();
    link
}

fn env(cache: &Path) -> Vec<(OsString, OsString)> {
    vec![("SHENZI_CACHE_DIR".into(), cache.into())]
}

fn run_in(world: &HiddenWorld, t: &Traced, program: &Path, cache: &Path, cwd: &str) -> Output {
    let mut argv: Vec<OsString> = vec![program.into()];
    argv.extend(ARGS.iter().map(OsString::from));
    let cwd = folder(t, cwd);
    let mut env = env(cache);
    env.extend(t.run.env.iter().cloned());
    world.run(&argv, &cwd, &env, b"").expect("the world runs")
}

/// The names in a cache folder, sorted.
fn names(cache: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(cache)
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

/// The one complete extraction in `cache`.
fn extraction(cache: &Path) -> PathBuf {
    let dirs: Vec<String> = names(cache)
        .into_iter()
        .filter(|n| n.len() == 64 && !n.contains('.'))
        .collect();
    assert_eq!(
        dirs.len(),
        1,
        "one extraction in {}: {:?}",
        cache.display(),
        names(cache)
    );
    let dist = cache.join(&dirs[0]);
    assert!(dist.join(".shenzi/onefile-complete").exists());
    dist
}

/// First and second start of an example's onefile, moved, through a symlink, in the
/// hidden world; same output as the untraced app; every mapped object from the
/// extraction or the policy; the second start re-extracts nothing.
fn check_runs_hidden(t: &Traced, file: PathBuf) {
    let link = moved_and_linked(t, &file, "hidden");
    let world = world_for(t, "default");
    let cache = folder(t, "cache");
    let mut args: Vec<OsString> = vec![link.clone().into()];
    args.extend(ARGS.iter().map(OsString::from));
    for start in ["first", "second"] {
        let cwd = folder(t, "cwd");
        let (out, dumps) = world
            .run_collecting(&args, &cwd, &env(&cache), b"")
            .expect("the world runs");
        assert_eq!(
            text(&out.stdout),
            text(&t.untraced.stdout),
            "{start} start: {}",
            describe(&out)
        );
        assert_eq!(
            out.status.code(),
            Some(0),
            "{start} start: {}",
            describe(&out)
        );
        let dist = extraction(&cache);
        assert!(
            !dumps.is_empty(),
            "{start} start: no process dumped its maps"
        );
        let violations = check_maps_within(&dumps, &dist, world.policy_names());
        assert!(violations.is_empty(), "{start} start: {violations:?}");
        if start == "first" {
            let marker = dist.join(".shenzi/onefile-complete");
            let before = std::fs::metadata(&marker).unwrap().ino();
            // The marker is the same file after the second start: nothing was redone.
            std::fs::write(t.scratch.path().join("marker-ino"), before.to_string()).unwrap();
        } else {
            let before = std::fs::read_to_string(t.scratch.path().join("marker-ino")).unwrap();
            let after = std::fs::metadata(dist.join(".shenzi/onefile-complete"))
                .unwrap()
                .ino();
            assert_eq!(
                before,
                after.to_string(),
                "the second start extracted again"
            );
        }
    }
    assert_eq!(
        names(&cache).len(),
        2,
        "the extraction and its lock: {:?}",
        names(&cache)
    );
}

#[test]
fn stdlib_onefile_runs_moved_linked_hidden() {
    let (file, _) = spare("hidden");
    check_runs_hidden(stdlib(), file);
}

#[test]
fn wheels_onefile_runs_moved_linked_hidden() {
    let t = traced("wheels_app");
    let file = onefile_at(&t, &folder(&t, "built"), "19");
    check_runs_hidden(&t, file);
}

#[test]
fn two_first_starts_at_once_leave_one_extraction() {
    let t = stdlib();
    let (file, _) = spare("concurrent");
    let link = moved_and_linked(t, &file, "concurrent");
    let world = world_for(t, "default");
    let cache = folder(t, "cache concurrent");
    let outs: Vec<Output> = std::thread::scope(|s| {
        let a = s.spawn(|| run_in(&world, t, &link, &cache, "cwd a"));
        let b = s.spawn(|| run_in(&world, t, &link, &cache, "cwd b"));
        vec![a.join().unwrap(), b.join().unwrap()]
    });
    for out in &outs {
        assert_eq!(out.status.code(), Some(0), "{}", describe(out));
        assert_eq!(text(&out.stdout), text(&t.untraced.stdout));
    }
    extraction(&cache);
    assert_eq!(
        names(&cache).len(),
        2,
        "no temporary folder left: {:?}",
        names(&cache)
    );
}

/// The stdlib example's onefile, written once for the tests of this file.
fn shared() -> &'static Path {
    static F: OnceLock<PathBuf> = OnceLock::new();
    F.get_or_init(|| {
        let t = stdlib();
        onefile(t, &folder(t, "shared"))
    })
}

/// A copy of the stdlib example's onefile, to damage, and a fresh cache folder.
fn spare(tag: &str) -> (PathBuf, PathBuf) {
    let t = stdlib();
    let file = folder(t, &format!("spare {tag}")).join("app");
    std::fs::copy(shared(), &file).unwrap();
    (file, folder(t, &format!("cache {tag}")))
}

fn run_host(file: &Path, cache: &Path, env: &[(&str, &str)]) -> Output {
    Command::new(file)
        .args(ARGS)
        .env("SHENZI_CACHE_DIR", cache)
        .envs(env.iter().copied())
        .output()
        .unwrap()
}

#[test]
fn a_truncated_onefile_says_so_and_writes_nothing() {
    let (file, cache) = spare("truncated");
    let len = std::fs::metadata(&file).unwrap().len();
    // (Cut inside the stub, it is no longer an ELF program the kernel can start: no
    // executable survives that.)
    for keep in [len - 1, len - 100, len / 2] {
        let f = std::fs::OpenOptions::new().write(true).open(&file).unwrap();
        f.set_len(keep).unwrap();
        drop(f);
        let out = run_host(&file, &cache, &[]);
        assert_eq!(
            out.status.code(),
            Some(127),
            "{keep} bytes: {}",
            describe(&out)
        );
        let err = text(&out.stderr);
        assert!(err.contains("truncated"), "{keep} bytes: {err}");
        assert!(out.stdout.is_empty());
        assert_eq!(names(&cache), Vec::<String>::new(), "{keep} bytes");
    }
}

/// The payload's offset and length, from the trailer (the last 72 bytes).
fn payload(file: &Path) -> (u64, u64) {
    let bytes = std::fs::read(file).unwrap();
    let t = &bytes[bytes.len() - 72..];
    assert_eq!(&t[..16], b"shenzi-onefile\0\0");
    let u64_at = |i: usize| u64::from_le_bytes(t[i..i + 8].try_into().unwrap());
    (u64_at(24), u64_at(32))
}

#[test]
fn a_corrupted_payload_byte_is_refused_and_leaves_nothing() {
    let (file, cache) = spare("corrupt");
    let (offset, len) = payload(&file);
    let mut bytes = std::fs::read(&file).unwrap();
    for at in [offset + len / 2, offset + len - 10, offset + 20] {
        let at = at as usize;
        bytes[at] ^= 0x5a;
        std::fs::write(&file, &bytes).unwrap();
        let out = run_host(&file, &cache, &[]);
        assert_eq!(
            out.status.code(),
            Some(127),
            "byte {at}: {}",
            describe(&out)
        );
        let err = text(&out.stderr);
        assert!(err.contains("damaged"), "byte {at}: {err}");
        assert!(out.stdout.is_empty(), "byte {at}: the app ran");
        // Only the lock: no extraction, no temporary folder.
        assert!(
            names(&cache).iter().all(|n| n.ends_with(".lock")),
            "byte {at}: {:?}",
            names(&cache)
        );
        bytes[at] ^= 0x5a;
    }
    // Undamaged again, it runs.
    std::fs::write(&file, &bytes).unwrap();
    let out = run_host(&file, &cache, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
}

#[test]
fn a_read_only_cache_falls_back_to_a_private_temporary_folder() {
    let (file, cache) = spare("read-only");
    let tmp = folder(stdlib(), "tmpdir read-only");
    // Root ignores permission bits: a read-only bind mount is read-only for root too.
    let script = "mount --bind -o ro \"$1\" \"$1\" && \"$2\" first && \"$2\" again; status=$?; ls -A \"$1\"; exit $status";
    let out = Command::new("unshare")
        .args(["-m", "sh", "-c", script, "sh"])
        .arg(&cache)
        .arg(&file)
        .env("SHENZI_CACHE_DIR", &cache)
        .env("TMPDIR", &tmp)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let stdout = text(&out.stdout);
    assert_eq!(
        stdout.matches("\"argv\": [\"first\"]").count(),
        1,
        "{stdout}"
    );
    assert_eq!(
        stdout.matches("\"argv\": [\"again\"]").count(),
        1,
        "{stdout}"
    );
    assert_eq!(
        names(&cache),
        Vec::<String>::new(),
        "the read-only folder is untouched"
    );
    let private = tmp.join("shenzi-0");
    let meta = std::fs::symlink_metadata(&private).unwrap();
    assert_eq!(
        meta.mode() & 0o777,
        0o700,
        "the fallback is the user's only"
    );
    extraction(&private);
}

#[test]
fn a_start_killed_mid_extraction_is_never_used_and_is_cleaned_up() {
    let (file, cache) = spare("killed");
    let out = run_host(&file, &cache, &[("SHENZI_TEST_HOOK", "kill@extract:200")]);
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(
        out.status.signal(),
        Some(libc::SIGKILL),
        "{}",
        describe(&out)
    );
    let left = names(&cache);
    assert!(
        left.iter().any(|n| n.contains(".tmp-")) && !left.iter().any(|n| n.len() == 64),
        "a temporary folder and no extraction: {left:?}"
    );
    let out = run_host(&file, &cache, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    assert_eq!(text(&out.stdout), text(&stdlib().untraced.stdout));
    extraction(&cache);
    assert_eq!(
        names(&cache).len(),
        2,
        "the stale folder is gone: {:?}",
        names(&cache)
    );

    // A folder whose marker is missing is redone, not used.
    let dist = extraction(&cache);
    std::fs::remove_file(dist.join(".shenzi/onefile-complete")).unwrap();
    std::fs::remove_file(dist.join("bin/app")).unwrap();
    let out = run_host(&file, &cache, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    assert!(extraction(&cache).join("bin/app").exists());
}

#[test]
fn the_stub_needs_only_glibc_and_the_file_is_reproducible() {
    let t = stdlib();
    let a = shared();
    let b = onefile(t, &folder(t, "repro b"));
    let bytes = std::fs::read(a).unwrap();
    assert!(
        bytes == std::fs::read(&b).unwrap(),
        "two applies wrote different onefiles"
    );
    let elf = goblin::elf::Elf::parse(&bytes).unwrap();
    assert_eq!(elf.libraries, vec!["libc.so.6"], "the stub's needs");
    assert!(
        elf.interpreter.is_some_and(|i| i.contains("ld-linux")),
        "{:?}",
        elf.interpreter
    );
    // Small beside the payload: it is part of every onefile.
    let (offset, _) = payload(a);
    assert!(offset < 1_500_000, "the stub is {offset} bytes");
}

#[test]
fn verify_reads_a_onefile_and_refuses_a_damaged_one() {
    let (file, _) = spare("verify");
    let out = shenzi()
        .arg("verify")
        .arg(&file)
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", describe(&out));
    let err = text(&out.stderr);
    assert!(
        err.contains("is a onefile") && err.contains("verified"),
        "{err}"
    );

    let (offset, len) = payload(&file);
    let mut bytes = std::fs::read(&file).unwrap();
    bytes[(offset + len / 3) as usize] ^= 1;
    std::fs::write(&file, &bytes).unwrap();
    let out = shenzi()
        .arg("verify")
        .arg(&file)
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    assert!(
        text(&out.stderr).contains("shenzi::onefile::damaged"),
        "{}",
        describe(&out)
    );
}

#[test]
fn cache_list_and_clear_see_the_extractions() {
    let (file, cache) = spare("list");
    let out = run_host(&file, &cache, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let dist = extraction(&cache);
    let list = shenzi()
        .args(["cache", "list"])
        .env("SHENZI_CACHE_DIR", &cache)
        .output()
        .unwrap();
    assert!(list.status.success(), "{}", describe(&list));
    let listed = text(&list.stdout);
    assert!(
        listed.contains(&format!("{}\t", dist.display())) && listed.contains("\tapp\tcomplete"),
        "{listed}"
    );
    let clear = shenzi()
        .args(["cache", "clear"])
        .env("SHENZI_CACHE_DIR", &cache)
        .output()
        .unwrap();
    assert!(clear.status.success(), "{}", describe(&clear));
    assert!(
        text(&clear.stderr).contains("removed 1 extraction"),
        "{}",
        describe(&clear)
    );
    assert_eq!(names(&cache), Vec::<String>::new());
    // And it starts again, extracting anew.
    let out = run_host(&file, &cache, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
}

/// A onefile whose payload holds `entries` (folders and symlinks go to the index, files
/// to one chunk, as `format.rs` lays them out), built on the stub of a real onefile,
/// with a correct hash: only the entries are wrong.
fn crafted(stub_from: &Path, entries: &[Vec<u8>], out: &Path) {
    let bytes = std::fs::read(stub_from).unwrap();
    let (offset, _) = payload(stub_from);
    let mut file = bytes[..offset as usize].to_vec();
    let mut index = b"shzarc2\n".to_vec();
    let mut chunk = Vec::new();
    for e in entries {
        if e[0] == 2 { &mut chunk } else { &mut index }.extend_from_slice(e);
    }
    index.push(0);
    chunk.push(0);
    let chunk = zstd::encode_all(&chunk[..], 3).unwrap();
    index.extend_from_slice(&1u32.to_le_bytes());
    index.extend_from_slice(&(chunk.len() as u64).to_le_bytes());
    let index = zstd::encode_all(&index[..], 3).unwrap();
    let mut payload = (index.len() as u64).to_le_bytes().to_vec();
    payload.extend_from_slice(&index);
    payload.extend_from_slice(&chunk);
    let hash = blake3::hash(&payload);
    file.extend_from_slice(&payload);
    let launcher = b"bin/app";
    file.extend_from_slice(launcher);
    file.extend_from_slice(b"shenzi-onefile\0\0");
    file.extend_from_slice(&2u32.to_le_bytes());
    file.extend_from_slice(&(launcher.len() as u32).to_le_bytes());
    file.extend_from_slice(&offset.to_le_bytes());
    file.extend_from_slice(&(payload.len() as u64).to_le_bytes());
    file.extend_from_slice(hash.as_bytes());
    std::fs::write(out, file).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(out, std::fs::Permissions::from_mode(0o755)).unwrap();
}

fn entry(kind: u8, path: &str, rest: &[u8]) -> Vec<u8> {
    let mut e = vec![kind];
    e.extend_from_slice(&(path.len() as u32).to_le_bytes());
    e.extend_from_slice(path.as_bytes());
    e.extend_from_slice(rest);
    e
}

fn str_field(s: &str) -> Vec<u8> {
    let mut e = (s.len() as u32).to_le_bytes().to_vec();
    e.extend_from_slice(s.as_bytes());
    e
}

#[test]
fn an_archive_cannot_write_outside_its_folder() {
    let (real, cache) = spare("escape");
    let outside = folder(stdlib(), "outside");
    let dir = |p: &str| entry(1, p, &0o755u32.to_le_bytes());
    let file = |p: &str| {
        let mut rest = 0o644u32.to_le_bytes().to_vec();
        rest.extend_from_slice(&0i64.to_le_bytes());
        rest.extend_from_slice(&2u64.to_le_bytes());
        rest.extend_from_slice(b"hi");
        entry(2, p, &rest)
    };
    let link = |p: &str, target: &str| entry(3, p, &str_field(target));
    let target = outside.join("x").display().to_string();
    let cases: Vec<(&str, Vec<Vec<u8>>)> = vec![
        ("parent segment", vec![file("../escaped")]),
        ("absolute path", vec![file(&target)]),
        (
            "absolute symlink",
            vec![link("l", &outside.display().to_string())],
        ),
        (
            "climbing symlink",
            vec![dir("bin"), link("bin/l", "../../..")],
        ),
        (
            "file through a symlink",
            vec![link("l", "bin"), dir("bin"), file("l/x")],
        ),
        (
            "dot-dot after a name",
            vec![dir("a"), link("a/l", "b/../../..")],
        ),
    ];
    for (what, entries) in cases {
        let evil = cache.parent().unwrap().join("evil");
        crafted(&real, &entries, &evil);
        let out = run_host(&evil, &cache, &[]);
        assert_eq!(out.status.code(), Some(127), "{what}: {}", describe(&out));
        assert!(
            text(&out.stderr).contains("damaged"),
            "{what}: {}",
            describe(&out)
        );
        assert_eq!(
            names(&outside),
            Vec::<String>::new(),
            "{what}: wrote outside"
        );
        assert!(
            !cache.parent().unwrap().join("escaped").exists(),
            "{what}: wrote outside"
        );
        assert!(
            names(&cache).iter().all(|n| n.ends_with(".lock")),
            "{what}: {:?}",
            names(&cache)
        );
    }
}

/// `apply --onefile` killed while it writes the dist leaves its scratch folder in OUTPUT
/// (`.app.shenzi-PID-START-*`); the next apply removes it, says so, and leaves only the
/// onefile.
#[test]
fn a_killed_onefile_apply_leaves_nothing_after_the_next_apply() {
    let t = stdlib();
    let out = folder(t, "killed apply");
    let apply = |hook: Option<&str>| {
        let mut cmd = shenzi();
        cmd.args(["apply", "default"])
            .arg(&t.manifest)
            .arg("-o")
            .arg(&out)
            .arg("--onefile")
            .env("NO_COLOR", "1")
            .env("SHENZI_ONEFILE_LEVEL", "1");
        if let Some(hook) = hook {
            cmd.env("SHENZI_TEST_HOOK", hook);
        }
        cmd.output().unwrap()
    };
    let killed = apply(Some("kill@file:20"));
    assert_eq!(killed.status.code(), None, "killed: {}", describe(&killed));
    let left = names(&out);
    assert!(
        left.iter().any(|n| n.starts_with(".app.shenzi-")),
        "the killed apply left its scratch folder: {left:?}"
    );
    let o = apply(None);
    assert!(o.status.success(), "{}", describe(&o));
    assert!(
        text(&o.stderr).contains("left by a killed"),
        "the removal is said: {}",
        describe(&o)
    );
    assert_eq!(names(&out), vec!["app".to_owned()], "only the onefile");
}

#[test]
fn a_layout_asks_for_a_onefile_and_names_it() {
    let t = stdlib();
    let layout = t.scratch.path().join("onefile.shz");
    let default = std::fs::read_to_string(repo_root().join("layouts/default.shz")).unwrap();
    std::fs::write(
        &layout,
        format!("{default}\noutput onefile \"{{app.name}}-{{platform.machine}}\"\n"),
    )
    .unwrap();
    let out = folder(t, "named");
    let o = shenzi()
        .arg("apply")
        .arg(&layout)
        .arg(&t.manifest)
        .arg("-o")
        .arg(&out)
        .env("SHENZI_ONEFILE_LEVEL", "3")
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", describe(&o));
    let file = out.join(format!("app-{}", std::env::consts::ARCH));
    assert_eq!(
        names(&out),
        vec![file.file_name().unwrap().to_string_lossy()],
        "only the onefile"
    );
    let cache = folder(t, "cache named");
    let run = run_host(&file, &cache, &[]);
    assert_eq!(run.status.code(), Some(0), "{}", describe(&run));
    assert_eq!(text(&run.stdout), text(&t.untraced.stdout));

    // A onefile is not written into a dist folder: it would be a change to that dist.
    let dist = folder(t, "a dist").join("dist");
    let o = support::apply("default", &t.manifest, &dist, &[]);
    assert!(o.status.success(), "{}", describe(&o));
    let o = support::apply("default", &t.manifest, &dist, &["--onefile"]);
    assert_eq!(o.status.code(), Some(1), "{}", describe(&o));
    assert!(
        text(&o.stderr).contains("shenzi::onefile::into_dist"),
        "{}",
        describe(&o)
    );
    assert!(!dist.join("app").is_file(), "no onefile in the dist");
    assert!(
        !names(&dist).iter().any(|n| n.contains(".shenzi-")),
        "no scratch folder in the dist: {:?}",
        names(&dist)
    );
}

#[test]
fn a_temporary_cache_folder_of_another_user_is_never_trusted() {
    let (file, _) = spare("foreign");
    let bytes = std::fs::read(&file).unwrap();
    let key: String = bytes[bytes.len() - 32..]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let tmp = folder(stdlib(), "tmpdir foreign");
    // Someone else made `$TMPDIR/shenzi-0` first and planted a complete-looking extraction.
    let planted = tmp.join("shenzi-0");
    let dist = planted.join(&key);
    std::fs::create_dir_all(dist.join(".shenzi")).unwrap();
    std::fs::create_dir_all(dist.join("bin")).unwrap();
    std::fs::write(dist.join(".shenzi/onefile-complete"), "").unwrap();
    std::fs::write(dist.join("bin/app"), "#!/bin/sh\necho planted\n").unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dist.join("bin/app"), std::fs::Permissions::from_mode(0o755)).unwrap();
    std::os::unix::fs::chown(&planted, Some(65534), Some(65534)).unwrap();
    // No home, no XDG folder, no override: the temporary folder is the only cache.
    let out = Command::new(&file)
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .env("TMPDIR", &tmp)
        .output()
        .unwrap();
    assert!(!text(&out.stdout).contains("planted"), "{}", describe(&out));
    assert_eq!(out.status.code(), Some(127), "{}", describe(&out));
    assert!(
        text(&out.stderr).contains("not a folder of this user"),
        "{}",
        describe(&out)
    );
}

/// `build --onefile` with no layout named applies `minimal` (docs/onefile.md, "Layout"):
/// the extraction holds the stdlib modules the app imported and not the others (`csv`);
/// `--layout default` still gives the whole stdlib.
#[test]
fn build_onefile_applies_minimal_unless_a_layout_is_named() {
    let dir = tempfile::tempdir().unwrap();
    e2e::write(
        &dir.path().join("app.py"),
        "import json\nprint(json.dumps([1]))\n",
    );
    let py = support::python311();
    let stdlib = "python/lib/python3.11";
    for (layout, has_csv) in [(None, false), (Some("default"), true)] {
        let out_dir = dir.path().join(format!("out-{has_csv}"));
        let mut args = vec!["--python", py.to_str().unwrap(), "--onefile", "-o"];
        args.push(out_dir.to_str().unwrap());
        if let Some(layout) = layout {
            args.extend(["--layout", layout]);
        }
        args.push("app.py");
        let out = shenzi()
            .arg("build")
            .args(&args)
            .current_dir(dir.path())
            .env("NO_COLOR", "1")
            .env("SHENZI_ONEFILE_LEVEL", "1")
            .output()
            .unwrap();
        assert!(out.status.success(), "{layout:?}: {}", describe(&out));
        let cache = dir.path().join(format!("cache-{has_csv}"));
        let run = run_host(&out_dir.join("app"), &cache, &[]);
        assert_eq!(run.status.code(), Some(0), "{layout:?}: {}", describe(&run));
        assert_eq!(text(&run.stdout), "[1]\n");
        let dist = extraction(&cache);
        if has_csv {
            assert!(dist.join(stdlib).join("json").is_dir(), "{layout:?}");
            assert!(dist.join(stdlib).join("csv.py").is_file(), "{layout:?}");
        } else {
            // `minimal` packs the stdlib (`pack zip`): `json` is a member, `csv` absent.
            assert!(!dist.join(stdlib).join("csv.py").exists(), "{layout:?}");
            let archive = dist.join("python/lib/python311.zip");
            let members = Command::new(&py)
                .args(["-c", "import sys, zipfile; n = zipfile.ZipFile(sys.argv[1]).namelist(); print('json/__init__.py' in n, 'csv.py' in n)"])
                .arg(&archive)
                .output()
                .unwrap();
            assert_eq!(
                text(&members.stdout),
                "True False\n",
                "{}",
                describe(&members)
            );
        }
    }
}
