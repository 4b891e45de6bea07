//! Backpropagation through time on the CPU: the steps in reverse, one task
//! per shard of sequences as in the forward, then the weight gradients of
//! all steps as one product each.

use rayon::prelude::*;

use super::buffers::{shard_rows, shard_size, split, zeros};
use super::gates::BackwardStep;
use super::gemm::{PanelProduct, Panels, matmul, view};
use super::math::column_sums;
use super::types::{Dims, Grads, Saved, aux_blocks};
use crate::kind::CellKind;

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
    needs: [bool; 2],
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
    let Dims { batch, hidden, .. } = dims;
    let width = kind.gates() * hidden;
    let is_gru = kind == CellKind::Gru;
    // Gradients of the state carried out of the current step.
    let mut d_h = d_h.unwrap_or_else(|| vec![0.0; batch * hidden]);
    let mut d_c = d_c.unwrap_or_else(|| vec![0.0; batch * hidden]);
    // Each step reads its own row of the gates before writing the gradient
    // of its input side there. For the GRU, whose `n` block differs, the
    // recurrent side's gradient too.
    let mut gates_then_d_xw = gates;
    let mut d_hw_gru = zeros(if is_gru { batch * dims.time * width } else { 0 });
    let shared = Shared {
        kind,
        dims,
        order: &order,
        lengths: lengths.as_deref(),
        aux: &aux,
        h_prev: &h_prev,
        d_hs,
        w_hh_t: &Panels::pack(&w_hh, [width, hidden], [1, width]),
        simd: pulp::Arch::new(),
    };
    run_shards(
        &shared,
        [&mut d_h, &mut d_c],
        &mut gates_then_d_xw,
        &mut d_hw_gru,
    );
    let d_xw = gates_then_d_xw;
    // RNN and LSTM: the input and recurrent sides of a pre-activation are
    // one sum, so their gradients are the same.
    let d_hw = if is_gru { &d_hw_gru } else { &d_xw };
    let d_w_hh = recurrent_weight_grad(dims, width, &h_prev, d_hw);
    let [d_x, d_w_ih] = projection_grads(dims, width, &x, &w_ih, &d_xw, needs);
    let d_b_ih = column_sums(&d_xw, width);
    Grads {
        x: d_x,
        w_ih: d_w_ih,
        w_hh: d_w_hh,
        b_hh: if is_gru {
            column_sums(d_hw, width)
        } else {
            d_b_ih.clone()
        },
        b_ih: d_b_ih,
        h0: d_h,
        c0: (kind == CellKind::Lstm).then_some(d_c),
    }
}

/// `Σ_t h_{t-1}ᵀ · d_hw_t = H_prevᵀ [hidden, batch*time] · D [batch*time,
/// width]`.
fn recurrent_weight_grad(dims: Dims, width: usize, h_prev: &[f32], d_hw: &[f32]) -> Vec<f32> {
    let Dims {
        batch,
        time,
        hidden,
        ..
    } = dims;
    let rows = batch * time;
    let mut d_w_hh = zeros(hidden * width);
    matmul(
        &mut d_w_hh,
        view(h_prev, [hidden, rows], [1, hidden]),
        view(d_hw, [rows, width], [width, 1]),
        false,
    );
    d_w_hh
}

/// Through the input projection: `d_x = d_xw · W_ihᵀ` and `d_w_ih = xᵀ ·
/// d_xw`, each when `needs` asks for it.
fn projection_grads(
    dims: Dims,
    width: usize,
    x: &[f32],
    w_ih: &[f32],
    d_xw: &[f32],
    [need_x, need_w_ih]: [bool; 2],
) -> [Option<Vec<f32>>; 2] {
    let Dims {
        batch, time, input, ..
    } = dims;
    let rows = batch * time;
    let d_x = need_x.then(|| {
        let mut d_x = zeros(rows * input);
        matmul(
            &mut d_x,
            view(d_xw, [rows, width], [width, 1]),
            view(w_ih, [width, input], [1, width]),
            false,
        );
        d_x
    });
    let d_w_ih = need_w_ih.then(|| {
        let mut d_w_ih = zeros(input * width);
        matmul(
            &mut d_w_ih,
            view(x, [input, rows], [1, input]),
            view(d_xw, [rows, width], [width, 1]),
            false,
        );
        d_w_ih
    });
    [d_x, d_w_ih]
}

/// What every shard reads.
struct Shared<'a> {
    kind: CellKind,
    dims: Dims,
    order: &'a [usize],
    lengths: Option<&'a [usize]>,
    aux: &'a [f32],
    h_prev: &'a [f32],
    d_hs: Option<&'a [f32]>,
    /// `W_hhᵀ`, packed once for every shard and step.
    w_hh_t: &'a Panels,
    simd: pulp::Arch,
}

/// One shard's rows of every buffer the backward writes.
struct Shard<'a> {
    /// The index of its first sequence in the batch.
    first: usize,
    d_h: &'a mut [f32],
    d_c: &'a mut [f32],
    gates_then_d_xw: &'a mut [f32],
    /// Empty but for the GRU.
    d_hw_gru: &'a mut [f32],
}

/// As in the forward, each task runs the steps of its own sequences.
fn run_shards(
    shared: &Shared<'_>,
    [d_h, d_c]: [&mut [f32]; 2],
    gates_then_d_xw: &mut [f32],
    d_hw_gru: &mut [f32],
) {
    let Dims {
        batch,
        time,
        hidden,
        ..
    } = shared.dims;
    let width = shared.kind.gates() * hidden;
    let per_shard = shard_size(batch);
    let shards = batch.div_ceil(per_shard);
    let gru_len = if shared.kind == CellKind::Gru {
        time * width
    } else {
        0
    };
    split(d_h, per_shard * hidden, shards)
        .into_iter()
        .zip(split(d_c, per_shard * hidden, shards))
        .zip(split(gates_then_d_xw, per_shard * time * width, shards))
        .zip(split(d_hw_gru, per_shard * gru_len, shards))
        .enumerate()
        .collect::<Vec<_>>()
        .into_par_iter()
        .for_each(|(s, (((d_h, d_c), gates_then_d_xw), d_hw_gru))| {
            let shard = Shard {
                first: s * per_shard,
                d_h,
                d_c,
                gates_then_d_xw,
                d_hw_gru,
            };
            run_shard(shared, shard);
        });
}

/// Every step of one shard's sequences in reverse: each real row's gate
/// gradients, then the rows' `d_h_prev` through `W_hhᵀ`.
fn run_shard(shared: &Shared<'_>, shard: Shard<'_>) {
    let Shared {
        kind,
        dims: Dims { time, hidden, .. },
        order,
        lengths,
        aux,
        h_prev,
        d_hs,
        w_hh_t,
        simd,
    } = *shared;
    let Shard {
        first,
        d_h,
        d_c,
        gates_then_d_xw,
        d_hw_gru,
    } = shard;
    let width = kind.gates() * hidden;
    let aux_w = aux_blocks(kind) * hidden;
    let padded = |b: usize, t: usize| lengths.is_some_and(|l| t >= l[b]);
    let rows = d_h.len() / hidden;
    let aux = shard_rows(aux, first, rows, time * aux_w);
    let h_prev = shard_rows(h_prev, first, rows, time * hidden);
    let d_hs = d_hs.map(|d| shard_rows(d, first, rows, time * hidden));
    // This step's recurrent-side gradient; zero rows at padding, so the
    // product below carries d_h through padded steps unchanged.
    let mut d_hw_step = vec![0.0; rows * width];
    for &t in order.iter().rev() {
        for b in 0..rows {
            let r = b * time + t;
            let d_hw = &mut d_hw_step[b * width..][..width];
            let gates_then_d_xw = &mut gates_then_d_xw[r * width..][..width];
            if padded(first + b, t) {
                // The forward left the input side there, not gates.
                d_hw.fill(0.0);
                gates_then_d_xw.fill(0.0);
                continue;
            }
            let d_h = &mut d_h[b * hidden..][..hidden];
            if let Some(d_hs) = d_hs {
                for (d, &o) in d_h.iter_mut().zip(&d_hs[r * hidden..][..hidden]) {
                    *d += o;
                }
            }
            simd.dispatch(BackwardStep {
                kind,
                gates_then_d_xw,
                aux: &aux[r * aux_w..][..aux_w],
                h_prev: &h_prev[r * hidden..][..hidden],
                d_h,
                d_c: &mut d_c[b * hidden..][..hidden],
                d_hw,
            });
            if kind == CellKind::Gru {
                d_hw_gru[r * width..][..width].copy_from_slice(d_hw);
            }
        }
        // d_h_prev = (what reached h directly) + d_hw · W_hhᵀ.
        simd.dispatch(PanelProduct {
            c: d_h,
            a: &d_hw_step,
            b: w_hh_t,
            accumulate: true,
        });
    }
}
