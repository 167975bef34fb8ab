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

const HELP: &[(&str, &str)] = &[
    ("s / Enter", "start training (or resume when paused)"),
    ("p / Space", "pause / resume between batches"),
    ("c", "save a checkpoint now"),
    ("l", "before training: a learning-rate range test, drawn"),
    ("", "live; Enter writes its pick into config.toml, Esc not"),
    (
        "v / Tab",
        "switch the right panel: layers / per-class results",
    ),
    ("", "(below 116x36 also: throughput and configuration)"),
    ("g", "test images with the current predictions"),
    ("f", "the 96 first-layer filters"),
    ("<- / ->", "page through the images or filters"),
    ("d", "back to the dashboard"),
    ("o", "overlay: draw an earlier run's curves behind these"),
    ("O", "no overlay"),
    ("x", "stop: save a checkpoint and end the run (asks first)"),
    ("q / Esc", "quit (asks while training; saves first)"),
    ("Ctrl-C", "save a checkpoint and quit at once"),
    ("?", "this help"),
    ("", ""),
    ("config.toml", "edit and save while training runs:"),
    ("", "learning rate, momentum, weight decay, epochs,"),
    ("", "target accuracy and checkpoint settings apply at"),
    ("", "the next batch; other keys wait for the next start."),
];

fn help(frame: &mut Frame, area: Rect) {
    let popup = centered(area, 72, HELP.len() as u16 + 4);
    let lines: Vec<Line> = HELP
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
