//! The editor configurations in `editors/` against the adapter they configure.
//!
//! * `editors/vscode/package.json`'s `configurationAttributes` must equal what
//!   `ptvsd-dap schema` prints (generated from `ATTACH_KEYS`/`LAUNCH_KEYS` in
//!   `src/session/config.rs`). `UPDATE_EDITOR_SCHEMA=1 cargo test --test editor_configs`
//!   rewrites that part of the file.
//! * The attach parser reads exactly the keys in `ATTACH_KEYS`, and applies the defaults
//!   the schema advertises.
//! * Every configuration the editors would send (VS Code's snippets and initial
//!   configurations, the nvim-dap entries, the Helix templates) is built the way that
//!   editor builds it, with example answers for the prompts, and then parsed by
//!   `AttachConfig::from_arguments` (attach) or checked against the schema (launch).
//! * `vsce package` turns `editors/vscode` into a `.vsix` (needs node and
//!   `tests/node/node_modules`; skipped only without node, and never with `CI=true`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use ptvsd_dap::session::config::{
    configuration_attributes, AttachConfig, ConfigError, KeyDefault, KeyType, ATTACH_KEYS, LAUNCH_KEYS,
};
use serde::Deserialize;
use serde_json::{json, Map, Value};

const DEBUG_TYPE: &str = "ptvsd-dap";
/// Keys every editor adds that are not the adapter's.
const EDITOR_KEYS: &[&str] = &["type", "name", "request"];
/// The example answer for every secret prompt: Helix sends it as a number.
const SECRET: &str = "1234";

fn editors_dir() -> PathBuf {
    support::repo_root().join("editors")
}

fn package_json_path() -> PathBuf {
    editors_dir().join("vscode").join("package.json")
}

fn package_json() -> Value {
    serde_json::from_str(&std::fs::read_to_string(package_json_path()).unwrap()).unwrap()
}

fn debugger_contribution(package: &Value) -> &Value {
    let debuggers = package["contributes"]["debuggers"].as_array().expect("contributes.debuggers");
    let found: Vec<&Value> = debuggers.iter().filter(|d| d["type"] == DEBUG_TYPE).collect();
    assert_eq!(found.len(), 1, "package.json must contribute exactly one debugger of type {DEBUG_TYPE}");
    found[0]
}

// --- the generated schema ---------------------------------------------------------------

#[test]
fn package_json_configuration_attributes_are_generated_from_the_adapter() {
    let expected = configuration_attributes();
    let path = package_json_path();
    let text = std::fs::read_to_string(&path).unwrap();
    let package: Value = serde_json::from_str(&text).unwrap();
    let actual = &debugger_contribution(&package)["configurationAttributes"];
    if *actual == expected {
        return;
    }
    if std::env::var("UPDATE_EDITOR_SCHEMA").as_deref() == Ok("1") {
        let updated = replace_json_value(&text, "configurationAttributes", &expected);
        let reparsed: Value = serde_json::from_str(&updated).unwrap();
        assert_eq!(debugger_contribution(&reparsed)["configurationAttributes"], expected);
        std::fs::write(&path, updated).unwrap();
        eprintln!("UPDATE_EDITOR_SCHEMA=1: rewrote configurationAttributes in {}", path.display());
        return;
    }
    let mut differences = Vec::new();
    json_differences(&expected, actual, "", &mut differences);
    panic!(
        "{} has configurationAttributes that differ from the adapter's (`ptvsd-dap schema`, generated from \
         ATTACH_KEYS/LAUNCH_KEYS in src/session/config.rs) at {}.\n\
         Regenerate it with:  UPDATE_EDITOR_SCHEMA=1 cargo test --test editor_configs",
        path.display(),
        differences.join(", "),
    );
}

/// JSON pointers where `actual` differs from `expected`.
fn json_differences(expected: &Value, actual: &Value, at: &str, out: &mut Vec<String>) {
    match (expected, actual) {
        (Value::Object(e), Value::Object(a)) => {
            for key in e.keys().chain(a.keys().filter(|k| !e.contains_key(*k))) {
                let (e, a) = (e.get(key).unwrap_or(&Value::Null), a.get(key).unwrap_or(&Value::Null));
                json_differences(e, a, &format!("{at}/{key}"), out);
            }
        }
        _ if expected != actual => out.push(if at.is_empty() { "/".into() } else { at.into() }),
        _ => {}
    }
}

#[test]
fn the_schema_subcommand_prints_the_configuration_attributes() {
    let output = Command::new(env!("CARGO_BIN_EXE_ptvsd-dap")).arg("schema").stdin(Stdio::null()).output().unwrap();
    assert!(output.status.success(), "ptvsd-dap schema failed: {}", String::from_utf8_lossy(&output.stderr));
    let printed: Value = serde_json::from_slice(&output.stdout).expect("ptvsd-dap schema prints JSON");
    assert_eq!(printed, configuration_attributes());
    assert_eq!(printed["launch"]["required"], json!(["program"]));
    // The schemas compile, and a sensible configuration passes.
    validate(&printed["attach"], "attach", &json!({ "url": "tcp://s@localhost:5678", "connectTimeout": 2.5 })).unwrap();
    validate(&printed["launch"], "launch", &json!({ "program": "app.py", "args": ["-v"], "env": { "A": "1" } }))
        .unwrap();
    assert!(validate(&printed["launch"], "launch", &json!({ "args": [] })).is_err(), "program is required");
}

/// Replaces the value of the one `"key":` in a JSON text with `value`, pretty-printed at
/// the key's indentation, leaving the rest of the file as it was.
fn replace_json_value(text: &str, key: &str, value: &Value) -> String {
    let needle = format!("\"{key}\":");
    assert_eq!(text.matches(&needle).count(), 1, "expected exactly one {needle} in package.json");
    let at = text.find(&needle).unwrap();
    let start = at + needle.len() + (text[at + needle.len()..].len() - text[at + needle.len()..].trim_start().len());
    let bytes = text.as_bytes();
    assert_eq!(bytes[start], b'{', "{key} must be an object");
    let (mut depth, mut in_string, mut escaped, mut end) = (0usize, false, false, None);
    for (i, &b) in bytes.iter().enumerate().skip(start) {
        if in_string {
            match b {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'{' | b'[' => depth += 1,
            b'}' | b']' => {
                depth -= 1;
                if depth == 0 {
                    end = Some(i + 1);
                    break;
                }
            }
            _ => {}
        }
    }
    let end = end.expect("unbalanced JSON");
    let line_start = text[..at].rfind('\n').map_or(0, |i| i + 1);
    let indent = &text[line_start..at];
    let pretty = serde_json::to_string_pretty(value).unwrap().replace('\n', &format!("\n{indent}"));
    format!("{}{}{}", &text[..start], pretty, &text[end..])
}

/// Validates `config` against a request's generated schema made as strict as VS Code
/// makes it: `type`, `name` and `request` are added, and no other key is allowed.
fn validate(schema: &Value, request: &str, config: &Value) -> Result<(), String> {
    let mut schema = schema.clone();
    schema["type"] = json!("object");
    schema["additionalProperties"] = json!(false);
    let properties = schema["properties"].as_object_mut().unwrap();
    properties.insert("type".into(), json!({ "enum": [DEBUG_TYPE] }));
    properties.insert("request".into(), json!({ "enum": [request] }));
    properties.insert("name".into(), json!({ "type": "string" }));
    let validator =
        jsonschema::draft7::new(&schema).map_err(|e| format!("the {request} schema does not compile: {e}"))?;
    let mut config = config.clone();
    let object = config.as_object_mut().ok_or("a configuration must be an object")?;
    object.entry("type").or_insert(json!(DEBUG_TYPE));
    object.entry("request").or_insert(json!(request));
    object.entry("name").or_insert(json!("example"));
    let errors: Vec<String> = validator.iter_errors(&config).map(|e| format!("{e} at {}", e.instance_path)).collect();
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors.join("; "))
    }
}

// --- the attach parser against its key table ---------------------------------------------

/// Every string literal the parser passes to its readers (`args.get("…")`,
/// `args.string("…")`, `args.bool("…")`, `args.seconds("…")`) is a key in `ATTACH_KEYS`.
#[test]
fn every_key_the_attach_parser_reads_is_in_attach_keys() {
    let source = std::fs::read_to_string(support::repo_root().join("src/session/config.rs")).unwrap();
    let parser = &source[source.find("pub fn from_arguments").expect("from_arguments in config.rs")..];
    let mut read = Vec::new();
    for (at, _) in parser.match_indices("args.") {
        let rest = &parser[at + "args.".len()..];
        let Some(open) = rest.find("(\"") else { continue };
        if !rest[..open].chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            continue;
        }
        let literal = &rest[open + 2..];
        read.push(literal[..literal.find('"').unwrap()].to_string());
    }
    assert!(read.len() >= ATTACH_KEYS.len(), "found only {read:?}: has the parser's shape changed?");
    let known: Vec<&str> = ATTACH_KEYS.iter().map(|k| k.name).collect();
    for key in &read {
        assert!(known.contains(&key.as_str()), "the attach parser reads `{key}`, which ATTACH_KEYS does not list");
    }
    for key in &known {
        assert!(read.iter().any(|r| r == key), "ATTACH_KEYS lists `{key}`, which the attach parser never reads");
    }
}

/// Every key in `ATTACH_KEYS` is really read: a wrong value for it is refused, naming it.
#[test]
fn every_key_in_attach_keys_is_validated_by_the_parser() {
    for key in ATTACH_KEYS {
        let wrong = match key.ty {
            KeyType::String => json!(["not", "a", "string"]),
            KeyType::Boolean => json!("maybe"),
            KeyType::Port | KeyType::PortOrList => json!(0),
            KeyType::StringOrList => json!([42]),
            KeyType::Seconds => json!(-1),
            KeyType::PathMappings => json!("not a list"),
            KeyType::StringList | KeyType::StringMap => json!(42),
        };
        let mut args = match key.name {
            "host" => json!({}),
            "port" | "secret" => json!({ "host": "127.0.0.1" }),
            _ => json!({ "url": "tcp://s@127.0.0.1:5678" }),
        };
        args[key.name] = wrong.clone();
        match AttachConfig::from_arguments(&args) {
            Err(ConfigError::Invalid { key: named, .. }) => {
                assert_eq!(named, key.name, "a wrong `{}` ({wrong}) was blamed on `{named}`", key.name)
            }
            other => panic!("a wrong `{}` ({wrong}) gave {other:?}", key.name),
        }
    }
}

/// What the schema says a left-out key means is what the parser does.
#[test]
fn attach_defaults_in_the_schema_are_the_parsers() {
    let url = AttachConfig::from_arguments(&json!({ "url": "tcp://s@127.0.0.1" })).unwrap();
    let host = AttachConfig::from_arguments(&json!({ "host": "127.0.0.1" })).unwrap();
    for key in ATTACH_KEYS {
        let actual = match key.name {
            "port" => KeyDefault::Number(host.endpoint.port().into()),
            "redirectOutput" => KeyDefault::Bool(url.redirect_output),
            "justMyCode" => KeyDefault::Bool(url.just_my_code),
            "stopOnEntry" => KeyDefault::Bool(url.stop_on_entry),
            "django" => KeyDefault::Bool(url.django),
            "insecureTls" => KeyDefault::Bool(url.connect.insecure_tls),
            "connectTimeout" => KeyDefault::Number(url.connect.connect_timeout.as_secs()),
            "requestTimeout" => KeyDefault::Number(url.request_timeout.as_secs()),
            "terminateEndsApp" => KeyDefault::Bool(url.terminate_ends_app),
            "tunnelPort" => KeyDefault::Number(url.connect.tunnel.port().into()),
            "reconnect" => KeyDefault::Bool(url.reconnect),
            // No default, or one that depends on other keys (wakeUrl).
            _ => KeyDefault::None,
        };
        assert_eq!(key.default, actual, "the schema's default for `{}` is not the parser's", key.name);
    }
    assert!(url.unknown_keys.is_empty());
}

#[test]
fn launch_keys_shared_with_attach_mean_the_same() {
    for key in LAUNCH_KEYS {
        if let Some(attach) = ATTACH_KEYS.iter().find(|a| a.name == key.name) {
            if key.name == "stopOnEntry" {
                continue; // Attach: at the attach break; launch: before the first line.
            }
            assert_eq!(format!("{attach:?}"), format!("{key:?}"), "`{}` differs between attach and launch", key.name);
        }
    }
}

// --- what each editor sends ---------------------------------------------------------------

/// One configuration as an editor would send it.
struct Sent {
    origin: String,
    request: String,
    arguments: Value,
}

/// Checks one configuration: attach ones must parse, launch ones must match the schema;
/// `allowed_extra` are keys the editor adds that the adapter ignores.
fn check(sent: &Sent, allowed_extra: &[&str], strict_schema: bool) -> Option<AttachConfig> {
    let Sent { origin, request, arguments } = sent;
    let attributes = configuration_attributes();
    let schema = &attributes[request.as_str()];
    assert!(schema.is_object(), "{origin}: unknown request {request:?}");
    if strict_schema {
        if let Err(e) = validate(schema, request, arguments) {
            panic!("{origin}: does not match the {request} schema: {e}\n{arguments:#}");
        }
    }
    let properties = schema["properties"].as_object().unwrap();
    for key in arguments.as_object().unwrap().keys() {
        assert!(
            properties.contains_key(key)
                || EDITOR_KEYS.contains(&key.as_str())
                || allowed_extra.contains(&key.as_str()),
            "{origin}: `{key}` is not a {request} key"
        );
    }
    if request == "launch" {
        return None;
    }
    // A list of endpoints (`url` or `port`) is one attach per endpoint, as the adapter does.
    let endpoints = ptvsd_dap::session::config::split_endpoints(arguments)
        .unwrap_or_else(|e| panic!("{origin}: the adapter refuses its endpoints: {e}\n{arguments:#}"))
        .unwrap_or_else(|| vec![arguments.clone()]);
    let mut first = None;
    for one in &endpoints {
        match AttachConfig::from_arguments(one) {
            Ok(config) => {
                for key in &config.unknown_keys {
                    assert!(
                        EDITOR_KEYS.contains(&key.as_str()) || allowed_extra.contains(&key.as_str()),
                        "{origin}: the adapter ignores `{key}`"
                    );
                }
                first.get_or_insert(config);
            }
            Err(e) => panic!("{origin}: the adapter refuses it: {e}\n{arguments:#}"),
        }
    }
    first
}

/// Replaces launch.json / nvim-dap variables (`${workspaceFolder}`, …) in every string.
fn resolve_variables(value: &mut Value, variables: &BTreeMap<&str, &str>, origin: &str) {
    match value {
        Value::String(s) => {
            let mut out = String::new();
            let mut rest = s.as_str();
            while let Some(at) = rest.find("${") {
                out.push_str(&rest[..at]);
                let end = rest[at..].find('}').unwrap_or_else(|| panic!("{origin}: unclosed ${{ in {s:?}")) + at;
                let name = &rest[at + 2..end];
                out.push_str(variables.get(name).unwrap_or_else(|| panic!("{origin}: unknown variable ${{{name}}}")));
                rest = &rest[end + 1..];
            }
            out.push_str(rest);
            *s = out;
        }
        Value::Array(items) => items.iter_mut().for_each(|v| resolve_variables(v, variables, origin)),
        Value::Object(map) => map.values_mut().for_each(|v| resolve_variables(v, variables, origin)),
        _ => {}
    }
}

const WORKSPACE: &str = "/home/me/project";

fn vscode_variables() -> BTreeMap<&'static str, &'static str> {
    BTreeMap::from([
        ("workspaceFolder", WORKSPACE),
        ("file", "/home/me/project/app.py"),
        ("command:ptvsd-dap.askForSecret", SECRET),
    ])
}

// VS Code inserts a configuration snippet by turning its body into snippet text (strings
// are JSON-quoted unless they start with `^`, which is inserted raw) and expanding it as
// a snippet, so `${1:x}` is a placeholder and a literal `${workspaceFolder}` or backslash
// has to be escaped (vscode-json-languageservice, getInsertTextForSnippetValue).
fn vscode_snippet_text(value: &Value) -> String {
    match value {
        Value::String(s) if s.starts_with('^') => s[1..].to_string(),
        Value::Array(items) => format!("[{}]", items.iter().map(vscode_snippet_text).collect::<Vec<_>>().join(",")),
        Value::Object(map) => format!(
            "{{{}}}",
            map.iter()
                .map(|(k, v)| format!("{}:{}", serde_json::to_string(k).unwrap(), vscode_snippet_text(v)))
                .collect::<Vec<_>>()
                .join(",")
        ),
        other => serde_json::to_string(other).unwrap(),
    }
}

/// Expands snippet text with every placeholder at its default (`${1:x}` → `x`, `$1` → ``,
/// `${1|a,b|}` → `a`); a snippet variable (`${name}`, `$name`) is an error, since VS
/// Code would replace it.
fn expand_snippet(text: &str) -> Result<String, String> {
    fn run(chars: &[char], i: &mut usize, nested: bool) -> Result<String, String> {
        let mut out = String::new();
        while *i < chars.len() {
            let c = chars[*i];
            match c {
                '\\' if matches!(chars.get(*i + 1), Some('$' | '}' | '\\')) => {
                    out.push(chars[*i + 1]);
                    *i += 2;
                }
                '}' if nested => {
                    *i += 1;
                    return Ok(out);
                }
                '$' if chars.get(*i + 1).is_some_and(|c| c.is_ascii_digit()) => {
                    *i += 1;
                    while chars.get(*i).is_some_and(|c| c.is_ascii_digit()) {
                        *i += 1;
                    }
                }
                '$' if chars.get(*i + 1) == Some(&'{') && chars.get(*i + 2).is_some_and(|c| c.is_ascii_digit()) => {
                    *i += 2;
                    while chars.get(*i).is_some_and(|c| c.is_ascii_digit()) {
                        *i += 1;
                    }
                    match chars.get(*i) {
                        Some('}') => *i += 1,
                        Some(':') => {
                            *i += 1;
                            out.push_str(&run(chars, i, true)?);
                        }
                        Some('|') => {
                            let rest: String = chars[*i + 1..].iter().collect();
                            let end = rest.find("|}").ok_or("unclosed choice")?;
                            out.push_str(rest[..end].split(',').next().unwrap_or_default());
                            *i += 1 + end + 2;
                        }
                        _ => return Err("bad placeholder".into()),
                    }
                }
                '$' if chars.get(*i + 1).is_some_and(|c| *c == '{' || *c == '_' || c.is_ascii_alphabetic()) => {
                    let rest: String = chars[*i..].iter().take(40).collect();
                    return Err(format!(
                        "snippet variable at {rest:?}: VS Code would replace it; escape the $ as \\\\$"
                    ));
                }
                _ => {
                    out.push(c);
                    *i += 1;
                }
            }
        }
        if nested {
            Err("unclosed placeholder".into())
        } else {
            Ok(out)
        }
    }
    let chars: Vec<char> = text.chars().collect();
    run(&chars, &mut 0, false)
}

fn vscode_configurations() -> Vec<Sent> {
    let package = package_json();
    let debugger = debugger_contribution(&package);
    let variables = vscode_variables();
    let mut sent = Vec::new();
    let snippets = debugger["configurationSnippets"].as_array().expect("configurationSnippets");
    for snippet in snippets {
        let origin = format!("VS Code snippet {:?}", snippet["label"].as_str().expect("a snippet label"));
        let text = vscode_snippet_text(&snippet["body"]);
        let expanded = expand_snippet(&text).unwrap_or_else(|e| panic!("{origin}: {e}"));
        let mut arguments: Value = serde_json::from_str(&expanded)
            .unwrap_or_else(|e| panic!("{origin}: inserts invalid JSON ({e}): {expanded}"));
        resolve_variables(&mut arguments, &variables, &origin);
        sent.push(Sent { origin, request: arguments["request"].as_str().unwrap_or_default().into(), arguments });
    }
    for (i, config) in debugger["initialConfigurations"].as_array().expect("initialConfigurations").iter().enumerate() {
        let origin = format!("VS Code initialConfigurations[{i}]");
        let mut arguments = config.clone();
        resolve_variables(&mut arguments, &variables, &origin);
        sent.push(Sent { origin, request: arguments["request"].as_str().unwrap_or_default().into(), arguments });
    }
    for s in &sent {
        assert_eq!(s.arguments["type"], DEBUG_TYPE, "{}: wrong type", s.origin);
    }
    sent
}

#[test]
fn vscode_snippets_and_initial_configurations_are_accepted() {
    let sent = vscode_configurations();
    let mut windows_mappings = 0;
    for s in &sent {
        let config = check(s, &[], true);
        if let Some(config) = config {
            assert_eq!(config.endpoint.secret().expose(), SECRET, "{}: the secret prompt is not in the URL", s.origin);
        }
        let mapping = &s.arguments["pathMappings"][0];
        if mapping["remoteRoot"].as_str().is_some_and(|r| r.starts_with("D:")) {
            assert_eq!(mapping["remoteRoot"], r"D:\home\site\wwwroot", "{}: backslashes mangled", s.origin);
            assert_eq!(mapping["localRoot"], WORKSPACE, "{}", s.origin);
            windows_mappings += 1;
        }
    }
    assert!(windows_mappings >= 2, "expected the App Service (Windows) snippet and initial configuration");
    let requests: Vec<&str> = sent.iter().map(|s| s.request.as_str()).collect();
    assert!(requests.contains(&"attach") && requests.contains(&"launch"), "{requests:?}");
    // The snippets offer App Service on Windows and Linux, TCP, and launch.
    let text = serde_json::to_string(&sent.iter().map(|s| &s.arguments).collect::<Vec<_>>()).unwrap();
    for needle in ["/home/site/wwwroot", "tcp://", "wss://"] {
        assert!(text.contains(needle), "no VS Code configuration with {needle}");
    }
}

#[test]
fn expand_snippet_follows_vscode() {
    assert_eq!(expand_snippet(r#""${1:Attach}" $2 ${3|a,b|} \$x \\ \}"#).unwrap(), r#""Attach"  a $x \ }"#);
    assert!(expand_snippet("${workspaceFolder}").is_err());
    assert!(expand_snippet("${command:x}").is_err());
    // A plain string with a backslash loses it: why the Windows path needs `^`.
    let text = vscode_snippet_text(&json!({ "r": r"D:\home" }));
    assert!(serde_json::from_str::<Value>(&expand_snippet(&text).unwrap()).is_err());
}

// --- nvim-dap -----------------------------------------------------------------------------

#[test]
fn neovim_configurations_are_accepted() {
    let path = editors_dir().join("neovim").join("ptvsd-dap.lua");
    let tokens = lua::tokens(&std::fs::read_to_string(&path).unwrap());
    // The file's helpers, with the defaults it documents (`vim.g.ptvsd_dap` unset).
    let helpers = BTreeMap::from([
        ("secret", SECRET),
        ("plain_secret", SECRET),
        ("site", "mysite"),
        ("address", "127.0.0.1:5678"),
        ("remote_root", "/srv/app"),
        ("python", "python3"),
    ]);

    let adapter = lua::assigned_table(&tokens, &["dap", ".", "adapters", "[", "'ptvsd-dap'", "]", "="], &helpers);
    // initialize_timeout_sec: nvim-dap warns "didn't respond" when the attach answer takes
    // longer; it must cover the connect timeout and a handshake step (15 s each).
    assert_eq!(
        adapter,
        json!({ "type": "executable", "command": "ptvsd-dap", "options": { "initialize_timeout_sec": 35 } })
    );

    let configurations = lua::assigned_table(&tokens, &["local", "configurations", "="], &helpers);
    let variables = BTreeMap::from([("workspaceFolder", WORKSPACE), ("file", "/home/me/project/app.py")]);
    let configurations = configurations.as_array().expect("configurations is a list");
    let mut requests = Vec::new();
    for mut arguments in configurations.iter().cloned() {
        let origin = format!("nvim-dap {:?}", arguments["name"].as_str().expect("a name"));
        assert_eq!(arguments["type"], DEBUG_TYPE, "{origin}: type must name the adapter");
        resolve_variables(&mut arguments, &variables, &origin);
        let request = arguments["request"].as_str().unwrap_or_default().to_string();
        requests.push(request.clone());
        if let Some(config) = check(&Sent { origin: origin.clone(), request, arguments }, &[], true) {
            assert_eq!(config.endpoint.secret().expose(), SECRET, "{origin}: the secret prompt is not in the URL");
        }
    }
    assert!(requests.contains(&"attach".into()) && requests.contains(&"launch".into()), "{requests:?}");
}

/// Just enough Lua to read `editors/neovim/ptvsd-dap.lua`: table constructors of strings,
/// numbers, booleans and tables, and functions of the form `function() return 'a' ..
/// helper() .. 'b' end`, evaluated with example values for the helpers.
mod lua {
    use super::*;

    pub fn tokens(source: &str) -> Vec<String> {
        let chars: Vec<char> = source.chars().collect();
        let mut out = Vec::new();
        let mut i = 0;
        while i < chars.len() {
            let c = chars[i];
            let rest: String = chars[i..chars.len().min(i + 4)].iter().collect();
            if c.is_whitespace() {
                i += 1;
            } else if rest.starts_with("--[[") {
                let tail: String = chars[i..].iter().collect();
                i += tail.find("]]").expect("unclosed comment") + 2;
            } else if rest.starts_with("--") {
                while i < chars.len() && chars[i] != '\n' {
                    i += 1;
                }
            } else if c == '\'' || c == '"' {
                // Kept with its quote, so that names and strings differ; escapes decoded.
                let mut text = String::from('\'');
                i += 1;
                while chars[i] != c {
                    if chars[i] == '\\' {
                        i += 1;
                        text.push(match chars[i] {
                            'n' => '\n',
                            't' => '\t',
                            other => other,
                        });
                    } else {
                        text.push(chars[i]);
                    }
                    i += 1;
                }
                text.push('\'');
                out.push(text);
                i += 1;
            } else if c.is_ascii_alphanumeric() || c == '_' {
                let start = i;
                while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '_') {
                    i += 1;
                }
                out.push(chars[start..i].iter().collect());
            } else if rest.starts_with("..") {
                out.push("..".into());
                i += 2;
            } else {
                out.push(c.to_string());
                i += 1;
            }
        }
        out
    }

    /// The table assigned after the token sequence `prefix`.
    pub fn assigned_table(tokens: &[String], prefix: &[&str], helpers: &BTreeMap<&str, &str>) -> Value {
        let at = tokens
            .windows(prefix.len())
            .position(|w| w.iter().zip(prefix).all(|(a, b)| a == b))
            .unwrap_or_else(|| panic!("no `{}` in the Lua file", prefix.join(" ")));
        let mut parser = Parser { tokens, pos: at + prefix.len(), helpers };
        parser.value()
    }

    struct Parser<'a> {
        tokens: &'a [String],
        pos: usize,
        helpers: &'a BTreeMap<&'a str, &'a str>,
    }

    impl Parser<'_> {
        fn next(&mut self) -> &str {
            let token = self.tokens.get(self.pos).map(String::as_str).expect("the Lua file ends early");
            self.pos += 1;
            token
        }

        fn peek(&self, offset: usize) -> &str {
            self.tokens.get(self.pos + offset).map(String::as_str).unwrap_or_default()
        }

        fn expect(&mut self, token: &str) {
            let got = self.next().to_string();
            assert_eq!(got, token, "Lua: expected `{token}`");
        }

        fn value(&mut self) -> Value {
            let token = self.next().to_string();
            match token.as_str() {
                "{" => self.table(),
                "true" => Value::Bool(true),
                "false" => Value::Bool(false),
                "function" => self.function(),
                t if t.starts_with('\'') => Value::String(t[1..t.len() - 1].to_string()),
                t if t.chars().all(|c| c.is_ascii_digit()) => Value::from(t.parse::<u64>().unwrap()),
                t => panic!("Lua: cannot evaluate a value starting with `{t}`"),
            }
        }

        /// After `{`. Lua's empty table is sent as `{}` (vim.json.encode), not `[]`.
        fn table(&mut self) -> Value {
            let (mut named, mut positional) = (Map::new(), Vec::new());
            while self.peek(0) != "}" {
                if self.peek(1) == "=" {
                    let key = self.next().to_string();
                    self.expect("=");
                    named.insert(key, self.value());
                } else {
                    positional.push(self.value());
                }
                if matches!(self.peek(0), "," | ";") {
                    self.pos += 1;
                }
            }
            self.expect("}");
            assert!(named.is_empty() || positional.is_empty(), "Lua: a table mixes keys and a list");
            if positional.is_empty() {
                Value::Object(named)
            } else {
                Value::Array(positional)
            }
        }

        /// After `function`: `() return TERM .. TERM … end`.
        fn function(&mut self) -> Value {
            self.expect("(");
            self.expect(")");
            self.expect("return");
            let mut text = String::new();
            loop {
                let token = self.next().to_string();
                if let Some(literal) = token.strip_prefix('\'') {
                    text.push_str(&literal[..literal.len() - 1]);
                } else {
                    let value =
                        self.helpers.get(token.as_str()).unwrap_or_else(|| panic!("Lua: unknown helper {token}()"));
                    self.expect("(");
                    self.expect(")");
                    text.push_str(value);
                }
                if self.peek(0) != ".." {
                    break;
                }
                self.pos += 1;
            }
            self.expect("end");
            Value::String(text)
        }
    }
}

// --- Helix --------------------------------------------------------------------------------

// helix-core's `DebugAdapterConfig`, `DebugTemplate`, `DebugConfigCompletion` and
// `DebugArgumentValue`, with unknown fields refused so that a misspelt key fails here.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct HelixLanguages {
    language: Vec<HelixLanguage>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct HelixLanguage {
    name: String,
    debugger: HelixDebugger,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct HelixDebugger {
    name: String,
    transport: String,
    command: String,
    #[serde(default)]
    args: Vec<String>,
    templates: Vec<HelixTemplate>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct HelixTemplate {
    name: String,
    request: String,
    completion: Vec<HelixCompletion>,
    args: BTreeMap<String, HelixArgument>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum HelixCompletion {
    Named(String),
    Advanced(HelixAdvancedCompletion),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct HelixAdvancedCompletion {
    name: Option<String>,
    completion: Option<String>,
    default: Option<String>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum HelixArgument {
    String(String),
    Array(Vec<String>),
    Boolean(bool),
}

/// The arguments Helix sends for a template and these answers (helix-term's
/// `dap_start_impl`): `{N}` replaced by the Nth answer ("filename"/"directory" answers
/// made absolute), a string that parses as an integer sent as a number, `cwd` added.
fn helix_arguments(template: &HelixTemplate, answers: &[String]) -> Value {
    let params: Vec<String> = answers
        .iter()
        .zip(&template.completion)
        .map(|(answer, completion)| match completion {
            HelixCompletion::Advanced(HelixAdvancedCompletion { completion: Some(kind), .. })
                if kind == "filename" || kind == "directory" =>
            {
                std::fs::canonicalize(answer).map_or(answer.clone(), |p| p.to_string_lossy().into_owned())
            }
            _ => answer.clone(),
        })
        .collect();
    let substitute = |text: &str| {
        params.iter().enumerate().fold(text.to_string(), |text, (i, param)| text.replace(&format!("{{{i}}}"), param))
    };
    let mut args = Map::new();
    for (key, value) in &template.args {
        let value = match value {
            HelixArgument::String(s) => {
                let s = substitute(s);
                match s.parse::<usize>() {
                    Ok(n) => Value::from(n),
                    Err(_) => Value::String(s),
                }
            }
            HelixArgument::Array(items) => Value::from(items.iter().map(|s| substitute(s)).collect::<Vec<_>>()),
            HelixArgument::Boolean(b) => Value::Bool(*b),
        };
        args.insert(key.clone(), value);
    }
    args.insert("cwd".into(), Value::String(std::env::current_dir().unwrap().to_string_lossy().into_owned()));
    Value::Object(args)
}

#[test]
fn helix_templates_are_accepted() {
    let path = editors_dir().join("helix").join("languages.toml");
    let languages: HelixLanguages = toml::from_str(&std::fs::read_to_string(&path).unwrap())
        .unwrap_or_else(|e| panic!("{} is not what Helix reads: {e}", path.display()));
    assert_eq!(languages.language.len(), 1);
    let python = &languages.language[0];
    assert_eq!(python.name, "python");
    let debugger = &python.debugger;
    assert_eq!((debugger.name.as_str(), debugger.transport.as_str()), ("ptvsd-dap", "stdio"));
    assert_eq!(debugger.command, "ptvsd-dap");
    assert!(debugger.args.is_empty(), "the adapter serves DAP on stdio with no arguments");

    let program = support::repo_root().join("tests").join("programs").join("target.py");
    let mut requests = Vec::new();
    let mut secret_as_number = false;
    for template in &debugger.templates {
        let origin = format!("Helix template {:?}", template.name);
        // The default where there is one, else an example answer for the prompt.
        let answers: Vec<String> = template
            .completion
            .iter()
            .map(|completion| {
                let (name, default) = match completion {
                    HelixCompletion::Named(name) => (name.as_str(), None),
                    HelixCompletion::Advanced(a) => (a.name.as_deref().unwrap_or_default(), a.default.as_deref()),
                };
                match (default, name) {
                    (Some(default), _) => default.replace("SECRET", SECRET),
                    (None, "secret") => SECRET.to_string(),
                    (None, "program") => program.to_string_lossy().into_owned(),
                    (None, url) if url.starts_with("ptvsd URL") => {
                        format!("wss://{SECRET}@mysite.azurewebsites.net/ptvsd")
                    }
                    (None, other) => panic!("{origin}: no example answer for the prompt {other:?}"),
                }
            })
            .collect();
        let arguments = helix_arguments(template, &answers);
        secret_as_number |= arguments["secret"].is_number();
        requests.push(template.request.clone());
        let sent = Sent { origin: origin.clone(), request: template.request.clone(), arguments };
        // Attach arguments may hold numbers for strings (the parser takes them); launch
        // ones hold none here, so they must match the schema.
        let strict = template.request == "launch";
        if let Some(config) = check(&sent, &["cwd"], strict) {
            assert_eq!(config.endpoint.secret().expose(), SECRET, "{origin}: the secret did not arrive");
            assert!(!config.paths.is_empty(), "{origin}: no path mapping");
        }
    }
    assert!(secret_as_number, "no Helix template sends the secret {SECRET} as a JSON number any more");
    assert!(requests.contains(&"attach".into()) && requests.contains(&"launch".into()), "{requests:?}");
}

// --- vsce package -------------------------------------------------------------------------

/// `node`, or `None` (skip) when there is none and `CI` is not `true`.
fn node() -> Option<PathBuf> {
    let node = std::env::var_os("NODE").map_or_else(|| PathBuf::from("node"), PathBuf::from);
    match Command::new(&node).arg("--version").output() {
        Ok(out) if out.status.success() => Some(node),
        result => {
            let problem = format!("cannot run `{} --version`: {result:?}", node.display());
            assert!(!support::is_ci(), "CI=true but {problem}");
            eprintln!("SKIPPED: {problem}");
            None
        }
    }
}

#[test]
fn vsce_packages_the_vscode_extension() {
    let Some(node) = node() else { return };
    let vsce = support::repo_root().join("tests/node/node_modules/@vscode/vsce/vsce");
    assert!(
        vsce.is_file(),
        "{} is missing: run scripts/setup-test-env.sh (npm ci in tests/node installs @vscode/vsce)",
        vsce.display()
    );
    let scratch = tempfile::tempdir().unwrap();
    let vsix = scratch.path().join("ptvsd-dap.vsix");
    let started = Instant::now();
    let output = Command::new(&node)
        .arg(&vsce)
        .args(["package", "--no-dependencies", "--allow-missing-repository", "--skip-license", "--out"])
        .arg(&vsix)
        .current_dir(editors_dir().join("vscode"))
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let elapsed = started.elapsed();
    assert!(
        output.status.success(),
        "vsce package failed ({}):\n{}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    eprintln!("vsce package: {:.1} s", elapsed.as_secs_f64());
    assert!(vsix.is_file(), "vsce reported success but wrote no {}", vsix.display());
    let names = zip_entry_names(&vsix);
    for needed in ["extension/package.json", "extension/extension.js", "extension/readme.md", "extension.vsixmanifest"]
    {
        assert!(names.iter().any(|n| n.eq_ignore_ascii_case(needed)), "{needed} is not in the .vsix: {names:?}");
    }
    assert!(!names.iter().any(|n| n.ends_with(".vscodeignore")), "{names:?}");
}

/// The file names in a zip's central directory.
fn zip_entry_names(path: &Path) -> Vec<String> {
    let bytes = std::fs::read(path).unwrap();
    let u16_at = |at: usize| u16::from_le_bytes([bytes[at], bytes[at + 1]]) as usize;
    let u32_at = |at: usize| u32::from_le_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]]) as usize;
    // The end-of-central-directory record: 22 bytes plus a comment of up to 64 KiB.
    let end = (0..=bytes.len().saturating_sub(22))
        .rev()
        .find(|&at| bytes[at..at + 4] == [0x50, 0x4b, 0x05, 0x06])
        .expect("not a zip: no end of central directory");
    let (count, mut at) = (u16_at(end + 10), u32_at(end + 16));
    let mut names = Vec::with_capacity(count);
    for _ in 0..count {
        assert_eq!(bytes[at..at + 4], [0x50, 0x4b, 0x01, 0x02], "bad central directory entry");
        let (name_len, extra_len, comment_len) = (u16_at(at + 28), u16_at(at + 30), u16_at(at + 32));
        names.push(String::from_utf8_lossy(&bytes[at + 46..at + 46 + name_len]).into_owned());
        at += 46 + name_len + extra_len + comment_len;
    }
    names
}

// --- the docs' blocks ---------------------------------------------------------------------
//
// Every fenced block of README.md, editors/README.md and editors/vscode/README.md
// (`support::docs`), as a user would paste it:
// * `json`: a VS Code launch configuration, or a whole launch.json (`configurations`, and
//   `inputs` for every `${input:…}`): parsed, variables expanded as VS Code does, then
//   through the schema and the attach parser (`check`);
// * `toml`: read as Helix reads languages.toml;
// * `lua`: tokenized (not run: Neovim is not needed here), and every `require` must name
//   nvim-dap or a module in editors/neovim;
// * `sh`: every command split into words as the shell does; `ptvsd-dap …` (and what
//   `cargo run --` passes it) parsed by the CLI's own clap definition, `cargo` subcommands,
//   `--test`/`--bench` targets and scripts checked to exist, files named checked, and
//   anything not on the list below fails. tests/install.rs runs the install blocks.
// * `python`: code a user adds to their app: it must compile (CPython 3's parser, after
//   removing the list item's indentation);
// * `text`: output shown as an example; not checked here (the demo's is tests/demo.rs's).

#[test]
fn every_configuration_block_in_the_docs_is_accepted_by_its_editor() {
    let mut counts = BTreeMap::<String, usize>::new();
    for block in support::docs::all_blocks() {
        match block.lang.as_str() {
            "json" => check_launch_json_block(&block),
            "toml" => {
                toml::from_str::<HelixLanguages>(&block.text)
                    .unwrap_or_else(|e| panic!("{}: not what Helix reads: {e}", block.origin));
            }
            "lua" => check_lua_block(&block),
            "python" => check_python_block(&block),
            "sh" | "text" => continue,
            other => panic!("{}: a ```{other} block: say how to check it in this test", block.origin),
        }
        *counts.entry(block.lang.clone()).or_default() += 1;
    }
    eprintln!("configuration blocks checked: {counts:?}");
    assert!(counts.get("json").copied().unwrap_or(0) >= 4, "{counts:?}");
    assert!(counts.get("lua").copied().unwrap_or(0) >= 2, "{counts:?}");
}

/// A configuration or a whole launch.json, as VS Code reads it and sends it.
fn check_launch_json_block(block: &support::docs::Block) {
    let origin = &block.origin;
    let value: Value = serde_json::from_str(&block.text).unwrap_or_else(|e| panic!("{origin}: not JSON: {e}"));
    let (configurations, inputs) = match value.get("configurations") {
        Some(list) => (
            list.as_array().cloned().unwrap_or_else(|| panic!("{origin}: configurations is not a list")),
            value.get("inputs"),
        ),
        None => (vec![value.clone()], None),
    };
    // `${input:ID}` is only defined by an `inputs` entry with that id in the same file.
    let mut variables = vscode_variables();
    let input_names: Vec<String> = inputs
        .and_then(Value::as_array)
        .map(|inputs| {
            inputs
                .iter()
                .map(|input| {
                    format!("input:{}", input["id"].as_str().unwrap_or_else(|| panic!("{origin}: an input without id")))
                })
                .collect()
        })
        .unwrap_or_default();
    for name in &input_names {
        variables.insert(name.as_str(), SECRET);
    }
    for configuration in configurations {
        assert_eq!(configuration["type"], DEBUG_TYPE, "{origin}: not a {DEBUG_TYPE} configuration");
        let request = configuration["request"].as_str().unwrap_or_else(|| panic!("{origin}: no request")).to_string();
        let mut arguments = configuration.clone();
        // An unknown variable (e.g. `${input:x}` without its `inputs` block) panics here.
        resolve_variables(&mut arguments, &variables, origin);
        let sent = Sent { origin: origin.clone(), request, arguments };
        if let Some(config) = check(&sent, &[], true) {
            if block.text.contains("askForSecret") || !input_names.is_empty() {
                assert_eq!(config.endpoint.secret().expose(), SECRET, "{origin}: the secret prompt is not in the URL");
            }
        }
    }
}

/// Lua from the docs: balanced, and every `require` resolves.
fn check_python_block(block: &support::docs::Block) {
    let output = Command::new("python3")
        .arg("-c")
        .arg("import ast, sys, textwrap; ast.parse(textwrap.dedent(sys.argv[1]))")
        .arg(&block.text)
        .output()
        .unwrap_or_else(|e| panic!("python3 is needed to check {}: {e}", block.origin));
    assert!(output.status.success(), "{}: not Python: {}", block.origin, String::from_utf8_lossy(&output.stderr));
}

fn check_lua_block(block: &support::docs::Block) {
    let origin = &block.origin;
    let tokens = lua::tokens(&block.text);
    let mut depth = 0i64;
    for token in &tokens {
        match token.as_str() {
            "{" | "(" => depth += 1,
            "}" | ")" => depth -= 1,
            _ => {}
        }
        assert!(depth >= 0, "{origin}: unbalanced brackets");
    }
    assert_eq!(depth, 0, "{origin}: unbalanced brackets");
    let mut required = 0;
    for window in tokens.windows(4) {
        if window[0] == "require" && window[1] == "(" && window[3] == ")" {
            let module = window[2].trim_matches('\'');
            let known = module == "dap" || editors_dir().join("neovim").join(format!("{module}.lua")).is_file();
            assert!(known, "{origin}: require('{module}') names no module in editors/neovim");
            required += 1;
        }
    }
    assert!(required > 0, "{origin}: a Lua block that loads nothing");
    // `vim.g.ptvsd_dap = { name = … }`: every name is a setting the module reads.
    let module = std::fs::read_to_string(editors_dir().join("neovim").join("ptvsd-dap.lua")).unwrap();
    if let Some(at) = tokens.windows(3).position(|w| w == ["ptvsd_dap", "=", "{"]) {
        let settings = lua::assigned_table(&tokens[at..], &["ptvsd_dap", "="], &BTreeMap::new());
        for name in settings.as_object().unwrap_or_else(|| panic!("{origin}: vim.g.ptvsd_dap is not a table")).keys() {
            assert!(module.contains(&format!("setting('{name}'")), "{origin}: ptvsd-dap.lua reads no setting {name:?}");
        }
    }
}

#[test]
fn every_shell_command_in_the_docs_is_known_and_parses() {
    use clap::Parser;
    let root = support::repo_root();
    let vscode_version = package_json()["version"].as_str().unwrap().to_string();
    let mut checked = 0;
    for block in support::docs::all_blocks().into_iter().filter(|b| b.lang == "sh") {
        for line in support::docs::commands(&block) {
            let origin = format!("{}: `{line}`", block.origin);
            let (words, redirects) = support::docs::shell_words(&line);
            let (_assignments, words) = support::docs::split_assignments(&words);
            assert!(!words.is_empty(), "{origin}: no command");
            for file in &redirects {
                assert!(file.starts_with("~/") || file.starts_with('/'), "{origin}: writes into the checkout");
            }
            let args: Vec<&str> = words.iter().map(String::as_str).collect();
            let parse_cli = |cli_args: &[&str]| {
                let argv = std::iter::once("ptvsd-dap").chain(cli_args.iter().copied());
                match ptvsd_dap::cli::Cli::try_parse_from(argv) {
                    Ok(_) => {}
                    Err(e)
                        if matches!(
                            e.kind(),
                            clap::error::ErrorKind::DisplayVersion | clap::error::ErrorKind::DisplayHelp
                        ) => {}
                    Err(e) => panic!("{origin}: the CLI refuses it:\n{e}"),
                }
            };
            match args[0] {
                "ptvsd-dap" => parse_cli(&args[1..]),
                "cargo" => {
                    let sub = args.get(1).copied().unwrap_or_default();
                    assert!(["install", "run", "test", "bench", "build"].contains(&sub), "{origin}: cargo {sub}?");
                    for (flag, dir) in [("--test", "tests"), ("--bench", "benches")] {
                        if let Some(at) = args.iter().position(|a| *a == flag) {
                            let name = args.get(at + 1).unwrap_or_else(|| panic!("{origin}: {flag} without a name"));
                            assert!(
                                root.join(dir).join(format!("{name}.rs")).is_file(),
                                "{origin}: no {dir}/{name}.rs"
                            );
                        }
                    }
                    if sub == "install" {
                        assert!(args.contains(&"--locked"), "{origin}: install with --locked (Cargo.lock is tested)");
                        assert!(args.ends_with(&["--path", "."]) || args.ends_with(&["ptvsd-dap"]), "{origin}");
                    }
                    if sub == "run" {
                        let at = args
                            .iter()
                            .position(|a| *a == "--")
                            .unwrap_or_else(|| panic!("{origin}: cargo run without --"));
                        parse_cli(&args[at + 1..]);
                    }
                }
                script if script.starts_with("scripts/") => {
                    assert!(
                        support::docs::is_executable(Path::new(script)),
                        "{origin}: {script} is not an executable file"
                    );
                    let status = Command::new("bash").arg("-n").arg(root.join(script)).status().unwrap();
                    assert!(status.success(), "{origin}: bash -n {script} failed");
                }
                "code" => {
                    assert_eq!(args.get(1), Some(&"--install-extension"), "{origin}");
                    let vsix = args.get(2).unwrap_or_else(|| panic!("{origin}: no .vsix"));
                    let name = format!("ptvsd-dap-linux-x64-{vscode_version}.vsix");
                    assert!(vsix.ends_with(&name), "{origin}: scripts/package-vsix.sh writes {name}");
                }
                "cp" | "cat" => {
                    for file in args[1..].iter().filter(|a| !a.starts_with('-') && !a.starts_with('~')) {
                        assert!(root.join(file).is_file(), "{origin}: no file {file} in the checkout");
                    }
                }
                "mkdir" => assert!(args[1..].iter().all(|a| a.starts_with('~') || a.starts_with('-')), "{origin}"),
                // Not run or checked here: the machine's own package managers.
                "pyenv" | "apt-get" => {}
                other => panic!("{origin}: `{other}` is not a command this test knows how to check"),
            }
            checked += 1;
        }
    }
    eprintln!("shell commands checked: {checked}");
    assert!(checked >= 15, "only {checked} commands found: is support::docs reading the blocks?");
}

#[test]
fn the_docs_block_reader_splits_commands_as_the_shell_does() {
    let (words, redirects) =
        support::docs::shell_words(r#"ptvsd-dap probe --header 'Cookie: a=b' "wss://$S@x/ptvsd" > ~/out 2> /dev/null"#);
    assert_eq!(words, ["ptvsd-dap", "probe", "--header", "Cookie: a=b", "wss://$S@x/ptvsd"]);
    assert_eq!(redirects, ["~/out", "/dev/null"]);
    let block = support::docs::blocks_of("text\n  ```sh\n  $ a b # c\n  out\n  ```\n", "x.md");
    assert_eq!(support::docs::commands(&block[0]), ["a b"]);
    let (env, rest) = support::docs::split_assignments(&["A=1".to_string(), "cmd".to_string(), "B=2".to_string()]);
    assert_eq!((env, rest), (vec![("A".to_string(), "1".to_string())], vec!["cmd".to_string(), "B=2".to_string()]));
}
