//! Function breakpoints: where a `setFunctionBreakpoints` name lands in the source.
//!
//! Owns: parsing a function breakpoint's name (`func`, `module.func`, `Class.method`,
//! `pkg.mod.Outer.Inner.method`, `outer.<locals>.inner`), finding the definitions it names
//! in the local Python files under the path mappings' local roots (parsed with tree-sitter,
//! as [`super::try_ranges`] does), the line a breakpoint on each must go on, a cache of the
//! parsed files keyed by size and modification time (so a changed file is read again), and
//! the fallback: the Python expression that asks the debuggee, in a stopped frame, where a
//! function's body starts ([`lookup_expression`], [`parse_lookup_result`]).
//!
//! Must not know: DAP, the wire protocol, the session, or how local paths map to remote
//! ones (the caller turns each [`Location`] into a line breakpoint).
//!
//! ## Where the breakpoint goes, and how this differs from debugpy
//!
//! ptvsd has only line breakpoints, and it checks them on the tracer's `line` events
//! (`handle_line` in ptvsd 2.2–3.2's debugger). So a function breakpoint becomes a line
//! breakpoint on the first line of the body that fires a `line` event in every CPython that
//! ptvsd runs on. Measured with `sys.settrace` in CPython 2.7, 3.6 and 3.11
//! (`tests/function_breakpoints.rs` repeats it on every run):
//! * A docstring runs no code in any version: it is skipped.
//! * `pass`, and a statement that is only a constant (`42`, a second string, `...`), fire
//!   a `line` event in 3.8+ but run no code in 2.7 and 3.6: they are skipped too, so the
//!   breakpoint lands on the first statement that does something and stops in every
//!   version before any of the body has run.
//! * `global`/`nonlocal` declarations run no code: skipped.
//! * `if`/`while` on a constant true test (`while True:`, `while 1:`) is compiled away
//!   in 3.6: the line is the first statement of its body.
//! * A body with nothing else (only a docstring, `pass` or constants) has no such line:
//!   the breakpoint is reported unverified with that reason.
//! * A decorated function: the body's first statement (decorators run at definition).
//! * `async def` and generators: the first statement, reached at the first resumption
//!   (`await`/`next`), as in debugpy.
//! * A one-line function (`def f(): return 1`): the `def` line, which also stops once when
//!   the `def` statement itself runs (the module's import or the class body).
//!
//! debugpy (pydevd) matches a function breakpoint's name against `co_name` on each `call`
//! event (`function_breakpoint_name_to_breakpoint.get(frame.f_code.co_name)` in
//! `pydevd_frame.py`), stops on the `def` line before the body runs, and answers every
//! breakpoint `verified: true` ("always succeeds"). So in debugpy `Class.method` and
//! `module.func` never stop. Here a bare name still matches every function of that name
//! (debugpy's meaning), a qualified name matches only what it names, and a name that
//! matches nothing is unverified with a reason.
//!
//! Names are matched by splitting them into a module part and a qualified name: the module
//! part must be the end of the file's module path below its root (`views` matches
//! `views.py`, `app.views` matches `app/views.py` and `src/app/views.py`; a package is its
//! `__init__.py`), and the rest must be the function's qualified name in that file. With no
//! module part, the qualified name may be the end of the function's (`method` and
//! `Class.method` both match `Outer.Class.method`). The most specific split that matches
//! wins.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use tree_sitter::Node;

use super::logpoints::py_literal;
use super::try_ranges;

/// At most this many `.py` files are parsed for one resolution (a workspace with a
/// virtual environment inside can hold tens of thousands; those folders are skipped).
pub const MAX_FILES: usize = 5_000;
/// Folders deeper than this below a root are not searched.
const MAX_DEPTH: usize = 16;
/// A resolution stops parsing new files after this long and says so.
const SCAN_BUDGET: Duration = Duration::from_secs(10);
/// Names longer than this are refused (nobody types them; the cap bounds the work).
const MAX_NAME_CHARS: usize = 500;

/// A function breakpoint's name, checked: dotted identifiers, `<locals>` dropped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunctionName {
    segments: Vec<String>,
}

impl FunctionName {
    /// Parses `name`. Accepts surrounding blanks and a trailing `()`; `<locals>` parts (as
    /// in a `__qualname__`) are dropped. The error is a sentence for the editor.
    pub fn parse(name: &str) -> Result<FunctionName, String> {
        let trimmed = name.trim();
        let trimmed = trimmed.strip_suffix("()").unwrap_or(trimmed).trim_end();
        if trimmed.is_empty() {
            return Err("The function breakpoint has no name; give a function name such as `main`, `module.func` or `Class.method`.".to_string());
        }
        if trimmed.chars().count() > MAX_NAME_CHARS {
            return Err(format!("The function name is longer than {MAX_NAME_CHARS} characters."));
        }
        let mut segments = Vec::new();
        for segment in trimmed.split('.') {
            let segment = segment.trim();
            if segment == "<locals>" {
                continue;
            }
            if !is_identifier(segment) {
                return Err(format!(
                    "`{trimmed}` is not a function name: give a dotted name such as `main`, `module.func` or `Class.method`."
                ));
            }
            segments.push(segment.to_string());
        }
        if segments.is_empty() {
            return Err(format!("`{trimmed}` names no function."));
        }
        Ok(FunctionName { segments })
    }

    /// The name as dotted text (without `<locals>`).
    #[must_use]
    pub fn dotted(&self) -> String {
        self.segments.join(".")
    }

    /// The function's own name (the last part).
    #[must_use]
    pub fn short(&self) -> &str {
        self.segments.last().map_or("", String::as_str)
    }
}

/// A Python identifier (letters, digits and `_`, not starting with a digit; non-ASCII
/// letters allowed as Python 3 does).
fn is_identifier(text: &str) -> bool {
    let mut chars = text.chars();
    match chars.next() {
        Some(c) if c == '_' || c.is_alphabetic() => {}
        _ => return false,
    }
    chars.all(|c| c == '_' || c.is_alphanumeric())
}

/// One function or method definition in a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunctionDef {
    /// Enclosing classes and functions, then the name: `Outer.Inner.method`, `outer.inner`.
    pub qualname: Vec<String>,
    /// The 1-based line of the `def` keyword.
    pub def_line: u32,
    /// The 1-based line a breakpoint goes on (module doc), or `None` when the body runs
    /// no statement a line breakpoint could stop on.
    pub body_line: Option<u32>,
}

/// Every function definition in `source`, in source order; `None` if the parser produced
/// no tree (see [`try_ranges::parse_source`]). A source with syntax errors still gives the
/// definitions the parser recovered.
#[must_use]
pub fn functions_in_source(source: &str) -> Option<Vec<FunctionDef>> {
    let source = try_ranges::normalize(source);
    let tree = try_ranges::parse_source(&source)?;
    let src = source.as_bytes();
    let mut out = Vec::new();
    // Explicit stack (files can nest deeply): (node, qualified name of its scope).
    let mut stack: Vec<(Node<'_>, Vec<String>)> = vec![(tree.root_node(), Vec::new())];
    while let Some((node, scope)) = stack.pop() {
        let mut children_scope = scope.clone();
        match node.kind() {
            "function_definition" | "class_definition" => {
                let Some(name) = node.child_by_field_name("name").and_then(|n| n.utf8_text(src).ok()) else {
                    continue;
                };
                children_scope.push(name.to_string());
                if node.kind() == "function_definition" {
                    let body = node.child_by_field_name("body");
                    out.push(FunctionDef {
                        qualname: children_scope.clone(),
                        def_line: row_line(node.start_position().row),
                        body_line: body.and_then(|b| first_statement_line(b, src)),
                    });
                }
            }
            _ => {}
        }
        let mut cursor = node.walk();
        let children: Vec<Node<'_>> = node.named_children(&mut cursor).collect();
        for child in children.into_iter().rev() {
            stack.push((child, children_scope.clone()));
        }
    }
    Some(out)
}

/// 1-based line of a 0-based row.
fn row_line(row: usize) -> u32 {
    u32::try_from(row).unwrap_or(u32::MAX - 1).saturating_add(1)
}

/// The line of the first statement of `block` that fires a `line` event in every CPython
/// ptvsd runs on (module doc), or `None`.
fn first_statement_line(block: Node<'_>, src: &[u8]) -> Option<u32> {
    let mut block = block;
    // Descends into `while True:` and the like; bounded by the nesting of the source.
    'blocks: loop {
        let mut cursor = block.walk();
        let statements: Vec<Node<'_>> = block.named_children(&mut cursor).filter(|n| !n.is_extra()).collect();
        for statement in statements {
            if statement.is_error() || statement.is_missing() {
                // What the parser could not read still runs (or fails) on this line.
                return Some(row_line(statement.start_position().row));
            }
            match statement.kind() {
                "pass_statement" | "global_statement" | "nonlocal_statement" => continue,
                "expression_statement" if is_constant_statement(statement) => continue,
                "if_statement" | "while_statement" if has_constant_true_test(statement, src) => {
                    if let Some(body) = statement.child_by_field_name("body") {
                        block = body;
                        continue 'blocks;
                    }
                    return None;
                }
                _ => return Some(row_line(statement.start_position().row)),
            }
        }
        return None;
    }
}

/// An expression statement that is only a constant (a docstring, `42`, `...`, `None`):
/// CPython 2.7 and 3.6 compile it to nothing.
fn is_constant_statement(statement: Node<'_>) -> bool {
    let mut cursor = statement.walk();
    let parts: Vec<Node<'_>> = statement.named_children(&mut cursor).filter(|n| !n.is_extra()).collect();
    match parts.as_slice() {
        [only] => is_constant(*only),
        _ => false,
    }
}

fn is_constant(expr: Node<'_>) -> bool {
    match expr.kind() {
        "integer" | "float" | "true" | "false" | "none" | "ellipsis" => true,
        // An f-string runs code; a plain string does not.
        "string" => !has_interpolation(expr),
        "concatenated_string" => {
            let mut cursor = expr.walk();
            let all_plain = expr.named_children(&mut cursor).all(|s| s.kind() == "string" && !has_interpolation(s));
            all_plain
        }
        "parenthesized_expression" => {
            let mut cursor = expr.walk();
            let inner: Vec<Node<'_>> = expr.named_children(&mut cursor).filter(|n| !n.is_extra()).collect();
            matches!(inner.as_slice(), [only] if is_constant(*only))
        }
        _ => false,
    }
}

fn has_interpolation(string: Node<'_>) -> bool {
    let mut cursor = string.walk();
    let found = string.named_children(&mut cursor).any(|c| c.kind() == "interpolation");
    found
}

/// `if True:`, `while 1:` and the like, which CPython 3.6 compiles to their body alone.
fn has_constant_true_test(statement: Node<'_>, src: &[u8]) -> bool {
    if statement.kind() == "if_statement" {
        // With `elif`/`else`, keep the `if` line: the branches differ between versions.
        let mut cursor = statement.walk();
        if statement.named_children(&mut cursor).any(|c| matches!(c.kind(), "elif_clause" | "else_clause")) {
            return false;
        }
    }
    let Some(test) = statement.child_by_field_name("condition") else { return false };
    match test.kind() {
        "true" => true,
        "integer" => {
            test.utf8_text(src).is_ok_and(|t| t.trim_start_matches(['0', '_']).chars().any(|c| c.is_ascii_digit()))
        }
        _ => false,
    }
}

/// Where a function breakpoint goes: a local file and line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    pub path: PathBuf,
    pub line: u32,
    /// The function's qualified name in its file, dotted.
    pub qualname: String,
}

/// What a name resolved to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resolution {
    /// One line breakpoint per match, sorted by path and line.
    Found(Vec<Location>),
    /// Not found, or found with no body to stop in: a sentence saying what was searched.
    NotFound(String),
}

/// A file's definitions, remembered while its size and modification time stay the same.
struct CachedFile {
    len: u64,
    modified: Option<SystemTime>,
    functions: Vec<FunctionDef>,
}

/// Resolves names against the local sources, re-reading a file only when it changed.
#[derive(Default)]
pub struct FunctionIndex {
    files: HashMap<PathBuf, CachedFile>,
}

impl FunctionIndex {
    #[must_use]
    pub fn new() -> FunctionIndex {
        FunctionIndex::default()
    }

    /// Resolves `name` against the `.py` files under `roots` (the path mappings' local
    /// roots). Blocking (it reads and parses files): run it off the session loop.
    pub fn resolve(&mut self, name: &FunctionName, roots: &[PathBuf]) -> Resolution {
        if roots.is_empty() {
            return Resolution::NotFound(format!(
                "`{}` cannot be looked up: no local folder is mapped (set pathMappings or localRoot); it is looked up in the debuggee when the program next stops.",
                name.dotted()
            ));
        }
        let deadline = Instant::now() + SCAN_BUDGET;
        let scan = python_files(roots);
        let mut best: Vec<Location> = Vec::new();
        let mut best_split = 0usize;
        let mut bodiless: Vec<(PathBuf, u32)> = Vec::new();
        let mut out_of_time = false;
        let mut seen = std::collections::HashSet::new();
        for file in &scan.files {
            if Instant::now() > deadline {
                out_of_time = true;
                break;
            }
            if !seen.insert(file.path.clone()) {
                continue;
            }
            let Some(functions) = self.functions(&file.path) else { continue };
            for function in functions {
                let Some(split) = match_split(&name.segments, &file.module, &function.qualname) else { continue };
                if split < best_split {
                    continue;
                }
                if split > best_split {
                    best.clear();
                    bodiless.clear();
                    best_split = split;
                }
                match function.body_line {
                    Some(line) => {
                        best.push(Location { path: file.path.clone(), line, qualname: function.qualname.join(".") })
                    }
                    None => bodiless.push((file.path.clone(), function.def_line)),
                }
            }
        }
        if !scan.truncated && !out_of_time {
            // Forget files that are gone or no longer under a root.
            self.files.retain(|path, _| seen.contains(path));
        }
        if !best.is_empty() {
            best.sort_by(|a, b| (&a.path, a.line).cmp(&(&b.path, b.line)));
            best.dedup();
            return Resolution::Found(best);
        }
        if let Some((path, line)) = bodiless.first() {
            return Resolution::NotFound(format!(
                "`{}` ({}:{line}) has no statement to stop on: its body is only a docstring, `pass` or constants.",
                name.dotted(),
                path.display()
            ));
        }
        let mut reason = format!(
            "No function `{}` was found in the {} Python file{} under {}",
            name.dotted(),
            seen.len(),
            if seen.len() == 1 { "" } else { "s" },
            roots.iter().map(|r| r.display().to_string()).collect::<Vec<_>>().join(", ")
        );
        if scan.truncated || out_of_time {
            reason.push_str(" (the search stopped early: too many files)");
        }
        reason.push_str("; it is looked up in the debuggee when the program next stops.");
        Resolution::NotFound(reason)
    }

    /// Whether `path` changed (or went away) since it was last parsed; `false` for a file
    /// never parsed.
    #[must_use]
    pub fn changed(&self, path: &Path) -> bool {
        let Some(cached) = self.files.get(path) else { return false };
        match std::fs::metadata(path) {
            Ok(m) => m.len() != cached.len || m.modified().ok() != cached.modified,
            Err(_) => true,
        }
    }

    /// The definitions in `path`, from the cache if the file did not change.
    fn functions(&mut self, path: &Path) -> Option<&[FunctionDef]> {
        let metadata = std::fs::metadata(path).ok()?;
        let (len, modified) = (metadata.len(), metadata.modified().ok());
        let fresh = self.files.get(path).is_some_and(|c| c.len == len && c.modified == modified && modified.is_some());
        if !fresh {
            let source = try_ranges::read_source(path)?;
            let functions = functions_in_source(&source)?;
            self.files.insert(path.to_path_buf(), CachedFile { len, modified, functions });
        }
        self.files.get(path).map(|c| c.functions.as_slice())
    }
}

/// How many leading segments of `name` were matched as the module, if `name` names
/// `qualname` in a file whose module path is `module` (module doc). `Some(0)` is a match
/// with no module part; larger is more specific.
fn match_split(name: &[String], module: &[String], qualname: &[String]) -> Option<usize> {
    // Most specific first: the longest module part.
    for split in (0..name.len()).rev() {
        let (module_part, qual_part) = name.split_at(split);
        if module_part.len() > module.len() || !module.ends_with(module_part) {
            continue;
        }
        let matches = if split == 0 { qualname.ends_with(qual_part) } else { qualname == qual_part };
        if matches {
            return Some(split);
        }
    }
    None
}

/// A `.py` file found under a root, with its module path below that root.
struct PythonFile {
    path: PathBuf,
    /// `app/views.py` → `["app", "views"]`; `app/__init__.py` → `["app"]`.
    module: Vec<String>,
}

struct Scan {
    files: Vec<PythonFile>,
    truncated: bool,
}

/// Folders that hold no user code worth searching.
fn skip_dir(path: &Path, name: &str) -> bool {
    name.starts_with('.')
        || matches!(name, "__pycache__" | "node_modules" | "site-packages" | "dist-packages" | "target")
        || path.join("pyvenv.cfg").exists()
}

/// The `.py` files under `roots`, breadth-first and sorted within each folder, at most
/// [`MAX_FILES`], never following symbolic links to folders.
fn python_files(roots: &[PathBuf]) -> Scan {
    let mut files = Vec::new();
    let mut truncated = false;
    for root in roots {
        if root.is_file() {
            if root.extension().is_some_and(|e| e == "py") {
                let stem = root.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
                files.push(PythonFile { path: root.clone(), module: vec![stem] });
            }
            continue;
        }
        let mut queue = std::collections::VecDeque::from([(root.clone(), Vec::<String>::new())]);
        while let Some((dir, module)) = queue.pop_front() {
            let Ok(entries) = std::fs::read_dir(&dir) else { continue };
            let mut entries: Vec<_> = entries.filter_map(Result::ok).collect();
            entries.sort_by_key(std::fs::DirEntry::file_name);
            for entry in entries {
                let name = entry.file_name().to_string_lossy().into_owned();
                let Ok(kind) = entry.file_type() else { continue };
                let path = entry.path();
                if kind.is_dir() {
                    if module.len() < MAX_DEPTH && !skip_dir(&path, &name) {
                        let mut sub = module.clone();
                        sub.push(name);
                        queue.push_back((path, sub));
                    }
                } else if let Some(stem) = name.strip_suffix(".py") {
                    if files.len() >= MAX_FILES {
                        truncated = true;
                        return Scan { files, truncated };
                    }
                    let mut file_module = module.clone();
                    if stem != "__init__" {
                        file_module.push(stem.to_string());
                    }
                    files.push(PythonFile { path, module: file_module });
                }
            }
        }
    }
    Scan { files, truncated }
}

/// The Python program the lookup expression runs (2.7 and 3.x). It finds the object the
/// name stands for (the frame's names first, then `sys.modules` for every module prefix,
/// then `__main__`, then, last, the first loaded module in name order that defines it
/// itself), unwraps methods, static and class methods, properties' getters and
/// `functools.wraps` wrappers, and computes the line of the body's first `line` event from
/// the code object: the first instruction's line in 2.7–3.10, the first instruction after
/// the 3.11 prologue (`RESUME` and friends, which carry the `def` line) in 3.11. The answer
/// is one string: `filename<TAB>line<TAB>name` or `!reason`.
const LOOKUP_PROGRAM: &str = r"
import sys, dis
def _find(name, g, l):
    parts = name.split('.')
    roots = []
    if parts[0] in l:
        roots.append((l[parts[0]], parts[1:]))
    if parts[0] in g:
        roots.append((g[parts[0]], parts[1:]))
    for i in range(len(parts) - 1, 0, -1):
        m = sys.modules.get('.'.join(parts[:i]))
        if m is not None:
            roots.append((m, parts[i:]))
    m = sys.modules.get('__main__')
    if m is not None:
        roots.append((m, parts))
    for obj, rest in roots:
        obj = _walk(obj, rest)
        if obj is not None:
            return obj
    for mname, m in sorted(list(sys.modules.items()), key=lambda item: item[0]):
        if m is not None and not mname.startswith('_'):
            obj = _walk(m, parts)
            if obj is not None and _code(obj) is not None and getattr(obj, '__module__', mname) == mname:
                return obj
    return None
def _walk(obj, rest):
    for p in rest:
        obj = getattr(obj, p, None)
        if obj is None:
            return None
    return obj
def _code(obj):
    for _ in range(20):
        if isinstance(obj, property):
            obj = obj.fget
        elif isinstance(obj, (staticmethod, classmethod)):
            obj = obj.__func__
        elif getattr(obj, '__wrapped__', None) is not None:
            obj = obj.__wrapped__
        elif getattr(obj, '__func__', None) is not None:
            obj = obj.__func__
        else:
            break
    return getattr(obj, '__code__', None)
def _first_line(code):
    if sys.version_info < (3, 11):
        for offset, line in dis.findlinestarts(code):
            return line
        return code.co_firstlineno
    prologue = ('RESUME', 'COPY_FREE_VARS', 'MAKE_CELL', 'RETURN_GENERATOR', 'POP_TOP')
    line = code.co_firstlineno
    for ins in dis.get_instructions(code):
        if ins.starts_line is not None:
            line = ins.starts_line
        if ins.opname not in prologue:
            return line
    return line
def _lookup(name, g, l):
    obj = _find(name, g, l)
    if obj is None:
        return '!' + name + ' is not defined here or in any loaded module'
    code = _code(obj)
    if code is None:
        return '!' + name + ' is a ' + type(obj).__name__ + ', not a Python function'
    return '%s\t%d\t%s' % (code.co_filename, _first_line(code), code.co_name)
";

/// The expression that, evaluated in a stopped frame, says where `name`'s body starts in
/// the debuggee: a string `filename<TAB>line<TAB>co_name`, or `!reason` (read it back with
/// [`parse_lookup_result`], fetching the value raw). It defines nothing in the frame: the
/// program runs in a namespace of its own, through `eval(compile(…, 'exec'))`, which
/// works as an expression in both Python 2.7 and 3.x.
#[must_use]
pub fn lookup_expression(name: &FunctionName) -> String {
    format!(
        "(lambda ns: (eval(compile(ns['src'], '<ptvsd-dap function lookup>', 'exec'), ns), ns['_lookup'](ns['name'], ns['g'], ns['l']))[1])\
({{'src': {src}, 'name': {name}, 'g': globals(), 'l': locals()}})",
        src = py_literal(LOOKUP_PROGRAM),
        name = py_literal(&name.dotted()),
    )
}

/// Where the debuggee said a function's body starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteLocation {
    /// The code object's file name, as the debuggee sees it (map it to a local path).
    pub remote_path: String,
    pub line: u32,
    /// The code object's `co_name`.
    pub name: String,
}

/// Reads back the text of [`lookup_expression`]'s value: the location, or the reason as
/// a sentence.
pub fn parse_lookup_result(text: &str) -> Result<RemoteLocation, String> {
    if let Some(reason) = text.strip_prefix('!') {
        return Err(format!("The debuggee says: {reason}."));
    }
    let mut parts = text.rsplitn(3, '\t');
    let (Some(name), Some(line), Some(remote_path)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(format!("The debuggee's answer to the function lookup could not be read: {text:?}."));
    };
    let line = line.parse::<u32>().ok().filter(|l| *l > 0);
    match line {
        Some(line) if !remote_path.is_empty() => {
            Ok(RemoteLocation { remote_path: remote_path.to_string(), line, name: name.to_string() })
        }
        _ => Err(format!("The debuggee's answer to the function lookup could not be read: {text:?}.")),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {

    use proptest::prelude::*;

    use super::*;

    fn name(text: &str) -> FunctionName {
        FunctionName::parse(text).unwrap()
    }

    fn defs(source: &str) -> Vec<(String, u32, Option<u32>)> {
        functions_in_source(source)
            .unwrap()
            .into_iter()
            .map(|d| (d.qualname.join("."), d.def_line, d.body_line))
            .collect()
    }

    #[test]
    fn names_are_parsed_and_checked() {
        assert_eq!(name("main").segments, vec!["main"]);
        assert_eq!(name("  app.views.index() ").segments, vec!["app", "views", "index"]);
        assert_eq!(name("outer.<locals>.inner").segments, vec!["outer", "inner"]);
        assert_eq!(name("Klass.méthode").dotted(), "Klass.méthode");
        assert_eq!(name("a.b").short(), "b");
        for bad in ["", "  ", "()", "1abc", "a..b", "a.", "f(x)", "a b", "x[0]", "<locals>", "a-b"] {
            let err = FunctionName::parse(bad).unwrap_err();
            assert!(err.ends_with('.'), "{bad:?}: {err}");
        }
        assert!(FunctionName::parse(&"a".repeat(501)).is_err());
    }

    #[test]
    fn the_line_is_the_first_statement_that_runs() {
        let src = "import functools\n\
def plain(a):\n    x = a\n    return x\n\
def doc():\n    \"\"\"doc\"\"\"\n    return 1\n\
def doc_only():\n    '''only'''\n\
def passes():\n    pass\n    42\n    ...\n    'again'\n    return 2\n\
def oneliner(): return 3\n\
@functools.wraps(plain)\n@staticmethod\ndef decorated(x):\n    # comment\n\n    y = x\n\
class C(object):\n    '''class doc'''\n    def m(self):\n        return self\n    class Inner:\n        async def im(self):\n            '''d'''\n            await x\n\
def outer():\n    def inner():\n        return v\n    return inner\n\
def loops():\n    while True:\n        global g\n        g = 1\n\
def fstring():\n    f'{x}'\n\
def multi(\n    a,\n    b):\n    return (a,\n            b)\n";
        assert_eq!(
            defs(src),
            vec![
                ("plain".into(), 2, Some(3)),
                ("doc".into(), 5, Some(7)),
                ("doc_only".into(), 8, None),
                ("passes".into(), 10, Some(15)),
                ("oneliner".into(), 16, Some(16)),
                ("decorated".into(), 19, Some(22)),
                ("C.m".into(), 25, Some(26)),
                ("C.Inner.im".into(), 28, Some(30)),
                ("outer".into(), 31, Some(32)),
                ("outer.inner".into(), 32, Some(33)),
                ("loops".into(), 35, Some(38)),
                ("fstring".into(), 39, Some(40)),
                ("multi".into(), 41, Some(44)),
            ]
        );
    }

    #[test]
    fn python_2_sources_and_syntax_errors_still_give_functions() {
        let src = "def f((a, b)):\n    print 'x'\n    exec 'y' in {}\n\nx = = 1\n\nclass K:\n    def m(self):\n        raise ValueError, 'bad'\n";
        let found = defs(src);
        assert!(found.contains(&("f".into(), 1, Some(2))), "{found:?}");
        assert!(found.iter().any(|(q, _, _)| q == "K.m"), "{found:?}");
        // CRLF and a BOM count lines as CPython does.
        assert_eq!(defs("\u{feff}x = 1\r\ndef g():\r\n    return 1\r\n"), vec![("g".into(), 2, Some(3))]);
    }

    #[test]
    fn names_match_by_module_and_qualified_name() {
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        // Bare name: any function of that name.
        assert_eq!(match_split(&s(&["m"]), &s(&["app", "views"]), &s(&["C", "m"])), Some(0));
        assert_eq!(match_split(&s(&["C", "m"]), &s(&["views"]), &s(&["Outer", "C", "m"])), Some(0));
        // Module part must end the file's module path; then the qualified name is exact.
        assert_eq!(match_split(&s(&["views", "index"]), &s(&["app", "views"]), &s(&["index"])), Some(1));
        assert_eq!(match_split(&s(&["app", "views", "index"]), &s(&["src", "app", "views"]), &s(&["index"])), Some(2));
        assert_eq!(match_split(&s(&["views", "C", "m"]), &s(&["views"]), &s(&["C", "m"])), Some(1));
        assert_eq!(match_split(&s(&["other", "index"]), &s(&["views"]), &s(&["index"])), None);
        assert_eq!(match_split(&s(&["views", "m"]), &s(&["views"]), &s(&["C", "m"])), None);
        assert_eq!(match_split(&s(&["index"]), &s(&[]), &s(&["index", "inner"])), None);
    }

    fn write(dir: &Path, rel: &str, text: &str) -> PathBuf {
        let path = dir.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, text).unwrap();
        path
    }

    #[test]
    fn resolves_in_files_and_prefers_the_most_specific_match() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().to_path_buf();
        let views = write(
            &root,
            "app/views.py",
            "def index(request):\n    return 1\n\nclass Page:\n    def index(self):\n        return 2\n",
        );
        let init = write(&root, "app/__init__.py", "def create():\n    '''doc'''\n    return 3\n");
        let other = write(&root, "other.py", "def index():\n    return 4\n");
        write(&root, ".venv/lib/x.py", "def index():\n    return 5\n");
        write(&root, "venv/pyvenv.cfg", "home = /usr\n");
        write(&root, "venv/lib/y.py", "def index():\n    return 6\n");
        write(&root, "stub.py", "def empty():\n    pass\n");
        let mut index = FunctionIndex::new();
        let roots = vec![root.clone()];
        let loc = |path: &Path, line, q: &str| Location { path: path.to_path_buf(), line, qualname: q.to_string() };
        assert_eq!(
            index.resolve(&name("index"), &roots),
            Resolution::Found(vec![loc(&views, 2, "index"), loc(&views, 6, "Page.index"), loc(&other, 2, "index")])
        );
        assert_eq!(index.resolve(&name("views.index"), &roots), Resolution::Found(vec![loc(&views, 2, "index")]));
        assert_eq!(index.resolve(&name("app.views.index"), &roots), Resolution::Found(vec![loc(&views, 2, "index")]));
        assert_eq!(index.resolve(&name("Page.index"), &roots), Resolution::Found(vec![loc(&views, 6, "Page.index")]));
        assert_eq!(index.resolve(&name("app.create"), &roots), Resolution::Found(vec![loc(&init, 3, "create")]));
        let Resolution::NotFound(reason) = index.resolve(&name("missing"), &roots) else { panic!() };
        assert!(reason.contains("No function `missing`") && reason.contains("4 Python files"), "{reason}");
        let Resolution::NotFound(reason) = index.resolve(&name("empty"), &roots) else { panic!() };
        assert!(reason.contains("no statement to stop on"), "{reason}");
        let Resolution::NotFound(reason) = index.resolve(&name("x"), &[]) else { panic!() };
        assert!(reason.contains("no local folder is mapped"), "{reason}");
        // A changed file is read again.
        std::fs::write(&other, "# moved\n\ndef index():\n    '''d'''\n    return 4\n").unwrap();
        let Resolution::Found(found) = index.resolve(&name("other.index"), &roots) else { panic!() };
        assert_eq!(found, vec![loc(&other, 5, "index")]);
        std::fs::remove_file(&other).unwrap();
        assert!(matches!(index.resolve(&name("other.index"), &roots), Resolution::NotFound(_)));
        assert!(!index.files.contains_key(&other), "a deleted file is forgotten");
    }

    #[test]
    fn lookup_results_are_read_back() {
        assert_eq!(
            parse_lookup_result("/srv/app/views.py\t12\tindex"),
            Ok(RemoteLocation { remote_path: "/srv/app/views.py".into(), line: 12, name: "index".into() })
        );
        assert_eq!(parse_lookup_result("C:\\a\tb\\x.py\t3\tf").unwrap().remote_path, "C:\\a\tb\\x.py");
        assert!(parse_lookup_result("!f is not defined here").unwrap_err().contains("f is not defined here"));
        for bad in ["", "x", "a\tb", "a\t0\tf", "a\t-1\tf", "\t3\tf", "a\t99999999999\tf"] {
            assert!(parse_lookup_result(bad).is_err(), "{bad:?}");
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn never_panics_and_lines_are_sane(
            parts in proptest::collection::vec(
                prop_oneof![
                    Just("def f():"), Just("async def g(a,\n b):"), Just("class C:"), Just("@d"), Just("\n"),
                    Just("    "), Just("\t"), Just("pass"), Just("'''doc'''"), Just("x = 1"), Just("("), Just(")"),
                    Just("while True:"), Just("if 1:"), Just("return"), Just("#"), Just("\\\n"), Just("\r"), Just("é"),
                ],
                0..60,
            )
        ) {
            let source: String = parts.concat();
            let lines = u32::try_from(source.split(['\n', '\r']).count()).unwrap();
            for d in functions_in_source(&source).unwrap() {
                prop_assert!(d.def_line >= 1 && d.def_line <= lines, "{d:?} in {source:?}");
                if let Some(body) = d.body_line {
                    prop_assert!(body >= d.def_line && body <= lines, "{d:?} in {source:?}");
                }
                prop_assert!(!d.qualname.is_empty());
            }
            let _ = FunctionName::parse(&source);
            let _ = parse_lookup_result(&source);
        }
    }

    /// The reference: CPython's own `ast`, reading the same rules (module doc) off its tree.
    /// For each function: its dotted path, the `def` line (3.8+: the `def`, not the first
    /// decorator), and the first statement left after dropping docstrings, `pass`,
    /// constants and `global`/`nonlocal`, descending into `while True:`/`if True:` without
    /// `else`.
    const REFERENCE: &str = r#"
import ast, json, sys

def is_const(stmt):
    return isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant)

def const_true(stmt):
    return (isinstance(stmt, (ast.While, ast.If)) and not stmt.orelse and isinstance(stmt.test, ast.Constant)
            and (stmt.test.value is True or (type(stmt.test.value) is int and stmt.test.value != 0)))

def body_line(body):
    for stmt in body:
        if isinstance(stmt, (ast.Pass, ast.Global, ast.Nonlocal)) or is_const(stmt):
            continue
        if const_true(stmt):
            return body_line(stmt.body)
        # A decorated definition starts running at its first decorator.
        decorators = getattr(stmt, 'decorator_list', None)
        return min(d.lineno for d in decorators) if decorators else stmt.lineno
    return None

def functions(tree):
    out = []
    def visit(node, scope):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                path = scope + [child.name]
                if not isinstance(child, ast.ClassDef):
                    out.append(['.'.join(path), child.lineno, body_line(child.body)])
                visit(child, path)
            else:
                visit(child, scope)
    visit(tree, [])
    return out

results = []
for source in json.load(sys.stdin):
    results.append(functions(ast.parse(source)))
json.dump(results, sys.stdout)
"#;

    fn reference(sources: &[String]) -> Vec<Vec<(String, u32, Option<u32>)>> {
        crate::session::try_ranges::run_python_reference(REFERENCE, sources)
    }

    /// Statements a generated function body is made of (valid Python 3 at any depth).
    fn statement() -> impl Strategy<Value = String> {
        prop_oneof![
            Just("pass".to_string()),
            Just("'''doc'''".to_string()),
            Just("42".to_string()),
            Just("...".to_string()),
            Just("global g".to_string()),
            Just("x = 1".to_string()),
            Just("f'{x}'".to_string()),
            Just("return (1,\n2)".to_string()),
            Just("print('x')".to_string()),
            Just("# a comment".to_string()),
            Just("".to_string()),
        ]
    }

    /// A function definition (possibly decorated, async, one-line, nested, in a class).
    fn definition(depth: u32) -> BoxedStrategy<String> {
        let leaf = (
            prop_oneof![Just(""), Just("@deco\n"), Just("@a.b(1)\n@c\n")],
            prop_oneof![Just("def"), Just("async def")],
            "f_[a-z0-9_]{0,6}",
            proptest::collection::vec(statement(), 0..5),
        )
            .prop_map(|(decorators, def, name, body)| {
                let mut text = format!("{decorators}{def} {name}(a, *b, **c):\n");
                for stmt in &body {
                    for line in stmt.split('\n') {
                        text.push_str(&format!("    {line}\n"));
                    }
                }
                text.push_str("    y = 2\n");
                text
            });
        if depth == 0 {
            return leaf.boxed();
        }
        let nested = (prop_oneof![Just("class K:"), Just("def outer():"), Just("while True:")], definition(depth - 1))
            .prop_map(|(head, inner)| {
                let body: String = inner.lines().map(|l| format!("    {l}\n")).collect();
                format!("{head}\n{body}")
            });
        prop_oneof![leaf, nested].boxed()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(32))]

        /// Generated modules, compared with the `ast` reference in one `python3` run per case.
        #[test]
        fn matches_the_ast_reference(parts in proptest::collection::vec(definition(2), 1..6)) {
            let source = parts.join("\n");
            let expected = reference(std::slice::from_ref(&source)).remove(0);
            let ours: Vec<(String, u32, Option<u32>)> = defs(&source);
            prop_assert_eq!(ours, expected, "source:\n{}", source);
        }
    }
}
