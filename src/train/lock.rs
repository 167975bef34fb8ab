//! One owner per run. A process that opens a run folder to resume it, or trains in it, holds an
//! exclusive OS lock on `run.lock` there, and writes into that file who it is: its process id,
//! when that process started (ids are reused; an id with its start time is not), and whether it
//! trains yet or has only opened the run (a dashboard waiting in Ready on `--resume`). A second
//! process is refused, naming the first; `runs`, `runs clean` and `--resume latest` tell a held
//! run from one whose process is gone.
//!
//! What the code does, and why:
//! - The lock is `flock(2)` (through std's `File::try_lock`): the kernel decides between any
//!   number of takers at once (exactly one gets it), and releases it when its process dies,
//!   however it dies (kill -9 included), so a crashed run is never locked. flock, not fcntl: an
//!   fcntl lock is released when *any* descriptor of the file closes in its process, and a
//!   flock lock belongs to its own open file.
//! - The file is never removed or replaced, only emptied when its owner lets go: a process could
//!   otherwise hold a lock on a file another process had unlinked and made anew, and both would
//!   own the run.
//! - Readers ask the kernel, with a shared lock taken and dropped at once, which fails only while
//!   an owner holds the exclusive one; they never remove or write anything. A taker that meets a
//!   reader's instant (or another taker's, between its lock and its first write) tries again for
//!   a moment before it gives up, so a reader never turns a taker away.
//! - Within one process, taking a run again (the session opens it, the worker trains in it)
//!   shares the one lock: a process-wide table holds it until the last handle is dropped.
//! - Versions before this one locked nothing and only wrote the file; a live process named in an
//!   unlocked file is still taken as the owner.
//!
//! `std::fs::File::try_lock` rather than a crate (fs2, fd-lock): it is the same system call, in
//! the standard library.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

/// The lock's file name in a run folder.
pub const LOCK_FILE: &str = "run.lock";

/// How long a taker keeps trying while the lock is held by nobody it can name (a reader's
/// instant, or another taker between its lock and its first write).
const TAKE_PATIENCE: Duration = Duration::from_secs(2);

/// What the owner does with the run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// Opened to be resumed; training has not started (a dashboard in Ready).
    Opened,
    /// Training in it (files of earlier versions say nothing: they trained).
    #[default]
    Training,
    /// `runs clean` is deleting its checkpoints.
    Cleaning,
}

/// Who holds a lock.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Owner {
    pub pid: u32,
    /// When that process started, seconds since 1970.
    pub process_started: u64,
    #[serde(default)]
    pub phase: Phase,
}

impl Owner {
    /// This process, doing `phase`.
    pub fn current(phase: Phase) -> Owner {
        let pid = std::process::id();
        Owner {
            pid,
            process_started: crate::process::started_at(pid).unwrap_or(0),
            phase,
        }
    }

    /// Whether this process still runs.
    pub fn is_alive(&self) -> bool {
        // Start times are whole seconds, read from the same source both times; allow one second
        // of rounding all the same.
        self.pid != 0
            && crate::process::started_at(self.pid)
                .is_some_and(|started| started.abs_diff(self.process_started) <= 1)
    }

    /// Whether this is the current process.
    pub fn is_me(&self) -> bool {
        self.pid == std::process::id() && self.is_alive()
    }
}

/// What a run folder's lock says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LockState {
    /// No lock: nobody has the run open.
    Free,
    /// A live process holds it (`pid` 0: one that has not written its name yet).
    Held(Owner),
    /// The process that held it is gone without letting go (killed, crashed).
    Stale(Owner),
}

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error(
        "{dir}: {holder}; wait for it to end, or start a branch from one of its checkpoints (--branch)",
        dir = dir.display(),
        holder = holder_text(owner)
    )]
    Held { dir: PathBuf, owner: Owner },
    #[error("{path}: cannot take the run's lock: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

fn holder_text(owner: &Owner) -> String {
    let who = if owner.pid == 0 {
        "another process".to_string()
    } else {
        format!("process {}", owner.pid)
    };
    match owner.phase {
        Phase::Training => format!("{who} is training this run"),
        Phase::Opened => format!("{who} has opened this run to resume it"),
        Phase::Cleaning => format!("{who} is deleting this run's checkpoints"),
    }
}

/// Reads the lock of `run_dir` without disturbing anyone: held (by a live process, or by one
/// that is writing its name this instant), stale (its process gone), or free.
pub fn state(run_dir: &Path) -> LockState {
    let path = run_dir.join(LOCK_FILE);
    let Ok(file) = File::open(&path) else {
        return LockState::Free;
    };
    match file.try_lock_shared() {
        Ok(()) => {
            let _ = file.unlock();
            match read_owner(&path) {
                None => LockState::Free,
                // An earlier version's process, which locked nothing.
                Some(owner) if owner.is_alive() && !owner.is_me() => LockState::Held(owner),
                Some(owner) => LockState::Stale(owner),
            }
        }
        Err(TryLockError::WouldBlock) => LockState::Held(named_holder(&path)),
        // A file system without flock: the file's word alone.
        Err(TryLockError::Error(_)) => match read_owner(&path) {
            None => LockState::Free,
            Some(owner) if owner.is_alive() => LockState::Held(owner),
            Some(owner) => LockState::Stale(owner),
        },
    }
}

/// The owner named in a held lock, waiting a moment for one that is writing its name.
fn named_holder(path: &Path) -> Owner {
    let deadline = Instant::now() + Duration::from_millis(200);
    loop {
        if let Some(owner) = read_owner(path).filter(|owner| owner.pid != 0) {
            return owner;
        }
        if Instant::now() >= deadline {
            return Owner {
                pid: 0,
                process_started: 0,
                phase: Phase::Training,
            };
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// The owner a lock file names: `None` for an empty (released) or missing file; an owner of
/// pid 0 for one that cannot be read (half-written, or damaged).
fn read_owner(path: &Path) -> Option<Owner> {
    let text = std::fs::read_to_string(path).ok()?;
    if text.trim().is_empty() {
        return None;
    }
    Some(serde_json::from_str(&text).unwrap_or(Owner {
        pid: 0,
        process_started: 0,
        phase: Phase::Training,
    }))
}

/// The lock one process holds on one run, shared by every [`RunLock`] of it in the process.
#[derive(Debug)]
struct Held {
    path: PathBuf,
    file: Mutex<File>,
    owner: Mutex<Owner>,
}

impl Held {
    fn write_owner(&self, owner: Owner) -> std::io::Result<()> {
        let text = serde_json::to_string(&owner).map_err(std::io::Error::other)?;
        let mut file = self.file.lock().unwrap_or_else(|e| e.into_inner());
        file.set_len(0)?;
        file.seek(SeekFrom::Start(0))?;
        file.write_all(text.as_bytes())?;
        file.sync_data()?;
        *self.owner.lock().unwrap_or_else(|e| e.into_inner()) = owner;
        Ok(())
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        // Emptied, never removed (see the module's notes); closing the file releases the lock.
        let file = self.file.get_mut().unwrap_or_else(|e| e.into_inner());
        let _ = file.set_len(0);
        let _ = file.sync_data();
    }
}

/// The runs this process holds, by their lock file's path.
static HELD: Mutex<Vec<(PathBuf, Weak<Held>)>> = Mutex::new(Vec::new());

/// A lock this process holds; the run is let go when the last handle of it is dropped.
#[derive(Debug, Clone)]
pub struct RunLock {
    held: Arc<Held>,
}

impl RunLock {
    pub fn path(&self) -> &Path {
        &self.held.path
    }

    pub fn owner(&self) -> Owner {
        *self.held.owner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Says in the file what this process now does with the run.
    pub fn set_phase(&self, phase: Phase) -> Result<(), LockError> {
        let mut owner = self.owner();
        if owner.phase == phase {
            return Ok(());
        }
        owner.phase = phase;
        self.held
            .write_owner(owner)
            .map_err(|source| LockError::Io {
                path: self.held.path.clone(),
                source,
            })
    }
}

/// Takes the lock of `run_dir` for this process, doing `phase`: refused while another live
/// process holds it, taken over from a dead one. Taking it again in the same process shares the
/// lock (and moves it on to `phase`, from opened to training).
pub fn acquire(run_dir: &Path, phase: Phase) -> Result<RunLock, LockError> {
    let io = |path: &Path, source| LockError::Io {
        path: path.to_path_buf(),
        source,
    };
    let dir = run_dir
        .canonicalize()
        .map_err(|source| io(run_dir, source))?;
    let path = dir.join(LOCK_FILE);
    let mut table = HELD.lock().unwrap_or_else(|e| e.into_inner());
    table.retain(|(_, held)| held.strong_count() > 0);
    if let Some(held) = table
        .iter()
        .find(|(held_path, _)| *held_path == path)
        .and_then(|(_, held)| held.upgrade())
    {
        let lock = RunLock { held };
        lock.set_phase(phase)?;
        return Ok(lock);
    }
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(|source| io(&path, source))?;
    // Fail point: the fault tests hold several takers here, so that they reach the lock together.
    fail::fail_point!("lock-takeover");
    let deadline = Instant::now() + TAKE_PATIENCE;
    loop {
        match file.try_lock() {
            Ok(()) => break,
            Err(TryLockError::WouldBlock) => {
                let holder = read_owner(&path).filter(Owner::is_alive);
                if let Some(owner) = holder.filter(|owner| !owner.is_me()) {
                    return Err(LockError::Held { dir, owner });
                }
                if Instant::now() >= deadline {
                    return Err(LockError::Held {
                        dir,
                        owner: named_holder(&path),
                    });
                }
                std::thread::sleep(Duration::from_millis(5));
            }
            Err(TryLockError::Error(source)) => return Err(io(&path, source)),
        }
    }
    // Locked. A live process of an earlier version may still name itself here (it locked
    // nothing): it owns the run.
    if let Some(owner) = read_owner(&path).filter(|owner| owner.is_alive() && !owner.is_me()) {
        return Err(LockError::Held { dir, owner });
    }
    let me = Owner::current(phase);
    let held = Arc::new(Held {
        path: path.clone(),
        file: Mutex::new(file),
        owner: Mutex::new(me),
    });
    held.write_owner(me).map_err(|source| io(&path, source))?;
    table.push((path, Arc::downgrade(&held)));
    Ok(RunLock { held })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write_owner(dir: &Path, owner: &Owner) {
        std::fs::write(
            dir.join(LOCK_FILE),
            serde_json::to_string(owner).expect("json"),
        )
        .expect("write");
    }

    #[test]
    fn a_lock_is_held_while_alive_shared_in_the_process_and_free_when_dropped() {
        let dir = tempfile::tempdir().expect("tempdir");
        assert_eq!(state(dir.path()), LockState::Free);
        let lock = acquire(dir.path(), Phase::Opened).expect("free");
        assert!(matches!(
            state(dir.path()),
            LockState::Held(owner) if owner.pid == std::process::id() && owner.phase == Phase::Opened
        ));
        // The same process may take it again (the worker after the session): one lock, now
        // training.
        let again = acquire(dir.path(), Phase::Training).expect("same process");
        assert_eq!(lock.owner().phase, Phase::Training);
        assert!(matches!(
            state(dir.path()),
            LockState::Held(owner) if owner.phase == Phase::Training
        ));
        drop(again);
        assert!(
            matches!(state(dir.path()), LockState::Held(_)),
            "one handle left"
        );
        drop(lock);
        assert_eq!(state(dir.path()), LockState::Free);
        assert!(
            dir.path().join(LOCK_FILE).is_file(),
            "emptied, never removed"
        );
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
            phase: Phase::Training,
        };
        write_owner(dir.path(), &dead);
        assert_eq!(state(dir.path()), LockState::Stale(dead));
        let lock = acquire(dir.path(), Phase::Training).expect("stale lock taken over");
        assert!(matches!(
            state(dir.path()),
            LockState::Held(owner) if owner.pid == std::process::id()
        ));
        drop(lock);
    }

    #[test]
    fn a_live_process_of_an_earlier_version_keeps_its_unlocked_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .expect("spawn");
        let pid = child.id();
        let owner = Owner {
            pid,
            process_started: crate::process::started_at(pid).expect("sleep runs"),
            phase: Phase::Training,
        };
        write_owner(dir.path(), &owner);
        assert_eq!(state(dir.path()), LockState::Held(owner));
        let error = acquire(dir.path(), Phase::Training).expect_err("held");
        assert!(
            error
                .to_string()
                .contains(&format!("process {pid} is training")),
            "{error}"
        );
        // The same id with another start time is another process: the lock is stale.
        let reused = Owner {
            process_started: owner.process_started + 100,
            ..owner
        };
        write_owner(dir.path(), &reused);
        assert_eq!(state(dir.path()), LockState::Stale(reused));
        let _ = child.kill();
        let _ = child.wait();
    }

    #[test]
    fn a_file_locked_by_another_process_is_held_even_before_it_names_anyone() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join(LOCK_FILE);
        std::fs::write(&path, "").expect("empty lock file");
        // flock(1) holds an exclusive lock on the file for as long as it waits for `sleep`
        // (`--close`: the lock is its alone, not inherited by `sleep`).
        let mut holder = std::process::Command::new("flock")
            .args(["--exclusive", "--close"])
            .arg(&path)
            .args(["sleep", "30"])
            .spawn()
            .expect("flock(1) from util-linux");
        let held = (0..200).any(|_| {
            std::thread::sleep(Duration::from_millis(10));
            matches!(state(dir.path()), LockState::Held(_))
        });
        assert!(
            held,
            "the kernel's lock is what counts, not the file's words"
        );
        let error = acquire(dir.path(), Phase::Training).expect_err("refused");
        assert!(error.to_string().contains("another process"), "{error}");
        let _ = holder.kill();
        let _ = holder.wait();
        let lock = acquire(dir.path(), Phase::Training).expect("free once it is gone");
        drop(lock);
    }
}
