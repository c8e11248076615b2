//! A small DAP test client: spawns the real `ptvsd-dap` binary, frames messages, matches
//! responses to requests, and buffers events so none is missed (DebugClient's race).
//! Every message the adapter sends is kept for schema validation.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::VecDeque;
use std::process::Stdio;
use std::time::Duration;

use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::mpsc;

pub const TIMEOUT: Duration = Duration::from_secs(20);

pub struct DapClient {
    /// The adapter process (none when connected to an adapter served over TCP).
    child: Option<Child>,
    stdin: Option<Box<dyn AsyncWrite + Unpin + Send>>,
    incoming: mpsc::UnboundedReceiver<Value>,
    events: VecDeque<Value>,
    /// Every message the adapter sent, in order.
    pub received: Vec<Value>,
    seq: i64,
    pub stderr_path: std::path::PathBuf,
    /// The log file is this client's own (a spawned adapter's): removed at drop unless the
    /// test is failing, so a failure keeps it and a passing run leaves nothing behind.
    owns_log: bool,
    /// Keep every message in `received` (default). Off for floods, e.g. 50 MB of output.
    pub keep_received: bool,
}

impl Drop for DapClient {
    fn drop(&mut self) {
        if self.owns_log && !std::thread::panicking() {
            let _ = std::fs::remove_file(&self.stderr_path);
        }
    }
}

async fn read_frames(stdout: impl AsyncRead + Unpin, tx: mpsc::UnboundedSender<Value>) {
    let mut reader = BufReader::new(stdout);
    loop {
        let mut length = None;
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).await.unwrap_or(0) == 0 {
                return;
            }
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            if let Some(v) = line.strip_prefix("Content-Length:") {
                length = v.trim().parse::<usize>().ok();
            } else {
                panic!("the adapter wrote a non-DAP line to stdout: {line:?}");
            }
        }
        let length = length.expect("a frame without Content-Length on stdout");
        let mut body = vec![0u8; length];
        if reader.read_exact(&mut body).await.is_err() {
            return;
        }
        let value: Value = serde_json::from_slice(&body).expect("the adapter wrote invalid JSON");
        if tx.send(value).is_err() {
            return;
        }
    }
}

impl DapClient {
    fn from_parts(
        child: Option<Child>,
        stdin: Option<Box<dyn AsyncWrite + Unpin + Send>>,
        incoming: mpsc::UnboundedReceiver<Value>,
        stderr_path: std::path::PathBuf,
    ) -> DapClient {
        DapClient {
            child,
            stdin,
            incoming,
            events: VecDeque::new(),
            received: Vec::new(),
            seq: 0,
            stderr_path,
            owns_log: false,
            keep_received: true,
        }
    }

    /// Starts the adapter with extra arguments (e.g. `--log-level debug`).
    pub async fn spawn(args: &[&str]) -> DapClient {
        Self::spawn_with_env(args, &[]).await
    }

    /// Starts the adapter with extra arguments and environment variables.
    pub async fn spawn_with_env(args: &[&str], env: &[(&str, &str)]) -> DapClient {
        let stderr_path =
            std::env::temp_dir().join(format!("ptvsd-dap-test-{}-{}.log", std::process::id(), rand_suffix()));
        let stderr = std::fs::File::create(&stderr_path).unwrap();
        // No expected dialects from the user's cache, none written there: tests that want
        // them name a file of their own.
        let mut child = Command::new(env!("CARGO_BIN_EXE_ptvsd-dap"))
            .args(args)
            .env(ptvsd_dap::dialects::ENV, "off")
            .envs(env.iter().copied())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(stderr))
            .kill_on_drop(true)
            .spawn()
            .expect("spawn ptvsd-dap");
        let stdin = child.stdin.take().map(|s| Box::new(s) as Box<dyn AsyncWrite + Unpin + Send>);
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::unbounded_channel();
        tokio::spawn(read_frames(stdout, tx));
        let mut client = Self::from_parts(Some(child), stdin, rx, stderr_path);
        client.owns_log = true;
        client
    }

    /// Connects to an adapter serving DAP over TCP (`ptvsd-dap --port N`), started by the
    /// caller; `stderr_path` is where that adapter's stderr goes.
    pub async fn connect(port: u16, stderr_path: std::path::PathBuf) -> DapClient {
        let stream = tokio::net::TcpStream::connect(("127.0.0.1", port)).await.expect("connect to the adapter");
        stream.set_nodelay(true).unwrap();
        let (read, write) = stream.into_split();
        let (tx, rx) = mpsc::unbounded_channel();
        tokio::spawn(read_frames(read, tx));
        Self::from_parts(None, Some(Box::new(write)), rx, stderr_path)
    }

    /// The adapter running in this test process (`ptvsd_dap::server::serve`) over a pair
    /// of in-memory pipes (`tokio::io::duplex`): deterministic tests without a process.
    pub fn in_process() -> DapClient {
        // As for a spawned adapter: no expected dialects (the scripted servers reuse ports).
        static NO_DIALECTS: std::sync::Once = std::sync::Once::new();
        NO_DIALECTS.call_once(|| std::env::set_var(ptvsd_dap::dialects::ENV, "off"));
        let (client_out, adapter_in) = tokio::io::duplex(1 << 20);
        let (adapter_out, client_in) = tokio::io::duplex(1 << 20);
        tokio::spawn(ptvsd_dap::server::serve(adapter_in, adapter_out, std::future::pending::<()>()));
        let (tx, rx) = mpsc::unbounded_channel();
        tokio::spawn(read_frames(client_in, tx));
        let stderr_path = std::env::temp_dir().join("ptvsd-dap-in-process.log");
        Self::from_parts(None, Some(Box::new(client_out)), rx, stderr_path)
    }

    /// The adapter's process id (`None` for a TCP connection).
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().and_then(|c| c.id())
    }

    pub fn stderr(&self) -> String {
        std::fs::read_to_string(&self.stderr_path).unwrap_or_default()
    }

    /// The adapter's last `lines` lines of log, for a failure message.
    pub fn stderr_tail(&self, lines: usize) -> String {
        let log = self.stderr();
        let all: Vec<&str> = log.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }

    pub async fn send_raw(&mut self, bytes: &[u8]) {
        let stdin = self.stdin.as_mut().expect("stdin open");
        stdin.write_all(bytes).await.unwrap();
        stdin.flush().await.unwrap();
    }

    pub async fn send_request(&mut self, command: &str, arguments: Value) -> i64 {
        self.seq += 1;
        let mut message = json!({ "seq": self.seq, "type": "request", "command": command });
        if !arguments.is_null() {
            message["arguments"] = arguments;
        }
        let body = message.to_string();
        if std::env::var_os("DAP_TEST_TRACE").is_some() {
            eprintln!("→ {}", body.chars().take(300).collect::<String>());
        }
        self.send_raw(format!("Content-Length: {}\r\n\r\n{}", body.len(), body).as_bytes()).await;
        self.seq
    }

    /// The next message from the adapter, whatever it is (`None` after `timeout` or at
    /// the end of its output). It is not buffered as an event.
    pub async fn next_message(&mut self, timeout: Duration) -> Option<Value> {
        match tokio::time::timeout(timeout, self.incoming.recv()).await {
            Ok(Some(v)) => {
                if std::env::var_os("DAP_TEST_TRACE").is_some() {
                    eprintln!("← {}", v.to_string().chars().take(300).collect::<String>());
                }
                if self.keep_received {
                    self.received.push(v.clone());
                }
                Some(v)
            }
            _ => None,
        }
    }

    /// Takes the events buffered so far (seen while waiting for something else).
    pub fn take_buffered_events(&mut self) -> Vec<Value> {
        self.events.drain(..).collect()
    }

    /// Sends a request and returns its response (success or not).
    pub async fn request(&mut self, command: &str, arguments: Value) -> Value {
        let seq = self.send_request(command, arguments).await;
        self.response_to(seq, command).await
    }

    pub async fn response_to(&mut self, seq: i64, command: &str) -> Value {
        let deadline = tokio::time::Instant::now() + TIMEOUT;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            let Some(message) = self.next_message(left).await else {
                panic!("no response to {command} (seq {seq}) within {TIMEOUT:?}; stderr:\n{}", self.stderr());
            };
            if message["type"] == "response" && message["request_seq"] == seq {
                return message;
            }
            if message["type"] == "event" {
                self.events.push_back(message);
            }
        }
    }

    /// Like `request` but panics unless it succeeded; returns the body.
    /// `initialize` as an editor that counts lines and columns from 1 and sends paths;
    /// returns the capabilities.
    pub async fn initialize(&mut self) -> Value {
        self.ok(
            "initialize",
            json!({ "adapterID": "ptvsd-dap", "linesStartAt1": true, "columnsStartAt1": true, "pathFormat": "path" }),
        )
        .await
    }

    pub async fn ok(&mut self, command: &str, arguments: Value) -> Value {
        let response = self.request(command, arguments).await;
        assert_eq!(response["success"], true, "{command} failed: {response}\nstderr:\n{}", self.stderr());
        response.get("body").cloned().unwrap_or(Value::Null)
    }

    /// Waits for an event (buffered ones first) that satisfies `filter`.
    pub async fn wait_event_where(&mut self, name: &str, timeout: Duration, filter: impl Fn(&Value) -> bool) -> Value {
        if let Some(i) = self.events.iter().position(|e| e["event"] == name && filter(e)) {
            return self.events.remove(i).unwrap();
        }
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            let Some(message) = self.next_message(left).await else {
                panic!("no {name} event within {timeout:?}; {}\nstderr:\n{}", self.buffered_summary(), self.stderr());
            };
            if message["type"] == "event" {
                if message["event"] == name && filter(&message) {
                    return message;
                }
                self.events.push_back(message);
            }
        }
    }

    /// The buffered events for a failure message: what the adapter told the user first
    /// (the last 20 `output`, `terminated`, `exited` and `stopped` events, in order), then
    /// the names of all, counted.
    fn buffered_summary(&self) -> String {
        let told: Vec<String> = self
            .events
            .iter()
            .filter(|e| ["output", "terminated", "exited", "stopped"].iter().any(|n| e["event"] == *n))
            .map(|e| format!("{} {}", e["event"], e["body"]))
            .collect();
        let told = &told[told.len().saturating_sub(20)..];
        let mut counts: Vec<(String, usize)> = Vec::new();
        for event in &self.events {
            let name = event["event"].as_str().unwrap_or("?").to_string();
            match counts.iter_mut().find(|(n, _)| *n == name) {
                Some((_, count)) => *count += 1,
                None => counts.push((name, 1)),
            }
        }
        format!("told the user: {told:#?}; buffered events: {counts:?}")
    }

    pub async fn wait_event(&mut self, name: &str) -> Value {
        self.wait_event_where(name, TIMEOUT, |_| true).await
    }

    /// All `output` text seen so far (events consumed or buffered).
    pub fn output_text(&self) -> String {
        self.received.iter().filter(|m| m["event"] == "output").filter_map(|m| m["body"]["output"].as_str()).collect()
    }

    /// Collects what arrives during `window` (bounded however chatty the adapter is).
    pub async fn drain(&mut self, window: Duration) {
        let deadline = tokio::time::Instant::now() + window;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            if left.is_zero() {
                return;
            }
            match self.next_message(left).await {
                Some(m) if m["type"] == "event" => self.events.push_back(m),
                Some(_) => {}
                None => return,
            }
        }
    }

    pub fn close_stdin(&mut self) {
        self.stdin.take();
    }

    /// Waits for the adapter to exit; returns its status code. For a TCP connection:
    /// waits for the adapter to close it, and returns 0 then.
    pub async fn wait_exit(&mut self, timeout: Duration) -> Option<i32> {
        match self.child.as_mut() {
            Some(child) => match tokio::time::timeout(timeout, child.wait()).await {
                Ok(Ok(status)) => status.code(),
                _ => None,
            },
            None => {
                let deadline = tokio::time::Instant::now() + timeout;
                loop {
                    let left = deadline.saturating_duration_since(tokio::time::Instant::now());
                    match tokio::time::timeout(left, self.incoming.recv()).await {
                        Ok(Some(_)) => continue,
                        Ok(None) => return Some(0),
                        Err(_) => return None,
                    }
                }
            }
        }
    }
}

fn rand_suffix() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos() as u64).unwrap_or(0),
    );
    h.finish()
}
