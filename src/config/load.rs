//! Reading config.toml in three steps, so that every error keeps its line number (see the
//! module above), and finding a key and its line through the spans of toml's own parse.

use std::ops::Range;
use std::path::{Path, PathBuf};

use toml::de::{DeTable, DeValue};

use super::{Config, Profile};

/// A config error a person can fix: where it is and what is wrong.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error(
    "{}{}: {}{}",
    .path.display(),
    .line.map(|line| format!(":{line}")).unwrap_or_default(),
    .key.as_ref().map(|key| format!("{key}: ")).unwrap_or_default(),
    .message
)]
pub struct ConfigError {
    pub path: PathBuf,
    pub line: Option<usize>,
    pub key: Option<String>,
    pub message: String,
}

impl Config {
    /// Reads and validates a config file. `profile_override` (from `--profile`) wins over the
    /// file's `profile` key.
    pub fn load(path: &Path, profile_override: Option<&str>) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|error| ConfigError {
            path: path.to_path_buf(),
            line: None,
            key: None,
            message: format!("cannot read the config file: {error}"),
        })?;
        Self::parse(&text, path, profile_override)
    }

    /// Parses config text; `path` is only used in messages.
    pub fn parse(
        text: &str,
        path: &Path,
        profile_override: Option<&str>,
    ) -> Result<Config, ConfigError> {
        let error_at = |span: Option<Range<usize>>, key: Option<String>, message| ConfigError {
            path: path.to_path_buf(),
            line: span.map(|span| line_of_offset(text, span.start)),
            key,
            message,
        };
        // Step 1: the user's text alone. Syntax errors, unknown keys and wrong types stop here.
        let table: toml::Table = toml::from_str(text)
            .map_err(|error| error_at(error.span(), None, clean_toml_message(error.message())))?;
        let _typed: Config = toml::from_str(text).map_err(|error| {
            let key = key_at(text, error.span());
            error_at(error.span(), key, clean_toml_message(error.message()))
        })?;

        // Step 2: the profile's values, with what the user wrote laid over them.
        let profile_name = match profile_override {
            Some(name) => name.to_string(),
            None => match table.get("profile") {
                Some(toml::Value::String(name)) => name.clone(),
                _ => Profile::DEFAULT.name().to_string(),
            },
        };
        let profile = Profile::from_name(&profile_name).ok_or_else(|| ConfigError {
            path: path.to_path_buf(),
            line: if profile_override.is_some() {
                None
            } else {
                find_key_line(text, None, "profile")
            },
            key: Some("profile".to_string()),
            message: format!(
                "unknown profile \"{profile_name}\"; valid profiles: {}",
                Profile::ALL.map(Profile::name).join(", ")
            ),
        })?;
        let mut merged = toml::Table::try_from(profile.config()).map_err(|error| ConfigError {
            path: path.to_path_buf(),
            line: None,
            key: None,
            message: format!("internal error serializing profile {profile_name}: {error}"),
        })?;
        overlay(&mut merged, &table);
        merged.insert("profile".into(), toml::Value::String(profile_name));
        let config: Config = merged
            .try_into()
            .map_err(|error: toml::de::Error| ConfigError {
                path: path.to_path_buf(),
                line: None,
                key: None,
                message: clean_toml_message(error.message()),
            })?;

        // Step 3: ranges and rules.
        config.validate().map_err(|(key, message)| {
            let (section, name) = key
                .split_once('.')
                .map_or((None, key), |(s, n)| (Some(s), n));
            ConfigError {
                path: path.to_path_buf(),
                line: find_key_line(text, section, name),
                key: Some(key.to_string()),
                message,
            }
        })?;
        Ok(config)
    }
}

fn overlay(base: &mut toml::Table, top: &toml::Table) {
    for (key, value) in top {
        match (base.get_mut(key), value) {
            (Some(toml::Value::Table(base_inner)), toml::Value::Table(top_inner)) => {
                overlay(base_inner, top_inner)
            }
            _ => {
                base.insert(key.clone(), value.clone());
            }
        }
    }
}

fn line_of_offset(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}

/// The line on which `key` is set inside `[section]` (or at the top level for `None`), however
/// it is written (under a `[section]` header, as a dotted key, in an inline table).
fn find_key_line(text: &str, section: Option<&str>, key: &str) -> Option<usize> {
    let path = section.map_or_else(|| key.to_string(), |section| format!("{section}.{key}"));
    written_keys(text)
        .into_iter()
        .find(|written| written.path == path)
        .map(|written| line_of_offset(text, written.key.start))
}

/// The `section.key` an error's span points at: the key whose name is there (`optimizer` for an
/// unknown `[optimizer]`, `extra` for an unknown `[extra.inner]`), else the innermost key whose
/// value holds it (`training.epochs` for a wrong value).
fn key_at(text: &str, span: Option<Range<usize>>) -> Option<String> {
    let at = span?.start;
    let holds = |range: &Range<usize>| range.start <= at && at < range.end.max(range.start + 1);
    let keys = written_keys(text);
    let innermost = |found: &dyn Fn(&WrittenKey) -> bool| {
        keys.iter()
            .filter(|written| found(written))
            .max_by_key(|written| written.path.matches('.').count())
            .map(|written| written.path.clone())
    };
    innermost(&|written| holds(&written.key))
        .or_else(|| innermost(&|written| holds(&written.value)))
}

/// A key of the config text, dotted from the top (`training.epochs`), and where its name and
/// its value are written.
struct WrittenKey {
    path: String,
    key: Range<usize>,
    value: Range<usize>,
}

/// Every key of `text`, tables and their keys alike, with the spans toml's parser gives them;
/// none for text that does not parse (its syntax error is reported before any key is looked up).
fn written_keys(text: &str) -> Vec<WrittenKey> {
    fn collect(table: &DeTable<'_>, prefix: &str, keys: &mut Vec<WrittenKey>) {
        for (key, value) in table.iter() {
            let name: &str = key.get_ref();
            let path = if prefix.is_empty() {
                name.to_string()
            } else {
                format!("{prefix}.{name}")
            };
            if let DeValue::Table(inner) = value.get_ref() {
                collect(inner, &path, keys);
            }
            keys.push(WrittenKey {
                path,
                key: key.span(),
                value: value.span(),
            });
        }
    }
    let mut keys = Vec::new();
    if let Ok(document) = DeTable::parse(text) {
        collect(document.get_ref(), "", &mut keys);
    }
    keys
}

fn clean_toml_message(message: &str) -> String {
    message.trim().trim_end_matches('.').replace('\n', " ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rule_broken_is_placed_on_its_key_however_the_key_is_written() {
        for (text, line) in [
            ("[training]\nepochs = 3\nbatch_size = 0\n", 3),
            ("profile = \"fast\"\ntraining.batch_size = 0\n", 2),
            ("[training]\n\"batch_size\" = 0\n", 2),
            ("\n\ntraining = { epochs = 3, batch_size = 0 }\n", 3),
            (
                "[model]\nresize = 96\n\n[training]\n# batch_size = 64\nbatch_size = 0\n",
                6,
            ),
        ] {
            let error = Config::parse(text, Path::new("c.toml"), None).expect_err(text);
            assert_eq!(
                (error.line, error.key.as_deref()),
                (Some(line), Some("training.batch_size")),
                "{text}"
            );
        }
    }

    #[test]
    fn a_wrong_value_is_named_by_its_key_and_an_unknown_table_by_its_name() {
        let error = Config::parse("[training]\nflip = 3\n", Path::new("c.toml"), None)
            .expect_err("an integer for a bool");
        assert_eq!(
            (error.line, error.key.as_deref()),
            (Some(2), Some("training.flip"))
        );
        let error = Config::parse(
            "ui.start = true\n[extra.inner]\nx = 1\n",
            Path::new("c.toml"),
            None,
        )
        .expect_err("an unknown table");
        assert_eq!((error.line, error.key.as_deref()), (Some(2), Some("extra")));
    }
}
