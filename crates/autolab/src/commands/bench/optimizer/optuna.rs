//! Optuna's samplers as a child process: `optuna.py` in the venv's python, one JSON request and
//! reply per line; the venv is made (python3 -m venv, pip install optuna) when missing.
//! `bench speed` runs its own driver (with pruners) through the same process and venv code.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};

use serde_json::Value;

use crate::output::CliError;

const OPTUNA_DRIVER: &str = include_str!("optuna.py");

pub(in crate::commands::bench) struct OptunaProcess {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
    _script: tempfile::NamedTempFile,
}

impl OptunaProcess {
    /// Runs `optuna.py` (one JSON line per request and reply).
    pub fn start(python: &Path) -> Result<OptunaProcess, CliError> {
        let driver = OPTUNA_DRIVER;
        let mut script = tempfile::Builder::new()
            .prefix("autolab-bench-optuna-")
            .suffix(".py")
            .tempfile()?;
        script.write_all(driver.as_bytes())?;
        script.flush()?;
        let mut child = Command::new(python)
            .arg(script.path())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()?;
        let (Some(stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
            return Err(CliError::failure("cannot talk to the Optuna driver", None));
        };
        Ok(OptunaProcess {
            child,
            stdin,
            stdout: BufReader::new(stdout),
            _script: script,
        })
    }

    pub fn call(&mut self, request: &Value) -> Result<Value, CliError> {
        writeln!(self.stdin, "{request}")?;
        self.stdin.flush()?;
        let mut line = String::new();
        if self.stdout.read_line(&mut line)? == 0 {
            return Err(CliError::failure(
                "the Optuna driver exited early (its error is above)",
                None,
            ));
        }
        serde_json::from_str(&line)
            .map_err(|e| CliError::failure(format!("bad reply from the Optuna driver: {e}"), None))
    }
}

impl Drop for OptunaProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The venv's python with Optuna importable, creating the venv first if needed; and the
/// installed Optuna version.
pub(in crate::commands::bench) fn optuna_python(
    venv: &Path,
    gp: bool,
) -> Result<(PathBuf, String), CliError> {
    let python = venv.join("bin").join("python");
    let version = |python: &Path| -> Option<String> {
        let out = Command::new(python)
            .args(["-c", "import optuna; print(optuna.__version__)"])
            .stderr(Stdio::null())
            .output()
            .ok()?;
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
    };
    // Optuna's GPSampler needs PyTorch and SciPy (PyTorch's CPU build: the default one
    // brings gigabytes of CUDA libraries).
    let gp_ready = |python: &Path| {
        !gp || Command::new(python)
            .args(["-c", "import torch, scipy"])
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    if let Some(v) = version(&python)
        && gp_ready(&python)
    {
        return Ok((python, v));
    }
    eprintln!(
        "setting up Optuna in {} (python3 -m venv, pip install optuna)…",
        venv.display()
    );
    let step = |cmd: &mut Command, what: &str| -> Result<(), CliError> {
        let ok = cmd.stdin(Stdio::null()).status().map(|s| s.success());
        match ok {
            Ok(true) => Ok(()),
            _ => Err(CliError::failure(
                format!("{what} failed"),
                Some(
                    "Optuna comes from PyPI; pass --venv DIR with optuna installed, or --no-optuna",
                ),
            )),
        }
    };
    if !python.exists() {
        step(
            Command::new("python3").args(["-m", "venv"]).arg(venv),
            "python3 -m venv",
        )?;
    }
    step(
        Command::new(venv.join("bin").join("pip")).args([
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "optuna",
        ]),
        "pip install optuna",
    )?;
    if gp {
        step(
            Command::new(venv.join("bin").join("pip")).args([
                "install",
                "--quiet",
                "--no-cache-dir",
                "--disable-pip-version-check",
                "scipy",
            ]),
            "pip install scipy",
        )?;
        let pip_torch = |extra: &[&str]| {
            Command::new(venv.join("bin").join("pip"))
                .args([
                    "install",
                    "--quiet",
                    "--no-cache-dir",
                    "--disable-pip-version-check",
                    "torch",
                ])
                .args(extra)
                .stdin(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        };
        // PyTorch's own index has the CPU build; PyPI's (with CUDA, ~5 GB) when it is out of
        // reach.
        if !pip_torch(&["--index-url", "https://download.pytorch.org/whl/cpu"]) {
            step(
                Command::new(venv.join("bin").join("pip")).args([
                    "install",
                    "--quiet",
                    "--no-cache-dir",
                    "--disable-pip-version-check",
                    "torch",
                ]),
                "pip install torch",
            )?;
        }
    }
    match version(&python) {
        Some(v) => Ok((python, v)),
        None => Err(CliError::failure(
            "optuna does not import after installing it",
            Some("pass --venv DIR with optuna installed, or --no-optuna"),
        )),
    }
}
