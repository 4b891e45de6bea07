//! The recurrence on the CPU backends (ndarray, flex): the same equations as
//! the device path in `kernel.rs`, run over plain `f32` buffers, the input
//! projection included.
//!
//! Composed of backend primitives, one LSTM step is about fifteen passes over
//! memory, each allocating its result; on the CPU those passes, not the
//! matmuls, took most of the time (`perf` on the cells benchmark). Here the
//! input side of all steps is one matmul straight from `x` (reading the
//! projection out of a burn tensor instead cost more than computing it).
//! The batch is then cut into one shard per rayon thread, and each thread
//! runs the whole recurrence of its shard: per step, its rows' product with
//! `W_hh` (packed once per call, [`Panels`]) and the gate loops right after
//! it, compiled for AVX2 + FMA where the CPU has them (`pulp`). The steps
//! need no synchronisation between threads, and each shard's products stay
//! in its own core's cache for its gate loops. The backward runs the same
//! way, then gathers the weight gradients into one product each.
//!
//! The large products go through OpenBLAS with the default `openblas`
//! feature (see [`matmul`]); without it they use `matrixmultiply` (with
//! which the layer was 1.3-1.9x slower when every step's product went
//! through it too). OpenBLAS's idle threads spin for 2^28 cycles (about
//! 0.1 s) after each call, its `THREAD_TIMEOUT`, and take cores from the
//! shards: the workspace sets `OPENBLAS_THREAD_TIMEOUT=4`
//! (`.cargo/config.toml`), so they sleep at once. Without it the layer is up
//! to 25% slower, about as fast as it was with OpenBLAS doing every step's
//! product (docs/BENCHMARKS.md).
//!
//! Layout: batch-major, as the tensors come in. Sequence buffers are
//! `[batch][time][features]` (`[batch*time, features]` matrices), per-step
//! buffers `[batch][features]`; row `b` of a step is gates `i, f, g, o` (or
//! `r, z, n`) one after the other, each `hidden` wide, so the gate loops run
//! over contiguous slices. No input or output is ever permuted.

use std::any::Any;

use burn::backend::flex::FlexTensor;
#[allow(deprecated)] // burn-ndarray
use burn::backend::ndarray::NdArrayTensor;
use burn::backend::tensor::FloatTensor;
use burn::backend::{Backend, DType, Shape};
use burn::tensor::{TensorData, read_sync};
use ndarray::{ArrayView2, ArrayViewMut2, ShapeBuilder};
use rayon::prelude::*;

use crate::cell::CellKind;

/// What the forward keeps for the backward pass.
#[derive(Clone, Debug)]
pub(crate) struct Saved {
    kind: CellKind,
    dims: Dims,
    /// The layer's input `[batch, time, input]`, for the gradient of `w_ih`.
    x: Vec<f32>,
    /// `[input, width]`, for the gradient of `x`.
    w_ih: Vec<f32>,
    /// `[hidden, width]`, as given.
    w_hh: Vec<f32>,
    /// Each sequence's length, when some are padded.
    lengths: Option<Vec<usize>>,
    /// Time indices in processing order.
    order: Vec<usize>,
    /// The state each step started from, `[batch][time][hidden]`.
    h_prev: Vec<f32>,
    /// Activated gates, `[batch][time][width]`. RNN: the new `h`. LSTM:
    /// `i, f, g, o`. GRU: `r, z, n`. (At padded steps the input side,
    /// which nothing reads.)
    gates: Vec<f32>,
    /// `[batch][time][aux]`. LSTM: `c_prev, tanh(c')`. GRU: `W_hn h + b_hn`.
    /// RNN: nothing.
    aux: Vec<f32>,
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

/// Runs the recurrence over `order` (time indices in processing order),
/// treating steps past each sequence's length as padding: there the state is
/// carried through unchanged and the output is zero. Returns the outputs
/// and, when `keep_state`, what the backward needs.
pub(crate) fn forward(
    kind: CellKind,
    order: Vec<usize>,
    lengths: Option<&[usize]>,
    dims: Dims,
    inputs: Inputs,
    keep_state: bool,
) -> (Outputs, Option<Saved>) {
    let Dims {
        batch,
        time,
        input,
        hidden,
    } = dims;
    let Inputs {
        x,
        w_ih,
        b_ih,
        w_hh,
        b_hh,
        h0: mut h,
        c0,
    } = inputs;
    let width = kind.gates() * hidden;
    let aux_w = aux_blocks(kind) * hidden;
    let is_lstm = kind == CellKind::Lstm;
    // The input side of every step at once: xw = x · W_ih, one `[batch*time,
    // input] x [input, width]` product. The gate loops add the biases, and
    // each step overwrites its row of `xw` with its activated gates, which
    // the backward needs: no second buffer of that size.
    let rows = batch * time;
    let mut xw = zeros(rows * width);
    matmul(
        &mut xw,
        view(&x, [rows, input], [input, 1]),
        view(&w_ih, [input, width], [width, 1]),
        false,
    );
    // What the loops add to the input side: RNN and LSTM both biases, the
    // GRU `b_ih` only (it needs `b_hh` inside the reset product).
    let bias = match kind {
        CellKind::Gru => b_ih,
        _ => b_ih.iter().zip(&b_hh).map(|(a, b)| a + b).collect(),
    };
    let mut c = if is_lstm {
        c0
    } else {
        vec![0.0; batch * hidden]
    };
    let padded = |b: usize, t: usize| lengths.is_some_and(|l| t >= l[b]);
    // Per sequence, the stored steps: every one for the backward, else only
    // the current one (a scratch slot).
    let kept = if keep_state { time } else { 1 };
    let mut h_prev = zeros(batch * kept * hidden);
    let mut aux = zeros(batch * kept * aux_w);
    let mut hs = zeros(batch * time * hidden);
    // Each task runs the whole recurrence of its own sequences, so the
    // steps need no synchronisation; `W_hh` is packed once for all of them.
    let w_hh_panels = Panels::pack(&w_hh, [hidden, width], [width, 1]);
    let per_shard = shard_size(batch);
    let simd = pulp::Arch::new();
    let shards = batch.div_ceil(per_shard);
    split(&mut h, per_shard * hidden, shards)
        .into_iter()
        .zip(split(&mut c, per_shard * hidden, shards))
        .zip(split(&mut h_prev, per_shard * kept * hidden, shards))
        .zip(split(&mut xw, per_shard * time * width, shards))
        .zip(split(&mut aux, per_shard * kept * aux_w, shards))
        .zip(split(&mut hs, per_shard * time * hidden, shards))
        .enumerate()
        .collect::<Vec<_>>()
        .into_par_iter()
        .for_each(|(s, (((((h, c), h_prev), xw), aux), hs))| {
            let first = s * per_shard;
            let rows = h.len() / hidden;
            // This step's recurrent side, h · W_hh.
            let mut rec = vec![0.0; rows * width];
            for &t in &order {
                simd.dispatch(PanelProduct {
                    c: &mut rec,
                    a: h,
                    b: &w_hh_panels,
                    accumulate: false,
                });
                for b in 0..rows {
                    if padded(first + b, t) {
                        continue;
                    }
                    let slot = b * kept + if keep_state { t } else { 0 };
                    let h = &mut h[b * hidden..][..hidden];
                    if keep_state {
                        h_prev[slot * hidden..][..hidden].copy_from_slice(h);
                    }
                    simd.dispatch(ForwardStep {
                        kind,
                        rec: &rec[b * width..][..width],
                        gates: &mut xw[(b * time + t) * width..][..width],
                        bias: &bias,
                        b_hh: &b_hh,
                        h,
                        c: &mut c[b * hidden..][..hidden],
                        aux: &mut aux[slot * aux_w..][..aux_w],
                    });
                    hs[(b * time + t) * hidden..][..hidden].copy_from_slice(h);
                }
            }
        });

    let outputs = Outputs {
        hs,
        h,
        c: is_lstm.then_some(c),
    };
    let saved = keep_state.then(|| Saved {
        kind,
        dims,
        x,
        w_ih,
        w_hh,
        lengths: lengths.map(<[usize]>::to_vec),
        order,
        h_prev,
        gates: xw,
        aux,
    });
    (outputs, saved)
}

/// Backpropagation through time. `d_hs [batch, time, hidden]`, `d_h`,
/// `d_c [batch, hidden]`: the gradients of the outputs, `None` for zero.
/// The gradients of `x` and `w_ih` are computed only when `need_x` and
/// `need_w_ih` ask for them. Takes `saved` by value: its gates' buffer
/// becomes the gradient of the input side.
pub(crate) fn backward(
    saved: Saved,
    d_hs: Option<&[f32]>,
    d_h: Option<Vec<f32>>,
    d_c: Option<Vec<f32>>,
    [need_x, need_w_ih]: [bool; 2],
) -> Grads {
    let Saved {
        kind,
        dims,
        x,
        w_ih,
        w_hh,
        lengths,
        order,
        h_prev,
        gates,
        aux,
    } = saved;
    let Dims {
        batch,
        time,
        input,
        hidden,
    } = dims;
    let width = kind.gates() * hidden;
    let aux_w = aux_blocks(kind) * hidden;
    let is_lstm = kind == CellKind::Lstm;
    let is_gru = kind == CellKind::Gru;
    let padded = |b: usize, t: usize| lengths.as_ref().is_some_and(|l| t >= l[b]);

    // Gradients of the state carried out of the current step.
    let mut dh = d_h.unwrap_or_else(|| vec![0.0; batch * hidden]);
    let mut dc = d_c.unwrap_or_else(|| vec![0.0; batch * hidden]);
    // Gradient of the input side of the pre-activations (the output d_xw),
    // written over the gates: each step reads its own row of them before
    // writing its gradient there. For the GRU, whose `n` block differs, the
    // recurrent side's gradient too.
    let mut d_x = gates;
    let mut d_rec_gru = zeros(if is_gru { batch * time * width } else { 0 });
    // As in the forward, each task runs the steps of its own sequences.
    let w_hh_t_panels = Panels::pack(&w_hh, [width, hidden], [1, width]);
    let per_shard = shard_size(batch);
    let simd = pulp::Arch::new();
    let shards = batch.div_ceil(per_shard);
    let gru_len = if is_gru { time * width } else { 0 };
    split(&mut dh, per_shard * hidden, shards)
        .into_iter()
        .zip(split(&mut dc, per_shard * hidden, shards))
        .zip(split(&mut d_x, per_shard * time * width, shards))
        .zip(split(&mut d_rec_gru, per_shard * gru_len, shards))
        .enumerate()
        .collect::<Vec<_>>()
        .into_par_iter()
        .for_each(|(s, (((dh, dc), d_x), d_rec_gru))| {
            let first = s * per_shard;
            let rows = dh.len() / hidden;
            let aux = shard_rows(&aux, first, rows, time * aux_w);
            let h_prev = shard_rows(&h_prev, first, rows, time * hidden);
            let d_hs = d_hs.map(|d| shard_rows(d, first, rows, time * hidden));
            // This step's recurrent-side gradient; zero rows at padding, so
            // the product below carries dh through padded steps unchanged.
            let mut d_step = vec![0.0; rows * width];
            for &t in order.iter().rev() {
                for b in 0..rows {
                    let r = b * time + t;
                    let d_rec = &mut d_step[b * width..][..width];
                    let d_x = &mut d_x[r * width..][..width];
                    if padded(first + b, t) {
                        // The forward left the input side there, not gates.
                        d_rec.fill(0.0);
                        d_x.fill(0.0);
                        continue;
                    }
                    let dh = &mut dh[b * hidden..][..hidden];
                    if let Some(d_hs) = d_hs {
                        for (d, &o) in dh.iter_mut().zip(&d_hs[r * hidden..][..hidden]) {
                            *d += o;
                        }
                    }
                    simd.dispatch(BackwardStep {
                        kind,
                        gates: d_x,
                        aux: &aux[r * aux_w..][..aux_w],
                        h_prev: &h_prev[r * hidden..][..hidden],
                        dh,
                        dc: &mut dc[b * hidden..][..hidden],
                        d_rec,
                    });
                    if is_gru {
                        d_rec_gru[r * width..][..width].copy_from_slice(d_rec);
                    }
                }
                // dh_prev = (what reached h directly) + d_step · W_hhᵀ.
                simd.dispatch(PanelProduct {
                    c: dh,
                    a: &d_step,
                    b: &w_hh_t_panels,
                    accumulate: true,
                });
            }
        });

    // RNN and LSTM: the input and recurrent sides of a pre-activation are
    // one sum, so their gradients are the same.
    let d_rec = if is_gru { &d_rec_gru } else { &d_x };
    // Σ_t h_{t-1}ᵀ · d_t = H_prevᵀ [hidden, batch*time] · D [batch*time, width].
    let rows = batch * time;
    let mut d_w_hh = zeros(hidden * width);
    matmul(
        &mut d_w_hh,
        view(&h_prev, [hidden, rows], [1, hidden]),
        view(d_rec, [rows, width], [width, 1]),
        false,
    );
    // Through the input projection: dx = d_xw · W_ihᵀ, dW_ih = xᵀ · d_xw.
    let d_in = need_x.then(|| {
        let mut d_in = zeros(rows * input);
        matmul(
            &mut d_in,
            view(&d_x, [rows, width], [width, 1]),
            view(&w_ih, [width, input], [1, width]),
            false,
        );
        d_in
    });
    let d_w_ih = need_w_ih.then(|| {
        let mut d_w_ih = zeros(input * width);
        matmul(
            &mut d_w_ih,
            view(&x, [input, rows], [1, input]),
            view(&d_x, [rows, width], [width, 1]),
            false,
        );
        d_w_ih
    });
    let d_b_ih = column_sums(&d_x, width);
    Grads {
        x: d_in,
        w_ih: d_w_ih,
        b_hh: if is_gru {
            column_sums(d_rec, width)
        } else {
            d_b_ih.clone()
        },
        b_ih: d_b_ih,
        w_hh: d_w_hh,
        h0: dh,
        c0: is_lstm.then_some(dc),
    }
}

/// One forward step of one sequence, as a `pulp` operation: its
/// `with_simd` is compiled once per instruction set, and everything it calls
/// is `inline(always)`, so the loops vectorise with that set (a closure
/// body is not reliably inlined there, and then runs as baseline SSE2).
struct ForwardStep<'a> {
    kind: CellKind,
    /// `h_prev · W_hh`.
    rec: &'a [f32],
    /// The input side `x · W_ih` on entry, the activated gates on return.
    gates: &'a mut [f32],
    /// Added to the input side: `b_ih + b_hh`, the GRU's `b_ih` only.
    bias: &'a [f32],
    b_hh: &'a [f32],
    h: &'a mut [f32],
    c: &'a mut [f32],
    aux: &'a mut [f32],
}

impl pulp::WithSimd for ForwardStep<'_> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: pulp::Simd>(self, _: S) {
        let ForwardStep {
            kind,
            rec,
            gates,
            bias,
            b_hh,
            h,
            c,
            aux,
        } = self;
        match kind {
            CellKind::RnnTanh => rnn_step(rec, gates, bias, h, tanh),
            CellKind::RnnRelu => rnn_step(rec, gates, bias, h, |v| v.max(0.0)),
            CellKind::Lstm => lstm_step(rec, gates, bias, h, c, aux),
            CellKind::Gru => gru_step(rec, gates, bias, b_hh, h, aux),
        }
    }
}

/// One backward step of one sequence, as a `pulp` operation (see
/// [`ForwardStep`]).
struct BackwardStep<'a> {
    kind: CellKind,
    /// The step's activated gates. The GRU overwrites them with the input
    /// side's gradient (for the others it is `d_rec`, copied by the caller).
    gates: &'a mut [f32],
    aux: &'a [f32],
    h_prev: &'a [f32],
    dh: &'a mut [f32],
    dc: &'a mut [f32],
    d_rec: &'a mut [f32],
}

impl pulp::WithSimd for BackwardStep<'_> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: pulp::Simd>(self, _: S) {
        let BackwardStep {
            kind,
            gates,
            aux,
            h_prev,
            dh,
            dc,
            d_rec,
        } = self;
        match kind {
            CellKind::RnnTanh => rnn_back(gates, dh, d_rec, |y| 1.0 - y * y),
            CellKind::RnnRelu => rnn_back(gates, dh, d_rec, |y| if y > 0.0 { 1.0 } else { 0.0 }),
            CellKind::Lstm => lstm_back(gates, aux, dh, dc, d_rec),
            CellKind::Gru => gru_back(gates, aux, h_prev, dh, d_rec),
        }
        if kind != CellKind::Gru {
            gates.copy_from_slice(d_rec);
        }
    }
}

// One step of one sequence, forward and backward. Every slice of a kind is
// `hidden` long per gate, so the loops vectorise (no bounds checks, no
// calls: see `exp`); `inline(always)` so that they are compiled inside
// `pulp`'s AVX2 dispatch.

/// RNN: `h = act(rec + x + bias)`, where `g` holds `x` on entry and `h` on
/// return.
#[inline(always)]
fn rnn_step(rec: &[f32], g: &mut [f32], bias: &[f32], h: &mut [f32], act: impl Fn(f32) -> f32) {
    let n = h.len();
    let (rec, g, bias) = (&rec[..n], &mut g[..n], &bias[..n]);
    for j in 0..n {
        h[j] = act(rec[j] + g[j] + bias[j]);
        g[j] = h[j];
    }
}

/// LSTM: `rec + g + bias` is `[i, f, g, o]` before activation, `g` holding
/// the input side on entry and the activated gates on return; keeps
/// `c_prev, tanh(c')` in `a`.
#[inline(always)]
fn lstm_step(
    rec: &[f32],
    g: &mut [f32],
    bias: &[f32],
    h: &mut [f32],
    c: &mut [f32],
    a: &mut [f32],
) {
    let n = h.len();
    let [ri, rf, rg, ro] = blocks(rec, n);
    let [bi, bf, bg, bo] = blocks(bias, n);
    let [gi, gf, gg, go] = blocks_mut(g, n);
    let (c_prev, c_tanh) = a.split_at_mut(n);
    let (c_tanh, c) = (&mut c_tanh[..n], &mut c[..n]);
    for j in 0..n {
        let (i, f) = (
            sigmoid(gi[j] + ri[j] + bi[j]),
            sigmoid(gf[j] + rf[j] + bf[j]),
        );
        let (cand, o) = (tanh(gg[j] + rg[j] + bg[j]), sigmoid(go[j] + ro[j] + bo[j]));
        c_prev[j] = c[j];
        c[j] = f * c[j] + i * cand;
        c_tanh[j] = tanh(c[j]);
        h[j] = o * c_tanh[j];
        (gi[j], gf[j], gg[j], go[j]) = (i, f, cand, o);
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

/// GRU: `rec + b_hh` is `W_hh h + b_hh` (`[r, z, n]` blocks), `g + b_ih`
/// the input side; `g` holds the input side on entry and `r, z, n` on
/// return; keeps `W_hn h + b_hn` in `a`.
#[inline(always)]
fn gru_step(rec: &[f32], g: &mut [f32], b_ih: &[f32], b_hh: &[f32], h: &mut [f32], a: &mut [f32]) {
    let n = h.len();
    let [rr, rz, rn] = blocks(rec, n);
    let [br, bz, bn] = blocks(b_hh, n);
    let [xbr, xbz, xbn] = blocks(b_ih, n);
    let [gr, gz, gn] = blocks_mut(g, n);
    let a = &mut a[..n];
    for j in 0..n {
        let r = sigmoid(gr[j] + xbr[j] + rr[j] + br[j]);
        let z = sigmoid(gz[j] + xbz[j] + rz[j] + bz[j]);
        let hn = rn[j] + bn[j];
        let cand = tanh(gn[j] + xbn[j] + r * hn);
        // h' = (1 - z) * n + z * h
        h[j] = cand + z * (h[j] - cand);
        (gr[j], gz[j], gn[j], a[j]) = (r, z, cand, hn);
    }
}

/// RNN backward: `dh` (the gradient of the new `h`) through `act`, whose
/// derivative `slope` is written in terms of the output, into `d_pre`;
/// nothing reaches `h_prev` directly.
#[inline(always)]
fn rnn_back(g: &[f32], dh: &mut [f32], d_pre: &mut [f32], slope: impl Fn(f32) -> f32) {
    for ((d_pre, dh), &y) in d_pre.iter_mut().zip(dh.iter_mut()).zip(g) {
        *d_pre = *dh * slope(y);
        *dh = 0.0;
    }
}

/// LSTM backward: from the gradients of the new `h` (`dh`) and `c` (`dc`)
/// to those of the pre-activations (`d_pre`) and of `c_prev` (into `dc`);
/// nothing reaches `h_prev` directly.
#[inline(always)]
fn lstm_back(g: &[f32], a: &[f32], dh: &mut [f32], dc: &mut [f32], d_pre: &mut [f32]) {
    let n = dh.len();
    let (gi, gf, gg, go) = (&g[..n], &g[n..2 * n], &g[2 * n..3 * n], &g[3 * n..4 * n]);
    let (c_prev, c_tanh) = (&a[..n], &a[n..2 * n]);
    let (di, rest) = d_pre.split_at_mut(n);
    let (df, rest) = rest.split_at_mut(n);
    let (dg, d_o) = rest.split_at_mut(n);
    let (dg, d_o, dc) = (&mut dg[..n], &mut d_o[..n], &mut dc[..n]);
    for j in 0..n {
        let (i, f, cand, o, tc) = (gi[j], gf[j], gg[j], go[j], c_tanh[j]);
        let d_cell = dc[j] + dh[j] * o * (1.0 - tc * tc);
        di[j] = d_cell * cand * i * (1.0 - i);
        df[j] = d_cell * c_prev[j] * f * (1.0 - f);
        dg[j] = d_cell * i * (1.0 - cand * cand);
        d_o[j] = dh[j] * tc * o * (1.0 - o);
        dc[j] = d_cell * f;
        dh[j] = 0.0;
    }
}

/// GRU backward: from the gradient of the new `h` (`dh`) to those of the
/// input side (written over the gates in `g`) and recurrent side (`d_rec`)
/// of the pre-activations; `dh` keeps what reaches `h_prev` directly
/// (`z * dh`).
#[inline(always)]
fn gru_back(g: &mut [f32], a: &[f32], h_prev: &[f32], dh: &mut [f32], d_rec: &mut [f32]) {
    let n = dh.len();
    let [gr, gz, gn] = blocks_mut(g, n);
    let [drr, drz, drn] = blocks_mut(d_rec, n);
    let (hn, h_prev) = (&a[..n], &h_prev[..n]);
    for j in 0..n {
        let (r, z, cand) = (gr[j], gz[j], gn[j]);
        let d_z = dh[j] * (h_prev[j] - cand) * z * (1.0 - z);
        let d_n = dh[j] * (1.0 - z) * (1.0 - cand * cand);
        let d_r = d_n * hn[j] * r * (1.0 - r);
        (gr[j], gz[j], gn[j]) = (d_r, d_z, d_n);
        (drr[j], drz[j], drn[j]) = (d_r, d_z, d_n * r);
        dh[j] *= z;
    }
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

/// The rows of one shard's sequences, `first..first + rows`, in a buffer of
/// `len` values per sequence.
fn shard_rows(buffer: &[f32], first: usize, rows: usize, len: usize) -> &[f32] {
    &buffer[first * len..][..rows * len]
}

/// `len` zeros, written by rayon's threads: mimalloc zeroes the memory it
/// reuses with one `memset`, 2% of charlm's training while the other core
/// waited (`perf`).
pub(crate) fn zeros(len: usize) -> Vec<f32> {
    let mut values = Vec::with_capacity(len);
    values.par_extend(rayon::iter::repeat_n(0.0, len));
    values
}

/// Blocks of `hidden` values in [`Saved::aux`] per step.
fn aux_blocks(kind: CellKind) -> usize {
    match kind {
        CellKind::Lstm => 2,
        CellKind::Gru => 1,
        CellKind::RnnTanh | CellKind::RnnRelu => 0,
    }
}

/// `c [m, n] = a [m, k] · b [k, n]`, plus the old `c` if `accumulate`; `c`
/// row-major and contiguous.
///
/// Through ndarray, which calls OpenBLAS's `sgemm` with the `openblas`
/// feature (strided operands become its transpose flags) and
/// `matrixmultiply` without it. Used for the large products (the input
/// projection and the gradients of `x` and the weights): on this project's
/// 2-core machine the `gemm` crate flex uses ran them 10-30% slower than
/// OpenBLAS on 2 threads, and with it or `matrixmultiply` for every product
/// the whole layer was slower than composing backend ops
/// (docs/BENCHMARKS.md).
pub(crate) fn matmul(
    c: &mut [f32],
    a: ArrayView2<'_, f32>,
    b: ArrayView2<'_, f32>,
    accumulate: bool,
) {
    let mut c =
        ArrayViewMut2::from_shape((a.nrows(), b.ncols()), c).expect("buffer sized for its shape");
    let beta = if accumulate { 1.0 } else { 0.0 };
    ndarray::linalg::general_mat_mul(1.0, &a, &b, beta, &mut c);
}

/// `buffer` cut into `count` slices of `len` values (the last one may be
/// shorter; empty ones when `len` is 0 or there is no buffer), to hand to
/// parallel tasks.
fn split(buffer: &mut [f32], len: usize, count: usize) -> Vec<&mut [f32]> {
    if len == 0 || buffer.is_empty() {
        return (0..count).map(|_| &mut [][..]).collect();
    }
    buffer.chunks_mut(len).take(count).collect()
}

/// Sequences per task of the recurrence: the batch split evenly across
/// rayon's threads.
fn shard_size(batch: usize) -> usize {
    batch.div_ceil(rayon::current_num_threads()).max(1)
}

/// Columns per panel of [`Panels`].
const PANEL: usize = 16;

/// A `[k, n]` matrix packed for [`PanelProduct`]: column panels `PANEL`
/// wide, each `[k][PANEL]` contiguous, the last one padded with zeros. The
/// recurrent weights are packed once per call and read at every step; a
/// BLAS packs them again inside each step's product (9% of the layer's time
/// with OpenBLAS, docs/BENCHMARKS.md).
struct Panels {
    values: Vec<f32>,
    k: usize,
    n: usize,
}

impl Panels {
    /// Packs the `[k, n]` matrix in `data` with the given element strides.
    fn pack(data: &[f32], [k, n]: [usize; 2], [row_stride, col_stride]: [usize; 2]) -> Self {
        let mut values = zeros(n.div_ceil(PANEL) * k * PANEL);
        // In parallel: packing is one pass over the weights, on the way
        // to every call's recurrence.
        values
            .par_chunks_mut(k * PANEL)
            .enumerate()
            .for_each(|(p, panel)| {
                let cols = (n - p * PANEL).min(PANEL);
                // Read `data` along its smaller stride: packing `W_hh`'s
                // transpose row by row took 3.3 ms at hidden 512, column by
                // column 1.5.
                if row_stride < col_stride {
                    for j in 0..cols {
                        let column = &data[(p * PANEL + j) * col_stride..];
                        for row in 0..k {
                            panel[row * PANEL + j] = column[row * row_stride];
                        }
                    }
                } else {
                    for (row, out) in panel.chunks_mut(PANEL).enumerate() {
                        for (j, out) in out[..cols].iter_mut().enumerate() {
                            *out = data[row * row_stride + (p * PANEL + j) * col_stride];
                        }
                    }
                }
            });
        Self { values, k, n }
    }
}

/// `c [m, n] = a [m, k] · b`, plus the old `c` if `accumulate`; `a` and `c`
/// row-major and contiguous. Register tiles of up to 6 rows by one panel. A
/// `pulp` operation of its own (see [`ForwardStep`]): inlined into the step
/// loop, its accumulators spilled to the stack.
struct PanelProduct<'a> {
    c: &'a mut [f32],
    a: &'a [f32],
    b: &'a Panels,
    accumulate: bool,
}

impl pulp::WithSimd for PanelProduct<'_> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: pulp::Simd>(self, simd: S) {
        let PanelProduct {
            c,
            a,
            b,
            accumulate,
        } = self;
        let Panels { values, k, n } = b;
        let (k, n) = (*k, *n);
        let m = a.len() / k;
        for (p, panel) in values.chunks(k * PANEL).enumerate() {
            let (cols, width) = (p * PANEL, PANEL.min(n - p * PANEL));
            let mut row = 0;
            while row < m {
                let tile_rows = (m - row).min(6);
                let a = &a[row * k..][..tile_rows * k];
                let c = &mut c[row * n + cols..];
                match tile_rows {
                    6 => tile::<S, 6>(simd, c, a, panel, n, width, accumulate),
                    5 => tile::<S, 5>(simd, c, a, panel, n, width, accumulate),
                    4 => tile::<S, 4>(simd, c, a, panel, n, width, accumulate),
                    3 => tile::<S, 3>(simd, c, a, panel, n, width, accumulate),
                    2 => tile::<S, 2>(simd, c, a, panel, n, width, accumulate),
                    _ => tile::<S, 1>(simd, c, a, panel, n, width, accumulate),
                }
                row += tile_rows;
            }
        }
    }
}

/// One `R`-row tile of [`PanelProduct`]: `a` is `R` rows of `k`, `panel`
/// is `[k][PANEL]`, and row `i` of the result goes to `c[i * n..][..width]`.
/// The panel is taken in groups of two vectors (one with AVX-512), so that
/// the `R x 2` accumulators stay in registers (12 for 6 rows; as an array
/// over the whole panel they were spilled to the stack).
#[inline(always)]
fn tile<S: pulp::Simd, const R: usize>(
    simd: S,
    c: &mut [f32],
    a: &[f32],
    panel: &[f32],
    n: usize,
    width: usize,
    accumulate: bool,
) {
    let per_row = PANEL / S::F32_LANES;
    let vectors = per_row.min(2);
    let k = a.len() / R;
    let (panel, _) = S::as_simd_f32s(panel);
    let panel = &panel[..k * per_row];
    let rows: [&[f32]; R] = std::array::from_fn(|i| &a[i * k..][..k]);
    for group in 0..per_row / vectors {
        let mut acc = [[simd.splat_f32s(0.0); 2]; R];
        // Indexed by `kk < k`, not by iterators, so that no bounds check is
        // left in the loop.
        for kk in 0..k {
            let b = &panel[kk * per_row + group * vectors..][..vectors];
            for i in 0..R {
                let a = simd.splat_f32s(rows[i][kk]);
                for v in 0..vectors {
                    acc[i][v] = simd.mul_add_e_f32s(a, b[v], acc[i][v]);
                }
            }
        }
        let first = group * vectors * S::F32_LANES;
        for (i, acc) in acc.into_iter().enumerate() {
            let c = &mut c[i * n..][..width];
            // Vector by vector, with constant indices into `acc`: a slice of
            // it, or an index not known at compile time, keeps it in memory.
            for (v, acc) in acc.into_iter().enumerate().take(vectors) {
                let start = (first + v * S::F32_LANES).min(width);
                let c = &mut c[start..(start + S::F32_LANES).min(width)];
                let value = if accumulate {
                    simd.add_f32s(acc, simd.partial_load_f32s(c))
                } else {
                    acc
                };
                simd.partial_store_f32s(c, value);
            }
        }
    }
}

/// A `[rows, cols]` view of `data` with the given element strides.
pub(crate) fn view(
    data: &[f32],
    [rows, cols]: [usize; 2],
    [row_stride, col_stride]: [usize; 2],
) -> ArrayView2<'_, f32> {
    ArrayView2::from_shape((rows, cols).strides((row_stride, col_stride)), data)
        .expect("buffer sized for its shape")
}

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
fn sigmoid(x: f32) -> f32 {
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

/// A CPU tensor's values, as `f32` (the computation's precision whatever
/// the tensor's; results go back in the tensor's dtype).
pub(crate) fn values<B: Backend>(t: FloatTensor<B>) -> Vec<f32> {
    // burn-ndarray reads an array that is shared (a weight, an input also
    // used elsewhere) element by element: 66 of the LSTM benchmark's 274 ms
    // on ndarray. A contiguous one is one copy.
    #[allow(deprecated)] // burn-ndarray
    if let Some(NdArrayTensor::F32(storage)) = (&t as &dyn Any).downcast_ref::<NdArrayTensor>()
        && let Some(values) = storage.view().as_slice()
    {
        return values.to_vec();
    }
    // Through `TensorData` flex copies a shared tensor up to three times
    // (into its own buffer, into bytes, into the `Vec`): 2.5% of charlm's
    // training on the main thread. A contiguous one is one copy here too.
    if let Some(tensor) = (&t as &dyn Any).downcast_ref::<FlexTensor>()
        && let Some(values) = tensor.as_slice::<f32>()
    {
        return values.to_vec();
    }
    read_sync(B::float_into_data(t))
        .expect("reading a CPU tensor cannot fail")
        .convert::<f32>()
        .try_into_vec::<f32>()
        .expect("converted to f32")
}

/// Whether `device` is one of the CPU backends, whose tensors this module
/// computes on.
pub(crate) fn on_cpu<B: Backend>(device: &B::Device) -> bool {
    !B::name(device).starts_with("cubecl")
}

/// A tensor of `shape` and `dtype` from `values` on `device`.
pub(crate) fn tensor<B: Backend, const D: usize>(
    values: Vec<f32>,
    shape: [usize; D],
    dtype: DType,
    device: &B::Device,
) -> FloatTensor<B> {
    let data = TensorData::new(values, Shape::new(shape));
    let data = if dtype == DType::F32 {
        data
    } else {
        data.convert_dtype(dtype)
    };
    B::float_from_data(data, device)
}
