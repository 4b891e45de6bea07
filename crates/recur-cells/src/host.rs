//! The recurrence on the CPU backends (ndarray, flex): the same equations as
//! the device path in `kernel.rs`, run over plain `f32` buffers.
//!
//! Composed of backend primitives, one LSTM step is about fifteen passes over
//! memory, each allocating its result; on the CPU those passes, not the
//! matmuls, took most of the time (`perf` on the cells benchmark). Here one
//! loop per step computes every gate and state update, each per-step matmul
//! writes straight into its buffer, and the backward gathers the weight
//! gradient into one `[hidden, batch*time] x [batch*time, width]` product.
//!
//! The matmuls go through OpenBLAS with the default `openblas` feature (see
//! [`matmul`]); without it, on `matrixmultiply`, the layer is 1.3-1.9x
//! slower.
//!
//! Layout: batch-major, as the tensors come in. Sequence buffers are
//! `[batch][time][features]` (`[batch*time, features]` matrices), per-step
//! buffers `[batch][features]`; row `b` of a step is gates `i, f, g, o` (or
//! `r, z, n`) one after the other, each `hidden` wide, so the gate loops run
//! over contiguous slices. No input or output is ever permuted.

use burn::backend::tensor::FloatTensor;
use burn::backend::{Backend, DType, Shape};
use burn::tensor::{TensorData, read_sync};
use ndarray::{ArrayView2, ArrayViewMut2, ShapeBuilder};

use crate::cell::CellKind;

/// What the forward keeps for the backward pass.
#[derive(Clone, Debug)]
pub(crate) struct Saved {
    kind: CellKind,
    dims: Dims,
    /// `[hidden, width]`, as given.
    w_hh: Vec<f32>,
    /// Each sequence's length, when some are padded.
    lengths: Option<Vec<usize>>,
    /// Time indices in processing order.
    order: Vec<usize>,
    /// The state each step started from, `[batch][time][hidden]`.
    h_prev: Vec<f32>,
    /// Activated gates, `[batch][time][width]`. RNN: the new `h`. LSTM:
    /// `i, f, g, o`. GRU: `r, z, n`.
    gates: Vec<f32>,
    /// `[batch][time][aux]`. LSTM: `c_prev, tanh(c')`. GRU: `W_hn h + b_hn`.
    /// RNN: nothing.
    aux: Vec<f32>,
}

impl Saved {
    /// `[batch, time, hidden]`.
    pub(crate) fn dims(&self) -> [usize; 3] {
        [self.dims.batch, self.dims.time, self.dims.hidden]
    }
}

/// Outputs of the forward: `hs [batch, time, hidden]`, the final `h [batch,
/// hidden]` and the final `c [batch, hidden]` (LSTM; `None` otherwise).
pub(crate) struct Outputs {
    pub hs: Vec<f32>,
    pub h: Vec<f32>,
    pub c: Option<Vec<f32>>,
}

/// Gradients of the inputs of the forward.
pub(crate) struct Grads {
    /// `[batch, time, width]`.
    pub xw: Vec<f32>,
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
    pub hidden: usize,
}

/// The inputs of the forward, as values.
pub(crate) struct Inputs {
    /// `[batch, time, width]`: the input projection, with `b_ih`.
    pub xw: Vec<f32>,
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
        hidden,
    } = dims;
    let Inputs {
        xw,
        w_hh,
        b_hh,
        h0: mut h,
        c0,
    } = inputs;
    let width = kind.gates() * hidden;
    let aux_w = aux_blocks(kind) * hidden;
    let is_lstm = kind == CellKind::Lstm;
    let mut c = if is_lstm {
        c0
    } else {
        vec![0.0; batch * hidden]
    };
    let padded = |b: usize, t: usize| lengths.is_some_and(|l| t >= l[b]);
    // Row of (b, t) in the sequence buffers.
    let row = |b: usize, t: usize| b * time + t;
    let stored = |n: usize| vec![0.0; if keep_state { batch * time * n } else { 0 }];
    let mut h_prev = stored(hidden);
    let mut gates = stored(width);
    let mut aux = stored(aux_w);
    let mut hs = vec![0.0; batch * time * hidden];
    // This step's pre-activations (GRU: W_hh h + b_hh); gates and aux of
    // one sequence when they are not kept.
    let mut pre = vec![0.0; batch * width];
    let mut g_tmp = vec![0.0; width];
    let mut a_tmp = vec![0.0; aux_w];

    for &t in &order {
        for (b, pre_b) in pre.chunks_mut(width).enumerate() {
            match kind {
                // RNN and LSTM add b_hh to the input side; the GRU needs it
                // inside the reset product.
                CellKind::Gru => pre_b.copy_from_slice(&b_hh),
                _ => {
                    let x_b = &xw[row(b, t) * width..][..width];
                    for ((p, &x), &bias) in pre_b.iter_mut().zip(x_b).zip(&b_hh) {
                        *p = x + bias;
                    }
                }
            }
        }
        matmul(
            &mut pre,
            view(&h, [batch, hidden], [hidden, 1]),
            view(&w_hh, [hidden, width], [width, 1]),
        );
        for b in 0..batch {
            if padded(b, t) {
                continue;
            }
            let r = row(b, t);
            let h_b = &mut h[b * hidden..][..hidden];
            let c_b = &mut c[b * hidden..][..hidden];
            let pre_b = &pre[b * width..][..width];
            let (g, a) = if keep_state {
                h_prev[r * hidden..][..hidden].copy_from_slice(h_b);
                (
                    &mut gates[r * width..][..width],
                    &mut aux[r * aux_w..][..aux_w],
                )
            } else {
                (&mut g_tmp[..], &mut a_tmp[..])
            };
            match kind {
                CellKind::RnnTanh => rnn_step(pre_b, h_b, g, tanh),
                CellKind::RnnRelu => rnn_step(pre_b, h_b, g, |x| x.max(0.0)),
                CellKind::Lstm => lstm_step(pre_b, h_b, c_b, g, a),
                CellKind::Gru => gru_step(pre_b, &xw[r * width..][..width], h_b, g, a),
            }
            hs[r * hidden..][..hidden].copy_from_slice(h_b);
        }
    }

    let outputs = Outputs {
        hs,
        h,
        c: is_lstm.then_some(c),
    };
    let saved = keep_state.then(|| Saved {
        kind,
        dims,
        w_hh,
        lengths: lengths.map(<[usize]>::to_vec),
        order,
        h_prev,
        gates,
        aux,
    });
    (outputs, saved)
}

/// Backpropagation through time. `d_hs [batch, time, hidden]`, `d_h`,
/// `d_c [batch, hidden]`: the gradients of the outputs, `None` for zero.
pub(crate) fn backward(
    saved: &Saved,
    d_hs: Option<&[f32]>,
    d_h: Option<Vec<f32>>,
    d_c: Option<Vec<f32>>,
) -> Grads {
    let Saved { kind, dims, .. } = *saved;
    let Dims {
        batch,
        time,
        hidden,
    } = dims;
    let width = kind.gates() * hidden;
    let aux_w = aux_blocks(kind) * hidden;
    let is_lstm = kind == CellKind::Lstm;
    let is_gru = kind == CellKind::Gru;
    let padded = |b: usize, t: usize| saved.lengths.as_ref().is_some_and(|l| t >= l[b]);
    let row = |b: usize, t: usize| b * time + t;

    // Gradients of the state carried out of the current step.
    let mut dh = d_h.unwrap_or_else(|| vec![0.0; batch * hidden]);
    let mut dc = d_c.unwrap_or_else(|| vec![0.0; batch * hidden]);
    // Gradient of the input side of the pre-activations (the output d_xw)
    // and, for the GRU whose `n` block differs, of the recurrent side.
    let mut d_x = vec![0.0; batch * time * width];
    let mut d_rec_gru = vec![0.0; if is_gru { batch * time * width } else { 0 }];
    // This step's recurrent-side gradient; zero rows at padding, so the
    // product below carries dh through padded steps unchanged.
    let mut d_step = vec![0.0; batch * width];

    for &t in saved.order.iter().rev() {
        for (b, d_step_b) in d_step.chunks_mut(width).enumerate() {
            if padded(b, t) {
                d_step_b.fill(0.0);
                continue;
            }
            let r = row(b, t);
            let dh_b = &mut dh[b * hidden..][..hidden];
            if let Some(d_hs) = d_hs {
                for (d, &o) in dh_b.iter_mut().zip(&d_hs[r * hidden..][..hidden]) {
                    *d += o;
                }
            }
            let g = &saved.gates[r * width..][..width];
            let a = &saved.aux[r * aux_w..][..aux_w];
            match kind {
                CellKind::RnnTanh => rnn_back(g, dh_b, d_step_b, |y| 1.0 - y * y),
                CellKind::RnnRelu => {
                    rnn_back(g, dh_b, d_step_b, |y| if y > 0.0 { 1.0 } else { 0.0 })
                }
                CellKind::Lstm => lstm_back(g, a, dh_b, &mut dc[b * hidden..][..hidden], d_step_b),
                CellKind::Gru => gru_back(
                    g,
                    a,
                    &saved.h_prev[r * hidden..][..hidden],
                    dh_b,
                    &mut d_x[r * width..][..width],
                    d_step_b,
                ),
            }
            let d_rec = if is_gru {
                &mut d_rec_gru[r * width..][..width]
            } else {
                &mut d_x[r * width..][..width]
            };
            d_rec.copy_from_slice(d_step_b);
        }
        // dh_prev = (what reached h directly) + d_step · W_hhᵀ.
        matmul(
            &mut dh,
            view(&d_step, [batch, width], [width, 1]),
            view(&saved.w_hh, [width, hidden], [1, width]),
        );
    }

    let d_rec = if is_gru { &d_rec_gru } else { &d_x };
    // Σ_t h_{t-1}ᵀ · d_t = H_prevᵀ [hidden, batch*time] · D [batch*time, width].
    let rows = batch * time;
    let mut d_w_hh = vec![0.0; hidden * width];
    matmul(
        &mut d_w_hh,
        view(&saved.h_prev, [hidden, rows], [1, hidden]),
        view(d_rec, [rows, width], [width, 1]),
    );
    let mut d_b_hh = vec![0.0; width];
    for d in d_rec.chunks(width) {
        for (sum, &v) in d_b_hh.iter_mut().zip(d) {
            *sum += v;
        }
    }
    Grads {
        xw: d_x,
        w_hh: d_w_hh,
        b_hh: d_b_hh,
        h0: dh,
        c0: is_lstm.then_some(dc),
    }
}

// One step of one sequence, forward and backward. Every slice of a kind is
// `hidden` long per gate, so the loops vectorise (no bounds checks, no
// calls: see `exp`).

/// RNN: `h = act(pre)`; keeps `h` in `g`.
fn rnn_step(pre: &[f32], h: &mut [f32], g: &mut [f32], act: impl Fn(f32) -> f32) {
    for ((h, g), &p) in h.iter_mut().zip(g.iter_mut()).zip(pre) {
        *h = act(p);
        *g = *h;
    }
}

/// LSTM: `pre` is `[i, f, g, o]` before activation; keeps the activated
/// gates in `g` and `c_prev, tanh(c')` in `a`.
fn lstm_step(pre: &[f32], h: &mut [f32], c: &mut [f32], g: &mut [f32], a: &mut [f32]) {
    let n = h.len();
    let (pi, pf, pg, po) = (
        &pre[..n],
        &pre[n..2 * n],
        &pre[2 * n..3 * n],
        &pre[3 * n..4 * n],
    );
    let (gi, rest) = g.split_at_mut(n);
    let (gf, rest) = rest.split_at_mut(n);
    let (gg, go) = rest.split_at_mut(n);
    let (c_prev, c_tanh) = a.split_at_mut(n);
    let (gg, go, c_tanh, c) = (&mut gg[..n], &mut go[..n], &mut c_tanh[..n], &mut c[..n]);
    for j in 0..n {
        let (i, f) = (sigmoid(pi[j]), sigmoid(pf[j]));
        let (cand, o) = (tanh(pg[j]), sigmoid(po[j]));
        c_prev[j] = c[j];
        c[j] = f * c[j] + i * cand;
        c_tanh[j] = tanh(c[j]);
        h[j] = o * c_tanh[j];
        (gi[j], gf[j], gg[j], go[j]) = (i, f, cand, o);
    }
}

/// GRU: `pre` is `W_hh h + b_hh` (`[r, z, n]` blocks), `x` the input side;
/// keeps `r, z, n` in `g` and `W_hn h + b_hn` in `a`.
fn gru_step(pre: &[f32], x: &[f32], h: &mut [f32], g: &mut [f32], a: &mut [f32]) {
    let n = h.len();
    let (pr, pz, pn) = (&pre[..n], &pre[n..2 * n], &pre[2 * n..3 * n]);
    let (xr, xz, xn) = (&x[..n], &x[n..2 * n], &x[2 * n..3 * n]);
    let (gr, rest) = g.split_at_mut(n);
    let (gz, gn) = rest.split_at_mut(n);
    let (gn, a) = (&mut gn[..n], &mut a[..n]);
    for j in 0..n {
        let r = sigmoid(xr[j] + pr[j]);
        let z = sigmoid(xz[j] + pz[j]);
        let cand = tanh(xn[j] + r * pn[j]);
        // h' = (1 - z) * n + z * h
        h[j] = cand + z * (h[j] - cand);
        (gr[j], gz[j], gn[j], a[j]) = (r, z, cand, pn[j]);
    }
}

/// RNN backward: `dh` (the gradient of the new `h`) through `act`, whose
/// derivative `slope` is written in terms of the output, into `d_pre`;
/// nothing reaches `h_prev` directly.
fn rnn_back(g: &[f32], dh: &mut [f32], d_pre: &mut [f32], slope: impl Fn(f32) -> f32) {
    for ((d_pre, dh), &y) in d_pre.iter_mut().zip(dh.iter_mut()).zip(g) {
        *d_pre = *dh * slope(y);
        *dh = 0.0;
    }
}

/// LSTM backward: from the gradients of the new `h` (`dh`) and `c` (`dc`)
/// to those of the pre-activations (`d_pre`) and of `c_prev` (into `dc`);
/// nothing reaches `h_prev` directly.
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
/// input side (`d_x`) and recurrent side (`d_rec`) of the pre-activations;
/// `dh` keeps what reaches `h_prev` directly (`z * dh`).
fn gru_back(
    g: &[f32],
    a: &[f32],
    h_prev: &[f32],
    dh: &mut [f32],
    d_x: &mut [f32],
    d_rec: &mut [f32],
) {
    let n = dh.len();
    let (gr, gz, gn, hn) = (&g[..n], &g[n..2 * n], &g[2 * n..3 * n], &a[..n]);
    let (dxr, rest) = d_x.split_at_mut(n);
    let (dxz, dxn) = rest.split_at_mut(n);
    let (drr, rest) = d_rec.split_at_mut(n);
    let (drz, drn) = rest.split_at_mut(n);
    let (dxz, dxn, drz, drn, h_prev) = (
        &mut dxz[..n],
        &mut dxn[..n],
        &mut drz[..n],
        &mut drn[..n],
        &h_prev[..n],
    );
    for j in 0..n {
        let (r, z, cand) = (gr[j], gz[j], gn[j]);
        let d_z = dh[j] * (h_prev[j] - cand) * z * (1.0 - z);
        let d_n = dh[j] * (1.0 - z) * (1.0 - cand * cand);
        let d_r = d_n * hn[j] * r * (1.0 - r);
        (dxr[j], dxz[j], dxn[j]) = (d_r, d_z, d_n);
        (drr[j], drz[j], drn[j]) = (d_r, d_z, d_n * r);
        dh[j] *= z;
    }
}

/// Blocks of `hidden` values in [`Saved::aux`] per step.
fn aux_blocks(kind: CellKind) -> usize {
    match kind {
        CellKind::Lstm => 2,
        CellKind::Gru => 1,
        CellKind::RnnTanh | CellKind::RnnRelu => 0,
    }
}

/// `c [m, n] += a [m, k] · b [k, n]`, `c` row-major and contiguous.
///
/// Through ndarray, which calls OpenBLAS's `sgemm` with the `openblas`
/// feature (strided operands become its transpose flags) and
/// `matrixmultiply` without it. On this project's 2-core machine OpenBLAS
/// runs the per-step `[32, 512] x [512, 2048]` product at about 140 GFLOP/s;
/// the `gemm` crate flex uses managed 30-60 on the same calls, and with it
/// or `matrixmultiply` the whole layer was slower than composing backend ops
/// (docs/BENCHMARKS.md).
fn matmul(c: &mut [f32], a: ArrayView2<'_, f32>, b: ArrayView2<'_, f32>) {
    let mut c =
        ArrayViewMut2::from_shape((a.nrows(), b.ncols()), c).expect("buffer sized for its shape");
    ndarray::linalg::general_mat_mul(1.0, &a, &b, 1.0, &mut c);
}

/// A `[rows, cols]` view of `data` with the given element strides.
fn view(
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
fn tanh(x: f32) -> f32 {
    2.0 * sigmoid(2.0 * x) - 1.0
}

/// A CPU tensor's values, as `f32` (the computation's precision whatever
/// the tensor's; results go back in the tensor's dtype).
pub(crate) fn values<B: Backend>(t: FloatTensor<B>) -> Vec<f32> {
    read_sync(B::float_into_data(t))
        .expect("reading a CPU tensor cannot fail")
        .convert::<f32>()
        .try_into_vec::<f32>()
        .expect("converted to f32")
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
