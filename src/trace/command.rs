//! Finding the program to trace and deciding, before it runs, whether it is Python.

use std::ffi::OsString;
use std::io::Read;
use std::path::{Path, PathBuf};

use super::TraceError;
use crate::binary::read_object;
use crate::os::find_program;

/// What the program is, as far as can be told without running it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommandKind {
    /// An ELF that defines `Py_BytesMain`/`Py_Main` or needs libpython.
    Interpreter,
    /// A script whose `#!` line names a Python (a console script such as `pytest`).
    Script,
    /// A script run by something else (a pyenv shim, a shell wrapper): it may start Python;
    /// the trace finds out.
    Wrapper,
}

#[derive(Debug, Clone)]
pub struct PreparedCommand {
    pub program: PathBuf,
    /// `argv[0]` as the user typed it, so the program sees the name it expects.
    pub arg0: Option<OsString>,
    pub args: Vec<OsString>,
    pub kind: CommandKind,
}

/// Resolves the command (or `python` followed by the command) and checks that it is, or
/// may start, Python. Nothing runs.
pub fn prepare_command(
    python: Option<&Path>,
    command: &[OsString],
) -> Result<PreparedCommand, TraceError> {
    let (first, args) = match python {
        Some(py) => (py.as_os_str(), command),
        None => match command.split_first() {
            Some((first, rest)) => (first.as_os_str(), rest),
            None => {
                return Err(TraceError::CommandNotFound {
                    name: String::new(),
                });
            }
        },
    };
    let program = find_program(first).ok_or_else(|| TraceError::CommandNotFound {
        name: first.to_string_lossy().into_owned(),
    })?;
    let kind = classify(&program)?;
    if python.is_some() && kind != CommandKind::Interpreter && kind != CommandKind::Wrapper {
        return Err(TraceError::NotPython {
            path: program,
            reason: "`--python` must name an interpreter, not a script".into(),
        });
    }
    Ok(PreparedCommand {
        arg0: Some(first.to_owned()),
        program,
        args: args.to_vec(),
        kind,
    })
}

fn classify(program: &Path) -> Result<CommandKind, TraceError> {
    let not_python = |reason: &str| TraceError::NotPython {
        path: program.to_owned(),
        reason: reason.to_owned(),
    };
    let mut head = [0u8; 256];
    let len = std::fs::File::open(program)
        .and_then(|mut f| f.read(&mut head))
        .map_err(|e| not_python(&format!("cannot read it ({e})")))?;
    let head = &head[..len];
    if head.starts_with(b"\x7fELF") {
        let info = read_object(program)
            .map_err(|e| not_python(&e.to_string()))?
            .ok_or_else(|| not_python("it is not a valid ELF file"))?;
        let needs_libpython = info.needed.iter().any(|n| n.starts_with("libpython"));
        return if info.defines_py_main || needs_libpython {
            Ok(CommandKind::Interpreter)
        } else {
            Err(not_python(
                "it is a native program that neither defines `Py_BytesMain` nor needs libpython",
            ))
        };
    }
    if let Some(line) = head.strip_prefix(b"#!") {
        let line = line.split(|&b| b == b'\n').next().unwrap_or_default();
        let line = String::from_utf8_lossy(line);
        let mut words = line.split_whitespace();
        let interpreter = words.next().unwrap_or_default();
        let base = Path::new(interpreter)
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let named = if base == "env" {
            words.find(|w| !w.starts_with('-')).unwrap_or_default()
        } else {
            &base
        };
        return Ok(if named.starts_with("python") {
            CommandKind::Script
        } else {
            CommandKind::Wrapper
        });
    }
    Err(not_python(
        "it is neither a native program nor a script with a `#!` line",
    ))
}
