//! How a report is shown to a person: a copy of any miette diagnostic (with its
//! `related` entries, causes and source) that is safe to print and bounded in size.
//!
//! - **Nothing from the input reaches the terminal raw.** Control characters, invisible
//!   format characters (U+FEFF, bidirectional overrides, ...) and bytes that are not
//!   UTF-8 are written as escapes (`\u{1b}`, `\u{feff}`, `\xff`), in messages, labels,
//!   help and the source snippet alike; a layout's text cannot move the cursor, change
//!   colours or hide what a line says.
//! - **Spans stay right.** The snippet is a new text with the escapes in it, and every
//!   label is moved to where its bytes are in that text; the `[file:line:column]`
//!   heading is computed on the original text (the column counts characters, an invalid
//!   byte as one).
//! - **Each diagnostic prints a bounded amount.** Only the lines around its labels are
//!   kept, a line longer than [`LINE_WIDTH`] bytes is shown as windows around the
//!   labels with `…` for what is left out, a label is cut after [`LABEL_LINES`] lines,
//!   and a message line after [`MESSAGE_WIDTH`] characters.
//!
//! The command line's miette hook renders every report through [`shown`]; [`to_text`]
//! renders one the same way without colour, for tests and the fuzz targets.

use std::collections::HashMap;
use std::fmt;
use std::rc::Rc;

use miette::{
    Diagnostic, GraphicalReportHandler, GraphicalTheme, LabeledSpan, MietteError,
    MietteSpanContents, Severity, SourceCode, SourceSpan, SpanContents,
};

/// A line of source longer than this many bytes is shown in windows.
pub const LINE_WIDTH: usize = 120;
/// Bytes kept on each side of a label's start and end in a long line.
const WINDOW: usize = 30;
/// A label is cut after this many lines.
pub const LABEL_LINES: usize = 6;
/// A message, label or help line is cut after this many characters.
pub const MESSAGE_WIDTH: usize = 1000;
/// Lines of context kept around each label (miette shows one).
const CONTEXT: usize = 1;

/// A diagnostic, ready to print.
#[derive(Debug)]
pub struct Shown {
    message: String,
    code: Option<String>,
    severity: Option<Severity>,
    help: Option<String>,
    url: Option<String>,
    labels: Vec<LabeledSpan>,
    excerpt: Option<Excerpt>,
    related: Vec<Shown>,
    inner: Option<Box<Shown>>,
    cause: Option<Box<Cause>>,
}

/// One error of a diagnostic's `source()` chain, as text.
#[derive(Debug)]
struct Cause {
    message: String,
    next: Option<Box<Cause>>,
}

impl fmt::Display for Cause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Cause {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.next
            .as_deref()
            .map(|c| c as &(dyn std::error::Error + 'static))
    }
}

/// A safe copy of `diagnostic` and everything it shows.
pub fn shown(diagnostic: &dyn Diagnostic) -> Shown {
    let mut texts = Texts::default();
    copy(diagnostic, None, &mut texts)
}

/// `diagnostic` rendered as [`shown`] makes it, without colour, 100 columns wide.
pub fn to_text(diagnostic: &dyn Diagnostic) -> String {
    let mut out = String::new();
    let handler = GraphicalReportHandler::new_themed(GraphicalTheme::none()).with_width(100);
    // Rendering into a String fails only if a Display impl does; show what there is.
    let _ = handler.render_report(&mut out, &shown(diagnostic));
    out
}

/// The whole texts of the sources met so far, by address: the diagnostics of one
/// report share one source, which is read once.
#[derive(Default)]
struct Texts {
    read: HashMap<*const u8, Rc<Text>>,
}

/// A source's bytes, its name and where its lines start.
struct Text {
    name: Option<String>,
    bytes: Vec<u8>,
    line_starts: Vec<usize>,
}

impl Text {
    fn read(source: &dyn SourceCode) -> Option<Text> {
        // The whole source: a span at 0 with unbounded context on both sides.
        let all = source
            .read_span(&SourceSpan::from((0, 0)), usize::MAX, usize::MAX)
            .ok()?;
        let bytes = all.data().to_vec();
        let mut line_starts = vec![0];
        line_starts.extend(
            bytes
                .iter()
                .enumerate()
                .filter(|(_, b)| **b == b'\n')
                .map(|(i, _)| i + 1),
        );
        Some(Text {
            name: all.name().map(|n| escape(n, false)),
            bytes,
            line_starts,
        })
    }

    /// The 0-based line holding byte `at`.
    fn line_of(&self, at: usize) -> usize {
        self.line_starts.partition_point(|s| *s <= at) - 1
    }

    /// Line `line` without its line ending.
    fn line(&self, line: usize) -> (usize, usize) {
        let start = self.line_starts[line];
        let mut end = self
            .line_starts
            .get(line + 1)
            .map_or(self.bytes.len(), |next| next - 1);
        if end > start && self.bytes[end - 1] == b'\r' && end < self.bytes.len() {
            end -= 1;
        }
        (start, end)
    }

    /// The column (0-based, in characters; an invalid byte counts as one) of `at`.
    fn column(&self, at: usize) -> usize {
        let start = self.line_starts[self.line_of(at)];
        self.bytes[start..at]
            .utf8_chunks()
            .map(|c| c.valid().chars().count() + c.invalid().len())
            .sum()
    }
}

fn copy(d: &dyn Diagnostic, parent: Option<&dyn SourceCode>, texts: &mut Texts) -> Shown {
    let source = d.source_code().or(parent);
    let labels: Vec<LabeledSpan> = d.labels().map(Iterator::collect).unwrap_or_default();
    let text = match source {
        Some(source) if !labels.is_empty() => read(source, texts),
        _ => None,
    };
    let (labels, excerpt) = match &text {
        Some(text) => {
            let (excerpt, labels) = Excerpt::build(text, &labels);
            (labels, Some(excerpt))
        }
        // No source to show them in: miette prints none either.
        None => (Vec::new(), None),
    };
    let mut cause = None;
    let mut chain = Vec::new();
    let mut next = std::error::Error::source(d);
    while let Some(err) = next {
        chain.push(escape(&err.to_string(), true));
        next = err.source();
    }
    for message in chain.into_iter().rev() {
        cause = Some(Box::new(Cause {
            message,
            next: cause,
        }));
    }
    Shown {
        message: escape(&d.to_string(), true),
        code: d.code().map(|c| escape(&c.to_string(), true)),
        severity: d.severity(),
        help: d.help().map(|h| escape(&h.to_string(), true)),
        url: d.url().map(|u| escape(&u.to_string(), true)),
        labels,
        excerpt,
        related: d
            .related()
            .map(|r| r.map(|r| copy(r, source, texts)).collect())
            .unwrap_or_default(),
        inner: d
            .diagnostic_source()
            .map(|inner| Box::new(copy(inner, source, texts))),
        cause,
    }
}

fn read(source: &dyn SourceCode, texts: &mut Texts) -> Option<Rc<Text>> {
    let key = source as *const dyn SourceCode as *const u8;
    if let Some(text) = texts.read.get(&key) {
        return Some(text.clone());
    }
    let text = Rc::new(Text::read(source)?);
    texts.read.insert(key, text.clone());
    Some(text)
}

/// Whether a character is written as an escape: the controls but tab (and newline,
/// which ends a line), and what Rust's `Debug` escapes as unprintable (format
/// characters such as U+FEFF and U+202E, separators other than space). Combining marks
/// stay as they are.
fn hidden(c: char, keep_newline: bool) -> bool {
    match c {
        '\t' => false,
        '\n' => !keep_newline,
        c if c.is_ascii() => c.is_ascii_control(),
        c if c.is_control() => true,
        // `str::escape_debug` leaves a combining mark alone unless it starts the text.
        c => {
            let mut buf = [0u8; 8];
            buf[0] = b'a';
            let len = 1 + c.encode_utf8(&mut buf[1..]).len();
            let text = std::str::from_utf8(&buf[..len]).unwrap_or("a");
            text.escape_debug().count() > 2
        }
    }
}

/// `text` with hidden characters escaped, each line cut after [`MESSAGE_WIDTH`]
/// characters.
fn escape(text: &str, keep_newline: bool) -> String {
    let mut out = String::with_capacity(text.len().min(4 * MESSAGE_WIDTH));
    for (i, line) in text.split('\n').enumerate() {
        if i > 0 {
            if keep_newline {
                out.push('\n');
            } else {
                out.push_str("\\n");
            }
        }
        for (width, c) in line.chars().enumerate() {
            if width >= MESSAGE_WIDTH {
                let rest = line.chars().count() - width;
                out.push_str(&format!("… ({rest} more characters)"));
                break;
            }
            push_char(&mut out, c, keep_newline);
        }
    }
    out
}

fn push_char(out: &mut String, c: char, keep_newline: bool) {
    if hidden(c, keep_newline) {
        out.extend(c.escape_debug());
    } else {
        out.push(c);
    }
}

/// The lines of one diagnostic's source that it shows, escaped and windowed, in chunks
/// of consecutive lines; labels point into the chunks' text.
#[derive(Debug)]
struct Excerpt {
    name: Option<String>,
    /// The chunks' texts one after the other: labels are offsets into it.
    text: String,
    chunks: Vec<Chunk>,
}

/// Consecutive lines of the source, shown.
#[derive(Debug)]
struct Chunk {
    /// Where it starts in [`Excerpt::text`].
    start: usize,
    /// Where each of its lines starts in [`Excerpt::text`], and the end.
    line_starts: Vec<usize>,
    /// The 0-based number of its first line in the source.
    first_line: usize,
    /// Shown offset to (source line, source column), for each label's start.
    places: Vec<(usize, usize, usize)>,
}

impl Excerpt {
    /// Builds the excerpt for `labels` and returns them moved into it.
    fn build(text: &Text, labels: &[LabeledSpan]) -> (Excerpt, Vec<LabeledSpan>) {
        let len = text.bytes.len();
        // Clamp each label into the text, onto character boundaries, and cut it after
        // LABEL_LINES lines.
        let spans: Vec<(usize, usize)> = labels
            .iter()
            .map(|l| {
                let start = l.offset().min(len);
                let mut end = (l.offset().saturating_add(l.len())).clamp(start, len);
                let last = text.line_of(start) + LABEL_LINES - 1;
                if let Some(&cut) = text.line_starts.get(last + 1) {
                    end = end.min(cut.saturating_sub(1).max(start));
                }
                (start, end)
            })
            .collect();
        // The lines to show, merged into runs of consecutive lines.
        let last_line = text.line_starts.len() - 1;
        let mut ranges: Vec<(usize, usize)> = spans
            .iter()
            .map(|&(s, e)| {
                let first = text.line_of(s).saturating_sub(CONTEXT);
                let last = (text.line_of(e) + CONTEXT).min(last_line);
                (first, last)
            })
            .collect();
        ranges.sort_unstable();
        let mut runs: Vec<(usize, usize)> = Vec::new();
        for (first, last) in ranges {
            match runs.last_mut() {
                Some(run) if first <= run.1 + 1 => run.1 = run.1.max(last),
                _ => runs.push((first, last)),
            }
        }
        // Every label end and start, to place in the shown text.
        let mut points: Vec<usize> = spans.iter().flat_map(|&(s, e)| [s, e]).collect();
        points.sort_unstable();
        points.dedup();
        let mut placed: HashMap<usize, usize> = HashMap::new();
        let mut out = String::new();
        let mut chunks = Vec::new();
        for (first, last) in runs {
            let start = out.len();
            let mut line_starts = Vec::new();
            for line in first..=last {
                line_starts.push(out.len());
                let (ls, le) = text.line(line);
                let next = text
                    .line_starts
                    .get(line + 1)
                    .copied()
                    .unwrap_or(len)
                    .max(le);
                // This line's points: up to its newline; the start of the next line
                // belongs to the next line, unless there is none.
                let here: Vec<usize> = points
                    .iter()
                    .copied()
                    .filter(|p| *p >= ls && (*p < next || line == last_line))
                    .collect();
                show_line(&text.bytes[ls..le], ls, &here, &mut out, &mut placed);
                out.push('\n');
            }
            line_starts.push(out.len());
            let places = spans
                .iter()
                .filter(|(s, _)| (first..=last).contains(&text.line_of(*s)))
                .filter_map(|&(s, _)| {
                    placed
                        .get(&s)
                        .map(|&at| (at, text.line_of(s), text.column(s)))
                })
                .collect();
            chunks.push(Chunk {
                start,
                line_starts,
                first_line: first,
                places,
            });
        }
        let moved = labels
            .iter()
            .zip(&spans)
            .map(|(label, &(s, e))| {
                let start = placed.get(&s).copied().unwrap_or(0);
                let end = placed.get(&e).copied().unwrap_or(start).max(start);
                let text = label.label().map(|t| escape(t, false));
                if label.primary() {
                    LabeledSpan::new_primary_with_span(text, (start, end - start))
                } else {
                    LabeledSpan::new_with_span(text, (start, end - start))
                }
            })
            .collect();
        (
            Excerpt {
                name: text.name.clone(),
                text: out,
                chunks,
            },
            moved,
        )
    }
}

/// Writes one source line (`bytes`, starting at source offset `base`), escaped; a long
/// line only around `points` (sorted). Records where each point lands in `out`: a point
/// inside a character lands on its start, one in a stretch left out on its `…`, one
/// past the line's text at the line's shown end.
fn show_line(
    bytes: &[u8],
    base: usize,
    points: &[usize],
    out: &mut String,
    placed: &mut HashMap<usize, usize>,
) {
    // Most lines are short, valid and plain: copied as they are, points at their
    // offsets.
    if let Ok(line) = std::str::from_utf8(bytes)
        && line.len() <= LINE_WIDTH
        && !line.chars().any(|c| hidden(c, false))
    {
        let at = out.len();
        for p in points {
            let mut local = (p - base).min(line.len());
            while !line.is_char_boundary(local) {
                local -= 1;
            }
            placed.entry(*p).or_insert(at + local);
        }
        out.push_str(line);
        return;
    }
    // Otherwise only windows of the line around the points are decoded and escaped:
    // a line of a megabyte costs what its windows cost.
    let len = bytes.len();
    let mut ranges: Vec<(usize, usize)> = if len <= LINE_WIDTH {
        vec![(0, len)]
    } else if points.is_empty() {
        vec![(0, snap_end(bytes, 2 * WINDOW))]
    } else {
        points
            .iter()
            .map(|p| {
                let local = (p - base).min(len);
                (
                    snap_start(bytes, local.saturating_sub(WINDOW)),
                    snap_end(bytes, (local + WINDOW).min(len)),
                )
            })
            .collect()
    };
    ranges.sort_unstable();
    let mut merged: Vec<(usize, usize)> = Vec::new();
    for (a, b) in ranges {
        match merged.last_mut() {
            Some(last) if a <= last.1 => last.1 = last.1.max(b),
            _ => merged.push((a, b)),
        }
    }
    let mut point = 0;
    let mut shown_to = 0;
    // Points in a stretch left out land on its `…`.
    let mut elide = |out: &mut String, until: usize, point: &mut usize| {
        out.push('…');
        let at = out.len() - '…'.len_utf8();
        while *point < points.len() && points[*point] < base + until {
            placed.entry(points[*point]).or_insert(at);
            *point += 1;
        }
        at
    };
    let mut spots: Vec<(usize, usize)> = Vec::new();
    for (a, b) in merged {
        if a > shown_to {
            elide(out, a, &mut point);
        }
        let mut at = base + a;
        for chunk in bytes[a..b].utf8_chunks() {
            for c in chunk.valid().chars() {
                while point < points.len() && points[point] < at + c.len_utf8() {
                    spots.push((points[point], out.len()));
                    point += 1;
                }
                push_char(out, c, false);
                at += c.len_utf8();
            }
            for byte in chunk.invalid() {
                while point < points.len() && points[point] <= at {
                    spots.push((points[point], out.len()));
                    point += 1;
                }
                const HEX: &[u8; 16] = b"0123456789abcdef";
                out.push_str("\\x");
                out.push(HEX[usize::from(byte >> 4)] as char);
                out.push(HEX[usize::from(byte & 15)] as char);
                at += 1;
            }
        }
        shown_to = b;
    }
    if shown_to < len {
        elide(out, len, &mut point);
    }
    for (p, at) in spots {
        placed.entry(p).or_insert(at);
    }
    for p in &points[point..] {
        placed.entry(*p).or_insert(out.len());
    }
}

/// `at` moved back to the start of the character it is inside (at most 3 bytes).
fn snap_start(bytes: &[u8], mut at: usize) -> usize {
    for _ in 0..3 {
        if at > 0 && at < bytes.len() && bytes[at] & 0xc0 == 0x80 {
            at -= 1;
        }
    }
    at
}

/// `at` moved on to the end of the character it is inside (at most 3 bytes).
fn snap_end(bytes: &[u8], mut at: usize) -> usize {
    at = at.min(bytes.len());
    for _ in 0..3 {
        if at < bytes.len() && bytes[at] & 0xc0 == 0x80 {
            at += 1;
        }
    }
    at
}

impl SourceCode for Excerpt {
    fn read_span<'a>(
        &'a self,
        span: &SourceSpan,
        before: usize,
        after: usize,
    ) -> Result<Box<dyn SpanContents<'a> + 'a>, MietteError> {
        let (start, end) = (span.offset(), span.offset() + span.len());
        // A span never crosses chunks: lines left out lie between them.
        let chunk = self
            .chunks
            .iter()
            .find(|c| c.start <= start && end <= *c.line_starts.last().unwrap_or(&c.start))
            .ok_or(MietteError::OutOfBounds)?;
        let lines = chunk.line_starts.len() - 1;
        let line_at =
            |at: usize| (chunk.line_starts.partition_point(|s| *s <= at).max(1) - 1).min(lines - 1);
        let (first, last) = (line_at(start), line_at(end.saturating_sub(1).max(start)));
        let from = first.saturating_sub(before);
        let to = last.saturating_add(after).min(lines - 1);
        let data_start = chunk.line_starts[from];
        // The last line's newline is left out, as miette's own sources do.
        let data_end = (chunk.line_starts[to + 1] - 1).max(data_start);
        let (line, column) = if before == 0 {
            // The heading's place: the label's start in the source.
            match chunk.places.iter().find(|(at, _, _)| *at == start) {
                Some(&(_, line, column)) => (line, column),
                None => (
                    chunk.first_line + first,
                    self.text[chunk.line_starts[first]..start].chars().count(),
                ),
            }
        } else {
            (chunk.first_line + from, 0)
        };
        let (data, span) = if before == 0 {
            (
                &self.text[start..end],
                SourceSpan::from((start, end - start)),
            )
        } else {
            (
                &self.text[data_start..data_end],
                SourceSpan::from((data_start, data_end - data_start)),
            )
        };
        let count = to + 1 - from;
        Ok(Box::new(match &self.name {
            Some(name) => MietteSpanContents::new_named(
                name.clone(),
                data.as_bytes(),
                span,
                line,
                column,
                count,
            ),
            None => MietteSpanContents::new(data.as_bytes(), span, line, column, count),
        }))
    }
}

impl fmt::Display for Shown {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Shown {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.cause
            .as_deref()
            .map(|c| c as &(dyn std::error::Error + 'static))
    }
}

impl Diagnostic for Shown {
    fn code<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.code
            .as_ref()
            .map(|c| Box::new(c) as Box<dyn fmt::Display>)
    }

    fn severity(&self) -> Option<Severity> {
        self.severity
    }

    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.help
            .as_ref()
            .map(|h| Box::new(h) as Box<dyn fmt::Display>)
    }

    fn url<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.url
            .as_ref()
            .map(|u| Box::new(u) as Box<dyn fmt::Display>)
    }

    fn source_code(&self) -> Option<&dyn SourceCode> {
        self.excerpt.as_ref().map(|e| e as &dyn SourceCode)
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        (!self.labels.is_empty()).then(|| Box::new(self.labels.iter().cloned()) as _)
    }

    fn related<'a>(&'a self) -> Option<Box<dyn Iterator<Item = &'a dyn Diagnostic> + 'a>> {
        (!self.related.is_empty())
            .then(|| Box::new(self.related.iter().map(|r| r as &dyn Diagnostic)) as _)
    }

    fn diagnostic_source(&self) -> Option<&dyn Diagnostic> {
        self.inner.as_deref().map(|d| d as &dyn Diagnostic)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hidden_characters() {
        for c in [
            '\u{1b}', '\0', '\r', '\u{7f}', '\u{85}', '\u{feff}', '\u{202e}',
        ] {
            assert!(hidden(c, true), "{c:?}");
        }
        for c in ['a', ' ', '\t', 'é', '\u{301}', '中'] {
            assert!(!hidden(c, true), "{c:?}");
        }
        assert_eq!(escape("a\u{1b}[31mb", true), "a\\u{1b}[31mb");
    }
}
