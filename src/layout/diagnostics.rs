//! Every diagnostic the layout language gives, in one enum with one place for its
//! code, severity, message, labels and help.

use std::fmt;

use miette::{LabeledSpan, NamedSource, Severity};

use super::limits::{GLOB_MAX_LEN, GLOB_MAX_NESTING, MAX_LAYOUT_BYTES, NAME_MAX};
use super::span::Span;
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
    PackNotApplicable {
        kinds: String,
    },
    PackNeedsCopy {
        action: &'static str,
        action_span: Span,
    },
    UnpackedWithoutPack,
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
    OutputArgument {
        output: &'static str,
    },
    OnefileWithoutLauncher,

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
        self.describe().code
    }

    pub fn severity(&self) -> Severity {
        self.describe().severity
    }

    /// The headline: lowercase, names in backticks.
    pub fn message(&self) -> String {
        self.describe().message
    }

    /// The text under the primary span.
    pub fn label(&self) -> String {
        self.describe().label
    }

    /// Other places the diagnostic involves.
    pub fn secondary(&self) -> Vec<(Span, String)> {
        self.describe().secondary
    }

    /// What to write instead.
    pub fn help(&self) -> Option<String> {
        self.describe().help
    }

    /// Everything a kind says, one arm per kind: to add a diagnostic, add its variant to
    /// [`ErrorKind`] and its arm here.
    fn describe(&self) -> Described {
        use ErrorKind::*;
        match &self.kind {
            Syntax { expected, found, suggestion } => Described {
                code: "shenzi::layout::syntax",
                severity: Severity::Error,
                message: format!("expected {}, found {found}", one_of(expected)),
                label: "not expected here".into(),
                secondary: Vec::new(),
                help: suggestion.map(|s| format!("did you mean `{s}`?")),
            },
            UnterminatedString => Described {
                code: "shenzi::layout::unterminated_string",
                severity: Severity::Error,
                message: "this string is never closed".into(),
                label: "this string has no closing `\"` on its line".into(),
                secondary: Vec::new(),
                help: Some("add the closing `\"`; a string cannot span lines".into()),
            },
            InvalidEscape { escape } => Described {
                code: "shenzi::layout::invalid_escape",
                severity: Severity::Error,
                message: format!("`{escape}` is not an escape"),
                label: "unknown escape".into(),
                secondary: Vec::new(),
                help: Some("only `\\\"` and `\\\\` are escapes; write other characters as they are".into()),
            },
            UnclosedBlock => Described {
                code: "shenzi::layout::unclosed_block",
                severity: Severity::Error,
                message: "this block is never closed".into(),
                label: "this `{` is never closed".into(),
                secondary: Vec::new(),
                help: Some("add `}` after the block's last statement".into()),
            },
            UnmatchedClose => Described {
                code: "shenzi::layout::unmatched_close",
                severity: Severity::Error,
                message: "this `}` closes no block".into(),
                label: "no block is open here".into(),
                secondary: Vec::new(),
                help: Some("remove it, or open the block it was meant to close".into()),
            },
            NestedBlock { outer } => Described {
                code: "shenzi::layout::nested_block",
                severity: Severity::Error,
                message: "blocks do not nest".into(),
                label: "a block opened inside another".into(),
                secondary: vec![(*outer, "inside the block opened here".into())],
                help: Some("close the enclosing block with `}` first: `system`, `farm`, `unit` and `launcher` blocks are written one after another".into()),
            },
            TooManyDiagnostics { shown } => Described {
                code: "shenzi::layout::too_many_diagnostics",
                severity: Severity::Advice,
                message: format!("stopped after {shown} diagnostics; fix these and check again"),
                label: "the next problem is here".into(),
                secondary: Vec::new(),
                help: None,
            },
            InvalidUtf8 { bytes } => Described {
                code: "shenzi::layout::invalid_utf8",
                severity: Severity::Error,
                message: {
                    let shown: String = bytes.iter().map(|b| format!("\\x{b:02x}")).collect();
                    format!("the layout is not UTF-8 text: `{shown}` is not a character")
                },
                label: "not UTF-8".into(),
                secondary: Vec::new(),
                help: Some("save the layout as UTF-8; write non-ASCII names as UTF-8 too".into()),
            },
            UnknownVariable { name, suggestion, allowed } => Described {
                code: "shenzi::layout::unknown_variable",
                severity: Severity::Error,
                message: format!("there is no variable `{{{name}}}`"),
                label: "unknown variable".into(),
                secondary: Vec::new(),
                help: Some(match suggestion {
                    Some(s) => format!("did you mean `{{{s}}}`? available here: {allowed}"),
                    None => format!("available here: {allowed}; write `{{{{` for a literal brace"),
                }),
            },
            VariableNotAvailable { var, context, offered_by, allowed } => Described {
                code: "shenzi::layout::variable_not_available",
                severity: Severity::Error,
                message: format!("`{{{var}}}` is not available in {context}"),
                label: "not available here".into(),
                secondary: Vec::new(),
                help: Some(format!("it is offered by {offered_by}; available here: {allowed}")),
            },
            UnclosedVariable => Described {
                code: "shenzi::layout::unclosed_variable",
                severity: Severity::Error,
                message: "this variable is never closed".into(),
                label: "this `{` has no `}`".into(),
                secondary: Vec::new(),
                help: Some("close the variable with `}`, or write `{{` for a literal `{`".into()),
            },
            UnmatchedBrace => Described {
                code: "shenzi::layout::unmatched_brace",
                severity: Severity::Error,
                message: "this `}` closes no variable".into(),
                label: "unmatched `}`".into(),
                secondary: Vec::new(),
                help: Some("write `}}` for a literal `}`".into()),
            },
            EmptyVariable => Described {
                code: "shenzi::layout::empty_variable",
                severity: Severity::Error,
                message: "`{}` names no variable".into(),
                label: "empty variable".into(),
                secondary: Vec::new(),
                help: Some("name a variable, such as `{file}`, or write `{{}}` for literal braces".into()),
            },
            BadWidth { text } => Described {
                code: "shenzi::layout::bad_width",
                severity: Severity::Error,
                message: format!("`{text}` is not a width"),
                label: "expected a number from 1 to 64".into(),
                secondary: Vec::new(),
                help: Some("write the number of characters to keep, as in `{hash:16}`".into()),
            },
            AbsoluteDestination => Described {
                code: "shenzi::layout::absolute_destination",
                severity: Severity::Error,
                message: "a path in the dist cannot be absolute".into(),
                label: "starts with `/`".into(),
                secondary: Vec::new(),
                help: Some("remove the leading `/`: destinations are relative to the dist's root".into()),
            },
            ParentSegment => Described {
                code: "shenzi::layout::parent_segment",
                severity: Severity::Error,
                message: "a path in the dist cannot go up with `..`".into(),
                label: "leaves the dist".into(),
                secondary: Vec::new(),
                help: Some("name a folder inside the dist instead".into()),
            },
            EmptySegment => Described {
                code: "shenzi::layout::empty_segment",
                severity: Severity::Error,
                message: "this path has an empty or `.` segment".into(),
                label: "empty segment".into(),
                secondary: Vec::new(),
                help: Some("remove the extra `/` or `.`".into()),
            },
            SegmentTooLong { len } => Described {
                code: "shenzi::layout::segment_too_long",
                severity: Severity::Error,
                message: format!(
                    "this path segment is {len} bytes long; a file name is at most {NAME_MAX} bytes"
                ),
                label: "too long for a file name".into(),
                secondary: Vec::new(),
                help: Some("shorten the name between these `/`".into()),
            },
            ReservedPath => Described {
                code: "shenzi::layout::reserved_path",
                severity: Severity::Error,
                message: "the dist's `.shenzi/` folder is shenzi's own".into(),
                label: "reserved for shenzi's record of the dist".into(),
                secondary: Vec::new(),
                help: Some("write the unit to another folder: `.shenzi/dist.json` records what apply wrote".into()),
            },
            ControlCharacter { found } => Described {
                code: "shenzi::layout::control_character",
                severity: Severity::Error,
                message: format!(
                    "a string cannot hold control character `{}`",
                    found.escape_debug()
                ),
                label: "control character".into(),
                secondary: Vec::new(),
                help: Some("remove it; a glob matches such a character in a file name with `?`".into()),
            },
            NotPerFile { kind, distinct } => Described {
                code: "shenzi::layout::not_per_file",
                severity: Severity::Error,
                message: format!("every file of `{kind}` would be written to this one path"),
                label: "the same path for every file".into(),
                secondary: Vec::new(),
                help: Some(format!("use {distinct} in the destination, for example end it with `/{{path}}`")),
            },
            BadGlob { message } => Described {
                code: "shenzi::layout::bad_glob",
                severity: Severity::Error,
                message: format!("this glob is invalid: {message}"),
                label: "invalid glob".into(),
                secondary: Vec::new(),
                help: Some("globs use `*`, `?`, `**`, `[abc]` and `{a,b}`".into()),
            },
            AbsoluteGlob { matched } => Described {
                code: "shenzi::layout::absolute_glob",
                severity: Severity::Warning,
                message: "this glob starts with `/` and can never match".into(),
                label: "never matches".into(),
                secondary: Vec::new(),
                help: Some(format!("this glob is matched against {matched}: remove the leading `/`")),
            },
            GlobTooLong { len } => Described {
                code: "shenzi::layout::glob_too_complex",
                severity: Severity::Error,
                message: format!("this glob is {len} bytes long; a glob is at most {GLOB_MAX_LEN} bytes"),
                label: "too long".into(),
                secondary: Vec::new(),
                help: Some("split it into several globs: `only`, `exclude`, `ignore`, `add` and `remove` take a list".into()),
            },
            GlobTooDeep { depth } => Described {
                code: "shenzi::layout::glob_too_complex",
                severity: Severity::Error,
                message: format!(
                    "this glob nests `{{...}}` {depth} deep; at most {GLOB_MAX_NESTING} levels are allowed"
                ),
                label: "nested too deep from here".into(),
                secondary: Vec::new(),
                help: Some("flatten the alternatives: `{a,b,c}` matches what `{a,{b,c}}` does".into()),
            },
            DuplicateUnit { name, first } => Described {
                code: "shenzi::layout::duplicate_unit",
                severity: Severity::Error,
                message: format!("unit `{name}` is defined twice"),
                label: "defined again here".into(),
                secondary: vec![(*first, "first defined here".into())],
                help: Some("rename one of the units, or merge them".into()),
            },
            DuplicateFarm { name, first } => Described {
                code: "shenzi::layout::duplicate_farm",
                severity: Severity::Error,
                message: format!("farm `{name}` is defined twice"),
                label: "defined again here".into(),
                secondary: vec![(*first, "first defined here".into())],
                help: Some("rename one of the farms".into()),
            },
            UnknownFarm { name, suggestion } => Described {
                code: "shenzi::layout::unknown_farm",
                severity: Severity::Error,
                message: format!("there is no farm `{name}`"),
                label: "no farm has this name".into(),
                secondary: Vec::new(),
                help: Some(match suggestion {
                    Some(s) => format!("did you mean `{s}`?"),
                    None => format!("define it: `farm {name} {{ root \"lib\"  reals \"reals/{{hash:16}}/{{file}}\"  links \"links/{{name}}\" }}`"),
                }),
            },
            UnknownUnit { name, suggestion } => Described {
                code: "shenzi::layout::unknown_unit",
                severity: Severity::Error,
                message: format!("there is no unit `{name}`"),
                label: "no unit has this name".into(),
                secondary: Vec::new(),
                help: Some(match suggestion {
                    Some(s) => format!("did you mean `{s}`?"),
                    None => "define the unit, or name one of the layout's units".into(),
                }),
            },
            UnknownKind { name, suggestion } => Described {
                code: "shenzi::layout::unknown_kind",
                severity: Severity::Error,
                message: format!("`{name}` is not a kind a unit can take"),
                label: "unknown kind".into(),
                secondary: Vec::new(),
                help: Some(match suggestion {
                    Some(s) => format!("did you mean `{s}`?"),
                    None => format!("the kinds are {}", super::vars::KINDS.iter().map(|k| format!("`{}`", k.name)).collect::<Vec<_>>().join(", ")),
                }),
            },
            UnknownPreset { name, suggestion } => Described {
                code: "shenzi::layout::unknown_preset",
                severity: Severity::Error,
                message: format!("there is no system preset `{name}`"),
                label: "unknown preset".into(),
                secondary: Vec::new(),
                help: Some(match suggestion {
                    Some(s) => format!("did you mean `{s}`?"),
                    None => format!("the presets are {}", crate::policy::PRESETS.iter().map(|p| format!("`{}`", p.name)).collect::<Vec<_>>().join(", ")),
                }),
            },
            UnknownChoice { what, word, suggestion, choices } => Described {
                code: "shenzi::layout::unknown_choice",
                severity: Severity::Error,
                message: format!("`{word}` is not {what}"),
                label: format!("not {what}"),
                secondary: Vec::new(),
                help: Some(match suggestion {
                    Some(s) => format!("did you mean `{s}`?"),
                    None => {
                        let ticked: Vec<String> = choices.iter().map(|c| format!("`{c}`")).collect();
                        let refs: Vec<&str> = ticked.iter().map(String::as_str).collect();
                        format!("write {}", one_of(&refs))
                    }
                }),
            },
            UnknownFlag { word, suggestion } => Described {
                code: "shenzi::layout::unknown_flag",
                severity: Severity::Error,
                message: format!("`{word}` is not a launcher flag"),
                label: "unknown flag".into(),
                secondary: Vec::new(),
                help: Some(match suggestion {
                    Some(s) => format!("did you mean `{s}`?"),
                    None => format!("the flags are {}", super::flags::Flag::ALL.iter().map(|f| format!("`{}`", f.name())).collect::<Vec<_>>().join(", ")),
                }),
            },
            RepeatedStatement { what, first } => Described {
                code: "shenzi::layout::repeated_statement",
                severity: Severity::Error,
                message: format!("{what} is given twice"),
                label: "given again here".into(),
                secondary: vec![(*first, "first given here".into())],
                help: Some("keep one of them".into()),
            },
            MissingStatement { what, owner, example } => Described {
                code: "shenzi::layout::missing_statement",
                severity: Severity::Error,
                message: format!("{owner} has no `{what}`"),
                label: format!("needs `{what}`"),
                secondary: Vec::new(),
                help: Some(format!("add it, for example `{example}`")),
            },
            MissingSystem => Described {
                code: "shenzi::layout::missing_system",
                severity: Severity::Error,
                message: "the layout does not say which libraries the target system provides".into(),
                label: "no `system` block in this layout".into(),
                secondary: Vec::new(),
                help: Some("add `system { preset glibc  cxx-runtime bundle }`".into()),
            },
            MissingCxxChoice => Described {
                code: "shenzi::layout::missing_cxx_choice",
                severity: Severity::Error,
                message: "the system policy does not say whether the C++ runtime is bundled".into(),
                label: "no `cxx-runtime` in this block".into(),
                secondary: Vec::new(),
                help: Some("write `cxx-runtime bundle` to ship libstdc++ and libgcc_s, or `cxx-runtime system` to trust the target's".into()),
            },
            DuplicateKind { kind, first } => Described {
                code: "shenzi::layout::duplicate_kind",
                severity: Severity::Warning,
                message: format!("`{kind}` is taken twice"),
                label: "taken again here".into(),
                secondary: vec![(*first, "first taken here".into())],
                help: Some("remove the repeated kind".into()),
            },
            SelectNotApplicable { kinds } => Described {
                code: "shenzi::layout::select_not_applicable",
                severity: Severity::Error,
                message: format!("`select` does not apply to {kinds}"),
                label: format!("only for {}", selectable_kinds(" and ")),
                secondary: Vec::new(),
                help: Some(format!(
                    "remove `select`, or take {}",
                    selectable_kinds(" or ")
                )),
            },
            ServeNotApplicable { kinds } => Described {
                code: "shenzi::layout::serve_not_applicable",
                severity: Severity::Error,
                message: format!("`serve` does not apply to {kinds}"),
                label: "only for `native.runtime_loads`".into(),
                secondary: Vec::new(),
                help: Some("remove `serve`, or take `native.runtime_loads`".into()),
            },
            SiteNotApplicable { kinds } => Described {
                code: "shenzi::layout::site_not_applicable",
                severity: Severity::Error,
                message: format!("`site` does not apply to {kinds}"),
                label: "only for `python.site_dirs` and `python.packages`".into(),
                secondary: Vec::new(),
                help: Some("remove `site`: it picks site dirs by kind".into()),
            },
            FarmNotApplicable { kinds } => Described {
                code: "shenzi::layout::farm_not_applicable",
                severity: Severity::Warning,
                message: format!("{kinds} holds no shared libraries for a farm"),
                label: "nothing joins this farm".into(),
                secondary: Vec::new(),
                help: Some("remove `farm` from this unit".into()),
            },
            PackNotApplicable { kinds } => Described {
                code: "shenzi::layout::pack_not_applicable",
                severity: Severity::Error,
                message: format!("{kinds} is not imported from `sys.path`, so it cannot be packed"),
                label: "`pack` archives files imported from `sys.path`".into(),
                secondary: Vec::new(),
                help: Some("remove `pack`, or take `python.stdlib`, `python.site_dirs`, `python.packages` or `app.modules`".into()),
            },
            PackNeedsCopy { action, action_span } => Described {
                code: "shenzi::layout::pack_needs_copy",
                severity: Severity::Error,
                message: format!("a unit with action `{action}` cannot be packed"),
                label: "an archive holds copies".into(),
                secondary: vec![(*action_span, "the action".into())],
                help: Some("remove `pack`, or use `action copy`".into()),
            },
            UnpackedWithoutPack => Described {
                code: "shenzi::layout::unpacked_without_pack",
                severity: Severity::Warning,
                message: "`unpacked` has no effect in a unit without `pack`".into(),
                label: "every file of this unit is written as a file already".into(),
                secondary: Vec::new(),
                help: Some("remove `unpacked`, or add `pack zip \"...\"`".into()),
            },
            ActionNeedsFarm { action } => Described {
                code: "shenzi::layout::action_needs_farm",
                severity: Severity::Error,
                message: format!("action `{action}` needs a farm"),
                label: "this action places files in a farm".into(),
                secondary: Vec::new(),
                help: Some("add `farm NAME`, or use `action copy`".into()),
            },
            MissingDestination { action } => Described {
                code: "shenzi::layout::missing_destination",
                severity: Severity::Error,
                message: format!("action `{action}` needs a destination"),
                label: "this unit has no `to`".into(),
                secondary: Vec::new(),
                help: Some("add `to \"...\"`, or use `action move` to keep the files only in the farm".into()),
            },
            DestinationUnused { action, action_span } => Described {
                code: "shenzi::layout::destination_unused",
                severity: Severity::Warning,
                message: format!("action `{action}` writes nothing at this destination"),
                label: "unused destination".into(),
                secondary: vec![(*action_span, "this action".into())],
                help: Some("remove the `to` line".into()),
            },
            EntryArgument { entry, wants } => Described {
                code: "shenzi::layout::entry_argument",
                severity: Severity::Error,
                message: if *wants {
                    format!("`entry {entry}` needs a module name")
                } else {
                    format!("`entry {entry}` takes no argument")
                },
                label: if *wants {
                    "expected a module name after this".into()
                } else {
                    "unexpected argument".into()
                },
                secondary: Vec::new(),
                help: Some(if *wants {
                    "write `entry module \"pkg.cli\"`".into()
                } else {
                    "write `entry traced` alone".into()
                }),
            },
            InvalidModuleName { name } => Described {
                code: "shenzi::layout::invalid_module_name",
                severity: Severity::Error,
                message: format!("`{name}` is not a module name"),
                label: "expected dotted identifiers".into(),
                secondary: Vec::new(),
                help: Some("write a dotted module name such as `pkg.cli`".into()),
            },
            NotForForm { what, form_span } => Described {
                code: "shenzi::layout::not_for_form",
                severity: Severity::Error,
                message: format!("`{what}` does nothing for a `symlink` launcher"),
                label: "ignored for this form".into(),
                secondary: vec![(*form_span, "the launcher's form".into())],
                help: Some("remove it, or use `form sh`".into()),
            },
            NoLauncher => Described {
                code: "shenzi::layout::no_launcher",
                severity: Severity::Warning,
                message: "the layout has no launcher".into(),
                label: "this layout".into(),
                secondary: Vec::new(),
                help: Some("add `launcher { at \"bin/{app.name}\"  python interpreter  path stdlib, site }`, or ignore this if the dist is run another way".into()),
            },
            FarmUnused { name } => Described {
                code: "shenzi::layout::farm_unused",
                severity: Severity::Warning,
                message: format!("no unit joins farm `{name}`"),
                label: "unused farm".into(),
                secondary: Vec::new(),
                help: Some("add `farm NAME` to the units whose libraries it should hold, or remove it".into()),
            },
            LevelOutOfRange { text } => Described {
                code: "shenzi::layout::level_out_of_range",
                severity: Severity::Error,
                message: format!("level `{text}` is out of range"),
                label: "expected 1 to 16".into(),
                secondary: Vec::new(),
                help: Some("write a level from 1 to 16: how deep below the root libraries are opened".into()),
            },
            LevelMismatch { level, reals, links } => Described {
                code: "shenzi::layout::level_mismatch",
                severity: Severity::Error,
                message: match level {
                    Some(level) => format!(
                        "farm level {level} does not match its folders (reals at depth {}, links at depth {})",
                        reals.1, links.1
                    ),
                    None => format!(
                        "the farm's folders are at different depths (reals at depth {}, links at depth {})",
                        reals.1, links.1
                    ),
                },
                label: match level {
                    Some(_) => "this level".into(),
                    None => "this farm".into(),
                },
                secondary: vec![
                    (reals.0, format!("reals opened at depth {}", reals.1)),
                    (links.0, format!("links at depth {}", links.1)),
                ],
                help: Some(if reals.1 == links.1 {
                    format!("write `level {}`, or leave `level` out", reals.1)
                } else {
                    "put the folder of `reals` and each link folder at one depth below the root, e.g. `reals \"reals/{hash:16}/{file}\"` with `links \"links/{name}\"`".into()
                }),
            },
            FarmPathNotUnique { which } => Described {
                code: "shenzi::layout::farm_path_not_unique",
                severity: Severity::Error,
                message: format!("every library would get the same {which} path"),
                label: "no variable tells libraries apart".into(),
                secondary: Vec::new(),
                help: Some(if *which == "reals" {
                    "use `{hash}` (content) or `{file}`/`{name}` in the path".into()
                } else {
                    "use `{name}` in the path: each library gets its own link folder".into()
                }),
            },
            FarmOverlap { name, other, other_span } => Described {
                code: "shenzi::layout::farm_overlap",
                severity: Severity::Error,
                message: format!("farms `{name}` and `{other}` share folders"),
                label: "this farm's root".into(),
                secondary: vec![(*other_span, format!("farm `{other}`'s root"))],
                help: Some("give each farm its own root".into()),
            },
            DestinationInFarm { farm, folder } => Described {
                code: "shenzi::layout::destination_in_farm",
                severity: Severity::Error,
                message: format!("this destination lies inside the folders of farm `{farm}`"),
                label: "written among the farm's files".into(),
                secondary: vec![(*folder, "the farm's folder".into())],
                help: Some("write the unit elsewhere, or move the farm's folders".into()),
            },
            DuplicateClaim { deny, unit, other, kind, other_span } => Described {
                code: "shenzi::layout::duplicate_claim",
                severity: if *deny {
                    Severity::Error
                } else {
                    Severity::Warning
                },
                message: format!("units `{other}` and `{unit}` both take `{kind}` to the same destination"),
                label: "the same files again".into(),
                secondary: vec![(*other_span, format!("unit `{other}` takes them here"))],
                help: Some(if *deny {
                    "remove one unit, or narrow them with `only`/`exclude` so they take different files".into()
                } else {
                    "identical files are allowed, but one unit is enough: remove one or narrow them with `only`/`exclude`".into()
                }),
            },
            DestinationConflict { path, other, other_span } => Described {
                code: "shenzi::layout::destination_conflict",
                severity: Severity::Error,
                message: format!("unit `{other}` also writes `{path}`"),
                label: "written here too".into(),
                secondary: vec![(*other_span, format!("unit `{other}` writes it here"))],
                help: Some("give the units different destinations".into()),
            },
            LauncherNotInterpreter { unit, unit_span } => Described {
                code: "shenzi::layout::launcher_not_interpreter",
                severity: Severity::Error,
                message: format!("unit `{unit}` does not take `python.interpreter`"),
                label: "expected the interpreter's unit".into(),
                secondary: vec![(*unit_span, format!("unit `{unit}` is defined here"))],
                help: Some("name the unit that takes `python.interpreter`".into()),
            },
            LauncherNotImportable { unit, reason, unit_span } => Described {
                code: "shenzi::layout::launcher_not_importable",
                severity: Severity::Error,
                message: format!("unit `{unit}` cannot go on `sys.path`"),
                label: (*reason).into(),
                secondary: vec![(*unit_span, format!("unit `{unit}` is defined here"))],
                help: Some("list units that take importable kinds with a destination ending in `/{path}`".into()),
            },
            LauncherNotPrograms { unit, unit_span } => Described {
                code: "shenzi::layout::launcher_not_programs",
                severity: Severity::Error,
                message: format!("unit `{unit}` does not take `app.executables`"),
                label: "not a unit of programs".into(),
                secondary: vec![(*unit_span, format!("unit `{unit}` is defined here"))],
                help: Some("list units that take `app.executables` with a destination: their folders go first on `PATH`".into()),
            },
            EnvArgument { traced } => Described {
                code: "shenzi::layout::env_argument",
                severity: Severity::Error,
                message: if *traced {
                    "`env traced` takes no value".into()
                } else {
                    "`env` needs a dist path after the variable's name".into()
                },
                label: if *traced {
                    "unexpected value".into()
                } else {
                    "expected a quoted dist path after this".into()
                },
                secondary: Vec::new(),
                help: Some(if *traced {
                    "write `env traced` alone".into()
                } else {
                    "write `env NAME \"share/x\"`: the launcher sets NAME to that path inside the dist".into()
                }),
            },
            BadEnvName { name, reserved } => Described {
                code: "shenzi::layout::bad_env_name",
                severity: Severity::Error,
                message: if *reserved {
                    format!("the launcher sets `{name}` itself")
                } else {
                    format!("`{name}` is not an environment variable name")
                },
                label: if *reserved {
                    "set by the launcher".into()
                } else {
                    "not a variable name".into()
                },
                secondary: Vec::new(),
                help: Some(if *reserved {
                    "`PATH` gets the `programs` folders, and `LD_*`, `DYLD_*` and `PYTHON*` variables are the launcher's; name another variable".into()
                } else {
                    "write letters, digits and `_`, not starting with a digit (`MYLIB_DATA`)".into()
                }),
            },
            OutputArgument { output } => Described {
                code: "shenzi::layout::output_argument",
                severity: Severity::Error,
                message: format!("`output {output}` takes no name"),
                label: "unexpected name".into(),
                secondary: Vec::new(),
                help: Some("write `output folder` alone; only `output onefile \"NAME\"` names what it writes".into()),
            },
            OnefileWithoutLauncher => Described {
                code: "shenzi::layout::onefile_without_launcher",
                severity: Severity::Error,
                message: "`output onefile` needs a launcher to run".into(),
                label: "a onefile starts the launcher".into(),
                secondary: Vec::new(),
                help: Some("add `launcher { at \"bin/{app.name}\"  python interpreter  path stdlib, site }`, or write `output folder`".into()),
            },
            RedundantSystemEntry { pattern, preset } => Described {
                code: "shenzi::layout::redundant_system_entry",
                severity: Severity::Warning,
                message: format!("`{pattern}` is already in preset `{preset}`"),
                label: "already provided".into(),
                secondary: Vec::new(),
                help: Some("remove this entry".into()),
            },
            RemoveMatchesNothing { pattern } => Described {
                code: "shenzi::layout::remove_matches_nothing",
                severity: Severity::Warning,
                message: format!("`{pattern}` removes nothing the presets provide"),
                label: "matches no preset entry".into(),
                secondary: Vec::new(),
                help: Some("check the name against the presets' entries in docs/layout-language.md".into()),
            },
            CxxContradiction { choice, choice_span } => Described {
                code: "shenzi::layout::cxx_contradiction",
                severity: Severity::Warning,
                message: format!("this contradicts `cxx-runtime {choice}`"),
                label: "contradicts the C++ runtime choice".into(),
                secondary: vec![(*choice_span, "the choice".into())],
                help: Some("remove this entry; `cxx-runtime` decides libstdc++ and libgcc_s".into()),
            },
            KindNotInManifest { kind } => Described {
                code: "shenzi::layout::kind_not_in_manifest",
                severity: Severity::Warning,
                message: format!("the manifest has nothing of kind `{kind}`"),
                label: "selects nothing from this manifest".into(),
                secondary: Vec::new(),
                help: Some("remove the kind, or trace a run that uses it".into()),
            },
            TracedEntryIsCode => Described {
                code: "shenzi::layout::traced_entry_is_code",
                severity: Severity::Warning,
                message: "the traced entry is `python -c` code, which a launcher cannot replay".into(),
                label: "replays the traced entry".into(),
                secondary: Vec::new(),
                help: Some("write `entry module \"...\"` in the launcher, or trace a script".into()),
            },
        }
    }
}

/// What one diagnostic says, as [`Diagnostic::describe`] writes it for its kind.
struct Described {
    /// `shenzi::layout::...`
    code: &'static str,
    severity: Severity,
    /// The headline: lowercase, names in backticks.
    message: String,
    /// The text under the primary span.
    label: String,
    /// Other places the diagnostic involves.
    secondary: Vec<(Span, String)>,
    /// What to write instead.
    help: Option<String>,
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

    /// The report without what only `shenzi check` shows: kinds the manifest has nothing
    /// of (a general layout has units a given app does not use).
    pub fn for_apply(mut self) -> LayoutReport {
        self.diagnostics
            .retain(|d| !matches!(d.kind, ErrorKind::KindNotInManifest { .. }));
        self
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

/// The kinds `select` applies to, in backticks: `` `a`, `b` and `c` ``.
fn selectable_kinds(last: &str) -> String {
    let names: Vec<String> = super::vars::KINDS
        .iter()
        .filter(|k| k.selectable)
        .map(|k| format!("`{}`", k.name))
        .collect();
    match names.split_last() {
        Some((tail, [])) => tail.clone(),
        Some((tail, head)) => format!("{}{last}{tail}", head.join(", ")),
        None => String::new(),
    }
}

super::report::report_diagnostic!(LayoutReport, "shenzi::layout::check");

/// A layout that could not be read.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum LoadError {
    #[error("cannot read layout `{path}`")]
    #[diagnostic(
        code(shenzi::layout::unreadable),
        help("check the path, or name a built-in layout: {builtins}")
    )]
    Unreadable {
        path: String,
        builtins: String,
        #[source]
        source: std::io::Error,
    },
    #[error("layout `{path}` is {what}, not a file")]
    #[diagnostic(
        code(shenzi::layout::unreadable),
        help("name a regular `.shz` file; a layout cannot be read from a pipe or device")
    )]
    NotAFile { path: String, what: &'static str },
    #[error(
        "layout `{path}` is {size} bytes; a layout is at most 1 MiB ({MAX_LAYOUT_BYTES} bytes)"
    )]
    #[diagnostic(
        code(shenzi::layout::unreadable),
        help("is this the layout you meant? If so, use fewer units and wider globs")
    )]
    TooLarge { path: String, size: u64 },
}
