//! Shared test helpers: backends, fixtures and tolerant comparison.

use std::path::PathBuf;

use burn::tensor::{Device, Tensor, TensorData};
use recur_train::Backend;
use safetensors::SafeTensors;

/// The backends every test runs on (`RECUR_TEST_BACKENDS`).
pub fn backends() -> Vec<Backend> {
    Backend::for_tests()
}

/// Path of a committed fixture file.
pub fn fixture_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// A PyTorch reference case written by `tests/fixtures/generate.py`.
pub struct Fixture {
    pub path: PathBuf,
    bytes: Vec<u8>,
}

impl Fixture {
    pub fn open(name: &str) -> Self {
        let path = fixture_path(&format!("{name}.safetensors"));
        let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        Fixture { path, bytes }
    }

    fn file(&self) -> SafeTensors<'_> {
        SafeTensors::deserialize(&self.bytes).expect("fixture is safetensors")
    }

    pub fn has(&self, name: &str) -> bool {
        self.file().tensor(name).is_ok()
    }

    pub fn metadata(&self, key: &str) -> String {
        let (_, metadata) = SafeTensors::read_metadata(&self.bytes).expect("fixture header");
        metadata
            .metadata()
            .as_ref()
            .and_then(|m| m.get(key).cloned())
            .unwrap_or_else(|| panic!("fixture has no metadata `{key}`"))
    }

    pub fn float<const D: usize>(&self, name: &str, device: &Device) -> Tensor<D> {
        let file = self.file();
        let view = file
            .tensor(name)
            .unwrap_or_else(|_| panic!("fixture has no `{name}`"));
        let values: Vec<f32> = view
            .data()
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect();
        Tensor::from_data(TensorData::new(values, view.shape().to_vec()), device)
    }

    pub fn lengths(&self) -> Vec<usize> {
        let file = self.file();
        let view = file.tensor("lengths").expect("fixture has lengths");
        view.data()
            .chunks_exact(8)
            .map(|b| i64::from_le_bytes(b.try_into().expect("8 bytes")) as usize)
            .collect()
    }
}

/// Asserts `|actual - expected| <= 1e-4 * |expected| + 1e-5` elementwise.
pub fn assert_close<const D: usize>(what: &str, actual: Tensor<D>, expected: Tensor<D>) {
    assert_close_tol(what, actual, expected, 1e-4, 1e-5);
}

/// Asserts `|actual - expected| <= rtol * |expected| + atol` elementwise.
pub fn assert_close_tol<const D: usize>(
    what: &str,
    actual: Tensor<D>,
    expected: Tensor<D>,
    rtol: f32,
    atol: f32,
) {
    assert_eq!(actual.dims(), expected.dims(), "{what}: shape");
    let a = actual.into_data().try_to_vec::<f32>().expect("f32 data");
    let e = expected.into_data().try_to_vec::<f32>().expect("f32 data");
    let worst = a
        .iter()
        .zip(&e)
        .enumerate()
        .map(|(i, (a, e))| (i, (a - e).abs() - rtol * e.abs()))
        .fold(
            (0, f32::NEG_INFINITY),
            |best, x| if x.1 > best.1 { x } else { best },
        );
    assert!(
        a.iter().all(|v| v.is_finite()) && worst.1 <= atol,
        "{what}: element {} is {} but expected {} (rtol {rtol}, atol {atol})",
        worst.0,
        a[worst.0],
        e[worst.0]
    );
}

/// Sum of all elements as a host number.
pub fn scalar(t: Tensor<1>) -> f64 {
    t.into_data().try_to_vec::<f32>().expect("f32")[0] as f64
}

/// A random normal tensor from a seed, reproducible on every backend.
pub fn normal<const D: usize>(shape: [usize; D], seed: u64, device: &Device) -> Tensor<D> {
    // A small linear congruential generator with Box-Muller, so the values do
    // not depend on a backend's random number generator.
    let mut state = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    let mut uniform = move || {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((state >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    };
    let count: usize = shape.iter().product();
    let values: Vec<f32> = (0..count)
        .map(|_| {
            let (u, v) = (uniform(), uniform());
            ((-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos()) as f32
        })
        .collect();
    Tensor::from_data(TensorData::new(values, shape), device)
}
