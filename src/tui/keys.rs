//! The key map (which key means which [`Action`] in which state) and what each action does:
//! the state it changes and the [`Effect`]s it asks the event loop for. The help overlay and
//! the README list the same keys.

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

use super::app::{Action, App, BodyView, Confirm, Effect, Phase, SideView};
use super::picker::{Picker, Row};
use crate::report::{Level, Line};
use crate::runs::standing::RunRef;
use crate::train::Command;

impl App {
    /// The key map. Keys that mean nothing in the current state give `None`.
    pub fn action_for(&self, key: KeyEvent) -> Option<Action> {
        if key.kind == KeyEventKind::Release {
            return None;
        }
        if key.modifiers.contains(KeyModifiers::CONTROL) && key.code == KeyCode::Char('c') {
            return Some(Action::Interrupt);
        }
        if self.confirm.is_some() {
            return match key.code {
                KeyCode::Char('y' | 'Y') | KeyCode::Enter => Some(Action::Yes),
                KeyCode::Char('n' | 'N') | KeyCode::Esc => Some(Action::No),
                _ => None,
            };
        }
        if self.help {
            return match key.code {
                KeyCode::Char('?') | KeyCode::Esc | KeyCode::Char('h') => Some(Action::ToggleHelp),
                KeyCode::Char('q') => Some(Action::Quit),
                _ => None,
            };
        }
        if self.picker.is_some() {
            return match key.code {
                KeyCode::Up | KeyCode::Char('k') => Some(Action::PickerMove(-1)),
                KeyCode::Down | KeyCode::Char('j') => Some(Action::PickerMove(1)),
                KeyCode::PageUp => Some(Action::PickerMove(-10)),
                KeyCode::PageDown => Some(Action::PickerMove(10)),
                KeyCode::Enter => Some(Action::PickerChoose),
                KeyCode::Esc | KeyCode::Char('o') => Some(Action::TogglePicker),
                KeyCode::Char('O') | KeyCode::Backspace => Some(Action::ClearOverlay),
                KeyCode::Char('q') => Some(Action::Quit),
                _ => None,
            };
        }
        // A range test takes Esc to end it; its result takes Enter and Esc.
        match (key.code, &self.phase) {
            (KeyCode::Esc, Phase::RangeTest) => return Some(Action::CancelRange),
            (KeyCode::Enter, Phase::Ready) if self.range_result().is_some() => {
                return Some(Action::WritePick);
            }
            (KeyCode::Esc, _) if self.range_result().is_some() => {
                return Some(Action::DismissRange);
            }
            _ => {}
        }
        match key.code {
            KeyCode::Char('s') | KeyCode::Enter => Some(Action::Start),
            KeyCode::Char('l') => Some(Action::FindRate),
            KeyCode::Char('p') | KeyCode::Char(' ') => Some(Action::TogglePause),
            KeyCode::Char('x') => Some(Action::Stop),
            KeyCode::Char('c') => Some(Action::Save),
            KeyCode::Char('q') | KeyCode::Esc => Some(Action::Quit),
            KeyCode::Char('?') | KeyCode::Char('h') => Some(Action::ToggleHelp),
            KeyCode::Char('v') | KeyCode::Tab => Some(Action::ToggleView),
            KeyCode::Char('g') => Some(Action::Show(BodyView::Gallery)),
            KeyCode::Char('f') => Some(Action::Show(BodyView::Filters)),
            KeyCode::Char('d') => Some(Action::Show(BodyView::Dashboard)),
            KeyCode::Char('o') => Some(Action::TogglePicker),
            KeyCode::Char('O') if self.overlay.is_some() => Some(Action::ClearOverlay),
            KeyCode::Right | KeyCode::Char(']') | KeyCode::PageDown
                if self.body != BodyView::Dashboard =>
            {
                Some(Action::Page(1))
            }
            KeyCode::Left | KeyCode::Char('[') | KeyCode::PageUp
                if self.body != BodyView::Dashboard =>
            {
                Some(Action::Page(-1))
            }
            _ => None,
        }
    }

    pub(super) fn act(&mut self, action: Action) -> Vec<Effect> {
        match action {
            Action::ToggleHelp => {
                self.help = !self.help;
                Vec::new()
            }
            Action::ToggleView => {
                self.side = match self.side {
                    // Compact: throughput and configuration, the layer table, the per-class
                    // view. Full: the layer table and the per-class view (the rest always shows).
                    SideView::Overview if self.is_compact() => SideView::Layers,
                    SideView::Overview | SideView::Layers => SideView::Classes,
                    SideView::Classes => SideView::Overview,
                };
                Vec::new()
            }
            Action::Show(view) => {
                self.body = if self.body == view {
                    BodyView::Dashboard
                } else {
                    view
                };
                self.page = 0;
                Vec::new()
            }
            Action::Page(delta) => {
                self.page += delta;
                Vec::new()
            }
            Action::TogglePicker => {
                if self.picker.take().is_some() {
                    return Vec::new();
                }
                self.picker = Some(Picker::new());
                vec![Effect::ListRuns]
            }
            Action::PickerMove(delta) => {
                let rows = self.picker.as_ref().map(|p| self.picker_rows(p).len());
                if let (Some(rows), Some(picker)) = (rows, &mut self.picker) {
                    picker.step(delta, rows);
                }
                Vec::new()
            }
            Action::PickerChoose => {
                let Some(picker) = self.picker.take() else {
                    return Vec::new();
                };
                let chosen = match self.picker_rows(&picker).get(picker.selected) {
                    Some(Row::Run { run, .. }) => Some(RunRef::Folder {
                        id: run.summary.id.clone(),
                        dir: run.summary.dir.clone(),
                    }),
                    Some(Row::None) | None => None,
                };
                match chosen {
                    Some(run) => {
                        // The overlay is drawn on the dashboard's charts.
                        self.body = BodyView::Dashboard;
                        self.load_overlay(run)
                    }
                    None => self.act(Action::ClearOverlay),
                }
            }
            Action::ClearOverlay => {
                self.picker = None;
                // A load still on its way is no longer wanted either.
                self.overlay_request += 1;
                if let Some(overlay) = self.overlay.take() {
                    self.note(
                        Level::Info,
                        format!("overlay: run {} no longer drawn", overlay.id),
                    );
                }
                Vec::new()
            }
            Action::FindRate => match self.phase {
                Phase::Ready => {
                    self.range = None;
                    vec![Effect::Send(Command::FindLearningRate)]
                }
                Phase::RangeTest => {
                    self.note(Level::Info, "a range test is running: Esc ends it");
                    Vec::new()
                }
                _ => {
                    self.note(
                        Level::Warning,
                        "the range test runs before training starts (l in Ready): it tries the weights training starts from",
                    );
                    Vec::new()
                }
            },
            Action::CancelRange => vec![Effect::Send(Command::CancelRangeTest)],
            Action::WritePick => {
                let pick = self.range_result().and_then(|test| test.suggestions.pick());
                match pick {
                    Some(pick) => {
                        self.range = None;
                        vec![Effect::WriteRate(pick.learning_rate)]
                    }
                    None => {
                        self.note(
                            Level::Warning,
                            "no suggestion to write: config.toml is left as it was (Esc puts the curve away)",
                        );
                        Vec::new()
                    }
                }
            }
            Action::DismissRange => {
                self.range = None;
                self.note(Level::Info, "range test put away: config.toml is as it was");
                Vec::new()
            }
            Action::Start => match self.phase {
                Phase::Ready => vec![Effect::Send(Command::Start)],
                Phase::Paused(_) => vec![Effect::Send(Command::Resume)],
                _ => Vec::new(),
            },
            Action::TogglePause => match self.phase {
                Phase::Training | Phase::Evaluating => vec![Effect::Send(Command::Pause)],
                Phase::Paused(_) => vec![Effect::Send(Command::Resume)],
                Phase::Ready => vec![Effect::Send(Command::Start)],
                _ => Vec::new(),
            },
            Action::Save => {
                if self.phase.is_running() {
                    self.note(Level::Info, "saving a checkpoint...");
                    vec![Effect::Send(Command::Save)]
                } else {
                    self.note(Level::Warning, "nothing to save: training has not started");
                    Vec::new()
                }
            }
            Action::Stop => {
                if self.phase.is_running() {
                    self.confirm = Some(Confirm::Stop);
                }
                Vec::new()
            }
            Action::Quit => {
                if self.phase.is_running() {
                    self.confirm = Some(Confirm::Quit);
                    Vec::new()
                } else if self.phase == Phase::Stopping {
                    self.quit_when_finished = true;
                    Vec::new()
                } else {
                    self.quit_idle()
                }
            }
            Action::Interrupt => {
                self.interrupt(Line::info("Ctrl-C: saving a checkpoint, then quitting"))
            }
            Action::Yes => match self.confirm.take() {
                Some(confirm) if self.phase.is_running() => {
                    self.quit_when_finished = confirm == Confirm::Quit;
                    self.phase = Phase::Stopping;
                    self.note(
                        Level::Info,
                        "stopping: finishing the current batch and saving a checkpoint",
                    );
                    vec![Effect::Send(Command::Stop)]
                }
                Some(Confirm::Quit) => self.quit_idle(),
                _ => Vec::new(),
            },
            Action::No => {
                self.confirm = None;
                Vec::new()
            }
        }
    }

    /// Quitting when no training runs: a worker still waiting in Ready is told to stop.
    /// Ctrl-C, or a signal: stop and save a checkpoint if training, then quit without asking.
    /// `line` says so (while training).
    pub(super) fn interrupt(&mut self, line: Line) -> Vec<Effect> {
        self.confirm = None;
        if self.phase.is_running() {
            self.quit_when_finished = true;
            self.phase = Phase::Stopping;
            self.note(line.level, line.text);
            vec![Effect::Send(Command::Stop)]
        } else if self.phase == Phase::Stopping {
            self.quit_when_finished = true;
            Vec::new()
        } else {
            self.quit_idle()
        }
    }

    fn quit_idle(&mut self) -> Vec<Effect> {
        match self.phase {
            Phase::Ready | Phase::RangeTest | Phase::Preparing(_) => {
                vec![Effect::Send(Command::Stop), Effect::Quit]
            }
            _ => vec![Effect::Quit],
        }
    }
}
