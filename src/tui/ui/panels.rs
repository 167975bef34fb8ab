//! The text panels: header, footer, throughput, progress, messages, layer table, configuration.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Cell, LineGauge, Paragraph, Row, Sparkline, Table};

use crate::config::OptimizerKind;
use crate::data::batcher;
use crate::model::{format_shape, group_thousands};
use crate::report::{Level, format_clock};
use crate::tui::app::{App, BodyView, Phase, SideView};
use crate::tui::theme;
use crate::units;

fn block(title: &str) -> Block<'static> {
    Block::default()
        .borders(Borders::ALL)
        .title(Span::styled(format!(" {title} "), theme::TITLE))
}

fn phase_style(phase: &Phase) -> Style {
    match phase {
        Phase::Training | Phase::Evaluating => theme::GOOD.add_modifier(Modifier::BOLD),
        Phase::Paused(_) | Phase::Stopping => theme::WARNING.add_modifier(Modifier::BOLD),
        Phase::Failed(_) => theme::ERROR,
        _ => theme::ACCENT.add_modifier(Modifier::BOLD),
    }
}

pub fn header(app: &App, frame: &mut Frame, area: Rect) {
    let mut spans = vec![
        Span::styled(
            " alexnet-tui ",
            theme::TITLE
                .fg(ratatui::style::Color::Black)
                .bg(ratatui::style::Color::Cyan),
        ),
        Span::raw(" "),
        Span::styled(format!(" {} ", app.phase.label()), phase_style(&app.phase)),
    ];
    let detail = match &app.phase {
        Phase::Preparing(what) => format!(" {what}"),
        Phase::Paused(crate::train::PauseReason::NonFiniteLoss { .. }) => {
            " non-finite loss: lower the learning rate".to_string()
        }
        Phase::Failed(message) => format!(" {message}"),
        _ => String::new(),
    };
    spans.push(Span::styled(detail, theme::DIM));
    // Training time (pauses excluded) first: a narrow terminal cuts the end off.
    spans.push(Span::raw(format!(
        " | trained {}",
        units::duration(app.elapsed_seconds())
    )));
    if let Some(info) = &app.info {
        // Whole segments only: what does not fit is left out, not cut.
        let mut used: usize = spans.iter().map(|span| span.content.chars().count()).sum();
        for segment in [
            match &info.run_id {
                Some(id) => format!(" | run {id}"),
                None => " | new run".to_string(),
            },
            format!(" | {} x{} threads", info.device, info.threads),
            // The precision and, briefly, why: chosen by "auto" or set (the headless `ready`
            // line gives the whole reason).
            format!(
                " | {} ({})",
                info.precision,
                precision_how(&info.precision_reason)
            ),
            format!(" | profile {}", app.config.profile),
        ] {
            used += segment.chars().count();
            if used > usize::from(area.width) {
                break;
            }
            spans.push(Span::raw(segment));
        }
    }
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
}

/// "auto" when `training.precision = "auto"` chose the precision, else "set".
fn precision_how(reason: &str) -> &'static str {
    if reason.starts_with("auto") {
        "auto"
    } else {
        "set"
    }
}

pub fn footer(app: &App, frame: &mut Frame, area: Rect) {
    let keys: &[(&str, &str)] = match app.phase {
        Phase::Ready if app.range_result().is_some() => &[
            ("Enter", "write the pick"),
            ("Esc", "leave config.toml"),
            ("s", "start"),
            ("l", "again"),
            ("q", "quit"),
        ],
        Phase::Ready => &[
            ("s", "start"),
            ("l", "find the learning rate"),
            ("q", "quit"),
            ("?", "help"),
        ],
        Phase::RangeTest => &[("Esc", "end the range test"), ("q", "quit"), ("?", "help")],
        Phase::Paused(_) => &[
            ("p", "resume"),
            ("c", "save"),
            ("x", "stop"),
            ("q", "quit"),
            ("?", "help"),
        ],
        Phase::Training | Phase::Evaluating => &[
            ("p", "pause"),
            ("c", "save"),
            ("x", "stop"),
            ("q", "quit"),
            ("?", "help"),
        ],
        _ => &[("q", "quit"), ("?", "help")],
    };
    let mut spans = Vec::new();
    for (key, what) in keys {
        spans.push(Span::styled(format!(" {key} "), theme::KEY));
        spans.push(Span::raw(format!("{what} ")));
    }
    let views: &[(&str, &str)] = match app.body {
        BodyView::Dashboard => &[
            (
                "v",
                match app.side {
                    SideView::Overview if app.is_compact() => "layers",
                    SideView::Overview | SideView::Layers => "classes",
                    SideView::Classes if app.is_compact() => "overview",
                    SideView::Classes => "layers",
                },
            ),
            ("g", "gallery"),
            ("f", "filters"),
            ("o", "overlay"),
        ],
        BodyView::Gallery => &[("<->", "page"), ("f", "filters"), ("d", "dashboard")],
        BodyView::Filters => &[("<->", "page"), ("g", "gallery"), ("d", "dashboard")],
    };
    for (key, what) in views {
        spans.push(Span::styled(format!(" {key} "), theme::KEY));
        spans.push(Span::raw(format!("{what} ")));
    }
    // The hint goes last and only where it fits whole.
    const HINT: &str = "  edit config.toml to change the learning rate live";
    let used: usize = spans.iter().map(|span| span.content.chars().count()).sum();
    if used + HINT.len() <= usize::from(area.width) {
        spans.push(Span::styled(HINT, theme::DIM));
    }
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
}

pub fn throughput(app: &App, frame: &mut Frame, area: Rect) {
    let outer = block("Throughput");
    let inner = outer.inner(area);
    frame.render_widget(outer, area);
    let [text_area, spark_area] =
        Layout::vertical([Constraint::Length(6), Constraint::Min(0)]).areas(inner);
    let now = app.images_per_second_now();
    let average = app.images_per_second_average();
    let per_batch = app.last_batch.map(|b| b.seconds);
    let fmt = |v: Option<f64>, unit: &str| v.map_or("--".to_string(), |v| format!("{v:.1}{unit}"));
    let (epoch_eta, run_eta) = etas(app);
    let lines = vec![
        Line::from(vec![
            Span::styled(format!("{:>7}", fmt(now, "")), theme::TITLE),
            Span::raw(" images/s now"),
        ]),
        Line::from(format!("{:>7} images/s average", fmt(average, ""))),
        Line::from(format!(
            "{:>7} per batch of {}",
            fmt(per_batch, " s"),
            app.config.training.batch_size
        )),
        Line::from(format!("ETA epoch {epoch_eta}, run {run_eta}")),
        Line::from(format!(
            "CPU {:.0}%  RSS {}",
            app.stats.cpu_percent,
            memory(app.stats.resident_bytes)
        )),
        Line::from(format!(
            "peak RSS {}",
            memory(app.stats.peak_resident_bytes)
        )),
    ];
    frame.render_widget(Paragraph::new(lines), text_area);
    let data: Vec<u64> = app
        .recent_speed
        .iter()
        .rev()
        .take(spark_area.width as usize)
        .rev()
        .map(|v| (v * 10.0).round() as u64)
        .collect();
    frame.render_widget(
        Sparkline::default()
            .data(&data)
            .style(Style::default().fg(theme::TRAIN_ACCURACY)),
        spark_area,
    );
}

/// (epoch ETA, run ETA) from the recent pace.
fn etas(app: &App) -> (String, String) {
    let (Some(batch), Some(now)) = (app.last_batch, app.images_per_second_now()) else {
        return ("--".into(), "--".into());
    };
    if !app.phase.is_running() {
        return ("--".into(), "--".into());
    }
    let seconds_per_batch = app.config.training.batch_size as f64 / now.max(1e-9);
    let per_epoch = app.batches_per_epoch();
    let run_batches = app.run_batches();
    let done = batch.epoch * per_epoch + batch.batch + 1;
    let this_epoch = batcher::batches_in_epoch(per_epoch, run_batches, batch.epoch);
    let left_in_epoch = this_epoch.saturating_sub(batch.batch + 1);
    let epoch = left_in_epoch as f64 * seconds_per_batch;
    let run = run_batches.saturating_sub(done) as f64 * seconds_per_batch;
    (units::duration(epoch), units::duration(run))
}

/// Memory as [`units::gigabytes`] says it; `--` before the first reading.
fn memory(bytes: u64) -> String {
    if bytes == 0 {
        "--".to_string()
    } else {
        units::gigabytes(bytes)
    }
}

pub fn progress(app: &App, frame: &mut Frame, area: Rect) {
    let [epoch_area, run_area] =
        Layout::vertical([Constraint::Length(1), Constraint::Length(1)]).areas(area);
    let per_epoch = app.batches_per_epoch();
    let run_batches = app.run_batches();
    let epochs = app.config.training.epochs;
    let (epoch, batch) = app.position();
    // After the last epoch the position is (epochs, 0): show the last epoch as full.
    let last_epoch = (run_batches - 1) / per_epoch;
    let (shown_epoch, shown_batch) = if epoch > last_epoch {
        (last_epoch, per_epoch)
    } else {
        (epoch, batch)
    };
    // The batches the shown epoch trains: fewer in the last epoch of a fractional run.
    let in_epoch = batcher::batches_in_epoch(per_epoch, run_batches, shown_epoch).max(1);
    let shown_batch = shown_batch.min(in_epoch);
    let epoch_ratio = (shown_batch as f64 / in_epoch as f64).clamp(0.0, 1.0);
    let run_ratio = ((epoch * per_epoch + batch) as f64 / run_batches as f64).clamp(0.0, 1.0);
    frame.render_widget(
        LineGauge::default()
            .filled_style(Style::default().fg(theme::TRAIN_ACCURACY))
            .label(format!(
                "epoch {}/{epochs} batch {shown_batch}/{in_epoch}",
                shown_epoch + 1
            ))
            .ratio(epoch_ratio),
        epoch_area,
    );
    frame.render_widget(
        LineGauge::default()
            .filled_style(Style::default().fg(theme::TEST_ACCURACY))
            .label(format!("run {:>5.1}%", run_ratio * 100.0))
            .ratio(run_ratio),
        run_area,
    );
}

pub fn messages(app: &App, frame: &mut Frame, area: Rect) {
    let outer = block("Messages");
    let inner = outer.inner(area);
    let width = (inner.width as usize).max(10);
    // Wrapped by hand so that the newest lines are the ones that stay visible.
    let mut rows: Vec<Line> = Vec::new();
    for message in app.messages.iter().rev() {
        if rows.len() >= inner.height as usize {
            break;
        }
        let style = match message.level {
            Level::Info => Style::default(),
            Level::Warning => theme::WARNING,
            Level::Error => theme::ERROR,
        };
        let clock = format!("{} ", format_clock(message.elapsed.as_secs()));
        let text: Vec<char> = message.text.chars().collect();
        let first_width = width.saturating_sub(clock.len()).max(1);
        let mut pieces = vec![Line::from(vec![
            Span::styled(clock.clone(), theme::DIM),
            Span::styled(text.iter().take(first_width).collect::<String>(), style),
        ])];
        let indent = " ".repeat(clock.len());
        for chunk in text
            .get(first_width..)
            .unwrap_or_default()
            .chunks(first_width)
        {
            pieces.push(Line::from(vec![
                Span::raw(indent.clone()),
                Span::styled(chunk.iter().collect::<String>(), style),
            ]));
        }
        for piece in pieces.into_iter().rev() {
            rows.push(piece);
        }
    }
    rows.truncate(inner.height as usize);
    rows.reverse();
    frame.render_widget(Paragraph::new(rows).block(outer), area);
}

pub fn layers(app: &App, frame: &mut Frame, area: Rect) {
    let resize = app.config.model.resize;
    let outer = block(&format!("Layers for a {resize}x{resize} input"));
    let Some(info) = &app.info else {
        frame.render_widget(
            Paragraph::new(Span::styled("building the model...", theme::DIM)).block(outer),
            area,
        );
        return;
    };
    let total: usize = info.summary.iter().map(|row| row.params).sum();
    let rows: Vec<Row> = info
        .summary
        .iter()
        .map(|row| {
            let params = if row.params == 0 {
                String::new()
            } else {
                group_thousands(row.params)
            };
            Row::new(vec![
                Cell::from(row.name.clone()),
                Cell::from(format_shape(&row.output_shape)),
                Cell::from(params),
            ])
        })
        .collect();
    let table = Table::new(
        rows,
        [
            Constraint::Length(9),
            Constraint::Length(18),
            Constraint::Min(10),
        ],
    )
    .header(Row::new(vec!["layer", "output shape", "params"]).style(theme::DIM))
    .footer(
        Row::new(vec![
            Cell::from("total"),
            Cell::from(format!("{} f32", units::megabytes(total as u64 * 4))),
            Cell::from(group_thousands(total)),
        ])
        .style(theme::TITLE),
    )
    .block(outer);
    frame.render_widget(table, area);
}

pub fn settings(app: &App, frame: &mut Frame, area: Rect) {
    let t = &app.config.training;
    let current_lr = app.last_batch.map(|b| b.learning_rate);
    let pending = |key: &str| -> String {
        app.pending
            .iter()
            .find(|change| change.key == key)
            .map(|change| format!(" (next start: {})", change.new))
            .unwrap_or_default()
    };
    let mut lines = vec![
        Line::from(format!(
            "learning rate {}{}",
            t.learning_rate,
            current_lr.map_or(String::new(), |lr| format!(" (now {lr:.5})"))
        )),
        Line::from(format!(
            "schedule {}{}",
            t.schedule,
            pending("training.schedule")
        )),
        Line::from(match t.optimizer {
            OptimizerKind::Sgd => format!(
                "optimizer sgd, momentum {}{}",
                t.momentum,
                if t.nesterov { " nesterov" } else { "" }
            ),
            OptimizerKind::AdamW => "optimizer adamw".to_string(),
        }),
        Line::from(format!(
            "weight decay {}  epochs {}",
            t.weight_decay, t.epochs
        )),
        Line::from(format!(
            "batch {}{}  resize {}{}",
            t.batch_size,
            pending("training.batch_size"),
            app.config.model.resize,
            pending("model.resize")
        )),
    ];
    let others: Vec<String> = app
        .pending
        .iter()
        .filter(|c| {
            !["training.schedule", "training.batch_size", "model.resize"].contains(&c.key.as_str())
        })
        .map(|c| format!("{} -> {}", c.key, c.new))
        .collect();
    if !others.is_empty() {
        lines.push(Line::from(Span::styled(
            format!("pending: {}", others.join(", ")),
            theme::WARNING,
        )));
    }
    frame.render_widget(Paragraph::new(lines).block(block("Configuration")), area);
}

/// Per-class test accuracy and the confusion matrix of the latest epoch, with the three largest
/// confusions highlighted.
pub fn classes(app: &App, frame: &mut Frame, area: Rect) {
    // The latest test, from an epoch end or from inside an epoch.
    let latest = app
        .epochs
        .iter()
        .filter_map(|e| e.test.as_ref().map(|test| (e.epoch as f64 + 1.0, test)))
        .chain(app.checks.iter().map(|c| (c.position, &c.test)))
        .max_by(|a, b| a.0.total_cmp(&b.0));
    let Some((position, evaluation)) = latest else {
        frame.render_widget(
            Paragraph::new(Span::styled(
                "per-class results appear after the first test pass",
                theme::DIM,
            ))
            .wrap(ratatui::widgets::Wrap { trim: true })
            .block(block("Per class")),
            area,
        );
        return;
    };
    let mut confusions: Vec<(u32, usize, usize)> = Vec::new();
    for (truth, row) in evaluation.confusion.iter().enumerate() {
        for (predicted, &count) in row.iter().enumerate() {
            if truth != predicted && count > 0 {
                confusions.push((count, truth, predicted));
            }
        }
    }
    confusions.sort_unstable_by(|a, b| b.cmp(a));
    confusions.truncate(3);
    let highlighted = |truth: usize, predicted: usize| {
        confusions
            .iter()
            .any(|&(_, t, p)| t == truth && p == predicted)
    };
    let mut lines = Vec::new();
    for (class, (name, accuracy)) in crate::data::fashion_mnist::CLASS_NAMES
        .iter()
        .zip(evaluation.per_class_accuracy())
        .enumerate()
    {
        let style = if accuracy < 0.75 {
            theme::WARNING
        } else {
            Style::default()
        };
        lines.push(Line::from(vec![
            Span::styled(format!("{class} {name:<12}"), style),
            Span::styled(format!("{:>6.1}%", accuracy * 100.0), style),
        ]));
    }
    lines.push(Line::from(Span::styled(
        "confusion (rows true, columns predicted)",
        theme::DIM,
    )));
    let mut header = String::from("  ");
    for class in 0..10 {
        header.push_str(&format!("{class:>4}"));
    }
    lines.push(Line::from(Span::styled(header, theme::DIM)));
    for (truth, row) in evaluation.confusion.iter().enumerate() {
        let mut spans = vec![Span::styled(format!("{truth} "), theme::DIM)];
        for (predicted, &count) in row.iter().enumerate() {
            let style = if truth == predicted {
                theme::GOOD
            } else if highlighted(truth, predicted) {
                theme::ERROR
            } else if count == 0 {
                theme::DIM
            } else {
                Style::default()
            };
            spans.push(Span::styled(format!("{count:>4}"), style));
        }
        lines.push(Line::from(spans));
    }
    let title = format!(
        "Per class, epoch {}: {:.2}% of {}",
        crate::train::metrics::epoch_label(position),
        evaluation.accuracy * 100.0,
        evaluation.images
    );
    frame.render_widget(Paragraph::new(lines).block(block(&title)), area);
}
