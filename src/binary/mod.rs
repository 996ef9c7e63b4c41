//! Reading native binaries. Each format implements [`BinaryFormat`] (`format.rs`): ELF
//! is implemented; Mach-O will implement the same surface, an [`ObjectInfo`] per object,
//! read and hashed once per run through [`BinaryCache`].

pub mod cache;
pub mod diagnostics;
pub mod edit;
pub mod elf;
pub mod file;
pub mod format;
pub mod format_id;
pub mod strip;

pub use cache::{Binary, BinaryCache, ContentHash, Contents, FileId, Probe};
pub use diagnostics::BinaryError;
pub use elf::{ObjectInfo, VersionNeed, arch_name, parse_object};
pub use file::{
    FileBytes, FileKind, NotAFile, OpenError, check_regular, map_file, open_file, open_regular,
};
pub use format::{BinaryFormat, FORMATS, FormatId, read_object};
