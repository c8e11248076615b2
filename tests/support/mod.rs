//! Test support for integration tests that run against the real peers: genuine ptvsd
//! from PyPI running a real Python program, websockify as the WebSocket relay, and
//! throw-away certificates for the TLS paths.
//!
//! Use it from a test file as `mod support;`. Everything the peers need is installed by
//! `scripts/setup-test-env.sh`, which writes `.test-env/peers.json`; a missing file or
//! venv panics with a hint to run that script.
//!
//! * [`Peers`] — what `peers.json` lists (`Peers::load()`, `peer("3.11", "3.2.1")`).
//! * [`PtvsdPeer`] — a running debuggee (`python -u -m ptvsd --secret S --interface
//!   127.0.0.1 --port P [--wait] script`), killed on drop.
//! * [`Relay`] — websockify relaying ws/wss on a free port to a peer's TCP port.
//! * [`TestCerts`] — a CA and a `localhost`/`127.0.0.1` leaf written as PEM files.
//! * [`Workers`], [`RestartableApp`] — apps that enable ptvsd themselves: a pre-forking
//!   server with one ptvsd per worker, and one process killed and started again on the
//!   same port (`apps.rs`).
//! * [`WsStream`] — a blocking WebSocket client as `Read + Write` (one binary message
//!   per write), for tests that talk to a relay without the adapter.
//! * [`scripted`] — the scripted ptvsd for deterministic session tests (fakes only for
//!   races and faults).
//! * [`free_port`], [`close_abortive`], [`program`], [`line_of`], [`is_ci`].
//!
//! Hazard worth knowing: ptvsd's accept thread spins at 100 % CPU and serves nobody
//! any more when a client closes gracefully (FIN) in the middle of a handshake (both
//! families, every version). Over raw TCP close with [`close_abortive`] (RST); through
//! websockify (which always closes its TCP leg gracefully) finish the handshake first,
//! e.g. with a rejected secret or an INFO request.
#![allow(dead_code, unused_imports)]

pub mod apps;
pub mod certs;
pub mod net;
pub mod peers;
pub mod process;
pub mod programs;
pub mod relay;
pub mod scripted;
pub mod ws;

pub use apps::{Hold, RestartableApp, Workers};
pub use certs::TestCerts;
pub use net::{close_abortive, connect, free_port};
pub use peers::{Family, Launcher, PeerInfo, PeerOptions, Peers, PtvsdPeer};
pub use programs::{line_of, program, programs_dir};
pub use relay::{Relay, RelayOptions};
pub use ws::WsStream;

/// True when running under CI (`CI=true`): then no peer is optional and a missing one
/// is a failure, never a skip.
pub fn is_ci() -> bool {
    matches!(
        std::env::var("CI").as_deref(),
        Ok("true") | Ok("1") | Ok("TRUE") | Ok("True")
    )
}

/// The repository root (`CARGO_MANIFEST_DIR`).
pub fn repo_root() -> std::path::PathBuf {
    std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}
