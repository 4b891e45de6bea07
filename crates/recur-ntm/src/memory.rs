//! The memory matrix and what heads do to it (section 3.1 and 3.2 of the
//! paper): weighted reads, and writes as an erase followed by an add.

use burn::tensor::Tensor;
use serde::{Deserialize, Serialize};

/// How the memory starts each sequence.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum MemoryInit {
    /// Every cell a small constant (`NtmConfig::memory_constant`). Collier
    /// and Beel (2018) report this converges about twice as fast as learned
    /// or random initialisation; with the ntm app's training (batch 4,
    /// Adam) copy learned in fewer sequences with [`MemoryInit::Learned`]
    /// (docs/RESULTS.md), which is the app's default.
    Constant,
    /// A learned `[rows, width]` matrix, shared by every sequence, starting
    /// uniform within `±1/sqrt(rows + width)`.
    Learned,
}

impl std::fmt::Display for MemoryInit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            MemoryInit::Constant => "constant",
            MemoryInit::Learned => "learned",
        })
    }
}

impl std::str::FromStr for MemoryInit {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "constant" => Ok(MemoryInit::Constant),
            "learned" => Ok(MemoryInit::Learned),
            other => Err(format!(
                "unknown memory initialisation `{other}` (expected constant or learned)"
            )),
        }
    }
}

/// Reading, eq. (2): `r = sum_i w(i) M(i)`, for every read head at once.
///
/// - weights: `[batch, heads, rows]`
/// - memory: `[batch, rows, width]`
/// - returns: `[batch, heads, width]`
pub fn read(weights: Tensor<3>, memory: Tensor<3>) -> Tensor<3> {
    weights.matmul(memory)
}

/// Writing, eqs. (3) and (4): every head erases,
/// `M~(i) = M(i) [1 - w(i) e]` (the erasures multiply, so their order does not
/// matter), then every head adds, `M(i) = M~(i) + sum_h w_h(i) a_h`.
///
/// - memory: `[batch, rows, width]`
/// - weights: `[batch, heads, rows]`
/// - erase (in `[0, 1]`), add: `[batch, heads, width]`
/// - returns the new memory, `[batch, rows, width]`
pub fn write(memory: Tensor<3>, weights: Tensor<3>, erase: Tensor<3>, add: Tensor<3>) -> Tensor<3> {
    let heads = weights.dims()[1];
    let columns = weights.swap_dims(1, 2); // [batch, rows, heads]
    let erased = (0..heads).fold(memory, |memory, h| {
        // Outer product w_h e_h^T: [batch, rows, 1] x [batch, 1, width].
        let outer = columns
            .clone()
            .narrow(2, h, 1)
            .matmul(erase.clone().narrow(1, h, 1));
        memory * (outer.neg() + 1.0)
    });
    erased + columns.matmul(add)
}
