//! The kinds of manifest entries a unit can take and the template variables each one
//! offers. This table is the one place both the analyzer and the reference
//! (`docs/layout-language.md`, checked by `tests/layout_docs.rs`) read.

use std::fmt;

/// A template variable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Var {
    /// `app.name`: the application's name (entry script stem, module or console script).
    AppName,
    /// `py.major`
    PyMajor,
    /// `py.minor`
    PyMinor,
    /// `py.micro`
    PyMicro,
    /// `py.abiflags`: `sys.abiflags`, often empty, `t` when free-threaded.
    PyAbiflags,
    /// `platform.machine`: `x86_64`, `aarch64`.
    Machine,
    /// `path`: the file's path relative to the folder its kind is taken from.
    Path,
    /// `file`: the file's own name.
    File,
    /// `name`: a library's SONAME, or its file name when it has none.
    Name,
    /// `soname`: a library's SONAME.
    Soname,
    /// `request`: a run-time load's name as the code asked for it.
    Request,
    /// `hash`: the BLAKE3 hash of the file's content, hex; `{hash:N}` keeps N digits.
    Hash,
    /// `module`: an extension module's dotted name.
    Module,
    /// `package`: the top-level package a file belongs to.
    Package,
    /// `site.index`: the position of the file's site dir among those on `sys.path`, from 0.
    SiteIndex,
    /// `site.kind`: `venv`, `system` or `user`.
    SiteKind,
}

impl Var {
    pub const ALL: &'static [Var] = &[
        Var::AppName,
        Var::PyMajor,
        Var::PyMinor,
        Var::PyMicro,
        Var::PyAbiflags,
        Var::Machine,
        Var::Path,
        Var::File,
        Var::Name,
        Var::Soname,
        Var::Request,
        Var::Hash,
        Var::Module,
        Var::Package,
        Var::SiteIndex,
        Var::SiteKind,
    ];

    /// How the variable is written between braces.
    pub fn name(self) -> &'static str {
        match self {
            Var::AppName => "app.name",
            Var::PyMajor => "py.major",
            Var::PyMinor => "py.minor",
            Var::PyMicro => "py.micro",
            Var::PyAbiflags => "py.abiflags",
            Var::Machine => "platform.machine",
            Var::Path => "path",
            Var::File => "file",
            Var::Name => "name",
            Var::Soname => "soname",
            Var::Request => "request",
            Var::Hash => "hash",
            Var::Module => "module",
            Var::Package => "package",
            Var::SiteIndex => "site.index",
            Var::SiteKind => "site.kind",
        }
    }

    /// One line for the reference.
    pub fn summary(self) -> &'static str {
        match self {
            Var::AppName => {
                "the application's name: `--name` (`name` in shenzi.toml) when given, else the entry script's stem, the `-m` module's top-level package (`-m greet.cli`: `greet`) or the console script's name"
            }
            Var::PyMajor => "the interpreter's major version, `3`",
            Var::PyMinor => "the interpreter's minor version, `11`",
            Var::PyMicro => "the interpreter's micro version, `4`",
            Var::PyAbiflags => "`sys.abiflags`: often empty, `t` for a free-threaded build",
            Var::Machine => "the CPU family, `x86_64` or `aarch64`",
            Var::Path => "the file's path below the folder its kind is taken from (may hold `/`)",
            Var::File => "the file's own name",
            Var::Name => "a library's SONAME, or its file name when it has none",
            Var::Soname => "a library's SONAME (rendering fails for a library without one)",
            Var::Request => "the name a run-time load asked for (`libz.so.1`)",
            Var::Hash => {
                "the BLAKE3 hash of the content in hex; `{hash:N}` keeps the first N digits"
            }
            Var::Module => "the extension module's dotted name",
            Var::Package => "the top-level package the file belongs to",
            Var::SiteIndex => "the site dir's position among the site dirs on `sys.path`, from 0",
            Var::SiteKind => "the site dir's kind: `venv`, `system` or `user`",
        }
    }

    /// Whether a rendered value may contain `/` (only a relative path does).
    pub fn may_hold_slash(self) -> bool {
        self == Var::Path
    }

    /// The variable written `name`.
    pub fn from_name(name: &str) -> Option<Var> {
        Var::ALL.iter().copied().find(|v| v.name() == name)
    }
}

impl fmt::Display for Var {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Variables every template may use.
pub const COMMON: &[Var] = &[
    Var::AppName,
    Var::PyMajor,
    Var::PyMinor,
    Var::PyMicro,
    Var::PyAbiflags,
    Var::Machine,
];

/// Variables of a farm's `reals` and `links` templates, besides [`COMMON`].
pub const FARM: &[Var] = &[Var::Name, Var::Soname, Var::File, Var::Hash];

/// What a unit can take from the manifest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    Interpreter,
    Stdlib,
    Dynload,
    SiteDirs,
    Packages,
    Extensions,
    RuntimeLoads,
    Needed,
    Executables,
    Entry,
    AppModules,
    Scripts,
    Data,
    NativeData,
}

/// Everything the language knows about a kind, as data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KindInfo {
    pub kind: Kind,
    /// How a layout writes it: `python.stdlib`.
    pub name: &'static str,
    /// One line for the reference.
    pub summary: &'static str,
    /// The variables its destination may use, besides [`COMMON`].
    pub vars: &'static [Var],
    /// Variables that tell its files apart: a destination must use one of them unless
    /// the kind holds a single file.
    pub distinct: &'static [Var],
    /// What `only` and `exclude` globs are matched against.
    pub matched: &'static str,
    /// Whether it may hold shared libraries or extension modules (so a farm applies).
    pub native: bool,
    /// Whether its files are imported from a folder on `sys.path`.
    pub importable: bool,
    /// Whether `select all|imported` applies.
    pub selectable: bool,
}

/// Every kind, in the order the reference lists them.
pub const KINDS: &[KindInfo] = &[
    KindInfo {
        kind: Kind::Interpreter,
        name: "python.interpreter",
        summary: "the interpreter executable (its real file)",
        vars: &[Var::File, Var::Hash],
        distinct: &[],
        matched: "the file name",
        native: true,
        importable: false,
        selectable: false,
    },
    KindInfo {
        kind: Kind::Stdlib,
        name: "python.stdlib",
        summary: "the pure standard library folder, without lib-dynload and site-packages: all of it, or only the modules the trace imported (`select`)",
        vars: &[Var::Path, Var::File],
        distinct: &[Var::Path],
        matched: "the path below the stdlib folder",
        native: false,
        importable: true,
        selectable: true,
    },
    KindInfo {
        kind: Kind::Dynload,
        name: "python.dynload",
        summary: "the standard library's extension modules (`lib-dynload`): all of them, or only the imported ones (`select`)",
        vars: &[Var::Path, Var::File, Var::Hash],
        distinct: &[Var::Path, Var::File, Var::Hash],
        matched: "the path below the lib-dynload folder",
        native: true,
        importable: true,
        selectable: true,
    },
    KindInfo {
        kind: Kind::SiteDirs,
        name: "python.site_dirs",
        summary: "every site dir on `sys.path`: all of it, or only the imported top-level packages (`select`)",
        vars: &[Var::Path, Var::File, Var::SiteIndex, Var::SiteKind],
        distinct: &[Var::Path],
        matched: "the path below the site dir",
        native: true,
        importable: true,
        selectable: true,
    },
    KindInfo {
        kind: Kind::Packages,
        name: "python.packages",
        summary: "the imported top-level packages of the site dirs, each with its `*.dist-info`",
        vars: &[
            Var::Path,
            Var::File,
            Var::Package,
            Var::SiteIndex,
            Var::SiteKind,
        ],
        distinct: &[Var::Path],
        matched: "the path below the site dir",
        native: true,
        importable: true,
        selectable: false,
    },
    KindInfo {
        kind: Kind::Extensions,
        name: "python.extensions",
        summary: "imported extension modules outside the stdlib",
        vars: &[Var::Path, Var::File, Var::Module, Var::Hash],
        distinct: &[Var::Path, Var::Module, Var::Hash],
        matched: "the path below the `sys.path` folder it was imported from",
        native: true,
        importable: true,
        selectable: false,
    },
    KindInfo {
        kind: Kind::RuntimeLoads,
        name: "native.runtime_loads",
        summary: "libraries loaded at run time with `ctypes` or `cffi`",
        vars: &[Var::Name, Var::Soname, Var::Request, Var::File, Var::Hash],
        distinct: &[Var::Name, Var::Soname, Var::Request, Var::File, Var::Hash],
        matched: "the library's name (SONAME or file name)",
        native: true,
        importable: false,
        selectable: false,
    },
    KindInfo {
        kind: Kind::Needed,
        name: "native.needed",
        summary: "shared libraries mapped because something needed them (`DT_NEEDED`), libpython included",
        vars: &[Var::Name, Var::Soname, Var::File, Var::Hash],
        distinct: &[Var::Name, Var::Soname, Var::File, Var::Hash],
        matched: "the library's name (SONAME or file name)",
        native: true,
        importable: false,
        selectable: false,
    },
    KindInfo {
        kind: Kind::Executables,
        name: "app.executables",
        summary: "programs the application and its child processes ran by a bare name (found on `PATH`), scripts with their `#!` line included; programs the system policy's presets name (`sh`, `uname`, ...) and programs only ever run by an absolute path stay the target's",
        vars: &[Var::Name, Var::File, Var::Hash],
        distinct: &[Var::Name, Var::File, Var::Hash],
        matched: "the program's file name",
        native: true,
        importable: false,
        selectable: false,
    },
    KindInfo {
        kind: Kind::Entry,
        name: "app.entry",
        summary: "the entry script the trace started",
        vars: &[Var::File],
        distinct: &[],
        matched: "the file name",
        native: false,
        importable: true,
        selectable: false,
    },
    KindInfo {
        kind: Kind::AppModules,
        name: "app.modules",
        summary: "the application's own code: each imported top-level package or module, whole, from the entry script's folder and the other `sys.path` folders that are neither the stdlib nor a site dir",
        vars: &[Var::Path, Var::File, Var::Package],
        distinct: &[Var::Path],
        matched: "the path below its `sys.path` folder",
        native: true,
        importable: true,
        selectable: false,
    },
    KindInfo {
        kind: Kind::Scripts,
        name: "app.scripts",
        summary: "scripts that child Python processes ran as their main program",
        vars: &[Var::File],
        distinct: &[Var::File],
        matched: "the file name",
        native: false,
        importable: false,
        selectable: false,
    },
    KindInfo {
        kind: Kind::Data,
        name: "app.data",
        summary: "non-code files the application read from below its own folders (those `app.modules` takes from: the entry script's folder, `PYTHONPATH` folders), such as `x.txt` opened beside the entry script; files read below a site dir or the stdlib are those units' (`select imported` keeps the top-level entries the trace read data from)",
        vars: &[Var::Path, Var::File],
        distinct: &[Var::Path],
        matched: "the path below its folder",
        native: false,
        importable: false,
        selectable: false,
    },
    KindInfo {
        kind: Kind::NativeData,
        name: "native.data",
        summary: "files native code opened (`native_data`) below a folder an environment variable of the app names (`native_env`), which `env traced` re-points to the shipped copy; files the system policy's presets name (`/etc`, locales, ...) stay the target's",
        vars: &[Var::Path, Var::File],
        distinct: &[Var::Path],
        matched: "the absolute path without its leading `/`",
        native: false,
        importable: false,
        selectable: false,
    },
];

impl Kind {
    /// The data describing this kind.
    pub fn info(self) -> &'static KindInfo {
        // Every Kind has exactly one row in KINDS (checked by a test below).
        KINDS
            .iter()
            .find(|k| k.kind == self)
            .expect("every kind has a row in KINDS")
    }

    pub fn name(self) -> &'static str {
        self.info().name
    }

    /// The kind written `name`.
    pub fn from_name(name: &str) -> Option<Kind> {
        KINDS.iter().find(|k| k.name == name).map(|k| k.kind)
    }

    /// Whether a destination template of this kind may use `var`.
    pub fn allows(self, var: Var) -> bool {
        COMMON.contains(&var) || self.info().vars.contains(&var)
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Where a template is used, which decides the variables it may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Context<'a> {
    /// A unit's destination: the variables every one of its kinds offers.
    Unit(&'a [Kind]),
    /// A farm's `reals` or `links`.
    Farm,
    /// The launcher's path.
    Launcher,
    /// A farm's root: a fixed folder, no variables.
    Root,
    /// The onefile's name (`output onefile "..."`), below the `-o` folder.
    Onefile,
    /// A unit's archive (`pack zip "..."`): one file, so no per-file variables.
    Archive,
}

impl Context<'_> {
    pub fn allows(&self, var: Var) -> bool {
        match self {
            Context::Unit(kinds) => kinds.iter().all(|k| k.allows(var)),
            Context::Farm => COMMON.contains(&var) || FARM.contains(&var),
            Context::Launcher | Context::Onefile | Context::Archive => COMMON.contains(&var),
            Context::Root => false,
        }
    }

    /// Every variable allowed here, in reference order.
    pub fn allowed(&self) -> Vec<Var> {
        Var::ALL
            .iter()
            .copied()
            .filter(|v| self.allows(*v))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_are_unique_and_complete() {
        for (i, k) in KINDS.iter().enumerate() {
            assert!(
                KINDS[..i]
                    .iter()
                    .all(|o| o.kind != k.kind && o.name != k.name)
            );
            assert_eq!(Kind::from_name(k.name), Some(k.kind));
            for d in k.distinct {
                assert!(k.vars.contains(d), "{} distinct {d} not in vars", k.name);
            }
        }
        for v in Var::ALL {
            assert_eq!(Var::from_name(v.name()), Some(*v));
        }
    }
}
