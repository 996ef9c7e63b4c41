//! The manifest: what one or more traced runs of an application really used.
//!
//! Written by `shenzi trace`, read by every later phase. The format is JSON with a
//! `version`; it is documented in `docs/manifest.md` with a JSON Schema in
//! `docs/manifest.schema.json`. Every list is sorted and every map is ordered, so the
//! same runs give the same bytes.

mod check;
mod diagnostics;
pub mod folders;
mod locate;
mod merge;
mod read;
pub mod roles;

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

pub use check::{ValueProblem, is_app_name};
pub use diagnostics::{ManifestError, MergeError};
pub use read::{parse_manifest, read_manifest};

/// The largest manifest shenzi reads: 64 MiB. A trace of numpy, pillow, lxml and
/// cryptography with a good part of the stdlib (307 modules, 54 native objects) writes
/// 79 KB, about 250 bytes a module: the limit holds some 250,000 modules, far more than
/// any application imports, while keeping the parse (twice the text, as JSON values and
/// as the typed manifest) well inside the memory of a build machine.
pub const MAX_MANIFEST_BYTES: u64 = 64 << 20;

/// The manifest format this build reads and writes.
pub const MANIFEST_VERSION: u32 = 1;

/// Identifies a traced run: a short content hash of its command line and interpreter,
/// so that merging runs in any order gives the same ids.
pub type RunId = String;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
pub struct Manifest {
    pub version: u32,
    pub platform: Platform,
    pub python: Python,
    /// How the application itself was started: the first run traced without `--append`.
    pub entry: Entry,
    /// Every traced command, sorted by id.
    pub runs: Vec<Run>,
    /// Every imported module, sorted by name then file.
    pub modules: Vec<Module>,
    pub native: Native,
    /// Programs the application and its descendants started, one entry per program, sorted
    /// by path (programs not found last, by name).
    pub executables: Vec<Executable>,
    /// Non-code files the application opened from below a `sys.path` folder, sorted.
    pub data_files: Vec<DataFile>,
    /// Python scripts that child processes ran as their main program (`subprocess` of
    /// `sys.executable` with a script), sorted; the entry script is in `entry`.
    pub scripts: Vec<DataFile>,
    /// Only the variables packaging needs: `PATH`, `LD_LIBRARY_PATH`, `LD_PRELOAD`,
    /// `PYTHON*`, `DYLD_*` — never the whole environment, which holds secrets.
    pub env: BTreeMap<String, String>,
    /// Files that traced processes opened for reading at the system-call level and that
    /// no other record holds (not modules, mapped objects, data files or scripts), sorted
    /// by path. Empty when no run recorded system calls (`runs[].syscalls`).
    #[serde(default)]
    pub native_data: Vec<NativeData>,
    /// Environment variables of traced programs whose value (or one `:`-separated part of
    /// it) is a folder holding a file of `native_data` that the program opened: what a
    /// library was pointed at its data with. Name and value only, sorted.
    #[serde(default)]
    pub native_env: Vec<NativeEnv>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
pub struct Platform {
    /// `linux` or `darwin`.
    pub os: String,
    /// `x86_64`, `aarch64`, `arm64`.
    pub machine: String,
    /// `glibc 2.36`, or null where the C library does not say.
    pub libc: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
pub struct Python {
    /// `sys.executable` as the process saw it.
    pub executable: PathBuf,
    /// Its real path, symlinks resolved.
    pub realpath: PathBuf,
    /// `cpython`.
    pub implementation: String,
    pub version: PyVersion,
    /// `sys.implementation.cache_tag`, e.g. `cpython-311`.
    pub cache_tag: Option<String>,
    /// `SOABI`, e.g. `cpython-311-x86_64-linux-gnu`.
    pub soabi: Option<String>,
    /// `EXT_SUFFIX`, e.g. `.cpython-311-x86_64-linux-gnu.so`.
    pub ext_suffix: Option<String>,
    /// `MULTIARCH`, e.g. `x86_64-linux-gnu`.
    pub multiarch: Option<String>,
    pub prefix: PathBuf,
    pub exec_prefix: PathBuf,
    pub base_prefix: PathBuf,
    pub base_exec_prefix: PathBuf,
    /// `sys.platlibdir` (3.9+); `lib` before.
    pub platlibdir: String,
    /// True when `sys.prefix` differs from `sys.base_prefix`.
    pub is_venv: bool,
    /// `sys.path` of the main process, in order, each with what it is.
    pub sys_path: Vec<SysPathEntry>,
    /// The pure standard library folder (`sysconfig` `stdlib`).
    pub stdlib: PathBuf,
    /// The platform standard library folder (`sysconfig` `platstdlib`).
    pub platstdlib: PathBuf,
    /// The folder holding the standard library's extension modules.
    pub dynload: Option<PathBuf>,
    /// Every site folder, in `sys.path` order.
    pub site_dirs: Vec<SiteDir>,
    /// The site folders the base interpreter's own `site.py` reads when it runs outside a
    /// venv, below `base_prefix` or `base_exec_prefix`, in its order, whether they exist
    /// or not: where a relocated copy of the interpreter (a dist's) looks for `.pth`
    /// files. `lib/python3.11/site-packages` upstream; Debian's three `dist-packages`.
    /// Empty in manifests of older tracers.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub prefix_site_dirs: Vec<PathBuf>,
    pub libpython: LibPython,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
pub struct PyVersion {
    pub major: u32,
    pub minor: u32,
    pub micro: u32,
    /// `alpha`, `beta`, `candidate` or `final`.
    pub releaselevel: String,
    pub serial: u32,
    /// `sys.abiflags`: empty, `d`, `t` (free-threaded), ...
    pub abiflags: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
pub struct SysPathEntry {
    pub path: PathBuf,
    pub kind: SysPathKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum SysPathKind {
    /// The folder of the entry script (or the working folder for `-m` and `-c`).
    App,
    /// The `pythonXY.zip` of the standard library.
    StdlibZip,
    Stdlib,
    Dynload,
    Site,
    /// Added by `PYTHONPATH`.
    Pythonpath,
    /// Anything else: a `.pth` entry, an editable install, a folder the app added.
    Other,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
pub struct SiteDir {
    pub path: PathBuf,
    pub kind: SiteKind,
    /// Whether it is on the traced `sys.path` (a user site dir may exist but be disabled).
    pub on_path: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum SiteKind {
    /// The `site-packages` of a virtual environment.
    Venv,
    /// A site folder of the base interpreter (`site-packages`, Debian's `dist-packages`).
    System,
    /// The user's site folder (`~/.local/lib/pythonX.Y/site-packages`).
    User,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
pub struct LibPython {
    /// Whether the interpreter runs on a shared libpython (one was mapped into it).
    pub shared: bool,
    /// The mapped libpython, when shared.
    pub path: Option<PathBuf>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
pub struct Entry {
    pub kind: EntryKind,
    /// The script path, module name, console script path, or `-c` for code.
    pub target: String,
    /// `sys.argv` of the main process.
    pub argv: Vec<String>,
    /// The app's name (`{app.name}`: the launcher's file name), when it was given
    /// (`shenzi trace --name`, `name` in shenzi.toml); otherwise it follows from the entry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum EntryKind {
    /// `python app.py`
    Script,
    /// `python -m module`
    Module,
    /// An installed script whose shebang names the interpreter, such as `pytest`.
    ConsoleScript,
    /// `python -c CODE`
    Code,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
pub struct Run {
    pub id: RunId,
    /// The command as given to `shenzi trace`.
    pub command: Vec<String>,
    /// Its exit status: the code, or 128 + signal number when a signal ended it.
    pub exit_status: i32,
    /// How many Python processes were traced in this run.
    pub processes: u32,
    /// Whether this run also recorded opens and execs at the system-call level (native
    /// code, shells, every descendant). False for manifests written before shenzi did.
    #[serde(default)]
    pub syscalls: bool,
    /// What the run is for: `ship` (the app as users run it) or `coverage` (a test
    /// suite, `trace --append --coverage`). `ship` in manifests written before roles.
    #[serde(default)]
    pub role: RunRole,
}

/// What a traced run is for.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum RunRole {
    /// The app as its users run it: everything it imported ships.
    #[default]
    Ship,
    /// A run that exercises the app (its test suite): its run-time loads, native objects
    /// and the app's own modules ship, but not the top-level packages only such runs
    /// imported (the test runner and its plugins).
    Coverage,
}

impl RunRole {
    pub fn name(self) -> &'static str {
        match self {
            RunRole::Ship => "ship",
            RunRole::Coverage => "coverage",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
pub struct Module {
    pub name: String,
    pub kind: ModuleKind,
    /// The file it was loaded from; null for builtin, frozen and namespace modules.
    pub file: Option<PathBuf>,
    /// The runs that imported it.
    pub runs: Vec<RunId>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum ModuleKind {
    /// A `.py` file.
    Source,
    /// A `.pyc` without source.
    Bytecode,
    /// A native extension module (`.so`).
    Extension,
    /// A package with no `__init__`.
    Namespace,
    Frozen,
    Builtin,
    /// Loaded from a zip file on `sys.path`.
    Zip,
    /// A loader shenzi does not know; `file` is what the module said.
    Other,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
pub struct Native {
    /// Every ELF object mapped into a traced process, sorted by path.
    pub objects: Vec<NativeObject>,
    /// Every run-time load request (`ctypes`, `cffi`), sorted.
    pub loads: Vec<RuntimeLoad>,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
pub struct NativeObject {
    /// The real path of the mapped file.
    pub path: PathBuf,
    pub kind: ObjectKind,
    pub soname: Option<String>,
    /// The names it was asked for: run-time load names and the `DT_NEEDED` entries of
    /// other mapped objects that name it, sorted.
    pub names: Vec<String>,
    pub runs: Vec<RunId>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum ObjectKind {
    /// The interpreter executable.
    Executable,
    /// The program interpreter (`ld-linux`).
    Loader,
    /// A Python extension module.
    Extension,
    /// Any other shared library.
    Library,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
pub struct RuntimeLoad {
    /// The name as asked (`libz.so.1`, or a path).
    pub name: String,
    pub via: LoadVia,
    /// The real path of the object the request loaded; null when it failed or nothing
    /// mapped matches it.
    pub resolved: Option<PathBuf>,
    /// The Python module whose code made the request (the first frame outside `ctypes`
    /// and `cffi`).
    pub caller: Option<String>,
    pub runs: Vec<RunId>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum LoadVia {
    /// `ctypes.CDLL` and friends; the loader searches with `_ctypes`'s RUNPATH.
    Ctypes,
    /// `cffi`'s `ffi.dlopen`; the loader searches with `_cffi_backend`'s RUNPATH.
    Cffi,
    /// A mapped object that no `DT_NEEDED` chain from the interpreter, an extension module
    /// or a seen request explains: native code `dlopen`ed it (cffi's compiled modules and
    /// C libraries raise no audit event). `name` is its SONAME or file name; `caller` is
    /// unknown.
    Dlopen,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
pub struct Executable {
    /// The program as asked (`sh`, `/usr/bin/git`, or `sys.executable`): the name Python
    /// code gave, or else the first of `names`.
    pub name: String,
    /// Its real path; null if it was not found.
    pub path: Option<PathBuf>,
    /// The first of `started_by`: how Python started it, when it did.
    pub via: ExecVia,
    /// True when it is the traced interpreter itself (`subprocess` of `sys.executable`).
    pub is_python: bool,
    /// Every name it was asked by, sorted: the program Python code named, and at the
    /// system-call level the path given to `execve` and `argv[0]`. A name without a `/`
    /// means it was found by a search of `PATH`.
    #[serde(default)]
    pub names: Vec<String>,
    /// Every way it was started, sorted (empty in manifests written before: then `via`).
    #[serde(default)]
    pub started_by: Vec<ExecVia>,
    /// The real paths of the programs whose processes executed it (the traced
    /// interpreter, `/usr/bin/dash`, ...), or the script whose `#!` line names it, sorted.
    #[serde(default)]
    pub parents: Vec<PathBuf>,
    /// For a script, its `#!` line without the `#!` (`/bin/sh -e`, `/usr/bin/env python3`).
    #[serde(default)]
    pub interpreter: Option<String>,
    pub runs: Vec<RunId>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum ExecVia {
    /// Python's `subprocess`.
    Subprocess,
    /// Python's `os.exec*`.
    Exec,
    /// Python's `os.posix_spawn`.
    PosixSpawn,
    /// `os.system`: the program is `/bin/sh`.
    System,
    /// A shell ran it (`sh -c`, a pipeline, a shell script): seen at the system-call level.
    Shell,
    /// Native code of a Python process ran it (a C extension's `posix_spawn`, a library
    /// run through `ctypes`): seen at the system-call level, not by the audit hooks.
    Native,
    /// Another program ran it (`env`, `xargs`, `git` running its helpers).
    Program,
    /// The kernel ran it as the `#!` interpreter of a script in `parents`.
    Interpreter,
}

/// A file opened for reading at the system-call level that no other record holds.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
pub struct NativeData {
    /// Absolute, as the process opened it (resolved against its `dirfd` or working folder;
    /// symlinks kept, so a library's own view of its data folder is kept too).
    pub path: PathBuf,
    /// The real paths of the programs whose processes opened it, sorted.
    pub opened_by: Vec<PathBuf>,
    /// Whether Python's audit hook saw an open of it too (Python code opened it).
    pub audit: bool,
    pub runs: Vec<RunId>,
}

/// An environment variable of a traced program that points at folders of its data.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
pub struct NativeEnv {
    /// The real path of the program whose processes had it.
    pub program: PathBuf,
    pub name: String,
    /// The whole value; at least one `:`-separated part is a folder (or file) that a file
    /// of `native_data` opened by `program` lies in.
    pub value: String,
    pub runs: Vec<RunId>,
}

impl ExecVia {
    /// Python code started it (an audit event said so).
    pub fn is_python(self) -> bool {
        matches!(
            self,
            ExecVia::Subprocess | ExecVia::Exec | ExecVia::PosixSpawn | ExecVia::System
        )
    }
}

/// A file the application used, and the runs that used it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
pub struct DataFile {
    pub path: PathBuf,
    pub runs: Vec<RunId>,
}

impl Manifest {
    /// The imported module records of one kind.
    pub fn modules_of(&self, kind: ModuleKind) -> impl Iterator<Item = &Module> {
        self.modules.iter().filter(move |m| m.kind == kind)
    }

    /// Serialises the manifest as the pretty, newline-terminated JSON shenzi writes.
    pub fn to_json(&self) -> String {
        // Serialising these plain structs cannot fail: no maps with non-string keys.
        let mut text = serde_json::to_string_pretty(self).expect("manifest serialises");
        text.push('\n');
        text
    }
}

#[cfg(test)]
mod schema_tests {
    /// docs/manifest.schema.json is generated from these types; regenerate it with
    /// `SHENZI_WRITE_SCHEMA=1 cargo test --lib manifest`.
    #[test]
    fn committed_schema_matches_the_types() {
        let schema = schemars::schema_for!(super::Manifest);
        let text = serde_json::to_string_pretty(&schema).unwrap() + "\n";
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/manifest.schema.json");
        if std::env::var_os("SHENZI_WRITE_SCHEMA").is_some() {
            std::fs::write(path, &text).unwrap();
        }
        let committed = std::fs::read_to_string(path).unwrap_or_default();
        assert!(
            committed == text,
            "docs/manifest.schema.json is stale: run `SHENZI_WRITE_SCHEMA=1 cargo test --lib manifest`"
        );
    }
}
