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
            let padded = layer
                .forward(batch.clone(), Some(&LENGTHS), None)
                .expect("padded");

            for (b, &length) in LENGTHS.iter().enumerate() {
                let what = format!("{backend} {kind} sequence {b}");
                let alone_input = batch.clone().slice([b..b + 1, 0..length, 0..3]);
                let alone = layer.forward(alone_input, None, None).expect("alone");
                let row = |t: Tensor<3>| t.narrow(0, b, 1);
                let padded_out = row(padded.output.clone());
                assert_close(
                    &format!("{what}: outputs"),
                    padded_out.clone().slice([0..1, 0..length]),
                    alone.output,
                );
                if length < TIME {
                    let tail = padded_out.slice([0..1, length..TIME]);
                    assert_close(
                        &format!("{what}: zero padding"),
                        tail.clone(),
                        tail.zeros_like(),
                    );
                }
                let state = |t: Tensor<3>| t.slice([0..4, b..b + 1]);
                assert_close(
                    &format!("{what}: h_n"),
                    state(padded.state.h.clone()),
                    alone.state.h,
                );
                if let (Some(c), Some(alone_c)) = (padded.state.c.clone(), alone.state.c) {
                    assert_close(&format!("{what}: c_n"), state(c), alone_c);
                }
            }
        }
    }
}

/// Stepping a cell by hand (as a decoder does) gives what the sequence layer
/// gives, outputs and final state alike.
#[test]
fn cell_steps_equal_the_sequence_layer() {
    for backend in backends() {
        let device = backend.device();
        for kind in [CellKind::RnnRelu, CellKind::Lstm, CellKind::Gru] {
            let layer = RecurrentConfig::new(kind, 3, 4).init(&device);
            let input = normal([2, TIME, 3], 11, &device);
            let whole = layer.forward(input.clone(), None, None).expect("forward");
            let cell = &layer.cells[0];
            let mut state = cell.zero_state(2, &device);
            for t in 0..TIME {
                state = cell.step(input.clone().slice([0..2, t..t + 1]).reshape([2, 3]), state);
                let expected = whole.output.clone().slice([0..2, t..t + 1]).reshape([2, 4]);
                assert_close(
                    &format!("{backend} {kind}: step {t}"),
                    state.h.clone(),
                    expected,
                );
            }
            if let (Some(c), Some(expected)) = (state.c, whole.state.c) {
                assert_close(
                    &format!("{backend} {kind}: final c"),
                    c,
                    expected.reshape([2, 4]),
                );
            }
        }
    }
}

/// Dropout between layers acts while training (autodiff device) and not in
/// a model made for inference with `valid()`.
#[test]
fn dropout_acts_only_in_training() {
    use burn::module::Module;
    let device = backends()[0].device().autodiff();
    let layer = RecurrentConfig::new(CellKind::Gru, 3, 8)
        .with_num_layers(2)
        .with_dropout(0.5)
        .init(&device);
    let input = normal([4, TIME, 3], 12, &device);
    let run = |l: &recur_cells::Recurrent| {
        l.forward(input.clone(), None, None)
            .expect("forward")
            .output
    };
    let (a, b) = (run(&layer), run(&layer));
    let differs = (a - b).abs().max().into_scalar::<f32>() > 1e-6;
    assert!(differs, "two training passes should drop different units");
    let inference = layer.valid();
    assert_close(
        "inference is deterministic",
        run(&inference),
        run(&inference),
    );
}

/// Gradients flow through a hand-stepped cell as through the sequence
/// layer: to every input step (the first one too, as a captioning decoder
/// needs for its image) and to every weight.
#[test]
fn cell_steps_backpropagate_like_the_sequence_layer() {
    for backend in backends() {
        let device = backend.autodiff_device();
        for kind in [CellKind::RnnTanh, CellKind::Lstm, CellKind::Gru] {
            let layer = RecurrentConfig::new(kind, 3, 4).init(&device);
            let input = normal([2, TIME, 3], 13, &device);
            let weights = normal([2, 4], 17, &device);

            let whole_input = input.clone().require_grad();
            let whole = layer
                .forward(whole_input.clone(), None, None)
                .expect("forward");
            let last = whole.output.slice([0..2, TIME - 1..TIME]).reshape([2, 4]);
            let grads = (last * weights.clone()).sum().backward();
            let expected_input = whole_input.grad(&grads).expect("input gradient");
            let expected_weight = layer.cells[0].weight_hh.val().grad(&grads).expect("weight");

            let step_input = input.require_grad();
            let cell = &layer.cells[0];
            let mut state = cell.zero_state(2, &device);
            for t in 0..TIME {
                let x = step_input.clone().slice([0..2, t..t + 1]).reshape([2, 3]);
                state = cell.step(x, state);
            }
            let grads = (state.h * weights).sum().backward();
            let what = format!("{backend} {kind}: stepped");
            assert_close(
                &format!("{what} input gradient"),
                step_input.grad(&grads).expect("input gradient"),
                expected_input,
            );
            assert_close(
                &format!("{what} weight_hh gradient"),
                cell.weight_hh.val().grad(&grads).expect("weight"),
                expected_weight,
            );
        }
    }
}
