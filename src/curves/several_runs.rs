//! Several runs' curves in one picture, for `plot A B ...`: the loss on the left, the accuracy
//! on the right, one color per run. The test curves are the lines (with a marker per test), the
//! logged training batches faint behind them; the legend names each run as the caller words
//! it (its id and what sets it apart). A branch drawn with its parent starts at its branch
//! point, marked with a ring: what came before is the parent's history, drawn once, by the
//! parent. Drawn with `draw.rs`'s panels, font and encoder.

use std::path::Path;

use plotters::prelude::*;

use super::draw::{Series, draw_panel, encode_png, titled_picture};
use super::{Curve, CurvesError, Metrics, from_branch_point};

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

/// One run of a picture of several.
#[derive(Debug, Clone, PartialEq)]
pub struct PlottedRun {
    /// Its name in the legend.
    pub legend: String,
    pub metrics: Metrics,
    /// Where it branched from another run of the same picture: before that point its curves
    /// are its parent's history.
    pub branched_at: Option<f64>,
}

/// Draws `runs` into an RGB buffer of [`PLOT_SIZE`].
pub fn render_runs(runs: &[PlottedRun], title: &str) -> Result<Vec<u8>, CurvesError> {
    titled_picture(title, |root| {
        let panels = root.split_evenly((1, 2));
        let x_end = runs
            .iter()
            .map(|run| run.metrics.last_position())
            .fold(1.0, f64::max);
        let mut losses = Vec::new();
        let mut accuracies = Vec::new();
        let (mut loss_marks, mut accuracy_marks) = (Vec::new(), Vec::new());
        for (index, run) in runs.iter().enumerate() {
            let color = PALETTE[index % PALETTE.len()];
            let legend = &run.legend;
            // A branch's curves before its branch point are its parent's history: left to the
            // parent's line, which stays visible, and the branch starts at a ring there.
            let own = |curve: Curve| match run.branched_at {
                Some(at) => from_branch_point(&curve, at),
                None => curve,
            };
            let batches = |value: fn(&super::BatchRow) -> f64| -> Curve {
                own(run
                    .metrics
                    .batches
                    .iter()
                    .map(|row| (row.position, value(row)))
                    .collect())
            };
            let (test_losses, test_accuracies) = run.metrics.test_curves();
            let (test_losses, test_accuracies) = (own(test_losses), own(test_accuracies));
            let (trained_losses, trained_accuracies) =
                (batches(|row| row.loss), batches(|row| row.accuracy));
            if let Some(at) = run.branched_at {
                let start = |tested: &Curve, trained: &Curve| {
                    tested
                        .first()
                        .or(trained.first())
                        .filter(|point| (point.0 - at).abs() < 1e-9)
                        .map(|&point| (point, color))
                };
                loss_marks.extend(start(&test_losses, &trained_losses));
                accuracy_marks.extend(start(&test_accuracies, &trained_accuracies));
            }
            losses.push(unlabeled(trained_losses, color));
            losses.push(Series::line(legend, test_losses, color));
            let mut trained = unlabeled(trained_accuracies, color);
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
            &loss_marks,
        )?;
        draw_panel(
            &panels[1],
            "Accuracy (lines: test, faint: training batches)",
            "accuracy",
            (x_end, accuracy_bottom, 1.0),
            SeriesLabelPosition::LowerRight,
            &accuracies,
            &accuracy_marks,
        )?;
        Ok(())
    })
}

fn unlabeled(points: Curve, color: RGBColor) -> Series {
    Series {
        label: None,
        points,
        color,
        faint: true,
    }
}

/// Draws `runs` in one picture into the PNG `out`.
pub fn plot_runs(runs: &[PlottedRun], title: &str, out: &Path) -> Result<(), CurvesError> {
    let png = encode_png(render_runs(runs, title)?)?;
    crate::files::write_bytes_atomic(out, &png).map_err(|source| CurvesError::Write {
        path: out.to_path_buf(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::curves::PLOT_SIZE;
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

    fn drawn(legend: &str, metrics: Metrics) -> PlottedRun {
        PlottedRun {
            legend: legend.to_string(),
            metrics,
            branched_at: None,
        }
    }

    /// A parent tested every quarter epoch for two epochs, and its branch from epoch 1: the same
    /// rows up to there (a branch's metrics.csv starts with its parent's), higher after.
    fn parent_and_branch() -> Vec<PlottedRun> {
        let rows = |after: f64| Metrics {
            batches: (1..=40)
                .map(|batch| {
                    let position = batch as f64 / 20.0;
                    let lift = if position > 1.0 { after } else { 0.0 };
                    BatchRow {
                        epoch: (batch - 1) / 20 + 1,
                        batch: (batch - 1) % 20 + 1,
                        batches_per_epoch: 20,
                        position,
                        step: batch as u64,
                        loss: 2.0 - position * 0.5 - lift,
                        accuracy: 0.4 + position * 0.2 + lift,
                    }
                })
                .collect(),
            epochs: Vec::new(),
            tests: (1..=8)
                .map(|quarter| {
                    let position = f64::from(quarter) * 0.25;
                    let lift = if position > 1.0 { after } else { 0.0 };
                    TestRow {
                        position,
                        test_loss: 1.5 - position * 0.4 - lift,
                        test_accuracy: 0.45 + position * 0.2 + lift,
                    }
                })
                .collect(),
        };
        vec![
            drawn("parent", rows(0.0)),
            PlottedRun {
                branched_at: Some(1.0),
                ..drawn("branch", rows(0.08))
            },
        ]
    }

    #[test]
    fn a_parent_under_its_branch_stays_visible() {
        let runs = parent_and_branch();
        let rgb = render_runs(&runs, "a branch").expect("drawn");
        let picture = image::RgbImage::from_raw(PLOT_SIZE.0, PLOT_SIZE.1, rgb).expect("size");
        // Epochs 0 to 2 span each panel's plotting area (about 60 to 590 pixels into it): the
        // first epoch, before the branch point, is its left half.
        let parent = [PALETTE[0].0, PALETTE[0].1, PALETTE[0].2];
        for (panel, name) in [(0, "loss"), (PLOT_SIZE.0 / 2, "accuracy")] {
            let before_branch = picture
                .enumerate_pixels()
                .filter(|(x, y, pixel)| {
                    (panel + 90..panel + 300).contains(x) && *y > 60 && pixel.0 == parent
                })
                .count();
            assert!(
                before_branch > 200,
                "{name}: the parent's line before the branch point is hidden \
                 ({before_branch} pixels of its color)"
            );
            // The branch point, epoch 1 (about 328 pixels in), is ringed in the branch's color:
            // its lines and test markers begin there, the ring reaches further left.
            let branch = [PALETTE[1].0, PALETTE[1].1, PALETTE[1].2];
            let ring = picture
                .enumerate_pixels()
                .filter(|(x, y, pixel)| {
                    (panel + 300..panel + 323).contains(x) && *y > 60 && pixel.0 == branch
                })
                .count();
            assert!(
                ring > 5,
                "{name}: no ring at the branch point ({ring} pixels)"
            );
        }
    }

    #[test]
    fn a_run_without_tests_is_named_by_its_training_line() {
        // b's training line runs along the top: whatever of b's color is in the lower right
        // is the legend's.
        let mut untested = run(0.9);
        untested.tests.clear();
        let runs = vec![drawn("a", run(0.3)), drawn("b", untested)];
        let rgb = render_runs(&runs, "one untested").expect("drawn");
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
        let runs = vec![drawn("a", run(0.6)), drawn("b", run(0.8))];
        let rgb = render_runs(&runs, "two runs").expect("drawn");
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
