//! Checking a finished dist on disk: its record, its Python side, and the loader proof
//! ([`crate::loader::proof`]) over its binaries as they were written.

mod dist;
mod problems;

pub use dist::{DistCheck, RECORD_VERSION, read_record, verify_dist};
pub use problems::{ProblemDiagnostic, VerifyError, VerifyProblem, VerifyReport};
