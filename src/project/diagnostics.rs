//! Why a project could not be opened (`Project::open`): the layout's or the
//! manifest's own diagnostic, passed through.

use crate::layout;
use crate::manifest::ManifestError;

/// Why a project could not be opened.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum OpenError {
    #[error(transparent)]
    #[diagnostic(transparent)]
    Layout(#[from] layout::LoadError),
    #[error(transparent)]
    #[diagnostic(transparent)]
    Manifest(#[from] Box<ManifestError>),
}
