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
        // Editors write in several steps; wait until the file has been quiet for a moment. Not
        // notify's debouncers, tried against the tests below: notify-debouncer-mini reports no
        // event kinds, so the opening of the file by each load (inotify's IN_OPEN) would count
        // as a save and reload it again, endlessly; notify-debouncer-full emits each event once
        // it is 150 ms old, not once the file is quiet, so a save written in steps 30 ms apart
        // was loaded twice in a run of the first test (the first time possibly half written).
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

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use super::*;

    const ARRIVES_WITHIN: Duration = Duration::from_secs(5);
    /// Longer than the debounce and its scheduling on a busy machine: a reload that has not come
    /// by then is not coming.
    const QUIET_FOR: Duration = Duration::from_millis(800);

    fn watched(
        text: &str,
    ) -> (
        tempfile::TempDir,
        PathBuf,
        ConfigWatcher,
        UnboundedReceiver<Reload>,
    ) {
        let folder = tempfile::tempdir().expect("tempdir");
        let path = folder.path().join("config.toml");
        std::fs::write(&path, text).expect("write config");
        let (watcher, reloads) = ConfigWatcher::new(&path, None).expect("watch");
        (folder, path, watcher, reloads)
    }

    /// Every reload that arrives within `wait`.
    fn reloads_within(reloads: &mut UnboundedReceiver<Reload>, wait: Duration) -> Vec<Reload> {
        let deadline = Instant::now() + wait;
        let mut found = Vec::new();
        while Instant::now() < deadline {
            match reloads.try_recv() {
                Ok(reload) => found.push(reload),
                Err(_) => std::thread::sleep(Duration::from_millis(10)),
            }
        }
        found
    }

    /// The first reload, failing the test after [`ARRIVES_WITHIN`].
    fn next_reload(reloads: &mut UnboundedReceiver<Reload>) -> Reload {
        let deadline = Instant::now() + ARRIVES_WITHIN;
        while Instant::now() < deadline {
            if let Ok(reload) = reloads.try_recv() {
                return reload;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        panic!("no reload within {ARRIVES_WITHIN:?}");
    }

    #[test]
    fn a_save_written_in_steps_arrives_once_parsed_and_reading_it_is_no_save() {
        let (_folder, path, _watcher, mut reloads) = watched("[training]\nepochs = 3.0\n");
        // An editor that truncates, then writes in two steps.
        {
            use std::io::Write;
            let mut file = std::fs::File::create(&path).expect("truncate");
            file.write_all(b"[training]\n").expect("write");
            file.flush().expect("flush");
            std::thread::sleep(Duration::from_millis(30));
            file.write_all(b"epochs = 5.0\n").expect("write");
        }
        let config = next_reload(&mut reloads).expect("a valid config");
        assert_eq!(config.training.epochs, 5.0);
        // Loading the file opened it: that is no save, and nothing follows.
        assert!(reloads_within(&mut reloads, QUIET_FOR).is_empty());
    }

    #[test]
    fn a_file_replaced_by_rename_arrives() {
        let (folder, path, _watcher, mut reloads) = watched("[training]\nepochs = 3.0\n");
        // As editors that write a copy and rename it over the file (vim's backupcopy=no,
        // most IDEs, files::write_atomic).
        let copy = folder.path().join(".config.toml.new");
        std::fs::write(&copy, "[training]\nepochs = 7.0\n").expect("write copy");
        std::fs::rename(&copy, &path).expect("rename over");
        let config = next_reload(&mut reloads).expect("a valid config");
        assert_eq!(config.training.epochs, 7.0);
    }

    #[test]
    fn an_invalid_save_arrives_as_its_error_and_other_files_are_not_watched() {
        let (folder, path, _watcher, mut reloads) = watched("[training]\nepochs = 3.0\n");
        std::fs::write(folder.path().join("notes.txt"), "not the config").expect("write");
        assert!(reloads_within(&mut reloads, QUIET_FOR).is_empty());
        std::fs::write(&path, "[training]\nepochs = \"ten\"\n").expect("write");
        let error = next_reload(&mut reloads).expect_err("a wrong type");
        assert_eq!(
            (error.line, error.key.as_deref()),
            (Some(2), Some("training.epochs"))
        );
    }
}
