//! Benchmark: read, hash and resolve every ELF of a venv plus its interpreter's stdlib,
//! with a fresh (cold) in-process cache.
//!
//! cargo run --release --example native_bench -- [VENV]
//! (default VENV: .cache/venvs/wheels-3.11)

use std::path::{Path, PathBuf};
use std::time::Instant;

use rayon::prelude::*;
use shenzi::binary::{BinaryCache, Probe};
use shenzi::loader::{Opened, Request, SearchConfig, resolve};

fn candidates(root: &Path) -> Vec<PathBuf> {
    walkdir::WalkDir::new(root)
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file())
        .filter(|e| e.file_name().to_string_lossy().contains(".so"))
        .map(|e| e.into_path())
        .collect()
}

fn main() {
    let venv = std::env::args()
        .nth(1)
        .map_or_else(|| PathBuf::from(".cache/venvs/wheels-3.11"), PathBuf::from);
    let cfg = std::fs::read_to_string(venv.join("pyvenv.cfg")).expect("a venv with pyvenv.cfg");
    let home = cfg
        .lines()
        .find_map(|l| l.strip_prefix("home = "))
        .expect("pyvenv.cfg names its home");
    let prefix = Path::new(home.trim()).parent().unwrap().to_owned();

    let t0 = Instant::now();
    let (config, _) = SearchConfig::host();
    let t_config = t0.elapsed();

    let t1 = Instant::now();
    let mut files = candidates(&venv);
    files.extend(candidates(&prefix.join("lib")));
    files.push(std::fs::canonicalize(venv.join("bin/python")).unwrap());
    files.sort();
    files.dedup();
    let t_walk = t1.elapsed();

    let cache = BinaryCache::new();
    let t2 = Instant::now();
    let probes = cache.read_all(&files);
    let t_read = t2.elapsed();
    let elfs: Vec<(PathBuf, Opened)> = files
        .iter()
        .zip(probes)
        .filter_map(|(p, probe)| match probe {
            Probe::File(b) => b.elf().map(|info| {
                (
                    p.clone(),
                    Opened {
                        path: p.clone(),
                        info: info.clone(),
                    },
                )
            }),
            Probe::Missing | Probe::NotAFile(_) => None,
        })
        .collect();
    let bytes: u64 = elfs
        .iter()
        .map(|(p, _)| std::fs::metadata(p).map_or(0, |m| m.len()))
        .sum();

    let t3 = Instant::now();
    let results: Vec<(usize, usize)> = elfs
        .par_iter()
        .map(|(_, object)| {
            let mut found = 0;
            for need in &object.info.needed {
                let r = resolve(
                    &cache,
                    &config,
                    &Request {
                        name: need,
                        object,
                        chain: &[],
                        main: None,
                        library_path: &[],
                        loaded: &[],
                    },
                );
                found += usize::from(r.found.is_some());
            }
            (object.info.needed.len(), found)
        })
        .collect();
    let t_resolve = t3.elapsed();
    let needs: usize = results.iter().map(|r| r.0).sum();
    let found: usize = results.iter().map(|r| r.1).sum();
    let total = t0.elapsed();
    println!(
        "{} candidate files, {} ELF ({:.1} MB), {} needs ({} resolved); {} files read incl. resolved system libs",
        files.len(),
        elfs.len(),
        bytes as f64 / 1e6,
        needs,
        found,
        cache.files_read()
    );
    println!(
        "ld.so.cache {:.1} ms, walk {:.1} ms, read+parse+hash {:.1} ms, resolve {:.1} ms, total {:.1} ms",
        t_config.as_secs_f64() * 1e3,
        t_walk.as_secs_f64() * 1e3,
        t_read.as_secs_f64() * 1e3,
        t_resolve.as_secs_f64() * 1e3,
        total.as_secs_f64() * 1e3
    );
}
