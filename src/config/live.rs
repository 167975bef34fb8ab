//! What may change while training runs. One table, [`LIVE`], says which keys are live, who
//! applies each (the training worker at its next batch, or the front end), and how its value
//! is copied from a freshly loaded config; [`Config::diff`], [`Config::apply_live`] and the
//! worker all read it, so a key cannot be live in one place and not in another.

use serde::Serialize;

use super::Config;

/// Who puts a live key's new value into effect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applier {
    /// The training worker, at the next batch (learning rate, run length, checkpoints...).
    Worker,
    /// The dashboard or the headless printer (how often they draw or print).
    FrontEnd,
}

/// One setting that may change while training runs.
pub struct LiveKey {
    /// `section.key`, as written in config.toml.
    pub key: &'static str,
    pub applier: Applier,
    /// Copies this key's value from the second config into the first.
    pub copy: fn(&mut Config, &Config),
}

/// Every live key. The rest need a restart (they shape the model, the data or the batches).
pub const LIVE: &[LiveKey] = &[
    LiveKey {
        key: "training.learning_rate",
        applier: Applier::Worker,
        copy: |to, from| to.training.learning_rate = from.training.learning_rate,
    },
    LiveKey {
        key: "training.momentum",
        applier: Applier::Worker,
        copy: |to, from| to.training.momentum = from.training.momentum,
    },
    LiveKey {
        key: "training.nesterov",
        applier: Applier::Worker,
        copy: |to, from| to.training.nesterov = from.training.nesterov,
    },
    LiveKey {
        key: "training.weight_decay",
        applier: Applier::Worker,
        copy: |to, from| to.training.weight_decay = from.training.weight_decay,
    },
    LiveKey {
        key: "training.epochs",
        applier: Applier::Worker,
        copy: |to, from| to.training.epochs = from.training.epochs,
    },
    LiveKey {
        key: "training.target_accuracy",
        applier: Applier::Worker,
        copy: |to, from| to.training.target_accuracy = from.training.target_accuracy,
    },
    LiveKey {
        key: "checkpoint.interval_minutes",
        applier: Applier::Worker,
        copy: |to, from| to.checkpoint.interval_minutes = from.checkpoint.interval_minutes,
    },
    LiveKey {
        key: "checkpoint.keep",
        applier: Applier::Worker,
        copy: |to, from| to.checkpoint.keep = from.checkpoint.keep,
    },
    LiveKey {
        key: "checkpoint.keep_at_end",
        applier: Applier::Worker,
        copy: |to, from| to.checkpoint.keep_at_end = from.checkpoint.keep_at_end,
    },
    // Read by the worker when a range test starts: an edit applies to the next test.
    LiveKey {
        key: "lr_find.start",
        applier: Applier::Worker,
        copy: |to, from| to.lr_find.start = from.lr_find.start,
    },
    LiveKey {
        key: "lr_find.end",
        applier: Applier::Worker,
        copy: |to, from| to.lr_find.end = from.lr_find.end,
    },
    LiveKey {
        key: "lr_find.steps",
        applier: Applier::Worker,
        copy: |to, from| to.lr_find.steps = from.lr_find.steps,
    },
    LiveKey {
        key: "ui.refresh_hz",
        applier: Applier::FrontEnd,
        copy: |to, from| to.ui.refresh_hz = from.ui.refresh_hz,
    },
    LiveKey {
        key: "ui.headless_interval_seconds",
        applier: Applier::FrontEnd,
        copy: |to, from| to.ui.headless_interval_seconds = from.ui.headless_interval_seconds,
    },
];

impl LiveKey {
    /// The live key named `key`, if it is one.
    pub fn named(key: &str) -> Option<&'static LiveKey> {
        LIVE.iter().find(|live| live.key == key)
    }
}

/// One setting whose value differs between two configs, as written in config.toml.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Change {
    pub key: String,
    pub old: String,
    pub new: String,
}

impl std::fmt::Display for Change {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {} -> {}", self.key, self.old, self.new)
    }
}

/// What a saved config.toml changes against the running config.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConfigDiff {
    pub live: Vec<Change>,
    pub restart: Vec<Change>,
}

impl ConfigDiff {
    pub fn is_empty(&self) -> bool {
        self.live.is_empty() && self.restart.is_empty()
    }
}

impl Config {
    /// Compares this (running) config with a freshly loaded one: which live values change, and
    /// which restart-only values differ (they apply at the next start).
    pub fn diff(&self, new: &Config) -> ConfigDiff {
        let mut diff = ConfigDiff::default();
        for ((key, old), (_, new)) in flatten(self).into_iter().zip(flatten(new)) {
            if old != new {
                let live = LiveKey::named(&key).is_some();
                let change = Change { key, old, new };
                if live {
                    diff.live.push(change);
                } else {
                    diff.restart.push(change);
                }
            }
        }
        diff
    }

    /// Copies the live values of `new` that `applier` puts into effect (every live value for
    /// `None`) into `self`, and returns what changed. Restart-only values are left alone.
    pub fn apply_live(&mut self, new: &Config, applier: Option<Applier>) -> Vec<Change> {
        let before = flatten(self);
        for live in LIVE {
            if applier.is_none_or(|applier| applier == live.applier) {
                (live.copy)(self, new);
            }
        }
        before
            .into_iter()
            .zip(flatten(self))
            .filter(|((_, old), (_, new))| old != new)
            .map(|((key, old), (_, new))| Change { key, old, new })
            .collect()
    }

    /// Every `section.key`, in a fixed order: by section, then by key.
    pub fn keys() -> Vec<String> {
        flatten(&Config::default())
            .into_iter()
            .map(|(key, _)| key)
            .collect()
    }

    /// The value of `section.key` as config.toml writes it.
    pub fn value_of(&self, key: &str) -> Option<String> {
        flatten(self)
            .into_iter()
            .find_map(|(name, value)| (name == key).then_some(value))
    }

    pub fn resume_incompatibility(&self, other: &Config) -> Option<String> {
        let checks: [(&str, String, String); 6] = [
            (
                "training.optimizer",
                self.training.optimizer.to_string(),
                other.training.optimizer.to_string(),
            ),
            (
                "model.resize",
                self.model.resize.to_string(),
                other.model.resize.to_string(),
            ),
            (
                "model.dropout",
                self.model.dropout.to_string(),
                other.model.dropout.to_string(),
            ),
            (
                "training.batch_size",
                self.training.batch_size.to_string(),
                other.training.batch_size.to_string(),
            ),
            (
                "training.seed",
                self.training.seed.to_string(),
                other.training.seed.to_string(),
            ),
            (
                "data.train_limit",
                self.data.train_limit.to_string(),
                other.data.train_limit.to_string(),
            ),
        ];
        checks
            .into_iter()
            .find(|(_, saved, now)| saved != now)
            .map(|(key, saved, now)| {
                format!("the checkpoint was trained with {key} = {saved}, the config says {now}")
            })
    }
}

/// `section.key = value` for every setting, in a fixed order.
fn flatten(config: &Config) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let Ok(mut table) = toml::Table::try_from(config) else {
        return out;
    };
    // [lr_find] is left out of what is written while it has its defaults (see
    // `Config::lr_find`); comparing two configs needs every key on both sides.
    if !table.contains_key("lr_find")
        && let Ok(lr_find) = toml::Value::try_from(&config.lr_find)
    {
        table.insert("lr_find".to_string(), lr_find);
    }
    for (section, value) in &table {
        match value {
            toml::Value::Table(inner) => {
                for (key, value) in inner {
                    out.push((format!("{section}.{key}"), value.to_string()));
                }
            }
            other => out.push((section.clone(), other.to_string())),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lr_find_is_written_only_when_set_and_its_edits_are_still_seen() {
        let base = Config::default();
        let written = toml::to_string(&base).expect("serializes");
        assert!(!written.contains("lr_find"), "{written}");
        let mut edited = base.clone();
        edited.lr_find.steps = 40;
        assert!(
            toml::to_string(&edited)
                .expect("serializes")
                .contains("[lr_find]")
        );
        let diff = base.diff(&edited);
        assert_eq!(
            diff.live,
            vec![Change {
                key: "lr_find.steps".to_string(),
                old: "100".to_string(),
                new: "40".to_string(),
            }]
        );
        assert!(Config::keys().contains(&"lr_find.steps".to_string()));
        assert_eq!(edited.diff(&base).live.len(), 1);
    }

    #[test]
    fn every_live_key_names_a_setting_and_copies_only_itself() {
        let base = Config::default();
        for live in LIVE {
            assert!(
                base.value_of(live.key).is_some(),
                "{} is no setting",
                live.key
            );
            // A config in which every setting differs from the base.
            let mut other = base.clone();
            other.training.learning_rate *= 3.0;
            other.training.momentum = 0.5;
            other.training.nesterov = !other.training.nesterov;
            other.training.weight_decay += 0.01;
            other.training.epochs += 1.0;
            other.training.target_accuracy = 0.5;
            other.checkpoint.interval_minutes += 1.0;
            other.checkpoint.keep += 1;
            other.checkpoint.keep_at_end += 1;
            other.ui.refresh_hz += 1.0;
            other.ui.headless_interval_seconds += 1.0;
            other.lr_find.start *= 10.0;
            other.lr_find.end /= 2.0;
            other.lr_find.steps += 1;
            let mut copied = base.clone();
            (live.copy)(&mut copied, &other);
            let diff = base.diff(&copied);
            assert!(diff.restart.is_empty());
            let keys: Vec<&str> = diff.live.iter().map(|c| c.key.as_str()).collect();
            assert_eq!(keys, [live.key], "copying {} changed {keys:?}", live.key);
        }
    }

    #[test]
    fn apply_live_by_applier_changes_only_that_appliers_keys() {
        let base = Config::default();
        let mut new = base.clone();
        new.training.learning_rate = 0.123;
        new.ui.refresh_hz = 3.0;
        new.model.resize = 96;
        let mut worker = base.clone();
        let changes = worker.apply_live(&new, Some(Applier::Worker));
        assert_eq!(changes.len(), 1);
        assert_eq!(changes[0].key, "training.learning_rate");
        assert_eq!(worker.ui.refresh_hz, base.ui.refresh_hz);
        assert_eq!(worker.model.resize, base.model.resize);
        let mut all = base.clone();
        let changes = all.apply_live(&new, None);
        assert_eq!(changes.len(), 2);
        assert_eq!(
            all.model.resize, base.model.resize,
            "restart-only keys stay"
        );
    }
}
