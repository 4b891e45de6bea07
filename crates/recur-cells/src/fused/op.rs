//! [`FusedOp`]: a forward and a hand-written backward over a backend's
//! primitives.

use std::fmt::Debug;

use burn::backend::Backend;
use burn::backend::tensor::FloatTensor;

/// An op with `N` float inputs and `M` float outputs whose backward is hand-written.
///
/// Both methods are generic over the *inner* (non-autodiff) backend `B`: they only see plain
/// primitives (`B::FloatTensorPrimitive`) and use `B::float_*` ops, so no autodiff graph is
/// recorded for anything they do.
pub trait FusedOp<const N: usize, const M: usize>: Clone + Send + Sync + Debug + 'static {
    /// What the forward saves for the backward (primitives are cheap, ref-counted clones).
    type State<B: Backend>: Clone + Send + Debug + 'static;

    /// Forward pass. `needs[i]` says whether input `i` will need a gradient; when all are
    /// false (plain device, or no input tracked) return `None` and save nothing.
    fn forward<B: Backend>(
        &self,
        inputs: [FloatTensor<B>; N],
        needs: [bool; N],
    ) -> ([FloatTensor<B>; M], Option<Self::State<B>>);

    /// Backward pass. `grads[j]` is dL/d(output j), `None` when output j did not reach the
    /// loss (treat as zero). Return dL/d(input i) for every `needs[i]` (others may be `None`).
    fn backward<B: Backend>(
        &self,
        state: Self::State<B>,
        grads: [Option<FloatTensor<B>>; M],
        needs: [bool; N],
    ) -> [Option<FloatTensor<B>>; N];
}
