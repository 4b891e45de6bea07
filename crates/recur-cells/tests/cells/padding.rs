//! A padded batch gives the same results as running each sequence alone.

use burn::tensor::Tensor;
use recur_cells::{CellKind, RecurrentConfig};

use crate::common::{assert_close, backends, normal};

const LENGTHS: [usize; 3] = [5, 2, 4];
const TIME: usize = 5;

#[test]
fn padded_batch_equals_sequences_alone() {
    for backend in backends() {
        let device = backend.device();
        for kind in [CellKind::RnnTanh, CellKind::Lstm, CellKind::Gru] {
            let layer = RecurrentConfig::new(kind, 3, 4)
                .with_num_layers(2)
                .with_bidirectional(true)
                .init(&device);
            // Garbage in the padding must not leak into any result.
            let mut batch = normal([LENGTHS.len(), TIME, 3], 7, &device);
            for (b, &length) in LENGTHS.iter().enumerate() {
                if length < TIME {
                    let garbage = Tensor::full([1, TIME - length, 3], 1e3, &device);
                    batch = batch.slice_assign([b..b + 1, length..TIME, 0..3], garbage);
                }
            }
            let padded = layer.forward(batch.clone(), Some(&LENGTHS), None).expect("padded");

            for (b, &length) in LENGTHS.iter().enumerate() {
                let what = format!("{backend} {kind} sequence {b}");
                let alone_input = batch.clone().slice([b..b + 1, 0..length, 0..3]);
                let alone = layer.forward(alone_input, None, None).expect("alone");
                let row = |t: Tensor<3>| t.slice([b..b + 1]);
                let padded_out = row(padded.output.clone());
                assert_close(
                    &format!("{what}: outputs"),
                    padded_out.clone().slice([0..1, 0..length]),
                    alone.output,
                );
                if length < TIME {
                    let tail = padded_out.slice([0..1, length..TIME]);
                    assert_close(&format!("{what}: zero padding"), tail.clone(), tail.zeros_like());
                }
                let state = |t: Tensor<3>| t.slice([0..4, b..b + 1]);
                assert_close(&format!("{what}: h_n"), state(padded.state.h.clone()), alone.state.h);
                if let (Some(c), Some(alone_c)) = (padded.state.c.clone(), alone.state.c) {
                    assert_close(&format!("{what}: c_n"), state(c), alone_c);
                }
            }
        }
    }
}
