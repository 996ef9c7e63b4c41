//! ELF objects as the loader reads them: what shenzi needs to know about one object.
//!
//! glibc's loader (`elf/dl-load.c`, `elf/dl-version.c`) reads the ELF header, the program
//! headers and, through the loadable segments, the dynamic segment, its string table, its
//! version needs and its symbol hash table. It never reads section headers: a library whose
//! section header table is cut off, points past the end of the file or is overwritten loads
//! fine. This reader reads what the loader reads and nothing else, with the loader's own
//! checks (identification, version, program header entry size, loadable segments that lie
//! in the file and are page-aligned, a dynamic segment in a shared object, version need
//! records of version 1), so that shenzi accepts exactly the objects the loader accepts.
//! Strings are read from memory as the loader sees it: through the loadable segments, by
//! address, not through `.dynstr`'s section header or `PT_DYNAMIC`'s file offset.
//!
//! Every read is bounds-checked and every sum checked (the module denies clippy's
//! `indexing_slicing` and `arithmetic_side_effects`): arbitrary bytes give a parse or a
//! reason, never a panic.

#![deny(clippy::indexing_slicing, clippy::arithmetic_side_effects)]

use super::format_id::FormatId;

/// `EM_X86_64`.
pub const EM_X86_64: u16 = 62;
/// `EM_AARCH64`.
pub const EM_AARCH64: u16 = 183;
/// `EM_386`.
pub const EM_386: u16 = 3;

/// `ET_EXEC`.
pub const ET_EXEC: u16 = 2;
/// `ET_DYN`.
pub const ET_DYN: u16 = 3;

/// `DF_1_NODEFLIB`: the object asks the loader not to search `ld.so.cache` and the
/// default directories for its needs.
const DF_1_NODEFLIB: u64 = 0x800;

/// What shenzi needs to know of one ELF object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectInfo {
    /// ELFCLASS64 (true) or ELFCLASS32.
    pub is_64: bool,
    /// `e_machine`.
    pub machine: u16,
    /// `e_type`: `ET_EXEC` (2) or `ET_DYN` (3) for everything the loader maps. Other
    /// types (`ET_REL` objects, core files) are read to their header only.
    pub elf_type: u16,
    /// `DT_SONAME` (the last one, as the loader takes it).
    pub soname: Option<String>,
    /// `DT_NEEDED`, in order.
    pub needed: Vec<String>,
    /// `DT_RPATH` entries, in order (empty entries dropped).
    pub rpath: Vec<String>,
    /// `DT_RUNPATH` entries, in order (empty entries dropped).
    pub runpath: Vec<String>,
    /// `PT_INTERP`: the program interpreter an executable asks for.
    pub interp: Option<String>,
    /// Whether `DT_FLAGS_1` has `DF_1_NODEFLIB`.
    pub nodeflib: bool,
    /// The symbol versions it needs from other objects (`DT_VERNEED`), in file order:
    /// `libc.so.6` → `GLIBC_2.34`, `libstdc++.so.6` → `GLIBCXX_3.4.29`, ...
    pub version_needs: Vec<VersionNeed>,
    /// Whether its dynamic symbol table defines `Py_BytesMain` or `Py_Main` (looked up
    /// through its hash table, as the loader looks symbols up): a Python interpreter or
    /// libpython.
    pub defines_py_main: bool,
    /// The format it was read as: the loader's search rules are the format's.
    pub format: FormatId,
}

/// One symbol version an object needs from one of its dependencies.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct VersionNeed {
    /// The dependency the version comes from (`libc.so.6`).
    pub file: String,
    /// The version name (`GLIBC_2.28`).
    pub version: String,
}

impl ObjectInfo {
    /// `DT_RPATH` as the loader sees it: ignored when the object also has `DT_RUNPATH`.
    pub fn effective_rpath(&self) -> &[String] {
        if self.runpath.is_empty() {
            &self.rpath
        } else {
            &[]
        }
    }

    /// A readable name of the object's class and machine (`x86_64`, `aarch64`, `i386`,
    /// or `elf32 machine 40`).
    pub fn arch_name(&self) -> String {
        arch_name(self.is_64, self.machine)
    }

    /// Whether the loader maps objects of its type (`ET_EXEC`, `ET_DYN`).
    pub fn is_loadable_type(&self) -> bool {
        matches!(self.elf_type, ET_EXEC | ET_DYN)
    }
}

/// A readable name of an ELF class and machine.
pub fn arch_name(is_64: bool, machine: u16) -> String {
    match (is_64, machine) {
        (true, EM_X86_64) => "x86_64".into(),
        (true, EM_AARCH64) => "aarch64".into(),
        (false, EM_386) => "i386".into(),
        (is_64, m) => format!("elf{} machine {m}", if is_64 { 64 } else { 32 }),
    }
}

pub(super) const ELF_MAGIC: &[u8; 4] = b"\x7fELF";

/// Parses ELF bytes; `Ok(None)` when they are not ELF, `Err(reason)` when they start
/// like ELF but the loader could not load them (truncated, damaged, or refused by one of
/// its checks). Never panics.
///
/// Objects of another class or machine are parsed in full when they can be; when they
/// are damaged past the point where this machine's loader skips them (it checks the
/// class first, the machine after the identification), only their header is read, as
/// that is all the loader looks at before moving on: the answer is the header (class,
/// machine, type), not an error. An object of this machine's class in the other byte
/// order is refused, as the loader refuses it.
pub fn parse_object(bytes: &[u8]) -> Result<Option<ObjectInfo>, String> {
    if bytes.get(..4) != Some(&ELF_MAGIC[..]) {
        return Ok(None);
    }
    parse_claimed(bytes).map(Some)
}

/// [`parse_object`] of bytes that start with the ELF magic ([`super::format::Elf`]'s
/// `read`).
pub(super) fn parse_claimed(bytes: &[u8]) -> Result<ObjectInfo, String> {
    match parse_elf(bytes) {
        Ok(info) => Ok(info),
        Err(Damage {
            skipped: Some(header),
            ..
        }) => Ok(*header),
        Err(Damage { reason, .. }) => Err(reason),
    }
}

/// [`parse_object`] without the leniency for objects the host loader skips: the whole
/// object as the loader of its own machine reads it, or why it cannot be read (for the
/// ELF editor, which must read everything it rewrites).
pub(super) fn parse_whole(bytes: &[u8]) -> Result<ObjectInfo, String> {
    parse_elf(bytes).map_err(|damage| damage.reason)
}

/// The class this build's loader loads (ELFCLASS64 on 64-bit machines).
const HOST_64: bool = cfg!(target_pointer_width = "64");
/// The byte order of this machine.
const HOST_BIG: bool = cfg!(target_endian = "big");
/// This machine's `e_machine`, when shenzi knows it.
const HOST_MACHINE: Option<u16> = if cfg!(target_arch = "x86_64") {
    Some(EM_X86_64)
} else if cfg!(target_arch = "aarch64") {
    Some(EM_AARCH64)
} else {
    None
};

/// Why an object cannot be loaded, and its header when this machine's loader skips it
/// before reaching that reason.
struct Damage {
    reason: String,
    skipped: Option<Box<ObjectInfo>>,
}

impl From<String> for Damage {
    fn from(reason: String) -> Damage {
        Damage {
            reason,
            skipped: None,
        }
    }
}

impl From<&str> for Damage {
    fn from(reason: &str) -> Damage {
        Damage::from(reason.to_owned())
    }
}

/// The user address space of x86_64 (47 bits; aarch64 has 48): no larger span of
/// segments can be mapped.
const ADDRESS_SPACE: u64 = 1 << 47;

/// The smallest page size of the machines shenzi targets: the loader maps segments in
/// pages, and refuses one whose address and file offset differ within a page.
const PAGE: u64 = 4096;

const PT_LOAD: u32 = 1;
const PT_DYNAMIC: u32 = 2;
const PT_INTERP: u32 = 3;

const DT_NULL: u64 = 0;
const DT_NEEDED: u64 = 1;
const DT_HASH: u64 = 4;
const DT_STRTAB: u64 = 5;
const DT_SYMTAB: u64 = 6;
const DT_STRSZ: u64 = 10;
const DT_SONAME: u64 = 14;
const DT_RPATH: u64 = 15;
const DT_RUNPATH: u64 = 29;
const DT_GNU_HASH: u64 = 0x6fff_fef5;
const DT_FLAGS_1: u64 = 0x6fff_fffb;
const DT_VERNEED: u64 = 0x6fff_fffe;

/// `ELFOSABI_SYSV`, `ELFOSABI_GNU`: the OS ABIs glibc loads.
const OSABI_SYSV: u8 = 0;
const OSABI_GNU: u8 = 3;
/// The highest `EI_ABIVERSION` glibc 2.36 accepts with `ELFOSABI_GNU` (its
/// `LIBC_ABI_MAX` - 1: unique symbols, IFUNC, absolute symbols); measured: 4 is refused
/// with "ELF file ABI version invalid".
const MAX_GNU_ABIVERSION: u8 = 3;

/// More version need entries than any real object has (glibc's libc needs a handful,
/// a large C++ library a few dozen): a chain longer than this is damage.
const MAX_VERSION_NEEDS: usize = 1 << 16;

/// Class- and byte-order-aware reads that give `None` past the end, never panic.
#[derive(Clone, Copy)]
struct Reader<'a> {
    bytes: &'a [u8],
    is_64: bool,
    big: bool,
}

impl<'a> Reader<'a> {
    /// The same file's view of other bytes (a segment's).
    fn over(self, bytes: &'a [u8]) -> Reader<'a> {
        Reader { bytes, ..self }
    }

    fn slice(&self, at: u64, len: u64) -> Option<&'a [u8]> {
        let start = usize::try_from(at).ok()?;
        let len = usize::try_from(len).ok()?;
        self.bytes.get(start..start.checked_add(len)?)
    }

    /// The bytes from `at` to the end.
    fn from(&self, at: u64) -> Option<&'a [u8]> {
        self.bytes.get(usize::try_from(at).ok()?..)
    }

    fn array<const N: usize>(&self, at: u64) -> Option<[u8; N]> {
        self.slice(at, N as u64)?.try_into().ok()
    }

    fn u16(&self, at: u64) -> Option<u16> {
        let a = self.array(at)?;
        Some(if self.big {
            u16::from_be_bytes(a)
        } else {
            u16::from_le_bytes(a)
        })
    }

    fn u32(&self, at: u64) -> Option<u32> {
        let a = self.array(at)?;
        Some(if self.big {
            u32::from_be_bytes(a)
        } else {
            u32::from_le_bytes(a)
        })
    }

    fn u64(&self, at: u64) -> Option<u64> {
        let a = self.array(at)?;
        Some(if self.big {
            u64::from_be_bytes(a)
        } else {
            u64::from_le_bytes(a)
        })
    }

    /// An address-sized field: 8 bytes in ELF64, 4 in ELF32.
    fn word(&self, at: u64) -> Option<u64> {
        if self.is_64 {
            self.u64(at)
        } else {
            self.u32(at).map(u64::from)
        }
    }

    /// The NUL-terminated string at `at`; `None` when no NUL ends it within the slice.
    fn string(&self, at: u64) -> Option<String> {
        let rest = self.from(at)?;
        let end = rest.iter().position(|&b| b == 0)?;
        Some(String::from_utf8_lossy(rest.get(..end)?).into_owned())
    }
}

/// One program header, the fields the loader uses.
#[derive(Debug, Clone, Copy)]
struct Segment {
    p_type: u32,
    offset: u64,
    vaddr: u64,
    filesz: u64,
    memsz: u64,
}

/// The object's memory as the loader maps it: loadable segments, their file bytes, and
/// zeros up to their memory size.
struct Memory<'a> {
    file: Reader<'a>,
    loads: Vec<Segment>,
}

impl<'a> Memory<'a> {
    /// The bytes at address `vaddr` to the end of its segment's file bytes (empty where
    /// the loader zero-fills), or `None` when no segment maps the address. Where
    /// segments overlap, the last one's: the loader maps them in order, each over the
    /// ones before.
    fn at(&self, vaddr: u64) -> Option<Reader<'a>> {
        let load = self.loads.iter().rev().find(|p| {
            vaddr
                .checked_sub(p.vaddr)
                .is_some_and(|into| into < p.filesz.max(p.memsz))
        })?;
        let into = vaddr.checked_sub(load.vaddr)?;
        let bytes = match load.filesz.checked_sub(into) {
            Some(left) if left > 0 => self.file.slice(load.offset.checked_add(into)?, left)?,
            _ => &[],
        };
        Some(self.file.over(bytes))
    }
}

fn parse_elf(bytes: &[u8]) -> Result<ObjectInfo, Damage> {
    let ident: [u8; 16] = bytes
        .get(..16)
        .and_then(|b| b.try_into().ok())
        .ok_or("truncated: its ELF identification is cut off")?;
    let is_64 = match ident[4] {
        1 => false,
        2 => true,
        class => return Err(format!("unknown ELF class {class}").into()),
    };
    // An unknown byte order reads as little-endian, to name the machine.
    let big = ident[5] == 2;
    let file = Reader { bytes, is_64, big };
    let cut = || "truncated: its ELF header is cut off".to_owned();
    if bytes.len() < if is_64 { 64 } else { 52 } {
        return Err(cut().into());
    }
    let elf_type = file.u16(16).ok_or_else(cut)?;
    let machine = file.u16(18).ok_or_else(cut)?;
    let header = ObjectInfo {
        is_64,
        machine,
        elf_type,
        soname: None,
        needed: Vec::new(),
        rpath: Vec::new(),
        runpath: Vec::new(),
        interp: None,
        nodeflib: false,
        version_needs: Vec::new(),
        defines_py_main: false,
        format: FormatId::Elf,
    };
    // The loader skips an object of another class before any other check, and one of
    // another machine after the identification checks.
    let skip = |identified: bool| {
        (is_64 != HOST_64 || identified && HOST_MACHINE.is_some_and(|m| m != machine))
            .then(|| Box::new(header.clone()))
    };
    identify(&ident, &file).map_err(|reason| Damage {
        reason,
        skipped: skip(false),
    })?;
    parse_loadable(file, header.clone()).map_err(|reason| Damage {
        reason,
        skipped: skip(true),
    })
}

/// The loader's checks of the identification and the ELF version.
fn identify(ident: &[u8; 16], file: &Reader<'_>) -> Result<(), String> {
    match ident[5] {
        1 | 2 if file.is_64 == HOST_64 && file.big != HOST_BIG => {
            return Err(format!(
                "its data encoding is {}-endian, and the loader of this machine reads only {}-endian objects",
                if file.big { "big" } else { "little" },
                if HOST_BIG { "big" } else { "little" },
            ));
        }
        1 | 2 => {}
        data => return Err(format!("unknown ELF data encoding {data}")),
    }
    check_ident(ident)?;
    let version = file.u32(20).ok_or("truncated: its ELF header is cut off")?;
    if version != 1 {
        return Err(format!(
            "its ELF version is {version}, not 1: the loader refuses it"
        ));
    }
    Ok(())
}

/// Reads the program headers and the dynamic segment of an identified object.
fn parse_loadable(file: Reader<'_>, mut info: ObjectInfo) -> Result<ObjectInfo, String> {
    let (bytes, is_64) = (file.bytes, file.is_64);
    let field = |at64: u64, at32: u64| if is_64 { at64 } else { at32 };
    let cut = || "truncated: its ELF header is cut off".to_owned();
    let elf_type = info.elf_type;
    if !info.is_loadable_type() {
        return Ok(info);
    }

    let phoff = file.word(field(32, 28)).ok_or_else(cut)?;
    let phentsize = file.u16(field(54, 42)).ok_or_else(cut)?;
    let phnum = file.u16(field(56, 44)).ok_or_else(cut)?;
    let expected: u16 = if is_64 { 56 } else { 32 };
    if phentsize != expected {
        return Err(format!(
            "its program header entries are {phentsize} bytes, not {expected}: the loader refuses it"
        ));
    }
    let table_len = u64::from(phnum).saturating_mul(u64::from(phentsize));
    if file.slice(phoff, table_len).is_none() {
        return Err(format!(
            "truncated: its program headers ({table_len} bytes at offset {phoff}) lie past the end of the file ({} bytes)",
            bytes.len()
        ));
    }
    let segments: Vec<Segment> = (0..u64::from(phnum))
        .map(|i| {
            read_segment(
                &file,
                phoff.checked_add(i.checked_mul(u64::from(phentsize))?)?,
            )
        })
        .collect::<Option<_>>()
        .ok_or("its program headers are damaged")?;

    let loads: Vec<Segment> = segments
        .iter()
        .filter(|p| p.p_type == PT_LOAD)
        .copied()
        .collect();
    if loads.is_empty() {
        return Err("it has no loadable segment: the loader refuses it".into());
    }
    for (i, load) in loads.iter().enumerate() {
        let end = load.offset.checked_add(load.filesz);
        if load.filesz > 0 && end.is_none_or(|end| end > bytes.len() as u64) {
            return Err(format!(
                "truncated: its loadable segment {i} ({} bytes at offset {}) reaches past the end of the file ({} bytes)",
                load.filesz,
                load.offset,
                bytes.len()
            ));
        }
        if load.vaddr.wrapping_sub(load.offset) % PAGE != 0 {
            return Err(format!(
                "its loadable segment {i} has an address and file offset that differ within a page: the loader refuses it"
            ));
        }
    }
    // The loader reserves the whole span first, and maps each segment's zero-fill.
    let start = loads.iter().map(|p| p.vaddr).min().unwrap_or(0);
    let end = loads
        .iter()
        .map(|p| p.vaddr.checked_add(p.filesz.max(p.memsz)))
        .try_fold(0u64, |end, e| e.map(|e| end.max(e)));
    if end.is_none_or(|end| end.saturating_sub(start) > ADDRESS_SPACE) {
        return Err(
            "its loadable segments span more than the address space: the loader cannot map them"
                .into(),
        );
    }
    info.interp = segments
        .iter()
        .find(|p| p.p_type == PT_INTERP)
        .and_then(|p| file.over(file.slice(p.offset, p.filesz)?).string(0));

    // The loader takes the last `PT_DYNAMIC`.
    let Some(dynamic) = segments.iter().rev().find(|p| p.p_type == PT_DYNAMIC) else {
        if elf_type == ET_DYN {
            return Err("it has no dynamic segment (`PT_DYNAMIC`): the loader refuses it".into());
        }
        // A statically linked executable.
        return Ok(info);
    };
    let memory = Memory { file, loads };
    let dynamic = memory
        .at(dynamic.vaddr)
        .ok_or("its dynamic segment lies outside its loadable segments")?;
    read_dynamic(&memory, dynamic, &mut info)?;
    Ok(info)
}

/// The loader's identification checks, after class and data encoding.
fn check_ident(ident: &[u8; 16]) -> Result<(), String> {
    let (version, osabi, abiversion) = (ident[6], ident[7], ident[8]);
    if version != 1 {
        return Err(format!(
            "its identification version is {version}, not 1: the loader refuses it"
        ));
    }
    if osabi != OSABI_SYSV && osabi != OSABI_GNU {
        return Err(format!(
            "its OS ABI is {osabi}, neither System V (0) nor GNU/Linux (3): the loader refuses it"
        ));
    }
    if abiversion != 0 && !(osabi == OSABI_GNU && abiversion <= MAX_GNU_ABIVERSION) {
        return Err(format!(
            "its ABI version is {abiversion}, which the loader does not know: the loader refuses it"
        ));
    }
    if ident[9..].iter().any(|&b| b != 0) {
        return Err(
            "its identification has nonzero padding (bytes 9 to 15): the loader refuses it".into(),
        );
    }
    Ok(())
}

fn read_segment(file: &Reader<'_>, at: u64) -> Option<Segment> {
    let field = |rel: u64| at.checked_add(rel);
    Some(if file.is_64 {
        Segment {
            p_type: file.u32(at)?,
            offset: file.u64(field(8)?)?,
            vaddr: file.u64(field(16)?)?,
            filesz: file.u64(field(32)?)?,
            memsz: file.u64(field(40)?)?,
        }
    } else {
        Segment {
            p_type: file.u32(at)?,
            offset: u64::from(file.u32(field(4)?)?),
            vaddr: u64::from(file.u32(field(8)?)?),
            filesz: u64::from(file.u32(field(16)?)?),
            memsz: u64::from(file.u32(field(20)?)?),
        }
    })
}

/// Reads the dynamic entries up to `DT_NULL` (or the end of the segment's file bytes:
/// zeros follow in memory) into `info`.
fn read_dynamic(
    memory: &Memory<'_>,
    dynamic: Reader<'_>,
    info: &mut ObjectInfo,
) -> Result<(), String> {
    let entry = if dynamic.is_64 { 16 } else { 8 };
    let word = entry / 2;
    let mut needed = Vec::new();
    // Single-valued tags: the loader keeps the last one.
    let (mut strtab, mut strsz, mut soname, mut rpath, mut runpath) =
        (None, None, None, None, None);
    let (mut verneed, mut symtab, mut hash, mut gnu_hash) = (None, None, None, None);
    let mut at = 0u64;
    while let (Some(tag), Some(val)) = (
        dynamic.word(at),
        at.checked_add(word).and_then(|v| dynamic.word(v)),
    ) {
        match tag {
            DT_NULL => break,
            DT_NEEDED => needed.push(val),
            DT_STRTAB => strtab = Some(val),
            DT_STRSZ => strsz = Some(val),
            DT_SONAME => soname = Some(val),
            DT_RPATH => rpath = Some(val),
            DT_RUNPATH => runpath = Some(val),
            DT_FLAGS_1 => info.nodeflib = val & DF_1_NODEFLIB != 0,
            DT_VERNEED => verneed = Some(val),
            DT_SYMTAB => symtab = Some(val),
            DT_HASH => hash = Some(val),
            DT_GNU_HASH => gnu_hash = Some(val),
            _ => {}
        }
        let Some(next) = at.checked_add(entry) else {
            break;
        };
        at = next;
    }
    let names_strings = !needed.is_empty()
        || soname.is_some()
        || rpath.is_some()
        || runpath.is_some()
        || verneed.is_some();
    let Some(strtab) = strtab else {
        return if names_strings {
            Err("its dynamic section names strings but has no string table (`DT_STRTAB`)".into())
        } else {
            Ok(())
        };
    };
    let strings = memory
        .at(strtab)
        .ok_or("its dynamic string table lies outside its loadable segments")?;
    // Strings lie inside the table: `DT_STRSZ` bounds it (the loader does not look,
    // but no linker writes a string past it, and an edit that moves the table could
    // not keep one there).
    let strings = match strsz.and_then(|len| strings.slice(0, len)) {
        Some(table) => strings.over(table),
        None => strings,
    };
    let string = |offset: u64| {
        strings
            .string(offset)
            .ok_or("a dynamic string lies past the end of its string table")
    };
    for offset in needed {
        info.needed.push(string(offset)?);
    }
    info.soname = soname.map(string).transpose()?;
    let split = |list: String| -> Vec<String> {
        list.split(':')
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect()
    };
    info.rpath = rpath
        .map(string)
        .transpose()?
        .map(split)
        .unwrap_or_default();
    info.runpath = runpath
        .map(string)
        .transpose()?
        .map(split)
        .unwrap_or_default();
    if let Some(verneed) = verneed {
        info.version_needs = version_needs(memory, verneed, &strings)?;
    }
    if let Some(symtab) = symtab.and_then(|s| memory.at(s)) {
        let table = Symbols {
            symtab,
            strings,
            gnu_hash: gnu_hash.and_then(|h| memory.at(h)),
            hash: hash.and_then(|h| memory.at(h)),
        };
        info.defines_py_main = table.defines("Py_BytesMain") || table.defines("Py_Main");
    }
    Ok(())
}

/// Walks the `Verneed` records and their `Vernaux` entries by their `next` offsets, as
/// the loader does.
fn version_needs(
    memory: &Memory<'_>,
    verneed: u64,
    strings: &Reader<'_>,
) -> Result<Vec<VersionNeed>, String> {
    let records = memory
        .at(verneed)
        .ok_or("its version needs lie outside its loadable segments")?;
    let damaged = || "its version needs are damaged or cut off".to_owned();
    let mut out = Vec::new();
    let mut at = 0u64;
    loop {
        let field = |rel: u64| at.checked_add(rel).ok_or_else(damaged);
        let version = records.u16(at).ok_or_else(damaged)?;
        if version != 1 {
            return Err(format!(
                "its version need record has version {version}, not 1: the loader refuses it"
            ));
        }
        let file = records.u32(field(4)?).ok_or_else(damaged)?;
        let aux = records.u32(field(8)?).ok_or_else(damaged)?;
        let next = records.u32(field(12)?).ok_or_else(damaged)?;
        let file = strings.string(u64::from(file)).ok_or_else(damaged)?;
        let mut aux_at = field(u64::from(aux))?;
        loop {
            let name = aux_at.checked_add(8).and_then(|a| records.u32(a));
            let aux_next = aux_at.checked_add(12).and_then(|a| records.u32(a));
            let (Some(name), Some(aux_next)) = (name, aux_next) else {
                return Err(damaged());
            };
            out.push(VersionNeed {
                file: file.clone(),
                version: strings.string(u64::from(name)).ok_or_else(damaged)?,
            });
            if out.len() > MAX_VERSION_NEEDS {
                return Err(damaged());
            }
            if aux_next == 0 {
                break;
            }
            aux_at = aux_at
                .checked_add(u64::from(aux_next))
                .ok_or_else(damaged)?;
        }
        if next == 0 {
            return Ok(out);
        }
        at = field(u64::from(next))?;
    }
}

/// The dynamic symbol table and the hash table the loader finds symbols through.
struct Symbols<'a> {
    symtab: Reader<'a>,
    strings: Reader<'a>,
    gnu_hash: Option<Reader<'a>>,
    hash: Option<Reader<'a>>,
}

impl Symbols<'_> {
    /// Whether a symbol `name` is defined (not `SHN_UNDEF`), looked up as `dlsym` does:
    /// through `DT_GNU_HASH` when there is one, else `DT_HASH`. A damaged table finds
    /// nothing.
    fn defines(&self, name: &str) -> bool {
        let found = match (&self.gnu_hash, &self.hash) {
            (Some(table), _) => self.gnu_lookup(table, name),
            (None, Some(table)) => self.sysv_lookup(table, name),
            (None, None) => None,
        };
        found.unwrap_or(false)
    }

    /// Whether symbol `index` is `name` and defined.
    fn is(&self, index: u64, name: &str) -> Option<bool> {
        let (size, shndx) = if self.symtab.is_64 { (24, 6) } else { (16, 14) };
        let at = index.checked_mul(size)?;
        let st_name = self.symtab.u32(at)?;
        let defined = self.symtab.u16(at.checked_add(shndx)?)? != 0;
        Some(defined && self.strings.string(u64::from(st_name))? == name)
    }

    fn gnu_lookup(&self, table: &Reader<'_>, name: &str) -> Option<bool> {
        let hash = name.bytes().fold(5381u32, |h, c| {
            h.wrapping_mul(33).wrapping_add(u32::from(c))
        });
        let nbuckets = table.u32(0)?;
        let symoffset = table.u32(4)?;
        let bloom_words = table.u32(8)?;
        let word = if table.is_64 { 8 } else { 4 };
        let buckets = u64::from(bloom_words).checked_mul(word)?.checked_add(16)?;
        let chains = buckets.checked_add(u64::from(nbuckets).checked_mul(4)?)?;
        let bucket = hash.checked_rem(nbuckets)?;
        let mut index = table.u32(buckets.checked_add(u64::from(bucket).checked_mul(4)?)?)?;
        if index < symoffset {
            return Some(false);
        }
        loop {
            let chain_at = u64::from(index.checked_sub(symoffset)?).checked_mul(4)?;
            let chain_hash = table.u32(chains.checked_add(chain_at)?)?;
            if chain_hash | 1 == hash | 1 && self.is(u64::from(index), name)? {
                return Some(true);
            }
            if chain_hash & 1 != 0 {
                return Some(false);
            }
            index = index.checked_add(1)?;
        }
    }

    fn sysv_lookup(&self, table: &Reader<'_>, name: &str) -> Option<bool> {
        let hash = name.bytes().fold(0u32, |h, c| {
            let h = (h << 4).wrapping_add(u32::from(c));
            let high = h & 0xf000_0000;
            (h ^ (high >> 24)) & !high
        });
        let nbucket = table.u32(0)?;
        let nchain = table.u32(4)?;
        let bucket = hash.checked_rem(nbucket)?;
        let chains = u64::from(nbucket).checked_mul(4)?.checked_add(8)?;
        let mut index = table.u32(u64::from(bucket).checked_mul(4)?.checked_add(8)?)?;
        // A chain longer than the table is a loop in a damaged table.
        for _ in 0..nchain {
            if index == 0 {
                return Some(false);
            }
            if self.is(u64::from(index), name)? {
                return Some(true);
            }
            index = table.u32(chains.checked_add(u64::from(index).checked_mul(4)?)?)?;
        }
        Some(false)
    }
}
