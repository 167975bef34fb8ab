// What a test needs to make a failure real (root, a tmpfs it mounts), and the one way it may
// pass without checking. Shared by the integration tests (as `common::skip`) and by
// src/files.rs's unit tests (through `include!`, so no inner attributes or `//!` here).
//
// A test that cannot do the real thing here (no root, the mount refused) fails, saying what it
// did not check and why, unless ALEXNET_TUI_ALLOW_SKIP=1 is set: then it says so on the test's
// standard error (past cargo's capture, so it shows for a passing test too) and passes. CI sets
// nothing, so nothing is skipped there silently.

/// The environment variable that lets a test pass without the check it cannot make here.
pub const ALLOW_SKIP: &str = "ALEXNET_TUI_ALLOW_SKIP";

/// Whether skipping is allowed (`ALEXNET_TUI_ALLOW_SKIP=1`).
pub fn skip_allowed() -> bool {
    std::env::var(ALLOW_SKIP).is_ok_and(|value| value.trim() == "1")
}

/// A test that cannot check `what` here, because of `why`: fails unless skipping is allowed, in
/// which case it says so and returns (the caller then returns too).
#[track_caller]
pub fn skip(what: &str, why: &str) {
    assert!(
        skip_allowed(),
        "{what}: not checked: {why}. Run as root where a tmpfs can be mounted, or set \
         {ALLOW_SKIP}=1 to let this test pass without checking it"
    );
    use std::io::Write as _;
    let _ = std::io::stderr()
        .write_all(format!("SKIPPED ({ALLOW_SKIP}=1): {what}: not checked: {why}\n").as_bytes());
}

/// Whether this process runs as root (effective user id 0), read from /proc/self/status.
pub fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status.lines().find_map(|line| {
                let ids = line.strip_prefix("Uid:")?;
                Some(ids.split_whitespace().nth(1) == Some("0"))
            })
        })
        .unwrap_or(false)
}

/// A tmpfs mounted on a fresh temporary folder, unmounted when dropped.
pub struct Tmpfs {
    dir: tempfile::TempDir,
}

impl Tmpfs {
    /// Mounts a tmpfs with `options` (for example `size=65536` or `ro,size=1m`); the error says
    /// why it could not be mounted.
    pub fn mount(options: &str) -> Result<Tmpfs, String> {
        let dir = tempfile::tempdir().map_err(|error| format!("no temporary folder: {error}"))?;
        let output = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", options, "tmpfs"])
            .arg(dir.path())
            .output()
            .map_err(|error| format!("cannot run mount: {error}"))?;
        if !output.status.success() {
            return Err(format!(
                "`mount -t tmpfs -o {options}` failed{}: {}",
                if is_root() { "" } else { " (not root)" },
                String::from_utf8_lossy(&output.stderr).trim()
            ));
        }
        Ok(Tmpfs { dir })
    }

    pub fn path(&self) -> &std::path::Path {
        self.dir.path()
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg(self.dir.path())
            .status();
    }
}

/// `program` as a command that permission bits bind: as root, run through `setpriv` without the
/// two capabilities that let root read and write past them (CAP_DAC_OVERRIDE and
/// CAP_DAC_READ_SEARCH); as anyone else, as it is. Root keeps its user id, so files only root may
/// read (libtorch under ~root/.cache) stay readable.
pub fn bound_by_permissions(program: impl AsRef<std::ffi::OsStr>) -> std::process::Command {
    if is_root() {
        let mut command = std::process::Command::new("setpriv");
        command
            .args([
                "--inh-caps=-dac_override,-dac_read_search",
                "--bounding-set=-dac_override,-dac_read_search",
                "--",
            ])
            .arg(program);
        command
    } else {
        std::process::Command::new(program)
    }
}

/// Whether a process bound by permission bits (see [`bound_by_permissions`]) is refused a
/// listing of `folder`; the error says why the question could not be answered.
pub fn unreadable_when_bound(folder: &std::path::Path) -> Result<bool, String> {
    let output = bound_by_permissions("ls")
        .arg(folder)
        .output()
        .map_err(|error| format!("cannot run setpriv or ls: {error}"))?;
    if output.status.success() {
        return Ok(false);
    }
    let stderr = String::from_utf8_lossy(&output.stderr);
    if stderr.contains("Permission denied") {
        Ok(true)
    } else {
        Err(format!("the probe failed otherwise: {}", stderr.trim()))
    }
}
