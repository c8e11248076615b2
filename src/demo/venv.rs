//! The demo's Python: one that has ptvsd 2.x/3.x, made if needed.
//!
//! Owns: finding an interpreter that can run ptvsd 2.x/3.x (CPython 3.6–3.11: on PATH as
//! `python3.11` … `python3.6`, then pyenv's `~/.pyenv/versions/3.{11..6}.*`, then `python3`
//! if older than 3.12), and the private venv with `ptvsd==3.2.1` from PyPI that the demo
//! caches under `$XDG_CACHE_HOME/ptvsd-dap/demo-venv-X.Y` (or `~/.cache/…`). A venv is
//! built under a temporary name and renamed when complete, so an interrupted install is
//! never reused.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use crate::python::{self, PythonInfo};

/// The ptvsd the demo installs.
pub const PTVSD_PIN: &str = "ptvsd==3.2.1";
/// How long `python -m venv` and `pip install` may take.
const INSTALL_TIMEOUT: Duration = Duration::from_secs(300);

/// The interpreter the demo runs the sample app with.
#[derive(Debug, Clone)]
pub struct DemoPython {
    pub python: PathBuf,
    pub info: PythonInfo,
    /// The ptvsd version it has.
    pub ptvsd: String,
    /// The cached venv it lives in, which the demo keeps for next time.
    pub cached_venv: Option<PathBuf>,
}

/// Where the cached venvs live.
pub fn cache_dir() -> Option<PathBuf> {
    let from_xdg =
        std::env::var_os("XDG_CACHE_HOME").filter(|v| !v.is_empty()).map(PathBuf::from).filter(|p| p.is_absolute());
    from_xdg
        .or_else(|| std::env::var_os("HOME").filter(|v| !v.is_empty()).map(|home| PathBuf::from(home).join(".cache")))
        .map(|dir| dir.join("ptvsd-dap"))
}

/// `venv/bin/python` (`venv\Scripts\python.exe` on Windows).
pub fn venv_python(venv: &Path) -> PathBuf {
    if cfg!(windows) {
        venv.join("Scripts").join("python.exe")
    } else {
        venv.join("bin").join("python")
    }
}

/// Interpreters worth trying, best first.
fn candidates() -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = Vec::new();
    for minor in (6..=11).rev() {
        if let Some(path) = python::which(&format!("python3.{minor}")) {
            found.push(path);
        }
    }
    let pyenv_root = std::env::var_os("PYENV_ROOT")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".pyenv")));
    if let Some(versions) = pyenv_root.map(|root| root.join("versions")) {
        let mut installed: Vec<((u32, u32), PathBuf)> = std::fs::read_dir(&versions)
            .map(|dir| {
                dir.flatten()
                    .filter_map(|entry| {
                        let name = entry.file_name().to_string_lossy().into_owned();
                        let mut parts = name.split('.').map(|p| p.parse::<u32>().ok());
                        match (parts.next(), parts.next(), parts.next(), parts.next()) {
                            (Some(Some(3)), Some(Some(minor)), Some(Some(patch)), None)
                                if (6..=11).contains(&minor) =>
                            {
                                Some(((minor, patch), entry.path().join("bin").join("python3")))
                            }
                            _ => None,
                        }
                    })
                    .collect()
            })
            .unwrap_or_default();
        installed.sort_by_key(|(version, _)| std::cmp::Reverse(*version));
        found.extend(installed.into_iter().map(|(_, path)| path).filter(|p| p.is_file()));
    }
    if let Some(path) = python::which("python3") {
        found.push(path);
    }
    let mut unique = Vec::new();
    for path in found {
        if !unique.contains(&path) {
            unique.push(path);
        }
    }
    unique
}

/// The first candidate that runs and is CPython 3.6–3.11.
async fn find_base(say: &mut impl FnMut(&str)) -> Result<(PathBuf, PythonInfo), String> {
    for candidate in candidates() {
        match python::probe(&candidate.to_string_lossy(), &[], None).await {
            Ok(info) if info.version.0 == 3 && (6..=11).contains(&info.version.1) => return Ok((candidate, info)),
            Ok(info) => {
                tracing::debug!(python = %candidate.display(), version = %info.version_text(), "not usable for ptvsd 2.x/3.x")
            }
            Err(error) => tracing::debug!(%error, "skipping"),
        }
    }
    say("  no CPython 3.6–3.11 among python3.11 … python3.6, ~/.pyenv/versions/3.*, python3");
    Err("no suitable Python found: ptvsd 2.x/3.x needs CPython 3.6–3.11 (3.12 removed `imp`); install one (e.g. `pyenv install 3.11`) or name it with --python PATH".to_string())
}

/// Picks the demo's interpreter, creating the cached venv if needed. `say` prints one
/// progress line.
pub async fn prepare(
    python: Option<&Path>,
    venv: Option<&Path>,
    say: &mut impl FnMut(&str),
) -> Result<DemoPython, String> {
    // An explicit venv that already exists: use it (installing ptvsd if it lacks it).
    if let Some(venv) = venv.filter(|v| venv_python(v).exists()) {
        return use_or_fill(venv, say).await;
    }
    let (base, info) = match python {
        Some(path) => {
            let shown = path.display().to_string();
            let info = python::probe(&path.to_string_lossy(), &[], None)
                .await
                .map_err(|e| format!("{e}; --python must name a CPython 3.6–3.11 interpreter"))?;
            if venv.is_none() {
                if let Some(ptvsd) = info.legacy_ptvsd().filter(|_| info.can_run_legacy_ptvsd()) {
                    // It has ptvsd already (e.g. a venv's python): no venv needed.
                    return Ok(DemoPython {
                        python: path.to_path_buf(),
                        ptvsd: ptvsd.to_string(),
                        info,
                        cached_venv: None,
                    });
                }
            }
            if !info.can_run_legacy_ptvsd() {
                return Err(format!("ptvsd 2.x/3.x cannot run on Python {} (it imports `imp`, which Python 3.12 removed); choose python3.11 or older with --python", info.version_text()));
            }
            if info.version.0 == 2 {
                return Err(format!("{shown} is Python 2, which has no `venv` module: pass --venv PATH of a virtualenv that has ptvsd 2.x/3.x, or choose a Python 3.6–3.11 with --python"));
            }
            (path.to_path_buf(), info)
        }
        None => find_base(say).await?,
    };
    let (target, cached) = match venv {
        Some(venv) => (venv.to_path_buf(), false),
        None => {
            let cache = cache_dir()
                .ok_or("cannot find a cache directory (neither $XDG_CACHE_HOME nor $HOME is set): pass --venv PATH")?;
            (cache.join(format!("demo-venv-{}.{}", info.version.0, info.version.1)), true)
        }
    };
    let cached_venv = cached.then(|| target.clone());
    if venv_python(&target).exists() {
        if let Ok(found) = check(&venv_python(&target)).await {
            say(&format!(
                "✔ using the cached venv {} (Python {}, ptvsd {})",
                target.display(),
                found.info.version_text(),
                found.ptvsd
            ));
            return Ok(DemoPython { cached_venv, ..found });
        }
        say(&format!("  the cached venv {} is incomplete; making it again", target.display()));
    }
    let found = create(&base, &info, &target, say).await?;
    Ok(DemoPython { cached_venv, ..found })
}

/// An existing venv: check it, installing ptvsd if it is missing.
async fn use_or_fill(venv: &Path, say: &mut impl FnMut(&str)) -> Result<DemoPython, String> {
    let python = venv_python(venv);
    let info = python::probe(&python.to_string_lossy(), &[], None).await.map_err(|e| e.to_string())?;
    if let Some(ptvsd) = info.legacy_ptvsd().filter(|_| info.can_run_legacy_ptvsd()) {
        say(&format!("✔ using {} (Python {}, ptvsd {ptvsd})", venv.display(), info.version_text()));
        return Ok(DemoPython { python, ptvsd: ptvsd.to_string(), info, cached_venv: None });
    }
    if !info.can_run_legacy_ptvsd() {
        return Err(info
            .check_ptvsd("--python")
            .err()
            .unwrap_or_else(|| "this Python cannot run ptvsd 2.x/3.x".to_string()));
    }
    say(&format!("  {} has no ptvsd 2.x/3.x: installing {PTVSD_PIN} from PyPI into it…", venv.display()));
    pip_install(&python, venv).await?;
    check(&python).await
}

/// The interpreter, if it has a usable ptvsd.
async fn check(python: &Path) -> Result<DemoPython, String> {
    let info = python::probe(&python.to_string_lossy(), &[], None).await.map_err(|e| e.to_string())?;
    let ptvsd = info.check_ptvsd("--python")?;
    Ok(DemoPython { python: python.to_path_buf(), ptvsd, info, cached_venv: None })
}

async fn create(
    base: &Path,
    info: &PythonInfo,
    target: &Path,
    say: &mut impl FnMut(&str),
) -> Result<DemoPython, String> {
    let parent = target.parent().ok_or("the venv path has no parent directory")?;
    std::fs::create_dir_all(parent).map_err(|e| format!("cannot create {}: {e}", parent.display()))?;
    let name = target.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "venv".to_string());
    let building = parent.join(format!(".{name}.partial-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&building);
    say(&format!(
        "  creating a private venv with {PTVSD_PIN} from PyPI in {} (once; about 10 s), with {} (Python {})…",
        target.display(),
        if info.executable.is_file() { info.executable.display() } else { base.display() },
        info.version_text()
    ));
    // Removed if this is interrupted or fails; disarmed by the rename.
    let mut partial = Partial(Some(building.clone()));
    let result = async {
        run(base, &["-m", "venv", &building.to_string_lossy()], "python -m venv").await.map_err(|e| {
            format!("{e} (on Debian and Ubuntu: apt install python{}.{}-venv)", info.version.0, info.version.1)
        })?;
        pip_install(&venv_python(&building), &building).await?;
        if target.exists() {
            std::fs::remove_dir_all(target).map_err(|e| format!("cannot replace {}: {e}", target.display()))?;
        }
        std::fs::rename(&building, target)
            .map_err(|e| format!("cannot move the new venv to {}: {e}", target.display()))?;
        check(&venv_python(target)).await
    }
    .await;
    if result.is_ok() {
        partial.0 = None;
    }
    drop(partial);
    let found = result?;
    say(&format!("✔ created {} (Python {}, ptvsd {})", target.display(), found.info.version_text(), found.ptvsd));
    Ok(found)
}

/// A half-built venv, removed on drop.
struct Partial(Option<PathBuf>);

impl Drop for Partial {
    fn drop(&mut self) {
        if let Some(dir) = self.0.take() {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

async fn pip_install(python: &Path, venv: &Path) -> Result<(), String> {
    run(python, &["-m", "pip", "install", "--disable-pip-version-check", "--no-input", "--quiet", PTVSD_PIN], "pip install")
        .await
        .map_err(|e| format!("could not install {PTVSD_PIN} into {}: {e}; check the network (PyPI), or pass --venv PATH of an environment that has ptvsd 2.x/3.x", venv.display()))
}

/// Runs a command to completion; on failure, the last line it printed.
async fn run(program: &Path, args: &[&str], what: &str) -> Result<(), String> {
    let mut command = tokio::process::Command::new(program);
    command.args(args).stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped()).kill_on_drop(true);
    let child = command.spawn().map_err(|e| format!("cannot run {}: {e}", program.display()))?;
    let output = match tokio::time::timeout(INSTALL_TIMEOUT, child.wait_with_output()).await {
        Ok(Ok(output)) => output,
        Ok(Err(error)) => return Err(format!("{what} failed: {error}")),
        Err(_) => return Err(format!("{what} did not finish within {} s", INSTALL_TIMEOUT.as_secs())),
    };
    if output.status.success() {
        return Ok(());
    }
    let text = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    let last = text.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or("no output").trim().to_string();
    Err(format!("{what} failed ({last})"))
}
