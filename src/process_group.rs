//! Child processes that run in their own process group, so that stopping one stops
//! everything it started: the `launch` request's program and the demo's sample app.
//!
//! Owns: putting a command in a new group, signalling the group, and the stop sequence
//! (SIGTERM to the group, a short grace, then SIGKILL). Must not know: DAP or ptvsd.

use std::process::ExitStatus;
use std::time::Duration;

use tokio::time::Instant;

/// How long a stopped group has between SIGTERM and SIGKILL.
pub const GRACE: Duration = Duration::from_secs(2);

/// Makes the command's process the leader of a new process group (its pid is the
/// group id), so the terminal's Ctrl-C does not reach it and [`stop`] reaches all of it.
pub fn own_group(command: &mut tokio::process::Command) {
    #[cfg(unix)]
    command.process_group(0);
    #[cfg(not(unix))]
    let _ = command;
}

/// Sends `signal` to every process of group `pgid`; false when no process is left
/// (or the id is not a plausible group).
#[cfg(unix)]
#[allow(unsafe_code)]
pub fn signal(pgid: u32, signal: libc::c_int) -> bool {
    let Ok(pgid) = libc::pid_t::try_from(pgid) else { return false };
    if pgid <= 1 {
        return false;
    }
    // SAFETY: killpg(2) has no memory-safety preconditions. The group is led by our own
    // child, and a group id is not reused while any process of the group exists.
    unsafe { libc::killpg(pgid, signal) == 0 }
}

/// Whether any process of the group still exists (zombies included).
#[cfg(unix)]
pub fn alive(pgid: u32) -> bool {
    signal(pgid, 0)
}

/// Sends SIGKILL to the whole group at once (for `Drop`, where nothing can wait).
pub fn kill_now(pgid: u32) {
    #[cfg(unix)]
    signal(pgid, libc::SIGKILL);
    #[cfg(not(unix))]
    let _ = pgid;
}

/// Stops the group led by `child`: SIGTERM to the group, up to `grace` for the leader to
/// exit and the group to empty, then SIGKILL to what is left. Reaps the leader and
/// returns its status (`None` if it could not be waited for).
pub async fn stop(child: &mut tokio::process::Child, pgid: u32, grace: Duration) -> Option<ExitStatus> {
    #[cfg(unix)]
    {
        let deadline = Instant::now() + grace;
        signal(pgid, libc::SIGTERM);
        let status = match tokio::time::timeout_at(deadline, child.wait()).await {
            Ok(status) => status.ok(),
            Err(_) => {
                signal(pgid, libc::SIGKILL);
                return child.wait().await.ok();
            }
        };
        // The leader is gone; give the rest of the group the rest of the grace.
        while alive(pgid) && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        if alive(pgid) {
            signal(pgid, libc::SIGKILL);
        }
        status
    }
    #[cfg(not(unix))]
    {
        let _ = (pgid, grace);
        let _ = child.start_kill();
        child.wait().await.ok()
    }
}

/// `exitCode` for DAP: the code, or 128 + the signal number for a killed process (as a
/// shell reports it).
pub fn exit_code(status: &ExitStatus) -> i64 {
    if let Some(code) = status.code() {
        return i64::from(code);
    }
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        if let Some(signal) = status.signal() {
            return 128 + i64::from(signal);
        }
    }
    -1
}

/// The name of the signal that ended the process, if one did.
pub fn killed_by(status: &ExitStatus) -> Option<String> {
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        status.signal().map(|signal| match signal {
            libc::SIGTERM => "SIGTERM".to_string(),
            libc::SIGKILL => "SIGKILL".to_string(),
            libc::SIGINT => "SIGINT".to_string(),
            libc::SIGSEGV => "SIGSEGV".to_string(),
            libc::SIGABRT => "SIGABRT".to_string(),
            other => format!("signal {other}"),
        })
    }
    #[cfg(not(unix))]
    {
        let _ = status;
        None
    }
}
