//! Socket options for the TCP leg to ptvsd: no Nagle, quick ACKs, and an abortive close.
//!
//! ptvsd writes each reply in several small `send()`s and has Nagle on; with delayed ACK on
//! our side every request→reply round trip would take ~40 ms. And ptvsd spins at 100 % CPU
//! after a graceful FIN, but exits its loop cleanly on a reset.

use std::time::{Duration, Instant};

use socket2::SockRef;
use tokio::net::TcpStream;

/// TCP_NODELAY, so our small writes to ptvsd are not held back.
pub(super) fn set_nodelay(stream: &TcpStream) {
    if let Err(error) = stream.set_nodelay(true) {
        tracing::debug!(%error, "cannot set TCP_NODELAY");
    }
}

/// TCP_QUICKACK is not sticky: the kernel falls back to delayed ACKs, so this is called
/// before every read (Linux only; elsewhere a no-op).
pub(super) fn arm_quickack(stream: &TcpStream) {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    if let Err(error) = SockRef::from(stream).set_tcp_quickack(true) {
        tracing::trace!(%error, "cannot set TCP_QUICKACK");
    }
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    let _ = stream;
}

/// How long [`reset`] waits for the bytes already written to reach ptvsd.
pub(super) const DRAIN_BOUND: Duration = Duration::from_secs(1);

/// Closes the connection with a reset (SO_LINGER 0) instead of a FIN.
///
/// A reset discards whatever is still in the send queue, so on Linux we first wait (up to
/// `bound`) until everything we wrote has been acknowledged: a client that sends its last
/// command and closes at once still gets that command delivered.
pub(super) async fn reset(stream: TcpStream, bound: Duration) {
    wait_for_send_queue(&stream, bound).await;
    if let Err(error) = SockRef::from(&stream).set_linger(Some(Duration::ZERO)) {
        tracing::debug!(%error, "cannot set SO_LINGER 0; the close will be a FIN");
    }
    drop(stream);
}

async fn wait_for_send_queue(stream: &TcpStream, bound: Duration) {
    let start = Instant::now();
    let mut pause = Duration::from_millis(1);
    loop {
        match unacknowledged_bytes(stream) {
            Some(0) | None => return,
            Some(queued) if start.elapsed() >= bound => {
                tracing::debug!(queued, "the target did not take everything we sent before the reset");
                return;
            }
            Some(_) => {}
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(Duration::from_millis(50));
    }
}

/// Bytes in the send queue (not yet sent, or sent and not yet acknowledged); `None` where
/// we cannot tell.
#[cfg(any(target_os = "linux", target_os = "android"))]
#[allow(unsafe_code)]
fn unacknowledged_bytes(stream: &TcpStream) -> Option<usize> {
    use std::os::fd::AsRawFd;
    let mut queued: libc::c_int = 0;
    // SAFETY: the descriptor belongs to `stream`, which is borrowed for the whole call, so
    // it is open. TIOCOUTQ (= SIOCOUTQ for sockets) writes one `c_int` through the pointer,
    // which points to a live, aligned `c_int` on our stack.
    let result = unsafe { libc::ioctl(stream.as_raw_fd(), libc::TIOCOUTQ, &mut queued as *mut libc::c_int) };
    if result < 0 {
        return None;
    }
    usize::try_from(queued).ok()
}

#[cfg(not(any(target_os = "linux", target_os = "android")))]
fn unacknowledged_bytes(_stream: &TcpStream) -> Option<usize> {
    None
}
