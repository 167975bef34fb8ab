//! The range test in the loss panel's place: loss against learning rate on a logarithmic axis,
//! every batch as a dot and the smoothed loss as a line, drawn as the batches arrive; once the
//! test is over, its two suggestions as upright lines, and what Enter and Esc do.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use ratatui::symbols::Marker;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Axis, Block, Borders, Chart, Dataset, GraphType, Paragraph, Wrap};

use crate::report::range_test::format_rate;
use crate::train::range_test::{Method, Suggestions, drawn_loss_range};
use crate::tui::app::RangeView;
use crate::tui::theme;

/// How many rate labels the x axis carries (ratatui spaces them evenly).
const RATE_LABELS: usize = 5;

pub fn range_test(range: &RangeView, frame: &mut Frame, area: Rect) {
    let suggestions = range.result.as_ref().map(|test| &test.suggestions);
    let block = Block::default()
        .borders(Borders::ALL)
        .title(Span::styled(title(range), theme::TITLE))
        .title_bottom(legend(suggestions));
    if range.points.is_empty() {
        let text = match &range.result {
            Some(_) => "no usable points (see the messages). Esc puts the range test away.",
            None => "range test: the first batch is on its way...",
        };
        frame.render_widget(
            Paragraph::new(Span::styled(text, theme::DIM))
                .wrap(Wrap { trim: true })
                .block(block),
            area,
        );
        return;
    }
    let (bottom, top) = drawn_loss_range(&range.points);
    // What lies outside the drawn span runs along its edge.
    let x = |rate: f64| rate.log10();
    let y = |loss: f64| loss.clamp(bottom, top);
    let raw: Vec<(f64, f64)> = range
        .points
        .iter()
        .map(|p| (x(p.learning_rate), y(p.loss)))
        .collect();
    let smoothed: Vec<(f64, f64)> = range
        .points
        .iter()
        .map(|p| (x(p.learning_rate), y(p.smoothed_loss)))
        .collect();
    let bounds = [x(range.settings.start), x(range.settings.end)];
    let marks: Vec<(Method, Vec<(f64, f64)>)> = suggestions
        .into_iter()
        .flat_map(|suggestions| {
            [Method::Steep, Method::Valley]
                .into_iter()
                .filter_map(|method| Some((method, suggestions.get(method)?)))
        })
        .map(|(method, suggestion)| {
            let at = x(suggestion.learning_rate);
            (method, vec![(at, bottom), (at, top)])
        })
        .collect();
    let mut datasets: Vec<Dataset> = marks
        .iter()
        .map(|(method, line)| {
            Dataset::default()
                .marker(Marker::Braille)
                .graph_type(GraphType::Line)
                .style(mark_style(*method))
                .data(line)
        })
        .collect();
    datasets.push(
        Dataset::default()
            .marker(Marker::Dot)
            .graph_type(GraphType::Scatter)
            .style(Style::default().fg(theme::LOSS_BATCH))
            .data(&raw),
    );
    datasets.push(
        Dataset::default()
            .marker(Marker::Braille)
            .graph_type(GraphType::Line)
            .style(Style::default().fg(theme::LOSS_SMOOTH))
            .data(&smoothed),
    );
    let chart = Chart::new(datasets)
        .block(block)
        .x_axis(
            Axis::default()
                .title("log lr")
                .bounds(bounds)
                .labels(rate_labels(bounds))
                .style(theme::DIM),
        )
        .y_axis(
            Axis::default()
                .bounds([bottom, top])
                .labels(vec![
                    Span::raw(format!("{bottom:.2}")),
                    Span::raw(format!("{:.2}", (bottom + top) / 2.0)),
                    Span::raw(format!("{top:.2}")),
                ])
                .style(theme::DIM),
        );
    frame.render_widget(chart, area);
}

fn mark_style(method: Method) -> Style {
    match method {
        Method::Valley => Style::default()
            .fg(theme::VALLEY)
            .add_modifier(Modifier::BOLD),
        Method::Steep => Style::default().fg(theme::STEEP),
    }
}

/// What the panel is showing, and, once the test is over, what Enter and Esc do.
fn title(range: &RangeView) -> String {
    let Some(test) = &range.result else {
        let (batch, rate) = range
            .points
            .last()
            .map_or((0, range.settings.start), |p| (p.step + 1, p.learning_rate));
        return format!(
            " Range test: batch {batch}/{}, learning rate {} (Esc ends it) ",
            range.settings.steps,
            format_rate(rate)
        );
    };
    match test.suggestions.pick() {
        Some(pick) => format!(
            " Range test: Enter writes {} {} into config.toml, Esc not ",
            Suggestions::PICK.name(),
            format_rate(pick.learning_rate)
        ),
        None => " Range test: no suggestion (see the messages), Esc puts it away ".to_string(),
    }
}

/// The colours, and each suggestion's rate.
fn legend(suggestions: Option<&Suggestions>) -> Line<'static> {
    let mut spans = vec![Span::styled(" dots: batch  yellow: smoothed ", theme::DIM)];
    for method in [Suggestions::PICK, Method::Steep] {
        if let Some(suggestion) = suggestions.and_then(|s| s.get(method)) {
            let pick = if method == Suggestions::PICK {
                " (pick)"
            } else {
                ""
            };
            spans.push(Span::styled(
                format!(
                    " {} {}{pick} ",
                    method.name(),
                    format_rate(suggestion.learning_rate)
                ),
                mark_style(method),
            ));
        }
    }
    Line::from(spans)
}

/// Evenly spaced rates between the bounds (in log10), as ratatui spaces the labels.
fn rate_labels(bounds: [f64; 2]) -> Vec<Span<'static>> {
    (0..RATE_LABELS)
        .map(|index| {
            let at = bounds[0] + (bounds[1] - bounds[0]) * index as f64 / (RATE_LABELS - 1) as f64;
            Span::raw(format_rate(10f64.powf(at)))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_labels_are_the_rates_at_even_steps_of_the_log_axis() {
        let labels: Vec<String> = rate_labels([-5.0, 0.0])
            .into_iter()
            .map(|span| span.content.into_owned())
            .collect();
        assert_eq!(labels, ["0.00001", "0.00018", "0.0032", "0.056", "1"]);
    }
}
