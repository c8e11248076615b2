//! The Linux App Service tunnel: Kudu's `wss://SITE.scm.azurewebsites.net/AppServiceTunnel/Tunnel.ashx`,
//! which relays a WebSocket to a port inside the site's container.
//!
//! Owns: recognising a tunnel URL ([`is_tunnel`]), the publishing credentials
//! ([`TunnelOptions`]: attach keys, else `PTVSD_DAP_TUNNEL_USER`/`PTVSD_DAP_TUNNEL_PASSWORD`;
//! sent only as HTTP Basic auth, never logged), the headers of every request
//! (`Authorization`, `AppsvcTunnelPort`), and the status probe `?GetStatus&GetStatusAPIVer=2`
//! ([`TunnelStatus`], in words). The URL's user-info stays the ptvsd secret.
//!
//! Kudu's status probe opens a TCP connection to the port and closes it at once, without
//! reading: ptvsd answers that with its greeting, gets a reset, and goes on serving (measured
//! on ptvsd 3.0.0 and 3.2.1: no spin, the next client is greeted), so asking first is safe.
//! Must not know: the legacy protocol, DAP.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::endpoint::{Endpoint, Secret, DEFAULT_PTVSD_PORT};
use super::error::TransportError;
use super::http;

/// The path of Kudu's tunnel handler (compared case-insensitively).
pub const TUNNEL_PATH: &str = "/AppServiceTunnel/Tunnel.ashx";
/// Environment variables read when the attach configuration has no credentials.
pub const USER_VARIABLE: &str = "PTVSD_DAP_TUNNEL_USER";
pub const PASSWORD_VARIABLE: &str = "PTVSD_DAP_TUNNEL_PASSWORD";

/// How to use the App Service tunnel. `Debug` hides the password.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct TunnelOptions {
    /// The publishing user name (`tunnelUser`), e.g. `$my-site`.
    pub user: Option<String>,
    /// The publishing password (`tunnelPassword`).
    pub password: Option<Secret>,
    /// The container port ptvsd listens on (`tunnelPort`); 5678 when `None`.
    pub port: Option<u16>,
}

impl fmt::Debug for TunnelOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TunnelOptions")
            .field("user", &self.user.as_ref().map(|_| "***"))
            .field("password", &self.password.as_ref().map(|_| "***"))
            .field("port", &self.port)
            .finish()
    }
}

impl TunnelOptions {
    /// The container port: `tunnelPort`, else 5678.
    pub fn port(&self) -> u16 {
        self.port.unwrap_or(DEFAULT_PTVSD_PORT)
    }

    /// User and password from the options, else from the environment.
    fn credentials(&self, env: &dyn Fn(&str) -> Option<String>) -> Result<(String, Secret), TransportError> {
        let user = self.user.clone().filter(|u| !u.is_empty()).or_else(|| env(USER_VARIABLE).filter(|u| !u.is_empty()));
        let password = self
            .password
            .clone()
            .filter(|p| !p.is_empty())
            .or_else(|| env(PASSWORD_VARIABLE).filter(|p| !p.is_empty()).map(Secret::new));
        match (user, password) {
            (Some(user), Some(password)) => Ok((user, password)),
            (user, password) => Err(TransportError::TunnelCredentialsMissing {
                missing_user: user.is_none(),
                missing_password: password.is_none(),
            }),
        }
    }
}

/// Whether the endpoint is Kudu's tunnel handler (by its path, so that a test emulator on
/// localhost counts too).
pub fn is_tunnel(endpoint: &Endpoint) -> bool {
    endpoint.scheme().is_websocket() && {
        let path = endpoint.path().split(['?', '#']).next().unwrap_or("");
        path.to_ascii_lowercase().ends_with(&TUNNEL_PATH.to_ascii_lowercase())
    }
}

/// The headers every tunnel request carries: Basic auth and the container port.
pub(crate) fn headers(options: &TunnelOptions) -> Result<Vec<(String, String)>, TransportError> {
    let env = |name: &str| std::env::var(name).ok();
    let (user, password) = options.credentials(&env)?;
    Ok(vec![
        ("Authorization".to_string(), http::basic_credentials(&user, password.expose())),
        ("AppsvcTunnelPort".to_string(), options.port().to_string()),
    ])
}

/// The tunnel's answer to `?GetStatus&GetStatusAPIVer=2`.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TunnelStatus {
    /// The container port it tried.
    pub port: u16,
    /// `STARTED`, `STARTING` or `STOPPED`.
    pub state: String,
    /// Whether something accepted a connection on that port.
    pub can_reach_port: bool,
    /// The tunnel's own words (`"Unable to connect to WebApp"`), often empty.
    #[serde(default)]
    pub msg: String,
}

impl TunnelStatus {
    /// The status as a sentence: the site's state and whether the port answers.
    pub fn describe(&self) -> String {
        let state = match self.state.as_str() {
            "STARTED" => "the site's container is started".to_string(),
            "STARTING" => "the site's container is still starting".to_string(),
            "STOPPED" => {
                "the site's container is stopped or not started yet (send the site a request to start it)".to_string()
            }
            other => format!("the site's container state is {other:?}"),
        };
        let said =
            if self.msg.trim().is_empty() { String::new() } else { format!(" (the tunnel says: {})", self.msg.trim()) };
        if self.can_reach_port {
            format!("{state}, and something listens on port {} in it", self.port)
        } else {
            format!("{state}, but nothing listens on port {} in it{said}", self.port)
        }
    }
}

impl fmt::Display for TunnelStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.describe())
    }
}

/// The request target of the status probe for this endpoint's path.
pub(crate) fn status_target(endpoint: &Endpoint) -> String {
    let path = endpoint.path().split(['?', '#']).next().unwrap_or("/");
    format!("{path}?GetStatus&GetStatusAPIVer=2")
}

/// Reads the status probe's answer: JSON with `port`, `state`, `canReachPort`, `msg`.
pub(crate) fn parse_status(body: &[u8]) -> Option<TunnelStatus> {
    serde_json::from_slice(body).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_the_tunnel_path() -> Result<(), TransportError> {
        assert!(is_tunnel(&Endpoint::parse("wss://s@site.scm.azurewebsites.net/AppServiceTunnel/Tunnel.ashx")?));
        assert!(is_tunnel(&Endpoint::parse("ws://s@127.0.0.1:9/appservicetunnel/tunnel.ashx?x=1")?));
        assert!(!is_tunnel(&Endpoint::parse("wss://s@site.azurewebsites.net/ptvsd")?));
        assert!(!is_tunnel(&Endpoint::parse("tcp://s@h:1")?));
        Ok(())
    }

    #[test]
    fn credentials_come_from_the_options_then_the_environment() {
        let env = |name: &str| match name {
            USER_VARIABLE => Some("$env-user".to_string()),
            PASSWORD_VARIABLE => Some("env-pass".to_string()),
            _ => None,
        };
        let none = |_: &str| None;
        let given = TunnelOptions { user: Some("$site".into()), password: Some(Secret::new("pw")), port: None };
        assert_eq!(
            given.credentials(&env).ok().map(|(u, p)| (u, p.expose().to_string())),
            Some(("$site".into(), "pw".into()))
        );
        let empty = TunnelOptions::default();
        assert_eq!(
            empty.credentials(&env).ok().map(|(u, p)| (u, p.expose().to_string())),
            Some(("$env-user".into(), "env-pass".into()))
        );
        let message = empty.credentials(&none).err().map(|e| e.to_string()).unwrap_or_default();
        assert!(message.contains("tunnelUser") && message.contains(PASSWORD_VARIABLE), "{message}");
        let shown = format!("{given:?}");
        assert!(!shown.contains("site") && !shown.contains("pw"), "{shown}");
    }

    #[test]
    fn status_in_words() {
        let status = parse_status(
            br#"{"port":5678,"state":"STARTED","canReachPort":false,"msg":"Unable to connect to WebApp"}"#,
        );
        let text = status.map(|s| s.describe()).unwrap_or_default();
        assert!(
            text.contains("started")
                && text.contains("nothing listens on port 5678")
                && text.contains("Unable to connect to WebApp"),
            "{text}"
        );
        let ok = parse_status(br#"{"port":8000,"state":"STARTING","canReachPort":true,"msg":""}"#)
            .map(|s| s.describe())
            .unwrap_or_default();
        assert!(ok.contains("still starting") && ok.contains("something listens on port 8000"), "{ok}");
        assert_eq!(parse_status(b"SUCCESS:5678"), None);
    }
}
