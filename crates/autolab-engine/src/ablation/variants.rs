//! What an ablation runs: the final incumbent, the baseline, and two variants per row — the
//! incumbent without the row's change (leave-one-out) and the change alone on the baseline
//! (add-one-in). A row is a kept change of the incumbent line (its diff reverted or applied by
//! a three-way tree merge), or, for the optimizer's campaigns, a parameter the incumbent set
//! away from the baseline's value (its value put back, or set alone): the optimizer moves every
//! parameter at once, so its changes touch the same lines and only parameters separate.

use autolab_core::config::{Apply, ParamsConfig};
use autolab_core::experiment::Experiment;
use serde_json::{Map, Value};

use super::line::Change;
use crate::lab::Lab;

/// What a variant runs: a commit, and the parameter values its run gets (params labs).
#[derive(Debug, Clone, PartialEq)]
pub struct Spec {
    pub commit: String,
    pub params: Option<Value>,
}

/// A variant: a label for the log, and what it runs or why it cannot be built.
#[derive(Debug, Clone)]
pub struct Variant {
    pub label: String,
    pub spec: Result<Spec, String>,
}

/// The rows and variants: `variants[0]` the final incumbent, `[1]` the baseline, then for
/// row `i` `[2 + 2i]` without it and `[3 + 2i]` it alone.
pub struct Plan {
    /// "change" or "parameter".
    pub by: &'static str,
    pub rows: Vec<Change>,
    pub variants: Vec<Variant>,
}

fn code(commit: &str) -> Result<Spec, String> {
    Ok(Spec {
        commit: commit.to_string(),
        params: None,
    })
}

/// The commit of `onto` with the change `from → to`; `conflict` says why when it does not
/// apply there.
fn build(
    lab: &Lab,
    (onto, from, to): (&str, &str, &str),
    message: &str,
    conflict: &str,
) -> Result<Spec, String> {
    match lab.repo.apply_change(onto, from, to) {
        Ok(Some(tree)) => lab
            .repo
            .commit_tree(&tree, onto, message)
            .map(|c| Spec {
                commit: c,
                params: None,
            })
            .map_err(|e| e.to_string()),
        Ok(None) => Err(conflict.into()),
        Err(e) => Err(e.to_string()),
    }
}

/// The plan over kept changes of code: `line` from `base` to the incumbent `#incumbent`.
pub fn by_change(lab: &Lab, tag: &str, base: &str, incumbent: u32, line: Vec<Change>) -> Plan {
    let full = line.last().map(|c| c.commit.clone()).unwrap_or_default();
    let mut variants = vec![
        Variant {
            label: format!("the final incumbent #{incumbent}"),
            spec: code(&full),
        },
        Variant {
            label: "the baseline".into(),
            spec: code(base),
        },
    ];
    for c in &line {
        let n = c.number;
        variants.push(Variant {
            label: format!("without #{n}"),
            spec: build(
                lab,
                (&full, &c.commit, &c.parent),
                &format!("ablation of `{tag}`: the incumbent without #{n}"),
                "a later change rewrote its lines",
            ),
        });
        variants.push(Variant {
            label: format!("#{n} alone"),
            spec: build(
                lab,
                (base, &c.parent, &c.commit),
                &format!("ablation of `{tag}`: #{n} alone on the baseline"),
                "it changes lines an earlier change wrote",
            ),
        });
    }
    Plan {
        by: "change",
        rows: line,
        variants,
    }
}

/// The values of the params file at `commit` (JSON or TOML), by name.
fn file_values(lab: &Lab, params: &ParamsConfig, commit: &str) -> Map<String, Value> {
    let read = |file: &str| lab.repo.run(&["show", &format!("{commit}:{file}")]).ok();
    let doc = match &params.apply {
        Apply::Json(f) => read(f).and_then(|t| serde_json::from_str::<Value>(&t).ok()),
        Apply::Toml(f) => read(f)
            .and_then(|t| t.parse::<toml::Table>().ok())
            .and_then(|t| serde_json::to_value(t).ok()),
        Apply::Args(_) | Apply::Env(_) => None,
    };
    match doc {
        Some(Value::Object(m)) => m,
        _ => Map::new(),
    }
}

fn shown(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The plan over parameters: each parameter the incumbent holds at another value than the
/// baseline's (from the params file at `base`, else the parameter's `default`). Values go in
/// as the baseline's parameters of each variant's side campaign: merged into the file, or on
/// the command line / in the environment, where every parameter needs a value — the baseline
/// variant too, with the defaults, so every variant runs with explicit values. An error names
/// the parameters whose baseline value is unknown there.
pub fn by_parameter(
    lab: &Lab,
    params: &ParamsConfig,
    base: &str,
    incumbent: &Experiment,
    line: &[(Change, Option<Value>)],
) -> Result<Plan, String> {
    let in_file = matches!(params.apply, Apply::Json(_) | Apply::Toml(_));
    let file = file_values(lab, params, base);
    let base_values: Map<String, Value> = params
        .space
        .iter()
        .filter_map(|p| {
            file.get(&p.name)
                .cloned()
                .or_else(|| p.default.clone())
                .map(|v| (p.name.clone(), v))
        })
        .collect();
    let finals = match &incumbent.params {
        Some(Value::Object(m)) => m.clone(),
        _ => Map::new(),
    };
    let unknown: Vec<&str> = params
        .space
        .iter()
        .map(|p| p.name.as_str())
        .filter(|n| !base_values.contains_key(*n))
        .collect();
    if !in_file && !unknown.is_empty() {
        return Err(format!(
            "the values go on the command line or in the environment, and the baseline's value of {} is unknown",
            unknown.join(", ")
        ));
    }
    let with = |values: Map<String, Value>| -> Result<Spec, String> {
        Ok(Spec {
            commit: base.to_string(),
            params: Some(Value::Object(values)),
        })
    };
    let mut full = base_values.clone();
    full.extend(finals.clone());
    let mut variants = vec![
        Variant {
            label: format!("the final incumbent #{}", incumbent.number),
            spec: with(full.clone()),
        },
        Variant {
            label: "the baseline".into(),
            spec: if in_file {
                code(base)
            } else {
                with(base_values.clone())
            },
        },
    ];
    let mut rows = Vec::new();
    for p in &params.space {
        let Some(fin) = finals.get(&p.name) else {
            continue;
        };
        let was = base_values.get(&p.name);
        if was == Some(fin) {
            continue;
        }
        // The change that set it: the earliest on the line from which it kept this value.
        let mut by = incumbent.number;
        for (c, values) in line.iter().rev() {
            if values.as_ref().and_then(|v| v.get(&p.name)) == Some(fin) {
                by = c.number;
            } else {
                break;
            }
        }
        rows.push(Change {
            number: by,
            title: format!(
                "{}: {} → {}",
                p.name,
                was.map_or("?".to_string(), shown),
                shown(fin)
            ),
            parent: String::new(),
            commit: String::new(),
        });
        variants.push(Variant {
            label: format!("{} at the baseline's value", p.name),
            spec: match was {
                Some(w) => {
                    let mut v = full.clone();
                    v.insert(p.name.clone(), w.clone());
                    with(v)
                }
                None => Err(format!(
                    "the baseline's value of {} is unknown: give it a `default` in [params]",
                    p.name
                )),
            },
        });
        variants.push(Variant {
            label: format!("{} alone", p.name),
            spec: if in_file {
                with(Map::from_iter([(p.name.clone(), fin.clone())]))
            } else {
                let mut v = base_values.clone();
                v.insert(p.name.clone(), fin.clone());
                with(v)
            },
        });
    }
    Ok(Plan {
        by: "parameter",
        rows,
        variants,
    })
}
