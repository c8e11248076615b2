//! The scripted ptvsd: the one fake peer for deterministic tests of the session.
//!
//! It listens on 127.0.0.1, plays the server half of the handshake (binary v6 or JSON
//! v8, with `legacy::ServerCodec` after it), and then lets the test play ptvsd one
//! message at a time: send events, read the adapter's commands, answer them. Nothing
//! happens that the test does not write, so races are replayed in a fixed order.
//!
//! * [`ScriptedPtvsd::listen`] / [`ScriptedPtvsd::accept`], then [`Peer`].
//! * [`Peer::next`] returns the next command (panics after [`PEER_WAIT`]);
//!   [`Peer::until`] skips to a matching one, answering evaluations it skips as ptvsd
//!   would (the attach-break repairs);
//! * [`frame`], [`value`] build frame lists and values.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use bytes::BytesMut;
use futures_util::{SinkExt, StreamExt};
use ptvsd_dap::legacy::json::{decode_frame, encode_frame};
use ptvsd_dap::legacy::messages::{Child, Command, Event, Frame, FrameKind, PyObject, Variable};
use ptvsd_dap::legacy::{Dialect, Limits, ServerCodec};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::codec::{Framed, FramedParts};

/// The secret the scripted peer expects.
pub const SECRET: &str = "scripted";
/// How long a test waits for the adapter's next command before failing.
pub const PEER_WAIT: Duration = Duration::from_secs(10);

/// A listening scripted ptvsd.
pub struct ScriptedPtvsd {
    listener: TcpListener,
    pub port: u16,
    pub json: bool,
}

/// One accepted, attached connection.
pub struct Peer {
    pub framed: Framed<TcpStream, ServerCodec>,
    pub json: bool,
    /// Every command read so far, in order.
    pub log: Vec<Command>,
}

impl ScriptedPtvsd {
    pub async fn listen(json: bool) -> ScriptedPtvsd {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        ScriptedPtvsd { listener, port, json }
    }

    /// The URL an `attach` uses for this peer.
    pub fn url(&self) -> String {
        format!("tcp://{SECRET}@127.0.0.1:{}", self.port)
    }

    /// Accepts one connection and completes the handshake.
    pub async fn accept(&self) -> Peer {
        let (stream, _) = tokio::time::timeout(PEER_WAIT, self.listener.accept())
            .await
            .expect("the adapter did not connect")
            .unwrap();
        stream.set_nodelay(true).unwrap();
        let framed = if self.json { json_attach(stream).await } else { binary_attach(stream).await };
        Peer { framed, json: self.json, log: Vec::new() }
    }
}

impl Peer {
    pub async fn send(&mut self, event: Event) {
        self.framed.send(event).await.unwrap();
    }

    /// The next command; panics if none comes within [`PEER_WAIT`].
    pub async fn next(&mut self) -> Command {
        match tokio::time::timeout(PEER_WAIT, self.framed.next()).await {
            Ok(Some(Ok(command))) => {
                self.log.push(command.clone());
                command
            }
            Ok(other) => panic!("the adapter closed or sent garbage: {other:?}; commands so far: {:?}", self.log),
            Err(_) => panic!("no command from the adapter within {PEER_WAIT:?}; commands so far: {:?}", self.log),
        }
    }

    /// The next command if one comes within `wait` (`None` otherwise). For asserting
    /// that something is *not* sent, after the event that would have caused it.
    pub async fn next_within(&mut self, wait: Duration) -> Option<Command> {
        match tokio::time::timeout(wait, self.framed.next()).await {
            Ok(Some(Ok(command))) => {
                self.log.push(command.clone());
                Some(command)
            }
            _ => None,
        }
    }

    /// Reads commands up to the first that `wanted` accepts, answering the evaluations
    /// it passes over (the attach-break repairs) as ptvsd would; other commands are
    /// skipped (their list is returned with the match last).
    pub async fn until(&mut self, wanted: impl Fn(&Command) -> bool) -> Command {
        loop {
            let command = self.next().await;
            if wanted(&command) {
                return command;
            }
            self.answer_as_ptvsd(&command).await;
        }
    }

    /// Answers an evaluation like ptvsd: a tuple's items as children, `None` otherwise.
    pub async fn answer_as_ptvsd(&mut self, command: &Command) {
        match command {
            Command::Execute { execution_id, .. } => {
                self.send(Event::ExecutionResult { execution_id: *execution_id, value: value("None", "NoneType") })
                    .await
            }
            Command::EnumChildren { execution_id, text, .. } => {
                let items = text
                    .strip_prefix('(')
                    .and_then(|t| t.strip_suffix(",)"))
                    .map(|t| t.split(", ").count())
                    .unwrap_or(0);
                let children = (0..items)
                    .map(|i| Child {
                        name: format!("[{i}]"),
                        expression: Some(format!("{text}[{i}]")),
                        value: value("None", "NoneType"),
                    })
                    .collect();
                self.send(Event::Children { execution_id: *execution_id, children }).await;
            }
            _ => {}
        }
    }

    /// ptvsd's attach break on `thread`: its named frame list, then LOAD.
    pub async fn attach_break(&mut self, thread: i64, frames: Vec<Frame>) {
        self.send(Event::ThreadCreate { thread }).await;
        self.send(Event::FrameList { thread, name: Some(format!("thread-{thread}")), frames }).await;
        self.send(Event::ProcessLoad { thread }).await;
    }

    /// A stop as `block()` sends it: the thread's named frame list, then `event`.
    pub async fn stop(&mut self, thread: i64, frames: Vec<Frame>, event: Event) {
        self.send(Event::FrameList { thread, name: Some(format!("thread-{thread}")), frames }).await;
        self.send(event).await;
    }

    /// Answers a fence (hit-count request) as ptvsd does.
    pub async fn answer_fence(&mut self, command: &Command) {
        match command {
            Command::GetBreakpointHitCount { request_id, .. } => {
                self.send(Event::BreakpointHitCount { request_id: *request_id, hit_count: 0 }).await
            }
            other => panic!("expected a fence, got {other:?}"),
        }
    }

    /// Confirms a detach (binary: DETC; JSON: the detach event and the answer to the
    /// adapter's goodbye).
    pub async fn confirm_detach(&mut self) {
        self.send(Event::Detach).await;
        if self.json {
            let goodbye = json!({"type": "response", "seq": 0, "request_seq": 0, "success": false, "command": "ptvsdDapGoodbye", "message": "Unknown command"});
            self.framed.get_mut().write_all(&json_bytes(&goodbye)).await.unwrap();
        }
    }
}

/// A Python frame of `function` in /srv/app/views.py at `line`, with `variables`.
pub fn frame(function: &str, line: i64, variables: &[(&str, PyObject)]) -> Frame {
    Frame {
        start_line: 1,
        end_line: 100,
        line,
        function: function.into(),
        file: "/srv/app/views.py".into(),
        arg_count: 0,
        kind: FrameKind::Python,
        django_source: None,
        variables: variables
            .iter()
            .map(|(name, value)| Variable { name: name.to_string(), value: value.clone() })
            .collect(),
    }
}

/// A value record with `repr` and `type_name`.
pub fn value(repr: &str, type_name: &str) -> PyObject {
    PyObject { repr: Some(repr.into()), hex: None, type_name: type_name.into(), length: 0, flags: 0 }
}

fn be(v: i64) -> [u8; 8] {
    v.to_be_bytes()
}

async fn read_cstr(s: &mut TcpStream) -> Vec<u8> {
    let len = s.read_i64().await.unwrap();
    assert!((0..1 << 20).contains(&len), "client string length {len}");
    let mut v = vec![0u8; len as usize];
    s.read_exact(&mut v).await.unwrap();
    v
}

/// The server half of a binary v6 handshake up to the accepted attach.
pub async fn binary_attach(mut s: TcpStream) -> Framed<TcpStream, ServerCodec> {
    let greeting = [&b"PTVSDBG"[..], &be(6)].concat();
    s.write_all(&greeting).await.unwrap();
    let mut echo = [0u8; 15];
    s.read_exact(&mut echo).await.unwrap();
    assert_eq!(echo[..], greeting[..]);
    assert_eq!(read_cstr(&mut s).await, SECRET.as_bytes());
    s.write_all(b"ACPT").await.unwrap();
    let mut tag = [0u8; 4];
    s.read_exact(&mut tag).await.unwrap();
    assert_eq!(&tag, b"ATCH");
    read_cstr(&mut s).await;
    s.write_all(&[&b"ACPT"[..], &be(4242), &be(3), &be(11), &be(7)].concat()).await.unwrap();
    Framed::new(s, ServerCodec::new(Dialect::Binary { version: 6 }, Limits::default()))
}

fn json_bytes(value: &Value) -> Vec<u8> {
    let mut out = BytesMut::new();
    encode_frame(value, &mut out);
    out.to_vec()
}

async fn read_json(s: &mut TcpStream, buf: &mut BytesMut) -> Value {
    loop {
        if let Some(v) = decode_frame(buf, &Limits::default()).unwrap() {
            return v;
        }
        assert!(s.read_buf(buf).await.unwrap() > 0, "the adapter closed during the JSON handshake");
    }
}

/// The server half of a JSON v8 handshake up to the accepted attach.
pub async fn json_attach(mut s: TcpStream) -> Framed<TcpStream, ServerCodec> {
    let response = |request: &Value, body: Value| {
        json_bytes(
            &json!({"type": "response", "seq": 0, "request_seq": request["seq"], "success": true, "command": request["command"], "message": "", "body": body}),
        )
    };
    s.write_all(&json_bytes(&json!({"type": "event", "seq": 0, "event": "legacyRemoteConnected", "body": {"debuggerName": "PTVSDBG", "debuggerProtocolVersion": 8}}))).await.unwrap();
    let mut buf = BytesMut::new();
    let auth = read_json(&mut s, &mut buf).await;
    assert_eq!(auth["arguments"]["clientSecret"], SECRET);
    s.write_all(&response(&auth, json!({"accepted": true}))).await.unwrap();
    let attach = read_json(&mut s, &mut buf).await;
    assert_eq!(attach["command"], "legacyRemoteDebuggerAttach");
    s.write_all(&response(
        &attach,
        json!({"accepted": true, "processId": 4242, "pythonMajor": 3, "pythonMinor": 11, "pythonMicro": 7}),
    ))
    .await
    .unwrap();
    let mut parts = FramedParts::new::<Event>(s, ServerCodec::new(Dialect::Json { version: 8 }, Limits::default()));
    parts.read_buf = buf;
    Framed::from_parts(parts)
}
