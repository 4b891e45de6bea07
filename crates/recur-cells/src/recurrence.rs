//! The recurrence over a whole sequence as one fused operation, with
//! backpropagation through time written by hand. This file is the op: it
//! picks the path and converts between tensors and buffers. On the CPU
//! backends, sequences of more than one step run in `host/` over plain
//! buffers; everything else runs in `device/` on the backend's ops. The two
//! paths' `gates.rs` are the only places the gate equations are written.
//!
//! burn's autodiff records every small op of every step (an LSTM step is about
//! fifteen), and each slice of the precomputed input projection costs a
//! zero-filled tensor the size of the whole projection in its backward. One
//! node per direction and layer removes both costs; the backward also turns
//! the per-step weight gradients into one large matmul.

use std::sync::Arc;

use burn::backend::tensor::FloatTensor;
use burn::backend::{Backend, DType, TensorMetadata};

use crate::fused::FusedOp;
use crate::kind::CellKind;
use crate::{device, host};

/// One direction of one layer run over a sequence, input projection
/// included.
///
/// Inputs: `x [batch, time, input]`, `w_ih [input, gates*hidden]`,
/// `b_ih [gates*hidden]`, `w_hh [hidden, gates*hidden]`, `b_hh
/// [gates*hidden]`, `h0 [batch, hidden]`, `c0 [batch, hidden]` (LSTM;
/// ignored otherwise).
/// Outputs: `hs [batch, time, hidden]` (zero at padding), the final `h` and
/// the final `c` (LSTM; a zero `[1]` otherwise).
#[derive(Clone, Debug)]
pub(crate) struct Recurrence {
    kind: CellKind,
    reverse: bool,
    /// Each sequence's length, when some are shorter than the time axis.
    lengths: Option<Arc<[usize]>>,
}

/// Everything the backward pass needs.
#[derive(Clone, Debug)]
pub(crate) enum Saved<B: Backend> {
    /// From the CPU path, with the device and dtype its gradients take.
    Host(Box<host::Saved>, B::Device, DType),
    /// From the device path.
    Device(device::Saved<B>),
}

impl Recurrence {
    /// The recurrence of `kind`, right to left if `reverse`, with padding past
    /// each sequence's length when `lengths` is given.
    pub(crate) fn new(kind: CellKind, reverse: bool, lengths: Option<&[usize]>) -> Self {
        Recurrence {
            kind,
            reverse,
            lengths: lengths.map(Arc::from),
        }
    }

    /// Time indices in processing order.
    fn order(&self, time: usize) -> Vec<usize> {
        let reverse = self.reverse;
        (0..time)
            .map(move |s| if reverse { time - 1 - s } else { s })
            .collect()
    }

    /// The forward on a CPU backend: [`host::forward`](fn@host::forward) on
    /// the inputs' values.
    fn forward_host<B: Backend>(
        &self,
        [x, w_ih, b_ih, w_hh, b_hh, h0, c0]: [FloatTensor<B>; 7],
        keep_state: bool,
    ) -> ([FloatTensor<B>; 3], Option<Saved<B>>) {
        let shape = x.shape();
        let [batch, time, input] = [shape[0], shape[1], shape[2]];
        let hidden = w_hh.shape()[0];
        let device = x.device();
        let dtype = x.dtype();
        let inputs = host::Inputs {
            x: host::values::<B>(x),
            w_ih: host::values::<B>(w_ih),
            b_ih: host::values::<B>(b_ih),
            w_hh: host::values::<B>(w_hh),
            b_hh: host::values::<B>(b_hh),
            h0: host::values::<B>(h0),
            c0: match self.kind {
                CellKind::Lstm => host::values::<B>(c0),
                _ => Vec::new(),
            },
        };
        let dims = host::Dims {
            batch,
            time,
            input,
            hidden,
        };
        let lengths = self.lengths.as_deref();
        let (out, saved) = host::forward(
            self.kind,
            self.order(time),
            lengths,
            dims,
            inputs,
            keep_state,
        );
        let c_last = match out.c {
            Some(c) => host::tensor::<B, 2>(c, [batch, hidden], dtype, &device),
            None => host::tensor::<B, 1>(vec![0.0], [1], dtype, &device),
        };
        let outputs = [
            host::tensor::<B, 3>(out.hs, [batch, time, hidden], dtype, &device),
            host::tensor::<B, 2>(out.h, [batch, hidden], dtype, &device),
            c_last,
        ];
        let saved = saved.map(|saved| Saved::Host(Box::new(saved), device, dtype));
        (outputs, saved)
    }

    /// The backward on a CPU backend: [`host::backward`](fn@host::backward).
    fn backward_host<B: Backend>(
        &self,
        saved: host::Saved,
        device: &B::Device,
        dtype: DType,
        [d_hs, d_h, d_c]: [Option<FloatTensor<B>>; 3],
        needs: [bool; 7],
    ) -> [Option<FloatTensor<B>>; 7] {
        let host::Dims {
            batch,
            time,
            input,
            hidden,
        } = saved.dims();
        let width = self.kind.gates() * hidden;
        let d_c = d_c.filter(|_| self.kind == CellKind::Lstm);
        let grads = host::backward(
            saved,
            d_hs.map(host::values::<B>).as_deref(),
            d_h.map(host::values::<B>),
            d_c.map(host::values::<B>),
            [needs[0], needs[1]],
        );
        let t1 = |values, shape| host::tensor::<B, 1>(values, shape, dtype, device);
        let t2 = |values, shape| host::tensor::<B, 2>(values, shape, dtype, device);
        let t3 = |values, shape| host::tensor::<B, 3>(values, shape, dtype, device);
        [
            grads.x.map(|d| t3(d, [batch, time, input])),
            grads.w_ih.map(|d| t2(d, [input, width])),
            needs[2].then(|| t1(grads.b_ih, [width])),
            needs[3].then(|| t2(grads.w_hh, [hidden, width])),
            needs[4].then(|| t1(grads.b_hh, [width])),
            needs[5].then(|| t2(grads.h0, [batch, hidden])),
            grads
                .c0
                .filter(|_| needs[6])
                .map(|d| t2(d, [batch, hidden])),
        ]
    }
}

impl FusedOp<7, 3> for Recurrence {
    type State<B: Backend> = Saved<B>;

    fn forward<B: Backend>(
        &self,
        inputs: [FloatTensor<B>; 7],
        needs: [bool; 7],
    ) -> ([FloatTensor<B>; 3], Option<Saved<B>>) {
        let time = inputs[0].shape()[1];
        let keep_state = needs.iter().any(|&n| n);
        // Sequences on the CPU run in `host`. Not single steps (decoders
        // feeding back their output): there copying the weights out of the
        // tensors would cost as much as the step's matmuls.
        if host::on_cpu::<B>(&inputs[0].device()) && time > 1 {
            return self.forward_host::<B>(inputs, keep_state);
        }
        let order = self.order(time);
        let lengths = self.lengths.as_deref();
        let (outputs, saved) = device::forward(self.kind, &order, lengths, inputs, keep_state);
        (outputs, saved.map(Saved::Device))
    }

    fn backward<B: Backend>(
        &self,
        saved: Saved<B>,
        grads: [Option<FloatTensor<B>>; 3],
        needs: [bool; 7],
    ) -> [Option<FloatTensor<B>>; 7] {
        match saved {
            Saved::Host(saved, device, dtype) => {
                self.backward_host::<B>(*saved, &device, dtype, grads, needs)
            }
            Saved::Device(saved) => {
                let order = self.order(saved.time());
                device::backward(self.kind, &order, saved, grads, needs)
            }
        }
    }
}
