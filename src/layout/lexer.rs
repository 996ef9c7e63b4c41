//! The first phase: one pass over the text that finds comments, checks strings and
//! braces, and records where blocks are. Because it rejects nested and unbalanced
//! braces before pest runs, the grammar never recurses and deep nesting cannot
//! overflow the stack.

use super::diagnostics::{Diagnostic, ErrorKind};
use super::span::Span;

/// A `#` comment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Comment {
    /// From `#` to the end of the line, newline excluded.
    pub span: Span,
    /// Whether only blanks precede it on its line.
    pub own_line: bool,
}

/// What the lexer learned.
#[derive(Debug, Default)]
pub struct Lexed {
    pub comments: Vec<Comment>,
    /// Every top-level block, `{` to `}`, in order.
    pub blocks: Vec<Span>,
    pub diagnostics: Vec<Diagnostic>,
}

impl Lexed {
    /// Whether `pos` lies inside a block (between its braces).
    pub fn in_block(&self, pos: usize) -> bool {
        let i = self.blocks.partition_point(|b| b.start <= pos);
        i > 0 && pos < self.blocks[i - 1].end
    }
}

/// Lexes `text`, stopping after `limit` diagnostics.
pub fn lex(text: &str, limit: usize) -> Lexed {
    let bytes = text.as_bytes();
    let mut out = Lexed::default();
    let mut open: Option<usize> = None;
    let mut depth = 0usize;
    let mut reported_nesting = false;
    let mut line_blank = true;
    let mut i = 0;
    while i < bytes.len() && out.diagnostics.len() < limit {
        match bytes[i] {
            b'\n' => {
                line_blank = true;
                i += 1;
            }
            b' ' | b'\t' | b'\r' => i += 1,
            b'#' => {
                let end = memchr(b'\n', &bytes[i..]).map_or(bytes.len(), |n| i + n);
                out.comments.push(Comment {
                    span: Span::new(i, end),
                    own_line: line_blank,
                });
                i = end;
            }
            b'"' => {
                line_blank = false;
                i = string(text, i, &mut out.diagnostics);
            }
            b'{' => {
                line_blank = false;
                match open {
                    None => open = Some(i),
                    Some(outer) => {
                        if !reported_nesting {
                            out.diagnostics.push(Diagnostic::new(
                                Span::new(i, i + 1),
                                ErrorKind::NestedBlock {
                                    outer: Span::new(outer, outer + 1),
                                },
                            ));
                            reported_nesting = true;
                        }
                    }
                }
                depth += 1;
                i += 1;
            }
            b'}' => {
                line_blank = false;
                match depth {
                    0 => out.diagnostics.push(Diagnostic::new(
                        Span::new(i, i + 1),
                        ErrorKind::UnmatchedClose,
                    )),
                    1 => {
                        if let Some(start) = open.take() {
                            out.blocks.push(Span::new(start, i + 1));
                        }
                        reported_nesting = false;
                        depth = 0;
                    }
                    _ => depth -= 1,
                }
                i += 1;
            }
            _ => {
                line_blank = false;
                i += 1;
            }
        }
    }
    if let Some(start) = open
        && out.diagnostics.len() < limit
    {
        out.diagnostics.push(Diagnostic::new(
            Span::new(start, start + 1),
            ErrorKind::UnclosedBlock,
        ));
    }
    out
}

/// Checks the string starting at the `"` at `start`; returns the offset after it.
fn string(text: &str, start: usize, diagnostics: &mut Vec<Diagnostic>) -> usize {
    let bytes = text.as_bytes();
    let mut i = start + 1;
    while i < bytes.len() {
        match bytes[i] {
            b'"' => return i + 1,
            b'\n' => break,
            b'\\' => {
                match text[i + 1..].chars().next() {
                    Some('"') | Some('\\') => {}
                    Some('\n') | None => {
                        diagnostics.push(Diagnostic::new(
                            Span::new(i, i + 1),
                            ErrorKind::InvalidEscape {
                                escape: "\\".into(),
                            },
                        ));
                        i += 1;
                        continue;
                    }
                    Some(c) => diagnostics.push(Diagnostic::new(
                        Span::new(i, i + 1 + c.len_utf8()),
                        ErrorKind::InvalidEscape {
                            escape: format!("\\{c}"),
                        },
                    )),
                }
                i += 2;
            }
            _ => i += 1,
        }
    }
    let end = i.min(bytes.len());
    diagnostics.push(Diagnostic::new(
        Span::new(start, end.max(start + 1)),
        ErrorKind::UnterminatedString,
    ));
    end
}

fn memchr(needle: u8, haystack: &[u8]) -> Option<usize> {
    haystack.iter().position(|b| *b == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn braces_in_strings_and_comments_do_not_count() {
        let lexed = lex("unit a { to \"{x}\" } # {\n", 10);
        assert!(lexed.diagnostics.is_empty(), "{:?}", lexed.diagnostics);
        assert_eq!(lexed.blocks, vec![Span::new(7, 19)]);
        assert_eq!(lexed.comments.len(), 1);
        assert!(!lexed.comments[0].own_line);
    }

    #[test]
    fn deep_nesting_is_one_diagnostic() {
        let text = "unit a {".repeat(10_000);
        let lexed = lex(&text, 100);
        let codes: Vec<_> = lexed.diagnostics.iter().map(|d| d.code()).collect();
        assert_eq!(
            codes,
            [
                "shenzi::layout::nested_block",
                "shenzi::layout::unclosed_block"
            ]
        );
    }
}
