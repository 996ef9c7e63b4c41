//! Shared helpers for the integration tests: the real interpreters of this machine, the
//! shenzi binary, and the venv of PyPI wheels that `scripts/setup` prepares.
#![allow(dead_code)] // each test crate uses a different part

pub mod hidden;

pub mod dist;
pub mod e2e;
pub mod example;

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The shenzi binary cargo built for this test run.
pub fn shenzi() -> Command {
    Command::new(env!("CARGO_BIN_EXE_shenzi"))
}

/// `shenzi build ARGS` run in `dir`, without colour.
pub fn build_in(dir: &std::path::Path, args: &[&str]) -> std::process::Output {
    shenzi()
        .arg("build")
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .output()
        .unwrap()
}

pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A real CPython of this machine.
#[derive(Debug, Clone)]
pub struct Interpreter {
    /// `pyenv-3.11` or `debian`.
    pub label: String,
    pub path: PathBuf,
    pub minor: u32,
}

/// The CPython versions the tests cover: 3.8 to 3.13 from pyenv, and Debian's python3.
pub const PYENV_MINORS: std::ops::RangeInclusive<u32> = 8..=13;

/// Every interpreter the matrix covers that exists here. A missing one is reported on
/// stderr by name, so a skipped case is never silent; `SHENZI_REQUIRE_ALL_PYTHONS=1`
/// turns a missing interpreter into a failure.
pub fn interpreters() -> Vec<Interpreter> {
    let mut found = Vec::new();
    let mut missing = Vec::new();
    let root = pyenv_root();
    for minor in PYENV_MINORS {
        match newest_pyenv(&root, minor) {
            Some(path) => found.push(Interpreter {
                label: format!("pyenv-3.{minor}"),
                path,
                minor,
            }),
            None => missing.push(format!("pyenv CPython 3.{minor}")),
        }
    }
    let debian = PathBuf::from("/usr/bin/python3");
    match debian_minor(&debian) {
        Some(minor) => found.push(Interpreter {
            label: "debian".into(),
            path: debian,
            minor,
        }),
        None => missing.push("Debian /usr/bin/python3".into()),
    }
    for name in &missing {
        eprintln!("SKIPPED: {name} is not installed on this machine");
    }
    if !missing.is_empty() && std::env::var_os("SHENZI_REQUIRE_ALL_PYTHONS").is_some() {
        panic!("missing interpreters: {missing:?}");
    }
    found
}

/// pyenv's CPython 3.11, which the wheel venv and most single-interpreter tests use.
pub fn python311() -> PathBuf {
    newest_pyenv(&pyenv_root(), 11).expect("pyenv CPython 3.11 is required by the tests")
}

fn pyenv_root() -> PathBuf {
    if let Some(root) = std::env::var_os("PYENV_ROOT") {
        return PathBuf::from(root);
    }
    let out = Command::new("pyenv").arg("root").output();
    match out {
        Ok(out) if out.status.success() => {
            PathBuf::from(String::from_utf8_lossy(&out.stdout).trim())
        }
        _ => PathBuf::from(std::env::var_os("HOME").unwrap_or_default()).join(".pyenv"),
    }
}

fn newest_pyenv(root: &Path, minor: u32) -> Option<PathBuf> {
    let prefix = format!("3.{minor}.");
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir(root.join("versions"))
        .ok()?
        .filter_map(Result::ok)
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let micro: u32 = name.strip_prefix(&prefix)?.parse().ok()?;
            let python = e.path().join("bin").join("python3");
            python.exists().then_some((micro, python))
        })
        .collect();
    versions.sort();
    versions.pop().map(|(_, p)| p)
}

fn debian_minor(python: &Path) -> Option<u32> {
    let out = Command::new(python)
        .args(["-c", "import sys; print(sys.version_info[1])"])
        .output()
        .ok()?;
    String::from_utf8_lossy(&out.stdout).trim().parse().ok()
}

/// The venv with numpy, pillow, lxml and cryptography from PyPI, made by `scripts/setup`
/// from pyenv's CPython 3.11.
pub fn wheel_venv() -> PathBuf {
    let venv = repo_root().join(".cache/venvs/wheels-3.11");
    assert!(
        venv.join(".complete").exists(),
        "{} is missing: run scripts/setup",
        venv.display()
    );
    venv
}

/// Output bytes as text, for messages and comparisons.
pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A finished command's status, stdout and stderr, for failure messages.
pub fn describe(out: &Output) -> String {
    format!(
        "{:?}\n--- stdout\n{}--- stderr\n{}",
        out.status,
        text(&out.stdout),
        text(&out.stderr)
    )
}

/// `shenzi trace -o MANIFEST -- COMMAND...`, to be given a working folder or env and run.
pub fn trace_command<I, S>(manifest: &Path, command: I) -> Command
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let mut cmd = shenzi();
    cmd.args(["trace", "-o"])
        .arg(manifest)
        .arg("--")
        .args(command);
    cmd
}

/// Runs `cmd` and asserts it exits 0 (its stderr is the message).
pub fn output_ok(cmd: &mut Command) -> Output {
    let out = cmd.output().unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    out
}

/// `shenzi apply LAYOUT MANIFEST -o DIST EXTRA...` with plain (non-terminal) diagnostics.
pub fn apply(layout: &str, manifest: &Path, dist: &Path, extra: &[&str]) -> Output {
    shenzi()
        .arg("apply")
        .arg(layout)
        .arg(manifest)
        .arg("-o")
        .arg(dist)
        .args(extra)
        .env("NO_COLOR", "1")
        .output()
        .unwrap()
}

/// Every regular ELF file below `root` (symlinks not followed), sorted.
pub fn elf_files(root: &Path, max_depth: usize) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = walkdir::WalkDir::new(root)
        .max_depth(max_depth)
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file())
        .map(|e| e.into_path())
        .filter(|p| {
            let mut magic = [0u8; 4];
            std::fs::File::open(p)
                .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut magic))
                .is_ok()
                && &magic == b"\x7fELF"
        })
        .collect();
    out.sort();
    out
}

/// A small deterministic generator (xorshift64*), so mutations are the same every run.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
}

/// A JSON document's shape: each field's name and type, one per line, indented by depth;
/// an array by the union of its elements' shapes. What a schema promises, without the
/// values this machine gives it.
pub fn json_shape(value: &serde_json::Value) -> String {
    fn walk(value: &serde_json::Value, depth: usize, out: &mut String) {
        use serde_json::Value;
        let pad = "  ".repeat(depth);
        match value {
            Value::Object(map) => {
                for (key, v) in map {
                    let kind = match v {
                        Value::Null => "null",
                        Value::Bool(_) => "bool",
                        Value::Number(_) => "number",
                        Value::String(_) => "string",
                        Value::Array(_) => "array",
                        Value::Object(_) => "object",
                    };
                    out.push_str(&format!("{pad}{key}: {kind}\n"));
                    walk(v, depth + 1, out);
                }
            }
            Value::Array(items) => {
                // Every element's fields, each once, in first-seen order.
                let mut seen = Vec::new();
                for item in items {
                    let mut one = String::new();
                    walk(item, depth, &mut one);
                    for line in one.lines() {
                        if !seen.iter().any(|l: &String| l == line) {
                            seen.push(line.to_owned());
                        }
                    }
                }
                for line in seen {
                    out.push_str(&line);
                    out.push('\n');
                }
            }
            _ => {}
        }
    }
    let mut out = String::new();
    walk(value, 0, &mut out);
    out
}
