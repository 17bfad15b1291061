//! Small SVG line charts, drawn here so `report.html` needs no script library and no
//! network: axes with round ticks, shaded bands (warmup, phases), one polyline per
//! series, and a legend.

use crate::report::markup::esc;
use std::fmt::Write;

/// A named series of (x, y) points.
pub struct Series {
    pub name: String,
    pub color: &'static str,
    pub points: Vec<(f64, f64)>,
}

/// A shaded stretch of the x axis.
#[derive(Clone)]
pub struct Band {
    pub from: f64,
    pub to: f64,
    pub label: String,
    pub color: &'static str,
}

/// How an axis maps and labels values.
#[derive(Clone, Copy, PartialEq)]
pub enum Axis {
    Linear,
    /// log10; values <= 0 are left out.
    Log,
    /// x = 1/(1-q) on a log scale, labelled as percentiles (HdrHistogram's plots).
    Percentile,
}

pub struct Chart<'a> {
    pub id: &'a str,
    pub title: &'a str,
    pub x_label: &'a str,
    pub y_label: &'a str,
    pub x_axis: Axis,
    pub y_axis: Axis,
    /// Formats a y value for tick labels.
    pub y_fmt: &'a dyn Fn(f64) -> String,
    pub series: Vec<Series>,
    pub bands: Vec<Band>,
}

const W: f64 = 760.0;
const H: f64 = 280.0;
const L: f64 = 70.0;
const R: f64 = 150.0;
const T: f64 = 30.0;
const B: f64 = 40.0;

fn map(axis: Axis, v: f64) -> Option<f64> {
    match axis {
        Axis::Linear => Some(v),
        Axis::Log | Axis::Percentile => (v > 0.0).then(|| v.log10()),
    }
}

/// Round tick positions (in mapped space) over [lo, hi].
fn ticks(axis: Axis, lo: f64, hi: f64) -> Vec<f64> {
    match axis {
        Axis::Log | Axis::Percentile => (lo.floor() as i64..=hi.ceil() as i64).map(|e| e as f64).collect(),
        Axis::Linear => {
            let span = (hi - lo).max(1e-12);
            let raw = span / 5.0;
            let mag = 10f64.powf(raw.log10().floor());
            let step = [1.0, 2.0, 5.0, 10.0]
                .iter()
                .map(|m| m * mag)
                .find(|s| span / s <= 6.0)
                .unwrap_or(10.0 * mag);
            let mut v = (lo / step).ceil() * step;
            let mut out = Vec::new();
            while v <= hi + step * 1e-9 {
                out.push(v);
                v += step;
            }
            out
        }
    }
}

fn tick_label(axis: Axis, t: f64, fmt: &dyn Fn(f64) -> String) -> String {
    match axis {
        Axis::Linear => fmt(t),
        Axis::Log => fmt(10f64.powf(t)),
        Axis::Percentile => {
            let q = 1.0 - 10f64.powf(-t);
            let pct = q * 100.0;
            if t == 0.0 {
                "0%".into()
            } else {
                let digits = (t - 2.0).max(0.0) as usize;
                format!("{pct:.digits$}%")
            }
        }
    }
}

/// Renders the chart as an `<svg>` element.
pub fn render(c: &Chart<'_>) -> String {
    let mapped: Vec<Vec<(f64, f64)>> = c
        .series
        .iter()
        .map(|s| {
            s.points
                .iter()
                .filter_map(|(x, y)| Some((map(c.x_axis, *x)?, map(c.y_axis, *y)?)))
                .filter(|(x, y)| x.is_finite() && y.is_finite())
                .collect()
        })
        .collect();
    let f = Frame::of(c, &mapped);
    let mut o = String::new();
    let _ = write!(
        o,
        r#"<svg class="chart" id="{}" viewBox="0 0 {W} {H}" width="{W}" height="{H}" role="img" aria-label="{}" xmlns="http://www.w3.org/2000/svg">"#,
        c.id,
        esc(c.title)
    );
    let _ = write!(o, r#"<text x="{L}" y="18" class="title">{}</text>"#, esc(c.title));
    bands(&mut o, c, &f);
    grid(&mut o, c, &f);
    lines(&mut o, c, &mapped, &f);
    if f.empty {
        let _ = write!(
            o,
            r#"<text class="empty" x="{:.1}" y="{:.1}" text-anchor="middle">no data</text>"#,
            (L + W - R) / 2.0,
            H / 2.0
        );
    }
    o.push_str("</svg>");
    o
}

/// The plotted ranges (in axis space), from the points and the bands, and where a
/// value lands on the canvas.
struct Frame {
    x0: f64,
    x1: f64,
    y0: f64,
    y1: f64,
    empty: bool,
}

impl Frame {
    fn of(c: &Chart<'_>, mapped: &[Vec<(f64, f64)>]) -> Frame {
        let all = || mapped.iter().flatten();
        let (mut x0, mut x1) = all().fold((f64::MAX, f64::MIN), |(a, b), p| (a.min(p.0), b.max(p.0)));
        let (mut y0, mut y1) = all().fold((f64::MAX, f64::MIN), |(a, b), p| (a.min(p.1), b.max(p.1)));
        for b in &c.bands {
            if let (Some(f), Some(t)) = (map(c.x_axis, b.from), map(c.x_axis, b.to)) {
                x0 = x0.min(f);
                x1 = x1.max(t);
            }
        }
        let empty = x0 > x1 || y0 > y1;
        if empty {
            (x0, x1, y0, y1) = (0.0, 1.0, 0.0, 1.0);
        }
        if c.y_axis == Axis::Linear {
            y0 = y0.min(0.0);
        } else {
            y0 = y0.floor();
            y1 = y1.ceil().max(y0 + 1.0);
        }
        if c.x_axis != Axis::Linear {
            x0 = x0.floor().max(0.0);
            x1 = x1.ceil().max(x0 + 1.0);
        }
        if (y1 - y0).abs() < 1e-12 {
            y1 = y0 + 1.0;
        }
        if (x1 - x0).abs() < 1e-12 {
            x1 = x0 + 1.0;
        }
        Frame { x0, x1, y0, y1, empty }
    }

    fn px(&self, x: f64) -> f64 {
        L + (x - self.x0) / (self.x1 - self.x0) * (W - L - R)
    }

    fn py(&self, y: f64) -> f64 {
        H - B - (y - self.y0) / (self.y1 - self.y0) * (H - T - B)
    }
}

fn bands(o: &mut String, c: &Chart<'_>, f: &Frame) {
    for b in &c.bands {
        if let (Some(from), Some(to)) = (map(c.x_axis, b.from), map(c.x_axis, b.to)) {
            let (a, z) = (f.px(from), f.px(to));
            let _ = write!(
                o,
                r#"<rect class="band" x="{a:.1}" y="{T}" width="{:.1}" height="{}" fill="{}"><title>{}</title></rect><text x="{:.1}" y="{}" class="band-label">{}</text>"#,
                (z - a).max(0.0),
                H - T - B,
                b.color,
                esc(&b.label),
                a + 3.0,
                T + 12.0,
                esc(&b.label)
            );
        }
    }
}

/// The grid lines with their tick labels, and the axes' labels.
fn grid(o: &mut String, c: &Chart<'_>, f: &Frame) {
    for t in ticks(c.y_axis, f.y0, f.y1) {
        let y = f.py(t);
        let _ = write!(
            o,
            r#"<line class="grid" x1="{L}" x2="{}" y1="{y:.1}" y2="{y:.1}"/><text class="tick" x="{}" y="{:.1}" text-anchor="end">{}</text>"#,
            W - R,
            L - 6.0,
            y + 4.0,
            esc(&tick_label(c.y_axis, t, c.y_fmt))
        );
    }
    let x_fmt = |v: f64| {
        if v.abs() >= 100.0 || v.fract() == 0.0 {
            format!("{v:.0}")
        } else {
            format!("{v:.1}")
        }
    };
    for t in ticks(c.x_axis, f.x0, f.x1) {
        let x = f.px(t);
        let _ = write!(
            o,
            r#"<line class="grid" x1="{x:.1}" x2="{x:.1}" y1="{T}" y2="{}"/><text class="tick" x="{x:.1}" y="{}" text-anchor="middle">{}</text>"#,
            H - B,
            H - B + 16.0,
            esc(&tick_label(c.x_axis, t, &x_fmt))
        );
    }
    let _ = write!(
        o,
        r#"<text class="axis" x="{:.1}" y="{}" text-anchor="middle">{}</text><text class="axis" transform="translate(14 {:.1}) rotate(-90)" text-anchor="middle">{}</text>"#,
        (L + W - R) / 2.0,
        H - 4.0,
        esc(c.x_label),
        (T + H - B) / 2.0,
        esc(c.y_label)
    );
}

/// Each series as a polyline, with its legend entry.
fn lines(o: &mut String, c: &Chart<'_>, mapped: &[Vec<(f64, f64)>], f: &Frame) {
    for (i, (s, pts)) in c.series.iter().zip(mapped).enumerate() {
        let coords: Vec<String> = pts
            .iter()
            .map(|(x, y)| format!("{:.1},{:.1}", f.px(*x), f.py(*y)))
            .collect();
        let _ = write!(
            o,
            r#"<polyline class="series" data-series="{}" data-points="{}" fill="none" stroke="{}" stroke-width="1.8" points="{}"/>"#,
            esc(&s.name),
            pts.len(),
            s.color,
            coords.join(" ")
        );
        let ly = T + 14.0 + i as f64 * 18.0;
        let _ = write!(
            o,
            r#"<line x1="{}" x2="{}" y1="{ly:.1}" y2="{ly:.1}" stroke="{}" stroke-width="3"/><text class="legend" x="{}" y="{:.1}">{}</text>"#,
            W - R + 10.0,
            W - R + 28.0,
            s.color,
            W - R + 33.0,
            ly + 4.0,
            esc(&s.name)
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_chart_has_one_polyline_per_series_and_round_ticks() {
        let svg = render(&Chart {
            id: "c",
            title: "latency <ms>",
            x_label: "s",
            y_label: "ms",
            x_axis: Axis::Linear,
            y_axis: Axis::Log,
            y_fmt: &|v| format!("{v}"),
            series: vec![Series {
                name: "p99".into(),
                color: "#c00",
                points: vec![(0.0, 1.0), (1.0, 10.0), (2.0, 0.0)],
            }],
            bands: vec![Band {
                from: 0.0,
                to: 1.0,
                label: "warmup".into(),
                color: "#eee",
            }],
        });
        assert!(
            svg.contains(r#"data-points="2""#),
            "the 0 is left out on a log axis: {svg}"
        );
        assert!(svg.contains("latency &lt;ms&gt;") && svg.contains(">warmup<"));
        assert_eq!(ticks(Axis::Linear, 0.0, 10.0), vec![0.0, 2.0, 4.0, 6.0, 8.0, 10.0]);
        assert_eq!(tick_label(Axis::Percentile, 2.0, &|v| v.to_string()), "99%");
        assert_eq!(tick_label(Axis::Percentile, 3.0, &|v| v.to_string()), "99.9%");
    }
}
