//! Agreement with the real loader on real files: for every ELF in the lib-dynload of
//! each pyenv CPython and Debian's python3 (plus the interpreters and libpython), and
//! in the numpy, pillow, lxml and cryptography wheels of the test venv, shenzi's answer
//! for every need equals what `ld.so --list` reports. (`ld.so --list` runs the loader:
//! fine in a test on these trusted files, never in shenzi itself.)

#[path = "support/mod.rs"]
mod support;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use rayon::prelude::*;
use shenzi::binary::{BinaryCache, Contents, Probe};
use shenzi::loader::{Process, SearchConfig};

/// `(needed name, path opened or "not found")` for every object a load brought in.
type Loads = BTreeSet<(String, String)>;

const LD_SO: &str = "/lib64/ld-linux-x86-64.so.2";

/// `(name, path-or-"not found")` for every object `ld.so --list` names, but the
/// loader itself and the vDSO.
fn real(file: &Path) -> BTreeSet<(String, String)> {
    let out = Command::new(LD_SO)
        .arg("--list")
        .arg(file)
        .env_remove("LD_LIBRARY_PATH")
        .env_remove("LD_PRELOAD")
        .output()
        .expect("ld.so runs");
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines()
        .filter_map(|l| {
            let (name, rest) = l.trim().split_once(" => ")?;
            let path = rest.split(" (0x").next()?.trim().to_owned();
            Some((name.to_owned(), path))
        })
        .collect()
}

fn simulated(
    cache: &BinaryCache,
    config: &SearchConfig,
    file: &Path,
) -> BTreeSet<(String, String)> {
    let (process, events) = Process::start(cache, config, file, Some(Path::new(LD_SO)), Vec::new());
    let mut out: BTreeSet<(String, String)> = process
        .objects
        .iter()
        .skip(2) // the loader and the file itself
        .map(|o| {
            (
                o.loaded.names[0].clone(),
                o.loaded.path.to_string_lossy().into_owned(),
            )
        })
        .collect();
    for e in events.iter().filter(|e| e.index.is_none()) {
        out.insert((e.name.clone(), "not found".into()));
    }
    out
}

fn python_dirs(python: &Path) -> Vec<PathBuf> {
    let out = Command::new(python)
        .args([
            "-c",
            "import sys, sysconfig, os; print(os.path.realpath(sys.executable)); print(sysconfig.get_path('platstdlib') + '/lib-dynload'); print(sysconfig.get_config_var('LIBDIR') or '')",
        ])
        .output()
        .expect("python runs");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(PathBuf::from)
        .collect()
}

#[test]
fn resolver_agrees_with_ld_so_on_every_real_elf() {
    let mut files: Vec<PathBuf> = Vec::new();
    for interp in support::interpreters() {
        let dirs = python_dirs(&interp.path);
        let (exe, dynload, libdir) = (&dirs[0], &dirs[1], &dirs[2]);
        files.push(exe.clone());
        files.extend(support::elf_files(dynload, usize::MAX));
        // pyenv's shared libpython.
        if let Ok(entries) = std::fs::read_dir(libdir) {
            for e in entries.filter_map(Result::ok) {
                let name = e.file_name().to_string_lossy().into_owned();
                if name.starts_with("libpython") && name.contains(".so") {
                    files.push(e.path());
                }
            }
        }
    }
    let venv = support::wheel_venv();
    let site = venv.join("lib/python3.11/site-packages");
    for package in [
        "numpy",
        "numpy.libs",
        "PIL",
        "pillow.libs",
        "lxml",
        "cryptography",
    ] {
        let found = support::elf_files(&site.join(package), usize::MAX);
        assert!(
            !found.is_empty() || package.ends_with(".libs"),
            "no ELF in {package}"
        );
        files.extend(found);
    }
    files.sort();
    files.dedup();

    let cache = BinaryCache::new();
    cache.read_all(&files);
    let (config, err) = SearchConfig::host();
    assert!(err.is_none(), "{err:?}");
    let results: Vec<(PathBuf, Loads, Loads)> = files
        .par_iter()
        .filter(
            |f| matches!(cache.probe(f), Probe::File(b) if matches!(b.contents, Contents::Elf(_))),
        )
        .map(|f| (f.clone(), real(f), simulated(&cache, &config, f)))
        .collect();
    let mut disagreements = Vec::new();
    let mut needs = 0;
    for (file, real, simulated) in &results {
        needs += real.len();
        if real != simulated {
            disagreements.push(format!(
                "{}\n  ld.so:  {:?}\n  shenzi: {:?}",
                file.display(),
                real.difference(simulated).collect::<Vec<_>>(),
                simulated.difference(real).collect::<Vec<_>>()
            ));
        }
    }
    eprintln!(
        "compared {} ELF files, {} resolved needs (transitive closure, per file)",
        results.len(),
        needs
    );
    assert!(
        results.len() >= 100,
        "too few files compared: {}",
        results.len()
    );
    assert!(disagreements.is_empty(), "{}", disagreements.join("\n"));
}
