//! System-library policy presets: the libraries a target system is trusted to provide,
//! which a dist never bundles. Data, not code: the layout language names them
//! (`system preset glibc`) and may extend or trim them; the native model consults the
//! resulting set. Entries are globs matched against a library's SONAME, or its file
//! name when it has none.
//!
//! A preset may also name the programs and the data files every such target has
//! (`programs`, `data`): the app's runs of those programs and the files native code
//! opened there stay the target's, and a dist never bundles them. They are data here,
//! visible in the docs and in `shenzi apply`'s summary, never rules of the planner.

/// A named set of libraries the target provides.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Preset {
    pub name: &'static str,
    /// One line for `shenzi explain` and the docs.
    pub summary: &'static str,
    /// Presets whose entries this one includes.
    pub extends: &'static [&'static str],
    pub entries: &'static [&'static str],
    /// Programs the target has, by file name (`sh`, `uname`): globs matched against the
    /// real file's name and every bare name the app ran it by.
    pub programs: &'static [&'static str],
    /// Files the target has, as globs over absolute paths (`/etc/**`).
    pub data: &'static [&'static str],
}

/// The programs every Linux system has: the POSIX shell and utilities, coreutils, and
/// glibc's own tools. A program of the same name on the target does the same job.
const BASE_PROGRAMS: &[&str] = &[
    "sh",
    "dash",
    "bash",
    "env",
    "uname",
    "ldconfig",
    "ldconfig.real",
    "ldd",
    "getconf",
    "getent",
    "iconv",
    "locale",
    "id",
    "whoami",
    "hostname",
    "cat",
    "ls",
    "cp",
    "mv",
    "rm",
    "ln",
    "mkdir",
    "rmdir",
    "chmod",
    "touch",
    "date",
    "echo",
    "printf",
    "test",
    "[",
    "true",
    "false",
    "sleep",
    "head",
    "tail",
    "sort",
    "uniq",
    "wc",
    "tr",
    "cut",
    "tee",
    "basename",
    "dirname",
    "readlink",
    "realpath",
    "pwd",
    "kill",
    "nproc",
    "stty",
    "tty",
    "which",
    "sed",
    "grep",
    "find",
    "xargs",
    "expr",
    "mktemp",
    "nice",
    "nohup",
    "timeout",
    "gzip",
    "tar",
];

/// What every Linux system has that native code reads: its configuration (`/etc`, with the
/// certificates, `ld.so.cache`, `nsswitch.conf`, `localtime`), the kernel's file systems,
/// glibc's locale and character-set data, the time zones and the CA certificates. These
/// describe the target machine: the target's own copy is the right one.
const BASE_DATA: &[&str] = &[
    "/etc/**",
    "/proc/**",
    "/sys/**",
    "/dev/**",
    "/run/**",
    "/usr/lib/locale/**",
    "/usr/share/locale/**",
    "/usr/share/i18n/**",
    "/usr/lib/*/gconv/**",
    "/usr/share/zoneinfo/**",
    "/usr/share/ca-certificates/**",
    "/usr/lib/ssl/**",
];

/// Every preset, in the order the docs list them.
pub const PRESETS: &[Preset] = &[
    Preset {
        name: "base",
        summary: "no libraries: the programs (`sh`, `uname`, `ldconfig`, `env`, coreutils) and the data (`/etc`, `/proc`, `/sys`, `/dev`, locales, time zones, CA certificates) every Linux system has",
        extends: &[],
        entries: &[],
        programs: BASE_PROGRAMS,
        data: BASE_DATA,
    },
    Preset {
        name: "glibc",
        summary: "the GNU C library and its loader: present on every glibc system, and tied to its version (with `base`'s programs and data)",
        extends: &["base"],
        entries: &[
            "ld-linux.so.2",
            "ld-linux-x86-64.so.2",
            "ld-linux-aarch64.so.1",
            "libc.so.6",
            "libm.so.6",
            "libmvec.so.1",
            "libdl.so.2",
            "libpthread.so.0",
            "librt.so.1",
            "libutil.so.1",
            "libresolv.so.2",
            "libnsl.so.1",
            "libanl.so.1",
            "libBrokenLocale.so.1",
            "libthread_db.so.1",
            "libc_malloc_debug.so.0",
            // glibc's own NSS modules only: libnss_systemd and friends are not glibc.
            "libnss_files.so.2",
            "libnss_dns.so.2",
            "libnss_compat.so.2",
            "libnss_db.so.2",
            "libnss_hesiod.so.2",
        ],
        programs: &[],
        data: &[],
    },
    Preset {
        name: "graphics",
        summary: "glibc plus the graphics, driver and sound stack that must match the target's hardware and drivers (as PyInstaller and AppImage leave them out)",
        extends: &["glibc"],
        entries: &[
            "libGL.so.1",
            "libGLX.so.0",
            "libGLdispatch.so.0",
            "libOpenGL.so.0",
            "libEGL.so.1",
            "libGLESv1_CM.so.1",
            "libGLESv2.so.2",
            "libgbm.so.1",
            "libdrm.so.2",
            "libdrm_*.so.1",
            "libvulkan.so.1",
            "libva.so.2",
            "libva-*.so.2",
            "libvdpau.so.1",
            "libcuda.so.1",
            "libnvidia-*.so*",
            "libX11.so.6",
            "libX11-xcb.so.1",
            "libxcb.so.1",
            "libxcb-*.so.0",
            "libwayland-client.so.0",
            "libwayland-server.so.0",
            "libwayland-egl.so.1",
            "libasound.so.2",
            "libjack.so.0",
            "libpulse.so.0",
        ],
        programs: &[],
        data: &[],
    },
    Preset {
        name: "manylinux_2_28",
        summary: "what a manylinux_2_28 wheel may assume (auditwheel's whitelist): glibc 2.28, the C++ runtime, X11 client and GLib basics",
        extends: &[],
        entries: &[
            "libgcc_s.so.1",
            "libstdc++.so.6",
            "libatomic.so.1",
            "libm.so.6",
            "libdl.so.2",
            "librt.so.1",
            "libc.so.6",
            "libnsl.so.1",
            "libutil.so.1",
            "libpthread.so.0",
            "libresolv.so.2",
            "libX11.so.6",
            "libXext.so.6",
            "libXrender.so.1",
            "libICE.so.6",
            "libSM.so.6",
            "libGL.so.1",
            "libgobject-2.0.so.0",
            "libgthread-2.0.so.0",
            "libglib-2.0.so.0",
            "ld-linux-x86-64.so.2",
            "ld-linux-aarch64.so.1",
        ],
        programs: &[],
        data: &[],
    },
    Preset {
        name: "cxx-runtime",
        summary: "the C++ and GCC runtime: trusting the target's copy avoids two libstdc++ in one process, bundling it runs on older systems",
        extends: &[],
        entries: &["libstdc++.so.6", "libgcc_s.so.1"],
        programs: &[],
        data: &[],
    },
];

/// The preset named `name`.
pub fn preset(name: &str) -> Option<&'static Preset> {
    PRESETS.iter().find(|p| p.name == name)
}

/// All entries of a preset, its `extends` included, sorted and without repeats.
pub fn entries(preset: &Preset) -> Vec<&'static str> {
    let mut out: Vec<&'static str> = preset
        .extends
        .iter()
        .filter_map(|name| self::preset(name))
        .flat_map(entries)
        .chain(preset.entries.iter().copied())
        .collect();
    out.sort_unstable();
    out.dedup();
    out
}

/// A list of a preset (`programs` or `data`), its `extends` included, sorted and without
/// repeats.
fn listed(preset: &Preset, list: fn(&Preset) -> &'static [&'static str]) -> Vec<&'static str> {
    let mut out: Vec<&'static str> = preset
        .extends
        .iter()
        .filter_map(|name| self::preset(name))
        .flat_map(|p| listed(p, list))
        .chain(list(preset).iter().copied())
        .collect();
    out.sort_unstable();
    out.dedup();
    out
}

/// The programs and data files the target has, from a layout's presets: what the app ran
/// or read there stays the target's.
#[derive(Debug, Clone)]
pub struct TargetFiles {
    /// `(glob, preset)`, in preset order.
    programs: Vec<(&'static str, &'static str, globset::GlobSet)>,
    data: Vec<(&'static str, &'static str, globset::GlobSet)>,
}

impl TargetFiles {
    /// The programs and data of the presets named `presets` (unknown names add nothing:
    /// the analyzer has refused them already).
    pub fn of<'a>(presets: impl IntoIterator<Item = &'a str>) -> TargetFiles {
        let mut out = TargetFiles {
            programs: Vec::new(),
            data: Vec::new(),
        };
        for p in presets.into_iter().filter_map(preset) {
            for (into, list) in [
                (&mut out.programs, listed(p, |p| p.programs)),
                (&mut out.data, listed(p, |p| p.data)),
            ] {
                for glob in list {
                    if !into.iter().any(|(g, _, _)| *g == glob)
                        && let Some(set) = compile(glob)
                    {
                        into.push((glob, p.name, set));
                    }
                }
            }
        }
        out
    }

    /// The preset that says the target has a program with one of `names` (file names).
    pub fn program<'n>(&self, names: impl IntoIterator<Item = &'n str>) -> Option<&'static str> {
        let names: Vec<&str> = names.into_iter().collect();
        self.programs
            .iter()
            .find(|(_, _, set)| names.iter().any(|n| set.is_match(n)))
            .map(|(_, preset, _)| *preset)
    }

    /// The preset that says the target has the file at `path` (absolute).
    pub fn data(&self, path: &std::path::Path) -> Option<&'static str> {
        self.data
            .iter()
            .find(|(_, _, set)| set.is_match(path))
            .map(|(_, preset, _)| *preset)
    }
}

/// A compiled system policy: library names (globs over SONAME or file name) the target
/// provides, each remembering the entry it came from so `explain` can say why a library
/// stays out.
#[derive(Debug, Clone)]
pub struct Policy {
    entries: Vec<(String, globset::GlobSet)>,
    /// Names bundled even though an entry matches them (`cxx-runtime bundle`, `remove`).
    except: Vec<globset::GlobSet>,
}

impl Policy {
    /// Compiles `entries` (globs such as `libdrm_*.so.1`); an entry that is not a valid
    /// glob is matched literally.
    pub fn new<S: Into<String>>(entries: impl IntoIterator<Item = S>) -> Policy {
        let entries = entries
            .into_iter()
            .map(Into::into)
            .filter_map(|e: String| compile(&e).map(|g| (e, g)))
            .collect();
        Policy {
            entries,
            except: Vec::new(),
        }
    }

    /// The same policy, except that names matching `except` are bundled after all.
    pub fn with_exceptions<S: AsRef<str>>(mut self, except: impl IntoIterator<Item = S>) -> Policy {
        self.except
            .extend(except.into_iter().filter_map(|e| compile(e.as_ref())));
        self
    }

    /// The policy of a preset, its `extends` included.
    pub fn from_preset(preset: &Preset) -> Policy {
        Policy::new(entries(preset))
    }

    /// The entry that says the target provides `name` (a SONAME or a file name), if any.
    pub fn excludes(&self, name: &str) -> Option<&str> {
        if self.except.iter().any(|g| g.is_match(name)) {
            return None;
        }
        self.entries
            .iter()
            .find(|(_, glob)| glob.is_match(name))
            .map(|(entry, _)| entry.as_str())
    }

    /// The entries, in the order given.
    pub fn entries(&self) -> impl Iterator<Item = &str> {
        self.entries.iter().map(|(e, _)| e.as_str())
    }
}

/// A glob, or the literal name when it is not a valid glob; `None` when neither
/// compiles.
fn compile(entry: &str) -> Option<globset::GlobSet> {
    globset::Glob::new(entry)
        .or_else(|_| globset::Glob::new(&globset::escape(entry)))
        .ok()
        .and_then(|g| matcher(g).ok())
}

/// Compiles one glob, fallibly. globset's `Glob::compile_matcher` panics when the regex
/// behind a glob does not compile (alternatives nested too deep, a glob too long); a
/// set of one glob reports that as an error instead.
pub fn matcher(glob: globset::Glob) -> Result<globset::GlobSet, globset::Error> {
    let mut set = globset::GlobSetBuilder::new();
    set.add(glob);
    set.build()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_extended_preset_exists_and_names_are_unique() {
        for (i, p) in PRESETS.iter().enumerate() {
            for e in p.extends {
                assert!(preset(e).is_some(), "{} extends unknown {e}", p.name);
            }
            assert!(PRESETS[..i].iter().all(|q| q.name != p.name));
        }
    }

    #[test]
    fn glibc_targets_have_the_base_programs_and_data() {
        let target = TargetFiles::of(["glibc"]);
        assert_eq!(target.program(["dash"]), Some("glibc"));
        assert_eq!(target.program(["file", "git"]), None);
        assert_eq!(
            target.data(std::path::Path::new("/etc/ssl/certs/ca.pem")),
            Some("glibc")
        );
        assert_eq!(
            target.data(std::path::Path::new("/usr/share/misc/magic.mgc")),
            None
        );
        assert!(TargetFiles::of(["cxx-runtime"]).program(["sh"]).is_none());
    }

    #[test]
    fn graphics_includes_glibc() {
        let graphics = entries(preset("graphics").unwrap());
        for e in entries(preset("glibc").unwrap()) {
            assert!(graphics.contains(&e), "{e}");
        }
        assert!(graphics.contains(&"libGL.so.1"));
    }

    #[test]
    fn policy_matches_globs_and_names_the_entry() {
        let policy = Policy::from_preset(preset("glibc").unwrap());
        assert_eq!(policy.excludes("libc.so.6"), Some("libc.so.6"));
        assert_eq!(
            policy.excludes("libnss_files.so.2"),
            Some("libnss_files.so.2")
        );
        let graphics = Policy::from_preset(preset("graphics").unwrap());
        assert_eq!(
            graphics.excludes("libdrm_amdgpu.so.1"),
            Some("libdrm_*.so.1")
        );
        let bundled = graphics.with_exceptions(["libdrm_*"]);
        assert_eq!(bundled.excludes("libdrm_amdgpu.so.1"), None);
        assert_eq!(bundled.excludes("libGL.so.1"), Some("libGL.so.1"));
        assert_eq!(policy.excludes("libz.so.1"), None);
        // systemd's NSS module is not glibc's: a dist that needs it bundles it.
        assert_eq!(policy.excludes("libnss_systemd.so.2"), None);
        let graphics = Policy::from_preset(preset("graphics").unwrap());
        assert_eq!(
            graphics.excludes("libnvidia-glcore.so.535"),
            Some("libnvidia-*.so*")
        );
        let bundling_cxx = Policy::from_preset(preset("manylinux_2_28").unwrap())
            .with_exceptions(["libstdc++.so.6"]);
        assert_eq!(bundling_cxx.excludes("libstdc++.so.6"), None);
        assert_eq!(
            bundling_cxx.excludes("libgcc_s.so.1"),
            Some("libgcc_s.so.1")
        );
    }
}
