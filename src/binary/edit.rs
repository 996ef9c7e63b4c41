//! Writing ELF edits in process: a new `DT_RUNPATH`, renamed or added `DT_NEEDED`
//! entries, for little-endian ELF64 shared objects (x86_64, aarch64).
//!
//! Why not always `patchelf`: a dist patches every extension module and library it
//! ships (124 binaries for numpy, pillow, lxml and cryptography), and one process per
//! file cost 0.3–0.9 s of a 1 s apply. The edit here never moves anything the object
//! already has, which is what made general ELF rewriters fail on LLVM-linked objects
//! ("overlapping immovable sections"):
//!
//! - when the edit needs no new string and the dynamic section has room, the dynamic
//!   entries are rewritten in place (removing a RUNPATH, pointing one at a string the
//!   table already holds);
//! - otherwise a new `PT_LOAD` segment is appended at the end of the file, above every
//!   existing segment in memory. It holds the program header table (one entry longer,
//!   for itself), the string table (the old one, byte for byte, with the new strings
//!   after it, so every existing offset stays valid) and, when entries are added, the
//!   dynamic section. `PT_PHDR`, `PT_DYNAMIC`, `e_phoff`, `DT_STRTAB`, `DT_STRSZ` and the
//!   `.dynstr`/`.dynamic` section headers are pointed at the new copies; the old bytes
//!   stay where they were, unreferenced. Renamed needs are renamed in `.gnu.version_r`
//!   too, as the loader matches symbol versions to objects by that name.
//!
//! Only objects the loader can load are edited, read as [`super::elf`] reads them: the
//! dynamic segment at `PT_DYNAMIC`'s address (not its file offset), the last of a tag
//! that appears twice. Section headers are not needed: the loader never reads them, and
//! a library whose table is cut off or overwritten loads. Entries that exactly describe
//! a moved table are updated; a table that does not lie in the file is dropped from the
//! ELF header (the new segment may now be where it pointed). Writes that would overlap
//! (damaged headers that share bytes) are declined.
//!
//! Executables (the interpreter) are mapped by the kernel, which before Linux 5.18
//! computed `AT_PHDR` as the first segment's address plus `e_phoff`: for them the new
//! segment keeps the first segment's distance between file offset and address, so
//! that sum is where the moved table is. ELF32 and big-endian objects, and anything
//! malformed, are declined with the reason, and the caller hands them to `patchelf`.
//!
//! The result is a list of byte ranges to write over a copy of the source: the copy
//! itself stays a kernel-side `copy_file_range`. The new segment is covered by no
//! section, so `strip` (which rebuilds segments from sections) must not be run on an
//! edited object, as with patchelf's output.

/// The edits one binary needs.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ElfEdits {
    /// The new `DT_RUNPATH`, in order; `None` leaves it alone, `Some(empty)` removes it.
    /// Setting it removes any `DT_RPATH` (as `patchelf --set-rpath` does).
    pub runpath: Option<Vec<String>>,
    /// `DT_NEEDED` renames, only where the layout renames a library: `(old, new)`.
    pub replace_needed: Vec<(String, String)>,
    /// `DT_NEEDED` entries to add: libraries to load at start-up (see the planner's
    /// preloads). They go first, before the object's own needs.
    pub add_needed: Vec<String>,
}

impl ElfEdits {
    pub fn is_empty(&self) -> bool {
        self.runpath.is_none() && self.replace_needed.is_empty() && self.add_needed.is_empty()
    }
}

/// Byte ranges to write over a copy of the source, in file order, after the copy is
/// set to `len` bytes (a longer file reads as zeros up to the first new write).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ElfPatch {
    pub writes: Vec<(u64, Vec<u8>)>,
    /// The patched file's length (the source's, or more when a segment was appended).
    pub len: u64,
}

impl ElfPatch {
    /// Writes the patch over `file`, a fresh copy of the source: the length first (a
    /// longer file reads as zeros, and the hole costs no blocks), then each range.
    pub fn write_over(&self, file: &std::fs::File) -> std::io::Result<()> {
        use std::os::unix::fs::FileExt;
        file.set_len(self.len)?;
        for (at, bytes) in &self.writes {
            file.write_all_at(bytes, *at)?;
        }
        Ok(())
    }

    /// The patched bytes, built in memory (for tests and comparisons).
    pub fn apply_to(&self, source: &[u8]) -> Vec<u8> {
        let mut out = source.to_vec();
        out.resize(self.len as usize, 0);
        for (at, bytes) in &self.writes {
            let at = *at as usize;
            if out.len() < at + bytes.len() {
                out.resize(at + bytes.len(), 0);
            }
            out[at..at + bytes.len()].copy_from_slice(bytes);
        }
        out
    }
}

/// Why an edit is left to `patchelf`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Declined(pub String);

impl std::fmt::Display for Declined {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

fn declined<T>(why: impl Into<String>) -> Result<T, Declined> {
    Err(Declined(why.into()))
}

const PT_LOAD: u32 = 1;
const PT_DYNAMIC: u32 = 2;
const PT_INTERP: u32 = 3;
const PT_PHDR: u32 = 6;
const PF_W: u32 = 2;
const PF_R: u32 = 4;
const SHT_STRTAB: u32 = 3;
const SHT_DYNAMIC: u32 = 6;
const SHF_ALLOC: u64 = 2;

const ET_EXEC: u16 = 2;
const ET_DYN: u16 = 3;

const DT_NULL: u64 = 0;
const DT_NEEDED: u64 = 1;
const DT_STRTAB: u64 = 5;
const DT_STRSZ: u64 = 10;
const DT_SONAME: u64 = 14;
const DT_RPATH: u64 = 15;
const DT_RUNPATH: u64 = 29;
const DT_VERNEED: u64 = 0x6fff_fffe;
const DT_VERNEEDNUM: u64 = 0x6fff_ffff;

/// The largest hole (zeros that take no blocks, but count in archives that do not keep
/// holes) an executable's edit may put in its file.
const MAX_HOLE: u64 = 64 << 20;

const EHDR: usize = 64;
const PHDR: usize = 56;
const SHDR: usize = 64;
const DYN: usize = 16;

/// Little-endian reads that fail, not panic, past the end.
struct Bytes<'a>(&'a [u8]);

impl Bytes<'_> {
    fn slice(&self, at: u64, len: u64) -> Result<&[u8], Declined> {
        let end = at.checked_add(len);
        match end {
            Some(end) if end <= self.0.len() as u64 => Ok(&self.0[at as usize..end as usize]),
            _ => declined(format!(
                "truncated: {len} bytes at offset {at} lie past the end of the file"
            )),
        }
    }
    fn u16(&self, at: u64) -> Result<u16, Declined> {
        let b = self.slice(at, 2)?;
        Ok(u16::from_le_bytes([b[0], b[1]]))
    }
    fn u32(&self, at: u64) -> Result<u32, Declined> {
        let b = self.slice(at, 4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }
    fn u64(&self, at: u64) -> Result<u64, Declined> {
        let b = self.slice(at, 8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(u64::from_le_bytes(a))
    }
}

#[derive(Debug, Clone, Copy)]
struct Phdr {
    p_type: u32,
    flags: u32,
    offset: u64,
    vaddr: u64,
    paddr: u64,
    filesz: u64,
    memsz: u64,
    align: u64,
}

impl Phdr {
    fn read(b: &Bytes<'_>, at: u64) -> Result<Phdr, Declined> {
        // Bounds first, so the field offsets below cannot overflow.
        b.slice(at, PHDR as u64)?;
        Ok(Phdr {
            p_type: b.u32(at)?,
            flags: b.u32(at + 4)?,
            offset: b.u64(at + 8)?,
            vaddr: b.u64(at + 16)?,
            paddr: b.u64(at + 24)?,
            filesz: b.u64(at + 32)?,
            memsz: b.u64(at + 40)?,
            align: b.u64(at + 48)?,
        })
    }

    fn write(&self, out: &mut Vec<u8>) {
        out.extend(self.p_type.to_le_bytes());
        out.extend(self.flags.to_le_bytes());
        for v in [
            self.offset,
            self.vaddr,
            self.paddr,
            self.filesz,
            self.memsz,
            self.align,
        ] {
            out.extend(v.to_le_bytes());
        }
    }
}

/// The string table as it will be: the old bytes, then what is added.
struct Strings<'a> {
    old: &'a [u8],
    added: Vec<u8>,
}

impl Strings<'_> {
    /// The offset of `s`: an existing NUL-terminated occurrence (a suffix of another
    /// string counts, as linkers share tails), else a new one at the end.
    fn offset_of(&mut self, s: &str) -> u64 {
        let mut needle = s.as_bytes().to_vec();
        needle.push(0);
        if let Some(at) = find(self.old, &needle) {
            return at as u64;
        }
        if let Some(at) = find(&self.added, &needle) {
            return (self.old.len() + at) as u64;
        }
        let at = self.old.len() + self.added.len();
        self.added.extend(&needle);
        at as u64
    }

    fn get(&self, offset: u64) -> Option<&[u8]> {
        let offset = offset as usize;
        let rest = if offset < self.old.len() {
            &self.old[offset..]
        } else {
            self.added.get(offset - self.old.len()..)?
        };
        rest.iter().position(|&c| c == 0).map(|end| &rest[..end])
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.len() == 1 {
        // The empty string: any NUL.
        return haystack.iter().position(|&c| c == 0);
    }
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// `base + add`, or declined when a damaged header makes it overflow.
fn offset(base: u64, add: u64) -> Result<u64, Declined> {
    base.checked_add(add)
        .ok_or_else(|| Declined("an offset in its headers overflows".into()))
}

fn align_up(v: u64, to: u64) -> Option<u64> {
    v.checked_add(to - 1).map(|x| x / to * to)
}

/// Works out the bytes that give `bytes` (a whole ELF file) the `edits`.
pub fn prepare(bytes: &[u8], edits: &ElfEdits) -> Result<ElfPatch, Declined> {
    let b = Bytes(bytes);
    let file_len = bytes.len() as u64;
    let ident = b.slice(0, 16)?;
    if &ident[..4] != b"\x7fELF" {
        return declined("not an ELF file");
    }
    if ident[4] != 2 || ident[5] != 1 {
        return declined("not a little-endian 64-bit ELF object");
    }
    let e_type = b.u16(16)?;
    if e_type != ET_EXEC && e_type != ET_DYN {
        return declined("neither an executable nor a shared object");
    }
    // Only what the loader can load, read as the loader reads it: what the edit
    // changes below is then what the loader sees.
    if let Err(reason) = super::elf::parse_whole(bytes) {
        return declined(format!("the loader cannot load it: {reason}"));
    }
    let phoff = b.u64(32)?;
    let (phentsize, phnum) = (b.u16(54)?, b.u16(56)?);
    if phentsize as usize != PHDR {
        return declined("unusual program header entry size");
    }
    let sections = SectionTable::read(&b)?;
    let phdrs: Vec<Phdr> = (0..u64::from(phnum))
        .map(|i| Phdr::read(&b, offset(phoff, i * PHDR as u64)?))
        .collect::<Result<_, _>>()?;
    // The kernel maps executables, and kernels before 5.18 put `AT_PHDR` at the first
    // segment's address plus `e_phoff`: a moved table must keep that relation.
    let executable = e_type == ET_EXEC || phdrs.iter().any(|p| p.p_type == PT_INTERP);
    let loads: Vec<&Phdr> = phdrs.iter().filter(|p| p.p_type == PT_LOAD).collect();
    let disjoint_in_order = loads.windows(2).all(|w| {
        w[0].vaddr
            .checked_add(w[0].filesz.max(w[0].memsz))
            .is_some_and(|end| end <= w[1].vaddr)
    });
    if loads.is_empty() || !disjoint_in_order {
        return declined("its loadable segments are missing, out of order or overlapping");
    }
    let mut dynamics = phdrs.iter().filter(|p| p.p_type == PT_DYNAMIC);
    let (Some(dynamic), None) = (dynamics.next(), dynamics.next()) else {
        return declined("it has no single dynamic segment");
    };
    // Where a virtual address lies in the file.
    let file_offset = |vaddr: u64| -> Option<u64> {
        loads
            .iter()
            .find(|p| p.vaddr <= vaddr && vaddr - p.vaddr < p.filesz)
            .and_then(|p| p.offset.checked_add(vaddr - p.vaddr))
    };
    // The loader reads the dynamic entries at `PT_DYNAMIC`'s address, not its file
    // offset: edit what it reads, and only a table that lies in one segment's file bytes.
    let dynamic_at = match file_offset(dynamic.vaddr) {
        Some(at)
            if file_offset(dynamic.vaddr.saturating_add(dynamic.filesz.max(1) - 1))
                == at.checked_add(dynamic.filesz.max(1) - 1) =>
        {
            at
        }
        _ => return declined("its dynamic segment does not lie in its loadable segments"),
    };
    let dynamic = Phdr {
        offset: dynamic_at,
        ..*dynamic
    };

    // The dynamic entries, up to (not including) the first DT_NULL; the slots after it
    // that are all zeros are room to grow into.
    let slots_in_segment = dynamic.filesz / DYN as u64;
    let mut entries: Vec<(u64, u64)> = Vec::new();
    let mut capacity = None;
    for i in 0..slots_in_segment {
        let at = offset(dynamic.offset, i * DYN as u64)?;
        b.slice(at, DYN as u64)?;
        let (tag, val) = (b.u64(at)?, b.u64(at + 8)?);
        match capacity {
            None if tag == DT_NULL => capacity = Some(i + 1),
            None => entries.push((tag, val)),
            Some(_) if tag == DT_NULL && val == 0 => capacity = Some(i + 1),
            Some(_) => break,
        }
    }
    let Some(capacity) = capacity else {
        return declined("its dynamic section has no end marker (`DT_NULL`)");
    };
    let value = |tag: u64| last_value(&entries, tag);
    let (Some(strtab), Some(strsz)) = (value(DT_STRTAB), value(DT_STRSZ)) else {
        return declined("it has no dynamic string table");
    };
    let Some(strtab_off) = file_offset(strtab) else {
        return declined("its string table lies outside the file");
    };
    let mut strings = Strings {
        old: b.slice(strtab_off, strsz)?,
        added: Vec::new(),
    };
    // New strings go right after the table: its last string would run on into them.
    if strings.old.last() != Some(&0) {
        return declined("its dynamic string table does not end with a NUL byte");
    }

    let mut writes: Vec<(u64, Vec<u8>)> = Vec::new();
    let mut new: Vec<(u64, u64)> = entries.clone();

    if let Some(runpath) = &edits.runpath {
        let first = new
            .iter()
            .position(|(t, _)| *t == DT_RPATH || *t == DT_RUNPATH);
        new.retain(|(t, _)| *t != DT_RPATH && *t != DT_RUNPATH);
        if !runpath.is_empty() {
            let offset = strings.offset_of(&runpath.join(":"));
            // Where the old one was, else after the needs and SONAME.
            let at = first.unwrap_or_else(|| {
                new.iter()
                    .rposition(|(t, _)| *t == DT_NEEDED || *t == DT_SONAME)
                    .map_or(0, |i| i + 1)
            });
            new.insert(at.min(new.len()), (DT_RUNPATH, offset));
        }
    }

    if !edits.add_needed.is_empty() {
        let mut added: Vec<(u64, u64)> = Vec::new();
        for name in &edits.add_needed {
            let already = new
                .iter()
                .chain(&added)
                .any(|&(t, v)| t == DT_NEEDED && strings.get(v) == Some(name.as_bytes()));
            if !already {
                added.push((DT_NEEDED, strings.offset_of(name)));
            }
        }
        let first = new.iter().position(|(t, _)| *t == DT_NEEDED).unwrap_or(0);
        new.splice(first..first, added);
    }

    // Renames apply to the names as they were (a→b and b→c rename both, and chain
    // nothing), added needs included, as patchelf's separate calls do.
    if !edits.replace_needed.is_empty() {
        for entry in new.iter_mut().filter(|(t, _)| *t == DT_NEEDED) {
            let renamed = strings
                .get(entry.1)
                .and_then(|name| renamed_to(&edits.replace_needed, name))
                .map(str::to_owned);
            if let Some(renamed) = renamed {
                entry.1 = strings.offset_of(&renamed);
            }
        }
        rename_version_files(
            &b,
            &entries,
            &file_offset,
            &mut strings,
            &edits.replace_needed,
            &mut writes,
        )?;
    }

    let grows_strings = !strings.added.is_empty();
    let fits = (new.len() as u64) < capacity;
    // Slots rewritten in place: the old entries and their DT_NULL, or more when spare
    // DT_NULL slots take added entries.
    let slots = entries.len().max(new.len()) + 1;
    if !grows_strings && fits {
        // In place: the same slots, what is left over becomes DT_NULL.
        writes.push((dynamic.offset, dynamic_table(&new, slots)));
        writes.sort_by_key(|(at, _)| *at);
        disjoint(&writes)?;
        return Ok(ElfPatch {
            writes,
            len: file_len,
        });
    }

    // A new segment at the end of the file and above every segment in memory.
    if phnum == u16::MAX {
        return declined("its program header table is full");
    }
    let Placement {
        start,
        vstart,
        align,
    } = place_segment(&loads, file_len, executable)?;
    let phdrs_len = (phdrs.len() as u64 + 1) * PHDR as u64;
    let dynamic_moves = !fits;
    let dynamic_len = if dynamic_moves {
        (new.len() as u64 + 1) * DYN as u64
    } else {
        0
    };
    let dynamic_at = start + phdrs_len;
    let strtab_at = dynamic_at + dynamic_len;
    let new_strsz = strsz + strings.added.len() as u64;
    let segment_len = phdrs_len + dynamic_len + new_strsz;
    if start.checked_add(segment_len).is_none() || vstart.checked_add(segment_len).is_none() {
        return declined("its segments reach the top of the address space");
    }
    let vaddr_of = |offset: u64| vstart + (offset - start);

    for entry in &mut new {
        match entry.0 {
            DT_STRTAB => entry.1 = vaddr_of(strtab_at),
            DT_STRSZ => entry.1 = new_strsz,
            _ => {}
        }
    }
    let mut table = Vec::with_capacity(phdrs_len as usize);
    let last_load = phdrs
        .iter()
        .rposition(|p| p.p_type == PT_LOAD)
        .expect("loads is not empty");
    for (i, p) in phdrs.iter().enumerate() {
        let mut p = *p;
        match p.p_type {
            PT_PHDR => {
                p.offset = start;
                p.vaddr = vstart;
                p.paddr = vstart;
                p.filesz = phdrs_len;
                p.memsz = phdrs_len;
            }
            PT_DYNAMIC if dynamic_moves => {
                p.offset = dynamic_at;
                p.vaddr = vaddr_of(dynamic_at);
                p.paddr = p.vaddr;
                p.filesz = dynamic_len;
                p.memsz = dynamic_len;
            }
            _ => {}
        }
        p.write(&mut table);
        if i == last_load {
            Phdr {
                p_type: PT_LOAD,
                // The loader of older glibc adjusts dynamic entries in place.
                flags: if dynamic_moves { PF_R | PF_W } else { PF_R },
                offset: start,
                vaddr: vstart,
                paddr: vstart,
                filesz: segment_len,
                memsz: segment_len,
                align,
            }
            .write(&mut table);
        }
    }

    let mut segment = table;
    if dynamic_moves {
        segment.extend(dynamic_table(&new, new.len() + 1));
    } else {
        writes.push((dynamic.offset, dynamic_table(&new, slots)));
    }
    segment.extend(strings.old);
    segment.extend(&strings.added);

    // The ELF header: where the program headers are now, and how many.
    let mut ehdr = b.slice(0, EHDR as u64)?.to_vec();
    ehdr[32..40].copy_from_slice(&start.to_le_bytes());
    ehdr[56..58].copy_from_slice(&(phnum + 1).to_le_bytes());

    // Section headers, so that tools reading sections see the new tables too: only the
    // entries that describe exactly the tables moved. The loader never reads them; a
    // table that does not lie in the file (cut off, pointing past the end, a wrong
    // entry size) is dropped from the header, as the bytes it points at may now be the
    // new segment's.
    match sections {
        SectionTable::Absent => {}
        SectionTable::Unusable => {
            ehdr[40..48].fill(0); // e_shoff
            ehdr[60..64].fill(0); // e_shnum, e_shstrndx
        }
        SectionTable::At {
            offset: shoff,
            count,
        } => {
            for i in 0..count {
                let at = offset(shoff, i * SHDR as u64)?;
                let (sh_type, flags) = (b.u32(at + 4)?, b.u64(at + 8)?);
                let (addr, off, size) = (b.u64(at + 16)?, b.u64(at + 24)?, b.u64(at + 32)?);
                let moved = if sh_type == SHT_STRTAB
                    && flags & SHF_ALLOC != 0
                    && (addr, off, size) == (strtab, strtab_off, strsz)
                {
                    Some((strtab_at, new_strsz))
                } else if sh_type == SHT_DYNAMIC
                    && dynamic_moves
                    && (addr, off) == (dynamic.vaddr, dynamic.offset)
                {
                    Some((dynamic_at, dynamic_len))
                } else {
                    None
                };
                if let Some((offset, size)) = moved {
                    let mut fields = Vec::with_capacity(24);
                    fields.extend(vaddr_of(offset).to_le_bytes());
                    fields.extend(offset.to_le_bytes());
                    fields.extend(size.to_le_bytes());
                    writes.push((at + 16, fields));
                }
            }
        }
    }
    writes.push((0, ehdr));

    writes.push((start, segment));
    writes.sort_by_key(|(at, _)| *at);
    disjoint(&writes)?;
    Ok(ElfPatch {
        writes,
        len: start + segment_len,
    })
}

/// The section header table as the ELF header describes it.
enum SectionTable {
    /// `e_shoff` is 0: no table.
    Absent,
    /// A table that does not lie in the file, or of an entry size that is not 64.
    Unusable,
    /// `count` entries of 64 bytes at `offset`, all inside the file.
    At { offset: u64, count: u64 },
}

impl SectionTable {
    fn read(b: &Bytes<'_>) -> Result<SectionTable, Declined> {
        let shoff = b.u64(40)?;
        let (shentsize, shnum) = (b.u16(58)?, b.u16(60)?);
        if shoff == 0 {
            return Ok(SectionTable::Absent);
        }
        if shentsize as usize != SHDR {
            return Ok(SectionTable::Unusable);
        }
        // More than 0xff00 sections: the count is entry 0's `sh_size`.
        let count = match shnum {
            0 => match b.u64(shoff.saturating_add(32)) {
                Ok(count) => count,
                Err(_) => return Ok(SectionTable::Unusable),
            },
            n => u64::from(n),
        };
        let fits = count
            .checked_mul(SHDR as u64)
            .is_some_and(|len| b.slice(shoff, len).is_ok());
        Ok(if count > 0 && fits {
            SectionTable::At {
                offset: shoff,
                count,
            }
        } else {
            SectionTable::Unusable
        })
    }
}

/// Declines writes that overlap: damaged headers can make two tables share bytes (a
/// section header inside the dynamic section), and no order of writing them is right.
fn disjoint(writes: &[(u64, Vec<u8>)]) -> Result<(), Declined> {
    for pair in writes.windows(2) {
        let [(at, bytes), (next, _)] = pair else {
            continue;
        };
        if at.saturating_add(bytes.len() as u64) > *next {
            return declined("its headers overlap each other");
        }
    }
    Ok(())
}

/// Where an appended segment goes: file offset, address, and the alignment it shares
/// with the object's other load segments.
struct Placement {
    start: u64,
    vstart: u64,
    align: u64,
}

fn place_segment(loads: &[&Phdr], file_len: u64, executable: bool) -> Result<Placement, Declined> {
    let align = loads.iter().map(|p| p.align).max().unwrap_or(0).max(0x1000);
    if !align.is_power_of_two() {
        return declined("its segment alignment is not a power of two");
    }
    let top = loads
        .iter()
        .map(|p| p.vaddr.saturating_add(p.memsz))
        .max()
        .unwrap_or(0);
    let (Some(end), Some(above)) = (align_up(file_len, 8), align_up(top, align)) else {
        return declined("its segments reach the top of the address space");
    };
    let (start, vstart) = if executable {
        // Same distance between file offset and address as the first segment; the file
        // may get a hole (zeros, not written) to get there.
        let first = loads[0];
        let Some(distance) = first.vaddr.checked_sub(first.offset) else {
            return declined("its first segment lies below its file offset");
        };
        if distance % align != 0 {
            return declined("its first segment is not aligned");
        }
        let start = end.max(above.saturating_sub(distance));
        if start - end > MAX_HOLE {
            return declined(format!(
                "an executable with a large `.bss`: the edit would need a {} MB hole in the file",
                (start - end) >> 20
            ));
        }
        let Some(vstart) = start.checked_add(distance) else {
            return declined("its segments reach the top of the address space");
        };
        (start, vstart)
    } else {
        // Above everything, file offset and address congruent modulo the alignment, and
        // on a page of its own in the file: a shared object from GNU ld has no
        // `PT_PHDR`, so glibc takes the program headers from the first load segment whose
        // page-rounded file mapping covers `e_phoff`. Sharing a page with the last
        // segment's tail would make that the one, and its `.bss` zeroes that page. 64 KB
        // is the largest page size of the machines shenzi targets.
        let page = align.min(0x1_0000);
        let Some(start) = align_up(file_len, page) else {
            return declined("the file is too large");
        };
        let Some(vstart) = above.checked_add(start % align) else {
            return declined("its segments reach the top of the address space");
        };
        (start, vstart)
    };
    Ok(Placement {
        start,
        vstart,
        align,
    })
}

/// Dynamic entries as bytes, padded with DT_NULL to `slots` entries.
fn dynamic_table(entries: &[(u64, u64)], slots: usize) -> Vec<u8> {
    let mut table = Vec::with_capacity(slots.max(entries.len()) * DYN);
    for (tag, val) in entries {
        table.extend(tag.to_le_bytes());
        table.extend(val.to_le_bytes());
    }
    table.resize(slots.max(entries.len()) * DYN, 0);
    table
}

/// The value of dynamic tag `tag`: of the last entry, as the loader keeps the last of a
/// tag that appears twice.
fn last_value(entries: &[(u64, u64)], tag: u64) -> Option<u64> {
    entries
        .iter()
        .rev()
        .find(|(t, _)| *t == tag)
        .map(|(_, v)| *v)
}

/// The new name `renames` gives `name`, if any.
fn renamed_to<'r>(renames: &'r [(String, String)], name: &[u8]) -> Option<&'r str> {
    renames
        .iter()
        .find(|(old, _)| old.as_bytes() == name)
        .map(|(_, new)| new.as_str())
}

/// Points `vn_file` of the version needs naming a renamed library at its new name:
/// glibc finds the object a version belongs to by that name.
fn rename_version_files(
    b: &Bytes<'_>,
    entries: &[(u64, u64)],
    file_offset: &dyn Fn(u64) -> Option<u64>,
    strings: &mut Strings<'_>,
    renames: &[(String, String)],
    writes: &mut Vec<(u64, Vec<u8>)>,
) -> Result<(), Declined> {
    let value = |tag: u64| last_value(entries, tag);
    let (Some(verneed), Some(count)) = (value(DT_VERNEED), value(DT_VERNEEDNUM)) else {
        return Ok(());
    };
    let Some(mut at) = file_offset(verneed) else {
        return declined("its version needs lie outside the file");
    };
    for _ in 0..count {
        b.slice(at, 16)?;
        let file = u64::from(b.u32(at + 4)?);
        let renamed = strings
            .get(file)
            .and_then(|name| renamed_to(renames, name))
            .map(str::to_owned);
        if let Some(renamed) = renamed {
            let Ok(offset) = u32::try_from(strings.offset_of(&renamed)) else {
                return declined("its string table is too large");
            };
            writes.push((at + 4, offset.to_le_bytes().to_vec()));
        }
        let next = u64::from(b.u32(at + 12)?);
        if next == 0 {
            break;
        }
        at = offset(at, next)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn non_elf_and_foreign_objects_are_declined_not_panicked_on() {
        let edits = ElfEdits {
            runpath: Some(vec!["$ORIGIN".into()]),
            ..ElfEdits::default()
        };
        assert!(prepare(b"", &edits).is_err());
        assert!(prepare(b"#!/bin/sh\n", &edits).is_err());
        let mut elf32 = b"\x7fELF\x01\x01\x01".to_vec();
        elf32.resize(64, 0);
        assert_eq!(
            prepare(&elf32, &edits).unwrap_err().0,
            "not a little-endian 64-bit ELF object"
        );
        // Every prefix of a header that claims more than it has.
        let mut header = b"\x7fELF\x02\x01\x01".to_vec();
        header.resize(64, 0);
        header[16] = 3; // ET_DYN
        header[32] = 64; // e_phoff
        header[54] = 56; // e_phentsize
        header[56] = 200; // e_phnum
        for len in 0..header.len() {
            assert!(prepare(&header[..len], &edits).is_err());
        }
    }

    #[test]
    fn strings_reuse_existing_tails_and_append_the_rest() {
        let mut s = Strings {
            old: b"\0libfoo.so.1\0$ORIGIN/../lib\0",
            added: Vec::new(),
        };
        assert_eq!(s.offset_of("libfoo.so.1"), 1);
        assert_eq!(s.offset_of("foo.so.1"), 4);
        assert_eq!(s.offset_of("$ORIGIN/../lib"), 13);
        let new = s.offset_of("$ORIGIN/x");
        assert_eq!(new, 28);
        assert_eq!(s.offset_of("$ORIGIN/x"), 28, "added once");
        assert_eq!(s.get(new), Some(&b"$ORIGIN/x"[..]));
    }
}
