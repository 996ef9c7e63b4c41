//! shenzi's own ELF writer against the real loader and against patchelf: objects built
//! with gcc, edited in process, then loaded by glibc and read back by shenzi and by
//! patchelf.

#[path = "fixtures/native/kit.rs"]
mod kit;
mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

use kit::{Kit, Lib, gcc};
use shenzi::binary::edit::{ElfEdits, prepare};
use shenzi::binary::{ObjectInfo, parse_object};
use shenzi::execute::{Patchelf, Patcher};

/// Edits `source` in process into `dest`; panics when the writer declines.
fn edit(source: &Path, dest: &Path, edits: &ElfEdits) -> ObjectInfo {
    let bytes = std::fs::read(source).unwrap();
    let patch = prepare(&bytes, edits).unwrap_or_else(|why| panic!("declined: {why}"));
    let out = patch.apply_to(&bytes);
    assert_eq!(
        prepare(&bytes, edits).unwrap(),
        patch,
        "the same edit twice gives the same bytes"
    );
    std::fs::write(dest, &out).unwrap();
    let mode = std::fs::metadata(source).unwrap().permissions();
    std::fs::set_permissions(dest, mode).unwrap();
    parse_object(&out).unwrap().expect("still ELF")
}

/// The same edit through shenzi's patchelf fallback, read back by shenzi.
fn with_patchelf(source: &Path, dest: &Path, edits: &ElfEdits) -> ObjectInfo {
    let patchelf = Patchelf::find(None).expect("patchelf (scripts/setup installs it)");
    patchelf.patch_into(source, dest, edits).unwrap();
    parse(dest)
}

/// What patchelf itself reads back from a file shenzi wrote.
fn patchelf_print(what: &str, file: &Path) -> String {
    let out = Command::new("patchelf")
        .arg(what)
        .arg(file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "patchelf {what} {}: {}",
        file.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

fn runpath(entries: &[&str]) -> ElfEdits {
    ElfEdits {
        runpath: Some(entries.iter().map(|s| (*s).to_owned()).collect()),
        ..ElfEdits::default()
    }
}

/// `libdep.so.1` in `deps/` and a library needing it that finds nothing on its own.
fn needing_dep(kit: &Kit, rpath: &[&str], runpath: &[&str]) -> (PathBuf, PathBuf) {
    let dep = kit.lib(
        "deps/libdep.so.1",
        Lib {
            soname: "libdep.so.1",
            ..Lib::default()
        },
    );
    let user = kit.lib(
        "src/libuser.so",
        Lib {
            soname: "libuser.so",
            needs: &[&dep],
            rpath,
            runpath,
        },
    );
    (dep, user)
}

#[test]
fn a_runpath_is_added_to_a_library_that_had_none_and_the_loader_follows_it() {
    let kit = Kit::new();
    let (dep, user) = needing_dep(&kit, &[], &[]);
    let out = kit.path("dist/libuser.so");
    std::fs::create_dir_all(out.parent().unwrap()).unwrap();
    assert!(
        kit.real(&[&user], None).is_err(),
        "nothing finds the need yet"
    );

    let edits = runpath(&["$ORIGIN/nowhere", "$ORIGIN/../deps"]);
    let info = edit(&user, &out, &edits);
    assert_eq!(info.runpath, ["$ORIGIN/nowhere", "$ORIGIN/../deps"]);
    assert!(info.rpath.is_empty());
    assert_eq!(info.needed, parse(&user).needed);
    assert_eq!(info, with_patchelf(&user, &kit.path("pe.so"), &edits));
    assert_eq!(
        patchelf_print("--print-rpath", &out),
        "$ORIGIN/nowhere:$ORIGIN/../deps"
    );
    let loaded = kit
        .real(&[&out], None)
        .expect("the loader follows the new RUNPATH");
    let dep = std::fs::canonicalize(dep).unwrap();
    assert!(
        loaded
            .iter()
            .any(|l| std::fs::canonicalize(l).ok().as_ref() == Some(&dep)),
        "{loaded:?}"
    );
    assert_eq!(
        std::fs::read(&user).unwrap(),
        std::fs::read(kit.path("src/libuser.so")).unwrap(),
        "the source is untouched"
    );
}

#[test]
fn an_old_rpath_becomes_a_runpath_and_a_runpath_can_be_removed() {
    let kit = Kit::new();
    let (_dep, user) = needing_dep(&kit, &["/opt/a/very/long/absolute/build/prefix/lib"], &[]);
    assert_eq!(parse(&user).rpath.len(), 1);
    std::fs::create_dir_all(kit.path("dist")).unwrap();
    let shorter = kit.path("dist/libuser.so");
    let info = edit(&user, &shorter, &runpath(&["$ORIGIN/../deps"]));
    assert_eq!((info.rpath.len(), info.runpath.len()), (0, 1));
    assert!(kit.real(&[&shorter], None).is_ok());

    // Removing needs no new string: the dynamic entries are rewritten in place.
    let removed = kit.path("dist/removed.so");
    let info = edit(&shorter, &removed, &runpath(&[]));
    assert_eq!(
        std::fs::metadata(&removed).unwrap().len(),
        std::fs::metadata(&shorter).unwrap().len(),
        "a removal does not grow the file"
    );
    assert!(info.runpath.is_empty() && info.rpath.is_empty());
    assert_eq!(patchelf_print("--print-rpath", &removed), "");
    assert!(
        kit.real(&[&removed], None).is_err(),
        "the need is lost again"
    );
    assert_eq!(
        kit.real(&[&removed], Some(kit.path("deps").to_str().unwrap()))
            .map(|l| l.len()),
        kit.real(&[&shorter], None).map(|l| l.len())
    );
}

#[test]
fn a_renamed_need_is_renamed_in_the_version_needs_too() {
    let kit = Kit::new();
    let dir = kit.path("v");
    std::fs::create_dir_all(&dir).unwrap();
    let script = dir.join("dep.map");
    std::fs::write(&script, "DEP_1 { global: dep; local: *; };\n").unwrap();
    std::fs::write(dir.join("dep.c"), "int dep(void) { return 7; }\n").unwrap();
    std::fs::write(
        dir.join("user.c"),
        "int dep(void);\nint user(void) { return dep() * 6; }\n",
    )
    .unwrap();
    let dep = dir.join("libdep.so.1");
    let s = |p: &Path| p.to_str().unwrap().to_owned();
    gcc(&[
        "-shared",
        "-fPIC",
        &s(&dir.join("dep.c")),
        "-o",
        &s(&dep),
        "-Wl,-soname,libdep.so.1",
        &format!("-Wl,--version-script,{}", s(&script)),
    ]);
    let user = dir.join("libuser.so");
    gcc(&[
        "-shared",
        "-fPIC",
        &s(&dir.join("user.c")),
        "-o",
        &s(&user),
        &s(&dep),
    ]);
    assert!(
        parse(&user)
            .version_needs
            .iter()
            .any(|v| v.file == "libdep.so.1" && v.version == "DEP_1")
    );
    // The renamed copy, found through the new RUNPATH.
    let renamed_dir = kit.path("renamed");
    std::fs::create_dir_all(&renamed_dir).unwrap();
    std::fs::copy(&dep, renamed_dir.join("libdep-0a1b2c3d.so.1")).unwrap();
    let edits = ElfEdits {
        runpath: Some(vec!["$ORIGIN".into()]),
        replace_needed: vec![("libdep.so.1".into(), "libdep-0a1b2c3d.so.1".into())],
        ..ElfEdits::default()
    };
    let out = renamed_dir.join("libuser.so");
    let info = edit(&user, &out, &edits);
    assert!(info.needed.contains(&"libdep-0a1b2c3d.so.1".to_owned()));
    assert!(!info.needed.contains(&"libdep.so.1".to_owned()));
    assert!(
        info.version_needs.iter().all(|v| v.file != "libdep.so.1"),
        "{:?}",
        info.version_needs
    );
    assert_eq!(info, with_patchelf(&user, &kit.path("pe.so"), &edits));
    // Loaded, with its versioned symbol bound: call it.
    let called = Command::new("python3")
        .args([
            "-c",
            "import ctypes, sys; print(ctypes.CDLL(sys.argv[1]).user())",
        ])
        .arg(&out)
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&called.stdout).trim(),
        "42",
        "{}",
        String::from_utf8_lossy(&called.stderr)
    );
}

#[test]
fn an_added_need_comes_first_and_is_loaded() {
    let kit = Kit::new();
    let (_dep, user) = needing_dep(&kit, &[], &["$ORIGIN/../deps"]);
    let out = kit.path("src/libuser-preload.so");
    let edits = ElfEdits {
        runpath: Some(vec![
            "$ORIGIN/../deps".into(),
            "$ORIGIN/a/much/longer/runpath/than/before".into(),
        ]),
        add_needed: vec!["libm.so.6".into()],
        ..ElfEdits::default()
    };
    let info = edit(&user, &out, &edits);
    assert_eq!(info.needed.first().map(String::as_str), Some("libm.so.6"));
    assert_eq!(info, with_patchelf(&user, &kit.path("pe.so"), &edits));
    let loaded = kit.real(&[&out], None).unwrap();
    assert!(loaded.iter().any(|l| l.contains("libm.so.6")), "{loaded:?}");
}

/// The interpreter is an executable: the kernel maps it, and reads the moved program
/// headers. Both a PIE and a fixed-address executable run with the new RUNPATH.
#[test]
fn executables_run_with_a_runpath_that_needed_a_new_segment() {
    let kit = Kit::new();
    let (_dep, _user) = needing_dep(&kit, &[], &[]);
    let main = kit.path("main.c");
    std::fs::write(
        &main,
        "#include <stdio.h>\nconst char *which_libdep_so_1(void);\nint main(void) { puts(which_libdep_so_1()); return 0; }\n",
    )
    .unwrap();
    for (name, pie) in [("pie", "-pie"), ("fixed", "-no-pie")] {
        let exe = kit.path(&format!("src/{name}"));
        gcc(&[
            pie,
            kit.path("main.c").to_str().unwrap(),
            "-o",
            exe.to_str().unwrap(),
            kit.path("deps/libdep.so.1").to_str().unwrap(),
        ]);
        let before = Command::new(&exe)
            .env_remove("LD_LIBRARY_PATH")
            .output()
            .unwrap();
        assert!(
            !before.status.success(),
            "{name} finds its need without a RUNPATH"
        );

        let out = kit.path(&format!("dist/{name}"));
        std::fs::create_dir_all(out.parent().unwrap()).unwrap();
        let long = "$ORIGIN/../deps:$ORIGIN/../../some/much/longer/folder/than/the/table/holds";
        let info = edit(&exe, &out, &runpath(&long.split(':').collect::<Vec<_>>()));
        assert_eq!(info.runpath.join(":"), long);
        assert!(info.interp.is_some());
        let after = Command::new(&out)
            .env_remove("LD_LIBRARY_PATH")
            .output()
            .unwrap();
        assert_eq!(
            String::from_utf8_lossy(&after.stdout).trim(),
            "deps/libdep.so.1",
            "{name}: {}",
            String::from_utf8_lossy(&after.stderr)
        );
        // Edited twice (a dist's binary edited again): still runs.
        let twice = kit.path(&format!("dist/{name}-twice"));
        edit(
            &out,
            &twice,
            &runpath(&["$ORIGIN/../deps", "$ORIGIN/elsewhere/entirely"]),
        );
        let again = Command::new(&twice)
            .env_remove("LD_LIBRARY_PATH")
            .output()
            .unwrap();
        assert!(again.status.success(), "{name} edited twice");
    }
}

/// Damaged copies of a real library: the writer declines or edits, never panics, and
/// what it writes still parses.
#[test]
fn damaged_objects_are_declined_or_edited_never_panicked_on() {
    let kit = Kit::new();
    let (_dep, user) = needing_dep(&kit, &[], &[]);
    let bytes = std::fs::read(&user).unwrap();
    let edits = ElfEdits {
        runpath: Some(vec!["$ORIGIN/../lib".into()]),
        add_needed: vec!["libm.so.6".into()],
        replace_needed: vec![("libdep.so.1".into(), "libdep-x.so.1".into())],
    };
    let mut seed: u64 = 0x5eed;
    let mut next = || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    // Headers and tables live in the first few KB; damage them there.
    let hot = bytes.len().min(8192);
    for _ in 0..3000 {
        let mut damaged = bytes.clone();
        for _ in 0..1 + next() % 4 {
            let at = (next() % hot as u64) as usize;
            damaged[at] = next() as u8;
        }
        if let Ok(patch) = prepare(&damaged, &edits) {
            let out = patch.apply_to(&damaged);
            assert!(out.len() >= damaged.len());
        }
    }
    for len in (0..bytes.len()).step_by(61) {
        let _ = prepare(&bytes[..len], &edits);
    }
}

fn parse(path: &Path) -> ObjectInfo {
    shenzi::binary::read_object(path).unwrap().unwrap()
}

/// Every shared object this machine has at hand — the system's libraries, each test
/// interpreter's libpython and lib-dynload, the wheels' extensions and bundled libraries
/// — edited in process (a RUNPATH that grows, plus an added need for every third): each
/// reads back as asked, and each that the real loader opened before it opens after.
#[test]
fn every_object_at_hand_still_loads_after_an_edit() {
    use rayon::prelude::*;
    let mut roots: Vec<(PathBuf, usize)> = vec![(PathBuf::from("/usr/lib/x86_64-linux-gnu"), 1)];
    for python in support::interpreters() {
        let prefix = std::fs::canonicalize(&python.path).unwrap();
        let prefix = prefix.parent().unwrap().parent().unwrap();
        match prefix.join("lib").read_dir() {
            // pyenv: libpython and lib/pythonX.Y/lib-dynload.
            Ok(_) if prefix != Path::new("/usr") => roots.push((prefix.join("lib"), 3)),
            _ => roots.push((
                PathBuf::from(format!("/usr/lib/python3.{}/lib-dynload", python.minor)),
                1,
            )),
        }
    }
    roots.push((support::wheel_venv().join("lib"), 6));
    let mut objects: Vec<PathBuf> = Vec::new();
    for (root, depth) in &roots {
        for entry in walkdir::WalkDir::new(root)
            .max_depth(*depth)
            .into_iter()
            .filter_map(Result::ok)
        {
            if entry.file_type().is_file() && entry.file_name().to_string_lossy().contains(".so") {
                objects.push(entry.into_path());
            }
        }
    }
    let kit = Kit::new();
    let out = kit.path("edited");
    std::fs::create_dir_all(&out).unwrap();
    let edited: Vec<(PathBuf, PathBuf)> = objects
        .par_iter()
        .enumerate()
        .filter_map(|(i, source)| {
            let bytes = std::fs::read(source).ok()?;
            let before = parse_object(&bytes).ok()??;
            if before.elf_type != 3 {
                return None;
            }
            // Where the copy cannot see its old neighbours, the RUNPATH names them.
            let dir = source.parent().unwrap().display().to_string();
            let mut runpath = vec!["$ORIGIN/../a/folder/that/is/not/there/at/all".to_owned()];
            runpath.extend(
                before
                    .rpath
                    .iter()
                    .chain(&before.runpath)
                    .map(|e| e.replace("${ORIGIN}", &dir).replace("$ORIGIN", &dir)),
            );
            runpath.push(dir);
            let edits = ElfEdits {
                runpath: Some(runpath.clone()),
                add_needed: if i % 3 == 0 {
                    vec!["libm.so.6".into()]
                } else {
                    vec![]
                },
                ..ElfEdits::default()
            };
            let patch = prepare(&bytes, &edits)
                .unwrap_or_else(|why| panic!("{} declined: {why}", source.display()));
            let new = patch.apply_to(&bytes);
            let after = parse_object(&new).unwrap().unwrap();
            assert_eq!(after.runpath, runpath, "{}", source.display());
            let mut needed: Vec<String> = edits
                .add_needed
                .iter()
                .filter(|n| !before.needed.contains(n))
                .cloned()
                .collect();
            needed.extend(before.needed.iter().cloned());
            assert_eq!(after.needed, needed, "{}", source.display());
            assert_eq!(after.version_needs, before.version_needs);
            assert_eq!(after.soname, before.soname);
            let dest = out.join(format!("{i}-{}", source.file_name()?.to_string_lossy()));
            std::fs::write(&dest, new).unwrap();
            Some((source.clone(), dest))
        })
        .collect();
    assert!(edited.len() > 300, "only {} objects found", edited.len());
    let loads = |path: &Path| {
        Command::new(&kit.probe)
            .arg(path)
            .env_remove("LD_LIBRARY_PATH")
            .env_remove("LD_PRELOAD")
            .output()
            .is_ok_and(|o| o.status.success())
    };
    let lost: Vec<String> = edited
        .par_iter()
        .filter(|(source, dest)| loads(source) && !loads(dest))
        .map(|(source, _)| source.display().to_string())
        .collect();
    assert!(lost.is_empty(), "no longer load after the edit: {lost:#?}");
    eprintln!(
        "{} objects edited; none that loaded stopped loading",
        edited.len()
    );
}

/// A shared object from GNU ld has no `PT_PHDR`: glibc takes its program headers from
/// the first load segment whose page-rounded file mapping covers `e_phoff`. The moved
/// table must not share a file page with the last segment, whose `.bss` zeroes that
/// page (found in review: `dl_iterate_phdr` saw zeroed headers, and C++ exceptions,
/// whose unwinder finds `PT_GNU_EH_FRAME` that way, aborted).
#[test]
fn a_library_still_sees_its_own_program_headers() {
    let kit = Kit::new();
    let dir = kit.path("phdr");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("self.c"),
        r#"#define _GNU_SOURCE
#include <link.h>
static int big[100000];
static int look(struct dl_phdr_info *info, size_t size, void *found) {
    (void)size;
    ElfW(Addr) at = (ElfW(Addr))&big[0];
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *p = &info->dlpi_phdr[i];
        if (p->p_type == PT_LOAD && at >= info->dlpi_addr + p->p_vaddr
            && at < info->dlpi_addr + p->p_vaddr + p->p_memsz)
            for (int j = 0; j < info->dlpi_phnum; j++)
                if (info->dlpi_phdr[j].p_type == PT_GNU_EH_FRAME) *(int *)found = 1;
    }
    return 0;
}
int sees_itself(void) { int found = 0; dl_iterate_phdr(look, &found); big[1] = found; return found; }
"#,
    )
    .unwrap();
    let lib = dir.join("libself.so");
    gcc(&[
        "-shared",
        "-fPIC",
        "-s",
        dir.join("self.c").to_str().unwrap(),
        "-o",
        lib.to_str().unwrap(),
    ]);
    let call = |path: &Path| {
        let out = Command::new("python3")
            .args([
                "-c",
                "import ctypes, sys; print(ctypes.CDLL(sys.argv[1]).sees_itself())",
            ])
            .arg(path)
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    };
    assert_eq!(call(&lib), "1", "the unedited library");
    for (name, edits) in [
        (
            "grown.so",
            runpath(&["$ORIGIN/../a/runpath/long/enough/to/need/a/new/segment"]),
        ),
        (
            "moved.so",
            ElfEdits {
                add_needed: (1..=6).map(|i| format!("libextra{i}.so")).collect(),
                runpath: Some(vec!["$ORIGIN/extra".into()]),
                ..ElfEdits::default()
            },
        ),
    ] {
        let out = dir.join(name);
        let info = edit(&lib, &out, &edits);
        if name == "moved.so" {
            // Needs that exist, so that it loads: the dynamic section had to move.
            for need in &info.needed[..6] {
                kit.lib(
                    &format!("phdr/extra/{need}"),
                    Lib {
                        soname: need,
                        ..Lib::default()
                    },
                );
            }
        }
        assert_eq!(call(&out), "1", "{name} no longer sees its program headers");
    }
}

#[test]
fn renames_apply_to_the_old_names_and_added_needs_come_once() {
    let kit = Kit::new();
    let (_dep, user) = needing_dep(&kit, &[], &[]);
    let bytes = std::fs::read(&user).unwrap();
    let edits = ElfEdits {
        add_needed: vec!["libm.so.6".into(), "libm.so.6".into(), "libextra.so".into()],
        replace_needed: vec![
            ("libdep.so.1".into(), "libextra.so".into()),
            ("libextra.so".into(), "libthird.so".into()),
        ],
        ..ElfEdits::default()
    };
    let out = prepare(&bytes, &edits).unwrap().apply_to(&bytes);
    let info = parse_object(&out).unwrap().unwrap();
    // As patchelf's calls do it: add, then rename every name as it was.
    assert_eq!(
        info.needed,
        ["libm.so.6", "libthird.so", "libextra.so", "libc.so.6"]
    );
}

/// A library whose section header table the loader never reads is damaged four ways
/// (pointing past the end, overwritten, cut off, an entry size of 7): patchelf refuses
/// each, shenzi's writer edits each (a RUNPATH that needs a new segment) into a file the
/// loader loads and follows. A table that does not lie in the file is dropped from the
/// header (the new segment may sit where it pointed); one that does is kept, with only
/// the entries that exactly describe a moved table updated.
#[test]
fn an_object_with_damaged_section_headers_is_edited_and_still_loads() {
    let kit = Kit::new();
    let (dep, user) = needing_dep(&kit, &[], &[]);
    let pristine = std::fs::read(&user).unwrap();
    let shoff = u64::from_le_bytes(pristine[40..48].try_into().unwrap()) as usize;
    let shnum = u16::from_le_bytes(pristine[60..62].try_into().unwrap()) as usize;
    type Damage = fn(&mut Vec<u8>, usize, usize);
    let damages: [(&str, Damage, bool); 4] = [
        (
            "past the end",
            |b, _, _| {
                let far = b.len() as u64 + (1 << 20);
                b[40..48].copy_from_slice(&far.to_le_bytes());
            },
            false,
        ),
        (
            "overwritten",
            |b, shoff, shnum| {
                for (i, byte) in b.iter_mut().enumerate().skip(shoff).take(shnum * 64) {
                    *byte = (i * 37 % 251) as u8;
                }
            },
            true,
        ),
        ("cut off", |b, shoff, _| b.truncate(shoff), false),
        (
            "entry size 7",
            |b, _, _| b[58..60].copy_from_slice(&7u16.to_le_bytes()),
            false,
        ),
    ];
    let edits = runpath(&[
        "$ORIGIN/an/entry/longer/than/any/string/the/library/has",
        "$ORIGIN/../../deps",
    ]);
    let dep = std::fs::canonicalize(dep).unwrap();
    for (i, (name, damage, table_kept)) in damages.into_iter().enumerate() {
        let mut bytes = pristine.clone();
        damage(&mut bytes, shoff, shnum);
        let damaged = kit.path(&format!("damaged{i}/libuser.so"));
        std::fs::create_dir_all(damaged.parent().unwrap()).unwrap();
        std::fs::write(&damaged, &bytes).unwrap();
        // patchelf reads section headers: it refuses the first three.
        let patchelf =
            Patchelf::find(None)
                .unwrap()
                .patch_into(&damaged, &kit.path("pe.so"), &edits);
        assert_eq!(patchelf.is_err(), i < 3, "{name}: patchelf {patchelf:?}");

        let out = kit.path(&format!("dist/x{i}/libuser.so"));
        std::fs::create_dir_all(out.parent().unwrap()).unwrap();
        let info = edit(&damaged, &out, &edits);
        assert_eq!(Some(&info.runpath), edits.runpath.as_ref(), "{name}");
        assert_eq!(info.needed, parse(&user).needed, "{name}");
        let written = std::fs::read(&out).unwrap();
        let new_shoff = u64::from_le_bytes(written[40..48].try_into().unwrap());
        if table_kept {
            assert_eq!(&written[40..48], &bytes[40..48], "{name}: table kept");
        } else {
            assert_eq!(new_shoff, 0, "{name}: table dropped");
            assert_eq!(&written[60..64], &[0; 4], "{name}: no sections, no names");
        }
        let loaded = kit
            .real(&[&out], None)
            .unwrap_or_else(|e| panic!("{name}: the loader refuses the edited file: {e}"));
        assert!(
            loaded
                .iter()
                .any(|l| std::fs::canonicalize(l).ok().as_ref() == Some(&dep)),
            "{name}: {loaded:?}"
        );
    }
}
