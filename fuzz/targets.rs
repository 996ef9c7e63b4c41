//! The fuzz targets' bodies, shared by `cargo fuzz` (`fuzz/fuzz_targets/*.rs`) and by
//! the stable-toolchain replay in `tests/fuzz_seeds.rs`, which includes this file too:
//! the code under test is the same, only the driver differs. Each target takes any
//! bytes and panics only when one of shenzi's promises breaks. Only shenzi's public API
//! is used.
#![allow(dead_code)] // each fuzz binary uses one target

use std::fmt::Write as _;

use miette::{GraphicalReportHandler, GraphicalTheme};

use shenzi::binary::edit::{ElfEdits, prepare};
use shenzi::binary::elf::parse_object;
use shenzi::layout::{self, Layout, Source};
use shenzi::manifest::parse_manifest;

/// The layout parser, analyzer, report renderer and formatter: none panics; `fmt` is
/// idempotent; a layout that checks formats to one that checks to the same layout
/// with the same diagnostics.
pub fn layout(bytes: &[u8]) {
    let source = Source::from_bytes("fuzz.shz", bytes.to_vec());
    let checked = layout::check(&source);
    render(&checked.report);
    let Ok(formatted) = layout::format(&source) else {
        return;
    };
    let again = layout::format(&Source::new("fuzz.shz", formatted.clone()))
        .unwrap_or_else(|report| panic!("fmt's output does not parse: {report:?}"));
    assert_eq!(again, formatted, "fmt is not idempotent");
    let rechecked = layout::check(&Source::new("fuzz.shz", formatted));
    let mut before = checked.report.codes();
    let mut after = rechecked.report.codes();
    before.sort_unstable();
    after.sort_unstable();
    assert_eq!(before, after, "fmt changed the diagnostics");
    match (&checked.layout, &rechecked.layout) {
        (Some(a), Some(b)) => assert_eq!(meaning(a), meaning(b), "fmt changed the layout"),
        (None, None) => {}
        _ => panic!("fmt changed whether the layout checks"),
    }
}

/// Renders a report as the command line does, through `layout::shown` (escapes,
/// windows, labels moved into the excerpt), which must hold for any spans. Lines are
/// not wrapped: textwrap, miette's, took most of an execution.
fn render(report: &dyn miette::Diagnostic) {
    let mut out = String::new();
    let handler = GraphicalReportHandler::new_themed(GraphicalTheme::none()).with_wrap_lines(false);
    // Rendering into a String fails only if a Display impl does.
    let _ = handler.render_report(&mut out, &layout::shown::shown(report));
}

/// Everything a checked layout says, without spans (formatting moves every span).
fn meaning(l: &Layout) -> String {
    let mut out = String::new();
    let globs = |g: &layout::Globs| {
        g.patterns
            .iter()
            .map(|p| p.value.as_str())
            .collect::<Vec<_>>()
            .join("|")
    };
    let _ = writeln!(out, "name {:?}", l.name.as_ref().map(|n| &n.value));
    let s = &l.system;
    let _ = writeln!(
        out,
        "system {:?} {:?} {:?} {:?}",
        s.presets.iter().map(|p| p.value).collect::<Vec<_>>(),
        s.provided.iter().map(|e| &e.pattern).collect::<Vec<_>>(),
        s.bundled.iter().map(|e| &e.pattern).collect::<Vec<_>>(),
        s.cxx_runtime.value
    );
    for f in &l.farms {
        let _ = writeln!(
            out,
            "farm {} {} {} {} {} {:?}",
            f.name.value, f.root.value, f.reals.text, f.links.text, f.level.value, f.members
        );
    }
    for u in &l.units {
        let _ = writeln!(
            out,
            "unit {} {:?} only {} exclude {} {:?} {:?} {:?} {:?} {:?} {}",
            u.name.value,
            u.kinds.iter().map(|k| k.value).collect::<Vec<_>>(),
            globs(&u.only),
            globs(&u.exclude),
            u.select.value,
            u.sites
                .as_ref()
                .map(|s| s.iter().map(|k| k.value).collect::<Vec<_>>()),
            u.destination.as_ref().map(|d| &d.text),
            u.action.value,
            u.farm.as_ref().map(|f| f.value),
            u.serve_callers.is_some()
        );
    }
    if let Some(x) = &l.launcher {
        let _ = writeln!(
            out,
            "launcher {} {:?} {:?} {:?} {:?} {:?}",
            x.path.text,
            x.form.value,
            x.python.value,
            x.sys_path.iter().map(|p| p.value).collect::<Vec<_>>(),
            x.entry.value,
            x.flags.iter().map(|f| f.value).collect::<Vec<_>>()
        );
    }
    let _ = writeln!(
        out,
        "{:?} {:?} ignore {}",
        l.conflicts.value,
        l.unclaimed.value,
        globs(&l.ignore)
    );
    out
}

/// The manifest reader: never panics; its report renders; a manifest it accepts
/// writes back (`to_json`) to text it reads as the same manifest.
pub fn manifest(bytes: &[u8]) {
    // Manifests are UTF-8 JSON: `read_manifest` refuses other bytes before parsing.
    let Ok(text) = std::str::from_utf8(bytes) else {
        return;
    };
    match parse_manifest("fuzz.json", text.to_owned()) {
        Ok(manifest) => {
            let json = manifest.to_json();
            let back = parse_manifest("again.json", json.clone())
                .unwrap_or_else(|err| panic!("to_json's output is refused: {err:?}\n{json}"));
            assert_eq!(back, manifest, "the manifest changed through to_json");
        }
        Err(err) => render(err.as_ref()),
    }
}

/// The ELF reader and the in-process editor: neither panics; an edit either declines
/// or gives a file the reader parses, with the edit in it.
pub fn elf(bytes: &[u8]) {
    let Ok(Some(info)) = parse_object(bytes) else {
        // Not ELF, or damaged: the editor must still decline or succeed without panic.
        let _ = prepare(bytes, &runpath_only());
        return;
    };
    let mut edits = vec![
        runpath_only(),
        ElfEdits {
            runpath: Some(Vec::new()),
            replace_needed: Vec::new(),
            add_needed: vec!["libshenzi-preload.so".into()],
        },
    ];
    if let Some(first) = info.needed.first() {
        edits.push(ElfEdits {
            runpath: None,
            replace_needed: vec![(first.clone(), "librenamed-by-shenzi.so.1".into())],
            add_needed: Vec::new(),
        });
    }
    for edit in edits {
        let Ok(patch) = prepare(bytes, &edit) else {
            continue;
        };
        assert!(
            patch.len <= bytes.len() as u64 + (64 << 20) + (1 << 20),
            "an edit of {} bytes asks for a {}-byte file",
            bytes.len(),
            patch.len
        );
        let edited = patch.apply_to(bytes);
        let after = match parse_object(&edited) {
            Ok(Some(after)) => after,
            other => panic!("{edit:?}: the edited file does not parse: {other:?}"),
        };
        if let Some(runpath) = &edit.runpath {
            assert_eq!(&after.runpath, runpath, "{edit:?}: RUNPATH not written");
            assert!(after.rpath.is_empty(), "{edit:?}: RPATH kept");
        } else {
            assert_eq!(after.runpath, info.runpath, "{edit:?}: RUNPATH changed");
        }
        for added in &edit.add_needed {
            assert!(after.needed.contains(added), "{edit:?}: need not added");
        }
        for (old, new) in &edit.replace_needed {
            assert!(after.needed.contains(new), "{edit:?}: {old} not renamed");
        }
        assert_eq!(after.soname, info.soname, "{edit:?}: SONAME changed");
    }
}

fn runpath_only() -> ElfEdits {
    ElfEdits {
        runpath: Some(vec!["$ORIGIN/../lib".into(), "$ORIGIN".into()]),
        replace_needed: Vec::new(),
        add_needed: Vec::new(),
    }
}
