//! The sizes a layout may not exceed, apart from the model and templates that enforce
//! them, so the diagnostics quoting them import neither (that made a cycle).

/// The longest file name Linux takes (`NAME_MAX`), in bytes: no segment of a path in
/// the dist may be longer.
pub const NAME_MAX: usize = 255;

/// The longest glob a layout may hold, in bytes: a glob matches one path, and a path
/// is at most `PATH_MAX` (4096) bytes. The regex behind a glob grows with it; the limit
/// keeps every glob far below the size at which the regex engine gives up.
pub const GLOB_MAX_LEN: usize = 4096;

/// How deep `{a,{b,c}}` alternatives may nest in a glob. The regex engine refuses
/// groups nested about 120 deep; nobody writes more than a few levels by hand.
pub const GLOB_MAX_NESTING: usize = 16;

/// The largest layout file shenzi reads, in bytes. A hand-written layout is a few
/// kilobytes; a generated one with thousands of units stays well below this.
pub const MAX_LAYOUT_BYTES: u64 = 1 << 20;
