//! The device path's forward: the input projection of all steps in one
//! matmul, then per time step the recurrent matmul, the cell's gates
//! (`gates.rs`) and the padding mask.

use burn::backend::tensor::FloatTensor;
use burn::backend::{Backend, Shape, TensorMetadata};
use burn::tensor::TensorData;

use super::float::{Activations, Float};
use super::gates::{gru_forward, lstm_forward, rnn_forward};
use super::saved::{CellSaved, Saved, Step};
use crate::kind::CellKind;

/// Runs the recurrence of `kind` over `order` (time indices in processing
/// order) on the backend's ops, with padding past each sequence's length
/// when `lengths` is given. Inputs and outputs as for `Recurrence`; returns
/// what the backward needs when `keep_state`.
pub(crate) fn forward<B: Backend>(
    kind: CellKind,
    order: &[usize],
    lengths: Option<&[usize]>,
    inputs: [FloatTensor<B>; 7],
    keep_state: bool,
) -> ([FloatTensor<B>; 3], Option<Saved<B>>) {
    let [x, w_ih, b_ih, w_hh, b_hh, h0, c0] = inputs.map(Float::<B>);
    let [batch, time, input] = x.dims3();
    let [hidden, width] = w_hh.dims2();
    let device = x.0.device();
    let x = x.reshape([batch * time, input]);
    let b_hh = b_hh.reshape([width, 1]);
    let xw = project(kind, &x, &w_ih, b_ih, &b_hh, [batch, time, width]);
    let masks = masks::<B>(lengths, time, &device);
    let act = Activations::for_backend::<B>(&device);
    let w_hh_t = w_hh.clone().transposed();

    let mut h = h0.transposed();
    let mut c = match kind {
        CellKind::Lstm => c0.transposed(),
        _ => c0,
    };
    let mut outputs: Vec<Option<Float<B>>> = vec![None; time];
    let mut steps = Vec::with_capacity(if keep_state { time } else { 0 });
    for &t in order {
        let hw = w_hh_t.clone().matmul(h.clone());
        let (h_new, c_new, cell) = step(kind, &act, xw.time_step(t), hw, &b_hh, [&h, &c], hidden);
        if keep_state {
            steps.push(Step {
                h_prev: h.clone(),
                cell,
            });
        }
        let keep = masks.as_ref().map(|masks| &masks[t]);
        let (output, h_next, c_next) = through_mask(keep, h_new, c_new, h, c);
        outputs[t] = Some(output.reshape([1, hidden, batch]));
        h = h_next;
        c = c_next;
    }

    let hs = Float::cat(outputs.into_iter().flatten().collect(), 0).permuted([2, 0, 1]);
    let c_last = match kind {
        CellKind::Lstm => c.transposed(),
        _ => Float(B::float_zeros(Shape::new([1]), &device, h.0.dtype().into())),
    };
    let saved = keep_state.then(|| Saved {
        x,
        w_ih,
        w_hh,
        steps,
        masks,
        hidden,
    });
    ([hs.0, h.transposed().0, c_last.0], saved)
}

/// The input side of every step in one matmul, `x · W_ih + b_ih`, as
/// `[time, width, batch]`. RNN and LSTM add `b_hh` straight to the
/// pre-activation: it is folded in here once. The GRU needs it inside the
/// reset product.
fn project<B: Backend>(
    kind: CellKind,
    x: &Float<B>,
    w_ih: &Float<B>,
    b_ih: Float<B>,
    b_hh: &Float<B>,
    [batch, time, width]: [usize; 3],
) -> Float<B> {
    let xw = x.clone().matmul(w_ih.clone()) + b_ih.reshape([1, width]);
    let xw = xw.reshape([batch, time, width]).permuted([1, 2, 0]);
    match kind {
        CellKind::Gru => xw,
        _ => xw + b_hh.clone().reshape([1, width, 1]),
    }
}

/// One step of the cell from the input side `xw`, the recurrent side `hw`
/// and the state `[h, c]`: the new `h`, the new `c` (LSTM) and what the
/// backward needs.
fn step<B: Backend>(
    kind: CellKind,
    act: &Activations,
    xw: Float<B>,
    hw: Float<B>,
    b_hh: &Float<B>,
    [h, c]: [&Float<B>; 2],
    hidden: usize,
) -> (Float<B>, Option<Float<B>>, CellSaved<B>) {
    match kind {
        CellKind::RnnTanh => {
            let h_new = rnn_forward(xw, hw, |pre| act.tanh(pre));
            (h_new.clone(), None, CellSaved::RnnTanh { h_new })
        }
        CellKind::RnnRelu => {
            let h_new = rnn_forward(xw, hw, Float::relu);
            (h_new.clone(), None, CellSaved::RnnRelu { h_new })
        }
        CellKind::Lstm => {
            let (h_new, c_new, saved) = lstm_forward(act, xw, hw, c.clone(), hidden);
            (h_new, Some(c_new), CellSaved::Lstm(saved))
        }
        CellKind::Gru => {
            let (h_new, saved) = gru_forward(act, xw, hw + b_hh.clone(), h.clone(), hidden);
            (h_new, None, CellSaved::Gru(saved))
        }
    }
}

/// The step's output and the state carried on. At padding (`keep` = 0) the
/// state is carried through unchanged and the output is zero: `state' = old
/// + keep * (new - old)`, `output = keep * h_new`.
fn through_mask<B: Backend>(
    keep: Option<&Float<B>>,
    h_new: Float<B>,
    c_new: Option<Float<B>>,
    h: Float<B>,
    c: Float<B>,
) -> (Float<B>, Float<B>, Float<B>) {
    let Some(keep) = keep else {
        return (h_new.clone(), h_new, c_new.unwrap_or(c));
    };
    let blend = |new: Float<B>, old: Float<B>| old.clone() + keep.clone() * (new - old);
    let output = keep.clone() * h_new.clone();
    let c_next = match c_new {
        Some(c_new) => blend(c_new, c),
        None => c,
    };
    (output, blend(h_new, h), c_next)
}

/// `[1, batch]` masks per time index, 1 at real steps and 0 at padding, or
/// `None` when nothing is padded.
fn masks<B: Backend>(
    lengths: Option<&[usize]>,
    time: usize,
    device: &B::Device,
) -> Option<Vec<Float<B>>> {
    let lengths = lengths?;
    let batch = lengths.len();
    let mask = |t: usize| {
        let keep: Vec<f32> = lengths
            .iter()
            .map(|&l| if t < l { 1.0 } else { 0.0 })
            .collect();
        Float(B::float_from_data(
            TensorData::new(keep, [1, batch]),
            device,
        ))
    };
    Some((0..time).map(mask).collect())
}
