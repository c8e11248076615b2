//! `Content-Length` framing of DAP messages, for the editor's byte stream.
//!
//! Owns: [`DapCodec`] (a `tokio_util` [`Decoder`] + [`Encoder`]), the caps on what the
//! editor may make us buffer ([`DapLimits`]), and resynchronisation after a bad header.
//! Must not know: what a message means. The decoder yields JSON values ([`Frame::Json`]);
//! turning them into typed messages is [`super::types`]'s job.
//!
//! A DAP frame is a header section of `Name: value` lines, each ended by `\r\n` (a bare
//! `\n` is accepted too), then an empty line, then exactly `Content-Length` bytes of
//! UTF-8 JSON. Problems are split by what survives them:
//!
//! * A broken **header** (a line that is not `Name: value`, no `Content-Length`, a length
//!   that is not a number or is over the cap, a header section over its cap) is a
//!   [`FramingError`]. It is yielded as [`Frame::Framing`], not returned as an `Err`: the
//!   codec then skips ahead to the next `Content-Length:` and carries on, so the session
//!   survives a glitch. Returning `Err` would end a `FramedRead` stream.
//! * A well-framed **body** that is not JSON is yielded as [`Frame::NotJson`] with its
//!   raw bytes, so the session can still find its `seq` and answer it.
//! * Only I/O failures are `Err`.
//!
//! No length is trusted before it is checked against [`DapLimits::max_message`]: a header
//! claiming 2^31 bytes costs nothing.

use std::io;

use bytes::{Buf, BufMut, Bytes, BytesMut};
use serde_json::Value;
use thiserror::Error;
use tokio_util::codec::{Decoder, Encoder};

use super::types::Message;

/// The header name that starts every frame, and that resynchronisation looks for.
const CONTENT_LENGTH: &[u8] = b"Content-Length";

/// Caps on what the editor may make the decoder buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DapLimits {
    /// Largest body accepted, in bytes. Default 16 MiB.
    pub max_message: usize,
    /// Largest header section accepted (all header lines and the empty line), in bytes.
    /// Default 8 KiB; a real one is about 25 bytes.
    pub max_header: usize,
}

impl Default for DapLimits {
    fn default() -> Self {
        Self { max_message: 16 << 20, max_header: 8 << 10 }
    }
}

/// One item decoded from the editor's stream.
#[derive(Debug, Clone, PartialEq)]
pub enum Frame {
    /// A complete frame whose body is valid JSON (not necessarily a valid DAP message).
    Json(Value),
    /// A complete frame whose body is not valid JSON or not UTF-8. The stream goes on.
    NotJson(NotJson),
    /// The header was broken; the bytes up to the next `Content-Length:` were skipped.
    Framing(FramingError),
}

/// A well-framed body that could not be parsed as JSON.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotJson {
    /// The body exactly as the editor sent it.
    pub raw: Bytes,
    /// Why it is not JSON, from serde_json (with line and column).
    pub error: String,
}

/// A broken header from the editor. The decoder has already resynchronised when it
/// yields one of these; each message says so, for logs and `output` events.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum FramingError {
    #[error("the editor sent a malformed DAP header line {line:?}; skipping to the next Content-Length header")]
    BadHeader { line: String },

    #[error("the editor sent a DAP header without Content-Length; skipping to the next Content-Length header")]
    MissingContentLength,

    #[error("the editor sent a DAP header with an invalid Content-Length {value:?}; skipping to the next Content-Length header")]
    BadContentLength { value: String },

    #[error("the editor sent a DAP message of {length} bytes, more than the limit of {limit} bytes; it was skipped")]
    TooLarge { length: u64, limit: usize },

    #[error(
        "the editor sent a DAP header section longer than {limit} bytes; skipping to the next Content-Length header"
    )]
    HeaderTooLong { limit: usize },
}

/// What can end the editor stream: only I/O, or a message we cannot serialise.
#[derive(Debug, Error)]
pub enum DapCodecError {
    #[error("the connection to the editor failed: {0}")]
    Io(#[from] io::Error),

    #[error("could not serialise a DAP message for the editor (a bug in ptvsd-dap): {0}")]
    Serialize(#[from] serde_json::Error),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Expecting a header section at the start of the buffer.
    Header,
    /// The header said this many body bytes follow.
    Body(usize),
    /// After a framing error: discarding bytes up to the next `Content-Length`.
    Resync,
}

/// The `Content-Length` codec for DAP. Decodes [`Frame`]s, encodes [`Message`]s.
#[derive(Debug, Clone)]
pub struct DapCodec {
    limits: DapLimits,
    state: State,
}

impl Default for DapCodec {
    fn default() -> Self {
        Self::new()
    }
}

impl DapCodec {
    pub fn new() -> Self {
        Self::with_limits(DapLimits::default())
    }

    pub fn with_limits(limits: DapLimits) -> Self {
        Self { limits, state: State::Header }
    }

    pub fn limits(&self) -> DapLimits {
        self.limits
    }

    /// Records a framing error: drop the first byte of the failed header (so the same
    /// `Content-Length` is not found again) and look for the next one from there. That
    /// also finds a header hidden behind garbage on the same line, as in
    /// `junkContent-Length: 2`.
    fn fail(&mut self, src: &mut BytesMut, error: FramingError) -> Frame {
        if !src.is_empty() {
            src.advance(1);
        }
        self.state = State::Resync;
        Frame::Framing(error)
    }

    /// Parses the header section at the start of `src`. `Ok(None)`: need more bytes.
    /// `Ok(Some((header_len, body_len)))`: a complete, valid header.
    fn parse_header(&self, src: &[u8]) -> Result<Option<(usize, usize)>, FramingError> {
        let mut pos = 0;
        let mut length: Option<u64> = None;
        loop {
            let Some(newline) = src.get(pos..).and_then(|rest| rest.iter().position(|&b| b == b'\n')) else {
                // The line is not complete yet. Fail now if it cannot become a header
                // line (e.g. JSON sent without a header), rather than wait for more.
                let partial = src.get(pos..).unwrap_or_default();
                let partial = partial.strip_suffix(b"\r").unwrap_or(partial);
                let name = partial.split(|&b| b == b':').next().unwrap_or_default();
                if !name.iter().all(is_token_byte) || partial.first() == Some(&b':') {
                    return Err(FramingError::BadHeader { line: String::from_utf8_lossy(partial).into_owned() });
                }
                if src.len() > self.limits.max_header {
                    return Err(FramingError::HeaderTooLong { limit: self.limits.max_header });
                }
                return Ok(None);
            };
            let end = pos + newline + 1;
            if end > self.limits.max_header {
                return Err(FramingError::HeaderTooLong { limit: self.limits.max_header });
            }
            let line = src.get(pos..pos + newline).unwrap_or_default();
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            pos = end;
            if line.is_empty() {
                return match length {
                    None => Err(FramingError::MissingContentLength),
                    Some(length) => {
                        if length > self.limits.max_message as u64 {
                            Err(FramingError::TooLarge { length, limit: self.limits.max_message })
                        } else {
                            // Checked against a usize cap just above.
                            Ok(Some((pos, length as usize)))
                        }
                    }
                };
            }
            let Some((name, value)) = split_header_line(line) else {
                return Err(FramingError::BadHeader { line: String::from_utf8_lossy(line).into_owned() });
            };
            if name.eq_ignore_ascii_case(CONTENT_LENGTH) {
                let parsed = parse_length(value)?;
                if length.is_some_and(|previous| previous != parsed) {
                    return Err(FramingError::BadHeader { line: String::from_utf8_lossy(line).into_owned() });
                }
                length = Some(parsed);
            }
            // Other headers (Content-Type) are allowed and ignored.
        }
    }
}

/// Splits `Name: value` into a token name and a trimmed value.
fn split_header_line(line: &[u8]) -> Option<(&[u8], &[u8])> {
    let colon = line.iter().position(|&b| b == b':')?;
    let name = line.get(..colon)?;
    let value = line.get(colon + 1..)?;
    if name.is_empty() || !name.iter().all(is_token_byte) {
        return None;
    }
    Some((name, value.trim_ascii()))
}

/// A byte allowed in a header name (an HTTP token).
fn is_token_byte(b: &u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(b)
}

/// A `Content-Length` value: ASCII digits only. Too many digits for a `u64` is reported as
/// too large (the caller's cap check would reject it anyway).
fn parse_length(value: &[u8]) -> Result<u64, FramingError> {
    if value.is_empty() || !value.iter().all(u8::is_ascii_digit) {
        return Err(FramingError::BadContentLength { value: String::from_utf8_lossy(value).into_owned() });
    }
    Ok(value.iter().try_fold(0u64, |acc, &d| acc.checked_mul(10)?.checked_add(u64::from(d - b'0'))).unwrap_or(u64::MAX))
}

/// The position of the first case-insensitive `Content-Length` in `haystack`.
fn find_content_length(haystack: &[u8]) -> Option<usize> {
    haystack.windows(CONTENT_LENGTH.len()).position(|window| window.eq_ignore_ascii_case(CONTENT_LENGTH))
}

impl Decoder for DapCodec {
    type Item = Frame;
    type Error = DapCodecError;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Frame>, DapCodecError> {
        loop {
            match self.state {
                State::Resync => match find_content_length(src) {
                    Some(start) => {
                        src.advance(start);
                        self.state = State::Header;
                    }
                    None => {
                        // Keep only a tail that could be the start of a split header name.
                        let keep = CONTENT_LENGTH.len() - 1;
                        if src.len() > keep {
                            src.advance(src.len() - keep);
                        }
                        return Ok(None);
                    }
                },
                State::Header => {
                    // Stray line ends between frames (some clients end each body with
                    // `\r\n`) are not a header; skip them quietly.
                    let blank = src.iter().take_while(|&&b| b == b'\r' || b == b'\n').count();
                    src.advance(blank);
                    match self.parse_header(src) {
                        Ok(None) => return Ok(None),
                        Ok(Some((header_len, body_len))) => {
                            src.advance(header_len);
                            self.state = State::Body(body_len);
                        }
                        Err(error) => return Ok(Some(self.fail(src, error))),
                    }
                }
                State::Body(len) => {
                    if src.len() < len {
                        // `len` is at most `max_message`, so this reservation is capped.
                        src.reserve(len - src.len());
                        return Ok(None);
                    }
                    let body = src.split_to(len).freeze();
                    self.state = State::Header;
                    return Ok(Some(match serde_json::from_slice::<Value>(&body) {
                        Ok(value) => Frame::Json(value),
                        Err(error) => Frame::NotJson(NotJson { raw: body, error: error.to_string() }),
                    }));
                }
            }
        }
    }

    fn decode_eof(&mut self, src: &mut BytesMut) -> Result<Option<Frame>, DapCodecError> {
        match self.decode(src)? {
            Some(frame) => Ok(Some(frame)),
            None => {
                if (!src.is_empty() || matches!(self.state, State::Body(_))) && self.state != State::Resync {
                    let kind = if matches!(self.state, State::Body(_)) { "message body" } else { "header" };
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        format!("the editor closed the stream in the middle of a DAP {kind}"),
                    )
                    .into());
                }
                Ok(None)
            }
        }
    }
}

/// Appends `Content-Length: N\r\n\r\n` and the JSON body.
/// Counts the bytes a serialization writes, keeping none of them.
struct ByteCount(usize);

impl io::Write for ByteCount {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.0 += bytes.len();
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Serializes twice, once to count and once into `dst` after the header: a megabyte of
/// `variables` then exists once, in the output buffer, instead of also in a growing
/// `Vec` that is copied over.
fn encode_json<T: serde::Serialize + ?Sized>(item: &T, dst: &mut BytesMut) -> Result<(), DapCodecError> {
    let mut count = ByteCount(0);
    serde_json::to_writer(&mut count, item)?;
    let header = format!("Content-Length: {}\r\n\r\n", count.0);
    dst.reserve(header.len() + count.0);
    dst.put_slice(header.as_bytes());
    let start = dst.len();
    serde_json::to_writer(dst.writer(), item)?;
    debug_assert_eq!(dst.len() - start, count.0, "a second serialization differed from the first");
    Ok(())
}

impl Encoder<Message> for DapCodec {
    type Error = DapCodecError;

    fn encode(&mut self, item: Message, dst: &mut BytesMut) -> Result<(), DapCodecError> {
        encode_json(&item, dst)
    }
}

impl Encoder<&Message> for DapCodec {
    type Error = DapCodecError;

    fn encode(&mut self, item: &Message, dst: &mut BytesMut) -> Result<(), DapCodecError> {
        encode_json(item, dst)
    }
}

/// Raw values, for tests and fake editors that need to send what a [`Message`] cannot.
impl Encoder<&Value> for DapCodec {
    type Error = DapCodecError;

    fn encode(&mut self, item: &Value, dst: &mut BytesMut) -> Result<(), DapCodecError> {
        encode_json(item, dst)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use futures_util::StreamExt;
    use serde_json::json;
    use tokio_util::codec::FramedRead;

    use super::*;

    fn frame(body: &str) -> Vec<u8> {
        format!("Content-Length: {}\r\n\r\n{body}", body.len()).into_bytes()
    }

    /// Decodes everything in `bytes`, fed in one chunk, plus what is left at EOF.
    fn decode_all(codec: &mut DapCodec, bytes: &[u8]) -> Vec<Frame> {
        let mut buf = BytesMut::from(bytes);
        let mut out = Vec::new();
        while let Some(frame) = codec.decode(&mut buf).unwrap() {
            out.push(frame);
        }
        out
    }

    fn json_of(frames: &[Frame]) -> Vec<Value> {
        frames
            .iter()
            .filter_map(|f| match f {
                Frame::Json(v) => Some(v.clone()),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn decodes_one_message() {
        let bytes = frame(r#"{"seq":1,"type":"request","command":"threads"}"#);
        let frames = decode_all(&mut DapCodec::new(), &bytes);
        assert_eq!(frames, vec![Frame::Json(json!({"seq":1,"type":"request","command":"threads"}))]);
    }

    #[test]
    fn split_at_every_byte_position() {
        let mut bytes = frame(r#"{"seq":1,"type":"request","command":"initialize","arguments":{"adapterID":"é"}}"#);
        bytes.extend(frame(r#"{"seq":2,"type":"request","command":"threads"}"#));
        for split in 0..=bytes.len() {
            let mut codec = DapCodec::new();
            let mut buf = BytesMut::new();
            let mut out = Vec::new();
            for chunk in [&bytes[..split], &bytes[split..]] {
                buf.extend_from_slice(chunk);
                while let Some(frame) = codec.decode(&mut buf).unwrap() {
                    out.push(frame);
                }
            }
            assert_eq!(out.len(), 2, "split at {split}: {out:?}");
            assert!(out.iter().all(|f| matches!(f, Frame::Json(_))), "split at {split}: {out:?}");
            assert!(buf.is_empty());
        }
    }

    #[test]
    fn byte_by_byte() {
        let mut bytes = frame(r#"{"seq":1}"#);
        bytes.extend(b"junk\r\n");
        bytes.extend(frame(r#"{"seq":2}"#));
        let mut codec = DapCodec::new();
        let mut buf = BytesMut::new();
        let mut out = Vec::new();
        for b in bytes {
            buf.put_u8(b);
            while let Some(frame) = codec.decode(&mut buf).unwrap() {
                out.push(frame);
            }
        }
        assert_eq!(json_of(&out), vec![json!({"seq":1}), json!({"seq":2})]);
        assert_eq!(out.len(), 3, "{out:?}");
    }

    #[test]
    fn multiple_messages_in_one_chunk() {
        let mut bytes = Vec::new();
        for seq in 1..=5 {
            bytes.extend(frame(&format!(r#"{{"seq":{seq}}}"#)));
        }
        let frames = decode_all(&mut DapCodec::new(), &bytes);
        assert_eq!(json_of(&frames), (1..=5).map(|seq| json!({ "seq": seq })).collect::<Vec<_>>());
    }

    #[test]
    fn header_line_ending_variants_and_extra_headers() {
        let body = r#"{"seq":7}"#;
        let n = body.len();
        for header in [
            format!("Content-Length: {n}\r\n\r\n"),
            format!("Content-Length: {n}\n\n"),
            format!("Content-Length: {n}\r\n\n"),
            format!("Content-Length: {n}\n\r\n"),
            format!("content-length:{n}\r\n\r\n"),
            format!("CONTENT-LENGTH:   {n}  \r\n\r\n"),
            format!("Content-Type: application/vscode-jsonrpc; charset=utf-8\r\nContent-Length: {n}\r\n\r\n"),
            format!("Content-Length: {n}\r\nContent-Type: application/json\r\n\r\n"),
            format!("Content-Length: {n}\r\nContent-Length: {n}\r\n\r\n"),
        ] {
            let bytes = [header.as_bytes(), body.as_bytes()].concat();
            let frames = decode_all(&mut DapCodec::new(), &bytes);
            assert_eq!(frames, vec![Frame::Json(json!({"seq":7}))], "header {header:?}");
        }
    }

    #[test]
    fn body_may_contain_crlf() {
        let body = "{\r\n\"seq\": 3,\r\n\"type\": \"event\"\r\n}\r\n";
        let frames = decode_all(&mut DapCodec::new(), &frame(body));
        assert_eq!(frames, vec![Frame::Json(json!({"seq":3,"type":"event"}))]);
    }

    #[test]
    fn garbage_before_a_valid_frame_resyncs() {
        for garbage in [
            &b"hello\r\n"[..],
            b"\x00\xff\xfe garbage without newline ",
            b"junk",
            b"{\"seq\":1}\r\n",
            b"Content-Lengthy\r\n\r\n",
            b"\r\nx\r\n\r\n",
        ] {
            let bytes = [garbage, &frame(r#"{"seq":9}"#)[..]].concat();
            let frames = decode_all(&mut DapCodec::new(), &bytes);
            assert_eq!(json_of(&frames), vec![json!({"seq":9})], "garbage {garbage:?}: {frames:?}");
            assert!(matches!(frames.first(), Some(Frame::Framing(_))), "garbage {garbage:?}: {frames:?}");
        }
    }

    #[test]
    fn stray_line_ends_between_frames_are_ignored() {
        let mut bytes = b"\r\n\n".to_vec();
        bytes.extend(frame(r#"{"seq":1}"#));
        bytes.extend(b"\r\n");
        bytes.extend(frame(r#"{"seq":2}"#));
        bytes.extend(b"\r\n");
        let mut codec = DapCodec::new();
        let mut buf = BytesMut::from(&bytes[..]);
        let mut frames = Vec::new();
        while let Some(frame) = codec.decode_eof(&mut buf).unwrap() {
            frames.push(frame);
        }
        assert_eq!(frames, vec![Frame::Json(json!({"seq":1})), Frame::Json(json!({"seq":2}))]);
    }

    #[test]
    fn a_partial_line_that_cannot_be_a_header_fails_at_once() {
        let mut codec = DapCodec::new();
        let mut buf = BytesMut::from(&br#"{"seq":1,"type":"request""#[..]);
        assert!(matches!(codec.decode(&mut buf).unwrap(), Some(Frame::Framing(FramingError::BadHeader { .. }))));
        // A header line split anywhere, including between its CR and LF, is just incomplete.
        for partial in [&b"Content-Len"[..], b"Content-Length", b"Content-Length: 1", b"Content-Length: 12\r"] {
            let mut buf = BytesMut::from(partial);
            assert_eq!(DapCodec::new().decode(&mut buf).unwrap(), None, "{partial:?}");
        }
    }

    #[test]
    fn missing_content_length_resyncs() {
        let mut bytes = b"Content-Type: application/json\r\n\r\n{\"seq\":1}".to_vec();
        bytes.extend(frame(r#"{"seq":2}"#));
        let frames = decode_all(&mut DapCodec::new(), &bytes);
        assert_eq!(frames.first(), Some(&Frame::Framing(FramingError::MissingContentLength)));
        assert_eq!(json_of(&frames), vec![json!({"seq":2})]);
    }

    #[test]
    fn negative_and_non_numeric_content_length_resync() {
        for value in ["-1", "abc", "", "1.5", "0x10", "12 34"] {
            let mut bytes = format!("Content-Length: {value}\r\n\r\n{{}}").into_bytes();
            bytes.extend(frame(r#"{"seq":2}"#));
            let frames = decode_all(&mut DapCodec::new(), &bytes);
            assert!(
                matches!(frames.first(), Some(Frame::Framing(FramingError::BadContentLength { .. }))),
                "{value:?}: {frames:?}"
            );
            assert_eq!(json_of(&frames), vec![json!({"seq":2})], "{value:?}");
        }
    }

    #[test]
    fn huge_content_length_does_not_allocate() {
        for value in ["2147483648", "18446744073709551615", "99999999999999999999999999"] {
            let mut bytes = format!("Content-Length: {value}\r\n\r\n").into_bytes();
            bytes.extend(frame(r#"{"seq":2}"#));
            let mut codec = DapCodec::new();
            let mut buf = BytesMut::from(&bytes[..]);
            let capacity = buf.capacity();
            let mut frames = Vec::new();
            while let Some(frame) = codec.decode(&mut buf).unwrap() {
                frames.push(frame);
            }
            assert!(buf.capacity() <= capacity, "{value}: grew to {}", buf.capacity());
            assert!(matches!(frames.first(), Some(Frame::Framing(FramingError::TooLarge { .. }))), "{frames:?}");
            assert_eq!(json_of(&frames), vec![json!({"seq":2})]);
        }
    }

    #[test]
    fn oversize_message_is_skipped_without_allocating() {
        let limits = DapLimits { max_message: 64, max_header: 8 << 10 };
        let big = format!(r#"{{"seq":1,"pad":"{}"}}"#, "x".repeat(100));
        let mut bytes = frame(&big);
        bytes.extend(frame(r#"{"seq":2}"#));
        let mut codec = DapCodec::with_limits(limits);
        // Feed in small chunks, as a pipe would: the buffer must stay small.
        let mut buf = BytesMut::with_capacity(32);
        let mut frames = Vec::new();
        for chunk in bytes.chunks(16) {
            buf.extend_from_slice(chunk);
            while let Some(frame) = codec.decode(&mut buf).unwrap() {
                frames.push(frame);
            }
            assert!(buf.len() <= 64, "buffered {} bytes", buf.len());
        }
        assert_eq!(
            frames.first(),
            Some(&Frame::Framing(FramingError::TooLarge { length: big.len() as u64, limit: 64 }))
        );
        assert_eq!(json_of(&frames), vec![json!({"seq":2})]);
    }

    #[test]
    fn message_at_the_limit_is_accepted() {
        let body = r#"{"seq":1}"#;
        let mut codec = DapCodec::with_limits(DapLimits { max_message: body.len(), max_header: 64 });
        assert_eq!(decode_all(&mut codec, &frame(body)), vec![Frame::Json(json!({"seq":1}))]);
    }

    #[test]
    fn header_section_over_its_cap_is_rejected() {
        let limits = DapLimits { max_message: 1 << 20, max_header: 64 };
        let mut bytes = format!("X-Padding: {}\r\n", "p".repeat(100)).into_bytes();
        bytes.extend(frame(r#"{"seq":2}"#));
        let frames = decode_all(&mut DapCodec::with_limits(limits), &bytes);
        assert_eq!(frames.first(), Some(&Frame::Framing(FramingError::HeaderTooLong { limit: 64 })));
        assert_eq!(json_of(&frames), vec![json!({"seq":2})]);

        // An unterminated line is rejected once it passes the cap, without waiting.
        let mut codec = DapCodec::with_limits(limits);
        let mut buf = BytesMut::from(&b"Content-Length: 1"[..]);
        buf.extend_from_slice(&[b'0'; 100]);
        assert!(matches!(codec.decode(&mut buf).unwrap(), Some(Frame::Framing(FramingError::HeaderTooLong { .. }))));
    }

    #[test]
    fn invalid_json_body_then_valid_message() {
        let mut bytes = frame(r#"{"seq":4,"type":"request","command":"evaluate","arguments":{"#);
        bytes.extend(frame(r#"{"seq":5}"#));
        let frames = decode_all(&mut DapCodec::new(), &bytes);
        assert_eq!(frames.len(), 2);
        let Frame::NotJson(not_json) = &frames[0] else { panic!("{frames:?}") };
        assert_eq!(&not_json.raw[..], br#"{"seq":4,"type":"request","command":"evaluate","arguments":{"#);
        assert!(!not_json.error.is_empty());
        assert_eq!(frames[1], Frame::Json(json!({"seq":5})));
    }

    #[test]
    fn non_utf8_body_is_not_json() {
        let mut bytes = b"Content-Length: 12\r\n\r\n{\"a\":\"\xff\xfe\"}  ".to_vec();
        bytes.extend(frame(r#"{"seq":5}"#));
        let frames = decode_all(&mut DapCodec::new(), &bytes);
        assert!(matches!(frames[0], Frame::NotJson(_)), "{frames:?}");
        assert_eq!(frames[1], Frame::Json(json!({"seq":5})));
    }

    #[test]
    fn content_length_counts_bytes_not_chars() {
        let body = r#"{"s":"héllo ✓"}"#;
        assert_ne!(body.len(), body.chars().count());
        assert_eq!(decode_all(&mut DapCodec::new(), &frame(body)), vec![Frame::Json(json!({"s":"héllo ✓"}))]);
    }

    #[test]
    fn eof_in_the_middle_of_a_message_is_an_error() {
        let bytes = frame(r#"{"seq":1}"#);
        let mut codec = DapCodec::new();
        let mut buf = BytesMut::from(&bytes[..bytes.len() - 1]);
        assert!(codec.decode_eof(&mut buf).is_err());

        let mut codec = DapCodec::new();
        let mut buf = BytesMut::new();
        assert!(codec.decode_eof(&mut buf).unwrap().is_none());
    }

    #[tokio::test]
    async fn framed_read_survives_every_kind_of_error() {
        let mut bytes = b"garbage\r\n".to_vec();
        bytes.extend(frame(r#"{"seq":1}"#));
        bytes.extend(b"Content-Length: 2147483648\r\n\r\n");
        bytes.extend(frame("not json"));
        bytes.extend(b"Content-Length: -3\r\n\r\n");
        bytes.extend(frame(r#"{"seq":2}"#));
        let frames: Vec<Frame> = FramedRead::new(&bytes[..], DapCodec::new()).map(|f| f.unwrap()).collect().await;
        assert_eq!(json_of(&frames), vec![json!({"seq":1}), json!({"seq":2})]);
        assert_eq!(frames.iter().filter(|f| matches!(f, Frame::Framing(_))).count(), 3, "{frames:?}");
        assert_eq!(frames.iter().filter(|f| matches!(f, Frame::NotJson(_))).count(), 1, "{frames:?}");
    }

    mod properties {
        use proptest::collection::vec;
        use proptest::prelude::*;

        use super::*;

        proptest! {
            /// Whatever the editor sends, the decoder neither panics nor buffers more than
            /// a header, a body and the chunk just read.
            #[test]
            fn arbitrary_bytes_never_panic_and_stay_bounded(bytes in vec(any::<u8>(), 0..4096), chunk in 1usize..64) {
                let limits = DapLimits { max_message: 256, max_header: 128 };
                let mut codec = DapCodec::with_limits(limits);
                let mut buf = BytesMut::new();
                for piece in bytes.chunks(chunk) {
                    buf.extend_from_slice(piece);
                    while codec.decode(&mut buf).unwrap().is_some() {}
                    prop_assert!(buf.len() <= limits.max_header + limits.max_message + chunk);
                }
            }

            /// Valid frames separated by garbage (without letters, so it cannot spell a
            /// header name) all come through, in order, however the stream is chunked.
            #[test]
            fn frames_survive_garbage_between_them(
                garbage in vec(vec(any::<u8>().prop_filter("no letters", |b| !b.is_ascii_alphabetic()), 0..40), 1..8),
                chunk in 1usize..50,
            ) {
                let mut bytes = Vec::new();
                for (seq, junk) in garbage.iter().enumerate() {
                    bytes.extend(junk);
                    bytes.extend(frame(&format!(r#"{{"seq":{seq}}}"#)));
                }
                let mut codec = DapCodec::new();
                let mut buf = BytesMut::new();
                let mut frames = Vec::new();
                for piece in bytes.chunks(chunk) {
                    buf.extend_from_slice(piece);
                    while let Some(frame) = codec.decode(&mut buf).unwrap() {
                        frames.push(frame);
                    }
                }
                let expected: Vec<Value> = (0..garbage.len()).map(|seq| json!({ "seq": seq })).collect();
                prop_assert_eq!(json_of(&frames), expected);
            }
        }
    }

    #[test]
    fn encode_then_decode_round_trips() {
        let value = json!({"seq":1,"type":"event","event":"output","body":{"output":"ünïcode\r\n"}});
        let mut buf = BytesMut::new();
        DapCodec::new().encode(&value, &mut buf).unwrap();
        assert!(buf.starts_with(b"Content-Length: "));
        assert_eq!(decode_all(&mut DapCodec::new(), &buf), vec![Frame::Json(value)]);
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod eof_tests {
    use super::*;

    #[test]
    fn eof_right_after_a_header_is_a_truncated_body() {
        let mut codec = DapCodec::new();
        let mut src = BytesMut::from(&b"Content-Length: 10\r\n\r\n"[..]);
        assert!(codec.decode_eof(&mut src).is_err());
    }
}
