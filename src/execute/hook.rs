//! A test hook: stops or kills the writer at a chosen moment of its run, so that tests
//! can show what a crash at that moment leaves behind, without timing anything.
//!
//! **Not a feature.** It is read from `SHENZI_TEST_HOOK` once per process, as
//! `ACTION@PHASE` or `ACTION@PHASE:N`:
//!
//! - `ACTION` is `kill` (the process raises `SIGKILL` on itself, as `kill -9` would) or
//!   `stop` (it raises `SIGSTOP`, and goes on when it gets `SIGCONT`);
//! - `PHASE` is one of the points below; `N` (default 1) the how-manieth time it is
//!   reached.
//!
//! | phase | reached |
//! | --- | --- |
//! | `locked` | the lock held, stale scratch folders removed, the target checked; nothing written |
//! | `scratch` | the scratch folder made, still empty |
//! | `folder` | after each folder is made |
//! | `file` | after each copied file is complete (bytes, mode, time, hash) |
//! | `written` | every path and the record written, before times are set |
//! | `checked` | times set and the check (`verify`) passed, just before the rename |
//! | `exchanged` | `--force`: the new dist in place, the old one not yet removed |
//! | `removed` | `--force`: after each path of the old dist is removed |
//! | `done` | the dist in place and everything cleaned up, the lock still held |
//!
//! Anything else in the variable is ignored. Unset, each point costs a load of a
//! `OnceLock` and a compare.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

/// The variable the hook reads.
const VARIABLE: &str = "SHENZI_TEST_HOOK";

struct Hook {
    signal: libc::c_int,
    phase: String,
    at: u64,
    seen: AtomicU64,
}

fn hook() -> Option<&'static Hook> {
    static HOOK: OnceLock<Option<Hook>> = OnceLock::new();
    HOOK.get_or_init(|| parse(&std::env::var(VARIABLE).ok()?))
        .as_ref()
}

fn parse(value: &str) -> Option<Hook> {
    let (action, point) = value.split_once('@')?;
    let signal = match action {
        "kill" => libc::SIGKILL,
        "stop" => libc::SIGSTOP,
        _ => return None,
    };
    let (phase, at) = match point.split_once(':') {
        Some((phase, n)) => (phase, n.parse().ok().filter(|&n| n > 0)?),
        None => (point, 1),
    };
    Some(Hook {
        signal,
        phase: phase.to_owned(),
        at,
        seen: AtomicU64::new(0),
    })
}

/// The writer reached `phase` (once more).
pub(super) fn point(phase: &str) {
    let Some(hook) = hook() else { return };
    if hook.phase == phase && hook.seen.fetch_add(1, Ordering::SeqCst) + 1 == hook.at {
        // SAFETY: raising a signal on this process; SIGKILL and SIGSTOP act on the whole
        // process whatever thread raises them.
        unsafe {
            libc::raise(hook.signal);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::parse;

    #[test]
    fn only_the_documented_forms_are_hooks() {
        let h = parse("kill@file:12").unwrap();
        assert_eq!(
            (h.signal, h.phase.as_str(), h.at),
            (libc::SIGKILL, "file", 12)
        );
        let h = parse("stop@locked").unwrap();
        assert_eq!(
            (h.signal, h.phase.as_str(), h.at),
            (libc::SIGSTOP, "locked", 1)
        );
        for bad in [
            "",
            "kill",
            "kill@file:0",
            "kill@file:x",
            "term@file",
            "file:3",
        ] {
            assert!(parse(bad).is_none(), "{bad}");
        }
    }
}
