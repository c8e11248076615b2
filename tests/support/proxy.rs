//! tinyproxy (Debian's, unpacked by `scripts/setup-test-env.sh`) as the HTTP `CONNECT`
//! proxy of a corporate network, on a free port of 127.0.0.1; stopped on drop.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use super::net::{free_port, wait_until_listening};
use super::peers::Peers;
use super::process::LoggedChild;

/// How the proxy is set up.
#[derive(Debug, Clone, Default)]
pub struct ProxyOptions {
    /// `BasicAuth USER PASSWORD`: 407 without them.
    pub basic_auth: Option<(String, String)>,
    /// `ConnectPort N` lines: CONNECT to any other port is refused with 403. Empty: any port.
    pub connect_ports: Vec<u16>,
}

pub struct TinyProxy {
    port: u16,
    child: LoggedChild,
    _dir: tempfile::TempDir,
}

impl TinyProxy {
    /// Starts tinyproxy; `None` when it is not installed (never in CI, see
    /// [`Peers::tinyproxy`]).
    pub fn start(options: ProxyOptions) -> Option<TinyProxy> {
        let exe = Peers::load().tinyproxy()?;
        let dir = tempfile::tempdir().expect("temp dir for tinyproxy");
        let mut last_failure = String::new();
        for _attempt in 0..3 {
            let port = free_port();
            let config = config(port, &options, dir.path());
            let path = dir.path().join("tinyproxy.conf");
            std::fs::write(&path, config).expect("write tinyproxy.conf");
            let mut cmd = Command::new(&exe);
            cmd.arg("-d").arg("-c").arg(&path);
            let label = format!("tinyproxy :{port}");
            let mut child = LoggedChild::spawn(&label, cmd, true);
            let waited = wait_until_listening(port, Duration::from_secs(20), false, || match child.exited() {
                Some(status) => Err(format!("exited with {status}")),
                None => Ok(()),
            });
            match waited {
                Ok(_) => return Some(TinyProxy { port, child, _dir: dir }),
                Err(e) => last_failure = format!("{label}: {e}; output:\n{}", child.output()),
            }
        }
        panic!("tinyproxy did not start: {last_failure}");
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// `http://127.0.0.1:PORT`, with `user:password@` when given.
    pub fn url(&self, credentials: Option<(&str, &str)>) -> String {
        match credentials {
            Some((user, password)) => format!("http://{user}:{password}@127.0.0.1:{}", self.port),
            None => format!("http://127.0.0.1:{}", self.port),
        }
    }

    /// tinyproxy's output and log so far.
    pub fn output(&self) -> String {
        let log = std::fs::read_to_string(self._dir.path().join("tinyproxy.log")).unwrap_or_default();
        format!("{}{log}", self.child.output())
    }
}

fn config(port: u16, options: &ProxyOptions, dir: &Path) -> String {
    let mut text = format!(
        "Port {port}\nListen 127.0.0.1\nTimeout 60\nMaxClients 50\nAllow 127.0.0.1\nLogLevel Connect\nLogFile \"{}\"\n",
        dir.join("tinyproxy.log").display()
    );
    if let Some((user, password)) = &options.basic_auth {
        text.push_str(&format!("BasicAuth {user} {password}\n"));
    }
    for port in &options.connect_ports {
        text.push_str(&format!("ConnectPort {port}\n"));
    }
    text
}
