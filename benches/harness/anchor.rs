//! Group 4: the same session against the modern anchor. debugpy 1.8 (a DAP server itself,
//! `--listen --wait-for-client`) and ptvsd-dap + ptvsd 3.2.1 (`--wait`) each debug a fresh
//! `bench_app.py anchor`: attach, breakpoint hit, stack trace, variables, continue,
//! program end. Each step is timed on the client's clock.

use std::path::PathBuf;
use std::time::Instant;

use serde_json::{json, Value};
use tokio::io::{AsyncRead, AsyncWrite};

use super::dap::{Dap, TIMEOUT};
use super::procs::{bench_app, dap_tcp, Adapter, Debuggee};
use super::stats::{fmt_ms, fmt_ratio, ms, summarize, Table};
use super::support::{line_of, Peers};
use super::{progress, Config, Report, Res};

/// `BENCH_ENV/debugpy/bin/python` ([`super::bench_env_dir`]).
pub fn debugpy_python() -> PathBuf {
    super::bench_env_dir().join("debugpy").join("bin").join("python")
}

const STEPS: [&str; 7] = [
    "connect + initialize",
    "attach → initialized",
    "setBreakpoints",
    "configurationDone → stopped (breakpoint)",
    "stackTrace",
    "scopes + variables (locals)",
    "continue → terminated (program end)",
];

async fn session<R: AsyncRead + Unpin, W: AsyncWrite + Unpin>(
    dap: &mut Dap<R, W>,
    attach: Value,
    adapter_id: &str,
    start: Instant,
    times: &mut Vec<f64>,
) -> Res<()> {
    let file = bench_app();
    let line = line_of(&file, "anchor-break");
    let mut mark;
    let lap = |times: &mut Vec<f64>, mark: &mut Instant| {
        let now = Instant::now();
        times.push(ms(now - *mark));
        *mark = now;
    };
    dap.request("initialize", json!({ "clientID": "bench", "adapterID": adapter_id, "linesStartAt1": true, "columnsStartAt1": true, "pathFormat": "path" }))
        .await?;
    times.push(ms(start.elapsed()));
    mark = Instant::now();
    let attach_seq = dap.send("attach", attach).await?;
    dap.event("initialized").await?;
    lap(times, &mut mark);
    dap.request("setBreakpoints", json!({ "source": { "path": file }, "breakpoints": [{ "line": line }] })).await?;
    lap(times, &mut mark);
    dap.request("configurationDone", Value::Null).await?;
    let stopped = dap.event_where("stopped", TIMEOUT, |e| e["body"]["reason"] == "breakpoint").await?;
    lap(times, &mut mark);
    let attached = dap.response(attach_seq).await?;
    if attached["success"] != true {
        return Err(format!("attach failed: {attached}").into());
    }
    mark = Instant::now();
    let thread = stopped["body"]["threadId"].clone();
    let stack = dap.request("stackTrace", json!({ "threadId": thread })).await?;
    lap(times, &mut mark);
    let frame = stack["stackFrames"][0]["id"].clone();
    let scopes = dap.request("scopes", json!({ "frameId": frame })).await?;
    let locals =
        dap.request("variables", json!({ "variablesReference": scopes["scopes"][0]["variablesReference"] })).await?;
    lap(times, &mut mark);
    let names: Vec<&str> = locals["variables"]
        .as_array()
        .map(|v| v.iter().filter_map(|v| v["name"].as_str()).collect())
        .unwrap_or_default();
    if !(names.contains(&"data") && names.contains(&"info")) {
        return Err(format!("unexpected locals {names:?}").into());
    }
    dap.request("continue", json!({ "threadId": thread })).await?;
    dap.event("terminated").await?;
    lap(times, &mut mark);
    Ok(())
}

async fn debugpy_session(debuggee: &Debuggee) -> Res<(Vec<f64>, f64)> {
    let mut times = Vec::new();
    let start = Instant::now();
    let mut dap = dap_tcp(debuggee.port).await?;
    session(&mut dap, json!({ "justMyCode": true, "redirectOutput": true }), "debugpy", start, &mut times).await?;
    let total = ms(start.elapsed());
    Ok((times, total))
}

async fn ptvsd_dap_session(debuggee: &Debuggee) -> Res<(Vec<f64>, f64)> {
    let mut times = Vec::new();
    let start = Instant::now();
    let mut adapter = Adapter::spawn()?;
    session(&mut adapter.dap, json!({ "url": debuggee.tcp_url(), "justMyCode": true }), "ptvsd-dap", start, &mut times)
        .await?;
    let total = ms(start.elapsed());
    Ok((times, total))
}

pub async fn run(config: &Config, report: &mut Report) -> Res<()> {
    report.section("## 4. Against the modern anchor: debugpy\n");
    let python = debugpy_python();
    if !python.exists() {
        progress("anchor: debugpy not installed (scripts/setup-bench-env.sh); skipped");
        report.text("Skipped: debugpy is not installed (run `scripts/setup-bench-env.sh`).\n");
        return Ok(());
    }
    let peer = Peers::load().peer("3.11", "3.2.1").clone();
    let mut runs: [Vec<Vec<f64>>; 2] = [Vec::new(), Vec::new()];
    let mut totals: [Vec<f64>; 2] = [Vec::new(), Vec::new()];
    for round in 0..config.anchor_rounds {
        progress(&format!("anchor: round {}/{}", round + 1, config.anchor_rounds));
        // Both debuggees are started (and waiting) before either session is timed.
        let debugpy = Debuggee::debugpy(&python, &["anchor"])?;
        let ptvsd = Debuggee::ptvsd(&peer, &["anchor"], true)?;
        for k in 0..2 {
            let which = (round + k) % 2;
            let (times, total) =
                if which == 0 { debugpy_session(&debugpy).await? } else { ptvsd_dap_session(&ptvsd).await? };
            runs[which].push(times);
            totals[which].push(total);
        }
        drop(debugpy);
        drop(ptvsd);
    }
    report.text(&format!(
        "A fresh `bench_app.py anchor` per session, started and waiting for its debugger before the clock starts: \
         debugpy 1.8 with `--listen --wait-for-client` (the client connects to it over TCP and sends `attach` with \
         `justMyCode`), ptvsd 3.2.1 with `--wait` (the client spawns ptvsd-dap, which attaches over tcp://). Medians of \
         {} rounds, the order alternating. Each step is wall time on the client from the previous step's end.\n\n",
        config.anchor_rounds
    ));
    let mut table = Table::new(&["step", "debugpy 1.8", "ptvsd-dap + ptvsd 3.2.1", "ptvsd-dap / debugpy"]);
    for (step, name) in STEPS.iter().enumerate() {
        let d = summarize(&runs[0].iter().map(|t| t[step]).collect::<Vec<_>>()).median;
        let p = summarize(&runs[1].iter().map(|t| t[step]).collect::<Vec<_>>()).median;
        table.row(vec![name.to_string(), fmt_ms(d), fmt_ms(p), fmt_ratio(p / d)]);
    }
    let d = summarize(&totals[0]).median;
    let p = summarize(&totals[1]).median;
    table.row(vec!["**total**".into(), fmt_ms(d), fmt_ms(p), fmt_ratio(p / d)]);
    report.text(&table.render());
    let line = format!(
        "anchor session total: ptvsd-dap + ptvsd 3.2.1 {} vs debugpy {} ({})",
        fmt_ms(p),
        fmt_ms(d),
        fmt_ratio(p / d)
    );
    report.text(&format!("\n- {line}\n"));
    report.headline(line);
    Ok(())
}
