//! The byte pipe to the debuggee: `tcp://`, `tcps://`, `ws://` and `wss://`.
//!
//! Owns: parsing debuggee addresses ([`Endpoint`], [`Secret`]) and the transport errors
//! ([`TransportError`]). Must not know: the legacy protocol, DAP. Must never log or format
//! the secret.

pub mod endpoint;
pub mod error;

pub use endpoint::{Endpoint, Scheme, Secret, DEFAULT_PTVSD_PORT};
pub use error::{Stage, TlsFailure, TransportError};
