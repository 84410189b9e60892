//! The progress plot, drawn on the server as SVG (no script, no library): each judged
//! experiment's score in order — kept ones labelled, discarded grey, crashes marked on the
//! axis — the running best as a step line, and the baseline's noise band.

use std::fmt::Write;

use autolab_core::config::Goal;
use autolab_core::experiment::{Experiment, Verdict};

const W: f64 = 760.0;
const H: f64 = 260.0;
const PAD_L: f64 = 64.0;
const PAD_R: f64 = 16.0;
const PAD_T: f64 = 16.0;
const PAD_B: f64 = 36.0;
/// Characters of a kept experiment's title on its label.
const LABEL_CHARS: usize = 28;
/// Points of experiments that were not kept drawn at most (evenly thinned beyond): a plot of
/// ten thousand experiments stays light to draw; kept ones and crashes are always drawn.
const MAX_OTHER_POINTS: usize = 1500;

/// Text for SVG (titles come from LLMs and users).
pub fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// The plot of `exps` (any order), the baseline's noise band from its repeated runs.
pub fn progress(exps: &[Experiment], goal: Goal, baseline: Option<&Experiment>) -> String {
    let mut judged: Vec<&Experiment> = exps.iter().filter(|e| e.verdict.is_some()).collect();
    judged.sort_by_key(|e| e.number);
    let scored: Vec<(u32, f64, &Experiment)> = judged
        .iter()
        .filter_map(|e| e.score.filter(|s| s.is_finite()).map(|s| (e.number, s, *e)))
        .collect();
    let mut svg = String::new();
    let _ = write!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {W} {H}" class="plot" role="img" aria-label="score per experiment" data-points="{}">"#,
        scored.len()
    );
    if scored.is_empty() {
        let _ = write!(
            svg,
            r#"<text x="{}" y="{}" class="empty">no scored experiment yet</text></svg>"#,
            W / 2.0 - 80.0,
            H / 2.0
        );
        return svg;
    }
    let band = baseline.and_then(|b| b.stats.as_ref()).and_then(|s| {
        Some((
            s["noise_runs"]["mean"].as_f64()?,
            s["noise_runs"]["sd"].as_f64()?,
        ))
    });
    let mut lo = scored.iter().map(|p| p.1).fold(f64::INFINITY, f64::min);
    let mut hi = scored.iter().map(|p| p.1).fold(f64::NEG_INFINITY, f64::max);
    if let Some((m, sd)) = band {
        lo = lo.min(m - sd);
        hi = hi.max(m + sd);
    }
    if hi - lo < 1e-12 {
        lo -= 0.5;
        hi += 0.5;
    }
    let span = hi - lo;
    let (lo, hi) = (lo - 0.05 * span, hi + 0.05 * span);
    let last = judged.last().map_or(1, |e| e.number).max(1);
    let x = |n: u32| PAD_L + (W - PAD_L - PAD_R) * f64::from(n) / f64::from(last);
    let y = |s: f64| PAD_T + (H - PAD_T - PAD_B) * (hi - s) / (hi - lo);
    // Axes and their extreme values.
    let _ = write!(
        svg,
        r#"<line x1="{PAD_L}" y1="{}" x2="{}" y2="{}" class="axis"/><line x1="{PAD_L}" y1="{PAD_T}" x2="{PAD_L}" y2="{}" class="axis"/>"#,
        H - PAD_B,
        W - PAD_R,
        H - PAD_B,
        H - PAD_B
    );
    for v in [lo, hi] {
        let _ = write!(
            svg,
            r#"<text x="4" y="{:.1}" class="tick">{}</text>"#,
            y(v) + 4.0,
            esc(&format!("{v:.4}"))
        );
    }
    let _ = write!(
        svg,
        r#"<text x="{}" y="{}" class="tick">experiment</text><text x="{:.1}" y="{}" class="tick">{last}</text>"#,
        W / 2.0 - 30.0,
        H - 6.0,
        x(last) - 10.0,
        H - 20.0
    );
    if let Some((m, sd)) = band {
        let _ = write!(
            svg,
            r#"<rect x="{PAD_L}" y="{:.1}" width="{}" height="{:.1}" class="band"><title>baseline noise: mean ± sd</title></rect>"#,
            y(m + sd),
            W - PAD_L - PAD_R,
            (y(m - sd) - y(m + sd)).max(1.0)
        );
    }
    // The running best, over kept experiments.
    let mut best: Option<f64> = None;
    let mut steps = String::new();
    for (n, s, e) in &scored {
        if e.verdict != Some(Verdict::Kept) {
            continue;
        }
        let better = best.is_none_or(|b| match goal {
            Goal::Minimize => *s < b,
            Goal::Maximize => *s > b,
        });
        if better {
            if let Some(b) = best {
                let _ = write!(steps, " L{:.1},{:.1}", x(*n), y(b));
            }
            let _ = write!(
                steps,
                "{}{:.1},{:.1}",
                if best.is_none() { "M" } else { " L" },
                x(*n),
                y(*s)
            );
            best = Some(*s);
        }
    }
    if let Some(b) = best {
        let _ = write!(steps, " L{:.1},{:.1}", x(last), y(b));
        let _ = write!(svg, r#"<path d="{steps}" class="best"/>"#);
    }
    let others = scored
        .iter()
        .filter(|p| p.2.verdict != Some(Verdict::Kept))
        .count();
    let every = others.div_ceil(MAX_OTHER_POINTS).max(1);
    let mut other_index = 0;
    for (n, s, e) in &scored {
        let kept = e.verdict == Some(Verdict::Kept);
        if !kept {
            other_index += 1;
            if (other_index - 1) % every != 0 {
                continue;
            }
        }
        let _ = write!(
            svg,
            r#"<circle cx="{:.1}" cy="{:.1}" r="{}" class="{}"><title>#{n:04} {} {}</title></circle>"#,
            x(*n),
            y(*s),
            if kept { 4.5 } else { 3.0 },
            if kept { "kept" } else { "other" },
            esc(&e.title),
            esc(&format!("{s:.6}"))
        );
        if kept && *n > 0 {
            let label: String = e.title.chars().take(LABEL_CHARS).collect();
            let _ = write!(
                svg,
                r#"<text x="{:.1}" y="{:.1}" class="label">{}</text>"#,
                x(*n) + 6.0,
                y(*s) - 6.0,
                esc(&label)
            );
        }
    }
    for e in judged
        .iter()
        .filter(|e| matches!(e.verdict, Some(Verdict::Crashed | Verdict::Timeout)))
    {
        let _ = write!(
            svg,
            r#"<text x="{:.1}" y="{:.1}" class="crash">✕<title>#{:04} {}</title></text>"#,
            x(e.number) - 4.0,
            H - PAD_B + 14.0,
            e.number,
            esc(e.verdict.map_or("", |v| v.as_str()))
        );
    }
    svg.push_str("</svg>");
    svg
}

/// Learning curves: `metric` over `step` for each run (run index, points in log order).
pub fn curves(runs: &[(u32, Vec<(f64, f64)>)], metric: &str) -> String {
    let all = runs.iter().flat_map(|(_, p)| p.iter());
    let (mut x0, mut x1, mut y0, mut y1) = (
        f64::INFINITY,
        f64::NEG_INFINITY,
        f64::INFINITY,
        f64::NEG_INFINITY,
    );
    for (x, y) in all {
        x0 = x0.min(*x);
        x1 = x1.max(*x);
        y0 = y0.min(*y);
        y1 = y1.max(*y);
    }
    let mut svg = format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {W} {H}" class="plot curves" role="img" aria-label="{} per step">"#,
        esc(metric)
    );
    if !x0.is_finite() {
        svg.push_str("</svg>");
        return svg;
    }
    if x1 - x0 < 1e-12 {
        x1 = x0 + 1.0;
    }
    if y1 - y0 < 1e-12 {
        y0 -= 0.5;
        y1 += 0.5;
    }
    let x = |v: f64| PAD_L + (W - PAD_L - PAD_R) * (v - x0) / (x1 - x0);
    let y = |v: f64| PAD_T + (H - PAD_T - PAD_B) * (y1 - v) / (y1 - y0);
    let _ = write!(
        svg,
        r#"<line x1="{PAD_L}" y1="{b}" x2="{r}" y2="{b}" class="axis"/><line x1="{PAD_L}" y1="{PAD_T}" x2="{PAD_L}" y2="{b}" class="axis"/>"#,
        b = H - PAD_B,
        r = W - PAD_R
    );
    for v in [y0, y1] {
        let _ = write!(
            svg,
            r#"<text x="4" y="{:.1}" class="tick">{}</text>"#,
            y(v) + 4.0,
            esc(&format!("{v:.4}"))
        );
    }
    let _ = write!(
        svg,
        r#"<text x="{}" y="{}" class="tick">step ({} to {})</text>"#,
        W / 2.0 - 40.0,
        H - 6.0,
        esc(&format!("{x0}")),
        esc(&format!("{x1}"))
    );
    for (k, (run, points)) in runs.iter().enumerate() {
        let mut d = String::new();
        for (i, (px, py)) in points.iter().enumerate() {
            let _ = write!(
                d,
                "{}{:.1},{:.1}",
                if i == 0 { "M" } else { " L" },
                x(*px),
                y(*py)
            );
        }
        let _ = write!(
            svg,
            r#"<path d="{d}" class="curve c{}"><title>run {run}</title></path>"#,
            k % 4
        );
    }
    svg.push_str("</svg>");
    svg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn titles_are_text_in_the_svg() {
        assert_eq!(
            esc("<script>alert('x')</script> & \"q\""),
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;q&quot;"
        );
        assert_eq!(esc("a\u{1b}[31mb"), "a [31mb");
    }

    #[test]
    fn each_run_is_one_path_of_its_points() {
        let svg = curves(
            &[(0, vec![(0.0, 1.0), (1.0, 0.5)]), (1, vec![(0.0, 0.9)])],
            "loss",
        );
        assert_eq!(svg.matches("<path").count(), 2);
        assert!(svg.contains("M64.0,16.0 L744.0,"), "{svg}");
        assert!(curves(&[], "loss").ends_with("</svg>"));
    }
}
