//! `/etc/ld.so.cache`, parsed natively (glibc's "new" format, `glibc-ld.so.cache1.1`,
//! the only one glibc writes since 2.32; a file that still starts with the pre-2.32
//! compatibility section is read past it).

use std::path::{Path, PathBuf};

const NEW_MAGIC: &[u8] = b"glibc-ld.so.cache1.1";
const OLD_MAGIC: &[u8] = b"ld.so-1.7.0";
const NEW_HEADER: usize = 48;
const NEW_ENTRY: usize = 24;
const OLD_HEADER: usize = 16;
const OLD_ENTRY: usize = 12;
const EXTENSION_MAGIC: u32 = 0xeaa4_2174;
const EXTENSION_TAG_GLIBC_HWCAPS: u32 = 1;
/// The upper half of `hwcap` that marks "the lower half indexes the glibc-hwcaps names".
const HWCAP_EXTENSION: u64 = 1 << 62;

/// `FLAG_ELF_LIBC6`, the type of every glibc library in the cache.
pub const FLAG_ELF_LIBC6: i32 = 0x0003;
/// `FLAG_X8664_LIB64`.
pub const FLAG_X8664_LIB64: i32 = 0x0300;
/// `FLAG_AARCH64_LIB64`.
pub const FLAG_AARCH64_LIB64: i32 = 0x0a00;

/// One library the cache knows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheEntry {
    /// The name a need is matched against (the SONAME ldconfig saw).
    pub name: String,
    /// The file the loader opens.
    pub path: PathBuf,
    /// Type and architecture flags (`FLAG_ELF_LIBC6 | FLAG_X8664_LIB64`, ...).
    pub flags: i32,
    /// The `glibc-hwcaps` subfolder the entry came from (`x86-64-v3`), if any.
    pub hwcaps: Option<String>,
    /// A legacy (pre-2.33) hardware capability mask; the loader no longer uses such entries.
    pub legacy_hwcap: u64,
}

/// The parsed cache: its entries in file order (sorted as glibc sorts them).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LdCache {
    pub entries: Vec<CacheEntry>,
}

/// Why a cache file could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`ld.so.cache` is not in a format shenzi reads: {0}")]
pub struct LdCacheError(pub String);

impl LdCache {
    /// Reads and parses the cache at `path` (usually `/etc/ld.so.cache`). A missing
    /// file is an empty cache, as it is for the loader.
    pub fn read(path: &Path) -> Result<LdCache, LdCacheError> {
        match std::fs::read(path) {
            Ok(bytes) => LdCache::parse(&bytes),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(LdCache::default()),
            Err(e) => Err(LdCacheError(e.to_string())),
        }
    }

    /// Parses cache bytes (little- or big-endian as the file says: the header flags).
    pub fn parse(bytes: &[u8]) -> Result<LdCache, LdCacheError> {
        let mut base = 0usize;
        if bytes.starts_with(OLD_MAGIC) {
            let n = u32_at(bytes, OLD_MAGIC.len() + 1, true)
                .ok_or_else(|| LdCacheError("truncated old header".into()))?;
            base = OLD_HEADER + n as usize * OLD_ENTRY;
            base = base.div_ceil(8) * 8; // the new section is aligned like a `cache_file_new`
            if !bytes[base.min(bytes.len())..].starts_with(NEW_MAGIC) {
                return Err(LdCacheError("only the pre-2.32 format is present".into()));
            }
        }
        let new = &bytes[base..];
        if !new.starts_with(NEW_MAGIC) {
            return Err(LdCacheError("missing `glibc-ld.so.cache1.1` magic".into()));
        }
        // flags: 0 unknown, 1 invalid, 2 little-endian, 3 big-endian.
        let little = match new.get(28) {
            Some(3) => false,
            Some(_) => cfg!(target_endian = "little"),
            None => return Err(LdCacheError("truncated header".into())),
        };
        let trunc = || LdCacheError("truncated".into());
        let nlibs = u32_at(new, 20, little).ok_or_else(trunc)? as usize;
        let ext_offset = u32_at(new, 32, little).ok_or_else(trunc)? as usize;
        // String offsets count from the start of the new-format header.
        let string_at = |off: usize| -> Option<String> {
            let tail = new.get(off..)?;
            let end = tail.iter().position(|&b| b == 0)?;
            Some(String::from_utf8_lossy(&tail[..end]).into_owned())
        };
        let hwcaps_names = read_hwcaps_extension(new, ext_offset, little, &string_at);
        let mut entries = Vec::with_capacity(nlibs.min(1 << 16));
        for i in 0..nlibs {
            let at = NEW_HEADER + i * NEW_ENTRY;
            let flags = u32_at(new, at, little).ok_or_else(trunc)? as i32;
            let key = u32_at(new, at + 4, little).ok_or_else(trunc)? as usize;
            let value = u32_at(new, at + 8, little).ok_or_else(trunc)? as usize;
            let hwcap = u64_at(new, at + 16, little).ok_or_else(trunc)?;
            let name = string_at(key).ok_or_else(|| LdCacheError("bad name offset".into()))?;
            let path = string_at(value).ok_or_else(|| LdCacheError("bad path offset".into()))?;
            let (hwcaps, legacy_hwcap) = if hwcap >> 32 == HWCAP_EXTENSION >> 32 {
                let index = (hwcap & 0xffff_ffff) as usize;
                match hwcaps_names.get(index) {
                    Some(name) => (Some(name.clone()), 0),
                    // An index past the table: treat it like glibc, as unusable.
                    None => (Some(String::new()), 0),
                }
            } else {
                (None, hwcap)
            };
            entries.push(CacheEntry {
                name,
                path: PathBuf::from(path),
                flags,
                hwcaps,
                legacy_hwcap,
            });
        }
        Ok(LdCache { entries })
    }

    /// The loader's cache lookup for `name`: among entries with that name and exactly
    /// `flags`, the one from the highest-priority supported `glibc-hwcaps` folder
    /// (`hwcaps` lists the supported ones, best first), else the first plain entry.
    pub fn lookup(&self, name: &str, flags: i32, hwcaps: &[String]) -> Option<&CacheEntry> {
        let mut best: Option<(usize, &CacheEntry)> = None;
        for entry in &self.entries {
            if entry.name != name || entry.flags != flags || entry.legacy_hwcap != 0 {
                continue;
            }
            let rank = match &entry.hwcaps {
                Some(sub) => match hwcaps.iter().position(|h| h == sub) {
                    Some(p) => p,
                    None => continue,
                },
                None => hwcaps.len(),
            };
            if best.is_none_or(|(r, _)| rank < r) {
                best = Some((rank, entry));
            }
        }
        best.map(|(_, e)| e)
    }
}

fn read_hwcaps_extension(
    new: &[u8],
    offset: usize,
    little: bool,
    string_at: &dyn Fn(usize) -> Option<String>,
) -> Vec<String> {
    let mut names = Vec::new();
    if offset == 0 || u32_at(new, offset, little) != Some(EXTENSION_MAGIC) {
        return names;
    }
    let count = u32_at(new, offset + 4, little).unwrap_or(0) as usize;
    for s in 0..count.min(64) {
        let at = offset + 8 + s * 16;
        let (Some(tag), Some(off), Some(size)) = (
            u32_at(new, at, little),
            u32_at(new, at + 8, little),
            u32_at(new, at + 12, little),
        ) else {
            break;
        };
        if tag != EXTENSION_TAG_GLIBC_HWCAPS {
            continue;
        }
        for i in 0..(size as usize / 4) {
            match u32_at(new, off as usize + i * 4, little).and_then(|o| string_at(o as usize)) {
                Some(name) => names.push(name),
                None => break,
            }
        }
    }
    names
}

fn u32_at(b: &[u8], at: usize, little: bool) -> Option<u32> {
    let raw: [u8; 4] = b.get(at..at.checked_add(4)?)?.try_into().ok()?;
    Some(if little {
        u32::from_le_bytes(raw)
    } else {
        u32::from_be_bytes(raw)
    })
}

fn u64_at(b: &[u8], at: usize, little: bool) -> Option<u64> {
    let raw: [u8; 8] = b.get(at..at.checked_add(8)?)?.try_into().ok()?;
    Some(if little {
        u64::from_le_bytes(raw)
    } else {
        u64::from_be_bytes(raw)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn garbage_and_truncation_are_errors_not_panics() {
        assert!(LdCache::parse(b"").is_err());
        assert!(LdCache::parse(b"not a cache at all").is_err());
        let mut header = NEW_MAGIC.to_vec();
        header.resize(NEW_HEADER, 0);
        header[20] = 5; // five entries promised, none present
        assert!(LdCache::parse(&header).is_err());
    }

    /// Writes a little-endian cache the way ldconfig lays it out: header, entries,
    /// strings, then the extension directory with a glibc-hwcaps section.
    fn synthetic(entries: &[(&str, &str, i32, Option<u32>)], hwcaps: &[&str]) -> Vec<u8> {
        let n = entries.len();
        let strings_at = NEW_HEADER + n * NEW_ENTRY;
        let mut strings: Vec<u8> = Vec::new();
        let put = |s: &str, strings: &mut Vec<u8>| {
            let off = strings_at + strings.len();
            strings.extend_from_slice(s.as_bytes());
            strings.push(0);
            off as u32
        };
        let mut body = Vec::new();
        for (name, path, flags, hw) in entries {
            let key = put(name, &mut strings);
            let value = put(path, &mut strings);
            body.extend_from_slice(&flags.to_le_bytes());
            body.extend_from_slice(&key.to_le_bytes());
            body.extend_from_slice(&value.to_le_bytes());
            body.extend_from_slice(&0u32.to_le_bytes());
            let hwcap = hw.map_or(0u64, |i| HWCAP_EXTENSION | u64::from(i));
            body.extend_from_slice(&hwcap.to_le_bytes());
        }
        let name_offsets: Vec<u32> = hwcaps.iter().map(|h| put(h, &mut strings)).collect();
        while (strings_at + strings.len()) % 4 != 0 {
            strings.push(0);
        }
        let ext_at = strings_at + strings.len();
        let table_at = ext_at + 8 + 16;
        let mut ext = Vec::new();
        ext.extend_from_slice(&EXTENSION_MAGIC.to_le_bytes());
        ext.extend_from_slice(&1u32.to_le_bytes());
        ext.extend_from_slice(&EXTENSION_TAG_GLIBC_HWCAPS.to_le_bytes());
        ext.extend_from_slice(&0u32.to_le_bytes());
        ext.extend_from_slice(&(table_at as u32).to_le_bytes());
        ext.extend_from_slice(&((name_offsets.len() * 4) as u32).to_le_bytes());
        for o in name_offsets {
            ext.extend_from_slice(&o.to_le_bytes());
        }
        let mut out = NEW_MAGIC.to_vec();
        out.extend_from_slice(&(n as u32).to_le_bytes());
        out.extend_from_slice(&(strings.len() as u32).to_le_bytes());
        out.push(2); // little-endian
        out.extend_from_slice(&[0; 3]);
        out.extend_from_slice(&(ext_at as u32).to_le_bytes());
        out.extend_from_slice(&[0; 12]);
        out.extend(body);
        out.extend(strings);
        out.extend(ext);
        out
    }

    #[test]
    fn lookup_prefers_the_best_supported_hwcaps_entry() {
        let x86 = FLAG_ELF_LIBC6 | FLAG_X8664_LIB64;
        let bytes = synthetic(
            &[
                (
                    "libm.so.6",
                    "/lib/glibc-hwcaps/x86-64-v4/libm.so.6",
                    x86,
                    Some(0),
                ),
                (
                    "libm.so.6",
                    "/lib/glibc-hwcaps/x86-64-v3/libm.so.6",
                    x86,
                    Some(1),
                ),
                ("libm.so.6", "/lib/libm.so.6", x86, None),
                ("libm.so.6", "/lib32/libm.so.6", FLAG_ELF_LIBC6, None),
                ("libz.so.1", "/lib/libz.so.1", x86, None),
            ],
            &["x86-64-v4", "x86-64-v3"],
        );
        let cache = LdCache::parse(&bytes).unwrap();
        assert_eq!(cache.entries.len(), 5);
        assert_eq!(cache.entries[0].hwcaps.as_deref(), Some("x86-64-v4"));
        let v3 = ["x86-64-v3".to_owned(), "x86-64-v2".to_owned()];
        let pick = |hw: &[String]| cache.lookup("libm.so.6", x86, hw).unwrap().path.clone();
        assert_eq!(
            pick(&v3),
            PathBuf::from("/lib/glibc-hwcaps/x86-64-v3/libm.so.6")
        );
        assert_eq!(pick(&[]), PathBuf::from("/lib/libm.so.6"));
        assert_eq!(
            cache.lookup("libm.so.6", FLAG_ELF_LIBC6, &[]).unwrap().path,
            PathBuf::from("/lib32/libm.so.6")
        );
        assert!(cache.lookup("libq.so.1", x86, &v3).is_none());
        // Every truncation of a valid cache is an error or a shorter answer, never a panic.
        for len in 0..bytes.len() {
            let _ = LdCache::parse(&bytes[..len]);
        }
    }

    #[test]
    fn the_host_cache_parses_and_knows_libc() {
        let Ok(bytes) = std::fs::read("/etc/ld.so.cache") else {
            eprintln!("SKIPPED: no /etc/ld.so.cache on this machine");
            return;
        };
        let cache = LdCache::parse(&bytes).expect("host cache parses");
        let libc = cache
            .entries
            .iter()
            .find(|e| e.name == "libc.so.6")
            .expect("libc.so.6 in the cache");
        assert!(libc.path.ends_with("libc.so.6"), "{libc:?}");
        assert!(libc.path.exists());
    }
}
