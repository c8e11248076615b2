//! Group 3: what the adapter itself costs: cold start to the `initialize` response, peak
//! RSS after expanding 10 000 variables, and forwarding 50 MB of program output.

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::legacy::LegacyClient;
use super::procs::{bench_app, Adapter, Debuggee};
use super::roundtrip::top_frame;
use super::stats::{fmt_ms, fmt_ratio, ms, summarize, verdict, Table};
use super::support::{line_of, Peers};
use super::{progress, Config, Report, Res};

const INITIALIZE: &str = r#"{"command":"initialize","arguments":{"adapterID":"ptvsd-dap","linesStartAt1":true,"columnsStartAt1":true,"pathFormat":"path"},"type":"request","seq":1}"#;

/// Spawn → `initialize` response, in ms.
async fn cold_start(exe: &std::path::Path) -> Res<f64> {
    let start = Instant::now();
    let mut adapter = Adapter::spawn_exe(exe)?;
    let seq = adapter.dap.send("initialize", serde_json::from_str::<Value>(INITIALIZE)?["arguments"].clone()).await?;
    let response = adapter.dap.response(seq).await?;
    let took = ms(start.elapsed());
    if response["success"] != true {
        return Err(format!("initialize failed: {response}").into());
    }
    Ok(took)
}

/// Spawn → exit of `/bin/true`: the floor of starting any process here, in ms.
async fn spawn_floor() -> Res<f64> {
    let start = Instant::now();
    let status = tokio::process::Command::new("true").status().await?;
    let took = ms(start.elapsed());
    if !status.success() {
        return Err("true failed".into());
    }
    Ok(took)
}

pub async fn run(config: &Config, report: &mut Report) -> Res<()> {
    report.section("## 3. Adapter cost\n");

    // Cold start, interleaved with the process-spawn floor.
    progress("cost: cold start");
    let ours = super::procs::adapter_exe();
    let mut starts = Vec::new();
    let mut floor = Vec::new();
    let mut baseline = Vec::new();
    for _ in 0..config.warmup.min(2) {
        cold_start(&ours).await?;
    }
    for _ in 0..config.cold_starts {
        starts.push(cold_start(&ours).await?);
        floor.push(spawn_floor().await?);
        if let Some(exe) = &config.baseline {
            baseline.push(cold_start(exe).await?);
        }
    }
    let s = summarize(&starts);
    let f = summarize(&floor);
    report.text(&format!(
        "\n### Cold start\n\nSpawn the adapter binary → `initialize` response on stdout, {} times, interleaved with \
         spawning `/bin/true` until it exits (the floor of any process start here).\n\n",
        config.cold_starts
    ));
    let mut table = Table::new(&["", "median", "p90", "min"]);
    table.row(vec!["ptvsd-dap spawn → initialize response".into(), fmt_ms(s.median), fmt_ms(s.p90), fmt_ms(s.min)]);
    table.row(vec!["/bin/true spawn → exit".into(), fmt_ms(f.median), fmt_ms(f.p90), fmt_ms(f.min)]);
    if !baseline.is_empty() {
        let b = summarize(&baseline);
        table.row(vec![
            "baseline ptvsd-dap spawn → initialize response".into(),
            fmt_ms(b.median),
            fmt_ms(b.p90),
            fmt_ms(b.min),
        ]);
    }
    report.text(&table.render());
    let line = format!(
        "cold start to initialize response: median {} (target ≤ 5 ms: {})",
        fmt_ms(s.median),
        verdict(s.median <= 5.0)
    );
    report.text(&format!("\n- {line}\n"));
    report.headline(line);

    memory(config, report).await?;
    output(config, report).await?;
    cycles(config, report).await?;
    Ok(())
}

/// RSS of one long-lived adapter (`--port`, sessions one after another) over many
/// attach/detach cycles against one debuggee, which must stay attachable throughout.
async fn cycles(config: &Config, report: &mut Report) -> Res<()> {
    let total = config.attach_cycles;
    report.text(&format!(
        "\n### RSS over {total} attach/detach cycles\n\nOne adapter serving DAP on a TCP port (`ptvsd-dap --port`), \
         one debuggee (`bench_app.py roundtrip`, not stopped); each cycle connects, initializes, attaches (tcp://), \
         sends configurationDone, disconnects and closes. VmRSS of the adapter after the cycle shown, VmHWM at the end.\n\n"
    ));
    let checkpoints: Vec<usize> =
        [1, 10, 100, 1000].into_iter().filter(|c| *c < total).chain(std::iter::once(total)).collect();
    let mut header = vec!["ptvsd".to_string()];
    header.extend(checkpoints.iter().map(|c| format!("VmRSS after {c}")));
    header.push("VmHWM".into());
    header.push("time per cycle (median)".into());
    header.push("attaches refused as already attached (retried)".into());
    let header: Vec<&str> = header.iter().map(String::as_str).collect();
    let mut table = Table::new(&header);
    let mut headline = Vec::new();
    for version in &config.versions {
        progress(&format!("cost: {total} attach/detach cycles, ptvsd {version}"));
        let peer = Peers::load().peer("3.11", version).clone();
        let debuggee = Debuggee::ptvsd(&peer, &["roundtrip"], false)?;
        let port = super::support::free_port();
        let mut cmd = tokio::process::Command::new(super::procs::adapter_exe());
        cmd.arg("--port")
            .arg(port.to_string())
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null());
        let adapter = super::procs::Proc::spawn("ptvsd-dap --port", cmd)?;
        let started = Instant::now();
        while !super::procs::is_listening(port) {
            if started.elapsed() > Duration::from_secs(10) {
                return Err("ptvsd-dap --port did not listen".into());
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let mut row = vec![version.to_string()];
        let mut times = Vec::new();
        let mut refused = 0usize;
        for cycle in 1..=total {
            let start = Instant::now();
            // ptvsd finishes a detach on its own time: an attach right after the previous
            // session's disconnect can be refused as "already attached". Counted, and
            // retried after a pause, as a user would.
            let (mut dap, attach) = loop {
                let mut dap = super::procs::dap_tcp(port).await?;
                dap.request("initialize", json!({ "adapterID": "ptvsd-dap", "linesStartAt1": true, "columnsStartAt1": true, "pathFormat": "path" })).await?;
                let attach = dap.send("attach", json!({ "url": debuggee.tcp_url() })).await?;
                let first = dap.event_any(&["initialized", "terminated"]).await;
                match first {
                    Ok(event) if event["event"] == "initialized" => break (dap, attach),
                    outcome => {
                        let error =
                            outcome.map_or_else(|e| e.to_string(), |_| "the adapter ended the session".to_string());
                        let response = tokio::time::timeout(Duration::from_secs(5), dap.response(attach)).await;
                        let said = match response {
                            Ok(Ok(response)) => response["message"].to_string(),
                            _ => "no attach response".to_string(),
                        };
                        if said.contains("already attached") && refused < 100 {
                            refused += 1;
                            tokio::time::sleep(Duration::from_millis(100)).await;
                            continue;
                        }
                        return Err(format!("attach {cycle} of {total} (ptvsd {version}) did not complete: {error}; the adapter said {said}").into());
                    }
                }
            };
            dap.request("configurationDone", Value::Null).await?;
            let attached = dap.response(attach).await?;
            if attached["success"] != true {
                return Err(format!("attach {cycle} of {total} failed: {attached}").into());
            }
            dap.request("disconnect", json!({ "terminateDebuggee": false })).await?;
            times.push(ms(start.elapsed()));
            if checkpoints.contains(&cycle) {
                row.push(format!("{:.1} MiB", adapter.vm_rss_kib()? as f64 / 1024.0));
            }
        }
        let hwm = adapter.vm_hwm_kib()?;
        row.push(format!("{:.1} MiB", hwm as f64 / 1024.0));
        row.push(fmt_ms(summarize(&times).median));
        row.push(refused.to_string());
        headline.push(format!(
            "RSS after {total} attach/detach cycles, ptvsd {version}: {} (VmHWM {:.1} MiB)",
            row[row.len() - 4],
            hwm as f64 / 1024.0
        ));
        table.row(row);
        drop(adapter);
        drop(debuggee);
    }
    report.text(&table.render());
    report.text("\n");
    for line in headline {
        report.text(&format!("- {line}\n"));
        report.headline(line);
    }
    Ok(())
}

/// Peak RSS of the adapter after expanding a 10 000-element list and dict.
async fn memory(config: &Config, report: &mut Report) -> Res<()> {
    progress("cost: memory");
    report.text(
        "\n### Peak RSS after expanding 10 000 variables\n\n`bench_app.py bigvars` stops with a 10 000-element list \
         and a 10 000-entry dict in its locals; the adapter (tcp://) fetches the stack, the locals, then expands \
         the list fully and the dict fully (one `variables` request each, no paging). VmHWM and VmRSS of the adapter \
         from /proc/PID/status.\n\n",
    );
    let mut table = Table::new(&[
        "adapter",
        "ptvsd",
        "VmHWM at the stop",
        "list: children",
        "list: time",
        "dict: children",
        "dict: time",
        "VmHWM after",
        "VmRSS after",
    ]);
    let file = bench_app();
    let line = line_of(&file, "big-break");
    let mut worst = 0u64;
    let mut exes = vec![("this build", super::procs::adapter_exe())];
    if let Some(baseline) = &config.baseline {
        exes.push(("baseline", baseline.clone()));
    }
    for version in &config.versions {
        for (which, exe) in &exes {
            let peer = Peers::load().peer("3.11", version).clone();
            let debuggee = Debuggee::ptvsd(&peer, &["bigvars"], false)?;
            let mut stop =
                super::roundtrip::adapter_exe_break_at(exe, &debuggee.tcp_url(), json!({}), &file, line).await?;
            let scopes = stop.adapter.dap.request("scopes", json!({ "frameId": stop.frame })).await?;
            let locals_ref = scopes["scopes"][0]["variablesReference"].clone();
            let locals = stop.adapter.dap.request("variables", json!({ "variablesReference": locals_ref })).await?;
            let find = |name: &str| -> Res<Value> {
                locals["variables"]
                    .as_array()
                    .and_then(|vars| vars.iter().find(|v| v["name"] == name))
                    .map(|v| v["variablesReference"].clone())
                    .ok_or_else(|| format!("no local {name} in {locals}").into())
            };
            let (list_ref, dict_ref) = (find("big_list")?, find("big_dict")?);
            let before = stop.adapter.proc.vm_hwm_kib()?;
            let mut cells = vec![which.to_string(), version.to_string(), format!("{:.1} MiB", before as f64 / 1024.0)];
            for reference in [list_ref, dict_ref] {
                let start = Instant::now();
                let body = stop.adapter.dap.request("variables", json!({ "variablesReference": reference })).await?;
                let took = ms(start.elapsed());
                let count = body["variables"].as_array().map_or(0, Vec::len);
                cells.push(count.to_string());
                cells.push(fmt_ms(took));
            }
            let after = stop.adapter.proc.vm_hwm_kib()?;
            let rss = stop.adapter.proc.vm_rss_kib()?;
            if *which == "this build" {
                worst = worst.max(after);
            }
            cells.push(format!("{:.1} MiB", after as f64 / 1024.0));
            cells.push(format!("{:.1} MiB", rss as f64 / 1024.0));
            table.row(cells);
            stop.adapter.disconnect().await;
            drop(debuggee);
        }
    }
    report.text(&table.render());
    let line = format!(
        "peak RSS (VmHWM) after expanding 10 000 variables: {:.1} MiB (target ≤ 15 MB: {})",
        worst as f64 / 1024.0,
        verdict(worst as f64 / 1024.0 <= 15.0)
    );
    report.text(&format!("\n- {line}\n"));
    report.headline(line);
    Ok(())
}

/// Forwarding a burst of program output: direct QUICKACK client against the adapter.
async fn output(config: &Config, report: &mut Report) -> Res<()> {
    let bytes = config.output_bytes;
    let chunk = 16_000;
    let expected = (bytes.div_ceil(chunk) * chunk + "BENCH-OUTPUT-END\n".len()) as u64;
    let file = bench_app();
    let line = line_of(&file, "burst-break");
    let file_str = file.to_string_lossy().to_string();
    report.text(&format!(
        "\n### Forwarding program output\n\n`bench_app.py output` writes {} MB to stdout in {} KB writes once released \
         from a breakpoint (then an end marker); time from the resume to the marker's arrival, bytes counted in \
         the output events (`stdout`). The direct client (NODELAY + QUICKACK) is ptvsd's own ceiling. {} rounds, \
         interleaved.\n\n",
        bytes / 1_000_000,
        chunk / 1000,
        config.output_rounds
    ));
    let mut table = Table::new(&[
        "ptvsd",
        "path",
        "MB/s (median)",
        "time (median)",
        "bytes received / expected",
        "× direct",
        "adapter VmHWM / VmRSS after",
    ]);
    let mut headline = Vec::new();
    for version in &config.versions {
        progress(&format!("cost: output, ptvsd {version}"));
        let peer = Peers::load().peer("3.11", version).clone();
        let args = ["output".to_string(), bytes.to_string(), chunk.to_string()];
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let mut adapters = vec![("ptvsd-dap, tcp://", super::procs::adapter_exe())];
        if let Some(baseline) = &config.baseline {
            adapters.push(("baseline ptvsd-dap, tcp://", baseline.clone()));
        }
        let direct_debuggee = Debuggee::ptvsd(&peer, &args, false)?;
        let mut adapter_debuggees = Vec::new();
        for _ in &adapters {
            adapter_debuggees.push(Debuggee::ptvsd(&peer, &args, false)?);
        }
        let mut client = LegacyClient::attach(direct_debuggee.port, &direct_debuggee.secret, true).await?;
        let mut first = true;
        let mut stops: Vec<Option<super::roundtrip::DapStop>> = adapters.iter().map(|_| None).collect();
        let paths = 1 + adapters.len();
        let mut times = vec![Vec::new(); paths];
        let mut received = vec![0u64; paths];
        for round in 0..config.output_rounds {
            for k in 0..paths {
                let which = (round + k) % paths;
                if which == 0 {
                    // Direct.
                    let thread = client.break_at(1, &file_str, i64::from(line), first).await?;
                    first = false;
                    client.evaluate(thread, "GATE.update(go=True)").await?;
                    client.remove_breakpoint(1, i64::from(line)).await?;
                    client.output.reset();
                    let start = Instant::now();
                    client.resume_until_output_end(Duration::from_secs(600)).await?;
                    times[0].push(start.elapsed().as_secs_f64());
                    received[0] = client.output.stdout_bytes;
                } else {
                    // Through an adapter: a session stays attached across rounds.
                    let stop = match stops[which - 1].take() {
                        None => {
                            let url = adapter_debuggees[which - 1].tcp_url();
                            super::roundtrip::adapter_exe_break_at(&adapters[which - 1].1, &url, json!({}), &file, line)
                                .await?
                        }
                        Some(mut stop) => {
                            let d = &mut stop.adapter.dap;
                            d.request(
                                "setBreakpoints",
                                json!({ "source": { "path": file }, "breakpoints": [{ "line": line }] }),
                            )
                            .await?;
                            let stopped = d
                                .event_where("stopped", super::dap::TIMEOUT, |e| e["body"]["reason"] == "breakpoint")
                                .await?;
                            stop.thread = stopped["body"]["threadId"].clone();
                            stop.frame = top_frame(&mut stop.adapter, &stop.thread).await?;
                            stop
                        }
                    };
                    let mut stop = stop;
                    let d = &mut stop.adapter.dap;
                    d.request(
                        "evaluate",
                        json!({ "expression": "GATE.update(go=True)", "frameId": stop.frame, "context": "repl" }),
                    )
                    .await?;
                    d.request("setBreakpoints", json!({ "source": { "path": file }, "breakpoints": [] })).await?;
                    d.output.reset();
                    d.clear_events();
                    let start = Instant::now();
                    d.request("continue", json!({ "threadId": stop.thread })).await?;
                    d.until_output_end(Duration::from_secs(600)).await?;
                    times[which].push(start.elapsed().as_secs_f64());
                    received[which] = d.output.stdout_bytes;
                    stops[which - 1] = Some(stop);
                }
            }
        }
        let mut memory = vec!["–".to_string(); paths];
        for (i, stop) in stops.iter().enumerate() {
            if let Some(stop) = stop {
                memory[i + 1] = format!(
                    "{:.1} / {:.1} MiB",
                    stop.adapter.proc.vm_hwm_kib()? as f64 / 1024.0,
                    stop.adapter.proc.vm_rss_kib()? as f64 / 1024.0
                );
            }
        }
        drop(stops);
        drop(client);
        let direct_rate = bytes as f64 / summarize(&times[0]).median / 1e6;
        let names: Vec<&str> =
            std::iter::once("direct client, NODELAY + QUICKACK").chain(adapters.iter().map(|a| a.0)).collect();
        for (which, name) in names.iter().enumerate() {
            let t = summarize(&times[which]);
            let rate = bytes as f64 / t.median / 1e6;
            table.row(vec![
                version.to_string(),
                name.to_string(),
                format!("{rate:.1}"),
                fmt_ms(t.median * 1000.0),
                format!("{} / {}", received[which], expected),
                fmt_ratio(rate / direct_rate),
                memory[which].clone(),
            ]);
            if which == 1 {
                headline.push(format!(
                    "output forwarding, ptvsd {version}: {rate:.1} MB/s = {} of the direct client, {} (received {} of {} bytes)",
                    fmt_ratio(rate / direct_rate),
                    if received[1] == expected { "no loss" } else { "LOSS" },
                    received[1],
                    expected
                ));
            }
        }
    }
    report.text(&table.render());
    report.text("\n");
    for line in headline {
        report.text(&format!("- {line}\n"));
        report.headline(line);
    }
    Ok(())
}
