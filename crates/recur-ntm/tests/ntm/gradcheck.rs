//! Finite-difference check of backpropagation through full NTM steps
//! (controller, heads, every addressing stage, read, erase and add) on tiny
//! sizes: autodiff's gradients must match central differences of the loss
//! computed without autodiff.

use burn::module::{Module, Param};
use burn::tensor::Tensor;
use recur_ntm::{Controller, MemoryInit, Ntm, NtmConfig};

use crate::common::{backends, tensor, uniform, values};

const EPS: f32 = 1e-2;

fn loss(ntm: &Ntm, input: Tensor<3>, projection: Tensor<3>) -> Tensor<1> {
    (ntm.forward(input).unwrap() * projection).sum()
}

/// Picks one 2-d parameter of the machine.
type Select = fn(&mut Ntm) -> &mut Param<Tensor<2>>;

fn lstm(ntm: &mut Ntm) -> &mut recur_cells::Cell {
    match &mut ntm.controller {
        Controller::Lstm(cell) => cell,
        Controller::FeedForward(_) => unreachable!("the check uses an LSTM controller"),
    }
}

#[test]
fn ntm_gradients_match_finite_differences() {
    for backend in backends() {
        let device = backend.device();
        let (batch, time, input, output) = (2, 3, 2, 2);
        let config = NtmConfig::new(input, output)
            .with_controller_size(3)
            .with_memory_rows(4)
            .with_memory_width(3)
            .with_memory_init(MemoryInit::Learned);
        let trained = config.init(&device.clone().autodiff()).unwrap();
        let x = tensor(
            &uniform(batch * time * input, 11),
            [batch, time, input],
            &device,
        );
        let projection = tensor(
            &uniform(batch * time * output, 12),
            [batch, time, output],
            &device,
        );
        let grads = loss(&trained, x.clone(), projection.clone()).backward();
        let plain = trained.valid();

        let selectors: [(&str, Select); 5] = [
            ("learned memory", |n| n.learned_memory.as_mut().unwrap()),
            ("head parameters", |n| &mut n.heads.params.weight),
            ("controller input weights", |n| &mut lstm(n).weight_ih),
            ("controller recurrent weights", |n| &mut lstm(n).weight_hh),
            ("output weights", |n| &mut n.output.weight),
        ];
        for (name, select) in selectors {
            let analytic = values(select(&mut trained.clone()).val().grad(&grads).unwrap());
            let [rows, cols] = select(&mut plain.clone()).dims();
            // A spread of about four elements per matrix: each costs two
            // forward passes, and wgpu on a software driver is slow.
            let stride = (rows * cols / 4).max(1);
            for index in (0..rows * cols).step_by(stride) {
                let at = |delta: f32| {
                    let mut shifted = plain.clone();
                    let param = select(&mut shifted);
                    let mut bumped = values(param.val());
                    bumped[index] += delta;
                    *param = Param::from_tensor(tensor(&bumped, [rows, cols], &device));
                    values(loss(&shifted, x.clone(), projection.clone()))[0] as f64
                };
                let expected = (at(EPS) - at(-EPS)) / (2.0 * EPS as f64);
                let got = analytic[index] as f64;
                assert!(
                    (got - expected).abs() <= 2e-2 * expected.abs().max(0.1),
                    "{backend} {name}[{index}]: autodiff {got}, finite difference {expected}"
                );
            }
        }
    }
}
