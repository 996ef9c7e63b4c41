//! The analyzer as a table: layout text in, exactly these diagnostic codes out (in
//! order of place). Complements the rendered fixtures with combinations: several
//! mistakes in one run, mistakes after a syntax error, and what must stay quiet.

use shenzi::layout::{self, Source};

const BASE: &str = "system { preset glibc  cxx-runtime bundle }\nlauncher { at \"bin/app\"  python py }\nunit py { take python.interpreter  to \"python/bin/{file}\" }\n";

fn codes(text: &str) -> Vec<String> {
    layout::check(&Source::new("t.shz", text))
        .report
        .codes()
        .into_iter()
        .map(|c| c.trim_start_matches("shenzi::layout::").to_owned())
        .collect()
}

#[test]
fn table() {
    let cases: &[(&str, &[&str])] = &[
        // A clean base.
        ("", &[]),
        // Every mistake of one run is reported.
        (
            "unit a { take python.stdlb  to \"/x/{path}\" }\nunit b { take python.stdlib  to \"x/{pth}\"  action copi }",
            &["unknown_kind", "unknown_variable", "unknown_choice"],
        ),
        // A syntax error does not hide the next item's mistakes.
        (
            "unit a { tkae python.stdlib }\nunit b { take python.stdlib  to \"x/{pth}\" }",
            &["syntax", "unknown_variable"],
        ),
        // ... but what may only follow from the broken item is left out.
        (
            "farm libs { root \"lib\" reals \"r/{hash}\" lnks \"l/{name}\" }\nunit b { take native.needed  action move  farm libs }",
            &["syntax"],
        ),
        // Globs that differ make two units over one kind fine.
        (
            "unit a { take python.stdlib  only \"a/**\"  to \"x/{path}\" }\nunit b { take python.stdlib  exclude \"a/**\"  to \"x/{path}\" }",
            &[],
        ),
        // Same kind, same destination: a warning by default.
        (
            "unit a { take python.stdlib  to \"x/{path}\" }\nunit b { take python.stdlib  to \"x/{path}\" }",
            &["duplicate_claim"],
        ),
        // A near-miss farm level is caught with and without `level`.
        (
            "farm f { root \"lib\"  reals \"{hash}/{file}\"  links \"links/by-name/{name}\" }\nunit n { take native.needed  action move  farm f }",
            &["level_mismatch"],
        ),
        (
            "farm f { root \"lib\"  reals \"{hash}\"  links \"{name}.d\"  level 1 }\nunit n { take native.needed  action move  farm f }",
            &["level_mismatch"],
        ),
        // Literal braces are not variables.
        ("unit a { take python.stdlib  to \"x{{y}}/{path}\" }", &[]),
        // Multi-kind units may only use shared variables.
        (
            "unit a { take python.stdlib, native.needed  to \"x/{path}\" }",
            &["variable_not_available"],
        ),
        // A second `system` block is reported, not merged or analyzed.
        (
            "unit a { take python.stdlib  to \"x/{path}\" }\nsystem { preset glibc  cxx-runtime system  remove \"libstdc++.so.6\" }",
            &["repeated_statement"],
        ),
        // Entry forms.
        (
            "launcher { at \"a\"  python py  entry module \"pkg.cli\" }",
            &["repeated_statement"],
        ),
    ];
    let mut wrong = Vec::new();
    for (extra, expected) in cases {
        let text = format!("{BASE}{extra}");
        let got = codes(&text);
        if got != *expected {
            wrong.push(format!(
                "{extra:?}\n  expected {expected:?}\n  got      {got:?}"
            ));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn resolved_values_the_planner_reads() {
    let text = format!(
        "{BASE}farm f {{ root \"lib\"  reals \"reals/{{hash:8}}/{{file}}\"  links \"links/{{name}}\" }}\n\
         unit s {{ take python.site_dirs  select imported  site venv  to \"sp/{{site.index}}/{{path}}\"  farm f }}\n\
         unit r {{ take native.runtime_loads  action move  farm f  serve callers }}\n\
         system {{ preset graphics  add \"libfoo.so.*\"  remove \"libasound.so.2\"  cxx-runtime system }}"
    );
    let text = text.replacen("system { preset glibc  cxx-runtime bundle }\n", "", 1);
    let checked = layout::check(&Source::new("t.shz", text));
    assert!(
        checked.report.diagnostics.is_empty(),
        "{:?}",
        checked.report.codes()
    );
    let layout = checked.layout.unwrap();
    let farm = &layout.farms[0];
    assert_eq!(farm.level.value, 2);
    assert_eq!(farm.runpath_up(), "$ORIGIN/../..");
    let members: Vec<&str> = farm
        .members
        .iter()
        .map(|m| layout.unit(*m).name.value.as_str())
        .collect();
    assert_eq!(members, ["s", "r"]);
    let s = layout.unit(layout.unit_named("s").unwrap());
    assert!(s.takes_site(layout::SiteKind::Venv) && !s.takes_site(layout::SiteKind::User));
    let r = layout.unit(layout.unit_named("r").unwrap());
    assert!(r.destination.is_none() && r.serve_callers.is_some());
    let sys = &layout.system;
    assert!(sys.provides("libGL.so.1") && sys.provides("libfoo.so.3"));
    assert!(!sys.provides("libasound.so.2"), "removed");
    assert!(sys.provides("libstdc++.so.6"), "cxx-runtime system");
    assert!(matches!(
        sys.provided_by("libGL.so.1").map(|e| &e.origin),
        Some(layout::Origin::Preset("graphics"))
    ));
}
