//! The processes a benchmark drives: debuggees (ptvsd or debugpy), the adapter binary,
//! `ptvsd-dap relay` and websockify. Each runs in its own process group, killed on drop.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::net::TcpStream;
use tokio::process::{Child, ChildStdin, ChildStdout, Command};

use super::dap::Dap;
use super::support::net::wait_until_listening;
use super::support::{free_port, PeerInfo};
use super::Res;

/// The adapter binary as cargo built it for this target (release under `cargo bench`), or
/// `$PTVSD_DAP_BENCH_EXE` (e.g. a wrapper script that runs it under a profiler).
pub fn adapter_exe() -> PathBuf {
    match std::env::var_os("PTVSD_DAP_BENCH_EXE") {
        Some(exe) => PathBuf::from(exe),
        None => PathBuf::from(env!("CARGO_BIN_EXE_ptvsd-dap")),
    }
}

/// `benches/programs/bench_app.py`.
pub fn bench_app() -> PathBuf {
    super::support::repo_root().join("benches").join("programs").join("bench_app.py")
}

/// A child process in its own process group; the whole group is killed on drop.
pub struct Proc {
    pub child: Child,
    pub pid: u32,
    label: String,
}

impl Proc {
    pub fn spawn(label: &str, mut cmd: Command) -> Res<Proc> {
        cmd.process_group(0).kill_on_drop(true);
        let child = cmd.spawn().map_err(|e| format!("cannot start {label}: {e}"))?;
        let pid = child.id().ok_or_else(|| format!("{label} exited at once"))?;
        Ok(Proc { child, pid, label: label.to_string() })
    }

    /// Peak resident set size (VmHWM) in KiB, from /proc.
    pub fn vm_hwm_kib(&self) -> Res<u64> {
        status_field(self.pid, "VmHWM:")
    }

    pub fn vm_rss_kib(&self) -> Res<u64> {
        status_field(self.pid, "VmRSS:")
    }

    pub fn exited(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(Some(_)))
    }
}

fn status_field(pid: u32, field: &str) -> Res<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let line =
        status.lines().find(|l| l.starts_with(field)).ok_or_else(|| format!("no {field} in /proc/{pid}/status"))?;
    Ok(line[field.len()..].trim().trim_end_matches("kB").trim().parse()?)
}

impl Drop for Proc {
    fn drop(&mut self) {
        kill_group(self.pid);
        let _ = self.child.start_kill();
        let _ = &self.label;
    }
}

#[allow(unsafe_code)]
fn kill_group(pid: u32) {
    let Ok(pid) = libc::pid_t::try_from(pid) else { return };
    // SAFETY: kill(2) has no memory-safety preconditions. The group id is our own child's
    // pid (process_group(0)), and the child is not reaped before this runs.
    unsafe {
        libc::kill(-pid, libc::SIGKILL);
    }
}

/// A debuggee: `bench_app.py MODE ARGS` under ptvsd (`-m ptvsd --secret S --port P`) or
/// debugpy (`-m debugpy --listen P --wait-for-client`), stdout and stderr to /dev/null.
pub struct Debuggee {
    pub proc: Proc,
    pub port: u16,
    pub secret: String,
}

impl Debuggee {
    /// ptvsd from `peer`'s venv; `wait` adds `--wait` (the program waits for an attach).
    pub fn ptvsd(peer: &PeerInfo, args: &[&str], wait: bool) -> Res<Debuggee> {
        let secret = super::support::peers::random_secret();
        let mut last = String::new();
        for _ in 0..3 {
            let port = free_port();
            let mut cmd = Command::new(&peer.python_path);
            cmd.args(["-u", "-m", "ptvsd", "--secret", &secret, "--interface", "127.0.0.1", "--port"])
                .arg(port.to_string());
            if wait {
                cmd.arg("--wait");
            }
            cmd.arg(bench_app()).arg("-").args(args);
            let mut proc = Proc::spawn(&format!("{} bench_app.py", peer.name), python_env(cmd))?;
            // A probe that connects and resets is harmless to ptvsd's accept thread.
            match wait_until_listening(port, Duration::from_secs(30), true, || {
                if proc.exited() {
                    Err("exited".into())
                } else {
                    Ok(())
                }
            }) {
                Ok(_) => return Ok(Debuggee { proc, port, secret }),
                Err(e) => last = e,
            }
        }
        Err(format!("the {} debuggee did not start: {last}", peer.name).into())
    }

    /// debugpy from `python` (a venv with debugpy), `--wait-for-client`.
    pub fn debugpy(python: &Path, args: &[&str]) -> Res<Debuggee> {
        let mut last = String::new();
        for _ in 0..3 {
            let port = free_port();
            let mut cmd = Command::new(python);
            cmd.args(["-u", "-m", "debugpy", "--listen"])
                .arg(format!("127.0.0.1:{port}"))
                .arg("--wait-for-client")
                .arg(bench_app())
                .args(args);
            let mut proc = Proc::spawn("debugpy bench_app.py", python_env(cmd))?;
            // debugpy's adapter serves one client: do not probe it with a connection.
            let start = Instant::now();
            while start.elapsed() < Duration::from_secs(30) {
                if is_listening(port) {
                    return Ok(Debuggee { proc, port, secret: String::new() });
                }
                if proc.exited() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(10));
            }
            last = format!("port {port} not listening after {:?}", start.elapsed());
        }
        Err(format!("the debugpy debuggee did not start: {last}").into())
    }

    pub fn tcp_url(&self) -> String {
        format!("tcp://{}@127.0.0.1:{}", self.secret, self.port)
    }
}

pub fn python_env(mut cmd: Command) -> Command {
    cmd.current_dir(bench_app().parent().unwrap_or(Path::new(".")))
        .env_remove("PYTHONPATH")
        .env_remove("PYTHONHOME")
        .env_remove("PYTHONSTARTUP")
        .env("PYTHONUNBUFFERED", "1")
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .env("PYTHONWARNINGS", "ignore")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    cmd
}

/// `program` as a command, run inside network namespace `ns` when given.
pub fn command_in(ns: Option<&str>, program: &Path) -> Command {
    match ns {
        Some(ns) => super::wanlink::WanLink::command(ns, program),
        None => Command::new(program),
    }
}

/// Whether something listens on 127.0.0.1:`port`, from /proc/net/tcp (no connection made).
pub fn is_listening(port: u16) -> bool {
    let needle = format!("0100007F:{port:04X}");
    std::fs::read_to_string("/proc/net/tcp")
        .map(|table| {
            table.lines().skip(1).any(|line| {
                let cols: Vec<&str> = line.split_whitespace().collect();
                cols.len() > 3 && cols[1] == needle && cols[3] == "0A"
            })
        })
        .unwrap_or(false)
}

/// The adapter binary speaking DAP on its stdio.
pub struct Adapter {
    pub proc: Proc,
    pub dap: Dap<ChildStdout, ChildStdin>,
}

impl Adapter {
    pub fn spawn() -> Res<Adapter> {
        Self::spawn_exe(&adapter_exe())
    }

    /// A given ptvsd-dap binary (e.g. a baseline build).
    pub fn spawn_exe(exe: &Path) -> Res<Adapter> {
        Self::spawn_in(None, exe)
    }

    /// A given ptvsd-dap binary, inside network namespace `ns` when given.
    pub fn spawn_in(ns: Option<&str>, exe: &Path) -> Res<Adapter> {
        Self::spawn_in_with_env(ns, exe, &[])
    }

    /// [`Adapter::spawn_in`] with environment variables. Without `PTVSD_DAP_DIALECTS` among
    /// them the adapter expects no dialect (nothing read from or written to the user's cache).
    pub fn spawn_in_with_env(ns: Option<&str>, exe: &Path, env: &[(&str, &str)]) -> Res<Adapter> {
        let mut cmd = command_in(ns, exe);
        cmd.env(ptvsd_dap::dialects::ENV, "off").envs(env.iter().copied());
        cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::null());
        let mut proc = Proc::spawn("ptvsd-dap", cmd)?;
        let stdin = proc.child.stdin.take().ok_or("no stdin")?;
        let stdout = proc.child.stdout.take().ok_or("no stdout")?;
        Ok(Adapter { proc, dap: Dap::new(stdout, stdin) })
    }
}

impl Adapter {
    /// Disconnects (detaching from the debuggee) and waits a few seconds for the adapter to
    /// exit by itself (so a profiler wrapping it can write its output); then it is killed.
    pub async fn disconnect(mut self) {
        let _ =
            tokio::time::timeout(Duration::from_secs(5), self.dap.request("disconnect", serde_json::Value::Null)).await;
        let _ = tokio::time::timeout(Duration::from_secs(10), self.proc.child.wait()).await;
    }
}

/// A DAP connection over TCP (debugpy).
pub async fn dap_tcp(port: u16) -> Res<Dap<tokio::net::tcp::OwnedReadHalf, tokio::net::tcp::OwnedWriteHalf>> {
    let stream = TcpStream::connect(("127.0.0.1", port)).await?;
    stream.set_nodelay(true)?;
    let (read, write) = stream.into_split();
    Ok(Dap::new(read, write))
}

/// A WebSocket relay process in front of a TCP port.
pub struct WsRelay {
    pub proc: Proc,
    pub port: u16,
    pub name: &'static str,
    /// Kept open: the relay's stdout.
    _stdout: Option<BufReader<ChildStdout>>,
}

impl WsRelay {
    /// `ptvsd-dap relay --listen 127.0.0.1:0 --target 127.0.0.1:TARGET`.
    pub async fn ptvsd_dap(target: u16) -> Res<WsRelay> {
        Self::ptvsd_dap_exe(&adapter_exe(), target, "ptvsd-dap relay").await
    }

    /// `relay` of a given ptvsd-dap binary (e.g. a baseline build).
    pub async fn ptvsd_dap_exe(exe: &Path, target: u16, name: &'static str) -> Res<WsRelay> {
        Self::ptvsd_dap_in(None, exe, target, name).await
    }

    /// `relay` of a given ptvsd-dap binary, inside network namespace `ns` when given (then
    /// listening on every address of that namespace).
    pub async fn ptvsd_dap_in(ns: Option<&str>, exe: &Path, target: u16, name: &'static str) -> Res<WsRelay> {
        let mut cmd = command_in(ns, exe);
        cmd.args(["relay", "--listen", if ns.is_some() { "0.0.0.0:0" } else { "127.0.0.1:0" }, "--target"])
            .arg(format!("127.0.0.1:{target}"))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        let mut proc = Proc::spawn("ptvsd-dap relay", cmd)?;
        let stdout = proc.child.stdout.take().ok_or("no stdout")?;
        let mut line = String::new();
        let mut stdout = BufReader::new(stdout);
        tokio::time::timeout(Duration::from_secs(10), stdout.read_line(&mut line))
            .await
            .map_err(|_| "the relay did not announce its address")??;
        let port = line
            .trim()
            .rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
            .ok_or_else(|| format!("unexpected relay announcement {line:?}"))?;
        Ok(WsRelay { proc, port, name, _stdout: Some(stdout) })
    }

    /// websockify (`exe`) on a free port relaying to 127.0.0.1:TARGET.
    pub fn websockify(exe: &Path, target: u16, name: &'static str) -> Res<WsRelay> {
        Self::websockify_in(None, exe, target, name)
    }

    /// websockify inside network namespace `ns` when given (then on every address there).
    pub fn websockify_in(ns: Option<&str>, exe: &Path, target: u16, name: &'static str) -> Res<WsRelay> {
        let mut last = String::new();
        for _ in 0..3 {
            let port = free_port();
            let mut cmd = command_in(ns, exe);
            cmd.arg(format!("{}:{port}", if ns.is_some() { "0.0.0.0" } else { "127.0.0.1" }))
                .arg(format!("127.0.0.1:{target}"))
                .env("PYTHONWARNINGS", "ignore")
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null());
            let mut proc = Proc::spawn(name, cmd)?;
            let start = Instant::now();
            while start.elapsed() < Duration::from_secs(30) {
                let listening = if ns.is_some() {
                    super::wanlink::listening_in_namespace_of(proc.pid, port)
                } else {
                    is_listening(port)
                };
                if listening {
                    return Ok(WsRelay { proc, port, name, _stdout: None });
                }
                if proc.exited() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(10));
            }
            last = format!("port {port} not listening");
        }
        Err(format!("{name} did not start: {last}").into())
    }

    pub fn ws_url(&self, secret: &str) -> String {
        format!("ws://{secret}@127.0.0.1:{}/ptvsd", self.port)
    }
}
