//! `ptvsd-dap relay`: the WebSocket → TCP relay, against a local TCP echo target, over ws
//! and wss (with a CA and leaf generated here), through the library API and the binary.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::future::Future;
use std::io::ErrorKind;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use ptvsd_dap::relay::{self, RelayConfig, RelayError};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::CertificateDer;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{connect_async_tls_with_config, Connector, MaybeTlsStream, WebSocketStream};

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

const LIMIT: Duration = Duration::from_secs(30);

async fn within<T>(future: impl Future<Output = T>) -> T {
    tokio::time::timeout(LIMIT, future).await.expect("the test timed out")
}

/// A TCP echo server on 127.0.0.1:0.
async fn echo_target() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let (mut read, mut write) = stream.split();
                let _ = tokio::io::copy(&mut read, &mut write).await;
            });
        }
    });
    addr
}

/// An address where nothing listens.
async fn dead_address() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    listener.local_addr().unwrap()
}

struct Relay {
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<Result<(), RelayError>>,
}

impl Relay {
    async fn start(target: SocketAddr, tls: Option<(PathBuf, PathBuf)>) -> Relay {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let config = RelayConfig { listen: addr, target: target.to_string(), tls };
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(relay::serve(listener, config, async move {
            let _ = stopped.await;
        }));
        Relay { addr, stop: Some(stop), task }
    }

    fn url(&self, scheme: &str, path: &str) -> String {
        format!("{scheme}://{}{path}", self.addr)
    }

    /// Asks for shutdown and returns how long `serve` took to return.
    async fn shutdown(mut self) -> Duration {
        let start = Instant::now();
        let _ = self.stop.take().unwrap().send(());
        within(self.task).await.unwrap().unwrap();
        start.elapsed()
    }
}

async fn connect(url: &str, ca: Option<&Path>) -> Ws {
    let connector = ca.map(|ca| Connector::Rustls(Arc::new(client_tls(ca))));
    let (ws, _response) = within(connect_async_tls_with_config(url, None, true, connector)).await.unwrap();
    ws
}

fn client_tls(ca: &Path) -> rustls::ClientConfig {
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(ca).unwrap() {
        roots.add(cert.unwrap()).unwrap();
    }
    rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth()
}

/// A CA and a leaf for localhost/127.0.0.1, as PEM files: (dir, ca, cert, key).
fn certificates() -> (tempfile::TempDir, PathBuf, PathBuf, PathBuf) {
    use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair, KeyUsagePurpose};
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca = CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap();
    let leaf_key = KeyPair::generate().unwrap();
    let leaf = CertificateParams::new(vec!["localhost".into(), "127.0.0.1".into()])
        .unwrap()
        .signed_by(&leaf_key, &ca)
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (ca_path, cert_path, key_path) =
        (dir.path().join("ca.pem"), dir.path().join("leaf.pem"), dir.path().join("leaf.key"));
    std::fs::write(&ca_path, ca.pem()).unwrap();
    std::fs::write(&cert_path, leaf.pem()).unwrap();
    std::fs::write(&key_path, leaf_key.serialize_pem()).unwrap();
    (dir, ca_path, cert_path, key_path)
}

fn payload(size: usize, seed: u8) -> Vec<u8> {
    (0..size).map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed)).collect()
}

/// Sends each message as one binary message while reading the echo back (concurrently, so
/// big transfers cannot deadlock), and returns the bytes read and the message count.
async fn round_trip(ws: &mut Ws, messages: &[Vec<u8>]) -> (Vec<u8>, usize) {
    let total: usize = messages.iter().map(Vec::len).sum();
    let (mut sink, mut stream) = ws.split();
    let send = async {
        for message in messages {
            sink.feed(Message::Binary(Bytes::copy_from_slice(message))).await.unwrap();
        }
        sink.flush().await.unwrap();
    };
    let receive = async {
        let mut received = Vec::with_capacity(total);
        let mut count = 0;
        while received.len() < total {
            match stream.next().await {
                Some(Ok(Message::Binary(bytes))) => {
                    received.extend_from_slice(&bytes);
                    count += 1;
                }
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
                other => panic!("expected binary data, got {other:?}"),
            }
        }
        (received, count)
    };
    let ((), result) = within(async { tokio::join!(send, receive) }).await;
    result
}

async fn expect_echo(ws: &mut Ws, sizes: &[usize]) {
    let messages: Vec<Vec<u8>> = sizes.iter().enumerate().map(|(i, size)| payload(*size, i as u8)).collect();
    let (received, _) = round_trip(ws, &messages).await;
    assert!(received == messages.concat(), "the echo differs from what was sent");
}

/// Reads until a Close frame, completes the closing handshake, and returns the frame's
/// code and reason.
async fn expect_close(ws: &mut Ws) -> (CloseCode, String) {
    loop {
        match within(ws.next()).await {
            Some(Ok(Message::Close(Some(frame)))) => {
                // Polling on sends our reply; the stream then ends.
                if let Some(after) = within(ws.next()).await {
                    panic!("expected the end of the stream after the Close frame, got {after:?}");
                }
                return (frame.code, frame.reason.to_string());
            }
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
            other => panic!("expected a Close frame, got {other:?}"),
        }
    }
}

/// Closes from our side and waits for the relay's reply.
async fn finish(mut ws: Ws) {
    ws.close(None).await.unwrap();
    while let Some(message) = within(ws.next()).await {
        match message {
            Ok(Message::Close(_) | Message::Ping(_) | Message::Pong(_)) => {}
            other => panic!("unexpected {other:?} after our Close"),
        }
    }
}

async fn http(addr: SocketAddr, request: &str) -> String {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = Vec::new();
    within(stream.read_to_end(&mut response)).await.unwrap();
    String::from_utf8(response).unwrap()
}

#[tokio::test]
async fn ws_echoes_messages_of_all_sizes_as_a_byte_stream() {
    let relay = Relay::start(echo_target().await, None).await;
    let mut ws = connect(&relay.url("ws", "/ptvsd"), None).await;
    expect_echo(&mut ws, &[1, 200_000, 2, 1, 65_536, 3]).await;
    // Any path is accepted.
    let mut other = connect(&relay.url("ws", "/any/path/x?y=1"), None).await;
    expect_echo(&mut other, &[5]).await;
    finish(ws).await;
    finish(other).await;
    relay.shutdown().await;
}

#[tokio::test]
async fn wss_echoes_with_a_generated_ca() {
    let (_dir, ca, cert, key) = certificates();
    let relay = Relay::start(echo_target().await, Some((cert, key))).await;
    for host in ["127.0.0.1", "localhost"] {
        let url = format!("wss://{host}:{}/ptvsd", relay.addr.port());
        let mut ws = connect(&url, Some(&ca)).await;
        expect_echo(&mut ws, &[1, 200_000, 7]).await;
        finish(ws).await;
    }
    // A plain ws:// client gets nothing useful from a wss:// relay.
    assert!(connect_async_tls_with_config(relay.url("ws", "/"), None, true, None).await.is_err());
    relay.shutdown().await;
}

#[tokio::test]
async fn a_text_frame_closes_with_1003() {
    let relay = Relay::start(echo_target().await, None).await;
    let mut ws = connect(&relay.url("ws", "/ptvsd"), None).await;
    ws.send(Message::text("hello")).await.unwrap();
    let (code, reason) = expect_close(&mut ws).await;
    assert_eq!(code, CloseCode::Unsupported);
    assert_eq!(reason, "Unsupported: Text frames are not supported");
    relay.shutdown().await;
}

#[tokio::test]
async fn a_plain_get_serves_the_info_page() {
    let target = echo_target().await;
    let relay = Relay::start(target, None).await;
    let host = relay.addr.to_string();
    let response = http(relay.addr, &format!("GET /ptvsd HTTP/1.1\r\nHost: {host}\r\n\r\n")).await;
    assert!(response.starts_with("HTTP/1.1 200 OK\r\n"), "{response}");
    assert!(response.contains("Content-Type: text/html"), "{response}");
    assert!(response.contains("ws(s)://SECRET@HOST:PORT/PATH"), "{response}");
    assert!(response.contains(&format!("ws://SECRET@{host}/ptvsd")), "{response}");
    assert!(response.contains(&target.to_string()), "{response}");

    let response = http(relay.addr, &format!("HEAD / HTTP/1.1\r\nHost: {host}\r\n\r\n")).await;
    assert!(response.starts_with("HTTP/1.1 200 OK\r\n") && response.ends_with("\r\n\r\n"), "{response}");
    relay.shutdown().await;
}

#[tokio::test]
async fn other_methods_get_405_and_bad_requests_400() {
    let relay = Relay::start(echo_target().await, None).await;
    let response = http(relay.addr, "POST /ptvsd HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello").await;
    assert!(response.starts_with("HTTP/1.1 405 Method Not Allowed\r\n"), "{response}");
    assert!(response.contains("Allow: GET, HEAD\r\n"), "{response}");

    let upgrade_without_key =
        "GET / HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n\r\n";
    let response = http(relay.addr, upgrade_without_key).await;
    assert!(response.starts_with("HTTP/1.1 400 "), "{response}");

    let response = http(relay.addr, "\x16\x03\x01 not http\r\n\r\n").await;
    assert!(response.starts_with("HTTP/1.1 400 "), "{response}");
    relay.shutdown().await;
}

#[tokio::test]
async fn an_unreachable_target_closes_with_1011() {
    let target = dead_address().await;
    let relay = Relay::start(target, None).await;
    let mut ws = connect(&relay.url("ws", "/ptvsd"), None).await;
    let (code, reason) = expect_close(&mut ws).await;
    assert_eq!(code, CloseCode::Error);
    assert!(reason.contains(&target.to_string()), "{reason}");
    relay.shutdown().await;
}

#[tokio::test]
async fn ten_concurrent_clients_each_get_their_own_echo() {
    let relay = Relay::start(echo_target().await, None).await;
    let url = relay.url("ws", "/ptvsd");
    let clients = (0..10u8).map(|i| {
        let url = url.clone();
        tokio::spawn(async move {
            let mut ws = connect(&url, None).await;
            let messages: Vec<Vec<u8>> = (0..20).map(|j| payload(1 + 997 * j, i)).collect();
            let (received, _) = round_trip(&mut ws, &messages).await;
            assert!(received == messages.concat(), "client {i} got someone else's bytes");
            finish(ws).await;
        })
    });
    for client in clients.collect::<Vec<_>>() {
        within(client).await.unwrap();
    }
    relay.shutdown().await;
}

#[tokio::test]
async fn small_writes_from_the_target_arrive_promptly() {
    // ptvsd writes one reply in several small sends; they must not wait for Nagle or a
    // delayed ACK. A ping-pong of 20 one-byte exchanges stays far below 20 × 40 ms.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let target = listener.local_addr().unwrap();
    let peer = tokio::spawn(async move {
        let (mut stream, _) = listener.accept().await.unwrap();
        let mut byte = [0u8; 1];
        for _ in 0..20 {
            stream.read_exact(&mut byte).await.unwrap();
            stream.write_all(b"a").await.unwrap();
            stream.write_all(b"b").await.unwrap();
        }
    });
    let relay = Relay::start(target, None).await;
    let mut ws = connect(&relay.url("ws", "/ptvsd"), None).await;
    let start = Instant::now();
    for _ in 0..20 {
        let (received, _) = round_trip_one(&mut ws, b"x", 2).await;
        assert_eq!(received, b"ab");
    }
    let elapsed = start.elapsed();
    assert!(elapsed < Duration::from_millis(400), "20 round trips took {elapsed:?}");
    within(peer).await.unwrap();
    let (code, _) = expect_close(&mut ws).await;
    assert_eq!(code, CloseCode::Normal);
    relay.shutdown().await;
}

async fn round_trip_one(ws: &mut Ws, message: &[u8], expect: usize) -> (Vec<u8>, usize) {
    ws.send(Message::Binary(Bytes::copy_from_slice(message))).await.unwrap();
    let mut received = Vec::new();
    let mut count = 0;
    while received.len() < expect {
        match within(ws.next()).await {
            Some(Ok(Message::Binary(bytes))) => {
                received.extend_from_slice(&bytes);
                count += 1;
            }
            other => panic!("expected binary data, got {other:?}"),
        }
    }
    (received, count)
}

/// A target that accepts one connection, reads everything until the connection ends, and
/// returns what it read and how the read ended.
async fn recording_target() -> (SocketAddr, JoinHandle<(Vec<u8>, std::io::Result<()>)>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let task = tokio::spawn(async move {
        let (mut stream, _) = listener.accept().await.unwrap();
        let mut data = Vec::new();
        let mut chunk = vec![0u8; 65_536];
        loop {
            match stream.read(&mut chunk).await {
                Ok(0) => return (data, Ok(())),
                Ok(count) => data.extend_from_slice(&chunk[..count]),
                Err(error) => return (data, Err(error)),
            }
        }
    });
    (addr, task)
}

fn assert_reset(end: &std::io::Result<()>) {
    if cfg!(target_os = "linux") {
        let kind = end.as_ref().err().map(std::io::Error::kind);
        assert_eq!(kind, Some(ErrorKind::ConnectionReset), "the target saw {end:?}, not a reset");
    }
}

#[tokio::test]
async fn dropping_the_websocket_resets_the_target_connection() {
    let (target, recorder) = recording_target().await;
    let relay = Relay::start(target, None).await;
    let mut ws = connect(&relay.url("ws", "/ptvsd"), None).await;
    ws.send(Message::binary(b"x".to_vec())).await.unwrap();
    drop(ws);
    let (data, end) = within(recorder).await.unwrap();
    assert_eq!(data, b"x");
    assert_reset(&end);
    relay.shutdown().await;
}

#[tokio::test]
async fn a_close_frame_resets_the_target_after_delivering_everything() {
    let (target, recorder) = recording_target().await;
    let relay = Relay::start(target, None).await;
    let mut ws = connect(&relay.url("ws", "/ptvsd"), None).await;
    let messages: Vec<Vec<u8>> = (0..16).map(|i| payload(65_536, i)).collect();
    for message in &messages {
        ws.feed(Message::binary(message.clone())).await.unwrap();
    }
    ws.close(None).await.unwrap();
    // The relay answers the Close and the stream ends.
    while let Some(message) = within(ws.next()).await {
        match message {
            Ok(Message::Close(_)) | Err(_) => {}
            other => panic!("unexpected {other:?}"),
        }
    }
    let (data, end) = within(recorder).await.unwrap();
    assert!(data == messages.concat(), "the target got {} of {} bytes", data.len(), messages.concat().len());
    assert_reset(&end);
    relay.shutdown().await;
}

#[tokio::test]
async fn the_target_closing_sends_a_close_frame() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let target = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let (mut stream, _) = listener.accept().await.unwrap();
        stream.write_all(b"bye").await.unwrap();
    });
    let relay = Relay::start(target, None).await;
    let mut ws = connect(&relay.url("ws", "/ptvsd"), None).await;
    match within(ws.next()).await {
        Some(Ok(Message::Binary(bytes))) => assert_eq!(&bytes[..], b"bye"),
        other => panic!("expected the target's bytes, got {other:?}"),
    }
    let (code, _) = expect_close(&mut ws).await;
    assert_eq!(code, CloseCode::Normal);
    relay.shutdown().await;
}

#[tokio::test]
async fn pings_are_answered() {
    let relay = Relay::start(echo_target().await, None).await;
    let mut ws = connect(&relay.url("ws", "/ptvsd"), None).await;
    ws.send(Message::Ping(Bytes::from_static(b"are you there"))).await.unwrap();
    match within(ws.next()).await {
        Some(Ok(Message::Pong(bytes))) => assert_eq!(&bytes[..], b"are you there"),
        other => panic!("expected a pong, got {other:?}"),
    }
    expect_echo(&mut ws, &[10]).await;
    finish(ws).await;
    relay.shutdown().await;
}

#[tokio::test]
async fn shutdown_closes_sessions_and_returns_promptly() {
    let (target, recorder) = recording_target().await;
    let relay = Relay::start(target, None).await;
    let addr = relay.addr;
    let mut ws = connect(&relay.url("ws", "/ptvsd"), None).await;
    ws.send(Message::binary(b"x".to_vec())).await.unwrap();
    // A second, idle connection that never sends its request.
    let _idle = TcpStream::connect(addr).await.unwrap();

    let reader = tokio::spawn(async move { expect_close(&mut ws).await });
    let took = relay.shutdown().await;
    assert!(took < Duration::from_secs(4), "serve took {took:?} to return");
    let (code, _) = within(reader).await.unwrap();
    assert_eq!(code, CloseCode::Away);
    let (data, end) = within(recorder).await.unwrap();
    assert_eq!(data, b"x");
    assert_reset(&end);
    assert!(TcpStream::connect(addr).await.is_err(), "still accepting after shutdown");
}

#[tokio::test]
async fn serve_rejects_a_bad_target_and_bad_tls_files() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let config = RelayConfig { listen: addr, target: "no-port".to_string(), tls: None };
    assert!(matches!(relay::serve(listener, config, std::future::pending()).await, Err(RelayError::Target(_))));

    let dir = tempfile::tempdir().unwrap();
    let missing = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    let config = RelayConfig { listen: addr, target: "127.0.0.1:5678".to_string(), tls: Some(missing) };
    assert!(matches!(config.validate(), Err(RelayError::TlsCert { .. })));
}

// ---- the binary -------------------------------------------------------------------------

struct Cli {
    child: tokio::process::Child,
    url: String,
}

async fn spawn_cli(args: &[&str]) -> Cli {
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_ptvsd-dap"))
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let line = within(lines.next_line()).await.unwrap().expect("the relay printed nothing");
    let url =
        line.strip_prefix("listening on ").unwrap_or_else(|| panic!("unexpected first line {line:?}")).to_string();
    Cli { child, url }
}

async fn terminate(mut cli: Cli) -> std::process::ExitStatus {
    let pid = cli.child.id().unwrap().to_string();
    let killed = tokio::process::Command::new("kill").args(["-TERM", &pid]).status().await.unwrap();
    assert!(killed.success());
    within(cli.child.wait()).await.unwrap()
}

#[cfg(unix)]
#[tokio::test]
async fn cli_relays_ws_and_exits_0_on_sigterm() {
    let target = echo_target().await.to_string();
    let cli = spawn_cli(&["relay", "--listen", "127.0.0.1:0", "--target", &target]).await;
    assert!(cli.url.starts_with("ws://127.0.0.1:"), "{}", cli.url);
    let mut ws = connect(&format!("{}/ptvsd", cli.url), None).await;
    expect_echo(&mut ws, &[1, 200_000]).await;
    // An open session does not keep the relay from exiting; it gets a Close 1001.
    let reader = tokio::spawn(async move { expect_close(&mut ws).await });
    let status = terminate(cli).await;
    assert_eq!(status.code(), Some(0), "{status:?}");
    let (code, _) = within(reader).await.unwrap();
    assert_eq!(code, CloseCode::Away);
}

#[cfg(unix)]
#[tokio::test]
async fn cli_relays_wss() {
    let (_dir, ca, cert, key) = certificates();
    let target = echo_target().await.to_string();
    let (cert, key) = (cert.to_str().unwrap(), key.to_str().unwrap());
    let args = ["relay", "--listen", "127.0.0.1:0", "--target", &target, "--tls-cert", cert, "--tls-key", key];
    let cli = spawn_cli(&args).await;
    assert!(cli.url.starts_with("wss://127.0.0.1:"), "{}", cli.url);
    let mut ws = connect(&format!("{}/ptvsd", cli.url), Some(&ca)).await;
    expect_echo(&mut ws, &[3, 100_000]).await;
    finish(ws).await;
    let status = terminate(cli).await;
    assert_eq!(status.code(), Some(0), "{status:?}");
}

#[tokio::test]
async fn cli_rejects_bad_arguments_with_status_2() {
    let binary = env!("CARGO_BIN_EXE_ptvsd-dap");
    let cases: [&[&str]; 3] = [
        &["relay", "--listen", "127.0.0.1:0", "--target", "nowhere"],
        &["relay", "--listen", "127.0.0.1:0", "--target", "127.0.0.1:5678", "--tls-cert", "x.pem"],
        &[
            "relay",
            "--listen",
            "127.0.0.1:0",
            "--target",
            "127.0.0.1:5678",
            "--tls-cert",
            "/nonexistent/c.pem",
            "--tls-key",
            "/nonexistent/k.pem",
        ],
    ];
    for args in cases {
        let output = within(tokio::process::Command::new(binary).args(args).output()).await.unwrap();
        assert_eq!(output.status.code(), Some(2), "{args:?}: {output:?}");
        assert!(output.stdout.is_empty(), "{args:?} printed to stdout");
    }
}

/// Not a check: `cargo test --test relay -- --ignored --nocapture throughput` prints how
/// long 50 MB take to echo through the relay and directly.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore]
async fn throughput() {
    const TOTAL: usize = 50 * 1024 * 1024;
    let target = echo_target().await;
    let relay = Relay::start(target, None).await;
    let messages: Vec<Vec<u8>> = (0..TOTAL / 65_536).map(|i| payload(65_536, i as u8)).collect();

    let mut ws = connect(&relay.url("ws", "/"), None).await;
    let start = Instant::now();
    let (received, count) = round_trip(&mut ws, &messages).await;
    let relayed = start.elapsed();
    assert_eq!(received.len(), TOTAL);

    let mut direct = TcpStream::connect(target).await.unwrap();
    let start = Instant::now();
    let (mut read, mut write) = direct.split();
    let send = async {
        for message in &messages {
            write.write_all(message).await.unwrap();
        }
    };
    let receive = async {
        let mut buffer = vec![0u8; TOTAL];
        read.read_exact(&mut buffer).await.unwrap();
    };
    tokio::join!(send, receive);
    let direct_time = start.elapsed();
    let rate = |d: Duration| TOTAL as f64 / 1e6 / d.as_secs_f64();
    eprintln!(
        "50 MiB echo: relay {relayed:?} ({:.0} MB/s, {count} messages back), direct {direct_time:?} ({:.0} MB/s)",
        rate(relayed),
        rate(direct_time)
    );
    relay.shutdown().await;
}
