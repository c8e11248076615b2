//! The `attach` configuration: parsed from the editor's raw arguments, validated once.
//!
//! Owns: [`AttachConfig`] and [`ConfigError`], and the key tables [`ATTACH_KEYS`] and
//! [`LAUNCH_KEYS`] that the editors' JSON Schema ([`configuration_attributes`], printed by
//! `ptvsd-dap schema`) is generated from. Lenient about unknown keys (VS Code,
//! nvim-dap and Helix inject their own: `type`, `name`, `request`, `__sessionId`, `cwd`,
//! …), strict about the values of the keys it knows. Helix turns template strings that
//! look like numbers into numbers, so string values (`secret`, `port`) accept numbers.
//! Must not know: the legacy protocol. Its `Debug` never shows the secret.

use std::path::PathBuf;
use std::time::Duration;

use serde_json::{json, Map, Value};
use thiserror::Error;

use super::paths::{PathMapper, PathMapping};
use crate::transport::{ConnectOptions, Endpoint, ProxyChoice, ProxyUrl, Secret, TunnelOptions};

/// The JSON shape of a configuration key's value, as the editors' schemas describe it.
/// (The parser is more lenient: Helix sends numbers for strings, and so on.)
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyType {
    String,
    Boolean,
    /// An integer between 1 and 65535.
    Port,
    /// A string, or a list of strings (one per process of a multi-process session).
    StringOrList,
    /// A port, or a list of ports (one per process of a multi-process session).
    PortOrList,
    /// A number of seconds, more than 0 and at most 3600.
    Seconds,
    /// `[{"localRoot": …, "remoteRoot": …}]`.
    PathMappings,
    /// A list of strings.
    StringList,
    /// An object whose values are strings.
    StringMap,
}

/// The value a key has when it is left out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyDefault {
    None,
    Bool(bool),
    Number(u64),
    Text(&'static str),
}

/// One key of the `attach` or `launch` configuration: what the editors' schemas
/// (`ptvsd-dap schema`, `editors/vscode/package.json`) are generated from.
#[derive(Debug, Clone, Copy)]
pub struct ConfigKey {
    pub name: &'static str,
    pub ty: KeyType,
    pub default: KeyDefault,
    /// One or two sentences for the editor's hover.
    pub description: &'static str,
    /// The allowed values, when the key is an enumeration (none is, yet).
    pub choices: &'static [&'static str],
    /// The request is refused without it.
    pub required: bool,
}

impl ConfigKey {
    const fn new(name: &'static str, ty: KeyType, description: &'static str) -> ConfigKey {
        ConfigKey { name, ty, default: KeyDefault::None, description, choices: &[], required: false }
    }

    const fn default(mut self, default: KeyDefault) -> ConfigKey {
        self.default = default;
        self
    }

    const fn required(mut self) -> ConfigKey {
        self.required = true;
        self
    }

    /// This key as a JSON Schema property.
    pub fn schema(&self) -> Value {
        let mut schema = match self.ty {
            KeyType::String => json!({ "type": "string" }),
            KeyType::Boolean => json!({ "type": "boolean" }),
            KeyType::Port => json!({ "type": "integer", "minimum": 1, "maximum": 65535 }),
            KeyType::StringOrList => {
                json!({ "type": ["string", "array"], "items": { "type": "string" }, "minItems": 1 })
            }
            KeyType::PortOrList => json!({
                "type": ["integer", "array"],
                "minimum": 1,
                "maximum": 65535,
                "items": { "type": "integer", "minimum": 1, "maximum": 65535 },
                "minItems": 1,
            }),
            KeyType::Seconds => json!({ "type": "number", "exclusiveMinimum": 0, "maximum": 3600 }),
            KeyType::PathMappings => json!({
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "localRoot": { "type": "string", "description": "The folder on this machine." },
                        "remoteRoot": { "type": "string", "description": "The same folder as the debuggee sees it." },
                    },
                    "required": ["localRoot", "remoteRoot"],
                },
            }),
            KeyType::StringList => json!({ "type": "array", "items": { "type": "string" } }),
            KeyType::StringMap => json!({ "type": "object", "additionalProperties": { "type": "string" } }),
        };
        schema["description"] = Value::from(self.description);
        match self.default {
            KeyDefault::None => {}
            KeyDefault::Bool(b) => schema["default"] = Value::from(b),
            KeyDefault::Number(n) => schema["default"] = Value::from(n),
            KeyDefault::Text(s) => schema["default"] = Value::from(s),
        }
        if !self.choices.is_empty() {
            schema["enum"] = Value::from(self.choices.to_vec());
        }
        schema
    }
}

const PATH_MAPPINGS: ConfigKey = ConfigKey::new(
    "pathMappings",
    KeyType::PathMappings,
    "Maps local folders to the debuggee's, e.g. [{\"localRoot\": \"${workspaceFolder}\", \"remoteRoot\": \"/home/site/wwwroot\"}]. The longest matching prefix wins; Windows paths (D:\\home\\site\\wwwroot) match case-insensitively.",
);
const REDIRECT_OUTPUT: ConfigKey =
    ConfigKey::new("redirectOutput", KeyType::Boolean, "Show the program's stdout and stderr in the editor.")
        .default(KeyDefault::Bool(true));
const JUST_MY_CODE: ConfigKey = ConfigKey::new(
    "justMyCode",
    KeyType::Boolean,
    "Debug only your own code; false also steps into the standard library (ptvsd's DebugStdLib).",
)
.default(KeyDefault::Bool(true));

/// Every key `attach` understands. The parser below reads exactly these (checked by
/// `tests/editor_configs.rs`); the editors' schemas are generated from them (`ptvsd-dap
/// schema`), and the README's table mirrors them.
pub const ATTACH_KEYS: &[ConfigKey] = &[
    ConfigKey::new(
        "url",
        KeyType::StringOrList,
        "Where ptvsd listens: tcp://SECRET@HOST:PORT (port 5678 by default), tcps://…, ws://…, or wss://SECRET@SITE.azurewebsites.net/ptvsd for Azure App Service. The user-info is the ptvsd secret, percent-encoded. A list attaches to every one (the workers of gunicorn, uWSGI, FastCGI) as one session.",
    ),
    ConfigKey::new("host", KeyType::String, "Host of a plain tcp target, instead of url."),
    ConfigKey::new("port", KeyType::PortOrList, "Port of a plain tcp target (with host); a list attaches to every one as one session.")
        .default(KeyDefault::Number(5678)),
    ConfigKey::new("secret", KeyType::String, "The ptvsd secret (with host)."),
    PATH_MAPPINGS,
    ConfigKey::new("localRoot", KeyType::String, "Shorthand for one path mapping: the local folder (with remoteRoot)."),
    ConfigKey::new("remoteRoot", KeyType::String, "Shorthand for one path mapping: the debuggee's folder (with localRoot)."),
    REDIRECT_OUTPUT,
    JUST_MY_CODE,
    ConfigKey::new("stopOnEntry", KeyType::Boolean, "Stop as soon as the debugger is attached.").default(KeyDefault::Bool(false)),
    ConfigKey::new("django", KeyType::Boolean, "Debug Django templates (ptvsd's DjangoDebugging).").default(KeyDefault::Bool(false)),
    ConfigKey::new("caFile", KeyType::String, "PEM file with extra CA certificates to trust for tcps:// and wss://."),
    ConfigKey::new("insecureTls", KeyType::Boolean, "Do not verify TLS certificates (dangerous).").default(KeyDefault::Bool(false)),
    ConfigKey::new(
        "headers",
        KeyType::StringMap,
        "Extra headers for the WebSocket upgrade, e.g. {\"Cookie\": \"ARRAffinity=…\"} to pin one instance of a scaled-out site.",
    ),
    ConfigKey::new(
        "wakeUrl",
        KeyType::String,
        "URL sent a HEAD request before connecting, because App Service starts the Python process lazily. Default: the site's root for wss:// URLs.",
    ),
    ConfigKey::new(
        "tunnelUser",
        KeyType::String,
        "Linux App Service: the publishing user name (userName in the publish profile, e.g. $my-site) for the tunnel wss://SECRET@SITE.scm.azurewebsites.net/AppServiceTunnel/Tunnel.ashx. Default: $PTVSD_DAP_TUNNEL_USER.",
    ),
    ConfigKey::new(
        "tunnelPassword",
        KeyType::String,
        "Linux App Service: the publishing password (userPWD in the publish profile) for the tunnel. Default: $PTVSD_DAP_TUNNEL_PASSWORD. Never logged.",
    ),
    ConfigKey::new("tunnelPort", KeyType::Port, "Linux App Service: the port ptvsd listens on inside the container (sent to the tunnel as AppsvcTunnelPort).")
        .default(KeyDefault::Number(5678)),
    ConfigKey::new(
        "proxy",
        KeyType::String,
        "HTTP proxy for the connection, http://[USER:PASSWORD@]HOST:PORT (CONNECT). Default: HTTPS_PROXY (HTTP_PROXY for ws://) unless the host is in NO_PROXY, as curl; \"\" for none.",
    ),
    ConfigKey::new("connectTimeout", KeyType::Seconds, "Seconds to wait for the connection and for each handshake step.")
        .default(KeyDefault::Number(15)),
    ConfigKey::new("requestTimeout", KeyType::Seconds, "Seconds to wait for each reply from the debuggee.").default(KeyDefault::Number(15)),
    ConfigKey::new(
        "terminateEndsApp",
        KeyType::Boolean,
        "Make the editor's stop button (terminate) end the app while it is stopped. Off: terminate detaches and the app keeps running, ready for the next debugger.",
    )
    .default(KeyDefault::Bool(false)),
    ConfigKey::new(
        "reconnect",
        KeyType::Boolean,
        "Keep the session when the app restarts (App Service recycles, deploys, crashes): attach again every 0.5 to 5 s until it is back, with the same breakpoints. The first attach also waits up to 8 × connectTimeout for a site that is still starting.",
    )
    .default(KeyDefault::Bool(false)),
];

/// Every key `launch` understands. For `launch`, ptvsd-dap runs `PYTHON -m ptvsd --wait
/// --secret RANDOM --port FREE PROGRAM ARGS…` on this machine and attaches over tcp.
pub const LAUNCH_KEYS: &[ConfigKey] = &[
    ConfigKey::new("program", KeyType::String, "The Python script to run under ptvsd.").required(),
    ConfigKey::new("args", KeyType::StringList, "Command-line arguments for the program."),
    ConfigKey::new("cwd", KeyType::String, "Working directory of the program."),
    ConfigKey::new(
        "env",
        KeyType::StringMap,
        "Extra environment variables for the program, e.g. {\"DJANGO_SETTINGS_MODULE\": \"app.settings\"}.",
    ),
    ConfigKey::new(
        "python",
        KeyType::String,
        "The Python interpreter to run; ptvsd 2.x or 3.x must be installed for it.",
    )
    .default(KeyDefault::Text("python3")),
    ConfigKey::new("stopOnEntry", KeyType::Boolean, "Stop before the program's first line.")
        .default(KeyDefault::Bool(false)),
    JUST_MY_CODE,
    REDIRECT_OUTPUT,
    PATH_MAPPINGS,
];

/// The JSON Schema of one request's arguments, for an editor (VS Code's
/// `configurationAttributes.<request>`). Strict where the parser is lenient.
pub fn request_schema(keys: &[ConfigKey]) -> Value {
    let properties: Map<String, Value> = keys.iter().map(|key| (key.name.to_string(), key.schema())).collect();
    let required: Vec<&str> = keys.iter().filter(|key| key.required).map(|key| key.name).collect();
    let mut schema = json!({ "properties": properties });
    if !required.is_empty() {
        schema["required"] = Value::from(required);
    }
    schema
}

/// VS Code's `configurationAttributes` for the `ptvsd-dap` debugger, as printed by
/// `ptvsd-dap schema` and checked into `editors/vscode/package.json`.
pub fn configuration_attributes() -> Value {
    json!({ "attach": request_schema(ATTACH_KEYS), "launch": request_schema(LAUNCH_KEYS) })
}

/// A bad `attach` configuration, as a sentence naming the key.
#[derive(Debug, Error)]
pub enum ConfigError {
    #[error("attach configuration: `{key}` {problem}")]
    Invalid { key: &'static str, problem: String },
    #[error(
        "attach configuration: give either `url` (e.g. wss://SECRET@SITE.azurewebsites.net/ptvsd) or `host` and `port`"
    )]
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
    /// `terminate` ends the app (while stopped) instead of detaching.
    pub terminate_ends_app: bool,
    /// Attach again when the connection ends other than by the user's disconnect, and
    /// wait for a site that is still starting (`session::reconnect`).
    pub reconnect: bool,
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

/// Keys whose values are never echoed in an error.
const CONFIDENTIAL_KEYS: &[&str] = &["secret", "tunnelUser", "tunnelPassword", "proxy"];

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
            // Never echo what was given as a secret or credentials.
            Some(_) if CONFIDENTIAL_KEYS.contains(&key) => Err(invalid(key, "must be a string")),
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
            _ => Err(invalid(
                key,
                format!(
                    "must be a number of seconds between 0 and 3600, got {}",
                    self.get(key).map(describe).unwrap_or_default()
                ),
            )),
        }
    }
}

/// A port number (Helix sends numbers as strings and the other way round).
fn port_number(key: &'static str, value: &Value) -> Result<u16, ConfigError> {
    let parsed = match value {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.trim().parse::<u64>().ok(),
        _ => None,
    };
    match parsed {
        Some(p) if (1..=65535).contains(&p) => Ok(p as u16),
        _ => Err(invalid(key, format!("must be a port number between 1 and 65535, got {}", describe(value)))),
    }
}

/// The most endpoints one session attaches to (a multi-process session).
pub const MAX_ENDPOINTS: usize = 64;

/// The `attach` arguments of each endpoint when `url` is a list, or `port` (with `host`)
/// is a list: the same arguments with one `url` (or `port`) each, in the order given.
/// `None` when the arguments name one endpoint the usual way. A list of one is a list
/// (the caller decides what one endpoint means). Never echoes a URL (it holds a secret).
pub fn split_endpoints(arguments: &Value) -> Result<Option<Vec<Value>>, ConfigError> {
    let Value::Object(map) = arguments else { return Ok(None) };
    let (key, items): (&'static str, &Vec<Value>) = match (map.get("url"), map.get("port")) {
        (Some(Value::Array(items)), _) => ("url", items),
        (None | Some(Value::Null), Some(Value::Array(items))) => ("port", items),
        _ => return Ok(None),
    };
    if items.is_empty() {
        return Err(invalid(key, "is an empty list: give at least one endpoint"));
    }
    if items.len() > MAX_ENDPOINTS {
        return Err(invalid(
            key,
            format!("lists {} endpoints; one session attaches to at most {MAX_ENDPOINTS}", items.len()),
        ));
    }
    let mut seen = std::collections::HashSet::new();
    let mut split = Vec::with_capacity(items.len());
    for (index, item) in items.iter().enumerate() {
        let value = match (key, item) {
            ("url", Value::String(url)) => Value::String(url.clone()),
            ("url", _) => return Err(invalid(key, format!("entry {} is not a string", index + 1))),
            (_, value) => Value::from(port_number(key, value)?),
        };
        if !seen.insert(value.to_string()) {
            return Err(invalid(
                key,
                format!("entry {} repeats an earlier one: each endpoint is one process", index + 1),
            ));
        }
        let mut one = map.clone();
        one.insert(key.to_string(), value);
        split.push(Value::Object(one));
    }
    Ok(Some(split))
}

impl AttachConfig {
    /// Parses the `attach` request's arguments (of one endpoint: see [`split_endpoints`]).
    pub fn from_arguments(arguments: &Value) -> Result<Self, ConfigError> {
        let empty = Map::new();
        let map = match arguments {
            Value::Object(map) => map,
            Value::Null => &empty,
            other => return Err(invalid("arguments", format!("must be an object, got {}", describe(other)))),
        };
        if let Some(several) = split_endpoints(arguments)? {
            let key = if matches!(map.get("url"), Some(Value::Array(_))) { "url" } else { "port" };
            return Err(invalid(
                key,
                format!(
                    "lists {} endpoints, which only a whole session attaches to (not one connection)",
                    several.len()
                ),
            ));
        }
        let args = Args(map);

        let endpoint = match (args.string("url")?, args.string("host")?) {
            (Some(url), _) => Endpoint::parse(&url).map_err(|e| ConfigError::Url(e.to_string()))?,
            (None, Some(host)) => {
                let port = match args.get("port") {
                    None => 5678,
                    Some(value) => port_number("port", value)?,
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
                    (Some(l), Some(r)) => {
                        mappings.push(PathMapping { local_root: l.to_string(), remote_root: r.to_string() })
                    }
                    _ => {
                        return Err(invalid(
                            "pathMappings",
                            format!("each entry needs string localRoot and remoteRoot, got {item}"),
                        ))
                    }
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
                        Some((name, value)) if !name.trim().is_empty() => {
                            headers.push((name.trim().to_string(), value.trim().to_string()))
                        }
                        _ => {
                            return Err(invalid(
                                "headers",
                                format!("list entries must look like \"Name: value\"; entry {} does not", i + 1),
                            ))
                        }
                    }
                }
            }
            Some(other) => {
                return Err(invalid("headers", format!("must be an object of name: value, got {}", describe(other))))
            }
        }

        let connect_timeout = args.seconds("connectTimeout", 15)?;
        let proxy = match args.string("proxy")? {
            None => ProxyChoice::FromEnvironment,
            Some(url) if url.trim().is_empty() => ProxyChoice::Off,
            Some(url) => ProxyChoice::Url(
                ProxyUrl::parse(&url, "the `proxy` key")
                    .map_err(|e| invalid("proxy", format!("is not usable: {e}")))?,
            ),
        };
        let tunnel = TunnelOptions {
            user: args.string("tunnelUser")?,
            password: args.string("tunnelPassword")?.map(Secret::new),
            port: match args.get("tunnelPort") {
                None => None,
                Some(value) => Some(port_number("tunnelPort", value)?),
            },
        };
        let connect = ConnectOptions {
            ca_file: args.string("caFile")?.map(PathBuf::from),
            insecure_tls: args.bool("insecureTls", false)?,
            headers,
            connect_timeout,
            wake_url: args.string("wakeUrl")?,
            proxy,
            tunnel,
            ..ConnectOptions::default()
        };

        let known: Vec<&str> = ATTACH_KEYS.iter().map(|key| key.name).collect();
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
            terminate_ends_app: args.bool("terminateEndsApp", false)?,
            reconnect: args.bool("reconnect", false)?,
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
