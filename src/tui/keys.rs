//! The key map, one table ([`BINDINGS`]): which key means which [`Action`] in which state,
//! and how the help overlay words it. The key map reads it, the help overlay draws it, and a
//! test checks that the README's key table names the same keys. Below it, what each action
//! does: the state it changes and the [`Effect`]s it asks the event loop for.

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

use super::app::{Action, App, BodyView, Confirm, Effect, Phase, SideView};
use super::picker::{Picker, Row};
use crate::report::{Level, Line};
use crate::runs::standing::RunRef;
use crate::train::Command;

/// Which keys are read: a question asked, the help shown or the overlay picker open each take
/// the keys for themselves; otherwise the dashboard's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Context {
    Confirm,
    Help,
    Picker,
    Dashboard,
}

/// A key as the table names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Key {
    Plain(KeyCode),
    Control(char),
}

/// Keys, what they do where, and the help's words for them.
pub struct Binding {
    pub context: Context,
    pub keys: &'static [Key],
    /// How the help writes the keys (`q / Esc`).
    pub label: &'static str,
    /// The help's lines for it; none for a binding the help does not list on a line of its own
    /// (a question's answers are in the question, the range test's Enter and Esc in `l`'s).
    pub help: &'static [&'static str],
    /// The action for the key pressed in the current state; `None` where it means nothing
    /// now, and the next binding of the same key is asked.
    pub action: fn(&App, KeyCode) -> Option<Action>,
}

const fn ch(c: char) -> Key {
    Key::Plain(KeyCode::Char(c))
}

use Context::{Dashboard, Help, Picker as InPicker};
use Key::Plain;

/// Every key of the dashboard, in the order they are asked: the first binding of a key whose
/// action applies now wins.
pub const BINDINGS: &[Binding] = &[
    Binding {
        context: Context::Confirm,
        keys: &[ch('y'), ch('Y'), Plain(KeyCode::Enter)],
        label: "y / Enter",
        help: &[],
        action: |_, _| Some(Action::Yes),
    },
    Binding {
        context: Context::Confirm,
        keys: &[ch('n'), ch('N'), Plain(KeyCode::Esc)],
        label: "n / Esc",
        help: &[],
        action: |_, _| Some(Action::No),
    },
    Binding {
        context: Help,
        keys: &[ch('?'), ch('h'), Plain(KeyCode::Esc)],
        label: "? / h / Esc",
        help: &[],
        action: |_, _| Some(Action::ToggleHelp),
    },
    Binding {
        context: Help,
        keys: &[ch('q')],
        label: "q",
        help: &[],
        action: |_, _| Some(Action::Quit),
    },
    Binding {
        context: InPicker,
        keys: &[Plain(KeyCode::Up), ch('k'), Plain(KeyCode::Down), ch('j')],
        label: "Up / Down",
        help: &["choose a run (also k / j)"],
        action: |_, code| {
            let up = matches!(code, KeyCode::Up | KeyCode::Char('k'));
            Some(Action::PickerMove(if up { -1 } else { 1 }))
        },
    },
    Binding {
        context: InPicker,
        keys: &[Plain(KeyCode::PageUp), Plain(KeyCode::PageDown)],
        label: "PgUp / PgDn",
        help: &["ten runs up or down"],
        action: |_, code| {
            Some(Action::PickerMove(if code == KeyCode::PageUp {
                -10
            } else {
                10
            }))
        },
    },
    Binding {
        context: InPicker,
        keys: &[Plain(KeyCode::Enter)],
        label: "Enter",
        help: &["draw the chosen run behind this one"],
        action: |_, _| Some(Action::PickerChoose),
    },
    Binding {
        context: InPicker,
        keys: &[ch('O'), Plain(KeyCode::Backspace)],
        label: "O / Bksp",
        help: &["draw no overlay"],
        action: |_, _| Some(Action::ClearOverlay),
    },
    Binding {
        context: InPicker,
        keys: &[Plain(KeyCode::Esc), ch('o')],
        label: "Esc / o",
        help: &["close the picker"],
        action: |_, _| Some(Action::TogglePicker),
    },
    Binding {
        context: InPicker,
        keys: &[ch('q')],
        label: "q",
        help: &["quit (asks while training)"],
        action: |_, _| Some(Action::Quit),
    },
    // A range test takes Esc to end it; its result takes Enter and Esc.
    Binding {
        context: Dashboard,
        keys: &[Plain(KeyCode::Esc)],
        label: "Esc",
        help: &[],
        action: |app, _| (app.phase == Phase::RangeTest).then_some(Action::CancelRange),
    },
    Binding {
        context: Dashboard,
        keys: &[Plain(KeyCode::Enter)],
        label: "Enter",
        help: &[],
        action: |app, _| {
            (app.phase == Phase::Ready && app.range_result().is_some()).then_some(Action::WritePick)
        },
    },
    Binding {
        context: Dashboard,
        keys: &[Plain(KeyCode::Esc)],
        label: "Esc",
        help: &[],
        action: |app, _| app.range_result().is_some().then_some(Action::DismissRange),
    },
    Binding {
        context: Dashboard,
        keys: &[ch('s'), Plain(KeyCode::Enter)],
        label: "s / Enter",
        help: &["start training (or resume when paused)"],
        action: |_, _| Some(Action::Start),
    },
    Binding {
        context: Dashboard,
        keys: &[ch('l')],
        label: "l",
        help: &[
            "before training: a learning-rate range test, drawn",
            "live; Enter writes its pick into config.toml, Esc not",
        ],
        action: |_, _| Some(Action::FindRate),
    },
    Binding {
        context: Dashboard,
        keys: &[ch('p'), ch(' ')],
        label: "p / Space",
        help: &["pause / resume between batches"],
        action: |_, _| Some(Action::TogglePause),
    },
    Binding {
        context: Dashboard,
        keys: &[ch('c')],
        label: "c",
        help: &["save a checkpoint now"],
        action: |_, _| Some(Action::Save),
    },
    Binding {
        context: Dashboard,
        keys: &[ch('x')],
        label: "x",
        help: &["stop: save a checkpoint and end the run (asks first)"],
        action: |_, _| Some(Action::Stop),
    },
    Binding {
        context: Dashboard,
        keys: &[ch('q'), Plain(KeyCode::Esc)],
        label: "q / Esc",
        help: &["quit (asks while training; saves first)"],
        action: |_, _| Some(Action::Quit),
    },
    Binding {
        context: Dashboard,
        keys: &[ch('?'), ch('h')],
        label: "? / h",
        help: &["this help"],
        action: |_, _| Some(Action::ToggleHelp),
    },
    Binding {
        context: Dashboard,
        keys: &[ch('v'), Plain(KeyCode::Tab)],
        label: "v / Tab",
        help: &[
            "switch the right panel: layers / per-class results",
            "(below 116x36 also: throughput and configuration)",
        ],
        action: |_, _| Some(Action::ToggleView),
    },
    Binding {
        context: Dashboard,
        keys: &[ch('g')],
        label: "g",
        help: &["test images with the current predictions"],
        action: |_, _| Some(Action::Show(BodyView::Gallery)),
    },
    Binding {
        context: Dashboard,
        keys: &[ch('f')],
        label: "f",
        help: &["the 96 first-layer filters"],
        action: |_, _| Some(Action::Show(BodyView::Filters)),
    },
    Binding {
        context: Dashboard,
        keys: &[ch('d')],
        label: "d",
        help: &["back to the dashboard"],
        action: |_, _| Some(Action::Show(BodyView::Dashboard)),
    },
    Binding {
        context: Dashboard,
        keys: &[
            Plain(KeyCode::Left),
            ch('['),
            Plain(KeyCode::PageUp),
            Plain(KeyCode::Right),
            ch(']'),
            Plain(KeyCode::PageDown),
        ],
        label: "<- / ->",
        help: &["page through the images or filters ([ ] PgUp PgDn too)"],
        action: |app, code| {
            let back = matches!(code, KeyCode::Left | KeyCode::Char('[') | KeyCode::PageUp);
            (app.body != BodyView::Dashboard).then_some(Action::Page(if back { -1 } else { 1 }))
        },
    },
    Binding {
        context: Dashboard,
        keys: &[ch('o')],
        label: "o",
        help: &["overlay: draw an earlier run's curves behind these"],
        action: |_, _| Some(Action::TogglePicker),
    },
    Binding {
        context: Dashboard,
        keys: &[ch('O')],
        label: "O",
        help: &["no overlay"],
        action: |app, _| app.overlay.is_some().then_some(Action::ClearOverlay),
    },
    Binding {
        context: Dashboard,
        keys: &[Key::Control('c')],
        label: "Ctrl-C",
        help: &["save a checkpoint and quit at once"],
        action: |_, _| Some(Action::Interrupt),
    },
];

impl Key {
    fn matches(self, key: &KeyEvent) -> bool {
        match self {
            Key::Control(c) => {
                key.modifiers.contains(KeyModifiers::CONTROL) && key.code == KeyCode::Char(c)
            }
            // Ctrl with another key means nothing (Shift gives the capitals).
            Key::Plain(code) => !key.modifiers.contains(KeyModifiers::CONTROL) && key.code == code,
        }
    }
}

impl App {
    /// Whose keys are read now.
    pub fn key_context(&self) -> Context {
        if self.confirm.is_some() {
            Context::Confirm
        } else if self.help {
            Context::Help
        } else if self.picker.is_some() {
            Context::Picker
        } else {
            Context::Dashboard
        }
    }

    /// The key map: the first binding in [`BINDINGS`] of this key, in the current context (or
    /// Ctrl-C, in every one), whose action applies now. Keys that mean nothing in the current
    /// state give `None`.
    pub fn action_for(&self, key: KeyEvent) -> Option<Action> {
        if key.kind == KeyEventKind::Release {
            return None;
        }
        let context = self.key_context();
        BINDINGS
            .iter()
            .filter(|binding| {
                binding.context == context || binding.keys.contains(&Key::Control('c'))
            })
            .filter(|binding| binding.keys.iter().any(|k| k.matches(&key)))
            .find_map(|binding| (binding.action)(self, key.code))
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
