//! What a run has measured so far: logged batches and finished epochs. It travels in every
//! checkpoint, so a resumed run (and its dashboard) starts with the whole history.

use std::io::Write;
use std::path::Path;

use serde::{Deserialize, Serialize};

/// One logged training batch.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct BatchRecord {
    /// Epoch index, from 0.
    pub epoch: usize,
    /// Batch index within the epoch, from 0.
    pub batch: usize,
    pub batches_per_epoch: usize,
    /// Training steps taken since the run began.
    pub step: u64,
    /// Images in the batch (the last batch of an epoch may be smaller).
    pub images: usize,
    pub loss: f64,
    pub accuracy: f64,
    pub learning_rate: f64,
    pub images_per_second: f64,
    pub seconds: f64,
}

impl BatchRecord {
    /// Position on an epoch axis: 1.5 is halfway through the second epoch.
    pub fn epoch_position(&self) -> f64 {
        self.epoch as f64 + (self.batch + 1) as f64 / self.batches_per_epoch.max(1) as f64
    }
}

/// Test-set results of one evaluation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Evaluation {
    pub accuracy: f64,
    pub loss: f64,
    pub images: usize,
    /// `confusion[true][predicted]` counts.
    pub confusion: [[u32; 10]; 10],
    pub seconds: f64,
}

impl Evaluation {
    /// Accuracy of each class: correct over the images of that class.
    pub fn per_class_accuracy(&self) -> [f64; 10] {
        let mut out = [0.0; 10];
        for (class, row) in self.confusion.iter().enumerate() {
            let total: u32 = row.iter().sum();
            out[class] = if total == 0 {
                0.0
            } else {
                f64::from(row[class]) / f64::from(total)
            };
        }
        out
    }
}

/// One finished epoch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpochRecord {
    pub epoch: usize,
    pub train_loss: f64,
    pub train_accuracy: f64,
    pub test: Evaluation,
    pub images_per_second: f64,
    /// Wall-clock seconds of the run when the epoch ended, evaluation included.
    pub elapsed_seconds: f64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct History {
    pub batches: Vec<BatchRecord>,
    pub epochs: Vec<EpochRecord>,
    /// Wall-clock seconds spent in the run before this process (previous sessions of a resumed run).
    pub elapsed_seconds: f64,
    /// When the target accuracy was first reached: (epoch, elapsed seconds).
    pub target_reached: Option<(usize, f64)>,
}

impl History {
    pub fn best_test_accuracy(&self) -> Option<(usize, f64)> {
        self.epochs.iter().map(|e| (e.epoch, e.test.accuracy)).fold(
            None,
            |best, (epoch, accuracy)| match best {
                Some((_, best_accuracy)) if best_accuracy >= accuracy => best,
                _ => Some((epoch, accuracy)),
            },
        )
    }

    /// Writes `metrics.csv`: one row per logged batch and one per epoch.
    pub fn write_csv(&self, path: &Path) -> std::io::Result<()> {
        let tmp = path.with_extension("csv.tmp");
        {
            let mut out = std::io::BufWriter::new(std::fs::File::create(&tmp)?);
            writeln!(
                out,
                "kind,epoch,batch,step,loss,accuracy,test_loss,test_accuracy,learning_rate,images_per_second,elapsed_seconds"
            )?;
            let mut epochs = self.epochs.iter().peekable();
            for batch in &self.batches {
                while let Some(epoch) = epochs.next_if(|e| e.epoch < batch.epoch) {
                    write_epoch_row(&mut out, epoch)?;
                }
                writeln!(
                    out,
                    "batch,{},{},{},{:.6},{:.6},,,{:.6},{:.2},{:.2}",
                    batch.epoch + 1,
                    batch.batch + 1,
                    batch.step,
                    batch.loss,
                    batch.accuracy,
                    batch.learning_rate,
                    batch.images_per_second,
                    batch.seconds
                )?;
            }
            for epoch in epochs {
                write_epoch_row(&mut out, epoch)?;
            }
            out.flush()?;
        }
        std::fs::rename(tmp, path)
    }
}

fn write_epoch_row(out: &mut impl Write, epoch: &EpochRecord) -> std::io::Result<()> {
    writeln!(
        out,
        "epoch,{},,,{:.6},{:.6},{:.6},{:.6},,{:.2},{:.2}",
        epoch.epoch + 1,
        epoch.train_loss,
        epoch.train_accuracy,
        epoch.test.loss,
        epoch.test.accuracy,
        epoch.images_per_second,
        epoch.elapsed_seconds
    )
}

/// Running sums over the batches of the current epoch.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct EpochTotals {
    pub loss_sum: f64,
    pub correct: u64,
    pub images: u64,
    pub train_seconds: f64,
}

impl EpochTotals {
    pub fn add(&mut self, loss: f64, correct: u64, images: u64, seconds: f64) {
        self.loss_sum += loss * images as f64;
        self.correct += correct;
        self.images += images;
        self.train_seconds += seconds;
    }

    pub fn mean_loss(&self) -> f64 {
        self.loss_sum / self.images.max(1) as f64
    }

    pub fn accuracy(&self) -> f64 {
        self.correct as f64 / self.images.max(1) as f64
    }

    pub fn images_per_second(&self) -> f64 {
        if self.train_seconds > 0.0 {
            self.images as f64 / self.train_seconds
        } else {
            0.0
        }
    }
}

/// Exponential moving average, for the smoothed loss line and the "images/s now" figure.
#[derive(Debug, Clone, Copy)]
pub struct Ema {
    value: Option<f64>,
    weight: f64,
}

impl Ema {
    pub fn new(weight: f64) -> Self {
        Self {
            value: None,
            weight,
        }
    }

    pub fn push(&mut self, x: f64) -> f64 {
        let next = match self.value {
            None => x,
            Some(v) => self.weight * v + (1.0 - self.weight) * x,
        };
        self.value = Some(next);
        next
    }

    pub fn get(&self) -> Option<f64> {
        self.value
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn evaluation(accuracy: f64) -> Evaluation {
        Evaluation {
            accuracy,
            loss: 0.5,
            images: 10,
            confusion: [[0; 10]; 10],
            seconds: 1.0,
        }
    }

    #[test]
    fn best_accuracy_prefers_the_earliest_of_equals() {
        let mut history = History::default();
        assert_eq!(history.best_test_accuracy(), None);
        for (epoch, accuracy) in [(0, 0.5), (1, 0.8), (2, 0.8), (3, 0.7)] {
            history.epochs.push(EpochRecord {
                epoch,
                train_loss: 1.0,
                train_accuracy: 0.5,
                test: evaluation(accuracy),
                images_per_second: 10.0,
                elapsed_seconds: 1.0,
            });
        }
        assert_eq!(history.best_test_accuracy(), Some((1, 0.8)));
    }

    #[test]
    fn per_class_accuracy_divides_by_class_totals() {
        let mut evaluation = evaluation(0.0);
        evaluation.confusion[3][3] = 3;
        evaluation.confusion[3][6] = 1;
        let per_class = evaluation.per_class_accuracy();
        assert_eq!(per_class[3], 0.75);
        assert_eq!(per_class[0], 0.0);
    }

    #[test]
    fn csv_interleaves_epochs_after_their_batches() {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut history = History::default();
        for (epoch, batch) in [(0, 0), (0, 1), (1, 0)] {
            history.batches.push(BatchRecord {
                epoch,
                batch,
                batches_per_epoch: 2,
                step: (epoch * 2 + batch) as u64,
                images: 4,
                loss: 1.0,
                accuracy: 0.5,
                learning_rate: 0.1,
                images_per_second: 100.0,
                seconds: 0.1,
            });
        }
        history.epochs.push(EpochRecord {
            epoch: 0,
            train_loss: 1.0,
            train_accuracy: 0.5,
            test: evaluation(0.6),
            images_per_second: 100.0,
            elapsed_seconds: 2.0,
        });
        let path = dir.path().join("metrics.csv");
        history.write_csv(&path).expect("write csv");
        let text = std::fs::read_to_string(path).expect("read csv");
        let kinds: Vec<&str> = text
            .lines()
            .skip(1)
            .map(|l| l.split(',').next().unwrap_or(""))
            .collect();
        assert_eq!(kinds, ["batch", "batch", "epoch", "batch"]);
    }
}
