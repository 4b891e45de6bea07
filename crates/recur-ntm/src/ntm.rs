//! The Neural Turing Machine (figure 1 of the paper): a controller that reads
//! the input and last step's reads, heads that address and change memory, and
//! an output layer on the controller output and this step's reads.

use burn::config::Config;
use burn::module::{Module, Param};
use burn::nn::{Initializer, Linear, LinearConfig};
use burn::tensor::{Device, Tensor, TensorData};
use recur_cells::CellState;

use crate::addressing::address;
use crate::controller::{Controller, ControllerKind};
use crate::error::NtmError;
use crate::head::Heads;
use crate::memory::{MemoryInit, read, write};

/// Configuration of an [`Ntm`]. The defaults are the paper's copy-task machine
/// (LSTM controller of 100 units, 128 x 20 memory, one read and one write
/// head, shifts of -1, 0, +1).
#[derive(Config, Debug)]
pub struct NtmConfig {
    /// Features of each input step.
    pub input_size: usize,
    /// Features of each output step (logits).
    pub output_size: usize,
    /// The controller network.
    #[config(default = "ControllerKind::Lstm")]
    pub controller: ControllerKind,
    /// Hidden units of the controller.
    #[config(default = 100)]
    pub controller_size: usize,
    /// Memory rows `N` (locations).
    #[config(default = 128)]
    pub memory_rows: usize,
    /// Memory width `M` (features per location).
    #[config(default = 20)]
    pub memory_width: usize,
    /// Read heads (at least 1).
    #[config(default = 1)]
    pub read_heads: usize,
    /// Write heads (at least 1).
    #[config(default = 1)]
    pub write_heads: usize,
    /// Shift range `r`: the convolutional shift moves by `-r..=r` rows;
    /// `2r + 1` must not exceed `memory_rows`.
    #[config(default = 1)]
    pub shift_range: usize,
    /// How memory starts each sequence.
    #[config(default = "MemoryInit::Constant")]
    pub memory_init: MemoryInit,
    /// The value of every memory cell under [`MemoryInit::Constant`].
    #[config(default = 1e-6)]
    pub memory_constant: f32,
    /// Raw head parameters are clipped to `[-clip, clip]` before their
    /// activations, so no exponential overflows.
    #[config(default = 20.0)]
    pub clip: f32,
}

impl NtmConfig {
    /// Builds the machine; refuses sizes it cannot run.
    pub fn init(&self, device: &Device) -> Result<Ntm, NtmError> {
        let positive = [
            ("input_size", self.input_size),
            ("output_size", self.output_size),
            ("controller_size", self.controller_size),
            ("memory_rows", self.memory_rows),
            ("memory_width", self.memory_width),
            ("read_heads", self.read_heads),
            ("write_heads", self.write_heads),
        ];
        if let Some((name, _)) = positive.iter().find(|(_, v)| *v == 0) {
            return Err(NtmError::Config(format!("{name} must be at least 1")));
        }
        if 2 * self.shift_range + 1 > self.memory_rows {
            return Err(NtmError::Config(format!(
                "shift_range {} needs at least {} memory rows, got {}",
                self.shift_range,
                2 * self.shift_range + 1,
                self.memory_rows
            )));
        }
        if !(self.clip > 0.0) {
            return Err(NtmError::Config(format!(
                "clip must be positive, got {}",
                self.clip
            )));
        }
        let reads = self.read_heads * self.memory_width;
        let bound = 1.0 / ((self.memory_rows + self.memory_width) as f64).sqrt();
        let learned = (self.memory_init == MemoryInit::Learned).then(|| {
            Initializer::Uniform {
                min: -bound,
                max: bound,
            }
            .init([self.memory_rows, self.memory_width], device)
        });
        Ok(Ntm {
            controller: Controller::new(
                self.controller,
                self.input_size + reads,
                self.controller_size,
                device,
            ),
            heads: Heads::new(
                self.controller_size,
                self.read_heads,
                self.write_heads,
                self.memory_width,
                self.shift_range,
                self.clip,
                device,
            ),
            output: LinearConfig::new(self.controller_size + reads, self.output_size).init(device),
            learned_memory: learned,
            memory_rows: self.memory_rows,
            memory_constant: self.memory_constant,
        })
    }
}

/// A Neural Turing Machine.
#[derive(Module, Debug)]
pub struct Ntm {
    /// Controller: input and previous reads to the controller output.
    pub controller: Controller,
    /// Read and write heads.
    pub heads: Heads,
    /// Controller output and current reads to the output logits.
    pub output: Linear,
    /// The initial memory `[rows, width]` under [`MemoryInit::Learned`].
    pub learned_memory: Option<Param<Tensor<2>>>,
    /// Memory rows `N`.
    pub memory_rows: usize,
    /// Initial value of every cell under [`MemoryInit::Constant`].
    pub memory_constant: f32,
}

/// What an NTM carries from one step to the next.
#[derive(Debug, Clone)]
pub struct NtmState {
    /// Memory, `[batch, rows, width]`.
    pub memory: Tensor<3>,
    /// Last weighting of each head, read heads first: `[batch, heads, rows]`.
    pub weightings: Tensor<3>,
    /// Last read vectors, concatenated: `[batch, read_heads * width]`.
    pub reads: Tensor<2>,
    /// Controller state.
    pub controller: CellState,
}

/// A sequence's outputs with the heads' weightings at every step, for
/// pictures like the paper's figures 6 and 8.
#[derive(Debug, Clone)]
pub struct NtmTrace {
    /// Output logits, `[batch, time, output]`.
    pub logits: Tensor<3>,
    /// Read weightings, `[batch, time, read_heads, rows]`.
    pub read_weightings: Tensor<4>,
    /// Write weightings, `[batch, time, write_heads, rows]`.
    pub write_weightings: Tensor<4>,
}

impl Ntm {
    /// Features of each input step.
    pub fn input_size(&self) -> usize {
        // The controller sees the input and last step's reads.
        self.controller.input_size() - self.heads.read * self.heads.width
    }

    /// The state before the first step: memory at its initial value, every
    /// head focused on row 0, zero reads, zero controller state.
    pub fn initial_state(&self, batch: usize, device: &Device) -> NtmState {
        let (rows, width) = (self.memory_rows, self.heads.width);
        let memory = match &self.learned_memory {
            Some(memory) => memory.val().unsqueeze_dim::<3>(0).repeat_dim(0, batch),
            None => Tensor::full([batch, rows, width], self.memory_constant, device),
        };
        let heads = self.heads.read + self.heads.write;
        let mut focus = vec![0.0f32; batch * heads * rows];
        focus.iter_mut().step_by(rows).for_each(|w| *w = 1.0);
        NtmState {
            memory,
            weightings: Tensor::from_data(TensorData::new(focus, [batch, heads, rows]), device),
            reads: Tensor::zeros([batch, self.heads.read * width], device),
            controller: self.controller.zero_state(batch, device),
        }
    }

    /// One time step: controller, addressing of every head on the memory
    /// before this step's write, reads, then the write.
    ///
    /// - input: `[batch, input]`
    /// - returns the logits `[batch, output]` and the next state
    pub fn step(&self, input: Tensor<2>, state: NtmState) -> (Tensor<2>, NtmState) {
        let [batch, _] = input.dims();
        let controller = self
            .controller
            .step(Tensor::cat(vec![input, state.reads], 1), state.controller);
        let heads = self.heads.forward(controller.h.clone());
        let weightings = address(&heads.address, state.memory.clone(), state.weightings);
        let (read_heads, write_heads) = (self.heads.read, self.heads.write);
        let reads = read(
            weightings.clone().narrow(1, 0, read_heads),
            state.memory.clone(),
        )
        .reshape([batch, read_heads * self.heads.width]);
        let memory = write(
            state.memory,
            weightings.clone().narrow(1, read_heads, write_heads),
            heads.erase,
            heads.add,
        );
        let logits = self
            .output
            .forward(Tensor::cat(vec![controller.h.clone(), reads.clone()], 1));
        let state = NtmState {
            memory,
            weightings,
            reads,
            controller,
        };
        (logits, state)
    }

    /// Runs a whole sequence from the initial state.
    ///
    /// - input: `[batch, time, input]`
    /// - returns the logits `[batch, time, output]`
    pub fn forward(&self, input: Tensor<3>) -> Result<Tensor<3>, NtmError> {
        Ok(self.run(input, false)?.logits)
    }

    /// Like [`Ntm::forward`], also returning every step's head weightings.
    pub fn trace(&self, input: Tensor<3>) -> Result<NtmTrace, NtmError> {
        self.run(input, true)
    }

    fn run(&self, input: Tensor<3>, record: bool) -> Result<NtmTrace, NtmError> {
        let [batch, time, features] = input.dims();
        let expected = self.input_size();
        if time == 0 {
            return Err(NtmError::EmptySequence);
        }
        if features != expected {
            return Err(NtmError::InputSize {
                expected,
                got: features,
            });
        }
        let mut state = self.initial_state(batch, &input.device());
        let (mut logits, mut weightings) = (Vec::with_capacity(time), Vec::new());
        for t in 0..time {
            let x = input.clone().narrow(1, t, 1).reshape([batch, features]);
            let (y, next) = self.step(x, state);
            logits.push(y);
            if record {
                weightings.push(next.weightings.clone());
            }
            state = next;
        }
        let logits = Tensor::stack(logits, 1);
        let (read_heads, write_heads) = (self.heads.read, self.heads.write);
        let weightings: Tensor<4> = if record {
            Tensor::stack(weightings, 1)
        } else {
            Tensor::zeros(
                [batch, 1, read_heads + write_heads, self.memory_rows],
                &input.device(),
            )
        };
        Ok(NtmTrace {
            logits,
            read_weightings: weightings.clone().narrow(2, 0, read_heads),
            write_weightings: weightings.narrow(2, read_heads, write_heads),
        })
    }
}
