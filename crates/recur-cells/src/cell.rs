//! One recurrent cell: vanilla RNN, LSTM or GRU, with fused gate weights in
//! PyTorch's layout and gate order.

use burn::config::Config;
use burn::module::{Module, Param};
use burn::nn::Initializer;
use burn::tensor::{Device, Tensor};

use crate::fused;
use crate::kind::CellKind;
use crate::recurrence::Recurrence;

/// Configuration of a [`Cell`].
#[derive(Config, Debug)]
pub struct CellConfig {
    /// Which recurrence to compute.
    pub kind: CellKind,
    /// Features of each input step.
    pub input_size: usize,
    /// Features of the hidden state.
    pub hidden_size: usize,
    /// Whether the cell has the biases `b_ih` and `b_hh`.
    #[config(default = true)]
    pub bias: bool,
}

impl CellConfig {
    /// Builds the cell with PyTorch's initialisation: every weight and bias
    /// uniform in `[-1/sqrt(hidden), 1/sqrt(hidden)]`.
    pub fn init(&self, device: &Device) -> Cell {
        let width = self.kind.gates() * self.hidden_size;
        let bound = 1.0 / (self.hidden_size as f64).sqrt();
        let init = Initializer::Uniform {
            min: -bound,
            max: bound,
        };
        let bias = |device: &Device| self.bias.then(|| init.init([width], device));
        Cell {
            weight_ih: init.init([self.input_size, width], device),
            weight_hh: init.init([self.hidden_size, width], device),
            bias_ih: bias(device),
            bias_hh: bias(device),
            kind: self.kind,
            hidden_size: self.hidden_size,
        }
    }
}

/// A recurrent cell with all gates fused into one weight matrix per input.
///
/// The weights are stored transposed relative to PyTorch (`[in, gates*hidden]`)
/// so that a step is `x @ weight_ih + h @ weight_hh`: one matmul for the input
/// side of a whole sequence and one per step for the recurrence, whatever the
/// number of gates.
#[derive(Module, Debug)]
pub struct Cell {
    /// Input-to-hidden weights, `[input, gates * hidden]`.
    pub weight_ih: Param<Tensor<2>>,
    /// Hidden-to-hidden weights, `[hidden, gates * hidden]`.
    pub weight_hh: Param<Tensor<2>>,
    /// Input-to-hidden bias, `[gates * hidden]`.
    pub bias_ih: Option<Param<Tensor<1>>>,
    /// Hidden-to-hidden bias, `[gates * hidden]`.
    pub bias_hh: Option<Param<Tensor<1>>>,
    /// The recurrence computed.
    #[module(skip)]
    pub kind: CellKind,
    /// Features of the hidden state.
    pub hidden_size: usize,
}

/// The state a cell carries from one step to the next.
#[derive(Debug, Clone)]
pub struct CellState {
    /// Hidden state, `[batch, hidden]`.
    pub h: Tensor<2>,
    /// Cell state, `[batch, hidden]`; present for LSTM only.
    pub c: Option<Tensor<2>>,
}

impl Cell {
    /// Features of each input step.
    pub fn input_size(&self) -> usize {
        self.weight_ih.dims()[0]
    }

    /// The all-zero state for a batch.
    pub fn zero_state(&self, batch: usize, device: &Device) -> CellState {
        let zeros = || Tensor::zeros([batch, self.hidden_size], device);
        CellState {
            h: zeros(),
            c: self.kind.has_cell_state().then(zeros),
        }
    }

    /// One step, for decoders that feed back their own output: the same
    /// fused operation as a sequence's, over one time step.
    ///
    /// - input: `[batch, input]`
    pub fn step(&self, input: Tensor<2>, state: CellState) -> CellState {
        let [batch, features] = input.dims();
        let (_, h, c) = self.recurrence(input.reshape([batch, 1, features]), None, false, state);
        CellState { h, c }
    }

    /// Runs the cell over a sequence `[batch, time, input]` in one fused
    /// operation, input projection included (see `recurrence.rs`), left to right
    /// or right to left, with padding past each sequence's length when
    /// `lengths` is given. Returns the outputs `[batch, time, hidden]` and the
    /// final `h` and `c`.
    pub(crate) fn recurrence(
        &self,
        input: Tensor<3>,
        lengths: Option<&[usize]>,
        reverse: bool,
        state: CellState,
    ) -> (Tensor<3>, Tensor<2>, Option<Tensor<2>>) {
        let width = self.weight_hh.dims()[1];
        let device = input.device().inner();
        // A missing bias is a constant zero (no gradient is computed for it).
        let bias = |bias: &Option<Param<Tensor<1>>>| match bias {
            Some(bias) => bias.val(),
            None => Tensor::zeros([width], &device),
        };
        let c0 = match (self.kind.has_cell_state(), state.c) {
            (true, None) => state.h.zeros_like(),
            (true, Some(c)) => c,
            // Unused by the other kinds; a constant placeholder for the op's input.
            (false, _) => Tensor::zeros([1, 1], &device),
        };
        let op = Recurrence::new(self.kind, reverse, lengths);
        let inputs = [
            input.into_dispatch(),
            self.weight_ih.val().into_dispatch(),
            bias(&self.bias_ih).into_dispatch(),
            self.weight_hh.val().into_dispatch(),
            bias(&self.bias_hh).into_dispatch(),
            state.h.into_dispatch(),
            c0.into_dispatch(),
        ];
        let [hs, h, c] = fused::apply(&op, inputs);
        let c = self.kind.has_cell_state().then(|| Tensor::from_dispatch(c));
        (Tensor::from_dispatch(hs), Tensor::from_dispatch(h), c)
    }
}
