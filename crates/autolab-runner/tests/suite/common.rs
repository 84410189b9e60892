//! Shared setup: the environment (PATH with the fake LSF, SLURM_CONF) is set once, before any
//! test spawns anything, and the one-node SLURM cluster is started if it is not running.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

use autolab_runner::{ClusterRunner, Handle, RunSpec, Runner};

pub const CLUSTER_DIR: &str = "/tmp/autolab-cluster";

pub struct Env {
    /// Why SLURM tests cannot run, if they cannot.
    pub slurm_missing: Option<String>,
    /// `$FAKE_LSF_DIR`: the fake LSF's state (job counter, states, a log of `bjobs` calls).
    pub fake_lsf_dir: PathBuf,
}

fn sinfo_ok() -> bool {
    Command::new("sinfo")
        .arg("-h")
        .output()
        .is_ok_and(|o| o.status.success() && !o.stdout.is_empty())
}

/// Removes the fake LSF directories of test processes that have exited: each test process
/// makes its own, and the static that owns it is never dropped.
fn sweep_fake_lsf_dirs() {
    let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .and_then(|n| n.strip_prefix("autolab-fake-lsf-"))
            .and_then(|p| p.parse::<u32>().ok())
        else {
            continue;
        };
        if !Path::new(&format!("/proc/{pid}")).exists() {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

/// Call first in every test.
pub fn env() -> &'static Env {
    static ENV: OnceLock<Env> = OnceLock::new();
    ENV.get_or_init(|| {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let fake_lsf = root.join("tests/fake-lsf");
        let path = std::env::var("PATH").unwrap_or_default();
        // SAFETY: runs once, inside the OnceLock every test enters before spawning anything.
        sweep_fake_lsf_dirs();
        let fake_lsf_dir =
            std::env::temp_dir().join(format!("autolab-fake-lsf-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&fake_lsf_dir);
        std::fs::create_dir_all(&fake_lsf_dir).unwrap();
        unsafe {
            std::env::set_var("PATH", format!("{}:{path}", fake_lsf.display()));
            std::env::set_var("FAKE_LSF_DIR", &fake_lsf_dir);
        }
        let conf = Path::new(CLUSTER_DIR).join("slurm.conf");
        let mut slurm_missing = None;
        if std::env::var_os("SLURM_CONF").is_none() || !sinfo_ok() {
            let up = || {
                // SAFETY: as above.
                unsafe { std::env::set_var("SLURM_CONF", &conf) };
                sinfo_ok()
            };
            if !(conf.exists() && up()) {
                if nix::unistd::Uid::effective().is_root() {
                    // Once across test processes too: cluster-up.sh runs under a lock file.
                    let script = root.join("../../scripts/cluster-up.sh");
                    let status = Command::new("flock")
                        // -o: the daemons the script starts must not inherit (and hold) the lock.
                        .args(["-o", "/tmp/autolab-cluster.lock"])
                        .arg(&script)
                        .arg(CLUSTER_DIR)
                        .stdout(std::process::Stdio::null())
                        .status();
                    if !status.is_ok_and(|s| s.success()) || !up() {
                        slurm_missing = Some(format!("{} failed", script.display()));
                    }
                } else {
                    slurm_missing =
                        Some("no SLURM cluster (run scripts/cluster-up.sh as root)".into());
                }
            }
        }
        Env {
            slurm_missing,
            fake_lsf_dir,
        }
    })
}

pub fn spec(dir: &Path, name: &str, command: &str, timeout: Duration) -> RunSpec {
    let run_dir = dir.join(name);
    std::fs::create_dir_all(&run_dir).unwrap();
    RunSpec {
        command: command.into(),
        workdir: dir.to_path_buf(),
        run_dir,
        env: vec![
            ("PATH".into(), "/usr/local/bin:/usr/bin:/bin".into()),
            ("AUTOLAB_NOTE".into(), "it's a \"test\" $HOME".into()),
        ],
        timeout,
        kill_grace: Duration::from_secs(1),
        max_log_bytes: 1 << 20,
        sandbox: None,
        stall_timeout: None,
        max_disk_bytes: None,
        disk_watch: Vec::new(),
        line_sink: None,
    }
}

pub fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_default()
}

/// A unique name for a run dir (and so for the job name).
pub fn unique(tag: &str) -> String {
    use std::time::{SystemTime, UNIX_EPOCH};
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!("{tag}-{}-{nanos}", std::process::id())
}

/// Runs `s` on `runner` and "kills autolab" right after it recorded the job's handle (the job
/// goes on); returns the handle a restarted autolab re-attaches to.
pub fn die_after_submit(runner: ClusterRunner, s: &RunSpec) -> Handle {
    let mut recorded = None;
    let died = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        runner.run(
            s,
            &std::sync::atomic::AtomicBool::new(false),
            &mut |h| {
                recorded = Some(h);
                panic!("autolab died");
            },
            None,
        )
    }));
    assert!(died.is_err());
    drop(runner);
    recorded.expect("the job's handle was recorded")
}

/// Says why a test cannot run here and returns; under CI (`CI` set), where everything is
/// installed, a skip is a failure instead.
pub fn skip(why: &str) {
    if std::env::var_os("CI").is_some() {
        panic!("CI is set, so no test may skip, but: {why}");
    }
    eprintln!("skipped: {why}");
}
