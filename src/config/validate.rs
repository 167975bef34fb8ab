//! Ranges and rules that serde's types cannot express.

use super::{Config, parse_device};
use crate::model::min_resize;

impl Config {
    /// Checks every range and rule. The error names the key as `section.key`.
    pub fn validate(&self) -> Result<(), (&'static str, String)> {
        fn check(
            ok: bool,
            key: &'static str,
            message: String,
        ) -> Result<(), (&'static str, String)> {
            if ok { Ok(()) } else { Err((key, message)) }
        }
        let min = min_resize();
        let m = &self.model;
        check(
            m.resize >= min && m.resize <= 1024,
            "model.resize",
            format!(
                "must be between {min} and 1024, got {}: {min} is the smallest input for which the third max-pool still has a 3x3 map",
                m.resize
            ),
        )?;
        check(
            (0.0..1.0).contains(&m.dropout),
            "model.dropout",
            format!("must be at least 0 and below 1, got {}", m.dropout),
        )?;
        let t = &self.training;
        check(
            t.epochs.is_finite() && (0.01..=1000.0).contains(&t.epochs),
            "training.epochs",
            format!(
                "must be between 0.01 and 1000 (a fraction ends the run inside an epoch), got {}",
                t.epochs
            ),
        )?;
        check(
            (1..=4096).contains(&t.batch_size),
            "training.batch_size",
            format!("must be between 1 and 4096, got {}", t.batch_size),
        )?;
        check(
            t.learning_rate.is_finite() && t.learning_rate > 0.0 && t.learning_rate <= 10.0,
            "training.learning_rate",
            format!("must be above 0 and at most 10, got {}", t.learning_rate),
        )?;
        check(
            (0.0..1.0).contains(&t.warmup_fraction),
            "training.warmup_fraction",
            format!("must be at least 0 and below 1, got {}", t.warmup_fraction),
        )?;
        check(
            (0.0..1.0).contains(&t.momentum),
            "training.momentum",
            format!("must be at least 0 and below 1, got {}", t.momentum),
        )?;
        check(
            !t.nesterov || t.momentum > 0.0,
            "training.nesterov",
            "needs training.momentum above 0".to_string(),
        )?;
        check(
            (0.0..=0.1).contains(&t.weight_decay),
            "training.weight_decay",
            format!("must be between 0 and 0.1, got {}", t.weight_decay),
        )?;
        check(
            (0.0..1.0).contains(&t.label_smoothing),
            "training.label_smoothing",
            format!("must be at least 0 and below 1, got {}", t.label_smoothing),
        )?;
        check(
            (0.0..=1.0).contains(&t.target_accuracy),
            "training.target_accuracy",
            format!("must be between 0 (off) and 1, got {}", t.target_accuracy),
        )?;
        check(
            parse_device(&t.device).is_some(),
            "training.device",
            format!(
                "must be \"auto\", \"cpu\", \"cuda:N\" or \"mps\", got \"{}\"",
                t.device
            ),
        )?;
        check(
            t.threads <= 256,
            "training.threads",
            format!(
                "must be between 0 (all physical cores) and 256, got {}",
                t.threads
            ),
        )?;
        check(
            t.interop_threads <= 256,
            "training.interop_threads",
            format!(
                "must be between 0 (all physical cores) and 256, got {}",
                t.interop_threads
            ),
        )?;
        check(
            t.log_every >= 1,
            "training.log_every",
            "must be at least 1".to_string(),
        )?;
        check(
            (1..=10_000).contains(&t.eval_batch_size),
            "training.eval_batch_size",
            format!("must be between 1 and 10000, got {}", t.eval_batch_size),
        )?;
        check(
            t.eval_every.is_finite() && t.eval_every >= 0.01 && t.eval_every <= 1.0,
            "training.eval_every",
            format!(
                "must be between 0.01 and 1 (epochs between tests), got {}",
                t.eval_every
            ),
        )?;
        check(
            t.eval_from.is_finite() && (0.0..=1000.0).contains(&t.eval_from),
            "training.eval_from",
            format!("must be between 0 and 1000 (epochs), got {}", t.eval_from),
        )?;
        let c = &self.checkpoint;
        check(
            !c.dir.trim().is_empty(),
            "checkpoint.dir",
            "must not be empty".to_string(),
        )?;
        check(
            c.interval_minutes.is_finite() && (0.0..=1440.0).contains(&c.interval_minutes),
            "checkpoint.interval_minutes",
            format!(
                "must be between 0 (off) and 1440, got {}",
                c.interval_minutes
            ),
        )?;
        check(
            (1..=1000).contains(&c.keep),
            "checkpoint.keep",
            format!("must be between 1 and 1000, got {}", c.keep),
        )?;
        check(
            c.keep_at_end <= 1000,
            "checkpoint.keep_at_end",
            format!("must be between 0 and 1000, got {}", c.keep_at_end),
        )?;
        let u = &self.ui;
        check(
            u.refresh_hz.is_finite() && (1.0..=60.0).contains(&u.refresh_hz),
            "ui.refresh_hz",
            format!("must be between 1 and 60, got {}", u.refresh_hz),
        )?;
        check(
            u.headless_interval_seconds.is_finite()
                && (0.1..=3600.0).contains(&u.headless_interval_seconds),
            "ui.headless_interval_seconds",
            format!(
                "must be between 0.1 and 3600, got {}",
                u.headless_interval_seconds
            ),
        )?;
        let r = &self.lr_find;
        check(
            r.start.is_finite() && r.start > 0.0,
            "lr_find.start",
            format!(
                "must be above 0 (the range test's first learning rate), got {}",
                r.start
            ),
        )?;
        check(
            r.end.is_finite() && r.end > 0.0 && r.end <= 10.0,
            "lr_find.end",
            format!(
                "must be above 0 and at most 10 (the pick becomes training.learning_rate, which allows at most 10), got {}",
                r.end
            ),
        )?;
        check(
            r.end > r.start,
            "lr_find.end",
            format!(
                "must be above lr_find.start ({}): the rate rises from start to end, got {}",
                r.start, r.end
            ),
        )?;
        check(
            (10..=10_000).contains(&r.steps),
            "lr_find.steps",
            format!(
                "must be between 10 and 10000 (batches from start to end), got {}",
                r.steps
            ),
        )?;
        Ok(())
    }
}
