//! Language-model metrics from a mean negative log-likelihood.

/// Perplexity from the mean negative log-likelihood per token in nats
/// (the mean cross-entropy loss): `exp(nll)`.
///
/// ```
/// assert_eq!(recur_eval::perplexity(0.0), 1.0);
/// assert!((recur_eval::perplexity(100f64.ln()) - 100.0).abs() < 1e-9);
/// ```
pub fn perplexity(mean_nll_nats: f64) -> f64 {
    mean_nll_nats.exp()
}

/// Bits per character from the mean negative log-likelihood per character
/// in nats: `nll / ln 2`.
///
/// ```
/// assert_eq!(recur_eval::bits_per_char(std::f64::consts::LN_2), 1.0);
/// ```
pub fn bits_per_char(mean_nll_nats: f64) -> f64 {
    mean_nll_nats / std::f64::consts::LN_2
}
