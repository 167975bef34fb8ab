//! Reading config.toml in three steps, so that every error keeps its line number (see the
//! module above), and finding a key's line in the text.

use std::path::{Path, PathBuf};

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
        let error_at =
            |span: Option<std::ops::Range<usize>>, key: Option<String>, message| ConfigError {
                path: path.to_path_buf(),
                line: span.map(|span| line_of_offset(text, span.start)),
                key,
                message,
            };
        // Step 1: the user's text alone. Syntax errors, unknown keys and wrong types stop here.
        let table: toml::Table = toml::from_str(text)
            .map_err(|error| error_at(error.span(), None, clean_toml_message(error.message())))?;
        let _typed: Config = toml::from_str(text).map_err(|error| {
            let key = key_at(text, error.span()).or_else(|| unknown_field(error.message()));
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

/// The line on which `key` is set inside `[section]` (or at the top level for `None`).
pub fn find_key_line(text: &str, section: Option<&str>, key: &str) -> Option<usize> {
    let mut current: Option<String> = None;
    for (index, line) in text.lines().enumerate() {
        let trimmed = line.trim();
        if let Some(header) = trimmed.strip_prefix('[') {
            current = header.split(']').next().map(|name| name.trim().to_string());
            continue;
        }
        let Some((name, _)) = trimmed.split_once('=') else {
            continue;
        };
        let name = name.trim().trim_matches('"');
        if current.as_deref() == section && name == key {
            return Some(index + 1);
        }
        // Dotted keys at the top level: `training.learning_rate = 0.1`.
        if current.is_none() && section.is_some_and(|s| name == format!("{s}.{key}")) {
            return Some(index + 1);
        }
    }
    None
}

/// The `section.key` written at the error's span, if the span points into a key/value line.
fn key_at(text: &str, span: Option<std::ops::Range<usize>>) -> Option<String> {
    let span = span?;
    let line_number = line_of_offset(text, span.start);
    let mut section: Option<String> = None;
    for (index, line) in text.lines().enumerate() {
        let trimmed = line.trim();
        if let Some(header) = trimmed.strip_prefix('[') {
            section = header.split(']').next().map(|s| s.trim().to_string());
        }
        if index + 1 == line_number {
            let (name, _) = trimmed.split_once('=')?;
            let name = name.trim().trim_matches('"');
            return Some(match &section {
                Some(section) => format!("{section}.{name}"),
                None => name.to_string(),
            });
        }
    }
    None
}

fn unknown_field(message: &str) -> Option<String> {
    let rest = message.strip_prefix("unknown field `")?;
    let name = rest.split('`').next()?;
    Some(name.to_string())
}

fn clean_toml_message(message: &str) -> String {
    message.trim().trim_end_matches('.').replace('\n', " ")
}
