//! A [`FusedOp`] as nodes of burn's autodiff graph: one main node whose
//! backward runs the op's, and with several outputs one node per output that
//! hands its gradient to the main node.

use std::sync::{Arc, Mutex};

use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::tensor::FloatTensor;
use burn::backend::{Autodiff, AutodiffBackend, Backend, DType, Shape, TensorMetadata};

use super::op::FusedOp;

/// Shared slot where the M output nodes deposit their gradients (multi-output case).
#[derive(Debug)]
struct Slots<B: Backend, const M: usize> {
    grads: [Option<FloatTensor<B>>; M],
    token_registered: bool,
}

type SharedSlots<B, const M: usize> = Arc<Mutex<Slots<B, M>>>;

/// State of the main node.
#[derive(Clone, Debug)]
struct MainState<B: Backend, S, const M: usize> {
    saved: S,
    /// (shape, device, dtype) of every input, to build zero gradients when needed.
    inputs: Vec<(Shape, B::Device, DType)>,
    /// `None` when M == 1 (the main node *is* the output).
    slots: Option<SharedSlots<B, M>>,
}

/// Backward step of the main node: runs the user's backward and registers input grads.
#[derive(Debug)]
struct MainBackward<Op, const N: usize, const M: usize>(Op);

impl<B, Op, const N: usize, const M: usize> Backward<B, N> for MainBackward<Op, N, M>
where
    B: Backend,
    Op: FusedOp<N, M>,
{
    type State = MainState<B, Op::State<B>, M>;

    fn backward(self, ops: Ops<Self::State, N>, grads: &mut Gradients, _: &mut Checkpointer) {
        let MainState {
            saved,
            inputs,
            slots,
        } = ops.state;
        let out_grads: [Option<FloatTensor<B>>; M] = match slots {
            // Single output: our own node's gradient is dL/dy.
            None => {
                let mut g = Some(grads.consume::<B>(&ops.node));
                std::array::from_fn(|_| g.take())
            }
            // Multi output: our node only carries a 1-element token gradient; the real
            // gradients were deposited by the output nodes (which run before us).
            Some(slots) => {
                let _token = grads.consume::<B>(&ops.node);
                let mut s = slots.lock().expect("slots poisoned");
                std::array::from_fn(|j| s.grads[j].take())
            }
        };
        let needs: [bool; N] = std::array::from_fn(|i| ops.parents[i].is_some());
        let in_grads = self.0.backward::<B>(saved, out_grads, needs);
        for ((parent, grad), (shape, device, dtype)) in ops.parents.iter().zip(in_grads).zip(inputs)
        {
            let Some(node) = parent else { continue };
            match grad {
                Some(grad) => grads.register::<B>(node.id, grad),
                // burn's backward executes the step of every tracked *non-leaf* ancestor, and
                // that step panics if it never received a gradient. So a tracked intermediate
                // input must always get one; a leaf (order 0) may be left without (grad None,
                // exactly like burn's own ops when an input does not reach the loss).
                None if node.order != 0 => {
                    grads.register::<B>(node.id, B::float_zeros(shape, &device, dtype.into()))
                }
                None => {}
            }
        }
    }
}

/// Backward step of output `index` (multi-output case): stash dL/d(output) for the main node
/// and give the main node a token gradient so that it is guaranteed to have one.
#[derive(Debug)]
struct OutputBackward<const M: usize>;

#[derive(Clone, Debug)]
struct OutputState<B: Backend, const M: usize> {
    index: usize,
    slots: SharedSlots<B, M>,
    token: FloatTensor<B>,
}

impl<B: Backend, const M: usize> Backward<B, 1> for OutputBackward<M> {
    type State = OutputState<B, M>;

    fn backward(self, ops: Ops<Self::State, 1>, grads: &mut Gradients, _: &mut Checkpointer) {
        let OutputState {
            index,
            slots,
            token,
        } = ops.state;
        let g = grads.consume::<B>(&ops.node);
        let first = {
            let mut s = slots.lock().expect("slots poisoned");
            s.grads[index] = Some(match s.grads[index].take() {
                Some(prev) => B::float_add(prev, g),
                None => g,
            });
            !std::mem::replace(&mut s.token_registered, true)
        };
        if first && let Some(parent) = &ops.parents[0] {
            grads.register::<B>(parent.id, token);
        }
    }
}

pub(super) fn run_plain<B: Backend, Op: FusedOp<N, M>, const N: usize, const M: usize>(
    op: &Op,
    inputs: [FloatTensor<B>; N],
) -> [FloatTensor<B>; M] {
    op.forward::<B>(inputs, [false; N]).0
}

pub(super) fn run_autodiff<B, C, Op, const N: usize, const M: usize>(
    op: &Op,
    inputs: [FloatTensor<Autodiff<B, C>>; N],
) -> [FloatTensor<Autodiff<B, C>>; M]
where
    B: Backend,
    C: CheckpointStrategy,
    Op: FusedOp<N, M>,
{
    let needs: [bool; N] = std::array::from_fn(|i| inputs[i].is_tracked());
    let meta: Vec<(Shape, B::Device, DType)> = inputs
        .iter()
        .map(|t| (t.shape(), t.device(), t.dtype()))
        .collect();
    // Take the node guards *before* consuming the primitives (they keep the parents alive
    // until our step is registered).
    let mut prims = Vec::with_capacity(N);
    let mut guards = Vec::with_capacity(N);
    for t in inputs {
        let (p, g) = t.into_parts();
        prims.push(p);
        guards.push(g);
    }
    let prims: [FloatTensor<B>; N] = vec_to_array(prims);
    let guards = vec_to_array(guards);

    let prep =
        <MainBackward<Op, N, M> as Backward<B, N>>::prepare::<C>(MainBackward(op.clone()), guards)
            .compute_bound()
            .stateful();

    match prep {
        OpsKind::UnTracked(prep) => {
            let (outs, _) = op.forward::<B>(prims, [false; N]);
            if M == 1 {
                let [out] = vec_to_array::<_, 1>(outs.into_iter().collect());
                vec_to_array(vec![prep.finish(out)])
            } else {
                drop(prep);
                outs.map(<Autodiff<B, C> as AutodiffBackend>::from_inner)
            }
        }
        OpsKind::Tracked(prep) => {
            let (outs, saved) = op.forward::<B>(prims, needs);
            let saved = saved.expect("FusedOp::forward must return a state when needs is set");
            if M == 1 {
                let [out] = vec_to_array::<_, 1>(outs.into_iter().collect());
                let state = MainState {
                    saved,
                    inputs: meta,
                    slots: None,
                };
                vec_to_array(vec![prep.finish(state, out)])
            } else {
                let device = outs[0].device();
                let dtype = outs[0].dtype();
                let token = B::float_zeros([1].into(), &device, dtype.into());
                let slots: SharedSlots<B, M> = Arc::new(Mutex::new(Slots {
                    grads: std::array::from_fn(|_| None),
                    token_registered: false,
                }));
                let state = MainState {
                    saved,
                    inputs: meta,
                    slots: Some(slots.clone()),
                };
                let main = prep.finish(state, token.clone());
                output_nodes::<B, C, M>(&main, outs, &slots, &token)
            }
        }
    }
}

/// With several outputs: one node per output, child of the `main` node (which
/// holds only a token), that passes its gradient to the main node through
/// `slots`.
fn output_nodes<B: Backend, C: CheckpointStrategy, const M: usize>(
    main: &FloatTensor<Autodiff<B, C>>,
    outs: [FloatTensor<B>; M],
    slots: &SharedSlots<B, M>,
    token: &FloatTensor<B>,
) -> [FloatTensor<Autodiff<B, C>>; M] {
    let mut index = 0;
    outs.map(|out| {
        let prep =
            <OutputBackward<M> as Backward<B, 1>>::prepare::<C>(OutputBackward, [main.node()])
                .compute_bound()
                .stateful();
        let state = OutputState {
            index,
            slots: slots.clone(),
            token: token.clone(),
        };
        index += 1;
        match prep {
            OpsKind::Tracked(prep) => prep.finish(state, out),
            OpsKind::UnTracked(_) => unreachable!("main node is tracked"),
        }
    })
}

fn vec_to_array<T, const K: usize>(v: Vec<T>) -> [T; K] {
    match v.try_into() {
        Ok(a) => a,
        Err(v) => panic!("expected {K} elements, got {}", v.len()),
    }
}
