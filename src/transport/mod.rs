//! STUB — replaced by the transports (tcp, tls, ws, wss). The API below is the contract.
use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    #[error("stub")]
    Stub,
}

#[derive(Clone)]
pub struct Secret(String);
impl std::fmt::Debug for Secret { fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result { f.write_str("***") } }
impl Secret {
    pub fn expose(&self) -> &str {
        &self.0
    }
}

#[derive(Clone, Debug)]
pub struct Endpoint {
    secret: Secret,
}
impl Endpoint {
    pub fn parse(_url: &str) -> Result<Endpoint, TransportError> {
        Err(TransportError::Stub)
    }
    pub fn from_parts(_host: &str, _port: u16, secret: &str) -> Endpoint {
        Endpoint { secret: Secret(secret.into()) }
    }
    pub fn secret(&self) -> &Secret {
        &self.secret
    }
}
impl std::fmt::Display for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("stub")
    }
}

#[derive(Debug, Clone)]
pub struct ConnectOptions {
    pub ca_file: Option<PathBuf>,
    pub insecure_tls: bool,
    pub headers: Vec<(String, String)>,
    pub connect_timeout: Duration,
    pub ping_interval: Option<Duration>,
    pub wake_url: Option<String>,
}
impl Default for ConnectOptions {
    fn default() -> Self {
        Self { ca_file: None, insecure_tls: false, headers: vec![], connect_timeout: Duration::from_secs(10), ping_interval: Some(Duration::from_secs(30)), wake_url: None }
    }
}

pub type RemoteStream = tokio::io::DuplexStream;

pub async fn connect(_endpoint: &Endpoint, _options: &ConnectOptions) -> Result<RemoteStream, TransportError> {
    Err(TransportError::Stub)
}
