//! The debug session: the only place that knows both DAP and the legacy protocol.
//!
//! Owns: the attach configuration, path mapping, thread/frame/variable handles, pending
//! requests, and the one loop that owns all session state.

pub mod config;
pub mod paths;
