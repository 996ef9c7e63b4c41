//! Inspection that agrees with the plan (issue 14): `shenzi fmt BUILTIN` prints the built-in
//! layout to copy, and `shenzi check LAYOUT MANIFEST` refuses what `plan` refuses.

mod support;

use support::{describe, python311, shenzi, text};

#[test]
fn fmt_prints_each_built_in_layout() {
    for name in ["default", "flat", "farm-per-unit", "minimal"] {
        let out = shenzi().args(["fmt", name]).output().unwrap();
        assert!(out.status.success(), "{name}: {}", describe(&out));
        let shipped =
            std::fs::read_to_string(support::repo_root().join(format!("layouts/{name}.shz")))
                .unwrap();
        assert_eq!(text(&out.stdout), shipped, "{name}");
        // What it prints is a layout that checks as it is.
        let dir = tempfile::tempdir().unwrap();
        let copy = dir.path().join("copy.shz");
        std::fs::write(&copy, &out.stdout).unwrap();
        let check = shenzi().arg("check").arg(&copy).output().unwrap();
        assert!(check.status.success(), "{name}: {}", describe(&check));
    }
}

#[test]
fn check_with_a_manifest_refuses_what_plan_refuses() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("app.py"),
        "import json\nprint(json.dumps(1))\n",
    )
    .unwrap();
    let trace = shenzi()
        .args(["trace", "-o", "m.json", "--"])
        .arg(python311())
        .arg("app.py")
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(trace.status.success(), "{}", describe(&trace));
    // The default layout with the standard library where the interpreter does not look.
    let default =
        std::fs::read_to_string(support::repo_root().join("layouts/default.shz")).unwrap();
    let moved = default.replacen(
        "to \"python/lib/python{py.major}.{py.minor}/{path}\"",
        "to \"stdlib/{path}\"",
        1,
    );
    assert_ne!(moved, default);
    std::fs::write(dir.path().join("moved.shz"), moved).unwrap();

    let run = |command: &str, layout: &str| {
        shenzi()
            .args([command, layout, "m.json"])
            .current_dir(dir.path())
            .env("NO_COLOR", "1")
            .output()
            .unwrap()
    };
    for command in ["check", "plan"] {
        let out = run(command, "moved.shz");
        assert_eq!(out.status.code(), Some(1), "{command}: {}", describe(&out));
        assert!(
            text(&out.stderr).contains("shenzi::plan::stdlib_not_found"),
            "{command}: {}",
            describe(&out)
        );
        // The default layout plans this app: both pass.
        let out = run(command, "default");
        assert_eq!(out.status.code(), Some(0), "{command}: {}", describe(&out));
    }

    // `--format json`: the planner's diagnostics too, without a span (they are about the
    // manifest); the default layout has no errors, only warnings for the kinds this small
    // app does not have, each with its place in the layout.
    let json = |layout: &str| {
        let out = shenzi()
            .args(["check", layout, "m.json", "--format", "json"])
            .current_dir(dir.path())
            .env("NO_COLOR", "1")
            .output()
            .unwrap();
        let doc: serde_json::Value = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {}", describe(&out)));
        (out, doc)
    };
    let (out, doc) = json("moved.shz");
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    let planner: Vec<&serde_json::Value> = doc["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["code"] == "shenzi::plan::stdlib_not_found")
        .collect();
    assert_eq!(planner.len(), 1, "{doc}");
    assert_eq!(planner[0]["severity"], "error");
    assert!(planner[0].get("span").is_none(), "{doc}");
    assert!(doc["errors"].as_u64().unwrap() >= 1, "{doc}");
    let (out, doc) = json("default");
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    assert_eq!(doc["errors"], 0, "{doc}");
    for d in doc["diagnostics"].as_array().unwrap() {
        assert_eq!(d["severity"], "warning", "{d}");
        assert_eq!(d["code"], "shenzi::layout::kind_not_in_manifest", "{d}");
        assert!(d["span"]["line"].as_u64().unwrap() > 0, "{d}");
    }
}

#[test]
fn check_json_gives_each_diagnostic_with_its_span_and_line() {
    let path =
        support::repo_root().join("tests/fixtures/layout/diagnostics/absolute_destination.shz");
    let source = std::fs::read_to_string(&path).unwrap();
    let out = shenzi()
        .arg("check")
        .arg(&path)
        .args(["--format", "json"])
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    // The diagnostic stays on stderr as text.
    assert!(
        text(&out.stderr).contains("shenzi::layout::absolute_destination"),
        "{}",
        describe(&out)
    );
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {}", describe(&out)));
    assert_eq!(doc["version"], 1);
    assert_eq!(doc["errors"], 1);
    assert_eq!(doc["warnings"], 0);
    let d = &doc["diagnostics"][0];
    assert_eq!(d["code"], "shenzi::layout::absolute_destination");
    assert_eq!(d["severity"], "error");
    let span = &d["span"];
    let (start, end) = (
        span["start"].as_u64().unwrap() as usize,
        span["end"].as_u64().unwrap() as usize,
    );
    // The span is the `/` the label names, and line:column point at the same byte.
    assert_eq!(&source[start..end], "/");
    let line = span["line"].as_u64().unwrap() as usize;
    let column = span["column"].as_u64().unwrap() as usize;
    let at = source.lines().nth(line - 1).unwrap();
    assert_eq!(&at[column - 1..column], "/", "{at}");
    insta::assert_snapshot!("check_json_shape", support::json_shape(&doc));
}

#[test]
fn explain_matches_part_of_a_name_and_fails_for_a_name_found_nowhere() {
    let dir = tempfile::tempdir().unwrap();
    let venv = support::wheel_venv();
    let trace = shenzi()
        .args(["trace", "-o", "m.json", "--"])
        .arg(venv.join("bin/python"))
        .args(["-c", "import numpy"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(trace.status.success(), "{}", describe(&trace));
    let explain = |name: &str| {
        shenzi()
            .args(["explain", "m.json", name])
            .current_dir(dir.path())
            .output()
            .unwrap()
    };
    // numpy's wheel bundles `libscipy_openblas64_-<hash>.so`: `openblas` finds it.
    let out = explain("openblas");
    assert!(out.status.success(), "{}", describe(&out));
    let stdout = text(&out.stdout);
    let first = stdout.lines().nth(2).unwrap_or_default();
    assert!(
        first.starts_with("libscipy_openblas64_") && first.ends_with(" is in (bundled)"),
        "{stdout}"
    );
    // Several libraries share `lib`: listed, and no answer.
    let out = explain("lib");
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    let listed = text(&out.stdout);
    assert!(listed.contains("name one of them"), "{listed}");
    let (out, doc) = explain_json(dir.path(), &["lib"]);
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    assert_eq!(doc["matched"], "candidates");
    assert!(
        doc["candidates"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["kind"] == "library"
                && c["name"]
                    .as_str()
                    .unwrap()
                    .starts_with("libscipy_openblas64_")),
        "{doc}"
    );
    // A name found nowhere exits 1.
    let out = explain("libnosuchthing.so.3");
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    assert!(text(&out.stdout).contains("is out: not reached"));
}

/// `shenzi explain m.json ARGS --format json` in `dir`, and its document.
fn explain_json(dir: &std::path::Path, args: &[&str]) -> (std::process::Output, serde_json::Value) {
    let out = shenzi()
        .args(["explain", "m.json"])
        .args(args)
        .args(["--format", "json"])
        .current_dir(dir)
        .output()
        .unwrap();
    let doc = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", describe(&out)));
    (out, doc)
}

/// The 1-based line of `layout` (a file of layouts/) that starts with `start`.
fn line_of(layout: &str, start: &str) -> u64 {
    let text = std::fs::read_to_string(support::repo_root().join("layouts").join(layout)).unwrap();
    let at = text.lines().position(|l| l.starts_with(start)).unwrap();
    at as u64 + 1
}

#[test]
fn explain_agrees_with_the_plan_and_names_the_run_and_the_statement() {
    let dir = tempfile::tempdir().unwrap();
    let venv = support::wheel_venv();
    std::fs::write(dir.path().join("app.py"), "import numpy, json\n").unwrap();
    let trace = shenzi()
        .args(["trace", "-o", "m.json", "--"])
        .arg(venv.join("bin/python"))
        .arg("app.py")
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(trace.status.success(), "{}", describe(&trace));
    for layout in ["default", "minimal"] {
        let plan = shenzi()
            .args(["plan", layout, "m.json", "--format", "json"])
            .current_dir(dir.path())
            .output()
            .unwrap();
        assert!(plan.status.success(), "{}", describe(&plan));
        let plan: serde_json::Value = serde_json::from_slice(&plan.stdout).unwrap();
        let paths: std::collections::BTreeSet<&str> = plan["entries"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["path"].as_str().unwrap())
            .collect();
        // Every shipped library the plan names first, last and the largest: `in`, at
        // the paths the plan writes.
        let libraries = plan["libraries"].as_array().unwrap();
        assert!(libraries.len() > 3, "{plan}");
        for library in [&libraries[0], &libraries[libraries.len() - 1]] {
            let name = library["name"].as_str().unwrap();
            let (out, doc) = explain_json(dir.path(), &[name, "--layout", layout]);
            assert!(out.status.success(), "{layout} {name}: {}", describe(&out));
            let things = doc["things"].as_array().unwrap();
            assert!(!things.is_empty(), "{doc}");
            for thing in things {
                assert_eq!(thing["status"], "in", "{layout} {name}: {thing}");
                for path in thing["dist"].as_array().unwrap() {
                    assert!(paths.contains(path.as_str().unwrap()), "{layout}: {path}");
                }
            }
        }
    }

    // A module: in, placed by the `unit stdlib` block (its line in the built-in layout),
    // brought by the traced run.
    let (out, doc) = explain_json(dir.path(), &["json.decoder"]);
    assert!(out.status.success(), "{}", describe(&out));
    assert_eq!(doc["matched"], "exact");
    let thing = &doc["things"][0];
    assert_eq!(thing["kind"], "module", "{doc}");
    assert_eq!(thing["status"], "in", "{doc}");
    assert!(
        thing["dist"]
            .as_array()
            .unwrap()
            .iter()
            .any(|d| d.as_str().unwrap().ends_with("/json/decoder.py"))
    );
    assert_eq!(thing["statement"]["text"], "unit stdlib {", "{doc}");
    assert_eq!(
        thing["statement"]["line"],
        line_of("default.shz", "unit stdlib {")
    );
    assert_eq!(thing["runs"][0]["role"], "ship", "{doc}");
    assert!(
        thing["runs"][0]["command"]
            .as_str()
            .unwrap()
            .ends_with("/bin/python app.py"),
        "{doc}"
    );

    // A file, by its path in the dist: the same file and unit.
    let (out, doc) = explain_json(dir.path(), &["python/lib/python3.11/json/decoder.py"]);
    assert!(out.status.success(), "{}", describe(&out));
    let file = &doc["things"][0];
    assert_eq!(file["kind"], "file", "{doc}");
    assert_eq!(file["status"], "in", "{doc}");
    assert_eq!(file["units"], serde_json::json!(["stdlib"]), "{doc}");
    assert!(
        file["source"]
            .as_str()
            .unwrap()
            .ends_with("/json/decoder.py")
    );
    assert_eq!(file["runs"][0]["role"], "ship", "{doc}");

    // A package.
    let (out, doc) = explain_json(dir.path(), &["numpy"]);
    assert!(out.status.success(), "{}", describe(&out));
    let package = doc["things"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["kind"] == "package")
        .unwrap_or_else(|| panic!("no package in {doc}"));
    assert_eq!(package["status"], "in");
    assert_eq!(package["dist"][0], "site-packages/0/numpy", "{package}");
    assert_eq!(package["units"][0], "site");

    // A library the system provides: out, by the `preset glibc` statement; the span is
    // the preset's name in the layout.
    let (out, doc) = explain_json(dir.path(), &["libc.so.6"]);
    assert!(out.status.success(), "{}", describe(&out));
    let thing = &doc["things"][0];
    assert_eq!(thing["status"], "out", "{doc}");
    assert_eq!(thing["statement"]["text"], "preset glibc", "{doc}");
    let layout = std::fs::read_to_string(support::repo_root().join("layouts/default.shz")).unwrap();
    let (start, end) = (
        thing["statement"]["start"].as_u64().unwrap() as usize,
        thing["statement"]["end"].as_u64().unwrap() as usize,
    );
    assert_eq!(&layout[start..end], "glibc");
    assert_eq!(
        thing["statement"]["line"],
        line_of("default.shz", "  preset glibc")
    );

    // The text says the same.
    let out = shenzi()
        .args(["explain", "m.json", "json.decoder"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    let stdout = text(&out.stdout);
    assert!(
        stdout.starts_with("json.decoder (module) is in: written by unit `stdlib`\n"),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!(
            "placed by: `unit stdlib {{`  (default (built-in):{}:1)",
            line_of("default.shz", "unit stdlib {")
        )),
        "{stdout}"
    );
    assert!(stdout.contains("brought by: ship run "), "{stdout}");
    insta::assert_snapshot!("explain_json_shape", support::json_shape(&doc));
}
