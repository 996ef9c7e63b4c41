//! Reading native binaries. ELF is implemented; Mach-O will implement the same surface:
//! an [`ObjectInfo`] per object, read and hashed once per run through [`BinaryCache`].

pub mod cache;
pub mod edit;
pub mod elf;

pub use cache::{Binary, BinaryCache, ContentHash, Contents, FileId, Probe};
pub use elf::{
    BinaryError, FileBytes, ObjectInfo, VersionNeed, arch_name, map_file, parse_object, read_object,
};
