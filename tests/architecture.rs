//! The dependency order of docs/architecture.md, kept: every `crate::` (and `super::`
//! reaching the crate root) path in `src/` is read, and a module that names one at its
//! own level or above fails the test with the file and line. Inside each module, its
//! submodules must not import each other in a cycle.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

/// The levels, from the bottom: a module may name modules of lower levels only. The
/// same table is in docs/architecture.md ("Dependency order").
const LEVELS: &[&[&str]] = &[
    &["binary", "policy", "record", "os"],
    &["manifest"],
    &["loader", "layout"],
    &["farm", "trace"],
    &["plan"],
    &["execute", "verify", "onefile"],
    &["project"],
    &["project_file"],
    &["cli"],
];

fn level(module: &str) -> Option<usize> {
    LEVELS.iter().position(|l| l.contains(&module))
}

/// One reference from a file to a module path, resolved to the crate root.
struct Reference {
    file: PathBuf,
    line: usize,
    /// The module path of the file (`["plan", "build"]` for `src/plan/build.rs`).
    from: Vec<String>,
    /// The absolute path named, from the crate root (`["verify", "prove"]`).
    to: Vec<String>,
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
        .map(|e| e.map(|e| e.path()))
        .collect::<Result<_, _>>()
        .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()));
    entries.sort();
    for path in entries {
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// `src/plan/build.rs` → `["plan", "build"]`, `src/plan/mod.rs` → `["plan"]`.
fn module_path(src: &Path, file: &Path) -> Vec<String> {
    let rel = file.strip_prefix(src).expect("the file is below src");
    let mut parts: Vec<String> = rel
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    let last = parts.pop().expect("a file has a name");
    let stem = last.trim_end_matches(".rs");
    if !matches!(stem, "mod" | "lib" | "main") {
        parts.push(stem.to_owned());
    }
    parts
}

/// The code of a line without its `//` comment (doc comments' links are no imports).
/// Quotes are followed so that a `//` inside a string is kept.
fn code_of(line: &str) -> &str {
    let bytes = line.as_bytes();
    let mut in_string = false;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' if in_string => i += 1,
            b'"' => in_string = !in_string,
            b'/' if !in_string && bytes.get(i + 1) == Some(&b'/') => return &line[..i],
            _ => {}
        }
        i += 1;
    }
    line
}

fn is_ident(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// The paths a line names that start with `crate::` or `super::`, each as its
/// segments; `crate::{a::x, b}` gives `crate::a::x` and `crate::b`.
fn paths_in(code: &str) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    let bytes = code.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let starts_word = i == 0 || !(is_ident(bytes[i - 1]) || bytes[i - 1] == b':');
        let rest = &bytes[i..];
        if starts_word && (rest.starts_with(b"crate::") || rest.starts_with(b"super::")) {
            // `i` is at an ASCII letter, so a char boundary.
            let (paths, used) = read_path(&code[i..]);
            out.extend(paths);
            i += used.max(1);
        } else {
            i += 1;
        }
    }
    out
}

/// Reads one path (with a `{...}` group, on this line) from the start of `text`.
fn read_path(text: &str) -> (Vec<Vec<String>>, usize) {
    let bytes = text.as_bytes();
    let mut segments = Vec::new();
    let mut i = 0;
    loop {
        let start = i;
        while i < bytes.len() && is_ident(bytes[i]) {
            i += 1;
        }
        if i > start {
            segments.push(text[start..i].to_owned());
        }
        if text[i..].starts_with("::") {
            i += 2;
            if text[i..].starts_with('{') {
                let mut depth = 0;
                let mut end = i;
                for (j, b) in text[i..].bytes().enumerate() {
                    match b {
                        b'{' => depth += 1,
                        b'}' => {
                            depth -= 1;
                            if depth == 0 {
                                end = i + j;
                                break;
                            }
                        }
                        _ => {}
                    }
                }
                let inner = &text[i + 1..end.max(i + 1)];
                let mut paths = Vec::new();
                for item in split_top(inner) {
                    let (inner_paths, _) = read_path(item.trim());
                    for p in inner_paths {
                        paths.push(segments.iter().cloned().chain(p).collect());
                    }
                }
                return (paths, end + 1);
            }
            continue;
        }
        return (vec![segments], i);
    }
}

/// Splits `a::x, b::{c, d}` at its top-level commas.
fn split_top(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut depth = 0;
    let mut start = 0;
    for (i, b) in text.bytes().enumerate() {
        match b {
            b'{' => depth += 1,
            b'}' => depth -= 1,
            b',' if depth == 0 => {
                out.push(&text[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(&text[start..]);
    out
}

/// `super` and `crate` resolved against the file's module path. `super` in an inline
/// module (`mod tests`) is taken as the file's parent, which can only make a path look
/// closer to the root: a reference that reaches the root counts only when it names a
/// top-level module.
fn resolve(from: &[String], path: &[String]) -> Option<Vec<String>> {
    let mut at: Vec<String> = from.to_vec();
    let mut segments = path.iter().peekable();
    match segments.peek().map(|s| s.as_str()) {
        Some("crate") => {
            at.clear();
            segments.next();
        }
        Some("super") => {
            while segments.peek().map(|s| s.as_str()) == Some("super") {
                at.pop()?;
                segments.next();
            }
        }
        _ => return None,
    }
    at.extend(segments.cloned());
    Some(at)
}

fn references() -> Vec<Reference> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut out = Vec::new();
    for file in files {
        let from = module_path(&src, &file);
        let text = fs::read_to_string(&file)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", file.display()));
        for (n, line) in text.lines().enumerate() {
            for path in paths_in(code_of(line)) {
                if let Some(to) = resolve(&from, &path) {
                    out.push(Reference {
                        file: file.strip_prefix(&src).unwrap_or(&file).to_owned(),
                        line: n + 1,
                        from: from.clone(),
                        to,
                    });
                }
            }
        }
    }
    out
}

fn top_modules() -> BTreeSet<String> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let lib = fs::read_to_string(src.join("lib.rs")).expect("src/lib.rs is readable");
    lib.lines()
        .filter_map(|l| l.trim().strip_prefix("pub mod "))
        .map(|l| l.trim_end_matches(';').to_owned())
        .collect()
}

#[test]
fn every_module_has_a_level() {
    let missing: Vec<String> = top_modules()
        .into_iter()
        .filter(|m| level(m).is_none())
        .collect();
    assert!(
        missing.is_empty(),
        "modules without a level in tests/architecture.rs LEVELS (add them there and to \
         docs/architecture.md): {missing:?}"
    );
}

#[test]
fn modules_import_only_lower_levels() {
    let tops = top_modules();
    let mut wrong = Vec::new();
    for r in references() {
        let (Some(from), Some(to)) = (r.from.first(), r.to.first()) else {
            continue;
        };
        if from == to || !tops.contains(to) {
            continue;
        }
        let (Some(a), Some(b)) = (level(from), level(to)) else {
            continue;
        };
        if b >= a {
            wrong.push(format!(
                "src/{}:{}: `{from}` (level {a}) uses `{}` (level {b}); a module may use \
                 only modules of lower levels",
                r.file.display(),
                r.line,
                r.to.join("::"),
            ));
        }
    }
    assert!(
        wrong.is_empty(),
        "imports against the dependency order of docs/architecture.md:\n{}",
        wrong.join("\n")
    );
}

#[test]
fn submodules_import_each_other_without_cycles() {
    // Per top-level module, its direct submodules as nodes; an edge for every path from
    // a file of one into another. `mod.rs` is the module itself, not a node.
    let mut graphs: BTreeMap<String, BTreeMap<String, BTreeMap<String, String>>> = BTreeMap::new();
    for r in references() {
        let (Some(from_sub), Some(to_sub)) = (r.from.get(1), r.to.get(1)) else {
            continue;
        };
        if r.from[0] != r.to[0] || from_sub == to_sub {
            continue;
        }
        graphs
            .entry(r.from[0].clone())
            .or_default()
            .entry(from_sub.clone())
            .or_default()
            .entry(to_sub.clone())
            .or_insert_with(|| format!("src/{}:{}", r.file.display(), r.line));
    }
    let mut cycles = Vec::new();
    for (top, graph) in &graphs {
        // An item of the module's root (`super::Plan`) is a node without edges out: it
        // never closes a cycle, so it needs no filtering.
        if let Some(cycle) = find_cycle(graph) {
            let steps: Vec<String> = cycle
                .windows(2)
                .map(|w| {
                    format!(
                        "  {top}::{} -> {top}::{} at {}",
                        w[0], w[1], graph[&w[0]][&w[1]]
                    )
                })
                .collect();
            cycles.push(format!("{top}:\n{}", steps.join("\n")));
        }
    }
    assert!(
        cycles.is_empty(),
        "submodules that import each other in a cycle (move what both need into a module \
         below them):\n{}",
        cycles.join("\n")
    );
}

/// A cycle of `graph` as its nodes, the first repeated at the end.
fn find_cycle(graph: &BTreeMap<String, BTreeMap<String, String>>) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        graph: &BTreeMap<String, BTreeMap<String, String>>,
        stack: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(at) = stack.iter().position(|n| n == node) {
            let mut cycle = stack[at..].to_vec();
            cycle.push(node.to_owned());
            return Some(cycle);
        }
        if done.contains(node) {
            return None;
        }
        stack.push(node.to_owned());
        for next in graph.get(node).into_iter().flat_map(|e| e.keys()) {
            if let Some(cycle) = visit(next, graph, stack, done) {
                return Some(cycle);
            }
        }
        stack.pop();
        done.insert(node.to_owned());
        None
    }
    let mut done = BTreeSet::new();
    for node in graph.keys() {
        if let Some(cycle) = visit(node, graph, &mut Vec::new(), &mut done) {
            return Some(cycle);
        }
    }
    None
}

#[test]
fn the_reader_sees_grouped_and_relative_paths() {
    // The reader itself, on the forms the source uses: a test of the test, so that a
    // back import written another way is not missed.
    let paths = paths_in(code_of(
        "use crate::{plan::{Plan, show}, verify::prove}; // crate::cli",
    ));
    let flat: Vec<String> = paths.iter().map(|p| p.join("::")).collect();
    assert_eq!(
        flat,
        [
            "crate::plan::Plan",
            "crate::plan::show",
            "crate::verify::prove"
        ]
    );
    let from = vec!["plan".to_owned(), "build".to_owned()];
    let up = paths_in("use super::super::verify::x;");
    assert_eq!(
        resolve(&from, &up[0]),
        Some(vec!["verify".to_owned(), "x".to_owned()])
    );
    assert_eq!(
        code_of(r#"let s = "a // b"; // crate::cli"#),
        r#"let s = "a // b"; "#
    );
}
