//! ptvsd-dap: a Debug Adapter Protocol server for apps running the legacy ptvsd 2.x/3.x
//! debugger.
//!
//! ```text
//! editor ⇄ dap (codec, types) ⇄ session ⇄ legacy (binary/JSON dialects) ⇄ transport (tcp, tls, ws, wss) ⇄ ptvsd
//! ```
//!
//! See ARCHITECTURE.md for the module map and the invariants.

pub mod cli;
pub mod dap;
pub mod demo;
pub mod dialects;
pub mod legacy;
pub mod logging;
pub mod probe;
pub mod process_group;
pub mod processes;
pub mod python;
pub mod relay;
pub mod server;
pub mod session;
pub mod transport;
