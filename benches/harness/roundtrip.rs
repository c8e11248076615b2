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
    adapter_exe_break_at(&super::procs::adapter_exe(), url, extra, file, line).await
}

/// [`adapter_break_at`] with a given ptvsd-dap binary.
pub async fn adapter_exe_break_at(exe: &Path, url: &str, extra: Value, file: &Path, line: u32) -> Res<DapStop> {
    let mut adapter = Adapter::spawn_exe(exe)?;
    let dap = &mut adapter.dap;
    dap.request(
        "initialize",
        json!({ "adapterID": "ptvsd-dap", "linesStartAt1": true, "columnsStartAt1": true, "pathFormat": "path" }),
    )
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
    /// One evaluate round trip; `None` when ptvsd answered "previous evaluation has not
    /// completed" (see [`BUSY`]).
    async fn evaluate(&mut self, expression: &str) -> Res<Option<Duration>> {
        match self {
            Conn::Direct { client, thread } => {
                let start = Instant::now();
                match client.evaluate(*thread, expression).await {
                    Ok(_) => Ok(Some(start.elapsed())),
                    Err(error) if error.to_string().contains(BUSY) => Ok(None),
                    Err(error) => Err(error),
                }
            }
            Conn::Dap(stop) => {
                let start = Instant::now();
                let seq = stop
                    .adapter
                    .dap
                    .send("evaluate", json!({ "expression": expression, "frameId": stop.frame, "context": "repl" }))
                    .await?;
                let response = stop.adapter.dap.response(seq).await?;
                let elapsed = start.elapsed();
                stop.adapter.dap.clear_events();
                if response["success"] != true {
                    if response["message"].as_str().is_some_and(|m| m.contains(BUSY)) {
                        return Ok(None);
                    }
                    return Err(format!("evaluate failed: {response}").into());
                }
                Ok(Some(elapsed))
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

/// ptvsd marks a thread "working" while it runs an evaluation and clears the mark only
/// after it has sent the result, so an `exec` sent the moment the result arrives can be
/// refused with this (ptvsd's race, seen on 3.0.0; see BENCHMARKS.md).
pub const BUSY: &str = "previous evaluation has not completed";

/// Evaluates until ptvsd does not refuse as busy; returns the round trip and the number
/// of refusals (whose samples are discarded).
async fn evaluate_sample(conn: &mut Conn) -> Res<(Duration, usize)> {
    let mut refused = 0;
    loop {
        match conn.evaluate(EXPRESSION).await? {
            Some(took) => return Ok((took, refused)),
            None if refused < 100 => {
                refused += 1;
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
            None => return Err(format!("ptvsd answered {BUSY:?} 100 times in a row").into()),
        }
    }
}

/// Samples of one operation per connection, and ptvsd's busy refusals per connection.
struct Series {
    samples: Vec<Vec<f64>>,
    refused: Vec<usize>,
}

/// Measures `op` on every connection: `rounds` rounds of `batch` samples each, the order of
/// the connections rotating every round.
async fn interleave(conns: &mut [Conn], rounds: usize, batch: usize, step: bool) -> Res<Series> {
    let mut series =
        Series { samples: vec![Vec::with_capacity(rounds * batch); conns.len()], refused: vec![0; conns.len()] };
    for round in 0..rounds {
        for k in 0..conns.len() {
            let index = (round + k) % conns.len();
            // One unrecorded operation first: after the pause while the other paths ran,
            // TCP is out of its interactive (delayed-ACK) mode, which would flatter the
            // plain socket. The recorded ones then follow back to back, as an editor's do.
            if step {
                conns[index].step().await?;
            } else {
                evaluate_sample(&mut conns[index]).await?;
            }
            for _ in 0..batch {
                let took = if step {
                    conns[index].step().await?
                } else {
                    let (took, refused) = evaluate_sample(&mut conns[index]).await?;
                    series.refused[index] += refused;
                    took
                };
                series.samples[index].push(ms(took));
            }
        }
    }
    Ok(series)
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
         {} rounds × {} samples per path and operation, the order of the paths rotating each round; each batch starts with one unrecorded operation, so that the recorded ones follow back to back as an editor's requests do.\n",
        config.rt_rounds, config.rt_batch
    ));
    for version in &config.versions {
        let peer = Peers::load().peer("3.11", version).clone();
        let mut paths: Vec<String> = PATHS.iter().map(|p| p.to_string()).collect();
        if config.baseline.is_some() {
            paths.push("(c0) baseline ptvsd-dap, tcp://".to_string());
            paths.push("(d0) baseline ptvsd-dap, ws:// via baseline relay".to_string());
        }
        progress(&format!("round trips: ptvsd {version}: starting {} debuggees", paths.len()));
        let mut debuggees = Vec::new();
        for _ in 0..paths.len() {
            debuggees.push(Debuggee::ptvsd(&peer, &["roundtrip"], false)?);
        }
        let mut relays = vec![
            WsRelay::ptvsd_dap(debuggees[3].port).await?,
            WsRelay::websockify(Peers::load().websockify(), debuggees[4].port, "websockify")?,
        ];
        let mut conns = Vec::new();
        for (index, quickack) in [(0, false), (1, true)] {
            progress(&format!("round trips: ptvsd {version}: attaching {}", paths[index]));
            let mut client = LegacyClient::attach(debuggees[index].port, &debuggees[index].secret, quickack).await?;
            let thread = client.break_at(1, &file_str, i64::from(line), true).await?;
            conns.push(Conn::Direct { client: Box::new(client), thread });
        }
        let ours = super::procs::adapter_exe();
        let mut adapters = vec![
            (ours.clone(), debuggees[2].tcp_url()),
            (ours.clone(), relays[0].ws_url(&debuggees[3].secret)),
            (ours.clone(), relays[1].ws_url(&debuggees[4].secret)),
        ];
        if let Some(baseline) = &config.baseline {
            relays.push(WsRelay::ptvsd_dap_exe(baseline, debuggees[6].port, "baseline relay").await?);
            adapters.push((baseline.clone(), debuggees[5].tcp_url()));
            adapters.push((baseline.clone(), relays[2].ws_url(&debuggees[6].secret)));
        }
        for (offset, (exe, url)) in adapters.iter().enumerate() {
            progress(&format!("round trips: ptvsd {version}: attaching {}", paths[offset + 2]));
            conns.push(Conn::Dap(Box::new(adapter_exe_break_at(exe, url, json!({}), &file, line).await?)));
        }
        // Let the stepping loop run long, and warm every path up.
        progress(&format!("round trips: ptvsd {version}: warming up"));
        for conn in conns.iter_mut() {
            conn.evaluate("CONFIG.update(steps=10**6)").await?.ok_or("ptvsd refused the first evaluation")?;
            for _ in 0..config.warmup {
                evaluate_sample(conn).await?;
            }
        }
        progress(&format!("round trips: ptvsd {version}: evaluate"));
        let Series { samples: evaluate, refused } =
            interleave(&mut conns, config.rt_rounds, config.rt_batch, false).await?;
        for conn in conns.iter_mut() {
            for _ in 0..config.warmup {
                conn.step().await?;
            }
        }
        progress(&format!("round trips: ptvsd {version}: next"));
        let step = interleave(&mut conns, config.rt_rounds, config.rt_batch, true).await?.samples;
        drop(conns);
        drop(relays);
        drop(debuggees);

        let mut table =
            Table::new(&["path", "evaluate median", "p90", "× (b)", "busy refusals", "next median", "p90", "× (b)"]);
        let eval_b = summarize(&evaluate[1]).median;
        let step_b = summarize(&step[1]).median;
        for (index, name) in paths.iter().enumerate() {
            let e = summarize(&evaluate[index]);
            let s = summarize(&step[index]);
            table.row(vec![
                name.to_string(),
                fmt_ms(e.median),
                fmt_ms(e.p90),
                fmt_ratio(e.median / eval_b),
                refused[index].to_string(),
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
