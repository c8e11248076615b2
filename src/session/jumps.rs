//! Which "set next statement" jumps are safe to ask ptvsd for.
//!
//! Owns: [`check_jump`], which decides from the source of the running file whether moving
//! the innermost frame from one line to another is a jump CPython (2.7 to 3.10) performs
//! cleanly. It has to be decided before asking: binary ptvsd (2.2, 3.0) keeps a lock held
//! when CPython refuses a jump, and its debugger is then deadlocked for good (seen on
//! CPython 3.6: no reply, the program never runs again); and CPython accepts some jumps
//! that corrupt the frame (into an `except` body, onto the continuation line of a
//! statement). So it only allows what is clearly fine: to a line that starts a statement
//! with code, in the same function, not into a loop, `with` or `try` body from outside
//! it, and never into, out of or within an `except` or `finally` clause.
//! Must not know: the session or the wire.

use tree_sitter::{Node, Parser, Tree};

/// A block a line can be inside of, as CPython's block stack sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Block {
    /// The body of a `for` or `while` loop.
    Loop,
    /// The body of a `with`.
    With,
    /// The body of a `try`.
    Try,
    /// The `else` of a `try` that also has a `finally` (inside the finally's block).
    TryElse,
    /// An `except` clause: entering or leaving one corrupts the block stack.
    Except,
    /// A `finally` clause: CPython refuses jumps into or out of one.
    Finally,
}

/// One line's place in the source: its innermost statement, the scope it runs in
/// (function, class or module) and the blocks around it, innermost last.
struct Place<'t> {
    statement: Node<'t>,
    scope: Node<'t>,
    blocks: Vec<(usize, Block)>,
}

/// `Ok` if moving the innermost frame from `current` to `target` (1-based lines of
/// `source`) is safe; otherwise why not, as a sentence for the user.
pub fn check_jump(source: &str, current: i64, target: i64) -> Result<(), String> {
    let source = normalize(source);
    let tree = parse(&source).ok_or("the file could not be parsed, so the jump cannot be checked")?;
    if tree.root_node().has_error() {
        return Err("the file has syntax errors, so the jump cannot be checked".to_string());
    }
    let src = source.as_bytes();
    let to_row = |line: i64| usize::try_from(line).ok().and_then(|l| l.checked_sub(1));
    let (Some(current_row), Some(target_row)) = (to_row(current), to_row(target)) else {
        return Err(format!("line {target} is not in the file"));
    };
    let here = place_containing(&tree, current_row)
        .ok_or_else(|| format!("line {current} (where the thread is) is not in a statement of the file"))?;
    let Some(there) = place_starting(&tree, target_row) else {
        return Err(format!("line {target} does not start a statement: pick the first line of one"));
    };
    if there.scope.id() != here.scope.id() {
        return Err(format!(
            "line {target} is outside the function that is running (only its own lines can be jumped to)"
        ));
    }
    if !has_code(there.statement, src) {
        return Err(format!("line {target} has no code to run (`pass`, `global`, a docstring): pick another line"));
    }
    let forbidden = |blocks: &[(usize, Block)]| blocks.iter().any(|(_, b)| matches!(b, Block::Except | Block::Finally));
    if forbidden(&here.blocks) {
        return Err(
            "the thread is in an `except` or `finally` clause, which Python cannot jump out of safely".to_string()
        );
    }
    if forbidden(&there.blocks) {
        return Err(format!("line {target} is in an `except` or `finally` clause, which Python cannot jump into"));
    }
    if let Some((_, block)) = there.blocks.iter().find(|b| !here.blocks.contains(b)) {
        let what = match block {
            Block::Loop => "a loop",
            Block::With => "a `with` block",
            _ => "a `try` block",
        };
        return Err(format!(
            "line {target} is inside {what} that the thread is not in: Python cannot jump into the middle of a block"
        ));
    }
    Ok(())
}

/// Line numbers as CPython counts them (no BOM, `\r` and `\r\n` end lines).
fn normalize(source: &str) -> String {
    let source = source.strip_prefix('\u{feff}').unwrap_or(source);
    source.replace("\r\n", "\n").replace('\r', "\n")
}

fn parse(source: &str) -> Option<Tree> {
    let mut parser = Parser::new();
    parser.set_language(&tree_sitter_python::LANGUAGE.into()).ok()?;
    parser.parse(source, None)
}

/// A statement: a named node directly in a `block` or the module.
fn is_statement(node: Node<'_>) -> bool {
    node.is_named() && !node.is_extra() && node.parent().is_some_and(|p| matches!(p.kind(), "block" | "module"))
}

/// All statements, in pre-order (outer before inner).
fn statements<'t>(tree: &'t Tree) -> Vec<Node<'t>> {
    let mut out = Vec::new();
    let mut stack = vec![tree.root_node()];
    while let Some(node) = stack.pop() {
        if is_statement(node) {
            out.push(node);
        }
        let mut cursor = node.walk();
        let children: Vec<Node<'t>> = node.children(&mut cursor).collect();
        stack.extend(children.into_iter().rev());
    }
    out
}

/// The place of the innermost statement that starts on `row`.
fn place_starting(tree: &Tree, row: usize) -> Option<Place<'_>> {
    let statement = statements(tree).into_iter().rfind(|s| s.start_position().row == row)?;
    Some(place(statement))
}

/// The place of the innermost statement whose lines include `row`.
fn place_containing(tree: &Tree, row: usize) -> Option<Place<'_>> {
    let statement =
        statements(tree).into_iter().rfind(|s| s.start_position().row <= row && row <= s.end_position().row)?;
    Some(place(statement))
}

fn contains(outer: Node<'_>, inner: Node<'_>) -> bool {
    outer.start_byte() <= inner.start_byte() && inner.end_byte() <= outer.end_byte()
}

/// The scope and blocks around a statement.
fn place(statement: Node<'_>) -> Place<'_> {
    let mut blocks = Vec::new();
    let mut scope = None;
    let mut node = statement;
    while let Some(parent) = node.parent() {
        match parent.kind() {
            "function_definition" | "class_definition" | "lambda" => {
                scope = Some(parent);
                break;
            }
            "for_statement" | "while_statement"
                if parent.child_by_field_name("body").is_some_and(|b| contains(b, statement)) =>
            {
                blocks.push((parent.id(), Block::Loop));
            }
            "with_statement" if parent.child_by_field_name("body").is_some_and(|b| contains(b, statement)) => {
                blocks.push((parent.id(), Block::With));
            }
            "try_statement" => {
                let has_finally = {
                    let mut cursor = parent.walk();
                    let found = parent.children(&mut cursor).any(|c| c.kind() == "finally_clause");
                    found
                };
                match node.kind() {
                    "except_clause" | "except_group_clause" => blocks.push((parent.id(), Block::Except)),
                    "finally_clause" => blocks.push((parent.id(), Block::Finally)),
                    "else_clause" if has_finally => blocks.push((parent.id(), Block::TryElse)),
                    "else_clause" => {}
                    _ => blocks.push((parent.id(), Block::Try)),
                }
            }
            _ => {}
        }
        node = parent;
    }
    blocks.reverse();
    Place { statement, scope: scope.unwrap_or_else(|| root(statement)), blocks }
}

fn root(mut node: Node<'_>) -> Node<'_> {
    while let Some(parent) = node.parent() {
        node = parent;
    }
    node
}

/// Whether a statement compiles to code on its own line: `pass`, `global`, `nonlocal` and
/// constant expression statements (docstrings, `...`) compile to nothing, and a jump to
/// them would land on whatever code follows.
fn has_code(statement: Node<'_>, src: &[u8]) -> bool {
    match statement.kind() {
        "pass_statement" | "global_statement" | "nonlocal_statement" => false,
        "expression_statement" => {
            let mut cursor = statement.walk();
            let parts: Vec<Node<'_>> = statement.named_children(&mut cursor).filter(|c| !c.is_extra()).collect();
            let constant = |n: &Node<'_>| {
                matches!(
                    n.kind(),
                    "string" | "concatenated_string" | "ellipsis" | "integer" | "float" | "true" | "false" | "none"
                )
            };
            let only_a_constant = parts.len() == 1 && constant(&parts[0]);
            let empty = statement.utf8_text(src).is_ok_and(|t| t.trim().is_empty());
            !only_a_constant && !empty
        }
        _ => true,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const SOURCE: &str = r#"import os

def count(i):
    """Doc."""
    counter = i * 3
    counter += (100 +
                1)
    for x in range(3):
        counter += x
        if x:
            counter -= 1
    else:
        counter += 0
    try:
        counter += 1
    except ValueError:
        counter = 0
    finally:
        pass
    with open(os.devnull) as f:
        f.read()
    while counter > 1000:
        counter -= 1
    pass
    return counter

def other():
    return 1

x = count(1)
"#;

    fn line(text: &str) -> i64 {
        SOURCE.lines().position(|l| l.contains(text)).unwrap() as i64 + 1
    }

    fn ok(from: &str, to: &str) -> bool {
        check_jump(SOURCE, line(from), line(to)).is_ok()
    }

    fn why(from: &str, to: &str) -> String {
        check_jump(SOURCE, line(from), line(to)).unwrap_err()
    }

    #[test]
    fn allowed_jumps() {
        assert!(ok("counter = i * 3", "return counter"));
        assert!(ok("return counter", "counter = i * 3"));
        assert!(ok("counter = i * 3", "for x in range(3)"));
        assert!(ok("counter = i * 3", "try:"));
        assert!(ok("counter = i * 3", "with open"));
        // Out of a loop, within a loop, back to its header, within a nested if.
        assert!(ok("counter += x", "return counter"));
        assert!(ok("counter -= 1", "counter += x"));
        assert!(ok("counter += x", "for x in range(3)"));
        assert!(ok("counter += x", "counter -= 1"));
        // Out of a try body or a with body.
        assert!(ok("counter += 1", "return counter"));
        assert!(ok("f.read()", "return counter"));
        // A loop's else is outside the loop's block.
        assert!(ok("counter = i * 3", "counter += 0"));
        // Module level.
        assert!(ok("x = count(1)", "import os"));
    }

    #[test]
    fn refused_jumps() {
        assert!(why("counter = i * 3", "counter += x").contains("inside a loop"));
        assert!(why("counter = i * 3", "counter -= 1").contains("inside a loop"));
        assert!(why("counter = i * 3", "counter += 1").contains("`try` block"));
        assert!(why("counter = i * 3", "f.read()").contains("`with` block"));
        assert!(why("counter = i * 3", "counter = 0").contains("`except`"));
        assert!(why("counter = 0", "return counter").contains("`except`"));
        assert!(why("counter = i * 3", "except ValueError").contains("does not start a statement"));
        assert!(why("counter = i * 3", "1)").contains("does not start a statement"));
        assert!(why("counter = i * 3", "\"\"\"Doc").contains("no code"));
        assert!(why("counter = i * 3", "    pass").contains("no code"));
        assert!(why("counter = i * 3", "return 1").contains("outside the function"));
        assert!(why("counter = i * 3", "x = count(1)").contains("outside the function"));
        assert!(why("counter = i * 3", "def other").contains("outside the function"));
        assert!(check_jump(SOURCE, line("counter = i * 3"), 0).is_err());
        assert!(check_jump(SOURCE, line("counter = i * 3"), 9999).is_err());
        assert!(check_jump("def f(:\n  x = 1\n", 2, 2).unwrap_err().contains("syntax errors"));
    }

    #[test]
    fn finally_and_try_else() {
        let source = "def f():\n    try:\n        a = 1\n    except E:\n        a = 2\n    else:\n        a = 3\n    finally:\n        a = 4\n    return a\n";
        assert!(check_jump(source, 3, 10).is_ok());
        assert!(check_jump(source, 3, 9).unwrap_err().contains("`finally`"));
        assert!(check_jump(source, 9, 10).unwrap_err().contains("`finally`"));
        // The else of a try with a finally is inside the finally's block.
        assert!(check_jump(source, 10, 7).is_err());
    }

    #[test]
    fn features_program() {
        let source =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/programs/features.py")).unwrap();
        let at = |mark: &str| source.lines().position(|l| l.ends_with(&format!("# MARK: {mark}"))).unwrap() as i64 + 1;
        assert!(check_jump(&source, at("count-add"), at("count-return")).is_ok());
        assert!(check_jump(&source, at("count-add"), at("count-line")).is_ok());
        assert!(check_jump(&source, at("count-add"), at("tick")).unwrap_err().contains("outside the function"));
        assert!(check_jump(&source, at("caught-call"), at("caught-handler")).is_err());
    }
}
