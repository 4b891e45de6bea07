//! Saving in PyTorch's names and layout, and loading back.

use recur_cells::{CellKind, RecurrentConfig};
use safetensors::SafeTensors;

use crate::common::{Fixture, assert_close, backends, fixture_path, normal};

/// Loading PyTorch's file and saving it again gives back every tensor, with
/// the same names, shapes and values.
#[test]
fn save_reproduces_the_torch_state_dict() {
    let device = backends()[0].device();
    let fixture = Fixture::open("lstm_l2_bi");
    let layer = RecurrentConfig::new(CellKind::Lstm, 4, 3)
        .with_num_layers(2)
        .with_bidirectional(true)
        .init(&device)
        .load_torch(&fixture.path)
        .expect("load");
    let out = std::env::temp_dir().join(format!(
        "recur-cells-save-{}.safetensors",
        std::process::id()
    ));
    layer.save_torch(&out).expect("save");

    let saved_bytes = std::fs::read(&out).expect("read back");
    let saved = SafeTensors::deserialize(&saved_bytes).expect("valid safetensors");
    let original_bytes = std::fs::read(fixture_path("lstm_l2_bi.safetensors")).expect("fixture");
    let original = SafeTensors::deserialize(&original_bytes).expect("fixture");
    let mut names = saved.names();
    names.sort();
    assert_eq!(
        names.len(),
        16,
        "2 layers x 2 directions x 4 tensors: {names:?}"
    );
    for name in names {
        let (a, b) = (
            saved.tensor(name).expect("saved"),
            original.tensor(name).expect("original"),
        );
        assert_eq!(a.shape(), b.shape(), "{name}");
        assert_eq!(a.data(), b.data(), "{name}");
    }
    std::fs::remove_file(&out).ok();
}

/// A layer saved and loaded into a fresh layer computes the same outputs, on
/// every backend.
#[test]
fn save_then_load_round_trips() {
    for backend in backends() {
        let device = backend.device();
        let config = RecurrentConfig::new(CellKind::Gru, 3, 5).with_num_layers(2);
        let layer = config.init(&device);
        let path = std::env::temp_dir().join(format!(
            "recur-cells-rt-{}-{backend}.safetensors",
            std::process::id()
        ));
        layer.save_torch(&path).expect("save");
        let loaded = config.init(&device).load_torch(&path).expect("load");
        std::fs::remove_file(&path).ok();
        let x = normal([2, 4, 3], 3, &device);
        let (a, b) = (
            layer.forward(x.clone(), None, None).expect("forward"),
            loaded.forward(x, None, None).expect("forward"),
        );
        assert_close(&format!("{backend}: round trip"), b.output, a.output);
    }
}
