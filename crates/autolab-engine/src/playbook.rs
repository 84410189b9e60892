//! The playbook: lessons learned, one per verdict, in sections, compacted to a budget, rendered
//! to `.autolab/playbook.md` and put in every ideation prompt. It is derived from the ledger, so
//! it is always consistent with it and survives restarts.

use autolab_core::experiment::{Experiment, Verdict};

/// One experiment's lesson, with the expert who proposed it, if any.
pub struct Lesson<'a> {
    pub experiment: &'a Experiment,
    pub expert: Option<&'a str>,
}

/// Renders the playbook; each section keeps its most recent lessons within `budget` characters.
pub fn render(lessons: &[Lesson<'_>], guardrails: &[String], budget: usize) -> String {
    let mut works = Vec::new();
    let mut failed = Vec::new();
    let mut never = Vec::new();
    for l in lessons {
        let e = l.experiment;
        let Some(v) = e.verdict else { continue };
        if e.number == 0 {
            continue;
        }
        let who = l.expert.map(|x| format!(" ({x})")).unwrap_or_default();
        let why = e.reason.as_deref().unwrap_or("");
        let line = format!("- #{:04}{who} {}: {}", e.number, e.title, why);
        match v {
            Verdict::Kept => works.push(line),
            Verdict::Discarded | Verdict::Crashed | Verdict::Timeout => failed.push(line),
            Verdict::Invalid => never.push(line),
        }
    }
    let per_section = budget / 3;
    let mut out = String::from("# Playbook\n");
    for (title, items) in [
        ("What works", &works),
        ("What failed, and why", &failed),
        ("Do not attempt", &never),
    ] {
        out.push_str(&format!("\n## {title}\n"));
        if items.is_empty() {
            out.push_str("- nothing yet\n");
            continue;
        }
        let mut kept: Vec<&String> = Vec::new();
        let mut used = 0;
        for line in items.iter().rev() {
            if used + line.len() > per_section && !kept.is_empty() {
                break;
            }
            used += line.len() + 1;
            kept.push(line);
        }
        let dropped = items.len() - kept.len();
        if dropped > 0 {
            out.push_str(&format!("- ({dropped} older lessons compacted away)\n"));
        }
        for line in kept.into_iter().rev() {
            out.push_str(line);
            out.push('\n');
        }
    }
    out.push_str("\n## Guardrails\n");
    for g in guardrails {
        out.push_str(&format!("- {g}\n"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exp(number: u32, verdict: Verdict, title: &str, reason: &str) -> Experiment {
        Experiment {
            row: i64::from(number),
            number,
            state: verdict.state(),
            verdict: Some(verdict),
            reason: Some(reason.into()),
            score: None,
            metrics: Default::default(),
            commit: None,
            parent: String::new(),
            proposer: "llm".into(),
            title: title.into(),
            params: None,
            lines_added: 0,
            lines_removed: 0,
            finalized: true,
            created_at: 0.0,
            updated_at: 0.0,
            stats: None,
        }
    }

    #[test]
    fn lessons_land_in_their_sections_and_old_ones_are_compacted() {
        let mut exps = vec![
            exp(1, Verdict::Kept, "raise lr", "beats #0"),
            exp(2, Verdict::Crashed, "fused kernel", "exit code 1"),
            exp(
                3,
                Verdict::Invalid,
                "edit prepare.py",
                "changes protected file(s): prepare.py",
            ),
        ];
        for n in 4..60 {
            exps.push(exp(
                n,
                Verdict::Discarded,
                &format!("idea number {n}"),
                "within noise",
            ));
        }
        let lessons: Vec<Lesson<'_>> = exps
            .iter()
            .map(|e| Lesson {
                experiment: e,
                expert: Some("optimizer"),
            })
            .collect();
        let text = render(&lessons, &["never edit prepare.py".into()], 1500);
        assert!(
            text.contains("## What works\n- #0001 (optimizer) raise lr: beats #0"),
            "{text}"
        );
        assert!(text.contains("## Do not attempt\n- #0003"), "{text}");
        assert!(text.contains("older lessons compacted away"), "{text}");
        assert!(
            text.contains("idea number 59"),
            "the newest lessons stay: {text}"
        );
        assert!(!text.contains("idea number 4:"), "the oldest go: {text}");
        assert!(text.contains("## Guardrails\n- never edit prepare.py"));
        assert!(text.len() < 2500);
    }
}
