//! `Content-Length` framing and lenient JSON body parsing (spec §1.3, §6.3).
//!
//! Owns: finding one frame in a buffer (incrementally, without consuming anything until the
//! whole frame is there), the header and size checks, and turning the body into a
//! [`Value`] even when ptvsd's `json.dumps` emitted lone surrogate escapes.
//! Must not know: what the messages mean.

use std::borrow::Cow;

use bytes::{BufMut, BytesMut};
use serde_json::Value;

use crate::legacy::error::ProtocolError;
use crate::legacy::wire::Limits;

/// The header section (everything up to and including the empty line) may not be longer
/// than this. ptvsd sends one 20-odd byte header line.
pub(crate) const MAX_HEADER: usize = 8 * 1024;

/// How much of a bad header line an error message shows.
const SHOWN_HEADER: usize = 200;

const CONTENT_LENGTH: &[u8] = b"Content-Length";

/// Decodes one `Content-Length` framed JSON body (lenient about lone surrogates).
/// `Ok(None)` means more bytes are needed; nothing is consumed until a whole frame is there.
pub fn decode_frame(src: &mut BytesMut, limits: &Limits) -> Result<Option<Value>, ProtocolError> {
    match next_body(src, limits)? {
        Some(mut body) => parse_body(&mut body).map(Some),
        None => Ok(None),
    }
}

/// A message announced at up to this length gets its whole buffer when its header
/// arrives (a megabyte of children is common); a longer one grows as its bytes arrive.
const RESERVE_AT_ONCE: usize = 16 * 1024 * 1024;

/// Takes one complete `Content-Length` framed body off `src`, with lone surrogate escapes
/// already replaced; `Ok(None)` means more bytes are needed (nothing is consumed).
pub(crate) fn next_body(src: &mut BytesMut, limits: &Limits) -> Result<Option<BytesMut>, ProtocolError> {
    let Some(header) = parse_header(src, limits)? else {
        return Ok(None);
    };
    // Cannot overflow: the header is at most MAX_HEADER bytes and the body at most
    // `max_message`, but stay on the safe side.
    let total = header.header_len.checked_add(header.body_len).ok_or(ProtocolError::TooLarge {
        what: "a JSON message",
        size: u64::MAX,
        limit: limits.max_message as u64,
    })?;
    if src.len() < total {
        // Room for the whole message at once, instead of doubling the buffer (and copying
        // it) as it arrives; but only for a length ptvsd plausibly sends: a bigger claim
        // (within `Limits`) grows with the bytes that actually come.
        if total <= RESERVE_AT_ONCE {
            src.reserve(total - src.len());
        }
        return Ok(None);
    }
    let mut frame = src.split_to(total);
    let mut body = frame.split_off(header.header_len);
    replace_lone_surrogates(&mut body);
    Ok(Some(body))
}

/// Appends one framed message (header and body) to `dst`.
pub fn encode_frame(value: &Value, dst: &mut BytesMut) {
    // `Value`'s `Display` is infallible: every map key is a string and nothing in a
    // `Value` refuses to serialize.
    let body = value.to_string();
    let header = format!("Content-Length: {}\r\n\r\n", body.len());
    dst.reserve(header.len() + body.len());
    dst.put_slice(header.as_bytes());
    dst.put_slice(body.as_bytes());
}

/// A complete header section.
#[derive(Debug, PartialEq, Eq)]
struct Header {
    /// Bytes up to and including the empty line.
    header_len: usize,
    /// The `Content-Length` value, already checked against the limit.
    body_len: usize,
}

/// Parses the header section at the start of `buf`. `Ok(None)`: the empty line has not
/// arrived yet (and nothing seen so far is wrong).
fn parse_header(buf: &[u8], limits: &Limits) -> Result<Option<Header>, ProtocolError> {
    let mut pos = 0usize;
    let mut length: Option<usize> = None;
    loop {
        let rest = buf.get(pos..).unwrap_or_default();
        let Some(newline) = rest.iter().position(|&b| b == b'\n') else {
            if buf.len() > MAX_HEADER {
                return Err(bad_header(buf.get(..SHOWN_HEADER).unwrap_or(buf), "no empty line after 8 KiB of header"));
            }
            return Ok(None);
        };
        let line = rest.get(..newline).unwrap_or_default();
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        pos += newline + 1;
        if pos > MAX_HEADER {
            return Err(bad_header(line, "the header section is longer than 8 KiB"));
        }
        if line.is_empty() {
            return match length {
                Some(body_len) => Ok(Some(Header { header_len: pos, body_len })),
                None => Err(bad_header(buf.get(..pos).unwrap_or(buf), "no Content-Length header")),
            };
        }
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            return Err(bad_header(line, "no colon"));
        };
        let name = trim(line.get(..colon).unwrap_or_default());
        let value = trim(line.get(colon + 1..).unwrap_or_default());
        if !name.eq_ignore_ascii_case(CONTENT_LENGTH) {
            // Other headers are allowed and carry nothing we need.
            continue;
        }
        let Some(claimed) = parse_decimal(value) else {
            return Err(bad_header(line, "the length is not a non-negative decimal number"));
        };
        if claimed > limits.max_message as u64 {
            return Err(ProtocolError::TooLarge {
                what: "a JSON message",
                size: claimed,
                limit: limits.max_message as u64,
            });
        }
        // Fits: it is at most `max_message`, a `usize`.
        let claimed = claimed as usize;
        if length.is_some_and(|previous| previous != claimed) {
            return Err(bad_header(line, "two different Content-Length headers"));
        }
        length = Some(claimed);
    }
}

/// ASCII digits only (no sign, no blanks inside). Saturates at `u64::MAX`, which is above
/// any limit, so a 30-digit length still reads as "too large" rather than "not a number".
fn parse_decimal(text: &[u8]) -> Option<u64> {
    if text.is_empty() || !text.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(text.iter().fold(0u64, |acc, &d| acc.saturating_mul(10).saturating_add(u64::from(d - b'0'))))
}

fn trim(bytes: &[u8]) -> &[u8] {
    let is_blank = |b: &u8| *b == b' ' || *b == b'\t';
    let start = bytes.iter().position(|b| !is_blank(b)).unwrap_or(bytes.len());
    let end = bytes.iter().rposition(|b| !is_blank(b)).map_or(start, |i| i + 1);
    bytes.get(start..end).unwrap_or_default()
}

fn bad_header(line: &[u8], why: &str) -> ProtocolError {
    let text = String::from_utf8_lossy(line);
    let mut shown: String = text.chars().take(SHOWN_HEADER).collect();
    if text.chars().nth(SHOWN_HEADER).is_some() {
        shown.push('…');
    }
    ProtocolError::BadHeader { line: format!("{shown} ({why})") }
}

/// Parses a body as JSON, after replacing unpaired surrogate escapes (which serde_json
/// rejects) with `\uFFFD`. Invalid UTF-8 is replaced too (ptvsd sends pure ASCII).
pub(crate) fn parse_body(body: &mut [u8]) -> Result<Value, ProtocolError> {
    replace_lone_surrogates(body);
    let text: Cow<'_, str> = String::from_utf8_lossy(body);
    serde_json::from_str(&text).map_err(|error| ProtocolError::InvalidJson { detail: error.to_string() })
}

/// Rewrites, in place, every `\uD800`–`\uDFFF` escape that is not part of a high + low
/// surrogate pair into `\uFFFD` (the same length). Valid pairs, other escapes and escaped
/// backslashes (`\\udc80` is the text `\udc80`) are left alone. Only escapes are touched:
/// outside strings a backslash is invalid JSON anyway, and stays invalid.
pub(crate) fn replace_lone_surrogates(buf: &mut [u8]) {
    let mut i = 0usize;
    while let Some(offset) = buf.get(i..).and_then(|rest| rest.iter().position(|&b| b == b'\\')) {
        let at = i + offset;
        match buf.get(at + 1) {
            Some(b'u') => match hex4(buf.get(at + 2..at + 6)) {
                Some(0xD800..=0xDBFF) => {
                    let low_follows = buf.get(at + 6..at + 8) == Some(b"\\u")
                        && hex4(buf.get(at + 8..at + 12)).is_some_and(|low| (0xDC00..=0xDFFF).contains(&low));
                    if low_follows {
                        i = at + 12;
                    } else {
                        put_replacement(buf, at);
                        i = at + 6;
                    }
                }
                Some(0xDC00..=0xDFFF) => {
                    put_replacement(buf, at);
                    i = at + 6;
                }
                Some(_) => i = at + 6,
                None => i = at + 2,
            },
            Some(_) => i = at + 2,
            None => break,
        }
    }
}

fn put_replacement(buf: &mut [u8], escape_at: usize) {
    if let Some(digits) = buf.get_mut(escape_at + 2..escape_at + 6) {
        digits.copy_from_slice(b"FFFD");
    }
}

fn hex4(digits: Option<&[u8]>) -> Option<u32> {
    let digits = digits?;
    if digits.len() != 4 {
        return None;
    }
    digits.iter().try_fold(0u32, |acc, &d| Some(acc * 16 + char::from(d).to_digit(16)?))
}
