//! Writing a zip archive the way a dist needs it, for pure-Python archives on `sys.path`
//! (`pack zip`: the planner's `plan/build/pack.rs` decides the members, `archive.rs`
//! reads them and calls [`write_zip`]).
//!
//! Decisions:
//! - Entries are stored, not deflated: CPython's `zipimport` reads stored members without
//!   `zlib` (which an app need not ship), a stored member is read in place, and the files
//!   of a dist compress in the onefile payload anyway.
//! - Byte-identical from run to run: members sorted by name, every folder of a member
//!   given an entry of its own (`pkg/`: `zipimport` finds namespace packages by them),
//!   one fixed time (1980-01-01 00:00, the earliest a zip can say), no extra fields, no
//!   owner, no comment. Names are `/`-separated and UTF-8 (flagged as such when not ASCII).
//! - No ZIP64: an archive of pure Python past 4 GiB or 65,535 members is refused
//!   ([`ZipError`]), not written damaged.

use std::collections::BTreeMap;

/// Why an archive cannot be written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ZipError {
    #[error("`{name}` is no member name: {why}")]
    BadName { name: String, why: &'static str },
    #[error("two members are named `{0}`")]
    Duplicate(String),
    #[error("the archive would need ZIP64 ({0}), which shenzi does not write")]
    TooLarge(&'static str),
}

const LOCAL: u32 = 0x0403_4b50;
const CENTRAL: u32 = 0x0201_4b50;
const END: u32 = 0x0605_4b50;
/// 2.0: folders and stored members.
const VERSION: u16 = 20;
/// Bit 11: the name is UTF-8.
const UTF8: u16 = 1 << 11;
/// MS-DOS date of 1980-01-01 (day 1, month 1, year 0); time 00:00:00.
const DOS_DATE: u16 = (1 << 5) | 1;
const DOS_TIME: u16 = 0;

/// The archive of `members` (name, bytes), as the module docs say.
pub fn write_zip(members: &[(String, Vec<u8>)]) -> Result<Vec<u8>, ZipError> {
    let mut all: BTreeMap<String, Option<&[u8]>> = BTreeMap::new();
    for (name, data) in members {
        check_name(name)?;
        if all
            .insert(name.clone(), Some(data))
            .is_some_and(|d| d.is_some())
        {
            return Err(ZipError::Duplicate(name.clone()));
        }
        let mut at = name.as_str();
        while let Some((folder, _)) = at.rsplit_once('/') {
            all.entry(format!("{folder}/")).or_insert(None);
            at = folder;
        }
    }
    for name in all.keys().filter(|n| !n.ends_with('/')) {
        if all.contains_key(&format!("{name}/")) {
            return Err(ZipError::Duplicate(name.clone()));
        }
    }
    if all.len() >= usize::from(u16::MAX) {
        return Err(ZipError::TooLarge("more than 65,534 members"));
    }
    let mut out = Vec::new();
    let mut central = Vec::new();
    for (name, data) in &all {
        let data = data.unwrap_or_default();
        let offset = u32::try_from(out.len()).map_err(|_| ZipError::TooLarge("past 4 GiB"))?;
        let size =
            u32::try_from(data.len()).map_err(|_| ZipError::TooLarge("a member past 4 GiB"))?;
        let crc = crc32(data);
        let flags = if name.is_ascii() { 0 } else { UTF8 };
        let name_len = u16::try_from(name.len())
            .map_err(|_| ZipError::TooLarge("a name past 65,535 bytes"))?;
        // Local header.
        put32(&mut out, LOCAL);
        for v in [VERSION, flags, 0, DOS_TIME, DOS_DATE] {
            put16(&mut out, v);
        }
        for v in [crc, size, size] {
            put32(&mut out, v);
        }
        put16(&mut out, name_len);
        put16(&mut out, 0);
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(data);
        // Central directory entry: made by Unix (3), mode in the external attributes.
        let mode: u32 = if name.ends_with('/') {
            0o040_755
        } else {
            0o100_644
        };
        put32(&mut central, CENTRAL);
        for v in [(3 << 8) | VERSION, VERSION, flags, 0, DOS_TIME, DOS_DATE] {
            put16(&mut central, v);
        }
        for v in [crc, size, size] {
            put32(&mut central, v);
        }
        for v in [name_len, 0, 0, 0, 0] {
            put16(&mut central, v);
        }
        let dos_dir = u32::from(name.ends_with('/')) << 4;
        put32(&mut central, (mode << 16) | dos_dir);
        put32(&mut central, offset);
        central.extend_from_slice(name.as_bytes());
    }
    let start = u32::try_from(out.len()).map_err(|_| ZipError::TooLarge("past 4 GiB"))?;
    let central_len = u32::try_from(central.len()).map_err(|_| ZipError::TooLarge("past 4 GiB"))?;
    start
        .checked_add(central_len)
        .ok_or(ZipError::TooLarge("past 4 GiB"))?;
    out.extend_from_slice(&central);
    let count = all.len() as u16;
    put32(&mut out, END);
    for v in [0, 0, count, count] {
        put16(&mut out, v);
    }
    put32(&mut out, central_len);
    put32(&mut out, start);
    put16(&mut out, 0);
    Ok(out)
}

fn check_name(name: &str) -> Result<(), ZipError> {
    let bad = |why| {
        Err(ZipError::BadName {
            name: name.to_owned(),
            why,
        })
    };
    if name.is_empty() || name.ends_with('/') {
        return bad("empty, or a folder");
    }
    if name.starts_with('/') || name.contains('\\') || name.contains('\0') {
        return bad("not a relative `/`-separated path");
    }
    if name
        .split('/')
        .any(|part| part.is_empty() || part == "." || part == "..")
    {
        return bad("an empty, `.` or `..` segment");
    }
    Ok(())
}

fn put16(out: &mut Vec<u8>, v: u16) {
    out.extend_from_slice(&v.to_le_bytes());
}

fn put32(out: &mut Vec<u8>, v: u32) {
    out.extend_from_slice(&v.to_le_bytes());
}

/// CRC-32 (IEEE 802.3, reflected, as zip and zlib compute it).
fn crc32(data: &[u8]) -> u32 {
    const TABLE: [u32; 256] = {
        let mut table = [0u32; 256];
        let mut i = 0;
        while i < 256 {
            let mut c = i as u32;
            let mut k = 0;
            while k < 8 {
                c = if c & 1 != 0 {
                    0xedb8_8320 ^ (c >> 1)
                } else {
                    c >> 1
                };
                k += 1;
            }
            table[i] = c;
            i += 1;
        }
        table
    };
    let mut crc = !0u32;
    for &b in data {
        crc = TABLE[((crc ^ u32::from(b)) & 0xff) as usize] ^ (crc >> 8);
    }
    !crc
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc_is_zips() {
        // The check value of CRC-32/ISO-HDLC.
        assert_eq!(crc32(b"123456789"), 0xcbf4_3926);
        assert_eq!(crc32(b""), 0);
    }

    #[test]
    fn names_that_would_escape_or_collide_are_refused() {
        for name in [
            "",
            "/abs.py",
            "a/../b.py",
            "a//b.py",
            "dir/",
            "a\\b.py",
            "./a.py",
        ] {
            assert!(
                matches!(
                    write_zip(&[(name.to_owned(), Vec::new())]),
                    Err(ZipError::BadName { .. })
                ),
                "{name:?}"
            );
        }
        let twice = [("a.py".to_owned(), vec![1]), ("a.py".to_owned(), vec![2])];
        assert_eq!(write_zip(&twice), Err(ZipError::Duplicate("a.py".into())));
        let file_and_folder = [("a".to_owned(), vec![]), ("a/b.py".to_owned(), vec![])];
        assert!(matches!(
            write_zip(&file_and_folder),
            Err(ZipError::Duplicate(_))
        ));
    }

    #[test]
    fn the_same_members_in_any_order_give_the_same_bytes() {
        let a = [
            ("pkg/mod.py".to_owned(), b"x = 1\n".to_vec()),
            ("pkg/__init__.py".to_owned(), Vec::new()),
        ];
        let b = [a[1].clone(), a[0].clone()];
        let one = write_zip(&a).unwrap();
        assert_eq!(one, write_zip(&b).unwrap());
        // Three members: the folder, then the two files, each in the central directory.
        assert_eq!(
            u16::from_le_bytes([one[one.len() - 12], one[one.len() - 11]]),
            3
        );
    }
}
