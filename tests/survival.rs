//! The debuggee survives every way the adapter can be lost (issue §2): a web app under real
//! ptvsd (2.2.0, 3.0.0, 3.1.0, 3.2.1 on CPython 3.11), reached over `tcp://` or through the
//! emulator of Azure's `/ptvsd` proxy (which always closes its leg to ptvsd gracefully),
//! loses its debugger by
//!
//! * a clean disconnect through the proxy;
//! * the adapter killed (SIGKILL) while the app is stopped at a breakpoint, and while it
//!   runs, over tcp and through the proxy;
//! * the network to the proxy cut mid-session, while stopped.
//!
//! After each, the request that was stopped is answered, new requests are served, the app
//! is idle (thread states and utime + stime from /proc over a window: a graceful close
//! without the adapter's guard makes ptvsd's reader spin), and the next debugger is
//! accepted and stops at a breakpoint. Each test prints what it measured.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod client;
mod support;

use std::io::{Read, Write};
use std::time::{Duration, Instant};

use client::DapClient;
use serde_json::{json, Value};
use support::{activity, free_port, line_of, program, PeerOptions, PtvsdPeer, Relay, TestCerts};

const VERSIONS: [&str; 4] = ["2.2.0", "3.0.0", "3.1.0", "3.2.1"];
/// How long the app may take to serve again after the loss.
const RECOVERY: Duration = Duration::from_secs(10);
/// Above this share of samples with a runnable thread the app is not idle (a spinning
/// reader is runnable in every sample, whatever the machine's load).
const IDLE_RUNNABLE: f64 = 0.5;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Route {
    Tcp,
    AzureProxy,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Loss {
    Disconnect,
    KillWhileStopped,
    KillWhileRunning,
    NetworkCutWhileStopped,
}

struct Site {
    peer: PtvsdPeer,
    http_port: u16,
    relay: Option<Relay>,
    dir: tempfile::TempDir,
}

impl Site {
    fn start(ptvsd: &str, route: Route) -> Site {
        let dir = tempfile::tempdir().unwrap();
        let http_port = free_port();
        let mut peer = PtvsdPeer::start(
            "3.11",
            ptvsd,
            &program("web_server.py"),
            PeerOptions::new().args([http_port.to_string()]),
        );
        peer.wait_for_output(&format!("serving {http_port}"), Duration::from_secs(20));
        let relay = match route {
            Route::Tcp => None,
            Route::AzureProxy => Some(Relay::azure_windows(peer.port(), Some(&TestCerts::generate(dir.path())))),
        };
        Site { peer, http_port, relay, dir }
    }

    fn attach_args(&self) -> Value {
        match &self.relay {
            None => json!({ "url": format!("tcp://{}@127.0.0.1:{}", self.peer.secret(), self.peer.port()) }),
            Some(relay) => json!({
                "url": format!("wss://{}@localhost:{}/ptvsd", self.peer.secret(), relay.port()),
                "caFile": self.dir.path().join("ca.pem"),
            }),
        }
    }

    fn direct_args(&self) -> Value {
        json!({ "url": format!("tcp://{}@127.0.0.1:{}", self.peer.secret(), self.peer.port()) })
    }
}

/// `GET /?n=N`; the body, or the error.
fn get(port: u16, n: u32, timeout: Duration) -> Result<String, String> {
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).map_err(|e| e.to_string())?;
    stream.set_read_timeout(Some(timeout)).map_err(|e| e.to_string())?;
    write!(stream, "GET /?n={n} HTTP/1.0\r\nHost: app\r\n\r\n").map_err(|e| e.to_string())?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer).map_err(|e| format!("no answer within {timeout:?}: {e}"))?;
    answer.split("\r\n\r\n").nth(1).map(str::trim).map(str::to_string).ok_or_else(|| format!("not HTTP: {answer:?}"))
}

/// Attaches with a breakpoint in `handle()`; when `stop`, sends a request that hits it and
/// returns the thread that answers it (the request's answer comes through the returned
/// handle once the app runs again).
async fn attach(
    site: &Site,
    args: Value,
    stop: bool,
    which: &str,
) -> (DapClient, Option<std::thread::JoinHandle<Result<String, String>>>) {
    let mut client = DapClient::spawn(&["--log-level", "debug"]).await;
    client.ok("initialize", json!({ "adapterID": "ptvsd-dap" })).await;
    let response = client.request("attach", args).await;
    assert_eq!(
        response["success"],
        true,
        "{}: the attach was refused: {response}\n{}",
        site.peer.info().name,
        client.stderr()
    );
    client.wait_event("initialized").await;
    let web_app = program("web_server.py");
    let breakpoints = if stop { json!([{ "line": line_of(&web_app, "web-handle") }]) } else { json!([]) };
    client.ok("setBreakpoints", json!({ "source": { "path": web_app }, "breakpoints": breakpoints })).await;
    client.ok("configurationDone", Value::Null).await;
    if !stop {
        return (client, None);
    }
    // A request that ran before ptvsd had the breakpoint in place is answered without
    // stopping: then the next one stops.
    let port = site.http_port;
    for _ in 0..5 {
        let pending = std::thread::spawn(move || get(port, 7, Duration::from_secs(60)));
        let deadline = Instant::now() + Duration::from_secs(50);
        while Instant::now() < deadline && !pending.is_finished() {
            if let Some(message) = client.next_message(Duration::from_millis(200)).await {
                if message["event"] == "stopped" && message["body"]["reason"] == "breakpoint" {
                    return (client, Some(pending));
                }
            }
        }
        let answered = pending.is_finished();
        assert!(
            answered,
            "{} ({which}): a request neither stopped nor was answered within 50 s\n{}\napp output:\n{}",
            site.peer.info().name,
            client.stderr(),
            site.peer.output()
        );
        eprintln!(
            "{}: a request ran past the breakpoint ({:?}); sending another",
            site.peer.info().name,
            pending.join().ok()
        );
    }
    panic!("{} ({which}): no request stopped at the breakpoint\n{}", site.peer.info().name, client.stderr());
}

#[allow(unsafe_code)]
fn sigkill(pid: u32) {
    // SAFETY: kill(2) on our own child process, not yet reaped.
    unsafe {
        libc::kill(pid as libc::pid_t, libc::SIGKILL);
    }
}

async fn survives(ptvsd: &str, route: Route, loss: Loss) {
    let site = Site::start(ptvsd, route);
    let name = format!("{} via {route:?}, {loss:?}", site.peer.info().name);
    assert_eq!(
        get(site.http_port, 1, Duration::from_secs(10)).as_deref(),
        Ok("total 4"),
        "{name}: not serving before the attach"
    );
    let stop = loss != Loss::KillWhileRunning;
    let (mut client, pending) = attach(&site, site.attach_args(), stop, "the first debugger").await;
    if !stop {
        // Running: a request goes through the attached app.
        assert_eq!(get(site.http_port, 2, Duration::from_secs(10)).as_deref(), Ok("total 7"), "{name}");
    }
    let lost = Instant::now();
    match loss {
        Loss::Disconnect => {
            client.ok("disconnect", json!({})).await;
            assert_eq!(client.wait_exit(Duration::from_secs(10)).await, Some(0), "{name}");
        }
        Loss::KillWhileStopped | Loss::KillWhileRunning => {
            sigkill(client.pid().unwrap());
            client.wait_exit(Duration::from_secs(10)).await;
        }
        Loss::NetworkCutWhileStopped => {
            site.relay.as_ref().and_then(Relay::emulator).expect("a cut needs the proxy").cut();
            client.wait_event_where("terminated", Duration::from_secs(10), |_| true).await;
        }
    }
    // The stopped request is answered, and new ones are served.
    if let Some(pending) = pending {
        let answer = pending.join().unwrap();
        assert_eq!(
            answer.as_deref(),
            Ok("total 22"),
            "{name}: the request stopped at the breakpoint was never answered"
        );
    }
    let served = get(site.http_port, 3, RECOVERY);
    let recovered = lost.elapsed();
    assert_eq!(served.as_deref(), Ok("total 10"), "{name}: the app does not serve requests after the loss");
    // Idle: no reader spinning.
    let busy = activity(site.peer.pid(), Duration::from_secs(2));
    eprintln!(
        "{name}: serving again {:.2} s after the loss; CPU {:.2} s/s, a thread runnable in {:.0} % of samples",
        recovered.as_secs_f64(),
        busy.cpu_per_second,
        busy.runnable * 100.0
    );
    assert!(busy.runnable < IDLE_RUNNABLE, "{name}: the app is busy after the loss ({busy:?}: ptvsd's reader spins)");
    // The next debugger is accepted and stops.
    let (mut next, pending) = attach(&site, site.direct_args(), true, "the next debugger").await;
    next.ok("setBreakpoints", json!({ "source": { "path": program("web_server.py") }, "breakpoints": [] })).await;
    let thread =
        next.received.iter().rev().find(|m| m["event"] == "stopped").map(|m| m["body"]["threadId"].clone()).unwrap();
    next.ok("continue", json!({ "threadId": thread })).await;
    assert_eq!(pending.unwrap().join().unwrap().as_deref(), Ok("total 22"), "{name}");
    next.ok("disconnect", json!({})).await;
    assert_eq!(next.wait_exit(Duration::from_secs(10)).await, Some(0), "{name}");
    drop(client);
}

#[tokio::test]
async fn a_clean_disconnect_through_the_azure_proxy() {
    for ptvsd in VERSIONS {
        survives(ptvsd, Route::AzureProxy, Loss::Disconnect).await;
    }
}

#[tokio::test]
async fn the_adapter_killed_while_stopped_over_tcp() {
    for ptvsd in VERSIONS {
        survives(ptvsd, Route::Tcp, Loss::KillWhileStopped).await;
    }
}

#[tokio::test]
async fn the_adapter_killed_while_stopped_through_the_azure_proxy() {
    for ptvsd in VERSIONS {
        survives(ptvsd, Route::AzureProxy, Loss::KillWhileStopped).await;
    }
}

#[tokio::test]
async fn the_adapter_killed_while_running_over_tcp() {
    for ptvsd in VERSIONS {
        survives(ptvsd, Route::Tcp, Loss::KillWhileRunning).await;
    }
}

#[tokio::test]
async fn the_adapter_killed_while_running_through_the_azure_proxy() {
    for ptvsd in VERSIONS {
        survives(ptvsd, Route::AzureProxy, Loss::KillWhileRunning).await;
    }
}

#[tokio::test]
async fn the_network_to_the_azure_proxy_cut_while_stopped() {
    for ptvsd in VERSIONS {
        survives(ptvsd, Route::AzureProxy, Loss::NetworkCutWhileStopped).await;
    }
}
