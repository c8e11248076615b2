//! Connections through an HTTP `CONNECT` proxy, as corporate networks require: Debian's
//! tinyproxy between the adapter and real ptvsd, for tcp, ws and wss (through the Azure
//! proxy emulator); the proxy chosen by the `proxy` key or, as curl does, by
//! HTTPS_PROXY / HTTP_PROXY unless NO_PROXY names the host; a sentence for each refusal
//! (407, 403, a proxy that never answers); credentials never in the logs.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod client;
mod support;

use std::process::{Command, Output};
use std::time::Duration;

use client::DapClient;
use serde_json::{json, Value};
use support::{
    free_port, line_of, program, AzureEmulator, PeerOptions, ProxyOptions, PtvsdPeer, TestCerts, TinyProxy, WindowsSite,
};

const PROXY_USER: &str = "corp-user";
const PROXY_PASSWORD: &str = "Pr0xy-pa55-7Qz";
const PROXY_VARIABLES: [&str; 6] = ["HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "NO_PROXY", "no_proxy"];

/// `ptvsd-dap probe ARGS` with exactly the proxy variables in `env`.
fn probe(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_ptvsd-dap"));
    command.arg("probe").args(args);
    for name in PROXY_VARIABLES {
        command.env_remove(name);
    }
    command.envs(env.iter().copied());
    command.output().expect("run ptvsd-dap probe")
}

fn probe_ok(args: &[&str], env: &[(&str, &str)]) -> Value {
    let mut all = args.to_vec();
    all.push("--json");
    let out = probe(&all, env);
    assert!(out.status.success(), "probe {args:?} with {env:?}: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

fn probe_error(args: &[&str], env: &[(&str, &str)]) -> String {
    let out = probe(args, env);
    assert!(!out.status.success(), "probe {args:?} should fail");
    String::from_utf8_lossy(&out.stderr).to_string()
}

fn assert_says(text: &str, needles: &[&str]) {
    for needle in needles {
        assert!(text.contains(needle), "{needle:?} missing from: {text}");
    }
}

#[test]
fn tcp_ws_and_wss_go_through_the_proxy() {
    let Some(proxy) = TinyProxy::start(ProxyOptions::default()) else { return };
    let peer = PtvsdPeer::start("3.11", "3.2.1", &program("sleeper.py"), PeerOptions::new().args(["0"]));
    let dir = tempfile::tempdir().unwrap();
    let certs = TestCerts::generate(dir.path());
    let secure = AzureEmulator::windows(WindowsSite::new(peer.port()), Some(&certs));
    let plain = AzureEmulator::windows(WindowsSite::new(peer.port()), None);
    let ca = certs.ca_pem.to_string_lossy().to_string();
    let tcp = format!("tcp://{}@127.0.0.1:{}", peer.secret(), peer.port());
    let (wss, ws) = (secure.url(peer.secret(), "ptvsd"), plain.url(peer.secret(), "ptvsd"));
    let proxy_url = proxy.url(None);
    for url in [&tcp, &ws, &wss] {
        // The `proxy` key (here --proxy), and the environment as curl reads it.
        let report = probe_ok(&[url, "--ca-file", &ca, "--proxy", &proxy_url], &[]);
        assert_eq!(report["pid"], peer.pid(), "{url}");
        let variable = if url.starts_with("ws://") { "http_proxy" } else { "HTTPS_PROXY" };
        let report = probe_ok(&[url, "--ca-file", &ca], &[(variable, &proxy_url)]);
        assert_eq!(report["pid"], peer.pid(), "{url} via {variable}");
    }
    let log = proxy.output();
    let tunnels = log.matches("Established connection").count();
    assert!(tunnels >= 6, "tinyproxy did not carry the six connections:\n{log}");
    // ws:// does not use HTTPS_PROXY, and wss:// does not use HTTP_PROXY (curl's rule).
    let dead = format!("http://127.0.0.1:{}", free_port());
    assert_eq!(probe_ok(&[&ws], &[("HTTPS_PROXY", &dead)])["pid"], peer.pid());
    assert_eq!(probe_ok(&[&wss, "--ca-file", &ca], &[("HTTP_PROXY", &dead)])["pid"], peer.pid());
}

#[test]
fn no_proxy_and_an_empty_proxy_key_connect_directly() {
    let peer = PtvsdPeer::start("3.11", "3.0.0", &program("sleeper.py"), PeerOptions::new().args(["0"]));
    let url = format!("tcp://{}@127.0.0.1:{}", peer.secret(), peer.port());
    let dead = format!("http://127.0.0.1:{}", free_port());
    for no_proxy in ["127.0.0.1", "localhost,127.0.0.0/8", "*"] {
        assert_eq!(
            probe_ok(&[&url], &[("HTTPS_PROXY", &dead), ("NO_PROXY", no_proxy)])["pid"],
            peer.pid(),
            "NO_PROXY={no_proxy}"
        );
    }
    assert_eq!(probe_ok(&[&url, "--proxy", ""], &[("HTTPS_PROXY", &dead)])["pid"], peer.pid());
    // Without NO_PROXY the dead proxy is used, and blamed.
    let said = probe_error(&[&url], &[("HTTPS_PROXY", &dead)]);
    assert_says(&said, &["nothing is listening on the HTTP proxy", "HTTPS_PROXY"]);
}

#[tokio::test]
async fn a_session_through_the_proxy_with_credentials_from_the_environment() {
    let Some(proxy) = TinyProxy::start(ProxyOptions {
        basic_auth: Some((PROXY_USER.into(), PROXY_PASSWORD.into())),
        ..ProxyOptions::default()
    }) else {
        return;
    };
    let mut peer = PtvsdPeer::start("3.11", "3.2.1", &program("target.py"), PeerOptions::new().args(["0", "0.05"]));
    let lib = program("app/lib.py");
    let line = line_of(&lib, "compute-total");
    let proxy_url = proxy.url(Some((PROXY_USER, PROXY_PASSWORD)));
    let mut client =
        DapClient::spawn_with_env(&["--log-level", "trace"], &[("HTTPS_PROXY", &proxy_url), ("NO_PROXY", "")]).await;
    client.ok("initialize", json!({ "adapterID": "ptvsd-dap" })).await;
    client.ok("attach", json!({ "url": format!("tcp://{}@127.0.0.1:{}", peer.secret(), peer.port()) })).await;
    client.wait_event("initialized").await;
    client.ok("setBreakpoints", json!({ "source": { "path": lib }, "breakpoints": [{ "line": line }] })).await;
    client.ok("configurationDone", Value::Null).await;
    let stopped =
        client.wait_event_where("stopped", Duration::from_secs(30), |e| e["body"]["reason"] == "breakpoint").await;
    let thread = stopped["body"]["threadId"].clone();
    client.ok("setBreakpoints", json!({ "source": { "path": lib }, "breakpoints": [] })).await;
    client.ok("continue", json!({ "threadId": thread })).await;
    client.ok("disconnect", Value::Null).await;
    assert_eq!(client.wait_exit(Duration::from_secs(10)).await, Some(0));
    let log = client.stderr();
    assert!(log.contains("connecting through an HTTP proxy"), "the proxy was not used:\n{log}");
    for hidden in
        [PROXY_USER, PROXY_PASSWORD, &support::azure::base64(format!("{PROXY_USER}:{PROXY_PASSWORD}").as_bytes())]
    {
        assert!(!log.contains(hidden), "{hidden:?} is in the trace log");
    }
    // The app runs on.
    let printed = peer.output().matches("result").count();
    peer.wait_for_output(&format!("result {} ", printed + 2), Duration::from_secs(10));
}

#[test]
fn a_proxy_that_wants_credentials_is_said_so() {
    let Some(proxy) = TinyProxy::start(ProxyOptions {
        basic_auth: Some((PROXY_USER.into(), PROXY_PASSWORD.into())),
        ..ProxyOptions::default()
    }) else {
        return;
    };
    let url = format!("tcp://s@127.0.0.1:{}", free_port());
    let said = probe_error(&[&url, "--proxy", &proxy.url(None)], &[]);
    assert_says(&said, &["requires authentication", "407", "http://USER:PASSWORD@HOST:PORT"]);
    let said =
        probe_error(&[&url, "--log-level", "trace", "--proxy", &proxy.url(Some((PROXY_USER, "wrong-password")))], &[]);
    // (tinyproxy answers wrong credentials with 401, not 407.)
    assert_says(&said, &["refused the user name and password", "authentication required"]);
    assert!(!said.contains("wrong-password") && !said.contains(PROXY_USER), "{said}");
}

#[test]
fn a_proxy_that_forbids_the_port_is_said_so() {
    let Some(proxy) = TinyProxy::start(ProxyOptions { connect_ports: vec![443], ..ProxyOptions::default() }) else {
        return;
    };
    let peer = PtvsdPeer::start("3.11", "3.2.1", &program("sleeper.py"), PeerOptions::new().args(["0"]));
    let said =
        probe_error(&[&format!("tcp://{}@127.0.0.1:{}", peer.secret(), peer.port()), "--proxy", &proxy.url(None)], &[]);
    assert_says(
        &said,
        &["refused to open a tunnel", &format!("127.0.0.1:{}", peer.port()), "403", "port 443", "NO_PROXY"],
    );
}

#[test]
fn a_proxy_that_never_answers_times_out_with_a_sentence() {
    // Accepts the connection and reads the CONNECT, says nothing.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let silent = std::thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        let mut buf = [0u8; 1024];
        let _ = std::io::Read::read(&mut stream, &mut buf);
        std::thread::sleep(Duration::from_secs(4));
    });
    let said = probe_error(
        &["tcp://s@site.example:5678", "--timeout", "2", "--proxy", &format!("http://127.0.0.1:{port}")],
        &[],
    );
    assert_says(&said, &["did not open a tunnel to site.example:5678 within 2 s"]);
    silent.join().unwrap();
}
