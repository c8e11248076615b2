//! The binary dialect (`PTVSDBG` v2, v4, v6: ptvsd 2.0 to 3.0) after attach.
//!
//! Owns: the byte layouts of every debug-session command and event for each binary
//! version (spec §3.2–§3.7), and incremental framing of an unframed byte stream: a message
//! is only known to be complete once it parses, so nothing is consumed until it does, and
//! the buffer size the parse stopped at is remembered so that, e.g., a long string arriving
//! in small chunks is parsed once rather than once per chunk. Results never depend on how
//! the bytes were chunked. [`BinaryClientCodec`] is our side; [`BinaryServerCodec`] plays
//! ptvsd for fake peers and round-trip tests.
//!
//! Version differences (the version comes from the handshake):
//! * v2 and v4: `brkp`/`brkc` carry a condition and a break-when-changed flag; there is no
//!   `bkpc`, `bkgh` or `bksh`.
//! * v2 only: the object record is repr, hex, type, expandable (no length or flags); `CHLD`
//!   lists attributes and indices without expressions; `exec` has no repr kind; `chld`
//!   carries an extra integer (sent as 0).
//!
//! Anything the version cannot carry (those commands; a pass count or an `Other` condition
//! kind in a v2/v4 `brkp`; a non-normal repr kind in a v2 `exec`) is refused with
//! [`ProtocolError::Unsupported`] before a byte is written, rather than silently changing
//! what the command means. An unknown tag is fatal: the binary stream cannot resync.
//!
//! Must not know: DAP, transports, the handshake, or when a command may be sent (e.g.
//! that `thrf` kills ptvsd 2.2.0): that is the session's business.

mod commands;
mod events;

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic)]
mod tests;

use bytes::{Buf, BytesMut};
use tokio_util::codec::{Decoder, Encoder};

use super::error::ProtocolError;
use super::messages::{Command, Event};
use super::wire::{Limits, Parse, Reader, Stop};

/// Which layouts a protocol version uses. Versions between the known ones get the layouts
/// of the next lower known version.
#[derive(Debug, Clone, Copy)]
struct Layout {
    version: i64,
}

impl Layout {
    fn new(version: i64) -> Self {
        Self { version }
    }

    fn version(self) -> i64 {
        self.version
    }

    /// v2 (ptvsd 2.0): old object record, old `CHLD`, `exec` without repr kind, `chld`
    /// with an extra integer.
    fn is_v2(self) -> bool {
        self.version < 4
    }

    /// v2 and v4: old `brkp`/`brkc`, no `bkpc`/`bkgh`/`bksh`.
    fn old_breakpoints(self) -> bool {
        self.version < 6
    }
}

/// What the decoder remembers between calls.
///
/// The hint only skips attempts that cannot succeed; a message made of many small fields
/// (a big frame list) is still re-parsed from its start each time new bytes pass the
/// point the previous attempt stopped at.
#[derive(Debug, Default)]
struct Progress {
    /// Total buffered bytes the last attempt needed; below this, don't re-parse.
    need: usize,
}

impl Progress {
    /// Parses one message from the front of `src`. `Ok(None)`: incomplete, nothing consumed.
    /// On success the message is consumed and its size returned with it.
    fn decode<T>(
        &mut self,
        src: &mut BytesMut,
        limits: Limits,
        parse: impl FnOnce(&mut Reader<'_>) -> Parse<T>,
    ) -> Result<Option<(T, usize)>, ProtocolError> {
        if src.is_empty() || src.len() < self.need {
            return Ok(None);
        }
        let mut reader = Reader::new(src, limits);
        match parse(&mut reader) {
            Ok(item) => {
                let size = reader.position();
                // Whole or in pieces, a message above the cap gets the same verdict.
                if size > limits.max_message {
                    return Err(too_large(size, limits));
                }
                src.advance(size);
                self.need = 0;
                Ok(Some((item, size)))
            }
            Err(Stop::NeedBytes(total)) => {
                if total > limits.max_message {
                    return Err(too_large(total, limits));
                }
                self.need = total;
                Ok(None)
            }
            Err(Stop::Invalid(error)) => Err(error),
        }
    }
}

fn too_large(size: usize, limits: Limits) -> ProtocolError {
    ProtocolError::TooLarge { what: "a message", size: size as u64, limit: limits.max_message as u64 }
}

/// The stream ended with part of a message buffered.
fn incomplete_at_eof(buf: &BytesMut) -> ProtocolError {
    // A truncated OUTP (spec §6.3) right before the end of the stream.
    if buf.len() == 12 && buf.starts_with(b"OUTP") {
        return ProtocolError::TruncatedOutput;
    }
    let tag = String::from_utf8_lossy(buf.get(..4).unwrap_or(buf));
    ProtocolError::Malformed {
        detail: format!("the connection closed in the middle of a {tag:?} message ({} bytes received)", buf.len()),
    }
}

/// Size of an `OUTP` whose text is null (`N`): tag, tid, kind byte.
const NULL_OUTPUT_SIZE: usize = 13;

/// Client side: decodes server events, encodes client commands.
#[derive(Debug)]
pub struct BinaryClientCodec {
    pub(crate) version: i64,
    pub(crate) limits: Limits,
    progress: Progress,
    /// The last event was an `OUTP` with a null text — or a truncated `OUTP` followed by
    /// `NEWT`, whose `N` reads as a null string (spec §6.3).
    after_null_output: bool,
}

impl BinaryClientCodec {
    pub fn new(version: i64, limits: Limits) -> Self {
        Self { version, limits, progress: Progress::default(), after_null_output: false }
    }
}

impl Decoder for BinaryClientCodec {
    type Item = Event;
    type Error = ProtocolError;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Event>, ProtocolError> {
        let layout = Layout::new(self.version);
        let decoded = self.progress.decode(src, self.limits, |r| events::read_event(r, layout));
        match decoded {
            Ok(Some((event, size))) => {
                self.after_null_output = matches!(event, Event::Output { .. }) && size == NULL_OUTPUT_SIZE;
                Ok(Some(event))
            }
            Ok(None) => Ok(None),
            Err(ProtocolError::UnknownTag { .. }) if self.after_null_output && src.starts_with(b"EWT") => {
                Err(ProtocolError::TruncatedOutput)
            }
            Err(error) => Err(error),
        }
    }

    fn decode_eof(&mut self, buf: &mut BytesMut) -> Result<Option<Event>, ProtocolError> {
        match self.decode(buf)? {
            Some(event) => Ok(Some(event)),
            None if buf.is_empty() => Ok(None),
            None => Err(incomplete_at_eof(buf)),
        }
    }
}

impl Encoder<Command> for BinaryClientCodec {
    type Error = ProtocolError;

    fn encode(&mut self, item: Command, dst: &mut BytesMut) -> Result<(), ProtocolError> {
        commands::write_command(dst, &item, Layout::new(self.version))
    }
}

/// Server side (fake peers, round-trip tests): decodes commands, encodes events.
#[derive(Debug)]
pub struct BinaryServerCodec {
    pub(crate) version: i64,
    pub(crate) limits: Limits,
    progress: Progress,
}

impl BinaryServerCodec {
    pub fn new(version: i64, limits: Limits) -> Self {
        Self { version, limits, progress: Progress::default() }
    }
}

impl Decoder for BinaryServerCodec {
    type Item = Command;
    type Error = ProtocolError;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Command>, ProtocolError> {
        let layout = Layout::new(self.version);
        let decoded = self.progress.decode(src, self.limits, |r| commands::read_command(r, layout))?;
        Ok(decoded.map(|(command, _)| command))
    }

    fn decode_eof(&mut self, buf: &mut BytesMut) -> Result<Option<Command>, ProtocolError> {
        match self.decode(buf)? {
            Some(command) => Ok(Some(command)),
            None if buf.is_empty() => Ok(None),
            None => Err(incomplete_at_eof(buf)),
        }
    }
}

impl Encoder<Event> for BinaryServerCodec {
    type Error = ProtocolError;

    fn encode(&mut self, item: Event, dst: &mut BytesMut) -> Result<(), ProtocolError> {
        events::write_event(dst, &item, Layout::new(self.version))
    }
}
