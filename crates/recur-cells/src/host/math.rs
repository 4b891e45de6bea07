//! Vector maths for the gate loops and the gradients: `exp`, `sigmoid` and
//! `tanh` written so that the loops calling them vectorise, a dot product and
//! column sums.

use rayon::prelude::*;

/// `exp` for the gate activations, written so the compiler vectorises the
/// loops it is in (a call to the C library's `expf` cannot be): Cephes's
/// `expf` range reduction and polynomial, relative error about 1e-7.
#[inline(always)]
fn exp(x: f32) -> f32 {
    const LN2_HI: f32 = 0.693_359_4;
    const LN2_LO: f32 = -2.121_944_4e-4;
    // Round to nearest by adding and subtracting 1.5 * 2^23.
    const ROUND: f32 = 12_582_912.0;
    // Beyond these exp(x) is 0 or infinite in f32 anyway.
    let x = x.clamp(-87.0, 88.0);
    let n = (x * std::f32::consts::LOG2_E + ROUND) - ROUND;
    let r = x - n * LN2_HI - n * LN2_LO;
    let mut p = 1.987_569_1e-4_f32;
    p = p * r + 1.398_199_9e-3;
    p = p * r + 8.333_452e-3;
    p = p * r + 4.166_579_6e-2;
    p = p * r + 1.666_666_5e-1;
    p = p * r + 0.5;
    let y = p * r * r + r + 1.0;
    // 2^n: n + 127 + 2^23 holds the integer n + 127 in its low mantissa
    // bits; shifted into the exponent field it is the float 2^n. (A float
    // to int conversion would keep the loop from vectorising.)
    y * f32::from_bits((n + (127.0 + 8_388_608.0)).to_bits() << 23)
}

#[inline(always)]
pub(super) fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + exp(-x))
}

/// `tanh(x) = 2σ(2x) - 1`.
#[inline(always)]
pub(crate) fn tanh(x: f32) -> f32 {
    2.0 * sigmoid(2.0 * x) - 1.0
}

/// `Σ a[i] b[i]`, summed in eight lanes so that the loop vectorises.
pub(crate) fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut lanes = [0.0f32; 8];
    let (a8, b8) = (a.chunks_exact(8), b.chunks_exact(8));
    let tail: f32 = a8
        .remainder()
        .iter()
        .zip(b8.remainder())
        .map(|(x, y)| x * y)
        .sum();
    for (x, y) in a8.zip(b8) {
        for lane in 0..8 {
            lanes[lane] += x[lane] * y[lane];
        }
    }
    lanes.iter().sum::<f32>() + tail
}

/// The sums over rows of a row-major matrix `width` wide. In parallel over
/// fixed blocks of rows, added in order, so that the result does not depend
/// on the threads (a rayon `fold` splits where work is stolen).
pub(crate) fn column_sums(matrix: &[f32], width: usize) -> Vec<f32> {
    const BLOCK_ROWS: usize = 256;
    let add = |mut sums: Vec<f32>, rows: &[f32]| {
        for row in rows.chunks(width) {
            for (sum, &v) in sums.iter_mut().zip(row) {
                *sum += v;
            }
        }
        sums
    };
    let blocks: Vec<Vec<f32>> = matrix
        .par_chunks(BLOCK_ROWS * width)
        .map(|rows| add(vec![0.0; width], rows))
        .collect();
    blocks
        .iter()
        .fold(vec![0.0; width], |sums, block| add(sums, block))
}
