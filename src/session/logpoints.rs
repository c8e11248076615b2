//! Logpoints: a DAP `logMessage` turned into one Python expression.
//!
//! Owns: parsing a log message (`{expr}` parts, `{{` and `}}` escapes) and building the
//! single expression that produces the formatted text, so that a hit costs one `exec`
//! round trip (ptvsd has no logpoints: the adapter evaluates and resumes). Also
//! [`py_literal`], the Python string literal used by every expression the session builds.
//! Must not know: the session, DAP messages or the wire.

/// One piece of a log message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Part {
    Text(String),
    /// A Python expression, without its braces.
    Expression(String),
}

/// Splits a log message into text and `{expression}` parts. `{{` and `}}` stand for
/// literal braces; braces nest inside an expression (`{ {'a': 1}['a'] }`), and braces
/// inside string literals in an expression do not count. A `{` without its `}` and an
/// empty `{}` are kept as text.
pub fn parse(message: &str) -> Vec<Part> {
    let chars: Vec<char> = message.chars().collect();
    let mut parts = Vec::new();
    let mut text = String::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '{' && chars.get(i + 1) == Some(&'{') {
            text.push('{');
            i += 2;
            continue;
        }
        if c == '}' && chars.get(i + 1) == Some(&'}') {
            text.push('}');
            i += 2;
            continue;
        }
        if c == '{' {
            if let Some(end) = matching_brace(&chars, i) {
                let expression: String = chars[i + 1..end].iter().collect();
                if expression.trim().is_empty() {
                    text.push_str("{}");
                } else {
                    if !text.is_empty() {
                        parts.push(Part::Text(std::mem::take(&mut text)));
                    }
                    parts.push(Part::Expression(expression.trim().to_string()));
                }
                i = end + 1;
                continue;
            }
        }
        text.push(c);
        i += 1;
    }
    if !text.is_empty() {
        parts.push(Part::Text(text));
    }
    parts
}

/// The index of the `}` closing the `{` at `open`, skipping nested braces and string
/// literals.
fn matching_brace(chars: &[char], open: usize) -> Option<usize> {
    let mut depth = 0usize;
    let mut quote: Option<char> = None;
    let mut i = open;
    while i < chars.len() {
        let c = chars[i];
        match quote {
            Some(q) => {
                if c == '\\' {
                    i += 1;
                } else if c == q {
                    quote = None;
                }
            }
            None => match c {
                '\'' | '"' => quote = Some(c),
                '{' => depth += 1,
                '}' => {
                    depth = depth.saturating_sub(1);
                    if depth == 0 {
                        return Some(i);
                    }
                }
                _ => {}
            },
        }
        i += 1;
    }
    None
}

/// The text of a message without expressions, or `None` if it has some.
pub fn plain_text(parts: &[Part]) -> Option<String> {
    let mut out = String::new();
    for part in parts {
        match part {
            Part::Text(t) => out.push_str(t),
            Part::Expression(_) => return None,
        }
    }
    Some(out)
}

/// One Python expression (2.7 and 3.x) whose value is the formatted message: text parts
/// as literals, each expression through `'%s' % ((expr),)`, joined. An expression that
/// raises makes the whole evaluation fail with Python's message.
pub fn expression(parts: &[Part]) -> String {
    let items: Vec<String> = parts
        .iter()
        .map(|part| match part {
            Part::Text(t) => py_literal(t),
            // Parenthesised on its own line ends: a comment in the expression cannot
            // swallow the closing parentheses.
            Part::Expression(e) => format!("'%s' % ((\n{e}\n),)"),
        })
        .collect();
    format!("''.join([{}])", items.join(", "))
}

/// A Python string literal for `text` that reads the same on Python 2.7 and 3.x: plain
/// `'…'` when it is ASCII, else `u'…'` with non-ASCII characters escaped (so the
/// expression's own encoding never matters).
pub fn py_literal(text: &str) -> String {
    let ascii = text.is_ascii();
    let mut out = String::with_capacity(text.len() + 3);
    if !ascii {
        out.push('u');
    }
    out.push('\'');
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\'' => out.push_str("\\'"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => out.push_str(&format!("\\x{:02x}", c as u32)),
            c if c.is_ascii() => out.push(c),
            c if (c as u32) <= 0xFFFF => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push_str(&format!("\\U{:08x}", c as u32)),
        }
    }
    out.push('\'');
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn text(t: &str) -> Part {
        Part::Text(t.to_string())
    }
    fn expr(e: &str) -> Part {
        Part::Expression(e.to_string())
    }

    #[test]
    fn parses_parts_and_escapes() {
        assert_eq!(parse("x={x} y={ y }"), vec![text("x="), expr("x"), text(" y="), expr("y")]);
        assert_eq!(parse("{{literal}} {a}"), vec![text("{literal} "), expr("a")]);
        assert_eq!(parse("{ {'k': 1}['k'] }!"), vec![expr("{'k': 1}['k']"), text("!")]);
        assert_eq!(parse("{'}'}"), vec![expr("'}'")]);
        assert_eq!(parse("open { only"), vec![text("open { only")]);
        assert_eq!(parse("empty {} here"), vec![text("empty {} here")]);
        assert_eq!(parse("closing } alone"), vec![text("closing } alone")]);
        assert_eq!(parse(""), vec![]);
        assert_eq!(plain_text(&parse("no {{expressions}}")), Some("no {expressions}".to_string()));
        assert_eq!(plain_text(&parse("one {x}")), None);
    }

    #[test]
    fn literals_escape_everything_python_would_misread() {
        assert_eq!(py_literal("a'b\\c\n"), r"'a\'b\\c\n'");
        assert_eq!(py_literal("é😀"), r"u'\u00e9\U0001f600'");
    }

    /// The expression, run by a real CPython, gives the text a logpoint must print.
    #[test]
    fn expression_formats_in_real_python() {
        let message = "n={n} sq={n * n} d={ {'k': n}['k'] } {{x}} s={s} é {x # comment\n}";
        let code =
            format!("n = 3\ns = 'it''s'\nx = None\nimport sys\nsys.stdout.write({})", expression(&parse(message)));
        let out = std::process::Command::new("python3")
            .arg("-c")
            .arg(&code)
            .output()
            .expect("python3 is needed for this test");
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            "n=3 sq=9 d=3 {x} s=its é None",
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
