//! Reading native binaries. ELF is implemented; Mach-O will implement the same surface:
//! an [`ObjectInfo`] per object, read and hashed once per run through [`BinaryCache`].

pub mod cache;
pub mod elf;

pub use cache::{Binary, BinaryCache, ContentHash, Contents, FileId, Probe};
pub use elf::{BinaryError, ObjectInfo, VersionNeed, arch_name, parse_object, read_object};
