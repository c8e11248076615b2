//! One relayed session: a WebSocket on one side, a TCP connection to the target on the
//! other, bytes copied both ways until either side ends.

use std::time::Duration;

use bytes::{Bytes, BytesMut};
use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::tcp::{ReadHalf, WriteHalf};
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};
use tokio_tungstenite::WebSocketStream;

use super::socket;

/// How much we read from the target at a time at most; each read becomes one binary
/// message (websockify reads 64 KiB). ptvsd's messages are far smaller; bulk transfers
/// (large variables, output bursts) take fewer, larger messages.
const READ_CHUNK: usize = 256 * 1024;
/// How long we wait for the target's TCP connect.
pub(super) const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Our own pings keep Azure, NAT and ingress idle timers from closing a quiet session.
const PING_INTERVAL: Duration = Duration::from_secs(30);
/// How long we wait for the client's Close reply after sending ours.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(2);

/// Why a session ended.
#[derive(Debug)]
enum End {
    /// The client sent a Close frame (tungstenite has queued the reply).
    ClientClosed(Option<CloseFrame>),
    /// The client's connection ended without a Close frame, or broke.
    ClientGone(String),
    /// The client sent a text frame; like websockify we close with 1003.
    Text,
    /// The client broke the protocol or our size caps.
    ClientError(CloseCode, String),
    /// The target closed its side.
    TargetClosed,
    /// Reading from or writing to the target failed.
    TargetError(std::io::Error),
    /// The relay is shutting down.
    Shutdown,
}

/// Connects to `target`, then relays until one side ends. Never fails: every ending is
/// logged and turned into the right Close frame and a reset of the TCP leg.
pub(super) async fn run<S>(mut ws: WebSocketStream<S>, target: &str, mut stop: watch::Receiver<bool>)
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let connect = tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(target));
    let connected = tokio::select! {
        connected = connect => connected,
        () = super::stopped(&mut stop) => {
            close_ws(ws, CloseCode::Away, "The relay is shutting down.").await;
            return;
        }
    };
    let mut tcp = match connected {
        Ok(Ok(tcp)) => tcp,
        Ok(Err(error)) => {
            tracing::warn!(target_addr = target, %error, "cannot connect to the target");
            close_ws(ws, CloseCode::Error, &format!("Cannot connect to the debuggee at {target}: {error}")).await;
            return;
        }
        Err(_) => {
            tracing::warn!(target_addr = target, "timed out connecting to the target");
            close_ws(ws, CloseCode::Error, &format!("Timed out connecting to the debuggee at {target}.")).await;
            return;
        }
    };
    socket::set_nodelay(&tcp);
    tracing::info!(target_addr = target, "connected to the target");

    let end = {
        let (tcp_read, tcp_write) = tcp.split();
        let (mut sink, mut stream) = (&mut ws).split();
        tokio::select! {
            end = client_to_target(&mut stream, tcp_write) => end,
            end = target_to_client(&mut sink, tcp_read) => end,
            () = super::stopped(&mut stop) => End::Shutdown,
        }
    };

    let close: Option<(CloseCode, String)> = match &end {
        End::ClientClosed(frame) => {
            tracing::info!(?frame, "the client closed the session");
            None
        }
        End::ClientGone(why) => {
            tracing::info!(why, "the client went away");
            None
        }
        End::Text => {
            tracing::info!("the client sent a text frame");
            Some((CloseCode::Unsupported, "Unsupported: Text frames are not supported".to_string()))
        }
        End::ClientError(code, why) => {
            tracing::info!(why, "closing the session: client error");
            Some((*code, why.clone()))
        }
        End::TargetClosed => {
            tracing::info!("the target closed the connection");
            Some((CloseCode::Normal, "Target closed".to_string()))
        }
        End::TargetError(error) => {
            tracing::info!(%error, "the connection to the target failed");
            Some((CloseCode::Error, format!("The connection to the debuggee failed: {error}")))
        }
        End::Shutdown => {
            tracing::info!("closing the session: the relay is shutting down");
            Some((CloseCode::Away, "The relay is shutting down.".to_string()))
        }
    };
    let client_gone = matches!(end, End::ClientGone(_));
    let finish_ws = async move {
        match close {
            Some((code, reason)) if !client_gone => close_ws(ws, code, &reason).await,
            // tungstenite has queued its reply to the client's Close frame: flush it. (Not
            // `close()`: sending a Close after the peer's fails with SendAfterClosing and
            // sends nothing.)
            None if !client_gone => {
                let _ = tokio::time::timeout(CLOSE_TIMEOUT, SinkExt::flush(&mut ws)).await;
                shut_down(ws).await;
            }
            _ => {}
        }
    };
    // Both at once: the reset waits for ptvsd to take the bytes already written.
    tokio::join!(socket::reset(tcp, socket::DRAIN_BOUND), finish_ws);
}

async fn client_to_target<S>(
    stream: &mut futures_util::stream::SplitStream<&mut WebSocketStream<S>>,
    mut tcp: WriteHalf<'_>,
) -> End
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    loop {
        match stream.next().await {
            None => return End::ClientGone("the connection ended without a Close frame".to_string()),
            Some(Ok(Message::Binary(bytes))) => {
                if let Err(error) = tcp.write_all(&bytes).await {
                    return End::TargetError(error);
                }
            }
            Some(Ok(Message::Text(_))) => return End::Text,
            Some(Ok(Message::Close(frame))) => return End::ClientClosed(frame),
            // tungstenite answers pings by itself as long as we keep reading.
            Some(Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_))) => {}
            Some(Err(error)) => return classify(error),
        }
    }
}

fn classify(error: WsError) -> End {
    match error {
        WsError::Capacity(error) => End::ClientError(CloseCode::Size, format!("Message too big: {error}")),
        WsError::Protocol(error) => End::ClientError(CloseCode::Protocol, format!("Protocol error: {error}")),
        WsError::Utf8(_) => End::ClientError(CloseCode::Invalid, "Invalid UTF-8".to_string()),
        other => End::ClientGone(other.to_string()),
    }
}

async fn target_to_client<S>(
    sink: &mut futures_util::stream::SplitSink<&mut WebSocketStream<S>, Message>,
    mut tcp: ReadHalf<'_>,
) -> End
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    // Read straight into the buffer a message is frozen from: no copy per chunk, and the
    // allocation is reused once tungstenite has written the previous message out.
    let mut buffer = BytesMut::with_capacity(READ_CHUNK);
    let mut ping = tokio::time::interval_at(tokio::time::Instant::now() + PING_INTERVAL, PING_INTERVAL);
    ping.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        socket::arm_quickack(tcp.as_ref());
        buffer.reserve(READ_CHUNK);
        let message = tokio::select! {
            read = tcp.read_buf(&mut buffer) => match read {
                Ok(0) => return End::TargetClosed,
                Ok(_) => Message::Binary(buffer.split().freeze()),
                Err(error) => return End::TargetError(error),
            },
            _ = ping.tick() => Message::Ping(Bytes::new()),
        };
        if let Err(error) = sink.send(message).await {
            return End::ClientGone(error.to_string());
        }
    }
}

/// Sends a Close frame and waits (bounded) for the client's reply.
pub(super) async fn close_ws<S>(mut ws: WebSocketStream<S>, code: CloseCode, reason: &str)
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let frame = CloseFrame { code, reason: truncate_reason(reason).into() };
    let finish = async {
        ws.close(Some(frame)).await?;
        // Read until the client's Close (tungstenite then ends the stream).
        while let Some(message) = ws.next().await {
            message?;
        }
        Ok::<(), WsError>(())
    };
    match tokio::time::timeout(CLOSE_TIMEOUT, finish).await {
        Ok(Ok(())) => {}
        Ok(Err(WsError::ConnectionClosed | WsError::AlreadyClosed)) => {}
        Ok(Err(error)) => tracing::debug!(%error, "error while closing the WebSocket"),
        Err(_) => tracing::debug!("the client did not answer our Close frame"),
    }
    shut_down(ws).await;
}

/// Ends the transport after the closing handshake (for wss, a TLS close_notify, so the
/// client does not see a truncated stream).
async fn shut_down<S>(mut ws: WebSocketStream<S>)
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let _ = tokio::time::timeout(CLOSE_TIMEOUT, ws.get_mut().shutdown()).await;
}

/// A Close frame's reason is at most 123 bytes of UTF-8.
fn truncate_reason(reason: &str) -> String {
    const MAX: usize = 123;
    if reason.len() <= MAX {
        return reason.to_string();
    }
    let mut end = MAX;
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    reason.get(..end).unwrap_or_default().to_string()
}

#[cfg(test)]
mod tests {
    use super::truncate_reason;

    #[test]
    fn reasons_are_cut_at_a_char_boundary() {
        assert_eq!(truncate_reason("short"), "short");
        let long = "é".repeat(100);
        let cut = truncate_reason(&long);
        assert!(cut.len() <= 123 && cut.len() >= 122);
        assert!(long.starts_with(&cut));
    }
}
