//! The log-frequency output bias.

use recur_data::{MIN_FREQUENCY, log_frequency_bias};

#[test]
fn known_counts() {
    let bias = log_frequency_bias(&[1, 2, 4]);
    let expected = [(1.0f32 / 4.0).ln(), (1.0f32 / 2.0).ln(), 0.0];
    for (b, e) in bias.iter().zip(expected) {
        assert!((b - e).abs() < 1e-6, "{bias:?}");
    }
}

#[test]
fn zero_counts_are_floored_not_infinite() {
    let bias = log_frequency_bias(&[0, 3, 1]);
    assert!(bias.iter().all(|b| b.is_finite()), "{bias:?}");
    let floor = (MIN_FREQUENCY.ln() - 0.75f64.ln()) as f32;
    assert!((bias[0] - floor).abs() < 1e-4, "{bias:?}");
    assert_eq!(bias[1], 0.0);
}

#[test]
fn degenerate_counts() {
    assert!(log_frequency_bias(&[]).is_empty());
    assert_eq!(log_frequency_bias(&[0, 0]), [0.0, 0.0]);
}
