//! Ablation end to end: a campaign keeps three independent changes of known sizes (a fake
//! coder writes them); `autolab ablate` recovers each size within its confidence interval,
//! both leave-one-out and add-one-in, without moving the campaign's incumbent, stores the
//! table for `report`, and a second run reads every variant back instead of running it.

use std::sync::atomic::{AtomicUsize, Ordering};

use autolab_llm::fake::FakeServer;

use super::agent::{is_ideation, openai};
use super::common::*;
use super::learning::distinct_idea;

/// The sizes of the additive lab's three changes (a, b, c), in val_loss.
const SIZES: [f64; 3] = [0.3, 0.2, 0.1];

fn edit(file: &str, from: &str, to: &str) -> String {
    format!("{file}\n```\n<<<<<<< SEARCH\n{from}\n=======\n{to}\n>>>>>>> REPLACE\n```\n")
}

/// val_loss is 1 − a − b − c plus noise of ±0.01, seeded by the run's seed and the code: every
/// variant draws its own.
const ADDITIVE: &str = "import os, random\n\
     a, b, c = (float(open(f).read()) for f in ('a.txt', 'b.txt', 'c.txt'))\n\
     seed = int(os.environ.get('AUTOLAB_SEED', '0'))\n\
     noise = (random.Random(f'{seed} {a} {b} {c}').random() - 0.5) * 0.02\n\
     print(f'val_loss: {1.0 - a - b - c + noise:.6f}')\n";

/// A lab scored by `run_py` over a.txt, b.txt and c.txt (each 0 at first); the coder's k-th
/// change is `edits[k]` (file, line before, line after).
fn lab_of(
    run_py: &str,
    edits: Vec<(&'static str, &'static str, &'static str)>,
) -> (TestLab, FakeServer) {
    let ideas = AtomicUsize::new(0);
    let codes = AtomicUsize::new(0);
    let server = FakeServer::from_fn(move |r| {
        if is_ideation(r) {
            openai(&distinct_idea(ideas.fetch_add(1, Ordering::SeqCst)))
        } else {
            let (file, from, to) = edits[codes.fetch_add(1, Ordering::SeqCst) % edits.len()];
            openai(&edit(file, from, to))
        }
    });
    let lab = TestLab::new();
    for f in ["a.txt", "b.txt", "c.txt"] {
        lab.write(f, "0\n");
    }
    lab.write("prepare.sh", "# evaluation\n");
    lab.write("run.py", run_py);
    lab.write(
        "autolab.toml",
        &format!(
            "[task]\ngoal = \"Lower val_loss.\"\ncommand = \"python3 run.py\"\neditable = [\"a.txt\", \"b.txt\", \"c.txt\"]\nprotected = [\"prepare.sh\", \"run.py\"]\n\
             [metrics]\nscore = {{ val_loss = {{ goal = \"minimize\" }} }}\n[decide]\npolicy = \"strict\"\nrepeats = 3\nconfidence = 0.99\n\
             [agent]\nprovider = \"openai\"\nmodel = \"m\"\nbase_url = \"{}\"\nlessons = \"template\"\n[explore]\nauto = false\n",
            server.url()
        ),
    );
    lab.commit("lab");
    (lab, server)
}

/// The three changes a = 0.3, b = 0.2, c = 0.1 of the additive lab.
fn additive_lab() -> (TestLab, FakeServer) {
    lab_of(
        ADDITIVE,
        vec![
            ("a.txt", "0", "0.3"),
            ("b.txt", "0", "0.2"),
            ("c.txt", "0", "0.1"),
        ],
    )
}

/// Runs campaign `t` one candidate an invocation: each is written on top of the one kept
/// before it (within one invocation the next candidate is coded while the last one runs,
/// from its parent).
fn three_candidates(lab: &TestLab) {
    for n in ["2", "3", "4"] {
        let out = lab.autolab(&["run", "--tag", "t", "--max-experiments", n]);
        assert!(out.status.success(), "{}", stderr(&out));
    }
}

fn runs_of_side_campaigns(lab: &TestLab) -> usize {
    let runs = lab.path().join(".autolab/runs");
    std::fs::read_dir(&runs)
        .map(|d| {
            d.flatten()
                .filter(|e| e.file_name().to_string_lossy().starts_with("ablate-"))
                .map(|e| {
                    std::fs::read_dir(e.path().join("0000"))
                        .map(|r| {
                            r.flatten()
                                .filter(|r| r.path().join("stdout.log").exists())
                                .count()
                        })
                        .unwrap_or(0)
                })
                .sum()
        })
        .unwrap_or(0)
}

#[test]
fn ablation_recovers_three_independent_changes_of_known_sizes_within_their_intervals() {
    let (lab, _server) = additive_lab();
    three_candidates(&lab);
    let status = lab.json(&["status", "--tag", "t", "--json"]);
    assert_eq!(status["incumbent"]["id"], 3, "{status}");
    assert_eq!(status["counts"]["kept"], 4, "{status}");
    let incumbent_branch = lab.git(&["rev-parse", "autolab/t"]);
    let tsv = lab.read("results.tsv");

    let out = lab.autolab(&["ablate", "--tag", "t", "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let table: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(table["repeats"], 3);
    let rows = table["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 3, "{table}");
    for (row, size) in rows.iter().zip(SIZES) {
        for way in ["leave_one_out", "add_one_in"] {
            let e = &row[way];
            let (lo, gain, hi) = (
                e["lo"].as_f64().unwrap(),
                e["gain"].as_f64().unwrap(),
                e["hi"].as_f64().unwrap(),
            );
            assert!(
                lo <= size && size <= hi,
                "{way} of #{}: {e} vs {size}",
                row["change"]["number"]
            );
            assert!((gain - size).abs() < 0.02, "{way}: {e} vs {size}");
            // An interval that says something: narrower than the gap between sizes.
            assert!(hi - lo < 0.1, "{way}: {e}");
        }
        assert_eq!(row["without"]["sample"]["n"], 3, "{row}");
    }
    let total = table["total"]["gain"].as_f64().unwrap();
    assert!((total - 0.6).abs() < 0.02, "{table}");

    // The campaign itself did not move: same incumbent, branch and results.tsv; `t` is still
    // the default campaign.
    assert_eq!(lab.git(&["rev-parse", "autolab/t"]), incumbent_branch);
    assert_eq!(lab.read("results.tsv"), tsv);
    let status = lab.json(&["status", "--json"]);
    assert_eq!(status["tag"], "t", "{status}");
    assert_eq!(status["incumbent"]["id"], 3, "{status}");
    // Every variant ran its three runs: 8 variants.
    assert_eq!(runs_of_side_campaigns(&lab), 24);

    // The report carries the table.
    let dir = lab.path().join("report");
    let d = dir.to_string_lossy();
    let out = lab.autolab(&["report", "--tag", "t", "-o", &d]);
    assert!(out.status.success(), "{}", stderr(&out));
    let md = lab.read("report/report.md");
    assert!(md.contains("## Ablation"), "{md}");
    assert!(
        md.contains("| 2 | warmup | +0.2"),
        "the second change's row: {md}"
    );
    let out = lab.autolab(&["report", "--tag", "t", "--format", "json", "-o", &d]);
    assert!(out.status.success(), "{}", stderr(&out));
    let json: serde_json::Value = serde_json::from_str(&lab.read("report/report.json")).unwrap();
    assert_eq!(
        json["ablation"]["rows"].as_array().unwrap().len(),
        3,
        "{json}"
    );

    // Again: every variant is read back, nothing runs.
    let out = lab.autolab(&["ablate", "--tag", "t"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(runs_of_side_campaigns(&lab), 24);
    let text = stdout(&out);
    assert!(text.contains("the changes look independent"), "{text}");
    assert!(text.contains("leave-one-out"), "{text}");
}

#[test]
fn ablation_needs_a_kept_change_and_two_repeats() {
    let (lab, _server) = additive_lab();
    let out = lab.autolab(&["ablate"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("no campaign yet"), "{}", stderr(&out));
    let out = lab.autolab(&["run", "--tag", "t", "--max-experiments", "1"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = lab.autolab(&["ablate", "--tag", "t"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("campaign `t` kept no change over its baseline: nothing to ablate"),
        "{}",
        stderr(&out)
    );
    for n in ["1", "101"] {
        let out = lab.autolab(&["ablate", "--tag", "t", "--repeats", n]);
        assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
        assert!(stderr(&out).contains("between 2"), "{}", stderr(&out));
        assert!(!stderr(&out).contains("ablating"), "{}", stderr(&out));
    }
    // Its side campaigns' tags are reserved.
    let out = lab.autolab(&["run", "--tag", "ablate-x", "--max-experiments", "1"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("`autolab ablate`'s"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn changes_that_touch_the_same_line_or_need_each_other_are_said_so() {
    // #1 a = 0.3; #2 b = 0.2, which crashes without a; #3 a from 0.3 to 0.5 (a's line again).
    let (lab, _server) = lab_of(
        "import sys\n\
         a, b = (float(open(f).read()) for f in ('a.txt', 'b.txt'))\n\
         if b and not a:\n    sys.exit('b needs a')\n\
         print(f'val_loss: {1.0 - a - b:.6f}')\n",
        vec![
            ("a.txt", "0", "0.3"),
            ("b.txt", "0", "0.2"),
            ("a.txt", "0.3", "0.5"),
        ],
    );
    three_candidates(&lab);
    let out = lab.autolab(&["ablate", "--tag", "t", "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let table: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    let rows = table["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 3, "{table}");
    // #1 cannot be reverted from the incumbent: #3 rewrote its line.
    assert!(rows[0]["leave_one_out"].is_null(), "{table}");
    assert_eq!(
        rows[0]["without"]["why"],
        "does not apply: a later change rewrote its lines"
    );
    // #2 alone crashes: it needs #1.
    assert!(rows[1]["add_one_in"].is_null(), "{table}");
    let why = rows[1]["alone"]["why"].as_str().unwrap();
    assert_eq!(why, "its runs failed: exit code 1 (b needs a)");
    // Without #2 the incumbent runs: its contribution is exactly 0.2 (no noise here).
    assert_eq!(
        rows[1]["leave_one_out"]["gain"]
            .as_f64()
            .map(|g| (g * 1e6).round()),
        Some(200_000.0)
    );
    // #3 does not apply on the baseline, where a is still 0.
    assert!(rows[2]["add_one_in"].is_null(), "{table}");
    assert_eq!(
        rows[2]["alone"]["why"],
        "does not apply: it changes lines an earlier change wrote"
    );
    // The table says each, the campaign still works.
    let out = lab.autolab(&["ablate", "--tag", "t"]);
    let text = stdout(&out);
    assert!(text.contains("— (its runs failed: "), "{text}");
    assert!(
        text.contains("— (does not apply: a later change rewrote its lines)"),
        "{text}"
    );
    let status = lab.json(&["status", "--json"]);
    assert_eq!(status["tag"], "t", "{status}");
}

/// Run rows of each ablation side campaign whose variant has its verdict.
fn judged_variants(lab: &TestLab) -> Vec<(String, i64)> {
    let conn = lab.ledger();
    let mut stmt = conn
        .prepare(
            "SELECT c.tag, (SELECT COUNT(*) FROM runs r WHERE r.experiment_id = e.id)
             FROM campaigns c JOIN experiments e ON e.campaign_id = c.id
             WHERE c.tag LIKE 'ablate-%' AND e.number = 0 AND e.verdict IS NOT NULL ORDER BY c.tag",
        )
        .unwrap();
    stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

#[test]
fn an_ablation_killed_with_sigkill_resumes_without_running_its_measured_variants_again() {
    let (lab, _server) = additive_lab();
    three_candidates(&lab);
    let child = lab
        .cmd()
        .args(["ablate", "--tag", "t"])
        .stderr(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    lab.wait_for("two variants measured and a third running", |c| {
        count(
            c,
            "SELECT COUNT(*) FROM experiments e JOIN campaigns c ON c.id = e.campaign_id
             WHERE c.tag LIKE 'ablate-%' AND e.verdict IS NOT NULL",
        ) >= 2
            && count(
                c,
                "SELECT COUNT(*) FROM runs WHERE outcome = 'running' AND pid IS NOT NULL",
            ) >= 1
    });
    let pid = child.id();
    let _ = std::process::Command::new("kill")
        .args(["-9", &pid.to_string()])
        .status();
    let _ = output_within(child, std::time::Duration::from_secs(30));
    let before = judged_variants(&lab);
    assert!(before.len() >= 2, "{before:?}");
    // No ablation table is stored by the killed run.
    let conn = lab.ledger();
    assert_eq!(
        count(&conn, "SELECT COUNT(*) FROM events WHERE kind = 'ablation'"),
        0
    );

    let out = lab.autolab(&["ablate", "--tag", "t", "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let table: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    for row in table["rows"].as_array().unwrap() {
        assert!(row["leave_one_out"]["gain"].is_f64(), "{row}");
        assert!(row["add_one_in"]["gain"].is_f64(), "{row}");
    }
    // The variants measured before the kill kept their runs: nothing of them ran again.
    let after = judged_variants(&lab);
    assert_eq!(after.len(), 8, "{after:?}");
    for v in &before {
        assert!(after.contains(v), "{v:?} ran again: {after:?}");
    }
    assert!(leftovers(&lab).is_empty(), "{:?}", leftovers(&lab));
    assert_eq!(lab.json(&["status", "--json"])["tag"], "t");
}

/// An optimizer lab: val_loss = 1 − (a + b + c)/10 plus noise; d does nothing. The values go
/// in by `apply` (`json` into params.json, or `args` with defaults).
fn params_lab(apply: &str, defaults: bool) -> TestLab {
    let lab = TestLab::new();
    lab.write("params.json", "{\"a\": 0, \"b\": 0, \"c\": 0, \"d\": 0}\n");
    lab.write(
        "run.py",
        "import json, os, random, sys\n\
         p = json.load(open('params.json'))\n\
         for k, v in zip(sys.argv[1::2], sys.argv[2::2]):\n    p[k.lstrip('-')] = int(v)\n\
         seed = int(os.environ.get('AUTOLAB_SEED', '0'))\n\
         noise = (random.Random(f'{seed} {sorted(p.items())}').random() - 0.5) * 0.02\n\
         print(f\"val_loss: {1.0 - (p['a'] + p['b'] + p['c']) / 10 + noise:.6f}\")\n",
    );
    let d = |v: &str| {
        if defaults {
            format!(", default = {v}")
        } else {
            String::new()
        }
    };
    lab.write(
        "autolab.toml",
        &format!(
            "[task]\ncommand = \"python3 run.py\"\neditable = [\"params.json\"]\nprotected = [\"run.py\"]\n\
             [metrics]\nscore = {{ val_loss = {{ goal = \"minimize\" }} }}\n\
             [params]\napply = {apply}\na = {{ choice = [0, 3]{} }}\nb = {{ choice = [0, 2]{} }}\nc = {{ choice = [0, 1]{} }}\nd = {{ choice = [0, 5]{} }}\n\
             [decide]\npolicy = \"strict\"\nrepeats = 3\nconfidence = 0.99\n",
            d("0"),
            d("0"),
            d("0"),
            d("0")
        ),
    );
    lab.commit("lab");
    lab
}

/// Checks a parameter ablation's rows against the lab's sizes (a 0.3, b 0.2, c 0.1, d none).
fn assert_parameter_sizes(table: &serde_json::Value) {
    assert_eq!(table["by"], "parameter", "{table}");
    let rows = table["rows"].as_array().unwrap();
    let names: Vec<String> = rows
        .iter()
        .map(|r| r["change"]["title"].as_str().unwrap().to_string())
        .collect();
    for (name, size) in [("a: 0 → 3", 0.3), ("b: 0 → 2", 0.2), ("c: 0 → 1", 0.1)] {
        let row = rows
            .iter()
            .find(|r| r["change"]["title"] == name)
            .unwrap_or_else(|| panic!("no row {name}: {names:?}"));
        for way in ["leave_one_out", "add_one_in"] {
            let e = &row[way];
            let (lo, hi) = (e["lo"].as_f64().unwrap(), e["hi"].as_f64().unwrap());
            assert!(lo <= size && size <= hi, "{name} {way}: {e}");
            assert!(hi - lo < 0.1, "{name} {way}: {e}");
        }
    }
    if let Some(d) = rows.iter().find(|r| r["change"]["title"] == "d: 0 → 5") {
        for way in ["leave_one_out", "add_one_in"] {
            let e = &d[way];
            assert!(
                e["lo"].as_f64().unwrap() <= 0.0 && 0.0 <= e["hi"].as_f64().unwrap(),
                "d {way}: {e}"
            );
        }
    }
}

#[test]
fn an_optimizer_campaign_is_ablated_by_parameter() {
    let lab = params_lab("{ json = \"params.json\" }", false);
    let out = lab.autolab(&["run", "--tag", "t", "--max-experiments", "30"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let best = lab.json(&["status", "--tag", "t", "--json"]);
    let out = lab.autolab(&["ablate", "--tag", "t", "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let table: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(table["incumbent"], best["incumbent"]["id"], "{table}");
    assert_parameter_sizes(&table);
    // Each row names the kept experiment that set the value.
    for r in table["rows"].as_array().unwrap() {
        let n = r["change"]["number"].as_u64().unwrap();
        let e = lab.json(&["show", &n.to_string(), "--tag", "t", "--json"]);
        assert_eq!(e["verdict"], "kept", "{e}");
    }
}

#[test]
fn parameters_passed_as_arguments_need_their_defaults() {
    let lab = params_lab("{ args = \"--a {a} --b {b} --c {c} --d {d}\" }", true);
    let out = lab.autolab(&["run", "--tag", "t", "--max-experiments", "30"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = lab.autolab(&["ablate", "--tag", "t", "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let table: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_parameter_sizes(&table);

    // Without defaults autolab cannot know the baseline's values: it says so before running
    // anything.
    let lab = params_lab("{ args = \"--a {a} --b {b} --c {c} --d {d}\" }", false);
    let out = lab.autolab(&["run", "--tag", "t", "--max-experiments", "12"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = lab.autolab(&["ablate", "--tag", "t", "--json"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("the baseline's value of a, b, c, d is unknown"),
        "{err}"
    );
    assert!(err.contains("declare each parameter's `default`"), "{err}");
    assert_eq!(runs_of_side_campaigns(&lab), 0);
}

#[test]
fn a_config_that_changed_what_the_campaign_is_is_refused_and_a_comment_changes_nothing() {
    let lab = params_lab("{ json = \"params.json\" }", false);
    let out = lab.autolab(&["run", "--tag", "t", "--max-experiments", "12"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let toml = lab.read("autolab.toml");
    lab.write(
        "autolab.toml",
        &toml.replace("\"minimize\"", "\"maximize\""),
    );
    let out = lab.autolab(&["ablate", "--tag", "t"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("changed since campaign `t` started"),
        "{}",
        stderr(&out)
    );
    assert_eq!(runs_of_side_campaigns(&lab), 0);
    let conn = lab.ledger();
    assert_eq!(
        count(&conn, "SELECT COUNT(*) FROM events WHERE kind = 'ablation'"),
        0
    );
    // A comment is no change: the second ablation reads every variant back.
    lab.write("autolab.toml", &toml);
    let out = lab.autolab(&["ablate", "--tag", "t", "--repeats", "2"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let runs = runs_of_side_campaigns(&lab);
    lab.write("autolab.toml", &format!("{toml}# a comment\n"));
    let out = lab.autolab(&["ablate", "--tag", "t", "--repeats", "2"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(runs_of_side_campaigns(&lab), runs);
    assert!(stderr(&out).contains("measured before"), "{}", stderr(&out));
    // A side campaign is not ablated itself.
    let table = lab.json(&["ablate", "--tag", "t", "--repeats", "2", "--json"]);
    let tag = table["full"]["tag"].as_str().unwrap().to_string();
    let out = lab.autolab(&["ablate", "--tag", &tag]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("is a side campaign"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_variant_whose_runs_failed_is_tried_again_by_the_next_ablation() {
    // #2 alone crashes while `fail-today` lies in the lab's root (its runs see the lab
    // read-only; the run dir is .autolab/runs/<tag>/<number>/<run>).
    let script = "import os, sys\n\
         a, b = (float(open(f).read()) for f in ('a.txt', 'b.txt'))\n\
         flag = os.path.join(os.environ['AUTOLAB_RUN_DIR'], '..', '..', '..', '..', '..', 'fail-today')\n\
         if b and not a and os.path.exists(flag):\n    sys.exit('b fails alone today')\n\
         print(f'val_loss: {1.0 - a - b:.6f}')\n";
    let (lab, _server) = lab_of(
        script,
        vec![
            ("a.txt", "0", "0.3"),
            ("b.txt", "0", "0.2"),
            ("c.txt", "0", "0.1"),
        ],
    );
    let flag = lab.path().join("fail-today");
    three_candidates(&lab);
    std::fs::write(&flag, "").unwrap();
    let table = lab.json(&["ablate", "--tag", "t", "--json"]);
    let why = table["rows"][1]["alone"]["why"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert_eq!(
        why, "its runs failed: exit code 1 (b fails alone today)",
        "{table}"
    );
    std::fs::remove_file(&flag).unwrap();
    let table = lab.json(&["ablate", "--tag", "t", "--json"]);
    let gain = table["rows"][1]["add_one_in"]["gain"].as_f64();
    assert_eq!(gain.map(|g| (g * 1e6).round()), Some(200_000.0), "{table}");
    let side = table["rows"][1]["alone"]["tag"].as_str().unwrap();
    assert!(
        side.ends_with("-1"),
        "tried again in a side campaign of its own: {side}"
    );
}

#[test]
fn autolab_stop_stops_a_running_ablation_and_other_commands_are_refused() {
    let (lab, _server) = additive_lab();
    three_candidates(&lab);
    let child = lab
        .cmd()
        .args(["ablate", "--tag", "t"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    lab.wait_for("a variant running", |c| {
        count(
            c,
            "SELECT COUNT(*) FROM runs r JOIN experiments e ON e.id = r.experiment_id
             JOIN campaigns c ON c.id = e.campaign_id
             WHERE c.tag LIKE 'ablate-%' AND r.outcome = 'running'",
        ) >= 1
    });
    let out = lab.autolab(&["pause"]);
    assert!(
        stdout(&out).contains("refused: an ablation of this campaign is running"),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    let out = lab.autolab(&["stop"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).starts_with("t: stopping the ablation"),
        "{}",
        stdout(&out)
    );
    let out = output_within(child, std::time::Duration::from_secs(60));
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("the ablation was stopped before its end"),
        "{}",
        stderr(&out)
    );
    // Resumed by the same command.
    let table = lab.json(&["ablate", "--tag", "t", "--json"]);
    assert_eq!(table["rows"].as_array().map(Vec::len), Some(3), "{table}");
    assert!(leftovers(&lab).is_empty());
}
