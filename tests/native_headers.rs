//! Libraries whose section headers are damaged load with glibc (it reads program headers
//! and the dynamic segment only). shenzi reads them the same way: the trace records
//! them, apply ships and edits them, verify accepts the dist, and the dist runs with the
//! source environment hidden.

#[path = "fixtures/native/kit.rs"]
mod kit;
mod support;

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;

use kit::{Kit, Lib};
use support::hidden::{HiddenSpec, HiddenWorld, hide_paths_for_python};
use support::{describe, python311, shenzi};

/// A library's name and what is done to its bytes.
type Damage = (&'static str, fn(&mut Vec<u8>));

/// The ways a section header table is damaged here, each on its own library.
const DAMAGES: &[Damage] = &[
    ("libfar.so.1", |b| {
        let far = b.len() as u64 + (1 << 20);
        b[40..48].copy_from_slice(&far.to_le_bytes()); // e_shoff past the end
    }),
    ("libnoise.so.1", |b| {
        let shoff = u64::from_le_bytes(b[40..48].try_into().unwrap()) as usize;
        let shnum = u16::from_le_bytes(b[60..62].try_into().unwrap()) as usize;
        // The table overwritten.
        for (i, byte) in b.iter_mut().enumerate().skip(shoff).take(shnum * 64) {
            *byte = (i * 37 % 251) as u8;
        }
    }),
    ("libmany.so.1", |b| {
        b[60..62].copy_from_slice(&0xffffu16.to_le_bytes())
    }), // e_shnum
    ("libcut.so.1", |b| {
        let shoff = u64::from_le_bytes(b[40..48].try_into().unwrap()) as usize;
        b.truncate(shoff); // the table cut off
    }),
];

const APP: &str = r#"
import ctypes
for name in ["libfar.so.1", "libnoise.so.1", "libmany.so.1", "libcut.so.1"]:
    which = getattr(ctypes.CDLL(name), "which_" + name.replace(".", "_"))
    which.restype = ctypes.c_char_p
    print(name, which().decode())
"#;

fn run_ok(cmd: &mut Command) -> std::process::Output {
    let out = cmd.output().unwrap();
    assert!(out.status.success(), "{}", describe(&out));
    out
}

#[test]
fn libraries_with_damaged_section_headers_are_traced_applied_verified_and_run() {
    let kit = Kit::new();
    let app = kit.path("app");
    std::fs::create_dir_all(&app).unwrap();
    std::fs::write(app.join("app.py"), APP).unwrap();
    // Each damaged library needs a second one through its RUNPATH, so apply rewrites
    // its RUNPATH (in a new segment: the dist's entries are longer).
    let base = kit.plain("app/libs/deps/libbase.so.1", "libbase.so.1");
    for (name, damage) in DAMAGES {
        let lib = kit.lib(
            &format!("app/libs/{name}"),
            Lib {
                soname: name,
                needs: &[&base],
                runpath: &["$ORIGIN/deps"],
                ..Lib::default()
            },
        );
        let mut bytes = std::fs::read(&lib).unwrap();
        damage(&mut bytes);
        std::fs::write(&lib, bytes).unwrap();
    }
    let libs = kit.path("app/libs");
    let python = python311();
    let expected = run_ok(
        Command::new(&python)
            .arg("app.py")
            .current_dir(&app)
            .env("LD_LIBRARY_PATH", &libs),
    );

    // The trace records every one, resolved.
    let manifest = kit.path("shenzi.json");
    run_ok(
        shenzi()
            .args(["trace", "-o"])
            .arg(&manifest)
            .arg("--")
            .arg(&python)
            .arg("app.py")
            .current_dir(&app)
            .env("LD_LIBRARY_PATH", &libs),
    );
    let m = shenzi::manifest::read_manifest(&manifest).unwrap();
    for (name, _) in DAMAGES {
        let load = m.native.loads.iter().find(|l| l.name == *name).unwrap();
        assert_eq!(
            load.resolved.as_deref(),
            Some(std::fs::canonicalize(libs.join(name)).unwrap().as_path()),
            "{name}"
        );
    }

    // Applied (and verified by apply), verified again on its own, moved, and run with
    // the interpreter, the app and its libraries hidden.
    let out_dir = tempfile::tempdir().unwrap();
    let dist = out_dir.path().join("dist");
    let applied = support::apply("default", &manifest, &dist, &[]);
    assert!(applied.status.success(), "{}", describe(&applied));
    run_ok(shenzi().arg("verify").arg(&dist));
    let shipped: Vec<PathBuf> = walkdir::WalkDir::new(&dist)
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file())
        .map(|e| e.into_path())
        .filter(|p| {
            let name = p.file_name().unwrap().to_string_lossy();
            DAMAGES.iter().any(|(n, _)| name.ends_with(n))
        })
        .collect();
    assert_eq!(shipped.len(), DAMAGES.len(), "{shipped:?}");

    let mut hidden = hide_paths_for_python(&m.python.prefix, &m.python.base_prefix, None);
    hidden.push(kit.dir.path().to_owned());
    hidden.push(support::repo_root().join(".cache"));
    let world = HiddenWorld::new(HiddenSpec::new().hide_all(hidden)).unwrap();
    world.assert_visible(&dist);
    let got = world
        .run(
            &[OsString::from(dist.join("bin/app"))],
            Path::new("/"),
            &[],
            b"",
        )
        .unwrap();
    assert!(got.status.success(), "{}", describe(&got));
    assert_eq!(support::text(&got.stdout), support::text(&expected.stdout));
}
