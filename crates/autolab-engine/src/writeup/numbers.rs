//! The number checker: prose may contain a literal number only when it is a rounding of a
//! ledger fact (or an allowed number: a citation's year, a value from a kept change's diff).
//! `\fact{key}` placeholders are checked for unknown keys, then replaced by the fact's text.

use super::facts::Facts;

/// Why a piece of prose was rejected.
#[derive(Debug, Clone, PartialEq)]
pub struct Offence {
    /// The sentence it is in, as written.
    pub sentence: String,
    pub what: String,
}

/// Commands whose braced argument is a name, not prose.
const NAME_ARGS: [&str; 16] = [
    "cite",
    "citet",
    "citep",
    "citealp",
    "citeauthor",
    "citeyear",
    "ref",
    "cref",
    "Cref",
    "eqref",
    "label",
    "autoref",
    "includegraphics",
    "url",
    "fact",
    "input",
];

/// The text with comments, names (labels, citation keys, `\fact{}` keys, optional
/// arguments) and environment names blanked, so only prose and math are left to check.
fn prose(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let b: Vec<char> = text.chars().collect();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c == '\\' && i + 1 < b.len() && b[i + 1] == '%' {
            out.push_str("\\%");
            i += 2;
            continue;
        }
        if c == '\\' && i + 1 < b.len() && matches!(b[i + 1], ',' | ';' | ':' | '!' | ' ') {
            out.push(' '); // a thin or normal space
            i += 2;
            continue;
        }
        if c == '%' {
            while i < b.len() && b[i] != '\n' {
                i += 1;
            }
            continue;
        }
        if c == '\\' {
            let start = i + 1;
            let mut j = start;
            while j < b.len() && b[j].is_ascii_alphabetic() {
                j += 1;
            }
            let name: String = b[start..j].iter().collect();
            let mut k = j;
            if k < b.len() && b[k] == '*' {
                k += 1;
            }
            let skip_args = NAME_ARGS.contains(&name.as_str()) || name == "begin" || name == "end";
            out.push(' ');
            // Optional arguments are printed by some commands (`\cite[p.~42]{k}`): checked.
            if skip_args && k < b.len() && b[k] == '{' {
                let mut depth = 0;
                while k < b.len() {
                    if b[k] == '{' {
                        depth += 1;
                    } else if b[k] == '}' {
                        depth -= 1;
                        if depth == 0 {
                            k += 1;
                            break;
                        }
                    }
                    k += 1;
                }
            }
            i = k.max(start);
            continue;
        }
        out.push(c);
        i += 1;
    }
    out
}

/// A literal number in prose: its value, decimals, whether a `%` follows, and its span.
struct Literal {
    value: f64,
    decimals: u32,
    percent: bool,
    at: usize,
}

fn literals(text: &str) -> Vec<Literal> {
    let b: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if !b[i].is_ascii_digit() {
            i += 1;
            continue;
        }
        let start = i;
        // Part of a name (ResNet-50, GPT-4, L2, fp16, x86)? Skip the whole token.
        let prev = start.checked_sub(1).map(|p| b[p]);
        let named = match prev {
            Some(p) if p.is_alphabetic() || p == '_' => true,
            Some('-') => start >= 2 && b[start - 2].is_alphabetic(),
            _ => false,
        };
        let mut j = i;
        let mut digits = String::new();
        let mut decimals = 0u32;
        let mut seen_point = false;
        while j < b.len() {
            let c = b[j];
            if c.is_ascii_digit() {
                digits.push(c);
                if seen_point {
                    decimals += 1;
                }
                j += 1;
            } else if (c == '{' || c == '}')
                && b[j..]
                    .iter()
                    .find(|x| **x != '{' && **x != '}')
                    .is_some_and(char::is_ascii_digit)
            {
                j += 1; // `3{}2`: braces print nothing, the digits run on
            } else if matches!(c, ',' | ' ' | '~')
                && !seen_point
                && j + 3 < b.len()
                && b[j + 1..].iter().take(3).all(char::is_ascii_digit)
                && b.get(j + 4).is_none_or(|n| !n.is_ascii_digit())
            {
                j += 1; // a thousands separator: 1,500 or 1 500 or 1~500
            } else if c == '.' && !seen_point && b.get(j + 1).is_some_and(char::is_ascii_digit) {
                seen_point = true;
                digits.push('.');
                j += 1;
            } else {
                break;
            }
        }
        // Scientific notation: 1e-3, 3 \times 10^{-4} is two literals (3 and 10^-4 → 10, 4).
        if j < b.len() && (b[j] == 'e' || b[j] == 'E') {
            let mut k = j + 1;
            if k < b.len() && (b[k] == '-' || b[k] == '+') {
                k += 1;
            }
            if k < b.len() && b[k].is_ascii_digit() {
                digits.push('e');
                digits.extend(&b[j + 1..k]);
                while k < b.len() && b[k].is_ascii_digit() {
                    digits.push(b[k]);
                    k += 1;
                }
                j = k;
                decimals = decimals.max(12);
            }
        }
        let negative =
            prev == Some('-') && !named && !(start >= 2 && b[start - 2].is_ascii_digit());
        let rest: String = b[j..].iter().take(2).collect();
        let percent = rest.starts_with('%') || rest.starts_with("\\%");
        // A number with a unit or suffix (`5ms`, `3D`, `2nd`) is a number too.
        if !named && let Ok(v) = digits.parse::<f64>() {
            out.push(Literal {
                value: if negative { -v } else { v },
                decimals,
                percent,
                at: start,
            });
        }
        i = j.max(start + 1);
    }
    out
}

/// The sentence around char offset `at`.
fn sentence_at(text: &str, at: usize) -> String {
    let chars: Vec<char> = text.chars().collect();
    let ends = |c: char| c == '.' || c == '\n' || c == '?' || c == '!';
    let mut s = at;
    while s > 0 && !(ends(chars[s - 1]) && chars.get(s).is_none_or(|c| c.is_whitespace())) {
        s -= 1;
    }
    let mut e = at;
    while e < chars.len() && !(ends(chars[e]) && chars.get(e + 1).is_none_or(|c| c.is_whitespace()))
    {
        e += 1;
    }
    chars[s..(e + 1).min(chars.len())]
        .iter()
        .collect::<String>()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// The `\fact{…}` keys used in `text`.
pub fn fact_keys(text: &str) -> Vec<String> {
    let mut keys = Vec::new();
    let mut rest = text;
    while let Some(i) = rest.find("\\fact{") {
        let after = &rest[i + 6..];
        match after.find('}') {
            Some(j) => {
                keys.push(after[..j].trim().to_string());
                rest = &after[j..];
            }
            None => break,
        }
    }
    keys
}

/// Every literal number that is not a fact, and every `\fact{}` key that is not one.
pub fn check(text: &str, facts: &Facts) -> Vec<Offence> {
    let mut offences = Vec::new();
    for key in fact_keys(text) {
        if facts.get(&key).is_none() {
            let at = text.find(&format!("\\fact{{{key}")).unwrap_or(0);
            offences.push(Offence {
                sentence: sentence_at(text, text[..at].chars().count()),
                what: format!("\\fact{{{key}}} is not one of the facts"),
            });
        }
    }
    for c in text
        .chars()
        .filter(|c| c.is_numeric() && !c.is_ascii_digit())
    {
        offences.push(Offence {
            sentence: sentence_at(text, text.chars().position(|x| x == c).unwrap_or(0)),
            what: format!(
                "the numeral `{c}` is not a ledger fact (write numbers as \\fact{{key}})"
            ),
        });
    }
    // Checked as printed: a fact next to a digit (`\fact{n}2`) makes a new number.
    let printed = substitute(text, facts);
    let p = prose(&printed);
    for lit in literals(&p) {
        if !facts.admits(lit.value, lit.decimals, lit.percent) {
            let written: String = p
                .chars()
                .skip(lit.at)
                .take_while(|c| {
                    c.is_ascii_digit() || matches!(c, '.' | ',' | 'e' | 'E' | '-' | '+' | '{' | '}')
                })
                .collect::<String>()
                .trim_end_matches(['.', ',', '-', '+', 'e', 'E', '{', '}'])
                .to_string();
            // The sentence as printed (the checked text has names blanked).
            let at = printed
                .match_indices(&written)
                .find(|(i, _)| !printed[..*i].ends_with(|c: char| c.is_ascii_digit()))
                .map_or(0, |(i, _)| printed[..i].chars().count());
            offences.push(Offence {
                sentence: sentence_at(&printed, at),
                what: format!("the number {written} is not a ledger fact"),
            });
        }
    }
    offences
}

/// Escapes text for LaTeX prose.
pub fn latex_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\textbackslash{}"),
            '&' | '%' | '$' | '#' | '_' | '{' | '}' => {
                out.push('\\');
                out.push(c);
            }
            '~' => out.push_str("\\textasciitilde{}"),
            '^' => out.push_str("\\textasciicircum{}"),
            c if c.is_control() && c != '\n' => {}
            c => out.push(c),
        }
    }
    out
}

/// `text` with every known `\fact{key}` replaced by the fact's printed number.
pub fn substitute(text: &str, facts: &Facts) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find("\\fact{") {
        out.push_str(&rest[..i]);
        let after = &rest[i + 6..];
        match after.find('}') {
            Some(j) => {
                let key = after[..j].trim();
                match facts.get(key) {
                    Some(f) => out.push_str(&latex_escape(&f.text)),
                    None => out.push_str("??"),
                }
                rest = &after[j + 1..];
            }
            None => {
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts() -> Facts {
        let mut f = Facts::default();
        f.push("best.score", 0.9876543, "#7");
        f.push("baseline.score", 1.2345678, "#0");
        f.push("gain.percent", 20.0, "#7");
        f.push("experiments", 12.0, "ledger");
        f
    }

    #[test]
    fn placeholders_and_roundings_of_facts_pass() {
        let text =
            "We reach \\fact{best.score} (about 0.99) from 1.23 over 12 experiments, a 20\\% gain.";
        assert_eq!(check(text, &facts()), vec![]);
        assert_eq!(
            substitute(text, &facts()),
            "We reach 0.9877 (about 0.99) from 1.23 over 12 experiments, a 20\\% gain."
        );
    }

    #[test]
    fn a_made_up_number_is_caught_with_its_sentence() {
        let text = "Our method is strong. It improves accuracy by 37.5\\% over the baseline. Done.";
        let o = check(text, &facts());
        assert_eq!(o.len(), 1, "{o:?}");
        assert_eq!(
            o[0].sentence,
            "It improves accuracy by 37.5\\% over the baseline."
        );
        assert!(o[0].what.contains("37.5"), "{}", o[0].what);
    }

    #[test]
    fn an_escaped_percent_is_text_and_a_bare_one_a_comment() {
        let o = check("a 20\\% gain and 13 more.", &facts());
        assert_eq!(o.len(), 1, "{o:?}");
        assert!(o[0].what.contains("13"));
        assert!(
            check("a 20% gain and 13 more.", &facts()).is_empty(),
            "after % is a comment"
        );
        assert!(check("ends with a backslash \\", &facts()).is_empty());
        // A long way in, `\%` still only skips itself.
        let o = check("An increase of 20\\% and 13 more.", &facts());
        assert_eq!(o.len(), 1, "{o:?}");
        // Thin and thick spaces group thousands as printed.
        let mut f = facts();
        f.allow(3200.0, "a test");
        for t in [
            "over 3\\,200 runs",
            "over 3\\;200 runs",
            "a long way in: over 3\\,200 runs",
        ] {
            assert!(check(t, &f).is_empty(), "{t}: {:?}", check(t, &f));
        }
    }

    #[test]
    fn unknown_fact_keys_are_caught() {
        let o = check("Best is \\fact{best.acc}.", &facts());
        assert_eq!(o.len(), 1);
        assert!(o[0].what.contains("best.acc"));
    }

    #[test]
    fn names_labels_citations_and_options_are_not_numbers() {
        let text = "ResNet-50 and GPT-4 with L2 and fp16 \\citep{he2016deep} in \\cref{fig:progress_1}; \\label{sec:2} % 99 in a comment\n\\begin{itemize}[leftmargin=*]";
        assert_eq!(check(text, &facts()), vec![]);
    }

    #[test]
    fn math_signs_exponents_and_multipliers_are_numbers_too() {
        for bad in [
            "a loss of $-0.5$.",
            "lr of 3e-4 helps.",
            "a 2x speedup.",
            "costs 1,500 dollars.",
            "in 2019 it was shown.",
            "latency of 5ms.",
            "as \\citep[p.~42]{k} says.",
            "a \\text{42} gain.",
            "a ４２ gain.",
            "a ½ gain.",
            "a 3{}2{}0{}0 gain.",
            "a \\fact{experiments}2 gain.",
            "over 3\\,200 runs.",
            "a loss of $-12$.",
        ] {
            assert!(!check(bad, &facts()).is_empty(), "{bad}");
        }
        let mut f = facts();
        f.allow(2019.0, "a citation");
        f.allow(0.0003, "diff of #3");
        assert!(check("in 2019 it was shown, with lr 3e-4.", &f).is_empty());
    }

    #[test]
    fn unknown_keys_substitute_as_question_marks_and_values_are_escaped() {
        let mut f = Facts::default();
        f.push("x", 5.0, "#1");
        assert_eq!(substitute("\\fact{x} and \\fact{y}", &f), "5 and ??");
        assert_eq!(
            latex_escape("a_b & 50% #1 {x} ~^\\"),
            "a\\_b \\& 50\\% \\#1 \\{x\\} \\textasciitilde{}\\textasciicircum{}\\textbackslash{}"
        );
    }
}
