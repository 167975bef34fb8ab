//! libtorch's side of the process: how many threads it computes with, and which device trains.

use burn::tensor::Device;

use crate::config::{DeviceChoice, parse_device};
use crate::process::physical_cores;

/// libtorch's thread counts in force.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Threads {
    pub intra: usize,
    pub inter: usize,
}

/// Sets libtorch's thread counts (0 = every physical core) and returns those in force. The
/// inter-op count can be set only once per process, before any inter-op work; later requests
/// keep the first value.
pub fn configure_threads(intra: usize, inter: usize) -> Threads {
    static INTER_SET: std::sync::Once = std::sync::Once::new();
    let or_cores = |n: usize| if n == 0 { physical_cores() } else { n };
    tch::set_num_threads(or_cores(intra) as i32);
    INTER_SET.call_once(|| {
        // libtorch refuses (and tch panics) if inter-op work already started: keep its count.
        let _ = std::panic::catch_unwind(|| tch::set_num_interop_threads(or_cores(inter) as i32));
    });
    Threads {
        intra: tch::get_num_threads().max(1) as usize,
        inter: tch::get_num_interop_threads().max(1) as usize,
    }
}

/// A device the config asked for that this libtorch does not have.
#[derive(Debug, thiserror::Error)]
pub enum DeviceError {
    #[error("unknown device \"{0}\"")]
    Unknown(String),
    #[error(
        "training.device = \"cuda:{index}\" but libtorch sees {count} CUDA device(s); use \"cpu\" or \"auto\""
    )]
    NoSuchCuda { index: usize, count: usize },
    #[error("training.device = \"mps\" but libtorch sees no Metal device; use \"cpu\" or \"auto\"")]
    NoMps,
}

/// The libtorch device for a config value, and its display name.
// burn-tch's device constructors are deprecated upstream in favour of CubeCL's backends; they
// still work, and libtorch is the backend this program is built on.
#[allow(deprecated)]
pub fn device_for(choice: &str) -> Result<(Device, String), DeviceError> {
    let choice = parse_device(choice).ok_or_else(|| DeviceError::Unknown(choice.to_string()))?;
    let resolved = match choice {
        DeviceChoice::Auto if tch::Cuda::is_available() => DeviceChoice::Cuda(0),
        DeviceChoice::Auto => DeviceChoice::Cpu,
        other => other,
    };
    match resolved {
        DeviceChoice::Cuda(index) => {
            let count = tch::Cuda::device_count().max(0) as usize;
            if index >= count {
                return Err(DeviceError::NoSuchCuda { index, count });
            }
            Ok((Device::libtorch_cuda(index), format!("CUDA {index}")))
        }
        DeviceChoice::Mps => {
            if !tch::utils::has_mps() {
                return Err(DeviceError::NoMps);
            }
            Ok((Device::libtorch_mps(), "Apple MPS".to_string()))
        }
        _ => Ok((cpu(), "CPU (libtorch)".to_string())),
    }
}

/// libtorch on the CPU: inference, evaluation and the small commands.
#[allow(deprecated)] // see device_for
pub fn cpu() -> Device {
    Device::libtorch()
}
