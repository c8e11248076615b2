//! A small DAP client for measuring: frames are read in the caller's task (no reader task,
//! no channel hop between the socket and the clock), `output` events are counted and
//! dropped unless asked for, every other event is queued until someone waits for it.

use std::collections::VecDeque;
use std::time::Duration;

use bytes::{Buf, BytesMut};
use serde_json::{json, Value};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::time::{timeout_at, Instant};

use super::Res;

/// The marker the bench program prints after an output burst.
pub const OUTPUT_END: &str = "BENCH-OUTPUT-END";

pub const TIMEOUT: Duration = Duration::from_secs(30);

/// Program output seen in `output` events.
#[derive(Debug, Default, Clone)]
pub struct OutputCount {
    /// Bytes of `output` in `stdout`-category events.
    pub stdout_bytes: u64,
    pub events: u64,
    /// The end marker was seen.
    pub saw_end: bool,
    /// The last few characters, to find a marker split across events.
    tail: String,
}

impl OutputCount {
    pub fn add(&mut self, category: &str, text: &str) {
        self.events += 1;
        if category == "stdout" {
            self.stdout_bytes += text.len() as u64;
        }
        if !self.saw_end {
            // The marker may be split across events: look at the end of the previous text
            // joined with the start of this one, and at this one.
            let head = &text[..boundary(text, 64)];
            let joined = format!("{}{head}", self.tail);
            self.saw_end = joined.contains(OUTPUT_END) || text.contains(OUTPUT_END);
            let both = format!("{}{}", self.tail, &text[boundary(text, text.len().saturating_sub(32))..]);
            self.tail = both[boundary(&both, both.len().saturating_sub(32))..].to_string();
        }
    }

    pub fn reset(&mut self) {
        *self = OutputCount::default();
    }
}

/// The first char boundary at or after `index` (at most the length).
fn boundary(text: &str, mut index: usize) -> usize {
    index = index.min(text.len());
    while index < text.len() && !text.is_char_boundary(index) {
        index += 1;
    }
    index.min(text.len())
}

pub struct Dap<R, W> {
    reader: R,
    writer: W,
    buf: BytesMut,
    seq: i64,
    events: VecDeque<Value>,
    /// Responses that arrived while waiting for something else, by `request_seq`.
    responses: std::collections::HashMap<i64, Value>,
    pub output: OutputCount,
    /// Queue `output` events too (off by default: a 50 MB burst must not be kept).
    pub keep_output: bool,
}

impl<R: AsyncRead + Unpin, W: AsyncWrite + Unpin> Dap<R, W> {
    pub fn new(reader: R, writer: W) -> Self {
        Dap {
            reader,
            writer,
            buf: BytesMut::with_capacity(64 * 1024),
            seq: 0,
            events: VecDeque::new(),
            responses: std::collections::HashMap::new(),
            output: OutputCount::default(),
            keep_output: false,
        }
    }

    /// Sends a request; returns its `seq`.
    pub async fn send(&mut self, command: &str, arguments: Value) -> Res<i64> {
        self.seq += 1;
        let mut message = json!({ "seq": self.seq, "type": "request", "command": command });
        if !arguments.is_null() {
            message["arguments"] = arguments;
        }
        let body = message.to_string();
        let mut frame = format!("Content-Length: {}\r\n\r\n", body.len()).into_bytes();
        frame.extend_from_slice(body.as_bytes());
        self.writer.write_all(&frame).await?;
        self.writer.flush().await?;
        Ok(self.seq)
    }

    fn try_parse(&mut self) -> Res<Option<Value>> {
        let Some(end) = self.buf.windows(4).position(|w| w == b"\r\n\r\n") else {
            return Ok(None);
        };
        let head = std::str::from_utf8(&self.buf[..end])?;
        let length = head
            .lines()
            .find_map(|line| line.strip_prefix("Content-Length:"))
            .ok_or_else(|| format!("a DAP frame without Content-Length: {head:?}"))?
            .trim()
            .parse::<usize>()?;
        if self.buf.len() < end + 4 + length {
            return Ok(None);
        }
        self.buf.advance(end + 4);
        let body = self.buf.split_to(length);
        Ok(Some(serde_json::from_slice(&body)?))
    }

    /// The next message, or an error at the deadline or end of stream.
    async fn read_message(&mut self, deadline: Instant) -> Res<Value> {
        loop {
            if let Some(message) = self.try_parse()? {
                return Ok(message);
            }
            self.buf.reserve(64 * 1024);
            match timeout_at(deadline, self.reader.read_buf(&mut self.buf)).await {
                Err(_) => return Err("timed out waiting for a DAP message".into()),
                Ok(Err(error)) => return Err(error.into()),
                Ok(Ok(0)) => return Err("the DAP peer closed the connection".into()),
                Ok(Ok(_)) => {}
            }
        }
    }

    /// Reads one message; counts output; returns it unless it was an output event that
    /// is not kept.
    async fn next(&mut self, deadline: Instant) -> Res<Option<Value>> {
        let message = self.read_message(deadline).await?;
        if message["type"] == "event" && message["event"] == "output" {
            let body = &message["body"];
            self.output.add(body["category"].as_str().unwrap_or("console"), body["output"].as_str().unwrap_or(""));
            if !self.keep_output {
                return Ok(None);
            }
        }
        Ok(Some(message))
    }

    /// Waits for the response to `seq` (success or not); queues events.
    pub async fn response(&mut self, seq: i64) -> Res<Value> {
        if let Some(response) = self.responses.remove(&seq) {
            return Ok(response);
        }
        let deadline = Instant::now() + TIMEOUT;
        loop {
            let Some(message) = self.next(deadline).await? else { continue };
            if message["type"] == "response" && message["request_seq"] == seq {
                return Ok(message);
            }
            self.keep(message);
        }
    }

    /// Sends a request and returns the body of its successful response.
    pub async fn request(&mut self, command: &str, arguments: Value) -> Res<Value> {
        let seq = self.send(command, arguments).await?;
        let response = self.response(seq).await?;
        if response["success"] != true {
            return Err(format!("{command} failed: {response}").into());
        }
        Ok(response.get("body").cloned().unwrap_or(Value::Null))
    }

    /// Waits for the event `name` that satisfies `filter` (queued ones first).
    pub async fn event_where(&mut self, name: &str, timeout: Duration, filter: impl Fn(&Value) -> bool) -> Res<Value> {
        if let Some(i) = self.events.iter().position(|e| e["event"] == name && filter(e)) {
            if let Some(event) = self.events.remove(i) {
                return Ok(event);
            }
        }
        let deadline = Instant::now() + timeout;
        loop {
            let message = match self.next(deadline).await {
                Ok(Some(message)) => message,
                Ok(None) => continue,
                Err(error) => {
                    let seen: Vec<Value> = self.events.iter().map(|e| e["event"].clone()).collect();
                    return Err(format!("waiting for the {name} event: {error} (queued events: {seen:?})").into());
                }
            };
            if message["type"] == "event" && message["event"] == name && filter(&message) {
                return Ok(message);
            }
            self.keep(message);
        }
    }

    /// Waits for the first of the events `names` (queued ones first).
    pub async fn event_any(&mut self, names: &[&str]) -> Res<Value> {
        if let Some(i) = self.events.iter().position(|e| names.iter().any(|n| e["event"] == *n)) {
            if let Some(event) = self.events.remove(i) {
                return Ok(event);
            }
        }
        let deadline = Instant::now() + TIMEOUT;
        loop {
            let Some(message) = self.next(deadline).await? else { continue };
            if message["type"] == "event" && names.iter().any(|n| message["event"] == *n) {
                return Ok(message);
            }
            self.keep(message);
        }
    }

    pub async fn event(&mut self, name: &str) -> Res<Value> {
        self.event_where(name, TIMEOUT, |_| true).await
    }

    /// Queues an event, or keeps a response for [`Dap::response`].
    fn keep(&mut self, message: Value) {
        if message["type"] == "event" {
            self.events.push_back(message);
        } else if let Some(seq) = message["request_seq"].as_i64() {
            self.responses.insert(seq, message);
        }
    }

    /// Forgets queued events and responses nobody asked for.
    pub fn clear_events(&mut self) {
        self.events.clear();
        self.responses.clear();
    }

    /// Reads (and counts) until the output end marker has been seen.
    pub async fn until_output_end(&mut self, timeout: Duration) -> Res<()> {
        let deadline = Instant::now() + timeout;
        while !self.output.saw_end {
            if let Some(message) = self.next(deadline).await? {
                self.keep(message);
            }
        }
        Ok(())
    }

    pub fn writer_mut(&mut self) -> &mut W {
        &mut self.writer
    }
}
