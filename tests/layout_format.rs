//! `shenzi fmt` is idempotent, keeps every comment and changes no meaning.

use std::path::Path;

use shenzi::layout::{self, BUILTIN, Source};

fn comments(text: &str) -> Vec<String> {
    let (ast, _) = layout::parse(text);
    let mut out: Vec<String> = ast
        .comments
        .iter()
        .map(|c| text[c.span.start..c.span.end].trim_end().to_owned())
        .collect();
    out.sort();
    out
}

fn codes(name: &str, text: &str) -> Vec<&'static str> {
    let mut codes = layout::check(&Source::new(name, text)).report.codes();
    codes.sort_unstable();
    codes
}

#[test]
fn formatting_is_idempotent_and_keeps_comments_and_meaning() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/layout/diagnostics");
    let mut inputs: Vec<(String, String)> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "shz"))
        // One fixture is not UTF-8 on purpose: fmt refuses it (tests/layout_inputs.rs).
        .filter_map(|p| {
            let text = String::from_utf8(std::fs::read(&p).unwrap()).ok()?;
            Some((p.display().to_string(), text))
        })
        .collect();
    inputs.extend(
        BUILTIN
            .iter()
            .map(|(n, t)| ((*n).to_owned(), (*t).to_owned())),
    );
    inputs.push((
        "comments".into(),
        "# a\nunit x { # b\n  take python.stdlib, # c\n    python.dynload\n  # d\n\n\n  to \"x/{path}\" # e\n  # f\n}   # g\n# h\nsystem{preset glibc cxx-runtime bundle}".into(),
    ));
    let mut formatted_any = 0;
    for (name, text) in inputs {
        let Ok(once) = layout::format(&Source::new(name.clone(), text.clone())) else {
            continue;
        };
        formatted_any += 1;
        let twice = layout::format(&Source::new(name.clone(), once.clone())).unwrap();
        assert_eq!(once, twice, "{name}: not idempotent");
        assert_eq!(comments(&text), comments(&once), "{name}: comments changed");
        assert_eq!(
            codes(&name, &text),
            codes(&name, &once),
            "{name}: meaning changed"
        );
    }
    assert!(formatted_any > 40);
}
