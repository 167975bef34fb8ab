//! The overlay picker drawn: a popup listing earlier runs, one line each, the live run's parent
//! first. What it lists and which row is selected is [`crate::tui::picker`]'s.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Cell, Clear, Paragraph, Row, Table, TableState};

use super::centered;
use crate::tui::app::App;
use crate::tui::picker::{self, Listing, Picker};
use crate::tui::theme;

pub fn picker(app: &App, picker: &Picker, frame: &mut Frame, area: Rect) {
    let rows = app.picker_rows(picker);
    let root = &app.config.checkpoint.dir;
    let status = match &picker.listing {
        Listing::Loading => Some(Span::styled(
            format!("reading the runs under {root}/ ..."),
            theme::DIM,
        )),
        Listing::Failed(error) => Some(Span::styled(error.clone(), theme::ERROR)),
        Listing::Runs(_) if rows.len() == 1 => Some(Span::styled(
            format!("no earlier runs under {root}/ yet"),
            theme::DIM,
        )),
        Listing::Runs(_) => None,
    };
    let status_lines = u16::from(status.is_some());
    // Borders, the header and the status line around the rows.
    let height = rows.len() as u16 + status_lines + 3;
    let popup = centered(
        area,
        area.width.saturating_sub(4).min(112),
        height.min(area.height),
    );
    let shown = app.overlay.as_ref().map(|overlay| overlay.id.as_str());
    // "parent", "shown", or both.
    let tags: Vec<String> = rows
        .iter()
        .map(|row| match row {
            picker::Row::Run { run, parent } => {
                let shown = Some(run.summary.id.as_str()) == shown;
                [(*parent, "parent"), (shown, "shown")]
                    .iter()
                    .filter(|(on, _)| *on)
                    .map(|(_, tag)| *tag)
                    .collect::<Vec<_>>()
                    .join(", ")
            }
            picker::Row::None => String::new(),
        })
        .collect();
    let tag_width = tags
        .iter()
        .map(|tag| tag.chars().count())
        .max()
        .unwrap_or(0);
    let lines: Vec<Row> = rows
        .iter()
        .zip(tags)
        .map(|(row, tag)| match row {
            picker::Row::Run { run, .. } => Row::new(vec![
                Cell::from(run.summary.id.clone()),
                Cell::from(Span::styled(tag, theme::ACCENT)),
                Cell::from(run.state_words()),
                Cell::from(run.best_words()),
                Cell::from(Span::styled(run.differs_words(), theme::DIM)),
            ]),
            picker::Row::None => Row::new(vec![
                Cell::from("none"),
                Cell::from(""),
                Cell::from(Span::styled("no overlay", theme::DIM)),
            ]),
        })
        .collect();
    let header =
        Row::new(["run", "", "state", "best test", "differs from this run"]).style(theme::DIM);
    let table = Table::new(
        lines,
        [
            Constraint::Length(17),
            Constraint::Length(tag_width as u16),
            Constraint::Length(15),
            Constraint::Length(25),
            Constraint::Min(10),
        ],
    )
    .header(header)
    .row_highlight_style(Style::default().add_modifier(Modifier::REVERSED))
    .highlight_symbol("> ");
    let block = Block::default()
        .borders(Borders::ALL)
        .title(Span::styled(
            " Overlay: an earlier run drawn behind this one ",
            theme::TITLE,
        ))
        .title_bottom(Line::from(vec![
            Span::styled(" Up/Down ", theme::KEY),
            Span::raw("choose "),
            Span::styled(" Enter ", theme::KEY),
            Span::raw("draw "),
            Span::styled(" O ", theme::KEY),
            Span::raw("none "),
            Span::styled(" Esc ", theme::KEY),
            Span::raw("close "),
        ]))
        .border_style(theme::ACCENT);
    let inner = block.inner(popup);
    frame.render_widget(Clear, popup);
    frame.render_widget(block, popup);
    let [status_area, table_area] =
        Layout::vertical([Constraint::Length(status_lines), Constraint::Min(0)]).areas(inner);
    if let Some(status) = status {
        frame.render_widget(Paragraph::new(status), status_area);
    }
    let mut state = TableState::default().with_selected(Some(picker.selected));
    frame.render_stateful_widget(table, table_area, &mut state);
}
