//! The learning-rate range test in words: how it went, what its curve suggests and why, and
//! what was written into config.toml. The dashboard's message pane and `alexnet-tui lr-find`
//! print the same lines.

use std::path::Path;

use super::Line;
use crate::config::Schedule;
use crate::train::range_test::{
    DIVERGENCE, Method, RangeEnd, RangePoint, RangeSettings, RangeTest, Suggestion, Suggestions,
    round_rate,
    suggest::{LEAST_FALL, SKIP_END},
};

/// A learning rate as the range test shows it: two significant digits, as config.toml gets it.
pub fn format_rate(rate: f64) -> String {
    round_rate(rate).to_string()
}

pub fn started(settings: &RangeSettings) -> Line {
    Line::info(format!(
        "range test: the learning rate rises from {} to {} over {} batches, from the weights training starts from (they are put back afterwards)",
        format_rate(settings.start),
        format_rate(settings.end),
        settings.steps
    ))
}

/// The progress line of `alexnet-tui lr-find`.
pub fn progress_line(point: &RangePoint, steps: usize, seconds: f64) -> String {
    format!(
        "range test batch {}/{} | lr {} | loss {:.4} | smoothed {:.4} | {:.1} s/batch",
        point.step + 1,
        steps,
        format_rate(point.learning_rate),
        point.loss,
        point.smoothed_loss,
        seconds
    )
}

/// What a finished test says: how it ended, both suggestions (the pick first, and why), or why
/// there is none. `schedule` says what `training.learning_rate` means for the run.
pub fn tested(test: &RangeTest, schedule: Schedule) -> Vec<Line> {
    let mut lines = vec![Line::info(format!(
        "{}; the weights and the optimizer are as before it",
        ending(test)
    ))];
    let Some(pick) = test.suggestions.pick() else {
        lines.push(Line::warning(no_suggestion(test)));
        return lines;
    };
    for method in [Suggestions::PICK, Method::Steep] {
        if let Some(suggestion) = test.suggestions.get(method) {
            lines.push(Line::info(suggestion_line(method, &suggestion)));
        }
    }
    if test.suggestions.fall < LEAST_FALL {
        lines.push(Line::warning(plateau(test)));
    }
    lines.push(Line::info(format!(
        "the pick, {} {}, is what goes into config.toml as training.learning_rate{}",
        Suggestions::PICK.name(),
        format_rate(pick.learning_rate),
        match schedule {
            Schedule::OneCycle => " (the one-cycle schedule's peak)",
            Schedule::Cosine => " (where the cosine schedule starts)",
            Schedule::Constant => "",
        }
    )));
    lines
}

fn ending(test: &RangeTest) -> String {
    let batches = test.points.len();
    let last = test.points.last();
    match test.end {
        RangeEnd::Completed => format!(
            "range test done: {batches} batches, learning rate {} to {}",
            format_rate(test.settings.start),
            format_rate(test.settings.end)
        ),
        RangeEnd::Diverged { best } => format!(
            "range test stopped after {batches} batches, at learning rate {}: the smoothed loss ({:.3}) passed {DIVERGENCE} times its best ({best:.3})",
            last.map_or_else(String::new, |p| format_rate(p.learning_rate)),
            last.map_or(f64::NAN, |p| p.smoothed_loss),
        ),
        RangeEnd::NonFinite { learning_rate } => format!(
            "range test stopped after {batches} batches: the loss was not finite at learning rate {}",
            format_rate(learning_rate)
        ),
        RangeEnd::Cancelled => format!("range test cancelled after {batches} batches"),
    }
}

/// A curve that barely fell: the suggestions read the noise of a plateau.
fn plateau(test: &RangeTest) -> String {
    format!(
        "a plateau: the smoothed loss fell only {:.1}% (a descent falls {:.0}% or more), so both suggestions sit on noise; from fresh weights AlexNet stays near the loss of chance for its first hundred or so steps. Keep your rate unless the curve says otherwise, or test from a checkpoint a little way into training (--resume)",
        test.suggestions.fall * 100.0,
        LEAST_FALL * 100.0
    )
}

/// One suggestion and what it means.
pub fn suggestion_line(method: Method, suggestion: &Suggestion) -> String {
    let why = match method {
        Method::Valley => {
            "halfway along the longest descent of the smoothed loss. The pick: fastai's default, it reads the whole descent, so a noisy batch or two moves it little"
        }
        Method::Steep => {
            "where the smoothed loss falls fastest per decade of rate. One segment of the curve decides it, so it moves with the noise of a few batches"
        }
    };
    format!(
        "{} {} (smoothed loss {:.3}): {why}",
        method.name(),
        format_rate(suggestion.learning_rate),
        suggestion.smoothed_loss
    )
}

/// Why a curve suggests nothing, and what to change.
pub fn no_suggestion(test: &RangeTest) -> String {
    let (from, to) = test.suggestions.considered;
    if test.points.is_empty() {
        return match test.end {
            RangeEnd::NonFinite { learning_rate } => format!(
                "no usable points: the loss was not finite from the first batch (learning rate {}); lower lr_find.start, or check the data and the model",
                format_rate(learning_rate)
            ),
            _ => "no usable points: no batch was trained".to_string(),
        };
    }
    if from >= to {
        return format!(
            "no usable points: the suggestions leave out the first {from} batches (a tenth of lr_find.steps) and the last {SKIP_END}, and only {} ran; lower lr_find.end so that the loss blows up later, or let the test run to its end",
            test.points.len()
        );
    }
    format!(
        "no suggestion: the smoothed loss never fell between learning rates {} and {}; lower lr_find.start",
        format_rate(test.points[from].learning_rate),
        format_rate(test.points[to - 1].learning_rate)
    )
}

/// The pick written into config.toml: the key, the new value and the one it replaced.
pub fn written(path: &Path, key: &str, old: Option<&str>, new: &str) -> Line {
    Line::info(format!(
        "{}: {key} = {new} ({})",
        path.display(),
        match old {
            Some(old) => format!("was {old}"),
            None => "was not set: the profile's value applied".to_string(),
        }
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::train::range_test::RangeTest;

    fn settings() -> RangeSettings {
        RangeSettings {
            start: 1e-5,
            end: 1.0,
            steps: 100,
        }
    }

    #[test]
    fn a_nan_from_the_first_batch_has_no_usable_points() {
        let test = RangeTest::new(
            settings(),
            Vec::new(),
            RangeEnd::NonFinite {
                learning_rate: 1e-5,
            },
        );
        let lines = tested(&test, Schedule::Constant);
        assert_eq!(lines.len(), 2);
        assert_eq!(
            lines[1].text,
            "no usable points: the loss was not finite from the first batch (learning rate 0.00001); lower lr_find.start, or check the data and the model"
        );
    }

    #[test]
    fn both_suggestions_are_shown_the_pick_first_with_what_it_sets() {
        let losses: Vec<f64> = (0..100)
            .map(|step| 2.3 - 1.5 * (step as f64 / 99.0).powi(2))
            .collect();
        let points: Vec<RangePoint> = losses
            .iter()
            .enumerate()
            .map(|(step, &loss)| RangePoint {
                step,
                learning_rate: settings().rate(step),
                loss,
                smoothed_loss: loss,
            })
            .collect();
        let test = RangeTest::new(settings(), points, RangeEnd::Completed);
        let lines: Vec<String> = tested(&test, Schedule::OneCycle)
            .into_iter()
            .map(|line| line.text)
            .collect();
        assert_eq!(
            lines[0],
            "range test done: 100 batches, learning rate 0.00001 to 1; the weights and the optimizer are as before it"
        );
        assert!(lines[1].starts_with("valley "), "{lines:?}");
        assert!(lines[1].contains("The pick: fastai's default"), "{lines:?}");
        assert!(lines[2].starts_with("steep "), "{lines:?}");
        let valley = test.suggestions.valley.expect("a valley");
        assert_eq!(
            lines[3],
            format!(
                "the pick, valley {}, is what goes into config.toml as training.learning_rate (the one-cycle schedule's peak)",
                format_rate(valley.learning_rate)
            )
        );
    }
}
