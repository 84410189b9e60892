//! Hostile experiments against autolab's own git: a run that redirects its worktree's `.git`,
//! a second checkout of the repository running the same tag, an LLM asking to write outside
//! the worktree, protected files swapped for symlinks. Each attack must leave no trace outside
//! the sandbox and no ref moved backwards or overwritten.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use autolab_llm::fake::FakeServer;

use super::agent::{is_ideation, openai};
use super::common::*;
use super::hostile::{hostile_lab, hostile_lab_protecting, run_candidate};

const NO_SANDBOX: &str = "[sandbox]\nenabled = false\n";

/// Every ref of the repository with what it points at.
fn refs(lab: &TestLab) -> String {
    lab.git(&["for-each-ref", "--format=%(refname) %(objectname)"])
}

/// A candidate that copies the repository's git dir into its run dir, sets `config` there
/// (`key value` lines for `git config`), optionally writes `.gitattributes`, and points its
/// worktree's `.git` file at the copy. `payload` is the script the copy's config names.
fn redirecting_candidate(
    config: &[(&str, &str)],
    attributes: Option<&str>,
    payload: &str,
) -> String {
    let mut s = String::from(
        "R=\"$AUTOLAB_RUN_DIR\"\n\
         admin=$(sed -n 's/^gitdir: //p' .git)\n\
         common=$(cd \"$admin\" && cd \"$(cat commondir)\" && pwd)\n\
         cp -R \"$common\" \"$R/evil.git\"\n\
         mkdir -p \"$R/hooks\"\n",
    );
    s.push_str(&format!(
        "cat > \"$R/pwn.sh\" <<'EOF'\n{payload}EOF\nchmod +x \"$R/pwn.sh\"\n"
    ));
    for hook in [
        "post-checkout",
        "pre-commit",
        "post-commit",
        "reference-transaction",
        "post-index-change",
    ] {
        s.push_str(&format!("cp \"$R/pwn.sh\" \"$R/hooks/{hook}\"\n"));
    }
    for (key, value) in config {
        s.push_str(&format!(
            "git config -f \"$R/evil.git/config\" {key} \"{value}\"\n"
        ));
    }
    if let Some(a) = attributes {
        s.push_str(&format!("echo '{a}' > .gitattributes\n"));
    }
    s.push_str(
        "echo \"gitdir: $R/evil.git/worktrees/$(basename \"$admin\")\" > .git\n\
         touch run.sh prepare.py\n\
         echo 'val_loss: 0.4'\n",
    );
    s
}

/// Runs the redirection attack with and without the sandbox; the marker the payload writes
/// (outside anything a run may write) must never appear.
fn assert_redirection_is_harmless(config: &[(&str, &str)], attributes: Option<&str>) {
    for extra in ["", NO_SANDBOX] {
        let outside = tempfile::tempdir().unwrap();
        let marker = outside.path().join("pwned");
        let payload = format!(
            "#!/bin/sh\necho \"$0 $*\" >> {}\nexec cat\n",
            marker.display()
        );
        let lab = hostile_lab(&redirecting_candidate(config, attributes, &payload), extra);
        let one = run_candidate(&lab);
        assert!(
            !marker.exists(),
            "autolab's git ran the run's program ({extra:?}): {}",
            std::fs::read_to_string(&marker).unwrap_or_default()
        );
        let log = std::fs::read_to_string(lab.path().join(".autolab/runs/t/0001/0/stderr.log"))
            .unwrap_or_default();
        if extra.is_empty() {
            // Sandboxed, the worktree's .git file is mounted read-only: the rewrite fails.
            assert!(
                log.contains(".git: Read-only file system"),
                "the sandbox refused the rewrite: {log}"
            );
        } else {
            assert_eq!(one["verdict"], "invalid", "{extra:?}: {one}");
            assert!(
                one["reason"].as_str().unwrap().contains(".git"),
                "the rewritten .git file is named: {one}"
            );
        }
        assert!(
            lab.path()
                .join(".autolab/runs/t/0001/0/evil.git/config")
                .exists(),
            "the attack did not get set up ({extra:?}): {log}"
        );
    }
}

#[test]
fn a_git_file_redirected_to_a_copy_with_core_fsmonitor_runs_nothing() {
    assert_redirection_is_harmless(&[("core.fsmonitor", "$R/pwn.sh")], None);
}

#[test]
fn a_git_file_redirected_to_a_copy_with_a_hooks_path_runs_nothing() {
    assert_redirection_is_harmless(&[("core.hooksPath", "$R/hooks")], None);
}

#[test]
fn a_git_file_redirected_to_a_copy_defining_a_filter_driver_runs_nothing() {
    assert_redirection_is_harmless(
        &[
            ("filter.evil.clean", "$R/pwn.sh"),
            ("filter.evil.smudge", "$R/pwn.sh"),
            ("filter.evil.process", "$R/pwn.sh"),
            ("diff.evil.textconv", "$R/pwn.sh"),
        ],
        Some("* filter=evil diff=evil"),
    );
}

#[test]
fn a_second_run_from_a_linked_worktree_is_refused_while_the_first_is_live() {
    // The gate lies in the lab root (the worktree is .autolab/worktrees/t/0001): a run sees
    // the lab, not the rest of the host's /tmp.
    let lab = hostile_lab(
        "while [ ! -f ../../../../release ]; do sleep 0.05; done\necho 'val_loss: 0.4'\n",
        "",
    );
    let release = lab.path().join("release");
    let first = lab
        .cmd()
        .args(["run", "--tag", "t", "--max-experiments", "2"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    lab.wait_for("the candidate running", |c| {
        count(
            c,
            "SELECT COUNT(*) FROM runs WHERE outcome = 'running' AND pid IS NOT NULL",
        ) >= 1
    });
    let other = tempfile::tempdir().unwrap();
    let linked = other.path().join("linked");
    lab.git(&[
        "worktree",
        "add",
        "--quiet",
        "--detach",
        &linked.to_string_lossy(),
        "HEAD",
    ]);
    for tag in ["t", "u"] {
        let second = std::process::Command::new(env!("CARGO_BIN_EXE_autolab"))
            .current_dir(&linked)
            .env("NO_COLOR", "1")
            .args(["run", "--tag", tag, "--max-experiments", "2"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let second = output_within(second, Duration::from_secs(60));
        let err = stderr(&second);
        assert_eq!(second.status.code(), Some(1), "tag {tag}: {err}");
        assert!(err.contains("another `autolab run` is live"), "{err}");
        assert!(
            err.contains(&format!("in {}", lab.path().display())),
            "the refusal says where the live run is: {err}"
        );
        assert!(!linked.join(".autolab/ledger.db").exists());
    }
    std::fs::write(&release, "").unwrap();
    let first = output_within(first, Duration::from_secs(60));
    assert!(first.status.success(), "{}", stderr(&first));
    assert_eq!(lab.json(&["show", "1", "--json"])["verdict"], "kept");
}

#[test]
fn rerunning_a_tag_with_autolab_moved_aside_overwrites_no_ref() {
    let lab = TestLab::with_mode("nometric", "[decide]\npolicy = \"strict\"\n");
    let out = lab.autolab(&["run", "--tag", "t", "--max-experiments", "3"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let before = refs(&lab);
    assert!(before.contains("refs/autolab/t/archive/0001"), "{before}");
    std::fs::rename(
        lab.path().join(".autolab"),
        lab.path().join(".autolab-aside"),
    )
    .unwrap();
    lab.git(&[
        "commit",
        "--quiet",
        "--allow-empty",
        "-m",
        "the user moves on",
    ]);

    let again = lab.autolab(&["run", "--tag", "t", "--max-experiments", "3"]);
    let err = stderr(&again);
    assert_eq!(again.status.code(), Some(2), "{err}");
    assert!(err.contains("tag `t` already has git refs"), "{err}");
    assert!(err.contains("refs/autolab/t/archive/0001"), "{err}");
    assert!(err.contains("hint: use a new tag"), "{err}");
    // Only the user's own branch moved.
    let without_main = |r: &str| {
        r.lines()
            .filter(|l| !l.starts_with("refs/heads/main "))
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert_eq!(without_main(&refs(&lab)), without_main(&before));
}

#[test]
fn resuming_a_tag_from_a_linked_worktree_never_moves_the_incumbent_back() {
    let lab = TestLab::with_mode("better", "[decide]\npolicy = \"strict\"\n");
    let out = lab.autolab(&["run", "--tag", "t", "--max-experiments", "1"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let base = lab.git(&["rev-parse", "autolab/t"]).trim().to_string();
    // A linked worktree whose ledger knows the campaign as it was then.
    let other = tempfile::tempdir().unwrap();
    let linked = other.path().join("linked");
    lab.git(&[
        "worktree",
        "add",
        "--quiet",
        "--detach",
        &linked.to_string_lossy(),
        "HEAD",
    ]);
    let copied = std::process::Command::new("cp")
        .arg("-R")
        .arg(lab.path().join(".autolab"))
        .arg(linked.join(".autolab"))
        .status()
        .unwrap();
    assert!(copied.success());
    // The first checkout goes on and keeps #1.
    let out = lab.autolab(&["run", "--tag", "t", "--max-experiments", "2"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let kept = lab.git(&["rev-parse", "autolab/t"]).trim().to_string();
    assert_ne!(kept, base);
    let before = refs(&lab);

    let resumed = std::process::Command::new(env!("CARGO_BIN_EXE_autolab"))
        .current_dir(&linked)
        .env("NO_COLOR", "1")
        .args(["run", "--tag", "t", "--max-experiments", "3"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let err = stderr(&resumed);
    assert_eq!(resumed.status.code(), Some(1), "{err}");
    assert!(err.contains("ref `refs/heads/autolab/t`"), "{err}");
    assert!(
        err.contains(&kept[..12]) && err.contains(&base[..12]),
        "{err}"
    );
    assert!(err.contains("another checkout of this repository"), "{err}");
    assert_eq!(refs(&lab), before, "a ref moved");
}

/// A lab whose `[agent]` talks to `server`, editing files under `src/`; `src/out` is a
/// committed symlink to `outside`.
fn llm_lab(server: &FakeServer, outside: &Path) -> TestLab {
    let lab = TestLab::new();
    lab.write("src/model.txt", "x = 1\n");
    lab.write(
        "run.sh",
        "cat src/model.txt > /dev/null\necho 'val_loss: 0.5'\n",
    );
    std::os::unix::fs::symlink(outside, lab.path().join("src/out")).unwrap();
    lab.write(
        "autolab.toml",
        &format!(
            "[task]\ngoal = \"Lower the loss.\"\ncommand = \"sh run.sh\"\neditable = [\"src\"]\ntimeout = \"20s\"\n\
             [metrics]\nscore = {{ val_loss = {{ goal = \"minimize\" }} }}\n[decide]\npolicy = \"strict\"\n\
             [agent]\nprovider = \"openai\"\nmodel = \"m\"\nbase_url = \"{}\"\n",
            server.url()
        ),
    );
    lab.commit("lab");
    lab
}

const IDEA: &str = r#"```json
{"ideas": [{"title": "Write a helper file", "hypothesis": "a helper helps", "plan": "add a file", "files": ["src/helper.txt"], "expected_effect": "val_loss -0.1", "risk": "low"}]}
```"#;

fn files_named(dir: &Path, name: &str) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            let meta = std::fs::symlink_metadata(&p).unwrap();
            if meta.is_dir() {
                stack.push(p);
            } else if p.file_name().is_some_and(|n| n == name) {
                found.push(p);
            }
        }
    }
    found
}

#[test]
fn edit_blocks_that_lead_out_of_the_worktree_are_refused_and_recorded() {
    let outside = tempfile::tempdir().unwrap();
    let cases = [
        ("src/../../escaped.txt".to_string(), "climbs out with `..`"),
        (
            format!("{}/escaped.txt", outside.path().display()),
            "is an absolute path",
        ),
        (
            "src/out/escaped.txt".to_string(),
            "leads out of the lab through the symlink `src/out`",
        ),
    ];
    for (path, why) in cases {
        let block = format!("{path}\n```\n<<<<<<< SEARCH\n=======\npwned\n>>>>>>> REPLACE\n```\n");
        let server = FakeServer::from_fn(move |r| {
            if is_ideation(r) {
                openai(IDEA)
            } else {
                openai(&block)
            }
        });
        let lab = llm_lab(&server, outside.path());
        let out = lab.autolab(&["run", "--tag", "t", "--max-experiments", "2"]);
        assert!(out.status.success(), "{path}: {}", stderr(&out));
        let one = lab.json(&["show", "1", "--json"]);
        assert_eq!(one["verdict"], "invalid", "{path}: {one}");
        let reason = one["reason"].as_str().unwrap();
        assert!(
            reason.contains(&format!("`{path}`")) && reason.contains(why),
            "{path}: {reason}"
        );
        // The coder was told why, and asked again.
        let coder_calls: Vec<_> = server
            .requests()
            .into_iter()
            .filter(|r| !is_ideation(r) && r.body.contains("SEARCH/REPLACE"))
            .collect();
        assert!(
            coder_calls.iter().any(|r| r.body.contains("refused")),
            "{path}: the refusal never reached the coder"
        );
        assert_eq!(
            files_named(outside.path(), "escaped.txt"),
            Vec::<PathBuf>::new(),
            "{path}"
        );
        assert_eq!(
            files_named(lab.path(), "escaped.txt"),
            Vec::<PathBuf>::new(),
            "{path}"
        );
    }
}

#[test]
fn a_protected_file_replaced_by_a_symlink_to_identical_content_is_invalid() {
    let lab = hostile_lab(
        "cp prepare.py \"$AUTOLAB_RUN_DIR/same.py\"\nrm prepare.py\nln -s \"$AUTOLAB_RUN_DIR/same.py\" prepare.py\necho 'val_loss: 0.1'\n",
        "",
    );
    let one = run_candidate(&lab);
    assert_eq!(one["verdict"], "invalid", "{one}");
    assert_eq!(
        one["reason"],
        "protected file(s) modified during the run: prepare.py"
    );
}

#[test]
fn a_protected_path_that_must_stay_absent_is_flagged_when_created() {
    let lab = hostile_lab_protecting(
        "ln -s /nowhere/at/all answers.txt\necho 'val_loss: 0.1'\n",
        "[\"prepare.py\", \"answers.txt\"]",
        "",
    );
    let one = run_candidate(&lab);
    assert_eq!(one["verdict"], "invalid", "{one}");
    assert_eq!(
        one["reason"],
        "protected file(s) modified during the run: answers.txt"
    );
}

#[test]
fn a_worktree_removed_during_the_run_is_its_own_reason() {
    let lab = hostile_lab(
        "here=\"$PWD\"\ncd /\nrm -rf \"$here\"\necho 'val_loss: 0.1'\n",
        NO_SANDBOX,
    );
    let one = run_candidate(&lab);
    assert_eq!(one["verdict"], "invalid", "{one}");
    assert_eq!(one["reason"], "worktree removed during the run");
}

#[test]
fn a_tag_git_refuses_is_refused_before_anything_is_created() {
    let lab = TestLab::with_mode("better", "");
    let out = lab.autolab(&["run", "--tag", "a.", "--max-experiments", "2"]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("invalid tag `a.`"), "{err}");
    assert!(err.contains("refs/heads/autolab/a."), "{err}");
    assert!(err.contains("hint:"), "{err}");
    assert!(!lab.path().join(".autolab").exists());
    assert_eq!(
        lab.git(&["for-each-ref", "refs/autolab", "refs/heads/autolab"]),
        ""
    );
}
