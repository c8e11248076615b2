//! The editor's side, end to end: `tests/node/session.test.mjs` drives the real
//! `ptvsd-dap` binary with `DebugClient` from `@vscode/debugadapter-testsupport` (a DAP
//! client we did not write), under node's test runner, validating every message the
//! adapter sends against the official DAP schema.
//!
//! This file sets the stage for each peer: it copies `tests/programs` to a temp dir (the
//! "remote" root, while the editor's local root stays `tests/programs`), runs `target.py`
//! from the copy under real ptvsd, puts websockify with TLS (a throw-away CA) in front of
//! it, and runs `node --test` with the target described in `PTVSD_DAP_TEST_*` variables.
//! Peers run one after another (the machine has two cores).
//!
//! Needs `scripts/setup-test-env.sh` (peers, websockify, `tests/node/node_modules`). With
//! node or the node packages missing the tests print `SKIPPED`, and fail with `CI=true`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use support::{line_of, programs_dir, Family, PeerOptions, Peers, PtvsdPeer, Relay, TestCerts};

/// One peer at a time: each run is a debuggee, a relay, node and the adapter.
static SEQUENTIAL: Mutex<()> = Mutex::new(());

const NODE_TEST: &str = "tests/node/session.test.mjs";

#[test]
fn debugclient_ptvsd_3_0_0_python_3_6() {
    run("3.6", "3.0.0");
}

#[test]
fn debugclient_ptvsd_3_0_0_python_3_11() {
    run("3.11", "3.0.0");
}

#[test]
fn debugclient_ptvsd_3_2_1_python_3_6() {
    run("3.6", "3.2.1");
}

#[test]
fn debugclient_ptvsd_3_2_1_python_3_11() {
    run("3.11", "3.2.1");
}

/// `node`, if it and the node packages are there; `None` (skip) otherwise, a panic
/// with `CI=true`.
fn node() -> Option<PathBuf> {
    let node = std::env::var_os("NODE").map_or_else(|| PathBuf::from("node"), PathBuf::from);
    let version = Command::new(&node).arg("--version").output();
    let problem = match &version {
        Ok(out) if out.status.success() => {
            let modules = Peers::load()
                .node_modules
                .clone()
                .unwrap_or_else(|| support::repo_root().join("tests").join("node").join("node_modules"));
            if modules.join("@vscode").join("debugadapter-testsupport").is_dir() {
                None
            } else {
                Some(format!(
                    "{} has no @vscode/debugadapter-testsupport (run scripts/setup-test-env.sh)",
                    modules.display()
                ))
            }
        }
        Ok(out) => Some(format!("`{} --version` failed: {}", node.display(), out.status)),
        Err(e) => Some(format!("cannot run `{}`: {e}", node.display())),
    };
    match problem {
        None => Some(node),
        Some(problem) => {
            assert!(!support::is_ci(), "CI=true but {problem}");
            eprintln!("SKIPPED: {problem}");
            None
        }
    }
}

/// Copies a directory tree (files and folders only; no caches).
fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name();
        if name == "__pycache__" {
            continue;
        }
        let kind = entry.file_type().unwrap();
        if kind.is_dir() {
            copy_tree(&entry.path(), &to.join(&name));
        } else if kind.is_file() {
            std::fs::copy(entry.path(), to.join(&name)).unwrap();
        }
    }
}

fn run(python: &str, ptvsd: &str) {
    let _one_at_a_time = SEQUENTIAL.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    let Some(node) = node() else { return };
    let info = Peers::load().peer(python, ptvsd).clone();
    let started = Instant::now();

    let scratch = tempfile::tempdir().unwrap();
    // The debuggee's paths are what Python reports: use the canonical temp path.
    let scratch_dir = scratch.path().canonicalize().unwrap();
    let certs = TestCerts::generate(&scratch_dir.join("certs"));
    let local_root = programs_dir();
    let remote_root = scratch_dir.join("site");
    copy_tree(&local_root, &remote_root);

    let lib = local_root.join("app").join("lib.py");
    let line = line_of(&lib, "compute-total");
    assert_eq!(
        line,
        line_of(&remote_root.join("app").join("lib.py"), "compute-total"),
        "the copy differs from tests/programs"
    );

    let mut peer = PtvsdPeer::start_peer(&info, &remote_root.join("target.py"), PeerOptions::new());
    let relay = Relay::websockify(peer.port(), Some(&certs));
    // The secret is the URL's user-info; the leaf certificate is valid for 127.0.0.1.
    let url = format!("wss://{}@127.0.0.1:{}/ptvsd", peer.secret(), relay.port());
    let dialect = match info.family() {
        Family::Binary => "binary",
        Family::Json => "json",
    };

    let output = Command::new(&node)
        .arg("--test")
        .arg(NODE_TEST)
        .current_dir(support::repo_root())
        .env("PTVSD_DAP_TEST_ADAPTER", env!("CARGO_BIN_EXE_ptvsd-dap"))
        .env("PTVSD_DAP_TEST_URL", &url)
        .env("PTVSD_DAP_TEST_CA_FILE", &certs.ca_pem)
        .env("PTVSD_DAP_TEST_LOCAL_ROOT", &local_root)
        .env("PTVSD_DAP_TEST_REMOTE_ROOT", &remote_root)
        .env("PTVSD_DAP_TEST_BREAKPOINT_LINE", line.to_string())
        .env("PTVSD_DAP_TEST_PID", peer.pid().to_string())
        .env("PTVSD_DAP_TEST_DIALECT", dialect)
        .env("PTVSD_DAP_TEST_PROTOCOL_VERSION", info.protocol_version.to_string())
        .env("PTVSD_DAP_TEST_PEER", &info.name)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", node.display()));
    let text = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    let elapsed = started.elapsed();
    assert!(
        output.status.success(),
        "{}: `node --test {NODE_TEST}` failed ({}) after {elapsed:.1?}:\n{text}\n--- websockify:\n{}",
        info.name,
        output.status,
        relay.output()
    );
    // node's TAP summary: every test ran and passed (a missing target would skip them).
    let count = |key: &str| -> Option<u32> {
        text.lines().find_map(|l| l.strip_prefix(&format!("# {key} "))).and_then(|n| n.trim().parse().ok())
    };
    assert!(
        count("pass") >= Some(3) && count("fail") == Some(0) && count("skipped") == Some(0),
        "{}: node did not run and pass every test:\n{text}",
        info.name
    );

    // The last session detached: the program runs on, idle between its prints (a
    // debugger thread spinning on a half-closed socket would show here).
    #[cfg(target_os = "linux")]
    {
        let busy = cpu_share(peer.pid(), Duration::from_secs(2));
        assert!(
            busy < 0.5,
            "{}: after the last disconnect the debuggee uses {:.0} % of a core (idle: ~0 %): a ptvsd command \
             loop spins on its half-closed connection (websockify closes its leg to ptvsd with FIN)",
            info.name,
            busy * 100.0
        );
    }

    // Detaching left the program running, and it kept computing.
    assert_eq!(peer.exited(), None, "{}: the debuggee died:\n{}", info.name, peer.output());
    let before = peer.output().matches("result ").count();
    let deadline = Instant::now() + Duration::from_secs(10);
    while peer.output().matches("result ").count() <= before + 2 {
        assert!(
            Instant::now() < deadline,
            "{}: the debuggee stopped printing after the last detach:\n{}",
            info.name,
            peer.output()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    eprintln!("{}: node --test passed in {elapsed:.1?}\n{text}", info.name);
}

/// The share of one core `pid` used over `window` (from `/proc/PID/stat`, in USER_HZ =
/// 100 ticks a second).
#[cfg(target_os = "linux")]
fn cpu_share(pid: u32, window: Duration) -> f64 {
    let ticks = || -> u64 {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
        // After "pid (comm) ": state is field 3, utime 14 and stime 15.
        let fields: Vec<&str> = stat.rsplit_once(") ").unwrap().1.split(' ').collect();
        fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap()
    };
    let before = ticks();
    std::thread::sleep(window);
    (ticks() - before) as f64 / 100.0 / window.as_secs_f64()
}
