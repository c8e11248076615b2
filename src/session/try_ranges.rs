//! Exception-handler tables for ptvsd's `REQH` query (spec §3.5).
//!
//! Owns: turning a Python source file into the `sehi` answer, the list of `try` statements
//! that have `except` clauses, each as `[line of try, last line of the try body + 1)` plus
//! the handler type names, which is what Visual Studio computed and what
//! `handler_ranges()` in the protocol probes (`probe_v6.py`) reproduces with Python's
//! `ast`. It parses with tree-sitter, which recovers from syntax errors and accepts much
//! Python 2 syntax, so a file that CPython 3 cannot compile still gets a table. It also
//! owns the fallback: when the file cannot be read or parsed, the whole file is declared to
//! handle everything (one `0 .. 2^31-1` statement with `*`), as the spec recommends, so
//! ptvsd never reports an exception as "user-unhandled" only because we could not look.
//!
//! Must not know: the wire protocol, the session, or how a remote path maps to a local one
//! (the caller resolves the path and echoes ptvsd's file name in the reply).
//!
//! Deliberate differences from the reference (`handler_ranges()` in `probe_v6.py`):
//! * A handler type that is not a dotted name (a call, a subscript, `A or B`, …) gives `*`
//!   rather than its source text: ptvsd resolves each expression as a dotted name, so the
//!   text could never match and the exception would be reported as unhandled although
//!   the program catches it.
//! * Nested tuples (`except (A, (B, C)):`) are flattened; Python matches their elements.
//! * Files CPython 3 rejects (syntax errors, Python 2) still get the `try` statements the
//!   parser recovered, where the reference answers "whole file, `*`".
//! * A `try` the parser could not recover (inside an error region) is found by indentation
//!   and, if an `except` follows its body, handles `*` (see [`lost_try`]).
//!
//! Python 2's `except T, name:` means `except T as name:` (Python 3.14 would read it as a
//! tuple, but no ptvsd 2.x/3.x runs on Python 3.12 or later, spec §0).

use std::io::Read;
use std::ops::ControlFlow;
use std::path::Path;
use std::time::{Duration, Instant};

use tree_sitter::{Node, ParseOptions, Parser, Point, Tree};

use crate::legacy::messages::HandlerStatement;

/// Files larger than this are not parsed; they get the whole-file `*` answer.
pub const MAX_SOURCE_BYTES: u64 = 8 * 1024 * 1024;

/// Parsing that takes longer than this is abandoned (whole-file `*`): the raising thread in
/// the debuggee is blocked until we answer.
const PARSE_BUDGET: Duration = Duration::from_secs(5);

/// The expression meaning "handles every exception".
const ANY: &str = "*";

/// The answer for a file we cannot read or parse: every line handles everything.
#[must_use]
pub fn whole_file() -> Vec<HandlerStatement> {
    vec![HandlerStatement { start_line: 0, end_line: i64::from(i32::MAX), expressions: vec![ANY.to_string()] }]
}

/// The `sehi` statements for the file at `local_path`, or [`whole_file`] when there is no
/// local path (`<frozen genericpath>`, zip imports, remote-only files), it cannot be read,
/// it is larger than [`MAX_SOURCE_BYTES`] or it cannot be parsed. Bytes that are not UTF-8
/// are decoded lossily (Python 2 files in Latin-1 and the like: such bytes can only be in
/// strings and comments, which do not matter here, and line numbers are unchanged).
#[must_use]
pub fn answer_for_file(local_path: Option<&Path>) -> Vec<HandlerStatement> {
    let Some(path) = local_path else { return whole_file() };
    let Some(source) = read_source(path) else { return whole_file() };
    parse_handler_ranges(&source).unwrap_or_else(whole_file)
}

/// Reads at most [`MAX_SOURCE_BYTES`]; `None` if the file is missing, unreadable, not a
/// regular file, or larger.
pub(super) fn read_source(path: &Path) -> Option<String> {
    // Checked before opening: opening a FIFO would block.
    let metadata = std::fs::metadata(path).ok()?;
    if !metadata.is_file() || metadata.len() > MAX_SOURCE_BYTES {
        return None;
    }
    let file = std::fs::File::open(path).ok()?;
    let mut bytes = Vec::new();
    // Read one byte past the cap to detect a file that grew after the metadata check.
    file.take(MAX_SOURCE_BYTES + 1).read_to_end(&mut bytes).ok()?;
    if bytes.len() as u64 > MAX_SOURCE_BYTES {
        return None;
    }
    Some(String::from_utf8(bytes).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned()))
}

/// The handler statements of `source`, in source order; [`whole_file`] if it cannot be
/// parsed at all. See [`parse_handler_ranges`].
#[must_use]
pub fn handler_ranges(source: &str) -> Vec<HandlerStatement> {
    parse_handler_ranges(source).unwrap_or_else(whole_file)
}

/// The handler statements of `source`, in source order, or `None` if the parser produced
/// no tree (it could not be set up or ran out of its time budget), so that the caller can
/// fall back to [`whole_file`]. A source with syntax errors still gives the statements of
/// every `try` the parser recovered.
#[must_use]
pub fn parse_handler_ranges(source: &str) -> Option<Vec<HandlerStatement>> {
    let source = normalize(source);
    let tree = parse_source(&source)?;
    let src = source.as_bytes();
    let lines = Lines::new(&source);
    let mut out = Vec::new();
    let mut cursor = tree.walk();
    // Pre-order walk without recursion (files can nest deeply), tracking the parent's kind.
    let mut parents: Vec<&'static str> = Vec::new();
    'walk: loop {
        let node = cursor.node();
        match node.kind() {
            "try_statement" => out.extend(try_statement(node, src, &lines)),
            "try" if !node.is_named() && parents.last() != Some(&"try_statement") => {
                out.extend(lost_try(node.start_position().row, &lines));
            }
            _ => {}
        }
        if cursor.goto_first_child() {
            parents.push(node.kind());
            continue;
        }
        while !cursor.goto_next_sibling() {
            if !cursor.goto_parent() {
                break 'walk;
            }
            parents.pop();
        }
    }
    Some(out)
}

/// Line numbers as CPython counts them: a leading BOM is not part of the source, and `\r`
/// alone ends a line (tree-sitter only counts `\n`).
pub(super) fn normalize(source: &str) -> std::borrow::Cow<'_, str> {
    let source = source.strip_prefix('\u{feff}').unwrap_or(source);
    if source.contains('\r') {
        std::borrow::Cow::Owned(source.replace("\r\n", "\n").replace('\r', "\n"))
    } else {
        std::borrow::Cow::Borrowed(source)
    }
}

/// The tree-sitter tree, or `None` if the grammar cannot be loaded or parsing runs past
/// [`PARSE_BUDGET`].
pub(super) fn parse_source(source: &str) -> Option<Tree> {
    let mut parser = Parser::new();
    parser.set_language(&tree_sitter_python::LANGUAGE.into()).ok()?;
    let deadline = Instant::now() + PARSE_BUDGET;
    let mut progress = |_: &tree_sitter::ParseState| {
        if Instant::now() > deadline {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    };
    let bytes = source.as_bytes();
    parser.parse_with_options(
        &mut |i, _| bytes.get(i..).unwrap_or_default(),
        None,
        Some(ParseOptions::new().progress_callback(&mut progress)),
    )
}

/// 1-based line number of a point.
fn line(point: Point) -> i64 {
    i64::try_from(point.row).unwrap_or(i64::MAX - 1).saturating_add(1)
}

/// The statement for one `try_statement`, or `None` if it has no `except` clause or no
/// handler that can catch anything (`except ():`). A `try` the parser could not make
/// sense of (no body, or neither `except` nor `finally`, which Python would reject) goes
/// to [`lost_try`].
fn try_statement(node: Node<'_>, src: &[u8], lines: &Lines<'_>) -> Option<HandlerStatement> {
    let mut names = Vec::new();
    let (mut excepts, mut finally, mut any) = (false, false, false);
    let mut cursor = node.walk();
    for clause in node.children(&mut cursor) {
        match clause.kind() {
            "finally_clause" => finally = true,
            "except_clause" => {
                excepts = true;
                // Once a bare `except:` (or one we cannot read) is seen, names do not matter.
                any = any || !clause_names(clause, src, &mut names);
            }
            _ => {}
        }
    }
    if any {
        names = vec![ANY.to_string()];
    }
    let body_end = node.child_by_field_name("body").and_then(last_code_line);
    let Some(body_end) = body_end.filter(|_| excepts || finally) else {
        return lost_try(node.start_position().row, lines);
    };
    if !excepts || names.is_empty() {
        return None;
    }
    Some(HandlerStatement {
        start_line: line(node.start_position()),
        end_line: body_end.saturating_add(1),
        expressions: names,
    })
}

/// Appends the type names one `except` clause handles; `false` if it handles everything
/// (bare `except:`) or we cannot tell which types it handles.
fn clause_names(clause: Node<'_>, src: &[u8], names: &mut Vec<String>) -> bool {
    let mut values = Vec::new();
    let mut has_alias = false;
    let mut cursor = clause.walk();
    for (i, child) in clause.children(&mut cursor).enumerate() {
        if child.kind() == "block" {
            break;
        }
        if child.is_error() || child.is_missing() {
            return false;
        }
        match clause.field_name_for_child(u32::try_from(i).unwrap_or(u32::MAX)) {
            Some("value") => values.push(child),
            Some("alias") => has_alias = true,
            _ => {}
        }
    }
    // `except T as name:` parses as one value, an `as_pattern`.
    let values: Vec<Node<'_>> = values.into_iter().map(strip_as_pattern).collect();
    match values.as_slice() {
        [] => false,
        [value] => type_names(*value, src, names),
        // Python 2's `except T, target:`. (Python 3.14 reads it as `except (T, target):`, but
        // no ptvsd 2.x/3.x runs on Python 3.12 or later, spec §0.)
        [value, _target] if !has_alias => type_names(*value, src, names),
        // Not valid Python in any version ptvsd runs on: we cannot tell.
        _ => false,
    }
}

/// Appends the dotted names a handler type expression stands for (tuples element by
/// element, nested tuples flattened); `false` if some part is not a dotted name.
fn type_names(expr: Node<'_>, src: &[u8], names: &mut Vec<String>) -> bool {
    // Explicit stack, in reverse so names come out in source order: tuples can nest deeply.
    let mut stack = vec![expr];
    while let Some(expr) = stack.pop() {
        if expr.has_error() {
            return false;
        }
        let expr = unparenthesize(expr);
        if expr.kind() == "tuple" {
            let mut cursor = expr.walk();
            let elements: Vec<Node<'_>> = expr.named_children(&mut cursor).filter(|c| !c.is_extra()).collect();
            stack.extend(elements.into_iter().rev());
            continue;
        }
        match dotted_name(expr, src) {
            Some(name) => names.push(name),
            None => return false,
        }
    }
    true
}

/// `T as name` → `T`.
fn strip_as_pattern(expr: Node<'_>) -> Node<'_> {
    if expr.kind() != "as_pattern" {
        return expr;
    }
    let mut cursor = expr.walk();
    let inner = expr.named_children(&mut cursor).find(|c| !c.is_extra());
    inner.unwrap_or(expr)
}

/// `(x)` → `x`, any depth.
fn unparenthesize(mut expr: Node<'_>) -> Node<'_> {
    while expr.kind() == "parenthesized_expression" {
        let mut cursor = expr.walk();
        let inner = expr.named_children(&mut cursor).find(|c| !c.is_extra());
        match inner {
            Some(inner) => expr = inner,
            None => break,
        }
    }
    expr
}

/// `name` or `a.b.c` as Python would print it (no spaces, comments or parentheses), or
/// `None` for any other expression.
fn dotted_name(expr: Node<'_>, src: &[u8]) -> Option<String> {
    let mut parts = Vec::new();
    let mut expr = unparenthesize(expr);
    loop {
        match expr.kind() {
            "identifier" => {
                parts.push(expr.utf8_text(src).ok()?);
                break;
            }
            "attribute" => {
                parts.push(expr.child_by_field_name("attribute")?.utf8_text(src).ok()?);
                expr = unparenthesize(expr.child_by_field_name("object")?);
            }
            _ => return None,
        }
    }
    parts.reverse();
    Some(parts.join("."))
}

/// The 1-based line of the last token of `node` that is code (not a comment, not a
/// zero-width token the parser invented), as CPython's `end_lineno` would give it.
fn last_code_line(node: Node<'_>) -> Option<i64> {
    // Reverse pre-order walk: the first leaf found is the last one.
    let mut stack = vec![node];
    while let Some(node) = stack.pop() {
        if node.is_extra() {
            continue;
        }
        let count = node.child_count();
        if count == 0 {
            let (start, end) = (node.start_position(), node.end_position());
            if start == end {
                continue;
            }
            // A token ending with its newline ends on the line before.
            let row = if end.column == 0 && end.row > start.row { end.row - 1 } else { end.row };
            return Some(line(Point { row, column: 0 }));
        }
        let mut cursor = node.walk();
        stack.extend(node.children(&mut cursor));
    }
    None
}

/// The source's lines with their indentation, split only if a [`lost_try`] needs them.
struct Lines<'a> {
    source: &'a str,
    lines: std::cell::OnceCell<Vec<(&'a str, Option<usize>)>>,
    /// The last row [`lost_try`] scanned from: several `try` tokens on one line (not valid
    /// Python, but possible input) are scanned once.
    last_row: std::cell::Cell<Option<usize>>,
}

impl<'a> Lines<'a> {
    fn new(source: &'a str) -> Self {
        Self { source, lines: std::cell::OnceCell::new(), last_row: std::cell::Cell::new(None) }
    }

    /// Each line with its [`indent_width`].
    fn get(&self) -> &[(&'a str, Option<usize>)] {
        self.lines.get_or_init(|| self.source.split('\n').map(|text| (text, indent_width(text))).collect())
    }
}

/// A `try` whose statement the parser could not recover (it sits in an error region, or
/// the parser lost its clauses): found by indentation, as Python reads it. The body runs to
/// the last code line before the next line indented no deeper than the `try`; if that line
/// is an `except`, the statement handles `*`, as which types it names is unknown. `None`
/// if there is no `except` there (a `try/finally`, or text we cannot follow, e.g. a
/// multi-line string at column 0 inside the body).
///
/// Cost: a line is scanned at most once per indentation level shallower than its own, so
/// all scans together stay linear in the size of the file.
fn lost_try(row: usize, lines: &Lines<'_>) -> Option<HandlerStatement> {
    if lines.last_row.replace(Some(row)) == Some(row) {
        return None;
    }
    let lines = lines.get();
    let indent = lines.get(row)?.1?;
    let mut last_body = row;
    let mut handler = None;
    for (r, (_, width)) in lines.iter().enumerate().skip(row.saturating_add(1)) {
        let Some(width) = *width else { continue };
        if width <= indent {
            handler = Some(r);
            break;
        }
        last_body = r;
    }
    let rest = lines.get(handler?)?.0.trim_start().strip_prefix("except")?;
    if rest.starts_with(|c: char| c.is_alphanumeric() || c == '_') {
        return None;
    }
    let start_line = i64::try_from(row).ok()?.checked_add(1)?;
    let end_line = i64::try_from(last_body).ok()?.checked_add(2)?;
    Some(HandlerStatement { start_line, end_line, expressions: vec![ANY.to_string()] })
}

/// The indentation of a line as Python measures it (tabs to the next multiple of 8, a
/// form feed resets), or `None` for a blank or comment-only line.
fn indent_width(text: &str) -> Option<usize> {
    let mut width = 0usize;
    for c in text.chars() {
        match c {
            ' ' => width = width.saturating_add(1),
            '\t' => width = (width / 8).saturating_add(1).saturating_mul(8),
            '\x0c' => width = 0,
            '\r' | '\n' | '#' => return None,
            _ => return Some(width),
        }
    }
    None
}

/// Runs `script` under `python3 -c` with `input` as JSON on its stdin and reads its stdout
/// as JSON: the CPython `ast` references the tree-sitter readers here and in `functions`
/// are checked against. Fails (never skips) when there is no `python3`.
#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
pub(super) fn run_python_reference<I: serde::Serialize + ?Sized, O: serde::de::DeserializeOwned>(
    script: &str,
    input: &I,
) -> O {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let mut child = Command::new("python3")
        .args(["-c", script])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("this test needs python3 on PATH to run the reference: {e}"))
        .unwrap();
    child.stdin.take().unwrap().write_all(&serde_json::to_vec(input).unwrap()).unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success(), "reference failed: {}", String::from_utf8_lossy(&output.stderr));
    serde_json::from_slice(&output.stdout).unwrap()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {

    use proptest::prelude::*;

    use super::*;

    /// `handler_ranges()` from `probe_v6.py` on each source of a JSON list read from stdin,
    /// printing a JSON list of `[[start, end, [names]], …]`. Only the input differs: it
    /// takes the source instead of a file name (still parsed as bytes, like the original,
    /// so BOMs and `\r` line ends count as CPython counts them). Before Python 3.11,
    /// `except*` is read as `except`, which the reference treats alike.
    const REFERENCE: &str = r#"
import ast, json, sys

def handler_ranges(source):
    out = []
    try:
        tree = ast.parse(source)
    except Exception:
        return [(0, 2 ** 31 - 1, ['*'])]
    for node in ast.walk(tree):
        if not isinstance(node, ast.Try) and type(node).__name__ != 'TryStar':
            continue
        if not node.handlers:
            continue          # try/finally only: handles nothing
        names = []
        for h in node.handlers:
            if h.type is None:
                names = ['*']
                break
            elts = h.type.elts if isinstance(h.type, ast.Tuple) else [h.type]
            for e in elts:
                try:
                    names.append(ast.unparse(e))
                except Exception:
                    pass
        if names:
            out.append((node.lineno, node.body[-1].end_lineno + 1, names))
    return out

assert sys.version_info >= (3, 9), 'the reference needs ast.unparse (Python 3.9+)'
results = []
for source in json.load(sys.stdin):
    if sys.version_info < (3, 11):
        source = source.replace('except*', 'except ')
    results.append(handler_ranges(source.encode('utf-8')))
json.dump(results, sys.stdout)
"#;

    /// Runs [`REFERENCE`] under `python3`. Fails (never skips) when there is no `python3`.
    fn reference(sources: &[&str]) -> Vec<Vec<HandlerStatement>> {
        let parsed: Vec<Vec<(i64, i64, Vec<String>)>> = run_python_reference(REFERENCE, sources);
        parsed
            .into_iter()
            .map(|file| {
                file.into_iter()
                    .map(|(start_line, end_line, expressions)| HandlerStatement { start_line, end_line, expressions })
                    .collect()
            })
            .collect()
    }

    /// Statements in a canonical order (the reference walks breadth-first, we in source order;
    /// ptvsd does not care).
    fn sorted(mut statements: Vec<HandlerStatement>) -> Vec<HandlerStatement> {
        statements.sort_by(|a, b| {
            (a.start_line, a.end_line, &a.expressions).cmp(&(b.start_line, b.end_line, &b.expressions))
        });
        statements
    }

    fn st(start_line: i64, end_line: i64, expressions: &[&str]) -> HandlerStatement {
        HandlerStatement { start_line, end_line, expressions: expressions.iter().map(|e| e.to_string()).collect() }
    }

    /// A snippet checked against the reference. `reference_source`, when set, is what the
    /// reference parses instead: the same program with the same line layout in Python 3
    /// syntax, for inputs CPython 3 rejects (where we deliberately do better than the
    /// reference's whole-file answer).
    struct Case {
        name: &'static str,
        source: &'static str,
        reference_source: Option<&'static str>,
    }

    const fn case(name: &'static str, source: &'static str) -> Case {
        Case { name, source, reference_source: None }
    }

    const fn case_as(name: &'static str, source: &'static str, reference_source: &'static str) -> Case {
        Case { name, source, reference_source: Some(reference_source) }
    }

    const CASES: &[Case] = &[
        case("one type", "import os\ntry:\n    os.remove('x')\nexcept OSError:\n    pass\n"),
        case("tuple", "try:\n    f()\nexcept (ValueError, KeyError, IndexError):\n    pass\n"),
        case(
            "one-element tuple and parenthesized name",
            "try:\n    f()\nexcept (ValueError,):\n    pass\ntry:\n    f()\nexcept (KeyError):\n    pass\n",
        ),
        case(
            "dotted names",
            "import os, socket\ntry:\n    f()\nexcept os.error:\n    pass\nexcept (socket . timeout, os.path.Error):\n    pass\n",
        ),
        case("bare except", "try:\n    f()\nexcept:\n    pass\n"),
        case("as", "try:\n    f()\nexcept ValueError as e:\n    print(e)\nexcept (KeyError, OSError) as e:\n    pass\n"),
        case(
            "multiple clauses",
            "try:\n    f()\nexcept ValueError:\n    pass\nexcept KeyError:\n    pass\nexcept (OSError, IOError):\n    pass\n",
        ),
        case("bare except after named ones", "try:\n    f()\nexcept ValueError:\n    pass\nexcept:\n    raise\n"),
        case("empty tuple catches nothing", "try:\n    f()\nexcept ():\n    pass\n"),
        case(
            "else and finally",
            "try:\n    a = 1\n    b = 2\nexcept ValueError:\n    pass\nelse:\n    c = 3\nfinally:\n    d = 4\n",
        ),
        case("try/finally only", "try:\n    f()\nfinally:\n    g()\n"),
        case(
            "nested everywhere",
            "try:\n    try:\n        f()\n    except KeyError:\n        pass\nexcept ValueError:\n    try:\n        g()\n    \
             except OSError:\n        pass\nelse:\n    try:\n        h()\n    except:\n        pass\nfinally:\n    try:\n        \
             i()\n    finally:\n        j()\n        try:\n            k()\n        except IndexError:\n            pass\n",
        ),
        case(
            "inside compound statements",
            "import contextlib\n\ndef f():\n    try:\n        g()\n    except ValueError:\n        pass\n\nclass C(object):\n    \
             try:\n        import json\n    except ImportError:\n        json = None\n\n    @staticmethod\n    def m():\n        \
             with contextlib.suppress(KeyError):\n            try:\n                g()\n            except OSError:\n                \
             pass\n\nif True:\n    try:\n        g()\n    except A:\n        pass\nelif False:\n    try: g()\n    except B: pass\n\
             else:\n    try:\n        g()\n    except C: pass\n\nfor i in range(3):\n    try:\n        g()\n    except D:\n        \
             continue\nelse:\n    pass\n\nwhile False:\n    try:\n        g()\n    except E:\n        break\n\nasync def co():\n    \
             async with x:\n        async for y in z:\n            try:\n                await g()\n            except F:\n                \
             pass\n\nlam = [x for x in range(3)]\n",
        ),
        case(
            "body ends with comments and blank lines",
            "try:\n    a = 1\n\n    b = 2\n    # the end\n\n        # indented comment\n\nexcept ValueError:\n    pass\n",
        ),
        case(
            "body ends with a compound statement and comments",
            "def f(x):\n    try:\n        if x:\n            g()\n            # inside the if\n        # after the if\n    # dedented\n    \
             except ValueError:\n        pass\n",
        ),
        case(
            "body ends with multi-line expressions",
            "try:\n    x = '''\nmulti\nline\n'''\nexcept A:\n    pass\ntry:\n    y = f(\n        1,\n        2,\n    )\nexcept B:\n    \
             pass\ntry:\n    z = 1 + \\\n        2\nexcept C:\n    pass\ntry:\n    def inner():\n        return 1\nexcept D:\n    pass\n",
        ),
        case("one-liners and semicolons", "try: f(); g()\nexcept ValueError: pass\ntry:\n    a = 1; b = 2\nexcept: pass\n"),
        case(
            "except star",
            "try:\n    raise ExceptionGroup('x', [ValueError()])\nexcept* ValueError:\n    pass\n\
             except* (KeyError, os.error) as eg:\n    pass\n",
        ),
        case("empty file", ""),
        case("comments only", "# nothing\n\n# here\n"),
        case("no try", "import sys\nprint(sys.argv)\n"),
        case("tabs", "if 1:\n\ttry:\n\t\tf()\n\t\t# tab comment\n\texcept\tValueError :\n\t\tpass\n"),
        case("CRLF", "x = 1\r\ntry:\r\n    f()\r\n\r\nexcept ValueError:\r\n    pass\r\n"),
        case("CR only", "x = 1\rtry:\r    f()\rexcept ValueError:\r    pass\r"),
        case("BOM", "\u{feff}import os\ntry:\n    f()\nexcept KeyError:\n    pass\n"),
        case("non-ASCII names", "s = 'héllo'\ntry:\n    f()\nexcept Ошибка:\n    pass\nexcept (модуль.Ошибка, B):\n    pass\n"),
        case(
            "comments inside the handler list",
            "try:\n    f()\nexcept (ValueError,  # one\n        os . error  # two\n        ):\n    pass\n",
        ),
        case_as(
            "Python 2 except comma",
            "try:\n    f()\nexcept ValueError, e:\n    print e\nexcept (KeyError, IndexError), e:\n    pass\n",
            "try:\n    f()\nexcept ValueError as e:\n    print(e)\nexcept (KeyError, IndexError) as e:\n    pass\n",
        ),
        case_as(
            "Python 2 file",
            "import sys\nprint 'start'\nx = `sys.argv`\nn = 0777 + 12L\ndef f((a, b)):\n    try:\n        \
             exec 'a = 1' in globals()\n    except SyntaxError, e:\n        print >>sys.stderr, e\n        \
             raise ValueError, 'bad'\n    return a <> b\n\nclass C:\n    def m(self):\n        try:\n            pass\n        \
             except:\n            pass\n",
            "import sys\nprint('start')\nx = repr(sys.argv)\nn = 0o777 + 12\ndef f(ab):\n    try:\n        \
             exec('a = 1', globals())\n    except SyntaxError as e:\n        print(e, file=sys.stderr)\n        \
             raise ValueError('bad')\n    return a != b\n\nclass C:\n    def m(self):\n        try:\n            pass\n        \
             except:\n            pass\n",
        ),
        case_as(
            "syntax error elsewhere",
            "def f():\n    try:\n        g()\n    except ValueError:\n        pass\n\nx = = 3\n\ntry:\n    h()\n\
             except KeyError:\n    pass\ny = )\ntry:\n    i()\nexcept (OSError, IOError):\n    pass\n",
            "def f():\n    try:\n        g()\n    except ValueError:\n        pass\n\nx = 3\n\ntry:\n    h()\n\
             except KeyError:\n    pass\ny = 0\ntry:\n    i()\nexcept (OSError, IOError):\n    pass\n",
        ),
    ];

    #[test]
    fn matches_the_reference() {
        let sources: Vec<&str> = CASES.iter().map(|c| c.reference_source.unwrap_or(c.source)).collect();
        let expected = reference(&sources);
        assert_eq!(expected.len(), CASES.len());
        let mut failures = Vec::new();
        for (case, expected) in CASES.iter().zip(expected) {
            let ours = sorted(handler_ranges(case.source));
            let expected = sorted(expected);
            if ours != expected {
                failures.push(format!("{}:\n  ours:      {ours:?}\n  reference: {expected:?}", case.name));
            }
        }
        assert!(failures.is_empty(), "differences from the reference:\n{}", failures.join("\n"));
    }

    /// Guards the comparison itself: the reference cases must exercise real statements.
    #[test]
    fn reference_cases_are_not_trivial() {
        let total: usize = CASES.iter().map(|c| handler_ranges(c.source).len()).sum();
        assert!(total >= 40, "only {total} statements across the reference cases");
    }

    #[test]
    fn hand_checked() {
        let src = "import os\ntry:\n    a()\n    b()\n    # comment\n\nexcept (ValueError, os.error) as e:\n    pass\n\
                   except:\n    pass\n";
        assert_eq!(handler_ranges(src), vec![st(2, 5, &["*"])]);
        let src = "try:\n    a()\n\n    b()\n\n# comment\nexcept (ValueError, os . error) as e:\n    pass\n\
                   finally:\n    pass\n";
        assert_eq!(handler_ranges(src), vec![st(1, 5, &["ValueError", "os.error"])]);
        assert_eq!(handler_ranges("try:\n    pass\nfinally:\n    pass\n"), vec![]);
        assert_eq!(handler_ranges(""), vec![]);
        let nested =
            "def f():\n    try:\n        try:\n            g()\n        except KeyError:\n            pass\n    \
                      except ValueError, e:\n        pass\n";
        assert_eq!(handler_ranges(nested), vec![st(2, 7, &["ValueError"]), st(3, 5, &["KeyError"])]);
        assert_eq!(handler_ranges("try:\n    f()\nexcept* ValueError:\n    pass\n"), vec![st(1, 3, &["ValueError"])]);
    }

    /// Where we deliberately differ from the reference (module doc).
    #[test]
    fn deliberate_differences() {
        // Not a dotted name: ptvsd could never resolve the text, so `*`.
        assert_eq!(handler_ranges("try:\n    f()\nexcept get_errors():\n    pass\n"), vec![st(1, 3, &["*"])]);
        assert_eq!(handler_ranges("try:\n    f()\nexcept ERRORS[0]:\n    pass\n"), vec![st(1, 3, &["*"])]);
        assert_eq!(handler_ranges("try:\n    f()\nexcept (A, B or C):\n    pass\n"), vec![st(1, 3, &["*"])]);
        // Nested tuples are flattened.
        assert_eq!(
            handler_ranges("try:\n    f()\nexcept (A, (B, (C,))):\n    pass\n"),
            vec![st(1, 3, &["A", "B", "C"])]
        );
        // A Python 2 binding target of any shape is not a handled type.
        assert_eq!(handler_ranges("try:\n    f()\nexcept A, (x, y):\n    pass\n"), vec![st(1, 3, &["A"])]);
        assert_eq!(handler_ranges("try:\n    f()\nexcept A, self.err:\n    pass\n"), vec![st(1, 3, &["A"])]);
    }

    #[test]
    fn syntax_errors_keep_what_was_recovered() {
        // An unclosed bracket swallows the rest of its `try`: found by indentation, `*`.
        let src = "def f():\n    try:\n        g(a\n    except ValueError:\n        pass\n\ntry:\n    ok()\n\
                   except OSError:\n    pass\n";
        let ours = sorted(handler_ranges(src));
        assert!(ours.contains(&st(2, 4, &["*"])), "{ours:?}");
        assert!(ours.iter().all(|s| s.start_line >= 1 && s.end_line > s.start_line && !s.expressions.is_empty()));
        // A mangled handler list handles `*` rather than nothing.
        let ours = handler_ranges("try:\n    f()\nexcept ValueError e:\n    pass\nx = 1\n");
        assert_eq!(ours, vec![st(1, 3, &["*"])]);
        // A lone `try` with no `except` anywhere gives nothing.
        let ours = handler_ranges("try:\n    f()\nx = 1\n");
        assert_eq!(ours, vec![]);
    }

    #[test]
    fn pathological_inputs_do_not_panic() {
        let deep_parens = format!("x = {}1{}\n", "(".repeat(50_000), ")".repeat(50_000));
        let _ = handler_ranges(&deep_parens);
        let deep_tuple = format!("try:\n    f()\nexcept {}A{}:\n    pass\n", "(A, ".repeat(20_000), ")".repeat(20_000));
        assert_eq!(handler_ranges(&deep_tuple).first().map(|s| s.expressions.len()), Some(20_001));
        let staircase: String = (0..2_000).map(|i| format!("{}try:\n", " ".repeat(i))).collect();
        let _ = handler_ranges(&staircase);
        let _ = handler_ranges("\0\u{1}\u{fffd}try:\n\texcept");
        // Many `try` tokens on one line, then many deeper lines: each line scanned once.
        let one_line = format!("{}\n{}", "try: ".repeat(20_000), "  x\n".repeat(20_000));
        let _ = handler_ranges(&one_line);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn never_panics_and_ranges_are_sane(
            parts in proptest::collection::vec(
                prop_oneof![
                    Just("try:"), Just("except"), Just(" ValueError"), Just(", e"), Just(" as e"), Just(":"),
                    Just("finally:"), Just("else:"), Just("\n"), Just("    "), Just("\t"), Just("pass"),
                    Just("("), Just(")"), Just("'''"), Just("#"), Just("\\\n"), Just("\r"), Just("x = 1"),
                    Just("def f():"), Just("*"), Just("."), Just("é"),
                ],
                0..60,
            )
        ) {
            let source: String = parts.concat();
            for s in handler_ranges(&source) {
                prop_assert!(s.start_line >= 1 && s.end_line > s.start_line, "{s:?} in {source:?}");
                prop_assert!(!s.expressions.is_empty());
                prop_assert!(s.expressions.iter().all(|e| !e.is_empty() && e != "-"));
            }
        }
    }

    #[test]
    fn answer_falls_back_to_the_whole_file() {
        assert_eq!(whole_file(), vec![st(0, 2_147_483_647, &["*"])]);
        assert_eq!(answer_for_file(None), whole_file());
        assert_eq!(answer_for_file(Some(Path::new("<frozen genericpath>"))), whole_file());
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(answer_for_file(Some(&dir.path().join("missing.py"))), whole_file());
        assert_eq!(answer_for_file(Some(dir.path())), whole_file());
        let big = dir.path().join("big.py");
        let mut text = String::from("try:\n    f()\nexcept ValueError:\n    pass\n");
        while text.len() <= 9 * 1024 * 1024 {
            text.push_str("x = 1\n");
        }
        std::fs::write(&big, &text).unwrap();
        assert_eq!(answer_for_file(Some(&big)), whole_file());
    }

    #[test]
    fn answer_reads_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.py");
        // Latin-1 bytes in a Python 2 file: decoded lossily, lines unchanged.
        let mut bytes =
            b"# -*- coding: latin-1 -*-\ns = '\xe9t\xe9'\ntry:\n    f()\nexcept KeyError, e:\n    pass\n".to_vec();
        bytes.extend_from_slice(b"try:\n    g()\nfinally:\n    pass\n");
        std::fs::write(&path, bytes).unwrap();
        assert_eq!(answer_for_file(Some(&path)), vec![st(3, 5, &["KeyError"])]);
        let empty = dir.path().join("empty.py");
        std::fs::write(&empty, "").unwrap();
        assert_eq!(answer_for_file(Some(&empty)), vec![]);
    }
}
