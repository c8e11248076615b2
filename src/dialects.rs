//! What each endpoint spoke last time: the expected dialect that lets a JSON attach send
//! authenticate + attach before ptvsd's greeting arrives (−2 round trips on `tcp://`).
//!
//! Owns: the per-process memory of confirmed dialects, and the small cache file that
//! carries them across runs (`$XDG_CACHE_HOME/ptvsd-dap/dialects`, else
//! `~/.cache/ptvsd-dap/dialects`; `PTVSD_DAP_DIALECTS` names another file, or `off` for
//! no expectation at all). One line per endpoint: `scheme://host:port/path<TAB>json 8`.
//! The key never contains the secret. Only JSON dialects are kept: a binary server must
//! never receive bytes before its greeting (spec §1.4), so a binary endpoint has no entry.
//! Anything unreadable or malformed in the file counts as no expectation.
//!
//! Only `tcp://` and `tcps://` endpoints take part: a WebSocket relay (Azure's proxy)
//! answers the upgrade before it dials ptvsd, so whether bytes sent before the greeting
//! reach ptvsd depends on the relay.
//!
//! Must not know: the handshake itself (`legacy::handshake` takes the expectation and says
//! when the greeting disagreed) or the session.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Mutex, OnceLock};

use crate::legacy::Dialect;
use crate::transport::{Endpoint, Scheme};

/// The environment variable naming the cache file (`off`: no expectations).
pub const ENV: &str = "PTVSD_DAP_DIALECTS";
/// The most endpoints the file keeps (the oldest lines go first).
const MAX_ENTRIES: usize = 64;

fn memory() -> &'static Mutex<HashMap<String, Dialect>> {
    static MEMORY: OnceLock<Mutex<HashMap<String, Dialect>>> = OnceLock::new();
    MEMORY.get_or_init(|| Mutex::new(HashMap::new()))
}

/// Where expectations come from and go: `None` when turned off.
fn setting() -> Option<Option<PathBuf>> {
    match std::env::var_os(ENV) {
        Some(value) if value.is_empty() || value == "off" => None,
        Some(value) => Some(Some(PathBuf::from(value))),
        // The library's own tests attach to scripted servers on reused ports: no expectations.
        None if cfg!(test) => None,
        None => {
            let base =
                std::env::var_os("XDG_CACHE_HOME").filter(|dir| !dir.is_empty()).map(PathBuf::from).or_else(|| {
                    std::env::var_os("HOME").filter(|dir| !dir.is_empty()).map(|h| PathBuf::from(h).join(".cache"))
                });
            Some(base.map(|dir| dir.join("ptvsd-dap").join("dialects")))
        }
    }
}

/// The key of an endpoint that may take an expectation: `tcp://host:port/path`, without
/// the secret; `None` for the WebSocket schemes.
pub fn key(endpoint: &Endpoint) -> Option<String> {
    match endpoint.scheme() {
        Scheme::Tcp | Scheme::Tcps => {}
        _ => return None,
    }
    let host =
        if endpoint.host().contains(':') { format!("[{}]", endpoint.host()) } else { endpoint.host().to_owned() };
    Some(format!("{}://{}:{}{}", endpoint.scheme().as_str(), host, endpoint.port(), endpoint.path()))
}

/// The dialect `key` spoke when last attached, from this process's memory or the file.
pub fn expected(key: &str) -> Option<Dialect> {
    let path = setting()?;
    if let Some(dialect) = memory().lock().unwrap_or_else(|e| e.into_inner()).get(key) {
        return Some(*dialect);
    }
    let text = std::fs::read_to_string(path?).ok()?;
    parse(&text).into_iter().find(|(k, _)| k == key).map(|(_, d)| d)
}

/// A successful attach to `key` in `dialect`: remembered if JSON, forgotten if binary.
pub fn confirmed(key: &str, dialect: Dialect) {
    let json = matches!(dialect, Dialect::Json { .. }) && dialect.is_supported();
    let Some(path) = setting() else { return };
    {
        let mut memory = memory().lock().unwrap_or_else(|e| e.into_inner());
        let before = memory.get(key).copied();
        if json {
            memory.insert(key.to_owned(), dialect);
        } else {
            memory.remove(key);
        }
        // Written once per change, not on every attach.
        if before == json.then_some(dialect) && before.is_some() {
            return;
        }
    }
    if let Some(path) = path {
        update_file(&path, key, json.then_some(dialect));
    }
}

/// The greeting disagreed with the expectation: forget it.
pub fn contradicted(key: &str) {
    let Some(path) = setting() else { return };
    memory().lock().unwrap_or_else(|e| e.into_inner()).remove(key);
    if let Some(path) = path {
        update_file(&path, key, None);
    }
}

/// The file's entries; lines that do not parse are skipped.
fn parse(text: &str) -> Vec<(String, Dialect)> {
    text.lines()
        .filter_map(|line| {
            let (key, value) = line.split_once('\t')?;
            let version = value.strip_prefix("json ")?.trim().parse::<i64>().ok()?;
            let dialect = Dialect::Json { version };
            (dialect.is_supported() && !key.is_empty()).then(|| (key.to_owned(), dialect))
        })
        .collect()
}

fn render(entries: &[(String, Dialect)]) -> String {
    entries.iter().map(|(key, dialect)| format!("{key}\tjson {}\n", dialect.version())).collect()
}

/// Sets (or with `None` removes) the entry for `key`, writing a new file in its place.
/// Failures are logged and otherwise ignored: the cache only saves round trips.
fn update_file(path: &std::path::Path, key: &str, dialect: Option<Dialect>) {
    let mut entries = std::fs::read_to_string(path).map(|text| parse(&text)).unwrap_or_default();
    let had = entries.iter().position(|(k, _)| k == key);
    if had.is_none() && dialect.is_none() {
        return;
    }
    entries.retain(|(k, _)| k != key);
    if let Some(dialect) = dialect {
        entries.push((key.to_owned(), dialect));
    }
    let excess = entries.len().saturating_sub(MAX_ENTRIES);
    entries.drain(..excess);
    let write = || -> std::io::Result<()> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)?;
        }
        let temporary = path.with_extension(format!("tmp{}", std::process::id()));
        std::fs::write(&temporary, render(&entries))?;
        std::fs::rename(&temporary, path)
    };
    if let Err(error) = write() {
        tracing::debug!(%error, path = %path.display(), "could not update the dialect cache");
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn keys_leave_out_the_secret_and_the_websocket_schemes() {
        let endpoint = Endpoint::parse("tcp://s3cret@10.0.0.5:5678").unwrap();
        assert_eq!(key(&endpoint).as_deref(), Some("tcp://10.0.0.5:5678/"));
        let endpoint = Endpoint::parse("tcps://s3cret@[::1]:5678").unwrap();
        assert_eq!(key(&endpoint).as_deref(), Some("tcps://[::1]:5678/"));
        assert_eq!(key(&Endpoint::parse("wss://s3cret@site.example/ptvsd").unwrap()), None);
    }

    #[test]
    fn malformed_lines_are_no_expectation() {
        let text = "tcp://a:1/\tjson 8\ngarbage\ntcp://b:2/\tjson 6\ntcp://c:3/\tbinary 6\n\t json 7\ntcp://d:4/\tjson x\n\u{0}\u{ff}";
        assert_eq!(parse(text), vec![("tcp://a:1/".to_owned(), Dialect::Json { version: 8 })]);
        let entries = parse("tcp://a:1/\tjson 8\ntcp://b:2/\tjson 7\n");
        assert_eq!(parse(&render(&entries)), entries);
    }

    #[test]
    fn the_file_keeps_one_line_per_endpoint() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub").join("dialects");
        update_file(&path, "tcp://a:1/", Some(Dialect::Json { version: 8 }));
        update_file(&path, "tcp://b:2/", Some(Dialect::Json { version: 7 }));
        update_file(&path, "tcp://a:1/", Some(Dialect::Json { version: 7 }));
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text, "tcp://b:2/\tjson 7\ntcp://a:1/\tjson 7\n");
        update_file(&path, "tcp://b:2/", None);
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "tcp://a:1/\tjson 7\n");
    }
}
