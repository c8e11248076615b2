//! Apps that enable ptvsd themselves, for the sessions that outlive a process:
//!
//! * [`Workers`] — `tests/programs/workers.py`: a parent that forks one worker per ptvsd
//!   port and serves HTTP from one shared socket (as gunicorn does); a killed worker is
//!   started again on its port. [`Workers::get`] sends a request, [`Workers::hold`] keeps
//!   one worker busy so that the next request lands on another.
//! * [`RestartableApp`] — `tests/programs/restartable.py`: one process on a fixed ptvsd
//!   port that a test kills and starts again on the same port (an App Service recycle).
//!
//! Both wait for the program's own `ready` line (printed after `enable_attach` returned,
//! so the port is listening) and then for the port to accept, closing the probe with a
//! reset (ptvsd spins on a graceful close, see the module doc of `support`).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use super::net::{free_port, wait_until_listening};
use super::peers::{random_secret, PeerInfo};
use super::process::LoggedChild;
use super::programs::program;

const STARTUP: Duration = Duration::from_secs(30);

fn python_command(peer: &PeerInfo, script: &Path) -> Command {
    let mut cmd = Command::new(&peer.python_path);
    cmd.arg("-u")
        .arg(script)
        .current_dir(script.parent().expect("script has a parent directory"))
        .env_remove("PYTHONPATH")
        .env_remove("PYTHONHOME")
        .env("PYTHONUNBUFFERED", "1")
        .env("PYTHONDONTWRITEBYTECODE", "1");
    cmd
}

/// The pid from the last line of `output` that starts with `prefix` and reads
/// `… pid <pid> …`.
fn last_pid(output: &str, prefix: &str) -> Option<u32> {
    output.lines().rev().filter(|l| l.starts_with(prefix)).find_map(|l| {
        let mut words = l.split_whitespace();
        words.by_ref().find(|w| *w == "pid")?;
        words.next()?.parse().ok()
    })
}

/// A pre-forking server with one ptvsd per worker; killed (all processes) on drop.
pub struct Workers {
    peer: PeerInfo,
    child: LoggedChild,
    secret: String,
    http_port: u16,
    ptvsd_ports: Vec<u16>,
}

impl Workers {
    /// Starts `count` workers under `peer`'s Python and ptvsd and waits until every
    /// worker's ptvsd listens. The ports come from `free_port()`, which another process
    /// may take first (a connection's local port, say): on "in use" the whole app starts
    /// again on new ports.
    pub fn start(peer: &PeerInfo, count: usize) -> Workers {
        let mut last_failure = String::new();
        for _attempt in 0..3 {
            let secret = random_secret();
            let http_port = free_port();
            let ptvsd_ports: Vec<u16> = (0..count).map(|_| free_port()).collect();
            let mut cmd = python_command(peer, &program("workers.py"));
            cmd.arg(&secret).arg(http_port.to_string()).args(ptvsd_ports.iter().map(u16::to_string));
            let child = LoggedChild::spawn(&format!("{} workers.py", peer.name), cmd, true);
            let mut workers = Workers { peer: peer.clone(), child, secret, http_port, ptvsd_ports };
            match (0..count).try_for_each(|index| workers.try_wait_ready(index, None).map(drop)) {
                Ok(()) => return workers,
                Err(failure) if failure.contains("in use") => last_failure = failure,
                Err(failure) => panic!("{failure}"),
            }
        }
        panic!("workers.py did not start: {last_failure}");
    }

    /// Waits until worker `index` printed its ready line with a pid other than
    /// `not_pid`, and its port accepts; returns its pid.
    fn wait_ready(&mut self, index: usize, not_pid: Option<u32>) -> u32 {
        self.try_wait_ready(index, not_pid).unwrap_or_else(|failure| panic!("{failure}"))
    }

    /// [`Self::wait_ready`], or why not (with the app's output).
    fn try_wait_ready(&mut self, index: usize, not_pid: Option<u32>) -> Result<u32, String> {
        let prefix = format!("worker {index} pid ");
        let port = self.ptvsd_ports[index];
        let in_use = [format!("worker {index} port {port} in use"), format!("parent http {} in use", self.http_port)];
        let started = std::time::Instant::now();
        let pid = loop {
            let out = self.child.output();
            let ready =
                out.lines().rev().find(|l| l.starts_with(&prefix) && l.ends_with(&format!("ptvsd {port} ready")));
            if let Some(pid) = ready.and_then(|l| last_pid(l, &prefix)) {
                if Some(pid) != not_pid {
                    break pid;
                }
            }
            if in_use.iter().any(|line| out.contains(line.as_str())) {
                return Err(format!("worker {index}: a port is in use:\n{out}"));
            }
            if let Some(status) = self.child.exited() {
                return Err(format!("workers.py exited ({status}) before worker {index} was ready:\n{out}"));
            }
            if started.elapsed() >= STARTUP {
                return Err(format!("worker {index} did not become ready:\n{out}"));
            }
            std::thread::sleep(Duration::from_millis(25));
        };
        let child = &mut self.child;
        wait_until_listening(port, STARTUP, true, || match child.exited() {
            Some(status) => Err(format!("workers.py exited with {status}")),
            None => Ok(()),
        })
        .map_err(|e| format!("worker {index}: {e}\n{}", self.child.output()))?;
        Ok(pid)
    }

    pub fn peer(&self) -> &PeerInfo {
        &self.peer
    }
    pub fn secret(&self) -> &str {
        &self.secret
    }
    pub fn http_port(&self) -> u16 {
        self.http_port
    }
    pub fn ptvsd_ports(&self) -> &[u16] {
        &self.ptvsd_ports
    }
    /// `tcp://SECRET@127.0.0.1:PORT` of worker `index`'s ptvsd.
    pub fn url(&self, index: usize) -> String {
        format!("tcp://{}@127.0.0.1:{}", self.secret, self.ptvsd_ports[index])
    }
    /// The parent's pid.
    pub fn parent_pid(&self) -> u32 {
        self.child.pid()
    }
    /// The current pid of worker `index`.
    pub fn worker_pid(&self, index: usize) -> u32 {
        last_pid(&self.child.output(), &format!("worker {index} pid ")).expect("the worker printed its pid")
    }
    /// Everything the parent and the workers printed.
    pub fn output(&self) -> String {
        self.child.output()
    }

    /// `GET path` on the shared HTTP port; the response body. Blocks while the worker that
    /// took the request is stopped in the debugger (read timeout 60 s).
    pub fn get(&self, path: &str) -> String {
        http_get(self.http_port, path)
    }

    /// `GET path` from a thread (the worker that takes it may stop at a breakpoint); join
    /// the handle for the body.
    pub fn get_in_background(&self, path: &str) -> std::thread::JoinHandle<String> {
        let (port, path) = (self.http_port, path.to_string());
        std::thread::spawn(move || http_get(port, &path))
    }

    /// Sends `GET /hold` from a thread and returns once a worker printed that it holds;
    /// that worker takes no request until the returned [`Hold`] is released or dropped.
    pub fn hold(&mut self) -> Hold {
        let dir = tempfile::tempdir().expect("temp dir for the latch");
        let latch = dir.path().join("release");
        let holding_before = self.child.output().matches(" holding").count();
        let port = self.http_port;
        let path = format!("/hold?until={}", latch.display());
        let request = std::thread::spawn(move || http_get(port, &path));
        let started = std::time::Instant::now();
        while self.child.output().matches(" holding").count() == holding_before {
            assert!(started.elapsed() < STARTUP, "no worker took the hold request:\n{}", self.child.output());
            std::thread::sleep(Duration::from_millis(10));
        }
        Hold { latch, _dir: dir, request: Some(request) }
    }

    /// Kills worker `index` (SIGKILL) and, when `wait_restart`, waits until the parent
    /// started it again and its ptvsd listens; returns the new pid (or the old one).
    pub fn kill_worker(&mut self, index: usize, wait_restart: bool) -> u32 {
        let pid = self.worker_pid(index);
        kill(pid);
        if wait_restart {
            self.wait_ready(index, Some(pid))
        } else {
            pid
        }
    }
}

/// A worker kept busy by [`Workers::hold`].
pub struct Hold {
    latch: PathBuf,
    _dir: tempfile::TempDir,
    request: Option<std::thread::JoinHandle<String>>,
}

impl Hold {
    /// Lets the worker answer; returns its answer (`worker N pid P released`).
    pub fn release(mut self) -> String {
        std::fs::write(&self.latch, b"").expect("write the latch");
        self.request.take().expect("not yet released").join().expect("hold request thread")
    }
}

impl Drop for Hold {
    fn drop(&mut self) {
        let _ = std::fs::write(&self.latch, b"");
    }
}

fn http_get(port: u16, path: &str) -> String {
    let mut stream =
        TcpStream::connect(("127.0.0.1", port)).unwrap_or_else(|e| panic!("connect to the app on {port}: {e}"));
    stream.set_read_timeout(Some(Duration::from_secs(60))).expect("set_read_timeout");
    write!(stream, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").expect("send the request");
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap_or_else(|e| panic!("GET {path}: {e}"));
    let (head, body) =
        response.split_once("\r\n\r\n").unwrap_or_else(|| panic!("GET {path}: no HTTP response: {response:?}"));
    assert!(head.starts_with("HTTP/1.0 200"), "GET {path}: {head}");
    body.to_string()
}

#[allow(unsafe_code)]
fn kill(pid: u32) {
    let pid = libc::pid_t::try_from(pid).expect("pid fits pid_t");
    // SAFETY: kill(2) has no memory-safety preconditions; the pid is a worker the test
    // started (through its parent) and the test is the one ending it.
    unsafe {
        libc::kill(pid, libc::SIGKILL);
    }
}

/// One app process on a fixed ptvsd port, started again on the same port after a kill.
pub struct RestartableApp {
    peer: PeerInfo,
    secret: String,
    port: u16,
    args: Vec<String>,
    child: Option<LoggedChild>,
    /// How many processes were started.
    starts: u32,
}

impl RestartableApp {
    /// Starts `restartable.py SECRET PORT ARGS…` (ARGS: `[DELAY [EXIT_AFTER]]`) on a free
    /// port and waits until its ptvsd listens.
    pub fn start(peer: &PeerInfo, args: &[&str]) -> RestartableApp {
        let mut app = RestartableApp::not_started(peer, args);
        app.restart();
        app
    }

    /// The app with its port and secret chosen, not running yet (a site still starting);
    /// [`RestartableApp::restart`] starts it.
    pub fn not_started(peer: &PeerInfo, args: &[&str]) -> RestartableApp {
        RestartableApp {
            peer: peer.clone(),
            secret: random_secret(),
            port: free_port(),
            args: args.iter().map(|a| (*a).to_string()).collect(),
            child: None,
            starts: 0,
        }
    }

    /// Starts the process (again, if it was killed or exited) on the same port; waits
    /// until it listens; returns its pid.
    pub fn restart(&mut self) -> u32 {
        if let Some(mut old) = self.child.take() {
            old.kill();
        }
        let mut cmd = python_command(&self.peer, &program("restartable.py"));
        cmd.arg(&self.secret).arg(self.port.to_string()).args(&self.args);
        self.starts += 1;
        let label = format!("{} restartable.py #{}", self.peer.name, self.starts);
        let mut child = LoggedChild::spawn(&label, cmd, false);
        child.wait_for_output(&format!("ptvsd {} ready", self.port), STARTUP);
        wait_until_listening(self.port, STARTUP, true, || match child.exited() {
            Some(status) => Err(format!("restartable.py exited with {status}")),
            None => Ok(()),
        })
        .unwrap_or_else(|e| panic!("{label}: {e}\n{}", child.output()));
        let pid = child.pid();
        self.child = Some(child);
        pid
    }

    /// Kills the process now (SIGKILL), as a crash or a recycle does.
    pub fn kill(&mut self) {
        if let Some(child) = self.child.as_mut() {
            child.kill();
        }
    }

    /// `Some(status)` once the current process has exited.
    pub fn exited(&mut self) -> Option<std::process::ExitStatus> {
        self.child.as_mut().and_then(LoggedChild::exited)
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(LoggedChild::pid)
    }
    pub fn port(&self) -> u16 {
        self.port
    }
    pub fn secret(&self) -> &str {
        &self.secret
    }
    /// `tcp://SECRET@127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("tcp://{}@127.0.0.1:{}", self.secret, self.port)
    }
    /// What the current process printed.
    pub fn output(&self) -> String {
        self.child.as_ref().map(LoggedChild::output).unwrap_or_default()
    }
    /// How many processes were started so far.
    pub fn starts(&self) -> u32 {
        self.starts
    }
}
