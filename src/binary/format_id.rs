//! Which binary format an object is of, on its own so that a format's reader can name
//! it without depending on the format registry (`format.rs`), which depends on it.

/// Which format an object is of ([`super::format::by_id`] gives the format): the loader
/// keys its search rules by it (the loader lies above `binary`, so the format cannot
/// hold them itself).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum FormatId {
    Elf,
}
