//! `ptvsd-dap probe URL`: connect, handshake, ask the debuggee who it is, and report.
//!
//! Owns: [`probe`], [`ProbeReport`] and [`ProbeError`]. Must not know: DAP. It never
//! prints the secret.

use std::time::Duration;

use serde::Serialize;
use thiserror::Error;

use crate::legacy::handshake::{self, HandshakeError, ProcessInfo};
use crate::legacy::{Dialect, Limits, ProtocolError};
use crate::transport::{self, ConnectOptions, Endpoint, TransportError, TunnelStatus};

/// What `probe` found out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ProbeReport {
    pub pid: i64,
    pub executable: String,
    pub user: String,
    pub python_version: String,
    pub protocol_version: i64,
    /// `"binary"` or `"json"`.
    pub dialect: &'static str,
    /// For Kudu's App Service tunnel: its status probe's answer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tunnel: Option<TunnelStatus>,
}

impl ProbeReport {
    fn new(dialect: Dialect, info: ProcessInfo) -> Self {
        Self {
            pid: info.pid,
            executable: info.executable,
            user: info.user,
            python_version: info.python_version,
            protocol_version: dialect.version(),
            dialect: dialect.family(),
            tunnel: None,
        }
    }

    /// Human-readable lines, as `probe` prints them without `--json`.
    pub fn to_text(&self, endpoint: &Endpoint) -> String {
        let mut text = format!(
            "ptvsd at {endpoint}\n  process id:       {}\n  executable:       {}\n  user:             {}\n  Python:           {}\n  protocol:         {} (version {})\n",
            self.pid, self.executable, self.user, self.python_version, self.dialect, self.protocol_version
        );
        if let Some(status) = &self.tunnel {
            text.push_str(&format!("  tunnel:           {status} (state {})\n", status.state));
        }
        text
    }
}

/// Why a probe failed: either the connection or the ptvsd handshake.
#[derive(Debug, Error)]
pub enum ProbeError {
    #[error(transparent)]
    Transport(#[from] TransportError),
    #[error(transparent)]
    Handshake(HandshakeError),
}

impl From<HandshakeError> for ProbeError {
    /// A handshake cut short by the transport (a relay that could not reach ptvsd) is a
    /// transport failure.
    fn from(error: HandshakeError) -> Self {
        match error {
            HandshakeError::Protocol(ProtocolError::Io(io)) => match TransportError::carried_by(io) {
                Ok(transport) => ProbeError::Transport(transport),
                Err(io) => ProbeError::Handshake(HandshakeError::Protocol(ProtocolError::Io(io))),
            },
            other => ProbeError::Handshake(other),
        }
    }
}

/// Connects to `endpoint`, completes the handshake, sends INFO and closes. For Kudu's App
/// Service tunnel the status the connect asked first is reported (an unreachable port is
/// the error that says so).
pub async fn probe(
    endpoint: &Endpoint,
    options: &ConnectOptions,
    timeout: Duration,
) -> Result<ProbeReport, ProbeError> {
    let stream = transport::connect(endpoint, options).await?;
    let tunnel = stream.tunnel_status().cloned();
    let (dialect, info) = handshake::info(stream, endpoint.secret().expose(), Limits::default(), timeout).await?;
    Ok(ProbeReport { tunnel, ..ProbeReport::new(dialect, info) })
}
