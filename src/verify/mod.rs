//! Checking a finished dist on disk: its record, its Python side, and the loader proof
//! ([`crate::loader::proof`]) over its binaries as they were written.

mod diagnostics;
mod dist;
mod show;

pub use diagnostics::{ProblemDiagnostic, VerifyError, VerifyProblem, VerifyReport};
pub use dist::{DistCheck, RECORD_VERSION, read_record, verify_dist};
pub use show::{VERIFY_JSON_VERSION, json, json_value};
