//! The paper's comparison: a plain stacked LSTM with an output layer, run on
//! the same tasks as the NTM.

use burn::config::Config;
use burn::module::Module;
use burn::nn::{Linear, LinearConfig};
use burn::tensor::{Device, Tensor};
use recur_cells::{CellKind, Recurrent, RecurrentConfig};

use crate::error::NtmError;

/// Configuration of an [`LstmBaseline`]; the paper's is 3 layers of 256 units.
#[derive(Config, Debug)]
pub struct LstmBaselineConfig {
    /// Features of each input step.
    pub input_size: usize,
    /// Features of each output step (logits).
    pub output_size: usize,
    /// Hidden units per layer.
    #[config(default = 256)]
    pub hidden_size: usize,
    /// Stacked layers.
    #[config(default = 3)]
    pub layers: usize,
}

impl LstmBaselineConfig {
    /// Builds the baseline.
    pub fn init(&self, device: &Device) -> Result<LstmBaseline, NtmError> {
        if self.hidden_size == 0 || self.layers == 0 {
            return Err(NtmError::Config(
                "the LSTM baseline needs at least one layer of at least one unit".into(),
            ));
        }
        Ok(LstmBaseline {
            rnn: RecurrentConfig::new(CellKind::Lstm, self.input_size, self.hidden_size)
                .with_num_layers(self.layers)
                .init(device),
            output: LinearConfig::new(self.hidden_size, self.output_size).init(device),
        })
    }
}

/// A stacked LSTM and a linear output layer.
#[derive(Module, Debug)]
pub struct LstmBaseline {
    /// The recurrent layers.
    pub rnn: Recurrent,
    /// Last layer's output to the logits.
    pub output: Linear,
}

impl LstmBaseline {
    /// Runs a whole sequence from zero state.
    ///
    /// - input: `[batch, time, input]`
    /// - returns the logits `[batch, time, output]`
    pub fn forward(&self, input: Tensor<3>) -> Result<Tensor<3>, NtmError> {
        Ok(self
            .output
            .forward(self.rnn.forward(input, None, None)?.output))
    }
}
