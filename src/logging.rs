//! Logging setup. Logs go to stderr or to `--log-file`, never to stdout, which belongs to
//! DAP. Owns: [`init`]. Must not know: anything of the protocols.

use std::fs::OpenOptions;
use std::path::Path;
use std::sync::Mutex;

use tracing_subscriber::EnvFilter;

/// Installs the global subscriber. `level` is a tracing filter (`warn`, `debug`,
/// `ptvsd_dap=trace`, …); `RUST_LOG` overrides it when set.
pub fn init(level: &str, log_file: Option<&Path>) -> std::io::Result<()> {
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(level))
        .unwrap_or_else(|_| EnvFilter::new("warn"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_target(true);
    let result = match log_file {
        Some(path) => {
            let file = OpenOptions::new().create(true).append(true).open(path)?;
            builder.with_ansi(false).with_writer(Mutex::new(file)).try_init()
        }
        None => builder.with_ansi(false).with_writer(std::io::stderr).try_init(),
    };
    // A second init (tests) keeps the first subscriber.
    let _ = result;
    Ok(())
}
