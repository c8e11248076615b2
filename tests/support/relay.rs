//! The WebSocket relays the tests put in front of ptvsd: websockify, `ptvsd-dap relay`,
//! and the emulator of Azure App Service's `/ptvsd` proxy ([`Relay::azure_windows`]).
//! All three take a `(target_port, tls)` pair, so a test can run through each.

use std::process::Command;
use std::time::Duration;

use super::azure::{AzureEmulator, WindowsSite};
use super::certs::TestCerts;
use super::net::{free_port, wait_until_listening};
use super::peers::Peers;
use super::process::LoggedChild;

/// Options for [`Relay::websockify_with`].
#[derive(Debug, Clone, Default)]
pub struct RelayOptions<'a> {
    /// Serve TLS with this leaf (`--cert`/`--key`). Without `ssl_only` the same port
    /// still serves plain ws:// too (websockify detects TLS per connection).
    pub tls: Option<&'a TestCerts>,
    /// `--ssl-only`: refuse plain connections.
    pub ssl_only: bool,
    /// `--auth-plugin BasicHTTPAuth --auth-source USER:PASS`: require
    /// `Authorization: Basic base64(USER:PASS)` (401/403 otherwise).
    pub basic_auth: Option<String>,
}

/// Starts a relay to `127.0.0.1:target_port`, serving wss with the certificates given.
pub type RelayStarter = fn(u16, Option<&TestCerts>) -> Relay;

/// A running websockify on 127.0.0.1 relaying to `127.0.0.1:target_port`; stopped on
/// drop (SIGTERM, which also ends its per-connection children, then SIGKILL).
pub struct Relay {
    port: u16,
    target_port: u16,
    tls: bool,
    runs: Runs,
}

/// What does the relaying.
enum Runs {
    Process(LoggedChild),
    Emulator(AzureEmulator),
}

impl Relay {
    /// The relays a test that runs "over wss" runs through: websockify, and the emulator of
    /// Azure's `/ptvsd` proxy (which upgrades before dialling, drops without a Close frame,
    /// closes its ptvsd leg gracefully).
    pub const WSS_RELAYS: [RelayStarter; 2] = [Relay::websockify, Relay::azure_windows];

    /// `ptvsd-dap relay` (this crate's own, a drop-in for websockify) on a free port
    /// relaying to `127.0.0.1:target_port`, serving wss with `tls`; returns once it listens.
    pub fn builtin(target_port: u16, tls: Option<&TestCerts>) -> Relay {
        let mut last_failure = String::new();
        for _attempt in 0..3 {
            let port = free_port();
            let mut cmd = Command::new(env!("CARGO_BIN_EXE_ptvsd-dap"));
            cmd.arg("relay")
                .arg("--listen")
                .arg(format!("127.0.0.1:{port}"))
                .arg("--target")
                .arg(format!("127.0.0.1:{target_port}"));
            if let Some(certs) = tls {
                cmd.arg("--tls-cert").arg(&certs.leaf_pem).arg("--tls-key").arg(&certs.leaf_key);
            }
            let label = format!("ptvsd-dap relay :{port} -> :{target_port}");
            let mut child = LoggedChild::spawn(&label, cmd, true);
            let waited = wait_until_listening(port, Duration::from_secs(30), false, || match child.exited() {
                Some(status) => Err(format!("exited with {status}")),
                None => Ok(()),
            });
            match waited {
                Ok(_) => return Relay { port, target_port, tls: tls.is_some(), runs: Runs::Process(child) },
                Err(e) => last_failure = format!("{e}\n{}", child.output()),
            }
        }
        panic!("ptvsd-dap relay did not start: {last_failure}");
    }

    /// websockify on a free port relaying to `127.0.0.1:target_port`, with TLS when
    /// `tls` is given; returns once it listens.
    pub fn websockify(target_port: u16, tls: Option<&TestCerts>) -> Relay {
        Self::websockify_with(target_port, RelayOptions { tls, ..RelayOptions::default() })
    }

    pub fn websockify_with(target_port: u16, options: RelayOptions<'_>) -> Relay {
        let exe = Peers::load().websockify().to_owned();
        let mut last_failure = String::new();
        for _attempt in 0..3 {
            let port = free_port();
            let mut cmd = Command::new(&exe);
            cmd.arg("-v");
            if let Some(certs) = options.tls {
                cmd.arg("--cert").arg(&certs.leaf_pem).arg("--key").arg(&certs.leaf_key);
                if options.ssl_only {
                    cmd.arg("--ssl-only");
                }
            }
            if let Some(creds) = &options.basic_auth {
                cmd.args(["--auth-plugin", "BasicHTTPAuth", "--auth-source", creds]);
            }
            cmd.arg(format!("127.0.0.1:{port}"))
                .arg(format!("127.0.0.1:{target_port}"))
                // numpy is deliberately not installed; silence websockify's warning.
                .env("PYTHONWARNINGS", "ignore");
            let label = format!("websockify :{port} -> :{target_port}");
            let mut child = LoggedChild::spawn(&label, cmd, true);
            let waited = wait_until_listening(port, Duration::from_secs(30), false, || match child.exited() {
                Some(status) => Err(format!("exited with {status}")),
                None => Ok(()),
            });
            match waited {
                Ok(_) => {
                    return Relay { port, target_port, tls: options.tls.is_some(), runs: Runs::Process(child) };
                }
                Err(e) => {
                    let out = child.output();
                    last_failure = format!("{label}: {e}; output:\n{out}");
                    if !out.contains("Address already in use") {
                        break;
                    }
                }
            }
        }
        panic!("websockify did not start: {last_failure}");
    }

    /// The emulator of Azure App Service's `/ptvsd` proxy (Windows), relaying to
    /// `127.0.0.1:target_port`; see [`super::azure`].
    pub fn azure_windows(target_port: u16, tls: Option<&TestCerts>) -> Relay {
        let emulator = AzureEmulator::windows(WindowsSite::new(target_port), tls);
        Relay { port: emulator.port(), target_port, tls: tls.is_some(), runs: Runs::Emulator(emulator) }
    }

    /// The Azure emulator, when this relay is one.
    pub fn emulator(&self) -> Option<&AzureEmulator> {
        match &self.runs {
            Runs::Emulator(emulator) => Some(emulator),
            Runs::Process(_) => None,
        }
    }

    pub fn port(&self) -> u16 {
        self.port
    }
    pub fn target_port(&self) -> u16 {
        self.target_port
    }
    /// The relay's process id; panics for the in-process emulator.
    pub fn pid(&self) -> u32 {
        match &self.runs {
            Runs::Process(child) => child.pid(),
            Runs::Emulator(_) => panic!("the Azure emulator runs in the test process"),
        }
    }
    /// `ws://127.0.0.1:PORT/<path>` (`path` without a leading slash).
    pub fn ws_url(&self, path: &str) -> String {
        format!("ws://127.0.0.1:{}/{}", self.port, path.trim_start_matches('/'))
    }
    /// `wss://localhost:PORT/<path>`; panics when the relay has no TLS.
    pub fn wss_url(&self, path: &str) -> String {
        assert!(self.tls, "this relay was started without TLS");
        format!("wss://localhost:{}/{}", self.port, path.trim_start_matches('/'))
    }
    /// The relay's log so far (websockify's `-v`, or the emulator's events).
    pub fn output(&self) -> String {
        match &self.runs {
            Runs::Process(child) => child.output(),
            Runs::Emulator(emulator) => emulator.log(),
        }
    }
}
