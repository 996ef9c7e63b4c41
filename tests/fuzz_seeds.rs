//! The fuzz targets (`fuzz/targets.rs`, the same code `cargo fuzz` runs) on the stable
//! toolchain, bounded: every seed, then a fixed number of seeded mutations of them.
//! CI runs this through `scripts/test`; docs/fuzzing.md says how to fuzz for longer.

#[path = "../fuzz/targets.rs"]
mod targets;

use std::path::{Path, PathBuf};

/// The seed corpus of a target: its folder under `fuzz/seeds/`, and the other
/// folders `docs/fuzzing.md` passes to `cargo fuzz run`.
fn seeds(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut dirs = vec![root.join("fuzz/seeds").join(target)];
    match target {
        "layout" => {
            dirs.push(root.join("layouts"));
            dirs.push(root.join("tests/fixtures/layout/diagnostics"));
        }
        "manifest" => dirs.push(root.join("tests/fixtures/layout")),
        _ => {}
    }
    let mut out = Vec::new();
    for dir in dirs {
        for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
            let path = entry.unwrap().path();
            if path.is_file() {
                let bytes = std::fs::read(&path).unwrap();
                out.push((path, bytes));
            }
        }
    }
    out.sort();
    assert!(!out.is_empty(), "no seeds for {target}");
    out
}

/// xorshift64*: a fixed seed makes every run test the same inputs.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// Simple byte mutations, as libFuzzer's first ones: flip a bit, set a byte to an
/// interesting value, insert or remove bytes, copy a stretch, splice in another seed.
fn mutate(rng: &mut Rng, bytes: &mut Vec<u8>, other: &[u8]) {
    const INTERESTING: &[u8] = b"\0\x01\x7f\x80\xff{}\"\\#/\n,*[]:.";
    for _ in 0..1 + rng.below(4) {
        let len = bytes.len();
        match rng.below(7) {
            0 if len > 0 => bytes[rng.below(len)] ^= 1 << rng.below(8),
            1 if len > 0 => bytes[rng.below(len)] = INTERESTING[rng.below(INTERESTING.len())],
            2 => bytes.insert(
                rng.below(len + 1),
                INTERESTING[rng.below(INTERESTING.len())],
            ),
            3 if len > 0 => {
                let at = rng.below(len);
                let n = (1 + rng.below(16)).min(len - at);
                bytes.drain(at..at + n);
            }
            4 if len > 0 => {
                let at = rng.below(len);
                let n = (1 + rng.below(64)).min(len - at);
                let chunk = bytes[at..at + n].to_vec();
                let to = rng.below(len + 1);
                bytes.splice(to..to, chunk);
            }
            5 if !other.is_empty() => {
                let at = rng.below(other.len());
                let n = (1 + rng.below(256)).min(other.len() - at);
                let to = rng.below(len + 1);
                bytes.splice(to..to, other[at..at + n].iter().copied());
            }
            // A little-endian word at a random place: ELF offsets and counts.
            _ if len >= 8 => {
                let at = rng.below(len - 7);
                let word = [0u64, 1, 0x40, 0x1000, u64::MAX, u64::MAX / 2][rng.below(6)];
                bytes[at..at + 8].copy_from_slice(&word.to_le_bytes());
            }
            _ => bytes.push(INTERESTING[rng.below(INTERESTING.len())]),
        }
    }
}

fn replay(target: &str, run: fn(&[u8]), mutations: usize) {
    let seeds = seeds(target);
    for (path, bytes) in &seeds {
        let result = std::panic::catch_unwind(|| run(bytes));
        assert!(result.is_ok(), "{target}: seed {} fails", path.display());
    }
    let mut rng = Rng(0x5eed_f022 ^ target.len() as u64);
    for round in 0..mutations {
        let mut bytes = seeds[round % seeds.len()].1.clone();
        let other = &seeds[rng.below(seeds.len())].1;
        mutate(&mut rng, &mut bytes, other);
        if std::panic::catch_unwind(|| run(&bytes)).is_err() {
            let dump = std::env::temp_dir().join(format!("shenzi-fuzz-{target}-{round}"));
            let _ = std::fs::write(&dump, &bytes);
            panic!(
                "{target}: mutation {round} of {} fails; input written to {}",
                seeds[round % seeds.len()].0.display(),
                dump.display()
            );
        }
    }
}

#[test]
fn layout_target() {
    replay("layout", targets::layout, 2000);
}

#[test]
fn manifest_target() {
    replay("manifest", targets::manifest, 1000);
}

#[test]
fn elf_target() {
    replay("elf", targets::elf, 3000);
}
