//! What a range test's curve suggests, computed as fastai's suggestion functions compute it
//! (`fastai/callback/schedule.py`: `lr_find`, `valley`, `steep`), on the smoothed losses:
//!
//! - **valley** (fastai's default): the longest run of ever lower losses, read as a longest
//!   decreasing subsequence, and the rate halfway along it (fastai's index: a third plus a sixth
//!   of its length past its start). It reads the whole descent, so one noisy segment moves it
//!   little.
//! - **steep**: the rate at the start of the segment where the loss falls fastest against the
//!   logarithm of the rate. One segment decides it, so it moves with the noise of a few batches.
//!
//! As fastai does, the first tenth of the planned steps (the loss has barely moved) and the last
//! five points (the blow-up that ended the test) are left out. Two deliberate differences, both
//! where the curve has no descent at all: fastai's `valley` then indexes from the end of the
//! list (Python's `lrs[-1]`), and its `steep` names the least rising segment; here there is no
//! suggestion instead.
//!
//! How far the smoothed loss fell is reported too ([`Suggestions::fall`]): below [`LEAST_FALL`]
//! the curve is a plateau and both suggestions sit on its noise, and the front ends say so.
//! Measured here, the seed profile's fresh weights (plain SGD at 224, 40 steps) stayed within
//! 0.3% of 2.303 until the rate passed 0.3, valley named 0.0089, and the first 0.3 epoch at it
//! tested at 0.2629 against 0.5135 at the default 0.05.

use serde::Serialize;

use super::RangePoint;

/// Points at the end of a test that the suggestions leave out (fastai's `[:-5]`).
pub const SKIP_END: usize = 5;

/// The least fall of the smoothed loss, as a fraction of its first value in the points read,
/// that makes a descent; below it the suggestions read noise.
pub const LEAST_FALL: f64 = 0.02;

/// How a suggestion was read off the curve.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    Valley,
    Steep,
}

impl Method {
    pub fn name(self) -> &'static str {
        match self {
            Method::Valley => "valley",
            Method::Steep => "steep",
        }
    }
}

/// A suggested rate and the point of the curve it marks.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Suggestion {
    pub learning_rate: f64,
    pub smoothed_loss: f64,
    /// The point's batch in the test, from 0.
    pub step: usize,
}

/// Both suggestions of a curve, and the points they were read from.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Suggestions {
    pub valley: Option<Suggestion>,
    pub steep: Option<Suggestion>,
    /// The points read, as a range of steps `[from, to)`; empty when too few were left.
    pub considered: (usize, usize),
    /// How far the smoothed loss fell in the points read, as a fraction of its first value
    /// there (0 when it never fell); below [`LEAST_FALL`] the curve is a plateau.
    pub fall: f64,
}

impl Suggestions {
    /// The method whose rate is the one to use: valley, fastai's default.
    pub const PICK: Method = Method::Valley;

    /// The rate to use, [`Suggestions::PICK`]'s. (A curve without a valley has no fall at all,
    /// so it has no steepest fall either.)
    pub fn pick(&self) -> Option<Suggestion> {
        self.get(Self::PICK)
    }

    pub fn get(&self, method: Method) -> Option<Suggestion> {
        match method {
            Method::Valley => self.valley,
            Method::Steep => self.steep,
        }
    }
}

/// The suggestions of a test planned over `steps` batches whose curve is `points`.
pub fn suggest(points: &[RangePoint], steps: usize) -> Suggestions {
    let from = steps / 10;
    let to = points.len().saturating_sub(SKIP_END).max(from);
    let used = points.get(from..to).unwrap_or_default();
    let rates: Vec<f64> = used.iter().map(|p| p.learning_rate).collect();
    let losses: Vec<f64> = used.iter().map(|p| p.smoothed_loss).collect();
    let at = |index: usize| {
        let point = used[index];
        Suggestion {
            learning_rate: point.learning_rate,
            smoothed_loss: point.smoothed_loss,
            step: point.step,
        }
    };
    let fall = match losses.first() {
        Some(&first) if first > 0.0 => {
            let lowest = losses.iter().copied().fold(first, f64::min);
            (first - lowest) / first
        }
        _ => 0.0,
    };
    Suggestions {
        valley: valley(&losses).map(at),
        steep: steep(&rates, &losses).map(at),
        considered: (from, to),
        fall,
    }
}

/// fastai's `valley`: the index about halfway along the longest decreasing subsequence of
/// `losses`, or `None` when no loss is below an earlier one.
pub fn valley(losses: &[f64]) -> Option<usize> {
    let n = losses.len();
    // longest[i]: the longest strictly decreasing subsequence that ends at i.
    let mut longest = vec![1usize; n];
    let (mut max_start, mut max_end) = (0isize, 0usize);
    for i in 1..n {
        for j in 0..i {
            if losses[i] < losses[j] && longest[i] < longest[j] + 1 {
                longest[i] = longest[j] + 1;
            }
        }
        if longest[max_end] < longest[i] {
            max_end = i;
            // fastai's start: as many indices before the end as the subsequence is long.
            max_start = i as isize - longest[i] as isize;
        }
    }
    if longest.get(max_end).is_none_or(|&length| length < 2) {
        return None;
    }
    let sections = (max_end as isize - max_start) as f64 / 3.0;
    let index = max_start + sections as isize + (sections / 2.0) as isize;
    // fastai's index is -1 for a valley of two points at the very start; Python would read
    // the last element.
    Some(index.max(0) as usize)
}

/// fastai's `steep`: the index of the first point of the segment with the most negative slope
/// of `losses` against the natural logarithm of `rates`, or `None` when no segment falls.
pub fn steep(rates: &[f64], losses: &[f64]) -> Option<usize> {
    let mut steepest: Option<(usize, f64)> = None;
    for i in 0..rates.len().min(losses.len()).saturating_sub(1) {
        let slope = (losses[i + 1] - losses[i]) / (rates[i + 1].ln() - rates[i].ln());
        if steepest.is_none_or(|(_, best)| slope < best) {
            steepest = Some((i, slope));
        }
    }
    steepest
        .filter(|&(_, slope)| slope < 0.0)
        .map(|(index, _)| index)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::train::range_test::RangeSettings;

    fn points(settings: RangeSettings, losses: &[f64]) -> Vec<RangePoint> {
        losses
            .iter()
            .enumerate()
            .map(|(step, &loss)| RangePoint {
                step,
                learning_rate: settings.rate(step),
                loss,
                smoothed_loss: loss,
            })
            .collect()
    }

    #[test]
    fn valley_is_two_thirds_down_the_longest_decreasing_subsequence_as_fastai_reads_it() {
        // Longest decreasing subsequences ending at each index: 1 2 2 3 4 4 5 3 1. The longest
        // ends at 6 (length 5), so fastai's start is 6 - 5 = 1, its sections (6 - 1) / 3 = 1.67,
        // and the index 1 + int(1.67) + int(0.83) = 2.
        let losses = [5.0, 4.0, 4.5, 3.0, 2.0, 2.5, 1.0, 3.0, 6.0];
        assert_eq!(valley(&losses), Some(2));
        // A steady fall over ten points: start -1, sections 10 / 3, index -1 + 3 + 1.
        let falling: Vec<f64> = (0..10).map(|i| 10.0 - i as f64).collect();
        assert_eq!(valley(&falling), Some(3));
    }

    #[test]
    fn valley_needs_a_fall_and_never_wraps_to_the_end() {
        assert_eq!(valley(&[]), None);
        assert_eq!(valley(&[1.0, 1.0, 2.0, 3.0]), None);
        // fastai's index is -1 here (Python: the last point, the highest loss); ours the first.
        assert_eq!(valley(&[2.0, 1.0, 3.0, 4.0]), Some(0));
    }

    #[test]
    fn steep_is_the_steepest_fall_against_the_log_of_the_rate() {
        // The middle segment falls least in loss but over a tenth of a decade: steepest per log.
        let rates = [1e-4, 1e-3, 1.1e-3, 1e-2];
        let losses = [2.0, 1.5, 1.45, 1.0];
        assert_eq!(steep(&rates, &losses), Some(1));
        // On an even grid it is the largest drop, named by its first point.
        assert_eq!(steep(&[1.0, 2.0, 4.0, 8.0], &[3.0, 2.9, 2.0, 1.8]), Some(1));
        assert_eq!(steep(&[1.0, 2.0], &[1.0, 1.5]), None, "no segment falls");
        assert_eq!(steep(&[1.0], &[1.0]), None);
    }

    /// A plateau, a descent from lr 1e-3 to 1e-1, then a climb: steep where the descent begins
    /// (the square root falls fastest there), valley halfway down it, and valley the pick. The
    /// expected steps were checked against fastai's `valley` and `steep` as its source has them
    /// (copied into plain Python, lists for tensors) run on the same numbers.
    #[test]
    fn a_typical_curve_suggests_rates_on_its_descent_and_picks_valley() {
        let settings = RangeSettings {
            start: 1e-5,
            end: 1.0,
            steps: 100,
        };
        let losses: Vec<f64> = (0..100)
            .map(|step| {
                let decade = settings.rate(step).log10();
                if decade < -3.0 {
                    2.3
                } else if decade < -1.0 {
                    // Fastest early in the descent.
                    2.3 - 1.5 * ((decade + 3.0) / 2.0).sqrt()
                } else {
                    0.8 + 3.0 * (decade + 1.0)
                }
            })
            .collect();
        let suggestions = suggest(&points(settings, &losses), settings.steps);
        assert_eq!(suggestions.considered, (10, 95));
        let valley = suggestions.valley.expect("a valley");
        let steep = suggestions.steep.expect("a steepest point");
        // Steep: the segment from the plateau's last point (step 39, lr 9.3e-4) into the descent.
        assert_eq!(steep.step, 39);
        // Valley: one plateau point and the 40 points of the descent (steps 40 to 79) make the
        // longest decreasing subsequence; read from step 10, it ends at 69 and fastai's start
        // is 69 - 41 = 28, so the index is 28 + int(41 / 3) + int(41 / 6) = 47: step 57.
        assert_eq!(valley.step, 57);
        assert!((1e-3..1e-2).contains(&valley.learning_rate), "{valley:?}");
        for suggestion in [valley, steep] {
            assert_eq!(suggestion.smoothed_loss, losses[suggestion.step]);
            assert_eq!(suggestion.learning_rate, settings.rate(suggestion.step));
        }
        assert_eq!(suggestions.pick(), Some(valley));
    }

    #[test]
    fn the_first_tenth_and_the_last_five_points_are_left_out() {
        let settings = RangeSettings {
            start: 1e-5,
            end: 1.0,
            steps: 30,
        };
        // A steep drop inside the first tenth (steps 0 to 2) and one in the last five: neither
        // counts. Between them a gentle fall with its largest drop at 12 -> 13.
        let mut losses: Vec<f64> = (0..30).map(|i| 3.0 - 0.01 * i as f64).collect();
        losses[1] = 1.0;
        losses[13] -= 0.05;
        for loss in &mut losses[27..] {
            *loss = 0.1;
        }
        let suggestions = suggest(&points(settings, &losses), settings.steps);
        assert_eq!(suggestions.considered, (3, 25));
        assert_eq!(suggestions.steep.map(|s| s.step), Some(12));
        assert_eq!(suggestions.valley.map(|s| s.step), Some(13));
    }

    #[test]
    fn too_few_points_or_no_fall_suggest_nothing() {
        let settings = RangeSettings {
            start: 1e-5,
            end: 1.0,
            steps: 100,
        };
        // Twelve points of a test planned over 100: 10 are skipped at the start, 5 at the end.
        let short = suggest(&points(settings, &[2.0; 12]), settings.steps);
        assert_eq!(short.considered, (10, 10));
        assert_eq!(
            (short.valley, short.steep, short.pick()),
            (None, None, None)
        );
        assert_eq!(suggest(&[], 100).pick(), None);
        let rising: Vec<f64> = (0..100).map(|i| 1.0 + i as f64).collect();
        let rising = suggest(&points(settings, &rising), settings.steps);
        assert_eq!((rising.valley, rising.steep), (None, None));
    }

    /// The seed profile's fresh weights (plain SGD at 224, 40 steps from 1e-5 to 1, measured
    /// 2026-12-08 on an AVX2 EPYC in f32): the smoothed losses as `lr-find` printed them. They
    /// stay within 0.3% of their start until the blow-up; fastai's valley named 0.0089, whose
    /// first 0.3 epoch tested at 0.2629 against 0.5135 at the default 0.05.
    #[test]
    // Measured losses near ln 10 (chance over ten classes), not the constant typed by hand.
    #[allow(clippy::approx_constant)]
    fn a_plateau_is_measured_as_one() {
        let settings = RangeSettings {
            start: 1e-5,
            end: 1.0,
            steps: 40,
        };
        let smoothed = [
            2.3036, 2.3035, 2.3034, 2.3033, 2.3035, 2.3035, 2.3039, 2.3043, 2.3044, 2.3041, 2.3041,
            2.3039, 2.3038, 2.3037, 2.3034, 2.3032, 2.3030, 2.3028, 2.3028, 2.3028, 2.3032, 2.3031,
            2.3033, 2.3033, 2.3031, 2.3030, 2.3030, 2.3029, 2.3029, 2.3027, 2.3026, 2.3023, 2.3022,
            2.3021, 2.3017, 2.3012, 2.3004, 2.2981, 2.3156, 2.3550,
        ];
        let suggestions = suggest(&points(settings, &smoothed), settings.steps);
        // Rounded to the printed four decimals, the noise moves valley from 0.0089 (step 23)
        // to 0.016: on a plateau it names noise, hence the warning.
        assert_eq!(
            suggestions.pick().map(|s| s.step),
            Some(25),
            "{suggestions:?}"
        );
        assert!(
            suggestions.fall > 0.0 && suggestions.fall < LEAST_FALL,
            "{suggestions:?}"
        );
        // A fall of a few percent is a descent.
        let mut falling = smoothed;
        for (index, loss) in falling.iter_mut().enumerate().skip(20) {
            *loss -= 0.01 * (index - 19) as f64;
        }
        let suggestions = suggest(&points(settings, &falling), settings.steps);
        assert!(suggestions.fall > LEAST_FALL, "{suggestions:?}");
    }
}
