//! The ptvsd secret never leaves the handshake: not into logs (at any level, on stderr or
//! in `--log-file`), not into stderr, not into any DAP message, in no encoding.
//!
//! Complete sessions against real ptvsd (3.2.1 over wss through websockify with a test CA,
//! and 3.0.0 over tcp), with a secret full of special characters, at every log level,
//! plus failed attaches (a wrong secret, a bad URL) and `probe`; then every byte the
//! adapter wrote is searched for the secret in every form it could take: raw,
//! percent-encoded, JSON- or Rust-escaped, hex, base64 and as a list of byte values. The
//! WebSocket cookie header gets the same treatment. And `Debug`/`Display` of the types
//! that carry them redact them.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod client;
mod support;

use std::path::{Path, PathBuf};
use std::time::Duration;

use client::DapClient;
use ptvsd_dap::session::config::AttachConfig;
use ptvsd_dap::transport::{ConnectOptions, Endpoint, Secret};
use serde_json::{json, Value};
use support::{
    line_of, program, programs_dir, AzureEmulator, LinuxSite, PeerOptions, ProxyOptions, PtvsdPeer, Relay, TestCerts,
    TinyProxy,
};

/// Special characters: `@`, `:` and `/` must be percent-encoded in a URL, `é` is two
/// UTF-8 bytes. The alphanumeric ends are unlikely anywhere else.
const SECRET: &str = "Zq7s@cr:t/é-K9xw";
/// A wrong secret must not leak either.
const WRONG: &str = "Wr0ng@s3cr:t/é-Jv4p";
/// An upgrade header value (a session cookie): as sensitive as the secret.
const COOKIE: &str = "ARRAffinity=Ck9qCookieValue7x";
const LEVELS: [&str; 5] = ["error", "warn", "info", "debug", "trace"];
/// The Linux App Service tunnel's publishing credentials, and an HTTP proxy's: as
/// sensitive as the secret, and sent only as Basic auth.
const TUNNEL_USER: &str = "$Tu7nnelUser-xQ";
const TUNNEL_PASSWORD: &str = "Tp@ss:w/0rd-Hk3v";
const PROXY_USER: &str = "Px9user-Lm2";
/// (tinyproxy's BasicAuth takes letters, digits and dashes only.)
const PROXY_PASSWORD: &str = "Pp4ssw0rd-Zr8n";

// ---- the encodings ----------------------------------------------------------------

/// Every byte percent-encoded except RFC 3986 unreserved ones; `upper` hex digits.
fn percent(text: &str, upper: bool, everything: bool) -> String {
    text.bytes()
        .map(|b| {
            let unreserved = b.is_ascii_alphanumeric() || b"-._~".contains(&b);
            if unreserved && !everything {
                (b as char).to_string()
            } else if upper {
                format!("%{b:02X}")
            } else {
                format!("%{b:02x}")
            }
        })
        .collect()
}

fn hex(bytes: &[u8], upper: bool) -> String {
    bytes.iter().map(|b| if upper { format!("{b:02X}") } else { format!("{b:02x}") }).collect()
}

fn base64(bytes: &[u8], alphabet: &[u8; 64]) -> String {
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk.iter().enumerate().fold(0u32, |n, (i, b)| n | (u32::from(*b) << (16 - 8 * i)));
        for i in 0..=chunk.len() {
            out.push(alphabet[(n >> (18 - 6 * i) & 63) as usize] as char);
        }
    }
    out
}

/// The stable middle of the base64 of `bytes` at each of the three alignments it can
/// have inside a longer text.
fn base64_forms(bytes: &[u8]) -> Vec<String> {
    const STANDARD: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const URL_SAFE: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut forms = Vec::new();
    for alphabet in [STANDARD, URL_SAFE] {
        for pad in 0..3 {
            let padded: Vec<u8> = std::iter::repeat_n(0u8, pad).chain(bytes.iter().copied()).collect();
            let encoded = base64(&padded, alphabet);
            // Drop the characters that depend on the neighbours.
            let skip = if pad == 0 { 0 } else { 4 };
            let end = (padded.len() / 3) * 4;
            if end >= skip + 8 {
                forms.push(encoded[skip..end].to_string());
            }
        }
    }
    forms
}

/// `(what, needle)` for every form of `secret` worth searching for.
fn forms(secret: &str) -> Vec<(String, String)> {
    let bytes = secret.as_bytes();
    let mut forms = vec![
        ("raw".to_string(), secret.to_string()),
        ("percent-encoded (upper)".into(), percent(secret, true, false)),
        ("percent-encoded (lower)".into(), percent(secret, false, false)),
        ("percent-encoded, every byte (upper)".into(), percent(secret, true, true)),
        ("percent-encoded, every byte (lower)".into(), percent(secret, false, true)),
        ("JSON".into(), serde_json::to_string(secret).unwrap().trim_matches('"').to_string()),
        (
            "JSON, ASCII only".into(),
            secret.chars().map(|c| if c.is_ascii() { c.to_string() } else { format!("\\u{:04x}", c as u32) }).collect(),
        ),
        ("Rust Debug".into(), format!("{secret:?}").trim_matches('"').to_string()),
        ("Rust byte-string Debug".into(), bytes.escape_ascii().to_string()),
        ("hex (lower)".into(), hex(bytes, false)),
        ("hex (upper)".into(), hex(bytes, true)),
        ("byte list".into(), bytes.iter().map(u8::to_string).collect::<Vec<_>>().join(", ")),
        ("byte list, no spaces".into(), bytes.iter().map(u8::to_string).collect::<Vec<_>>().join(",")),
    ];
    for (i, b64) in base64_forms(bytes).into_iter().enumerate() {
        forms.push((format!("base64 #{i}"), b64));
    }
    // The alphanumeric ends of the secret, which every text form keeps intact.
    let head: String = secret.chars().take_while(char::is_ascii_alphanumeric).collect();
    let tail: String =
        secret.chars().rev().take_while(char::is_ascii_alphanumeric).collect::<Vec<_>>().into_iter().rev().collect();
    for part in [head, tail] {
        if part.len() >= 4 {
            forms.push((format!("fragment {part:?}"), part));
        }
    }
    forms
}

/// Panics if `text` (from `source`) holds any form of any of `secrets`.
fn assert_clean(source: &str, text: &str, secrets: &[&str]) {
    for secret in secrets {
        for (what, needle) in forms(secret) {
            if let Some(at) = text.find(&needle) {
                let start = text[..at].char_indices().rev().nth(120).map_or(0, |(i, _)| i);
                let end = (at + needle.len() + 120).min(text.len());
                let end = (end..=text.len()).find(|i| text.is_char_boundary(*i)).unwrap_or(text.len());
                panic!("{source} contains the secret {secret:?} ({what}: {needle:?}):\n…{}…", &text[start..end]);
            }
        }
    }
}

#[test]
fn the_searched_forms_are_right() {
    // Each of these texts carries "s@cr:t/é" in some encoding and must be caught.
    let carriers = [
        "s@cr:t/é",
        "url s%40cr%3At%2F%C3%A9@h",
        "url s%40cr%3at%2f%c3%a9@h",
        "{\"clientSecret\":\"s@cr:t/\\u00e9\"}",
        "payload: b\"s@cr:t/\\xc3\\xa9\"",
        "payload: 0x00734063723a742fc3a900",
        "PAYLOAD 734063723A742FC3A9",
        "[0, 115, 64, 99, 114, 58, 116, 47, 195, 169, 0]",
        "auth c0Bjcjp0L8Op",
        "auth eHNAY3I6dC/DqQ==",
        "auth eHlzQGNyOnQvw6k=",
    ];
    for text in carriers {
        let caught = std::panic::catch_unwind(|| assert_clean("t", text, &["s@cr:t/é"])).is_err();
        assert!(caught, "{text:?} was not caught");
    }
    assert_clean("t", "nothing to see: s@cr, cr:t, 7340", &["s@cr:t/é"]);
}

// ---- sessions ---------------------------------------------------------------------

/// Where the adapter's logs went for one run.
struct Logs {
    stderr: String,
    file: Option<String>,
}

fn adapter_args(level: &str, log_file: Option<&Path>) -> Vec<String> {
    let mut args = vec!["--log-level".to_string(), level.to_string()];
    if let Some(path) = log_file {
        args.push("--log-file".into());
        args.push(path.to_string_lossy().into_owned());
    }
    args
}

/// Collects everything the adapter wrote and checks it.
fn check_run(label: &str, client: &DapClient, log_file: Option<&Path>, secrets: &[&str]) -> Logs {
    let logs = Logs { stderr: client.stderr(), file: log_file.map(|p| std::fs::read_to_string(p).unwrap_or_default()) };
    assert!(!logs.stderr.contains("panicked"), "{label}: {}", logs.stderr);
    assert_clean(&format!("{label}: stderr"), &logs.stderr, secrets);
    if let Some(file) = &logs.file {
        assert_clean(&format!("{label}: the log file"), file, secrets);
    }
    for message in &client.received {
        assert_clean(&format!("{label}: a DAP message"), &message.to_string(), secrets);
    }
    logs
}

/// A complete session: attach, breakpoint, stop, stack, variables, evaluate (ok and
/// failing), continue, output, disconnect.
async fn full_session(args: &[String], attach: Value) -> DapClient {
    let arg_refs: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut client = DapClient::spawn(&arg_refs).await;
    client.ok("initialize", json!({ "adapterID": "ptvsd-dap", "linesStartAt1": true, "columnsStartAt1": true })).await;
    client.ok("attach", attach).await;
    client.wait_event("initialized").await;
    let lib = programs_dir().join("app").join("lib.py");
    let line = line_of(&lib, "compute-total");
    client.ok("setBreakpoints", json!({ "source": { "path": lib }, "breakpoints": [{ "line": line }] })).await;
    client.ok("setExceptionBreakpoints", json!({ "filters": ["uncaught"] })).await;
    client.ok("configurationDone", Value::Null).await;
    let stopped =
        client.wait_event_where("stopped", Duration::from_secs(30), |e| e["body"]["reason"] == "breakpoint").await;
    let thread = stopped["body"]["threadId"].clone();
    client.ok("threads", Value::Null).await;
    let stack = client.ok("stackTrace", json!({ "threadId": thread })).await;
    let frame = stack["stackFrames"][0]["id"].clone();
    let scopes = client.ok("scopes", json!({ "frameId": frame })).await;
    let locals =
        client.ok("variables", json!({ "variablesReference": scopes["scopes"][0]["variablesReference"] })).await;
    let data = locals["variables"].as_array().unwrap().iter().find(|v| v["name"] == "data").unwrap().clone();
    client.ok("variables", json!({ "variablesReference": data["variablesReference"] })).await;
    client.ok("evaluate", json!({ "expression": "n * 2", "frameId": frame, "context": "repl" })).await;
    let failed =
        client.request("evaluate", json!({ "expression": "no_such_name", "frameId": frame, "context": "watch" })).await;
    assert_eq!(failed["success"], false);
    client.ok("setBreakpoints", json!({ "source": { "path": lib }, "breakpoints": [] })).await;
    client.ok("continue", json!({ "threadId": thread })).await;
    client.wait_event_where("output", Duration::from_secs(10), |e| e["body"]["category"] == "stdout").await;
    client.ok("disconnect", Value::Null).await;
    assert_eq!(client.wait_exit(Duration::from_secs(10)).await, Some(0), "{}", client.stderr());
    client
}

/// An attach that must fail; returns the client after it exited.
async fn failed_attach(args: &[String], attach: Value) -> DapClient {
    failed_attach_with_env(args, attach, &[]).await
}

async fn failed_attach_with_env(args: &[String], attach: Value, env: &[(&str, &str)]) -> DapClient {
    let arg_refs: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut client = DapClient::spawn_with_env(&arg_refs, env).await;
    client.ok("initialize", json!({ "adapterID": "ptvsd-dap" })).await;
    let response = client.request("attach", attach).await;
    assert_eq!(response["success"], false, "{response}");
    client.ok("disconnect", Value::Null).await;
    assert_eq!(client.wait_exit(Duration::from_secs(10)).await, Some(0), "{}", client.stderr());
    client
}

fn url_secret(secret: &str) -> String {
    percent(secret, true, false)
}

/// Runs sessions at every level, alternating stderr and `--log-file` so that each level
/// and each sink is covered; checks that the trace run really logged the handshake (so
/// the search had something to search).
async fn sessions_at_every_level(label: &str, attach: impl Fn() -> Value, wrong: impl Fn() -> Value, bad_url: Value) {
    let dir = tempfile::tempdir().unwrap();
    for (i, level) in LEVELS.iter().enumerate() {
        for to_file in [i % 2 == 0, i % 2 == 1] {
            let log_file: Option<PathBuf> = to_file.then(|| dir.path().join(format!("{level}.log")));
            let args = adapter_args(level, log_file.as_deref());
            let run = format!("{label} at {level} ({})", if to_file { "log file" } else { "stderr" });
            let client = full_session(&args, attach()).await;
            let logs = check_run(&run, &client, log_file.as_deref(), &[SECRET, WRONG, COOKIE]);
            if *level == "trace" {
                let text = logs.file.unwrap_or(logs.stderr);
                assert!(
                    text.contains("→ ptvsd") && text.contains("attached"),
                    "{run}: the trace log is not verbose: {text:.2000}"
                );
            }
            if let Some(path) = &log_file {
                std::fs::remove_file(path).unwrap();
            }
            // Only the first sink per level runs the failures too (they are quick).
            if to_file == (i % 2 == 0) {
                let client = failed_attach(&args, wrong()).await;
                check_run(&format!("{run}, wrong secret"), &client, log_file.as_deref(), &[SECRET, WRONG, COOKIE]);
                let client = failed_attach(&args, bad_url.clone()).await;
                check_run(&format!("{run}, bad URL"), &client, log_file.as_deref(), &[SECRET, WRONG, COOKIE]);
            }
        }
    }
}

#[tokio::test]
async fn ptvsd_3_2_over_wss_at_every_log_level() {
    let dir = tempfile::tempdir().unwrap();
    let certs = TestCerts::generate(dir.path());
    let peer =
        PtvsdPeer::start("3.11", "3.2.1", &program("target.py"), PeerOptions::new().secret(SECRET).args(["0", "0.05"]));
    let relay = Relay::websockify(peer.port(), Some(&certs));
    let url = |secret: &str| format!("wss://{}@127.0.0.1:{}/ptvsd", url_secret(secret), relay.port());
    let attach = |secret: &str| json!({ "url": url(secret), "caFile": certs.ca_pem, "headers": { "Cookie": COOKIE }, "connectTimeout": 10 });
    // A URL that does not parse (port out of range), with the secret in it.
    let bad_url = json!({ "url": format!("wss://{}@127.0.0.1:99999/ptvsd", url_secret(SECRET)) });
    sessions_at_every_level("ptvsd 3.2.1 over wss", || attach(SECRET), || attach(WRONG), bad_url).await;
    assert!(peer.output().contains("result"));
}

#[tokio::test]
async fn ptvsd_3_0_over_tcp_at_every_log_level() {
    let peer =
        PtvsdPeer::start("3.11", "3.0.0", &program("target.py"), PeerOptions::new().secret(SECRET).args(["0", "0.05"]));
    let port = peer.port();
    let url = move |secret: &str| format!("tcp://{}@127.0.0.1:{port}", url_secret(secret));
    let bad_url = json!({ "url": format!("tcp://{}@127.0.0.1:0", url_secret(SECRET)) });
    sessions_at_every_level(
        "ptvsd 3.0.0 over tcp",
        || json!({ "url": url(SECRET) }),
        || json!({ "url": url(WRONG) }),
        bad_url,
    )
    .await;
    // The host/port/secret form of the configuration.
    let args = adapter_args("trace", None);
    let client = full_session(&args, json!({ "host": "127.0.0.1", "port": port, "secret": SECRET })).await;
    check_run("host/port/secret at trace", &client, None, &[SECRET]);
}

#[test]
fn probe_at_trace_level_over_wss_keeps_the_secret() {
    let dir = tempfile::tempdir().unwrap();
    let certs = TestCerts::generate(dir.path());
    let peer = PtvsdPeer::start("3.11", "3.2.1", &program("target.py"), PeerOptions::new().secret(SECRET));
    let relay = Relay::websockify(peer.port(), Some(&certs));
    for (secret, ok) in [(SECRET, true), (WRONG, false)] {
        let url = format!("wss://{}@127.0.0.1:{}/ptvsd", url_secret(secret), relay.port());
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_ptvsd-dap"))
            .args(["--log-level", "trace", "probe", "--json", "--ca-file"])
            .arg(&certs.ca_pem)
            .args(["--header", &format!("Cookie: {COOKIE}"), &url])
            .output()
            .unwrap();
        assert_eq!(out.status.success(), ok, "{}", String::from_utf8_lossy(&out.stderr));
        for (what, text) in [("stdout", &out.stdout), ("stderr", &out.stderr)] {
            assert_clean(&format!("probe {what}"), &String::from_utf8_lossy(text), &[SECRET, WRONG, COOKIE]);
        }
    }
}

/// The Linux App Service tunnel (Kudu emulator, TLS): the publishing credentials from the
/// attach keys, then from the environment, and a wrong password; at debug and trace level,
/// on stderr and in a log file. The Authorization header's base64 is among the forms
/// searched.
#[tokio::test]
async fn tunnel_credentials_stay_out_of_every_log() {
    let dir = tempfile::tempdir().unwrap();
    let certs = TestCerts::generate(dir.path());
    let peer =
        PtvsdPeer::start("3.11", "3.2.1", &program("target.py"), PeerOptions::new().secret(SECRET).args(["0", "0.05"]));
    let site = LinuxSite { user: TUNNEL_USER.into(), password: TUNNEL_PASSWORD.into(), ..LinuxSite::started(2222) };
    let emulator = AzureEmulator::kudu(site, Some(&certs));
    let url = format!("wss://{}@localhost:{}/AppServiceTunnel/Tunnel.ashx", url_secret(SECRET), emulator.port());
    let basic = format!("{TUNNEL_USER}:{TUNNEL_PASSWORD}");
    let secrets = [SECRET, TUNNEL_USER, TUNNEL_PASSWORD, basic.as_str()];
    for (level, to_file) in [("debug", false), ("trace", true), ("trace", false)] {
        let log_file = to_file.then(|| dir.path().join(format!("tunnel-{level}.log")));
        let args = adapter_args(level, log_file.as_deref());
        let run = format!("the tunnel at {level}");
        let attach = json!({ "url": url, "caFile": certs.ca_pem, "tunnelUser": TUNNEL_USER, "tunnelPassword": TUNNEL_PASSWORD, "tunnelPort": peer.port() });
        let client = full_session(&args, attach).await;
        check_run(&run, &client, log_file.as_deref(), &secrets);
        let attach = json!({ "url": url, "caFile": certs.ca_pem, "tunnelPort": peer.port() });
        let client = failed_attach_with_env(
            &args,
            attach,
            &[("PTVSD_DAP_TUNNEL_USER", TUNNEL_USER), ("PTVSD_DAP_TUNNEL_PASSWORD", "Wr0ng-tunnel-pw")],
        )
        .await;
        check_run(
            &format!("{run}, wrong password"),
            &client,
            log_file.as_deref(),
            &[SECRET, TUNNEL_USER, TUNNEL_PASSWORD, "Wr0ng-tunnel-pw"],
        );
    }
    assert_eq!(emulator.sessions(), 3, "{}", emulator.log());
}

/// An HTTP proxy with Basic credentials (tinyproxy), over tcp and wss, at trace level.
#[tokio::test]
async fn proxy_credentials_stay_out_of_every_log() {
    let Some(proxy) = TinyProxy::start(ProxyOptions {
        basic_auth: Some((PROXY_USER.into(), PROXY_PASSWORD.into())),
        ..ProxyOptions::default()
    }) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let certs = TestCerts::generate(dir.path());
    let peer =
        PtvsdPeer::start("3.11", "3.0.0", &program("target.py"), PeerOptions::new().secret(SECRET).args(["0", "0.05"]));
    let relay = Relay::azure_windows(peer.port(), Some(&certs));
    let proxy_url = format!(
        "http://{}:{}@127.0.0.1:{}",
        percent(PROXY_USER, true, false),
        percent(PROXY_PASSWORD, true, false),
        proxy.port()
    );
    let basic = format!("{PROXY_USER}:{PROXY_PASSWORD}");
    let secrets = [SECRET, PROXY_USER, PROXY_PASSWORD, basic.as_str()];
    let args = adapter_args("trace", None);
    let tcp = json!({ "url": format!("tcp://{}@127.0.0.1:{}", url_secret(SECRET), peer.port()), "proxy": proxy_url });
    let client = full_session(&args, tcp).await;
    let logs = check_run("tcp through the proxy at trace", &client, None, &secrets);
    assert!(logs.stderr.contains("connecting through an HTTP proxy"), "{}", logs.stderr);
    let wss = json!({ "url": format!("wss://{}@localhost:{}/ptvsd", url_secret(SECRET), relay.port()), "caFile": certs.ca_pem, "proxy": proxy_url });
    let client = full_session(&args, wss).await;
    check_run("wss through the proxy at trace", &client, None, &secrets);
    // A wrong password: refused with a sentence that names neither.
    let wrong = format!("http://{}:Wr0ng-proxy-pw@127.0.0.1:{}", PROXY_USER, proxy.port());
    let client = failed_attach(
        &args,
        json!({ "url": format!("tcp://{}@127.0.0.1:{}", url_secret(SECRET), peer.port()), "proxy": wrong }),
    )
    .await;
    check_run(
        "a wrong proxy password at trace",
        &client,
        None,
        &[SECRET, PROXY_USER, PROXY_PASSWORD, "Wr0ng-proxy-pw"],
    );
}

// ---- Debug and Display ------------------------------------------------------------

fn assert_redacted(what: &str, text: &str) {
    assert_clean(what, text, &[SECRET, COOKIE]);
}

#[test]
fn endpoint_and_secret_formatting_redacts() {
    for scheme in ["tcp", "tcps", "ws", "wss"] {
        for encoded in [percent(SECRET, true, false), percent(SECRET, false, true)] {
            let endpoint = Endpoint::parse(&format!("{scheme}://{encoded}@example.test:8443/ptvsd")).unwrap();
            assert_eq!(endpoint.secret().expose(), SECRET);
            for text in [
                endpoint.to_string(),
                format!("{endpoint:?}"),
                format!("{endpoint:#?}"),
                format!("{:?}", endpoint.secret()),
                endpoint.secret().to_string(),
            ] {
                assert_redacted("Endpoint", &text);
            }
        }
    }
    // A user-info with a password part is one secret too.
    let endpoint = Endpoint::parse(&format!("tcp://Zq7s%40cr:{}@h", percent("t/é-K9xw", true, false))).unwrap();
    assert_eq!(endpoint.secret().expose(), SECRET);
    assert_redacted("Endpoint", &format!("{endpoint} {endpoint:?}"));
    let endpoint = Endpoint::from_parts("h", 1, Secret::new(SECRET));
    assert_redacted("Endpoint", &format!("{endpoint} {endpoint:?}"));
}

#[test]
fn url_errors_do_not_echo_the_secret() {
    let encoded = percent(SECRET, true, false);
    for input in [
        format!("tcp://{encoded}@h:99999"),
        format!("tcp://{encoded}@:5678"),
        format!("https://{encoded}@h/ptvsd"),
        format!("{SECRET}@h:5678"),
        format!("Zq7s:{encoded}@h:5678"),
        format!("tcp://{encoded}%FF@h"),
        format!("tcp://{encoded}@h%20x:1"),
    ] {
        if let Err(error) = Endpoint::parse(&input) {
            assert_redacted(&format!("the error for {input}"), &format!("{error} {error:?}"));
        }
        if let Err(error) = AttachConfig::from_arguments(&json!({ "url": input })) {
            assert_redacted(&format!("the config error for {input}"), &format!("{error} {error:?}"));
        }
    }
}

#[test]
fn connect_options_debug_redacts_header_values() {
    let options = ConnectOptions {
        headers: vec![("Cookie".into(), COOKIE.into()), ("Authorization".into(), format!("Basic {SECRET}"))],
        wake_url: Some(format!("https://user:{}@example.test/health?token={SECRET}", percent(SECRET, true, false))),
        ..ConnectOptions::default()
    };
    let text = format!("{options:?} {options:#?}");
    assert_redacted("ConnectOptions", &text);
    // Still useful: the header names and the rest of the options show.
    assert!(text.contains("Cookie") && text.contains("Authorization") && text.contains("connect_timeout"), "{text}");
    assert!(text.contains("example.test"), "{text}");
}

#[test]
fn attach_config_debug_redacts() {
    let configs = [
        json!({ "url": format!("wss://{}@site.example/ptvsd", percent(SECRET, true, false)), "headers": { "Cookie": COOKIE } }),
        json!({ "url": format!("tcp://{}@127.0.0.1:5678", percent(SECRET, false, true)), "headers": [format!("Cookie: {COOKIE}")] }),
        json!({ "host": "127.0.0.1", "port": 5678, "secret": SECRET, "wakeUrl": format!("https://x:{}@h/", percent(SECRET, true, false)) }),
        json!({ "url": format!("wss://{}@s.scm.azurewebsites.net/AppServiceTunnel/Tunnel.ashx", percent(SECRET, true, false)), "tunnelUser": SECRET, "tunnelPassword": SECRET, "proxy": format!("http://{0}:{0}@proxy:3128", percent(SECRET, true, true)) }),
    ];
    for config in configs {
        let parsed = AttachConfig::from_arguments(&config).unwrap();
        assert_eq!(parsed.endpoint.secret().expose(), SECRET);
        assert_redacted("AttachConfig", &format!("{parsed:?} {parsed:#?}"));
    }
}

#[test]
fn attach_config_errors_do_not_echo_the_secret() {
    let bad = [
        json!({ "host": "h", "secret": [SECRET] }),
        json!({ "host": "h", "secret": { "value": SECRET } }),
        json!({ "host": "h", "secret": SECRET, "port": "x" }),
        json!({ "url": format!("tcp://{}@h", percent(SECRET, true, false)), "headers": { "Cookie": 5 } }),
        json!({ "url": format!("tcp://{}@h", percent(SECRET, true, false)), "headers": [COOKIE] }),
        json!({ "url": format!("tcp://{}@h", percent(SECRET, true, false)), "requestTimeout": -1 }),
        json!({ "url": "wss://h/AppServiceTunnel/Tunnel.ashx", "tunnelPassword": [SECRET] }),
        json!({ "url": "wss://h/AppServiceTunnel/Tunnel.ashx", "tunnelUser": { "name": SECRET } }),
        json!({ "url": "tcp://h", "proxy": [SECRET] }),
        json!({ "url": "tcp://h", "proxy": format!("socks5://{0}:{0}@proxy:1080", percent(SECRET, true, false)) }),
        json!({ "url": "tcp://h", "proxy": format!("http://{}@:1080", percent(SECRET, true, false)) }),
    ];
    for config in bad {
        match AttachConfig::from_arguments(&config) {
            Ok(_) => panic!("accepted {config}"),
            Err(error) => assert_redacted(&format!("the error for {config}"), &format!("{error} {error:?}")),
        }
    }
}
