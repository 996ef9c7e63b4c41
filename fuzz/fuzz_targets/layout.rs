//! `cargo fuzz run layout`: see docs/fuzzing.md.
#![no_main]

#[path = "../targets.rs"]
mod targets;

libfuzzer_sys::fuzz_target!(|bytes: &[u8]| targets::layout(bytes));
