//! One time step of one sequence, per cell kind, forward and backward: the
//! only place the CPU path writes the cells' equations. The functions have
//! the names of the device path's in `device/gates.rs` and compute the same,
//! element by element instead of tensor by tensor.
//!
//! Names: `xw` is the input side of the pre-activations (`x · W_ih`), `hw`
//! the recurrent side (`h · W_hh`); `i, f, g, o` are the LSTM's activated
//! gates and `r, z, n` the GRU's; `d_*` is a gradient, `d_*_pre` one of a
//! pre-activation.
//!
//! Every slice of a kind is `hidden` long per gate, so the loops vectorise
//! (no bounds checks, no calls: see `math.rs`'s `exp`); the functions are
//! `inline(always)` so that they are compiled inside `pulp`'s AVX2 dispatch.

use super::math::{sigmoid, tanh};
use crate::kind::CellKind;

/// One forward step of one sequence, as a `pulp` operation: its
/// `with_simd` is compiled once per instruction set, and everything it calls
/// is `inline(always)`, so the loops vectorise with that set (a closure
/// body is not reliably inlined there, and then runs as baseline SSE2).
pub(super) struct ForwardStep<'a> {
    pub kind: CellKind,
    /// `h_prev · W_hh`.
    pub hw: &'a [f32],
    /// The input side `x · W_ih` on entry, the activated gates on return.
    pub xw_then_gates: &'a mut [f32],
    /// Added to the input side: `b_ih + b_hh`, the GRU's `b_ih` only.
    pub bias: &'a [f32],
    pub b_hh: &'a [f32],
    /// `h_prev` on entry, the new `h` on return.
    pub h: &'a mut [f32],
    /// `c_prev` on entry, the new `c` on return (LSTM only).
    pub c: &'a mut [f32],
    /// What the backward needs besides the gates (see `Saved::aux`).
    pub aux: &'a mut [f32],
}

impl pulp::WithSimd for ForwardStep<'_> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: pulp::Simd>(self, _: S) {
        let ForwardStep {
            kind,
            hw,
            xw_then_gates: gates,
            bias,
            b_hh,
            h,
            c,
            aux,
        } = self;
        match kind {
            CellKind::RnnTanh => rnn_forward(hw, gates, bias, h, tanh),
            CellKind::RnnRelu => rnn_forward(hw, gates, bias, h, |v| v.max(0.0)),
            CellKind::Lstm => lstm_forward(hw, gates, bias, h, c, aux),
            CellKind::Gru => gru_forward(hw, gates, bias, b_hh, h, aux),
        }
    }
}

/// One backward step of one sequence, as a `pulp` operation (see
/// [`ForwardStep`]).
pub(super) struct BackwardStep<'a> {
    pub kind: CellKind,
    /// The step's activated gates on entry, the gradient of its input side
    /// `x · W_ih` on return.
    pub gates_then_d_xw: &'a mut [f32],
    pub aux: &'a [f32],
    pub h_prev: &'a [f32],
    /// The gradient of the new `h` on entry; on return what reaches `h_prev`
    /// other than through `W_hh`.
    pub d_h: &'a mut [f32],
    /// The gradient of the new `c` on entry, of `c_prev` on return (LSTM).
    pub d_c: &'a mut [f32],
    /// The gradient of the recurrent side `h_prev · W_hh`.
    pub d_hw: &'a mut [f32],
}

impl pulp::WithSimd for BackwardStep<'_> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: pulp::Simd>(self, _: S) {
        let BackwardStep {
            kind,
            gates_then_d_xw: gates,
            aux,
            h_prev,
            d_h,
            d_c,
            d_hw,
        } = self;
        match kind {
            CellKind::RnnTanh => rnn_backward(gates, d_h, d_hw, |y| 1.0 - y * y),
            CellKind::RnnRelu => {
                rnn_backward(gates, d_h, d_hw, |y| if y > 0.0 { 1.0 } else { 0.0 })
            }
            CellKind::Lstm => lstm_backward(gates, aux, d_h, d_c, d_hw),
            CellKind::Gru => gru_backward(gates, aux, h_prev, d_h, d_hw),
        }
        // RNN and LSTM: the input and recurrent sides are one sum, so their
        // gradients are the same.
        if kind != CellKind::Gru {
            gates.copy_from_slice(d_hw);
        }
    }
}

/// RNN: `h' = act(xw + hw + bias)`; `xw_then_gates` holds `xw` on entry and
/// `h'` on return.
#[inline(always)]
fn rnn_forward(
    hw: &[f32],
    xw_then_gates: &mut [f32],
    bias: &[f32],
    h: &mut [f32],
    act: impl Fn(f32) -> f32,
) {
    let n = h.len();
    let (hw, xw, bias) = (&hw[..n], &mut xw_then_gates[..n], &bias[..n]);
    for j in 0..n {
        h[j] = act(hw[j] + xw[j] + bias[j]);
        xw[j] = h[j];
    }
}

/// LSTM: `[i, f, g, o]` from `xw + hw + bias`, `c' = f*c + i*g`,
/// `h' = o*tanh(c')`; `xw_then_gates` holds `xw` on entry and `i, f, g, o`
/// on return; keeps `c_prev, tanh(c')` in `aux`.
#[inline(always)]
fn lstm_forward(
    hw: &[f32],
    xw_then_gates: &mut [f32],
    bias: &[f32],
    h: &mut [f32],
    c: &mut [f32],
    aux: &mut [f32],
) {
    let n = h.len();
    let [hw_i, hw_f, hw_g, hw_o] = blocks(hw, n);
    let [b_i, b_f, b_g, b_o] = blocks(bias, n);
    let [x_i, x_f, x_g, x_o] = blocks_mut(xw_then_gates, n);
    let (c_prev, c_tanh) = aux.split_at_mut(n);
    let (c_tanh, c) = (&mut c_tanh[..n], &mut c[..n]);
    for j in 0..n {
        let i = sigmoid(x_i[j] + hw_i[j] + b_i[j]);
        let f = sigmoid(x_f[j] + hw_f[j] + b_f[j]);
        let g = tanh(x_g[j] + hw_g[j] + b_g[j]);
        let o = sigmoid(x_o[j] + hw_o[j] + b_o[j]);
        c_prev[j] = c[j];
        c[j] = f * c[j] + i * g;
        c_tanh[j] = tanh(c[j]);
        h[j] = o * c_tanh[j];
        (x_i[j], x_f[j], x_g[j], x_o[j]) = (i, f, g, o);
    }
}

/// GRU: `r, z` from `xw + b_ih + hw + b_hh`, `n = tanh(xw_n + b_in +
/// r*(hw_n + b_hn))`, `h' = (1-z)*n + z*h`; `xw_then_gates` holds `xw` on
/// entry and `r, z, n` on return; keeps `hw_n + b_hn` in `aux`.
#[inline(always)]
fn gru_forward(
    hw: &[f32],
    xw_then_gates: &mut [f32],
    b_ih: &[f32],
    b_hh: &[f32],
    h: &mut [f32],
    aux: &mut [f32],
) {
    let hidden = h.len();
    let [hw_r, hw_z, hw_n] = blocks(hw, hidden);
    let [bh_r, bh_z, bh_n] = blocks(b_hh, hidden);
    let [bx_r, bx_z, bx_n] = blocks(b_ih, hidden);
    let [x_r, x_z, x_n] = blocks_mut(xw_then_gates, hidden);
    let saved_hn = &mut aux[..hidden];
    for j in 0..hidden {
        let r = sigmoid(x_r[j] + bx_r[j] + hw_r[j] + bh_r[j]);
        let z = sigmoid(x_z[j] + bx_z[j] + hw_z[j] + bh_z[j]);
        let hn = hw_n[j] + bh_n[j];
        let n = tanh(x_n[j] + bx_n[j] + r * hn);
        // h' = (1 - z) * n + z * h = n + z * (h - n)
        h[j] = n + z * (h[j] - n);
        (x_r[j], x_z[j], x_n[j], saved_hn[j]) = (r, z, n, hn);
    }
}

/// RNN backward: `d_h` (the gradient of `h'`) through `act`, whose
/// derivative `slope` is written in terms of the output, into `d_pre`;
/// nothing reaches `h_prev` directly.
#[inline(always)]
fn rnn_backward(h_new: &[f32], d_h: &mut [f32], d_pre: &mut [f32], slope: impl Fn(f32) -> f32) {
    for ((d_pre, d_h), &y) in d_pre.iter_mut().zip(d_h.iter_mut()).zip(h_new) {
        *d_pre = *d_h * slope(y);
        *d_h = 0.0;
    }
}

/// LSTM backward: from the gradients of `h'` (`d_h`) and `c'` (`d_c`) to
/// those of the pre-activations (`d_pre`) and of `c_prev` (into `d_c`);
/// nothing reaches `h_prev` directly.
#[inline(always)]
fn lstm_backward(gates: &[f32], aux: &[f32], d_h: &mut [f32], d_c: &mut [f32], d_pre: &mut [f32]) {
    let n = d_h.len();
    let (gi, gf, gg, go) = (
        &gates[..n],
        &gates[n..2 * n],
        &gates[2 * n..3 * n],
        &gates[3 * n..4 * n],
    );
    let (c_prev, c_tanh) = (&aux[..n], &aux[n..2 * n]);
    let (d_i_pre, rest) = d_pre.split_at_mut(n);
    let (d_f_pre, rest) = rest.split_at_mut(n);
    let (d_g_pre, d_o_pre) = rest.split_at_mut(n);
    let (d_g_pre, d_o_pre, d_c) = (&mut d_g_pre[..n], &mut d_o_pre[..n], &mut d_c[..n]);
    for j in 0..n {
        let (i, f, g, o, c_tanh) = (gi[j], gf[j], gg[j], go[j], c_tanh[j]);
        let d_cell = d_c[j] + d_h[j] * o * (1.0 - c_tanh * c_tanh);
        d_i_pre[j] = d_cell * g * i * (1.0 - i);
        d_f_pre[j] = d_cell * c_prev[j] * f * (1.0 - f);
        d_g_pre[j] = d_cell * i * (1.0 - g * g);
        d_o_pre[j] = d_h[j] * c_tanh * o * (1.0 - o);
        d_c[j] = d_cell * f;
        d_h[j] = 0.0;
    }
}

/// GRU backward: from the gradient of `h'` (`d_h`) to those of the input
/// side (written over the gates) and recurrent side (`d_hw`) of the
/// pre-activations; `d_h` keeps what reaches `h_prev` directly (`z * d_h`).
#[inline(always)]
fn gru_backward(gates: &mut [f32], aux: &[f32], h_prev: &[f32], d_h: &mut [f32], d_hw: &mut [f32]) {
    let hidden = d_h.len();
    let [gr, gz, gn] = blocks_mut(gates, hidden);
    let [d_hw_r, d_hw_z, d_hw_n] = blocks_mut(d_hw, hidden);
    let (hn, h_prev) = (&aux[..hidden], &h_prev[..hidden]);
    for j in 0..hidden {
        let (r, z, n) = (gr[j], gz[j], gn[j]);
        let d_z_pre = d_h[j] * (h_prev[j] - n) * z * (1.0 - z);
        let d_n_pre = d_h[j] * (1.0 - z) * (1.0 - n * n);
        let d_r_pre = d_n_pre * hn[j] * r * (1.0 - r);
        (gr[j], gz[j], gn[j]) = (d_r_pre, d_z_pre, d_n_pre);
        (d_hw_r[j], d_hw_z[j], d_hw_n[j]) = (d_r_pre, d_z_pre, d_n_pre * r);
        d_h[j] *= z;
    }
}

/// The first `K` blocks of `n` values of `v`.
#[inline(always)]
fn blocks<const K: usize>(v: &[f32], n: usize) -> [&[f32]; K] {
    std::array::from_fn(|k| &v[k * n..(k + 1) * n])
}

/// The first `K` blocks of `n` values of `v`, to write.
#[inline(always)]
fn blocks_mut<const K: usize>(v: &mut [f32], n: usize) -> [&mut [f32]; K] {
    let mut blocks = v[..K * n].chunks_exact_mut(n);
    std::array::from_fn(|_| &mut blocks.next().expect("K blocks")[..n])
}
