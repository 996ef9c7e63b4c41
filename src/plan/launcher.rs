//! The POSIX `sh` launcher a dist is started with.
//!
//! Decisions, each for a complaint users have of other tools:
//! - It finds its dist from its own path, following symlinks to itself (with `readlink`,
//!   which every glibc system has; without it, a launcher run through a symlink cannot
//!   find its dist and says so), so the dist runs from any path and through a link.
//! - It sets no `LD_LIBRARY_PATH`: every binary in the dist finds its libraries through
//!   its own RUNPATH, so child processes (`sh`, `git`) never load the dist's libraries.
//! - It removes every `PYTHON*` variable CPython 3.8–3.13 reads (with the `unset`
//!   builtin: no process is forked, so start-up costs no more than the interpreter's)
//!   and exports
//!   `PYTHONNOUSERSITE=1` when the layout's flags keep the user site out (`-s`, `-I`), so
//!   a child started with `sys.executable` does not see it either; the main interpreter
//!   gets the layout's flags.
//! - It puts the folders of the dist's programs first on `PATH` (the rest of the user's
//!   `PATH` is kept as it is, or the POSIX default when unset), so the app and its child
//!   processes find the dist's programs by name, and sets the variables the layout says
//!   (native data folders re-pointed into the dist), each from the dist's own path.
//! - It `exec`s the interpreter: arguments, stdin/stdout, signals and the exit status pass
//!   through untouched, and `sys.executable` is the dist's interpreter.

use std::fmt::Write as _;

// What the launcher starts is what the dist record says it starts: one type.
use crate::record::DistEntry;

/// What the launcher needs to know, all paths relative to the dist root and `/`-separated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LauncherSpec {
    /// Where the launcher itself goes (`bin/app`).
    pub path: String,
    /// The interpreter executable (`python/bin/python3.11`).
    pub interpreter: String,
    pub entry: DistEntry,
    /// What the launcher is for, shown in its header.
    pub app_name: String,
    /// Interpreter options (`-E`, `-s`, ...), from the layout's `flags`.
    pub flags: Vec<String>,
    /// Folders of the dist put first on `PATH`, in order.
    pub path_first: Vec<String>,
    /// Variables set, in order.
    pub env: Vec<EnvVar>,
}

/// A variable the launcher sets: its value is the parts joined by `:`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvVar {
    pub name: String,
    pub parts: Vec<EnvPart>,
}

/// One `:`-separated part of a variable the launcher sets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EnvPart {
    /// A path inside the dist, relative to its root.
    Dist(String),
    /// Kept as the trace saw it.
    Text(String),
}

/// The `PATH` `execvp` searches when none is set (glibc's default).
const DEFAULT_PATH: &str = "/bin:/usr/bin";

/// The assignments and exports of `PATH` and the layout's variables.
fn environment(spec: &LauncherSpec) -> String {
    let mut out = String::new();
    let dist = |rel: &str| format!("\"$dist\"/{}", sh_quote(rel));
    if !spec.path_first.is_empty() {
        let first: Vec<String> = spec.path_first.iter().map(|f| dist(f)).collect();
        let _ = writeln!(
            out,
            "PATH={}:\"${{PATH-{DEFAULT_PATH}}}\"\nexport PATH",
            first.join(":")
        );
    }
    for EnvVar { name, parts } in &spec.env {
        let value: Vec<String> = parts
            .iter()
            .map(|p| match p {
                EnvPart::Dist(rel) => dist(rel),
                EnvPart::Text(text) => sh_quote(text),
            })
            .collect();
        let _ = writeln!(out, "{name}={}\nexport {name}", value.join(":"));
    }
    out
}

/// Every environment variable CPython 3.8–3.13 reads (its `--help-env` and docs); the
/// launcher clears them for the app and its children.
pub const PYTHON_VARIABLES: &[&str] = &[
    "PYTHONHOME",
    "PYTHONPATH",
    "PYTHONPLATLIBDIR",
    "PYTHONSAFEPATH",
    "PYTHONSTARTUP",
    "PYTHONOPTIMIZE",
    "PYTHONBREAKPOINT",
    "PYTHONDEBUG",
    "PYTHONINSPECT",
    "PYTHONUNBUFFERED",
    "PYTHONVERBOSE",
    "PYTHONCASEOK",
    "PYTHONDONTWRITEBYTECODE",
    "PYTHONPYCACHEPREFIX",
    "PYTHONHASHSEED",
    "PYTHONINTMAXSTRDIGITS",
    "PYTHONIOENCODING",
    "PYTHONNOUSERSITE",
    "PYTHONUSERBASE",
    "PYTHONEXECUTABLE",
    "PYTHONWARNINGS",
    "PYTHONFAULTHANDLER",
    "PYTHONTRACEMALLOC",
    "PYTHONPROFILEIMPORTTIME",
    "PYTHONASYNCIODEBUG",
    "PYTHONMALLOC",
    "PYTHONMALLOCSTATS",
    "PYTHONLEGACYWINDOWSFSENCODING",
    "PYTHONLEGACYWINDOWSSTDIO",
    "PYTHONCOERCECLOCALE",
    "PYTHONDEVMODE",
    "PYTHONUTF8",
    "PYTHONWARNDEFAULTENCODING",
    "PYTHONNODEBUGRANGES",
    "PYTHONPERFSUPPORT",
    "PYTHON_PERF_JIT_SUPPORT",
    "PYTHON_CPU_COUNT",
    "PYTHON_FROZEN_MODULES",
    "PYTHON_GIL",
    "PYTHON_COLORS",
    "PYTHON_BASIC_REPL",
    "PYTHON_HISTORY",
    "PYTHONTHREADDEBUG",
    "PYTHONDUMPREFS",
    "PYTHONDUMPREFSFILE",
    "PYTHONSHOWALLOCCOUNT",
    "PYTHONSHOWREFCOUNT",
];

/// Quotes `text` for `sh`: single quotes, with embedded single quotes closed and escaped.
pub fn sh_quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}

/// The launcher script.
pub fn render(spec: &LauncherSpec) -> String {
    let depth = spec.path.matches('/').count();
    let up = if depth == 0 {
        ".".to_owned()
    } else {
        vec![".."; depth].join("/")
    };
    let entry = match &spec.entry {
        DistEntry::Script(path) => format!("\"$dist\"/{}", sh_quote(path)),
        DistEntry::Module(name) => format!("-m {}", sh_quote(name)),
    };
    let mut out = String::new();
    // Writing to a String cannot fail.
    let _ = write!(
        out,
        r#"#!/bin/sh
# Generated by shenzi: starts {app} from this dist, wherever the dist is.
# It sets no LD_LIBRARY_PATH and keeps PYTHON* variables and the user's site folder out.

self=$0
while [ -h "$self" ]; do
  link=$(readlink "$self") || {{
    echo "{app}: cannot follow the symlink $self without readlink; run the launcher by its real path" >&2
    exit 127
  }}
  case $link in
    /*) self=$link ;;
    *) self=${{self%/*}}/$link ;;
  esac
done
case $self in
  */*) here=${{self%/*}} ;;
  *) here=. ;;
esac
# The dist's physical path without a subshell (a fork costs more than the rest of this
# script): step there and back in this shell, when the way back is sure to exist.
if [ "$PWD" -ef . ] && CDPATH= cd -P -- "$here/{up}" 2>/dev/null; then
  dist=$PWD
  cd -- "$OLDPWD" || exit 127
else
  dist=$(CDPATH= cd -P -- "$here/{up}" && pwd -P) || exit 127
fi

unset {python_vars}
{nousersite}{environment}
exec "$dist"/{interpreter}{flags} {entry} "$@"
"#,
        app = spec.app_name.replace(['\n', '"', '$', '`', '\\'], "_"),
        up = up,
        python_vars = PYTHON_VARIABLES.join(" "),
        environment = environment(spec),
        interpreter = sh_quote(&spec.interpreter),
        entry = entry,
        flags = spec
            .flags
            .iter()
            .map(|f| format!(" {}", sh_quote(f)))
            .collect::<String>(),
        nousersite = if spec.flags.iter().any(|f| f == "-s" || f == "-I") {
            "PYTHONNOUSERSITE=1\nexport PYTHONNOUSERSITE\n"
        } else {
            ""
        },
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_survives_every_shell_metacharacter() {
        assert_eq!(sh_quote("a b"), "'a b'");
        assert_eq!(sh_quote("it's"), r"'it'\''s'");
        assert_eq!(sh_quote("$x`y`\"z\""), "'$x`y`\"z\"'");
    }

    #[test]
    fn the_launcher_climbs_as_deep_as_it_sits() {
        let spec = LauncherSpec {
            path: "bin/tools/app".into(),
            interpreter: "python/bin/python3.11".into(),
            entry: DistEntry::Module("my app".into()),
            app_name: "app".into(),
            flags: vec!["-E".into(), "-s".into()],
            path_first: vec!["tools".into()],
            env: vec![EnvVar {
                name: "MY_DATA".into(),
                parts: vec![
                    EnvPart::Dist("share/my data".into()),
                    EnvPart::Text("/usr/share".into()),
                ],
            }],
        };
        let text = render(&spec);
        assert!(text.contains(r#"cd -P -- "$here/../..""#), "{text}");
        assert!(
            text.contains(r#"exec "$dist"/'python/bin/python3.11' '-E' '-s' -m 'my app' "$@""#),
            "{text}"
        );
        assert!(text.contains("export PYTHONNOUSERSITE"));
        assert!(!text.contains("LD_LIBRARY_PATH="));
        assert!(
            text.contains("PATH=\"$dist\"/'tools':\"${PATH-/bin:/usr/bin}\"\nexport PATH\n"),
            "{text}"
        );
        assert!(
            text.contains("MY_DATA=\"$dist\"/'share/my data':'/usr/share'\nexport MY_DATA\n"),
            "{text}"
        );
    }
}
