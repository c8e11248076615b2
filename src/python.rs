//! Asking a Python interpreter who it is and whether it can run ptvsd 2.x/3.x.
//!
//! Owns: [`probe`] (runs `python -c …` once, with a deadline) and the sentences for the
//! three ways an interpreter can be unsuitable: it does not run, it is 3.12+ (ptvsd
//! 2.x/3.x `import imp`), or ptvsd is missing (or is 4+, which speaks DAP itself).
//! Used by `launch` and by `ptvsd-dap demo`. Must not know: DAP or the wire protocol.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

/// How long an interpreter may take to start and import ptvsd.
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(30);

/// Prints the version, `sys.executable`, then `ptvsd VERSION` or `error TYPE: MESSAGE`
/// (nothing on 3.12+, where importing ptvsd 2.x/3.x fails anyway). Python 2.7 to 3.13.
const PROBE_SCRIPT: &str = r#"import sys
v = sys.version_info
sys.stdout.write("%d.%d.%d\n%s\n" % (v[0], v[1], v[2], sys.executable))
if tuple(v[:2]) < (3, 12):
    try:
        import ptvsd
        ver = getattr(ptvsd, "__version__", None) or getattr(getattr(ptvsd, "attach_server", None), "PTVS_VER", None) or "?"
        sys.stdout.write("ptvsd %s\n" % (ver,))
    except Exception as e:
        sys.stdout.write("error %s: %s\n" % (type(e).__name__, str(e).replace("\n", " ")))
"#;

/// What an interpreter said about itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PythonInfo {
    /// `(3, 11, 7)`.
    pub version: (u32, u32, u32),
    /// `sys.executable` (shims and symlinks resolved by Python itself).
    pub executable: PathBuf,
    /// `Ok(version)` when `import ptvsd` works, `Err(reason)` when it does not, `None`
    /// when it was not tried (3.12+).
    pub ptvsd: Option<Result<String, String>>,
}

impl PythonInfo {
    /// `3.11.7`.
    pub fn version_text(&self) -> String {
        let (major, minor, micro) = self.version;
        format!("{major}.{minor}.{micro}")
    }

    /// The ptvsd version if it is a 2.x/3.x one that ptvsd-dap speaks to.
    pub fn legacy_ptvsd(&self) -> Option<&str> {
        match &self.ptvsd {
            Some(Ok(version)) if version.starts_with("2.") || version.starts_with("3.") => Some(version.as_str()),
            _ => None,
        }
    }

    /// Whether ptvsd 2.x/3.x can run on this interpreter at all (CPython 2.7 … 3.11).
    pub fn can_run_legacy_ptvsd(&self) -> bool {
        let (major, minor, _) = self.version;
        major == 2 || (major == 3 && minor <= 11)
    }

    /// `Ok(ptvsd version)`, or the one sentence that says why this interpreter cannot
    /// run ptvsd 2.x/3.x and what to do. `attribute` names how the user picks another
    /// Python (`the \`python\` attribute`, `--python`).
    pub fn check_ptvsd(&self, attribute: &str) -> Result<String, String> {
        if !self.can_run_legacy_ptvsd() {
            return Err(format!(
                "ptvsd 2.x/3.x cannot run on Python {} (it imports `imp`, which Python 3.12 removed); choose python3.11 or older with {attribute}",
                self.version_text()
            ));
        }
        let exe = self.executable.display();
        match &self.ptvsd {
            Some(Ok(version)) if self.legacy_ptvsd().is_some() => Ok(version.clone()),
            Some(Ok(version)) => Err(format!(
                "{exe} has ptvsd {version}, which speaks DAP itself; ptvsd-dap is for ptvsd 2.x/3.x: {exe} -m pip install 'ptvsd<4', or choose another Python with {attribute}"
            )),
            Some(Err(reason)) if reason.starts_with("ModuleNotFoundError") || reason.starts_with("ImportError: No module named") => Err(format!(
                "ptvsd is not installed for {exe}: pip install 'ptvsd<4' (`{exe} -m pip install 'ptvsd<4'`), or choose another Python with {attribute}"
            )),
            Some(Err(reason)) => Err(format!("ptvsd cannot be imported by {exe} ({reason}): reinstall it with `{exe} -m pip install 'ptvsd<4'`, or choose another Python with {attribute}")),
            None => Err(format!("could not check whether {exe} has ptvsd")),
        }
    }
}

/// Why an interpreter could not be asked.
#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    #[error("cannot find the Python interpreter `{0}` (not a file, and not on PATH)")]
    NotFound(String),
    #[error("cannot run the Python interpreter `{python}`: {source}")]
    Spawn { python: String, source: std::io::Error },
    #[error("`{python}` did not answer within {} s", PROBE_TIMEOUT.as_secs())]
    Timeout { python: String },
    #[error("`{python}` does not behave like a Python interpreter ({detail})")]
    NotPython { python: String, detail: String },
}

/// Runs `python -c PROBE_SCRIPT` with the given environment changes and working
/// directory (the same ones the program will get, so PATH lookups agree).
pub async fn probe(
    python: &str,
    env: &[(String, Option<String>)],
    cwd: Option<&Path>,
) -> Result<PythonInfo, ProbeError> {
    let mut command = tokio::process::Command::new(python);
    command
        .arg("-c")
        .arg(PROBE_SCRIPT)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    apply_env(&mut command, env);
    if let Some(cwd) = cwd {
        command.current_dir(cwd);
    }
    let child = command.spawn().map_err(|source| match source.kind() {
        std::io::ErrorKind::NotFound => ProbeError::NotFound(python.to_string()),
        _ => ProbeError::Spawn { python: python.to_string(), source },
    })?;
    let output = match tokio::time::timeout(PROBE_TIMEOUT, child.wait_with_output()).await {
        Ok(Ok(output)) => output,
        Ok(Err(source)) => return Err(ProbeError::Spawn { python: python.to_string(), source }),
        Err(_) => return Err(ProbeError::Timeout { python: python.to_string() }),
    };
    let stdout = String::from_utf8_lossy(&output.stdout);
    parse_probe(&stdout).ok_or_else(|| {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let detail = stderr
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("no version on its output")
            .trim()
            .to_string();
        ProbeError::NotPython { python: python.to_string(), detail }
    })
}

fn parse_probe(stdout: &str) -> Option<PythonInfo> {
    let mut lines = stdout.lines();
    let mut numbers = lines.next()?.trim().split('.').map(|n| n.parse::<u32>().ok());
    let version = (numbers.next()??, numbers.next()??, numbers.next()??);
    let executable = PathBuf::from(lines.next()?.trim());
    let ptvsd = lines.next().map(|line| match line.strip_prefix("ptvsd ") {
        Some(version) => Ok(version.trim().to_string()),
        None => Err(line.strip_prefix("error ").unwrap_or(line).trim().to_string()),
    });
    Some(PythonInfo { version, executable, ptvsd })
}

/// Applies environment changes: `Some` sets, `None` removes.
pub fn apply_env(command: &mut tokio::process::Command, env: &[(String, Option<String>)]) {
    for (key, value) in env {
        match value {
            Some(value) => command.env(key, value),
            None => command.env_remove(key),
        };
    }
}

/// Finds `name` on PATH (or returns it if it is a path to an existing file).
pub fn which(name: &str) -> Option<PathBuf> {
    let path = Path::new(name);
    if path.components().count() > 1 {
        return path.is_file().then(|| path.to_path_buf());
    }
    let paths: OsString = std::env::var_os("PATH")?;
    std::env::split_paths(&paths).map(|dir| dir.join(name)).find(|candidate| is_executable(candidate))
}

fn is_executable(path: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        path.metadata().is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    }
    #[cfg(not(unix))]
    {
        path.is_file()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn info(version: (u32, u32, u32), ptvsd: Option<Result<&str, &str>>) -> PythonInfo {
        PythonInfo {
            version,
            executable: PathBuf::from("/usr/bin/python3"),
            ptvsd: ptvsd.map(|r| r.map(str::to_string).map_err(str::to_string)),
        }
    }

    #[test]
    fn parses_the_probe_output() {
        let parsed = parse_probe("3.11.7\n/usr/bin/python3.11\nptvsd 3.2.1.0\n").unwrap();
        assert_eq!(parsed.version, (3, 11, 7));
        assert_eq!(parsed.legacy_ptvsd(), Some("3.2.1.0"));
        let missing = parse_probe("2.7.18\n/usr/bin/python2\nerror ImportError: No module named ptvsd\n").unwrap();
        assert_eq!(missing.ptvsd, Some(Err("ImportError: No module named ptvsd".to_string())));
        assert_eq!(parse_probe("3.12.1\n/x/python\n").unwrap().ptvsd, None);
        assert!(parse_probe("Python 3.11\n").is_none());
        assert!(parse_probe("").is_none());
    }

    #[test]
    fn the_sentences() {
        let new = info((3, 12, 1), None).check_ptvsd("the `python` attribute").unwrap_err();
        assert!(new.starts_with("ptvsd 2.x/3.x cannot run on Python 3.12.1 (it imports `imp`"), "{new}");
        assert!(new.ends_with("choose python3.11 or older with the `python` attribute"), "{new}");
        let missing = info((3, 11, 7), Some(Err("ModuleNotFoundError: No module named 'ptvsd'")))
            .check_ptvsd("--python")
            .unwrap_err();
        assert!(missing.starts_with("ptvsd is not installed for /usr/bin/python3: pip install 'ptvsd<4'"), "{missing}");
        let modern = info((3, 11, 7), Some(Ok("4.3.2"))).check_ptvsd("--python").unwrap_err();
        assert!(modern.contains("ptvsd 4.3.2, which speaks DAP itself"), "{modern}");
        assert_eq!(info((2, 7, 18), Some(Ok("2.2"))).check_ptvsd("x").unwrap(), "2.2");
    }
}
