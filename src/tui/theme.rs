//! Colours and styles, in one place.

use ratatui::style::{Color, Modifier, Style};

pub const ACCENT: Style = Style::new().fg(Color::Cyan);
pub const KEY: Style = Style::new().fg(Color::Yellow).add_modifier(Modifier::BOLD);
pub const DIM: Style = Style::new().fg(Color::DarkGray);
pub const WARNING: Style = Style::new().fg(Color::Yellow);
pub const ERROR: Style = Style::new().fg(Color::Red).add_modifier(Modifier::BOLD);
pub const GOOD: Style = Style::new().fg(Color::Green);
pub const TITLE: Style = Style::new().add_modifier(Modifier::BOLD);
/// An earlier run's curves behind the live ones, and its name.
pub const OVERLAY: Style = Style::new().fg(Color::Gray).add_modifier(Modifier::DIM);

/// Where the live run branched from the overlay's run.
pub const BRANCH_POINT: Color = Color::Blue;

pub const LOSS_BATCH: Color = Color::DarkGray;
pub const LOSS_SMOOTH: Color = Color::Yellow;
pub const LOSS_EPOCH: Color = Color::Magenta;
pub const TRAIN_ACCURACY: Color = Color::Cyan;
pub const TEST_ACCURACY: Color = Color::Green;
pub const TARGET: Color = Color::Red;
/// The range test's suggestions: the pick (valley) and the steepest fall.
pub const VALLEY: Color = Color::Green;
pub const STEEP: Color = Color::Cyan;
