//! The ledger on a full or read-only disk, and corrupt run files: clear errors, no corruption.

use std::process::Command;

use super::common::*;

/// A small tmpfs mounted for one test, unmounted on drop.
struct SmallDisk {
    dir: tempfile::TempDir,
}

impl SmallDisk {
    fn mount(size: &str) -> Option<SmallDisk> {
        let dir = tempfile::tempdir().ok()?;
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir.path())
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            skip("cannot mount a tmpfs here (needs root; CI runs as root)");
            return None;
        }
        Some(SmallDisk { dir })
    }

    /// Makes `dir` read-only (a read-only bind mount over itself) or writable again.
    fn read_only(dir: &std::path::Path, ro: bool) {
        let ok = if ro {
            Command::new("mount")
                .arg("--bind")
                .arg(dir)
                .arg(dir)
                .status()
                .unwrap()
                .success()
                && Command::new("mount")
                    .args(["-o", "remount,bind,ro"])
                    .arg(dir)
                    .status()
                    .unwrap()
                    .success()
        } else {
            Command::new("umount").arg(dir).status().unwrap().success()
        };
        assert!(ok, "mount failed");
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount")
            .arg("-l")
            .arg(self.dir.path())
            .status();
    }
}

fn lab_in(dir: &std::path::Path) -> TestLab {
    let lab = TestLab {
        dir: tempfile::Builder::new().tempdir_in(dir).unwrap(),
    };
    lab.git(&["init", "--quiet"]);
    lab.write("run.sh", "echo \"val_loss: 0.$AUTOLAB_SEED${P_X:-9}\"\n");
    lab.write(
        "autolab.toml",
        "[task]\ncommand = \"sh run.sh\"\neditable = [\"run.sh\"]\n[metrics]\nscore = { val_loss = { goal = \"minimize\" } }\n[params]\napply = { env = \"P_\" }\nx = { int = [1, 8] }\n[decide]\npolicy = \"strict\"\n",
    );
    lab.commit("lab");
    lab
}

fn integrity(lab: &TestLab) -> String {
    lab.ledger()
        .query_row("PRAGMA integrity_check", [], |r| r.get::<_, String>(0))
        .unwrap()
}

#[test]
fn a_full_disk_is_a_clear_error_and_corrupts_nothing() {
    let Some(disk) = SmallDisk::mount("4m") else {
        return;
    };
    let lab = lab_in(disk.dir.path());
    assert!(
        lab.autolab(&["run", "--tag", "t", "--max-experiments", "3"])
            .status
            .success()
    );
    let before = lab.json(&["results", "--format", "json"]);
    // Fill the disk.
    let _ = Command::new("dd")
        .args(["if=/dev/zero", "bs=64k"])
        .arg(format!("of={}", disk.dir.path().join("filler").display()))
        .stderr(std::process::Stdio::null())
        .status();
    let out = lab.autolab(&["run", "--tag", "t", "--max-experiments", "30"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("error:"), "{err}");
    assert!(
        err.contains("is full") || err.contains("No space left"),
        "{err}"
    );
    std::fs::remove_file(disk.dir.path().join("filler")).unwrap();
    assert_eq!(integrity(&lab), "ok");
    let after = lab.json(&["results", "--format", "json"]);
    assert_eq!(
        before.as_array().unwrap()[..3],
        after.as_array().unwrap()[..3],
        "recorded experiments changed"
    );
    // With space again, the campaign resumes and finishes.
    let out = lab.autolab(&["run", "--tag", "t", "--max-experiments", "5"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        lab.json(&["results", "--format", "json"])
            .as_array()
            .unwrap()
            .len(),
        5
    );
}

#[test]
fn a_read_only_ledger_is_a_clear_error_and_corrupts_nothing() {
    let Some(disk) = SmallDisk::mount("16m") else {
        return;
    };
    let lab = lab_in(disk.dir.path());
    assert!(
        lab.autolab(&["run", "--tag", "t", "--max-experiments", "2"])
            .status
            .success()
    );
    SmallDisk::read_only(lab.path(), true);
    let out = lab.autolab(&["run", "--tag", "t", "--max-experiments", "4"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("Read-only file system") || err.contains("readonly"),
        "{err}"
    );
    // Reading still works on a read-only disk.
    let rows = lab.json(&["results", "--format", "json"]);
    assert_eq!(rows.as_array().unwrap().len(), 2);
    SmallDisk::read_only(lab.path(), false);
    assert_eq!(integrity(&lab), "ok");
    assert!(
        lab.autolab(&["run", "--tag", "t", "--max-experiments", "4"])
            .status
            .success()
    );
}

#[test]
fn a_corrupt_metrics_file_is_a_crash_with_the_reason_kept() {
    let lab = TestLab::new();
    lab.write("run.sh", "if [ -n \"$P_MODE\" ]; then echo '{\"d\": {\"means\": {\"loss\": 0.' > \"$AUTOLAB_RUN_DIR/final_info.json\"; else echo '{\"d\": {\"means\": {\"loss\": 0.5}}}' > \"$AUTOLAB_RUN_DIR/final_info.json\"; fi\n");
    lab.write(
        "autolab.toml",
        "[task]\ncommand = \"sh run.sh\"\neditable = [\"run.sh\"]\n[metrics]\nsources = [{ kind = \"json\", file = \"final_info.json\", pointer = \"/*/means\" }]\nscore = { loss = { goal = \"minimize\" } }\n[params]\napply = { env = \"P_\" }\nmode = { choice = [\"corrupt\"] }\n",
    );
    lab.commit("lab");
    let out = lab.autolab(&["run", "--tag", "t", "--max-experiments", "2"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let one = lab.json(&["show", "1", "--json"]);
    assert_eq!(one["verdict"], "crashed");
    assert_eq!(
        one["reason"],
        "metric `loss` was not reported; the run printed no metric"
    );
    let tail = one["run_list"][0]["log_tail"].as_str().unwrap();
    assert!(tail.contains("invalid JSON"), "{tail}");
}
