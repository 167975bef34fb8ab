//! Several runs' curves in one picture, for `plot A B ...`: the loss on the left, the accuracy
//! on the right, one color per run. The test curves are the lines (with a marker per test), the
//! logged training batches faint behind them; the legend names each run as the caller words
//! it (its id and what sets it apart). Drawn with `draw.rs`'s panels, font and encoder.

use std::path::Path;

use plotters::prelude::*;

use super::draw::{FAMILY, Series, draw_error, draw_panel, encode_png, register_the_font};
use super::{Curve, CurvesError, Metrics, PLOT_SIZE};

/// One color per run, in order (matplotlib's first colors, which people read apart).
const PALETTE: [RGBColor; 8] = [
    RGBColor(31, 119, 180),
    RGBColor(230, 110, 0),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
];

/// Draws `runs` (a legend and the run's metrics each) into an RGB buffer of [`PLOT_SIZE`].
pub fn render_overlay(runs: &[(String, Metrics)], title: &str) -> Result<Vec<u8>, CurvesError> {
    register_the_font()?;
    let (width, height) = PLOT_SIZE;
    let mut buffer = vec![0u8; width as usize * height as usize * 3];
    {
        let root = BitMapBackend::with_buffer(&mut buffer, PLOT_SIZE).into_drawing_area();
        root.fill(&WHITE).map_err(draw_error)?;
        let root = root
            .titled(title, (FAMILY, 22).into_font())
            .map_err(draw_error)?;
        let panels = root.split_evenly((1, 2));
        let x_end = runs
            .iter()
            .map(|(_, metrics)| metrics.last_position())
            .fold(1.0, f64::max);
        let mut losses = Vec::new();
        let mut accuracies = Vec::new();
        for (index, (legend, metrics)) in runs.iter().enumerate() {
            let color = PALETTE[index % PALETTE.len()];
            let batches = |value: fn(&super::BatchRow) -> f64| -> Curve {
                metrics
                    .batches
                    .iter()
                    .map(|row| (row.position, value(row)))
                    .collect()
            };
            let (test_losses, test_accuracies) = metrics.test_curves();
            losses.push(unlabeled(batches(|row| row.loss), color));
            losses.push(Series::line(legend, test_losses, color));
            let mut trained = unlabeled(batches(|row| row.accuracy), color);
            if test_accuracies.is_empty() {
                // Not tested yet (stopped early): its training line carries its name.
                trained.label = Some(legend.clone());
            }
            accuracies.push(trained);
            accuracies.push(Series::line(legend, test_accuracies, color));
        }
        let values = |series: &[Series]| -> Vec<f64> {
            series
                .iter()
                .flat_map(|one| one.points.iter().map(|point| point.1))
                .filter(|value| value.is_finite())
                .collect()
        };
        let loss_top = values(&losses).into_iter().fold(0.1, f64::max) * 1.05;
        let accuracy_bottom = values(&accuracies).into_iter().fold(1.0, f64::min);
        let accuracy_bottom = ((accuracy_bottom * 10.0).floor() / 10.0).clamp(0.0, 0.9);
        // The legend is drawn once, with the accuracies, where there is room at the bottom.
        for series in &mut losses {
            series.label = None;
        }
        draw_panel(
            &panels[0],
            "Loss (lines: test, faint: training batches)",
            "loss",
            (x_end, 0.0, loss_top),
            SeriesLabelPosition::UpperRight,
            &losses,
        )?;
        draw_panel(
            &panels[1],
            "Accuracy (lines: test, faint: training batches)",
            "accuracy",
            (x_end, accuracy_bottom, 1.0),
            SeriesLabelPosition::LowerRight,
            &accuracies,
        )?;
        root.present().map_err(draw_error)?;
    }
    Ok(buffer)
}

fn unlabeled(points: Curve, color: RGBColor) -> Series {
    Series {
        label: None,
        points,
        color,
        faint: true,
    }
}

/// Draws `runs` overlaid into the PNG `out`.
pub fn plot_overlay(
    runs: &[(String, Metrics)],
    title: &str,
    out: &Path,
) -> Result<(), CurvesError> {
    let png = encode_png(render_overlay(runs, title)?)?;
    crate::files::write_bytes_atomic(out, &png).map_err(|source| CurvesError::Write {
        path: out.to_path_buf(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::curves::{BatchRow, TestRow};

    fn run(level: f64) -> Metrics {
        Metrics {
            batches: (1..=20)
                .map(|batch| BatchRow {
                    epoch: 1,
                    batch,
                    batches_per_epoch: 20,
                    position: batch as f64 / 20.0,
                    step: batch as u64,
                    loss: 2.0 - level,
                    accuracy: level,
                })
                .collect(),
            epochs: Vec::new(),
            tests: vec![
                TestRow {
                    position: 0.5,
                    test_loss: 1.0,
                    test_accuracy: level,
                },
                TestRow {
                    position: 1.0,
                    test_loss: 0.8,
                    test_accuracy: level + 0.05,
                },
            ],
        }
    }

    #[test]
    fn a_run_without_tests_is_named_by_its_training_line() {
        // b's training line runs along the top: whatever of b's color is in the lower right
        // is the legend's.
        let mut untested = run(0.9);
        untested.tests.clear();
        let runs = vec![("a".to_string(), run(0.3)), ("b".to_string(), untested)];
        let rgb = render_overlay(&runs, "one untested").expect("drawn");
        let picture = image::RgbImage::from_raw(PLOT_SIZE.0, PLOT_SIZE.1, rgb).expect("size");
        // The legend sits in the accuracy panel's lower right; its sample of b's line is drawn
        // faint, a mix of b's color with the white behind it.
        let (r, g, b) = (PALETTE[1].0, PALETTE[1].1, PALETTE[1].2);
        let faint = |channel: u8, of: u8| {
            let expected = 0.3 * f64::from(of) + 0.7 * 255.0;
            (f64::from(channel) - expected).abs() < 12.0
        };
        let legend_sample = picture.enumerate_pixels().any(|(x, y, pixel)| {
            x > PLOT_SIZE.0 * 3 / 4
                && y > PLOT_SIZE.1 * 3 / 4
                && faint(pixel.0[0], r)
                && faint(pixel.0[1], g)
                && faint(pixel.0[2], b)
        });
        assert!(legend_sample, "no legend entry for the untested run");
    }

    #[test]
    fn each_run_has_its_own_color() {
        let runs = vec![("a".to_string(), run(0.6)), ("b".to_string(), run(0.8))];
        let rgb = render_overlay(&runs, "two runs").expect("drawn");
        let picture = image::RgbImage::from_raw(PLOT_SIZE.0, PLOT_SIZE.1, rgb).expect("size");
        let has = |color: RGBColor| {
            picture
                .pixels()
                .any(|pixel| pixel.0 == [color.0, color.1, color.2])
        };
        assert!(has(PALETTE[0]) && has(PALETTE[1]));
        assert!(!has(PALETTE[2]), "a third color for two runs");
    }
}
