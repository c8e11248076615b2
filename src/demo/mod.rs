//! `ptvsd-dap demo`: the whole path on a built-in sample, on a fresh machine.
//!
//! 1. a Python that has ptvsd 2.x/3.x (a cached private venv with `ptvsd==3.2.1` from
//!    PyPI, made once; [`venv`]);
//! 2. the sample web app (`demo/app.py`, embedded) under `python -m ptvsd` on a free port,
//!    in its own process group;
//! 3. the built-in WebSocket relay in-process (`ws://127.0.0.1:PORT/ptvsd`), standing in
//!    for App Service's `/ptvsd` proxy;
//! 4. this executable started again as the DAP server on stdio, driven by a scripted
//!    editor ([`client`]): initialize, attach through the relay, a breakpoint, an HTTP
//!    request that hits it, the stack and locals, an evaluation, continue, detach;
//! 5. a second request to show the app runs on, then clean-up: the app and the relay
//!    stopped, the temporary directory removed (the venv stays).
//!
//! Prints what a user would see, one line per step; never the secret. Errors are one
//! sentence, returned to `main`.

mod client;
pub mod venv;

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::process_group;
use crate::relay::{self, RelayConfig};
use crate::session::launch::{free_port, random_secret};
use client::Adapter;

/// The sample app, written to a temporary directory at run time.
pub const APP_SOURCE: &str = include_str!("../../demo/app.py");
/// The request that hits the breakpoint.
const CHECKOUT: &str = "/checkout?user=alice&items=3";
/// What the demo evaluates at the breakpoint.
const EXPRESSION: &str = "[item['name'] for item in cart.items]";

/// `ptvsd-dap demo` options.
#[derive(Debug, Clone)]
pub struct DemoOptions {
    /// The interpreter to make the venv with (or to use, if it has ptvsd 2.x/3.x).
    pub python: Option<PathBuf>,
    /// The venv to use (or to create there instead of the cache).
    pub venv: Option<PathBuf>,
    /// Limit for each step.
    pub timeout: Duration,
}

/// Prints one line to stdout.
fn say(line: &str) {
    let mut stdout = std::io::stdout().lock();
    let _ = writeln!(stdout, "{line}");
    let _ = stdout.flush();
}

/// The 1-based line of `# MARK: NAME` in the app.
pub fn marked_line(source: &str, mark: &str) -> Option<i64> {
    let needle = format!("# MARK: {mark}");
    source.lines().position(|l| l.trim_end().ends_with(&needle)).and_then(|i| i64::try_from(i + 1).ok())
}

/// What the demo started, stopped again by [`Stage::finish`] (or, if the demo is
/// dropped half-way, by `Drop`).
struct Stage {
    dir: PathBuf,
    app: Option<(tokio::process::Child, u32)>,
    relay: Option<(oneshot::Sender<()>, JoinHandle<()>)>,
}

impl Stage {
    fn new() -> Result<Stage, String> {
        let dir = std::env::temp_dir().join(format!("ptvsd-dap-demo-{}-{}", std::process::id(), &random_secret()[..8]));
        std::fs::create_dir_all(&dir)
            .map_err(|e| format!("cannot create a temporary directory {}: {e}", dir.display()))?;
        Ok(Stage { dir, app: None, relay: None })
    }

    /// Stops the app (its whole process group) and the relay; removes the directory.
    async fn finish(&mut self) -> Vec<&'static str> {
        let mut done = Vec::new();
        if let Some((mut child, pgid)) = self.app.take() {
            process_group::stop(&mut child, pgid, process_group::GRACE).await;
            done.push("stopped the sample app");
        }
        if let Some((stop, task)) = self.relay.take() {
            let _ = stop.send(());
            let _ = tokio::time::timeout(Duration::from_secs(7), task).await;
            if let Some(last) = done.last_mut() {
                *last = "stopped the sample app and the relay";
            } else {
                done.push("stopped the relay");
            }
        }
        if std::env::var_os("PTVSD_DAP_DEMO_KEEP").is_some() {
            say(&format!("  kept {} (PTVSD_DAP_DEMO_KEEP)", self.dir.display()));
        } else if std::fs::remove_dir_all(&self.dir).is_ok() {
            done.push("removed the temporary directory");
        }
        done
    }
}

impl Drop for Stage {
    fn drop(&mut self) {
        if let Some((_, pgid)) = self.app.take() {
            process_group::kill_now(pgid);
        }
        if std::env::var_os("PTVSD_DAP_DEMO_KEEP").is_none() {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// Runs the demo; `Err` is one sentence. Ctrl-C (or SIGTERM) stops it and cleans up.
pub async fn run(options: DemoOptions) -> Result<(), String> {
    let started = Instant::now();
    say("ptvsd-dap demo: a sample web app under ptvsd, debugged by this adapter through the built-in WebSocket relay.");
    let mut stage = Stage::new()?;
    let result = tokio::select! {
        result = steps(&options, &mut stage) => result,
        () = crate::server::termination() => Err("interrupted; what the demo had started is stopped again".to_string()),
    };
    let done = stage.finish().await;
    match result {
        Ok(venv) => {
            let mut line = format!("✔ cleaned up: {}", done.join(", "));
            if let Some(venv) = venv {
                line.push_str(&format!("; the venv stays in {} for next time", venv.display()));
            }
            say(&line);
            say(&format!(
                "Done in {:.1} s. To debug your own app, attach to it the same way: see \"Attach configuration\" in README.md.",
                started.elapsed().as_secs_f64()
            ));
            Ok(())
        }
        Err(error) => Err(error),
    }
}

/// The steps; returns the cached venv, if the demo made or reused one.
async fn steps(options: &DemoOptions, stage: &mut Stage) -> Result<Option<PathBuf>, String> {
    let timeout = options.timeout;
    let mut progress = |line: &str| say(line);
    // Absolute (not canonical: a venv's python is a symlink that must stay in the venv),
    // since the app runs in another directory.
    let absolute =
        |path: &Option<PathBuf>| path.as_deref().map(|p| std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf()));
    let (python, venv) = (absolute(&options.python), absolute(&options.venv));
    let python = venv::prepare(python.as_deref(), venv.as_deref(), &mut progress).await?;

    // The app, under ptvsd, like App Service runs it.
    let app_path = stage.dir.join("app.py");
    std::fs::write(&app_path, APP_SOURCE).map_err(|e| format!("cannot write {}: {e}", app_path.display()))?;
    let line = marked_line(APP_SOURCE, "breakpoint").ok_or("the sample app has no breakpoint mark")?;
    let ptvsd_port = free_port().map_err(|e| format!("cannot find a free port: {e}"))?;
    let http_port = free_port().map_err(|e| format!("cannot find a free port: {e}"))?;
    let secret = random_secret();
    let log_path = stage.dir.join("app.log");
    let log = std::fs::File::create(&log_path).map_err(|e| format!("cannot create {}: {e}", log_path.display()))?;
    let log_err = log.try_clone().map_err(|e| format!("cannot share {}: {e}", log_path.display()))?;
    let mut command = tokio::process::Command::new(&python.python);
    command
        .args(["-u", "-m", "ptvsd", "--secret", &secret, "--interface", "127.0.0.1", "--port", &ptvsd_port.to_string()])
        .arg(&app_path)
        .args(["-", &http_port.to_string()])
        .current_dir(&stage.dir)
        .stdin(Stdio::null())
        .stdout(Stdio::from(log))
        .stderr(Stdio::from(log_err));
    process_group::own_group(&mut command);
    let child =
        command.spawn().map_err(|e| format!("cannot start the sample app with {}: {e}", python.python.display()))?;
    let app_pid = child.id().ok_or("the sample app exited at once")?;
    stage.app = Some((child, app_pid));
    wait_for_app(stage, &log_path, timeout).await?;
    say(&format!("✔ started the sample app (process {app_pid}) under ptvsd {} on 127.0.0.1:{ptvsd_port}: a shop at http://127.0.0.1:{http_port}/checkout", python.ptvsd));

    // The relay, as App Service's /ptvsd proxy.
    let config =
        RelayConfig { listen: ([127, 0, 0, 1], 0).into(), target: format!("127.0.0.1:{ptvsd_port}"), tls: None };
    let listener = relay::bind(&config).await.map_err(|e| e.to_string())?;
    let relay_port = listener.local_addr().map_err(|e| format!("the relay's socket is unusable: {e}"))?.port();
    let (stop_relay, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        if let Err(error) = relay::serve(listener, config, async move {
            let _ = stopped.await;
        })
        .await
        {
            tracing::warn!(%error, "the demo relay failed");
        }
    });
    stage.relay = Some((stop_relay, task));
    let shown_url = format!("ws://127.0.0.1:{relay_port}/ptvsd");
    say(&format!("✔ relay listening on {shown_url}, forwarding to ptvsd at 127.0.0.1:{ptvsd_port} (as App Service's /ptvsd proxy does)"));

    // The adapter, started like an editor starts it.
    let exe =
        std::env::current_exe().map_err(|e| format!("cannot find this executable to start it as the adapter: {e}"))?;
    let mut adapter = Adapter::spawn(&exe, &stage.dir.join("adapter.log"), timeout)?;
    say(&format!(
        "✔ started the adapter {} (process {}), speaking DAP on its stdin/stdout as an editor would",
        exe.display(),
        adapter.pid().unwrap_or(0)
    ));

    // 1. initialize + attach.
    adapter.request("initialize", json!({ "clientID": "ptvsd-dap-demo", "adapterID": "ptvsd-dap", "linesStartAt1": true, "columnsStartAt1": true, "pathFormat": "path" })).await?;
    // stopOnEntry: ptvsd finishes its attach (reporting modules) while it already takes
    // commands, and a request served in that window runs untraced. Its attach break, which
    // stopOnEntry reports, comes only once the attach is complete.
    let attach = json!({ "url": format!("ws://{secret}@127.0.0.1:{relay_port}/ptvsd"), "stopOnEntry": true });
    adapter.request("attach", attach).await.map_err(|e| format!("{e} (through {shown_url})"))?;
    adapter.wait_event("initialized", |_| true).await?;
    let process = adapter.wait_event("process", |_| true).await?;
    let pid = process["body"]["systemProcessId"].as_i64().unwrap_or(0);
    let attached_line = adapter
        .outputs
        .iter()
        .map(|(_, text)| text.as_str())
        .find(|t| t.starts_with("Attached to process"))
        .unwrap_or_default()
        .to_string();
    let version = between(&attached_line, "(Python ", ")").unwrap_or_else(|| python.info.version_text());
    let protocol =
        attached_line.find("ptvsd protocol").map(|i| attached_line[i..].trim_end().trim_end_matches('.').to_string());
    say(&format!(
        "✔ attached to process {pid} (Python {version}) through {shown_url}{}",
        protocol.map(|p| format!(": {p}")).unwrap_or_default()
    ));

    // 2. a breakpoint.
    let body = adapter
        .request("setBreakpoints", json!({ "source": { "path": app_path }, "breakpoints": [{ "line": line }] }))
        .await?;
    let verified = body["breakpoints"][0]["verified"] == true;
    say(&format!(
        "● breakpoint set at app.py:{line} in handle_request() ({})",
        if verified { "verified by ptvsd" } else { "pending" }
    ));
    adapter.request("configurationDone", Value::Null).await?;
    let entry = adapter
        .wait_event("stopped", |e| e["body"]["reason"] == "entry")
        .await
        .map_err(|e| format!("ptvsd's attach break did not come: {e}"))?;
    let entry_thread = entry["body"]["threadId"].clone();
    let where_ = adapter.request("stackTrace", json!({ "threadId": entry_thread, "levels": 1 })).await?;
    if let Some(frame) = where_["stackFrames"].as_array().and_then(|f| f.first()) {
        say(&format!(
            "  ptvsd's attach break paused the app at {}:{} in {}(); continuing",
            source_name(frame),
            frame["line"],
            frame["name"].as_str().unwrap_or("?")
        ));
    }
    adapter.request("continue", json!({ "threadId": entry_thread })).await?;

    // 3. a request that hits it.
    let url = format!("http://127.0.0.1:{http_port}{CHECKOUT}");
    say(&format!("→ GET {url} (it waits while the app is stopped)"));
    let request = tokio::spawn(http_get(http_port, CHECKOUT, timeout * 2));
    let stopped = adapter
        .wait_event("stopped", |e| e["body"]["reason"] == "breakpoint")
        .await
        .map_err(|e| format!("the breakpoint was not hit: {e}"))?;
    let thread = stopped["body"]["threadId"].clone();

    // 4. the stack and the locals.
    let stack = adapter.request("stackTrace", json!({ "threadId": thread, "levels": 20 })).await?;
    let frames = stack["stackFrames"].as_array().cloned().unwrap_or_default();
    let top = frames.first().ok_or("the stopped thread has no frames")?;
    say(&format!(
        "● breakpoint hit at {}:{} in {}()",
        source_name(top),
        top["line"],
        top["name"].as_str().unwrap_or("?")
    ));
    say("  stack:");
    for frame in frames.iter().take(4) {
        say(&format!(
            "    {:<22} {}:{}",
            format!("{}()", frame["name"].as_str().unwrap_or("?")),
            source_name(frame),
            frame["line"]
        ));
    }
    let total = stack["totalFrames"].as_u64().unwrap_or(frames.len() as u64);
    if total > 4 {
        say(&format!("    … and {} more frames", total - 4));
    }
    let scopes = adapter.request("scopes", json!({ "frameId": top["id"] })).await?;
    let locals_ref = scopes["scopes"][0]["variablesReference"].clone();
    let locals = adapter.request("variables", json!({ "variablesReference": locals_ref })).await?;
    let locals = locals["variables"].as_array().cloned().unwrap_or_default();
    say("  locals:");
    let width = locals.iter().filter_map(|v| v["name"].as_str()).map(|n| n.chars().count()).max().unwrap_or(0);
    for variable in &locals {
        say(&format!(
            "    {:<width$} = {}",
            variable["name"].as_str().unwrap_or("?"),
            shorten(variable["value"].as_str().unwrap_or_default(), 100)
        ));
        if variable["name"] == "cart" && variable["variablesReference"].as_i64().unwrap_or(0) > 0 {
            let children =
                adapter.request("variables", json!({ "variablesReference": variable["variablesReference"] })).await?;
            for child in children["variables"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|c| !c["name"].as_str().unwrap_or("_").starts_with("__"))
            {
                say(&format!(
                    "      .{} = {}",
                    child["name"].as_str().unwrap_or("?"),
                    shorten(child["value"].as_str().unwrap_or_default(), 96)
                ));
            }
        }
    }

    // 5. an expression.
    let result = adapter
        .request("evaluate", json!({ "expression": EXPRESSION, "frameId": top["id"], "context": "repl" }))
        .await?;
    say(&format!("  evaluate {EXPRESSION}\n    = {}", result["result"].as_str().unwrap_or("?")));

    // 6. continue: the request completes.
    adapter.request("continue", json!({ "threadId": thread })).await?;
    let answer = request.await.map_err(|e| format!("the HTTP request task failed: {e}"))??;
    say(&format!("▶ continued: the app answered {} {}", answer.0, answer.1.trim()));
    adapter.drain(Duration::from_millis(300)).await;
    if let Some(printed) = adapter
        .outputs
        .iter()
        .filter(|(category, _)| category == "stdout")
        .map(|(_, text)| text.trim())
        .find(|t| t.starts_with("served"))
    {
        say(&format!("  the app printed (forwarded by ptvsd as output): {printed}"));
    }

    // 7. detach.
    adapter.request("disconnect", Value::Null).await?;
    let code = adapter.wait_exit(Duration::from_secs(10)).await;
    if code != Some(0) {
        return Err(format!("the adapter did not exit cleanly after the detach (exit code {code:?})"));
    }
    say("✔ detached; the adapter exited (code 0)");
    let again = http_get(http_port, CHECKOUT, timeout)
        .await
        .map_err(|e| format!("the app stopped answering after the detach: {e}"))?;
    say(&format!("✔ the app runs on without the debugger: it answered another request ({})", again.0));
    Ok(python.cached_venv)
}

/// Waits until the app prints that it listens; fails with its last output line if it
/// exits or takes too long.
async fn wait_for_app(stage: &mut Stage, log: &Path, timeout: Duration) -> Result<(), String> {
    let deadline = Instant::now() + timeout;
    loop {
        let text = std::fs::read_to_string(log).unwrap_or_default();
        if text.contains("shop listening") {
            return Ok(());
        }
        let last = || text.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or("no output").trim().to_string();
        if let Some((child, _)) = stage.app.as_mut() {
            if let Ok(Some(status)) = child.try_wait() {
                stage.app = None;
                return Err(format!("the sample app exited ({status}) before it started listening: {}", last()));
            }
        }
        if Instant::now() > deadline {
            return Err(format!("the sample app did not start within {} s: {}", timeout.as_secs(), last()));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// `GET path` with HTTP/1.0; the status line and the body.
async fn http_get(port: u16, path: &str, timeout: Duration) -> Result<(String, String), String> {
    let exchange = async {
        let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port)).await?;
        stream.write_all(format!("GET {path} HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\n\r\n").as_bytes()).await?;
        let mut reply = Vec::new();
        stream.take(1 << 20).read_to_end(&mut reply).await?;
        Ok::<_, std::io::Error>(reply)
    };
    let reply = match tokio::time::timeout(timeout, exchange).await {
        Ok(Ok(reply)) => reply,
        Ok(Err(error)) => return Err(format!("GET {path} failed: {error}")),
        Err(_) => return Err(format!("GET {path} got no answer within {} s", timeout.as_secs())),
    };
    let text = String::from_utf8_lossy(&reply);
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head.lines().next().unwrap_or_default().to_string();
    if !status.contains(" 200") {
        return Err(format!("GET {path} answered {status:?}"));
    }
    Ok((status, body.to_string()))
}

fn source_name(frame: &Value) -> String {
    let path = frame["source"]["path"].as_str().or(frame["source"]["name"].as_str()).unwrap_or("?");
    // Standard library frames: keep the part after `lib/pythonX.Y/`.
    if let Some(i) = path.find("/lib/python") {
        if let Some(j) = path[i + 11..].find('/') {
            return path[i + 11 + j + 1..].to_string();
        }
    }
    path.rsplit(['/', '\\']).next().unwrap_or(path).to_string()
}

fn between(text: &str, start: &str, end: &str) -> Option<String> {
    let from = text.find(start)? + start.len();
    let to = text[from..].find(end)? + from;
    Some(text[from..to].to_string())
}

fn shorten(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_string()
    } else {
        format!("{}…", text.chars().take(max).collect::<String>())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn the_app_has_its_breakpoint_mark() {
        let line = marked_line(APP_SOURCE, "breakpoint").unwrap();
        let text = APP_SOURCE.lines().nth(usize::try_from(line - 1).unwrap()).unwrap();
        assert!(text.trim_start().starts_with("return order"), "{text}");
    }

    #[test]
    fn helpers() {
        assert_eq!(between("Attached to process 1 (Python 3.11.7) at x", "(Python ", ")").as_deref(), Some("3.11.7"));
        assert_eq!(
            source_name(&json!({ "source": { "path": "/usr/lib/python3.11/http/server.py" } })),
            "http/server.py"
        );
        assert_eq!(source_name(&json!({ "source": { "path": "/tmp/x/app.py" } })), "app.py");
        assert_eq!(shorten("abcdef", 3), "abc…");
    }
}
