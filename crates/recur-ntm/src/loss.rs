//! How a task's answer is scored: binary cross-entropy for training, bit
//! errors for reporting (the paper's figures count both per sequence).

use burn::tensor::Tensor;

/// Mean binary cross-entropy (nats per bit) of logits against 0/1 targets,
/// in the stable form `max(z, 0) - z y + ln(1 + e^-|z|)`.
///
/// - logits, targets: `[batch, steps, bits]`
/// - returns: `[1]`
pub fn binary_cross_entropy(logits: Tensor<3>, targets: Tensor<3>) -> Tensor<1> {
    let softplus_tail = logits.clone().abs().neg().exp().log1p();
    (logits.clone().clamp_min(0.0) - logits * targets + softplus_tail).mean()
}

/// Wrong bits per sequence when every logit is thresholded at 0 (probability
/// 0.5).
///
/// - logits, targets: `[batch, steps, bits]`
/// - returns: one count per sequence
pub fn bit_errors(logits: Tensor<3>, targets: Tensor<3>) -> Vec<usize> {
    let [batch, ..] = logits.dims();
    let wrong = logits
        .greater_elem(0.0)
        .not_equal(targets.greater_elem(0.5))
        .int()
        .sum_dims_squeeze::<1, usize>(&[1, 2]);
    let counts = wrong
        .into_data()
        .convert::<i64>()
        .try_to_vec::<i64>()
        .unwrap_or_default();
    debug_assert_eq!(counts.len(), batch);
    counts.into_iter().map(|c| c as usize).collect()
}
