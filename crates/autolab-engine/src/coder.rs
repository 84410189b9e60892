//! Coders turn an idea into changed files in an experiment's worktree (committed by the
//! pipeline). This module has the params writer used with the optimizer.

use std::path::Path;

use autolab_core::config::Apply;
use autolab_core::confine::confine;
use serde_json::{Map, Value};

use crate::proposer::Proposal;

pub trait Coder {
    /// Changes files in `worktree` to carry out `proposal`. Errors are the reason the
    /// experiment is invalid.
    fn implement(&self, proposal: &Proposal, worktree: &Path) -> Result<(), String>;
}

/// Writes the optimizer's chosen values where `[params].apply` says.
pub struct ParamsWriter {
    pub apply: Apply,
}

impl Coder for ParamsWriter {
    fn implement(&self, proposal: &Proposal, worktree: &Path) -> Result<(), String> {
        let Some(Value::Object(values)) = &proposal.params else {
            return Err("the proposal has no parameter values".into());
        };
        write_values(&self.apply, worktree, values)
    }
}

/// Writes `values` where `apply` says: merged into its params file (JSON or TOML); nothing
/// for `args`/`env`, whose values reach the run through its command line or environment.
pub fn write_values(
    apply: &Apply,
    worktree: &Path,
    values: &Map<String, Value>,
) -> Result<(), String> {
    // The params file is written where it resolves, which must be inside the worktree (a
    // committed symlink could point anywhere).
    let inside = |file: &str| confine(worktree, file).map_err(|e| format!("refused: {e}"));
    match apply {
        Apply::Json(file) => write_json(&inside(file)?, values),
        Apply::Toml(file) => write_toml(&inside(file)?, values),
        Apply::Args(_) | Apply::Env(_) => Ok(()),
    }
}

fn write_json(path: &Path, values: &Map<String, Value>) -> Result<(), String> {
    let mut doc = match std::fs::read_to_string(path) {
        Ok(text) => match serde_json::from_str::<Value>(&text) {
            Ok(Value::Object(m)) => m,
            Ok(_) => return Err(format!("{} does not hold a JSON object", path.display())),
            Err(e) => return Err(format!("{} is not valid JSON: {e}", path.display())),
        },
        Err(_) => Map::new(),
    };
    for (k, v) in values {
        doc.insert(k.clone(), v.clone());
    }
    let text = serde_json::to_string_pretty(&Value::Object(doc)).map_err(|e| e.to_string())?;
    std::fs::write(path, text + "\n").map_err(|e| format!("cannot write {}: {e}", path.display()))
}

fn write_toml(path: &Path, values: &Map<String, Value>) -> Result<(), String> {
    let mut doc = match std::fs::read_to_string(path) {
        Ok(text) => text
            .parse::<toml::Table>()
            .map_err(|e| format!("{} is not valid TOML: {e}", path.display()))?,
        Err(_) => toml::Table::new(),
    };
    for (k, v) in values {
        let tv = match v {
            Value::Bool(b) => toml::Value::Boolean(*b),
            Value::Number(n) if n.is_i64() => toml::Value::Integer(n.as_i64().unwrap_or_default()),
            Value::Number(n) => toml::Value::Float(n.as_f64().unwrap_or_default()),
            Value::String(s) => toml::Value::String(s.clone()),
            other => toml::Value::String(other.to_string()),
        };
        doc.insert(k.clone(), tv);
    }
    let text = toml::to_string(&doc).map_err(|e| e.to_string())?;
    std::fs::write(path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))
}

/// The command a run executes: placeholders filled, `args` appended when values go there.
pub fn render_command(
    command: &str,
    apply: Option<&Apply>,
    params: Option<&Value>,
    run_dir: &Path,
    seed: u64,
    experiment: &str,
) -> String {
    let mut cmd = command
        .replace("{run_dir}", &shell_quote(&run_dir.to_string_lossy()))
        .replace("{seed}", &seed.to_string())
        .replace("{experiment}", experiment);
    if let (Some(Apply::Args(template)), Some(Value::Object(values))) = (apply, params) {
        let mut args = template.clone();
        for (k, v) in values {
            let text = match v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            args = args.replace(&format!("{{{k}}}"), &shell_quote(&text));
        }
        cmd.push(' ');
        cmd.push_str(&args);
    }
    cmd
}

/// Environment variables carrying parameter values when `apply = { env = "PREFIX_" }`.
pub fn param_env(apply: Option<&Apply>, params: Option<&Value>) -> Vec<(String, String)> {
    match (apply, params) {
        (Some(Apply::Env(prefix)), Some(Value::Object(values))) => values
            .iter()
            .map(|(k, v)| {
                let text = match v {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                (format!("{prefix}{}", k.to_ascii_uppercase()), text)
            })
            .collect(),
        _ => Vec::new(),
    }
}

fn shell_quote(s: &str) -> String {
    if !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=:+,@%".contains(c))
    {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn json_apply_keeps_other_keys() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("p.json"), r#"{"lr": 0.1, "keep": true}"#).unwrap();
        let w = ParamsWriter {
            apply: Apply::Json("p.json".into()),
        };
        let p = Proposal {
            title: "t".into(),
            proposer: "optimizer".into(),
            params: Some(json!({"lr": 0.5, "hidden": 8})),
        };
        w.implement(&p, dir.path()).unwrap();
        let v: Value =
            serde_json::from_str(&std::fs::read_to_string(dir.path().join("p.json")).unwrap())
                .unwrap();
        assert_eq!(v, json!({"lr": 0.5, "keep": true, "hidden": 8}));
    }

    #[test]
    fn toml_apply_writes_typed_values() {
        let dir = tempfile::tempdir().unwrap();
        let w = ParamsWriter {
            apply: Apply::Toml("p.toml".into()),
        };
        let p = Proposal {
            title: "t".into(),
            proposer: "o".into(),
            params: Some(json!({"lr": 0.5, "n": 3, "act": "relu"})),
        };
        w.implement(&p, dir.path()).unwrap();
        let t: toml::Table = std::fs::read_to_string(dir.path().join("p.toml"))
            .unwrap()
            .parse()
            .unwrap();
        assert_eq!(t["n"].as_integer(), Some(3));
        assert_eq!(t["act"].as_str(), Some("relu"));
    }

    #[test]
    fn args_and_env_carry_values() {
        let params = json!({"lr": 0.5, "act": "a b"});
        let cmd = render_command(
            "python3 t.py --out {run_dir}",
            Some(&Apply::Args("--lr {lr} --act {act}".into())),
            Some(&params),
            Path::new("/r d"),
            1,
            "t/0001",
        );
        assert_eq!(cmd, "python3 t.py --out '/r d' --lr 0.5 --act 'a b'");
        let env = param_env(Some(&Apply::Env("P_".into())), Some(&params));
        assert!(env.contains(&("P_LR".to_string(), "0.5".to_string())));
    }
}
