//! alexnet-tui, see VENDORED.md: an SGD update (momentum, Nesterov, L2 weight decay, no
//! dampening) done per element in one pass over the parameter, its gradient and its velocity,
//! in place, split over libtorch's intra-op threads. burn's `Sgd` does the same arithmetic as a
//! chain of whole-tensor operations, each a separate sweep over memory with a new result tensor.

/// The coefficients of one update.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SgdStep {
    /// The step size.
    pub learning_rate: f32,
    /// 0 for plain SGD.
    pub momentum: f32,
    /// Nesterov's form of momentum.
    pub nesterov: bool,
    /// L2 weight decay, added to the gradient.
    pub weight_decay: f32,
    /// The first step of this parameter: the velocity starts as the (decayed) gradient.
    pub first: bool,
}

fn usable(tensor: &tch::Tensor, numel: usize) -> bool {
    tensor.kind() == tch::Kind::Float
        && tensor.device() == tch::Device::Cpu
        && tensor.is_contiguous()
        && tensor.numel() == numel
}

/// `param -= lr * update`, where with momentum `velocity = momentum * velocity + d` (or `d` on the
/// first step), `d = grad + weight_decay * param`, and `update` is `d + momentum * velocity`
/// (Nesterov) or `velocity`; without momentum `update = d` and `velocity` is not used.
///
/// Returns false, changing nothing, unless every tensor is a contiguous f32 CPU tensor of the
/// same size and `velocity` is given exactly when `momentum > 0`.
///
/// # Safety
///
/// `param` and `velocity` are written in place through their data pointers while `grad` is
/// read. The caller must guarantee that the storage of `param` and of `velocity` is shared
/// with no other tensor (no view, no shallow clone, not `grad`, not each other) for the
/// length of the call; tch's `&mut` alone cannot promise that, since tensors share storage
/// behind shared handles. (alexnet-tui: this was a safe `fn` before; see VENDORED.md.)
pub unsafe fn sgd_step_in_place(
    param: &mut tch::Tensor,
    grad: &tch::Tensor,
    velocity: Option<&mut tch::Tensor>,
    step: SgdStep,
) -> bool {
    let numel = param.numel();
    if !usable(param, numel)
        || !usable(grad, numel)
        || velocity.is_some() != (step.momentum > 0.0)
        || velocity.as_ref().is_some_and(|v| !usable(v, numel))
    {
        return false;
    }
    // SAFETY: all tensors are contiguous f32 CPU tensors of `numel` elements (checked above), so
    // their data pointers address `numel` f32 each. `param` and `velocity` alias nothing else,
    // by this function's safety contract; `grad` is only read.
    let (p, g, v) = unsafe {
        (
            std::slice::from_raw_parts_mut(param.data_ptr() as *mut f32, numel),
            std::slice::from_raw_parts(grad.data_ptr() as *const f32, numel),
            velocity.map(|v| std::slice::from_raw_parts_mut(v.data_ptr() as *mut f32, numel)),
        )
    };
    let kernel = move |p: &mut [f32], g: &[f32], v: Option<&mut [f32]>| {
        let SgdStep {
            learning_rate: lr,
            momentum,
            nesterov,
            weight_decay: decay,
            first,
        } = step;
        match v {
            None => {
                for (p, g) in p.iter_mut().zip(g) {
                    *p -= lr * (g + decay * *p);
                }
            }
            Some(v) => {
                for ((p, g), v) in p.iter_mut().zip(g).zip(v.iter_mut()) {
                    let d = g + decay * *p;
                    *v = if first { d } else { momentum * *v + d };
                    *p -= lr * if nesterov { d + momentum * *v } else { *v };
                }
            }
        }
    };
    let threads = usize::try_from(tch::get_num_threads()).unwrap_or(1).max(1);
    // Below this many elements per thread, starting a thread costs more than it saves.
    const PER_THREAD: usize = 1 << 16;
    let chunk = numel.div_ceil(threads).max(PER_THREAD);
    if chunk >= numel {
        kernel(p, g, v);
        return true;
    }
    std::thread::scope(|scope| {
        let mut v_chunks = v.map(|v| v.chunks_mut(chunk));
        for (p, g) in p.chunks_mut(chunk).zip(g.chunks(chunk)) {
            let v = v_chunks.as_mut().and_then(Iterator::next);
            scope.spawn(move || kernel(p, g, v));
        }
    });
    true
}
