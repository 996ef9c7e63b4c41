//! The archives of packed units (`Content::Archive`), made into bytes before anything is
//! written: the members read from their sources (in parallel), bytecode given an
//! unchecked-hash header, the archive written by [`super::zip::write_zip`]. Kept apart
//! from `write.rs`: the rest of `apply` sees each archive as a generated file.

use std::borrow::Cow;

use rayon::prelude::*;

use super::diagnostics::{ApplyError, io};
use super::zip::write_zip;
use crate::plan::{ArchiveMember, Content, Plan};

/// `plan` with every archive entry made into the bytes it writes (borrowed as it is
/// when it has none).
pub(super) fn with_archives(plan: &Plan) -> Result<Cow<'_, Plan>, ApplyError> {
    if !plan
        .entries
        .iter()
        .any(|e| matches!(e.content, Content::Archive { .. }))
    {
        return Ok(Cow::Borrowed(plan));
    }
    let mut plan = plan.clone();
    for entry in &mut plan.entries {
        let Content::Archive { members } = &entry.content else {
            continue;
        };
        let read: Vec<(String, Vec<u8>)> = members
            .par_iter()
            .map(|m| Ok((m.name.clone(), member_bytes(m)?)))
            .collect::<Result<_, ApplyError>>()?;
        let data = write_zip(&read).map_err(|e| ApplyError::Io {
            action: "write the archive",
            path: entry.dest.clone().into(),
            source: std::io::Error::other(e),
        })?;
        entry.content = Content::Bytes { data, mode: 0o644 };
    }
    Ok(Cow::Owned(plan))
}

fn member_bytes(member: &ArchiveMember) -> Result<Vec<u8>, ApplyError> {
    let mut bytes = std::fs::read(&member.source).map_err(io("read", &member.source))?;
    if member.bytecode {
        unchecked_hash(&mut bytes);
    }
    Ok(bytes)
}

/// Makes a `.pyc` (PEP 552) an unchecked-hash one: flags 0b01, the 8-byte hash zeroed.
/// `zipimport` compares a timestamp `.pyc` with its source's zip time, which is the
/// archive's fixed time (and read in local time); an unchecked one it loads as it is.
/// The planner packs only bytecode that was current for the packed source. (The hash is
/// not recomputed: nothing reads it unless `--check-hash-based-pycs always` is given.)
fn unchecked_hash(pyc: &mut [u8]) {
    if pyc.len() >= 16 {
        pyc[4..8].copy_from_slice(&1u32.to_le_bytes());
        pyc[8..16].fill(0);
    }
}
