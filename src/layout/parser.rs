//! The second phase: pest parses one item at a time and the pairs become the typed
//! syntax tree. pest's types stay inside this module; its rule names reach the user
//! only through [`describe`].

use pest::Parser as _;
use pest::error::{ErrorVariant, InputLocation};
use pest::iterators::Pair;

use super::diagnostics::{Diagnostic, ErrorKind};
use super::lexer::{Lexed, lex};
use super::span::{Span, Spanned};
use super::suggest::nearest;
use super::syntax::*;

#[derive(pest_derive::Parser)]
#[grammar = "grammar/shenzi.pest"]
struct ShzParser;

/// At most this many diagnostics per run; past it, one note says that more may follow.
pub const DIAGNOSTIC_LIMIT: usize = 100;

/// Parses a layout. The tree holds every item that parsed; the diagnostics say what
/// did not. Never panics on any input.
pub fn parse(text: &str) -> (Ast, Vec<Diagnostic>) {
    let lexed = lex(text, DIAGNOSTIC_LIMIT);
    let mut ast = Ast {
        items: Vec::new(),
        comments: lexed.comments.clone(),
    };
    if !lexed.diagnostics.is_empty() {
        // Strings or braces are broken: items cannot be told apart reliably, and pest
        // would report the same places again.
        let mut diagnostics = lexed.diagnostics;
        if diagnostics.len() >= DIAGNOSTIC_LIMIT {
            diagnostics.push(Diagnostic::new(
                diagnostics[DIAGNOSTIC_LIMIT - 1].span,
                ErrorKind::TooManyDiagnostics {
                    shown: DIAGNOSTIC_LIMIT,
                },
            ));
        }
        return (ast, diagnostics);
    }
    let mut diagnostics = Vec::new();
    let mut pos = skip_trivia(text, 0);
    while pos < text.len() {
        if diagnostics.len() >= DIAGNOSTIC_LIMIT {
            diagnostics.push(Diagnostic::new(
                Span::new(pos, pos),
                ErrorKind::TooManyDiagnostics {
                    shown: DIAGNOSTIC_LIMIT,
                },
            ));
            break;
        }
        // An item ends before the next line that starts another item outside a block;
        // giving pest no more than that keeps its work (and its error positions) local.
        let bound = resume_after(text, &lexed, pos);
        let rest = &text[pos..bound];
        match ShzParser::parse(Rule::item, rest) {
            Ok(mut pairs) => {
                // `item` matched, so there is exactly one pair.
                let pair = pairs.next().expect("a parsed item yields its pair");
                let end = tight_span(&pair, pos).end;
                ast.items.push(item(pair, pos));
                pos = skip_trivia(text, end.max(pos + 1));
            }
            Err(err) => {
                let diagnostic = syntax_error(&err, text, pos);
                let resume = resume_after(text, &lexed, diagnostic.span.start.max(pos));
                diagnostics.push(diagnostic);
                pos = skip_trivia(text, resume);
            }
        }
    }
    (ast, diagnostics)
}

/// Skips blanks and comments.
fn skip_trivia(text: &str, mut pos: usize) -> usize {
    let bytes = text.as_bytes();
    while pos < bytes.len() {
        match bytes[pos] {
            b' ' | b'\t' | b'\r' | b'\n' => pos += 1,
            b'#' => {
                pos = bytes[pos..]
                    .iter()
                    .position(|b| *b == b'\n')
                    .map_or(bytes.len(), |n| pos + n)
            }
            _ => break,
        }
    }
    pos.min(bytes.len())
}

/// The next line after `from` that starts with an item keyword outside any block.
fn resume_after(text: &str, lexed: &Lexed, from: usize) -> usize {
    let mut next_line = text[from..].find('\n').map(|n| from + n + 1);
    while let Some(line) = next_line {
        let rest = &text[line..];
        let first = line + (rest.len() - rest.trim_start_matches([' ', '\t', '\r']).len());
        if !lexed.in_block(first) && starts_item(&text[first..]) {
            return first;
        }
        next_line = text[line..].find('\n').map(|n| line + n + 1);
    }
    text.len()
}

fn starts_item(text: &str) -> bool {
    let word = leading_word(text);
    ITEM_KEYWORDS.contains(&word)
}

fn leading_word(text: &str) -> &str {
    let end = text
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '.'))
        .unwrap_or(text.len());
    &text[..end]
}

/// What a user calls each rule in "expected ..." lists.
fn describe(rule: Rule) -> &'static str {
    match rule {
        // Silent rules never appear in errors; named for completeness.
        Rule::WHITESPACE => "a blank",
        Rule::COMMENT => "a comment",
        Rule::name_char => "a letter, digit, `_` or `-`",
        Rule::system_stmt => "a `system` statement",
        Rule::farm_stmt => "a `farm` statement",
        Rule::unit_stmt => "a `unit` statement",
        Rule::launcher_stmt => "a `launcher` statement",
        Rule::word_list => "a word",
        Rule::name_list => "a name",
        Rule::kind_list => "a kind such as `python.stdlib`",
        Rule::string_list => "a quoted string",
        Rule::item => "an item (`unit`, `farm`, `system`, `launcher`, ...)",
        Rule::layout_item => "`layout`",
        Rule::system_item => "`system`",
        Rule::preset_stmt => "`preset`",
        Rule::add_stmt => "`add`",
        Rule::remove_stmt => "`remove`",
        Rule::cxx_stmt => "`cxx-runtime`",
        Rule::farm_item => "`farm`",
        Rule::root_stmt => "`root`",
        Rule::reals_stmt => "`reals`",
        Rule::links_stmt => "`links`",
        Rule::level_stmt => "`level`",
        Rule::unit_item => "`unit`",
        Rule::take_stmt => "`take`",
        Rule::to_stmt => "`to`",
        Rule::only_stmt => "`only`",
        Rule::exclude_stmt => "`exclude`",
        Rule::select_stmt => "`select`",
        Rule::action_stmt => "`action`",
        Rule::site_stmt => "`site`",
        Rule::kw_site => "`site`",
        Rule::member_stmt => "`farm`",
        Rule::serve_stmt => "`serve`",
        Rule::symlinks_stmt => "`symlinks`",
        Rule::pack_stmt => "`pack`",
        Rule::unpacked_stmt => "`unpacked`",
        Rule::launcher_item => "`launcher`",
        Rule::at_stmt => "`at`",
        Rule::form_stmt => "`form`",
        Rule::python_stmt => "`python`",
        Rule::path_stmt => "`path`",
        Rule::entry_stmt => "`entry`",
        Rule::programs_stmt => "`programs`",
        Rule::env_stmt => "`env`",
        Rule::flags_stmt => "`flags`",
        Rule::output_item => "`output`",
        Rule::conflicts_item => "`conflicts`",
        Rule::unclaimed_item => "`unclaimed`",
        Rule::strip_item => "`strip`",
        Rule::ignore_item => "`ignore`",
        Rule::name => "a name",
        Rule::word => "a word",
        Rule::kind => "a kind such as `python.stdlib`",
        Rule::string => "a quoted string",
        Rule::string_body => "the string's text",
        Rule::number => "a number",
        Rule::open => "`{`",
        Rule::close => "`}`",
        Rule::comma => "`,`",
        Rule::kw_layout => "`layout`",
        Rule::kw_system => "`system`",
        Rule::kw_preset => "`preset`",
        Rule::kw_add => "`add`",
        Rule::kw_remove => "`remove`",
        Rule::kw_cxx_runtime => "`cxx-runtime`",
        Rule::kw_farm => "`farm`",
        Rule::kw_root => "`root`",
        Rule::kw_reals => "`reals`",
        Rule::kw_links => "`links`",
        Rule::kw_level => "`level`",
        Rule::kw_unit => "`unit`",
        Rule::kw_take => "`take`",
        Rule::kw_to => "`to`",
        Rule::kw_only => "`only`",
        Rule::kw_exclude => "`exclude`",
        Rule::kw_select => "`select`",
        Rule::kw_action => "`action`",
        Rule::kw_serve => "`serve`",
        Rule::kw_symlinks => "`symlinks`",
        Rule::kw_pack => "`pack`",
        Rule::kw_unpacked => "`unpacked`",
        Rule::kw_launcher => "`launcher`",
        Rule::kw_at => "`at`",
        Rule::kw_form => "`form`",
        Rule::kw_python => "`python`",
        Rule::kw_path => "`path`",
        Rule::kw_entry => "`entry`",
        Rule::kw_programs => "`programs`",
        Rule::kw_env => "`env`",
        Rule::kw_flags => "`flags`",
        Rule::kw_output => "`output`",
        Rule::kw_conflicts => "`conflicts`",
        Rule::kw_unclaimed => "`unclaimed`",
        Rule::kw_strip => "`strip`",
        Rule::kw_ignore => "`ignore`",
    }
}

fn syntax_error(err: &pest::error::Error<Rule>, text: &str, base: usize) -> Diagnostic {
    let at = base
        + match err.location {
            InputLocation::Pos(p) => p,
            InputLocation::Span((s, _)) => s,
        };
    let at = at.min(text.len());
    let mut expected: Vec<&'static str> = Vec::new();
    if let ErrorVariant::ParsingError { positives, .. } = &err.variant {
        for rule in positives {
            let word = describe(*rule);
            if !expected.contains(&word) {
                expected.push(word);
            }
        }
    }
    // Keywords first, then values, then punctuation.
    expected.sort_by_key(|e| {
        let mut chars = e.chars();
        match (chars.next(), chars.next()) {
            (Some('`'), Some(c)) if c.is_ascii_alphabetic() => 0,
            (Some('`'), _) => 2,
            _ => 1,
        }
    });
    let (found, span) = token_at(text, at);
    let keywords: Vec<&'static str> = expected
        .iter()
        .filter_map(|e| e.strip_prefix('`').and_then(|e| e.strip_suffix('`')))
        .filter(|e| e.chars().all(|c| c.is_ascii_alphabetic() || c == '-'))
        .collect();
    let suggestion = if found.starts_with('`') {
        nearest(&found[1..found.len() - 1], keywords)
    } else {
        None
    };
    Diagnostic::new(
        span,
        ErrorKind::Syntax {
            expected,
            found,
            suggestion,
        },
    )
}

/// The token at `at`, described, and its span.
fn token_at(text: &str, at: usize) -> (String, Span) {
    let rest = &text[at..];
    let Some(c) = rest.chars().next() else {
        return ("the end of the file".into(), Span::new(at, at));
    };
    if c.is_ascii_alphabetic() || c == '_' {
        let word = leading_word(rest);
        return (format!("`{word}`"), Span::new(at, at + word.len()));
    }
    if c.is_ascii_digit() {
        let len = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        return ("a number".into(), Span::new(at, at + len));
    }
    if c == '"' {
        let len = rest[1..].find('"').map_or(1, |n| n + 2);
        return ("a string".into(), Span::new(at, at + len));
    }
    let shown = if c.is_control() || c.is_whitespace() {
        format!("{c:?}")
    } else {
        format!("`{c}`")
    };
    (shown, Span::new(at, at + c.len_utf8()))
}

// -----------------------------------------------------------------------------------
// Pairs to tree. The grammar fixes the shape of every pair, so a missing child is a
// bug in this module, not in the user's input.

const SHAPE: &str = "the grammar fixes this pair's children";

fn span(pair: &Pair<'_, Rule>, base: usize) -> Span {
    let s = pair.as_span();
    Span::new(base + s.start(), base + s.end())
}

/// A rule's span without the blanks a failed repetition at its end skipped: from its
/// start to the end of its last token.
fn tight_span(pair: &Pair<'_, Rule>, base: usize) -> Span {
    let whole = span(pair, base);
    if pair.as_rule() == Rule::string {
        return whole;
    }
    match pair.clone().into_inner().last() {
        Some(last) => Span::new(whole.start, tight_span(&last, base).end),
        None => whole,
    }
}

fn word(pair: Pair<'_, Rule>, base: usize) -> Word {
    Spanned::new(pair.as_str().to_owned(), span(&pair, base))
}

fn string(pair: Pair<'_, Rule>, base: usize) -> Str {
    let whole = span(&pair, base);
    let raw = pair.into_inner().next().map_or("", |b| b.as_str());
    Str {
        raw: raw.to_owned(),
        span: whole,
    }
}

/// The values after a statement's keyword, skipping punctuation.
fn values<'i>(pair: Pair<'i, Rule>) -> impl Iterator<Item = Pair<'i, Rule>> {
    pair.into_inner().filter(|p| {
        !matches!(p.as_rule(), Rule::comma | Rule::open | Rule::close) && !is_keyword(p.as_rule())
    })
}

fn is_keyword(rule: Rule) -> bool {
    matches!(
        rule,
        Rule::kw_layout
            | Rule::kw_system
            | Rule::kw_preset
            | Rule::kw_add
            | Rule::kw_remove
            | Rule::kw_cxx_runtime
            | Rule::kw_farm
            | Rule::kw_root
            | Rule::kw_reals
            | Rule::kw_links
            | Rule::kw_level
            | Rule::kw_unit
            | Rule::kw_take
            | Rule::kw_to
            | Rule::kw_only
            | Rule::kw_exclude
            | Rule::kw_select
            | Rule::kw_action
            | Rule::kw_site
            | Rule::kw_serve
            | Rule::kw_symlinks
            | Rule::kw_pack
            | Rule::kw_unpacked
            | Rule::kw_launcher
            | Rule::kw_at
            | Rule::kw_form
            | Rule::kw_python
            | Rule::kw_path
            | Rule::kw_entry
            | Rule::kw_programs
            | Rule::kw_env
            | Rule::kw_flags
            | Rule::kw_output
            | Rule::kw_conflicts
            | Rule::kw_unclaimed
            | Rule::kw_strip
            | Rule::kw_ignore
    )
}

fn keyword_span(pair: &Pair<'_, Rule>, base: usize) -> Span {
    let first = pair.clone().into_inner().next().expect(SHAPE);
    span(&first, base)
}

fn words(pair: Pair<'_, Rule>, base: usize) -> Vec<Word> {
    values(pair).map(|p| word(p, base)).collect()
}

fn strings(pair: Pair<'_, Rule>, base: usize) -> Vec<Str> {
    values(pair).map(|p| string(p, base)).collect()
}

fn one_word(pair: Pair<'_, Rule>, base: usize) -> Word {
    word(values(pair).next().expect(SHAPE), base)
}

fn one_string(pair: Pair<'_, Rule>, base: usize) -> Str {
    string(values(pair).next().expect(SHAPE), base)
}

fn item(pair: Pair<'_, Rule>, base: usize) -> Item {
    let inner = pair.into_inner().next().expect(SHAPE);
    let whole = tight_span(&inner, base);
    let keyword = keyword_span(&inner, base);
    let node = match inner.as_rule() {
        Rule::layout_item => ItemNode::Layout(one_word(inner, base)),
        Rule::system_item => ItemNode::System(block(inner, base, system_stmt).1),
        Rule::farm_item => {
            let (name, block) = block(inner, base, farm_stmt);
            ItemNode::Farm(name.expect(SHAPE), block)
        }
        Rule::unit_item => {
            let (name, block) = block(inner, base, unit_stmt);
            ItemNode::Unit(name.expect(SHAPE), block)
        }
        Rule::launcher_item => ItemNode::Launcher(block(inner, base, launcher_stmt).1),
        Rule::output_item => {
            let mut parts = values(inner);
            let what = word(parts.next().expect(SHAPE), base);
            let name = parts.next().map(|p| string(p, base));
            ItemNode::Output(what, name)
        }
        Rule::conflicts_item => ItemNode::Conflicts(one_word(inner, base)),
        Rule::unclaimed_item => ItemNode::Unclaimed(one_word(inner, base)),
        Rule::strip_item => ItemNode::Strip(one_word(inner, base)),
        Rule::ignore_item => ItemNode::Ignore(strings(inner, base)),
        other => unreachable!("`item` has no alternative {other:?}"),
    };
    Item {
        span: whole,
        keyword,
        node,
    }
}

/// A block item: its optional name and its statements.
fn block<S>(
    pair: Pair<'_, Rule>,
    base: usize,
    stmt: fn(Pair<'_, Rule>, usize) -> S,
) -> (Option<Word>, Block<S>) {
    let mut name = None;
    let mut open = Span::default();
    let mut close = Span::default();
    let mut stmts = Vec::new();
    for child in pair.into_inner() {
        match child.as_rule() {
            Rule::name => name = Some(word(child, base)),
            Rule::open => open = span(&child, base),
            Rule::close => close = span(&child, base),
            r if is_keyword(r) => {}
            _ => {
                let whole = tight_span(&child, base);
                let keyword = keyword_span(&child, base);
                stmts.push(Stmt {
                    span: whole,
                    keyword,
                    node: stmt(child, base),
                });
            }
        }
    }
    (name, Block { open, close, stmts })
}

fn system_stmt(pair: Pair<'_, Rule>, base: usize) -> SystemStmt {
    match pair.as_rule() {
        Rule::preset_stmt => SystemStmt::Preset(words(pair, base)),
        Rule::add_stmt => SystemStmt::Add(strings(pair, base)),
        Rule::remove_stmt => SystemStmt::Remove(strings(pair, base)),
        Rule::cxx_stmt => SystemStmt::CxxRuntime(one_word(pair, base)),
        other => unreachable!("`system_stmt` has no alternative {other:?}"),
    }
}

fn farm_stmt(pair: Pair<'_, Rule>, base: usize) -> FarmStmt {
    match pair.as_rule() {
        Rule::root_stmt => FarmStmt::Root(one_string(pair, base)),
        Rule::reals_stmt => FarmStmt::Reals(one_string(pair, base)),
        Rule::links_stmt => FarmStmt::Links(one_string(pair, base)),
        Rule::level_stmt => FarmStmt::Level(one_word(pair, base)),
        other => unreachable!("`farm_stmt` has no alternative {other:?}"),
    }
}

fn unit_stmt(pair: Pair<'_, Rule>, base: usize) -> UnitStmt {
    match pair.as_rule() {
        Rule::take_stmt => UnitStmt::Take(words(pair, base)),
        Rule::to_stmt => UnitStmt::To(one_string(pair, base)),
        Rule::only_stmt => UnitStmt::Only(strings(pair, base)),
        Rule::exclude_stmt => UnitStmt::Exclude(strings(pair, base)),
        Rule::select_stmt => UnitStmt::Select(one_word(pair, base)),
        Rule::site_stmt => UnitStmt::Site(words(pair, base)),
        Rule::action_stmt => UnitStmt::Action(one_word(pair, base)),
        Rule::member_stmt => UnitStmt::Farm(one_word(pair, base)),
        Rule::serve_stmt => UnitStmt::Serve(one_word(pair, base)),
        Rule::symlinks_stmt => UnitStmt::Symlinks(one_word(pair, base)),
        Rule::pack_stmt => {
            let mut parts = values(pair);
            let format = word(parts.next().expect(SHAPE), base);
            let path = string(parts.next().expect(SHAPE), base);
            UnitStmt::Pack(format, path)
        }
        Rule::unpacked_stmt => UnitStmt::Unpacked(strings(pair, base)),
        other => unreachable!("`unit_stmt` has no alternative {other:?}"),
    }
}

fn launcher_stmt(pair: Pair<'_, Rule>, base: usize) -> LauncherStmt {
    match pair.as_rule() {
        Rule::at_stmt => LauncherStmt::At(one_string(pair, base)),
        Rule::form_stmt => LauncherStmt::Form(one_word(pair, base)),
        Rule::python_stmt => LauncherStmt::Python(one_word(pair, base)),
        Rule::path_stmt => LauncherStmt::Path(words(pair, base)),
        Rule::programs_stmt => LauncherStmt::Programs(words(pair, base)),
        Rule::env_stmt => {
            let mut parts = values(pair);
            let name = word(parts.next().expect(SHAPE), base);
            let value = parts.next().map(|p| string(p, base));
            LauncherStmt::Env(name, value)
        }
        Rule::entry_stmt => {
            let mut parts = values(pair);
            let what = word(parts.next().expect(SHAPE), base);
            let arg = parts.next().map(|p| string(p, base));
            LauncherStmt::Entry(what, arg)
        }
        Rule::flags_stmt => LauncherStmt::Flags(words(pair, base)),
        other => unreachable!("`launcher_stmt` has no alternative {other:?}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_unit_with_spans() {
        let text = "unit a { take python.stdlib to \"x/{path}\" }";
        let (ast, diagnostics) = parse(text);
        assert!(diagnostics.is_empty(), "{diagnostics:?}");
        let ItemNode::Unit(name, block) = &ast.items[0].node else {
            panic!("expected a unit, got {:?}", ast.items[0].node);
        };
        assert_eq!(&text[name.span.start..name.span.end], "a");
        assert_eq!(block.stmts.len(), 2);
        let UnitStmt::To(to) = &block.stmts[1].node else {
            panic!("expected `to`");
        };
        assert_eq!(&text[to.span.start..to.span.end], "\"x/{path}\"");
        assert_eq!(to.value(), "x/{path}");
    }

    #[test]
    fn recovers_and_reports_every_broken_item() {
        let text = "unit a { tak x }\nfarm { }\nunit b { take python.stdlib }\n";
        let (ast, diagnostics) = parse(text);
        assert_eq!(diagnostics.len(), 2, "{diagnostics:?}");
        assert_eq!(ast.items.len(), 1);
        let ErrorKind::Syntax { suggestion, .. } = &diagnostics[0].kind else {
            panic!("expected a syntax error");
        };
        assert_eq!(*suggestion, Some("take"));
    }
}
