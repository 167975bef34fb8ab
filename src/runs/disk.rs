//! How much disk a run folder takes, and when it was last written: its files' sizes, walked with
//! `symlink_metadata` (a link is counted as the link, never followed out of the folder).

use std::path::Path;
use std::time::SystemTime;

use super::CHECKPOINTS_DIR;
use crate::train::checkpoint;

/// What walking a run folder found.
#[derive(Debug, Default)]
pub(super) struct Usage {
    pub bytes: u64,
    pub checkpoints: usize,
    pub checkpoint_bytes: u64,
    /// The newest modification time of any file.
    pub modified: Option<SystemTime>,
    /// A part of the folder that could not be read.
    pub problem: Option<String>,
}

pub(super) fn usage(dir: &Path) -> Usage {
    let mut usage = Usage::default();
    walk(dir, &mut usage, 0);
    // This program's checkpoints only: another tool's `.ckpt` files are its own business.
    for path in checkpoint::list(&dir.join(CHECKPOINTS_DIR)) {
        if let Ok(meta) = std::fs::symlink_metadata(&path) {
            usage.checkpoints += 1;
            usage.checkpoint_bytes += meta.len();
        }
    }
    usage
}

fn walk(dir: &Path, usage: &mut Usage, depth: usize) {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(error) => {
            usage
                .problem
                .get_or_insert_with(|| format!("{}: cannot read: {error}", dir.display()));
            return;
        }
    };
    for entry in entries.filter_map(Result::ok) {
        let Ok(meta) = std::fs::symlink_metadata(entry.path()) else {
            continue;
        };
        if meta.is_dir() {
            // Run folders are two levels deep; a deeper tree is no run's.
            if depth < 4 {
                walk(&entry.path(), usage, depth + 1);
            }
            continue;
        }
        usage.bytes += meta.len();
        if let Ok(modified) = meta.modified() {
            usage.modified = usage.modified.max(Some(modified));
        }
    }
}
