//! Clipping by the joint norm, against the norm computed here from the
//! gradients one by one.

use burn::module::Module;
use burn::nn::{Linear, LinearConfig};
use burn::optim::GradientsParams;
use burn::tensor::{Device, Distribution, Tensor};
use recur_train::{Backend, clip_grad_norm};

#[derive(Module, Debug)]
struct TwoLayers {
    first: Linear,
    second: Linear,
}

/// Every gradient of the model, flattened and concatenated.
fn all_gradients(model: &TwoLayers, grads: &GradientsParams) -> Vec<f32> {
    let mut values = Vec::new();
    for layer in [&model.first, &model.second] {
        let weight = grads.get::<2>(layer.weight.id).unwrap();
        let bias = grads.get::<1>(layer.bias.as_ref().unwrap().id).unwrap();
        values.extend(weight.into_data().try_to_vec::<f32>().unwrap());
        values.extend(bias.into_data().try_to_vec::<f32>().unwrap());
    }
    values
}

fn norm(values: &[f32]) -> f32 {
    values.iter().map(|v| v * v).sum::<f32>().sqrt()
}

fn gradients(model: &TwoLayers, scale: f32, device: &Device) -> GradientsParams {
    let x = Tensor::<2>::random([4, 3], Distribution::Normal(0.0, 1.0), device);
    let y = model.second.forward(model.first.forward(x));
    GradientsParams::from_grads((y.sum() * scale).backward(), model)
}

#[test]
fn clip_grad_norm_scales_all_gradients_by_one_factor() {
    for backend in Backend::for_tests() {
        let device = backend.autodiff_device();
        device.seed(3);
        let model = TwoLayers {
            first: LinearConfig::new(3, 5).init(&device),
            second: LinearConfig::new(5, 2).init(&device),
        };

        let grads = gradients(&model, 10.0, &device);
        let before = all_gradients(&model, &grads);
        let norm_before = norm(&before);
        assert!(
            norm_before > 2.0,
            "{backend}: the test needs a norm well above the limit 1, got {norm_before}"
        );
        let after = all_gradients(&model, &clip_grad_norm(&model, grads, 1.0));
        assert!(
            (norm(&after) - 1.0).abs() < 1e-4,
            "{backend}: norm after clipping {}",
            norm(&after)
        );
        let factor = 1.0 / (norm_before + 1e-6);
        for (b, a) in before.iter().zip(&after) {
            assert!(
                (b * factor - a).abs() < 1e-6,
                "{backend}: {a} is not {b} times {factor}"
            );
        }

        // Within the limit, nothing changes.
        let grads = gradients(&model, 0.1, &device);
        let before = all_gradients(&model, &grads);
        let limit = norm(&before) * 2.0;
        let after = all_gradients(&model, &clip_grad_norm(&model, grads, limit));
        assert_eq!(before, after, "{backend}");
    }
}
