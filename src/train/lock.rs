//! One writer per run: a process that trains in a run folder holds `run.lock` there, naming its
//! process id and when that process started (ids are reused; an id with its start time is not).
//! A second process is refused; a lock whose process is gone (killed, crashed) is stale, and
//! the next one to train there takes it over. `runs` tells running from crashed by it.
//!
//! Hand-written rather than an advisory-lock crate (fs2, fd-lock): `flock` locks vanish with
//! their process, so they cannot say *which* process trains a run, and other processes
//! (`runs`, `--resume latest`) need exactly that, without opening the file for writing.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// The lock's file name in a run folder.
pub const LOCK_FILE: &str = "run.lock";

/// Who holds a lock.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Owner {
    pub pid: u32,
    /// When that process started, seconds since 1970.
    pub process_started: u64,
}

impl Owner {
    /// This process.
    pub fn current() -> Owner {
        let pid = std::process::id();
        Owner {
            pid,
            process_started: crate::process::started_at(pid).unwrap_or(0),
        }
    }

    /// Whether this process still runs.
    pub fn is_alive(&self) -> bool {
        // Start times are whole seconds, read from the same source both times; allow one second
        // of rounding all the same.
        crate::process::started_at(self.pid)
            .is_some_and(|started| started.abs_diff(self.process_started) <= 1)
    }
}

/// What a run folder's lock says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LockState {
    /// No lock: nobody trains there.
    Free,
    /// A live process trains there.
    Held(Owner),
    /// The process that held it is gone.
    Stale(Owner),
}

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error(
        "{dir}: process {pid} is training this run; wait for it to end, or start a branch from one of its checkpoints (--branch)",
        dir = dir.display(),
        pid = owner.pid
    )]
    Held { dir: PathBuf, owner: Owner },
    #[error("{path}: cannot take the run's lock: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Reads the lock of `run_dir`. A lock that cannot be read (being written this instant, or
/// damaged) counts as held by nobody in particular only once it is old: see [`acquire`].
pub fn state(run_dir: &Path) -> LockState {
    match read_owner(&run_dir.join(LOCK_FILE)) {
        None => LockState::Free,
        Some(owner) if owner.is_alive() => LockState::Held(owner),
        Some(owner) => LockState::Stale(owner),
    }
}

fn read_owner(path: &Path) -> Option<Owner> {
    let text = std::fs::read_to_string(path).ok()?;
    serde_json::from_str(&text).ok().or(Some(Owner {
        // Unreadable: written by nobody we can name; treated as stale.
        pid: 0,
        process_started: 0,
    }))
}

/// A lock this process holds; dropping it removes the file.
#[derive(Debug)]
pub struct RunLock {
    path: PathBuf,
    owner: Owner,
}

impl RunLock {
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// Takes the lock of `run_dir` for this process: refused while a live process holds it, taken
/// over from a dead one. Taking it twice in one process succeeds (the same owner).
pub fn acquire(run_dir: &Path) -> Result<RunLock, LockError> {
    let path = run_dir.join(LOCK_FILE);
    let me = Owner::current();
    let io = |source| LockError::Io {
        path: path.clone(),
        source,
    };
    for _ in 0..3 {
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
        {
            Ok(mut file) => {
                let text = serde_json::to_string(&me).map_err(|e| io(std::io::Error::other(e)))?;
                file.write_all(text.as_bytes()).map_err(io)?;
                file.sync_all().map_err(io)?;
                return Ok(RunLock { path, owner: me });
            }
            Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => {
                match read_owner(&path) {
                    Some(owner) if owner == me => {
                        return Ok(RunLock { path, owner: me });
                    }
                    Some(owner) if owner.is_alive() => {
                        return Err(LockError::Held {
                            dir: run_dir.to_path_buf(),
                            owner,
                        });
                    }
                    // Stale (or gone since): remove it and try again. Two processes taking over
                    // the same stale lock both remove it, but only one creates the new one.
                    _ => {
                        // Fail point: the fault tests hold two takers here.
                        fail::fail_point!("lock-takeover");
                        match std::fs::remove_file(&path) {
                            Ok(()) => {}
                            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
                            Err(error) => return Err(io(error)),
                        }
                    }
                }
            }
            Err(error) => return Err(io(error)),
        }
    }
    match read_owner(&path) {
        Some(owner) => Err(LockError::Held {
            dir: run_dir.to_path_buf(),
            owner,
        }),
        None => Err(io(std::io::Error::other("the lock keeps changing hands"))),
    }
}

impl Drop for RunLock {
    fn drop(&mut self) {
        // Only our own: a lock taken over after ours was judged stale is not ours to remove.
        if read_owner(&self.path) == Some(self.owner) {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lock_is_held_while_alive_and_gone_when_dropped() {
        let dir = tempfile::tempdir().expect("tempdir");
        assert_eq!(state(dir.path()), LockState::Free);
        let lock = acquire(dir.path()).expect("free");
        assert!(
            matches!(state(dir.path()), LockState::Held(owner) if owner.pid == std::process::id())
        );
        // The same process may take it again (a resume in the same dashboard).
        let again = acquire(dir.path()).expect("same owner");
        drop(again);
        drop(lock);
        assert_eq!(state(dir.path()), LockState::Free);
    }

    #[test]
    fn a_lock_of_a_dead_process_is_stale_and_taken_over() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut child = std::process::Command::new("true").spawn().expect("spawn");
        let pid = child.id();
        let started = crate::process::started_at(pid).unwrap_or(1);
        child.wait().expect("wait");
        let dead = Owner {
            pid,
            process_started: started,
        };
        std::fs::write(
            dir.path().join(LOCK_FILE),
            serde_json::to_string(&dead).expect("json"),
        )
        .expect("write");
        assert_eq!(state(dir.path()), LockState::Stale(dead));
        let lock = acquire(dir.path()).expect("stale lock taken over");
        assert!(
            matches!(state(dir.path()), LockState::Held(owner) if owner.pid == std::process::id())
        );
        drop(lock);
    }

    #[test]
    fn a_live_process_keeps_its_lock() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .expect("spawn");
        let pid = child.id();
        let owner = Owner {
            pid,
            process_started: crate::process::started_at(pid).expect("sleep runs"),
        };
        std::fs::write(
            dir.path().join(LOCK_FILE),
            serde_json::to_string(&owner).expect("json"),
        )
        .expect("write");
        let error = acquire(dir.path()).expect_err("held");
        assert!(
            error
                .to_string()
                .contains(&format!("process {pid} is training")),
            "{error}"
        );
        // The same id with another start time is another process: the lock is stale.
        let reused = Owner {
            pid,
            process_started: owner.process_started + 100,
        };
        std::fs::write(
            dir.path().join(LOCK_FILE),
            serde_json::to_string(&reused).expect("json"),
        )
        .expect("write");
        assert_eq!(state(dir.path()), LockState::Stale(reused));
        let _ = child.kill();
        let _ = child.wait();
    }
}
