//! Checkpoints that lose nothing: model weights, optimizer state, the position in the run (epoch,
//! batch, step), the metric history and the config used, in one file with a checksum.
//!
//! The shuffle order and the flips of every batch are derived from `training.seed` and the
//! position (see `data::batcher`), so the position *is* the RNG state: a resumed run visits exactly
//! the batches an uninterrupted one would.
//!
//! Layout: magic, format version (u32), then three length-prefixed (u64) sections (metadata JSON,
//! model record, optimizer record), then the MD5 of everything before it. Files are written with
//! [`crate::files::write_bytes_atomic`], so a crash mid-write never replaces the last good one.

use std::fs;
use std::path::{Path, PathBuf};

use md5::{Digest, Md5};
use serde::{Deserialize, Serialize};
use thiserror::Error;

use burn::module::Module;
use burn::store::ModuleRecord;
use burn::tensor::Bytes;

use super::metrics::{EpochTotals, History};
use crate::config::Config;
use crate::model::AlexNet;

/// The first bytes of every checkpoint file: what tells this program's checkpoints from other
/// tools' `.ckpt` files (PyTorch Lightning's are zip archives).
pub const MAGIC: &[u8; 16] = b"ALEXNET-TUI-CKPT";
const FORMAT_VERSION: u32 = 1;
pub const EXTENSION: &str = "ckpt";
/// The folder of a run's checkpoints, inside the run folder.
pub const CHECKPOINTS_DIR: &str = "checkpoints";

/// Everything but the tensors.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckpointMeta {
    pub run_id: String,
    pub config: Config,
    /// The next batch to train: epoch and batch within it (both from 0).
    pub epoch: usize,
    pub batch: usize,
    /// Training steps taken so far.
    pub step: u64,
    pub history: History,
    /// Sums over the batches of the unfinished epoch, so its train loss and accuracy stay exact.
    pub epoch_totals: EpochTotals,
    /// Test accuracy of exactly these weights, when they were evaluated (epoch ends).
    pub test_accuracy: Option<f64>,
    pub saved_at_unix: u64,
}

impl CheckpointMeta {
    /// The metadata of a run that has not trained yet: position zero, empty history.
    pub fn at_start(run_id: impl Into<String>, config: Config) -> CheckpointMeta {
        CheckpointMeta {
            run_id: run_id.into(),
            config,
            epoch: 0,
            batch: 0,
            step: 0,
            history: History::default(),
            epoch_totals: EpochTotals::default(),
            test_accuracy: None,
            saved_at_unix: 0,
        }
    }
}

/// A checkpoint in memory.
#[derive(Debug, Clone, PartialEq)]
pub struct Checkpoint {
    pub meta: CheckpointMeta,
    pub model: Vec<u8>,
    pub optimizer: Vec<u8>,
}

#[derive(Debug, Error)]
pub enum CheckpointError {
    #[error("{path}: cannot read the checkpoint: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: not an alexnet-tui checkpoint (wrong magic bytes)")]
    NotACheckpoint { path: PathBuf },
    #[error(
        "{path}: checkpoint format version {found}, this program reads version {FORMAT_VERSION}"
    )]
    Version { path: PathBuf, found: u32 },
    #[error("{path}: the checkpoint is truncated or corrupt ({what})")]
    Corrupt { path: PathBuf, what: String },
    #[error("{path}: cannot write the checkpoint: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("no checkpoint found under {0}")]
    NoneFound(PathBuf),
    #[error("{path}: {message}")]
    Load { path: PathBuf, message: String },
    #[error("cannot serialize the {what}: {message}")]
    Serialize { what: &'static str, message: String },
}

impl CheckpointError {
    /// Whether the failure was a full disk (or quota), which freeing space can cure.
    pub fn is_out_of_space(&self) -> bool {
        matches!(self, CheckpointError::Write { source, .. }
            if matches!(source.kind(), std::io::ErrorKind::StorageFull | std::io::ErrorKind::QuotaExceeded))
    }
}

impl Checkpoint {
    pub fn encode(&self) -> Result<Vec<u8>, CheckpointError> {
        let meta = serde_json::to_vec(&self.meta).map_err(|error| CheckpointError::Serialize {
            what: "checkpoint metadata",
            message: error.to_string(),
        })?;
        let mut out = Vec::with_capacity(64 + meta.len() + self.model.len() + self.optimizer.len());
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
        for section in [&meta, &self.model, &self.optimizer] {
            out.extend_from_slice(&(section.len() as u64).to_le_bytes());
            out.extend_from_slice(section);
        }
        let digest = Md5::digest(&out);
        out.extend_from_slice(&digest);
        Ok(out)
    }

    pub fn decode(bytes: &[u8], path: &Path) -> Result<Checkpoint, CheckpointError> {
        let corrupt = |what: &str| CheckpointError::Corrupt {
            path: path.to_path_buf(),
            what: what.to_string(),
        };
        if bytes.len() < MAGIC.len() || &bytes[..MAGIC.len()] != MAGIC {
            return Err(CheckpointError::NotACheckpoint {
                path: path.to_path_buf(),
            });
        }
        let mut at = MAGIC.len();
        let version = read_u32(bytes, &mut at).ok_or_else(|| corrupt("no version"))?;
        if version != FORMAT_VERSION {
            return Err(CheckpointError::Version {
                path: path.to_path_buf(),
                found: version,
            });
        }
        if bytes.len() < at + 16 {
            return Err(corrupt("shorter than its header"));
        }
        let body_end = bytes.len() - 16;
        if Md5::digest(&bytes[..body_end]).as_slice() != &bytes[body_end..] {
            return Err(corrupt("checksum mismatch"));
        }
        let mut sections = Vec::with_capacity(3);
        for name in ["metadata", "model weights", "optimizer state"] {
            let len = read_u64(bytes, &mut at).ok_or_else(|| corrupt(name))? as usize;
            let end = at
                .checked_add(len)
                .filter(|&end| end <= body_end)
                .ok_or_else(|| corrupt(name))?;
            sections.push(&bytes[at..end]);
            at = end;
        }
        if at != body_end {
            return Err(corrupt("unexpected bytes after the sections"));
        }
        let meta: CheckpointMeta = serde_json::from_slice(sections[0])
            .map_err(|error| corrupt(&format!("metadata: {error}")))?;
        Ok(Checkpoint {
            meta,
            model: sections[1].to_vec(),
            optimizer: sections[2].to_vec(),
        })
    }

    /// Writes atomically: a crash or a full disk never leaves a half-written checkpoint.
    pub fn write(&self, path: &Path) -> Result<(), CheckpointError> {
        let bytes = self.encode()?;
        crate::files::write_atomic(path, |file| {
            std::io::Write::write_all(file, &bytes)?;
            // Fail point: the fault tests kill the process here, the temporary file written and
            // not yet renamed over the checkpoint's name.
            fail::fail_point!("checkpoint-write", |_| Ok(()));
            Ok(())
        })
        .map_err(|source| CheckpointError::Write {
            path: path.to_path_buf(),
            source,
        })
    }

    pub fn read(path: &Path) -> Result<Checkpoint, CheckpointError> {
        let bytes = fs::read(path).map_err(|source| CheckpointError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Self::decode(&bytes, path)
    }
}

/// The model's weights as bytes (burn's record format; f32 values are stored unchanged).
pub fn model_to_bytes(model: &AlexNet) -> Result<Vec<u8>, CheckpointError> {
    model
        .clone()
        .into_record()
        .into_bytes()
        .map(|bytes| bytes.to_vec())
        .map_err(|error| CheckpointError::Serialize {
            what: "model weights",
            message: error.to_string(),
        })
}

/// Loads weights saved by [`model_to_bytes`] into a model of the same shape; `path` names the
/// checkpoint in messages.
pub fn model_from_bytes(
    model: AlexNet,
    bytes: Vec<u8>,
    path: &Path,
) -> Result<AlexNet, CheckpointError> {
    let load_error = |message: String| CheckpointError::Load {
        path: path.to_path_buf(),
        message,
    };
    let record = ModuleRecord::from_bytes(Bytes::from_bytes_vec(bytes))
        .map_err(|error| load_error(format!("the model weights cannot be read: {error}")))?;
    model
        .try_load_record(record)
        .map_err(|error| load_error(format!("the model weights do not fit this model: {error}")))
}

fn read_u32(bytes: &[u8], at: &mut usize) -> Option<u32> {
    let slice = bytes.get(*at..*at + 4)?;
    *at += 4;
    Some(u32::from_le_bytes(slice.try_into().ok()?))
}

fn read_u64(bytes: &[u8], at: &mut usize) -> Option<u64> {
    let slice = bytes.get(*at..*at + 8)?;
    *at += 8;
    Some(u64::from_le_bytes(slice.try_into().ok()?))
}

/// The file name of a checkpoint at a position: sorts by step.
pub fn file_name(step: u64, epoch: usize, batch: usize) -> String {
    format!(
        "step-{step:09}-epoch-{:03}-batch-{batch:05}.{EXTENSION}",
        epoch + 1
    )
}

/// This program's checkpoint files directly in `dir`, oldest step first: regular files (a link
/// is not followed) named `*.ckpt` that begin with [`MAGIC`]. Other tools' `.ckpt` files are
/// never listed, so never counted, thinned, cleaned or resumed.
pub fn list(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .map(|entry| entry.path())
                .filter(|path| path.extension().is_some_and(|ext| ext == EXTENSION))
                .filter(|path| is_checkpoint(path))
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    files
}

/// Whether `path` is a regular file that begins as this program's checkpoints do.
pub fn is_checkpoint(path: &Path) -> bool {
    use std::io::Read;
    let regular = fs::symlink_metadata(path).is_ok_and(|meta| meta.is_file());
    let mut start = [0u8; MAGIC.len()];
    regular
        && fs::File::open(path)
            .and_then(|mut file| file.read_exact(&mut start))
            .is_ok_and(|()| &start == MAGIC)
}

/// The most recently written checkpoint in any run under `runs_dir` that no other process holds
/// (a run's lock, see [`super::lock`]). Run folders reached through a link are passed over: a
/// resume writes into the run's folder, which belongs where it is.
///
/// This is what `latest` names where a checkpoint is asked for (`--resume latest`,
/// `--checkpoint latest`). Where a run is asked for, `latest` is the run started last
/// (`runs::newest`), which need not be the run this checkpoint belongs to.
pub fn newest_unheld(runs_dir: &Path) -> Result<PathBuf, CheckpointError> {
    let mut best: Option<(std::time::SystemTime, PathBuf)> = None;
    let runs = fs::read_dir(runs_dir).map_err(|_| CheckpointError::NoneFound(runs_dir.into()))?;
    for run in runs.filter_map(Result::ok) {
        if run.file_type().is_ok_and(|kind| kind.is_symlink()) {
            continue;
        }
        if matches!(super::lock::state(&run.path()), super::lock::LockState::Held(owner) if !owner.is_me())
        {
            continue;
        }
        for file in list(&run.path().join(CHECKPOINTS_DIR)) {
            let Ok(modified) = fs::metadata(&file).and_then(|m| m.modified()) else {
                continue;
            };
            if best.as_ref().is_none_or(|(time, _)| modified > *time) {
                best = Some((modified, file));
            }
        }
    }
    best.map(|(_, path)| path)
        .ok_or_else(|| CheckpointError::NoneFound(runs_dir.to_path_buf()))
}

/// Deletes all but the newest `keep` checkpoints in `dir`, always sparing the one with the best
/// test accuracy. `accuracy_of` reads a file's recorded accuracy. Returns the deleted paths.
pub fn prune(dir: &Path, keep: usize, accuracy_of: &dyn Fn(&Path) -> Option<f64>) -> Vec<PathBuf> {
    let files = list(dir);
    if files.len() <= keep {
        return Vec::new();
    }
    let best = files
        .iter()
        .filter_map(|path| accuracy_of(path).map(|accuracy| (accuracy, path.clone())))
        .fold(
            None::<(f64, PathBuf)>,
            |best, (accuracy, path)| match best {
                Some((best_accuracy, _)) if best_accuracy >= accuracy => best,
                _ => Some((accuracy, path)),
            },
        )
        .map(|(_, path)| path);
    let cut = files.len() - keep;
    let mut deleted = Vec::new();
    for path in &files[..cut] {
        if Some(path) == best.as_ref() {
            continue;
        }
        if fs::remove_file(path).is_ok() {
            deleted.push(path.clone());
        }
    }
    deleted
}

/// Reads only the metadata of a checkpoint, from the head of the file (a few kilobytes of a
/// file of hundreds of megabytes; the checksum, which covers the whole file, is not checked):
/// for pruning, listing and finding a run's newest checkpoint.
pub fn read_meta(path: &Path) -> Option<CheckpointMeta> {
    use std::io::Read;
    let mut file = fs::File::open(path).ok()?;
    let mut head = [0u8; MAGIC.len() + 4 + 8];
    file.read_exact(&mut head).ok()?;
    if &head[..MAGIC.len()] != MAGIC {
        return None;
    }
    let mut at = MAGIC.len();
    if read_u32(&head, &mut at)? != FORMAT_VERSION {
        return None;
    }
    let len = usize::try_from(read_u64(&head, &mut at)?).ok()?;
    let size = usize::try_from(file.metadata().ok()?.len()).ok()?;
    if len > size {
        return None;
    }
    let mut meta = vec![0u8; len];
    file.read_exact(&mut meta).ok()?;
    serde_json::from_slice(&meta).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Checkpoint {
        Checkpoint {
            meta: CheckpointMeta {
                run_id: "run".into(),
                config: Config::default(),
                epoch: 1,
                batch: 7,
                step: 42,
                history: History::default(),
                epoch_totals: EpochTotals::default(),
                test_accuracy: Some(0.5),
                saved_at_unix: 1,
            },
            model: vec![1, 2, 3, 4],
            optimizer: vec![9; 10],
        }
    }

    #[test]
    fn round_trips() {
        let checkpoint = sample();
        let bytes = checkpoint.encode().expect("encodes");
        assert_eq!(
            Checkpoint::decode(&bytes, Path::new("x")).expect("valid"),
            checkpoint
        );
    }

    #[test]
    fn rejects_corruption_truncation_and_foreign_files() {
        let bytes = sample().encode().expect("encodes");
        let path = Path::new("c.ckpt");
        let mut flipped = bytes.clone();
        let middle = flipped.len() / 2;
        flipped[middle] ^= 0xff;
        let message = Checkpoint::decode(&flipped, path)
            .expect_err("corrupt")
            .to_string();
        assert!(message.contains("checksum mismatch"), "{message}");
        let message = Checkpoint::decode(&bytes[..bytes.len() - 3], path)
            .expect_err("truncated")
            .to_string();
        assert!(message.contains("truncated or corrupt"), "{message}");
        let message = Checkpoint::decode(b"hello world, not a checkpoint", path)
            .expect_err("foreign")
            .to_string();
        assert!(
            message.contains("not an alexnet-tui checkpoint"),
            "{message}"
        );
    }

    #[test]
    fn the_metadata_is_read_from_the_head_alone_and_foreign_files_are_not_listed() {
        let dir = tempfile::tempdir().expect("temp dir");
        let ours = dir.path().join(file_name(42, 1, 7));
        sample().write(&ours).expect("write");
        assert_eq!(read_meta(&ours), Some(sample().meta));
        // A Lightning checkpoint (a zip archive), a text file, a link to ours.
        let lightning = dir.path().join("epoch=0-step=10.ckpt");
        fs::write(&lightning, b"PK\x03\x04 a zip archive").expect("write");
        fs::write(dir.path().join("notes.ckpt"), b"").expect("write");
        #[cfg(unix)]
        std::os::unix::fs::symlink(&ours, dir.path().join(file_name(99, 1, 9))).expect("link");
        assert_eq!(list(dir.path()), vec![ours.clone()]);
        assert_eq!(read_meta(&lightning), None);
        // A truncated head is no metadata, never a panic.
        let bytes = sample().encode().expect("encode");
        fs::write(&lightning, &bytes[..30]).expect("write");
        assert_eq!(read_meta(&lightning), None);
    }

    #[test]
    fn prune_keeps_newest_and_best() {
        let dir = tempfile::tempdir().expect("temp dir");
        let accuracies = [0.9, 0.5, 0.6, 0.7, 0.8];
        for (step, _) in accuracies.iter().enumerate() {
            fs::write(dir.path().join(file_name(step as u64, 0, step)), MAGIC).expect("write");
        }
        let accuracy_of = |path: &Path| {
            list(path.parent()?)
                .iter()
                .position(|p| p == path)
                .map(|i| accuracies[i])
        };
        let deleted = prune(dir.path(), 2, &accuracy_of);
        assert_eq!(deleted.len(), 2);
        let left = list(dir.path());
        assert_eq!(left.len(), 3);
        assert!(left[0].to_string_lossy().contains("step-000000000"));
    }
}
