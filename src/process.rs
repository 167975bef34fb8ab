//! Figures about this process for the dashboard and `bench`: CPU use, resident and peak resident
//! memory, minor page faults, and how many physical cores there are to give libtorch.
//!
//! The same code must run on Linux and macOS, so nothing here parses /proc by hand. `sysinfo`
//! reads CPU time and resident memory the way each system exposes them. It has no peak resident
//! memory and no page-fault count, so those come from POSIX `getrusage`, which both systems
//! implement (they differ only in the unit of `ru_maxrss`).

use std::time::Instant;

use sysinfo::{Pid, Process, ProcessRefreshKind, ProcessesToUpdate, System};

/// One reading of this process.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct ProcessStats {
    /// CPU use since the previous sample, where 100 is one core busy all the time (so a process
    /// that keeps two cores busy shows 200).
    pub cpu_percent: f64,
    /// Memory in RAM now.
    pub resident_bytes: u64,
    /// The most memory this process has ever held in RAM.
    pub peak_resident_bytes: u64,
}

/// Reads [`ProcessStats`] again and again; CPU use is measured between two readings, so keep one
/// sampler alive and call [`ProcessSampler::sample`] at the rate wanted.
pub struct ProcessSampler {
    /// Refreshed for this process only: a full refresh would read every process on the machine.
    system: System,
    /// `None` when the platform cannot name the current process; then CPU use and resident
    /// memory read as zero.
    pid: Option<Pid>,
    /// CPU time of all threads so far, at the previous reading.
    last_cpu_milliseconds: Option<u64>,
    last_at: Instant,
}

impl ProcessSampler {
    pub fn new() -> Self {
        let mut sampler = Self {
            system: System::new(),
            pid: sysinfo::get_current_pid().ok(),
            last_cpu_milliseconds: None,
            last_at: Instant::now(),
        };
        // The starting point, so that the first `sample` already has something to compare with.
        sampler.refresh();
        sampler.last_cpu_milliseconds = sampler.process().map(Process::accumulated_cpu_time);
        sampler
    }

    /// CPU use since the previous sample (or since `new`), and memory now.
    pub fn sample(&mut self) -> ProcessStats {
        self.refresh();
        let now = Instant::now();
        let wall_milliseconds = now.duration_since(self.last_at).as_secs_f64() * 1000.0;
        let cpu_milliseconds = self.process().map(Process::accumulated_cpu_time);
        // Not sysinfo's own `cpu_usage`: it stays at zero for the whole first interval when the
        // process had used less than one clock tick (10 ms) before the first reading, which is the
        // case for a sampler made at start-up. CPU time over wall time has no such gap, and counts
        // 100 per busy core just the same.
        let cpu_percent = match (cpu_milliseconds, self.last_cpu_milliseconds) {
            (Some(now_cpu), Some(last_cpu)) if wall_milliseconds > 0.0 => {
                100.0 * now_cpu.saturating_sub(last_cpu) as f64 / wall_milliseconds
            }
            _ => 0.0,
        };
        self.last_cpu_milliseconds = cpu_milliseconds;
        self.last_at = now;

        let resident_bytes = self.process().map_or(0, Process::memory);
        ProcessStats {
            cpu_percent,
            resident_bytes,
            peak_resident_bytes: peak_at_least(resident_bytes).unwrap_or(resident_bytes),
        }
    }

    fn process(&self) -> Option<&Process> {
        self.system.process(self.pid?)
    }

    fn refresh(&mut self) {
        if let Some(pid) = self.pid {
            self.system.refresh_processes_specifics(
                ProcessesToUpdate::Some(&[pid]),
                true,
                // `with_cpu` is what keeps `accumulated_cpu_time` current.
                ProcessRefreshKind::nothing().with_cpu().with_memory(),
            );
        }
    }
}

impl Default for ProcessSampler {
    fn default() -> Self {
        Self::new()
    }
}

/// (resident now, peak resident) in bytes, or `None` where either cannot be read.
pub fn memory() -> Option<(u64, u64)> {
    let pid = sysinfo::get_current_pid().ok()?;
    let mut system = System::new();
    system.refresh_processes_specifics(
        ProcessesToUpdate::Some(&[pid]),
        true,
        ProcessRefreshKind::nothing().with_memory(),
    );
    let resident = system.process(pid)?.memory();
    Some((resident, peak_at_least(resident)?))
}

/// When process `pid` started (seconds since 1970), if it exists and has not exited (a zombie
/// waiting to be reaped counts as exited). A process id and its start time name one process:
/// ids are reused, start times with them are not.
pub fn started_at(pid: u32) -> Option<u64> {
    let pid = Pid::from_u32(pid);
    let mut system = System::new();
    system.refresh_processes_specifics(
        ProcessesToUpdate::Some(&[pid]),
        true,
        ProcessRefreshKind::nothing(),
    );
    let process = system.process(pid)?;
    if matches!(
        process.status(),
        sysinfo::ProcessStatus::Zombie | sysinfo::ProcessStatus::Dead
    ) {
        return None;
    }
    Some(process.start_time())
}

/// The peak resident size, never below `resident`, a size just read. `getrusage`'s peak and
/// sysinfo's current size are counted apart and may lag each other by a few pages (seen on Linux
/// 6.18: a peak 176 KiB below the resident size read just before it); a peak below what was just
/// seen is only stale.
fn peak_at_least(resident: u64) -> Option<u64> {
    peak_resident_bytes().map(|peak| peak.max(resident))
}

/// Page faults served without reading from disk since the process started: each is a page the
/// kernel had to map (and usually zero) on first touch, which is what memory reuse avoids.
pub fn minor_page_faults() -> Option<u64> {
    let usage = resource_usage()?;
    u64::try_from(usage.ru_minflt).ok()
}

/// Physical cores this process may use: hyper-threads share a core's arithmetic units, which is
/// what convolutions need, so two threads on one core go little faster than one. Falls back to
/// the logical count when the topology cannot be read, and is at least 1.
pub fn physical_cores() -> usize {
    let logical = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
    // The topology describes the whole machine, but a container's CPU quota or an affinity mask
    // can leave this process fewer CPUs than the machine has cores: never go above those.
    System::physical_core_count()
        .unwrap_or(logical)
        .min(logical)
        .max(1)
}

/// The most memory this process has held in RAM, in bytes.
fn peak_resident_bytes() -> Option<u64> {
    let usage = resource_usage()?;
    let max_resident = u64::try_from(usage.ru_maxrss).ok()?;
    // POSIX leaves the unit of ru_maxrss open: macOS (like the other BSD-derived Apple systems)
    // reports bytes, Linux reports KiB.
    #[cfg(target_vendor = "apple")]
    let bytes = max_resident;
    #[cfg(not(target_vendor = "apple"))]
    let bytes = max_resident.saturating_mul(1024);
    Some(bytes)
}

/// `getrusage(RUSAGE_SELF)`: resource use of this process (all its threads) so far.
#[allow(unsafe_code)]
fn resource_usage() -> Option<libc::rusage> {
    // SAFETY: `rusage` is a plain C struct of integers and timevals, for which all zero bytes are
    // a valid value. We own it on our stack, and `getrusage` only writes into the pointer it is
    // given for the duration of the call; nothing keeps the pointer afterwards.
    let (status, usage) = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        let status = libc::getrusage(libc::RUSAGE_SELF, &raw mut usage);
        (status, usage)
    };
    (status == 0).then_some(usage)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    const MIB: usize = 1024 * 1024;

    /// A fresh block the size of a large gradient, with every page written once, so the kernel
    /// has to map each of them.
    fn touched_block(bytes: usize) -> Vec<u8> {
        let mut block = vec![0u8; bytes];
        for page in block.iter_mut().step_by(4096) {
            *page = 1;
        }
        std::hint::black_box(block)
    }

    #[test]
    fn memory_reports_what_the_process_holds() {
        let block = touched_block(64 * MIB);
        let (resident, peak) = memory().expect("memory is readable on Linux and macOS");
        assert!(
            resident >= (64 * MIB) as u64,
            "resident {resident} bytes while holding 64 MiB"
        );
        assert!(peak >= resident, "peak {peak} below resident {resident}");
        // getrusage's own figure, before any adjustment: a wrong unit (KiB taken for bytes)
        // would put it far below the 64 MiB held.
        let raw_peak = peak_resident_bytes().expect("getrusage works on Linux and macOS");
        assert!(
            raw_peak >= (64 * MIB) as u64,
            "peak {raw_peak} bytes while holding 64 MiB"
        );
        drop(block);
    }

    #[test]
    fn touching_fresh_memory_counts_minor_page_faults() {
        let before = minor_page_faults().expect("getrusage works on Linux and macOS");
        let block = touched_block(64 * MIB);
        let after = minor_page_faults().expect("getrusage works on Linux and macOS");
        drop(block);
        // 16,384 pages of 4 KiB were touched; huge pages or fault-around may map several per
        // fault, so ask only for a clear increase.
        assert!(
            after > before + 100,
            "minor faults went from {before} to {after} after touching 64 MiB"
        );
    }

    #[test]
    fn sample_sees_a_busy_core() {
        let mut sampler = ProcessSampler::new();
        let started = Instant::now();
        let mut spin = 0u64;
        while started.elapsed() < Duration::from_millis(300) {
            spin =
                std::hint::black_box(spin.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1));
        }
        let stats = sampler.sample();
        // One thread spun the whole time, so close to 100; other tests and a busy machine take
        // some of it, hence the low bar.
        assert!(
            stats.cpu_percent > 20.0,
            "cpu {}% after 300 ms of spinning",
            stats.cpu_percent
        );
        assert!(stats.resident_bytes > 0);
        assert!(stats.peak_resident_bytes >= stats.resident_bytes);
    }

    #[test]
    fn physical_cores_are_within_the_cpus_we_may_use() {
        let logical = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
        let cores = physical_cores();
        assert!(cores >= 1);
        assert!(
            cores <= logical,
            "{cores} cores but only {logical} CPUs usable"
        );
    }
}
