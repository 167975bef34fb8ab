//! A range test's pick written into config.toml as `training.learning_rate`, for the dashboard
//! (`Enter`) and `alexnet-tui lr-find --write` alike. The file is edited, not rewritten:
//! `toml_edit` keeps every comment, blank line and key order, and only the one value changes (or
//! is added to `[training]` when the file left it to the profile). The new text replaces the file
//! in one piece ([`crate::files::write_atomic`], with the file's own permissions), so a failure
//! leaves it as it was; a file marked read-only is not touched. A dashboard's config watcher
//! then sees the save like any other edit.

use std::path::{Path, PathBuf};

use toml_edit::{DocumentMut, Item, Table, Value};

use crate::report::{Line, range_test};
use crate::train::range_test::round_rate;

/// The key the pick is written to; for the one-cycle and cosine schedules it is their peak.
pub const KEY: (&str, &str) = ("training", "learning_rate");

/// What was written.
#[derive(Debug, Clone, PartialEq)]
pub struct Written {
    pub path: PathBuf,
    /// The value the file had, as it was written there; `None` when the key was not set.
    pub old: Option<String>,
    pub new: String,
}

impl Written {
    pub fn line(&self) -> Line {
        range_test::written(
            &self.path,
            &format!("{}.{}", KEY.0, KEY.1),
            self.old.as_deref(),
            &self.new,
        )
    }
}

/// Why nothing was written; the file is as it was.
#[derive(Debug, thiserror::Error)]
pub enum PickError {
    #[error("{path}: cannot read it: {source}; nothing written")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: not valid TOML ({message}); nothing written")]
    Parse { path: PathBuf, message: String },
    #[error("{path}: `training` is not a table; nothing written")]
    NotATable { path: PathBuf },
    #[error("{path}: the file is read-only; nothing written")]
    ReadOnly { path: PathBuf },
    #[error("{path}: cannot write it ({source}); the file is as it was")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Writes `rate`, to two significant digits, as `training.learning_rate` in the config file at
/// `path` (a symbolic link is followed: the file it names is edited).
pub fn write(path: &Path, rate: f64) -> Result<Written, PickError> {
    let target = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    let read_error = |source| PickError::Read {
        path: path.to_path_buf(),
        source,
    };
    let metadata = std::fs::metadata(&target).map_err(read_error)?;
    if metadata.permissions().readonly() {
        return Err(PickError::ReadOnly {
            path: path.to_path_buf(),
        });
    }
    let text = std::fs::read_to_string(&target).map_err(read_error)?;
    let (edited, old, new) = edit(&text, round_rate(rate)).map_err(|error| match error {
        EditError::Parse(message) => PickError::Parse {
            path: path.to_path_buf(),
            message,
        },
        EditError::NotATable => PickError::NotATable {
            path: path.to_path_buf(),
        },
    })?;
    let permissions = metadata.permissions();
    crate::files::write_atomic(&target, |file| {
        file.set_permissions(permissions)?;
        std::io::Write::write_all(file, edited.as_bytes())
    })
    .map_err(|source| PickError::Write {
        path: path.to_path_buf(),
        source,
    })?;
    Ok(Written {
        path: path.to_path_buf(),
        old,
        new,
    })
}

enum EditError {
    Parse(String),
    NotATable,
}

/// `text` with `training.learning_rate` set to `rate`: the new text, the old value and the new
/// one as written.
fn edit(text: &str, rate: f64) -> Result<(String, Option<String>, String), EditError> {
    let mut document: DocumentMut = text
        .parse()
        .map_err(|error: toml_edit::TomlError| EditError::Parse(error.message().to_string()))?;
    let (section, key) = KEY;
    let table = document
        .entry(section)
        .or_insert_with(|| Item::Table(Table::new()))
        .as_table_like_mut()
        .ok_or(EditError::NotATable)?;
    let new = Value::from(rate);
    let new_text = bare(&new);
    let old = match table.get_mut(key).and_then(Item::as_value_mut) {
        Some(value) => {
            let old = bare(value);
            // The comment after the value and the spacing around it stay.
            let decor = value.decor().clone();
            *value = new;
            *value.decor_mut() = decor;
            Some(old)
        }
        None => {
            table.insert(key, Item::Value(new));
            None
        }
    };
    Ok((document.to_string(), old, new_text))
}

/// A value as written, without the spaces and comment around it.
fn bare(value: &Value) -> String {
    value.clone().decorated("", "").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The lines of `after` that differ from `before`'s, as (before, after) pairs (lines added
    /// at the end of a table shift the rest, so this compares after removing common lines).
    fn changed(before: &str, after: &str) -> (Vec<String>, Vec<String>) {
        let before: Vec<&str> = before.lines().collect();
        let after: Vec<&str> = after.lines().collect();
        let gone = before
            .iter()
            .filter(|line| !after.contains(line))
            .map(|line| line.to_string())
            .collect();
        let added = after
            .iter()
            .filter(|line| !before.contains(line))
            .map(|line| line.to_string())
            .collect();
        (gone, added)
    }

    #[test]
    fn a_written_value_changes_that_value_alone() {
        let text = "# a comment\n[training]\n# the rate\nlearning_rate = 0.05   # tried 0.1: diverged\nepochs = 2\n\n[ui]\nstart = false\n";
        let (edited, old, new) = edit(text, 0.0021).ok().expect("edited");
        assert_eq!((old.as_deref(), new.as_str()), (Some("0.05"), "0.0021"));
        assert_eq!(
            edited,
            text.replace("learning_rate = 0.05   #", "learning_rate = 0.0021   #")
        );
    }

    #[test]
    fn a_missing_key_is_added_to_its_table_and_a_missing_table_is_made() {
        let text = "[training]\n# learning_rate = 0.05\nepochs = 2\n\n# checkpoints\n[checkpoint]\nkeep = 3\n";
        let (edited, old, _) = edit(text, 0.003).ok().expect("edited");
        assert_eq!(old, None);
        assert_eq!(
            changed(text, &edited),
            (Vec::new(), vec!["learning_rate = 0.003".to_string()])
        );
        let parsed: toml::Table = toml::from_str(&edited).expect("valid TOML");
        assert_eq!(parsed["training"]["learning_rate"].as_float(), Some(0.003));
        assert_eq!(parsed["checkpoint"]["keep"].as_integer(), Some(3));

        let (edited, old, _) = edit("profile = \"seed\"\n", 0.01).ok().expect("edited");
        assert_eq!(old, None);
        assert_eq!(
            edited,
            "profile = \"seed\"\n\n[training]\nlearning_rate = 0.01\n"
        );
    }

    #[test]
    fn dotted_and_inline_keys_are_edited_where_they_are() {
        let (edited, old, _) = edit("training.learning_rate = 0.1\nmodel.resize = 96\n", 0.02)
            .ok()
            .expect("edited");
        assert_eq!(old.as_deref(), Some("0.1"));
        assert_eq!(edited, "training.learning_rate = 0.02\nmodel.resize = 96\n");
        let (edited, _, _) = edit("training = { learning_rate = 1, epochs = 2 }\n", 0.5)
            .ok()
            .expect("edited");
        assert_eq!(edited, "training = { learning_rate = 0.5, epochs = 2 }\n");
    }

    #[test]
    fn what_is_not_a_config_is_not_edited() {
        assert!(matches!(edit("[training\n", 0.1), Err(EditError::Parse(_))));
        assert!(matches!(
            edit("training = 3\n", 0.1),
            Err(EditError::NotATable)
        ));
    }

    #[test]
    fn a_read_only_file_is_left_alone() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("config.toml");
        let text = "[training]\nlearning_rate = 0.05\n";
        std::fs::write(&path, text).expect("write");
        let mut permissions = std::fs::metadata(&path).expect("metadata").permissions();
        permissions.set_readonly(true);
        std::fs::set_permissions(&path, permissions).expect("read-only");
        let error = write(&path, 0.002).expect_err("read-only");
        assert!(matches!(error, PickError::ReadOnly { .. }), "{error}");
        assert_eq!(std::fs::read_to_string(&path).expect("read"), text);
    }

    #[test]
    fn the_file_is_replaced_whole_keeping_its_permissions() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("config.toml");
        std::fs::write(&path, "[training]\nlearning_rate = 0.05\n").expect("write");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).expect("mode");
        let written = write(&path, 0.002_137).expect("written");
        assert_eq!(written.new, "0.0021");
        assert_eq!(
            written.line().text,
            format!(
                "{}: training.learning_rate = 0.0021 (was 0.05)",
                path.display()
            )
        );
        assert_eq!(
            std::fs::read_to_string(&path).expect("read"),
            "[training]\nlearning_rate = 0.0021\n"
        );
        let mode = std::fs::metadata(&path)
            .expect("metadata")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o640);
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .expect("folder")
            .map(|entry| entry.expect("entry").file_name())
            .collect();
        assert_eq!(names, ["config.toml"], "no temporary file is left");
    }
}
