//! The sequence layer: any [`Cell`] run over time, stacked, in one or both
//! directions, with padding. The time loop itself is the fused op in
//! `recurrence.rs`, shared by every cell kind.

use burn::config::Config;
use burn::module::Module;
use burn::nn::{Dropout, DropoutConfig};
use burn::tensor::{Device, Tensor};

use crate::cell::{Cell, CellConfig, CellState};
use crate::error::CellsError;
use crate::kind::CellKind;

/// Configuration of a [`Recurrent`] layer; the fields mirror
/// `torch.nn.RNN/LSTM/GRU(..., batch_first=True)`.
#[derive(Config, Debug)]
pub struct RecurrentConfig {
    /// Which cell every layer and direction uses.
    pub kind: CellKind,
    /// Features of each input step.
    pub input_size: usize,
    /// Features of each hidden state (per direction).
    pub hidden_size: usize,
    /// Number of stacked layers; layer `k + 1` reads layer `k`'s outputs.
    #[config(default = 1)]
    pub num_layers: usize,
    /// Whether each layer also runs right to left, its outputs concatenated
    /// after the left-to-right ones.
    #[config(default = false)]
    pub bidirectional: bool,
    /// Dropout probability on the outputs of every layer but the last
    /// (training only).
    #[config(default = 0.0)]
    pub dropout: f64,
    /// Whether the cells have biases.
    #[config(default = true)]
    pub bias: bool,
}

impl RecurrentConfig {
    /// Builds the layer with PyTorch's initialisation.
    pub fn init(&self, device: &Device) -> Recurrent {
        let directions = if self.bidirectional { 2 } else { 1 };
        let cells = (0..self.num_layers * directions)
            .map(|index| {
                let input_size = if index < directions {
                    self.input_size
                } else {
                    self.hidden_size * directions
                };
                CellConfig::new(self.kind, input_size, self.hidden_size)
                    .with_bias(self.bias)
                    .init(device)
            })
            .collect();
        Recurrent {
            cells,
            dropout: DropoutConfig::new(self.dropout).init(),
            num_layers: self.num_layers,
            bidirectional: self.bidirectional,
        }
    }
}

/// A stacked, optionally bidirectional recurrent layer over batch-first
/// sequences, equivalent to `torch.nn.RNN/LSTM/GRU(batch_first=True)`.
#[derive(Module, Debug)]
pub struct Recurrent {
    /// One cell per layer and direction, in PyTorch's order: index
    /// `layer * directions + direction`, direction 1 being right to left.
    pub cells: Vec<Cell>,
    /// Dropout between layers.
    pub dropout: Dropout,
    /// Number of stacked layers.
    pub num_layers: usize,
    /// Whether each layer runs in both directions.
    pub bidirectional: bool,
}

/// The state of every layer and direction, in PyTorch's layout.
#[derive(Debug, Clone)]
pub struct RecurrentState {
    /// Hidden states, `[layers * directions, batch, hidden]`.
    pub h: Tensor<3>,
    /// Cell states (LSTM only), `[layers * directions, batch, hidden]`.
    pub c: Option<Tensor<3>>,
}

/// What [`Recurrent::forward`] returns.
#[derive(Debug, Clone)]
pub struct RecurrentOutput {
    /// The last layer's outputs, `[batch, time, directions * hidden]`; zero at
    /// padded positions.
    pub output: Tensor<3>,
    /// The final state of every layer and direction: for each sequence, the
    /// state at its own last real step (left to right) or at its first step
    /// (right to left).
    pub state: RecurrentState,
}

impl Recurrent {
    /// The cell type of every layer.
    pub fn kind(&self) -> CellKind {
        self.cells[0].kind
    }

    /// Features of each input step.
    pub fn input_size(&self) -> usize {
        self.cells[0].input_size()
    }

    /// Features of each hidden state, per direction.
    pub fn hidden_size(&self) -> usize {
        self.cells[0].hidden_size
    }

    /// 2 if bidirectional, else 1.
    pub fn directions(&self) -> usize {
        if self.bidirectional { 2 } else { 1 }
    }

    /// Features of each output step: `directions * hidden`.
    pub fn output_size(&self) -> usize {
        self.directions() * self.hidden_size()
    }

    /// Runs the layer over a batch of sequences.
    ///
    /// - input: `[batch, time, input]`
    /// - lengths: the real length of each sequence (`None`: all are `time`
    ///   long). Positions past a sequence's length are padding: they do not
    ///   change any result, whatever they hold.
    /// - state: the initial state of every layer and direction (`None`: zeros).
    pub fn forward(
        &self,
        input: Tensor<3>,
        lengths: Option<&[usize]>,
        state: Option<RecurrentState>,
    ) -> Result<RecurrentOutput, CellsError> {
        let [batch, time, features] = input.dims();
        if features != self.input_size() {
            return Err(CellsError::InputSize {
                expected: self.input_size(),
                found: features,
            });
        }
        if time == 0 {
            return Err(CellsError::EmptyTime);
        }
        let device = input.device();
        let lengths = match lengths {
            Some(lengths) => padded_lengths(lengths, batch, time)?,
            None => None,
        };
        let mut initial = self.split_state(state, batch, &device)?.into_iter();

        let directions = self.directions();
        let (mut h_finals, mut c_finals) = (Vec::new(), Vec::new());
        let mut x = input;
        for (layer, cells) in self.cells.chunks(directions).enumerate() {
            if layer > 0 {
                x = self.dropout.forward(x);
            }
            let mut outputs = Vec::with_capacity(directions);
            for (direction, cell) in cells.iter().enumerate() {
                let start = initial.next().expect("one initial state per cell");
                let (output, h, c) = cell.recurrence(x.clone(), lengths, direction == 1, start);
                outputs.push(output);
                h_finals.push(h);
                c_finals.extend(c);
            }
            // One direction needs no concatenation, which copies (about 13
            // of the 75 ms of a hidden-512 LSTM forward on ndarray).
            x = match outputs.len() {
                1 => outputs.pop().expect("one output"),
                _ => Tensor::cat(outputs, 2),
            };
        }

        Ok(RecurrentOutput {
            output: x,
            state: RecurrentState {
                h: Tensor::stack(h_finals, 0),
                c: (!c_finals.is_empty()).then(|| Tensor::stack(c_finals, 0)),
            },
        })
    }

    /// Splits a `[layers * directions, batch, hidden]` state into one
    /// [`CellState`] per cell, checking its shape; zeros when absent.
    fn split_state(
        &self,
        state: Option<RecurrentState>,
        batch: usize,
        device: &Device,
    ) -> Result<Vec<CellState>, CellsError> {
        let Some(state) = state else {
            return Ok(self
                .cells
                .iter()
                .map(|cell| cell.zero_state(batch, device))
                .collect());
        };
        let expected = vec![self.cells.len(), batch, self.hidden_size()];
        let check = |name, t: &Tensor<3>| {
            let found = t.dims().to_vec();
            if found == expected {
                Ok(())
            } else {
                Err(CellsError::StateShape {
                    name,
                    expected: expected.clone(),
                    found,
                })
            }
        };
        check("h", &state.h)?;
        match (&state.c, self.kind().has_cell_state()) {
            (Some(c), true) => check("c", c)?,
            (None, true) => return Err(CellsError::StateKind("an LSTM needs both h and c")),
            (Some(_), false) => {
                return Err(CellsError::StateKind("only an LSTM takes a cell state c"));
            }
            (None, false) => {}
        }
        let hidden = self.hidden_size();
        let take = |t: &Tensor<3>, k| t.clone().narrow(0, k, 1).reshape([batch, hidden]);
        Ok((0..self.cells.len())
            .map(|k| CellState {
                h: take(&state.h, k),
                c: state.c.as_ref().map(|c| take(c, k)),
            })
            .collect())
    }
}

/// Checks `lengths` against the batch and time axis; `None` when nothing is
/// padded, so the kernels can skip masking.
fn padded_lengths(
    lengths: &[usize],
    batch: usize,
    time: usize,
) -> Result<Option<&[usize]>, CellsError> {
    if lengths.len() != batch {
        return Err(CellsError::LengthsCount {
            expected: batch,
            found: lengths.len(),
        });
    }
    if let Some((index, &length)) = lengths.iter().enumerate().find(|(_, l)| **l > time) {
        return Err(CellsError::LengthTooLong {
            index,
            length,
            time,
        });
    }
    Ok((!lengths.iter().all(|&l| l == time)).then_some(lengths))
}
