//! A simulated WAN link for group 5 (`wan`): two network namespaces of our own, `near`
//! (the editor's side: the adapter, or the DAP client of debugpy) and `far` (the site:
//! the debuggee, its relay), each with a point-to-point TUN device, and a forwarder in
//! this process that copies every IP packet from one TUN device to the other after a
//! fixed one-way delay (RTT/2). The kernel here has no `netem`, so the delay is ours.
//!
//! Addresses are link-local and exist only inside the two namespaces: near
//! `169.254.77.1`, far `169.254.77.2`. Nothing is routed anywhere else.
//!
//! Every TCP packet crossing the link is logged (direction, when it entered the link,
//! when it left it, payload bytes), and [`round_trips`] counts the round trips an action
//! waited for from that log (see its doc and BENCHMARKS.md).
//!
//! Needs root and `ip` (iproute2) with `ip netns`; [`WanLink::unavailable`] says why not.

use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::AsRawFd;
use std::path::Path;
use std::process::Command as StdCommand;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::Res;

pub const NEAR_ADDR: &str = "169.254.77.1";
pub const FAR_ADDR: &str = "169.254.77.2";
const DEVICE: &str = "wan0";

/// One TCP packet that crossed the link.
#[derive(Debug, Clone, Copy)]
pub struct Crossing {
    /// From near (the editor's side) to far (the site).
    pub up: bool,
    /// When the forwarder read it from the sending side's device.
    pub entered: Instant,
    /// When the forwarder wrote it to the receiving side's device.
    pub left: Instant,
    /// TCP payload bytes (0 for a pure ACK).
    pub payload: u32,
}

/// The two namespaces and the forwarder between them; all torn down on drop.
pub struct WanLink {
    pub near: String,
    pub far: String,
    one_way_us: Arc<AtomicU64>,
    log: Arc<Mutex<Vec<Crossing>>>,
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
}

/// Why the link cannot be built here, as a sentence, or `None` when it can.
pub fn unavailable() -> Option<String> {
    // SAFETY: geteuid has no preconditions.
    #[allow(unsafe_code)]
    let euid = unsafe { libc::geteuid() };
    if euid != 0 {
        return Some("the WAN group builds network namespaces and TUN devices, which needs root: run `sudo -E cargo bench --bench adapter -- --only wan`".into());
    }
    match StdCommand::new("ip").args(["netns", "list"]).output() {
        Ok(out) if out.status.success() => {}
        Ok(out) => {
            return Some(format!(
                "`ip netns list` failed ({}): the WAN group needs network namespaces",
                String::from_utf8_lossy(&out.stderr).trim()
            ))
        }
        Err(e) => return Some(format!("no `ip` command ({e}): install iproute2 for the WAN group")),
    }
    if !Path::new("/dev/net/tun").exists() {
        return Some("no /dev/net/tun: the WAN group needs the tun driver".into());
    }
    None
}

fn ip(args: &[&str]) -> Res<()> {
    let out = StdCommand::new("ip").args(args).output()?;
    if !out.status.success() {
        return Err(format!("ip {}: {}", args.join(" "), String::from_utf8_lossy(&out.stderr).trim()).into());
    }
    Ok(())
}

/// Removes namespaces left by an earlier run of this harness whose process is gone.
fn remove_stale_namespaces() {
    let Ok(out) = StdCommand::new("ip").args(["netns", "list"]).output() else { return };
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let name = line.split_whitespace().next().unwrap_or("");
        let Some(rest) = name.strip_prefix("ptvsd-wan-") else { continue };
        let pid = rest.rsplit('-').next().and_then(|p| p.parse::<u32>().ok());
        if let Some(pid) = pid {
            if !Path::new(&format!("/proc/{pid}")).exists() {
                let _ = ip(&["netns", "del", name]);
            }
        }
    }
}

/// Runs `f` on a fresh thread that has entered the network namespace `ns`: sockets and
/// devices it creates belong to that namespace.
pub fn in_namespace<T: Send + 'static>(ns: &str, f: impl FnOnce() -> Res<T> + Send + 'static) -> Res<T> {
    let path = format!("/run/netns/{ns}");
    std::thread::spawn(move || -> Res<T> {
        let file = File::open(&path).map_err(|e| format!("cannot open {path}: {e}"))?;
        // SAFETY: setns(2) with a valid namespace fd changes only this thread's network
        // namespace; the thread ends after `f`.
        #[allow(unsafe_code)]
        let rc = unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) };
        if rc != 0 {
            return Err(format!("setns {path}: {}", std::io::Error::last_os_error()).into());
        }
        f()
    })
    .join()
    .map_err(|_| "the namespace thread panicked")?
}

/// Opens a TUN device named [`DEVICE`] (no packet information header) in this thread's
/// namespace.
fn open_tun() -> Res<File> {
    let file = std::fs::OpenOptions::new().read(true).write(true).open("/dev/net/tun")?;
    #[repr(C)]
    struct IfReq {
        name: [u8; 16],
        flags: libc::c_short,
        _pad: [u8; 22],
    }
    let mut req = IfReq { name: [0; 16], flags: (libc::IFF_TUN | libc::IFF_NO_PI) as libc::c_short, _pad: [0; 22] };
    req.name[..DEVICE.len()].copy_from_slice(DEVICE.as_bytes());
    const TUNSETIFF: libc::c_ulong = 0x4004_54ca;
    // SAFETY: TUNSETIFF reads a `struct ifreq` (40 bytes on Linux) from the pointer.
    #[allow(unsafe_code)]
    let rc = unsafe { libc::ioctl(file.as_raw_fd(), TUNSETIFF as _, &mut req as *mut IfReq) };
    if rc != 0 {
        return Err(format!("TUNSETIFF: {}", std::io::Error::last_os_error()).into());
    }
    Ok(file)
}

/// Gives the calling forwarder thread a real-time priority (best effort), so that on a
/// busy machine a packet leaves the link when due rather than when a core comes free. The
/// threads only ever block (poll, channel, sleep), so they cannot starve anything.
fn realtime() {
    let param = libc::sched_param { sched_priority: 10 };
    // SAFETY: sched_setscheduler(0, …) changes only the calling thread's policy; `param`
    // is a valid sched_param.
    #[allow(unsafe_code)]
    unsafe {
        libc::sched_setscheduler(0, libc::SCHED_FIFO, &param);
    }
}

/// (is TCP, TCP payload length) of an IPv4 packet.
fn tcp_payload(packet: &[u8]) -> Option<u32> {
    if packet.len() < 20 || packet[0] >> 4 != 4 || packet[9] != 6 {
        return None;
    }
    let ihl = usize::from(packet[0] & 0x0f) * 4;
    let total = usize::from(u16::from_be_bytes([packet[2], packet[3]]));
    let tcp = packet.get(ihl..)?;
    let offset = usize::from(tcp.get(12)? >> 4) * 4;
    Some(total.saturating_sub(ihl + offset) as u32)
}

impl WanLink {
    /// Builds the namespaces and starts the forwarder with a round-trip time of `rtt`.
    pub fn new(rtt: Duration) -> Res<WanLink> {
        remove_stale_namespaces();
        let pid = std::process::id();
        let near = format!("ptvsd-wan-near-{pid}");
        let far = format!("ptvsd-wan-far-{pid}");
        let mut link = WanLink {
            near: near.clone(),
            far: far.clone(),
            one_way_us: Arc::new(AtomicU64::new((rtt / 2).as_micros() as u64)),
            log: Arc::new(Mutex::new(Vec::new())),
            stop: Arc::new(AtomicBool::new(false)),
            threads: Vec::new(),
        };
        for ns in [&near, &far] {
            ip(&["netns", "add", ns])?;
            ip(&["-n", ns, "link", "set", "lo", "up"])?;
            // No IPv6 chatter (router solicitations) on the link.
            let _ = StdCommand::new("ip")
                .args(["netns", "exec", ns, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1"])
                .status();
        }
        let near_tun = in_namespace(&near, open_tun)?;
        let far_tun = in_namespace(&far, open_tun)?;
        for (ns, local, peer) in [(&near, NEAR_ADDR, FAR_ADDR), (&far, FAR_ADDR, NEAR_ADDR)] {
            ip(&["-n", ns, "addr", "add", local, "peer", peer, "dev", DEVICE])?;
            ip(&["-n", ns, "link", "set", DEVICE, "up"])?;
        }
        let near_out = near_tun.try_clone()?;
        let far_out = far_tun.try_clone()?;
        link.forward(near_tun, far_out, true);
        link.forward(far_tun, near_out, false);
        Ok(link)
    }

    /// Starts the two threads of one direction: a reader stamping packets as they enter,
    /// and a writer releasing each one its delay later, in order.
    fn forward(&mut self, mut from: File, mut to: File, up: bool) {
        let (tx, rx) = mpsc::channel::<(Instant, Instant, Vec<u8>)>();
        let stop = self.stop.clone();
        let delay = self.one_way_us.clone();
        self.threads.push(std::thread::spawn(move || {
            realtime();
            let mut buf = vec![0u8; 65536];
            while !stop.load(Ordering::Relaxed) {
                let mut fds = libc::pollfd { fd: from.as_raw_fd(), events: libc::POLLIN, revents: 0 };
                // SAFETY: one valid pollfd.
                #[allow(unsafe_code)]
                let ready = unsafe { libc::poll(&mut fds, 1, 50) };
                if ready <= 0 {
                    continue;
                }
                let Ok(n) = from.read(&mut buf) else { break };
                let now = Instant::now();
                let due = now + Duration::from_micros(delay.load(Ordering::Relaxed));
                if tx.send((now, due, buf[..n].to_vec())).is_err() {
                    break;
                }
            }
        }));
        let log = self.log.clone();
        self.threads.push(std::thread::spawn(move || {
            realtime();
            while let Ok((entered, due, packet)) = rx.recv() {
                let now = Instant::now();
                if due > now {
                    std::thread::sleep(due - now);
                }
                // Logged before it is written: whoever reads it has it in the log.
                if let Some(payload) = tcp_payload(&packet) {
                    if let Ok(mut log) = log.lock() {
                        log.push(Crossing { up, entered, left: Instant::now(), payload });
                    }
                }
                let _ = to.write(&packet);
            }
        }));
    }

    /// Changes the round-trip time (between measurements, when nothing is in flight).
    pub fn set_rtt(&self, rtt: Duration) {
        self.one_way_us.store((rtt / 2).as_micros() as u64, Ordering::Relaxed);
    }

    /// The TCP packets logged since the last call, and forgets them.
    pub fn take_log(&self) -> Vec<Crossing> {
        self.log.lock().map(|mut log| std::mem::take(&mut *log)).unwrap_or_default()
    }

    /// A command that runs `program` inside namespace `ns` (via `ip netns exec`, which
    /// execs it: the child's pid is the program's).
    pub fn command(ns: &str, program: &Path) -> tokio::process::Command {
        let mut cmd = tokio::process::Command::new("ip");
        cmd.args(["netns", "exec", ns]).arg(program);
        cmd
    }

    /// Connects a TCP socket from inside namespace `ns`.
    pub async fn connect(ns: &str, addr: std::net::SocketAddr) -> Res<tokio::net::TcpStream> {
        let stream = in_namespace(ns, move || {
            let stream = std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(10))?;
            stream.set_nonblocking(true)?;
            Ok(stream)
        })?;
        Ok(tokio::net::TcpStream::from_std(stream)?)
    }
}

impl Drop for WanLink {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for thread in self.threads.drain(..) {
            let _ = thread.join();
        }
        let _ = ip(&["netns", "del", &self.near]);
        let _ = ip(&["netns", "del", &self.far]);
    }
}

/// Whether a process in the namespace of `pid` listens on TCP `port` (any address), read
/// from `/proc/PID/net/tcp` (the table of that process's namespace): no connection is
/// made (ptvsd's single accept thread must not be disturbed).
pub fn listening_in_namespace_of(pid: u32, port: u16) -> bool {
    let suffix = format!(":{port:04X}");
    std::fs::read_to_string(format!("/proc/{pid}/net/tcp"))
        .map(|table| {
            table.lines().skip(1).any(|line| {
                let cols: Vec<&str> = line.split_whitespace().collect();
                cols.len() > 3 && cols[1].ends_with(&suffix) && cols[3] == "0A"
            })
        })
        .unwrap_or(false)
}

/// The round trips an action waited for, counted from the link's log: the length of the
/// longest chain of crossings c1, c2, …, cn such that c1 goes up (editor → site) and entered
/// the link at or after `start`, each next crossing goes the other way and entered the
/// link only after the previous one had left it (so it may have been caused by it), and cn
/// goes down carrying payload and left the link by `end`; the count is n/2. With nothing
/// else on the link this is the number of times the action waited for the link in each
/// direction (pure ACKs count where data waited for them: Nagle, a cold congestion
/// window). 0 when no such chain exists (the action never crossed the link).
pub fn round_trips(log: &[Crossing], start: Instant, end: Instant) -> f64 {
    let mut packets: Vec<&Crossing> = log.iter().filter(|c| c.entered >= start && c.left <= end).collect();
    packets.sort_by_key(|c| c.entered);
    // best[i]: the longest valid chain ending at packet i (0 = none).
    let mut best = vec![0usize; packets.len()];
    let mut answer = 0;
    for j in 0..packets.len() {
        let p = packets[j];
        let mut chain = if p.up { 1 } else { 0 };
        for i in 0..j {
            let q = packets[i];
            if q.up != p.up && best[i] > 0 && q.left <= p.entered {
                chain = chain.max(best[i] + 1);
            }
        }
        best[j] = chain;
        if !p.up && p.payload > 0 {
            answer = answer.max(chain);
        }
    }
    answer as f64 / 2.0
}

/// The crossings of one action as text, one line each (times relative to `start`): the
/// round-trip capture that explains a count (`PTVSD_WAN_TRACE=1`).
pub fn capture(log: &[Crossing], start: Instant, end: Instant) -> String {
    let at = |t: Instant| {
        if t >= start {
            format!("+{:8.3}", super::stats::ms(t - start))
        } else {
            format!("-{:8.3}", super::stats::ms(start - t))
        }
    };
    let mut out = format!(
        "  action: {:.3} ms, {} round trips counted\n",
        super::stats::ms(end - start),
        round_trips(log, start, end)
    );
    let mut sorted: Vec<&Crossing> = log.iter().filter(|c| c.left <= end).collect();
    sorted.sort_by_key(|c| c.entered);
    for c in sorted {
        out.push_str(&format!(
            "  {} → {} ms  {}  {:6} B\n",
            at(c.entered),
            at(c.left),
            if c.up { "editor → site" } else { "site → editor" },
            c.payload
        ));
    }
    out
}
