//! The benchmark harness of ptvsd-dap (`cargo bench --bench adapter`), shared with the
//! smoke test `tests/bench_smoke.rs`, which runs it with `--quick`.
//!
//! Four groups, each measuring alternatives side by side in one run, interleaved:
//! 1. `roundtrip`: evaluate and step over against real ptvsd 3.2.1 and 3.0.0 through a
//!    direct plain-socket client, a direct NODELAY+QUICKACK client, and the adapter over
//!    tcp://, ws:// via `ptvsd-dap relay`, and ws:// via websockify.
//! 2. `relay`: `ptvsd-dap relay` against websockify: bulk throughput each way, 64-byte
//!    ping-pong latency.
//! 3. `cost`: adapter cold start, peak RSS after expanding 10 000 variables, forwarding
//!    50 MB of program output.
//! 4. `anchor`: the same attach-break-inspect-continue session with debugpy 1.8 and with
//!    ptvsd-dap + ptvsd 3.2.1.
//! 5. `wan`: every editor action over a simulated WAN link (network namespaces and a
//!    packet-delaying forwarder, as root), ptvsd-dap over tcp:// and ws:// against debugpy,
//!    with the round trips counted on the link.
//!
//! Needs the test peers (scripts/setup-test-env.sh); group 4 and the websockify+numpy
//! relay need the bench env ([`bench_env_dir`], made by scripts/setup-bench-env.sh) and
//! are skipped without it.
#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stdout,
    clippy::print_literal
)]

pub mod anchor;

/// Where `scripts/setup-bench-env.sh` installs: `$PTVSD_BENCH_ENV_DIR`, else
/// `${XDG_CACHE_HOME:-~/.cache}/ptvsd-dap/bench-env`, outside the clone like the test env.
pub fn bench_env_dir() -> std::path::PathBuf {
    if let Some(dir) = std::env::var_os("PTVSD_BENCH_ENV_DIR").filter(|dir| !dir.is_empty()) {
        return dir.into();
    }
    let cache = match std::env::var_os("XDG_CACHE_HOME").filter(|dir| !dir.is_empty()) {
        Some(dir) => std::path::PathBuf::from(dir),
        None => std::path::PathBuf::from(std::env::var_os("HOME").unwrap_or_else(|| "/root".into())).join(".cache"),
    };
    cache.join("ptvsd-dap").join("bench-env")
}
pub mod cost;
pub mod dap;
pub mod legacy;
pub mod procs;
pub mod relay;
pub mod roundtrip;
pub mod stats;
pub mod wan;
pub mod wanlink;

#[path = "../../tests/support/mod.rs"]
pub mod support;

use std::path::PathBuf;
use std::time::Instant;

pub type Res<T> = Result<T, Box<dyn std::error::Error + Send + Sync>>;

/// What to run and how much.
#[derive(Debug, Clone)]
pub struct Config {
    pub quick: bool,
    /// Which of the groups 1–5 to run.
    pub groups: [bool; 5],
    pub versions: Vec<&'static str>,
    /// Discarded warm-up operations per path.
    pub warmup: usize,
    pub rt_rounds: usize,
    pub rt_batch: usize,
    pub bulk_bytes: usize,
    pub bulk_rounds: usize,
    pub ping_rounds: usize,
    pub ping_batch: usize,
    pub cold_starts: usize,
    pub output_bytes: usize,
    pub output_rounds: usize,
    pub anchor_rounds: usize,
    /// Attach/detach cycles of one adapter in group 3.
    pub attach_cycles: usize,
    /// Round-trip times of the WAN link (group 5), in ms.
    pub wan_rtts: Vec<u64>,
    /// Sessions per path and RTT in group 5.
    pub wan_rounds: usize,
    /// Also write the report here.
    pub out: Option<PathBuf>,
    /// An older ptvsd-dap binary measured side by side with this one (before/after).
    pub baseline: Option<PathBuf>,
}

impl Config {
    pub fn full() -> Config {
        Config {
            quick: false,
            groups: [true; 5],
            versions: vec!["3.2.1", "3.0.0"],
            warmup: 5,
            rt_rounds: 30,
            rt_batch: 10,
            bulk_bytes: 50_000_000,
            bulk_rounds: 5,
            ping_rounds: 10,
            ping_batch: 200,
            cold_starts: 40,
            output_bytes: 50_000_000,
            output_rounds: 3,
            anchor_rounds: 5,
            attach_cycles: 1000,
            wan_rtts: vec![40, 100],
            wan_rounds: 5,
            out: None,
            baseline: None,
        }
    }

    /// A few iterations of everything: proves the harness works, measures nothing.
    pub fn quick() -> Config {
        Config {
            quick: true,
            groups: [true; 5],
            versions: vec!["3.2.1", "3.0.0"],
            warmup: 1,
            rt_rounds: 1,
            rt_batch: 2,
            bulk_bytes: 1_000_000,
            bulk_rounds: 1,
            ping_rounds: 1,
            ping_batch: 5,
            cold_starts: 2,
            output_bytes: 1_000_000,
            output_rounds: 1,
            anchor_rounds: 1,
            attach_cycles: 3,
            wan_rtts: vec![20],
            wan_rounds: 1,
            out: None,
            baseline: None,
        }
    }

    /// Parses the command line (`cargo bench --bench adapter -- [--quick] [--only 1,3]
    /// [--out FILE]`); cargo's own `--bench` is ignored.
    pub fn from_args(args: impl IntoIterator<Item = String>) -> Res<Config> {
        let args: Vec<String> = args.into_iter().collect();
        let mut config = if args.iter().any(|a| a == "--quick") { Config::quick() } else { Config::full() };
        let mut iter = args.into_iter();
        while let Some(arg) = iter.next() {
            match arg.as_str() {
                "--quick" | "--bench" => {}
                "--only" => {
                    let list = iter.next().ok_or("--only needs a list such as 1,3 or relay")?;
                    config.groups = [false; 5];
                    for item in list.split(',') {
                        let index = match item.trim() {
                            "1" | "roundtrip" => 0,
                            "2" | "relay" => 1,
                            "3" | "cost" => 2,
                            "4" | "anchor" => 3,
                            "5" | "wan" => 4,
                            other => {
                                return Err(format!(
                                    "unknown group {other:?} (1–5, roundtrip, relay, cost, anchor, wan)"
                                )
                                .into())
                            }
                        };
                        config.groups[index] = true;
                    }
                }
                "--baseline" => {
                    let path = PathBuf::from(iter.next().ok_or("--baseline needs a ptvsd-dap binary")?);
                    if !path.is_file() {
                        return Err(format!("no baseline binary {}", path.display()).into());
                    }
                    config.baseline = Some(path);
                }
                "--wan-rtts" => {
                    let list = iter.next().ok_or("--wan-rtts needs a list of milliseconds such as 40,100")?;
                    config.wan_rtts = list.split(',').map(|v| v.trim().parse::<u64>()).collect::<Result<_, _>>()?;
                    if config.wan_rtts.is_empty() || config.wan_rtts.contains(&0) {
                        return Err("--wan-rtts needs round-trip times above 0 ms".into());
                    }
                }
                "--cycles" => {
                    config.attach_cycles = iter.next().ok_or("--cycles needs a number")?.parse::<usize>()?.max(1)
                }
                "--bulk-mb" => {
                    config.bulk_bytes = iter.next().ok_or("--bulk-mb needs a number")?.parse::<usize>()? * 1_000_000
                }
                "--out" => config.out = Some(PathBuf::from(iter.next().ok_or("--out needs a file")?)),
                "--rounds" => {
                    let n: usize = iter.next().ok_or("--rounds needs a number")?.parse()?;
                    config.rt_rounds = n;
                    config.bulk_rounds = n.min(config.bulk_rounds.max(1));
                    config.ping_rounds = n;
                    config.anchor_rounds = n;
                    config.wan_rounds = n;
                }
                "--versions" => {
                    let list = iter.next().ok_or("--versions needs a list such as 3.2.1,3.0.0")?;
                    config.versions = list
                        .split(',')
                        .map(|v| match v.trim() {
                            "3.2.1" => Ok("3.2.1"),
                            "3.0.0" => Ok("3.0.0"),
                            other => Err(format!("unsupported ptvsd version {other:?} (3.2.1, 3.0.0)")),
                        })
                        .collect::<Result<_, _>>()?;
                }
                // libtest-style flags and filters that `cargo test`/`cargo bench` may pass.
                other if other.starts_with('-') => {}
                _ => {}
            }
        }
        Ok(config)
    }
}

/// The markdown report and the headline lines (one per target).
#[derive(Debug, Default)]
pub struct Report {
    pub body: String,
    pub headlines: Vec<String>,
}

impl Report {
    pub fn section(&mut self, heading: &str) {
        self.body.push('\n');
        self.body.push_str(heading);
        self.body.push('\n');
    }
    pub fn text(&mut self, text: &str) {
        self.body.push_str(text);
    }
    pub fn headline(&mut self, line: String) {
        self.headlines.push(line);
    }
    pub fn render(&self) -> String {
        let mut out = String::from("# ptvsd-dap benchmark report\n\n## Headlines\n\n");
        for line in &self.headlines {
            out.push_str(&format!("- {line}\n"));
        }
        out.push_str(&self.body);
        out
    }
}

/// Progress on stderr (the report goes to stdout).
pub fn progress(message: &str) {
    eprintln!("[bench] {message}");
}

/// Runs the configured groups; the report is returned even when a group failed (its
/// error is part of it), and the error of the first failed group is returned alongside.
pub fn run(config: &Config) -> (Report, Option<String>) {
    let mut report = Report::default();
    let runtime = match tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => return (report, Some(format!("cannot start tokio: {error}"))),
    };
    let started = Instant::now();
    let mut first_error = None;
    report.text(&machine::describe(config.baseline.as_deref()));
    type Group =
        for<'a> fn(&'a Config, &'a mut Report) -> std::pin::Pin<Box<dyn std::future::Future<Output = Res<()>> + 'a>>;
    let groups: [(&str, Group); 5] = [
        ("round trips", |c, r| Box::pin(roundtrip::run(c, r))),
        ("relay", |c, r| Box::pin(relay::run(c, r))),
        ("adapter cost", |c, r| Box::pin(cost::run(c, r))),
        ("modern anchor", |c, r| Box::pin(anchor::run(c, r))),
        ("wan", |c, r| Box::pin(wan::run(c, r))),
    ];
    for (index, (name, group)) in groups.iter().enumerate() {
        if !config.groups[index] {
            continue;
        }
        let group_start = Instant::now();
        progress(&format!("group {}: {name}", index + 1));
        if let Err(error) = runtime.block_on(group(config, &mut report)) {
            let message = format!("group {} ({name}) failed: {error}", index + 1);
            progress(&message);
            report.text(&format!("\n**{message}**\n"));
            first_error.get_or_insert(message);
        }
        progress(&format!("group {}: {name}: {:.1} s", index + 1, group_start.elapsed().as_secs_f64()));
    }
    report.text(&format!("\nTotal run time: {:.0} s.\n", started.elapsed().as_secs_f64()));
    runtime.shutdown_timeout(std::time::Duration::from_secs(2));
    (report, first_error)
}

/// The bench binary's entry point.
pub fn main() -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    // `cargo test --all-targets` runs bench targets too, without `--bench`: the smoke test
    // (tests/bench_smoke.rs) covers that run, so do not measure for ten minutes here.
    if !args.iter().any(|a| a == "--bench") {
        eprintln!(
            "adapter bench: built (test mode measures nothing: tests/bench_smoke.rs runs the harness; \
             `cargo bench --bench adapter` measures)"
        );
        return std::process::ExitCode::SUCCESS;
    }
    let config = match Config::from_args(args) {
        Ok(config) => config,
        Err(error) => {
            eprintln!("adapter bench: {error}");
            return std::process::ExitCode::from(2);
        }
    };
    let (report, error) = run(&config);
    let text = report.render();
    println!("{text}");
    if let Some(path) = &config.out {
        if let Err(e) = std::fs::write(path, &text) {
            eprintln!("adapter bench: cannot write {}: {e}", path.display());
        }
    }
    match error {
        Some(_) => std::process::ExitCode::FAILURE,
        None => std::process::ExitCode::SUCCESS,
    }
}

pub mod machine {
    //! What the report says about the machine and the versions.

    use std::process::Command;

    fn first_line(cmd: &str, args: &[&str]) -> String {
        Command::new(cmd)
            .args(args)
            .output()
            .ok()
            .map(|o| {
                let text = if o.stdout.is_empty() { o.stderr } else { o.stdout };
                String::from_utf8_lossy(&text).lines().next().unwrap_or("").trim().to_string()
            })
            .unwrap_or_default()
    }

    pub fn describe(baseline: Option<&std::path::Path>) -> String {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let model = cpuinfo
            .lines()
            .find(|l| l.starts_with("model name"))
            .and_then(|l| l.split_once(':'))
            .map(|(_, v)| v.trim().to_string())
            .unwrap_or_default();
        let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0);
        let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default().trim().to_string();
        let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
        let load: Vec<&str> = load.split_whitespace().take(3).collect();
        let peers = super::support::Peers::load();
        let python = peers.find("3.11", "3.2.1").map(|p| p.python_version.clone()).unwrap_or_default();
        let debugpy_python = super::anchor::debugpy_python();
        let debugpy = if debugpy_python.exists() {
            first_line(&debugpy_python.to_string_lossy(), &["-c", "import debugpy; print(debugpy.__version__)"])
        } else {
            "not installed (scripts/setup-bench-env.sh)".to_string()
        };
        let numpy_python = super::relay::numpy_websockify().map(|p| p.to_string_lossy().to_string());
        let numpy = numpy_python
            .map(|exe| {
                let python = std::path::Path::new(&exe).with_file_name("python");
                first_line(&python.to_string_lossy(), &["-c", "import numpy; print(numpy.__version__)"])
            })
            .unwrap_or_else(|| "not installed".to_string());
        format!(
            "\n## Machine and versions\n\n\
             | | |\n|---|---|\n\
             | CPU | {model}, {cores} cores (shared with other work; load average at start {}) |\n\
             | kernel | {kernel} |\n\
             | rustc | {} |\n\
             | Python | CPython {python} |\n\
             | ptvsd | 3.2.1 (JSON protocol 8), 3.0.0 (binary protocol 6) |\n\
             | websockify | {} (as in the test env, without numpy); with numpy {numpy} in the bench env |\n\
             | debugpy | {debugpy} |\n\
             | adapter build | {} |\n\
             | baseline build | {} |\n",
            load.join(" "),
            first_line("rustc", &["--version"]),
            peers.websockify.version,
            if cfg!(debug_assertions) { "debug (numbers are not representative)" } else { "release" },
            baseline.map_or("none".to_string(), |b| b.display().to_string()),
        )
    }
}
