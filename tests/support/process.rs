//! A child process whose stdout and stderr go to a log file, killed on drop.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

pub struct LoggedChild {
    label: String,
    child: Child,
    log: PathBuf,
    /// SIGTERM first (and wait a little) before SIGKILL.
    graceful: bool,
    reaped: Option<ExitStatus>,
    _dir: tempfile::TempDir,
}

impl LoggedChild {
    /// Spawns `cmd` with stdin closed and stdout+stderr appended to one log file in a
    /// fresh temporary directory.
    pub fn spawn(label: &str, mut cmd: Command, graceful: bool) -> LoggedChild {
        let dir = tempfile::Builder::new()
            .prefix("ptvsd-dap-test-")
            .tempdir()
            .expect("create temp dir for a child's log");
        let log = dir.path().join("output.log");
        let out = File::create(&log).expect("create log file");
        let err = out.try_clone().expect("clone log file handle");
        cmd.stdin(Stdio::null()).stdout(out).stderr(err);
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("{label}: cannot spawn {cmd:?}: {e}"));
        LoggedChild {
            label: label.to_owned(),
            child,
            log,
            graceful,
            reaped: None,
            _dir: dir,
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn log_path(&self) -> &Path {
        &self.log
    }

    /// Everything the process printed so far (stdout and stderr interleaved).
    pub fn output(&self) -> String {
        std::fs::read(&self.log)
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default()
    }

    /// `Some(status)` once the process has exited.
    pub fn exited(&mut self) -> Option<ExitStatus> {
        if self.reaped.is_none() {
            self.reaped = self.child.try_wait().expect("try_wait");
        }
        self.reaped
    }

    /// Waits up to `timeout` for `needle` to appear in the output; returns the output.
    pub fn wait_for_output(&mut self, needle: &str, timeout: Duration) -> String {
        let start = Instant::now();
        loop {
            let out = self.output();
            if out.contains(needle) {
                return out;
            }
            if let Some(status) = self.exited() {
                panic!(
                    "{}: exited ({status}) without printing {needle:?}; output:\n{out}",
                    self.label
                );
            }
            if start.elapsed() > timeout {
                panic!(
                    "{}: {needle:?} not printed within {timeout:?}; output:\n{out}",
                    self.label
                );
            }
            std::thread::sleep(Duration::from_millis(25));
        }
    }

    /// Stops the process (SIGTERM and a short grace period first when `graceful`,
    /// then SIGKILL) and reaps it.
    pub fn kill(&mut self) {
        if self.exited().is_some() {
            return;
        }
        if self.graceful {
            signal(self.pid(), libc::SIGTERM);
            let start = Instant::now();
            while start.elapsed() < Duration::from_secs(2) {
                if self.exited().is_some() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        let _ = self.child.kill();
        self.reaped = self.child.wait().ok();
    }
}

impl Drop for LoggedChild {
    fn drop(&mut self) {
        self.kill();
        if std::thread::panicking() {
            eprintln!(
                "----- {} (pid {}) output -----\n{}\n----- end of {} output -----",
                self.label,
                self.child.id(),
                self.output(),
                self.label
            );
        }
    }
}

#[allow(unsafe_code)]
fn signal(pid: u32, sig: libc::c_int) {
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return;
    };
    // SAFETY: kill(2) has no memory-safety preconditions; `pid` is our own child, not
    // yet reaped, so the pid cannot have been reused.
    unsafe {
        libc::kill(pid, sig);
    }
}
