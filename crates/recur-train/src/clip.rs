//! Gradient clipping by the joint norm of all gradients.
//!
//! burn's `GradientClippingConfig::Norm` clips each parameter's gradient by
//! its own norm; PyTorch's `torch.nn.utils.clip_grad_norm_`, which RNN
//! training scripts use, scales all gradients together so that their
//! concatenation has at most the given norm. The second keeps the direction
//! of the update, which is why RNN training clips that way.

use burn::module::{Module, ModuleVisitor, Param};
use burn::optim::GradientsParams;
use burn::tensor::Tensor;

/// Scales every gradient in `grads` by `min(1, max_norm / (norm + 1e-6))`,
/// where `norm` is the L2 norm of all of `module`'s gradients taken together:
/// the same rule, and the same `1e-6`, as PyTorch's `clip_grad_norm_`.
///
/// Runs on the device without reading the norm back, so it costs no
/// synchronisation. Gradients of parameters not in `module` are left alone.
pub fn clip_grad_norm<M: Module>(
    module: &M,
    mut grads: GradientsParams,
    max_norm: f32,
) -> GradientsParams {
    let mut squares = SumOfSquares {
        grads: &grads,
        total: None,
    };
    module.visit(&mut squares);
    let Some(total) = squares.total else {
        return grads;
    };
    let scale = (total.sqrt().add_scalar(1e-6).recip() * max_norm).clamp_max(1.0);
    module.visit(&mut Scale {
        grads: &mut grads,
        scale,
    });
    grads
}

/// Sums the squares of every gradient of a module into one element.
struct SumOfSquares<'a> {
    grads: &'a GradientsParams,
    total: Option<Tensor<1>>,
}

impl ModuleVisitor for SumOfSquares<'_> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        if let Some(grad) = self.grads.get::<D>(param.id) {
            let sum = grad.square().sum();
            self.total = Some(match self.total.take() {
                Some(total) => total + sum,
                None => sum,
            });
        }
    }
}

/// Multiplies every gradient of a module by a one-element scale.
struct Scale<'a> {
    grads: &'a mut GradientsParams,
    scale: Tensor<1>,
}

impl ModuleVisitor for Scale<'_> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        if let Some(grad) = self.grads.remove::<D>(param.id) {
            let scale = self.scale.clone().reshape([1; D]);
            self.grads.register(param.id, grad * scale);
        }
    }
}
