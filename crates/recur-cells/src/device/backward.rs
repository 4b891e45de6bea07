//! The device path's backpropagation through time: per step in reverse, the
//! padding mask, the cell's gate gradients (`gates.rs`) and `d_h_prev`
//! through `W_hh`; then the gradients of the weights over all steps at
//! once, each one large matmul.

use burn::backend::tensor::FloatTensor;
use burn::backend::{Backend, Shape, TensorMetadata};

use super::float::Float;
use super::gates::{StepGrads, gru_backward, lstm_backward, rnn_backward};
use super::saved::{CellSaved, Saved, Step};
use crate::kind::CellKind;

/// The gradients of the inputs of [`forward`](fn@super::forward) (those
/// `needs` asks for) from those of its outputs, `None` for zero; `order` as
/// given to the forward.
pub(crate) fn backward<B: Backend>(
    kind: CellKind,
    order: &[usize],
    saved: Saved<B>,
    [d_hs, d_h_last, d_c_last]: [Option<FloatTensor<B>>; 3],
    needs: [bool; 7],
) -> [Option<FloatTensor<B>>; 7] {
    let Saved {
        x,
        w_ih,
        w_hh,
        steps,
        masks,
        hidden,
    } = saved;
    let time = steps.len();
    let [_, batch] = steps[0].h_prev.dims2();
    let device = w_hh.0.device();
    let dtype = w_hh.0.dtype();
    let zeros = || {
        Float(B::float_zeros(
            Shape::new([hidden, batch]),
            &device,
            dtype.into(),
        ))
    };
    // Everything in the forward's feature-major layout ([features, batch]).
    let d_hs = d_hs.map(|d| Float::<B>(d).permuted([1, 2, 0]));
    // Gradients flowing into the state carried out of the current step.
    let mut d_h = d_h_last
        .map(|d| Float::<B>(d).transposed())
        .unwrap_or_else(zeros);
    let mut d_c = match (kind, d_c_last) {
        (CellKind::Lstm, Some(d)) => Float::<B>(d).transposed(),
        _ => zeros(),
    };
    let mut d_xw: Vec<Option<Float<B>>> = vec![None; time];
    let mut d_hw = Vec::with_capacity(time);
    for (step, &t) in steps.iter().zip(order).rev() {
        let d_new = match &d_hs {
            Some(d_hs) => d_h.clone() + d_hs.time_step(t),
            None => d_h.clone(),
        };
        let keep = masks.as_ref().map(|masks| &masks[t]);
        let (d_h_new, d_c_new, carried) = into_mask(keep, d_new, &d_h, d_c);
        let grads = step_backward(step, d_h_new, d_c_new, hidden);
        (d_h, d_c) = previous_state_grads(&w_hh, &grads, carried, zeros);
        let width = grads.d_xw.dims2()[0];
        d_xw[t] = Some(grads.d_xw.reshape([1, width, batch]));
        d_hw.push(grads.d_hw);
    }
    d_hw.reverse(); // into processing order, paired with `steps`

    let [d_x, d_w_ih, d_b_ih] = if needs[0] || needs[1] || needs[2] {
        let d_xw = Float::cat(d_xw.into_iter().flatten().collect(), 0);
        projection_grads(x, w_ih, d_xw, [needs[0], needs[1], needs[2]])
    } else {
        [None, None, None]
    };
    let [d_w_hh, d_b_hh] = if needs[3] || needs[4] {
        recurrent_grads(&steps, Float::cat(d_hw, 1), [needs[3], needs[4]])
    } else {
        [None, None]
    };
    let d_h0 = needs[5].then(|| d_h.transposed());
    let d_c0 = (needs[6] && kind == CellKind::Lstm).then(|| d_c.transposed());
    [d_x, d_w_ih, d_b_ih, d_w_hh, d_b_hh, d_h0, d_c0].map(|grad| grad.map(|grad| grad.0))
}

/// The gradients of the state a step started from: `d_h_prev = W_hh ·
/// d_hw` (`[hidden, gates*hidden] · [gates*hidden, batch]`, again the large
/// matrix on the left) plus what reached `h_prev` directly, `d_c_prev` from
/// the cell, and at padding what the mask carried past the step.
fn previous_state_grads<B: Backend>(
    w_hh: &Float<B>,
    grads: &StepGrads<B>,
    carried: Option<(Float<B>, Float<B>)>,
    zeros: impl FnOnce() -> Float<B>,
) -> (Float<B>, Float<B>) {
    let mut d_h_prev = w_hh.clone().matmul(grads.d_hw.clone());
    if let Some(direct) = &grads.d_h_direct {
        d_h_prev = d_h_prev + direct.clone();
    }
    let mut d_c_prev = grads.d_c_prev.clone().unwrap_or_else(zeros);
    if let Some((old_h, old_c)) = carried {
        d_h_prev = d_h_prev + old_h;
        d_c_prev = d_c_prev + old_c;
    }
    (d_h_prev, d_c_prev)
}

/// The gradients of the new state through the mask: the new state gets
/// `keep * grad`, the carried old state `(1 - keep) * grad`. Returns those of
/// the new `h` and `c` and, at padding, of the old ones.
fn into_mask<B: Backend>(
    keep: Option<&Float<B>>,
    d_new: Float<B>,
    d_h: &Float<B>,
    d_c: Float<B>,
) -> (Float<B>, Float<B>, Option<(Float<B>, Float<B>)>) {
    let Some(keep) = keep else {
        return (d_new, d_c, None);
    };
    let d_h_new = keep.clone() * d_new;
    let d_c_new = keep.clone() * d_c.clone();
    let old_h = d_h.clone() - keep.clone() * d_h.clone();
    let old_c = d_c - d_c_new.clone();
    (d_h_new, d_c_new, Some((old_h, old_c)))
}

/// One step's gate gradients from those of its new `h` and `c`.
fn step_backward<B: Backend>(
    step: &Step<B>,
    d_h: Float<B>,
    d_c: Float<B>,
    hidden: usize,
) -> StepGrads<B> {
    match &step.cell {
        CellSaved::RnnTanh { h_new } => {
            rnn_backward(h_new.clone(), d_h, |h, d_h| d_h * (1.0 - h.clone() * h))
        }
        CellSaved::RnnRelu { h_new } => {
            rnn_backward(h_new.clone(), d_h, |h, d_h| h.relu_backward(d_h))
        }
        CellSaved::Lstm(saved) => lstm_backward(saved, d_h, d_c, hidden),
        CellSaved::Gru(saved) => gru_backward(saved, step.h_prev.clone(), d_h, hidden),
    }
}

/// Through the input projection, with the gradient of all steps `d_xw`
/// (`[time, width, batch]`) as one `[batch * time, width]` matrix: `d_x =
/// d_xw · W_ihᵀ`, `d_w_ih = xᵀ · d_xw`, `d_b_ih = Σ d_xw`, each when `needs`
/// asks for it.
fn projection_grads<B: Backend>(
    x: Float<B>,
    w_ih: Float<B>,
    d_xw: Float<B>,
    needs: [bool; 3],
) -> [Option<Float<B>>; 3] {
    let [time, width, batch] = d_xw.dims3();
    let d_xw = d_xw.permuted([2, 0, 1]).reshape([batch * time, width]);
    let d_x = needs[0].then(|| {
        let input = x.dims2()[1];
        d_xw.clone().matmul(w_ih.t()).reshape([batch, time, input])
    });
    let d_w_ih = needs[1].then(|| x.t().matmul(d_xw.clone()));
    let d_b_ih = needs[2].then(|| d_xw.sum_dim(0));
    [d_x, d_w_ih, d_b_ih]
}

/// `Σ_t h_{t-1}ᵀ · d_hw_t` as one `[hidden, time*batch] · [time*batch,
/// gates*hidden]` matmul, and `Σ_t d_hw_t`, each when `needs` asks for it;
/// `d_hw` is `[gates*hidden, time*batch]`.
fn recurrent_grads<B: Backend>(
    steps: &[Step<B>],
    d_hw: Float<B>,
    needs: [bool; 2],
) -> [Option<Float<B>>; 2] {
    let d_w_hh = needs[0].then(|| {
        let h_prev = Float::cat(steps.iter().map(|s| s.h_prev.clone()).collect(), 1);
        h_prev.matmul(d_hw.clone().t())
    });
    let d_b_hh = needs[1].then(|| d_hw.sum_dim(1));
    [d_w_hh, d_b_hh]
}
