//! Reading native binaries. ELF is implemented; Mach-O will implement the same surface:
//! an [`ObjectInfo`] per object, read and hashed once per run through [`BinaryCache`].

pub mod cache;
pub mod edit;
pub mod elf;
pub mod file;
pub mod strip;

pub use cache::{Binary, BinaryCache, ContentHash, Contents, FileId, Probe};
pub use elf::{BinaryError, ObjectInfo, VersionNeed, arch_name, parse_object, read_object};
pub use file::{
    FileBytes, FileKind, NotAFile, OpenError, check_regular, map_file, open_file, open_regular,
};
