//! Proves the test environment works, without the adapter's code: every installed ptvsd
//! peer starts, greets over raw TCP, over ws and over wss through websockify, answers
//! an authenticated INFO request (pid and Python version), and survives all of that.
//!
//! Needs `scripts/setup-test-env.sh` to have run.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::io::{Read, Write};
use std::time::Duration;

use serde_json::{json, Value};
use support::{
    close_abortive, connect, program, Family, PeerInfo, PeerOptions, Peers, PtvsdPeer, Relay, TestCerts, WsStream,
};

// ---- the first protocol steps, written out by hand ----------------------------------

/// Reads the server's greeting and checks it against the peer's family and version.
fn expect_greeting(conn: &mut impl Read, info: &PeerInfo) {
    match info.family() {
        Family::Binary => {
            let mut buf = [0u8; 15];
            conn.read_exact(&mut buf).expect("read PTVSDBG greeting");
            assert_eq!(&buf[..7], b"PTVSDBG", "{}: greeting {buf:?}", info.name);
            let version = i64::from_be_bytes(buf[7..].try_into().unwrap());
            assert_eq!(version, i64::from(info.protocol_version), "{}", info.name);
            let expected = match info.ptvsd.as_str() {
                "2.0.0" => 2,
                "2.1.0" => 4,
                _ => 6,
            };
            assert_eq!(version, expected, "{}: binary peer version", info.name);
        }
        Family::Json => {
            let event = read_frame(conn);
            assert_eq!(event["type"], "event", "{}: {event}", info.name);
            assert_eq!(event["event"], "legacyRemoteConnected", "{}: {event}", info.name);
            assert_eq!(event["body"]["debuggerName"], "PTVSDBG", "{}: {event}", info.name);
            let version = event["body"]["debuggerProtocolVersion"].as_u64().unwrap();
            assert_eq!(version, u64::from(info.protocol_version), "{}", info.name);
            let expected = if info.ptvsd == "3.1.0" { 7 } else { 8 };
            assert_eq!(version, expected, "{}: {event}", info.name);
        }
    }
}

/// After the greeting: authenticate with the peer's secret and ask for INFO. Checks the
/// pid and the Python version. Ends the handshake cleanly on the server side (the
/// server closes the connection after INFO, or waits for our close), so a graceful
/// close from a relay cannot wedge ptvsd's accept thread.
fn authenticate_and_info(conn: &mut (impl Read + Write), peer: &PtvsdPeer) {
    let info = peer.info();
    match info.family() {
        Family::Binary => {
            let mut msg = b"PTVSDBG".to_vec();
            msg.extend_from_slice(&i64::from(info.protocol_version).to_be_bytes());
            msg.extend_from_slice(&(peer.secret().len() as i64).to_be_bytes());
            msg.extend_from_slice(peer.secret().as_bytes());
            conn.write_all(&msg).unwrap();
            conn.flush().unwrap();
            let mut tag = [0u8; 4];
            conn.read_exact(&mut tag).expect("read ACPT/RJCT");
            assert_eq!(&tag, b"ACPT", "{}: secret rejected", info.name);
            conn.write_all(b"INFO").unwrap();
            conn.flush().unwrap();
            let pid = read_i64(conn);
            let exe = read_sstr(conn);
            let _user = read_sstr(conn);
            let version = read_sstr(conn);
            assert_eq!(pid, i64::from(peer.pid()), "{}: INFO pid", info.name);
            assert!(exe.contains("python"), "{}: INFO executable {exe:?}", info.name);
            assert!(
                version.starts_with(&format!("CPython {} ", info.python_version)),
                "{}: INFO version {version:?}",
                info.name
            );
        }
        Family::Json => {
            write_frame(
                conn,
                &json!({"type": "request", "seq": 1, "command": "legacyRemoteDebuggerAuthenticate",
                    "arguments": {"debuggerName": "PTVSDBG",
                        "debuggerProtocolVersion": info.protocol_version,
                        "clientSecret": peer.secret()}}),
            );
            let reply = read_frame(conn);
            assert_eq!(reply["request_seq"], 1, "{}: {reply}", info.name);
            assert_eq!(reply["body"]["accepted"], true, "{}: {reply}", info.name);
            write_frame(
                conn,
                &json!({"type": "request", "seq": 2, "command": "legacyRemoteDebuggerInfo", "arguments": {}}),
            );
            let reply = read_frame(conn);
            assert_eq!(reply["request_seq"], 2, "{}: {reply}", info.name);
            assert_eq!(reply["success"], true, "{}: {reply}", info.name);
            assert_eq!(reply["body"]["processId"], json!(peer.pid()), "{}: {reply}", info.name);
            let version = reply["body"]["pythonVersion"].as_str().unwrap();
            assert!(version.starts_with(&format!("CPython {} ", info.python_version)), "{}: {reply}", info.name);
            // The server ends the handshake after INFO and closes.
            let mut rest = Vec::new();
            conn.read_to_end(&mut rest).expect("EOF after INFO");
            assert!(rest.is_empty(), "{}: unexpected bytes after INFO: {rest:?}", info.name);
        }
    }
}

fn read_i64(r: &mut impl Read) -> i64 {
    let mut b = [0u8; 8];
    r.read_exact(&mut b).expect("read i64");
    i64::from_be_bytes(b)
}

/// A server string: kind byte `N` (null), `U` (UTF-8) or `A` (raw bytes), then length.
fn read_sstr(r: &mut impl Read) -> String {
    let mut kind = [0u8; 1];
    r.read_exact(&mut kind).expect("read string kind");
    match kind[0] {
        b'N' => String::new(),
        b'U' | b'A' => {
            let len = usize::try_from(read_i64(r)).expect("string length");
            let mut buf = vec![0u8; len];
            r.read_exact(&mut buf).expect("read string bytes");
            String::from_utf8_lossy(&buf).into_owned()
        }
        k => panic!("bad string kind byte {k:#x}"),
    }
}

fn read_frame(r: &mut impl Read) -> Value {
    let mut header = Vec::new();
    let mut byte = [0u8; 1];
    while !header.ends_with(b"\r\n\r\n") {
        r.read_exact(&mut byte).expect("read frame header");
        header.push(byte[0]);
        assert!(header.len() < 1024, "header too long: {header:?}");
    }
    let header = String::from_utf8(header).unwrap();
    let len: usize = header
        .trim_end()
        .strip_prefix("Content-Length: ")
        .unwrap_or_else(|| panic!("bad header {header:?}"))
        .parse()
        .unwrap();
    let mut body = vec![0u8; len];
    r.read_exact(&mut body).expect("read frame body");
    serde_json::from_slice(&body).unwrap()
}

fn write_frame(w: &mut impl Write, msg: &Value) {
    let body = msg.to_string();
    // One write: over WebSocket that is one binary message.
    let frame = format!("Content-Length: {}\r\n\r\n{body}", body.len());
    w.write_all(frame.as_bytes()).unwrap();
    w.flush().unwrap();
}

// ---- the scenario -------------------------------------------------------------------

fn smoke(info: &PeerInfo) {
    let script = program("target.py");
    let mut peer = PtvsdPeer::start_peer(info, &script, PeerOptions::new().args(["0", "0.05"]));

    // Raw TCP: the greeting, then an abortive close (RST), which ptvsd survives.
    let mut tcp = connect(peer.port());
    expect_greeting(&mut tcp, info);
    close_abortive(tcp);

    // Raw TCP: greeting, authenticate with the secret, INFO.
    let mut tcp = connect(peer.port());
    expect_greeting(&mut tcp, info);
    authenticate_and_info(&mut tcp, &peer);
    close_abortive(tcp);

    // Through websockify, ws:// and wss:// on one port (any path is accepted).
    let dir = tempfile::tempdir().unwrap();
    let certs = TestCerts::generate(dir.path());
    let relay = Relay::websockify(peer.port(), Some(&certs));

    let mut ws = WsStream::connect(&relay.ws_url("ptvsd"), None).expect("ws connect");
    expect_greeting(&mut ws, info);
    authenticate_and_info(&mut ws, &peer);
    ws.close();

    let mut wss = WsStream::connect(&relay.wss_url("any/path?x=1"), Some(&certs)).expect("wss connect");
    expect_greeting(&mut wss, info);
    authenticate_and_info(&mut wss, &peer);
    wss.close();

    // The accept thread is still serving.
    let mut tcp = connect(peer.port());
    expect_greeting(&mut tcp, info);
    close_abortive(tcp);

    // And the program runs under ptvsd, printing as it goes.
    let out = peer.wait_for_output("result 3 31", Duration::from_secs(20));
    assert!(out.contains("target started pid"), "{out}");
    assert!(peer.exited().is_none(), "{} exited early:\n{out}", info.name);
}

macro_rules! smoke_tests {
    ($($name:ident: $python:literal, $ptvsd:literal;)*) => {$(
        #[test]
        fn $name() {
            smoke(Peers::load().peer($python, $ptvsd));
        }
    )*};
}

smoke_tests! {
    py3_6_ptvsd_2_2_0: "3.6", "2.2.0";
    py3_6_ptvsd_3_0_0: "3.6", "3.0.0";
    py3_6_ptvsd_3_1_0: "3.6", "3.1.0";
    py3_6_ptvsd_3_2_1: "3.6", "3.2.1";
    py3_6_ptvsd_2_0_0: "3.6", "2.0.0";
    py3_6_ptvsd_2_1_0: "3.6", "2.1.0";
    py3_11_ptvsd_2_0_0: "3.11", "2.0.0";
    py3_11_ptvsd_2_1_0: "3.11", "2.1.0";
    py3_11_ptvsd_2_2_0: "3.11", "2.2.0";
    py3_11_ptvsd_3_0_0: "3.11", "3.0.0";
    py3_11_ptvsd_3_1_0: "3.11", "3.1.0";
    py3_11_ptvsd_3_2_1: "3.11", "3.2.1";
}

#[test]
fn py2_7_ptvsd_3_0_0() {
    if let Some(info) = Peers::load().optional_peer("2.7", "3.0.0") {
        smoke(info);
    }
}

#[test]
fn py2_7_ptvsd_3_2_1() {
    if let Some(info) = Peers::load().optional_peer("2.7", "3.2.1") {
        smoke(info);
    }
}

/// The matrix the other tests rely on is installed, with the expected wire versions.
#[test]
fn peers_json_lists_the_matrix() {
    let peers = Peers::load();
    for python in ["3.6", "3.11"] {
        for (ptvsd, version) in [("2.0.0", 2), ("2.1.0", 4), ("2.2.0", 6), ("3.0.0", 6), ("3.1.0", 7), ("3.2.1", 8)] {
            let p = peers.peer(python, ptvsd);
            assert_eq!(p.protocol_version, version, "{}", p.name);
            assert!(p.python_version.starts_with(&format!("{python}.")), "{}", p.name);
        }
    }
    for ptvsd in ["3.0.0", "3.2.1"] {
        if let Some(p) = peers.optional_peer("2.7", ptvsd) {
            assert!(p.python_version.starts_with("2.7."), "{}", p.name);
        }
    }
    assert!(peers.websockify().is_file());
    if support::is_ci() {
        assert!(peers.node_modules.is_some(), "CI=true but the node packages are missing");
    }
}

/// The other launcher: the program calls ptvsd.enable_attach() itself (and, with
/// `wait`, blocks in wait_for_attach() so the script has not started).
#[test]
fn enable_attach_launcher() {
    for (python, ptvsd) in [("3.6", "2.2.0"), ("3.11", "3.2.1")] {
        let info = Peers::load().peer(python, ptvsd);
        let peer = PtvsdPeer::start_peer(info, &program("sleeper.py"), PeerOptions::new().enable_attach().wait());
        let mut tcp = connect(peer.port());
        expect_greeting(&mut tcp, info);
        authenticate_and_info(&mut tcp, &peer);
        close_abortive(tcp);
        std::thread::sleep(Duration::from_millis(300));
        assert!(!peer.output().contains("sleeper started"), "{}: ran before attach:\n{}", info.name, peer.output());
    }
}
