//! Units for people, written one way everywhere: the dashboard, the headless lines, `runs`,
//! `compare`, `bench` and the model summary all put durations, sizes and speeds in words here.
//!
//! Bytes are decimal, as disks are sold and as `df -H` shows them: 1 kB is 1000 bytes, 1 MB is
//! 10^6, 1 GB is 10^9 (never 2^30, which is a GiB). The forms are few on purpose:
//! - [`bytes`]: a size on disk, in the unit that suits it (`7 B`, `4.2 kB`, `173 MB`, `1.4 GB`);
//! - [`gigabytes`]: a process's memory, always in GB with two decimals (`0.63 GB`), so that
//!   readings taken over a run, and the dashboard's, the headless lines' and `bench`'s, line up;
//! - [`megabytes`]: the size of the model's weights (`86.4 MB`);
//! - [`duration`]: a length of time (`45s`, `4m 10s`, `2h 05m`);
//! - [`images_per_second`]: a training or test speed in a sentence (`182.8 images/s`); tables
//!   print the bare number under an `IMAGES/S` heading.
//!
//! Written here rather than taken from a crate because none gives exactly these forms: humansize
//! and bytesize keep a fixed count of decimals (`172.6 MB` where a size list wants `173 MB`),
//! and humantime and jiff's friendly format write `2h 5m` or pad every unit (`02h 05m`).

/// A size on disk in decimal units: `7 B`, `4.2 kB`, `173 MB`, `1.4 GB`; one decimal below ten.
pub fn bytes(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "kB", "MB", "GB", "TB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1000.0 && unit + 1 < UNITS.len() {
        value /= 1000.0;
        unit += 1;
    }
    if unit == 0 || value >= 10.0 {
        format!("{value:.0} {}", UNITS[unit])
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

/// Memory in GB (10^9 bytes) with two decimals: `0.63 GB`, `1.96 GB`.
pub fn gigabytes(bytes: u64) -> String {
    format!("{:.2} GB", bytes as f64 / 1e9)
}

/// Megabytes (10^6 bytes) with one decimal: `86.4 MB`.
pub fn megabytes(bytes: u64) -> String {
    format!("{:.1} MB", bytes as f64 / 1e6)
}

/// `45s`, `4m 10s`, `2h 05m` (seconds left out from an hour on); `--` for a time not known
/// (not finite, or negative).
pub fn duration(seconds: f64) -> String {
    if !seconds.is_finite() || seconds < 0.0 {
        return "--".to_string();
    }
    let total = seconds.round() as u64;
    let (hours, minutes, seconds) = (total / 3600, total / 60 % 60, total % 60);
    if hours > 0 {
        format!("{hours}h {minutes:02}m")
    } else if minutes > 0 {
        format!("{minutes}m {seconds:02}s")
    } else {
        format!("{seconds}s")
    }
}

/// `182.8 images/s`.
pub fn images_per_second(rate: f64) -> String {
    format!("{rate:.1} images/s")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_are_decimal() {
        assert_eq!(bytes(7), "7 B");
        assert_eq!(bytes(999), "999 B");
        assert_eq!(bytes(4_200), "4.2 kB");
        assert_eq!(bytes(173_000_000), "173 MB");
        assert_eq!(bytes(1_384_000_000), "1.4 GB");
        // 2^30 bytes is 1.07 GB, not 1 GB.
        assert_eq!(bytes(1_073_741_824), "1.1 GB");
        assert_eq!(gigabytes(1_073_741_824), "1.07 GB");
        assert_eq!(gigabytes(630_000_000), "0.63 GB");
        assert_eq!(megabytes(86_395_688), "86.4 MB");
    }

    #[test]
    fn durations_read_short_and_unknown_ones_say_so() {
        assert_eq!(duration(42.4), "42s");
        assert_eq!(duration(250.0), "4m 10s");
        assert_eq!(duration(3720.0), "1h 02m");
        assert_eq!(duration(7500.0), "2h 05m");
        assert_eq!(duration(f64::NAN), "--");
        assert_eq!(duration(f64::INFINITY), "--");
        assert_eq!(duration(-1.0), "--");
    }

    #[test]
    fn speeds_name_their_unit() {
        assert_eq!(images_per_second(182.84), "182.8 images/s");
    }
}
