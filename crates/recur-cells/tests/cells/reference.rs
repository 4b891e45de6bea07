//! Outputs, final states and gradients against PyTorch's nn.RNN/LSTM/GRU
//! (fixtures from `tests/fixtures/generate.py`).

use burn::tensor::{Gradients, Tensor};
use recur_cells::{CellKind, Recurrent, RecurrentConfig, RecurrentOutput, RecurrentState};

use crate::common::{Fixture, assert_close, backends};

const MODES: [&str; 4] = ["rnn_tanh", "rnn_relu", "lstm", "gru"];
const SHAPES: [&str; 5] = ["l1", "l1_nobias", "l2_bi", "l2_bi_padded", "wide"];

fn config_of(fixture: &Fixture) -> RecurrentConfig {
    let kind = match fixture.metadata("mode").as_str() {
        "rnn_tanh" => CellKind::RnnTanh,
        "rnn_relu" => CellKind::RnnRelu,
        "lstm" => CellKind::Lstm,
        "gru" => CellKind::Gru,
        other => panic!("unknown mode {other}"),
    };
    let number = |key| fixture.metadata(key).parse::<usize>().expect("number");
    RecurrentConfig::new(kind, number("input_size"), number("hidden_size"))
        .with_num_layers(number("num_layers"))
        .with_bidirectional(fixture.metadata("bidirectional") == "true")
        .with_bias(fixture.metadata("bias") == "true")
}

/// Runs the layer on `input` from `state` on `device` and checks the
/// outputs and final states against the fixture's.
fn forward_checked(
    name: &str,
    fixture: &Fixture,
    device: &burn::tensor::Device,
    input: Tensor<3>,
    state: Option<RecurrentState>,
) -> (Recurrent, RecurrentOutput) {
    let layer: Recurrent = config_of(fixture)
        .init(device)
        .load_torch(&fixture.path)
        .expect("fixture weights load");
    let out = layer
        .forward(input, Some(&fixture.lengths()), state)
        .expect("forward");
    assert_close(
        &format!("{name}: output"),
        out.output.clone(),
        fixture.float("output", device),
    );
    assert_close(
        &format!("{name}: h_n"),
        out.state.h.clone(),
        fixture.float("h_n", device),
    );
    if let Some(c) = &out.state.c {
        assert_close(
            &format!("{name}: c_n"),
            c.clone(),
            fixture.float("c_n", device),
        );
    }
    (layer, out)
}

/// Checks one fixture on one device: forward values without autodiff (where
/// nothing is kept for a backward) and with it, then the gradient of the
/// fixture's loss with respect to the input, the initial state and every
/// weight.
fn check_case(name: &str, plain: &burn::tensor::Device) {
    let fixture = Fixture::open(name);
    let given = |tensor: &str, device: &burn::tensor::Device| {
        fixture
            .has(tensor)
            .then(|| fixture.float::<3>(tensor, device))
    };
    let state =
        |h0: Option<Tensor<3>>, c0: Option<Tensor<3>>| h0.map(|h| RecurrentState { h, c: c0 });
    forward_checked(
        &format!("{name} (no autodiff)"),
        &fixture,
        plain,
        fixture.float("input", plain),
        state(given("h0", plain), given("c0", plain)),
    );

    let device = plain.clone().autodiff();
    let input = fixture.float::<3>("input", &device).require_grad();
    let h0 = given("h0", &device).map(Tensor::require_grad);
    let c0 = given("c0", &device).map(Tensor::require_grad);
    let (layer, out) = forward_checked(
        name,
        &fixture,
        &device,
        input.clone(),
        state(h0.clone(), c0.clone()),
    );
    let mut loss = (out.output * fixture.float::<3>("proj_output", &device)).sum()
        + (out.state.h * fixture.float::<3>("proj_h_n", &device)).sum();
    if let Some(c) = out.state.c {
        loss = loss + (c * fixture.float::<3>("proj_c_n", &device)).sum();
    }

    let grads = loss.backward();
    let grad = |t: &Tensor<3>| t.grad(&grads).expect("gradient");
    assert_close(
        &format!("{name}: d input"),
        grad(&input),
        fixture.float("grad.input", &device),
    );
    if let Some(h0) = &h0 {
        assert_close(
            &format!("{name}: d h0"),
            grad(h0),
            fixture.float("grad.h0", &device),
        );
    }
    if let Some(c0) = &c0 {
        assert_close(
            &format!("{name}: d c0"),
            grad(c0),
            fixture.float("grad.c0", &device),
        );
    }
    check_weight_grads(name, &fixture, &layer, &grads, &device);
}

/// Checks the gradient of every weight and bias of `layer` against the
/// fixture's.
fn check_weight_grads(
    name: &str,
    fixture: &Fixture,
    layer: &Recurrent,
    grads: &Gradients,
    device: &burn::tensor::Device,
) {
    let directions = layer.directions();
    for (index, cell) in layer.cells.iter().enumerate() {
        let suffix = format!(
            "_l{}{}",
            index / directions,
            if index % directions == 1 {
                "_reverse"
            } else {
                ""
            }
        );
        let weight = |param: &burn::module::Param<Tensor<2>>, torch: &str| {
            let actual = param
                .val()
                .grad(grads)
                .expect("weight gradient")
                .transpose();
            let name_in_file = format!("grad.{torch}{suffix}");
            assert_close(
                &format!("{name}: {name_in_file}"),
                actual,
                fixture.float(&name_in_file, device),
            );
        };
        weight(&cell.weight_ih, "weight_ih");
        weight(&cell.weight_hh, "weight_hh");
        for (param, torch) in [(&cell.bias_ih, "bias_ih"), (&cell.bias_hh, "bias_hh")] {
            let Some(param) = param else { continue };
            let actual = param.val().grad(grads).expect("bias gradient");
            let name_in_file = format!("grad.{torch}{suffix}");
            assert_close(
                &format!("{name}: {name_in_file}"),
                actual,
                fixture.float(&name_in_file, device),
            );
        }
    }
}

fn check_mode(mode: &str) {
    for backend in backends() {
        for shape in SHAPES {
            check_case(&format!("{mode}_{shape}"), &backend.device());
        }
    }
}

#[test]
fn rnn_tanh_matches_pytorch() {
    check_mode(MODES[0]);
}

#[test]
fn rnn_relu_matches_pytorch() {
    check_mode(MODES[1]);
}

#[test]
fn lstm_matches_pytorch() {
    check_mode(MODES[2]);
}

#[test]
fn gru_matches_pytorch() {
    check_mode(MODES[3]);
}
