//! Group 2: `ptvsd-dap relay` against websockify, as byte pipes in front of one in-process
//! TCP target: bulk transfer each way and 64-byte ping-pong, interleaved.
//!
//! The target reads a one-byte mode from each connection: `U` + u64 length = sink that many
//! bytes and answer `K`; `D` + u64 length = send that many bytes; `E` = echo.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

use super::procs::WsRelay;
use super::stats::{fmt_ms, fmt_ratio, ms, summarize, verdict, Table};
use super::support::Peers;
use super::{progress, Config, Report, Res};

const MESSAGE: usize = 64 * 1024;
const PING: usize = 64;
const TIMEOUT: Duration = Duration::from_secs(120);

/// websockify with numpy from `BENCH_ENV/websockify` ([`super::bench_env_dir`]), if installed.
pub fn numpy_websockify() -> Option<PathBuf> {
    let exe = super::bench_env_dir().join("websockify").join("bin").join("websockify");
    exe.exists().then_some(exe)
}

async fn target_server() -> Res<(u16, tokio::task::JoinHandle<()>)> {
    let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
    let port = listener.local_addr()?.port();
    let task = tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let _ = serve(stream).await;
            });
        }
    });
    Ok((port, task))
}

async fn serve(mut stream: TcpStream) -> Res<()> {
    stream.set_nodelay(true)?;
    let mode = stream.read_u8().await?;
    match mode {
        b'U' => {
            let mut left = stream.read_u64().await?;
            let mut buf = vec![0u8; 256 * 1024];
            while left > 0 {
                let n = stream.read(&mut buf).await?;
                if n == 0 {
                    return Err("upload ended early".into());
                }
                left = left.saturating_sub(n as u64);
            }
            stream.write_all(b"K").await?;
        }
        b'D' => {
            let mut left = stream.read_u64().await? as usize;
            let buf = vec![b'd'; 256 * 1024];
            while left > 0 {
                let n = left.min(buf.len());
                stream.write_all(&buf[..n]).await?;
                left -= n;
            }
        }
        _ => {
            let mut buf = vec![0u8; 64 * 1024];
            loop {
                let n = stream.read(&mut buf).await?;
                if n == 0 {
                    return Ok(());
                }
                stream.write_all(&buf[..n]).await?;
            }
        }
    }
    // Keep the connection until the client goes, so no close races the last bytes.
    let mut sink = [0u8; 1024];
    while stream.read(&mut sink).await.unwrap_or(0) > 0 {}
    Ok(())
}

/// A WebSocket endpoint in this process that speaks the target's protocol itself: the
/// client with no relay in between. A reference, not a ceiling: the endpoint shares the
/// client's process and runtime threads.
async fn ceiling_server() -> Res<(u16, tokio::task::JoinHandle<()>)> {
    let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
    let port = listener.local_addr()?.port();
    let task = tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let _ = serve_ws(stream).await;
            });
        }
    });
    Ok((port, task))
}

async fn next_binary(ws: &mut Ws) -> Res<Bytes> {
    match ws.next().await {
        Some(Ok(Message::Binary(data))) => Ok(data),
        Some(Ok(other)) => Err(format!("unexpected {other:?}").into()),
        Some(Err(e)) => Err(e.into()),
        None => Err("closed".into()),
    }
}

async fn serve_ws(stream: TcpStream) -> Res<()> {
    stream.set_nodelay(true)?;
    let mut ws = tokio_tungstenite::accept_async(stream).await?;
    let mut pending: Vec<u8> = Vec::new();
    let first = next_binary(&mut ws).await?;
    pending.extend_from_slice(&first);
    match pending.first().copied() {
        Some(b'U') => {
            let mut left = u64::from_be_bytes(pending.get(1..9).ok_or("short header")?.try_into()?);
            while left > 0 {
                left = left.saturating_sub(next_binary(&mut ws).await?.len() as u64);
            }
            ws.send(Message::Binary(Bytes::from_static(b"K"))).await?;
        }
        Some(b'D') => {
            let mut left = u64::from_be_bytes(pending.get(1..9).ok_or("short header")?.try_into()?) as usize;
            let chunk = Bytes::from(vec![b'd'; MESSAGE]);
            while left > 0 {
                let n = left.min(MESSAGE);
                ws.send(Message::Binary(chunk.slice(..n))).await?;
                left -= n;
            }
        }
        _ => loop {
            let data = next_binary(&mut ws).await?;
            ws.send(Message::Binary(data)).await?;
        },
    }
    while ws.next().await.is_some() {}
    Ok(())
}

type Ws = WebSocketStream<TcpStream>;

async fn connect(port: u16) -> Res<Ws> {
    let tcp = TcpStream::connect(("127.0.0.1", port)).await?;
    tcp.set_nodelay(true)?;
    let (ws, _) = tokio_tungstenite::client_async(format!("ws://127.0.0.1:{port}/bench"), tcp).await?;
    Ok(ws)
}

/// Reads binary payload bytes until `want` have arrived.
async fn read_bytes(ws: &mut Ws, want: usize) -> Res<()> {
    let mut got = 0;
    while got < want {
        match ws.next().await {
            Some(Ok(Message::Binary(data))) => got += data.len(),
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
            Some(Ok(other)) => return Err(format!("unexpected message {other:?}").into()),
            Some(Err(error)) => return Err(error.into()),
            None => return Err(format!("closed after {got} of {want} bytes").into()),
        }
    }
    Ok(())
}

async fn close(mut ws: Ws) {
    let _ = tokio::time::timeout(Duration::from_secs(2), ws.close(None)).await;
}

/// Seconds to push `bytes` through the relay into the sink (until the sink's ack).
async fn upload(port: u16, bytes: usize) -> Res<f64> {
    let mut ws = connect(port).await?;
    let mut header = vec![b'U'];
    header.extend_from_slice(&(bytes as u64).to_be_bytes());
    ws.send(Message::Binary(Bytes::from(header))).await?;
    let chunk = Bytes::from(vec![b'u'; MESSAGE]);
    let start = Instant::now();
    let mut left = bytes;
    while left > 0 {
        let n = left.min(MESSAGE);
        ws.send(Message::Binary(chunk.slice(..n))).await?;
        left -= n;
    }
    tokio::time::timeout(TIMEOUT, read_bytes(&mut ws, 1)).await.map_err(|_| "upload timed out")??;
    let secs = start.elapsed().as_secs_f64();
    close(ws).await;
    Ok(secs)
}

/// Seconds to receive `bytes` from the source through the relay.
async fn download(port: u16, bytes: usize) -> Res<f64> {
    let mut ws = connect(port).await?;
    let mut header = vec![b'D'];
    header.extend_from_slice(&(bytes as u64).to_be_bytes());
    let start = Instant::now();
    ws.send(Message::Binary(Bytes::from(header))).await?;
    tokio::time::timeout(TIMEOUT, read_bytes(&mut ws, bytes)).await.map_err(|_| "download timed out")??;
    let secs = start.elapsed().as_secs_f64();
    close(ws).await;
    Ok(secs)
}

/// Round trips (ms) of `count` 64-byte messages through the echo.
async fn ping_pong(port: u16, count: usize) -> Res<Vec<f64>> {
    let mut ws = connect(port).await?;
    ws.send(Message::Binary(Bytes::from_static(b"E"))).await?;
    let payload = Bytes::from(vec![b'p'; PING]);
    // One unmeasured exchange: the relay connects to the target lazily.
    ws.send(Message::Binary(payload.clone())).await?;
    read_bytes(&mut ws, PING).await?;
    let mut samples = Vec::with_capacity(count);
    for _ in 0..count {
        let start = Instant::now();
        ws.send(Message::Binary(payload.clone())).await?;
        tokio::time::timeout(Duration::from_secs(10), read_bytes(&mut ws, PING))
            .await
            .map_err(|_| "ping timed out")??;
        samples.push(ms(start.elapsed()));
    }
    close(ws).await;
    Ok(samples)
}

pub async fn run(config: &Config, report: &mut Report) -> Res<()> {
    let (target, server) = target_server().await?;
    let (ceiling_port, ceiling) = ceiling_server().await?;
    let mut relays = vec![
        WsRelay::ptvsd_dap(target).await?,
        WsRelay::websockify(Peers::load().websockify(), target, "websockify (no numpy, as in .test-env)")?,
    ];
    match numpy_websockify() {
        Some(exe) => relays.push(WsRelay::websockify(&exe, target, "websockify + numpy")?),
        None => progress("relay: websockify + numpy not installed (scripts/setup-bench-env.sh); skipped"),
    }
    if let Some(baseline) = &config.baseline {
        relays.push(WsRelay::ptvsd_dap_exe(baseline, target, "ptvsd-dap relay (baseline build)").await?);
    }
    let n = relays.len();
    let mut up = vec![Vec::new(); n];
    let mut down = vec![Vec::new(); n];
    let mut pings = vec![Vec::new(); n];
    let bytes = config.bulk_bytes;
    // Warm-up: one small transfer each way per relay.
    for relay in &relays {
        upload(relay.port, 1 << 20).await?;
        download(relay.port, 1 << 20).await?;
    }
    for round in 0..config.bulk_rounds {
        progress(&format!("relay: bulk round {}/{}", round + 1, config.bulk_rounds));
        for k in 0..n {
            let i = (round + k) % n;
            up[i].push(bytes as f64 / upload(relays[i].port, bytes).await? / 1e6);
            down[i].push(bytes as f64 / download(relays[i].port, bytes).await? / 1e6);
        }
    }
    progress("relay: ping-pong");
    for round in 0..config.ping_rounds {
        for k in 0..n {
            let i = (round + k) % n;
            pings[i].extend(ping_pong(relays[i].port, config.ping_batch).await?);
        }
    }
    // Reference: the same transfers against an in-process endpoint, no relay.
    let (mut c_up, mut c_down) = (Vec::new(), Vec::new());
    for _ in 0..config.bulk_rounds {
        c_up.push(bytes as f64 / upload(ceiling_port, bytes).await? / 1e6);
        c_down.push(bytes as f64 / download(ceiling_port, bytes).await? / 1e6);
    }
    let c_ping = ping_pong(ceiling_port, config.ping_batch).await?;
    server.abort();
    ceiling.abort();

    report.section("## 2. `ptvsd-dap relay` against websockify\n");
    report.text(&format!(
        "One in-process TCP target on loopback (sink, source, echo), each relay in front of it. Bulk: {} MB each way in \
         64 KiB binary messages (upload: first byte sent → the sink's ack; download: request → last byte), {} rounds; \
         ping-pong: one 64-byte binary message echoed, {} rounds × {} on one connection per round. Relays interleaved, \
         order rotating per round. Throughput in MB/s (10⁶ bytes).\n\n",
        bytes / 1_000_000,
        config.bulk_rounds,
        config.ping_rounds,
        config.ping_batch
    ));
    let mut table = Table::new(&["relay", "upload MB/s (median)", "download MB/s (median)", "ping-pong median", "p90"]);
    for (i, relay) in relays.iter().enumerate() {
        let p = summarize(&pings[i]);
        table.row(vec![
            relay.name.to_string(),
            format!("{:.0}", summarize(&up[i]).median),
            format!("{:.0}", summarize(&down[i]).median),
            fmt_ms(p.median),
            fmt_ms(p.p90),
        ]);
    }
    let p = summarize(&c_ping);
    table.row(vec![
        "reference: no relay, an in-process WebSocket endpoint (shares the client's process and threads)".to_string(),
        format!("{:.0}", summarize(&c_up).median),
        format!("{:.0}", summarize(&c_down).median),
        fmt_ms(p.median),
        fmt_ms(p.p90),
    ]);
    report.text(&table.render());
    report.text("\n");
    let ours_up = summarize(&up[0]).median;
    let ours_down = summarize(&down[0]).median;
    let ours_ping = summarize(&pings[0]).median;
    for i in (1..n).filter(|&i| relays[i].name.starts_with("websockify")) {
        let up_ratio = ours_up / summarize(&up[i]).median;
        let down_ratio = ours_down / summarize(&down[i]).median;
        let ping_ratio = ours_ping / summarize(&pings[i]).median;
        let line = format!(
            "relay vs {}: throughput up {} down {} (target ≥ 2×: {}); ping-pong {} of its latency (target ≤ 1: {})",
            relays[i].name,
            fmt_ratio(up_ratio),
            fmt_ratio(down_ratio),
            verdict(up_ratio >= 2.0 && down_ratio >= 2.0),
            fmt_ratio(ping_ratio),
            verdict(ping_ratio <= 1.0)
        );
        report.text(&format!("- {line}\n"));
        report.headline(line);
    }
    drop(relays);
    Ok(())
}
