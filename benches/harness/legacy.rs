//! A direct client of ptvsd's legacy protocol, built from the crate's own handshake and
//! codecs, over a plain `tokio::net::TcpStream`: either as any client would open it (Nagle
//! on, delayed ACKs), or with TCP_NODELAY and TCP_QUICKACK re-armed before every read.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use ptvsd_dap::legacy::handshake::{self, Attached};
use ptvsd_dap::legacy::messages::{ConditionKind, FrameKind, PassCountKind, ReprKind, ThreadId};
use ptvsd_dap::legacy::{Command, Event, Limits};
use socket2::SockRef;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::time::{timeout_at, Instant};
use tokio_util::codec::Framed;

use super::dap::OutputCount;
use super::Res;

const TIMEOUT: Duration = Duration::from_secs(30);

/// A TCP stream that optionally re-arms TCP_QUICKACK before each read.
pub struct BenchSocket {
    stream: TcpStream,
    quickack: bool,
}

impl AsyncRead for BenchSocket {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.quickack {
            let _ = SockRef::from(&this.stream).set_tcp_quickack(true);
        }
        Pin::new(&mut this.stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for BenchSocket {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().stream).poll_write(cx, buf)
    }
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_flush(cx)
    }
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_shutdown(cx)
    }
}

pub struct LegacyClient {
    framed: Framed<BenchSocket, ptvsd_dap::legacy::ClientCodec>,
    next_id: i64,
    pub output: OutputCount,
    /// Threads that sent a ProcessLoad (the attach break) we still have to resume.
    resumed_load: bool,
    /// The last events, for error messages.
    recent: std::collections::VecDeque<String>,
}

impl LegacyClient {
    /// Connects to ptvsd on 127.0.0.1:`port` and attaches. `quickack` sets TCP_NODELAY
    /// and re-arms TCP_QUICKACK before every read; otherwise the socket is left as the OS
    /// opens it. Either way the close is a reset (SO_LINGER 0), as ptvsd needs.
    pub async fn attach(port: u16, secret: &str, quickack: bool) -> Res<LegacyClient> {
        let stream = TcpStream::connect(("127.0.0.1", port)).await?;
        SockRef::from(&stream).set_linger(Some(Duration::ZERO))?;
        if quickack {
            stream.set_nodelay(true)?;
        }
        let socket = BenchSocket { stream, quickack };
        let Attached { framed, .. } =
            handshake::attach(socket, secret, "RedirectOutput, RichExceptions", Limits::default(), TIMEOUT).await?;
        Ok(LegacyClient {
            framed,
            next_id: 1,
            output: OutputCount::default(),
            resumed_load: false,
            recent: Default::default(),
        })
    }

    pub async fn send(&mut self, command: Command) -> Res<()> {
        self.framed.send(command).await?;
        Ok(())
    }

    async fn next_event(&mut self, deadline: Instant) -> Res<Event> {
        let event = match timeout_at(deadline, self.framed.next()).await {
            Err(_) => return Err(format!("timed out waiting for ptvsd; last events: {:?}", self.recent).into()),
            Ok(None) => return Err("ptvsd closed the connection".into()),
            Ok(Some(event)) => event?,
        };
        if self.recent.len() == 12 {
            self.recent.pop_front();
        }
        let mut summary = format!("{event:?}");
        summary.truncate(if matches!(event, Event::CommandFailed { .. }) { 2000 } else { 100 });
        self.recent.push_back(summary);
        match &event {
            Event::Output { text, channel, .. } => {
                let category = match channel {
                    ptvsd_dap::legacy::messages::OutputChannel::Stderr => "stderr",
                    _ => "stdout",
                };
                self.output.add(category, text);
            }
            // The attach break: resume it, like an adapter that does not stop on entry.
            Event::ProcessLoad { .. } if !self.resumed_load => {
                self.resumed_load = true;
                self.send(Command::ResumeAll).await?;
            }
            Event::CommandFailed { command: ptvsd_dap::legacy::messages::FailedCommand::Other(command), .. }
                if command.contains("ResumeAll") =>
            {
                tokio::time::sleep(Duration::from_millis(5)).await;
                self.send(Command::ResumeAll).await?;
            }
            _ => {}
        }
        Ok(event)
    }

    /// Sets a breakpoint (id `id`), lets the program run, and waits until it is hit;
    /// returns the stopped thread.
    pub async fn break_at(&mut self, id: i64, file: &str, line: i64, resume: bool) -> Res<ThreadId> {
        self.send(Command::SetBreakpoint {
            id,
            line,
            file: file.to_string(),
            condition_kind: ConditionKind::Always,
            condition: String::new(),
            pass_count_kind: PassCountKind::Always,
            pass_count: 0,
        })
        .await?;
        // With `resume`, the attach break is released when it is reported (ProcessLoad).
        // A ResumeAll sent before that can race the break: ptvsd 3.2.1 then fails it
        // ("release unlocked lock") and the thread stays blocked.
        let _ = resume;
        let deadline = Instant::now() + TIMEOUT;
        loop {
            if let Event::BreakpointHit { id: hit, thread } = self.next_event(deadline).await? {
                if hit == id {
                    return Ok(thread);
                }
            }
        }
    }

    pub async fn remove_breakpoint(&mut self, id: i64, line: i64) -> Res<()> {
        self.send(Command::RemoveBreakpoint { id, line }).await
    }

    /// Evaluates `text` in the innermost frame of the stopped `thread`; returns the repr.
    pub async fn evaluate(&mut self, thread: ThreadId, text: &str) -> Res<String> {
        let execution_id = self.next_id;
        self.next_id += 1;
        self.send(Command::Execute {
            text: text.to_string(),
            thread,
            frame: 0,
            execution_id,
            frame_kind: FrameKind::Python,
            repr_kind: ReprKind::Normal,
        })
        .await?;
        let deadline = Instant::now() + TIMEOUT;
        loop {
            match self.next_event(deadline).await? {
                Event::ExecutionResult { execution_id: id, value } if id == execution_id => {
                    return Ok(value.repr.unwrap_or_default());
                }
                Event::ExecutionException { execution_id: id, text } if id == execution_id => {
                    return Err(format!("ptvsd could not evaluate: {text}").into());
                }
                Event::CommandFailed { message, .. } => return Err(format!("ptvsd: {message}").into()),
                _ => {}
            }
        }
    }

    /// Steps over in the stopped `thread` and waits until it stops again.
    pub async fn step_over(&mut self, thread: ThreadId) -> Res<()> {
        self.send(Command::StepOver { thread }).await?;
        let deadline = Instant::now() + TIMEOUT;
        loop {
            match self.next_event(deadline).await? {
                Event::StepDone { thread: t } | Event::BreakpointHit { thread: t, .. } if t == thread => return Ok(()),
                _ => {}
            }
        }
    }

    /// Resumes and reads (and counts output) until the output end marker arrives.
    pub async fn resume_until_output_end(&mut self, timeout: Duration) -> Res<()> {
        self.send(Command::ResumeAll).await?;
        let deadline = Instant::now() + timeout;
        while !self.output.saw_end {
            self.next_event(deadline).await?;
        }
        Ok(())
    }
}
