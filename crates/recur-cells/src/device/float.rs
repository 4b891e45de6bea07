//! [`Float`]: a backend's float tensor with arithmetic operators, so that the
//! device path's equations read as equations; [`Activations`]: how it
//! computes sigmoid and tanh; and the layout helpers around them.

use std::ops::{Add, Mul, Sub};

use burn::backend::tensor::FloatTensor;
use burn::backend::{Backend, Shape, Slice, TensorMetadata};

use crate::host;

/// A float tensor primitive of backend `B`. Each operator is one backend op
/// on the operands it takes by value (broadcasting as the backend does);
/// `clone` copies a reference, not the values.
#[derive(Clone, Debug)]
pub(super) struct Float<B: Backend>(pub FloatTensor<B>);

impl<B: Backend> Add for Float<B> {
    type Output = Self;
    fn add(self, rhs: Self) -> Self {
        Float(B::float_add(self.0, rhs.0))
    }
}

impl<B: Backend> Sub for Float<B> {
    type Output = Self;
    fn sub(self, rhs: Self) -> Self {
        Float(B::float_sub(self.0, rhs.0))
    }
}

impl<B: Backend> Mul for Float<B> {
    type Output = Self;
    fn mul(self, rhs: Self) -> Self {
        Float(B::float_mul(self.0, rhs.0))
    }
}

/// `s - x`, as `-x + s` (so `1.0 - z` is two ops, as it always was here).
impl<B: Backend> Sub<Float<B>> for f32 {
    type Output = Float<B>;
    fn sub(self, rhs: Float<B>) -> Float<B> {
        Float(B::float_add_scalar(B::float_neg(rhs.0), self.into()))
    }
}

impl<B: Backend> Float<B> {
    /// Rows `start..start + len` of a `[features, batch]` tensor.
    pub fn rows(&self, start: usize, len: usize) -> Self {
        Float(B::float_slice(
            self.0.clone(),
            &[Slice::new(start as isize, Some((start + len) as isize), 1)],
        ))
    }

    /// Time step `t` of a feature-major sequence `[time, features, batch]`,
    /// as `[features, batch]`.
    pub fn time_step(&self, t: usize) -> Self {
        let [_, features, batch] = self.dims3();
        let step = B::float_slice(
            self.0.clone(),
            &[Slice::new(t as isize, Some(t as isize + 1), 1)],
        );
        Float(step).reshape([features, batch])
    }

    /// The matrix product `self · rhs`.
    pub fn matmul(self, rhs: Self) -> Self {
        Float(B::float_matmul(self.0, rhs.0))
    }

    /// `max(self, 0)`.
    pub fn relu(self) -> Self {
        Float(B::relu(self.0))
    }

    /// `grad` through the ReLU whose output is `self`.
    pub fn relu_backward(self, grad: Self) -> Self {
        Float(B::relu_backward(self.0, grad.0))
    }

    /// `grad · σ'`, for the sigmoid whose output is `self`: `grad · y(1-y)`.
    pub fn sigmoid_backward(self, grad: Self) -> Self {
        Float(B::sigmoid_backward(self.0, grad.0))
    }

    /// The tensors concatenated along `dim`.
    pub fn cat(parts: Vec<Self>, dim: usize) -> Self {
        Float(B::float_cat(parts.into_iter().map(|p| p.0).collect(), dim))
    }

    /// The same values with `shape` (a view when contiguous).
    pub fn reshape<const D: usize>(self, shape: [usize; D]) -> Self {
        Float(B::float_reshape(self.0, Shape::new(shape)))
    }

    /// The first two dimensions.
    pub fn dims2(&self) -> [usize; 2] {
        let shape = self.0.shape();
        [shape[0], shape[1]]
    }

    /// The first three dimensions.
    pub fn dims3(&self) -> [usize; 3] {
        let shape = self.0.shape();
        [shape[0], shape[1], shape[2]]
    }

    /// Laid out contiguously with `shape` (a copy when a strided view, such
    /// as a permutation).
    pub fn contiguous<const D: usize>(self, shape: [usize; D]) -> Self {
        let flat = B::float_reshape(self.0, Shape::new([shape.iter().product()]));
        Float(B::float_reshape(flat, Shape::new(shape)))
    }

    /// The axes in the order `axes`, laid out contiguously.
    pub fn permuted<const D: usize>(self, axes: [usize; D]) -> Self {
        let dims = self.0.shape();
        let shape = axes.map(|axis| dims[axis]);
        Float(B::float_permute(self.0, &axes)).contiguous(shape)
    }

    /// The contiguous transpose of a 2-d tensor.
    pub fn transposed(self) -> Self {
        let [rows, cols] = self.dims2();
        Float(B::float_transpose(self.0)).contiguous([cols, rows])
    }

    /// A 2-d tensor's transpose (a view).
    pub fn t(self) -> Self {
        Float(B::float_transpose(self.0))
    }

    /// The sums along `dim`, which is dropped: `[n, m]` gives `[m]` for
    /// `dim` 0 and `[n]` for 1.
    pub fn sum_dim(self, dim: usize) -> Self {
        let [rows, cols] = self.dims2();
        let summed = Float(B::float_sum_dim(self.0, dim));
        summed.reshape([if dim == 0 { cols } else { rows }])
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
pub(super) struct Activations {
    via_exp: bool,
}

impl Activations {
    pub fn for_backend<B: Backend>(device: &B::Device) -> Self {
        Activations {
            via_exp: host::on_cpu::<B>(device),
        }
    }

    pub fn sigmoid<B: Backend>(&self, x: Float<B>) -> Float<B> {
        Float(if self.via_exp {
            B::float_recip(B::float_add_scalar(
                B::float_exp(B::float_neg(x.0)),
                1.0.into(),
            ))
        } else {
            B::sigmoid(x.0)
        })
    }

    pub fn tanh<B: Backend>(&self, x: Float<B>) -> Float<B> {
        if self.via_exp {
            // tanh(x) = 2σ(2x) - 1
            let sig = self.sigmoid::<B>(Float(B::float_mul_scalar(x.0, 2.0.into())));
            Float(B::float_add_scalar(
                B::float_mul_scalar(sig.0, 2.0.into()),
                (-1.0).into(),
            ))
        } else {
            Float(B::float_tanh(x.0))
        }
    }
}
