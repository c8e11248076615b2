//! The command line's definition (clap): subcommands, options, their help and the exit
//! status. `main.rs` runs what it parses; the man pages and shell completions are generated
//! from it, and the tests parse the README's commands with it. Knows nothing of how a
//! command is carried out.
//!
//! Exit status, for every subcommand (also in `--help`, the man pages and the README):
//! 0 success; 1 it ran and failed (a connection, a handshake, a listening socket), with
//! one sentence on stderr; 2 the command line is wrong: what clap rejects, and the values
//! checked before anything starts (a URL, a header, a relay target, TLS or log files).

use std::path::PathBuf;

use clap::{Args, CommandFactory, Parser, Subcommand};

#[derive(Parser, Debug)]
#[command(
    name = "ptvsd-dap",
    version,
    about = "A Debug Adapter Protocol server for apps running the legacy ptvsd 2.x/3.x debugger",
    long_about = "A Debug Adapter Protocol server for apps running the legacy ptvsd 2.x/3.x debugger. \
                  Without a subcommand it serves DAP on stdio for an editor (or on --port).",
    after_help = EXIT_STATUS
)]
pub struct Cli {
    /// Write logs to this file instead of stderr.
    #[arg(long, global = true, value_name = "PATH")]
    pub log_file: Option<PathBuf>,
    /// Log filter: error, warn, info, debug, trace (or a tracing filter). RUST_LOG overrides it.
    #[arg(long, global = true, default_value = "warn", value_name = "LEVEL")]
    pub log_level: String,
    /// Serve DAP over TCP on this port (on 127.0.0.1) instead of stdio.
    #[arg(long, value_name = "N")]
    pub port: Option<u16>,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Connect to a ptvsd server, complete the handshake and print who it is.
    Probe(ProbeArgs),
    /// Relay WebSocket connections to a ptvsd TCP port, like Azure App Service's /ptvsd
    /// proxy, for debuggees behind an HTTP-only ingress. Prints `listening on ws(s)://ADDR`.
    Relay(RelayArgs),
    /// Print the JSON Schema of the attach and launch configurations: every key, its
    /// type, default and meaning (VS Code's `configurationAttributes`).
    Schema,
    /// Try it on a built-in sample: a small web app under ptvsd 3.2.1 (in a private venv
    /// made once), the built-in relay, and this adapter attaching, breaking, inspecting
    /// and detaching. Prints each step; cleans up after itself.
    Demo(DemoArgs),
    /// Print a shell completion script, e.g. `ptvsd-dap completions bash >
    /// ~/.local/share/bash-completion/completions/ptvsd-dap`.
    Completions {
        /// bash, elvish, fish, powershell or zsh
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff), or with --dir write it and one page per subcommand
    /// there, e.g. `ptvsd-dap manpage --dir ~/.local/share/man/man1`.
    Manpage {
        /// Write ptvsd-dap.1 and ptvsd-dap-SUBCOMMAND.1 into this directory (created if
        /// missing) instead of printing ptvsd-dap.1.
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
    },
}

pub const EXIT_STATUS: &str = "Exit status: 0 success; 1 failure, with one sentence on stderr; \
                           2 a wrong command line (clap's usage errors, or a URL, header, \
                           relay target or file that cannot be used).";

#[derive(Args, Debug)]
pub struct DemoArgs {
    /// The Python to make the venv with (CPython 3.6–3.11), or to use as is if it has
    /// ptvsd 2.x/3.x. Default: the newest of python3.11 … python3.6, pyenv's, python3.
    #[arg(long, value_name = "PATH")]
    pub python: Option<PathBuf>,
    /// The venv to use (if it exists; ptvsd is installed into it if missing) or to create,
    /// instead of the cached one in $XDG_CACHE_HOME/ptvsd-dap/demo-venv-X.Y.
    #[arg(long, value_name = "PATH")]
    pub venv: Option<PathBuf>,
    /// Seconds each step may take.
    #[arg(long, default_value_t = 30, value_name = "SECS")]
    pub timeout: u64,
}

#[derive(Args, Debug)]
pub struct RelayArgs {
    /// Address to listen on, e.g. 0.0.0.0:8080 (port 0 picks a free port).
    #[arg(long, value_name = "ADDR")]
    pub listen: std::net::SocketAddr,
    /// The ptvsd server to relay to, e.g. 127.0.0.1:5678.
    #[arg(long, value_name = "HOST:PORT")]
    pub target: String,
    /// PEM certificate chain: serve wss:// instead of ws://.
    #[arg(long, value_name = "PEM", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key for --tls-cert.
    #[arg(long, value_name = "PEM", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
}

#[derive(Args, Debug)]
pub struct ProbeArgs {
    /// tcp://SECRET@HOST[:PORT], tcps://…, ws://…, or wss://SECRET@SITE.azurewebsites.net/ptvsd
    pub url: String,
    /// Print one JSON object instead of text.
    #[arg(long)]
    pub json: bool,
    /// Trust the CA certificates in this PEM file (in addition to the built-in roots).
    #[arg(long, value_name = "PEM")]
    pub ca_file: Option<PathBuf>,
    /// Do not verify the server's TLS certificate (dangerous).
    #[arg(long)]
    pub insecure: bool,
    /// Seconds to wait for the connection and for each handshake step.
    #[arg(long, default_value_t = 10, value_name = "SECS")]
    pub timeout: u64,
    /// Extra header for the WebSocket upgrade, e.g. 'Cookie: ARRAffinity=…' (repeatable).
    #[arg(long = "header", value_name = "'Name: value'")]
    pub headers: Vec<String>,
    /// HTTP proxy, http://[USER:PASSWORD@]HOST:PORT ('' for none). Default: HTTPS_PROXY
    /// (HTTP_PROXY for ws://) unless the host is in NO_PROXY.
    #[arg(long, value_name = "URL")]
    pub proxy: Option<String>,
    /// Linux App Service tunnel: the publishing user name (default $PTVSD_DAP_TUNNEL_USER;
    /// the password is read from $PTVSD_DAP_TUNNEL_PASSWORD only).
    #[arg(long, value_name = "USER")]
    pub tunnel_user: Option<String>,
    /// Linux App Service tunnel: the port ptvsd listens on in the container.
    #[arg(long, default_value_t = 5678, value_name = "PORT")]
    pub tunnel_port: u16,
}

/// The clap command (for completions, man pages and `--help`).
pub fn command() -> clap::Command {
    Cli::command()
}
