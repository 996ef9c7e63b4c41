//! Template strings such as `"site-packages/{site.index}/{path}"`: parsed into literal
//! and variable parts, checked against the variables of where they are used, and
//! rendered by the planner with [`Template::render`].

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::fmt;

use super::diagnostics::{Diagnostic, ErrorKind};
pub use super::limits::NAME_MAX;
use super::span::Span;
use super::suggest::nearest;
use super::syntax::Str;
use super::vars::{COMMON, Context, FARM, KINDS, Var};

/// The folder at the dist's root that holds shenzi's record of the dist
/// (`.shenzi/dist.json`): no template may write into it.
pub const RESERVED: &str = ".shenzi";

/// A parsed, checked template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    /// The string's value, as written between the quotes with escapes resolved.
    pub text: String,
    /// The string literal's span, quotes included.
    pub span: Span,
    pub parts: Vec<Part>,
}

/// A piece of a template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Part {
    Literal(String),
    Var(VarRef),
}

/// `{var}` or `{var:width}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VarRef {
    pub var: Var,
    /// Keep only this many characters of the value.
    pub width: Option<usize>,
    /// From `{` to `}`.
    pub span: Span,
}

/// The values of template variables for one file; the planner implements it.
pub trait Vars {
    /// The value of `var`, or `None` when this file has none (a library without SONAME).
    fn value(&self, var: Var) -> Option<Cow<'_, str>>;
}

impl Vars for HashMap<Var, String> {
    fn value(&self, var: Var) -> Option<Cow<'_, str>> {
        self.get(&var).map(|v| Cow::Borrowed(v.as_str()))
    }
}

impl Vars for BTreeMap<Var, String> {
    fn value(&self, var: Var) -> Option<Cow<'_, str>> {
        self.get(&var).map(|v| Cow::Borrowed(v.as_str()))
    }
}

/// Why a template could not be rendered for one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RenderError {
    /// The file has no value for the variable.
    Missing { var: Var, span: Span },
    /// The value would make a path that escapes or breaks the dist.
    Invalid {
        var: Var,
        value: String,
        reason: &'static str,
        span: Span,
    },
    /// The rendered path has a segment longer than [`NAME_MAX`] bytes.
    SegmentTooLong { segment: String, span: Span },
    /// The rendered path lies in the dist's [`RESERVED`] folder.
    Reserved { path: String, span: Span },
}

impl fmt::Display for RenderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RenderError::Missing { var, .. } => write!(f, "this file has no `{{{var}}}`"),
            RenderError::Invalid {
                var, value, reason, ..
            } => write!(f, "`{{{var}}}` is `{value}`, which {reason}"),
            RenderError::SegmentTooLong { segment, .. } => write!(
                f,
                "the path segment `{}` would be {} bytes long; a file name is at most {NAME_MAX} bytes",
                brief(segment),
                segment.len()
            ),
            RenderError::Reserved { path, .. } => write!(
                f,
                "the path `{path}` lies in `{RESERVED}/`, which holds shenzi's record of the dist"
            ),
        }
    }
}

impl std::error::Error for RenderError {}

impl Template {
    /// Renders the template for one file. The result is a relative path with no empty,
    /// `.` or `..` segment: a variable's value cannot make it escape the dist.
    pub fn render(&self, vars: &impl Vars) -> Result<String, RenderError> {
        let mut out = String::with_capacity(self.text.len() + 32);
        for part in &self.parts {
            match part {
                Part::Literal(text) => out.push_str(text),
                Part::Var(r) => {
                    let value = vars.value(r.var).ok_or(RenderError::Missing {
                        var: r.var,
                        span: r.span,
                    })?;
                    let value: &str = &value;
                    let value = match r.width {
                        Some(width) => match value.char_indices().nth(width) {
                            Some((cut, _)) => &value[..cut],
                            None => value,
                        },
                        None => value,
                    };
                    let invalid = |reason| RenderError::Invalid {
                        var: r.var,
                        value: value.to_owned(),
                        reason,
                        span: r.span,
                    };
                    if value.is_empty() {
                        return Err(invalid("is empty"));
                    }
                    if value.contains('\0') {
                        return Err(invalid("holds a NUL byte"));
                    }
                    if value.contains('/') {
                        if !r.var.may_hold_slash() {
                            return Err(invalid("holds `/`"));
                        }
                        if value.starts_with('/') {
                            return Err(invalid("is absolute"));
                        }
                    }
                    if value
                        .split('/')
                        .any(|seg| seg.is_empty() || seg == "." || seg == "..")
                    {
                        return Err(invalid("has an empty, `.` or `..` segment"));
                    }
                    out.push_str(value);
                }
            }
        }
        if let Some(segment) = out.split('/').find(|s| s.len() > NAME_MAX) {
            return Err(RenderError::SegmentTooLong {
                segment: segment.to_owned(),
                span: self.span,
            });
        }
        if out.split('/').next() == Some(RESERVED) {
            return Err(RenderError::Reserved {
                path: out,
                span: self.span,
            });
        }
        Ok(out)
    }

    /// The variables it uses, in order.
    pub fn vars(&self) -> impl Iterator<Item = &VarRef> {
        self.parts.iter().filter_map(|p| match p {
            Part::Var(r) => Some(r),
            Part::Literal(_) => None,
        })
    }

    pub fn uses(&self, var: Var) -> bool {
        self.vars().any(|r| r.var == var)
    }

    /// Whether it has no variables: every file renders to the same path.
    pub fn is_fixed(&self) -> bool {
        self.vars().next().is_none()
    }

    /// The folder every rendering lies in: the literal text before the first variable,
    /// up to its last `/` (empty for the dist's root).
    pub fn fixed_folder(&self) -> &str {
        let head = match self.parts.first() {
            Some(Part::Literal(text)) => text.as_str(),
            _ => "",
        };
        if self.is_fixed() {
            return head;
        }
        match head.rfind('/') {
            Some(cut) => &head[..cut],
            None => "",
        }
    }

    /// How many folders deep below its base a rendering's parent folder lies, when no
    /// variable may hold `/` (farm templates).
    pub fn folder_depth(&self) -> usize {
        self.parts
            .iter()
            .map(|p| match p {
                Part::Literal(text) => text.matches('/').count(),
                Part::Var(_) => 0,
            })
            .sum()
    }
}

/// Parses and checks the template in `string`, used where `context` says. `None` when
/// it has errors, which are pushed to `diagnostics`.
pub fn parse_template(
    string: &Str,
    context: Context<'_>,
    diagnostics: &mut Vec<Diagnostic>,
) -> Option<Template> {
    let before = diagnostics.len();
    let raw = &string.raw;
    let base = string.body_start();
    let mut parts: Vec<Part> = Vec::new();
    let mut literal = String::new();
    let mut iter = raw.char_indices().peekable();
    while let Some((i, c)) = iter.next() {
        match c {
            '\\' => {
                if let Some((_, next)) = iter.next() {
                    literal.push(next);
                }
            }
            '{' if iter.peek().map(|(_, c)| *c) == Some('{') => {
                iter.next();
                literal.push('{');
            }
            '}' if iter.peek().map(|(_, c)| *c) == Some('}') => {
                iter.next();
                literal.push('}');
            }
            '}' => diagnostics.push(Diagnostic::new(
                Span::new(base + i, base + i + 1),
                ErrorKind::UnmatchedBrace,
            )),
            '{' => {
                let Some(close) = raw[i + 1..].find(['}', '{']).map(|n| i + 1 + n) else {
                    diagnostics.push(Diagnostic::new(
                        Span::new(base + i, base + raw.len()),
                        ErrorKind::UnclosedVariable,
                    ));
                    break;
                };
                if raw.as_bytes()[close] == b'{' {
                    diagnostics.push(Diagnostic::new(
                        Span::new(base + i, base + close),
                        ErrorKind::UnclosedVariable,
                    ));
                    while iter.peek().is_some_and(|(j, _)| *j < close) {
                        iter.next();
                    }
                    continue;
                }
                while iter.peek().is_some_and(|(j, _)| *j <= close) {
                    iter.next();
                }
                let span = Span::new(base + i, base + close + 1);
                if let Some(r) =
                    variable(&raw[i + 1..close], base + i + 1, span, context, diagnostics)
                {
                    if !literal.is_empty() {
                        parts.push(Part::Literal(std::mem::take(&mut literal)));
                    }
                    parts.push(Part::Var(r));
                }
            }
            _ => literal.push(c),
        }
    }
    if !literal.is_empty() {
        parts.push(Part::Literal(literal));
    }
    control_characters(string, diagnostics);
    check_path(raw, base, context, diagnostics);
    (diagnostics.len() == before).then(|| Template {
        text: string.value(),
        span: string.span,
        parts,
    })
}

/// Checks `{name}` or `{name:width}`; `inner` starts at `at`.
fn variable(
    inner: &str,
    at: usize,
    span: Span,
    context: Context<'_>,
    diagnostics: &mut Vec<Diagnostic>,
) -> Option<VarRef> {
    let (name, width) = match inner.split_once(':') {
        Some((name, width)) => (name, Some(width)),
        None => (inner, None),
    };
    if name.is_empty() {
        diagnostics.push(Diagnostic::new(span, ErrorKind::EmptyVariable));
        return None;
    }
    let name_span = Span::new(at, at + name.len());
    let allowed = context.allowed();
    let Some(var) = Var::from_name(name) else {
        diagnostics.push(Diagnostic::new(
            name_span,
            ErrorKind::UnknownVariable {
                name: name.to_owned(),
                suggestion: nearest(name, allowed.iter().map(|v| v.name())),
                allowed: list(&allowed),
            },
        ));
        return None;
    };
    if !context.allows(var) {
        diagnostics.push(Diagnostic::new(
            name_span,
            ErrorKind::VariableNotAvailable {
                var,
                context: describe_context(context),
                offered_by: offered_by(var),
                allowed: list(&allowed),
            },
        ));
        return None;
    }
    let width = match width {
        None => None,
        Some(text) => match text.parse::<usize>() {
            Ok(n) if (1..=64).contains(&n) => Some(n),
            _ => {
                let start = at + name.len() + 1;
                diagnostics.push(Diagnostic::new(
                    Span::new(
                        start.min(span.end - 1),
                        (start + text.len()).max(start.min(span.end - 1) + 1),
                    ),
                    ErrorKind::BadWidth {
                        text: text.to_owned(),
                    },
                ));
                return None;
            }
        },
    };
    Some(VarRef { var, width, span })
}

/// Pushes a diagnostic for the first control character in `string`, if any: a NUL
/// cannot be in a path at all, and the others only hide what a name really is.
pub(crate) fn control_characters(string: &Str, diagnostics: &mut Vec<Diagnostic>) {
    if let Some((i, c)) = string.raw.char_indices().find(|(_, c)| c.is_control()) {
        let at = string.body_start() + i;
        diagnostics.push(Diagnostic::new(
            Span::new(at, at + c.len_utf8()),
            ErrorKind::ControlCharacter { found: c },
        ));
    }
}

/// Static path checks on the text as written: absolute, `..`, empty segments, segments
/// too long for a file name, and (for paths from the dist's root) the reserved folder.
fn check_path(raw: &str, base: usize, context: Context<'_>, diagnostics: &mut Vec<Diagnostic>) {
    if raw.starts_with('/') {
        diagnostics.push(Diagnostic::new(
            Span::new(base, base + 1),
            ErrorKind::AbsoluteDestination,
        ));
        return;
    }
    if raw.is_empty() {
        diagnostics.push(Diagnostic::new(
            Span::new(base - 1, base + 1),
            ErrorKind::EmptySegment,
        ));
        return;
    }
    let from_root = !matches!(context, Context::Farm);
    let mut start = 0;
    for (index, segment) in raw.split('/').enumerate() {
        let span = Span::new(base + start, base + start + segment.len());
        match segment {
            ".." => diagnostics.push(Diagnostic::new(span, ErrorKind::ParentSegment)),
            "" | "." => {
                let span = if segment.is_empty() {
                    // Point at the `/` that ends (or starts) the empty segment.
                    let at = (base + start).saturating_sub(1).max(base);
                    Span::new(at, at + 1)
                } else {
                    span
                };
                diagnostics.push(Diagnostic::new(span, ErrorKind::EmptySegment));
            }
            _ => {
                let len = literal_len(segment);
                if len > NAME_MAX {
                    diagnostics.push(Diagnostic::new(span, ErrorKind::SegmentTooLong { len }));
                } else if index == 0 && from_root && unescape(segment) == RESERVED {
                    diagnostics.push(Diagnostic::new(span, ErrorKind::ReservedPath));
                }
            }
        }
        start += segment.len() + 1;
    }
}

/// How many bytes a segment of a template, as written, holds besides its variables:
/// `{{` and `}}` are one byte, `\\x` is `x`, `{...}` nothing.
fn literal_len(segment: &str) -> usize {
    let mut len = 0;
    let mut chars = segment.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => len += chars.next().map_or(0, char::len_utf8),
            '{' if chars.peek() == Some(&'{') => {
                chars.next();
                len += 1;
            }
            '}' if chars.peek() == Some(&'}') => {
                chars.next();
                len += 1;
            }
            '{' => {
                for c in chars.by_ref() {
                    if c == '}' {
                        break;
                    }
                }
            }
            c => len += c.len_utf8(),
        }
    }
    len
}

/// A segment's text with escapes resolved; empty when it holds a variable.
fn unescape(segment: &str) -> String {
    if segment.contains('{') {
        return String::new();
    }
    Str {
        raw: segment.to_owned(),
        span: Span::default(),
    }
    .value()
}

/// A long value shortened for a message: its start and end around `…`.
fn brief(text: &str) -> String {
    const KEEP: usize = 40;
    if text.chars().count() <= 2 * KEEP {
        return text.to_owned();
    }
    let head: String = text.chars().take(KEEP).collect();
    let tail: String = text
        .chars()
        .rev()
        .take(KEEP / 2)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    format!("{head}…{tail}")
}

fn list(vars: &[Var]) -> String {
    if vars.is_empty() {
        return "no variables".into();
    }
    vars.iter()
        .map(|v| format!("`{{{v}}}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn describe_context(context: Context<'_>) -> String {
    match context {
        Context::Unit(kinds) => {
            let names: Vec<String> = kinds.iter().map(|k| format!("`{k}`")).collect();
            format!("the destination of a unit taking {}", names.join(" and "))
        }
        Context::Farm => "a farm's folders".into(),
        Context::Launcher => "the launcher's path".into(),
        Context::Root => "a farm's root".into(),
        Context::Onefile => "the onefile's name".into(),
        Context::Archive => "a unit's archive".into(),
    }
}

fn offered_by(var: Var) -> String {
    let mut places: Vec<String> = KINDS
        .iter()
        .filter(|k| k.vars.contains(&var))
        .map(|k| format!("`{}`", k.name))
        .collect();
    if FARM.contains(&var) {
        places.push("farm folders".into());
    }
    if COMMON.contains(&var) {
        return "every template".into();
    }
    places.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layout::vars::Kind;

    fn template(text: &str, context: Context<'_>) -> (Option<Template>, Vec<Diagnostic>) {
        let raw = text.to_owned();
        let s = Str {
            span: Span::new(0, raw.len() + 2),
            raw,
        };
        let mut diagnostics = Vec::new();
        (parse_template(&s, context, &mut diagnostics), diagnostics)
    }

    #[test]
    fn renders_with_width_and_literal_braces() {
        let (t, d) = template("reals/{hash:4}/{{x}}-{file}", Context::Farm);
        assert!(d.is_empty(), "{d:?}");
        let t = t.unwrap();
        let vars: HashMap<Var, String> =
            [(Var::Hash, "abcdef".into()), (Var::File, "libz.so".into())].into();
        assert_eq!(t.render(&vars).unwrap(), "reals/abcd/{x}-libz.so");
        assert_eq!(t.folder_depth(), 2);
        assert_eq!(t.fixed_folder(), "reals");
    }

    #[test]
    fn rendering_refuses_escaping_values() {
        let kinds = [Kind::Stdlib];
        let (t, d) = template("lib/{path}", Context::Unit(&kinds));
        assert!(d.is_empty(), "{d:?}");
        let t = t.unwrap();
        for bad in ["../etc/passwd", "/abs", "a//b", ""] {
            let vars: HashMap<Var, String> = [(Var::Path, bad.to_owned())].into();
            assert!(t.render(&vars).is_err(), "{bad}");
        }
        let vars: HashMap<Var, String> = HashMap::new();
        assert!(matches!(t.render(&vars), Err(RenderError::Missing { .. })));
    }

    #[test]
    fn rendering_refuses_long_segments_and_the_reserved_folder() {
        let kinds = [Kind::Stdlib];
        let (t, d) = template("{path}.bak", Context::Unit(&kinds));
        assert!(d.is_empty(), "{d:?}");
        let t = t.unwrap();
        let path = |p: &str| -> HashMap<Var, String> { [(Var::Path, p.to_owned())].into() };
        assert!(t.render(&path(&"a".repeat(251))).is_ok());
        assert!(matches!(
            t.render(&path(&"a".repeat(252))),
            Err(RenderError::SegmentTooLong { .. })
        ));
        assert!(matches!(
            t.render(&path(".shenzi/dist.json")),
            Err(RenderError::Reserved { .. })
        ));
        assert_eq!(t.render(&path("x/.shenzi/y")).unwrap(), "x/.shenzi/y.bak");
    }

    #[test]
    fn static_errors_are_found() {
        let kinds = [Kind::Stdlib];
        for (text, code) in [
            ("/x/{path}", "absolute_destination"),
            ("a/../{path}", "parent_segment"),
            ("a//{path}", "empty_segment"),
            ("a/{pth}", "unknown_variable"),
            ("a/{soname}", "variable_not_available"),
            ("a/{path", "unclosed_variable"),
            ("a/}{path}", "unmatched_brace"),
            ("a/{}", "empty_variable"),
            ("a/{path:x}", "bad_width"),
            ("a/\u{1b}/{path}", "control_character"),
            (".shenzi/{path}", "reserved_path"),
        ] {
            let (t, d) = template(text, Context::Unit(&kinds));
            assert!(t.is_none(), "{text}");
            assert_eq!(d[0].code(), format!("shenzi::layout::{code}"), "{text}");
        }
        // A segment's literal bytes: escapes and doubled braces count once, variables
        // not at all.
        let long = format!("a/{}{{path}}", "{{".repeat(255));
        let (_, d) = template(&long, Context::Unit(&kinds));
        assert!(d.is_empty(), "{d:?}");
        let long = format!("a/{}x{{path}}", "{{".repeat(255));
        let (_, d) = template(&long, Context::Unit(&kinds));
        assert_eq!(d[0].code(), "shenzi::layout::segment_too_long");
        // Farm folders lie below the farm's root: `.shenzi` there is not the dist's.
        let (t, d) = template(".shenzi/{name}", Context::Farm);
        assert!(t.is_some() && d.is_empty(), "{d:?}");
    }
}
