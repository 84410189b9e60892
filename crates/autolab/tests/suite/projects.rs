//! Projects mode over AI-Scientist's real `templates/seir` (unchanged): each idea becomes a
//! project of runs from the base, with notes, plots, a paper and a review; the next ideation
//! reads the first project's review score; a crashed run gets its fix and the project goes on.

use autolab_engine::literature::fake::LiteratureServer;
use autolab_llm::fake::{FakeReply, FakeServer, Recorded};

use super::common::*;
use super::paper::{copy_tree, corpus, science_python, tools_or_skip, writer};

const IDEA_B: &str = r#"{"ideas": [{"title": "Vaccination campaign in SEIR", "hypothesis": "moving people to R early lowers the peak", "plan": "lower the infection rate beta in the odeint call", "files": ["experiment.py"], "expected_effect": "lower infected_peak", "risk": "low"}]}"#;

fn edit(from: &str, to: &str) -> String {
    format!(
        "experiment.py\n```python\n<<<<<<< SEARCH\n{from}\n=======\n{to}\n>>>>>>> REPLACE\n```\n"
    )
}

/// A model that follows the protocol: the seed idea first, then one ideation; the coder lowers
/// beta step by step, except that the vaccination idea's first run crashes until fixed.
fn llm(r: &Recorded) -> FakeReply {
    let p = r.prompt_text();
    let last = last_message(r);
    let beta = |v: &str| format!("        args=({v}, 14, 7),");
    let text = if p.contains("new, concrete, testable ideas") {
        IDEA_B.to_string()
    } else if p.contains("Someone else will use notes.txt") {
        if last.contains("Run 2 (") || p.contains("are done") && p.contains("2 are done") {
            r#"{"notes": "Run 2 lowered beta again; the peak fell further.", "done": true}"#
                .to_string()
        } else {
            r#"{"notes": "Run 1 lowered the infection rate; see final_info.json.", "done": false, "next": {"title": "lower beta again", "plan": "lower beta once more in the odeint call"}}"#.to_string()
        }
    } else if p.contains("SEARCH/REPLACE") && p.contains("crashed") {
        edit(
            "        raise RuntimeError(\"boom-marker\")\n        args=(0.001, 14, 7),",
            &beta("0.0009"),
        )
    } else if p.contains("SEARCH/REPLACE") {
        if p.contains("Vaccination campaign") && p.contains("— run 1") {
            edit(
                &beta("0.001"),
                &format!(
                    "        raise RuntimeError(\"boom-marker\")\n{}",
                    beta("0.001")
                ),
            )
        } else if p.contains("args=(0.0009, 14, 7)") {
            edit(&beta("0.0009"), &beta("0.0008"))
        } else {
            edit(&beta("0.001"), &beta("0.0009"))
        }
    } else {
        return writer(r);
    };
    FakeReply::openai(text)
}

#[test]
fn two_ideas_become_projects_with_runs_notes_plots_papers_and_reviews() {
    if !tools_or_skip() {
        return;
    }
    let Some(python) = science_python() else {
        skip("no python3 with numpy, scipy and matplotlib (CI installs them)");
        return;
    };
    let fixture =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/ai-scientist-seir");
    let lab = TestLab::new();
    copy_tree(&fixture, lab.path());
    let llm = FakeServer::from_fn(llm);
    let lit = LiteratureServer::start(corpus());
    let e = lit.endpoints();
    lab.write(
        "autolab.toml",
        &format!(
            "[task]\nmode = \"projects\"\ncommand = \"{python} experiment.py --out_dir={{run_dir}}\"\neditable = [\"experiment.py\", \"plot.py\"]\n\
             [metrics]\nsources = [{{ kind = \"json\", file = \"final_info.json\", pointer = \"/*/means\" }}]\nscore = {{ infected_peak = {{ goal = \"minimize\" }} }}\n\
             [decide]\npolicy = \"strict\"\n\
             [agent]\nprovider = \"openai\"\nmodel = \"m\"\nbase_url = \"{}\"\nideas_per_call = 1\n\
             [projects]\nruns_per_idea = 2\nplot = \"{python} plot.py\"\n\
             [writeup]\nsemantic_scholar_url = \"{}\"\nopenalex_url = \"{}\"\narxiv_url = \"{}\"\nliterature_retries = 0\nqueries = 1\nreviews = 1\nreflections = 0\n",
            llm.url(),
            e.semantic_scholar,
            e.openalex,
            e.arxiv
        ),
    );
    lab.commit("seir template, projects mode");
    let out = lab.autolab(&["run", "--tag", "p", "--max-experiments", "5"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let err = stderr(&out);

    let conn = lab.ledger();
    let projects: Vec<(u32, String, Option<f64>, String)> = conn
        .prepare("SELECT number, status, score, dir FROM projects ORDER BY number")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(projects.len(), 2, "{projects:?}\n{err}");
    for (number, status, score, dir) in &projects {
        assert_eq!(status, "done", "project {number}: {err}");
        assert_eq!(*score, Some(5.0), "project {number}");
        let dir = std::path::Path::new(dir);
        for run in ["run_0", "run_1", "run_2"] {
            assert!(
                dir.join(run).join("final_info.json").is_file(),
                "{}/{run}",
                dir.display()
            );
        }
        let notes = std::fs::read_to_string(dir.join("notes.txt")).unwrap();
        assert!(
            notes.contains("## Run 1") && notes.contains("## Run 2"),
            "{notes}"
        );
        assert!(
            dir.join("seir_solution_run_2.png").is_file(),
            "plot.py ran in {}",
            dir.display()
        );
        assert!(dir.join("latex/template.tex").is_file());
        let pdfs: Vec<_> = std::fs::read_dir(dir)
            .unwrap()
            .flatten()
            .filter(|f| f.path().extension().is_some_and(|x| x == "pdf"))
            .collect();
        assert_eq!(
            pdfs.len(),
            1,
            "the paper as <idea name>.pdf in {}",
            dir.display()
        );
        let review: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(dir.join("review.txt")).unwrap())
                .unwrap();
        assert_eq!(review["Overall"], 5);
    }
    // Each project's second run starts from its first run's commit, its first from the base.
    let runs: Vec<(u32, u32, u32, String, Option<String>, String)> = conn
        .prepare("SELECT e.number, p.number, e.project_run, e.parent, e.commit_sha, e.verdict FROM experiments e JOIN projects p ON p.id = e.project_id ORDER BY e.number")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(runs.len(), 4, "{runs:?}");
    let base: String = conn
        .query_row("SELECT base_commit FROM campaigns", [], |r| r.get(0))
        .unwrap();
    for project in [1, 2] {
        let first = runs.iter().find(|r| r.1 == project && r.2 == 1).unwrap();
        let second = runs.iter().find(|r| r.1 == project && r.2 == 2).unwrap();
        assert_eq!(
            first.3, base,
            "run 1 of project {project} starts from the base"
        );
        assert_eq!(
            Some(second.3.clone()),
            first.4,
            "run 2 of project {project} builds on run 1"
        );
    }
    // The vaccination project's first run crashed, was fixed, and the project went on.
    let vacc_first = runs.iter().find(|r| r.1 == 2 && r.2 == 1).unwrap();
    assert_ne!(vacc_first.5, "crashed", "{runs:?}");
    let fixes = llm
        .requests()
        .iter()
        .filter(|r| r.prompt_text().contains("boom-marker") && r.prompt_text().contains("crashed"))
        .count();
    assert!(fixes >= 1, "the crash went back to the coder");
    // The second ideation read the first project's review score (the archive).
    let ideation = llm
        .requests()
        .into_iter()
        .find(|r| r.prompt_text().contains("new, concrete, testable ideas"))
        .expect("an ideation");
    let prompt = ideation.prompt_text();
    assert!(
        prompt.contains("Modeling Threshold-Based Behavioral Responses in SEIR Dynamics (done; review Overall 5/10"),
        "{prompt}"
    );
}

/// A shell lab in projects mode without a paper: one idea, two runs.
pub(super) fn shell_projects_lab(llm: &FakeServer, extra: &str) -> TestLab {
    let lab = TestLab::new();
    lab.write("run.sh", "RATE=8\necho \"val_loss: 0.$RATE\"\n");
    lab.write(
        "autolab.toml",
        &format!(
            "[task]\nmode = \"projects\"\ngoal = \"Lower the loss.\"\ncommand = \"sh run.sh\"\neditable = [\"run.sh\"]\n\
             [metrics]\nscore = {{ val_loss = {{ goal = \"minimize\" }} }}\n[decide]\npolicy = \"strict\"\n\
             [agent]\nprovider = \"openai\"\nmodel = \"m\"\nbase_url = \"{}\"\nideas_per_call = 1\n\
             [projects]\nruns_per_idea = 2\npaper = false\n{extra}",
            llm.url()
        ),
    );
    lab.commit("lab");
    lab
}

fn shell_llm(r: &Recorded, hold: &std::sync::atomic::AtomicBool) -> FakeReply {
    let p = r.prompt_text();
    let text = if p.contains("new, concrete, testable ideas") {
        r#"{"ideas": [{"title": "Halve the rate", "hypothesis": "lower is better", "plan": "halve RATE", "files": ["run.sh"], "expected_effect": "lower loss", "risk": "low"}]}"#.to_string()
    } else if p.contains("Someone else will use notes.txt") {
        while hold.load(std::sync::atomic::Ordering::SeqCst) {
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        if p.contains("2 are done") {
            r#"{"notes": "Run 2 halved it again.", "done": true}"#.to_string()
        } else {
            r#"{"notes": "Run 1 halved the rate.", "done": false, "next": {"title": "halve again", "plan": "halve RATE again"}}"#.to_string()
        }
    } else if p.contains("SEARCH/REPLACE") {
        if p.contains("RATE=4") {
            "run.sh\n```sh\n<<<<<<< SEARCH\nRATE=4\n=======\nRATE=2\n>>>>>>> REPLACE\n```\n"
                .to_string()
        } else {
            "run.sh\n```sh\n<<<<<<< SEARCH\nRATE=8\n=======\nRATE=4\n>>>>>>> REPLACE\n```\n"
                .to_string()
        }
    } else {
        "A lesson.".to_string()
    };
    FakeReply::openai(text)
}

#[test]
fn a_project_killed_while_its_planner_thinks_goes_on_after_a_restart() {
    let hold = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
    let h = hold.clone();
    let llm = FakeServer::from_fn(move |r| shell_llm(r, &h));
    let lab = shell_projects_lab(&llm, "");
    let mut child = lab
        .cmd()
        .args(["run", "--tag", "t", "--max-experiments", "3"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Wait (bounded) for the planner's question about run 1, then kill autolab outright.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while !llm
        .requests()
        .iter()
        .any(|r| r.prompt_text().contains("Someone else will use notes.txt"))
    {
        assert!(
            std::time::Instant::now() < deadline,
            "the planner was never asked"
        );
        assert!(
            child.try_wait().unwrap().is_none(),
            "autolab ended before the planner was asked"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    hold.store(false, std::sync::atomic::Ordering::SeqCst);
    let conn = lab.ledger();
    assert_eq!(
        count(
            &conn,
            "SELECT COUNT(*) FROM projects WHERE status = 'running'"
        ),
        1
    );
    drop(conn);

    let again = lab
        .cmd()
        .args(["run", "--tag", "t", "--max-experiments", "3"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let out = output_within(again, std::time::Duration::from_secs(120));
    assert!(out.status.success(), "{}", stderr(&out));
    let conn = lab.ledger();
    assert_eq!(
        count(&conn, "SELECT COUNT(*) FROM projects"),
        1,
        "no second project for the same idea"
    );
    assert_eq!(
        count(&conn, "SELECT COUNT(*) FROM projects WHERE status = 'done'"),
        1,
        "{}",
        stderr(&out)
    );
    assert_eq!(
        count(
            &conn,
            "SELECT COUNT(*) FROM experiments WHERE project_id IS NOT NULL"
        ),
        2
    );
    let notes: String = conn
        .query_row("SELECT notes FROM projects", [], |r| r.get(0))
        .unwrap();
    assert!(
        notes.contains("## Run 1\nRun 1 halved the rate.") && notes.contains("## Run 2"),
        "{notes}"
    );
    let two = lab.json(&["show", "2", "--json"]);
    assert_eq!(two["score"], 0.2, "run 2 built on run 1: {two}");
}

#[test]
fn max_ideas_ends_the_campaign_when_its_projects_are_done() {
    let hold = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let h = hold.clone();
    let llm = FakeServer::from_fn(move |r| shell_llm(r, &h));
    let lab = shell_projects_lab(&llm, "max_ideas = 1\n");
    let out = lab.autolab(&["run", "--tag", "t", "--max-experiments", "50"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let conn = lab.ledger();
    assert_eq!(
        count(&conn, "SELECT COUNT(*) FROM projects WHERE status = 'done'"),
        1
    );
    assert_eq!(
        count(&conn, "SELECT COUNT(*) FROM experiments"),
        3,
        "the baseline and the project's two runs"
    );
    let results = lab.json(&["results", "--json"]);
    assert_eq!(results[2]["project"], 1, "{results}");
    assert_eq!(results[2]["project_run"], 2, "{results}");
    assert!(
        results[0].get("project").is_none(),
        "the baseline is no project's run"
    );
    // The archive is shown: status, report, dashboard.
    let status = stdout(&lab.autolab(&["status"]));
    assert!(
        status.contains("project    1 \"Halve the rate\" done, 2 run(s)"),
        "{status}"
    );
    let dir = lab.path().join("rep");
    let out = lab.autolab(&["report", "-o", &dir.to_string_lossy()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let md = lab.read("rep/report.md");
    assert!(
        md.contains("## Projects") && md.contains("| 1 | Halve the rate | done | 2 |"),
        "{md}"
    );
    let served = super::dashboard::server::Served::start(&lab, &[]);
    let (code, page) = served.get(&format!("/?token={}", served.token));
    assert_eq!(code, 200);
    assert!(
        page.contains("<section id=\"projects\">") && page.contains("Halve the rate"),
        "{page}"
    );
}

/// Two projects on separate lines: A's first run is worse (discarded), its second, built on
/// it, is kept; B's first run, from the base, beats A's.
pub(super) fn two_lines_llm(r: &Recorded) -> FakeReply {
    let p = r.prompt_text();
    let edit = |from: &str, to: &str| {
        format!(
            "run.sh\n```sh\n<<<<<<< SEARCH\nRATE={from}\n=======\nRATE={to}\n>>>>>>> REPLACE\n```\n"
        )
    };
    let text = if p.contains("new, concrete, testable ideas") {
        let (title, plan) = if p.contains("Earlier ideas") {
            ("Cut the rate hard", "set RATE to 1")
        } else {
            ("Raise the rate", "set RATE to 9")
        };
        format!(
            r#"{{"ideas": [{{"title": "{title}", "hypothesis": "h", "plan": "{plan}", "files": ["run.sh"], "expected_effect": "", "risk": "low"}}]}}"#
        )
    } else if p.contains("Someone else will use notes.txt") {
        if p.contains("idea: Raise the rate") && p.contains("1 are done") {
            r#"{"notes": "Worse.", "done": false, "next": {"title": "cut to 4", "plan": "set RATE to 4"}}"#.to_string()
        } else {
            r#"{"notes": "Done.", "done": true}"#.to_string()
        }
    } else if p.contains("SEARCH/REPLACE") {
        if p.contains("Cut the rate hard") {
            edit("8", "1")
        } else if p.contains("cut to 4") {
            edit("9", "4")
        } else {
            edit("8", "9")
        }
    } else {
        "A lesson.".to_string()
    };
    FakeReply::openai(text)
}

#[test]
fn the_incumbent_moves_across_project_lines_and_a_restart_accepts_it() {
    let llm = FakeServer::from_fn(two_lines_llm);
    let lab = shell_projects_lab(&llm, "max_ideas = 2\n");
    let out = lab.autolab(&["run", "--tag", "t", "--max-experiments", "10"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let show = |n: u32| lab.json(&["show", &n.to_string(), "--json"]);
    let (one, two, three) = (show(1), show(2), show(3));
    assert_eq!(
        (one["verdict"].as_str(), one["score"].as_f64()),
        (Some("discarded"), Some(0.9)),
        "{one}"
    );
    assert_eq!(two["verdict"], "kept", "{two}");
    assert_eq!(
        two["parent"], one["commit"],
        "run 2 of A builds on its discarded run 1"
    );
    assert_eq!(three["verdict"], "kept", "{three}");
    assert_eq!(three["score"], 0.1);
    let branch = lab.git(&["rev-parse", "autolab/t"]);
    assert_eq!(
        branch.trim(),
        three["commit"].as_str().unwrap(),
        "the incumbent branch jumped to B's run"
    );
    // A restart finds the branch where the ledger says and goes on (nothing is left to do).
    let out = lab.autolab(&["run", "--tag", "t", "--max-experiments", "10"]);
    assert!(out.status.success(), "{}", stderr(&out));
}

#[test]
fn a_planner_the_llm_cannot_reach_is_asked_again_and_the_project_goes_on() {
    let hold = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let h = hold.clone();
    let failed = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let f = failed.clone();
    // The first question to the planner meets an overloaded server (503); later ones do not.
    let llm = FakeServer::from_fn(move |r| {
        if r.prompt_text().contains("Someone else will use notes.txt")
            && !f.swap(true, std::sync::atomic::Ordering::SeqCst)
        {
            return FakeReply::status(503, "overloaded");
        }
        shell_llm(r, &h)
    });
    let lab = shell_projects_lab(&llm, "");
    let toml = lab.read("autolab.toml").replace(
        "ideas_per_call = 1\n",
        "ideas_per_call = 1\nmax_retries = 0\noutage_retry = \"1s\"\n",
    );
    lab.write("autolab.toml", &toml);
    lab.commit("retry fast");
    let out = lab.autolab(&["run", "--tag", "t", "--max-experiments", "3"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let conn = lab.ledger();
    assert_eq!(
        count(&conn, "SELECT COUNT(*) FROM projects WHERE status = 'done'"),
        1,
        "{}",
        stderr(&out)
    );
    assert_eq!(
        count(
            &conn,
            "SELECT COUNT(*) FROM experiments WHERE project_id IS NOT NULL"
        ),
        2,
        "the outage did not end the project"
    );
    let notes: String = conn
        .query_row("SELECT notes FROM projects", [], |r| r.get(0))
        .unwrap();
    assert_eq!(notes.matches("## Run 1").count(), 1, "{notes}");
}

#[test]
fn two_projects_run_side_by_side_on_two_slots() {
    let llm = FakeServer::from_fn(two_lines_llm);
    let lab = shell_projects_lab(&llm, "max_ideas = 2\n");
    let out = lab.autolab(&[
        "run",
        "--tag",
        "t",
        "--max-experiments",
        "10",
        "--parallel",
        "2",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let conn = lab.ledger();
    assert_eq!(
        count(&conn, "SELECT COUNT(*) FROM projects WHERE status = 'done'"),
        2,
        "{}",
        stderr(&out)
    );
    assert_eq!(
        count(
            &conn,
            "SELECT COUNT(*) FROM experiments WHERE project_id IS NOT NULL"
        ),
        3
    );
    // Whatever order the verdicts came in, the best run of any project is the incumbent.
    let status = lab.json(&["status", "--json"]);
    let best = &status["incumbent"];
    assert_eq!(best["score"], 0.1, "{status}");
    let branch = lab.git(&["rev-parse", "autolab/t"]);
    assert_eq!(Some(branch.trim()), best["commit"].as_str(), "{status}");
}

#[test]
fn links_planted_by_the_plot_command_are_not_written_through() {
    if !tools_or_skip() {
        return;
    }
    let outside = tempfile::tempdir().unwrap();
    let victim = outside.path().join("precious.txt");
    std::fs::write(&victim, "precious").unwrap();
    let hold = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let h = hold.clone();
    let llm = FakeServer::from_fn(move |r| {
        let p = r.prompt_text();
        if p.contains("# Write the section")
            || p.contains("## Review form")
            || p.contains("literature search queries")
        {
            writer(r)
        } else {
            shell_llm(r, &h)
        }
    });
    let lab = shell_projects_lab(&llm, "");
    lab.write(
        "plot.sh",
        &format!(
            "ln -s {v} review.txt\nln -s {v} halve_the_rate.pdf\nmkdir -p elsewhere && ln -s {o} paper\n",
            v = victim.display(),
            o = outside.path().display()
        ),
    );
    let toml = lab
        .read("autolab.toml")
        .replace("paper = false\n", "plot = \"sh plot.sh\"\n")
        + "[writeup]\nqueries = 0\nreviews = 1\nreflections = 0\n";
    lab.write("autolab.toml", &toml);
    lab.commit("a plot that plants links");
    let out = lab.autolab(&["run", "--tag", "t", "--max-experiments", "3"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious");
    assert_eq!(
        std::fs::read_dir(outside.path()).unwrap().count(),
        1,
        "nothing written outside"
    );
    let conn = lab.ledger();
    let dir: String = conn
        .query_row("SELECT dir FROM projects", [], |r| r.get(0))
        .unwrap();
    let review = std::path::Path::new(&dir).join("review.txt");
    assert!(
        !std::fs::symlink_metadata(&review)
            .unwrap()
            .file_type()
            .is_symlink()
    );
    assert!(
        std::fs::read_to_string(&review)
            .unwrap()
            .contains("Overall")
    );
}
