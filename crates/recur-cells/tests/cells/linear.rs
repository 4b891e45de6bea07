//! `recur_cells::linear` computes what burn's `nn::Linear` computes, with the
//! same gradients, on every test backend (on the CPU ones through
//! OpenBLAS, elsewhere through the backend's matmul).

use burn::module::{Module, Param};
use burn::nn::{Linear, LinearConfig};
use burn::tensor::Tensor;
use recur_cells::linear;

use crate::common::{assert_close, backends, normal};

#[test]
fn linear_matches_burn_linear_and_its_gradients() {
    for backend in backends() {
        let device = backend.autodiff_device();
        for bias in [true, false] {
            let layer: Linear = LinearConfig::new(5, 7).with_bias(bias).init(&device);
            // A 3-d input with a padded-looking shape, and a weighted loss so
            // that every output element has its own gradient.
            let input = normal::<3>([2, 3, 5], 1, &device).require_grad();
            let weights = normal::<3>([2, 3, 7], 2, &device);
            let loss = |y: Tensor<3>| (y * weights.clone()).sum();

            let ours = linear(
                input.clone(),
                layer.weight.val(),
                layer.bias.as_ref().map(Param::val),
            );
            let theirs = layer.forward(input.clone());
            assert_close(
                &format!("{backend} bias {bias}: output"),
                ours.clone(),
                theirs.clone(),
            );

            let (ours, theirs) = (loss(ours).backward(), loss(theirs).backward());
            let what = |name: &str| format!("{backend} bias {bias}: gradient of {name}");
            assert_close(
                &what("the input"),
                input.grad(&ours).unwrap(),
                input.grad(&theirs).unwrap(),
            );
            assert_close(
                &what("the weight"),
                layer.weight.grad(&ours).unwrap(),
                layer.weight.grad(&theirs).unwrap(),
            );
            if let Some(b) = &layer.bias {
                assert_close(
                    &what("the bias"),
                    b.grad(&ours).unwrap(),
                    b.grad(&theirs).unwrap(),
                );
            }

            // Without autodiff (inference) too.
            let plain = layer.valid();
            let input = input.inner();
            assert_close(
                &format!("{backend} bias {bias}: output without autodiff"),
                linear(
                    input.clone(),
                    plain.weight.val(),
                    plain.bias.as_ref().map(Param::val),
                ),
                plain.forward(input),
            );
        }
    }
}
