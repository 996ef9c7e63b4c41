//! `docs/layout-language.md` is generated in part from the same data the analyzer
//! uses: the kinds and their variables, the variables, the presets and the launcher
//! flags. This test fails when the reference and the code drift apart, and every
//! diagnostic code demonstrated by a fixture must be documented.

use std::path::Path;

use shenzi::layout::{COMMON, FARM, Flag, KINDS, Var};
use shenzi::policy::{PRESETS, entries};

fn vars(list: &[Var]) -> String {
    list.iter()
        .map(|v| format!("`{{{v}}}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The generated blocks, each exactly as the reference must contain it.
fn blocks() -> Vec<String> {
    let mut kinds = String::from(
        "| kind | what it takes | globs match | variables (besides the common ones) |\n| --- | --- | --- | --- |\n",
    );
    for k in KINDS {
        kinds.push_str(&format!(
            "| `{}` | {} | {} | {} |\n",
            k.name,
            k.summary,
            k.matched,
            vars(k.vars)
        ));
    }
    let mut all = String::from("| variable | value |\n| --- | --- |\n");
    for v in Var::ALL {
        all.push_str(&format!("| `{{{v}}}` | {} |\n", v.summary()));
    }
    let common = format!("Common to every template: {}.\n", vars(COMMON));
    let farm = format!("Farm `reals` and `links` templates: {}.\n", vars(FARM));
    let mut presets = String::new();
    for p in PRESETS {
        presets.push_str(&format!("#### `{}`\n\n{}.", p.name, p.summary));
        if !p.extends.is_empty() {
            presets.push_str(&format!(
                " Includes {}.",
                p.extends
                    .iter()
                    .map(|e| format!("`{e}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        presets.push_str("\n\n");
        let list: Vec<String> = entries(p).iter().map(|e| format!("`{e}`")).collect();
        if !list.is_empty() {
            presets.push_str(&list.join(", "));
            presets.push_str("\n\n");
        }
        for (what, names) in [("Programs", p.programs), ("Data", p.data)] {
            if !names.is_empty() {
                let list: Vec<String> = names.iter().map(|e| format!("`{e}`")).collect();
                presets.push_str(&format!("{what}: {}.\n\n", list.join(", ")));
            }
        }
    }
    let mut flags = String::from("| flag | interpreter option |\n| --- | --- |\n");
    for f in Flag::ALL {
        flags.push_str(&format!("| `{}` | `{}` |\n", f.name(), f.option()));
    }
    vec![kinds, all, common, farm, presets, flags]
}

fn reference() -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/layout-language.md"))
        .expect("docs/layout-language.md")
}

#[test]
fn generated_tables_are_in_the_reference() {
    let doc = reference();
    let missing: Vec<String> = blocks().into_iter().filter(|b| !doc.contains(b)).collect();
    assert!(
        missing.is_empty(),
        "update docs/layout-language.md with:\n\n{}",
        missing.join("\n---\n")
    );
}

#[test]
fn every_demonstrated_code_is_documented() {
    let doc = reference();
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/layout/diagnostics");
    let mut missing = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let stem = path.file_stem().unwrap().to_string_lossy().to_string();
        let code = format!("`shenzi::layout::{}`", stem.split("__").next().unwrap());
        if !doc.contains(&code) {
            missing.push(code);
        }
    }
    missing.sort();
    assert!(missing.is_empty(), "undocumented: {missing:?}");
}
