//! The picture views: test images with predictions, and the first-layer filters. Pixels are drawn
//! two per cell with the upper half block: the top pixel is the foreground colour, the bottom one
//! the background, in the 256-colour palette's grey ramp (which every modern terminal has).

use ratatui::Frame;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Color, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph, Widget};

use crate::data::fashion_mnist::{CLASS_NAMES, IMAGE_SIDE};
use crate::train::metrics::epoch_label;
use crate::train::snapshot::{GalleryItem, Moment, Snapshot};
use crate::tui::app::App;
use crate::tui::theme;

/// Columns between tiles.
const GAP: u16 = 2;
/// A gallery tile: the image (two pixel rows per line) and two label lines.
const TILE_WIDTH: u16 = IMAGE_SIDE as u16;
const TILE_HEIGHT: u16 = IMAGE_SIDE as u16 / 2 + 2;

/// The palette colour closest to grey level `value`: black, the 24-step grey ramp, white.
pub fn grey(value: u8) -> Color {
    match (u16::from(value) * 25 + 127) / 255 {
        0 => Color::Indexed(16),
        25 => Color::Indexed(231),
        level => Color::Indexed(231 + level as u8),
    }
}

/// Draws a `width` x `height` grey image at (x, y), clipped to `clip`.
fn draw_pixels(buffer: &mut Buffer, clip: Rect, x: u16, y: u16, pixels: &[u8], width: usize) {
    let height = pixels.len() / width.max(1);
    for row in (0..height).step_by(2) {
        for column in 0..width {
            let position = (x + column as u16, y + (row / 2) as u16);
            if !clip.contains(position.into()) {
                continue;
            }
            let top = grey(pixels[row * width + column]);
            let bottom = pixels
                .get((row + 1) * width + column)
                .filter(|_| row + 1 < height)
                .map_or(Color::Reset, |&v| grey(v));
            if let Some(cell) = buffer.cell_mut(position) {
                cell.set_symbol("▀").set_fg(top).set_bg(bottom);
            }
        }
    }
}

fn moment_label(moment: &Moment) -> String {
    match *moment {
        Moment::Start {
            epoch_position: 0.0,
        } => "with the initial weights".to_string(),
        Moment::Start { epoch_position } => format!("at epoch {}", epoch_label(epoch_position)),
        Moment::Evaluated {
            epoch_position,
            accuracy,
        } => format!(
            "after epoch {} (test accuracy {accuracy:.4})",
            epoch_label(epoch_position)
        ),
        Moment::Current { epoch_position } => format!(
            "with the current weights (epoch {})",
            epoch_label(epoch_position)
        ),
    }
}

/// (first item, items per page, page, pages) for `total` items in a `columns` x `rows` grid.
fn paging(app: &App, total: usize, columns: u16, rows: u16) -> (usize, usize, usize, usize) {
    let per_page = (usize::from(columns) * usize::from(rows)).max(1);
    let pages = total.div_ceil(per_page).max(1);
    let page = app.page.rem_euclid(pages as isize) as usize;
    (page * per_page, per_page, page, pages)
}

fn frame_block(title: String, footer: String) -> Block<'static> {
    Block::default()
        .borders(Borders::ALL)
        .title(Span::styled(format!(" {title} "), theme::TITLE))
        .title_bottom(Span::styled(format!(" {footer} "), theme::DIM))
}

fn waiting(frame: &mut Frame, area: Rect, title: &str) {
    let block = frame_block(title.to_string(), "d back to the dashboard".to_string());
    frame.render_widget(
        Paragraph::new("Appears as soon as the model is built.")
            .style(theme::DIM)
            .block(block),
        area,
    );
}

pub fn gallery(app: &App, frame: &mut Frame, area: Rect) {
    let Some(snapshot) = &app.snapshot else {
        return waiting(frame, area, "Test images");
    };
    let items = &snapshot.gallery;
    let right = items.iter().filter(|item| item.is_correct()).count();
    let title = format!(
        "Test images, predictions {}: {right} of {} right",
        moment_label(&snapshot.moment),
        items.len()
    );
    // The grid gets the rows the tiles need; the rest lists every image's verdict.
    let inner = Block::default().borders(Borders::ALL).inner(area);
    let columns = ((inner.width + GAP) / (TILE_WIDTH + GAP)).max(1);
    let rows = ((inner.height + 1) / (TILE_HEIGHT + 1)).max(1);
    let (first, per_page, page, pages) = paging(app, items.len(), columns, rows);
    let footer = format!(
        "<- -> page {} of {pages}  red: wrong  g back to the dashboard",
        page + 1
    );
    frame.render_widget(frame_block(title, footer), area);

    let buffer = frame.buffer_mut();
    for (slot, item) in items.iter().skip(first).take(per_page).enumerate() {
        let slot = slot as u16;
        let x = inner.x + (slot % columns) * (TILE_WIDTH + GAP);
        let y = inner.y + (slot / columns) * (TILE_HEIGHT + 1);
        draw_pixels(buffer, inner, x, y, &item.pixels, IMAGE_SIDE);
        let labels = Rect::new(x, y + TILE_HEIGHT - 2, TILE_WIDTH, 2).intersection(inner);
        Paragraph::new(tile_labels(item)).render(labels, buffer);
    }

    let used = (items.len().min(per_page) as u16).div_ceil(columns) * (TILE_HEIGHT + 1);
    let list = Rect {
        y: inner.y + used,
        height: inner.height.saturating_sub(used),
        ..inner
    };
    verdicts(items, list, buffer);
}

fn tile_labels(item: &GalleryItem) -> Vec<Line<'static>> {
    let truth = CLASS_NAMES[usize::from(item.label)];
    let predicted = CLASS_NAMES[usize::from(item.predicted)];
    let verdict = if item.is_correct() {
        Span::styled(
            format!("✓ {predicted} {:.0}%", item.confidence * 100.0),
            theme::GOOD,
        )
    } else {
        Span::styled(
            format!("✗ {predicted} {:.0}%", item.confidence * 100.0),
            theme::ERROR,
        )
    };
    vec![
        Line::from(vec![
            Span::styled("true ", theme::DIM),
            Span::raw(truth.to_string()),
        ]),
        Line::from(verdict),
    ]
}

/// Every gallery image in one line each (`#index true -> predicted p%`), in as many columns as
/// the rows below the tiles need.
fn verdicts(items: &[GalleryItem], area: Rect, buffer: &mut Buffer) {
    if area.height < 2 || items.is_empty() {
        return;
    }
    let rows = usize::from(area.height - 1);
    let columns = items.len().div_ceil(rows);
    let width = (usize::from(area.width) / columns).max(1);
    let mut lines = vec![Line::from(Span::styled(
        "every gallery image: test index, true class -> prediction",
        theme::DIM,
    ))];
    for row in 0..rows.min(items.len()) {
        let mut spans = Vec::new();
        for item in items.iter().skip(row).step_by(rows) {
            let truth = CLASS_NAMES[usize::from(item.label)];
            let percent = item.confidence * 100.0;
            let (text, style) = if item.is_correct() {
                (
                    format!("#{} {truth} {percent:.0}%", item.index),
                    Style::default(),
                )
            } else {
                let predicted = CLASS_NAMES[usize::from(item.predicted)];
                (
                    format!("#{} {truth} -> {predicted} {percent:.0}%", item.index),
                    theme::ERROR,
                )
            };
            let text: String = text.chars().take(width - 1).collect();
            spans.push(Span::styled(format!("{text:<width$}"), style));
        }
        lines.push(Line::from(spans));
    }
    Paragraph::new(lines).render(area, buffer);
}

pub fn filters(app: &App, frame: &mut Frame, area: Rect) {
    let Some(Snapshot {
        filters, moment, ..
    }) = &app.snapshot
    else {
        return waiting(frame, area, "First-layer filters");
    };
    let inner = Block::default().borders(Borders::ALL).inner(area);
    // One blank column between tiles; the odd pixel row count leaves half a line below each.
    let tile_width = filters.width as u16 + 1;
    let tile_height = (filters.height as u16).div_ceil(2) + u16::from(filters.height % 2 == 0);
    let columns = ((inner.width + 1) / tile_width).max(1);
    let rows = (inner.height / tile_height.max(1)).max(1);
    let (first, per_page, page, pages) = paging(app, filters.count, columns, rows);
    let shown_end = (first + per_page).min(filters.count);
    let title = format!(
        "First-layer filters {}-{} of {} ({}x{}), {}",
        first + 1,
        shown_end,
        filters.count,
        filters.height,
        filters.width,
        moment_label(moment)
    );
    let footer = format!(
        "<- -> page {} of {pages}  each filter scaled to its own range  f back to the dashboard",
        page + 1
    );
    frame.render_widget(frame_block(title, footer), area);
    let buffer = frame.buffer_mut();
    for (slot, index) in (first..shown_end).enumerate() {
        let slot = slot as u16;
        let x = inner.x + (slot % columns) * tile_width;
        let y = inner.y + (slot / columns) * tile_height;
        draw_pixels(buffer, inner, x, y, filters.filter(index), filters.width);
    }
}
