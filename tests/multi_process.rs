//! The apps behind the multi-process and reconnect sessions, under real ptvsd 3.0.0
//! (binary protocol) and 3.2.1 (JSON): each worker of `tests/programs/workers.py` runs
//! its own ptvsd (`ptvsd-dap probe` reaches each one and reports that worker's pid), a
//! request lands on another worker while one is busy, a killed worker comes back on its
//! port, and `tests/programs/restartable.py` comes back on the same port after a kill.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::process::Command;

use serde_json::Value;
use support::{PeerInfo, Peers, RestartableApp, Workers};

fn probe_pid(url: &str) -> u64 {
    let out = Command::new(env!("CARGO_BIN_EXE_ptvsd-dap")).args(["probe", "--json", url]).output().expect("run ptvsd-dap probe");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "probe failed: {}\n{stdout}", String::from_utf8_lossy(&out.stderr));
    let report: Value = serde_json::from_str(stdout.trim()).unwrap_or_else(|e| panic!("no JSON from probe ({e}): {stdout}"));
    report["pid"].as_u64().unwrap_or_else(|| panic!("no pid in {report}"))
}

/// ptvsd 3.0.0 and 3.2.1, on different Pythons.
fn peers() -> [&'static PeerInfo; 2] {
    let peers = Peers::load();
    [peers.peer("3.11", "3.0.0"), peers.peer("3.6", "3.2.1")]
}

/// The worker index and pid in a `worker N pid P …` answer.
fn answered_by(body: &str) -> (usize, u32) {
    let words: Vec<&str> = body.split_whitespace().collect();
    assert!(words.len() >= 4 && words[0] == "worker" && words[2] == "pid", "unexpected answer {body:?}");
    (words[1].parse().unwrap(), words[3].parse().unwrap())
}

#[test]
fn each_worker_runs_its_own_ptvsd_and_takes_requests_while_another_is_busy() {
    for peer in peers() {
        let mut workers = Workers::start(peer, 2);
        let pids = [workers.worker_pid(0), workers.worker_pid(1)];
        assert_ne!(pids[0], pids[1]);
        assert!(!pids.contains(&workers.parent_pid()));
        for (index, pid) in pids.iter().enumerate() {
            assert_eq!(probe_pid(&workers.url(index)), u64::from(*pid), "{}: worker {index}", peer.name);
        }
        // One worker busy: the next requests all land on the other one.
        let hold = workers.hold();
        let (other, other_pid) = answered_by(&workers.get("/pid"));
        let (again, _) = answered_by(&workers.get("/anything"));
        assert_eq!(other, again);
        let (held, held_pid) = answered_by(&hold.release());
        assert_ne!(held, other, "{}: the busy worker answered", peer.name);
        assert_eq!([held_pid, other_pid], [pids[held], pids[other]]);
    }
}

#[test]
fn a_killed_worker_comes_back_on_its_port() {
    for peer in peers() {
        let mut workers = Workers::start(peer, 2);
        let old = workers.worker_pid(1);
        let new = workers.kill_worker(1, true);
        assert_ne!(old, new);
        assert_eq!(probe_pid(&workers.url(1)), u64::from(new), "{}", peer.name);
        assert_eq!(probe_pid(&workers.url(0)), u64::from(workers.worker_pid(0)), "{}", peer.name);
        assert!(workers.output().contains(&format!("worker 1 pid {old} exited")), "{}", workers.output());
    }
}

#[test]
fn the_restartable_app_comes_back_on_the_same_port() {
    for peer in peers() {
        let mut app = RestartableApp::start(peer, &[]);
        let first = app.pid().unwrap();
        assert_eq!(probe_pid(&app.url()), u64::from(first));
        app.kill();
        let second = app.restart();
        assert_ne!(first, second);
        assert_eq!(probe_pid(&app.url()), u64::from(second), "{}", peer.name);
        assert_eq!(app.starts(), 2);
        // EXIT_AFTER: the app ends by itself with status 3.
        let mut crashing = RestartableApp::start(peer, &["0.01", "3"]);
        let started = std::time::Instant::now();
        let status = loop {
            if let Some(status) = crashing.exited() {
                break status;
            }
            assert!(started.elapsed() < std::time::Duration::from_secs(30), "{}", crashing.output());
            std::thread::sleep(std::time::Duration::from_millis(20));
        };
        assert_eq!(status.code(), Some(3), "{}", crashing.output());
    }
}
