//! Every diagnostic the layout language gives, in one enum with one place for its
//! code, severity, message, labels and help.

use std::fmt;

use miette::{LabeledSpan, NamedSource, Severity};

use super::model::{GLOB_MAX_LEN, GLOB_MAX_NESTING};
use super::span::Span;
use super::template::NAME_MAX;
use super::vars::{Kind, Var};

/// What went wrong, with the data its message needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ErrorKind {
    // Lexing and parsing.
    Syntax {
        expected: Vec<&'static str>,
        found: String,
        suggestion: Option<&'static str>,
    },
    UnterminatedString,
    InvalidEscape {
        escape: String,
    },
    UnclosedBlock,
    UnmatchedClose,
    NestedBlock {
        outer: Span,
    },
    TooManyDiagnostics {
        shown: usize,
    },
    InvalidUtf8 {
        bytes: Vec<u8>,
    },

    // Templates.
    UnknownVariable {
        name: String,
        suggestion: Option<&'static str>,
        allowed: String,
    },
    VariableNotAvailable {
        var: Var,
        context: String,
        offered_by: String,
        allowed: String,
    },
    UnclosedVariable,
    UnmatchedBrace,
    EmptyVariable,
    BadWidth {
        text: String,
    },
    AbsoluteDestination,
    ParentSegment,
    EmptySegment,
    SegmentTooLong {
        len: usize,
    },
    ReservedPath,
    ControlCharacter {
        found: char,
    },
    NotPerFile {
        kind: Kind,
        distinct: String,
    },

    // Globs.
    BadGlob {
        message: String,
    },
    AbsoluteGlob {
        matched: &'static str,
    },
    GlobTooLong {
        len: usize,
    },
    GlobTooDeep {
        depth: usize,
    },

    // Names.
    DuplicateUnit {
        name: String,
        first: Span,
    },
    DuplicateFarm {
        name: String,
        first: Span,
    },
    UnknownFarm {
        name: String,
        suggestion: Option<String>,
    },
    UnknownUnit {
        name: String,
        suggestion: Option<String>,
    },
    UnknownKind {
        name: String,
        suggestion: Option<&'static str>,
    },
    UnknownPreset {
        name: String,
        suggestion: Option<&'static str>,
    },
    UnknownChoice {
        what: &'static str,
        word: String,
        choices: &'static [&'static str],
        suggestion: Option<&'static str>,
    },
    UnknownFlag {
        word: String,
        suggestion: Option<&'static str>,
    },

    // Structure.
    RepeatedStatement {
        what: String,
        first: Span,
    },
    MissingStatement {
        what: &'static str,
        owner: String,
        example: &'static str,
    },
    MissingSystem,
    MissingCxxChoice,
    DuplicateKind {
        kind: Kind,
        first: Span,
    },
    SelectNotApplicable {
        kinds: String,
    },
    ServeNotApplicable {
        kinds: String,
    },
    SiteNotApplicable {
        kinds: String,
    },
    FarmNotApplicable {
        kinds: String,
    },
    ActionNeedsFarm {
        action: &'static str,
    },
    MissingDestination {
        action: &'static str,
    },
    DestinationUnused {
        action: &'static str,
        action_span: Span,
    },
    EntryArgument {
        entry: &'static str,
        wants: bool,
    },
    InvalidModuleName {
        name: String,
    },
    NotForForm {
        what: &'static str,
        form_span: Span,
    },
    NoLauncher,

    // Farms.
    FarmUnused {
        name: String,
    },
    LevelOutOfRange {
        text: String,
    },
    LevelMismatch {
        level: Option<usize>,
        reals: (Span, usize),
        links: (Span, usize),
    },
    FarmPathNotUnique {
        which: &'static str,
    },
    FarmOverlap {
        name: String,
        other: String,
        other_span: Span,
    },
    DestinationInFarm {
        farm: String,
        folder: Span,
    },

    // Conflicts.
    DuplicateClaim {
        unit: String,
        other: String,
        other_span: Span,
        kind: Kind,
        deny: bool,
    },
    DestinationConflict {
        path: String,
        other: String,
        other_span: Span,
    },

    // The launcher.
    LauncherNotInterpreter {
        unit: String,
        unit_span: Span,
    },
    LauncherNotImportable {
        unit: String,
        unit_span: Span,
        reason: &'static str,
    },
    LauncherNotPrograms {
        unit: String,
        unit_span: Span,
    },
    /// `env traced "x"` (`traced`: true), or `env NAME` without a dist path.
    EnvArgument {
        traced: bool,
    },
    /// Not a variable name (`reserved`: false), or one the launcher sets itself.
    BadEnvName {
        name: String,
        reserved: bool,
    },

    // The system policy.
    RedundantSystemEntry {
        pattern: String,
        preset: &'static str,
    },
    RemoveMatchesNothing {
        pattern: String,
    },
    CxxContradiction {
        choice: &'static str,
        choice_span: Span,
    },

    // With a manifest.
    KindNotInManifest {
        kind: Kind,
    },
    TracedEntryIsCode,
}

/// One diagnostic: what, and where in the layout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub span: Span,
    pub kind: ErrorKind,
}

impl ErrorKind {
    /// Whether this may only follow from an item that did not parse.
    pub fn may_cascade(&self) -> bool {
        matches!(
            self,
            ErrorKind::MissingSystem
                | ErrorKind::NoLauncher
                | ErrorKind::UnknownUnit { .. }
                | ErrorKind::UnknownFarm { .. }
                | ErrorKind::FarmUnused { .. }
                | ErrorKind::LauncherNotInterpreter { .. }
                | ErrorKind::LauncherNotImportable { .. }
                | ErrorKind::LauncherNotPrograms { .. }
                | ErrorKind::DuplicateClaim { .. }
                | ErrorKind::DestinationConflict { .. }
                | ErrorKind::DestinationInFarm { .. }
        )
    }
}

impl Diagnostic {
    pub fn new(span: Span, kind: ErrorKind) -> Self {
        Diagnostic { span, kind }
    }

    pub fn is_error(&self) -> bool {
        self.severity() == Severity::Error
    }

    /// `shenzi::layout::...`
    pub fn code(&self) -> &'static str {
        use ErrorKind::*;
        match &self.kind {
            Syntax { .. } => "shenzi::layout::syntax",
            UnterminatedString => "shenzi::layout::unterminated_string",
            InvalidEscape { .. } => "shenzi::layout::invalid_escape",
            UnclosedBlock => "shenzi::layout::unclosed_block",
            UnmatchedClose => "shenzi::layout::unmatched_close",
            NestedBlock { .. } => "shenzi::layout::nested_block",
            TooManyDiagnostics { .. } => "shenzi::layout::too_many_diagnostics",
            InvalidUtf8 { .. } => "shenzi::layout::invalid_utf8",
            UnknownVariable { .. } => "shenzi::layout::unknown_variable",
            VariableNotAvailable { .. } => "shenzi::layout::variable_not_available",
            UnclosedVariable => "shenzi::layout::unclosed_variable",
            UnmatchedBrace => "shenzi::layout::unmatched_brace",
            EmptyVariable => "shenzi::layout::empty_variable",
            BadWidth { .. } => "shenzi::layout::bad_width",
            AbsoluteDestination => "shenzi::layout::absolute_destination",
            ParentSegment => "shenzi::layout::parent_segment",
            EmptySegment => "shenzi::layout::empty_segment",
            SegmentTooLong { .. } => "shenzi::layout::segment_too_long",
            ReservedPath => "shenzi::layout::reserved_path",
            ControlCharacter { .. } => "shenzi::layout::control_character",
            NotPerFile { .. } => "shenzi::layout::not_per_file",
            BadGlob { .. } => "shenzi::layout::bad_glob",
            AbsoluteGlob { .. } => "shenzi::layout::absolute_glob",
            GlobTooLong { .. } | GlobTooDeep { .. } => "shenzi::layout::glob_too_complex",
            DuplicateUnit { .. } => "shenzi::layout::duplicate_unit",
            DuplicateFarm { .. } => "shenzi::layout::duplicate_farm",
            UnknownFarm { .. } => "shenzi::layout::unknown_farm",
            UnknownUnit { .. } => "shenzi::layout::unknown_unit",
            UnknownKind { .. } => "shenzi::layout::unknown_kind",
            UnknownPreset { .. } => "shenzi::layout::unknown_preset",
            UnknownChoice { .. } => "shenzi::layout::unknown_choice",
            UnknownFlag { .. } => "shenzi::layout::unknown_flag",
            RepeatedStatement { .. } => "shenzi::layout::repeated_statement",
            MissingStatement { .. } => "shenzi::layout::missing_statement",
            MissingSystem => "shenzi::layout::missing_system",
            MissingCxxChoice => "shenzi::layout::missing_cxx_choice",
            DuplicateKind { .. } => "shenzi::layout::duplicate_kind",
            SelectNotApplicable { .. } => "shenzi::layout::select_not_applicable",
            ServeNotApplicable { .. } => "shenzi::layout::serve_not_applicable",
            SiteNotApplicable { .. } => "shenzi::layout::site_not_applicable",
            FarmNotApplicable { .. } => "shenzi::layout::farm_not_applicable",
            ActionNeedsFarm { .. } => "shenzi::layout::action_needs_farm",
            MissingDestination { .. } => "shenzi::layout::missing_destination",
            DestinationUnused { .. } => "shenzi::layout::destination_unused",
            EntryArgument { .. } => "shenzi::layout::entry_argument",
            InvalidModuleName { .. } => "shenzi::layout::invalid_module_name",
            NotForForm { .. } => "shenzi::layout::not_for_form",
            NoLauncher => "shenzi::layout::no_launcher",
            FarmUnused { .. } => "shenzi::layout::farm_unused",
            LevelOutOfRange { .. } => "shenzi::layout::level_out_of_range",
            LevelMismatch { .. } => "shenzi::layout::level_mismatch",
            FarmPathNotUnique { .. } => "shenzi::layout::farm_path_not_unique",
            FarmOverlap { .. } => "shenzi::layout::farm_overlap",
            DestinationInFarm { .. } => "shenzi::layout::destination_in_farm",
            DuplicateClaim { .. } => "shenzi::layout::duplicate_claim",
            DestinationConflict { .. } => "shenzi::layout::destination_conflict",
            LauncherNotInterpreter { .. } => "shenzi::layout::launcher_not_interpreter",
            LauncherNotImportable { .. } => "shenzi::layout::launcher_not_importable",
            LauncherNotPrograms { .. } => "shenzi::layout::launcher_not_programs",
            EnvArgument { .. } => "shenzi::layout::env_argument",
            BadEnvName { .. } => "shenzi::layout::bad_env_name",
            RedundantSystemEntry { .. } => "shenzi::layout::redundant_system_entry",
            RemoveMatchesNothing { .. } => "shenzi::layout::remove_matches_nothing",
            CxxContradiction { .. } => "shenzi::layout::cxx_contradiction",
            KindNotInManifest { .. } => "shenzi::layout::kind_not_in_manifest",
            TracedEntryIsCode => "shenzi::layout::traced_entry_is_code",
        }
    }

    pub fn severity(&self) -> Severity {
        use ErrorKind::*;
        match &self.kind {
            AbsoluteGlob { .. }
            | DuplicateKind { .. }
            | FarmNotApplicable { .. }
            | DestinationUnused { .. }
            | NoLauncher
            | FarmUnused { .. }
            | RedundantSystemEntry { .. }
            | RemoveMatchesNothing { .. }
            | CxxContradiction { .. }
            | KindNotInManifest { .. }
            | TracedEntryIsCode => Severity::Warning,
            TooManyDiagnostics { .. } => Severity::Advice,
            DuplicateClaim { deny, .. } => {
                if *deny {
                    Severity::Error
                } else {
                    Severity::Warning
                }
            }
            _ => Severity::Error,
        }
    }

    /// The headline: lowercase, names in backticks.
    pub fn message(&self) -> String {
        use ErrorKind::*;
        match &self.kind {
            Syntax {
                expected, found, ..
            } => format!("expected {}, found {found}", one_of(expected)),
            UnterminatedString => "this string is never closed".into(),
            InvalidEscape { escape } => format!("`{escape}` is not an escape"),
            UnclosedBlock => "this block is never closed".into(),
            UnmatchedClose => "this `}` closes no block".into(),
            NestedBlock { .. } => "blocks do not nest".into(),
            TooManyDiagnostics { shown } => {
                format!("stopped after {shown} diagnostics; fix these and check again")
            }
            InvalidUtf8 { bytes } => {
                let shown: String = bytes.iter().map(|b| format!("\\x{b:02x}")).collect();
                format!("the layout is not UTF-8 text: `{shown}` is not a character")
            }
            UnknownVariable { name, .. } => format!("there is no variable `{{{name}}}`"),
            VariableNotAvailable { var, context, .. } => {
                format!("`{{{var}}}` is not available in {context}")
            }
            UnclosedVariable => "this variable is never closed".into(),
            UnmatchedBrace => "this `}` closes no variable".into(),
            EmptyVariable => "`{}` names no variable".into(),
            BadWidth { text } => format!("`{text}` is not a width"),
            AbsoluteDestination => "a path in the dist cannot be absolute".into(),
            ParentSegment => "a path in the dist cannot go up with `..`".into(),
            EmptySegment => "this path has an empty or `.` segment".into(),
            SegmentTooLong { len } => format!(
                "this path segment is {len} bytes long; a file name is at most {NAME_MAX} bytes"
            ),
            ReservedPath => "the dist's `.shenzi/` folder is shenzi's own".into(),
            ControlCharacter { found } => format!(
                "a string cannot hold control character `{}`",
                found.escape_debug()
            ),
            NotPerFile { kind, .. } => {
                format!("every file of `{kind}` would be written to this one path")
            }
            BadGlob { message } => format!("this glob is invalid: {message}"),
            AbsoluteGlob { .. } => "this glob starts with `/` and can never match".into(),
            GlobTooLong { len } => {
                format!("this glob is {len} bytes long; a glob is at most {GLOB_MAX_LEN} bytes")
            }
            GlobTooDeep { depth } => format!(
                "this glob nests `{{...}}` {depth} deep; at most {GLOB_MAX_NESTING} levels are allowed"
            ),
            DuplicateUnit { name, .. } => format!("unit `{name}` is defined twice"),
            DuplicateFarm { name, .. } => format!("farm `{name}` is defined twice"),
            UnknownFarm { name, .. } => format!("there is no farm `{name}`"),
            UnknownUnit { name, .. } => format!("there is no unit `{name}`"),
            UnknownKind { name, .. } => format!("`{name}` is not a kind a unit can take"),
            UnknownPreset { name, .. } => format!("there is no system preset `{name}`"),
            UnknownChoice { what, word, .. } => format!("`{word}` is not {what}"),
            UnknownFlag { word, .. } => format!("`{word}` is not a launcher flag"),
            RepeatedStatement { what, .. } => format!("{what} is given twice"),
            MissingStatement { what, owner, .. } => format!("{owner} has no `{what}`"),
            MissingSystem => {
                "the layout does not say which libraries the target system provides".into()
            }
            MissingCxxChoice => {
                "the system policy does not say whether the C++ runtime is bundled".into()
            }
            DuplicateKind { kind, .. } => format!("`{kind}` is taken twice"),
            SelectNotApplicable { kinds } => format!("`select` does not apply to {kinds}"),
            ServeNotApplicable { kinds } => format!("`serve` does not apply to {kinds}"),
            SiteNotApplicable { kinds } => format!("`site` does not apply to {kinds}"),
            FarmNotApplicable { kinds } => format!("{kinds} holds no shared libraries for a farm"),
            ActionNeedsFarm { action } => format!("action `{action}` needs a farm"),
            MissingDestination { action } => format!("action `{action}` needs a destination"),
            DestinationUnused { action, .. } => {
                format!("action `{action}` writes nothing at this destination")
            }
            EntryArgument { entry, wants } => {
                if *wants {
                    format!("`entry {entry}` needs a module name")
                } else {
                    format!("`entry {entry}` takes no argument")
                }
            }
            InvalidModuleName { name } => format!("`{name}` is not a module name"),
            NotForForm { what, .. } => format!("`{what}` does nothing for a `symlink` launcher"),
            NoLauncher => "the layout has no launcher".into(),
            FarmUnused { name } => format!("no unit joins farm `{name}`"),
            LevelOutOfRange { text } => format!("level `{text}` is out of range"),
            LevelMismatch {
                level,
                reals,
                links,
            } => match level {
                Some(level) => format!(
                    "farm level {level} does not match its folders (reals at depth {}, links at depth {})",
                    reals.1, links.1
                ),
                None => format!(
                    "the farm's folders are at different depths (reals at depth {}, links at depth {})",
                    reals.1, links.1
                ),
            },
            FarmPathNotUnique { which } => format!("every library would get the same {which} path"),
            FarmOverlap { name, other, .. } => {
                format!("farms `{name}` and `{other}` share folders")
            }
            DestinationInFarm { farm, .. } => {
                format!("this destination lies inside the folders of farm `{farm}`")
            }
            DuplicateClaim {
                unit, other, kind, ..
            } => format!("units `{other}` and `{unit}` both take `{kind}` to the same destination"),
            DestinationConflict { path, other, .. } => {
                format!("unit `{other}` also writes `{path}`")
            }
            LauncherNotInterpreter { unit, .. } => {
                format!("unit `{unit}` does not take `python.interpreter`")
            }
            LauncherNotImportable { unit, .. } => {
                format!("unit `{unit}` cannot go on `sys.path`")
            }
            LauncherNotPrograms { unit, .. } => {
                format!("unit `{unit}` does not take `app.executables`")
            }
            EnvArgument { traced } => {
                if *traced {
                    "`env traced` takes no value".into()
                } else {
                    "`env` needs a dist path after the variable's name".into()
                }
            }
            BadEnvName { name, reserved } => {
                if *reserved {
                    format!("the launcher sets `{name}` itself")
                } else {
                    format!("`{name}` is not an environment variable name")
                }
            }
            RedundantSystemEntry { pattern, preset } => {
                format!("`{pattern}` is already in preset `{preset}`")
            }
            RemoveMatchesNothing { pattern } => {
                format!("`{pattern}` removes nothing the presets provide")
            }
            CxxContradiction { choice, .. } => {
                format!("this contradicts `cxx-runtime {choice}`")
            }
            KindNotInManifest { kind } => format!("the manifest has nothing of kind `{kind}`"),
            TracedEntryIsCode => {
                "the traced entry is `python -c` code, which a launcher cannot replay".into()
            }
        }
    }

    /// The text under the primary span.
    pub fn label(&self) -> String {
        use ErrorKind::*;
        match &self.kind {
            Syntax { .. } => "not expected here".into(),
            UnterminatedString => "this string has no closing `\"` on its line".into(),
            InvalidEscape { .. } => "unknown escape".into(),
            UnclosedBlock => "this `{` is never closed".into(),
            UnmatchedClose => "no block is open here".into(),
            NestedBlock { .. } => "a block opened inside another".into(),
            TooManyDiagnostics { .. } => "the next problem is here".into(),
            InvalidUtf8 { .. } => "not UTF-8".into(),
            UnknownVariable { .. } => "unknown variable".into(),
            VariableNotAvailable { .. } => "not available here".into(),
            UnclosedVariable => "this `{` has no `}`".into(),
            UnmatchedBrace => "unmatched `}`".into(),
            EmptyVariable => "empty variable".into(),
            BadWidth { .. } => "expected a number from 1 to 64".into(),
            AbsoluteDestination => "starts with `/`".into(),
            ParentSegment => "leaves the dist".into(),
            EmptySegment => "empty segment".into(),
            SegmentTooLong { .. } => "too long for a file name".into(),
            ReservedPath => "reserved for shenzi's record of the dist".into(),
            ControlCharacter { .. } => "control character".into(),
            NotPerFile { .. } => "the same path for every file".into(),
            BadGlob { .. } => "invalid glob".into(),
            AbsoluteGlob { .. } => "never matches".into(),
            GlobTooLong { .. } => "too long".into(),
            GlobTooDeep { .. } => "nested too deep from here".into(),
            DuplicateUnit { .. } | DuplicateFarm { .. } => "defined again here".into(),
            UnknownFarm { .. } => "no farm has this name".into(),
            UnknownUnit { .. } => "no unit has this name".into(),
            UnknownKind { .. } => "unknown kind".into(),
            UnknownPreset { .. } => "unknown preset".into(),
            UnknownChoice { what, .. } => format!("not {what}"),
            UnknownFlag { .. } => "unknown flag".into(),
            RepeatedStatement { .. } => "given again here".into(),
            MissingStatement { what, .. } => format!("needs `{what}`"),
            MissingSystem => "no `system` block in this layout".into(),
            MissingCxxChoice => "no `cxx-runtime` in this block".into(),
            DuplicateKind { .. } => "taken again here".into(),
            SelectNotApplicable { .. } => "only for `python.site_dirs`".into(),
            ServeNotApplicable { .. } => "only for `native.runtime_loads`".into(),
            SiteNotApplicable { .. } => "only for `python.site_dirs` and `python.packages`".into(),
            FarmNotApplicable { .. } => "nothing joins this farm".into(),
            ActionNeedsFarm { .. } => "this action places files in a farm".into(),
            MissingDestination { .. } => "this unit has no `to`".into(),
            DestinationUnused { .. } => "unused destination".into(),
            EntryArgument { wants, .. } => {
                if *wants {
                    "expected a module name after this".into()
                } else {
                    "unexpected argument".into()
                }
            }
            InvalidModuleName { .. } => "expected dotted identifiers".into(),
            NotForForm { .. } => "ignored for this form".into(),
            NoLauncher => "this layout".into(),
            FarmUnused { .. } => "unused farm".into(),
            LevelOutOfRange { .. } => "expected 1 to 16".into(),
            LevelMismatch { level, .. } => match level {
                Some(_) => "this level".into(),
                None => "this farm".into(),
            },
            FarmPathNotUnique { .. } => "no variable tells libraries apart".into(),
            FarmOverlap { .. } => "this farm's root".into(),
            DestinationInFarm { .. } => "written among the farm's files".into(),
            DuplicateClaim { .. } => "the same files again".into(),
            DestinationConflict { .. } => "written here too".into(),
            LauncherNotInterpreter { .. } => "expected the interpreter's unit".into(),
            LauncherNotImportable { reason, .. } => (*reason).into(),
            LauncherNotPrograms { .. } => "not a unit of programs".into(),
            EnvArgument { traced } => {
                if *traced {
                    "unexpected value".into()
                } else {
                    "expected a quoted dist path after this".into()
                }
            }
            BadEnvName { reserved, .. } => {
                if *reserved {
                    "set by the launcher".into()
                } else {
                    "not a variable name".into()
                }
            }
            RedundantSystemEntry { .. } => "already provided".into(),
            RemoveMatchesNothing { .. } => "matches no preset entry".into(),
            CxxContradiction { .. } => "contradicts the C++ runtime choice".into(),
            KindNotInManifest { .. } => "selects nothing from this manifest".into(),
            TracedEntryIsCode => "replays the traced entry".into(),
        }
    }

    /// Other places the diagnostic involves.
    pub fn secondary(&self) -> Vec<(Span, String)> {
        use ErrorKind::*;
        match &self.kind {
            NestedBlock { outer } => vec![(*outer, "inside the block opened here".into())],
            DuplicateUnit { first, .. } | DuplicateFarm { first, .. } => {
                vec![(*first, "first defined here".into())]
            }
            RepeatedStatement { first, .. } => vec![(*first, "first given here".into())],
            DuplicateKind { first, .. } => vec![(*first, "first taken here".into())],
            DestinationUnused { action_span, .. } => {
                vec![(*action_span, "this action".into())]
            }
            NotForForm { form_span, .. } => vec![(*form_span, "the launcher's form".into())],
            LevelMismatch { reals, links, .. } => vec![
                (reals.0, format!("reals opened at depth {}", reals.1)),
                (links.0, format!("links at depth {}", links.1)),
            ],
            FarmOverlap {
                other, other_span, ..
            } => vec![(*other_span, format!("farm `{other}`'s root"))],
            DestinationInFarm { folder, .. } => vec![(*folder, "the farm's folder".into())],
            DuplicateClaim {
                other, other_span, ..
            } => vec![(*other_span, format!("unit `{other}` takes them here"))],
            DestinationConflict {
                other, other_span, ..
            } => vec![(*other_span, format!("unit `{other}` writes it here"))],
            LauncherNotInterpreter { unit, unit_span } => {
                vec![(*unit_span, format!("unit `{unit}` is defined here"))]
            }
            LauncherNotImportable {
                unit, unit_span, ..
            }
            | LauncherNotPrograms { unit, unit_span } => {
                vec![(*unit_span, format!("unit `{unit}` is defined here"))]
            }
            CxxContradiction { choice_span, .. } => vec![(*choice_span, "the choice".into())],
            _ => Vec::new(),
        }
    }

    /// What to write instead.
    pub fn help(&self) -> Option<String> {
        use ErrorKind::*;
        let text = match &self.kind {
            Syntax { suggestion, .. } => match suggestion {
                Some(s) => format!("did you mean `{s}`?"),
                None => return None,
            },
            UnterminatedString => {
                "add the closing `\"`; a string cannot span lines".into()
            }
            InvalidEscape { .. } => {
                "only `\\\"` and `\\\\` are escapes; write other characters as they are".into()
            }
            UnclosedBlock => "add `}` after the block's last statement".into(),
            UnmatchedClose => "remove it, or open the block it was meant to close".into(),
            NestedBlock { .. } => {
                "close the enclosing block with `}` first: `system`, `farm`, `unit` and `launcher` blocks are written one after another".into()
            }
            TooManyDiagnostics { .. } => return None,
            InvalidUtf8 { .. } => "save the layout as UTF-8; write non-ASCII names as UTF-8 too".into(),
            UnknownVariable {
                suggestion,
                allowed,
                ..
            } => match suggestion {
                Some(s) => format!("did you mean `{{{s}}}`? available here: {allowed}"),
                None => format!("available here: {allowed}; write `{{{{` for a literal brace"),
            },
            VariableNotAvailable {
                offered_by,
                allowed,
                ..
            } => format!("it is offered by {offered_by}; available here: {allowed}"),
            UnclosedVariable => "close the variable with `}`, or write `{{` for a literal `{`".into(),
            UnmatchedBrace => "write `}}` for a literal `}`".into(),
            EmptyVariable => "name a variable, such as `{file}`, or write `{{}}` for literal braces".into(),
            BadWidth { .. } => "write the number of characters to keep, as in `{hash:16}`".into(),
            AbsoluteDestination => "remove the leading `/`: destinations are relative to the dist's root".into(),
            ParentSegment => "name a folder inside the dist instead".into(),
            EmptySegment => "remove the extra `/` or `.`".into(),
            SegmentTooLong { .. } => "shorten the name between these `/`".into(),
            ReservedPath => "write the unit to another folder: `.shenzi/dist.json` records what apply wrote".into(),
            ControlCharacter { .. } => "remove it; a glob matches such a character in a file name with `?`".into(),
            NotPerFile { distinct, .. } => {
                format!("use {distinct} in the destination, for example end it with `/{{path}}`")
            }
            BadGlob { .. } => "globs use `*`, `?`, `**`, `[abc]` and `{a,b}`".into(),
            AbsoluteGlob { matched } => {
                format!("this glob is matched against {matched}: remove the leading `/`")
            }
            GlobTooLong { .. } => "split it into several globs: `only`, `exclude`, `ignore`, `add` and `remove` take a list".into(),
            GlobTooDeep { .. } => "flatten the alternatives: `{a,b,c}` matches what `{a,{b,c}}` does".into(),
            DuplicateUnit { .. } => "rename one of the units, or merge them".into(),
            DuplicateFarm { .. } => "rename one of the farms".into(),
            UnknownFarm { suggestion, .. } | UnknownUnit { suggestion, .. } => match suggestion {
                Some(s) => format!("did you mean `{s}`?"),
                None => return Some(match &self.kind {
                    UnknownFarm { name, .. } => format!("define it: `farm {name} {{ root \"lib\"  reals \"reals/{{hash:16}}/{{file}}\"  links \"links/{{name}}\" }}`"),
                    _ => "define the unit, or name one of the layout's units".into(),
                }),
            },
            UnknownKind { suggestion, .. } => match suggestion {
                Some(s) => format!("did you mean `{s}`?"),
                None => format!("the kinds are {}", super::vars::KINDS.iter().map(|k| format!("`{}`", k.name)).collect::<Vec<_>>().join(", ")),
            },
            UnknownPreset { suggestion, .. } => match suggestion {
                Some(s) => format!("did you mean `{s}`?"),
                None => format!("the presets are {}", crate::policy::PRESETS.iter().map(|p| format!("`{}`", p.name)).collect::<Vec<_>>().join(", ")),
            },
            UnknownChoice {
                suggestion,
                choices,
                ..
            } => match suggestion {
                Some(s) => format!("did you mean `{s}`?"),
                None => {
                    let ticked: Vec<String> = choices.iter().map(|c| format!("`{c}`")).collect();
                    let refs: Vec<&str> = ticked.iter().map(String::as_str).collect();
                    format!("write {}", one_of(&refs))
                }
            },
            UnknownFlag { suggestion, .. } => match suggestion {
                Some(s) => format!("did you mean `{s}`?"),
                None => format!("the flags are {}", super::model::Flag::ALL.iter().map(|f| format!("`{}`", f.name())).collect::<Vec<_>>().join(", ")),
            },
            RepeatedStatement { .. } => "keep one of them".into(),
            MissingStatement { example, .. } => format!("add it, for example `{example}`"),
            MissingSystem => "add `system { preset glibc  cxx-runtime bundle }`".into(),
            MissingCxxChoice => "write `cxx-runtime bundle` to ship libstdc++ and libgcc_s, or `cxx-runtime system` to trust the target's".into(),
            DuplicateKind { .. } => "remove the repeated kind".into(),
            SelectNotApplicable { .. } => "remove `select`, or take `python.site_dirs`".into(),
            ServeNotApplicable { .. } => "remove `serve`, or take `native.runtime_loads`".into(),
            SiteNotApplicable { .. } => "remove `site`: it picks site dirs by kind".into(),
            FarmNotApplicable { .. } => "remove `farm` from this unit".into(),
            ActionNeedsFarm { .. } => "add `farm NAME`, or use `action copy`".into(),
            MissingDestination { .. } => "add `to \"...\"`, or use `action move` to keep the files only in the farm".into(),
            DestinationUnused { .. } => "remove the `to` line".into(),
            EntryArgument { wants, .. } => if *wants {
                "write `entry module \"pkg.cli\"`".into()
            } else {
                "write `entry traced` alone".into()
            },
            InvalidModuleName { .. } => "write a dotted module name such as `pkg.cli`".into(),
            NotForForm { .. } => "remove it, or use `form sh`".into(),
            NoLauncher => "add `launcher { at \"bin/{app.name}\"  python interpreter  path stdlib, site }`, or ignore this if the dist is run another way".into(),
            FarmUnused { .. } => "add `farm NAME` to the units whose libraries it should hold, or remove it".into(),
            LevelOutOfRange { .. } => "write a level from 1 to 16: how deep below the root libraries are opened".into(),
            LevelMismatch { reals, links, .. } => {
                if reals.1 == links.1 {
                    format!("write `level {}`, or leave `level` out", reals.1)
                } else {
                    "put the folder of `reals` and each link folder at one depth below the root, e.g. `reals \"reals/{hash:16}/{file}\"` with `links \"links/{name}\"`".into()
                }
            }
            FarmPathNotUnique { which } => if *which == "reals" {
                "use `{hash}` (content) or `{file}`/`{name}` in the path".into()
            } else {
                "use `{name}` in the path: each library gets its own link folder".into()
            },
            FarmOverlap { .. } => "give each farm its own root".into(),
            DestinationInFarm { .. } => "write the unit elsewhere, or move the farm's folders".into(),
            DuplicateClaim { deny, .. } => if *deny {
                "remove one unit, or narrow them with `only`/`exclude` so they take different files".into()
            } else {
                "identical files are allowed, but one unit is enough: remove one or narrow them with `only`/`exclude`".into()
            },
            DestinationConflict { .. } => "give the units different destinations".into(),
            LauncherNotInterpreter { .. } => "name the unit that takes `python.interpreter`".into(),
            LauncherNotImportable { .. } => "list units that take importable kinds with a destination ending in `/{path}`".into(),
            LauncherNotPrograms { .. } => "list units that take `app.executables` with a destination: their folders go first on `PATH`".into(),
            EnvArgument { traced } => if *traced {
                "write `env traced` alone".into()
            } else {
                "write `env NAME \"share/x\"`: the launcher sets NAME to that path inside the dist".into()
            },
            BadEnvName { reserved, .. } => if *reserved {
                "`PATH` gets the `programs` folders, and `LD_*`, `DYLD_*` and `PYTHON*` variables are the launcher's; name another variable".into()
            } else {
                "write letters, digits and `_`, not starting with a digit (`MYLIB_DATA`)".into()
            },
            RedundantSystemEntry { .. } => "remove this entry".into(),
            RemoveMatchesNothing { .. } => "check the name against the presets' entries in docs/layout-language.md".into(),
            CxxContradiction { .. } => "remove this entry; `cxx-runtime` decides libstdc++ and libgcc_s".into(),
            KindNotInManifest { .. } => "remove the kind, or trace a run that uses it".into(),
            TracedEntryIsCode => "write `entry module \"...\"` in the launcher, or trace a script".into(),
        };
        Some(text)
    }
}

/// `a`, `a or b`, `a, b or c`.
pub(crate) fn one_of(items: &[&str]) -> String {
    match items {
        [] => "something else".into(),
        [one] => (*one).into(),
        [init @ .., last] => format!("{} or {last}", init.join(", ")),
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message())
    }
}

impl std::error::Error for Diagnostic {}

impl miette::Diagnostic for Diagnostic {
    fn code<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        Some(Box::new(self.code()))
    }

    fn severity(&self) -> Option<Severity> {
        Some(self.severity())
    }

    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.help().map(|h| Box::new(h) as Box<dyn fmt::Display>)
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        let mut labels = vec![LabeledSpan::new_primary_with_span(
            Some(self.label()),
            self.span,
        )];
        labels.extend(
            self.secondary()
                .into_iter()
                .map(|(span, text)| LabeledSpan::new_with_span(Some(text), span)),
        );
        Some(Box::new(labels.into_iter()))
    }
}

/// Every diagnostic of one run over one layout, with the layout's text, as one miette
/// report: the diagnostics are its `related` entries, so all of them are rendered.
#[derive(Debug)]
pub struct LayoutReport {
    /// The bytes as read (not always UTF-8: see `shenzi::layout::invalid_utf8`).
    pub src: NamedSource<Vec<u8>>,
    pub diagnostics: Vec<Diagnostic>,
}

impl LayoutReport {
    pub fn errors(&self) -> usize {
        self.diagnostics.iter().filter(|d| d.is_error()).count()
    }

    pub fn warnings(&self) -> usize {
        self.diagnostics
            .iter()
            .filter(|d| d.severity() == Severity::Warning)
            .count()
    }

    pub fn codes(&self) -> Vec<&'static str> {
        self.diagnostics.iter().map(Diagnostic::code).collect()
    }
}

impl fmt::Display for LayoutReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (errors, warnings) = (self.errors(), self.warnings());
        let plural = |n: usize, word: &str| {
            if n == 1 {
                format!("1 {word}")
            } else {
                format!("{n} {word}s")
            }
        };
        write!(
            f,
            "layout `{}`: {}, {}",
            self.src.name(),
            plural(errors, "error"),
            plural(warnings, "warning")
        )
    }
}

super::report::report_diagnostic!(LayoutReport, "shenzi::layout::check");
