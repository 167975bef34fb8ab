//! Learning-rate schedules, as a pure function of the step so that a resumed run continues on
//! exactly the same curve, and a live edit of the peak rate or of the number of epochs simply
//! reshapes the rest of it.

use crate::config::Schedule;

/// Where one-cycle starts, as a fraction of the peak (PyTorch's `OneCycleLR` default `div_factor`).
const ONE_CYCLE_START: f64 = 1.0 / 25.0;
/// Where the cosine phase ends, as a fraction of the peak.
const FINAL_FRACTION: f64 = 1e-3;

/// The learning rate for `step` (0-based) of a run of `total_steps`.
pub fn learning_rate(
    schedule: Schedule,
    peak: f64,
    warmup_fraction: f64,
    step: u64,
    total_steps: u64,
) -> f64 {
    if schedule == Schedule::Constant || total_steps == 0 {
        return peak;
    }
    let total = total_steps as f64;
    let position = (step as f64).min(total);
    let warmup = (warmup_fraction * total).floor();
    let start = match schedule {
        Schedule::OneCycle => peak * ONE_CYCLE_START,
        _ => 0.0,
    };
    if position < warmup {
        let progress = position / warmup;
        return start + (peak - start) * progress;
    }
    let decay_steps = (total - warmup).max(1.0);
    let progress = ((position - warmup) / decay_steps).clamp(0.0, 1.0);
    let floor = peak * FINAL_FRACTION;
    floor + (peak - floor) * 0.5 * (1.0 + (std::f64::consts::PI * progress).cos())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constant_is_constant() {
        for step in [0, 10, 1000] {
            assert_eq!(
                learning_rate(Schedule::Constant, 0.05, 0.25, step, 100),
                0.05
            );
        }
    }

    #[test]
    fn one_cycle_warms_up_peaks_and_decays() {
        let lr = |step| learning_rate(Schedule::OneCycle, 0.05, 0.25, step, 100);
        assert!((lr(0) - 0.002).abs() < 1e-12);
        assert!(lr(10) > lr(5));
        assert!((lr(25) - 0.05).abs() < 1e-12);
        assert!(lr(60) < lr(30));
        assert!(lr(100) < 0.0001);
        assert!(lr(100) > 0.0);
    }

    #[test]
    fn cosine_without_warmup_starts_at_peak() {
        let lr = |step| learning_rate(Schedule::Cosine, 0.1, 0.0, step, 50);
        assert!((lr(0) - 0.1).abs() < 1e-12);
        assert!((lr(25) - 0.05 - 0.1 * FINAL_FRACTION / 2.0).abs() < 1e-9);
    }
}
