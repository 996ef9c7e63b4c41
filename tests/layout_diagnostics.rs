//! Every diagnostic of the layout language, each from a fixture file, rendered without
//! colour at width 100 and checked as a snapshot. A fixture is named after the code it
//! demonstrates (`unknown_variable.shz`, or `unknown_choice__serve.shz` for a second
//! example); fixtures whose first line says `(with manifest)` are checked against
//! `tests/fixtures/layout/manifest.json`.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use shenzi::layout::{self, Source};
use shenzi::manifest::read_manifest;

fn fixtures() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/layout/diagnostics");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("fixture folder")
        .map(|e| e.expect("fixture entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "shz"))
        .collect();
    files.sort();
    files
}

/// As the command line shows it: through `shown`, which escapes control characters
/// and windows long lines.
pub fn render(report: &layout::LayoutReport) -> String {
    layout::shown::to_text(report)
}

fn check_fixture(path: &Path) -> layout::Checked {
    let bytes = std::fs::read(path).expect("fixture bytes");
    let name = format!(
        "tests/fixtures/layout/diagnostics/{}",
        path.file_name().unwrap().to_string_lossy()
    );
    let source = Source::from_bytes(name, bytes);
    let text = source.text.clone();
    if text
        .lines()
        .next()
        .unwrap_or("")
        .contains("(with manifest)")
    {
        let manifest = read_manifest(
            &Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/layout/manifest.json"),
        )
        .expect("fixture manifest");
        layout::check_with_manifest(&source, &manifest)
    } else {
        layout::check(&source)
    }
}

#[test]
fn every_fixture_shows_its_diagnostic() {
    let mut codes = BTreeSet::new();
    let mut wrong = Vec::new();
    let mut rendered = Vec::new();
    for path in fixtures() {
        let stem = path.file_stem().unwrap().to_string_lossy().to_string();
        let code = format!("shenzi::layout::{}", stem.split("__").next().unwrap());
        let checked = check_fixture(&path);
        let found = checked.report.codes();
        if !found.contains(&code.as_str()) {
            wrong.push(format!("{stem}: expected {code}, got {found:?}"));
        }
        codes.insert(code);
        rendered.push((stem, render(&checked.report)));
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    assert!(codes.len() >= 30, "only {} distinct codes", codes.len());
    for (stem, text) in rendered {
        insta::assert_snapshot!(format!("diagnostic__{stem}"), text);
    }
}
