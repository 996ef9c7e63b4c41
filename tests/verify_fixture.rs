//! `shenzi verify` on small dists made by hand from fixture libraries built with the C
//! compiler: a library is proven from every folder it can be opened from (its own, each
//! symlink's, each folder link's, with `..` resolved by the kernel as the loader's
//! `open` does), and needs found outside the dist or only through an absolute path are
//! failures. The real loader agrees with each verdict.

mod support;

#[path = "fixtures/native/kit.rs"]
mod kit;

use std::os::unix::fs::symlink;
use std::path::Path;
use std::process::Output;

use kit::{Kit, Lib};
use support::shenzi;

/// A dist around the fixture libraries: the Python bits `verify` looks for, and a
/// record whose policy is glibc.
fn dist_skeleton(root: &Path) {
    std::fs::create_dir_all(root.join("python/bin")).unwrap();
    std::fs::create_dir_all(root.join("python/lib/python3.11")).unwrap();
    std::fs::create_dir_all(root.join(".shenzi")).unwrap();
    std::fs::write(root.join("python/bin/python3.11"), "not a real interpreter").unwrap();
    std::fs::write(root.join("python/lib/python3.11/os.py"), "").unwrap();
    let record = serde_json::json!({
        "version": 1,
        "shenzi": "test",
        "layout": "hand-made",
        "interpreter": "python/bin/python3.11",
        "launcher": "",
        "python": "3.11",
        "system_libraries": ["libc.so.6", "libdl.so.2", "libm.so.6", "ld-linux-x86-64.so.2", "ld-linux-aarch64.so.1"],
    });
    std::fs::write(root.join(".shenzi/dist.json"), record.to_string()).unwrap();
}

fn verify(root: &Path) -> Output {
    shenzi()
        .arg("verify")
        .arg(root.file_name().unwrap())
        .current_dir(root.parent().unwrap())
        .env("NO_COLOR", "1")
        .output()
        .unwrap()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Runs `verify`, which must fail with exit code 1; returns its stderr.
fn verify_fails(root: &Path) -> String {
    let out = verify(root);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    err
}

/// `dist/lib/real/liba.so` needs `libb.so` through `$ORIGIN/../b`: right from `lib/real`
/// and from any folder at the same depth, wrong from deeper or shallower ones.
#[test]
fn a_library_is_proven_from_every_folder_it_can_be_opened_from() {
    let kit = Kit::new();
    let root = kit.path("dist");
    dist_skeleton(&root);
    let b = kit.plain("dist/lib/b/libb.so", "libb.so");
    kit.lib(
        "dist/lib/real/liba.so",
        Lib {
            soname: "liba.so",
            needs: &[&b],
            runpath: &["$ORIGIN/../b"],
            ..Lib::default()
        },
    );
    // A link at the same depth: `$ORIGIN/../b` still names `lib/b`.
    std::fs::create_dir_all(root.join("lib/same")).unwrap();
    symlink("../real/liba.so", root.join("lib/same/liba.so")).unwrap();
    let out = verify(&root);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("`dist` verified: 2 binaries"),
        "{}",
        stderr(&out)
    );
    // The real loader agrees: through the link, libb is found.
    let loaded = kit.real(&[&root.join("lib/same/liba.so")], None).unwrap();
    assert!(
        loaded.iter().any(|l| l.ends_with("/b/libb.so")),
        "{loaded:?}"
    );

    // A deeper link: from `deep/x`, `$ORIGIN/../b` is `deep/b`, which does not exist.
    // A folder link `alias -> lib/real`: from `alias`, `$ORIGIN/../b` is resolved by the
    // kernel through the link (`alias/..` is `lib`), so it works.
    std::fs::create_dir_all(root.join("deep/x")).unwrap();
    symlink("../../lib/real/liba.so", root.join("deep/x/liba.so")).unwrap();
    symlink("lib/real", root.join("alias")).unwrap();
    let err = verify_fails(&root);
    assert!(
        err.contains(
            "`lib/real/liba.so` needs `libb.so`, which the loader finds nowhere when it is opened from\n  | `deep/x`\n"
        ),
        "{err}"
    );
    assert!(
        err.contains("DT_RUNPATH `$ORIGIN/../b`: `deep/b/libb.so` absent"),
        "{err}"
    );
    assert_eq!(err.matches("Error: shenzi::verify::").count(), 1, "{err}");
    // The real loader agrees on both.
    let real = kit.real(&[&root.join("deep/x/liba.so")], None);
    assert!(real.is_err(), "{real:?}");
    let real = kit.real(&[&root.join("alias/liba.so")], None);
    assert!(real.is_ok(), "{real:?}");
}

/// A need served from outside the dist (a RUNPATH to the build machine) or only
/// through an absolute path to where the dist is now breaks once the dist moves.
#[test]
fn needs_found_outside_the_dist_or_by_absolute_path_fail() {
    let kit = Kit::new();
    let root = kit.path("dist");
    dist_skeleton(&root);
    let outside = kit.plain("elsewhere/libout.so", "libout.so");
    let inside = kit.plain("dist/lib/libin.so", "libin.so");
    let elsewhere = kit.path("elsewhere");
    let libdir = root.join("lib");
    kit.lib(
        "dist/lib/user/libuser.so",
        Lib {
            soname: "libuser.so",
            needs: &[&outside, &inside],
            runpath: &[elsewhere.to_str().unwrap(), libdir.to_str().unwrap()],
            ..Lib::default()
        },
    );
    let err = verify_fails(&root);
    assert!(err.contains("shenzi::verify::outside_dist"), "{err}");
    assert!(
        err.contains("`lib/user/libuser.so` loads `libout.so` from"),
        "{err}"
    );
    assert!(err.contains("shenzi::verify::absolute_path"), "{err}");
    assert!(
        err.contains("`lib/user/libuser.so` finds `libin.so` only through the absolute path"),
        "{err}"
    );
}

/// An ELF that is damaged is reported, not skipped, and not a panic.
#[test]
fn a_truncated_library_is_reported() {
    let kit = Kit::new();
    let root = kit.path("dist");
    dist_skeleton(&root);
    let lib = kit.plain("dist/lib/libcut.so", "libcut.so");
    let bytes = std::fs::read(&lib).unwrap();
    std::fs::write(&lib, &bytes[..100]).unwrap();
    let err = verify_fails(&root);
    assert!(err.contains("shenzi::verify::corrupt_binary"), "{err}");
    assert!(err.contains("`lib/libcut.so`"), "{err}");
}

/// The Python side of a hand-made dist: a `-m` entry is looked up on the `.pth` folders
/// (comments and `import` lines skipped) and the stdlib; the launcher must be
/// executable; a `.pth` outside the interpreter's prefix is never read by `site`.
#[test]
fn module_entries_pth_folders_and_the_launcher_are_checked() {
    let scratch = tempfile::tempdir().unwrap();
    let root = scratch.path().join("dist");
    dist_skeleton(&root);
    let site = root.join("python/lib/python3.11/site-packages");
    std::fs::create_dir_all(&site).unwrap();
    std::fs::write(
        site.join("00-shenzi.pth"),
        "# generated\nimport sys\n../../../../app\n",
    )
    .unwrap();
    std::fs::create_dir_all(root.join("app/tool")).unwrap();
    std::fs::write(root.join("app/tool/__init__.py"), "").unwrap();
    std::fs::write(root.join("app/tool/cli.py"), "").unwrap();
    std::fs::create_dir_all(root.join("bin")).unwrap();
    std::fs::write(root.join("bin/app"), "#!/bin/sh\n").unwrap();
    let mut record: serde_json::Value =
        serde_json::from_slice(&std::fs::read(root.join(".shenzi/dist.json")).unwrap()).unwrap();
    record["launcher"] = "bin/app".into();
    record["entry"] = serde_json::json!({ "module": "tool.cli" });
    record["pth"] = "python/lib/python3.11/site-packages/00-shenzi.pth".into();
    std::fs::write(root.join(".shenzi/dist.json"), record.to_string()).unwrap();

    // The launcher is not executable: the only problem.
    let err = verify_fails(&root);
    assert!(
        err.contains("the launcher `bin/app` cannot be run: it is not executable"),
        "{err}"
    );
    assert_eq!(err.matches("Error: shenzi::verify::").count(), 1, "{err}");

    let mut perms = std::fs::metadata(root.join("bin/app"))
        .unwrap()
        .permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o755);
    std::fs::set_permissions(root.join("bin/app"), perms).unwrap();
    let out = verify(&root);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));

    // The module gone: the places looked in are listed.
    std::fs::remove_file(root.join("app/tool/cli.py")).unwrap();
    let err = verify_fails(&root);
    assert!(
        err.contains("the launcher starts module `tool.cli`, which is not in the dist"),
        "{err}"
    );
    assert!(
        err.contains("looked in:\n          app\n          python/lib/python3.11/lib-dynload\n          python/lib/python3.11\n"),
        "{err}"
    );

    // A `.pth` outside the prefix, pointing at a folder that does not exist.
    std::fs::write(root.join("app/tool/cli.py"), "").unwrap();
    std::fs::write(root.join("extra.pth"), "nowhere\n").unwrap();
    record["pth"] = "extra.pth".into();
    std::fs::write(root.join(".shenzi/dist.json"), record.to_string()).unwrap();
    let err = verify_fails(&root);
    assert!(err.contains("shenzi::verify::pth_outside_prefix"), "{err}");
    assert!(
        err.contains("`extra.pth` line 1 puts `nowhere` on `sys.path`, and the folder `nowhere` does not exist"),
        "{err}"
    );
}

/// What the record lists as shipped as it is (the build machine could not load it
/// either) is not held against the dist for what the record says it lacks, nor for being
/// damaged; anything else about it still is.
#[test]
fn objects_the_record_ships_as_they_are_are_held_to_what_they_do_not_lack() {
    let kit = Kit::new();
    let root = kit.path("dist");
    dist_skeleton(&root);
    kit.needs_gone("dist/lib/liboptional.so", "$ORIGIN");
    let lib = kit.plain("dist/lib/libcut.so", "libcut.so");
    let bytes = std::fs::read(&lib).unwrap();
    std::fs::write(&lib, &bytes[..100]).unwrap();
    let err = verify_fails(&root);
    assert!(
        err.contains("shenzi::verify::corrupt_binary")
            && err.contains("`lib/liboptional.so` needs `libgone.so.7`"),
        "{err}"
    );

    let path = root.join(".shenzi/dist.json");
    let mut record: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    record["as_is"] = serde_json::json!([
        { "path": "lib/libcut.so", "unloadable": "damaged: too short" },
        { "path": "lib/liboptional.so", "missing": ["libgone.so.7"] },
    ]);
    std::fs::write(&path, record.to_string()).unwrap();
    let out = verify(&root);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(err.contains("2 objects shipped as they are"), "{err}");

    // Listed for another need: its real miss still counts.
    record["as_is"][1]["missing"] = serde_json::json!(["libother.so.1"]);
    std::fs::write(&path, record.to_string()).unwrap();
    let err = verify_fails(&root);
    assert!(
        err.contains("`lib/liboptional.so` needs `libgone.so.7`"),
        "{err}"
    );
    assert!(!err.contains("corrupt_binary"), "{err}");
}
