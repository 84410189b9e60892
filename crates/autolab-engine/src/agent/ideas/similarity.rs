//! How alike two ideas are: the near-duplicate test that keeps tried ideas from coming back.

use std::collections::BTreeSet;

use super::Idea;

/// The threshold [`is_near_duplicate`] is meant to be used with. On the pairs in this
/// module's tests, paraphrased titles score 0.54 or more and different ideas about the same
/// part of the code 0.39 or less; it sits a little below the middle because a repeated
/// experiment costs a run while a dropped idea costs only another ask.
pub const NEAR_DUPLICATE_THRESHOLD: f64 = 0.45;

/// How alike two idea texts are, in [0, 1], symmetric; 1 for texts equal up to case.
///
/// Both texts become content words: lowercased alphanumeric runs (decimals such as `0.1`
/// kept whole), stop words and filler such as "improve" dropped, `lr` and `wd` expanded.
/// The score is the mean of
/// - the Dice coefficient of the sets of word stems (light suffix stemming, so
///   "rates"/"rate" and "scheduling"/"schedule" agree), where stems nearly every idea
///   shares ("learning", "rate", "model", "optimizer", ...) and words that only say which
///   way to change something ("increase", "larger", ...) weigh half; this catches reworded
///   titles;
/// - the Dice coefficient of the sets of character trigrams of the words other than those
///   common ones, which catches spelling variants ("layerwise" / "layer-wise",
///   "warmup" / "warm-up").
///
/// It is halved when one text only raises something ("increase", "larger", "add") and the
/// other only lowers it ("decrease", "smaller", "remove"), and halved when both name
/// numbers and share none ("dropout 0.1" / "dropout 0.2"): those are different
/// experiments. Word overlap cannot see synonyms: "switch to Lion" and "replace AdamW
/// with Lion" score low.
pub fn similarity(a: &str, b: &str) -> f64 {
    if a.trim().to_lowercase() == b.trim().to_lowercase() {
        return 1.0;
    }
    let (wa, wb) = (words(a), words(b));
    if wa.is_empty() || wb.is_empty() {
        return 0.0;
    }
    let stems = |ws: &[String]| -> BTreeSet<String> { ws.iter().map(|w| stem(w)).collect() };
    let mut score =
        (weighted_dice(&stems(&wa), &stems(&wb)) + dice(&trigrams(&wa), &trigrams(&wb))) / 2.0;
    if directions_clash(a, b) {
        score /= 2.0;
    }
    let numbers = |ws: &[String]| -> BTreeSet<String> {
        ws.iter()
            .filter(|w| w.chars().all(|c| c.is_ascii_digit() || c == '.'))
            .cloned()
            .collect()
    };
    let (na, nb) = (numbers(&wa), numbers(&wb));
    if !na.is_empty() && !nb.is_empty() && na.is_disjoint(&nb) {
        score /= 2.0;
    }
    score
}

/// Whether `candidate` is a near-duplicate of one of the `tried` (title, hypothesis)
/// pairs: its title, or its title and hypothesis together, reach `threshold` in
/// [`similarity`] with that idea's — unless the two titles change something in opposite
/// directions.
pub fn is_near_duplicate(candidate: &Idea, tried: &[(String, String)], threshold: f64) -> bool {
    let whole = format!("{} {}", candidate.title, candidate.hypothesis);
    tried.iter().any(|(title, hypothesis)| {
        if directions_clash(&candidate.title, title) {
            return false;
        }
        similarity(&candidate.title, title) >= threshold
            || similarity(&whole, &format!("{title} {hypothesis}")) >= threshold
    })
}

#[rustfmt::skip]
const STOP_WORDS: &[&str] = &[
    "a", "about", "after", "all", "also", "an", "and", "any", "approach", "are", "as", "at",
    "based", "be", "been", "before", "better", "between", "both", "but", "by", "can", "could",
    "do", "does", "each", "effect", "enhance", "enhanced", "enhancing", "experiment", "for",
    "from", "has", "have", "how", "if", "improve", "improved", "improvement", "improves",
    "improving", "in", "instead", "into", "is", "it", "its", "may", "method", "might", "new",
    "not", "of", "on", "or", "our", "per", "performance", "result", "results", "should", "so",
    "such", "than", "that", "the", "their", "then", "there", "these", "this", "those",
    "through", "to", "try", "trying", "use", "used", "using", "via", "we", "when", "which",
    "while", "will", "wise", "with", "would",
];

/// Lowercased alphanumeric words (a `.` between digits stays: `0.1`), stop words and
/// single letters dropped, abbreviations expanded; a hyphenated word without stop words
/// also counts joined (`warm-up`: `warm`, `up`, `warmup`; but `per-layer` is `layer`).
fn words(text: &str) -> Vec<String> {
    let chars: Vec<char> = text.to_lowercase().chars().collect();
    // Runs of alphanumerics, grouped when joined by single hyphens.
    let mut groups: Vec<Vec<String>> = vec![Vec::new()];
    let mut current = String::new();
    for (i, &c) in chars.iter().enumerate() {
        let decimal_point = c == '.'
            && i > 0
            && chars[i - 1].is_ascii_digit()
            && chars.get(i + 1).is_some_and(char::is_ascii_digit);
        if c.is_alphanumeric() || decimal_point {
            current.push(c);
            continue;
        }
        let hyphen = c == '-' && chars.get(i + 1).is_some_and(|n| n.is_alphanumeric());
        if let Some(group) = groups.last_mut()
            && !current.is_empty()
        {
            group.push(std::mem::take(&mut current));
        }
        if !hyphen {
            groups.push(Vec::new());
        }
    }
    if let Some(group) = groups.last_mut()
        && !current.is_empty()
    {
        group.push(current);
    }
    let mut out = Vec::new();
    for group in groups {
        let joined = (group.len() > 1 && !group.iter().any(|w| STOP_WORDS.contains(&w.as_str())))
            .then(|| group.concat());
        for w in group.into_iter().chain(joined) {
            match w.as_str() {
                w if STOP_WORDS.contains(&w) => {}
                // The `s` of "model's", stray letters.
                w if w.chars().count() == 1 && !w.chars().all(|c| c.is_ascii_digit()) => {}
                "lr" => out.extend(["learning".to_string(), "rate".to_string()]),
                "wd" => out.extend(["weight".to_string(), "decay".to_string()]),
                _ => out.push(w),
            }
        }
    }
    out
}

/// A light stem: plural, "-ing", "-ed", "-ation", "-ly", "-wise" and a final "e" removed
/// where at least three characters remain.
fn stem(word: &str) -> String {
    let mut w = word.to_string();
    for suffix in ["wise", "ations", "ation", "ings", "ing", "ed", "ly"] {
        if let Some(rest) = w.strip_suffix(suffix)
            && rest.chars().count() >= 3
        {
            w = rest.to_string();
            break;
        }
    }
    if let Some(rest) = w.strip_suffix("es")
        && ["s", "x", "z", "ch", "sh"]
            .iter()
            .any(|e| rest.ends_with(e))
        && rest.chars().count() >= 3
    {
        w = rest.to_string();
    } else if w.ends_with('s')
        && !w.ends_with("ss")
        && !w.ends_with("us")
        && !w.ends_with("is")
        && w.chars().count() > 3
    {
        w.pop();
    }
    if w.ends_with('e') && w.chars().count() > 3 {
        w.pop();
    }
    w
}

/// The character trigrams of the words that are not generic (of all words when every
/// word is generic), with word boundaries marked by spaces.
fn trigrams(words: &[String]) -> BTreeSet<String> {
    let specific: Vec<&str> = words
        .iter()
        .filter(|w| !is_generic(&stem(w)))
        .map(String::as_str)
        .collect();
    let chosen = if specific.is_empty() {
        words.iter().map(String::as_str).collect()
    } else {
        specific
    };
    let joined: Vec<char> = format!(" {} ", chosen.join(" ")).chars().collect();
    joined
        .windows(3)
        .map(|w| w.iter().collect::<String>())
        .filter(|g| g.trim().chars().count() >= 2)
        .collect()
}

/// Stems that nearly every idea for a training script shares; they count less.
#[rustfmt::skip]
const GENERIC_STEMS: &[&str] = &[
    "learn", "rat", "model", "train", "loss", "network", "neural", "optimizer",
];
const GENERIC_WEIGHT: f64 = 0.5;

/// Generic stems, and the words that only say which way to change something.
fn is_generic(stem: &str) -> bool {
    GENERIC_STEMS.contains(&stem) || UP.iter().chain(DOWN).any(|w| self::stem(w) == stem)
}

/// The Dice coefficient with generic stems weighing [`GENERIC_WEIGHT`].
fn weighted_dice(a: &BTreeSet<String>, b: &BTreeSet<String>) -> f64 {
    let weight = |s: &String| {
        if is_generic(s) { GENERIC_WEIGHT } else { 1.0 }
    };
    let total: f64 = a.iter().chain(b).map(weight).sum();
    if total == 0.0 {
        return 0.0;
    }
    2.0 * a.intersection(b).map(weight).sum::<f64>() / total
}

fn dice(a: &BTreeSet<String>, b: &BTreeSet<String>) -> f64 {
    if a.is_empty() && b.is_empty() {
        return 0.0;
    }
    2.0 * a.intersection(b).count() as f64 / (a.len() + b.len()) as f64
}

#[rustfmt::skip]
const UP: &[&str] = &[
    "add", "adding", "bigger", "deeper", "double", "doubling", "grow", "higher", "increase",
    "increased", "increases", "increasing", "larger", "longer", "more", "raise", "raising",
    "wider",
];
#[rustfmt::skip]
const DOWN: &[&str] = &[
    "decrease", "decreased", "decreases", "decreasing", "drop", "dropping", "fewer", "halve",
    "halving", "less", "lower", "lowering", "narrower", "reduce", "reduced", "reduces",
    "reducing", "remove", "removing", "shallower", "shorter", "shrink", "smaller",
];

/// Whether one text only moves things up and the other only down.
fn directions_clash(a: &str, b: &str) -> bool {
    let direction = |text: &str| {
        let lower = text.to_lowercase();
        let words: Vec<&str> = lower.split(|c: char| !c.is_alphanumeric()).collect();
        let up = words.iter().any(|w| UP.contains(w));
        let down = words.iter().any(|w| DOWN.contains(w));
        match (up, down) {
            (true, false) => 1,
            (false, true) => -1,
            _ => 0,
        }
    };
    direction(a) * direction(b) == -1
}
