//! Watching config.toml: every save is parsed and validated, and the result (a new config or the
//! error with its line) arrives on a channel. `control` decides what it means for the run.

use std::path::{Path, PathBuf};
use std::time::Duration;

use notify::{RecursiveMode, Watcher};
use tokio::sync::mpsc::{UnboundedReceiver, unbounded_channel};

use crate::config::{Config, ConfigError};

/// The outcome of one save of the file.
pub type Reload = Result<Config, ConfigError>;

/// Keeps the file watcher alive; drop it to stop watching.
pub struct ConfigWatcher {
    _watcher: notify::RecommendedWatcher,
}

impl ConfigWatcher {
    /// Watches `path` (its folder, so that editors that replace the file are seen too). Every
    /// save arrives on the returned channel, parsed and validated.
    pub fn new(
        path: &Path,
        profile_override: Option<String>,
    ) -> notify::Result<(ConfigWatcher, UnboundedReceiver<Reload>)> {
        let (tx, rx) = unbounded_channel();
        let (raw_tx, raw_rx) = std::sync::mpsc::channel::<()>();
        let file = path.to_path_buf();
        let name = file.file_name().map(|n| n.to_os_string());
        let mut watcher =
            notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
                if let Ok(event) = event
                    && (event.kind.is_modify() || event.kind.is_create())
                    && event
                        .paths
                        .iter()
                        .any(|p| p.file_name().map(|n| n.to_os_string()) == name)
                {
                    let _ = raw_tx.send(());
                }
            })?;
        let folder = match path.parent() {
            Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
            _ => PathBuf::from("."),
        };
        watcher.watch(&folder, RecursiveMode::NonRecursive)?;
        // Editors write in several steps; wait until the file has been quiet for a moment.
        std::thread::Builder::new()
            .name("config-watch".into())
            .spawn(move || {
                while raw_rx.recv().is_ok() {
                    while raw_rx.recv_timeout(Duration::from_millis(150)).is_ok() {}
                    let reload = Config::load(&file, profile_override.as_deref());
                    if tx.send(reload).is_err() {
                        break;
                    }
                }
            })
            .map_err(|e| notify::Error::generic(&e.to_string()))?;
        Ok((ConfigWatcher { _watcher: watcher }, rx))
    }
}
