//! The facts a paper may state: every number of `autolab report`'s facts, flattened to keys
//! (`best.score`, `gain.percent`, `kept.2.p`, …) with the text the paper prints and the
//! experiment it came from. The LLM writes `\fact{key}`; only autolab writes the number.

use serde_json::Value;

/// One number the paper may print.
#[derive(Debug, Clone, PartialEq)]
pub struct Fact {
    pub key: String,
    pub value: f64,
    /// As printed (rounded for reading; the checker accepts any rounding of `value`).
    pub text: String,
    /// Where it came from: `#3` (an experiment), `ledger` (counted over the campaign).
    pub from: String,
}

/// The numbers a paper may contain.
#[derive(Debug, Clone, Default)]
pub struct Facts {
    pub list: Vec<Fact>,
    /// Numbers allowed in prose but not offered as `\fact{}` keys (a citation's year, a
    /// parameter value in a kept change's diff), each with where it came from.
    pub allowed: Vec<(f64, String)>,
}

/// A number as a paper prints it: integers as they are, others to four significant digits.
pub fn shown(v: f64) -> String {
    if !v.is_finite() {
        return v.to_string();
    }
    if v.fract() == 0.0 && v.abs() < 1e12 {
        return format!("{v:.0}");
    }
    let magnitude = v.abs().log10().floor() as i32;
    let decimals = (3 - magnitude).clamp(0, 8) as usize;
    let s = format!("{v:.decimals$}");
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

impl Facts {
    pub fn get(&self, key: &str) -> Option<&Fact> {
        self.list.iter().find(|f| f.key == key)
    }

    pub fn push(&mut self, key: impl Into<String>, value: f64, from: impl Into<String>) {
        if value.is_finite() {
            self.list.push(Fact {
                key: key.into(),
                value,
                text: shown(value),
                from: from.into(),
            });
        }
    }

    /// Allows `value` in prose without a key.
    pub fn allow(&mut self, value: f64, from: impl Into<String>) {
        if value.is_finite() {
            self.allowed.push((value, from.into()));
        }
    }

    /// The facts of a report (`autolab report --format json`'s object).
    pub fn from_report(r: &Value) -> Facts {
        let mut f = Facts::default();
        let primary = r["primary"].as_str().unwrap_or("score").to_string();
        let id = |v: &Value| {
            v["id"]
                .as_u64()
                .map_or("ledger".to_string(), |n| format!("#{n}"))
        };
        for side in ["baseline", "best"] {
            let v = &r[side];
            if let Some(score) = v["score"].as_f64() {
                f.push(format!("{side}.score"), score, id(v));
                if primary != "score" {
                    f.push(format!("{side}.{primary}"), score, id(v));
                }
            }
            if let Some(n) = v["id"].as_f64() {
                f.push(format!("{side}.id"), n, id(v));
            }
        }
        let g = &r["gain"];
        let best = id(&r["best"]);
        if let Some(v) = g["value"].as_f64() {
            f.push("gain.value", v, best.clone());
        }
        if let Some(v) = g["relative"].as_f64() {
            f.push("gain.percent", v * 100.0, best.clone());
        }
        if let Some(v) = g["ci95"]["low"].as_f64() {
            f.push("gain.ci_low", v, best.clone());
        }
        if let Some(v) = g["ci95"]["high"].as_f64() {
            f.push("gain.ci_high", v, best.clone());
        }
        for side in ["baseline", "best"] {
            if let Some(n) = g["runs"][side].as_f64() {
                f.push(format!("gain.runs_{side}"), n, best.clone());
            }
        }
        if let Some(n) = r["experiments"].as_f64() {
            f.push("experiments", n, "ledger");
        }
        if let Some(counts) = r["counts"].as_object() {
            for (k, v) in counts {
                // The status counts the baseline as kept; the paper's kept changes do not.
                if let Some(n) = v.as_f64().filter(|_| k != "kept") {
                    f.push(format!("counts.{k}"), n, "ledger");
                }
            }
        }
        if let Some(s) = r["compute_secs"].as_f64() {
            f.push("compute_hours", s / 3600.0, "ledger");
        }
        if let Some(s) = r["wall_secs"].as_f64() {
            f.push("wall_hours", s / 3600.0, "ledger");
        }
        if let Some(usd) = r["llm_usd"].as_f64() {
            f.push("llm_usd", usd, "ledger");
        }
        for key in ["max_experiments", "max_hours"] {
            if let Some(n) = r["budget"][key].as_f64() {
                f.push(format!("budget.{key}"), n, "config");
            }
        }
        for (i, k) in r["kept"].as_array().into_iter().flatten().enumerate() {
            let from = id(k);
            let n = i + 1;
            // A kept change's title is the ledger's (`lr=0.05` for the optimizer's): its numbers
            // may be printed where the title is.
            for token in k["title"]
                .as_str()
                .unwrap_or("")
                .split(|c: char| !(c.is_ascii_digit() || c == '.' || c == '-' || c == 'e'))
            {
                let t = token
                    .trim_end_matches(['.', '-', 'e'])
                    .trim_start_matches(['.', 'e']);
                if let Ok(v) = t.parse::<f64>() {
                    f.allow(v, format!("the title of {from}"));
                }
            }
            f.push(format!("kept.{n}.kept"), n as f64, "ledger");
            for (key, field) in [
                ("id", "id"),
                ("score", "score"),
                ("gain", "gain"),
                ("p", "p"),
                ("runs", "runs"),
                ("over", "over"),
            ] {
                if let Some(v) = k[field].as_f64() {
                    f.push(format!("kept.{n}.{key}"), v, from.clone());
                }
            }
            if let Some([a, d]) = k["lines"].as_array().map(|l| [l.first(), l.get(1)])
                && let (Some(a), Some(d)) = (a.and_then(Value::as_f64), d.and_then(Value::as_f64))
            {
                f.push(format!("kept.{n}.lines_added"), a, from.clone());
                f.push(format!("kept.{n}.lines_removed"), d, from.clone());
            }
        }
        f.push(
            "kept.count",
            r["kept"].as_array().map_or(0, Vec::len) as f64,
            "ledger",
        );
        // `autolab ablate`'s contributions: `ablation.K.leave_one_out` (…`_low`, `_high`) and
        // `ablation.K.add_one_in` for the K-th change of the incumbent line (`ablation.K.id`).
        let a = &r["ablation"];
        for (i, row) in a["rows"].as_array().into_iter().flatten().enumerate() {
            let n = i + 1;
            let from = row["change"]["number"]
                .as_u64()
                .map_or("ledger".to_string(), |x| format!("ablation of #{x}"));
            if let Some(x) = row["change"]["number"].as_f64() {
                f.push(format!("ablation.{n}.id"), x, from.clone());
            }
            for way in ["leave_one_out", "add_one_in"] {
                for (suffix, field) in [("", "gain"), ("_low", "lo"), ("_high", "hi")] {
                    if let Some(v) = row[way][field].as_f64() {
                        f.push(format!("ablation.{n}.{way}{suffix}"), v, from.clone());
                    }
                }
            }
        }
        if let Some(v) = a["repeats"].as_f64() {
            f.push("ablation.repeats", v, "ablation");
        }
        if let Some(v) = a["total"]["gain"].as_f64() {
            f.push("ablation.total", v, "ablation");
        }
        for p in r["proposers"].as_array().into_iter().flatten() {
            let Some(name) = p["name"].as_str() else {
                continue;
            };
            let name: String = name
                .chars()
                .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
                .collect();
            for field in ["judged", "kept"] {
                if let Some(v) = p[field].as_f64() {
                    f.push(format!("proposers.{name}.{field}"), v, "ledger");
                }
            }
            if let Some(v) = p["rate"].as_f64() {
                f.push(format!("proposers.{name}.percent"), v * 100.0, "ledger");
            }
        }
        f
    }

    /// The facts as the LLM is shown them: `key = text (from)` per line.
    pub fn table(&self) -> String {
        self.list
            .iter()
            .map(|f| format!("{} = {} (from {})", f.key, f.text, f.from))
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// Whether a number written with `decimals` digits after the point is a rounding of a
    /// fact or an allowed number (`percent`: written with a `%`, also matched against a
    /// fraction × 100).
    pub fn admits(&self, written: f64, decimals: u32, percent: bool) -> bool {
        let all = self
            .list
            .iter()
            .map(|f| f.value)
            .chain(self.allowed.iter().map(|(v, _)| *v));
        // Both printed with the written number's decimals: equal text, equal number.
        let d = decimals as usize;
        let written_text = format!("{written:.d$}");
        let close = |v: f64| format!("{v:.d$}") == written_text;
        all.into_iter()
            .any(|v| close(v) || (percent && close(v * 100.0)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn report() -> Value {
        json!({
            "primary": "val_loss",
            "baseline": {"id": 0, "score": 1.2345678},
            "best": {"id": 7, "title": "wider", "score": 0.9876543},
            "gain": {"value": 0.2469135, "relative": 0.2, "ci95": {"low": 0.1, "high": 0.39}, "runs": {"baseline": 3, "best": 2}},
            "experiments": 12,
            "counts": {"kept": 2, "crashed": 1},
            "compute_secs": 5400.0,
            "wall_secs": 1800.0,
            "kept": [{"id": 3, "title": "lr=0.05", "score": 1.1, "gain": 0.13, "p": 0.004, "runs": 3, "lines": [4, 1]},
                     {"id": 7, "score": 0.9876543, "gain": 0.11, "p": 0.02, "runs": 2, "lines": [2, 2]}],
            "proposers": [{"name": "tpe", "judged": 10, "kept": 2, "rate": 0.2}],
        })
    }

    #[test]
    fn a_report_flattens_to_keys_with_their_experiments() {
        let f = Facts::from_report(&report());
        let best = f.get("best.val_loss").unwrap();
        assert_eq!(
            (best.value, best.text.as_str(), best.from.as_str()),
            (0.9876543, "0.9877", "#7")
        );
        assert_eq!(f.get("gain.percent").unwrap().text, "20");
        assert_eq!(f.get("kept.1.p").unwrap().from, "#3");
        assert_eq!(f.get("compute_hours").unwrap().text, "1.5");
        assert_eq!(f.get("wall_hours").map(|w| w.value), Some(0.5));
        assert!(
            f.get("counts.kept").is_none(),
            "the status counts the baseline as kept"
        );
        assert_eq!(f.get("counts.crashed").map(|c| c.value), Some(1.0));
        // Numbers of a kept title, signs and exponents included.
        let t = Facts::from_report(&json!({"kept": [{"id": 1, "title": "wd=-1e-4, lr=3"}]}));
        assert!(t.admits(-0.0001, 12, false) && t.admits(3.0, 0, false));
        assert!(!t.admits(4.0, 0, false));
        assert_eq!(f.get("proposers.tpe.percent").unwrap().value, 20.0);
        assert_eq!(f.get("kept.2.lines_added").unwrap().value, 2.0);
        assert!(f.table().contains("best.score = 0.9877 (from #7)"));
        assert!(
            f.admits(0.05, 2, false),
            "a number of a kept change's title"
        );
    }

    #[test]
    fn an_ablation_gives_each_change_its_contribution_keys() {
        let mut r = report();
        r["ablation"] = json!({
            "repeats": 3,
            "total": {"gain": 0.6, "lo": 0.58, "hi": 0.62},
            "rows": [
                {"change": {"number": 3}, "leave_one_out": {"gain": 0.3, "lo": 0.28, "hi": 0.32},
                 "add_one_in": {"gain": 0.29, "lo": 0.27, "hi": 0.31}},
                {"change": {"number": 7}, "leave_one_out": {"gain": 0.1, "lo": 0.08, "hi": 0.12},
                 "add_one_in": null}
            ]
        });
        let f = Facts::from_report(&r);
        let loo = f.get("ablation.1.leave_one_out").unwrap();
        assert_eq!((loo.value, loo.from.as_str()), (0.3, "ablation of #3"));
        assert_eq!(f.get("ablation.1.add_one_in_low").unwrap().value, 0.27);
        assert_eq!(f.get("ablation.2.leave_one_out_high").unwrap().value, 0.12);
        assert_eq!(f.get("ablation.2.id").unwrap().value, 7.0);
        assert!(f.get("ablation.2.add_one_in").is_none(), "not measured");
        assert_eq!(f.get("ablation.repeats").unwrap().value, 3.0);
        assert_eq!(f.get("ablation.total").unwrap().value, 0.6);
        assert!(
            Facts::from_report(&report())
                .get("ablation.repeats")
                .is_none()
        );
    }

    #[test]
    fn numbers_are_shown_to_four_significant_digits() {
        assert_eq!(shown(0.0012346), "0.001235");
        assert_eq!(shown(1234.5678), "1235");
        assert_eq!(shown(12.0), "12");
        assert_eq!(shown(1.5), "1.5");
        assert_eq!(shown(-0.25), "-0.25");
    }

    #[test]
    fn a_written_number_is_admitted_only_as_a_rounding_of_a_fact() {
        let f = Facts::from_report(&report());
        assert!(f.admits(0.99, 2, false));
        assert!(f.admits(0.988, 3, false));
        assert!(f.admits(0.9877, 4, false));
        assert!(!f.admits(0.97, 2, false), "not a rounding of 0.98765");
        assert!(!f.admits(0.989, 3, false));
        assert!(f.admits(20.0, 0, true), "20% is gain.percent");
        assert!(!f.admits(0.4, 3, false));
        assert!(f.admits(12.0, 0, false));
        assert!(!f.admits(13.0, 0, false));
        let mut r = Facts::default();
        r.push("rate", 0.25, "ledger");
        assert!(r.admits(25.0, 0, true), "25% is the fraction 0.25");
        assert!(!r.admits(25.0, 0, false), "25 without % is not 0.25");
        assert!(!r.admits(0.3, 1, false) && r.admits(0.25, 2, false) && r.admits(0.2, 1, false));
        let mut g = f.clone();
        g.allow(2017.0, "a citation");
        assert!(g.admits(2017.0, 0, false) && !f.admits(2017.0, 0, false));
    }
}
