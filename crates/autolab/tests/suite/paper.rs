//! `autolab paper` and `autolab review` against a fake LLM and a fake literature service, with
//! the real latexmk / pdflatex / bibtex / chktex / pdftotext: the PDF holds the ledger's best
//! score and no number that is not a ledger fact; a made-up number is re-asked; a LaTeX error
//! is fixed; a citation outage still gives a paper; AI-Scientist's seir template is used as is.

use autolab_engine::literature::fake::LiteratureServer;
use autolab_engine::literature::{Paper, Source};
use autolab_engine::writeup::facts::Facts;
use autolab_llm::fake::{FakeReply, FakeServer, Recorded};

use super::common::*;

pub(super) fn tools_or_skip() -> bool {
    let ok = ["latexmk", "pdflatex", "bibtex", "pdftotext", "chktex"]
        .iter()
        .all(|t| {
            std::process::Command::new("sh")
                .args(["-c", &format!("command -v {t}")])
                .output()
                .is_ok_and(|o| o.status.success())
        });
    if !ok {
        skip(
            "LaTeX tools missing (CI installs texlive-latex-base texlive-latex-extra latexmk chktex poppler-utils)",
        );
    }
    ok
}

pub(super) fn corpus() -> Vec<Paper> {
    vec![Paper {
        title: "Random Search for Hyper-Parameter Optimization".into(),
        authors: vec!["James Bergstra".into(), "Yoshua Bengio".into()],
        year: Some(2012),
        venue: Some("Journal of Machine Learning Research".into()),
        abstract_text: Some("Grid search and manual search are the most widely used strategies for hyper-parameter optimization of loss.".into()),
        url: None,
        doi: None,
        arxiv_id: Some("1206.5533".into()),
        citations: Some(7000),
        source: Source::SemanticScholar,
    }]
}

/// A finished 8-experiment campaign over one integer parameter (no LLM during the run).
fn campaign() -> TestLab {
    let lab = TestLab::new();
    lab.write("run.sh", "x=${P_X:-9}\necho \"val_loss: 0.$x\"\n");
    lab.write(
        "autolab.toml",
        "[task]\ngoal = \"Lower the loss of a hyper-parameter search.\"\ncommand = \"sh run.sh\"\n[metrics]\nscore = { val_loss = { goal = \"minimize\" } }\n\
         [params]\napply = { env = \"P_\" }\nx = { int = [1, 9] }\n[decide]\npolicy = \"strict\"\n",
    );
    lab.commit("lab");
    let out = lab.autolab(&["run", "--tag", "t", "--max-experiments", "8", "--seed", "3"]);
    assert!(out.status.success(), "{}", stderr(&out));
    lab
}

/// The LLM and literature sections of autolab.toml, appended after the campaign ran.
fn configure(lab: &TestLab, llm: &FakeServer, lit: &LiteratureServer, extra: &str) {
    let e = lit.endpoints();
    let toml = lab.read("autolab.toml");
    lab.write(
        "autolab.toml",
        &format!(
            "{toml}[agent]\nprovider = \"openai\"\nmodel = \"writer-model\"\nbase_url = \"{}\"\n\
             [writeup]\nsemantic_scholar_url = \"{}\"\nopenalex_url = \"{}\"\narxiv_url = \"{}\"\nliterature_retries = 0\nqueries = 1\n{extra}",
            llm.url(),
            e.semantic_scholar,
            e.openalex,
            e.arxiv
        ),
    );
}

/// The citation keys a section prompt offers.
fn offered_keys(prompt: &str) -> Vec<String> {
    prompt
        .split("# Papers you may cite")
        .nth(1)
        .map(|rest| {
            rest.lines()
                .skip(1)
                .take_while(|l| !l.trim().is_empty())
                .filter_map(|l| l.split(':').next().map(|k| k.trim().to_string()))
                .collect()
        })
        .unwrap_or_default()
}

const REVIEW: &str = r#"{"Summary": "A campaign.", "Strengths": ["traceable numbers"], "Weaknesses": ["small"], "Originality": 2, "Quality": 3, "Clarity": 3, "Significance": 2, "Questions": ["why x?"], "Limitations": ["one task"], "Ethical Concerns": false, "Soundness": 3, "Presentation": 3, "Contribution": 2, "Overall": OVERALL, "Confidence": 4, "Decision": "Reject"}"#;

/// A writer that follows the protocol, except that it makes up a number in Results (until
/// re-asked) and writes an undefined command in Method (until told it does not compile).
pub(super) fn writer(r: &Recorded) -> FakeReply {
    let p = r.prompt_text();
    let last = last_message(r);
    let cite = offered_keys(&p)
        .first()
        .map(|k| format!(" \\citep{{{k}}}"))
        .unwrap_or_default();
    let text = if p.contains("Area Chair") {
        format!(
            "THOUGHT: joined\nREVIEW JSON:\n```json\n{}\n```",
            REVIEW.replace("OVERALL", "4")
        )
    } else if last.starts_with("Round ") {
        format!(
            "THOUGHT: fine. I am done\nREVIEW JSON:\n```json\n{}\n```",
            REVIEW.replace("OVERALL", "5")
        )
    } else if p.contains("## Review form") {
        format!(
            "THOUGHT: ok\nREVIEW JSON:\n```json\n{}\n```",
            REVIEW.replace("OVERALL", "5")
        )
    } else if p.contains("literature search queries") {
        r#"{"queries": ["hyper-parameter search loss"]}"#.into()
    } else if last.contains("does not compile") {
        "We changed the parameter as the table shows (\\cref{tab:results}).".into()
    } else if last.contains("cannot be used as written") {
        "The best score is \\fact{best.score} against \\fact{baseline.score} (\\cref{tab:results}, \\cref{fig:progress}).".into()
    } else if p.contains("Write the section: title") {
        "Traceable Search".into()
    } else if p.contains("Write the section: results") {
        "It improves the loss by 37.5\\% over the baseline. The best score is \\fact{best.score}."
            .into()
    } else if p.contains("Write the section: method") {
        "We searched $\\alpha over one parameter.".into()
    } else {
        format!(
            "This work ran \\fact{{experiments}} experiments and reached \\fact{{best.score}}{cite}."
        )
    };
    FakeReply::openai(text)
}

/// Numbers in the PDF's text before the references that are not ledger facts (page, section,
/// table and figure numbers and citation brackets left out).
fn numbers_not_facts(text: &str, facts: &Facts) -> Vec<String> {
    let body = text.split("References").next().unwrap_or(text);
    let mut bad = Vec::new();
    for line in body.lines() {
        let mut l = line.trim().to_string();
        if l.chars().all(|c| c.is_ascii_digit()) {
            continue; // a page number
        }
        for prefix in ["Table ", "Figure "] {
            if let Some(rest) = l.strip_prefix(prefix) {
                l = rest.split_once(':').map_or(rest, |(_, r)| r).to_string();
            }
        }
        // A section heading: "3 Method", "4.1 Setup".
        let first = l.split_whitespace().next().unwrap_or("");
        if first.chars().all(|c| c.is_ascii_digit() || c == '.')
            && l.split_whitespace()
                .nth(1)
                .is_some_and(|w| w.starts_with(|c: char| c.is_uppercase()))
        {
            l = l[first.len()..].to_string();
        }
        // Citation brackets: [1], [1, 2].
        let mut cleaned = String::new();
        let mut in_bracket = false;
        for c in l.chars() {
            match c {
                '[' => in_bracket = true,
                ']' => in_bracket = false,
                _ if !in_bracket => cleaned.push(c),
                _ => {}
            }
        }
        let chars: Vec<char> = cleaned.chars().collect();
        let mut i = 0;
        while i < chars.len() {
            if chars[i].is_ascii_digit() && (i == 0 || !(chars[i - 1].is_alphanumeric())) {
                let start = i;
                while i < chars.len()
                    && (chars[i].is_ascii_digit()
                        || (chars[i] == '.' && chars.get(i + 1).is_some_and(char::is_ascii_digit)))
                {
                    i += 1;
                }
                let tok: String = chars[start..i].iter().collect();
                let attached = chars.get(i).is_some_and(|c| c.is_alphabetic());
                let decimals = tok.split('.').nth(1).map_or(0, |d| d.len() as u32);
                let percent = chars.get(i) == Some(&'%');
                let negative = start > 0 && chars[start - 1] == '-';
                let v: f64 = tok.parse().unwrap();
                let v = if negative { -v } else { v };
                // `#3` is an experiment id: a fact too (kept.N.id / best.id / baseline.id).
                if !attached && !facts.admits(v, decimals, percent) {
                    bad.push(format!("{tok} in: {line}"));
                }
            }
            i += 1;
        }
    }
    bad
}

fn pdf_text(path: &std::path::Path) -> String {
    let out = std::process::Command::new("pdftotext")
        .arg(path)
        .arg("-")
        .output()
        .unwrap();
    assert!(out.status.success());
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn a_paper_holds_only_ledger_numbers_and_its_review_is_stored() {
    if !tools_or_skip() {
        return;
    }
    let lab = campaign();
    let llm = FakeServer::from_fn(writer);
    let lit = LiteratureServer::start(corpus());
    configure(&lab, &llm, &lit, "reviews = 2\nreflections = 1\n");
    let out = lab.autolab(&["paper", "--review"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let dir = lab.path().join(".autolab/papers/t");
    let pdf = dir.join("paper.pdf");
    assert!(pdf.is_file(), "{}", stderr(&out));
    assert!(stdout(&out).contains(&pdf.display().to_string()));

    let report_dir = lab.path().join("facts");
    let out2 = lab.autolab(&[
        "report",
        "--format",
        "json",
        "-o",
        &report_dir.to_string_lossy(),
    ]);
    assert!(out2.status.success());
    let report: serde_json::Value = serde_json::from_str(&lab.read("facts/report.json")).unwrap();
    let facts = Facts::from_report(&report);
    let text = pdf_text(&pdf);
    let best = facts.get("best.score").unwrap();
    assert!(
        text.contains(&best.text),
        "best {} not in:\n{text}",
        best.text
    );
    let bad = numbers_not_facts(&text, &facts);
    assert!(
        bad.is_empty(),
        "numbers that are not ledger facts: {bad:?}\n{text}"
    );
    assert!(!text.contains("37.5"), "{text}");
    // The made-up number was caught and re-asked with its sentence.
    let reasks: Vec<_> = llm
        .requests()
        .into_iter()
        .filter(|r| r.prompt_text().contains("cannot be used as written"))
        .collect();
    assert_eq!(reasks.len(), 1);
    assert!(
        reasks[0]
            .prompt_text()
            .contains("\"It improves the loss by 37.5\\% over the baseline.\": the number 37.5"),
        "{}",
        reasks[0].prompt_text()
    );
    // The LaTeX error: the first attempt failed, the LLM fixed the section, the second built.
    assert!(dir.join("attempt-1/build.log").is_file());
    assert!(!dir.join("attempt-1/paper.pdf").exists());
    assert!(dir.join("attempt-2/paper.pdf").is_file());
    let fixes: Vec<_> = llm
        .requests()
        .into_iter()
        .filter(|r| r.prompt_text().contains("does not compile"))
        .collect();
    assert_eq!(fixes.len(), 1);
    assert!(
        fixes[0].prompt_text().contains("$\\alpha over"),
        "{}",
        fixes[0].prompt_text()
    );
    // Related work cites the record the service gave, with BibTeX built from it.
    assert!(
        text.contains("Random Search for Hyper-Parameter Optimization"),
        "{text}"
    );
    let bib = std::fs::read_to_string(dir.join("attempt-2/references.bib")).unwrap();
    assert!(
        bib.contains("bergstra2012random") && bib.contains("1206.5533"),
        "{bib}"
    );
    // Ledger: the paper row, the LLM exchanges, the cached search; the review rows.
    let conn = lab.ledger();
    assert_eq!(
        count(
            &conn,
            "SELECT COUNT(*) FROM writeups WHERE kind = 'paper' AND body LIKE '%\"compiled\"%'"
        ),
        1
    );
    assert!(
        count(
            &conn,
            "SELECT COUNT(*) FROM transcripts WHERE role = 'writer'"
        ) >= 10
    );
    assert_eq!(count(&conn, "SELECT COUNT(*) FROM literature"), 1);
    assert_eq!(
        count(
            &conn,
            "SELECT COUNT(*) FROM writeups WHERE kind = 'review' AND model = 'writer-model' AND temperature > 0.7 AND length(prompt_hash) = 16"
        ),
        2
    );
    assert_eq!(
        count(
            &conn,
            "SELECT COUNT(*) FROM writeups WHERE kind = 'meta-review'"
        ),
        1
    );
    let review: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("review.json")).unwrap()).unwrap();
    for field in autolab_engine::writeup::review::FIELDS {
        assert!(
            !review["meta_review"][field].is_null(),
            "{field} missing: {review}"
        );
        assert!(
            !review["reviews"][0]["form"][field].is_null(),
            "{field} missing: {review}"
        );
    }
    // The meta-review's scores are the reviewers' means, not the area chair's.
    assert_eq!(review["meta_review"]["Overall"], 5);
    assert!(
        stdout(&out).contains("Overall 5 / 10, Reject"),
        "{}",
        stdout(&out)
    );

    // Again: the search comes from the cache, the earlier attempts and PDF stay.
    let before = lit.requests(Source::SemanticScholar).len();
    let out = lab.autolab(&["paper"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(lit.requests(Source::SemanticScholar).len(), before);
    assert!(dir.join("attempt-1").is_dir() && dir.join("attempt-2/paper.pdf").is_file());
    assert!(
        dir.join("attempt-4/paper.pdf").is_file(),
        "a fresh attempt each time"
    );
}

#[test]
fn a_citation_outage_still_yields_a_paper_and_a_note() {
    if !tools_or_skip() {
        return;
    }
    let lab = campaign();
    let llm = FakeServer::from_fn(writer);
    let lit = LiteratureServer::start(corpus());
    for s in [Source::SemanticScholar, Source::OpenAlex, Source::Arxiv] {
        lit.down(s);
    }
    lit.fail(Source::SemanticScholar, 429, 100);
    configure(&lab, &llm, &lit, "");
    let out = lab.autolab(&["paper"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(lab.path().join(".autolab/papers/t/paper.pdf").is_file());
    let err = stderr(&out);
    assert!(err.contains("written without their citations"), "{err}");
    assert!(
        err.contains("Semantic Scholar") && err.contains("arXiv"),
        "{err}"
    );
    for s in [Source::SemanticScholar, Source::OpenAlex, Source::Arxiv] {
        assert_eq!(
            lit.requests(s).len(),
            1,
            "{s:?}: asked once (literature_retries = 0)"
        );
    }
}

#[test]
fn a_missing_latex_tool_is_named_before_any_llm_call() {
    let lab = campaign();
    let llm = FakeServer::from_fn(writer);
    let lit = LiteratureServer::start(corpus());
    configure(&lab, &llm, &lit, "");
    // A PATH with git and a shell, and nothing of LaTeX.
    let bin = lab.path().join("only-git");
    std::fs::create_dir_all(&bin).unwrap();
    for tool in ["git", "sh"] {
        let found = std::process::Command::new("sh")
            .args(["-c", &format!("command -v {tool}")])
            .output()
            .unwrap();
        std::os::unix::fs::symlink(
            String::from_utf8_lossy(&found.stdout).trim(),
            bin.join(tool),
        )
        .unwrap();
    }
    let out = lab.cmd().arg("paper").env("PATH", &bin).output().unwrap();
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains("latexmk") && err.contains("apt-get install"),
        "{err}"
    );
    assert!(
        llm.requests().is_empty(),
        "no LLM call before the preflight passed"
    );
}

#[test]
fn a_lab_without_an_agent_is_told_to_use_report() {
    let lab = campaign();
    let out = lab.autolab(&["paper"]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("autolab report"), "{}", stderr(&out));
}

/// A Python that has numpy, scipy and matplotlib (Debian's, which `.ci/run` gives them).
pub(super) fn science_python() -> Option<String> {
    ["/usr/bin/python3", "python3"].into_iter().find_map(|py| {
        std::process::Command::new(py)
            .args(["-c", "import numpy, scipy, matplotlib"])
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|_| py.to_string())
    })
}

pub(super) fn copy_tree(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap().flatten() {
        let target = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_tree(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), target).unwrap();
        }
    }
}

#[test]
fn ai_scientists_seir_template_is_filled_unchanged() {
    if !tools_or_skip() {
        return;
    }
    let Some(python) = science_python() else {
        skip(
            "no python3 with numpy, scipy and matplotlib (CI installs python3-numpy python3-scipy python3-matplotlib)",
        );
        return;
    };
    let fixture =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/ai-scientist-seir");
    let lab = TestLab::new();
    copy_tree(&fixture, lab.path());
    let llm = FakeServer::from_fn(|r| {
        if r.prompt_text().contains("SEARCH/REPLACE") {
            FakeReply::openai(
                "experiment.py\n```python\n<<<<<<< SEARCH\n        args=(0.001, 14, 7),\n=======\n        args=(0.0008, 14, 7),\n>>>>>>> REPLACE\n```\n",
            )
        } else {
            writer(r)
        }
    });
    let lit = LiteratureServer::start(corpus());
    lab.write(
        "autolab.toml",
        &format!(
            "[task]\ncommand = \"{python} experiment.py --out_dir={{run_dir}}\"\neditable = [\"experiment.py\", \"plot.py\"]\n\
             [metrics]\nsources = [{{ kind = \"json\", file = \"final_info.json\", pointer = \"/*/means\" }}]\nscore = {{ infected_peak = {{ goal = \"minimize\" }} }}\n\
             [decide]\npolicy = \"strict\"\n"
        ),
    );
    lab.commit("seir template");
    configure(&lab, &llm, &lit, "");
    lab.commit("agent");
    let out = lab.autolab(&["run", "--tag", "seir", "--max-experiments", "2"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let one = lab.json(&["show", "1", "--json"]);
    assert_eq!(one["verdict"], "kept", "{one}");

    let out = lab.autolab(&["paper"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let dir = lab.path().join(".autolab/papers/seir");
    // The lab's template is untouched; the paper is that template, filled.
    let original = std::fs::read_to_string(fixture.join("latex/template.tex")).unwrap();
    assert_eq!(lab.read("latex/template.tex"), original);
    assert_eq!(lab.git(&["status", "--porcelain", "latex"]), "");
    let attempt = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.join("paper.pdf").is_file())
        .max()
        .expect("an attempt that built");
    let tex = std::fs::read_to_string(attempt.join("paper.tex")).unwrap();
    let preamble = original.split("\\begin{filecontents}").next().unwrap();
    assert!(
        tex.starts_with(preamble),
        "the template's preamble, as it is"
    );
    assert!(tex.contains("This work was generated by \\textsc{The AI Scientist}"));
    assert!(
        !tex.contains("HERE") && !tex.contains("seir_plot_run_0.png"),
        "placeholders and the example figure replaced"
    );
    assert!(attempt.join("iclr2024_conference.sty").is_file());
    let text = pdf_text(&dir.join("paper.pdf"));
    let score = one["score"].as_f64().unwrap();
    assert!(
        text.contains(&autolab_engine::writeup::facts::shown(score)),
        "best {score} not in:\n{text}"
    );
    // The template's own bibliography entry is cited and resolved by its .bst.
    let flat = text.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(flat.contains("The AI Scientist: Towards"), "{text}");
}

#[test]
fn a_build_that_fails_keeps_the_earlier_paper() {
    if !tools_or_skip() {
        return;
    }
    let lab = campaign();
    let llm = FakeServer::from_fn(writer);
    let lit = LiteratureServer::start(corpus());
    configure(&lab, &llm, &lit, "");
    let out = lab.autolab(&["paper"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let pdf = lab.path().join(".autolab/papers/t/paper.pdf");
    let good = std::fs::read(&pdf).unwrap();
    // No fix allowed now: the Method section's LaTeX error stays, the build fails.
    let toml = lab.read("autolab.toml");
    lab.write("autolab.toml", &format!("{toml}fix_attempts = 0\n"));
    let out = lab.autolab(&["paper"]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains("no paper was built") && err.contains("Missing $ inserted"),
        "{err}"
    );
    assert!(err.contains("the earlier paper is still there"), "{err}");
    assert_eq!(std::fs::read(&pdf).unwrap(), good, "paper.pdf untouched");
    let failed = lab.path().join(".autolab/papers/t/attempt-3");
    assert!(failed.join("paper.tex").is_file() && failed.join("build.log").is_file());
    let conn = lab.ledger();
    assert_eq!(
        count(
            &conn,
            "SELECT COUNT(*) FROM writeups WHERE kind = 'paper' AND body LIKE '%\"failed\"%'"
        ),
        1
    );
}
