//! ELF headers through goblin: what the loader needs to know about one object.

use std::path::{Path, PathBuf};

use goblin::elf::Elf;
use miette::Diagnostic;
use thiserror::Error;

/// What shenzi needs to know of one ELF object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectInfo {
    pub is_64: bool,
    /// `e_machine`.
    pub machine: u16,
    pub soname: Option<String>,
    /// `DT_NEEDED`, in order.
    pub needed: Vec<String>,
    /// `DT_RPATH` entries, in order.
    pub rpath: Vec<String>,
    /// `DT_RUNPATH` entries, in order.
    pub runpath: Vec<String>,
    /// `PT_INTERP`: the program interpreter an executable asks for.
    pub interp: Option<String>,
    /// Whether `.dynsym` defines `Py_BytesMain` or `Py_Main`: a Python interpreter
    /// or libpython.
    pub defines_py_main: bool,
}

#[derive(Debug, Error, Diagnostic)]
pub enum BinaryError {
    #[error("cannot read `{path}`")]
    #[diagnostic(code(shenzi::binary::unreadable))]
    Unreadable {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("`{path}` looks like ELF but cannot be parsed: {reason}")]
    #[diagnostic(
        code(shenzi::binary::corrupt),
        help("the file is truncated or damaged; reinstall the package that owns it")
    )]
    Corrupt { path: PathBuf, reason: String },
}

const ELF_MAGIC: &[u8; 4] = b"\x7fELF";

/// Reads the ELF object at `path`; `Ok(None)` when the file is not ELF at all.
pub fn read_object(path: &Path) -> Result<Option<ObjectInfo>, BinaryError> {
    let bytes = std::fs::read(path).map_err(|source| BinaryError::Unreadable {
        path: path.to_owned(),
        source,
    })?;
    parse_object(&bytes).map_err(|reason| BinaryError::Corrupt {
        path: path.to_owned(),
        reason,
    })
}

/// Parses ELF bytes; `Ok(None)` when they are not ELF.
pub fn parse_object(bytes: &[u8]) -> Result<Option<ObjectInfo>, String> {
    if bytes.len() < 4 || &bytes[..4] != ELF_MAGIC {
        return Ok(None);
    }
    let elf = Elf::parse(bytes).map_err(|e| e.to_string())?;
    let defines_py_main = elf.dynsyms.iter().any(|sym| {
        sym.st_shndx != 0
            && matches!(
                elf.dynstrtab.get_at(sym.st_name),
                Some("Py_BytesMain" | "Py_Main")
            )
    });
    let split = |list: &[&str]| -> Vec<String> {
        list.iter()
            .flat_map(|entry| entry.split(':'))
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect()
    };
    Ok(Some(ObjectInfo {
        is_64: elf.is_64,
        machine: elf.header.e_machine,
        soname: elf.soname.map(str::to_owned),
        needed: elf.libraries.iter().map(|s| (*s).to_owned()).collect(),
        rpath: split(&elf.rpaths),
        runpath: split(&elf.runpaths),
        interp: elf.interpreter.map(str::to_owned),
        defines_py_main,
    }))
}
