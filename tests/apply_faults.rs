//! `shenzi apply` killed (`SIGKILL`, as `kill -9`) at ten moments of its run, fresh and
//! `--force` onto a good dist, then run again normally. The moments are chosen by the
//! writer's test hook (`SHENZI_TEST_HOOK`, `src/execute/hook.rs`), never by timing. After
//! every kill the target is absent or a whole dist (`shenzi verify` passes, and it is
//! byte for byte one of the two dists); with `--force` it is the previous dist, record
//! and files, until the new one has taken its place; and the next apply removes what
//! the killed one left, so that no scratch folder remains.

mod support;

use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::Output;

use support::dist::{scratch_names, tree};
use support::{apply, shenzi};

/// Moments of a fresh apply (phases of the hook; `N` the how-manieth time).
const FRESH: [&str; 10] = [
    "locked",
    "scratch",
    "folder:1",
    "folder:100",
    "file:1",
    "file:400",
    "file:1500",
    "written",
    "checked",
    "done",
];

/// Moments of an apply with `--force` onto a previous dist. The layouts alternate, so
/// every `N` stays below the smaller dist's count (`minimal` of the example: about 60
/// files, since it ships only the stdlib the trace imported, packed into one archive).
const FORCED: [&str; 10] = [
    "locked",
    "scratch",
    "folder:5",
    "file:1",
    "file:40",
    "written",
    "checked",
    "exchanged",
    "removed:1",
    "removed:40",
];

/// From these moments on, a forced apply's dist has taken the previous one's place.
const SWAPPED: [&str; 3] = ["exchanged", "removed:1", "removed:40"];

fn stderr_of(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn killed_apply(layout: &str, manifest: &Path, dist: &Path, force: bool, at: &str) -> Output {
    let mut cmd = shenzi();
    cmd.args(["apply", layout])
        .arg(manifest)
        .arg("-o")
        .arg(dist)
        .env("NO_COLOR", "1")
        .env("SHENZI_TEST_HOOK", format!("kill@{at}"));
    if force {
        cmd.arg("--force");
    }
    cmd.output().unwrap()
}

fn verify(dist: &Path) {
    let out = shenzi().arg("verify").arg(dist).output().unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
}

/// The next, normal apply: it must succeed, say it removed a scratch folder exactly when
/// one was left, and leave none.
fn recover(layout: &str, manifest: &Path, dist: &Path, what: &str) {
    let parent = dist.parent().unwrap();
    let left = scratch_names(parent);
    assert!(left.len() <= 1, "{what}: {left:?}");
    let force: &[&str] = if dist.exists() { &["--force"] } else { &[] };
    let out = apply(layout, manifest, dist, force);
    let err = stderr_of(&out);
    assert!(out.status.success(), "{what}: {err}");
    let said = err.contains("shenzi: removed 1 scratch folder left by a killed apply");
    assert_eq!(said, !left.is_empty(), "{what}: {left:?}\n{err}");
    assert_eq!(scratch_names(parent), Vec::<String>::new(), "{what}");
}

#[test]
fn an_apply_killed_at_any_moment_leaves_the_previous_dist_or_the_new_one() {
    let t = support::example::traced_example();
    let (dir, manifest) = (t.scratch.path(), &t.manifest);
    // The two dists every target must be one of: `default` and `minimal`, cold.
    let mut reference = std::collections::HashMap::new();
    for layout in ["default", "minimal"] {
        let cold = dir.join(format!("cold-{layout}"));
        let out = apply(layout, manifest, &cold, &[]);
        assert!(out.status.success(), "{}", stderr_of(&out));
        reference.insert(layout, tree(&cold, true));
    }

    // Fresh: absent, or whole.
    let fresh = dir.join("fresh").join("dist");
    std::fs::create_dir(fresh.parent().unwrap()).unwrap();
    for at in FRESH {
        let what = format!("fresh, killed at {at}");
        let out = killed_apply("default", manifest, &fresh, false, at);
        assert_eq!(
            out.status.signal(),
            Some(libc::SIGKILL),
            "{what}: {}",
            stderr_of(&out)
        );
        if at == "done" {
            verify(&fresh);
            assert_eq!(tree(&fresh, true), reference["default"], "{what}");
        } else {
            assert!(!fresh.exists(), "{what}");
        }
        recover("default", manifest, &fresh, &what);
        assert_eq!(tree(&fresh, true), reference["default"], "{what}");
        std::fs::remove_dir_all(&fresh).unwrap();
    }

    // `--force`, alternating layouts so that the previous dist and the new one differ.
    let forced = dir.join("forced").join("dist");
    std::fs::create_dir(forced.parent().unwrap()).unwrap();
    assert!(apply("default", manifest, &forced, &[]).status.success());
    let mut previous = "default";
    for at in FORCED {
        let next = if previous == "default" {
            "minimal"
        } else {
            "default"
        };
        let what = format!("--force {previous} → {next}, killed at {at}");
        let record = std::fs::read(forced.join(".shenzi/dist.json")).unwrap();
        let out = killed_apply(next, manifest, &forced, true, at);
        assert_eq!(
            out.status.signal(),
            Some(libc::SIGKILL),
            "{what}: {}",
            stderr_of(&out)
        );
        verify(&forced);
        if SWAPPED.contains(&at) {
            assert_eq!(tree(&forced, true), reference[next], "{what}");
        } else {
            assert_eq!(
                std::fs::read(forced.join(".shenzi/dist.json")).unwrap(),
                record,
                "{what}: the record changed"
            );
            assert_eq!(tree(&forced, true), reference[previous], "{what}");
        }
        recover(next, manifest, &forced, &what);
        assert_eq!(tree(&forced, true), reference[next], "{what}");
        previous = next;
    }
}

/// Moments of an incremental re-apply (one module edited): before the exchange.
const INCREMENTAL: [&str; 5] = ["locked", "scratch", "file:1", "written", "checked"];

#[test]
fn an_incremental_reapply_killed_before_the_exchange_leaves_the_previous_dist() {
    let t = support::example::traced_example();
    let (dir, manifest) = (t.scratch.path(), &t.manifest);
    let dist = dir.join("inc").join("dist");
    std::fs::create_dir(dist.parent().unwrap()).unwrap();
    assert!(apply("default", manifest, &dist, &[]).status.success());
    let previous = tree(&dist, true);
    let record = std::fs::read(dist.join(".shenzi/dist.json")).unwrap();
    let source = t.app.join("greeter/__init__.py");
    let mut text = std::fs::read_to_string(&source).unwrap();
    text.push_str("# edited\n");
    std::fs::write(&source, &text).unwrap();
    for at in INCREMENTAL {
        let what = format!("incremental, killed at {at}");
        let out = killed_apply("default", manifest, &dist, true, at);
        assert_eq!(
            out.status.signal(),
            Some(libc::SIGKILL),
            "{what}: {}",
            stderr_of(&out)
        );
        verify(&dist);
        assert_eq!(tree(&dist, true), previous, "{what}");
        assert_eq!(
            std::fs::read(dist.join(".shenzi/dist.json")).unwrap(),
            record,
            "{what}: the record changed"
        );
    }
    // The next re-apply still redoes only the edited module and matches a cold apply.
    recover("default", manifest, &dist, "incremental");
    let cold = dir.join("inc").join("cold");
    assert!(apply("default", manifest, &cold, &[]).status.success());
    assert_eq!(tree(&dist, true), tree(&cold, true));
    // Nothing changed: killed where it decides so, the dist is as it was.
    let now = tree(&dist, true);
    let out = killed_apply("default", manifest, &dist, true, "unchanged");
    assert_eq!(
        out.status.signal(),
        Some(libc::SIGKILL),
        "{}",
        stderr_of(&out)
    );
    assert_eq!(tree(&dist, true), now);
}
