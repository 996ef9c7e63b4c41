//! What reading `shenzi.toml` can fail with, as miette diagnostics
//! (`shenzi::project_file::*`), with spans into the file where there is one.

use std::path::PathBuf;

use miette::{Diagnostic, NamedSource, SourceSpan};
use thiserror::Error;

use super::MAX_BYTES;

#[derive(Debug, Error, Diagnostic)]
pub enum ProjectFileError {
    #[error("cannot read the project file `{}`", path.display())]
    #[diagnostic(
        code(shenzi::project_file::unreadable),
        help(
            "write one with `shenzi init`, name another with `--project`, or name the app: `shenzi build app.py`"
        )
    )]
    Unreadable {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("the project file `{}` is larger than {} bytes", path.display(), MAX_BYTES)]
    #[diagnostic(
        code(shenzi::project_file::too_large),
        help("a project file is a few lines of TOML; name the right file with `--project`")
    )]
    TooLarge { path: PathBuf },

    #[error("`{name}` is not a project file shenzi reads{}", match at { Some(_) => String::new(), None => format!(": {message}") })]
    #[diagnostic(
        code(shenzi::project_file::invalid),
        help(
            "the tables, keys and their types are in docs/project-file.md; `shenzi init` writes a commented example"
        )
    )]
    Invalid {
        name: String,
        message: String,
        #[source_code]
        src: NamedSource<String>,
        #[label("{message}")]
        at: Option<SourceSpan>,
    },

    #[error(
        "`[app]` of `{name}` names {found}: give exactly one of `script`, `module` and `console-script`"
    )]
    #[diagnostic(
        code(shenzi::project_file::entry),
        help("`script = \"app.py\"`, `module = \"mypkg.cli\"` or `console-script = \"mytool\"`")
    )]
    Entry {
        name: String,
        found: String,
        #[source_code]
        src: NamedSource<String>,
        #[label("here")]
        at: SourceSpan,
    },

    #[error("`{value}` in `{name}` is {problem}")]
    #[diagnostic(code(shenzi::project_file::value), help("{help}"))]
    Value {
        name: String,
        value: String,
        problem: String,
        help: String,
        #[source_code]
        src: NamedSource<String>,
        #[label("{problem}")]
        at: SourceSpan,
    },
}
