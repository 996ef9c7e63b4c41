//! Where the bytes are, through the real binary on the stdlib example traced with pyenv's
//! 3.11: `plan` (tree and JSON) and `apply` show the size by unit, by package, by library
//! and the ten largest files, and the JSON's totals add up to its entries.

mod support;

use std::collections::BTreeMap;

use serde_json::Value;
use support::{apply, describe, shenzi, text};

/// `text` with sizes, counts and content hashes replaced: what stays is the names and
/// their order (largest first), which this machine's interpreter fixes.
fn shape(text: &str) -> String {
    let mut out = Vec::new();
    for line in text.lines() {
        let words: Vec<String> = line
            .split(' ')
            .map(|w| {
                let bare = w.trim_matches(|c: char| "(),`".contains(c));
                if bare.len() >= 16 && bare.chars().all(|c| c.is_ascii_hexdigit()) {
                    w.replace(bare, "<hash>")
                } else if bare.len() >= 64
                    && bare
                        .rsplit('/')
                        .next()
                        .is_some_and(|f| f.chars().all(|c| c.is_ascii_hexdigit()))
                {
                    let (folder, _) = bare.rsplit_once('/').unwrap();
                    w.replace(bare, &format!("{folder}/<hash>"))
                } else if !bare.is_empty() && bare.chars().all(|c| c.is_ascii_digit() || c == '.') {
                    w.replace(bare, "N")
                } else {
                    w.to_owned()
                }
            })
            .filter(|w| !w.is_empty())
            .collect();
        out.push(words.join(" "));
    }
    out.join("\n")
}

/// The lines of `text` from the one starting with `from` to the end (or to `until`).
fn section(text: &str, from: &str, until: &str) -> String {
    let start = text
        .find(from)
        .unwrap_or_else(|| panic!("no `{from}` in:\n{text}"));
    let rest = &text[start..];
    let end = rest.find(until).unwrap_or(rest.len());
    rest[..end].to_owned()
}

/// Whether one of `section`'s rows names `name`.
fn lists(section: &str, name: &str) -> bool {
    section.lines().any(|l| l.trim_start().starts_with(name))
}

#[test]
fn plan_and_apply_show_where_the_bytes_are() {
    // Proves: `plan` lists files and bytes by unit, package and library and the ten
    // largest files, in the tree and in the JSON (whose totals add up to its entries),
    // and `apply` ends with the same; names and order as snapshots.
    let t = support::example::traced_example();
    let json = shenzi()
        .args(["plan", "minimal", "--format", "json"])
        .arg(&t.manifest)
        .output()
        .unwrap();
    assert!(json.status.success(), "{}", describe(&json));
    let plan: Value = serde_json::from_slice(&json.stdout).unwrap();
    let entries = plan["entries"].as_array().unwrap();
    let sum = |list: &Value| -> u64 {
        list.as_array()
            .unwrap()
            .iter()
            .map(|t| t["bytes"].as_u64().unwrap())
            .sum()
    };
    // By unit: the copied files of each unit, an archive (`pack zip`) as one file.
    let mut copied: BTreeMap<&str, (u64, u64)> = BTreeMap::new();
    for e in entries
        .iter()
        .filter(|e| e["kind"] == "file" || e["kind"] == "archive")
    {
        let slot = copied.entry(e["unit"].as_str().unwrap()).or_default();
        slot.0 += 1;
        slot.1 += e["size"].as_u64().unwrap();
    }
    for unit in plan["units"].as_array().unwrap() {
        let (files, bytes) = copied
            .get(unit["name"].as_str().unwrap())
            .copied()
            .unwrap_or_default();
        assert_eq!(unit["files"].as_u64().unwrap(), files, "{unit}");
        assert_eq!(unit["bytes"].as_u64().unwrap(), bytes, "{unit}");
    }
    // Libraries: every shipped ELF object, largest first, within the copied bytes.
    let libraries = plan["libraries"].as_array().unwrap();
    let names: Vec<&str> = libraries
        .iter()
        .map(|l| l["name"].as_str().unwrap())
        .collect();
    for expected in [
        "libpython3.11.so.1.0",
        "libssl.so.3",
        "libsqlite3.so.0",
        "python3.11",
    ] {
        assert!(
            names
                .iter()
                .any(|n| n.starts_with(expected.split(".so").next().unwrap())),
            "{expected} in {names:?}"
        );
    }
    let bytes: Vec<u64> = libraries
        .iter()
        .map(|l| l["bytes"].as_u64().unwrap())
        .collect();
    assert!(
        bytes.windows(2).all(|w| w[0] >= w[1]),
        "largest first: {bytes:?}"
    );
    assert!(sum(&plan["libraries"]) <= sum(&plan["units"]));
    // The ten largest: sorted, each as its entry says, none larger left out.
    let largest = plan["largest"].as_array().unwrap();
    assert_eq!(largest.len(), 10);
    let sizes: BTreeMap<&str, u64> = entries
        .iter()
        .filter_map(|e| Some((e["path"].as_str()?, e["size"].as_u64()?)))
        .collect();
    for l in largest {
        assert_eq!(
            sizes[l["path"].as_str().unwrap()],
            l["bytes"].as_u64().unwrap()
        );
    }
    let smallest = largest.last().unwrap()["bytes"].as_u64().unwrap();
    let bigger = sizes.values().filter(|s| **s > smallest).count();
    assert!(
        bigger < 10,
        "{bigger} files are larger than the tenth largest"
    );

    let tree = shenzi()
        .args(["plan", "minimal"])
        .arg(&t.manifest)
        .output()
        .unwrap();
    assert!(tree.status.success(), "{}", describe(&tree));
    let tree = text(&tree.stdout);
    // The units are the layout's, so they are a snapshot; which packages and libraries
    // come first depends on the machine's interpreter and its site dir (a CI machine may
    // have other packages beside the app's), so those sections are checked by name.
    insta::assert_snapshot!(
        "minimal_plan_totals",
        shape(&section(&tree, "\nby unit:", "by top-level package:"))
    );
    let packages = section(&tree, "by top-level package:", "by library:");
    assert!(lists(&packages, "greeter "), "{packages}");
    let libraries = section(&tree, "by library:", "largest files:");
    assert!(lists(&libraries, "libpython3.11.so.1.0 "), "{libraries}");
    // `minimal` packs: what its archives keep out follows the largest files.
    let largest = section(&tree, "largest files:", "packed: ");
    assert_eq!(largest.lines().count(), 11, "{largest}");

    let dist = t.scratch.path().join("dist");
    let out = apply("minimal", &t.manifest, &dist, &[]);
    assert!(out.status.success(), "{}", describe(&out));
    let stderr = text(&out.stderr);
    insta::assert_snapshot!(
        "minimal_apply_sizes",
        shape(&section(
            &stderr,
            "shenzi: by unit:",
            "\nshenzi: largest packages:"
        ))
    );
    for (line, name) in [
        ("shenzi: largest packages: ", " files)"),
        ("shenzi: largest libraries: ", "libpython3.11.so.1.0 "),
        ("shenzi: largest files: ", "`lib/reals/"),
    ] {
        let found = stderr.lines().find(|l| l.starts_with(line));
        assert!(
            found.is_some_and(|l| l.contains(name)),
            "{name} in {line}: {stderr}"
        );
    }
}
