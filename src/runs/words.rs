//! Runs in few words, for the `runs` table, `compare` and plot legends: times, and settings with
//! short names (`lr=0.1`, `lr 0.1→0.02@1.40`). Sizes and durations are in [`crate::units`].

use std::time::SystemTime;

use crate::config::Change;
use crate::train::record::LiveChange;

/// Short names for the settings people change most; any other is its last part
/// (`training.flip` is `flip`).
const SHORT_KEYS: &[(&str, &str)] = &[
    ("training.learning_rate", "lr"),
    ("training.batch_size", "batch"),
    ("training.weight_decay", "wd"),
    ("training.label_smoothing", "smoothing"),
    ("training.warmup_fraction", "warmup"),
    ("training.target_accuracy", "target"),
    ("training.eval_every", "test_every"),
    ("training.eval_from", "test_from"),
    ("data.train_limit", "train_limit"),
    ("data.test_limit", "test_limit"),
];

/// Settings that change where and how a run is kept or shown, not what it learns or how fast:
/// left out of the short text (`runs --json` and `compare` still show them).
const BOOKKEEPING: &[&str] = &[
    "data.dir",
    "data.download",
    "data.url",
    "checkpoint.dir",
    "checkpoint.interval_minutes",
    "checkpoint.keep",
    "training.threads",
    "training.interop_threads",
    "training.log_every",
    "training.eval_batch_size",
    "ui.start",
    "ui.refresh_hz",
    "ui.headless_interval_seconds",
];

/// `lr` for `training.learning_rate`, `flip` for `training.flip`.
pub fn short_key(key: &str) -> &str {
    SHORT_KEYS
        .iter()
        .find(|(long, _)| *long == key)
        .map(|(_, short)| *short)
        .unwrap_or_else(|| key.rsplit('.').next().unwrap_or(key))
}

/// Where a setting comes when settings are listed: those people change most first, in the order
/// of [`SHORT_KEYS`] (the learning rate, the batch size, ...), then the others, after them all.
pub fn key_rank(key: &str) -> usize {
    SHORT_KEYS
        .iter()
        .position(|(long, _)| *long == key)
        .unwrap_or(SHORT_KEYS.len())
}

/// A value as config.toml writes it, without the quotes of a string.
pub fn setting_value(value: &str) -> String {
    value
        .strip_prefix('"')
        .and_then(|inner| inner.strip_suffix('"'))
        .unwrap_or(value)
        .to_string()
}

/// Whether a setting only says where and how the run is kept or shown.
pub fn is_bookkeeping(key: &str) -> bool {
    BOOKKEEPING.contains(&key)
}

/// `lr=0.1 batch=64`: the new values of `changes` that bear on training.
pub fn short_changes(changes: &[Change]) -> String {
    changes
        .iter()
        .filter(|change| !is_bookkeeping(&change.key))
        .map(|change| format!("{}={}", short_key(&change.key), setting_value(&change.new)))
        .collect::<Vec<_>>()
        .join(" ")
}

/// `lr 0.1→0.02@1.40`: a live change and where it applied.
pub fn short_live_change(change: &LiveChange) -> String {
    format!(
        "{} {}→{}@{:.2}",
        short_key(&change.key),
        setting_value(&change.old),
        setting_value(&change.new),
        change.position
    )
}

/// An RFC 3339 time as `2026-12-02 10:35` in UTC (run ids are UTC too).
pub fn started_text(rfc3339: &str) -> String {
    parse_timestamp(rfc3339)
        .map(|time| {
            time.to_zoned(jiff::tz::TimeZone::UTC)
                .strftime("%Y-%m-%d %H:%M")
                .to_string()
        })
        .unwrap_or_else(|| rfc3339.to_string())
}

pub(super) fn parse_timestamp(text: &str) -> Option<jiff::Timestamp> {
    text.parse().ok()
}

/// The time a run id names (`20261202-103551`, with or without a `-1` suffix), RFC 3339.
pub(super) fn started_from_id(id: &str) -> Option<String> {
    let stamp = id.get(..15)?;
    let time = jiff::civil::DateTime::strptime("%Y%m%d-%H%M%S", stamp).ok()?;
    let time = time.to_zoned(jiff::tz::TimeZone::UTC).ok()?.timestamp();
    Some(time.to_string())
}

pub(super) fn system_time_text(time: SystemTime) -> Option<String> {
    let time = jiff::Timestamp::try_from(time).ok()?;
    Some(time.round(jiff::Unit::Second).ok()?.to_string())
}

/// Up to `count` of `ids` that look most like `name`: those containing it, then those sharing
/// the longest beginning with it (at least 4 characters: a date's year).
pub(super) fn nearest(name: &str, ids: &[String], count: usize) -> Vec<String> {
    let shared = |id: &str| {
        id.chars()
            .zip(name.chars())
            .take_while(|(a, b)| a == b)
            .count()
    };
    let mut scored: Vec<(usize, &String)> = ids
        .iter()
        .map(|id| {
            let score = if id.contains(name) {
                usize::MAX
            } else {
                shared(id)
            };
            (score, id)
        })
        .filter(|(score, _)| *score >= 4)
        .collect();
    scored.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| b.1.cmp(a.1)));
    scored
        .into_iter()
        .take(count)
        .map(|(_, id)| id.clone())
        .collect()
}

pub(super) fn nearest_text(nearest: &[String]) -> String {
    if nearest.is_empty() {
        String::new()
    } else {
        format!(" (nearest: {})", nearest.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_read_short() {
        assert_eq!(started_text("2026-12-02T10:35:51Z"), "2026-12-02 10:35");
        assert_eq!(
            started_from_id("20261202-103551-1").as_deref(),
            Some("2026-12-02T10:35:51Z")
        );
        assert_eq!(started_from_id("notes"), None);
    }

    #[test]
    fn settings_are_named_short_and_bookkeeping_left_out() {
        let change = |key: &str, new: &str| Change {
            key: key.into(),
            old: String::new(),
            new: new.into(),
        };
        let changes = [
            change("training.learning_rate", "0.1"),
            change("checkpoint.dir", "\"/tmp/runs\""),
            change("training.device", "\"cpu\""),
            change("training.flip", "false"),
        ];
        assert_eq!(short_changes(&changes), "lr=0.1 device=cpu flip=false");
        let live = LiveChange {
            step: 40,
            position: 1.4,
            key: "training.learning_rate".into(),
            old: "0.1".into(),
            new: "0.02".into(),
        };
        assert_eq!(short_live_change(&live), "lr 0.1→0.02@1.40");
    }

    #[test]
    fn the_nearest_ids_share_the_most() {
        let ids: Vec<String> = ["20261202-103551", "20261202-110000", "20251101-090000"]
            .map(String::from)
            .to_vec();
        assert_eq!(
            nearest("20261202-1035", &ids, 3),
            ["20261202-103551", "20261202-110000"]
        );
        assert_eq!(nearest("103551", &ids, 1), ["20261202-103551"]);
        assert!(nearest("zzz", &ids, 3).is_empty());
    }
}
