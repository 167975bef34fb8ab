//! `training.precision`: mixed precision in the usual sense. Weights, their gradients as the
//! optimizer sees them, the SGD update and its momentum, the loss and the metrics stay f32; the
//! convolutions and matrix products (forward and backward) run in bf16 when the run computes in
//! bf16 (see [`crate::model::AlexNet::forward`] for where the casts are).
//!
//! "auto" picks bf16 only where the hardware computes it natively, by its flags alone (no timing
//! at start-up): on the CPU, the `avx512_bf16` or `amx_bf16` flags; on CUDA, compute capability
//! 8.0 or above. Without them bf16 is emulated and far slower than f32 (a bf16 matrix product ran
//! at 0.3 GFLOP/s on an AVX2-only CPU against over 100 for f32).
//!
//! [`NATIVE_BF16_VARIABLE`] (`ALEXNET_TUI_NATIVE_BF16=1` or `0`) overrides the CPU's flags, so
//! that the path "auto" takes on a native-bf16 CPU can be checked on one without (emulated and
//! slow), and the other way round. The reason shown says when the variable decided.

pub use crate::config::Precision;
pub use crate::model::Compute;

/// The kind of device a run uses, as far as bf16 is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceKind {
    Cpu,
    Cuda,
    Mps,
}

/// Whether the hardware computes bf16 natively, and the evidence in a few words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NativeBf16 {
    pub native: bool,
    pub evidence: String,
}

/// The CPU flags that mean native bf16 arithmetic, in the order they are reported.
pub const CPU_BF16_FLAGS: [&str; 2] = ["avx512_bf16", "amx_bf16"];

/// The native-bf16 flags present in `/proc/cpuinfo`'s text (its first `flags` line).
pub fn cpu_bf16_flags(cpuinfo: &str) -> Vec<&'static str> {
    let Some(flags) = cpuinfo.lines().find_map(|line| {
        let (name, value) = line.split_once(':')?;
        (name.trim() == "flags").then_some(value)
    }) else {
        return Vec::new();
    };
    let present: Vec<&str> = flags.split_whitespace().collect();
    CPU_BF16_FLAGS
        .into_iter()
        .filter(|flag| present.contains(flag))
        .collect()
}

/// The environment variable that overrides the CPU's answer: `1` says it has native bf16, `0`
/// that it has not, whatever its flags say; any other value is ignored (and the reason says so).
pub const NATIVE_BF16_VARIABLE: &str = "ALEXNET_TUI_NATIVE_BF16";

/// This CPU's answer: [`NATIVE_BF16_VARIABLE`] if set, else `/proc/cpuinfo` (no file, as off
/// Linux: no native bf16 known).
pub fn cpu_native_bf16() -> NativeBf16 {
    let text = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let variable = std::env::var(NATIVE_BF16_VARIABLE).ok();
    cpu_native_bf16_overridden(variable.as_deref(), &text)
}

/// The CPU's answer from its `/proc/cpuinfo` text, unless `variable` (the value of
/// [`NATIVE_BF16_VARIABLE`], if set) decides.
pub fn cpu_native_bf16_overridden(variable: Option<&str>, cpuinfo: &str) -> NativeBf16 {
    match variable.map(str::trim) {
        None => cpu_native_bf16_from(cpuinfo),
        Some("1") => NativeBf16 {
            native: true,
            evidence: format!("{NATIVE_BF16_VARIABLE}=1 says this CPU has native bf16"),
        },
        Some("0") => NativeBf16 {
            native: false,
            evidence: format!("{NATIVE_BF16_VARIABLE}=0 says this CPU has no native bf16"),
        },
        Some(other) => {
            let mut answer = cpu_native_bf16_from(cpuinfo);
            answer.evidence = format!(
                "{}; {NATIVE_BF16_VARIABLE}={other:?} ignored (1 or 0)",
                answer.evidence
            );
            answer
        }
    }
}

pub fn cpu_native_bf16_from(cpuinfo: &str) -> NativeBf16 {
    let flags = cpu_bf16_flags(cpuinfo);
    if flags.is_empty() {
        NativeBf16 {
            native: false,
            evidence: format!(
                "this CPU has no native bf16 (no {})",
                CPU_BF16_FLAGS.join("/")
            ),
        }
    } else {
        NativeBf16 {
            native: true,
            evidence: format!("this CPU has native bf16 ({})", flags.join(", ")),
        }
    }
}

/// libtorch's answer for the current CUDA device (compute capability 8.0 or above). Untested
/// here: the machines this was written on have no GPU.
pub fn cuda_native_bf16() -> NativeBf16 {
    #[allow(deprecated)] // burn-tch, see train::runtime::device_for.
    let native = burn_tch::cuda_bf16_supported();
    NativeBf16 {
        native,
        evidence: if native {
            "this CUDA device has compute capability 8.0+".to_string()
        } else {
            "this CUDA device is below compute capability 8.0".to_string()
        },
    }
}

/// The answer for a device kind.
pub fn native_bf16(kind: DeviceKind) -> NativeBf16 {
    match kind {
        DeviceKind::Cpu => cpu_native_bf16(),
        DeviceKind::Cuda => cuda_native_bf16(),
        DeviceKind::Mps => NativeBf16 {
            native: false,
            evidence: "bf16 is not used on Apple MPS".to_string(),
        },
    }
}

/// The precision in force and why, for the run's header and `ready` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    pub compute: Compute,
    pub reason: String,
}

/// Decides the setting for hardware whose native bf16 is `hardware`. `source` names where the
/// setting came from ("training.precision" or "--precision").
pub fn resolve(setting: Precision, source: &str, hardware: &NativeBf16) -> Resolved {
    match setting {
        Precision::Auto if hardware.native => Resolved {
            compute: Compute::Bf16,
            reason: format!("auto: {}", hardware.evidence),
        },
        Precision::Auto => Resolved {
            compute: Compute::F32,
            reason: format!("auto: {}", hardware.evidence),
        },
        Precision::F32 => Resolved {
            compute: Compute::F32,
            reason: format!("{source} = \"f32\""),
        },
        Precision::Bf16 if hardware.native => Resolved {
            compute: Compute::Bf16,
            reason: format!("{source} = \"bf16\""),
        },
        Precision::Bf16 => Resolved {
            compute: Compute::Bf16,
            reason: format!(
                "{source} = \"bf16\", though {}: emulated, slow",
                hardware.evidence
            ),
        },
    }
}

/// Decides the setting for a device kind, asking the hardware only when it matters.
pub fn resolve_for(setting: Precision, source: &str, kind: DeviceKind) -> Resolved {
    let hardware = match setting {
        Precision::F32 => NativeBf16 {
            native: false,
            evidence: String::new(),
        },
        _ => native_bf16(kind),
    };
    resolve(setting, source, &hardware)
}

/// The kind of device a `training.device` value ends up on ("auto": CUDA when libtorch sees a
/// GPU, as `train::runtime::device_for` decides).
pub fn device_kind(device: &str) -> DeviceKind {
    match crate::config::parse_device(device) {
        Some(crate::config::DeviceChoice::Cuda(_)) => DeviceKind::Cuda,
        Some(crate::config::DeviceChoice::Mps) => DeviceKind::Mps,
        Some(crate::config::DeviceChoice::Auto) if tch::Cuda::is_available() => DeviceKind::Cuda,
        _ => DeviceKind::Cpu,
    }
}

/// The precision a run computes in: `setting` from `source` on the device `device` names.
pub fn for_device(setting: Precision, source: &str, device: &str) -> Resolved {
    resolve_for(setting, source, device_kind(device))
}

#[cfg(test)]
mod tests {
    use super::*;

    const AVX2: &str = "processor\t: 0\nflags\t\t: fpu sse2 avx avx2 fma\nbugs\t\t: none\n";
    const BF16: &str = "processor\t: 0\nflags\t\t: avx2 avx512f avx512_bf16 amx_tile amx_bf16\n";

    #[test]
    fn flags_decide_and_say_why() {
        assert!(cpu_bf16_flags(AVX2).is_empty());
        assert_eq!(cpu_bf16_flags(BF16), ["avx512_bf16", "amx_bf16"]);
        // A flag name that merely contains the word does not count.
        assert!(cpu_bf16_flags("flags : avx512_bf16x\n").is_empty());
        let without = resolve(
            Precision::Auto,
            "training.precision",
            &cpu_native_bf16_from(AVX2),
        );
        assert_eq!(without.compute, Compute::F32);
        assert_eq!(
            without.reason,
            "auto: this CPU has no native bf16 (no avx512_bf16/amx_bf16)"
        );
        let with = resolve(
            Precision::Auto,
            "training.precision",
            &cpu_native_bf16_from(BF16),
        );
        assert_eq!(with.compute, Compute::Bf16);
        assert_eq!(
            with.reason,
            "auto: this CPU has native bf16 (avx512_bf16, amx_bf16)"
        );
        let forced = resolve(Precision::Bf16, "--precision", &cpu_native_bf16_from(AVX2));
        assert_eq!(forced.compute, Compute::Bf16);
        assert!(forced.reason.contains("emulated"), "{}", forced.reason);
        let plain = resolve(
            Precision::F32,
            "training.precision",
            &cpu_native_bf16_from(BF16),
        );
        assert_eq!(plain.compute, Compute::F32);
        assert_eq!(plain.reason, "training.precision = \"f32\"");
    }

    #[test]
    fn the_variable_overrides_the_flags_and_the_reason_names_it() {
        let forced_on = resolve(
            Precision::Auto,
            "training.precision",
            &cpu_native_bf16_overridden(Some("1"), AVX2),
        );
        assert_eq!(forced_on.compute, Compute::Bf16);
        assert_eq!(
            forced_on.reason,
            "auto: ALEXNET_TUI_NATIVE_BF16=1 says this CPU has native bf16"
        );
        let forced_off = resolve(
            Precision::Auto,
            "training.precision",
            &cpu_native_bf16_overridden(Some("0"), BF16),
        );
        assert_eq!(forced_off.compute, Compute::F32);
        assert_eq!(
            forced_off.reason,
            "auto: ALEXNET_TUI_NATIVE_BF16=0 says this CPU has no native bf16"
        );
        // bf16 set by hand on a CPU the variable declares without it: emulated, and why.
        let by_hand = resolve(
            Precision::Bf16,
            "--precision",
            &cpu_native_bf16_overridden(Some("0"), BF16),
        );
        assert_eq!(by_hand.compute, Compute::Bf16);
        assert_eq!(
            by_hand.reason,
            "--precision = \"bf16\", though ALEXNET_TUI_NATIVE_BF16=0 says this CPU has no native bf16: emulated, slow"
        );
        // Unset: the flags decide; another value: the flags decide and the reason says so.
        assert_eq!(
            cpu_native_bf16_overridden(None, BF16),
            cpu_native_bf16_from(BF16)
        );
        let odd = cpu_native_bf16_overridden(Some("yes"), AVX2);
        assert!(!odd.native);
        assert_eq!(
            odd.evidence,
            "this CPU has no native bf16 (no avx512_bf16/amx_bf16); ALEXNET_TUI_NATIVE_BF16=\"yes\" ignored (1 or 0)"
        );
    }
}
