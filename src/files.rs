//! Every file the program writes (checkpoints, metrics, charts, exports) goes through
//! [`write_atomic`], so that a crash, a kill or a full disk never leaves a half-written file where
//! a reader, or the next run, expects a whole one.
//!
//! The bytes go to a temporary file in the target's own folder (a rename is atomic only within
//! one file system), are flushed and synced to disk, and the temporary is then renamed over the
//! target: a reader sees either the old file or the new one, never a mix. The folder is synced
//! afterwards so that the rename itself survives a power loss. On any failure the temporary is
//! removed and the old file is left as it was.
//!
//! `tempfile` makes the temporary: it picks a name no other writer uses, creates it without
//! following an existing file, and deletes it when it is dropped unpersisted, which is the
//! clean-up on every error path, including a panic in the caller's closure.

use std::fs::File;
use std::io::{self, Write};
use std::path::Path;

/// Writes `path` in one piece: `write` fills a fresh file, which then replaces `path` at once.
///
/// Missing folders on the way are created. Errors are passed through unchanged, so their kind
/// tells a full disk ([`io::ErrorKind::StorageFull`]) or a denied permission from the rest.
pub fn write_atomic(
    path: &Path,
    write: impl FnOnce(&mut File) -> io::Result<()>,
) -> io::Result<()> {
    let folder = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    std::fs::create_dir_all(folder)?;

    let mut builder = tempfile::Builder::new();
    // Named after the target, so that a temporary left by a power cut says what it was for.
    let prefix = path
        .file_name()
        .map(|name| format!(".{}.", name.to_string_lossy()));
    if let Some(prefix) = &prefix {
        builder.prefix(prefix);
    }
    // tempfile creates its files readable by the owner only; ask for what `fs::write` gives (the
    // umask still applies), since the temporary becomes the file people open.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        builder.permissions(std::fs::Permissions::from_mode(0o666));
    }
    let mut temporary = builder.tempfile_in(folder)?;

    write(temporary.as_file_mut())?;
    temporary.as_file_mut().flush()?;
    // Without this the rename could reach the disk before the data, and a crash would leave the
    // target empty or short.
    temporary.as_file().sync_all()?;
    temporary.persist(path).map_err(|failed| failed.error)?;

    sync_folder(folder);
    Ok(())
}

/// Writes `bytes` to `path` in one piece (see [`write_atomic`]).
pub fn write_bytes_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    write_atomic(path, |file| file.write_all(bytes))
}

/// Removes the temporary files that [`write_atomic`] leaves in `folder` when its process is
/// killed in the middle of a write: `.<target>.<six random characters>`, as `tempfile` names
/// them with the prefix given above. Only a process that alone writes in `folder` (it holds the
/// run's lock) may call this: another writer's temporary would go too. Returns what it removed.
pub fn remove_leftovers(folder: &Path) -> Vec<std::path::PathBuf> {
    let Ok(entries) = std::fs::read_dir(folder) else {
        return Vec::new();
    };
    let mut removed = Vec::new();
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let is_leftover = name
            .strip_prefix('.')
            .and_then(|rest| rest.rsplit_once('.'))
            .is_some_and(|(target, random)| {
                !target.is_empty()
                    && random.len() == 6
                    && random.chars().all(|c| c.is_ascii_alphanumeric())
            });
        let is_file = entry.file_type().is_ok_and(|kind| kind.is_file());
        if is_leftover && is_file && std::fs::remove_file(entry.path()).is_ok() {
            removed.push(entry.path());
        }
    }
    removed
}

/// Makes a rename in `folder` durable. Best effort: the new file is already in place and whole,
/// and some file systems do not allow syncing a folder, so a failure here is no reason to report
/// the write as failed.
fn sync_folder(folder: &Path) {
    #[cfg(unix)]
    if let Ok(handle) = File::open(folder) {
        let _ = handle.sync_all();
    }
    #[cfg(not(unix))]
    let _ = folder;
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    fn names_in(folder: &Path) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(folder)
            .expect("test folder is readable")
            .map(|entry| {
                entry
                    .expect("test folder entry")
                    .file_name()
                    .to_string_lossy()
                    .into_owned()
            })
            .collect();
        names.sort();
        names
    }

    #[test]
    fn writes_and_then_replaces_the_content() {
        let folder = tempfile::tempdir().expect("temp dir");
        let path = folder.path().join("metrics.json");
        write_bytes_atomic(&path, b"first").expect("first write");
        assert_eq!(fs::read(&path).expect("read"), b"first");
        write_atomic(&path, |file| {
            file.write_all(b"second, ")?;
            file.write_all(b"longer")
        })
        .expect("second write");
        assert_eq!(fs::read(&path).expect("read"), b"second, longer");
        assert_eq!(names_in(folder.path()), ["metrics.json"]);
    }

    #[test]
    fn a_failing_writer_leaves_the_old_file_and_no_temporary() {
        let folder = tempfile::tempdir().expect("temp dir");
        let path = folder.path().join("checkpoint.bin");
        write_bytes_atomic(&path, b"good weights").expect("first write");

        let result = write_atomic(&path, |file| {
            file.write_all(b"half of the new wei")?;
            Err(io::Error::from(io::ErrorKind::StorageFull))
        });

        let error = result.expect_err("the writer failed");
        assert_eq!(
            error.kind(),
            io::ErrorKind::StorageFull,
            "kind kept for callers"
        );
        assert_eq!(fs::read(&path).expect("read"), b"good weights");
        assert_eq!(names_in(folder.path()), ["checkpoint.bin"]);
    }

    #[test]
    fn a_failed_rename_leaves_no_temporary() {
        let folder = tempfile::tempdir().expect("temp dir");
        // A folder where the file should go: the data is written, the rename is refused.
        let path = folder.path().join("chart.png");
        fs::create_dir(&path).expect("folder in the way");
        fs::write(path.join("inside"), b"kept").expect("file inside");

        write_bytes_atomic(&path, b"png").expect_err("cannot replace a folder with a file");

        assert_eq!(names_in(folder.path()), ["chart.png"]);
        assert_eq!(fs::read(path.join("inside")).expect("read"), b"kept");
    }

    #[test]
    fn missing_folders_are_created() {
        let folder = tempfile::tempdir().expect("temp dir");
        let path = folder
            .path()
            .join("runs")
            .join("2024-01-01")
            .join("metrics.csv");
        write_bytes_atomic(&path, b"epoch,loss\n").expect("write");
        assert_eq!(fs::read(&path).expect("read"), b"epoch,loss\n");
    }

    /// What the integration tests use to make failures real, and the one way to skip.
    #[allow(dead_code)] // this file uses a part of it
    mod skip {
        include!("../tests/common/skip.rs");
    }

    /// As root (as in CI and containers) permission bits refuse nothing, so the refusal is a
    /// read-only file system (a tmpfs mounted `ro`), which answers EROFS; anyone else gets a
    /// folder without write permission, which answers EACCES.
    #[cfg(unix)]
    #[test]
    fn a_read_only_folder_refuses_the_write_and_keeps_nothing() {
        use std::os::unix::fs::PermissionsExt;

        if skip::is_root() {
            let disk = match skip::Tmpfs::mount("ro,size=1m") {
                Ok(disk) => disk,
                Err(why) => return skip::skip("a write to a read-only file system", &why),
            };
            let error = write_bytes_atomic(&disk.path().join("out.json"), b"{}")
                .expect_err("the file system is read-only");
            assert_eq!(error.kind(), io::ErrorKind::ReadOnlyFilesystem, "{error}");
            assert!(
                names_in(disk.path()).is_empty(),
                "left {:?}",
                names_in(disk.path())
            );
            return;
        }
        let folder = tempfile::tempdir().expect("temp dir");
        let locked = folder.path().join("locked");
        fs::create_dir(&locked).expect("create folder");
        fs::set_permissions(&locked, fs::Permissions::from_mode(0o555)).expect("lock folder");
        let result = write_bytes_atomic(&locked.join("out.json"), b"{}");
        // Unlocked again so the temporary folder can be deleted.
        fs::set_permissions(&locked, fs::Permissions::from_mode(0o755)).expect("unlock folder");
        let error = result.expect_err("the folder is read-only");
        assert_eq!(error.kind(), io::ErrorKind::PermissionDenied, "{error}");
        assert!(names_in(&locked).is_empty(), "left {:?}", names_in(&locked));
    }

    /// A full disk (a tmpfs of 64 KiB, as root; elsewhere skipped) refuses a bigger file with
    /// ENOSPC, and the old file stays whole with no temporary beside it.
    #[cfg(unix)]
    #[test]
    fn a_full_disk_refuses_the_write_and_keeps_the_old_file() {
        let disk = match skip::Tmpfs::mount("size=64k") {
            Ok(disk) => disk,
            Err(why) => return skip::skip("a write to a full file system", &why),
        };
        let path = disk.path().join("checkpoint.bin");
        write_bytes_atomic(&path, b"good weights").expect("a small file fits");
        let error = write_bytes_atomic(&path, &vec![7u8; 1 << 20]).expect_err("1 MiB does not fit");
        assert_eq!(error.kind(), io::ErrorKind::StorageFull, "{error}");
        assert_eq!(fs::read(&path).expect("read"), b"good weights");
        assert_eq!(names_in(disk.path()), ["checkpoint.bin"]);
    }

    #[test]
    fn leftovers_of_an_interrupted_write_are_removed_and_nothing_else() {
        let folder = tempfile::tempdir().expect("temp dir");
        let target = folder
            .path()
            .join("step-000000008-epoch-001-batch-00000.ckpt");
        // What a write killed before its rename leaves: the temporary, named after its target.
        let temporary = tempfile::Builder::new()
            .prefix(".step-000000008-epoch-001-batch-00000.ckpt.")
            .tempfile_in(folder.path())
            .expect("temporary")
            .into_temp_path()
            .keep()
            .expect("kept");
        write_bytes_atomic(&target, b"whole").expect("write");
        for other in [".hidden", ".config.toml.bak", "notes.txt"] {
            fs::write(folder.path().join(other), b"x").expect("write");
        }
        assert_eq!(remove_leftovers(folder.path()), vec![temporary]);
        assert_eq!(
            names_in(folder.path()),
            [
                ".config.toml.bak",
                ".hidden",
                "notes.txt",
                "step-000000008-epoch-001-batch-00000.ckpt"
            ]
        );
    }

    #[cfg(unix)]
    #[test]
    fn the_file_gets_the_usual_permissions_not_the_temporarys() {
        use std::os::unix::fs::PermissionsExt;

        let folder = tempfile::tempdir().expect("temp dir");
        let written = folder.path().join("written");
        let plain = folder.path().join("plain");
        write_bytes_atomic(&written, b"x").expect("write");
        fs::write(&plain, b"x").expect("plain write");
        let mode = |path: &Path| fs::metadata(path).expect("metadata").permissions().mode() & 0o777;
        assert_eq!(mode(&written), mode(&plain));
    }
}
