//! `autolab report`: a campaign in facts from the ledger, as Markdown (with its plot), HTML and
//! JSON; every number names its experiment.

use super::common::*;

#[test]
fn a_report_states_the_result_with_the_experiments_its_numbers_come_from() {
    let lab = TestLab::new();
    lab.write(
        "run.sh",
        "x=${P_X:-9}\ncase \"$x\" in 1) echo 'boom' >&2; exit 3 ;; esac\necho 'step: 1 val_loss: 0.99'\necho \"val_loss: 0.$x\"\n",
    );
    lab.write(
        "autolab.toml",
        "[task]\ngoal = \"Lower the loss.\"\ncommand = \"sh run.sh\"\n[metrics]\nscore = { val_loss = { goal = \"minimize\" } }\n\
         [params]\napply = { env = \"P_\" }\nx = { int = [1, 9] }\n[decide]\npolicy = \"strict\"\n",
    );
    lab.commit("lab");
    let out = lab.autolab(&["run", "--tag", "t", "--max-experiments", "8", "--seed", "3"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let dir = lab.path().join("report");
    let d = dir.to_string_lossy();

    let out = lab.autolab(&["report", "--format", "json", "-o", &d]);
    assert!(out.status.success(), "{}", stderr(&out));
    let f: serde_json::Value = serde_json::from_str(&lab.read("report/report.json")).unwrap();
    let results = lab.json(&["results", "--format", "json"]);
    let best = results
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["verdict"] == "kept")
        .min_by(|a, b| {
            a["score"]
                .as_f64()
                .unwrap()
                .total_cmp(&b["score"].as_f64().unwrap())
        })
        .unwrap();
    assert_eq!(f["best"]["id"], best["id"], "{f}");
    assert_eq!(f["best"]["score"], best["score"]);
    assert_eq!(f["goal"], "Lower the loss.");
    let kept = results
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["verdict"] == "kept" && e["id"] != 0)
        .count();
    assert_eq!(f["kept"].as_array().unwrap().len(), kept);
    let crashed = results
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["verdict"] == "crashed")
        .count();
    if crashed > 0 {
        assert!(f["causes"].to_string().contains("exit code 3"), "{f}");
    }

    let out = lab.autolab(&["report", "-o", &d]);
    assert!(out.status.success(), "{}", stderr(&out));
    let md = lab.read("report/report.md");
    let best_line = format!(
        "Best: {:.6} (#{}",
        best["score"].as_f64().unwrap(),
        best["id"]
    );
    assert!(md.contains(&best_line), "{best_line}\n{md}");
    assert!(md.contains("(progress.svg)"), "{md}");
    // The PNG: a real image of the right size, with something drawn on it (a blank canvas of
    // that size compresses to a few KB).
    let png = std::fs::read(dir.join("progress.png")).unwrap();
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    assert_eq!(&png[12..16], b"IHDR");
    let width = u32::from_be_bytes(png[16..20].try_into().unwrap());
    let height = u32::from_be_bytes(png[20..24].try_into().unwrap());
    assert_eq!((width, height), (1200, 500));
    assert!(png.len() > 10_000, "{} bytes: nothing drawn?", png.len());
    assert!(md.contains("](progress.png)"), "{md}");
    assert!(
        md.contains("](curves-0.svg)"),
        "the baseline's learning curve: {md}"
    );
    assert!(
        lab.read("report/curves-0.svg")
            .contains("class=\"curve c0\"")
    );
    let svg = lab.read("report/progress.svg");
    assert!(
        svg.starts_with("<svg") && svg.contains("class=\"kept\""),
        "{svg}"
    );

    let out = lab.autolab(&["report", "--format", "html", "-o", &d]);
    assert!(out.status.success(), "{}", stderr(&out));
    let html = lab.read("report/report.html");
    assert!(
        html.contains("<svg") && html.contains(&format!("id=\"diff-{}\"", best["id"])),
        "{html}"
    );
}
