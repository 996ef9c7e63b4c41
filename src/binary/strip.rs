//! Stripping: the bytes of an ELF object without what no loader reads (its debug
//! sections, its symbol table and that table's strings), for `strip debug`.
//!
//! It runs in process, on the bytes of the source, before any edit is worked out: the
//! ELF edits (`binary::edit`, or patchelf) are then made on the stripped bytes, so an
//! edited object is never stripped (an edit may put a segment where a dropped section
//! was).
//!
//! The rule, chosen so that nothing the loader or `dlsym` reads can move:
//! - The file is kept byte for byte up to the *cut*: the end of the last thing the
//!   loader reads, i.e. the greatest end of the ELF header, the program header table,
//!   every segment's file extent (all of them, not only `PT_LOAD`) and every
//!   `SHF_ALLOC` section. `.dynsym`, `.dynstr`, the dynamic table, notes and everything
//!   mapped lie before it and are never touched.
//! - Dropped: sections without `SHF_ALLOC` that are debug information (named `.debug*`
//!   or `.zdebug*`), the symbol table (`SHT_SYMTAB`), its `SHT_SYMTAB_SHNDX`, and the
//!   string table it links to when no kept section links to that table too and it is not
//!   the section-name table. Only sections whose bytes lie wholly after the cut are
//!   dropped; one before it stays (its bytes could not go anyway).
//! - The kept sections after the cut (`.comment`, `.shstrtab`, `.gnu_debuglink`, ...)
//!   are written after the cut in their file order, each at its alignment, then the
//!   section header table without the dropped entries. `sh_link`, the `sh_info` of
//!   relocation sections (and of any section flagged `SHF_INFO_LINK`) and `e_shstrndx`
//!   are renumbered.
//! - Renumbering must not move a section a symbol names by index (`st_shndx` in
//!   `.dynsym`): an object is stripped only when every dropped section comes after
//!   every `SHF_ALLOC` section in the section header table, as linkers lay them out.
//!   Otherwise, and for relocatable objects, extended section numbering, damaged
//!   headers or nothing to drop, the object is left whole ([`strip`] says why).
//!
//! Both classes and both byte orders are read and written. The same bytes in give the
//! same bytes out.

/// The stripped file, or why the object is left whole.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stripped {
    /// The new file's bytes, and how many sections were dropped.
    Bytes { bytes: Vec<u8>, dropped: usize },
    /// Left whole: nothing to drop, or a layout the rule above does not cover.
    Whole(&'static str),
}

const SHF_ALLOC: u64 = 0x2;
const SHF_INFO_LINK: u64 = 0x40;
const SHT_NOBITS: u32 = 8;
const SHT_SYMTAB: u32 = 2;
const SHT_STRTAB: u32 = 3;
const SHT_RELA: u32 = 4;
const SHT_REL: u32 = 9;
const SHT_SYMTAB_SHNDX: u32 = 18;
const ET_REL: u16 = 1;
const SHN_LORESERVE: u64 = 0xff00;

/// Reads and writes one class and byte order.
#[derive(Clone, Copy)]
struct Form {
    is_64: bool,
    big: bool,
}

impl Form {
    fn get(self, b: &[u8], at: u64, len: usize) -> Option<u64> {
        let at = usize::try_from(at).ok()?;
        let raw = b.get(at..at.checked_add(len)?)?;
        let mut v: u64 = 0;
        for i in 0..len {
            let byte = if self.big { raw[i] } else { raw[len - 1 - i] };
            v = (v << 8) | u64::from(byte);
        }
        Some(v)
    }

    fn put(self, b: &mut [u8], at: usize, len: usize, v: u64) {
        for i in 0..len {
            let shift = 8 * if self.big { len - 1 - i } else { i };
            b[at + i] = (v >> shift) as u8;
        }
    }

    /// An address-sized field's width.
    fn word(self) -> usize {
        if self.is_64 { 8 } else { 4 }
    }
}

/// One section header, the fields the rule reads and rewrites.
#[derive(Debug, Clone)]
struct Section {
    name: u64,
    kind: u32,
    flags: u64,
    offset: u64,
    size: u64,
    link: u64,
    info: u64,
    align: u64,
    /// The header's bytes as the file has them.
    raw: Vec<u8>,
}

impl Section {
    fn is_alloc(&self) -> bool {
        self.flags & SHF_ALLOC != 0
    }

    /// The bytes it occupies in the file.
    fn file_size(&self) -> u64 {
        if self.kind == SHT_NOBITS {
            0
        } else {
            self.size
        }
    }
}

/// Field offsets in a section header: (name, type, flags, offset, size, link, info, align).
fn section_fields(f: Form) -> [(usize, usize); 8] {
    if f.is_64 {
        [
            (0, 4),
            (4, 4),
            (8, 8),
            (24, 8),
            (32, 8),
            (40, 4),
            (44, 4),
            (48, 8),
        ]
    } else {
        [
            (0, 4),
            (4, 4),
            (8, 4),
            (16, 4),
            (20, 4),
            (24, 4),
            (28, 4),
            (32, 4),
        ]
    }
}

/// `bytes` (a whole ELF file) without its debug sections and symbol table, by the rule
/// in the module docs.
pub fn strip(bytes: &[u8]) -> Stripped {
    match plan(bytes) {
        Ok(stripped) => stripped,
        Err(why) => Stripped::Whole(why),
    }
}

fn plan(bytes: &[u8]) -> Result<Stripped, &'static str> {
    const DAMAGED: &str = "its headers lie past the end of the file";
    if bytes.len() < 52 || &bytes[..4] != b"\x7fELF" {
        return Err("not an ELF object");
    }
    let f = match (bytes[4], bytes[5]) {
        (1 | 2, 1 | 2) => Form {
            is_64: bytes[4] == 2,
            big: bytes[5] == 2,
        },
        _ => return Err("an unknown ELF class or byte order"),
    };
    let w = f.word();
    let get = |at: u64, len: usize| f.get(bytes, at, len).ok_or(DAMAGED);
    if get(16, 2)? as u16 == ET_REL {
        return Err("a relocatable object (its symbols are needed to link it)");
    }
    // ELF header fields after e_entry: e_phoff, e_shoff, then the 2-byte counts.
    let phoff = get(24 + w as u64, w)?;
    let shoff = get(24 + 2 * w as u64, w)?;
    let rest = 24 + 3 * w as u64 + 4;
    let ehsize = get(rest, 2)?;
    let phentsize = get(rest + 2, 2)?;
    let phnum = get(rest + 4, 2)?;
    let shentsize = get(rest + 6, 2)?;
    let shnum = get(rest + 8, 2)?;
    let shstrndx = get(rest + 10, 2)?;
    if shoff == 0 || shnum == 0 {
        return Err("it has no section headers");
    }
    if shnum >= SHN_LORESERVE || shstrndx >= SHN_LORESERVE || shstrndx >= shnum {
        return Err("extended section numbering");
    }
    let (want_ph, want_sh) = if f.is_64 { (56, 64) } else { (32, 40) };
    if (phnum > 0 && phentsize != want_ph) || shentsize != want_sh {
        return Err("unusual header sizes");
    }

    // The cut: the end of everything the loader reads.
    let mut cut = ehsize.max(phoff.checked_add(phnum * phentsize).ok_or(DAMAGED)?);
    let (p_offset, p_filesz) = if f.is_64 { (8, 32) } else { (4, 16) };
    for i in 0..phnum {
        let at = phoff.saturating_add(i * phentsize);
        let end = get(at.saturating_add(p_offset), w)?
            .checked_add(get(at.saturating_add(p_filesz), w)?)
            .ok_or(DAMAGED)?;
        cut = cut.max(end);
    }
    let fields = section_fields(f);
    let mut sections = Vec::with_capacity(shnum as usize);
    for i in 0..shnum {
        let at = shoff.checked_add(i * shentsize).ok_or(DAMAGED)?;
        let field = |n: usize| get(at.saturating_add(fields[n].0 as u64), fields[n].1);
        let end = at.checked_add(shentsize).ok_or(DAMAGED)?;
        let raw = usize::try_from(at)
            .ok()
            .zip(usize::try_from(end).ok())
            .and_then(|(at, end)| bytes.get(at..end))
            .ok_or(DAMAGED)?
            .to_vec();
        sections.push(Section {
            name: field(0)?,
            kind: field(1)? as u32,
            flags: field(2)?,
            offset: field(3)?,
            size: field(4)?,
            link: field(5)?,
            info: field(6)?,
            align: field(7)?,
            raw,
        });
    }
    for s in sections.iter().filter(|s| s.is_alloc()) {
        cut = cut.max(s.offset.checked_add(s.file_size()).ok_or(DAMAGED)?);
    }
    for s in &sections {
        if s.offset
            .checked_add(s.file_size())
            .is_none_or(|end| end > bytes.len() as u64)
        {
            return Err(DAMAGED);
        }
    }
    // A section that starts before the cut and ends after it stays whole: the cut moves
    // to its end (in file order, so one pass settles it).
    let mut by_offset: Vec<&Section> = sections.iter().filter(|s| s.file_size() > 0).collect();
    by_offset.sort_by_key(|s| s.offset);
    for s in by_offset {
        if s.offset < cut {
            cut = cut.max(s.offset + s.file_size());
        }
    }
    if cut > bytes.len() as u64 {
        return Err(DAMAGED);
    }

    let names = &sections[shstrndx as usize];
    let name_of = |s: &Section| -> &[u8] {
        let at = names.offset.saturating_add(s.name) as usize;
        let rest = bytes.get(at..).unwrap_or_default();
        &rest[..rest.iter().position(|&c| c == 0).unwrap_or(0)]
    };
    let after_cut = |s: &Section| s.offset >= cut || s.file_size() == 0;
    let mut drop = vec![false; sections.len()];
    for (i, s) in sections.iter().enumerate().skip(1) {
        if s.is_alloc() || !after_cut(s) || i as u64 == shstrndx {
            continue;
        }
        let name = name_of(s);
        drop[i] = name.starts_with(b".debug")
            || name.starts_with(b".zdebug")
            || s.kind == SHT_SYMTAB
            || s.kind == SHT_SYMTAB_SHNDX;
    }
    // The symbol table's strings go with it.
    for (i, s) in sections.iter().enumerate() {
        if drop[i] && s.kind == SHT_SYMTAB {
            let strings = s.link as usize;
            if let Some(t) = sections.get(strings) {
                if strings != 0
                    && strings as u64 != shstrndx
                    && t.kind == SHT_STRTAB
                    && !t.is_alloc()
                    && after_cut(t)
                {
                    drop[strings] = true;
                }
            }
        }
    }
    // A kept section that links to a dropped one keeps it (until nothing changes).
    loop {
        let mut changed = false;
        for (i, s) in sections.iter().enumerate() {
            let info_link = s.kind == SHT_REL || s.kind == SHT_RELA || s.flags & SHF_INFO_LINK != 0;
            if drop[i] {
                continue;
            }
            for target in [Some(s.link), info_link.then_some(s.info)]
                .into_iter()
                .flatten()
            {
                if let Some(d) = drop.get_mut(target as usize) {
                    if *d && target != 0 {
                        *d = false;
                        changed = true;
                    }
                }
            }
        }
        if !changed {
            break;
        }
    }
    let dropped = drop.iter().filter(|d| **d).count();
    if dropped == 0 {
        return Err("nothing to drop");
    }
    let last_alloc = sections.iter().rposition(Section::is_alloc).unwrap_or(0);
    if drop.iter().take(last_alloc + 1).any(|d| *d) {
        return Err("a section to drop comes before a loaded one in the section table");
    }

    // New indices, and new offsets for the kept sections after the cut.
    let mut index = vec![0u64; sections.len()];
    let mut next = 0;
    for (i, d) in drop.iter().enumerate() {
        if !d {
            index[i] = next;
            next += 1;
        }
    }
    let mut out = bytes[..cut as usize].to_vec();
    let mut order: Vec<usize> = (1..sections.len())
        .filter(|&i| !drop[i] && sections[i].offset >= cut && sections[i].file_size() > 0)
        .collect();
    order.sort_by_key(|&i| (sections[i].offset, i));
    let mut offsets: Vec<u64> = sections.iter().map(|s| s.offset).collect();
    for i in order {
        let s = &sections[i];
        let align = s.align.max(1);
        let at = (out.len() as u64)
            .div_ceil(align)
            .checked_mul(align)
            .ok_or(DAMAGED)?;
        out.resize(at as usize, 0);
        out.extend_from_slice(&bytes[s.offset as usize..(s.offset + s.size) as usize]);
        offsets[i] = at;
    }
    // Kept empty sections after the cut point at the new end.
    for (i, s) in sections.iter().enumerate().skip(1) {
        if !drop[i] && s.offset >= cut && s.file_size() == 0 {
            offsets[i] = out.len() as u64;
        }
    }
    let table = (out.len() as u64).div_ceil(w as u64) * w as u64;
    out.resize(table as usize, 0);
    for (i, s) in sections.iter().enumerate() {
        if drop[i] {
            continue;
        }
        let mut raw = s.raw.clone();
        let renumber = |n: u64| index.get(n as usize).copied().unwrap_or(n);
        let info_link = s.kind == SHT_REL || s.kind == SHT_RELA || s.flags & SHF_INFO_LINK != 0;
        let (at, len) = fields[3];
        f.put(&mut raw, at, len, offsets[i]);
        let (at, len) = fields[5];
        f.put(&mut raw, at, len, renumber(s.link));
        if info_link {
            let (at, len) = fields[6];
            f.put(&mut raw, at, len, renumber(s.info));
        }
        out.extend_from_slice(&raw);
    }
    f.put(&mut out, 24 + 2 * w, w, table);
    f.put(&mut out, rest as usize + 8, 2, next);
    f.put(&mut out, rest as usize + 10, 2, index[shstrndx as usize]);
    Ok(Stripped::Bytes {
        bytes: out,
        dropped,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_is_not_elf_or_has_no_sections_is_left_whole() {
        assert_eq!(strip(b"#!/bin/sh\n"), Stripped::Whole("not an ELF object"));
        let mut header = vec![0u8; 64];
        header[..4].copy_from_slice(b"\x7fELF");
        header[4] = 2;
        header[5] = 1;
        header[16] = 3;
        header[52] = 64;
        assert_eq!(strip(&header), Stripped::Whole("it has no section headers"));
        header[4] = 7;
        assert!(matches!(strip(&header), Stripped::Whole(_)));
    }

    #[test]
    fn damaged_headers_are_no_panic() {
        // Every prefix of a real object: never a panic, never bytes past the input.
        let me = std::fs::read("/proc/self/exe").unwrap();
        let len = me.len().min(1 << 16);
        for cut in (0..len).step_by(97) {
            let _ = strip(&me[..cut]);
        }
    }
}
