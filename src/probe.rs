//! `ptvsd-dap probe URL`: connect, handshake, ask the debuggee who it is, and report.
//!
//! Owns: [`probe`], [`ProbeReport`] and [`ProbeError`]. Must not know: DAP. It never
//! prints the secret.

use std::time::Duration;

use serde::Serialize;
use thiserror::Error;

use crate::legacy::handshake::{self, HandshakeError, ProcessInfo};
use crate::legacy::{Dialect, Limits};
use crate::transport::{self, ConnectOptions, Endpoint, TransportError};

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
        }
    }

    /// Human-readable lines, as `probe` prints them without `--json`.
    pub fn to_text(&self, endpoint: &Endpoint) -> String {
        format!(
            "ptvsd at {endpoint}\n  process id:       {}\n  executable:       {}\n  user:             {}\n  Python:           {}\n  protocol:         {} (version {})\n",
            self.pid, self.executable, self.user, self.python_version, self.dialect, self.protocol_version
        )
    }
}

/// Why a probe failed: either the connection or the ptvsd handshake.
#[derive(Debug, Error)]
pub enum ProbeError {
    #[error(transparent)]
    Transport(#[from] TransportError),
    #[error(transparent)]
    Handshake(#[from] HandshakeError),
}

/// Connects to `endpoint`, completes the handshake, sends INFO and closes.
pub async fn probe(endpoint: &Endpoint, options: &ConnectOptions, timeout: Duration) -> Result<ProbeReport, ProbeError> {
    let stream = transport::connect(endpoint, options).await?;
    let (dialect, info) = handshake::info(stream, endpoint.secret().expose(), Limits::default(), timeout).await?;
    Ok(ProbeReport::new(dialect, info))
}
