//! The command line as a user meets it: `--help` lists every subcommand and the exit
//! status, the exit status is what `src/cli.rs` and the README say (0 ok, 1 failed with a
//! sentence, 2 a wrong command line), and the completions and man pages are generated
//! from the same definition.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::process::{Command, Output, Stdio};

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ptvsd-dap")).args(args).stdin(Stdio::null()).output().unwrap()
}

fn subcommands() -> Vec<String> {
    ptvsd_dap::cli::command().get_subcommands().map(|sub| sub.get_name().to_string()).collect()
}

#[test]
fn help_lists_every_subcommand_and_the_exit_status() {
    let output = run(&["--help"]);
    assert_eq!(output.status.code(), Some(0));
    let help = String::from_utf8_lossy(&output.stdout);
    let names = subcommands();
    for name in ["probe", "relay", "schema", "demo", "completions", "manpage"] {
        assert!(names.iter().any(|n| n == name), "no subcommand {name}: {names:?}");
    }
    for name in &names {
        assert!(
            help.lines().any(|line| line.trim_start().starts_with(name.as_str())),
            "--help does not list {name}:\n{help}"
        );
    }
    assert!(!ptvsd_dap::cli::command().get_subcommands().any(|sub| sub.is_hide_set()), "a hidden subcommand");
    assert!(help.contains("Exit status: 0 success; 1 failure"), "{help}");
}

#[test]
fn a_wrong_command_line_exits_2_and_a_failed_probe_exits_1() {
    let cases: [(&[&str], i32); 4] = [
        (&["probe", "ftp://secret@example.invalid/x"], 2),
        (&["probe", "tcp://s@127.0.0.1:5678", "--header", "no colon"], 2),
        (&["probe"], 2),
        (&["no-such-subcommand"], 2),
    ];
    for (args, code) in cases {
        let output = run(args);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(code), "{args:?}: {stderr}");
        assert!(output.stdout.is_empty(), "{args:?} printed on stdout");
        assert!(!stderr.trim().is_empty() && !stderr.contains("panicked"), "{args:?}: {stderr}");
        assert!(!stderr.contains("secret@"), "{args:?}: the secret is on stderr: {stderr}");
    }
    // Nothing listens on a port just freed: the probe runs and fails.
    let port = support::free_port();
    let url = format!("tcp://s3cret@127.0.0.1:{port}");
    let output = run(&["probe", "--timeout", "5", &url]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert_eq!(stderr.trim().lines().count(), 1, "not one sentence: {stderr}");
    assert!(!stderr.contains("s3cret"), "{stderr}");
}

#[test]
fn completions_for_every_shell_know_every_subcommand() {
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let output = run(&["completions", shell]);
        assert_eq!(output.status.code(), Some(0), "{shell}: {}", String::from_utf8_lossy(&output.stderr));
        let script = String::from_utf8_lossy(&output.stdout);
        for name in subcommands() {
            assert!(script.contains(&name), "the {shell} completion does not know {name}");
        }
    }
    assert_eq!(run(&["completions", "tcsh"]).status.code(), Some(2));
}

#[test]
fn man_pages_are_generated_for_the_command_and_each_subcommand() {
    let output = run(&["manpage"]);
    assert_eq!(output.status.code(), Some(0));
    let page = String::from_utf8_lossy(&output.stdout);
    assert!(page.contains(".TH ptvsd-dap 1"), "{page}");
    for name in subcommands() {
        assert!(
            page.contains(&format!("ptvsd\\-dap\\-{}(1)", name.replace('-', "\\-"))),
            "the page does not list {name}"
        );
    }
    let dir = tempfile::tempdir().unwrap();
    let into = dir.path().join("man1");
    let output = run(&["manpage", "--dir", into.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(0), "{}", String::from_utf8_lossy(&output.stderr));
    for name in subcommands() {
        let text = std::fs::read_to_string(into.join(format!("ptvsd-dap-{name}.1"))).unwrap();
        assert!(text.contains("Exit status"), "ptvsd-dap-{name}.1 does not say the exit status");
    }
}
