//! What packing, reading and clearing onefiles can fail with, as miette diagnostics
//! (`shenzi::onefile::*`).

use std::io;
use std::path::PathBuf;

#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum OnefileError {
    #[error("cannot pack the dist `{}` into one file: {reason}", dist.display())]
    #[diagnostic(
        code(shenzi::onefile::pack),
        help(
            "the dist holds only files, folders and symlinks inside itself when shenzi wrote it; apply again"
        )
    )]
    Pack { dist: PathBuf, reason: String },

    #[error("cannot write the onefile `{}`: {source}", path.display())]
    #[diagnostic(
        code(shenzi::onefile::write),
        help("check that the folder exists and can be written, and that the disk has room")
    )]
    Write {
        path: PathBuf,
        #[source]
        source: io::Error,
    },

    #[error("`{}` exists and is not a shenzi onefile", path.display())]
    #[diagnostic(
        code(shenzi::onefile::would_replace),
        help("remove it, write the onefile elsewhere with `-o`, or pass `--force` to replace it")
    )]
    WouldReplace { path: PathBuf },

    #[error("`{}` is a shenzi dist folder; a onefile is not written into a dist", folder.display())]
    #[diagnostic(
        code(shenzi::onefile::into_dist),
        help("give `-o` another folder (the onefile is written as FOLDER/NAME)")
    )]
    IntoDist { folder: PathBuf },

    #[error("`{}` is not a shenzi onefile: {reason}", path.display())]
    #[diagnostic(
        code(shenzi::onefile::not_a_onefile),
        help("give a file `shenzi apply` or `shenzi build --onefile` wrote, whole")
    )]
    NotAOnefile { path: PathBuf, reason: String },

    #[error("cannot read `{}`: {source}", path.display())]
    #[diagnostic(
        code(shenzi::onefile::read),
        help("check that the file exists and can be read")
    )]
    Read {
        path: PathBuf,
        #[source]
        source: io::Error,
    },

    #[error("cannot extract the onefile `{}`: {reason}", path.display())]
    #[diagnostic(
        code(shenzi::onefile::damaged),
        help("the file is damaged or cut short; build it (or download it) again")
    )]
    Damaged { path: PathBuf, reason: String },

    #[error("cannot remove `{}`: {source}", path.display())]
    #[diagnostic(code(shenzi::onefile::clear), help("check the folder's permissions"))]
    Clear {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
}
