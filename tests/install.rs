//! The install paths, followed as a user follows README.md, from a clean copy of the
//! checkout (what `git clone` gives: the tracked files only, with this working tree's
//! edits to them; made once per run in a temporary directory and committed there, so
//! cargo sees a clean repository):
//!
//! * crates.io: `cargo package --list` holds the sources, the demo's app, the docs and the
//!   licence and nothing of tests/, editors/, benches/, fuzz/ or scripts/; `cargo publish
//!   --dry-run --locked` accepts the package (it builds the packaged files once, debug).
//! * `cargo install`: README's install block and its completions/man pages block, run as
//!   written by bash with HOME set to a temporary home (so `~/.cargo/bin` is
//!   `CARGO_INSTALL_ROOT`), then the installed binary, with nothing else of ptvsd-dap on
//!   PATH, probes a real ptvsd 3.2.1 as README's probe example shows.
//! * VS Code: README's `scripts/package-vsix.sh` line makes the linux-x64 `.vsix`; it must
//!   hold the extension, `bin/ptvsd-dap` (executable, the size of the release binary) and
//!   name its platform; `editors/vscode/adapter.js` run under node picks the setting
//!   first, then the bundled binary, then PATH. (The real VS Code installs this `.vsix`
//!   in the editors' end-to-end test.)
//!
//! Builds share this build's target directory (`CARGO_TARGET_DIR`, default `target/`), so
//! the release build is made once per machine state, not per test: the first run costs
//! one release build of the whole dependency tree (minutes on 2 cores).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;

use support::{PeerOptions, Peers, PtvsdPeer};

/// The temporary directories: `checkout/` (the clean copy) and `home/` (the user's home).
struct Scratch {
    _dir: tempfile::TempDir,
    checkout: PathBuf,
    home: PathBuf,
}

static SCRATCH: OnceLock<Scratch> = OnceLock::new();

fn git(args: &[&str], dir: &Path) -> String {
    let output = Command::new("git")
        .args(["-c", "user.name=install test", "-c", "user.email=install-test@localhost", "-c", "commit.gpgsign=false"])
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run git: {e}"));
    assert!(output.status.success(), "git {args:?} failed: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8_lossy(&output.stdout).trim().to_string()
}

/// The clean checkout, made once per test binary.
fn scratch() -> &'static Scratch {
    SCRATCH.get_or_init(|| {
        let root = support::repo_root();
        let dir = tempfile::Builder::new().prefix("ptvsd-dap-install-").tempdir().unwrap();
        let checkout = dir.path().join("checkout");
        let home = dir.path().join("home");
        std::fs::create_dir_all(&checkout).unwrap();
        std::fs::create_dir_all(&home).unwrap();
        // The working tree's tracked files as they are now (a commit object that touches
        // neither the index nor the stash list), or HEAD when nothing changed.
        let snapshot = git(&["stash", "create"], &root);
        let commit = if snapshot.is_empty() { "HEAD".to_string() } else { snapshot };
        let archive =
            Command::new("git").args(["archive", "--format=tar", &commit]).current_dir(&root).output().unwrap();
        assert!(archive.status.success(), "git archive: {}", String::from_utf8_lossy(&archive.stderr));
        let mut tar = Command::new("tar").args(["-x", "-C"]).arg(&checkout).stdin(Stdio::piped()).spawn().unwrap();
        std::io::Write::write_all(tar.stdin.as_mut().unwrap(), &archive.stdout).unwrap();
        drop(tar.stdin.take());
        assert!(tar.wait().unwrap().success(), "tar -x failed");
        git(&["init", "-q"], &checkout);
        git(&["add", "-A"], &checkout);
        git(&["commit", "-q", "-m", "clean copy"], &checkout);
        Scratch { _dir: dir, checkout, home }
    })
}

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| support::repo_root().join("target"), PathBuf::from)
}

/// The toolchain's directory (cargo and rustc), as `cargo test` ran us.
fn toolchain_bin() -> PathBuf {
    let cargo = PathBuf::from(std::env::var_os("CARGO").expect("CARGO is set by cargo test"));
    cargo.parent().unwrap().to_path_buf()
}

/// Runs `script` with bash (`-euo pipefail`) in the clean checkout as the user: HOME is the
/// temporary home, `cargo install` installs into `~/.cargo/bin` there, PATH is that, the
/// toolchain and the system's directories; cargo's registry cache and this build's target
/// directory are shared.
fn run_as_user(script: &str, extra_path: &[PathBuf]) -> Output {
    let Scratch { checkout, home, .. } = scratch();
    let real_home = PathBuf::from(std::env::var_os("HOME").unwrap_or_else(|| "/root".into()));
    let cargo_home = std::env::var_os("CARGO_HOME").map_or_else(|| real_home.join(".cargo"), PathBuf::from);
    let mut path = vec![home.join(".cargo").join("bin")];
    path.extend(extra_path.iter().cloned());
    path.push(toolchain_bin());
    path.extend(["/usr/local/bin", "/usr/bin", "/bin"].map(PathBuf::from));
    let output = Command::new("bash")
        .args(["-euo", "pipefail", "-c", script])
        .current_dir(checkout)
        .env("HOME", home)
        .env("CARGO_HOME", cargo_home)
        .env("CARGO_INSTALL_ROOT", home.join(".cargo"))
        .env("CARGO_TARGET_DIR", target_dir())
        .env("PATH", std::env::join_paths(path).unwrap())
        .env_remove("RUSTUP_TOOLCHAIN")
        .env_remove("CARGO_MANIFEST_DIR")
        .env_remove("XDG_CACHE_HOME")
        .env_remove("XDG_DATA_HOME")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    eprintln!(
        "--- {script}--- exit {:?}\n{}{}",
        output.status.code(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

fn assert_success(output: &Output, what: &str) {
    assert!(
        output.status.success(),
        "{what} failed ({}):\n{}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn the_crates_io_package_holds_sources_and_docs_and_publish_dry_run_accepts_it() {
    let list = run_as_user("cargo package --list --locked\n", &[]);
    assert_success(&list, "cargo package --list");
    let files: Vec<String> = String::from_utf8_lossy(&list.stdout).lines().map(str::to_string).collect();
    for needed in
        ["Cargo.toml", "Cargo.lock", "README.md", "LICENSE", "src/main.rs", "src/lib.rs", "src/cli.rs", "demo/app.py"]
    {
        assert!(files.iter().any(|f| f == needed), "{needed} is not in the package: {files:?}");
    }
    for file in &files {
        for excluded in
            ["tests/", "editors/", "benches/", "fuzz/", "scripts/", ".ci/", "proptest-regressions/", "target/"]
        {
            assert!(!file.starts_with(excluded), "{file} is in the package");
        }
    }
    eprintln!("package: {} files", files.len());
    // Builds the packaged files (debug) against crates.io's index: what publishing checks.
    let dry_run = run_as_user("cargo publish --dry-run --locked\n", &[]);
    assert_success(&dry_run, "cargo publish --dry-run --locked");
    assert!(String::from_utf8_lossy(&dry_run.stderr).contains("aborting upload due to dry run"), "no dry run?");
}

#[test]
fn cargo_install_as_the_readme_says_then_probe_a_real_ptvsd() {
    let install = support::docs::sh_block_with("README.md", "cargo install --locked --path .");
    let output = run_as_user(&install.text, &[]);
    assert_success(&output, &format!("README's install block ({})", install.origin));
    let home = &scratch().home;
    let installed = home.join(".cargo").join("bin").join("ptvsd-dap");
    assert!(installed.is_file(), "{} is missing after cargo install", installed.display());
    assert!(String::from_utf8_lossy(&output.stdout).contains(concat!("ptvsd-dap ", env!("CARGO_PKG_VERSION"))));

    let extras = support::docs::sh_block_with("README.md", "ptvsd-dap completions bash");
    assert_success(&run_as_user(&extras.text, &[]), &format!("README's completions block ({})", extras.origin));
    let completion = home.join(".local/share/bash-completion/completions/ptvsd-dap");
    let loaded = Command::new("bash")
        .arg("-c")
        .arg(format!("source {} && complete -p ptvsd-dap", completion.display()))
        .output()
        .unwrap();
    assert_success(&loaded, "loading the bash completion");
    for page in ["ptvsd-dap.1", "ptvsd-dap-probe.1", "ptvsd-dap-relay.1", "ptvsd-dap-demo.1"] {
        let text = std::fs::read_to_string(home.join(".local/share/man/man1").join(page)).unwrap();
        assert!(text.starts_with(".ie") || text.contains(".TH"), "{page} is not a man page");
        assert!(text.contains("Exit status"), "{page} does not say the exit status");
    }

    // README: `ptvsd-dap probe tcp://s3cret@127.0.0.1:5678`, on a free port.
    let probe_line = support::docs::commands(&support::docs::sh_block_with("README.md", "$ ptvsd-dap probe tcp://"))
        .into_iter()
        .find(|line| line.starts_with("ptvsd-dap probe tcp://"))
        .unwrap();
    let info = Peers::load().peer("3.11", "3.2.1").clone();
    let peer = PtvsdPeer::start_peer(&info, &support::program("sleeper.py"), PeerOptions::new().secret("s3cret"));
    let line = probe_line.replace(":5678", &format!(":{}", peer.port()));
    let probed = run_as_user(&format!("{line}\n"), &[]);
    assert_success(&probed, &line);
    let stdout = String::from_utf8_lossy(&probed.stdout);
    assert!(stdout.contains(&format!("process id:       {}", peer.pid())), "{stdout}");
    assert!(stdout.contains("protocol:         json (version 8)"), "{stdout}");
    assert!(!stdout.contains("s3cret"), "the secret was printed: {stdout}");
}

/// `node`, or `None` (skip) without it, a panic with `CI=true`.
fn node() -> Option<PathBuf> {
    match Command::new("node").arg("--version").output() {
        Ok(out) if out.status.success() => Some(PathBuf::from("node")),
        result => {
            assert!(!support::is_ci(), "CI=true but node cannot run: {result:?}");
            eprintln!("SKIPPED: node cannot run: {result:?}");
            None
        }
    }
}

#[test]
fn the_vsix_bundles_the_adapter_and_the_extension_uses_it_first() {
    if node().is_none() {
        return;
    }
    let Scratch { checkout, .. } = scratch();
    // As after scripts/setup-test-env.sh in a fresh clone: tests/node/node_modules links to
    // the cached node packages (vsce among them).
    let modules =
        Peers::load().node_modules.clone().expect("peers.json lists no node packages: run scripts/setup-test-env.sh");
    let link = checkout.join("tests/node/node_modules");
    if !link.exists() {
        std::os::unix::fs::symlink(&modules, &link).unwrap();
    }
    let block = support::docs::sh_block_with("README.md", "scripts/package-vsix.sh");
    let package_line =
        support::docs::commands(&block).into_iter().find(|l| l.starts_with("scripts/package-vsix.sh")).unwrap();
    let output = run_as_user(&format!("{package_line}\n"), &[]);
    assert_success(&output, &package_line);
    let vsix = PathBuf::from(String::from_utf8_lossy(&output.stdout).trim().lines().last().unwrap());
    let expected = format!("ptvsd-dap-linux-x64-{}.vsix", env!("CARGO_PKG_VERSION"));
    assert_eq!(vsix.file_name().unwrap().to_string_lossy(), expected);
    assert!(
        block.text.contains(&format!("code --install-extension target/vsix/{expected}")),
        "README installs another file"
    );

    let entries = zip_entries(&vsix);
    let binary = entries
        .iter()
        .find(|e| e.name == "extension/bin/ptvsd-dap")
        .unwrap_or_else(|| panic!("no bin/ptvsd-dap: {entries:?}"));
    assert_eq!(binary.mode & 0o777, 0o755, "bin/ptvsd-dap is not executable in the .vsix");
    let release = std::fs::metadata(target_dir().join("release").join("ptvsd-dap")).unwrap().len();
    assert_eq!(binary.size, release, "bin/ptvsd-dap is not the release binary");
    for needed in [
        "extension/package.json",
        "extension/extension.js",
        "extension/adapter.js",
        "extension/LICENSE.txt",
        "extension.vsixmanifest",
    ] {
        assert!(
            entries.iter().any(|e| e.name.eq_ignore_ascii_case(needed)),
            "{needed} is not in the .vsix: {entries:?}"
        );
    }
    eprintln!(
        "{}: {} KiB, adapter {} KiB",
        vsix.display(),
        std::fs::metadata(&vsix).unwrap().len() / 1024,
        release / 1024
    );

    // The lookup order, with adapter.js from the same checkout.
    let lookup = Command::new("node")
        .arg("--test")
        .arg(support::repo_root().join("tests/node/adapter-lookup.test.mjs"))
        .env("PTVSD_DAP_ADAPTER_JS", checkout.join("editors/vscode/adapter.js"))
        .output()
        .unwrap();
    assert_success(&lookup, "node tests/node/adapter-lookup.test.mjs");
}

#[derive(Debug)]
struct ZipEntry {
    name: String,
    /// Unix mode from the external attributes.
    mode: u32,
    size: u64,
}

/// A zip's central directory: names, Unix modes and uncompressed sizes.
fn zip_entries(path: &Path) -> Vec<ZipEntry> {
    let bytes = std::fs::read(path).unwrap();
    let u16_at = |at: usize| u16::from_le_bytes([bytes[at], bytes[at + 1]]) as usize;
    let u32_at = |at: usize| u32::from_le_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]]);
    let end = (0..=bytes.len().saturating_sub(22))
        .rev()
        .find(|&at| bytes[at..at + 4] == [0x50, 0x4b, 0x05, 0x06])
        .expect("not a zip: no end of central directory");
    let (count, mut at) = (u16_at(end + 10), u32_at(end + 16) as usize);
    let mut entries = Vec::with_capacity(count);
    for _ in 0..count {
        assert_eq!(bytes[at..at + 4], [0x50, 0x4b, 0x01, 0x02], "bad central directory entry");
        let (name_len, extra_len, comment_len) = (u16_at(at + 28), u16_at(at + 30), u16_at(at + 32));
        entries.push(ZipEntry {
            name: String::from_utf8_lossy(&bytes[at + 46..at + 46 + name_len]).into_owned(),
            mode: u32_at(at + 38) >> 16,
            size: u64::from(u32_at(at + 24)),
        });
        at += 46 + name_len + extra_len + comment_len;
    }
    entries
}
