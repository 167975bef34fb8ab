//! The loss and accuracy charts, on an axis of epochs, with an earlier run's curves dimmed
//! behind the live ones when an overlay is chosen. When that run is the one the live run
//! branched from, the live curves start at the branch point (a vertical line): what came before
//! is the parent's history, left to its grey line.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::symbols::Marker;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Axis, Block, Borders, Chart, Dataset, GraphType, Paragraph, Wrap};

use crate::curves::from_branch_point;
use crate::runs::standing::{self, RunCurves};
use crate::train::metrics::{best_test, epoch_label};
use crate::tui::app::{App, Phase};
use crate::tui::theme;

/// The x range: the planned epochs, or further if the history (or the overlay) already goes
/// beyond.
fn epoch_bounds(app: &App) -> [f64; 2] {
    // Whole epochs, so that a fractional run still ends its axis on an epoch label.
    let planned = app.config.training.epochs.ceil();
    let seen = app.batch_loss.last().map_or(0.0, |(x, _)| *x);
    let overlay = app.overlay.as_ref().map_or(0.0, RunCurves::last_position);
    [0.0, planned.max(seen.ceil()).max(overlay.ceil()).max(1.0)]
}

/// Where the live curves start: at the branch point when the overlay is the run the live one
/// branched from (before it, they are that run's history, drawn once, in grey).
fn live_from(app: &App) -> Option<f64> {
    let overlay = app.overlay.as_ref()?;
    let parent = app.parent_run()?;
    (overlay.id == parent).then(|| app.branch_point()).flatten()
}

/// The live `curve` as drawn: from [`live_from`] on.
fn own(curve: &[(f64, f64)], from: Option<f64>) -> Vec<(f64, f64)> {
    match from {
        Some(at) => from_branch_point(curve, at),
        None => curve.to_vec(),
    }
}

/// The vertical line marking the branch point, from `bottom` to `top`.
fn branch_line(from: Option<f64>, bottom: f64, top: f64) -> Vec<(f64, f64)> {
    from.map(|at| vec![(at, bottom), (at, top)])
        .unwrap_or_default()
}

/// A chart's title, followed by the overlay's name in its dimmed style (and where the live run
/// branched from it).
fn title(app: &App, text: String) -> Line<'static> {
    let mut spans = vec![Span::styled(text, theme::TITLE)];
    if let Some(overlay) = &app.overlay {
        let branched = live_from(app)
            .map(|at| format!(", branched at epoch {}", epoch_label(at)))
            .unwrap_or_default();
        spans.push(Span::styled(
            format!(" grey: {}{branched} ", overlay.id),
            theme::OVERLAY,
        ));
    }
    Line::from(spans)
}

fn epoch_labels(bounds: [f64; 2]) -> Vec<Span<'static>> {
    let last = bounds[1].round() as usize;
    let step = last.div_ceil(8).max(1);
    let mut labels: Vec<Span> = (0..=last)
        .step_by(step)
        .map(|epoch| Span::raw(epoch.to_string()))
        .collect();
    if !last.is_multiple_of(step) {
        labels.push(Span::raw(last.to_string()));
    }
    labels
}

/// At most `limit` points, evenly picked, so that drawing stays cheap on long runs.
fn thin(points: &[(f64, f64)], limit: usize) -> Vec<(f64, f64)> {
    if points.len() <= limit || limit == 0 {
        return points.to_vec();
    }
    let step = points.len() as f64 / limit as f64;
    (0..limit)
        .map(|i| points[((i as f64 * step) as usize).min(points.len() - 1)])
        .chain(points.last().copied())
        .collect()
}

fn empty(frame: &mut Frame, area: Rect, block: Block, text: &str) {
    frame.render_widget(
        Paragraph::new(Span::styled(text.to_string(), theme::DIM))
            .wrap(ratatui::widgets::Wrap { trim: true })
            .block(block),
        area,
    );
}

pub fn loss(app: &App, frame: &mut Frame, area: Rect) {
    if let Some(range) = &app.range {
        return super::range::range_test(range, frame, area);
    }
    let block = Block::default()
        .borders(Borders::ALL)
        .title(title(app, " Training loss ".to_string()))
        .title_bottom(Span::styled(
            " dots: batch  yellow: smooth  magenta: epoch mean ",
            theme::DIM,
        ));
    if app.batch_loss.is_empty() && app.overlay.is_none() {
        let text = match &app.phase {
            Phase::Ready => {
                "Ready. Press s to start training, or l to find the learning rate first."
                    .to_string()
            }
            Phase::Preparing(what) => format!("{what}..."),
            _ => "no batches yet".to_string(),
        };
        empty(frame, area, block, &text);
        return;
    }
    let limit = (area.width as usize).saturating_mul(2).max(16);
    let from = live_from(app);
    let batches = thin(&own(&app.batch_loss, from), limit);
    let smoothed = thin(&own(&app.smoothed_loss, from), limit);
    let epochs: Vec<(f64, f64)> = app
        .epochs
        .iter()
        .map(|e| (e.epoch as f64 + 1.0, e.train_loss))
        .collect();
    let epochs = own(&epochs, from);
    let overlay_loss = app
        .overlay
        .as_ref()
        .map(|overlay| thin(&overlay.loss, limit))
        .unwrap_or_default();
    let max = app
        .batch_loss
        .iter()
        .chain(&overlay_loss)
        .map(|(_, y)| *y)
        .filter(|y| y.is_finite())
        .fold(0.0f64, f64::max)
        .max(0.1);
    let top = (max * 10.0).ceil() / 10.0;
    let bounds = epoch_bounds(app);
    let branch = branch_line(from, 0.0, top);
    let datasets = vec![
        // Drawn first: the live lines cover it where they cross.
        Dataset::default()
            .marker(Marker::Braille)
            .graph_type(GraphType::Line)
            .style(theme::OVERLAY)
            .data(&overlay_loss),
        Dataset::default()
            .marker(Marker::Braille)
            .graph_type(GraphType::Line)
            .style(Style::default().fg(theme::BRANCH_POINT))
            .data(&branch),
        Dataset::default()
            .marker(Marker::Dot)
            .graph_type(GraphType::Scatter)
            .style(Style::default().fg(theme::LOSS_BATCH))
            .data(&batches),
        Dataset::default()
            .name("smoothed")
            .marker(Marker::Braille)
            .graph_type(GraphType::Line)
            .style(Style::default().fg(theme::LOSS_SMOOTH))
            .data(&smoothed),
        Dataset::default()
            .name("epoch")
            .marker(Marker::Block)
            .graph_type(GraphType::Line)
            .style(Style::default().fg(theme::LOSS_EPOCH))
            .data(&epochs),
    ];
    let chart = Chart::new(datasets)
        .block(block)
        .hidden_legend_constraints((
            ratatui::layout::Constraint::Max(0),
            ratatui::layout::Constraint::Max(0),
        ))
        .x_axis(
            Axis::default()
                .title("epoch")
                .bounds(bounds)
                .labels(epoch_labels(bounds))
                .style(theme::DIM),
        )
        .y_axis(
            Axis::default()
                .bounds([0.0, top])
                .labels(vec![
                    Span::raw("0"),
                    Span::raw(format!("{:.2}", top / 2.0)),
                    Span::raw(format!("{top:.2}")),
                ])
                .style(theme::DIM),
        );
    frame.render_widget(chart, area);
}

pub fn accuracy(app: &App, frame: &mut Frame, area: Rect) {
    let mut title = " Accuracy ".to_string();
    let tests = app.test_points();
    if let Some(best) = best_test(&tests) {
        title = format!(
            " Accuracy: best test {:.4} (epoch {}) ",
            best.accuracy,
            epoch_label(best.position)
        );
    }
    // Most important first: a narrow panel cuts the end off.
    let target = app.config.training.target_accuracy;
    let mut bottom = match app.target_reached {
        Some(point) if target > 0.0 => format!(
            " target {target:.2} reached: epoch {}, {} ",
            epoch_label(point.position),
            crate::units::duration(point.elapsed_seconds.unwrap_or(f64::NAN))
        ),
        _ => String::new(),
    };
    bottom.push_str(" cyan: train  green: test ");
    if target > 0.0 && app.target_reached.is_none() {
        bottom.push_str(&format!(" red: target {target:.2} "));
    }
    let block = Block::default()
        .borders(Borders::ALL)
        .title(Span::styled(title, theme::TITLE))
        .title_bottom(Span::styled(bottom, theme::DIM));
    if tests.is_empty() && app.smoothed_accuracy.is_empty() && app.overlay.is_none() {
        empty(
            frame,
            area,
            block,
            "training accuracy appears with the first batches, test accuracy after the first test",
        );
        return;
    }
    // The running (smoothed) training accuracy: a line from the first batches on.
    let from = live_from(app);
    let running = thin(
        &own(&app.smoothed_accuracy, from),
        usize::from(area.width) * 2,
    );
    let bounds = epoch_bounds(app);
    let train: Vec<(f64, f64)> = std::iter::once((0.0, 0.1))
        .chain(
            app.epochs
                .iter()
                .map(|e| (e.epoch as f64 + 1.0, e.train_accuracy)),
        )
        .collect();
    let train = own(&train[1..], from);
    let test: Vec<(f64, f64)> = tests.iter().map(|t| (t.position, t.accuracy)).collect();
    let test = own(&test, from);
    let best: Vec<(f64, f64)> = best_test(&tests)
        .map(|b| vec![(b.position, b.accuracy)])
        .unwrap_or_default();
    let target_line: Vec<(f64, f64)> = if target > 0.0 {
        vec![(bounds[0], target), (bounds[1], target)]
    } else {
        Vec::new()
    };
    let (overlay_train, overlay_test) = app
        .overlay
        .as_ref()
        .map(|overlay| {
            (
                overlay.train_accuracy.clone(),
                thin(&overlay.test_accuracy, usize::from(area.width) * 2),
            )
        })
        .unwrap_or_default();
    let low = app
        .epochs
        .iter()
        .map(|e| e.train_accuracy)
        .chain(tests.iter().map(|t| t.accuracy))
        .chain(running.iter().map(|&(_, accuracy)| accuracy))
        .chain(overlay_train.iter().chain(&overlay_test).map(|&(_, y)| y))
        .fold(1.0f64, f64::min)
        .min(if target > 0.0 { target } else { 1.0 });
    let bottom_bound = ((low - 0.05) * 10.0).floor().clamp(0.0, 9.0) / 10.0;
    let branch = branch_line(from, bottom_bound, 1.0);
    let datasets = vec![
        // The overlay first, so that the live lines cover it: its test accuracy as a line, its
        // training accuracy at epoch ends as dots.
        Dataset::default()
            .marker(Marker::Dot)
            .graph_type(GraphType::Line)
            .style(theme::OVERLAY)
            .data(&overlay_train),
        Dataset::default()
            .marker(Marker::Braille)
            .graph_type(GraphType::Line)
            .style(theme::OVERLAY)
            .data(&overlay_test),
        Dataset::default()
            .marker(Marker::Braille)
            .graph_type(GraphType::Line)
            .style(Style::default().fg(theme::BRANCH_POINT))
            .data(&branch),
        Dataset::default()
            .marker(Marker::Braille)
            .graph_type(GraphType::Line)
            .style(Style::default().fg(theme::TARGET))
            .data(&target_line),
        Dataset::default()
            .marker(Marker::Braille)
            .graph_type(GraphType::Line)
            .style(
                Style::default()
                    .fg(theme::TRAIN_ACCURACY)
                    .add_modifier(Modifier::DIM),
            )
            .data(&running),
        Dataset::default()
            .marker(Marker::Braille)
            .graph_type(GraphType::Line)
            .style(Style::default().fg(theme::TRAIN_ACCURACY))
            .data(&train),
        Dataset::default()
            .marker(Marker::Braille)
            .graph_type(GraphType::Line)
            .style(Style::default().fg(theme::TEST_ACCURACY))
            .data(&test),
        Dataset::default()
            .marker(Marker::Block)
            .graph_type(GraphType::Scatter)
            .style(Style::default().fg(theme::TEST_ACCURACY))
            .data(&best),
    ];
    // With an overlay, the panel's first line says how the live run stands against it.
    let (chart, chart_area) = match &app.overlay {
        Some(overlay) => {
            let inner = block.inner(area);
            frame.render_widget(block, area);
            (Chart::new(datasets), comparison(app, overlay, frame, inner))
        }
        None => (Chart::new(datasets).block(block), area),
    };
    let chart = chart
        .x_axis(
            Axis::default()
                .bounds(bounds)
                .labels(epoch_labels(bounds))
                .style(theme::DIM),
        )
        .y_axis(
            Axis::default()
                .bounds([bottom_bound, 1.0])
                .labels(vec![
                    Span::raw(format!("{bottom_bound:.1}")),
                    Span::raw("1.0"),
                ])
                .style(theme::DIM),
        );
    frame.render_widget(chart, chart_area);
}

/// How the live run stands against the overlay, on the first line(s) of `inner` (the
/// accuracy panel inside its frame); returns the area left for the chart.
fn comparison(app: &App, overlay: &RunCurves, frame: &mut Frame, inner: Rect) -> Rect {
    let standing = standing::standing(&app.test_points(), &app.batch_loss, overlay);
    let text = standing.words(&overlay.id);
    let style = match standing.ahead() {
        Some(true) => theme::GOOD,
        Some(false) => theme::WARNING,
        None => theme::OVERLAY,
    };
    let lines = if text.chars().count() > usize::from(inner.width) {
        2
    } else {
        1
    };
    let [line, chart] =
        Layout::vertical([Constraint::Length(lines), Constraint::Min(0)]).areas(inner);
    frame.render_widget(
        Paragraph::new(Span::styled(text, style)).wrap(Wrap { trim: true }),
        line,
    );
    chart
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thin_keeps_the_ends_and_the_limit() {
        let points: Vec<(f64, f64)> = (0..1000).map(|i| (i as f64, i as f64)).collect();
        let thinned = thin(&points, 100);
        assert!(thinned.len() <= 101);
        assert_eq!(thinned[0], (0.0, 0.0));
        assert_eq!(thinned.last(), Some(&(999.0, 999.0)));
        assert_eq!(thin(&points[..10], 100).len(), 10);
    }
}
