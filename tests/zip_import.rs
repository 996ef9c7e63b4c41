//! The pure-Python archive writer (src/execute/zip.rs) against real CPython: the 3.9 and
//! 3.11 of pyenv import a package, a namespace package and a module from it through
//! `zipimport`, `importlib.resources` reads a data file from it, `zipfile` finds every
//! CRC right, and the same members give the same bytes.

mod support;

use std::process::Command;

use shenzi::execute::zip::write_zip;
use support::{describe, interpreters, text};

const CHECK: &str = r#"
import sys, zipfile, importlib.resources
archive = sys.argv[1]
sys.path.insert(0, archive)
import pkg, pkg.sub.deep, ns.part, single
assert pkg.__loader__.__class__.__name__ == "zipimporter", pkg.__loader__
assert zipfile.ZipFile(archive).testzip() is None
data = importlib.resources.files("pkg").joinpath("data.txt").read_text(encoding="utf-8")
print(pkg.NAME, pkg.sub.deep.VALUE, ns.part.WHERE, single.ONE, data.strip())
"#;

fn members() -> Vec<(String, Vec<u8>)> {
    [
        ("pkg/__init__.py", "NAME = 'pkg'\n"),
        ("pkg/sub/__init__.py", ""),
        ("pkg/sub/deep.py", "VALUE = 42\n"),
        ("pkg/data.txt", "data é\n"),
        ("ns/part.py", "WHERE = 'namespace'\n"),
        ("single.py", "ONE = 1\n"),
    ]
    .into_iter()
    .map(|(n, d)| (n.to_owned(), d.as_bytes().to_vec()))
    .collect()
}

#[test]
fn cpython_imports_from_the_archive_and_reads_its_data() {
    // Proves: what the writer makes is a zip CPython imports from (packages, a namespace
    // package by its folder entry, a module), reads resources from, and checks clean;
    // the same members in another order give the same bytes.
    let dir = tempfile::tempdir().unwrap();
    let bytes = write_zip(&members()).unwrap();
    let mut reversed = members();
    reversed.reverse();
    assert_eq!(bytes, write_zip(&reversed).unwrap());
    let archive = dir.path().join("python.zip");
    std::fs::write(&archive, &bytes).unwrap();
    let found = interpreters();
    let mut ran = 0;
    for label in ["pyenv-3.9", "pyenv-3.11"] {
        let Some(python) = found.iter().find(|i| i.label == label) else {
            eprintln!("SKIPPED: {label} is not installed here");
            continue;
        };
        let out = Command::new(&python.path)
            .args(["-I", "-c", CHECK])
            .arg(&archive)
            .output()
            .unwrap();
        assert!(out.status.success(), "{label}: {}", describe(&out));
        assert_eq!(
            text(&out.stdout).trim(),
            "pkg 42 namespace 1 data é",
            "{label}"
        );
        ran += 1;
    }
    assert!(ran > 0, "no pyenv interpreter to check with");
}
