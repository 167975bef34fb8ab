//! A range test's curve as a PNG, for `lr-find --out`: the loss against the learning rate on a
//! logarithmic axis, every batch faint and the smoothed loss as the line, with the two
//! suggestions marked and named in the legend. Drawn as `plot` draws (`draw.rs`'s font,
//! colours, size and encoder), written in one piece.

use std::path::Path;

use plotters::prelude::*;

use super::CurvesError;
use super::draw::{FAMILY, draw_error, encode_png, titled_picture};
use crate::report::range_test::format_rate;
use crate::train::range_test::{Method, RangeTest, Suggestions, drawn_loss_range};

const LOSS: RGBColor = RGBColor(31, 119, 180);
const VALLEY: RGBColor = RGBColor(44, 160, 44);
const STEEP: RGBColor = RGBColor(230, 110, 0);

/// Draws `test` into an RGB buffer of [`PLOT_SIZE`].
pub fn render_range_test(test: &RangeTest, title: &str) -> Result<Vec<u8>, CurvesError> {
    if test.points.is_empty() {
        return Err(CurvesError::Draw(
            "the range test has no points to draw".to_string(),
        ));
    }
    titled_picture(title, |root| {
        let (bottom, top) = drawn_loss_range(&test.points);
        // As in the dashboard: what lies outside the drawn span runs along its edge.
        let y = |loss: f64| loss.clamp(bottom, top);
        let raw: Vec<(f64, f64)> = test
            .points
            .iter()
            .map(|p| (p.learning_rate, y(p.loss)))
            .collect();
        let smoothed: Vec<(f64, f64)> = test
            .points
            .iter()
            .map(|p| (p.learning_rate, y(p.smoothed_loss)))
            .collect();
        let mut chart = ChartBuilder::on(root)
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(56)
            .build_cartesian_2d(
                (test.settings.start..test.settings.end).log_scale(),
                bottom..top,
            )
            .map_err(draw_error)?;
        chart
            .configure_mesh()
            .x_desc("learning rate (log scale)")
            .y_desc("training loss")
            .x_label_formatter(&|rate| format_rate(*rate))
            .label_style((FAMILY, 13).into_font())
            .axis_desc_style((FAMILY, 14).into_font())
            .light_line_style(WHITE.mix(0.0))
            .draw()
            .map_err(draw_error)?;
        let faint = LOSS.mix(0.3).stroke_width(1);
        chart
            .draw_series(LineSeries::new(raw.iter().copied(), faint))
            .map_err(draw_error)?
            .label("loss, per batch")
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], faint));
        let line = LOSS.stroke_width(2);
        chart
            .draw_series(LineSeries::new(smoothed.iter().copied(), line))
            .map_err(draw_error)?
            .label("smoothed loss")
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], line));
        for method in [Suggestions::PICK, Method::Steep] {
            let Some(suggestion) = test.suggestions.get(method) else {
                continue;
            };
            let color = match method {
                Method::Valley => VALLEY,
                Method::Steep => STEEP,
            };
            let style = color.stroke_width(2);
            let rate = suggestion.learning_rate;
            let label = format!(
                "{} {}{}",
                method.name(),
                format_rate(rate),
                if method == Suggestions::PICK {
                    " (the pick)"
                } else {
                    ""
                }
            );
            chart
                .draw_series(LineSeries::new([(rate, bottom), (rate, top)], style))
                .map_err(draw_error)?
                .label(label)
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], style));
            chart
                .draw_series([Circle::new(
                    (rate, y(suggestion.smoothed_loss)),
                    5,
                    color.filled(),
                )])
                .map_err(draw_error)?;
        }
        chart
            .configure_series_labels()
            // The curve starts high on the left and blows up on the right: the lower left is
            // where it never is.
            .position(SeriesLabelPosition::LowerLeft)
            .label_font((FAMILY, 13).into_font())
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK.mix(0.4))
            .draw()
            .map_err(draw_error)?;
        Ok(())
    })
}

/// Draws `test` into the PNG `out`, atomically.
pub fn plot_range_test(test: &RangeTest, title: &str, out: &Path) -> Result<(), CurvesError> {
    let png = encode_png(render_range_test(test, title)?)?;
    crate::files::write_bytes_atomic(out, &png).map_err(|source| CurvesError::Write {
        path: out.to_path_buf(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::curves::PLOT_SIZE;
    use crate::train::range_test::{RangeEnd, RangePoint, RangeSettings};

    #[test]
    fn a_curve_draws_a_picture_and_no_points_are_an_error() {
        let settings = RangeSettings {
            start: 1e-5,
            end: 1.0,
            steps: 40,
        };
        let points: Vec<RangePoint> = (0..40)
            .map(|step| {
                let loss = 2.3 - (step as f64 / 20.0).min(1.0) + ((step as f64 - 30.0).max(0.0));
                RangePoint {
                    step,
                    learning_rate: settings.rate(step),
                    loss,
                    smoothed_loss: loss,
                }
            })
            .collect();
        let test = RangeTest::new(settings, points, RangeEnd::Completed);
        assert!(test.suggestions.pick().is_some());
        let png =
            encode_png(render_range_test(&test, "a range test").expect("drawn")).expect("encoded");
        let picture = image::load_from_memory(&png).expect("a PNG").to_rgb8();
        assert_eq!(picture.dimensions(), PLOT_SIZE);
        let empty = RangeTest::new(settings, Vec::new(), RangeEnd::Cancelled);
        assert!(matches!(
            render_range_test(&empty, "nothing"),
            Err(CurvesError::Draw(_))
        ));
    }
}
