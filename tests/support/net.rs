//! Loopback helpers.

use std::io;
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::time::{Duration, Instant};

/// A TCP port on 127.0.0.1 that was free a moment ago, for a child process to listen on.
/// Another process may still take it before the child does: starters retry.
///
/// Picked at random below the ephemeral range (Linux: 32768–60999; macOS: from 49152), not
/// with a bind to port 0: that hands out an ephemeral port, which the kernel also gives
/// every outgoing connection as its local port, so a connection of another test could
/// take it first and hold it as long as it lives (seen as a `workers.py` worker failing
/// to bind its ptvsd port for 30 s).
pub fn free_port() -> u16 {
    use std::hash::{BuildHasher, Hasher};
    const LOW: u16 = 20_000;
    const SPAN: u16 = 12_000;
    let random = std::collections::hash_map::RandomState::new();
    for attempt in 0u64..200 {
        let mut hasher = random.build_hasher();
        hasher.write_u64(attempt);
        hasher.write_u32(std::process::id());
        let port = LOW + (hasher.finish() % u64::from(SPAN)) as u16;
        if TcpListener::bind((Ipv4Addr::LOCALHOST, port)).is_ok() {
            return port;
        }
    }
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind 127.0.0.1:0");
    listener.local_addr().expect("local_addr").port()
}

/// `127.0.0.1:port`.
pub fn loopback(port: u16) -> SocketAddr {
    SocketAddr::from((Ipv4Addr::LOCALHOST, port))
}

/// Connects to `127.0.0.1:port` with a 5 s connect timeout and a 10 s read timeout.
pub fn connect(port: u16) -> TcpStream {
    let stream = TcpStream::connect_timeout(&loopback(port), Duration::from_secs(5))
        .unwrap_or_else(|e| panic!("connect to 127.0.0.1:{port}: {e}"));
    stream.set_read_timeout(Some(Duration::from_secs(10))).expect("set_read_timeout");
    stream.set_nodelay(true).expect("set_nodelay");
    stream
}

/// Closes with SO_LINGER 0, so the peer sees a reset (RST) rather than an orderly
/// close (FIN). ptvsd's handshake and command loops spin forever on FIN but exit
/// cleanly on RST (see the protocol notes, §4.8 and §6.4).
pub fn close_abortive(stream: TcpStream) {
    let sock = socket2::SockRef::from(&stream);
    // Best effort: if it fails the drop below still closes (gracefully).
    let _ = sock.set_linger(Some(Duration::ZERO));
    drop(stream);
}

/// Polls until `127.0.0.1:port` accepts a TCP connection, closing each probe connection
/// at once: with a reset when `abortive` (for ptvsd, whose single accept thread is
/// blocked by a connect that stays open and wedged by one closed gracefully), else
/// gracefully (websockify logs a reset as a handler exception). Between attempts
/// `alive` is asked whether the process that should listen is still there; its `Err`
/// aborts the wait.
pub fn wait_until_listening(
    port: u16,
    timeout: Duration,
    abortive: bool,
    mut alive: impl FnMut() -> Result<(), String>,
) -> Result<Duration, String> {
    let start = Instant::now();
    loop {
        alive()?;
        match TcpStream::connect_timeout(&loopback(port), Duration::from_millis(500)) {
            Ok(stream) if abortive => {
                close_abortive(stream);
                return Ok(start.elapsed());
            }
            Ok(stream) => {
                drop(stream);
                return Ok(start.elapsed());
            }
            Err(e) if start.elapsed() >= timeout => {
                return Err(format!(
                    "nothing listens on 127.0.0.1:{port} after {:?} (last error: {e})",
                    start.elapsed()
                ));
            }
            Err(_) => std::thread::sleep(Duration::from_millis(25)),
        }
    }
}

/// Reads exactly `n` bytes.
pub fn read_exact_vec(r: &mut impl io::Read, n: usize) -> io::Result<Vec<u8>> {
    let mut buf = vec![0u8; n];
    r.read_exact(&mut buf)?;
    Ok(buf)
}
