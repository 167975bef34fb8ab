//! Runs without a run.json, from versions before it: what their metrics.csv and config.toml
//! say. How such a run ended is not written anywhere, so it is [`RunState::Legacy`], never
//! crashed; a metrics.csv that cannot be read makes it damaged.

use std::path::Path;

use super::{RunState, RunSummary};
use crate::config::{Config, Profile};
use crate::curves::Metrics;
use crate::train::lock::{LockState, Phase};
use crate::train::metrics::METRICS_FILE;
use crate::train::metrics::TestPoint;
use crate::train::record::differences_from_profile;

pub(super) fn fill(summary: &mut RunSummary, lock: LockState) {
    // A process of this version holds the lock before it writes the record.
    summary.state = match lock {
        LockState::Held(owner) if owner.phase == Phase::Opened => RunState::Opened,
        LockState::Held(owner) if owner.phase == Phase::Training => RunState::Running,
        _ => RunState::Legacy,
    };
    let config = read_config(&summary.dir);
    if let Some(config) = &config {
        summary.profile = Some(config.profile.clone());
        summary.target_accuracy = Some(config.training.target_accuracy);
        let profile = Profile::from_name(&config.profile).unwrap_or(Profile::DEFAULT);
        summary.differs = differences_from_profile(config, profile);
    }
    let path = summary.dir.join(METRICS_FILE);
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        // Checkpoints and nothing else: an early stop, nothing to read.
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            summary.config = config;
            return;
        }
        Err(error) => {
            summary.problem = Some(format!("{}: cannot read: {error}", path.display()));
            return;
        }
    };
    let metrics = match Metrics::parse(&text, &path) {
        Ok(metrics) => metrics,
        Err(error) => {
            summary.problem = Some(error.to_string());
            return;
        }
    };
    let (_, accuracies) = metrics.test_curves();
    // Where and how well; when, the files of an earlier version do not say.
    let mark = |&(position, accuracy): &(f64, f64)| TestPoint::at(position, accuracy);
    summary.best = accuracies
        .iter()
        .fold(None::<&(f64, f64)>, |best, point| match best {
            Some(best) if best.1 >= point.1 => Some(best),
            _ => Some(point),
        })
        .map(mark);
    summary.final_test = accuracies.last().map(mark);
    let target = summary.target_accuracy.unwrap_or(0.0);
    summary.target_reached = (target > 0.0)
        .then(|| accuracies.iter().find(|point| point.1 >= target).map(mark))
        .flatten();
    summary.epochs_done = Some(last_position(&metrics));
    summary.images_per_second = throughput(&text);
    summary.config = config;
}

/// The config a run was started with, as it wrote it to its folder: read as config.toml is
/// read (the keys it has over its profile's values), or, when an earlier version's values no
/// longer pass today's checks, as written. A file with keys this version does not know gives
/// none: the run is listed without its settings.
fn read_config(dir: &Path) -> Option<Config> {
    let path = dir.join("config.toml");
    let text = std::fs::read_to_string(&path).ok()?;
    Config::parse(&text, &path, None)
        .ok()
        .or_else(|| toml::from_str(&text).ok())
}

/// The furthest place on the epoch axis any row reached.
fn last_position(metrics: &Metrics) -> f64 {
    metrics
        .batches
        .iter()
        .map(|row| row.position)
        .chain(metrics.epochs.iter().map(|row| row.epoch as f64))
        .chain(metrics.tests.iter().map(|row| row.position))
        .fold(0.0, f64::max)
}

/// Mean training throughput over the logged batches: the images they trained (each row's rate
/// times its duration) over the seconds they took. Today's files give a batch's duration in
/// `batch_seconds`; those before the `position` column in `elapsed_seconds` (see
/// `curves/old_metrics.rs`). Only this one figure is read here: `curves` draws the rest.
fn throughput(text: &str) -> Option<f64> {
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let header = reader.headers().ok()?.clone();
    let column = |name: &str| header.iter().position(|h| h == name);
    let kind = column("kind")?;
    let rate = column("images_per_second")?;
    let seconds = if column("position").is_some() {
        column("batch_seconds")?
    } else {
        column("elapsed_seconds")?
    };
    let (mut images, mut total) = (0.0, 0.0);
    for record in reader.records().filter_map(Result::ok) {
        if record.get(kind) != Some("batch") {
            continue;
        }
        let number = |index| record.get(index)?.parse::<f64>().ok();
        if let (Some(rate), Some(seconds)) = (number(rate), number(seconds))
            && rate.is_finite()
            && seconds.is_finite()
            && seconds > 0.0
        {
            images += rate * seconds;
            total += seconds;
        }
    }
    (total > 0.0).then(|| images / total)
}

#[cfg(test)]
mod tests {
    use super::throughput;

    #[test]
    fn throughput_weighs_each_batch_by_its_duration() {
        // 100 images in 1 s and 300 in 1 s: 200 images/s, not the mean of the rates either way.
        let today = "kind,position,images_per_second,batch_seconds\nbatch,0.1,100,1\nbatch,0.2,300,1\nepoch,1,999,\n";
        assert_eq!(throughput(today), Some(200.0));
        let older = "kind,epoch,images_per_second,elapsed_seconds\nbatch,1,100,2\nbatch,1,400,1\n";
        assert_eq!(throughput(older), Some(200.0));
        assert_eq!(throughput("kind,position\n"), None);
    }
}
