//! Declared params against the file they are written into: a param the lab's own params file
//! does not have (`stepz` where the file says `steps`) would be tuned without effect, each
//! candidate committing a dead key.

use super::error::closest;
use super::{Apply, ParamsConfig};

/// A declared param the params file does not have: its name, what is wrong, a hint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stray {
    pub param: String,
    pub message: String,
    pub hint: String,
}

/// The params file (`json` or `toml` apply) a lab writes, if it writes one.
pub fn params_file(params: &ParamsConfig) -> Option<&str> {
    match &params.apply {
        Apply::Json(f) | Apply::Toml(f) => Some(f),
        Apply::Args(_) | Apply::Env(_) => None,
    }
}

/// Declared params that are not top-level keys of the params file's `text`. A file that is
/// missing, unreadable or holds no keys says nothing (the program may read defaults).
pub fn strays(params: &ParamsConfig, text: Option<&str>) -> Vec<Stray> {
    let Some(file) = params_file(params) else {
        return Vec::new();
    };
    let Some(text) = text else {
        return Vec::new();
    };
    let mut keys: Vec<String> = match &params.apply {
        Apply::Json(_) => serde_json::from_str::<serde_json::Value>(text)
            .ok()
            .and_then(|v| v.as_object().map(|o| o.keys().cloned().collect()))
            .unwrap_or_default(),
        _ => toml::from_str::<toml::Table>(text)
            .map(|t| t.keys().cloned().collect())
            .unwrap_or_default(),
    };
    if keys.is_empty() {
        return Vec::new();
    }
    keys.sort();
    params
        .space
        .iter()
        .filter(|p| !keys.contains(&p.name))
        .map(|p| Stray {
            param: p.name.clone(),
            message: format!(
                "param `{}` is not a key of {file} (its keys: {}), so tuning it would change nothing the program reads",
                p.name,
                keys.join(", ")
            ),
            hint: match closest(&p.name, &keys) {
                Some(k) => format!("did you mean `{k}`? rename it under [params]"),
                None => format!("rename it under [params] to a key of {file}, or add `{}` to {file}", p.name),
            },
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::config::Config;

    fn params(apply: &str, names: &[&str]) -> ParamsConfig {
        let mut text = format!(
            "[task]\ncommand = \"python3 train.py\"\neditable = [\"p.json\", \"p.toml\"]\n\
             [metrics]\nscore = {{ loss = {{ goal = \"minimize\" }} }}\n[params]\napply = {apply}\n"
        );
        for n in names {
            text.push_str(&format!("{n} = {{ int = [1, 10] }}\n"));
        }
        Config::parse(Path::new("autolab.toml"), &text)
            .unwrap()
            .params
            .unwrap()
    }

    #[test]
    fn a_misspelled_param_is_named_with_the_key_it_likely_meant() {
        let p = params("{ json = \"p.json\" }", &["stepz", "lr"]);
        let s = strays(&p, Some("{\"steps\": 3, \"lr\": 1}"));
        assert_eq!(s.len(), 1, "{s:?}");
        assert_eq!(s[0].param, "stepz");
        assert!(s[0].message.contains("its keys: lr, steps"), "{s:?}");
        assert!(s[0].hint.contains("did you mean `steps`"), "{s:?}");
    }

    #[test]
    fn toml_params_files_are_checked_too() {
        let p = params("{ toml = \"p.toml\" }", &["depth"]);
        let s = strays(&p, Some("width = 3\n"));
        assert_eq!(s.len(), 1);
        assert!(strays(&p, Some("depth = 3\n")).is_empty());
    }

    #[test]
    fn no_file_no_keys_or_no_file_apply_says_nothing() {
        let p = params("{ json = \"p.json\" }", &["stepz"]);
        assert!(strays(&p, None).is_empty());
        assert!(strays(&p, Some("{}")).is_empty());
        assert!(strays(&p, Some("not json")).is_empty());
        let env = params("{ env = \"P_\" }", &["stepz"]);
        assert!(strays(&env, Some("{\"steps\": 1}")).is_empty());
    }
}
