//! Exception settings and exception details.
//!
//! Owns: [`ExceptionSettings`], which turns DAP's exception filters (`raised`, `uncaught`,
//! `userUnhandled`) and `exceptionOptions` into ptvsd's `sexi` table (spec §3.1 modes,
//! §3.2 `sexi`); [`is_library_path`], which decides which files count as library code
//! when answering ptvsd's handler queries (REQH, spec §3.5); and [`format_traceback`],
//! which turns the rich exception event's `trace` (spec §3.6) into a Python traceback.
//! Also the session's exception component, [`Exceptions`]: the settings, the last
//! exception stop and raise, the handler queries outstanding, and the
//! `setExceptionBreakpoints` requests waiting until ptvsd has applied their settings.
//! Must not know: the session, how DAP messages are built, or the wire.

use crate::dap::requests::{ExceptionBreakMode, ExceptionFilterOptions, ExceptionOptions};
use crate::dap::types::Request;
use std::collections::HashSet;
use tokio::time::Instant;

use crate::legacy::messages::{ExceptionMode, ExceptionStop, ThreadId};

/// The filters `initialize` offers: (filter, label, description, default).
pub const FILTERS: &[(&str, &str, &str, bool)] = &[
    ("raised", "Raised Exceptions", "Stop whenever an exception is raised, caught or not.", false),
    ("uncaught", "Uncaught Exceptions", "Stop when an exception is not handled by the program.", true),
    (
        "userUnhandled",
        "User Uncaught Exceptions",
        "Stop when an exception raised in your code escapes into library code (or is not handled at all).",
        false,
    ),
];

/// ptvsd's built-in "never break" entries, which `sexi` would otherwise wipe (spec §3.2).
const QUIET_EXCEPTIONS: &[&str] = &["IndexError", "KeyError", "AttributeError", "StopIteration", "GeneratorExit"];

/// The category name DAP clients (Visual Studio) put first in an exception path.
const CATEGORY: &str = "Python Exceptions";

/// What the editor asked for, in ptvsd's terms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExceptionSettings {
    pub raised: bool,
    pub uncaught: bool,
    pub user_unhandled: bool,
    /// From `exceptionOptions` that name no exception (or negate the names).
    default_override: Option<i64>,
    /// Per-exception modes from `exceptionOptions`, names as the editor gave them.
    overrides: Vec<(String, i64)>,
}

impl Default for ExceptionSettings {
    /// `uncaught` on, as the filter's default says.
    fn default() -> Self {
        Self { raised: false, uncaught: true, user_unhandled: false, default_override: None, overrides: Vec::new() }
    }
}

/// A thread's stack as (file, line, function), innermost first.
pub(super) type Stack = Vec<(String, i64, String)>;

/// The last exception stop, for `exceptionInfo`.
#[derive(Debug, Clone)]
pub(super) struct ExceptionRecord {
    pub(super) dap_thread: i64,
    pub(super) stop: ExceptionStop,
    /// The thread's stack at the stop.
    pub(super) stack: Stack,
}

/// The session's exception state: what the editor asked to break on, the last exception
/// stop (for `exceptionInfo`), the last exception raised (to recognise its re-reports),
/// and ptvsd's handler queries (REQH) not answered yet.
#[derive(Debug, Default)]
pub(super) struct Exceptions {
    /// What the editor asked to break on (the last `setExceptionBreakpoints`).
    settings: ExceptionSettings,
    /// The last exception stop, for `exceptionInfo`.
    last_stop: Option<ExceptionRecord>,
    /// The last exception event (reported or not): (thread, type, message, stack), to
    /// recognise re-reports of it in the frames it unwinds through.
    last_raise: Option<(ThreadId, String, String, Stack)>,
    /// Handler queries (REQH) received and not answered yet.
    handler_queries: usize,
    /// Files ptvsd asked a handler query for on this connection: the stale-query probe
    /// (`repairs`) finding one of them found a live query, which is answered once.
    handler_files: HashSet<String>,
    /// `setExceptionBreakpoints` requests sent while the program runs, each answered when
    /// the reply to the hit-count request sent right after its `sexi` arrives (ptvsd's loop
    /// is sequential: the settings are in force then), or at its deadline.
    applying: Vec<Applying>,
}

/// A `setExceptionBreakpoints` waiting for ptvsd to apply its settings.
#[derive(Debug)]
pub(super) struct Applying {
    /// The hit-count request (`bkgh`) whose reply says the `sexi` before it was applied.
    pub(super) request_id: i64,
    pub(super) request: Request,
    pub(super) deadline: Instant,
}

impl Exceptions {
    /// What the editor asked to break on.
    pub(super) fn settings(&self) -> &ExceptionSettings {
        &self.settings
    }

    /// A `setExceptionBreakpoints` replaced the settings.
    pub(super) fn set_settings(&mut self, settings: ExceptionSettings) {
        self.settings = settings;
    }

    /// `applying.request` is answered when `applying.request_id`'s reply arrives.
    pub(super) fn wait_applied(&mut self, applying: Applying) {
        self.applying.push(applying);
    }

    /// The reply to hit-count request `request_id` arrived: the request it settles.
    pub(super) fn applied(&mut self, request_id: i64) -> Option<Request> {
        let i = self.applying.iter().position(|a| a.request_id == request_id)?;
        Some(self.applying.remove(i).request)
    }

    /// When the first wait for an application times out.
    pub(super) fn apply_deadline(&self) -> Option<Instant> {
        self.applying.iter().map(|a| a.deadline).min()
    }

    /// The waits whose deadline passed by `now` (all of them with `None`: the connection
    /// or the session ended), taken. Their settings stay: they are sent again on the next
    /// connection, so these requests are answered with success.
    pub(super) fn take_applying(&mut self, now: Option<Instant>) -> Vec<Request> {
        let (due, keep): (Vec<_>, Vec<_>) =
            std::mem::take(&mut self.applying).into_iter().partition(|a| now.is_none_or(|now| a.deadline <= now));
        self.applying = keep;
        due.into_iter().map(|a| a.request).collect()
    }

    /// An exception event on `stop.thread` whose stack is `stack`: whether it is a
    /// re-report of the last one in a frame it unwinds through. With "raised", ptvsd
    /// re-reports an exception in every frame it unwinds through; a trace of more than one
    /// line marks a re-report (spec §3.6). The old form (EXCP, ptvsd 2.2) has no trace:
    /// there a re-report is the same exception on the same thread with the previous stack
    /// less its innermost frames. Remembered as the last raise either way.
    pub(super) fn on_raise(&mut self, stop: &ExceptionStop, stack: &Stack) -> bool {
        let unwinding = match (&stop.trace, &self.last_raise) {
            (Some(trace), _) => trace.lines().count() > 1,
            (None, Some((t, type_name, message, previous))) => {
                *t == stop.thread
                    && *type_name == stop.type_name
                    && *message == stop.message
                    && stack.len() < previous.len()
                    && stack
                        .iter()
                        .zip(&previous[previous.len() - stack.len()..])
                        .all(|(a, b)| a.0 == b.0 && a.2 == b.2)
            }
            (None, None) => false,
        };
        self.last_raise = Some((stop.thread, stop.type_name.clone(), stop.message.clone(), stack.clone()));
        unwinding
    }

    /// An exception stop is reported.
    pub(super) fn record_stop(&mut self, record: ExceptionRecord) {
        self.last_stop = Some(record);
    }

    /// The last exception stop, if it was on `dap_thread`.
    pub(super) fn last_stop_on(&self, dap_thread: i64) -> Option<ExceptionRecord> {
        self.last_stop.clone().filter(|r| r.dap_thread == dap_thread)
    }

    /// A new connection: no handler query is outstanding on it.
    pub(super) fn new_connection(&mut self) {
        self.handler_queries = 0;
        self.handler_files.clear();
    }

    /// ptvsd asked a handler query for `file`: outstanding until answered.
    pub(super) fn handler_query(&mut self, file: &str) {
        self.handler_files.insert(file.to_owned());
        self.handler_queries += 1;
    }

    /// A handler query an earlier debugger left unanswered, for `file`: whether it is to be
    /// answered (then it counts as outstanding), that is, ptvsd did not ask it on this
    /// connection (then it is that live query, answered once).
    pub(super) fn stale_handler_query(&mut self, file: &str) -> bool {
        if !self.handler_files.insert(file.to_owned()) {
            return false;
        }
        self.handler_queries += 1;
        true
    }

    /// A handler query was answered.
    pub(super) fn handler_answered(&mut self) {
        self.handler_queries = self.handler_queries.saturating_sub(1);
    }

    /// Handler queries are outstanding (the detach waits for them, §4.4).
    pub(super) fn handler_queries_outstanding(&self) -> bool {
        self.handler_queries > 0
    }
}

fn break_mode(mode: &ExceptionBreakMode) -> i64 {
    match mode {
        ExceptionBreakMode::Never => ExceptionMode::NEVER,
        ExceptionBreakMode::Always => ExceptionMode::ALWAYS,
        ExceptionBreakMode::Unhandled | ExceptionBreakMode::UserUnhandled => ExceptionMode::USER_UNHANDLED,
    }
}

impl ExceptionSettings {
    /// From `setExceptionBreakpoints`' `filters`, `filterOptions` and `exceptionOptions`.
    pub fn from_request(
        filters: &[String],
        filter_options: &[ExceptionFilterOptions],
        options: &[ExceptionOptions],
    ) -> Result<Self, String> {
        let mut settings = Self {
            raised: false,
            uncaught: false,
            user_unhandled: false,
            default_override: None,
            overrides: Vec::new(),
        };
        let ids = filters.iter().map(String::as_str).chain(filter_options.iter().map(|o| o.filter_id.as_str()));
        for id in ids {
            match id {
                "raised" => settings.raised = true,
                "uncaught" => settings.uncaught = true,
                "userUnhandled" => settings.user_unhandled = true,
                other => {
                    return Err(format!("unknown exception filter `{other}`: use raised, uncaught or userUnhandled"))
                }
            }
        }
        if let Some(o) = filter_options.iter().find(|o| o.condition.as_deref().is_some_and(|c| !c.trim().is_empty())) {
            return Err(format!("the exception filter `{}` takes no condition", o.filter_id));
        }
        for option in options {
            settings.apply(option)?;
        }
        Ok(settings)
    }

    fn apply(&mut self, option: &ExceptionOptions) -> Result<(), String> {
        let mode = break_mode(&option.break_mode);
        let path = option.path.as_deref().unwrap_or_default();
        // The first segment is the category; a path of only the category (or none) sets
        // the mode of every exception.
        let segments = match path.split_first() {
            None => {
                self.default_override = Some(mode);
                return Ok(());
            }
            Some((first, rest)) if first.names.iter().any(|n| n == CATEGORY) => {
                if first.negate == Some(true) {
                    return Ok(());
                }
                if rest.is_empty() {
                    self.default_override = Some(mode);
                    return Ok(());
                }
                rest
            }
            Some(_) => path,
        };
        for segment in segments {
            let names = segment.names.iter().filter(|n| !n.trim().is_empty()).map(|n| n.trim().to_string());
            if segment.negate == Some(true) {
                // Every exception but these: the default becomes `mode`, the named ones
                // keep what the filters say.
                let base = self.filter_mode();
                self.default_override = Some(mode);
                self.overrides.extend(names.map(|n| (n, base)));
            } else {
                self.overrides.extend(names.map(|n| (n, mode)));
            }
        }
        Ok(())
    }

    /// The default mode the filters alone give.
    fn filter_mode(&self) -> i64 {
        let mut mode = ExceptionMode::NEVER;
        if self.raised {
            mode |= ExceptionMode::ALWAYS;
        }
        if self.uncaught || self.user_unhandled {
            mode |= ExceptionMode::USER_UNHANDLED;
        }
        mode
    }

    /// The `sexi` table: the default mode and the per-name entries (ptvsd's quiet list
    /// re-sent, then the editor's overrides, which win).
    pub fn table(&self) -> (i64, Vec<ExceptionMode>) {
        let default_mode = self.default_override.unwrap_or_else(|| self.filter_mode());
        // Keep ptvsd's quiet list quiet when raised, but still report them uncaught.
        let quiet_mode = default_mode & ExceptionMode::USER_UNHANDLED;
        let mut entries: Vec<ExceptionMode> = Vec::new();
        let mut put = |name: String, mode: i64| {
            entries.retain(|e| e.name != name);
            entries.push(ExceptionMode { name, mode });
        };
        for name in QUIET_EXCEPTIONS {
            for qualified in qualified_names(name) {
                put(qualified, quiet_mode);
            }
        }
        for (name, mode) in &self.overrides {
            for qualified in qualified_names(name) {
                put(qualified, *mode);
            }
        }
        (default_mode, entries)
    }
}

/// The names ptvsd matches for an exception name the user typed: a bare name is a
/// builtin (`builtins.X` on Python 3, `exceptions.X` on Python 2); other dotted names are
/// `module.Name` as they are.
fn qualified_names(name: &str) -> Vec<String> {
    let bare = name.strip_prefix("builtins.").or_else(|| name.strip_prefix("exceptions.")).unwrap_or(name);
    if bare.contains('.') {
        vec![name.to_string()]
    } else {
        vec![format!("builtins.{bare}"), format!("exceptions.{bare}")]
    }
}

/// Whether a debuggee file is library code rather than the user's: frozen modules, the
/// standard library (`…/lib/pythonX.Y/…`, `…\Lib\…`) and installed packages
/// (`site-packages`, `dist-packages`).
pub fn is_library_path(path: &str) -> bool {
    if path.contains("<frozen ") {
        return true;
    }
    let parts: Vec<&str> = path.split(['/', '\\']).filter(|p| !p.is_empty()).collect();
    let windows = super::paths::is_windows_path(path);
    parts.iter().enumerate().any(|(i, part)| {
        let lower = part.to_ascii_lowercase();
        lower == "site-packages"
            || lower == "dist-packages"
            || (windows && lower == "lib" && i > 0 && parts[i - 1].to_ascii_lowercase().starts_with("python"))
            || (lower.starts_with("python")
                && lower[6..].starts_with(|c: char| c.is_ascii_digit())
                && i > 0
                && parts[i - 1].eq_ignore_ascii_case("lib"))
    })
}

/// One entry of the rich exception event's `trace`: the Python reprs of (file, line,
/// function, source text), comma-joined (spec §3.6).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceEntry {
    pub file: String,
    pub line: i64,
    pub function: String,
    pub text: Option<String>,
}

/// Parses one `trace` line; `None` if it is not in the expected shape.
pub fn parse_trace_line(line: &str) -> Option<TraceEntry> {
    let mut rest = line.trim();
    let file = take_py_string(&mut rest)?;
    rest = rest.strip_prefix(',')?;
    let digits: String = rest.chars().take_while(|c| c.is_ascii_digit() || *c == '-').collect();
    let line_no: i64 = digits.parse().ok()?;
    rest = rest[digits.len()..].strip_prefix(',')?;
    let function = take_py_string(&mut rest)?;
    rest = rest.strip_prefix(',')?;
    let text = if rest.trim() == "None" {
        None
    } else {
        let t = take_py_string(&mut rest)?;
        if !rest.trim().is_empty() {
            return None;
        }
        Some(t)
    };
    Some(TraceEntry { file, line: line_no, function, text })
}

/// Reads one Python string literal (`'…'`, `"…"`, optionally `u`/`b`-prefixed) from the
/// start of `rest` and advances past it.
fn take_py_string(rest: &mut &str) -> Option<String> {
    let s = rest.trim_start();
    let s = s.strip_prefix(['u', 'b']).unwrap_or(s);
    let quote = s.chars().next().filter(|c| *c == '\'' || *c == '"')?;
    let mut out = String::new();
    let mut chars = s[1..].char_indices();
    while let Some((i, c)) = chars.next() {
        if c == quote {
            *rest = &s[1 + i + 1..];
            return Some(out);
        }
        if c != '\\' {
            out.push(c);
            continue;
        }
        let (_, e) = chars.next()?;
        match e {
            'n' => out.push('\n'),
            't' => out.push('\t'),
            'r' => out.push('\r'),
            '0' => out.push('\0'),
            'x' | 'u' | 'U' => {
                let width = match e {
                    'x' => 2,
                    'u' => 4,
                    _ => 8,
                };
                let hex: String = (0..width).filter_map(|_| chars.next().map(|(_, h)| h)).collect();
                let code = u32::from_str_radix(&hex, 16).ok()?;
                out.push(char::from_u32(code).unwrap_or('\u{fffd}'));
            }
            other => out.push(other),
        }
    }
    None
}

/// A Python-style traceback: `outer` frames (outermost first, from the thread's stack, not
/// yet in the trace), then the trace entries, then `Type: message`. `map_path` turns a
/// debuggee path into the one to show.
pub fn format_traceback(
    outer: &[TraceEntry],
    trace: &[TraceEntry],
    type_name: &str,
    message: &str,
    map_path: impl Fn(&str) -> String,
) -> String {
    let mut out = String::from("Traceback (most recent call last):\n");
    for entry in outer.iter().chain(trace) {
        out.push_str(&format!("  File \"{}\", line {}, in {}\n", map_path(&entry.file), entry.line, entry.function));
        if let Some(text) = entry.text.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
            out.push_str(&format!("    {text}\n"));
        }
    }
    if message.is_empty() {
        out.push_str(type_name);
    } else {
        out.push_str(&format!("{type_name}: {message}"));
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use serde_json::{json, Value};

    use super::*;

    fn raised(thread: ThreadId, trace: Option<&str>) -> ExceptionStop {
        ExceptionStop {
            thread,
            type_name: "ValueError".to_string(),
            message: "bad".to_string(),
            unhandled: false,
            trace: trace.map(str::to_string),
            exc_value: None,
            rich: trace.is_some(),
        }
    }

    fn stack(functions: &[&str]) -> Stack {
        functions.iter().map(|f| ("app.py".to_string(), 1, f.to_string())).collect()
    }

    #[test]
    fn re_reports_are_recognised_by_trace_or_by_the_unwound_stack() {
        let mut e = Exceptions::default();
        // Rich form: a trace of more than one line is a re-report.
        assert!(!e.on_raise(&raised(1, Some("a")), &stack(&["inner", "outer"])));
        assert!(e.on_raise(&raised(1, Some("a\nb")), &stack(&["outer"])));
        // Old form: the same exception on the same thread, the previous stack less its
        // innermost frames.
        let mut e = Exceptions::default();
        assert!(!e.on_raise(&raised(1, None), &stack(&["inner", "outer"])));
        assert!(e.on_raise(&raised(1, None), &stack(&["outer"])));
        assert!(!e.on_raise(&raised(2, None), &stack(&[])));
    }

    #[test]
    fn handler_queries_are_counted_once_per_file_and_reset_per_connection() {
        let mut e = Exceptions::default();
        e.handler_query("a.py");
        assert!(e.handler_queries_outstanding());
        // The stale-query probe finding a file ptvsd asked on this connection: the same query.
        assert!(!e.stale_handler_query("a.py"));
        assert!(e.stale_handler_query("b.py"));
        e.handler_answered();
        e.handler_answered();
        assert!(!e.handler_queries_outstanding());
        e.handler_query("c.py");
        e.new_connection();
        assert!(!e.handler_queries_outstanding());
        assert!(e.stale_handler_query("a.py"));
    }

    fn names(settings: &ExceptionSettings) -> Vec<(String, i64)> {
        settings.table().1.into_iter().map(|e| (e.name, e.mode)).collect()
    }

    fn option(path: &[(&[&str], bool)], mode: &str) -> ExceptionOptions {
        let path: Vec<Value> = path.iter().map(|(names, negate)| json!({ "negate": negate, "names": names })).collect();
        serde_json::from_value(json!({ "path": path, "breakMode": mode })).unwrap()
    }

    fn filter_option(filter_id: &str, condition: Option<&str>) -> ExceptionFilterOptions {
        serde_json::from_value(json!({ "filterId": filter_id, "condition": condition })).unwrap()
    }

    #[test]
    fn filters_map_onto_modes() {
        let s = |f: &[&str]| {
            ExceptionSettings::from_request(&f.iter().map(|x| x.to_string()).collect::<Vec<_>>(), &[], &[]).unwrap()
        };
        assert_eq!(s(&[]).table().0, 0);
        assert_eq!(s(&["uncaught"]).table().0, ExceptionMode::USER_UNHANDLED);
        assert_eq!(s(&["userUnhandled"]).table().0, ExceptionMode::USER_UNHANDLED);
        assert_eq!(s(&["raised"]).table().0, ExceptionMode::ALWAYS);
        assert_eq!(s(&["raised", "uncaught"]).table().0, ExceptionMode::ALWAYS | ExceptionMode::USER_UNHANDLED);
        // The quiet list: never with raised alone, user-unhandled with uncaught.
        assert!(names(&s(&["raised"])).contains(&("builtins.KeyError".to_string(), 0)));
        assert!(names(&s(&["raised", "uncaught"])).contains(&("exceptions.KeyError".to_string(), 0x20)));
        assert!(ExceptionSettings::from_request(&["sometimes".to_string()], &[], &[]).is_err());
        let options = [filter_option("raised", None)];
        assert!(ExceptionSettings::from_request(&[], &options, &[]).unwrap().raised);
        let options = [filter_option("raised", Some("x"))];
        assert!(ExceptionSettings::from_request(&[], &options, &[]).is_err());
    }

    #[test]
    fn exception_options_override_per_name_and_default() {
        let filters = vec!["raised".to_string()];
        let o = [option(&[(&[CATEGORY], false), (&["ValueError", "mod.AppError"], false)], "never")];
        let s = ExceptionSettings::from_request(&filters, &[], &o).unwrap();
        let n = names(&s);
        assert!(n.contains(&("builtins.ValueError".to_string(), 0)));
        assert!(n.contains(&("exceptions.ValueError".to_string(), 0)));
        assert!(n.contains(&("mod.AppError".to_string(), 0)));
        assert_eq!(s.table().0, ExceptionMode::ALWAYS);
        // The category alone sets the default.
        let o = [option(&[(&[CATEGORY], false)], "unhandled")];
        assert_eq!(
            ExceptionSettings::from_request(&filters, &[], &o).unwrap().table().0,
            ExceptionMode::USER_UNHANDLED
        );
        // Negated names: everything else breaks always, KeyError keeps the filter's mode.
        let o = [option(&[(&[CATEGORY], false), (&["builtins.KeyError"], true)], "always")];
        let s = ExceptionSettings::from_request(&["uncaught".to_string()], &[], &o).unwrap();
        assert_eq!(s.table().0, ExceptionMode::ALWAYS);
        assert!(names(&s).contains(&("builtins.KeyError".to_string(), 0x20)));
        // An override of a quiet exception wins over the quiet list.
        let o = [option(&[(&[CATEGORY], false), (&["KeyError"], false)], "always")];
        let n = names(&ExceptionSettings::from_request(&filters, &[], &o).unwrap());
        assert_eq!(
            n.iter().filter(|(name, _)| name == "builtins.KeyError").collect::<Vec<_>>(),
            vec![&("builtins.KeyError".to_string(), 1)]
        );
    }

    #[test]
    fn library_paths() {
        assert!(is_library_path("/usr/lib/python3.6/threading.py"));
        assert!(is_library_path("/root/.pyenv/versions/3.11.7/lib/python3.11/json/decoder.py"));
        assert!(is_library_path("/srv/venv/lib/python3.6/site-packages/django/core/handlers/base.py"));
        assert!(is_library_path(r"D:\Python36\Lib\threading.py"));
        assert!(is_library_path(r"D:\home\site\wwwroot\env\Lib\site-packages\flask\app.py"));
        assert!(is_library_path("/srv/app/<frozen genericpath>"));
        assert!(!is_library_path("/srv/app/features.py"));
        assert!(!is_library_path(r"D:\home\site\wwwroot\app\views.py"));
        assert!(!is_library_path("/home/me/python3/lib/x.py"));
        assert!(!is_library_path(r"D:\home\site\wwwroot\lib\helpers.py"));
        assert!(is_library_path(r"D:\home\python364x64\Lib\json\decoder.py"));
    }

    #[test]
    fn trace_lines_become_a_traceback() {
        let line = r#"'/srv/app/f.py',11,'risky','raise ValueError("bad %d" % i)'"#;
        let entry = parse_trace_line(line).unwrap();
        assert_eq!(
            entry,
            TraceEntry {
                file: "/srv/app/f.py".into(),
                line: 11,
                function: "risky".into(),
                text: Some(r#"raise ValueError("bad %d" % i)"#.into())
            }
        );
        let py2 = r"u'C:\\app\\f.py',3,u'<module>',None";
        assert_eq!(parse_trace_line(py2).unwrap().file, r"C:\app\f.py");
        assert_eq!(parse_trace_line(py2).unwrap().text, None);
        assert_eq!(
            parse_trace_line(r#""it's.py",1,'f','x = "\'\n\u00e9"'"#).unwrap().text.as_deref(),
            Some("x = \"'\né\"")
        );
        assert!(parse_trace_line("garbage").is_none());
        let outer = [TraceEntry { file: "/srv/app/f.py".into(), line: 30, function: "main".into(), text: None }];
        let text = format_traceback(&outer, &[entry], "ValueError", "bad 3", |p| p.replace("/srv/app", "/local"));
        assert_eq!(
            text,
            "Traceback (most recent call last):\n  File \"/local/f.py\", line 30, in main\n  File \"/local/f.py\", line 11, in risky\n    raise ValueError(\"bad %d\" % i)\nValueError: bad 3"
        );
    }
}
