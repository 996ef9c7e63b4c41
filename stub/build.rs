//! Keeps `libgcc_s.so.1` out of the stub's needs.
//!
//! Rust's standard library links `-lgcc_s` for unwinding (backtraces); with
//! `panic = "abort"` nothing unwinds, but the library would still be a `DT_NEEDED` the
//! target must provide. A linker script named `libgcc_s.so`, found first, makes `-lgcc_s`
//! mean the static `libgcc_eh.a` instead (`-static-libgcc` does not override an explicit
//! `-lgcc_s`). The stub then needs only `libc.so.6` and the loader; a test checks it.

use std::path::PathBuf;

fn main() {
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    let dir = out.join("static-libgcc");
    std::fs::create_dir_all(&dir).expect("OUT_DIR is writable");
    std::fs::write(dir.join("libgcc_s.so"), "INPUT(-lgcc_eh)\n").expect("OUT_DIR is writable");
    println!("cargo:rustc-link-search=native={}", dir.display());
    println!("cargo:rerun-if-changed=build.rs");
}
