//! The recurrence over a whole sequence as one fused operation: the forward
//! runs every time step on the backend's primitives with no autodiff
//! bookkeeping, and backpropagation through time is written by hand. On the
//! CPU backends, sequences of more than one step go to `host.rs` instead,
//! which runs the same equations over plain buffers; the two are the only
//! places the gate equations are written.
//!
//! burn's autodiff records every small op of every step (an LSTM step is about
//! fifteen), and each slice of the precomputed input projection costs a
//! zero-filled tensor the size of the whole projection in its backward. One
//! node per direction and layer removes both costs; the backward also turns
//! the per-step weight gradients into one large matmul.

use std::sync::Arc;

use burn::backend::tensor::FloatTensor;
use burn::backend::{Backend, DType, Shape, Slice, TensorMetadata};
use burn::tensor::TensorData;

use crate::cell::CellKind;
use crate::fused::FusedOp;
use crate::host;

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

/// What one step keeps for the backward pass, every tensor feature-major
/// (`[features, batch]`).
#[derive(Clone, Debug)]
struct Step<B: Backend> {
    /// The hidden state the step started from.
    h_prev: FloatTensor<B>,
    /// RNN: the new `h`. LSTM: sigmoid of all four gate pre-activations
    /// (the cell gate's slice unused). GRU: sigmoid of `[r, z]`.
    gates: FloatTensor<B>,
    /// LSTM: `tanh` of the cell gate. GRU: the candidate `n`.
    candidate: Option<FloatTensor<B>>,
    /// LSTM: the cell state the step started from. GRU: `W_hn h + b_hn`.
    memory: Option<FloatTensor<B>>,
    /// LSTM: `tanh(c')`.
    cell_tanh: Option<FloatTensor<B>>,
}

/// Everything the backward pass needs.
#[derive(Clone, Debug)]
pub(crate) enum Saved<B: Backend> {
    /// From the CPU path, with the device and dtype its gradients take.
    Host(Box<host::Saved>, B::Device, DType),
    /// From the device path.
    Device(DeviceSaved<B>),
}

/// What the device path keeps for the backward pass.
#[derive(Clone, Debug)]
pub(crate) struct DeviceSaved<B: Backend> {
    /// The input, `[batch * time, input]`.
    x: FloatTensor<B>,
    w_ih: FloatTensor<B>,
    w_hh: FloatTensor<B>,
    /// In processing order (reversed in time for the right-to-left pass).
    steps: Vec<Step<B>>,
    /// `[1, batch]` per time index: 1 at real steps, 0 at padding.
    masks: Option<Vec<FloatTensor<B>>>,
    hidden: usize,
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
    fn order(&self, time: usize) -> impl Iterator<Item = usize> + use<> {
        let reverse = self.reverse;
        (0..time).map(move |s| if reverse { time - 1 - s } else { s })
    }

    /// `[1, batch]` masks per time index, or `None` when nothing is padded.
    fn masks<B: Backend>(&self, time: usize, device: &B::Device) -> Option<Vec<FloatTensor<B>>> {
        let lengths = self.lengths.as_ref()?;
        let batch = lengths.len();
        Some(
            (0..time)
                .map(|t| {
                    let keep: Vec<f32> = lengths
                        .iter()
                        .map(|&l| if t < l { 1.0 } else { 0.0 })
                        .collect();
                    B::float_from_data(TensorData::new(keep, [1, batch]), device)
                })
                .collect(),
        )
    }

    /// The forward on a CPU backend: [`host::forward`] on the inputs' values.
    fn forward_host<B: Backend>(
        &self,
        [x, w_ih, b_ih, w_hh, b_hh, h0, c0]: [FloatTensor<B>; 7],
        keep_state: bool,
    ) -> ([FloatTensor<B>; 3], Option<Saved<B>>) {
        let [batch, time, input] = dims3::<B>(&x);
        let hidden = dims2::<B>(&w_hh)[0];
        let device = x.device();
        let dtype = x.dtype();
        let is_lstm = self.kind == CellKind::Lstm;
        let inputs = host::Inputs {
            x: host::values::<B>(x),
            w_ih: host::values::<B>(w_ih),
            b_ih: host::values::<B>(b_ih),
            w_hh: host::values::<B>(w_hh),
            b_hh: host::values::<B>(b_hh),
            h0: host::values::<B>(h0),
            c0: if is_lstm {
                host::values::<B>(c0)
            } else {
                Vec::new()
            },
        };
        let dims = host::Dims {
            batch,
            time,
            input,
            hidden,
        };
        let order = self.order(time).collect();
        let (out, saved) = host::forward(
            self.kind,
            order,
            self.lengths.as_deref(),
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
        (
            outputs,
            saved.map(|saved| Saved::Host(Box::new(saved), device, dtype)),
        )
    }

    /// The backward on a CPU backend: [`host::backward`].
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
        [
            grads
                .x
                .map(|x| host::tensor::<B, 3>(x, [batch, time, input], dtype, device)),
            grads
                .w_ih
                .map(|w| host::tensor::<B, 2>(w, [input, width], dtype, device)),
            needs[2].then(|| host::tensor::<B, 1>(grads.b_ih, [width], dtype, device)),
            needs[3].then(|| host::tensor::<B, 2>(grads.w_hh, [hidden, width], dtype, device)),
            needs[4].then(|| host::tensor::<B, 1>(grads.b_hh, [width], dtype, device)),
            needs[5].then(|| host::tensor::<B, 2>(grads.h0, [batch, hidden], dtype, device)),
            grads
                .c0
                .filter(|_| needs[6])
                .map(|c0| host::tensor::<B, 2>(c0, [batch, hidden], dtype, device)),
        ]
    }
}

impl FusedOp<7, 3> for Recurrence {
    type State<B: Backend> = Saved<B>;

    fn forward<B: Backend>(
        &self,
        [x, w_ih, b_ih, w_hh, b_hh, h0, c0]: [FloatTensor<B>; 7],
        needs: [bool; 7],
    ) -> ([FloatTensor<B>; 3], Option<Saved<B>>) {
        let [batch, time, input] = dims3::<B>(&x);
        let [hidden, width] = dims2::<B>(&w_hh);
        let device = x.device();
        let keep_state = needs.iter().any(|&n| n);
        // Sequences on the CPU run in `host`. Not single steps (decoders
        // feeding back their output): there copying the weights out of the
        // tensors would cost as much as the step's matmuls.
        if host::on_cpu::<B>(&device) && time > 1 {
            return self.forward_host::<B>([x, w_ih, b_ih, w_hh, b_hh, h0, c0], keep_state);
        }
        // The input side of every step in one matmul.
        let x = B::float_reshape(x, Shape::new([batch * time, input]));
        let xw = B::float_add(
            B::float_matmul(x.clone(), w_ih.clone()),
            B::float_reshape(b_ih, Shape::new([1, width])),
        );
        let xw = B::float_reshape(xw, Shape::new([batch, time, width]));
        let masks = self.masks::<B>(time, &device);
        let act = Activations::for_backend::<B>(&device);
        // Feature-major layout: every per-step tensor is [features, batch],
        // so the recurrent matmul is W_hhᵀ [gates*hidden, hidden] · hᵀ: the
        // large matrix on the left, which flex's matmul runs 3-4x faster
        // than h · W_hh at these shapes (benches/shapes.rs).
        let xw = contiguous::<B, _>(B::float_permute(xw, &[1, 2, 0]), [time, width, batch]);
        let bias = B::float_reshape(b_hh.clone(), Shape::new([width, 1]));
        // RNN and LSTM add b_hh straight to the pre-activation: fold it into
        // the projection once. The GRU needs it inside the reset product.
        let xw = match self.kind {
            CellKind::Gru => xw,
            _ => B::float_add(
                xw,
                B::float_reshape(bias.clone(), Shape::new([1, width, 1])),
            ),
        };
        let w_hh_t = contiguous::<B, _>(B::float_transpose(w_hh.clone()), [width, hidden]);

        let mut h = transposed::<B>(h0);
        let mut c = match self.kind {
            CellKind::Lstm => transposed::<B>(c0),
            _ => c0,
        };
        let mut outputs: Vec<Option<FloatTensor<B>>> = vec![None; time];
        let mut steps = Vec::with_capacity(if keep_state { time } else { 0 });
        for t in self.order(time) {
            let x_t = B::float_reshape(
                B::float_slice(
                    xw.clone(),
                    &[Slice::new(t as isize, Some(t as isize + 1), 1)],
                ),
                Shape::new([width, batch]),
            );
            let hw = B::float_matmul(w_hh_t.clone(), h.clone());
            let (h_new, c_new, step) = match self.kind {
                CellKind::RnnTanh | CellKind::RnnRelu => {
                    let pre = B::float_add(x_t, hw);
                    let h_new = if self.kind == CellKind::RnnTanh {
                        act.tanh::<B>(pre)
                    } else {
                        B::relu(pre)
                    };
                    let step = Step {
                        h_prev: h.clone(),
                        gates: h_new.clone(),
                        candidate: None,
                        memory: None,
                        cell_tanh: None,
                    };
                    (h_new, None, step)
                }
                CellKind::Lstm => {
                    let pre = B::float_add(x_t, hw);
                    let sig = act.sigmoid::<B>(pre.clone());
                    let gate = |k: usize| rows::<B>(&sig, k * hidden, hidden);
                    let g = act.tanh::<B>(rows::<B>(&pre, 2 * hidden, hidden));
                    let c_new = B::float_add(
                        B::float_mul(gate(1), c.clone()),
                        B::float_mul(gate(0), g.clone()),
                    );
                    let cell_tanh = act.tanh::<B>(c_new.clone());
                    let h_new = B::float_mul(gate(3), cell_tanh.clone());
                    let step = Step {
                        h_prev: h.clone(),
                        gates: sig,
                        candidate: Some(g),
                        memory: Some(c.clone()),
                        cell_tanh: Some(cell_tanh),
                    };
                    (h_new, Some(c_new), step)
                }
                CellKind::Gru => {
                    let hw = B::float_add(hw, bias.clone());
                    let rz = act.sigmoid::<B>(B::float_add(
                        rows::<B>(&x_t, 0, 2 * hidden),
                        rows::<B>(&hw, 0, 2 * hidden),
                    ));
                    let (r, z) = (rows::<B>(&rz, 0, hidden), rows::<B>(&rz, hidden, hidden));
                    let hn = rows::<B>(&hw, 2 * hidden, hidden);
                    let n = act.tanh::<B>(B::float_add(
                        rows::<B>(&x_t, 2 * hidden, hidden),
                        B::float_mul(r, hn.clone()),
                    ));
                    // h' = (1 - z) * n + z * h = n + z * (h - n)
                    let h_new = B::float_add(
                        n.clone(),
                        B::float_mul(z, B::float_sub(h.clone(), n.clone())),
                    );
                    let step = Step {
                        h_prev: h.clone(),
                        gates: rz,
                        candidate: Some(n),
                        memory: Some(hn),
                        cell_tanh: None,
                    };
                    (h_new, None, step)
                }
            };
            if keep_state {
                steps.push(step);
            }
            // At padding (keep = 0) the state is carried through unchanged and
            // the output is zero: state' = old + keep * (new - old).
            let (output, h_next, c_next) = match &masks {
                None => (h_new.clone(), h_new, c_new.unwrap_or(c)),
                Some(masks) => {
                    let keep = &masks[t];
                    let blend = |new: FloatTensor<B>, old: FloatTensor<B>| {
                        B::float_add(
                            old.clone(),
                            B::float_mul(keep.clone(), B::float_sub(new, old)),
                        )
                    };
                    let output = B::float_mul(keep.clone(), h_new.clone());
                    let c_next = match c_new {
                        Some(c_new) => blend(c_new, c),
                        None => c,
                    };
                    (output, blend(h_new, h), c_next)
                }
            };
            outputs[t] = Some(B::float_reshape(output, Shape::new([1, hidden, batch])));
            h = h_next;
            c = c_next;
        }

        let hs = B::float_cat(outputs.into_iter().flatten().collect(), 0);
        let hs = contiguous::<B, _>(B::float_permute(hs, &[2, 0, 1]), [batch, time, hidden]);
        let c_last = match self.kind {
            CellKind::Lstm => transposed::<B>(c),
            _ => B::float_zeros(Shape::new([1]), &device, h.dtype().into()),
        };
        let saved = keep_state.then(|| {
            Saved::Device(DeviceSaved {
                x,
                w_ih,
                w_hh,
                steps,
                masks,
                hidden,
            })
        });
        ([hs, transposed::<B>(h), c_last], saved)
    }

    fn backward<B: Backend>(
        &self,
        saved: Saved<B>,
        [d_hs, d_h_last, d_c_last]: [Option<FloatTensor<B>>; 3],
        needs: [bool; 7],
    ) -> [Option<FloatTensor<B>>; 7] {
        let saved = match saved {
            Saved::Host(saved, device, dtype) => {
                let grads = [d_hs, d_h_last, d_c_last];
                return self.backward_host::<B>(*saved, &device, dtype, grads, needs);
            }
            Saved::Device(saved) => saved,
        };
        let DeviceSaved {
            x,
            w_ih,
            w_hh,
            steps,
            masks,
            hidden,
        } = saved;
        let time = steps.len();
        let [_, batch] = dims2::<B>(&steps[0].h_prev);
        let device = w_hh.device();
        let dtype = w_hh.dtype();
        let zeros = || B::float_zeros(Shape::new([hidden, batch]), &device, dtype.into());
        let is_lstm = self.kind == CellKind::Lstm;
        // Everything in the forward's feature-major layout ([features, batch]).
        let d_hs = d_hs
            .map(|d| contiguous::<B, _>(B::float_permute(d, &[1, 2, 0]), [time, hidden, batch]));

        // Gradients flowing into the state carried out of the current step.
        let mut dh = d_h_last.map(transposed::<B>).unwrap_or_else(zeros);
        let mut dc = match (is_lstm, d_c_last) {
            (true, Some(d)) => transposed::<B>(d),
            _ => zeros(),
        };
        let mut d_xw: Vec<Option<FloatTensor<B>>> = vec![None; time];
        let mut d_hw = Vec::with_capacity(time);
        let times: Vec<usize> = self.order(time).collect();
        for (step, &t) in steps.iter().zip(&times).rev() {
            let d_out = d_hs.as_ref().map(|d| {
                B::float_reshape(
                    B::float_slice(
                        d.clone(),
                        &[Slice::new(t as isize, Some(t as isize + 1), 1)],
                    ),
                    Shape::new([hidden, batch]),
                )
            });
            let d_new = match d_out {
                Some(d_out) => B::float_add(dh.clone(), d_out),
                None => dh.clone(),
            };
            // Through the mask: the new state gets keep * grad, the carried
            // old state (1 - keep) * grad.
            let (d_h_new, d_c_new, carried) = match &masks {
                None => (d_new, dc.clone(), None),
                Some(masks) => {
                    let keep = &masks[t];
                    let d_h_new = B::float_mul(keep.clone(), d_new);
                    let d_c_new = B::float_mul(keep.clone(), dc.clone());
                    let old_h = B::float_sub(dh.clone(), B::float_mul(keep.clone(), dh.clone()));
                    let old_c = B::float_sub(dc.clone(), d_c_new.clone());
                    (d_h_new, d_c_new, Some((old_h, old_c)))
                }
            };

            // Gradients of the pre-activations (input side and recurrent
            // side), plus what reaches h and c other than through W_hh.
            let (d_x, d_r, d_h_direct, d_c_prev) = match self.kind {
                CellKind::RnnTanh => {
                    let h_new = &step.gates;
                    let d = B::float_mul(
                        d_h_new,
                        one_minus::<B>(B::float_mul(h_new.clone(), h_new.clone())),
                    );
                    (d.clone(), d, None, None)
                }
                CellKind::RnnRelu => {
                    let d = B::relu_backward(step.gates.clone(), d_h_new);
                    (d.clone(), d, None, None)
                }
                CellKind::Lstm => {
                    let sig = &step.gates;
                    let gate = |k: usize| rows::<B>(sig, k * hidden, hidden);
                    let g = step.candidate.clone().expect("LSTM step keeps g");
                    let c_prev = step.memory.clone().expect("LSTM step keeps c");
                    let cell_tanh = step.cell_tanh.clone().expect("LSTM step keeps tanh(c')");
                    let d_o = B::float_mul(d_h_new.clone(), cell_tanh.clone());
                    let d_c = B::float_add(
                        d_c_new,
                        B::float_mul(
                            B::float_mul(d_h_new, gate(3)),
                            one_minus::<B>(B::float_mul(cell_tanh.clone(), cell_tanh)),
                        ),
                    );
                    let d_i = B::float_mul(d_c.clone(), g.clone());
                    let d_f = B::float_mul(d_c.clone(), c_prev);
                    let d_g = B::float_mul(d_c.clone(), gate(0));
                    let d_c_prev = B::float_mul(d_c, gate(1));
                    let d_pre = B::float_cat(
                        vec![
                            B::sigmoid_backward(gate(0), d_i),
                            B::sigmoid_backward(gate(1), d_f),
                            B::float_mul(d_g, one_minus::<B>(B::float_mul(g.clone(), g))),
                            B::sigmoid_backward(gate(3), d_o),
                        ],
                        0,
                    );
                    (d_pre.clone(), d_pre, None, Some(d_c_prev))
                }
                CellKind::Gru => {
                    let rz = &step.gates;
                    let (r, z) = (rows::<B>(rz, 0, hidden), rows::<B>(rz, hidden, hidden));
                    let n = step.candidate.clone().expect("GRU step keeps n");
                    let hn = step.memory.clone().expect("GRU step keeps W_hn h + b_hn");
                    let d_z = B::float_mul(
                        d_h_new.clone(),
                        B::float_sub(step.h_prev.clone(), n.clone()),
                    );
                    let d_n = B::float_mul(d_h_new.clone(), one_minus::<B>(z.clone()));
                    let d_h_direct = B::float_mul(d_h_new, z.clone());
                    let d_n_pre = B::float_mul(d_n, one_minus::<B>(B::float_mul(n.clone(), n)));
                    let d_r = B::float_mul(d_n_pre.clone(), hn);
                    let d_rz = B::float_cat(
                        vec![
                            B::sigmoid_backward(r.clone(), d_r),
                            B::sigmoid_backward(z, d_z),
                        ],
                        0,
                    );
                    let d_x = B::float_cat(vec![d_rz.clone(), d_n_pre.clone()], 0);
                    let d_rec = B::float_cat(vec![d_rz, B::float_mul(d_n_pre, r)], 0);
                    (d_x, d_rec, Some(d_h_direct), None)
                }
            };

            // hᵀ gradient: W_hh [hidden, gates*hidden] · d_rᵀ, again the large
            // matrix on the left.
            let mut d_h_prev = B::float_matmul(w_hh.clone(), d_r.clone());
            if let Some(direct) = d_h_direct {
                d_h_prev = B::float_add(d_h_prev, direct);
            }
            let mut d_c_prev = d_c_prev.unwrap_or_else(zeros);
            if let Some((old_h, old_c)) = carried {
                d_h_prev = B::float_add(d_h_prev, old_h);
                d_c_prev = B::float_add(d_c_prev, old_c);
            }
            dh = d_h_prev;
            dc = d_c_prev;
            let width = dims2::<B>(&d_x)[0];
            d_xw[t] = Some(B::float_reshape(d_x, Shape::new([1, width, batch])));
            d_hw.push(d_r);
        }
        d_hw.reverse(); // into processing order, paired with `steps`

        // Through the input projection, with the gradient of all steps as
        // one [batch * time, width] matrix: dx = d_xw · W_ihᵀ, dW_ih = xᵀ · d_xw.
        let d_xw_all = (needs[0] || needs[1] || needs[2]).then(|| {
            let d = B::float_cat(d_xw.into_iter().flatten().collect(), 0);
            let width = dims3::<B>(&d)[1];
            let d = contiguous::<B, _>(B::float_permute(d, &[2, 0, 1]), [batch, time, width]);
            B::float_reshape(d, Shape::new([batch * time, width]))
        });
        let d_x = needs[0].then(|| {
            let d = d_xw_all.clone().expect("computed when needed");
            let d_x = B::float_matmul(d, B::float_transpose(w_ih));
            let input = dims2::<B>(&x)[1];
            B::float_reshape(d_x, Shape::new([batch, time, input]))
        });
        let d_w_ih = needs[1].then(|| {
            let d = d_xw_all.clone().expect("computed when needed");
            B::float_matmul(B::float_transpose(x), d)
        });
        let d_b_ih = needs[2].then(|| column_sums::<B>(d_xw_all.expect("computed when needed")));
        // Σ_t h_{t-1}ᵀ · d(recurrent pre-activation)_t as one
        // [hidden, time*batch] · [time*batch, gates*hidden] matmul.
        let d_hw_all = (needs[3] || needs[4]).then(|| B::float_cat(d_hw, 1));
        let d_w_hh = needs[3].then(|| {
            let h_prev = B::float_cat(steps.iter().map(|s| s.h_prev.clone()).collect(), 1);
            B::float_matmul(
                h_prev,
                B::float_transpose(d_hw_all.clone().expect("computed when needed")),
            )
        });
        let d_b_hh = needs[4].then(|| {
            let summed = B::float_sum_dim(d_hw_all.expect("computed when needed"), 1);
            let width = dims2::<B>(&summed)[0];
            B::float_reshape(summed, Shape::new([width]))
        });
        let dc0 = (needs[6] && is_lstm).then(|| transposed::<B>(dc));
        [
            d_x,
            d_w_ih,
            d_b_ih,
            d_w_hh,
            d_b_hh,
            needs[5].then(|| transposed::<B>(dh)),
            dc0,
        ]
    }
}

/// How the forward computes sigmoid and tanh.
///
/// The CPU backends evaluate `exp` vectorised but `sigmoid` and `tanh` one
/// element at a time: on flex, for one step's 65,536 gate values, sigmoid
/// takes 0.25 ms and tanh 0.89 ms, while `1 / (1 + exp(-x))` takes 0.14 ms
/// and `2σ(2x) - 1` 0.15 ms, ndarray alike (`cargo bench -p recur-cells
/// --bench shapes --profile dev`). On a GPU each extra op is a kernel launch,
/// so the backend's own functions stay there.
struct Activations {
    via_exp: bool,
}

impl Activations {
    fn for_backend<B: Backend>(device: &B::Device) -> Self {
        Activations {
            via_exp: host::on_cpu::<B>(device),
        }
    }

    fn sigmoid<B: Backend>(&self, x: FloatTensor<B>) -> FloatTensor<B> {
        if self.via_exp {
            B::float_recip(B::float_add_scalar(
                B::float_exp(B::float_neg(x)),
                1.0.into(),
            ))
        } else {
            B::sigmoid(x)
        }
    }

    fn tanh<B: Backend>(&self, x: FloatTensor<B>) -> FloatTensor<B> {
        if self.via_exp {
            // tanh(x) = 2σ(2x) - 1
            let sig = self.sigmoid::<B>(B::float_mul_scalar(x, 2.0.into()));
            B::float_add_scalar(B::float_mul_scalar(sig, 2.0.into()), (-1.0).into())
        } else {
            B::float_tanh(x)
        }
    }
}

fn dims2<B: Backend>(t: &FloatTensor<B>) -> [usize; 2] {
    let shape = t.shape();
    [shape[0], shape[1]]
}

fn dims3<B: Backend>(t: &FloatTensor<B>) -> [usize; 3] {
    let shape = t.shape();
    [shape[0], shape[1], shape[2]]
}

/// Rows `start..start + len` of a `[features, batch]` tensor.
fn rows<B: Backend>(t: &FloatTensor<B>, start: usize, len: usize) -> FloatTensor<B> {
    B::float_slice(
        t.clone(),
        &[Slice::new(start as isize, Some((start + len) as isize), 1)],
    )
}

/// `t` laid out contiguously with `shape` (a copy when `t` is a strided view,
/// such as a permutation).
fn contiguous<B: Backend, const D: usize>(t: FloatTensor<B>, shape: [usize; D]) -> FloatTensor<B> {
    let flat = B::float_reshape(t, Shape::new([shape.iter().product()]));
    B::float_reshape(flat, Shape::new(shape))
}

/// The contiguous transpose of a 2-d tensor.
fn transposed<B: Backend>(t: FloatTensor<B>) -> FloatTensor<B> {
    let [rows, cols] = dims2::<B>(&t);
    contiguous::<B, _>(B::float_transpose(t), [cols, rows])
}

/// The sums over the rows of a `[rows, width]` tensor, `[width]`.
fn column_sums<B: Backend>(t: FloatTensor<B>) -> FloatTensor<B> {
    let width = dims2::<B>(&t)[1];
    B::float_reshape(B::float_sum_dim(t, 0), Shape::new([width]))
}

/// `1 - x`.
fn one_minus<B: Backend>(x: FloatTensor<B>) -> FloatTensor<B> {
    B::float_add_scalar(B::float_neg(x), 1.0.into())
}
