//! Prompts are minijinja templates; a lab may override any of them with a file of the same
//! name in `[agent].prompts_dir`.

use std::path::Path;

use minijinja::Environment;
use serde::Serialize;

const STRATEGIST: &str = include_str!("templates/strategist.j2");
const CODER: &str = include_str!("templates/coder.j2");
const LESSON: &str = include_str!("templates/lesson.j2");
const COMPACT: &str = include_str!("templates/compact.j2");

pub struct Templates {
    env: Environment<'static>,
}

impl Templates {
    /// The built-in templates, overridden by `<dir>/<name>.j2` (`strategist`, `coder`, `lesson`,
    /// `compact`).
    pub fn load(dir: Option<&Path>) -> Result<Templates, String> {
        let mut env = Environment::new();
        for (name, builtin) in [
            ("strategist", STRATEGIST),
            ("coder", CODER),
            ("lesson", LESSON),
            ("compact", COMPACT),
        ] {
            let text = match dir
                .map(|d| d.join(format!("{name}.j2")))
                .filter(|p| p.is_file())
            {
                Some(p) => std::fs::read_to_string(&p)
                    .map_err(|e| format!("cannot read {}: {e}", p.display()))?,
                None => builtin.to_string(),
            };
            env.add_template_owned(name.to_string(), text)
                .map_err(|e| format!("prompt template `{name}`: {e}"))?;
        }
        Ok(Templates { env })
    }

    pub fn render<S: Serialize>(&self, name: &str, ctx: S) -> Result<String, String> {
        self.env
            .get_template(name)
            .and_then(|t| t.render(minijinja::Value::from(minijinja::value::Serde(ctx))))
            .map_err(|e| format!("prompt template `{name}`: {e}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::llm::context::{FileView, IdeaContext, ResultRow};

    #[test]
    fn built_in_templates_render_with_every_part() {
        let t = Templates::load(None).unwrap();
        let ctx = IdeaContext {
            goal: "Lower val_loss.".into(),
            metric: "val_loss".into(),
            goal_direction: "minimize".into(),
            files: vec![FileView {
                path: "train.py".into(),
                content: "lr = 0.1\n".into(),
            }],
            leaderboard: vec![ResultRow {
                id: 0,
                verdict: "kept".into(),
                score: Some("0.5".into()),
                title: "baseline".into(),
                expert: None,
                reason: None,
                diff: None,
            }],
            recent: vec![],
            playbook: "# Playbook".into(),
            steering: Some("Focus on the learning rate.".into()),
            tried: vec!["raise lr — faster".into()],
            tried_pairs: vec![],
            phase: Some(crate::llm::context::Phase::Refine),
            budget_used: Some(80),
            archive: vec!["Earlier idea (done; review Overall 6/10, Reject): a plan".into()],
            brief: Some("## Domain\nTwo interleaved spirals.".into()),
        };
        #[derive(serde::Serialize)]
        struct V<'a> {
            #[serde(flatten)]
            ctx: &'a IdeaContext,
            expert: &'a str,
            persona: &'a str,
            n_ideas: u32,
        }
        let text = t
            .render(
                "strategist",
                V {
                    ctx: &ctx,
                    expert: "optimizer",
                    persona: "You tune optimizers.",
                    n_ideas: 3,
                },
            )
            .unwrap();
        for part in [
            "You are optimizer",
            "Lower val_loss.",
            "## train.py",
            "lr = 0.1",
            "#0 score 0.5: baseline",
            "Focus on the learning rate.",
            "# Research brief",
            "Two interleaved spirals.",
            "override everything above",
            "raise lr — faster",
            "Propose 3 new",
            "# Phase: refine\n80% of the campaign's budget is used",
            "# Earlier ideas (each a project of runs, with its review score)\n- Earlier idea (done; review Overall 6/10, Reject)",
        ] {
            assert!(text.contains(part), "missing `{part}` in:\n{text}");
        }
        let coder = t
            .render(
                "coder",
                serde_json::json!({"goal": "g", "idea": {"title": "T", "hypothesis": "H", "plan": "P"}, "files": [{"path": "a.py", "content": "x"}], "fix_log": "Traceback", "diff": "-a\n+b", "failure": null}),
            )
            .unwrap();
        assert!(
            coder.contains("Title: T")
                && coder.contains("Traceback")
                && coder.contains("<<<<<<< SEARCH"),
            "{coder}"
        );
    }

    #[test]
    fn a_lab_may_override_a_template() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("strategist.j2"), "custom {{ expert }}").unwrap();
        let t = Templates::load(Some(dir.path())).unwrap();
        assert_eq!(
            t.render("strategist", serde_json::json!({"expert": "x"}))
                .unwrap(),
            "custom x"
        );
    }
}
