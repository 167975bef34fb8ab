//! Two or more runs side by side, computed, not printed (`compare` prints it, `plot` takes its
//! legends): the settings that differ between them (where each started, and what changed live),
//! and their test accuracy at the same places on the epoch axis, read off each run's test curve
//! between its tests ([`Metrics::test_accuracy_at`]), so runs tested on different schedules
//! still line up. A branch compared with its parent is lined up from the branch point on:
//! before it, the branch's history is its parent's.

use super::{RunSummary, is_bookkeeping, setting_value, short_key};
use crate::config::Config;
use crate::curves::Metrics;

/// The most places compared; the step between them grows until they fit.
const MAX_POSITIONS: usize = 12;
/// Steps between compared places, in epochs, finest first.
const STEPS: [f64; 8] = [0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 25.0];

/// One setting across the runs.
#[derive(Debug, Clone, PartialEq)]
pub struct SettingRow {
    /// `section.key`, as in config.toml.
    pub key: String,
    /// Per run: the value at its start, then each live change (`0.1 → 0.02@1.40`); `None` when
    /// the run's settings are not known (a run of an earlier version without its config.toml).
    pub values: Vec<Option<String>>,
}

/// One run's column: the run as listed, and what the comparison adds.
#[derive(Debug, Clone)]
pub struct Column {
    pub run: RunSummary,
    /// `branch of <id> at epoch 1.50`, for a branch.
    pub branch: Option<String>,
    /// What sets it apart from the others, in few words (`lr 0.1, batch 64`), for legends.
    pub differs: String,
}

/// Runs side by side.
#[derive(Debug, Clone)]
pub struct Comparison {
    pub columns: Vec<Column>,
    /// The settings that differ between the runs, at the start or live.
    pub settings: Vec<SettingRow>,
    /// Places on the epoch axis every run was tested around, evenly spaced.
    pub positions: Vec<f64>,
    /// Per position, per run: the test accuracy there.
    pub accuracy_at: Vec<Vec<Option<f64>>>,
    /// Where the compared stretch starts because a branch is compared with its parent.
    pub aligned_from: Option<f64>,
}

impl Comparison {
    /// `20261202-103551 (lr 0.1)`: a run's id and what sets it apart, for a legend.
    pub fn legend(&self, index: usize) -> String {
        let column = &self.columns[index];
        if column.differs.is_empty() {
            column.run.id.clone()
        } else {
            format!("{} ({})", column.run.id, column.differs)
        }
    }
}

/// Compares `runs` (each summary with its metrics.csv read).
pub fn compare(runs: &[(RunSummary, Metrics)]) -> Comparison {
    let settings = differing_settings(runs);
    let ids: Vec<&str> = runs.iter().map(|(run, _)| run.id.as_str()).collect();
    // A branch whose parent is among the runs is compared from where it left the parent.
    let aligned_from = runs
        .iter()
        .filter_map(|(run, _)| run.parent.as_ref())
        .filter(|parent| ids.contains(&parent.run_id.as_str()))
        .map(|parent| parent.position)
        .reduce(f64::max);
    let metrics: Vec<&Metrics> = runs.iter().map(|(_, metrics)| metrics).collect();
    let positions = common_positions(&metrics, aligned_from);
    let accuracy_at = positions
        .iter()
        .map(|&position| {
            runs.iter()
                .map(|(_, metrics)| metrics.test_accuracy_at(position))
                .collect()
        })
        .collect();
    let columns = runs
        .iter()
        .enumerate()
        .map(|(index, (run, _))| Column {
            branch: run.parent.as_ref().map(|parent| {
                format!(
                    "branch of {} at epoch {:.2}",
                    parent.run_id, parent.position
                )
            }),
            differs: differs_text(&settings, index),
            run: run.clone(),
        })
        .collect();
    Comparison {
        columns,
        settings,
        positions,
        accuracy_at,
        aligned_from,
    }
}

/// The settings that differ between the runs' start configs, then those changed live in any.
fn differing_settings(runs: &[(RunSummary, Metrics)]) -> Vec<SettingRow> {
    let configs: Vec<Option<&Config>> = runs.iter().map(|(run, _)| run.config.as_ref()).collect();
    let mut keys: Vec<String> = Vec::new();
    let mut add = |key: &str| {
        if !keys.iter().any(|known| known == key) {
            keys.push(key.to_string());
        }
    };
    if let Some(base) = configs.iter().flatten().next() {
        for other in configs.iter().flatten() {
            let diff = base.diff(other);
            for change in diff.live.iter().chain(&diff.restart) {
                add(&change.key);
            }
        }
    }
    for (run, _) in runs {
        for change in &run.live_changes {
            add(&change.key);
        }
    }
    // The profile first: the other values are read against it.
    keys.sort_by_key(|key| key != "profile");
    keys.into_iter()
        .map(|key| SettingRow {
            values: runs
                .iter()
                .map(|(run, _)| {
                    let start = setting_value(&run.config.as_ref()?.value_of(&key)?);
                    let changes = run
                        .live_changes
                        .iter()
                        .filter(|change| change.key == key)
                        .map(|change| {
                            format!(" → {}@{:.2}", setting_value(&change.new), change.position)
                        });
                    Some(std::iter::once(start).chain(changes).collect())
                })
                .collect(),
            key,
        })
        .collect()
}

/// `lr 0.1, batch 64`: run `index`'s values of the differing settings that bear on training.
fn differs_text(settings: &[SettingRow], index: usize) -> String {
    settings
        .iter()
        .filter(|row| !is_bookkeeping(&row.key))
        .filter_map(|row| {
            let value = row.values[index].as_deref()?;
            Some(format!(
                "{} {}",
                short_key(&row.key),
                value.replace(' ', "")
            ))
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Places inside the stretch every run's test curve covers (from `from` on, when given), at
/// most [`MAX_POSITIONS`] of them: the places the runs were all tested at when they share a test
/// schedule ([`shared_tests`]; every second, fourth, ... of them when there are too many), else
/// evenly spaced on round multiples of the finest of [`STEPS`] that fits.
///
/// Shared tests are listed where they were made (0.2533, not 0.25, for a test every quarter of
/// 150 batches, after batch 38): the accuracy shown there is then a test's, not a line read
/// between two, and the place agrees with the `@0.25` of `runs`' BEST TEST.
fn common_positions(metrics: &[&Metrics], from: Option<f64>) -> Vec<f64> {
    let mut start = from.unwrap_or(f64::NEG_INFINITY);
    let mut end = f64::INFINITY;
    for metrics in metrics {
        let (_, accuracies) = metrics.test_curves();
        let (Some(first), Some(last)) = (accuracies.first(), accuracies.last()) else {
            return Vec::new();
        };
        start = start.max(first.0);
        end = end.min(last.0);
    }
    if !(start.is_finite() && end.is_finite()) || start > end {
        return Vec::new();
    }
    if let Some(tests) = shared_tests(metrics, (start, end)) {
        for every in SCHEDULE_MULTIPLES {
            // Counted back from the last, so that the stretch's end (often an epoch's) stays.
            let kept: Vec<f64> = tests.iter().rev().step_by(every).rev().copied().collect();
            if kept.len() <= MAX_POSITIONS {
                return kept;
            }
        }
    }
    let places = |step: f64| {
        let first = ((start - EPSILON) / step).ceil() as i64;
        let last = ((end + EPSILON) / step).floor() as i64;
        // Rounded so that 3 * 0.1 is 0.3 and is read off a test at 0.3.
        let places: Vec<f64> = (first..=last)
            .map(|k| (k as f64 * step * 1e6).round() / 1e6)
            .map(|position| position.clamp(start, end))
            .collect();
        places
    };
    for step in STEPS {
        let places = places(step);
        if places.len() > MAX_POSITIONS {
            continue;
        }
        if places.is_empty() {
            break;
        }
        return places;
    }
    // The stretch holds no round place (or is a single test): its two ends.
    let mut ends = vec![start];
    if end > start {
        ends.push(end);
    }
    ends
}

/// Below this, two places on the epoch axis are the same.
const EPSILON: f64 = 1e-9;
/// Two tests of different runs within this of each other are at the same place: runs that
/// follow the same schedule compute the same position from the same batch counts.
const SAME_PLACE: f64 = 1e-6;
/// Of a shared schedule's tests, every one, every second, ... is kept, the finest that fits.
const SCHEDULE_MULTIPLES: [usize; 9] = [1, 2, 4, 10, 20, 40, 100, 200, 400];

/// The places inside `stretch` where every run was tested, when the runs share a test schedule:
/// each run's tests inside it are at those places (but for its last, where a stop may have put
/// one), and there are three or more of them (two say less than the 0.1 grid). Runs that test
/// every quarter epoch of the same number of batches share one, whether a quarter is a whole
/// number of batches (0.25, 0.5, ...) or not (0.2533, 0.5067, 0.76, 1: the first batch
/// boundaries past each quarter); runs that test every 0.25 and every 0.1 epoch, or that cut
/// their epochs into other batch counts, share none.
fn shared_tests(metrics: &[&Metrics], (start, end): (f64, f64)) -> Option<Vec<f64>> {
    let inside: Vec<Vec<f64>> = metrics
        .iter()
        .map(|metrics| {
            metrics
                .test_curves()
                .1
                .iter()
                .map(|point| point.0)
                .filter(|&position| position >= start - EPSILON && position <= end + EPSILON)
                .collect()
        })
        .collect();
    let tested_at = |tests: &[f64], place: f64| {
        tests
            .iter()
            .any(|&position| (position - place).abs() < SAME_PLACE)
    };
    let shared: Vec<f64> = inside
        .first()?
        .iter()
        .copied()
        .filter(|&place| inside.iter().all(|tests| tested_at(tests, place)))
        .collect();
    let follows = |tests: &Vec<f64>| {
        let own = &tests[..tests.len().saturating_sub(1)];
        own.iter().all(|&position| tested_at(&shared, position))
    };
    (shared.len() >= 3 && inside.iter().all(follows)).then_some(shared)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::curves::TestRow;

    fn tested(points: &[(f64, f64)]) -> Metrics {
        Metrics {
            tests: points
                .iter()
                .map(|&(position, test_accuracy)| TestRow {
                    position,
                    test_loss: 0.5,
                    test_accuracy,
                })
                .collect(),
            ..Metrics::default()
        }
    }

    #[test]
    fn places_are_round_inside_the_stretch_all_runs_cover() {
        let a = tested(&[(1.5, 0.8), (1.6, 0.82), (2.0, 0.86)]);
        let b = tested(&[(1.0, 0.7), (2.0, 0.9), (3.0, 0.91)]);
        // 1.5 to 2.0 in steps of 0.1.
        let positions = common_positions(&[&a, &b], None);
        assert_eq!(positions, [1.5, 1.6, 1.7, 1.8, 1.9, 2.0]);
        // 0 to 10 epochs: 0.5 would make 21 places, 1.0 makes 11.
        let long = tested(&[(0.0, 0.1), (10.0, 0.9)]);
        let positions = common_positions(&[&long], None);
        assert_eq!(positions.len(), 11);
        assert_eq!(positions[1], 1.0);
        // From a branch point on only.
        let positions = common_positions(&[&a, &b], Some(1.75));
        assert_eq!(positions, [1.8, 1.9, 2.0]);
        // Stretches that do not meet: nothing to compare.
        let late = tested(&[(2.5, 0.9), (3.0, 0.91)]);
        assert!(common_positions(&[&a, &late], None).is_empty());
    }

    /// Tests every `step` epoch from `from` to `to`, and one more at `then` when given.
    fn every(step: f64, from: f64, to: f64, then: Option<f64>) -> Metrics {
        let count = ((to - from) / step).round() as usize;
        let mut points: Vec<(f64, f64)> = (0..=count)
            .map(|k| (from + k as f64 * step, 0.5 + k as f64 * 0.01))
            .collect();
        points.extend(then.map(|position| (position, 0.9)));
        tested(&points)
    }

    #[test]
    fn places_follow_a_test_schedule_the_runs_share() {
        // Every 0.25 epoch, one from 0.25 and one from 0.5 and stopped with a test at 1.9.
        let a = every(0.25, 0.25, 2.0, None);
        let b = every(0.25, 0.5, 1.75, Some(1.9));
        assert_eq!(
            shared_tests(&[&a, &b], (0.5, 1.9)),
            Some(vec![0.5, 0.75, 1.0, 1.25, 1.5, 1.75])
        );
        assert_eq!(
            common_positions(&[&a, &b], None),
            [0.5, 0.75, 1.0, 1.25, 1.5, 1.75]
        );
        // Too many tests for one place each: every second, then every fourth.
        let long = every(0.25, 0.25, 5.0, None);
        assert_eq!(
            common_positions(&[&long, &long], None),
            [0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 3.5, 4.0, 4.5, 5.0]
        );
        // Schedules that differ, or too few tests to say: the 0.1 grid.
        let tenths = every(0.1, 1.5, 2.0, None);
        assert_eq!(shared_tests(&[&a, &tenths], (1.5, 2.0)), None);
        assert_eq!(
            common_positions(&[&a, &tenths], None),
            [1.5, 1.6, 1.7, 1.8, 1.9, 2.0]
        );
        let two = tested(&[(1.0, 0.7), (2.0, 0.8)]);
        assert_eq!(shared_tests(&[&a, &two], (1.0, 2.0)), None);
        // Every test of one run also a test of the other is not enough: each its own.
        let halves = every(0.5, 0.5, 2.0, None);
        assert_eq!(shared_tests(&[&halves, &a], (0.5, 2.0)), None);
    }

    /// Tests as training makes them on 19,200 images in batches of `batch`: every
    /// `round(0.25 * batches)` batches inside an epoch (a quarter is not a whole batch), and at
    /// each epoch end, for `epochs` epochs.
    fn at_batch_boundaries(batch: usize, epochs: usize) -> Metrics {
        let batches = 19_200usize.div_ceil(batch);
        let interval = (0.25 * batches as f64).round() as usize;
        let mut points = Vec::new();
        for epoch in 0..epochs {
            for k in (interval..batches).step_by(interval) {
                points.push((epoch as f64 + k as f64 / batches as f64, 0.5));
            }
            points.push(((epoch + 1) as f64, 0.6));
        }
        tested(&points)
    }

    #[test]
    fn places_follow_the_batch_boundaries_the_runs_share() {
        // 150 batches an epoch, a test every 38: at 0.2533, 0.5067, 0.76 and 1.
        let a = at_batch_boundaries(128, 1);
        let b = at_batch_boundaries(128, 1);
        let positions = common_positions(&[&a, &b], None);
        let expected = [38.0 / 150.0, 76.0 / 150.0, 114.0 / 150.0, 1.0];
        assert_eq!(positions, expected);
        // Every second test of a longer run, counted back from the last: the epoch ends and the
        // tests halfway through.
        let long = at_batch_boundaries(128, 4);
        let positions = common_positions(&[&long, &long], None);
        assert_eq!(positions.len(), 8, "{positions:?}");
        assert_eq!(positions[..2], [76.0 / 150.0, 1.0]);
        assert_eq!(positions.last(), Some(&4.0));
        // Another batch size tests at other batches (every 75 of 300): not one schedule.
        let halves = at_batch_boundaries(64, 1);
        assert_eq!(
            common_positions(&[&a, &halves], None),
            [0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0]
        );
    }
}
