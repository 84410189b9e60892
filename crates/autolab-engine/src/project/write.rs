//! The end of a project: its plot command (AI-Scientist's `python plot.py`, run in the
//! project's directory through the campaign's runner and sandbox), then its paper (the
//! write-up machinery, in the template the project's code carries) and its review.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use autolab_core::config::Writeup;
use autolab_core::ledger::Transcript;
use autolab_runner::{RunSpec, Runner};
use serde_json::Value;

use super::layout;
use crate::literature::{Literature, SharedCache};
use crate::llm::Caller;
use crate::writeup::{latex, paper, review};

pub struct WriteJob {
    pub caller: Caller,
    pub project: i64,
    pub dir: PathBuf,
    /// The plot command, ready to run in `dir`.
    pub plot: Option<(Arc<dyn Runner>, RunSpec)>,
    pub report: Value,
    pub goal: String,
    pub changes: Vec<paper::Change>,
    pub notes: String,
    pub settings: Writeup,
    pub paper: bool,
    pub review: bool,
    pub literature: Literature,
    /// The paper's file name in AI-Scientist's layout (`<idea name>.pdf`).
    pub pdf_name: String,
}

pub struct Written {
    pub project: i64,
    pub pdf: Option<PathBuf>,
    pub figures: Vec<PathBuf>,
    pub paper_attempts: usize,
    pub reviews: Vec<review::Review>,
    pub meta: Option<review::Review>,
    pub notes: Vec<String>,
    pub transcripts: Vec<Transcript>,
}

impl Written {
    /// A write-up that gave nothing (its thread failed).
    pub fn failed(project: i64, why: &str) -> Written {
        Written {
            project,
            pdf: None,
            figures: Vec::new(),
            paper_attempts: 0,
            reviews: Vec::new(),
            meta: None,
            notes: vec![why.to_string()],
            transcripts: Vec::new(),
        }
    }

    /// The review the archive keeps: the meta-review, else the only one.
    pub fn review(&self) -> Option<&review::Review> {
        self.meta.as_ref().or(self.reviews.first())
    }

    /// Its Overall score.
    pub fn score(&self) -> Option<f64> {
        self.review().and_then(|r| r.form["Overall"].as_f64())
    }
}

pub fn write(job: WriteJob) -> Written {
    let mut out = Written {
        project: job.project,
        pdf: None,
        figures: Vec::new(),
        paper_attempts: 0,
        reviews: Vec::new(),
        meta: None,
        notes: Vec::new(),
        transcripts: Vec::new(),
    };
    if let Some((runner, spec)) = &job.plot {
        let cancel = AtomicBool::new(false);
        match runner.run(spec, &cancel, &mut |_| {}, None) {
            Ok(r) if r.exit == autolab_runner::Exit::Code(0) => {}
            Ok(r) => out.notes.push(format!(
                "the plot command ended with {:?}; see {}",
                r.exit,
                spec.run_dir.display()
            )),
            Err(e) => out
                .notes
                .push(format!("the plot command could not run: {e}")),
        }
    }
    // The plot command may have left links to elsewhere: autolab writes here next.
    layout::clear_links(&job.dir);
    out.figures = layout::figures(&job.dir, 4);
    if !job.paper {
        return out;
    }
    let tools = match latex::preflight(job.review) {
        Ok(t) => t,
        Err(why) => {
            out.notes.push(format!("no paper: {why}"));
            return out;
        }
    };
    let template_path = job.dir.join("latex/template.tex");
    let (template, template_dir) = match std::fs::read_to_string(&template_path) {
        Ok(t) if t.contains("TITLE HERE") => (t, Some(job.dir.join("latex"))),
        _ => (latex::BUILTIN_TEMPLATE.to_string(), None),
    };
    let figures = out
        .figures
        .iter()
        .enumerate()
        .map(|(i, f)| paper::Figure {
            file: f.clone(),
            label: if i == 0 {
                "fig:progress".into()
            } else {
                format!("fig:plot{i}")
            },
            caption: format!(
                "{} (written by the project's plot command).",
                f.file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default()
            ),
        })
        .collect();
    let mut cache = SharedCache::default();
    let written = paper::write_paper(
        &job.caller,
        paper::PaperInput {
            goal: job.goal.clone(),
            report: &job.report,
            changes: job.changes.clone(),
            playbook: format!("# notes.txt\n{}", job.notes),
            template,
            template_dir,
            figures,
            out: job.dir.join("paper"),
            settings: job.settings.clone(),
            tools,
            build_limit: Duration::from_secs(120),
        },
        Some(&job.literature),
        &mut cache,
    );
    out.transcripts.extend(written.transcripts);
    out.notes.extend(written.notes);
    out.paper_attempts = written.attempts.len();
    let Some(pdf) = written.pdf else {
        out.notes.push(format!(
            "no paper: {}",
            written.failure.unwrap_or_else(|| "it did not build".into())
        ));
        return out;
    };
    let named = job.dir.join(&job.pdf_name);
    if std::fs::copy(&pdf, &named).is_ok() {
        out.pdf = Some(named);
    } else {
        out.pdf = Some(pdf.clone());
    }
    if !job.review {
        return out;
    }
    let text = match latex::pdf_text(&pdf) {
        Ok(t) => t,
        Err(why) => {
            out.notes.push(format!("no review: {why}"));
            return out;
        }
    };
    let done = review::review(
        &job.caller,
        &text,
        job.settings.reviews,
        job.settings.reflections,
    );
    out.transcripts.extend(done.transcripts);
    out.notes.extend(done.notes);
    if let Some(f) = done.failure {
        out.notes.push(format!("review: {f}"));
    }
    out.reviews = done.reviews;
    out.meta = done.meta;
    if let Some(r) = out.review() {
        // AI-Scientist's review.txt: the review as JSON.
        let _ = std::fs::write(
            job.dir.join("review.txt"),
            serde_json::to_string_pretty(&r.form).unwrap_or_default(),
        );
    }
    out
}
