//! Drawing: one function per panel, each reading [`App`] and nothing else.
//!
//! From 116x36 on:
//! ```text
//! +-header---------------------------------------------------------------+
//! | loss chart                                      | layer table         |
//! +--------------------------+----------------------+ (or per class, v)   |
//! | accuracy chart           | throughput           |                     |
//! +--------------------------+----------------------+---------------------+
//! | epoch and run gauges, messages                  | configuration       |
//! +-footer (keys)--------------------------------------------------------+
//! ```
//! Smaller (down to 100x30), the layer table gives way, and `v` cycles the right column through
//! throughput and configuration, the layer table, and the per-class view:
//! ```text
//! +-header--------------------------------------------------+
//! | loss chart                      | throughput            |
//! +---------------------------------+                       |
//! | accuracy chart                  +-----------------------+
//! +---------------------------------+ configuration         |
//! | epoch and run gauges, messages  |                       |
//! +-footer (keys)-------------------------------------------+
//! ```

mod charts;
mod panels;
mod picker;
mod pictures;
mod range;

pub use pictures::grey;

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Wrap};

use super::app::{App, BodyView, Confirm, FULL_LAYOUT, SideView};
use super::keys::{BINDINGS, Context};
use super::theme;

/// The smallest terminal the dashboard lays out in.
pub const MIN_WIDTH: u16 = 100;
pub const MIN_HEIGHT: u16 = 30;

pub fn draw(app: &App, frame: &mut Frame) {
    let area = frame.area();
    if area.width < MIN_WIDTH || area.height < MIN_HEIGHT {
        too_small(frame, area);
        return;
    }
    let [header, body, footer] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Min(0),
        Constraint::Length(1),
    ])
    .areas(area);
    panels::header(app, frame, header);
    panels::footer(app, frame, footer);
    match app.body {
        BodyView::Dashboard => dashboard(app, frame, body),
        BodyView::Gallery => pictures::gallery(app, frame, body),
        BodyView::Filters => pictures::filters(app, frame, body),
    }

    if let Some(open) = &app.picker {
        picker::picker(app, open, frame, body);
    }
    if app.help {
        help(frame, area);
    }
    if let Some(confirm) = app.confirm {
        confirmation(frame, area, confirm);
    }
}

fn dashboard(app: &App, frame: &mut Frame, body: Rect) {
    let body = save_failure(app, frame, body);
    if body.width < FULL_LAYOUT.0 || body.height + 2 < FULL_LAYOUT.1 {
        return compact(app, frame, body);
    }
    let [left, right] =
        Layout::horizontal([Constraint::Min(0), Constraint::Length(46)]).areas(body);
    let [loss, middle, bottom] = Layout::vertical([
        Constraint::Percentage(40),
        Constraint::Percentage(32),
        Constraint::Min(6),
    ])
    .areas(left);
    let [accuracy, throughput] =
        Layout::horizontal([Constraint::Percentage(55), Constraint::Percentage(45)]).areas(middle);
    let [progress, messages] =
        Layout::vertical([Constraint::Length(2), Constraint::Min(0)]).areas(bottom);
    let [layers, settings] =
        Layout::vertical([Constraint::Length(26), Constraint::Min(0)]).areas(right);

    charts::loss(app, frame, loss);
    charts::accuracy(app, frame, accuracy);
    panels::throughput(app, frame, throughput);
    panels::progress(app, frame, progress);
    panels::messages(app, frame, messages);
    match app.side {
        SideView::Overview | SideView::Layers => panels::layers(app, frame, layers),
        SideView::Classes => panels::classes(app, frame, layers),
    }
    panels::settings(app, frame, settings);
}

/// The layout below [`FULL_LAYOUT`]: every panel shown keeps its full labels.
fn compact(app: &App, frame: &mut Frame, body: Rect) {
    let [left, right] =
        Layout::horizontal([Constraint::Min(0), Constraint::Length(46)]).areas(body);
    let [loss, accuracy, bottom] = Layout::vertical([
        Constraint::Percentage(38),
        Constraint::Percentage(32),
        Constraint::Min(5),
    ])
    .areas(left);
    let [progress, messages] =
        Layout::vertical([Constraint::Length(2), Constraint::Min(0)]).areas(bottom);
    charts::loss(app, frame, loss);
    charts::accuracy(app, frame, accuracy);
    panels::progress(app, frame, progress);
    panels::messages(app, frame, messages);
    match app.side {
        SideView::Overview => {
            let [throughput, settings] =
                Layout::vertical([Constraint::Length(10), Constraint::Min(0)]).areas(right);
            panels::throughput(app, frame, throughput);
            panels::settings(app, frame, settings);
        }
        SideView::Layers => panels::layers(app, frame, right),
        SideView::Classes => panels::classes(app, frame, right),
    }
}

/// A checkpoint that could not be written is shown above everything else until a save
/// succeeds; returns the area left for the dashboard.
fn save_failure(app: &App, frame: &mut Frame, body: Rect) -> Rect {
    let Some(failure) = &app.save_failure else {
        return body;
    };
    let text = format!(
        "{failure}. Free disk space, then press c to save (training stays paused until p)."
    );
    let lines = (text.len() as u16 / body.width.saturating_sub(2).max(1) + 1).min(4);
    let [banner, rest] =
        Layout::vertical([Constraint::Length(lines + 2), Constraint::Min(0)]).areas(body);
    frame.render_widget(
        Paragraph::new(text)
            .wrap(Wrap { trim: true })
            .style(theme::ERROR)
            .block(
                Block::default()
                    .borders(Borders::ALL)
                    .border_style(theme::ERROR)
                    .title(" NOT SAVED "),
            ),
        banner,
    );
    rest
}

fn too_small(frame: &mut Frame, area: Rect) {
    let text = vec![
        Line::from(Span::styled(
            "alexnet-tui: the terminal is too small",
            Style::default().add_modifier(Modifier::BOLD),
        )),
        Line::from(format!(
            "{}x{} now, the dashboard needs at least {MIN_WIDTH}x{MIN_HEIGHT}.",
            area.width, area.height
        )),
        Line::from("Enlarge the window; training goes on meanwhile."),
        Line::from("q quits (saving first), p pauses."),
    ];
    frame.render_widget(Paragraph::new(text).wrap(Wrap { trim: true }), area);
}

/// A rectangle of `width` x `height` centred in `area` (clamped to it).
fn centered(area: Rect, width: u16, height: u16) -> Rect {
    let width = width.min(area.width);
    let height = height.min(area.height);
    Rect {
        x: area.x + (area.width - width) / 2,
        y: area.y + (area.height - height) / 2,
        width,
        height,
    }
}

/// The help: the dashboard's keys and the picker's, as [`BINDINGS`] words them, then the
/// settings that may be edited while training runs.
pub fn help_lines() -> Vec<(&'static str, &'static str)> {
    let mut lines = Vec::new();
    let section = |context: Context, lines: &mut Vec<(&'static str, &'static str)>| {
        for binding in BINDINGS.iter().filter(|b| b.context == context) {
            for (index, line) in binding.help.iter().enumerate() {
                lines.push((if index == 0 { binding.label } else { "" }, *line));
            }
        }
    };
    section(Context::Dashboard, &mut lines);
    lines.push(("", ""));
    lines.push(("", "in the overlay picker (o):"));
    section(Context::Picker, &mut lines);
    lines.push(("", ""));
    lines.extend(LIVE_HELP.iter().copied());
    lines
}

/// The live keys of config/live.rs in words (a test checks that each is named).
const LIVE_HELP: &[(&str, &str)] = &[
    (
        "config.toml",
        "edit and save while training runs: learning_rate,",
    ),
    ("", "momentum, nesterov, weight_decay, epochs,"),
    ("", "target_accuracy, checkpoint interval_minutes, keep,"),
    ("", "keep_at_end, ui refresh_hz, headless_interval_seconds"),
    ("", "and [lr_find] apply at once; other keys wait for the"),
    ("", "next start."),
];

fn help(frame: &mut Frame, area: Rect) {
    let help = help_lines();
    let popup = centered(area, 72, help.len() as u16 + 4);
    let lines: Vec<Line> = help
        .iter()
        .map(|(key, what)| {
            Line::from(vec![
                Span::styled(format!("{key:>12}  "), theme::KEY),
                Span::raw(*what),
            ])
        })
        .collect();
    frame.render_widget(Clear, popup);
    frame.render_widget(
        Paragraph::new(lines).block(
            Block::default()
                .borders(Borders::ALL)
                .title(" Help (? or Esc to close) ")
                .border_style(theme::ACCENT),
        ),
        popup,
    );
}

fn confirmation(frame: &mut Frame, area: Rect, confirm: Confirm) {
    let question = match confirm {
        Confirm::Stop => "Stop training? A checkpoint is saved first.",
        Confirm::Quit => "Training is running. Save a checkpoint and quit?",
    };
    let popup = centered(area, 58, 5);
    frame.render_widget(Clear, popup);
    frame.render_widget(
        Paragraph::new(vec![
            Line::from(question),
            Line::from(vec![
                Span::styled("y", theme::KEY),
                Span::raw(" yes    "),
                Span::styled("n", theme::KEY),
                Span::raw(" / Esc no"),
            ]),
        ])
        .block(
            Block::default()
                .borders(Borders::ALL)
                .title(" Confirm ")
                .border_style(theme::WARNING),
        ),
        popup,
    );
}
