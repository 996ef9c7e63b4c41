//! `shenzi check` and `shenzi fmt` as a user runs them: exit codes, plain output.

mod support;

use std::path::Path;

use support::shenzi;

fn fixture(name: &str) -> String {
    format!(
        "{}/tests/fixtures/layout/diagnostics/{name}.shz",
        env!("CARGO_MANIFEST_DIR")
    )
}

#[test]
fn check_exit_codes() {
    let ok = shenzi().args(["check", "default"]).output().unwrap();
    assert_eq!(
        ok.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );

    let error = shenzi()
        .args(["check", &fixture("unknown_kind")])
        .output()
        .unwrap();
    assert_eq!(error.status.code(), Some(1));
    let text = String::from_utf8_lossy(&error.stderr);
    assert!(text.contains("shenzi::layout::unknown_kind"), "{text}");
    assert!(text.contains("did you mean `python.stdlib`?"), "{text}");
    assert!(!text.contains('\u{1b}'), "no colour when not on a terminal");

    let warning = shenzi()
        .args(["check", &fixture("farm_unused")])
        .output()
        .unwrap();
    assert_eq!(warning.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&warning.stderr).contains("shenzi::layout::farm_unused"));
    let denied = shenzi()
        .args(["check", &fixture("farm_unused"), "--deny-warnings"])
        .output()
        .unwrap();
    assert_eq!(denied.status.code(), Some(1));

    let missing = shenzi().args(["check", "no/such.shz"]).output().unwrap();
    assert_eq!(missing.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("shenzi::layout::unreadable"));
}

#[test]
fn check_with_a_manifest() {
    let manifest = format!(
        "{}/tests/fixtures/layout/manifest.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let out = shenzi()
        .args(["check", &fixture("kind_not_in_manifest"), &manifest])
        .output()
        .unwrap();
    // The layout's warning, then the planner's checks: this toy layout takes no
    // libraries, so the plan `apply` would make has errors, and `check` fails as `plan`.
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stderr);
    assert!(
        text.contains("shenzi::layout::kind_not_in_manifest")
            && text.contains("shenzi::plan::library_not_taken"),
        "{text}"
    );

    let bad = shenzi()
        .args(["check", "default", &fixture("unknown_kind")])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("shenzi::manifest::invalid_json"));
}

#[test]
fn fmt_rewrites_and_checks() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mine.shz");
    let messy = "# mine\nsystem{preset glibc cxx-runtime bundle}   # trust glibc\nunit a{take python.stdlib to \"lib/{path}\" exclude \"a\" \"b\"}\n";
    std::fs::write(&path, messy).unwrap();
    let p = path.to_str().unwrap();

    let check = shenzi().args(["fmt", "--check", p]).output().unwrap();
    assert_eq!(check.status.code(), Some(1));
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        messy,
        "--check writes nothing"
    );

    let fmt = shenzi().args(["fmt", p]).output().unwrap();
    assert_eq!(fmt.status.code(), Some(0));
    let formatted = std::fs::read_to_string(&path).unwrap();
    assert_eq!(
        formatted,
        "# mine\nsystem {  # trust glibc\n  preset glibc\n  cxx-runtime bundle\n}\n\nunit a {\n  take python.stdlib\n  to \"lib/{path}\"\n  exclude \"a\", \"b\"\n}\n"
    );
    let again = shenzi().args(["fmt", "--check", p]).output().unwrap();
    assert_eq!(again.status.code(), Some(0));

    let broken = dir.path().join("broken.shz");
    std::fs::write(&broken, "unit a {\n").unwrap();
    let out = shenzi()
        .args(["fmt", broken.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(std::fs::read_to_string(&broken).unwrap(), "unit a {\n");
    assert!(Path::new(p).exists());
}
