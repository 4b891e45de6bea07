//! Perplexity and bits per character on simple values.

use recur_eval::{bits_per_char, perplexity};

#[test]
fn perplexity_is_exp_of_the_mean_nll() {
    assert_eq!(perplexity(0.0), 1.0);
    assert!((perplexity(1.0) - std::f64::consts::E).abs() < 1e-15);
    // A uniform guess over 10 000 words has perplexity 10 000.
    assert!((perplexity(10_000f64.ln()) - 10_000.0).abs() < 1e-9);
}

#[test]
fn bits_per_char_is_the_mean_nll_in_bits() {
    assert_eq!(bits_per_char(0.0), 0.0);
    assert_eq!(bits_per_char(std::f64::consts::LN_2), 1.0);
    // A uniform guess over 256 bytes costs 8 bits each.
    assert!((bits_per_char(256f64.ln()) - 8.0).abs() < 1e-12);
    // Perplexity per character is 2^bpc.
    let nll = 1.37;
    assert!((2f64.powf(bits_per_char(nll)) - perplexity(nll)).abs() < 1e-12);
}
