//! Runs the benchmark harness (`benches/harness`, `cargo bench --bench adapter`) in its
//! `--quick` configuration, a few iterations of every group against the real peers, so it
//! cannot rot. It asserts that every group ran, never a timing.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../benches/harness/mod.rs"]
mod harness;

#[test]
fn the_benchmark_harness_runs_every_group() {
    let config = harness::Config::quick();
    let (report, error) = harness::run(&config);
    let text = report.render();
    eprintln!("{text}");
    assert!(error.is_none(), "{}", error.unwrap_or_default());
    for heading in [
        "## 1. Round trips",
        "## 2. `ptvsd-dap relay`",
        "## 3. Adapter cost",
        "## 4. Against the modern anchor",
        "## 5. Every action over a WAN link",
    ] {
        assert!(text.contains(heading), "no {heading:?} section in the report");
    }
    // The WAN group needs root and network namespaces; where it cannot run it says why,
    // and under CI (which runs as root) it must run.
    match harness::wanlink::unavailable() {
        Some(reason) if !harness::support::is_ci() => {
            assert!(text.contains(&reason), "the WAN group neither ran nor said why")
        }
        Some(reason) => panic!("CI must run the WAN group: {reason}"),
        None => {
            assert!(text.contains("### 20 ms RTT"), "the WAN group did not report its link: {text}");
            assert!(text.contains("ptvsd-dap tcp://, ptvsd 3.2.1 (JSON)"), "no tcp:// path in the WAN table");
            assert!(text.contains("· 0 rt"), "no action of the WAN group was measured");
        }
    }
    assert!(text.contains("no loss"), "output was lost: {text}");
}

#[test]
fn median_and_p90() {
    let s = harness::stats::summarize(&[5.0, 1.0, 3.0, 2.0, 4.0, 6.0, 7.0, 8.0, 9.0, 10.0]);
    assert_eq!(s.median, 5.5);
    assert_eq!(s.p90, 9.0);
    assert_eq!(s.min, 1.0);
    assert_eq!(harness::stats::summarize(&[2.0]).p90, 2.0);
}
