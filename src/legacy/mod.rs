//! The remote-facing protocol: ptvsd's legacy debugger wire protocols.
//!
//! Owns: the typed message model ([`messages`]), the binary (v2/v4/v6) and JSON (v7/v8)
//! codecs behind one [`codec::ClientCodec`], the caps on peer-supplied sizes
//! ([`wire::Limits`]), and the handshake ([`handshake`]): dialect detection, secret,
//! INFO and ATCH.
//!
//! Must not know: DAP, editors, path mapping, or which transport carries the bytes.
//! Nothing outside this module may branch on the dialect of a session's messages.

pub mod binary;
pub mod codec;
pub mod error;
pub mod handshake;
pub mod json;
pub mod messages;
pub mod wire;

pub use codec::{ClientCodec, Dialect, ServerCodec};
pub use error::ProtocolError;
pub use messages::{Command, Event};
pub use wire::Limits;
