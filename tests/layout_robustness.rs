//! The parser and analyzer never panic: every prefix of every fixture, 10,000-deep
//! nesting and a 5 MB layout all end in diagnostics or success. Seeded random
//! mutations run in tests/fuzz_seeds.rs, through the fuzz target's code.

use std::path::Path;
use std::time::Instant;

use shenzi::layout::{self, BUILTIN, Source};

fn fixture_texts() -> Vec<String> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/layout/diagnostics");
    let mut texts: Vec<String> = std::fs::read_dir(dir)
        .expect("fixture folder")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "shz"))
        // One fixture is not UTF-8 on purpose; the mutations below cover such bytes.
        .filter_map(|p| String::from_utf8(std::fs::read(p).expect("fixture")).ok())
        .collect();
    texts.sort();
    texts.extend(BUILTIN.iter().map(|(_, t)| (*t).to_owned()));
    texts
}

/// Checks and formats; both must return.
fn exercise(text: &str) -> usize {
    let source = Source::new("fuzz.shz", text);
    let checked = layout::check(&source);
    let _ = layout::format(&source);
    checked.report.diagnostics.len()
}

#[test]
fn every_prefix_gives_diagnostics_or_success() {
    for text in fixture_texts() {
        for (cut, _) in text.char_indices() {
            exercise(&text[..cut]);
        }
    }
}

#[test]
fn deep_nesting_is_a_diagnostic() {
    for text in [
        "unit a {".repeat(10_000),
        "{".repeat(10_000),
        format!("{}{}", "unit a { ".repeat(10_000), "}".repeat(10_000)),
        "}".repeat(10_000),
        format!("unit a {{ to \"{}\" }}", "{".repeat(10_000)),
        format!(
            "unit a {{ take python.stdlib  to \"{}\" }}",
            "{a".repeat(10_000)
        ),
    ] {
        let checked = layout::check(&Source::new("deep.shz", text));
        assert!(checked.has_errors());
        assert!(checked.report.diagnostics.len() <= layout::DIAGNOSTIC_LIMIT + 1);
    }
}

#[test]
fn five_megabytes_of_layout_are_handled() {
    let mut text = String::from("system {\n  preset glibc\n  cxx-runtime bundle\n}\n\n");
    text.push_str(
        "unit interpreter {\n  take python.interpreter\n  to \"python/bin/{file}\"\n}\n\n",
    );
    text.push_str("launcher {\n  at \"bin/app\"\n  python interpreter\n}\n\n");
    // Units documented the way a generated layout would be: a comment block each.
    let note = format!(
        "#{}\n",
        " generated from the package index; see docs/layout-language.md".repeat(2)
    );
    let mut i = 0;
    while text.len() < 5 * 1024 * 1024 {
        for _ in 0..8 {
            text.push_str(&note);
        }
        text.push_str(&format!(
            "unit u{i} {{\n  take python.site_dirs\n  only \"pkg{i}/**\"\n  exclude \"**/__pycache__/**\"\n  to \"site/{i}/{{path}}\"\n}}\n\n"
        ));
        i += 1;
    }
    text.pop();
    let started = Instant::now();
    let checked = layout::check(&Source::new("big.shz", text.clone()));
    assert!(
        checked.report.diagnostics.is_empty(),
        "{:?}",
        &checked.report.codes()[..1]
    );
    assert_eq!(checked.layout.unwrap().units.len(), i + 1);
    let formatted = layout::format(&Source::new("big.shz", text.clone())).unwrap();
    // Not assert_eq: a 5 MB difference is no help on a terminal.
    assert!(
        formatted == text,
        "the generated layout is not a fixed point of fmt"
    );
    // Generous: a debug build on a loaded machine; the release figure is in the report.
    assert!(started.elapsed().as_secs() < 60);

    // The same size of garbage stops at the diagnostic limit.
    let garbage = "unit ? { }\n".repeat(500_000);
    let checked = layout::check(&Source::new("garbage.shz", garbage));
    assert!(checked.report.diagnostics.len() <= layout::DIAGNOSTIC_LIMIT + 1);
}
