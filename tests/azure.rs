//! Azure App Service as its proxies behave (see `tests/support/azure.rs`): every way the
//! Windows `/ptvsd` proxy and the Linux Kudu tunnel answer, said as a sentence the user can
//! act on, by `ptvsd-dap probe` and by an attach; and real sessions through both, against
//! real ptvsd.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod client;
mod support;

use std::process::{Command, Output};
use std::time::Duration;

use client::DapClient;
use serde_json::{json, Value};
use support::{free_port, line_of, program, AzureEmulator, LinuxSite, PeerOptions, PtvsdPeer, TestCerts, WindowsSite};

const TUNNEL_USER: &str = LinuxSite::USER;
const TUNNEL_PASSWORD: &str = LinuxSite::PASSWORD;

fn probe(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_ptvsd-dap"));
    command.arg("probe").args(args);
    for name in
        ["HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "PTVSD_DAP_TUNNEL_USER", "PTVSD_DAP_TUNNEL_PASSWORD"]
    {
        command.env_remove(name);
    }
    command.envs(env.iter().copied());
    command.output().expect("run ptvsd-dap probe")
}

/// The one-line sentence a failed probe prints.
fn probe_error(args: &[&str], env: &[(&str, &str)]) -> String {
    let out = probe(args, env);
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(!out.status.success(), "probe {args:?} should fail; stdout: {}", String::from_utf8_lossy(&out.stdout));
    assert_eq!(stderr.trim().lines().count(), 1, "one sentence expected: {stderr}");
    stderr
}

fn assert_says(text: &str, needles: &[&str]) {
    for needle in needles {
        assert!(text.contains(needle), "{needle:?} missing from: {text}");
    }
}

/// What the adapter says when an attach to `url` fails: the error response's message.
async fn failed_attach(url: &str, extra: Value) -> String {
    let mut client = DapClient::spawn(&[]).await;
    client.ok("initialize", json!({ "adapterID": "ptvsd-dap" })).await;
    let mut args = json!({ "url": url, "connectTimeout": 10 });
    if let (Value::Object(args), Value::Object(extra)) = (&mut args, extra) {
        args.extend(extra);
    }
    let response = client.request("attach", args).await;
    assert_eq!(response["success"], false, "{response}");
    client.wait_event("terminated").await;
    client.ok("disconnect", json!({})).await;
    assert_eq!(client.wait_exit(Duration::from_secs(5)).await, Some(0));
    assert!(!client.stderr().contains("panicked"), "{}", client.stderr());
    response["message"].as_str().unwrap_or_default().to_string()
}

// ---- the Windows `/ptvsd` proxy -----------------------------------------------------------

#[test]
fn the_windows_proxy_emulator_answers_as_the_real_one() {
    use std::io::{Read, Write};
    let emulator = AzureEmulator::windows(WindowsSite::new(free_port()), None);
    let get = |request: &str| {
        let mut stream = std::net::TcpStream::connect(("127.0.0.1", emulator.port())).unwrap();
        stream.write_all(request.as_bytes()).unwrap();
        let mut answer = String::new();
        stream.read_to_string(&mut answer).unwrap();
        answer
    };
    let page = get("GET /ptvsd HTTP/1.1\r\nHost: site\r\n\r\n");
    assert!(page.starts_with("HTTP/1.1 200") && page.contains(support::azure::PROXY_PAGE_TITLE), "{page}");
    let app = get("GET /elsewhere HTTP/1.1\r\nHost: site\r\n\r\n");
    assert!(app.starts_with("HTTP/1.1 404"), "{app}");
    // 101 first, then the dial fails: the stream ends without a Close frame.
    let mut ws = support::WsStream::connect(&emulator.url("", "ptvsd"), None).expect("the upgrade succeeds");
    let end = ws.read_message();
    assert!(!matches!(end, Ok(tokio_tungstenite::tungstenite::Message::Close(_))), "a Close frame was sent: {end:?}");
    assert!(emulator.log().contains("101, then connecting"), "{}", emulator.log());
}

#[tokio::test]
async fn ptvsd_not_listening_behind_the_proxy_is_explained() {
    let emulator = AzureEmulator::windows(WindowsSite::new(free_port()), None);
    let url = emulator.url("s3cret", "ptvsd");
    let said = probe_error(&[&url], &[]);
    assert_says(
        &said,
        &["could not reach ptvsd", "5678", "not started yet", "send it a request", "recycled", "another port"],
    );
    assert!(!said.contains("before saying anything"), "{said}");
    let told = failed_attach(&url, json!({})).await;
    assert_says(&told, &["could not reach ptvsd", "not started yet", "another port than 5678"]);
}

#[tokio::test]
async fn websockets_off_gives_the_proxy_page_and_is_said_so() {
    let site = WindowsSite { websockets: false, ..WindowsSite::new(free_port()) };
    let emulator = AzureEmulator::windows(site, None);
    let said = probe_error(&[&emulator.url("s", "ptvsd")], &[]);
    assert_says(&said, &["information page", "WebSockets are not enabled", "Web sockets", "web.config"]);
    let told = failed_attach(&emulator.url("s", "ptvsd"), json!({})).await;
    assert_says(&told, &["WebSockets are not enabled"]);
}

#[test]
fn the_app_answering_instead_of_the_proxy_is_said_so() {
    // A wrong path, and a site without the handler: the app answers (404, 200, 302).
    let wrong_path = AzureEmulator::windows(WindowsSite::new(free_port()), None);
    let said = probe_error(&[&wrong_path.url("s", "debug")], &[]);
    assert_says(&said, &["HTTP 404", "reached the app, not the ptvsd WebSocket proxy", "/ptvsd"]);
    for (status, reason) in [(200, "OK"), (302, "Found")] {
        let site = WindowsSite {
            proxy_deployed: false,
            app_answer: (status, reason, "<h1>My app</h1>"),
            ..WindowsSite::new(free_port())
        };
        let emulator = AzureEmulator::windows(site, None);
        let said = probe_error(&[&emulator.url("s", "ptvsd")], &[]);
        assert_says(
            &said,
            &[&format!("HTTP {status}"), "reached the app, not the ptvsd WebSocket proxy", "web.debug.config"],
        );
    }
    let broken = AzureEmulator::windows(WindowsSite { proxy_broken: true, ..WindowsSite::new(free_port()) }, None);
    let said = probe_error(&[&broken.url("s", "ptvsd")], &[]);
    assert_says(&said, &["HTTP 500", "Microsoft.PythonTools.WebRole.dll"]);
}

#[test]
fn concurrent_connections_through_the_proxy_each_reach_ptvsd() {
    let peer = PtvsdPeer::start("3.11", "3.2.1", &program("sleeper.py"), PeerOptions::new().args(["0"]));
    let dir = tempfile::tempdir().unwrap();
    let certs = TestCerts::generate(dir.path());
    let emulator = AzureEmulator::windows(WindowsSite::new(peer.port()), Some(&certs));
    let url = emulator.url(peer.secret(), "ptvsd");
    let ca = certs.ca_pem.to_string_lossy().to_string();
    let probes: Vec<_> = (0..3)
        .map(|_| {
            let (url, ca) = (url.clone(), ca.clone());
            std::thread::spawn(move || probe(&[&url, "--json", "--ca-file", &ca], &[]))
        })
        .collect();
    for handle in probes {
        let out = handle.join().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let report: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(report["pid"], peer.pid());
    }
    assert_eq!(emulator.sessions(), 3, "{}", emulator.log());
}

#[tokio::test]
async fn an_empty_secret_is_said_to_be_missing() {
    let peer = PtvsdPeer::start("3.11", "3.2.1", &program("sleeper.py"), PeerOptions::new().args(["0"]));
    let emulator = AzureEmulator::windows(WindowsSite::new(peer.port()), None);
    for url in [format!("tcp://127.0.0.1:{}", peer.port()), emulator.url("", "ptvsd")] {
        let said = probe_error(&[&url], &[]);
        assert_says(&said, &["the URL carried none", "SECRET@"]);
        assert!(!said.contains("rejected the secret"), "{said}");
    }
    let told = failed_attach(&format!("tcp://127.0.0.1:{}", peer.port()), json!({})).await;
    assert_says(&told, &["the URL carried none"]);
}

#[test]
fn a_refused_websocket_address_talks_about_the_site() {
    for url in [format!("wss://s@127.0.0.1:{}/ptvsd", free_port()), format!("ws://s@127.0.0.1:{}/ptvsd", free_port())] {
        let said = probe_error(&[&url], &[]);
        assert_says(&said, &["connection refused", "the site nor its WebSocket proxy"]);
        assert!(!said.contains("the app"), "{said}");
    }
    let said = probe_error(&[&format!("tcp://s@127.0.0.1:{}", free_port())], &[]);
    assert_says(&said, &["is the app running with ptvsd enabled"]);
}

// ---- the Linux tunnel ---------------------------------------------------------------------

fn linux_site(default_port: u16) -> LinuxSite {
    LinuxSite::started(default_port)
}

const CREDENTIALS: [(&str, &str); 2] =
    [("PTVSD_DAP_TUNNEL_USER", TUNNEL_USER), ("PTVSD_DAP_TUNNEL_PASSWORD", TUNNEL_PASSWORD)];

#[test]
fn the_tunnel_needs_the_publishing_credentials() {
    let emulator = AzureEmulator::kudu(linux_site(2222), None);
    let url = emulator.url("s", support::azure::TUNNEL_PATH);
    let said = probe_error(&[&url], &[]);
    assert_says(
        &said,
        &["needs the site's publishing credentials", "tunnelUser", "PTVSD_DAP_TUNNEL_PASSWORD", "publish profile"],
    );
    let said = probe_error(&[&url], &[("PTVSD_DAP_TUNNEL_USER", TUNNEL_USER), ("PTVSD_DAP_TUNNEL_PASSWORD", "wrong")]);
    assert_says(&said, &["HTTP 401", "refused the publishing credentials", "tunnelPassword"]);
    assert!(!said.contains("wrong") && !said.contains(TUNNEL_USER), "{said}");
    assert!(emulator.log().contains("401 (credentials wrong)"), "{}", emulator.log());
}

#[test]
fn a_port_nobody_listens_on_is_explained_before_the_upgrade() {
    let emulator = AzureEmulator::kudu(linux_site(2222), None);
    let port = free_port().to_string();
    let said = probe_error(&[&emulator.url("s", support::azure::TUNNEL_PATH), "--tunnel-port", &port], &CREDENTIALS);
    assert_says(
        &said,
        &[
            "cannot reach ptvsd",
            "started",
            &format!("nothing listens on port {port}"),
            "Unable to connect to WebApp",
            "enable_attach",
            "tunnelPort",
        ],
    );
    assert_eq!(emulator.sessions(), 0);
    assert!(!emulator.log().contains("101"), "it upgraded anyway: {}", emulator.log());
}

#[test]
fn the_tunnels_close_reason_reaches_the_user() {
    // The status probe finds the port open, then the app goes away before the upgrade (a
    // recycle): the tunnel says why in its Close frame. The emulator answers the status
    // only once the app's listener is closed.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let gone = std::sync::Arc::new(std::sync::Barrier::new(2));
    let closer = {
        let gone = gone.clone();
        std::thread::spawn(move || {
            let first = listener.accept();
            drop((first, listener));
            gone.wait();
        })
    };
    let site = LinuxSite { after_status_check: Some(gone), ..linux_site(port) };
    let emulator = AzureEmulator::kudu(site, None);
    let said = probe_error(
        &[&emulator.url("s", support::azure::TUNNEL_PATH), "--tunnel-port", &port.to_string()],
        &CREDENTIALS,
    );
    closer.join().unwrap();
    assert_says(
        &said,
        &["App Service tunnel", "close code 1011", "Connection failure. Connection refused", &format!("port {port}")],
    );
}

#[test]
fn probe_reports_the_tunnels_status_in_words() {
    let peer = PtvsdPeer::start("3.11", "3.2.1", &program("sleeper.py"), PeerOptions::new().args(["0"]));
    let dir = tempfile::tempdir().unwrap();
    let certs = TestCerts::generate(dir.path());
    let emulator = AzureEmulator::kudu(linux_site(2222), Some(&certs));
    let url = emulator.url(peer.secret(), support::azure::TUNNEL_PATH);
    let ca = certs.ca_pem.to_string_lossy().to_string();
    let port = peer.port().to_string();
    let out = probe(
        &[&url, "--ca-file", &ca, "--tunnel-port", &port, "--tunnel-user", TUNNEL_USER],
        &[("PTVSD_DAP_TUNNEL_PASSWORD", TUNNEL_PASSWORD)],
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_says(
        &text,
        &[&peer.pid().to_string(), "tunnel:", "container is started", &format!("something listens on port {port}")],
    );
    let out = probe(&[&url, "--json", "--ca-file", &ca, "--tunnel-port", &port], &CREDENTIALS);
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["tunnel"]["canReachPort"], true, "{report}");
    assert_eq!(report["tunnel"]["port"], peer.port(), "{report}");
    // The status probe's connect-and-close did not wedge ptvsd: the session went through,
    // and the app is idle.
    let busy = support::activity(peer.pid(), Duration::from_secs(1));
    assert!(busy.runnable < 0.5, "ptvsd is busy after the status probe: {busy:?}");
}

#[tokio::test]
async fn a_session_through_the_linux_tunnel() {
    for ptvsd in ["3.0.0", "3.2.1"] {
        let mut peer = PtvsdPeer::start(
            "3.11",
            ptvsd,
            &program("target.py"),
            PeerOptions::new().args(["0", "0.05"]).enable_attach(),
        );
        let dir = tempfile::tempdir().unwrap();
        let certs = TestCerts::generate(dir.path());
        let emulator = AzureEmulator::kudu(linux_site(2222), Some(&certs));
        let lib = program("app/lib.py");
        let line = line_of(&lib, "compute-total");
        let mut client = DapClient::spawn(&["--log-level", "trace"]).await;
        client.ok("initialize", json!({ "adapterID": "ptvsd-dap" })).await;
        client
            .ok(
                "attach",
                json!({
                    "url": emulator.url(peer.secret(), support::azure::TUNNEL_PATH),
                    "caFile": certs.ca_pem,
                    "tunnelUser": TUNNEL_USER,
                    "tunnelPassword": TUNNEL_PASSWORD,
                    "tunnelPort": peer.port(),
                }),
            )
            .await;
        client.wait_event("initialized").await;
        client.ok("setBreakpoints", json!({ "source": { "path": lib }, "breakpoints": [{ "line": line }] })).await;
        client.ok("configurationDone", Value::Null).await;
        let stopped =
            client.wait_event_where("stopped", Duration::from_secs(30), |e| e["body"]["reason"] == "breakpoint").await;
        let thread = stopped["body"]["threadId"].clone();
        let stack = client.ok("stackTrace", json!({ "threadId": thread })).await;
        assert_eq!(stack["stackFrames"][0]["name"], "compute");
        client.ok("setBreakpoints", json!({ "source": { "path": lib }, "breakpoints": [] })).await;
        client.ok("continue", json!({ "threadId": thread })).await;
        client.ok("disconnect", Value::Null).await;
        assert_eq!(client.wait_exit(Duration::from_secs(10)).await, Some(0));
        let log = client.stderr();
        // (Not the ptvsd secret: enable_attach.py has it in its argv, which the trace log
        // shows among the frames' variables; tests/secret_hygiene.rs covers the adapter.)
        for hidden in [
            TUNNEL_PASSWORD,
            TUNNEL_USER,
            &support::azure::base64(format!("{TUNNEL_USER}:{TUNNEL_PASSWORD}").as_bytes()),
        ] {
            assert!(
                !log.contains(hidden),
                "{ptvsd}: {hidden:?} is in the trace log: {}",
                log.lines().filter(|l| l.contains(hidden)).collect::<Vec<_>>().join("\n")
            );
        }
        // The app runs on and takes the next debugger through the tunnel.
        let printed = peer.output().matches("result").count();
        peer.wait_for_output(&format!("result {} ", printed + 2), Duration::from_secs(10));
        let out = probe(
            &[
                &emulator.url(peer.secret(), support::azure::TUNNEL_PATH),
                "--json",
                "--ca-file",
                &certs.ca_pem.to_string_lossy(),
                "--tunnel-port",
                &peer.port().to_string(),
            ],
            &CREDENTIALS,
        );
        assert!(out.status.success(), "{ptvsd}: {}", String::from_utf8_lossy(&out.stderr));
        assert_eq!(emulator.sessions(), 2, "{}", emulator.log());
    }
}
