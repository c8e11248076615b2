//! Errors of the legacy protocol layer.
//!
//! Owns: [`ProtocolError`], the one error type of codecs and the handshake. Every variant
//! renders as a sentence that says who is to blame (almost always the debuggee's side)
//! and, where there is one, what the user can do. Must not know: DAP or transports.

use thiserror::Error;

/// What went wrong while reading or writing the legacy protocol.
#[derive(Debug, Error)]
pub enum ProtocolError {
    #[error("the debuggee sent a negative length ({value}) for {what}; the protocol stream is corrupt")]
    NegativeLength { what: &'static str, value: i64 },

    #[error("the debuggee sent {what} of {size} bytes, more than the limit of {limit} bytes")]
    TooLarge { what: &'static str, size: u64, limit: u64 },

    #[error("the debuggee sent an unknown message tag {tag:?}; the binary protocol cannot resynchronise after it")]
    UnknownTag { tag: String },

    #[error(
        "the debuggee sent a string with an unknown kind byte 0x{byte:02x} in {what}; the protocol stream is corrupt"
    )]
    BadStringKind { what: &'static str, byte: u8 },

    #[error("the debuggee's program printed text with an unpaired surrogate (such as '\\udc80') that ptvsd's binary protocol cannot encode; ptvsd sent a truncated output message and detached. Avoid printing unpaired surrogates, or use ptvsd 3.1 or newer (JSON protocol)")]
    TruncatedOutput,

    #[error("the debuggee sent a malformed message header: {line:?}")]
    BadHeader { line: String },

    #[error("the debuggee sent a message that is not valid JSON: {detail}")]
    InvalidJson { detail: String },

    #[error("the debuggee sent a malformed message: {detail}")]
    Malformed { detail: String },

    #[error("{command} is not supported by ptvsd protocol version {version}")]
    Unsupported { command: &'static str, version: i64 },

    #[error("the connection to the debuggee failed: {0}")]
    Io(#[from] std::io::Error),
}
