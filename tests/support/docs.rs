//! The fenced blocks of the project's Markdown files (README.md, editors/README.md), for
//! the tests that check them as a user would paste them: `tests/editor_configs.rs`
//! (configuration blocks through the editors' parsers, every shell command against the
//! CLI and the files it names) and `tests/install.rs` (runs the install blocks).

use std::path::Path;

/// The Markdown files whose blocks are checked.
pub const DOCS: &[&str] = &["README.md", "editors/README.md", "editors/vscode/README.md"];

/// One fenced block.
#[derive(Debug, Clone)]
pub struct Block {
    /// e.g. `README.md:41` (the line of the opening fence).
    pub origin: String,
    /// The info string: `sh`, `json`, `lua`, `toml`, `text`, or empty.
    pub lang: String,
    pub text: String,
}

/// Every fenced block (``` fences, possibly indented as in a list item) of `file`, a path
/// relative to the repository root.
pub fn blocks(file: &str) -> Vec<Block> {
    let path = super::repo_root().join(file);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    blocks_of(&text, file)
}

pub fn blocks_of(text: &str, file: &str) -> Vec<Block> {
    let mut out = Vec::new();
    let mut open: Option<(usize, usize, String, Vec<String>)> = None; // line, indent, lang, lines
    for (index, line) in text.lines().enumerate() {
        let indent = line.len() - line.trim_start().len();
        let trimmed = line.trim_start();
        match &mut open {
            None => {
                if let Some(info) = trimmed.strip_prefix("```") {
                    open = Some((index + 1, indent, info.trim().to_string(), Vec::new()));
                }
            }
            Some((start, fence_indent, lang, lines)) => {
                if trimmed.starts_with("```") {
                    out.push(Block {
                        origin: format!("{file}:{start}"),
                        lang: lang.clone(),
                        text: lines.join("\n") + "\n",
                    });
                    open = None;
                } else {
                    let cut = indent.min(*fence_indent);
                    lines.push(line[cut..].to_string());
                }
            }
        }
    }
    assert!(open.is_none(), "{file}: a ``` block is not closed");
    out
}

/// The blocks of every file in [`DOCS`].
pub fn all_blocks() -> Vec<Block> {
    DOCS.iter().flat_map(|file| blocks(file)).collect()
}

/// The one `sh` block of `file` that contains `needle` (panics unless exactly one does).
pub fn sh_block_with(file: &str, needle: &str) -> Block {
    let found: Vec<Block> = blocks(file).into_iter().filter(|b| b.lang == "sh" && b.text.contains(needle)).collect();
    assert_eq!(found.len(), 1, "{file}: expected one sh block containing {needle:?}, found {found:#?}");
    found.into_iter().next().unwrap_or_else(|| unreachable!())
}

/// The commands of a `sh` block, one per line: comments (`# …`, also at the end of a
/// line) removed; for a block showing a session (`$ command` lines followed by their
/// output), only the `$` lines.
pub fn commands(block: &Block) -> Vec<String> {
    let session = block.text.lines().any(|line| line.starts_with("$ "));
    block
        .text
        .lines()
        .filter_map(|line| if session { line.strip_prefix("$ ") } else { Some(line) })
        .map(strip_comment)
        .map(|line| line.trim().to_string())
        .filter(|line| !line.is_empty())
        .collect()
}

/// `line` without a trailing `# comment` (a `#` outside quotes, after a blank).
fn strip_comment(line: &str) -> &str {
    let (mut single, mut double, mut previous) = (false, false, ' ');
    for (at, c) in line.char_indices() {
        match c {
            '\'' if !double => single = !single,
            '"' if !single => double = !double,
            '#' if !single && !double && previous.is_whitespace() => return &line[..at],
            _ => {}
        }
        previous = c;
    }
    line
}

/// A command line split into words as a POSIX shell does for simple commands: quotes
/// removed, backslash escapes outside single quotes, `$VAR` left as is. Redirections
/// (`> FILE`, `2> FILE`) are returned apart. Panics on pipes, `;`, `&&` and substitutions,
/// which the docs do not use.
pub fn shell_words(line: &str) -> (Vec<String>, Vec<String>) {
    let (mut words, mut redirects) = (Vec::new(), Vec::new());
    let mut word = String::new();
    let mut in_word = false;
    let mut chars = line.chars().peekable();
    let mut redirect_next = false;
    let finish = |word: &mut String,
                  in_word: &mut bool,
                  redirect_next: &mut bool,
                  words: &mut Vec<String>,
                  redirects: &mut Vec<String>| {
        if *in_word {
            if *redirect_next {
                redirects.push(std::mem::take(word));
                *redirect_next = false;
            } else {
                words.push(std::mem::take(word));
            }
            *in_word = false;
        }
    };
    while let Some(c) = chars.next() {
        match c {
            ' ' | '\t' => finish(&mut word, &mut in_word, &mut redirect_next, &mut words, &mut redirects),
            '\'' => {
                in_word = true;
                for c in chars.by_ref() {
                    if c == '\'' {
                        break;
                    }
                    word.push(c);
                }
            }
            '"' => {
                in_word = true;
                while let Some(c) = chars.next() {
                    match c {
                        '"' => break,
                        '\\' if matches!(chars.peek(), Some('"' | '\\' | '$' | '`')) => {
                            word.push(chars.next().unwrap_or('\\'))
                        }
                        '`' => panic!("{line}: command substitution in the docs"),
                        _ => word.push(c),
                    }
                }
            }
            '\\' => {
                in_word = true;
                if let Some(next) = chars.next() {
                    word.push(next);
                }
            }
            '>' => {
                // `2>` and `>`: the digit was read as a word of its own.
                if in_word && word.chars().all(|c| c.is_ascii_digit()) {
                    word.clear();
                    in_word = false;
                }
                finish(&mut word, &mut in_word, &mut redirect_next, &mut words, &mut redirects);
                redirect_next = true;
            }
            '|' | ';' | '&' | '<' | '`' => {
                panic!("{line}: pipes, lists and substitutions are not checked; split the command")
            }
            _ => {
                in_word = true;
                word.push(c);
            }
        }
    }
    finish(&mut word, &mut in_word, &mut redirect_next, &mut words, &mut redirects);
    assert!(!redirect_next, "{line}: a redirection without a file");
    (words, redirects)
}

/// Leading `NAME=value` words (environment assignments) split off the command.
pub fn split_assignments(words: &[String]) -> (Vec<(String, String)>, Vec<String>) {
    let count = words
        .iter()
        .take_while(|w| {
            w.split_once('=').is_some_and(|(name, _)| {
                !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            })
        })
        .count();
    let assignments =
        words[..count].iter().filter_map(|w| w.split_once('=').map(|(n, v)| (n.to_string(), v.to_string()))).collect();
    (assignments, words[count..].to_vec())
}

/// True when `path` (relative to the repository root) is a file with an executable bit.
pub fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    let path = super::repo_root().join(path);
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}
