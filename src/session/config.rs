//! The `attach` configuration: parsed from the editor's raw arguments, validated once.
//!
//! Owns: [`AttachConfig`] and [`ConfigError`]. Lenient about unknown keys (VS Code,
//! nvim-dap and Helix inject their own: `type`, `name`, `request`, `__sessionId`, `cwd`,
//! …), strict about the values of the keys it knows. Helix turns template strings that
//! look like numbers into numbers, so string values (`secret`, `port`) accept numbers.
//! Must not know: the legacy protocol. Its `Debug` never shows the secret.

use std::path::PathBuf;
use std::time::Duration;

use serde_json::{Map, Value};
use thiserror::Error;

use super::paths::{PathMapper, PathMapping};
use crate::transport::{ConnectOptions, Endpoint, Secret};

/// Every key `attach` understands, with a one-line description (the README and the
/// editors' schemas mirror this list).
pub const ATTACH_KEYS: &[(&str, &str)] = &[
    ("url", "tcp://SECRET@HOST:PORT, tcps://…, ws://…, or wss://SECRET@SITE.azurewebsites.net/ptvsd"),
    ("host", "host of a plain tcp target (instead of url)"),
    ("port", "port of a plain tcp target (default 5678)"),
    ("secret", "the ptvsd secret for host/port"),
    ("pathMappings", "[{localRoot, remoteRoot}]"),
    ("localRoot", "shorthand for one path mapping"),
    ("remoteRoot", "shorthand for one path mapping"),
    ("redirectOutput", "forward the program's output to the editor (default true)"),
    ("justMyCode", "debug only user code; false sends DebugStdLib (default true)"),
    ("stopOnEntry", "stop at the attach break (default false)"),
    ("django", "Django template debugging (default false)"),
    ("caFile", "PEM file with extra CA certificates for tcps/wss"),
    ("insecureTls", "do not verify TLS certificates (default false)"),
    ("headers", "extra WebSocket upgrade headers, e.g. {\"Cookie\": \"ARRAffinity=…\"}"),
    ("wakeUrl", "URL to send a HEAD request to before connecting (default: the wss site root)"),
    ("connectTimeout", "seconds to wait for the connection and the handshake (default 15)"),
    ("requestTimeout", "seconds to wait for each reply from the debuggee (default 15)"),
];

/// A bad `attach` configuration, as a sentence naming the key.
#[derive(Debug, Error)]
pub enum ConfigError {
    #[error("attach configuration: `{key}` {problem}")]
    Invalid { key: &'static str, problem: String },
    #[error("attach configuration: give either `url` (e.g. wss://SECRET@SITE.azurewebsites.net/ptvsd) or `host` and `port`")]
    NoTarget,
    #[error("attach configuration: `url` is invalid: {0}")]
    Url(String),
}

/// A validated attach configuration.
#[derive(Debug, Clone)]
pub struct AttachConfig {
    pub endpoint: Endpoint,
    pub connect: ConnectOptions,
    pub paths: PathMapper,
    pub redirect_output: bool,
    pub just_my_code: bool,
    pub stop_on_entry: bool,
    pub django: bool,
    /// Limit for each handshake step.
    pub handshake_timeout: Duration,
    /// Limit for each reply the session waits for.
    pub request_timeout: Duration,
    /// Keys we did not recognise (logged, never rejected).
    pub unknown_keys: Vec<String>,
}

fn invalid(key: &'static str, problem: impl Into<String>) -> ConfigError {
    ConfigError::Invalid { key, problem: problem.into() }
}

fn describe(value: &Value) -> String {
    match value {
        Value::String(s) => format!("{s:?}"),
        other => other.to_string(),
    }
}

struct Args<'a>(&'a Map<String, Value>);

impl<'a> Args<'a> {
    fn get(&self, key: &str) -> Option<&'a Value> {
        self.0.get(key).filter(|v| !v.is_null())
    }

    fn bool(&self, key: &'static str, default: bool) -> Result<bool, ConfigError> {
        match self.get(key) {
            None => Ok(default),
            Some(Value::Bool(b)) => Ok(*b),
            Some(Value::String(s)) if s == "true" || s == "false" => Ok(s == "true"),
            Some(other) => Err(invalid(key, format!("must be true or false, got {}", describe(other)))),
        }
    }

    /// A string; numbers are accepted and turned back into text (Helix templates).
    fn string(&self, key: &'static str) -> Result<Option<String>, ConfigError> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(Value::Number(n)) => Ok(Some(n.to_string())),
            // Never echo what was given as the secret.
            Some(_) if key == "secret" => Err(invalid(key, "must be a string")),
            Some(other) => Err(invalid(key, format!("must be a string, got {}", describe(other)))),
        }
    }

    fn seconds(&self, key: &'static str, default: u64) -> Result<Duration, ConfigError> {
        let value = match self.get(key) {
            None => return Ok(Duration::from_secs(default)),
            Some(Value::Number(n)) => n.as_f64(),
            Some(Value::String(s)) => s.trim().parse::<f64>().ok(),
            Some(_) => None,
        };
        match value {
            Some(v) if v.is_finite() && v > 0.0 && v <= 3600.0 => Ok(Duration::from_secs_f64(v)),
            _ => Err(invalid(key, format!("must be a number of seconds between 0 and 3600, got {}", self.get(key).map(describe).unwrap_or_default()))),
        }
    }
}

impl AttachConfig {
    /// Parses the `attach` request's arguments.
    pub fn from_arguments(arguments: &Value) -> Result<Self, ConfigError> {
        let empty = Map::new();
        let map = match arguments {
            Value::Object(map) => map,
            Value::Null => &empty,
            other => return Err(invalid("arguments", format!("must be an object, got {}", describe(other)))),
        };
        let args = Args(map);

        let endpoint = match (args.string("url")?, args.string("host")?) {
            (Some(url), _) => Endpoint::parse(&url).map_err(|e| ConfigError::Url(e.to_string()))?,
            (None, Some(host)) => {
                let port = match args.get("port") {
                    None => 5678,
                    Some(value) => {
                        let parsed = match value {
                            Value::Number(n) => n.as_u64(),
                            Value::String(s) => s.trim().parse::<u64>().ok(),
                            _ => None,
                        };
                        match parsed {
                            Some(p) if (1..=65535).contains(&p) => p as u16,
                            _ => return Err(invalid("port", format!("must be a port number between 1 and 65535, got {}", describe(value)))),
                        }
                    }
                };
                let secret = args.string("secret")?.unwrap_or_default();
                Endpoint::from_parts(host, port, Secret::new(secret))
            }
            (None, None) => return Err(ConfigError::NoTarget),
        };

        let mut mappings = Vec::new();
        if let Some(value) = args.get("pathMappings") {
            let Value::Array(items) = value else {
                return Err(invalid("pathMappings", "must be a list of {\"localRoot\": …, \"remoteRoot\": …}"));
            };
            for item in items {
                let local = item.get("localRoot").and_then(Value::as_str);
                let remote = item.get("remoteRoot").and_then(Value::as_str);
                match (local, remote) {
                    (Some(l), Some(r)) => mappings.push(PathMapping { local_root: l.to_string(), remote_root: r.to_string() }),
                    _ => return Err(invalid("pathMappings", format!("each entry needs string localRoot and remoteRoot, got {item}"))),
                }
            }
        }
        match (args.string("localRoot")?, args.string("remoteRoot")?) {
            (Some(local_root), Some(remote_root)) => mappings.push(PathMapping { local_root, remote_root }),
            (None, None) => {}
            _ => return Err(invalid("localRoot", "and `remoteRoot` go together: give both or neither")),
        }

        let mut headers = Vec::new();
        match args.get("headers") {
            None => {}
            Some(Value::Object(map)) => {
                for (name, value) in map {
                    match value {
                        Value::String(v) => headers.push((name.clone(), v.clone())),
                        // Header values (cookies, tokens) are never echoed.
                        _ => return Err(invalid("headers", format!("values must be strings; {name} is not"))),
                    }
                }
            }
            Some(Value::Array(items)) => {
                for (i, item) in items.iter().enumerate() {
                    match item.as_str().and_then(|s| s.split_once(':')) {
                        Some((name, value)) if !name.trim().is_empty() => headers.push((name.trim().to_string(), value.trim().to_string())),
                        _ => return Err(invalid("headers", format!("list entries must look like \"Name: value\"; entry {} does not", i + 1))),
                    }
                }
            }
            Some(other) => return Err(invalid("headers", format!("must be an object of name: value, got {}", describe(other)))),
        }

        let connect_timeout = args.seconds("connectTimeout", 15)?;
        let connect = ConnectOptions {
            ca_file: args.string("caFile")?.map(PathBuf::from),
            insecure_tls: args.bool("insecureTls", false)?,
            headers,
            connect_timeout,
            wake_url: args.string("wakeUrl")?,
            ..ConnectOptions::default()
        };

        let known: Vec<&str> = ATTACH_KEYS.iter().map(|(k, _)| *k).collect();
        let unknown_keys = map.keys().filter(|k| !known.contains(&k.as_str())).cloned().collect();

        Ok(AttachConfig {
            endpoint,
            connect,
            paths: PathMapper::new(mappings),
            redirect_output: args.bool("redirectOutput", true)?,
            just_my_code: args.bool("justMyCode", true)?,
            stop_on_entry: args.bool("stopOnEntry", false)?,
            django: args.bool("django", false)?,
            handshake_timeout: connect_timeout,
            request_timeout: args.seconds("requestTimeout", 15)?,
            unknown_keys,
        })
    }

    /// The ATCH debug-options string (spec §2.3). `RedirectOutput` is added by the server
    /// itself unless it was started without redirection.
    pub fn debug_options(&self) -> String {
        let mut options = vec!["RichExceptions"];
        if self.redirect_output {
            options.insert(0, "RedirectOutput");
        }
        if !self.just_my_code {
            options.push("DebugStdLib");
        }
        if self.django {
            options.push("DjangoDebugging");
        }
        options.join(", ")
    }
}
