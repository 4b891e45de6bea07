//! One time step of the whole batch, per cell kind, forward and backward,
//! as backend ops: the only place the device path writes the cells'
//! equations. The functions have the names of the CPU path's in
//! `host/gates.rs` and compute the same, tensor by tensor instead of element
//! by element.
//!
//! Every tensor is feature-major, `[features, batch]`. Names: `xw` is the
//! input side of the pre-activations (`W_ihᵀ x`, with the biases that go
//! there), `hw` the recurrent side (`W_hhᵀ h`); `i, f, g, o` are the LSTM's
//! activated gates and `r, z, n` the GRU's; `d_*` is a gradient, `d_*_pre`
//! one of a pre-activation.

use burn::backend::Backend;

use super::float::{Activations, Float};

/// What the LSTM's backward needs from its forward.
#[derive(Clone, Debug)]
pub(super) struct LstmSaved<B: Backend> {
    /// σ of all four pre-activations, `[i, f, _, o]` (the cell gate's block
    /// is unused: `g` is its `tanh`).
    sigmoids: Float<B>,
    g: Float<B>,
    c_prev: Float<B>,
    c_tanh: Float<B>,
}

/// What the GRU's backward needs from its forward.
#[derive(Clone, Debug)]
pub(super) struct GruSaved<B: Backend> {
    /// `[r, z]`.
    rz: Float<B>,
    n: Float<B>,
    /// `hw_n + b_hn`, the recurrent side of `n` before the reset gate.
    hn: Float<B>,
}

/// What one backward step gives.
pub(super) struct StepGrads<B: Backend> {
    /// Of the input side `xw`.
    pub d_xw: Float<B>,
    /// Of the recurrent side `hw` (for RNN and LSTM the same as `d_xw`).
    pub d_hw: Float<B>,
    /// What reaches `h_prev` other than through `W_hh`, when anything does
    /// (GRU: `z * d_h`).
    pub d_h_direct: Option<Float<B>>,
    /// Of `c_prev`, for the LSTM.
    pub d_c_prev: Option<Float<B>>,
}

/// RNN: `h' = act(xw + hw)` (both biases are in `xw`).
pub(super) fn rnn_forward<B: Backend>(
    xw: Float<B>,
    hw: Float<B>,
    act: impl FnOnce(Float<B>) -> Float<B>,
) -> Float<B> {
    act(xw + hw)
}

/// LSTM: `[i, f, g, o]` from `xw + hw` (both biases are in `xw`),
/// `c' = f*c + i*g`, `h' = o*tanh(c')`. Returns `h'`, `c'` and what the
/// backward needs.
pub(super) fn lstm_forward<B: Backend>(
    act: &Activations,
    xw: Float<B>,
    hw: Float<B>,
    c: Float<B>,
    hidden: usize,
) -> (Float<B>, Float<B>, LstmSaved<B>) {
    let pre = xw + hw;
    let sigmoids = act.sigmoid(pre.clone());
    let [i, f, o] = [0, 1, 3].map(|k| sigmoids.rows(k * hidden, hidden));
    let g = act.tanh(pre.rows(2 * hidden, hidden));
    let c_new = f * c.clone() + i * g.clone();
    let c_tanh = act.tanh(c_new.clone());
    let h_new = o * c_tanh.clone();
    let saved = LstmSaved {
        sigmoids,
        g,
        c_prev: c,
        c_tanh,
    };
    (h_new, c_new, saved)
}

/// GRU: `r, z` from `xw + hw` (with `b_ih` in `xw` and `b_hh` in `hw`),
/// `n = tanh(xw_n + r*(hw_n + b_hn))`, `h' = (1-z)*n + z*h`. Returns `h'`
/// and what the backward needs.
pub(super) fn gru_forward<B: Backend>(
    act: &Activations,
    xw: Float<B>,
    hw: Float<B>,
    h: Float<B>,
    hidden: usize,
) -> (Float<B>, GruSaved<B>) {
    let rz = act.sigmoid(xw.rows(0, 2 * hidden) + hw.rows(0, 2 * hidden));
    let (r, z) = (rz.rows(0, hidden), rz.rows(hidden, hidden));
    let hn = hw.rows(2 * hidden, hidden);
    let n = act.tanh(xw.rows(2 * hidden, hidden) + r * hn.clone());
    // h' = (1 - z) * n + z * h = n + z * (h - n)
    let h_new = n.clone() + z * (h - n.clone());
    (h_new, GruSaved { rz, n, hn })
}

/// RNN backward: `d_pre = d_h · act'`, with `slope(h', d_h)` computing it
/// from the output; nothing reaches `h_prev` directly.
pub(super) fn rnn_backward<B: Backend>(
    h_new: Float<B>,
    d_h: Float<B>,
    slope: impl FnOnce(Float<B>, Float<B>) -> Float<B>,
) -> StepGrads<B> {
    let d_pre = slope(h_new, d_h);
    StepGrads {
        d_xw: d_pre.clone(),
        d_hw: d_pre,
        d_h_direct: None,
        d_c_prev: None,
    }
}

/// LSTM backward: from the gradients of `h'` (`d_h`) and `c'` (`d_c`) to
/// those of the pre-activations and of `c_prev`; nothing reaches `h_prev`
/// directly.
pub(super) fn lstm_backward<B: Backend>(
    saved: &LstmSaved<B>,
    d_h: Float<B>,
    d_c: Float<B>,
    hidden: usize,
) -> StepGrads<B> {
    let LstmSaved {
        sigmoids,
        g,
        c_prev,
        c_tanh,
    } = saved.clone();
    let [i, f, o] = [0, 1, 3].map(|k| sigmoids.rows(k * hidden, hidden));
    let d_o = d_h.clone() * c_tanh.clone();
    let d_cell = d_c + d_h * o.clone() * (1.0 - c_tanh.clone() * c_tanh);
    let d_i = d_cell.clone() * g.clone();
    let d_f = d_cell.clone() * c_prev;
    let d_g = d_cell.clone() * i.clone();
    let d_c_prev = d_cell * f.clone();
    let d_pre = Float::cat(
        vec![
            i.sigmoid_backward(d_i),
            f.sigmoid_backward(d_f),
            d_g * (1.0 - g.clone() * g),
            o.sigmoid_backward(d_o),
        ],
        0,
    );
    StepGrads {
        d_xw: d_pre.clone(),
        d_hw: d_pre,
        d_h_direct: None,
        d_c_prev: Some(d_c_prev),
    }
}

/// GRU backward: from the gradient of `h'` (`d_h`) to those of the input
/// and recurrent sides of the pre-activations (which differ in `n`'s block,
/// by the reset gate), and what reaches `h_prev` directly (`z * d_h`).
pub(super) fn gru_backward<B: Backend>(
    saved: &GruSaved<B>,
    h_prev: Float<B>,
    d_h: Float<B>,
    hidden: usize,
) -> StepGrads<B> {
    let GruSaved { rz, n, hn } = saved.clone();
    let (r, z) = (rz.rows(0, hidden), rz.rows(hidden, hidden));
    let d_z = d_h.clone() * (h_prev - n.clone());
    let d_n = d_h.clone() * (1.0 - z.clone());
    let d_h_direct = d_h * z.clone();
    let d_n_pre = d_n * (1.0 - n.clone() * n);
    let d_r = d_n_pre.clone() * hn;
    let d_rz_pre = Float::cat(
        vec![r.clone().sigmoid_backward(d_r), z.sigmoid_backward(d_z)],
        0,
    );
    StepGrads {
        d_xw: Float::cat(vec![d_rz_pre.clone(), d_n_pre.clone()], 0),
        d_hw: Float::cat(vec![d_rz_pre, d_n_pre * r], 0),
        d_h_direct: Some(d_h_direct),
        d_c_prev: None,
    }
}
