//! Plugged-in parts the engine's tests share: a quiet observer, a proposer of "edit <file>"
//! ideas, a coder that appends a line, and git.

use std::path::Path;
use std::process::Command;

use autolab_engine::coder::Coder;
use autolab_engine::proposer::{Proposal, Proposer, Trial};
use autolab_engine::{Observer, Report};

pub struct Quiet;
impl Observer for Quiet {
    fn report(&mut self, _: Report) {}
}

/// Proposes "edit <file>" ideas in turn.
pub struct Edits(pub Vec<&'static str>);
impl Proposer for Edits {
    fn propose(&mut self, number: u32, _: &[Trial]) -> Option<Proposal> {
        let file = self.0.get(number as usize - 1)?;
        Some(Proposal {
            title: format!("edit {file}"),
            proposer: "test".into(),
            params: None,
        })
    }
}

/// Appends a line to the file the idea names.
pub struct Appender;
impl Coder for Appender {
    fn implement(&self, p: &Proposal, worktree: &Path) -> Result<(), String> {
        let file = p.title.trim_start_matches("edit ");
        let path = worktree.join(file);
        let mut text = std::fs::read_to_string(&path).unwrap_or_default();
        text.push_str("# changed\n");
        std::fs::write(path, text).map_err(|e| e.to_string())
    }
}

/// Runs git in `dir`; its stdout, trimmed.
pub fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(["-c", "user.name=t", "-c", "user.email=t@t"])
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// Makes `dir` a git repository with everything in it committed.
pub fn commit_all(dir: &Path) {
    git(dir, &["init", "--quiet"]);
    git(dir, &["add", "-A"]);
    git(dir, &["commit", "--quiet", "-m", "lab"]);
}

/// Writes `pause` into campaign `t`'s inbox (ledger at `db`) and waits until the loop took it
/// (bounded: a loop that never takes it fails the test's assertions instead of hanging).
pub fn pause_and_wait(db: &Path) {
    use autolab_core::control::Command;
    let l = autolab_core::ledger::Ledger::open(db).unwrap();
    let c = l.campaign("t").unwrap().unwrap();
    let id = l.controls().push(c.id, &Command::Pause, "t").unwrap();
    let asked = std::time::Instant::now();
    while l.controls().get(id).unwrap().unwrap().taken_at.is_none()
        && asked.elapsed() < super::fake_runner::HOLD_AT_MOST
    {
        std::thread::park_timeout(std::time::Duration::from_millis(5));
    }
}

/// Waits (bounded) until experiment `number` of campaign `t` reaches `state`.
pub fn wait_for_state(db: &Path, number: u32, state: autolab_core::experiment::State) {
    let l = autolab_core::ledger::Ledger::open(db).unwrap();
    let c = l.campaign("t").unwrap().unwrap();
    let asked = std::time::Instant::now();
    while !l
        .experiment(c.id, number)
        .unwrap()
        .is_some_and(|e| e.state == state)
        && asked.elapsed() < super::fake_runner::HOLD_AT_MOST
    {
        std::thread::park_timeout(std::time::Duration::from_millis(5));
    }
}
