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
            other => panic!("the file exists: {other:?}"),
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
    // A folder where a library should be stops the loader ("cannot read file data").
    assert_eq!(
        cache.probe(dir.path()),
        Probe::NotAFile(shenzi::binary::NotAFile::Special(
            shenzi::binary::FileKind::Directory
        )),
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

    // ELFCLASS32 on 64-bit headers: the loader skips another class at once, so its
    // header is all that is read, and the loader simulation skips it too.
    bytes[4] = 1;
    std::fs::write(&path, &bytes).unwrap();
    let info = read_object(&path).unwrap().unwrap();
    assert!(!info.is_64 && info.needed.is_empty(), "{info:?}");
    assert!(!config.accepts(&info));
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
            other => panic!("exists: {other:?}"),
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

/// What goblin's full parse (sections included) says of an object, in shenzi's terms:
/// an independent reader to check shenzi's loader-view reader against on intact files.
fn goblin_view(bytes: &[u8]) -> Option<shenzi::binary::ObjectInfo> {
    let elf = goblin::elf::Elf::parse(bytes).ok()?;
    let split = |list: &[&str]| -> Vec<String> {
        list.iter()
            .flat_map(|entry| entry.split(':'))
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect()
    };
    let mut version_needs = Vec::new();
    if let Some(verneed) = &elf.verneed {
        for need in verneed.iter() {
            let file = elf.dynstrtab.get_at(need.vn_file).unwrap_or_default();
            for aux in need.iter() {
                version_needs.push(VersionNeed {
                    file: file.to_owned(),
                    version: elf.dynstrtab.get_at(aux.vna_name)?.to_owned(),
                });
            }
        }
    }
    let is_loadable = matches!(elf.header.e_type, 2 | 3);
    Some(shenzi::binary::ObjectInfo {
        is_64: elf.is_64,
        machine: elf.header.e_machine,
        elf_type: elf.header.e_type,
        soname: elf.soname.map(str::to_owned),
        needed: elf.libraries.iter().map(|s| (*s).to_owned()).collect(),
        rpath: split(&elf.rpaths),
        runpath: split(&elf.runpaths),
        interp: elf.interpreter.filter(|_| is_loadable).map(str::to_owned),
        nodeflib: elf
            .dynamic
            .as_ref()
            .is_some_and(|d| d.info.flags_1 & 0x800 != 0),
        version_needs,
        defines_py_main: elf.dynsyms.iter().any(|sym| {
            sym.st_shndx != 0
                && matches!(
                    elf.dynstrtab.get_at(sym.st_name),
                    Some("Py_BytesMain" | "Py_Main")
                )
        }),
        format: shenzi::binary::FormatId::Elf,
    })
}

/// On every intact ELF file at hand (the pyenv CPythons, the wheel venv, the system's
/// library folder), shenzi's reader, which reads only what the loader reads, says what
/// goblin's full parse through the section headers says: needs, SONAME, search paths,
/// symbol versions, the interpreter, the `Py_BytesMain` lookup through the hash table.
#[test]
fn the_loader_view_agrees_with_a_full_parse_on_every_real_file() {
    let python = support::python311();
    let prefix = python.parent().unwrap().parent().unwrap();
    let mut files = support::elf_files(prefix, usize::MAX);
    files.extend(support::elf_files(&support::wheel_venv(), usize::MAX));
    files.extend(support::elf_files(
        Path::new("/usr/lib/x86_64-linux-gnu"),
        1,
    ));
    let mut compared = 0;
    let mut py_main = 0;
    let mut wrong = Vec::new();
    for path in &files {
        let bytes = std::fs::read(path).unwrap();
        let Some(expected) = goblin_view(&bytes) else {
            continue;
        };
        compared += 1;
        py_main += usize::from(expected.defines_py_main);
        match read_object(path) {
            Ok(Some(info)) if info == expected => {}
            other => wrong.push(format!(
                "{}:\n  shenzi {other:?}\n  goblin {expected:?}",
                path.display()
            )),
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    assert!(compared > 500, "only {compared} ELF files compared");
    assert!(
        py_main >= 2,
        "the interpreter and libpython define Py_BytesMain"
    );
}

/// Reads `bytes` and edits them the two ways apply does (a RUNPATH that fits, one that
/// needs a new segment, a renamed and an added need): none may panic; an edit that is
/// not declined must give bytes that read back with the new RUNPATH.
fn read_and_edit(bytes: &[u8]) -> Result<(), String> {
    use shenzi::binary::edit::{ElfEdits, prepare};
    let parsed = shenzi::binary::parse_object(bytes);
    for edits in [
        ElfEdits {
            runpath: Some(vec![]),
            ..ElfEdits::default()
        },
        ElfEdits {
            runpath: Some(vec!["$ORIGIN/a/runpath/that/cannot/fit/in/place".into()]),
            replace_needed: vec![("libc.so.6".into(), "libc-0123.so.6".into())],
            add_needed: vec!["libm.so.6".into()],
        },
    ] {
        let Ok(patch) = prepare(bytes, &edits) else {
            continue;
        };
        let out = patch.apply_to(bytes);
        // What reads intact must read edited too, with the edit made.
        if let Ok(Some(_)) = &parsed {
            match shenzi::binary::parse_object(&out) {
                Ok(Some(info)) if Some(&info.runpath) == edits.runpath.as_ref() => {}
                other => return Err(format!("edited with {edits:?}: read back as {other:?}")),
            }
        }
    }
    Ok(())
}

/// Every truncation of a small real library, and 3,000 copies with random bytes flipped
/// (fixed seed): reading and editing never panic, and an edit shenzi makes of a file
/// it can read reads back with the edit.
#[test]
fn truncated_and_mutated_objects_never_panic_the_reader_or_the_editor() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("libsmall.c");
    std::fs::write(
        &src,
        "#include <stdio.h>\nint small(const char *s) { return puts(s); }\n",
    )
    .unwrap();
    let lib = dir.path().join("libsmall.so");
    let out = Command::new("gcc")
        .args(["-shared", "-fPIC", "-Wl,-soname,libsmall.so", "-o"])
        .arg(&lib)
        .arg(&src)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let original = std::fs::read(&lib).unwrap();
    assert!(matches!(
        shenzi::binary::parse_object(&original),
        Ok(Some(_))
    ));

    let mut failures = Vec::new();
    let mut readable = 0;
    for len in 0..=original.len() {
        let cut = &original[..len];
        readable += usize::from(matches!(shenzi::binary::parse_object(cut), Ok(Some(_))));
        if let Err(e) = read_and_edit(cut) {
            failures.push(format!("cut at {len}: {e}"));
        }
    }
    // Cut in its section headers or after: still loadable. Cut in its segments: not.
    assert!(readable > 0 && readable < original.len() / 2, "{readable}");

    let mut rng = support::Rng(0x005e_ed0f_5e4d);
    for case in 0..3000 {
        let mut bytes = original.clone();
        let flips = 1 + rng.next() % 8;
        for _ in 0..flips {
            // Half the flips in the headers (first 1 KB), where they matter most.
            let span = if rng.next() % 2 == 0 {
                1024
            } else {
                bytes.len()
            };
            let at = (rng.next() % span as u64) as usize;
            bytes[at] ^= 1 << (rng.next() % 8);
        }
        if let Err(e) = read_and_edit(&bytes) {
            failures.push(format!("mutation {case}: {e}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
