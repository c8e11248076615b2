//! Debug-console completions, computed by the debuggee in one evaluation.
//!
//! Owns: finding what is being completed at the cursor (a name, or an attribute after a
//! dotted name), the Python expression that lists the candidates with their kinds as one
//! string (fetched raw, since a list's repr is cut after 14 items, spec §6.3), and
//! reading that string back. Only dotted names are evaluated before the dot, never calls
//! or subscripts, so completing has no side effects beyond property getters.
//! Must not know: the session, DAP messages or the wire.

use super::logpoints::py_literal;

/// What the text before the cursor asks to complete.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The dotted name before the last dot, if completing an attribute.
    pub object: Option<String>,
    /// The partial name being typed (may be empty).
    pub prefix: String,
    /// Where the prefix starts, in UTF-16 code units from the start of the text.
    pub start_utf16: usize,
}

fn is_name_char(c: char) -> bool {
    c == '_' || c.is_alphanumeric()
}

/// The completion target for `text` with the cursor after `cursor_utf16` UTF-16 units,
/// or `None` when the cursor follows something other than a name or a dotted name
/// (`f().`, `x[0].`, a string).
pub fn target(text: &str, cursor_utf16: usize) -> Option<Target> {
    // The text before the cursor, cut at the last character that ends at or before it (a
    // cursor inside a surrogate pair counts as before that character).
    let mut units = 0usize;
    let mut end = text.len();
    for (i, c) in text.char_indices() {
        if units + c.len_utf16() > cursor_utf16 {
            end = i;
            break;
        }
        units += c.len_utf16();
    }
    let before = &text[..end];
    let prefix_start = before
        .rfind(|c: char| !is_name_char(c))
        .map(|i| i + before[i..].chars().next().map_or(1, char::len_utf8))
        .unwrap_or(0);
    let prefix = &before[prefix_start..];
    if prefix.starts_with(|c: char| c.is_ascii_digit()) {
        return None;
    }
    let start_utf16 = before[..prefix_start].encode_utf16().count();
    let head = &before[..prefix_start];
    let Some(object_part) = head.strip_suffix('.') else {
        // A name, unless it follows something that makes it an attribute or a literal.
        if head.ends_with([')', ']', '\'', '"']) {
            return None;
        }
        return Some(Target { object: None, prefix: prefix.to_string(), start_utf16 });
    };
    let object_start = object_part
        .char_indices()
        .rfind(|(_, c)| !is_name_char(*c) && *c != '.')
        .map(|(i, c)| i + c.len_utf8())
        .unwrap_or(0);
    let object = &object_part[object_start..];
    let valid = !object.is_empty()
        && object.split('.').all(|part| {
            !part.is_empty() && !part.starts_with(|c: char| c.is_ascii_digit()) && part.chars().all(is_name_char)
        });
    if !valid || object_part[..object_start].ends_with([')', ']', '\'', '"']) {
        return None;
    }
    Some(Target { object: Some(object.to_string()), prefix: prefix.to_string(), start_utf16 })
}

/// The kind of a value as one word, in Python (2.7 and 3.x), for a value named `v`.
const KIND: &str = "('module' if isinstance(v, type(__import__('sys'))) else 'class' if isinstance(v, type) \
else 'property' if isinstance(v, property) else 'function' if callable(v) else 'variable')";

/// One expression whose value is a string of `name<TAB>kind` lines, sorted, for the
/// names that start with the target's prefix.
pub fn expression(target: &Target) -> String {
    let prefix = py_literal(&target.prefix);
    match &target.object {
        None => format!(
            "(lambda d, p: '\\n'.join(sorted(n + '\\t' + (lambda v: {KIND})(v) for n, v in d.items() if n.startswith(p))))\
(dict(list(vars(__import__('builtins' if __import__('sys').version_info[0] >= 3 else '__builtin__')).items()) \
+ list(globals().items()) + list(locals().items())), {prefix})"
        ),
        // Attribute kinds come from the class (an instance's properties are not run),
        // except for modules and classes themselves.
        Some(object) => format!(
            "(lambda o, p: '\\n'.join(sorted(n + '\\t' + (lambda v: {KIND})(getattr(o if isinstance(o, (type, type(__import__('sys')))) else type(o), n, None)) \
for n in dir(o) if n.startswith(p))))(({object}), {prefix})"
        ),
    }
}

/// Reads the evaluation's text back: (name, DAP completion item type).
pub fn parse_result(text: &str) -> Vec<(String, &'static str)> {
    text.lines()
        .filter_map(|line| {
            let (name, kind) = line.split_once('\t').unwrap_or((line, "variable"));
            if name.is_empty() {
                return None;
            }
            let kind = match kind {
                "module" => "module",
                "class" => "class",
                "property" => "property",
                "function" => "function",
                _ => "variable",
            };
            Some((name.to_string(), kind))
        })
        .collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn t(object: Option<&str>, prefix: &str, start: usize) -> Option<Target> {
        Some(Target { object: object.map(String::from), prefix: prefix.to_string(), start_utf16: start })
    }

    #[test]
    fn targets() {
        assert_eq!(target("pri", 3), t(None, "pri", 0));
        assert_eq!(target("x = da", 6), t(None, "da", 4));
        assert_eq!(target("", 0), t(None, "", 0));
        assert_eq!(target("pt.", 3), t(Some("pt"), "", 3));
        assert_eq!(target("len(a.b.c", 9), t(Some("a.b"), "c", 8));
        assert_eq!(target("os.path.jo + 1", 10), t(Some("os.path"), "jo", 8));
        assert_eq!(target("f().x", 5), None);
        assert_eq!(target("x[0].y", 6), None);
        assert_eq!(target("'abc'.up", 8), None);
        assert_eq!(target("1.", 2), None);
        assert_eq!(target("é.x", 3), t(Some("é"), "x", 2));
        assert_eq!(target("😀 + ab", 7), t(None, "ab", 5));
        assert_eq!(target("😀a.b", 5), t(Some("a"), "b", 4));
        assert_eq!(target("é😀.x", 5), None);
    }

    proptest::proptest! {
        /// Any text and cursor: no panic, and the prefix is what precedes the cursor.
        #[test]
        fn target_never_panics(text in "\\PC{0,40}", cursor in 0usize..60) {
            if let Some(t) = target(&text, cursor) {
                let mut units = 0;
                let before: String = text.chars().take_while(|c| { units += c.len_utf16(); units <= cursor }).collect();
                let start: String = String::from_utf16_lossy(&before.encode_utf16().take(t.start_utf16).collect::<Vec<u16>>());
                proptest::prop_assert!(before.starts_with(&start));
                proptest::prop_assert_eq!(&before[start.len()..], t.prefix.as_str());
            }
        }
    }

    /// The expressions, run by a real CPython in a function frame, list what is in scope.
    #[test]
    fn expressions_list_names_in_real_python() {
        let code = format!(
            "import sys, os\nclass P(object):\n    x = 1\n    @property\n    def prop(self): raise Exception('ran')\n    def meth(self): pass\n\
def f():\n    point = P()\n    pointless = 2\n    a = eval({names})\n    b = eval({attrs})\n    c = eval({module})\n    sys.stdout.write(a + '|' + b + '|' + c)\nf()",
            names = py_literal(&expression(&target("poi", 3).unwrap())),
            attrs = py_literal(&expression(&target("point.", 6).unwrap())),
            module = py_literal(&expression(&target("os.pa", 5).unwrap())),
        );
        let out = std::process::Command::new("python3")
            .arg("-c")
            .arg(&code)
            .output()
            .expect("python3 is needed for this test");
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        let parts: Vec<&str> = text.split('|').collect();
        assert_eq!(parts.len(), 3, "{text} {}", String::from_utf8_lossy(&out.stderr));
        assert_eq!(
            parse_result(parts[0]),
            vec![("point".to_string(), "variable"), ("pointless".to_string(), "variable")]
        );
        let attrs = parse_result(parts[1]);
        assert!(attrs.contains(&("meth".to_string(), "function")), "{attrs:?}");
        assert!(attrs.contains(&("prop".to_string(), "property")), "{attrs:?}");
        assert!(attrs.contains(&("x".to_string(), "variable")), "{attrs:?}");
        let module = parse_result(parts[2]);
        assert!(module.contains(&("path".to_string(), "module")), "{module:?}");
        assert!(module.contains(&("pardir".to_string(), "variable")), "{module:?}");
    }
}
