//! The network against the PyTorch reference (`tests/fixtures/generate.py`)
//! on three real photos, on every test backend (on wgpu through Mesa's
//! software driver the three photos take about 8 s).

use std::path::{Path, PathBuf};

use burn::tensor::{Device, Tensor};
use recur_train::Backend;
use recur_vision::{EfficientNetLite0, EfficientNetLite0Config, load_images};
use serde::Deserialize;

#[derive(Deserialize)]
struct Expected {
    images: Vec<ExpectedImage>,
}

#[derive(Deserialize)]
struct ExpectedImage {
    image: String,
    top5: Vec<usize>,
    top5_logits: Vec<f32>,
    first_logits: Vec<f32>,
    first_features: Vec<f32>,
    grid_shape: Vec<usize>,
}

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// The fetched weights; the test fails (not skips) without them.
fn weights() -> PathBuf {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../datasets/cache/efficientnet-lite0/efficientnet-lite0.pth");
    assert!(
        path.is_file(),
        "{} is missing: run `cargo xtask data fetch efficientnet-lite0` first",
        path.display()
    );
    path
}

fn values(tensor: Tensor<2>) -> Vec<f32> {
    tensor.into_data().try_to_vec::<f32>().unwrap()
}

#[test]
fn logits_and_features_match_pytorch() {
    let expected: Expected =
        serde_json::from_str(&std::fs::read_to_string(fixtures().join("expected.json")).unwrap())
            .unwrap();
    let weights = weights();
    for backend in Backend::for_tests() {
        let device = backend.device();
        let net = EfficientNetLite0::load(&weights, &device).unwrap();
        let cases = &expected.images;
        let paths: Vec<PathBuf> = cases.iter().map(|c| fixtures().join(&c.image)).collect();
        let features = net.features(load_images(&paths, &device).unwrap());
        assert_eq!(
            features.grid.dims()[1..],
            cases[0].grid_shape[..],
            "{backend}"
        );
        let logits = net.classify(features.pooled.clone());
        let [n, classes] = logits.dims();
        assert_eq!((n, classes), (cases.len(), 1000), "{backend}");
        let logits = values(logits);
        let pooled = values(features.pooled);
        for (i, case) in cases.iter().enumerate() {
            let row = &logits[i * classes..(i + 1) * classes];
            let what = format!("{backend}, {}", case.image);
            let top1 = (0..classes)
                .max_by(|&a, &b| row[a].total_cmp(&row[b]))
                .unwrap();
            assert_eq!(top1, case.top5[0], "{what}: top-1 class");
            for (&class, &logit) in case.top5.iter().zip(&case.top5_logits) {
                assert_close(row[class], logit, &format!("{what}: logit {class}"));
            }
            for (k, &logit) in case.first_logits.iter().enumerate() {
                assert_close(row[k], logit, &format!("{what}: logit {k}"));
            }
            for (k, &value) in case.first_features.iter().enumerate() {
                assert_close(pooled[i * 1280 + k], value, &format!("{what}: feature {k}"));
            }
        }
    }
}

/// float32 through 50 layers in a different order of summation than
/// PyTorch: a few thousandths on logits of size ~10.
fn assert_close(actual: f32, expected: f32, what: &str) {
    let tolerance = 2e-3 + 2e-3 * expected.abs();
    assert!(
        (actual - expected).abs() <= tolerance,
        "{what}: {actual} vs PyTorch {expected}"
    );
}

#[test]
fn known_photos_get_their_imagenet_classes() {
    // What the reference says, checked against ImageNet's class list so a
    // regenerated expected.json cannot drift to nonsense unnoticed:
    // 281-285 are domestic cats (285 Egyptian cat), 967 is espresso.
    let expected: Expected =
        serde_json::from_str(&std::fs::read_to_string(fixtures().join("expected.json")).unwrap())
            .unwrap();
    let top1 = |name: &str| {
        expected
            .images
            .iter()
            .find(|c| c.image == name)
            .map(|c| c.top5[0])
    };
    assert!(matches!(top1("chelsea.png"), Some(281..=285)));
    assert_eq!(top1("coffee.png"), Some(967));
}

#[test]
fn untrained_network_has_the_documented_shapes() {
    for backend in Backend::for_tests() {
        let device: Device = backend.device();
        let net = EfficientNetLite0Config::new()
            .with_num_classes(10)
            .init(&device);
        // 100x60 is not a multiple of 32: "SAME" padding rounds up.
        let features = net.features(Tensor::zeros([2, 3, 100, 60], &device));
        assert_eq!(features.grid.dims(), [2, 1280, 4, 2], "{backend}");
        assert_eq!(features.pooled.dims(), [2, 1280], "{backend}");
        assert_eq!(net.classify(features.pooled).dims(), [2, 10], "{backend}");
    }
}

#[test]
fn missing_weights_file_is_an_error_naming_it() {
    #[allow(deprecated)]
    let device = Device::ndarray();
    let error = EfficientNetLite0::load("no/such/weights.pth", &device).unwrap_err();
    assert!(error.to_string().contains("no/such/weights.pth"), "{error}");
}
