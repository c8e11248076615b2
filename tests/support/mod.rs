//! Test support for integration tests that run against the real peers: genuine ptvsd
//! from PyPI running a real Python program, websockify as the WebSocket relay, and
//! throw-away certificates for the TLS paths.
//!
//! Use it from a test file as `mod support;`. Everything the peers need is installed by
//! `scripts/setup-test-env.sh`, which writes `peers.json` into its cache outside the clone
//! (`peers::peers_json_path` says which file is read); a missing file or
//! venv panics with a hint to run that script.
//!
//! * [`Peers`] — what `peers.json` lists (`Peers::load()`, `peer("3.11", "3.2.1")`).
//! * [`PtvsdPeer`] — a running debuggee (`python -u -m ptvsd --secret S --interface
//!   127.0.0.1 --port P [--wait] script`), killed on drop.
//! * [`Relay`] — websockify, `ptvsd-dap relay` or the Azure `/ptvsd` proxy emulator
//!   relaying ws/wss on a free port to a peer's TCP port.
//! * [`AzureEmulator`] — Azure App Service's ways in as their source behaves: the Windows
//!   `/ptvsd` proxy ([`WindowsSite`]) and Kudu's Linux tunnel ([`LinuxSite`]).
//! * [`TinyProxy`] — Debian's tinyproxy as an HTTP `CONNECT` proxy ([`ProxyOptions`]:
//!   Basic auth, allowed ports).
//! * [`WfastcgiSite`] — PyPI's wfastcgi hosting a WSGI site, driven as IIS drives it
//!   (FastCGI on its stdin).
//! * [`Editors`], [`TwoRoots`], [`Tmux`] — the real editors of `tests/editors.rs` (installed by
//!   `scripts/setup-editors.sh`) and what driving them needs.
//! * [`RemoteSite`] — a debuggee running from its own copy of `tests/programs`, behind a
//!   wss relay: the end-to-end flows' site.
//! * [`TestCerts`] — a CA and a `localhost`/`127.0.0.1` leaf written as PEM files.
//! * [`Workers`], [`RestartableApp`] — apps that enable ptvsd themselves: a pre-forking
//!   server with one ptvsd per worker, and one process killed and started again on the
//!   same port (`apps.rs`).
//! * [`WsStream`] — a blocking WebSocket client as `Read + Write` (one binary message
//!   per write), for tests that talk to a relay without the adapter.
//! * [`scripted`] — the scripted ptvsd for deterministic session tests (fakes only for
//!   races and faults).
//! * [`free_port`], [`close_abortive`], [`program`], [`line_of`], [`is_ci`],
//!   [`cpu_ticks_over`] (CPU ticks a process uses over a window).
//!
//! Hazard worth knowing: ptvsd's accept thread spins at 100 % CPU and serves nobody
//! any more when a client closes gracefully (FIN) in the middle of a handshake (both
//! families, every version). Over raw TCP close with [`close_abortive`] (RST); through
//! websockify (which always closes its TCP leg gracefully) finish the handshake first,
//! e.g. with a rejected secret or an INFO request.
#![allow(dead_code, unused_imports)]

pub mod apps;
pub mod azure;
pub mod certs;
pub mod docs;
pub mod editors;
pub mod fastcgi;
pub mod net;
pub mod peers;
pub mod process;
pub mod programs;
pub mod proxy;
pub mod relay;
pub mod scripted;
pub mod site;
pub mod ws;

pub use apps::{Hold, RestartableApp, Workers};
pub use azure::{AzureEmulator, LinuxSite, WindowsSite};
pub use certs::TestCerts;
pub use editors::{Editors, Tmux, TwoRoots};
pub use fastcgi::WfastcgiSite;
pub use net::{close_abortive, connect, free_port};
pub use peers::{Family, Launcher, PeerInfo, PeerOptions, Peers, PtvsdPeer};
pub use process::{activity, Activity};
pub use process::{cpu_ticks, cpu_ticks_over};
pub use programs::{line_of, program, programs_dir};
pub use proxy::{ProxyOptions, TinyProxy};
pub use relay::{Relay, RelayOptions, RelayStarter};
pub use site::{copy_dir, RemoteSite};
pub use ws::WsStream;

/// True when running under CI (`CI=true`): then no peer is optional and a missing one
/// is a failure, never a skip.
pub fn is_ci() -> bool {
    matches!(std::env::var("CI").as_deref(), Ok("true") | Ok("1") | Ok("TRUE") | Ok("True"))
}

/// The repository root (`CARGO_MANIFEST_DIR`).
pub fn repo_root() -> std::path::PathBuf {
    std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}
