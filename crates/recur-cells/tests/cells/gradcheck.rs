//! Finite-difference check of backpropagation through time on a small
//! vanilla RNN: every gradient autodiff gives must match central differences
//! of the loss computed without autodiff.

use burn::module::{Module, Param};
use burn::tensor::Tensor;
use recur_cells::{CellKind, Recurrent, RecurrentConfig};

use crate::common::{backends, normal, scalar};

const BATCH: usize = 2;
const TIME: usize = 6;
const INPUT: usize = 3;
const HIDDEN: usize = 4;
const EPS: f32 = 1e-2;

fn loss(layer: &Recurrent, input: Tensor<3>, projection: Tensor<3>) -> Tensor<1> {
    let out = layer
        .forward(input, Some(&[TIME, 4]), None)
        .expect("forward");
    (out.output * projection).sum() + out.state.h.sum()
}

/// Picks one 2-d parameter of the layer.
type Select = fn(&mut Recurrent) -> &mut Param<Tensor<2>>;

/// Central difference of `loss` with respect to element `index` of a 2-d
/// parameter chosen by `select`.
fn numeric(
    layer: &Recurrent,
    input: &Tensor<3>,
    projection: &Tensor<3>,
    select: Select,
    index: [usize; 2],
) -> f64 {
    let at = |delta: f32| {
        let mut shifted = layer.clone();
        let param = select(&mut shifted);
        let value = param.val();
        let bump = Tensor::<2>::zeros(value.dims(), &value.device()).slice_assign(
            [index[0]..index[0] + 1, index[1]..index[1] + 1],
            Tensor::full([1, 1], delta, &value.device()),
        );
        *param = Param::from_tensor(value + bump);
        scalar(loss(&shifted, input.clone(), projection.clone()))
    };
    (at(EPS) - at(-EPS)) / (2.0 * EPS as f64)
}

#[test]
fn bptt_gradients_match_finite_differences() {
    for backend in backends() {
        let device = backend.device();
        let trained =
            RecurrentConfig::new(CellKind::RnnTanh, INPUT, HIDDEN).init(&device.clone().autodiff());
        let input = normal([BATCH, TIME, INPUT], 1, &device);
        let projection = normal([BATCH, TIME, HIDDEN], 2, &device);
        let grads = loss(&trained, input.clone(), projection.clone()).backward();
        // The same weights without autodiff, for the finite differences.
        let layer = trained.valid();

        let selectors: [(&str, Select); 2] = [
            ("weight_hh", |l| &mut l.cells[0].weight_hh),
            ("weight_ih", |l| &mut l.cells[0].weight_ih),
        ];
        for (name, select) in selectors {
            let analytic = select(&mut trained.clone())
                .val()
                .grad(&grads)
                .expect("gradient")
                .into_data()
                .try_to_vec::<f32>()
                .expect("f32");
            let [rows, cols] = select(&mut layer.clone()).dims();
            for row in 0..rows {
                for col in 0..cols {
                    let expected = numeric(&layer, &input, &projection, select, [row, col]);
                    let got = analytic[row * cols + col] as f64;
                    assert!(
                        (got - expected).abs() <= 1e-2 * expected.abs().max(1e-1),
                        "{backend}: d loss / d {name}[{row}, {col}]: autodiff {got}, finite difference {expected}"
                    );
                }
            }
        }
    }
}
