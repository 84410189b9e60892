//! The progress plot as a PNG (autoresearch's progress.png, drawn in Rust): each judged score
//! in order, kept ones green and labelled, the running best as a step line, the baseline's
//! noise band, crashes marked on the axis. The font is compiled in, so nothing but the binary
//! is needed to draw it.

use std::path::Path;
use std::sync::Once;

use autolab_core::config::Goal;
use autolab_core::experiment::{Experiment, Verdict};
use plotters::prelude::*;

static FONT: &[u8] = include_bytes!("../assets/DejaVuSans.ttf");
static REGISTER: Once = Once::new();

/// Width and height of the image, in pixels.
pub const SIZE: (u32, u32) = (1200, 500);
const KEPT: RGBColor = RGBColor(26, 127, 55);
const OTHER: RGBColor = RGBColor(170, 176, 190);
const CRASH: RGBColor = RGBColor(198, 40, 40);

fn err(e: impl std::fmt::Debug) -> String {
    format!("cannot draw the plot: {e:?}")
}

/// Draws the plot of `exps` to `path` (PNG); `metric` names the y axis.
pub fn progress(
    exps: &[Experiment],
    goal: Goal,
    baseline: Option<&Experiment>,
    metric: &str,
    path: &Path,
) -> Result<(), String> {
    REGISTER.call_once(|| {
        let _ = plotters::style::register_font("sans-serif", FontStyle::Normal, FONT);
    });
    let p = crate::plot::Progress::of(exps, goal, baseline);
    let scored: Vec<(f64, f64, &Experiment)> = p
        .scored
        .iter()
        .map(|(n, s, e)| (f64::from(*n), *s, *e))
        .collect();
    let judged = &p.judged;
    let band = p.band;
    let pad = 0.08 * (p.hi - p.lo);
    let (lo, hi) = (p.lo - pad, p.hi + pad);
    let last = f64::from(p.last);

    let root = BitMapBackend::new(path, SIZE).into_drawing_area();
    root.fill(&WHITE).map_err(err)?;
    let kept_n = scored
        .iter()
        .filter(|p| p.2.verdict.is_some_and(Verdict::keeps))
        .count();
    let caption = format!(
        "{} experiments, {kept_n} kept ({} is better)",
        judged.len(),
        goal.as_str()
    );
    let mut chart = ChartBuilder::on(&root)
        .margin(24)
        .caption(caption, ("sans-serif", 22))
        .x_label_area_size(44)
        .y_label_area_size(84)
        .build_cartesian_2d(-0.5..last + 0.5, lo..hi)
        .map_err(err)?;
    chart
        .configure_mesh()
        .x_desc("experiment")
        .y_desc(metric)
        .label_style(("sans-serif", 15))
        .axis_desc_style(("sans-serif", 16))
        .light_line_style(WHITE.mix(0.0))
        .x_label_formatter(&|x| format!("{}", x.round() as i64))
        .draw()
        .map_err(err)?;
    if let Some((m, sd)) = band {
        chart
            .draw_series(std::iter::once(Rectangle::new(
                [(-0.5, m - sd), (last + 0.5, m + sd)],
                BLUE.mix(0.08).filled(),
            )))
            .map_err(err)?;
    }
    chart
        .draw_series(
            scored
                .iter()
                .filter(|p| !p.2.verdict.is_some_and(Verdict::keeps))
                .map(|(n, s, _)| Circle::new((*n, *s), 4, OTHER.filled())),
        )
        .map_err(err)?;
    // The running best over kept experiments, as steps.
    if !p.steps.is_empty() {
        chart
            .draw_series(LineSeries::new(p.steps.clone(), KEPT.stroke_width(2)))
            .map_err(err)?;
    }
    let kept: Vec<&(f64, f64, &Experiment)> = scored
        .iter()
        .filter(|p| p.2.verdict.is_some_and(Verdict::keeps))
        .collect();
    chart
        .draw_series(
            kept.iter()
                .map(|(n, s, _)| Circle::new((*n, *s), 6, KEPT.filled())),
        )
        .map_err(err)?;
    chart
        .draw_series(kept.iter().filter(|p| p.2.number > 0).map(|(n, s, e)| {
            let label: String = e.title.chars().take(30).collect();
            EmptyElement::at((*n, *s))
                + Text::new(
                    format!("#{} {label}", e.number),
                    (8, -20),
                    ("sans-serif", 13).into_font().color(&KEPT),
                )
        }))
        .map_err(err)?;
    chart
        .draw_series(
            judged
                .iter()
                .filter(|e| matches!(e.verdict, Some(Verdict::Crashed | Verdict::Timeout)))
                .map(|e| {
                    Cross::new(
                        (f64::from(e.number), lo + pad * 0.3),
                        5,
                        CRASH.stroke_width(2),
                    )
                }),
        )
        .map_err(err)?;
    root.present().map_err(err)?;
    Ok(())
}
