//! The `ptvsd-dap` executable: runs what `ptvsd_dap::cli` parses. With no subcommand it
//! is a DAP server on stdio. Nothing but DAP is written to stdout in that mode; logs go to
//! stderr or `--log-file`. Exit status: see `cli`.

use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use ptvsd_dap::cli::{Cli, Command, DemoArgs, ProbeArgs, RelayArgs, EXIT_STATUS};
use ptvsd_dap::probe::{probe, ProbeError};
use ptvsd_dap::transport::{ConnectOptions, Endpoint, ProxyChoice, ProxyUrl, TunnelOptions};

fn main() -> ExitCode {
    let cli = Cli::parse();
    // These two only print text generated from the definition above.
    match &cli.command {
        Some(Command::Completions { shell }) => return print_completions(*shell),
        Some(Command::Manpage { dir }) => return print_manpage(dir.as_deref()),
        _ => {}
    }
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
        Some(Command::Completions { .. } | Command::Manpage { .. }) => ExitCode::SUCCESS,
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
                    return ExitCode::FAILURE;
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

/// Writes `bytes` to stdout; 1 when stdout is gone.
fn print_bytes(bytes: &[u8]) -> ExitCode {
    use std::io::Write;
    let mut stdout = std::io::stdout().lock();
    match stdout.write_all(bytes).and_then(|_| stdout.flush()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(_) => ExitCode::FAILURE,
    }
}

fn print_completions(shell: clap_complete::Shell) -> ExitCode {
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut ptvsd_dap::cli::command(), "ptvsd-dap", &mut script);
    print_bytes(&script)
}

/// The man pages generated from the definition above: `ptvsd-dap.1` on stdout, or it and
/// one page per subcommand (`ptvsd-dap-probe.1`, …) written into `dir`. The exit status is
/// in each page's EXTRA section (`after_help`).
fn print_manpage(dir: Option<&std::path::Path>) -> ExitCode {
    let command = ptvsd_dap::cli::command();
    let Some(dir) = dir else {
        let mut page = Vec::new();
        if let Err(error) = clap_mangen::Man::new(command).render(&mut page) {
            eprintln!("ptvsd-dap: {error}");
            return ExitCode::FAILURE;
        }
        return print_bytes(&page);
    };
    let command = with_exit_status(command);
    match std::fs::create_dir_all(dir).and_then(|()| clap_mangen::generate_to(command, dir)) {
        Ok(()) => {
            eprintln!("ptvsd-dap: wrote the man pages into {}", dir.display());
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("ptvsd-dap: cannot write the man pages into {}: {error}", dir.display());
            ExitCode::FAILURE
        }
    }
}

/// The command with the exit status under every subcommand too.
fn with_exit_status(command: clap::Command) -> clap::Command {
    let names: Vec<String> = command.get_subcommands().map(|sub| sub.get_name().to_string()).collect();
    names.iter().fold(command, |command, name| {
        command.mut_subcommand(name, |sub| sub.after_help(EXIT_STATUS).display_name(format!("ptvsd-dap-{name}")))
    })
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
    let options = ConnectOptions {
        ca_file: args.ca_file,
        insecure_tls: args.insecure,
        headers,
        connect_timeout: timeout,
        proxy,
        tunnel,
        ..ConnectOptions::default()
    };
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
    let options = ptvsd_dap::demo::DemoOptions {
        python: args.python,
        venv: args.venv,
        timeout: Duration::from_secs(args.timeout.max(1)),
    };
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
