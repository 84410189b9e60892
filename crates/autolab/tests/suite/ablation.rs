//! Ablation end to end: a campaign keeps three independent changes of known sizes (a fake
//! coder writes them); `autolab ablate` recovers each size within its confidence interval,
//! both leave-one-out and add-one-in, without moving the campaign's incumbent, stores the
//! table for `report`, and a second run reads every variant back instead of running it.

use std::sync::atomic::{AtomicUsize, Ordering};

use autolab_llm::fake::FakeServer;

use super::agent::{is_ideation, openai};
use super::common::*;
use super::learning::distinct_idea;

/// The sizes of the three changes (a, b, c), in val_loss.
const SIZES: [f64; 3] = [0.3, 0.2, 0.1];

fn edit(file: &str, to: f64) -> String {
    format!("{file}\n```\n<<<<<<< SEARCH\n0\n=======\n{to}\n>>>>>>> REPLACE\n```\n")
}

/// A lab whose val_loss is 1 − a − b − c plus noise of ±0.01 (seeded by the run's seed and the
/// code: every variant draws its own); the coder's k-th change sets file k to its size.
fn additive_lab() -> (TestLab, FakeServer) {
    let ideas = AtomicUsize::new(0);
    let codes = AtomicUsize::new(0);
    let server = FakeServer::from_fn(move |r| {
        if is_ideation(r) {
            openai(&distinct_idea(ideas.fetch_add(1, Ordering::SeqCst)))
        } else {
            let k = codes.fetch_add(1, Ordering::SeqCst) % 3;
            openai(&edit(["a.txt", "b.txt", "c.txt"][k], SIZES[k]))
        }
    });
    let lab = TestLab::new();
    for f in ["a.txt", "b.txt", "c.txt"] {
        lab.write(f, "0\n");
    }
    lab.write("prepare.sh", "# evaluation\n");
    lab.write(
        "run.py",
        "import os, random\n\
         a, b, c = (float(open(f).read()) for f in ('a.txt', 'b.txt', 'c.txt'))\n\
         seed = int(os.environ.get('AUTOLAB_SEED', '0'))\n\
         noise = (random.Random(f'{seed} {a} {b} {c}').random() - 0.5) * 0.02\n\
         print(f'val_loss: {1.0 - a - b - c + noise:.6f}')\n",
    );
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
    // One candidate an invocation: each is written on top of the one kept before it (within
    // one invocation the next candidate is coded while the last one runs, from its parent).
    for n in ["2", "3", "4"] {
        let out = lab.autolab(&["run", "--tag", "t", "--max-experiments", n]);
        assert!(out.status.success(), "{}", stderr(&out));
    }
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
    let out = lab.autolab(&["ablate", "--tag", "t", "--repeats", "1"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("use at least 2 repeats"),
        "{}",
        stderr(&out)
    );
    // Its side campaigns' tags are reserved.
    let out = lab.autolab(&["run", "--tag", "ablate-x", "--max-experiments", "1"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("`autolab ablate`'s"),
        "{}",
        stderr(&out)
    );
}
