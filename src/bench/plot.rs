//! PNG plots for `carbyne bench`: TPS over time and the latency distribution.
//!
//! Text needs a system font (fontconfig's "sans-serif"). Where none is found the
//! plot is drawn again without any text, so a report always gets its picture.

use plotters::prelude::*;
use std::path::Path;

/// A padded range over `values`, never empty or inverted.
fn range(values: impl Iterator<Item = f64>, floor_zero: bool) -> std::ops::Range<f64> {
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for v in values.filter(|v| v.is_finite()) {
        lo = lo.min(v);
        hi = hi.max(v);
    }
    if !lo.is_finite() {
        return 0.0..1.0;
    }
    if floor_zero {
        lo = lo.min(0.0);
    }
    let pad = ((hi - lo) * 0.05).max(hi.abs() * 0.05).max(1e-9);
    lo - if floor_zero && lo == 0.0 { 0.0 } else { pad }..hi + pad
}

type Area<'a> = DrawingArea<BitMapBackend<'a>, plotters::coord::Shift>;

fn panel(
    area: &Area<'_>,
    caption: &str,
    x_label: &str,
    y_label: &str,
    points: &[(f64, f64)],
    color: RGBColor,
    text: bool,
) -> Result<(), String> {
    let xs = range(points.iter().map(|p| p.0), false);
    let ys = range(points.iter().map(|p| p.1), true);
    let mut builder = ChartBuilder::on(area);
    builder.margin(20);
    if text {
        builder
            .caption(caption, ("sans-serif", 24))
            .x_label_area_size(40)
            .y_label_area_size(80);
    }
    let mut chart = builder
        .build_cartesian_2d(xs, ys)
        .map_err(|e| e.to_string())?;
    let mut mesh = chart.configure_mesh();
    if text {
        mesh.x_desc(x_label).y_desc(y_label);
    } else {
        mesh.disable_x_axis().disable_y_axis();
    }
    mesh.draw().map_err(|e| e.to_string())?;
    if points.is_empty() {
        return Ok(());
    }
    chart
        .draw_series(LineSeries::new(
            points.iter().copied(),
            color.stroke_width(2),
        ))
        .map_err(|e| e.to_string())?;
    Ok(())
}

fn draw(
    path: &Path,
    title: &str,
    tps: &[(f64, f64)],
    latency: &[(f64, f64)],
    text: bool,
) -> Result<(), String> {
    let root = BitMapBackend::new(path, (1200, 900)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| e.to_string())?;
    let (top, bottom) = root.split_vertically(450);
    let tps_caption = if tps.is_empty() {
        format!("{title}: TPS (no data)")
    } else {
        format!("{title}: TPS")
    };
    panel(
        &top,
        &tps_caption,
        "seconds since start",
        "transactions / s",
        tps,
        BLUE,
        text,
    )
    .map_err(|e| format!("drawing the TPS panel: {e}"))?;
    let lat_caption = if latency.is_empty() {
        "submit-to-inclusion latency (no data)".to_string()
    } else {
        "submit-to-inclusion latency".to_string()
    };
    panel(
        &bottom,
        &lat_caption,
        "percentile",
        "latency (ms)",
        latency,
        RED,
        text,
    )
    .map_err(|e| format!("drawing the latency panel: {e}"))?;
    root.present().map_err(|e| e.to_string())
}

/// Writes a 1200x900 PNG: sustained TPS over time on top (x: seconds since the run
/// started), the latency percentile curve below (x: percentile, y: milliseconds).
pub fn write_png(
    path: &Path,
    title: &str,
    tps: &[(f64, f64)],
    latency_percentiles: &[(f64, f64)],
) -> anyhow::Result<()> {
    match draw(path, title, tps, latency_percentiles, true) {
        Ok(()) => Ok(()),
        Err(with_text) => draw(path, title, tps, latency_percentiles, false).map_err(|e| {
            anyhow::anyhow!("plotting {}: {e} (with text: {with_text})", path.display())
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn png(name: &str, tps: &[(f64, f64)], lat: &[(f64, f64)]) -> Vec<u8> {
        let path =
            std::env::temp_dir().join(format!("carbyne-plot-{}-{name}.png", std::process::id()));
        write_png(&path, "test", tps, lat).unwrap();
        let bytes = std::fs::read(&path).unwrap();
        let _ = std::fs::remove_file(&path);
        assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "{name}");
        bytes
    }

    #[test]
    fn plots_normal_and_degenerate_data() {
        let tps: Vec<(f64, f64)> = (0..20)
            .map(|i| (i as f64, 90_000.0 + (i * 997 % 13) as f64 * 1000.0))
            .collect();
        let lat: Vec<(f64, f64)> = [0.0, 50.0, 90.0, 99.0, 100.0]
            .iter()
            .map(|&p| (p, 200.0 + p * 9.0))
            .collect();
        assert!(png("normal", &tps, &lat).len() > 4096);
        png("empty", &[], &[]);
        png("single", &[(1.0, 5.0)], &[(50.0, 3.0)]);
        png(
            "constant",
            &[(0.0, 7.0), (1.0, 7.0)],
            &[(0.0, 1e12), (100.0, 1e12)],
        );
    }
}
