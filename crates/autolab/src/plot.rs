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

/// What the progress plot shows, drawn as SVG here and as PNG by [`crate::plot_png`]: the
/// judged experiments in order, their finite scores, the baseline's noise band, the range the
/// scores and band span, and the running best over kept experiments as step corners.
pub struct Progress<'a> {
    pub judged: Vec<&'a Experiment>,
    /// (number, score, experiment) of the judged experiments with a finite score.
    pub scored: Vec<(u32, f64, &'a Experiment)>,
    /// The baseline's noise: mean and sd of its repeated runs.
    pub band: Option<(f64, f64)>,
    /// The scores' and band's range, never empty (unpadded).
    pub lo: f64,
    pub hi: f64,
    /// The last judged number (at least 1).
    pub last: u32,
    /// Corners of the running best as a step line, from the first kept score to `last`.
    pub steps: Vec<(f64, f64)>,
}

impl<'a> Progress<'a> {
    pub fn of(exps: &'a [Experiment], goal: Goal, baseline: Option<&Experiment>) -> Progress<'a> {
        let mut judged: Vec<&Experiment> = exps.iter().filter(|e| e.verdict.is_some()).collect();
        judged.sort_by_key(|e| e.number);
        let scored: Vec<(u32, f64, &Experiment)> = judged
            .iter()
            .filter_map(|e| e.score.filter(|s| s.is_finite()).map(|s| (e.number, s, *e)))
            .collect();
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
        if !lo.is_finite() || !hi.is_finite() {
            (lo, hi) = (0.0, 1.0);
        }
        if hi - lo < 1e-12 {
            lo -= 0.5;
            hi += 0.5;
        }
        let last = judged.last().map_or(1, |e| e.number).max(1);
        let mut steps: Vec<(f64, f64)> = Vec::new();
        let mut best: Option<f64> = None;
        for (n, s, e) in &scored {
            let better = best.is_none_or(|b| match goal {
                Goal::Minimize => *s < b,
                Goal::Maximize => *s > b,
            });
            if e.verdict.is_some_and(Verdict::keeps) && better {
                if let Some(b) = best {
                    steps.push((f64::from(*n), b));
                }
                steps.push((f64::from(*n), *s));
                best = Some(*s);
            }
        }
        if let Some(b) = best {
            steps.push((f64::from(last), b));
        }
        Progress {
            judged,
            scored,
            band,
            lo,
            hi,
            last,
            steps,
        }
    }
}

/// The axes of a plot box, with the two extreme values written on the y axis.
fn axes(svg: &mut String, lo: f64, hi: f64, y: impl Fn(f64) -> f64) {
    let _ = write!(
        svg,
        r#"<line x1="{PAD_L}" y1="{b}" x2="{r}" y2="{b}" class="axis"/><line x1="{PAD_L}" y1="{PAD_T}" x2="{PAD_L}" y2="{b}" class="axis"/>"#,
        b = H - PAD_B,
        r = W - PAD_R
    );
    for v in [lo, hi] {
        let _ = write!(
            svg,
            r#"<text x="4" y="{:.1}" class="tick">{}</text>"#,
            y(v) + 4.0,
            esc(&format!("{v:.4}"))
        );
    }
}

/// The plot of `exps` (any order), the baseline's noise band from its repeated runs.
pub fn progress(exps: &[Experiment], goal: Goal, baseline: Option<&Experiment>) -> String {
    let p = Progress::of(exps, goal, baseline);
    let scored = &p.scored;
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
    let span = p.hi - p.lo;
    let (lo, hi) = (p.lo - 0.05 * span, p.hi + 0.05 * span);
    let last = p.last;
    let x = |n: f64| PAD_L + (W - PAD_L - PAD_R) * n / f64::from(last);
    let y = |s: f64| PAD_T + (H - PAD_T - PAD_B) * (hi - s) / (hi - lo);
    axes(&mut svg, lo, hi, y);
    let _ = write!(
        svg,
        r#"<text x="{}" y="{}" class="tick">experiment</text><text x="{:.1}" y="{}" class="tick">{last}</text>"#,
        W / 2.0 - 30.0,
        H - 6.0,
        x(f64::from(last)) - 10.0,
        H - 20.0
    );
    if let Some((m, sd)) = p.band {
        let _ = write!(
            svg,
            r#"<rect x="{PAD_L}" y="{:.1}" width="{}" height="{:.1}" class="band"><title>baseline noise: mean ± sd</title></rect>"#,
            y(m + sd),
            W - PAD_L - PAD_R,
            (y(m - sd) - y(m + sd)).max(1.0)
        );
    }
    // The running best, over kept experiments.
    if !p.steps.is_empty() {
        let mut d = String::new();
        for (i, (sx, sy)) in p.steps.iter().enumerate() {
            let _ = write!(
                d,
                "{}{:.1},{:.1}",
                if i == 0 { "M" } else { " L" },
                x(*sx),
                y(*sy)
            );
        }
        let _ = write!(svg, r#"<path d="{d}" class="best"/>"#);
    }
    let others = scored
        .iter()
        .filter(|p| !p.2.verdict.is_some_and(Verdict::keeps))
        .count();
    let every = others.div_ceil(MAX_OTHER_POINTS).max(1);
    let mut other_index = 0;
    for (n, s, e) in scored {
        let kept = e.verdict.is_some_and(Verdict::keeps);
        if !kept {
            other_index += 1;
            if (other_index - 1) % every != 0 {
                continue;
            }
        }
        let _ = write!(
            svg,
            r#"<circle cx="{:.1}" cy="{:.1}" r="{}" class="{}"><title>#{n:04} {} {}</title></circle>"#,
            x(f64::from(*n)),
            y(*s),
            if kept { 4.5 } else { 3.0 },
            if kept { "kept" } else { "other" },
            esc(&e.title),
            esc(&autolab_core::stats::fmt_value(*s))
        );
        if kept && *n > 0 {
            let label: String = e.title.chars().take(LABEL_CHARS).collect();
            let _ = write!(
                svg,
                r#"<text x="{:.1}" y="{:.1}" class="label">{}</text>"#,
                x(f64::from(*n)) + 6.0,
                y(*s) - 6.0,
                esc(&label)
            );
        }
    }
    for e in p
        .judged
        .iter()
        .filter(|e| matches!(e.verdict, Some(Verdict::Crashed | Verdict::Timeout)))
    {
        let _ = write!(
            svg,
            r#"<text x="{:.1}" y="{:.1}" class="crash">✕<title>#{:04} {}</title></text>"#,
            x(f64::from(e.number)) - 4.0,
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
    axes(&mut svg, y0, y1, y);
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
