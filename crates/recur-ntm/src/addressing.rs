//! The NTM's addressing mechanism (Graves, Wayne and Danihelka, 2014,
//! section 3.3), one function per box of the paper's figure 2. Every function
//! works on all heads of a batch at once: weightings are `[batch, heads, rows]`.

use burn::tensor::Tensor;
use burn::tensor::activation::softmax;

/// Added under the square roots of cosine similarity (eq. 6) and to the
/// weights before sharpening (eq. 9): keeps zero rows, zero keys and zero
/// weights away from a division by zero or the logarithm of zero.
pub const EPSILON: f32 = 1e-6;

/// Content addressing, eqs. (5) and (6): a softmax over memory rows of the
/// key strength times the cosine similarity of key and row,
/// `w_c(i) = exp(beta K[k, M(i)]) / sum_j exp(beta K[k, M(j)])`.
///
/// - key: `[batch, heads, width]`
/// - strength (`beta >= 0`): `[batch, heads, 1]`
/// - memory: `[batch, rows, width]`
/// - returns: `[batch, heads, rows]`
pub fn content_addressing(key: Tensor<3>, strength: Tensor<3>, memory: Tensor<3>) -> Tensor<3> {
    softmax(cosine_similarity(key, memory) * strength, 2)
}

/// Cosine similarity, eq. (6): `K[u, v] = u . v / (|u| |v|)`, with
/// [`EPSILON`] under each norm's square root so a zero vector gives 0 and a
/// finite gradient.
///
/// - key: `[batch, heads, width]`
/// - memory: `[batch, rows, width]`
/// - returns: `[batch, heads, rows]`
pub fn cosine_similarity(key: Tensor<3>, memory: Tensor<3>) -> Tensor<3> {
    let norm = |t: Tensor<3>| (t.powi_scalar(2).sum_dim(2) + EPSILON).sqrt();
    let key_norm = norm(key.clone()); // [batch, heads, 1]
    let row_norm = norm(memory.clone()).swap_dims(1, 2); // [batch, 1, rows]
    key.matmul(memory.swap_dims(1, 2)) / (key_norm * row_norm)
}

/// Interpolation, eq. (7): `w_g = g w_c + (1 - g) w_{t-1}`; the gate `g` in
/// `[0, 1]` chooses between the content weighting and the previous one.
///
/// - content, previous: `[batch, heads, rows]`
/// - gate: `[batch, heads, 1]`
pub fn interpolate(content: Tensor<3>, previous: Tensor<3>, gate: Tensor<3>) -> Tensor<3> {
    previous.clone() + gate * (content - previous)
}

/// Convolutional shift, eq. (8): the circular convolution
/// `w~(i) = sum_j w_g(j) s(i - j)` (indices modulo `rows`).
///
/// `shift` holds a distribution over the `2r + 1` offsets `-r..=r`, in that
/// order (`r` is the shift range, at most `(rows - 1) / 2`).
///
/// - weights: `[batch, heads, rows]`
/// - shift: `[batch, heads, 2r + 1]`
pub fn shift(weights: Tensor<3>, shift: Tensor<3>) -> Tensor<3> {
    let [_, _, rows] = weights.dims();
    let offsets = shift.dims()[2];
    let range = offsets / 2;
    if range == 0 {
        return weights * shift;
    }
    // Circular padding by `range` on each side: padded[p] = w((p - range) mod rows),
    // so w(i - d) = padded[i - d + range], a window starting at range - d.
    let padded = Tensor::cat(
        vec![
            weights.clone().narrow(2, rows - range, range),
            weights.clone(),
            weights.narrow(2, 0, range),
        ],
        2,
    );
    (0..offsets)
        .map(|k| {
            // Offset d = k - range.
            let start = 2 * range - k;
            padded.clone().narrow(2, start, rows) * shift.clone().narrow(2, k, 1)
        })
        .reduce(|sum, term| sum + term)
        .expect("at least one offset")
}

/// Sharpening, eq. (9): `w(i) = w~(i)^gamma / sum_j w~(j)^gamma` with
/// `gamma >= 1`, computed as `softmax(gamma ln(w~ + EPSILON))`: the softmax
/// subtracts the largest exponent, so a large `gamma` cannot underflow every
/// weight to zero.
///
/// - weights: `[batch, heads, rows]`
/// - gamma: `[batch, heads, 1]`
pub fn sharpen(weights: Tensor<3>, gamma: Tensor<3>) -> Tensor<3> {
    softmax((weights + EPSILON).log() * gamma, 2)
}

/// The whole addressing pipeline of figure 2: content addressing,
/// interpolation with the previous weighting, convolutional shift,
/// sharpening.
///
/// - key: `[batch, heads, width]`; strength, gate, gamma: `[batch, heads, 1]`
/// - shift: `[batch, heads, 2r + 1]`; memory: `[batch, rows, width]`
/// - previous and the result: `[batch, heads, rows]`
pub fn address(params: &AddressParams, memory: Tensor<3>, previous: Tensor<3>) -> Tensor<3> {
    let content = content_addressing(params.key.clone(), params.strength.clone(), memory);
    let gated = interpolate(content, previous, params.gate.clone());
    sharpen(
        shift(gated, params.shift.clone()),
        params.sharpening.clone(),
    )
}

/// What a head emits to address memory, already in range (the activations
/// are applied by the heads, see `Heads::forward`).
#[derive(Debug, Clone)]
pub struct AddressParams {
    /// Key vector `k`, `[batch, heads, width]`.
    pub key: Tensor<3>,
    /// Key strength `beta >= 0`, `[batch, heads, 1]`.
    pub strength: Tensor<3>,
    /// Interpolation gate `g` in `[0, 1]`, `[batch, heads, 1]`.
    pub gate: Tensor<3>,
    /// Shift weighting `s` over offsets `-r..=r`, each row summing to 1,
    /// `[batch, heads, 2r + 1]`.
    pub shift: Tensor<3>,
    /// Sharpening exponent `gamma >= 1`, `[batch, heads, 1]`.
    pub sharpening: Tensor<3>,
}
