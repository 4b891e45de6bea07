//! The output-bias initialisation from word frequencies.

/// The frequency a zero count is raised to before taking the log, so that
/// unseen tokens (such as `<pad>`) get a large negative bias instead of
/// `-inf`: `ln(1e-10) ≈ -23`.
pub const MIN_FREQUENCY: f64 = 1e-10;

/// Initial bias of an output layer over a vocabulary, from how often each id
/// occurs: `ln(frequency) - max ln(frequency)`, so the most frequent id gets 0
/// and the others negative values. Before training, the softmax then predicts
/// the unigram distribution, which speeds up the start of training.
///
/// Frequencies below [`MIN_FREQUENCY`] (zero counts) are clamped to it, so the
/// result is always finite. All-zero counts give all zeros, empty counts an
/// empty vector.
///
/// ```
/// let bias = recur_data::log_frequency_bias(&[1, 2, 4]);
/// assert!((bias[0] - 0.25f32.ln()).abs() < 1e-6);
/// assert!((bias[1] - 0.5f32.ln()).abs() < 1e-6);
/// assert_eq!(bias[2], 0.0);
/// ```
pub fn log_frequency_bias(counts: &[u64]) -> Vec<f32> {
    let total: f64 = counts.iter().map(|&c| c as f64).sum();
    let logs: Vec<f64> = counts
        .iter()
        .map(|&c| {
            let frequency = if total > 0.0 { c as f64 / total } else { 0.0 };
            frequency.max(MIN_FREQUENCY).ln()
        })
        .collect();
    let max = logs.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    logs.iter().map(|&l| (l - max) as f32).collect()
}
