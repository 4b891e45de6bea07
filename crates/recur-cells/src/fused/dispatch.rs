//! [`apply`]: a [`FusedOp`] on burn's dispatch tensors, routed to the
//! concrete backend they live on (ndarray, flex, CubeCL), through autodiff
//! when their context has it.

#[cfg(feature = "wgpu")]
use burn::backend::Cube;
use burn::backend::autodiff::checkpoint::strategy::{
    BalancedCheckpointing, CheckpointStrategy, NoCheckpointing,
};
use burn::backend::tensor::FloatTensor;
#[allow(deprecated)] // NdArray
use burn::backend::{
    Autodiff, AutodiffBackend, Backend, BackendTensor, DispatchAutodiffContext,
    DispatchKindConversion, DispatchTensor, DispatchTensorKind, Flex,
    GradientCheckpointingStrategy, NdArray, TensorMetadata,
};

use super::autodiff::{run_autodiff, run_plain};
use super::op::FusedOp;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Which {
    NdArray,
    Flex,
    #[cfg(feature = "wgpu")]
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
        #[cfg(feature = "wgpu")]
        DispatchTensorKind::Cube(_) => Which::Cube,
        _ => panic!(
            "fused op: unsupported backend for tensor on {:?} (a GPU tensor needs \
             recur-cells' `wgpu` feature)",
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
        #[cfg(feature = "wgpu")]
        Which::Cube => route_backend::<Cube, Op, N, M>(op, inputs, ctx),
    }
}
