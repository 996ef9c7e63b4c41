//! `shenzi fmt`: the canonical text of a layout, comments kept. One statement per line,
//! two-space indents, `, ` between list items, one blank line around blocks, and blank
//! lines elsewhere kept where the author put them (at most one).

use super::lexer::Comment;
use super::syntax::*;

/// Formats a parsed layout. `text` is the text `ast` was parsed from.
pub fn format(text: &str, ast: &Ast) -> String {
    let mut f = Formatter {
        text,
        comments: &ast.comments,
        next: 0,
        out: String::with_capacity(text.len() + 64),
        last_end: 0,
        force_blank: false,
        after_open: false,
    };
    let mut previous_block = false;
    for item in &ast.items {
        let is_block = matches!(
            item.node,
            ItemNode::System(_) | ItemNode::Farm(..) | ItemNode::Unit(..) | ItemNode::Launcher(_)
        );
        f.force_blank = is_block || previous_block;
        f.item(item);
        previous_block = is_block;
    }
    f.comments_before(usize::MAX, 0);
    f.out
}

struct Formatter<'a> {
    text: &'a str,
    comments: &'a [Comment],
    /// The first comment not yet written.
    next: usize,
    out: String,
    /// Where the last written element ended in the source.
    last_end: usize,
    /// The next line gets a blank line before it.
    force_blank: bool,
    /// The last line written opened a block.
    after_open: bool,
}

impl Formatter<'_> {
    fn item(&mut self, item: &Item) {
        let kw = item.node.keyword();
        let start = item.span.start;
        match &item.node {
            ItemNode::Layout(w)
            | ItemNode::Conflicts(w)
            | ItemNode::Unclaimed(w)
            | ItemNode::Strip(w) => {
                self.line(0, &format!("{kw} {}", w.value), start, item.span.end);
            }
            ItemNode::Output(w, name) => {
                let text = match name {
                    Some(s) => format!("{kw} {} {}", w.value, string(s)),
                    None => format!("{kw} {}", w.value),
                };
                self.line(0, &text, start, item.span.end);
            }
            ItemNode::Ignore(list) => {
                self.line(0, &format!("{kw} {}", strings(list)), start, item.span.end);
            }
            ItemNode::System(b) => self.block(kw.into(), start, b, system_text),
            ItemNode::Farm(name, b) => {
                self.block(format!("{kw} {}", name.value), start, b, farm_text)
            }
            ItemNode::Unit(name, b) => {
                self.block(format!("{kw} {}", name.value), start, b, unit_text)
            }
            ItemNode::Launcher(b) => self.block(kw.into(), start, b, launcher_text),
        }
    }

    fn block<S: Keyword>(
        &mut self,
        header: String,
        start: usize,
        block: &Block<S>,
        text: fn(&S) -> String,
    ) {
        self.line(0, &format!("{header} {{"), start, block.open.end);
        self.after_open = true;
        for stmt in &block.stmts {
            let body = text(&stmt.node);
            let line = format!("{} {body}", stmt.node.keyword());
            self.line(2, line.trim_end(), stmt.span.start, stmt.span.end);
        }
        self.comments_before(block.close.start, 2);
        self.after_open = false;
        self.push_line(0, "}");
        self.last_end = block.close.end;
        self.trailing(block.close.end);
        self.out.push('\n');
    }

    /// Writes one line for the element at `start..end`, after the comments before it.
    fn line(&mut self, indent: usize, content: &str, start: usize, end: usize) {
        self.comments_before(start, indent);
        self.separate(start);
        self.push_line(indent, content);
        self.after_open = false;
        self.last_end = end;
        self.trailing(end);
        self.out.push('\n');
    }

    fn push_line(&mut self, indent: usize, content: &str) {
        for _ in 0..indent {
            self.out.push(' ');
        }
        self.out.push_str(content);
    }

    /// Writes the comments that start before `pos`, each on its own line.
    fn comments_before(&mut self, pos: usize, indent: usize) {
        while let Some(c) = self.comments.get(self.next) {
            if c.span.start >= pos {
                break;
            }
            self.next += 1;
            self.separate(c.span.start);
            let text = self.text[c.span.start..c.span.end].trim_end();
            self.push_line(indent, text);
            self.out.push('\n');
            self.after_open = false;
            self.last_end = self.last_end.max(c.span.end);
        }
    }

    /// Appends a comment that follows `end` on the same source line.
    fn trailing(&mut self, end: usize) {
        if let Some(c) = self.comments.get(self.next)
            && c.span.start >= end
            && !self.text[end..c.span.start].contains('\n')
        {
            self.next += 1;
            self.out.push_str("  ");
            self.out
                .push_str(self.text[c.span.start..c.span.end].trim_end());
            self.last_end = c.span.end;
        }
    }

    /// A blank line before the element at `start`, if one is due.
    fn separate(&mut self, start: usize) {
        let blank = self.force_blank || blank_between(self.text, self.last_end, start);
        self.force_blank = false;
        if blank && !self.out.is_empty() && !self.after_open && !self.out.ends_with("\n\n") {
            self.out.push('\n');
        }
    }
}

/// Whether the source has an empty line between `a` and `b`.
fn blank_between(text: &str, a: usize, b: usize) -> bool {
    if a >= b {
        return false;
    }
    let between = &text[a..b];
    let mut lines = between.split('\n');
    lines.next();
    let mut rest: Vec<&str> = lines.collect();
    rest.pop();
    rest.iter().any(|l| l.trim().is_empty())
}

fn words(list: &[Word]) -> String {
    list.iter()
        .map(|w| w.value.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

fn string(s: &Str) -> String {
    format!("\"{}\"", s.raw)
}

fn strings(list: &[Str]) -> String {
    list.iter().map(string).collect::<Vec<_>>().join(", ")
}

fn system_text(stmt: &SystemStmt) -> String {
    match stmt {
        SystemStmt::Preset(list) => words(list),
        SystemStmt::Add(list) | SystemStmt::Remove(list) => strings(list),
        SystemStmt::CxxRuntime(w) => w.value.clone(),
    }
}

fn farm_text(stmt: &FarmStmt) -> String {
    match stmt {
        FarmStmt::Root(s) | FarmStmt::Reals(s) | FarmStmt::Links(s) => string(s),
        FarmStmt::Level(w) => w.value.clone(),
    }
}

fn unit_text(stmt: &UnitStmt) -> String {
    match stmt {
        UnitStmt::Take(list) | UnitStmt::Site(list) => words(list),
        UnitStmt::To(s) => string(s),
        UnitStmt::Only(list) | UnitStmt::Exclude(list) | UnitStmt::Unpacked(list) => strings(list),
        UnitStmt::Pack(w, s) => format!("{} {}", w.value, string(s)),
        UnitStmt::Select(w)
        | UnitStmt::Action(w)
        | UnitStmt::Farm(w)
        | UnitStmt::Serve(w)
        | UnitStmt::Symlinks(w) => w.value.clone(),
    }
}

fn launcher_text(stmt: &LauncherStmt) -> String {
    match stmt {
        LauncherStmt::At(s) => string(s),
        LauncherStmt::Form(w) | LauncherStmt::Python(w) => w.value.clone(),
        LauncherStmt::Path(list) | LauncherStmt::Flags(list) | LauncherStmt::Programs(list) => {
            words(list)
        }
        LauncherStmt::Entry(w, arg) | LauncherStmt::Env(w, arg) => match arg {
            Some(s) => format!("{} {}", w.value, string(s)),
            None => w.value.clone(),
        },
    }
}
