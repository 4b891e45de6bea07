//! Bad input gets a clear error, not a panic inside burn.

use burn::tensor::Tensor;
use recur_cells::{CellKind, CellsError, RecurrentConfig, RecurrentState};

use crate::common::fixture_path;

#[allow(deprecated)]
fn device() -> burn::tensor::Device {
    burn::tensor::Device::ndarray()
}

#[test]
fn wrong_input_size_is_an_error() {
    let layer = RecurrentConfig::new(CellKind::Gru, 4, 3).init(&device());
    let err = layer
        .forward(Tensor::zeros([2, 5, 6], &device()), None, None)
        .unwrap_err();
    assert!(
        matches!(
            err,
            CellsError::InputSize {
                expected: 4,
                found: 6
            }
        ),
        "{err}"
    );
    assert_eq!(
        err.to_string(),
        "input has 6 features per step, but the layer expects 4"
    );
}

#[test]
fn bad_lengths_are_errors() {
    let layer = RecurrentConfig::new(CellKind::Lstm, 4, 3).init(&device());
    let x = || Tensor::zeros([2, 5, 4], &device());
    let err = layer.forward(x(), Some(&[5, 6]), None).unwrap_err();
    assert_eq!(
        err.to_string(),
        "sequence 1 has length 6, longer than the time axis (5)"
    );
    let err = layer.forward(x(), Some(&[5]), None).unwrap_err();
    assert_eq!(
        err.to_string(),
        "lengths has 1 entries, but the batch has 2 sequences"
    );
}

#[test]
fn bad_initial_states_are_errors() {
    let layer = RecurrentConfig::new(CellKind::Lstm, 4, 3)
        .with_num_layers(2)
        .init(&device());
    let x = Tensor::zeros([2, 5, 4], &device());
    let h = Tensor::zeros([1, 2, 3], &device());
    let err = layer
        .forward(
            x.clone(),
            None,
            Some(RecurrentState {
                h: h.clone(),
                c: Some(h.clone()),
            }),
        )
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "initial state `h` has shape [1, 2, 3], expected [2, 2, 3]"
    );
    let h = Tensor::zeros([2, 2, 3], &device());
    let err = layer
        .forward(x, None, Some(RecurrentState { h, c: None }))
        .unwrap_err();
    assert_eq!(err.to_string(), "initial state: an LSTM needs both h and c");
}

#[test]
fn bad_weight_files_are_errors() {
    let dir = std::env::temp_dir().join(format!("recur-cells-errors-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");

    // Missing file.
    let missing = dir.join("missing.safetensors");
    let err = RecurrentConfig::new(CellKind::Gru, 4, 3)
        .init(&device())
        .load_torch(&missing)
        .unwrap_err();
    assert!(
        err.to_string()
            .starts_with(&format!("{}: ", missing.display())),
        "{err}"
    );

    // Not safetensors.
    let garbage = dir.join("garbage.safetensors");
    std::fs::write(&garbage, b"not a tensor file").expect("write");
    let err = RecurrentConfig::new(CellKind::Gru, 4, 3)
        .init(&device())
        .load_torch(&garbage)
        .unwrap_err();
    assert!(matches!(err, CellsError::Format { .. }), "{err}");

    // A GRU's weights do not fit an LSTM: weight_ih_l0 is [9, 4], not [12, 4].
    let gru_file = fixture_path("gru_l1.safetensors");
    let err = RecurrentConfig::new(CellKind::Lstm, 4, 3)
        .init(&device())
        .load_torch(&gru_file)
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "{}: tensor `weight_ih_l0` is F32 [9, 4], expected F32 [12, 4]",
            gru_file.display()
        )
    );

    // A two-layer layer needs weights the one-layer file lacks.
    let err = RecurrentConfig::new(CellKind::Gru, 4, 3)
        .with_num_layers(2)
        .init(&device())
        .load_torch(&gru_file)
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("{}: missing tensor `weight_ih_l1`", gru_file.display())
    );
    std::fs::remove_dir_all(&dir).ok();
}
