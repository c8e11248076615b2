//! Transport tests against local servers: tcp echo, TLS (rcgen CA and leaf), WebSocket
//! relays that re-chunk, and HTTP status answers. Every server binds 127.0.0.1:0.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
// tungstenite's accept callback returns its (large) ErrorResponse.
#![allow(clippy::result_large_err)]

use std::io::Write as _;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use ptvsd_dap::transport::{
    connect, ConnectOptions, Endpoint, RemoteStream, Scheme, Stage, TlsFailure, TransportError,
};
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair, KeyUsagePurpose};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_rustls::TlsAcceptor;
use tokio_tungstenite::tungstenite::handshake::server::{Request, Response};
use tokio_tungstenite::tungstenite::Message;

const SECRET: &str = "s@cr:t";
const SECRET_ENCODED: &str = "s%40cr%3At";

/// Fails a test that hangs instead of letting it run forever.
const TEST_LIMIT: Duration = Duration::from_secs(20);

fn url(scheme: &str, host: &str, addr: SocketAddr, path: &str) -> String {
    format!("{scheme}://{SECRET_ENCODED}@{host}:{}{path}", addr.port())
}

fn options() -> ConnectOptions {
    ConnectOptions { connect_timeout: Duration::from_secs(5), ..ConnectOptions::default() }
}

async fn connect_url(url: &str, options: &ConnectOptions) -> Result<RemoteStream, TransportError> {
    let endpoint = Endpoint::parse(url).unwrap();
    tokio::time::timeout(TEST_LIMIT, connect(&endpoint, options)).await.expect("connect hung")
}

fn assert_no_secret(text: &str) {
    assert!(!text.contains(SECRET), "secret in {text:?}");
    assert!(!text.contains(SECRET_ENCODED), "encoded secret in {text:?}");
}

async fn read_exactly<S: AsyncRead + Unpin>(stream: &mut S, n: usize) -> Vec<u8> {
    let mut buf = vec![0u8; n];
    tokio::time::timeout(TEST_LIMIT, stream.read_exact(&mut buf)).await.expect("read hung").unwrap();
    buf
}

/// One read, failing the test if it hangs.
async fn read_some<S: AsyncRead + Unpin>(stream: &mut S, buf: &mut [u8]) -> std::io::Result<usize> {
    tokio::time::timeout(TEST_LIMIT, stream.read(buf)).await.expect("read hung")
}

// ---------------------------------------------------------------------------------------
// Certificates

struct Pki {
    ca_file: tempfile::NamedTempFile,
    chain: Vec<CertificateDer<'static>>,
    key: Vec<u8>,
}

/// A CA and a leaf for `names`, signed by it.
fn pki(names: &[&str]) -> Pki {
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();
    let leaf_key = KeyPair::generate().unwrap();
    let names: Vec<String> = names.iter().map(|s| s.to_string()).collect();
    let leaf = CertificateParams::new(names).unwrap().signed_by(&leaf_key, &ca).unwrap();
    let mut ca_file = tempfile::NamedTempFile::new().unwrap();
    ca_file.write_all(ca.pem().as_bytes()).unwrap();
    ca_file.flush().unwrap();
    Pki { ca_file, chain: vec![leaf.der().clone()], key: leaf_key.serialize_der() }
}

fn acceptor(pki: &Pki) -> TlsAcceptor {
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(pki.chain.clone(), PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(pki.key.clone())))
        .unwrap();
    TlsAcceptor::from(Arc::new(config))
}

fn with_ca(pki: &Pki) -> ConnectOptions {
    ConnectOptions { ca_file: Some(pki.ca_file.path().to_owned()), ..options() }
}

// ---------------------------------------------------------------------------------------
// Plain servers

async fn echo<S: AsyncRead + AsyncWrite + Unpin>(mut stream: S) {
    let mut buf = [0u8; 4096];
    loop {
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => {
                if stream.write_all(&buf[..n]).await.is_err() {
                    return;
                }
            }
        }
    }
}

/// Accepts connections forever and echoes each (over TLS when `tls` is given).
async fn echo_server(tls: Option<TlsAcceptor>) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let tls = tls.clone();
            tokio::spawn(async move {
                match tls {
                    Some(tls) => {
                        if let Ok(stream) = tls.accept(stream).await {
                            echo(stream).await;
                        }
                    }
                    None => echo(stream).await,
                }
            });
        }
    });
    addr
}

// ---------------------------------------------------------------------------------------
// tcp

#[tokio::test]
async fn tcp_echoes_bytes_with_nodelay() {
    let addr = echo_server(None).await;
    let mut stream = connect_url(&url("tcp", "127.0.0.1", addr, ""), &options()).await.unwrap();
    match &stream {
        RemoteStream::Tcp(tcp) => assert!(tcp.get_ref().nodelay().unwrap()),
        other => panic!("not tcp: {other:?}"),
    }
    stream.write_all(b"PTVSDBG\x00hello").await.unwrap();
    stream.flush().await.unwrap();
    assert_eq!(read_exactly(&mut stream, 13).await, b"PTVSDBG\x00hello");
}

#[tokio::test]
async fn tcp_to_localhost_name_resolves() {
    let addr = echo_server(None).await;
    let mut stream = connect_url(&url("tcp", "localhost", addr, ""), &options()).await.unwrap();
    stream.write_all(b"x").await.unwrap();
    assert_eq!(read_exactly(&mut stream, 1).await, b"x");
}

#[tokio::test]
async fn tcp_refused() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let err = connect_url(&url("tcp", "127.0.0.1", addr, ""), &options()).await.unwrap_err();
    assert!(matches!(err, TransportError::Refused { .. }), "{err:?}");
    let text = err.to_string();
    assert!(text.contains(&format!("127.0.0.1:{}", addr.port())), "{text}");
    assert!(text.contains("ptvsd enabled"), "{text}");
    assert_no_secret(&text);
}

#[tokio::test]
async fn tcp_dns_failure() {
    let err = connect_url("tcp://s@no-such-host.invalid:5678", &options()).await.unwrap_err();
    assert!(matches!(err, TransportError::Dns { .. }), "{err:?}");
    assert!(err.to_string().contains("`no-such-host.invalid` could not be resolved"), "{err}");
}

#[tokio::test]
async fn tcp_connect_timeout_against_a_full_backlog() {
    // backlog 0: the kernel queues one connection and then drops SYNs, so a further
    // connect hangs in SYN retransmission until our deadline.
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let listener = socket.listen(0).unwrap();
    let addr = listener.local_addr().unwrap();
    let mut fillers = Vec::new();
    for _ in 0..4 {
        match tokio::time::timeout(Duration::from_millis(300), TcpStream::connect(addr)).await {
            Ok(Ok(stream)) => fillers.push(stream),
            _ => break, // the queue is full now
        }
    }
    let options = ConnectOptions { connect_timeout: Duration::from_millis(400), ..options() };
    let err = connect_url(&url("tcp", "127.0.0.1", addr, ""), &options).await.unwrap_err();
    match &err {
        TransportError::Timeout { stage, after, .. } => {
            assert_eq!(*stage, Stage::Connect);
            assert_eq!(*after, Duration::from_millis(400));
        }
        other => panic!("expected a timeout: {other:?}"),
    }
    assert!(err.to_string().contains("within 0.4 s"), "{err}");
    drop(fillers);
}

#[tokio::test]
async fn tcp_abort_resets_the_peer() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let stream = connect_url(&url("tcp", "127.0.0.1", addr, ""), &options()).await.unwrap();
    let (mut peer, _) = listener.accept().await.unwrap();
    stream.abort().await;
    let mut buf = [0u8; 16];
    let result = tokio::time::timeout(TEST_LIMIT, peer.read(&mut buf)).await.expect("peer read hung");
    let err = result.expect_err("the peer should see a reset, not EOF");
    assert_eq!(err.kind(), std::io::ErrorKind::ConnectionReset, "{err}");
}

// ---------------------------------------------------------------------------------------
// tcps

#[tokio::test]
async fn tls_with_ca_file_echoes() {
    let pki = pki(&["localhost", "127.0.0.1"]);
    let addr = echo_server(Some(acceptor(&pki))).await;
    for host in ["127.0.0.1", "localhost"] {
        let mut stream = connect_url(&url("tcps", host, addr, ""), &with_ca(&pki)).await.unwrap();
        assert!(matches!(stream, RemoteStream::Tls(_)));
        stream.write_all(b"hello over tls").await.unwrap();
        stream.flush().await.unwrap();
        assert_eq!(read_exactly(&mut stream, 14).await, b"hello over tls");
    }
}

#[tokio::test]
async fn tls_without_ca_file_names_the_option() {
    let pki = pki(&["localhost", "127.0.0.1"]);
    let addr = echo_server(Some(acceptor(&pki))).await;
    let err = connect_url(&url("tcps", "127.0.0.1", addr, ""), &options()).await.unwrap_err();
    assert!(
        matches!(err, TransportError::Tls { kind: TlsFailure::UnknownIssuer, scheme: Scheme::Tcps, .. }),
        "{err:?}"
    );
    let text = err.to_string();
    assert!(text.contains("caFile") && text.contains("--ca-file"), "{text}");
    assert_no_secret(&text);
}

#[tokio::test]
async fn tls_name_mismatch_names_the_name() {
    let pki = pki(&["other.example"]);
    let addr = echo_server(Some(acceptor(&pki))).await;
    let err = connect_url(&url("tcps", "localhost", addr, ""), &with_ca(&pki)).await.unwrap_err();
    match &err {
        TransportError::Tls { kind: TlsFailure::NameMismatch { expected, presented }, .. } => {
            assert_eq!(expected, "localhost");
            assert_eq!(presented, &vec!["other.example".to_owned()]);
        }
        other => panic!("expected a name mismatch: {other:?}"),
    }
    let text = err.to_string();
    assert!(text.contains("does not cover the name `localhost`"), "{text}");
    assert!(text.contains("other.example"), "{text}");

    let err = connect_url(&url("tcps", "127.0.0.1", addr, ""), &with_ca(&pki)).await.unwrap_err();
    assert!(err.to_string().contains("does not cover the name `127.0.0.1`"), "{err}");
}

#[tokio::test]
async fn tls_insecure_accepts_an_unknown_ca() {
    let pki = pki(&["other.example"]);
    let addr = echo_server(Some(acceptor(&pki))).await;
    let options = ConnectOptions { insecure_tls: true, ..options() };
    let mut stream = connect_url(&url("tcps", "127.0.0.1", addr, ""), &options).await.unwrap();
    stream.write_all(b"ok").await.unwrap();
    stream.flush().await.unwrap();
    assert_eq!(read_exactly(&mut stream, 2).await, b"ok");
}

#[tokio::test]
async fn tls_to_a_non_tls_peer_explains_the_tls_1_0_limit() {
    // Something that is not a modern TLS server: answers the ClientHello with junk.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let (mut stream, _) = listener.accept().await.unwrap();
        let mut buf = [0u8; 1024];
        let _ = stream.read(&mut buf).await;
        let _ = stream.write_all(b"PTVSDBG\n\x00\x00\x00junk").await;
    });
    let err = connect_url(&url("tcps", "127.0.0.1", addr, ""), &options()).await.unwrap_err();
    assert!(matches!(err, TransportError::Tls { kind: TlsFailure::Other { .. }, .. }), "{err:?}");
    let text = err.to_string();
    assert!(text.contains("TLS 1.0") && text.contains("stunnel"), "{text}");
}

#[tokio::test]
async fn tls_abort_resets_the_peer() {
    let pki = pki(&["127.0.0.1"]);
    let tls = acceptor(&pki);
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = tokio::sync::oneshot::channel();
    tokio::spawn(async move {
        let (stream, _) = listener.accept().await.unwrap();
        let mut stream = tls.accept(stream).await.unwrap();
        // Tell the client the handshake is done here too (TLS 1.3 finishes on the client
        // first), then wait for its close.
        stream.write_all(b"!").await.unwrap();
        stream.flush().await.unwrap();
        let mut buf = [0u8; 16];
        let _ = tx.send(stream.read(&mut buf).await.map(|_| ()));
    });
    let mut stream = connect_url(&url("tcps", "127.0.0.1", addr, ""), &with_ca(&pki)).await.unwrap();
    assert_eq!(read_exactly(&mut stream, 1).await, b"!");
    stream.abort().await;
    let result = tokio::time::timeout(TEST_LIMIT, rx).await.unwrap().unwrap();
    let err = result.expect_err("the peer should see a reset");
    assert_eq!(err.kind(), std::io::ErrorKind::ConnectionReset, "{err}");
}

// ---------------------------------------------------------------------------------------
// ws / wss

/// What a test WebSocket server does after the upgrade.
#[derive(Clone, Copy)]
enum Behaviour {
    /// Collects 100 bytes however they arrive, then sends them back as 1, 2, 3, 50 and 44
    /// bytes.
    RechunkEcho,
    /// Sends a text frame.
    SendText,
    /// Waits for two Pings, then sends "done".
    AwaitPings,
    /// Sends one binary message ("PTVSDBG"), then a Close frame.
    SendClose,
    /// Sends a Close frame at once (a relay that could not reach ptvsd).
    CloseAtOnce,
    /// Echoes every binary message as it comes.
    Echo,
}

#[derive(Debug)]
enum Seen {
    Upgrade { uri: String, headers: Vec<(String, String)> },
    HandshakeFailed(String),
    Ping,
}

async fn serve_ws<S>(stream: S, behaviour: Behaviour, seen: mpsc::UnboundedSender<Seen>)
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let capture = seen.clone();
    let callback = move |request: &Request, response: Response| {
        let headers = request
            .headers()
            .iter()
            .map(|(k, v)| (k.as_str().to_owned(), String::from_utf8_lossy(v.as_bytes()).into_owned()))
            .collect();
        let _ = capture.send(Seen::Upgrade { uri: request.uri().to_string(), headers });
        Ok(response)
    };
    let mut ws = match tokio_tungstenite::accept_hdr_async(stream, callback).await {
        Ok(ws) => ws,
        Err(e) => {
            let _ = seen.send(Seen::HandshakeFailed(e.to_string()));
            return;
        }
    };
    match behaviour {
        Behaviour::RechunkEcho => {
            let mut collected = Vec::new();
            while collected.len() < 100 {
                match ws.next().await {
                    Some(Ok(Message::Binary(data))) => collected.extend_from_slice(&data),
                    Some(Ok(_)) => {}
                    _ => return,
                }
            }
            let mut rest = &collected[..];
            for size in [1usize, 2, 3, 50, 44] {
                let (chunk, tail) = rest.split_at(size);
                rest = tail;
                ws.send(Message::Binary(chunk.to_vec().into())).await.unwrap();
            }
            // Keep the connection open until the client goes.
            while let Some(Ok(_)) = ws.next().await {}
        }
        Behaviour::SendText => {
            ws.send(Message::Text("hello".into())).await.unwrap();
            while let Some(Ok(_)) = ws.next().await {}
        }
        Behaviour::AwaitPings => {
            let mut pings = 0;
            while pings < 2 {
                match ws.next().await {
                    Some(Ok(Message::Ping(_))) => {
                        pings += 1;
                        let _ = seen.send(Seen::Ping);
                    }
                    Some(Ok(_)) => {}
                    _ => return,
                }
            }
            ws.send(Message::Binary(b"done".to_vec().into())).await.unwrap();
            while let Some(Ok(_)) = ws.next().await {}
        }
        Behaviour::Echo => {
            while let Some(Ok(message)) = ws.next().await {
                if let Message::Binary(data) = message {
                    if ws.send(Message::Binary(data)).await.is_err() {
                        return;
                    }
                }
            }
        }
        Behaviour::SendClose => {
            let _ = ws.send(Message::binary(b"PTVSDBG".to_vec())).await;
            let _ = ws.close(None).await;
            while let Some(Ok(_)) = ws.next().await {}
        }
        Behaviour::CloseAtOnce => {
            let _ = ws.close(None).await;
            while let Some(Ok(_)) = ws.next().await {}
        }
    }
}

/// A WebSocket server (TLS when `tls` is given) that serves every connection with
/// `behaviour` and reports what it saw.
async fn ws_server(tls: Option<TlsAcceptor>, behaviour: Behaviour) -> (SocketAddr, mpsc::UnboundedReceiver<Seen>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let tls = tls.clone();
            let tx = tx.clone();
            tokio::spawn(async move {
                match tls {
                    Some(tls) => match tls.accept(stream).await {
                        Ok(stream) => serve_ws(stream, behaviour, tx).await,
                        Err(e) => {
                            let _ = tx.send(Seen::HandshakeFailed(format!("tls: {e}")));
                        }
                    },
                    None => serve_ws(stream, behaviour, tx).await,
                }
            });
        }
    });
    (addr, rx)
}

/// A plain `ws://` connection to a [`ws_server`] serving with `behaviour`.
async fn ws_connected(behaviour: Behaviour, options: &ConnectOptions) -> (RemoteStream, mpsc::UnboundedReceiver<Seen>) {
    let (addr, seen) = ws_server(None, behaviour).await;
    let stream = connect_url(&url("ws", "127.0.0.1", addr, "/ptvsd"), options).await.unwrap();
    (stream, seen)
}

async fn next_upgrade(seen: &mut mpsc::UnboundedReceiver<Seen>) -> (String, Vec<(String, String)>) {
    loop {
        match tokio::time::timeout(TEST_LIMIT, seen.recv()).await.unwrap() {
            Some(Seen::Upgrade { uri, headers }) => return (uri, headers),
            Some(_) => {}
            None => panic!("server gone"),
        }
    }
}

async fn rechunked_echo(stream: &mut RemoteStream) {
    let data: Vec<u8> = (0..100u8).collect();
    // Five writes (five messages) the server merges; it answers in five other pieces.
    for piece in data.chunks(20) {
        stream.write_all(piece).await.unwrap();
        stream.flush().await.unwrap();
    }
    assert_eq!(read_exactly(stream, 100).await, data);
}

#[tokio::test]
async fn ws_is_one_byte_stream_across_rechunking() {
    let (addr, mut seen) = ws_server(None, Behaviour::RechunkEcho).await;
    let options = ConnectOptions {
        headers: vec![("Cookie".into(), "ARRAffinity=abc123".into()), ("X-Test".into(), "1".into())],
        ..options()
    };
    let mut stream = connect_url(&url("ws", "127.0.0.1", addr, "/ptvsd"), &options).await.unwrap();
    assert!(matches!(stream, RemoteStream::Ws(_)));
    rechunked_echo(&mut stream).await;

    let (uri, headers) = next_upgrade(&mut seen).await;
    assert_eq!(uri, "/ptvsd");
    assert!(!headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("authorization")), "{headers:?}");
    let header = |name: &str| headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.clone());
    assert_eq!(header("cookie").as_deref(), Some("ARRAffinity=abc123"));
    assert_eq!(header("x-test").as_deref(), Some("1"));
    assert_eq!(header("host").as_deref(), Some(format!("127.0.0.1:{}", addr.port()).as_str()));
    assert_no_secret(&format!("{uri} {headers:?}"));
    assert_no_secret(&format!("{stream:?}"));
}

#[tokio::test]
async fn ws_text_frame_is_an_error() {
    let (mut stream, _seen) = ws_connected(Behaviour::SendText, &options()).await;
    let mut buf = [0u8; 16];
    let err = read_some(&mut stream, &mut buf).await.unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidData);
    assert!(err.to_string().contains("text frame"), "{err}");
}

#[tokio::test]
async fn ws_close_is_eof() {
    let (mut stream, _seen) = ws_connected(Behaviour::SendClose, &options()).await;
    let mut buf = [0u8; 16];
    let n = read_some(&mut stream, &mut buf).await.unwrap();
    assert_eq!(&buf[..n], b"PTVSDBG");
    let n = read_some(&mut stream, &mut buf).await.unwrap();
    assert_eq!(n, 0);
    // And stays at EOF.
    assert_eq!(stream.read(&mut buf).await.unwrap(), 0);
}

/// A relay that closes before ptvsd's first byte could not reach ptvsd: the read says so.
#[tokio::test]
async fn ws_close_before_any_byte_is_the_relay_failing_to_reach_ptvsd() {
    let (mut stream, _seen) = ws_connected(Behaviour::CloseAtOnce, &options()).await;
    let mut buf = [0u8; 16];
    let err = read_some(&mut stream, &mut buf).await.unwrap_err();
    match TransportError::carried_by(err) {
        Ok(error @ TransportError::RelayClosedEarly { .. }) => {
            assert!(error.to_string().contains("could not reach ptvsd"), "{error}")
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn ws_sends_pings_while_idle() {
    let (addr, mut seen) = ws_server(None, Behaviour::AwaitPings).await;
    let options = ConnectOptions { ping_interval: Some(Duration::from_millis(100)), ..options() };
    let mut stream = connect_url(&url("ws", "127.0.0.1", addr, "/ptvsd"), &options).await.unwrap();
    // The server answers only after two pings; our read is the only thing polling.
    assert_eq!(read_exactly(&mut stream, 4).await, b"done");
    let mut pings = 0;
    while let Ok(event) = seen.try_recv() {
        if matches!(event, Seen::Ping) {
            pings += 1;
        }
    }
    assert_eq!(pings, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ws_split_reader_and_writer_with_frequent_pings_do_not_stall() {
    // Pings are sent from the read side; a writer on another task, pushing far more than
    // the socket buffers hold, must still be woken when the socket drains. A liveness
    // check: it did not catch the earlier lost-wake-up design (see `drive_ping`), whose
    // window is too narrow to hit reliably.
    const TOTAL: usize = 4 * 1024 * 1024;
    let options = ConnectOptions { ping_interval: Some(Duration::from_millis(1)), ..options() };
    let (stream, _seen) = ws_connected(Behaviour::Echo, &options).await;
    let (mut reader, mut writer) = tokio::io::split(stream);
    let data: Vec<u8> = (0..TOTAL).map(|i| (i % 251) as u8).collect();
    let expected = data.clone();
    let write = tokio::spawn(async move {
        for chunk in data.chunks(64 * 1024) {
            writer.write_all(chunk).await.unwrap();
            writer.flush().await.unwrap();
        }
        writer
    });
    let got = read_exactly(&mut reader, TOTAL).await;
    assert!(got == expected, "the echoed bytes differ");
    let writer = tokio::time::timeout(TEST_LIMIT, write).await.expect("writer stalled").unwrap();
    reader.unsplit(writer).abort().await;
}

#[tokio::test]
async fn ws_abort_sends_close() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = tokio::sync::oneshot::channel();
    tokio::spawn(async move {
        let (stream, _) = listener.accept().await.unwrap();
        let mut ws = tokio_tungstenite::accept_async(stream).await.unwrap();
        let first = ws.next().await;
        let _ = tx.send(matches!(first, Some(Ok(Message::Close(_)))));
    });
    let stream = connect_url(&url("ws", "127.0.0.1", addr, "/ptvsd"), &options()).await.unwrap();
    stream.abort().await;
    assert!(tokio::time::timeout(TEST_LIMIT, rx).await.unwrap().unwrap());
}

#[tokio::test]
async fn wss_with_ca_file_wakes_the_site_then_echoes() {
    let pki = pki(&["localhost", "127.0.0.1"]);
    let (addr, mut seen) = ws_server(Some(acceptor(&pki)), Behaviour::RechunkEcho).await;
    let mut stream = connect_url(&url("wss", "localhost", addr, "/ptvsd"), &with_ca(&pki)).await.unwrap();
    rechunked_echo(&mut stream).await;
    // The wake-up HEAD / came first, over TLS (the WebSocket server refuses its method).
    match tokio::time::timeout(TEST_LIMIT, seen.recv()).await.unwrap() {
        Some(Seen::HandshakeFailed(e)) => assert!(e.contains("HTTP method"), "{e}"),
        other => panic!("expected the wake-up request first: {other:?}"),
    }
    let (uri, headers) = next_upgrade(&mut seen).await;
    assert_eq!(uri, "/ptvsd");
    assert_no_secret(&format!("{uri} {headers:?}"));
}

#[tokio::test]
async fn wss_without_ca_file_is_unknown_issuer() {
    let pki = pki(&["localhost", "127.0.0.1"]);
    let (addr, _seen) = ws_server(Some(acceptor(&pki)), Behaviour::RechunkEcho).await;
    let err = connect_url(&url("wss", "127.0.0.1", addr, "/ptvsd"), &options()).await.unwrap_err();
    assert!(matches!(err, TransportError::Tls { kind: TlsFailure::UnknownIssuer, scheme: Scheme::Wss, .. }), "{err:?}");
    let text = err.to_string();
    assert!(text.contains("caFile"), "{text}");
    assert_no_secret(&text);
}

#[tokio::test]
async fn wss_insecure_echoes() {
    let pki = pki(&["other.example"]);
    let (addr, _seen) = ws_server(Some(acceptor(&pki)), Behaviour::RechunkEcho).await;
    let options = ConnectOptions { insecure_tls: true, ..options() };
    let mut stream = connect_url(&url("wss", "127.0.0.1", addr, "/ptvsd"), &options).await.unwrap();
    rechunked_echo(&mut stream).await;
}

// ---------------------------------------------------------------------------------------
// HTTP answers to the upgrade

/// Answers every request with `status` and reports each request head.
async fn http_server(status: u16) -> (SocketAddr, mpsc::UnboundedReceiver<String>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let tx = tx.clone();
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut buf = [0u8; 1024];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match stream.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                let _ = tx.send(String::from_utf8_lossy(&head).into_owned());
                let answer = format!("HTTP/1.1 {status} Whatever\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
                let _ = stream.write_all(answer.as_bytes()).await;
                let _ = stream.shutdown().await;
            });
        }
    });
    (addr, rx)
}

#[tokio::test]
async fn upgrade_statuses_map_to_sentences() {
    let cases: [(u16, &str); 5] = [
        (503, "Web sockets"),
        (404, "web.debug.config"),
        (401, "authentication"),
        (403, "IP addresses"),
        (500, "HTTP 500"),
    ];
    for (status, phrase) in cases {
        let (addr, mut heads) = http_server(status).await;
        let err = connect_url(&url("ws", "127.0.0.1", addr, "/ptvsd"), &options()).await.unwrap_err();
        match &err {
            TransportError::HttpStatus { status: got, path, .. } => {
                assert_eq!(*got, status);
                assert_eq!(path, "/ptvsd");
            }
            other => panic!("{status}: {other:?}"),
        }
        let text = err.to_string();
        assert!(text.contains(phrase), "{status}: {text}");
        assert_no_secret(&text);
        let head = heads.recv().await.unwrap();
        assert!(head.starts_with("GET /ptvsd HTTP/1.1\r\n"), "{head}");
        assert_no_secret(&head);
        assert!(!head.to_ascii_lowercase().contains("authorization"), "{head}");
    }
}

#[tokio::test]
async fn wake_url_gets_a_head_with_the_custom_headers() {
    let (wake_addr, mut wake_heads) = http_server(200).await;
    let (ws_addr, _ws_heads) = http_server(404).await;
    let options = ConnectOptions {
        wake_url: Some(format!("http://127.0.0.1:{}/wake", wake_addr.port())),
        headers: vec![("Cookie".into(), "ARRAffinity=abc".into())],
        ..options()
    };
    let err = connect_url(&url("ws", "127.0.0.1", ws_addr, "/ptvsd"), &options).await.unwrap_err();
    assert!(matches!(err, TransportError::HttpStatus { status: 404, .. }), "{err:?}");
    let head = wake_heads.try_recv().expect("the wake-up request arrived first");
    assert!(head.starts_with("HEAD /wake HTTP/1.1\r\n"), "{head}");
    assert!(head.contains("Cookie: ARRAffinity=abc\r\n"), "{head}");
    assert_no_secret(&head);
}

#[tokio::test]
async fn upgrade_without_answer_times_out() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let (stream, _) = listener.accept().await.unwrap();
        // Hold the connection open without answering.
        let mut stream = stream;
        let mut buf = [0u8; 1024];
        while let Ok(n) = stream.read(&mut buf).await {
            if n == 0 {
                break;
            }
        }
    });
    let options = ConnectOptions { connect_timeout: Duration::from_millis(300), ..options() };
    let err = connect_url(&url("ws", "127.0.0.1", addr, "/ptvsd"), &options).await.unwrap_err();
    assert!(matches!(err, TransportError::Timeout { stage: Stage::Upgrade, .. }), "{err:?}");
}

// ---------------------------------------------------------------------------------------
// Latency: ptvsd answers in several small send()s with Nagle on

#[cfg(target_os = "linux")]
#[tokio::test]
async fn tcp_round_trips_do_not_wait_for_delayed_acks() {
    const ROUND_TRIPS: u32 = 20;
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let (mut stream, _) = listener.accept().await.unwrap();
        // Like ptvsd: Nagle stays on, and each reply is three small writes.
        let mut byte = [0u8; 1];
        while stream.read_exact(&mut byte).await.is_ok() {
            for part in [&b"ab"[..], b"cd", b"ef"] {
                if stream.write_all(part).await.is_err() {
                    return;
                }
            }
        }
    });
    let mut stream = connect_url(&url("tcp", "127.0.0.1", addr, ""), &options()).await.unwrap();
    let started = std::time::Instant::now();
    for _ in 0..ROUND_TRIPS {
        stream.write_all(b"?").await.unwrap();
        assert_eq!(read_exactly(&mut stream, 6).await, b"abcdef");
    }
    let elapsed = started.elapsed();
    eprintln!("{ROUND_TRIPS} round trips in {elapsed:?}");
    // With delayed ACKs each round trip costs ~40 ms (800 ms in all); with QUICKACK a
    // fraction of a millisecond. Leave plenty of room for a busy machine.
    assert!(elapsed < Duration::from_millis(400), "{elapsed:?}");
}
