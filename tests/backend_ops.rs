//! The element-wise operations the vendored burn-tch implements with libtorch kernels of its own
//! choosing (VENDORED.md) keep the semantics of burn's defaults: ReLU's gradient through burn's
//! autodiff, and Bernoulli draws (dropout's masks).

use burn::tensor::activation::relu;
use burn::tensor::{Distribution, Tensor, TensorData};

#[test]
fn relu_passes_the_gradient_only_where_its_output_is_positive() {
    let device = alexnet_tui::train::runtime::cpu().autodiff();
    // Negative, zero, tiny and large inputs, and a NaN (whose gradient passes, as in burn).
    let inputs = [-3.0f32, -1e-30, 0.0, 1e-30, 0.5, 7.0, -0.0, f32::NAN];
    let weights = [1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0];
    let x = Tensor::<1>::from_data(TensorData::new(inputs.to_vec(), [8]), &device).require_grad();
    let r = Tensor::<1>::from_data(TensorData::new(weights.to_vec(), [8]), &device);
    let grads = (relu(x.clone()) * r).sum().backward();
    let grad: Vec<f32> = x
        .grad(&grads)
        .expect("a gradient")
        .try_into_vec_as::<f32>()
        .expect("f32");
    assert_eq!(grad, vec![0.0, 0.0, 0.0, 4.0, 5.0, 6.0, 0.0, 8.0]);

    // The same on a 4-D channels-last tensor, as after the first convolution.
    let values: Vec<f32> = (0..2 * 3 * 4 * 5).map(|i| (i % 7) as f32 - 3.0).collect();
    let x = Tensor::<4>::from_data(TensorData::new(values.clone(), [2, 3, 4, 5]), &device)
        .permute([0, 2, 3, 1])
        .require_grad();
    let grads = relu(x.clone()).sum().backward();
    let grad: Vec<f32> = x
        .grad(&grads)
        .expect("a gradient")
        .permute([0, 3, 1, 2])
        .try_into_vec_as::<f32>()
        .expect("f32");
    let expected: Vec<f32> = values
        .iter()
        .map(|v| if *v > 0.0 { 1.0 } else { 0.0 })
        .collect();
    assert_eq!(grad, expected);
}

#[test]
fn bernoulli_draws_are_zeros_and_ones_at_the_asked_rate() {
    let device = alexnet_tui::train::runtime::cpu();
    for prob in [0.5, 0.3, 0.9] {
        let draws: Vec<f32> =
            Tensor::<2>::random([500, 400], Distribution::Bernoulli(prob), &device)
                .try_into_vec_as::<f32>()
                .expect("f32");
        assert!(
            draws.iter().all(|v| *v == 0.0 || *v == 1.0),
            "p = {prob}: not all 0 or 1"
        );
        let rate = draws.iter().sum::<f32>() as f64 / draws.len() as f64;
        // 200,000 draws: the standard deviation of the rate is at most 0.0012.
        assert!(
            (rate - prob).abs() < 0.006,
            "p = {prob}: drew ones at {rate}"
        );
    }
    let never = Tensor::<1>::random([1000], Distribution::Bernoulli(0.0), &device).sum();
    let always = Tensor::<1>::random([1000], Distribution::Bernoulli(1.0), &device).sum();
    assert_eq!(never.into_scalar::<f32>(), 0.0);
    assert_eq!(always.into_scalar::<f32>(), 1000.0);
}
