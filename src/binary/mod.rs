//! Reading native binaries. ELF is implemented; Mach-O will implement the same surface.

pub mod elf;

pub use elf::{BinaryError, ObjectInfo, read_object};
