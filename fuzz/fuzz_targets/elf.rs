//! `cargo fuzz run elf`: see docs/fuzzing.md.
#![no_main]

#[path = "../targets.rs"]
mod targets;

libfuzzer_sys::fuzz_target!(init: tolerate_goblin_panics(), |bytes: &[u8]| targets::elf(bytes));

/// `parse_object` turns a panic inside goblin into an error (`catch_unwind`), as shenzi
/// does at run time; libFuzzer's panic hook would abort on it before it is caught. A
/// panic anywhere else still aborts, and is a crash.
fn tolerate_goblin_panics() {
    let abort = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let in_goblin = info
            .location()
            .is_some_and(|l| l.file().contains("/goblin-"));
        if !in_goblin {
            abort(info);
        }
    }));
}
