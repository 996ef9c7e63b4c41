//! Where a value is in a manifest's JSON text, by its path (`python.version.minor`,
//! `modules[3].file`): diagnostics about values point at them. The text is valid JSON
//! (it parsed), so a scanner that skips values is enough.

use miette::SourceSpan;

/// One step of a path into a JSON document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Seg<'a> {
    Key(&'a str),
    Index(usize),
}

/// A path as the diagnostics show it: `modules[3].file`.
pub fn display(path: &[Seg<'_>]) -> String {
    let mut out = String::new();
    for seg in path {
        match seg {
            Seg::Key(k) if out.is_empty() => out.push_str(k),
            Seg::Key(k) => {
                out.push('.');
                out.push_str(k);
            }
            Seg::Index(i) => out.push_str(&format!("[{i}]")),
        }
    }
    out
}

/// The span of the value at `path` in `text`; the nearest enclosing value that exists
/// when the path goes further than the text (the whole text for an empty path).
pub fn locate(text: &str, path: &[Seg<'_>]) -> SourceSpan {
    let bytes = text.as_bytes();
    let mut at = skip_ws(bytes, 0);
    let mut found = (at, value_end(bytes, at));
    for seg in path {
        let Some(inner) = child(bytes, at, *seg) else {
            break;
        };
        at = inner;
        found = (at, value_end(bytes, at));
    }
    let (start, end) = found;
    (start, end.saturating_sub(start).max(1)).into()
}

/// The start of the member `seg` of the container that starts at `at`.
fn child(bytes: &[u8], at: usize, seg: Seg<'_>) -> Option<usize> {
    let open = *bytes.get(at)?;
    let mut pos = skip_ws(bytes, at + 1);
    let mut index = 0;
    loop {
        match bytes.get(pos)? {
            b'}' | b']' => return None,
            b',' => pos = skip_ws(bytes, pos + 1),
            _ => {}
        }
        let value = match (open, seg) {
            (b'{', Seg::Key(key)) => {
                let key_end = value_end(bytes, pos);
                let name = bytes.get(pos + 1..key_end.checked_sub(1)?)?;
                let colon = skip_ws(bytes, key_end);
                let value = skip_ws(bytes, colon + 1);
                if name == key.as_bytes() {
                    return Some(value);
                }
                value
            }
            (b'[', Seg::Index(want)) => {
                if index == want {
                    return Some(pos);
                }
                index += 1;
                pos
            }
            _ => return None,
        };
        pos = skip_ws(bytes, value_end(bytes, value));
    }
}

fn skip_ws(bytes: &[u8], mut at: usize) -> usize {
    while bytes.get(at).is_some_and(u8::is_ascii_whitespace) {
        at += 1;
    }
    at
}

/// The end (exclusive) of the JSON value that starts at `at`.
fn value_end(bytes: &[u8], at: usize) -> usize {
    let mut pos = at;
    let mut depth = 0usize;
    let mut in_string = false;
    while let Some(&c) = bytes.get(pos) {
        pos += 1;
        if in_string {
            match c {
                b'\\' => pos += 1,
                b'"' => {
                    in_string = false;
                    if depth == 0 {
                        return pos;
                    }
                }
                _ => {}
            }
            continue;
        }
        match c {
            b'"' => in_string = true,
            b'{' | b'[' => depth += 1,
            b'}' | b']' if depth > 0 => {
                depth -= 1;
                if depth == 0 {
                    return pos;
                }
            }
            b',' | b'}' | b']' | b' ' | b'\n' | b'\t' | b'\r' if depth == 0 => return pos - 1,
            _ => {}
        }
    }
    bytes.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at<'a>(text: &'a str, path: &[Seg<'_>]) -> &'a str {
        let span = locate(text, path);
        &text[span.offset()..span.offset() + span.len()]
    }

    #[test]
    fn values_are_found_by_path_past_strings_that_look_like_json() {
        let text = r#"{"a": {"s": "x\"}],{", "n": -1.5e3, "l": [true, {"k": null}, "z"]}, "b": 7}"#;
        assert_eq!(at(text, &[Seg::Key("b")]), "7");
        assert_eq!(at(text, &[Seg::Key("a"), Seg::Key("s")]), r#""x\"}],{""#);
        assert_eq!(at(text, &[Seg::Key("a"), Seg::Key("n")]), "-1.5e3");
        assert_eq!(
            at(text, &[Seg::Key("a"), Seg::Key("l"), Seg::Index(1)]),
            r#"{"k": null}"#
        );
        assert_eq!(
            at(
                text,
                &[Seg::Key("a"), Seg::Key("l"), Seg::Index(1), Seg::Key("k")]
            ),
            "null"
        );
        assert_eq!(
            at(text, &[Seg::Key("a"), Seg::Key("l"), Seg::Index(2)]),
            r#""z""#
        );
        // Past the end of the text's structure: the nearest value there is.
        assert_eq!(
            at(text, &[Seg::Key("a"), Seg::Key("l"), Seg::Index(9)]),
            r#"[true, {"k": null}, "z"]"#
        );
        assert_eq!(at(text, &[Seg::Key("nope")]), text);
        assert_eq!(
            display(&[Seg::Key("modules"), Seg::Index(3), Seg::Key("file")]),
            "modules[3].file"
        );
    }
}
