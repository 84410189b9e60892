//! The playbook: lessons learned, one per verdict (written by the LLM when one is configured,
//! templated from the verdict otherwise), in sections, rendered to `.autolab/playbook.md` and put
//! in every ideation prompt. Older lessons are compacted: into an LLM-written digest when one
//! exists, else dropped oldest first. It is derived from the ledger, so it is always consistent
//! with it and survives restarts.

use autolab_core::experiment::{Experiment, Verdict};
use autolab_core::ledger::Digest;

/// Lessons newer than this many are never compacted into a digest.
pub const KEEP_RECENT: usize = 8;

/// One experiment's lesson, with the expert who proposed it, if any.
pub struct Lesson<'a> {
    pub experiment: &'a Experiment,
    pub expert: Option<&'a str>,
    /// The stored lesson; the verdict's reason stands in without one.
    pub text: Option<&'a str>,
}

impl Lesson<'_> {
    /// The lesson's line in the playbook, or none (the baseline, an unjudged experiment).
    pub fn line(&self) -> Option<String> {
        let e = self.experiment;
        e.verdict?;
        if e.number == 0 {
            return None;
        }
        let who = self.expert.map(|x| format!(" ({x})")).unwrap_or_default();
        let why = self.text.or(e.reason.as_deref()).unwrap_or("");
        Some(format!("- #{:04}{who} {}: {}", e.number, e.title, why))
    }
}

/// The lessons a digest should take in, when the lessons it does not cover outgrow two thirds of
/// `budget`: all but the newest [`KEEP_RECENT`], with the highest experiment number among them.
pub fn compaction_due(
    lessons: &[Lesson<'_>],
    digest: Option<&Digest>,
    budget: usize,
) -> Option<(u32, Vec<String>)> {
    let through = digest.map_or(0, |d| d.through);
    // A digest covers an unbroken run of judged experiments: one still waiting for its
    // verdict (a long run, a fix, confirmations) keeps everything from it on out of it.
    let first_open = lessons
        .iter()
        .filter(|l| l.experiment.number > through && l.experiment.verdict.is_none())
        .map(|l| l.experiment.number)
        .min()
        .unwrap_or(u32::MAX);
    let open: Vec<(u32, String)> = lessons
        .iter()
        .filter(|l| l.experiment.number > through && l.experiment.number < first_open)
        .filter_map(|l| l.line().map(|line| (l.experiment.number, line)))
        .collect();
    let size: usize = open.iter().map(|(_, l)| l.len() + 1).sum();
    if size <= budget * 2 / 3 || open.len() <= KEEP_RECENT {
        return None;
    }
    let mut open = open;
    open.sort_by_key(|(n, _)| *n);
    let take = open.len() - KEEP_RECENT;
    let last = open[take - 1].0;
    Some((last, open.into_iter().take(take).map(|(_, l)| l).collect()))
}

/// Renders the playbook: the digest of older lessons, then each section's most recent lessons
/// within `budget` characters.
pub fn render(
    lessons: &[Lesson<'_>],
    digest: Option<&Digest>,
    guardrails: &[String],
    budget: usize,
) -> String {
    let through = digest.map_or(0, |d| d.through);
    let mut works = Vec::new();
    let mut failed = Vec::new();
    let mut never = Vec::new();
    for l in lessons {
        if l.experiment.number <= through {
            continue;
        }
        let (Some(line), Some(v)) = (l.line(), l.experiment.verdict) else {
            continue;
        };
        match v {
            Verdict::Kept | Verdict::Simplified => works.push(line),
            Verdict::Discarded | Verdict::Crashed | Verdict::Timeout => failed.push(line),
            Verdict::Invalid => never.push(line),
            // Somebody stopped it: it taught nothing.
            Verdict::Cancelled => {}
        }
    }
    let mut out = String::from("# Playbook\n");
    let mut budget = budget;
    if let Some(d) = digest {
        out.push_str(&format!(
            "\n## Summary of lessons through #{:04}\n{}",
            d.through, d.text
        ));
        if !d.text.ends_with('\n') {
            out.push('\n');
        }
        budget = budget.saturating_sub(d.text.len());
    }
    let per_section = budget / 3;
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
            row: autolab_core::ids::ExperimentId(i64::from(number)),
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
                text: None,
            })
            .collect();
        let text = render(&lessons, None, &["never edit prepare.py".into()], 1500);
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

    #[test]
    fn llm_lessons_replace_reasons_and_a_digest_replaces_old_lessons() {
        let exps: Vec<Experiment> = (1..=30)
            .map(|n| {
                exp(
                    n,
                    Verdict::Discarded,
                    &format!("idea {n}"),
                    "within noise of the incumbent, a long reason to fill the budget",
                )
            })
            .collect();
        let written = "dropout 0.5 starved the small net";
        let lessons: Vec<Lesson<'_>> = exps
            .iter()
            .map(|e| Lesson {
                experiment: e,
                expert: None,
                text: (e.number == 30).then_some(written),
            })
            .collect();
        assert!(compaction_due(&lessons, None, 100_000).is_none());
        let (through, old) = compaction_due(&lessons, None, 1500).expect("over budget");
        assert_eq!(through, 30 - KEEP_RECENT as u32);
        assert_eq!(old.len(), 30 - KEEP_RECENT);
        assert!(old[0].starts_with("- #0001 idea 1:"), "{old:?}");
        let digest = Digest {
            through,
            text: "- nothing that regularises helps\n".into(),
        };
        let text = render(&lessons, Some(&digest), &[], 6000);
        assert!(
            text.contains("## Summary of lessons through #0022\n- nothing that regularises helps"),
            "{text}"
        );
        assert!(!text.contains("idea 22:"), "digested lessons go: {text}");
        assert!(text.contains("- #0023 idea 23: within noise"), "{text}");
        assert!(
            text.contains(&format!("- #0030 idea 30: {written}")),
            "{text}"
        );
        assert!(compaction_due(&lessons, Some(&digest), 1500).is_none());

        // #15 still waits for its verdict: no digest may cover it, or its lesson would never
        // show; only #1–#14 are candidates, the newest of them kept.
        let mut waiting = exps.clone();
        waiting[14].verdict = None;
        let lessons: Vec<Lesson<'_>> = waiting
            .iter()
            .map(|e| Lesson {
                experiment: e,
                expert: None,
                text: None,
            })
            .collect();
        let (through, old) = compaction_due(&lessons, None, 1500).expect("over budget");
        assert_eq!(through, 14 - KEEP_RECENT as u32, "{old:?}");
    }
}
