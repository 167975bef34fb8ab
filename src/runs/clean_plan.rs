//! `runs clean`: which checkpoint files removing frees disk from, planned first so that the
//! person sees the list before anything goes. Only `*.ckpt` files in a run's `checkpoints/` are
//! ever taken; metrics.csv, config.toml, run.json and curves.png stay, so a cleaned run is still
//! listed, compared and plotted (it can no longer be resumed). A run a live process trains is
//! never touched, checked when planning and again just before removing.

use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use super::{RunState, RunSummary, checkpoint_files};
use crate::train::lock::{self, LockError, LockState, Owner, Phase};

/// A checkpoint file to remove.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedFile {
    pub run_id: String,
    pub path: PathBuf,
    pub bytes: u64,
}

/// A run left alone, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    pub run_id: String,
    pub reason: String,
}

/// What cleaning would remove.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CleanPlan {
    pub files: Vec<PlannedFile>,
    pub skipped: Vec<Skipped>,
}

impl CleanPlan {
    pub fn bytes(&self) -> u64 {
        self.files.iter().map(|file| file.bytes).sum()
    }
}

/// Which runs to clean: `runs` (all of them when `named` is false, each run named otherwise),
/// those among them last written more than `older_than` before `now` when given.
pub fn plan(
    runs: &[RunSummary],
    named: bool,
    older_than: Option<Duration>,
    now: SystemTime,
) -> CleanPlan {
    let mut plan = CleanPlan::default();
    for run in runs {
        if let LockState::Held(owner) = lock::state(&run.dir) {
            plan.skipped.push(Skipped {
                run_id: run.id.clone(),
                reason: held_reason(owner),
            });
            continue;
        }
        // Never through a link: the folder it names belongs wherever it is.
        if std::fs::symlink_metadata(&run.dir).is_ok_and(|meta| meta.file_type().is_symlink()) {
            plan.skipped.push(Skipped {
                run_id: run.id.clone(),
                reason: "a link to a run folder elsewhere: clean it where it is".to_string(),
            });
            continue;
        }
        if let Some(age) = older_than {
            // A run whose files' times cannot be read is not known to be old: kept.
            let old = run
                .modified
                .and_then(|modified| now.duration_since(modified).ok())
                .is_some_and(|since| since > age);
            if !old {
                continue;
            }
        }
        let before = plan.files.len();
        for path in checkpoint_files(&run.dir) {
            // Regular files only: a link is not followed to whatever it names.
            let Ok(meta) = std::fs::symlink_metadata(&path) else {
                continue;
            };
            if meta.is_file() {
                plan.files.push(PlannedFile {
                    run_id: run.id.clone(),
                    path,
                    bytes: meta.len(),
                });
            }
        }
        if named && plan.files.len() == before {
            plan.skipped.push(Skipped {
                run_id: run.id.clone(),
                reason: if run.state == RunState::Damaged {
                    "damaged, and no checkpoints".to_string()
                } else {
                    "no checkpoints".to_string()
                },
            });
        }
    }
    plan
}

/// What cleaning removed.
#[derive(Debug, Default)]
pub struct Cleaned {
    pub files: usize,
    pub bytes: u64,
    /// Runs that started training after the plan was made: left alone.
    pub skipped: Vec<Skipped>,
    /// Files that could not be removed, and why.
    pub failed: Vec<(PathBuf, std::io::Error)>,
}

/// Why a held run is left alone.
fn held_reason(owner: Owner) -> String {
    match owner.phase {
        Phase::Opened => format!("opened to be resumed (process {})", owner.pid),
        Phase::Training | Phase::Cleaning => format!("running (process {})", owner.pid),
    }
}

/// Removes the files of `plan`, holding each run's lock while its files go: a run that a live
/// process has opened or started training since the plan was made is left alone, and none can
/// open it while its checkpoints are being removed.
pub fn execute(plan: &CleanPlan) -> Cleaned {
    let mut cleaned = Cleaned::default();
    let mut current: Option<(String, Option<lock::RunLock>)> = None;
    for file in &plan.files {
        if current
            .as_ref()
            .is_none_or(|(run_id, _)| *run_id != file.run_id)
        {
            // The previous run's lock is let go before the next is taken.
            drop(current.take());
            let dir = file.path.parent().and_then(std::path::Path::parent);
            // Held already (by another process, or this one): left alone.
            let held = dir.map(|dir| match lock::state(dir) {
                LockState::Held(owner) => Err(LockError::Held {
                    dir: dir.to_path_buf(),
                    owner,
                }),
                _ => lock::acquire(dir, Phase::Cleaning),
            });
            let taken = match held {
                Some(Ok(lock)) => Some(lock),
                Some(Err(LockError::Held { owner, .. })) => {
                    cleaned.skipped.push(Skipped {
                        run_id: file.run_id.clone(),
                        reason: format!("since the plan: {}", held_reason(owner)),
                    });
                    None
                }
                Some(Err(error)) => {
                    cleaned.skipped.push(Skipped {
                        run_id: file.run_id.clone(),
                        reason: error.to_string(),
                    });
                    None
                }
                None => None,
            };
            current = Some((file.run_id.clone(), taken));
        }
        if current.as_ref().is_none_or(|(_, lock)| lock.is_none()) {
            continue;
        }
        match std::fs::remove_file(&file.path) {
            Ok(()) => {
                cleaned.files += 1;
                cleaned.bytes += file.bytes;
            }
            // Gone already (thinned by its run, or another clean): nothing to free.
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
            Err(error) => cleaned.failed.push((file.path.clone(), error)),
        }
    }
    cleaned
}
