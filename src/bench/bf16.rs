//! Which precisions `bench` measures ours in, and whether bf16 (ours and PyTorch's autocast) may
//! run at all: only where the hardware computes it natively, unless `--force-bf16`. Elsewhere bf16
//! is emulated and hopelessly slow, and measuring it would only waste the run.

use super::{BenchArgs, PrecisionChoice};
use crate::config::Config;
use crate::precision::{self, Compute, NativeBf16};
use crate::session::Error;

/// The precisions to measure ours in, in order, and whether bf16 may run (PyTorch's variants too).
/// Prints what is skipped and why.
pub fn precisions(config: &Config, args: &BenchArgs) -> Result<(Vec<Compute>, bool), Error> {
    let kind = precision::device_kind(&config.training.device);
    let hardware = precision::native_bf16(kind);
    let wanted = match args.precision {
        None => vec![
            precision::resolve(config.training.precision, "training.precision", &hardware).compute,
        ],
        Some(PrecisionChoice::F32) => vec![Compute::F32],
        Some(PrecisionChoice::Bf16) => vec![Compute::Bf16],
        Some(PrecisionChoice::Both) => vec![Compute::F32, Compute::Bf16],
    };
    let choice = choose(wanted, &hardware, args.force_bf16, args.pytorch)?;
    if let Some(note) = &choice.note {
        println!("bench: {note}");
    }
    Ok((choice.computes, choice.bf16_allowed))
}

/// What [`precisions`] decided, with the line it prints.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Choice {
    computes: Vec<Compute>,
    bf16_allowed: bool,
    note: Option<String>,
}

fn choose(
    wanted: Vec<Compute>,
    hardware: &NativeBf16,
    force: bool,
    pytorch: bool,
) -> Result<Choice, Error> {
    if hardware.native || force {
        let note = (!hardware.native).then(|| {
            format!(
                "bf16 forced although {}: emulated, expect it to be far slower than f32",
                hardware.evidence
            )
        });
        return Ok(Choice {
            computes: wanted,
            bf16_allowed: true,
            note,
        });
    }
    let kept: Vec<Compute> = wanted
        .iter()
        .copied()
        .filter(|&compute| compute == Compute::F32)
        .collect();
    if kept.is_empty() {
        return Err(Error::Usage(format!(
            "--precision bf16: {}, so bf16 is emulated and hopelessly slow; add --force-bf16 to measure it anyway",
            hardware.evidence
        )));
    }
    let dropped = kept.len() < wanted.len();
    let skipped = if dropped {
        "ours in bf16 and PyTorch's bf16 variants"
    } else {
        "PyTorch's bf16 variants"
    };
    let note = (pytorch || dropped).then(|| {
        format!(
            "skipping {skipped}: {}, so bf16 is emulated and hopelessly slow (--force-bf16 runs them anyway)",
            hardware.evidence
        )
    });
    Ok(Choice {
        computes: kept,
        bf16_allowed: false,
        note,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hardware(native: bool) -> NativeBf16 {
        NativeBf16 {
            native,
            evidence: "this CPU has no native bf16 (no avx512_bf16/amx_bf16)".into(),
        }
    }

    #[test]
    fn bf16_is_skipped_without_native_support_unless_forced() {
        let both = vec![Compute::F32, Compute::Bf16];
        let skipped = choose(both.clone(), &hardware(false), false, false).expect("f32 kept");
        assert_eq!(skipped.computes, [Compute::F32]);
        assert!(!skipped.bf16_allowed);
        assert!(skipped.note.expect("says so").contains("ours in bf16"));
        let forced = choose(both.clone(), &hardware(false), true, false).expect("forced");
        assert_eq!(forced.computes, both);
        assert!(forced.note.expect("warns").contains("forced"));
        let native = choose(both.clone(), &hardware(true), false, true).expect("native");
        assert_eq!((native.computes, native.note), (both, None));
        assert!(matches!(
            choose(vec![Compute::Bf16], &hardware(false), false, false),
            Err(Error::Usage(_))
        ));
    }
}
