//! `pack zip` through the real binary: `minimal` packs the pure site packages of a venv of
//! pyenv's CPython 3.11 into `site-packages.zip`, and each archive rule holds in the dist,
//! run where the venv and the app's sources are hidden (tests/support/e2e.rs):
//! - a package that reads a file beside its code through `__file__` stays a folder, and
//!   reads it;
//! - a package whose data `importlib.resources` read during the trace stays a folder
//!   (the trace saw the read), and reads it;
//! - a namespace package and a plain package are imported from the archive;
//! - a `.pth` file and a `*.dist-info` folder stay files beside it, and
//!   `importlib.metadata` finds the version and the entry points;
//! - the archive is byte-identical when applied twice.

mod support;

use std::path::Path;
use std::process::Command;

use support::e2e::{self, AppRun};
use support::{describe, output_ok, python311, text};

const APP: &str = r#"
import importlib.metadata as md
import importlib.resources
import filepkg, respkg, nsp.part, plainpkg.sub
where = lambda m: "zip" if ".zip" in (m.__file__ or "") else "file"
print("filepkg", filepkg.DATA, where(filepkg))
print("respkg", importlib.resources.files("respkg").joinpath("res.txt").read_text().strip(), where(respkg))
print("nsp", nsp.part.WHERE, where(nsp.part))
print("plainpkg", plainpkg.sub.VALUE, where(plainpkg.sub))
print("version", md.version("plaindist"))
eps = md.entry_points(group="plain.plugins") if hasattr(md.entry_points(), "select") else md.entry_points()["plain.plugins"]
print("entry points", sorted(ep.name for ep in eps))
"#;

/// The venv's site-packages: one package per rule.
fn populate(site: &Path) {
    let files: &[(&str, &str)] = &[
        (
            "filepkg/__init__.py",
            "import os\nDATA = open(os.path.join(os.path.dirname(__file__), 'data.txt')).read().strip()\n",
        ),
        ("filepkg/data.txt", "beside its code\n"),
        ("respkg/__init__.py", ""),
        ("respkg/res.txt", "a resource\n"),
        ("nsp/part.py", "WHERE = 'namespace'\n"),
        ("plainpkg/__init__.py", ""),
        ("plainpkg/sub.py", "VALUE = 42\n"),
        (
            "plaindist-1.2.dist-info/METADATA",
            "Metadata-Version: 2.1\nName: plaindist\nVersion: 1.2\n",
        ),
        (
            "plaindist-1.2.dist-info/entry_points.txt",
            "[plain.plugins]\nfirst = plainpkg.sub:VALUE\nsecond = plainpkg:__name__\n",
        ),
        ("plaindist-1.2.dist-info/top_level.txt", "plainpkg\n"),
        (
            "plaindist-1.2.dist-info/RECORD",
            "plainpkg/__init__.py,,\nplainpkg/sub.py,,\n",
        ),
        // A path line to a folder that does not exist: `site` skips it.
        ("zz-extra.pth", "no-such-folder\n"),
    ];
    for (name, body) in files {
        e2e::write(&site.join(name), body);
    }
}

fn zip_members(archive: &Path) -> Vec<String> {
    let out = output_ok(
        Command::new(python311())
            .args([
                "-I",
                "-c",
                "import sys, zipfile; z = zipfile.ZipFile(sys.argv[1]); assert z.testzip() is None; print(*z.namelist(), sep='\\n')",
            ])
            .arg(archive),
    );
    text(&out.stdout).lines().map(str::to_owned).collect()
}

#[test]
fn minimal_packs_pure_packages_and_keeps_what_cannot_be_packed_beside_the_archive() {
    // Proves: every rule of the module docs, in a dist run hidden from its sources; the
    // expected output names where each module came from, so a package packed that should
    // not be (or the reverse) fails.
    let scratch = e2e::scratch();
    let venv = scratch.path().join("venv");
    output_ok(
        Command::new(python311())
            .args(["-m", "venv", "--without-pip"])
            .arg(&venv),
    );
    populate(&venv.join("lib/python3.11/site-packages"));
    let src = e2e::app(scratch.path(), APP);
    let mut run = AppRun::new(
        "pack_zip × pyenv-3.11",
        &venv.join("bin/python"),
        &src,
        "app.py",
    );
    run.venv = Some(venv.clone());
    let t = e2e::trace(run, scratch);
    assert_eq!(
        text(&t.untraced.stdout),
        "filepkg beside its code file\nrespkg a resource file\nnsp namespace file\nplainpkg 42 file\nversion 1.2\nentry points ['first', 'second']\n",
        "precondition: the app runs from files on the host: {}",
        describe(&t.untraced)
    );

    // The plan says what stays files, and why.
    let plan = support::shenzi()
        .args(["plan", "minimal"])
        .arg(&t.manifest)
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    let said = text(&plan.stdout);
    for line in [
        "packed: unit `packages` into site-packages.zip",
        "filepkg (2 files): the trace saw it open `filepkg/data.txt` beside its code",
        "respkg (2 files): the trace saw it open `respkg/res.txt` beside its code",
        "zz-extra.pth (1 files): `site` reads `.pth` files from site dirs only",
        "plaindist-1.2.dist-info (4 files): package metadata stays a folder",
        "os.py (",
        "): the interpreter finds its prefix by it",
    ] {
        assert!(said.contains(line), "plan lacks {line:?}:\n{said}");
    }

    let check = |dist: &Path, _: &support::hidden::HiddenWorld| -> Result<(), String> {
        let members = zip_members(&dist.join("site-packages.zip"));
        let mut problems = Vec::new();
        for packed in [
            "nsp/",
            "nsp/part.py",
            "plainpkg/__init__.py",
            "plainpkg/sub.py",
        ] {
            if !members.iter().any(|m| m == packed) {
                problems.push(format!("`{packed}` is not in the archive: {members:?}"));
            }
        }
        for kept in [
            "filepkg/data.txt",
            "respkg/res.txt",
            "zz-extra.pth",
            "plaindist-1.2.dist-info/METADATA",
        ] {
            if members.iter().any(|m| m == kept) || !dist.join("site-packages").join(kept).is_file()
            {
                problems.push(format!("`{kept}` is not a file beside the archive"));
            }
        }
        if members
            .iter()
            .any(|m| m.starts_with("filepkg/") || m.starts_with("respkg/"))
        {
            problems.push("a package kept as a folder is in the archive too".into());
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems.join("\n"))
        }
    };
    // In the dist the pure packages come from the archive: the expected output differs
    // from the host's exactly there.
    let expected = "filepkg beside its code file\nrespkg a resource file\nnsp namespace zip\nplainpkg 42 zip\nversion 1.2\nentry points ['first', 'second']\n";
    let mut t = t;
    t.untraced.stdout = expected.as_bytes().to_vec();
    if let Err(why) = e2e::check_layout_with(&t, "minimal", &check) {
        panic!("minimal: {why}");
    }

    // Applied twice, the archives are the same bytes.
    let again = |name: &str| {
        let dist = t.scratch.path().join(name);
        let out = support::apply("minimal", &t.manifest, &dist, &[]);
        assert!(out.status.success(), "{}", describe(&out));
        (
            std::fs::read(dist.join("site-packages.zip")).unwrap(),
            std::fs::read(dist.join("python/lib/python311.zip")).unwrap(),
        )
    };
    assert!(
        again("one") == again("two"),
        "the archives differ between two applies"
    );
}
