//! What goes in and out of the CPU recurrence: its sizes, inputs and
//! outputs, what the forward keeps for the backward, and the gradients.

use crate::kind::CellKind;

/// What the forward keeps for the backward pass.
#[derive(Clone, Debug)]
pub(crate) struct Saved {
    pub(super) kind: CellKind,
    pub(super) dims: Dims,
    /// The layer's input `[batch, time, input]`, for the gradient of `w_ih`.
    pub(super) x: Vec<f32>,
    /// `[input, width]`, for the gradient of `x`.
    pub(super) w_ih: Vec<f32>,
    /// `[hidden, width]`, as given.
    pub(super) w_hh: Vec<f32>,
    /// Each sequence's length, when some are padded.
    pub(super) lengths: Option<Vec<usize>>,
    /// Time indices in processing order.
    pub(super) order: Vec<usize>,
    /// The state each step started from, `[batch][time][hidden]`.
    pub(super) h_prev: Vec<f32>,
    /// Activated gates, `[batch][time][width]`. RNN: the new `h`. LSTM:
    /// `i, f, g, o`. GRU: `r, z, n`. (At padded steps the input side
    /// `x · W_ih`, which nothing reads.)
    pub(super) gates: Vec<f32>,
    /// `[batch][time][aux]`. LSTM: `c_prev, tanh(c')`. GRU: `W_hn h + b_hn`.
    /// RNN: nothing.
    pub(super) aux: Vec<f32>,
}

impl Saved {
    /// The sizes it was computed with.
    pub(crate) fn dims(&self) -> Dims {
        self.dims
    }
}

/// Outputs of the forward: `hs [batch, time, hidden]`, the final `h [batch,
/// hidden]` and the final `c [batch, hidden]` (LSTM; `None` otherwise).
pub(crate) struct Outputs {
    pub hs: Vec<f32>,
    pub h: Vec<f32>,
    pub c: Option<Vec<f32>>,
}

/// Gradients of the inputs of the forward; `None` where not asked for.
pub(crate) struct Grads {
    /// `[batch, time, input]`.
    pub x: Option<Vec<f32>>,
    /// `[input, width]`.
    pub w_ih: Option<Vec<f32>>,
    /// `[width]`.
    pub b_ih: Vec<f32>,
    /// `[hidden, width]`.
    pub w_hh: Vec<f32>,
    /// `[width]`.
    pub b_hh: Vec<f32>,
    /// `[batch, hidden]`.
    pub h0: Vec<f32>,
    /// `[batch, hidden]`, LSTM only.
    pub c0: Option<Vec<f32>>,
}

/// The sizes of one direction of one layer.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Dims {
    pub batch: usize,
    pub time: usize,
    pub input: usize,
    pub hidden: usize,
}

/// The inputs of the forward, as values.
pub(crate) struct Inputs {
    /// `[batch, time, input]`.
    pub x: Vec<f32>,
    /// `[input, width]`.
    pub w_ih: Vec<f32>,
    /// `[width]`.
    pub b_ih: Vec<f32>,
    /// `[hidden, width]`.
    pub w_hh: Vec<f32>,
    /// `[width]`.
    pub b_hh: Vec<f32>,
    /// `[batch, hidden]`.
    pub h0: Vec<f32>,
    /// `[batch, hidden]`, read for LSTM only.
    pub c0: Vec<f32>,
}

/// Blocks of `hidden` values in [`Saved::aux`] per step.
pub(super) fn aux_blocks(kind: CellKind) -> usize {
    match kind {
        CellKind::Lstm => 2,
        CellKind::Gru => 1,
        CellKind::RnnTanh | CellKind::RnnRelu => 0,
    }
}
