//! Windows App Service runs Python sites under wfastcgi, which replaces `sys.stdout` and
//! `sys.stderr` with a fresh `StringIO` for every request: ptvsd's output redirection,
//! installed on the streams of the moment it attaches, is gone at the next request, so the
//! program's `print` output would stop reaching the editor after the attach. These tests
//! run PyPI's wfastcgi itself (`tests/support/fastcgi.rs` drives it over FastCGI as IIS
//! does), with ptvsd enabled by wfastcgi from `Web.config` at the first request, and check
//! that the output of every later request reaches the editor.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod client;
mod support;

use std::path::Path;
use std::time::Duration;

use client::DapClient;
use serde_json::{json, Value};
use support::{free_port, programs_dir, Peers, WfastcgiSite};

fn site_folder(dir: &Path, secret: &str, port: u16) {
    let log = dir.join("wfastcgi.log").display().to_string();
    std::fs::copy(programs_dir().join("wfastcgi_site").join("site_app.py"), dir.join("site_app.py")).unwrap();
    let config = format!(
        "<?xml version=\"1.0\"?>\n<configuration>\n  <appSettings>\n    <add key=\"WSGI_HANDLER\" value=\"site_app.application\"/>\n    <add key=\"WSGI_PTVSD_SECRET\" value=\"{secret}\"/>\n    <add key=\"WSGI_PTVSD_ADDRESS\" value=\"127.0.0.1:{port}\"/>\n    <add key=\"WSGI_RESTART_FILE_REGEX\" value=\"\"/>\n    <add key=\"WSGI_LOG\" value=\"{log}\"/>\n  </appSettings>\n</configuration>\n"
    );
    std::fs::write(dir.join("Web.config"), config).unwrap();
}

async fn output_keeps_flowing(python: &str, ptvsd: &str) {
    let peers = Peers::load();
    let Some(wfastcgi) = peers.wfastcgi() else { return };
    let peer = peers.peer(python, ptvsd);
    let dir = tempfile::tempdir().unwrap();
    let secret = "wfastcgi-s3cret";
    let port = free_port();
    site_folder(dir.path(), secret, port);
    let mut site = WfastcgiSite::start(peer, &wfastcgi, dir.path());
    // The first request makes wfastcgi enable ptvsd.
    assert_eq!(site.get(1).as_deref(), Ok("total 4"), "{}", site.output());
    support::net::wait_until_listening(port, Duration::from_secs(20), true, || Ok(()))
        .unwrap_or_else(|e| panic!("ptvsd never listened ({e}): {}", site.output()));
    let mut client = DapClient::spawn(&["--log-level", "debug"]).await;
    client.ok("initialize", json!({ "adapterID": "ptvsd-dap" })).await;
    client.ok("attach", json!({ "url": format!("tcp://{secret}@127.0.0.1:{port}"), "redirectOutput": true })).await;
    client.wait_event("initialized").await;
    client.ok("configurationDone", Value::Null).await;
    for n in 2..=4u32 {
        let wsgi_log = || std::fs::read_to_string(dir.path().join("wfastcgi.log")).unwrap_or_default();
        assert_eq!(site.get(n), Ok(format!("total {}", 3 * n + 1)), "wfastcgi's log:\n{}", wsgi_log());
    }
    client.drain(Duration::from_millis(500)).await;
    let mut seen = client.output_text();
    let started = std::time::Instant::now();
    while !seen.contains("handled 4") && started.elapsed() < Duration::from_secs(10) {
        client.drain(Duration::from_millis(200)).await;
        seen = client.output_text();
    }
    for n in 2..=4 {
        assert!(
            seen.contains(&format!("handled {n}")),
            "{python}/{ptvsd}: the output of request {n} did not reach the editor; it got: {seen:?}"
        );
    }
    client.ok("disconnect", json!({})).await;
    assert_eq!(client.wait_exit(Duration::from_secs(10)).await, Some(0));
    // Detached: the site serves on.
    assert_eq!(site.get(5).as_deref(), Ok("total 16"));
    // The next debugger gets the output too, once per print.
    let mut again = DapClient::spawn(&["--log-level", "debug"]).await;
    again.ok("initialize", json!({ "adapterID": "ptvsd-dap" })).await;
    again.ok("attach", json!({ "url": format!("tcp://{secret}@127.0.0.1:{port}"), "redirectOutput": true })).await;
    again.wait_event("initialized").await;
    again.ok("configurationDone", Value::Null).await;
    for n in 6..=7u32 {
        assert_eq!(site.get(n), Ok(format!("total {}", 3 * n + 1)));
    }
    let started = std::time::Instant::now();
    while !again.output_text().contains("handled 7") && started.elapsed() < Duration::from_secs(10) {
        again.drain(Duration::from_millis(200)).await;
    }
    let seen = again.output_text();
    assert_eq!(seen.matches("handled 7").count(), 1, "{python}/{ptvsd}: after a re-attach: {seen:?}");
    assert!(!seen.contains("handled 5"), "{python}/{ptvsd}: output of a request made while detached: {seen:?}");
    again.ok("disconnect", json!({})).await;
    assert_eq!(again.wait_exit(Duration::from_secs(10)).await, Some(0));
}

#[tokio::test]
async fn print_output_reaches_the_editor_under_wfastcgi_json_ptvsd_3_2() {
    output_keeps_flowing("3.11", "3.2.1").await;
}

#[tokio::test]
async fn print_output_reaches_the_editor_under_wfastcgi_binary_ptvsd_3_0() {
    output_keeps_flowing("3.6", "3.0.0").await;
}
