//! The archives of packed units (`Content::Archive`), made into bytes before anything is
//! written: the members read from their sources (in parallel), bytecode given an
//! unchecked-hash header, the archive written by [`super::zip::write_zip`]. Kept apart
//! from `write.rs`: the rest of `apply` sees each archive as a generated file.

use std::borrow::Cow;

use rayon::prelude::*;

use std::io::{Read, Write};
use std::path::Path;
use std::process::{Command, Stdio};

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
        let Content::Archive {
            members,
            compile_with,
        } = &entry.content
        else {
            continue;
        };
        let mut read: Vec<(String, Vec<u8>)> = members
            .par_iter()
            .map(|m| Ok((m.name.clone(), member_bytes(m)?)))
            .collect::<Result<_, ApplyError>>()?;
        if let Some(python) = compile_with {
            let compiled = compile(python, &entry.dest, &read)?;
            read.extend(compiled);
        }
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

/// Compiles every `.py` member without a `.pyc` member into one, with `python` (the
/// traced interpreter: its bytecode is what the dist's copy of it reads), in one process
/// for all of them. The `.pyc` is unchecked-hash (PEP 552) with the source's real hash,
/// named in tracebacks as `archive/member`. A source that does not compile keeps no
/// `.pyc` (the interpreter reports the error when it imports it, as it would from files).
const COMPILE: &str = r#"
import sys, marshal, importlib.util
from importlib._bootstrap_external import _code_to_hash_pyc
data = sys.stdin.buffer.read()
out = sys.stdout.buffer
at = 0
while at < len(data):
    n = int.from_bytes(data[at:at + 4], "little"); at += 4
    name = data[at:at + n].decode("utf-8"); at += n
    n = int.from_bytes(data[at:at + 8], "little"); at += 8
    source = data[at:at + n]; at += n
    try:
        code = compile(source, name, "exec", dont_inherit=True, optimize=0)
        pyc = bytes(_code_to_hash_pyc(code, importlib.util.source_hash(source), checked=False))
    except Exception:
        pyc = b""
    out.write(len(pyc).to_bytes(8, "little")); out.write(pyc)
out.flush()
"#;

fn compile(
    python: &Path,
    archive: &str,
    members: &[(String, Vec<u8>)],
) -> Result<Vec<(String, Vec<u8>)>, ApplyError> {
    let have: std::collections::BTreeSet<&str> = members.iter().map(|(n, _)| n.as_str()).collect();
    let sources: Vec<&(String, Vec<u8>)> = members
        .iter()
        .filter(|(n, _)| {
            n.strip_suffix(".py")
                .is_some_and(|stem| !have.contains(format!("{stem}.pyc").as_str()))
        })
        .collect();
    if sources.is_empty() {
        return Ok(Vec::new());
    }
    let mut input = Vec::new();
    for (name, source) in &sources {
        let shown = format!("{archive}/{name}");
        input.extend_from_slice(&(shown.len() as u32).to_le_bytes());
        input.extend_from_slice(shown.as_bytes());
        input.extend_from_slice(&(source.len() as u64).to_le_bytes());
        input.extend_from_slice(source);
    }
    let failed = |e: std::io::Error| ApplyError::Io {
        action: "compile the archive's sources with",
        path: python.to_owned(),
        source: e,
    };
    let mut child = Command::new(python)
        .args(["-I", "-S", "-B", "-c", COMPILE])
        .env("SOURCE_DATE_EPOCH", "315532800")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(failed)?;
    let mut stdin = child.stdin.take().expect("piped");
    let writer = std::thread::spawn(move || stdin.write_all(&input));
    let mut output = Vec::new();
    child
        .stdout
        .take()
        .expect("piped")
        .read_to_end(&mut output)
        .map_err(failed)?;
    let status = child.wait().map_err(failed)?;
    writer
        .join()
        .unwrap_or_else(|_| Err(std::io::Error::other("the writer stopped")))
        .map_err(failed)?;
    if !status.success() {
        return Err(failed(std::io::Error::other(format!(
            "it exited with {status}"
        ))));
    }
    let mut compiled = Vec::new();
    let mut at = 0;
    for (name, _) in &sources {
        let len = output
            .get(at..at + 8)
            .map(|b| u64::from_le_bytes(b.try_into().unwrap_or_default()) as usize)
            .ok_or_else(|| failed(std::io::Error::other("its output ended early")))?;
        at += 8;
        let pyc = output
            .get(at..at + len)
            .ok_or_else(|| failed(std::io::Error::other("its output ended early")))?;
        at += len;
        if !pyc.is_empty() {
            let stem = name.strip_suffix(".py").unwrap_or(name);
            compiled.push((format!("{stem}.pyc"), pyc.to_vec()));
        }
    }
    Ok(compiled)
}
