//! Builds the onefile stub (`stub/`, a crate of its own) and hands its path to the main
//! crate, which embeds it (`src/onefile/`).
//!
//! A crate of its own because the stub needs a profile the main binary must not have
//! (`panic = "abort"`, size first, no `libgcc_s`), and embedded so that shenzi stays one
//! file that can write onefiles wherever it is copied. The nested build uses a target
//! folder of its own beside cargo's (`target/shenzi-stub`), shared by every profile of
//! the main crate, so it is built once and then only checked.

use std::path::PathBuf;
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=stub/src");
    println!("cargo:rerun-if-changed=stub/Cargo.toml");
    println!("cargo:rerun-if-changed=stub/Cargo.lock");
    println!("cargo:rerun-if-changed=stub/build.rs");
    let manifest_dir = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("set by cargo"));
    // OUT_DIR is TARGET_DIR/[TRIPLE/]PROFILE/build/shenzi-HASH/out.
    let target_dir = out
        .ancestors()
        .find(|p| p.join("CACHEDIR.TAG").exists())
        .map(|p| p.join("shenzi-stub"))
        .unwrap_or_else(|| out.join("stub-target"));
    let target = std::env::var("TARGET").expect("set by cargo");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = Command::new(cargo);
    command
        .current_dir(manifest_dir.join("stub"))
        .args([
            "build",
            "--release",
            "--locked",
            "--target",
            &target,
            "--target-dir",
        ])
        .arg(&target_dir);
    // The outer build's flags and wrappers (coverage, clippy) are not the stub's.
    for var in [
        "RUSTFLAGS",
        "CARGO_ENCODED_RUSTFLAGS",
        "RUSTC_WRAPPER",
        "RUSTC_WORKSPACE_WRAPPER",
        "CARGO_TARGET_DIR",
        "CARGO_BUILD_TARGET",
        "CARGO_PROFILE_RELEASE_PANIC",
        "CARGO_PROFILE_RELEASE_OPT_LEVEL",
    ] {
        command.env_remove(var);
    }
    // Its stdout would be read as this script's instructions to cargo.
    command.stdout(std::process::Stdio::from(std::io::stderr()));
    let status = command.status().expect("cargo runs the stub's build");
    assert!(status.success(), "building the onefile stub (stub/) failed");
    let stub = target_dir.join(&target).join("release").join("shenzi-stub");
    println!("cargo:rustc-env=SHENZI_STUB={}", stub.display());
}
