//! Binary wire primitives shared by the binary codec and the handshake.
//!
//! Owns: [`Limits`] (the caps applied to every length and count a peer sends), the
//! check-then-parse [`Reader`] and the `put_*` writers. Every number is an 8-byte
//! big-endian `i64`; client strings (`cstr`) are length + UTF-8, server strings (`sstr`)
//! carry a kind byte first (spec §1.2). Must not know: message tags or their meaning.

use bytes::{BufMut, BytesMut};

use super::error::ProtocolError;

/// Caps on what a peer may make us allocate. A hostile peer can claim any `i64` length,
/// so every length and count is checked against these before anything is allocated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Longest single string (binary) in bytes. Default 64 MiB.
    pub max_string: usize,
    /// Largest element count (frames, variables, children, exceptions). Default 1 048 576.
    pub max_count: usize,
    /// Largest single message: a binary message still incomplete beyond this many
    /// buffered bytes, or a JSON body above it, is an error. Default 256 MiB.
    pub max_message: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self { max_string: 64 << 20, max_count: 1 << 20, max_message: 256 << 20 }
    }
}

/// Why a parse attempt stopped.
#[derive(Debug)]
pub enum Stop {
    /// The buffer ends early; a retry needs at least this many bytes in total.
    NeedBytes(usize),
    /// The bytes can never parse.
    Invalid(ProtocolError),
}

impl From<ProtocolError> for Stop {
    fn from(error: ProtocolError) -> Self {
        Stop::Invalid(error)
    }
}

pub type Parse<T> = Result<T, Stop>;

/// A cursor over buffered bytes that never reads past the end and never trusts a length:
/// running out of bytes yields [`Stop::NeedBytes`], and nothing is consumed from the
/// caller's buffer until a whole message has parsed.
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
    limits: Limits,
}

impl<'a> Reader<'a> {
    pub fn new(buf: &'a [u8], limits: Limits) -> Self {
        Self { buf, pos: 0, limits }
    }

    /// Bytes consumed so far.
    pub fn position(&self) -> usize {
        self.pos
    }

    /// The bytes not read yet.
    pub fn remaining(&self) -> usize {
        self.buf.len().saturating_sub(self.pos)
    }

    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// Takes exactly `n` bytes.
    pub fn take(&mut self, n: usize) -> Parse<&'a [u8]> {
        let end = self.pos.checked_add(n).ok_or(Stop::NeedBytes(usize::MAX))?;
        match self.buf.get(self.pos..end) {
            Some(slice) => {
                self.pos = end;
                Ok(slice)
            }
            None => Err(Stop::NeedBytes(end)),
        }
    }

    /// Looks at the next `n` bytes without consuming them.
    pub fn peek(&self, n: usize) -> Parse<&'a [u8]> {
        let end = self.pos.checked_add(n).ok_or(Stop::NeedBytes(usize::MAX))?;
        self.buf.get(self.pos..end).ok_or(Stop::NeedBytes(end))
    }

    pub fn u8(&mut self) -> Parse<u8> {
        let b = self.take(1)?;
        Ok(b[0])
    }

    /// A 4-byte ASCII tag.
    pub fn tag(&mut self) -> Parse<[u8; 4]> {
        let b = self.take(4)?;
        Ok([b[0], b[1], b[2], b[3]])
    }

    pub fn i64(&mut self) -> Parse<i64> {
        let b = self.take(8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(i64::from_be_bytes(a))
    }

    /// A length that must be non-negative and at most `limit`.
    pub fn length(&mut self, what: &'static str, limit: usize) -> Parse<usize> {
        let value = self.i64()?;
        checked_length(what, value, limit).map_err(Stop::Invalid)
    }

    /// An element count, capped by [`Limits::max_count`].
    pub fn count(&mut self, what: &'static str) -> Parse<usize> {
        let limit = self.limits.max_count;
        let value = self.i64()?;
        if value < 0 {
            return Err(ProtocolError::NegativeLength { what, value }.into());
        }
        if value as u64 > limit as u64 {
            return Err(ProtocolError::TooLarge { what, size: value as u64, limit: limit as u64 }.into());
        }
        Ok(value as usize)
    }

    /// A server string: kind byte `N` (null), `U` (UTF-8) or `A` (raw bytes, Latin-1).
    pub fn sstr(&mut self, what: &'static str) -> Parse<Option<String>> {
        match self.u8()? {
            b'N' => Ok(None),
            b'U' => {
                let len = self.length(what, self.limits.max_string)?;
                let bytes = self.take(len)?;
                Ok(Some(String::from_utf8_lossy(bytes).into_owned()))
            }
            b'A' => {
                let len = self.length(what, self.limits.max_string)?;
                let bytes = self.take(len)?;
                Ok(Some(bytes.iter().map(|&b| char::from(b)).collect()))
            }
            byte => Err(ProtocolError::BadStringKind { what, byte }.into()),
        }
    }

    /// A server string where null reads as empty.
    pub fn sstr_or_empty(&mut self, what: &'static str) -> Parse<String> {
        Ok(self.sstr(what)?.unwrap_or_default())
    }

    /// A client string: `i64` length then UTF-8, no kind byte.
    pub fn cstr(&mut self, what: &'static str) -> Parse<String> {
        let len = self.length(what, self.limits.max_string)?;
        let bytes = self.take(len)?;
        Ok(String::from_utf8_lossy(bytes).into_owned())
    }
}

/// Checks a peer-supplied length before anything is allocated for it.
pub fn checked_length(what: &'static str, value: i64, limit: usize) -> Result<usize, ProtocolError> {
    if value < 0 {
        return Err(ProtocolError::NegativeLength { what, value });
    }
    if value as u64 > limit as u64 {
        return Err(ProtocolError::TooLarge { what, size: value as u64, limit: limit as u64 });
    }
    Ok(value as usize)
}

pub fn put_tag(buf: &mut BytesMut, tag: &[u8; 4]) {
    buf.put_slice(tag);
}

pub fn put_i64(buf: &mut BytesMut, value: i64) {
    buf.put_i64(value);
}

/// A client string (no kind byte).
pub fn put_cstr(buf: &mut BytesMut, text: &str) {
    buf.put_i64(text.len() as i64);
    buf.put_slice(text.as_bytes());
}

/// A server string (`N` for `None`, else `U` + length + UTF-8).
pub fn put_sstr(buf: &mut BytesMut, text: Option<&str>) {
    match text {
        None => buf.put_u8(b'N'),
        Some(text) => {
            buf.put_u8(b'U');
            buf.put_i64(text.len() as i64);
            buf.put_slice(text.as_bytes());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn negative_and_huge_lengths_are_refused_before_allocation() {
        let mut bytes = vec![b'U'];
        bytes.extend_from_slice(&(-1i64).to_be_bytes());
        let mut r = Reader::new(&bytes, Limits::default());
        assert!(matches!(r.sstr("x"), Err(Stop::Invalid(ProtocolError::NegativeLength { .. }))));

        let mut bytes = vec![b'U'];
        bytes.extend_from_slice(&(1i64 << 62).to_be_bytes());
        let mut r = Reader::new(&bytes, Limits::default());
        assert!(matches!(r.sstr("x"), Err(Stop::Invalid(ProtocolError::TooLarge { .. }))));
    }

    #[test]
    fn short_buffer_asks_for_the_exact_total() {
        let mut bytes = vec![b'U'];
        bytes.extend_from_slice(&5i64.to_be_bytes());
        bytes.extend_from_slice(b"ab");
        let mut r = Reader::new(&bytes, Limits::default());
        assert!(matches!(r.sstr("x"), Err(Stop::NeedBytes(14))));
    }

    #[test]
    fn latin1_strings_decode_byte_per_char() {
        let mut bytes = vec![b'A'];
        bytes.extend_from_slice(&2i64.to_be_bytes());
        bytes.extend_from_slice(&[0x41, 0xe9]);
        let mut r = Reader::new(&bytes, Limits::default());
        assert_eq!(r.sstr("x").ok().flatten().as_deref(), Some("Aé"));
    }
}
