//! A wfastcgi site driven the way IIS drives it: `tests/programs/wfastcgi_host.py` runs
//! PyPI's wfastcgi with its stdin as one end of a socket pair, and [`WfastcgiSite`] is the
//! other end, a minimal FastCGI client (one request at a time, `FCGI_KEEP_CONN`, RESPONDER
//! role) that sends a GET and collects `FCGI_STDOUT` until `FCGI_END_REQUEST`.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use super::peers::PeerInfo;
use super::process::LoggedChild;

const VERSION: u8 = 1;
const BEGIN_REQUEST: u8 = 1;
const END_REQUEST: u8 = 3;
const PARAMS: u8 = 4;
const STDIN: u8 = 5;
const STDOUT: u8 = 6;
const STDERR: u8 = 7;

/// A site under wfastcgi; the process is killed on drop.
pub struct WfastcgiSite {
    stream: UnixStream,
    child: LoggedChild,
    site: PathBuf,
    next_id: u16,
}

impl WfastcgiSite {
    /// Starts wfastcgi (from `wfastcgi_dir`) under `peer`'s Python for the site in `site`
    /// (a folder with `web.config` and the WSGI app).
    pub fn start(peer: &PeerInfo, wfastcgi_dir: &Path, site: &Path) -> WfastcgiSite {
        let (ours, theirs) = UnixStream::pair().expect("socket pair");
        ours.set_read_timeout(Some(Duration::from_secs(60))).expect("read timeout");
        let mut cmd = Command::new(&peer.python_path);
        cmd.arg("-u")
            .arg(super::programs::program("wfastcgi_host.py"))
            .current_dir(site)
            .env_remove("PYTHONHOME")
            .env("PYTHONPATH", wfastcgi_dir)
            .env("PYTHONDONTWRITEBYTECODE", "1");
        let label = format!("{} wfastcgi", peer.name);
        let child = LoggedChild::spawn_with_stdin(&label, cmd, Stdio::from(std::os::fd::OwnedFd::from(theirs)));
        WfastcgiSite { stream: ours, child, site: site.to_owned(), next_id: 1 }
    }

    pub fn pid(&self) -> u32 {
        self.child.pid()
    }

    /// What the process printed outside FastCGI (its real stderr).
    pub fn output(&self) -> String {
        self.child.output()
    }

    /// `GET /?n=N`: the body of the answer.
    pub fn get(&mut self, n: u32) -> Result<String, String> {
        let id = self.next_id;
        self.next_id += 1;
        let mut params = Vec::new();
        let physical = self.site.to_string_lossy().to_string();
        let query = format!("n={n}");
        for (name, value) in [
            ("APPL_PHYSICAL_PATH", physical.as_str()),
            ("REQUEST_METHOD", "GET"),
            ("PATH_INFO", "/"),
            ("QUERY_STRING", query.as_str()),
            ("SERVER_NAME", "localhost"),
            ("SERVER_PORT", "80"),
            ("SERVER_PROTOCOL", "HTTP/1.1"),
            ("REMOTE_ADDR", "127.0.0.1"),
        ] {
            pair(&mut params, name.as_bytes(), value.as_bytes());
        }
        let mut out = Vec::new();
        record(&mut out, BEGIN_REQUEST, id, &[0, 1, 1, 0, 0, 0, 0, 0]);
        record(&mut out, PARAMS, id, &params);
        record(&mut out, PARAMS, id, &[]);
        record(&mut out, STDIN, id, &[]);
        self.stream.write_all(&out).map_err(|e| format!("write: {e}"))?;
        let mut stdout = Vec::new();
        loop {
            let mut header = [0u8; 8];
            self.stream
                .read_exact(&mut header)
                .map_err(|e| format!("no answer: {e}; wfastcgi's output:\n{}", self.output()))?;
            let kind = header[1];
            let length = usize::from(u16::from_be_bytes([header[4], header[5]]));
            let padding = usize::from(header[6]);
            let mut content = vec![0u8; length + padding];
            self.stream.read_exact(&mut content).map_err(|e| format!("short record: {e}"))?;
            content.truncate(length);
            match kind {
                STDOUT => stdout.extend_from_slice(&content),
                STDERR => {}
                END_REQUEST => break,
                _ => {}
            }
        }
        let text = String::from_utf8_lossy(&stdout).to_string();
        text.split_once("\r\n\r\n")
            .map(|(_, body)| body.trim().to_string())
            .ok_or_else(|| format!("no HTTP answer in {text:?}"))
    }
}

fn record(out: &mut Vec<u8>, kind: u8, id: u16, content: &[u8]) {
    let length = u16::try_from(content.len()).expect("one record");
    out.extend_from_slice(&[VERSION, kind]);
    out.extend_from_slice(&id.to_be_bytes());
    out.extend_from_slice(&length.to_be_bytes());
    out.extend_from_slice(&[0, 0]);
    out.extend_from_slice(content);
}

fn pair(out: &mut Vec<u8>, name: &[u8], value: &[u8]) {
    for length in [name.len(), value.len()] {
        if length < 0x80 {
            out.push(length as u8);
        } else {
            out.extend_from_slice(&(length as u32 | 0x8000_0000).to_be_bytes());
        }
    }
    out.extend_from_slice(name);
    out.extend_from_slice(value);
}
