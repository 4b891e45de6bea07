//! The whole machine: shapes, normalised weightings, every controller and
//! memory initialisation, no NaN at extremes, configuration errors.

use burn::module::{Module, Param};
use burn::tensor::Tensor;
use recur_ntm::{
    ControllerKind, LstmBaselineConfig, MemoryInit, NtmConfig, NtmError, Task, TaskConfig, loss,
};

use crate::common::{assert_rows_sum_to_one, backends, tensor, uniform, values};

fn tiny(input: usize, output: usize) -> NtmConfig {
    NtmConfig::new(input, output)
        .with_controller_size(8)
        .with_memory_rows(6)
        .with_memory_width(4)
}

#[test]
fn every_kind_of_machine_runs_with_normalised_weightings() {
    for backend in backends() {
        let device = backend.device();
        let (batch, time, input, output) = (2, 5, 3, 2);
        let x = tensor(
            &uniform(batch * time * input, 1),
            [batch, time, input],
            &device,
        );
        let configs = [
            tiny(input, output),
            tiny(input, output)
                .with_controller(ControllerKind::FeedForward)
                .with_memory_init(MemoryInit::Learned),
            tiny(input, output)
                .with_read_heads(2)
                .with_write_heads(2)
                .with_shift_range(2),
        ];
        for config in configs {
            let ntm = config.init(&device).unwrap();
            let trace = ntm.trace(x.clone()).unwrap();
            let what = format!("{backend} {config}");
            assert_eq!(trace.logits.dims(), [batch, time, output], "{what}");
            let reads = config.read_heads;
            assert_eq!(
                trace.read_weightings.dims(),
                [batch, time, reads, 6],
                "{what}"
            );
            let writes = config.write_heads;
            assert_eq!(
                trace.write_weightings.dims(),
                [batch, time, writes, 6],
                "{what}"
            );
            assert_rows_sum_to_one(&what, &values(trace.read_weightings), 6);
            assert_rows_sum_to_one(&what, &values(trace.write_weightings), 6);
            assert!(values(trace.logits).iter().all(|v| v.is_finite()), "{what}");
        }
    }
}

#[test]
fn extreme_controller_outputs_and_zero_memory_stay_finite() {
    for backend in backends() {
        let device = backend.device().autodiff();
        let task = TaskConfig::paper(Task::Copy);
        let mut ntm = tiny(task.input_size(), task.output_size())
            .with_memory_constant(0.0)
            .init(&device)
            .unwrap();
        // Head parameters in the thousands: every activation saturates.
        let weight = ntm.heads.params.weight.val();
        let huge = tensor(
            &uniform(weight.dims().iter().product(), 7),
            weight.dims(),
            &device,
        )
        .mul_scalar(1e4);
        ntm.heads.params.weight = Param::from_tensor(huge);
        let batch = task
            .generate(2, 4, 1, &mut recur_data::SplitMix64::new(2))
            .unwrap();
        let logits = batch.answer(ntm.forward(batch.input_tensor(&device)).unwrap());
        let cost = loss::binary_cross_entropy(logits, batch.target_tensor(&device));
        assert!(
            values(cost.clone()).iter().all(|v| v.is_finite()),
            "{backend} loss"
        );
        let grads = cost.backward();
        let weight: Tensor<2> = match &ntm.controller {
            recur_ntm::Controller::Lstm(cell) => cell.weight_ih.val(),
            recur_ntm::Controller::FeedForward(linear) => linear.weight.val(),
        };
        let grad = values(weight.grad(&grads).unwrap());
        assert!(grad.iter().all(|v| v.is_finite()), "{backend} gradient");
    }
}

#[test]
fn the_lstm_baseline_maps_sequences_to_logits() {
    for backend in backends() {
        let device = backend.device();
        let lstm = LstmBaselineConfig::new(3, 2)
            .with_hidden_size(5)
            .with_layers(2)
            .init(&device)
            .unwrap();
        let x = tensor(&uniform(2 * 4 * 3, 3), [2, 4, 3], &device);
        assert_eq!(lstm.forward(x).unwrap().dims(), [2, 4, 2], "{backend}");
        assert!(lstm.num_params() > 0);
    }
}

#[test]
fn bad_configurations_and_inputs_are_errors() {
    #[allow(deprecated)]
    let device = burn::tensor::Device::ndarray();
    let err = |config: NtmConfig| config.init(&device).unwrap_err().to_string();
    assert_eq!(
        err(tiny(3, 2).with_shift_range(3)),
        "invalid configuration: shift_range 3 needs at least 7 memory rows, got 6"
    );
    assert_eq!(
        err(tiny(3, 2).with_read_heads(0)),
        "invalid configuration: read_heads must be at least 1"
    );
    let ntm = tiny(3, 2).init(&device).unwrap();
    let wrong = tensor(&[0.; 8], [1, 2, 4], &device);
    assert!(matches!(
        ntm.forward(wrong),
        Err(NtmError::InputSize {
            expected: 3,
            got: 4
        })
    ));
    let empty = burn::tensor::Tensor::<3>::zeros([1, 0, 3], &device);
    assert!(matches!(ntm.forward(empty), Err(NtmError::EmptySequence)));
}

#[test]
fn loss_and_bit_errors_by_hand() {
    for backend in backends() {
        let device = backend.device();
        let logits = tensor(&[2., -1., 0.5, -3.], [2, 1, 2], &device);
        let targets = tensor(&[1., 1., 0., 0.], [2, 1, 2], &device);
        let bce = values(loss::binary_cross_entropy(logits.clone(), targets.clone()))[0];
        let softplus = |x: f64| (1.0 + x.exp()).ln();
        let expected = (softplus(-2.) + softplus(1.) + softplus(0.5) + softplus(-3.)) / 4.;
        assert!(
            (bce as f64 - expected).abs() < 1e-5,
            "{backend}: {bce} vs {expected}"
        );
        // Sequence 0 gets bit 1 wrong; sequence 1 gets bit 0 wrong.
        assert_eq!(loss::bit_errors(logits, targets), vec![1, 1], "{backend}");
    }
}
