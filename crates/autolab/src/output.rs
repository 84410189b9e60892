//! Errors as `error:` + `Caused by:` + `hint:` on stderr, exit codes, and logging setup.

use std::io::IsTerminal;
use std::process::ExitCode;

use autolab_engine::EngineError;

/// What a command failed with: the error, its exit code and an optional hint.
#[derive(Debug)]
pub struct CliError {
    pub error: anyhow::Error,
    pub code: u8,
    pub hint: Option<String>,
}

impl CliError {
    pub fn usage(message: impl Into<String>, hint: Option<&str>) -> CliError {
        CliError {
            error: anyhow::anyhow!(message.into()),
            code: 2,
            hint: hint.map(str::to_string),
        }
    }

    pub fn failure(message: impl Into<String>, hint: Option<&str>) -> CliError {
        CliError {
            error: anyhow::anyhow!(message.into()),
            code: 1,
            hint: hint.map(str::to_string),
        }
    }
}

/// One line for places that are not a terminal (the dashboard's error pages): the error with
/// its causes, then the hint.
impl std::fmt::Display for CliError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:#}", self.error)?;
        if let Some(h) = &self.hint {
            write!(f, " ({h})")?;
        }
        Ok(())
    }
}

impl From<EngineError> for CliError {
    fn from(e: EngineError) -> CliError {
        let code = if crate::hints::is_usage(&e) { 2 } else { 1 };
        let mut hint = crate::hints::hint(&e);
        if let EngineError::BaselineFailed { log: Some(log), .. } = &e {
            let tail: Vec<&str> = log
                .lines()
                .rev()
                .take(15)
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .collect();
            hint = Some(format!(
                "{}\nlast lines of its output:\n{}",
                hint.unwrap_or_default(),
                tail.join("\n")
            ));
        }
        CliError {
            error: anyhow::Error::new(e),
            code,
            hint,
        }
    }
}

impl From<autolab_core::config::ConfigError> for CliError {
    fn from(e: autolab_core::config::ConfigError) -> CliError {
        EngineError::from(e).into()
    }
}

impl From<autolab_core::ledger::LedgerError> for CliError {
    fn from(e: autolab_core::ledger::LedgerError) -> CliError {
        EngineError::from(e).into()
    }
}

impl From<autolab_core::git::GitError> for CliError {
    fn from(e: autolab_core::git::GitError) -> CliError {
        EngineError::from(e).into()
    }
}

impl From<std::io::Error> for CliError {
    fn from(e: std::io::Error) -> CliError {
        CliError {
            error: e.into(),
            code: 1,
            hint: None,
        }
    }
}

impl From<anyhow::Error> for CliError {
    fn from(e: anyhow::Error) -> CliError {
        CliError {
            error: e,
            code: 1,
            hint: None,
        }
    }
}

pub fn report_error(e: &CliError) -> ExitCode {
    let color = use_color();
    let (red, bold, reset) = if color {
        ("\x1b[31;1m", "\x1b[1m", "\x1b[0m")
    } else {
        ("", "", "")
    };
    eprintln!("{red}error{reset}: {}", e.error);
    let mut source = e.error.source();
    let mut first = true;
    while let Some(s) = source {
        if first {
            eprintln!("  Caused by:");
            first = false;
        }
        eprintln!("    {s}");
        source = s.source();
    }
    if let Some(h) = &e.hint {
        eprintln!("{bold}hint{reset}: {h}");
    }
    ExitCode::from(e.code)
}

pub fn use_color() -> bool {
    std::env::var_os("NO_COLOR").is_none() && std::io::stderr().is_terminal()
}

pub fn init_logging(verbose: u8) {
    let level = match verbose {
        0 => "warn",
        1 => "info",
        _ => "debug",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("AUTOLAB_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(use_color())
        .try_init();
}
