//! [`linear`]: an affine map whose products run through OpenBLAS on the CPU.
//!
//! burn's `Linear` multiplies with the backend's own matmul. On flex that is
//! the `gemm` crate, which at output-layer shapes (a few thousand rows, a
//! vocabulary of columns) ran 35-50 GFLOP/s here against OpenBLAS's 80-125
//! (docs/BENCHMARKS.md): the output layer of a language model or a
//! translation decoder is then a large part of each training step. This op
//! keeps burn's parameters and layout and moves the three products (the
//! forward, the gradients of the input and of the weight) to
//! [`host::matmul`]; on other devices it composes the backend's ops.

use burn::backend::tensor::FloatTensor;
use burn::backend::{Backend, DType, Shape, TensorMetadata};
use burn::tensor::Tensor;

use crate::fused::{self, FusedOp};
use crate::host;

/// `input · weight + bias` over the last axis of `input`: `[..., in]` with
/// `weight [in, out]` and `bias [out]` gives `[..., out]`.
///
/// `weight` and `bias` have the layout of burn's `nn::Linear`, so a model
/// keeps its `Linear` module (its initialisation, records and checkpoints)
/// and calls
/// `linear(x, layer.weight.val(), layer.bias.as_ref().map(|b| b.val()))`
/// where it called `layer.forward(x)`. The values are the same up to the
/// order of floating-point sums; gradients flow to all three arguments.
///
/// On the CPU backends (ndarray, flex) the forward and the backward's two
/// products run through OpenBLAS (the `openblas` feature, else
/// `matrixmultiply`); on a GPU through the backend's matmul. On the CPU each
/// call copies its operands, the weight included, into host buffers: next to
/// the product that costs little, except for an input of a handful of rows
/// (one decoding step of a single sentence), where copying a large weight
/// takes longer than the product itself.
pub fn linear<const D: usize>(
    input: Tensor<D>,
    weight: Tensor<2>,
    bias: Option<Tensor<1>>,
) -> Tensor<D> {
    let mut shape = input.dims();
    let [features, out] = weight.dims();
    assert_eq!(
        shape[D - 1],
        features,
        "linear: input of {} features for a weight of {features} rows",
        shape[D - 1]
    );
    let rows = shape[..D - 1].iter().product();
    let x = input.reshape([rows, features]).into_dispatch();
    let [y] = match bias {
        Some(bias) => fused::apply(&Affine, [x, weight.into_dispatch(), bias.into_dispatch()]),
        None => fused::apply(&Affine, [x, weight.into_dispatch()]),
    };
    shape[D - 1] = out;
    Tensor::<2>::from_dispatch(y).reshape(shape)
}

/// `x [rows, in] · w [in, out] (+ b [out])`: two inputs without a bias, three
/// with one.
#[derive(Clone, Debug)]
struct Affine;

/// What the backward needs: the operands of the product that gives each
/// requested gradient (`x` for the weight's, `w` for the input's).
#[derive(Clone, Debug)]
enum Saved<B: Backend> {
    Host {
        x: Option<Vec<f32>>,
        w: Option<Vec<f32>>,
        /// `[rows, in, out]`.
        dims: [usize; 3],
        device: B::Device,
        dtype: DType,
    },
    Device {
        x: FloatTensor<B>,
        w: FloatTensor<B>,
    },
}

impl<const N: usize> FusedOp<N, 1> for Affine {
    type State<B: Backend> = Saved<B>;

    fn forward<B: Backend>(
        &self,
        inputs: [FloatTensor<B>; N],
        needs: [bool; N],
    ) -> ([FloatTensor<B>; 1], Option<Saved<B>>) {
        let mut inputs = inputs.into_iter();
        let (x, w) = (inputs.next().expect("x"), inputs.next().expect("w"));
        let bias = inputs.next();
        let (shape_x, shape_w) = (x.shape(), w.shape());
        let dims = [shape_x[0], shape_x[1], shape_w[1]];
        let [rows, features, out] = dims;
        let device = x.device();
        let keep = needs.iter().any(|&n| n);
        if !host::on_cpu::<B>(&device) {
            let y = B::float_matmul(x.clone(), w.clone());
            let y = match bias {
                Some(b) => B::float_add(y, B::float_reshape(b, Shape::new([1, out]))),
                None => y,
            };
            return ([y], keep.then_some(Saved::Device { x, w }));
        }
        let dtype = x.dtype();
        let (x, w) = (host::values::<B>(x), host::values::<B>(w));
        // The bias fills the result, which the product then adds to.
        let mut y = match bias {
            Some(b) => host::values::<B>(b).repeat(rows),
            None => host::zeros(rows * out),
        };
        host::matmul(
            &mut y,
            host::view(&x, [rows, features], [features, 1]),
            host::view(&w, [features, out], [out, 1]),
            true,
        );
        let y = host::tensor::<B, 2>(y, [rows, out], dtype, &device);
        let saved = keep.then(|| Saved::Host {
            x: needs[1].then_some(x),
            w: needs[0].then_some(w),
            dims,
            device,
            dtype,
        });
        ([y], saved)
    }

    fn backward<B: Backend>(
        &self,
        saved: Saved<B>,
        [dy]: [Option<FloatTensor<B>>; 1],
        needs: [bool; N],
    ) -> [Option<FloatTensor<B>>; N] {
        let mut grads: [Option<FloatTensor<B>>; N] = std::array::from_fn(|_| None);
        let Some(dy) = dy else { return grads };
        match saved {
            Saved::Device { x, w } => {
                if N == 3 && needs[2] {
                    let out = dy.shape()[1];
                    let db = B::float_sum_dim(dy.clone(), 0);
                    grads[2] = Some(B::float_reshape(db, Shape::new([out])));
                }
                if needs[1] {
                    grads[1] = Some(B::float_matmul(B::float_transpose(x), dy.clone()));
                }
                if needs[0] {
                    grads[0] = Some(B::float_matmul(dy, B::float_transpose(w)));
                }
            }
            Saved::Host {
                x,
                w,
                dims: [rows, features, out],
                device,
                dtype,
            } => {
                let dy = host::values::<B>(dy);
                if N == 3 && needs[2] {
                    let db = host::column_sums(&dy, out);
                    grads[2] = Some(host::tensor::<B, 1>(db, [out], dtype, &device));
                }
                if let Some(x) = x {
                    // dW = xᵀ · dy.
                    let mut dw = host::zeros(features * out);
                    host::matmul(
                        &mut dw,
                        host::view(&x, [features, rows], [1, features]),
                        host::view(&dy, [rows, out], [out, 1]),
                        false,
                    );
                    grads[1] = Some(host::tensor::<B, 2>(dw, [features, out], dtype, &device));
                }
                if let Some(w) = w {
                    // dx = dy · Wᵀ.
                    let mut dx = host::zeros(rows * features);
                    host::matmul(
                        &mut dx,
                        host::view(&dy, [rows, out], [out, 1]),
                        host::view(&w, [out, features], [1, out]),
                        false,
                    );
                    grads[0] = Some(host::tensor::<B, 2>(dx, [rows, features], dtype, &device));
                }
            }
        }
        grads
    }
}
