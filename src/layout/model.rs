//! The resolved layout: names resolved, templates parsed, globs compiled and every
//! static rule checked. The planner uses it without checking anything again; spans are
//! kept so later phases can point back into the layout.

use globset::{Glob, GlobSet, GlobSetBuilder};

pub use super::flags::Flag;
pub use super::limits::{GLOB_MAX_LEN, GLOB_MAX_NESTING};
use super::span::{Span, Spanned};
use super::template::Template;
use super::vars::Kind;
pub use crate::manifest::SiteKind;

/// Index of a unit in [`Layout::units`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct UnitId(pub usize);

/// Index of a farm in [`Layout::farms`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FarmId(pub usize);

/// A checked layout.
#[derive(Debug, Clone)]
pub struct Layout {
    /// From `layout NAME`, when given.
    pub name: Option<Spanned<String>>,
    pub system: SystemPolicy,
    pub farms: Vec<Farm>,
    /// In the order written; the planner evaluates them in this order.
    pub units: Vec<Unit>,
    pub launcher: Option<Launcher>,
    /// What `apply -o` writes: the dist folder, or the dist as one file.
    pub output: Spanned<Output>,
    pub conflicts: Spanned<ConflictPolicy>,
    pub unclaimed: Spanned<Unclaimed>,
    /// What of the shipped binaries' sections is dropped on the way into the dist.
    pub strip: Spanned<Strip>,
    /// Traced files that need no unit (matched against their absolute real path).
    pub ignore: Globs,
}

impl Layout {
    pub fn unit(&self, id: UnitId) -> &Unit {
        &self.units[id.0]
    }

    pub fn farm(&self, id: FarmId) -> &Farm {
        &self.farms[id.0]
    }

    /// The unit named `name`.
    pub fn unit_named(&self, name: &str) -> Option<UnitId> {
        self.units
            .iter()
            .position(|u| u.name.value == name)
            .map(UnitId)
    }

    /// The units taking `kind`, in order.
    pub fn units_taking(&self, kind: Kind) -> impl Iterator<Item = UnitId> + '_ {
        self.units
            .iter()
            .enumerate()
            .filter(move |(_, u)| u.takes(kind))
            .map(|(i, _)| UnitId(i))
    }
}

/// A logical group of files and where it goes.
#[derive(Debug, Clone)]
pub struct Unit {
    pub name: Spanned<String>,
    /// The whole `unit ... { }` block.
    pub span: Span,
    /// What it takes, in order, without repeats.
    pub kinds: Vec<Spanned<Kind>>,
    /// Files must match one of these (empty: every file).
    pub only: Globs,
    pub exclude: Globs,
    /// For `python.site_dirs`: everything, or the imported packages only.
    pub select: Spanned<Select>,
    /// For site dir kinds: only site dirs of these kinds (`None`: every site dir).
    pub sites: Option<Vec<Spanned<SiteKind>>>,
    /// Where each file goes; `None` only for `move` and `skip`.
    pub destination: Option<Template>,
    pub action: Spanned<Action>,
    /// The farm its shared libraries and extension modules join.
    pub farm: Option<Spanned<FarmId>>,
    /// Whether callers of its run-time loads get a RUNPATH entry to them.
    pub serve_callers: Option<Span>,
    /// How a symlink inside a source tree the unit walks is written.
    pub symlinks: Spanned<Symlinks>,
    /// `pack zip "..."`: the unit's files that can be imported from an archive go into
    /// one, on `sys.path` before the unit's folder.
    pub pack: Option<Pack>,
    /// Files of a packed unit kept as files (`unpacked`), matched as `only` is.
    pub unpacked: Globs,
}

/// Where a packed unit's archive goes (`pack zip "..."`).
#[derive(Debug, Clone)]
pub struct Pack {
    /// Relative to the dist root; common variables only.
    pub archive: Template,
    /// The whole statement.
    pub span: Span,
}

impl Unit {
    /// Whether files of a site dir of this kind belong to the unit.
    pub fn takes_site(&self, kind: SiteKind) -> bool {
        self.sites
            .as_ref()
            .is_none_or(|sites| sites.iter().any(|s| s.value == kind))
    }

    pub fn takes(&self, kind: Kind) -> bool {
        self.kinds.iter().any(|k| k.value == kind)
    }

    /// Whether a file with `subject` (see [`super::vars::KindInfo::matched`]) belongs to
    /// this unit by its globs.
    pub fn selects(&self, subject: &str) -> bool {
        (self.only.is_empty() || self.only.is_match(subject)) && !self.exclude.is_match(subject)
    }
}

/// How site dir kinds are written in `site`.
pub const SITE_KIND_NAMES: &[&str] = &["venv", "system", "user"];

/// `select all` or `select imported`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Select {
    All,
    Imported,
}

impl Select {
    pub const NAMES: &'static [&'static str] = &["all", "imported"];
}

/// How a unit writes a symlink it finds inside a source tree (a site dir, the stdlib, an
/// app folder) whose target lies inside the same tree. A link pointing outside its tree is
/// never followed, whichever is chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Symlinks {
    /// As a relative symlink to where the unit places the target (a copy when the unit
    /// does not place the target, or cannot keep the tree's shape).
    Keep,
    /// As a copy of the target (a folder link: the folder's files below the link's path).
    Copy,
}

impl Symlinks {
    pub const NAMES: &'static [&'static str] = &["keep", "copy"];
}

/// What happens to a unit's files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Written at the destination (reflink or copy; never a hard link to a source).
    Copy,
    /// The real file goes to the farm; the destination is a symlink to it.
    Symlink,
    /// The real file goes to the farm only; nothing at a destination.
    Move,
    /// Claimed but not written.
    Skip,
}

impl Action {
    pub const NAMES: &'static [&'static str] = &["copy", "symlink", "move", "skip"];

    pub fn name(self) -> &'static str {
        match self {
            Action::Copy => "copy",
            Action::Symlink => "symlink",
            Action::Move => "move",
            Action::Skip => "skip",
        }
    }
}

/// A symlink farm: every library stored once under `reals`, each with its own link
/// folder under `links` holding symlinks to what it needs.
#[derive(Debug, Clone)]
pub struct Farm {
    pub name: Spanned<String>,
    pub span: Span,
    /// The farm's folder in the dist.
    pub root: Spanned<String>,
    /// Where each library's real file goes, below the root.
    pub reals: Template,
    /// Each library's link folder, below the root.
    pub links: Template,
    /// How deep below the root every folder libraries are opened from lies; the
    /// farm's one RUNPATH entry climbs this many folders (`$ORIGIN/../..` for 2), from
    /// every one of them (`plan/build/runpath.rs`). Equal to the templates' depth.
    pub level: Spanned<usize>,
    /// The units whose libraries join, in layout order.
    pub members: Vec<UnitId>,
}

impl Farm {
    /// The RUNPATH prefix that climbs from any folder libraries are opened from back
    /// to the root: `$ORIGIN/../..` for level 2.
    pub fn runpath_up(&self) -> String {
        let mut out = String::from("$ORIGIN");
        for _ in 0..self.level.value {
            out.push_str("/..");
        }
        out
    }
}

/// Whether libstdc++ and libgcc_s are shipped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CxxRuntime {
    Bundle,
    System,
}

impl CxxRuntime {
    pub const NAMES: &'static [&'static str] = &["bundle", "system"];

    pub fn name(self) -> &'static str {
        match self {
            CxxRuntime::Bundle => "bundle",
            CxxRuntime::System => "system",
        }
    }
}

/// Where a system entry came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    Preset(&'static str),
    Written(Span),
    /// From the `cxx-runtime` choice.
    Cxx(Span),
}

/// A soname glob and where it came from.
#[derive(Debug, Clone)]
pub struct SystemEntry {
    pub pattern: String,
    pub origin: Origin,
}

/// The libraries the target provides, never bundled.
#[derive(Debug, Clone)]
pub struct SystemPolicy {
    pub presets: Vec<Spanned<&'static str>>,
    /// Provided: preset entries, `add`, and the C++ runtime under `cxx-runtime system`.
    pub provided: Vec<SystemEntry>,
    /// Bundled anyway: `remove`, and the C++ runtime under `cxx-runtime bundle`.
    pub bundled: Vec<SystemEntry>,
    pub cxx_runtime: Spanned<CxxRuntime>,
    pub(crate) provided_set: GlobSet,
    pub(crate) bundled_set: GlobSet,
}

impl SystemPolicy {
    /// Compiles the soname globs (each checked by the analyzer already). All of them
    /// together may still be too much for the regex engine: that is an error, not a
    /// panic.
    pub(crate) fn compile(&mut self) -> Result<(), globset::Error> {
        let set = |entries: &[SystemEntry]| {
            let mut set = GlobSetBuilder::new();
            for e in entries {
                set.add(Glob::new(&e.pattern)?);
            }
            set.build()
        };
        self.provided_set = set(&self.provided)?;
        self.bundled_set = set(&self.bundled)?;
        Ok(())
    }

    /// Whether the target provides the library with this SONAME (or file name).
    pub fn provides(&self, soname: &str) -> bool {
        self.provided_set.is_match(soname) && !self.bundled_set.is_match(soname)
    }

    /// The entry that makes the target provide `soname`, for explanations.
    pub fn provided_by(&self, soname: &str) -> Option<&SystemEntry> {
        if !self.provides(soname) {
            return None;
        }
        let first = self.provided_set.matches(soname).into_iter().next()?;
        self.provided.get(first)
    }
}

/// Compiled globs with the text and span of each. `*` and `?` stop at `/`; `**`
/// crosses folders.
#[derive(Debug, Clone)]
pub struct Globs {
    pub patterns: Vec<Spanned<String>>,
    /// One compiled set per pattern, in the same order.
    pub(crate) matchers: Vec<GlobSet>,
}

impl Globs {
    pub fn is_empty(&self) -> bool {
        self.patterns.is_empty()
    }

    pub fn is_match(&self, subject: &str) -> bool {
        self.matchers.iter().any(|m| m.is_match(subject))
    }

    /// The first pattern that matches `subject`, for a diagnostic's label.
    pub fn first_match(&self, subject: &str) -> Option<&Spanned<String>> {
        let i = self.matchers.iter().position(|m| m.is_match(subject))?;
        self.patterns.get(i)
    }
}

/// Two units writing one destination with different content is always an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConflictPolicy {
    /// The same content at one destination is fine.
    AllowIdentical,
    /// Any two writes to one destination are an error.
    Deny,
}

impl ConflictPolicy {
    pub const NAMES: &'static [&'static str] = &["allow-identical", "deny"];
}

/// What a traced file no unit claims is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unclaimed {
    Warn,
    Error,
    Ignore,
}

impl Unclaimed {
    pub const NAMES: &'static [&'static str] = &["warn", "error", "ignore"];
}

/// `strip`: what of each shipped ELF object is left out of its copy in the dist.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strip {
    /// Every byte as the source has it (the default).
    None,
    /// The debug sections, the symbol table and its strings: what no loader reads
    /// (`binary::strip`).
    Debug,
}

impl Strip {
    pub const NAMES: &'static [&'static str] = &["none", "debug"];
}

/// What `apply -o` writes.
#[derive(Debug, Clone)]
pub enum Output {
    /// The dist folder itself (the default).
    Folder,
    /// One executable file, `OUTPUT/NAME`, that extracts the dist into a cache once
    /// and runs its launcher (docs/onefile.md). Without a name, the launcher's file name.
    Onefile(Option<Template>),
}

impl Output {
    pub const NAMES: &'static [&'static str] = &["folder", "onefile"];
}

/// The program users run.
#[derive(Debug, Clone)]
pub struct Launcher {
    pub span: Span,
    /// Its path in the dist.
    pub path: Template,
    pub form: Spanned<LauncherForm>,
    /// The unit taking `python.interpreter`.
    pub python: Spanned<UnitId>,
    /// Units whose folders go on `sys.path`, in order.
    pub sys_path: Vec<Spanned<UnitId>>,
    /// Units taking `app.executables` whose folders go first on `PATH`, in order.
    pub programs: Vec<Spanned<UnitId>>,
    /// Environment variables the launcher sets, in order.
    pub env: Vec<Spanned<EnvSetting>>,
    pub entry: Spanned<LauncherEntry>,
    pub flags: Vec<Spanned<Flag>>,
}

/// An environment variable the launcher sets.
#[derive(Debug, Clone)]
pub enum EnvSetting {
    /// `env traced`: each variable the trace saw point a program at folders of its native
    /// data (`native_env`) is re-pointed to where `native.data` units put those folders.
    Traced,
    /// `env NAME "share/x"`: NAME is the dist's path `share/x`.
    Set { name: String, value: Template },
}

impl EnvSetting {
    /// Variables the launcher sets or clears itself: `PATH` (the `programs` folders), the
    /// loader's and the interpreter's.
    pub fn reserved(name: &str) -> bool {
        name == "PATH"
            || ["LD_", "DYLD_", "PYTHON"]
                .iter()
                .any(|prefix| name.starts_with(prefix))
    }

    /// Whether `name` can be a variable of a POSIX shell.
    pub fn is_name(name: &str) -> bool {
        let mut chars = name.chars();
        chars
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LauncherForm {
    /// A POSIX `sh` script that finds its own folder and execs the interpreter.
    Sh,
    /// A symlink to the interpreter: a `python` for the dist, with no entry.
    Symlink,
}

impl LauncherForm {
    pub const NAMES: &'static [&'static str] = &["sh", "symlink"];
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LauncherEntry {
    /// Start the app the way the trace started it.
    Traced,
    /// `python -m MODULE`.
    Module(String),
}

impl LauncherEntry {
    pub const NAMES: &'static [&'static str] = &["traced", "module"];
}
