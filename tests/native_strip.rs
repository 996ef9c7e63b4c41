//! `strip debug` against the real loader: objects built by gcc with `-g`, stripped in
//! process (src/binary/strip.rs), then loaded and run by glibc, edited after stripping,
//! and through the binary: pyenv's libpython (which carries its debug info) in a
//! `minimal` dist, verified, run, and the same bytes from two applies.

#[path = "fixtures/native/kit.rs"]
mod kit;
mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

use kit::gcc;
use shenzi::binary::edit::{ElfEdits, prepare};
use shenzi::binary::parse_object;
use shenzi::binary::strip::{Stripped, strip};
use support::{describe, python311, shenzi, text};

/// The section names of an ELF file, as goblin reads them.
fn section_names(bytes: &[u8]) -> Vec<String> {
    let elf = goblin::elf::Elf::parse(bytes).expect("goblin reads it");
    elf.section_headers
        .iter()
        .map(|s| elf.shdr_strtab.get_at(s.sh_name).unwrap_or("?").to_owned())
        .collect()
}

/// The dynamic symbols by name and value, what `dlsym` and the loader's binding read.
fn dynamic_symbols(bytes: &[u8]) -> Vec<(String, u64, usize)> {
    let elf = goblin::elf::Elf::parse(bytes).unwrap();
    elf.dynsyms
        .iter()
        .map(|s| {
            let name = elf.dynstrtab.get_at(s.st_name).unwrap_or("?").to_owned();
            (name, s.st_value, s.st_shndx)
        })
        .collect()
}

/// `strip` of `path` written to `out` (mode kept); the stripped bytes.
fn strip_to(path: &Path, out: &Path) -> Vec<u8> {
    let bytes = std::fs::read(path).unwrap();
    let Stripped::Bytes {
        bytes: stripped,
        dropped,
    } = strip(&bytes)
    else {
        panic!("{} was left whole: {:?}", path.display(), strip(&bytes));
    };
    assert!(dropped > 0);
    assert_eq!(
        strip(&bytes),
        Stripped::Bytes {
            bytes: stripped.clone(),
            dropped
        },
        "the same bytes in give the same bytes out"
    );
    assert_eq!(
        strip(&stripped),
        Stripped::Whole("nothing to drop"),
        "a stripped object has nothing more to drop"
    );
    // What the loader reads is untouched: the ELF header up to the section table
    // fields, the program headers, the dynamic symbols.
    let before = goblin::elf::Elf::parse(&bytes).unwrap();
    let after = goblin::elf::Elf::parse(&stripped).unwrap();
    assert_eq!(before.program_headers, after.program_headers);
    assert_eq!(dynamic_symbols(&bytes), dynamic_symbols(&stripped));
    let names = section_names(&stripped);
    assert!(
        !names
            .iter()
            .any(|n| n.starts_with(".debug") || n == ".symtab" || n == ".strtab"),
        "{names:?}"
    );
    assert!(names.iter().any(|n| n == ".dynsym"), "{names:?}");
    assert!(names.iter().any(|n| n == ".dynstr"), "{names:?}");
    assert_eq!(
        parse_object(&stripped).unwrap(),
        parse_object(&bytes).unwrap(),
        "shenzi reads the same needs, RUNPATH and versions"
    );
    std::fs::write(out, &stripped).unwrap();
    std::fs::set_permissions(out, std::fs::metadata(path).unwrap().permissions()).unwrap();
    stripped
}

/// A `-g` library and two `-g` programs that call it (PIE and fixed address), the
/// programs finding it through `$ORIGIN`.
fn debug_fixtures(dir: &Path) -> (PathBuf, Vec<PathBuf>) {
    let lib_c = dir.join("answer.c");
    std::fs::write(
        &lib_c,
        "static int table[64] = {42};\nint answer(void) { return table[0]; }\nconst char *name(void) { return \"answer\"; }\n",
    )
    .unwrap();
    let lib = dir.join("libanswer.so");
    gcc(&[
        "-g",
        "-O1",
        "-shared",
        "-fPIC",
        lib_c.to_str().unwrap(),
        "-o",
        lib.to_str().unwrap(),
        "-Wl,-soname,libanswer.so",
    ]);
    let main_c = dir.join("main.c");
    std::fs::write(
        &main_c,
        "#include <stdio.h>\nint answer(void);\nconst char *name(void);\nint main(void) { printf(\"%s %d\\n\", name(), answer()); return 0; }\n",
    )
    .unwrap();
    let mut programs = Vec::new();
    for (name, pie) in [("pie", "-pie"), ("fixed", "-no-pie")] {
        let exe = dir.join(name);
        gcc(&[
            "-g",
            pie,
            main_c.to_str().unwrap(),
            "-o",
            exe.to_str().unwrap(),
            lib.to_str().unwrap(),
            "-Wl,--enable-new-dtags,-rpath,$ORIGIN",
        ]);
        programs.push(exe);
    }
    (lib, programs)
}

fn run(exe: &Path) -> String {
    let out = Command::new(exe)
        .env_remove("LD_LIBRARY_PATH")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}: {}",
        exe.display(),
        describe(&out)
    );
    text(&out.stdout)
}

#[test]
fn debug_built_objects_run_stripped_and_edited_after() {
    // Proves: gcc `-g` objects lose their debug sections and symbol table (smaller),
    // keep everything the loader reads (program headers, dynamic symbols), and the
    // stripped library and programs load and run with glibc; a stripped object edited
    // afterwards (a RUNPATH that needs room) still runs.
    let dir = tempfile::tempdir().unwrap();
    let (lib, programs) = debug_fixtures(dir.path());
    let out = dir.path().join("stripped");
    std::fs::create_dir_all(&out).unwrap();
    let stripped_lib = strip_to(&lib, &out.join("libanswer.so"));
    assert!(
        stripped_lib.len() < std::fs::metadata(&lib).unwrap().len() as usize,
        "smaller"
    );
    for exe in &programs {
        let expected = run(exe);
        assert_eq!(expected.trim(), "answer 42");
        let stripped = out.join(exe.file_name().unwrap());
        let bytes = strip_to(exe, &stripped);
        assert!(bytes.len() < std::fs::metadata(exe).unwrap().len() as usize);
        assert_eq!(run(&stripped), expected, "{} stripped", exe.display());

        // Edited after stripping, as apply does: the library moved to `lib/`.
        let edited_dir = dir.path().join("edited");
        std::fs::create_dir_all(edited_dir.join("lib")).unwrap();
        std::fs::copy(
            out.join("libanswer.so"),
            edited_dir.join("lib/libanswer.so"),
        )
        .unwrap();
        let edits = ElfEdits {
            runpath: Some(vec![
                "$ORIGIN/lib".into(),
                "$ORIGIN/../a/much/longer/folder/than/the/old/dynamic/string/table/holds".into(),
            ]),
            ..ElfEdits::default()
        };
        let patch = prepare(&bytes, &edits).expect("a stripped object is edited in process");
        let edited = edited_dir.join(exe.file_name().unwrap());
        std::fs::write(&edited, patch.apply_to(&bytes)).unwrap();
        std::fs::set_permissions(&edited, std::fs::metadata(exe).unwrap().permissions()).unwrap();
        assert_eq!(
            run(&edited),
            expected,
            "{} stripped, then edited",
            exe.display()
        );
    }
}

#[test]
fn objects_without_debug_information_are_left_whole_or_lose_only_their_symbols() {
    // Proves: an object gcc built without `-g` only loses `.symtab`/`.strtab`, and a
    // system library already stripped by its distribution is left whole.
    let dir = tempfile::tempdir().unwrap();
    let c = dir.path().join("plain.c");
    std::fs::write(&c, "int plain(void) { return 1; }\n").unwrap();
    let lib = dir.path().join("libplain.so");
    gcc(&[
        "-shared",
        "-fPIC",
        c.to_str().unwrap(),
        "-o",
        lib.to_str().unwrap(),
    ]);
    let bytes = std::fs::read(&lib).unwrap();
    match strip(&bytes) {
        Stripped::Bytes {
            dropped,
            bytes: out,
        } => {
            assert_eq!(dropped, 2, "{:?}", section_names(&bytes));
            assert!(out.len() < bytes.len());
        }
        whole => panic!("left whole: {whole:?}"),
    }
    let libc = [
        "/lib/x86_64-linux-gnu/libc.so.6",
        "/lib/aarch64-linux-gnu/libc.so.6",
    ]
    .into_iter()
    .map(PathBuf::from)
    .find(|p| p.exists())
    .expect("the system's libc");
    let libc_bytes = std::fs::read(&libc).unwrap();
    if !section_names(&libc_bytes).iter().any(|n| n == ".symtab") {
        assert_eq!(strip(&libc_bytes), Stripped::Whole("nothing to drop"));
    }
}

/// A stdlib-only hello traced with pyenv's 3.11.
fn traced_hello(dir: &Path) -> PathBuf {
    let app = dir.join("app");
    std::fs::create_dir_all(&app).unwrap();
    std::fs::write(
        app.join("app.py"),
        "import json\nprint('hello', json.dumps([1]))\n",
    )
    .unwrap();
    let manifest = dir.join("shenzi.json");
    let out = shenzi()
        .args(["trace", "-o"])
        .arg(&manifest)
        .arg("--")
        .arg(python311())
        .arg("app.py")
        .current_dir(&app)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", describe(&out));
    manifest
}

/// The dist's file that is a copy of `source` stripped: the largest file named by hash
/// whose SONAME is `soname`.
fn shipped_library(dist: &Path, soname: &str) -> PathBuf {
    support::elf_files(dist, 8)
        .into_iter()
        .find(|p| {
            let bytes = std::fs::read(p).unwrap();
            parse_object(&bytes)
                .ok()
                .flatten()
                .and_then(|i| i.soname)
                .as_deref()
                == Some(soname)
        })
        .unwrap_or_else(|| panic!("no {soname} in {}", dist.display()))
}

#[test]
fn minimal_strips_libpython_and_the_dist_verifies_runs_and_repeats() {
    // Proves: through the binary, `minimal` (`strip debug`) ships pyenv's libpython3.11
    // without its debug info (it is most of the file), says what it saved, the dist
    // passes `shenzi verify` and runs after a move, and two applies write the same bytes.
    let dir = tempfile::tempdir().unwrap();
    let manifest = traced_hello(dir.path());
    let mut records = Vec::new();
    for name in ["one", "two"] {
        let dist = dir.path().join(name);
        let out = support::apply("minimal", &manifest, &dist, &[]);
        assert!(out.status.success(), "{}", describe(&out));
        let stderr = text(&out.stderr);
        assert!(stderr.contains(" stripped ("), "{stderr}");
        let record = std::fs::read_to_string(dist.join(".shenzi/dist.json")).unwrap();
        records.push(record);
    }
    assert_eq!(
        records[0], records[1],
        "two applies, the same files and hashes"
    );

    let dist = dir.path().join("one");
    let lib = shipped_library(&dist, "libpython3.11.so.1.0");
    let source = python311()
        .parent()
        .unwrap()
        .join("../lib/libpython3.11.so.1.0");
    let (before, after) = (
        std::fs::metadata(&source).unwrap().len(),
        std::fs::metadata(&lib).unwrap().len(),
    );
    eprintln!("libpython3.11.so.1.0: {before} bytes, {after} stripped");
    assert!(
        after * 2 < before,
        "pyenv's libpython carries its debug info: {before} → {after}"
    );
    let moved = dir.path().join("moved/dist");
    std::fs::create_dir_all(moved.parent().unwrap()).unwrap();
    std::fs::rename(&dist, &moved).unwrap();
    let verify = shenzi().arg("verify").arg(&moved).output().unwrap();
    assert!(verify.status.success(), "{}", describe(&verify));
    let ran = Command::new(moved.join("bin/app")).output().unwrap();
    assert!(ran.status.success(), "{}", describe(&ran));
    assert_eq!(text(&ran.stdout).trim(), "hello [1]");
}
