//! The network trained: the NTM or the LSTM baseline, behind one forward.

use burn::module::Module;
use burn::tensor::{Device, Tensor};
use clap::ValueEnum;
use recur_ntm::{LstmBaseline, LstmBaselineConfig, Ntm, NtmConfig, NtmError, TaskConfig};
use serde::{Deserialize, Serialize};

use crate::Config;

/// The network trained.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ValueEnum)]
pub enum ModelKind {
    /// The Neural Turing Machine.
    Ntm,
    /// The baseline: a stacked LSTM.
    Lstm,
}

/// The NTM or the LSTM baseline.
#[derive(Module, Debug)]
pub enum Net {
    Ntm(Ntm),
    Lstm(LstmBaseline),
}

impl Net {
    /// The network `config` describes, for `task`'s input and output sizes.
    pub fn new(config: &Config, task: &TaskConfig, device: &Device) -> Result<Net, NtmError> {
        let (input, output) = (task.input_size(), task.output_size());
        match config.model {
            ModelKind::Ntm => NtmConfig::new(input, output)
                .with_controller(config.controller)
                .with_controller_size(config.controller_size)
                .with_memory_rows(config.memory_rows)
                .with_memory_width(config.memory_width)
                .with_read_heads(config.read_heads)
                .with_write_heads(config.write_heads)
                .with_shift_range(config.shift_range)
                .with_memory_init(config.memory_init)
                .init(device)
                .map(Net::Ntm),
            ModelKind::Lstm => LstmBaselineConfig::new(input, output)
                .with_hidden_size(config.lstm_size)
                .with_layers(config.lstm_layers)
                .init(device)
                .map(Net::Lstm),
        }
    }

    /// Logits `[batch, time, output]` for inputs `[batch, time, input]`.
    pub fn forward(&self, input: Tensor<3>) -> Result<Tensor<3>, NtmError> {
        match self {
            Net::Ntm(ntm) => ntm.forward(input),
            Net::Lstm(lstm) => lstm.forward(input),
        }
    }
}
