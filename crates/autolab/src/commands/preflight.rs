//! Checks made before anything runs, shared by `doctor`, `run` and `init --probe`.

use std::path::Path;

/// Words a command may start with that the shell itself provides.
const SHELL_WORDS: [&str; 16] = [
    "cd", "exec", "env", "true", "false", "echo", "test", "[", "sh", "bash", ":", "set", "export",
    "if", "(", "{",
];

/// The program a shell command starts, skipping `VAR=value` assignments.
pub fn interpreter(command: &str) -> Option<String> {
    command
        .split_whitespace()
        .find(|w| !w.contains('=') || w.starts_with('-'))
        .map(str::to_string)
}

/// A command whose program cannot be found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MissingProgram {
    pub program: String,
    /// Where it was looked for: `PATH`, or the lab root for a relative path.
    pub looked_in: String,
}

impl MissingProgram {
    pub fn hint(&self) -> String {
        format!(
            "install `{}` (or fix task.command in autolab.toml); `autolab doctor` checks the whole lab",
            self.program
        )
    }
}

/// Whether the lab's command can start here: its program exists (for the local runner; a
/// cluster's nodes have their own `PATH`, which `doctor`'s trivial job checks).
pub fn check_lab_program(
    config: &autolab_core::config::Config,
    root: &Path,
) -> Result<String, MissingProgram> {
    match config.runner.kind {
        autolab_core::config::RunnerKind::Local => check_program(&config.task.command, root),
        _ => Ok(String::new()),
    }
}

/// Whether the program `command` starts exists: on `PATH`, a shell word, or (for a path) a
/// file relative to the lab root. Commands starting with a placeholder are not checked.
pub fn check_program(command: &str, root: &Path) -> Result<String, MissingProgram> {
    let Some(program) = interpreter(command) else {
        return Ok(String::new());
    };
    if SHELL_WORDS.contains(&program.as_str()) || program.contains('{') || program.contains('$') {
        return Ok(program);
    }
    if program.contains('/') {
        let path = Path::new(&program);
        let full = if path.is_absolute() {
            path.to_path_buf()
        } else {
            root.join(path)
        };
        return if full.exists() {
            Ok(program)
        } else {
            Err(MissingProgram {
                looked_in: root.display().to_string(),
                program,
            })
        };
    }
    let on_path = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).any(|d| d.join(&program).is_file()))
        .unwrap_or(false);
    if on_path {
        Ok(program)
    } else {
        Err(MissingProgram {
            program,
            looked_in: "PATH".into(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn assignments_are_skipped_and_the_program_is_found() {
        assert_eq!(interpreter("A=1 B=2 sh run.sh").as_deref(), Some("sh"));
        let root = Path::new("/");
        assert!(check_program("sh run.sh", root).is_ok());
        assert!(check_program("python {run_dir}", root).is_err() || which("python"));
        let missing = check_program("pythn train.py", root).unwrap_err();
        assert_eq!(missing.program, "pythn");
        assert_eq!(missing.looked_in, "PATH");
        assert!(check_program("./nope.sh", root).is_err());
        assert!(check_program("{python} x", root).is_ok());
    }

    fn which(p: &str) -> bool {
        std::env::var_os("PATH")
            .is_some_and(|v| std::env::split_paths(&v).any(|d| d.join(p).is_file()))
    }
}
