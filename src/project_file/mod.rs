//! The project file, `shenzi.toml`: what `shenzi build` does with no arguments — the
//! app's entry and arguments, the interpreter, the layout, the output folder, more runs
//! to trace (each for shipping or for coverage), top-level packages to include or
//! exclude, and the exit codes that count as success. docs/project-file.md describes it.
//!
//! Reading it is parsing only: paths are resolved against the file's folder, but nothing
//! is run or checked on disk beyond that.

mod diagnostics;

use std::path::{Path, PathBuf};

use miette::{NamedSource, SourceSpan};
use serde::Deserialize;
use toml::Spanned;

pub use diagnostics::ProjectFileError;

use crate::manifest::RunRole;
use crate::manifest::roles::Selection;

/// The file `shenzi build` reads when no other is named.
pub const FILE_NAME: &str = "shenzi.toml";

/// The largest project file read: a hand-written file is a few hundred bytes.
const MAX_BYTES: u64 = 1 << 20;

/// A read project file, its paths resolved against its folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProjectFile {
    /// The file, as it was named.
    pub path: PathBuf,
    pub entry: Entry,
    /// The app's arguments for the traced run.
    pub args: Vec<String>,
    /// The interpreter: a path (resolved) or a name looked up on `PATH`.
    pub python: Option<PathBuf>,
    /// The launcher's name (`{app.name}`).
    pub name: Option<String>,
    /// Exit statuses of the app's traced run that count as success.
    pub exit_codes: Vec<i32>,
    /// A `.shz` path (resolved) or a built-in layout's name.
    pub layout: Option<String>,
    pub output: Option<PathBuf>,
    /// Where to keep the manifest.
    pub manifest: Option<PathBuf>,
    pub onefile: bool,
    /// More runs, traced after the app's, in order.
    pub runs: Vec<ExtraRun>,
    pub selection: Selection,
}

/// How the app starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entry {
    /// `python SCRIPT` (resolved against the file's folder).
    Script(PathBuf),
    /// `python -m MODULE`.
    Module(String),
    /// A console script of the interpreter's `bin` folder, by name.
    ConsoleScript(String),
}

/// One more traced run: what follows the interpreter (`-m pytest -q`), its role and the
/// exit codes that count as success.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExtraRun {
    pub command: Vec<String>,
    pub role: RunRole,
    pub exit_codes: Vec<i32>,
}

// The file's shape. Every table refuses keys it does not know, so a misspelt key is a
// diagnostic instead of a setting silently ignored.

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileToml {
    app: Spanned<AppToml>,
    #[serde(default)]
    build: BuildToml,
    #[serde(default, rename = "run")]
    runs: Vec<RunToml>,
    #[serde(default)]
    modules: ModulesToml,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct AppToml {
    script: Option<Spanned<String>>,
    module: Option<Spanned<String>>,
    console_script: Option<Spanned<String>>,
    #[serde(default)]
    args: Vec<String>,
    python: Option<String>,
    name: Option<Spanned<String>>,
    exit_codes: Option<Spanned<Vec<i32>>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct BuildToml {
    layout: Option<String>,
    output: Option<Spanned<String>>,
    manifest: Option<String>,
    #[serde(default)]
    onefile: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RunToml {
    command: Spanned<Vec<String>>,
    #[serde(default)]
    role: RunRole,
    exit_codes: Option<Spanned<Vec<i32>>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ModulesToml {
    #[serde(default)]
    include: Vec<Spanned<String>>,
    #[serde(default)]
    exclude: Vec<Spanned<String>>,
}

/// Reads and checks the project file at `path`.
pub fn read(path: &Path) -> Result<ProjectFile, Box<ProjectFileError>> {
    let unreadable = |source| {
        Box::new(ProjectFileError::Unreadable {
            path: path.to_owned(),
            source,
        })
    };
    let meta = std::fs::metadata(path).map_err(unreadable)?;
    if meta.len() > MAX_BYTES {
        return Err(Box::new(ProjectFileError::TooLarge {
            path: path.to_owned(),
        }));
    }
    let text = std::fs::read_to_string(path).map_err(unreadable)?;
    let folder = path.parent().unwrap_or(Path::new(""));
    parse(&path.display().to_string(), text, folder).map(|file| ProjectFile {
        path: path.to_owned(),
        ..file
    })
}

/// Parses project file text named `name`; relative paths are joined to `folder`.
pub fn parse(
    name: &str,
    text: String,
    folder: &Path,
) -> Result<ProjectFile, Box<ProjectFileError>> {
    let src = || NamedSource::new(name, text.clone());
    let file: FileToml = toml::from_str(&text).map_err(|e| {
        Box::new(ProjectFileError::Invalid {
            name: name.to_owned(),
            message: e.message().trim_end().to_owned(),
            src: src(),
            at: e.span().map(SourceSpan::from),
        })
    })?;
    let value = |value: &str, problem: &str, help: &str, at: std::ops::Range<usize>| {
        Box::new(ProjectFileError::Value {
            name: name.to_owned(),
            value: value.to_owned(),
            problem: problem.to_owned(),
            help: help.to_owned(),
            src: src(),
            at: at.into(),
        })
    };
    let app_span = file.app.span();
    let app = file.app.into_inner();
    let entries: Vec<(&str, &Spanned<String>)> = [
        ("script", &app.script),
        ("module", &app.module),
        ("console-script", &app.console_script),
    ]
    .into_iter()
    .filter_map(|(key, v)| v.as_ref().map(|v| (key, v)))
    .collect();
    let entry = match entries.as_slice() {
        [(key, v)] => {
            if v.get_ref().trim().is_empty() {
                return Err(value(
                    v.get_ref(),
                    "empty",
                    "name the script, module or console script the app starts with",
                    v.span(),
                ));
            }
            let text = v.get_ref().clone();
            match *key {
                "script" => Entry::Script(folder.join(text)),
                "module" => Entry::Module(text),
                _ if text.contains('/') => {
                    return Err(value(
                        &text,
                        "a path, not a console script's name",
                        "a console script is named as in the interpreter's `bin` folder; for a script file use `script = \"...\"`",
                        v.span(),
                    ));
                }
                _ => Entry::ConsoleScript(text),
            }
        }
        found => {
            let found = match found {
                [] => "no entry".to_owned(),
                several => several
                    .iter()
                    .map(|(k, _)| format!("`{k}`"))
                    .collect::<Vec<_>>()
                    .join(" and "),
            };
            let at = match entries.get(1) {
                Some((_, v)) => v.span(),
                None => app_span,
            };
            return Err(Box::new(ProjectFileError::Entry {
                name: name.to_owned(),
                found,
                src: src(),
                at: at.into(),
            }));
        }
    };
    let codes = |codes: Option<Spanned<Vec<i32>>>| match codes {
        None => Ok(vec![0]),
        Some(codes) if codes.get_ref().is_empty() => Err(value(
            "[]",
            "no exit code",
            "list the statuses that count as success, e.g. `exit-codes = [0, 2]`",
            codes.span(),
        )),
        Some(codes) => {
            let span = codes.span();
            let mut codes = codes.into_inner();
            if let Some(bad) = codes.iter().find(|c| !(0..=255).contains(*c)) {
                return Err(value(
                    &bad.to_string(),
                    "not an exit status (0 to 255)",
                    "a status is 0 to 255; a signal n is 128 + n",
                    span,
                ));
            }
            codes.sort_unstable();
            codes.dedup();
            Ok(codes)
        }
    };
    let exit_codes = codes(app.exit_codes)?;
    let mut runs = Vec::new();
    for run in file.runs {
        if run.command.get_ref().is_empty() {
            return Err(value(
                "[]",
                "an empty command",
                "give what follows the interpreter, e.g. `command = [\"-m\", \"pytest\", \"-q\"]`",
                run.command.span(),
            ));
        }
        runs.push(ExtraRun {
            command: run.command.into_inner(),
            role: run.role,
            exit_codes: codes(run.exit_codes)?,
        });
    }
    let mut selection = Selection::default();
    for (list, into) in [
        (&file.modules.include, &mut selection.include),
        (&file.modules.exclude, &mut selection.exclude),
    ] {
        for module in list {
            let m = module.get_ref();
            if m.is_empty() || m.contains(['.', '/']) {
                return Err(value(
                    m,
                    "not a top-level module name",
                    "name top-level packages or modules as they are imported: `pytest`, `yaml`",
                    module.span(),
                ));
            }
            into.insert(m.clone());
        }
    }
    if let Some(both) = selection.include.intersection(&selection.exclude).next() {
        let at = file
            .modules
            .exclude
            .iter()
            .find(|m| m.get_ref() == both)
            .map(Spanned::span)
            .unwrap_or_default();
        return Err(value(
            both,
            "both included and excluded",
            "keep it in one of `include` and `exclude`",
            at,
        ));
    }
    if let Some(output) = &file.build.output {
        if output.get_ref().trim().is_empty() {
            return Err(value(
                output.get_ref(),
                "an empty output folder",
                "name the dist's folder, e.g. `output = \"dist\"`",
                output.span(),
            ));
        }
    }
    // A value with a `/` is a path below the file's folder; a bare word is a name
    // (`python3` on `PATH`, the built-in layout `default`).
    let resolve = |v: &str| match v.contains('/') || v.ends_with(".shz") {
        true => folder.join(v).display().to_string(),
        false => v.to_owned(),
    };
    Ok(ProjectFile {
        path: folder.join(FILE_NAME),
        entry,
        args: app.args,
        python: app.python.as_deref().map(|p| PathBuf::from(resolve(p))),
        name: app.name.map(Spanned::into_inner),
        exit_codes,
        layout: file.build.layout.as_deref().map(resolve),
        output: file.build.output.map(|o| folder.join(o.into_inner())),
        manifest: file.build.manifest.map(|m| folder.join(m)),
        onefile: file.build.onefile,
        runs,
        selection,
    })
}

/// What `shenzi init` writes for a folder: its entry guessed from the files in it.
pub struct Init {
    pub text: String,
    /// How the entry was found, for the message `init` prints.
    pub entry: String,
}

/// A commented project file for `folder`: the entry is `__main__.py`'s package, a script
/// named like the folder, `main.py`, `app.py`, or the only script with a `__main__`
/// block; the interpreter a `.venv` or `venv` of the folder; a coverage run when the
/// folder has tests. `None` when no entry can be told.
pub fn init(folder: &Path) -> Option<Init> {
    let name = folder
        .canonicalize()
        .ok()
        .and_then(|f| f.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_else(|| "app".into());
    let is_file = |f: &str| folder.join(f).is_file();
    let mut scripts: Vec<String> = std::fs::read_dir(folder)
        .ok()?
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|f| f.ends_with(".py") && !f.starts_with("test_") && !f.starts_with('_'))
        .filter(|f| is_file(f))
        .collect();
    scripts.sort();
    let with_main: Vec<&String> = scripts
        .iter()
        .filter(|f| {
            std::fs::read_to_string(folder.join(f))
                .is_ok_and(|t| t.contains("__name__") && t.contains("__main__"))
        })
        .collect();
    let package = name.replace('-', "_");
    let (key, value) = if folder.join(&package).join("__main__.py").is_file() {
        ("module", package.clone())
    } else if let Some(f) = [format!("{package}.py"), "main.py".into(), "app.py".into()]
        .into_iter()
        .find(|f| is_file(f))
    {
        ("script", f)
    } else if let [only] = with_main.as_slice() {
        ("script", (*only).clone())
    } else {
        return None;
    };
    let python = [".venv/bin/python", "venv/bin/python"]
        .into_iter()
        .find(|p| folder.join(p).exists())
        .unwrap_or("python3");
    let has_tests = folder.join("tests").is_dir()
        || std::fs::read_dir(folder)
            .ok()?
            .filter_map(Result::ok)
            .any(|e| {
                let f = e.file_name().to_string_lossy().into_owned();
                f.starts_with("test_") && f.ends_with(".py")
            });
    let run = if has_tests {
        "# The test suite, traced as a coverage run: the libraries it loads ship, pytest\n\
         # and its plugins do not. Needs pytest in the interpreter above.\n\
         [[run]]\n\
         command = [\"-m\", \"pytest\", \"-q\"]\n\
         role = \"coverage\"\n"
    } else {
        "# More runs to trace, after the app's: each what follows the interpreter, and its\n\
         # role, `ship` (what it imports ships) or `coverage` (a test suite: only its\n\
         # run-time loads, native objects and the app's own modules ship).\n\
         # [[run]]\n\
         # command = [\"-m\", \"pytest\", \"-q\"]\n\
         # role = \"coverage\"\n"
    };
    let text = format!(
        "# shenzi.toml: what `shenzi build` does with no arguments (docs/project-file.md).\n\
         # Flags given to `shenzi build` override these values.\n\
         \n\
         [app]\n\
         # How the app starts: one of `script = \"app.py\"`, `module = \"pkg.cli\"`,\n\
         # `console-script = \"tool\"` (from the interpreter's bin folder).\n\
         {key} = \"{value}\"\n\
         # The arguments of the traced run: make it reach what the app uses.\n\
         args = []\n\
         # The interpreter (a path below this folder, or a name on PATH).\n\
         python = \"{python}\"\n\
         # The launcher's name, bin/NAME in the dist (default: the script's stem, the\n\
         # module's top-level package, or the console script's name).\n\
         # name = \"{name}\"\n\
         # Exit statuses of the traced run that count as success.\n\
         exit-codes = [0]\n\
         \n\
         [build]\n\
         # A built-in layout (`default`, `flat`, `farm-per-unit`, `minimal`) or a .shz file.\n\
         layout = \"default\"\n\
         output = \"dist\"\n\
         # Keep the manifest (by default it lives only while the build runs).\n\
         # manifest = \"shenzi.json\"\n\
         # onefile = true\n\
         \n\
         {run}\
         \n\
         [modules]\n\
         # Top-level packages to ship though only coverage runs (or no run) imported them,\n\
         # and packages never to ship.\n\
         include = []\n\
         exclude = []\n"
    );
    Some(Init {
        text,
        entry: format!("{key} = \"{value}\""),
    })
}
