//! Stress against real ptvsd processes: many attach/detach cycles through one long-lived
//! adapter (memory and file descriptors stay flat, the debuggee stays idle, every
//! re-attach is accepted, every 100th stops at a breakpoint), 50 threads stopping at once, a flood of program output, a
//! 100 000-element list and a 1 000-entry dict paged through, and a breakpoint hit 10 000 times.
//!
//! The default sizes keep the whole file well under a minute; `PTVSD_DAP_STRESS=full`
//! runs the full ones (1000 cycles per dialect, 50 MB of output, every page of the list).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod client;
mod support;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use client::DapClient;
use serde_json::{json, Value};
use support::{line_of, program, PeerOptions, PtvsdPeer};

fn full() -> bool {
    std::env::var("PTVSD_DAP_STRESS").is_ok_and(|v| v == "full")
}

/// `reduced` normally, `full` with `PTVSD_DAP_STRESS=full`.
fn size(reduced: usize, full_size: usize) -> usize {
    if full() {
        full_size
    } else {
        reduced
    }
}

// ---- /proc ------------------------------------------------------------------------

fn vm_rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

fn fd_count(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd")).unwrap().count()
}

/// The adapter's descriptors once it is idle: the last session's sockets are closed a
/// moment after the client saw the connection end.
fn settled_fd_count(pid: u32) -> usize {
    let mut fds = fd_count(pid);
    for _ in 0..20 {
        std::thread::sleep(Duration::from_millis(25));
        fds = fds.min(fd_count(pid));
    }
    fds
}

fn thread_count(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/task")).unwrap().count()
}

/// CPU seconds (user + system) the process has used.
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let after = &stat[stat.rfind(')').unwrap() + 2..];
    let fields: Vec<&str> = after.split_whitespace().collect();
    (fields[11].parse::<f64>().unwrap() + fields[12].parse::<f64>().unwrap()) / 100.0
}

/// CPU seconds used over the next 2 s.
fn cpu_over_2s(pid: u32) -> f64 {
    let before = cpu_seconds(pid);
    std::thread::sleep(Duration::from_secs(2));
    cpu_seconds(pid) - before
}

// ---- an adapter serving DAP over TCP ---------------------------------------------

/// `ptvsd-dap --port 0`: one long-lived adapter process that serves one session per
/// connection, the way a long editor session re-attaches.
struct TcpAdapter {
    child: std::process::Child,
    port: u16,
    stderr: PathBuf,
    _dir: tempfile::TempDir,
}

impl TcpAdapter {
    fn start() -> TcpAdapter {
        let dir = tempfile::tempdir().unwrap();
        let stderr = dir.path().join("adapter.log");
        // `session ended` lines are counted at info; PTVSD_DAP_STRESS_LOG_LEVEL for more.
        let level = std::env::var("PTVSD_DAP_STRESS_LOG_LEVEL").unwrap_or_else(|_| "info".into());
        let child = std::process::Command::new(env!("CARGO_BIN_EXE_ptvsd-dap"))
            .args(["--port", "0", "--log-level", &level])
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::fs::File::create(&stderr).unwrap())
            .spawn()
            .unwrap();
        let started = Instant::now();
        let port = loop {
            let text = std::fs::read_to_string(&stderr).unwrap_or_default();
            if let Some(rest) = text.split("serving DAP on 127.0.0.1:").nth(1) {
                break rest.split_whitespace().next().unwrap().parse().unwrap();
            }
            assert!(started.elapsed() < Duration::from_secs(10), "the adapter did not start: {text}");
            std::thread::sleep(Duration::from_millis(20));
        };
        TcpAdapter { child, port, stderr, _dir: dir }
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }
}

impl Drop for TcpAdapter {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One attach/detach cycle through the adapter; panics unless the attach is accepted. With
/// `breakpoint`, the cycle also sets a breakpoint on the sleeper's nap, continues, and must
/// stop at it (an attach that binds breakpoints which never fire is the re-attach bug).
async fn cycle(adapter: &TcpAdapter, url: &str, round: usize, breakpoint: bool) {
    let mut client = DapClient::connect(adapter.port, adapter.stderr.clone()).await;
    client.keep_received = false;
    client.ok("initialize", json!({ "adapterID": "ptvsd-dap" })).await;
    // Attach, see the app stopped, detach: the attach break is reported (and the adapter
    // repairs ptvsd's state at it) in every cycle.
    let response = client.request("attach", json!({ "url": url, "connectTimeout": 5, "stopOnEntry": true })).await;
    assert_eq!(response["success"], true, "round {round}: the attach was refused: {response}\n{}", adapter.log());
    client.wait_event("initialized").await;
    client.ok("configurationDone", Value::Null).await;
    let entry = client.wait_event_where("stopped", Duration::from_secs(10), |e| e["body"]["reason"] == "entry").await;
    if breakpoint {
        let sleeper = program("sleeper.py");
        let line = line_of(&sleeper, "sleeper-nap");
        let body = client
            .ok("setBreakpoints", json!({ "source": { "path": sleeper }, "breakpoints": [{ "line": line }] }))
            .await;
        assert_eq!(body["breakpoints"][0]["verified"], true, "round {round}: {body}");
        client.ok("continue", json!({ "threadId": entry["body"]["threadId"] })).await;
        client.wait_event_where("stopped", Duration::from_secs(10), |e| e["body"]["reason"] == "breakpoint").await;
    }
    client.ok("disconnect", Value::Null).await;
    assert_eq!(client.wait_exit(Duration::from_secs(10)).await, Some(0), "round {round}: the session did not end");
}

async fn attach_detach_cycles(ptvsd: &str) {
    let rounds = size(50, 1000);
    let warm_up = 10;
    let peer = PtvsdPeer::start("3.11", ptvsd, &program("sleeper.py"), PeerOptions::new().args(["0", "0.05"]));
    let url = format!("tcp://{}@127.0.0.1:{}", peer.secret(), peer.port());
    let adapter = TcpAdapter::start();
    let pid = adapter.pid();
    let started = Instant::now();
    let mut baseline = None;
    let mut peak_rss = 0;
    // The debuggee's descriptors after each cycle past the warm-up. Binary ptvsd's detached
    // loop is a reference cycle that the next attach's repair breaks (without it the count
    // was a sawtooth, 9 → 21 → 10, and its troughs rose over 1,000 cycles from 13 to 42).
    let mut peer_fds = Vec::new();
    // Every 100th cycle (every 20th in the reduced run) must stop at a breakpoint too.
    let breakpoint_every = size(20, 100);
    for round in 0..warm_up + rounds {
        cycle(&adapter, &url, round, round % breakpoint_every == breakpoint_every - 1).await;
        let (rss, fds) = (vm_rss_kib(pid), fd_count(pid));
        peak_rss = peak_rss.max(rss);
        if (round + 1) % 50 == 0 {
            eprintln!("ptvsd {ptvsd}: round {}: adapter VmRSS {rss} KiB, fds {fds}", round + 1);
        }
        if round >= warm_up {
            peer_fds.push(fd_count(peer.pid()));
        }
        if round + 1 == warm_up {
            baseline =
                Some((rss, settled_fd_count(pid), thread_count(pid), fd_count(peer.pid()), vm_rss_kib(peer.pid())));
        }
    }
    let took = started.elapsed();
    if let Some(path) = std::env::var_os("PTVSD_DAP_STRESS_LOG") {
        std::fs::write(path, adapter.log()).unwrap();
    }
    let (rss0, fds0, threads0, peer_fds0, peer_rss0) = baseline.unwrap();
    let (rss1, fds1, threads1, peer_fds1, peer_rss1) =
        (vm_rss_kib(pid), settled_fd_count(pid), thread_count(pid), fd_count(peer.pid()), vm_rss_kib(peer.pid()));
    let cpu = cpu_over_2s(peer.pid());
    eprintln!(
        "ptvsd {ptvsd}: {rounds} cycles (+{warm_up} warm-up) in {took:.1?} ({:.0} ms each); adapter VmRSS {rss0} → {rss1} KiB (peak {peak_rss}), fds {fds0} → {fds1}, threads {threads0} → {threads1}; debuggee VmRSS {peer_rss0} → {peer_rss1} KiB, fds {peer_fds0} → {peer_fds1} (at most {}), CPU {cpu:.2} s over 2 s",
        took.as_secs_f64() * 1000.0 / (warm_up + rounds) as f64,
        peer_fds.iter().max().copied().unwrap_or(peer_fds1),
    );
    assert_eq!(fds1, fds0, "the adapter leaks file descriptors");
    assert!(threads1 <= threads0 + 2, "the adapter leaks threads: {threads0} → {threads1}");
    // Allocator noise, not growth per cycle: 1000 cycles leaking even 1 KiB each would
    // show as more than this.
    assert!(rss1 <= rss0 + 1024, "the adapter's memory grows: {rss0} → {rss1} KiB");
    // Every detached connection is closed by the next attach: the count is a level.
    let most = peer_fds.iter().max().copied().unwrap_or(peer_fds1);
    assert!(
        most <= peer_fds0 + 2,
        "the debuggee keeps sockets: {peer_fds0} descriptors after the warm-up, up to {most} later ({peer_fds:?})"
    );
    // ptvsd's own per-attach growth (its module list) is repaired at every attach.
    assert!(
        peer_rss1 <= peer_rss0 + 2048,
        "the debuggee's memory grows with every attach: {peer_rss0} → {peer_rss1} KiB"
    );
    assert!(cpu < 0.2, "the debuggee is not idle after the cycles: {cpu:.2} s of CPU in 2 s");
    assert!(adapter.log().lines().filter(|l| l.contains("session ended")).count() >= warm_up + rounds);
    assert!(!adapter.log().contains("panicked"));
}

#[tokio::test]
async fn attach_detach_cycles_json_3_2() {
    attach_detach_cycles("3.2.1").await;
}

#[tokio::test]
async fn attach_detach_cycles_binary_3_0() {
    attach_detach_cycles("3.0.0").await;
}

// ---- a stdio session against one debuggee ----------------------------------------

async fn session(peer: &PtvsdPeer, breakpoints: &[(PathBuf, Value)]) -> DapClient {
    let level = std::env::var("STRESS_LOG_LEVEL").unwrap_or_else(|_| "info".to_string());
    let mut client = DapClient::spawn(&["--log-level", &level]).await;
    client.ok("initialize", json!({ "adapterID": "ptvsd-dap", "linesStartAt1": true, "columnsStartAt1": true })).await;
    let url = format!("tcp://{}@127.0.0.1:{}", peer.secret(), peer.port());
    client.ok("attach", json!({ "url": url, "connectTimeout": 10, "requestTimeout": 30 })).await;
    client.wait_event("initialized").await;
    for (path, list) in breakpoints {
        client.ok("setBreakpoints", json!({ "source": { "path": path }, "breakpoints": list })).await;
    }
    client.ok("configurationDone", Value::Null).await;
    client
}

async fn end(mut client: DapClient) {
    client.ok("disconnect", Value::Null).await;
    assert_eq!(client.wait_exit(Duration::from_secs(10)).await, Some(0), "{}", client.stderr());
    assert!(!client.stderr().contains("panicked"), "{}", client.stderr());
}

// ---- 50 threads stopping at once --------------------------------------------------

async fn fifty_threads(ptvsd: &str) {
    const WORKERS: usize = 50;
    let script = program("many_threads.py");
    let line = line_of(&script, "many-threads-hit");
    let peer = PtvsdPeer::start("3.11", ptvsd, &script, PeerOptions::new().wait().args([WORKERS.to_string()]));
    let mut client = session(&peer, &[(script.clone(), json!([{ "line": line }]))]).await;
    let started = Instant::now();
    // Threads that hit the breakpoint together stop together; a `continue` resumes every
    // thread ptvsd had parked: the stops reported before its response are then over, and
    // those whose reports were still on their way are stale and must not be shown
    // (threads module doc). So: every stop reported after a continue must be real (its
    // stack at hit()), no thread is reported twice, and every worker goes on past hit().
    let passed =
        |out: &str| (1..=WORKERS).filter(|i| out.contains(&format!("hitter-{i} passed with {}", i * 10))).count();
    let mut reported = std::collections::BTreeSet::new();
    let mut stops = 0;
    loop {
        let stopped = loop {
            match client.next_message(Duration::from_millis(500)).await {
                Some(m) if m["event"] == "stopped" => break Some(m),
                Some(_) => continue,
                None => break None,
            }
        };
        let Some(stopped) = stopped else {
            if passed(&peer.output()) == WORKERS {
                break;
            }
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "only {} of {WORKERS} workers went on:\n{}",
                passed(&peer.output()),
                peer.output()
            );
            continue;
        };
        assert_eq!(stopped["body"]["reason"], "breakpoint", "{stopped}");
        stops += 1;
        let thread = stopped["body"]["threadId"].as_i64().unwrap();
        assert!(reported.insert(thread), "thread {thread} was reported stopped twice");
        let threads = client.ok("threads", Value::Null).await;
        let listed = threads["threads"].as_array().unwrap();
        if stops == 1 {
            eprintln!("ptvsd {ptvsd}: first stop after {:.1?}; threads listed: {}", started.elapsed(), listed.len());
            assert!(listed.len() > WORKERS, "{threads}");
        }
        let name = listed
            .iter()
            .find(|t| t["id"] == thread)
            .and_then(|t| t["name"].as_str())
            .unwrap_or_else(|| panic!("the stopped thread {thread} is not listed: {threads}"));
        assert!(name.starts_with("hitter-"), "{name}");
        // Every reported stop is real: the thread is parked at the breakpoint.
        let stack = client.ok("stackTrace", json!({ "threadId": thread, "levels": 1 })).await;
        let top = &stack["stackFrames"][0];
        assert!(top["name"] == "hit" && top["line"] == line, "stop {stops} ({name}) is not at the breakpoint: {stack}");
        client.ok("continue", json!({ "threadId": thread })).await;
        // Stops reported before the continue's response are over: the continue resumed
        // them (allThreadsContinued).
        for event in client.take_buffered_events() {
            if event["event"] == "stopped" {
                let other = event["body"]["threadId"].as_i64().unwrap();
                assert!(reported.insert(other), "thread {other} was reported stopped twice");
                stops += 1;
            }
        }
        assert!(stops <= WORKERS, "more stops than threads");
    }
    // Names are known for the threads that stopped (ptvsd names a thread only in its
    // own frame lists); every thread is listed.
    let threads = client.ok("threads", Value::Null).await;
    assert!(threads["threads"].as_array().unwrap().len() > WORKERS, "{threads}");
    eprintln!("ptvsd {ptvsd}: {WORKERS} threads past the breakpoint in {:.1?}: {stops} stops reported, each at the breakpoint; the others were parked when a continue resumed them", started.elapsed());
    end(client).await;
}

#[tokio::test]
async fn fifty_threads_stop_at_once_json_3_2() {
    fifty_threads("3.2.1").await;
}

#[tokio::test]
async fn fifty_threads_stop_at_once_binary_3_0() {
    fifty_threads("3.0.0").await;
}

// ---- the same cycles against a scripted peer: our code alone ---------------------

mod fake {
    //! A scripted ptvsd that serves any number of sessions: the handshake, a fixed burst
    //! of thread and module reports, a stopped thread, answers to evaluations and
    //! expansions, and the detach. Unlike real ptvsd (whose per-attach burst grows with
    //! every attach, see below) every session costs the same, so the adapter's memory
    //! across sessions measures our code alone.
    use bytes::BytesMut;
    use futures_util::{SinkExt, StreamExt};
    use ptvsd_dap::legacy::json::{decode_frame, encode_frame};
    use ptvsd_dap::legacy::messages::{Child, Command, Event, Frame, FrameKind, PyObject, Variable};
    use ptvsd_dap::legacy::{Dialect, Limits, ServerCodec};
    use serde_json::{json, Value};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::{TcpListener, TcpStream};
    use tokio_util::codec::{Framed, FramedParts};

    pub const SECRET: &str = "stress";
    pub const THREAD: i64 = 4711;

    pub async fn serve(json: bool) -> (u16, tokio::task::JoinHandle<()>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                // One at a time, like ptvsd's accept thread.
                let _ = tokio::spawn(session(stream, json)).await;
            }
        });
        (port, task)
    }

    fn object(repr: &str, type_name: &str, flags: i64) -> PyObject {
        PyObject { repr: Some(repr.into()), hex: None, type_name: type_name.into(), length: 3, flags }
    }

    async fn session(mut s: TcpStream, json: bool) {
        s.set_nodelay(true).unwrap();
        let mut framed = if json {
            json_attach(s).await
        } else {
            binary_attach(&mut s)
                .await
                .map(|()| Framed::new(s, ServerCodec::new(Dialect::Binary { version: 6 }, Limits::default())))
        };
        let Some(framed) = framed.as_mut() else { return };
        let mut burst = vec![Event::ThreadCreate { thread: THREAD }];
        burst.extend(
            (0..300).map(|i| Event::ModuleLoad { module_id: i, file: format!("/srv/app/pkg{}/module_{i}.py", i % 17) }),
        );
        let frame = Frame {
            start_line: 1,
            end_line: 50,
            line: 7,
            function: "view".into(),
            file: "/srv/app/views.py".into(),
            arg_count: 1,
            kind: FrameKind::Python,
            django_source: None,
            variables: vec![
                Variable { name: "request".into(), value: object("<Request>", "Request", PyObject::EXPANDABLE) },
                Variable { name: "items".into(), value: object("[1, 2, 3]", "list", PyObject::EXPANDABLE) },
            ],
        };
        burst.push(Event::FrameList {
            thread: THREAD,
            name: Some("MainThread".into()),
            frames: vec![frame.clone(); 20],
        });
        burst.push(Event::AsyncBreak { thread: THREAD });
        for event in burst {
            if framed.feed(event).await.is_err() {
                return;
            }
        }
        if framed.flush().await.is_err() {
            return;
        }
        while let Some(Ok(command)) = framed.next().await {
            let reply = match command {
                Command::Execute { execution_id, text, .. } => {
                    Event::ExecutionResult { execution_id, value: object(&format!("{}", text.len()), "int", 0) }
                }
                Command::EnumChildren { execution_id, .. } => Event::Children {
                    execution_id,
                    children: (0..3)
                        .map(|i| Child {
                            name: format!("[{i}]"),
                            expression: Some(format!("items[{i}]")),
                            value: object(&i.to_string(), "int", 0),
                        })
                        .collect(),
                },
                Command::Detach => Event::Detach,
                _ => continue,
            };
            let detach = reply == Event::Detach;
            if framed.send(reply).await.is_err() {
                return;
            }
            if detach && json {
                // ptvsd 3.x answers the adapter's goodbye (an unknown command) with a
                // failure; the JSON server codec does not model it.
                let goodbye = self::frame(
                    &json!({"type": "response", "seq": 0, "request_seq": 0, "success": false, "command": "ptvsdDapGoodbye", "message": "Unknown command"}),
                );
                if framed.get_mut().write_all(&goodbye).await.is_err() {
                    return;
                }
            }
        }
    }

    fn be(v: i64) -> [u8; 8] {
        v.to_be_bytes()
    }

    async fn read_cstr(s: &mut TcpStream) -> Option<()> {
        let len = s.read_i64().await.ok()?;
        let mut v = vec![0u8; usize::try_from(len).ok().filter(|l| *l < 4096)?];
        s.read_exact(&mut v).await.ok()?;
        Some(())
    }

    async fn binary_attach(s: &mut TcpStream) -> Option<()> {
        let greeting = [&b"PTVSDBG"[..], &be(6)].concat();
        s.write_all(&greeting).await.ok()?;
        let mut echo = [0u8; 15];
        s.read_exact(&mut echo).await.ok()?;
        read_cstr(s).await?;
        s.write_all(b"ACPT").await.ok()?;
        let mut tag = [0u8; 4];
        s.read_exact(&mut tag).await.ok()?;
        read_cstr(s).await?;
        s.write_all(&[&b"ACPT"[..], &be(4242), &be(3), &be(11), &be(7)].concat()).await.ok()
    }

    fn frame(value: &Value) -> Vec<u8> {
        let mut out = BytesMut::new();
        encode_frame(value, &mut out);
        out.to_vec()
    }

    async fn read_json(s: &mut TcpStream, buf: &mut BytesMut) -> Option<Value> {
        loop {
            if let Some(v) = decode_frame(buf, &Limits::default()).ok()? {
                return Some(v);
            }
            if s.read_buf(buf).await.ok()? == 0 {
                return None;
            }
        }
    }

    async fn json_attach(mut s: TcpStream) -> Option<Framed<TcpStream, ServerCodec>> {
        let response = |request: &Value, body: Value| {
            frame(
                &json!({"type": "response", "seq": 0, "request_seq": request["seq"], "success": true, "command": request["command"], "message": "", "body": body}),
            )
        };
        s.write_all(&frame(&json!({"type": "event", "seq": 0, "event": "legacyRemoteConnected", "body": {"debuggerName": "PTVSDBG", "debuggerProtocolVersion": 8}}))).await.ok()?;
        let mut buf = BytesMut::new();
        let auth = read_json(&mut s, &mut buf).await?;
        s.write_all(&response(&auth, json!({"accepted": true}))).await.ok()?;
        let attach = read_json(&mut s, &mut buf).await?;
        s.write_all(&response(
            &attach,
            json!({"accepted": true, "processId": 4242, "pythonMajor": 3, "pythonMinor": 11, "pythonMicro": 7}),
        ))
        .await
        .ok()?;
        let mut parts = FramedParts::new::<Event>(s, ServerCodec::new(Dialect::Json { version: 8 }, Limits::default()));
        parts.read_buf = buf;
        Some(Framed::from_parts(parts))
    }
}

/// A whole session against the scripted peer: attach, stop, stack, variables, evaluate,
/// detach.
async fn fake_cycle(adapter: &TcpAdapter, url: &str, round: usize) {
    let mut client = DapClient::connect(adapter.port, adapter.stderr.clone()).await;
    client.keep_received = false;
    client.ok("initialize", json!({ "adapterID": "ptvsd-dap" })).await;
    let response = client.request("attach", json!({ "url": url, "connectTimeout": 5 })).await;
    assert_eq!(response["success"], true, "round {round}: {response}\n{}", adapter.log());
    client.wait_event("initialized").await;
    client.ok("configurationDone", Value::Null).await;
    let stopped = client.wait_event("stopped").await;
    let thread = stopped["body"]["threadId"].clone();
    client.ok("threads", Value::Null).await;
    let stack = client.ok("stackTrace", json!({ "threadId": thread })).await;
    let frame = stack["stackFrames"][0]["id"].clone();
    let scopes = client.ok("scopes", json!({ "frameId": frame })).await;
    let locals =
        client.ok("variables", json!({ "variablesReference": scopes["scopes"][0]["variablesReference"] })).await;
    client.ok("variables", json!({ "variablesReference": locals["variables"][1]["variablesReference"] })).await;
    client.ok("evaluate", json!({ "expression": "len(items) * 2", "frameId": frame, "context": "repl" })).await;
    client.ok("disconnect", Value::Null).await;
    assert_eq!(client.wait_exit(Duration::from_secs(10)).await, Some(0), "round {round}: the session did not end");
}

async fn fake_cycles(json: bool) {
    let rounds = size(300, 5000);
    let warm_up = 30;
    let (port, _peer) = fake::serve(json).await;
    let url = format!("tcp://{}@127.0.0.1:{port}", fake::SECRET);
    let adapter = TcpAdapter::start();
    let pid = adapter.pid();
    let started = Instant::now();
    let mut baseline = (0, 0);
    for round in 0..warm_up + rounds {
        fake_cycle(&adapter, &url, round).await;
        if round + 1 == warm_up {
            baseline = (vm_rss_kib(pid), settled_fd_count(pid));
        }
    }
    let took = started.elapsed();
    let (rss0, fds0) = baseline;
    let (rss1, fds1) = (vm_rss_kib(pid), settled_fd_count(pid));
    let dialect = if json { "JSON" } else { "binary" };
    eprintln!("scripted {dialect} peer: {rounds} sessions (+{warm_up} warm-up) in {took:.1?}; adapter VmRSS {rss0} → {rss1} KiB, fds {fds0} → {fds1}");
    assert!(fds1 <= fds0, "the adapter leaks file descriptors: {fds0} → {fds1}");
    assert!(rss1 <= rss0 + 1024, "the adapter's memory grows across sessions: {rss0} → {rss1} KiB");
}

#[tokio::test]
async fn sessions_against_a_scripted_peer_leave_memory_flat_json() {
    fake_cycles(true).await;
}

#[tokio::test]
async fn sessions_against_a_scripted_peer_leave_memory_flat_binary() {
    fake_cycles(false).await;
}

// ---- a flood of output ------------------------------------------------------------

async fn output_flood(ptvsd: &str) {
    let bytes = size(8 << 20, 50 << 20);
    let chunk = 64 << 10;
    let peer = PtvsdPeer::start(
        "3.11",
        ptvsd,
        &program("flood.py"),
        PeerOptions::new().wait().args([bytes.to_string(), chunk.to_string()]),
    );
    let mut client = session(&peer, &[]).await;
    client.keep_received = false;
    let end_marker = format!("flood end {bytes}\n");
    let deadline = Instant::now() + Duration::from_secs(if full() { 300 } else { 60 });
    let mut text = String::new();
    let (mut first, mut events) = (None, 0usize);
    while !text[text.len().saturating_sub(chunk + end_marker.len())..].contains(&end_marker) {
        let left = deadline.saturating_duration_since(Instant::now());
        let Some(message) = client.next_message(left).await else {
            panic!("ptvsd {ptvsd}: the output stopped after {} of {bytes} bytes", text.len());
        };
        if message["event"] == "output" && message["body"]["category"] == "stdout" {
            first.get_or_insert_with(Instant::now);
            events += 1;
            text.push_str(message["body"]["output"].as_str().unwrap());
        }
    }
    let took = first.unwrap().elapsed();
    let begin = text.find("flood begin\n").expect("the begin marker") + "flood begin\n".len();
    let payload = &text[begin..text.find(&end_marker).unwrap()];
    eprintln!(
        "ptvsd {ptvsd}: {} MiB of output in {events} events in {took:.1?}: {:.1} MiB/s",
        bytes >> 20,
        payload.len() as f64 / (1 << 20) as f64 / took.as_secs_f64()
    );
    assert_eq!(payload.len(), bytes, "bytes delivered");
    assert!(payload.bytes().all(|b| b == b'x' || b == b'\n'), "the output was garbled");
    assert_eq!(payload.matches('\n').count(), bytes.div_ceil(chunk), "lines delivered");
    // The adapter still answers.
    client.ok("threads", Value::Null).await;
    end(client).await;
}

#[tokio::test]
async fn output_flood_is_delivered_whole_json_3_2() {
    output_flood("3.2.1").await;
}

#[tokio::test]
async fn output_flood_is_delivered_whole_binary_3_0() {
    output_flood("3.0.0").await;
}

/// The stop at the program's breakpoint: its thread, top frame, and the local `name` there.
struct BreakpointStop {
    thread: Value,
    frame: Value,
    local: Value,
}

async fn stop_at_breakpoint(client: &mut DapClient, name: &str) -> BreakpointStop {
    let stopped =
        client.wait_event_where("stopped", Duration::from_secs(30), |e| e["body"]["reason"] == "breakpoint").await;
    let thread = stopped["body"]["threadId"].clone();
    let stack = client.ok("stackTrace", json!({ "threadId": thread, "levels": 1 })).await;
    let frame = stack["stackFrames"][0]["id"].clone();
    let scopes = client.ok("scopes", json!({ "frameId": frame })).await;
    let locals =
        client.ok("variables", json!({ "variablesReference": scopes["scopes"][0]["variablesReference"] })).await;
    let local = locals["variables"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["name"] == name)
        .unwrap_or_else(|| panic!("no `{name}` in {locals}"))
        .clone();
    BreakpointStop { thread, frame, local }
}

// ---- a 100 000-element list, paged ------------------------------------------------

async fn big_list(ptvsd: &str) {
    const N: i64 = 100_000;
    let script = program("big_list.py");
    let line = line_of(&script, "big-list-inspect");
    let peer = PtvsdPeer::start("3.11", ptvsd, &script, PeerOptions::new().args([N.to_string(), "0.05".to_string()]));
    let mut client = session(&peer, &[(script.clone(), json!([{ "line": line }]))]).await;
    let BreakpointStop { thread, frame, local: big } = stop_at_breakpoint(&mut client, "big").await;
    assert_eq!(big["indexedVariables"], N, "{big}");
    let reference = big["variablesReference"].clone();
    let started = Instant::now();
    let mut pages: Vec<(i64, i64)> = vec![(0, 100), (9_990, 20), (50_000, 1_000), (99_990, 100)];
    if full() {
        pages.extend((0..N).step_by(1_000).map(|start| (start, 1_000)));
    }
    let mut items = 0;
    for (start, count) in &pages {
        let body = client
            .ok(
                "variables",
                json!({ "variablesReference": reference, "filter": "indexed", "start": start, "count": count }),
            )
            .await;
        let variables = body["variables"].as_array().unwrap();
        let expected = (*count).min(N - start);
        assert_eq!(variables.len() as i64, expected, "page {start}+{count}");
        for (i, v) in variables.iter().enumerate() {
            let index = start + i as i64;
            assert_eq!(v["name"], format!("[{index}]"), "page {start}+{count}");
            assert_eq!(v["value"], (index * 3).to_string(), "page {start}+{count}");
        }
        // Each element can be evaluated by its evaluateName.
        if let Some(last) = variables.last() {
            let name = last["evaluateName"].as_str().unwrap();
            let result =
                client.ok("evaluate", json!({ "expression": name, "frameId": frame, "context": "watch" })).await;
            assert_eq!(result["result"], last["value"]);
        }
        items += variables.len();
    }
    let paged = started.elapsed();
    // Without paging ptvsd stops at about 10 000 children; that must not hurt either.
    let all = client.ok("variables", json!({ "variablesReference": reference })).await;
    let unpaged = all["variables"].as_array().unwrap().len();
    eprintln!(
        "ptvsd {ptvsd}: {} pages ({items} items) of a {N}-element list in {paged:.1?}; unpaged: {unpaged} children",
        pages.len()
    );
    assert!((10_000..=10_002).contains(&unpaged), "{unpaged}");
    client.ok("continue", json!({ "threadId": thread })).await;
    end(client).await;
}

#[tokio::test]
async fn a_100000_element_list_pages_json_3_2() {
    big_list("3.2.1").await;
}

#[tokio::test]
async fn a_100000_element_list_pages_binary_3_0() {
    big_list("3.0.0").await;
}

// ---- a 1 000-entry dict, paged ----------------------------------------------------

/// `(name, value, evaluateName)` of each variable of a `variables` body.
fn entries(body: &Value) -> Vec<(String, String, Option<String>)> {
    body["variables"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| {
            (
                v["name"].as_str().unwrap().to_owned(),
                v["value"].as_str().unwrap().to_owned(),
                v["evaluateName"].as_str().map(str::to_owned),
            )
        })
        .collect()
}

/// Paging a dict gives every entry of a plain expand exactly once, in its order, with
/// its value, and each entry's `evaluateName` reads that value back; the entries whose
/// keys' reprs are not expressions too.
async fn big_dict(python: &str, ptvsd: &str) {
    const N: i64 = 1_000;
    let script = program("big_dict.py");
    let line = line_of(&script, "big-dict-inspect");
    let peer = PtvsdPeer::start(python, ptvsd, &script, PeerOptions::new().args([N.to_string(), "0.05".to_string()]));
    let mut client = session(&peer, &[(script.clone(), json!([{ "line": line }]))]).await;
    let BreakpointStop { thread, frame, local: big } = stop_at_breakpoint(&mut client, "big").await;
    let total = N + 3;
    assert_eq!(big["indexedVariables"], total, "{big}");
    let reference = big["variablesReference"].clone();
    // A plain expand (as nvim-dap and Helix ask), the reference order.
    let whole = entries(&client.ok("variables", json!({ "variablesReference": reference })).await);
    assert_eq!(whole.len() as i64, total, "a plain expand: {whole:?}");
    // As VS Code asks: no named children, then pages of 100 (the last one short).
    let named = client.ok("variables", json!({ "variablesReference": reference, "filter": "named" })).await;
    assert_eq!(named["variables"], json!([]));
    let mut paged = Vec::new();
    for start in (0..total).step_by(100) {
        let body = client
            .ok(
                "variables",
                json!({ "variablesReference": reference, "filter": "indexed", "start": start, "count": 100 }),
            )
            .await;
        let page = entries(&body);
        assert_eq!(page.len() as i64, 100.min(total - start), "page {start}: {page:?}");
        paged.extend(page);
    }
    assert_eq!(paged, whole, "the pages put together differ from a plain expand");
    let mut names: Vec<&String> = paged.iter().map(|(name, _, _)| name).collect();
    names.sort();
    names.dedup();
    assert_eq!(names.len() as i64, total, "a key was repeated");
    for i in [0, 1, 499, N - 1] {
        let name = format!("['k{i:05}']");
        let (_, value, _) = paged.iter().find(|(n, _, _)| *n == name).unwrap_or_else(|| panic!("no {name}"));
        assert_eq!(*value, (i * 3).to_string(), "{name}");
    }
    for i in 1..=3 {
        let name = format!("[<Key {i}>]");
        let (_, value, _) = paged.iter().find(|(n, _, _)| *n == name).unwrap_or_else(|| panic!("no {name}"));
        assert_eq!(*value, (-i).to_string(), "{name}");
    }
    // A page in the middle, and each of its entries' evaluateName reads its value back
    // (the `<Key i>` entries are read by position: they are the last three).
    let body = client
        .ok(
            "variables",
            json!({ "variablesReference": reference, "filter": "indexed", "start": total - 5, "count": 5 }),
        )
        .await;
    let tail = entries(&body);
    assert_eq!(tail[..], whole[(total - 5) as usize..]);
    for (name, value, evaluate_name) in &tail {
        let expression = evaluate_name.as_deref().unwrap_or_else(|| panic!("{name} has no evaluateName"));
        let result =
            client.ok("evaluate", json!({ "expression": expression, "frameId": frame, "context": "watch" })).await;
        assert_eq!(result["result"], value.as_str(), "{name}: {expression}");
    }
    // The program did not notice: the dict is as it was.
    let check = client
        .ok(
            "evaluate",
            json!({ "expression": "len(big), sum(v for v in big.values())", "frameId": frame, "context": "watch" }),
        )
        .await;
    assert_eq!(check["result"], format!("({total}, {})", 3 * N * (N - 1) / 2 - 6));
    client.ok("continue", json!({ "threadId": thread })).await;
    end(client).await;
}

#[tokio::test]
async fn a_1000_entry_dict_pages_in_its_own_order_json_3_2() {
    big_dict("3.11", "3.2.1").await;
}

#[tokio::test]
async fn a_1000_entry_dict_pages_in_its_own_order_binary_3_0() {
    big_dict("3.11", "3.0.0").await;
}

#[tokio::test]
async fn a_1000_entry_dict_pages_in_its_own_order_python_2_7_json_3_2() {
    big_dict("2.7", "3.2.1").await;
}

#[tokio::test]
async fn a_1000_entry_dict_pages_in_its_own_order_python_2_7_binary_3_0() {
    big_dict("2.7", "3.0.0").await;
}

// ---- a breakpoint hit 10 000 times ------------------------------------------------

// TODO(logpoints): once `supportsLogPoints` is advertised, make this a logpoint
// (`logMessage: "n={n}"`) and check that every one of the hits is logged, in order.
async fn hot_breakpoint(ptvsd: &str) {
    let hits = size(10_000, 100_000);
    let script = program("hot_loop.py");
    let line = line_of(&script, "hot-loop-line");
    let mut peer = PtvsdPeer::start("3.11", ptvsd, &script, PeerOptions::new().wait().args([hits.to_string()]));
    // A condition that holds only at the last hit: ptvsd evaluates it at every hit, and
    // the app stops once, at the end.
    let last = hits - 1;
    let condition = format!("n < 0 or n == {last}");
    let mut client = session(&peer, &[(script.clone(), json!([{ "line": line, "condition": condition }]))]).await;
    let started = Instant::now();
    let stopped =
        client.wait_event_where("stopped", Duration::from_secs(120), |e| e["body"]["reason"] == "breakpoint").await;
    let took = started.elapsed();
    let thread = stopped["body"]["threadId"].clone();
    let n = client.ok("evaluate", json!({ "expression": "n", "context": "repl" })).await;
    assert_eq!(n["result"], last.to_string());
    client.ok("continue", json!({ "threadId": thread })).await;
    let out = tokio::task::block_in_place(|| {
        peer.wait_for_output(&format!("hot loop done {hits} "), Duration::from_secs(30))
    });
    let line_out = out.lines().find(|l| l.starts_with("hot loop done")).unwrap_or_default().to_string();
    client.drain(Duration::from_millis(300)).await;
    let stops = client.take_buffered_events().iter().filter(|e| e["event"] == "stopped").count();
    assert_eq!(stops, 0, "the condition stopped the app more than once");
    let expected_total: usize = (0..hits).sum();
    assert!(line_out.contains(&format!("total {expected_total} ")), "{line_out}");
    client.ok("threads", Value::Null).await;
    eprintln!("ptvsd {ptvsd}: a conditional breakpoint evaluated {hits} times, the last one stopping, in {took:.1?} ({line_out})");
    end(client).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_breakpoint_hit_many_times_json_3_2() {
    hot_breakpoint("3.2.1").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_breakpoint_hit_many_times_binary_3_0() {
    hot_breakpoint("3.0.0").await;
}
