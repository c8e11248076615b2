//! A blocking WebSocket client presented as a byte stream, the way PTVS used the
//! Azure proxy: every `write` is sent as one binary message, reads return the payload
//! bytes of the binary messages received, in order (message boundaries carry no
//! meaning).

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use tokio_tungstenite::tungstenite::{
    self, client::IntoClientRequest, stream::MaybeTlsStream, Connector, Message, WebSocket,
};

use super::certs::TestCerts;

pub struct WsStream {
    ws: WebSocket<MaybeTlsStream<TcpStream>>,
    pending: Vec<u8>,
    pos: usize,
    closed: bool,
}

impl WsStream {
    /// Connects to `url` (`ws://` or `wss://`; for `wss://` the server must present a
    /// certificate from `certs`' CA). The read timeout is 10 s.
    pub fn connect(url: &str, certs: Option<&TestCerts>) -> Result<WsStream, tungstenite::Error> {
        let request = url.into_client_request()?;
        let host = request.uri().host().unwrap_or("127.0.0.1").to_owned();
        let port = request.uri().port_u16().unwrap_or(80);
        let tcp = TcpStream::connect((host.as_str(), port))?;
        tcp.set_read_timeout(Some(Duration::from_secs(10)))?;
        tcp.set_nodelay(true)?;
        let connector = match certs {
            Some(c) => Connector::Rustls(c.client_config()),
            None => Connector::Plain,
        };
        let (ws, _response) =
            tungstenite::client_tls_with_config(request, tcp, None, Some(connector)).map_err(|e| match e {
                tungstenite::HandshakeError::Failure(e) => e,
                tungstenite::HandshakeError::Interrupted(_) => {
                    tungstenite::Error::Io(io::Error::new(io::ErrorKind::WouldBlock, "handshake interrupted"))
                }
            })?;
        Ok(WsStream { ws, pending: Vec::new(), pos: 0, closed: false })
    }

    /// The underlying TCP stream.
    pub fn tcp(&self) -> &TcpStream {
        match self.ws.get_ref() {
            MaybeTlsStream::Plain(s) => s,
            MaybeTlsStream::Rustls(s) => s.get_ref(),
            _ => unreachable!("only plain and rustls streams are created"),
        }
    }

    pub fn set_read_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        self.tcp().set_read_timeout(timeout)
    }

    /// Sends a text message (websockify answers it with close code 1003).
    pub fn send_text(&mut self, text: &str) -> Result<(), tungstenite::Error> {
        self.ws.send(Message::text(text))
    }

    /// The next raw message (for tests of close codes and the like).
    pub fn read_message(&mut self) -> Result<Message, tungstenite::Error> {
        self.ws.read()
    }

    /// Sends a close frame and waits (briefly) for the server's close.
    pub fn close(mut self) {
        if self.ws.close(None).is_ok() {
            let _ = self.tcp().set_read_timeout(Some(Duration::from_secs(2)));
            while self.ws.read().is_ok() {}
        }
    }
}

fn to_io(e: tungstenite::Error) -> io::Error {
    match e {
        tungstenite::Error::Io(e) => e,
        other => io::Error::other(other),
    }
}

impl Read for WsStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.pos >= self.pending.len() {
            if self.closed {
                return Ok(0);
            }
            match self.ws.read() {
                Ok(Message::Binary(data)) => {
                    self.pending = data.to_vec();
                    self.pos = 0;
                }
                Ok(Message::Text(t)) => {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        format!("unexpected text message {:?}", t.as_str()),
                    ))
                }
                Ok(Message::Close(_)) => self.closed = true,
                Ok(_) => {} // ping/pong/frame: tungstenite answers pings itself
                Err(tungstenite::Error::ConnectionClosed | tungstenite::Error::AlreadyClosed) => self.closed = true,
                Err(e) => return Err(to_io(e)),
            }
        }
        let n = buf.len().min(self.pending.len() - self.pos);
        buf[..n].copy_from_slice(&self.pending[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

impl Write for WsStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.ws.send(Message::binary(buf.to_vec())).map_err(to_io)?;
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        self.ws.flush().map_err(to_io)
    }
}
