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
    pub fn spawn(label: &str, cmd: Command, graceful: bool) -> LoggedChild {
        Self::spawn_inner(label, cmd, graceful, Stdio::null())
    }

    /// The same with `stdin` as the child's standard input (killed on drop, no grace).
    pub fn spawn_with_stdin(label: &str, cmd: Command, stdin: Stdio) -> LoggedChild {
        Self::spawn_inner(label, cmd, false, stdin)
    }

    fn spawn_inner(label: &str, mut cmd: Command, graceful: bool, stdin: Stdio) -> LoggedChild {
        let dir =
            tempfile::Builder::new().prefix("ptvsd-dap-test-").tempdir().expect("create temp dir for a child's log");
        let log = dir.path().join("output.log");
        let out = File::create(&log).expect("create log file");
        let err = out.try_clone().expect("clone log file handle");
        cmd.stdin(stdin).stdout(out).stderr(err);
        let child = cmd.spawn().unwrap_or_else(|e| panic!("{label}: cannot spawn {cmd:?}: {e}"));
        LoggedChild { label: label.to_owned(), child, log, graceful, reaped: None, _dir: dir }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn log_path(&self) -> &Path {
        &self.log
    }

    /// Everything the process printed so far (stdout and stderr interleaved).
    pub fn output(&self) -> String {
        std::fs::read(&self.log).map(|b| String::from_utf8_lossy(&b).into_owned()).unwrap_or_default()
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
        self.wait_for_output_or_explain(needle, timeout, String::new)
    }

    /// [`Self::wait_for_output`], with `explain()` (e.g. the adapter's log) in the failure.
    pub fn wait_for_output_or_explain(
        &mut self,
        needle: &str,
        timeout: Duration,
        explain: impl Fn() -> String,
    ) -> String {
        let start = Instant::now();
        loop {
            let out = self.output();
            if out.contains(needle) {
                return out;
            }
            if let Some(status) = self.exited() {
                panic!("{}: exited ({status}) without printing {needle:?}; output:\n{out}\n{}", self.label, explain());
            }
            if start.elapsed() > timeout {
                panic!("{}: {needle:?} not printed within {timeout:?}; output:\n{out}\n{}", self.label, explain());
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
        // A process that ended on its own (a crash, say) is worth saying in a failure.
        let ended = self.exited().map(|status| format!(", ended on its own: {status}")).unwrap_or_default();
        self.kill();
        if std::thread::panicking() {
            eprintln!(
                "----- {} (pid {}{ended}) output -----\n{}\n----- end of {} output -----",
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

/// How busy a process was over a window.
#[derive(Debug, Clone, Copy)]
pub struct Activity {
    /// CPU seconds (user + system) per second of the window.
    pub cpu_per_second: f64,
    /// The share of samples (every 20 ms) in which one of its threads was running or
    /// runnable (state `R`): about 1 for a thread that spins, however loaded the machine
    /// is (a spinning thread waiting for a core is still `R`), about 0 for an idle app.
    pub runnable: f64,
}

/// Samples `/proc/PID` over `window`: CPU time from `stat`, thread states from `task/*/stat`.
pub fn activity(pid: u32, window: Duration) -> Activity {
    let cpu_ticks = || -> f64 {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        let fields: Vec<&str> =
            stat.rsplit_once(')').map(|(_, rest)| rest.split_whitespace().collect()).unwrap_or_default();
        let field = |i: usize| fields.get(i).and_then(|f| f.parse::<f64>().ok()).unwrap_or(0.0);
        field(11) + field(12)
    };
    let any_runnable = || -> bool {
        let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else { return false };
        tasks.flatten().any(|task| {
            let stat = std::fs::read_to_string(task.path().join("stat")).unwrap_or_default();
            stat.rsplit_once(')').and_then(|(_, rest)| rest.split_whitespace().next()).is_some_and(|state| state == "R")
        })
    };
    let start = Instant::now();
    let before = cpu_ticks();
    let (mut samples, mut runnable) = (0u32, 0u32);
    while start.elapsed() < window {
        samples += 1;
        if any_runnable() {
            runnable += 1;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    #[allow(unsafe_code)]
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
    Activity {
        cpu_per_second: (cpu_ticks() - before) / hz / start.elapsed().as_secs_f64(),
        runnable: f64::from(runnable) / f64::from(samples.max(1)),
    }
}

/// CPU time `pid` has used so far (user + system), in clock ticks (USER_HZ, 100 a second
/// on Linux), from `/proc/PID/stat`. Compare two readings over a window to tell an idle
/// process from a spinning one (a spinning thread adds about 100 ticks a second).
pub fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .unwrap_or_else(|e| panic!("cannot read /proc/{pid}/stat: {e}"));
    // The command name (field 2) may contain spaces; the fields after it do not.
    let after_name = &stat[stat.rfind(')').expect("a /proc stat line") + 2..];
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after the name.
    fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap()
}

/// Ticks `pid` uses over `window` (see [`cpu_ticks`]).
pub fn cpu_ticks_over(pid: u32, window: Duration) -> u64 {
    let before = cpu_ticks(pid);
    std::thread::sleep(window);
    cpu_ticks(pid).saturating_sub(before)
}
