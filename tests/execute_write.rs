//! Writing a plan: atomic, deterministic, refuses what it must, leaves nothing behind on
//! failure; ELF edits go through the real patchelf.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;

use shenzi::binary::edit::ElfEdits;
use shenzi::execute::{ApplyError, ApplyOptions, Patchelf, write_dist};
use shenzi::plan::{Content, DistRecord, Plan, PlannedEntry, RECORD_PATH};

fn entry(dest: &str, content: Content) -> PlannedEntry {
    PlannedEntry {
        dest: dest.into(),
        unit: "test".into(),
        content,
    }
}

/// A shared library built with gcc, with an absolute RUNPATH to rewrite.
fn fixture_library(dir: &Path) -> PathBuf {
    let src = dir.join("lib.c");
    std::fs::write(&src, "int answer(void) { return 42; }\n").unwrap();
    let lib = dir.join("libanswer.so.1");
    let status = Command::new("gcc")
        .args([
            "-shared",
            "-fPIC",
            "-Wl,-soname,libanswer.so.1",
            "-Wl,--enable-new-dtags,-rpath,/opt/nowhere/lib",
            "-o",
        ])
        .arg(&lib)
        .arg(&src)
        .status()
        .unwrap();
    assert!(status.success());
    lib
}

fn sample_plan(src: &Path) -> Plan {
    let lib = fixture_library(src);
    // A timestamp-based pyc header: magic, flags 0, source mtime 0x01020304, size 9.
    let pyc = src.join("m.cpython-311.pyc");
    let mut header = vec![0xa7, 0x0d, 0x0d, 0x0a, 0, 0, 0, 0, 4, 3, 2, 1, 9, 0, 0, 0];
    header.extend(b"code");
    std::fs::write(&pyc, &header).unwrap();
    let data = src.join("data.txt");
    std::fs::write(&data, "payload\n").unwrap();
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o640)).unwrap();
    Plan {
        entries: vec![
            entry("bin", Content::Dir),
            entry(
                "bin/app",
                Content::Bytes {
                    data: b"#!/bin/sh\necho hi\n".to_vec(),
                    mode: 0o755,
                },
            ),
            entry(
                "data/data.txt",
                Content::Copy {
                    source: data,
                    mode: 0o640,
                    size: 8,
                    edits: None,
                    stamp_pyc: false,
                    strip: false,
                },
            ),
            entry(
                "lib/reals/libanswer.so.1",
                Content::Copy {
                    source: lib.clone(),
                    mode: 0o755,
                    size: std::fs::metadata(&lib).unwrap().len(),
                    edits: Some(ElfEdits {
                        runpath: Some(vec!["$ORIGIN/../links".into()]),
                        ..ElfEdits::default()
                    }),
                    stamp_pyc: false,
                    strip: false,
                },
            ),
            entry(
                "py/__pycache__/m.cpython-311.pyc",
                Content::Copy {
                    source: pyc.clone(),
                    mode: 0o644,
                    size: 20,
                    edits: None,
                    stamp_pyc: true,
                    strip: false,
                },
            ),
            entry(
                "lib/libanswer.so.1",
                Content::Symlink {
                    target: "reals/libanswer.so.1".into(),
                },
            ),
        ],
        record: DistRecord {
            version: 1,
            layout: "test".into(),
            ..DistRecord::default()
        },
    }
}

fn options(target: &Path, patcher: &Patchelf) -> ApplyOptions<'static> {
    // Leaked for the 'static bound in tests only.
    let patcher: &'static Patchelf = Box::leak(Box::new(patcher.clone()));
    ApplyOptions {
        target: target.to_owned(),
        force: false,
        discard_changes: false,
        patcher: Some(patcher),
        native_edits: true,
        mtime: 315_532_800,
        progress: None,
        notice: None,
        check: None,
    }
}

fn runpath(file: &Path) -> String {
    let out = Command::new("patchelf")
        .arg("--print-rpath")
        .arg(file)
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

fn tree(root: &Path) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = walkdir::WalkDir::new(root)
        .min_depth(1)
        .into_iter()
        .map(|e| {
            let e = e.unwrap();
            let meta = e.path().symlink_metadata().unwrap();
            let rel = e.path().strip_prefix(root).unwrap().display().to_string();
            let what = if meta.file_type().is_symlink() {
                format!("-> {}", std::fs::read_link(e.path()).unwrap().display())
            } else if meta.is_dir() {
                format!("dir {:o}", meta.mode() & 0o7777)
            } else {
                format!(
                    "file {:o} {}",
                    meta.mode() & 0o7777,
                    blake3::hash(&std::fs::read(e.path()).unwrap()).to_hex()
                )
            };
            (rel, format!("{what} mtime={}", meta.mtime()))
        })
        .collect();
    out.sort();
    out
}

fn leftovers(parent: &Path) -> Vec<String> {
    std::fs::read_dir(parent)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".shenzi-"))
        .collect()
}

#[test]
fn a_plan_is_written_with_modes_links_patches_and_fixed_times() {
    let f = fixture();
    let (target, summary) = f.apply("dist");
    assert_eq!(
        (
            summary.files,
            summary.dirs,
            summary.symlinks,
            summary.patched
        ),
        (4, 1, 1, 1)
    );

    assert_eq!(
        runpath(&target.join("lib/reals/libanswer.so.1")),
        "$ORIGIN/../links"
    );
    assert_eq!(
        runpath(&f.src.path().join("libanswer.so.1")),
        "/opt/nowhere/lib",
        "the source was modified"
    );
    let t = tree(&target);
    for (path, what) in &t {
        assert!(what.ends_with("mtime=315532800"), "{path}: {what}");
    }
    let find = |p: &str| t.iter().find(|(path, _)| path == p).unwrap().1.clone();
    assert!(find("bin/app").starts_with("file 755"));
    assert!(find("data/data.txt").starts_with("file 640"));
    assert!(find("lib/libanswer.so.1").starts_with("-> reals/libanswer.so.1"));
    let record: DistRecord =
        serde_json::from_str(&std::fs::read_to_string(target.join(RECORD_PATH)).unwrap()).unwrap();
    assert_eq!(record.layout, "test");
    assert!(leftovers(f.out.path()).is_empty());

    // The same plan gives the same bytes, modes and times.
    let (again, _) = f.apply("again");
    assert_eq!(tree(&again), t);
}

#[test]
fn an_existing_target_is_refused_unless_it_is_a_dist_and_forced() {
    let src = tempfile::tempdir().unwrap();
    let out = tempfile::tempdir().unwrap();
    let patcher = Patchelf::find(None).unwrap();
    let plan = sample_plan(src.path());

    let stranger = out.path().join("stranger");
    std::fs::create_dir(&stranger).unwrap();
    std::fs::write(stranger.join("precious.txt"), "mine").unwrap();
    let mut opts = options(&stranger, &patcher);
    opts.force = true;
    assert!(matches!(
        write_dist(&plan, &opts),
        Err(ApplyError::TargetNotADist { .. })
    ));
    assert_eq!(
        std::fs::read_to_string(stranger.join("precious.txt")).unwrap(),
        "mine"
    );

    let dist = out.path().join("dist");
    write_dist(&plan, &options(&dist, &patcher)).unwrap();
    assert!(matches!(
        write_dist(&plan, &options(&dist, &patcher)),
        Err(ApplyError::TargetExists { .. })
    ));
    // A file shenzi did not write stops `--force`; `discard_changes` deletes it.
    std::fs::write(dist.join("stale-file"), "old").unwrap();
    let mut opts = options(&dist, &patcher);
    opts.force = true;
    let err = write_dist(&plan, &opts).unwrap_err();
    assert!(matches!(err, ApplyError::TargetChanged { .. }), "{err:?}");
    assert!(err.to_string().contains("  stale-file (added)"), "{err}");
    assert_eq!(std::fs::read(dist.join("stale-file")).unwrap(), b"old");
    opts.discard_changes = true;
    let summary = write_dist(&plan, &opts).unwrap();
    assert!(!dist.join("stale-file").exists());
    assert_eq!(summary.discarded.len(), 1, "{summary:?}");
    assert!(leftovers(out.path()).is_empty());
}

/// The record lists every path written — folders, files with their hash, symlinks with
/// their target — and nothing else; modes are fixed whatever the umask.
#[test]
fn the_record_lists_every_path_as_written() {
    let f = fixture();
    let (target, _) = f.apply("dist");
    let text = std::fs::read_to_string(target.join(RECORD_PATH)).unwrap();
    let record: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(record["version"], 2);
    assert!(
        text.ends_with(&format!("  \"digest\": {}\n}}\n", record["digest"])),
        "{text}"
    );
    let listed: Vec<(String, String)> = record["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            let path = f["path"].as_str().unwrap().to_owned();
            let what = match f["kind"].as_str().unwrap() {
                "dir" => format!("dir {}", f["mode"].as_str().unwrap()),
                "symlink" => format!("-> {}", f["target"].as_str().unwrap()),
                "file" => format!(
                    "file {} {}",
                    f["mode"].as_str().unwrap(),
                    f["blake3"].as_str().unwrap()
                ),
                other => panic!("unknown kind {other}"),
            };
            (path, format!("{what} mtime=315532800"))
        })
        .collect();
    let on_disk: Vec<(String, String)> = tree(&target)
        .into_iter()
        .filter(|(path, _)| path != RECORD_PATH)
        .collect();
    assert_eq!(listed, on_disk);
    assert!(
        listed
            .iter()
            .any(|(p, w)| p == ".shenzi" && w.starts_with("dir 755"))
    );
}

#[test]
fn a_source_that_cannot_be_read_mid_way_leaves_nothing() {
    let src = tempfile::tempdir().unwrap();
    let out = tempfile::tempdir().unwrap();
    let patcher = Patchelf::find(None).unwrap();
    let mut plan = sample_plan(src.path());
    plan.entries.push(entry(
        "data/gone.txt",
        Content::Copy {
            source: src.path().join("does-not-exist"),
            mode: 0o644,
            size: 1,
            edits: None,
            stamp_pyc: false,
            strip: false,
        },
    ));
    let target = out.path().join("dist");
    let err = write_dist(&plan, &options(&target, &patcher)).unwrap_err();
    assert!(err.to_string().contains("does-not-exist"), "{err}");
    assert!(!target.exists());
    assert!(
        leftovers(out.path()).is_empty(),
        "{:?}",
        leftovers(out.path())
    );
}

/// A binary shenzi's own writer declines (here: one that claims to be big-endian) needs
/// patchelf; without one, apply says which binary and why before writing anything.
#[test]
fn a_declined_binary_without_patchelf_fails_before_anything_is_written() {
    let src = tempfile::tempdir().unwrap();
    let out = tempfile::tempdir().unwrap();
    let patcher = Patchelf::find(None).unwrap();
    let mut plan = sample_plan(src.path());
    let odd = src.path().join("libodd.so");
    let mut bytes = std::fs::read(src.path().join("libanswer.so.1")).unwrap();
    bytes[5] = 2; // EI_DATA: ELFDATA2MSB
    std::fs::write(&odd, &bytes).unwrap();
    plan.entries.push(entry(
        "lib/reals/libodd.so",
        Content::Copy {
            source: odd,
            mode: 0o755,
            size: bytes.len() as u64,
            edits: Some(ElfEdits {
                runpath: Some(vec!["$ORIGIN".into()]),
                ..ElfEdits::default()
            }),
            stamp_pyc: false,
            strip: false,
        },
    ));
    let target = out.path().join("dist");
    let mut opts = options(&target, &patcher);
    opts.patcher = None;
    let err = write_dist(&plan, &opts).unwrap_err();
    assert!(matches!(err, ApplyError::Patch(_)), "{err:?}");
    assert_eq!(
        miette::Diagnostic::code(&err).unwrap().to_string(),
        "shenzi::patch::patchelf_missing"
    );
    let text = err.to_string();
    assert!(
        text.contains("lib/reals/libodd.so") && text.contains("not a little-endian 64-bit"),
        "{text}"
    );
    assert!(!target.exists());
    assert!(leftovers(out.path()).is_empty());
}

#[test]
fn a_missing_patchelf_is_reported_with_the_install_command() {
    let err = Patchelf::find(Some(Path::new("/nonexistent/patchelf"))).unwrap_err();
    let help = miette::Diagnostic::help(&err).unwrap().to_string();
    assert!(help.contains("`apt-get install patchelf`"), "{help}");
    assert_eq!(
        miette::Diagnostic::code(&err).unwrap().to_string(),
        "shenzi::patch::patchelf_missing"
    );
}

/// patchelf 0.14 writes the added need's name as the RUNPATH when one call both grows
/// the RUNPATH and adds a need; the patcher must not let that happen.
#[test]
fn a_need_added_with_a_long_runpath_keeps_both() {
    use shenzi::execute::Patcher;
    let src = tempfile::tempdir().unwrap();
    let lib = fixture_library(src.path());
    let patcher = Patchelf::find(None).unwrap();
    let long = "$ORIGIN/../../lib/links/a-rather-long-folder-name.so:$ORIGIN/../../lib/runtime";
    patcher
        .patch(
            &lib,
            &ElfEdits {
                runpath: Some(long.split(':').map(str::to_owned).collect()),
                add_needed: vec!["libm.so.6".into()],
                ..ElfEdits::default()
            },
        )
        .unwrap();
    assert_eq!(runpath(&lib), long);
    let needed = Command::new("patchelf")
        .arg("--print-needed")
        .arg(&lib)
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&needed.stdout)
            .lines()
            .any(|l| l == "libm.so.6")
    );
}

/// The sample plan over its own sources, the patcher, and a folder for the dists.
struct Fixture {
    src: tempfile::TempDir,
    out: tempfile::TempDir,
    patcher: Patchelf,
    plan: Plan,
}

fn fixture() -> Fixture {
    let src = tempfile::tempdir().unwrap();
    let out = tempfile::tempdir().unwrap();
    let patcher = Patchelf::find(None).expect("patchelf (scripts/setup installs it)");
    let plan = sample_plan(src.path());
    Fixture {
        src,
        out,
        patcher,
        plan,
    }
}

impl Fixture {
    /// Writes the plan to a new `out/<name>`: (that dist, the summary).
    fn apply(&self, name: &str) -> (PathBuf, shenzi::execute::ApplySummary) {
        let target = self.out.path().join(name);
        let summary = write_dist(&self.plan, &options(&target, &self.patcher)).unwrap();
        (target, summary)
    }

    /// `--force` onto `target`, a previous dist.
    fn reapply(&self, target: &Path) -> shenzi::execute::ApplySummary {
        let mut opts = options(target, &self.patcher);
        opts.force = true;
        write_dist(&self.plan, &opts).unwrap()
    }

    /// `--force --discard-changes` onto `target`, a previous dist the user changed.
    fn discard(&self, target: &Path) -> shenzi::execute::ApplySummary {
        let mut opts = options(target, &self.patcher);
        opts.force = true;
        opts.discard_changes = true;
        write_dist(&self.plan, &opts).unwrap()
    }
}

fn inode(path: &Path) -> u64 {
    path.symlink_metadata().unwrap().ino()
}

/// Sets a file's access and modification times to the dist's fixed time, as a user
/// hiding an edit would (`touch -d`).
fn restore_time(path: &Path) {
    let time = std::time::UNIX_EPOCH + std::time::Duration::from_secs(315_532_800);
    std::fs::File::options()
        .write(true)
        .open(path)
        .unwrap()
        .set_times(
            std::fs::FileTimes::new()
                .set_accessed(time)
                .set_modified(time),
        )
        .unwrap();
}

/// Overwrites a file's bytes in place from `at`, keeping its size, inode and mode.
fn overwrite(path: &Path, at: u64, bytes: &[u8]) {
    use std::io::{Seek, SeekFrom, Write};
    let mut file = std::fs::File::options().write(true).open(path).unwrap();
    file.seek(SeekFrom::Start(at)).unwrap();
    file.write_all(bytes).unwrap();
}

const DATA: &str = "data/data.txt";
const PYC: &str = "py/__pycache__/m.cpython-311.pyc";
const LIB: &str = "lib/reals/libanswer.so.1";

#[test]
fn a_reapply_of_an_unchanged_plan_reuses_files_and_matches_a_cold_apply() {
    let f = fixture();
    let (cold, first) = f.apply("cold");
    assert_eq!(first.reused, 0, "nothing to reuse on a cold apply");
    let (dist, _) = f.apply("dist");
    let before = (inode(&dist.join(DATA)), inode(&dist.join(PYC)));
    let lib_before = inode(&dist.join(LIB));

    let summary = f.reapply(&dist);
    // Nothing changed: nothing is written, the patched library included.
    assert!(summary.unchanged, "{summary:?}");
    assert_eq!(
        summary.reused,
        summary.files + summary.symlinks,
        "{summary:?}"
    );
    assert_eq!((summary.files, summary.patched), (4, 0));
    assert_eq!(
        (inode(&dist.join(DATA)), inode(&dist.join(PYC))),
        before,
        "reused files are the same inodes"
    );
    assert_eq!(inode(&dist.join(LIB)), lib_before);
    // Bytes, modes, mtimes and symlink targets of every path, as a cold apply wrote them.
    assert_eq!(tree(&dist), tree(&cold));
    // The old dist is gone: the reused files have one name again.
    assert_eq!(dist.join(DATA).metadata().unwrap().nlink(), 1);
    assert!(leftovers(f.out.path()).is_empty());

    // Reused twice over, still the same.
    let again = f.reapply(&dist);
    assert!(again.unchanged, "{again:?}");
    assert_eq!(tree(&dist), tree(&cold));
}

#[test]
fn a_dist_file_edited_by_the_user_is_not_reused() {
    let f = fixture();
    let (cold, _) = f.apply("cold");
    let (dist, _) = f.apply("dist");

    // Same size, same time: only the bytes tell.
    overwrite(&dist.join(DATA), 0, b"PAYLOAD\n");
    restore_time(&dist.join(DATA));
    // A pyc whose body is intact but whose stamp is not the dist's time.
    overwrite(&dist.join(PYC), 8, &[9, 9, 9, 9]);
    restore_time(&dist.join(PYC));
    let edited = inode(&dist.join(DATA));

    // Changed files are not replaced without `discard_changes`.
    let mut opts = options(&dist, &f.patcher);
    opts.force = true;
    let err = write_dist(&f.plan, &opts).unwrap_err();
    assert!(
        err.to_string()
            .contains(&format!("  {DATA} (changed)\n  {PYC} (changed)")),
        "{err}"
    );
    let summary = f.discard(&dist);
    assert_eq!(summary.reused, 1, "the patched library only: {summary:?}");
    assert_eq!(std::fs::read(dist.join(DATA)).unwrap(), b"payload\n");
    assert_ne!(inode(&dist.join(DATA)), edited);
    assert_eq!(tree(&dist), tree(&cold));

    // A changed mode alone is enough to rewrite a file.
    std::fs::set_permissions(dist.join(DATA), std::fs::Permissions::from_mode(0o600)).unwrap();
    let summary = f.reapply(&dist);
    assert_eq!(summary.reused, 2, "the pyc and the library: {summary:?}");
    assert_eq!(tree(&dist), tree(&cold));
}

#[test]
fn a_source_changed_between_applies_is_written_anew() {
    let f = fixture();
    let (dist, _) = f.apply("dist");

    // Same size and mode; the source's own mtime does not matter to the rule.
    let source = f.src.path().join("data.txt");
    std::fs::write(&source, "changed\n").unwrap();
    let summary = f.reapply(&dist);
    assert_eq!(summary.reused, 2, "the pyc and the library: {summary:?}");
    assert_eq!(std::fs::read(dist.join(DATA)).unwrap(), b"changed\n");

    // And a cold apply of the changed inputs agrees.
    let (cold, _) = f.apply("cold");
    assert_eq!(tree(&dist), tree(&cold));
}

#[test]
fn a_dist_file_with_another_link_is_not_reused() {
    let f = fixture();
    let elsewhere = tempfile::tempdir().unwrap();
    let (dist, _) = f.apply("dist");
    let outside = elsewhere.path().join("data.txt");
    std::fs::hard_link(dist.join(DATA), &outside).unwrap();

    let summary = f.reapply(&dist);
    assert_eq!(summary.reused, 2, "the pyc and the library: {summary:?}");
    assert_ne!(inode(&dist.join(DATA)), inode(&outside));
    assert_eq!(dist.join(DATA).metadata().unwrap().nlink(), 1);
    assert_eq!(std::fs::read(&outside).unwrap(), b"payload\n");
}

#[test]
fn a_dist_file_reached_through_a_symlink_is_not_reused() {
    let f = fixture();
    let (dist, _) = f.apply("dist");
    // The old dist's `data` folder becomes a symlink to an identical folder outside it.
    let outside = f.out.path().join("outside");
    std::fs::rename(dist.join("data"), &outside).unwrap();
    std::os::unix::fs::symlink(&outside, dist.join("data")).unwrap();

    let summary = f.discard(&dist);
    assert_eq!(summary.reused, 2, "the pyc and the library: {summary:?}");
    assert!(dist.join("data").symlink_metadata().unwrap().is_dir());
    assert_ne!(inode(&dist.join(DATA)), inode(&outside.join("data.txt")));
    assert_eq!(outside.join("data.txt").metadata().unwrap().nlink(), 1);
}
