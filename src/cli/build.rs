use super::render::say;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Args;

use crate::manifest::roles::Selection;
use crate::project_file::{self, Entry, ExtraRun, ProjectFile};
use crate::trace::{RunRole, TraceRequest, trace};

/// Trace an app and write its dist in one step, with the built-in default layout.
///
/// `shenzi build -- app.py ARGS` runs `python3 app.py ARGS` under the tracer, then
/// applies the layout to what it used. With no app named, `shenzi.toml` of the current
/// folder says what to build (docs/project-file.md); flags override its values. The
/// app's run must exit with an accepted status (0 unless `--exit-code` or the project
/// file says otherwise) for the dist to be written.
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  shenzi build\n  shenzi build --project examples/stdlib_app/shenzi.toml -o dist\n  shenzi build -- app.py\n  shenzi build --python .venv/bin/python -o dist -- -m mypkg --help\n  shenzi build --layout minimal --manifest shenzi.json -- app.py"
)]
pub struct BuildArgs {
    /// The project file (default: `shenzi.toml` of the current folder, when there is one).
    #[arg(long, value_name = "FILE")]
    project: Option<PathBuf>,
    /// Ignore `shenzi.toml` of the current folder.
    #[arg(long, conflicts_with = "project")]
    no_project: bool,
    /// The interpreter to run the app with [default: `python3`].
    #[arg(long, value_name = "PY")]
    python: Option<PathBuf>,
    /// The dist folder to write [default: `dist`].
    #[arg(short, long)]
    output: Option<PathBuf>,
    /// A `.shz` file, or a built-in layout's name [default: `default`; `minimal` with
    /// `--onefile`].
    #[arg(long)]
    layout: Option<String>,
    /// Keep the manifest here (by default it lives only while the build runs).
    #[arg(long, value_name = "PATH")]
    manifest: Option<PathBuf>,
    /// Replace the output when it is a previous shenzi dist (its unchanged, unpatched
    /// files are hard-linked into the new dist instead of copied).
    #[arg(long)]
    force: bool,
    /// Write the dist as one executable file, `OUTPUT/NAME` (the launcher's file name),
    /// that extracts itself into a cache on its first start (docs/onefile.md).
    #[arg(long)]
    onefile: bool,
    /// The patchelf to use (default: `patchelf` on `PATH`).
    #[arg(long, value_name = "PATH")]
    patchelf: Option<PathBuf>,
    /// An exit status of the app's traced run that counts as success (repeatable;
    /// replaces the project file's `exit-codes`) [default: 0].
    #[arg(long = "exit-code", value_name = "CODE")]
    exit_codes: Vec<u8>,
    /// A top-level package to ship though only coverage runs (or no run) imported it
    /// (repeatable; added to the project file's `[modules] include`).
    #[arg(long = "include", value_name = "MODULE")]
    include: Vec<String>,
    /// A top-level package never to ship (repeatable; added to `[modules] exclude`).
    #[arg(long = "exclude", value_name = "MODULE")]
    exclude: Vec<String>,
    /// The app's name, `{app.name}`: the launcher's file name, `bin/NAME` (default: the
    /// script's stem, the `-m` module's top-level package, the console script's name).
    #[arg(long, value_name = "NAME", value_parser = super::trace::app_name)]
    name: Option<String>,
    /// Run the app as `python -m MODULE`; its arguments follow.
    #[arg(short = 'm', value_name = "MODULE")]
    module: Option<String>,
    /// `text`: the summary on stderr; `json`: also the summary as `apply --format json`'s
    /// document on stdout, alone (what the traced runs print goes to stderr).
    #[arg(long, value_enum, default_value = "text")]
    format: super::verify::Format,
    /// The script and its arguments (after `-m MODULE`: the module's arguments), or a
    /// console script of the interpreter's `bin` folder by name; everything after the
    /// first of them is the app's. Replaces the project file's `[app]` entry and
    /// arguments. `--` first when the app's first word starts with `-`.
    #[arg(
        value_name = "SCRIPT",
        trailing_var_arg = true,
        allow_hyphen_values = true,
        num_args = 0..
    )]
    app: Vec<OsString>,
}

/// One traced run of a build.
struct Step {
    request: TraceRequest,
    exit_codes: Vec<i32>,
    /// How messages name it.
    what: String,
    /// Where its accepted statuses are set.
    accept: String,
}

pub fn run(args: BuildArgs) -> miette::Result<ExitCode> {
    let file = project(&args)?;
    // A named patchelf that does not work fails before the app runs.
    if let Some(explicit) = args.patchelf.as_deref() {
        crate::execute::Patchelf::find(Some(explicit))?;
    }
    let python = args
        .python
        .clone()
        .or_else(|| file.as_ref().and_then(|f| f.python.clone()))
        .unwrap_or_else(|| PathBuf::from("python3"));
    let from_flags: Vec<OsString> = match &args.module {
        Some(module) => ["-m".into(), module.into()]
            .into_iter()
            .chain(args.app.iter().cloned())
            .collect(),
        None => args.app.clone(),
    };
    let app: Vec<OsString> = match (&file, from_flags.is_empty()) {
        (_, false) => from_flags,
        (Some(file), true) => {
            let words = entry_words(file);
            // A console script the file names must be there: never `python NAME`.
            if let Entry::ConsoleScript(name) = &file.entry {
                if console_script(&python, &words).is_none() {
                    return Err(miette::miette!(
                        code = "shenzi::build::no_console_script",
                        help = "install the app into that interpreter (`pip install .`), or name its interpreter with `python` in `[app]`",
                        "the interpreter `{}` has no console script `{name}` in its `bin` folder",
                        python.display()
                    ));
                }
            }
            words
        }
        (None, true) => {
            return Err(miette::miette!(
                code = "shenzi::build::no_app",
                help = "name the app (`shenzi build app.py`, `shenzi build -m mypkg`), or write a project file with `shenzi init`",
                "no app to build: no `{}` in the current folder and no app named",
                project_file::FILE_NAME
            ));
        }
    };
    let exit_codes: Vec<i32> = match (&file, args.exit_codes.is_empty()) {
        (_, false) => args.exit_codes.iter().map(|&c| i32::from(c)).collect(),
        (Some(file), true) => file.exit_codes.clone(),
        (None, true) => vec![0],
    };
    let output = args
        .output
        .clone()
        .or_else(|| file.as_ref().and_then(|f| f.output.clone()))
        .unwrap_or_else(|| PathBuf::from("dist"));
    let onefile = args.onefile || file.as_ref().is_some_and(|f| f.onefile);
    // A onefile's first start creates every file and its size is every byte:
    // `minimal` has under half of `default`'s of both (docs/onefile.md, "Layout").
    let layout = args
        .layout
        .clone()
        .or_else(|| file.as_ref().and_then(|f| f.layout.clone()))
        .unwrap_or_else(|| if onefile { "minimal" } else { "default" }.to_owned());
    let kept = args
        .manifest
        .clone()
        .or_else(|| file.as_ref().and_then(|f| f.manifest.clone()));
    let selection = selection(file.as_ref(), &args);
    let name = args
        .name
        .clone()
        .or_else(|| file.as_ref().and_then(|f| f.name.clone()));
    // A dist that cannot be written is found before the app runs.
    check_output(&output, &app, &python)?;

    let scratch = tempfile::Builder::new()
        .prefix("shenzi-build-")
        .tempdir()
        .map_err(|e| miette::miette!("cannot create a temporary folder: {e}"))?;
    let manifest = kept
        .clone()
        .unwrap_or_else(|| scratch.path().join("shenzi.json"));
    let mut first = request(&python, &app, &manifest, RunRole::Ship);
    first.name = name;
    let mut steps = vec![Step {
        request: first,
        exit_codes,
        what: "the app".to_owned(),
        accept: "`--exit-code {}` (or `exit-codes` in `[app]` of shenzi.toml)".to_owned(),
    }];
    for extra in file.iter().flat_map(|f| &f.runs) {
        steps.push(extra_step(&python, extra, &manifest));
    }
    let json = args.format == super::verify::Format::Json;
    let mut traced = (0, 0, 0);
    for step in &mut steps {
        // With `--format json`, stdout holds the document alone.
        step.request.stdout_to_stderr = json;
        let outcome = trace(&step.request)?;
        super::trace::print_notes(&outcome);
        if !step.exit_codes.contains(&outcome.exit_status) {
            let kept = match &kept {
                Some(path) => format!("the manifest is in `{}`", path.display()),
                None => "keep the manifest with `--manifest PATH` to look at it".to_owned(),
            };
            let accepted: Vec<String> = step.exit_codes.iter().map(i32::to_string).collect();
            return Err(miette::miette!(
                code = "shenzi::build::exit_status",
                help = format!(
                    "if that status is how {} ends, accept it with {}; {kept}",
                    step.what,
                    step.accept.replace("{}", &outcome.exit_status.to_string())
                ),
                "{} exited with status {} (accepted: {}); no dist was written",
                step.what,
                outcome.exit_status,
                accepted.join(", ")
            ));
        }
        traced = (outcome.processes, outcome.modules, outcome.objects);
    }
    say!(
        "shenzi: traced {} run(s): {} modules, {} native objects",
        steps.len(),
        traced.1,
        traced.2
    );
    super::apply::apply_with(
        &layout,
        &manifest,
        &output,
        super::apply::Replace {
            force: args.force,
            discard_changes: false,
        },
        args.patchelf.as_deref(),
        super::apply::ElfWriter::Shenzi,
        super::apply::Finish {
            verify: true,
            onefile,
            selection,
            json,
            explain_rebuild: false,
        },
    )
}

/// The project file named with `--project`, or `shenzi.toml` of the current folder.
fn project(args: &BuildArgs) -> miette::Result<Option<ProjectFile>> {
    let path = match (&args.project, args.no_project) {
        (Some(path), _) => path.clone(),
        (None, true) => return Ok(None),
        (None, false) => {
            let here = PathBuf::from(project_file::FILE_NAME);
            if !here.is_file() {
                return Ok(None);
            }
            here
        }
    };
    Ok(Some(
        project_file::read(&path).map_err(|e| miette::Report::new(*e))?,
    ))
}

/// The project file's entry and arguments, as they follow the interpreter.
fn entry_words(file: &ProjectFile) -> Vec<OsString> {
    let mut words: Vec<OsString> = match &file.entry {
        Entry::Script(path) => vec![path.into()],
        Entry::Module(module) => vec!["-m".into(), module.into()],
        Entry::ConsoleScript(name) => vec![name.into()],
    };
    words.extend(file.args.iter().map(OsString::from));
    words
}

/// The flags' packages added to the project file's; a flag wins over the file.
fn selection(file: Option<&ProjectFile>, args: &BuildArgs) -> Selection {
    let mut selection = file.map(|f| f.selection.clone()).unwrap_or_default();
    for name in &args.include {
        selection.exclude.remove(name);
        selection.include.insert(name.clone());
    }
    for name in &args.exclude {
        selection.include.remove(name);
        selection.exclude.insert(name.clone());
    }
    selection
}

fn extra_step(python: &Path, extra: &ExtraRun, manifest: &Path) -> Step {
    let words: Vec<OsString> = extra.command.iter().map(OsString::from).collect();
    let mut request = request(python, &words, manifest, extra.role);
    request.append = true;
    Step {
        request,
        exit_codes: extra.exit_codes.clone(),
        what: format!(
            "the {} run `{}`",
            extra.role.name(),
            extra.command.join(" ")
        ),
        accept: "`exit-codes = [0, {}]` in its `[[run]]` of shenzi.toml".to_owned(),
    }
}

/// The trace of `python WORDS`; a first word that names a console script of the
/// interpreter's `bin` folder (`pytest`, `mytool`) runs that script instead.
fn request(python: &Path, words: &[OsString], manifest: &Path, role: RunRole) -> TraceRequest {
    let (python, command) = match console_script(python, words) {
        Some(script) => {
            let mut command = vec![script.into_os_string()];
            command.extend(words[1..].iter().cloned());
            (None, command)
        }
        None => (Some(python.to_owned()), words.to_vec()),
    };
    TraceRequest {
        python,
        command,
        output: manifest.to_owned(),
        append: false,
        role,
        name: None,
        stdout_to_stderr: false,
    }
}

/// `BIN/NAME` when the first word is a bare name (no `/`, no option, no `.py`, no file
/// of that name here) and the interpreter's `bin` folder has it.
fn console_script(python: &Path, words: &[OsString]) -> Option<PathBuf> {
    let first = words.first()?.to_str()?;
    if first.starts_with('-')
        || first.contains('/')
        || first.ends_with(".py")
        || Path::new(first).exists()
    {
        return None;
    }
    let python = crate::os::find_program(python.as_os_str())?;
    let script = python.parent()?.join(first);
    script.is_file().then_some(script)
}

/// The output folder is checked before anything is traced: its parent must exist, it
/// must not be `/`, hold the app's folder (`--force` would replace the sources) or lie
/// inside the interpreter's folder (a venv or an interpreter the dist copies from).
fn check_output(output: &Path, app: &[OsString], python: &Path) -> miette::Result<()> {
    let absolute = std::path::absolute(output)
        .map_err(|e| miette::miette!("cannot name the output `{}`: {e}", output.display()))?;
    // `-o ..` has no file name: the folder it names does.
    let absolute = match absolute.file_name() {
        Some(_) => absolute,
        None => std::fs::canonicalize(&absolute).unwrap_or(absolute),
    };
    let (Some(parent), Some(file)) = (absolute.parent(), absolute.file_name()) else {
        return Err(miette::miette!(
            code = "shenzi::build::output_root",
            help = "name a folder of its own for the dist, e.g. `-o dist`",
            "the output `{}` is the root folder",
            output.display()
        ));
    };
    if !parent.is_dir() {
        return Err(miette::miette!(
            code = "shenzi::build::output_parent",
            help = format!(
                "create it first (`mkdir -p {}`), or choose another output with `-o`; nothing was traced",
                parent.display()
            ),
            "the folder `{}` that should hold the dist `{}` does not exist",
            parent.display(),
            output.display()
        ));
    }
    let Ok(real) = std::fs::canonicalize(parent).map(|p| p.join(file)) else {
        return Ok(());
    };
    // The app's folder: the script's, or the current one for `-m` and console scripts.
    let script = app
        .first()
        .filter(|w| !w.to_string_lossy().starts_with('-'))
        .map(Path::new)
        .filter(|p| p.is_file());
    let folder = match script {
        Some(script) => script.parent().map(Path::to_owned),
        None => std::env::current_dir().ok(),
    }
    .map(|f| {
        if f.as_os_str().is_empty() {
            PathBuf::from(".")
        } else {
            f
        }
    });
    if let Some(sources) = folder.and_then(|f| std::fs::canonicalize(f).ok()) {
        if sources.starts_with(&real) {
            return Err(miette::miette!(
                code = "shenzi::build::output_holds_sources",
                help = "write the dist to a folder of its own, e.g. `-o dist`",
                "the output `{}` is the app's folder `{}` or holds it: replacing it would delete the sources",
                output.display(),
                sources.display()
            ));
        }
    }
    // The interpreter's prefix (`bin/..`), unless it is the system's own (`/usr`).
    let prefix = crate::os::find_program(python.as_os_str())
        .and_then(|p| p.parent()?.parent().map(Path::to_owned))
        .and_then(|p| std::fs::canonicalize(p).ok())
        .filter(|p| {
            !["/", "/usr", "/usr/local"]
                .iter()
                .any(|s| p == Path::new(s))
        });
    if let Some(prefix) = prefix {
        if real.starts_with(&prefix) {
            return Err(miette::miette!(
                code = "shenzi::build::output_in_interpreter",
                help = "write the dist outside the interpreter's folder, e.g. `-o dist` in the app's folder",
                "the output `{}` is inside the interpreter's folder `{}`, which the dist is made from",
                output.display(),
                prefix.display()
            ));
        }
    }
    Ok(())
}
