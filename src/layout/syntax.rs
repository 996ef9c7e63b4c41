//! The typed syntax tree: what the layout says, before names are resolved. Every name,
//! value and block carries its byte span.

use super::lexer::Comment;
use super::span::{Span, Spanned};

/// A parsed layout: its items in order and its comments (kept for `shenzi fmt`).
#[derive(Debug, Clone, Default)]
pub struct Ast {
    pub items: Vec<Item>,
    pub comments: Vec<Comment>,
}

/// A word as written: a name, a kind, a value.
pub type Word = Spanned<String>;

/// A string literal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Str {
    /// The text between the quotes, escapes as written.
    pub raw: String,
    /// The span including the quotes.
    pub span: Span,
}

impl Str {
    /// The string's value, escapes resolved.
    pub fn value(&self) -> String {
        let mut out = String::with_capacity(self.raw.len());
        let mut chars = self.raw.chars();
        while let Some(c) = chars.next() {
            if c == '\\' {
                if let Some(next) = chars.next() {
                    out.push(next);
                }
            } else {
                out.push(c);
            }
        }
        out
    }

    /// Where the text between the quotes starts.
    pub fn body_start(&self) -> usize {
        self.span.start + 1
    }
}

/// A top-level item.
#[derive(Debug, Clone)]
pub struct Item {
    /// The whole item, keyword to closing brace or last value.
    pub span: Span,
    /// The item's keyword.
    pub keyword: Span,
    pub node: ItemNode,
}

#[derive(Debug, Clone)]
pub enum ItemNode {
    Layout(Word),
    System(Block<SystemStmt>),
    Farm(Word, Block<FarmStmt>),
    Unit(Word, Block<UnitStmt>),
    Launcher(Block<LauncherStmt>),
    /// `output WORD ["NAME"]`.
    Output(Word, Option<Str>),
    Conflicts(Word),
    Unclaimed(Word),
    /// `strip debug|none`.
    Strip(Word),
    Ignore(Vec<Str>),
}

/// A `{ ... }` block of statements.
#[derive(Debug, Clone)]
pub struct Block<S> {
    pub open: Span,
    pub close: Span,
    pub stmts: Vec<Stmt<S>>,
}

/// A statement inside a block.
#[derive(Debug, Clone)]
pub struct Stmt<S> {
    pub span: Span,
    pub keyword: Span,
    pub node: S,
}

#[derive(Debug, Clone)]
pub enum SystemStmt {
    Preset(Vec<Word>),
    Add(Vec<Str>),
    Remove(Vec<Str>),
    CxxRuntime(Word),
}

#[derive(Debug, Clone)]
pub enum FarmStmt {
    Root(Str),
    Reals(Str),
    Links(Str),
    /// The number as written.
    Level(Word),
}

#[derive(Debug, Clone)]
pub enum UnitStmt {
    Take(Vec<Word>),
    To(Str),
    Only(Vec<Str>),
    Exclude(Vec<Str>),
    Select(Word),
    Site(Vec<Word>),
    Action(Word),
    Farm(Word),
    Serve(Word),
    Symlinks(Word),
    /// `pack zip "archive"`: the format, the archive's path.
    Pack(Word, Str),
    Unpacked(Vec<Str>),
}

#[derive(Debug, Clone)]
pub enum LauncherStmt {
    At(Str),
    Form(Word),
    Python(Word),
    Path(Vec<Word>),
    Programs(Vec<Word>),
    Entry(Word, Option<Str>),
    Env(Word, Option<Str>),
    Flags(Vec<Word>),
}

/// The keyword a statement starts with, for messages and formatting.
pub trait Keyword {
    fn keyword(&self) -> &'static str;
}

impl Keyword for SystemStmt {
    fn keyword(&self) -> &'static str {
        match self {
            SystemStmt::Preset(_) => "preset",
            SystemStmt::Add(_) => "add",
            SystemStmt::Remove(_) => "remove",
            SystemStmt::CxxRuntime(_) => "cxx-runtime",
        }
    }
}

impl Keyword for FarmStmt {
    fn keyword(&self) -> &'static str {
        match self {
            FarmStmt::Root(_) => "root",
            FarmStmt::Reals(_) => "reals",
            FarmStmt::Links(_) => "links",
            FarmStmt::Level(_) => "level",
        }
    }
}

impl Keyword for UnitStmt {
    fn keyword(&self) -> &'static str {
        match self {
            UnitStmt::Take(_) => "take",
            UnitStmt::To(_) => "to",
            UnitStmt::Only(_) => "only",
            UnitStmt::Exclude(_) => "exclude",
            UnitStmt::Select(_) => "select",
            UnitStmt::Site(_) => "site",
            UnitStmt::Action(_) => "action",
            UnitStmt::Farm(_) => "farm",
            UnitStmt::Serve(_) => "serve",
            UnitStmt::Symlinks(_) => "symlinks",
            UnitStmt::Pack(..) => "pack",
            UnitStmt::Unpacked(_) => "unpacked",
        }
    }
}

impl Keyword for LauncherStmt {
    fn keyword(&self) -> &'static str {
        match self {
            LauncherStmt::At(_) => "at",
            LauncherStmt::Form(_) => "form",
            LauncherStmt::Python(_) => "python",
            LauncherStmt::Path(_) => "path",
            LauncherStmt::Programs(_) => "programs",
            LauncherStmt::Entry(..) => "entry",
            LauncherStmt::Env(..) => "env",
            LauncherStmt::Flags(_) => "flags",
        }
    }
}

impl ItemNode {
    pub fn keyword(&self) -> &'static str {
        match self {
            ItemNode::Layout(_) => "layout",
            ItemNode::System(_) => "system",
            ItemNode::Farm(..) => "farm",
            ItemNode::Unit(..) => "unit",
            ItemNode::Launcher(_) => "launcher",
            ItemNode::Output(..) => "output",
            ItemNode::Conflicts(_) => "conflicts",
            ItemNode::Unclaimed(_) => "unclaimed",
            ItemNode::Strip(_) => "strip",
            ItemNode::Ignore(_) => "ignore",
        }
    }
}

/// Top-level keywords: where the parser resumes after a syntax error.
pub const ITEM_KEYWORDS: &[&str] = &[
    "layout",
    "system",
    "farm",
    "unit",
    "launcher",
    "output",
    "conflicts",
    "unclaimed",
    "strip",
    "ignore",
];
