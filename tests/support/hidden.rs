//! The *hidden world*: run a command where the source Python environment does not exist.
//!
//! DESIGN.md ("The dist", "What works means") requires that a dist runs with the source
//! interpreter, its venv and every non-policy system library gone. [`HiddenWorld`] builds
//! that world for one command at a time, inside a fresh **mount namespace** of a child
//! process (the machine runs the tests as root), so nothing changes on the host:
//!
//! * every system library folder the loader searches (`/lib/<triplet>`,
//!   `/usr/lib/<triplet>`, `/lib64`, `/usr/lib64`, and the folder of `/bin/sh`'s
//!   `PT_INTERP`, all deduplicated by real path since Debian merges `/lib` into `/usr/lib`)
//!   is replaced by a bind mount of one staging folder holding **only the policy libraries**
//!   (glibc by default, from `shenzi::policy`), copied from the host and named by their
//!   SONAME; the loader `ld-linux-x86-64.so.2` is among them, so `PT_INTERP`
//!   (`/lib64/ld-linux-x86-64.so.2`) still resolves;
//! * `/etc/ld.so.cache` (and `/etc/ld.so.preload` if present) are covered by an empty file,
//!   so the loader cannot find a library through the cache either (an empty cache is
//!   rejected by glibc and ignored), and loose `*.so*` files directly in `/lib` or `/usr/lib`
//!   (also default search directories) are covered by the empty file too;
//! * `$(pyenv root)/versions`, `/usr/lib/python3*`, `/usr/local/lib/python3*` and any extra
//!   path (the source venv, the repo's `.cache`, see [`hide_paths_for_python`]) are covered
//!   by an empty read-only tmpfs (a file by the empty file).
//!
//! What remains runnable is `/bin/sh` (dash needs only libc) and anything whose libraries
//! are all in the policy set or found through its own `RUNPATH` inside a visible folder.
//!
//! # Why `libc::unshare` + `libc::mount` in `pre_exec`, not `unshare -m sh -c 'mount …'`
//!
//! The setup runs in the forked child right before `execve`, with direct syscalls:
//! no tool is needed inside the world, so the order of mounts is not constrained by
//! what `mount(8)` itself needs (it links libmount, libblkid, libselinux: hiding the
//! system library folder would break every later `mount` call), the command's
//! stdin/stdout/stderr and exit status are the command's alone (no wrapper shell that
//! could add output or change a status), and a failing step is reported as an `Err`
//! naming that step (through a shared page the child writes its step index to) rather
//! than as text mixed into the command's stderr. The closure only makes syscalls on
//! data prepared before `fork`, so it is async-signal-safe in a multi-threaded test.
//!
//! Order inside the child: `unshare(CLONE_NEWNS)`; make `/` recursively private (nothing
//! propagates back to the host); bind the policy folder over the system folders and the
//! empty file over the loader cache (their sources live in this world's temp dir, which
//! is checked not to lie under a hidden path); mount the tmpfs covers; `chdir` to the
//! working directory (after the mounts, so it is resolved inside the world); `execve`.
//!
//! # Constraint: the dist lives outside every hidden path
//!
//! The dist, the working directory and the dump folder must be under a visible path such
//! as `/tmp` (tempfile's default). A working directory under a hidden path is refused
//! with an error; [`HiddenWorld::assert_visible`] checks a dist root. Hidden paths may not
//! be `/` or contain a system library folder or this world's staging folder.
//!
//! # Observing the app: dumps
//!
//! Every run gets a fresh, visible dump folder in [`DUMP_DIR_ENV`]. A process that wants
//! to be checked writes its `/proc/self/{maps,environ,cmdline}` there as
//! `<pid>.<tag>.{maps,environ,cmdline}`: [`PY_DUMP_SNIPPET`] does so at exit for a Python
//! app (and its Python children, which run the same code), [`SH_DUMP_SNIPPET`] for a
//! shell. [`HiddenWorld::run_collecting`] returns them as [`ProcessDump`]s, and
//! [`assert_maps_within`] / [`assert_env_lacks`] check them.
//!
//! ```ignore
//! let world = HiddenWorld::new(HiddenSpec::new().hide(venv))?;
//! world.assert_visible(&dist);
//! let (out, dumps) = world.run_collecting(&[link.into()], tmp.path(), &[], b"")?;
//! assert_eq!(out.stdout, untraced.stdout);
//! assert_env_lacks(&dumps, "LD_LIBRARY_PATH");
//! assert_maps_within(&dumps, &dist, world.policy_names());
//! ```

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::{CString, OsStr, OsString};
use std::io::{self, Read, Write};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use globset::{Glob, GlobSet, GlobSetBuilder};

/// The variable that names the run's dump folder inside the world.
pub const DUMP_DIR_ENV: &str = "HIDDEN_WORLD_DUMP_DIR";

/// Python (2.7 and 3.x) that writes this process's maps, environ and cmdline into
/// `$HIDDEN_WORLD_DUMP_DIR` at exit (tag `exit`). Also defines
/// `hidden_world_dump(tag)` for code paths that end with `os._exit` (forked
/// multiprocessing workers skip `atexit`). Does nothing when the variable is unset.
/// Put it after any `from __future__` import (those must come first), or in a module the
/// app imports; children started with `sys.executable` dump when they run it too.
pub const PY_DUMP_SNIPPET: &str = r#"
def hidden_world_dump(tag="exit"):
    import os
    folder = os.environ.get("HIDDEN_WORLD_DUMP_DIR")
    if not folder:
        return
    pid = os.getpid()
    for part in ("maps", "environ", "cmdline"):
        try:
            with open("/proc/self/" + part, "rb") as src:
                data = src.read()
        except (IOError, OSError):
            continue
        final = os.path.join(folder, "%d.%s.%s" % (pid, tag, part))
        with open(final + ".tmp", "wb") as dst:
            dst.write(data)
        os.rename(final + ".tmp", final)

import atexit as _hidden_world_atexit
_hidden_world_atexit.register(hidden_world_dump)
"#;

/// POSIX sh (builtins only, so it works in the world) that dumps the current shell's
/// maps under tag `sh`. `environ` is not dumped: builtins cannot copy NUL bytes.
pub const SH_DUMP_SNIPPET: &str = r#"if [ -n "${HIDDEN_WORLD_DUMP_DIR-}" ]; then
  while IFS= read -r _hw_line; do printf '%s\n' "$_hw_line"; done < /proc/$$/maps > "$HIDDEN_WORLD_DUMP_DIR/$$.sh.maps"
fi
"#;

/// Data files a process may map that are not shared objects: locale data and devices.
/// (`/usr/lib/locale` stays visible in the world; it holds no code.)
pub const NON_OBJECT_PREFIXES: &[&str] = &["/usr/lib/locale/", "/dev/", "/memfd:", "/SYSV"];

/// The entries (SONAME globs) of shenzi's `glibc` system policy preset, read from
/// `src/policy/mod.rs` through the library so the two never drift apart.
pub fn glibc_policy() -> Vec<String> {
    let preset = shenzi::policy::preset("glibc")
        .expect("invariant: src/policy/mod.rs defines the `glibc` preset");
    shenzi::policy::entries(preset)
        .into_iter()
        .map(String::from)
        .collect()
}

/// The folders the glibc loader searches by default on this machine (besides
/// `/etc/ld.so.cache`), as this machine names them, existing ones only, deduplicated by
/// real path (the first spelling wins). Library folders that are replaced as a whole.
pub fn system_lib_dirs() -> Vec<PathBuf> {
    let triplet = format!("{}-linux-gnu", std::env::consts::ARCH);
    let mut candidates = vec![
        PathBuf::from("/lib").join(&triplet),
        PathBuf::from("/usr/lib").join(&triplet),
        PathBuf::from("/lib64"),
        PathBuf::from("/usr/lib64"),
    ];
    if let Some(dir) = sh_interpreter().as_deref().and_then(Path::parent) {
        candidates.push(dir.to_path_buf());
    }
    let mut seen = BTreeSet::new();
    candidates
        .into_iter()
        .filter_map(|p| std::fs::canonicalize(&p).ok())
        .filter(|real| real.is_dir() && seen.insert(real.clone()))
        .collect()
}

/// `PT_INTERP` of `/bin/sh`: where every dynamically linked program here expects the loader.
pub fn sh_interpreter() -> Option<PathBuf> {
    let bytes = std::fs::read("/bin/sh").ok()?;
    let elf = goblin::elf::Elf::parse(&bytes).ok()?;
    elf.interpreter.map(PathBuf::from)
}

/// What to hide for the Python a manifest describes: the venv (`python.prefix` when it
/// differs from `base_prefix`, or `venv` when given) and the base installation. A base
/// prefix that is a system prefix (`/usr`, `/usr/local`, `/`) is not hidden whole (that
/// would hide `/bin/sh`); its `lib/python3*` folders are instead (Debian's also live in
/// `/usr/lib/python3` and `/usr/lib/python3.X`, which every world hides anyway).
pub fn hide_paths_for_python(
    prefix: &Path,
    base_prefix: &Path,
    venv: Option<&Path>,
) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let system = |p: &Path| {
        let p = std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf());
        ["/", "/usr", "/usr/local"]
            .iter()
            .any(|s| p == Path::new(s))
    };
    for p in [Some(prefix), Some(base_prefix), venv]
        .into_iter()
        .flatten()
    {
        if system(p) {
            out.extend(glob_dirs(&p.join("lib"), "python3"));
        } else {
            out.push(p.to_path_buf());
        }
    }
    out.sort();
    out.dedup();
    out
}

/// Which paths a world hides and which libraries it keeps. Build with [`HiddenSpec::new`]
/// (glibc policy, the always-hidden Python locations) and add to it.
#[derive(Debug, Clone)]
pub struct HiddenSpec {
    extra_hidden: Vec<PathBuf>,
    policy: Vec<String>,
    timeout: Duration,
    only_sh: bool,
}

impl Default for HiddenSpec {
    fn default() -> Self {
        Self::new()
    }
}

impl HiddenSpec {
    /// The glibc policy, no extra hidden paths, a 300 s timeout per run.
    pub fn new() -> Self {
        HiddenSpec {
            extra_hidden: Vec::new(),
            policy: glibc_policy(),
            timeout: Duration::from_secs(300),
            only_sh: false,
        }
    }

    /// Also hide `path` (a folder gets an empty tmpfs, a file an empty file). A path
    /// that does not exist is ignored: there is nothing to hide.
    pub fn hide(mut self, path: impl Into<PathBuf>) -> Self {
        self.extra_hidden.push(path.into());
        self
    }

    /// Also hide every path of `paths`, e.g. [`hide_paths_for_python`]'s result.
    pub fn hide_all<P: Into<PathBuf>>(mut self, paths: impl IntoIterator<Item = P>) -> Self {
        self.extra_hidden.extend(paths.into_iter().map(Into::into));
        self
    }

    /// Replace the policy: SONAME globs as in `src/policy/mod.rs` (`libnss_*.so.2`).
    pub fn policy<S: Into<String>>(mut self, names: impl IntoIterator<Item = S>) -> Self {
        self.policy = names.into_iter().map(Into::into).collect();
        self
    }

    /// Strict mode: the system's program folders are gone too. `/usr/bin` (`/bin`) is
    /// replaced by a folder holding only `sh` (a copy of the real `/bin/sh`), and
    /// `/usr/sbin`, `/usr/local/bin`, `/usr/local/sbin` are hidden. Without it, programs
    /// that need only glibc (coreutils' `cat`, `sleep`, `dirname`, …) still run inside;
    /// with it, a launcher that calls any of them fails, as DESIGN.md requires of ours
    /// ("nothing but /bin/sh and the glibc policy set").
    pub fn only_sh(mut self, only_sh: bool) -> Self {
        self.only_sh = only_sh;
        self
    }

    /// How long one run may take before its process group is killed.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }
}

/// One prepared hidden world. Cheap to run many times; the staging folder (a few MB of
/// glibc copies) is removed on drop.
#[derive(Debug)]
pub struct HiddenWorld {
    staging: tempfile::TempDir,
    libs: PathBuf,
    empty_file: PathBuf,
    replaced_dirs: Vec<PathBuf>,
    /// With [`HiddenSpec::only_sh`]: the real `/usr/bin`, replaced by `staging/bin`.
    bin_dir: Option<PathBuf>,
    hidden_dirs: Vec<PathBuf>,
    hidden_files: Vec<PathBuf>,
    policy: Vec<String>,
    staged: Vec<String>,
    interpreter: PathBuf,
    timeout: Duration,
}

/// One mount made in the child: `mount(source, target, fstype, flags, data)`.
struct MountStep {
    what: String,
    source: Option<CString>,
    target: CString,
    fstype: Option<CString>,
    flags: libc::c_ulong,
    data: Option<CString>,
}

impl HiddenWorld {
    /// Prepares the world: stages the policy libraries, resolves what to hide, and checks
    /// the constraints (see the module docs). Mounts nothing yet.
    pub fn new(spec: HiddenSpec) -> io::Result<Self> {
        let staging = tempfile::Builder::new()
            .prefix("shenzi-hidden-")
            .tempdir()?;
        let libs = staging.path().join("libs");
        std::fs::create_dir(&libs)?;
        let empty_file = staging.path().join("empty");
        std::fs::write(&empty_file, b"")?;
        std::fs::create_dir(staging.path().join("home"))?;
        std::fs::create_dir(staging.path().join("runs"))?;

        let policy_set = glob_set(&spec.policy)?;
        let replaced_dirs = system_lib_dirs();
        let mut staged = BTreeSet::new();
        for dir in &replaced_dirs {
            stage_policy_libs(dir, &policy_set, &libs, &mut staged)?;
        }
        let interpreter =
            sh_interpreter().ok_or_else(|| io::Error::other("cannot read PT_INTERP of /bin/sh"))?;
        let interp_name = file_name(&interpreter);
        if !staged.contains(&interp_name) {
            return Err(io::Error::other(format!(
                "the policy does not keep the loader {} (PT_INTERP of /bin/sh): nothing could run",
                interpreter.display()
            )));
        }

        let bin_dir = if spec.only_sh {
            let bin = staging.path().join("bin");
            std::fs::create_dir(&bin)?;
            std::fs::copy(std::fs::canonicalize("/bin/sh")?, bin.join("sh"))?;
            Some(std::fs::canonicalize("/bin")?)
        } else {
            None
        };

        let mut hidden = vec![super::pyenv_root().join("versions")];
        if spec.only_sh {
            for dir in ["/usr/sbin", "/usr/local/bin", "/usr/local/sbin"] {
                hidden.push(PathBuf::from(dir));
            }
        }
        hidden.extend(glob_dirs(Path::new("/usr/lib"), "python3"));
        hidden.extend(glob_dirs(Path::new("/usr/local/lib"), "python3"));
        hidden.extend(spec.extra_hidden.iter().cloned());

        let mut hidden_dirs = BTreeSet::new();
        let mut hidden_files = BTreeSet::new();
        for file in ["/etc/ld.so.cache", "/etc/ld.so.preload"] {
            if let Ok(real) = std::fs::canonicalize(file) {
                hidden_files.insert(real);
            }
        }
        for dir in ["/lib", "/usr/lib"] {
            let Ok(real) = std::fs::canonicalize(dir) else {
                continue;
            };
            for entry in std::fs::read_dir(&real)?.filter_map(Result::ok) {
                let name = entry.file_name().to_string_lossy().into_owned();
                let is_object = name.ends_with(".so") || name.contains(".so.");
                if is_object && entry.file_type().is_ok_and(|t| t.is_file()) {
                    hidden_files.insert(entry.path());
                }
            }
        }
        for path in hidden {
            let Ok(real) = std::fs::canonicalize(&path) else {
                continue;
            };
            if real == Path::new("/") {
                return Err(io::Error::other(format!(
                    "cannot hide / ({})",
                    path.display()
                )));
            }
            let protected = replaced_dirs
                .iter()
                .chain(&bin_dir)
                .map(PathBuf::as_path)
                .chain([staging.path()]);
            for keep in protected {
                if keep.starts_with(&real) {
                    return Err(io::Error::other(format!(
                        "hiding {} would hide {}, which the world needs",
                        path.display(),
                        keep.display()
                    )));
                }
            }
            if replaced_dirs
                .iter()
                .chain(&bin_dir)
                .any(|d| real.starts_with(d))
            {
                continue; // already gone with its replaced library folder
            }
            if real.is_dir() {
                hidden_dirs.insert(real);
            } else {
                hidden_files.insert(real);
            }
        }
        // A folder inside another hidden folder is gone with it; mounting on it would fail.
        let dirs: Vec<PathBuf> = hidden_dirs.iter().cloned().collect();
        hidden_dirs.retain(|d| !dirs.iter().any(|o| o != d && d.starts_with(o)));
        hidden_files.retain(|f| !dirs.iter().any(|o| f.starts_with(o)));

        Ok(HiddenWorld {
            staging,
            libs,
            empty_file,
            replaced_dirs,
            bin_dir,
            hidden_dirs: hidden_dirs.into_iter().collect(),
            hidden_files: hidden_files.into_iter().collect(),
            policy: spec.policy,
            staged: staged.into_iter().collect(),
            interpreter,
            timeout: spec.timeout,
        })
    }

    /// The policy globs this world keeps (for [`assert_maps_within`]).
    pub fn policy_names(&self) -> &[String] {
        &self.policy
    }

    /// SONAMEs of the libraries actually present in the world's library folders.
    pub fn staged_libs(&self) -> &[String] {
        &self.staged
    }

    /// Files covered by an empty file (the loader cache, loose libraries, extras).
    pub fn hidden_files(&self) -> &[PathBuf] {
        &self.hidden_files
    }

    /// The loader path programs expect (`PT_INTERP`), present in the world.
    pub fn interpreter(&self) -> &Path {
        &self.interpreter
    }

    /// The hidden path `path` lies under, if any (compared by real path when it exists).
    pub fn hidden_ancestor(&self, path: &Path) -> Option<&Path> {
        let real = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
        self.hidden_dirs
            .iter()
            .chain(&self.hidden_files)
            .chain(&self.replaced_dirs)
            .chain(&self.bin_dir)
            .map(PathBuf::as_path)
            .find(|h| real.starts_with(h) || path.starts_with(h))
    }

    /// Panics when `path` (a dist root, say) would be hidden inside the world.
    pub fn assert_visible(&self, path: &Path) {
        if let Some(h) = self.hidden_ancestor(path) {
            panic!(
                "{} lies under hidden {}: put the dist in a visible folder such as /tmp",
                path.display(),
                h.display()
            );
        }
    }

    /// Runs `cmd` (argv; `cmd[0]` is looked up on the world's `PATH` when it has no `/`)
    /// in a new mount namespace with this world mounted, in `cwd`, with a clean
    /// environment (`PATH=/usr/local/bin:/usr/bin:/bin`, `HOME` a visible empty folder,
    /// [`DUMP_DIR_ENV`]) plus `env`, feeding `stdin`. Returns the command's own output and
    /// status. `Err` when the world cannot be set up (naming the failing step), when `cwd`
    /// is hidden, or on timeout (after killing the process group).
    pub fn run(
        &self,
        cmd: &[OsString],
        cwd: &Path,
        env: &[(OsString, OsString)],
        stdin: &[u8],
    ) -> io::Result<Output> {
        self.run_collecting(cmd, cwd, env, stdin)
            .map(|(out, _)| out)
    }

    /// [`run`](Self::run), and return the [`ProcessDump`]s the app's processes wrote.
    pub fn run_collecting(
        &self,
        cmd: &[OsString],
        cwd: &Path,
        env: &[(OsString, OsString)],
        stdin: &[u8],
    ) -> io::Result<(Output, Vec<ProcessDump>)> {
        let (program, args) = cmd
            .split_first()
            .ok_or_else(|| io::Error::other("empty command"))?;
        if let Some(h) = self.hidden_ancestor(cwd) {
            return Err(io::Error::other(format!(
                "working directory {} lies under hidden {}",
                cwd.display(),
                h.display()
            )));
        }
        let cwd = std::fs::canonicalize(cwd)?;
        let dumps = tempfile::Builder::new()
            .prefix("run-")
            .tempdir_in(self.staging.path().join("runs"))?;

        let mut command = Command::new(program);
        command
            .args(args)
            .env_clear()
            .env("PATH", "/usr/local/bin:/usr/bin:/bin")
            .env("HOME", self.staging.path().join("home"))
            .env(DUMP_DIR_ENV, dumps.path())
            .envs(env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0);

        let steps = self.mount_steps()?;
        let cwd_c = cstring(cwd.as_os_str())?;
        let slot = FailSlot::new()?;
        let slot_addr = slot.addr();
        // SAFETY: the closure runs in the forked child before exec and only calls
        // async-signal-safe syscalls (unshare, mount, chdir) on memory prepared here; it
        // does not allocate (io::Error::last_os_error is an errno wrapper).
        unsafe {
            command.pre_exec(move || enter_world(&steps, &cwd_c, slot_addr));
        }
        let child = match command.spawn() {
            Ok(child) => child,
            Err(e) => {
                let step = slot.read();
                let what = self.describe_step(step);
                return Err(io::Error::new(
                    e.kind(),
                    format!("entering the hidden world failed at {what}: {e}"),
                ));
            }
        };
        let output = wait_with_timeout(child, stdin, self.timeout)?;
        let processes = collect_dumps(dumps.path())?;
        Ok((output, processes))
    }

    /// Runs `script` with `/bin/sh -c` in `/`, no stdin, no extra environment.
    pub fn sh(&self, script: &str) -> io::Result<Output> {
        self.run(
            &["/bin/sh".into(), "-c".into(), script.into()],
            Path::new("/"),
            &[],
            b"",
        )
    }

    /// A tool-free look at the world from inside (sh builtins only: no `ldd`, no `ls`,
    /// which would need libraries the world lacks): what the library folders hold,
    /// anything visible under a hidden folder, whether the loader cache has content,
    /// whether `PT_INTERP` exists, and the shell's own mapped files.
    pub fn probe(&self) -> io::Result<Probe> {
        let mut script = String::from("set +e\n");
        let bin: Vec<PathBuf> = self.bin_dir.iter().cloned().collect();
        for (tag, dirs) in [
            ("lib", &self.replaced_dirs),
            ("leak", &self.hidden_dirs),
            ("bin", &bin),
        ] {
            for d in dirs {
                let q = sh_quote(d.as_os_str());
                script += &format!(
                    "for f in {q}/* {q}/.[!.]*; do if [ -e \"$f\" ] || [ -L \"$f\" ]; then echo \"{tag} $f\"; fi; done\n"
                );
            }
        }
        for f in &self.hidden_files {
            let q = sh_quote(f.as_os_str());
            script += &format!("if [ -s {q} ]; then echo \"leak {}\"; fi\n", f.display());
        }
        let interp = sh_quote(self.interpreter.as_os_str());
        script += &format!("if [ -f {interp} ]; then echo interp-present; fi\n");
        script += "while IFS= read -r l; do echo \"map $l\"; done < /proc/$$/maps\n";
        let out = self.sh(&script)?;
        if !out.status.success() {
            return Err(io::Error::other(format!(
                "probe failed: {:?}: {}",
                out.status,
                String::from_utf8_lossy(&out.stderr)
            )));
        }
        let text = String::from_utf8_lossy(&out.stdout);
        let mut probe = Probe::default();
        let mut maps = String::new();
        for line in text.lines() {
            if let Some(p) = line.strip_prefix("lib ") {
                probe.lib_entries.push(PathBuf::from(p));
            } else if let Some(p) = line.strip_prefix("bin ") {
                probe.bin_entries.push(PathBuf::from(p));
            } else if let Some(p) = line.strip_prefix("leak ") {
                probe.visible_hidden.push(PathBuf::from(p));
            } else if line == "interp-present" {
                probe.interpreter_present = true;
            } else if let Some(m) = line.strip_prefix("map ") {
                maps.push_str(m);
                maps.push('\n');
            }
        }
        probe.sh_mapped = mapped_files(&maps);
        Ok(probe)
    }

    /// Runs [`probe`](Self::probe) and fails unless the world is exactly what it claims:
    /// each library folder holds only the staged policy libraries, nothing is visible
    /// under a hidden path, the loader is present, and `/bin/sh` maps only allowed files.
    pub fn sanity_check(&self) -> io::Result<Probe> {
        let probe = self.probe()?;
        let mut problems = Vec::new();
        let staged: BTreeSet<&str> = self.staged.iter().map(String::as_str).collect();
        for entry in &probe.lib_entries {
            if !staged.contains(file_name(entry).as_str()) {
                problems.push(format!("{} is in a library folder", entry.display()));
            }
        }
        for dir in &self.replaced_dirs {
            let listed = probe
                .lib_entries
                .iter()
                .filter(|e| e.parent() == Some(dir))
                .count();
            if listed != staged.len() {
                problems.push(format!(
                    "{} lists {listed} of {} policy libraries",
                    dir.display(),
                    staged.len()
                ));
            }
        }
        for leak in &probe.visible_hidden {
            problems.push(format!("{} is visible in the world", leak.display()));
        }
        if let Some(bin) = &self.bin_dir {
            if probe.bin_entries != [bin.join("sh")] {
                problems.push(format!(
                    "{} holds {:?}, not only sh",
                    bin.display(),
                    probe.bin_entries
                ));
            }
        }
        if !probe.interpreter_present {
            problems.push(format!(
                "the loader {} is missing",
                self.interpreter.display()
            ));
        }
        problems.extend(
            disallowed_paths(&probe.sh_mapped, None, &self.policy)
                .into_iter()
                .map(|p| format!("/bin/sh maps {} inside the world", p.display())),
        );
        if problems.is_empty() {
            Ok(probe)
        } else {
            Err(io::Error::other(problems.join("\n")))
        }
    }

    fn mount_steps(&self) -> io::Result<Vec<MountStep>> {
        let mut steps = Vec::new();
        let ro_bind =
            libc::MS_BIND | libc::MS_REMOUNT | libc::MS_RDONLY | libc::MS_NOSUID | libc::MS_NODEV;
        let mut bind = |what: String, src: &Path, dst: &Path| -> io::Result<()> {
            steps.push(MountStep {
                what: format!("bind {what}"),
                source: Some(cstring(src.as_os_str())?),
                target: cstring(dst.as_os_str())?,
                fstype: None,
                flags: libc::MS_BIND,
                data: None,
            });
            steps.push(MountStep {
                what: format!("read-only remount of {what}"),
                source: None,
                target: cstring(dst.as_os_str())?,
                fstype: None,
                flags: ro_bind,
                data: None,
            });
            Ok(())
        };
        // Sources live in the staging folder: bind them before any tmpfs could cover it.
        for dir in &self.replaced_dirs {
            bind(
                format!("policy libraries over {}", dir.display()),
                &self.libs,
                dir,
            )?;
        }
        if let Some(dir) = &self.bin_dir {
            let bin = self.staging.path().join("bin");
            bind(
                format!("a folder with only sh over {}", dir.display()),
                &bin,
                dir,
            )?;
        }
        for file in &self.hidden_files {
            bind(
                format!("empty file over {}", file.display()),
                &self.empty_file,
                file,
            )?;
        }
        for dir in &self.hidden_dirs {
            steps.push(MountStep {
                what: format!("tmpfs over {}", dir.display()),
                source: Some(cstring(OsStr::new("hidden"))?),
                target: cstring(dir.as_os_str())?,
                fstype: Some(cstring(OsStr::new("tmpfs"))?),
                flags: libc::MS_RDONLY | libc::MS_NOSUID | libc::MS_NODEV,
                data: Some(cstring(OsStr::new("size=4k,mode=755"))?),
            });
        }
        Ok(steps)
    }

    fn describe_step(&self, step: usize) -> String {
        match step {
            STEP_UNSHARE => "unshare(CLONE_NEWNS)".into(),
            STEP_PRIVATE => "making / recursively private".into(),
            STEP_CHDIR => "chdir to the working directory".into(),
            STEP_NONE => "exec (all mounts done)".into(),
            i => self
                .mount_steps()
                .ok()
                .and_then(|s| s.into_iter().nth(i).map(|s| s.what))
                .unwrap_or_else(|| format!("step {i}")),
        }
    }
}

const STEP_NONE: usize = usize::MAX;
const STEP_UNSHARE: usize = usize::MAX - 1;
const STEP_PRIVATE: usize = usize::MAX - 2;
const STEP_CHDIR: usize = usize::MAX - 3;

/// The child half: runs between fork and exec. Syscalls only.
fn enter_world(steps: &[MountStep], cwd: &CString, slot: usize) -> io::Result<()> {
    let fail = |step: usize| {
        // SAFETY: `slot` is the address of a live MAP_SHARED page (FailSlot), aligned.
        unsafe { *(slot as *mut usize) = step };
        Err(io::Error::last_os_error())
    };
    // SAFETY: plain syscalls on NUL-terminated strings that outlive the call.
    unsafe {
        if libc::unshare(libc::CLONE_NEWNS) != 0 {
            return fail(STEP_UNSHARE);
        }
        let root = c"/";
        let private = libc::MS_REC | libc::MS_PRIVATE;
        if libc::mount(
            std::ptr::null(),
            root.as_ptr(),
            std::ptr::null(),
            private,
            std::ptr::null(),
        ) != 0
        {
            return fail(STEP_PRIVATE);
        }
        for (i, s) in steps.iter().enumerate() {
            let opt = |c: &Option<CString>| c.as_ref().map_or(std::ptr::null(), |c| c.as_ptr());
            let data = opt(&s.data) as *const libc::c_void;
            if libc::mount(
                opt(&s.source),
                s.target.as_ptr(),
                opt(&s.fstype),
                s.flags,
                data,
            ) != 0
            {
                return fail(i);
            }
        }
        if libc::chdir(cwd.as_ptr()) != 0 {
            return fail(STEP_CHDIR);
        }
    }
    Ok(())
}

/// A page shared between the parent and the forked child, where the child records the
/// index of a failing setup step (fork copies ordinary memory; this survives).
struct FailSlot(*mut libc::c_void);

impl FailSlot {
    fn new() -> io::Result<Self> {
        // SAFETY: anonymous shared mapping of one page, checked for MAP_FAILED.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                4096,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        if ptr == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: the page is writable and page-aligned.
        unsafe { *(ptr as *mut usize) = STEP_NONE };
        Ok(FailSlot(ptr))
    }
    fn addr(&self) -> usize {
        self.0 as usize
    }
    fn read(&self) -> usize {
        // SAFETY: the page lives until drop; the child has exited or exec'd by now.
        unsafe { std::ptr::read_volatile(self.0 as *const usize) }
    }
}

impl Drop for FailSlot {
    fn drop(&mut self) {
        // SAFETY: unmapping the page mapped in `new`, once.
        unsafe { libc::munmap(self.0, 4096) };
    }
}

/// Feeds stdin, collects stdout/stderr, and enforces the timeout by killing the child's
/// process group (it was started with `process_group(0)`, so the group id is its pid).
fn wait_with_timeout(
    mut child: std::process::Child,
    stdin: &[u8],
    timeout: Duration,
) -> io::Result<Output> {
    let deadline = Instant::now() + timeout;
    let mut input = child.stdin.take();
    let data = stdin.to_vec();
    let writer = std::thread::spawn(move || {
        if let Some(pipe) = input.as_mut() {
            // The command may exit without reading: a broken pipe is its business.
            let _ = pipe.write_all(&data);
        }
    });
    let reader = |pipe: Option<Box<dyn Read + Send>>| {
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            if let Some(mut p) = pipe {
                let _ = p.read_to_end(&mut buf);
            }
            let _ = tx.send(buf);
        });
        rx
    };
    let out_rx = reader(
        child
            .stdout
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let err_rx = reader(
        child
            .stderr
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let pgid = child.id() as libc::pid_t;
    let kill_group = || {
        // SAFETY: signals only the process group this function's child leads.
        unsafe { libc::kill(-pgid, libc::SIGKILL) };
    };
    let status: ExitStatus = loop {
        if let Some(status) = child.try_wait()? {
            break status;
        }
        if Instant::now() >= deadline {
            kill_group();
            let _ = child.wait();
            return Err(io::Error::new(
                io::ErrorKind::TimedOut,
                format!("command ran longer than {timeout:?}"),
            ));
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let collect = |rx: mpsc::Receiver<Vec<u8>>| -> io::Result<Vec<u8>> {
        let left = deadline.saturating_duration_since(Instant::now());
        rx.recv_timeout(left).or_else(|_| {
            // A descendant still holds the pipe open past the deadline.
            kill_group();
            rx.recv_timeout(Duration::from_secs(5)).map_err(|_| {
                io::Error::new(
                    io::ErrorKind::TimedOut,
                    "output pipe held open by a descendant",
                )
            })
        })
    };
    let stdout = collect(out_rx)?;
    let stderr = collect(err_rx)?;
    let _ = writer.join();
    Ok(Output {
        status,
        stdout,
        stderr,
    })
}

/// What [`HiddenWorld::probe`] saw inside the world.
#[derive(Debug, Default, Clone)]
pub struct Probe {
    /// Every entry of every replaced library folder, as seen inside.
    pub lib_entries: Vec<PathBuf>,
    /// With [`HiddenSpec::only_sh`]: every entry of the program folder, as seen inside.
    pub bin_entries: Vec<PathBuf>,
    /// Anything visible under a hidden folder, or a hidden file with content.
    pub visible_hidden: Vec<PathBuf>,
    /// `PT_INTERP` exists inside.
    pub interpreter_present: bool,
    /// The files `/bin/sh` had mapped inside the world.
    pub sh_mapped: Vec<PathBuf>,
}

/// What one process wrote to the dump folder under one tag.
#[derive(Debug, Clone, Default)]
pub struct ProcessDump {
    pub pid: u32,
    pub tag: String,
    /// `/proc/self/maps` text (empty when not dumped).
    pub maps: String,
    /// `/proc/self/environ` as pairs (empty when not dumped).
    pub environ: Vec<(OsString, OsString)>,
    /// `/proc/self/cmdline` (empty when not dumped).
    pub cmdline: Vec<OsString>,
}

impl ProcessDump {
    /// The distinct files this process had mapped.
    pub fn mapped_files(&self) -> Vec<PathBuf> {
        mapped_files(&self.maps)
    }
}

/// Reads `<pid>.<tag>.{maps,environ,cmdline}` files from `dir` (the format written by
/// [`PY_DUMP_SNIPPET`] and [`SH_DUMP_SNIPPET`]), sorted by pid and tag. Usable for runs
/// outside the world too: set [`DUMP_DIR_ENV`] yourself.
pub fn collect_dumps(dir: &Path) -> io::Result<Vec<ProcessDump>> {
    let mut by_key: BTreeMap<(u32, String), ProcessDump> = BTreeMap::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let mut parts = name.splitn(3, '.');
        let (Some(pid), Some(tag), Some(part)) = (parts.next(), parts.next(), parts.next()) else {
            continue;
        };
        let Ok(pid) = pid.parse::<u32>() else {
            continue;
        };
        let bytes = std::fs::read(entry.path())?;
        let dump = by_key
            .entry((pid, tag.to_string()))
            .or_insert_with(|| ProcessDump {
                pid,
                tag: tag.to_string(),
                ..Default::default()
            });
        match part {
            "maps" => dump.maps = String::from_utf8_lossy(&bytes).into_owned(),
            "environ" => {
                dump.environ = split_nul(&bytes)
                    .map(|kv| match kv.iter().position(|&b| b == b'=') {
                        Some(i) => (
                            OsString::from_vec(kv[..i].to_vec()),
                            OsString::from_vec(kv[i + 1..].to_vec()),
                        ),
                        None => (OsString::from_vec(kv.to_vec()), OsString::new()),
                    })
                    .collect()
            }
            "cmdline" => {
                dump.cmdline = split_nul(&bytes)
                    .map(|a| OsString::from_vec(a.to_vec()))
                    .collect()
            }
            _ => {}
        }
    }
    Ok(by_key.into_values().collect())
}

fn split_nul(bytes: &[u8]) -> impl Iterator<Item = &[u8]> {
    bytes.split(|&b| b == 0).filter(|s| !s.is_empty())
}

/// The distinct file-backed paths of a `/proc/<pid>/maps` text (pseudo entries such as
/// `[heap]`, `[vdso]` and anonymous mappings skipped; a ` (deleted)` suffix kept, so a
/// deleted file is never mistaken for an allowed one).
pub fn mapped_files(maps: &str) -> Vec<PathBuf> {
    let mut out = BTreeSet::new();
    for line in maps.lines() {
        // address perms offset dev inode pathname: the path starts at field 6 and may hold spaces.
        let mut rest = line;
        for _ in 0..5 {
            rest = rest.trim_start();
            rest = rest.find(' ').map_or("", |i| &rest[i..]);
        }
        let path = rest.trim();
        if path.starts_with('/') {
            out.insert(PathBuf::from(path));
        }
    }
    out.into_iter().collect()
}

/// A mapped file of one process that is neither in the dist nor an allowed system file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    pub pid: u32,
    pub tag: String,
    pub path: PathBuf,
}

impl std::fmt::Display for Violation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "process {} ({}) maps {}, outside the dist and the system policy",
            self.pid,
            self.tag,
            self.path.display()
        )
    }
}

/// Every mapped file of every dump that is not allowed by [`disallowed_paths`].
/// Works on dumps from inside the world and from the host.
pub fn check_maps_within(
    dumps: &[ProcessDump],
    dist_root: &Path,
    policy_names: &[String],
) -> Vec<Violation> {
    dumps
        .iter()
        .flat_map(|dump| {
            disallowed_paths(&dump.mapped_files(), Some(dist_root), policy_names)
                .into_iter()
                .map(|path| Violation {
                    pid: dump.pid,
                    tag: dump.tag.clone(),
                    path,
                })
        })
        .collect()
}

/// The `paths` (mapped files) that are neither under `dist_root` (compared with its real
/// path too) nor allowed system files. Allowed: a file directly in one of
/// [`system_lib_dirs`] (or their usual spellings) whose name matches a `policy_names`
/// glob, `/bin/sh` under any of its names, and the data files of [`NON_OBJECT_PREFIXES`].
pub fn disallowed_paths(
    paths: &[PathBuf],
    dist_root: Option<&Path>,
    policy_names: &[String],
) -> Vec<PathBuf> {
    let dist: Vec<PathBuf> = dist_root
        .into_iter()
        .flat_map(|d| {
            [
                d.to_path_buf(),
                std::fs::canonicalize(d).unwrap_or_default(),
            ]
        })
        .filter(|d| !d.as_os_str().is_empty())
        .collect();
    // A policy that does not compile allows nothing: every system library is a violation.
    let policy = glob_set(policy_names).unwrap_or_else(|_| GlobSet::empty());
    let mut lib_dirs: Vec<PathBuf> = system_lib_dirs();
    lib_dirs.extend(
        ["/lib", "/usr/lib"]
            .iter()
            .map(|d| PathBuf::from(d).join(format!("{}-linux-gnu", std::env::consts::ARCH))),
    );
    lib_dirs.extend(["/lib64", "/usr/lib64"].map(PathBuf::from));
    let mut sh_names = vec![PathBuf::from("/bin/sh"), PathBuf::from("/usr/bin/sh")];
    sh_names.extend(std::fs::canonicalize("/bin/sh"));
    paths
        .iter()
        .filter(|path| {
            let in_dist = dist.iter().any(|d| path.starts_with(d));
            let in_policy = path
                .parent()
                .is_some_and(|d| lib_dirs.iter().any(|l| l == d))
                && policy.is_match(file_name(path));
            let data = NON_OBJECT_PREFIXES
                .iter()
                .any(|p| path.as_os_str().as_bytes().starts_with(p.as_bytes()));
            !(in_dist || in_policy || data || sh_names.contains(path))
        })
        .cloned()
        .collect()
}

/// Panics with every violation of [`check_maps_within`]; also when `dumps` holds no maps at
/// all (a check of nothing would pass vacuously).
pub fn assert_maps_within(dumps: &[ProcessDump], dist_root: &Path, policy_names: &[String]) {
    assert!(
        dumps.iter().any(|d| !d.maps.is_empty()),
        "no process dumped its maps: did the app include PY_DUMP_SNIPPET and get {DUMP_DIR_ENV}?"
    );
    let violations = check_maps_within(dumps, dist_root, policy_names);
    assert!(
        violations.is_empty(),
        "mapped objects outside {} and the policy:\n{}",
        dist_root.display(),
        violations
            .iter()
            .map(|v| format!("  {v}\n"))
            .collect::<String>()
    );
}

/// Panics when any dumped environment holds `name` (e.g. `LD_LIBRARY_PATH`), or when no
/// process dumped its environment at all.
pub fn assert_env_lacks(dumps: &[ProcessDump], name: &str) {
    let with_env: Vec<&ProcessDump> = dumps.iter().filter(|d| !d.environ.is_empty()).collect();
    assert!(!with_env.is_empty(), "no process dumped its environment");
    for d in with_env {
        if let Some((_, v)) = d.environ.iter().find(|(k, _)| k == name) {
            panic!(
                "process {} ({}) has {name}={}",
                d.pid,
                d.tag,
                v.to_string_lossy()
            );
        }
    }
}

/// Copies the files of `dir` whose name and SONAME match the policy into `libs`, named by
/// SONAME (the name the loader asks for), once per SONAME.
fn stage_policy_libs(
    dir: &Path,
    policy: &GlobSet,
    libs: &Path,
    staged: &mut BTreeSet<String>,
) -> io::Result<()> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)?.filter_map(Result::ok).collect();
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let name = entry.file_name().to_string_lossy().into_owned();
        if !policy.is_match(&name) {
            continue;
        }
        let Ok(real) = std::fs::canonicalize(entry.path()) else {
            continue;
        };
        if !real.is_file() {
            continue;
        }
        let bytes = std::fs::read(&real)?;
        let Ok(elf) = goblin::elf::Elf::parse(&bytes) else {
            continue;
        };
        let soname = elf.soname.map(str::to_string).unwrap_or(name);
        if policy.is_match(&soname) && staged.insert(soname.clone()) {
            std::fs::copy(&real, libs.join(&soname))?;
        }
    }
    Ok(())
}

fn glob_set(names: &[String]) -> io::Result<GlobSet> {
    let mut b = GlobSetBuilder::new();
    for n in names {
        b.add(Glob::new(n).map_err(io::Error::other)?);
    }
    b.build().map_err(io::Error::other)
}

/// Real paths of the folders in `parent` whose name starts with `prefix`, sorted.
fn glob_dirs(parent: &Path, prefix: &str) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(parent)
        .into_iter()
        .flatten()
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().starts_with(prefix))
        .filter_map(|e| std::fs::canonicalize(e.path()).ok())
        .filter(|p| p.is_dir())
        .collect();
    out.sort();
    out.dedup();
    out
}

fn file_name(p: &Path) -> String {
    p.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

fn cstring(s: &OsStr) -> io::Result<CString> {
    CString::new(s.as_bytes()).map_err(io::Error::other)
}

/// `s` as one single-quoted sh word.
fn sh_quote(s: &OsStr) -> String {
    format!("'{}'", s.to_string_lossy().replace('\'', r"'\''"))
}

/// Every interpreter pyenv has installed (`$(pyenv root)/versions/*/bin/python`), sorted.
pub fn pyenv_pythons() -> Vec<PathBuf> {
    let versions = super::pyenv_root().join("versions");
    let mut out: Vec<PathBuf> = std::fs::read_dir(versions)
        .into_iter()
        .flatten()
        .filter_map(Result::ok)
        .map(|e| e.path().join("bin").join("python"))
        .filter(|p| p.exists())
        .collect();
    out.sort();
    out
}
