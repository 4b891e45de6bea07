//! Fused operations: a forward written once with a backend's
//! primitive float ops (no autodiff bookkeeping inside), backward written by
//! hand, usable from the high-level `Tensor<D>` API on every dispatch backend,
//! with or without autodiff, with N inputs and M outputs.

use std::fmt::Debug;
use std::sync::{Arc, Mutex};

use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::{
    BalancedCheckpointing, CheckpointStrategy, NoCheckpointing,
};
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::tensor::FloatTensor;
#[allow(deprecated)] // NdArray
use burn::backend::{
    Autodiff, AutodiffBackend, Backend, BackendTensor, Cube, DType, DispatchAutodiffContext,
    DispatchKindConversion, DispatchTensor, DispatchTensorKind, Flex,
    GradientCheckpointingStrategy, NdArray, Shape, TensorMetadata,
};

/// An op with `N` float inputs and `M` float outputs whose backward is hand-written.
///
/// Both methods are generic over the *inner* (non-autodiff) backend `B`: they only see plain
/// primitives (`B::FloatTensorPrimitive`) and use `B::float_*` ops, so no autodiff graph is
/// recorded for anything they do.
pub trait FusedOp<const N: usize, const M: usize>: Clone + Send + Sync + Debug + 'static {
    /// What the forward saves for the backward (primitives are cheap, ref-counted clones).
    type State<B: Backend>: Clone + Send + Debug + 'static;

    /// Forward pass. `needs[i]` says whether input `i` will need a gradient; when all are
    /// false (plain device, or no input tracked) return `None` and save nothing.
    fn forward<B: Backend>(
        &self,
        inputs: [FloatTensor<B>; N],
        needs: [bool; N],
    ) -> ([FloatTensor<B>; M], Option<Self::State<B>>);

    /// Backward pass. `grads[j]` is dL/d(output j), `None` when output j did not reach the
    /// loss (treat as zero). Return dL/d(input i) for every `needs[i]` (others may be `None`).
    fn backward<B: Backend>(
        &self,
        state: Self::State<B>,
        grads: [Option<FloatTensor<B>>; M],
        needs: [bool; N],
    ) -> [Option<FloatTensor<B>>; N];
}

// ---------------------------------------------------------------------------------------------
// Autodiff integration
// ---------------------------------------------------------------------------------------------

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

fn run_plain<B: Backend, Op: FusedOp<N, M>, const N: usize, const M: usize>(
    op: &Op,
    inputs: [FloatTensor<B>; N],
) -> [FloatTensor<B>; M] {
    op.forward::<B>(inputs, [false; N]).0
}

fn run_autodiff<B, C, Op, const N: usize, const M: usize>(
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
                let mut index = 0;
                outs.map(|out| {
                    let prep = <OutputBackward<M> as Backward<B, 1>>::prepare::<C>(
                        OutputBackward,
                        [main.node()],
                    )
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
        }
    }
}

fn vec_to_array<T, const K: usize>(v: Vec<T>) -> [T; K] {
    match v.try_into() {
        Ok(a) => a,
        Err(v) => panic!("expected {K} elements, got {}", v.len()),
    }
}

// ---------------------------------------------------------------------------------------------
// Dispatch routing: DispatchTensor -> concrete backend primitive -> DispatchTensor
// ---------------------------------------------------------------------------------------------

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Which {
    NdArray,
    Flex,
    Cube,
}

fn which(t: &DispatchTensor) -> Which {
    let kind = match &t.kind {
        DispatchTensorKind::Autodiff(inner) => &**inner,
        k => k,
    };
    #[allow(unreachable_patterns)]
    match kind {
        DispatchTensorKind::NdArray(_) => Which::NdArray,
        DispatchTensorKind::Flex(_) => Which::Flex,
        DispatchTensorKind::Cube(_) => Which::Cube,
        _ => panic!(
            "fused op: unsupported backend for tensor on {:?}",
            t.device()
        ),
    }
}

fn plain_prim<B: Backend>(t: DispatchTensor) -> FloatTensor<B>
where
    DispatchTensor: DispatchKindConversion<B>,
{
    match <DispatchTensor as DispatchKindConversion<B>>::try_into_backend(t) {
        Ok(BackendTensor::Float(p)) => p,
        Ok(other) => panic!("fused op: expected a float tensor, got {}", other.name()),
        Err(e) => panic!("fused op: {e}"),
    }
}

fn ad_prim<B: Backend, C: CheckpointStrategy>(t: DispatchTensor) -> FloatTensor<Autodiff<B, C>>
where
    DispatchTensor: DispatchKindConversion<B> + DispatchKindConversion<Autodiff<B, C>>,
{
    if t.autodiff == DispatchAutodiffContext::Disabled {
        // A tensor from a non-autodiff device mixed with autodiff ones: constant (like burn).
        return <Autodiff<B, C> as AutodiffBackend>::from_inner(plain_prim::<B>(t));
    }
    match <DispatchTensor as DispatchKindConversion<Autodiff<B, C>>>::try_into_backend(t) {
        Ok(BackendTensor::Float(p)) => p,
        Ok(other) => panic!("fused op: expected a float tensor, got {}", other.name()),
        Err(e) => panic!("fused op: {e}"),
    }
}

fn to_dispatch<B: Backend>(p: FloatTensor<B>) -> DispatchTensor
where
    DispatchTensor: DispatchKindConversion<B>,
{
    <DispatchTensor as DispatchKindConversion<B>>::from_backend(BackendTensor::Float(p))
}

fn route_plain<B: Backend, Op: FusedOp<N, M>, const N: usize, const M: usize>(
    op: &Op,
    inputs: [DispatchTensor; N],
) -> [DispatchTensor; M]
where
    DispatchTensor: DispatchKindConversion<B>,
{
    run_plain::<B, Op, N, M>(op, inputs.map(plain_prim::<B>)).map(to_dispatch::<B>)
}

fn route_ad<B: Backend, C: CheckpointStrategy, Op: FusedOp<N, M>, const N: usize, const M: usize>(
    op: &Op,
    inputs: [DispatchTensor; N],
) -> [DispatchTensor; M]
where
    DispatchTensor: DispatchKindConversion<B> + DispatchKindConversion<Autodiff<B, C>>,
{
    run_autodiff::<B, C, Op, N, M>(op, inputs.map(ad_prim::<B, C>))
        .map(to_dispatch::<Autodiff<B, C>>)
}

fn route_backend<B: Backend, Op: FusedOp<N, M>, const N: usize, const M: usize>(
    op: &Op,
    inputs: [DispatchTensor; N],
    ctx: DispatchAutodiffContext,
) -> [DispatchTensor; M]
where
    DispatchTensor: DispatchKindConversion<B>
        + DispatchKindConversion<Autodiff<B, NoCheckpointing>>
        + DispatchKindConversion<Autodiff<B, BalancedCheckpointing>>,
{
    match ctx {
        DispatchAutodiffContext::Disabled => route_plain::<B, Op, N, M>(op, inputs),
        DispatchAutodiffContext::Enabled(GradientCheckpointingStrategy::Disabled) => {
            route_ad::<B, NoCheckpointing, Op, N, M>(op, inputs)
        }
        DispatchAutodiffContext::Enabled(GradientCheckpointingStrategy::Balanced) => {
            route_ad::<B, BalancedCheckpointing, Op, N, M>(op, inputs)
        }
    }
}

/// Run a fused op on dispatch tensors (use `Tensor::into_dispatch` / `Tensor::from_dispatch`).
pub fn apply<Op: FusedOp<N, M>, const N: usize, const M: usize>(
    op: &Op,
    inputs: [DispatchTensor; N],
) -> [DispatchTensor; M] {
    assert!(N > 0 && M > 0);
    // Merge autodiff contexts like burn does: disabled inputs are constants.
    let mut ctx = DispatchAutodiffContext::Disabled;
    for t in &inputs {
        match (ctx, t.autodiff) {
            (_, DispatchAutodiffContext::Disabled) => {}
            (DispatchAutodiffContext::Disabled, c) => ctx = c,
            (a, b) => assert_eq!(a, b, "fused op: gradient checkpointing strategy mismatch"),
        }
    }
    let backend = which(&inputs[0]);
    for t in &inputs[1..] {
        assert_eq!(
            which(t),
            backend,
            "fused op: inputs live on different backends"
        );
    }
    match backend {
        #[allow(deprecated)]
        Which::NdArray => route_backend::<NdArray, Op, N, M>(op, inputs, ctx),
        Which::Flex => route_backend::<Flex, Op, N, M>(op, inputs, ctx),
        Which::Cube => route_backend::<Cube, Op, N, M>(op, inputs, ctx),
    }
}
