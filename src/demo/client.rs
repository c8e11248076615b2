//! The demo's editor: a small DAP client that starts the adapter (this very executable)
//! as a child process and talks DAP on its stdin/stdout, as an editor would.
//!
//! Owns: framing requests, matching responses to them, and buffering events so none is
//! missed. Errors are sentences; nothing here panics.

use std::collections::VecDeque;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use futures_util::StreamExt;
use serde_json::{json, Value};
use tokio::io::AsyncWriteExt;
use tokio::process::{Child, ChildStdin, Command};
use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::dap::{self, Frame};

pub struct Adapter {
    child: Child,
    stdin: Option<ChildStdin>,
    incoming: mpsc::UnboundedReceiver<Value>,
    events: VecDeque<Value>,
    seq: i64,
    /// `(category, text)` of every `output` event so far.
    pub outputs: Vec<(String, String)>,
    timeout: Duration,
}

impl Adapter {
    /// Starts `exe` as a DAP server on stdio; its stderr (logs) goes to `log`.
    pub fn spawn(exe: &Path, log: &Path, timeout: Duration) -> Result<Adapter, String> {
        let stderr = std::fs::File::create(log).map_err(|e| format!("cannot create {}: {e}", log.display()))?;
        let mut child = Command::new(exe)
            .args(["--log-level", if std::env::var_os("PTVSD_DAP_DEMO_KEEP").is_some() { "debug" } else { "info" }])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(stderr))
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| format!("cannot start the adapter {}: {e}", exe.display()))?;
        let stdin = child.stdin.take();
        let stdout = child.stdout.take().ok_or("the adapter has no stdout")?;
        let (tx, incoming) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            let mut frames = dap::reader(stdout);
            while let Some(frame) = frames.next().await {
                match frame {
                    Ok(Frame::Json(value)) => {
                        if tx.send(value).is_err() {
                            return;
                        }
                    }
                    Ok(other) => tracing::warn!(?other, "the adapter sent something that is not a DAP message"),
                    Err(error) => {
                        tracing::debug!(%error, "the adapter's stdout ended");
                        return;
                    }
                }
            }
        });
        Ok(Adapter { child, stdin, incoming, events: VecDeque::new(), seq: 0, outputs: Vec::new(), timeout })
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.id()
    }

    async fn next_message(&mut self, deadline: Instant) -> Option<Value> {
        let message = tokio::time::timeout_at(deadline, self.incoming.recv()).await.ok().flatten()?;
        if message["type"] == "event" && message["event"] == "output" {
            let category = message["body"]["category"].as_str().unwrap_or("console").to_string();
            let text = message["body"]["output"].as_str().unwrap_or_default().to_string();
            self.outputs.push((category, text));
        }
        Some(message)
    }

    /// Sends a request; returns the body of a successful response, or its message.
    pub async fn request(&mut self, command: &str, arguments: Value) -> Result<Value, String> {
        self.seq += 1;
        let seq = self.seq;
        let mut message = json!({ "seq": seq, "type": "request", "command": command });
        if !arguments.is_null() {
            message["arguments"] = arguments;
        }
        let body = message.to_string();
        let frame = format!("Content-Length: {}\r\n\r\n{body}", body.len());
        let stdin = self.stdin.as_mut().ok_or("the adapter's stdin is closed")?;
        let written = async {
            stdin.write_all(frame.as_bytes()).await?;
            stdin.flush().await
        };
        written.await.map_err(|e| format!("cannot send `{command}` to the adapter: {e}"))?;
        let deadline = Instant::now() + self.timeout;
        loop {
            let Some(message) = self.next_message(deadline).await else {
                return Err(format!("the adapter did not answer `{command}` within {} s", self.timeout.as_secs()));
            };
            if message["type"] == "response" && message["request_seq"] == seq {
                if message["success"] == true {
                    return Ok(message.get("body").cloned().unwrap_or(Value::Null));
                }
                let text = message["message"].as_str().unwrap_or("no reason given");
                return Err(format!("`{command}` failed: {text}"));
            }
            if message["type"] == "event" {
                self.events.push_back(message);
            }
        }
    }

    /// Waits for an event (buffered ones first) that satisfies `filter`.
    pub async fn wait_event(&mut self, name: &str, filter: impl Fn(&Value) -> bool) -> Result<Value, String> {
        if let Some(i) = self.events.iter().position(|e| e["event"] == name && filter(e)) {
            if let Some(event) = self.events.remove(i) {
                return Ok(event);
            }
        }
        let deadline = Instant::now() + self.timeout;
        loop {
            let Some(message) = self.next_message(deadline).await else {
                return Err(format!("no `{name}` event from the adapter within {} s", self.timeout.as_secs()));
            };
            if message["type"] == "event" {
                if message["event"] == name && filter(&message) {
                    return Ok(message);
                }
                self.events.push_back(message);
            }
        }
    }

    /// Collects events for `window` (to catch output that is on its way).
    pub async fn drain(&mut self, window: Duration) {
        let deadline = Instant::now() + window;
        while let Some(message) = self.next_message(deadline).await {
            if message["type"] == "event" {
                self.events.push_back(message);
            }
        }
    }

    /// Waits for the adapter to exit; its exit code.
    pub async fn wait_exit(&mut self, timeout: Duration) -> Option<i32> {
        self.stdin.take();
        match tokio::time::timeout(timeout, self.child.wait()).await {
            Ok(Ok(status)) => status.code(),
            _ => None,
        }
    }
}
