//! LaTeX: the template's placeholders filled (AI-Scientist's `TITLE HERE`, `INTRO HERE`, …),
//! the bibliography added, the build run with `latexmk` (pdflatex + bibtex, no shell escape,
//! bounded in time) and checked with `chktex`; and the preflight that names a missing tool
//! with the command that installs it before any money is spent.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The neutral article shipped in the binary (same placeholders as AI-Scientist's templates).
pub const BUILTIN_TEMPLATE: &str = include_str!("template.tex");

/// The install line for the tools the write-up uses (Debian/Ubuntu).
pub const INSTALL: &str = "apt-get install -y --no-install-recommends texlive-latex-base texlive-latex-extra texlive-science latexmk chktex poppler-utils";

/// A section of the paper and the placeholder it fills.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Section {
    pub name: &'static str,
    pub placeholder: &'static str,
    /// The `\section` title used when a template lacks the placeholder.
    pub heading: &'static str,
}

/// AI-Scientist's sections, in the paper's order.
pub const SECTIONS: [Section; 9] = [
    Section {
        name: "title",
        placeholder: "TITLE HERE",
        heading: "",
    },
    Section {
        name: "abstract",
        placeholder: "ABSTRACT HERE",
        heading: "",
    },
    Section {
        name: "introduction",
        placeholder: "INTRO HERE",
        heading: "Introduction",
    },
    Section {
        name: "related work",
        placeholder: "RELATED WORK HERE",
        heading: "Related Work",
    },
    Section {
        name: "background",
        placeholder: "BACKGROUND HERE",
        heading: "Background",
    },
    Section {
        name: "method",
        placeholder: "METHOD HERE",
        heading: "Method",
    },
    Section {
        name: "experimental setup",
        placeholder: "EXPERIMENTAL SETUP HERE",
        heading: "Experimental Setup",
    },
    Section {
        name: "results",
        placeholder: "RESULTS HERE",
        heading: "Results",
    },
    Section {
        name: "conclusion",
        placeholder: "CONCLUSIONS HERE",
        heading: "Conclusions and Future Work",
    },
];

/// Which tools are there.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Toolchain {
    pub chktex: bool,
}

fn on_path(tool: &str) -> bool {
    std::env::var_os("PATH").is_some_and(|paths| {
        std::env::split_paths(&paths).any(|d| {
            let p = d.join(tool);
            p.is_file()
                && std::fs::metadata(&p)
                    .map(|m| std::os::unix::fs::PermissionsExt::mode(&m.permissions()) & 0o111 != 0)
                    .unwrap_or(false)
        })
    })
}

/// The tools a paper needs (`latexmk`, `pdflatex`, `bibtex`) and, with `review`, `pdftotext`;
/// an error naming every missing one with the install command. `chktex` is optional.
pub fn preflight(review: bool) -> Result<Toolchain, String> {
    let mut needed = vec!["latexmk", "pdflatex", "bibtex"];
    if review {
        needed.push("pdftotext");
    }
    let missing: Vec<&str> = needed.into_iter().filter(|t| !on_path(t)).collect();
    if !missing.is_empty() {
        return Err(format!(
            "the write-up needs {} (not found on PATH); install with: {INSTALL}",
            missing.join(", ")
        ));
    }
    Ok(Toolchain {
        chktex: on_path("chktex"),
    })
}

/// Inserts `text` before the last occurrence of `marker` (or at the end).
fn insert_before_last(doc: &mut String, marker: &str, text: &str) {
    let at = doc.rfind(marker).unwrap_or(doc.len());
    doc.insert_str(at, text);
}

/// The template with every section filled, the figures and tables in Results, and the
/// bibliography's entries added (to the template's `filecontents` block when it has one).
/// Returns the document and the 1-based line where each section's text starts.
pub fn fill(
    template: &str,
    texts: &[(Section, String)],
    floats: &str,
    bib: &str,
) -> (String, Vec<(&'static str, usize)>) {
    let mut doc = template.to_string();
    // The template's example figure (AI-Scientist's) gives way to the ledger's figures.
    let mut floats_placed = false;
    if let Some(start) = doc.find("% EXAMPLE FIGURE")
        && let Some(len) = doc[start..].find("\\end{figure}")
    {
        let end = start + len + "\\end{figure}".len();
        doc.replace_range(start..end, floats);
        floats_placed = true;
    }
    for (section, text) in texts {
        let body = if section.name == "results" && !floats_placed {
            floats_placed = true;
            format!("{text}\n\n{floats}")
        } else {
            text.clone()
        };
        if doc.contains(section.placeholder) {
            doc = doc.replacen(section.placeholder, &body, 1);
        } else if !section.heading.is_empty() {
            let block = format!("\\section{{{}}}\n{body}\n\n", section.heading);
            let marker = ["\\bibliographystyle", "\\bibliography{", "\\end{document}"]
                .into_iter()
                .find(|m| doc.contains(m))
                .unwrap_or("\\end{document}");
            insert_before_last(&mut doc, marker, &block);
        }
    }
    if !bib.trim().is_empty()
        && let Some(start) = doc.find("\\begin{filecontents}{references.bib}")
        && let Some(len) = doc[start..].find("\\end{filecontents}")
    {
        doc.insert_str(start + len, &format!("{bib}\n"));
    }
    if !doc.contains("\\cite") {
        // No citation at all: bibtex would fail on an empty bibliography.
        doc = doc
            .lines()
            .filter(|l| {
                let t = l.trim_start();
                !(t.starts_with("\\bibliographystyle{") || t.starts_with("\\bibliography{"))
            })
            .collect::<Vec<_>>()
            .join("\n");
        doc.push('\n');
    } else if !doc.contains("\\bibliography{") {
        insert_before_last(
            &mut doc,
            "\\end{document}",
            "\\bibliographystyle{plainnat}\n\\bibliography{references}\n",
        );
    }
    let mut starts = Vec::new();
    for (section, text) in texts {
        let probe: String = text
            .lines()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("")
            .to_string();
        if let Some(at) = (!probe.is_empty()).then(|| doc.find(&probe)).flatten() {
            starts.push((section.name, doc[..at].matches('\n').count() + 1));
        }
    }
    (doc, starts)
}

/// The template's own `filecontents` bibliography, so `references.bib` can be written with it.
pub fn template_bib(template: &str) -> String {
    let Some(start) = template.find("\\begin{filecontents}{references.bib}") else {
        return String::new();
    };
    let body = &template[start + "\\begin{filecontents}{references.bib}".len()..];
    body.find("\\end{filecontents}")
        .map_or(String::new(), |end| body[..end].to_string())
}

/// What a build gave.
#[derive(Debug, Clone, Default)]
pub struct Build {
    pub pdf: Option<PathBuf>,
    /// The first errors of the log, with their `file:line:` when LaTeX gave one.
    pub errors: Vec<String>,
    /// chktex's warnings (empty when it is not installed).
    pub warnings: Vec<String>,
    pub log: PathBuf,
}

/// Runs `cmd` in `dir` with stdout and stderr to `log`, killed after `limit`.
fn run_bounded(mut cmd: Command, dir: &Path, log: &Path, limit: Duration) -> Result<bool, String> {
    let out =
        std::fs::File::create(log).map_err(|e| format!("cannot write {}: {e}", log.display()))?;
    let err = out.try_clone().map_err(|e| e.to_string())?;
    // Its own process group, so a timeout stops pdflatex and bibtex too, not only latexmk.
    std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
    let mut child = cmd
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .spawn()
        .map_err(|e| format!("cannot start {:?}: {e}", cmd.get_program()))?;
    let deadline = Instant::now() + limit;
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return Ok(status.success()),
            Ok(None) if Instant::now() >= deadline => {
                let _ = nix::sys::signal::killpg(
                    nix::unistd::Pid::from_raw(child.id() as i32),
                    nix::sys::signal::Signal::SIGKILL,
                );
                let _ = child.kill();
                let _ = child.wait();
                wait_group_gone(child.id() as i32, Duration::from_secs(5));
                return Err(format!(
                    "{:?} took longer than {}s and was stopped",
                    cmd.get_program(),
                    limit.as_secs()
                ));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(50)),
            Err(e) => return Err(e.to_string()),
        }
    }
}

/// Whether a process of group `pgid` still runs (zombies aside).
fn group_alive(pgid: i32) -> bool {
    std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .any(|e| {
            let stat = std::fs::read_to_string(e.path().join("stat")).unwrap_or_default();
            let Some((_, rest)) = stat.rsplit_once(')') else {
                return false;
            };
            let f: Vec<&str> = rest.split_whitespace().collect();
            f.len() > 2 && f[0] != "Z" && f[2].parse::<i32>() == Ok(pgid)
        })
}

/// Waits (bounded) until the killed group's processes are gone.
fn wait_group_gone(pgid: i32, limit: Duration) {
    let deadline = Instant::now() + limit;
    while group_alive(pgid) && Instant::now() < deadline {
        let _ = nix::sys::signal::killpg(
            nix::unistd::Pid::from_raw(pgid),
            nix::sys::signal::Signal::SIGKILL,
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The error lines of a pdflatex log (`-file-line-error` style), with the line after each.
pub fn log_errors(log: &str) -> Vec<String> {
    let lines: Vec<&str> = log.lines().collect();
    let mut out = Vec::new();
    for (i, l) in lines.iter().enumerate() {
        let file_line = l
            .split(':')
            .nth(1)
            .is_some_and(|n| n.parse::<u32>().is_ok())
            && l.contains(".tex:");
        if l.starts_with("! ") || file_line {
            let mut e = l.to_string();
            if let Some(next) = lines
                .get(i + 1)
                .filter(|n| n.starts_with("l.") || n.trim_start().starts_with("<"))
            {
                e.push_str(" | ");
                e.push_str(next.trim());
            }
            if !out.contains(&e) {
                out.push(e);
            }
        }
        if out.len() >= 5 {
            break;
        }
    }
    out
}

/// Builds `dir/main` (a `.tex` file name) with latexmk; runs chktex when there is one.
pub fn build(dir: &Path, main: &str, tools: &Toolchain, limit: Duration) -> Build {
    let log = dir.join("build.log");
    let mut cmd = Command::new("latexmk");
    cmd.args([
        "-pdf",
        "-interaction=nonstopmode",
        "-halt-on-error",
        "-file-line-error",
        "-no-shell-escape",
        main,
    ]);
    // No files read or written outside the paper's directory.
    cmd.env("openin_any", "p").env("openout_any", "p");
    let ran = run_bounded(cmd, dir, &log, limit);
    let stem = main.trim_end_matches(".tex");
    let pdf = dir.join(format!("{stem}.pdf"));
    let tex_log = std::fs::read_to_string(dir.join(format!("{stem}.log")))
        .or_else(|_| std::fs::read_to_string(&log))
        .unwrap_or_default();
    let mut b = Build {
        log: log.clone(),
        ..Build::default()
    };
    if !matches!(ran, Ok(true)) {
        // A build that failed may leave a partial PDF: it is not a paper.
        let _ = std::fs::remove_file(&pdf);
    }
    match ran {
        Ok(true) if pdf.is_file() => b.pdf = Some(pdf),
        Ok(_) => {
            b.errors = log_errors(&tex_log);
            if b.errors.is_empty() {
                let text = std::fs::read_to_string(&log).unwrap_or_default();
                let tail: Vec<&str> = text.lines().rev().take(5).collect();
                b.errors = vec![format!(
                    "latexmk failed: {}",
                    tail.into_iter().rev().collect::<Vec<_>>().join(" | ")
                )];
            }
        }
        Err(why) => b.errors = vec![why],
    }
    if tools.chktex {
        let out = Command::new("chktex")
            .args(["-q", "-f", "%f:%l:%c: %m\n", main])
            .current_dir(dir)
            .stdin(Stdio::null())
            .output();
        if let Ok(out) = out {
            b.warnings = String::from_utf8_lossy(&out.stdout)
                .lines()
                .filter(|l| !l.trim().is_empty())
                .take(50)
                .map(str::to_string)
                .collect();
        }
    }
    b
}

/// The PDF's text (`pdftotext -layout`).
pub fn pdf_text(pdf: &Path) -> Result<String, String> {
    let out = Command::new("pdftotext")
        .arg("-layout")
        .arg(pdf)
        .arg("-")
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run pdftotext: {e}; install with: {INSTALL}"))?;
    if !out.status.success() {
        return Err(format!(
            "pdftotext could not read {}: {}",
            pdf.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(with: &str) -> Vec<(Section, String)> {
        SECTIONS
            .iter()
            .map(|s| (*s, format!("{with} {}", s.name)))
            .collect()
    }

    #[test]
    fn every_placeholder_of_the_builtin_template_is_filled() {
        let (doc, starts) = fill(
            BUILTIN_TEMPLATE,
            &texts("Text of"),
            "FLOATS",
            "@misc{k, title={T}}",
        );
        for s in SECTIONS {
            assert!(!doc.contains(s.placeholder), "{} left", s.placeholder);
            assert!(doc.contains(&format!("Text of {}", s.name)));
        }
        assert!(doc.contains("FLOATS"));
        assert_eq!(starts.len(), SECTIONS.len());
        let (_, results_line) = starts.iter().find(|(n, _)| *n == "results").unwrap();
        assert!(
            doc.lines()
                .nth(results_line - 1)
                .unwrap()
                .contains("Text of results")
        );
    }

    #[test]
    fn an_ai_scientist_template_keeps_its_bibliography_and_loses_its_example_figure() {
        let t = "\\begin{filecontents}{references.bib}\n@article{a, title={A}}\n\\end{filecontents}\n\\title{TITLE HERE}\n\\begin{document}\nRESULTS HERE \\citep{a}\n% EXAMPLE FIGURE: REPLACE\n\\begin{figure}[h]\n\\includegraphics{x.png}\n\\end{figure}\n\\bibliography{references}\n\\end{document}\n";
        let (doc, _) = fill(t, &texts("T"), "OURS", "@misc{b, title={B}}");
        assert!(!doc.contains("x.png") && doc.contains("OURS"));
        assert!(doc.contains("@article{a") && doc.contains("@misc{b"));
        assert!(doc.find("@misc{b").unwrap() < doc.find("\\end{filecontents}").unwrap());
        assert_eq!(template_bib(t).trim(), "@article{a, title={A}}");
        // A section without its placeholder is added before the bibliography.
        assert!(doc.find("\\section{Method}").unwrap() < doc.find("\\bibliography{").unwrap());
    }

    #[test]
    fn log_errors_keep_the_file_line_and_the_context() {
        let log = "junk\n./main.tex:12: Undefined control sequence.\nl.12 \\foo\n                     \n! Emergency stop.\n";
        let e = log_errors(log);
        assert_eq!(
            e[0],
            "./main.tex:12: Undefined control sequence. | l.12 \\foo"
        );
        assert!(e.iter().any(|x| x.starts_with("! Emergency stop")));
    }

    #[test]
    fn a_build_that_loops_is_stopped_with_every_process_it_started() {
        if preflight(false).is_err() {
            assert!(
                std::env::var_os("CI").is_none(),
                "CI installs LaTeX; nothing may skip"
            );
            eprintln!("skipped: latexmk/pdflatex missing");
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("paper.tex"),
            "\\documentclass{article}\\begin{document}\\def\\a{\\a}\\a\\end{document}\n",
        )
        .unwrap();
        let b = build(
            dir.path(),
            "paper.tex",
            &Toolchain::default(),
            Duration::from_secs(3),
        );
        assert!(b.pdf.is_none());
        assert!(
            b.errors[0].contains("took longer than 3s"),
            "{:?}",
            b.errors
        );
        assert!(
            !dir.path().join("paper.pdf").exists(),
            "no partial PDF left"
        );
        // Nothing of the build is left running (pdflatex was in latexmk's process group): no
        // process has the paper's directory as its working directory.
        let here = dir.path().canonicalize().unwrap();
        let left: Vec<String> = std::fs::read_dir("/proc")
            .unwrap()
            .flatten()
            .filter(|e| {
                e.file_name()
                    .to_string_lossy()
                    .chars()
                    .all(|c| c.is_ascii_digit())
            })
            .filter(|e| std::fs::read_link(e.path().join("cwd")).is_ok_and(|c| c == here))
            // A killed process not yet reaped (a zombie) runs nothing.
            .filter(|e| {
                let stat = std::fs::read_to_string(e.path().join("stat")).unwrap_or_default();
                stat.rsplit_once(')')
                    .is_some_and(|(_, rest)| !rest.trim_start().starts_with('Z'))
            })
            .map(|e| std::fs::read_to_string(e.path().join("cmdline")).unwrap_or_default())
            .collect();
        assert!(left.is_empty(), "still running: {left:?}");
    }
}
