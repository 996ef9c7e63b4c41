//! Reading binaries: real ELF objects give their headers and symbol-version needs;
//! non-ELF, truncated, damaged and other-architecture files are recognised and
//! reported, never a panic.

#[path = "support/mod.rs"]
mod support;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use shenzi::binary::{BinaryCache, Contents, Probe, VersionNeed, read_object};

fn libpython() -> PathBuf {
    let python = support::python311();
    let lib = python
        .parent()
        .unwrap()
        .parent()
        .unwrap()
        .join("lib/libpython3.11.so.1.0");
    assert!(lib.exists(), "{}", lib.display());
    lib
}

/// Symbol versions needed, as binutils' `readelf -V` reports them.
fn readelf_version_needs(path: &Path) -> BTreeSet<VersionNeed> {
    let out = Command::new("readelf")
        .args(["-V", "--wide"])
        .arg(path)
        .output()
        .expect("readelf runs");
    let text = String::from_utf8_lossy(&out.stdout);
    let mut file = String::new();
    let mut in_needs = false;
    let mut out = BTreeSet::new();
    for line in text.lines() {
        if line.starts_with("Version needs section") {
            in_needs = true;
            continue;
        }
        if line.starts_with("Version") {
            in_needs = false;
        }
        if !in_needs {
            continue;
        }
        if let Some(rest) = line.split("File: ").nth(1) {
            file = rest.split_whitespace().next().unwrap().to_owned();
        } else if let Some(rest) = line.split("Name: ").nth(1) {
            let version = rest.split_whitespace().next().unwrap().to_owned();
            out.insert(VersionNeed {
                file: file.clone(),
                version,
            });
        }
    }
    out
}

#[test]
fn real_objects_give_their_headers_and_version_needs() {
    let venv = support::wheel_venv();
    let site = venv.join("lib/python3.11/site-packages");
    let multiarray = std::fs::read_dir(site.join("numpy/_core"))
        .unwrap()
        .filter_map(Result::ok)
        .map(|e| e.path())
        .find(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("_multiarray_umath.")
        })
        .unwrap();
    for path in [libpython(), multiarray.clone(), support::python311()] {
        let info = read_object(&path).unwrap().expect("ELF");
        assert!(info.is_64);
        assert_eq!(info.arch_name(), std::env::consts::ARCH);
        let ours: BTreeSet<VersionNeed> = info.version_needs.iter().cloned().collect();
        let binutils = readelf_version_needs(&path);
        assert!(
            !binutils.is_empty(),
            "readelf found no version needs in {}",
            path.display()
        );
        assert_eq!(ours, binutils, "{}", path.display());
    }
    let info = read_object(&multiarray).unwrap().unwrap();
    assert_eq!(info.rpath, vec!["$ORIGIN/../../numpy.libs".to_owned()]);
    assert!(info.runpath.is_empty());
    assert!(
        info.needed
            .iter()
            .any(|n| n.starts_with("libscipy_openblas")),
        "{:?}",
        info.needed
    );
    let python = read_object(&support::python311()).unwrap().unwrap();
    assert_eq!(
        python.interp.as_deref(),
        Some("/lib64/ld-linux-x86-64.so.2")
    );
    assert!(
        matches!(python.elf_type, 2 | 3),
        "ET_EXEC or ET_DYN: {}",
        python.elf_type
    );
}

#[test]
fn non_elf_truncated_and_damaged_files_are_reported_not_panics() {
    let dir = tempfile::tempdir().unwrap();
    let original = std::fs::read(libpython()).unwrap();
    let cache = BinaryCache::new();

    let text = dir.path().join("libtext.so");
    std::fs::write(&text, "/* GNU ld script */ INPUT(libc.so.6)\n").unwrap();
    assert_eq!(read_object(&text).unwrap(), None);
    assert!(matches!(cache.probe(&text), Probe::File(b) if b.contents == Contents::NotElf));

    let mut corrupt_seen = 0;
    for len in [
        4,
        16,
        52,
        64,
        200,
        4096,
        original.len() / 3,
        original.len() / 2,
    ] {
        let path = dir.path().join(format!("libcut{len}.so"));
        std::fs::write(&path, &original[..len]).unwrap();
        match read_object(&path) {
            Err(e) => {
                corrupt_seen += 1;
                let text = format!("{e}");
                assert!(text.contains("cannot be parsed"), "{text}");
            }
            Ok(info) => assert!(info.is_some()),
        }
        match cache.probe(&path) {
            Probe::File(b) => assert!(matches!(
                b.contents,
                Contents::Corrupt(_) | Contents::Elf(_)
            )),
            Probe::Missing => panic!("the file exists"),
        }
    }
    assert!(corrupt_seen >= 4, "short cuts must be reported as damaged");

    // Headers overwritten with noise after the magic.
    let mut noise = original.clone();
    for (i, b) in noise.iter_mut().enumerate().skip(4).take(60) {
        *b = (i * 37 % 251) as u8;
    }
    let noisy = dir.path().join("libnoise.so");
    std::fs::write(&noisy, &noise).unwrap();
    assert!(read_object(&noisy).is_err());
    assert!(
        matches!(cache.probe(&noisy), Probe::File(b) if matches!(b.contents, Contents::Corrupt(_)))
    );

    // A section/program header table pointing past the end of the file.
    let mut far = original.clone();
    far[32..40].copy_from_slice(&u64::MAX.to_le_bytes()); // e_phoff
    let farpath = dir.path().join("libfar.so");
    std::fs::write(&farpath, &far).unwrap();
    assert!(read_object(&farpath).is_err());

    assert_eq!(cache.probe(&dir.path().join("absent.so")), Probe::Missing);
    assert_eq!(
        cache.probe(dir.path()),
        Probe::Missing,
        "a directory is not a library"
    );
}

#[test]
fn another_architectures_elf_is_recognised() {
    let dir = tempfile::tempdir().unwrap();
    let mut bytes = std::fs::read(libpython()).unwrap();
    bytes[18..20].copy_from_slice(&183u16.to_le_bytes()); // EM_AARCH64
    let path = dir.path().join("libarm.so");
    std::fs::write(&path, &bytes).unwrap();
    let info = read_object(&path).unwrap().unwrap();
    assert_eq!(info.arch_name(), "aarch64");
    let (config, _) = shenzi::loader::SearchConfig::host();
    assert!(!config.accepts(&info));

    bytes[4] = 1; // ELFCLASS32 on 64-bit headers: damaged, not a panic
    std::fs::write(&path, &bytes).unwrap();
    let _ = read_object(&path);
}

#[test]
fn each_file_is_read_once_and_identical_bytes_share_a_hash() {
    let dir = tempfile::tempdir().unwrap();
    let lib = libpython();
    let copy = dir.path().join("copy.so");
    std::fs::copy(&lib, &copy).unwrap();
    let link = dir.path().join("link.so");
    std::os::unix::fs::symlink(&lib, &link).unwrap();
    let cache = BinaryCache::new();
    let probes = cache.read_all(&[lib.clone(), copy.clone(), link.clone(), lib.clone()]);
    let bins: Vec<_> = probes
        .into_iter()
        .map(|p| match p {
            Probe::File(b) => b,
            Probe::Missing => panic!("exists"),
        })
        .collect();
    assert_eq!(
        cache.files_read(),
        2,
        "the link is the same file; the copy another"
    );
    assert!(std::sync::Arc::ptr_eq(&bins[0], &bins[2]));
    assert_ne!(bins[0].id, bins[1].id);
    assert_eq!(bins[0].hash(), bins[1].hash());
    assert_eq!(
        bins[0].hash(),
        *blake3::hash(&std::fs::read(&lib).unwrap()).as_bytes()
    );
}
