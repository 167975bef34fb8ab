//! Drawing [`Metrics`] into a picture: the loss on the left (every logged batch's training loss,
//! faint; the per-epoch mean training loss and the test loss), the accuracy on the right (the
//! same for accuracy), both on one x axis in epochs. Text is set in DejaVu Sans, built into the
//! program (assets/fonts), so no system font is needed. The picture is drawn in memory; writing
//! it is the caller's.

use std::sync::OnceLock;

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::{FontStyle, register_font};

use super::{Curve, CurvesError, EpochRow, Metrics};

/// Width and height of the picture, in pixels.
pub const PLOT_SIZE: (u32, u32) = (1200, 500);

const FONT: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans.ttf");
pub(super) const FAMILY: &str = "sans-serif";
const TRAIN: RGBColor = RGBColor(31, 119, 180);
const TEST: RGBColor = RGBColor(230, 110, 0);

pub(super) fn register_the_font() -> Result<(), CurvesError> {
    static REGISTERED: OnceLock<bool> = OnceLock::new();
    let ok = *REGISTERED.get_or_init(|| register_font(FAMILY, FontStyle::Normal, FONT).is_ok());
    if ok {
        Ok(())
    } else {
        Err(CurvesError::Draw("the built-in font cannot be read".into()))
    }
}

pub(super) fn draw_error(error: impl std::fmt::Display) -> CurvesError {
    CurvesError::Draw(error.to_string())
}

/// A white picture of [`PLOT_SIZE`] with `title` above what `draw` draws, as an RGB buffer:
/// every picture `plot` and `lr-find --out` write starts so.
pub(super) fn titled_picture(
    title: &str,
    draw: impl FnOnce(&DrawingArea<BitMapBackend<'_>, Shift>) -> Result<(), CurvesError>,
) -> Result<Vec<u8>, CurvesError> {
    register_the_font()?;
    let (width, height) = PLOT_SIZE;
    let mut buffer = vec![0u8; width as usize * height as usize * 3];
    {
        let root = BitMapBackend::with_buffer(&mut buffer, PLOT_SIZE).into_drawing_area();
        root.fill(&WHITE).map_err(draw_error)?;
        let titled = root
            .titled(title, (FAMILY, 22).into_font())
            .map_err(draw_error)?;
        draw(&titled)?;
        root.present().map_err(draw_error)?;
    }
    Ok(buffer)
}

/// Draws the curves into an RGB buffer of [`PLOT_SIZE`].
pub fn render(metrics: &Metrics, title: &str) -> Result<Vec<u8>, CurvesError> {
    titled_picture(title, |root| {
        let panels = root.split_evenly((1, 2));
        let x_end = metrics.last_position();
        let batch_losses: Curve = metrics
            .batches
            .iter()
            .map(|row| (row.position, row.loss))
            .collect();
        let batch_accuracies: Curve = metrics
            .batches
            .iter()
            .map(|row| (row.position, row.accuracy))
            .collect();
        let per_epoch = |f: fn(&EpochRow) -> f64| -> Curve {
            metrics
                .epochs
                .iter()
                .map(|row| (row.epoch as f64, f(row)))
                .collect()
        };
        let (test_losses, test_accuracies) = metrics.test_curves();
        let loss_top = batch_losses
            .iter()
            .chain(&test_losses)
            .map(|p| p.1)
            .chain(metrics.epochs.iter().map(|e| e.train_loss))
            .filter(|v| v.is_finite())
            .fold(0.0, f64::max)
            .max(0.1)
            * 1.05;
        draw_panel(
            &panels[0],
            "Loss",
            "loss",
            (x_end, 0.0, loss_top),
            // Losses fall from the top left: the top right stays clear.
            SeriesLabelPosition::UpperRight,
            &[
                Series::faint("train, per batch", batch_losses, TRAIN),
                Series::line("train, epoch mean", per_epoch(|e| e.train_loss), TRAIN),
                Series::line("test", test_losses, TEST),
            ],
            &[],
        )?;
        let accuracy_bottom = batch_accuracies
            .iter()
            .chain(&test_accuracies)
            .map(|p| p.1)
            .chain(metrics.epochs.iter().map(|e| e.train_accuracy))
            .filter(|v| v.is_finite())
            .fold(1.0, f64::min);
        let accuracy_bottom = ((accuracy_bottom * 10.0).floor() / 10.0).clamp(0.0, 0.9);
        draw_panel(
            &panels[1],
            "Accuracy",
            "accuracy",
            (x_end, accuracy_bottom, 1.0),
            // Accuracies rise to the top right: the bottom right stays clear.
            SeriesLabelPosition::LowerRight,
            &[
                Series::faint("train, per batch", batch_accuracies, TRAIN),
                Series::line("train, per epoch", per_epoch(|e| e.train_accuracy), TRAIN),
                Series::line("test", test_accuracies, TEST),
            ],
            &[],
        )?;
        Ok(())
    })
}

/// One line of a panel; a line without a label has no entry in the legend.
pub(super) struct Series {
    pub label: Option<String>,
    pub points: Curve,
    pub color: RGBColor,
    pub faint: bool,
}

impl Series {
    pub fn faint(label: &str, points: Curve, color: RGBColor) -> Series {
        Series {
            label: Some(label.to_string()),
            points,
            color,
            faint: true,
        }
    }

    pub fn line(label: &str, points: Curve, color: RGBColor) -> Series {
        Series {
            label: Some(label.to_string()),
            points,
            color,
            faint: false,
        }
    }
}

/// Draws `series` in a panel, and a ring at each of `rings` (a branch point, in its run's color).
pub(super) fn draw_panel(
    area: &DrawingArea<BitMapBackend<'_>, Shift>,
    caption: &str,
    y_label: &str,
    (x_end, y_start, y_end): (f64, f64, f64),
    legend: SeriesLabelPosition,
    series: &[Series],
    rings: &[((f64, f64), RGBColor)],
) -> Result<(), CurvesError> {
    let mut chart = ChartBuilder::on(area)
        .caption(caption, (FAMILY, 18).into_font())
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(56)
        .build_cartesian_2d(0.0..x_end, y_start..y_end)
        .map_err(draw_error)?;
    chart
        .configure_mesh()
        .x_desc("epoch")
        .y_desc(y_label)
        .label_style((FAMILY, 13).into_font())
        .axis_desc_style((FAMILY, 14).into_font())
        .light_line_style(WHITE.mix(0.0))
        .draw()
        .map_err(draw_error)?;
    for one in series.iter().filter(|s| !s.points.is_empty()) {
        let color = one.color;
        let style = if one.faint {
            color.mix(0.3).stroke_width(1)
        } else {
            color.stroke_width(2)
        };
        let drawn = chart
            .draw_series(LineSeries::new(one.points.iter().copied(), style))
            .map_err(draw_error)?;
        if let Some(label) = &one.label {
            drawn
                .label(label)
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], style));
        }
        if !one.faint {
            // Markers, so that a single finished epoch shows too.
            chart
                .draw_series(
                    one.points
                        .iter()
                        .map(|&point| Circle::new(point, 4, color.filled())),
                )
                .map_err(draw_error)?;
        }
    }
    chart
        .draw_series(
            rings
                .iter()
                .map(|&(point, color)| Circle::new(point, 8, color.stroke_width(2))),
        )
        .map_err(draw_error)?;
    if series.iter().all(|one| one.label.is_none()) {
        return Ok(());
    }
    chart
        .configure_series_labels()
        .position(legend)
        .label_font((FAMILY, 13).into_font())
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK.mix(0.4))
        .draw()
        .map_err(draw_error)?;
    Ok(())
}

/// Encodes an RGB buffer of [`PLOT_SIZE`] (as [`render`] draws it) as PNG.
pub(super) fn encode_png(rgb: Vec<u8>) -> Result<Vec<u8>, CurvesError> {
    let (width, height) = PLOT_SIZE;
    let image = image::RgbImage::from_raw(width, height, rgb)
        .ok_or_else(|| CurvesError::Draw("the picture buffer has the wrong size".into()))?;
    let mut bytes = Vec::new();
    image
        .write_to(
            &mut std::io::Cursor::new(&mut bytes),
            image::ImageFormat::Png,
        )
        .map_err(draw_error)?;
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::curves::{BatchRow, TestRow};

    #[test]
    fn a_single_batch_draws_a_picture_of_the_plot_size() {
        let metrics = Metrics {
            batches: vec![BatchRow {
                epoch: 1,
                batch: 292,
                batches_per_epoch: 469,
                position: 292.0 / 469.0,
                step: 291,
                loss: 1.5,
                accuracy: 0.4,
            }],
            epochs: Vec::new(),
            tests: vec![TestRow {
                position: 0.5,
                test_loss: 1.3,
                test_accuracy: 0.5,
            }],
        };
        let rgb = render(&metrics, "one batch").expect("drawn");
        let png = encode_png(rgb).expect("encoded");
        let picture = image::load_from_memory(&png).expect("a PNG").to_rgb8();
        assert_eq!(picture.dimensions(), PLOT_SIZE);
        assert!(matches!(encode_png(vec![0; 12]), Err(CurvesError::Draw(_))));
    }
}
