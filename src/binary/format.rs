//! Binary formats behind one interface. Every phase that looks into a native object
//! goes through [`BinaryFormat`]: the binary cache and [`read_object`] read with it,
//! `loader::resolve` picks the search rules of the object's [`FormatId`], the planner
//! asks it which objects root the farm graph and which had search paths, and `apply`
//! prepares and writes the edits with it. ELF is the one implementation ([`Elf`]); a
//! second format (Mach-O) is a second `impl BinaryFormat` in [`FORMATS`], a `FormatId`
//! variant, and the loader's rules for it (`loader::rules`), not branches through the
//! planner.

use std::fs::File;
use std::path::Path;

use super::diagnostics::BinaryError;
use super::edit::{Declined, ElfEdits, ElfPatch};
use super::elf::{ELF_MAGIC, ObjectInfo};
pub use super::format_id::FormatId;

/// The format `info` was read as.
pub fn of(info: &ObjectInfo) -> &'static dyn BinaryFormat {
    by_id(info.format)
}

/// The registered format with this id.
pub fn by_id(id: FormatId) -> &'static dyn BinaryFormat {
    match id {
        FormatId::Elf => &Elf,
    }
}

/// How many bytes of a file [`BinaryFormat::claims`] looks at.
pub const HEAD_LEN: usize = 4;

/// What shenzi does with one binary format.
pub trait BinaryFormat: Sync {
    fn id(&self) -> FormatId;

    /// For messages: `ELF`.
    fn name(&self) -> &'static str;

    /// Whether a file that starts with `head` (its first [`HEAD_LEN`] bytes, fewer for
    /// a shorter file) is an object of this format.
    fn claims(&self, head: &[u8]) -> bool;

    /// The object in `bytes`, a whole file it [claims](BinaryFormat::claims);
    /// `Err(reason)` when it cannot be loaded (truncated, damaged). Never panics.
    fn read(&self, bytes: &[u8]) -> Result<ObjectInfo, String>;

    /// Whether the loader maps objects like `info` (a library or an executable, not a
    /// relocatable object or a core file): such a shipped object roots the farm graph.
    fn is_loadable(&self, info: &ObjectInfo) -> bool;

    /// Whether `info` names folders of its own to search for its needs: the planner
    /// rewrites them (to nothing, when it needs nothing of the dist).
    fn has_search_paths(&self, info: &ObjectInfo) -> bool;

    /// The bytes that give `bytes` (a whole file of this format) the `edits`, or why
    /// they are left to the external editor.
    fn prepare(&self, bytes: &[u8], edits: &ElfEdits) -> Result<ElfPatch, Declined>;

    /// Writes a prepared patch over `file`, a fresh copy of the source.
    fn apply(&self, file: &File, patch: &ElfPatch) -> std::io::Result<()>;
}

/// Every format shenzi reads, in the order they are tried.
pub static FORMATS: &[&dyn BinaryFormat] = &[&Elf];

/// The format that claims a file starting with `head`.
pub fn claiming(head: &[u8]) -> Option<&'static dyn BinaryFormat> {
    FORMATS.iter().copied().find(|f| f.claims(head))
}

/// The object in `bytes`; `Ok(None)` when no format claims them.
pub fn read(bytes: &[u8]) -> Result<Option<ObjectInfo>, String> {
    match claiming(bytes) {
        Some(format) => format.read(bytes).map(Some),
        None => Ok(None),
    }
}

/// The format of the file at `path`, from its first bytes only: nothing mapped or
/// parsed (the planner's cheap look at every file a unit ships, before the binary cache
/// parses the few that are objects). Through the one non-blocking open: a FIFO put
/// where a file was never blocks.
pub fn format_of_file(path: &Path) -> std::io::Result<Option<&'static dyn BinaryFormat>> {
    let (file, _) = super::file::open_regular(path)?;
    head(&file).map(|head| claiming(&head))
}

/// Up to [`HEAD_LEN`] bytes from the start of `file`.
fn head(file: &File) -> std::io::Result<Vec<u8>> {
    use std::os::unix::fs::FileExt;
    let mut buf = [0u8; HEAD_LEN];
    let mut len = 0;
    while len < HEAD_LEN {
        match file.read_at(&mut buf[len..], len as u64) {
            Ok(0) => break,
            Ok(n) => len += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(buf[..len].to_vec())
}

/// Reads the object at `path`; `Ok(None)` when no format claims the file.
///
/// The file is opened once, without blocking and only when it is a regular file
/// ([`super::open_regular`]): its first bytes tell the format, and only then is it
/// mapped, not read: parsing touches the headers and dynamic segment only, so a 30 MB
/// library costs a few pages, not a 30 MB copy (the tracer reads every object a process
/// mapped, `verify` every file of a dist). Files too small to map are read.
pub fn read_object(path: &Path) -> Result<Option<ObjectInfo>, BinaryError> {
    let unreadable = |source| BinaryError::Unreadable {
        path: path.to_owned(),
        source,
    };
    let (file, meta) = super::file::open_regular(path).map_err(unreadable)?;
    let Some(format) = claiming(&head(&file).map_err(unreadable)?) else {
        return Ok(None);
    };
    let bytes = super::file::map_open(file, meta.len()).map_err(unreadable)?;
    format
        .read(&bytes)
        .map(Some)
        .map_err(|reason| BinaryError::Corrupt {
            path: path.to_owned(),
            reason,
        })
}

/// ELF, as glibc's loader reads it (`binary/elf.rs`) and as `binary/edit.rs` edits it.
pub struct Elf;

impl BinaryFormat for Elf {
    fn id(&self) -> FormatId {
        FormatId::Elf
    }

    fn name(&self) -> &'static str {
        "ELF"
    }

    fn claims(&self, head: &[u8]) -> bool {
        head.starts_with(ELF_MAGIC)
    }

    fn read(&self, bytes: &[u8]) -> Result<ObjectInfo, String> {
        super::elf::parse_claimed(bytes)
    }

    fn is_loadable(&self, info: &ObjectInfo) -> bool {
        info.is_loadable_type()
    }

    fn has_search_paths(&self, info: &ObjectInfo) -> bool {
        !info.runpath.is_empty() || !info.rpath.is_empty()
    }

    fn prepare(&self, bytes: &[u8], edits: &ElfEdits) -> Result<ElfPatch, Declined> {
        super::edit::prepare(bytes, edits)
    }

    fn apply(&self, file: &File, patch: &ElfPatch) -> std::io::Result<()> {
        patch.write_over(file)
    }
}

#[cfg(test)]
mod tests {
    use super::{FORMATS, FormatId, by_id, claiming, read, read_object};
    use crate::binary::BinaryError;

    #[test]
    fn each_format_is_registered_once_under_its_own_id() {
        for format in FORMATS {
            assert_eq!(by_id(format.id()).name(), format.name());
        }
        assert_eq!(by_id(FormatId::Elf).name(), "ELF");
    }

    #[test]
    fn only_the_elf_magic_is_claimed() {
        assert_eq!(claiming(b"\x7fELF").map(|f| f.id()), Some(FormatId::Elf));
        for head in [&b""[..], b"\x7fEL", b"#!/b", b"\xcf\xfa\xed\xfe"] {
            assert!(claiming(head).is_none(), "{head:?}");
            assert_eq!(read(head), Ok(None));
        }
        // Claimed but cut short: damaged, not "not ELF".
        assert!(read(b"\x7fELF\x02\x01").is_err());
    }

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
