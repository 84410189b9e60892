//! Where scheduler commands run: this host, or a login node through the system `ssh` with one
//! multiplexed connection (`ControlMaster=auto`, `ControlPersist=60`). A dropped connection
//! (ssh's exit status 255) is retried once. Code travels as a `git bundle` copied with `scp`.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};

use super::shell_quote;

pub(crate) struct Shell {
    ssh: Option<Ssh>,
}

struct Ssh {
    target: String,
    args: Vec<String>,
    control_dir: PathBuf,
}

/// The experiment's name on the remote: its worktree directory's name.
pub(crate) fn experiment_name(workdir: &Path) -> String {
    sanitize(
        &workdir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "worktree".into()),
    )
}

/// A run's directory name on the remote: the last two components of its local run dir.
pub(crate) fn run_name(run_dir: &Path) -> String {
    let parts: Vec<String> = run_dir
        .components()
        .rev()
        .take(2)
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    sanitize(&parts.into_iter().rev().collect::<Vec<_>>().join("-"))
}

fn sanitize(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect()
}

fn run(mut cmd: Command, stdin: Option<&[u8]>) -> std::io::Result<Output> {
    cmd.stdin(if stdin.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    })
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    let mut child = cmd.spawn()?;
    if let (Some(data), Some(mut pipe)) = (stdin, child.stdin.take()) {
        pipe.write_all(data)?;
    }
    child.wait_with_output()
}

impl Shell {
    pub(crate) fn local() -> Self {
        Shell { ssh: None }
    }

    pub(crate) fn remote(target: &str, args: &[String]) -> std::io::Result<Self> {
        use std::os::unix::fs::DirBuilderExt;
        static N: AtomicU64 = AtomicU64::new(0);
        let control_dir = std::env::temp_dir().join(format!(
            "autolab-ssh-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        ));
        std::fs::DirBuilder::new()
            .mode(0o700)
            .recursive(true)
            .create(&control_dir)?;
        Ok(Shell {
            ssh: Some(Ssh {
                target: target.to_string(),
                args: args.to_vec(),
                control_dir,
            }),
        })
    }

    /// Runs `argv` (on the remote host with ssh), feeding `stdin`.
    pub(crate) fn exec(&self, argv: &[String], stdin: Option<&[u8]>) -> std::io::Result<Output> {
        let Some(ssh) = &self.ssh else {
            let (program, args) = argv
                .split_first()
                .ok_or_else(|| std::io::Error::other("empty command"))?;
            let mut cmd = Command::new(program);
            cmd.args(args);
            return run(cmd, stdin);
        };
        let remote = argv
            .iter()
            .map(|a| shell_quote(a))
            .collect::<Vec<_>>()
            .join(" ");
        let mut last = None;
        for _ in 0..2 {
            let mut cmd = Command::new("ssh");
            cmd.args(&ssh.args)
                .args(ssh.options())
                .arg(&ssh.target)
                .arg(&remote);
            let out = run(cmd, stdin)?;
            if out.status.code() != Some(255) {
                return Ok(out);
            }
            last = Some(out);
        }
        last.ok_or_else(|| std::io::Error::other("ssh did not run"))
    }

    fn exec_ok(&self, argv: &[String], stdin: Option<&[u8]>) -> std::io::Result<()> {
        let out = self.exec(argv, stdin)?;
        if out.status.success() {
            Ok(())
        } else {
            Err(std::io::Error::other(format!(
                "`{}` failed ({}): {}",
                argv.join(" "),
                out.status,
                super::output_text(&out)
            )))
        }
    }

    fn scp(&self, from: &str, to: &str) -> std::io::Result<()> {
        let Some(ssh) = &self.ssh else {
            return Err(std::io::Error::other("scp without an ssh target"));
        };
        let mut last = None;
        for _ in 0..2 {
            let mut cmd = Command::new("scp");
            cmd.arg("-q")
                .arg("-r")
                .args(ssh.scp_args())
                .args(ssh.options())
                .arg(from)
                .arg(to);
            let out = run(cmd, None)?;
            if out.status.success() {
                return Ok(());
            }
            last = Some(out);
        }
        Err(std::io::Error::other(format!(
            "scp {from} {to} failed: {}",
            last.map(|o| super::output_text(&o)).unwrap_or_default()
        )))
    }

    /// Puts the worktree's HEAD into `remote_workdir` (cloned or fetched, then checked out)
    /// and creates `remote_run_dir`.
    pub(crate) fn ship(
        &self,
        workdir: &Path,
        remote_workdir: &str,
        remote_run_dir: &str,
    ) -> std::io::Result<()> {
        let Some(ssh) = &self.ssh else {
            return Ok(());
        };
        let name = experiment_name(workdir);
        let bundle = ssh.control_dir.join(format!("{name}.bundle"));
        let out = Command::new("git")
            .arg("-C")
            .arg(workdir)
            .args(["bundle", "create", "-q"])
            .arg(&bundle)
            .arg("HEAD")
            .stdin(Stdio::null())
            .output()?;
        if !out.status.success() {
            return Err(std::io::Error::other(format!(
                "git bundle create failed: {}",
                super::output_text(&out)
            )));
        }
        let remote_bundle = format!("{remote_workdir}.bundle");
        let prepare = format!(
            "mkdir -p {} {}",
            shell_quote(remote_workdir),
            shell_quote(remote_run_dir)
        );
        self.exec_ok(&["sh".into(), "-c".into(), prepare], None)?;
        self.scp(
            &bundle.display().to_string(),
            &format!("{}:{remote_bundle}", ssh.target),
        )?;
        let _ = std::fs::remove_file(&bundle);
        let checkout = format!(
            "cd {wd} && {{ [ -d .git ] || git init -q; }} && git fetch -q {b} HEAD && \
             git -c advice.detachedHead=false checkout -q -f --detach FETCH_HEAD && rm -f {b}",
            wd = shell_quote(remote_workdir),
            b = shell_quote(&remote_bundle)
        );
        self.exec_ok(&["sh".into(), "-c".into(), checkout], None)
    }

    /// Copies the remote run directory's files into `local` (overwriting).
    pub(crate) fn fetch_dir(&self, remote: &str, local: &Path) -> std::io::Result<()> {
        let Some(ssh) = &self.ssh else {
            return Ok(());
        };
        let staging = local.join(format!(".fetch-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&staging);
        self.scp(
            &format!("{}:{remote}", ssh.target),
            &staging.display().to_string(),
        )?;
        for e in std::fs::read_dir(&staging)?.flatten() {
            let to = local.join(e.file_name());
            if to.is_dir() {
                let _ = std::fs::remove_dir_all(&to);
            }
            std::fs::rename(e.path(), to)?;
        }
        std::fs::remove_dir_all(&staging)
    }
}

impl Ssh {
    fn options(&self) -> Vec<String> {
        vec![
            "-o".into(),
            "BatchMode=yes".into(),
            "-o".into(),
            "ControlMaster=auto".into(),
            "-o".into(),
            format!("ControlPath={}/%C", self.control_dir.display()),
            "-o".into(),
            "ControlPersist=60".into(),
        ]
    }

    /// `ssh_args` for scp: `-p PORT` is `-P PORT` there.
    fn scp_args(&self) -> Vec<String> {
        let mut out = Vec::new();
        let mut it = self.args.iter();
        while let Some(a) = it.next() {
            if a == "-p" {
                out.push("-P".into());
                if let Some(port) = it.next() {
                    out.push(port.clone());
                }
            } else {
                out.push(a.clone());
            }
        }
        out
    }
}

impl Drop for Shell {
    fn drop(&mut self) {
        if let Some(ssh) = &self.ssh {
            let _ = Command::new("ssh")
                .args(&ssh.args)
                .args(ssh.options())
                .args(["-O", "exit"])
                .arg(&ssh.target)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
            let _ = std::fs::remove_dir_all(&ssh.control_dir);
        }
    }
}
