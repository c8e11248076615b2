//! `ptvsd-dap probe` against the real peers: every ptvsd version over tcp, ws and wss,
//! and one clear sentence for each way a connection can fail.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::process::{Command, Output};
use std::time::Duration;

use ptvsd_dap::legacy::handshake::{self, HandshakeError};
use ptvsd_dap::legacy::Limits;
use ptvsd_dap::transport::{self, ConnectOptions, Endpoint};
use serde_json::Value;
use support::{program, PeerOptions, Peers, PtvsdPeer, Relay, TestCerts};

fn probe(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ptvsd-dap")).arg("probe").args(args).output().expect("run ptvsd-dap probe")
}

fn probe_json(url: &str, extra: &[&str]) -> Value {
    let mut args = vec![url, "--json"];
    args.extend_from_slice(extra);
    let out = probe(&args);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "probe {url} failed: {}\n{stdout}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_str(stdout.trim()).unwrap_or_else(|e| panic!("probe printed no JSON object ({e}): {stdout}"))
}

fn probe_error(url: &str, extra: &[&str]) -> String {
    let mut args = vec![url];
    args.extend_from_slice(extra);
    let out = probe(&args);
    assert!(!out.status.success(), "probe {url} should fail");
    assert!(out.stdout.is_empty(), "a failed probe printed to stdout: {:?}", String::from_utf8_lossy(&out.stdout));
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(stderr.trim().lines().count(), 1, "one sentence expected: {stderr}");
    stderr
}

#[test]
fn probe_reaches_every_version_over_tcp_ws_and_wss() {
    let peers = Peers::load();
    let dir = tempfile::tempdir().unwrap();
    let certs = TestCerts::generate(dir.path());
    let ca = dir.path().join("ca.pem").to_string_lossy().to_string();
    for python in ["3.6", "3.11"] {
        for version in ["2.0.0", "2.1.0", "2.2.0", "3.0.0", "3.1.0", "3.2.1"] {
            let info = peers.peer(python, version);
            let peer = PtvsdPeer::start_peer(info, &program("target.py"), PeerOptions::new());
            let relay = Relay::websockify(peer.port(), Some(&certs));
            let urls = [
                format!("tcp://{}@127.0.0.1:{}", peer.secret(), peer.port()),
                format!("ws://{}@127.0.0.1:{}/ptvsd", peer.secret(), relay.port()),
                format!("wss://{}@127.0.0.1:{}/ptvsd", peer.secret(), relay.port()),
            ];
            for url in &urls {
                let report = probe_json(url, &["--ca-file", &ca]);
                let context = format!("{} via {}", info.name, url.split(':').next().unwrap_or(""));
                assert_eq!(report["pid"], peer.pid(), "{context}: {report}");
                assert!(
                    report["pythonVersion"].as_str().unwrap().contains(&info.python_version),
                    "{context}: {report}"
                );
                assert_eq!(report["protocolVersion"], info.protocol_version, "{context}: {report}");
                let dialect = if info.protocol_version >= 7 { "json" } else { "binary" };
                assert_eq!(report["dialect"], dialect, "{context}: {report}");
                assert!(report["executable"].as_str().unwrap().contains("python"), "{context}: {report}");
                assert!(!report["user"].as_str().unwrap().is_empty(), "{context}: {report}");
                assert!(!report.to_string().contains(peer.secret()), "the secret leaked into the report");
            }
        }
    }
}

#[test]
fn probe_text_output_names_the_dialect() {
    let peer = PtvsdPeer::start("3.11", "3.2.1", &program("target.py"), PeerOptions::new());
    let out = probe(&[&format!("tcp://{}@127.0.0.1:{}", peer.secret(), peer.port())]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success());
    assert!(text.contains(&peer.pid().to_string()) && text.contains("json (version 8)"), "{text}");
    assert!(!text.contains(peer.secret()));
}

#[test]
fn wrong_secret_is_named_in_both_dialects() {
    for version in ["3.0.0", "3.2.1"] {
        let peer = PtvsdPeer::start("3.11", version, &program("target.py"), PeerOptions::new());
        let err = probe_error(&format!("tcp://not-the-secret@127.0.0.1:{}", peer.port()), &[]);
        assert!(err.contains("rejected the secret"), "{version}: {err}");
        assert!(!err.contains("not-the-secret"), "the secret leaked: {err}");
        // The server stays usable afterwards.
        probe_json(&format!("tcp://{}@127.0.0.1:{}", peer.secret(), peer.port()), &[]);
    }
}

#[tokio::test]
async fn a_second_attach_while_one_is_held_is_already_attached() {
    for version in ["3.0.0", "3.2.1"] {
        let peer = PtvsdPeer::start("3.11", version, &program("target.py"), PeerOptions::new());
        let endpoint = Endpoint::parse(&format!("tcp://{}@127.0.0.1:{}", peer.secret(), peer.port())).unwrap();
        let options = ConnectOptions::default();
        let timeout = Duration::from_secs(10);
        let first = handshake::attach(
            transport::connect(&endpoint, &options).await.unwrap(),
            peer.secret(),
            "RedirectOutput",
            Limits::default(),
            timeout,
        )
        .await
        .unwrap();
        let second = handshake::attach(
            transport::connect(&endpoint, &options).await.unwrap(),
            peer.secret(),
            "RedirectOutput",
            Limits::default(),
            timeout,
        )
        .await;
        let err = second.expect_err("second attach must be refused");
        assert!(matches!(err, HandshakeError::AlreadyAttached), "{version}: {err}");
        assert!(err.to_string().contains("already attached"), "{err}");
        drop(first);
    }
}

#[test]
fn nothing_listening_is_connection_refused() {
    let port = support::free_port();
    let err = probe_error(&format!("tcp://s@127.0.0.1:{port}"), &[]);
    assert!(err.contains("nothing is listening") && err.contains(&port.to_string()), "{err}");
}

/// A plain HTTP server that answers every request with `status`.
fn http_server(status: &'static str) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let mut stream = stream;
            let mut buf = [0u8; 4096];
            let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
            let _ = stream.read(&mut buf);
            let _ = write!(stream, "HTTP/1.1 {status}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
        }
    });
    port
}

#[test]
fn http_404_and_503_on_the_upgrade_say_what_to_fix() {
    let port = http_server("404 Not Found");
    let err = probe_error(&format!("ws://s3cret@127.0.0.1:{port}/ptvsd"), &[]);
    assert!(err.contains("404") && err.contains("web.debug.config"), "{err}");
    assert!(!err.contains("s3cret"));
    let port = http_server("503 Service Unavailable");
    let err = probe_error(&format!("ws://s3cret@127.0.0.1:{port}/ptvsd"), &[]);
    assert!(err.contains("503") && err.to_lowercase().contains("web sockets"), "{err}");
}

#[test]
fn a_tls_listener_signed_by_an_unknown_ca_names_the_ca_option() {
    let peer = PtvsdPeer::start("3.11", "3.2.1", &program("target.py"), PeerOptions::new());
    let dir = tempfile::tempdir().unwrap();
    TestCerts::generate(&dir.path().join("trusted"));
    let other = TestCerts::generate_other_ca(&dir.path().join("other"));
    let relay = Relay::websockify(peer.port(), Some(&other));
    let ca = dir.path().join("trusted").join("ca.pem");
    let err = probe_error(
        &format!("wss://{}@127.0.0.1:{}/ptvsd", peer.secret(), relay.port()),
        &["--ca-file", &ca.to_string_lossy()],
    );
    assert!(err.contains("ca-file") || err.contains("caFile"), "{err}");
    assert!(!err.contains(peer.secret()));
    // Nothing reached ptvsd, so it still answers.
    probe_json(&format!("tcp://{}@127.0.0.1:{}", peer.secret(), peer.port()), &[]);
}

#[test]
fn the_python_2_7_smoke_peer_answers() {
    let peers = Peers::load();
    let Some(info) = peers.optional_peer("2.7", "3.2.1") else { return };
    let peer = PtvsdPeer::start_peer(info, &program("target.py"), PeerOptions::new());
    let report = probe_json(&format!("tcp://{}@127.0.0.1:{}", peer.secret(), peer.port()), &[]);
    assert!(report["pythonVersion"].as_str().unwrap().contains("2.7"), "{report}");
}
