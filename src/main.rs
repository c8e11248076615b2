//! The `ptvsd-dap` command line. With no subcommand it is a DAP server on stdio.
//! Nothing but DAP is written to stdout in that mode; logs go to stderr or `--log-file`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use ptvsd_dap::probe::{probe, ProbeError};
use ptvsd_dap::transport::{ConnectOptions, Endpoint, ProxyChoice, ProxyUrl, TunnelOptions};

#[derive(Parser, Debug)]
#[command(name = "ptvsd-dap", version, about = "A Debug Adapter Protocol server for apps running the legacy ptvsd 2.x/3.x debugger")]
struct Cli {
    /// Write logs to this file instead of stderr.
    #[arg(long, global = true, value_name = "PATH")]
    log_file: Option<PathBuf>,
    /// Log filter: error, warn, info, debug, trace (or a tracing filter). RUST_LOG overrides it.
    #[arg(long, global = true, default_value = "warn", value_name = "LEVEL")]
    log_level: String,
    /// Serve DAP over TCP on this port (on 127.0.0.1) instead of stdio.
    #[arg(long, value_name = "N")]
    port: Option<u16>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Connect to a ptvsd server, complete the handshake and print who it is.
    Probe(ProbeArgs),
    /// Relay WebSocket connections to a ptvsd TCP port, like Azure App Service's /ptvsd
    /// proxy, for debuggees behind an HTTP-only ingress. Prints `listening on ws(s)://ADDR`.
    Relay(RelayArgs),
    /// Print the JSON Schema of the attach and launch configurations (VS Code's
    /// `configurationAttributes`; `editors/vscode/package.json` is checked against it).
    #[command(hide = true)]
    Schema,
    /// Try it on a built-in sample: a small web app under ptvsd 3.2.1 (in a private venv
    /// made once), the built-in relay, and this adapter attaching, breaking, inspecting
    /// and detaching. Prints each step; cleans up after itself.
    Demo(DemoArgs),
}

#[derive(Args, Debug)]
struct DemoArgs {
    /// The Python to make the venv with (CPython 3.6–3.11), or to use as is if it has
    /// ptvsd 2.x/3.x. Default: the newest of python3.11 … python3.6, pyenv's, python3.
    #[arg(long, value_name = "PATH")]
    python: Option<PathBuf>,
    /// The venv to use (if it exists; ptvsd is installed into it if missing) or to create,
    /// instead of the cached one in $XDG_CACHE_HOME/ptvsd-dap/demo-venv-X.Y.
    #[arg(long, value_name = "PATH")]
    venv: Option<PathBuf>,
    /// Seconds each step may take.
    #[arg(long, default_value_t = 30, value_name = "SECS")]
    timeout: u64,
}

#[derive(Args, Debug)]
struct RelayArgs {
    /// Address to listen on, e.g. 0.0.0.0:8080 (port 0 picks a free port).
    #[arg(long, value_name = "ADDR")]
    listen: std::net::SocketAddr,
    /// The ptvsd server to relay to, e.g. 127.0.0.1:5678.
    #[arg(long, value_name = "HOST:PORT")]
    target: String,
    /// PEM certificate chain: serve wss:// instead of ws://.
    #[arg(long, value_name = "PEM", requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// PEM private key for --tls-cert.
    #[arg(long, value_name = "PEM", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
}

#[derive(Args, Debug)]
struct ProbeArgs {
    /// tcp://SECRET@HOST[:PORT], tcps://…, ws://…, or wss://SECRET@SITE.azurewebsites.net/ptvsd
    url: String,
    /// Print one JSON object instead of text.
    #[arg(long)]
    json: bool,
    /// Trust the CA certificates in this PEM file (in addition to the built-in roots).
    #[arg(long, value_name = "PEM")]
    ca_file: Option<PathBuf>,
    /// Do not verify the server's TLS certificate (dangerous).
    #[arg(long)]
    insecure: bool,
    /// Seconds to wait for the connection and for each handshake step.
    #[arg(long, default_value_t = 10, value_name = "SECS")]
    timeout: u64,
    /// Extra header for the WebSocket upgrade, e.g. 'Cookie: ARRAffinity=…' (repeatable).
    #[arg(long = "header", value_name = "'Name: value'")]
    headers: Vec<String>,
    /// HTTP proxy, http://[USER:PASSWORD@]HOST:PORT ('' for none). Default: HTTPS_PROXY
    /// (HTTP_PROXY for ws://) unless the host is in NO_PROXY.
    #[arg(long, value_name = "URL")]
    proxy: Option<String>,
    /// Linux App Service tunnel: the publishing user name (default $PTVSD_DAP_TUNNEL_USER;
    /// the password is read from $PTVSD_DAP_TUNNEL_PASSWORD only).
    #[arg(long, value_name = "USER")]
    tunnel_user: Option<String>,
    /// Linux App Service tunnel: the port ptvsd listens on in the container.
    #[arg(long, default_value_t = 5678, value_name = "PORT")]
    tunnel_port: u16,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Err(error) = ptvsd_dap::logging::init(&cli.log_level, cli.log_file.as_deref()) {
        eprintln!("ptvsd-dap: cannot open the log file: {error}");
        return ExitCode::from(2);
    }
    // The DAP server is one session whose tasks hand every message to each other: on one
    // thread those hand-offs are cheap and its allocations share one malloc arena. The
    // relay serves many connections, and probe does not care.
    let mut builder = match cli.command {
        None => tokio::runtime::Builder::new_current_thread(),
        Some(_) => tokio::runtime::Builder::new_multi_thread(),
    };
    // (No effect on the current-thread runtime.)
    builder.worker_threads(2);
    let runtime = match builder.enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("ptvsd-dap: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    let code = match cli.command {
        Some(Command::Probe(args)) => runtime.block_on(run_probe(args)),
        Some(Command::Relay(args)) => runtime.block_on(run_relay(args)),
        Some(Command::Schema) => print_schema(),
        Some(Command::Demo(args)) => runtime.block_on(run_demo(args)),
        None => runtime.block_on(run_server(cli.port)),
    };
    // Reading stdin parks a blocking thread that never returns by itself; do not wait
    // for it.
    runtime.shutdown_timeout(Duration::from_millis(200));
    code
}

async fn run_server(port: Option<u16>) -> ExitCode {
    match port {
        None => {
            ptvsd_dap::server::serve_stdio().await;
            ExitCode::SUCCESS
        }
        Some(port) => {
            let listener = match tokio::net::TcpListener::bind(("127.0.0.1", port)).await {
                Ok(listener) => listener,
                Err(error) => {
                    eprintln!("ptvsd-dap: cannot listen on 127.0.0.1:{port}: {error}");
                    return ExitCode::from(2);
                }
            };
            if let Ok(address) = listener.local_addr() {
                eprintln!("ptvsd-dap: serving DAP on {address}");
            }
            match ptvsd_dap::server::serve_tcp(listener).await {
                Ok(()) => ExitCode::SUCCESS,
                Err(error) => {
                    eprintln!("ptvsd-dap: {error}");
                    ExitCode::FAILURE
                }
            }
        }
    }
}

fn print_schema() -> ExitCode {
    use std::io::Write;
    let attributes = ptvsd_dap::session::config::configuration_attributes();
    let text = match serde_json::to_string_pretty(&attributes) {
        Ok(json) => json + "\n",
        Err(error) => {
            eprintln!("ptvsd-dap: {error}");
            return ExitCode::FAILURE;
        }
    };
    let mut stdout = std::io::stdout().lock();
    if stdout.write_all(text.as_bytes()).and_then(|_| stdout.flush()).is_err() {
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}

fn parse_header(text: &str) -> Result<(String, String), String> {
    match text.split_once(':') {
        Some((name, value)) if !name.trim().is_empty() => Ok((name.trim().to_string(), value.trim().to_string())),
        _ => Err(format!("--header {text:?} is not of the form 'Name: value'")),
    }
}

async fn run_probe(args: ProbeArgs) -> ExitCode {
    let endpoint = match Endpoint::parse(&args.url) {
        Ok(endpoint) => endpoint,
        Err(error) => {
            eprintln!("ptvsd-dap: {error}");
            return ExitCode::from(2);
        }
    };
    let mut headers = Vec::new();
    for text in &args.headers {
        match parse_header(text) {
            Ok(header) => headers.push(header),
            Err(message) => {
                eprintln!("ptvsd-dap: {message}");
                return ExitCode::from(2);
            }
        }
    }
    let timeout = Duration::from_secs(args.timeout.max(1));
    let proxy = match args.proxy.as_deref().map(str::trim) {
        None => ProxyChoice::FromEnvironment,
        Some("") => ProxyChoice::Off,
        Some(url) => match ProxyUrl::parse(url, "--proxy") {
            Ok(url) => ProxyChoice::Url(url),
            Err(error) => {
                eprintln!("ptvsd-dap: {error}");
                return ExitCode::from(2);
            }
        },
    };
    let tunnel = TunnelOptions { user: args.tunnel_user, password: None, port: Some(args.tunnel_port) };
    let options = ConnectOptions { ca_file: args.ca_file, insecure_tls: args.insecure, headers, connect_timeout: timeout, proxy, tunnel, ..ConnectOptions::default() };
    match probe(&endpoint, &options, timeout).await {
        Ok(report) => {
            let text = if args.json {
                match serde_json::to_string(&report) {
                    Ok(json) => json + "\n",
                    Err(error) => {
                        eprintln!("ptvsd-dap: {error}");
                        return ExitCode::FAILURE;
                    }
                }
            } else {
                report.to_text(&endpoint)
            };
            use std::io::Write;
            let mut stdout = std::io::stdout().lock();
            if stdout.write_all(text.as_bytes()).and_then(|_| stdout.flush()).is_err() {
                return ExitCode::FAILURE;
            }
            ExitCode::SUCCESS
        }
        Err(error) => {
            let what = match &error {
                ProbeError::Transport(_) => "cannot reach the debuggee",
                ProbeError::Handshake(_) => "the ptvsd handshake failed",
            };
            eprintln!("ptvsd-dap: {what}: {error}");
            ExitCode::FAILURE
        }
    }
}

async fn run_demo(args: DemoArgs) -> ExitCode {
    let options = ptvsd_dap::demo::DemoOptions { python: args.python, venv: args.venv, timeout: Duration::from_secs(args.timeout.max(1)) };
    match ptvsd_dap::demo::run(options).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("ptvsd-dap demo: {error}");
            ExitCode::FAILURE
        }
    }
}

async fn run_relay(args: RelayArgs) -> ExitCode {
    use ptvsd_dap::relay::{self, RelayConfig};
    let tls = args.tls_cert.zip(args.tls_key);
    let config = RelayConfig { listen: args.listen, target: args.target, tls };
    if let Err(error) = config.validate() {
        eprintln!("ptvsd-dap: {error}");
        return ExitCode::from(2);
    }
    // Install the handlers before announcing the address, so a signal sent as soon as the
    // line is read is not lost.
    let shutdown = match ShutdownSignal::install() {
        Ok(shutdown) => shutdown,
        Err(error) => {
            eprintln!("ptvsd-dap: cannot install the signal handlers: {error}");
            return ExitCode::FAILURE;
        }
    };
    let listener = match relay::bind(&config).await {
        Ok(listener) => listener,
        Err(error) => {
            eprintln!("ptvsd-dap: {error}");
            return ExitCode::FAILURE;
        }
    };
    let local = match listener.local_addr() {
        Ok(local) => local,
        Err(error) => {
            eprintln!("ptvsd-dap: {error}");
            return ExitCode::FAILURE;
        }
    };
    {
        use std::io::Write;
        let mut stdout = std::io::stdout().lock();
        let line = format!("listening on {}://{local}\n", config.scheme());
        if stdout.write_all(line.as_bytes()).and_then(|_| stdout.flush()).is_err() {
            return ExitCode::FAILURE;
        }
    }
    eprintln!("ptvsd-dap: relaying {}://{local}/* to {}", config.scheme(), config.target);
    match relay::serve(listener, config, shutdown.wait()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("ptvsd-dap: {error}");
            ExitCode::FAILURE
        }
    }
}

/// SIGINT or SIGTERM (Ctrl-C elsewhere).
struct ShutdownSignal {
    #[cfg(unix)]
    interrupt: tokio::signal::unix::Signal,
    #[cfg(unix)]
    terminate: tokio::signal::unix::Signal,
}

impl ShutdownSignal {
    fn install() -> std::io::Result<ShutdownSignal> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            Ok(ShutdownSignal {
                interrupt: signal(SignalKind::interrupt())?,
                terminate: signal(SignalKind::terminate())?,
            })
        }
        #[cfg(not(unix))]
        Ok(ShutdownSignal {})
    }

    #[cfg_attr(not(unix), allow(unused_mut))]
    async fn wait(mut self) {
        #[cfg(unix)]
        {
            let which = tokio::select! {
                _ = self.interrupt.recv() => "SIGINT",
                _ = self.terminate.recv() => "SIGTERM",
            };
            tracing::info!("{which}: shutting down");
        }
        #[cfg(not(unix))]
        {
            if tokio::signal::ctrl_c().await.is_err() {
                std::future::pending::<()>().await;
            }
        }
    }
}
