//! The controller network (section 3.4 of the paper): an LSTM, whose cell
//! state is memory of its own, or a feed-forward layer, which must do all its
//! remembering through the heads.

use burn::module::Module;
use burn::nn::{Linear, LinearConfig};
use burn::tensor::{Device, Tensor};
use recur_cells::{Cell, CellConfig, CellKind, CellState};
use serde::{Deserialize, Serialize};

/// Which network sits between the inputs (and last reads) and the heads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ControllerKind {
    /// One LSTM cell from `recur-cells`.
    Lstm,
    /// One fully connected layer with `tanh`.
    FeedForward,
}

impl std::fmt::Display for ControllerKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ControllerKind::Lstm => "lstm",
            ControllerKind::FeedForward => "feedforward",
        })
    }
}

impl std::str::FromStr for ControllerKind {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "lstm" => Ok(ControllerKind::Lstm),
            "feedforward" | "feed-forward" | "ff" => Ok(ControllerKind::FeedForward),
            other => Err(format!(
                "unknown controller `{other}` (expected lstm or feedforward)"
            )),
        }
    }
}

/// The controller: an LSTM cell or a `tanh` layer.
#[derive(Module, Debug)]
pub enum Controller {
    /// Recurrent controller.
    Lstm(Cell),
    /// Feed-forward controller.
    FeedForward(Linear),
}

impl Controller {
    /// A controller of `kind` from `input` features to `hidden` features.
    pub fn new(kind: ControllerKind, input: usize, hidden: usize, device: &Device) -> Self {
        match kind {
            ControllerKind::Lstm => {
                Controller::Lstm(CellConfig::new(CellKind::Lstm, input, hidden).init(device))
            }
            ControllerKind::FeedForward => {
                Controller::FeedForward(LinearConfig::new(input, hidden).init(device))
            }
        }
    }

    /// Features of each input step.
    pub fn input_size(&self) -> usize {
        match self {
            Controller::Lstm(cell) => cell.input_size(),
            Controller::FeedForward(linear) => linear.weight.dims()[0],
        }
    }

    /// The state before the first step: zeros (the feed-forward controller
    /// carries its last output only so both kinds have one state type).
    pub fn zero_state(&self, batch: usize, device: &Device) -> CellState {
        match self {
            Controller::Lstm(cell) => cell.zero_state(batch, device),
            Controller::FeedForward(linear) => CellState {
                h: Tensor::zeros([batch, linear.weight.dims()[1]], device),
                c: None,
            },
        }
    }

    /// One step; the new state's `h` is the controller output.
    ///
    /// - input: `[batch, input]`; output `h`: `[batch, hidden]`
    pub fn step(&self, input: Tensor<2>, state: CellState) -> CellState {
        match self {
            Controller::Lstm(cell) => cell.step(input, state),
            Controller::FeedForward(linear) => CellState {
                h: linear.forward(input).tanh(),
                c: None,
            },
        }
    }
}
