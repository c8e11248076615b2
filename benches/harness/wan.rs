//! Group 5 (`wan`): every editor action over a simulated WAN link (see [`super::wanlink`]),
//! ptvsd-dap against debugpy, at several round-trip times.
//!
//! The editor's side (the adapter, or the DAP client of debugpy) runs in the `near`
//! namespace, the site (the debuggee, its WebSocket relay, debugpy's own adapter) in `far`.
//! Paths: ptvsd-dap over `tcp://`, over `ws://` through `ptvsd-dap relay` and through
//! websockify (relays next to the debuggee, as on Azure), per ptvsd version; debugpy with
//! `--listen` (its adapter next to the debuggee, reached over the link as VS Code's
//! `attach` + `connect` does). Each session is a fresh `bench_app.py wan`, started before
//! the clock runs, driven through the same requests in the order VS Code sends them. Per
//! action: the time on the client's clock and the round trips counted on the link.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tokio::io::{AsyncRead, AsyncWrite};

use super::anchor::debugpy_python;
use super::dap::Dap;
use super::procs::{adapter_exe, bench_app, python_env, Adapter, Proc, WsRelay};
use super::stats::{summarize, verdict, Table};
use super::support::{free_port, line_of, Peers};
use super::wanlink::{listening_in_namespace_of, round_trips, WanLink, FAR_ADDR};
use super::{progress, Config, Report, Res};

/// The actions measured, in the order a session performs them.
pub const ACTIONS: [&str; 9] = [
    "connect + initialize",
    "attach → configurationDone answered",
    "stop → redraw (threads, stackTrace, scopes, variables)",
    "locals + 3 watches at a stop",
    "expand a 1,000-entry dict (first view)",
    "expand a 10,000-item list (first page)",
    "evaluate (repl)",
    "step → stopped → redraw",
    "disconnect",
];

const CONNECT: usize = 0;
const ATTACH: usize = 1;
const REDRAW: usize = 2;
const WATCHES: usize = 3;
const DICT: usize = 4;
const LIST: usize = 5;
const EVALUATE: usize = 6;
const STEP: usize = 7;
const DISCONNECT: usize = 8;

/// Longest an action may take before it counts as lost.
const ACTION_TIMEOUT: Duration = Duration::from_secs(20);

const WATCH_EXPRESSIONS: [&str; 3] = ["small['label']", "len(items)", "table['k0007']"];

#[derive(Debug, Clone, PartialEq)]
enum Kind {
    Tcp,
    Relay,
    Websockify,
    Debugpy,
}

#[derive(Debug, Clone)]
struct PathSpec {
    label: String,
    kind: Kind,
    version: Option<&'static str>,
    exe: PathBuf,
    /// The dialect the adapter expects (a cache file holding it, as after an earlier
    /// attach to the same endpoint): `json 8` or `json 7`.
    expect: Option<&'static str>,
}

/// One measurement: milliseconds and round trips counted, or why it failed.
#[derive(Debug, Clone)]
enum Sample {
    Done { ms: f64, round_trips: f64 },
    Failed(String),
}

/// Everything that runs on the far side for one session.
struct Site {
    debuggee: Proc,
    /// Kept alive for the session.
    _relay: Option<WsRelay>,
    /// Where the editor's side connects: a URL for ptvsd-dap, a port for debugpy.
    url: String,
    port: u16,
}

async fn start_site(link: &WanLink, path: &PathSpec) -> Res<Site> {
    let far = link.far.as_str();
    let port = free_port();
    let (python, args): (PathBuf, Vec<String>) = match path.kind {
        Kind::Debugpy => (
            debugpy_python(),
            vec![
                "-u".into(),
                "-m".into(),
                "debugpy".into(),
                "--listen".into(),
                format!("0.0.0.0:{port}"),
                "--wait-for-client".into(),
            ],
        ),
        _ => {
            let peer = Peers::load().peer("3.11", path.version.unwrap_or("3.2.1"));
            (peer.python_path.clone(), vec![])
        }
    };
    let secret = super::support::peers::random_secret();
    let mut cmd = WanLink::command(far, &python);
    if path.kind == Kind::Debugpy {
        cmd.args(&args);
    } else {
        cmd.args(["-u", "-m", "ptvsd", "--secret", &secret, "--interface", "0.0.0.0", "--port"]).arg(port.to_string());
    }
    cmd.arg(bench_app());
    if path.kind != Kind::Debugpy {
        cmd.arg("-");
    }
    cmd.arg("wan");
    let mut debuggee = Proc::spawn("bench_app.py wan (far side)", python_env(cmd))?;
    let started = Instant::now();
    while !listening_in_namespace_of(debuggee.pid, port) {
        if debuggee.exited() || started.elapsed() > Duration::from_secs(30) {
            return Err(format!("the far-side debuggee of {} does not listen on port {port}", path.label).into());
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let relay = match path.kind {
        Kind::Relay => Some(WsRelay::ptvsd_dap_in(Some(far), &path.exe, port, "ptvsd-dap relay").await?),
        Kind::Websockify => Some(WsRelay::websockify_in(Some(far), Peers::load().websockify(), port, "websockify")?),
        _ => None,
    };
    let url = match (&path.kind, &relay) {
        (Kind::Tcp, _) => format!("tcp://{secret}@{FAR_ADDR}:{port}"),
        (_, Some(relay)) => format!("ws://{secret}@{FAR_ADDR}:{}/ptvsd", relay.port),
        _ => String::new(),
    };
    Ok(Site { debuggee, _relay: relay, url, port })
}

/// Times one action on the client's clock and counts its round trips on the link.
struct Clock<'a> {
    link: &'a WanLink,
    start: Instant,
}

impl<'a> Clock<'a> {
    fn start(link: &'a WanLink) -> Clock<'a> {
        link.take_log();
        Clock { link, start: Instant::now() }
    }

    /// From `start` (a moment already past, e.g. when an event arrived).
    fn since(link: &'a WanLink, start: Instant) -> Clock<'a> {
        Clock { link, start }
    }

    fn stop(self) -> Sample {
        let end = Instant::now();
        let log = self.link.take_log();
        if std::env::var_os("PTVSD_WAN_TRACE").is_some() {
            eprintln!("{}", super::wanlink::capture(&log, self.start, end));
        }
        Sample::Done { ms: super::stats::ms(end - self.start), round_trips: round_trips(&log, self.start, end) }
    }
}

async fn timed<T>(future: impl std::future::Future<Output = Res<T>>) -> Res<T> {
    match tokio::time::timeout(ACTION_TIMEOUT, future).await {
        Ok(result) => result,
        Err(_) => Err(format!("no answer within {} s", ACTION_TIMEOUT.as_secs()).into()),
    }
}

/// Sends all `requests` at once; waits for every response; fails on the first failure.
async fn all<R: AsyncRead + Unpin, W: AsyncWrite + Unpin>(
    dap: &mut Dap<R, W>,
    requests: Vec<(&str, Value)>,
) -> Res<Vec<Value>> {
    let mut seqs = Vec::new();
    for (command, arguments) in requests {
        seqs.push((command.to_string(), dap.send(command, arguments).await?));
    }
    let mut bodies = Vec::new();
    for (command, seq) in seqs {
        let response = dap.response(seq).await?;
        if response["success"] != true {
            return Err(format!("{command} failed: {}", response["message"]).into());
        }
        bodies.push(response.get("body").cloned().unwrap_or(Value::Null));
    }
    Ok(bodies)
}

/// threads → stackTrace → scopes → variables, one after the other as VS Code does;
/// returns (frame id, locals).
async fn redraw<R: AsyncRead + Unpin, W: AsyncWrite + Unpin>(
    dap: &mut Dap<R, W>,
    thread: &Value,
) -> Res<(Value, Value, Vec<Value>)> {
    dap.request("threads", Value::Null).await?;
    let stack = dap.request("stackTrace", json!({ "threadId": thread, "startFrame": 0, "levels": 20 })).await?;
    let frame = stack["stackFrames"][0]["id"].clone();
    let scopes = dap.request("scopes", json!({ "frameId": frame })).await?;
    let locals_ref = scopes["scopes"][0]["variablesReference"].clone();
    let locals = dap.request("variables", json!({ "variablesReference": locals_ref })).await?;
    let variables = locals["variables"].as_array().cloned().unwrap_or_default();
    Ok((frame, locals_ref, variables))
}

/// Expands a variable as VS Code's variables view does: the named children first when
/// there are any, then, for more than 100 indexed children, the first chunk of 100 (the
/// user opens the first range); without `indexedVariables`, everything in one request.
async fn expand<R: AsyncRead + Unpin, W: AsyncWrite + Unpin>(dap: &mut Dap<R, W>, variable: &Value) -> Res<usize> {
    let reference = variable["variablesReference"].clone();
    let indexed = variable["indexedVariables"].as_u64().unwrap_or(0);
    let named = variable["namedVariables"].as_u64().unwrap_or(0);
    if indexed == 0 {
        let body = dap.request("variables", json!({ "variablesReference": reference })).await?;
        return Ok(body["variables"].as_array().map_or(0, Vec::len));
    }
    let mut seen = 0;
    if named > 0 {
        let body = dap.request("variables", json!({ "variablesReference": reference, "filter": "named" })).await?;
        seen += body["variables"].as_array().map_or(0, Vec::len);
    }
    let count = if indexed > 100 { 100 } else { indexed };
    let body = dap
        .request(
            "variables",
            json!({ "variablesReference": reference, "filter": "indexed", "start": 0, "count": count }),
        )
        .await?;
    seen += body["variables"].as_array().map_or(0, Vec::len);
    Ok(seen)
}

fn find<'v>(variables: &'v [Value], name: &str) -> Res<&'v Value> {
    variables.iter().find(|v| v["name"] == name).ok_or_else(|| format!("no local {name:?} at the stop").into())
}

/// One session: every action in order; an action that fails is recorded and the session
/// goes on where it can.
async fn session<R: AsyncRead + Unpin, W: AsyncWrite + Unpin>(
    link: &WanLink,
    dap: &mut Dap<R, W>,
    attach: Value,
    adapter_id: &str,
    connect_clock: Clock<'_>,
    samples: &mut [Sample; 9],
) -> Res<()> {
    let file = bench_app();
    let line = line_of(&file, "wan-break");
    let initialize = timed(dap.request(
        "initialize",
        json!({ "clientID": "vscode", "adapterID": adapter_id, "linesStartAt1": true, "columnsStartAt1": true, "pathFormat": "path", "supportsVariablePaging": true, "supportsVariableType": true }),
    ))
    .await?;
    samples[CONNECT] = connect_clock.stop();
    let filters: Vec<Value> = initialize["exceptionBreakpointFilters"]
        .as_array()
        .map(|f| f.iter().filter(|f| f["default"] == true).map(|f| f["filter"].clone()).collect())
        .unwrap_or_default();

    // attach → initialized → setBreakpoints, setExceptionBreakpoints → configurationDone.
    let clock = Clock::start(link);
    let stopped = timed(async {
        let attach_seq = dap.send("attach", attach).await?;
        dap.event("initialized").await?;
        all(
            dap,
            vec![
                ("setBreakpoints", json!({ "source": { "path": file }, "breakpoints": [{ "line": line }] })),
                ("setExceptionBreakpoints", json!({ "filters": filters })),
            ],
        )
        .await?;
        dap.request("configurationDone", Value::Null).await?;
        let attached = dap.response(attach_seq).await?;
        if attached["success"] != true {
            return Err(format!("attach failed: {}", attached["message"]).into());
        }
        Ok(())
    })
    .await;
    samples[ATTACH] = match stopped {
        Ok(()) => clock.stop(),
        Err(e) => return Err(e),
    };

    // The breakpoint is hit by the program (not timed); the redraw is.
    let stopped = timed(dap.event_where("stopped", ACTION_TIMEOUT, |e| e["body"]["reason"] == "breakpoint")).await?;
    let arrived = Instant::now();
    let thread = stopped["body"]["threadId"].clone();
    let clock = Clock::since(link, arrived);
    let (mut frame, mut locals_ref, locals) = timed(redraw(dap, &thread)).await?;
    samples[REDRAW] = clock.stop();
    link.take_log();

    for (index, name) in [(DICT, "table"), (LIST, "items")] {
        let variable = find(&locals, name)?.clone();
        let clock = Clock::start(link);
        samples[index] = match timed(expand(dap, &variable)).await {
            Ok(n) if n > 0 => clock.stop(),
            Ok(_) => Sample::Failed(format!("{name} expanded to nothing")),
            Err(e) => Sample::Failed(e.to_string()),
        };
    }

    let clock = Clock::start(link);
    samples[EVALUATE] = match timed(
        dap.request("evaluate", json!({ "expression": "small['n'] + 1", "frameId": frame, "context": "repl" })),
    )
    .await
    {
        Ok(_) => clock.stop(),
        Err(e) => Sample::Failed(e.to_string()),
    };

    let clock = Clock::start(link);
    let step = timed(async {
        dap.send("next", json!({ "threadId": thread })).await?;
        dap.event_where("stopped", ACTION_TIMEOUT, |e| e["body"]["reason"] == "step").await?;
        redraw(dap, &thread).await
    })
    .await;
    samples[STEP] = match step {
        Ok((new_frame, new_locals, _)) => {
            let sample = clock.stop();
            (frame, locals_ref) = (new_frame, new_locals);
            sample
        }
        Err(e) => Sample::Failed(e.to_string()),
    };
    dap.clear_events();

    // Locals and three watches at once, as VS Code refreshes both views after a stop
    // (last: today a lost watch leaves the session waiting, see BENCHMARKS.md).
    let clock = Clock::start(link);
    let mut requests = vec![("variables", json!({ "variablesReference": locals_ref }))];
    for expression in WATCH_EXPRESSIONS {
        requests.push(("evaluate", json!({ "expression": expression, "frameId": frame, "context": "watch" })));
    }
    samples[WATCHES] = match timed(all(dap, requests)).await {
        Ok(_) => clock.stop(),
        Err(e) => Sample::Failed(e.to_string()),
    };
    dap.clear_events();

    let clock = Clock::start(link);
    samples[DISCONNECT] =
        match timed(dap.request("disconnect", json!({ "restart": false, "terminateDebuggee": false }))).await {
            Ok(_) => clock.stop(),
            Err(e) => Sample::Failed(e.to_string()),
        };
    Ok(())
}

async fn run_path(link: &WanLink, path: &PathSpec) -> Res<[Sample; 9]> {
    let mut samples: [Sample; 9] = std::array::from_fn(|_| Sample::Failed("not reached".into()));
    let site = start_site(link, path).await?;
    let outcome = match path.kind {
        Kind::Debugpy => {
            let clock = Clock::start(link);
            let stream = WanLink::connect(&link.near, format!("{FAR_ADDR}:{}", site.port).parse()?).await?;
            stream.set_nodelay(true)?;
            let (read, write) = stream.into_split();
            let mut dap = Dap::new(read, write);
            session(
                link,
                &mut dap,
                json!({ "justMyCode": true, "redirectOutput": true }),
                "debugpy",
                clock,
                &mut samples,
            )
            .await
        }
        _ => {
            // The cache file an earlier attach to this endpoint would have left.
            let cache = tempfile::tempdir()?;
            let cache_file = cache.path().join("dialects");
            let mut env = Vec::new();
            if let Some(dialect) = path.expect {
                let endpoint = ptvsd_dap::transport::Endpoint::parse(&site.url)?;
                let key = ptvsd_dap::dialects::key(&endpoint).ok_or("no dialect key for the URL")?;
                std::fs::write(&cache_file, format!("{key}\t{dialect}\n"))?;
                env.push((ptvsd_dap::dialects::ENV, cache_file.to_str().ok_or("cache path")?));
            }
            let mut adapter = Adapter::spawn_in_with_env(Some(&link.near), &path.exe, &env)?;
            let clock = Clock::start(link);
            let result = session(
                link,
                &mut adapter.dap,
                json!({ "url": site.url, "justMyCode": true }),
                "ptvsd-dap",
                clock,
                &mut samples,
            )
            .await;
            let _ = tokio::time::timeout(Duration::from_secs(5), adapter.proc.child.wait()).await;
            result
        }
    };
    if let Err(error) = outcome {
        let message = error.to_string();
        for sample in samples.iter_mut() {
            if matches!(sample, Sample::Failed(m) if m == "not reached") {
                *sample = Sample::Failed(message.clone());
            }
        }
    }
    drop(site.debuggee);
    Ok(samples)
}

fn paths(config: &Config) -> Vec<PathSpec> {
    let ours = adapter_exe();
    let mut paths = Vec::new();
    for version in &config.versions {
        let family = if version.starts_with("3.0") { "binary" } else { "JSON" };
        for (kind, name) in
            [(Kind::Tcp, "tcp://"), (Kind::Relay, "ws:// relay"), (Kind::Websockify, "ws:// websockify")]
        {
            paths.push(PathSpec {
                label: format!("ptvsd-dap {name}, ptvsd {version} ({family})"),
                kind: kind.clone(),
                version: Some(version),
                exe: ours.clone(),
                expect: None,
            });
        }
        // tcp:// again with the dialect expected (issue #13): a JSON attach to an endpoint
        // that spoke JSON before sends authenticate + attach before the greeting.
        let expect = match *version {
            v if v.starts_with("3.1") => Some("json 7"),
            v if v.starts_with("3.2") => Some("json 8"),
            _ => None,
        };
        if let Some(dialect) = expect {
            paths.push(PathSpec {
                label: format!("ptvsd-dap tcp:// ({dialect} expected), ptvsd {version}"),
                kind: Kind::Tcp,
                version: Some(version),
                exe: ours.clone(),
                expect,
            });
        }
        if let Some(baseline) = &config.baseline {
            paths.push(PathSpec {
                label: format!("baseline ptvsd-dap tcp://, ptvsd {version}"),
                kind: Kind::Tcp,
                version: Some(version),
                exe: baseline.clone(),
                expect: None,
            });
        }
    }
    if debugpy_python().exists() {
        paths.push(PathSpec {
            label: "debugpy 1.8 (its adapter next to the debuggee)".into(),
            kind: Kind::Debugpy,
            version: None,
            exe: PathBuf::new(),
            expect: None,
        });
    }
    paths
}

fn cell(samples: &[Sample], rtt_ms: f64) -> String {
    let done: Vec<(f64, f64)> = samples
        .iter()
        .filter_map(|s| if let Sample::Done { ms, round_trips } = s { Some((*ms, *round_trips)) } else { None })
        .collect();
    let failed = samples.len() - done.len();
    if done.is_empty() {
        return format!("lost ({failed}/{})", samples.len());
    }
    let time = summarize(&done.iter().map(|d| d.0).collect::<Vec<_>>()).median;
    let counted = summarize(&done.iter().map(|d| d.1).collect::<Vec<_>>()).median;
    let mut text = format!("{} · {:.1} RTT · {} rt", super::stats::fmt_ms(time), time / rtt_ms, counted);
    if failed > 0 {
        text.push_str(&format!(" ({failed}/{} lost)", samples.len()));
    }
    text
}

fn median_of(samples: &[Sample]) -> Option<(f64, f64)> {
    let done: Vec<(f64, f64)> = samples
        .iter()
        .filter_map(|s| if let Sample::Done { ms, round_trips } = s { Some((*ms, *round_trips)) } else { None })
        .collect();
    if done.is_empty() {
        return None;
    }
    Some((
        summarize(&done.iter().map(|d| d.0).collect::<Vec<_>>()).median,
        summarize(&done.iter().map(|d| d.1).collect::<Vec<_>>()).median,
    ))
}

pub async fn run(config: &Config, report: &mut Report) -> Res<()> {
    report.section("## 5. Every action over a WAN link (against debugpy)\n");
    if let Some(reason) = super::wanlink::unavailable() {
        progress(&format!("wan: skipped: {reason}"));
        report.text(&format!("Skipped: {reason}.\n"));
        return Ok(());
    }
    let paths = paths(config);
    let rtts = config.wan_rtts.clone();
    let link = WanLink::new(Duration::from_millis(rtts[0]))?;
    // results[rtt][path][action] = samples
    let mut results: Vec<Vec<Vec<Vec<Sample>>>> = vec![vec![vec![Vec::new(); ACTIONS.len()]; paths.len()]; rtts.len()];
    let mut failures = Vec::new();
    for (r, rtt) in rtts.iter().enumerate() {
        link.set_rtt(Duration::from_millis(*rtt));
        for round in 0..config.wan_rounds {
            progress(&format!("wan: {rtt} ms RTT, round {}/{}", round + 1, config.wan_rounds));
            for k in 0..paths.len() {
                let p = (round + k) % paths.len();
                match run_path(&link, &paths[p]).await {
                    Ok(samples) => {
                        for (a, sample) in samples.into_iter().enumerate() {
                            if let Sample::Failed(why) = &sample {
                                failures.push(format!("{} ms, {}, {}: {why}", rtt, paths[p].label, ACTIONS[a]));
                            }
                            results[r][p][a].push(sample);
                        }
                    }
                    Err(error) => {
                        failures.push(format!("{} ms, {}: {error}", rtt, paths[p].label));
                        for samples in results[r][p].iter_mut() {
                            samples.push(Sample::Failed(error.to_string()));
                        }
                    }
                }
            }
        }
    }
    drop(link);

    report.text(&format!(
        "Two network namespaces joined by TUN devices and a forwarder in the harness that delays every packet by RTT/2 \
         each way (no bandwidth limit, no loss). The editor's side (the adapter; the DAP client for debugpy) is on one \
         side, the debuggee with its relay (or debugpy's adapter) on the other. A fresh `bench_app.py wan` per session, \
         {} rounds per RTT, paths interleaved. Each cell: median time · time in RTTs · median round trips counted on \
         the link (`rt`: the longest chain of alternating crossings the action waited for, see BENCHMARKS.md).\n",
        config.wan_rounds
    ));
    for (r, rtt) in rtts.iter().enumerate() {
        report.text(&format!("\n### {rtt} ms RTT\n\n"));
        let mut header = vec!["action"];
        let labels: Vec<String> = paths.iter().map(|p| p.label.clone()).collect();
        header.extend(labels.iter().map(String::as_str));
        let mut table = Table::new(&header);
        for (a, action) in ACTIONS.iter().enumerate() {
            let mut row = vec![action.to_string()];
            for per_path in &results[r] {
                row.push(cell(&per_path[a], *rtt as f64));
            }
            table.row(row);
        }
        report.text(&table.render());
    }
    // Targets (issue 13) at the first RTT measured, per ptvsd-dap path.
    let rtt = rtts[0] as f64;
    let debugpy = paths.iter().position(|p| p.kind == Kind::Debugpy);
    let targets: [(usize, &str, f64); 5] = [
        (EVALUATE, "evaluate", 1.2),
        (STEP, "step → redraw", 1.2),
        (WATCHES, "locals + 3 watches", 1.5),
        (ATTACH, "attach → configurationDone (connect + 3 RTT)", 4.0),
        (DICT, "1,000-entry dict first view", 1.5),
    ];
    report.text(&format!("\n### Targets at {} ms RTT\n\n", rtts[0]));
    let mut table = Table::new(&["path", "action", "time (RTT)", "target", "≤ debugpy", "verdict"]);
    for (p, path) in paths.iter().enumerate() {
        if path.kind == Kind::Debugpy || path.label.starts_with("baseline") {
            continue;
        }
        for (action, name, limit) in targets {
            let ours = median_of(&results[0][p][action]);
            let theirs = debugpy.and_then(|d| median_of(&results[0][d][action]));
            let (time, ok_ratio) = match ours {
                Some((ms, _)) => (format!("{ms:.0} ms ({:.2})", ms / rtt), ms / rtt <= limit),
                None => ("lost".into(), false),
            };
            let ok_debugpy = match (ours, theirs) {
                (Some(o), Some(t)) => Some(o.0 <= t.0),
                _ => None,
            };
            table.row(vec![
                path.label.clone(),
                name.into(),
                time,
                format!("≤ {limit} RTT"),
                ok_debugpy.map_or("–".into(), |b| if b { "yes".into() } else { "no".into() }),
                verdict(ok_ratio && ok_debugpy != Some(false)).into(),
            ]);
        }
    }
    report.text(&table.render());
    if !failures.is_empty() {
        report.text("\nLost or failed actions:\n\n");
        for failure in failures.iter().take(40) {
            report.text(&format!("- {failure}\n"));
        }
    }
    report.headline(format!(
        "wan: {} paths × {} RTTs × {} rounds, {} actions lost",
        paths.len(),
        rtts.len(),
        config.wan_rounds,
        failures.len()
    ));
    Ok(())
}
