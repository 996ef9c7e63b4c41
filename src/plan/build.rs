//! Evaluating a layout against a manifest: which files each unit takes, where each goes,
//! where every binary's libraries live and what RUNPATH finds them, all proven with the
//! resolver before anything is written.
//!
//! Native placement, for each shipped binary B (its real file at R):
//! - B's needs are the farm graph's edges (resolved on the machine that traced, as the
//!   loader did). A need the system policy provides is left to the target.
//! - In a farm, B gets its own link folder (the farm's `links` template), holding one
//!   symlink per need, named as needed, pointing at the needed library's real file.
//!   Without a farm, each needed library's folder is used directly (with a symlink named
//!   as needed beside the file when the names differ).
//! - B can be opened from R's folder and from the folder of every symlink to it; for each
//!   such folder O, B's RUNPATH gets `$ORIGIN/<O to its link folder>`; from a folder
//!   of B's farm (at the farm's `level`) that is the farm's one entry, `$ORIGIN`, up
//!   `level` folders, down to the link folder. Any other shape is caught by the proof.
//! - Run-time loads of units that `serve callers` are served without `LD_LIBRARY_PATH`:
//!   the objects that asked (`_ctypes` for ctypes, `_cffi_backend` for cffi; for loads
//!   the trace derived from the mappings, `_cffi_backend` when imported, else the
//!   interpreter's libpython) get a RUNPATH entry to the folder holding them, and that
//!   folder gets a symlink for every name they were asked by.
//! - Proof: every binary, from every folder it can be opened from, has each need
//!   resolved by [`crate::loader::resolve`] over a virtual view of the planned dist and a
//!   target that has only the policy's libraries. Anything but the intended file is a
//!   diagnostic pointing at the farm.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use petgraph::graph::NodeIndex;

mod launch;
mod libraries;
mod links;
mod native;
mod output;
mod pack;
mod paths;
mod place;
mod programs;
mod proof;
mod runpath;
mod summary;
mod take;

use links::TreeLink;
use output::Output;
pub use pack::{Kept, KeptWhy, Packed};
pub use paths::relative;
use paths::{file_name, origin_entry, parent, under};
pub use programs::{Carried, CarriedProgram, LeftData, LeftProgram};
use take::{Excluded, path_vars, vars};

use super::Plan;
use super::diagnostics::{PlanDiagnostic, PlanReport, Problem};
use super::select::Inode;
use crate::binary::BinaryCache;
use crate::farm::{self, FarmGraph, FarmInput, GlibcFloor};
use crate::layout::{Layout, Source, UnitId, Var};
use crate::loader::SearchConfig;
use crate::manifest::{EntryKind, Manifest, ModuleKind, SiteKind, SysPathKind};
use crate::policy::Policy;

/// What the planner needs.
pub struct PlanInput<'a> {
    pub layout: &'a Layout,
    pub source: &'a Source,
    pub manifest: &'a Manifest,
    pub cache: &'a BinaryCache,
    /// The machine that traced: how the farm graph is resolved.
    pub host: &'a SearchConfig,
}

/// A plan, every problem found making it, and what a summary shows.
pub struct Planned {
    pub plan: Plan,
    pub report: PlanReport,
    pub graph: FarmGraph,
    pub floor: GlibcFloor,
    /// Files and bytes each unit writes, in layout order.
    pub by_unit: Vec<Total>,
    /// Files and bytes by top-level package of the site dirs, largest first.
    pub by_package: Vec<Total>,
    /// Files and bytes by shipped ELF object (SONAME, else file name: libraries,
    /// extension modules, the interpreter, programs), largest first. A library written
    /// twice (two farms) counts twice.
    pub by_library: Vec<Total>,
    /// The largest files written, largest first (at most [`LARGEST_SHOWN`]).
    pub largest: Vec<Largest>,
    /// The programs and native data the trace saw: what the dist carries, what not.
    pub carried: Carried,
    /// Each packed unit's archive and what stays files beside it, and why.
    pub packed: Vec<Packed>,
}

/// Files and bytes of one group of a dist's files: a unit, a package, a library. The
/// sizes are the sources' (a binary `strip debug` shrinks counts at its source's size).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Total {
    pub name: String,
    pub files: u64,
    pub bytes: u64,
}

/// How many of the largest files [`Planned::largest`] keeps.
pub const LARGEST_SHOWN: usize = 10;

/// One of the largest files of a dist.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Largest {
    /// Its path in the dist.
    pub path: String,
    pub unit: String,
    pub bytes: u64,
}

/// One file a unit takes.
#[derive(Debug, Clone)]
struct Item {
    unit: UnitId,
    source: PathBuf,
    vars: BTreeMap<Var, String>,
    mode: u32,
    size: u64,
    /// From the same `stat` as mode and size.
    id: Inode,
    /// The top-level package of a site dir file, for the summary.
    package: Option<String>,
    /// Where it goes; `None` for `move` (farm only) and `skip`.
    dest: Option<String>,
    /// The farm graph node of a binary.
    node: Option<NodeIndex>,
    /// A timestamp-based `.pyc` to stamp with the dist's mtime.
    stamp_pyc: bool,
}

/// One on-path site dir, as [`Planner::site_dirs`] lists them.
struct SiteDir {
    /// Its place among the site dirs of `sys.path` (`{site.index}`).
    index: usize,
    path: PathBuf,
    kind: SiteKind,
}

/// Where the dist's files come from and where they go, while planning.
struct Planner<'a> {
    input: &'a PlanInput<'a>,
    problems: Vec<Problem>,
    common: BTreeMap<Var, String>,
    items: Vec<Item>,
    /// The files of the imported extension modules.
    extension_files: BTreeSet<&'a Path>,
    /// Every file the trace imported or read: an `exclude` never drops one of these.
    traced: BTreeSet<&'a Path>,
    /// Traced files a unit's `exclude` matched, taken after every unit has chosen only
    /// when no unit took them ([`Planner::keep_excluded_traces`]).
    excluded: Vec<Excluded>,
    /// Symlinks inside source trees, written as symlinks ([`Planner::resolve_links`]).
    links: Vec<TreeLink>,
    /// Symlinks left out, by unit: the link, where it leads, why.
    links_left_out: BTreeMap<UnitId, Vec<(PathBuf, String)>>,
    /// The real folders being copied through folder links now (a loop guard).
    expanding: Vec<PathBuf>,
    /// Shipped objects the build machine could not load either.
    as_is: Vec<native::AsIs>,
    /// What the dist carries of the programs and native data (set by the launcher).
    carried: Carried,
    /// The archives of packed units (`pack zip`), set by [`Planner::pack`].
    packs: Vec<pack::UnitPack>,
    packed: Vec<Packed>,
}

pub fn plan(input: &PlanInput<'_>) -> Planned {
    let mut planner = Planner::new(input);
    planner.take_files();
    planner.resolve_links();
    planner.keep_excluded_traces();
    planner.settle_bytecode();
    let policy = policy_of(input.layout);
    let shipped = planner.shipped_objects();
    let graph = farm::build(
        FarmInput {
            manifest: input.manifest,
            shipped: Some(&shipped.roots),
            policy: Some(&policy),
            config: input.host,
        },
        input.cache,
    );
    planner.native_problems(&graph, shipped);
    planner.take_libraries(&graph);
    planner.place();
    planner.pack();
    planner.place_links();
    let floor = graph.glibc_floor();
    let place::Finished { entries, record } = planner.finish(&graph, policy);
    planner.summarize(entries, record, graph, floor)
}

/// The layout's system policy as the native model's [`Policy`].
pub fn policy_of(layout: &Layout) -> Policy {
    Policy::new(layout.system.provided.iter().map(|e| e.pattern.clone()))
        .with_exceptions(layout.system.bundled.iter().map(|e| e.pattern.clone()))
}

/// The variables every template may use (`{app.name}`, `{py.major}`, ...), for a manifest.
pub fn common_vars(m: &Manifest) -> BTreeMap<Var, String> {
    let v = &m.python.version;
    // `-m greet.cli` is the app `greet`: its top-level package, not its last part.
    let app_name = match m.entry.kind {
        _ if m.entry.name.is_some() => m.entry.name.clone().unwrap_or_default(),
        EntryKind::Module => m
            .entry
            .target
            .split('.')
            .next()
            .filter(|s| !s.is_empty())
            .unwrap_or("app")
            .to_owned(),
        EntryKind::Code => "app".to_owned(),
        EntryKind::Script | EntryKind::ConsoleScript => Path::new(&m.entry.target)
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "app".into()),
    };
    BTreeMap::from([
        (Var::AppName, app_name),
        (Var::PyMajor, v.major.to_string()),
        (Var::PyMinor, v.minor.to_string()),
        (Var::PyMicro, v.micro.to_string()),
        (Var::PyAbiflags, v.abiflags.clone()),
        (Var::Machine, m.platform.machine.clone()),
    ])
}

impl<'a> Planner<'a> {
    fn new(input: &'a PlanInput<'a>) -> Self {
        let m = input.manifest;
        let common = common_vars(m);
        Planner {
            input,
            problems: Vec::new(),
            common,
            items: Vec::new(),
            extension_files: m
                .modules_of(ModuleKind::Extension)
                .filter_map(|module| module.file.as_deref())
                .collect(),
            traced: m
                .modules
                .iter()
                .filter_map(|module| module.file.as_deref())
                .chain(m.data_files.iter().map(|d| d.path.as_path()))
                .collect(),
            excluded: Vec::new(),
            links: Vec::new(),
            links_left_out: BTreeMap::new(),
            expanding: Vec::new(),
            as_is: Vec::new(),
            carried: Carried::default(),
            packs: Vec::new(),
            packed: Vec::new(),
        }
    }

    fn is_extension(&self, path: &Path) -> bool {
        self.extension_files.contains(path)
            || self
                .input
                .manifest
                .python
                .dynload
                .as_deref()
                .is_some_and(|d| path.starts_with(d))
    }

    /// The on-path site dirs in `sys.path` order, with their index and kind (a site dir
    /// `site.getsitepackages()` did not name is the system's).
    fn site_dirs(&self) -> Vec<SiteDir> {
        let python = &self.input.manifest.python;
        python
            .sys_path
            .iter()
            .filter(|e| e.kind == SysPathKind::Site)
            .enumerate()
            .map(|(i, e)| {
                let kind = python
                    .site_dirs
                    .iter()
                    .find(|s| s.path == e.path)
                    .map_or(SiteKind::System, |s| s.kind);
                SiteDir {
                    index: i,
                    path: e.path.clone(),
                    kind,
                }
            })
            .collect()
    }

    /// `file` below the `sys.path` folder it was imported from (the longest that holds
    /// it), or its file name when no folder holds it.
    fn import_rel(&self, file: &Path) -> String {
        self.input
            .manifest
            .python
            .sys_path
            .iter()
            .map(|e| &e.path)
            .filter(|p| file.starts_with(p))
            .max_by_key(|p| p.as_os_str().len())
            .and_then(|root| file.strip_prefix(root).ok())
            .map_or_else(|| file_name(file), |r| r.to_string_lossy().into_owned())
    }
}
