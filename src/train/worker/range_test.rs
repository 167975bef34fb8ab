//! The worker's range-test mode ([`crate::train::range_test`]): from Ready, batches in the order
//! training would take them next, through the same step, at a learning rate rising batch by
//! batch; then the weights and the optimizer state as they were before, from an in-memory copy
//! of their bytes (what a checkpoint holds). The position (epoch, batch, step) is never moved,
//! so the data order training then takes is the one it would have taken anyway.

use std::path::Path;
use std::sync::mpsc::TryRecvError;
use std::time::Instant;

use burn::tensor::Bytes;

use super::{Flow, Trainer};
use crate::data::batcher;
use crate::train::checkpoint::{self, CheckpointError};
use crate::train::range_test::{RangeEnd, RangeSettings, Recorder};
use crate::train::step::new_optimizer;
use crate::train::{Command, Error, Event};

/// The weights and the optimizer state before a range test.
struct Before {
    model: Vec<u8>,
    optimizer: Vec<u8>,
}

/// Named in the (unexpected) message of a copy that cannot be read back.
const COPY: &str = "the copy taken before the range test";

impl Trainer {
    /// Runs a range test with the `[lr_find]` settings in force, reports it and puts the weights
    /// and the optimizer state back. `Flow::Stop` when the front end asked to stop meanwhile.
    pub(super) fn range_test(&mut self) -> Result<Flow, Error> {
        let settings = RangeSettings::of(&self.config.lr_find);
        let before = self.keep_before()?;
        self.emit(Event::RangeStarted(settings));
        let mut recorder = Recorder::new(settings);
        let (mut flow, mut end) = (Flow::Continue, RangeEnd::Cancelled);
        let batches_per_epoch = self.batches_per_epoch();
        let train_len = self.data.train.len();
        let seed = self.config.training.seed;
        let (mut epoch, mut batch) = (self.epoch, self.batch);
        let mut order = batcher::epoch_order(seed, epoch, train_len);
        loop {
            match self.range_command() {
                Some(Command::Stop) => {
                    flow = Flow::Stop;
                    break;
                }
                Some(_) => break,
                None => {}
            }
            if batch >= batches_per_epoch {
                // A test longer than what is left of the epoch goes on into the next one's order.
                (epoch, batch) = (epoch + 1, 0);
                order = batcher::epoch_order(seed, epoch, train_len);
            }
            let step = recorder.next_step();
            let learning_rate = settings.rate(step);
            let started = Instant::now();
            let training_step = self.step + step as u64;
            let (loss, _, _) = self.step_on((&order, epoch, batch), training_step, learning_rate);
            batch += 1;
            let (point, finished) = recorder.record(loss);
            if let Some(point) = point {
                let seconds = started.elapsed().as_secs_f64();
                if !self.emit(Event::RangeBatch { point, seconds }) {
                    // The front end is gone.
                    flow = Flow::Stop;
                    break;
                }
            }
            if let Some(finished) = finished {
                end = finished;
                break;
            }
        }
        self.put_back(before)?;
        self.emit(Event::RangeTested(Box::new(recorder.finish(end))));
        Ok(flow)
    }

    /// A command that ends the range test (stop, or cancel the test), if one came. Others wait
    /// until it is over: a live edit or a start then applies to the weights as they were.
    fn range_command(&mut self) -> Option<Command> {
        loop {
            match self.commands.try_recv() {
                Ok(command @ (Command::Stop | Command::CancelRangeTest)) => return Some(command),
                Ok(Command::FindLearningRate) => {}
                Ok(command) => self.pending.push_back(command),
                Err(TryRecvError::Empty) => return None,
                Err(TryRecvError::Disconnected) => return Some(Command::Stop),
            }
        }
    }

    fn keep_before(&self) -> Result<Before, Error> {
        let model = checkpoint::model_to_bytes(self.model())?;
        let optimizer = self
            .optimizer
            .into_bytes()
            .map_err(|error| CheckpointError::Serialize {
                what: "optimizer state",
                message: error.to_string(),
            })?
            .to_vec();
        Ok(Before { model, optimizer })
    }

    fn put_back(&mut self, before: Before) -> Result<(), Error> {
        let path = Path::new(COPY);
        let model = checkpoint::model_from_bytes(self.model().clone(), before.model, path)?;
        self.model = Some(model);
        self.optimizer = new_optimizer(&self.config)
            .from_bytes(Bytes::from_bytes_vec(before.optimizer))
            .map_err(|error| CheckpointError::Load {
                path: path.to_path_buf(),
                message: format!("the optimizer state cannot be read: {error}"),
            })?;
        Ok(())
    }
}
