//! The editor's side of the session: the one way out to the editor.
//!
//! Owns: [`Editor`]: the DAP writer's channel, what the client said in `initialize`
//! ([`ClientInfo`]: whether its lines and columns start at 1), and the program's output
//! not yet sent as whole lines ([`OutputLines`]). Every message to the editor goes out
//! through [`Editor::send`]: a response through [`Editor::answer`], an event after the
//! program's pending partial line ([`Editor::event`]). When the editor is gone (the
//! writer closed), the send says so ([`Gone`]) and `Session::on_editor` ends the
//! loop. Must not know: ptvsd, the session's phases.

use tokio::sync::mpsc;
use tokio::time::Instant;

use super::output::{Chunk, OutputLines, EVENT_TEXT_MAX};
use super::{escape_format, Answer, Blame, Session};
use crate::dap::bodies::{EventBody, OutputEventBody};
use crate::dap::types::{ErrorDetails, Event as DapEvent, Message, Request, Response};

/// Client preferences from `initialize`.
#[derive(Debug, Clone, Copy)]
pub(super) struct ClientInfo {
    lines_start_at_1: bool,
    columns_start_at_1: bool,
}

impl ClientInfo {
    /// From `initialize`'s `linesStartAt1` and `columnsStartAt1` (both default to true).
    pub(super) fn from_initialize(lines_start_at_1: Option<bool>, columns_start_at_1: Option<bool>) -> Self {
        Self {
            lines_start_at_1: lines_start_at_1.unwrap_or(true),
            columns_start_at_1: columns_start_at_1.unwrap_or(true),
        }
    }

    /// The editor's number of the first line (1 or 0).
    pub(super) fn first_line(&self) -> i64 {
        if self.lines_start_at_1 {
            1
        } else {
            0
        }
    }

    /// The editor's number of the first column (1 or 0).
    pub(super) fn first_column(&self) -> i64 {
        if self.columns_start_at_1 {
            1
        } else {
            0
        }
    }

    /// What to add to an editor's line number to get ptvsd's (1-based) one.
    pub(super) fn line_offset(&self) -> i64 {
        1 - self.first_line()
    }

    /// ptvsd's (1-based) line as the editor numbers it.
    pub(super) fn line_to_editor(&self, line: i64) -> i64 {
        line - self.line_offset()
    }
}

/// The editor closed its side: nothing more can be said.
#[derive(Debug)]
pub(super) struct Gone;

/// The way out to the editor.
pub(super) struct Editor {
    out: mpsc::Sender<Message>,
    /// What the client said in `initialize` (set there, read by every line and column).
    client: ClientInfo,
    /// The program's output (ptvsd's redirected stdout/stderr, a launched program's pipes)
    /// not yet sent as a whole line.
    program_lines: OutputLines,
}

impl Editor {
    pub(super) fn new(out: mpsc::Sender<Message>) -> Self {
        Self {
            out,
            client: ClientInfo { lines_start_at_1: true, columns_start_at_1: true },
            program_lines: OutputLines::default(),
        }
    }

    /// The client's line and column numbering.
    pub(super) fn client(&self) -> ClientInfo {
        self.client
    }

    /// `initialize` said how the client numbers lines and columns.
    pub(super) fn set_client(&mut self, client: ClientInfo) {
        self.client = client;
    }

    /// Every message to the editor goes out here.
    pub(super) async fn send(&mut self, message: Message) -> Result<(), Gone> {
        self.out.send(message).await.map_err(|_| Gone)
    }

    /// A request's response: its typed body, serialised once, or the error response
    /// (`showUser` unless nobody is to blame).
    pub(super) async fn answer(&mut self, request: &Request, answer: Answer) -> Result<(), Gone> {
        let response = match answer {
            // Serialised when written, straight from the typed body (`Response::typed_body`).
            Ok(body) => Response::with_typed_body(request, body),
            Err(error) => {
                let show_user = error.blame != Blame::Nobody;
                let details =
                    ErrorDetails { show_user: Some(show_user), ..ErrorDetails::new(1, escape_format(&error.message)) };
                Response::error(request, error.message, Some(details))
            }
        };
        self.send(Message::Response(response)).await
    }

    /// An event with its typed body, serialised once; the program's pending partial line
    /// goes first, so that nothing (a stop, a message of ours) overtakes output printed
    /// before it.
    pub(super) async fn event<B: EventBody>(&mut self, body: &B) -> Result<(), Gone> {
        self.flush_program_output().await?;
        self.send(Message::Event(DapEvent::new(body))).await
    }

    /// An event without a body (`initialized`, `terminated`), after the program's pending
    /// partial line like every event.
    pub(super) async fn bare_event(&mut self, event: &str) -> Result<(), Gone> {
        self.flush_program_output().await?;
        self.send(Message::Event(DapEvent::bare(event))).await
    }

    /// The debuggee's program output: `text` is a piece of one write, sent as whole lines
    /// (see [`OutputLines`]).
    pub(super) async fn program_output(&mut self, category: &'static str, text: &str) -> Result<(), Gone> {
        for chunk in self.program_lines.push(category, text, Instant::now()) {
            self.send_program_output(chunk).await?;
        }
        Ok(())
    }

    /// Sends the program's pending partial line now (before another event, at the end).
    pub(super) async fn flush_program_output(&mut self) -> Result<(), Gone> {
        match self.program_lines.flush() {
            Some(chunk) => self.send_program_output(chunk).await,
            None => Ok(()),
        }
    }

    /// When the program's pending partial line is due on its own.
    pub(super) fn deadline(&self) -> Option<Instant> {
        self.program_lines.deadline()
    }

    /// Sends the program's pending partial line if it is due.
    pub(super) async fn expire(&mut self, now: Instant) -> Result<(), Gone> {
        match self.program_lines.due(now) {
            Some(chunk) => self.send_program_output(chunk).await,
            None => Ok(()),
        }
    }

    async fn send_program_output(&mut self, chunk: Chunk) -> Result<(), Gone> {
        for piece in chunk.pieces(EVENT_TEXT_MAX) {
            let body = OutputEventBody {
                category: Some(piece.category.to_owned()),
                output: piece.text,
                ..OutputEventBody::default()
            };
            self.send(Message::Event(DapEvent::new(&body))).await?;
        }
        Ok(())
    }
}

impl Session {
    /// The editor is gone: the loop ends.
    pub(super) fn on_editor(&mut self, sent: Result<(), Gone>) {
        if sent.is_err() {
            // The writer is gone: the editor closed stdout. Nothing more to say.
            self.lifecycle.close();
        }
    }

    /// The one place a request is answered (see [`Editor::answer`]). Handlers' answers
    /// come here from the dispatcher (`requests::on_request`), and the answers that come
    /// later (a waiter, a release, a bind wait, the attach) come here from what held the
    /// request.
    pub(super) async fn answer(&mut self, request: &Request, answer: Answer) {
        let sent = self.editor.answer(request, answer).await;
        self.on_editor(sent);
    }

    /// Sends an event (see [`Editor::event`]).
    pub(super) async fn send_event<B: EventBody>(&mut self, body: &B) {
        let sent = self.editor.event(body).await;
        self.on_editor(sent);
    }

    /// Sends an event without a body (`initialized`, `terminated`).
    pub(super) async fn bare_event(&mut self, event: &str) {
        let sent = self.editor.bare_event(event).await;
        self.on_editor(sent);
    }

    /// An `output` event of the adapter's own (console, important).
    pub(super) async fn output(&mut self, category: &str, text: &str) {
        self.send_event(&OutputEventBody {
            category: Some(category.to_owned()),
            output: text.to_owned(),
            ..OutputEventBody::default()
        })
        .await;
    }

    /// The one path for the debuggee's program output (ptvsd's OUTP and the pipes of a
    /// launched program) to the editor.
    pub(super) async fn program_output(&mut self, category: &'static str, text: &str) {
        let sent = self.editor.program_output(category, text).await;
        self.on_editor(sent);
    }

    /// Sends the program's pending partial line now (before another event, at the end).
    pub(super) async fn flush_program_output(&mut self) {
        let sent = self.editor.flush_program_output().await;
        self.on_editor(sent);
    }
}
