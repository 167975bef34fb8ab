//! SGD with momentum, Nesterov and L2 weight decay in one pass over memory.
//!
//! burn's `Sgd` builds each update from whole-tensor operations (add the decay, scale and add the
//! momentum, the Nesterov term, scale by the learning rate, subtract), each a separate sweep over
//! AlexNet's 21.6 million parameters with a new tensor for its result. On a CPU those sweeps are
//! memory-bound, and they took about a quarter of a training step at 67x67 (measured with
//! `examples/step_phases.rs`). This optimizer does the same arithmetic per element in a single
//! loop over the parameter, its gradient and its velocity, in place, split over the intra-op
//! threads (`burn_tch::sgd_step_in_place`, in the vendored burn-tch; this file's one unsafe call
//! guarantees what it needs). Its state has the same names as burn's `SgdState`, so a checkpoint written with
//! either reads in the other. Tensors that are not libtorch CPU f32 go through the same
//! arithmetic with burn's tensor operations.

use std::sync::atomic::{AtomicU64, Ordering};

use burn::optim::{LearningRate, Optimizer, RecordState, StateSink, StateSource, join_path};
use burn::tensor::{Device, Tensor};
// The vendored burn-tch is deprecated upstream as a whole crate; this file is where its
// libtorch tensors are reached directly, so the allowance sits on these items alone.
#[allow(deprecated)]
use burn_tch::{LibTorch, SgdStep, TchTensor, sgd_step_in_place};

/// The coefficients; the learning rate comes with every step. Dampening is 0 (PyTorch's default).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FusedSgd {
    momentum: f64,
    nesterov: bool,
    weight_decay: f64,
    /// Update libtorch CPU tensors in place (otherwise always use tensor operations).
    in_place: bool,
}

/// How many parameter updates each path has done in this process: the in-place pass, and burn's
/// tensor operations (other devices, or tensors that are not f32: a bf16 gradient would land
/// here, silently slower, which `bench` reports).
static IN_PLACE_UPDATES: AtomicU64 = AtomicU64::new(0);
static TENSOR_OP_UPDATES: AtomicU64 = AtomicU64::new(0);

/// Parameter updates so far: (in place, with tensor operations).
pub fn update_counts() -> (u64, u64) {
    (
        IN_PLACE_UPDATES.load(Ordering::Relaxed),
        TENSOR_OP_UPDATES.load(Ordering::Relaxed),
    )
}

/// The momentum buffer of one parameter (none without momentum).
#[derive(Clone)]
pub struct FusedSgdState<const D: usize> {
    velocity: Option<Tensor<D>>,
}

/// Saved as burn's `SgdState { momentum: Some(MomentumState { velocity }) }` names it.
const MOMENTUM: &str = "momentum";
const VELOCITY: &str = "velocity";

impl<const D: usize> RecordState for FusedSgdState<D> {
    fn state_flatten(&self, prefix: &str, out: &mut StateSink) {
        if let Some(velocity) = &self.velocity {
            out.push_tensor(
                &join_path(prefix, MOMENTUM),
                VELOCITY,
                velocity.clone().into_data(),
            );
        }
    }

    fn state_unflatten(prefix: &str, src: &mut StateSource, device: &Device) -> Option<Self> {
        let path = join_path(prefix, MOMENTUM);
        let velocity = if src.has_under(&path) {
            Some(Tensor::from_data(src.take_tensor(&path, VELOCITY)?, device))
        } else {
            None
        };
        Some(Self { velocity })
    }
}

impl FusedSgd {
    pub fn new(momentum: f64, nesterov: bool, weight_decay: f64) -> Self {
        Self {
            momentum,
            nesterov,
            weight_decay,
            in_place: true,
        }
    }

    /// The same optimizer without the in-place path: what other devices get (for comparisons).
    pub fn with_tensor_ops(self) -> Self {
        Self {
            in_place: false,
            ..self
        }
    }
}

impl Optimizer for FusedSgd {
    type State<const D: usize> = FusedSgdState<D>;

    fn step<const D: usize>(
        &self,
        lr: LearningRate,
        tensor: Tensor<D>,
        grad: Tensor<D>,
        state: Option<Self::State<D>>,
    ) -> (Tensor<D>, Option<Self::State<D>>) {
        let velocity = state.and_then(|state| state.velocity);
        let (tensor, velocity) =
            if self.in_place && on_libtorch_cpu(&tensor, &grad, velocity.as_ref()) {
                IN_PLACE_UPDATES.fetch_add(1, Ordering::Relaxed);
                self.step_in_place(lr, tensor, grad, velocity)
            } else {
                TENSOR_OP_UPDATES.fetch_add(1, Ordering::Relaxed);
                self.step_with_tensor_ops(lr, tensor, grad, velocity)
            };
        (tensor, Some(FusedSgdState { velocity }))
    }

    fn to_device<const D: usize>(mut state: Self::State<D>, device: &Device) -> Self::State<D> {
        state.velocity = state.velocity.map(|velocity| velocity.to_device(device));
        state
    }
}

#[allow(deprecated)]
fn on_libtorch_cpu<const D: usize>(
    tensor: &Tensor<D>,
    grad: &Tensor<D>,
    velocity: Option<&Tensor<D>>,
) -> bool {
    let cpu = crate::train::runtime::cpu();
    [Some(tensor), Some(grad), velocity]
        .into_iter()
        .flatten()
        .all(|t| t.device() == cpu && t.dtype() == burn::tensor::DType::F32)
}

/// The libtorch tensor of `tensor`, contiguous and, if `writable`, not shared with any other
/// tensor (copied when it is).
#[allow(deprecated)]
fn libtorch_tensor<const D: usize>(tensor: Tensor<D>, writable: bool) -> TchTensor {
    let primitive = tensor
        .try_into_primitive::<LibTorch>()
        .expect("checked by on_libtorch_cpu");
    if primitive.tensor.is_contiguous() && (!writable || primitive.can_mut()) {
        primitive
    } else {
        TchTensor::new(primitive.tensor.contiguous().copy())
    }
}

impl FusedSgd {
    #[allow(deprecated)]
    fn step_in_place<const D: usize>(
        &self,
        lr: LearningRate,
        tensor: Tensor<D>,
        grad: Tensor<D>,
        velocity: Option<Tensor<D>>,
    ) -> (Tensor<D>, Option<Tensor<D>>) {
        let mut param = libtorch_tensor(tensor, true);
        let grad = libtorch_tensor(grad, false);
        let first = velocity.is_none();
        let mut velocity = (self.momentum > 0.0).then(|| match velocity {
            Some(velocity) => libtorch_tensor(velocity, true),
            None => TchTensor::new(param.tensor.zeros_like()),
        });
        let step = SgdStep {
            learning_rate: lr as f32,
            momentum: self.momentum as f32,
            nesterov: self.nesterov,
            weight_decay: self.weight_decay as f32,
            first,
        };
        // SAFETY: `libtorch_tensor(.., true)` returned `param` and a given velocity either with
        // storage no other burn tensor holds (`can_mut`) or as fresh copies, and a new velocity is
        // a fresh `zeros_like`; `grad` is a different tensor (the backward pass's output), only
        // read. So nothing else aliases what is written, as `sgd_step_in_place` requires.
        #[allow(unsafe_code)]
        let done = unsafe {
            sgd_step_in_place(
                &mut param.tensor,
                &grad.tensor,
                velocity.as_mut().map(|v| &mut v.tensor),
                step,
            )
        };
        assert!(
            done,
            "the parameter, its gradient and its velocity differ in size"
        );
        (
            Tensor::from_primitive::<LibTorch>(param),
            velocity.map(Tensor::from_primitive::<LibTorch>),
        )
    }

    /// The same update with burn's tensor operations, for other devices.
    fn step_with_tensor_ops<const D: usize>(
        &self,
        lr: LearningRate,
        tensor: Tensor<D>,
        grad: Tensor<D>,
        velocity: Option<Tensor<D>>,
    ) -> (Tensor<D>, Option<Tensor<D>>) {
        let d = if self.weight_decay > 0.0 {
            grad + tensor.clone().mul_scalar(self.weight_decay)
        } else {
            grad
        };
        if self.momentum <= 0.0 {
            return (tensor - d.mul_scalar(lr), None);
        }
        let velocity = match velocity {
            Some(velocity) => velocity.mul_scalar(self.momentum) + d.clone(),
            None => d.clone(),
        };
        let update = if self.nesterov {
            d + velocity.clone().mul_scalar(self.momentum)
        } else {
            velocity.clone()
        };
        (tensor - update.mul_scalar(lr), Some(velocity))
    }
}
