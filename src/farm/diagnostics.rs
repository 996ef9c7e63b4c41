//! What can be wrong with an application's native objects, as diagnostics.

use std::path::PathBuf;

use miette::Diagnostic;
use thiserror::Error;

use crate::binary::NotAFile;

/// One problem found while building the farm graph. All are collected.
#[derive(Debug, Clone, PartialEq, Eq, Error, Diagnostic)]
pub enum NativeProblem {
    #[error("`{object}` needs `{need}`, which the loader finds nowhere")]
    #[diagnostic(
        code(shenzi::native::missing_need),
        help(
            "searched, in order:\n  {}\ninstall the library that provides `{need}`, or add its folder to the traced run's `LD_LIBRARY_PATH`",
            searched.join("\n  ")
        )
    )]
    MissingNeed {
        object: PathBuf,
        need: String,
        searched: Vec<String>,
    },
    #[error("`{object}` needs `{need}`, and the loader stops at `{path}`: {reason}")]
    #[diagnostic(
        code(shenzi::native::unusable_need),
        help("the real loader fails here too; remove or repair `{}`", path.display())
    )]
    UnusableNeed {
        object: PathBuf,
        need: String,
        path: PathBuf,
        reason: String,
    },
    #[error("two different files are loaded as `{soname}`: {}", paths.iter().map(|p| format!("`{}`", p.display())).collect::<Vec<_>>().join(", "))]
    #[diagnostic(
        code(shenzi::native::soname_clash),
        help(
            "one process can hold only one library named `{soname}`; the first one loaded wins for everyone. Make the packages agree on one copy, or keep them in separate processes"
        )
    )]
    SonameClash { soname: String, paths: Vec<PathBuf> },
    #[error("`{path}` is built for {arch}, but the interpreter runs as {expected}")]
    #[diagnostic(
        code(shenzi::native::other_arch),
        help("the loader skips it; install the {expected} build of the package that owns it")
    )]
    OtherArch {
        path: PathBuf,
        arch: String,
        expected: String,
    },
    #[error("`{path}` ({what}) is not an ELF file")]
    #[diagnostic(
        code(shenzi::native::not_elf),
        help(
            "the manifest names it as a native object; re-run `shenzi trace` if the file changed since"
        )
    )]
    NotElf { path: PathBuf, what: String },
    #[error("`{path}` is a damaged ELF file: {reason}")]
    #[diagnostic(
        code(shenzi::native::corrupt),
        help("the file is truncated or damaged; reinstall the package that owns it")
    )]
    Corrupt { path: PathBuf, reason: String },
    #[error(
        "{call} failed in the traced run, and `{name}` cannot be loaded on this machine either ({reason}): the dist goes without it"
    )]
    #[diagnostic(
        code(shenzi::native::failed_load),
        severity(Warning),
        help(
            "the app ran on without it, so it is not a need; if the dist must carry it, install it where the loader finds it and trace again"
        )
    )]
    FailedLoad {
        /// The request, as a user reads it (`ctypes.CDLL("libtbb.so.12") in optpkg`).
        call: String,
        name: String,
        reason: String,
    },
    /// A manifest entry's path where nothing is.
    #[error("{}", why.about(path, what))]
    #[diagnostic(code(shenzi::native::missing_root), help("{}", why.help()))]
    MissingRoot {
        path: PathBuf,
        what: String,
        why: NotAFile,
    },
    /// A manifest entry's path where something other than a file is: a folder, a
    /// device, a FIFO, a link loop.
    #[error("{}", why.about(path, what))]
    #[diagnostic(code(shenzi::native::not_a_file), help("{}", why.help()))]
    NotAFileRoot {
        path: PathBuf,
        what: String,
        why: NotAFile,
    },
}

impl NativeProblem {
    /// Whether it stops a plan: everything but a run-time load the traced run could not
    /// make either.
    pub fn is_error(&self) -> bool {
        !matches!(self, NativeProblem::FailedLoad { .. })
    }
}
