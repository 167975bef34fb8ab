//! Run folders: `<checkpoint.dir>/<run-id>/`, named by the UTC time the run was created.

use std::path::{Path, PathBuf};

/// A run folder that could not be made.
#[derive(Debug, thiserror::Error)]
pub enum RunDirError {
    #[error("cannot create the run folder {path}: {source}")]
    Create {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot find a free run folder name under {0}")]
    NoFreeName(PathBuf),
}

/// Seconds since 1970 (0 if the clock is before it).
pub fn unix_now() -> u64 {
    u64::try_from(jiff::Timestamp::now().as_second()).unwrap_or(0)
}

/// `YYYYMMDD-HHMMSS` in UTC.
pub fn run_id_now() -> String {
    // Fail point: the fault tests give two processes the same id.
    fail::fail_point!("run-id", |id: Option<String>| id.unwrap_or_default());
    jiff::Timestamp::now()
        .to_zoned(jiff::tz::TimeZone::UTC)
        .strftime("%Y%m%d-%H%M%S")
        .to_string()
}

/// Creates a fresh run folder `<root>/<run-id>` with its `checkpoints/` (with a suffix if that
/// name is taken) and returns the id and the folder. The folder is made by a call that fails if
/// it exists, so two processes starting in the same second never share one.
pub fn create(root: &Path) -> Result<(String, PathBuf), RunDirError> {
    let create_error = |path: &Path| {
        let path = path.to_path_buf();
        move |source| RunDirError::Create { path, source }
    };
    std::fs::create_dir_all(root).map_err(create_error(root))?;
    let base = run_id_now();
    for attempt in 0..1000 {
        let id = if attempt == 0 {
            base.clone()
        } else {
            format!("{base}-{attempt}")
        };
        let dir = root.join(&id);
        // Fail point: the fault tests hold two processes here with the same name chosen.
        fail::fail_point!("run-dir-create");
        match std::fs::create_dir(&dir) {
            Ok(()) => {
                let checkpoints = dir.join(super::checkpoint::CHECKPOINTS_DIR);
                std::fs::create_dir(&checkpoints).map_err(create_error(&checkpoints))?;
                return Ok((id, dir));
            }
            Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(error) => return Err(create_error(&dir)(error)),
        }
    }
    Err(RunDirError::NoFreeName(root.to_path_buf()))
}

/// The run folder a checkpoint belongs to: `<run>/checkpoints/<file>`.
pub fn of_checkpoint(path: &Path) -> Option<PathBuf> {
    path.parent().and_then(Path::parent).map(Path::to_path_buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_ids_are_utc_dates_and_times() {
        let id = run_id_now();
        assert_eq!(id.len(), 15, "{id}");
        assert_eq!(&id[8..9], "-");
        let year: i32 = id[..4].parse().expect("year");
        assert!((2024..3000).contains(&year), "{id}");
        assert!(
            id[4..8]
                .chars()
                .chain(id[9..].chars())
                .all(|c| c.is_ascii_digit())
        );
    }

    #[test]
    fn a_taken_name_gets_a_suffix() {
        let root = tempfile::tempdir().expect("tempdir");
        let (first, first_dir) = create(root.path()).expect("first");
        let (second, second_dir) = create(root.path()).expect("second");
        assert!(first_dir.join("checkpoints").is_dir());
        assert!(second_dir.join("checkpoints").is_dir());
        // Both within the same second, or one second apart: never the same folder.
        assert_ne!(first, second);
    }
}
