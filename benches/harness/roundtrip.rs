//! Group 1: evaluate and step-over round trips against real ptvsd, through five paths,
//! each with its own debuggee, measured in interleaved batches.

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::dap::TIMEOUT;
use super::legacy::LegacyClient;
use super::procs::{bench_app, Adapter, Debuggee, WsRelay};
use super::stats::{fmt_ms, fmt_ratio, ms, summarize, verdict, Table};
use super::support::{line_of, Peers};
use super::{progress, Config, Report, Res};

/// The paths measured, in report order.
pub const PATHS: [&str; 5] = [
    "(a) direct, plain socket",
    "(b) direct, NODELAY + QUICKACK",
    "(c) ptvsd-dap, tcp://",
    "(d) ptvsd-dap, ws:// via ptvsd-dap relay",
    "(e) ptvsd-dap, ws:// via websockify",
];

/// An adapter session stopped at a breakpoint.
pub struct DapStop {
    pub adapter: Adapter,
    pub thread: Value,
    pub frame: Value,
}

/// Starts the adapter, attaches to `url`, sets one breakpoint and waits for the hit.
pub async fn adapter_break_at(url: &str, extra: Value, file: &Path, line: u32) -> Res<DapStop> {
    let mut adapter = Adapter::spawn()?;
    let dap = &mut adapter.dap;
    dap.request("initialize", json!({ "adapterID": "ptvsd-dap", "linesStartAt1": true, "columnsStartAt1": true, "pathFormat": "path" }))
        .await?;
    let mut attach = json!({ "url": url });
    if let (Some(attach), Some(extra)) = (attach.as_object_mut(), extra.as_object()) {
        attach.extend(extra.clone());
    }
    dap.request("attach", attach).await?;
    dap.event("initialized").await?;
    dap.request("setBreakpoints", json!({ "source": { "path": file }, "breakpoints": [{ "line": line }] })).await?;
    dap.request("configurationDone", Value::Null).await?;
    let stopped = dap.event_where("stopped", TIMEOUT, |e| e["body"]["reason"] == "breakpoint").await?;
    let thread = stopped["body"]["threadId"].clone();
    let frame = top_frame(&mut adapter, &thread).await?;
    adapter.dap.clear_events();
    Ok(DapStop { adapter, thread, frame })
}

/// The id of the innermost frame of a stopped thread.
pub async fn top_frame(adapter: &mut Adapter, thread: &Value) -> Res<Value> {
    let stack = adapter.dap.request("stackTrace", json!({ "threadId": thread, "levels": 1 })).await?;
    Ok(stack["stackFrames"][0]["id"].clone())
}

enum Conn {
    Direct { client: Box<LegacyClient>, thread: i64 },
    Dap(Box<DapStop>),
}

impl Conn {
    async fn evaluate(&mut self, expression: &str) -> Res<Duration> {
        match self {
            Conn::Direct { client, thread } => {
                let start = Instant::now();
                client.evaluate(*thread, expression).await?;
                Ok(start.elapsed())
            }
            Conn::Dap(stop) => {
                let start = Instant::now();
                let seq = stop.adapter.dap.send("evaluate", json!({ "expression": expression, "frameId": stop.frame, "context": "repl" })).await?;
                let response = stop.adapter.dap.response(seq).await?;
                let elapsed = start.elapsed();
                if response["success"] != true {
                    return Err(format!("evaluate failed: {response}").into());
                }
                stop.adapter.dap.clear_events();
                Ok(elapsed)
            }
        }
    }

    async fn step(&mut self) -> Res<Duration> {
        match self {
            Conn::Direct { client, thread } => {
                let start = Instant::now();
                client.step_over(*thread).await?;
                Ok(start.elapsed())
            }
            Conn::Dap(stop) => {
                let start = Instant::now();
                stop.adapter.dap.send("next", json!({ "threadId": stop.thread })).await?;
                stop.adapter.dap.event_where("stopped", TIMEOUT, |e| e["body"]["reason"] == "step").await?;
                let elapsed = start.elapsed();
                stop.adapter.dap.clear_events();
                Ok(elapsed)
            }
        }
    }
}

/// Measures `op` on every connection: `rounds` rounds of `batch` samples each, the order of
/// the connections rotating every round.
async fn interleave(conns: &mut [Conn], rounds: usize, batch: usize, step: bool) -> Res<Vec<Vec<f64>>> {
    let mut samples = vec![Vec::with_capacity(rounds * batch); conns.len()];
    for round in 0..rounds {
        for k in 0..conns.len() {
            let index = (round + k) % conns.len();
            for _ in 0..batch {
                let took = if step { conns[index].step().await? } else { conns[index].evaluate(EXPRESSION).await? };
                samples[index].push(ms(took));
            }
        }
    }
    Ok(samples)
}

const EXPRESSION: &str = "CONFIG['steps'] + i";

pub async fn run(config: &Config, report: &mut Report) -> Res<()> {
    let file = bench_app();
    let line = line_of(&file, "hot-break");
    let file_str = file.to_string_lossy().to_string();
    report.section("## 1. Round trips against real ptvsd (CPython 3.11, loopback)\n");
    report.text(&format!(
        "Each path has its own debuggee (`bench_app.py roundtrip`) stopped at a breakpoint; evaluate = `{EXPRESSION}` in the \
         top frame (request → response), next = step over (request → `stopped`/`STPD`), inside a loop. \
         {} rounds × {} samples per path and operation, the order of the paths rotating each round.\n",
        config.rt_rounds, config.rt_batch
    ));
    for version in &config.versions {
        let peer = Peers::load().peer("3.11", version).clone();
        progress(&format!("round trips: ptvsd {version}: starting 5 debuggees"));
        let mut debuggees = Vec::new();
        for _ in 0..PATHS.len() {
            debuggees.push(Debuggee::ptvsd(&peer, &["roundtrip"], false)?);
        }
        let relay = WsRelay::ptvsd_dap(debuggees[3].port).await?;
        let websockify = WsRelay::websockify(Peers::load().websockify(), debuggees[4].port, "websockify")?;
        let mut conns = Vec::new();
        for (index, quickack) in [(0, false), (1, true)] {
            progress(&format!("round trips: ptvsd {version}: attaching {}", PATHS[index]));
            let mut client = LegacyClient::attach(debuggees[index].port, &debuggees[index].secret, quickack).await?;
            let thread = client.break_at(1, &file_str, i64::from(line), true).await?;
            conns.push(Conn::Direct { client: Box::new(client), thread });
        }
        for (index, url) in [
            (2, debuggees[2].tcp_url()),
            (3, relay.ws_url(&debuggees[3].secret)),
            (4, websockify.ws_url(&debuggees[4].secret)),
        ] {
            progress(&format!("round trips: ptvsd {version}: attaching {}", PATHS[index]));
            conns.push(Conn::Dap(Box::new(adapter_break_at(&url, json!({}), &file, line).await?)));
        }
        // Let the stepping loop run long, and warm every path up.
        progress(&format!("round trips: ptvsd {version}: warming up"));
        for conn in conns.iter_mut() {
            conn.evaluate("CONFIG.update(steps=10**6)").await?;
            for _ in 0..config.warmup {
                conn.evaluate(EXPRESSION).await?;
            }
        }
        progress(&format!("round trips: ptvsd {version}: evaluate"));
        let evaluate = interleave(&mut conns, config.rt_rounds, config.rt_batch, false).await?;
        for conn in conns.iter_mut() {
            for _ in 0..config.warmup {
                conn.step().await?;
            }
        }
        progress(&format!("round trips: ptvsd {version}: next"));
        let step = interleave(&mut conns, config.rt_rounds, config.rt_batch, true).await?;
        drop(conns);
        drop(relay);
        drop(websockify);
        drop(debuggees);

        let mut table = Table::new(&["path", "evaluate median", "p90", "× (b)", "next median", "p90", "× (b)"]);
        let eval_b = summarize(&evaluate[1]).median;
        let step_b = summarize(&step[1]).median;
        for (index, name) in PATHS.iter().enumerate() {
            let e = summarize(&evaluate[index]);
            let s = summarize(&step[index]);
            table.row(vec![
                name.to_string(),
                fmt_ms(e.median),
                fmt_ms(e.p90),
                fmt_ratio(e.median / eval_b),
                fmt_ms(s.median),
                fmt_ms(s.p90),
                fmt_ratio(s.median / step_b),
            ]);
        }
        report.text(&format!("\n### ptvsd {version} ({}, protocol {})\n\n", peer.name, peer.protocol_version));
        report.text(&table.render());
        let c_eval = summarize(&evaluate[2]).median / eval_b;
        let c_step = summarize(&step[2]).median / step_b;
        let d_eval = summarize(&evaluate[3]).median;
        let d_step = summarize(&step[3]).median;
        let lines = [
            format!(
                "ptvsd {version}: (c)/(b) evaluate {} next {} (target ≤ 1.10: {})",
                fmt_ratio(c_eval),
                fmt_ratio(c_step),
                verdict(c_eval <= 1.1 && c_step <= 1.1)
            ),
            format!(
                "ptvsd {version}: (d) median evaluate {} next {} (target ≤ 2 ms: {})",
                fmt_ms(d_eval),
                fmt_ms(d_step),
                verdict(d_eval <= 2.0 && d_step <= 2.0)
            ),
        ];
        report.text("\n");
        for line in lines {
            report.text(&format!("- {line}\n"));
            report.headline(line);
        }
    }
    Ok(())
}
