//! ELF headers through goblin: what the loader needs to know about one object.

use std::path::{Path, PathBuf};

use goblin::elf::Elf;
use miette::Diagnostic;
use thiserror::Error;

/// `EM_X86_64`.
pub const EM_X86_64: u16 = 62;
/// `EM_AARCH64`.
pub const EM_AARCH64: u16 = 183;
/// `EM_386`.
pub const EM_386: u16 = 3;

/// `DF_1_NODEFLIB`: the object asks the loader not to search `ld.so.cache` and the
/// default directories for its needs.
const DF_1_NODEFLIB: u64 = 0x800;

/// What shenzi needs to know of one ELF object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectInfo {
    /// ELFCLASS64 (true) or ELFCLASS32.
    pub is_64: bool,
    /// `e_machine`.
    pub machine: u16,
    /// `e_type`: `ET_EXEC` (2) or `ET_DYN` (3) for everything the loader maps.
    pub elf_type: u16,
    pub soname: Option<String>,
    /// `DT_NEEDED`, in order.
    pub needed: Vec<String>,
    /// `DT_RPATH` entries, in order (empty entries dropped).
    pub rpath: Vec<String>,
    /// `DT_RUNPATH` entries, in order (empty entries dropped).
    pub runpath: Vec<String>,
    /// `PT_INTERP`: the program interpreter an executable asks for.
    pub interp: Option<String>,
    /// Whether `DT_FLAGS_1` has `DF_1_NODEFLIB`.
    pub nodeflib: bool,
    /// The symbol versions it needs from other objects (`.gnu.version_r`), in file order:
    /// `libc.so.6` → `GLIBC_2.34`, `libstdc++.so.6` → `GLIBCXX_3.4.29`, ...
    pub version_needs: Vec<VersionNeed>,
    /// Whether `.dynsym` defines `Py_BytesMain` or `Py_Main`: a Python interpreter
    /// or libpython.
    pub defines_py_main: bool,
}

/// One symbol version an object needs from one of its dependencies.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct VersionNeed {
    /// The dependency the version comes from (`libc.so.6`).
    pub file: String,
    /// The version name (`GLIBC_2.28`).
    pub version: String,
}

impl ObjectInfo {
    /// `DT_RPATH` as the loader sees it: ignored when the object also has `DT_RUNPATH`.
    pub fn effective_rpath(&self) -> &[String] {
        if self.runpath.is_empty() {
            &self.rpath
        } else {
            &[]
        }
    }

    /// A readable name of the object's class and machine (`x86_64`, `aarch64`, `i386`,
    /// or `elf32 machine 40`).
    pub fn arch_name(&self) -> String {
        arch_name(self.is_64, self.machine)
    }
}

/// A readable name of an ELF class and machine.
pub fn arch_name(is_64: bool, machine: u16) -> String {
    match (is_64, machine) {
        (true, EM_X86_64) => "x86_64".into(),
        (true, EM_AARCH64) => "aarch64".into(),
        (false, EM_386) => "i386".into(),
        (is_64, m) => format!("elf{} machine {m}", if is_64 { 64 } else { 32 }),
    }
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
///
/// The file is opened once: its first four bytes tell whether it is ELF, and only then
/// is it mapped, not read: parsing touches the headers and dynamic section only, so a
/// 30 MB library costs a few pages, not a 30 MB copy (the tracer reads every object a
/// process mapped, `verify` every file of a dist). Files too small to map are read.
pub fn read_object(path: &Path) -> Result<Option<ObjectInfo>, BinaryError> {
    let unreadable = |source| BinaryError::Unreadable {
        path: path.to_owned(),
        source,
    };
    let file = std::fs::File::open(path).map_err(unreadable)?;
    let mut magic = [0u8; 4];
    match std::os::unix::fs::FileExt::read_exact_at(&file, &mut magic, 0) {
        Ok(()) if magic == *ELF_MAGIC => {}
        Ok(()) => return Ok(None),
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(unreadable(e)),
    }
    let bytes = map_open(file).map_err(unreadable)?;
    parse_object(&bytes).map_err(|reason| BinaryError::Corrupt {
        path: path.to_owned(),
        reason,
    })
}

/// Whether the file at `path` starts with the ELF magic: four bytes read, nothing
/// mapped or parsed (the planner's cheap look at every file a unit ships, before the
/// binary cache parses the few that are ELF). A file shorter than four bytes is not.
pub fn starts_like_elf(path: &Path) -> std::io::Result<bool> {
    let file = std::fs::File::open(path)?;
    let mut magic = [0u8; 4];
    match std::os::unix::fs::FileExt::read_exact_at(&file, &mut magic, 0) {
        Ok(()) => Ok(magic == *ELF_MAGIC),
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => Ok(false),
        Err(e) => Err(e),
    }
}

/// A file's bytes, mapped when large enough to be worth it.
pub enum FileBytes {
    Mapped(memmap2::Mmap),
    Read(Vec<u8>),
}

impl std::ops::Deref for FileBytes {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match self {
            FileBytes::Mapped(map) => map,
            FileBytes::Read(bytes) => bytes,
        }
    }
}

/// Maps `path` read-only (reads it when smaller than a page).
pub fn map_file(path: &Path) -> std::io::Result<FileBytes> {
    map_open(std::fs::File::open(path)?)
}

/// Maps an open file read-only (reads it when smaller than a page).
fn map_open(mut file: std::fs::File) -> std::io::Result<FileBytes> {
    let len = file.metadata()?.len();
    if len < 4096 {
        let mut bytes = Vec::with_capacity(len as usize);
        std::io::Read::read_to_end(&mut file, &mut bytes)?;
        return Ok(FileBytes::Read(bytes));
    }
    // SAFETY: the map is read-only and lives only while its user parses it. A file
    // truncated by another process while mapped could fault; shenzi maps only files it
    // just opened for reading (installed libraries and interpreters), not files being
    // written.
    unsafe { memmap2::Mmap::map(&file) }.map(FileBytes::Mapped)
}

/// Parses ELF bytes; `Ok(None)` when they are not ELF, `Err(reason)` when they start
/// like ELF but are truncated or damaged. Never panics: a panic inside the parser on
/// hostile input is caught and reported as damage.
pub fn parse_object(bytes: &[u8]) -> Result<Option<ObjectInfo>, String> {
    if bytes.len() < 4 || &bytes[..4] != ELF_MAGIC {
        return Ok(None);
    }
    match std::panic::catch_unwind(|| parse_elf(bytes)) {
        Ok(result) => result.map(Some),
        Err(_) => Err("the ELF parser gave up on malformed headers".into()),
    }
}

fn parse_elf(bytes: &[u8]) -> Result<ObjectInfo, String> {
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
    let mut version_needs = Vec::new();
    if let Some(verneed) = &elf.verneed {
        for need in verneed.iter() {
            let file = elf.dynstrtab.get_at(need.vn_file).unwrap_or_default();
            for aux in need.iter() {
                if let Some(version) = elf.dynstrtab.get_at(aux.vna_name) {
                    version_needs.push(VersionNeed {
                        file: file.to_owned(),
                        version: version.to_owned(),
                    });
                }
            }
        }
    }
    let nodeflib = elf
        .dynamic
        .as_ref()
        .is_some_and(|d| d.info.flags_1 & DF_1_NODEFLIB != 0);
    Ok(ObjectInfo {
        is_64: elf.is_64,
        machine: elf.header.e_machine,
        elf_type: elf.header.e_type,
        soname: elf.soname.map(str::to_owned),
        needed: elf.libraries.iter().map(|s| (*s).to_owned()).collect(),
        rpath: split(&elf.rpaths),
        runpath: split(&elf.runpaths),
        interp: elf.interpreter.map(str::to_owned),
        nodeflib,
        version_needs,
        defines_py_main,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn read_object_opens_once_and_skips_what_is_not_elf() {
        let dir = tempfile::tempdir().unwrap();
        let short = dir.path().join("short");
        std::fs::write(&short, b"\x7fE").unwrap();
        assert_eq!(read_object(&short).unwrap(), None);
        let text = dir.path().join("big.txt");
        std::fs::write(&text, vec![b'x'; 10_000]).unwrap();
        assert_eq!(read_object(&text).unwrap(), None);
        let broken = dir.path().join("broken.so");
        std::fs::write(&broken, b"\x7fELF\x02\x01\x01").unwrap();
        assert!(matches!(
            read_object(&broken),
            Err(BinaryError::Corrupt { .. })
        ));
        assert!(matches!(
            read_object(&dir.path().join("absent")),
            Err(BinaryError::Unreadable { .. })
        ));
        let exe = std::env::current_exe().unwrap();
        assert!(read_object(&exe).unwrap().is_some());
    }
}
