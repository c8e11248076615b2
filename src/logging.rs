//! Logging setup. Logs go to stderr or to `--log-file`, never to stdout, which belongs to
//! DAP. Owns: [`init`]. Must not know: anything of the protocols.
//!
//! The secret must never reach a log, at any level: tungstenite logs every WebSocket frame
//! (the ptvsd handshake, secret included) and the upgrade request (custom headers such as
//! cookies) at trace level, so trace events of the WebSocket crates are always dropped,
//! whatever the filter asks for.

use std::fs::OpenOptions;
use std::path::Path;
use std::sync::Mutex;

use tracing_subscriber::filter::filter_fn;
use tracing_subscriber::fmt::writer::BoxMakeWriter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::EnvFilter;

/// Crates whose trace output carries raw traffic.
const RAW_TRAFFIC_TARGETS: &[&str] = &["tungstenite", "tokio_tungstenite"];

/// Whether an event may be logged at all (see the module docs).
fn allowed(metadata: &tracing::Metadata<'_>) -> bool {
    if *metadata.level() != tracing::Level::TRACE {
        return true;
    }
    let target = metadata.target();
    !RAW_TRAFFIC_TARGETS
        .iter()
        .any(|crate_name| target.strip_prefix(crate_name).is_some_and(|rest| rest.is_empty() || rest.starts_with("::")))
}

/// Installs the global subscriber. `level` is a tracing filter (`warn`, `debug`,
/// `ptvsd_dap=trace`, …); `RUST_LOG` overrides it when set.
pub fn init(level: &str, log_file: Option<&Path>) -> std::io::Result<()> {
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(level))
        .unwrap_or_else(|_| EnvFilter::new("warn"));
    let writer = match log_file {
        Some(path) => {
            let file = OpenOptions::new().create(true).append(true).open(path)?;
            BoxMakeWriter::new(Mutex::new(file))
        }
        None => BoxMakeWriter::new(std::io::stderr),
    };
    let result = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(true)
        .with_ansi(false)
        .with_writer(writer)
        .finish()
        .with(filter_fn(allowed))
        .try_init();
    // A second init (tests) keeps the first subscriber.
    let _ = result;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use tracing::{Level, Metadata};

    fn allowed_at(target: &'static str, level: Level) -> bool {
        // Metadata needs a static callsite; build one per call through the macro.
        struct Cs;
        impl tracing::callsite::Callsite for Cs {
            fn set_interest(&self, _: tracing::subscriber::Interest) {}
            fn metadata(&self) -> &Metadata<'_> {
                unreachable!()
            }
        }
        static CS: Cs = Cs;
        let meta = Metadata::new(
            "e",
            target,
            level,
            None,
            None,
            None,
            tracing::field::FieldSet::new(&[], tracing::callsite::Identifier(&CS)),
            tracing::metadata::Kind::EVENT,
        );
        allowed(&meta)
    }

    #[test]
    fn websocket_frames_are_never_traced() {
        assert!(!allowed_at("tungstenite::protocol", Level::TRACE));
        assert!(!allowed_at("tungstenite", Level::TRACE));
        assert!(!allowed_at("tokio_tungstenite::compat", Level::TRACE));
        assert!(allowed_at("tungstenite::protocol", Level::DEBUG));
        assert!(allowed_at("ptvsd_dap::session", Level::TRACE));
        assert!(allowed_at("tungstenite_like", Level::TRACE));
    }
}
