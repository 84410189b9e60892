//! BibTeX built from the records, checked by the real bibtex when there is one.

use super::*;

fn balanced(s: &str) -> bool {
    let mut depth = 0i32;
    for c in s.chars() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            _ => {}
        }
        if depth < 0 {
            return false;
        }
    }
    depth == 0
}

fn tricky() -> Vec<Paper> {
    vec![
        Paper {
            venue: Some("NeurIPS".into()),
            doi: Some("10.5555/3295222.3295349".into()),
            url: Some("https://example.org/a_b?x=1&y=50%25#frag {x}".into()),
            ..paper(
                "Attention Is All You Need",
                &["Ashish Vaswani", "Noam Shazeer"],
                2017,
            )
        },
        Paper {
            arxiv_id: Some("1706.03762".into()),
            ..paper(
                "Attention is all you need (again)",
                &["Ashish Vaswani"],
                2017,
            )
        },
        paper(
            "Attention: R&D at 100% with snake_case {braces} $x^2$ ~ # \\ and\u{7} bells",
            &["Ashish Vaswani"],
            2017,
        ),
        paper(
            "Über die Natur",
            &["José Müller-Łukasiewicz", "Smith and Sons, Ltd, Inc"],
            1999,
        ),
        Paper {
            year: None,
            ..paper("The", &[], 2000)
        },
    ]
}

#[test]
fn bibtex_keys_are_unique_and_values_escaped() {
    let (keys, bib) = bibtex(&tricky());
    assert_eq!(
        keys,
        [
            "vaswani2017attention",
            "vaswani2017attentiona",
            "vaswani2017attentionb",
            "mullerlukasiewicz1999uber",
            "anonnd",
        ]
    );
    let entries: Vec<&str> = bib.split("\n\n").filter(|e| !e.trim().is_empty()).collect();
    assert_eq!(entries.len(), 5);
    for (entry, key) in entries.iter().zip(&keys) {
        assert!(balanced(entry), "{entry}");
        assert!(entry.trim_start().starts_with('@'), "{entry}");
        assert!(entry.contains(&format!("{{{key},")), "{entry}");
    }
    assert!(entries[0].starts_with("@article{vaswani2017attention,"));
    assert!(entries[0].contains("  title = {{Attention Is All You Need}},"));
    assert!(entries[0].contains("  author = {Ashish Vaswani and Noam Shazeer},"));
    assert!(entries[0].contains("  journal = {NeurIPS},"));
    assert!(entries[0].contains("  doi = {10.5555/3295222.3295349},"));
    assert!(
        entries[0]
            .contains(r"  url = {https://example.org/a\_b?x=1\&y=50\%25\#frag\%20\%7Bx\%7D},"),
        "{}",
        entries[0]
    );
    assert!(entries[1].starts_with("@misc{"));
    assert!(entries[1].contains("  eprint = {1706.03762},"));
    assert!(entries[1].contains("  archivePrefix = {arXiv},"));
    assert!(entries[1].contains("  howpublished = {arXiv preprint arXiv:1706.03762},"));
    assert!(entries[2].contains(
        r"title = {{Attention: R\&D at 100\% with snake\_case \textbraceleft{}braces\textbraceright{} \$x\textasciicircum{}2\$ \textasciitilde{} \# \textbackslash{} and bells}},"
    ), "{}", entries[2]);
    assert!(
        entries[3].contains("author = {José Müller-Łukasiewicz and {Smith and Sons, Ltd, Inc}},"),
        "{}",
        entries[3]
    );
    assert!(entries[3].contains("title = {{Über die Natur}}"));
    assert!(!entries[4].contains("year"));
    assert!(!bib.contains('\u{7}'));
}

#[test]
fn real_bibtex_accepts_the_file() {
    let Ok(out) = std::process::Command::new("bibtex")
        .arg("--version")
        .output()
    else {
        eprintln!("skipped: the `bibtex` program is not installed");
        return;
    };
    if !out.status.success() {
        eprintln!("skipped: `bibtex --version` failed");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut papers = tricky();
    papers.extend(corpus());
    let (keys, bib) = bibtex(&papers);
    std::fs::write(dir.path().join("refs.bib"), bib).unwrap();
    let aux: String = keys
        .iter()
        .map(|k| format!("\\citation{{{k}}}\n"))
        .chain(["\\bibstyle{plain}\n\\bibdata{refs}\n".to_string()])
        .collect();
    std::fs::write(dir.path().join("paper.aux"), aux).unwrap();
    let run = std::process::Command::new("bibtex")
        .arg("paper")
        .current_dir(dir.path())
        .output()
        .unwrap();
    let blg = std::fs::read_to_string(dir.path().join("paper.blg")).unwrap_or_default();
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(run.status.success(), "{stdout}\n{blg}");
    assert!(!blg.to_lowercase().contains("error"), "{blg}");
    let bbl = std::fs::read_to_string(dir.path().join("paper.bbl")).unwrap();
    for key in &keys {
        assert!(bbl.contains(&format!("\\bibitem{{{key}}}")), "{key}\n{bbl}");
    }

    // And LaTeX typesets the bibliography, when it is installed.
    let tex = format!(
        "\\documentclass{{article}}\n\\usepackage[utf8]{{inputenc}}\n\\usepackage[T1]{{fontenc}}\n\\begin{{document}}\n\\cite{{{}}}\n\\bibliographystyle{{plain}}\n\\bibliography{{refs}}\n\\end{{document}}\n",
        keys.join(",")
    );
    std::fs::write(dir.path().join("paper.tex"), tex).unwrap();
    match std::process::Command::new("pdflatex")
        .args(["-interaction=nonstopmode", "-halt-on-error", "paper.tex"])
        .current_dir(dir.path())
        .output()
    {
        Ok(latex) => assert!(
            latex.status.success(),
            "{}",
            String::from_utf8_lossy(&latex.stdout)
        ),
        Err(e) => eprintln!("pdflatex not run ({e}): only bibtex was checked"),
    }
}
