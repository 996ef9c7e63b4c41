//! The record one traced Python process writes at exit (see `sitecustomize.py`).
//! Internal to the trace phase: records are assembled into a [`crate::manifest::Manifest`].

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Deserialize;

use crate::manifest::{ExecVia, LoadVia, ModuleKind, SiteKind};

#[derive(Debug, Clone, Deserialize)]
pub struct ProcessRecord {
    pub pid: u32,
    pub ppid: u32,
    /// Start time in clock ticks since boot.
    pub started: u64,
    pub python: PythonFacts,
    pub main: MainFacts,
    /// `[name, kind, file]`
    pub modules: Vec<(String, ModuleKind, Option<PathBuf>)>,
    /// Every file mapped into the process.
    pub maps: Vec<PathBuf>,
    /// `[via, name, caller module]`
    pub loads: Vec<(LoadVia, String, Option<String>)>,
    /// `[via, name as asked, real path found]`
    pub execs: Vec<(ExecVia, Option<String>, Option<PathBuf>)>,
    /// Files opened for reading, other than code.
    pub opens: Vec<PathBuf>,
    pub env: BTreeMap<String, String>,
    /// `os.environ` at exit, only variables whose value has an absolute path in it: what
    /// the app set for its libraries after it started (`/proc/<pid>/environ` does not show
    /// it). Only matched against natively opened files; never written as such.
    #[serde(default)]
    pub env_paths: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct PythonFacts {
    pub executable: PathBuf,
    pub realpath: PathBuf,
    pub implementation: String,
    /// `[major, minor, micro, releaselevel, serial, abiflags]`
    pub version: (u32, u32, u32, String, u32, String),
    pub cache_tag: Option<String>,
    pub soabi: Option<String>,
    pub ext_suffix: Option<String>,
    pub multiarch: Option<String>,
    pub prefix: PathBuf,
    pub exec_prefix: PathBuf,
    pub base_prefix: PathBuf,
    pub base_exec_prefix: PathBuf,
    pub platlibdir: String,
    pub sys_path: Vec<String>,
    pub pythonpath: Vec<String>,
    pub stdlib: PathBuf,
    pub platstdlib: PathBuf,
    pub dynload: Option<PathBuf>,
    pub site_dirs: Vec<(PathBuf, SiteKind)>,
    /// The site folders the base interpreter's `site.py` reads outside a venv (absent
    /// from records of older tracers).
    #[serde(default)]
    pub prefix_site_dirs: Vec<PathBuf>,
    pub os: String,
    pub machine: String,
    pub libc: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct MainFacts {
    /// `script`, `module` or `code`.
    pub kind: String,
    pub target: String,
    pub argv: Vec<String>,
    pub cwd: PathBuf,
}
