//! The learning-rate range test (Leslie Smith, 2015; fastai's `lr_find`): one batch at each
//! learning rate, rising exponentially from `lr_find.start` to `lr_find.end`, the loss smoothed
//! as fastai smooths it, and the test stopped once the smoothed loss exceeds four times its best.
//! The worker runs the batches (`worker/range_test.rs`); this file holds the schedule, the
//! smoothing and the stop rule, and [`suggest`] reads a rate off the curve. Pure arithmetic:
//! nothing here touches a tensor.

pub mod suggest;

use serde::Serialize;

use crate::config::LrFindConfig;
use crate::train::metrics::Ema;
pub use suggest::{Method, Suggestion, Suggestions, suggest};

/// fastai's smoothing of the loss (`Recorder`'s `AvgSmoothLoss(beta=0.98)`), debiased.
pub const SMOOTHING: f64 = 0.98;
/// The test stops once the smoothed loss exceeds this many times its best (fastai's `stop_div`).
pub const DIVERGENCE: f64 = 4.0;

/// Where a range test goes, from the config's `[lr_find]`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct RangeSettings {
    pub start: f64,
    pub end: f64,
    pub steps: usize,
}

impl RangeSettings {
    pub fn of(config: &LrFindConfig) -> RangeSettings {
        RangeSettings {
            start: config.start,
            end: config.end,
            steps: config.steps,
        }
    }

    /// The learning rate of batch `step` (from 0): `start` for the first, `end` for the last
    /// (`steps - 1`), the same ratio between any two neighbours. (fastai's `LRFinder` stops one
    /// ratio short of its end; here the last batch tries the rate the config names.)
    pub fn rate(&self, step: usize) -> f64 {
        let last = self.steps.saturating_sub(1).max(1) as f64;
        self.start * (self.end / self.start).powf(step as f64 / last)
    }
}

/// `rate` to two significant digits, as suggestions are shown and written into config.toml: the
/// test's grid is coarser (100 steps over five decades are 12% apart).
pub fn round_rate(rate: f64) -> f64 {
    format!("{rate:.1e}").parse().unwrap_or(rate)
}

/// One batch of a range test.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct RangePoint {
    /// The batch, from 0.
    pub step: usize,
    pub learning_rate: f64,
    /// This batch's training loss.
    pub loss: f64,
    /// The debiased moving average of the losses so far ([`SMOOTHING`]).
    pub smoothed_loss: f64,
}

/// The span of losses worth drawing, `(bottom, top)`: the points before the last
/// [`suggest::SKIP_END`] (the blow-up that ends a test, which fastai's plot leaves out too)
/// with a margin, so that the descent is not flattened by a loss of thousands. The dashboard and
/// the PNG both draw within it, clamping what lies outside to its edges.
pub fn drawn_loss_range(points: &[RangePoint]) -> (f64, f64) {
    let kept = if points.len() > 2 * suggest::SKIP_END {
        &points[..points.len() - suggest::SKIP_END]
    } else {
        points
    };
    let (low, high) = kept
        .iter()
        .flat_map(|p| [p.loss, p.smoothed_loss])
        .filter(|loss| loss.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(low, high), loss| {
            (low.min(loss), high.max(loss))
        });
    if low > high {
        return (0.0, 1.0);
    }
    let margin = ((high - low) * 0.1).max(0.025);
    ((low - margin).max(0.0), high + margin)
}

/// Why a range test ended.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum RangeEnd {
    /// Every batch up to `lr_find.end` was tried.
    Completed,
    /// The smoothed loss exceeded [`DIVERGENCE`] times its best, `best`.
    Diverged { best: f64 },
    /// A batch's loss was NaN or infinite at this rate; that batch is not a point.
    NonFinite { learning_rate: f64 },
    /// Asked to stop before the end.
    Cancelled,
}

/// A finished range test: its curve, how it ended and what the curve suggests.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RangeTest {
    pub settings: RangeSettings,
    pub points: Vec<RangePoint>,
    pub end: RangeEnd,
    pub suggestions: Suggestions,
}

impl RangeTest {
    pub fn new(settings: RangeSettings, points: Vec<RangePoint>, end: RangeEnd) -> RangeTest {
        let suggestions = suggest(&points, settings.steps);
        RangeTest {
            settings,
            points,
            end,
            suggestions,
        }
    }
}

/// The curve as the batches arrive: smooths each loss and says when the test is over.
#[derive(Debug, Clone)]
pub struct Recorder {
    settings: RangeSettings,
    smoothed: Ema,
    best: f64,
    points: Vec<RangePoint>,
}

impl Recorder {
    pub fn new(settings: RangeSettings) -> Recorder {
        Recorder {
            settings,
            smoothed: Ema::debiased(SMOOTHING),
            best: f64::INFINITY,
            points: Vec::new(),
        }
    }

    /// The batch to run next, from 0.
    pub fn next_step(&self) -> usize {
        self.points.len()
    }

    /// Notes the loss of batch [`Recorder::next_step`], trained at [`RangeSettings::rate`] of
    /// it: the point it makes (none for a non-finite loss), and how the test ends if it ends
    /// here.
    pub fn record(&mut self, loss: f64) -> (Option<RangePoint>, Option<RangeEnd>) {
        let step = self.next_step();
        let learning_rate = self.settings.rate(step);
        if !loss.is_finite() {
            return (None, Some(RangeEnd::NonFinite { learning_rate }));
        }
        let smoothed_loss = self.smoothed.push(loss);
        let point = RangePoint {
            step,
            learning_rate,
            loss,
            smoothed_loss,
        };
        self.points.push(point);
        self.best = self.best.min(smoothed_loss);
        let end = if smoothed_loss > DIVERGENCE * self.best {
            Some(RangeEnd::Diverged { best: self.best })
        } else if self.points.len() >= self.settings.steps {
            Some(RangeEnd::Completed)
        } else {
            None
        };
        (Some(point), end)
    }

    /// The finished test, ended for `end`.
    pub fn finish(self, end: RangeEnd) -> RangeTest {
        RangeTest::new(self.settings, self.points, end)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(steps: usize) -> RangeSettings {
        RangeSettings {
            start: 1e-5,
            end: 1.0,
            steps,
        }
    }

    #[test]
    fn the_rate_rises_by_the_same_ratio_from_start_to_end() {
        let range = settings(11);
        assert_eq!(range.rate(0), 1e-5);
        assert!((range.rate(10) - 1.0).abs() < 1e-12);
        // Five decades over ten steps: half a decade each.
        for step in 1..=10 {
            let ratio = range.rate(step) / range.rate(step - 1);
            assert!((ratio - 10f64.sqrt()).abs() < 1e-9, "{ratio}");
        }
    }

    #[test]
    fn rates_are_rounded_to_two_significant_digits() {
        assert_eq!(round_rate(0.002_137), 0.0021);
        assert_eq!(round_rate(0.000_524_9), 0.00052);
        assert_eq!(round_rate(0.0996), 0.1);
        assert_eq!(round_rate(1.0), 1.0);
        assert_eq!(round_rate(1e-5), 1e-5);
    }

    #[test]
    fn the_test_runs_its_steps_smoothing_as_fastai_does() {
        let mut recorder = Recorder::new(settings(10));
        let mut ends = Vec::new();
        for step in 0..10 {
            let (point, end) = recorder.record(2.0 - 0.1 * step as f64);
            let point = point.expect("a finite loss is a point");
            assert_eq!(point.step, step);
            assert_eq!(point.learning_rate, settings(10).rate(step));
            ends.push(end);
        }
        assert!(ends[..9].iter().all(Option::is_none));
        assert_eq!(ends[9], Some(RangeEnd::Completed));
        let test = recorder.finish(RangeEnd::Completed);
        // The first smoothed value is the first loss (debiased), the second fastai's
        // (0.98 * 0.02 * 2.0 + 0.02 * 1.9) / (1 - 0.98^2).
        assert!((test.points[0].smoothed_loss - 2.0).abs() < 1e-12);
        let second = (0.98 * 0.02 * 2.0 + 0.02 * 1.9) / (1.0 - 0.98f64.powi(2));
        assert!((test.points[1].smoothed_loss - second).abs() < 1e-12);
    }

    #[test]
    fn a_smoothed_loss_above_four_times_its_best_ends_the_test_with_that_point() {
        let mut recorder = Recorder::new(settings(100));
        let mut step = 0;
        let end = loop {
            // Falls to 1, then climbs fast.
            let loss = if step < 20 {
                2.0 - step as f64 * 0.05
            } else {
                1.0 * 3f64.powi(step - 19)
            };
            let (point, end) = recorder.record(loss);
            assert!(point.is_some());
            if let Some(end) = end {
                break end;
            }
            step += 1;
            assert!(step < 100, "never diverged");
        };
        let RangeEnd::Diverged { best } = end else {
            panic!("{end:?}")
        };
        let test = recorder.finish(end);
        let last = test.points.last().expect("points");
        assert!(last.smoothed_loss > 4.0 * best);
        let before = test.points[test.points.len() - 2];
        assert!(before.smoothed_loss <= 4.0 * best);
    }

    #[test]
    fn the_drawn_range_leaves_out_the_blow_up_at_the_end() {
        let mut recorder = Recorder::new(settings(100));
        for step in 0..30 {
            recorder.record(2.3 - 0.01 * step as f64);
        }
        for _ in 0..5 {
            recorder.record(1e5);
        }
        let test = recorder.finish(RangeEnd::Cancelled);
        let (bottom, top) = drawn_loss_range(&test.points);
        // Losses from 2.3 down to 2.01, a tenth of their span above and below.
        assert!((top - 2.329).abs() < 1e-9, "{top}");
        assert!((bottom - 1.981).abs() < 1e-9, "{bottom}");
        assert_eq!(drawn_loss_range(&[]), (0.0, 1.0));
    }

    #[test]
    fn a_non_finite_loss_ends_the_test_without_a_point() {
        let mut recorder = Recorder::new(settings(100));
        assert!(recorder.record(2.3).1.is_none());
        let (point, end) = recorder.record(f64::NAN);
        assert_eq!(point, None);
        assert_eq!(
            end,
            Some(RangeEnd::NonFinite {
                learning_rate: settings(100).rate(1)
            })
        );
        assert_eq!(recorder.finish(RangeEnd::Cancelled).points.len(), 1);
    }
}
