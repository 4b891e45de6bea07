//! The forward of the CPU recurrence: the input projection of all steps in
//! one product, then one task per shard of sequences running every step of
//! its own rows.

use rayon::prelude::*;

use super::buffers::{shard_size, split, zeros};
use super::gates::ForwardStep;
use super::gemm::{PanelProduct, Panels, matmul, view};
use super::types::{Dims, Inputs, Outputs, Saved, aux_blocks};
use crate::kind::CellKind;

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
    let Dims { batch, hidden, .. } = dims;
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
    let is_lstm = kind == CellKind::Lstm;
    let mut xw_then_gates = project(dims, width, &x, &w_ih);
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
    let mut buffers = Buffers::new(kind, dims, keep_state);
    let shared = Shared {
        kind,
        dims,
        order: &order,
        lengths,
        keep_state,
        bias: &bias,
        b_hh: &b_hh,
        // Packed once for every shard and step.
        w_hh: &Panels::pack(&w_hh, [hidden, width], [width, 1]),
        simd: pulp::Arch::new(),
    };
    run_shards(&shared, &mut h, &mut c, &mut xw_then_gates, &mut buffers);
    // Every real step has overwritten its row of the projection.
    let gates = xw_then_gates;

    let Buffers { h_prev, aux, hs } = buffers;
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
        gates,
        aux,
    });
    (outputs, saved)
}

/// The input side of every step at once: `xw = x · W_ih`, one `[batch*time,
/// input] x [input, width]` product. The gate loops add the biases, and each
/// step overwrites its row of `xw` with its activated gates, which the
/// backward needs: no second buffer of that size.
fn project(dims: Dims, width: usize, x: &[f32], w_ih: &[f32]) -> Vec<f32> {
    let rows = dims.batch * dims.time;
    let input = dims.input;
    let mut xw = zeros(rows * width);
    matmul(
        &mut xw,
        view(x, [rows, input], [input, 1]),
        view(w_ih, [input, width], [width, 1]),
        false,
    );
    xw
}

/// What every shard reads.
struct Shared<'a> {
    kind: CellKind,
    dims: Dims,
    order: &'a [usize],
    lengths: Option<&'a [usize]>,
    keep_state: bool,
    /// Added to the input side: `b_ih + b_hh`, the GRU's `b_ih` only.
    bias: &'a [f32],
    b_hh: &'a [f32],
    w_hh: &'a Panels,
    simd: pulp::Arch,
}

/// The buffers the forward writes besides the state and the gates.
struct Buffers {
    /// The state each step started from, `[batch][kept][hidden]`.
    h_prev: Vec<f32>,
    /// `[batch][kept][aux]`: see `Saved::aux`.
    aux: Vec<f32>,
    /// The outputs, `[batch][time][hidden]`.
    hs: Vec<f32>,
}

impl Buffers {
    /// Per sequence, the stored steps (`kept`): every one for the backward,
    /// else only the current one (a scratch slot).
    fn new(kind: CellKind, dims: Dims, keep_state: bool) -> Self {
        let Dims {
            batch,
            time,
            hidden,
            ..
        } = dims;
        let kept = if keep_state { time } else { 1 };
        Buffers {
            h_prev: zeros(batch * kept * hidden),
            aux: zeros(batch * kept * aux_blocks(kind) * hidden),
            hs: zeros(batch * time * hidden),
        }
    }
}

/// One shard's rows of every buffer the forward writes.
struct Shard<'a> {
    /// The index of its first sequence in the batch.
    first: usize,
    h: &'a mut [f32],
    c: &'a mut [f32],
    xw_then_gates: &'a mut [f32],
    h_prev: &'a mut [f32],
    aux: &'a mut [f32],
    hs: &'a mut [f32],
}

/// Cuts the batch into one shard per rayon thread and runs each shard's
/// recurrence as its own task: the steps need no synchronisation.
fn run_shards(
    shared: &Shared<'_>,
    h: &mut [f32],
    c: &mut [f32],
    xw_then_gates: &mut [f32],
    buffers: &mut Buffers,
) {
    let Dims {
        batch,
        time,
        hidden,
        ..
    } = shared.dims;
    let width = shared.kind.gates() * hidden;
    let aux_w = aux_blocks(shared.kind) * hidden;
    let kept = if shared.keep_state { time } else { 1 };
    let per_shard = shard_size(batch);
    let shards = batch.div_ceil(per_shard);
    split(h, per_shard * hidden, shards)
        .into_iter()
        .zip(split(c, per_shard * hidden, shards))
        .zip(split(
            &mut buffers.h_prev,
            per_shard * kept * hidden,
            shards,
        ))
        .zip(split(xw_then_gates, per_shard * time * width, shards))
        .zip(split(&mut buffers.aux, per_shard * kept * aux_w, shards))
        .zip(split(&mut buffers.hs, per_shard * time * hidden, shards))
        .enumerate()
        .collect::<Vec<_>>()
        .into_par_iter()
        .for_each(|(s, (((((h, c), h_prev), xw_then_gates), aux), hs))| {
            let shard = Shard {
                first: s * per_shard,
                h,
                c,
                xw_then_gates,
                h_prev,
                aux,
                hs,
            };
            run_shard(shared, shard);
        });
}

/// Every step of one shard's sequences: per step, its rows' product with
/// `W_hh`, then each real row's gate loop.
fn run_shard(shared: &Shared<'_>, shard: Shard<'_>) {
    let Shared {
        kind,
        dims: Dims { time, hidden, .. },
        order,
        lengths,
        keep_state,
        bias,
        b_hh,
        w_hh,
        simd,
    } = *shared;
    let Shard {
        first,
        h,
        c,
        xw_then_gates,
        h_prev,
        aux,
        hs,
    } = shard;
    let width = kind.gates() * hidden;
    let aux_w = aux_blocks(kind) * hidden;
    let kept = if keep_state { time } else { 1 };
    let padded = |b: usize, t: usize| lengths.is_some_and(|l| t >= l[b]);
    let rows = h.len() / hidden;
    // This step's recurrent side, h · W_hh.
    let mut hw = vec![0.0; rows * width];
    for &t in order {
        simd.dispatch(PanelProduct {
            c: &mut hw,
            a: h,
            b: w_hh,
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
                hw: &hw[b * width..][..width],
                xw_then_gates: &mut xw_then_gates[(b * time + t) * width..][..width],
                bias,
                b_hh,
                h,
                c: &mut c[b * hidden..][..hidden],
                aux: &mut aux[slot * aux_w..][..aux_w],
            });
            hs[(b * time + t) * hidden..][..hidden].copy_from_slice(h);
        }
    }
}
