//! Shared test helpers.

use burn::tensor::{Device, Tensor, TensorData};
use recur_train::Backend;

/// The backends every test runs on (`RECUR_TEST_BACKENDS`).
pub fn backends() -> Vec<Backend> {
    Backend::for_tests()
}

/// A tensor from row-major values.
pub fn tensor<const D: usize>(values: &[f32], shape: [usize; D], device: &Device) -> Tensor<D> {
    Tensor::from_data(TensorData::new(values.to_vec(), shape), device)
}

/// A tensor's values, row-major.
pub fn values<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data().convert::<f32>().try_to_vec::<f32>().unwrap()
}

/// Asserts every value is finite and within `tol` of the expected one.
pub fn assert_close(what: &str, actual: &[f32], expected: &[f32], tol: f32) {
    assert_eq!(actual.len(), expected.len(), "{what}: length");
    for (i, (a, e)) in actual.iter().zip(expected).enumerate() {
        assert!(
            a.is_finite() && (a - e).abs() <= tol,
            "{what}: element {i} is {a}, expected {e} (tolerance {tol})\nactual {actual:?}\nexpected {expected:?}"
        );
    }
}

/// Asserts that each consecutive run of `rows` values sums to 1.
pub fn assert_rows_sum_to_one(what: &str, weights: &[f32], rows: usize) {
    for (i, row) in weights.chunks(rows).enumerate() {
        let sum: f32 = row.iter().sum();
        assert!(
            row.iter().all(|w| w.is_finite() && *w >= 0.0) && (sum - 1.0).abs() < 1e-4,
            "{what}: weighting {i} sums to {sum}: {row:?}"
        );
    }
}

/// Pseudo-random values in `[-1, 1)`, the same on every backend.
pub fn uniform(count: usize, seed: u64) -> Vec<f32> {
    let mut rng = recur_data::SplitMix64::new(seed);
    (0..count)
        .map(|_| ((rng.next_u64() >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0)
        .collect()
}
